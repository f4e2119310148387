//! `orders`, `order_items` and `order_addresses` from `sales_order`, `sales_order_item` and
//! `sales_order_address`: amounts from the `base_*` columns, the website of the order's
//! store. An order without a store or status, or of a customer not carried, is not carried,
//! nor are its items and addresses. Order addresses carry the user-defined address
//! attributes Commerce copies onto them (`magento_customercustomattributes_sales_flat_order_address`).

use std::path::Path;

use super::MagentoError;
use super::attributes::OptionLabels;
use super::columns::{Column, Kind, TableFile, column};
use super::copy::{CUSTOMER_NOT_CARRIED, ClientCheck, Plan, client_check, copy_table};
use super::keys::KnownKeys;
use super::products::Referenced;
use super::report::ImportReport;
use super::source::Source;

const ORDERS: [Column; 11] = [
    column("order_id", Kind::Integer),
    column("customer_id", Kind::Integer),
    column("website_id", Kind::Integer),
    column("created_at", Kind::Timestamp),
    column("status", Kind::Text),
    column("grand_total", Kind::Decimal),
    column("subtotal", Kind::Decimal),
    column("tax_amount", Kind::Decimal),
    column("shipping_amount", Kind::Decimal),
    column("discount_amount", Kind::Decimal),
    column("total_qty_ordered", Kind::Decimal),
];

const ORDER_ITEMS: [Column; 6] = [
    column("order_id", Kind::Integer),
    column("product_id", Kind::Integer),
    column("qty_ordered", Kind::Decimal),
    column("price", Kind::Decimal),
    column("row_total", Kind::Decimal),
    column("is_child", Kind::Bool),
];

const ORDER_ADDRESSES: [Column; 12] = [
    column("order_id", Kind::Integer),
    column("address_type", Kind::Text),
    column("firstname", Kind::Text),
    column("lastname", Kind::Text),
    column("company", Kind::Text),
    column("street", Kind::Text),
    column("city", Kind::Text),
    column("region", Kind::Text),
    column("postcode", Kind::Text),
    column("telephone", Kind::Text),
    column("country_id", Kind::Text),
    column("region_id", Kind::Integer),
];

const ORDER_REASONS: [(&str, &str); 3] = [
    ("store", "no store (store_id null or not a store)"),
    ("status", "no status"),
    CUSTOMER_NOT_CARRIED,
];

/// What the orders' import reads and adds to beside the database.
pub struct Orders<'a> {
    /// Product ids the order lines name.
    pub products: &'a mut Referenced,
    /// Orders read and carried, for their lines and addresses.
    pub keys: &'a mut KnownKeys,
    /// The customer addresses' custom columns: order addresses carry those Commerce keeps
    /// for them.
    pub address_attributes: &'a [Column],
    /// Option labels: the order addresses' custom columns get the addresses'.
    pub options: &'a mut OptionLabels,
}

/// Writes the three tables into `dir`; the rows written of each.
pub async fn import(
    source: &mut Source<'_>,
    dir: &Path,
    report: &mut ImportReport,
    with: Orders<'_>,
) -> Result<[(&'static str, usize); 3], MagentoError> {
    let Orders {
        products,
        keys,
        address_attributes,
        options,
    } = with;
    let orders = import_orders(source, dir, report, keys).await?;
    let items = import_items(source, dir, report, products, keys).await?;
    let custom = order_address_attributes(source, report, address_attributes, options).await?;
    let addresses = import_addresses(source, dir, report, keys, &custom).await?;
    Ok([
        ("orders", orders),
        ("order_items", items),
        ("order_addresses", addresses),
    ])
}

async fn import_orders(
    source: &mut Source<'_>,
    dir: &Path,
    report: &mut ImportReport,
    keys: &mut KnownKeys,
) -> Result<usize, MagentoError> {
    let mut file = TableFile::create(dir, "orders", &ORDERS)?;
    if source.has("sales_order") {
        // The store (its website in place of its id) and the customer on the client; each
        // order noted, and whether it is carried, for its items and addresses.
        let check = client_check(|values, by_sql| {
            let reason = match keys.website_of_store(&values[2]) {
                None => Some("store"),
                Some(website) => {
                    values[2] = website.clone();
                    by_sql.or_else(|| {
                        (!keys.customer_carried_or_none(&values[1]))
                            .then_some(CUSTOMER_NOT_CARRIED.0)
                    })
                }
            };
            keys.note_order(&values[0], reason.is_none());
            reason
        });
        let plan = Plan {
            table: "sales_order",
            key: "o.entity_id",
            from: format!("FROM {} o", source.name("sales_order")),
            carried: "o.status IS NOT NULL".into(),
            // Magento stores discounts negative; discount_amount is what was taken off.
            values: "o.entity_id, o.customer_id, o.store_id, o.created_at, o.status, \
                     o.base_grand_total, o.base_subtotal, o.base_tax_amount, \
                     o.base_shipping_amount, -o.base_discount_amount, o.total_qty_ordered"
                .into(),
            order: "o.entity_id",
            reason: "'status'",
            reasons: &ORDER_REASONS,
            counted_elsewhere: None,
            check: Some(check),
        };
        copy_table(source, &mut file, report, plan, None).await?;
    }
    file.finish()
}

/// An item or address of an order not carried, or of no order.
const PARENT_REASONS: [(&str, &str); 2] = [
    ("order", "no such order"),
    ("parent", "its order is not carried"),
];

/// The check of a row whose first value is its order: the server's reason first (the
/// row's own columns), then its order's.
fn of_carried_order<'a>(keys: &'a KnownKeys) -> ClientCheck<'a> {
    client_check(|values, by_sql| by_sql.or_else(|| keys.order_reason(&values[0])))
}

