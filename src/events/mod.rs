//! Real-time events (interface.md, "Events"): each event is a change to the data, applied
//! in order on top of a loaded dataset. A list is parsed whole first ([`EventList`]), then
//! applied whole or not at all: the first bad event stops it with a pointer to the
//! offending part, and the dataset is left as it was.
//!
//! This module holds the typed events, their log, the rows of one subject as events see
//! them ([`SubjectRows`], in the columns of [`Layouts`]) and a table written again with
//! rows taken out and added ([`TableEdit`]). Events are applied to the rows of the subjects
//! they touch by `crate::live`.

mod event;
pub mod idempotency;
pub mod log;

pub use event::{Event, EventList, OrderChanges, Row};

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Date32Array, Decimal128Array, DictionaryArray,
    Int64Array, ListArray, TimestampMicrosecondArray, new_null_array,
};
use datafusion::arrow::compute::{cast, concat_batches, filter_record_batch};
use datafusion::arrow::datatypes::{
    DataType, Date32Type, Decimal128Type, Field, Int32Type, Int64Type, Schema,
    TimestampMicrosecondType,
};
use datafusion::arrow::record_batch::RecordBatch;
use roaring::RoaringBitmap;
use rustc_hash::FxHashMap;

use crate::data::LoadError;
use crate::model::{FieldType, TableName};
use crate::store::{Column, Dataset, Ints, Table, micros_at};

/// The event types of interface.md.
pub const EVENT_TYPES: [&str; 11] = [
    "customer_upserted",
    "address_upserted",
    "address_deleted",
    "order_placed",
    "order_updated",
    "cart_updated",
    "wishlist_item_added",
    "wishlist_item_removed",
    "product_viewed",
    "product_upserted",
    "visitor_logged_in",
];

/// Why a list of events was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{pointer}: {message}")]
pub struct EventError {
    /// JSON Pointer into the list: `/3/items/0/product_id`.
    pub pointer: String,
    pub message: String,
}

fn refuse(pointer: impl Into<String>, message: impl Into<String>) -> EventError {
    EventError {
        pointer: pointer.into(),
        message: message.into(),
    }
}

/// Why the data now refuses an event (`crate::live::apply` says it).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Refusal {
    NoCustomer(i64),
    /// A visitor without a cart or a product view in the data.
    NoVisitor(i64),
    NoProduct(i64),
    NoAddress(i64),
    NoOrder(i64),
    OrderExists(i64),
    NotOnWishlist {
        customer: i64,
        product: i64,
    },
    Required(&'static str, TableName),
}

impl Refusal {
    /// The refusal of the part of the list at `pointer`.
    pub(crate) fn at(self, pointer: impl Into<String>) -> EventError {
        let message = match self {
            Refusal::NoCustomer(id) => format!("customer {id} does not exist"),
            Refusal::NoVisitor(id) => {
                format!("visitor {id} does not exist (no cart or product view of theirs)")
            }
            Refusal::NoProduct(id) => format!("product {id} does not exist"),
            Refusal::NoAddress(id) => format!("address {id} does not exist"),
            Refusal::NoOrder(id) => format!("order {id} does not exist"),
            Refusal::OrderExists(id) => {
                format!("order {id} exists already: change it with order_updated")
            }
            Refusal::NotOnWishlist { customer, product } => {
                format!("product {product} is not on customer {customer}'s wishlist")
            }
            Refusal::Required(column, table) => format!("{column} is required in a {table} row"),
        };
        refuse(pointer, message)
    }
}

/// The first required column of `table` a row leaves null (`position` finds columns).
pub(crate) fn missing_required(
    table: TableName,
    row: &[Value],
    position: impl Fn(&str) -> usize,
) -> Option<Refusal> {
    table
        .spec()
        .columns
        .iter()
        .find(|c| c.required && row[position(c.name)] == Value::Null)
        .map(|c| Refusal::Required(c.name, table))
}

/// One cell. Decimals are units of 1/10000 in `Int`, as the store keeps them.
/// Serialized only to pack the rows the delta holds ([`crate::live::changes`]).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) enum Value {
    Null,
    Int(i64),
    Bool(bool),
    Date(i32),
    Micros(i64),
    Text(String),
    Ids(Vec<i64>),
}

impl Value {
    fn id(&self) -> Option<i64> {
        match self {
            Value::Int(v) => Some(*v),
            _ => None,
        }
    }

