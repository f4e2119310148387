//! Custom attributes: the EAV attributes Magento flags for segments (customers and their
//! addresses: `is_used_for_customer_segment`) or promotions (products:
//! `is_used_for_promo_rules`), read as extra columns of the dataset's table, and the admin
//! labels of their options (`attribute-options.json`).

use std::borrow::Cow;
use std::collections::BTreeMap;

use mysql_async::Value;

use super::MagentoError;
use super::columns::{Column, Kind};
use super::copy::{count_only, integer_of, key_of};
use super::report::ImportReport;
use super::source::Source;
use crate::segment::schema::DerivedField;

/// An entity type whose flagged attributes become columns.
pub struct Entity {
    /// `eav_entity_type.entity_type_code`.
    pub type_code: &'static str,
    /// The entity table; its values are in `<table>_<backend_type>`.
    pub table: &'static str,
    /// The table (`customer_eav_attribute`, `catalog_eav_attribute`) and column of the flag.
    pub flag: (&'static str, &'static str),
    /// How the segment language names the table's fields (`customer`, `address`, `product`).
    pub prefix: &'static str,
    /// Attribute codes the import reads into named columns already.
    pub named: &'static [&'static str],
    /// The dataset table's columns (a flagged attribute of one of these names collides).
    pub columns: &'static [Column],
    /// Whether values are per store (products: the admin value, store 0, is read).
    pub per_store: bool,
}

/// A flagged attribute carried as a column.
pub struct Attribute {
    pub id: i64,
    pub code: String,
    backend_type: String,
    input: String,
}

impl Attribute {
    pub fn kind(&self) -> Kind {
        match (self.input.as_str(), self.backend_type.as_str()) {
            ("select", _) => Kind::Integer,
            ("multiselect", _) => Kind::IdList,
            ("boolean", _) => Kind::Bool,
            ("date", _) => Kind::Date,
            (_, "datetime") => Kind::Timestamp,
            (_, "decimal") => Kind::Decimal,
            (_, "int") => Kind::Integer,
            _ => Kind::Text,
        }
    }

    pub fn column(&self) -> Column {
        Column {
            name: Cow::Owned(self.code.clone()),
            kind: self.kind(),
        }
    }

    fn has_options(&self) -> bool {
        matches!(self.input.as_str(), "select" | "multiselect")
    }

    /// The attribute's values by entity id, ascending, from its value table (none when
    /// the store has no such table); per store, the admin value (store 0).
    async fn values_by_entity(
        &self,
        source: &mut Source<'_>,
        entity: &Entity,
    ) -> Result<Vec<(i64, Value)>, MagentoError> {
        let table = format!("{}_{}", entity.table, self.backend_type);
        if !source.has(&table) {
            return Ok(Vec::new());
        }
        let store = if entity.per_store {
            " AND store_id = 0"
        } else {
            ""
        };
        let sql = format!(
            "SELECT entity_id, value FROM {} WHERE attribute_id = {}{store}",
            source.name(&table),
            self.id
        );
        let mut values = Vec::new();
        source
            .for_each_row(&table, &sql, |mut row| {
                if let Some(entity) = integer_of(&row[0]) {
                    values.push((entity, row.swap_remove(1)));
                }
                Ok(())
            })
            .await?;
        values.sort_unstable_by_key(|(entity, _)| *entity);
        Ok(values)
    }

    /// The SQL of the attribute's value for the entity row `alias`, linked by `link`.
    pub fn value(&self, source: &Source<'_>, entity: &Entity, alias: &str, link: &str) -> String {
        if self.backend_type == "static" {
            return format!("{alias}.`{}`", self.code);
        }
        let store = if entity.per_store {
            " AND v.store_id = 0"
        } else {
            ""
        };
        source.with_table(
            &format!("{}_{}", entity.table, self.backend_type),
            "NULL",
            |values| {
                format!(
                    "(SELECT v.value FROM {values} v WHERE v.{link} = {alias}.{link} \
                     AND v.attribute_id = {}{store})",
                    self.id
                )
            },
        )
    }
}

