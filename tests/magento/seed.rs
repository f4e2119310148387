//! `segmint magento seed` against a real MariaDB: a dataset written as Magento's tables
//! and imported back is the same dataset, but for what Magento's tables keep otherwise
//! (inactive carts, guests' carts, one view per subject and product), each said in a note.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use proptest::prelude::*;
use segmint::data::generate::{GenerateOptions, OutputFormat, generate};
use segmint::data::{LoadOptions, load_dataset};
use segmint::model::TableName;

use super::import::import;
use super::mariadb::{Database, empty_database, magento_database, segmint};

/// A table's column names and its rows, each value as text.
type Rows = (Vec<String>, Vec<Vec<String>>);

/// How a null prints (an empty string prints empty).
const NULL: &str = "∅";

/// Every table of the dataset in `dir` as segmint loads it.
fn loaded(dir: &Path) -> BTreeMap<TableName, Rows> {
    let (dataset, _) = load_dataset(dir, &LoadOptions::default()).expect("the dataset loads");
    TableName::ALL
        .into_iter()
        .map(|name| {
            let batch = segmint::events::table_as_read(&dataset, name).unwrap();
            let columns = batch
                .schema()
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .collect();
            let options = FormatOptions::default().with_null(NULL);
            let formatters: Vec<ArrayFormatter> = batch
                .columns()
                .iter()
                .map(|c| ArrayFormatter::try_new(c.as_ref(), &options).unwrap())
                .collect();
            let rows = (0..batch.num_rows())
                .map(|row| {
                    formatters
                        .iter()
                        .map(|f| f.value(row).to_string())
                        .collect()
                })
                .collect();
            (name, (columns, rows))
        })
        .collect()
}

/// The Arrow type of every column of every table of the dataset in `dir`, as loaded.
fn types(dir: &Path) -> BTreeMap<(TableName, String), String> {
    let (dataset, _) = load_dataset(dir, &LoadOptions::default()).expect("the dataset loads");
    let mut types = BTreeMap::new();
    for name in TableName::ALL {
        let batch = segmint::events::table_as_read(&dataset, name).unwrap();
        for field in batch.schema().fields() {
            types.insert((name, field.name().clone()), field.data_type().to_string());
        }
    }
    types
}

fn position(columns: &[String], name: &str) -> usize {
    columns
        .iter()
        .position(|c| c == name)
        .unwrap_or_else(|| panic!("no column {name} in {columns:?}"))
}

/// `rows` in the columns `wanted` (of `columns`), sorted.
fn project(columns: &[String], rows: &[Vec<String>], wanted: &[String]) -> Vec<Vec<String>> {
    let at: Vec<usize> = wanted.iter().map(|w| position(columns, w)).collect();
    let mut projected: Vec<Vec<String>> = rows
        .iter()
        .map(|row| at.iter().map(|&i| row[i].clone()).collect())
        .collect();
    projected.sort();
    projected
}

/// What the import gives back for a seeded dataset, and the notes seed prints for it:
/// inactive carts and their items not carried, a guest's cart its own visitor
/// (1,000,000,000,000 + cart id), only the last view of a product by a subject.
fn as_magento_keeps_it(
    mut tables: BTreeMap<TableName, Rows>,
) -> (BTreeMap<TableName, Rows>, Vec<String>) {
    let mut notes = Vec::new();
    let (columns, carts) = tables.get_mut(&TableName::Carts).unwrap();
    let [id, customer, visitor, active] =
        ["cart_id", "customer_id", "visitor_id", "is_active"].map(|c| position(columns, c));
    let guests = carts.iter().filter(|cart| cart[customer] == NULL).count();
    if guests > 0 {
        notes.push(format!("note: carts: {guests} guest carts written without their visitor_id (Magento's quote has none: the import reads each as visitor 1000000000000 + cart_id)"));
    }
    let inactive: BTreeSet<String> = carts
        .iter()
        .filter(|cart| cart[active] == "false")
        .map(|cart| cart[id].clone())
        .collect();
    carts.retain(|cart| cart[active] != "false");
    for cart in carts.iter_mut() {
        if cart[customer] == NULL {
            cart[visitor] = (1_000_000_000_000 + cart[id].parse::<i64>().unwrap()).to_string();
        }
    }
    let (columns, items) = tables.get_mut(&TableName::CartItems).unwrap();
    let cart = position(columns, "cart_id");
    items.retain(|item| !inactive.contains(&item[cart]));
    let (columns, views) = tables.get_mut(&TableName::ProductViews).unwrap();
    let [customer, visitor, product, viewed] =
        ["customer_id", "visitor_id", "product_id", "viewed_at"].map(|c| position(columns, c));
    let mut last: BTreeMap<[String; 3], Vec<String>> = BTreeMap::new();
    for view in views.iter() {
        let key = [&view[customer], &view[visitor], &view[product]].map(String::clone);
        if last
            .get(&key)
            .is_none_or(|kept| kept[viewed] < view[viewed])
        {
            last.insert(key, view.clone());
        }
    }
    let earlier = views.len() - last.len();
    if earlier > 0 {
        notes.push(format!("note: product_views: {earlier} earlier views of a product by the same subject not written (Magento's index keeps the last)"));
    }
    *views = last.into_values().collect();
    (tables, notes)
}

