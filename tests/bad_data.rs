//! One test per bad-data rule of data-model.md: the error names the file, the line (CSV) or
//! row (Parquet), the column and the reason; lenient mode skips and reports instead.

use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use datafusion::arrow::datatypes::{Field, Schema};
use datafusion::parquet::arrow::ArrowWriter;
use segmint::data::{LoadError, LoadOptions, Location, Rule, load_dataset};

use crate::common::{CUSTOMERS, csv_dataset, load, load_error, load_lenient, path_of};

fn write_parquet(path: &std::path::Path, columns: Vec<(&str, ArrayRef)>) {
    let fields: Vec<Field> = columns
        .iter()
        .map(|(n, a)| Field::new(*n, a.data_type().clone(), true))
        .collect();
    let batch = RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        columns.into_iter().map(|(_, a)| a).collect(),
    )
    .unwrap();
    let mut writer =
        ArrowWriter::try_new(std::fs::File::create(path).unwrap(), batch.schema(), None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
}

#[test]
fn a_missing_required_column_names_the_file_and_column() {
    let dir = csv_dataset(&[("customers.csv", "customer_id,email\n1,a@example.com\n")]);
    let e = load_error(dir.path());
    assert_eq!(
        (e.file.as_str(), e.location, e.column.as_str(), e.rule),
        (
            "customers.csv",
            Location::File,
            "website_id",
            Rule::MissingColumn
        )
    );
    assert!(e.to_string().contains("required column is missing"), "{e}");
}

#[test]
fn a_null_required_value_names_the_line() {
    let dir = csv_dataset(&[
        ("customers.csv", CUSTOMERS),
        (
            "orders.csv",
            "order_id,customer_id,website_id,created_at,status\n10,1,1,2026-01-01T00:00:00Z,complete\n11,2,1,,complete\n",
        ),
    ]);
    let e = load_error(dir.path());
    assert_eq!(
        (e.file.as_str(), e.location, e.column.as_str(), e.rule),
        (
            "orders.csv",
            Location::Line(3),
            "created_at",
            Rule::NullRequired
        )
    );
    assert_eq!(
        e.to_string(),
        "orders.csv: line 3, column created_at: required value is empty"
    );
}

#[test]
fn unparsable_values_name_line_column_and_reason() {
    let cases = [
        (
            "customers.csv",
            "customer_id,website_id,dob\n1,1,1990-13-01\n",
            "dob",
            "is not a date",
        ),
        (
            "customers.csv",
            "customer_id,website_id,store_credit\n1,1,12.34567\n",
            "store_credit",
            "more than 4 fraction digits",
        ),
        (
            "customers.csv",
            "customer_id,website_id,newsletter_subscribed\n1,1,yes\n",
            "newsletter_subscribed",
            "is not a bool",
        ),
        (
            "customers.csv",
            "customer_id,website_id,created_at\n1,1,01/02/2026\n",
            "created_at",
            "is not a timestamp",
        ),
        (
            "customers.csv",
            "customer_id,website_id\n1x,1\n",
            "customer_id",
            "is not an integer",
        ),
        (
            "customers.csv",
            "customer_id,website_id\n1,1,extra\n",
            "(row)",
            "the row has 3 fields, the header has 2",
        ),
    ];
    for (file, text, column, reason) in cases {
        let dir = csv_dataset(&[(file, text)]);
        let e = load_error(dir.path());
        assert_eq!(
            (e.file.as_str(), e.location, e.column.as_str(), e.rule),
            (file, Location::Line(2), column, Rule::Unparsable),
            "{text}"
        );
        assert!(e.reason.contains(reason), "{e} should say {reason:?}");
    }
}

#[test]
fn an_unknown_address_type_is_rejected() {
    let dir = csv_dataset(&[
        ("customers.csv", CUSTOMERS),
        (
            "orders.csv",
            "order_id,customer_id,website_id,created_at,status\n10,1,1,2026-01-01T00:00:00Z,complete\n",
        ),
        (
            "order_addresses.csv",
            "order_id,address_type,country_id\n10,billing,DE\n10,home,DE\n",
        ),
    ]);
    let e = load_error(dir.path());
    assert_eq!(
        (e.file.as_str(), e.location, e.column.as_str(), e.rule),
        (
            "order_addresses.csv",
            Location::Line(3),
            "address_type",
            Rule::Unparsable
        )
    );
}