/// The flagged attributes of `entity` that become columns, in attribute id order; the
/// others flagged (a code colliding with a column, a static one without a column) are
/// reported as not carried.
pub async fn flagged(
    source: &mut Source<'_>,
    entity: &Entity,
    report: &mut ImportReport,
) -> Result<Vec<Attribute>, MagentoError> {
    let (flags, flag) = entity.flag;
    if !source.has(flags) || !source.has_column(flags, flag).await? {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT a.attribute_id, a.attribute_code, a.backend_type, COALESCE(a.frontend_input, '') \
         FROM {} a JOIN {} t ON t.entity_type_id = a.entity_type_id \
         JOIN {} f ON f.attribute_id = a.attribute_id \
         WHERE t.entity_type_code = '{}' AND f.{flag} = 1 ORDER BY a.attribute_id",
        source.name("eav_attribute"),
        source.name("eav_entity_type"),
        source.name(flags),
        entity.type_code,
    );
    let mut carried = Vec::new();
    let mut colliding = Vec::new();
    let mut no_column = Vec::new();
    for row in source.rows("eav_attribute", &sql).await? {
        let text = |value: &Value| match value {
            Value::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
            other => format!("{other:?}"),
        };
        let Some(id) = integer_of(&row[0]) else {
            continue;
        };
        let attribute = Attribute {
            id,
            code: text(&row[1]),
            backend_type: text(&row[2]),
            input: text(&row[3]),
        };
        let code = attribute.code.as_str();
        if entity.named.contains(&code)
            || matches!(code, "default_billing" | "default_shipping")
            || matches!(attribute.input.as_str(), "file" | "image")
        {
            continue;
        }
        let identifier = code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        // Derived customer fields (`customer.age`, ...) would hide a column of their name.
        let derived = entity.prefix == "customer"
            && DerivedField::ALL.iter().any(|field| field.name() == code);
        if entity.columns.iter().any(|c| c.name == code) || derived || !identifier {
            colliding.push(key_of(&row[1]));
        } else if attribute.backend_type == "static"
            && !source.has_column(entity.table, code).await?
        {
            no_column.push(key_of(&row[1]));
        } else {
            carried.push(attribute);
        }
    }
    let label = source.label("eav_attribute");
    report.not_carried(
        &label,
        &format!(
            "{} attribute whose code is a column or derived field of the data model, or not a plain name",
            entity.prefix
        ),
        colliding,
    );
    report.not_carried(
        &label,
        &format!(
            "static {} attribute without a column in {}",
            entity.prefix,
            source.label(entity.table)
        ),
        no_column,
    );
    Ok(carried)
}

/// The admin labels (store 0) of the options of `attributes` with options, under
/// `<prefix>.<code>`, into `options`.
pub async fn option_labels(
    source: &mut Source<'_>,
    prefix: &str,
    attributes: &[Attribute],
    options: &mut BTreeMap<String, BTreeMap<String, String>>,
) -> Result<(), MagentoError> {
    if !source.has("eav_attribute_option") || !source.has("eav_attribute_option_value") {
        return Ok(());
    }
    for attribute in attributes.iter().filter(|a| a.has_options()) {
        let sql = format!(
            "SELECT o.option_id, v.value FROM {} o \
             JOIN {} v ON v.option_id = o.option_id AND v.store_id = 0 \
             WHERE o.attribute_id = {} ORDER BY o.option_id",
            source.name("eav_attribute_option"),
            source.name("eav_attribute_option_value"),
            attribute.id
        );
        let labels = options
            .entry(format!("{prefix}.{}", attribute.code))
            .or_default();
        for row in source.rows("eav_attribute_option", &sql).await? {
            if let (Some(option), Value::Bytes(label)) = (integer_of(&row[0]), &row[1]) {
                labels.insert(
                    option.to_string(),
                    String::from_utf8_lossy(label).into_owned(),
                );
            }
        }
    }
    Ok(())
}

