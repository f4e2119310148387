//! The engine: evaluates segments over a loaded dataset. A plan is evaluated top-down with
//! a narrowing universe: every node gets the set of subjects still in question and returns
//! the subset that passes, so an intersection evaluates its cheapest child first and the
//! others only for the survivors, and NOT is an exclusion from the current universe.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::{Datelike, NaiveDate};
use datafusion::arrow::array::{Array, Int64Array};
use roaring::RoaringBitmap;
use rustc_hash::FxHashMap;

use crate::data::value::{date_from_days, day_of_micros};
use crate::model::{FieldType, TableName};
use crate::segment::aggregate::{AggregateInput, Aggregated, aggregate};
use crate::segment::definition::{
    AggregateFunction, ApplyTo, DefinitionError, ErrorKind, Op, Operand, Scalar, Segment, SegmentId,
};
use crate::segment::index::ColumnIndex;
use crate::segment::plan::{FieldTest, Plan, RecordPlan, SubjectLeaf, Tree, compile};
use crate::segment::predicate::Test;
use crate::segment::rows::{Bitset, ColumnReader, filter_rows};
use crate::segment::schema::{DerivedField, Field, FieldSource, FieldTable, RelationKind, Schema};
use crate::segment::space::Space;
use crate::store::{Dataset, MemoryItem, Table};

/// Scans the candidates instead of building an index when they are fewer than 1/16 of
/// the rows.
const SCAN_FRACTION: u64 = 16;

/// Where `in_segment` finds the segments it names.
pub trait SegmentSource {
    /// The segment with this id, or `None` when there is none.
    fn segment(&self, id: &str) -> Result<Option<Segment>, DefinitionError>;

    /// The members of segment `id` at `as_of`, when the source already knows them (a
    /// service's stored memberships): then `in_segment` reads them instead of evaluating
    /// the segment again. The source must answer only for acyclic references.
    fn members(&self, _id: &str, _as_of: i64) -> Option<Arc<RoaringBitmap>> {
        None
    }
}

/// No other segments: every `in_segment` is an unknown segment.
pub struct NoSegments;

impl SegmentSource for NoSegments {
    fn segment(&self, _id: &str) -> Result<Option<Segment>, DefinitionError> {
        Ok(None)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("{0}")]
    Definition(#[from] DefinitionError),
    #[error("evaluation failed: {0}")]
    Engine(String),
    /// The evaluation ran past its deadline and was stopped.
    #[error("the evaluation ran longer than its time limit and was stopped")]
    TimeLimit,
}

/// The members of a segment, as subject ids: customer `c` is `c`, visitor `v` is
/// `customers + v` (dense ids of the dataset).
#[derive(Clone, Debug)]
pub struct Evaluation {
    pub members: RoaringBitmap,
    /// The subjects in the segment's scope (website and apply_to): how many, and which.
    pub universe: u64,
    pub universe_members: Arc<RoaringBitmap>,
}

/// The scope a segment is evaluated in.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct ScopeKey {
    websites: Vec<i64>,
    apply_to: ApplyTo,
}

struct Context {
    scope: ScopeKey,
    as_of_day: i32,
    deadline: Option<Instant>,
}

impl Context {
    /// Checked before every leaf, so that no definition runs far past its time limit.
    fn check_deadline(&self) -> Result<(), EvalError> {
        match self.deadline {
            Some(deadline) if Instant::now() >= deadline => Err(EvalError::TimeLimit),
            _ => Ok(()),
        }
    }
}

/// Evaluates segments over one dataset, with indexes built on first use and kept.
pub struct Engine {
    dataset: Arc<Dataset>,
    schema: Schema,
    indexes: Mutex<FxHashMap<(TableName, String), Arc<ColumnIndex>>>,
    /// Per space: for each product, the rows of that product (CSR).
    product_rows: Mutex<FxHashMap<TableName, Arc<ProductRows>>>,
    scopes: Mutex<FxHashMap<(Space, ScopeKey), Arc<RoaringBitmap>>>,
    /// Per-subject aggregates over every in-scope record (no `where`), as indexes.
    rollups: Mutex<FxHashMap<RollupKey, Arc<ColumnIndex>>>,
    /// Per space: each subject's first row, and the end.
    subject_offsets: Mutex<FxHashMap<Space, Arc<Vec<u32>>>>,
    /// Customers by birth month and day.
    birthdays: std::sync::OnceLock<Arc<ColumnIndex>>,
    universes: Mutex<FxHashMap<ScopeKey, Arc<RoaringBitmap>>>,
    /// The column indexes [`Engine::prepare`] built.
    prepared: std::sync::OnceLock<Vec<(TableName, String)>>,
}

/// String columns with at most this many distinct values (enumerations) are indexed by
/// [`Engine::prepare`].
pub const PREPARED_DISTINCT: usize = 16;

/// Rollups kept at most (each is about 20 MB per million subjects).
const MAX_ROLLUPS: usize = 64;

/// A rollup: the aggregate, its relation and column, and the scope of the records.
type RollupKey = (AggregateFunction, Space, Option<String>, ScopeKey);

/// The products passing each product test of one record plan (keyed by the test's
/// place in the plan, which lives as long as the evaluation).
#[derive(Default)]
struct ProductTests(std::cell::RefCell<FxHashMap<*const FieldTest, Arc<RoaringBitmap>>>);

struct ProductRows {
    offsets: Vec<u32>,
    rows: Vec<u32>,
}

impl Engine {
    pub fn new(dataset: Arc<Dataset>) -> Engine {
        let schema = Schema::of(&dataset);
        Engine {
            dataset,
            schema,
            indexes: Mutex::default(),
            product_rows: Mutex::default(),
            scopes: Mutex::default(),
            rollups: Mutex::default(),
            subject_offsets: Mutex::default(),
            birthdays: std::sync::OnceLock::new(),
            universes: Mutex::default(),
            prepared: std::sync::OnceLock::new(),
        }
    }

