//! Per-subject partial aggregates of one relation: each subject's records counted and
//! their values summed (or their min or max taken) per website, per value of one string
//! column (an order's status) and per period of one time column (an order's
//! `created_at`), computed once by DataFusion's group accumulators, with each cell's
//! records (their day and value) kept in cell order.
//!
//! An aggregate whose `where` tests only that string column and whole days of that time
//! column takes the cells of the blocks its tests pass whole, and reads the records of
//! the cells in the periods its time range cuts one after the other: "complete orders in
//! the last 365 days" combines about a third of the cells and one period's records,
//! instead of gathering every matching order from wherever it lies.

use std::ops::Range;

use datafusion::arrow::array::{Array, Int64Array};
use roaring::RoaringBitmap;

use crate::data::value::MICROS_PER_DAY;
use crate::model::FieldType;
use crate::segment::aggregate::{Aggregated, Sink};
use crate::segment::definition::AggregateFunction;
use crate::segment::predicate::Test;
use crate::segment::rows::{ColumnReader, NumberVisitor, visit_numbers};
use crate::store::{Table, starts_of};

/// Days in a period (at most 64: a period's passing days are one `u64`). Shorter
/// periods make more cells; longer ones more records to read where a range cuts one.
pub const PERIOD_DAYS: i64 = 64;

/// Websites or string values beyond which no partials are built: blocks multiply.
const MAX_CODES: usize = 64;

/// Periods beyond which no partials are built (about 45 years of 64 days).
const MAX_PERIODS: i64 = 256;

/// Not in any cell: a record of no website.
const NO_CELL: u32 = u32::MAX;

/// Set in a record's day: its value is null.
const NULL_VALUE: u8 = 0x80;

/// What a set of partials aggregates: `Sum` also answers averages.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PartialsKey {
    pub function: AggregateFunction,
    /// The aggregated column (none for `count`).
    pub of: Option<String>,
    /// The string column whose values split the blocks.
    pub group: Option<String>,
    /// The time column (date or timestamp) whose periods split the blocks.
    pub time: Option<String>,
}

/// How a period stands against an aggregate's time tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Coverage {
    /// Every instant of the period passes: its cells are taken whole.
    Whole,
    /// Whole days pass, the others fail (bit `i`: the period's day `i`): its cells'
    /// records are read.
    Days(u64),
    /// None pass.
    Excluded,
}

/// The blocks an aggregate takes.
pub struct Selection {
    /// Per website code.
    pub websites: Vec<bool>,
    /// Per group code (the last is null).
    pub groups: Vec<bool>,
    /// Per period (the last holds the records without a time).
    pub periods: Vec<Coverage>,
}

pub struct Partials {
    /// Website ids by code; `None` when the table has no `website_id` (one code).
    websites: Option<Vec<i64>>,
    /// The group column's dictionary (code `i` is `group_values[i]`, code `len` null).
    group_values: Vec<Option<String>>,
    time_type: Option<FieldType>,
    first_day: i64,
    periods: usize,
    /// Cells of block `b`: `cell_offsets[b]..cell_offsets[b + 1]`, subjects ascending.
    cell_offsets: Vec<u32>,
    /// Per cell: its subject.
    subjects: Vec<u32>,
    /// Per cell: its records, `record_offsets[c]..record_offsets[c + 1]`.
    record_offsets: Vec<u32>,
    /// Per cell: non-null values; none when the column has no nulls (then records).
    value_count: Option<Int64Array>,
    /// Per cell: sum, min or max; none for `count`.
    value: Option<Int64Array>,
    /// Per record, with a time column: its day in its period, or'ed with [`NULL_VALUE`].
    record_days: Vec<u8>,
    record_values: RecordValues,
}

/// Records' values, as narrow as they allow.
enum RecordValues {
    None,
    I32(Vec<i32>),
    I64(Vec<i64>),
}

impl RecordValues {
    #[inline]
    fn get(&self, record: usize) -> i64 {
        match self {
            RecordValues::I32(values) => values[record] as i64,
            RecordValues::I64(values) => values[record],
            RecordValues::None => 0,
        }
    }

