//! `segmint magento import` of the tables beyond customers and orders: addresses, the
//! catalog (with and without content staging), order lines and addresses, carts,
//! wishlists and views; each with the source rows it does not carry in the report.

use std::path::Path;

use serde_json::{Value as Json, json};

use super::import::{ORDERS, entry, import, shop, table_rows};

/// The rows of a dataset table, values joined by `|`.
fn rows(dir: &Path, table: &str) -> Vec<String> {
    table_rows(dir, table)
        .1
        .iter()
        .map(|row| row.join("|"))
        .collect()
}

/// Asserts the report lists exactly `keys` of `table` as not carried for `reason`.
fn assert_not_carried(report: &Json, table: &str, reason: &str, keys: Json) {
    let entry = entry(&report["not_carried"], table, reason);
    assert_eq!(entry["keys"], keys, "{table}: {reason}");
    assert_eq!(
        entry["count"],
        keys.as_array().unwrap().len(),
        "{table}: {reason}"
    );
}

/// The catalog's EAV type, its `name` and `price` attributes and two attribute sets.
const CATALOG_ATTRIBUTES: &str = "
INSERT INTO eav_entity_type (entity_type_id, entity_type_code, entity_model) VALUES
  (4, 'catalog_product', 'Magento\\\\Catalog\\\\Model\\\\ResourceModel\\\\Product');
INSERT INTO eav_attribute (attribute_id, entity_type_id, attribute_code, backend_type, frontend_input, frontend_label) VALUES
  (73, 4, 'name', 'varchar', 'text', 'Product Name'), (77, 4, 'price', 'decimal', 'price', 'Price');
INSERT INTO eav_attribute_set (attribute_set_id, entity_type_id, attribute_set_name) VALUES (4, 4, 'Default'), (9, 4, 'Shoes');
";

/// A configurable product and its simple child, in two categories and one, with a store
/// view's name and price beside the admin ones; and a product with no values.
const CATALOG: &str = "
INSERT INTO catalog_product_entity (entity_id, attribute_set_id, type_id, sku) VALUES
  (10, 9, 'configurable', 'RUN-1'), (11, 9, 'simple', 'RUN-1-42'), (12, 4, 'simple', 'BARE');
INSERT INTO catalog_product_entity_varchar (attribute_id, store_id, entity_id, value) VALUES
  (73, 0, 10, 'Runner'), (73, 1, 10, 'Läufer'), (73, 0, 11, 'Runner 42');
INSERT INTO catalog_product_entity_decimal (attribute_id, store_id, entity_id, value) VALUES
  (77, 0, 10, 89.99), (77, 2, 10, 79), (77, 0, 11, 89.990000);
INSERT INTO catalog_category_product (category_id, product_id) VALUES (5, 10), (3, 10), (5, 11);
";

#[test]
fn addresses_carry_which_is_the_customer_s_default_billing_and_shipping_address() {
    let Some(database) = shop("import_addresses") else {
        return;
    };
    database.sql(
        "INSERT INTO customer_address_entity (entity_id, parent_id, city, country_id, firstname, lastname, street, telephone, company, region, region_id, postcode) VALUES
           (2, 1, 'Austin', 'US', 'Ann', 'Lee', '1 Main St', '555', 'ACME', 'Texas', 57, '73301'),
           (3, 5, 'Paris', 'FR', 'Gil', 'Obal', '2 Rue', '01', NULL, NULL, NULL, NULL),
           (4, 404, 'Rome', 'IT', 'No', 'One', '3 Via', '06', NULL, NULL, NULL, NULL);
         UPDATE customer_entity SET default_billing = 1, default_shipping = 2 WHERE entity_id = 1;
         DROP TABLE wishlist_item, customer_log;",
    );
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("store");
    let report = import(&database.tcp_url(), &dir);
    assert_eq!(
        table_rows(&dir, "addresses").0,
        [
            "address_id",
            "customer_id",
            "is_default_billing",
            "is_default_shipping",
            "firstname",
            "lastname",
            "company",
            "street",
            "city",
            "region",
            "postcode",
            "telephone",
            "country_id",
            "region_id"
        ]
    );
    assert_eq!(
        rows(&dir, "addresses"),
        [
            "1|1|true|false|Ann|Lee||Unter den Linden 1|Berlin|||030 1234|DE|",
            "2|1|false|true|Ann|Lee|ACME|1 Main St|Austin|Texas|73301|555|US|57",
        ]
    );
    assert_eq!(report["tables"]["addresses"], 2);
    // A missing table other than the five required is read as empty, and noted (the
    // tests' schema has no address EAV tables but int and varchar).
    assert_eq!(
        report["missing_tables"],
        json!([
            "customer_address_entity_datetime",
            "customer_address_entity_decimal",
            "customer_address_entity_text",
            "customer_log",
            "wishlist_item"
        ])
    );
    assert_eq!(report["tables"]["wishlist_items"], 0);
    // Of the customer of no website, and of no customer.
    assert_not_carried(
        &report,
        "customer_address_entity",
        "its customer is not carried",
        json!([3, 4]),
    );
    crate::common::load(&dir);
}

