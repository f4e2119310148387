//! Reading rows: one row's value of a column read whatever its Arrow type, for the
//! cases that test a few candidate rows instead of asking an index, and typed passes
//! over a column's numbers.

use datafusion::arrow::array::{
    Array, ArrowPrimitiveType, AsArray, BooleanArray, Date32Array, ListArray, PrimitiveArray,
    StringArray, TimestampMicrosecondArray, UInt32Array,
};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::datatypes::{
    ArrowDictionaryKeyType, DataType, Int32Type, Int64Type, UInt8Type, UInt16Type,
};
use roaring::RoaringBitmap;

use crate::data::value::MICROS_PER_SECOND;
use crate::model::FieldType;
use crate::segment::bitmaps::{bitmap_from_ascending, filter_rows, for_each_chunk};
use crate::segment::predicate::Test;
use crate::store::{Column, Ints};

/// The rows of `within` whose row `map(row)` of a string column passes `test`, for fewer
/// rows than distinct values. A row's value is three reads, each waiting on the one
/// before (its code, the value's offsets, its bytes), and usually each a cache miss: a
/// stage of rows goes through each read in turn, so that the stage's misses wait on
/// memory together rather than one row's after another's.
fn select_text_staged(
    test: &Test,
    within: &RoaringBitmap,
    map: &impl Fn(usize) -> usize,
    codes: &Codes,
    nulls: Option<&NullBuffer>,
    values: &StringArray,
) -> RoaringBitmap {
    const STAGE: usize = 256;
    const NULL: usize = usize::MAX;
    let null_passes = test.text(None);
    let (offsets, bytes) = (values.value_offsets(), values.value_data());
    let mut passing = Vec::new();
    for_each_chunk(within, |chunk| {
        for rows in chunk.chunks(STAGE) {
            let mut keys = [NULL; STAGE];
            for (key, &row) in keys.iter_mut().zip(rows) {
                let row = map(row as usize);
                if nulls.is_none_or(|n| n.is_valid(row)) {
                    *key = codes.get(row);
                }
            }
            let mut spans = [(0usize, 0usize); STAGE];
            for (span, &key) in spans.iter_mut().zip(&keys[..rows.len()]) {
                if key != NULL {
                    *span = (offsets[key] as usize, offsets[key + 1] as usize);
                }
            }
            // The first and last byte of each value read now: their lines on the way
            // for the test.
            let mut touched = 0u8;
            for &(start, end) in &spans[..rows.len()] {
                if start < end {
                    touched ^= bytes[start] ^ bytes[end - 1];
                }
            }
            std::hint::black_box(touched);
            for (&row, &key) in rows.iter().zip(&keys) {
                let passes = match key {
                    NULL => null_passes,
                    key => test.text(Some(values.value(key))),
                };
                if passes {
                    passing.push(row);
                }
            }
        }
    });
    bitmap_from_ascending(&passing)
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
            // A null's value is some number: reading it is harmless, branching is not.
            nulls.is_valid(row) & passes(value(row))
        }),
        None => filter_rows(within, |row| passes(value(map(row)))),
    }
}

/// The rows of `within` whose row `map(row)` has a non-null key whose value passes.
fn scan_keys<K: ArrowPrimitiveType>(
    within: &RoaringBitmap,
    map: &impl Fn(usize) -> usize,
    keys: &PrimitiveArray<K>,
    pass: &[bool],
) -> RoaringBitmap {
    use datafusion::arrow::datatypes::ArrowNativeType;
    let codes = keys.values();
    match keys.nulls() {
        Some(nulls) => filter_rows(within, |row| {
            let row = map(row);
            nulls.is_valid(row) && pass[codes[row].as_usize()]
        }),
        None => filter_rows(within, |row| pass[codes[map(row)].as_usize()]),
    }
}

/// Work over a column's numbers (ints, decimal units, 0/1, days, µs, or dictionary keys'
/// ranks), generic over the reader so that each column type gets a loop of its own.
pub trait NumberVisitor {
    type Output;
    fn visit<N: Fn(usize) -> Option<i64> + Sync>(self, number: N) -> Self::Output;
}