    fn memory_bytes(&self) -> usize {
        match self {
            RecordValues::None => 0,
            RecordValues::I32(values) => values.len() * 4,
            RecordValues::I64(values) => values.len() * 8,
        }
    }
}

impl Partials {
    /// The partials of `table`'s rows owned by subjects (`subject_offsets`, as for
    /// [`crate::segment::aggregate::AggregateInput`]); `None` when the columns make
    /// too many blocks.
    pub fn build(
        table: &Table,
        subject_offsets: &[u32],
        key: &PartialsKey,
    ) -> Result<Option<Partials>, String> {
        let reader = |name: &Option<String>| {
            name.as_deref()
                .and_then(|n| table.column(n))
                .map(ColumnReader::new)
                .unwrap_or(ColumnReader::Null)
        };
        let owned = subject_offsets[0] as usize..*subject_offsets.last().unwrap_or(&0) as usize;
        // Websites by code.
        let website_reader = table.column("website_id").map(ColumnReader::new);
        let websites = match &website_reader {
            None => None,
            Some(reader) => {
                let mut ids: Vec<i64> = Vec::new();
                for row in owned.clone() {
                    if let Some(id) = reader.number(row)
                        && let Err(at) = ids.binary_search(&id)
                    {
                        if ids.len() == MAX_CODES {
                            return Ok(None);
                        }
                        ids.insert(at, id);
                    }
                }
                Some(ids)
            }
        };
        let website_codes = websites.as_ref().map_or(1, Vec::len);
        // Group values by code.
        let group_reader = reader(&key.group);
        let group_values: Vec<Option<String>> = match &group_reader {
            ColumnReader::Text { values, .. } => (0..values.len())
                .map(|code| Some(values.value(code).to_string()))
                .collect(),
            _ => Vec::new(),
        };
        if group_values.len() > MAX_CODES {
            return Ok(None);
        }
        let group_codes = group_values.len() + 1;
        let group_of = |row: usize| match &group_reader {
            ColumnReader::Text { codes, nulls, .. } if nulls.is_none_or(|n| n.is_valid(row)) => {
                codes.get(row)
            }
            _ => group_values.len(),
        };
        // Periods of days from the first record's.
        let time_reader = reader(&key.time);
        let time_type = key
            .time
            .as_deref()
            .and_then(|n| table.column(n))
            .map(|c| c.ty);
        let day_of = |row: usize| {
            time_reader.number(row).map(|v| match time_type {
                Some(FieldType::Timestamp) => v.div_euclid(MICROS_PER_DAY),
                _ => v,
            })
        };
        let (mut first_day, mut last_day) = (i64::MAX, i64::MIN);
        for row in owned.clone() {
            if let Some(day) = day_of(row) {
                first_day = first_day.min(day);
                last_day = last_day.max(day);
            }
        }
        let periods = if first_day > last_day {
            first_day = 0;
            0
        } else {
            (last_day - first_day) / PERIOD_DAYS + 1
        };
        if periods > MAX_PERIODS {
            return Ok(None);
        }
        let periods = periods as usize;
        let blocks = website_codes * group_codes * (periods + 1);
        // Each row's block, then each block's cells: one per subject with rows in it.
        let mut cell_of_row: Vec<u32> = owned
            .clone()
            .map(|row| {
                let website = match (&websites, &website_reader) {
                    (Some(ids), Some(reader)) => match reader.number(row) {
                        Some(id) => ids.binary_search(&id).unwrap_or(0),
                        None => return NO_CELL,
                    },
                    _ => 0,
                };
                let period =
                    day_of(row).map_or(periods, |day| ((day - first_day) / PERIOD_DAYS) as usize);
                ((website * group_codes + group_of(row)) * (periods + 1) + period) as u32
            })
            .collect();
        let subjects_total = subject_offsets.len() - 1;
        let mut last_subject = vec![u32::MAX; blocks];
        let mut cells_in = vec![0u32; blocks];
        let first_row = owned.start;
        let rows_of = |subject: usize| {
            subject_offsets[subject] as usize - first_row
                ..subject_offsets[subject + 1] as usize - first_row
        };
        for subject in 0..subjects_total {
            for &block in &cell_of_row[rows_of(subject)] {
                if block != NO_CELL && last_subject[block as usize] != subject as u32 {
                    last_subject[block as usize] = subject as u32;
                    cells_in[block as usize] += 1;
                }
            }
        }
        let cell_offsets = starts_of(&cells_in);
        let cells = cell_offsets[blocks] as usize;
        let mut subjects = vec![0u32; cells];
        let mut count = vec![0u32; cells];
        let mut next_cell = cell_offsets[..blocks].to_vec();
        last_subject.fill(u32::MAX);
        let mut current_cell = vec![0u32; blocks];
        for subject in 0..subjects_total {
            for slot in &mut cell_of_row[rows_of(subject)] {
                let block = *slot;
                if block == NO_CELL {
                    continue;
                }
                let block = block as usize;
                if last_subject[block] != subject as u32 {
                    last_subject[block] = subject as u32;
                    current_cell[block] = next_cell[block];
                    subjects[next_cell[block] as usize] = subject as u32;
                    next_cell[block] += 1;
                }
                *slot = current_cell[block];
                count[*slot as usize] += 1;
            }
        }
        let record_offsets = starts_of(&count);
        drop(count);
        let values_column = key
            .of
            .as_deref()
            .and_then(|n| table.column(n))
            .filter(|_| key.function != AggregateFunction::Count);
        // Each cell's records, in cell order: their day in the period and value.
        let (mut record_days, mut values) = (Vec::new(), Vec::new());
        if key.time.is_some() {
            let values_reader = values_column.map(ColumnReader::new);
            let records = record_offsets[cells] as usize;
            record_days = vec![0u8; records];
            if values_reader.is_some() {
                values = vec![0i64; records];
            }
            let mut next_record = record_offsets[..cells].to_vec();
            for (at, &cell) in cell_of_row.iter().enumerate() {
                if cell == NO_CELL {
                    continue;
                }
                let row = first_row + at;
                let record = next_record[cell as usize] as usize;
                next_record[cell as usize] += 1;
                let day = day_of(row).map_or(0, |day| (day - first_day) % PERIOD_DAYS) as u8;
                record_days[record] = day;
                if let Some(reader) = &values_reader {
                    match reader.number(row) {
                        Some(value) => values[record] = value,
                        None => record_days[record] |= NULL_VALUE,
                    }
                }
            }
        }
        let record_values = if values.is_empty() {
            RecordValues::None
        } else if values.iter().all(|&v| i32::try_from(v).is_ok()) {
            RecordValues::I32(values.iter().map(|&v| v as i32).collect())
        } else {
            RecordValues::I64(values)
        };
        let (value_count, value) = match values_column {
            Some(column) => {
                let count_values = column.array.null_count() > 0;
                let sink = Sink::new(key.function, column, cells, count_values)?;
                let aggregated = visit_numbers(
                    &ColumnReader::new(column),
                    &[],
                    CellBatches {
                        cell_of_row: &cell_of_row,
                        first_row: first_row as u32,
                        sink,
                    },
                )?;
                (aggregated.value_count, aggregated.value)
            }
            None => (None, None),
        };
        Ok(Some(Partials {
            websites,
            group_values,
            time_type,
            first_day,
            periods,
            cell_offsets,
            subjects,
            record_offsets,
            value_count,
            value,
            record_days,
            record_values,
        }))
    }

