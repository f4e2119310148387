//! `carts` and `cart_items` from Magento's active quotes (`quote`, `quote_item`, the tax and
//! shipping of `quote_address`). A guest quote is a visitor of its own: Magento's tables do
//! not link it to the guest's views.

use std::path::Path;

use super::MagentoError;
use super::columns::{Column, Kind, TableFile, column};
use super::copy::{CUSTOMER_NOT_CARRIED, Plan, copy_table, count_only};
use super::products::Referenced;
use super::report::ImportReport;
use super::source::Source;

/// A guest quote's visitor id: this plus the quote's id, clear of Magento's visitor ids
/// (unsigned 32-bit).
pub const GUEST_CART_VISITORS: i64 = 1_000_000_000_000;

const CARTS: [Column; 15] = [
    column("cart_id", Kind::Integer),
    column("customer_id", Kind::Integer),
    column("visitor_id", Kind::Integer),
    column("website_id", Kind::Integer),
    column("is_active", Kind::Bool),
    column("created_at", Kind::Timestamp),
    column("updated_at", Kind::Timestamp),
    column("items_count", Kind::Integer),
    column("items_qty", Kind::Decimal),
    column("subtotal", Kind::Decimal),
    column("grand_total", Kind::Decimal),
    column("tax_amount", Kind::Decimal),
    column("shipping_amount", Kind::Decimal),
    column("store_credit_used", Kind::Decimal),
    column("gift_card_used", Kind::Decimal),
];

const CART_ITEMS: [Column; 6] = [
    column("cart_id", Kind::Integer),
    column("product_id", Kind::Integer),
    column("qty", Kind::Decimal),
    column("price", Kind::Decimal),
    column("added_at", Kind::Timestamp),
    column("is_child", Kind::Bool),
];

/// Whether the quote `q` (with its store `s` and customer `c`) is a carried cart.
const CART_CARRIED: &str = "q.entity_id IS NOT NULL AND q.is_active <=> 1 \
    AND s.store_id IS NOT NULL AND (q.customer_id IS NULL OR c.website_id IS NOT NULL)";

const INACTIVE: &str = "an inactive quote (ordered, or replaced): no condition reads it";

/// Writes both tables into `dir`; the rows written of each.
pub async fn import(
    source: &mut Source<'_>,
    dir: &Path,
    report: &mut ImportReport,
    products: &mut Referenced,
) -> Result<[(&'static str, usize); 2], MagentoError> {
    let carts = import_carts(source, dir, report).await?;
    let items = import_items(source, dir, report, products).await?;
    Ok([("carts", carts), ("cart_items", items)])
}

/// The store `s` and customer `c` of the quote `q`.
fn store_and_customer(source: &Source<'_>) -> String {
    format!(
        "LEFT JOIN {} s ON s.store_id = q.store_id LEFT JOIN {} c ON c.entity_id = q.customer_id",
        source.name("store"),
        source.name("customer_entity"),
    )
}

async fn import_carts(
    source: &mut Source<'_>,
    dir: &Path,
    report: &mut ImportReport,
) -> Result<usize, MagentoError> {
    let mut file = TableFile::create(dir, "carts", &CARTS)?;
    if !source.has("quote") {
        return file.finish();
    }
    // The addresses' sums by quote made once and joined (a sum per quote in subqueries
    // took the server half again as long).
    let (address_sums, tax, shipping) = match source.has("quote_address") {
        true => (
            format!(
                "LEFT JOIN (SELECT quote_id, SUM(base_tax_amount) AS tax, \
                 SUM(base_shipping_amount) AS shipping FROM {} GROUP BY quote_id) a \
                 ON a.quote_id = q.entity_id",
                source.name("quote_address")
            ),
            "a.tax",
            "a.shipping",
        ),
        false => (String::new(), "NULL", "NULL"),
    };
    // Store credit and gift cards are Commerce's columns.
    let mut commerce = Vec::new();
    for column in [
        "base_customer_bal_amount_used",
        "base_gift_cards_amount_used",
    ] {
        commerce.push(if source.has_column("quote", column).await? {
            format!("q.{column}")
        } else {
            "NULL".to_string()
        });
    }
    let plan = Plan {
        table: "quote",
        key: "q.entity_id",
        from: format!(
            "FROM {} q {} {address_sums}",
            source.name("quote"),
            store_and_customer(source)
        ),
        carried: CART_CARRIED.into(),
        values: format!(
            "q.entity_id, q.customer_id, \
             IF(q.customer_id IS NULL, {GUEST_CART_VISITORS} + q.entity_id, NULL), s.website_id, 1, \
             q.created_at, q.updated_at, q.items_count, q.items_qty, q.base_subtotal, \
             q.base_grand_total, {tax}, {shipping}, {}, {}",
            commerce[0], commerce[1]
        ),
        order: "q.entity_id",
        reason: "IF(s.store_id IS NULL, 'store', 'customer')",
        reasons: &[
            ("store", "no store (store_id not a store)"),
            CUSTOMER_NOT_CARRIED,
        ],
        counted_elsewhere: Some(INACTIVE_QUOTE),
        check: None,
    };
    copy_table(source, &mut file, report, plan, None).await?;
    count_only(source, report, "quote", "NOT (t.is_active <=> 1)", INACTIVE).await?;
    file.finish()
}

/// Whether the quote `q` exists and is inactive (its rows are only counted).
const INACTIVE_QUOTE: &str = "q.entity_id IS NOT NULL AND NOT (q.is_active <=> 1)";

async fn import_items(
    source: &mut Source<'_>,
    dir: &Path,
    report: &mut ImportReport,
    products: &mut Referenced,
) -> Result<usize, MagentoError> {
    let mut file = TableFile::create(dir, "cart_items", &CART_ITEMS)?;
    if !source.has("quote_item") || !source.has("quote") {
        return file.finish();
    }
    let plan = Plan {
        table: "quote_item",
        key: "i.item_id",
        from: format!(
            "FROM {} i LEFT JOIN {} q ON q.entity_id = i.quote_id {}",
            source.name("quote_item"),
            source.name("quote"),
            store_and_customer(source)
        ),
        carried: format!("{CART_CARRIED} AND i.product_id IS NOT NULL"),
        values: "i.quote_id, i.product_id, i.qty, i.base_price, i.created_at, \
                 i.parent_item_id IS NOT NULL"
            .into(),
        order: "i.item_id",
        reason: "CASE WHEN i.product_id IS NULL THEN 'product' \
                 WHEN q.entity_id IS NULL THEN 'cart' ELSE 'parent' END",
        reasons: &[
            ("cart", "no such quote"),
            ("parent", "its quote is not carried"),
            ("product", "no product_id"),
        ],
        counted_elsewhere: Some(INACTIVE_QUOTE),
        check: None,
    };
    copy_table(source, &mut file, report, plan, Some((1, products))).await?;
    let of_inactive = format!(
        "EXISTS (SELECT 1 FROM {} q WHERE q.entity_id = t.quote_id AND NOT (q.is_active <=> 1))",
        source.name("quote")
    );
    count_only(source, report, "quote_item", &of_inactive, INACTIVE).await?;
    file.finish()
}
