//! Rows read from MySQL into a dataset table's Arrow columns, written to its Parquet file
//! a batch at a time: a table is never held whole in memory.

use std::borrow::Cow;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{SyncSender, sync_channel};
use std::thread::JoinHandle;

use datafusion::arrow::array::{
    ArrayRef, BooleanBuilder, Date32Builder, Decimal128Builder, Int64Builder, ListBuilder,
    StringBuilder, TimestampMicrosecondBuilder,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::Compression;
use datafusion::parquet::file::properties::WriterProperties;
use mysql_async::Value;

use super::MagentoError;

/// Rows a batch holds before it is written.
const BATCH_ROWS: usize = 65_536;

/// A dataset column's type (data-model.md), as written to Parquet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Ids and ints: int64.
    Integer,
    /// decimal(20,4), exact.
    Decimal,
    Bool,
    Date,
    Timestamp,
    Text,
    /// list<int64>, read from ids joined by commas (`GROUP_CONCAT`); empty text is `[]`.
    IdList,
}

impl Kind {
    fn data_type(self) -> DataType {
        match self {
            Kind::Integer => DataType::Int64,
            Kind::Decimal => DataType::Decimal128(20, 4),
            Kind::Bool => DataType::Boolean,
            Kind::Date => DataType::Date32,
            Kind::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, None),
            Kind::Text => DataType::Utf8,
            Kind::IdList => DataType::List(Arc::new(Field::new_list_field(DataType::Int64, true))),
        }
    }
}

/// The values of one column so far.
enum Builder {
    Integer(Int64Builder),
    Decimal(Decimal128Builder),
    Bool(BooleanBuilder),
    Date(Date32Builder),
    Timestamp(TimestampMicrosecondBuilder),
    Text(StringBuilder),
    IdList(ListBuilder<Int64Builder>),
}

impl Builder {
    fn new(kind: Kind) -> Builder {
        match kind {
            Kind::Integer => Builder::Integer(Int64Builder::new()),
            Kind::Decimal => Builder::Decimal(
                Decimal128Builder::new()
                    .with_precision_and_scale(20, 4)
                    .expect("decimal(20,4) is valid"),
            ),
            Kind::Bool => Builder::Bool(BooleanBuilder::new()),
            Kind::Date => Builder::Date(Date32Builder::new()),
            Kind::Timestamp => Builder::Timestamp(TimestampMicrosecondBuilder::new()),
            Kind::Text => Builder::Text(StringBuilder::new()),
            Kind::IdList => Builder::IdList(ListBuilder::new(Int64Builder::new())),
        }
    }

    /// Appends `value`, or says why it does not fit the column (a NULL always does).
    fn push(&mut self, value: &Value) -> Result<(), String> {
        let value = (!matches!(value, Value::NULL)).then_some(value);
        match self {
            Builder::Integer(b) => b.append_option(value.map(integer).transpose()?),
            Builder::Bool(b) => b.append_option(
                value
                    .map(|v| Ok::<_, String>(integer(v)? != 0))
                    .transpose()?,
            ),
            Builder::Decimal(b) => b.append_option(value.map(decimal).transpose()?),
            Builder::Date(b) => b.append_option(
                value
                    .map(instant)
                    .transpose()?
                    .flatten()
                    .map(|at| at.date().signed_duration_since(epoch_day()).num_days() as i32),
            ),
            Builder::Timestamp(b) => b.append_option(
                value
                    .map(instant)
                    .transpose()?
                    .flatten()
                    .map(|at| at.and_utc().timestamp_micros()),
            ),
            Builder::Text(b) => b.append_option(value.map(text).transpose()?.as_deref()),
            Builder::IdList(b) => match value {
                None => b.append_null(),
                Some(value) => {
                    let joined = text(value)?;
                    for id in joined.split(',').filter(|id| !id.trim().is_empty()) {
                        let id = id.trim().parse::<i64>().map_err(|_| {
                            format!("{joined:?} is not a list of ids joined by commas")
                        })?;
                        b.values().append_value(id);
                    }
                    b.append(true);
                }
            },
        }
        Ok(())
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Builder::Integer(b) => Arc::new(b.finish()),
            Builder::Decimal(b) => Arc::new(b.finish()),
            Builder::Bool(b) => Arc::new(b.finish()),
            Builder::Date(b) => Arc::new(b.finish()),
            Builder::Timestamp(b) => Arc::new(b.finish()),
            Builder::Text(b) => Arc::new(b.finish()),
            Builder::IdList(b) => Arc::new(b.finish()),
        }
    }
}

