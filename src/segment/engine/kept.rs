//! What an engine builds once and keeps: column indexes, rows by product, the rows and
//! subjects of each scope; what a load prepares of them; their memory.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use datafusion::arrow::array::AsArray;
use roaring::RoaringBitmap;
use rustc_hash::FxHashMap;

use super::per_scope::PerScope;
use super::products::RowTimes;
use super::{
    ColumnKey, Engine, PREPARED_DISTINCT, ProductRows, ScopeKey, TIME_SAMPLE_EVERY, website_test,
};
use crate::model::{FieldType, TableName};
use crate::segment::bitmaps::for_intersecting;
use crate::segment::definition::ApplyTo;
use crate::segment::index::ColumnIndex;
use crate::segment::list_index::ListIndex;
use crate::segment::predicate::Test;
use crate::segment::rows::ColumnReader;
use crate::segment::schema::RelationKind;
use crate::segment::space::Space;
use crate::segment::tail_index::TailIndex;
use crate::store::{Column, MemoryItem, NONE, ProductLinks, group_rows};

impl Engine {
    /// Builds the structures that scopes, time windows, enumerations and product
    /// conditions read, whichever segment comes first: every relation's rows by product,
    /// and the index of every `website_id`, bool, date and timestamp column and of every
    /// string column of at most [`PREPARED_DISTINCT`] distinct values (statuses, types,
    /// genders), in every table but products (small enough to index on first use), and
    /// the tail index of customers' emails.
    pub fn prepare(&self) {
        let started = Instant::now();
        let product_spaces = [
            RelationKind::OrderItem,
            RelationKind::ProductView,
            RelationKind::CartItem,
            RelationKind::WishlistItem,
        ];
        // The largest (order items) on a thread of its own, the rest and the indexes
        // on this one.
        let prepared = std::thread::scope(|scope| {
            scope.spawn(|| self.product_rows(Space::Relation(product_spaces[0])));
            // The websites the data has, which every create and estimate checks against.
            scope.spawn(|| self.websites().len());
            for relation in &product_spaces[1..] {
                self.product_rows(Space::Relation(*relation));
            }
            self.prepare_indexes()
        });
        self.prepared.get_or_init(|| prepared);
        tracing::info!(
            "prepared indexes and rows by product in {:.2} s ({:.1} MiB)",
            started.elapsed().as_secs_f64(),
            self.index_memory_bytes() as f64 / (1 << 20) as f64
        );
    }

    /// Builds the indexes [`Engine::prepare`] names; returns their columns (a column
    /// index's, or customers' `email` for its tail index).
    fn prepare_indexes(&self) -> Vec<(TableName, String)> {
        let dataset = &self.dataset;
        let tables = std::iter::once(&dataset.customers)
            .chain(dataset.relations().into_iter().map(|(_, r)| &r.table));
        let mut prepared = Vec::new();
        for table in tables {
            for column in &table.columns {
                let enumeration = match column.ty {
                    FieldType::String => ColumnReader::new(column)
                        .distinct_texts()
                        .is_some_and(|n| n <= PREPARED_DISTINCT),
                    _ => false,
                };
                let wanted = column.name == "website_id"
                    || enumeration
                    || matches!(
                        column.ty,
                        FieldType::Bool | FieldType::Date | FieldType::Timestamp
                    );
                if wanted && !column.array.data_type().is_null() {
                    self.index(table.name, &column.name);
                    prepared.push((table.name, column.name.clone()));
                }
            }
        }
        // Emails by domain: `ends_with("@example.com")` of a few candidates would read
        // too few of them to build it on first use, yet reads each at random.
        if let Some(email) = dataset.customers.column("email") {
            self.tail_index(TableName::Customers, email);
            prepared.push((TableName::Customers, email.name.clone()));
        }
        prepared
    }

    /// An engine over the same data holding only what [`Engine::prepare`] built (shared,
    /// not copied): what an evaluation right after a load finds.
    pub fn fresh(&self) -> Engine {
        let fresh = Engine::new(self.dataset.clone());
        *fresh.product_rows.lock().expect("lock") = self.product_rows.lock().expect("lock").clone();
        *fresh.indexes.lock().expect("lock") = self.prepared_of(&self.indexes);
        *fresh.tail_indexes.lock().expect("lock") = self.prepared_of(&self.tail_indexes);
        fresh
    }