#[test]
fn products_are_the_catalog_with_admin_values_and_categories_and_stubs_for_what_it_lacks() {
    let Some(database) = shop("import_products") else {
        return;
    };
    database.sql(CATALOG_ATTRIBUTES);
    database.sql(CATALOG);
    database.sql(ORDERS);
    // An order line and a view of products deleted from the catalog.
    database.sql(
        "INSERT INTO sales_order_item (item_id, order_id, product_id, qty_ordered, base_price, base_row_total) VALUES (1, 1001, 99, 1, 5, 5);
         INSERT INTO report_viewed_product_index (index_id, visitor_id, product_id, store_id, added_at) VALUES (1, 9, 97, 1, '2026-11-07 08:00:00');",
    );
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("store");
    let report = import(&database.tcp_url(), &dir);
    assert_eq!(
        table_rows(&dir, "products").0,
        [
            "product_id",
            "sku",
            "name",
            "attribute_set",
            "price",
            "category_ids"
        ]
    );
    assert_eq!(
        rows(&dir, "products"),
        [
            "10|RUN-1|Runner|Shoes|89.9900|[3, 5]",
            "11|RUN-1-42|Runner 42|Shoes|89.9900|[5]",
            "12|BARE||Default||[]",
            "97|||||",
            "99|||||",
        ]
    );
    let stubs = entry(
        &report["warnings"],
        "catalog_product_entity",
        "stub product",
    );
    assert_eq!(
        (&stubs["count"], &stubs["keys"]),
        (&json!(2), &json!([97, 99]))
    );
    for table in [
        "catalog_product_entity_varchar",
        "catalog_product_entity_decimal",
    ] {
        assert_eq!(
            entry(&report["counted_only"], table, "of a store view")["count"],
            1
        );
    }
    // Every product a row names exists: the dataset loads.
    crate::common::load(&dir);
}

#[test]
fn with_content_staging_a_product_is_its_current_version() {
    let Some(database) = shop("import_staging") else {
        return;
    };
    database.sql(include_str!("staging.sql"));
    database.sql(CATALOG_ATTRIBUTES);
    // Product 10: a past version, the current one, one scheduled for 2035; product 11 has
    // only a scheduled version.
    database.sql(
        "INSERT INTO catalog_product_entity (row_id, entity_id, created_in, updated_in, attribute_set_id, sku) VALUES
           (1, 10, 1, 1700000000, 4, 'OLD'), (2, 10, 1700000000, 2051222400, 9, 'RUN-1'),
           (3, 10, 2051222400, 2147483647, 9, 'RUN-2035'), (4, 11, 2051222400, 2147483647, 9, 'LATER');
         INSERT INTO catalog_product_entity_varchar (attribute_id, store_id, row_id, value) VALUES
           (73, 0, 1, 'Old runner'), (73, 0, 2, 'Runner'), (73, 0, 3, 'Runner 2035'), (73, 0, 4, 'Later');
         INSERT INTO catalog_product_entity_decimal (attribute_id, store_id, row_id, value) VALUES
           (77, 0, 1, 50), (77, 0, 2, 89.99), (77, 0, 3, 99);
         INSERT INTO catalog_category_product (category_id, product_id) VALUES (5, 10);",
    );
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("store");
    let report = import(&database.tcp_url(), &dir);
    assert_eq!(report["staging"], true);
    assert_eq!(
        rows(&dir, "products"),
        ["10|RUN-1|Runner|Shoes|89.9900|[5]"]
    );
    let versions = entry(
        &report["counted_only"],
        "catalog_product_entity",
        "not the current one",
    );
    assert_eq!(versions["count"], 3);
}

