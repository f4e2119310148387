//! A whole column tested in one pass in row order, into a bitset of the passing rows.
//!
//! For a test that many rows of a table pass (a parent's `created_at` in the last year:
//! 5.7M of 10.5M orders at M), reading every value in order — four bytes a row, which the
//! prefetcher streams — costs less than the union of the index bins that hold the passing
//! rows, which sets each of them one at a time.

use std::ops::Range;

use datafusion::arrow::array::{Array, PrimitiveArray};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::datatypes::ArrowPrimitiveType;

use crate::data::value::MICROS_PER_SECOND;
use crate::segment::bitmaps::Bitset;
use crate::segment::predicate::Test;
use crate::segment::rows::ColumnReader;
use crate::store::Ints;

/// Ranges of a test beyond which a pass per value costs more than the index's union.
const MAX_RANGES: usize = 4;

/// Whether [`passing_rows`] answers `test` over the column `reader` reads.
pub fn answers(reader: &ColumnReader<'_>, test: &Test) -> bool {
    let scanned = matches!(
        reader,
        ColumnReader::Ints(Ints::I8(_) | Ints::I16(_) | Ints::I32(_) | Ints::I64(_))
            | ColumnReader::Date(_)
            | ColumnReader::Timestamp(_)
            | ColumnReader::Seconds(_)
    );
    scanned && matches!(test, Test::Ranges { ranges, .. } if ranges.len() <= MAX_RANGES)
}

/// The rows among `rows` of the column `reader` reads that pass `test`, for a test of
/// number ranges over a number, date or timestamp column; none for other tests and
/// columns. The bitset spans the whole column; only the words over `rows` are read.
pub fn passing_rows(reader: &ColumnReader<'_>, test: &Test, rows: Range<usize>) -> Option<Bitset> {
    let Test::Ranges { ranges, negate } = test else {
        return None;
    };
    if !answers(reader, test) {
        return None;
    }
    // Whole words: from the word holding the first row to the one holding the last.
    let of_rows = rows.start / 64..rows.end.div_ceil(64);
    let (mut words, nulls, length, scanned) = match reader {
        ColumnReader::Ints(Ints::I8(a)) => scan(a, ranges, i64::from, of_rows),
        ColumnReader::Ints(Ints::I16(a)) => scan(a, ranges, i64::from, of_rows),
        ColumnReader::Ints(Ints::I32(a)) => scan(a, ranges, i64::from, of_rows),
        ColumnReader::Ints(Ints::I64(a)) => scan(a, ranges, |v| v, of_rows),
        ColumnReader::Date(a) => scan(a, ranges, i64::from, of_rows),
        ColumnReader::Timestamp(a) => scan(a, ranges, |v| v, of_rows),
        // Compared in whole seconds: the ranges in µs cut to the seconds inside them,
        // and to the seconds a u32 holds, so that the compare is of 32 bits (four values
        // an instruction, not two).
        ColumnReader::Seconds(a) => {
            let seconds: Vec<(u32, u32)> = ranges
                .iter()
                .map(|&(low, high)| {
                    (
                        low.div_euclid(MICROS_PER_SECOND)
                            + i64::from(low.rem_euclid(MICROS_PER_SECOND) != 0),
                        high.div_euclid(MICROS_PER_SECOND),
                    )
                })
                .map(|(low, high)| (low.max(0), high.min(i64::from(u32::MAX))))
                .filter(|(low, high)| low <= high)
                .map(|(low, high)| (low as u32, high as u32))
                .collect();
            scan(a, &seconds, |v| v, of_rows)
        }
        _ => return None,
    };
    let first_word = scanned.start;
    let scanned = &mut words[scanned];
    if *negate {
        scanned.iter_mut().for_each(|word| *word = !*word);
    }
    // A null passes no range test, negated or not; rows past the end are not rows.
    if let Some(nulls) = nulls {
        let valid = nulls.inner().bit_chunks().iter_padded().skip(first_word);
        for (word, valid) in scanned.iter_mut().zip(valid) {
            *word &= valid;
        }
    }
    if length % 64 != 0
        && first_word + scanned.len() == length.div_ceil(64)
        && let Some(last) = scanned.last_mut()
    {
        *last &= (1u64 << (length % 64)) - 1;
    }
    Some(Bitset::from_words(words))
}

/// A value as a scan compares it: its distance above a range's low end, unsigned, is
/// at most the range's span when it is in the range.
trait Distance: Copy + PartialOrd {
    type Unsigned: Copy + PartialOrd;
    fn above(self, low: Self) -> Self::Unsigned;
}

impl Distance for i64 {
    type Unsigned = u64;
    #[inline(always)]
    fn above(self, low: i64) -> u64 {
        self.wrapping_sub(low) as u64
    }
}

impl Distance for u32 {
    type Unsigned = u32;
    #[inline(always)]
    fn above(self, low: u32) -> u32 {
        self.wrapping_sub(low)
    }
}

/// The words of pass bits of `array` (a bit a value), those in `words` set from the
/// values, with the array's nulls, its length and the words set (`words` within it).
fn scan<'a, T: ArrowPrimitiveType, K: Distance>(
    array: &'a PrimitiveArray<T>,
    ranges: &[(K, K)],
    widen: impl Fn(T::Native) -> K,
    words: Range<usize>,
) -> (Vec<u64>, Option<&'a NullBuffer>, usize, Range<usize>) {
    // One compare a range, which vectorises.
    let spans: Vec<(K, K::Unsigned)> = ranges
        .iter()
        .filter(|(low, high)| low <= high)
        .map(|&(low, high)| (low, high.above(low)))
        .collect();
    let all = array.values();
    let mut bits = vec![0u64; all.len().div_ceil(64)];
    let end = words.end.min(bits.len());
    let words = words.start.min(end)..end;
    let values = &all[(words.start * 64).min(all.len())..(end * 64).min(all.len())];
    let scanned = &mut bits[words.clone()];
    match spans.as_slice() {
        // One range (a time window): its own loop, so the compare vectorises.
        &[(low, span)] => words_passing(values, scanned, |v| widen(v).above(low) <= span),
        spans => words_passing(values, scanned, |v| {
            let value = widen(v);
            spans.iter().any(|&(low, span)| value.above(low) <= span)
        }),
    };
    (bits, array.nulls(), all.len(), words)
}

/// Each 64 values tested into a byte each (a loop that vectorises), then each 8 bytes
/// of 0 or 1 gathered into 8 bits by one multiply: a shift by a different count per
/// value does not vectorise.
fn words_passing<V: Copy>(values: &[V], words: &mut [u64], passes: impl Fn(V) -> bool) {
    const GATHER_LOW_BITS: u64 = 0x0102_0408_1020_4080;
    for (word, chunk) in words.iter_mut().zip(values.chunks(64)) {
        *word = {
            let mut bytes = [0u8; 64];
            for (byte, &value) in bytes.iter_mut().zip(chunk) {
                *byte = u8::from(passes(value));
            }
            bytes
                .chunks_exact(8)
                .enumerate()
                .fold(0u64, |word, (at, eight)| {
                    let eight = u64::from_le_bytes(eight.try_into().expect("eight bytes"));
                    word | (eight.wrapping_mul(GATHER_LOW_BITS) >> 56) << (8 * at)
                })
        };
    }
}
