//! `orders`, `order_items` and `order_addresses` from `sales_order`, `sales_order_item` and
//! `sales_order_address`: amounts from the `base_*` columns, the website of the order's
//! store. An order without a store or status, or of a customer not carried, is not carried,
//! nor are its items and addresses.

use std::path::Path;

use super::MagentoError;
use super::columns::{Column, Kind, TableFile, column};
use super::copy::{CUSTOMER_NOT_CARRIED, Plan, copy_table};
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

/// Whether the order `o` (joined with its store `s` and customer `c` by [`order_joins`]
/// or [`store_and_customer`]) is carried.
const ORDER_CARRIED: &str = "o.entity_id IS NOT NULL AND s.store_id IS NOT NULL \
    AND o.status IS NOT NULL AND (o.customer_id IS NULL OR c.website_id IS NOT NULL)";

/// The reason code of an order not carried.
const ORDER_REASON: &str = "CASE WHEN o.entity_id IS NULL THEN 'order' \
    WHEN s.store_id IS NULL THEN 'store' WHEN o.status IS NULL THEN 'status' ELSE 'customer' END";

const ORDER_REASONS: [(&str, &str); 3] = [
    ("store", "no store (store_id null or not a store)"),
    ("status", "no status"),
    CUSTOMER_NOT_CARRIED,
];

/// The order `o` of the rows being read (by `on`), its store `s` and customer `c`.
fn order_joins(source: &Source<'_>, on: &str) -> String {
    format!(
        "LEFT JOIN {} o ON o.entity_id = {on} {}",
        source.name("sales_order"),
        store_and_customer(source)
    )
}

/// The store `s` and customer `c` of the order `o`.
fn store_and_customer(source: &Source<'_>) -> String {
    format!(
        "LEFT JOIN {} s ON s.store_id = o.store_id LEFT JOIN {} c ON c.entity_id = o.customer_id",
        source.name("store"),
        source.name("customer_entity"),
    )
}

/// Writes the three tables into `dir`; the rows written of each.
pub async fn import(
    source: &mut Source<'_>,
    dir: &Path,
    report: &mut ImportReport,
    products: &mut Referenced,
) -> Result<[(&'static str, usize); 3], MagentoError> {
    let orders = import_orders(source, dir, report).await?;
    let items = import_items(source, dir, report, products).await?;
    let addresses = import_addresses(source, dir, report).await?;
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
) -> Result<usize, MagentoError> {
    let mut file = TableFile::create(dir, "orders", &ORDERS)?;
    if source.has("sales_order") {
        let plan = Plan {
            table: "sales_order",
            key: "o.entity_id",
            from: format!(
                "FROM {} o {}",
                source.name("sales_order"),
                store_and_customer(source)
            ),
            carried: ORDER_CARRIED.into(),
            // Magento stores discounts negative; discount_amount is what was taken off.
            values: "o.entity_id, o.customer_id, s.website_id, o.created_at, o.status, \
                     o.base_grand_total, o.base_subtotal, o.base_tax_amount, \
                     o.base_shipping_amount, -o.base_discount_amount, o.total_qty_ordered"
                .into(),
            order: "o.entity_id",
            reason: ORDER_REASON,
            reasons: &ORDER_REASONS,
            counted_elsewhere: None,
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

/// Every line of every carried order, configurable children marked `is_child`.
async fn import_items(
    source: &mut Source<'_>,
    dir: &Path,
    report: &mut ImportReport,
    products: &mut Referenced,
) -> Result<usize, MagentoError> {
    let mut file = TableFile::create(dir, "order_items", &ORDER_ITEMS)?;
    if source.has("sales_order_item") && source.has("sales_order") {
        let plan = Plan {
            table: "sales_order_item",
            key: "i.item_id",
            from: format!(
                "FROM {} i {}",
                source.name("sales_order_item"),
                order_joins(source, "i.order_id")
            ),
            carried: format!("{ORDER_CARRIED} AND i.product_id IS NOT NULL"),
            values: "i.order_id, i.product_id, i.qty_ordered, i.base_price, i.base_row_total, \
                     i.parent_item_id IS NOT NULL"
                .into(),
            order: "i.item_id",
            reason: "CASE WHEN i.product_id IS NULL THEN 'product' \
                     WHEN o.entity_id IS NULL THEN 'order' ELSE 'parent' END",
            reasons: &[
                PARENT_REASONS[0],
                PARENT_REASONS[1],
                ("product", "no product_id"),
            ],
            counted_elsewhere: None,
        };
        copy_table(source, &mut file, report, plan, Some((1, products))).await?;
    }
    file.finish()
}

/// The billing and shipping addresses of every carried order.
async fn import_addresses(
    source: &mut Source<'_>,
    dir: &Path,
    report: &mut ImportReport,
) -> Result<usize, MagentoError> {
    let mut file = TableFile::create(dir, "order_addresses", &ORDER_ADDRESSES)?;
    if source.has("sales_order_address") && source.has("sales_order") {
        let plan = Plan {
            table: "sales_order_address",
            key: "a.entity_id",
            from: format!(
                "FROM {} a {}",
                source.name("sales_order_address"),
                order_joins(source, "a.parent_id")
            ),
            carried: format!("{ORDER_CARRIED} AND a.address_type IS NOT NULL"),
            values: "a.parent_id, a.address_type, a.firstname, a.lastname, a.company, \
                     a.street, a.city, a.region, a.postcode, a.telephone, a.country_id, \
                     a.region_id"
                .into(),
            order: "a.entity_id",
            reason: "CASE WHEN a.address_type IS NULL THEN 'type' \
                     WHEN o.entity_id IS NULL THEN 'order' ELSE 'parent' END",
            reasons: &[
                PARENT_REASONS[0],
                PARENT_REASONS[1],
                ("type", "no address_type"),
            ],
            counted_elsewhere: None,
        };
        copy_table(source, &mut file, report, plan, None).await?;
    }
    file.finish()
}
