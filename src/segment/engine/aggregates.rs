//! Aggregate conditions: per-subject rollups over every record (no `where`), and the
//! matching records' aggregates through DataFusion, compared exactly.

use std::sync::Arc;

use datafusion::arrow::array::Array;
use roaring::RoaringBitmap;

use super::{Context, Engine, EvalError, MAX_ROLLUPS};
use crate::model::FieldType;
use crate::segment::aggregate::{AggregateInput, Aggregated, aggregate};
use crate::segment::bitmaps::Bitset;
use crate::segment::definition::{AggregateFunction, Op, Operand, Scalar};
use crate::segment::index::ColumnIndex;
use crate::segment::plan::{RecordPlan, Tree};
use crate::segment::predicate::Test;
use crate::segment::schema::{Field, RelationKind};
use crate::segment::space::Space;

impl Engine {
    /// Every subject's count, sum, min or max over all its in-scope records of `space`, as
    /// an index over subjects (built on first use and kept). Count and sum are 0 for
    /// a subject without records; min and max have no value. `None` once [`MAX_ROLLUPS`]
    /// are kept: the caller aggregates the rows instead, so that requests naming ever new
    /// website lists cannot grow memory without bound.
    pub(super) fn rollup(
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
        let built = Arc::new(ColumnIndex::of_values(keys.collect(), unit).with_prefixes());
        self.rollups
            .lock()
            .expect("lock")
            .insert(key, built.clone());
        Ok(Some(built))
    }

    /// `function` of the field `of` (none for `count`) over `rows` of `space`, per subject.
    pub(super) fn aggregate_rows(
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

    #[allow(clippy::too_many_arguments)]
    pub(super) fn aggregate(
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
        let eligible = match relation.visitors_have_it() {
            true => std::borrow::Cow::Borrowed(within),
            false => self.customers_among(within),
        };
        // Over every record (no `where`): the subjects' aggregates do not depend on the
        // evaluation, so they are an index of their own, built once.
        if let (Tree::Everything, Test::Ranges { ranges, negate }) = (filter, comparison.test)
            && function != AggregateFunction::Avg
            && let Some(rollup) = self.rollup(context, function, space, of)?
        {
            let mut members = rollup.ranges(ranges, *negate);
            members &= eligible.as_ref();
            return Ok(members);
        }
        let started = std::time::Instant::now();
        // An average of ints compares in decimal units.
        let scale = match of.map(|f| f.ty) {
            Some(FieldType::Int) => crate::data::value::DECIMAL_SCALE,
            _ => 1,
        };
        // Subjects without matching records: count, sum and avg are 0, min/max have no value.
        let zero_passes = !matches!(function, AggregateFunction::Min | AggregateFunction::Max)
            && comparison.test.number(Some(0));
        let passes = |count: i64, value_count: i64, value: Option<i64>| {
            if count == 0 {
                return zero_passes;
            }
            let group = Group {
                count,
                value_count,
                value,
            };
            passes_aggregate(function, &group, scale, comparison)
        };
        // Partials answer for all subjects at once: worth it unless few remain.
        let universe = self.universe(&context.scope);
        // One range of whole values (`sum >= 500`): a comparison the combining loop
        // inlines, for the million subjects it decides.
        let one_range = match comparison.test {
            Test::Ranges {
                ranges,
                negate: false,
            } if ranges.len() == 1 && function != AggregateFunction::Avg => Some(ranges[0]),
            _ => None,
        };
        let partial = if eligible.len() * 16 < universe.len() {
            None
        } else if let Some((low, high)) = one_range {
            // Without short circuits: whether a value is in range is data, not a branch
            // the processor could predict.
            let in_range = move |count: i64, _values: i64, value: Option<i64>| {
                let (whole, known) = match function {
                    AggregateFunction::Count => (count, true),
                    AggregateFunction::Sum => (value.unwrap_or(0), true),
                    _ => (value.unwrap_or(0), value.is_some()),
                };
                known & (low <= whole) & (whole <= high)
            };
            self.partial_aggregate(
                context, function, relation, of, filter, &eligible, &in_range,
            )?
        } else {
            self.partial_aggregate(context, function, relation, of, filter, &eligible, &passes)?
        };
        if let Some(members) = partial {
            tracing::debug!(
                "{}({relation}) by partials: {} members in {:.2} ms",
                function.name(),
                members.len(),
                started.elapsed().as_secs_f64() * 1e3
            );
            return Ok(members);
        }
        let candidates = self.candidate_rows(context, space, &eligible);
        let rows = self.records(context, space, filter, &candidates)?;
        let filtered_ms = started.elapsed().as_secs_f64() * 1e3;
        let aggregated = self.aggregate_rows(function, space, of, &rows)?;
        let aggregated_ms = started.elapsed().as_secs_f64() * 1e3;
        // Every subject in one pass over the aggregates, then those still in question.
        let subjects = self.dataset.customer_count() + self.dataset.visitor_count();
        let value = aggregated.value.as_ref();
        let mut passing = Bitset::new(subjects);
        for (subject, &count) in aggregated.count.iter().enumerate() {
            let count = count as i64;
            // Without records, a subject may have no slot in the values.
            let (value_count, value) = if count == 0 {
                (0, None)
            } else {
                (
                    aggregated
                        .value_count
                        .as_ref()
                        .map_or(count, |c| c.value(subject)),
                    value.and_then(|v| v.is_valid(subject).then(|| v.value(subject))),
                )
            };
            if passes(count, value_count, value) {
                passing.insert(subject as u32);
            }
        }
        let mut members = passing.into_bitmap();
        members &= eligible.as_ref();
        tracing::debug!(
            "{}({relation}): {} candidate records, {} matching at {filtered_ms:.2} ms, aggregated at {aggregated_ms:.2} ms, {} members at {:.2} ms",
            function.name(),
            candidates.len(),
            rows.len(),
            members.len(),
            started.elapsed().as_secs_f64() * 1e3
        );
        Ok(members)
    }
}

/// One subject's aggregate over its matching records.
#[derive(Default)]
pub(crate) struct Group {
    /// Records.
    pub(crate) count: i64,
    /// Records with a non-null value.
    pub(crate) value_count: i64,
    /// The sum, min or max of the non-null values (none when there are none).
    pub(crate) value: Option<i64>,
}

impl Group {
    /// Takes in one record's non-null value (its `count` is counted apart).
    pub(crate) fn add(&mut self, function: AggregateFunction, value: i64) {
        self.value_count += 1;
        self.value = Some(match (function, self.value) {
            (_, None) => value,
            (AggregateFunction::Min, Some(v)) => v.min(value),
            (AggregateFunction::Max, Some(v)) => v.max(value),
            (_, Some(v)) => v.wrapping_add(value),
        });
    }
}

/// An aggregate's comparison: normalised for whole results, as written for averages.
pub(crate) struct AggregateComparison<'a> {
    pub(crate) test: &'a Test,
    pub(crate) op: Op,
    pub(crate) operand: &'a Operand,
}

#[inline]
/// Whether a subject's aggregate passes. Averages are fractions `sum * scale / n` (in
/// decimal units) and compare exactly: `sum * scale` against `value * n`.
pub(crate) fn passes_aggregate(
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
pub(super) fn compare_fraction(
    numerator: i128,
    denominator: i128,
    op: Op,
    operand: &Operand,
) -> bool {
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