#[test]
fn a_duplicate_primary_id_names_both_lines() {
    let dir = csv_dataset(&[("customers.csv", "customer_id,website_id\n1,1\n2,1\n1,2\n")]);
    let e = load_error(dir.path());
    assert_eq!(
        (e.file.as_str(), e.location, e.column.as_str(), e.rule),
        (
            "customers.csv",
            Location::Line(4),
            "customer_id",
            Rule::DuplicateId
        )
    );
    assert!(e.reason.contains("first at line 2"), "{e}");
}

#[test]
fn a_child_row_without_its_parent_is_rejected() {
    let orders = "order_id,customer_id,website_id,created_at,status\n10,1,1,2026-01-01T00:00:00Z,complete\n11,,1,2026-01-01T00:00:00Z,complete\n";
    // (files, file named in the error, line, column, reason)
    type Case<'a> = (Vec<(&'a str, &'a str)>, &'a str, u64, &'a str, &'a str);
    let cases: Vec<Case> = vec![
        (
            vec![(
                "orders.csv",
                "order_id,customer_id,website_id,created_at,status\n10,99,1,2026-01-01T00:00:00Z,complete\n",
            )],
            "orders.csv",
            2,
            "customer_id",
            "customer_id 99 is not in customers.csv",
        ),
        (
            vec![
                ("orders.csv", orders),
                ("products.csv", "product_id\n7\n"),
                ("order_items.csv", "order_id,product_id\n10,7\n12,7\n"),
            ],
            "order_items.csv",
            3,
            "order_id",
            "order_id 12 is not in orders.csv",
        ),
        (
            vec![
                ("orders.csv", orders),
                ("products.csv", "product_id\n7\n"),
                ("order_items.csv", "order_id,product_id\n10,8\n"),
            ],
            "order_items.csv",
            2,
            "product_id",
            "product_id 8 is not in products.csv",
        ),
        (
            vec![("addresses.csv", "address_id,customer_id\n1,1\n2,3\n")],
            "addresses.csv",
            3,
            "customer_id",
            "customer_id 3",
        ),
        (
            vec![(
                "carts.csv",
                "cart_id,customer_id,visitor_id,website_id\n1,5,,1\n",
            )],
            "carts.csv",
            2,
            "customer_id",
            "customer_id 5",
        ),
        (
            vec![
                (
                    "carts.csv",
                    "cart_id,customer_id,visitor_id,website_id\n1,,5,1\n",
                ),
                ("cart_items.csv", "cart_id,product_id\n2,7\n"),
                ("products.csv", "product_id\n7\n"),
            ],
            "cart_items.csv",
            2,
            "cart_id",
            "cart_id 2",
        ),
        (
            vec![("wishlist_items.csv", "customer_id,product_id\n1,7\n")],
            "wishlist_items.csv",
            2,
            "product_id",
            "product_id 7 is not in products.csv",
        ),
        (
            vec![(
                "product_views.csv",
                "customer_id,visitor_id,product_id,website_id,viewed_at\n,4,7,1,2026-01-01 10:00:00\n",
            )],
            "product_views.csv",
            2,
            "product_id",
            "product_id 7",
        ),
    ];
    for (mut files, file, line, column, reason) in cases {
        files.push(("customers.csv", CUSTOMERS));
        let dir = csv_dataset(&files);
        let e = load_error(dir.path());
        assert_eq!(
            (e.file.as_str(), e.location, e.column.as_str(), e.rule),
            (file, Location::Line(line), column, Rule::MissingParent),
            "{e}"
        );
        assert!(e.reason.contains(reason), "{e} should say {reason:?}");
    }
}

#[test]
fn carts_and_views_need_exactly_one_of_customer_and_visitor() {
    let cases = [
        (
            "carts.csv",
            "cart_id,customer_id,visitor_id,website_id\n1,1,,1\n2,1,5,1\n",
            3,
            "both",
        ),
        (
            "product_views.csv",
            "customer_id,visitor_id,product_id,website_id,viewed_at\n,,7,1,2026-01-01T00:00:00Z\n",
            2,
            "neither",
        ),
    ];
    for (file, text, line, reason) in cases {
        let dir = csv_dataset(&[
            ("customers.csv", CUSTOMERS),
            ("products.csv", "product_id\n7\n"),
            (file, text),
        ]);
        let e = load_error(dir.path());
        assert_eq!(
            (e.file.as_str(), e.location, e.rule),
            (file, Location::Line(line), Rule::CustomerOrVisitor),
            "{e}"
        );
        assert!(e.reason.contains(reason), "{e}");
    }
}

