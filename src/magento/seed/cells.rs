//! A dataset table as read (`events::table_as_read`), cell by cell as the values Magento's
//! columns take: ints, decimals as exact text, booleans as 0/1, dates and UTC timestamps.

use chrono::{Datelike, Timelike};
use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{
    DataType, Date32Type, Decimal128Type, Int64Type, TimestampMicrosecondType,
};
use mysql_async::Value;

use crate::data::value::{date_from_days, datetime_from_micros, format_decimal};
use crate::magento::MagentoError;
use crate::model::TableName;
use crate::segment::rows::ColumnReader;

/// The instants a MySQL `timestamp` column holds (1970-01-01 00:00:01 to
/// 2038-01-19 03:14:07 UTC), in µs.
const TIMESTAMP_RANGE: std::ops::RangeInclusive<i64> = 1_000_000..=2_147_483_647_000_000;

pub struct Table {
    pub name: TableName,
    batch: RecordBatch,
}

impl Table {
    pub fn new(name: TableName, batch: RecordBatch) -> Table {
        Table { name, batch }
    }

    pub fn rows(&self) -> usize {
        self.batch.num_rows()
    }

    /// The column `name`; all null when the table lacks it.
    pub fn column<'t>(&'t self, name: &'t str) -> Cells<'t> {
        self.cells(name, self.batch.column_by_name(name).map(|a| a.as_ref()))
    }

    /// The columns that are not the data model's: custom attributes.
    pub fn custom_columns(&self) -> Vec<Cells<'_>> {
        let spec = self.name.spec();
        self.batch
            .schema_ref()
            .fields()
            .iter()
            .zip(self.batch.columns())
            .filter(|(field, _)| !spec.columns.iter().any(|c| c.name == field.name()))
            .map(|(field, array)| self.cells(field.name(), Some(array.as_ref())))
            .collect()
    }

    fn cells<'t>(&'t self, name: &'t str, array: Option<&'t dyn Array>) -> Cells<'t> {
        let array = array.filter(|a| a.data_type() != &DataType::Null);
        let text = array
            .filter(|a| matches!(a.data_type(), DataType::Dictionary(_, _)))
            .map(ColumnReader::of_text);
        Cells {
            table: self,
            name,
            array,
            text,
        }
    }

    /// The row named for an error: its table and the ids it has.
    fn describe(&self, row: usize) -> String {
        const IDS: [&str; 6] = [
            "address_id",
            "order_id",
            "cart_id",
            "customer_id",
            "visitor_id",
            "product_id",
        ];
        let ids: Vec<String> = IDS
            .iter()
            .filter_map(|&id| Some(format!("{id} {}", self.column(id).int(row)?)))
            .collect();
        format!("{} ({})", self.name.file_stem(), ids.join(", "))
    }
}

/// One column of a [`Table`].
pub struct Cells<'t> {
    table: &'t Table,
    pub name: &'t str,
    array: Option<&'t dyn Array>,
    text: Option<ColumnReader<'t>>,
}

impl<'t> Cells<'t> {
    pub fn rows(&self) -> usize {
        self.table.rows()
    }

    pub fn data_type(&self) -> DataType {
        self.array.map_or(DataType::Null, |a| a.data_type().clone())
    }

