//! What Magento needs before the rows: a website, store group and store for each website
//! the dataset names (store `W` of website `W`; 0 is the admin website), the EAV entity
//! types, the `gender`, `name` and `price` attributes, attribute sets, and an attribute
//! flagged for segments (customers, addresses) or promotions (products) for each custom
//! column.

use std::collections::{BTreeMap, BTreeSet};

use datafusion::arrow::datatypes::DataType;
use mysql_async::Value;

use super::Seeder;
use super::cells::{Cells, Table};
use crate::magento::MagentoError;

const CUSTOMER_TYPE: i64 = 1;
const ADDRESS_TYPE: i64 = 2;
const PRODUCT_TYPE: i64 = 4;
/// Magento's own ids for these attributes in a fresh install.
const GENDER: i64 = 11;
pub const NAME: i64 = 73;
pub const PRICE: i64 = 77;
/// Custom attributes are numbered from here.
const FIRST_CUSTOM: i64 = 500;

/// Gender values and the admin labels Magento's options have for them.
const GENDERS: [(&str, &str); 3] = [
    ("male", "Male"),
    ("female", "Female"),
    ("not_specified", "Not Specified"),
];

/// A custom column written as an EAV attribute.
pub struct Custom {
    pub column: String,
    pub attribute_id: i64,
    /// Where its values go: `<entity table>_<backend>`.
    pub backend: &'static str,
}

pub struct Catalog {
    /// Option id by the dataset's gender value.
    pub genders: BTreeMap<String, i64>,
    /// Attribute set id by name.
    pub attribute_sets: BTreeMap<String, i64>,
    pub customer_attributes: Vec<Custom>,
    pub address_attributes: Vec<Custom>,
    pub product_attributes: Vec<Custom>,
}

/// An entity type whose custom columns become attributes.
struct Entity {
    type_id: i64,
    /// The table flagging attributes and its flag column.
    flag: (&'static str, &'static str),
    /// The value tables the schema has, by backend type.
    backends: &'static [&'static str],
}

const CUSTOMER: Entity = Entity {
    type_id: CUSTOMER_TYPE,
    flag: ("customer_eav_attribute", "is_used_for_customer_segment"),
    backends: &["int", "varchar", "datetime", "decimal", "text"],
};
const ADDRESS: Entity = Entity {
    type_id: ADDRESS_TYPE,
    flag: ("customer_eav_attribute", "is_used_for_customer_segment"),
    backends: &["int", "varchar"],
};
const PRODUCT: Entity = Entity {
    type_id: PRODUCT_TYPE,
    flag: ("catalog_eav_attribute", "is_used_for_promo_rules"),
    backends: &["int", "varchar", "datetime", "decimal", "text"],
};

