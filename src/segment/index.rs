//! The structures the engine answers comparisons from: a binned index per column (a
//! bitmap of rows per bin of keys, so that an equality or range is a union of a few
//! bitmaps), and a uniform reader of one row's value for the cases that scan a few
//! candidate rows instead.

use datafusion::arrow::array::{
    Array, AsArray, BooleanArray, Date32Array, DictionaryArray, Int64Array, ListArray, StringArray,
    TimestampMicrosecondArray,
};
use datafusion::arrow::datatypes::{Int32Type, Int64Type};
use roaring::{MultiOps, RoaringBitmap};

use crate::data::value::MICROS_PER_DAY;
use crate::model::FieldType;
use crate::segment::predicate::{Test, TextMatcher, in_ranges};
use crate::store::{Column, Ints};

/// Builds a bitmap from rows in any order: sorted when few, through a bitset when many.
pub fn bitmap_from_rows(mut rows: Vec<u32>, space: usize) -> RoaringBitmap {
    if rows.len() < 65_536 || rows.len() * 64 < space {
        rows.sort_unstable();
        RoaringBitmap::from_sorted_iter(rows).expect("sorted")
    } else {
        let mut bits = Bitset::new(space);
        rows.iter().for_each(|&row| bits.insert(row));
        bits.into_bitmap()
    }
}

/// Calls `f` on every row, in order: a run at a time when the rows are dense, one by one
/// when they are sparse (`next_range` looks for the end of every run). Not
/// `Iter::next_many`: in roaring 0.12.0 it loses rows of containers filled by
/// `insert_range`.
#[inline]
pub fn for_each_row(rows: &RoaringBitmap, mut f: impl FnMut(u32)) {
    let span = match (rows.min(), rows.max()) {
        (Some(min), Some(max)) => (max - min) as u64 + 1,
        _ => return,
    };
    if rows.len() * 2 < span {
        rows.iter().for_each(f);
        return;
    }
    let mut runs = rows.iter();
    while let Some(run) = runs.next_range() {
        run.for_each(&mut f);
    }
}

/// The rows of `within` for which `keep` says yes.
pub fn filter_rows(within: &RoaringBitmap, keep: impl Fn(usize) -> bool) -> RoaringBitmap {
    let mut passing = Vec::new();
    for_each_row(within, |row| {
        if keep(row as usize) {
            passing.push(row);
        }
    });
    RoaringBitmap::from_sorted_iter(passing).expect("ascending")
}

/// The rows of `within` whose row `map(row)` has a non-null value that passes.
#[inline]
fn scan(
    within: &RoaringBitmap,
    map: &impl Fn(usize) -> usize,
    nulls: Option<&datafusion::arrow::buffer::NullBuffer>,
    value: impl Fn(usize) -> i64,
    passes: impl Fn(i64) -> bool,
) -> RoaringBitmap {
    match nulls {
        Some(nulls) => filter_rows(within, |row| {
            let row = map(row);
            nulls.is_valid(row) && passes(value(row))
        }),
        None => filter_rows(within, |row| passes(value(map(row)))),
    }
}

/// A plain bitset for building dense bitmaps fast.
pub struct Bitset {
    words: Vec<u64>,
}

impl Bitset {
    pub fn new(space: usize) -> Bitset {
        Bitset {
            words: vec![0; space.div_ceil(64)],
        }
    }

    #[inline]
    pub fn insert(&mut self, row: u32) {
        self.words[row as usize / 64] |= 1 << (row % 64);
    }

    pub fn into_bitmap(self) -> RoaringBitmap {
        let bytes: Vec<u8> = self.words.iter().flat_map(|w| w.to_le_bytes()).collect();
        RoaringBitmap::from_lsb0_bytes(0, &bytes)
    }
}

/// A column with at most this many distinct units (values, or days of a timestamp) gets
/// a bin per unit: every equality, and every range of whole units, is a union of bins.
const MAX_UNIT_BINS: i64 = 4096;
/// Otherwise bins are quantiles of a sample: a range cuts at most two of them, whose rows
/// are read to decide.
const QUANTILE_BINS: usize = 256;
/// Keys sampled to place the quantile bins.
const SAMPLE_KEYS: usize = 16_384;
/// Units up to which a unit's bin is found in a table rather than by binary search.
const MAX_UNIT_TABLE: i64 = 1 << 20;
const NO_BIN: u16 = u16::MAX;

