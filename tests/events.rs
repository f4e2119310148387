//! Events: random lists applied through the service against a naive model (the events
//! applied row by row to plain rows, then every segment evaluated by the reference
//! evaluator); every kind of bad event refused whole; memberships leaving with time after
//! an event; and the event log surviving SIGKILL at random moments.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, NaiveDate};
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64;
use segmint::data::value::parse_instant;
use segmint::events::{EventList, Layouts};
use segmint::segment::Engine;
use segmint::service::clock::ManualClock;
use segmint::service::state::StateDir;
use segmint::service::{
    EventsApplied, MembershipChange, Service, ServiceError, ServiceOptions, SubjectId,
};
use serde_json::{Value as Json, json};

use crate::differential::{AS_OF, engine_for, segment, world};
use crate::reference::{MICROS_PER_DAY, Oracle, Row, V, World, columns};

const INSTANTS: [&str; 5] = [
    "2026-10-31T12:00:00Z",
    "2026-10-25T08:30:00Z",
    "2026-10-02T00:00:00Z",
    "2026-01-15T08:00:00Z",
    "2025-12-31T23:59:59Z",
];
const STATUSES: [&str; 3] = ["complete", "canceled", "processing"];
const COUNTRIES: [&str; 3] = ["DE", "FR", "US"];
const DECIMALS: [&str; 5] = ["0", "12.5", "99.9999", "150", "500.0001"];

/// A list of events as a client sends it: parsed, then applied.
trait ApplyJson {
    fn apply_json(&self, list: &Json) -> Result<EventsApplied, ServiceError>;
}

impl ApplyJson for Service {
    fn apply_json(&self, list: &Json) -> Result<EventsApplied, ServiceError> {
        self.apply_events(self.parse_events(list.clone())?)
    }
}

/// A list of events parsed against the tables of `dataset`.
fn parsed(list: &Json, dataset: &segmint::store::Dataset) -> EventList {
    EventList::parse(list.clone(), &Layouts::of(dataset)).expect("a valid list")
}

// ---------------------------------------------------------------- the naive model

/// A JSON value of an event as the oracle's value of a column of `table`.
fn cell(table: &str, column: &str, value: &Json) -> V {
    let ty = columns(table)
        .iter()
        .find(|(name, _)| *name == column)
        .unwrap_or_else(|| panic!("{table} has no column {column}"))
        .1;
    if value.is_null() {
        return V::Null;
    }
    match ty {
        "id" | "int" => V::Int(value.as_i64().unwrap()),
        "decimal" => {
            let text = match value {
                Json::String(s) => s.clone(),
                other => other.to_string(),
            };
            let (whole, fraction) = text.split_once('.').unwrap_or((&text, ""));
            let fraction = format!("{fraction:0<4}");
            V::Dec(whole.parse::<i64>().unwrap() * 10_000 + fraction.parse::<i64>().unwrap())
        }
        "bool" => V::Bool(value.as_bool().unwrap()),
        "date" => {
            let date = NaiveDate::parse_from_str(value.as_str().unwrap(), "%Y-%m-%d").unwrap();
            V::Date((date - NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()).num_days() as i32)
        }
        "timestamp" => V::Ts(
            DateTime::parse_from_rfc3339(value.as_str().unwrap())
                .unwrap()
                .timestamp_micros(),
        ),
        "string" => V::Str(value.as_str().unwrap().to_string()),
        "list" => V::List(
            value
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_i64().unwrap())
                .collect(),
        ),
        other => panic!("type {other}"),
    }
}

/// The row of `table` an event (or a nested item) carries; `skip` names nested lists.
fn row_of(table: &str, object: &Json, skip: &[&str]) -> Row {
    let mut row = Row::default();
    for (key, value) in object.as_object().unwrap() {
        if key == "type" || skip.contains(&key.as_str()) {
            continue;
        }
        let column = columns(table)
            .iter()
            .find(|(name, _)| name == key)
            .unwrap()
            .0;
        row.0.insert(column, cell(table, column, value));
    }
    row
}

fn upsert(rows: &mut Vec<Row>, key: &str, row: Row) {
    let id = row.id(key);
    rows.retain(|r| r.id(key) != id);
    rows.push(row);
}

fn id_of(event: &Json, key: &str) -> i64 {
    event[key].as_i64().unwrap()
}

/// One event applied to plain rows, following interface.md literally.
fn apply_naively(world: &mut World, event: &Json) {
    match event["type"].as_str().unwrap() {
        "customer_upserted" => upsert(
            &mut world.customers,
            "customer_id",
            row_of("customers", event, &[]),
        ),
        "product_upserted" => upsert(
            &mut world.products,
            "product_id",
            row_of("products", event, &[]),
        ),
        "address_upserted" => upsert(
            &mut world.addresses,
            "address_id",
            row_of("addresses", event, &[]),
        ),
        "address_deleted" => {
            let id = id_of(event, "address_id");
            world.addresses.retain(|r| r.id("address_id") != Some(id));
        }
        "order_placed" => {
            let order_id = id_of(event, "order_id");
            world
                .orders
                .push(row_of("orders", event, &["items", "addresses"]));
            for (list, table, rows) in [
                ("items", "order_items", &mut world.order_items),
                ("addresses", "order_addresses", &mut world.order_addresses),
            ] {
                for item in event[list].as_array().into_iter().flatten() {
                    let mut row = row_of(table, item, &[]);
                    row.0.insert("order_id", V::Int(order_id));
                    rows.push(row);
                }
            }
        }
        "order_updated" => {
            let id = id_of(event, "order_id");
            let changes = row_of("orders", event, &[]);
            let order = world
                .orders
                .iter_mut()
                .find(|r| r.id("order_id") == Some(id))
                .unwrap();
            order.0.extend(changes.0);
        }
        "cart_updated" => {
            let cart_id = id_of(event, "cart_id");
            upsert(
                &mut world.carts,
                "cart_id",
                row_of("carts", event, &["items"]),
            );
            world
                .cart_items
                .retain(|r| r.id("cart_id") != Some(cart_id));
            for item in event["items"].as_array().into_iter().flatten() {
                let mut row = row_of("cart_items", item, &[]);
                row.0.insert("cart_id", V::Int(cart_id));
                world.cart_items.push(row);
            }
        }
        "wishlist_item_added" => world
            .wishlist_items
            .push(row_of("wishlist_items", event, &[])),
        "wishlist_item_removed" => {
            let (customer, product) = (id_of(event, "customer_id"), id_of(event, "product_id"));
            world.wishlist_items.retain(|r| {
                r.id("customer_id") != Some(customer) || r.id("product_id") != Some(product)
            });
        }
        "product_viewed" => world
            .product_views
            .push(row_of("product_views", event, &[])),
        "visitor_logged_in" => {
            let (visitor, customer) = (id_of(event, "visitor_id"), id_of(event, "customer_id"));
            for row in world.carts.iter_mut().chain(world.product_views.iter_mut()) {
                if row.id("visitor_id") == Some(visitor) {
                    row.0.insert("visitor_id", V::Null);
                    row.0.insert("customer_id", V::Int(customer));
                }
            }
        }
        other => panic!("event type {other}"),
    }
}

fn is_active(cart: &Row) -> bool {
    !matches!(cart.get("is_active"), V::Bool(false))
}

/// data-model.md: a subject has at most one active cart per website; where there are more,
/// the most recently updated (then the highest cart id) wins and the others count as
/// inactive.
fn one_active_cart(world: &mut World) {
    let recency = |cart: &Row| {
        let updated = match cart.get("updated_at") {
            V::Ts(t) => Some(t),
            _ => None,
        };
        (updated, cart.id("cart_id"))
    };
    let owner = |cart: &Row| {
        (
            cart.id("customer_id"),
            cart.id("visitor_id"),
            cart.id("website_id"),
        )
    };
    let mut newest: BTreeMap<_, usize> = BTreeMap::new();
    for (i, cart) in world.carts.iter().enumerate() {
        if !is_active(cart) {
            continue;
        }
        match newest.get(&owner(cart)) {
            Some(&kept) if recency(&world.carts[kept]) >= recency(cart) => {}
            _ => {
                newest.insert(owner(cart), i);
            }
        }
    }
    let winners: BTreeSet<usize> = newest.values().copied().collect();
    for (i, cart) in world.carts.iter_mut().enumerate() {
        if is_active(cart) && !winners.contains(&i) {
            cart.0.insert("is_active", V::Bool(false));
        }
    }
}