/// The EAV value tables of an entity.
const BACKEND_TYPES: [&str; 5] = ["int", "varchar", "datetime", "decimal", "text"];

/// Counts the EAV values of `entity` that no condition reads: those of attributes not in
/// `read` (ids), and, per store, store views' values of those in `read`.
pub async fn count_unread(
    source: &mut Source<'_>,
    report: &mut ImportReport,
    entity: &Entity,
    read: &[i64],
) -> Result<(), MagentoError> {
    let ids: Vec<String> = read.iter().map(i64::to_string).collect();
    let (others, of_read) = if ids.is_empty() {
        ("1".to_string(), "0".to_string())
    } else {
        let list = ids.join(", ");
        (
            format!("t.attribute_id NOT IN ({list})"),
            format!("t.attribute_id IN ({list}) AND t.store_id <> 0"),
        )
    };
    let (_, flag) = entity.flag;
    for backend in BACKEND_TYPES {
        let table = format!("{}_{backend}", entity.table);
        let reason =
            format!("values of attributes not read ({flag} is not 1): no condition reads them");
        count_only(source, report, &table, &others, &reason).await?;
        if entity.per_store {
            let reason = "values of a store view (the admin value, store 0, is read)";
            count_only(source, report, &table, &of_read, reason).await?;
        }
    }
    Ok(())
}

/// Option labels by `<prefix>.<code>`, then option id: `attribute-options.json`.
pub type OptionLabels = BTreeMap<String, BTreeMap<String, String>>;

/// The custom columns of an entity's dataset table and the SQL of their values.
pub struct Custom {
    pub columns: Vec<Column>,
    /// `, value, value...` to append to the table's SELECT list (`NULL` for those read
    /// apart).
    pub values: String,
    /// Per custom column whose values were read apart: its position among the custom
    /// columns, and its values by entity id, ascending.
    apart: Vec<(usize, Vec<(i64, Value)>)>,
}

impl Custom {
    /// Puts the values read apart into `row`, the row of entity `id` whose custom columns
    /// start at `first`.
    pub fn fill(&self, row: &mut [Value], first: usize, id: i64) {
        for (at, values) in &self.apart {
            if let Ok(found) = values.binary_search_by_key(&id, |(entity, _)| *entity) {
                row[first + at] = values[found].1.clone();
            }
        }
    }
}

/// The flagged attributes of `entity` as custom columns of rows `alias` linked by `link`;
/// their option labels into `options`; the EAV values read by neither them nor `also_read`
/// counted in the report. With `read_apart` (rows linked by `entity_id`), the values kept
/// in value tables are read in one pass over each and put in by [`Custom::fill`], instead
/// of a subquery per row (a million customers' took the server 12.5 s).
pub async fn custom(
    source: &mut Source<'_>,
    report: &mut ImportReport,
    entity: &Entity,
    (alias, link): (&str, &str),
    also_read: &[i64],
    options: &mut OptionLabels,
    read_apart: bool,
) -> Result<Custom, MagentoError> {
    let attributes = flagged(source, entity, report).await?;
    option_labels(source, entity.prefix, &attributes, options).await?;
    let mut read = also_read.to_vec();
    read.extend(attributes.iter().map(|a| a.id));
    count_unread(source, report, entity, &read).await?;
    let mut values = String::new();
    let mut apart = Vec::new();
    for (at, attribute) in attributes.iter().enumerate() {
        if read_apart && attribute.backend_type != "static" {
            values += ", NULL";
            apart.push((at, attribute.values_by_entity(source, entity).await?));
        } else {
            values += &format!(", {}", attribute.value(source, entity, alias, link));
        }
    }
    Ok(Custom {
        columns: attributes.iter().map(Attribute::column).collect(),
        values,
        apart,
    })
}
