//! Member reports: each member with the columns of Magento's customer segment report,
//! pages by cursor, and CSV / XLSX exports written a batch at a time, so an export of
//! millions of members never holds more than one batch of rows in memory.

use std::collections::BTreeSet;
use std::sync::Arc;

use roaring::RoaringBitmap;
use serde::Serialize;

use super::SubjectId;
use crate::data::value::format_timestamp;
use crate::events::{Layouts, SubjectRows, Value};
use crate::live::delta::{Delta, Subjects};
use crate::model::TableName;
use crate::segment::rows::ColumnReader;
use crate::store::{Dataset, Ints, Table};

/// The export columns: Magento's report columns, then `visitor_id` for visitors.
pub const COLUMNS: [&str; 10] = [
    "customer_id",
    "name",
    "email",
    "group_id",
    "telephone",
    "postcode",
    "country_id",
    "region",
    "customer_since",
    "visitor_id",
];

/// Members in one CSV chunk of a streamed export.
const CSV_BATCH: usize = 4096;

/// One member of a report. Address columns come from the default billing address.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum MemberRow {
    Customer(CustomerRow),
    Visitor { visitor_id: i64 },
}

#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CustomerRow {
    pub customer_id: i64,
    pub name: Option<String>,
    pub email: Option<String>,
    pub group_id: Option<i64>,
    pub telephone: Option<String>,
    pub postcode: Option<String>,
    pub country_id: Option<String>,
    pub region: Option<String>,
    pub customer_since: Option<String>,
}

/// A text cell as exports write it: one a spreadsheet would read as a formula (it starts
/// with `=`, `+`, `-`, `@`, a tab or a carriage return) gets a leading `'`, as OWASP
/// advises against formula injection (a customer named `=HYPERLINK(...)`).
pub fn spreadsheet_text(text: &str) -> std::borrow::Cow<'_, str> {
    match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{text}").into(),
        _ => text.into(),
    }
}

impl MemberRow {
    /// The row's cells in [`COLUMNS`] order, empty where there is no value; text
    /// neutralised for spreadsheets ([`spreadsheet_text`]).
    pub fn cells(&self) -> [String; 10] {
        let text = |v: &Option<String>| {
            v.as_deref()
                .map(|t| spreadsheet_text(t).into_owned())
                .unwrap_or_default()
        };
        match self {
            MemberRow::Customer(c) => [
                c.customer_id.to_string(),
                text(&c.name),
                text(&c.email),
                c.group_id.map(|g| g.to_string()).unwrap_or_default(),
                text(&c.telephone),
                text(&c.postcode),
                text(&c.country_id),
                text(&c.region),
                text(&c.customer_since),
                String::new(),
            ],
            MemberRow::Visitor { visitor_id } => {
                let mut cells: [String; 10] = Default::default();
                cells[9] = visitor_id.to_string();
                cells
            }
        }
    }
}

/// Reads report rows for subjects of one dataset.
pub struct MemberReader<'a> {
    dataset: &'a Dataset,
    customer_ids: Ints<'a>,
    firstname: Option<ColumnReader<'a>>,
    lastname: Option<ColumnReader<'a>>,
    email: Option<ColumnReader<'a>>,
    group_id: Option<ColumnReader<'a>>,
    created_at: Option<ColumnReader<'a>>,
    is_default_billing: Option<ColumnReader<'a>>,
    telephone: Option<ColumnReader<'a>>,
    postcode: Option<ColumnReader<'a>>,
    country_id: Option<ColumnReader<'a>>,
    region: Option<ColumnReader<'a>>,
}

fn reader<'a>(table: &'a Table, column: &str) -> Option<ColumnReader<'a>> {
    table.column(column).map(ColumnReader::new)
}

