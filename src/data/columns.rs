//! Builders that turn CSV cells or Parquet arrays into the store's Arrow columns:
//! ints and ids as Int64 (ids Int32 where they fit), money as Int64 units of 1/10000, dates as Date32, timestamps as
//! Timestamp(µs, UTC-naive) or whole seconds (see `narrow_timestamps`), strings
//! dictionary-encoded with one dictionary per column (codes of one, two or four bytes, as
//! the dictionary's size allows), lists of ids as List<Int64>.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, ArrowPrimitiveType, AsArray, BooleanBuilder, Date32Builder, DictionaryArray,
    Int32Array, Int32Builder, Int64Array, Int64Builder, ListBuilder, PrimitiveBuilder,
    StringBuilder, TimestampMicrosecondArray, TimestampMicrosecondBuilder, UInt8Array,
    UInt8Builder, UInt16Array, UInt16Builder, UInt32Array,
};
use datafusion::arrow::compute::{CastOptions, cast, cast_with_options};
use datafusion::arrow::datatypes::{
    DataType, Date64Type, Decimal128Type, Field, Float32Type, Float64Type, Int32Type, Int64Type,
    TimeUnit, TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType, UInt8Type, UInt16Type,
};
use rustc_hash::FxHashMap;

use super::value::{
    DECIMAL_SCALE, MICROS_PER_DAY, MICROS_PER_SECOND, decimal_from_f64, parse_bool, parse_date,
    parse_decimal, parse_id_list, parse_int, parse_timestamp,
};
use crate::model::FieldType;

/// The Arrow type the store keeps a column of this field type in.
pub fn store_data_type(ty: FieldType) -> DataType {
    match ty {
        FieldType::Id => DataType::Int64,
        // Narrowed to Int32, Int16 or Int8 when every value fits (see `IntBuilder::finish`);
        // an absent column is all null and takes this type.
        FieldType::Int | FieldType::Decimal => DataType::Int32,
        FieldType::Bool => DataType::Boolean,
        FieldType::Date => DataType::Date32,
        FieldType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, None),
        // Codes narrowed to UInt8 or UInt16 when the dictionary is small enough (see
        // `StringInterner::finish`).
        FieldType::String => {
            DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
        }
        FieldType::IdList => DataType::List(Arc::new(Field::new_list_field(DataType::Int64, true))),
    }
}

/// Strings interned into one dictionary per column, so that equal values share one key
/// (the indexes of the engine group rows by key).
#[derive(Default)]
pub struct StringInterner {
    ids: FxHashMap<Box<str>, i32>,
    values: StringBuilder,
    keys: CodeBuilder,
}

impl StringInterner {
    fn intern(&mut self, text: &str) -> i32 {
        if let Some(&id) = self.ids.get(text) {
            return id;
        }
        let id = self.ids.len() as i32;
        self.ids.insert(text.into(), id);
        self.values.append_value(text);
        id
    }

    fn push(&mut self, text: &str) {
        let id = self.intern(text);
        self.keys.append_value(id);
    }

    /// The dictionary, its codes as narrow as its size allows: one byte for up to 256
    /// distinct values (statuses, countries, types), two for up to 65,536.
    fn finish(mut self) -> ArrayRef {
        let values: ArrayRef = Arc::new(self.values.finish());
        let broken = "interned keys are in range";
        match self.keys {
            CodeBuilder::U8(mut keys) => Arc::new(
                DictionaryArray::<UInt8Type>::try_new(keys.finish(), values).expect(broken),
            ),
            CodeBuilder::U16(mut keys) => Arc::new(
                DictionaryArray::<UInt16Type>::try_new(keys.finish(), values).expect(broken),
            ),
            CodeBuilder::I32(mut keys) => Arc::new(
                DictionaryArray::<Int32Type>::try_new(keys.finish(), values).expect(broken),
            ),
        }
    }
}