/// Writes the websites and the EAV catalog the tables' rows refer to.
pub async fn write(
    seeder: &mut Seeder,
    tables: &BTreeMap<&str, Table>,
) -> Result<Catalog, MagentoError> {
    write_websites(seeder, tables).await?;
    seeder
        .insert(
            "eav_entity_type",
            &["entity_type_id", "entity_type_code", "entity_model"],
            [
                (
                    CUSTOMER_TYPE,
                    "customer",
                    "Magento\\Customer\\Model\\ResourceModel\\Customer",
                ),
                (
                    ADDRESS_TYPE,
                    "customer_address",
                    "Magento\\Customer\\Model\\ResourceModel\\Address",
                ),
                (
                    PRODUCT_TYPE,
                    "catalog_product",
                    "Magento\\Catalog\\Model\\ResourceModel\\Product",
                ),
            ]
            .map(|(id, code, model)| vec![Value::Int(id), text(code), text(model)]),
        )
        .await?;
    let customers = &tables["customers"];
    let products = &tables["products"];
    let mut attributes = vec![
        attribute(GENDER, CUSTOMER_TYPE, "gender", "int", "select", "Gender"),
        attribute(
            NAME,
            PRODUCT_TYPE,
            "name",
            "varchar",
            "text",
            "Product Name",
        ),
        attribute(PRICE, PRODUCT_TYPE, "price", "decimal", "price", "Price"),
    ];
    let mut next_id = FIRST_CUSTOM;
    let mut flagged = Vec::new();
    let mut promo_flags = vec![(NAME, 0), (PRICE, 0)];
    let mut customs = Vec::new();
    for (entity, table) in [
        (&CUSTOMER, customers),
        (&ADDRESS, &tables["addresses"]),
        (&PRODUCT, products),
    ] {
        let mut these = Vec::new();
        for cells in table.custom_columns() {
            if entity.type_id == ADDRESS_TYPE && cells.name == "region_id" {
                continue; // a column of customer_address_entity itself
            }
            let (backend, input) = kind(&cells, entity)?;
            attributes.push(attribute(
                next_id,
                entity.type_id,
                cells.name,
                backend,
                input,
                cells.name,
            ));
            if entity.type_id == PRODUCT_TYPE {
                promo_flags.push((next_id, 1));
            } else {
                flagged.push(next_id);
            }
            these.push(Custom {
                column: cells.name.to_string(),
                attribute_id: next_id,
                backend,
            });
            next_id += 1;
        }
        customs.push(these);
    }
    seeder
        .insert(
            "eav_attribute",
            &[
                "attribute_id",
                "entity_type_id",
                "attribute_code",
                "backend_type",
                "frontend_input",
                "frontend_label",
                "is_user_defined",
            ],
            attributes,
        )
        .await?;
    let (flags, flag) = CUSTOMER.flag;
    seeder
        .insert(
            flags,
            &["attribute_id", flag],
            flagged
                .into_iter()
                .map(|id| vec![Value::Int(id), Value::Int(1)]),
        )
        .await?;
    let (flags, flag) = PRODUCT.flag;
    seeder
        .insert(
            flags,
            &["attribute_id", flag],
            promo_flags
                .into_iter()
                .map(|(id, on)| vec![Value::Int(id), Value::Int(on)]),
        )
        .await?;
    let genders = write_genders(seeder, &customers.column("gender")).await?;
    let attribute_sets = write_attribute_sets(seeder, &products.column("attribute_set")).await?;
    let mut customs = customs.into_iter();
    Ok(Catalog {
        genders,
        attribute_sets,
        customer_attributes: customs.next().unwrap_or_default(),
        address_attributes: customs.next().unwrap_or_default(),
        product_attributes: customs.next().unwrap_or_default(),
    })
}

fn text(text: &str) -> Value {
    Value::Bytes(text.as_bytes().to_vec())
}

fn attribute(
    id: i64,
    entity_type: i64,
    code: &str,
    backend: &str,
    input: &str,
    label: &str,
) -> Vec<Value> {
    let user_defined = i64::from(id >= FIRST_CUSTOM);
    vec![
        Value::Int(id),
        Value::Int(entity_type),
        text(code),
        text(backend),
        text(input),
        text(label),
        Value::Int(user_defined),
    ]
}

/// The backend and input types of a custom column, as the import reads them back.
fn kind(cells: &Cells<'_>, entity: &Entity) -> Result<(&'static str, &'static str), MagentoError> {
    let (backend, input) = match cells.data_type() {
        DataType::Int64 | DataType::Null => ("int", "text"),
        DataType::Boolean => ("int", "boolean"),
        DataType::Decimal128(_, _) => ("decimal", "text"),
        DataType::Date32 => ("datetime", "date"),
        DataType::Timestamp(_, _) => ("datetime", "datetime"),
        DataType::Dictionary(_, _) => ("varchar", "text"),
        other => {
            return Err(cells.column_error(format!(
                "a custom column of type {other}: seed writes custom attributes of ids, \
                 ints, decimals, bools, dates, timestamps and strings"
            )));
        }
    };
    if !entity.backends.contains(&backend) {
        return Err(cells.column_error(format!(
            "a custom column kept in {backend} values: the schema seed creates has {} \
             values for this entity",
            entity.backends.join(", ")
        )));
    }
    Ok((backend, input))
}