// ---------------------------------------------------------------- random events

fn pick<'a, T>(rng: &mut Pcg64, items: &'a [T]) -> Option<&'a T> {
    (!items.is_empty()).then(|| &items[rng.random_range(0..items.len())])
}

fn ids(rows: &[Row], key: &str) -> Vec<i64> {
    let set: BTreeSet<i64> = rows.iter().filter_map(|r| r.id(key)).collect();
    set.into_iter().collect()
}

fn instant(rng: &mut Pcg64) -> &'static str {
    INSTANTS[rng.random_range(0..INSTANTS.len())]
}

fn decimal(rng: &mut Pcg64) -> Json {
    let text = DECIMALS[rng.random_range(0..DECIMALS.len())];
    if rng.random_bool(0.5) {
        json!(text)
    } else {
        serde_json::from_str(text).unwrap()
    }
}

/// A subject that exists now, or a new visitor.
fn subject(rng: &mut Pcg64, world: &World, fresh: &mut i64) -> (&'static str, i64) {
    let customers = ids(&world.customers, "customer_id");
    let visitors: Vec<i64> = ids(&world.carts, "visitor_id")
        .into_iter()
        .chain(ids(&world.product_views, "visitor_id"))
        .collect();
    match rng.random_range(0..4) {
        0 | 1 if !customers.is_empty() => ("customer_id", *pick(rng, &customers).unwrap()),
        2 if !visitors.is_empty() => ("visitor_id", *pick(rng, &visitors).unwrap()),
        _ => {
            *fresh += 1;
            ("visitor_id", *fresh)
        }
    }
}

/// A valid event over `world` as it is now (ids it names exist; new ids are new).
fn random_event(rng: &mut Pcg64, world: &World, fresh: &mut i64) -> Json {
    let customers = ids(&world.customers, "customer_id");
    let products = ids(&world.products, "product_id");
    let product = |rng: &mut Pcg64| *pick(rng, &products).unwrap();
    loop {
        let event = match rng.random_range(0..11) {
            0 => {
                let id = match pick(rng, &customers) {
                    Some(&id) if rng.random_bool(0.7) => id,
                    _ => {
                        *fresh += 1;
                        *fresh
                    }
                };
                json!({"type": "customer_upserted", "customer_id": id,
                    "website_id": rng.random_range(1..3), "group_id": rng.random_range(0..4),
                    "email": if rng.random_bool(0.5) { "a@shop.de" } else { "b@example.com" },
                    "created_at": instant(rng), "store_credit": decimal(rng),
                    "newsletter_subscribed": rng.random_bool(0.5),
                    "loyalty_tier": if rng.random_bool(0.5) { "gold" } else { "silver" }})
            }
            1 if !customers.is_empty() => {
                let id = match pick(rng, &ids(&world.addresses, "address_id")) {
                    Some(&id) if rng.random_bool(0.5) => id,
                    _ => {
                        *fresh += 1;
                        *fresh
                    }
                };
                json!({"type": "address_upserted", "address_id": id,
                    "customer_id": pick(rng, &customers), "is_default_billing": rng.random_bool(0.7),
                    "country_id": pick(rng, &COUNTRIES), "city": "Berlin"})
            }
            2 if !world.addresses.is_empty() => {
                json!({"type": "address_deleted",
                    "address_id": pick(rng, &ids(&world.addresses, "address_id"))})
            }
            3 => {
                *fresh += 1;
                let customer = if rng.random_bool(0.9) {
                    pick(rng, &customers).copied()
                } else {
                    None
                };
                let items: Vec<Json> = (0..rng.random_range(0..3))
                    .map(|_| json!({"product_id": product(rng), "qty_ordered": decimal(rng), "row_total": decimal(rng)}))
                    .collect();
                let addresses: Vec<Json> = (0..rng.random_range(0..2))
                    .map(|_| json!({"address_type": if rng.random_bool(0.5) { "billing" } else { "shipping" },
                        "country_id": pick(rng, &COUNTRIES)}))
                    .collect();
                json!({"type": "order_placed", "order_id": *fresh, "customer_id": customer,
                    "website_id": rng.random_range(1..3), "created_at": instant(rng),
                    "status": pick(rng, &STATUSES), "grand_total": decimal(rng),
                    "items": items, "addresses": addresses})
            }
            4 if !world.orders.is_empty() => {
                let mut event = json!({"type": "order_updated",
                    "order_id": pick(rng, &ids(&world.orders, "order_id")),
                    "status": pick(rng, &STATUSES), "grand_total": decimal(rng)});
                // Now and then the order changes hands, or becomes a guest's.
                if rng.random_bool(0.2) {
                    event["customer_id"] =
                        json!(pick(rng, &customers).filter(|_| rng.random_bool(0.7)));
                }
                event
            }
            5 => {
                let (kind, id) = subject(rng, world, fresh);
                let website = rng.random_range(1..3);
                let current = world.carts.iter().find(|c| {
                    is_active(c) && c.id(kind) == Some(id) && c.id("website_id") == Some(website)
                });
                let cart_id = match current {
                    Some(cart) => cart.id("cart_id").unwrap(),
                    None => {
                        *fresh += 1;
                        *fresh
                    }
                };
                let items: Vec<Json> = (0..rng.random_range(0..3))
                    .map(|_| json!({"product_id": product(rng), "qty": decimal(rng), "added_at": instant(rng)}))
                    .collect();
                json!({"type": "cart_updated", "cart_id": cart_id, kind: id, "website_id": website,
                    "is_active": rng.random_bool(0.8), "updated_at": instant(rng),
                    "items_count": items.len(), "grand_total": decimal(rng), "items": items})
            }
            6 if !customers.is_empty() => {
                json!({"type": "wishlist_item_added", "customer_id": pick(rng, &customers),
                    "product_id": product(rng), "added_at": instant(rng)})
            }
            7 if !world.wishlist_items.is_empty() => {
                let item = pick(rng, &world.wishlist_items).unwrap();
                json!({"type": "wishlist_item_removed", "customer_id": item.id("customer_id"),
                    "product_id": item.id("product_id")})
            }
            8 => {
                let (kind, id) = subject(rng, world, fresh);
                json!({"type": "product_viewed", kind: id, "product_id": product(rng),
                    "website_id": rng.random_range(1..3), "viewed_at": instant(rng)})
            }
            9 => {
                let id = if rng.random_bool(0.8) {
                    product(rng)
                } else {
                    200 + rng.random_range(0..3)
                };
                let categories: &[i64] = match rng.random_range(0..3) {
                    0 => &[],
                    1 => &[1],
                    _ => &[2, 3],
                };
                json!({"type": "product_upserted", "product_id": id, "sku": format!("SKU-{id}"),
                    "price": decimal(rng), "category_ids": categories,
                    "color": if rng.random_bool(0.5) { "red" } else { "blue" }})
            }
            10 if !customers.is_empty() => {
                let visitors: Vec<i64> = ids(&world.carts, "visitor_id")
                    .into_iter()
                    .chain(ids(&world.product_views, "visitor_id"))
                    .collect();
                let visitor = match pick(rng, &visitors) {
                    Some(&v) => v,
                    None => continue,
                };
                json!({"type": "visitor_logged_in", "visitor_id": visitor,
                    "customer_id": pick(rng, &customers)})
            }
            _ => continue,
        };
        return event;
    }
}

// ---------------------------------------------------------------- the service under test

fn service_over(world: &World, as_of: i64) -> (tempfile::TempDir, Service) {
    let (dir, engine) = engine_for(world);
    (dir, start(engine, as_of, None))
}

/// With a state directory, a checkpoint every 6 events: the random lists write several.
fn start(engine: Engine, as_of: i64, state: Option<&std::path::Path>) -> Service {
    start_folding_after(engine, as_of, state, 6)
}

fn start_folding_after(
    engine: Engine,
    as_of: i64,
    state: Option<&std::path::Path>,
    checkpoint_after_events: usize,
) -> Service {
    Service::start(
        Arc::new(engine),
        ServiceOptions {
            clock: Arc::new(ManualClock::new(as_of)),
            state: state.map(|dir| StateDir::open(dir).expect("state dir")),
            time_limit: None,
            checkpoint_after_events,
            engine_from_checkpoint: false,
            changes_kept: segmint::feed::DEFAULT_KEPT,
        },
    )
    .expect("starts")
}