/// Dictionary codes as they are read, one or two bytes a row while the dictionary allows,
/// widened (the codes so far copied once) as it grows: a column of a few distinct values
/// never holds four bytes a row, not even while it loads.
pub enum CodeBuilder {
    U8(UInt8Builder),
    U16(UInt16Builder),
    I32(Int32Builder),
}

impl Default for CodeBuilder {
    fn default() -> Self {
        CodeBuilder::U8(UInt8Builder::new())
    }
}

impl CodeBuilder {
    /// Widens the builder until `code` fits.
    fn fit(&mut self, code: i32) {
        let widened = match self {
            CodeBuilder::U8(keys) if code > u8::MAX as i32 => {
                let capacity = keys.capacity();
                let so_far = keys.finish();
                Some(if code > u16::MAX as i32 {
                    widen::<Int32Type>(&so_far, capacity).map(CodeBuilder::I32)
                } else {
                    widen::<UInt16Type>(&so_far, capacity).map(CodeBuilder::U16)
                })
            }
            CodeBuilder::U16(keys) if code > u16::MAX as i32 => {
                let capacity = keys.capacity();
                Some(widen::<Int32Type>(&keys.finish(), capacity).map(CodeBuilder::I32))
            }
            _ => None,
        };
        if let Some(widened) = widened {
            *self = widened.expect("narrower codes widen");
        }
    }

    fn append_value(&mut self, code: i32) {
        self.fit(code);
        match self {
            CodeBuilder::U8(keys) => keys.append_value(code as u8),
            CodeBuilder::U16(keys) => keys.append_value(code as u16),
            CodeBuilder::I32(keys) => keys.append_value(code),
        }
    }

    fn append_null(&mut self) {
        match self {
            CodeBuilder::U8(keys) => keys.append_null(),
            CodeBuilder::U16(keys) => keys.append_null(),
            CodeBuilder::I32(keys) => keys.append_null(),
        }
    }

    fn append_array(&mut self, codes: &Int32Array) {
        if let Some(highest) = datafusion::arrow::compute::max(codes) {
            self.fit(highest);
        }
        let codes: ArrayRef = Arc::new(codes.clone());
        let narrow = |to: &DataType| cast(&codes, to).expect("codes fit the builder's width");
        match self {
            CodeBuilder::U8(keys) => {
                keys.append_array(narrow(&DataType::UInt8).as_primitive::<UInt8Type>())
            }
            CodeBuilder::U16(keys) => {
                keys.append_array(narrow(&DataType::UInt16).as_primitive::<UInt16Type>())
            }
            CodeBuilder::I32(keys) => keys.append_array(codes.as_primitive::<Int32Type>()),
        }
    }
}

/// A builder of wider codes holding `codes`, with room for `capacity` (the rows expected).
fn widen<T: ArrowPrimitiveType>(
    codes: &dyn Array,
    capacity: usize,
) -> Result<PrimitiveBuilder<T>, datafusion::arrow::error::ArrowError> {
    let wide = cast(codes, &T::DATA_TYPE)?;
    let mut builder = PrimitiveBuilder::<T>::with_capacity(capacity.max(wide.len() * 2));
    builder.append_array(wide.as_primitive::<T>());
    Ok(builder)
}

/// Collects one column of one table.
pub enum ColumnBuilder {
    Id(Int64Builder),
    Int(IntBuilder),
    Decimal(IntBuilder),
    Bool(BooleanBuilder),
    Date(Date32Builder),
    Timestamp(TimestampMicrosecondBuilder),
    Str(StringInterner),
    IdList(ListBuilder<Int64Builder>),
}

