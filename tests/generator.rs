//! The generator: deterministic for (customers, seed), with the shapes of benchmark.md.

use std::collections::BTreeMap;
use std::path::Path;

use datafusion::arrow::array::{Array, AsArray};
use segmint::data::generate::OutputFormat;

use crate::common::{generated, load};

fn file_bytes(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect()
}

#[test]
fn the_same_customers_and_seed_give_the_same_files() {
    for format in [OutputFormat::Parquet, OutputFormat::Csv] {
        let a = file_bytes(generated(40_000, 3, format).path());
        let b = file_bytes(generated(40_000, 3, format).path());
        assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
        assert_eq!(a.len(), 11, "ten tables and dataset.json");
        for (name, bytes) in &a {
            assert!(bytes == &b[name], "{name} differs between two runs");
        }
    }
}

#[test]
fn another_seed_gives_other_data() {
    let a = file_bytes(generated(2_000, 3, OutputFormat::Csv).path());
    let b = file_bytes(generated(2_000, 4, OutputFormat::Csv).path());
    for table in ["customers.csv", "orders.csv", "product_views.csv"] {
        assert!(
            a[table] != b[table],
            "{table} is the same for seeds 3 and 4"
        );
    }
}

#[test]
fn generated_data_has_the_benchmark_shapes() {
    let dir = generated(4_000, 5, OutputFormat::Parquet);
    let d = load(dir.path());
    let n = d.customer_count() as f64;
    let per_customer = |rows: usize| rows as f64 / n;
    assert_eq!(d.customer_count(), 4_000);
    assert_eq!(d.visitor_count(), 2_000, "every visitor has a view");
    assert!(
        (1.2..1.6).contains(&per_customer(d.addresses.rows())),
        "addresses {}",
        per_customer(d.addresses.rows())
    );
    let customer_orders = d.orders.groups.owned_rows().len();
    assert!(
        (7.0..13.0).contains(&per_customer(customer_orders)),
        "orders {}",
        per_customer(customer_orders)
    );
    let items_per_order = d.order_items.rows() as f64 / d.orders.rows() as f64;
    assert!(
        (2.5..3.5).contains(&items_per_order),
        "items per order {items_per_order}"
    );
    assert!((15.0..25.0).contains(&per_customer(d.product_views.groups.owned_rows().len())));
    assert!((1.5..2.5).contains(&per_customer(d.wishlist_items.rows())));
    assert_eq!(d.products.rows, 2_000);

    // Heavy tail: many customers with 0-2 orders, a few with a hundred or more.
    let counts: Vec<usize> = (0..d.customer_count())
        .map(|c| d.orders.groups.rows_of(c).len())
        .collect();
    let few = counts.iter().filter(|&&k| k <= 2).count() as f64 / n;
    assert!((0.35..0.65).contains(&few), "share with 0-2 orders {few}");
    assert!(counts.iter().any(|&k| k >= 100), "someone has 100+ orders");

    // 2 websites (80/20), 3 groups, statuses mostly complete, ~30% of customers with an active cart.
    let websites = d.customers.ints("website_id").unwrap();
    let on_first = websites.iter().filter(|&w| w == Some(1)).count() as f64 / n;
    assert!(
        (0.75..0.85).contains(&on_first),
        "website 1 share {on_first}"
    );
    let status = &d.orders.table.column("status").unwrap().array;
    let status = segmint::segment::rows::ColumnReader::of_text(status.as_ref());
    let complete = (0..d.orders.rows())
        .filter(|&row| status.text(row) == Some("complete"))
        .count();
    assert!(complete as f64 / d.orders.rows() as f64 > 0.6);
    let active = d
        .carts
        .table
        .column("is_active")
        .unwrap()
        .array
        .as_boolean()
        .clone();
    let active_customers = d
        .carts
        .groups
        .owned_rows()
        .filter(|&r| active.value(r))
        .count() as f64
        / n;
    assert!(
        (0.25..0.35).contains(&active_customers),
        "active carts {active_customers}"
    );
    assert!(d.customers.column("loyalty_tier").is_some_and(|c| c.custom));
    assert!(
        d.products.column("brand").is_some_and(|c| c.custom)
            && d.products.column("color").is_some()
    );
    assert!(
        d.orders
            .table
            .column("grand_total")
            .unwrap()
            .array
            .null_count()
            == 0
    );
}