/// Seeds `database` from `dir`: the notes printed.
fn seed(database: &Database, dir: &Path) -> Vec<String> {
    let (ok, stdout, stderr) = segmint(
        &[
            "magento",
            "seed",
            "--to",
            &database.tcp_url(),
            "--from",
            dir.to_str().unwrap(),
        ],
        &[],
    );
    assert!(ok, "{stderr}");
    assert!(stderr.contains("seeded "), "a summary line: {stderr}");
    stdout.lines().map(str::to_string).collect()
}

/// Seeds `database` from `dir`, imports it back and asserts the notes printed and the
/// tables imported are `expected`: every column of the dataset equal, the import's own
/// extra columns (`region_id`, `is_child`) null or false.
/// `segments` is SQL run between the seed and the import; the directory holding the
/// import's output (`back`) is returned.
fn assert_round_trip(
    database: &Database,
    dir: &Path,
    expected: &BTreeMap<TableName, Rows>,
    mut expected_notes: Vec<String>,
    segments: &str,
) -> tempfile::TempDir {
    let mut notes = seed(database, dir);
    if !segments.is_empty() {
        database.sql(segments);
    }
    let out = tempfile::tempdir().unwrap();
    let back_dir = out.path().join("back");
    let report = import(&database.tcp_url(), &back_dir);
    assert_eq!(report["not_carried"], serde_json::json!([]), "{report}");
    expected_notes.sort();
    notes.sort();
    assert_eq!(notes, expected_notes);
    let back = loaded(&back_dir);
    let (types_before, types_after) = (types(dir), types(&back_dir));
    for (name, (columns, rows)) in expected {
        for column in columns {
            let key = (*name, column.clone());
            assert_eq!(types_after[&key], types_before[&key], "{name:?}.{column}");
        }
        let (back_columns, back_rows) = &back[name];
        assert_eq!(
            project(back_columns, back_rows, columns),
            project(columns, rows, columns),
            "{name:?}"
        );
        for extra in back_columns.iter().filter(|c| !columns.contains(c)) {
            let at = position(back_columns, extra);
            assert!(
                back_rows
                    .iter()
                    .all(|row| row[at] == NULL || row[at] == "false"),
                "{name:?}.{extra}: only the import's own, null or false"
            );
        }
    }
    out
}

/// Sets `column` of the row of `table` whose `key` column is `id`.
fn set(
    tables: &mut BTreeMap<TableName, Rows>,
    table: TableName,
    (key, id): (&str, &str),
    column: &str,
    value: &str,
) {
    let (columns, rows) = tables.get_mut(&table).unwrap();
    let (key, column) = (position(columns, key), position(columns, column));
    let row = rows.iter_mut().find(|row| row[key] == id).expect("the row");
    row[column] = value.to_string();
}

/// The suite's segments that Magento can express, as Magento's admin stores them.
const SUITE_SEGMENTS: &str = include_str!("../../benches/magento/suite_segments.sql");

/// The member count of each segment file over the dataset in `data` at `as_of`, in the
/// order of the files.
fn counts(data: &Path, as_of: &str, files: &[PathBuf]) -> Vec<String> {
    let mut args = vec!["eval", "--data", data.to_str().unwrap(), "--as-of", as_of];
    args.extend(files.iter().map(|f| f.to_str().unwrap()));
    let (ok, stdout, stderr) = segmint(&args, &[]);
    assert!(ok, "{stderr}");
    stdout
        .lines()
        .map(|line| line.rsplit('\t').next().unwrap().to_string())
        .collect()
}