/// Every stored segment's members, as `c:<id>` / `v:<id>`, sorted.
fn memberships(service: &Service) -> BTreeMap<String, Vec<String>> {
    let snapshot = service.current().unwrap();
    let subjects = snapshot.subjects();
    snapshot
        .segments
        .values()
        .map(|s| {
            let mut members: Vec<String> = s
                .members
                .bitmap()
                .iter()
                .map(|m| subject_text(subjects.id(m)))
                .collect();
            members.sort();
            (s.id(), members)
        })
        .collect()
}

/// The change feed from its start.
fn whole_feed(service: &Service) -> Vec<segmint::feed::Change> {
    let mut changes = Vec::new();
    let mut after = 0;
    loop {
        let page = service.feed().page(after, 7, None).unwrap();
        if page.changes.is_empty() {
            return changes;
        }
        after = page.next;
        changes.extend(page.changes);
    }
}

/// The members a consumer following the feed holds: every change applied in order, each
/// one a move (entering when not a member, leaving when one), numbered one after another.
fn memberships_of_feed(feed: &[segmint::feed::Change]) -> BTreeMap<String, Vec<String>> {
    let mut members: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (i, change) in feed.iter().enumerate() {
        assert_eq!(change.seq, i as u64 + 1, "numbered one after another");
        let segment = members.entry(change.segment.to_string()).or_default();
        let subject = subject_text(change.subject);
        let moved = if change.entered {
            segment.insert(subject)
        } else {
            segment.remove(&subject)
        };
        assert!(moved, "change {} moves nobody", change.seq);
    }
    members
        .into_iter()
        .filter(|(_, m)| !m.is_empty())
        .map(|(id, m)| (id, m.into_iter().collect()))
        .collect()
}

fn expected_memberships(
    world: &World,
    as_of: i64,
    definitions: &BTreeMap<String, Json>,
) -> BTreeMap<String, Vec<String>> {
    let oracle = Oracle {
        world,
        as_of,
        segments: definitions,
    };
    definitions
        .iter()
        .map(|(id, definition)| {
            let mut members = oracle.members(definition);
            members.sort();
            (id.clone(), members)
        })
        .collect()
}

fn subject_text(subject: SubjectId) -> String {
    match subject {
        SubjectId::Customer(id) => format!("c:{id}"),
        SubjectId::Visitor(id) => format!("v:{id}"),
    }
}

fn change_set(changes: &[MembershipChange]) -> BTreeSet<(String, String, bool)> {
    changes
        .iter()
        .map(|c| (c.segment.to_string(), subject_text(c.subject), c.entered))
        .collect()
}

fn expected_changes(
    before: &BTreeMap<String, Vec<String>>,
    after: &BTreeMap<String, Vec<String>>,
) -> BTreeSet<(String, String, bool)> {
    let mut changes = BTreeSet::new();
    for (id, members) in after {
        let old: BTreeSet<&String> = before[id].iter().collect();
        let new: BTreeSet<&String> = members.iter().collect();
        for entered in new.difference(&old) {
            changes.insert((id.clone(), (*entered).clone(), true));
        }
        for left in old.difference(&new) {
            changes.insert((id.clone(), (*left).clone(), false));
        }
    }
    changes
}

/// How a run of random lists goes.
struct Plan {
    lists: usize,
    /// Events before the data is rebuilt (and, with the state, checkpointed).
    fold_after: usize,
    /// The chance that estimates, lookups and member rows are checked after a list (they
    /// always are after the last): reads between some lists and not others build the
    /// touched subjects' datasets over different runs of lists.
    read_chance: f64,
    /// The chance of waiting for the fold of events into the data (started in the
    /// background once `fold_after` events are in the delta) to be published after a list.
    settle_chance: f64,
}

/// A list of 1-4 random events, applied to the naive model as it goes.
fn random_list(rng: &mut Pcg64, world: &mut World, fresh: &mut i64) -> Vec<Json> {
    let list = (0..rng.random_range(1..5))
        .map(|_| {
            let event = random_event(rng, world, fresh);
            apply_naively(world, &event);
            event
        })
        .collect();
    one_active_cart(world);
    list
}

fn check_random_events(seed: u64, customers: usize, plan: Plan) -> Result<(), TestCaseError> {
    let mut world = world(seed, customers);
    let as_of = parse_instant(AS_OF[1]).unwrap();
    // Loaded from the world as it starts; with a state directory, to start again below.
    let (_data, engine) = engine_for(&world);
    let loaded = engine.dataset().clone();
    let state = tempfile::tempdir().unwrap();
    let service = start_folding_after(engine, as_of, Some(state.path()), plan.fold_after);
    let mut rng = Pcg64::seed_from_u64(seed ^ 0xe7e7);
    let mut definitions = BTreeMap::new();
    definitions.insert("base".to_string(), segment(&mut rng, 1, None));
    for i in 0..5 {
        let named = segment(&mut rng, 2, Some(&definitions["base"]));
        definitions.insert(format!("s{i}"), named);
    }
    for (id, definition) in &definitions {
        let mut body = definition.clone();
        body["id"] = json!(id);
        segmint::server::api::create_segment(&service, &body).expect("a random segment is stored");
    }
    let mut fresh = 10_000;
    let mut before = expected_memberships(&world, as_of, &definitions);
    prop_assert_eq!(&memberships(&service), &before);
    let mut fed_before = whole_feed(&service).len();
    for list_number in 0..plan.lists {
        let list = random_list(&mut rng, &mut world, &mut fresh);
        let applied = service
            .apply_json(&Json::Array(list.clone()))
            .map_err(|e| {
                TestCaseError::fail(format!("refused {e}: {}", Json::Array(list.clone())))
            })?;
        prop_assert_eq!(applied.applied, list.len());
        if rng.random_bool(plan.settle_chance) {
            service.finish_background_work(true);
        }
        let after = expected_memberships(&world, as_of, &definitions);
        let actual = memberships(&service);
        prop_assert_eq!(
            &actual,
            &after,
            "seed {} after {}\ndefinitions {}",
            seed,
            Json::Array(list),
            serde_json::to_string(&definitions).unwrap()
        );
        prop_assert_eq!(
            change_set(&applied.changes),
            expected_changes(&before, &after)
        );
        // The feed has the list's changes, as answered, next.
        let fed: Vec<MembershipChange> = whole_feed(&service)
            .into_iter()
            .skip(fed_before)
            .filter(|c| c.cause != segmint::feed::Cause::DayChanged)
            .map(|c| {
                prop_assert_eq!(c.cause, segmint::feed::Cause::Event);
                Ok(MembershipChange {
                    segment: c.segment,
                    subject: c.subject,
                    entered: c.entered,
                })
            })
            .collect::<Result<_, TestCaseError>>()?;
        prop_assert_eq!(&fed, &applied.changes);
        fed_before = whole_feed(&service).len();
        if list_number + 1 == plan.lists || rng.random_bool(plan.read_chance) {
            check_reads(&service, &world, &definitions)?;
        }
        before = after;
    }
    // Following the feed from the start gives the memberships.
    let feed = whole_feed(&service);
    let held: BTreeMap<String, Vec<String>> = before
        .iter()
        .filter(|(_, members)| !members.is_empty())
        .map(|(id, members)| (id.clone(), members.clone()))
        .collect();
    prop_assert_eq!(&memberships_of_feed(&feed), &held);
    // A restart on the data as loaded replays the event log to the same memberships, and
    // the feed is as it was.
    drop(service);
    let restarted = start_folding_after(
        Engine::new(loaded),
        as_of,
        Some(state.path()),
        plan.fold_after,
    );
    prop_assert_eq!(&memberships(&restarted), &before, "after a restart");
    prop_assert_eq!(whole_feed(&restarted), feed, "the feed after a restart");
    Ok(())
}