#[test]
fn order_lines_and_addresses_of_carried_orders_are_imported_and_the_others_reported() {
    let Some(database) = shop("import_order_lines") else {
        return;
    };
    database.sql(CATALOG_ATTRIBUTES);
    database.sql(CATALOG);
    database.sql(ORDERS);
    // A configurable line as Magento stores it (the parent with the price, the child at
    // 0), and lines of an order not carried, of no product and of no order.
    database.sql(
        "INSERT INTO sales_order_item (item_id, order_id, parent_item_id, product_id, product_type, qty_ordered, price, base_price, row_total, base_row_total) VALUES
           (1, 1001, NULL, 10, 'configurable', 2, 180, 90, 360, 180), (2, 1001, 1, 11, 'simple', 2, 0, 0, 0, 0),
           (3, 1003, NULL, 10, 'simple', 1, 5, 5, 5, 5), (4, 1002, NULL, NULL, 'simple', 1, 5, 5, 5, 5),
           (5, 4242, NULL, 12, 'simple', 1, 5, 5, 5, 5);
         INSERT INTO sales_order_address (entity_id, parent_id, address_type, firstname, lastname, street, city, region, region_id, postcode, telephone, country_id, company) VALUES
           (1, 1001, 'billing', 'Ann', 'Lee', 'Unter den Linden 1', 'Berlin', 'Berlin', 82, '10117', '030 1234', 'DE', NULL),
           (2, 1001, 'shipping', 'Ann', 'Lee', '1 Main St', 'Austin', 'Texas', 57, '73301', '555', 'US', 'ACME'),
           (3, 1004, 'billing', 'Ann', 'Lee', 'x', 'y', NULL, NULL, NULL, '1', 'DE', NULL),
           (4, 1002, NULL, 'Guest', 'G', 'x', 'y', NULL, NULL, NULL, '1', 'DE', NULL);",
    );
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("store");
    let report = import(&database.tcp_url(), &dir);
    assert_eq!(
        table_rows(&dir, "order_items").0,
        [
            "order_id",
            "product_id",
            "qty_ordered",
            "price",
            "row_total",
            "is_child"
        ]
    );
    assert_eq!(
        rows(&dir, "order_items"),
        [
            "1001|10|2.0000|90.0000|180.0000|false",
            "1001|11|2.0000|0.0000|0.0000|true",
        ]
    );
    for (reason, keys) in [
        ("its order is not carried", json!([3])),
        ("no product_id", json!([4])),
        ("no such order", json!([5])),
    ] {
        assert_not_carried(&report, "sales_order_item", reason, keys);
    }
    assert_eq!(
        rows(&dir, "order_addresses"),
        [
            "1001|billing|Ann|Lee||Unter den Linden 1|Berlin|Berlin|10117|030 1234|DE|82",
            "1001|shipping|Ann|Lee|ACME|1 Main St|Austin|Texas|73301|555|US|57",
        ]
    );
    assert_not_carried(
        &report,
        "sales_order_address",
        "its order is not carried",
        json!([3]),
    );
    assert_not_carried(
        &report,
        "sales_order_address",
        "no address_type",
        json!([4]),
    );
    assert_eq!(
        (
            &report["tables"]["order_items"],
            &report["tables"]["order_addresses"]
        ),
        (&json!(2), &json!(2))
    );
    crate::common::load(&dir);
}

