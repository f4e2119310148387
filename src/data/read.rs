//! Reads one table file (CSV or Parquet) into typed columns, applying the row-level rules
//! (required values, parsable values). Key rules (duplicates, parents) need other tables
//! and are checked by the loader.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, NullArray, new_null_array};
use datafusion::arrow::compute::{CastOptions, cast, cast_with_options};
use datafusion::arrow::datatypes::Int64Type;
use datafusion::arrow::datatypes::{DataType, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use indicatif::ProgressBar;
use roaring::RoaringBitmap;

use super::columns::{ColumnBuilder, store_data_type};
use super::error::{DataError, EXAMPLES_PER_RULE, LoadError, Location, Rule, SkippedRows};
use super::value::{parse_bool, parse_date, parse_decimal, parse_int, parse_timestamp};
use crate::model::{FieldType, TableName, TableSpec};
use crate::store::Column;
use crate::store::{IdIndex, NONE};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Csv,
    Parquet,
}

/// The rows a table's problems rule out, or the first problem in strict mode.
#[derive(Debug)]
pub struct Problems {
    lenient: bool,
    file: String,
    pub bad_rows: RoaringBitmap,
    pub skipped: BTreeMap<Rule, SkippedRows>,
}

impl Problems {
    pub fn new(file: &str, lenient: bool) -> Self {
        Problems {
            lenient,
            file: file.to_string(),
            bad_rows: RoaringBitmap::new(),
            skipped: BTreeMap::new(),
        }
    }

    /// Records that `row` breaks `rule`. Strict: the error. Lenient: the row is skipped.
    pub fn report(
        &mut self,
        row: usize,
        location: Location,
        column: &str,
        rule: Rule,
        reason: String,
    ) -> Result<(), DataError> {
        let error = DataError {
            file: self.file.clone(),
            location,
            column: column.to_string(),
            rule,
            reason,
        };
        if !self.lenient {
            return Err(error);
        }
        if self.bad_rows.insert(row as u32) {
            let skipped = self.skipped.entry(rule).or_default();
            skipped.count += 1;
            if skipped.examples.len() < EXAMPLES_PER_RULE {
                skipped.examples.push(error);
            }
        }
        Ok(())
    }

    pub fn file_error(&self, column: &str, rule: Rule, reason: String) -> DataError {
        DataError {
            file: self.file.clone(),
            location: Location::File,
            column: column.to_string(),
            rule,
            reason,
        }
    }
}

/// The parent an id column is resolved against while it is read: the column is kept as
/// the parent's row numbers, never as ids.
#[derive(Clone, Copy)]
pub struct Parent<'a> {
    pub column: &'static str,
    pub index: &'a IdIndex,
    pub file: &'a str,
}

/// An id column resolved to parent rows as it is read (`NONE` for null or missing).
struct LinkBuilder<'a> {
    parent: Parent<'a>,
    rows: Vec<u32>,
}

impl LinkBuilder<'_> {
    fn push_id(&mut self, id: i64) -> Result<(), (Rule, String)> {
        match self.parent.index.get(id) {
            Some(row) => {
                self.rows.push(row);
                Ok(())
            }
            None => {
                self.rows.push(NONE);
                let reason = format!("{} {id} is not in {}", self.parent.column, self.parent.file);
                Err((Rule::MissingParent, reason))
            }
        }
    }

    fn push_text(&mut self, text: &str) -> Result<(), (Rule, String)> {
        match parse_int(text) {
            Ok(id) => self.push_id(id),
            Err(reason) => {
                self.rows.push(NONE);
                Err((Rule::Unparsable, reason))
            }
        }
    }

    fn append_array(
        &mut self,
        array: &ArrayRef,
        on_bad: &mut dyn FnMut(usize, Rule, String),
    ) -> Result<(), String> {
        let strict = CastOptions {
            safe: false,
            ..Default::default()
        };
        let ids: Vec<Option<Result<i64, String>>> = match array.data_type() {
            t if t.is_integer() => {
                let ids = cast_with_options(array, &DataType::Int64, &strict)
                    .map_err(|e| e.to_string())?;
                ids.as_primitive::<Int64Type>()
                    .iter()
                    .map(|v| v.map(Ok))
                    .collect()
            }
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
                let text = cast(array, &DataType::Utf8).map_err(|e| e.to_string())?;
                text.as_string::<i32>()
                    .iter()
                    .map(|v| v.map(parse_int))
                    .collect()
            }
            other => return Err(format!("a Parquet column of type {other} cannot hold ids")),
        };
        for (row, id) in ids.into_iter().enumerate() {
            let result = match id {
                None => {
                    self.rows.push(NONE);
                    Ok(())
                }
                Some(Ok(id)) => self.push_id(id),
                Some(Err(reason)) => {
                    self.rows.push(NONE);
                    Err((Rule::Unparsable, reason))
                }
            };
            if let Err((rule, reason)) = result {
                on_bad(row, rule, reason);
            }
        }
        Ok(())
    }
}

