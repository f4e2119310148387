//! Customers with their address books and custom attributes, and the catalog, as
//! Magento's `customer_entity`, `customer_log`, `newsletter_subscriber`,
//! `magento_customerbalance`, `customer_address_entity`, `catalog_product_entity` and
//! their EAV values.

use std::collections::HashMap;

use mysql_async::Value;

use super::Seeder;
use super::catalog::{self, Catalog, Custom};
use super::cells::Table;
use crate::magento::MagentoError;

/// The columns of an address, as both address tables name them.
pub(super) const ADDRESS_FIELDS: [&str; 9] = [
    "firstname",
    "lastname",
    "company",
    "street",
    "city",
    "region",
    "postcode",
    "telephone",
    "country_id",
];

/// Of [`ADDRESS_FIELDS`], those `customer_address_entity` declares `NOT NULL`.
const REQUIRED_IN_ADDRESS_BOOK: [&str; 6] = [
    "firstname",
    "lastname",
    "street",
    "city",
    "telephone",
    "country_id",
];

pub async fn customers(
    seeder: &mut Seeder,
    customers: &Table,
    addresses: &Table,
    catalog: &Catalog,
) -> Result<(), MagentoError> {
    let defaults = default_addresses(seeder, addresses);
    let mut entities = seeder.inserter(
        "customer_entity",
        &[
            "entity_id",
            "website_id",
            "store_id",
            "email",
            "group_id",
            "created_at",
            "firstname",
            "lastname",
            "dob",
            "gender",
            "default_billing",
            "default_shipping",
        ],
    );
    let mut logins = seeder.inserter("customer_log", &["customer_id", "last_login_at"]);
    let mut subscribers = seeder.inserter(
        "newsletter_subscriber",
        &[
            "store_id",
            "customer_id",
            "subscriber_email",
            "subscriber_status",
        ],
    );
    let mut balances = seeder.inserter(
        "magento_customerbalance",
        &["customer_id", "website_id", "amount"],
    );
    let [
        ids,
        websites,
        emails,
        groups,
        created,
        firstnames,
        lastnames,
        dobs,
        genders,
    ] = [
        "customer_id",
        "website_id",
        "email",
        "group_id",
        "created_at",
        "firstname",
        "lastname",
        "dob",
        "gender",
    ]
    .map(|name| customers.column(name));
    let [logged_in, subscribed, credit] =
        ["last_login_at", "newsletter_subscribed", "store_credit"]
            .map(|name| customers.column(name));
    let (mut no_group, mut no_created) = (0, 0);
    for row in 0..customers.rows() {
        let id = ids.value(row)?;
        let website = websites.value(row)?;
        let customer = ids.int(row).unwrap_or_default();
        let (billing, shipping) = defaults.get(&customer).copied().unwrap_or_default();
        let group = groups.value(row)?;
        no_group += usize::from(group == Value::NULL);
        let created_at = created.value(row)?;
        no_created += usize::from(created_at == Value::NULL);
        let gender = genders
            .text(row)
            .map_or(Value::NULL, |g| Value::Int(catalog.genders[g]));
        let conn = &mut seeder.conn;
        entities
            .push(
                conn,
                [
                    id.clone(),
                    website.clone(),
                    website.clone(),
                    emails.value(row)?,
                    if group == Value::NULL {
                        Value::Int(0)
                    } else {
                        group
                    },
                    if created_at == Value::NULL {
                        seeder.now.clone()
                    } else {
                        created_at
                    },
                    firstnames.value(row)?,
                    lastnames.value(row)?,
                    dobs.value(row)?,
                    gender,
                    billing.map_or(Value::NULL, Value::Int),
                    shipping.map_or(Value::NULL, Value::Int),
                ],
            )
            .await?;
        let login = logged_in.value(row)?;
        if login != Value::NULL {
            logins.push(conn, [id.clone(), login]).await?;
        }
        if subscribed.bool(row) == Some(true) {
            let email = emails.value(row)?;
            subscribers
                .push(conn, [website.clone(), id.clone(), email, Value::Int(1)])
                .await?;
        }
        let amount = credit.value(row)?;
        if amount != Value::NULL {
            balances.push(conn, [id, website, amount]).await?;
        }
    }
    for inserter in [entities, logins, subscribers, balances] {
        seeder.finish(inserter).await?;
    }
    seeder.note_if(
        no_group,
        "customers: {} without a group_id written in group 0 (Magento requires one)",
    );
    seeder.note_if(
        no_created,
        "customers: {} without created_at written as created now (Magento requires one)",
    );
    eav_values(
        seeder,
        customers,
        "customer_entity",
        &catalog.customer_attributes,
        "customer_id",
        false,
    )
    .await
}

