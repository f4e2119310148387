//! An index of a string column by each value's tail from its last `@` (an email's
//! domain, `@example.com`), so that `ends_with` is the rows of a few bins rather than a
//! read of every candidate's text.
//!
//! On the lower case `v` of a value, with `t` its tail (from the last `@`, or all of `v`
//! when it has none): for a suffix without `@`, `v` ends with it exactly when `t` does
//! (a longer suffix would reach the `@`); for one ending `@d`, `v` can end with it only
//! when `t` is `@d`, and does when the part before `@` ends where `v`'s does, which the
//! rows of that bin are read for (none when the suffix starts with `@`).

use datafusion::arrow::array::Array;
use roaring::RoaringBitmap;
use rustc_hash::FxHashMap;

use crate::segment::index::ColumnIndex;
use crate::segment::predicate::{Test, normalise};
use crate::segment::rows::ColumnReader;
use crate::store::Column;

/// Distinct tails beyond which a column keeps no tail index: each tail is a bin.
const MAX_TAILS: usize = 4096;

pub struct TailIndex {
    /// Keyed by tail: its text keys are the distinct tails, ascending.
    index: ColumnIndex,
}

/// How a suffix is answered: the tails' ranks whose rows may pass, and whether they all
/// do (else each of their rows is read).
struct Answer {
    ranges: Vec<(i64, i64)>,
    exact: bool,
}

impl TailIndex {
    /// The tail index of a string column; `None` for other columns, and when the tails
    /// are more than [`MAX_TAILS`] (values that are not emails).
    pub fn build(column: &Column) -> Option<TailIndex> {
        let ColumnReader::Text { values, .. } = ColumnReader::new(column) else {
            return None;
        };
        // Each value's tail as written, numbered without a copy; then the distinct ones
        // lowered. Lowering a tail alone lowers it as within its value: only a final
        // sigma looks at its neighbours, and no letter lies across the `@`.
        let mut id_of_tail: FxHashMap<&str, u32> = FxHashMap::default();
        let mut tail_id_of_key = Vec::with_capacity(values.len());
        for key in 0..values.len() {
            let value = values.value(key);
            let tail = &value[value.rfind('@').unwrap_or(0)..];
            let next = id_of_tail.len() as u32;
            tail_id_of_key.push(*id_of_tail.entry(tail).or_insert(next));
            // Several spellings of a tail ("@Example.com") are one once lowered.
            if id_of_tail.len() > 4 * MAX_TAILS {
                return None;
            }
        }
        let mut lowered = vec![String::new(); id_of_tail.len()];
        for (tail, id) in id_of_tail {
            lowered[id as usize] = tail.to_lowercase();
        }
        let mut distinct = lowered.clone();
        distinct.sort_unstable();
        distinct.dedup();
        if distinct.len() > MAX_TAILS {
            return None;
        }
        let rank_of_tail: Vec<i64> = lowered
            .iter()
            .map(|tail| distinct.binary_search(tail).expect("present") as i64)
            .collect();
        let rank_of_key = tail_id_of_key
            .into_iter()
            .map(|id| rank_of_tail[id as usize])
            .collect();
        let index = ColumnIndex::of_text_ranks(column, rank_of_key, distinct);
        Some(TailIndex {
            index: index.without_row_keys(),
        })
    }

    fn answer(&self, suffix: &str) -> Answer {
        let tails = self.index.text_keys();
        let ranks = |pass: &dyn Fn(&str) -> bool| {
            let ranks = tails
                .iter()
                .enumerate()
                .filter(|(_, tail)| pass(tail))
                .map(|(rank, _)| (rank as i64, rank as i64))
                .collect();
            normalise(ranks)
        };
        match suffix.rfind('@') {
            None => Answer {
                ranges: ranks(&|tail| tail.ends_with(suffix)),
                exact: true,
            },
            Some(at) => Answer {
                ranges: ranks(&|tail| tail == &suffix[at..]),
                exact: at == 0,
            },
        }
    }

    /// The rows of `within` whose value's lower case ends with `suffix` (lower case),
    /// or with `negate` its non-null rows that do not; `read` tests the rows whose tail
    /// does not decide (positively).
    pub fn ends_with(
        &self,
        suffix: &str,
        negate: bool,
        within: &RoaringBitmap,
        read: impl FnOnce(&RoaringBitmap) -> RoaringBitmap,
    ) -> RoaringBitmap {
        let Answer { ranges, exact } = self.answer(suffix);
        if exact {
            return self
                .index
                .select_within(&Test::Ranges { ranges, negate }, within);
        }
        let candidates = self.index.select_within(
            &Test::Ranges {
                ranges,
                negate: false,
            },
            within,
        );
        let passing = read(&candidates);
        match negate {
            true => (self.index.not_null() & within) - passing,
            false => passing,
        }
    }

    /// About how many row reads [`TailIndex::ends_with`] costs, as `ColumnIndex::cost`
    /// counts them, plus the rows it reads.
    pub fn cost(&self, suffix: &str) -> u64 {
        let Answer { ranges, exact } = self.answer(suffix);
        let test = Test::Ranges {
            ranges,
            negate: false,
        };
        let read = if exact { 0 } else { self.index.estimate(&test) };
        self.index.cost(&test) + read as u64
    }

    pub fn memory_bytes(&self) -> usize {
        self.index.memory_bytes()
    }

    /// Distinct tails, for the memory breakdown.
    pub fn tail_count(&self) -> usize {
        self.index.text_keys().len()
    }
}