/// Website 0 (admin) and every website a customer, order, cart or view names, each with
/// one store group and one store of the same id.
async fn write_websites(
    seeder: &mut Seeder,
    tables: &BTreeMap<&str, Table>,
) -> Result<(), MagentoError> {
    let mut websites = BTreeSet::from([0]);
    for table in ["customers", "orders", "carts", "product_views"] {
        let table = &tables[table];
        let column = table.column("website_id");
        for row in 0..table.rows() {
            if let Some(website) = column.int(row) {
                if !(0..=i64::from(u16::MAX)).contains(&website) {
                    return Err(column.error(
                        row,
                        format!("{website} is not a Magento website id (0 to 65535)"),
                    ));
                }
                websites.insert(website);
            }
        }
    }
    let name = |w: i64| {
        if w == 0 {
            "admin".to_string()
        } else {
            format!("website_{w}")
        }
    };
    let default = websites.iter().copied().find(|&w| w != 0);
    seeder
        .insert(
            "store_website",
            &[
                "website_id",
                "code",
                "name",
                "default_group_id",
                "is_default",
            ],
            websites.iter().map(|&w| {
                vec![
                    Value::Int(w),
                    text(&name(w)),
                    text(&name(w)),
                    Value::Int(w),
                    Value::Int(i64::from(Some(w) == default)),
                ]
            }),
        )
        .await?;
    seeder
        .insert(
            "store_group",
            &["group_id", "website_id", "name", "default_store_id", "code"],
            websites.iter().map(|&w| {
                vec![
                    Value::Int(w),
                    Value::Int(w),
                    text(&name(w)),
                    Value::Int(w),
                    text(&name(w)),
                ]
            }),
        )
        .await?;
    seeder
        .insert(
            "store",
            &[
                "store_id",
                "code",
                "website_id",
                "group_id",
                "name",
                "is_active",
            ],
            websites.iter().map(|&w| {
                vec![
                    Value::Int(w),
                    text(&name(w)),
                    Value::Int(w),
                    Value::Int(w),
                    text(&name(w)),
                    Value::Int(1),
                ]
            }),
        )
        .await
}

/// The gender options: Magento's three, and one per other value the customers have.
async fn write_genders(
    seeder: &mut Seeder,
    genders: &Cells<'_>,
) -> Result<BTreeMap<String, i64>, MagentoError> {
    let mut options: BTreeMap<String, (i64, String)> = GENDERS
        .iter()
        .zip(1..)
        .map(|((value, label), id)| (value.to_string(), (id, label.to_string())))
        .collect();
    for row in 0..genders.rows() {
        if let Some(value) = genders.text(row)
            && !options.contains_key(value)
        {
            let id = options.len() as i64 + 1;
            options.insert(value.to_string(), (id, value.to_string()));
        }
    }
    let mut ids: Vec<(i64, String)> = options.values().cloned().collect();
    ids.sort();
    seeder
        .insert(
            "eav_attribute_option",
            &["option_id", "attribute_id"],
            ids.iter()
                .map(|(id, _)| vec![Value::Int(*id), Value::Int(GENDER)]),
        )
        .await?;
    seeder
        .insert(
            "eav_attribute_option_value",
            &["option_id", "store_id", "value"],
            ids.iter()
                .map(|(id, label)| vec![Value::Int(*id), Value::Int(0), text(label)]),
        )
        .await?;
    Ok(options
        .into_iter()
        .map(|(value, (id, _))| (value, id))
        .collect())
}

/// One product attribute set per name the products have.
async fn write_attribute_sets(
    seeder: &mut Seeder,
    sets: &Cells<'_>,
) -> Result<BTreeMap<String, i64>, MagentoError> {
    let mut names = BTreeMap::new();
    for row in 0..sets.rows() {
        if let Some(name) = sets.text(row) {
            let id = names.len() as i64 + 1;
            names.entry(name.to_string()).or_insert(id);
        }
    }
    seeder
        .insert(
            "eav_attribute_set",
            &["attribute_set_id", "entity_type_id", "attribute_set_name"],
            names
                .iter()
                .map(|(name, id)| vec![Value::Int(*id), Value::Int(PRODUCT_TYPE), text(name)]),
        )
        .await?;
    Ok(names)
}