    /// The entries of `kept` that [`Engine::prepare`] built.
    fn prepared_of<V: Clone>(
        &self,
        kept: &Mutex<FxHashMap<ColumnKey, V>>,
    ) -> FxHashMap<ColumnKey, V> {
        let prepared = self.prepared.get().map_or(&[][..], Vec::as_slice);
        kept.lock()
            .expect("lock")
            .iter()
            .filter(|(key, _)| prepared.contains(*key))
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect()
    }

    pub(super) fn product_rows(&self, space: Space) -> Arc<ProductRows> {
        let table = space.table_name();
        if let Some(found) = self.product_rows.lock().expect("lock").get(&table) {
            return found.clone();
        }
        let started = Instant::now();
        let relation = space.relation(&self.dataset);
        let links = relation.product_row.as_ref();
        // Rows without a product (`NONE`) are in no product's rows.
        let product_of = |row: usize| links.map_or(NONE, |links| links.get(row));
        let products = self.dataset.products.rows;
        let links_len = links.map_or(0, ProductLinks::len);
        let (order, offsets) = group_rows(links_len, product_of, products);
        let mut rows = order.unwrap_or_else(|| (0..links_len as u32).collect());
        rows.truncate(offsets[products] as usize);
        let sampled_times = match self.row_times(space) {
            Some(times) => sort_by_time(&mut rows, &offsets, &times),
            None => Vec::new(),
        };
        let built = Arc::new(ProductRows {
            offsets,
            rows,
            sampled_times,
        });
        tracing::debug!(
            "rows by product of {table} built in {:.1} ms",
            started.elapsed().as_secs_f64() * 1e3
        );
        self.product_rows
            .lock()
            .expect("lock")
            .insert(table, built.clone());
        built
    }

    /// The first row of each subject in `space`, plus the end (subjects without rows here
    /// take the previous end, so that the offsets ascend). Rows of no subject (guest
    /// orders) come after them and are never in scope.
    pub(super) fn subject_offsets(&self, space: Space) -> Arc<Vec<u32>> {
        if let Some(found) = self.subject_offsets.lock().expect("lock").get(&space) {
            return found.clone();
        }
        let started = Instant::now();
        let total = (self.dataset.customer_count() + self.dataset.visitor_count()) as u32;
        let mut offsets = Vec::with_capacity(total as usize + 1);
        let mut end = 0u32;
        for subject in 0..total {
            let range = space.rows_of_subject(&self.dataset, subject);
            offsets.push(if range.is_empty() {
                end
            } else {
                range.start as u32
            });
            end = end.max(range.end as u32);
        }
        offsets.push(end);
        let built = Arc::new(offsets);
        tracing::debug!(
            "row offsets of subjects in {space:?} built in {:.1} ms",
            started.elapsed().as_secs_f64() * 1e3
        );
        self.subject_offsets
            .lock()
            .expect("lock")
            .insert(space, built.clone());
        built
    }

    /// The subjects a scope considers: its websites' customers and its visitors.
    pub(super) fn universe(&self, scope: &ScopeKey) -> Arc<RoaringBitmap> {
        if let Some(found) = self.universes.lock().expect("lock").get(scope) {
            return found.clone();
        }
        let mut universe = RoaringBitmap::new();
        if scope.apply_to.customers() {
            let customers = &self.dataset.customers;
            let mut all = RoaringBitmap::new();
            all.insert_range(0..customers.rows as u32);
            universe |= self.table_rows(
                customers,
                "website_id",
                &website_test(&scope.websites),
                &all,
            );
        }
        if scope.apply_to.visitors() {
            let visitor_scope = ScopeKey {
                websites: scope.websites.clone(),
                apply_to: ApplyTo::Visitors,
            };
            for space in [Space::Cart, Space::Relation(RelationKind::ProductView)] {
                let rows = self.scope_rows(space, &visitor_scope);
                universe |= space.subjects_of(&self.dataset, &rows);
            }
        }
        let universe = Arc::new(universe);
        self.universes
            .lock()
            .expect("lock")
            .keep(scope.clone(), universe)
            .clone()
    }

