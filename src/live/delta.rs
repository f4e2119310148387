//! What events changed since the data was loaded, kept per subject: the rows events
//! added, removed or changed in every subject a list touched ([`super::changes`]), the
//! products events wrote, and the guest orders, which belong to no subject. The loaded
//! data answers for everything else. A subject's rows now are its loaded rows with its
//! changes applied; [`super::apply`] applies a list to them, and a bounded cache keeps
//! those of the subjects lately touched or read.
//!
//! New customers and visitors get the dense ids after the loaded data's ([`AddedSubjects`]).
//! A product change touches every subject whose records name the product, since their
//! memberships may move.
//!
//! The delta is folded into newly loaded data by writing the loaded tables with the
//! touched subjects' changes made ([`super::materialize`]).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use roaring::RoaringBitmap;
use rustc_hash::FxHashMap;

use super::apply::{Known, apply_to_rows};
use super::changes::{RowsCache, SubjectChanges};
use crate::events::{
    Event, EventError, EventList, Layouts, ProductRow, Row, SubjectRows, order_rows, product_row,
    subject_rows, subject_rows_in,
};
use crate::model::{SubjectId, TableName};
use crate::store::{Dataset, NONE};

/// What events changed since the data was loaded (or last rebuilt).
#[derive(Clone, Default)]
pub struct Delta {
    // Persistent collections: each list makes a new delta from the last in time of its
    // own size, not of everything since the load.
    /// The lists applied since, and the latest of them while a fold needs them.
    pub lists: AppliedLists,
    pub events: usize,
    /// What events changed in the touched subjects' rows, by their dense id.
    pub changes: imbl::OrdMap<u32, Arc<SubjectChanges>>,
    pub touched: RoaringBitmap,
    /// The touched subjects by table their events wrote: a definition that reads none of
    /// those a subject's events wrote matches it as over the loaded data.
    written: WrittenTables,
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
    /// Guest orders events placed or changed, by order id: the order's rows with its items
    /// and addresses (none once it became a customer's).
    pub guest_orders: imbl::OrdMap<i64, Arc<SubjectRows>>,
    /// The loaded data's products that matching read, kept for the next lists: shared
    /// by every delta over the same loaded data.
    loaded_products: Arc<Mutex<FxHashMap<i64, Option<Arc<ProductRow>>>>>,
    /// The loaded data's tables' columns, made once: shared the same way.
    layouts: Arc<std::sync::OnceLock<Arc<Layouts>>>,
    /// Rows now of subjects lately touched or read: shared the same way, each entry
    /// valid for the changes it was made with.
    rows_now: Arc<Mutex<RowsCache>>,
}

/// The subjects whose events wrote each table, a bitmap per table: a list clones only
/// the bitmaps of the tables it writes, and a read unions those of the tables it reads.
#[derive(Clone, Default)]
struct WrittenTables([Arc<RoaringBitmap>; TableName::ALL.len()]);

impl WrittenTables {
    fn at(table: TableName) -> usize {
        let at = TableName::ALL.iter().position(|&t| t == table);
        at.expect("one of the data model's tables")
    }

    fn note(&mut self, subject: u32, table: TableName) {
        Arc::make_mut(&mut self.0[Self::at(table)]).insert(subject);
    }

    fn any_of(&self, tables: &BTreeSet<TableName>) -> RoaringBitmap {
        let mut subjects = RoaringBitmap::new();
        for &table in tables {
            subjects |= self.0[Self::at(table)].as_ref();
        }
        subjects
    }
}

/// How many lists were applied since the data was loaded, and the latest of them while
/// something will read them again: a fold catches up with the lists applied since it
/// started, and carries them into its checkpoint's log. Between folds none is kept: a
/// list holds its JSON and its typed rows, several times the rows it adds.
#[derive(Clone, Default)]
pub struct AppliedLists {
    count: usize,
    /// The last `kept.len()` lists applied.
    kept: imbl::Vector<Arc<EventList>>,
    keeping: bool,
}

impl AppliedLists {
    /// The lists applied.
    pub fn len(&self) -> usize {
        self.count
    }

