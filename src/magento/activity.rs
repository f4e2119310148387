//! `wishlist_items` and `product_views`: every item of every wishlist of a carried customer
//! (Commerce allows several), and `report_viewed_product_index`, a customer's views under
//! the customer and a guest's under the visitor.

use std::path::Path;

use super::MagentoError;
use super::columns::{Column, Kind, TableFile, column};
use super::copy::{CUSTOMER_NOT_CARRIED, Plan, client_check, copy_table};
use super::keys::KnownKeys;
use super::products::Referenced;
use super::report::ImportReport;
use super::source::Source;

const WISHLIST_ITEMS: [Column; 3] = [
    column("customer_id", Kind::Integer),
    column("product_id", Kind::Integer),
    column("added_at", Kind::Timestamp),
];

const PRODUCT_VIEWS: [Column; 5] = [
    column("customer_id", Kind::Integer),
    column("visitor_id", Kind::Integer),
    column("product_id", Kind::Integer),
    column("website_id", Kind::Integer),
    column("viewed_at", Kind::Timestamp),
];

/// Writes both tables into `dir`; the rows written of each.
pub async fn import(
    source: &mut Source<'_>,
    dir: &Path,
    report: &mut ImportReport,
    products: &mut Referenced,
    keys: &KnownKeys,
) -> Result<[(&'static str, usize); 2], MagentoError> {
    let wishlists = import_wishlists(source, dir, report, products).await?;
    let views = import_views(source, dir, report, products, keys).await?;
    Ok([("wishlist_items", wishlists), ("product_views", views)])
}

async fn import_wishlists(
    source: &mut Source<'_>,
    dir: &Path,
    report: &mut ImportReport,
    products: &mut Referenced,
) -> Result<usize, MagentoError> {
    let mut file = TableFile::create(dir, "wishlist_items", &WISHLIST_ITEMS)?;
    if source.has("wishlist_item") && source.has("wishlist") {
        let plan = Plan {
            table: "wishlist_item",
            key: "i.wishlist_item_id",
            from: format!(
                "FROM {} i LEFT JOIN {} w ON w.wishlist_id = i.wishlist_id \
                 LEFT JOIN {} c ON c.entity_id = w.customer_id",
                source.name("wishlist_item"),
                source.name("wishlist"),
                source.name("customer_entity"),
            ),
            carried: "c.website_id IS NOT NULL".into(),
            values: "w.customer_id, i.product_id, i.added_at".into(),
            order: "i.wishlist_item_id",
            reason: "IF(w.wishlist_id IS NULL, 'wishlist', 'customer')",
            reasons: &[("wishlist", "no such wishlist"), CUSTOMER_NOT_CARRIED],
            counted_elsewhere: None,
            check: None,
        };
        copy_table(source, &mut file, report, plan, Some((1, products))).await?;
    }
    file.finish()
}

async fn import_views(
    source: &mut Source<'_>,
    dir: &Path,
    report: &mut ImportReport,
    products: &mut Referenced,
    keys: &KnownKeys,
) -> Result<usize, MagentoError> {
    let mut file = TableFile::create(dir, "product_views", &PRODUCT_VIEWS)?;
    if source.has("report_viewed_product_index") {
        // The store (its website in place of its id) and the customer on the client.
        let check = client_check(|values, by_sql| {
            by_sql.or_else(|| match keys.website_of_store(&values[3]) {
                None => Some("store"),
                Some(website) => {
                    values[3] = website.clone();
                    (!keys.customer_carried_or_none(&values[0])).then_some(CUSTOMER_NOT_CARRIED.0)
                }
            })
        });
        let plan = Plan {
            table: "report_viewed_product_index",
            key: "v.index_id",
            from: format!("FROM {} v", source.name("report_viewed_product_index")),
            carried: "v.customer_id IS NOT NULL OR v.visitor_id IS NOT NULL".into(),
            // A customer's view is the customer's: the visitor id it was made as is dropped.
            values: "v.customer_id, IF(v.customer_id IS NULL, v.visitor_id, NULL), v.product_id, \
                     v.store_id, v.added_at"
                .into(),
            order: "v.index_id",
            reason: "'subject'",
            reasons: &[
                ("subject", "neither customer_id nor visitor_id"),
                ("store", "no store (store_id null or not a store)"),
                CUSTOMER_NOT_CARRIED,
            ],
            counted_elsewhere: None,
            check: Some(check),
        };
        copy_table(source, &mut file, report, plan, Some((2, products))).await?;
    }
    file.finish()
}