    /// An engine over the whole loaded data, with what most evaluations need built now
    /// (see [`Engine::prepare`]) rather than by the first evaluation that needs it.
    pub fn prepared(dataset: Arc<Dataset>) -> Engine {
        let engine = Engine::new(dataset);
        engine.prepare();
        engine
    }

    /// Builds the structures that scopes, time windows, enumerations and product
    /// conditions read, whichever segment comes first: every relation's rows by product,
    /// and the index of every `website_id`, bool, date and timestamp column and of every
    /// string column of at most [`PREPARED_DISTINCT`] distinct values (statuses, types,
    /// genders), in every table but products (small enough to index on first use).
    pub fn prepare(&self) {
        let started = Instant::now();
        let product_spaces = [
            RelationKind::OrderItem,
            RelationKind::ProductView,
            RelationKind::CartItem,
            RelationKind::WishlistItem,
        ];
        // The largest (order items) on a thread of its own.
        std::thread::scope(|scope| {
            scope.spawn(|| self.product_rows(Space::Relation(product_spaces[0])));
            for relation in &product_spaces[1..] {
                self.product_rows(Space::Relation(*relation));
            }
        });
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
        self.prepared.get_or_init(|| prepared);
        tracing::info!(
            "prepared indexes and rows by product in {:.2} s ({:.1} MiB)",
            started.elapsed().as_secs_f64(),
            self.index_memory_bytes() as f64 / (1 << 20) as f64
        );
    }

    /// An engine over the same data holding only what [`Engine::prepare`] built (shared,
    /// not copied): what an evaluation right after a load finds.
    pub fn fresh(&self) -> Engine {
        let fresh = Engine::new(self.dataset.clone());
        *fresh.product_rows.lock().expect("lock") = self.product_rows.lock().expect("lock").clone();
        *fresh.indexes.lock().expect("lock") = self
            .indexes
            .lock()
            .expect("lock")
            .iter()
            .filter(|(key, _)| self.prepared.get().is_some_and(|p| p.contains(*key)))
            .map(|(key, index)| (key.clone(), index.clone()))
            .collect();
        fresh
    }

    pub fn dataset(&self) -> &Arc<Dataset> {
        &self.dataset
    }

    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// Parses and validates a definition against this dataset's fields.
    pub fn parse(&self, text: &str) -> Result<Segment, DefinitionError> {
        Segment::parse(text, &self.schema)
    }

    /// The segment's members at `as_of` (µs). `id` is the segment's own id when it has
    /// one, so that a reference back to it is caught as a cycle.
    pub fn evaluate(
        &self,
        segment: &Segment,
        id: Option<&str>,
        as_of: i64,
        source: &dyn SegmentSource,
    ) -> Result<Evaluation, EvalError> {
        self.evaluate_until(segment, id, as_of, source, None)
    }

    /// As [`Engine::evaluate`], stopped with [`EvalError::TimeLimit`] once `deadline`
    /// passes (checked before each condition, so it overruns by at most one leaf).
    pub fn evaluate_until(
        &self,
        segment: &Segment,
        id: Option<&str>,
        as_of: i64,
        source: &dyn SegmentSource,
        deadline: Option<Instant>,
    ) -> Result<Evaluation, EvalError> {
        let mut stack: Vec<SegmentId> = id.map(str::to_string).into_iter().collect();
        self.evaluate_nested(segment, as_of, source, &mut stack, deadline)
    }

    /// The subjects in a segment's scope (its websites and `apply_to`).
    pub fn scope_of(&self, segment: &Segment) -> Arc<RoaringBitmap> {
        self.universe(&ScopeKey {
            websites: segment.websites.clone(),
            apply_to: segment.apply_to,
        })
    }

    /// The simplified plan of a segment, for showing how it will be evaluated.
    pub fn plan(
        &self,
        segment: &Segment,
        as_of: i64,
        source: &dyn SegmentSource,
    ) -> Result<Plan, EvalError> {
        let mut stack = Vec::new();
        self.compile(segment, as_of, source, &mut stack, None)
    }

    fn compile(
        &self,
        segment: &Segment,
        as_of: i64,
        source: &dyn SegmentSource,
        stack: &mut Vec<SegmentId>,
        deadline: Option<Instant>,
    ) -> Result<Plan, EvalError> {
        let mut engine_error = None;
        let mut resolve =
            |id: &SegmentId, pointer: &str| -> Result<Arc<RoaringBitmap>, DefinitionError> {
                if let Some(start) = stack.iter().position(|s| s == id) {
                    let mut chain = stack[start..].to_vec();
                    chain.push(id.clone());
                    return Err(DefinitionError {
                        pointer: pointer.to_string(),
                        kind: ErrorKind::Cycle,
                        message: format!("in_segment makes a cycle: {}", chain.join(" -> ")),
                    });
                }
                if let Some(members) = source.members(id, as_of) {
                    return Ok(members);
                }
                let Some(other) = source
                    .segment(id)
                    .map_err(|e| named_invalid(id, pointer, e))?
                else {
                    return Err(DefinitionError {
                        pointer: pointer.to_string(),
                        kind: ErrorKind::UnknownSegment,
                        message: format!("in_segment names segment {id}, which does not exist"),
                    });
                };
                stack.push(id.clone());
                let result = self.evaluate_nested(&other, as_of, source, stack, deadline);
                stack.pop();
                match result {
                    Ok(evaluation) => Ok(Arc::new(evaluation.members)),
                    Err(EvalError::Definition(inner)) => Err(named_invalid(id, pointer, inner)),
                    Err(other) => {
                        engine_error = Some(other);
                        Ok(Arc::new(RoaringBitmap::new()))
                    }
                }
            };
        let plan = compile(&segment.condition, day_of_micros(as_of), &mut resolve)?;
        match engine_error {
            Some(error) => Err(error),
            None => Ok(plan),
        }
    }

