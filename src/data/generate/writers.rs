//! Each table's file written on a thread of its own, as Parquet or CSV.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Int64Type, SchemaRef};
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::Compression;
use datafusion::parquet::file::properties::WriterProperties;

use super::{OutputFormat, batch};

/// Writes one table's batches to its file.
pub(super) enum TableWriter {
    Parquet(ArrowWriter<File>),
    Csv(datafusion::arrow::csv::Writer<BufWriter<File>>),
}

impl TableWriter {
    pub(super) fn create(
        path: &Path,
        schema: SchemaRef,
        format: OutputFormat,
    ) -> anyhow::Result<TableWriter> {
        let file = File::create(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        Ok(match format {
            OutputFormat::Parquet => {
                let mut props = WriterProperties::builder()
                    .set_compression(Compression::LZ4_RAW)
                    .set_dictionary_enabled(false);
                for field in schema.fields() {
                    if matches!(field.data_type(), DataType::Dictionary(..)) {
                        props =
                            props.set_column_dictionary_enabled(field.name().as_str().into(), true);
                    }
                }
                TableWriter::Parquet(ArrowWriter::try_new(file, schema, Some(props.build()))?)
            }
            OutputFormat::Csv => TableWriter::Csv(
                datafusion::arrow::csv::WriterBuilder::new()
                    .with_header(true)
                    .with_timestamp_format("%Y-%m-%dT%H:%M:%SZ".into())
                    .with_date_format("%Y-%m-%d".into())
                    .build(BufWriter::with_capacity(1 << 20, file)),
            ),
        })
    }

    pub(super) fn write(&mut self, batch: &RecordBatch) -> anyhow::Result<()> {
        match self {
            TableWriter::Parquet(w) => w.write(batch)?,
            TableWriter::Csv(w) => w.write(&csv_ready(batch))?,
        }
        Ok(())
    }

    pub(super) fn close(self) -> anyhow::Result<()> {
        match self {
            TableWriter::Parquet(w) => {
                w.close()?;
            }
            TableWriter::Csv(w) => {
                use std::io::Write;
                w.into_inner().flush()?;
            }
        }
        Ok(())
    }
}

/// CSV has no lists: `category_ids` becomes `3|17|240`.
fn csv_ready(input: &RecordBatch) -> RecordBatch {
    let schema = input.schema();
    let columns: Vec<(&str, ArrayRef)> = schema
        .fields()
        .iter()
        .zip(input.columns())
        .map(|(field, array)| {
            let array = match array.as_list_opt::<i32>() {
                Some(list) => {
                    let joined: StringArray = (0..list.len())
                        .map(|row| {
                            (!list.is_null(row)).then(|| {
                                let ids = list.value(row);
                                let ids = ids.as_primitive::<Int64Type>();
                                ids.values()
                                    .iter()
                                    .map(i64::to_string)
                                    .collect::<Vec<_>>()
                                    .join("|")
                            })
                        })
                        .collect();
                    Arc::new(joined) as ArrayRef
                }
                None => array.clone(),
            };
            (field.name().as_str(), array)
        })
        .collect();
    batch(&columns)
}

pub(super) fn extension(format: OutputFormat) -> &'static str {
    match format {
        OutputFormat::Parquet => "parquet",
        OutputFormat::Csv => "csv",
    }
}

/// One writer thread per table, fed through a small bounded channel.
pub(super) struct TableSink {
    pub(super) sender: SyncSender<RecordBatch>,
    pub(super) handle: std::thread::JoinHandle<anyhow::Result<u64>>,
}

pub(super) fn spawn_sink(
    path: PathBuf,
    schema: SchemaRef,
    format: OutputFormat,
) -> anyhow::Result<TableSink> {
    let mut writer = TableWriter::create(&path, schema, format)?;
    let (sender, receiver): (SyncSender<RecordBatch>, Receiver<RecordBatch>) = sync_channel(2);
    let handle = std::thread::spawn(move || {
        let mut rows = 0u64;
        for batch in receiver {
            rows += batch.num_rows() as u64;
            writer.write(&batch)?;
        }
        writer.close()?;
        Ok(rows)
    });
    Ok(TableSink { sender, handle })
}
