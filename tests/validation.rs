//! Every kind of rejected definition: the error's kind, its JSON Pointer and what it says.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use segmint::data::generate::OutputFormat;
use segmint::segment::{
    DefinitionError, Engine, ErrorKind, EvalError, NoSegments, Segment, SegmentSource,
};
use serde_json::{Value as Json, json};

use crate::common::{generated, load};

/// One engine over a small generated dataset, shared by the cases.
fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let dir = generated(300, 3, OutputFormat::Parquet);
        Engine::new(Arc::new(load(dir.path())))
    })
}

fn rejected(text: &str) -> DefinitionError {
    match engine().parse(text) {
        Ok(_) => panic!("accepted: {text}"),
        Err(e) => e,
    }
}

/// The error for a segment on website 1 with these conditions.
fn rejected_conditions(conditions: Json) -> DefinitionError {
    rejected(&json!({"name": "x", "websites": [1], "conditions": conditions}).to_string())
}

fn assert_error(error: &DefinitionError, kind: ErrorKind, pointer: &str, says: &[&str]) {
    assert_eq!(error.kind, kind, "{error}");
    assert_eq!(error.pointer, pointer, "{error}");
    for part in says {
        assert!(
            error.message.contains(part),
            "{error:?} does not say {part:?}"
        );
    }
}

