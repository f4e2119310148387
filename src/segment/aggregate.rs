//! Aggregates over related records, computed by DataFusion: the matching records' subjects
//! and values go in as one Arrow batch, DataFusion groups them by subject, and the engine
//! compares each group's result exactly.

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, Int64Array, RecordBatch, UInt32Array};
use datafusion::arrow::datatypes::{DataType, Field, Int64Type, Schema, UInt32Type};
use datafusion::functions_aggregate::expr_fn::{count, max, min, sum};
use datafusion::prelude::{SessionConfig, SessionContext, col, lit};
use roaring::RoaringBitmap;

use crate::segment::definition::AggregateFunction;

/// What to aggregate: the matching rows, and how to read a row's subject and value.
pub struct AggregateInput<'a> {
    pub function: AggregateFunction,
    pub rows: &'a RoaringBitmap,
    pub subject_of: &'a dyn Fn(usize) -> u32,
    pub value_of: &'a dyn Fn(usize) -> Option<i64>,
}

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

/// Runs DataFusion aggregations on a runtime of its own.
pub struct Aggregator {
    context: SessionContext,
    runtime: tokio::runtime::Runtime,
}

impl Default for Aggregator {
    fn default() -> Self {
        Aggregator::new()
    }
}

impl Aggregator {
    pub fn new() -> Aggregator {
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        let config = SessionConfig::new().with_target_partitions(threads);
        Aggregator {
            context: SessionContext::new_with_config(config),
            runtime: tokio::runtime::Builder::new_multi_thread()
                .worker_threads(threads)
                .thread_name("segmint-aggregate")
                .build()
                .expect("a tokio runtime for DataFusion"),
        }
    }

    pub fn run(&self, input: &AggregateInput<'_>) -> Result<Vec<Group>, String> {
        if input.rows.is_empty() {
            return Ok(Vec::new());
        }
        let rows = input.rows.len() as usize;
        let mut subjects = Vec::with_capacity(rows);
        let mut values = Vec::with_capacity(rows);
        let with_values = input.function != AggregateFunction::Count;
        for row in input.rows {
            subjects.push((input.subject_of)(row as usize));
            if with_values {
                values.push((input.value_of)(row as usize));
            }
        }
        let schema = Arc::new(Schema::new(vec![
            Field::new("subject", DataType::UInt32, false),
            Field::new("value", DataType::Int64, true),
        ]));
        let values = if with_values {
            Int64Array::from(values)
        } else {
            Int64Array::new_null(rows)
        };
        let batch = RecordBatch::try_new(
            schema,
            vec![Arc::new(UInt32Array::from(subjects)), Arc::new(values)],
        )
        .map_err(|e| e.to_string())?;
        let value = match input.function {
            // Counts need no value; the column is all null.
            AggregateFunction::Count => max(col("value")),
            AggregateFunction::Sum | AggregateFunction::Avg => sum(col("value")),
            AggregateFunction::Min => min(col("value")),
            AggregateFunction::Max => max(col("value")),
        };
        let work = async {
            self.context
                .read_batch(batch)?
                .aggregate(
                    vec![col("subject")],
                    vec![
                        count(lit(1)).alias("n"),
                        count(col("value")).alias("values"),
                        value.alias("value"),
                    ],
                )?
                .collect()
                .await
        };
        // DataFusion runs on its own runtime; from inside another runtime (the server's),
        // it is driven from a thread of its own.
        let batches = if tokio::runtime::Handle::try_current().is_ok() {
            std::thread::scope(|scope| scope.spawn(|| self.runtime.block_on(work)).join())
                .map_err(|_| "the aggregation thread panicked".to_string())?
        } else {
            self.runtime.block_on(work)
        }
        .map_err(|e| e.to_string())?;
        let mut groups = Vec::new();
        for batch in batches {
            let subject = batch.column(0).as_primitive::<UInt32Type>();
            let n = batch.column(1).as_primitive::<Int64Type>();
            let value_count = batch.column(2).as_primitive::<Int64Type>();
            let value = batch.column(3);
            let value = value.as_primitive_opt::<Int64Type>();
            for i in 0..batch.num_rows() {
                groups.push(Group {
                    subject: subject.value(i),
                    count: n.value(i),
                    value_count: value_count.value(i),
                    value: value.and_then(|v| v.is_valid(i).then(|| v.value(i))),
                });
            }
        }
        Ok(groups)
    }
}
