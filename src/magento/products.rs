//! `products` from the catalog: the current version of each product (with content staging,
//! the row whose `created_in`..`updated_in` holds now), its admin (store 0) name and price,
//! its attribute set's name and its categories; and a stub row for every product that
//! orders, carts, wishlists or views name but the catalog lacks.

use std::path::Path;

use mysql_async::Value;
use roaring::RoaringTreemap;

use super::MagentoError;
use super::attributes::{Entity, OptionLabels, custom};
use super::columns::{Column, Kind, TableFile, column};
use super::copy::{count_only, key_of};
use super::report::ImportReport;
use super::source::Source;

const ENTITY: Entity = Entity {
    type_code: "catalog_product",
    table: "catalog_product_entity",
    flag: ("catalog_eav_attribute", "is_used_for_promo_rules"),
    prefix: "product",
    named: &["sku", "name", "price", "attribute_set_id", "category_ids"],
    columns: &COLUMNS,
    per_store: true,
};

const COLUMNS: [Column; 6] = [
    column("product_id", Kind::Integer),
    column("sku", Kind::Text),
    column("name", Kind::Text),
    column("attribute_set", Kind::Text),
    column("price", Kind::Decimal),
    column("category_ids", Kind::IdList),
];

/// The products that carried rows name, gathered while those tables are read.
#[derive(Default)]
pub struct Referenced(RoaringTreemap);

impl Referenced {
    /// Notes the product id `value` (ids that are no unsigned integer name no product).
    pub fn note(&mut self, value: &Value) {
        if let Some(id) = product_id(value) {
            self.0.insert(id);
        }
    }

    /// The catalog has the product `value`: it needs no stub.
    fn found(&mut self, value: &Value) {
        if let Some(id) = product_id(value) {
            self.0.remove(id);
        }
    }
}

fn product_id(value: &Value) -> Option<u64> {
    match value {
        Value::Int(n) => u64::try_from(*n).ok(),
        Value::UInt(n) => Some(*n),
        _ => None,
    }
}

/// Writes `products.parquet` into `dir`, the catalog's then the stubs; the rows written.
pub async fn import(
    source: &mut Source<'_>,
    dir: &Path,
    report: &mut ImportReport,
    mut referenced: Referenced,
    options: &mut OptionLabels,
) -> Result<usize, MagentoError> {
    let mut columns = COLUMNS.to_vec();
    let catalog = if source.has("catalog_product_entity") {
        let (sql, custom) = catalog_query(source, report, options).await?;
        columns.extend(custom);
        Some(sql)
    } else {
        None
    };
    let mut file = TableFile::create(dir, "products", &columns)?;
    if let Some(sql) = catalog {
        source
            .for_each_row("catalog_product_entity", &sql, |row| {
                referenced.found(&row[0]);
                file.push(&row)
                    .map_err(|why| format!("row entity_id={}: {why}", key_of(&row[0])))
            })
            .await?;
    }
    let stubs: Vec<u64> = referenced.0.iter().collect();
    for &id in &stubs {
        let mut row = vec![Value::NULL; columns.len()];
        row[0] = Value::UInt(id);
        file.push(&row)
            .map_err(|why| MagentoError::table(&source.label("catalog_product_entity"), why))?;
    }
    report.warn(
        &source.label("catalog_product_entity"),
        "stub product: named by an order, cart, wishlist or view but not in the catalog \
         (deleted, or without a current version): a products row with only product_id",
        stubs.into_iter().map(|id| serde_json::json!(id)).collect(),
    );
    file.finish()
}

/// The query of the current catalog rows, a value per column, and the custom columns it
/// adds; counts what it leaves out that no condition reads (other staging versions,
/// store-view values, attributes not flagged).
async fn catalog_query(
    source: &mut Source<'_>,
    report: &mut ImportReport,
    options: &mut OptionLabels,
) -> Result<(String, Vec<Column>), MagentoError> {
    let staging = report.staging;
    let catalog = source.name("catalog_product_entity");
    // With staging, EAV values belong to a version (row_id), not to the product.
    let link = if staging { "row_id" } else { "entity_id" };
    let current = if staging {
        "e.created_in <= UNIX_TIMESTAMP() AND UNIX_TIMESTAMP() < e.updated_in"
    } else {
        "1"
    };
    if staging {
        count_only(
            source,
            report,
            "catalog_product_entity",
            "NOT (t.created_in <= UNIX_TIMESTAMP() AND UNIX_TIMESTAMP() < t.updated_in)",
            "a staging version that is not the current one (past, or scheduled)",
        )
        .await?;
    }
    let mut joins = String::new();
    let mut values = Vec::new();
    let mut read = Vec::new();
    for (code, table) in [
        ("name", "catalog_product_entity_varchar"),
        ("price", "catalog_product_entity_decimal"),
    ] {
        let attribute = product_attribute(source, code).await?;
        read.extend(attribute);
        match attribute {
            Some(id) if source.has(table) => {
                let alias = format!("v_{code}");
                joins.push_str(&format!(
                    " LEFT JOIN {} {alias} ON {alias}.{link} = e.{link} \
                     AND {alias}.attribute_id = {id} AND {alias}.store_id = 0",
                    source.name(table)
                ));
                values.push(format!("{alias}.value"));
            }
            _ => values.push("NULL".into()),
        }
    }
    let attribute_set = source.with_table("eav_attribute_set", "NULL", |sets| {
        format!("(SELECT s.attribute_set_name FROM {sets} s WHERE s.attribute_set_id = e.attribute_set_id)")
    });
    let categories = source.with_table("catalog_category_product", "''", |links| {
        format!(
            "COALESCE((SELECT GROUP_CONCAT(DISTINCT l.category_id ORDER BY l.category_id) \
             FROM {links} l WHERE l.product_id = e.entity_id), '')"
        )
    });
    let custom = custom(source, report, &ENTITY, ("e", link), &read, options, false).await?;
    let sql = format!(
        "SELECT e.entity_id, e.sku, {}, {attribute_set}, {}, {categories}{} FROM {catalog} e{joins} \
         WHERE {current} ORDER BY e.entity_id",
        values[0], values[1], custom.values
    );
    Ok((sql, custom.columns))
}

/// The id of the catalog product attribute `code`, if the store has it.
async fn product_attribute(
    source: &mut Source<'_>,
    code: &str,
) -> Result<Option<i64>, MagentoError> {
    let sql = format!(
        "SELECT a.attribute_id FROM {} a JOIN {} t ON t.entity_type_id = a.entity_type_id \
         WHERE t.entity_type_code = 'catalog_product' AND a.attribute_code = '{code}'",
        source.name("eav_attribute"),
        source.name("eav_entity_type"),
    );
    let rows = source.rows("eav_attribute", &sql).await?;
    Ok(rows.first().and_then(|row| match row[0] {
        Value::Int(n) => Some(n),
        Value::UInt(n) => i64::try_from(n).ok(),
        _ => None,
    }))
}