    /// The websites' codes (`None`: one code for all rows).
    pub fn websites(&self) -> Option<&[i64]> {
        self.websites.as_deref()
    }

    /// The group values by code; the code after the last is null.
    pub fn group_values(&self) -> &[Option<String>] {
        &self.group_values
    }

    /// How each period (then the records without a time) stands against `tests`, all
    /// ranges of the time column's values; `None` when a test cuts a day (an instant
    /// other than midnight): records keep their day, not their instant.
    pub fn coverage(&self, tests: &[&Test]) -> Option<Vec<Coverage>> {
        // The column's values of days `first..=last`.
        let span = |first: i64, last: i64| match self.time_type {
            Some(FieldType::Timestamp) => (first * MICROS_PER_DAY, (last + 1) * MICROS_PER_DAY - 1),
            _ => (first, last),
        };
        let stand = |(low, high): (i64, i64)| {
            let each = tests.iter().map(|test| range_stand(test, low, high));
            each.fold(Stand::In, |all, one| match (all, one) {
                (Stand::Out, _) | (_, Stand::Out) => Stand::Out,
                (Stand::Partly, _) | (_, Stand::Partly) => Stand::Partly,
                _ => Stand::In,
            })
        };
        let mut coverage = Vec::with_capacity(self.periods + 1);
        for period in 0..self.periods {
            let first = self.first_day + period as i64 * PERIOD_DAYS;
            coverage.push(match stand(span(first, first + PERIOD_DAYS - 1)) {
                Stand::In => Coverage::Whole,
                Stand::Out => Coverage::Excluded,
                Stand::Partly => {
                    let mut days = 0u64;
                    for day in 0..PERIOD_DAYS {
                        match stand(span(first + day, first + day)) {
                            Stand::In => days |= 1 << day,
                            Stand::Out => {}
                            Stand::Partly => return None,
                        }
                    }
                    Coverage::Days(days)
                }
            });
        }
        // Null fails every range test.
        coverage.push(if tests.is_empty() {
            Coverage::Whole
        } else {
            Coverage::Excluded
        });
        Some(coverage)
    }