/// Estimates, scopes, lookups and member rows read the data as the events left it.
fn check_reads(
    service: &Service,
    world: &World,
    definitions: &BTreeMap<String, Json>,
) -> Result<(), TestCaseError> {
    let snapshot = service.current().unwrap();
    for (id, definition) in definitions {
        let mut body = json!({"conditions": definition["conditions"],
            "websites": definition["websites"]});
        if let Some(apply_to) = definition.get("apply_to") {
            body["apply_to"] = apply_to.clone();
        }
        let (segment, as_of) =
            segmint::server::api::EstimateRequest::parse(&body, snapshot.schema()).unwrap();
        let estimate = service.estimate(&snapshot, &segment, as_of).unwrap();
        let stored = snapshot.segment(id).unwrap();
        // An estimate matches the conditions whether or not the segment is active.
        let mut active = definition.clone();
        active["active"] = json!(true);
        let oracle = Oracle {
            world,
            as_of: snapshot.segments[&stored.key].as_of,
            segments: definitions,
        };
        prop_assert_eq!(
            estimate.count,
            oracle.members(&active).len() as u64,
            "estimate of {} {}",
            id,
            definition
        );
        prop_assert_eq!(stored.universe, estimate.universe, "scope of {}", id);
    }
    let with_records: BTreeSet<i64> = ids(&world.carts, "visitor_id")
        .into_iter()
        .chain(ids(&world.product_views, "visitor_id"))
        .collect();
    for visitor in 50..53 {
        prop_assert_eq!(
            snapshot.visitor(visitor).is_some(),
            with_records.contains(&visitor),
            "visitor {}",
            visitor
        );
    }
    let source = snapshot.member_source().unwrap();
    // Paging by cursor visits every member once, added subjects included.
    for stored in snapshot.segments.values() {
        let mut paged = Vec::new();
        let mut after = None;
        loop {
            let page = segmint::service::report::page(&source, &stored.members.bitmap(), after, 2);
            paged.extend(page.rows.iter().map(|row| match row {
                segmint::service::report::MemberRow::Customer(c) => format!("c:{}", c.customer_id),
                segmint::service::report::MemberRow::Visitor { visitor_id } => {
                    format!("v:{visitor_id}")
                }
            }));
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        let mut expected: Vec<String> = stored
            .members
            .bitmap()
            .iter()
            .map(|m| subject_text(snapshot.subjects().id(m)))
            .collect();
        expected.sort();
        paged.sort();
        prop_assert_eq!(paged, expected, "pages of {}", stored.id());
    }
    let rows = source.readers();
    for customer in &world.customers {
        let id = customer.id("customer_id").unwrap();
        let subject = snapshot.customer(id).unwrap();
        let email = match customer.get("email") {
            V::Str(email) => Some(email.clone()),
            _ => None,
        };
        match rows.row(subject) {
            segmint::service::report::MemberRow::Customer(row) => {
                prop_assert_eq!(row.email, email, "customer {}", id)
            }
            other => prop_assert!(false, "customer {} reads as {:?}", id, other),
        }
    }
    Ok(())
}

/// Random lists applied one after the other to a delta that caches no rows: each
/// touched subject's rows made again from its loaded rows and its changes (all tables, or
/// a few) are the rows the lists left it.
fn check_rows_made_from_changes(seed: u64, customers: usize) -> Result<(), TestCaseError> {
    use segmint::live::delta::{Delta, RowsBefore, apply_rows, touched_by};
    use segmint::model::TableName;
    let mut rng = Pcg64::seed_from_u64(seed);
    let mut world = world(seed, customers);
    let (_data, engine) = engine_for(&world);
    let dataset = engine.dataset().clone();
    let mut delta = Delta::default().with_rows_cached(0);
    let mut fresh = 500_000;
    let mut expected = BTreeMap::new();
    for _ in 0..8 {
        let list = Json::Array(random_list(&mut rng, &mut world, &mut fresh));
        let Ok(list) = EventList::parse(list, &Layouts::of(&dataset)) else {
            continue;
        };
        let list = Arc::new(list);
        let touched = touched_by(list.events().iter(), &dataset, &delta, 0);
        let Ok(applied) = apply_rows(&dataset, &delta, &touched, &[list], RowsBefore::Kept) else {
            continue;
        };
        delta = applied.delta;
        expected.extend(applied.after);
        let layouts = delta.layouts(&dataset);
        let some: std::collections::BTreeSet<TableName> = TableName::ALL
            .into_iter()
            .filter(|_| rng.random_bool(0.5))
            .collect();
        for (&subject, rows) in &expected {
            let made = delta.rows_now(&dataset, &layouts, subject, None).unwrap();
            prop_assert!(
                made.same_rows_as(rows),
                "subject {subject}: {made:?}\n{rows:?}"
            );
            let of_some = delta
                .rows_now(&dataset, &layouts, subject, Some(&some))
                .unwrap();
            prop_assert!(
                of_some
                    .in_tables(&some)
                    .same_rows_as(&rows.in_tables(&some))
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(24),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn events_give_the_memberships_of_evaluating_the_resulting_data_from_scratch(
        seed in any::<u64>(), customers in 0usize..8,
    ) {
        check_random_events(seed, customers, Plan { lists: 4, fold_after: 6, read_chance: 1.0, settle_chance: 0.0 })?;
    }

    #[test]
    fn rows_made_from_a_subjects_changes_are_the_rows_its_events_left(
        seed in any::<u64>(), customers in 0usize..8,
    ) {
        check_rows_made_from_changes(seed, customers)?;
    }

    #[test]
    fn long_runs_of_lists_read_at_random_moments_match_evaluating_from_scratch(
        seed in any::<u64>(), customers in 0usize..8,
    ) {
        check_random_events(
            seed,
            customers,
            Plan { lists: 30, fold_after: 10_000, read_chance: 0.3, settle_chance: 0.0 },
        )?;
    }

    #[test]
    /// A replay applies a long log in rounds, folding the rows in between: however long
    /// the rounds, the data is the naive model's.
    fn lists_applied_in_bulk_in_rounds_of_any_length_leave_the_naive_models_data(
        seed in any::<u64>(), customers in 0usize..8, events_per_fold in 1usize..12,
    ) {
        let mut world = world(seed, customers);
        let as_of = parse_instant(AS_OF[1]).unwrap();
        let (_data, engine) = engine_for(&world);
        let loaded = engine.dataset().clone();
        let mut rng = Pcg64::seed_from_u64(seed ^ 0xb01c);
        let mut fresh = 10_000;
        let lists: Vec<Arc<EventList>> = (0..6)
            .map(|_| {
                let list = random_list(&mut rng, &mut world, &mut fresh);
                Arc::new(parsed(&Json::Array(list), &loaded))
            })
            .collect();
        let after = segmint::live::apply_lists_folding_every(
            &loaded,
            &Default::default(),
            &lists,
            std::path::Path::new("replayed"),
            events_per_fold,
        )
        .unwrap();
        let service = start(Engine::new(Arc::new(after)), as_of, None);
        let mut definitions = BTreeMap::new();
        for i in 0..4 {
            let mut body = segment(&mut rng, 2, None);
            definitions.insert(format!("s{i}"), body.clone());
            body["id"] = json!(format!("s{i}"));
            segmint::server::api::create_segment(&service, &body).unwrap();
        }
        prop_assert_eq!(memberships(&service), expected_memberships(&world, as_of, &definitions));
    }

    #[test]
    fn lists_folded_into_the_data_in_the_background_match_evaluating_from_scratch(
        seed in any::<u64>(), customers in 0usize..8,
    ) {
        check_random_events(
            seed,
            customers,
            Plan { lists: 20, fold_after: 8, read_chance: 0.5, settle_chance: 0.3 },
        )?;
    }
}

// ---------------------------------------------------------------- bad events

#[test]
fn each_bad_event_refuses_the_whole_list_with_a_pointer_and_applies_nothing() {
    let world = world(3, 6);
    let (_dir, service) = service_over(&world, parse_instant(AS_OF[0]).unwrap());
    let customer = world.customers[0].id("customer_id").unwrap();
    let order = world
        .orders
        .first()
        .map_or(1001, |o| o.id("order_id").unwrap());
    segmint::server::api::create_segment(
        &service,
        &json!({"id": "viewers", "name": "viewers", "websites": [1, 2], "apply_to": "both",
            "conditions": {"has": "product_view"}}),
    )
    .unwrap();
    let good = json!({"type": "product_viewed", "customer_id": customer, "product_id": 100,
        "website_id": 1, "viewed_at": "2026-10-31T12:00:00Z"});
    let view = |extra: Json| {
        let mut event = good.clone();
        for (k, v) in extra.as_object().unwrap() {
            event[k] = v.clone();
        }
        event
    };
    let cases: Vec<(Json, &str, &str)> = vec![
        (
            json!({"type": "bought_a_hat"}),
            "/1/type",
            "unknown event type",
        ),
        (json!({"customer_id": customer}), "/1", "no type"),
        (json!("product_viewed"), "/1", "JSON object"),
        (json!({"type": 7}), "/1/type", "string"),
        (
            view(json!({"website_id": "one"})),
            "/1/website_id",
            "expected a int",
        ),
        (view(json!({"colour": "red"})), "/1/colour", "no column"),
        (
            view(json!({"viewed_at": null})),
            "/1",
            "viewed_at is required",
        ),
        (view(json!({"viewed_at": "yesterday"})), "/1/viewed_at", ""),
        (
            view(json!({"customer_id": 999_999})),
            "/1/customer_id",
            "customer 999999 does not exist",
        ),
        (
            view(json!({"product_id": 999})),
            "/1/product_id",
            "product 999 does not exist",
        ),
        (
            view(json!({"visitor_id": 5})),
            "/1",
            "exactly one of customer_id and visitor_id",
        ),
        (
            json!({"type": "order_placed", "order_id": order, "customer_id": customer, "website_id": 1,
                "created_at": "2026-10-31T12:00:00Z", "status": "complete"}),
            "/1/order_id",
            "exists already",
        ),
        (
            json!({"type": "order_placed", "order_id": 77_777, "customer_id": customer, "website_id": 1,
                "created_at": "2026-10-31T12:00:00Z", "status": "complete",
                "items": [{"product_id": 100}, {"product_id": 12_345}]}),
            "/1/items/1/product_id",
            "does not exist",
        ),
        (
            json!({"type": "order_placed", "order_id": 77_777, "customer_id": customer, "website_id": 1,
                "created_at": "2026-10-31T12:00:00Z", "status": "complete",
                "addresses": [{"address_type": "home"}]}),
            "/1/addresses/0/address_type",
            "billing or shipping",
        ),
        (
            json!({"type": "order_placed", "order_id": 77_777, "customer_id": customer, "website_id": 1,
                "created_at": "2026-10-31T12:00:00Z", "status": "complete", "items": {"product_id": 100}}),
            "/1/items",
            "list",
        ),
        (
            json!({"type": "order_updated", "order_id": 123_456, "status": "complete"}),
            "/1/order_id",
            "does not exist",
        ),
        (
            json!({"type": "order_updated", "order_id": order, "status": null}),
            "/1",
            "status is required",
        ),
        (
            json!({"type": "address_deleted", "address_id": 424_242}),
            "/1/address_id",
            "does not exist",
        ),
        (
            json!({"type": "wishlist_item_removed", "customer_id": customer, "product_id": 999}),
            "/1/product_id",
            "not on customer",
        ),
        (
            json!({"type": "visitor_logged_in", "visitor_id": 50, "customer_id": 31_337}),
            "/1/customer_id",
            "does not exist",
        ),
        (
            json!({"type": "visitor_logged_in", "visitor_id": 31_337_000, "customer_id": customer}),
            "/1/visitor_id",
            "visitor 31337000 does not exist",
        ),
        (
            json!({"type": "visitor_logged_in", "visitor_id": 50}),
            "/1",
            "needs customer_id",
        ),
        (
            json!({"type": "address_deleted", "address_id": 1, "extra": true}),
            "/1/extra",
            "unknown field",
        ),
        (
            json!({"type": "cart_updated", "cart_id": 5, "visitor_id": 50, "website_id": 1,
                "items": [{"product_id": 100, "qty": "1.23456"}]}),
            "/1/items/0/qty",
            "",
        ),
    ];
    let before = memberships(&service);
    let engine_before = service.snapshot().loaded_engine().clone();
    for (bad, pointer, message) in cases {
        let list = json!([good.clone(), bad.clone()]);
        match service.apply_json(&list) {
            Err(ServiceError::Event(e)) => {
                assert_eq!(e.pointer, pointer, "{bad}: {e}");
                assert!(e.message.contains(message), "{bad}: {e}");
            }
            other => panic!("{bad}: expected a refusal, got {other:?}"),
        }
        assert!(
            Arc::ptr_eq(service.snapshot().loaded_engine(), &engine_before),
            "{bad}: the data changed"
        );
        assert_eq!(memberships(&service), before, "{bad}");
    }
    match service.apply_json(&json!({"type": "product_viewed"})) {
        Err(ServiceError::Event(e)) => assert!(e.message.contains("list"), "{e}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    // The good event alone applies.
    let applied = service.apply_json(&json!([good])).unwrap();
    assert_eq!(applied.applied, 1);
}

#[test]
fn events_apply_to_the_subjects_they_touch_alone_new_subjects_and_products_included() {
    let world = world(11, 6);
    let (_dir, service) = service_over(&world, parse_instant(AS_OF[1]).unwrap());
    let customer = world.customers[0].id("customer_id").unwrap();
    let view = json!([{"type": "product_viewed", "customer_id": customer, "product_id": 100,
        "website_id": 1, "viewed_at": "2026-10-31T12:00:00Z"}]);
    let engine = service.snapshot().loaded_engine().clone();
    assert!(!service.apply_json(&view).unwrap().rebuilt);
    let new_visitor = json!([{"type": "product_viewed", "visitor_id": 77_777, "product_id": 100,
        "website_id": 1, "viewed_at": "2026-10-31T12:00:00Z"}]);
    assert!(!service.apply_json(&new_visitor).unwrap().rebuilt);
    assert!(service.snapshot().visitor(77_777).is_some());
    let new_customer = json!([
        {"type": "customer_upserted", "customer_id": 88_888, "website_id": 1, "email": "new@shop.de"},
        {"type": "wishlist_item_added", "customer_id": 88_888, "product_id": 100,
            "added_at": "2026-10-31T12:00:00Z"},
    ]);
    assert!(!service.apply_json(&new_customer).unwrap().rebuilt);
    let snapshot = service.snapshot();
    let subject = snapshot
        .customer(88_888)
        .expect("the new customer is known");
    assert_eq!(snapshot.subjects().id(subject), SubjectId::Customer(88_888));
    let product = json!([{"type": "product_upserted", "product_id": 100, "color": "green"}]);
    assert!(!service.apply_json(&product).unwrap().rebuilt);
    let new_product = json!([{"type": "product_upserted", "product_id": 999, "color": "red"},
        {"type": "product_viewed", "customer_id": 88_888, "product_id": 999,
            "website_id": 1, "viewed_at": "2026-10-31T12:00:00Z"}]);
    assert!(!service.apply_json(&new_product).unwrap().rebuilt);
    assert!(
        Arc::ptr_eq(&engine, service.snapshot().loaded_engine()),
        "the loaded data stays"
    );
    assert_eq!(
        service.snapshot().customer_count(),
        world.customers.len() + 1
    );
}

#[test]
fn a_touched_subject_keeps_only_the_rows_its_events_added_or_changed() {
    let world = world(11, 6);
    let (_dir, service) = service_over(&world, parse_instant(AS_OF[1]).unwrap());
    // The customer with the most orders, so that keeping every row would show.
    let owner = |order: &Row| order.id("customer_id");
    let customer = world
        .customers
        .iter()
        .filter_map(|c| c.id("customer_id"))
        .max_by_key(|&c| world.orders.iter().filter(|o| owner(o) == Some(c)).count())
        .unwrap();
    let order = world
        .orders
        .iter()
        .find(|o| owner(o) == Some(customer))
        .and_then(|o| o.id("order_id"))
        .unwrap();
    let rows_now = |service: &Service| {
        let snapshot = service.snapshot();
        let subject = snapshot.customer(customer).unwrap();
        let dataset = snapshot.loaded_engine().dataset().clone();
        let delta = snapshot.data().delta.unwrap().clone();
        let layouts = delta.layouts(&dataset);
        let changes = delta.changes[&subject].clone();
        let now = delta.rows_now(&dataset, &layouts, subject, None).unwrap();
        let loaded = segmint::events::subject_rows(&dataset, &layouts, subject);
        // Folded into the data, the subject has the rows it has now.
        let label = std::path::Path::new("folded");
        let folded = segmint::live::materialize(&dataset, &delta, label).unwrap();
        let in_folded = folded.customer_index.get(customer).unwrap();
        let folded_rows = segmint::events::subject_rows(&folded, &Layouts::of(&folded), in_folded);
        assert!(folded_rows.same_rows_as(&now), "{folded_rows:?}\n{now:?}");
        (
            changes.rows_added(),
            changes.rows_removed(),
            loaded.len(),
            now.len(),
        )
    };
    let view = json!([{"type": "product_viewed", "customer_id": customer, "product_id": 100,
        "website_id": 1, "viewed_at": "2026-10-31T12:00:00Z"}]);
    service.apply_json(&view).unwrap();
    let (added, removed, loaded, now) = rows_now(&service);
    assert!(loaded > 5, "a customer with rows: {loaded}");
    assert_eq!(
        (added, removed, now),
        (1, 0, loaded + 1),
        "a view adds a row"
    );
    let update = json!([{"type": "order_updated", "order_id": order, "status": "canceled",
        "grand_total": "12.5"}]);
    service.apply_json(&update).unwrap();
    let (added, removed, _, now) = rows_now(&service);
    assert_eq!(
        (added, removed, now),
        (2, 1, loaded + 1),
        "a changed order replaces its row"
    );
}

#[test]
fn an_order_made_a_guest_order_can_still_be_changed_and_not_placed_again() {
    let world = (1..)
        .map(|seed| world(seed, 6))
        .find(|w| w.orders.iter().any(|o| o.id("customer_id").is_some()))
        .unwrap();
    let owned = world
        .orders
        .iter()
        .find(|o| o.id("customer_id").is_some())
        .unwrap();
    let (order, customer) = (
        owned.id("order_id").unwrap(),
        owned.id("customer_id").unwrap(),
    );
    let (_dir, service) = service_over(&world, parse_instant(AS_OF[1]).unwrap());
    let to_guest = json!([{"type": "order_updated", "order_id": order, "customer_id": null}]);
    assert!(
        !service.apply_json(&to_guest).unwrap().rebuilt,
        "a guest order's rows are kept in the delta"
    );
    let change = json!([{"type": "order_updated", "order_id": order, "status": "complete"}]);
    assert!(!service.apply_json(&change).unwrap().rebuilt);
    let again = json!([{"type": "order_placed", "order_id": order, "customer_id": customer,
        "website_id": 1, "created_at": "2026-10-31T12:00:00Z", "status": "complete"}]);
    match service.apply_json(&again) {
        Err(ServiceError::Event(e)) => assert_eq!(e.pointer, "/0/order_id", "{e}"),
        other => panic!("placed twice: {other:?}"),
    }
}

// ---------------------------------------------------------------- time

#[test]
fn a_customer_who_ordered_by_event_leaves_ordered_in_the_last_30_days_on_day_31() {
    let world = world(5, 4);
    let day_0 = parse_instant("2026-11-01T10:00:00Z").unwrap();
    let (_dir, engine) = engine_for(&world);
    let clock = Arc::new(ManualClock::new(day_0));
    let service = Service::start(
        Arc::new(engine),
        ServiceOptions {
            clock: clock.clone(),
            state: None,
            time_limit: None,
            checkpoint_after_events: segmint::service::CHECKPOINT_AFTER_EVENTS,
            engine_from_checkpoint: false,
            changes_kept: segmint::feed::DEFAULT_KEPT,
        },
    )
    .unwrap();
    segmint::server::api::create_segment(
        &service,
        &json!({"id": "recent", "name": "ordered in the last 30 days",
            "websites": [1], "apply_to": "registered",
            "conditions": {"has": "order", "where":
                {"field": "order.created_at", "op": "in_last_days", "value": 30}}}),
    )
    .unwrap();
    let in_recent = || {
        let snapshot = service.current().unwrap();
        let subject = snapshot.customer(5_555).expect("the new customer");
        snapshot
            .segments_of(subject, None)
            .iter()
            .any(|k| k.to_string() == "recent")
    };
    let applied = service
        .apply_json(&json!([
            {"type": "customer_upserted", "customer_id": 5_555, "website_id": 1},
            {"type": "order_placed", "order_id": 88_888, "customer_id": 5_555,
                "website_id": 1, "created_at": "2026-11-01T09:00:00Z", "status": "pending"}]))
        .unwrap();
    assert!(
        change_set(&applied.changes).contains(&("recent".into(), "c:5555".into(), true)),
        "{:?}",
        applied.changes
    );
    assert!(in_recent(), "the order placed now counts");
    clock.set(day_0 + 30 * MICROS_PER_DAY);
    assert!(in_recent(), "day 30: still in the last 30 days");
    clock.set(day_0 + 31 * MICROS_PER_DAY);
    assert!(!in_recent(), "day 31: the customer left without any event");
}

// ---------------------------------------------------------------- durability

fn agent() -> ureq::Agent {
    ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(std::time::Duration::from_secs(30)))
            .build(),
    )
}

pub(crate) fn url_of(lines: &[String]) -> String {
    let line = lines.last().unwrap();
    line.split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL in {line}"))
        .to_string()
}

fn get_json(agent: &ureq::Agent, url: &str) -> Json {
    let mut reply = agent.get(url).call().unwrap();
    assert_eq!(reply.status(), 200, "GET {url}");
    serde_json::from_str(&reply.body_mut().read_to_string().unwrap()).unwrap()
}

fn post_json(agent: &ureq::Agent, url: &str, body: &Json) -> Result<(u16, Json), ureq::Error> {
    let mut reply = agent
        .post(url)
        .header("Content-Type", "application/json")
        .send(body.to_string())?;
    let status = reply.status().as_u16();
    let text = reply.body_mut().read_to_string()?;
    Ok((status, serde_json::from_str(&text).unwrap_or(Json::Null)))
}

const FIRST_VISITOR: i64 = 900_000_000;

#[test]
fn every_acknowledged_event_survives_sigkill_at_random_moments() {
    let data = crate::common::generated(300, 5, segmint::data::generate::OutputFormat::Parquet);
    let state = tempfile::tempdir().unwrap();
    let args = [
        "--data",
        data.path().to_str().unwrap(),
        "--state",
        state.path().to_str().unwrap(),
        "--as-of",
        "2026-11-01T00:00:00Z",
        // Each new visitor's view rebuilds the data; past 25 logged events that writes a
        // checkpoint, so kills land in checkpoints too.
        "--checkpoint-after-events",
        "25",
    ];
    let viewers = json!({"id": "viewers", "name": "new viewers", "websites": [1, 2],
        "apply_to": "visitors", "conditions": {"has": "product_view", "where":
            {"field": "product_view.viewed_at", "op": "gte", "value": "2026-10-31T23:00:00Z"}}});
    let agent = agent();
    let mut rng = Pcg64::seed_from_u64(17);
    let mut next = 0i64;
    let mut acknowledged = 0i64;
    for round in 0..4 {
        let (mut child, lines) = crate::http::start_demo(&args, "listening on");
        let url = url_of(&lines);
        if round == 0 {
            let (status, reply) = post_json(&agent, &format!("{url}/segments"), &viewers).unwrap();
            assert_eq!(status, 201, "{reply}");
        }
        // Whatever the last round sent: every acknowledged view is there, and the views
        // present are exactly the first ones sent (the one in flight may or may not be).
        // An unknown visitor is a 404.
        let present = |i: i64| {
            let path = format!("{url}/visitors/{}/segments", FIRST_VISITOR + i);
            let mut reply = agent.get(&path).call().unwrap();
            let text = reply.body_mut().read_to_string().unwrap();
            match reply.status().as_u16() {
                404 => false,
                200 => {
                    serde_json::from_str::<Json>(&text).unwrap()["segments"] == json!(["viewers"])
                }
                other => panic!("{path}: {other} {text}"),
            }
        };
        for i in 0..acknowledged {
            assert!(present(i), "round {round}: acknowledged view {i} is lost");
        }
        if acknowledged < next {
            // The view in flight when the server was killed: if it is there, it counts.
            if present(acknowledged) {
                acknowledged += 1;
            }
        }
        assert!(!present(next), "round {round}: a view never sent is there");
        // The feed holds each acknowledged view's change once, in order, numbered one
        // after another.
        let mut fed = Vec::new();
        loop {
            let page = get_json(&agent, &format!("{url}/changes?after={}", fed.len()));
            let changes = page["changes"].as_array().unwrap().clone();
            if changes.is_empty() {
                break;
            }
            fed.extend(changes);
        }
        for (i, change) in fed.iter().enumerate() {
            assert_eq!(change["seq"], json!(i + 1), "round {round}");
        }
        let viewed: Vec<i64> = fed
            .iter()
            .filter(|c| c["cause"] == json!("event"))
            .map(|c| {
                assert_eq!(c["entered"], json!(true));
                c["visitor_id"].as_i64().unwrap() - FIRST_VISITOR
            })
            .collect();
        assert_eq!(
            viewed,
            (0..acknowledged).collect::<Vec<_>>(),
            "round {round}: the feed"
        );
        // The stored members equal a fresh evaluation of the data the log rebuilt.
        let stored = get_json(&agent, &format!("{url}/segments/viewers"));
        let estimate_body = json!({"websites": viewers["websites"], "apply_to": "visitors",
            "conditions": viewers["conditions"]});
        let (status, estimate) =
            post_json(&agent, &format!("{url}/estimate"), &estimate_body).unwrap();
        assert_eq!(status, 200, "{estimate}");
        assert_eq!(stored["count"], estimate["count"], "round {round}");
        if round == 3 {
            let _ = child.kill();
            let _ = child.wait();
            break;
        }
        next = acknowledged;
        // Send views one list at a time until the server is killed at a random moment.
        let kill_after = std::time::Duration::from_millis(rng.random_range(30..400));
        let sender = {
            let agent = agent.clone();
            let url = url.clone();
            std::thread::spawn(move || {
                let mut sent = next;
                let mut acked = next;
                loop {
                    let event = json!([{"type": "product_viewed", "visitor_id": FIRST_VISITOR + sent,
                        "product_id": 1, "website_id": 1, "viewed_at": "2026-11-01T00:00:00Z"}]);
                    sent += 1;
                    match post_json(&agent, &format!("{url}/events"), &event) {
                        Ok((200, _)) => acked = sent,
                        Ok((status, reply)) => panic!("event refused: {status} {reply}"),
                        Err(_) => return (sent, acked),
                    }
                }
            })
        };
        std::thread::sleep(kill_after);
        child.kill().unwrap();
        let _ = child.wait();
        let (sent, acked) = sender.join().unwrap();
        eprintln!("round {round}: killed after {kill_after:?}: {acked} acknowledged, {sent} sent");
        assert!(
            acked > acknowledged || round > 0,
            "round {round}: no event was applied in {kill_after:?}"
        );
        next = sent;
        acknowledged = acked;
    }
    assert!(acknowledged > 0);
}

#[test]
fn a_long_log_becomes_a_checkpoint_and_a_restart_starts_from_it() {
    let world = world(21, 6);
    let as_of = parse_instant(AS_OF[1]).unwrap();
    let (_data, engine) = engine_for(&world);
    let loaded = engine.dataset().clone();
    let state = tempfile::tempdir().unwrap();
    let service = start(engine, as_of, Some(state.path()));
    segmint::server::api::create_segment(
        &service,
        &json!({"id": "viewers", "name": "viewers", "websites": [1, 2],
            "apply_to": "registered", "conditions": {"aggregate": "count",
            "of": "product_view", "op": "gte", "value": 3}}),
    )
    .unwrap();
    let customers = ids(&world.customers, "customer_id");
    for (i, customer) in customers.iter().cycle().take(12).enumerate() {
        let views: Vec<Json> = (0..3)
            .map(|_| {
                json!({"type": "product_viewed", "customer_id": customer,
                "product_id": 100 + (i % 5) as i64, "website_id": 1,
                "viewed_at": "2026-10-31T12:00:00Z"})
            })
            .collect();
        service.apply_json(&Json::Array(views)).unwrap();
    }
    // 36 events with a checkpoint every 6: lists are folded into the data and written as
    // checkpoints in the background, the lists accepted meanwhile carried into the
    // checkpoint's log.
    service.finish_background_work(true);
    let checkpoint = state.path().join("checkpoint");
    assert!(checkpoint.join("checkpoint.json").is_file());
    assert!(checkpoint.join("product_views.parquet").is_file());
    let logs: Vec<_> = std::fs::read_dir(state.path())
        .unwrap()
        .flatten()
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.starts_with("events") && name.ends_with(".log")
        })
        .collect();
    assert_eq!(logs.len(), 1, "only the log after the checkpoint is kept");
    let before = memberships(&service);
    assert!(!before["viewers"].is_empty());
    let feed = whole_feed(&service);
    assert_eq!(memberships_of_feed(&feed), before);
    drop(service);
    // Started on the data as loaded: the checkpoint replaces it, the short log follows.
    // The changes of the lists whose log the checkpoints dropped are in the feed's file.
    let restarted = start(Engine::new(loaded), as_of, Some(state.path()));
    assert_eq!(memberships(&restarted), before);
    assert_eq!(whole_feed(&restarted), feed);
}

#[test]
fn a_long_delta_is_folded_into_the_data_in_the_background_without_changing_memberships() {
    let world = world(25, 6);
    let as_of = parse_instant(AS_OF[1]).unwrap();
    let (_data, engine) = engine_for(&world);
    let service = start_folding_after(engine, as_of, None, 6);
    let (_other, reference) = service_over(&world, as_of);
    let definition = json!({"id": "viewers", "name": "viewers", "websites": [1, 2],
        "apply_to": "registered", "conditions": {"aggregate": "count",
        "of": "product_view", "op": "gte", "value": 4}});
    segmint::server::api::create_segment(&service, &definition).unwrap();
    segmint::server::api::create_segment(&reference, &definition).unwrap();
    let loaded = service.snapshot().loaded_engine().clone();
    let customers = ids(&world.customers, "customer_id");
    for (i, customer) in customers.iter().cycle().take(5).enumerate() {
        let views = json!([{"type": "product_viewed", "customer_id": customer,
            "product_id": 100 + i as i64, "website_id": 1, "viewed_at": "2026-10-31T12:00:00Z"},
            {"type": "customer_upserted", "customer_id": 70_000 + i as i64, "website_id": 1}]);
        assert!(!service.apply_json(&views).unwrap().rebuilt);
        reference.apply_json(&views).unwrap();
    }
    service.finish_background_work(true);
    let folded = service.snapshot();
    assert!(
        !Arc::ptr_eq(folded.loaded_engine(), &loaded),
        "the fold is published"
    );
    assert!(
        folded.events_since_load() < 6,
        "{} events left",
        folded.events_since_load()
    );
    // The lists after the fold started are caught up with as a delta over the folded data.
    assert!(folded.loaded_engine().dataset().customer_count() > customers.len());
    assert_eq!(folded.customer_count(), customers.len() + 5);
    assert_eq!(memberships(&service), memberships(&reference));
}

#[test]
fn between_folds_the_delta_keeps_no_list_of_events() {
    let world = world(25, 6);
    let as_of = parse_instant(AS_OF[1]).unwrap();
    let (_data, engine) = engine_for(&world);
    let service = start_folding_after(engine, as_of, None, 1_000);
    let customers = ids(&world.customers, "customer_id");
    for (i, customer) in customers.iter().take(3).enumerate() {
        let view = json!([{"type": "product_viewed", "customer_id": customer,
            "product_id": 100 + i as i64, "website_id": 1, "viewed_at": "2026-10-31T12:00:00Z"}]);
        service.apply_json(&view).unwrap();
    }
    let snapshot = service.snapshot();
    let lists = &snapshot.data().delta.unwrap().lists;
    assert_eq!(lists.len(), 3);
    // A list holds its JSON and typed rows: only a fold's catching up reads them again.
    assert!(lists.since(0).is_none(), "no fold runs, yet lists are kept");
    assert_eq!(lists.since(3).map(|kept| kept.count()), Some(0));
}

#[test]
fn lists_accepted_while_a_checkpoint_is_written_are_carried_into_its_log() {
    use segmint::events::log::EventLog;
    use segmint::service::state::prepare_checkpoint;
    let world = world(23, 6);
    let as_of = parse_instant(AS_OF[1]).unwrap();
    let (_data, engine) = engine_for(&world);
    let loaded = engine.dataset().clone();
    let customer = |id: i64| {
        json!([{"type": "customer_upserted", "customer_id": id, "website_id": 1,
            "group_id": 7, "email": format!("{id}@shop.de")}])
    };
    let lists = [customer(90_001), customer(90_002), customer(90_003)];
    // As the service does: every list in the log in force; a checkpoint of the data after
    // the first list written meanwhile, then put in force with the two lists after it.
    let dir = tempfile::tempdir().unwrap();
    {
        let state = StateDir::open(dir.path()).unwrap();
        let mut log = EventLog::open_file(&state.sources().unwrap().log)
            .unwrap()
            .log;
        let parsed: Vec<EventList> = lists.iter().map(|l| parsed(l, &loaded)).collect();
        for list in &parsed {
            log.append(list).unwrap();
        }
        let first = [std::sync::Arc::new(parsed[0].clone())];
        let after_first = segmint::live::apply_lists(
            &loaded,
            &Default::default(),
            &first,
            std::path::Path::new("first"),
        )
        .unwrap();
        let prepared = prepare_checkpoint(dir.path(), &after_first, None, &[]).unwrap();
        state.commit_checkpoint(prepared, &parsed[1..]).unwrap();
    }
    let definition = json!({"id": "group_7", "name": "group 7", "websites": [1, 2],
        "conditions": {"field": "customer.group_id", "op": "eq", "value": 7}});
    let restarted = start(Engine::new(loaded.clone()), as_of, Some(dir.path()));
    segmint::server::api::create_segment(&restarted, &definition).unwrap();
    let (_other, reference) = service_over(&world, as_of);
    segmint::server::api::create_segment(&reference, &definition).unwrap();
    for list in &lists {
        reference.apply_json(list).unwrap();
    }
    let members = memberships(&restarted);
    assert_eq!(members, memberships(&reference));
    assert_eq!(members["group_7"], ["c:90001", "c:90002", "c:90003"]);
    let logs: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.starts_with("events") && name.ends_with(".log")
        })
        .collect();
    assert_eq!(logs.len(), 1, "the old log is gone");
}

