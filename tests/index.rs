//! The binned column index against a row-by-row reading of the column: every kind of
//! column (few distinct values, a bin per value; many, quantile bins; timestamps binned
//! by day; strings by rank), with nulls and common values, and every kind of test.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, BooleanArray, Date32Array, DictionaryArray, Int32Array, Int64Array,
    StringArray, TimestampMicrosecondArray, UInt16Array, UInt32Array,
};
use datafusion::arrow::datatypes::{Int32Type, UInt16Type};
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64;
use roaring::RoaringBitmap;
use segmint::model::FieldType;
use segmint::segment::index::ColumnIndex;
use segmint::segment::predicate::{Test, TextMatcher, normalise};
use segmint::segment::rows::ColumnReader;
use segmint::store::Column;

const DAY: i64 = 86_400_000_000;

#[derive(Clone, Copy, Debug)]
enum Kind {
    Int,
    Decimal,
    Id,
    Bool,
    Date,
    Timestamp,
    /// Timestamps of whole seconds, kept as seconds since the Unix epoch.
    Seconds,
    /// Decimals of few distinct values, kept as keys into a dictionary of them.
    Keyed,
    Text,
}

/// A column of `rows` values: `distinct` of them drawn uniformly, one of them common
/// (about half the rows) when `skewed`, `nulls` of every 10 rows null.
fn column(kind: Kind, rows: usize, distinct: i64, skewed: bool, nulls: u32, seed: u64) -> Column {
    let mut rng = Pcg64::seed_from_u64(seed);
    let keys: Vec<Option<i64>> = (0..rows)
        .map(|_| {
            if rng.random_ratio(nulls, 10) {
                None
            } else if skewed && rng.random_bool(0.5) {
                Some(7)
            } else {
                Some(rng.random_range(-distinct / 3..distinct - distinct / 3))
            }
        })
        .collect();
    let (ty, array): (FieldType, ArrayRef) = match kind {
        Kind::Int => (
            FieldType::Int,
            Arc::new(
                keys.iter()
                    .map(|k| k.map(|v| v as i32))
                    .collect::<Int32Array>(),
            ),
        ),
        Kind::Decimal => (
            FieldType::Decimal,
            Arc::new(
                keys.iter()
                    .map(|k| k.map(|v| v * 37))
                    .collect::<Int64Array>(),
            ),
        ),
        Kind::Id => (
            FieldType::Id,
            Arc::new(
                keys.iter()
                    .map(|k| k.map(|v| v * 1_000_003))
                    .collect::<Int64Array>(),
            ),
        ),
        Kind::Bool => (
            FieldType::Bool,
            Arc::new(
                keys.iter()
                    .map(|k| k.map(|v| v % 2 == 0))
                    .collect::<BooleanArray>(),
            ),
        ),
        Kind::Date => (
            FieldType::Date,
            Arc::new(
                keys.iter()
                    .map(|k| k.map(|v| 20_000 + v as i32))
                    .collect::<Date32Array>(),
            ),
        ),
        Kind::Timestamp => {
            // Spread over days, a few instants a day apart by a microsecond.
            let micros = |v: i64| 20_000 * DAY + v.div_euclid(4) * (DAY / 3) + v.rem_euclid(4) - 1;
            (
                FieldType::Timestamp,
                Arc::new(
                    keys.iter()
                        .map(|k| k.map(micros))
                        .collect::<TimestampMicrosecondArray>(),
                ),
            )
        }
        Kind::Keyed => {
            let values: Vec<i64> = (0..distinct.max(1)).map(|v| v * 2_500 - 10_000).collect();
            let keys: UInt16Array = keys
                .iter()
                .map(|k| k.map(|v| v.rem_euclid(values.len() as i64) as u16))
                .collect();
            (
                FieldType::Decimal,
                Arc::new(
                    DictionaryArray::<UInt16Type>::try_new(
                        keys,
                        Arc::new(Int64Array::from(values)),
                    )
                    .unwrap(),
                ),
            )
        }
        Kind::Seconds => (
            FieldType::Timestamp,
            Arc::new(
                keys.iter()
                    .map(|k| k.map(|v| (20_000 * 86_400 + v * 28_801) as u32))
                    .collect::<UInt32Array>(),
            ),
        ),
        Kind::Text => {
            // Mixed case, so that ranks group values equal but for case.
            let words: Vec<String> = (0..distinct.max(1))
                .map(|v| {
                    let word = format!(
                        "w{:05}@{}",
                        v / 2,
                        if v % 3 == 0 { "x.com" } else { "y.org" }
                    );
                    if v % 2 == 0 {
                        word.to_uppercase()
                    } else {
                        word
                    }
                })
                .collect();
            let values = StringArray::from(words.clone());
            let dictionary_keys: Int32Array = keys
                .iter()
                .map(|k| k.map(|v| v.rem_euclid(words.len() as i64) as i32))
                .collect();
            let dictionary =
                DictionaryArray::<Int32Type>::try_new(dictionary_keys, Arc::new(values)).unwrap();
            (FieldType::String, Arc::new(dictionary))
        }
    };
    Column {
        name: "c".into(),
        ty,
        custom: false,
        array,
    }
}

