//! The engine: evaluates segments over a loaded dataset. A plan is evaluated top-down with
//! a narrowing universe: every node gets the set of subjects still in question and returns
//! the subset that passes, so an intersection evaluates its cheapest child first and the
//! others only for the survivors, and NOT is an exclusion from the current universe.

use std::borrow::Cow;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use roaring::RoaringBitmap;
use rustc_hash::FxHashMap;

use crate::data::value::day_of_micros;
use crate::model::{FieldType, TableName};
use crate::segment::definition::{
    AggregateFunction, ApplyTo, DefinitionError, ErrorKind, Segment, SegmentId,
};
use crate::segment::index::ColumnIndex;
use crate::segment::list_index::ListIndex;
use crate::segment::plan::{FieldTest, Plan, SubjectLeaf, Tree, compile};
use crate::segment::predicate::{Test, TextMatcher};
use crate::segment::rows::ColumnReader;
use crate::segment::schema::{DerivedField, FieldSource, FieldTable, Schema};
use crate::segment::space::Space;
use crate::segment::tail_index::TailIndex;
use crate::store::{Dataset, Table};
use per_scope::PerScope;

mod aggregates;
mod bins;
pub mod builds;
mod derived;
mod enums;
mod kept;
mod parents;
mod partial;
mod per_scope;
mod product_subjects;
mod products;
mod records;
mod tails;

pub(crate) use aggregates::{AggregateComparison, Group, passes_aggregate};
pub(crate) use derived::{age_on, days_since_as_instants, days_until_birthday};

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

    /// Which subjects segment `id` applies to, when it exists.
    fn apply_to(&self, id: &str) -> Option<ApplyTo> {
        self.segment(id).ok().flatten().map(|s| s.apply_to)
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
    indexes: Mutex<FxHashMap<ColumnKey, Arc<ColumnIndex>>>,
    /// Per list column: the rows of each id (`None`: a column with null ids, scanned).
    list_indexes: Mutex<FxHashMap<ColumnKey, Arc<Option<ListIndex>>>>,
    /// Per string column tested by `ends_with`: the rows of each value's tail from its
    /// last `@` (`None`: too many tails, scanned).
    tail_indexes: Mutex<FxHashMap<ColumnKey, Arc<Option<TailIndex>>>>,
    /// Per space: for each product, the rows of that product (CSR).
    product_rows: Mutex<FxHashMap<TableName, Arc<ProductRows>>>,
    scopes: Mutex<PerScope<(Space, ScopeKey), Arc<RoaringBitmap>>>,
    /// Per-subject aggregates over every in-scope record (no `where`), as indexes.
    rollups: Mutex<FxHashMap<RollupKey, Arc<ColumnIndex>>>,
    /// Per-subject partial aggregates by website, string value and period.
    partials: Mutex<partial::KeptPartials>,
    /// The builds of kept things under way.
    builds: builds::Builds,
    /// Per child space and test of the parent's field: the rows whose parent passes.
    parent_tests: Mutex<PerScope<ParentTestKey, Arc<RoaringBitmap>>>,
    /// Per space, column of few values or small relation's indexed column, and scope:
    /// the subjects by value or bin.
    by_group: Mutex<PerScope<enums::ByGroupKey, Arc<enums::SubjectsByGroup>>>,
    /// Per small relation with products, and scope: the subjects by product.
    by_product:
        Mutex<PerScope<product_subjects::ByProductKey, Arc<product_subjects::SubjectsByProduct>>>,
    /// Per space: each subject's first row, and the end.
    subject_offsets: Mutex<FxHashMap<Space, Arc<Vec<u32>>>>,
    /// Customers by birth month and day.
    birthdays: std::sync::OnceLock<Arc<ColumnIndex>>,
    universes: Mutex<PerScope<ScopeKey, Arc<RoaringBitmap>>>,
    /// The column indexes [`Engine::prepare`] built.
    prepared: std::sync::OnceLock<Vec<(TableName, String)>>,
    /// Every website a customer, order, cart or product view is on.
    websites: std::sync::OnceLock<std::collections::BTreeSet<i64>>,
}

