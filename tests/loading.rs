//! Generate -> load round trips, checked against DataFusion SQL over the same files (an
//! independent reader), and the grouped layout the engine relies on.

use std::path::Path;

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use segmint::data::generate::OutputFormat;
use segmint::data::value::format_decimal;
use segmint::model::TableName;
use segmint::store::{Dataset, NONE, Relation};

use crate::common::{generated, load};

async fn sql_context(dir: &Path) -> SessionContext {
    let ctx = SessionContext::new();
    for table in TableName::ALL {
        let path = dir.join(format!("{}.parquet", table.file_stem()));
        ctx.register_parquet(
            table.file_stem(),
            path.to_str().unwrap(),
            ParquetReadOptions::default(),
        )
        .await
        .unwrap();
    }
    ctx
}

/// The single value of a one-row, one-column query, as text.
async fn sql_value(ctx: &SessionContext, sql: &str) -> String {
    let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
    let column = cast(batches[0].column(0), &DataType::Utf8).unwrap();
    column.as_string::<i32>().value(0).to_string()
}

fn sum_units(relation: &Relation, column: &str) -> i64 {
    relation.table.ints(column).unwrap().iter().flatten().sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_data_loads_with_every_row_and_every_parent() {
    let dir = generated(3_000, 11, OutputFormat::Parquet);
    let dataset = load(dir.path());
    let ctx = sql_context(dir.path()).await;

    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("dataset.json")).unwrap())
            .unwrap();
    for (table, rows) in dataset.row_counts() {
        assert_eq!(
            meta["rows"][table.file_stem()].as_u64(),
            Some(rows as u64),
            "{table} rows in dataset.json"
        );
        let counted = sql_value(&ctx, &format!("SELECT count(*) FROM {}", table.file_stem())).await;
        assert_eq!(counted, rows.to_string(), "{table} rows");
    }
    assert_eq!(meta["reference_time"], "2026-11-01T00:00:00Z");

    let orphans = [
        "SELECT count(*) FROM addresses WHERE customer_id NOT IN (SELECT customer_id FROM customers)",
        "SELECT count(*) FROM orders WHERE customer_id IS NOT NULL AND customer_id NOT IN (SELECT customer_id FROM customers)",
        "SELECT count(*) FROM order_items WHERE order_id NOT IN (SELECT order_id FROM orders)",
        "SELECT count(*) FROM order_items WHERE product_id NOT IN (SELECT product_id FROM products)",
        "SELECT count(*) FROM order_addresses WHERE order_id NOT IN (SELECT order_id FROM orders)",
        "SELECT count(*) FROM carts WHERE customer_id IS NOT NULL AND customer_id NOT IN (SELECT customer_id FROM customers)",
        "SELECT count(*) FROM cart_items WHERE cart_id NOT IN (SELECT cart_id FROM carts)",
        "SELECT count(*) FROM wishlist_items WHERE product_id NOT IN (SELECT product_id FROM products)",
        "SELECT count(*) FROM product_views WHERE product_id NOT IN (SELECT product_id FROM products)",
        "SELECT count(*) FROM carts WHERE (customer_id IS NULL) = (visitor_id IS NULL)",
        "SELECT count(*) FROM product_views WHERE (customer_id IS NULL) = (visitor_id IS NULL)",
        "SELECT count(*) FROM (SELECT customer_id, visitor_id, website_id FROM carts WHERE is_active \
         GROUP BY customer_id, visitor_id, website_id HAVING count(*) > 1)",
    ];
    for sql in orphans {
        assert_eq!(sql_value(&ctx, sql).await, "0", "{sql}");
    }

    // Decimals are exact: sums of the loaded units equal DataFusion's decimal sums.
    for (relation, table, column) in [
        (&dataset.orders, "orders", "grand_total"),
        (&dataset.orders, "orders", "discount_amount"),
        (&dataset.order_items, "order_items", "row_total"),
        (&dataset.carts, "carts", "gift_card_used"),
    ] {
        let expected = sql_value(&ctx, &format!("SELECT sum({column}) FROM {table}")).await;
        assert_eq!(
            format_decimal(sum_units(relation, column)),
            expected,
            "{table}.{column}"
        );
    }
    let visitors = sql_value(
        &ctx,
        "SELECT count(DISTINCT visitor_id) FROM (SELECT visitor_id FROM carts UNION ALL SELECT visitor_id FROM product_views)",
    )
    .await;
    assert_eq!(dataset.visitor_count().to_string(), visitors);
    assert_layout(&dataset);
    assert_links_match_the_files(&ctx, &dataset).await;
}

