//! Events applied incrementally: only the subjects a list of events touches are looked at
//! again. The events are applied to their rows (from the loaded data, or as earlier
//! events left them) in place ([`crate::live::apply`]); then each stored segment that
//! reads what the list writes is decided for those subjects alone, each from its rows
//! ([`crate::live::matching`]), and their memberships replace theirs in the stored
//! members. The loaded data and its indexes stay as they are.
//!
//! The [`Delta`] keeps the rows of every subject touched since the data was loaded, so
//! that evaluations of new definitions (estimates, creates, refreshes, a new day) see the
//! data as events left it: the loaded data's engine answers for everyone else, and
//! per-subject matching of their rows for the touched subjects ([`Data::evaluate_until`]).
//!
//! New customers and visitors get the dense ids after the loaded data's ([`AddedSubjects`]).
//! A product change touches every subject whose records name the product; changed and new
//! products are kept in the delta too.
//!
//! Once the delta has grown past `checkpoint_after_events` ([`super::ServiceOptions`]), a
//! thread folds it into newly loaded data ([`super::fold`]; the added subjects then take
//! their places in id order).
//!
//! Lists that this cannot take apply by rebuilding the data instead: a change to a guest
//! order (no subject's rows hold it), a product change that reaches more than
//! [`PRODUCT_REACH_LIMIT`] subjects, or a list that finds the delta four times past
//! `checkpoint_after_events` (folds do not keep up).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use roaring::RoaringBitmap;
use rustc_hash::FxHashMap;

use super::catalog::{Stored, tables_read};
use super::{SegmentKey, Segments, SubjectId};
use crate::data::value::day_of_micros;
use crate::events::{
    Event, EventList, Layouts, ProductRow, Row, SubjectRows, product_row, subject_rows,
};
use crate::live::apply::{Known, apply_to_rows};
use crate::live::matching::{Matcher, Scope, Subject};
use crate::model::TableName;
use crate::segment::plan::Plan;
use crate::segment::{Engine, EvalError, Evaluation, Segment, SegmentSource};
use crate::store::{Dataset, NONE};

/// What events changed since the data was loaded (or last rebuilt).
#[derive(Clone, Default)]
pub struct Delta {
    // Persistent collections: each list makes a new delta from the last in time of its
    // own size, not of everything since the load.
    /// Every list applied since, in order: a rebuild applies them all to the loaded data.
    pub lists: imbl::Vector<Arc<EventList>>,
    pub events: usize,
    /// The touched subjects' rows now, by their dense id in the loaded data.
    pub rows: imbl::OrdMap<u32, Arc<SubjectRows>>,
    pub touched: RoaringBitmap,
    /// Touched visitors left without records (they moved to a customer): no longer
    /// subjects.
    pub gone: RoaringBitmap,
    /// Order ids placed since, so that none is placed twice.
    pub new_orders: imbl::HashSet<i64>,
    /// Where records with ids now are, when events put them there: (table, id) → owner.
    pub owners: imbl::HashMap<(TableName, i64), u32>,
    /// Customers and visitors that events added.
    pub added: AddedSubjects,
    /// Products as events left them, by product id: new ones and changed ones.
    pub products: imbl::OrdMap<i64, Arc<ProductRow>>,
    /// The loaded data's products that matching read, kept for the next lists: shared
    /// by every delta over the same loaded data.
    loaded_products: Arc<Mutex<FxHashMap<i64, Option<Arc<ProductRow>>>>>,
    /// The loaded data's tables' columns, made once: shared the same way.
    layouts: Arc<std::sync::OnceLock<Arc<Layouts>>>,
}

/// Customers and visitors that events added since the data was loaded. They take the
/// dense ids after the loaded data's, in the order they came, until a rebuild loads them
/// with the rest.
#[derive(Clone, Default)]
pub struct AddedSubjects {
    ids: imbl::Vector<SubjectId>,
    dense: imbl::HashMap<SubjectId, u32>,
}

impl AddedSubjects {
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    pub fn get(&self, subject: SubjectId) -> Option<u32> {
        self.dense.get(&subject).copied()
    }

    /// The added customers.
    pub fn customers(&self) -> usize {
        self.ids
            .iter()
            .filter(|s| matches!(s, SubjectId::Customer(_)))
            .count()
    }

