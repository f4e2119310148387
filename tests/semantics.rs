//! Hand-written cases for each Magento semantic segment-language.md names, on a small
//! dataset whose every row is here.

use std::sync::Arc;

use segmint::data::value::parse_instant;
use segmint::segment::{Engine, NoSegments, Segment};
use serde_json::{Value as Json, json};

use crate::common::{csv_dataset, load};

const CUSTOMERS: &str = "\
customer_id,website_id,group_id,email,dob,created_at
1,1,1,Anna@Example.COM,1990-02-28,2026-01-15T10:00:00Z
2,1,2,bob@shop.de,2000-02-29,2026-10-31T23:59:59Z
3,1,,carl@shop.de,,
4,2,1,dora@shop.de,1986-11-01,2026-11-01T00:00:00Z
";

const ADDRESSES: &str = "\
address_id,customer_id,is_default_billing,country_id
10,1,false,DE
11,1,true,FR
12,2,true,de
";

const ORDERS: &str = "\
order_id,customer_id,website_id,created_at,status,grand_total
100,1,1,2026-03-31T23:59:59Z,complete,500.0000
101,1,1,2026-10-02T00:00:00Z,complete,100.0001
102,2,1,2026-04-01T00:00:00Z,Complete,100.0000
103,2,1,2026-10-01T23:59:59.999999Z,canceled,100.0001
104,3,2,2026-10-20T12:00:00Z,complete,50.0000
105,,1,2026-10-20T12:00:00Z,complete,999.0000
";

const CARTS: &str = "\
cart_id,customer_id,visitor_id,website_id,is_active,grand_total
200,1,,1,true,80.0000
201,2,,1,false,900.0000
202,,7,1,true,20.0000
";

const VIEWS: &str = "\
customer_id,visitor_id,product_id,website_id,viewed_at
,7,300,1,2026-10-30T08:00:00Z
1,,300,2,2026-10-30T08:00:00Z
";

const PRODUCTS: &str = "product_id,sku,category_ids\n300,SKU-300,12|14\n";

/// Evaluation time: mid-morning of 2026-11-01 (UTC).
const AS_OF: &str = "2026-11-01T10:00:00Z";

struct Store {
    _dir: tempfile::TempDir,
    engine: Engine,
}

fn store() -> Store {
    let dir = csv_dataset(&[
        ("customers.csv", CUSTOMERS),
        ("addresses.csv", ADDRESSES),
        ("orders.csv", ORDERS),
        ("carts.csv", CARTS),
        ("product_views.csv", VIEWS),
        ("products.csv", PRODUCTS),
    ]);
    let engine = Engine::new(Arc::new(load(dir.path())));
    Store { _dir: dir, engine }
}

impl Store {
    /// Members of a segment on website 1 (customers and visitors) with these conditions.
    fn members(&self, conditions: Json) -> Vec<String> {
        self.members_of(json!({"name": "case", "websites": [1], "conditions": conditions}))
    }

    fn members_of(&self, segment: Json) -> Vec<String> {
        let segment = Segment::from_json(&segment, self.engine.schema()).expect("valid");
        let as_of = parse_instant(AS_OF).unwrap();
        let evaluation = self
            .engine
            .evaluate(&segment, None, as_of, &NoSegments)
            .expect("evaluates");
        self.engine.member_ids(&evaluation.members).collect()
    }
}

#[test]
fn one_address_must_satisfy_every_condition_of_an_all_inside_has_address() {
    let store = store();
    // Customer 1 has a German address and a default billing address, but not one that
    // is both; customer 2 has one (country codes compare case-insensitively).
    let found = store.members(json!({"has": "address", "where": {"all": [
        {"field": "address.is_default_billing", "op": "eq", "value": true},
        {"field": "address.country_id", "op": "eq", "value": "DE"}]}}));
    assert_eq!(found, ["c:2"]);
}

#[test]
fn count_sum_and_avg_over_zero_orders_are_zero_and_visitors_have_no_orders() {
    let store = store();
    // Customer 3 ordered only on website 2: for website 1 they have no orders. Visitor 7
    // has no orders at all, and aggregates over orders are false for visitors.
    assert_eq!(
        store.members(json!({"aggregate": "count", "of": "order", "op": "lt", "value": 1})),
        ["c:3"]
    );
    assert_eq!(
        store.members(
            json!({"aggregate": "sum", "of": "order.grand_total", "op": "eq", "value": 0})
        ),
        ["c:3"]
    );
    assert_eq!(
        store.members(
            json!({"aggregate": "avg", "of": "order.grand_total", "op": "lte", "value": 0})
        ),
        ["c:3"]
    );
}

#[test]
fn min_and_max_over_no_records_have_no_value() {
    let store = store();
    let min_below =
        json!({"aggregate": "min", "of": "order.grand_total", "op": "lt", "value": 1000});
    assert_eq!(store.members(min_below.clone()), ["c:1", "c:2"]);
    // Negated, the customer without orders and the visitor come in.
    assert_eq!(store.members(json!({"not": min_below})), ["c:3", "v:7"]);
}