    fn evaluate_nested(
        &self,
        segment: &Segment,
        as_of: i64,
        source: &dyn SegmentSource,
        stack: &mut Vec<SegmentId>,
        deadline: Option<Instant>,
    ) -> Result<Evaluation, EvalError> {
        let plan = self.compile(segment, as_of, source, stack, deadline)?;
        let context = Context {
            scope: ScopeKey {
                websites: segment.websites.clone(),
                apply_to: segment.apply_to,
            },
            as_of_day: day_of_micros(as_of),
            deadline,
        };
        let universe = self.universe(&context.scope);
        if !segment.active {
            return Ok(Evaluation {
                members: RoaringBitmap::new(),
                universe: universe.len(),
                universe_members: universe,
            });
        }
        let members = self.subjects(&context, &plan, &universe)?;
        Ok(Evaluation {
            members,
            universe: universe.len(),
            universe_members: universe,
        })
    }

    // ---- subjects ----

    fn subjects(
        &self,
        context: &Context,
        plan: &Plan,
        within: &RoaringBitmap,
    ) -> Result<RoaringBitmap, EvalError> {
        narrow(
            plan,
            within,
            &|c| self.subject_cost(c),
            &mut |leaf, within| self.subject_leaf(context, leaf, within),
        )
    }

    fn subject_leaf(
        &self,
        context: &Context,
        leaf: &SubjectLeaf,
        within: &RoaringBitmap,
    ) -> Result<RoaringBitmap, EvalError> {
        context.check_deadline()?;
        Ok(match leaf {
            SubjectLeaf::Field(test) if test.field.table == FieldTable::Customer => {
                self.customer_field(context, test, within)
            }
            SubjectLeaf::Field(test) => {
                let filter = Tree::Leaf(test.clone());
                self.has(context, Space::Cart, &filter, within)?
            }
            SubjectLeaf::Has { relation, filter } => {
                self.has(context, Space::Relation(*relation), filter, within)?
            }
            SubjectLeaf::Aggregate {
                function,
                relation,
                of,
                filter,
                test,
                op,
                operand,
            } => {
                let comparison = AggregateComparison {
                    test,
                    op: *op,
                    operand,
                };
                self.aggregate(
                    context,
                    *function,
                    *relation,
                    of.as_ref(),
                    filter,
                    &comparison,
                    within,
                )?
            }
            SubjectLeaf::Segment { members, .. } => within & members.as_ref(),
        })
    }

    /// Rough cost, for evaluating the cheap children of an intersection first.
    fn subject_cost(&self, plan: &Plan) -> (u8, usize) {
        match plan {
            Tree::Everything | Tree::Nothing => (0, 0),
            Tree::Leaf(SubjectLeaf::Segment { members, .. }) => (1, members.len() as usize),
            Tree::Leaf(SubjectLeaf::Field(test)) if test.field.table == FieldTable::Customer => {
                match &test.field.source {
                    FieldSource::Column(column)
                        if ColumnIndex::answers(test.field.ty, &test.test) =>
                    {
                        let index = self.index(TableName::Customers, column);
                        (2, index.estimate(&test.test))
                    }
                    _ => (3, 0),
                }
            }
            Tree::Leaf(SubjectLeaf::Field(_)) => (4, 0),
            Tree::Leaf(SubjectLeaf::Has { .. }) => (5, 0),
            Tree::Leaf(SubjectLeaf::Aggregate { .. }) => (7, 0),
            Tree::Not(child) => {
                let (class, estimate) = self.subject_cost(child);
                (class, usize::MAX - estimate)
            }
            Tree::And(children) | Tree::Or(children) => children
                .iter()
                .map(|c| self.subject_cost(c))
                .max()
                .unwrap_or((0, 0)),
        }
    }

    fn customer_field(
        &self,
        context: &Context,
        test: &FieldTest,
        within: &RoaringBitmap,
    ) -> RoaringBitmap {
        let customers = self.dataset.customer_count() as u32;
        let mut candidates = within.clone();
        candidates.remove_range(customers..);
        match &test.field.source {
            FieldSource::Column(column) => {
                self.table_rows(&self.dataset.customers, column, &test.test, &candidates)
            }
            FieldSource::Derived(derived) => {
                let base = derived.base_column();
                if self.dataset.customers.column(base).is_none() {
                    return if test.test == Test::IsNull {
                        candidates
                    } else {
                        RoaringBitmap::new()
                    };
                }
                match derived {
                    // Days since an instant: a range of days is a range of instants.
                    DerivedField::DaysSinceCreated | DerivedField::DaysSinceLastLogin => {
                        let on_base = days_since_as_instants(&test.test, context.as_of_day);
                        self.table_rows(&self.dataset.customers, base, &on_base, &candidates)
                    }
                    DerivedField::DaysUntilBirthday | DerivedField::Age => {
                        self.birthday_field(*derived, &test.test, context.as_of_day, &candidates)
                    }
                }
            }
        }
    }

    /// Customers in `candidates` whose days until birthday or age passes `test`. Days
    /// until a birthday depend on the month and day of birth only: the 366 month-days that
    /// pass are bins of an index of customers by birth month-day. An age range is one
    /// range of birth days (age falls as the birth day rises): a range of `dob`'s index.
    /// Few candidates read their own `dob` instead.
    fn birthday_field(
        &self,
        field: DerivedField,
        test: &Test,
        as_of_day: i32,
        candidates: &RoaringBitmap,
    ) -> RoaringBitmap {
        let today = date_from_days(as_of_day);
        let dob = self.dataset.customers.column("dob").expect("checked");
        let (index, on_index) = match field {
            DerivedField::Age => (
                self.index(TableName::Customers, "dob"),
                ages_as_days(test, today),
            ),
            _ => (
                self.birthday_index(),
                days_until_as_month_days(test, as_of_day),
            ),
        };
        if candidates.len() < index.cost(&on_index) {
            let dob = ColumnReader::new(dob);
            return filter_rows(candidates, |row| {
                let value = dob.number(row).map(|day| {
                    let birth = date_from_days(day as i32);
                    match field {
                        DerivedField::Age => age_on(birth, today),
                        _ => days_until_birthday(day as i32, as_of_day),
                    }
                });
                test.number(value)
            });
        }
        let mut selected = index.select(&on_index);
        selected &= candidates;
        selected
    }