    fn add(&mut self, base: &Dataset, subject: SubjectId) -> u32 {
        if let Some(dense) = self.get(subject) {
            return dense;
        }
        let dense = (first_added(base) + self.ids.len()) as u32;
        self.ids.push_back(subject);
        self.dense.insert(subject, dense);
        dense
    }
}

/// The first dense id after the loaded data's subjects.
fn first_added(base: &Dataset) -> usize {
    base.customer_count() + base.visitor_count()
}

/// The subjects of the data now: the loaded data's and those events added since.
#[derive(Clone, Copy)]
pub struct Subjects<'a> {
    pub base: &'a Dataset,
    pub added: &'a AddedSubjects,
}

impl Subjects<'_> {
    /// The subject of a dense id. Every id in a snapshot's bitmaps is one of its subjects.
    pub fn id(&self, dense: u32) -> SubjectId {
        let customers = self.base.customer_count();
        let dense_index = dense as usize;
        if dense_index < customers {
            SubjectId::Customer(self.base.customer_ids().value(dense_index))
        } else if let Some(&visitor) = self.base.visitor_ids.get(dense_index - customers) {
            SubjectId::Visitor(visitor)
        } else {
            self.added.ids[dense_index - first_added(self.base)]
        }
    }

    /// The dense id of a subject (visitors included when events moved their records away).
    pub fn dense(&self, subject: SubjectId) -> Option<u32> {
        let in_base = match subject {
            SubjectId::Customer(id) => self.base.customer_index.get(id),
            SubjectId::Visitor(id) => self
                .base
                .visitor_index
                .get(id)
                .map(|v| self.base.customer_count() as u32 + v),
        };
        in_base.or_else(|| self.added.get(subject))
    }

    pub fn is_visitor(&self, dense: u32) -> bool {
        matches!(self.id(dense), SubjectId::Visitor(_))
    }
}

impl Delta {
    /// The columns of the loaded data's tables (`base`: the data this delta is over).
    pub fn layouts(&self, base: &Dataset) -> Arc<Layouts> {
        self.layouts
            .get_or_init(|| Arc::new(Layouts::of(base)))
            .clone()
    }

    /// The products now: as events left them, else as loaded.
    fn product<'a>(
        &'a self,
        base: &'a Dataset,
        layouts: &'a Layouts,
    ) -> impl Fn(i64) -> Option<Arc<ProductRow>> + 'a {
        move |id| {
            if let Some(changed) = self.products.get(&id) {
                return Some(changed.clone());
            }
            let mut loaded = self
                .loaded_products
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            loaded
                .entry(id)
                .or_insert_with(|| product_row(base, layouts, id).map(Arc::new))
                .clone()
        }
    }
}

/// The scope of a segment.
fn scope_of(segment: &Segment) -> Scope<'_> {
    Scope {
        websites: &segment.websites,
        apply_to: segment.apply_to,
    }
}

/// Decides a touched subject's place in a segment from its rows: (in the universe,
/// member).
fn decide(plan: &Plan, segment: &Segment, subject: Subject<'_>, as_of_day: i32) -> (bool, bool) {
    let scope = scope_of(segment);
    let matcher = Matcher { subject, as_of_day };
    if !matcher.in_universe(scope) {
        return (false, false);
    }
    (true, segment.active && matcher.matches(plan, scope))
}

/// Touched subjects past which a read decides them on two threads.
const PARALLEL_SUBJECTS: usize = 8192;

/// Why a list of events rebuilds the data instead.
pub type RebuildReason = String;

/// Subjects a product change may reach before the list rebuilds the data instead: each
/// touched subject's rows are copied and kept in the delta.
pub const PRODUCT_REACH_LIMIT: usize = 20_000;

/// What a list touches.
pub struct Touched {
    /// Dense ids, of the loaded data or added.
    pub subjects: BTreeSet<u32>,
    /// The tables written for each of them: only segments that read one of those can
    /// move the subject.
    pub written: BTreeMap<u32, BTreeSet<TableName>>,
    /// The delta's added subjects and those the list adds.
    pub added: AddedSubjects,
}