    /// The rows of a space that count for a scope: owned by a subject kind in scope, on
    /// one of its websites, and (carts) active.
    pub(super) fn scope_rows(&self, space: Space, scope: &ScopeKey) -> Arc<RoaringBitmap> {
        let key = (space, scope.clone());
        if let Some(found) = self.scopes.lock().expect("lock").get(&key) {
            return found.clone();
        }
        let dataset = &self.dataset;
        let rows = match space.parent() {
            Some(parent) => space.expand_parents(dataset, &self.scope_rows(parent, scope)),
            None => {
                let relation = space.relation(dataset);
                let mut owned = RoaringBitmap::new();
                if scope.apply_to.customers() {
                    let range = relation.groups.owned_rows();
                    owned.insert_range(range.start as u32..range.end as u32);
                }
                if scope.apply_to.visitors()
                    && space.visitors_have_it()
                    && let Some(groups) = &relation.visitor_groups
                {
                    let range = groups.owned_rows();
                    owned.insert_range(range.start as u32..range.end as u32);
                }
                let table = &relation.table;
                if table.column("website_id").is_some() {
                    owned = self.table_rows(
                        table,
                        "website_id",
                        &website_test(&scope.websites),
                        &owned,
                    );
                }
                if space == Space::Cart && table.column("is_active").is_some() {
                    let inactive = Test::Ranges {
                        ranges: vec![(0, 0)],
                        negate: false,
                    };
                    owned -= self.table_rows(table, "is_active", &inactive, &owned);
                }
                owned
            }
        };
        // Intersected with most bitmaps of an evaluation: each container in the form
        // that intersects fastest (an order's items make a run of their own, a
        // website's views a run a subject).
        let rows = for_intersecting(rows);
        self.scopes
            .lock()
            .expect("lock")
            .keep(key, Arc::new(rows))
            .clone()
    }

    /// The index of a column when it has been built already.
    pub(super) fn built_index(&self, table: TableName, column: &str) -> Option<Arc<ColumnIndex>> {
        let key = (table, column.to_string());
        self.indexes.lock().expect("lock").get(&key).cloned()
    }

    pub(super) fn index(&self, table: TableName, column: &str) -> Arc<ColumnIndex> {
        let key = (table, column.to_string());
        let find = || self.indexes.lock().expect("lock").get(&key).cloned();
        if let Some(found) = find() {
            return found;
        }
        let name = format!("index {table}.{column}");
        self.builds.find_or_build(&name, find, || {
            let stored = match table {
                TableName::Customers => &self.dataset.customers,
                TableName::Products => &self.dataset.products,
                other => &self.dataset.relation(other).expect("relation").table,
            };
            let column = stored.column(column).expect("indexed columns exist");
            // Built outside the lock: other evaluations go on meanwhile.
            let started = Instant::now();
            // A customer's column has a row a subject: prefixes cost a bit a customer.
            let built = match table {
                TableName::Customers => ColumnIndex::build(column).with_prefixes(),
                _ => ColumnIndex::build(column),
            };
            let built = Arc::new(built);
            tracing::debug!(
                "{name} ({} bins, {:.1} MiB) built in {:.1} ms",
                built.bin_count(),
                built.memory_bytes() as f64 / (1 << 20) as f64,
                started.elapsed().as_secs_f64() * 1e3
            );
            self.indexes
                .lock()
                .expect("lock")
                .entry(key.clone())
                .or_insert(built)
                .clone()
        })
    }

    /// The index of a list column, built on first use; `None` when it has null ids.
    pub(super) fn list_index(&self, table: TableName, column: &Column) -> Arc<Option<ListIndex>> {
        let key = (table, column.name.clone());
        let what = || format!("list index {table}.{}", column.name);
        kept_or_build(&self.list_indexes, key, what, || {
            column.array.as_list_opt::<i32>().and_then(ListIndex::build)
        })
    }

