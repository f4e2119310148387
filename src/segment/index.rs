//! The index the engine answers comparisons from: per column, a bitmap of rows per bin of
//! keys, so that an equality or a range is a union of a few bitmaps.

use std::borrow::Cow;

use datafusion::arrow::array::{Array, Int64Array};
use roaring::{MultiOps, RoaringBitmap};

use crate::data::value::MICROS_PER_DAY;
use crate::model::FieldType;
use crate::segment::bitmaps::{Bitset, filter_rows, for_each_chunk};
use crate::segment::predicate::{Test, TextMatcher, in_ranges};
use crate::segment::rows::{ColumnReader, NumberVisitor, primitive, visit_numbers};
use crate::store::Column;

pub(crate) mod prefixes;
use prefixes::{Cover, Prefixes};

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
/// Bytes of bins unioned for the cost of reading one row's value at random: 4 rows of
/// a sparse bin (2 bytes a row), 256 of a dense one (a bit a row).
const UNION_BYTES_PER_READ: u64 = 8;

/// A column's index: its rows binned by key, a bitmap per bin, bins ascending and
/// disjoint. A key is the value as a number (ints, decimal units, 0/1, days, µs), or for
/// strings the rank of the lower-case value among the column's distinct ones, so that
/// `eq` and `starts_with` are ranges and `contains` a scan of distinct values only.
///
/// It costs about 2 bytes a row (roaring containers of a bin's rows; blocks double it),
/// is built in two sequential passes over the column without sorting it (the range of
/// keys, then each container's worth of rows into its bins), and answers a range with a
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
    /// Per bin: its rows, counted once (a bitmap counts its containers' rows each time:
    /// a bin of 10 million customers' sign-up days has 153 of them).
    bin_rows: Vec<u64>,
    /// Per bin: what its part of a union costs, in reads of a row's value at random.
    union_costs: Vec<u64>,
    /// Block `j` holds the rows of bins `j * BLOCK..(j + 1) * BLOCK`, for indexes of many
    /// bins: a range over a year of day bins unions a few blocks and the bins at its
    /// ends, not hundreds of small bins.
    blocks: Vec<RoaringBitmap>,
    /// For indexes of a row a subject that ask for them: the rows of the first bins,
    /// at places that part the rows in equal shares.
    prefixes: Option<Prefixes>,
    not_null: RoaringBitmap,
    space: usize,
    /// For string columns: the distinct lower-case values, ascending (rank = position).
    lower: Vec<String>,
}

/// Bins in a block.
const BLOCK: usize = 16;

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
    /// None kept: every bin holds one key, so no range cuts a bin.
    Dropped,
}

impl Keys {
    /// Runs `visitor` with a typed reader of the keys.
    fn visit<V: NumberVisitor>(&self, visitor: V) -> V::Output {
        match self {
            Keys::Column(column) => visit_numbers(&ColumnReader::new(column), &[], visitor),
            Keys::Ranks {
                column,
                rank_of_key,
            } => visit_numbers(&ColumnReader::new(column), rank_of_key, visitor),
            Keys::Values(values) => visitor.visit(primitive(values, |v| v)),
            Keys::Dropped => visitor.visit(|_| None),
        }
    }
}

/// The rows of the bins a range cuts that pass it (or, with `passing` false, fail it).
struct CutRows<'a> {
    bins: Vec<&'a RoaringBitmap>,
    ranges: &'a [(i64, i64)],
    passing: bool,
}