/// Where one planned column goes: typed values, or parent rows.
enum Target<'a> {
    Values(ColumnBuilder),
    Link(LinkBuilder<'a>),
}

impl Target<'_> {
    fn new<'a>(plan: &Plan, rows: usize, parents: &[Parent<'a>]) -> Target<'a> {
        match parents
            .iter()
            .find(|p| p.column == plan.name && plan.source.is_some())
        {
            Some(parent) => Target::Link(LinkBuilder {
                parent: *parent,
                rows: Vec::with_capacity(rows),
            }),
            None => Target::Values(ColumnBuilder::with_capacity(
                plan.ty,
                if plan.source.is_some() { rows } else { 0 },
            )),
        }
    }

    fn push_null(&mut self) {
        match self {
            Target::Values(b) => b.push_null(),
            Target::Link(l) => l.rows.push(NONE),
        }
    }

    /// One CSV cell (an empty cell is null).
    fn push_cell(&mut self, text: &str) -> Result<(), (Rule, String)> {
        if text.is_empty() {
            self.push_null();
            return Ok(());
        }
        match self {
            Target::Values(b) => b.push_text(text).map_err(|reason| {
                b.push_null();
                (Rule::Unparsable, reason)
            }),
            Target::Link(l) => l.push_text(text),
        }
    }

    fn append_array(
        &mut self,
        array: &ArrayRef,
        on_bad: &mut dyn FnMut(usize, Rule, String),
    ) -> Result<(), String> {
        match self {
            Target::Values(b) => b.append_array(array, &mut |row, reason| {
                on_bad(row, Rule::Unparsable, reason)
            }),
            Target::Link(l) => l.append_array(array, on_bad),
        }
    }
}

/// One table as read from its file, before keys are checked.
pub struct RawTable {
    pub name: TableName,
    pub path: PathBuf,
    /// Known columns in spec order (absent ones all null), then custom columns.
    pub columns: Vec<Column>,
    pub rows: usize,
    /// The CSV line of each row (Parquet rows are numbered from 1).
    lines: Option<Vec<u64>>,
    pub problems: Problems,
    /// Id columns resolved while reading: the parent row of each row (`NONE` for null).
    /// Their place in `columns` holds an all-null placeholder.
    pub links: BTreeMap<String, Vec<u32>>,
}

impl RawTable {
    pub fn location(&self, row: usize) -> Location {
        match &self.lines {
            Some(lines) => Location::Line(lines[row]),
            None => Location::Row(row as u64 + 1),
        }
    }

    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    pub fn report(
        &mut self,
        row: usize,
        column: &str,
        rule: Rule,
        reason: String,
    ) -> Result<(), DataError> {
        let location = self.location(row);
        self.problems.report(row, location, column, rule, reason)
    }

    /// An empty table (the file is absent).
    pub fn empty(name: TableName, dir: &Path) -> RawTable {
        let spec = name.spec();
        RawTable {
            name,
            path: dir.join(format!("{}.csv", name.file_stem())),
            columns: spec
                .columns
                .iter()
                .map(|c| Column {
                    name: c.name.to_string(),
                    ty: c.ty,
                    custom: false,
                    array: new_null_array(&store_data_type(c.ty), 0),
                })
                .collect(),
            rows: 0,
            lines: None,
            problems: Problems::new(name.file_stem(), false),
            links: BTreeMap::new(),
        }
    }
}

/// Which file holds a table: Parquet wins over CSV.
pub fn find_table_file(dir: &Path, name: TableName) -> Option<(PathBuf, Format)> {
    let parquet = dir.join(format!("{}.parquet", name.file_stem()));
    if parquet.is_file() {
        return Some((parquet, Format::Parquet));
    }
    let csv = dir.join(format!("{}.csv", name.file_stem()));
    csv.is_file().then_some((csv, Format::Csv))
}