    /// The subjects of `eligible` whose `function` over the records `selection` takes
    /// `passes` (given records, non-null values and the value), combined a chunk of
    /// subjects at a time so that their totals stay in cache, on two threads.
    pub fn members<P>(
        &self,
        function: AggregateFunction,
        selection: &Selection,
        eligible: &RoaringBitmap,
        passes: &P,
    ) -> RoaringBitmap
    where
        P: Fn(i64, i64, Option<i64>) -> bool + Sync,
    {
        // Only the eligible subjects' span (the customers of a website, not the
        // visitors after them), from a multiple of 64, in halves whose cells are alike.
        let (Some(first), Some(last)) = (eligible.min(), eligible.max()) else {
            return RoaringBitmap::new();
        };
        let (first, end) = (first as usize / 64 * 64, last as usize + 1);
        let middle = eligible
            .select(eligible.len() as u32 / 2)
            .map_or(end, |s| (s as usize / 64 * 64).max(first));
        let (low, high) = std::thread::scope(|scope| {
            let high = scope.spawn(|| self.passing(function, selection, middle..end, passes));
            let low = self.passing(function, selection, first..middle, passes);
            (
                low,
                high.join().expect("the combining thread does not panic"),
            )
        });
        let mut members = low | high;
        members &= eligible;
        members
    }

