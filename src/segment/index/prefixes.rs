//! The rows of an index's first bins, every so many bins. Bins are disjoint, so the rows
//! of bins `a..b` are those of the first `b` bins less those of the first `a`: a range
//! over hundreds of bins ("last ordered more than 180 days ago", of a million customers'
//! last order days) is one difference of two bitmaps of a bit a row and the bins at its
//! two ends, instead of a union that sets each of its rows one at a time.

use roaring::{MultiOps, RoaringBitmap};

/// Prefixes an index keeps at most: each costs up to a bit a row.
const MAX_PREFIXES: usize = 16;

pub(super) struct Prefixes {
    /// Ascending bin numbers, none 0 or the last: prefix `j` holds the rows of bins
    /// `0..ends[j]`. They part the rows in equal shares, so that the bins at a range's
    /// ends, which are unioned, hold at most a share each.
    ends: Vec<usize>,
    of: Vec<RoaringBitmap>,
}

/// A union of bins as the rows read through prefixes and the bins left to union.
pub(super) struct Cover {
    pub through_prefixes: Option<RoaringBitmap>,
    pub other_bins: Vec<usize>,
}

impl Prefixes {
    /// Prefixes of `bins`, at most [`MAX_PREFIXES`]; `None` for fewer than `min_bins`
    /// bins, whose unions are cheap.
    pub fn build(bins: &[RoaringBitmap], min_bins: usize) -> Option<Prefixes> {
        if bins.len() < min_bins {
            return None;
        }
        let (ends, of) = unions_of_first(bins.iter(), MAX_PREFIXES)
            .into_iter()
            .unzip();
        Some(Prefixes { ends, of })
    }

    /// The rows of bins `0..end`, `end` 0, a prefix's end or the bin count; `all` is
    /// every binned row (the rows of every bin).
    fn rows_before<'a>(&'a self, end: usize, all: &'a RoaringBitmap) -> Option<&'a RoaringBitmap> {
        match end {
            0 => None,
            _ => match self.ends.binary_search(&end) {
                Ok(j) => Some(&self.of[j]),
                Err(_) => Some(all),
            },
        }
    }

    /// Splits `bins` (ascending, of an index of `bin_count` bins whose bins hold `all`
    /// together) into the rows of their runs' whole steps and the bins at the runs' ends.
    pub fn cover(&self, bins: &[usize], bin_count: usize, all: &RoaringBitmap) -> Cover {
        let (spans, other_bins) = self.split(bins, bin_count);
        let through_prefixes = spans
            .into_iter()
            .map(|(first, last)| {
                let upto = self.rows_before(last, all).expect("past the first bin");
                match self.rows_before(first, all) {
                    Some(before) => upto - before,
                    None => upto.clone(),
                }
            })
            .reduce(|covered, rows| covered | rows);
        Cover {
            through_prefixes,
            other_bins,
        }
    }

    /// What reading the whole steps of `bins` costs, in bytes of the prefixes read, and
    /// the bins left to union.
    pub fn cost(&self, bins: &[usize], bin_count: usize, all: &RoaringBitmap) -> (u64, Vec<usize>) {
        let (spans, other_bins) = self.split(bins, bin_count);
        let bytes = spans
            .into_iter()
            .flat_map(|(first, last)| [first, last])
            .filter_map(|end| self.rows_before(end, all))
            .map(|rows| rows.serialized_size() as u64)
            .sum();
        (bytes, other_bins)
    }

    /// Per run of `bins`, its part from its first prefix end to its last (0 and the
    /// bin count count as ends) as `(first, last)`, and the bins of the runs outside them.
    fn split(&self, bins: &[usize], bin_count: usize) -> (Vec<(usize, usize)>, Vec<usize>) {
        let ends = || {
            std::iter::once(0)
                .chain(self.ends.iter().copied())
                .chain([bin_count])
        };
        let mut spans = Vec::new();
        let mut other_bins = Vec::new();
        for run in runs(bins) {
            let first = ends().find(|&end| end >= run.start);
            let last = ends().take_while(|&end| end <= run.end).last();
            match (first, last) {
                (Some(first), Some(last)) if first < last => {
                    spans.push((first, last));
                    other_bins.extend(run.start..first);
                    other_bins.extend(last..run.end);
                }
                _ => other_bins.extend(run),
            }
        }
        (spans, other_bins)
    }

    pub fn memory_bytes(&self) -> usize {
        self.of.iter().map(RoaringBitmap::serialized_size).sum()
    }
}

/// Unions of the first bins of `bins` at up to `places` places, as `(count, union of the
/// first count bins)`, count ascending, neither 0 nor every bin. The places part the bins'
/// rows in equal shares, so that the bins between two places hold a share at most.
pub(crate) fn unions_of_first<'a>(
    bins: impl IntoIterator<Item = &'a RoaringBitmap>,
    places: usize,
) -> Vec<(usize, RoaringBitmap)> {
    let bins: Vec<&RoaringBitmap> = bins.into_iter().collect();
    let total: u64 = bins.iter().map(|rows| rows.len()).sum();
    let share = total / (places as u64 + 1) + 1;
    let mut unions: Vec<(usize, RoaringBitmap)> = Vec::new();
    let (mut running, mut rows, mut start) = (RoaringBitmap::new(), 0, 0);
    for (bin, of_bin) in bins.iter().enumerate() {
        rows += of_bin.len();
        let end = bin + 1;
        if rows >= share * (unions.len() as u64 + 1) && end < bins.len() {
            running |= bins[start..end].iter().copied().union();
            start = end;
            unions.push((end, running.clone()));
        }
    }
    unions
}

/// The runs of consecutive bins in `bins` (ascending).
pub(crate) fn runs(bins: &[usize]) -> impl Iterator<Item = std::ops::Range<usize>> + '_ {
    let mut at = 0;
    std::iter::from_fn(move || {
        let &start = bins.get(at)?;
        let mut end = start + 1;
        at += 1;
        while bins.get(at) == Some(&end) {
            end += 1;
            at += 1;
        }
        Some(start..end)
    })
}