pub fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// A column to fill: its spec (or custom type) and its place in the file.
struct Plan {
    name: String,
    ty: FieldType,
    required: bool,
    custom: bool,
    source: Option<usize>,
}

/// The columns to build from a file's header: every spec column (missing required ones are
/// an error), then the file's other columns as custom attributes.
fn plan_columns(
    spec: &TableSpec,
    header: &[String],
    problems: &Problems,
    custom_type: &mut dyn FnMut(usize) -> Result<FieldType, DataError>,
) -> Result<Vec<Plan>, DataError> {
    for (i, name) in header.iter().enumerate() {
        if header[..i].contains(name) {
            return Err(problems.file_error(
                name,
                Rule::Unparsable,
                "the column appears twice in the header".into(),
            ));
        }
    }
    let mut plans = Vec::new();
    for col in spec.columns {
        let source = header.iter().position(|h| h == col.name);
        if source.is_none() && col.required {
            return Err(problems.file_error(
                col.name,
                Rule::MissingColumn,
                format!(
                    "required column is missing (the {} table needs it)",
                    spec.table
                ),
            ));
        }
        plans.push(Plan {
            name: col.name.into(),
            ty: col.ty,
            required: col.required,
            custom: false,
            source,
        });
    }
    for (i, name) in header.iter().enumerate() {
        if spec.column(name).is_none() {
            if name.is_empty() {
                return Err(problems.file_error(
                    "(unnamed)",
                    Rule::Unparsable,
                    format!("header field {} has no name", i + 1),
                ));
            }
            plans.push(Plan {
                name: name.clone(),
                ty: custom_type(i)?,
                required: false,
                custom: true,
                source: Some(i),
            });
        }
    }
    Ok(plans)
}

fn finish_columns(
    plans: Vec<Plan>,
    targets: Vec<Target<'_>>,
    rows: usize,
) -> (Vec<Column>, BTreeMap<String, Vec<u32>>) {
    let mut links = BTreeMap::new();
    let columns = plans
        .into_iter()
        .zip(targets)
        .map(|(plan, target)| Column {
            array: match target {
                Target::Link(link) => {
                    links.insert(plan.name.clone(), link.rows);
                    Arc::new(NullArray::new(rows)) as ArrayRef
                }
                Target::Values(builder) if plan.source.is_some() => builder.finish(),
                // An absent column is all null and costs no memory; absent ids stay Int64
                // for the key checks.
                Target::Values(_) if plan.ty == FieldType::Id => {
                    new_null_array(&store_data_type(plan.ty), rows)
                }
                Target::Values(_) => Arc::new(NullArray::new(rows)),
            },
            name: plan.name,
            ty: plan.ty,
            custom: plan.custom,
        })
        .collect();
    (columns, links)
}