impl<'a> MemberReader<'a> {
    pub fn new(dataset: &'a Dataset) -> MemberReader<'a> {
        let customers = &dataset.customers;
        let addresses = &dataset.addresses.table;
        MemberReader {
            dataset,
            customer_ids: dataset.customer_ids(),
            firstname: reader(customers, "firstname"),
            lastname: reader(customers, "lastname"),
            email: reader(customers, "email"),
            group_id: reader(customers, "group_id"),
            created_at: reader(customers, "created_at"),
            is_default_billing: reader(addresses, "is_default_billing"),
            telephone: reader(addresses, "telephone"),
            postcode: reader(addresses, "postcode"),
            country_id: reader(addresses, "country_id"),
            region: reader(addresses, "region"),
        }
    }

    pub fn row(&self, subject: u32) -> MemberRow {
        let customers = self.dataset.customer_count();
        let subject = subject as usize;
        if subject >= customers {
            return MemberRow::Visitor {
                visitor_id: self.dataset.visitor_ids[subject - customers],
            };
        }
        let text = |column: &Option<ColumnReader<'a>>, row: usize| {
            column
                .as_ref()
                .and_then(|c| c.text(row))
                .map(str::to_string)
        };
        let number = |column: &Option<ColumnReader<'a>>, row: usize| {
            column.as_ref().and_then(|c| c.number(row))
        };
        let name_parts: Vec<String> = [
            text(&self.firstname, subject),
            text(&self.lastname, subject),
        ]
        .into_iter()
        .flatten()
        .filter(|part| !part.is_empty())
        .collect();
        let billing = self.default_billing(subject);
        let address = |column: &Option<ColumnReader<'a>>| billing.and_then(|row| text(column, row));
        MemberRow::Customer(CustomerRow {
            customer_id: self.customer_ids.value(subject),
            name: (!name_parts.is_empty()).then(|| name_parts.join(" ")),
            email: text(&self.email, subject),
            group_id: number(&self.group_id, subject),
            telephone: address(&self.telephone),
            postcode: address(&self.postcode),
            country_id: address(&self.country_id),
            region: address(&self.region),
            customer_since: number(&self.created_at, subject).map(format_timestamp),
        })
    }

    fn default_billing(&self, customer: usize) -> Option<usize> {
        loaded_default_billing(self.dataset, self.is_default_billing.as_ref()?, customer)
    }
}

/// A customer's billing address as reports and breakdowns read it: the first of its
/// loaded address rows marked default billing (`flag` reads `is_default_billing`).
pub(super) fn loaded_default_billing(
    dataset: &Dataset,
    flag: &ColumnReader,
    customer: usize,
) -> Option<usize> {
    dataset
        .addresses
        .groups
        .rows_of(customer)
        .find(|&row| flag.number(row) == Some(1))
}

/// The same address among a customer's rows as events left them.
pub(super) fn default_billing_now<'r>(
    rows: &'r SubjectRows,
    layouts: &Layouts,
) -> Option<&'r Vec<Value>> {
    let flag = layouts.position(TableName::Addresses, "is_default_billing")?;
    rows.rows(TableName::Addresses)
        .iter()
        .find(|row| row[flag].number() == Some(1))
}

/// Where member rows come from: the loaded data, and for the subjects events touched
/// since, their rows now (so a changed name or address shows at once).
#[derive(Clone)]
pub struct MemberSource {
    pub dataset: Arc<Dataset>,
    /// What events changed since `dataset` was loaded.
    pub delta: Delta,
    /// The columns of the rows events changed.
    pub layouts: Arc<Layouts>,
}

/// Row readers over a [`MemberSource`].
pub struct MemberReaders<'a> {
    subjects: Subjects<'a>,
    base: MemberReader<'a>,
    delta: &'a Delta,
    layouts: &'a Layouts,
    /// The tables a report row reads.
    tables: BTreeSet<TableName>,
}

impl MemberSource {
    pub fn subjects(&self) -> Subjects<'_> {
        Subjects {
            base: &self.dataset,
            added: &self.delta.added,
        }
    }

    pub fn readers(&self) -> MemberReaders<'_> {
        MemberReaders {
            subjects: self.subjects(),
            base: MemberReader::new(&self.dataset),
            delta: &self.delta,
            layouts: &self.layouts,
            tables: BTreeSet::from([TableName::Customers, TableName::Addresses]),
        }
    }
}

impl MemberReaders<'_> {
    pub fn row(&self, subject: u32) -> MemberRow {
        let base = self.subjects.base;
        let now = self
            .delta
            .rows_now(base, self.layouts, subject, Some(&self.tables));
        match (now, self.subjects.id(subject)) {
            (Some(rows), SubjectId::Customer(customer_id)) => {
                customer_row_of(&rows, self.layouts, customer_id)
            }
            (None, _)
                if (subject as usize)
                    < self.subjects.base.customer_count() + self.subjects.base.visitor_count() =>
            {
                self.base.row(subject)
            }
            (_, SubjectId::Customer(customer_id)) => {
                customer_row_of(&SubjectRows::default(), self.layouts, customer_id)
            }
            (_, SubjectId::Visitor(visitor_id)) => MemberRow::Visitor { visitor_id },
        }
    }
}

