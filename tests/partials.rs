//! Aggregates answered from per-subject partials (cells by website, status and period,
//! and the records of periods a time range cuts) against the reference evaluator. An
//! engine reads the records for the first request of a kind of partials and builds them
//! on the second, so each segment is evaluated three times: by records, then by
//! partials built for it, then by partials kept.

use std::collections::BTreeMap;

use proptest::prelude::*;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64;
use serde_json::{Value as Json, json};

use crate::differential::{
    AS_OF, comparison, engine_for, engine_members, oracle_members, push_order, world,
};
use crate::reference::{MICROS_PER_DAY, V, World};

const AS_OF_DAY: i64 = 20_393; // 2026-11-01

/// A world whose orders spread over two years, at any time of day, so that ranges
/// take periods whole, cut them at a day, and cut days.
fn world_of_orders(seed: u64, customers: usize, orders: usize) -> World {
    let mut world = world(seed, customers);
    let mut rng = Pcg64::seed_from_u64(seed ^ 0x0dde);
    let owners: Vec<V> = world
        .customers
        .iter()
        .map(|c| c.get("customer_id"))
        .collect();
    for n in 0..orders {
        let owner = owners.choose(&mut rng).cloned().unwrap_or(V::Null);
        push_order(&mut world, &mut rng, V::Int(5_000_000 + n as i64), owner);
        let order = world.orders.last_mut().unwrap();
        if !rng.random_bool(0.05) {
            let day = AS_OF_DAY - rng.random_range(-3..730);
            let micros = *[0, 1, 43_200_000_000, 86_399_999_999]
                .choose(&mut rng)
                .unwrap();
            order
                .0
                .insert("created_at", V::Ts(day * MICROS_PER_DAY + micros));
        }
    }
    world
}

/// A `where` of the forms partials answer (status and `created_at` tests in an `all`),
/// and now and then one they do not.
fn partial_where(rng: &mut Pcg64) -> Json {
    let mut tests = Vec::new();
    for _ in 0..rng.random_range(0..3) {
        tests.push(comparison(rng, "order.status"));
    }
    for _ in 0..rng.random_range(0..3) {
        let days = *[0, 1, 30, 63, 64, 65, 128, 365, 700].choose(rng).unwrap();
        let date = |rng: &mut Pcg64| {
            let day = AS_OF_DAY - rng.random_range(0..800);
            let date = chrono::DateTime::from_timestamp(day * 86_400, 0).unwrap();
            date.format("%Y-%m-%d").to_string()
        };
        tests.push(match rng.random_range(0..6) {
            0 => json!({"field": "order.created_at", "op": "in_last_days", "value": days}),
            1 => json!({"field": "order.created_at", "op": "not_in_last_days", "value": days}),
            2 => json!({"field": "order.created_at", "op": "gte", "value": date(rng)}),
            3 => json!({"field": "order.created_at", "op": "between",
                        "value": [date(rng), date(rng)]}),
            4 => json!({"field": "order.created_at", "op": "ne", "value": date(rng)}),
            // An instant within a day: answered by records.
            _ => comparison(rng, "order.created_at"),
        });
    }
    if rng.random_bool(0.1) {
        tests.push(comparison(rng, "order.grand_total"));
    }
    json!({"all": tests})
}

fn aggregate_segment(rng: &mut Pcg64) -> Json {
    let (function, of, like) = *[
        ("sum", "order.grand_total", "customer.store_credit"),
        ("avg", "order.grand_total", "customer.store_credit"),
        ("count", "order", "customer.group_id"),
        ("min", "order.created_at", "customer.created_at"),
        ("max", "order.total_qty_ordered", "customer.store_credit"),
    ]
    .choose(rng)
    .unwrap();
    let mut condition = comparison(rng, like);
    while matches!(condition["op"].as_str(), Some("is_null" | "is_not_null")) {
        condition = comparison(rng, like);
    }
    let map = condition.as_object_mut().unwrap();
    map.remove("field");
    map.insert("aggregate".into(), json!(function));
    map.insert("of".into(), json!(of));
    if !rng.random_bool(0.1) {
        map.insert("where".into(), partial_where(rng));
    }
    let websites = [json!([1]), json!([2]), json!([1, 2])]
        .choose(rng)
        .unwrap()
        .clone();
    json!({"name": "partials", "websites": websites, "apply_to": "registered",
           "conditions": condition})
}