impl NumberVisitor for CutRows<'_> {
    type Output = Vec<RoaringBitmap>;

    fn visit<N: Fn(usize) -> Option<i64> + Sync>(self, key: N) -> Vec<RoaringBitmap> {
        let passes = |row: usize| key(row).is_some_and(|k| in_ranges(self.ranges, k));
        self.bins
            .iter()
            .map(|rows| filter_rows(rows, |row| passes(row) == self.passing))
            .collect()
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
            return ColumnIndex::of_text_ranks(column, rank_of_key, lower);
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

    /// An index of a string column by a text key of each value (its lower case, say):
    /// `rank_of_key[k]` is the rank of dictionary value `k`'s key among `distinct`, the
    /// distinct keys ascending. A key's rows are a bin when the distinct keys are few.
    pub fn of_text_ranks(
        column: &Column,
        rank_of_key: Vec<i64>,
        distinct: Vec<String>,
    ) -> ColumnIndex {
        let keys = Keys::Ranks {
            column: column.clone(),
            rank_of_key,
        };
        ColumnIndex::binned(keys, column.array.len(), 1, distinct)
    }

    /// The index without the rows' keys, when every bin holds one key: a range then
    /// never cuts a bin, so no row's key is read again (a text column of a million
    /// distinct values keeps 8 bytes a value for them). Unchanged otherwise.
    pub fn without_row_keys(mut self) -> ColumnIndex {
        if self.lows == self.highs {
            self.keys = Keys::Dropped;
        }
        self
    }

    /// For a text index: its distinct keys, ascending (a key's rank is its place).
    pub fn text_keys(&self) -> &[String] {
        &self.lower
    }

    /// The index with the rows of its first bins at up to 16 places, when it has many
    /// bins: bitmaps of up to a bit a row, which make a range over hundreds of bins (a
    /// day per bin) cost two of them and the bins at its ends, a sixteenth of the rows
    /// at most. For indexes of a row a subject (customers, per-subject aggregates),
    /// whose rows are few beside the relations'.
    pub fn with_prefixes(mut self) -> ColumnIndex {
        self.prefixes = Prefixes::build(&self.bins, 4 * BLOCK);
        self
    }

    /// An index of keys of its own (one per row, nulls for none); `unit` is the width of
    /// the finest bin worth having (a day of microseconds, say).
    pub fn of_values(values: Int64Array, unit: i64) -> ColumnIndex {
        let space = values.len();
        ColumnIndex::binned(Keys::Values(values), space, unit, Vec::new())
    }

    fn binned(keys: Keys, space: usize, unit: i64, lower: Vec<String>) -> ColumnIndex {
        let bins = keys.visit(Binning { space, unit });
        let blocks = if bins.bins.len() >= 4 * BLOCK {
            bins.bins
                .chunks_exact(BLOCK)
                .map(|block| block.iter().union())
                .collect()
        } else {
            Vec::new()
        };
        let union_costs = bins
            .bins
            .iter()
            .map(|rows| rows.serialized_size() as u64 / UNION_BYTES_PER_READ)
            .collect();
        ColumnIndex {
            keys,
            bin_rows: bins.bins.iter().map(RoaringBitmap::len).collect(),
            union_costs,
            lows: bins.lows,
            highs: bins.highs,
            bins: bins.bins,
            blocks,
            prefixes: None,
            not_null: bins.not_null,
            space,
            lower,
        }
    }

    /// Whether `test` on a column of type `ty` is worth answering from an index. Lists
    /// are scanned instead, and so are substring tests: they read every distinct value
    /// either way, and a scan tests each distinct value once too.
    pub fn answers(ty: FieldType, test: &Test) -> bool {
        let substring = matches!(
            test,
            Test::Text {
                matcher: TextMatcher::Contains(_) | TextMatcher::EndsWith(_),
                ..
            }
        );
        ty != FieldType::IdList && !substring
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

    /// Rows of `within` passing `test`. The rows of the bins a range cuts are read only
    /// where they meet `within`. When `within` spans a small part of the rows (a
    /// visitor's views, after the customers'), each bin is cut down to it before the
    /// union too: the union then merges only the containers that `within` reaches.
    pub fn select_within(&self, test: &Test, within: &RoaringBitmap) -> RoaringBitmap {
        if within.is_empty() {
            return RoaringBitmap::new();
        }
        // Every row: nothing to intersect with.
        if within.len() == self.space as u64 && within.max() == Some(self.space as u32 - 1) {
            return self.select(test);
        }
        match test {
            Test::Ranges { ranges, negate } => self.ranges_within(ranges, *negate, Some(within)),
            Test::Text { matcher, negate } => {
                self.ranges_within(&self.text_ranks(matcher), *negate, Some(within))
            }
            _ => self.select(test) & within,
        }
    }

    /// Rows whose key is in one of the sorted, disjoint `ranges`; with `negate`, the
    /// non-null rows in none of them.
    pub fn ranges(&self, ranges: &[(i64, i64)], negate: bool) -> RoaringBitmap {
        self.ranges_within(ranges, negate, None)
    }

    /// [`ColumnIndex::ranges`], of the rows of `within` only when given.
    fn ranges_within(
        &self,
        ranges: &[(i64, i64)],
        negate: bool,
        within: Option<&RoaringBitmap>,
    ) -> RoaringBitmap {
        let (inside, cut, outside) = self.classify(ranges);
        let size = |bins: &[usize]| self.rows_in(bins);
        // Matching rows: the bins inside plus the passing rows of the cut ones, or every
        // row less the bins outside and the failing rows of the cut ones.
        let matched_from_inside = size(&inside) <= size(&outside);
        // A cut bin's rows are read one by one, scattered over the column: only those
        // of `within` (of a 33,000-row bin of birth dates at 10 million customers, the
        // 600 born in the coming week).
        let cut_rows: Vec<Cow<'_, RoaringBitmap>> = cut
            .iter()
            .map(|&b| match within {
                Some(within) => Cow::Owned(&self.bins[b] & within),
                None => Cow::Borrowed(&self.bins[b]),
            })
            .collect();
        let parts = self.keys.visit(CutRows {
            bins: cut_rows.iter().map(|rows| rows.as_ref()).collect(),
            ranges,
            passing: matched_from_inside,
        });
        let narrow = within.filter(|within| {
            let span = within.max().unwrap_or(0) - within.min().unwrap_or(0);
            (span as usize + 1) * 2 < self.space
        });
        let union = |bins: &[usize]| match narrow {
            Some(within) => self
                .rows_of(bins)
                .map(|rows| rows & within)
                .chain(parts.iter().cloned())
                .union(),
            None => {
                let cover = self.cover(bins);
                let bins = cover.other_bins.as_slice();
                let rows = size(bins) + parts.iter().map(|p| p.len()).sum::<u64>();
                // A union of a few rows in 16 (90 days of customers' sign-ups) through a
                // bitset: roaring's would set each container's rows in a bitset of its
                // own and read them back into an array. Not for a handful of rows (a cut
                // bin's within a week of birthdays), which would not pay for zeroing and
                // reading a bitset of every row.
                let rest = if rows * 16 < self.space as u64 && rows * 1024 >= self.space as u64 {
                    let mut bits = Bitset::new(self.space);
                    for rows in self.rows_of(bins).chain(parts.iter()) {
                        for_each_chunk(rows, |chunk| {
                            chunk.iter().for_each(|&row| bits.insert(row))
                        });
                    }
                    bits.into_bitmap()
                } else {
                    self.rows_of(bins).chain(parts.iter()).union()
                };
                match cover.through_prefixes {
                    Some(mut covered) => {
                        covered |= rest;
                        covered
                    }
                    None => rest,
                }
            }
        };
        // What a union over every row (`within` spanning most rows) still needs: the
        // rows of `within` only.
        let of_within = |rows: RoaringBitmap| match (within, narrow) {
            (Some(within), None) => rows & within,
            _ => rows,
        };
        let not_null = || match within {
            Some(within) => &self.not_null & within,
            None => self.not_null.clone(),
        };
        if matched_from_inside {
            let matched = union(&inside);
            if negate {
                not_null() - matched
            } else {
                of_within(matched)
            }
        } else {
            let unmatched = union(&outside);
            if negate {
                of_within(unmatched)
            } else {
                not_null() - unmatched
            }
        }
    }

    /// For keys in the sorted, disjoint `ranges`: the bins wholly inside them, and the
    /// passing rows of the bins they cut.
    pub fn inside_and_cut(&self, ranges: &[(i64, i64)]) -> (Vec<usize>, RoaringBitmap) {
        let (inside, cut, _) = self.classify(ranges);
        let parts = self.keys.visit(CutRows {
            bins: cut.iter().map(|&b| &self.bins[b]).collect(),
            ranges,
            passing: true,
        });
        (inside, parts.iter().union())
    }

    /// The rows of each bin, bins ascending.
    pub fn bins(&self) -> &[RoaringBitmap] {
        &self.bins
    }

    /// `bins` (ascending) as the rows of their whole steps between prefixes, when the
    /// index keeps prefixes, and the other bins.
    fn cover(&self, bins: &[usize]) -> Cover {
        match &self.prefixes {
            Some(prefixes) => prefixes.cover(bins, self.bins.len(), &self.not_null),
            None => Cover {
                through_prefixes: None,
                other_bins: bins.to_vec(),
            },
        }
    }

    /// The bitmaps whose union is the rows of `bins` (ascending): a block for every whole
    /// block among them, else the bins.
    fn rows_of<'a>(&'a self, bins: &'a [usize]) -> impl Iterator<Item = &'a RoaringBitmap> {
        let mut at = 0;
        std::iter::from_fn(move || {
            let &bin = bins.get(at)?;
            let block = bin / BLOCK;
            let whole = bin % BLOCK == 0
                && block < self.blocks.len()
                && bins.get(at + BLOCK - 1) == Some(&(bin + BLOCK - 1));
            if whole {
                at += BLOCK;
                Some(&self.blocks[block])
            } else {
                at += 1;
                Some(&self.bins[bin])
            }
        })
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
        self.rows_in(&inside) + cut.iter().map(|&b| self.bin_rows[b] / 2).sum::<u64>()
    }

    /// How many rows `bins` hold.
    fn rows_in(&self, bins: &[usize]) -> u64 {
        bins.iter().map(|&b| self.bin_rows[b]).sum()
    }

    /// About how many row reads answering `test` costs, in units of one candidate row's
    /// value read at random: the bytes of the bins to union (none when one bin is the
    /// answer, which is only copied), and each row of the bins a range cuts, read one
    /// by one.
    pub fn cost(&self, test: &Test) -> u64 {
        let ranges = match test {
            Test::Ranges { ranges, .. } => ranges.clone(),
            Test::Text { matcher, .. } => self.text_ranks(matcher),
            _ => return 0,
        };
        let (inside, cut, outside) = self.classify(&ranges);
        let size = |bins: &[usize]| self.rows_in(bins);
        let unioned = if size(&inside) <= size(&outside) {
            inside
        } else {
            outside
        };
        let union = match unioned.len() {
            0 | 1 => 0,
            _ => {
                let (prefix_bytes, other_bins) = match &self.prefixes {
                    Some(prefixes) => prefixes.cost(&unioned, self.bins.len(), &self.not_null),
                    None => (0, unioned),
                };
                prefix_bytes / UNION_BYTES_PER_READ
                    + other_bins.iter().map(|&b| self.union_costs[b]).sum::<u64>()
            }
        };
        union + size(&cut)
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
            Keys::Dropped => 0,
        };
        keys + (self.lows.capacity()
            + self.highs.capacity()
            + self.bin_rows.capacity()
            + self.union_costs.capacity())
            * 8
            + self.bins.iter().map(|b| b.serialized_size()).sum::<usize>()
            + self
                .blocks
                .iter()
                .map(|b| b.serialized_size())
                .sum::<usize>()
            + self.prefixes.as_ref().map_or(0, Prefixes::memory_bytes)
            + self.not_null.serialized_size()
            + self.lower.iter().map(|s| s.capacity() + 24).sum::<usize>()
    }

    /// Bins, for the memory breakdown.
    pub fn bin_count(&self) -> usize {
        self.bins.len()
    }
}