/// A customer's report row from its rows as events left them.
fn customer_row_of(rows: &SubjectRows, layouts: &Layouts, customer_id: i64) -> MemberRow {
    let customer = rows.rows(TableName::Customers).first();
    let value = |table: TableName, row: Option<&Vec<crate::events::Value>>, column: &str| {
        let position = layouts.position(table, column)?;
        Some(row?[position].clone())
    };
    let text =
        |table, row, column| value(table, row, column).and_then(|v| v.text().map(str::to_string));
    let name_parts: Vec<String> = ["firstname", "lastname"]
        .into_iter()
        .filter_map(|column| text(TableName::Customers, customer, column))
        .filter(|part| !part.is_empty())
        .collect();
    let billing = default_billing_now(rows, layouts);
    let address = |column| text(TableName::Addresses, billing, column);
    MemberRow::Customer(CustomerRow {
        customer_id,
        name: (!name_parts.is_empty()).then(|| name_parts.join(" ")),
        email: text(TableName::Customers, customer, "email"),
        group_id: value(TableName::Customers, customer, "group_id").and_then(|v| v.number()),
        telephone: address("telephone"),
        postcode: address("postcode"),
        country_id: address("country_id"),
        region: address("region"),
        customer_since: value(TableName::Customers, customer, "created_at")
            .and_then(|v| v.number())
            .map(format_timestamp),
    })
}

/// Where a page of members starts: after this member.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cursor {
    Customer(i64),
    Visitor(i64),
}

impl Cursor {
    /// `c:<customer_id>`, `v:<visitor_id>`, or a bare customer id.
    pub fn parse(text: &str) -> Result<Cursor, String> {
        let bad = || {
            format!(
                "{text:?} is not a member cursor: use the \"next\" of the previous page, c:<customer_id> or v:<visitor_id>"
            )
        };
        let (kind, id) = match text.split_once(':') {
            Some((kind, id)) => (kind, id),
            None => ("c", text),
        };
        let id: i64 = id.parse().map_err(|_| bad())?;
        match kind {
            "c" => Ok(Cursor::Customer(id)),
            "v" => Ok(Cursor::Visitor(id)),
            _ => Err(bad()),
        }
    }

    /// The cursor that continues after `subject`.
    pub fn after(subjects: Subjects, subject: u32) -> Cursor {
        match subjects.id(subject) {
            SubjectId::Customer(id) => Cursor::Customer(id),
            SubjectId::Visitor(id) => Cursor::Visitor(id),
        }
    }

    /// The first subject id after the cursor. Ids need not exist: the cursor is a place
    /// in the order, so paging goes on past a member that has since left. Members come
    /// in customer id order, then visitor id order, then the subjects events added since
    /// the data was loaded, in the order they came.
    pub fn first_subject(&self, subjects: Subjects) -> u32 {
        let added = match *self {
            Cursor::Customer(id) => subjects.added.get(SubjectId::Customer(id)),
            Cursor::Visitor(id) => subjects.added.get(SubjectId::Visitor(id)),
        };
        if let Some(dense) = added {
            return dense.saturating_add(1);
        }
        let dataset = subjects.base;
        let customers = dataset.customer_count();
        match *self {
            Cursor::Customer(id) => {
                let ids = dataset.customer_ids();
                ids.lower_bound(id.saturating_add(1)) as u32
            }
            Cursor::Visitor(id) => {
                (customers + dataset.visitor_ids.partition_point(|&v| v <= id)) as u32
            }
        }
    }
}

impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cursor::Customer(id) => write!(f, "c:{id}"),
            Cursor::Visitor(id) => write!(f, "v:{id}"),
        }
    }
}

/// One page of members and the cursor of the next, if more follow.
#[derive(Clone, Debug)]
pub struct Page {
    pub rows: Vec<MemberRow>,
    pub next: Option<Cursor>,
}

pub fn page(
    source: &MemberSource,
    members: &RoaringBitmap,
    after: Option<Cursor>,
    limit: usize,
) -> Page {
    let start = after.map_or(0, |c| c.first_subject(source.subjects()));
    let reader = source.readers();
    let mut subjects = members.range(start..);
    let chosen: Vec<u32> = subjects.by_ref().take(limit).collect();
    let more = subjects.next().is_some();
    Page {
        rows: chosen.iter().map(|&s| reader.row(s)).collect(),
        next: chosen
            .last()
            .filter(|_| more)
            .map(|&s| Cursor::after(source.subjects(), s)),
    }
}

/// A CSV export of members, produced a batch of rows at a time.
pub struct CsvExport {
    source: MemberSource,
    members: Arc<RoaringBitmap>,
    /// The next subject to write, `None` once done.
    next: Option<u32>,
    remaining: u64,
    header: bool,
}

impl CsvExport {
    pub fn new(
        source: MemberSource,
        members: Arc<RoaringBitmap>,
        after: Option<Cursor>,
        limit: Option<u64>,
    ) -> CsvExport {
        let next = Some(after.map_or(0, |c| c.first_subject(source.subjects())));
        CsvExport {
            source,
            members,
            next,
            remaining: limit.unwrap_or(u64::MAX),
            header: true,
        }
    }
}

impl Iterator for CsvExport {
    type Item = std::io::Result<Vec<u8>>;