#[test]
fn concurrent_lists_apply_in_groups_that_share_a_flush_of_the_log() {
    let world = world(31, 6);
    let as_of = parse_instant(AS_OF[1]).unwrap();
    let (_data, engine) = engine_for(&world);
    let loaded = engine.dataset().clone();
    let state = tempfile::tempdir().unwrap();
    let service = Arc::new(start(engine, as_of, Some(state.path())));
    let viewers = json!({"id": "viewers", "name": "viewers", "websites": [1, 2],
        "apply_to": "registered", "conditions": {"aggregate": "count",
        "of": "product_view", "op": "gte", "value": 2}});
    segmint::server::api::create_segment(&service, &viewers).unwrap();
    let customers = ids(&world.customers, "customer_id");
    assert!(!customers.is_empty());
    const BAD: usize = 5;
    let lists: Vec<Json> = (0..24)
        .map(|i| {
            // Views commute: any order of the good lists gives the same data.
            let product = if i == BAD { 999_999 } else { 100 + (i % 5) as i64 };
            let view = json!({"type": "product_viewed", "customer_id": customers[i % customers.len()],
                "product_id": product, "website_id": 1, "viewed_at": "2026-10-31T12:00:00Z"});
            json!([view.clone(), view])
        })
        .collect();
    let start_together = Arc::new(std::sync::Barrier::new(lists.len()));
    let threads: Vec<_> = lists
        .iter()
        .cloned()
        .map(|list| {
            let service = service.clone();
            let start_together = start_together.clone();
            std::thread::spawn(move || {
                start_together.wait();
                service.apply_json(&list).map(|applied| applied.changes)
            })
        })
        .collect();
    let mut answered = Vec::new();
    for (i, thread) in threads.into_iter().enumerate() {
        match thread.join().unwrap() {
            Ok(changes) => answered.extend(changes),
            Err(ServiceError::Event(e)) if i == BAD => assert_eq!(e.pointer, "/0/product_id"),
            other => panic!("list {i}: {other:?}"),
        }
    }
    let flushes = service.log_flushes();
    assert!(
        (1..lists.len() as u64 - 1).contains(&flushes),
        "{} lists accepted with {flushes} flushes",
        lists.len() - 1
    );
    let (_other, reference) = service_over(&world, as_of);
    segmint::server::api::create_segment(&reference, &viewers).unwrap();
    for (i, list) in lists.iter().enumerate() {
        if i != BAD {
            reference.apply_json(list).unwrap();
        }
    }
    let members = memberships(&service);
    assert_eq!(members, memberships(&reference));
    let feed = whole_feed(&service);
    assert_eq!(memberships_of_feed(&feed), members);
    let fed_by_events = feed
        .iter()
        .filter(|c| c.cause == segmint::feed::Cause::Event);
    assert_eq!(fed_by_events.count(), answered.len());
    drop(service);
    let restarted = start(Engine::new(loaded), as_of, Some(state.path()));
    assert_eq!(memberships(&restarted), members);
    assert_eq!(whole_feed(&restarted), feed);
}