/// A random test over the column's keys: ranges around drawn values, or a text matcher.
fn test(kind: Kind, column: &Column, seed: u64) -> Test {
    let mut rng = Pcg64::seed_from_u64(seed);
    let reader = ColumnReader::new(column);
    let rows = column.array.len();
    let pick = |rng: &mut Pcg64| reader.number(rng.random_range(0..rows)).unwrap_or(0);
    let negate = rng.random_bool(0.3);
    match rng.random_range(0..8) {
        0 => return Test::IsNull,
        1 => return Test::IsNotNull,
        _ => {}
    }
    if let Kind::Text = kind {
        let word = reader
            .text(rng.random_range(0..rows))
            .unwrap_or("w00001@y.org")
            .to_lowercase();
        let matcher = match rng.random_range(0..5) {
            0 => TextMatcher::Equals(vec![word]),
            1 => TextMatcher::StartsWith(word[..rng.random_range(0..word.len())].to_string()),
            2 => TextMatcher::Contains(word[2..5].to_string()),
            3 => TextMatcher::EndsWith("x.com".into()),
            _ => {
                let mut words = vec![word, "w00002@x.com".into(), "nothing".into()];
                words.sort();
                TextMatcher::Equals(words)
            }
        };
        return Test::Text { matcher, negate };
    }
    let ranges = (0..rng.random_range(1..4))
        .map(|_| {
            let (a, b) = (pick(&mut rng), pick(&mut rng));
            match rng.random_range(0..4) {
                0 => (a, a),
                1 => (a.min(b), i64::MAX),
                2 => (i64::MIN, a.max(b)),
                // A whole UTC day of a timestamp, as `in_last_days` and dates make.
                _ if matches!(kind, Kind::Timestamp | Kind::Seconds) => {
                    let day = a.div_euclid(DAY) * DAY;
                    (day, b.max(day).div_euclid(DAY) * DAY + DAY - 1)
                }
                _ => (a.min(b), a.max(b)),
            }
        })
        .collect();
    Test::Ranges {
        ranges: normalise(ranges),
        negate,
    }
}

fn row_by_row(column: &Column, test: &Test) -> RoaringBitmap {
    let reader = ColumnReader::new(column);
    (0..column.array.len() as u32)
        .filter(|&row| reader.passes(test, row as usize))
        .collect()
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        Just(Kind::Int),
        Just(Kind::Decimal),
        Just(Kind::Id),
        Just(Kind::Bool),
        Just(Kind::Date),
        Just(Kind::Timestamp),
        Just(Kind::Seconds),
        Just(Kind::Keyed),
        Just(Kind::Text),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Few distinct values (a bin each), hundreds (a bin each, enough for prefixes) and
    /// many (quantile bins, some cut by a range); with prefixes of the bins and without.
    #[test]
    fn index_selects_what_reading_each_row_selects(
        kind in kind(),
        rows in 1usize..40_000,
        distinct in prop_oneof![1i64..20, 100i64..3_000, 5_000i64..200_000],
        skewed in any::<bool>(),
        nulls in 0u32..4,
        prefixed in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let column = column(kind, rows, distinct, skewed, nulls, seed);
        let index = match prefixed {
            true => ColumnIndex::build(&column).with_prefixes(),
            false => ColumnIndex::build(&column),
        };
        for case in 0..12 {
            let test = test(kind, &column, seed.wrapping_add(case));
            let expected = row_by_row(&column, &test);
            prop_assert_eq!(index.select(&test), expected.clone(), "{:?} {:?}", kind, test);
            prop_assert!(index.estimate(&test) <= rows);
            // Within a narrow span of the rows (bins cut down first) and a wide one.
            let rows = rows as u32;
            let start = (seed % rows as u64) as u32;
            for span in [rows / 5 + 1, rows] {
                let within: RoaringBitmap = (start..rows.min(start + span))
                    .filter(|row| !(row ^ seed as u32).is_multiple_of(3))
                    .collect();
                prop_assert_eq!(
                    index.select_within(&test, &within),
                    &expected & &within,
                    "{:?} {:?} within {} rows from {}", kind, test, span, start
                );
            }
        }
    }
}