/// Link columns (stored as row links, not values) come back as the file had them: a
/// checksum over each row's pair of ids, computed by SQL from the file and from the store.
async fn assert_links_match_the_files(ctx: &SessionContext, dataset: &Dataset) {
    let pairs = [
        (TableName::Addresses, "address_id", "customer_id"),
        (TableName::Orders, "order_id", "customer_id"),
        (TableName::OrderItems, "order_id", "product_id"),
        (TableName::OrderAddresses, "order_id", "order_id"),
        (TableName::Carts, "cart_id", "customer_id"),
        (TableName::Carts, "cart_id", "visitor_id"),
        (TableName::CartItems, "cart_id", "product_id"),
        (TableName::WishlistItems, "customer_id", "product_id"),
        (TableName::ProductViews, "customer_id", "product_id"),
        (TableName::ProductViews, "visitor_id", "product_id"),
    ];
    for (table, a, b) in pairs {
        let sql = format!(
            "SELECT sum(coalesce({a}, 0) * 1000003 + coalesce({b}, 0)), count({a}) AS a, count({b}) AS b FROM {}",
            table.file_stem()
        );
        let batches = ctx.sql(&sql).await.unwrap().collect().await.unwrap();
        let expected: Vec<String> = (0..3)
            .map(|k| {
                let column = cast(batches[0].column(k), &DataType::Utf8).unwrap();
                column.as_string::<i32>().value(0).to_string()
            })
            .collect();
        let full = dataset.full_table(dataset.relation(table).unwrap());
        let (x, y) = (
            full.ints(a).unwrap().to_int64(),
            full.ints(b).unwrap().to_int64(),
        );
        let checksum: i64 = (0..full.rows)
            .map(|r| x.get_or_zero(r) * 1_000_003 + y.get_or_zero(r))
            .sum();
        let actual = vec![
            checksum.to_string(),
            (x.len() - x.null_count()).to_string(),
            (y.len() - y.null_count()).to_string(),
        ];
        assert_eq!(actual, expected, "{table}: {a}, {b}");
    }
}

trait ZeroForNull {
    fn get_or_zero(&self, row: usize) -> i64;
}

impl ZeroForNull for datafusion::arrow::array::Int64Array {
    fn get_or_zero(&self, row: usize) -> i64 {
        if self.is_valid(row) {
            self.value(row)
        } else {
            0
        }
    }
}

/// Each owner's rows are contiguous, guests come last, visitors after customers, and every
/// row's owner and product links point at rows with the ids the file gave.
fn assert_layout(dataset: &Dataset) {
    let customer_ids = dataset.customer_ids();
    assert!(
        customer_ids
            .to_int64()
            .values()
            .windows(2)
            .all(|w| w[0] < w[1]),
        "customers sorted by id"
    );
    assert!(
        dataset.visitor_ids.windows(2).all(|w| w[0] < w[1]),
        "visitors sorted by id"
    );
    for (table, relation) in dataset.relations() {
        let groups = [Some(&relation.groups), relation.visitor_groups.as_ref()];
        for groups in groups.into_iter().flatten() {
            assert!(
                groups.offsets().windows(2).all(|w| w[0] <= w[1]),
                "{table} offsets ascend"
            );
            for owner in 0..groups.owners() {
                assert!(
                    groups
                        .rows_of(owner)
                        .all(|row| groups.owner_of(row) as usize == owner),
                    "{table}"
                );
            }
            let owned = groups.owned_rows();
            assert!(
                (0..relation.rows())
                    .filter(|r| !owned.contains(r))
                    .all(|r| groups.owner_of(r) == NONE),
                "{table}"
            );
        }
        if let Some(visitors) = &relation.visitor_groups {
            assert_eq!(
                relation.groups.owned_rows().end,
                visitors.owned_rows().start,
                "{table}: visitors after customers"
            );
            assert_eq!(
                visitors.owned_rows().end,
                relation.rows(),
                "{table}: every row has a subject"
            );
        }
    }
    assert_eq!(dataset.orders.groups.owners(), dataset.customer_count());
    assert_eq!(dataset.order_items.groups.owners(), dataset.orders.rows());
    assert_eq!(dataset.cart_items.groups.owners(), dataset.carts.rows());
    let guests = dataset.orders.groups.owned_rows().end..dataset.orders.rows();
    assert!(!guests.is_empty(), "the generator makes guest orders");
}