#[test]
fn parquet_errors_name_the_row() {
    let dir = csv_dataset(&[("customers.csv", CUSTOMERS)]);
    write_parquet(
        &path_of(&dir, "orders.parquet"),
        vec![
            (
                "order_id",
                Arc::new(Int64Array::from(vec![10, 11, 12])) as ArrayRef,
            ),
            (
                "customer_id",
                Arc::new(Int64Array::from(vec![Some(1), Some(2), None])),
            ),
            ("website_id", Arc::new(Int64Array::from(vec![1, 1, 1]))),
            (
                "created_at",
                Arc::new(TimestampMicrosecondArray::from(vec![
                    Some(0),
                    None,
                    Some(0),
                ])),
            ),
            (
                "status",
                Arc::new(StringArray::from(vec!["complete", "complete", "pending"])),
            ),
        ],
    );
    let e = load_error(dir.path());
    assert_eq!(
        (e.file.as_str(), e.location, e.column.as_str(), e.rule),
        (
            "orders.parquet",
            Location::Row(2),
            "created_at",
            Rule::NullRequired
        )
    );
    assert_eq!(
        e.to_string(),
        "orders.parquet: row 2, column created_at: required value is null"
    );
    write_parquet(
        &path_of(&dir, "orders.parquet"),
        vec![
            (
                "order_id",
                Arc::new(Int64Array::from(vec![10, 11])) as ArrayRef,
            ),
            (
                "customer_id",
                Arc::new(Int64Array::from(vec![Some(2), Some(9)])),
            ),
            ("website_id", Arc::new(Int64Array::from(vec![1, 1]))),
            (
                "created_at",
                Arc::new(TimestampMicrosecondArray::from(vec![0, 0])),
            ),
            (
                "status",
                Arc::new(StringArray::from(vec!["complete", "pending"])),
            ),
        ],
    );
    let e = load_error(dir.path());
    assert_eq!(
        (e.location, e.column.as_str(), e.rule),
        (Location::Row(2), "customer_id", Rule::MissingParent)
    );
    assert_eq!(e.reason, "customer_id 9 is not in customers.csv");
}

#[test]
fn parquet_text_is_parsed_and_wrong_types_are_named() {
    let dir = tempfile::tempdir().unwrap();
    write_parquet(
        &path_of(&dir, "customers.parquet"),
        vec![
            (
                "customer_id",
                Arc::new(Int64Array::from(vec![1, 2])) as ArrayRef,
            ),
            ("website_id", Arc::new(StringArray::from(vec!["1", "one"]))),
        ],
    );
    let e = load_error(dir.path());
    assert_eq!(
        (e.location, e.column.as_str(), e.rule),
        (Location::Row(2), "website_id", Rule::Unparsable)
    );
    write_parquet(
        &path_of(&dir, "customers.parquet"),
        vec![
            (
                "customer_id",
                Arc::new(Int64Array::from(vec![1, 2])) as ArrayRef,
            ),
            ("website_id", Arc::new(Int64Array::from(vec![1, 1]))),
            ("dob", Arc::new(Int64Array::from(vec![1, 1]))),
        ],
    );
    let e = load_error(dir.path());
    assert_eq!(
        (e.location, e.column.as_str(), e.rule),
        (Location::File, "dob", Rule::Unparsable)
    );
    assert!(e.reason.contains("Int64"), "{e}");
}

#[test]
fn a_dataset_without_customers_is_rejected() {
    let dir = csv_dataset(&[("orders.csv", "order_id\n")]);
    let error = load_dataset(dir.path(), &LoadOptions::default()).expect_err("rejected");
    assert!(matches!(error, LoadError::NoCustomers { .. }), "{error}");
    assert!(error.to_string().contains("no customers table"));
}