#[test]
fn active_quotes_are_carts_a_guest_s_its_own_visitor_and_inactive_ones_only_counted() {
    let Some(database) = shop("import_carts") else {
        return;
    };
    database.sql(CATALOG_ATTRIBUTES);
    database.sql(CATALOG);
    database.sql(
        "INSERT INTO quote (entity_id, store_id, created_at, updated_at, is_active, items_count, items_qty, base_grand_total, grand_total, customer_id, customer_is_guest, base_subtotal, subtotal, base_customer_bal_amount_used, base_gift_cards_amount_used) VALUES
           (501, 1, '2026-11-01 10:00:00', '2026-11-02 10:00:00', 1, 2, 3, 120, 240, 1, 0, 100, 200, 5, NULL),
           (502, 2, '2026-11-03 10:00:00', '2026-11-03 11:00:00', 1, 1, 1, 20, 20, NULL, 1, 20, 20, NULL, 10),
           (503, 1, '2026-10-01 10:00:00', '2026-10-01 10:00:00', 0, 1, 1, 5, 5, 1, 0, 5, 5, NULL, NULL),
           (504, 1, '2026-10-01 10:00:00', '2026-10-01 10:00:00', 1, 1, 1, 5, 5, 5, 0, 5, 5, NULL, NULL),
           (505, 7, '2026-10-01 10:00:00', '2026-10-01 10:00:00', 1, 1, 1, 5, 5, 2, 0, 5, 5, NULL, NULL);
         INSERT INTO quote_address (quote_id, address_type, base_tax_amount, base_shipping_amount) VALUES
           (501, 'billing', 0, 0), (501, 'shipping', 8, 5), (502, 'shipping', 1.5, 0);
         INSERT INTO quote_item (item_id, quote_id, created_at, product_id, parent_item_id, qty, price, base_price) VALUES
           (1, 501, '2026-11-01 10:00:00', 10, NULL, 2, 180, 90), (2, 501, '2026-11-01 10:00:00', 11, 1, 2, 0, 0),
           (3, 502, '2026-11-03 10:00:00', 98, NULL, 1, 20, 20), (4, 503, '2026-10-01 10:00:00', 10, NULL, 1, 5, 5),
           (5, 504, '2026-10-01 10:00:00', 10, NULL, 1, 5, 5), (6, 999, '2026-10-01 10:00:00', 10, NULL, 1, 5, 5);",
    );
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("store");
    let report = import(&database.tcp_url(), &dir);
    assert_eq!(
        rows(&dir, "carts"),
        [
            // Tax and shipping summed over the quote's addresses; base amounts.
            "501|1||1|true|2026-11-01T10:00:00|2026-11-02T10:00:00|2|3.0000|100.0000|120.0000|8.0000|5.0000|5.0000|",
            // A guest quote: a visitor of its own.
            "502||1000000000502|2|true|2026-11-03T10:00:00|2026-11-03T11:00:00|1|1.0000|20.0000|20.0000|1.5000|0.0000||10.0000",
        ]
    );
    assert_eq!(
        rows(&dir, "cart_items"),
        [
            "501|10|2.0000|90.0000|2026-11-01T10:00:00|false",
            "501|11|2.0000|0.0000|2026-11-01T10:00:00|true",
            "502|98|1.0000|20.0000|2026-11-03T10:00:00|false",
        ]
    );
    assert_not_carried(
        &report,
        "quote",
        "its customer is not carried",
        json!([504]),
    );
    assert_not_carried(&report, "quote", "no store", json!([505]));
    assert_not_carried(
        &report,
        "quote_item",
        "its quote is not carried",
        json!([5]),
    );
    assert_not_carried(&report, "quote_item", "no such quote", json!([6]));
    for table in ["quote", "quote_item"] {
        assert_eq!(
            entry(&report["counted_only"], table, "inactive quote")["count"],
            1
        );
    }
    assert_eq!(
        entry(
            &report["warnings"],
            "catalog_product_entity",
            "stub product"
        )["keys"],
        json!([98])
    );
    let dataset = crate::common::load(&dir);
    assert!(
        dataset
            .row_counts()
            .contains(&(segmint::model::TableName::Carts, 2))
    );
}