/// Dictionary-encoded strings compared by value (their dictionaries may differ in order).
fn plain(array: &ArrayRef) -> ArrayRef {
    match array.data_type() {
        DataType::Dictionary(_, _) => cast(array, &DataType::Utf8).unwrap(),
        _ => array.clone(),
    }
}

#[test]
fn csv_and_parquet_of_the_same_data_load_to_identical_columns() {
    let parquet = load(generated(1_500, 7, OutputFormat::Parquet).path());
    let csv = load(generated(1_500, 7, OutputFormat::Csv).path());
    let tables = |d: &Dataset| {
        let mut tables = vec![d.customers.clone(), d.products.clone()];
        tables.extend(d.relations().iter().map(|(_, r)| d.full_table(r)));
        tables
    };
    for (p, c) in tables(&parquet).iter().zip(tables(&csv)) {
        assert_eq!(p.rows, c.rows, "{} rows", p.name);
        assert!(p.rows > 0, "{} has rows", p.name);
        let shape = |t: &segmint::store::Table| {
            t.columns
                .iter()
                .map(|c| (c.name.clone(), c.ty, c.custom))
                .collect::<Vec<_>>()
        };
        assert_eq!(shape(p), shape(&c), "{} columns", p.name);
        for (pc, cc) in p.columns.iter().zip(&c.columns) {
            assert_eq!(
                plain(&pc.array).as_ref(),
                plain(&cc.array).as_ref(),
                "{}.{}",
                p.name,
                pc.name
            );
        }
    }
    assert_eq!(parquet.visitor_ids, csv.visitor_ids);
    let grand_total = csv.orders.table.ints("grand_total").unwrap();
    assert!(
        grand_total
            .iter()
            .flatten()
            .any(|units| units % 10_000 != 0),
        "cents survive CSV"
    );
}

/// Ids that fit four bytes are kept in four, others in eight; either way every id reads
/// back as it was, from the column and from the links that replace id columns.
#[test]
fn ids_are_kept_as_narrow_as_they_fit() {
    let t = "2026-01-01T00:00:00Z";
    let big = 5_000_000_000i64;
    let dir = crate::common::csv_dataset(&[
        (
            "customers.csv",
            &format!("customer_id,website_id\n{big},1\n7,1\n"),
        ),
        ("products.csv", "product_id\n8\n"),
        (
            "orders.csv",
            &format!(
                "order_id,customer_id,website_id,created_at,status,grand_total\n{},{big},1,{t},complete,1\n3,7,1,{t},complete,2\n",
                big + 1
            ),
        ),
        (
            "carts.csv",
            &format!("cart_id,customer_id,website_id\n4,{big},1\n"),
        ),
        (
            "order_items.csv",
            &format!("order_id,product_id\n{},8\n3,8\n", big + 1),
        ),
    ]);
    let d = load(dir.path());
    let types: Vec<String> = [
        d.customers.column("customer_id"),
        d.orders.table.column("order_id"),
        d.carts.table.column("cart_id"),
    ]
    .iter()
    .map(|c| format!("{:?}", c.unwrap().array.data_type()))
    .collect();
    assert_eq!(types, ["Int64", "Int64", "Int32"]);
    assert_eq!(d.customer_ids().to_int64().values().to_vec(), vec![7, big]);
    let items = d.full_table(&d.order_items);
    let mut item_orders: Vec<i64> = items.ints("order_id").unwrap().iter().flatten().collect();
    item_orders.sort();
    assert_eq!(item_orders, vec![3, big + 1]);
    let carts = d.full_table(&d.carts);
    assert_eq!(carts.ints("customer_id").unwrap().get(0), Some(big));
    assert_eq!(
        d.order_index
            .get(big + 1)
            .map(|row| d.orders.groups.owner_of(row as usize)),
        Some(1)
    );
}

