//! Events applied incrementally: only the subjects a list of events touches are looked at
//! again. Their rows (from the loaded data, or as earlier events left them) go into a
//! small dataset of their own, the events are applied to it, and every stored segment is
//! matched over it; their memberships replace theirs in the stored members. The loaded
//! data and its indexes stay as they are.
//!
//! The [`Delta`] keeps the rows of every subject touched since the data was loaded, so
//! that evaluations of new definitions (estimates, creates, refreshes, a new day) see the
//! data as events left it: the loaded data answers for everyone else, a dataset of the
//! touched subjects for them ([`evaluate`]).
//!
//! Lists that this cannot take apply by rebuilding the data instead: a new customer or
//! visitor (dense ids are fixed), a product change (it reaches every subject that has the
//! product), or a change to a guest order. So does the first list after the delta has
//! grown past `checkpoint_after_events` ([`super::ServiceOptions`]), which folds it into
//! newly loaded data.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use roaring::RoaringBitmap;
use rustc_hash::FxHashMap;
use serde_json::Value as Json;

use super::{SegmentKey, Segments, Stored, StoredSegment};
use crate::data::value::day_of_micros;
use crate::events::{Layouts, SubjectRows, dataset_of, subject_rows};
use crate::model::TableName;
use crate::segment::{Engine, EvalError, Evaluation, Segment, SegmentSource};
use crate::store::{Dataset, NONE};

/// What events changed since the data was loaded (or last rebuilt).
#[derive(Clone, Default)]
pub struct Delta {
    // Persistent collections: each list makes a new delta from the last in time of its
    // own size, not of everything since the load.
    /// Every list applied since, in order: a rebuild applies them all to the loaded data.
    pub lists: imbl::Vector<Arc<Json>>,
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
    /// A dataset of every touched subject, built when an evaluation first needs it.
    all: Arc<OnceLock<Result<Arc<Part>, String>>>,
}

/// A dataset of some subjects, evaluated on its own: its dense ids map to the loaded
/// data's.
pub struct Part {
    pub engine: Engine,
    pub to_base: Vec<u32>,
    pub from_base: FxHashMap<u32, u32>,
}

impl Part {
    fn new(dataset: Dataset, base: &Dataset) -> Part {
        let customers = dataset.customer_count();
        let ids = dataset.customer_ids();
        let base_customers = base.customer_count() as u32;
        let to_base: Vec<u32> = (0..customers)
            .map(|c| base.customer_index.get(ids.value(c)).unwrap_or(NONE))
            .chain(dataset.visitor_ids.iter().map(|&v| {
                base.visitor_index
                    .get(v)
                    .map_or(NONE, |b| base_customers + b)
            }))
            .collect();
        let from_base = to_base
            .iter()
            .enumerate()
            .map(|(part, &base)| (base, part as u32))
            .collect();
        Part {
            engine: Engine::new(Arc::new(dataset)),
            to_base,
            from_base,
        }
    }

    fn to_base(&self, members: &RoaringBitmap) -> RoaringBitmap {
        members
            .iter()
            .map(|m| self.to_base[m as usize])
            .filter(|&b| b != NONE)
            .collect()
    }
}

impl Delta {
    /// The dataset of every touched subject (built once per delta).
    pub fn all(&self, base: &Dataset) -> Result<Arc<Part>, String> {
        self.all
            .get_or_init(|| {
                let started = Instant::now();
                let layouts = Layouts::of(base);
                let rows: Vec<&Arc<SubjectRows>> = self.rows.values().collect();
                let dataset = dataset_of(
                    base,
                    &layouts,
                    rows.iter().map(|r| r.as_ref()),
                    &[],
                    Path::new("touched subjects"),
                )
                .map_err(|e| e.to_string())?;
                let part = Part::new(dataset, base);
                tracing::debug!(
                    "dataset of {} touched subjects built in {:.1} ms",
                    self.rows.len(),
                    started.elapsed().as_secs_f64() * 1e3
                );
                Ok(Arc::new(part))
            })
            .clone()
    }
}

/// Why a list of events rebuilds the data instead.
pub type RebuildReason = String;