/// Rows per roaring container: bins are filled a container's rows at a time.
const CHUNK: usize = 1 << 16;

/// A column's rows in bins, as built.
#[derive(Default)]
struct Bins {
    lows: Vec<i64>,
    highs: Vec<i64>,
    bins: Vec<RoaringBitmap>,
    not_null: RoaringBitmap,
}

/// Builds the bins of a column of `space` rows; `unit` is the finest bin's width.
struct Binning {
    space: usize,
    unit: i64,
}

impl NumberVisitor for Binning {
    type Output = Bins;

    /// Bins the rows by `key`: one pass for the range of keys, a sample for quantiles
    /// when the units are many, then one pass that puts each container's worth of rows
    /// into its bins, each half of the rows on a thread of its own.
    fn visit<N: Fn(usize) -> Option<i64> + Sync>(self, key: N) -> Bins {
        // The common units are constants, so that no row pays for a division instruction.
        match self.unit {
            1 => bin_rows(self.space, key, |k| k),
            MICROS_PER_DAY => bin_rows(self.space, key, |k| k.div_euclid(MICROS_PER_DAY)),
            unit => bin_rows(self.space, key, move |k| k.div_euclid(unit)),
        }
    }
}

/// Bins `space` rows by their `key`, a bin per unit (`unit_of`) or per quantile.
fn bin_rows(
    space: usize,
    key: impl Fn(usize) -> Option<i64> + Sync,
    unit_of: impl Fn(i64) -> i64 + Sync,
) -> Bins {
    {
        let (mut first, mut last, mut present) = (i64::MAX, i64::MIN, 0usize);
        for row in 0..space {
            if let Some(key) = key(row) {
                first = first.min(key);
                last = last.max(key);
                present += 1;
            }
        }
        if present == 0 {
            return Bins::default();
        }
        let (first, last) = (unit_of(first), unit_of(last));
        let units = last as i128 - first as i128 + 1;
        // Few units: a bin each (empty ones are dropped at the end); else quantiles.
        let starts: Vec<i64> = if units <= MAX_UNIT_BINS as i128 {
            (first..=last).collect()
        } else {
            quantile_starts(&key, space, first, &unit_of)
        };
        let table: Option<Vec<u16>> = (units <= MAX_UNIT_TABLE as i128).then(|| {
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
        let middle = (space.div_ceil(CHUNK) / 2) * CHUNK;
        let (mut built, upper) = std::thread::scope(|scope| {
            let upper = scope.spawn(|| fill(middle..space, starts.len(), &key, &bin_of));
            let lower = fill(0..middle, starts.len(), &key, &bin_of);
            (
                lower,
                upper.join().expect("the binning thread does not panic"),
            )
        });
        for (bin, rows) in upper.bins.into_iter().enumerate() {
            built.bins[bin] |= rows;
            built.lows[bin] = built.lows[bin].min(upper.lows[bin]);
            built.highs[bin] = built.highs[bin].max(upper.highs[bin]);
        }
        let mut bins = Bins::default();
        for ((rows, low), high) in built.bins.into_iter().zip(built.lows).zip(built.highs) {
            if !rows.is_empty() {
                bins.bins.push(rows);
                bins.lows.push(low);
                bins.highs.push(high);
            }
        }
        bins.not_null = if present == space {
            let mut all = RoaringBitmap::new();
            all.insert_range(0..space as u32);
            all
        } else {
            bins.bins.iter().union()
        };
        bins
    }
}

/// The rows of `rows` (starting at a container's first row) put in their bins.
fn fill(
    rows: std::ops::Range<usize>,
    bins: usize,
    key: &(impl Fn(usize) -> Option<i64> + Sync),
    bin_of: &(impl Fn(i64) -> usize + Sync),
) -> Bins {
    let mut built = Bins {
        lows: vec![i64::MAX; bins],
        highs: vec![i64::MIN; bins],
        bins: vec![RoaringBitmap::new(); bins],
        not_null: RoaringBitmap::new(),
    };
    let mut pending: Vec<Vec<u16>> = vec![Vec::new(); bins];
    let mut touched: Vec<usize> = Vec::new();
    let mut bits = vec![0u8; CHUNK / 8];
    let mut start = rows.start;
    while start < rows.end {
        let end = (start + CHUNK).min(rows.end);
        for row in start..end {
            if let Some(key) = key(row) {
                let bin = bin_of(key);
                if pending[bin].is_empty() {
                    touched.push(bin);
                }
                pending[bin].push((row - start) as u16);
                built.lows[bin] = built.lows[bin].min(key);
                built.highs[bin] = built.highs[bin].max(key);
            }
        }
        let base = start as u32;
        for &bin in &touched {
            let low_bits = &mut pending[bin];
            if low_bits.len() > 4096 {
                // A dense container: through a bitset, not value by value.
                bits.fill(0);
                for &low in low_bits.iter() {
                    bits[low as usize / 8] |= 1 << (low % 8);
                }
                built.bins[bin] |= RoaringBitmap::from_lsb0_bytes(base, &bits);
            } else {
                built.bins[bin]
                    .append(low_bits.iter().map(|&low| base | low as u32))
                    .expect("rows ascend");
            }
            low_bits.clear();
            if low_bits.capacity() > 8192 {
                low_bits.shrink_to(1024);
            }
        }
        touched.clear();
        start = end;
    }
    built
}

/// The first unit of each quantile bin, from a sample of the keys spread over the rows:
/// a unit that alone fills a bin's share of the sample (a common value) gets a bin of
/// its own, so that an equality on it never reads rows one by one.
fn quantile_starts(
    key: &impl Fn(usize) -> Option<i64>,
    space: usize,
    first: i64,
    unit_of: impl Fn(i64) -> i64,
) -> Vec<i64> {
    let step = (space / SAMPLE_KEYS).max(1);
    let mut sample: Vec<i64> = (0..space)
        .step_by(step)
        .filter_map(|row| key(row).map(&unit_of))
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
