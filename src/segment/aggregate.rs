//! Aggregates over related records, computed by DataFusion's aggregate functions (`count`,
//! `sum`, `min`, `max`) through their vectorised group accumulators. Subjects are dense
//! ids, so a record's subject is its group index directly: no planning and no hash
//! table, just DataFusion's kernels over the matching records' values.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Int64Array};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Int64Type, Schema};
use datafusion::functions_aggregate::count::count_udaf;
use datafusion::functions_aggregate::min_max::{max_udaf, min_udaf};
use datafusion::functions_aggregate::sum::sum_udaf;
use datafusion::logical_expr::function::AccumulatorArgs;
use datafusion::logical_expr::{AggregateUDF, EmitTo};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::expressions::Column;

use crate::segment::definition::AggregateFunction;

/// One subject's aggregate over its matching records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    pub subject: u32,
    /// Records.
    pub count: i64,
    /// Records with a non-null value.
    pub value_count: i64,
    /// The sum, min or max of the non-null values (none when there are none).
    pub value: Option<i64>,
}

/// Runs `function` over records: `groups[i]` is the subject of record `i` and `values`
/// (Int64, for every function but count) its value. Returns the subjects with records.
pub fn aggregate(
    function: AggregateFunction,
    groups: &[usize],
    values: Option<ArrayRef>,
    total_groups: usize,
) -> Result<Vec<Group>, String> {
    if groups.is_empty() {
        return Ok(Vec::new());
    }
    let records: ArrayRef = Arc::new(Int64Array::from_value(0, groups.len()));
    let values = values.unwrap_or_else(|| Arc::new(Int64Array::new_null(groups.len())));
    let counts = run(&count_udaf(), &records, groups, total_groups)?;
    let value_counts = run(&count_udaf(), &values, groups, total_groups)?;
    let results = match function {
        AggregateFunction::Count => None,
        AggregateFunction::Sum | AggregateFunction::Avg => {
            Some(run(&sum_udaf(), &values, groups, total_groups)?)
        }
        AggregateFunction::Min => Some(run(&min_udaf(), &values, groups, total_groups)?),
        AggregateFunction::Max => Some(run(&max_udaf(), &values, groups, total_groups)?),
    };
    let counts = counts.as_primitive::<Int64Type>();
    let value_counts = value_counts.as_primitive::<Int64Type>();
    let results = results.as_ref().map(|r| r.as_primitive::<Int64Type>());
    Ok((0..total_groups.min(counts.len()))
        .filter(|&g| counts.value(g) > 0)
        .map(|g| Group {
            subject: g as u32,
            count: counts.value(g),
            value_count: value_counts.value(g),
            value: results.and_then(|r| r.is_valid(g).then(|| r.value(g))),
        })
        .collect())
}

/// One aggregate function over `input` (Int64) grouped by `groups`.
fn run(
    udaf: &Arc<AggregateUDF>,
    input: &ArrayRef,
    groups: &[usize],
    total_groups: usize,
) -> Result<ArrayRef, String> {
    let schema = Schema::new(vec![Field::new("value", DataType::Int64, true)]);
    let expression: Arc<dyn PhysicalExpr> = Arc::new(Column::new("value", 0));
    let input_field: FieldRef = Arc::new(schema.field(0).clone());
    let return_type = udaf
        .return_type(&[DataType::Int64])
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
            "DataFusion has no group accumulator for {}",
            udaf.name()
        ));
    }
    let mut accumulator = udaf
        .create_groups_accumulator(args())
        .map_err(|e| e.to_string())?;
    accumulator
        .update_batch(std::slice::from_ref(input), groups, None, total_groups)
        .map_err(|e| e.to_string())?;
    let result = accumulator
        .evaluate(EmitTo::All)
        .map_err(|e| e.to_string())?;
    // count returns Int64, and so do sum, min and max of Int64.
    if result.data_type() != &DataType::Int64 {
        return datafusion::arrow::compute::cast(&result, &DataType::Int64)
            .map_err(|e| e.to_string());
    }
    Ok(result)
}