#[test]
fn malformed_definitions_are_syntax_errors() {
    assert_error(
        &rejected("{\"name\": "),
        ErrorKind::Syntax,
        "",
        &["not valid JSON", "line 1"],
    );
    assert_error(&rejected("[]"), ErrorKind::Syntax, "", &["JSON object"]);
    let misspelt = rejected(r#"{"name": "x", "websites": [1], "conditons": {}}"#);
    assert_error(
        &misspelt,
        ErrorKind::Syntax,
        "/conditons",
        &["unknown key", "did you mean \"conditions\""],
    );
    assert_error(
        &rejected(r#"{"websites": [1]}"#),
        ErrorKind::Syntax,
        "",
        &["missing key \"name\""],
    );
    assert_error(
        &rejected(r#"{"name": "x"}"#),
        ErrorKind::Syntax,
        "",
        &["missing key \"websites\""],
    );
    let not_object = rejected_conditions(json!({"all": [1]}));
    assert_error(
        &not_object,
        ErrorKind::Syntax,
        "/conditions/all/0",
        &["a condition is a JSON object", "a number"],
    );
    let no_form = rejected_conditions(json!({"alll": []}));
    assert_error(
        &no_form,
        ErrorKind::Syntax,
        "/conditions",
        &["did you mean \"all\""],
    );
    let extra = rejected_conditions(
        json!({"field": "customer.email", "op": "eq", "value": "a", "where": {}}),
    );
    assert_error(
        &extra,
        ErrorKind::Syntax,
        "/conditions/where",
        &["unknown key \"where\" in a comparison"],
    );
}

#[test]
fn segment_keys_are_checked() {
    let empty_name = rejected(r#"{"name": "", "websites": [1]}"#);
    assert_error(
        &empty_name,
        ErrorKind::BadValue,
        "/name",
        &["1 to 255 characters"],
    );
    let no_websites = rejected(r#"{"name": "x", "websites": []}"#);
    assert_error(
        &no_websites,
        ErrorKind::BadValue,
        "/websites",
        &["at least one"],
    );
    let bad_website = rejected(r#"{"name": "x", "websites": [1, "two"]}"#);
    assert_error(
        &bad_website,
        ErrorKind::BadValue,
        "/websites/1",
        &["integer"],
    );
    let apply_to = rejected(r#"{"name": "x", "websites": [1], "apply_to": "guests"}"#);
    assert_error(
        &apply_to,
        ErrorKind::BadValue,
        "/apply_to",
        &["registered", "visitors", "both"],
    );
}

#[test]
fn unknown_fields_name_the_closest_field_and_the_table_fields() {
    let error = rejected_conditions(
        json!({"all": [{"field": "customer.emial", "op": "eq", "value": "a"}]}),
    );
    assert_error(
        &error,
        ErrorKind::UnknownField,
        "/conditions/all/0/field",
        &["did you mean customer.email", "group_id"],
    );
    let table = rejected_conditions(json!({"field": "customers.email", "op": "eq", "value": "a"}));
    assert_error(
        &table,
        ErrorKind::UnknownField,
        "/conditions/field",
        &["did you mean customer.email"],
    );
}

#[test]
fn fields_of_other_tables_are_not_allowed_where_the_condition_stands() {
    let top = rejected_conditions(
        json!({"any": [{"field": "order.status", "op": "eq", "value": "complete"}]}),
    );
    assert_error(
        &top,
        ErrorKind::FieldNotHere,
        "/conditions/any/0/field",
        &[
            "at the top level",
            "customer.*, cart.*",
            "\"has\": \"order\"",
        ],
    );
    let inner = rejected_conditions(
        json!({"has": "address", "where": {"field": "order.status", "op": "eq", "value": "x"}}),
    );
    assert_error(
        &inner,
        ErrorKind::FieldNotHere,
        "/conditions/where/field",
        &["inside a \"where\" over address", "address.*"],
    );
    let nested = rejected_conditions(json!({"has": "order", "where": {"has": "order_item"}}));
    assert_error(
        &nested,
        ErrorKind::FieldNotHere,
        "/conditions/where",
        &["cannot stand inside a \"where\""],
    );
    let segment = rejected_conditions(json!({"has": "order", "where": {"in_segment": 3}}));
    assert_error(
        &segment,
        ErrorKind::FieldNotHere,
        "/conditions/where",
        &["in_segment"],
    );
}

#[test]
fn operators_are_checked_against_the_field_type() {
    let unknown =
        rejected_conditions(json!({"field": "customer.group_id", "op": "equals", "value": 1}));
    assert_error(
        &unknown,
        ErrorKind::UnknownOperator,
        "/conditions/op",
        &["unknown operator \"equals\"", "eq, ne, gt"],
    );
    let wrong =
        rejected_conditions(json!({"field": "customer.group_id", "op": "contains", "value": "1"}));
    assert_error(
        &wrong,
        ErrorKind::OperatorNotForType,
        "/conditions/op",
        &["int", "use one of eq, ne"],
    );
    let on_bool = rejected_conditions(
        json!({"field": "customer.newsletter_subscribed", "op": "gt", "value": true}),
    );
    assert_error(
        &on_bool,
        ErrorKind::OperatorNotForType,
        "/conditions/op",
        &["bool", "eq, ne, is_null, is_not_null"],
    );
    let aggregate = rejected_conditions(
        json!({"aggregate": "sum", "of": "order.grand_total", "op": "is_null"}),
    );
    assert_error(
        &aggregate,
        ErrorKind::OperatorNotForType,
        "/conditions/op",
        &["sum of order.grand_total"],
    );
}

#[test]
fn values_must_have_the_field_type() {
    let cases = [
        (
            json!({"field": "customer.group_id", "op": "eq", "value": "2"}),
            "/conditions/value",
            "expected an integer",
        ),
        (
            json!({"field": "customer.store_credit", "op": "gt", "value": 1.00001}),
            "/conditions/value",
            "at most 4 decimals",
        ),
        (
            json!({"field": "customer.group_id", "op": "in", "value": "1,2"}),
            "/conditions/value",
            "JSON list",
        ),
        (
            json!({"field": "customer.group_id", "op": "in", "value": [1, "2"]}),
            "/conditions/value/1",
            "expected an integer",
        ),
        (
            json!({"field": "customer.group_id", "op": "between", "value": [1]}),
            "/conditions/value",
            "[low, high]",
        ),
        (
            json!({"field": "customer.dob", "op": "eq", "value": "2026-02-30"}),
            "/conditions/value",
            "YYYY-MM-DD",
        ),
        (
            json!({"field": "customer.created_at", "op": "gt", "value": "yesterday"}),
            "/conditions/value",
            "timestamp",
        ),
        (
            json!({"field": "customer.created_at", "op": "in_last_days", "value": -1}),
            "/conditions/value",
            "whole number of days",
        ),
        (
            json!({"field": "customer.email", "op": "is_null", "value": "x"}),
            "/conditions/value",
            "takes no value",
        ),
        (
            json!({"field": "customer.email", "op": "eq"}),
            "/conditions",
            "missing key \"value\"",
        ),
        (
            json!({"aggregate": "sum", "of": "order.status", "op": "gt", "value": 1}),
            "/conditions/of",
            "int or decimal",
        ),
        (
            json!({"aggregate": "median", "of": "order.grand_total", "op": "gt", "value": 1}),
            "/conditions/aggregate",
            "count, sum, avg, min, max",
        ),
    ];
    for (conditions, pointer, says) in cases {
        let error = rejected_conditions(conditions.clone());
        assert_eq!(error.pointer, pointer, "{conditions}: {error}");
        assert!(
            error.message.contains(says),
            "{conditions}: {error} does not say {says:?}"
        );
        assert!(
            matches!(error.kind, ErrorKind::BadValue | ErrorKind::Syntax),
            "{error:?}"
        );
    }
}

#[test]
fn unknown_relations_name_the_closest() {
    let error = rejected_conditions(json!({"has": "orders"}));
    assert_error(
        &error,
        ErrorKind::UnknownRelation,
        "/conditions/has",
        &["did you mean \"order\"", "product_view"],
    );
    let of =
        rejected_conditions(json!({"aggregate": "count", "of": "views", "op": "gt", "value": 1}));
    assert_error(
        &of,
        ErrorKind::UnknownRelation,
        "/conditions/of",
        &["relations: address"],
    );
}

#[test]
fn segments_for_visitors_may_name_only_what_visitors_have() {
    let field = rejected(
        &json!({"name": "v", "websites": [1], "apply_to": "visitors",
        "conditions": {"all": [{"field": "customer.email", "op": "is_null"}]}})
        .to_string(),
    );
    assert_error(
        &field,
        ErrorKind::NotForVisitors,
        "/conditions/all/0/field",
        &["visitors only"],
    );
    let relation = rejected(
        &json!({"name": "v", "websites": [1], "apply_to": "visitors",
        "conditions": {"has": "order"}})
        .to_string(),
    );
    assert_error(
        &relation,
        ErrorKind::NotForVisitors,
        "/conditions/has",
        &["cart_item and product_view"],
    );
}

#[test]
fn limits_are_enforced_with_a_clear_error_and_no_stack_overflow() {
    let mut deep = json!({"field": "customer.group_id", "op": "eq", "value": 1});
    for _ in 0..64 {
        deep = json!({"not": deep});
    }
    assert_error(
        &rejected_conditions(deep),
        ErrorKind::Limit,
        "/conditions/not/not/not/not/not/not/not/not/not/not/not/not/not/not/not/not/not/not/not/not/not/not/not/not/not/not/not/not/not/not/not/not/not/not/not/not/not/not/not/not/not/not/not/not/not/not/not/not/not/not/not/not/not/not/not/not/not/not/not/not/not/not/not/not",
        &["deeper than the limit of 64"],
    );
    // Far deeper than any parser stack: rejected by the JSON reader's own limit.
    let very_deep = format!(
        "{{\"name\":\"x\",\"websites\":[1],\"conditions\":{}{}}}",
        "{\"not\":".repeat(100_000),
        "}".repeat(100_000)
    );
    assert_error(
        &rejected(&very_deep),
        ErrorKind::Limit,
        "",
        &["deeper than the limit of 64"],
    );
    let many =
        json!({"any": vec![json!({"field": "customer.group_id", "op": "eq", "value": 1}); 10_000]});
    assert_error(
        &rejected_conditions(many),
        ErrorKind::Limit,
        "/conditions/any/9999",
        &["limit of 10000 condition nodes"],
    );
    let long_list = json!({"field": "customer.group_id", "op": "in", "value": vec![1; 100_001]});
    assert_error(
        &rejected_conditions(long_list),
        ErrorKind::Limit,
        "/conditions/value",
        &["limit is 100000 values"],
    );
    let huge = json!({"name": "x".repeat(10), "description": "y".repeat(4 * 1024 * 1024), "websites": [1]});
    assert_error(
        &rejected(&huge.to_string()),
        ErrorKind::Limit,
        "",
        &["limit is 4194304 bytes"],
    );
}

struct Library(BTreeMap<&'static str, Json>);

impl SegmentSource for Library {
    fn segment(&self, id: &str) -> Result<Option<Segment>, DefinitionError> {
        self.0
            .get(id)
            .map(|json| Segment::from_json(json, engine().schema()))
            .transpose()
    }
}

fn evaluation_error(
    segment: Json,
    id: Option<&str>,
    source: &dyn SegmentSource,
) -> DefinitionError {
    let parsed = Segment::from_json(&segment, engine().schema()).expect("valid on its own");
    match engine().evaluate(&parsed, id, 0, source) {
        Err(EvalError::Definition(e)) => e,
        Err(other) => panic!("{other}"),
        Ok(_) => panic!("evaluated: {segment}"),
    }
}

#[test]
fn in_segment_rejects_unknown_segments_and_cycles() {
    let refers = |id: &str| json!({"name": "r", "websites": [1], "conditions": {"all": [{"in_segment": id}]}});
    let unknown = evaluation_error(refers("nope"), None, &NoSegments);
    assert_error(
        &unknown,
        ErrorKind::UnknownSegment,
        "/conditions/all/0/in_segment",
        &["segment nope", "does not exist"],
    );
    let library = Library(BTreeMap::from([
        ("a", refers("b")),
        ("b", refers("a")),
        ("self", refers("self")),
    ]));
    let cycle = evaluation_error(refers("b"), Some("a"), &library);
    assert_error(
        &cycle,
        ErrorKind::Cycle,
        "/conditions/all/0/in_segment",
        &["a -> b -> a"],
    );
    let own = evaluation_error(refers("self"), Some("self"), &library);
    assert_error(
        &own,
        ErrorKind::Cycle,
        "/conditions/all/0/in_segment",
        &["self -> self"],
    );
    // A named segment that no longer fits the data is reported where it is named.
    let stale_library = Library(BTreeMap::from([(
        "stale",
        json!({"name": "s", "websites": [1], "conditions": {"field": "customer.group_id", "op": "eq", "value": "x"}}),
    )]));
    let stale = evaluation_error(refers("stale"), None, &stale_library);
    assert_error(
        &stale,
        ErrorKind::BadValue,
        "/conditions/all/0/in_segment",
        &["segment stale named here is invalid: /conditions/value: expected an integer"],
    );
    // A cycle further down is caught as well, from a segment that is not part of it.
    let outside = evaluation_error(refers("a"), Some("top"), &library);
    assert_error(
        &outside,
        ErrorKind::Cycle,
        "/conditions/all/0/in_segment",
        &["a -> b -> a"],
    );
}