/// Runs `visitor` with a typed reader of `reader`'s numbers; text columns read
/// `rank_of_key[key]` (none when `rank_of_key` is empty); lists and absent columns read
/// none.
pub fn visit_numbers<V: NumberVisitor>(
    reader: &ColumnReader<'_>,
    rank_of_key: &[i64],
    visitor: V,
) -> V::Output {
    match reader {
        ColumnReader::Ints(Ints::I8(a)) => visitor.visit(primitive(a, i64::from)),
        ColumnReader::Ints(Ints::I16(a)) => visitor.visit(primitive(a, i64::from)),
        ColumnReader::Ints(Ints::I32(a)) => visitor.visit(primitive(a, i64::from)),
        ColumnReader::Ints(Ints::I64(a)) => visitor.visit(primitive(a, |v| v)),
        ColumnReader::Ints(Ints::Keyed8(keys, values)) => {
            visitor.visit(primitive(keys, |k| values[k as usize]))
        }
        ColumnReader::Ints(Ints::Keyed16(keys, values)) => {
            visitor.visit(primitive(keys, |k| values[k as usize]))
        }
        ColumnReader::Date(a) => visitor.visit(primitive(a, i64::from)),
        ColumnReader::Timestamp(a) => visitor.visit(primitive(a, |v| v)),
        ColumnReader::Seconds(a) => {
            visitor.visit(primitive(a, |v| i64::from(v) * MICROS_PER_SECOND))
        }
        ColumnReader::Bool(a) => visitor.visit(|row| a.is_valid(row).then(|| a.value(row) as i64)),
        ColumnReader::Text { codes, nulls, .. } if !rank_of_key.is_empty() => {
            let valid = |row: usize| nulls.is_none_or(|n| n.is_valid(row));
            match *codes {
                Codes::U8(c) => {
                    visitor.visit(|row| valid(row).then(|| rank_of_key[c[row] as usize]))
                }
                Codes::U16(c) => {
                    visitor.visit(|row| valid(row).then(|| rank_of_key[c[row] as usize]))
                }
                Codes::I32(c) => {
                    visitor.visit(|row| valid(row).then(|| rank_of_key[c[row] as usize]))
                }
            }
        }
        _ => visitor.visit(|_| None),
    }
}

/// A primitive array's values widened to i64, none for null.
pub fn primitive<T: ArrowPrimitiveType>(
    array: &PrimitiveArray<T>,
    widen: impl Fn(T::Native) -> i64 + Sync,
) -> impl Fn(usize) -> Option<i64> + Sync {
    let values = array.values();
    let nulls = array.nulls();
    move |row| match nulls {
        Some(nulls) if nulls.is_null(row) => None,
        _ => Some(widen(values[row])),
    }
}