    /// The subjects of `subjects` whose aggregate passes.
    fn passing<P>(
        &self,
        function: AggregateFunction,
        selection: &Selection,
        subjects: Range<usize>,
        passes: &P,
    ) -> RoaringBitmap
    where
        P: Fn(i64, i64, Option<i64>) -> bool,
    {
        let group_codes = self.group_values.len() + 1;
        // Each block taken, how, and the position of its first cell not yet added.
        let mut blocks: Vec<(Coverage, usize, usize)> = Vec::new();
        for (website, _) in selection.websites.iter().enumerate().filter(|(_, w)| **w) {
            for (group, _) in selection.groups.iter().enumerate().filter(|(_, g)| **g) {
                for (period, &coverage) in selection.periods.iter().enumerate() {
                    if coverage == Coverage::Excluded {
                        continue;
                    }
                    let block = (website * group_codes + group) * (self.periods + 1) + period;
                    let cells =
                        self.cell_offsets[block] as usize..self.cell_offsets[block + 1] as usize;
                    let first = self.subjects[cells.clone()]
                        .partition_point(|&s| (s as usize) < subjects.start);
                    blocks.push((coverage, cells.end, cells.start + first));
                }
            }
        }
        let mut totals = Chunk::new(function, self.value.is_some());
        let zero_passes = passes(0, 0, None);
        let mut passing = vec![0u64; subjects.len().div_ceil(64)];
        let mut start = subjects.start;
        while start < subjects.end {
            let end = (start + CHUNK).min(subjects.end);
            totals.clear(end - start);
            for (coverage, last, next) in &mut blocks {
                // On from where the last chunk stopped: a search that gallops from
                // there reads a few cells' subjects, not every one (about a thousand a
                // block and chunk for a year of complete orders at M).
                let upto = first_from(&self.subjects[..*last], *next, end as u32);
                match *coverage {
                    Coverage::Days(days) => self.add_records(*next..upto, days, start, &mut totals),
                    _ => self.add_cells(*next..upto, start, &mut totals),
                }
                *next = upto;
            }
            // A bit per subject, from the chunk's first (a multiple of 64), gathered in a
            // register 64 subjects at a time.
            let words = &mut passing[(start - subjects.start) / 64..];
            let subjects_here = end - start;
            for (word_at, word) in words.iter_mut().enumerate() {
                let first = word_at * 64;
                if first >= subjects_here {
                    break;
                }
                let mut bits = 0u64;
                let here = first..(first + 64).min(subjects_here);
                let values = match totals.values {
                    true => &totals.value[here.clone()],
                    false => &NO_VALUES[..here.len()],
                };
                let counts = totals.count[here.clone()].iter();
                let of_subjects = counts.zip(&totals.value_count[here]).zip(values);
                for (bit, ((&count, &value_count), &value)) in of_subjects.enumerate() {
                    // Every outcome computed, one kept by masks: about half the
                    // subjects have a value, in no order a branch could predict.
                    let (count, has_value) = (count as i64, value_count > 0);
                    let with_value = passes(count, value_count, Some(value));
                    let without_value = passes(count, value_count, None);
                    let with_records = (with_value & has_value) | (without_value & !has_value);
                    let passes = (zero_passes & (count == 0)) | (with_records & (count != 0));
                    bits |= (passes as u64) << bit;
                }
                *word |= bits;
            }
            start = end;
        }
        let bytes: Vec<u8> = passing.iter().flat_map(|w| w.to_le_bytes()).collect();
        RoaringBitmap::from_lsb0_bytes(subjects.start as u32, &bytes)
    }

    /// Adds `cells` whole to the totals of the chunk from `first_subject`.
    fn add_cells(&self, cells: Range<usize>, first_subject: usize, totals: &mut Chunk) {
        let records = |cell: usize| self.record_offsets[cell + 1] - self.record_offsets[cell];
        let Some(value) = &self.value else {
            for cell in cells {
                totals.count[self.subjects[cell] as usize - first_subject] += records(cell);
            }
            return;
        };
        let nulls = self.value_count.is_some() || value.null_count() > 0;
        for cell in cells {
            let at = self.subjects[cell] as usize - first_subject;
            let records = records(cell);
            totals.count[at] += records;
            if !nulls {
                totals.add_value(at, records as i64, value.values()[cell]);
            } else if value.is_valid(cell) {
                let values = match &self.value_count {
                    Some(counts) => counts.value(cell),
                    None => records as i64,
                };
                totals.add_value(at, values, value.value(cell));
            }
        }
    }

    /// Adds the records of `cells` on `days` (bit `i`: the period's day `i`).
    fn add_records(
        &self,
        cells: Range<usize>,
        days: u64,
        first_subject: usize,
        totals: &mut Chunk,
    ) {
        for cell in cells {
            let at = self.subjects[cell] as usize - first_subject;
            let records =
                self.record_offsets[cell] as usize..self.record_offsets[cell + 1] as usize;
            for record in records {
                let day = self.record_days[record];
                if days >> (day & !NULL_VALUE) & 1 == 0 {
                    continue;
                }
                totals.count[at] += 1;
                if totals.values && day & NULL_VALUE == 0 {
                    totals.add_value(at, 1, self.record_values.get(record));
                }
            }
        }
    }