    fn valid(&self, row: usize) -> Option<&'t dyn Array> {
        self.array.filter(|a| a.is_valid(row))
    }

    pub fn int(&self, row: usize) -> Option<i64> {
        let array = self.valid(row)?;
        match array.data_type() {
            DataType::Int64 => Some(array.as_primitive::<Int64Type>().value(row)),
            DataType::Decimal128(_, _) => {
                Some(array.as_primitive::<Decimal128Type>().value(row) as i64)
            }
            _ => None,
        }
    }

    pub fn bool(&self, row: usize) -> Option<bool> {
        let array = self.valid(row)?;
        (array.data_type() == &DataType::Boolean).then(|| array.as_boolean().value(row))
    }

    pub fn text(&self, row: usize) -> Option<&'t str> {
        self.text.as_ref()?.text(row)
    }

    pub fn micros(&self, row: usize) -> Option<i64> {
        let array = self.valid(row)?;
        matches!(array.data_type(), DataType::Timestamp(_, _))
            .then(|| array.as_primitive::<TimestampMicrosecondType>().value(row))
    }

    pub fn ids(&self, row: usize) -> Vec<i64> {
        match self.valid(row) {
            Some(array) if matches!(array.data_type(), DataType::List(_)) => array
                .as_list::<i32>()
                .value(row)
                .as_primitive::<Int64Type>()
                .iter()
                .flatten()
                .collect(),
            _ => Vec::new(),
        }
    }

    /// The cell as a SQL value; a timestamp Magento's columns cannot hold is an error
    /// naming the row.
    pub fn value(&self, row: usize) -> Result<Value, MagentoError> {
        let Some(array) = self.valid(row) else {
            return Ok(Value::NULL);
        };
        Ok(match array.data_type() {
            DataType::Int64 => Value::Int(array.as_primitive::<Int64Type>().value(row)),
            DataType::Decimal128(_, _) => Value::Bytes(
                format_decimal(array.as_primitive::<Decimal128Type>().value(row) as i64)
                    .into_bytes(),
            ),
            DataType::Boolean => Value::Int(i64::from(array.as_boolean().value(row))),
            DataType::Date32 => {
                let date = date_from_days(array.as_primitive::<Date32Type>().value(row));
                let year = u16::try_from(date.year()).map_err(|_| {
                    self.error(row, format!("{date} is before year 0, which MySQL lacks"))
                })?;
                Value::Date(year, date.month() as u8, date.day() as u8, 0, 0, 0, 0)
            }
            DataType::Timestamp(_, _) => {
                let micros = array.as_primitive::<TimestampMicrosecondType>().value(row);
                timestamp(micros).ok_or_else(|| {
                    self.error(
                        row,
                        format!(
                            "{} is outside 1970-01-01T00:00:01Z to 2038-01-19T03:14:07Z, the \
                             instants Magento's timestamp columns hold",
                            crate::data::value::format_timestamp(micros)
                        ),
                    )
                })?
            }
            DataType::Dictionary(_, _) => self
                .text(row)
                .map_or(Value::NULL, |text| Value::Bytes(text.as_bytes().to_vec())),
            other => return Err(self.error(row, format!("a {other} column has no SQL value"))),
        })
    }

    /// The text of a column Magento declares `NOT NULL`: `""` for null.
    pub fn required_text(&self, row: usize) -> Value {
        Value::Bytes(self.text(row).unwrap_or_default().as_bytes().to_vec())
    }

    /// An amount Magento declares `NOT NULL DEFAULT 0`: 0 for null.
    pub fn amount_or_zero(&self, row: usize) -> Result<Value, MagentoError> {
        match self.value(row)? {
            Value::NULL => Ok(Value::Bytes(b"0.0000".to_vec())),
            value => Ok(value),
        }
    }

    /// An error about the whole column.
    pub fn column_error(&self, reason: impl std::fmt::Display) -> MagentoError {
        MagentoError::table(
            &format!("{}.{}", self.table.name.file_stem(), self.name),
            reason,
        )
    }

    pub fn error(&self, row: usize, reason: impl std::fmt::Display) -> MagentoError {
        MagentoError::table(
            &format!("{}, {}", self.table.describe(row), self.name),
            reason,
        )
    }
}

/// A UTC instant as a MySQL `timestamp` value (the session's time zone is UTC), or `None`
/// outside the range the type holds.
pub fn timestamp(micros: i64) -> Option<Value> {
    if !TIMESTAMP_RANGE.contains(&micros.div_euclid(1_000_000).saturating_mul(1_000_000)) {
        return None;
    }
    let at = datetime_from_micros(micros)?;
    Some(Value::Date(
        at.year() as u16,
        at.month() as u8,
        at.day() as u8,
        at.hour() as u8,
        at.minute() as u8,
        at.second() as u8,
        at.nanosecond() / 1000,
    ))
}
