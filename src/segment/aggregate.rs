//! Aggregates over related records, computed by DataFusion's aggregate functions (`sum`,
//! `min`, `max`, and `count` of values for averages) through their vectorised group
//! accumulators. Subjects are dense ids, so a record's subject is its group index
//! directly: no planning and no hash table, just DataFusion's kernels over the matching
//! records' values.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Int64Array};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::compute::{cast, concat};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Int64Type, Schema};
use datafusion::functions_aggregate::count::count_udaf;
use datafusion::functions_aggregate::min_max::{max_udaf, min_udaf};
use datafusion::functions_aggregate::sum::sum_udaf;
use datafusion::logical_expr::function::AccumulatorArgs;
use datafusion::logical_expr::{AggregateUDF, EmitTo, GroupsAccumulator};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::expressions::Column;
use roaring::RoaringBitmap;

use crate::segment::definition::AggregateFunction;
use crate::segment::rows::{ColumnReader, NumberVisitor, visit_numbers};

/// Per subject (indexed by subject id): records, non-null values, and the sum, min or
/// max of the values (null where there are none).
pub struct Aggregated {
    pub count: Vec<u32>,
    pub value_count: Option<Int64Array>,
    pub value: Option<Int64Array>,
}

/// What to aggregate over one table.
#[derive(Clone, Copy)]
pub struct AggregateInput<'a> {
    pub function: AggregateFunction,
    /// Subject `s` owns rows `subject_offsets[s]..subject_offsets[s + 1]` (ascending; a
    /// subject without rows has an empty range).
    pub subject_offsets: &'a [u32],
    /// The aggregated column (int, decimal units, date or timestamp), for all but `count`.
    pub values: Option<&'a crate::store::Column>,
    /// The rows that take part.
    pub rows: &'a RoaringBitmap,
    pub subjects: usize,
}

/// Matching rows from which the subjects are split in two halves, aggregated each on a
/// thread of its own (the two results are concatenated, as subjects are dense ids).
const PARALLEL_ROWS: u64 = 1 << 16;

pub fn aggregate(input: &AggregateInput<'_>) -> Result<Aggregated, String> {
    if input.rows.len() < PARALLEL_ROWS || input.subjects < 2 {
        return aggregate_subjects(input);
    }
    let middle = input.subjects / 2;
    let boundary = input.subject_offsets[middle];
    let mut low_rows = input.rows.clone();
    low_rows.remove_range(boundary..);
    let mut high_rows = input.rows.clone();
    high_rows.remove_range(..boundary);
    let low = AggregateInput {
        subject_offsets: &input.subject_offsets[..=middle],
        rows: &low_rows,
        subjects: middle,
        ..*input
    };
    let high = AggregateInput {
        subject_offsets: &input.subject_offsets[middle..],
        rows: &high_rows,
        subjects: input.subjects - middle,
        ..*input
    };
    let (low, high) = std::thread::scope(|scope| {
        let high = scope.spawn(|| aggregate_subjects(&high));
        let low = aggregate_subjects(&low);
        (
            low,
            high.join().expect("the aggregating thread does not panic"),
        )
    });
    let (low, high) = (low?, high?);
    let join =
        |a: Option<Int64Array>, b: Option<Int64Array>| -> Result<Option<Int64Array>, String> {
            match (a, b) {
                (Some(a), Some(b)) => {
                    let joined = concat(&[&a, &b]).map_err(|e| e.to_string())?;
                    Ok(Some(joined.as_primitive::<Int64Type>().clone()))
                }
                _ => Ok(None),
            }
        };
    let mut count = low.count;
    count.extend(high.count);
    Ok(Aggregated {
        count,
        value_count: join(low.value_count, high.value_count)?,
        value: join(low.value, high.value)?,
    })
}

/// The aggregate of `input.subjects` subjects, the first owning row
/// `input.subject_offsets[0]`.
fn aggregate_subjects(input: &AggregateInput<'_>) -> Result<Aggregated, String> {
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
    // Averages divide by the non-null values; without nulls, that is the records.
    let count_values = input.function == AggregateFunction::Avg && column.array.null_count() > 0;
    visit_numbers(
        &ColumnReader::new(column),
        &[],
        Batches {
            input,
            sink: Sink::new(input.function, column, input.subjects, count_values)?,
        },
    )
}

/// Rows gathered and handed to DataFusion's accumulators at a time: small enough to stay
/// in cache, and no copy of the whole column or of every matching row is made.
const BATCH: usize = 1 << 13;

/// The matching rows' values (as Int64: ints, decimal units, days, µs) and subjects,
/// gathered a batch at a time into the accumulators.
struct Batches<'a> {
    input: &'a AggregateInput<'a>,
    sink: Sink,
}

impl NumberVisitor for Batches<'_> {
    type Output = Result<Aggregated, String>;

    fn visit<N: Fn(usize) -> Option<i64> + Sync>(mut self, number: N) -> Self::Output {
        let mut count = vec![0u32; self.input.subjects];
        let mut subject_of = SubjectCursor::new(self.input.subject_offsets);
        // Runs of matching rows, split where their subject changes: each piece is one
        // subject's rows, gathered in one go.
        let offsets = self.input.subject_offsets;
        let mut runs = self.input.rows.iter();
        while let Some(run) = runs.next_range() {
            let (mut start, end) = (*run.start(), *run.end() + 1);
            while start < end {
                let subject = subject_of.at(start);
                let upto = end.min(offsets[subject + 1]).max(start + 1);
                count[subject] += upto - start;
                self.sink.push(subject, start..upto, &number);
                start = upto;
            }
        }
        self.sink.finish(count)
    }
}