/// One column of a dataset table.
#[derive(Clone, Debug)]
pub struct Column {
    /// A data-model column's name, or a custom attribute's code.
    pub name: Cow<'static, str>,
    pub kind: Kind,
}

pub const fn column(name: &'static str, kind: Kind) -> Column {
    Column {
        name: Cow::Borrowed(name),
        kind,
    }
}

/// A dataset table being written: rows pushed in, a batch written every [`BATCH_ROWS`]
/// by a thread of its own (encoding and compressing Parquet is a sixth of the import's
/// time on the client, which the reading need not wait for).
pub struct TableFile {
    columns: Vec<Column>,
    schema: SchemaRef,
    builders: Vec<Builder>,
    /// Batches to the writing thread; `None` once finished.
    batches: Option<SyncSender<RecordBatch>>,
    writing: Option<JoinHandle<Result<(), MagentoError>>>,
    path: PathBuf,
    rows: usize,
}

impl TableFile {
    /// Creates `dir/<table>.parquet` with `columns`.
    pub fn create(dir: &Path, table: &str, columns: &[Column]) -> Result<TableFile, MagentoError> {
        let path = dir.join(format!("{table}.parquet"));
        let fields: Vec<Field> = columns
            .iter()
            .map(|c| Field::new(c.name.as_ref(), c.kind.data_type(), true))
            .collect();
        let schema = Arc::new(Schema::new(fields));
        let file = File::create(&path).map_err(|e| MagentoError::output(&path, e))?;
        let properties = WriterProperties::builder()
            .set_compression(Compression::LZ4_RAW)
            .build();
        let mut writer = ArrowWriter::try_new(file, schema.clone(), Some(properties))
            .map_err(|e| MagentoError::output(&path, e))?;
        // Two batches in flight at most: memory stays a few batches whatever the table.
        let (batches, received) = sync_channel::<RecordBatch>(1);
        let written = path.clone();
        let writing = std::thread::spawn(move || {
            let failed = |e: &dyn std::fmt::Display| MagentoError::output(&written, e);
            for batch in received {
                writer.write(&batch).map_err(|e| failed(&e))?;
            }
            let file = writer.into_inner().map_err(|e| failed(&e))?;
            file.sync_all().map_err(|e| failed(&e))
        });
        Ok(TableFile {
            columns: columns.to_vec(),
            builders: columns.iter().map(|c| Builder::new(c.kind)).collect(),
            schema,
            batches: Some(batches),
            writing: Some(writing),
            path,
            rows: 0,
        })
    }

    /// The name of the first column (rows are named by it in errors).
    pub fn first_column(&self) -> &str {
        &self.columns[0].name
    }