impl ColumnBuilder {
    /// A builder with room for `rows` values (no regrowth when the count is known).
    pub fn with_capacity(ty: FieldType, rows: usize) -> Self {
        match ty {
            FieldType::Id => ColumnBuilder::Id(Int64Builder::with_capacity(rows)),
            FieldType::Int => ColumnBuilder::Int(IntBuilder::with_capacity(rows)),
            FieldType::Decimal => ColumnBuilder::Decimal(IntBuilder::with_capacity(rows)),
            FieldType::Bool => ColumnBuilder::Bool(BooleanBuilder::with_capacity(rows)),
            FieldType::Date => ColumnBuilder::Date(Date32Builder::with_capacity(rows)),
            FieldType::Timestamp => {
                ColumnBuilder::Timestamp(TimestampMicrosecondBuilder::with_capacity(rows))
            }
            FieldType::String => ColumnBuilder::Str(StringInterner {
                keys: CodeBuilder::U8(UInt8Builder::with_capacity(rows)),
                ..Default::default()
            }),
            FieldType::IdList => {
                ColumnBuilder::IdList(ListBuilder::with_capacity(Int64Builder::new(), rows))
            }
        }
    }

    pub fn push_null(&mut self) {
        match self {
            ColumnBuilder::Id(b) => b.append_null(),
            ColumnBuilder::Int(b) | ColumnBuilder::Decimal(b) => b.append_null(),
            ColumnBuilder::Bool(b) => b.append_null(),
            ColumnBuilder::Date(b) => b.append_null(),
            ColumnBuilder::Timestamp(b) => b.append_null(),
            ColumnBuilder::Str(s) => s.keys.append_null(),
            ColumnBuilder::IdList(b) => b.append_null(),
        }
    }

    /// Parses one non-null text cell. On error nothing is appended.
    pub fn push_text(&mut self, text: &str) -> Result<(), String> {
        match self {
            ColumnBuilder::Id(b) => b.append_value(parse_int(text)?),
            ColumnBuilder::Int(b) => b.append_value(parse_int(text)?),
            ColumnBuilder::Decimal(b) => b.append_value(parse_decimal(text)?),
            ColumnBuilder::Bool(b) => b.append_value(parse_bool(text)?),
            ColumnBuilder::Date(b) => b.append_value(parse_date(text)?),
            ColumnBuilder::Timestamp(b) => b.append_value(parse_timestamp(text)?),
            ColumnBuilder::Str(s) => s.push(text),
            ColumnBuilder::IdList(b) => {
                let ids = parse_id_list(text)?;
                b.values().append_slice(&ids);
                b.append(true);
            }
        }
        Ok(())
    }

    /// Appends a whole Arrow array (a Parquet batch column). A value that cannot be
    /// converted is appended as null and reported with its index in `array`; a column of a
    /// type that cannot hold this field at all is an `Err`.
    pub fn append_array(
        &mut self,
        array: &ArrayRef,
        on_bad: &mut dyn FnMut(usize, String),
    ) -> Result<(), String> {
        if matches!(
            array.data_type(),
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
        ) && !matches!(self, ColumnBuilder::Str(_))
        {
            return self.append_text_array(array, on_bad);
        }
        let unsupported = || {
            format!(
                "a Parquet column of type {} cannot hold this field",
                array.data_type()
            )
        };
        match self {
            ColumnBuilder::Id(b) => {
                if !array.data_type().is_integer() {
                    return Err(unsupported());
                }
                b.append_array(&cast_to_int64(array)?);
            }
            ColumnBuilder::Int(b) => {
                if !array.data_type().is_integer() {
                    return Err(unsupported());
                }
                b.append_array(&cast_to_int64(array)?);
            }
            ColumnBuilder::Decimal(b) => {
                append_decimal(b, array, on_bad).map_err(|_| unsupported())?
            }
            ColumnBuilder::Bool(b) => match array.as_boolean_opt() {
                Some(values) => b.append_array(values),
                None => return Err(unsupported()),
            },
            ColumnBuilder::Date(b) => match array.data_type() {
                DataType::Date32 => {
                    b.append_array(array.as_primitive::<datafusion::arrow::datatypes::Date32Type>())
                }
                DataType::Date64 => b.extend(
                    array
                        .as_primitive::<Date64Type>()
                        .iter()
                        .map(|v| v.map(|ms| (ms * 1000).div_euclid(MICROS_PER_DAY) as i32)),
                ),
                _ => return Err(unsupported()),
            },
            ColumnBuilder::Timestamp(b) => {
                let micros = timestamp_micros(array).ok_or_else(unsupported)?;
                b.append_array(&micros);
            }
            ColumnBuilder::Str(s) => append_strings(s, array).map_err(|_| unsupported())?,
            ColumnBuilder::IdList(b) => {
                let list = match array.data_type() {
                    DataType::List(_) => array.as_list::<i32>().clone(),
                    DataType::LargeList(_) => {
                        let large = array.as_list::<i64>();
                        let target =
                            DataType::List(Arc::new(Field::new_list_field(DataType::Int64, true)));
                        cast_with_options(large, &target, &strict())
                            .map_err(|_| unsupported())?
                            .as_list::<i32>()
                            .clone()
                    }
                    _ => return Err(unsupported()),
                };
                for row in 0..list.len() {
                    if list.is_null(row) {
                        b.append_null();
                        continue;
                    }
                    let ids = cast_to_int64(&list.value(row)).map_err(|_| unsupported())?;
                    for id in ids.iter() {
                        match id {
                            Some(id) => b.values().append_value(id),
                            None => {
                                on_bad(row, "a list of ids holds a null".into());
                            }
                        }
                    }
                    b.append(true);
                }
            }
        }
        Ok(())
    }