/// A column's index: its rows binned by key, a bitmap per bin, bins ascending and
/// disjoint. A key is the value as a number (ints, decimal units, 0/1, days, µs), or for
/// strings the rank of the lower-case value among the column's distinct ones, so that
/// `eq` and `starts_with` are ranges and `contains` a scan of distinct values only.
///
/// It costs about 2 bytes a row (roaring containers of a bin's rows), is built in three
/// sequential passes over the column without sorting it, and answers a range with a
/// union of the bins inside it (or the non-null rows less the bins outside it, whichever
/// reads fewer), plus the rows of at most two bins the range cuts, read one by one.
/// Timestamp bins are whole UTC days, so `in_last_days` (a cut-off at midnight) never
/// cuts a bin.
pub struct ColumnIndex {
    keys: Keys,
    /// Per bin: the lowest and highest key present, and the rows.
    lows: Vec<i64>,
    highs: Vec<i64>,
    bins: Vec<RoaringBitmap>,
    not_null: RoaringBitmap,
    space: usize,
    /// For string columns: the distinct lower-case values, ascending (rank = position).
    lower: Vec<String>,
}

/// Where a row's key is read again, for the rows of a bin that a range cuts.
enum Keys {
    Column(Column),
    /// A string column: the rank of each dictionary key's lower-case value.
    Ranks {
        column: Column,
        rank_of_key: Vec<i64>,
    },
    /// Keys of their own (a rollup's per-subject aggregates).
    Values(Int64Array),
}

/// Reads one row's key.
enum KeyReader<'a> {
    Number(ColumnReader<'a>),
    Rank {
        keys: &'a DictionaryArray<Int32Type>,
        rank_of_key: &'a [i64],
    },
    Values(&'a Int64Array),
    Null,
}

impl KeyReader<'_> {
    #[inline]
    fn get(&self, row: usize) -> Option<i64> {
        match self {
            KeyReader::Number(reader) => reader.number(row),
            KeyReader::Rank { keys, rank_of_key } => keys
                .is_valid(row)
                .then(|| rank_of_key[keys.keys().value(row) as usize]),
            KeyReader::Values(values) => values.is_valid(row).then(|| values.value(row)),
            KeyReader::Null => None,
        }
    }
}

impl Keys {
    fn reader(&self) -> KeyReader<'_> {
        match self {
            Keys::Column(column) => KeyReader::Number(ColumnReader::new(column)),
            Keys::Ranks {
                column,
                rank_of_key,
            } => match ColumnReader::new(column) {
                ColumnReader::Text { keys, .. } => KeyReader::Rank { keys, rank_of_key },
                _ => KeyReader::Null,
            },
            Keys::Values(values) => KeyReader::Values(values),
        }
    }
}

impl ColumnIndex {
    pub fn build(column: &Column) -> ColumnIndex {
        let reader = ColumnReader::new(column);
        if let ColumnReader::Text { values, .. } = &reader {
            let lowered: Vec<String> = (0..values.len())
                .map(|k| values.value(k).to_lowercase())
                .collect();
            let mut lower = lowered.clone();
            lower.sort_unstable();
            lower.dedup();
            let rank_of_key: Vec<i64> = lowered
                .iter()
                .map(|l| lower.binary_search(l).expect("present") as i64)
                .collect();
            let keys = Keys::Ranks {
                column: column.clone(),
                rank_of_key,
            };
            return ColumnIndex::binned(keys, column.array.len(), 1, lower);
        }
        let unit = match column.ty {
            FieldType::Timestamp => MICROS_PER_DAY,
            _ => 1,
        };
        ColumnIndex::binned(
            Keys::Column(column.clone()),
            column.array.len(),
            unit,
            Vec::new(),
        )
    }

    /// An index of keys of its own (one per row, nulls for none); `unit` is the width of
    /// the finest bin worth having (a day of microseconds, say).
    pub fn of_values(values: Int64Array, unit: i64) -> ColumnIndex {
        let space = values.len();
        ColumnIndex::binned(Keys::Values(values), space, unit, Vec::new())
    }