/// The subjects a list touches, or why it must rebuild.
pub fn touched_by<'e>(
    events: impl Iterator<Item = &'e Event>,
    base: &Dataset,
    delta: &Delta,
    fold_after: usize,
) -> Result<Touched, RebuildReason> {
    if delta.events >= fold_after {
        return Err(format!(
            "{} events since the data was loaded: folding them in",
            delta.events
        ));
    }
    let customers = base.customer_count() as u32;
    let owner_in_base = |table: TableName, id: i64| -> Option<u32> {
        let (index, relation) = match table {
            TableName::Orders => (&base.order_index, &base.orders),
            TableName::Carts => (&base.cart_index, &base.carts),
            _ => return None,
        };
        row_owner(relation, index.get(id)? as usize, customers)
    };
    let owner = |table: TableName, id: i64| {
        delta
            .owners
            .get(&(table, id))
            .copied()
            .or_else(|| owner_in_base(table, id))
    };
    let order_exists =
        |order: i64| base.order_index.get(order).is_some() || delta.new_orders.contains(&order);
    let mut added = delta.added.clone();
    let mut written: BTreeMap<u32, BTreeSet<TableName>> = BTreeMap::new();
    let mut guest_orders = BTreeSet::new();
    for event in events {
        // The subjects this event touches.
        let mut touched = Vec::new();
        // Events that name an unknown subject without adding it are left to the applier,
        // which names what is wrong.
        for (subject, adds) in event.subjects_named() {
            let known = Subjects {
                base,
                added: &added,
            }
            .dense(subject);
            match known {
                Some(dense) => {
                    touched.push(dense);
                }
                None if adds => {
                    touched.push(added.add(base, subject));
                }
                None => {}
            }
        }
        match event {
            Event::ProductUpserted(row) => {
                if let Some(product) = row.product_id {
                    let reach = subjects_with_product(base, delta, product);
                    if reach.len() > PRODUCT_REACH_LIMIT as u64 {
                        return Err(format!(
                            "product {product} is in the records of {} subjects",
                            reach.len()
                        ));
                    }
                    touched.extend(&reach);
                }
            }
            Event::AddressUpserted(Row {
                key: Some(address), ..
            })
            | Event::AddressDeleted {
                address_id: address,
            } => {
                touched.extend(address_owner(base, delta, *address));
            }
            Event::OrderPlaced {
                order: Row {
                    key: Some(order), ..
                },
                ..
            } if order_exists(*order) => {
                // Placed twice: the applier says so, given the order's owner.
                match owner(TableName::Orders, *order) {
                    Some(o) => {
                        touched.push(o);
                    }
                    None => return Err(format!("order {order} is a guest order")),
                }
            }
            // A guest order is no subject's: its changes go to the data as a whole.
            Event::OrderPlaced { order, .. } if order.customer_id.is_none() => {
                guest_orders.extend(order.key);
            }
            Event::OrderUpdated { order_id, .. } if guest_orders.contains(order_id) => {
                return Err(format!("order {order_id} is a guest order"));
            }
            // An order that loses its customer becomes a guest order, which no subject's
            // rows hold.
            Event::OrderUpdated { changes, .. } if changes.customer_id == Some(None) => {
                return Err("an order becomes a guest order".into());
            }
            Event::OrderUpdated { order_id, .. } => match owner(TableName::Orders, *order_id) {
                Some(o) => {
                    touched.push(o);
                }
                None if order_exists(*order_id) => {
                    return Err(format!("order {order_id} is a guest order"));
                }
                None => {}
            },
            Event::CartUpdated {
                cart: Row {
                    key: Some(cart), ..
                },
                ..
            } => {
                if let Some(o) = owner(TableName::Carts, *cart) {
                    touched.push(o);
                }
            }
            _ => {}
        }
        for subject in touched {
            written
                .entry(subject)
                .or_default()
                .extend(event.tables_written());
        }
    }
    Ok(Touched {
        subjects: written.keys().copied().collect(),
        written,
        added,
    })
}