    fn append_text_array(
        &mut self,
        array: &ArrayRef,
        on_bad: &mut dyn FnMut(usize, String),
    ) -> Result<(), String> {
        let text =
            cast_with_options(array, &DataType::Utf8, &strict()).map_err(|e| e.to_string())?;
        for (row, value) in text.as_string::<i32>().iter().enumerate() {
            match value {
                None => self.push_null(),
                Some(value) => {
                    if let Err(reason) = self.push_text(value) {
                        self.push_null();
                        on_bad(row, reason);
                    }
                }
            }
        }
        Ok(())
    }

    pub fn finish(self) -> ArrayRef {
        match self {
            ColumnBuilder::Id(mut b) => narrow_ids(b.finish()),
            ColumnBuilder::Int(b) | ColumnBuilder::Decimal(b) => b.finish(),
            ColumnBuilder::Bool(mut b) => Arc::new(b.finish()),
            ColumnBuilder::Date(mut b) => Arc::new(b.finish()),
            ColumnBuilder::Timestamp(mut b) => narrow_timestamps(b.finish()),
            ColumnBuilder::Str(s) => s.finish(),
            ColumnBuilder::IdList(mut b) => Arc::new(b.finish()),
        }
    }
}

/// Ids are kept in four bytes while every one fits (orders' ids at 100 million orders do):
/// half the memory of the largest key column. They stay ids: never keyed or narrower.
fn narrow_ids(ids: Int64Array) -> ArrayRef {
    if !ids.values().iter().all(|&id| i32::try_from(id).is_ok()) {
        return Arc::new(ids);
    }
    let narrow: Vec<i32> = ids.values().iter().map(|&id| id as i32).collect();
    Arc::new(Int32Array::new(narrow.into(), ids.nulls().cloned()))
}

/// Timestamps are kept as 4-byte whole seconds since the Unix epoch (a `UInt32` array)
/// when every value is a whole second from 1970 to 2106, as a store's data is as a rule:
/// half the memory of µs, exactly. Any other column stays in µs.
fn narrow_timestamps(micros: TimestampMicrosecondArray) -> ArrayRef {
    let in_seconds = |v: i64| {
        v % MICROS_PER_SECOND == 0 && (0..=u32::MAX as i64).contains(&(v / MICROS_PER_SECOND))
    };
    if !micros.iter().flatten().all(in_seconds) {
        return Arc::new(micros);
    }
    // Null slots hold any value; their seconds are never read.
    let seconds: Vec<u32> = micros
        .values()
        .iter()
        .map(|&v| (v / MICROS_PER_SECOND) as u32)
        .collect();
    Arc::new(UInt32Array::new(seconds.into(), micros.nulls().cloned()))
}

