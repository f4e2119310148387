//! The structures the engine answers comparisons from: a sorted index per column (values
//! in order with their rows, plus bitmaps of value buckets, so that an equality or range
//! is a binary search and a union of a few precomputed bitmaps), and a uniform reader of
//! one row's value for the cases that scan a few candidate rows instead.

use datafusion::arrow::array::{
    Array, AsArray, BooleanArray, Date32Array, DictionaryArray, ListArray, StringArray,
    TimestampMicrosecondArray,
};
use datafusion::arrow::datatypes::{Int32Type, Int64Type};
use roaring::{MultiOps, RoaringBitmap};

use crate::model::FieldType;
use crate::segment::predicate::{Test, TextMatcher};
use crate::store::{Column, Ints};

/// Buckets hold about 1/64 of the rows: a range query unions whole buckets and sorts at
/// most two partial ones.
const BUCKETS: usize = 64;
const MIN_BUCKET_ROWS: usize = 4096;

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

/// One column's non-null rows ordered by value.
pub struct SortedIndex {
    /// Values in ascending order (ints, decimal units, 0/1, days, µs, or string ranks).
    values: Vec<i64>,
    /// `rows[i]` holds `values[i]`.
    rows: Vec<u32>,
    /// Position ranges of `values` (split only between distinct values) and their rows.
    buckets: Vec<(usize, usize, RoaringBitmap)>,
    not_null: RoaringBitmap,
    space: usize,
}

impl SortedIndex {
    /// Indexes `keys` (one per row, `None` for null).
    pub fn build(keys: impl Iterator<Item = Option<i64>>, space: usize) -> SortedIndex {
        let mut pairs: Vec<(i64, u32)> = keys
            .enumerate()
            .filter_map(|(row, key)| key.map(|k| (k, row as u32)))
            .collect();
        pairs.sort_unstable();
        let not_null = bitmap_from_rows(pairs.iter().map(|p| p.1).collect(), space);
        let (values, rows): (Vec<i64>, Vec<u32>) = pairs.into_iter().unzip();
        let target = (values.len() / BUCKETS).max(MIN_BUCKET_ROWS);
        let mut buckets = Vec::new();
        let mut start = 0;
        let mut position = 0;
        while position < values.len() {
            let group_end =
                position + values[position..].partition_point(|v| *v == values[position]);
            // Close the bucket before a group that would overfill it, so that big groups
            // (a common value) get a bucket of their own.
            if position > start && group_end - start > target {
                buckets.push((
                    start,
                    position,
                    bitmap_from_rows(rows[start..position].to_vec(), space),
                ));
                start = position;
            }
            position = group_end;
            if position - start >= target {
                buckets.push((
                    start,
                    position,
                    bitmap_from_rows(rows[start..position].to_vec(), space),
                ));
                start = position;
            }
        }
        if start < values.len() {
            buckets.push((
                start,
                values.len(),
                bitmap_from_rows(rows[start..].to_vec(), space),
            ));
        }
        SortedIndex {
            values,
            rows,
            buckets,
            not_null,
            space,
        }
    }

    pub fn not_null(&self) -> &RoaringBitmap {
        &self.not_null
    }

    /// Rows whose value is in `low..=high`.
    pub fn range(&self, low: i64, high: i64) -> RoaringBitmap {
        let start = self.values.partition_point(|v| *v < low);
        let end = self.values.partition_point(|v| *v <= high);
        self.positions(start, end)
    }

    /// How many rows have a value in `low..=high`.
    pub fn count(&self, low: i64, high: i64) -> usize {
        self.values.partition_point(|v| *v <= high) - self.values.partition_point(|v| *v < low)
    }

    fn positions(&self, start: usize, end: usize) -> RoaringBitmap {
        if start >= end {
            return RoaringBitmap::new();
        }
        let first = self.buckets.partition_point(|b| b.0 < start);
        let after = self.buckets.partition_point(|b| b.1 <= end);
        if first >= after {
            return bitmap_from_rows(self.rows[start..end].to_vec(), self.space);
        }
        let head = start..self.buckets[first].0;
        let tail = self.buckets[after - 1].1..end;
        let mut partial: Vec<u32> = self.rows[head].to_vec();
        partial.extend_from_slice(&self.rows[tail]);
        let whole = self.buckets[first..after].iter().map(|b| &b.2).union();
        whole | bitmap_from_rows(partial, self.space)
    }