    /// Customers by birth month and day (`month * 32 + day`), built once.
    fn birthday_index(&self) -> Arc<ColumnIndex> {
        self.birthdays
            .get_or_init(|| {
                let dob = ColumnReader::new(self.dataset.customers.column("dob").expect("checked"));
                let keys: Int64Array = (0..self.dataset.customer_count())
                    .map(|row| {
                        dob.number(row).map(|days| {
                            let date = date_from_days(days as i32);
                            month_day_key(date.month(), date.day())
                        })
                    })
                    .collect();
                Arc::new(ColumnIndex::of_values(keys, 1))
            })
            .clone()
    }

    // ---- records ----

    /// Rows of `table` in `within` whose `column` passes `test`.
    fn table_rows(
        &self,
        table: &Table,
        column: &str,
        test: &Test,
        within: &RoaringBitmap,
    ) -> RoaringBitmap {
        let Some(stored) = table.column(column) else {
            return RoaringBitmap::new();
        };
        if !ColumnIndex::answers(stored.ty, test) {
            return ColumnReader::new(stored).select(test, within);
        }
        // An index built already answers unless reading the candidates' values costs
        // less than its bins (see `ColumnIndex::cost`); one not built yet only when the
        // candidates are many.
        let index = match self.built_index(table.name, column) {
            Some(index) if within.len() < index.cost(test) => {
                return ColumnReader::new(stored).select(test, within);
            }
            Some(index) => index,
            None if within.len() * SCAN_FRACTION < table.rows as u64 => {
                return ColumnReader::new(stored).select(test, within);
            }
            None => self.index(table.name, column),
        };
        let mut selected = index.select(test);
        selected &= within;
        selected
    }

    /// Subjects in `within` with at least one row of `space` in scope passing `filter`.
    fn has(
        &self,
        context: &Context,
        space: Space,
        filter: &RecordPlan,
        within: &RoaringBitmap,
    ) -> Result<RoaringBitmap, EvalError> {
        let started = std::time::Instant::now();
        let candidates = self.candidate_rows(context, space, within);
        let candidates_ms = started.elapsed().as_secs_f64() * 1e3;
        let rows = self.records(context, space, filter, &candidates)?;
        let filtered_ms = started.elapsed().as_secs_f64() * 1e3;
        let mut subjects = space.subjects_of(&self.dataset, &rows);
        subjects &= within;
        tracing::debug!(
            "has {space:?}: {} candidate records in {candidates_ms:.2} ms, {} matching at {filtered_ms:.2} ms, {} subjects at {:.2} ms",
            candidates.len(),
            rows.len(),
            subjects.len(),
            started.elapsed().as_secs_f64() * 1e3
        );
        Ok(subjects)
    }

    /// The in-scope rows of `space` that belong to subjects in `within`.
    fn candidate_rows(
        &self,
        context: &Context,
        space: Space,
        within: &RoaringBitmap,
    ) -> RoaringBitmap {
        let scope = self.scope_rows(space, &context.scope);
        let universe = self.universe(&context.scope);
        // Inserting each subject's range costs about as much as testing a dozen rows:
        // worth it only when few subjects remain.
        if within.len() * 16 >= universe.len() {
            return scope.as_ref().clone();
        }
        let mut rows = RoaringBitmap::new();
        for subject in within {
            let range = space.rows_of_subject(&self.dataset, subject);
            if !range.is_empty() {
                rows.insert_range(range.start as u32..range.end as u32);
            }
        }
        rows &= scope.as_ref();
        rows
    }

    /// Rows of `space` in `within` that pass `plan`.
    fn records(
        &self,
        context: &Context,
        space: Space,
        plan: &RecordPlan,
        within: &RoaringBitmap,
    ) -> Result<RoaringBitmap, EvalError> {
        // A product test is needed for ordering and again for evaluating: once each.
        let products = ProductTests::default();
        narrow(
            plan,
            within,
            &|c| self.record_cost(space, c, &products),
            &mut |test, within| {
                context.check_deadline()?;
                Ok(self.record_field(space, test, &products, within))
            },
        )
    }

    /// The products passing a product test, computed once per `ProductTests`.
    fn passing_products(&self, test: &FieldTest, memo: &ProductTests) -> Arc<RoaringBitmap> {
        let key = test as *const FieldTest;
        if let Some(found) = memo.0.borrow().get(&key) {
            return found.clone();
        }
        let products = &self.dataset.products;
        let mut all = RoaringBitmap::new();
        all.insert_range(0..products.rows as u32);
        let passing = Arc::new(self.table_rows(products, &test.field.column, &test.test, &all));
        memo.0.borrow_mut().insert(key, passing.clone());
        passing
    }

    /// Estimated rows a record condition selects (leaves), for evaluating the most
    /// selective child of an intersection first.
    fn record_cost(&self, space: Space, plan: &RecordPlan, products: &ProductTests) -> (u8, usize) {
        match plan {
            Tree::Leaf(test) => (1, self.record_estimate(space, test, products)),
            Tree::Not(child) => (self.record_cost(space, child, products).0 + 1, 0),
            Tree::And(children) | Tree::Or(children) => children
                .iter()
                .map(|c| self.record_cost(space, c, products))
                .max()
                .unwrap_or((0, 0)),
            _ => (0, 0),
        }
    }