/// Ints and money: stored as Int32 while every value fits (half the memory for most
/// columns), widened to Int64 at the first value that does not.
pub enum IntBuilder {
    Narrow(Int32Builder, usize),
    Wide(Int64Builder),
}

impl IntBuilder {
    fn with_capacity(rows: usize) -> Self {
        IntBuilder::Narrow(Int32Builder::with_capacity(rows), rows)
    }

    fn widen(&mut self) -> &mut Int64Builder {
        if let IntBuilder::Narrow(narrow, capacity) = self {
            let values = narrow.finish();
            let mut wide = Int64Builder::with_capacity((*capacity).max(values.len()));
            wide.extend(values.iter().map(|v| v.map(i64::from)));
            *self = IntBuilder::Wide(wide);
        }
        match self {
            IntBuilder::Wide(wide) => wide,
            IntBuilder::Narrow(..) => unreachable!("widened above"),
        }
    }

    fn append_value(&mut self, value: i64) {
        match (self, i32::try_from(value)) {
            (IntBuilder::Narrow(b, _), Ok(v)) => b.append_value(v),
            (IntBuilder::Wide(b), _) => b.append_value(value),
            (this, Err(_)) => this.widen().append_value(value),
        }
    }

    fn append_null(&mut self) {
        match self {
            IntBuilder::Narrow(b, _) => b.append_null(),
            IntBuilder::Wide(b) => b.append_null(),
        }
    }

    fn append_array(&mut self, values: &Int64Array) {
        if let IntBuilder::Narrow(b, _) = self
            && values.values().iter().all(|&v| i32::try_from(v).is_ok())
        {
            let narrow: Vec<i32> = values.values().iter().map(|&v| v as i32).collect();
            b.append_array(&Int32Array::new(narrow.into(), values.nulls().cloned()));
            return;
        }
        self.widen().append_array(values);
    }

    /// The column in the narrowest integer type that holds every value: one byte a row
    /// for ids of websites and groups, two for small counts, four for most money.
    fn finish(self) -> ArrayRef {
        match self {
            IntBuilder::Narrow(mut b, _) => {
                let values = b.finish();
                let (low, high) = values
                    .iter()
                    .flatten()
                    .fold((0i32, 0i32), |(low, high), v| (low.min(v), high.max(v)));
                let (narrower, width) = if i8::try_from(low).is_ok() && i8::try_from(high).is_ok() {
                    (DataType::Int8, 1)
                } else if i16::try_from(low).is_ok() && i16::try_from(high).is_ok() {
                    (DataType::Int16, 2)
                } else {
                    (DataType::Int32, 4)
                };
                let wide = values.iter().map(|v| v.map(i64::from));
                if let Some(keyed) = keyed_if_few(wide, values.len(), width) {
                    return keyed;
                }
                if width == 4 {
                    return Arc::new(values);
                }
                cast(&values, &narrower).expect("every value fits the narrower type")
            }
            IntBuilder::Wide(mut b) => {
                let values = b.finish();
                keyed_if_few(values.iter(), values.len(), 8).unwrap_or_else(|| Arc::new(values))
            }
        }
    }
}