/// Every subject whose records name `product` now: in the loaded data (by its records'
/// product rows) and among the touched subjects' rows.
fn subjects_with_product(base: &Dataset, delta: &Delta, product: i64) -> RoaringBitmap {
    let mut found = RoaringBitmap::new();
    let customers = base.customer_count() as u32;
    if let Some(product_row) = base.product_index.get(product) {
        let owner = |relation, row| row_owner(relation, row, customers);
        for (name, relation) in base.relations() {
            let Some(rows) = &relation.product_row else {
                continue;
            };
            for row in (0..rows.len()).filter(|&row| rows.get(row) == product_row) {
                // Items belong to an order or a cart, which belongs to the subject.
                let subject = match name {
                    TableName::OrderItems => Some(relation.groups.owner_of(row))
                        .filter(|&order| order != NONE)
                        .and_then(|order| owner(&base.orders, order as usize)),
                    TableName::CartItems => Some(relation.groups.owner_of(row))
                        .filter(|&cart| cart != NONE)
                        .and_then(|cart| owner(&base.carts, cart as usize)),
                    _ => owner(relation, row),
                };
                found.extend(subject);
            }
        }
    }
    let layouts = delta.layouts(base);
    for (&subject, rows) in &delta.rows {
        if rows.names_product(&layouts, product) {
            found.insert(subject);
        }
    }
    found
}

/// The customer an address belongs to now.
fn address_owner(base: &Dataset, delta: &Delta, address: i64) -> Option<u32> {
    if let Some(&owner) = delta.owners.get(&(TableName::Addresses, address)) {
        return Some(owner);
    }
    let ids = base.addresses.table.ints("address_id")?;
    // Addresses are few per customer and events on them rare: a scan, not an index.
    let row = (0..ids.len()).position(|row| ids.get(row) == Some(address))?;
    Some(base.addresses.groups.owner_of(row)).filter(|&c| c != NONE)
}

/// What applying a list to the touched subjects gives.
pub struct Applied {
    pub delta: Delta,
    /// Each stored segment with its members over the loaded data's dense ids.
    pub segments: Segments,
}