    fn record_estimate(&self, space: Space, test: &FieldTest, products: &ProductTests) -> usize {
        let relation = space.relation(&self.dataset);
        let column = &test.field.column;
        if test.field.table == FieldTable::Product {
            let passing = self.passing_products(test, products);
            let by_product = self.product_rows(space);
            return passing
                .iter()
                .map(|p| {
                    (by_product.offsets[p as usize + 1] - by_product.offsets[p as usize]) as usize
                })
                .sum();
        }
        let (table, per_row) = match space.parent() {
            Some(parent) if test.field.table.table_name() != space.table_name() => {
                let parent_table = &parent.relation(&self.dataset).table;
                (
                    parent_table,
                    relation.rows() as f64 / parent_table.rows.max(1) as f64,
                )
            }
            _ => (&relation.table, 1.0),
        };
        if !ColumnIndex::answers(test.field.ty, &test.test) || table.column(column).is_none() {
            return relation.rows();
        }
        (self.index(table.name, column).estimate(&test.test) as f64 * per_row) as usize
    }

    fn record_field(
        &self,
        space: Space,
        test: &FieldTest,
        products: &ProductTests,
        within: &RoaringBitmap,
    ) -> RoaringBitmap {
        let dataset = &self.dataset;
        let column = test.field.column.as_str();
        match test.field.table {
            FieldTable::Product => self.rows_with_products(space, test, within, products),
            table if table.table_name() == space.table_name() => {
                self.table_rows(&space.relation(dataset).table, column, &test.test, within)
            }
            _ => {
                // A field of the row's parent (an order item's or order address's order).
                let parent = space.parent().expect("validated: the parent's fields");
                let parent_table = &parent.relation(dataset).table;
                let Some(stored) = parent_table.column(column) else {
                    return RoaringBitmap::new();
                };
                let relation = space.relation(dataset);
                // Few passing parents: their rows, from the parent's index. Else each
                // candidate row reads its parent's value.
                if ColumnIndex::answers(stored.ty, &test.test) {
                    let index = self.index(parent_table.name, column);
                    let rows_per_parent = relation.rows() as f64 / parent_table.rows.max(1) as f64;
                    let estimate = index.estimate(&test.test) as f64 * rows_per_parent;
                    if estimate * 8.0 < within.len() as f64 {
                        let mut rows = space.expand_parents(dataset, &index.select(&test.test));
                        rows &= within;
                        return rows;
                    }
                }
                let owner = &relation.groups.owner;
                ColumnReader::new(stored)
                    .select_mapped(&test.test, within, |row| owner[row] as usize)
            }
        }
    }

    /// Rows in `within` whose product passes `test`.
    fn rows_with_products(
        &self,
        space: Space,
        test: &FieldTest,
        within: &RoaringBitmap,
        memo: &ProductTests,
    ) -> RoaringBitmap {
        let dataset = &self.dataset;
        let products = &dataset.products;
        let passing = self.passing_products(test, memo);
        let relation = space.relation(dataset);
        let Some(product_row) = relation.product_row.as_deref() else {
            return RoaringBitmap::new();
        };
        let by_product = self.product_rows(space);
        let matched_rows: u64 = passing
            .iter()
            .map(|p| (by_product.offsets[p as usize + 1] - by_product.offsets[p as usize]) as u64)
            .sum();
        if matched_rows * 4 < within.len() {
            let mut rows: Vec<u32> = Vec::with_capacity(matched_rows as usize);
            for product in passing.iter() {
                let range = by_product.offsets[product as usize] as usize
                    ..by_product.offsets[product as usize + 1] as usize;
                rows.extend_from_slice(&by_product.rows[range]);
            }
            let mut selected = crate::segment::rows::bitmap_from_rows(rows, relation.rows());
            selected &= within;
            return selected;
        }
        let mut pass = vec![false; products.rows];
        passing.iter().for_each(|p| pass[p as usize] = true);
        filter_rows(within, |row| pass[product_row[row] as usize])
    }

    /// Every subject's count, sum, min or max over all its in-scope records of `space`, as
    /// an index over subjects (built on first use and kept). Count and sum are 0 for
    /// a subject without records; min and max have no value. `None` once [`MAX_ROLLUPS`]
    /// are kept: the caller aggregates the rows instead, so that requests naming ever new
    /// website lists cannot grow memory without bound.
    fn rollup(
        &self,
        context: &Context,
        function: AggregateFunction,
        space: Space,
        of: Option<&Field>,
    ) -> Result<Option<Arc<ColumnIndex>>, EvalError> {
        let key = (
            function,
            space,
            of.map(|f| f.column.clone()),
            context.scope.clone(),
        );
        {
            let rollups = self.rollups.lock().expect("lock");
            if let Some(found) = rollups.get(&key) {
                return Ok(Some(found.clone()));
            }
            if rollups.len() >= MAX_ROLLUPS {
                return Ok(None);
            }
        }
        context.check_deadline()?;
        let subjects = self.dataset.customer_count() + self.dataset.visitor_count();
        let aggregated =
            self.aggregate_rows(function, space, of, &self.scope_rows(space, &context.scope))?;
        let value = |subject: usize| {
            aggregated
                .value
                .as_ref()
                .and_then(|v| v.is_valid(subject).then(|| v.value(subject)))
        };
        let keys = (0..subjects).map(|subject| match function {
            AggregateFunction::Count => Some(aggregated.count[subject] as i64),
            AggregateFunction::Sum if aggregated.count[subject] == 0 => Some(0),
            AggregateFunction::Sum => Some(value(subject).unwrap_or(0)),
            // DataFusion's value for a subject without records is no value of its.
            _ if aggregated.count[subject] == 0 => None,
            _ => value(subject),
        });
        // Instants bin by day, as a timestamp column's index does.
        let unit = match of.map(|f| f.ty) {
            Some(FieldType::Timestamp) => crate::data::value::MICROS_PER_DAY,
            _ => 1,
        };
        let built = Arc::new(ColumnIndex::of_values(keys.collect(), unit));
        self.rollups
            .lock()
            .expect("lock")
            .insert(key, built.clone());
        Ok(Some(built))
    }