    /// Appends a row: one value per column, in order. An error names the column and why
    /// (the import stops: what was pushed of the row does not matter).
    pub fn push(&mut self, values: &[Value]) -> Result<(), String> {
        assert_eq!(values.len(), self.columns.len(), "a value per column");
        for ((column, builder), value) in self.columns.iter().zip(&mut self.builders).zip(values) {
            builder
                .push(value)
                .map_err(|why| format!("column {}: {why}", column.name))?;
        }
        self.rows += 1;
        if self.rows.is_multiple_of(BATCH_ROWS) {
            self.write_batch().map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    fn write_batch(&mut self) -> Result<(), MagentoError> {
        let arrays: Vec<ArrayRef> = self.builders.iter_mut().map(|b| b.finish()).collect();
        let batch = RecordBatch::try_new(self.schema.clone(), arrays)
            .map_err(|e| MagentoError::output(&self.path, e))?;
        let sent = match &self.batches {
            Some(batches) if batch.num_rows() > 0 => batches.send(batch).is_ok(),
            _ => true,
        };
        match sent {
            true => Ok(()),
            // The writing thread stopped: its error.
            false => self.stop_writing(),
        }
    }

    /// Ends the writing thread once it wrote what it was sent; its outcome.
    fn stop_writing(&mut self) -> Result<(), MagentoError> {
        self.batches = None;
        match self.writing.take().map(JoinHandle::join) {
            Some(Ok(written)) => written,
            Some(Err(_)) => Err(MagentoError::output(
                &self.path,
                "the writing thread failed",
            )),
            None => Ok(()),
        }
    }

    /// Writes what is left and closes the file; the rows written.
    pub fn finish(mut self) -> Result<usize, MagentoError> {
        self.write_batch()?;
        self.stop_writing()?;
        Ok(self.rows)
    }
}

impl Drop for TableFile {
    /// An import that failed does not leave a thread writing into its directory.
    fn drop(&mut self) {
        let _ = self.stop_writing();
    }
}

fn integer(value: &Value) -> Result<i64, String> {
    match value {
        Value::Int(n) => Ok(*n),
        Value::UInt(n) => i64::try_from(*n).map_err(|_| format!("{n} is out of range")),
        Value::Bytes(text) => std::str::from_utf8(text)
            .ok()
            .and_then(|text| text.trim().parse().ok())
            .ok_or_else(|| format!("{:?} is not an integer", String::from_utf8_lossy(text))),
        other => Err(format!("{other:?} is not an integer")),
    }
}

fn decimal(value: &Value) -> Result<i128, String> {
    match value {
        Value::Bytes(bytes) => {
            let text = std::str::from_utf8(bytes).map_err(|_| "not a number".to_string())?;
            decimal_units(text).ok_or_else(|| {
                format!("{text:?} is not a decimal of at most 16 integer and 4 fraction digits")
            })
        }
        Value::Int(_) | Value::UInt(_) => Ok(i128::from(integer(value)?) * 10_000),
        other => Err(format!("{other:?} is not a decimal")),
    }
}

/// Borrowed when the value is text already (most are, and there are many).
fn text(value: &Value) -> Result<Cow<'_, str>, String> {
    match value {
        Value::Bytes(bytes) => std::str::from_utf8(bytes)
            .map(Cow::Borrowed)
            .map_err(|_| "not UTF-8 text".to_string()),
        Value::Int(n) => Ok(Cow::Owned(n.to_string())),
        Value::UInt(n) => Ok(Cow::Owned(n.to_string())),
        other => Err(format!("{other:?} is not text")),
    }
}

fn epoch_day() -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("a valid date")
}

/// A DATE, DATETIME or TIMESTAMP value; `None` for MySQL's zero date.
fn instant(value: &Value) -> Result<Option<chrono::NaiveDateTime>, String> {
    let Value::Date(year, month, day, hour, minute, second, micros) = *value else {
        return Err(format!("{value:?} is not a date"));
    };
    if year == 0 && month == 0 && day == 0 {
        return Ok(None);
    }
    chrono::NaiveDate::from_ymd_opt(year.into(), month.into(), day.into())
        .and_then(|date| date.and_hms_micro_opt(hour.into(), minute.into(), second.into(), micros))
        .map(Some)
        .ok_or_else(|| format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02}:{second:02} is not a valid date"))
}

/// `text` (`-12.34`, `5`, `0.5000`) in units of 1/10,000, if exact in decimal(20,4).
/// Read digit by digit: every amount of every order passes here.
pub fn decimal_units(text: &str) -> Option<i128> {
    let (negative, digits) = match text.as_bytes().split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text.as_bytes()),
    };
    let (whole, fraction) = match digits.iter().position(|&b| b == b'.') {
        Some(point) => (&digits[..point], &digits[point + 1..]),
        None => (digits, &[][..]),
    };
    if (whole.is_empty() && fraction.is_empty())
        || !whole.iter().chain(fraction).all(u8::is_ascii_digit)
    {
        return None;
    }
    let (kept, beyond) = fraction.split_at(fraction.len().min(4));
    if beyond.iter().any(|&b| b != b'0') {
        return None;
    }
    let leading_zeros = whole.iter().take_while(|&&b| b == b'0').count();
    let whole = &whole[leading_zeros..];
    if whole.len() > 16 {
        return None;
    }
    // At most 16 and 4 digits: each part fits 64 bits.
    let digit = |b: &u8| u64::from(b - b'0');
    let whole = whole.iter().fold(0, |units, b| units * 10 + digit(b));
    let fraction = (0..4).fold(0, |units, at| units * 10 + kept.get(at).map_or(0, digit));
    let units = i128::from(whole) * 10_000 + i128::from(fraction);
    Some(if negative { -units } else { units })
}
