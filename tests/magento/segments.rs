//! Magento's stored segments imported as segment files: `conditions_serialized`
//! translated as magento.md's table says, the websites, `apply_to` and `active` carried,
//! and each segment that cannot be translated skipped with its problems in the report.

use serde_json::{Value as Json, json};

use super::import::{import, shop};
use super::mariadb::segmint;

/// A condition node as Magento stores it (types without their common prefix, which
/// Magento accepts too).
pub fn node(kind: &str, fields: Json) -> Json {
    let mut node = json!({"type": kind});
    node.as_object_mut()
        .unwrap()
        .extend(fields.as_object().unwrap().clone());
    node
}

pub fn root(aggregator: &str, value: &str, conditions: Vec<Json>) -> Json {
    node(
        "Combine\\Root",
        json!({"aggregator": aggregator, "value": value, "conditions": conditions}),
    )
}

/// `text` as a MySQL string literal.
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// Inserts a segment: id, name, active, apply_to, conditions_serialized, websites.
pub fn segment_sql(
    id: i64,
    name: Option<&str>,
    active: i64,
    apply_to: i64,
    conditions: Option<&str>,
    websites: &[i64],
) -> String {
    let mut sql = format!(
        "INSERT INTO magento_customersegment_segment (segment_id, name, is_active, apply_to, conditions_serialized, processing_frequency) \
         VALUES ({id}, {}, {active}, {apply_to}, {}, 1);",
        name.map_or("NULL".to_string(), literal),
        conditions.map_or("NULL".to_string(), literal)
    );
    for website in websites {
        sql.push_str(&format!(
            "INSERT INTO magento_customersegment_website (segment_id, website_id) VALUES ({id}, {website});"
        ));
    }
    sql
}

pub fn attribute(kind: &str, attribute: &str, operator: &str, value: &str) -> Json {
    node(
        kind,
        json!({"attribute": attribute, "operator": operator, "value": value}),
    )
}

