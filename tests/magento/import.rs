//! `segmint magento import` against a real MariaDB server holding Magento 2.4's tables.

use std::path::Path;
use std::time::{Duration, Instant};

use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::{Value as Json, json};

use super::mariadb::{
    Database, PASSWORD, USER, empty_database, files_in, magento_database, segmint,
};

/// Two websites with a store each, the customer EAV type and its `gender` attribute with
/// Magento's three options and a fourth an admin added.
pub const STORES: &str = "
SET SESSION sql_mode = CONCAT(@@sql_mode, ',NO_AUTO_VALUE_ON_ZERO');
INSERT INTO store_website (website_id, code, name, sort_order, default_group_id, is_default) VALUES
  (0, 'admin', 'Admin', 0, 0, 0), (1, 'base', 'Main Website', 0, 1, 1), (2, 'eu', 'EU Website', 1, 2, 0);
INSERT INTO store_group (group_id, website_id, name, root_category_id, default_store_id, code) VALUES
  (0, 0, 'Default', 0, 0, 'default'), (1, 1, 'Main Website Store', 2, 1, 'main_website_store'),
  (2, 2, 'EU Store', 2, 2, 'eu_store');
INSERT INTO store (store_id, code, website_id, group_id, name, sort_order, is_active) VALUES
  (0, 'admin', 0, 0, 'Admin', 0, 1), (1, 'default', 1, 1, 'Default Store View', 0, 1),
  (2, 'eu_en', 2, 2, 'EU English', 0, 1);
INSERT INTO eav_entity_type (entity_type_id, entity_type_code, entity_model) VALUES
  (1, 'customer', 'Magento\\\\Customer\\\\Model\\\\ResourceModel\\\\Customer');
INSERT INTO eav_attribute (attribute_id, entity_type_id, attribute_code, backend_type, frontend_input, frontend_label) VALUES
  (18, 1, 'gender', 'static', 'select', 'Gender');
INSERT INTO eav_attribute_option (option_id, attribute_id, sort_order) VALUES (1, 18, 0), (2, 18, 1), (3, 18, 2), (4, 18, 3);
INSERT INTO eav_attribute_option_value (value_id, option_id, store_id, value) VALUES
  (1, 1, 0, 'Male'), (2, 2, 0, 'Female'), (3, 3, 0, 'Not Specified'), (4, 4, 0, 'Non binary'),
  (5, 1, 1, 'Mann');
";

/// Customers with every case of the columns `customers` takes from other tables.
pub const CUSTOMERS: &str = "
INSERT INTO customer_entity (entity_id, website_id, email, group_id, store_id, created_at, firstname, lastname, dob, gender) VALUES
  (1, 1, 'ann@example.com', 1, 1, '2025-01-02 03:04:05', 'Ann', 'Lee', '1990-05-17', 2),
  (2, 2, 'bob@example.com', 2, 2, '2025-02-03 04:05:06', 'Bob', 'Brown', NULL, 1),
  (3, 1, 'zoe@example.com', 0, 1, '2025-03-04 05:06:07', 'Zoë', 'Çelik', '1985-12-31', 3),
  (4, 1, 'kim@example.com', 3, 1, '2025-04-05 06:07:08', 'Kim', 'Park', '2000-02-29', 4),
  (5, NULL, 'global@example.com', 1, 0, '2025-05-06 07:08:09', 'Gil', 'Obal', NULL, NULL),
  (6, 1, 'dee@example.com', 1, 1, '2025-06-07 08:09:10', 'Dee', 'Zero', '0000-00-00', 99);
INSERT INTO customer_log (log_id, customer_id, last_login_at) VALUES (1, 1, '2026-10-30 12:00:00'), (2, 3, '2026-09-01 00:00:01');
INSERT INTO newsletter_subscriber (subscriber_id, store_id, customer_id, subscriber_email, subscriber_status) VALUES
  (1, 1, 1, 'ann@example.com', 1), (2, 1, 2, 'bob@example.com', 1), (3, 1, 3, 'zoe@example.com', 3),
  (4, 1, 0, 'guest@example.com', 1);
