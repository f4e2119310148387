//! The bitmap helpers the engine relies on, over bitmaps of many containers and every
//! container kind (arrays, bitsets, runs).

use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64;
use roaring::RoaringBitmap;
use segmint::segment::bitmaps::{
    Bitset, bitmap_from_ascending, bitmap_from_rows, filter_rows, for_each_chunk, for_each_row,
    for_intersecting,
};

fn mixed_bitmap(seed: u64) -> RoaringBitmap {
    let mut rng = Pcg64::seed_from_u64(seed);
    let mut bitmap = RoaringBitmap::new();
    for container in 0..40u32 {
        let base = container * 65_536;
        match container % 5 {
            0 => (0..100).for_each(|_| {
                bitmap.insert(base + rng.random_range(0..65_536));
            }),
            1 => (0..30_000).for_each(|_| {
                bitmap.insert(base + rng.random_range(0..65_536));
            }),
            2 => {
                bitmap.insert_range(base + 10..base + 60_000);
            }
            // A full container, which roaring 0.12.0's `next_many` skips.
            3 if container % 3 == 0 => {
                bitmap.insert_range(base..base + 65_536);
            }
            _ => {}
        }
    }
    bitmap.optimize();
    bitmap
}

#[test]
fn filtering_keeps_exactly_the_rows_that_pass() {
    for seed in 0..4 {
        let bitmap = mixed_bitmap(seed);
        assert_eq!(
            filter_rows(&bitmap, |_| true),
            bitmap,
            "seed {seed}: every row"
        );
        let mut visited = Vec::new();
        for_each_row(&bitmap, |row| visited.push(row));
        assert_eq!(
            visited,
            bitmap.iter().collect::<Vec<_>>(),
            "seed {seed}: in order"
        );
        let even: RoaringBitmap = bitmap.iter().filter(|r| r % 2 == 0).collect();
        assert_eq!(
            filter_rows(&bitmap, |r| r % 2 == 0),
            even,
            "seed {seed}: even rows"
        );
    }
}

#[test]
fn filtering_scattered_and_running_rows_keeps_each_passing_row() {
    // Scattered rows are all tested before any is kept, rows in runs kept as tested:
    // a pass that depends on each row's own value, over both kinds and chunk edges.
    let passes = |row: u32| row.wrapping_mul(2_654_435_761) % 7 < 3;
    let mut runs = RoaringBitmap::new();
    runs.insert_range(1_000..5_000);
    runs.insert_range(70_000..200_000);
    for (what, bitmap) in [("scattered", mixed_bitmap(9)), ("in runs", runs)] {
        let expected: RoaringBitmap = bitmap.iter().filter(|&r| passes(r)).collect();
        assert!(expected.len() * 4 > bitmap.len(), "{what}: many rows pass");
        assert_eq!(
            filter_rows(&bitmap, |r| passes(r as u32)),
            expected,
            "{what}"
        );
        assert!(
            filter_rows(&bitmap, |_| false).is_empty(),
            "{what}: none pass"
        );
    }
}

#[test]
fn filtering_reads_every_row_of_inserted_ranges() {
    // insert_range fills whole containers as bitsets; reading them in batches once lost rows.
    let mut bitmap = RoaringBitmap::new();
    bitmap.insert_range(2_003_772..2_254_389);
    assert_eq!(filter_rows(&bitmap, |_| true), bitmap);
    let mut visited = Vec::new();
    for_each_row(&bitmap, |row| visited.push(row));
    assert_eq!(visited, bitmap.iter().collect::<Vec<_>>());
}

#[test]
fn chunks_hold_every_row_in_order_with_full_containers_anywhere() {
    let full = |keys: &[u32]| {
        let mut bitmap = RoaringBitmap::new();
        keys.iter()
            .for_each(|&key| _ = bitmap.insert_range(key << 16..(key + 1) << 16));
        bitmap
    };
    let mut cases: Vec<RoaringBitmap> = (0..6).map(mixed_bitmap).collect();
    // Full containers first, last, alone, side by side, and between sparse rows.
    cases.push(full(&[0]));
    cases.push(full(&[3, 4, 9]));
    let mut between = full(&[2, 5]);
    between.extend([7, 65_536 * 3 + 5, 65_536 * 4, 65_536 * 9 + 1]);
    cases.push(between);
    let mut after_sparse = full(&[40]);
    after_sparse.extend((0..70_000).map(|i| i * 7));
    cases.push(after_sparse);
    for (case, bitmap) in cases.iter().enumerate() {
        let mut read = Vec::new();
        for_each_chunk(bitmap, |chunk| read.extend_from_slice(chunk));
        assert_eq!(read.len() as u64, bitmap.len(), "case {case}: every row");
        assert!(
            read.iter().eq(bitmap.iter().collect::<Vec<_>>().iter()),
            "case {case}: in order"
        );
    }
}