#[test]
fn stored_segments_are_translated_into_segment_files_and_the_untranslatable_skipped() {
    let Some(database) = shop("import_segments") else {
        return;
    };
    let female_subscribers = root(
        "all",
        "1",
        vec![
            attribute("Customer\\Attributes", "group_id", "==", "1"),
            attribute("Customer\\Attributes", "gender", "==", "2"),
            node("Customer\\Newsletter", json!({"value": "1"})),
        ],
    );
    let spenders = root(
        "any",
        "0",
        vec![
            node(
                "Sales\\Salesamount",
                json!({"attribute": "total", "operator": ">=", "value": "100", "aggregator": "all",
                "conditions": [
                    attribute("Order\\Status", "", "==", "complete"),
                    node("Uptodate", json!({"operator": ">=", "value": "30"})),
                ]}),
            ),
            node(
                "Sales\\Ordersnumber",
                json!({"operator": "==", "value": "0", "aggregator": "all"}),
            ),
        ],
    );
    let carts = root(
        "all",
        "1",
        vec![
            node(
                "Product\\Combine\\ListCombine",
                json!({"value": "shopping_cart", "operator": "==", "aggregator": "all",
                "conditions": [
                    attribute("Product\\Attributes", "category_ids", "==", "3, 5"),
                    node("Daterange", json!({"operator": "==", "value": "2026-11-01...11/30/2026"})),
                ]}),
            ),
            node(
                "Product\\Combine\\ListCombine",
                json!({"value": "wishlist", "operator": "!=", "aggregator": "any",
                       "conditions": [node("Daterange", json!({"operator": "==", "value": "2026-11-01...2026-11-30"}))]}),
            ),
            attribute("Shoppingcart\\Amount", "subtotal", ">=", "49.99"),
        ],
    );
    let german_billing = root(
        "all",
        "1",
        vec![node(
            "Customer\\Address",
            json!({"value": "1", "aggregator": "all", "conditions": [
                attribute("Customer\\Address\\Attributes", "country_id", "==", "DE"),
                node("Customer\\Address\\DefaultAddress", json!({"operator": "==", "value": "default_billing"})),
            ]}),
        )],
    );
    let unknown = root(
        "all",
        "1",
        vec![attribute("Customer\\Shoesize", "size", "==", "42")],
    );
    let no_attribute = root(
        "all",
        "1",
        vec![attribute(
            "Customer\\Attributes",
            "favourite_colour",
            "==",
            "red",
        )],
    );
    let mut sql = String::new();
    for (id, name, conditions, websites) in [
        (
            1,
            Some("Female subscribers"),
            Some(female_subscribers.to_string()),
            vec![1],
        ),
        (
            2,
            Some("Not big spenders"),
            Some(spenders.to_string()),
            vec![1, 2],
        ),
        (3, Some("Runner carts"), Some(carts.to_string()), vec![1]),
        (
            4,
            Some("German billing"),
            Some(german_billing.to_string()),
            vec![1],
        ),
        (
            5,
            Some("Old"),
            Some("a:1:{s:4:\"type\";s:4:\"Root\";}".to_string()),
            vec![1],
        ),
        (6, Some("Broken"), Some("{\"type\": ".to_string()), vec![1]),
        (7, Some("Shoes"), Some(unknown.to_string()), vec![1]),
        (
            8,
            Some("Nowhere"),
            Some(female_subscribers.to_string()),
            vec![],
        ),
        (9, Some("Colour"), Some(no_attribute.to_string()), vec![1]),
        (10, None, None, vec![2]),
    ] {
        let apply_to = if id == 3 { 0 } else { 1 };
        let active = i64::from(id != 10);
        sql.push_str(&segment_sql(
            id,
            name,
            active,
            apply_to,
            conditions.as_deref(),
            &websites,
        ));
    }
    database.sql(&sql);
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("store");
    let report = import(&database.tcp_url(), &dir);
    let file = |id: i64| -> Json {
        serde_json::from_str(
            &std::fs::read_to_string(dir.join(format!("segments/{id}.json"))).unwrap(),
        )
        .unwrap()
    };
    assert_eq!(
        file(1),
        json!({"name": "Female subscribers", "websites": [1], "apply_to": "registered", "active": true,
               "conditions": {"all": [
                   {"field": "customer.group_id", "op": "eq", "value": 1},
                   {"field": "customer.gender", "op": "eq", "value": "female"},
                   {"field": "customer.newsletter_subscribed", "op": "eq", "value": true}]}})
    );
    assert_eq!(
        file(2)["conditions"],
        json!({"not_all": [
            {"aggregate": "sum", "of": "order.grand_total", "op": "gte", "value": 100,
             "where": {"all": [{"field": "order.status", "op": "eq", "value": "complete"},
                               {"field": "order.created_at", "op": "in_last_days", "value": 30}]}},
            {"aggregate": "count", "of": "order", "op": "eq", "value": 0}]})
    );
    assert_eq!(
        file(3),
        json!({"name": "Runner carts", "websites": [1], "apply_to": "both", "active": true,
               "conditions": {"all": [
                   {"has": "cart_item", "where": {"all": [
                       {"field": "product.category_ids", "op": "has_any", "value": [3, 5]},
                       {"field": "cart_item.added_at", "op": "between", "value": ["2026-11-01", "2026-11-30"]}]}},
                   {"not": {"has": "wishlist_item", "where": {"any": [
                       {"field": "wishlist_item.added_at", "op": "between", "value": ["2026-11-01", "2026-11-30"]}]}}},
                   {"field": "cart.subtotal", "op": "gte", "value": 49.99}]}})
    );
    assert_eq!(
        file(4)["conditions"],
        json!({"all": [{"has": "address", "where": {"all": [
            {"field": "address.country_id", "op": "eq", "value": "DE"},
            {"field": "address.is_default_billing", "op": "eq", "value": true}]}}]})
    );
    assert_eq!(
        file(10),
        json!({"name": "segment 10", "websites": [2], "apply_to": "registered", "active": false,
               "conditions": {"all": []}})
    );
    let segments = report["segments"].as_array().unwrap();
    let of = |id: i64| segments.iter().find(|s| s["segment_id"] == id).unwrap();
    for id in [1, 2, 3, 4, 10] {
        assert_eq!(of(id)["result"], "imported", "{:#}", of(id));
        assert_eq!(of(id)["definition_sha256"].as_str().unwrap().len(), 64);
    }
    let problems = |id: i64| -> Vec<(String, String, String)> {
        of(id)["problems"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["severity"].as_str().unwrap().to_string(),
                    p["path"].as_str().unwrap().to_string(),
                    p["reason"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    assert!(problems(1).is_empty(), "{:?}", problems(1));
    let warned = |id: i64, path: &str, reason: &str| {
        assert!(
            problems(id)
                .iter()
                .any(|(s, p, r)| s == "warning" && p == path && r.contains(reason)),
            "segment {id}: no warning at {path} with {reason:?}: {:?}",
            problems(id)
        );
    };
    warned(2, "/conditions/1", "no order at all");
    warned(3, "/conditions/1", "inverts those children");
    warned(10, "", "no name");
    let skipped = |id: i64, path: &str, reason: &str| {
        assert_eq!(of(id)["result"], "skipped", "{:#}", of(id));
        assert!(!dir.join(format!("segments/{id}.json")).exists());
        assert!(
            problems(id)
                .iter()
                .any(|(s, p, r)| s == "untranslatable" && p == path && r.contains(reason)),
            "segment {id}: no problem at {path} with {reason:?}: {:?}",
            problems(id)
        );
    };
    skipped(5, "", "PHP-serialized");
    skipped(6, "", "not JSON");
    skipped(7, "/conditions/0", "unknown condition type");
    skipped(8, "", "no website");
    skipped(
        9,
        "/conditions/0",
        "customer.favourite_colour is not a field",
    );

    // An imported segment evaluates over the imported data: Ann is the one female
    // General customer subscribed on website 1.
    let (ok, stdout, stderr) = segmint(
        &[
            "eval",
            "--data",
            dir.to_str().unwrap(),
            "--ids",
            dir.join("segments/1.json").to_str().unwrap(),
        ],
        &[],
    );
    assert!(ok, "{stderr}");
    assert_eq!(
        stdout.split_whitespace().collect::<Vec<_>>(),
        ["c:1"],
        "{stdout}"
    );
}

/// A condition under a product list or sales condition, with the list's other keys.
fn under(kind: &str, fields: Json, child: Json) -> Json {
    let mut parent = node(kind, fields);
    parent["aggregator"] = json!("all");
    parent["conditions"] = json!([child]);
    parent
}

#[test]
fn each_operator_value_and_period_form_is_translated_as_its_label_says() {
    let Some(database) = shop("import_segment_forms") else {
        return;
    };
    database.sql(
        "INSERT INTO eav_attribute_set (attribute_set_id, entity_type_id, attribute_set_name) VALUES (4, 4, 'Default');",
    );
    let customer =
        |attr: &str, op: &str, value: &str| attribute("Customer\\Attributes", attr, op, value);
    let orders = json!({"attribute": "total", "operator": ">=", "value": "1"});
    // (Magento condition, its translation, a warning it gets)
    let cases: Vec<(Json, Json, Option<&str>)> = vec![
        (
            customer("email", "{}", "%@example.com"),
            json!({"field": "customer.email", "op": "contains", "value": "%@example.com"}),
            Some("LIKE wildcards"),
        ),
        (
            customer("group_id", "!=", "1, 2"),
            json!({"field": "customer.group_id", "op": "not_in", "value": [1, 2]}),
            None,
        ),
        (
            customer("firstname", "{}", "an,nn"),
            json!({"all": [{"field": "customer.firstname", "op": "contains", "value": "an"}, {"field": "customer.firstname", "op": "contains", "value": "nn"}]}),
            None,
        ),
        (
            customer("group_id", "()", "0,3"),
            json!({"field": "customer.group_id", "op": "in", "value": [0, 3]}),
            None,
        ),
        (
            customer("dob", "==", "1990-05-17"),
            json!({"field": "customer.dob", "op": "eq", "value": "1990-05-17"}),
            Some("next day"),
        ),
        (
            customer("created_at", ">=", "2025-01-02 03:04:05"),
            json!({"field": "customer.created_at", "op": "gte", "value": "2025-01-02T03:04:05Z"}),
            None,
        ),
        (
            customer("created_at", "==", "01/02/2025"),
            json!({"field": "customer.created_at", "op": "eq", "value": "2025-01-02"}),
            None,
        ),
        (
            customer("default_billing", "==", "is_not_exists"),
            json!({"not": {"has": "address", "where": {"field": "address.is_default_billing", "op": "eq", "value": true}}}),
            None,
        ),
        (
            attribute("Customer\\Storecredit", "", "<", "10.5"),
            json!({"field": "customer.store_credit", "op": "lt", "value": 10.5}),
            None,
        ),
        (
            under(
                "Customer\\Address",
                json!({"value": "1"}),
                node("Customer\\Address\\Region", json!({"value": "0"})),
            ),
            json!({"has": "address", "where": {"all": [{"field": "address.region", "op": "is_null"}]}}),
            None,
        ),
        (
            under(
                "Order\\Address",
                json!({"value": "1"}),
                attribute("Order\\Address\\Type", "", "==", "shipping"),
            ),
            json!({"has": "order_address", "where": {"all": [{"field": "order_address.address_type", "op": "eq", "value": "shipping"}]}}),
            None,
        ),
        (
            attribute("Shoppingcart\\Itemsquantity", "", ">", "2"),
            json!({"field": "cart.items_count", "op": "gt", "value": 2}),
            None,
        ),
        (
            under(
                "Product\\Combine\\History",
                json!({"value": "viewed_history", "operator": "=="}),
                node("Uptodate", json!({"operator": "<", "value": "7"})),
            ),
            json!({"has": "product_view", "where": {"all": [{"field": "product_view.viewed_at", "op": "not_in_last_days", "value": 7}]}}),
            None,
        ),
        (
            under(
                "Product\\Combine\\History",
                json!({"value": "ordered_history", "operator": "=="}),
                attribute("Product\\Attributes", "attribute_set_id", "==", "4"),
            ),
            json!({"has": "order_item", "where": {"all": [{"field": "product.attribute_set", "op": "in", "value": ["Default"]}]}}),
            None,
        ),
        (
            under(
                "Product\\Combine\\ListCombine",
                json!({"value": "shopping_cart", "operator": "=="}),
                attribute("Product\\Attributes", "category_ids", "!=", "3"),
            ),
            json!({"has": "cart_item", "where": {"all": [{"field": "product.category_ids", "op": "has_none", "value": [3]}]}}),
            Some("other category"),
        ),
        (
            under(
                "Sales\\Purchasedquantity",
                json!({"attribute": "average", "operator": ">", "value": "2"}),
                node("Uptodate", json!({"operator": ">", "value": "10"})),
            ),
            json!({"aggregate": "avg", "of": "order.total_qty_ordered", "op": "gt", "value": 2, "where": {"all": [{"field": "order.created_at", "op": "in_last_days", "value": 10}]}}),
            Some("00:00:00"),
        ),
        (
            under(
                "Sales\\Salesamount",
                orders.clone(),
                node("Daterange", json!({"operator": "==", "value": "yesterday"})),
            ),
            json!({"aggregate": "sum", "of": "order.grand_total", "op": "gte", "value": 1}),
            Some("not a date range"),
        ),
        (
            under(
                "Sales\\Salesamount",
                orders.clone(),
                node(
                    "Daterange",
                    json!({"operator": "!=", "value": "2026-01-01...2026-01-31"}),
                ),
            ),
            json!({"aggregate": "sum", "of": "order.grand_total", "op": "gte", "value": 1, "where": {"all": [{"any": [
             {"field": "order.created_at", "op": "lt", "value": "2026-01-01"}, {"field": "order.created_at", "op": "gt", "value": "2026-01-31"}]}]}}),
            None,
        ),
        (
            under(
                "Sales\\Salesamount",
                orders,
                node("Uptodate", json!({"operator": ">=", "value": "0"})),
            ),
            json!({"aggregate": "sum", "of": "order.grand_total", "op": "gte", "value": 1}),
            Some("0 days"),
        ),
    ];
    // Untranslatable: Magento's "is undefined", a value that does not parse, a sales
    // condition where a customer one must stand.
    let refused: Vec<(Json, &str, &str)> = vec![
        (
            customer("group_id", "<=>", "1"),
            "/conditions/0",
            "operator \"<=>\"",
        ),
        (
            customer("group_id", "==", "abc"),
            "/conditions/0",
            "does not parse",
        ),
        (
            under(
                "Customer\\Address",
                json!({"value": "1"}),
                attribute("Order\\Status", "", "==", "complete"),
            ),
            "/conditions/0/conditions/0",
            "cannot stand here",
        ),
    ];
    let mut sql = String::new();
    for (i, (condition, _, _)) in cases.iter().enumerate() {
        let conditions = root("all", "1", vec![condition.clone()]).to_string();
        sql.push_str(&segment_sql(
            100 + i as i64,
            Some("case"),
            1,
            1,
            Some(&conditions),
            &[1],
        ));
    }
    for (i, (condition, _, _)) in refused.iter().enumerate() {
        let conditions = root("all", "1", vec![condition.clone()]).to_string();
        sql.push_str(&segment_sql(
            200 + i as i64,
            Some("refused"),
            1,
            1,
            Some(&conditions),
            &[1],
        ));
    }
    database.sql(&sql);
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("store");
    let report = import(&database.tcp_url(), &dir);
    let entry = |id: i64| {
        report["segments"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["segment_id"] == id)
            .unwrap()
            .clone()
    };
    for (i, (condition, expected, warning)) in cases.iter().enumerate() {
        let id = 100 + i as i64;
        let path = dir.join(format!("segments/{id}.json"));
        let entry = entry(id);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|_| panic!("{condition} was not imported: {entry:#}"));
        let file: Json = serde_json::from_str(&text).unwrap();
        assert_eq!(
            file["conditions"],
            json!({"all": [expected]}),
            "{condition}"
        );
        let warnings: Vec<&str> = entry["problems"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["reason"].as_str().unwrap())
            .collect();
        match warning {
            Some(reason) => assert!(
                warnings.len() == 1 && warnings[0].contains(reason),
                "{condition}: {warnings:?}"
            ),
            None => assert!(warnings.is_empty(), "{condition}: {warnings:?}"),
        }
    }
    for (i, (condition, path, reason)) in refused.iter().enumerate() {
        let entry = entry(200 + i as i64);
        assert_eq!(entry["result"], "skipped", "{condition}");
        let problem = &entry["problems"][0];
        assert_eq!(
            (&problem["severity"], &problem["path"]),
            (&json!("untranslatable"), &json!(path)),
            "{condition}: {entry:#}"
        );
        assert!(
            problem["reason"].as_str().unwrap().contains(reason),
            "{condition}: {entry:#}"
        );
    }
}