    /// `function` of the field `of` (none for `count`) over `rows` of `space`, per subject.
    fn aggregate_rows(
        &self,
        function: AggregateFunction,
        space: Space,
        of: Option<&Field>,
        rows: &RoaringBitmap,
    ) -> Result<Aggregated, EvalError> {
        let subject_offsets = self.subject_offsets(space);
        let table = &space.relation(&self.dataset).table;
        let values = of
            .and_then(|field| table.column(&field.column))
            .filter(|c| !c.array.data_type().is_null());
        aggregate(&AggregateInput {
            function,
            subject_offsets: &subject_offsets,
            values,
            rows,
            subjects: self.dataset.customer_count() + self.dataset.visitor_count(),
        })
        .map_err(EvalError::Engine)
    }

    /// The first row of each subject in `space`, plus the end (subjects without rows here
    /// take the previous end, so that the offsets ascend). Rows of no subject (guest
    /// orders) come after them and are never in scope.
    fn subject_offsets(&self, space: Space) -> Arc<Vec<u32>> {
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

    fn product_rows(&self, space: Space) -> Arc<ProductRows> {
        let table = space.table_name();
        if let Some(found) = self.product_rows.lock().expect("lock").get(&table) {
            return found.clone();
        }
        let started = Instant::now();
        let product_row = space
            .relation(&self.dataset)
            .product_row
            .as_deref()
            .unwrap_or(&[]);
        let mut offsets = vec![0u32; self.dataset.products.rows + 1];
        for &p in product_row {
            offsets[p as usize + 1] += 1;
        }
        for i in 1..offsets.len() {
            offsets[i] += offsets[i - 1];
        }
        let mut next = offsets.clone();
        let mut rows = vec![0u32; product_row.len()];
        for (row, &p) in product_row.iter().enumerate() {
            rows[next[p as usize] as usize] = row as u32;
            next[p as usize] += 1;
        }
        let built = Arc::new(ProductRows { offsets, rows });
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

    #[allow(clippy::too_many_arguments)]
    fn aggregate(
        &self,
        context: &Context,
        function: AggregateFunction,
        relation: RelationKind,
        of: Option<&Field>,
        filter: &RecordPlan,
        comparison: &AggregateComparison<'_>,
        within: &RoaringBitmap,
    ) -> Result<RoaringBitmap, EvalError> {
        let space = Space::Relation(relation);
        let mut eligible = within.clone();
        if !relation.visitors_have_it() {
            eligible.remove_range(self.dataset.customer_count() as u32..);
        }
        // Over every record (no `where`): the subjects' aggregates do not depend on the
        // evaluation, so they are an index of their own, built once.
        if let (Tree::Everything, Test::Ranges { ranges, negate }) = (filter, comparison.test)
            && function != AggregateFunction::Avg
            && let Some(rollup) = self.rollup(context, function, space, of)?
        {
            let mut members = rollup.ranges(ranges, *negate);
            members &= &eligible;
            return Ok(members);
        }
        let started = std::time::Instant::now();
        let candidates = self.candidate_rows(context, space, &eligible);
        let candidates_ms = started.elapsed().as_secs_f64() * 1e3;
        let rows = self.records(context, space, filter, &candidates)?;
        let filtered_ms = started.elapsed().as_secs_f64() * 1e3;
        // An average of ints compares in decimal units.
        let scale = match of.map(|f| f.ty) {
            Some(FieldType::Int) => crate::data::value::DECIMAL_SCALE,
            _ => 1,
        };
        // Subjects without matching records: count, sum and avg are 0, min/max have no value.
        let zero_passes = !matches!(function, AggregateFunction::Min | AggregateFunction::Max)
            && comparison.test.number(Some(0));
        let subjects = self.dataset.customer_count() + self.dataset.visitor_count();
        let aggregated = self.aggregate_rows(function, space, of, &rows)?;
        let aggregated_ms = started.elapsed().as_secs_f64() * 1e3;
        // Every subject in one pass over the aggregates, then those still in question.
        let value = aggregated.value.as_ref();
        let mut passing = Bitset::new(subjects);
        for (subject, &count) in aggregated.count.iter().enumerate() {
            let count = count as i64;
            let passes = if count == 0 {
                zero_passes
            } else {
                let group = Group {
                    count,
                    value: value.and_then(|v| v.is_valid(subject).then(|| v.value(subject))),
                    value_count: aggregated
                        .value_count
                        .as_ref()
                        .map_or(count, |c| c.value(subject)),
                };
                passes_aggregate(function, &group, scale, comparison)
            };
            if passes {
                passing.insert(subject as u32);
            }
        }
        let mut members = passing.into_bitmap();
        members &= &eligible;
        tracing::debug!(
            "{}({relation}): {} candidate records in {candidates_ms:.2} ms, {} matching at {filtered_ms:.2} ms, aggregated at {aggregated_ms:.2} ms, {} members at {:.2} ms",
            function.name(),
            candidates.len(),
            rows.len(),
            members.len(),
            started.elapsed().as_secs_f64() * 1e3
        );
        Ok(members)
    }

    // ---- scope ----

    /// The subjects a scope considers: its websites' customers and its visitors.
    fn universe(&self, scope: &ScopeKey) -> Arc<RoaringBitmap> {
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
            .insert(scope.clone(), universe.clone());
        universe
    }

    /// The rows of a space that count for a scope: owned by a subject kind in scope, on
    /// one of its websites, and (carts) active.
    fn scope_rows(&self, space: Space, scope: &ScopeKey) -> Arc<RoaringBitmap> {
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
        let rows = Arc::new(rows);
        self.scopes.lock().expect("lock").insert(key, rows.clone());
        rows
    }

    /// The index of a column when it has been built already.
    fn built_index(&self, table: TableName, column: &str) -> Option<Arc<ColumnIndex>> {
        let key = (table, column.to_string());
        self.indexes.lock().expect("lock").get(&key).cloned()
    }

    fn index(&self, table: TableName, column: &str) -> Arc<ColumnIndex> {
        let key = (table, column.to_string());
        if let Some(found) = self.indexes.lock().expect("lock").get(&key) {
            return found.clone();
        }
        let stored = match table {
            TableName::Customers => &self.dataset.customers,
            TableName::Products => &self.dataset.products,
            other => &self.dataset.relation(other).expect("relation").table,
        };
        let column = stored.column(column).expect("indexed columns exist");
        // Built outside the lock: other evaluations go on meanwhile.
        let started = Instant::now();
        let built = Arc::new(ColumnIndex::build(column));
        tracing::debug!(
            "index {table}.{} ({} bins, {:.1} MiB) built in {:.1} ms",
            column.name,
            built.bin_count(),
            built.memory_bytes() as f64 / (1 << 20) as f64,
            started.elapsed().as_secs_f64() * 1e3
        );
        self.indexes
            .lock()
            .expect("lock")
            .entry(key)
            .or_insert(built)
            .clone()
    }

    /// Members as `c:<customer_id>` (ascending), then `v:<visitor_id>` (ascending).
    pub fn member_ids<'a>(
        &'a self,
        members: &'a RoaringBitmap,
    ) -> impl Iterator<Item = String> + 'a {
        let customers = self.dataset.customer_count() as u32;
        let customer_ids = self.dataset.customer_ids();
        members.iter().map(move |subject| {
            if subject < customers {
                format!("c:{}", customer_ids.value(subject as usize))
            } else {
                format!(
                    "v:{}",
                    self.dataset.visitor_ids[(subject - customers) as usize]
                )
            }
        })
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
        fn sum<K, V>(map: &Mutex<FxHashMap<K, V>>, bytes: impl Fn(&V) -> usize) -> usize {
            map.lock().expect("lock").values().map(bytes).sum()
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
        items.sort_by(|a, b| a.what.cmp(&b.what));
        let bitmap = |b: &Arc<RoaringBitmap>| b.serialized_size();
        items.extend([
            MemoryItem::new(
                "rows by product",
                sum(&self.product_rows, |p| (p.offsets.len() + p.rows.len()) * 4),
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
                "rows and subjects of scopes",
                sum(&self.scopes, bitmap) + sum(&self.universes, bitmap),
            ),
        ]);
        items
    }
}

/// An error in segment `id`, reported at the `in_segment` (`pointer`) that names it.
/// A cycle's message already names the whole chain.
fn named_invalid(id: &str, pointer: &str, mut inner: DefinitionError) -> DefinitionError {
    if inner.kind != ErrorKind::Cycle {
        inner.message = format!("segment {id} named here is invalid: {inner}");
    }
    inner.pointer = pointer.to_string();
    inner
}

/// Evaluates a tree with a narrowing universe: every node gets the members still in
/// question and returns those that pass. An intersection evaluates its cheapest child
/// first (by `cost`, computed once per child) and the others only for the survivors; a
/// union asks each child only about the members not yet found; NOT is an exclusion.
fn narrow<L, E>(
    tree: &Tree<L>,
    within: &RoaringBitmap,
    cost: &dyn Fn(&Tree<L>) -> (u8, usize),
    leaf: &mut dyn FnMut(&L, &RoaringBitmap) -> Result<RoaringBitmap, E>,
) -> Result<RoaringBitmap, E> {
    if within.is_empty() {
        return Ok(RoaringBitmap::new());
    }
    Ok(match tree {
        Tree::Everything => within.clone(),
        Tree::Nothing => RoaringBitmap::new(),
        Tree::And(children) => {
            let mut ordered: Vec<&Tree<L>> = children.iter().collect();
            ordered.sort_by_cached_key(|c| cost(c));
            let mut survivors = within.clone();
            for child in ordered {
                survivors = narrow(child, &survivors, cost, leaf)?;
                if survivors.is_empty() {
                    break;
                }
            }
            survivors
        }
        Tree::Or(children) => {
            let mut matched = RoaringBitmap::new();
            let mut open = within.clone();
            for child in children {
                let found = narrow(child, &open, cost, leaf)?;
                open -= &found;
                matched |= found;
                if open.is_empty() {
                    break;
                }
            }
            matched
        }
        Tree::Not(child) => within - narrow(child, within, cost, leaf)?,
        Tree::Leaf(l) => leaf(l, within)?,
    })
}

fn website_test(websites: &[i64]) -> Test {
    Test::Ranges {
        ranges: crate::segment::predicate::normalise(websites.iter().map(|&w| (w, w)).collect()),
        negate: false,
    }
}

/// One subject's aggregate over its matching records.
struct Group {
    /// Records.
    count: i64,
    /// Records with a non-null value.
    value_count: i64,
    /// The sum, min or max of the non-null values (none when there are none).
    value: Option<i64>,
}

/// An aggregate's comparison: normalised for whole results, as written for averages.
struct AggregateComparison<'a> {
    test: &'a Test,
    op: Op,
    operand: &'a Operand,
}