#[test]
fn every_wishlist_of_a_customer_and_the_views_of_customers_and_guests_are_imported() {
    let Some(database) = shop("import_activity") else {
        return;
    };
    database.sql(CATALOG_ATTRIBUTES);
    database.sql(CATALOG);
    // Commerce's multiple wishlists lift Open Source's one wishlist per customer.
    database.sql(
        "ALTER TABLE wishlist DROP INDEX WISHLIST_CUSTOMER_ID;
         INSERT INTO wishlist (wishlist_id, customer_id) VALUES (1, 1), (2, 1), (3, 5), (4, 88);
         INSERT INTO wishlist_item (wishlist_item_id, wishlist_id, product_id, store_id, added_at, qty) VALUES
           (1, 1, 10, 1, '2026-11-05 09:00:00', 1), (2, 2, 12, 1, '2026-11-06 09:00:00', 1),
           (3, 3, 10, 1, '2026-11-06 09:00:00', 1), (4, 77, 10, 1, '2026-11-06 09:00:00', 1),
           (5, 4, 10, 1, '2026-11-06 09:00:00', 1);
         INSERT INTO report_viewed_product_index (index_id, visitor_id, customer_id, product_id, store_id, added_at) VALUES
           (1, 7, 1, 10, 1, '2026-11-07 08:00:00'), (2, 7, NULL, 11, 2, '2026-11-07 08:05:00'),
           (3, NULL, NULL, 10, 1, '2026-11-07 08:00:00'), (4, 8, NULL, 10, NULL, '2026-11-07 08:00:00'),
           (5, NULL, 5, 10, 1, '2026-11-07 08:00:00');",
    );
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("store");
    let report = import(&database.tcp_url(), &dir);
    assert_eq!(
        rows(&dir, "wishlist_items"),
        ["1|10|2026-11-05T09:00:00", "1|12|2026-11-06T09:00:00"]
    );
    assert_not_carried(
        &report,
        "wishlist_item",
        "its customer is not carried",
        json!([3, 5]),
    );
    assert_not_carried(&report, "wishlist_item", "no such wishlist", json!([4]));
    assert_eq!(
        rows(&dir, "product_views"),
        [
            // A customer's view is the customer's, without the visitor it was made as.
            "1||10|1|2026-11-07T08:00:00",
            "|7|11|2|2026-11-07T08:05:00",
        ]
    );
    for (reason, keys) in [
        ("neither customer_id nor visitor_id", json!([3])),
        ("no store", json!([4])),
        ("its customer is not carried", json!([5])),
    ] {
        assert_not_carried(&report, "report_viewed_product_index", reason, keys);
    }
    crate::common::load(&dir);
}

/// Commerce's customer segment flag on customer and address attributes.
const SEGMENT_FLAG: &str = "ALTER TABLE customer_eav_attribute
  ADD COLUMN `is_used_for_customer_segment` smallint(5) unsigned NOT NULL DEFAULT 0";