static CASES: AtomicUsize = AtomicUsize::new(0);

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4))]

    /// Generated datasets of any seed, size, reference time and file format.
    #[test]
    fn a_generated_dataset_seeded_and_imported_back_is_the_same_dataset(
        seed_value in any::<u64>(),
        customers in 20u64..250,
        days in 0i64..3000,
        csv in any::<bool>(),
    ) {
        let name = format!("seed_round_trip_{}", CASES.fetch_add(1, Ordering::Relaxed));
        let Some(database) = empty_database(&name) else { return Ok(()) };
        let dir = tempfile::tempdir().unwrap();
        let reference = 1_514_764_800 + days * 86_400;
        generate(&GenerateOptions {
            customers,
            seed: seed_value,
            format: if csv { OutputFormat::Csv } else { OutputFormat::Parquet },
            out: dir.path().to_path_buf(),
            progress: false,
            // From 2018 to 2026: every generated instant stays within Magento's timestamps.
            reference_time: Some(reference * 1_000_000),
            overwrite: false,
        })
        .unwrap();
        let (expected, notes) = as_magento_keeps_it(loaded(dir.path()));
        let back = assert_round_trip(&database, dir.path(), &expected, notes, SUITE_SEGMENTS);
        // The suite's segments Magento can express, stored in Magento, imported and
        // evaluated over the imported data, have the members of the suite's own
        // definitions over the generated data.
        let as_of = chrono::DateTime::from_timestamp(reference, 0)
            .unwrap()
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string();
        let back = back.path().join("back");
        let imported: Vec<PathBuf> = std::fs::read_dir(back.join("segments"))
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .collect();
        prop_assert_eq!(imported.len(), 9);
        let suite: Vec<PathBuf> = imported
            .iter()
            .map(|file| {
                let text = std::fs::read_to_string(file).unwrap();
                let definition: serde_json::Value = serde_json::from_str(&text).unwrap();
                let name = definition["name"].as_str().unwrap();
                Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("benches/segments/{name}.json"))
            })
            .collect();
        prop_assert_eq!(counts(&back, &as_of, &imported), counts(dir.path(), &as_of, &suite));
    }
}

/// A dataset with what the generator never writes: custom attributes of every type, an
/// address's `region_id`, nulls where Magento requires a value, two default addresses.
const EDGES: [(&str, &str); 6] = [
    (
        "customers.csv",
        "customer_id,website_id,group_id,email,gender,created_at,newsletter_subscribed,store_credit,vip,born,limit,seen,nickname,visits\n\
         1,1,2,a@example.com,female,2025-01-02 03:04:05,true,12.5,true,1990-05-17,100.25,2026-01-01T10:00:00Z,Ann,7\n\
         2,3,1,b@example.com,non_binary,2025-02-03 04:05:06,false,,false,,,,,\n",
    ),
    (
        "addresses.csv",
        "address_id,customer_id,is_default_billing,is_default_shipping,street,city,country_id,telephone,firstname,lastname,region_id,floor\n\
         10,1,true,true,1 Main St,Austin,US,555,Ann,Lee,57,3rd\n\
         11,1,true,false,2 Side St,Austin,US,556,Ann,Lee,,\n\
         12,2,false,false,,Paris,FR,01,Bo,B,,\n",
    ),
    (
        "products.csv",
        "product_id,sku,name,attribute_set,price,category_ids,weight,launched\n\
         100,SKU-1,Runner,Shoes,89.99,5|3,1.2500,2024-03-01\n\
         101,,Bare,,,,,\n",
    ),
    (
        "orders.csv",
        "order_id,customer_id,website_id,created_at,status,grand_total,discount_amount\n\
         1000,1,1,2026-10-01 10:00:00,complete,110.5,2.5\n\
         1001,,3,2026-10-02 11:30:00,pending,20,\n",
    ),
    (
        "order_items.csv",
        "order_id,product_id,qty_ordered,price,row_total\n1000,100,2,45,90\n1001,101,1,,\n",
    ),
    (
        "carts.csv",
        "cart_id,customer_id,visitor_id,website_id,created_at,updated_at,tax_amount,shipping_amount\n\
         7,1,,1,2026-10-03 00:00:00,2026-10-04 00:00:00,3.5,\n",
    ),
];