/// The subjects a list touches (dense ids of the loaded data), or why it must rebuild.
pub fn touched_by(
    list: &Json,
    base: &Dataset,
    delta: &Delta,
    fold_after: usize,
) -> Result<BTreeSet<u32>, RebuildReason> {
    if delta.events >= fold_after {
        return Err(format!(
            "{} events since the data was loaded: folding them in",
            delta.events
        ));
    }
    let Some(events) = list.as_array() else {
        return Err("not a list".into());
    };
    let customers = base.customer_count() as u32;
    let customer = |id: i64| -> Result<u32, RebuildReason> {
        base.customer_index
            .get(id)
            .ok_or_else(|| format!("customer {id} is new (or unknown)"))
    };
    let visitor = |id: i64| -> Result<u32, RebuildReason> {
        match base.visitor_index.get(id) {
            Some(v) if !delta.gone.contains(customers + v) => Ok(customers + v),
            _ => Err(format!("visitor {id} is new (or unknown)")),
        }
    };
    let owner_in_base = |table: TableName, id: i64| -> Option<u32> {
        let (index, relation) = match table {
            TableName::Orders => (&base.order_index, &base.orders),
            TableName::Carts => (&base.cart_index, &base.carts),
            _ => return None,
        };
        let row = index.get(id)? as usize;
        match relation.groups.owner.get(row) {
            Some(&c) if c != NONE => Some(c),
            _ => relation
                .visitor_groups
                .as_ref()
                .and_then(|g| g.owner.get(row).copied())
                .filter(|&v| v != NONE)
                .map(|v| customers + v),
        }
    };
    let owner = |table: TableName, id: i64| {
        delta
            .owners
            .get(&(table, id))
            .copied()
            .or_else(|| owner_in_base(table, id))
    };
    let mut touched = BTreeSet::new();
    for event in events {
        let id = |key: &str| event.get(key).and_then(Json::as_i64);
        let kind = event.get("type").and_then(Json::as_str).unwrap_or("");
        // Malformed events are left to the applier, which names what is wrong.
        if let Some(c) = id("customer_id") {
            touched.insert(customer(c)?);
        }
        if let Some(v) = id("visitor_id") {
            touched.insert(visitor(v)?);
        }
        match kind {
            "product_upserted" => return Err("a product changed".into()),
            "address_upserted" | "address_deleted" => {
                if let Some(address) = id("address_id") {
                    touched.extend(address_owner(base, delta, address));
                }
            }
            "order_placed" => {
                if let Some(order) = id("order_id")
                    && (base.order_index.get(order).is_some() || delta.new_orders.contains(&order))
                {
                    // Placed twice: the applier says so, given the order's owner.
                    match owner(TableName::Orders, order) {
                        Some(o) => {
                            touched.insert(o);
                        }
                        None => return Err(format!("order {order} is a guest order")),
                    }
                }
            }
            // An order that loses its customer becomes a guest order, which no subject's
            // rows hold.
            "order_updated" if event.get("customer_id").is_some_and(Json::is_null) => {
                return Err("an order becomes a guest order".into());
            }
            "order_updated" => match id("order_id").map(|o| (o, owner(TableName::Orders, o))) {
                Some((_, Some(o))) => {
                    touched.insert(o);
                }
                Some((order, None))
                    if base.order_index.get(order).is_some()
                        || delta.new_orders.contains(&order) =>
                {
                    return Err(format!("order {order} is a guest order"));
                }
                _ => {}
            },
            "cart_updated" => {
                if let Some(o) = id("cart_id").and_then(|c| owner(TableName::Carts, c)) {
                    touched.insert(o);
                }
            }
            _ => {}
        }
    }
    Ok(touched)
}

/// The customer an address belongs to now.
fn address_owner(base: &Dataset, delta: &Delta, address: i64) -> Option<u32> {
    if let Some(&owner) = delta.owners.get(&(TableName::Addresses, address)) {
        return Some(owner);
    }
    let ids = base.addresses.table.int64("address_id")?;
    // Addresses are few per customer and events on them rare: a scan, not an index.
    let row = ids.values().iter().position(|&a| a == address)?;
    base.addresses
        .groups
        .owner
        .get(row)
        .copied()
        .filter(|&c| c != NONE)
}

/// What applying a list to the touched subjects gives.
pub struct Applied {
    pub delta: Delta,
    /// Each stored segment with its members over the loaded data's dense ids.
    pub segments: Segments,
}