#[test]
fn flagged_attributes_become_custom_columns_with_their_option_labels() {
    let Some(database) = shop("import_custom_attributes") else {
        return;
    };
    database.sql(SEGMENT_FLAG);
    database.sql(CATALOG_ATTRIBUTES);
    database.sql(CATALOG);
    // Customer attributes of each input type, flagged; one colliding with a column of the
    // data model; one not flagged. An address attribute and two product attributes.
    database.sql(
        "INSERT INTO eav_entity_type (entity_type_id, entity_type_code, entity_model) VALUES
           (2, 'customer_address', 'Magento\\\\Customer\\\\Model\\\\ResourceModel\\\\Address');
         INSERT INTO eav_attribute (attribute_id, entity_type_id, attribute_code, backend_type, frontend_input) VALUES
           (200, 1, 'loyalty_tier', 'int', 'select'), (201, 1, 'interests', 'varchar', 'multiselect'),
           (202, 1, 'vip', 'int', 'boolean'), (203, 1, 'joined_club', 'datetime', 'date'),
           (204, 1, 'taxvat', 'static', 'text'), (205, 1, 'store_credit', 'decimal', 'text'),
           (206, 1, 'notes', 'text', 'textarea'), (207, 1, 'last_seen', 'datetime', 'datetime'),
           (208, 1, 'age', 'int', 'text'),
           (300, 2, 'delivery_floor', 'int', 'text'),
           (400, 4, 'color', 'int', 'select'), (401, 4, 'material', 'varchar', 'multiselect'),
           (402, 4, 'description', 'text', 'textarea');
         INSERT INTO customer_eav_attribute (attribute_id, is_used_for_customer_segment) VALUES
           (18, 1), (200, 1), (201, 1), (202, 1), (203, 1), (204, 1), (205, 1), (206, 0), (207, 1), (208, 1), (300, 1);
         INSERT INTO catalog_eav_attribute (attribute_id, is_used_for_promo_rules) VALUES (73, 0), (77, 1), (400, 1), (401, 1), (402, 0);
         INSERT INTO eav_attribute_option (option_id, attribute_id) VALUES (20, 200), (21, 200), (30, 201), (31, 201), (40, 400), (41, 400);
         INSERT INTO eav_attribute_option_value (option_id, store_id, value) VALUES
           (20, 0, 'Silver'), (21, 0, 'Gold'), (21, 1, 'Or'), (30, 0, 'Running'), (31, 0, 'Hiking'), (40, 0, 'Red'), (41, 0, 'Blue');
         UPDATE customer_entity SET taxvat = 'DE123' WHERE entity_id = 1;
         INSERT INTO customer_entity_int (attribute_id, entity_id, value) VALUES (200, 1, 21), (202, 1, 1), (202, 2, 0);
         INSERT INTO customer_entity_varchar (attribute_id, entity_id, value) VALUES (201, 1, '30,31');
         INSERT INTO customer_entity_datetime (attribute_id, entity_id, value) VALUES (203, 1, '2024-03-01 00:00:00'), (207, 2, '2026-11-20 18:30:00');
         INSERT INTO customer_entity_decimal (attribute_id, entity_id, value) VALUES (205, 1, 3);
         INSERT INTO customer_entity_text (attribute_id, entity_id, value) VALUES (206, 1, 'called twice');
         INSERT INTO customer_address_entity_int (attribute_id, entity_id, value) VALUES (300, 1, 4);
         INSERT INTO catalog_product_entity_int (attribute_id, store_id, entity_id, value) VALUES (400, 0, 10, 40), (400, 1, 10, 41);
         INSERT INTO catalog_product_entity_varchar (attribute_id, store_id, entity_id, value) VALUES (401, 0, 11, '');
         INSERT INTO catalog_product_entity_text (attribute_id, store_id, entity_id, value) VALUES (402, 0, 10, 'Light');",
    );
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("store");
    let report = import(&database.tcp_url(), &dir);
    let (columns, customers) = table_rows(&dir, "customers");
    assert_eq!(
        columns[12..],
        [
            "loyalty_tier",
            "interests",
            "vip",
            "joined_club",
            "taxvat",
            "last_seen"
        ]
    );
    let custom: Vec<String> = customers.iter().map(|row| row[12..].join("|")).collect();
    assert_eq!(
        custom,
        [
            "21|[30, 31]|true|2024-03-01|DE123|",
            "||false|||2026-11-20T18:30:00",
            "|||||",
            "|||||",
            "|||||",
        ]
    );
    let (columns, addresses) = table_rows(&dir, "addresses");
    assert_eq!(columns.last().unwrap(), "delivery_floor");
    assert_eq!(addresses[0].last().unwrap(), "4");
    let (columns, products) = table_rows(&dir, "products");
    assert_eq!(columns[6..], ["color", "material"]);
    let custom: Vec<String> = products.iter().map(|row| row[6..].join("|")).collect();
    assert_eq!(custom, ["40|", "|[]", "|"]);
    let colliding = entry(
        &report["not_carried"],
        "eav_attribute",
        "a column or derived field",
    );
    // A column's name, and a derived field's (`customer.age` would hide the column).
    assert_eq!(colliding["keys"], json!(["store_credit", "age"]));
    assert_eq!(
        entry(&report["counted_only"], "customer_entity_text", "not read")["count"],
        1
    );
    assert_eq!(
        entry(
            &report["counted_only"],
            "catalog_product_entity_int",
            "of a store view"
        )["count"],
        1
    );
    assert_eq!(
        entry(
            &report["counted_only"],
            "catalog_product_entity_text",
            "not read"
        )["count"],
        1
    );
    let options: Json =
        serde_json::from_str(&std::fs::read_to_string(dir.join("attribute-options.json")).unwrap())
            .unwrap();
    assert_eq!(
        options,
        json!({
            "customer.loyalty_tier": {"20": "Silver", "21": "Gold"},
            "customer.interests": {"30": "Running", "31": "Hiking"},
            "product.color": {"40": "Red", "41": "Blue"},
            "product.material": {},
        })
    );
    // Custom columns load, with their types.
    crate::common::load(&dir);
}