    fn binned(keys: Keys, space: usize, unit: i64, lower: Vec<String>) -> ColumnIndex {
        let reader = keys.reader();
        let unit_of = |key: i64| key.div_euclid(unit);
        // Pass 1: the range of units.
        let (mut first, mut last, mut present) = (i64::MAX, i64::MIN, 0usize);
        for row in 0..space {
            if let Some(key) = reader.get(row) {
                first = first.min(key);
                last = last.max(key);
                present += 1;
            }
        }
        let mut index = ColumnIndex {
            lows: Vec::new(),
            highs: Vec::new(),
            bins: Vec::new(),
            not_null: RoaringBitmap::new(),
            space,
            lower,
            keys: Keys::Values(Int64Array::from(Vec::<i64>::new())),
        };
        if present == 0 {
            index.keys = keys;
            return index;
        }
        let (first, last) = (unit_of(first), unit_of(last));
        let units = (last as i128 - first as i128 + 1) as u128;
        // Pass 2 (small domains): the units present, a bin each; else sampled quantiles.
        let starts: Vec<i64> = if units <= MAX_UNIT_BINS as u128 {
            let mut occupied = vec![false; units as usize];
            for row in 0..space {
                if let Some(key) = reader.get(row) {
                    occupied[(unit_of(key) - first) as usize] = true;
                }
            }
            (0..units as i64)
                .filter(|&u| occupied[u as usize])
                .map(|u| first + u)
                .collect()
        } else {
            quantile_starts(&reader, space, first, unit_of)
        };
        let table: Option<Vec<u16>> = (units <= MAX_UNIT_TABLE as u128).then(|| {
            let mut table = Vec::with_capacity(units as usize);
            let mut bin = 0usize;
            for u in first..=last {
                while bin + 1 < starts.len() && starts[bin + 1] <= u {
                    bin += 1;
                }
                table.push(bin as u16);
            }
            table
        });
        let bin_of = |key: i64| -> usize {
            let u = unit_of(key);
            match &table {
                Some(table) => table[(u - first) as usize] as usize,
                None => starts.partition_point(|&s| s <= u) - 1,
            }
        };
        // Pass 3: each row's bin, the bins' key ranges and sizes; then the rows grouped
        // by bin (a counting sort, so each bin's rows stay ascending).
        let bins = starts.len();
        let mut lows = vec![i64::MAX; bins];
        let mut highs = vec![i64::MIN; bins];
        let mut sizes = vec![0u32; bins + 1];
        let mut bin_of_row = vec![NO_BIN; space];
        for (row, slot) in bin_of_row.iter_mut().enumerate() {
            if let Some(key) = reader.get(row) {
                let bin = bin_of(key);
                lows[bin] = lows[bin].min(key);
                highs[bin] = highs[bin].max(key);
                sizes[bin + 1] += 1;
                *slot = bin as u16;
            }
        }
        for bin in 1..=bins {
            sizes[bin] += sizes[bin - 1];
        }
        let offsets = sizes;
        let mut next = offsets.clone();
        let mut grouped = vec![0u32; present];
        for (row, &bin) in bin_of_row.iter().enumerate() {
            if bin != NO_BIN {
                grouped[next[bin as usize] as usize] = row as u32;
                next[bin as usize] += 1;
            }
        }
        drop(bin_of_row);
        for bin in 0..bins {
            let rows = &grouped[offsets[bin] as usize..offsets[bin + 1] as usize];
            if rows.is_empty() {
                continue;
            }
            let mut bitmap =
                RoaringBitmap::from_sorted_iter(rows.iter().copied()).expect("ascending");
            bitmap.optimize();
            index.lows.push(lows[bin]);
            index.highs.push(highs[bin]);
            index.bins.push(bitmap);
        }
        index.not_null = if present == space {
            let mut all = RoaringBitmap::new();
            all.insert_range(0..space as u32);
            all
        } else {
            RoaringBitmap::from_sorted_iter(
                (0..space as u32).filter(|&r| reader.get(r as usize).is_some()),
            )
            .expect("ascending")
        };
        drop(reader);
        index.keys = keys;
        index
    }

    /// Whether a test on a column of type `ty` can be answered from an index (lists are
    /// scanned instead).
    pub fn answers(ty: FieldType) -> bool {
        ty != FieldType::IdList
    }

    pub fn not_null(&self) -> &RoaringBitmap {
        &self.not_null
    }