    /// An ordered value in the domain tests compare it in: ints and decimal units,
    /// bools as 0/1, days, microseconds.
    pub(crate) fn number(&self) -> Option<i64> {
        match self {
            Value::Int(v) | Value::Micros(v) => Some(*v),
            Value::Bool(b) => Some(*b as i64),
            Value::Date(d) => Some(*d as i64),
            Value::Null | Value::Text(_) | Value::Ids(_) => None,
        }
    }

    pub(crate) fn text(&self) -> Option<&str> {
        match self {
            Value::Text(text) => Some(text),
            _ => None,
        }
    }

    pub(crate) fn ids(&self) -> Option<&[i64]> {
        match self {
            Value::Ids(ids) => Some(ids),
            _ => None,
        }
    }
}

/// The Arrow type a column is handed back to the loader in: the store's types, except
/// decimals (units are not a decimal type) and ints, which the loader narrows again.
fn exchange_type(ty: FieldType) -> DataType {
    match ty {
        FieldType::Id | FieldType::Int => DataType::Int64,
        FieldType::Decimal => DataType::Decimal128(20, 4),
        other => crate::data::columns::store_data_type(other),
    }
}

fn exchange_array(column: &Column, rows: usize) -> Result<ArrayRef, LoadError> {
    let target = exchange_type(column.ty);
    let array = &column.array;
    if array.data_type() == &DataType::Null {
        return Ok(new_null_array(&target, rows));
    }
    let converted: ArrayRef = match column.ty {
        FieldType::Decimal => {
            let units = Ints::of(array.as_ref()).ok_or_else(|| {
                LoadError::file(&column.name, "a decimal column is not stored as units")
            })?;
            Arc::new(
                units
                    .iter()
                    .map(|u| u.map(i128::from))
                    .collect::<Decimal128Array>()
                    .with_precision_and_scale(20, 4)
                    .map_err(|e| LoadError::file(&column.name, e))?,
            )
        }
        FieldType::Timestamp if array.data_type() != &target => Arc::new(
            (0..rows)
                .map(|row| micros_at(array.as_ref(), row))
                .collect::<TimestampMicrosecondArray>(),
        ),
        _ if array.data_type() != &target => {
            cast(array, &target).map_err(|e| LoadError::file(&column.name, e))?
        }
        _ => array.clone(),
    };
    Ok(converted)
}

fn value_at(ty: FieldType, array: &dyn Array, row: usize) -> Value {
    if array.is_null(row) {
        return Value::Null;
    }
    match ty {
        FieldType::Id | FieldType::Int => Value::Int(array.as_primitive::<Int64Type>().value(row)),
        FieldType::Decimal => Value::Int(array.as_primitive::<Decimal128Type>().value(row) as i64),
        FieldType::Bool => Value::Bool(array.as_boolean().value(row)),
        FieldType::Date => Value::Date(array.as_primitive::<Date32Type>().value(row)),
        FieldType::Timestamp => {
            Value::Micros(array.as_primitive::<TimestampMicrosecondType>().value(row))
        }
        FieldType::String => crate::segment::rows::ColumnReader::of_text(array)
            .text(row)
            .map_or(Value::Null, |text| Value::Text(text.to_string())),
        FieldType::IdList => {
            let list = array.as_list::<i32>().value(row);
            Value::Ids(list.as_primitive::<Int64Type>().iter().flatten().collect())
        }
    }
}