#[test]
fn bitmaps_from_unordered_rows_hold_every_row() {
    let bitmap = mixed_bitmap(9);
    let mut rows: Vec<u32> = bitmap.iter().collect();
    rows.reverse();
    assert_eq!(bitmap_from_rows(rows.clone(), 40 * 65_536), bitmap);
    // Repeated rows, many and few (a subject of several rows).
    let repeated: Vec<u32> = rows.iter().flat_map(|&row| [row, row]).collect();
    assert_eq!(bitmap_from_rows(repeated, 40 * 65_536), bitmap);
    assert_eq!(
        bitmap_from_rows(vec![9, 3, 9, 3, 3], 40 * 65_536),
        RoaringBitmap::from_iter([3, 9])
    );
    // Rows few against their space (put in their containers first), repeated, in any
    // order, one container holding more than an array does.
    let mut rng = Pcg64::seed_from_u64(10);
    let mut sparse: Vec<u32> = (0..20_000)
        .map(|_| rng.random_range(0..1u32 << 26))
        .collect();
    sparse.extend((0..6_000).map(|_| (7 << 16) + rng.random_range(0..65_536)));
    sparse.extend(sparse.clone().iter().step_by(3));
    let expected = RoaringBitmap::from_iter(sparse.iter().copied());
    assert_eq!(bitmap_from_rows(sparse, 1 << 30), expected);
}

#[test]
fn bitmaps_from_ascending_rows_hold_exactly_those_rows() {
    let mut cases: Vec<Vec<u32>> = (0..6)
        .map(|seed| mixed_bitmap(seed).iter().collect())
        .collect();
    cases.push(Vec::new());
    cases.push(vec![0, 65_535, 65_536, u32::MAX]);
    // A container of exactly as many rows as an array holds, and one more.
    cases.push(
        (0..4_096)
            .chain((65_536..65_536 + 4_097).step_by(1))
            .collect(),
    );
    for (case, rows) in cases.iter().enumerate() {
        let bitmap = bitmap_from_ascending(rows);
        assert!(bitmap.iter().eq(rows.iter().copied()), "case {case}");
        assert_eq!(bitmap.len(), rows.len() as u64, "case {case}: count");
    }
}