/// Rows a subject may have on average in a relation whose subjects are kept by bin
/// (`bins.rs`) or by product (`product_subjects.rs`): those take about as much memory
/// as the rows' index.
const SMALL_RELATION_ROWS_PER_SUBJECT: usize = 4;

/// A column of a table.
type ColumnKey = (TableName, String);

/// A child space, a column of its parent and a test of that column.
type ParentTestKey = (Space, String, Test);

/// Parents' tests whose rows are kept at most: each is a bit a row of the child space
/// at most (2.5 MB for the order addresses of M, 25 MB at L), and segments share a few
/// (an order's time in the last 30 or 365 days, a status).
const KEPT_PARENT_TESTS: usize = 8;

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

/// The rows of each product: those of product `p` are `rows[offsets[p]..offsets[p+1]]`,
/// in the order of their time ([`Space::time_field`], nulls first) when the space has one.
struct ProductRows {
    offsets: Vec<u32>,
    rows: Vec<u32>,
    /// The time of every [`TIME_SAMPLE_EVERY`]-th entry of `rows` (`i64::MIN` for null),
    /// when ordered by time: a binary search over a product's samples, which lie
    /// together, leaves a few scattered reads of row times instead of a dozen.
    sampled_times: Vec<i64>,
}

/// Entries of [`ProductRows::rows`] a time sample stands for.
const TIME_SAMPLE_EVERY: usize = 32;

impl Engine {
    pub fn new(dataset: Arc<Dataset>) -> Engine {
        let schema = Schema::of(&dataset);
        Engine {
            dataset,
            schema,
            indexes: Mutex::default(),
            list_indexes: Mutex::default(),
            tail_indexes: Mutex::default(),
            product_rows: Mutex::default(),
            scopes: Mutex::default(),
            rollups: Mutex::default(),
            partials: Mutex::default(),
            builds: builds::Builds::default(),
            parent_tests: Mutex::new(PerScope::with_limit(KEPT_PARENT_TESTS)),
            by_group: Mutex::default(),
            by_product: Mutex::default(),
            subject_offsets: Mutex::default(),
            birthdays: std::sync::OnceLock::new(),
            universes: Mutex::default(),
            prepared: std::sync::OnceLock::new(),
            websites: std::sync::OnceLock::new(),
        }
    }