fn build_array(ty: FieldType, values: &[&Value]) -> ArrayRef {
    let ints = || {
        values
            .iter()
            .map(|v| match v {
                Value::Int(i) => Some(*i),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    match ty {
        FieldType::Id | FieldType::Int => Arc::new(Int64Array::from(ints())),
        FieldType::Decimal => Arc::new(
            ints()
                .into_iter()
                .map(|u| u.map(i128::from))
                .collect::<Decimal128Array>()
                .with_precision_and_scale(20, 4)
                .expect("20,4 is a valid decimal type"),
        ),
        FieldType::Bool => Arc::new(
            values
                .iter()
                .map(|v| match v {
                    Value::Bool(b) => Some(*b),
                    _ => None,
                })
                .collect::<BooleanArray>(),
        ),
        FieldType::Date => Arc::new(
            values
                .iter()
                .map(|v| match v {
                    Value::Date(d) => Some(*d),
                    _ => None,
                })
                .collect::<Date32Array>(),
        ),
        FieldType::Timestamp => Arc::new(
            values
                .iter()
                .map(|v| match v {
                    Value::Micros(m) => Some(*m),
                    _ => None,
                })
                .collect::<TimestampMicrosecondArray>(),
        ),
        FieldType::String => Arc::new(
            values
                .iter()
                .map(|v| match v {
                    Value::Text(t) => Some(t.as_str()),
                    _ => None,
                })
                .collect::<DictionaryArray<Int32Type>>(),
        ),
        FieldType::IdList => Arc::new(ListArray::from_iter_primitive::<Int64Type, _, _>(
            values.iter().map(|v| match v {
                Value::Ids(ids) => Some(ids.iter().map(|&i| Some(i)).collect::<Vec<_>>()),
                _ => None,
            }),
        )),
    }
}

/// One table of a dataset written again: its rows as loaded, less those taken out, then
/// the rows added.
pub(crate) struct TableEdit<'a> {
    name: TableName,
    columns: Vec<(String, FieldType)>,
    base: Vec<ArrayRef>,
    base_rows: usize,
    removed: RoaringBitmap,
    added: Vec<std::borrow::Cow<'a, [Value]>>,
}

impl<'a> TableEdit<'a> {
    /// Table `name` of `dataset` as read (`Dataset::full_table`), nothing changed yet.
    pub(crate) fn of(dataset: &Dataset, name: TableName) -> Result<TableEdit<'a>, LoadError> {
        let table = match name {
            TableName::Customers => dataset.customers.clone(),
            TableName::Products => dataset.products.clone(),
            other => dataset.full_table(dataset.relation(other).expect("a relation")),
        };
        Ok(TableEdit {
            name: table.name,
            columns: table
                .columns
                .iter()
                .map(|c| (c.name.clone(), c.ty))
                .collect(),
            base: table
                .columns
                .iter()
                .map(|c| exchange_array(c, table.rows))
                .collect::<Result<_, _>>()?,
            base_rows: table.rows,
            removed: RoaringBitmap::new(),
            added: Vec::new(),
        })
    }

    /// Takes out loaded rows.
    pub(crate) fn remove(&mut self, rows: impl IntoIterator<Item = usize>) {
        self.removed.extend(rows.into_iter().map(|row| row as u32));
    }

    /// Adds rows in the table's columns ([`Layouts`]).
    pub(crate) fn add(&mut self, rows: impl IntoIterator<Item = &'a [Value]>) {
        self.added
            .extend(rows.into_iter().map(std::borrow::Cow::Borrowed));
    }

    /// Adds rows it keeps until written (rows unpacked from the delta).
    pub(crate) fn add_owned(&mut self, rows: Vec<Vec<Value>>) {
        self.added
            .extend(rows.into_iter().map(std::borrow::Cow::Owned));
    }

    pub(crate) fn finish(self) -> Result<RecordBatch, LoadError> {
        let schema = Arc::new(Schema::new(
            self.columns
                .iter()
                .map(|(name, ty)| Field::new(name, exchange_type(*ty), true))
                .collect::<Vec<_>>(),
        ));
        let failed = |e: datafusion::arrow::error::ArrowError| {
            LoadError::file(self.name.file_stem(), e.to_string())
        };
        let base = RecordBatch::try_new(schema.clone(), self.base.clone()).map_err(failed)?;
        if self.removed.is_empty() && self.added.is_empty() {
            return Ok(base);
        }
        let keep: BooleanArray = (0..self.base_rows as u32)
            .map(|row| Some(!self.removed.contains(row)))
            .collect();
        let kept = filter_record_batch(&base, &keep).map_err(failed)?;
        let added_columns: Vec<ArrayRef> = self
            .columns
            .iter()
            .enumerate()
            .map(|(c, (_, ty))| {
                let values: Vec<&Value> = self.added.iter().map(|row| &row[c]).collect();
                build_array(*ty, &values)
            })
            .collect();
        let added = RecordBatch::try_new(schema.clone(), added_columns).map_err(failed)?;
        concat_batches(&schema, [&kept, &added]).map_err(failed)
    }
}

// ---- one subject's rows, for applying events to a few subjects at a time ----

/// Every row of one subject, per table, in the columns of [`Dataset::full_table`]: its
/// customer row, addresses, orders with their items and addresses, carts with their items,
/// wishlist items and product views. Empty for a subject without records.
#[derive(Clone, Debug, Default)]
pub struct SubjectRows(BTreeMap<TableName, Vec<Vec<Value>>>);

impl SubjectRows {
    /// Its rows of `table`, in the columns of [`Layouts`].
    pub(crate) fn rows(&self, table: TableName) -> &[Vec<Value>] {
        self.0.get(&table).map_or(&[], Vec::as_slice)
    }

    pub(crate) fn rows_mut(&mut self, table: TableName) -> &mut Vec<Vec<Value>> {
        self.0.entry(table).or_default()
    }

    pub fn is_empty(&self) -> bool {
        self.0.values().all(Vec::is_empty)
    }

    /// How many rows it holds in each table.
    pub(crate) fn lengths(&self) -> BTreeMap<TableName, usize> {
        self.0
            .iter()
            .map(|(&table, rows)| (table, rows.len()))
            .collect()
    }

    /// How many rows it holds, over every table.
    pub fn len(&self) -> usize {
        self.0.values().map(Vec::len).sum()
    }

    /// Its rows, by table.
    pub(crate) fn tables(&self) -> &BTreeMap<TableName, Vec<Vec<Value>>> {
        &self.0
    }

    /// Its rows of `tables` only.
    pub fn in_tables(&self, tables: &std::collections::BTreeSet<TableName>) -> SubjectRows {
        let mut kept = self.0.clone();
        kept.retain(|table, _| tables.contains(table));
        SubjectRows(kept)
    }

    /// Whether `other` holds the same rows in every table, in whatever order.
    pub fn same_rows_as(&self, other: &SubjectRows) -> bool {
        TableName::ALL.into_iter().all(|table| {
            let (mine, theirs) = (self.rows(table), other.rows(table));
            let mut matched = vec![false; theirs.len()];
            mine.len() == theirs.len()
                && mine.iter().all(|row| {
                    let found = (0..theirs.len()).find(|&at| !matched[at] && theirs[at] == *row);
                    found.map(|at| matched[at] = true).is_some()
                })
        })
    }
}

/// One `products` row, in the columns of the table as read.
#[derive(Clone, Debug)]
pub struct ProductRow(pub(crate) Vec<Value>);

/// The row of product `id` in `dataset`, if it has the product.
pub fn product_row(dataset: &Dataset, layouts: &Layouts, id: i64) -> Option<ProductRow> {
    let row = dataset.product_index.get(id)?;
    Some(ProductRow(row_of(
        dataset,
        layouts,
        TableName::Products,
        row as usize,
    )))
}

/// Where a column of a table as read comes from in the store.
#[derive(Clone, Copy, Debug)]
enum Source {
    Column(usize),
    Link(crate::store::LinkTarget),
}

/// The columns of every table as read (`Dataset::full_table`'s order), with their types.
#[derive(Clone, Debug)]
pub struct Layouts {
    columns: BTreeMap<TableName, Vec<(String, FieldType, Source)>>,
    /// Each table's column positions by name: looked up for every row a test reads.
    positions: BTreeMap<TableName, FxHashMap<String, usize>>,
    keys: BTreeMap<TableName, KeyColumns>,
}

/// Where the columns that tie rows together are in a table's rows (`None`: the table has
/// no such column): what matching and applying events read for every row.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct KeyColumns {
    pub website_id: Option<usize>,
    pub is_active: Option<usize>,
    pub product_id: Option<usize>,
    pub order_id: Option<usize>,
    pub cart_id: Option<usize>,
}