#[test]
fn bitsets_of_bitmaps_hold_exactly_their_rows() {
    let mut cases: Vec<RoaringBitmap> = (0..6).map(mixed_bitmap).collect();
    // Without run containers, with few containers and runs (no offsets written), empty.
    let mut no_runs = mixed_bitmap(7);
    no_runs.remove_run_compression();
    cases.push(no_runs);
    let mut few = RoaringBitmap::new();
    few.insert_range(5..70_000);
    few.insert(1 << 20);
    few.optimize();
    cases.push(few);
    cases.push(RoaringBitmap::new());
    cases.push(RoaringBitmap::from_iter([3 << 20, (3 << 20) + 65_535]));
    for (case, bitmap) in cases.iter().enumerate() {
        let bits = Bitset::from_bitmap(bitmap);
        let span = bitmap.max().map_or(0, |max| max + 2);
        let set = (0..span).filter(|&row| bits.contains(row));
        assert!(set.eq(bitmap.iter()), "case {case}");
        let back = bits.into_bitmap();
        assert_eq!(back.len(), bitmap.len(), "case {case}: count");
        assert_eq!(back, *bitmap, "case {case}: back as a bitmap");
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(32))]

    /// A bitset's rows read back as the bitmap of those rows, whatever its words hold:
    /// none, one, or runs of up to 64 rows, a container's last word, containers of a
    /// few rows, of exactly the 4,096 an array holds, and of more.
    #[test]
    fn bitsets_read_back_as_the_bitmap_of_their_rows(
        containers in proptest::collection::vec(
            (0u32..4, 0usize..4_400, 1u32..=64, proptest::bool::ANY, proptest::prelude::any::<u64>()),
            1..6,
        ),
        exactly_full_array in proptest::bool::ANY,
    ) {
        let mut expected = RoaringBitmap::new();
        for (key, rows, run, last_word, seed) in containers {
            let mut rng = Pcg64::seed_from_u64(seed);
            let base = key << 16;
            let in_key = |bitmap: &RoaringBitmap| bitmap.range_cardinality(base..base + 65_536);
            while in_key(&expected) < rows as u64 {
                let start = base + rng.random_range(0..65_536);
                expected.insert_range(start..(start + run).min(base + 65_536));
            }
            if last_word {
                expected.insert_range(base + 65_472..base + 65_536);
            }
        }
        if exactly_full_array {
            // Key 5: every other row of its first 8,192, 4,096 rows.
            expected.extend((0..4_096u32).map(|i| (5 << 16) + 2 * i));
        }
        let mut bits = Bitset::new(6 << 16);
        expected.iter().for_each(|row| bits.insert(row));
        let back = bits.into_bitmap();
        proptest::prop_assert_eq!(back.len(), expected.len());
        proptest::prop_assert_eq!(back, expected);
    }

    /// Rows made ready for intersecting are the same rows, and intersect with arrays,
    /// bitsets and runs as the rows did: containers of a few runs and of many (up to
    /// 3,000 runs of up to 300 rows over six containers), and runs across container
    /// boundaries.
    #[test]
    fn rows_ready_for_intersecting_are_the_same_rows(
        runs in proptest::collection::vec((0u32..6 << 16, 1u32..300), 0..3_000),
        others in proptest::collection::vec(0u64..1_000, 1..4),
    ) {
        let mut rows = RoaringBitmap::new();
        for (start, length) in &runs {
            rows.insert_range(*start..start + length);
        }
        let ready = for_intersecting(rows.clone());
        proptest::prop_assert_eq!(&ready, &rows);
        proptest::prop_assert_eq!(ready.len(), rows.len());
        for seed in others {
            let other = mixed_bitmap(seed);
            proptest::prop_assert_eq!(&ready & &other, &rows & &other);
            proptest::prop_assert_eq!(&other & &ready, &other & &rows);
            let mut narrowed = other.clone();
            narrowed &= &ready;
            proptest::prop_assert_eq!(narrowed, &other & &rows);
        }
    }

    /// Ranges set in a bitset (within a word, across words, whole words, at the end) are
    /// the rows of those ranges; its runs, read back, are those rows as maximal runs in
    /// order (runs that meet are one).
    #[test]
    fn bitset_ranges_set_and_read_back_as_runs(
        ranges in proptest::collection::vec((0u32..5_000, 0u32..300), 0..60),
        singles in proptest::collection::vec(0u32..5_300, 0..60),
    ) {
        const SPACE: u32 = 5_300;
        let mut bits = Bitset::new(SPACE as usize);
        let mut expected = RoaringBitmap::new();
        for &(start, length) in &ranges {
            bits.insert_range(start..start + length);
            expected.insert_range(start..start + length);
        }
        for &row in &singles {
            bits.insert(row);
            expected.insert(row);
        }
        bits.insert_range(SPACE - 3..SPACE);
        expected.insert_range(SPACE - 3..SPACE);
        let mut runs = Vec::new();
        bits.for_each_run(|run| runs.push(run));
        let mut expected_runs: Vec<std::ops::Range<u32>> = Vec::new();
        for row in &expected {
            match expected_runs.last_mut() {
                Some(run) if run.end == row => run.end += 1,
                _ => expected_runs.push(row..row + 1),
            }
        }
        proptest::prop_assert_eq!(runs, expected_runs);
        proptest::prop_assert_eq!(bits.into_bitmap(), expected);
    }

    /// Members kept as a bitmap and the subjects that entered and left since: every
    /// reading agrees with a plain set, across the writes that make it whole again, and
    /// the members a clone was taken from stay as they were.
    #[test]
    fn members_set_one_at_a_time_read_as_a_plain_set(
        start in proptest::collection::btree_set(0u32..200_000, 0..3_000),
        writes in proptest::collection::vec((0u32..200_000, proptest::bool::ANY), 0..20_000),
    ) {
        use segmint::service::Members;
        let mut members = Members::new(start.iter().copied().collect());
        let mut expected = start.clone();
        let kept = members.clone();
        for (i, &(subject, member)) in writes.iter().enumerate() {
            members.set(subject, member);
            if member {
                expected.insert(subject);
            } else {
                expected.remove(&subject);
            }
            if i % 997 == 0 {
                let whole: Vec<u32> = members.bitmap().iter().collect();
                proptest::prop_assert_eq!(whole, expected.iter().copied().collect::<Vec<_>>());
            }
            proptest::prop_assert_eq!(members.contains(subject), member);
        }
        proptest::prop_assert_eq!(members.len(), expected.len() as u64);
        let whole: Vec<u32> = members.bitmap().iter().collect();
        proptest::prop_assert_eq!(whole, expected.iter().copied().collect::<Vec<_>>());
        let before: Vec<u32> = kept.bitmap().iter().collect();
        proptest::prop_assert_eq!(before, start.iter().copied().collect::<Vec<_>>());
        proptest::prop_assert!(kept.same(&kept.clone()));
    }
}