/// Applies `list` to the subjects in `touched`: the new delta and every segment's members.
pub fn apply(
    base: &Engine,
    delta: &Delta,
    segments: &Segments,
    touched: &BTreeSet<u32>,
    list: &Json,
    now: i64,
) -> Result<Applied, super::ServiceError> {
    let started = Instant::now();
    let mut phases: Vec<(&str, f64)> = Vec::new();
    let mut phase = |name: &'static str| {
        phases.push((name, started.elapsed().as_secs_f64() * 1e3));
    };
    let dataset = base.dataset();
    let layouts = Layouts::of(dataset);
    let rows: Vec<Arc<SubjectRows>> = touched
        .iter()
        .map(|&s| {
            delta
                .rows
                .get(&s)
                .cloned()
                .unwrap_or_else(|| Arc::new(subject_rows(dataset, &layouts, s)))
        })
        .collect();
    let products = named_products(list);
    let label = Path::new("touched subjects");
    let before = dataset_of(
        dataset,
        &layouts,
        rows.iter().map(|r| r.as_ref()),
        &products,
        label,
    )
    .map_err(|e| super::ServiceError::Engine(e.to_string()))?;
    phase("rows copied");
    // The touched subjects' scopes before the events, to count every universe again.
    let scopes_before = Engine::new(Arc::new(before.clone()));
    let after = crate::events::apply(&before, list, label).map_err(super::event_error)?;
    phase("events applied");
    // Ids map through the loaded data: every subject the list names is in it.
    let part = Part::new(after, dataset);
    let after = part.engine.dataset();
    // Only segments that read a table the list changes can move; the others keep their
    // members. Every segment's members of the touched subjects, in the small dataset's
    // ids, are what `in_segment` reads there.
    let changed = tables_changed(list);
    let mut known = BTreeMap::new();
    let chosen: Vec<SegmentKey> = segments
        .keys()
        .filter(|key| !tables_read(key, segments, &mut known).is_disjoint(&changed))
        .cloned()
        .collect();
    let mut matched: Segments = segments
        .iter()
        .map(|(key, stored)| {
            let mut own = stored.as_ref().clone();
            own.members = Arc::new(
                part.from_base
                    .iter()
                    .filter(|(base, _)| stored.members.contains(**base))
                    .map(|(_, own)| *own)
                    .collect(),
            );
            (key.clone(), Arc::new(own))
        })
        .collect();
    phase("segments chosen");
    super::rematch(&Data::plain(&part.engine), &mut matched, &chosen, now, now)?;
    phase("segments matched");
    let touched_bitmap: RoaringBitmap = touched.iter().copied().collect();
    let mut next = segments.clone();
    for key in &chosen {
        let stored = &segments[key];
        let mut members = stored.members.as_ref() - &touched_bitmap;
        members |= part.to_base(&matched[key].members);
        let universe_before = scopes_before.scope_of(&stored.definition).len();
        let mut updated = matched[key].as_ref().clone();
        updated.members = Arc::new(members);
        updated.universe =
            (stored.universe + matched[key].universe).saturating_sub(universe_before);
        next.insert(key.clone(), Arc::new(updated));
    }
    let mut delta = Delta {
        all: Arc::new(OnceLock::new()),
        ..delta.clone()
    };
    delta.lists.push_back(Arc::new(list.clone()));
    delta.events += list.as_array().map_or(0, Vec::len);
    let after_layouts = Layouts::of(after);
    for subject in &touched_bitmap {
        let rows = match part.from_base.get(&subject) {
            Some(&p) => subject_rows(after, &after_layouts, p),
            None => SubjectRows::default(),
        };
        if rows.is_empty() && subject >= dataset.customer_count() as u32 {
            delta.gone.insert(subject);
        } else {
            delta.gone.remove(subject);
        }
        delta.rows.insert(subject, Arc::new(rows));
        delta.touched.insert(subject);
    }
    record_owners(&mut delta, after, &part);
    phase("delta kept");
    tracing::debug!(
        "{} subjects, {} of {} segments: {phases:?}",
        touched.len(),
        chosen.len(),
        segments.len()
    );
    for event in list.as_array().into_iter().flatten() {
        if event.get("type").and_then(Json::as_str) == Some("order_placed")
            && let Some(order) = event.get("order_id").and_then(Json::as_i64)
        {
            delta.new_orders.insert(order);
        }
    }
    Ok(Applied {
        delta,
        segments: next,
    })
}

/// The tables a list of events writes.
fn tables_changed(list: &Json) -> BTreeSet<TableName> {
    use TableName::*;
    let mut tables = BTreeSet::new();
    for event in list.as_array().into_iter().flatten() {
        let written: &[TableName] = match event.get("type").and_then(Json::as_str) {
            Some("customer_upserted") => &[Customers],
            Some("address_upserted" | "address_deleted") => &[Addresses],
            // An order that changes hands takes its items and addresses along.
            Some("order_placed" | "order_updated") => &[Orders, OrderItems, OrderAddresses],
            Some("cart_updated") => &[Carts, CartItems],
            Some("wishlist_item_added" | "wishlist_item_removed") => &[WishlistItems],
            Some("product_viewed") => &[ProductViews],
            Some("visitor_logged_in") => &[Carts, CartItems, ProductViews],
            _ => &TableName::ALL,
        };
        tables.extend(written.iter().copied());
    }
    tables
}