#[test]
fn min_over_every_order_leaves_out_customers_without_orders() {
    // Regression: aggregates without a `where` read per-subject rollups; these once gave
    // customers without orders DataFusion's value for a group that saw no rows.
    let store = store();
    let first_order_this_year = json!({"aggregate": "min", "of": "order.created_at",
        "op": "gte", "value": "2026-01-01"});
    assert_eq!(store.members(first_order_this_year.clone()), ["c:1", "c:2"]);
    assert_eq!(
        store.members(json!({"not": first_order_this_year})),
        ["c:3", "v:7"]
    );
}

#[test]
fn aggregates_over_every_order_keep_each_scope_apart() {
    // Rollups are kept per scope: one engine, website 1, then 2, then both, then 1 again.
    // Customer 3 belongs to website 1 but ordered on website 2; customer 4 (website 2)
    // never ordered.
    let store = store();
    let orders = |websites: Json| {
        store.members_of(
            json!({"name": "case", "websites": websites, "apply_to": "registered",
            "conditions": {"aggregate": "count", "of": "order", "op": "gte", "value": 1}}),
        )
    };
    assert_eq!(orders(json!([1])), ["c:1", "c:2"]);
    assert!(orders(json!([2])).is_empty());
    assert_eq!(orders(json!([1, 2])), ["c:1", "c:2", "c:3"]);
    assert_eq!(orders(json!([1])), ["c:1", "c:2"]);
}

#[test]
fn averages_compare_exactly() {
    let store = store();
    // Customer 1: (500 + 100.0001) / 2 = 300.00005; customer 2: (100 + 100.0001) / 2 = 100.00005.
    let avg = |op: &str, value: Json| {
        store.members(
            json!({"aggregate": "avg", "of": "order.grand_total", "op": op, "value": value}),
        )
    };
    assert_eq!(avg("gt", json!(100)), ["c:1", "c:2"]);
    assert_eq!(avg("gte", json!(100.0001)), ["c:1"]);
    assert_eq!(avg("eq", json!(300.0001)), Vec::<String>::new());
    assert_eq!(avg("between", json!([100.0001, 300.0001])), ["c:1"]);
}

#[test]
fn a_date_range_includes_the_whole_end_day() {
    let store = store();
    // Order 100 at 2026-03-31T23:59:59Z is in March; order 102 at 2026-04-01T00:00:00Z is not.
    let march = json!({"has": "order", "where": {"field": "order.created_at", "op": "between", "value": ["2026-03-01", "2026-03-31"]}});
    assert_eq!(store.members(march), ["c:1"]);
    let on_the_day = json!({"has": "order", "where": {"field": "order.created_at", "op": "eq", "value": "2026-03-31"}});
    assert_eq!(store.members(on_the_day), ["c:1"]);
    let up_to = json!({"has": "order", "where": {"field": "order.created_at", "op": "lte", "value": "2026-03-31"}});
    assert_eq!(store.members(up_to), ["c:1"]);
    let exact = json!({"has": "order", "where": {"field": "order.created_at", "op": "lt", "value": "2026-03-31T23:59:59Z"}});
    assert_eq!(store.members(exact), Vec::<String>::new());
}

#[test]
fn in_last_days_starts_at_midnight_utc_of_the_day_n_days_before() {
    let store = store();
    // As of 2026-11-01T10:00Z, 30 days back is 2026-10-02T00:00Z: order 101 (customer 1)
    // is exactly on it, order 103 (customer 2) one microsecond before.
    let recent = json!({"has": "order", "where": {"field": "order.created_at", "op": "in_last_days", "value": 30}});
    assert_eq!(store.members(recent), ["c:1"]);
    let older = json!({"has": "order", "where": {"field": "order.created_at", "op": "not_in_last_days", "value": 30}});
    assert_eq!(store.members(older), ["c:1", "c:2"]);
    // Derived fields count whole UTC days too: customer 2 was created yesterday 23:59:59.
    let day_old = json!({"field": "customer.days_since_created", "op": "eq", "value": 1});
    assert_eq!(store.members(day_old), ["c:2"]);
}

#[test]
fn null_compares_false_and_negation_inverts_plainly() {
    let store = store();
    let group = |op: &str| json!({"field": "customer.group_id", "op": op, "value": 1});
    // Customer 3 has no group: neither eq nor ne holds, and not(eq) does.
    assert_eq!(store.members(group("eq")), ["c:1"]);
    assert_eq!(store.members(group("ne")), ["c:2"]);
    assert_eq!(
        store.members(json!({"not": group("eq")})),
        ["c:2", "c:3", "v:7"]
    );
    assert_eq!(
        store.members(json!({"field": "customer.group_id", "op": "is_null"})),
        ["c:3"]
    );
    assert_eq!(
        store.members(json!({"none": [group("eq"), group("ne")]})),
        ["c:3", "v:7"]
    );
    assert_eq!(
        store.members(
            json!({"not_all": [group("eq"), {"field": "customer.group_id", "op": "is_not_null"}]})
        ),
        ["c:2", "c:3", "v:7"]
    );
}

