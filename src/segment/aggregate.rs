//! Aggregates over related records, computed by DataFusion's aggregate functions (`sum`,
//! `min`, `max`, and `count` of values for averages) through their vectorised group
//! accumulators. Subjects are dense ids, so a record's subject is its group index
//! directly: no planning and no hash table, just DataFusion's kernels over the matching
//! records' values.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Int64Array, UInt32Array};
use datafusion::arrow::compute::{cast, take};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Int64Type, Schema};
use datafusion::functions_aggregate::count::count_udaf;
use datafusion::functions_aggregate::min_max::{max_udaf, min_udaf};
use datafusion::functions_aggregate::sum::sum_udaf;
use datafusion::logical_expr::function::AccumulatorArgs;
use datafusion::logical_expr::{AggregateUDF, EmitTo};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::expressions::Column;
use roaring::RoaringBitmap;

use crate::segment::definition::AggregateFunction;
use crate::segment::index::for_each_row;

/// Per subject (indexed by subject id): records, non-null values, and the sum, min or
/// max of the values (null where there are none).
pub struct Aggregated {
    pub count: Vec<u32>,
    pub value_count: Option<Int64Array>,
    pub value: Option<Int64Array>,
}

/// What to aggregate over one table.
pub struct AggregateInput<'a> {
    pub function: AggregateFunction,
    /// Subject `s` owns rows `subject_offsets[s]..subject_offsets[s + 1]` (ascending; a
    /// subject without rows has an empty range).
    pub subject_offsets: &'a [u32],
    /// The aggregated column (int as Int64, decimal units as Int64, date or timestamp),
    /// for all but `count`.
    pub values: Option<&'a ArrayRef>,
    /// The rows that take part.
    pub rows: &'a RoaringBitmap,
    pub subjects: usize,
}

pub fn aggregate(input: &AggregateInput<'_>) -> Result<Aggregated, String> {
    let Some(column) = input
        .values
        .filter(|_| input.function != AggregateFunction::Count)
    else {
        return Ok(Aggregated {
            count: count_records(input),
            value_count: None,
            value: None,
        });
    };
    let mut subject_of = SubjectCursor::new(input.subject_offsets);
    let (values, groups, count) = match (input.rows.min(), input.rows.max()) {
        // One run of rows (every record in scope, say): the column as it is stored.
        (Some(first), Some(last)) if input.rows.len() == (last - first) as u64 + 1 => {
            let (start, len) = (first as usize, (last - first) as usize + 1);
            let groups: Vec<usize> = (first..=last).map(|row| subject_of.at(row)).collect();
            (column.slice(start, len), groups, count_records(input))
        }
        _ => {
            // The matching rows, their subjects, and the records per subject, in one pass.
            let mut rows = Vec::with_capacity(input.rows.len() as usize);
            let mut groups = Vec::with_capacity(input.rows.len() as usize);
            let mut count = vec![0u32; input.subjects];
            for_each_row(input.rows, |row| {
                let subject = subject_of.at(row);
                count[subject] += 1;
                groups.push(subject);
                rows.push(row);
            });
            let values =
                take(column.as_ref(), &UInt32Array::from(rows), None).map_err(|e| e.to_string())?;
            (values, groups, count)
        }
    };
    let udaf = match input.function {
        AggregateFunction::Min => min_udaf(),
        AggregateFunction::Max => max_udaf(),
        _ => sum_udaf(),
    };
    let value = run(&udaf, &values, &groups, input.subjects)?;
    // Averages divide by the non-null values; without nulls, that is the records.
    let value_count = if input.function == AggregateFunction::Avg && values.null_count() > 0 {
        Some(run(&count_udaf(), &values, &groups, input.subjects)?)
    } else {
        None
    };
    Ok(Aggregated {
        count,
        value_count,
        value: Some(value),
    })
}

/// Records per subject, from the runs of matching rows: each run is split at the
/// subjects' row offsets, so long runs cost one step per subject, not per row.
fn count_records(input: &AggregateInput<'_>) -> Vec<u32> {
    let offsets = input.subject_offsets;
    let mut count = vec![0u32; input.subjects];
    let mut runs = input.rows.iter();
    while let Some(run) = runs.next_range() {
        let (mut start, end) = (*run.start(), *run.end() + 1);
        let mut subject = SubjectCursor::new(offsets).at(start);
        while start < end {
            while subject + 1 < input.subjects && offsets[subject + 1] <= start {
                subject += 1;
            }
            // Rows past every subject's (none are in scope) end the count.
            if offsets[subject + 1] <= start {
                break;
            }
            let upto = end.min(offsets[subject + 1]);
            count[subject] += upto - start;
            start = upto;
        }
    }
    count
}

/// The subject of ascending rows, found by walking the subjects' row offsets along with
/// them: no per-row table of subjects is kept.
struct SubjectCursor<'a> {
    offsets: &'a [u32],
    subject: usize,
}

impl<'a> SubjectCursor<'a> {
    fn new(offsets: &'a [u32]) -> SubjectCursor<'a> {
        SubjectCursor {
            offsets,
            subject: 0,
        }
    }

    /// The subject owning `row`; rows must come in ascending order and belong to some
    /// subject (in-scope rows do).
    #[inline]
    fn at(&mut self, row: u32) -> usize {
        while self.subject + 2 < self.offsets.len() && self.offsets[self.subject + 1] <= row {
            self.subject += 1;
        }
        self.subject
    }
}

/// One aggregate function over `values` grouped by `groups` (subjects).
fn run(
    udaf: &Arc<AggregateUDF>,
    values: &ArrayRef,
    groups: &[usize],
    subjects: usize,
) -> Result<Int64Array, String> {
    let data_type = values.data_type().clone();
    let schema = Schema::new(vec![Field::new("value", data_type.clone(), true)]);
    let expression: Arc<dyn PhysicalExpr> = Arc::new(Column::new("value", 0));
    let input_field: FieldRef = Arc::new(schema.field(0).clone());
    let return_type = udaf
        .return_type(std::slice::from_ref(&data_type))
        .map_err(|e| e.to_string())?;
    let args = || AccumulatorArgs {
        return_field: Arc::new(Field::new(udaf.name(), return_type.clone(), true)),
        schema: &schema,
        ignore_nulls: false,
        order_bys: &[],
        is_reversed: false,
        name: udaf.name(),
        is_distinct: false,
        exprs: std::slice::from_ref(&expression),
        expr_fields: std::slice::from_ref(&input_field),
    };
    if !udaf.groups_accumulator_supported(args()) {
        return Err(format!(
            "DataFusion has no group accumulator for {} of {data_type}",
            udaf.name()
        ));
    }
    let mut accumulator = udaf
        .create_groups_accumulator(args())
        .map_err(|e| e.to_string())?;
    accumulator
        .update_batch(std::slice::from_ref(values), groups, None, subjects)
        .map_err(|e| e.to_string())?;
    let result = accumulator
        .evaluate(EmitTo::All)
        .map_err(|e| e.to_string())?;
    // Counts and sums are Int64; min and max keep the column's type (Date32, Timestamp):
    // read them as Int64 (days and microseconds).
    let result = match result.data_type() {
        DataType::Int64 => result,
        DataType::Date32 => {
            let days = cast(&result, &DataType::Int32).map_err(|e| e.to_string())?;
            cast(&days, &DataType::Int64).map_err(|e| e.to_string())?
        }
        _ => cast(&result, &DataType::Int64).map_err(|e| e.to_string())?,
    };
    Ok(result.as_primitive::<Int64Type>().clone())
}