impl Layouts {
    pub fn of(dataset: &Dataset) -> Layouts {
        let plain = |table: &Table| -> Vec<(String, FieldType, Source)> {
            table
                .columns
                .iter()
                .enumerate()
                .map(|(i, c)| (c.name.clone(), c.ty, Source::Column(i)))
                .collect()
        };
        let mut columns = BTreeMap::new();
        columns.insert(TableName::Customers, plain(&dataset.customers));
        columns.insert(TableName::Products, plain(&dataset.products));
        for (name, relation) in dataset.relations() {
            let mut own = plain(&relation.table);
            for link in &relation.links {
                let at = link.position.min(own.len());
                own.insert(
                    at,
                    (link.name.clone(), FieldType::Id, Source::Link(link.target)),
                );
            }
            columns.insert(name, own);
        }
        let keys = columns
            .iter()
            .map(|(&table, own)| {
                let at = |column: &str| own.iter().position(|(name, _, _)| name == column);
                let keys = KeyColumns {
                    website_id: at("website_id"),
                    is_active: at("is_active"),
                    product_id: at("product_id"),
                    order_id: at("order_id"),
                    cart_id: at("cart_id"),
                };
                (table, keys)
            })
            .collect();
        let positions = columns
            .iter()
            .map(|(&table, own)| {
                let by_name = own
                    .iter()
                    .enumerate()
                    .map(|(at, (name, _, _))| (name.clone(), at))
                    .collect();
                (table, by_name)
            })
            .collect();
        Layouts {
            columns,
            positions,
            keys,
        }
    }