/// A column of few distinct values, each wider than its key would be, is kept as keys into
/// a dictionary of its values (Int64, ascending): one byte a row for up to 256 distinct
/// values, two for up to 65,536. Order item quantities (a handful of values) and prices
/// (one per product) in 31 million rows take a quarter and a half of their Int32 bytes.
/// Only where the dictionary is at most an eighth of the rows: elsewhere the keys would
/// save little and cost a lookup per read.
fn keyed_if_few(
    values: impl Iterator<Item = Option<i64>> + Clone,
    rows: usize,
    width: usize,
) -> Option<ArrayRef> {
    let limit = (rows / 8).min(if width > 2 { 1 << 16 } else { 1 << 8 });
    if width < 2 || limit == 0 {
        return None;
    }
    let mut distinct: FxHashMap<i64, u16> = FxHashMap::default();
    for value in values.clone().flatten() {
        if distinct.len() >= limit && !distinct.contains_key(&value) {
            return None;
        }
        distinct.entry(value).or_insert(0);
    }
    let mut sorted: Vec<i64> = distinct.keys().copied().collect();
    sorted.sort_unstable();
    for (key, value) in sorted.iter().enumerate() {
        distinct.insert(*value, key as u16);
    }
    let dictionary: ArrayRef = Arc::new(Int64Array::from(sorted));
    let key_of = |value: Option<i64>| value.map(|v| distinct[&v]);
    let broken = "keys index the dictionary";
    if distinct.len() <= 256 {
        let keys: UInt8Array = values.map(|v| key_of(v).map(|k| k as u8)).collect();
        Some(Arc::new(
            DictionaryArray::<UInt8Type>::try_new(keys, dictionary).expect(broken),
        ))
    } else if width > 2 {
        let keys: UInt16Array = values.map(key_of).collect();
        Some(Arc::new(
            DictionaryArray::<UInt16Type>::try_new(keys, dictionary).expect(broken),
        ))
    } else {
        None
    }
}

fn strict() -> CastOptions<'static> {
    CastOptions {
        safe: false,
        ..Default::default()
    }
}

fn cast_to_int64(array: &ArrayRef) -> Result<Int64Array, String> {
    let cast = cast_with_options(array, &DataType::Int64, &strict()).map_err(|e| e.to_string())?;
    Ok(cast.as_primitive::<Int64Type>().clone())
}

fn append_decimal(
    builder: &mut IntBuilder,
    array: &ArrayRef,
    on_bad: &mut dyn FnMut(usize, String),
) -> Result<(), ()> {
    match array.data_type() {
        DataType::Decimal128(_, 4) => {
            // The data model's own decimal(20,4): units as they are, checked for range.
            let decimals = array.as_primitive::<Decimal128Type>();
            let units: Vec<i64> = decimals.values().iter().map(|&v| v as i64).collect();
            match decimals
                .values()
                .iter()
                .position(|&v| i64::try_from(v).is_err())
            {
                None => {
                    builder.append_array(&Int64Array::new(units.into(), decimals.nulls().cloned()))
                }
                Some(_) => {
                    for (row, value) in decimals.iter().enumerate() {
                        match value.map(i64::try_from) {
                            None => builder.append_null(),
                            Some(Ok(units)) => builder.append_value(units),
                            Some(Err(_)) => {
                                builder.append_null();
                                on_bad(row, format!("decimal {value:?} is out of range"));
                            }
                        }
                    }
                }
            }
        }
        DataType::Decimal128(_, scale) => {
            let scale = i32::from(*scale);
            for (row, value) in array.as_primitive::<Decimal128Type>().iter().enumerate() {
                match value.map(|v| decimal128_to_units(v, scale)) {
                    None => builder.append_null(),
                    Some(Ok(units)) => builder.append_value(units),
                    Some(Err(reason)) => {
                        builder.append_null();
                        on_bad(row, reason);
                    }
                }
            }
        }
        DataType::Float64 | DataType::Float32 => {
            let floats = if let Some(f) = array.as_primitive_opt::<Float64Type>() {
                f.clone()
            } else {
                let f32s = array.as_primitive::<Float32Type>();
                f32s.unary(f64::from)
            };
            for (row, value) in floats.iter().enumerate() {
                match value.map(decimal_from_f64) {
                    None => builder.append_null(),
                    Some(Ok(units)) => builder.append_value(units),
                    Some(Err(reason)) => {
                        builder.append_null();
                        on_bad(row, reason);
                    }
                }
            }
        }
        t if t.is_integer() => {
            let ints = cast_to_int64(array).map_err(|_| ())?;
            for (row, value) in ints.iter().enumerate() {
                match value.map(|v| v.checked_mul(DECIMAL_SCALE)) {
                    None => builder.append_null(),
                    Some(Some(units)) => builder.append_value(units),
                    Some(None) => {
                        builder.append_null();
                        on_bad(
                            row,
                            format!("{} is too large for a decimal", ints.value(row)),
                        );
                    }
                }
            }
        }
        _ => return Err(()),
    }
    Ok(())
}

