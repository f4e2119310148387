//! The tail index (each value's tail from its last `@`, an email's domain) against the
//! suffix test read row by row: any characters, including those whose lower case
//! changes length or depends on their neighbours, suffixes with and without `@`,
//! negated or not, with nulls.

use std::sync::Arc;

use datafusion::arrow::array::{DictionaryArray, Int32Array, StringArray};
use datafusion::arrow::datatypes::Int32Type;
use proptest::prelude::*;
use roaring::RoaringBitmap;
use segmint::model::FieldType;
use segmint::segment::predicate::{Test, TextMatcher};
use segmint::segment::rows::ColumnReader;
use segmint::segment::tail_index::TailIndex;
use segmint::store::Column;

/// A string column of `values` (`None` null), dictionary-encoded as the store keeps it.
fn text_column(values: &[Option<String>]) -> Column {
    let mut words: Vec<String> = values.iter().flatten().cloned().collect();
    words.sort();
    words.dedup();
    let keys: Int32Array = values
        .iter()
        .map(|v| v.as_ref().map(|v| words.binary_search(v).unwrap() as i32))
        .collect();
    let dictionary =
        DictionaryArray::<Int32Type>::try_new(keys, Arc::new(StringArray::from(words))).unwrap();
    Column {
        name: "email".into(),
        ty: FieldType::String,
        custom: false,
        array: Arc::new(dictionary),
    }
}

fn value() -> impl Strategy<Value = Option<String>> {
    let letter = prop_oneof![
        Just('a'),
        Just('A'),
        Just('k'),
        Just('\u{212A}'), // Kelvin sign: lowers to ASCII `k`
        Just('i'),
        Just('\u{130}'), // dotted capital I: lowers to two characters
        Just('\u{3A3}'), // capital sigma: final or not by its neighbours
        Just('\u{3C3}'),
        Just('x'),
        Just('.'),
        Just('@'),
    ];
    proptest::option::weighted(0.85, proptest::collection::vec(letter, 0..8))
        .prop_map(|chars| chars.map(|c| c.into_iter().collect()))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn ends_with_from_tails_equals_reading_each_value(
        values in proptest::collection::vec(value(), 0..60),
        suffix in "[aki@.x\u{3C3}\u{3C2}\u{307}]{0,4}",
        negate in any::<bool>(),
        within in proptest::collection::vec(any::<bool>(), 60),
    ) {
        let column = text_column(&values);
        let tails = TailIndex::build(&column).expect("few tails");
        let within: RoaringBitmap = (0..values.len() as u32)
            .filter(|&row| within[row as usize])
            .collect();
        let test = Test::Text { matcher: TextMatcher::EndsWith(suffix.clone()), negate };
        let reader = ColumnReader::new(&column);
        let expected: RoaringBitmap =
            within.iter().filter(|&row| reader.passes(&test, row as usize)).collect();
        let positive = Test::Text { matcher: TextMatcher::EndsWith(suffix.clone()), negate: false };
        let actual = tails.ends_with(&suffix, negate, &within, |candidates| {
            reader.select(&positive, candidates)
        });
        prop_assert_eq!(actual, expected, "values {:?}", values);
    }
}

/// Values that are not emails (each its own tail) keep no tail index beyond a few
/// thousand; emails of any number keep one bin per domain.
#[test]
fn a_tail_index_only_for_few_tails() {
    let names: Vec<Option<String>> = (0..5_000).map(|n| Some(format!("name {n}"))).collect();
    assert!(TailIndex::build(&text_column(&names)).is_none());
    let emails: Vec<Option<String>> = (0..50_000)
        .map(|n| {
            Some(format!(
                "Customer{n}@{}",
                ["Example.com", "shop.test"][n % 2]
            ))
        })
        .collect();
    let tails = TailIndex::build(&text_column(&emails)).expect("two domains");
    assert_eq!(tails.tail_count(), 2);
    let all: RoaringBitmap = (0..50_000).collect();
    let at_example = tails.ends_with("@example.com", false, &all, |_| unreachable!("exact"));
    assert_eq!(at_example.len(), 25_000);
    assert!(at_example.iter().all(|row| row % 2 == 0));
}