/// Applies `lists` in order to the subjects in `touched` (what [`touched_by`] gives for
/// their events as one list): the new delta and every segment's members. The segments
/// that read a table the lists write are decided again for the touched subjects, each
/// from its rows ([`crate::live::matching`]).
pub fn apply(
    base: &Engine,
    delta: &Delta,
    segments: &Segments,
    touched: &Touched,
    lists: &[Arc<EventList>],
    now: i64,
) -> Result<Applied, super::ServiceError> {
    let Touched {
        subjects: touched,
        written,
        added,
    } = touched;
    let started = Instant::now();
    let mut phases: Vec<(&str, f64)> = Vec::new();
    let mut phase = |name: &'static str| {
        phases.push((name, started.elapsed().as_secs_f64() * 1e3));
    };
    let dataset = base.dataset();
    let subjects = Subjects {
        base: dataset,
        added,
    };
    let layouts = delta.layouts(dataset);
    let layouts = layouts.as_ref();
    let rows_before: Vec<Arc<SubjectRows>> = touched
        .iter()
        .map(|&s| match delta.rows.get(&s) {
            Some(rows) => rows.clone(),
            None if (s as usize) < first_added(dataset) => {
                Arc::new(subject_rows(dataset, layouts, s))
            }
            None => Arc::default(),
        })
        .collect();
    phase("rows read");
    let known = Known {
        base: dataset,
        layouts,
        dense: &|subject| subjects.dense(subject),
        customer_added: &|id| delta.added.get(SubjectId::Customer(id)).is_some(),
        product_added: &|id| delta.products.contains_key(&id),
        order_placed: &|id| delta.new_orders.contains(&id),
    };
    let rows: BTreeMap<u32, SubjectRows> = touched
        .iter()
        .zip(&rows_before)
        .map(|(&subject, rows)| (subject, rows.as_ref().clone()))
        .collect();
    let applied = apply_to_rows(&known, rows, lists).map_err(super::ServiceError::Event)?;
    phase("events applied");
    let mut next_delta = Delta {
        added: added.clone(),
        ..delta.clone()
    };
    for list in lists {
        next_delta.lists.push_back(list.clone());
        next_delta.events += list.len();
    }
    for (subject, rows) in applied.rows {
        if rows.is_empty() && subjects.is_visitor(subject) {
            next_delta.gone.insert(subject);
        } else {
            next_delta.gone.remove(subject);
        }
        next_delta.rows.insert(subject, Arc::new(rows));
        next_delta.touched.insert(subject);
    }
    next_delta.owners.extend(applied.owners);
    for (product, row) in applied.products {
        next_delta
            .products
            .insert(product, Arc::new(ProductRow(row)));
    }
    next_delta.new_orders.extend(applied.placed_orders);
    phase("delta kept");
    // Only segments that read a table the lists write can move; the others keep their
    // members. A segment naming another comes after it.
    let changed: BTreeSet<TableName> = lists
        .iter()
        .flat_map(|list| list.tables_written())
        .collect();
    let mut known = BTreeMap::new();
    let chosen: Vec<SegmentKey> = segments
        .keys()
        .filter(|key| !tables_read(key, segments, &mut known).is_disjoint(&changed))
        .cloned()
        .collect();
    let order = super::catalog::levels(&chosen, segments).concat();
    let mut next = segments.clone();
    let data = Data {
        engine: base,
        delta: Some(&next_delta),
    };
    let product = next_delta.product(dataset, layouts);
    let as_of_day = day_of_micros(now);
    let mut universes = FxHashMap::default();
    for key in &order {
        let matching = Instant::now();
        let stored = &segments[key];
        // What it names is matched already: the plan reads their members now.
        let plan = base
            .plan(&stored.definition, now, &LiveSource::new(data, &next, None))
            .map_err(|e| super::ServiceError::from_eval(e, None))?;
        let subject = |id, rows| Subject {
            id,
            is_visitor: subjects.is_visitor(id),
            rows,
            layouts,
            product: &product,
        };
        // The touched subjects in the segment's universe before and after: shared by the
        // segments of a scope.
        let scope = scope_of(&stored.definition);
        let (was_in, now_in) = universes
            .entry((scope.websites.to_vec(), scope.apply_to))
            .or_insert_with(|| {
                let in_universe = |id, rows| {
                    Matcher {
                        subject: subject(id, rows),
                        as_of_day,
                    }
                    .in_universe(scope)
                };
                let mut was_in = RoaringBitmap::new();
                let mut now_in = RoaringBitmap::new();
                for (&id, before) in touched.iter().zip(&rows_before) {
                    if in_universe(id, before) {
                        was_in.insert(id);
                    }
                    if in_universe(id, &next_delta.rows[&id]) {
                        now_in.insert(id);
                    }
                }
                (was_in, now_in)
            });
        let universe = (stored.universe + now_in.len()).saturating_sub(was_in.len());
        let mut members = stored.members.clone();
        let reads = &known[key];
        let moved = touched.iter().filter(|id| !written[id].is_disjoint(reads));
        for &id in moved {
            let matcher = Matcher {
                subject: subject(id, &next_delta.rows[&id]),
                as_of_day,
            };
            let member =
                stored.definition.active && now_in.contains(id) && matcher.matches(&plan, scope);
            members.set(id, member);
        }
        let mut updated = stored.as_ref().clone();
        updated.members = members;
        updated.universe = universe;
        updated.as_of = now;
        updated.refreshed_at = now;
        updated.elapsed = matching.elapsed();
        next.insert(key.clone(), Arc::new(updated));
    }
    drop(product);
    phase("segments matched");
    tracing::debug!(
        "{} subjects, {} of {} segments: {phases:?}",
        touched.len(),
        chosen.len(),
        segments.len()
    );
    Ok(Applied {
        delta: next_delta,
        segments: next,
    })
}

/// The subject (dense id) that row `row` of a customer- or visitor-owned relation belongs
/// to, if any.
fn row_owner(relation: &crate::store::Relation, row: usize, customers: u32) -> Option<u32> {
    let owned = |groups: &crate::store::Groups| Some(groups.owner_of(row)).filter(|&o| o != NONE);
    owned(&relation.groups)
        .or_else(|| owned(relation.visitor_groups.as_ref()?).map(|v| customers + v))
}

/// The loaded data's engine and, when events have touched subjects since, their delta:
/// what an evaluation of the data now reads.
#[derive(Clone, Copy)]
pub struct Data<'a> {
    pub engine: &'a Engine,
    pub delta: Option<&'a Delta>,
}