/// Each customer's default billing and shipping address (`customer_entity` holds one
/// each: the first flagged row).
fn default_addresses(
    seeder: &mut Seeder,
    addresses: &Table,
) -> HashMap<i64, (Option<i64>, Option<i64>)> {
    let [ids, owners, billing, shipping] = [
        "address_id",
        "customer_id",
        "is_default_billing",
        "is_default_shipping",
    ]
    .map(|name| addresses.column(name));
    let mut defaults: HashMap<i64, (Option<i64>, Option<i64>)> = HashMap::new();
    let mut extra = 0;
    for row in 0..addresses.rows() {
        let (Some(id), Some(owner)) = (ids.int(row), owners.int(row)) else {
            continue;
        };
        let entry = defaults.entry(owner).or_default();
        for (flag, slot) in [(&billing, &mut entry.0), (&shipping, &mut entry.1)] {
            if flag.bool(row) == Some(true) {
                if slot.is_some() {
                    extra += 1;
                } else {
                    *slot = Some(id);
                }
            }
        }
    }
    seeder.note_if(
        extra,
        "addresses: {} more default billing or shipping flags than one per customer not \
         kept (Magento keeps one of each)",
    );
    defaults
}

pub async fn addresses(
    seeder: &mut Seeder,
    addresses: &Table,
    catalog: &Catalog,
) -> Result<(), MagentoError> {
    let mut columns = vec!["entity_id", "parent_id", "region_id"];
    columns.extend(ADDRESS_FIELDS);
    let mut book = seeder.inserter("customer_address_entity", &columns);
    let [ids, owners, regions] =
        ["address_id", "customer_id", "region_id"].map(|n| addresses.column(n));
    let fields = ADDRESS_FIELDS.map(|n| addresses.column(n));
    let mut emptied = 0;
    for row in 0..addresses.rows() {
        let mut values = vec![ids.value(row)?, owners.value(row)?, regions.value(row)?];
        for field in &fields {
            let value = field.value(row)?;
            if value == Value::NULL && REQUIRED_IN_ADDRESS_BOOK.contains(&field.name) {
                emptied += 1;
                values.push(field.required_text(row));
            } else {
                values.push(value);
            }
        }
        book.push(&mut seeder.conn, values).await?;
    }
    seeder.finish(book).await?;
    seeder.note_if(
        emptied,
        "addresses: {} null names, streets, cities, telephones or countries written as \
         '' (Magento requires them)",
    );
    eav_values(
        seeder,
        addresses,
        "customer_address_entity",
        &catalog.address_attributes,
        "address_id",
        false,
    )
    .await
}

pub async fn products(
    seeder: &mut Seeder,
    products: &Table,
    catalog: &Catalog,
) -> Result<(), MagentoError> {
    let mut entities = seeder.inserter(
        "catalog_product_entity",
        &["entity_id", "attribute_set_id", "type_id", "sku"],
    );
    let mut categories =
        seeder.inserter("catalog_category_product", &["category_id", "product_id"]);
    let [ids, skus, sets, categories_of] =
        ["product_id", "sku", "attribute_set", "category_ids"].map(|n| products.column(n));
    let mut no_sku = 0;
    for row in 0..products.rows() {
        let id = ids.value(row)?;
        let set = sets
            .text(row)
            .map_or(0, |name| catalog.attribute_sets[name]);
        no_sku += usize::from(skus.text(row).is_none());
        let conn = &mut seeder.conn;
        entities
            .push(
                conn,
                [
                    id.clone(),
                    Value::Int(set),
                    Value::Bytes(b"simple".to_vec()),
                    skus.required_text(row),
                ],
            )
            .await?;
        for category in categories_of.ids(row) {
            categories
                .push(conn, [Value::Int(category), id.clone()])
                .await?;
        }
    }
    seeder.finish(entities).await?;
    seeder.finish(categories).await?;
    seeder.note_if(
        no_sku,
        "products: {} without a sku written with sku '' (Magento requires one)",
    );
    let named = [
        Custom {
            column: "name".into(),
            attribute_id: catalog::NAME,
            backend: "varchar",
        },
        Custom {
            column: "price".into(),
            attribute_id: catalog::PRICE,
            backend: "decimal",
        },
    ];
    eav_values(
        seeder,
        products,
        "catalog_product_entity",
        &named,
        "product_id",
        true,
    )
    .await?;
    eav_values(
        seeder,
        products,
        "catalog_product_entity",
        &catalog.product_attributes,
        "product_id",
        true,
    )
    .await
}

/// The non-null values of `attributes` into `<entity_table>_<backend>`, at store 0 (the
/// admin value) where values are per store.
async fn eav_values(
    seeder: &mut Seeder,
    table: &Table,
    entity_table: &str,
    attributes: &[Custom],
    id_column: &str,
    per_store: bool,
) -> Result<(), MagentoError> {
    let ids = table.column(id_column);
    let columns: &[&str] = if per_store {
        &["attribute_id", "store_id", "entity_id", "value"]
    } else {
        &["attribute_id", "entity_id", "value"]
    };
    for attribute in attributes {
        let cells = table.column(&attribute.column);
        let mut values = seeder.inserter(&format!("{entity_table}_{}", attribute.backend), columns);
        for row in 0..table.rows() {
            let value = cells.value(row)?;
            if value == Value::NULL {
                continue;
            }
            let mut row_values = vec![Value::Int(attribute.attribute_id)];
            if per_store {
                row_values.push(Value::Int(0));
            }
            row_values.extend([ids.value(row)?, value]);
            values.push(&mut seeder.conn, row_values).await?;
        }
        seeder.finish(values).await?;
    }
    Ok(())
}