    /// The next chunk of CSV text (the header first).
    fn next(&mut self) -> Option<std::io::Result<Vec<u8>>> {
        let mut out = csv::Writer::from_writer(Vec::new());
        if std::mem::take(&mut self.header) {
            if let Err(e) = out.write_record(COLUMNS) {
                return Some(Err(e.into()));
            }
        } else {
            let start = self.next?;
            let reader = self.source.readers();
            let batch = CSV_BATCH.min(self.remaining.min(usize::MAX as u64) as usize);
            let mut last = None;
            for subject in self.members.range(start..).take(batch) {
                if let Err(e) = out.write_record(reader.row(subject).cells()) {
                    // A cut-short stream, never a file that looks whole.
                    self.next = None;
                    return Some(Err(e.into()));
                }
                last = Some(subject);
            }
            let last = last?;
            self.remaining -= batch as u64;
            self.next = (self.remaining > 0 && last < u32::MAX).then(|| last + 1);
        }
        Some(out.into_inner().map_err(|e| e.into_error()))
    }
}

/// Rows of an XLSX worksheet, the header included: past it, members go on to a new sheet.
pub const XLSX_MAX_ROWS: u32 = 1_048_576;

/// Where and how to write an XLSX export.
pub struct XlsxSheets<'a> {
    pub name: &'a str,
    /// Rows per sheet, the header included (at most [`XLSX_MAX_ROWS`]).
    pub rows: u32,
}

/// Writes members as an XLSX workbook to `out` as it is made: rows go a row at a time to
/// temporary files (rust_xlsxwriter's constant-memory mode) and the zip streams out, so
/// memory does not grow with the members. Past a sheet's rows (1,048,575 members at
/// most) the export goes on in a sheet named `<name> 2`, and so on.
pub fn write_xlsx(
    source: &MemberSource,
    members: &RoaringBitmap,
    after: Option<Cursor>,
    limit: Option<u64>,
    sheets: &XlsxSheets,
    out: impl std::io::Write + Send,
) -> Result<u64, rust_xlsxwriter::XlsxError> {
    let (sheet_name, rows_per_sheet) = (sheets.name, sheets.rows.clamp(2, XLSX_MAX_ROWS));
    let mut workbook = rust_xlsxwriter::Workbook::new();
    let reader = source.readers();
    let start = after.map_or(0, |c| c.first_subject(source.subjects()));
    let limit = limit.unwrap_or(u64::MAX).min(usize::MAX as u64) as usize;
    let mut written = 0u64;
    let mut sheets = 0;
    let mut row = 1;
    let mut add_sheet = |workbook: &mut rust_xlsxwriter::Workbook| {
        sheets += 1;
        let sheet = workbook.add_worksheet_with_constant_memory()?;
        sheet.set_name(if sheets == 1 {
            sheet_name.to_string()
        } else {
            format!("{sheet_name} {sheets}")
        })?;
        for (col, name) in COLUMNS.iter().enumerate() {
            sheet.write_string(0, col as u16, *name)?;
        }
        Ok::<usize, rust_xlsxwriter::XlsxError>(sheets - 1)
    };
    let mut current = add_sheet(&mut workbook)?;
    for subject in members.range(start..).take(limit) {
        if row == rows_per_sheet {
            current = add_sheet(&mut workbook)?;
            row = 1;
        }
        let sheet = workbook.worksheet_from_index(current)?;
        write_xlsx_row(sheet, row, &reader.row(subject))?;
        row += 1;
        written += 1;
    }
    workbook.save_to_writer(out)?;
    Ok(written)
}

fn write_xlsx_row(
    sheet: &mut rust_xlsxwriter::Worksheet,
    row: u32,
    member: &MemberRow,
) -> Result<(), rust_xlsxwriter::XlsxError> {
    // Spreadsheets hold numbers as doubles: ids past 2^53 are written as text, exactly.
    let mut id = |col: u16, value: i64| {
        if value.unsigned_abs() < 1 << 53 {
            sheet.write_number(row, col, value as f64).map(|_| ())
        } else {
            sheet.write_string(row, col, value.to_string()).map(|_| ())
        }
    };
    match member {
        MemberRow::Customer(c) => {
            id(0, c.customer_id)?;
            if let Some(group) = c.group_id {
                id(3, group)?;
            }
            let texts = [
                (1, &c.name),
                (2, &c.email),
                (4, &c.telephone),
                (5, &c.postcode),
                (6, &c.country_id),
                (7, &c.region),
                (8, &c.customer_since),
            ];
            for (col, value) in texts {
                if let Some(value) = value {
                    sheet.write_string(row, col, spreadsheet_text(value))?;
                }
            }
        }
        MemberRow::Visitor { visitor_id } => id(9, *visitor_id)?,
    }
    Ok(())
}