INSERT INTO magento_customerbalance (balance_id, customer_id, website_id, amount, base_currency_code) VALUES
  (1, 1, 1, 12.5, 'USD'), (2, 2, 1, 40, 'USD'), (3, 3, 1, 0, 'USD');
INSERT INTO customer_address_entity (entity_id, parent_id, city, country_id, firstname, lastname, street, telephone) VALUES
  (1, 1, 'Berlin', 'DE', 'Ann', 'Lee', 'Unter den Linden 1', '030 1234');
";

/// Orders of every kind the import carries or reports.
pub const ORDERS: &str = "
INSERT INTO sales_order (entity_id, state, status, store_id, customer_id, customer_is_guest, created_at,
    base_grand_total, base_subtotal, base_tax_amount, base_shipping_amount, base_discount_amount, total_qty_ordered,
    grand_total, subtotal, base_currency_code, order_currency_code) VALUES
  (1001, 'complete', 'complete', 1, 1, 0, '2026-10-01 10:00:00', 110.5, 100, 8, 5, -2.5, 3, 221, 200, 'USD', 'EUR'),
  (1002, 'new', 'pending', 2, NULL, 1, '2026-10-02 11:30:00', 20, 20, 0, 0, 0, 1, 20, 20, 'USD', 'USD'),
  (1003, 'new', 'pending', NULL, 2, 0, '2026-10-03 00:00:00', 5, 5, 0, 0, 0, 1, 5, 5, 'USD', 'USD'),
  (1004, 'new', NULL, 1, 1, 0, '2026-10-04 00:00:00', 5, 5, 0, 0, 0, 1, 5, 5, 'USD', 'USD'),
  (1005, 'complete', 'complete', 1, 5, 0, '2026-10-05 00:00:00', 5, 5, 0, 0, 0, 1, 5, 5, 'USD', 'USD'),
  (1006, 'complete', 'complete', 1, 77, 0, '2026-10-06 00:00:00', 5, 5, 0, 0, 0, 1, 5, 5, 'USD', 'USD');
";

/// A database with Magento's tables holding [`STORES`] and [`CUSTOMERS`].
pub fn shop(name: &str) -> Option<Database> {
    let database = magento_database(name)?;
    database.sql(STORES);
    database.sql(CUSTOMERS);
    Some(database)
}

/// Every row of a dataset table, each value as text (null: empty).
pub fn table_rows(dir: &Path, table: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let file = std::fs::File::open(dir.join(format!("{table}.parquet"))).expect("the table's file");
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap();
    let mut names = Vec::new();
    let mut rows = Vec::new();
    for batch in reader {
        let batch = batch.unwrap();
        names = batch
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        let options = FormatOptions::default();
        let formatters: Vec<ArrayFormatter> = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options).unwrap())
            .collect();
        for row in 0..batch.num_rows() {
            rows.push(
                formatters
                    .iter()
                    .map(|f| f.value(row).to_string())
                    .collect(),
            );
        }
    }
    (names, rows)
}

pub fn import(url: &str, out: &Path) -> Json {
    let (ok, _, stderr) = segmint(
        &[
            "magento",
            "import",
            "--from",
            url,
            "--out",
            out.to_str().unwrap(),
        ],
        &[],
    );
    assert!(ok, "{stderr}");
    assert!(
        stderr.contains("imported addresses=") && stderr.contains(" customers="),
        "a summary line: {stderr}"
    );
    let report = std::fs::read_to_string(out.join("import-report.json")).unwrap();
    serde_json::from_str(&report).unwrap()
}

pub fn entry<'a>(list: &'a Json, table: &str, reason: &str) -> &'a Json {
    list.as_array()
        .unwrap()
        .iter()
        .find(|e| e["table"] == table && e["reason"].as_str().unwrap().contains(reason))
        .unwrap_or_else(|| panic!("no {table} entry with {reason:?} in {list:#}"))
}