impl<'a> Data<'a> {
    pub fn plain(engine: &'a Engine) -> Data<'a> {
        Data {
            engine,
            delta: None,
        }
    }

    /// The segment's members over the data now: the loaded data's engine for untouched
    /// subjects, per-subject matching of their rows for the touched ones.
    pub fn evaluate_until(
        &self,
        segment: &Segment,
        id: Option<&str>,
        as_of: i64,
        segments: &Segments,
        deadline: Option<Instant>,
    ) -> Result<Evaluation, EvalError> {
        let Some(delta) = self.delta.filter(|d| !d.touched.is_empty()) else {
            return self
                .engine
                .evaluate_until(segment, id, as_of, &Stored(segments), deadline);
        };
        let source = LiveSource::new(*self, segments, deadline);
        let base = self
            .engine
            .evaluate_until(segment, id, as_of, &source, deadline)?;
        let plan = self.engine.plan(segment, as_of, &source)?;
        let dataset = self.engine.dataset();
        let layouts = delta.layouts(dataset);
        let subjects = Subjects {
            base: dataset,
            added: &delta.added,
        };
        let as_of_day = day_of_micros(as_of);
        // The touched subjects, each decided from its rows: (in the universe, members).
        let decide_all = |touched: &[(&u32, &Arc<SubjectRows>)]| {
            let product = delta.product(dataset, &layouts);
            let mut universe = RoaringBitmap::new();
            let mut members = RoaringBitmap::new();
            for &(&id, rows) in touched {
                let subject = Subject {
                    id,
                    is_visitor: subjects.is_visitor(id),
                    rows,
                    layouts: &layouts,
                    product: &product,
                };
                let (in_universe, member) = decide(&plan, segment, subject, as_of_day);
                if in_universe {
                    universe.insert(id);
                }
                if member {
                    members.insert(id);
                }
            }
            (universe, members)
        };
        let touched: Vec<(&u32, &Arc<SubjectRows>)> = delta.rows.iter().collect();
        // Many touched subjects (a long delta): half on each of two threads, each
        // subject's rows being reads far from the last one's.
        let (touched_universe, touched_members) = if touched.len() >= PARALLEL_SUBJECTS {
            let (low, high) = touched.split_at(touched.len() / 2);
            std::thread::scope(|scope| {
                let high = scope.spawn(|| decide_all(high));
                let (mut universe, mut members) = decide_all(low);
                let (high_universe, high_members) =
                    high.join().expect("deciding subjects does not panic");
                universe |= high_universe;
                members |= high_members;
                (universe, members)
            })
        } else {
            decide_all(&touched)
        };
        let members = (base.members - &delta.touched) | touched_members;
        let universe = (base.universe_members.as_ref() - &delta.touched) | touched_universe;
        Ok(Evaluation {
            members,
            universe: universe.len(),
            universe_members: Arc::new(universe),
        })
    }
}

/// `in_segment` over the data now: a stored segment's members where they hold at the
/// instant asked, else its definition evaluated over the data now (never over the loaded
/// data alone, which would miss what events changed).
struct LiveSource<'a> {
    data: Data<'a>,
    segments: &'a Segments,
    deadline: Option<Instant>,
    evaluated: Mutex<FxHashMap<(String, i64), Arc<RoaringBitmap>>>,
}

impl<'a> LiveSource<'a> {
    fn new(data: Data<'a>, segments: &'a Segments, deadline: Option<Instant>) -> LiveSource<'a> {
        LiveSource {
            data,
            segments,
            deadline,
            evaluated: Mutex::default(),
        }
    }
}

impl SegmentSource for LiveSource<'_> {
    fn segment(&self, id: &str) -> Result<Option<Segment>, crate::segment::DefinitionError> {
        Stored(self.segments).segment(id)
    }

    fn members(&self, id: &str, as_of: i64) -> Option<Arc<RoaringBitmap>> {
        if let Some(members) = Stored(self.segments).members(id, as_of) {
            return Some(members);
        }
        let key = (id.to_string(), as_of);
        if let Some(found) = self
            .evaluated
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
        {
            return Some(found.clone());
        }
        let stored = self.segments.get(&SegmentKey::of(id))?;
        let evaluation = self
            .data
            .evaluate_until(
                &stored.definition,
                Some(id),
                as_of,
                self.segments,
                self.deadline,
            )
            .ok()?;
        let members = Arc::new(evaluation.members);
        self.evaluated
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, members.clone());
        Some(members)
    }
}