    /// Rows whose value is in one of the sorted, disjoint `ranges`; with `negate`, the
    /// non-null rows in none of them.
    pub fn ranges(&self, ranges: &[(i64, i64)], negate: bool) -> RoaringBitmap {
        let matched: RoaringBitmap = ranges.iter().map(|&(l, h)| self.range(l, h)).union();
        if negate {
            &self.not_null - matched
        } else {
            matched
        }
    }

    pub fn memory_bytes(&self) -> usize {
        self.values.capacity() * 8
            + self.rows.capacity() * 4
            + self
                .buckets
                .iter()
                .map(|b| b.2.serialized_size())
                .sum::<usize>()
            + self.not_null.serialized_size()
    }
}

/// A column's index: strings are indexed by the rank of their lower-case form, so that
/// `eq` and `starts_with` are ranges and `contains` a scan of distinct values only.
pub struct ColumnIndex {
    pub sorted: SortedIndex,
    /// For string columns: the distinct lower-case values, ascending (rank = position).
    pub lower: Vec<String>,
}

impl ColumnIndex {
    pub fn build(column: &Column) -> ColumnIndex {
        let reader = ColumnReader::new(column);
        let space = column.array.len();
        if let ColumnReader::Text { keys, values } = &reader {
            let lowered: Vec<String> = (0..values.len())
                .map(|k| values.value(k).to_lowercase())
                .collect();
            let mut lower = lowered.clone();
            lower.sort_unstable();
            lower.dedup();
            let rank: Vec<i64> = lowered
                .iter()
                .map(|l| lower.binary_search(l).expect("present") as i64)
                .collect();
            let sorted = SortedIndex::build(
                (0..space).map(|row| {
                    keys.is_valid(row)
                        .then(|| rank[keys.keys().value(row) as usize])
                }),
                space,
            );
            return ColumnIndex { sorted, lower };
        }
        ColumnIndex {
            sorted: SortedIndex::build((0..space).map(|row| reader.number(row)), space),
            lower: Vec::new(),
        }
    }

    /// Whether a test on a column of type `ty` can be answered from an index (lists are
    /// scanned instead).
    pub fn answers(ty: FieldType) -> bool {
        ty != FieldType::IdList
    }

    /// Rows passing `test`.
    pub fn select(&self, test: &Test) -> RoaringBitmap {
        match test {
            Test::IsNull => {
                let mut all = RoaringBitmap::new();
                all.insert_range(0..self.sorted.space as u32);
                all - &self.sorted.not_null
            }
            Test::IsNotNull => self.sorted.not_null.clone(),
            Test::Ranges { ranges, negate } => self.sorted.ranges(ranges, *negate),
            Test::Text { matcher, negate } => {
                let ranks = self.text_ranks(matcher);
                self.sorted.ranges(&ranks, *negate)
            }
            Test::List { .. } => unreachable!("list tests are scanned"),
        }
    }

    /// How many rows pass `test`: exact from the index, except for substring tests.
    pub fn estimate(&self, test: &Test) -> usize {
        let count = |ranges: &[(i64, i64)]| {
            ranges
                .iter()
                .map(|&(l, h)| self.sorted.count(l, h))
                .sum::<usize>()
        };
        let not_null = self.sorted.values.len();
        match test {
            Test::IsNull => self.sorted.space - not_null,
            Test::IsNotNull => not_null,
            Test::Ranges { ranges, negate } => {
                let inside = count(ranges);
                if *negate { not_null - inside } else { inside }
            }
            // Substring tests would scan every distinct value: left for last.
            Test::Text {
                matcher: TextMatcher::Contains(_) | TextMatcher::EndsWith(_),
                ..
            } => self.sorted.space,
            Test::Text { matcher, negate } => {
                let inside = count(&self.text_ranks(matcher));
                if *negate { not_null - inside } else { inside }
            }
            Test::List { .. } => self.sorted.space,
        }
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

    pub fn memory_bytes(&self) -> usize {
        self.sorted.memory_bytes() + self.lower.iter().map(|s| s.capacity() + 24).sum::<usize>()
    }
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