/// Whole columns tested in one pass (a parent's time when most rows are candidates):
/// every row of the window scanned passes exactly when the row-by-row reader says so,
/// for each column type, nulls, several ranges, negation and windows that cut words.
mod column_scan {
    use datafusion::arrow::array::{
        Date32Array, Int8Array, Int32Array, Int64Array, TimestampMicrosecondArray, UInt32Array,
    };
    use proptest::prelude::*;
    use segmint::segment::column_scan::passing_rows;
    use segmint::segment::predicate::Test;
    use segmint::segment::rows::ColumnReader;
    use segmint::store::Ints;

    const MICROS: i64 = 1_000_000;

    fn check(reader: &ColumnReader<'_>, test: &Test, rows: usize, window: std::ops::Range<usize>) {
        let bits = passing_rows(reader, test, window.clone()).expect("a range test of numbers");
        for row in window.start..window.end.min(rows) {
            assert_eq!(
                bits.contains(row as u32),
                reader.passes(test, row),
                "row {row} of {rows}, window {window:?}, {test:?}"
            );
        }
        // Rows past the column are no rows, negated or not.
        assert!(!bits.contains(rows as u32), "past the end: {test:?}");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn a_scanned_column_passes_the_rows_the_reader_passes(
            values in proptest::collection::vec(proptest::option::weighted(0.9, 0i64..200), 0..300),
            ranges in proptest::collection::vec((0i64..200, 0i64..60), 1..4),
            negate in any::<bool>(),
            window in (0usize..320, 0usize..320),
        ) {
            let mut ranges: Vec<(i64, i64)> = ranges.into_iter().map(|(low, span)| (low, low + span)).collect();
            ranges.sort();
            // Sorted and disjoint, as predicates make them.
            let mut disjoint: Vec<(i64, i64)> = Vec::new();
            for (low, high) in ranges {
                match disjoint.last_mut() {
                    Some(last) if low <= last.1 + 1 => last.1 = last.1.max(high),
                    _ => disjoint.push((low, high)),
                }
            }
            let window = window.0.min(window.1)..window.0.max(window.1);
            let rows = values.len();
            let number = Test::Ranges { ranges: disjoint.clone(), negate };
            let int32 = Int32Array::from(values.iter().map(|v| v.map(|v| v as i32)).collect::<Vec<_>>());
            let int64 = Int64Array::from(values.clone());
            let int8 = Int8Array::from(values.iter().map(|v| v.map(|v| v as i8 - 100)).collect::<Vec<_>>());
            let dates = Date32Array::from(values.iter().map(|v| v.map(|v| v as i32)).collect::<Vec<_>>());
            check(&ColumnReader::Ints(Ints::I32(&int32)), &number, rows, window.clone());
            check(&ColumnReader::Ints(Ints::I64(&int64)), &number, rows, window.clone());
            check(&ColumnReader::Date(&dates), &number, rows, window.clone());
            let shifted = Test::Ranges { ranges: disjoint.iter().map(|&(l, h)| (l - 100, h - 100)).collect(), negate };
            check(&ColumnReader::Ints(Ints::I8(&int8)), &shifted, rows, window.clone());
            // Times: seconds kept as seconds or as µs, tested in µs cut mid-second.
            let seconds = UInt32Array::from(values.iter().map(|v| v.map(|v| v as u32)).collect::<Vec<_>>());
            let micros = TimestampMicrosecondArray::from(values.iter().map(|v| v.map(|v| v * MICROS)).collect::<Vec<_>>());
            let in_micros = Test::Ranges {
                ranges: disjoint.iter().map(|&(l, h)| (l * MICROS - MICROS / 2, h * MICROS + 1)).collect(),
                negate,
            };
            let inside_seconds = Test::Ranges {
                ranges: disjoint.iter().map(|&(l, h)| (l * MICROS + 1, h * MICROS + MICROS - 1)).filter(|(l, h)| l <= h).collect(),
                negate,
            };
            // Ranges reaching below 0 s and past the last second a u32 holds.
            let past_u32 = (1i64 << 32) * MICROS;
            let beyond_seconds = Test::Ranges {
                ranges: disjoint
                    .iter()
                    .map(|&(l, h)| ((l - 150) * MICROS, h * MICROS))
                    .chain([(past_u32 - 10 * MICROS, past_u32 + 100 * MICROS)])
                    .collect(),
                negate,
            };
            for test in [&in_micros, &inside_seconds, &beyond_seconds] {
                check(&ColumnReader::Seconds(&seconds), test, rows, window.clone());
                check(&ColumnReader::Timestamp(&micros), test, rows, window.clone());
            }
        }
    }
}