    /// The tail index of a string column (see [`TailIndex`]), built on first use;
    /// `None` when its values have too many tails.
    pub(super) fn tail_index(&self, table: TableName, column: &Column) -> Arc<Option<TailIndex>> {
        let key = (table, column.name.clone());
        let what = || format!("tail index {table}.{}", column.name);
        kept_or_build(&self.tail_indexes, key, what, || TailIndex::build(column))
    }

    /// Bytes held by what evaluations build on first use and keep: column indexes,
    /// rollups, product-to-rows maps, subjects' row offsets, and the rows
    /// and subjects of each scope.
    pub fn index_memory_bytes(&self) -> usize {
        self.index_memory_breakdown()
            .iter()
            .map(|item| item.bytes as usize)
            .sum()
    }

    /// Where [`Engine::index_memory_bytes`] goes: each column index and rollup, and
    /// per kind the other structures.
    pub fn index_memory_breakdown(&self) -> Vec<MemoryItem> {
        fn sum<K, V>(map: &Mutex<impl Keeps<K, V>>, bytes: impl Fn(&V) -> usize) -> usize {
            map.lock().expect("lock").kept_values().map(bytes).sum()
        }
        let mut items: Vec<MemoryItem> = self
            .indexes
            .lock()
            .expect("lock")
            .iter()
            .map(|((table, column), index)| {
                MemoryItem::new(
                    format!("index {table}.{column} ({} bins)", index.bin_count()),
                    index.memory_bytes(),
                )
            })
            .collect();
        items.extend(self.list_indexes.lock().expect("lock").iter().filter_map(
            |((table, column), index)| {
                let index = index.as_ref().as_ref()?;
                Some(MemoryItem::new(
                    format!("list index {table}.{column}"),
                    index.memory_bytes(),
                ))
            },
        ));
        items.extend(self.tail_indexes.lock().expect("lock").iter().filter_map(
            |((table, column), index)| {
                let index = index.as_ref().as_ref()?;
                Some(MemoryItem::new(
                    format!("tail index {table}.{column} ({} tails)", index.tail_count()),
                    index.memory_bytes(),
                ))
            },
        ));
        items.extend(self.rollups.lock().expect("lock").iter().map(
            |((function, space, of, scope), rollup)| {
                MemoryItem::new(
                    format!(
                        "rollup {}({}) of {space:?} on websites {:?} for {:?}",
                        function.name(),
                        of.as_deref().unwrap_or("records"),
                        scope.websites,
                        scope.apply_to
                    ),
                    rollup.memory_bytes(),
                )
            },
        ));
        items.extend(self.partials.lock().expect("lock").iter().map(
            |(relation, key, partials)| {
                MemoryItem::new(
                    format!(
                        "partials {}({}) of {relation} by {} and {}",
                        key.function.name(),
                        key.of.as_deref().unwrap_or("records"),
                        key.group.as_deref().unwrap_or("-"),
                        key.time.as_deref().unwrap_or("-"),
                    ),
                    partials.memory_bytes(),
                )
            },
        ));
        items.extend(self.by_group.lock().expect("lock").iter().map(
            |((space, column, scope), by_group)| {
                MemoryItem::new(
                    format!(
                        "subjects by {column} of {space:?} on websites {:?} for {:?}",
                        scope.websites, scope.apply_to
                    ),
                    by_group.memory_bytes(),
                )
            },
        ));
        items.extend(self.by_product.lock().expect("lock").iter().map(
            |((space, scope), by_product)| {
                MemoryItem::new(
                    format!(
                        "subjects by product of {space:?} on websites {:?} for {:?}",
                        scope.websites, scope.apply_to
                    ),
                    by_product.memory_bytes(),
                )
            },
        ));
        items.sort_by(|a, b| a.what.cmp(&b.what));
        let bitmap = |b: &Arc<RoaringBitmap>| b.serialized_size();
        items.extend([
            MemoryItem::new(
                "rows by product",
                sum(&self.product_rows, |p| {
                    (p.offsets.len() + p.rows.len()) * 4 + p.sampled_times.len() * 8
                }),
            ),
            MemoryItem::new(
                "subjects' row offsets",
                sum(&self.subject_offsets, |offsets| offsets.len() * 4),
            ),
            MemoryItem::new(
                "customers by birth month and day",
                self.birthdays.get().map_or(0, |index| index.memory_bytes()),
            ),
            MemoryItem::new(
                "rows whose parent passes a test",
                sum(&self.parent_tests, bitmap),
            ),
            MemoryItem::new(
                "rows and subjects of scopes",
                sum(&self.scopes, bitmap) + sum(&self.universes, bitmap),
            ),
        ]);
        items
    }
}