    /// Rows passing `test`.
    pub fn select(&self, test: &Test) -> RoaringBitmap {
        match test {
            Test::IsNull => {
                let mut all = RoaringBitmap::new();
                all.insert_range(0..self.space as u32);
                all - &self.not_null
            }
            Test::IsNotNull => self.not_null.clone(),
            Test::Ranges { ranges, negate } => self.ranges(ranges, *negate),
            Test::Text { matcher, negate } => self.ranges(&self.text_ranks(matcher), *negate),
            Test::List { .. } => unreachable!("list tests are scanned"),
        }
    }

    /// Rows whose key is in one of the sorted, disjoint `ranges`; with `negate`, the
    /// non-null rows in none of them.
    pub fn ranges(&self, ranges: &[(i64, i64)], negate: bool) -> RoaringBitmap {
        let (inside, cut, outside) = self.classify(ranges);
        let size = |bins: &[usize]| bins.iter().map(|&b| self.bins[b].len()).sum::<u64>();
        let reader = self.keys.reader();
        let passes = |row: usize| reader.get(row).is_some_and(|k| in_ranges(ranges, k));
        // Matching rows: the bins inside plus the passing rows of the cut ones, or every
        // row less the bins outside and the failing rows of the cut ones.
        let matched_from_inside = size(&inside) <= size(&outside);
        let mut parts: Vec<RoaringBitmap> = Vec::with_capacity(cut.len() + 1);
        for &bin in &cut {
            parts.push(filter_rows(&self.bins[bin], |row| {
                passes(row) == matched_from_inside
            }));
        }
        if matched_from_inside {
            let matched = inside
                .iter()
                .map(|&b| &self.bins[b])
                .chain(parts.iter())
                .collect::<Vec<&RoaringBitmap>>()
                .union();
            if negate {
                &self.not_null - matched
            } else {
                matched
            }
        } else {
            let unmatched = outside
                .iter()
                .map(|&b| &self.bins[b])
                .chain(parts.iter())
                .collect::<Vec<&RoaringBitmap>>()
                .union();
            if negate {
                unmatched
            } else {
                &self.not_null - unmatched
            }
        }
    }

    /// The bins wholly inside `ranges`, those they cut, and those wholly outside.
    fn classify(&self, ranges: &[(i64, i64)]) -> (Vec<usize>, Vec<usize>, Vec<usize>) {
        let (mut inside, mut cut, mut outside) = (Vec::new(), Vec::new(), Vec::new());
        for bin in 0..self.bins.len() {
            let (low, high) = (self.lows[bin], self.highs[bin]);
            // The first range that ends at or after the bin's lowest key.
            let at = ranges.partition_point(|&(_, end)| end < low);
            if at == ranges.len() || ranges[at].0 > high {
                outside.push(bin);
            } else if ranges[at].0 <= low && high <= ranges[at].1 {
                inside.push(bin);
            } else {
                cut.push(bin);
            }
        }
        (inside, cut, outside)
    }

    /// How many rows have a key in `ranges`: exact for the bins inside, half of each bin
    /// a range cuts.
    fn count(&self, ranges: &[(i64, i64)]) -> u64 {
        let (inside, cut, _) = self.classify(ranges);
        inside.iter().map(|&b| self.bins[b].len()).sum::<u64>()
            + cut.iter().map(|&b| self.bins[b].len() / 2).sum::<u64>()
    }

    /// About how many rows pass `test`, for evaluating the most selective condition first.
    pub fn estimate(&self, test: &Test) -> usize {
        let not_null = self.not_null.len();
        let estimate = match test {
            Test::IsNull => self.space as u64 - not_null,
            Test::IsNotNull => not_null,
            Test::Ranges { ranges, negate } => {
                let inside = self.count(ranges);
                if *negate { not_null - inside } else { inside }
            }
            // Substring tests would scan every distinct value: left for last.
            Test::Text {
                matcher: TextMatcher::Contains(_) | TextMatcher::EndsWith(_),
                ..
            } => self.space as u64,
            Test::Text { matcher, negate } => {
                let inside = self.count(&self.text_ranks(matcher));
                if *negate { not_null - inside } else { inside }
            }
            Test::List { .. } => self.space as u64,
        };
        estimate as usize
    }