/// Whether a subject's aggregate passes. Averages are fractions `sum * scale / n` (in
/// decimal units) and compare exactly: `sum * scale` against `value * n`.
fn passes_aggregate(
    function: AggregateFunction,
    group: &Group,
    scale: i64,
    comparison: &AggregateComparison<'_>,
) -> bool {
    match function {
        AggregateFunction::Count => comparison.test.number(Some(group.count)),
        AggregateFunction::Sum => comparison.test.number(Some(group.value.unwrap_or(0))),
        AggregateFunction::Min | AggregateFunction::Max => comparison.test.number(group.value),
        AggregateFunction::Avg => match group.value.filter(|_| group.value_count > 0) {
            None => comparison.test.number(Some(0)),
            Some(sum) => compare_fraction(
                sum as i128 * scale as i128,
                group.value_count as i128,
                comparison.op,
                comparison.operand,
            ),
        },
    }
}

/// `numerator / denominator` (denominator > 0) against decimal-unit values.
fn compare_fraction(numerator: i128, denominator: i128, op: Op, operand: &Operand) -> bool {
    use std::cmp::Ordering;
    let against = |scalar: &Scalar| match scalar {
        Scalar::Int(v) => numerator.cmp(&(*v as i128 * denominator)),
        other => unreachable!("averages compare with numbers, not {other:?}"),
    };
    match (op, operand) {
        (Op::Eq, Operand::One(v)) => against(v) == Ordering::Equal,
        (Op::Ne, Operand::One(v)) => against(v) != Ordering::Equal,
        (Op::Gt, Operand::One(v)) => against(v) == Ordering::Greater,
        (Op::Gte, Operand::One(v)) => against(v) != Ordering::Less,
        (Op::Lt, Operand::One(v)) => against(v) == Ordering::Less,
        (Op::Lte, Operand::One(v)) => against(v) != Ordering::Greater,
        (Op::Between, Operand::Between(low, high)) => {
            against(low) != Ordering::Less && against(high) != Ordering::Greater
        }
        (Op::In, Operand::List(values)) => values.iter().any(|v| against(v) == Ordering::Equal),
        (Op::NotIn, Operand::List(values)) => !values.iter().any(|v| against(v) == Ordering::Equal),
        (op, operand) => unreachable!("validated average comparison: {op} {operand:?}"),
    }
}