#[test]
fn a_checkpoint_left_aside_by_a_failed_swap_stays_in_force() {
    use segmint::service::state::prepare_checkpoint;
    let world = world(27, 3);
    let (_data, engine) = engine_for(&world);
    let dir = tempfile::tempdir().unwrap();
    // A swap moved the checkpoint aside and could not move its successor in.
    let aside = dir.path().join("checkpoint.old");
    std::fs::create_dir_all(&aside).unwrap();
    std::fs::write(aside.join("checkpoint.json"), "in force").unwrap();
    prepare_checkpoint(dir.path(), engine.dataset(), None, &[]).unwrap();
    let restored = dir.path().join("checkpoint").join("checkpoint.json");
    assert_eq!(std::fs::read_to_string(restored).unwrap(), "in force");
    assert!(
        dir.path()
            .join("checkpoint.tmp")
            .join("customers.parquet")
            .is_file()
    );
}

#[test]
fn an_old_checkpoint_a_stop_left_half_removed_is_cleared_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let trash = dir.path().join("checkpoint.trash-20261201T000000000000");
    std::fs::create_dir_all(&trash).unwrap();
    std::fs::write(trash.join("customers.parquet"), "old").unwrap();
    let kept = dir.path().join("checkpoint.trashy");
    std::fs::write(&kept, "not a checkpoint").unwrap();
    let state = StateDir::open(dir.path()).unwrap();
    state.sources().unwrap();
    assert!(!trash.exists());
    assert!(kept.exists(), "only checkpoint.trash-* directories go");
}