    /// Where `column` is in the rows of `table`.
    pub(crate) fn position(&self, table: TableName, column: &str) -> Option<usize> {
        self.positions[&table].get(column).copied()
    }

    pub(crate) fn keys(&self, table: TableName) -> &KeyColumns {
        &self.keys[&table]
    }

    fn columns(&self, table: TableName) -> &[(String, FieldType, Source)] {
        &self.columns[&table]
    }
}

/// A value of the store's column at `row` (ints and decimals in either width, interned
/// strings).
fn stored_value(ty: FieldType, array: &dyn Array, row: usize) -> Value {
    if array.data_type() == &DataType::Null || array.is_null(row) {
        return Value::Null;
    }
    match ty {
        FieldType::Id | FieldType::Int | FieldType::Decimal => {
            Value::Int(Ints::of(array).map_or(0, |ints| ints.value(row)))
        }
        FieldType::Timestamp => micros_at(array, row).map_or(Value::Null, Value::Micros),
        _ => value_at(ty, array, row),
    }
}

/// One row of a table as read, from the store.
fn row_of(dataset: &Dataset, layouts: &Layouts, name: TableName, row: usize) -> Vec<Value> {
    let (table, relation) = match name {
        TableName::Customers => (&dataset.customers, None),
        TableName::Products => (&dataset.products, None),
        other => {
            let relation = dataset.relation(other).expect("a relation");
            (&relation.table, Some(relation))
        }
    };
    layouts
        .columns(name)
        .iter()
        .map(|(_, ty, source)| match (source, relation) {
            (Source::Column(i), _) => stored_value(*ty, table.columns[*i].array.as_ref(), row),
            (Source::Link(target), Some(relation)) => link_value(dataset, relation, *target, row),
            (Source::Link(_), None) => Value::Null,
        })
        .collect()
}

fn link_value(
    dataset: &Dataset,
    relation: &crate::store::Relation,
    target: crate::store::LinkTarget,
    row: usize,
) -> Value {
    use crate::store::{LinkTarget, NONE};
    let key = |table: &Table, column: &str, at: u32| {
        Value::Int(table.ints(column).expect("key column").value(at as usize))
    };
    let owner = |groups: &crate::store::Groups| Some(groups.owner_of(row)).filter(|&o| o != NONE);
    match target {
        LinkTarget::Customer => owner(&relation.groups)
            .map_or(Value::Null, |c| key(&dataset.customers, "customer_id", c)),
        LinkTarget::Visitor => relation
            .visitor_groups
            .as_ref()
            .and_then(owner)
            .map_or(Value::Null, |v| Value::Int(dataset.visitor_ids[v as usize])),
        LinkTarget::Parent if relation.table.name == TableName::CartItems => {
            owner(&relation.groups).map_or(Value::Null, |c| key(&dataset.carts.table, "cart_id", c))
        }
        LinkTarget::Parent => owner(&relation.groups)
            .map_or(Value::Null, |o| key(&dataset.orders.table, "order_id", o)),
        LinkTarget::Product => relation
            .product_row
            .as_ref()
            .map(|links| links.get(row))
            .filter(|&p| p != NONE)
            .map_or(Value::Null, |p| key(&dataset.products, "product_id", p)),
    }
}