    /// The rank ranges of the lower-case values a text matcher accepts.
    fn text_ranks(&self, matcher: &TextMatcher) -> Vec<(i64, i64)> {
        let ranks: Vec<(i64, i64)> = match matcher {
            TextMatcher::Equals(values) => values
                .iter()
                .filter_map(|v| self.lower.binary_search(v).ok())
                .map(|r| (r as i64, r as i64))
                .collect(),
            TextMatcher::StartsWith(prefix) => {
                let start = self.lower.partition_point(|v| v.as_str() < prefix.as_str());
                let end =
                    start + self.lower[start..].partition_point(|v| v.starts_with(prefix.as_str()));
                if start < end {
                    vec![(start as i64, end as i64 - 1)]
                } else {
                    Vec::new()
                }
            }
            TextMatcher::Contains(_) | TextMatcher::EndsWith(_) => self
                .lower
                .iter()
                .enumerate()
                .filter(|(_, v)| matcher.matches_lower(v))
                .map(|(r, _)| (r as i64, r as i64))
                .collect(),
        };
        crate::segment::predicate::normalise(ranks)
    }

    /// Bytes the index holds beyond the column it indexes.
    pub fn memory_bytes(&self) -> usize {
        let keys = match &self.keys {
            Keys::Column(_) => 0,
            Keys::Ranks { rank_of_key, .. } => rank_of_key.capacity() * 8,
            Keys::Values(values) => values.get_array_memory_size(),
        };
        keys + (self.lows.capacity() + self.highs.capacity()) * 8
            + self.bins.iter().map(|b| b.serialized_size()).sum::<usize>()
            + self.not_null.serialized_size()
            + self.lower.iter().map(|s| s.capacity() + 24).sum::<usize>()
    }

    /// Bins, for the memory breakdown.
    pub fn bin_count(&self) -> usize {
        self.bins.len()
    }
}

/// The first unit of each quantile bin, from a sample of the keys spread over the rows:
/// a unit that alone fills a bin's share of the sample (a common value) gets a bin of
/// its own, so that an equality on it never reads rows one by one.
fn quantile_starts(
    reader: &KeyReader<'_>,
    space: usize,
    first: i64,
    unit_of: impl Fn(i64) -> i64,
) -> Vec<i64> {
    let step = (space / SAMPLE_KEYS).max(1);
    let mut sample: Vec<i64> = (0..space)
        .step_by(step)
        .filter_map(|row| reader.get(row).map(&unit_of))
        .collect();
    sample.sort_unstable();
    let share = (sample.len() / QUANTILE_BINS).max(1);
    let mut starts = vec![first];
    starts.extend((1..QUANTILE_BINS).filter_map(|i| sample.get(i * sample.len() / QUANTILE_BINS)));
    let mut run = 0;
    while run < sample.len() {
        let end = run + sample[run..].partition_point(|&u| u == sample[run]);
        if end - run >= share {
            starts.push(sample[run]);
            starts.push(sample[run].saturating_add(1));
        }
        run = end;
    }
    starts.retain(|&s| s >= first);
    starts.sort_unstable();
    starts.dedup();
    starts
}