#[test]
fn a_torn_last_record_is_dropped_and_damage_before_good_records_stops_the_start() {
    use segmint::events::log::{EventLog, LOG_FILE};
    let (_data, engine) = engine_for(&world(29, 3));
    let login = |n: i64| json!([{"type": "visitor_logged_in", "visitor_id": n, "customer_id": 1}]);
    let list = |n: i64| parsed(&login(n), engine.dataset());
    let dir = tempfile::tempdir().unwrap();
    {
        let mut log = EventLog::open(dir.path()).unwrap().log;
        log.append(&list(1)).unwrap();
        log.append(&list(2)).unwrap();
    }
    let path = dir.path().join(LOG_FILE);
    let whole = std::fs::read(&path).unwrap();
    // Every cut inside the last record: the first record survives, the torn one is gone.
    let first_end = 12 + login(1).to_string().len();
    for cut in first_end + 1..whole.len() {
        std::fs::write(&path, &whole[..cut]).unwrap();
        let recovered = EventLog::open(dir.path()).unwrap();
        assert_eq!(recovered.lists, vec![login(1)], "cut at {cut}");
        assert_eq!(recovered.dropped_bytes, (cut - first_end) as u64);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), first_end as u64);
        // The log goes on after the cut.
        let mut log = recovered.log;
        log.append(&list(3)).unwrap();
        drop(log);
        let again = EventLog::open(dir.path()).unwrap();
        assert_eq!(again.lists, vec![login(1), login(3)]);
    }
    // A tail of zeros (a crash can leave one) is torn too.
    let mut zeros = whole.clone();
    zeros.extend([0u8; 12]);
    std::fs::write(&path, &zeros).unwrap();
    let recovered = EventLog::open(dir.path()).unwrap();
    assert_eq!(recovered.lists.len(), 2);
    assert_eq!(recovered.dropped_bytes, 12);
    // A flipped byte in the first of two records, in its checksum, its length (which then
    // announces more than the file holds) or its payload, is damage, not a crash.
    for byte in [10, 5, 7, 14] {
        let mut damaged = whole.clone();
        damaged[byte] ^= 0x20;
        std::fs::write(&path, &damaged).unwrap();
        let error = EventLog::open(dir.path()).err().expect("damage is refused");
        assert!(error.reason.contains("damaged"), "byte {byte}: {error}");
    }
}

/// Found by the fold plan: a rebuild numbers the subjects anew, so members equal as
/// bitmaps before and after it are not the same members, and every move must be answered.
#[test]
fn a_rebuild_that_numbers_subjects_anew_answers_every_move() {
    check_random_events(
        306186130485565586,
        0,
        Plan {
            lists: 20,
            fold_after: 8,
            read_chance: 0.5,
            settle_chance: 0.3,
        },
    )
    .unwrap();
}