/// Every line of every carried order, configurable children marked `is_child`.
async fn import_items(
    source: &mut Source<'_>,
    dir: &Path,
    report: &mut ImportReport,
    products: &mut Referenced,
    keys: &KnownKeys,
) -> Result<usize, MagentoError> {
    let mut file = TableFile::create(dir, "order_items", &ORDER_ITEMS)?;
    if source.has("sales_order_item") && source.has("sales_order") {
        let plan = Plan {
            table: "sales_order_item",
            key: "i.item_id",
            from: format!("FROM {} i", source.name("sales_order_item")),
            carried: "i.product_id IS NOT NULL".into(),
            values: "i.order_id, i.product_id, i.qty_ordered, i.base_price, i.base_row_total, \
                     i.parent_item_id IS NOT NULL"
                .into(),
            order: "i.item_id",
            reason: "'product'",
            reasons: &[
                PARENT_REASONS[0],
                PARENT_REASONS[1],
                ("product", "no product_id"),
            ],
            counted_elsewhere: None,
            check: Some(of_carried_order(keys)),
        };
        copy_table(source, &mut file, report, plan, Some((1, products))).await?;
    }
    file.finish()
}

/// Where Commerce keeps the values of user-defined address attributes for each order
/// address: a row per `sales_order_address` row, a column per attribute.
const ORDER_ADDRESS_VALUES: &str = "magento_customercustomattributes_sales_flat_order_address";

/// Of the customer addresses' custom columns, those [`ORDER_ADDRESS_VALUES`] has a column
/// of (the others are warned about: their order addresses have no value); their option
/// labels copied from the addresses'.
async fn order_address_attributes(
    source: &mut Source<'_>,
    report: &mut ImportReport,
    address_attributes: &[Column],
    options: &mut OptionLabels,
) -> Result<Vec<Column>, MagentoError> {
    if address_attributes.is_empty() || !source.has(ORDER_ADDRESS_VALUES) {
        return Ok(Vec::new());
    }
    let mut carried = Vec::new();
    let mut without_column = Vec::new();
    for column in address_attributes {
        if source
            .has_column(ORDER_ADDRESS_VALUES, &column.name)
            .await?
        {
            if let Some(labels) = options.get(&format!("address.{}", column.name)).cloned() {
                options.insert(format!("order_address.{}", column.name), labels);
            }
            carried.push(column.clone());
        } else {
            without_column.push(serde_json::Value::from(column.name.as_ref()));
        }
    }
    report.warn(
        &source.label(ORDER_ADDRESS_VALUES),
        "address attribute without a column here: its order_addresses column is not carried",
        without_column,
    );
    Ok(carried)
}

/// The billing and shipping addresses of every carried order, with the `custom` columns
/// of [`ORDER_ADDRESS_VALUES`].
async fn import_addresses(
    source: &mut Source<'_>,
    dir: &Path,
    report: &mut ImportReport,
    keys: &KnownKeys,
    custom: &[Column],
) -> Result<usize, MagentoError> {
    let columns = [ORDER_ADDRESSES.as_slice(), custom].concat();
    let mut file = TableFile::create(dir, "order_addresses", &columns)?;
    if source.has("sales_order_address") && source.has("sales_order") {
        // A row of the values' table per order address, by primary key.
        let join = match custom.is_empty() {
            true => String::new(),
            false => format!(
                " LEFT JOIN {} x ON x.entity_id = a.entity_id",
                source.name(ORDER_ADDRESS_VALUES)
            ),
        };
        let values: String = custom.iter().map(|c| format!(", x.`{}`", c.name)).collect();
        let plan = Plan {
            table: "sales_order_address",
            key: "a.entity_id",
            from: format!("FROM {} a{join}", source.name("sales_order_address")),
            carried: "a.address_type IS NOT NULL".into(),
            values: format!(
                "a.parent_id, a.address_type, a.firstname, a.lastname, a.company, \
                 a.street, a.city, a.region, a.postcode, a.telephone, a.country_id, \
                 a.region_id{values}"
            ),
            order: "a.entity_id",
            reason: "'type'",
            reasons: &[
                PARENT_REASONS[0],
                PARENT_REASONS[1],
                ("type", "no address_type"),
            ],
            counted_elsewhere: None,
            check: Some(of_carried_order(keys)),
        };
        copy_table(source, &mut file, report, plan, None).await?;
    }
    file.finish()
}