/// DataFusion's group accumulators fed a batch of values and their groups at a time.
pub(crate) struct Sink {
    groups_total: usize,
    nullable: bool,
    value: Box<dyn GroupsAccumulator>,
    value_count: Option<Box<dyn GroupsAccumulator>>,
    values: Vec<i64>,
    valid: Vec<bool>,
    groups: Vec<usize>,
    failed: Option<String>,
}

impl Sink {
    /// Accumulators of `function` over `groups_total` groups of `column`'s values;
    /// `count_values` also counts the non-null values per group.
    pub(crate) fn new(
        function: AggregateFunction,
        column: &crate::store::Column,
        groups_total: usize,
        count_values: bool,
    ) -> Result<Sink, String> {
        let udaf = match function {
            AggregateFunction::Min => min_udaf(),
            AggregateFunction::Max => max_udaf(),
            _ => sum_udaf(),
        };
        Ok(Sink {
            groups_total,
            nullable: column.array.null_count() > 0,
            value: accumulator(&udaf)?,
            value_count: count_values
                .then(|| accumulator(&count_udaf()))
                .transpose()?,
            values: Vec::with_capacity(BATCH),
            valid: Vec::new(),
            groups: Vec::with_capacity(BATCH),
            failed: None,
        })
    }

    /// Adds `rows`, all of `group`.
    #[inline]
    pub(crate) fn push<N: Fn(usize) -> Option<i64>>(
        &mut self,
        group: usize,
        rows: std::ops::Range<u32>,
        number: &N,
    ) {
        self.groups.extend(std::iter::repeat_n(group, rows.len()));
        if self.nullable {
            for row in rows {
                let value = number(row as usize);
                self.values.push(value.unwrap_or(0));
                self.valid.push(value.is_some());
            }
        } else {
            self.values
                .extend(rows.map(|row| number(row as usize).unwrap_or(0)));
        }
        if self.groups.len() >= BATCH {
            self.flush();
        }
    }

    fn flush(&mut self) {
        let nulls = self
            .nullable
            .then(|| NullBuffer::from(std::mem::take(&mut self.valid)));
        let gathered = std::mem::replace(&mut self.values, Vec::with_capacity(BATCH));
        let batch: ArrayRef = Arc::new(Int64Array::new(gathered.into(), nulls));
        let batch = std::slice::from_ref(&batch);
        let (groups, total) = (&self.groups, self.groups_total);
        let mut update = |accumulator: &mut Box<dyn GroupsAccumulator>| {
            accumulator
                .update_batch(batch, groups, None, total)
                .map_err(|e| e.to_string())
        };
        let result = update(&mut self.value)
            .and_then(|()| self.value_count.as_mut().map_or(Ok(()), &mut update));
        self.groups.clear();
        if let Err(error) = result {
            self.failed.get_or_insert(error);
        }
    }

    /// Every group's results, with `count` records per group.
    pub(crate) fn finish(mut self, count: Vec<u32>) -> Result<Aggregated, String> {
        if !self.groups.is_empty() {
            self.flush();
        }
        if let Some(error) = self.failed {
            return Err(error);
        }
        Ok(Aggregated {
            count,
            value_count: self.value_count.map(|mut a| emit(&mut a)).transpose()?,
            value: Some(emit(&mut self.value)?),
        })
    }
}

/// Records per subject, from the runs of matching rows: each run is split at the
/// subjects' row offsets, so long runs cost one step per subject, not per row.
fn count_records(input: &AggregateInput<'_>) -> Vec<u32> {
    let offsets = input.subject_offsets;
    let mut count = vec![0u32; input.subjects];
    let mut subject_of = SubjectCursor::new(offsets);
    let mut runs = input.rows.iter();
    while let Some(run) = runs.next_range() {
        let (mut start, end) = (*run.start(), *run.end() + 1);
        let mut subject = subject_of.at(start);
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
/// the rows and galloping over subjects without matching rows.
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

    /// The subject owning `row` (the last one whose rows start at or before it); rows
    /// must come in ascending order.
    #[inline]
    fn at(&mut self, row: u32) -> usize {
        let offsets = self.offsets;
        let last = offsets.len().saturating_sub(2);
        let mut low = self.subject;
        let mut step = 1;
        while low + step <= last && offsets[low + step] <= row {
            low += step;
            step *= 2;
        }
        let high = (low + step).min(last + 1);
        self.subject = low + offsets[low..high].partition_point(|&o| o <= row).max(1) - 1;
        self.subject
    }
}

/// A group accumulator of DataFusion's `udaf` over Int64 values.
fn accumulator(udaf: &Arc<AggregateUDF>) -> Result<Box<dyn GroupsAccumulator>, String> {
    let data_type = DataType::Int64;
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
    udaf.create_groups_accumulator(args())
        .map_err(|e| e.to_string())
}

/// Every subject's result (Int64: counts, sums, and min/max of Int64 values).
fn emit(accumulator: &mut Box<dyn GroupsAccumulator>) -> Result<Int64Array, String> {
    let result = accumulator
        .evaluate(EmitTo::All)
        .map_err(|e| e.to_string())?;
    let result = match result.data_type() {
        DataType::Int64 => result,
        _ => cast(&result, &DataType::Int64).map_err(|e| e.to_string())?,
    };
    Ok(result.as_primitive::<Int64Type>().clone())
}