fn check(seed: u64, customers: usize, orders: usize, segments: usize) -> Result<(), TestCaseError> {
    let world = world_of_orders(seed, customers, orders);
    let (_dir, engine) = engine_for(&world);
    let mut rng = Pcg64::seed_from_u64(seed);
    for _ in 0..segments {
        let segment = aggregate_segment(&mut rng);
        check_segment(&world, &engine, &segment, &format!("seed {seed}"))?;
    }
    Ok(())
}

/// `segment` by records, by partials built and by partials kept against the reference
/// evaluator, at every evaluation time.
fn check_segment(
    world: &World,
    engine: &segmint::segment::engine::Engine,
    segment: &Json,
    case: &str,
) -> Result<(), TestCaseError> {
    let none = BTreeMap::new();
    for as_of in AS_OF {
        let expected = oracle_members(world, segment, as_of, &none);
        for evaluation in ["by records", "by partials built", "by partials kept"] {
            let actual = engine_members(engine, segment, as_of, &none);
            prop_assert_eq!(
                &actual,
                &expected,
                "{} {} as_of {}\nsegment {}",
                evaluation,
                case,
                as_of,
                serde_json::to_string(segment).unwrap()
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(48),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn partial_aggregates_equal_the_reference_evaluator(seed in any::<u64>(), customers in 0usize..12, orders in 0usize..200) {
        check(seed, customers, orders, 12)?;
    }
}

/// Subjects whose orders all have a null total (no maximum, no average) beside
/// subjects with totals and subjects without orders in range: partials answer as the
/// reference evaluator, by records, built and kept.
#[test]
fn partial_aggregates_of_null_values_equal_the_reference_evaluator() {
    let mut world = world_of_orders(23, 40, 400);
    let without_totals: Vec<V> = world
        .customers
        .iter()
        .step_by(3)
        .map(|c| c.get("customer_id"))
        .collect();
    for order in &mut world.orders {
        if without_totals.contains(&order.get("customer_id")) {
            order.0.insert("total_qty_ordered", V::Null);
            order.0.insert("grand_total", V::Null);
        }
    }
    let (_dir, engine) = engine_for(&world);
    let recent_complete = json!({"all": [
        {"field": "order.status", "op": "eq", "value": "complete"},
        {"field": "order.created_at", "op": "in_last_days", "value": 365}]});
    for (function, of, op, value) in [
        ("max", "order.total_qty_ordered", "lt", json!(1000)),
        ("max", "order.total_qty_ordered", "ne", json!(3)),
        ("avg", "order.grand_total", "lt", json!(1000)),
        ("sum", "order.grand_total", "lte", json!(0)),
        ("min", "order.grand_total", "lt", json!(100000)),
    ] {
        let segment = json!({"name": "null totals", "websites": [1, 2], "apply_to": "registered",
            "conditions": {"aggregate": function, "of": of, "op": op, "value": value,
                "where": recent_complete}});
        check_segment(&world, &engine, &segment, "null totals").unwrap();
    }
}

/// Enough subjects that the cells are combined in many chunks and on both threads:
/// partials answer as the records do (which the tests above hold to the reference
/// evaluator; it is too slow for this many).
#[test]
fn partial_aggregates_over_many_subjects_equal_the_records() {
    let world = world_of_orders(17, 20_000, 40_000);
    let (_dir, engine) = engine_for(&world);
    let mut rng = Pcg64::seed_from_u64(17);
    let none = BTreeMap::new();
    let mut answered = 0;
    while answered < 12 {
        let segment = aggregate_segment(&mut rng);
        let by_records = engine_members(&engine, &segment, AS_OF[1], &none);
        for _ in 0..2 {
            let by_partials = engine_members(&engine, &segment, AS_OF[1], &none);
            assert_eq!(by_partials, by_records, "{segment}");
        }
        answered += usize::from(!by_records.is_empty());
    }
}