    pub fn memory_bytes(&self) -> usize {
        let arrays = [&self.value_count, &self.value]
            .iter()
            .filter_map(|a| a.as_ref())
            .map(|a| a.get_array_memory_size())
            .sum::<usize>();
        (self.cell_offsets.len() + self.subjects.len() + self.record_offsets.len()) * 4
            + self.record_days.len()
            + self.record_values.memory_bytes()
            + arrays
    }
}

/// Subjects combined at a time: their totals (20 bytes each) stay in cache.
const CHUNK: usize = 1 << 13;

/// The values of 64 subjects of an aggregate without values (`count`).
const NO_VALUES: [i64; 64] = [0; 64];

/// The first position from `from` in `subjects` (ascending) holding `end` or more, or
/// the slice's end: doubling steps from `from`, then a binary search in the last one.
fn first_from(subjects: &[u32], from: usize, end: u32) -> usize {
    let rest = &subjects[from..];
    let mut step = 1;
    while step <= rest.len() && rest[step - 1] < end {
        step *= 2;
    }
    // Every position before `step / 2` holds less than `end`.
    let (low, high) = (step / 2, step.min(rest.len()));
    from + low + rest[low..high].partition_point(|&subject| subject < end)
}

/// One chunk's totals per subject.
struct Chunk {
    function: AggregateFunction,
    values: bool,
    count: Vec<u32>,
    value_count: Vec<i64>,
    value: Vec<i64>,
}

impl Chunk {
    fn new(function: AggregateFunction, values: bool) -> Chunk {
        Chunk {
            function,
            values,
            count: Vec::new(),
            value_count: Vec::new(),
            value: Vec::new(),
        }
    }

    fn clear(&mut self, subjects: usize) {
        self.count.clear();
        self.count.resize(subjects, 0);
        self.value_count.clear();
        self.value_count.resize(subjects, 0);
        if self.values {
            self.value.clear();
            self.value.resize(subjects, 0);
        }
    }

    #[inline]
    fn add_value(&mut self, at: usize, values: i64, value: i64) {
        let had = self.value_count[at] > 0;
        self.value_count[at] += values;
        let total = &mut self.value[at];
        *total = match self.function {
            AggregateFunction::Min if had => (*total).min(value),
            AggregateFunction::Max if had => (*total).max(value),
            AggregateFunction::Min | AggregateFunction::Max => value,
            // Sums start at 0.
            _ => *total + value,
        };
    }
}

/// How a span of values stands against tests.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stand {
    In,
    Partly,
    Out,
}

/// How the values `low..=high` stand against one range test.
fn range_stand(test: &Test, low: i64, high: i64) -> Stand {
    let Test::Ranges { ranges, negate } = test else {
        return Stand::Partly;
    };
    let inside = ranges.iter().any(|&(a, b)| a <= low && high <= b);
    let disjoint = ranges.iter().all(|&(a, b)| b < low || a > high);
    match (inside, disjoint, negate) {
        (true, _, false) | (_, true, true) => Stand::In,
        (_, true, false) | (true, _, true) => Stand::Out,
        _ => Stand::Partly,
    }
}

/// Every owned row's value into its cell's accumulators, a run of one cell at a time.
struct CellBatches<'a> {
    cell_of_row: &'a [u32],
    first_row: u32,
    sink: Sink,
}

impl NumberVisitor for CellBatches<'_> {
    type Output = Result<Aggregated, String>;

    fn visit<N: Fn(usize) -> Option<i64> + Sync>(mut self, number: N) -> Self::Output {
        let cells = self.cell_of_row;
        let mut start = 0;
        while start < cells.len() {
            let cell = cells[start];
            let mut end = start + 1;
            while end < cells.len() && cells[end] == cell {
                end += 1;
            }
            if cell != NO_CELL {
                let rows = self.first_row + start as u32..self.first_row + end as u32;
                self.sink.push(cell as usize, rows, &number);
            }
            start = end;
        }
        self.sink.finish(Vec::new())
    }
}