/// The tables a stored segment's members are read from, through the segments it names.
fn tables_read(
    key: &SegmentKey,
    segments: &Segments,
    known: &mut BTreeMap<SegmentKey, BTreeSet<TableName>>,
) -> BTreeSet<TableName> {
    if let Some(found) = known.get(key) {
        return found.clone();
    }
    let Some(stored) = segments.get(key) else {
        return BTreeSet::new();
    };
    let mut tables = stored.definition.tables_read();
    for named in &stored.references {
        tables.extend(tables_read(named, segments, known));
    }
    known.insert(key.clone(), tables.clone());
    tables
}

/// Where the touched subjects' orders, carts and addresses are now.
fn record_owners(delta: &mut Delta, after: &Dataset, part: &Part) {
    let customers = after.customer_count() as u32;
    let mut note = |table: TableName,
                    ids: Option<&datafusion::arrow::array::Int64Array>,
                    relation: &crate::store::Relation| {
        let Some(ids) = ids else { return };
        for (row, id) in ids.iter().enumerate() {
            let Some(id) = id else { continue };
            let customer = relation
                .groups
                .owner
                .get(row)
                .copied()
                .filter(|&o| o != NONE);
            let visitor = relation
                .visitor_groups
                .as_ref()
                .and_then(|g| g.owner.get(row).copied())
                .filter(|&o| o != NONE)
                .map(|v| customers + v);
            if let Some(owner) = customer.or(visitor) {
                let base = part.to_base[owner as usize];
                if base != NONE {
                    delta.owners.insert((table, id), base);
                }
            }
        }
    };
    note(
        TableName::Orders,
        after.orders.table.int64("order_id"),
        &after.orders,
    );
    note(
        TableName::Carts,
        after.carts.table.int64("cart_id"),
        &after.carts,
    );
    note(
        TableName::Addresses,
        after.addresses.table.int64("address_id"),
        &after.addresses,
    );
}

/// Product ids the events name (their rows must be in the small dataset).
fn named_products(list: &Json) -> Vec<i64> {
    let mut ids = Vec::new();
    for event in list.as_array().into_iter().flatten() {
        ids.extend(event.get("product_id").and_then(Json::as_i64));
        for nested in ["items"] {
            for item in event
                .get(nested)
                .and_then(Json::as_array)
                .into_iter()
                .flatten()
            {
                ids.extend(item.get("product_id").and_then(Json::as_i64));
            }
        }
    }
    ids
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
    /// subjects, the touched subjects' own dataset for them.
    pub fn evaluate_until(
        &self,
        segment: &Segment,
        id: Option<&str>,
        as_of: i64,
        segments: &Segments,
        deadline: Option<Instant>,
    ) -> Result<Evaluation, EvalError> {
        let base = self
            .engine
            .evaluate_until(segment, id, as_of, &Stored(segments), deadline)?;
        let Some(delta) = self.delta.filter(|d| !d.touched.is_empty()) else {
            return Ok(base);
        };
        let part = delta
            .all(self.engine.dataset())
            .map_err(EvalError::Engine)?;
        let source = InPart {
            segments,
            part: &part,
        };
        let own = part
            .engine
            .evaluate_until(segment, id, as_of, &source, deadline)?;
        let mut members = base.members - &delta.touched;
        members |= part.to_base(&own.members);
        let mut universe = base.universe_members.as_ref() - &delta.touched;
        universe |= part.to_base(&own.universe_members);
        Ok(Evaluation {
            members,
            universe: universe.len(),
            universe_members: Arc::new(universe),
        })
    }
}

/// `in_segment` inside the touched subjects' dataset: the stored members of those
/// subjects, in its ids.
struct InPart<'a> {
    segments: &'a Segments,
    part: &'a Part,
}

impl SegmentSource for InPart<'_> {
    fn segment(&self, id: &str) -> Result<Option<Segment>, crate::segment::DefinitionError> {
        Stored(self.segments).segment(id)
    }

    fn members(&self, id: &str, as_of: i64) -> Option<Arc<RoaringBitmap>> {
        let stored: &Arc<StoredSegment> = self.segments.get(&SegmentKey::of(id))?;
        let holds = !stored.time_dependent || day_of_micros(stored.as_of) == day_of_micros(as_of);
        if !holds {
            return None;
        }
        Some(Arc::new(
            self.part
                .from_base
                .iter()
                .filter(|(base, _)| stored.members.contains(**base))
                .map(|(_, part)| *part)
                .collect(),
        ))
    }
}
