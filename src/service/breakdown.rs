//! A segment's members counted by one field: a customer column (group, gender, website,
//! a custom attribute) or a column of the default billing address (its country, say).
//! One pass over the members, each value read where the report reads it: the loaded
//! columns, or the rows events left for the subjects they touched.

use std::collections::{BTreeSet, HashMap};

use roaring::RoaringBitmap;

use super::SubjectId;
use super::report::{MemberSource, default_billing_now, loaded_default_billing};
use crate::events::{Layouts, SubjectRows, Value};
use crate::model::{FieldType, TableName};
use crate::segment::rows::ColumnReader;
use crate::segment::schema::{FieldSource, FieldTable, Schema};
use crate::store::Dataset;

/// Groups a breakdown answers with, at most; the smaller ones are summed as `other`.
pub const MAX_GROUPS: usize = 100;

/// What members are counted by: `customer.<column>` or `address.<column>`, the customer's
/// default billing address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupBy {
    table: TableName,
    column: String,
    ty: FieldType,
}

impl GroupBy {
    /// `customer.<column>` or `address.<column>` of a field of few values (ids, ints,
    /// booleans, text); the error says why another is refused.
    pub fn parse(path: &str, schema: &Schema) -> Result<GroupBy, String> {
        let (table, column) = path.split_once('.').unwrap_or(("", path));
        let table = match FieldTable::from_name(table) {
            Some(table @ (FieldTable::Customer | FieldTable::Address)) => table,
            _ => {
                return Err(format!(
                    "{path:?} is not a field to break down by: use customer.<column> or address.<column> (the default billing address)"
                ));
            }
        };
        let field = schema
            .field(table, column)
            .ok_or_else(|| format!("{path:?} is not a field of the data (see GET /schema)"))?;
        if !matches!(field.source, FieldSource::Column(_)) {
            return Err(format!(
                "{path:?} is derived from the day, not stored: break down by a stored field"
            ));
        }
        match field.ty {
            FieldType::Id | FieldType::Int | FieldType::Bool | FieldType::String => Ok(GroupBy {
                table: table.table_name(),
                column: column.to_string(),
                ty: field.ty,
            }),
            other => Err(format!(
                "{path:?} is a {other} field: a breakdown groups by an id, int, bool or string field"
            )),
        }
    }
}

/// One value and how many members have it (`None`: no value, or no default billing
/// address).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GroupValue {
    Int(i64),
    Bool(bool),
    Text(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Breakdown {
    /// The customers among the members, each in one group.
    pub customers: u64,
    /// Visitors among the members: they have no customer fields.
    pub visitors: u64,
    /// The largest groups, most members first, then by value; at most [`MAX_GROUPS`].
    pub groups: Vec<(Option<GroupValue>, u64)>,
    /// Customers in the groups left out.
    pub other: u64,
}

/// Counts `members` by `by`.
pub fn breakdown(source: &MemberSource, members: &RoaringBitmap, by: &GroupBy) -> Breakdown {
    let dataset = source.dataset.as_ref();
    let loaded = LoadedValues::new(dataset, by);
    let tables = BTreeSet::from([by.table]);
    let subjects = source.subjects();
    let mut counts: HashMap<Option<GroupValue>, u64> = HashMap::new();
    let mut visitors = 0;
    for subject in members {
        if let SubjectId::Visitor(_) = subjects.id(subject) {
            visitors += 1;
            continue;
        }
        let value = match source
            .delta
            .rows_now(dataset, &source.layouts, subject, Some(&tables))
        {
            Some(rows) => value_in_rows(&rows, &source.layouts, by),
            None if (subject as usize) < dataset.customer_count() => loaded.value(subject as usize),
            None => None,
        };
        *counts.entry(value).or_default() += 1;
    }
    let customers = counts.values().sum();
    let mut groups: Vec<(Option<GroupValue>, u64)> = counts.into_iter().collect();
    groups.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let other = groups.iter().skip(MAX_GROUPS).map(|(_, n)| n).sum();
    groups.truncate(MAX_GROUPS);
    Breakdown {
        customers,
        visitors,
        groups,
        other,
    }
}

/// The grouping column of the loaded data.
struct LoadedValues<'a> {
    dataset: &'a Dataset,
    by: &'a GroupBy,
    column: Option<ColumnReader<'a>>,
    is_default_billing: Option<ColumnReader<'a>>,
}

impl<'a> LoadedValues<'a> {
    fn new(dataset: &'a Dataset, by: &'a GroupBy) -> LoadedValues<'a> {
        let table = match by.table {
            TableName::Customers => &dataset.customers,
            _ => &dataset.addresses.table,
        };
        LoadedValues {
            dataset,
            by,
            column: table.column(&by.column).map(ColumnReader::new),
            is_default_billing: dataset
                .addresses
                .table
                .column("is_default_billing")
                .map(ColumnReader::new),
        }
    }

    fn value(&self, customer: usize) -> Option<GroupValue> {
        let row = match self.by.table {
            TableName::Customers => customer,
            _ => loaded_default_billing(self.dataset, self.is_default_billing.as_ref()?, customer)?,
        };
        let column = self.column.as_ref()?;
        match self.by.ty {
            FieldType::String => column.text(row).map(|t| GroupValue::Text(t.to_string())),
            FieldType::Bool => column.number(row).map(|b| GroupValue::Bool(b != 0)),
            _ => column.number(row).map(GroupValue::Int),
        }
    }
}

/// The grouping value in a customer's rows as events left them.
fn value_in_rows(rows: &SubjectRows, layouts: &Layouts, by: &GroupBy) -> Option<GroupValue> {
    let position = layouts.position(by.table, &by.column)?;
    let row = match by.table {
        TableName::Customers => rows.rows(by.table).first()?,
        _ => default_billing_now(rows, layouts)?,
    };
    match &row[position] {
        Value::Text(text) => Some(GroupValue::Text(text.clone())),
        Value::Bool(b) => Some(GroupValue::Bool(*b)),
        Value::Null => None,
        other => other.number().map(|n| match by.ty {
            FieldType::Bool => GroupValue::Bool(n != 0),
            _ => GroupValue::Int(n),
        }),
    }
}