/// A test on "days since an instant" as a test on the instant: `as_of_day - day(t)` in
/// `low..=high` is `t` from the start of day `as_of_day - high` to the end of day
/// `as_of_day - low`.
fn days_since_as_instants(test: &Test, as_of_day: i32) -> Test {
    let Test::Ranges { ranges, negate } = test else {
        return test.clone();
    };
    let day = |d: i128| d * crate::data::value::MICROS_PER_DAY as i128;
    let clamp = |v: i128| v.clamp(i64::MIN as i128, i64::MAX as i128) as i64;
    let as_of = as_of_day as i128;
    let instants = ranges
        .iter()
        .map(|&(low, high)| {
            let first = if high == i64::MAX {
                i64::MIN
            } else {
                clamp(day(as_of - high as i128))
            };
            let last = if low == i64::MIN {
                i64::MAX
            } else {
                clamp(day(as_of - low as i128 + 1) - 1)
            };
            (first, last)
        })
        .collect();
    Test::Ranges {
        ranges: crate::segment::predicate::normalise(instants),
        negate: *negate,
    }
}

/// The birthday in `year`: 29 February falls on 28 February in other years.
fn birthday_in(dob: NaiveDate, year: i32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, dob.month(), dob.day())
        .or_else(|| NaiveDate::from_ymd_opt(year, 2, 28))
        .expect("28 February exists")
}

fn days_until_birthday(dob_day: i32, as_of_day: i32) -> i64 {
    let dob = date_from_days(dob_day);
    let today = date_from_days(as_of_day);
    let mut next = birthday_in(dob, today.year());
    if next < today {
        next = birthday_in(dob, today.year() + 1);
    }
    (next - today).num_days()
}

/// The key of a birth month and day in the birthday index.
fn month_day_key(month: u32, day: u32) -> i64 {
    (month * 32 + day) as i64
}

/// A test on days until the birthday as a test on birth month-days: those of the 366
/// (of a leap year, so that 29 February is one) whose next birthday passes it.
fn days_until_as_month_days(test: &Test, as_of_day: i32) -> Test {
    if matches!(test, Test::IsNull | Test::IsNotNull) {
        return test.clone();
    }
    let passing = (1..=12u32)
        .flat_map(|month| (1..=31u32).map(move |day| (month, day)))
        .filter_map(|(month, day)| NaiveDate::from_ymd_opt(2000, month, day))
        .filter(|birth| {
            let until = days_until_birthday(crate::data::value::days_from_date(*birth), as_of_day);
            test.number(Some(until))
        })
        .map(|birth| {
            let key = month_day_key(birth.month(), birth.day());
            (key, key)
        })
        .collect();
    Test::Ranges {
        ranges: crate::segment::predicate::normalise(passing),
        negate: false,
    }
}

/// The age on `today` of someone born on `birth`.
fn age_on(birth: NaiveDate, today: NaiveDate) -> i64 {
    let had_birthday = birthday_in(birth, today.year()) <= today;
    (today.year() - birth.year()) as i64 - !had_birthday as i64
}

/// A test on age as a test on the birth day (days since the epoch): age falls as the birth
/// day rises, so each range of ages is one range of birth days, found by binary search.
fn ages_as_days(test: &Test, today: NaiveDate) -> Test {
    let Test::Ranges { ranges, negate } = test else {
        return test.clone();
    };
    let first = crate::data::value::days_from_date(NaiveDate::MIN) as i64;
    let last = crate::data::value::days_from_date(NaiveDate::MAX) as i64;
    let age = |day: i64| age_on(date_from_days(day as i32), today);
    let days = ranges
        .iter()
        .filter_map(|&(low, high)| {
            // Born on or before `upto`: at least `low` years old; on or after `from`: at
            // most `high`.
            let upto = if low == i64::MIN {
                i64::MAX
            } else {
                last_where(first, last, |day| age(day) >= low)?
            };
            let from = if high == i64::MAX {
                i64::MIN
            } else {
                last_where(first, last, |day| age(day) > high).map_or(i64::MIN, |d| d + 1)
            };
            Some((from, upto))
        })
        .collect();
    Test::Ranges {
        ranges: crate::segment::predicate::normalise(days),
        negate: *negate,
    }
}

/// The last value of `first..=last` where `holds` (true up to a point, false after it).
fn last_where(first: i64, last: i64, holds: impl Fn(i64) -> bool) -> Option<i64> {
    if !holds(first) {
        return None;
    }
    let (mut yes, mut no) = (first, last + 1);
    while no - yes > 1 {
        let middle = yes + (no - yes) / 2;
        if holds(middle) {
            yes = middle;
        } else {
            no = middle;
        }
    }
    Some(yes)
}