/// Reads one row's value of a column, whatever its Arrow type.
pub enum ColumnReader<'a> {
    Ints(Ints<'a>),
    Bool(&'a BooleanArray),
    Date(&'a Date32Array),
    Timestamp(&'a TimestampMicrosecondArray),
    Text {
        keys: &'a DictionaryArray<Int32Type>,
        values: &'a StringArray,
    },
    List(&'a ListArray),
    /// A column absent from the file: every value null.
    Null,
}

impl<'a> ColumnReader<'a> {
    pub fn new(column: &'a Column) -> ColumnReader<'a> {
        let array = column.array.as_ref();
        if array.null_count() == array.len() && array.data_type().is_null() {
            return ColumnReader::Null;
        }
        match column.ty {
            FieldType::Id | FieldType::Int | FieldType::Decimal => Ints::of(array)
                .map(ColumnReader::Ints)
                .unwrap_or(ColumnReader::Null),
            FieldType::Bool => array
                .as_boolean_opt()
                .map(ColumnReader::Bool)
                .unwrap_or(ColumnReader::Null),
            FieldType::Date => array
                .as_primitive_opt()
                .map(ColumnReader::Date)
                .unwrap_or(ColumnReader::Null),
            FieldType::Timestamp => array
                .as_primitive_opt()
                .map(ColumnReader::Timestamp)
                .unwrap_or(ColumnReader::Null),
            FieldType::String => match array.as_dictionary_opt::<Int32Type>() {
                Some(keys) => ColumnReader::Text {
                    keys,
                    values: keys.values().as_string::<i32>(),
                },
                None => ColumnReader::Null,
            },
            FieldType::IdList => array
                .as_list_opt::<i32>()
                .map(ColumnReader::List)
                .unwrap_or(ColumnReader::Null),
        }
    }

    /// The value as a number (ints, decimal units, bools 0/1, days, µs).
    #[inline]
    pub fn number(&self, row: usize) -> Option<i64> {
        match self {
            ColumnReader::Ints(ints) => ints.get(row),
            ColumnReader::Bool(a) => a.is_valid(row).then(|| a.value(row) as i64),
            ColumnReader::Date(a) => a.is_valid(row).then(|| a.value(row) as i64),
            ColumnReader::Timestamp(a) => a.is_valid(row).then(|| a.value(row)),
            _ => None,
        }
    }

    pub fn text(&self, row: usize) -> Option<&'a str> {
        match self {
            ColumnReader::Text { keys, values } => keys
                .is_valid(row)
                .then(|| values.value(keys.keys().value(row) as usize)),
            _ => None,
        }
    }

    /// The rows of `within` that pass `test`, by reading each one. Strings are tested
    /// once per distinct value when there are fewer distinct values than rows to read.
    pub fn select(&self, test: &Test, within: &RoaringBitmap) -> RoaringBitmap {
        self.select_mapped(test, within, |row| row)
    }

    /// The rows of `within` whose row `map(row)` of this column passes `test`: an order
    /// item's order, say.
    pub fn select_mapped(
        &self,
        test: &Test,
        within: &RoaringBitmap,
        map: impl Fn(usize) -> usize,
    ) -> RoaringBitmap {
        if let ColumnReader::Text { keys, values } = self
            && (values.len() as u64) < within.len()
        {
            let by_key: Vec<bool> = (0..values.len())
                .map(|k| test.text(Some(values.value(k))))
                .collect();
            let null_passes = test.text(None);
            return filter_rows(within, |row| {
                let row = map(row);
                if keys.is_valid(row) {
                    by_key[keys.keys().value(row) as usize]
                } else {
                    null_passes
                }
            });
        }
        // Ordered tests read the values straight from the Arrow buffers.
        if let Test::Ranges { ranges, negate } = test {
            let negate = *negate;
            let passes = |value: i64| crate::segment::predicate::in_ranges(ranges, value) != negate;
            return match self {
                ColumnReader::Ints(Ints::I32(a)) => {
                    scan(within, &map, a.nulls(), |r| a.values()[r] as i64, passes)
                }
                ColumnReader::Ints(Ints::I64(a)) => {
                    scan(within, &map, a.nulls(), |r| a.values()[r], passes)
                }
                ColumnReader::Date(a) => {
                    scan(within, &map, a.nulls(), |r| a.values()[r] as i64, passes)
                }
                ColumnReader::Timestamp(a) => {
                    scan(within, &map, a.nulls(), |r| a.values()[r], passes)
                }
                ColumnReader::Bool(a) => scan(
                    within,
                    &map,
                    a.nulls(),
                    |r| a.values().value(r) as i64,
                    passes,
                ),
                _ => filter_rows(within, |row| self.passes(test, map(row))),
            };
        }
        filter_rows(within, |row| self.passes(test, map(row)))
    }

    /// Whether row `row` passes `test`.
    pub fn passes(&self, test: &Test, row: usize) -> bool {
        match self {
            ColumnReader::Text { .. } => test.text(self.text(row)),
            ColumnReader::List(a) => {
                if a.is_null(row) {
                    return test.list(None);
                }
                let children = a.values().as_primitive::<Int64Type>();
                if children.null_count() > 0 {
                    let ids: Vec<i64> = a
                        .value(row)
                        .as_primitive::<Int64Type>()
                        .iter()
                        .flatten()
                        .collect();
                    return test.list(Some(&ids));
                }
                // The row's ids straight from the list's child array, without a copy.
                let offsets = a.value_offsets();
                test.list(Some(
                    &children.values()[offsets[row] as usize..offsets[row + 1] as usize],
                ))
            }
            ColumnReader::Null => matches!(test, Test::IsNull),
            _ => test.number(self.number(row)),
        }
    }
}