#[test]
fn customers_are_imported_with_their_login_newsletter_and_store_credit() {
    let Some(database) = shop("import_customers") else {
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("store");
    let report = import(&database.tcp_url(), &dir);
    let (columns, rows) = table_rows(&dir, "customers");
    assert_eq!(
        columns,
        [
            "customer_id",
            "website_id",
            "group_id",
            "email",
            "firstname",
            "lastname",
            "gender",
            "dob",
            "created_at",
            "last_login_at",
            "newsletter_subscribed",
            "store_credit"
        ]
    );
    let expected = [
        "1|1|1|ann@example.com|Ann|Lee|female|1990-05-17|2025-01-02T03:04:05|2026-10-30T12:00:00|true|12.5000",
        // Subscribed and credited on website 1 only, not Bob's.
        "2|2|2|bob@example.com|Bob|Brown|male||2025-02-03T04:05:06||false|",
        "3|1|0|zoe@example.com|Zoë|Çelik|not_specified|1985-12-31|2025-03-04T05:06:07|2026-09-01T00:00:01|false|0.0000",
        "4|1|3|kim@example.com|Kim|Park|non_binary|2000-02-29|2025-04-05T06:07:08||false|",
        // MySQL's zero date is no date; an option without a label no gender.
        "6|1|1|dee@example.com|Dee|Zero|||2025-06-07T08:09:10||false|",
    ];
    let rows: Vec<String> = rows.iter().map(|r| r.join("|")).collect();
    assert_eq!(rows, expected);
    // The directory loads as a dataset.
    let dataset = crate::common::load(&dir);
    assert_eq!(dataset.customer_count(), 5);

    assert_eq!(report["edition"], "Commerce");
    assert_eq!(report["staging"], false);
    assert_eq!(report["account_share_scope"], 1);
    assert!(
        report["server"].as_str().unwrap().contains("MariaDB"),
        "{report:#}"
    );
    assert_eq!(report["tables"]["customers"], 5);
    let global = entry(&report["not_carried"], "customer_entity", "no website_id");
    assert_eq!(
        (&global["count"], &global["keys"]),
        (&json!(1), &json!([5]))
    );
    let credit = entry(
        &report["not_carried"],
        "magento_customerbalance",
        "another website",
    );
    assert_eq!(
        (&credit["count"], &credit["keys"]),
        (&json!(1), &json!([2]))
    );
    let unusual = entry(&report["warnings"], "customer_entity", "\"non_binary\"");
    assert_eq!(unusual["keys"], json!([4]));
    let unlabelled = entry(
        &report["warnings"],
        "customer_entity",
        "option 99 has no admin label",
    );
    assert_eq!(unlabelled["keys"], json!([6]));
    assert_eq!(report["tables"]["addresses"], 1);
}

#[test]
fn orders_carry_base_amounts_and_their_store_s_website_and_the_others_are_reported() {
    let Some(database) = shop("import_orders") else {
        return;
    };
    database.sql(ORDERS);
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("store");
    let report = import(&database.tcp_url(), &dir);
    let (columns, rows) = table_rows(&dir, "orders");
    assert_eq!(
        columns,
        [
            "order_id",
            "customer_id",
            "website_id",
            "created_at",
            "status",
            "grand_total",
            "subtotal",
            "tax_amount",
            "shipping_amount",
            "discount_amount",
            "total_qty_ordered"
        ]
    );
    let rows: Vec<String> = rows.iter().map(|r| r.join("|")).collect();
    assert_eq!(
        rows,
        [
            // Base amounts (not the order currency's), the discount positive.
            "1001|1|1|2026-10-01T10:00:00|complete|110.5000|100.0000|8.0000|5.0000|2.5000|3.0000",
            // A guest order, on website 2 by its store.
            "1002||2|2026-10-02T11:30:00|pending|20.0000|20.0000|0.0000|0.0000|0.0000|1.0000",
        ]
    );
    let loaded = crate::common::load(&dir).row_counts();
    assert!(
        loaded.contains(&(segmint::model::TableName::Orders, 2)),
        "{loaded:?}"
    );
    assert_eq!(report["tables"]["orders"], 2);
    for (reason, keys) in [
        ("no store", json!([1003])),
        ("no status", json!([1004])),
        ("its customer is not carried", json!([1005, 1006])),
    ] {
        let entry = entry(&report["not_carried"], "sales_order", reason);
        assert_eq!(entry["keys"], keys, "{reason}");
        assert_eq!(entry["count"], keys.as_array().unwrap().len(), "{reason}");
    }
}

#[test]
fn a_socket_url_and_a_password_from_the_environment_connect() {
    let Some(database) = shop("import_socket") else {
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("store");
    let url = format!(
        "mysql://{USER}@localhost/{}?socket={}",
        database.name,
        database.server.socket.display()
    );
    let (ok, _, stderr) = segmint(
        &[
            "magento",
            "import",
            "--from",
            &url,
            "--out",
            dir.to_str().unwrap(),
        ],
        &[("SEGMINT_MYSQL_PASSWORD", PASSWORD)],
    );
    assert!(ok, "{stderr}");
    assert_eq!(table_rows(&dir, "customers").1.len(), 5);
}

/// Runs an import that must fail; its stderr, and how long it took.
fn failing_import(url: &str, out: &Path, extra: &[&str]) -> (String, Duration) {
    let started = Instant::now();
    let mut args = vec![
        "magento",
        "import",
        "--from",
        url,
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let (ok, _, stderr) = segmint(&args, &[]);
    assert!(!ok, "the import succeeded: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    (stderr, started.elapsed())
}

#[test]
fn a_server_that_does_not_answer_fails_the_import_within_ten_seconds() {
    // A port that accepts connections and never speaks, as a firewall that drops them.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("store");
    let url = format!("mysql://u:secret@127.0.0.1:{port}/shop");
    let (stderr, took) = failing_import(&url, &dir, &[]);
    assert!(stderr.contains("no answer within 10 s"), "{stderr}");
    assert!(took < Duration::from_secs(15), "took {took:?}");
    assert!(!stderr.contains("secret"), "the password shown: {stderr}");
    assert!(!dir.exists(), "the output directory was made");
    assert_eq!(
        files_in(out.path()),
        Vec::<String>::new(),
        "a temporary directory left"
    );
    drop(listener);
    // Nothing listening: refused at once.
    let (stderr, took) = failing_import(&url, &dir, &[]);
    assert!(stderr.contains("cannot connect to u@127.0.0.1"), "{stderr}");
    assert!(took < Duration::from_secs(5), "took {took:?}");
}

#[test]
fn a_wrong_password_is_refused_with_the_server_s_reason() {
    let Some(database) = magento_database("import_wrong_password") else {
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let url = database.tcp_url().replace("s3cret%20pass", "guess-9f2");
    let (stderr, _) = failing_import(&url, &out.path().join("store"), &[]);
    assert!(
        stderr.contains("Access denied for user 'magento'"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("guess-9f2"),
        "the password shown: {stderr}"
    );
}

#[test]
fn a_database_without_magento_s_tables_is_refused_naming_the_table_and_the_output_is_kept() {
    let Some(database) = empty_database("import_no_tables") else {
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("store");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("customers.csv"), "customer_id,website_id\n7,1\n").unwrap();
    // Not empty: refused without --force.
    let (stderr, _) = failing_import(&database.tcp_url(), &dir, &[]);
    assert!(
        stderr.contains("not empty (--force replaces it)"),
        "{stderr}"
    );
    // With --force, the import fails on the database and the directory stays as it was.
    let (stderr, _) = failing_import(&database.tcp_url(), &dir, &["--force"]);
    assert!(stderr.contains("no table `customer_entity`"), "{stderr}");
    let (stderr, _) = failing_import(
        &database.tcp_url(),
        &dir,
        &["--force", "--table-prefix", "m2_"],
    );
    assert!(stderr.contains("no table `m2_customer_entity`"), "{stderr}");
    let (stderr, _) = failing_import(
        &database.tcp_url(),
        &dir,
        &["--force", "--table-prefix", "x`; DROP"],
    );
    assert!(stderr.contains("only letters, digits and _"), "{stderr}");
    assert_eq!(files_in(&dir), ["customers.csv"]);
    assert_eq!(
        files_in(out.path()),
        ["store"],
        "a temporary directory left"
    );
}