/// Where a subject's rows are in `dataset`'s tables (`subject`: one of its dense ids):
/// its customer row, addresses, orders with their items and addresses, carts with their
/// items, wishlist items and product views.
pub(crate) fn subject_row_ranges(
    dataset: &Dataset,
    subject: u32,
) -> Vec<(TableName, Range<usize>)> {
    let mut ranges = Vec::new();
    let customers = dataset.customer_count();
    let (carts, views) = match (subject as usize).checked_sub(customers) {
        None => {
            let c = subject as usize;
            ranges.push((TableName::Customers, c..c + 1));
            ranges.push((TableName::Addresses, dataset.addresses.groups.rows_of(c)));
            for order in dataset.orders.groups.rows_of(c) {
                ranges.extend(order_row_ranges(dataset, order));
            }
            let wishlist = dataset.wishlist_items.groups.rows_of(c);
            ranges.push((TableName::WishlistItems, wishlist));
            (
                dataset.carts.groups.rows_of(c),
                dataset.product_views.groups.rows_of(c),
            )
        }
        Some(v) => {
            let of = |relation: &crate::store::Relation| {
                relation
                    .visitor_groups
                    .as_ref()
                    .map_or(0..0, |g| g.rows_of(v))
            };
            (of(&dataset.carts), of(&dataset.product_views))
        }
    };
    for cart in carts.clone() {
        let items = dataset.cart_items.groups.rows_of(cart);
        ranges.push((TableName::CartItems, items));
    }
    ranges.push((TableName::Carts, carts));
    ranges.push((TableName::ProductViews, views));
    ranges
}

/// Where the order at row `order` of `dataset` is, with its items and addresses.
pub(crate) fn order_row_ranges(dataset: &Dataset, order: usize) -> [(TableName, Range<usize>); 3] {
    [
        (TableName::Orders, order..order + 1),
        (
            TableName::OrderItems,
            dataset.order_items.groups.rows_of(order),
        ),
        (
            TableName::OrderAddresses,
            dataset.order_addresses.groups.rows_of(order),
        ),
    ]
}

/// The rows at `ranges` of `dataset`'s tables, in the columns of [`Layouts`].
fn rows_at(
    dataset: &Dataset,
    layouts: &Layouts,
    ranges: impl IntoIterator<Item = (TableName, Range<usize>)>,
) -> SubjectRows {
    let mut rows: BTreeMap<TableName, Vec<Vec<Value>>> = BTreeMap::new();
    for (name, range) in ranges {
        let list = rows.entry(name).or_default();
        list.extend(range.map(|row| row_of(dataset, layouts, name, row)));
    }
    SubjectRows(rows)
}

/// Every row of subject `subject` (a dense id of `dataset`).
pub fn subject_rows(dataset: &Dataset, layouts: &Layouts, subject: u32) -> SubjectRows {
    rows_at(dataset, layouts, subject_row_ranges(dataset, subject))
}

/// The rows of subject `subject` (a dense id of `dataset`) in `tables` only.
pub fn subject_rows_in(
    dataset: &Dataset,
    layouts: &Layouts,
    subject: u32,
    tables: &std::collections::BTreeSet<TableName>,
) -> SubjectRows {
    let ranges = subject_row_ranges(dataset, subject);
    rows_at(
        dataset,
        layouts,
        ranges
            .into_iter()
            .filter(|(table, _)| tables.contains(table)),
    )
}

/// The rows of the order at row `order` of `dataset`: the order, its items and addresses.
pub fn order_rows(dataset: &Dataset, layouts: &Layouts, order: usize) -> SubjectRows {
    rows_at(dataset, layouts, order_row_ranges(dataset, order))
}

/// Table `name` of `dataset` as read: ids and ints as Int64, decimals as decimal(20,4),
/// strings as a dictionary, timestamps in µs.
pub fn table_as_read(dataset: &Dataset, name: TableName) -> Result<RecordBatch, LoadError> {
    TableEdit::of(dataset, name)?.finish()
}

/// Writes every table of `dataset` as read (`<table>.parquet`) into `dir`, a table at a
/// time, each file flushed to disk: a dataset directory that loads back as the same data.
pub fn write_tables(dataset: &Dataset, dir: &Path) -> Result<(), LoadError> {
    use datafusion::parquet::arrow::ArrowWriter;
    use datafusion::parquet::basic::Compression;
    use datafusion::parquet::file::properties::WriterProperties;
    for name in TableName::ALL {
        let batch = table_as_read(dataset, name)?;
        let path = dir.join(format!("{}.parquet", name.file_stem()));
        let failed = |e: &dyn std::fmt::Display| LoadError::file(&path, e.to_string());
        let file = std::fs::File::create(&path).map_err(|e| failed(&e))?;
        let properties = WriterProperties::builder()
            .set_compression(Compression::LZ4_RAW)
            .build();
        let mut writer =
            ArrowWriter::try_new(file, batch.schema(), Some(properties)).map_err(|e| failed(&e))?;
        writer.write(&batch).map_err(|e| failed(&e))?;
        let file = writer.into_inner().map_err(|e| failed(&e))?;
        file.sync_all().map_err(|e| failed(&e))?;
    }
    Ok(())
}