/// Orders each product's rows (`rows[offsets[p]..offsets[p + 1]]`) by their time, nulls
/// first.
/// Also the time of every [`TIME_SAMPLE_EVERY`]-th entry, in that order.
fn sort_by_time(rows: &mut [u32], offsets: &[u32], times: &RowTimes) -> Vec<i64> {
    // Nulls 0, then every time in order, above the row: one integer each, which a plain
    // sort orders.
    let key = |row: u32| {
        let time = times
            .at(row)
            .map_or(0, |t| (t as u64 ^ (1 << 63)) as u128 + 1);
        time << 32 | row as u128
    };
    let time_of_key = |key: u128| match (key >> 32) as u64 {
        0 => i64::MIN,
        time => ((time - 1) ^ (1 << 63)) as i64,
    };
    let mut samples = vec![i64::MIN; rows.len().div_ceil(TIME_SAMPLE_EVERY)];
    let mut keyed = Vec::new();
    for product in offsets.windows(2) {
        let start = product[0] as usize;
        let of_product = &mut rows[start..product[1] as usize];
        keyed.clear();
        keyed.extend(of_product.iter().map(|&row| key(row)));
        keyed.sort_unstable();
        for (slot, &row) in of_product.iter_mut().zip(&keyed) {
            *slot = row as u32;
        }
        let first_sample = start.div_ceil(TIME_SAMPLE_EVERY);
        for sample in first_sample..(start + keyed.len()).div_ceil(TIME_SAMPLE_EVERY) {
            samples[sample] = time_of_key(keyed[sample * TIME_SAMPLE_EVERY - start]);
        }
    }
    samples
}

/// What a map keeps: [`FxHashMap`] for what the schema bounds, [`PerScope`] for what
/// requests choose.
pub(super) trait Keeps<K, V> {
    fn kept(&self, key: &K) -> Option<&V>;
    /// Keeps `value` under `key` unless a value is kept there already; the kept value.
    fn keep(&mut self, key: K, value: V) -> &V;
    fn kept_values<'a>(&'a self) -> impl Iterator<Item = &'a V>
    where
        V: 'a;
}

impl<K: Eq + std::hash::Hash, V> Keeps<K, V> for FxHashMap<K, V> {
    fn kept(&self, key: &K) -> Option<&V> {
        self.get(key)
    }
    fn keep(&mut self, key: K, value: V) -> &V {
        self.entry(key).or_insert(value)
    }
    fn kept_values<'a>(&'a self) -> impl Iterator<Item = &'a V>
    where
        V: 'a,
    {
        self.values()
    }
}

impl<K: Eq + std::hash::Hash + Clone, V> Keeps<K, V> for PerScope<K, V> {
    fn kept(&self, key: &K) -> Option<&V> {
        self.get(key)
    }
    fn keep(&mut self, key: K, value: V) -> &V {
        PerScope::keep(self, key, value)
    }
    fn kept_values<'a>(&'a self) -> impl Iterator<Item = &'a V>
    where
        V: 'a,
    {
        self.iter().map(|(_, value)| value)
    }
}

/// What `map` keeps under `key`, built by `build` when missing (outside the lock: other
/// evaluations go on meanwhile), its build time logged as `what`.
pub(super) fn kept_or_build<K, V>(
    map: &Mutex<impl Keeps<K, Arc<V>>>,
    key: K,
    what: impl FnOnce() -> String,
    build: impl FnOnce() -> V,
) -> Arc<V> {
    if let Some(found) = map.lock().expect("lock").kept(&key) {
        return found.clone();
    }
    let started = Instant::now();
    let built = Arc::new(build());
    tracing::debug!(
        "{} built in {:.1} ms",
        what(),
        started.elapsed().as_secs_f64() * 1e3
    );
    map.lock().expect("lock").keep(key, built).clone()
}