/// Every amount of every order line passes through this parse: exact or refused.
#[test]
fn decimals_are_read_exactly_in_ten_thousandths_or_refused() {
    let read = [
        ("-12.34", Some(-123_400)),
        ("5", Some(50_000)),
        ("0.5000", Some(5_000)),
        (".5", Some(5_000)),
        ("7.", Some(70_000)),
        ("0012.00010000", Some(120_001)),
        ("9999999999999999.9999", Some(99_999_999_999_999_999_999)),
        ("10000000000000000", None),
        ("1.00001", None),
        ("", None),
        ("-", None),
        (".", None),
        ("1e5", None),
        ("+1", None),
        ("1.2.3", None),
        (" 1", None),
    ];
    for (text, units) in read {
        assert_eq!(segmint::magento::decimal_units(text), units, "{text:?}");
    }
}

#[test]
fn order_addresses_carry_the_flagged_address_attributes_commerce_keeps_for_them() {
    let Some(database) = shop("import_order_address_attributes") else {
        return;
    };
    database.sql(SEGMENT_FLAG);
    database.sql(CATALOG_ATTRIBUTES);
    database.sql(CATALOG);
    database.sql(ORDERS);
    // Two flagged address attributes; Commerce keeps a column on order addresses for the
    // select only, with a value for the shipping address.
    database.sql(
        "INSERT INTO eav_entity_type (entity_type_id, entity_type_code, entity_model) VALUES
           (2, 'customer_address', 'Magento\\\\Customer\\\\Model\\\\ResourceModel\\\\Address');
         INSERT INTO eav_attribute (attribute_id, entity_type_id, attribute_code, backend_type, frontend_input) VALUES
           (300, 2, 'delivery_window', 'int', 'select'), (301, 2, 'gate_code', 'varchar', 'text');
         INSERT INTO customer_eav_attribute (attribute_id, is_used_for_customer_segment) VALUES (300, 1), (301, 1);
         INSERT INTO eav_attribute_option (option_id, attribute_id) VALUES (50, 300), (51, 300);
         INSERT INTO eav_attribute_option_value (option_id, store_id, value) VALUES (50, 0, 'Morning'), (51, 0, 'Evening');
         INSERT INTO sales_order_address (entity_id, parent_id, address_type, firstname, lastname, street, city, telephone, country_id) VALUES
           (1, 1001, 'billing', 'Ann', 'Lee', 'x', 'Berlin', '1', 'DE'),
           (2, 1001, 'shipping', 'Ann', 'Lee', 'y', 'Austin', '2', 'US');
         CREATE TABLE magento_customercustomattributes_sales_flat_order_address (
           entity_id int(10) unsigned NOT NULL DEFAULT 0,
           delivery_window int(11) NULL DEFAULT NULL,
           PRIMARY KEY (entity_id));
         INSERT INTO magento_customercustomattributes_sales_flat_order_address (entity_id, delivery_window) VALUES (2, 51);",
    );
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("store");
    let report = import(&database.tcp_url(), &dir);
    let (columns, _) = table_rows(&dir, "order_addresses");
    assert_eq!(columns[11..], ["region_id", "delivery_window"]);
    assert_eq!(
        rows(&dir, "order_addresses"),
        [
            "1001|billing|Ann|Lee||x|Berlin|||1|DE||",
            "1001|shipping|Ann|Lee||y|Austin|||2|US||51",
        ]
    );
    let without = entry(
        &report["warnings"],
        "magento_customercustomattributes_sales_flat_order_address",
        "without a column here",
    );
    assert_eq!(without["keys"], json!(["gate_code"]));
    let options: Json =
        serde_json::from_str(&std::fs::read_to_string(dir.join("attribute-options.json")).unwrap())
            .unwrap();
    assert_eq!(
        options["order_address.delivery_window"],
        json!({"50": "Morning", "51": "Evening"})
    );
    crate::common::load(&dir);
}