pub fn read_table(
    name: TableName,
    path: &Path,
    format: Format,
    lenient: bool,
    parents: &[Parent<'_>],
    progress: &ProgressBar,
) -> Result<RawTable, LoadError> {
    match format {
        Format::Csv => read_csv(name, path, lenient, parents, progress),
        Format::Parquet => read_parquet(name, path, lenient, parents, progress),
    }
}

fn csv_reader(path: &Path) -> Result<csv::Reader<BufReader<File>>, LoadError> {
    let file = File::open(path).map_err(|e| LoadError::file(path, e))?;
    Ok(csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(BufReader::with_capacity(1 << 20, file)))
}

fn csv_header(
    reader: &mut csv::Reader<BufReader<File>>,
    path: &Path,
) -> Result<Vec<String>, LoadError> {
    let header = reader
        .headers()
        .map_err(|e| LoadError::file(path, format!("cannot read the header: {e}")))?;
    Ok(header
        .iter()
        .enumerate()
        .map(|(i, h)| {
            if i == 0 {
                h.trim_start_matches('\u{feff}')
            } else {
                h
            }
            .to_string()
        })
        .collect())
}

/// CSV custom attribute types: the first of int, decimal, bool, date, timestamp that every
/// non-empty cell parses as; else string.
fn infer_csv_types(path: &Path, columns: &[usize]) -> Result<Vec<FieldType>, LoadError> {
    const CANDIDATES: [FieldType; 5] = [
        FieldType::Int,
        FieldType::Decimal,
        FieldType::Bool,
        FieldType::Date,
        FieldType::Timestamp,
    ];
    let fits = |ty: FieldType, text: &str| match ty {
        FieldType::Int => parse_int(text).is_ok(),
        FieldType::Decimal => parse_decimal(text).is_ok(),
        FieldType::Bool => parse_bool(text).is_ok(),
        FieldType::Date => parse_date(text).is_ok(),
        FieldType::Timestamp => parse_timestamp(text).is_ok(),
        _ => false,
    };
    let mut possible = vec![[true; 5]; columns.len()];
    let mut seen = vec![false; columns.len()];
    let mut reader = csv_reader(path)?;
    let mut record = csv::StringRecord::new();
    while reader
        .read_record(&mut record)
        .map_err(|e| LoadError::file(path, e))?
    {
        for (k, &col) in columns.iter().enumerate() {
            let Some(text) = record.get(col).filter(|t| !t.is_empty()) else {
                continue;
            };
            seen[k] = true;
            for (c, ty) in CANDIDATES.iter().enumerate() {
                possible[k][c] &= fits(*ty, text);
            }
        }
    }
    Ok(possible
        .iter()
        .zip(seen)
        .map(|(p, seen)| match (seen, p.iter().position(|&ok| ok)) {
            (true, Some(c)) => CANDIDATES[c],
            _ => FieldType::String,
        })
        .collect())
}

fn read_csv(
    name: TableName,
    path: &Path,
    lenient: bool,
    parents: &[Parent<'_>],
    progress: &ProgressBar,
) -> Result<RawTable, LoadError> {
    let spec = name.spec();
    let mut problems = Problems::new(&file_name(path), lenient);
    let mut reader = csv_reader(path)?;
    let header = csv_header(&mut reader, path)?;
    let custom: Vec<usize> = (0..header.len())
        .filter(|&i| spec.column(&header[i]).is_none())
        .collect();
    let inferred = if custom.is_empty() {
        Vec::new()
    } else {
        infer_csv_types(path, &custom)?
    };
    let plans = plan_columns(spec, &header, &problems, &mut |i| {
        Ok(inferred[custom.iter().position(|&c| c == i).expect("custom column")])
    })?;
    let mut targets: Vec<Target> = plans.iter().map(|p| Target::new(p, 0, parents)).collect();
    let mut lines = Vec::new();
    let mut record = csv::StringRecord::new();
    let mut last_byte = 0;
    loop {
        match reader.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(LoadError::file(path, e)),
        }
        let row = lines.len();
        let line = record.position().map_or(row as u64 + 2, |p| p.line());
        lines.push(line);
        let byte = record.position().map_or(0, |p| p.byte());
        if byte - last_byte > 1 << 20 {
            progress.inc(byte - last_byte);
            last_byte = byte;
        }
        if record.len() != header.len() {
            let reason = format!(
                "the row has {} fields, the header has {}",
                record.len(),
                header.len()
            );
            targets.iter_mut().for_each(Target::push_null);
            problems.report(row, Location::Line(line), "(row)", Rule::Unparsable, reason)?;
            continue;
        }
        for (plan, target) in plans.iter().zip(targets.iter_mut()) {
            let Some(source) = plan.source else { continue };
            let text = &record[source];
            if text.is_empty() && plan.required {
                target.push_null();
                let reason = "required value is empty".to_string();
                problems.report(
                    row,
                    Location::Line(line),
                    &plan.name,
                    Rule::NullRequired,
                    reason,
                )?;
            } else if let Err((rule, reason)) = target.push_cell(text) {
                problems.report(row, Location::Line(line), &plan.name, rule, reason)?;
            }
        }
    }
    let rows = lines.len();
    progress.inc(
        std::fs::metadata(path)
            .map_or(0, |m| m.len())
            .saturating_sub(last_byte),
    );
    let (columns, links) = finish_columns(plans, targets, rows);
    Ok(RawTable {
        name,
        path: path.to_path_buf(),
        columns,
        rows,
        lines: Some(lines),
        problems,
        links,
    })
}

/// The field type a Parquet column of a custom attribute stands for.
fn custom_type_of(data_type: &DataType) -> Option<FieldType> {
    Some(match data_type {
        t if t.is_integer() => FieldType::Int,
        DataType::Decimal128(..) | DataType::Float32 | DataType::Float64 => FieldType::Decimal,
        DataType::Boolean => FieldType::Bool,
        DataType::Date32 | DataType::Date64 => FieldType::Date,
        DataType::Timestamp(..) => FieldType::Timestamp,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => FieldType::String,
        DataType::Dictionary(_, v)
            if matches!(v.as_ref(), DataType::Utf8 | DataType::LargeUtf8) =>
        {
            FieldType::String
        }
        DataType::List(f) | DataType::LargeList(f) if f.data_type().is_integer() => {
            FieldType::IdList
        }
        _ => return None,
    })
}

fn read_parquet(
    name: TableName,
    path: &Path,
    lenient: bool,
    parents: &[Parent<'_>],
    progress: &ProgressBar,
) -> Result<RawTable, LoadError> {
    let builder = super::parquet_file::open(path)?.with_batch_size(64 * 1024);
    let schema = builder.schema().clone();
    let total_bytes: u64 = builder
        .metadata()
        .row_groups()
        .iter()
        .map(|g| g.compressed_size() as u64)
        .sum();
    let total_rows = builder.metadata().file_metadata().num_rows().max(0) as u64;
    let reader = builder.build().map_err(|e| LoadError::file(path, e))?;
    let batches = super::parquet_file::unpanicked(reader, path).map(|batch| {
        let batch = batch?;
        progress.inc(total_bytes * batch.num_rows() as u64 / total_rows.max(1));
        Ok(batch)
    });
    let rows_in_file = usize::try_from(total_rows).unwrap_or(0);
    read_batches(name, path, &schema, rows_in_file, batches, lenient, parents)
}

/// Reads a table from Arrow record batches of `schema` (a Parquet file's, or tables built
/// in memory when events are applied). `path` names the source in errors.
pub fn read_batches(
    name: TableName,
    path: &Path,
    schema: &Schema,
    rows_expected: usize,
    batches: impl Iterator<Item = Result<RecordBatch, LoadError>>,
    lenient: bool,
    parents: &[Parent<'_>],
) -> Result<RawTable, LoadError> {
    let spec = name.spec();
    let mut problems = Problems::new(&file_name(path), lenient);
    let header: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    let plans = plan_columns(spec, &header, &problems, &mut |i| {
        let field = schema.field(i);
        custom_type_of(field.data_type()).ok_or_else(|| {
            problems.file_error(
                field.name(),
                Rule::Unparsable,
                format!(
                    "a custom attribute of Parquet type {} is not supported",
                    field.data_type()
                ),
            )
        })
    })?;
    let mut targets: Vec<Target> = plans
        .iter()
        .map(|p| Target::new(p, rows_expected, parents))
        .collect();
    let mut rows = 0usize;
    for batch in batches {
        let batch = batch?;
        for (plan, target) in plans.iter().zip(targets.iter_mut()) {
            let Some(source) = plan.source else { continue };
            let array: &ArrayRef = batch.column(source);
            let mut bad = Vec::new();
            target
                .append_array(array, &mut |row, rule, reason| {
                    bad.push((row, rule, reason))
                })
                .map_err(|reason| {
                    problems.file_error(
                        &plan.name,
                        Rule::Unparsable,
                        format!("{reason} (a {} column)", plan.ty),
                    )
                })?;
            for (row, rule, reason) in bad {
                problems.report(
                    rows + row,
                    Location::Row((rows + row) as u64 + 1),
                    &plan.name,
                    rule,
                    reason,
                )?;
            }
            if plan.required && array.logical_null_count() > 0 {
                let nulls = array.logical_nulls().expect("has nulls");
                for row in (0..array.len()).filter(|&r| nulls.is_null(r)) {
                    problems.report(
                        rows + row,
                        Location::Row((rows + row) as u64 + 1),
                        &plan.name,
                        Rule::NullRequired,
                        "required value is null".into(),
                    )?;
                }
            }
        }
        rows += batch.num_rows();
    }
    let (columns, links) = finish_columns(plans, targets, rows);
    Ok(RawTable {
        name,
        path: path.to_path_buf(),
        columns,
        rows,
        lines: None,
        problems,
        links,
    })
}
