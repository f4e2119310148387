//! `orders` from `sales_order`: amounts from the `base_*` columns, the website of the
//! order's store; an order without a store or status, or of a customer not carried, is not
//! carried.

use std::collections::BTreeMap;
use std::path::Path;

use mysql_async::Value;

use super::MagentoError;
use super::columns::{Column, Kind, TableFile, column};
use super::report::ImportReport;
use super::source::Source;

const COLUMNS: [Column; 11] = [
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

/// Why an order is not carried, by the code the query gives.
const NOT_CARRIED: [(&str, &str); 3] = [
    ("store", "no store (store_id null or not a store)"),
    ("status", "no status"),
    (
        "customer",
        "its customer is not carried (no website, or no such customer)",
    ),
];

/// Writes `orders.parquet` into `dir`; the rows written (none without `sales_order`).
pub async fn import(
    source: &mut Source<'_>,
    dir: &Path,
    report: &mut ImportReport,
) -> Result<usize, MagentoError> {
    let mut file = TableFile::create(dir, "orders", &COLUMNS)?;
    if !source.has("sales_order") {
        return file.finish();
    }
    let order = source.name("sales_order");
    let store = source.name("store");
    let customer = source.name("customer_entity");
    let joins = format!(
        "FROM {order} o LEFT JOIN {store} s ON s.store_id = o.store_id \
         LEFT JOIN {customer} c ON c.entity_id = o.customer_id"
    );
    let carried = "s.store_id IS NOT NULL AND o.status IS NOT NULL \
                   AND (o.customer_id IS NULL OR c.website_id IS NOT NULL)";
    // Magento stores discounts negative; the dataset's discount_amount is what was taken off.
    let sql = format!(
        "SELECT o.entity_id, o.customer_id, s.website_id, o.created_at, o.status, \
         o.base_grand_total, o.base_subtotal, o.base_tax_amount, o.base_shipping_amount, \
         -o.base_discount_amount, o.total_qty_ordered {joins} WHERE {carried} ORDER BY o.entity_id"
    );
    source
        .for_each_row("sales_order", &sql, |row| {
            file.push(&row)
                .map_err(|why| format!("row entity_id={:?}: {why}", row[0]))
        })
        .await?;
    let rows = file.finish()?;
    let reasons = format!(
        "SELECT o.entity_id, CASE WHEN s.store_id IS NULL THEN 'store' \
         WHEN o.status IS NULL THEN 'status' ELSE 'customer' END {joins} \
         WHERE NOT ({carried}) ORDER BY o.entity_id"
    );
    let mut keys: BTreeMap<String, Vec<serde_json::Value>> = BTreeMap::new();
    for row in source.rows("sales_order", &reasons).await? {
        let code = match &row[1] {
            Value::Bytes(code) => String::from_utf8_lossy(code).into_owned(),
            other => format!("{other:?}"),
        };
        let key = match row[0] {
            Value::Int(n) => serde_json::json!(n),
            Value::UInt(n) => serde_json::json!(n),
            ref other => serde_json::json!(format!("{other:?}")),
        };
        keys.entry(code).or_default().push(key);
    }
    for (code, reason) in NOT_CARRIED {
        let listed = keys.remove(code).unwrap_or_default();
        report.not_carried(&source.label("sales_order"), reason, listed);
    }
    Ok(rows)
}