#[test]
fn strings_compare_case_insensitively() {
    let store = store();
    let email = |op: &str, value: Json| {
        store.members(json!({"field": "customer.email", "op": op, "value": value}))
    };
    assert_eq!(email("eq", json!("anna@example.com")), ["c:1"]);
    assert_eq!(email("in", json!(["ANNA@EXAMPLE.com", "nobody"])), ["c:1"]);
    assert_eq!(email("contains", json!("EXAMPLE")), ["c:1"]);
    assert_eq!(email("starts_with", json!("ANNA")), ["c:1"]);
    assert_eq!(email("ends_with", json!("@Shop.DE")), ["c:2", "c:3"]);
    assert_eq!(email("not_contains", json!("shop")), ["c:1"]);
    // Order statuses too: "Complete" is complete.
    let complete = json!({"aggregate": "count", "of": "order", "op": "eq", "value": 2,
        "where": {"field": "order.status", "op": "eq", "value": "complete"}});
    assert_eq!(store.members(complete), ["c:1"]);
}

#[test]
fn visitors_have_only_carts_cart_items_and_product_views() {
    let store = store();
    assert_eq!(
        store.members(json!({"has": "product_view"})),
        ["v:7"],
        "customer 1 viewed on website 2 only"
    );
    assert_eq!(
        store.members(json!({"field": "cart.grand_total", "op": "lt", "value": 100})),
        ["c:1", "v:7"]
    );
    assert_eq!(
        store.members(json!({"not": {"has": "order"}})),
        ["c:3", "v:7"]
    );
    // A segment for visitors only considers visitors with a cart or view in scope.
    let visitors = store.members_of(json!({"name": "v", "websites": [1], "apply_to": "visitors",
        "conditions": {"has": "product_view", "where": {"field": "product.category_ids", "op": "has_any", "value": [12]}}}));
    assert_eq!(visitors, ["v:7"]);
    let registered =
        store.members_of(json!({"name": "r", "websites": [1], "apply_to": "registered"}));
    assert_eq!(registered, ["c:1", "c:2", "c:3"]);
}

#[test]
fn orders_carts_and_views_of_other_websites_do_not_count() {
    let store = store();
    // Customer 3 (website 1) ordered on website 2 only; guest order 105 counts for nobody.
    assert_eq!(store.members(json!({"has": "order"})), ["c:1", "c:2"]);
    let both_websites = store.members_of(json!({"name": "b", "websites": [1, 2], "apply_to": "registered",
        "conditions": {"has": "order", "where": {"field": "order.grand_total", "op": "gte", "value": 50}}}));
    assert_eq!(both_websites, ["c:1", "c:2", "c:3"]);
}

#[test]
fn inactive_carts_do_not_count_and_no_cart_makes_cart_fields_false() {
    let store = store();
    // Customer 2's only cart is inactive; customer 3 has none.
    assert_eq!(
        store.members(json!({"field": "cart.grand_total", "op": "gte", "value": 0})),
        ["c:1", "v:7"]
    );
    assert_eq!(
        store.members(json!({"field": "cart.grand_total", "op": "is_null"})),
        Vec::<String>::new()
    );
}

#[test]
fn empty_combinations_impose_nothing_and_inactive_segments_have_no_members() {
    let store = store();
    let everyone = ["c:1", "c:2", "c:3", "v:7"];
    for form in ["all", "any", "none", "not_all"] {
        assert_eq!(
            store.members(json!({form: []})),
            everyone,
            "{form} of nothing"
        );
    }
    let inactive = store.members_of(json!({"name": "off", "websites": [1], "active": false}));
    assert!(inactive.is_empty());
}

#[test]
fn birthdays_and_ages_count_whole_days_with_29_february_on_28_february() {
    let store = store();
    // As of 2026-11-01: customer 4 (website 2) turns 40 today; customer 2, born on
    // 29 February 2000, has a birthday on 28 February 2027 (119 days, the same day as
    // customer 1, born on 28 February) and is 26.
    let segment = |conditions: Json| {
        store.members_of(json!({"name": "b", "websites": [1, 2], "apply_to": "registered", "conditions": conditions}))
    };
    assert_eq!(
        segment(json!({"field": "customer.days_until_birthday", "op": "eq", "value": 0})),
        ["c:4"]
    );
    assert_eq!(
        segment(json!({"field": "customer.age", "op": "eq", "value": 40})),
        ["c:4"]
    );
    assert_eq!(
        segment(json!({"field": "customer.days_until_birthday", "op": "eq", "value": 119})),
        ["c:1", "c:2"]
    );
    assert_eq!(
        segment(json!({"field": "customer.age", "op": "eq", "value": 26})),
        ["c:2"]
    );
}