#[test]
fn lenient_loading_skips_bad_rows_and_their_children_and_reports_them() {
    let dir = csv_dataset(&[
        (
            "customers.csv",
            "customer_id,website_id\n1,1\n2,x\n3,1\n3,2\n",
        ),
        (
            "orders.csv",
            "order_id,customer_id,website_id,created_at,status\n10,1,1,2026-01-01T00:00:00Z,complete\n11,2,1,2026-01-01T00:00:00Z,complete\n12,9,1,2026-01-01T00:00:00Z,complete\n",
        ),
    ]);
    let (dataset, report) = load_lenient(dir.path());
    assert_eq!(
        dataset.customer_ids().to_int64().values().to_vec(),
        vec![1, 3]
    );
    assert_eq!(
        dataset
            .orders
            .table
            .ints("order_id")
            .unwrap()
            .to_int64()
            .values()
            .to_vec(),
        vec![10]
    );
    let skipped: Vec<(String, Rule, u64)> = report
        .skipped
        .iter()
        .map(|(t, r, s)| (t.to_string(), *r, s.count))
        .collect();
    assert_eq!(
        skipped,
        vec![
            ("customers".to_string(), Rule::Unparsable, 1),
            ("customers".to_string(), Rule::DuplicateId, 1),
            ("orders".to_string(), Rule::MissingParent, 2),
        ]
    );
    let example = &report.skipped[0].2.examples[0];
    assert_eq!(
        (example.location, example.column.as_str()),
        (Location::Line(3), "website_id")
    );
    assert_eq!(report.skipped_rows(), 4);
}

#[test]
fn parquet_wins_over_csv() {
    let dir = csv_dataset(&[("customers.csv", "customer_id,website_id\n1,1\n")]);
    write_parquet(
        &path_of(&dir, "customers.parquet"),
        vec![
            (
                "customer_id",
                Arc::new(Int64Array::from(vec![5, 6])) as ArrayRef,
            ),
            ("website_id", Arc::new(Int64Array::from(vec![1, 2]))),
        ],
    );
    assert_eq!(
        load(dir.path()).customer_ids().to_int64().values().to_vec(),
        vec![5, 6]
    );
}

#[test]
fn of_several_active_carts_the_most_recently_updated_counts() {
    let dir = csv_dataset(&[
        ("customers.csv", CUSTOMERS),
        (
            "carts.csv",
            "cart_id,customer_id,visitor_id,website_id,is_active,updated_at\n\
             1,1,,1,true,2026-01-02T00:00:00Z\n\
             2,1,,1,,2026-01-03T00:00:00Z\n\
             3,1,,2,true,2026-01-01T00:00:00Z\n\
             4,,7,1,true,2026-01-01T00:00:00Z\n\
             5,,7,1,false,2026-01-05T00:00:00Z\n",
        ),
    ]);
    let (dataset, report) = load_lenient(dir.path());
    let carts = &dataset.carts.table;
    let ids = carts.ints("cart_id").unwrap();
    let active = datafusion::arrow::array::AsArray::as_boolean(
        carts.column("is_active").unwrap().array.as_ref(),
    );
    let active_ids: Vec<i64> = (0..carts.rows)
        .filter(|&r| active.value(r))
        .map(|r| ids.value(r))
        .collect();
    assert_eq!(active_ids, vec![2, 3, 4]);
    assert_eq!(report.warnings.len(), 1);
    assert!(
        report.warnings[0].contains("1 (kept 2)"),
        "{}",
        report.warnings[0]
    );
    assert_eq!(report.skipped_rows(), 0);
}

#[test]
fn custom_csv_columns_get_inferred_types() {
    use segmint::model::FieldType;
    let dir = csv_dataset(&[(
        "customers.csv",
        "customer_id,website_id,tier,points,ratio,vip,anniversary,seen_at,code\n\
         1,1,gold,10,1.5,true,2020-01-01,2026-01-01T00:00:00Z,007\n\
         2,1,,-3,2,false,,2026-01-01 00:00:00,x1\n",
    )]);
    let dataset = load(dir.path());
    let types: Vec<(&str, FieldType, bool)> = dataset.customers.columns[12..]
        .iter()
        .map(|c| (c.name.as_str(), c.ty, c.custom))
        .collect();
    assert_eq!(
        types,
        vec![
            ("tier", FieldType::String, true),
            ("points", FieldType::Int, true),
            ("ratio", FieldType::Decimal, true),
            ("vip", FieldType::Bool, true),
            ("anniversary", FieldType::Date, true),
            ("seen_at", FieldType::Timestamp, true),
            ("code", FieldType::String, true),
        ]
    );
}