/// A string column's dictionary codes, as narrow as its dictionary allows.
#[derive(Clone, Copy)]
pub enum Codes<'a> {
    U8(&'a [u8]),
    U16(&'a [u16]),
    I32(&'a [i32]),
}

impl Codes<'_> {
    #[inline]
    pub fn get(&self, row: usize) -> usize {
        match self {
            Codes::U8(codes) => codes[row] as usize,
            Codes::U16(codes) => codes[row] as usize,
            Codes::I32(codes) => codes[row] as usize,
        }
    }
}

/// Reads one row's value of a column, whatever its Arrow type.
pub enum ColumnReader<'a> {
    Ints(Ints<'a>),
    Bool(&'a BooleanArray),
    Date(&'a Date32Array),
    Timestamp(&'a TimestampMicrosecondArray),
    /// A timestamp column of whole seconds since the Unix epoch (read as µs).
    Seconds(&'a UInt32Array),
    Text {
        codes: Codes<'a>,
        nulls: Option<&'a NullBuffer>,
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
            FieldType::Timestamp => match array.data_type() {
                DataType::UInt32 => ColumnReader::Seconds(array.as_primitive()),
                _ => array
                    .as_primitive_opt()
                    .map(ColumnReader::Timestamp)
                    .unwrap_or(ColumnReader::Null),
            },
            FieldType::String => ColumnReader::of_text(array),
            FieldType::IdList => array
                .as_list_opt::<i32>()
                .map(ColumnReader::List)
                .unwrap_or(ColumnReader::Null),
        }
    }

    /// A dictionary-encoded string array, whatever the width of its codes.
    pub fn of_text(array: &'a dyn Array) -> ColumnReader<'a> {
        fn text<'a, K: ArrowDictionaryKeyType>(
            array: &'a dyn Array,
            codes: impl Fn(&'a [K::Native]) -> Codes<'a>,
        ) -> Option<ColumnReader<'a>> {
            let dictionary = array.as_dictionary_opt::<K>()?;
            Some(ColumnReader::Text {
                codes: codes(dictionary.keys().values()),
                nulls: dictionary.keys().nulls(),
                values: dictionary.values().as_string_opt::<i32>()?,
            })
        }
        match array.data_type() {
            DataType::Dictionary(key, _) => match key.as_ref() {
                DataType::UInt8 => text::<UInt8Type>(array, Codes::U8),
                DataType::UInt16 => text::<UInt16Type>(array, Codes::U16),
                DataType::Int32 => text::<Int32Type>(array, Codes::I32),
                _ => None,
            },
            _ => None,
        }
        .unwrap_or(ColumnReader::Null)
    }

    /// The value as a number (ints, decimal units, bools 0/1, days, µs).
    #[inline(always)]
    pub fn number(&self, row: usize) -> Option<i64> {
        match self {
            ColumnReader::Ints(ints) => ints.get(row),
            ColumnReader::Bool(a) => a.is_valid(row).then(|| a.value(row) as i64),
            ColumnReader::Date(a) => a.is_valid(row).then(|| a.value(row) as i64),
            ColumnReader::Timestamp(a) => a.is_valid(row).then(|| a.value(row)),
            ColumnReader::Seconds(a) => a
                .is_valid(row)
                .then(|| i64::from(a.value(row)) * MICROS_PER_SECOND),
            _ => None,
        }
    }

    /// For a string column, how many distinct values its dictionary holds.
    pub fn distinct_texts(&self) -> Option<usize> {
        match self {
            ColumnReader::Text { values, .. } => Some(values.len()),
            _ => None,
        }
    }

    pub fn text(&self, row: usize) -> Option<&'a str> {
        match self {
            ColumnReader::Text {
                codes,
                nulls,
                values,
            } => nulls
                .is_none_or(|n| n.is_valid(row))
                .then(|| values.value(codes.get(row))),
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
        if let ColumnReader::Text {
            codes,
            nulls,
            values,
        } = self
            && (values.len() as u64) < within.len()
        {
            let by_key: Vec<bool> = (0..values.len())
                .map(|k| test.text(Some(values.value(k))))
                .collect();
            let null_passes = test.text(None);
            return filter_rows(within, |row| {
                let row = map(row);
                if nulls.is_none_or(|n| n.is_valid(row)) {
                    by_key[codes.get(row)]
                } else {
                    null_passes
                }
            });
        }
        if let ColumnReader::Text {
            codes,
            nulls,
            values,
        } = self
        {
            return select_text_staged(test, within, &map, codes, *nulls, values);
        }
        // A list's ids straight from its child array, found once rather than per row
        // (the tests a `ListIndex` does not answer).
        if let ColumnReader::List(list) = self {
            let children = list.values().as_primitive::<Int64Type>();
            if children.null_count() == 0 {
                let (ids, offsets, nulls) = (children.values(), list.value_offsets(), list.nulls());
                return filter_rows(within, |row| {
                    let row = map(row);
                    let value = match nulls {
                        Some(nulls) if nulls.is_null(row) => None,
                        _ => Some(&ids[offsets[row] as usize..offsets[row + 1] as usize]),
                    };
                    test.list(value)
                });
            }
        }
        // Ordered tests read the values straight from the Arrow buffers.
        if let Test::Ranges { ranges, negate } = test {
            let negate = *negate;
            // One range (the usual comparison) without a branch.
            let single = match ranges.as_slice() {
                &[range] => Some(range),
                _ => None,
            };
            let passes = |value: i64| {
                let inside = match single {
                    Some((low, high)) => (low <= value) & (value <= high),
                    None => crate::segment::predicate::in_ranges(ranges, value),
                };
                inside != negate
            };
            return match self {
                ColumnReader::Ints(Ints::I8(a)) => {
                    scan(within, &map, a.nulls(), |r| a.values()[r] as i64, passes)
                }
                ColumnReader::Ints(Ints::I16(a)) => {
                    scan(within, &map, a.nulls(), |r| a.values()[r] as i64, passes)
                }
                ColumnReader::Ints(Ints::I32(a)) => {
                    scan(within, &map, a.nulls(), |r| a.values()[r] as i64, passes)
                }
                ColumnReader::Ints(Ints::I64(a)) => {
                    scan(within, &map, a.nulls(), |r| a.values()[r], passes)
                }
                ColumnReader::Ints(Ints::Keyed8(keys, values)) => {
                    // Each distinct value tested once, each row by its key.
                    let pass: Vec<bool> = values.iter().map(|&v| passes(v)).collect();
                    scan_keys(within, &map, keys, &pass)
                }
                ColumnReader::Ints(Ints::Keyed16(keys, values)) => {
                    let pass: Vec<bool> = values.iter().map(|&v| passes(v)).collect();
                    scan_keys(within, &map, keys, &pass)
                }
                ColumnReader::Date(a) => {
                    scan(within, &map, a.nulls(), |r| a.values()[r] as i64, passes)
                }
                ColumnReader::Timestamp(a) => {
                    scan(within, &map, a.nulls(), |r| a.values()[r], passes)
                }
                ColumnReader::Seconds(a) => scan(
                    within,
                    &map,
                    a.nulls(),
                    |r| i64::from(a.values()[r]) * MICROS_PER_SECOND,
                    passes,
                ),
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
