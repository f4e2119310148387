//! Aggregates answered from per-subject partials ([`crate::segment::partials`]): which
//! `where` they can answer, which partials are kept, and how cells and records combine.

use std::sync::Arc;

use roaring::RoaringBitmap;
use rustc_hash::FxHashMap;

use super::{Context, Engine, EvalError};
use crate::model::FieldType;
use crate::segment::definition::AggregateFunction;
use crate::segment::partials::{Partials, PartialsKey, Selection};
use crate::segment::plan::{RecordPlan, Tree};
use crate::segment::predicate::Test;
use crate::segment::schema::{Field, FieldSource, RelationKind};
use crate::segment::space::Space;

/// Partials kept by one engine at most; past them, aggregates read their records.
const MAX_PARTIALS: usize = 8;

/// Requests of one kind of partials before they are built: a one-off aggregate (and a
/// fresh engine's first evaluation) reads its records instead of paying for the build.
const BUILD_ON_REQUEST: u32 = 2;

#[derive(Default)]
pub(super) struct KeptPartials {
    built: Vec<(RelationKind, PartialsKey, Arc<Partials>)>,
    /// Requests per kind not built yet; `u32::MAX` for kinds that cannot be built.
    requests: FxHashMap<(RelationKind, PartialsKey), u32>,
}

impl KeptPartials {
    pub(super) fn iter(&self) -> impl Iterator<Item = (&RelationKind, &PartialsKey, &Partials)> {
        self.built.iter().map(|(r, k, p)| (r, k, p.as_ref()))
    }
}

/// An aggregate's `where` as partials answer it: tests of at most one string column and
/// of at most one time column, both of the relation's own table, and nothing else.
struct PartialsQuery<'a> {
    group: Option<&'a str>,
    group_tests: Vec<&'a Test>,
    time: Option<&'a str>,
    time_tests: Vec<&'a Test>,
}

impl<'a> PartialsQuery<'a> {
    fn of(relation: RelationKind, filter: &'a RecordPlan) -> Option<PartialsQuery<'a>> {
        let leaves: Vec<&Tree<_>> = match filter {
            Tree::Everything => Vec::new(),
            Tree::And(children) => children.iter().collect(),
            leaf => vec![leaf],
        };
        let mut query = PartialsQuery {
            group: None,
            group_tests: Vec::new(),
            time: None,
            time_tests: Vec::new(),
        };
        for leaf in leaves {
            let Tree::Leaf(test) = leaf else {
                return None;
            };
            let FieldSource::Column(column) = &test.field.source else {
                return None;
            };
            if test.field.table != relation.table() {
                return None;
            }
            let (named, tests) = match (test.field.ty, &test.test) {
                (FieldType::String, _) => (&mut query.group, &mut query.group_tests),
                (FieldType::Timestamp | FieldType::Date, Test::Ranges { .. }) => {
                    (&mut query.time, &mut query.time_tests)
                }
                _ => return None,
            };
            if named.is_some_and(|n| n != column) {
                return None;
            }
            *named = Some(column);
            tests.push(&test.test);
        }
        Some(query)
    }

    /// Whether partials of `key` answer this query (for the same function and column).
    fn answered_by(&self, key: &PartialsKey) -> bool {
        let fits = |wanted: Option<&str>, built: &Option<String>| {
            wanted.is_none_or(|w| built.as_deref() == Some(w))
        };
        fits(self.group, &key.group) && fits(self.time, &key.time)
    }
}

impl Engine {
    /// The subjects of `eligible` whose `function` of `of` over their records of
    /// `relation` in scope passing `filter` `passes` (given records, non-null values
    /// and the value), from partials; `None` when partials cannot answer it or are not
    /// built (yet).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn partial_aggregate(
        &self,
        context: &Context,
        function: AggregateFunction,
        relation: RelationKind,
        of: Option<&Field>,
        filter: &RecordPlan,
        eligible: &RoaringBitmap,
        passes: &(impl Fn(i64, i64, Option<i64>) -> bool + Sync),
    ) -> Result<Option<RoaringBitmap>, EvalError> {
        let space = Space::Relation(relation);
        if space.parent().is_some() {
            return Ok(None);
        }
        let Some(query) = PartialsQuery::of(relation, filter) else {
            return Ok(None);
        };
        let Some(partials) = self.partials(function, relation, of, &query)? else {
            return Ok(None);
        };
        let websites = match partials.websites() {
            None => vec![true],
            Some(ids) => ids
                .iter()
                .map(|id| context.scope.websites.contains(id))
                .collect(),
        };
        let groups = partials
            .group_values()
            .iter()
            .map(|v| v.as_deref())
            .chain([None])
            .map(|value| query.group_tests.iter().all(|t| t.text(value)))
            .collect();
        let Some(periods) = partials.coverage(&query.time_tests) else {
            return Ok(None);
        };
        let selection = Selection {
            websites,
            groups,
            periods,
        };
        Ok(Some(
            partials.members(function, &selection, eligible, passes),
        ))
    }

    /// The kept partials that answer `query`, built on the [`BUILD_ON_REQUEST`]th
    /// request.
    fn partials(
        &self,
        function: AggregateFunction,
        relation: RelationKind,
        of: Option<&Field>,
        query: &PartialsQuery<'_>,
    ) -> Result<Option<Arc<Partials>>, EvalError> {
        let function = match function {
            AggregateFunction::Avg => AggregateFunction::Sum,
            other => other,
        };
        let of = of
            .map(|f| f.column.clone())
            .filter(|_| function != AggregateFunction::Count);
        let key = PartialsKey {
            function,
            of,
            group: query.group.map(str::to_string),
            time: query.time.map(str::to_string),
        };
        // Held while building, so that concurrent requests build once.
        let mut kept = self.partials.lock().expect("lock");
        let find = |kept: &KeptPartials, fits: &dyn Fn(&PartialsKey) -> bool| {
            kept.built
                .iter()
                .find(|(r, built, _)| *r == relation && fits(built))
                .map(|(_, _, partials)| partials.clone())
        };
        if let Some(exact) = find(&kept, &|built| *built == key) {
            return Ok(Some(exact));
        }
        // Partials split by more than the query tests answer it too, with more cells
        // to combine: used until the query's own are built.
        let wider = find(&kept, &|built| {
            built.function == key.function && built.of == key.of && query.answered_by(built)
        });
        let room = kept.built.len() < MAX_PARTIALS;
        let requests = kept.requests.entry((relation, key.clone())).or_insert(0);
        if !room || *requests == u32::MAX {
            return Ok(wider);
        }
        *requests += 1;
        if *requests < BUILD_ON_REQUEST {
            return Ok(wider);
        }
        let started = std::time::Instant::now();
        let space = Space::Relation(relation);
        let table = &space.relation(&self.dataset).table;
        let built = Partials::build(table, &self.subject_offsets(space), &key)
            .map_err(EvalError::Engine)?;
        let Some(built) = built else {
            *kept.requests.get_mut(&(relation, key)).expect("counted") = u32::MAX;
            return Ok(wider);
        };
        tracing::debug!(
            "partials {key:?} of {relation} built in {:.1} ms ({:.1} MiB)",
            started.elapsed().as_secs_f64() * 1e3,
            built.memory_bytes() as f64 / (1 << 20) as f64
        );
        let built = Arc::new(built);
        kept.built.push((relation, key, built.clone()));
        Ok(Some(built))
    }
}