    /// How many of the latest are kept.
    pub fn kept(&self) -> usize {
        self.kept.len()
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Whether the lists applied from now on are kept; not keeping forgets those kept.
    pub fn keep(&mut self, keep: bool) {
        self.keeping = keep;
        if !keep {
            self.kept = imbl::Vector::new();
        }
    }

    fn push(&mut self, list: Arc<EventList>) {
        self.count += 1;
        if self.keeping {
            self.kept.push_back(list);
        }
    }

    /// The lists applied from the `from`th (counting from 0) on, or `None` when some of
    /// them were not kept.
    pub fn since(&self, from: usize) -> Option<impl Iterator<Item = &Arc<EventList>>> {
        let first_kept = self.count - self.kept.len();
        (from >= first_kept).then(|| self.kept.iter().skip(from - first_kept))
    }
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

/// Whether `subject` is one of the loaded data's (not one events added).
fn is_loaded(base: &Dataset, subject: u32) -> bool {
    (subject as usize) < first_added(base)
}

/// A subject's rows in the loaded data (none for a subject events added).
fn loaded_rows(base: &Dataset, layouts: &Layouts, subject: u32) -> SubjectRows {
    match is_loaded(base, subject) {
        true => subject_rows(base, layouts, subject),
        false => SubjectRows::default(),
    }
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
    /// This delta with a cache of the rows now of at most `rows` rows, shared by the
    /// deltas made from it (0: every read makes them from the loaded rows and changes).
    pub fn with_rows_cached(mut self, rows: usize) -> Delta {
        self.rows_now = Arc::new(Mutex::new(RowsCache::holding(rows)));
        self
    }

    /// Whether events wrote `subject`'s rows of `table` (a subject events added wrote
    /// every table it has rows in).
    pub fn wrote(&self, subject: u32, table: TableName) -> bool {
        self.written.0[WrittenTables::at(table)].contains(subject)
    }

    /// The touched subjects whose place in a definition reading `reads` may differ from
    /// the loaded data's: those whose events wrote one of those tables. The loaded data
    /// answers for the others as it does for the untouched. `reads` holds the tables of
    /// the definition's universe too, and a subject events added or took away wrote
    /// those: a customer is added by `customer_upserted`, a visitor by a view or a cart,
    /// and a visitor goes by `visitor_logged_in`, which writes its carts and views.
    pub fn changed_for(&self, reads: &BTreeSet<TableName>) -> Vec<u32> {
        self.written
            .any_of(reads)
            .iter()
            .filter(|id| self.changes.contains_key(id))
            .collect()
    }

    /// The rows now of `subject`, a touched subject (none for others: the loaded data's
    /// rows are theirs). With `only`, the rows of those tables may be all it holds.
    pub fn rows_now(
        &self,
        base: &Dataset,
        layouts: &Layouts,
        subject: u32,
        only: Option<&BTreeSet<TableName>>,
    ) -> Option<Arc<SubjectRows>> {
        let changes = self.changes.get(&subject)?;
        if let Some(rows) = self.cached(subject, changes) {
            return Some(rows);
        }
        let rows = match only {
            // Rows of a few tables: not kept, since the next reader may read others.
            Some(tables) => {
                let loaded = match is_loaded(base, subject) {
                    true => subject_rows_in(base, layouts, subject, tables),
                    false => SubjectRows::default(),
                };
                return Some(Arc::new(changes.applied_to(loaded, Some(tables))));
            }
            None => Arc::new(changes.applied_to(loaded_rows(base, layouts, subject), None)),
        };
        self.cache().insert(subject, changes.clone(), rows.clone());
        Some(rows)
    }

    /// The rows now of `subject`, whose loaded rows `loaded` gives if they are needed.
    fn rows_now_from(
        &self,
        subject: u32,
        loaded: impl FnOnce() -> SubjectRows,
    ) -> Arc<SubjectRows> {
        match self.changes.get(&subject) {
            Some(changes) => self
                .cached(subject, changes)
                .unwrap_or_else(|| Arc::new(changes.applied_to(loaded(), None))),
            None => Arc::new(loaded()),
        }
    }

    /// Rows events added or changed to that the delta holds until the next fold.
    pub fn rows_held(&self) -> usize {
        self.changes
            .values()
            .map(|changes| changes.rows_added())
            .sum()
    }

    /// Bytes held for the subjects' changes (their rows packed), beyond the map's entries.
    pub fn bytes_held(&self) -> usize {
        self.changes
            .values()
            .map(|changes| changes.heap_bytes())
            .sum()
    }

    /// Rows the cache of rows now holds (shared by every delta over the same loaded data).
    pub fn rows_cached(&self) -> usize {
        self.cache().rows()
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, RowsCache> {
        self.rows_now.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `subject`'s rows now, made with `changes`, if the cache holds them.
    fn cached(&self, subject: u32, changes: &Arc<SubjectChanges>) -> Option<Arc<SubjectRows>> {
        self.cache().get(subject, changes)
    }

    /// The columns of the loaded data's tables (`base`: the data this delta is over).
    pub fn layouts(&self, base: &Dataset) -> Arc<Layouts> {
        self.layouts
            .get_or_init(|| Arc::new(Layouts::of(base)))
            .clone()
    }

    /// The products now: as events left them, else as loaded.
    pub fn product<'a>(
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
    /// Guest orders the list changes (or places).
    pub guest_orders: BTreeSet<i64>,
    /// A product the list changes that more than the reach limit's subjects name: their
    /// memberships are not decided one by one.
    pub product_beyond_reach: Option<(i64, u64)>,
}

/// The subjects a list touches: those it names, the owners of the records it changes, and
/// those whose records name a product it changes (up to `product_reach` of them; 0: none
/// looked for, when no memberships are decided).
pub fn touched_by<'e>(
    events: impl Iterator<Item = &'e Event>,
    base: &Dataset,
    delta: &Delta,
    product_reach: usize,
) -> Touched {
    let customers = base.customer_count() as u32;
    let owner_in_base = |table: TableName, id: i64| -> Option<u32> {
        let (index, relation) = match table {
            TableName::Orders => (&base.order_index, &base.orders),
            TableName::Carts => (&base.cart_index, &base.carts),
            _ => return None,
        };
        row_owner(relation, index.get(id)? as usize, customers)
    };
    // An order events made a guest's has no owner, whatever it had.
    let is_guest_order = |table: TableName, id: i64| {
        table == TableName::Orders && delta.guest_orders.get(&id).is_some_and(|r| !r.is_empty())
    };
    let owner = |table: TableName, id: i64| {
        if is_guest_order(table, id) {
            return None;
        }
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
    let mut product_beyond_reach = None;
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
            Event::ProductUpserted(row) if product_reach > 0 => {
                if let Some(product) = row.product_id {
                    let reach = subjects_with_product(base, delta, product);
                    if reach.len() > product_reach as u64 {
                        product_beyond_reach = Some((product, reach.len()));
                    } else {
                        touched.extend(&reach);
                    }
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
                // Placed twice: the applier says so, with no rows needed.
            }
            // A guest order is no subject's: its rows are kept on their own.
            Event::OrderPlaced { order, .. } if order.customer_id.is_none() => {
                guest_orders.extend(order.key);
            }
            Event::OrderUpdated { order_id, .. } => match owner(TableName::Orders, *order_id) {
                _ if guest_orders.contains(order_id) => {}
                Some(o) => {
                    touched.push(o);
                }
                None if order_exists(*order_id) => {
                    guest_orders.insert(*order_id);
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
    Touched {
        subjects: written.keys().copied().collect(),
        written,
        added,
        guest_orders,
        product_beyond_reach,
    }
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
    for (&subject, changes) in &delta.changes {
        if changes.adds_product(&layouts, product) {
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

/// The subject (dense id) that row `row` of a customer- or visitor-owned relation belongs
/// to, if any.
fn row_owner(relation: &crate::store::Relation, row: usize, customers: u32) -> Option<u32> {
    let owned = |groups: &crate::store::Groups| Some(groups.owner_of(row)).filter(|&o| o != NONE);
    owned(&relation.groups)
        .or_else(|| owned(relation.visitor_groups.as_ref()?).map(|v| customers + v))
}

/// What the touched subjects' rows were before the lists: kept for deciding who moved, or
/// not (a fold or a replay, where they are the bulk of the memory).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum RowsBefore {
    Kept,
    Dropped,
}

/// What applying lists to the rows of the subjects they touch gives.
pub struct RowsApplied {
    pub delta: Delta,
    /// The touched subjects' rows before the lists (if kept), in the order of
    /// `touched.subjects`, and after, by subject.
    pub before: Vec<Arc<SubjectRows>>,
    pub after: BTreeMap<u32, Arc<SubjectRows>>,
}

/// Applies `lists` in order to the subjects and guest orders in `touched` (what
/// [`touched_by`] gives for their events as one list): the delta they leave, and the
/// touched subjects' rows before (if kept) and after.
pub fn apply_rows(
    base: &Dataset,
    delta: &Delta,
    touched: &Touched,
    lists: &[Arc<EventList>],
    before: RowsBefore,
) -> Result<RowsApplied, EventError> {
    let subjects = Subjects {
        base,
        added: &touched.added,
    };
    let layouts = delta.layouts(base);
    let layouts = layouts.as_ref();
    // The loaded rows, which the changes after are taken against, and the rows now.
    let mut loaded: BTreeMap<u32, SubjectRows> = touched
        .subjects
        .iter()
        .map(|&s| (s, loaded_rows(base, layouts, s)))
        .collect();
    // A delta that is only folded (a replay, a rebuild) need not know which loaded rows
    // stay: its changes replace the tables written whole, and the loaded rows are not
    // held beside the rows applied to.
    let (mut rows_before, loaded_lengths): (Vec<Arc<SubjectRows>>, BTreeMap<u32, _>) = match before
    {
        RowsBefore::Kept => {
            let before = loaded
                .iter()
                .map(|(&s, rows)| delta.rows_now_from(s, || rows.clone()));
            (before.collect(), BTreeMap::new())
        }
        RowsBefore::Dropped => {
            let taken = std::mem::take(&mut loaded);
            let lengths = taken.iter().map(|(&s, rows)| (s, rows.lengths())).collect();
            let before = taken
                .into_iter()
                .map(|(s, rows)| delta.rows_now_from(s, || rows));
            (before.collect(), lengths)
        }
    };
    let guest_orders: BTreeMap<i64, SubjectRows> = touched
        .guest_orders
        .iter()
        .map(|&order| {
            let rows = match delta.guest_orders.get(&order) {
                Some(rows) => rows.as_ref().clone(),
                None => base
                    .order_index
                    .get(order)
                    .map(|row| order_rows(base, layouts, row as usize))
                    .unwrap_or_default(),
            };
            (order, rows)
        })
        .collect();
    let known = Known {
        base,
        layouts,
        dense: &|subject| subjects.dense(subject),
        customer_added: &|id| delta.added.get(SubjectId::Customer(id)).is_some(),
        product_added: &|id| delta.products.contains_key(&id),
        order_placed: &|id| delta.new_orders.contains(&id),
    };
    let rows: BTreeMap<u32, SubjectRows> = match before {
        RowsBefore::Kept => touched
            .subjects
            .iter()
            .zip(&rows_before)
            .map(|(&subject, rows)| (subject, rows.as_ref().clone()))
            .collect(),
        // Rows read from the loaded data are moved, not copied.
        RowsBefore::Dropped => touched
            .subjects
            .iter()
            .zip(std::mem::take(&mut rows_before))
            .map(|(&subject, rows)| {
                let rows = Arc::try_unwrap(rows).unwrap_or_else(|shared| (*shared).clone());
                (subject, rows)
            })
            .collect(),
    };
    let applied = apply_to_rows(&known, rows, guest_orders, lists)?;
    let mut next = Delta {
        added: touched.added.clone(),
        ..delta.clone()
    };
    let mut after = BTreeMap::new();
    for list in lists {
        next.lists.push(list.clone());
        next.events += list.len();
    }
    for (subject, rows) in applied.rows {
        if rows.is_empty() && subjects.is_visitor(subject) {
            next.gone.insert(subject);
        } else {
            next.gone.remove(subject);
        }
        next.touched.insert(subject);
        for &table in touched.written.get(&subject).into_iter().flatten() {
            next.written.note(subject, table);
        }
        let written = TableName::ALL
            .into_iter()
            .filter(|&t| next.wrote(subject, t));
        let changes = match (loaded.remove(&subject), loaded_lengths.get(&subject)) {
            (Some(loaded), _) => SubjectChanges::between(&loaded, &rows, written),
            (None, Some(lengths)) => SubjectChanges::replacing(lengths, &rows, written),
            (None, None) => {
                SubjectChanges::between(&loaded_rows(base, layouts, subject), &rows, written)
            }
        };
        let changes = Arc::new(changes);
        let rows = Arc::new(rows);
        if before == RowsBefore::Kept {
            next.cache().insert(subject, changes.clone(), rows.clone());
        }
        next.changes.insert(subject, changes);
        after.insert(subject, rows);
    }
    for (order, rows) in applied.guest_orders {
        next.guest_orders.insert(order, Arc::new(rows));
    }
    next.owners.extend(applied.owners);
    for (product, row) in applied.products {
        next.products.insert(product, Arc::new(ProductRow(row)));
    }
    next.new_orders.extend(applied.placed_orders);
    Ok(RowsApplied {
        delta: next,
        before: rows_before,
        after,
    })
}