/// A decimal(p, s) value to units of 1/10000: exact, or an error naming the lost digits.
fn decimal128_to_units(value: i128, scale: i32) -> Result<i64, String> {
    let units = if scale <= 4 {
        value.checked_mul(10i128.pow((4 - scale) as u32))
    } else {
        let divisor = 10i128.pow((scale - 4) as u32);
        if value % divisor != 0 {
            return Err(format!(
                "decimal {value}e-{scale} has more than 4 fraction digits (decimals are exact to 1/10000)"
            ));
        }
        Some(value / divisor)
    };
    units
        .and_then(|u| i64::try_from(u).ok())
        .ok_or_else(|| format!("decimal {value}e-{scale} is out of range"))
}

/// Timestamps of any unit (and time zone: the stored value is always the UTC instant),
/// and dates as their midnight.
fn timestamp_micros(
    array: &ArrayRef,
) -> Option<datafusion::arrow::array::TimestampMicrosecondArray> {
    let out = match array.data_type() {
        DataType::Timestamp(TimeUnit::Second, _) => array
            .as_primitive::<TimestampSecondType>()
            .unary(|v| v * 1_000_000),
        DataType::Timestamp(TimeUnit::Millisecond, _) => array
            .as_primitive::<TimestampMillisecondType>()
            .unary(|v| v * 1_000),
        DataType::Timestamp(TimeUnit::Microsecond, _) => array
            .as_primitive::<TimestampMicrosecondType>()
            .unary(|v| v),
        DataType::Timestamp(TimeUnit::Nanosecond, _) => array
            .as_primitive::<TimestampNanosecondType>()
            .unary(|v| v.div_euclid(1_000)),
        DataType::Date32 => array
            .as_primitive::<datafusion::arrow::datatypes::Date32Type>()
            .unary(|d| i64::from(d) * MICROS_PER_DAY),
        _ => return None,
    };
    Some(out)
}

fn append_strings(interner: &mut StringInterner, array: &ArrayRef) -> Result<(), String> {
    if let Some(dict) = array.as_dictionary_opt::<Int32Type>()
        && dict.values().null_count() == 0
        && let Some(values) = dict.values().as_string_opt::<i32>()
    {
        // Intern each dictionary value once, then map the keys (nulls stay null).
        let remap: Vec<i32> = values
            .iter()
            .map(|v| interner.intern(v.unwrap_or_default()))
            .collect();
        let keys = dict
            .keys()
            .unary::<_, Int32Type>(|k| remap.get(k as usize).copied().unwrap_or(0));
        interner.keys.append_array(&keys);
        return Ok(());
    }
    if let Some(dict) = array.as_any_dictionary_opt() {
        let values = cast_with_options(dict.values(), &DataType::Utf8, &strict())
            .map_err(|e| e.to_string())?;
        let values = values.as_string::<i32>();
        // Intern each dictionary value once, then map the keys.
        let remap: Vec<Option<i32>> = values
            .iter()
            .map(|v| v.map(|v| interner.intern(v)))
            .collect();
        let nulls = array.logical_nulls();
        for (row, key) in dict.normalized_keys().into_iter().enumerate() {
            let valid = nulls.as_ref().is_none_or(|n| n.is_valid(row));
            match remap.get(key).copied().flatten() {
                Some(id) if valid => interner.keys.append_value(id),
                _ => interner.keys.append_null(),
            }
        }
        return Ok(());
    }
    let text = cast_with_options(array, &DataType::Utf8, &strict()).map_err(|e| e.to_string())?;
    for value in text.as_string::<i32>().iter() {
        match value {
            Some(v) => interner.push(v),
            None => interner.keys.append_null(),
        }
    }
    Ok(())
}