    /// An engine over the whole loaded data, with what most evaluations need built now
    /// (see [`Engine::prepare`]) rather than by the first evaluation that needs it.
    pub fn prepared(dataset: Arc<Dataset>) -> Engine {
        let engine = Engine::new(dataset);
        engine.prepare();
        engine
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

    /// Every website a customer, order, cart or product view of the loaded data is on:
    /// read once (tens of milliseconds at M), then a set lookup per website asked about,
    /// however many websites a definition lists.
    pub fn websites(&self) -> &std::collections::BTreeSet<i64> {
        use crate::store::Ints;
        self.websites.get_or_init(|| {
            let data = &self.dataset;
            let columns = [
                data.customers.ints("website_id"),
                data.orders.table.ints("website_id"),
                data.carts.table.ints("website_id"),
                data.product_views.table.ints("website_id"),
            ];
            let mut websites = std::collections::BTreeSet::new();
            for column in columns.into_iter().flatten() {
                match column {
                    // A column of few values keeps them once, as its dictionary.
                    Ints::Keyed8(_, values) | Ints::Keyed16(_, values) => {
                        websites.extend(values.iter().copied());
                    }
                    other => websites.extend(other.iter().flatten()),
                }
            }
            websites
        })
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
        let mut resolve = |id: &SegmentId,
                           pointer: &str|
         -> Result<Arc<RoaringBitmap>, DefinitionError> {
            if let Some(start) = stack.iter().position(|s| s == id) {
                let mut chain = stack[start..].to_vec();
                chain.push(id.clone());
                return Err(DefinitionError {
                    pointer: pointer.to_string(),
                    kind: ErrorKind::Cycle,
                    message: format!("in_segment makes a cycle: {}", chain.join(" -> ")),
                });
            }
            if let Some(theirs) = source.apply_to(id)
                && !(theirs.customers() && segment.apply_to.customers()
                    || theirs.visitors() && segment.apply_to.visitors())
            {
                return Err(DefinitionError {
                    pointer: pointer.to_string(),
                    kind: ErrorKind::NotForVisitors,
                    message: format!(
                        "in_segment names segment {id}, which applies to {} only, and this segment to {} only: no subject can be in both",
                        theirs.name(),
                        segment.apply_to.name()
                    ),
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
        let candidates = self.customers_among(within);
        let candidates = candidates.as_ref();
        match &test.field.source {
            FieldSource::Column(column) => {
                self.table_rows(&self.dataset.customers, column, &test.test, candidates)
            }
            FieldSource::Derived(derived) => {
                let base = derived.base_column();
                if self.dataset.customers.column(base).is_none() {
                    return if test.test == Test::IsNull {
                        candidates.clone()
                    } else {
                        RoaringBitmap::new()
                    };
                }
                match derived {
                    // Days since an instant: a range of days is a range of instants.
                    DerivedField::DaysSinceCreated | DerivedField::DaysSinceLastLogin => {
                        let on_base = days_since_as_instants(&test.test, context.as_of_day);
                        self.table_rows(&self.dataset.customers, base, &on_base, candidates)
                    }
                    DerivedField::DaysUntilBirthday | DerivedField::Age => {
                        self.birthday_field(*derived, &test.test, context.as_of_day, candidates)
                    }
                }
            }
        }
    }

    /// The customers of `within`: `within` itself, copied only when visitors are among
    /// them.
    fn customers_among<'a>(&self, within: &'a RoaringBitmap) -> Cow<'a, RoaringBitmap> {
        let customers = self.dataset.customer_count() as u32;
        match within.max() {
            Some(max) if max >= customers => {
                let mut customers_only = within.clone();
                customers_only.remove_range(customers..);
                Cow::Owned(customers_only)
            }
            _ => Cow::Borrowed(within),
        }
    }

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
        if stored.ty == FieldType::IdList
            && let Some(rows) = self
                .list_index(table.name, stored)
                .as_ref()
                .as_ref()
                .and_then(|index| index.select(test))
        {
            return rows & within;
        }
        if let Test::Text {
            matcher: TextMatcher::EndsWith(suffix),
            negate,
        } = test
            && let Some(rows) = self.ends_with_by_tails(table, stored, suffix, *negate, within)
        {
            return rows;
        }
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
        index.select_within(test, within)
    }

    /// Whether a `has` over `space` may answer from the subjects kept by bin or by
    /// product: a relation of few rows a subject, and most of the universe asked about
    /// (few subjects go through their own rows).
    fn keeps_subjects_of(&self, context: &Context, space: Space, within: &RoaringBitmap) -> bool {
        space.relation(&self.dataset).rows()
            <= SMALL_RELATION_ROWS_PER_SUBJECT * self.dataset.subject_count()
            && within.len() * 16 >= self.universe(&context.scope).len()
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
            // Borrowed until a child answers: a copy of every subject in scope costs
            // as much as a cheap child (1.2 MiB at 10 million customers).
            let mut survivors = Cow::Borrowed(within);
            for child in ordered {
                survivors = Cow::Owned(narrow(child, &survivors, cost, leaf)?);
                if survivors.is_empty() {
                    break;
                }
            }
            survivors.into_owned()
        }
        Tree::Or(children) => {
            let mut matched = RoaringBitmap::new();
            let mut open = Cow::Borrowed(within);
            for (at, child) in children.iter().enumerate() {
                let found = narrow(child, &open, cost, leaf)?;
                if at + 1 < children.len() {
                    open = Cow::Owned(open.as_ref() - &found);
                }
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