#[test]
fn what_the_generator_never_writes_seeded_and_imported_back() {
    let Some(database) = empty_database("seed_edges") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    for (file, text) in EDGES {
        std::fs::write(dir.path().join(file), text).unwrap();
    }
    // What Magento's tables hold otherwise, each in a note.
    let (mut expected, mut notes) = as_magento_keeps_it(loaded(dir.path()));
    set(
        &mut expected,
        TableName::Addresses,
        ("address_id", "11"),
        "is_default_billing",
        "false",
    );
    set(
        &mut expected,
        TableName::Addresses,
        ("address_id", "12"),
        "street",
        "",
    );
    set(
        &mut expected,
        TableName::Products,
        ("product_id", "101"),
        "sku",
        "",
    );
    // Category links are a set in Magento, read back ascending.
    set(
        &mut expected,
        TableName::Products,
        ("product_id", "100"),
        "category_ids",
        "[3, 5]",
    );
    set(
        &mut expected,
        TableName::Products,
        ("product_id", "101"),
        "category_ids",
        "[]",
    );
    set(
        &mut expected,
        TableName::OrderItems,
        ("order_id", "1001"),
        "price",
        "0.0000",
    );
    set(
        &mut expected,
        TableName::OrderItems,
        ("order_id", "1001"),
        "row_total",
        "0.0000",
    );
    set(
        &mut expected,
        TableName::Carts,
        ("cart_id", "7"),
        "shipping_amount",
        "0.0000",
    );
    notes.extend(
        [
            "addresses: 1 more default billing or shipping flags than one per customer not kept (Magento keeps one of each)",
            "addresses: 1 null names, streets, cities, telephones or countries written as '' (Magento requires them)",
            "products: 1 without a sku written with sku '' (Magento requires one)",
            "order_items: 2 null prices or row totals written as 0 (Magento requires them)",
            "carts: 1 null tax or shipping amounts beside a non-null one written as 0 (Magento's quote address requires both)",
        ]
        .map(|note| format!("note: {note}")),
    );
    assert_round_trip(&database, dir.path(), &expected, notes, "");
}

/// Seeds `database` from `dir`, which must fail: what it printed.
fn seed_failure(database: &Database, dir: &Path) -> String {
    let url = database.tcp_url();
    let args = [
        "magento",
        "seed",
        "--to",
        &url,
        "--from",
        dir.to_str().unwrap(),
    ];
    let (ok, _, stderr) = segmint(&args, &[]);
    assert!(!ok, "{stderr}");
    stderr
}

#[test]
fn seed_refuses_a_database_with_magento_s_tables_and_undoes_a_failed_seed() {
    let Some(shop) = magento_database("seed_refused") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("customers.csv"),
        "customer_id,website_id\n1,1\n",
    )
    .unwrap();
    let stderr = seed_failure(&shop, dir.path());
    assert!(
        stderr.contains("store_website: already exists: seed writes a whole store into a database without Magento's tables"),
        "{stderr}"
    );
    assert_eq!(shop.query("SELECT COUNT(*) FROM store_website"), ["0"]);

    // A view Magento's timestamp cannot hold, found after the customers were written.
    let Some(empty) = empty_database("seed_undone") else {
        return;
    };
    std::fs::write(dir.path().join("products.csv"), "product_id\n5\n6\n").unwrap();
    std::fs::write(
        dir.path().join("product_views.csv"),
        "customer_id,product_id,website_id,viewed_at\n1,5,1,2026-01-01 00:00:00\n1,6,1,2040-01-01 00:00:00\n",
    )
    .unwrap();
    let stderr = seed_failure(&empty, dir.path());
    assert!(
        stderr.contains("product_views (customer_id 1, product_id 6), viewed_at: 2040-01-01T00:00:00Z is outside 1970-01-01T00:00:01Z to 2038-01-19T03:14:07Z, the instants Magento's timestamp columns hold; the tables seed created were dropped: the database is as it was"),
        "{stderr}"
    );
    assert_eq!(empty.query("SHOW TABLES"), Vec::<String>::new());

    // A value the server would change (a country in `varchar(2)`) is not written changed.
    std::fs::remove_file(dir.path().join("product_views.csv")).unwrap();
    std::fs::write(
        dir.path().join("orders.csv"),
        "order_id,customer_id,website_id,created_at,status\n9,1,1,2026-01-01 00:00:00,complete\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("order_addresses.csv"),
        "order_id,address_type,country_id\n9,billing,Germany\n",
    )
    .unwrap();
    let stderr = seed_failure(&empty, dir.path());
    assert!(
        stderr.contains("`sales_order_address`: the server would not take 1 rows as given (1 taken): Warning 1265: Data truncated for column 'country_id' at row 1; the tables seed created were dropped: the database is as it was"),
        "{stderr}"
    );
    assert_eq!(empty.query("SHOW TABLES"), Vec::<String>::new());
}