#[test]
fn parquet_accepts_every_encoding_of_the_data_model() {
    use datafusion::arrow::array::{
        Decimal128Array, Float64Array, Int32Array, TimestampMillisecondArray, TimestampSecondArray,
    };
    let dir = tempfile::tempdir().unwrap();
    let second = 1_767_225_600i64; // 2026-01-01T00:00:00Z
    write_parquet(
        &path_of(&dir, "customers.parquet"),
        vec![
            (
                "customer_id",
                Arc::new(Int64Array::from(vec![1, 2])) as ArrayRef,
            ),
            ("website_id", Arc::new(Int32Array::from(vec![1, 2]))),
            // Naive timestamps are UTC; zoned ones are stored as their instant.
            (
                "created_at",
                Arc::new(TimestampSecondArray::from(vec![second, second])),
            ),
            (
                "last_login_at",
                Arc::new(
                    TimestampMillisecondArray::from(vec![second * 1000 + 500, second * 1000])
                        .with_timezone("+02:00"),
                ),
            ),
            (
                "store_credit",
                Arc::new(Float64Array::from(vec![0.1, 12.3456])),
            ),
            (
                "points",
                Arc::new(
                    Decimal128Array::from(vec![1234, -5])
                        .with_precision_and_scale(10, 2)
                        .unwrap(),
                ),
            ),
        ],
    );
    let d = load(dir.path());
    let micros = |name: &str| {
        let column = d.customers.column(name).unwrap().array.clone();
        (0..column.len())
            .map(|row| segmint::store::micros_at(column.as_ref(), row).unwrap())
            .collect::<Vec<i64>>()
    };
    assert_eq!(micros("created_at"), vec![second * 1_000_000; 2]);
    assert_eq!(
        micros("last_login_at"),
        vec![second * 1_000_000 + 500_000, second * 1_000_000]
    );
    let ints = |name: &str| {
        d.customers
            .ints(name)
            .unwrap()
            .iter()
            .map(Option::unwrap)
            .collect::<Vec<i64>>()
    };
    assert_eq!(ints("website_id"), vec![1, 2]);
    assert_eq!(
        ints("store_credit"),
        vec![1_000, 123_456],
        "float64 money rounds to 1/10000"
    );
    assert_eq!(
        ints("points"),
        vec![123_400, -500],
        "decimal(10,2) is exact in 1/10000"
    );
    assert_eq!(
        d.customers.column("points").unwrap().ty,
        segmint::model::FieldType::Decimal
    );

    // A decimal with more than 4 fraction digits that are not zero does not fit.
    write_parquet(
        &path_of(&dir, "customers.parquet"),
        vec![
            (
                "customer_id",
                Arc::new(Int64Array::from(vec![1])) as ArrayRef,
            ),
            ("website_id", Arc::new(Int64Array::from(vec![1]))),
            (
                "store_credit",
                Arc::new(
                    Decimal128Array::from(vec![123_456])
                        .with_precision_and_scale(10, 5)
                        .unwrap(),
                ),
            ),
        ],
    );
    let e = load_error(dir.path());
    assert_eq!(
        (e.location, e.column.as_str(), e.rule),
        (Location::Row(1), "store_credit", Rule::Unparsable)
    );
    assert!(e.reason.contains("more than 4 fraction digits"), "{e}");
}

/// Found by fuzzing: a customers Parquet file whose pages' definition levels run past their
/// buffer made arrow-buffer panic while decoding. It is refused, naming the file and why.
#[test]
fn a_parquet_file_with_malformed_pages_is_refused() {
    let dir = crate::common::generated(20, 3, segmint::data::generate::OutputFormat::Parquet);
    let hostile = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/malformed_definition_levels.parquet");
    std::fs::copy(hostile, path_of(&dir, "customers.parquet")).unwrap();
    let error = match load_dataset(dir.path(), &LoadOptions::default()) {
        Err(error) => error.to_string(),
        Ok(_) => panic!("a malformed Parquet file was loaded"),
    };
    assert!(error.contains("customers.parquet"), "{error}");
    assert!(
        error.contains("the Parquet decoder failed on malformed data"),
        "{error}"
    );
}

/// Found by fuzzing: a Parquet file whose embedded Arrow schema names a time unit that
/// does not exist made the decoder panic. It is refused, naming the file and why.
#[test]
fn a_parquet_file_with_a_malformed_arrow_schema_is_refused() {
    let dir = crate::common::generated(20, 3, segmint::data::generate::OutputFormat::Parquet);
    let hostile = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/malformed_arrow_schema.parquet");
    std::fs::copy(hostile, path_of(&dir, "product_views.parquet")).unwrap();
    let error = match load_dataset(dir.path(), &LoadOptions::default()) {
        Err(error) => error.to_string(),
        Ok(_) => panic!("a malformed Parquet file was loaded"),
    };
    assert!(error.contains("product_views.parquet"), "{error}");
    assert!(
        error.contains("the Arrow schema embedded in its metadata is malformed"),
        "{error}"
    );
}