#[test]
fn rows_in_any_order_are_grouped_by_owner_and_keep_their_links() {
    let t = "2026-01-01T00:00:00Z";
    let orders = format!(
        "order_id,customer_id,website_id,created_at,status,grand_total\n\
         10,2,1,{t},complete,1.5\n11,,1,{t},complete,2\n12,1,1,{t},pending,3\n13,2,1,{t},complete,4\n"
    );
    let views = format!(
        "customer_id,visitor_id,product_id,website_id,viewed_at\n,5,7,1,{t}\n2,,8,1,{t}\n,3,8,1,{t}\n1,,7,1,{t}\n"
    );
    let dir = crate::common::csv_dataset(&[
        ("customers.csv", "customer_id,website_id\n2,1\n1,1\n"),
        ("products.csv", "product_id\n8\n7\n"),
        ("orders.csv", &orders),
        (
            "order_items.csv",
            "order_id,product_id,row_total\n13,7,4\n11,8,2\n10,7,1.5\n12,8,3\n13,8,0\n",
        ),
        ("product_views.csv", &views),
    ]);
    let d = load(dir.path());
    assert_eq!(d.customer_ids().to_int64().values().to_vec(), vec![1, 2]);

    let ids_of = |relation: &Relation, rows: std::ops::Range<usize>, column: &str| -> Vec<i64> {
        let full = d.full_table(relation);
        let values = full.ints(column).unwrap();
        rows.map(|r| values.value(r)).collect()
    };
    let orders = &d.orders;
    assert_eq!(
        ids_of(orders, orders.groups.rows_of(0), "order_id"),
        vec![12]
    );
    assert_eq!(
        ids_of(orders, orders.groups.rows_of(1), "order_id"),
        vec![10, 13]
    );
    let guests = orders.groups.owned_rows().end..orders.rows();
    assert_eq!(ids_of(orders, guests, "order_id"), vec![11]);
    let grand_total = orders.table.ints("grand_total").unwrap();
    assert_eq!(
        (0..4).map(|r| grand_total.value(r)).collect::<Vec<_>>(),
        vec![30_000, 15_000, 40_000, 20_000]
    );

    // The items of order 13 (order row 2) in file order, with their own values.
    let items = &d.order_items;
    assert_eq!(
        ids_of(items, items.groups.rows_of(2), "product_id"),
        vec![7, 8]
    );
    let totals = items.table.ints("row_total").unwrap();
    assert_eq!(
        items
            .groups
            .rows_of(2)
            .map(|r| totals.value(r))
            .collect::<Vec<_>>(),
        vec![40_000, 0]
    );
    assert_eq!(
        ids_of(items, 0..items.rows(), "order_id"),
        vec![12, 10, 13, 13, 11]
    );

    // Views: customers 1 and 2 first, then visitors 3 and 5.
    let views = &d.product_views;
    assert_eq!(d.visitor_ids, vec![3, 5]);
    assert_eq!(
        ids_of(views, 0..views.rows(), "product_id"),
        vec![7, 8, 8, 7]
    );
    let visitors = views.visitor_groups.as_ref().unwrap();
    assert_eq!(ids_of(views, visitors.rows_of(1), "visitor_id"), vec![5]);
    assert_eq!(
        d.products
            .ints("product_id")
            .unwrap()
            .to_int64()
            .values()
            .to_vec(),
        vec![7, 8]
    );
}

/// A row's owner from the store's marks: owners with and without rows, at the edges of
/// the marks' 64-row blocks, and rows of no owner before and after them.
#[test]
fn every_row_finds_its_owner() {
    let shapes: [&[u32]; 5] = [
        &[0, 1, 2, 3],
        &[5, 5, 70, 70, 70, 200, 201],
        &[0, 64, 128, 129, 1000],
        &[3, 3, 3],
        &[],
    ];
    for offsets in shapes {
        let groups = segmint::store::Groups::new(offsets.to_vec());
        let end = offsets.last().copied().unwrap_or(0) as usize + 70;
        for row in 0..end {
            let expected = (0..groups.owners())
                .find(|&o| groups.rows_of(o).contains(&row))
                .map_or(NONE, |o| o as u32);
            assert_eq!(groups.owner_of(row), expected, "row {row} of {offsets:?}");
        }
    }
}