/// Keys of their own (a rollup's): every subject's value, nulls where it has none.
#[test]
fn index_of_values_answers_ranges() {
    let values: Int64Array = (0..50_000i64)
        .map(|v| (v % 7 != 0).then_some((v * 7_919) % 100_003))
        .collect();
    let index = ColumnIndex::of_values(values.clone(), 1);
    for (low, high) in [
        (0, 0),
        (10, 500),
        (50_000, i64::MAX),
        (i64::MIN, -1),
        (99_000, 99_999),
    ] {
        let expected: RoaringBitmap = (0..values.len() as u32)
            .filter(|&r| {
                let v = values.value(r as usize);
                values.is_valid(r as usize) && low <= v && v <= high
            })
            .collect();
        assert_eq!(index.ranges(&[(low, high)], false), expected);
        let not: RoaringBitmap = index.not_null() - &expected;
        assert_eq!(index.ranges(&[(low, high)], true), not);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// A rollup's index of days, a bin each, with prefixes: unions of any runs of bins
    /// (through prefixes where runs span them, the bins at their ends one by one).
    #[test]
    fn prefixed_index_answers_ranges_over_many_bins(
        days in 64i64..2_000,
        nulls in 0u32..4,
        ranges in proptest::collection::vec((0i64..2_100, 0i64..2_100), 1..5),
        negate in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let mut rng = Pcg64::seed_from_u64(seed);
        let values: Int64Array = (0..30_000)
            .map(|_| (!rng.random_ratio(nulls, 10)).then(|| rng.random_range(0..days)))
            .collect();
        let index = ColumnIndex::of_values(values.clone(), 1).with_prefixes();
        let ranges = normalise(ranges.into_iter().map(|(a, b)| (a.min(b), a.max(b))).collect());
        let inside: RoaringBitmap = (0..values.len() as u32)
            .filter(|&r| {
                let v = values.value(r as usize);
                values.is_valid(r as usize) && ranges.iter().any(|&(l, h)| l <= v && v <= h)
            })
            .collect();
        let expected = match negate {
            true => index.not_null() - &inside,
            false => inside,
        };
        prop_assert_eq!(index.ranges(&ranges, negate), expected, "{:?}", ranges);
    }
}

/// Strings load with codes of one, two or four bytes, as their dictionaries' sizes allow,
/// and every width answers equalities, prefixes and suffixes from the index and by scans.
#[test]
fn strings_of_every_code_width_are_answered() {
    let customers = 70_000;
    let mut csv = String::from("customer_id,website_id,small,medium,large\n");
    for c in 0..customers {
        csv += &format!("{c},1,s{},M{:03},l{c:06}\n", c % 200, c % 700);
    }
    let dir = crate::common::csv_dataset(&[("customers.csv", &csv)]);
    let dataset = crate::common::load(dir.path());
    let widths = stored_types(&dataset, &["small", "medium", "large"]);
    assert_eq!(
        widths,
        [
            "Dictionary(UInt8, Utf8)",
            "Dictionary(UInt16, Utf8)",
            "Dictionary(Int32, Utf8)"
        ]
    );
    let engine = segmint::segment::Engine::new(Arc::new(dataset));
    let count = |conditions: &str| members_of(&engine, conditions);
    let expect = |keep: &dyn Fn(i64) -> bool| (0..customers).filter(|&c| keep(c)).count() as u64;
    assert_eq!(
        count(r#"{"field":"customer.small","op":"eq","value":"S17"}"#),
        expect(&|c| c % 200 == 17)
    );
    assert_eq!(
        count(r#"{"field":"customer.medium","op":"starts_with","value":"m69"}"#),
        expect(&|c| c % 700 >= 690)
    );
    assert_eq!(
        count(r#"{"field":"customer.large","op":"ends_with","value":"99"}"#),
        expect(&|c| c % 100 == 99)
    );
    assert_eq!(
        count(r#"{"field":"customer.large","op":"in","value":["L000042","l069999","x"]}"#),
        2
    );
}

/// Ints load in the narrowest type that holds them, and every width answers ranges from
/// the index and by scans alike.
#[test]
fn ints_of_every_width_are_answered() {
    let customers = 40_000i64;
    let mut csv = String::from("customer_id,website_id,tiny,small,medium,large\n");
    for c in 0..customers {
        csv += &format!(
            "{c},1,{},{},{},{}\n",
            c % 100 - 50,
            c % 30_000 - 15_000,
            c * 7 % 100_000,
            c * 100_003
        );
    }
    let dir = crate::common::csv_dataset(&[("customers.csv", &csv)]);
    let dataset = crate::common::load(dir.path());
    let widths = stored_types(&dataset, &["tiny", "small", "medium", "large"]);
    assert_eq!(widths, ["Int8", "Int16", "Int32", "Int64"]);
    let engine = segmint::segment::Engine::new(Arc::new(dataset));
    let count = |conditions: &str| members_of(&engine, conditions);
    let expect = |keep: &dyn Fn(i64) -> bool| (0..customers).filter(|&c| keep(c)).count() as u64;
    assert_eq!(
        count(r#"{"field":"customer.tiny","op":"lt","value":-40}"#),
        expect(&|c| c % 100 - 50 < -40)
    );
    assert_eq!(
        count(r#"{"field":"customer.small","op":"between","value":[-100,12000]}"#),
        expect(&|c| (-100..=12_000).contains(&(c % 30_000 - 15_000)))
    );
    assert_eq!(
        count(r#"{"field":"customer.medium","op":"gte","value":99990}"#),
        expect(&|c| c * 7 % 100_000 >= 99_990)
    );
    assert_eq!(
        count(
            r#"{"all":[{"field":"customer.tiny","op":"eq","value":7},{"field":"customer.large","op":"gt","value":3000000000}]}"#
        ),
        expect(&|c| c % 100 - 50 == 7 && c * 100_003 > 3_000_000_000)
    );
}

/// Ints and decimals of few distinct values load as one- or two-byte keys into a
/// dictionary of the values, and answer ranges from the index and by scans alike.
#[test]
fn ints_of_few_distinct_values_are_kept_as_keys() {
    let customers = 40_000i64;
    let mut csv = String::from("customer_id,website_id,store_credit,reward_points,wide\n");
    for c in 0..customers {
        csv += &format!(
            "{c},1,{}.5,{},{}\n",
            c % 5,
            c % 3_000 * 1_000,
            (c % 7) * 10_000_000_000
        );
    }
    let dir = crate::common::csv_dataset(&[("customers.csv", &csv)]);
    let dataset = crate::common::load(dir.path());
    let types = stored_types(&dataset, &["store_credit", "reward_points", "wide"]);
    assert_eq!(
        types,
        [
            "Dictionary(UInt8, Int64)",
            "Dictionary(UInt16, Int64)",
            "Dictionary(UInt8, Int64)"
        ]
    );
    let engine = segmint::segment::Engine::new(Arc::new(dataset));
    let count = |conditions: &str| members_of(&engine, conditions);
    let expect = |keep: &dyn Fn(i64) -> bool| (0..customers).filter(|&c| keep(c)).count() as u64;
    assert_eq!(
        count(r#"{"field":"customer.store_credit","op":"between","value":[1.5,3]}"#),
        expect(&|c| (1..=2).contains(&(c % 5)))
    );
    assert_eq!(
        count(r#"{"field":"customer.reward_points","op":"gt","value":2998000}"#),
        expect(&|c| c % 3_000 * 1_000 > 2_998_000)
    );
    assert_eq!(
        count(
            r#"{"all":[{"field":"customer.wide","op":"gte","value":50000000000},{"field":"customer.store_credit","op":"lt","value":1}]}"#
        ),
        expect(&|c| (c % 7) * 10_000_000_000 >= 50_000_000_000 && c % 5 == 0)
    );
}

/// Timestamps of whole seconds load as 4-byte seconds, others stay in µs; both answer
/// ranges to the microsecond, from the index and by scans alike.
#[test]
fn timestamps_of_whole_seconds_are_kept_in_seconds() {
    let customers = 40_000i64;
    let start = 1_767_225_600i64; // 2026-01-01T00:00:00Z
    let instant = |seconds: i64, micros: u32| {
        chrono::DateTime::from_timestamp(seconds, micros * 1000)
            .unwrap()
            .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
    };
    let mut csv = String::from("customer_id,website_id,created_at,last_login_at\n");
    for c in 0..customers {
        let at = start + c * 37;
        csv += &format!(
            "{c},1,{},{}\n",
            instant(at, 0),
            instant(at, (c % 2) as u32 * 500_000)
        );
    }
    let dir = crate::common::csv_dataset(&[("customers.csv", &csv)]);
    let dataset = crate::common::load(dir.path());
    let types = stored_types(&dataset, &["created_at", "last_login_at"]);
    assert_eq!(types, ["UInt32", "Timestamp(Microsecond, None)"]);
    let engine = segmint::segment::Engine::new(Arc::new(dataset));
    let count = |conditions: &str| members_of(&engine, conditions);
    let expect = |keep: &dyn Fn(i64) -> bool| (0..customers).filter(|&c| keep(c)).count() as u64;
    let cut = start + 10_000 * 37;
    assert_eq!(
        count(&format!(
            r#"{{"field":"customer.created_at","op":"gte","value":"{}"}}"#,
            instant(cut, 1)
        )),
        expect(&|c| start + c * 37 > cut)
    );
    assert_eq!(
        count(&format!(
            r#"{{"field":"customer.last_login_at","op":"gte","value":"{}"}}"#,
            instant(cut, 1)
        )),
        expect(&|c| start + c * 37 > cut || (start + c * 37 == cut && c % 2 == 1))
    );
    assert_eq!(
        count(&format!(
            r#"{{"field":"customer.created_at","op":"between","value":["{}","{}"]}}"#,
            instant(cut, 0),
            instant(cut + 37 * 5, 0)
        )),
        6
    );
}

/// The Arrow types the store keeps these customer columns in.
fn stored_types(dataset: &segmint::store::Dataset, names: &[&str]) -> Vec<String> {
    names
        .iter()
        .map(|name| {
            format!(
                "{:?}",
                dataset.customers.column(name).unwrap().array.data_type()
            )
        })
        .collect()
}

/// How many customers of website 1 meet `conditions` (a condition's JSON).
fn members_of(engine: &segmint::segment::Engine, conditions: &str) -> u64 {
    let text = format!(
        r#"{{"name":"t","websites":[1],"apply_to":"registered","conditions":{conditions}}}"#
    );
    let segment = engine.parse(&text).unwrap();
    let evaluation = engine
        .evaluate(&segment, None, 0, &segmint::segment::NoSegments)
        .unwrap();
    evaluation.members.len()
}

#[test]
fn affix_tests_of_values_whose_lower_case_changes_length_or_script() {
    let passes = |matcher, value: &str| {
        Test::Text {
            matcher,
            negate: false,
        }
        .text(Some(value))
    };
    let ends = |suffix: &str, value| passes(TextMatcher::EndsWith(suffix.into()), value);
    let starts = |prefix: &str, value| passes(TextMatcher::StartsWith(prefix.into()), value);
    // A dotted capital I lowers to `i` and a combining dot, in that order.
    assert!(!ends("i", "a\u{130}"));
    assert!(starts("i", "\u{130}a"));
    assert!(ends("a", "\u{130}a"));
    // The Kelvin sign lowers to ASCII `k`.
    assert!(ends("k", "\u{212A}"));
    assert!(starts("@k", "@\u{212A}x"));
    assert!(ends("@example.com", "J\u{C9}R\u{D4}ME@EXAMPLE.COM"));
    assert!(!ends("ss", "\u{DF}"));
}

proptest! {
    /// A prefix or suffix test decides as on the value's lower case, whatever its
    /// characters: accents, a Kelvin sign that lowers to ASCII `k`, a dotted capital I
    /// that lowers to two characters, a sigma.
    #[test]
    fn affix_tests_decide_on_the_lower_case_of_any_value(
        value in proptest::collection::vec(
            prop_oneof![
                Just('a'), Just('K'), Just('k'), Just('@'), Just('.'), Just('\u{212A}'),
                Just('\u{130}'), Just('i'), Just('\u{307}'), Just('\u{3A3}'), Just('\u{C9}'),
                Just('\u{DF}'), Just('s'),
            ],
            0..8,
        ),
        affix in "[aki@.s]{0,4}",
        at_end in any::<bool>(),
        negate in any::<bool>(),
    ) {
        let value: String = value.into_iter().collect();
        let lower = value.to_lowercase();
        let (matcher, expected) = if at_end {
            (TextMatcher::EndsWith(affix.clone()), lower.ends_with(&affix))
        } else {
            (TextMatcher::StartsWith(affix.clone()), lower.starts_with(&affix))
        };
        let test = Test::Text { matcher, negate };
        prop_assert_eq!(test.text(Some(&value)), expected != negate, "{:?} {:?}", value, affix);
    }
}

/// Scopes are the requests' to choose (any list of websites): evaluating over ever more
/// distinct lists rebuilds what a scope needs, but keeps a bounded number of them.
#[test]
fn many_distinct_scopes_keep_bounded_memory() {
    let dir = crate::common::generated(2_000, 5, segmint::data::generate::OutputFormat::Csv);
    let engine = segmint::segment::Engine::new(Arc::new(crate::common::load(dir.path())));
    let count_over = |extra_website: u32| {
        let text = format!(
            r#"{{"name":"t","websites":[1,{extra_website}],"apply_to":"both",
                "conditions":{{"has":"order","where":{{"field":"order.status","op":"eq","value":"complete"}}}}}}"#
        );
        let segment = engine.parse(&text).unwrap();
        engine
            .evaluate(&segment, None, 0, &segmint::segment::NoSegments)
            .unwrap()
            .members
            .len()
    };
    let expected = count_over(1_000);
    for extra in 1_001..1_200 {
        assert_eq!(count_over(extra), expected);
    }
    let after_200 = engine.index_memory_bytes();
    for extra in 1_200..2_000 {
        assert_eq!(count_over(extra), expected);
    }
    // Every scope here keeps the same rows, so a bound keeps the same bytes.
    assert_eq!(engine.index_memory_bytes(), after_200);
}

/// An index (or other kept thing) asked for by many threads at once, nobody having
/// built it yet, is built once: the others wait and read what that build kept. A build
/// that panics leaves no one waiting: the next caller builds.
#[test]
fn a_build_asked_for_at_once_runs_once() {
    use segmint::segment::engine::builds::Builds;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicU32, Ordering};
    let builds = Builds::default();
    let kept: Mutex<Option<u32>> = Mutex::new(None);
    let runs = AtomicU32::new(0);
    std::thread::scope(|scope| {
        for _ in 0..8 {
            scope.spawn(|| {
                let found = builds.find_or_build(
                    "index orders.created_at",
                    || *kept.lock().unwrap(),
                    || {
                        runs.fetch_add(1, Ordering::SeqCst);
                        std::thread::sleep(std::time::Duration::from_millis(50));
                        *kept.lock().unwrap() = Some(7);
                        7
                    },
                );
                assert_eq!(found, 7);
            });
        }
    });
    assert_eq!(runs.load(Ordering::SeqCst), 1, "builds of one index");

    let other: Mutex<Option<u32>> = Mutex::new(None);
    let failed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        builds.find_or_build(
            "index orders.status",
            || *other.lock().unwrap(),
            || panic!("a build that fails"),
        )
    }));
    assert!(failed.is_err());
    let built = builds.find_or_build("index orders.status", || *other.lock().unwrap(), || 9);
    assert_eq!(built, 9);
}
