//! Real-time events (interface.md, "Events"): each event is a change to the data, applied
//! in order on top of a loaded dataset. A list is parsed whole first ([`EventList`]), then
//! applied whole or not at all: the first bad event stops it with a pointer to the
//! offending part, and the dataset is left as it was.
//!
//! Events are applied to the tables as loaded (`Dataset::full_table`): rows taken out,
//! rows added, and the result checked and laid out again by the loader itself
//! (`load_tables`), so the data after events obeys exactly the rules of a dataset on disk.
//! That costs a pass over the data per list of events; see the README's Status for what
//! this means at M.

mod event;
pub mod log;

pub use event::{Event, EventList, OrderChanges, Row};

use std::collections::BTreeMap;
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
use crate::data::loader::load_tables;
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

/// Why the data now refuses an event: what both appliers (over a whole dataset here,
/// over the touched subjects' rows in `crate::live::apply`) say, word for word.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Refusal {
    NoCustomer(i64),
    NoProduct(i64),
    NoAddress(i64),
    NoOrder(i64),
    OrderExists(i64),
    NotOnWishlist { customer: i64, product: i64 },
    Required(&'static str, TableName),
}

impl Refusal {
    /// The refusal of the part of the list at `pointer`.
    pub(crate) fn at(self, pointer: impl Into<String>) -> EventError {
        let message = match self {
            Refusal::NoCustomer(id) => format!("customer {id} does not exist"),
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
#[derive(Clone, Debug, PartialEq)]
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

/// Where a row is: among the rows as loaded, or among those events added.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Loc {
    Base(u32),
    Added(usize),
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

/// One table under edit: the rows as loaded, the ones taken out, and the rows added.
struct Editable {
    name: TableName,
    columns: Vec<(String, FieldType)>,
    base: Vec<ArrayRef>,
    base_rows: usize,
    removed: RoaringBitmap,
    /// `None`: added, then taken out again by a later event.
    added: Vec<Option<Vec<Value>>>,
}

impl Editable {
    fn new(table: &Table) -> Result<Editable, LoadError> {
        Ok(Editable {
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

    fn position(&self, column: &str) -> usize {
        self.columns
            .iter()
            .position(|(name, _)| name == column)
            .unwrap_or_else(|| panic!("{} has the data model's column {column}", self.name))
    }

    fn is_live(&self, loc: Loc) -> bool {
        match loc {
            Loc::Base(row) => !self.removed.contains(row),
            Loc::Added(i) => self.added[i].is_some(),
        }
    }

    fn value(&self, loc: Loc, column: usize) -> Value {
        match loc {
            Loc::Base(row) => value_at(
                self.columns[column].1,
                self.base[column].as_ref(),
                row as usize,
            ),
            Loc::Added(i) => self.added[i].as_ref().expect("a live row")[column].clone(),
        }
    }

    fn row(&self, loc: Loc) -> Vec<Value> {
        (0..self.columns.len())
            .map(|c| self.value(loc, c))
            .collect()
    }

    fn remove(&mut self, loc: Loc) {
        match loc {
            Loc::Base(row) => {
                self.removed.insert(row);
            }
            Loc::Added(i) => self.added[i] = None,
        }
    }

    fn add(&mut self, row: Vec<Value>) -> Loc {
        self.added.push(Some(row));
        Loc::Added(self.added.len() - 1)
    }

    /// Added rows still live whose `column` holds `id`.
    fn added_with(&self, column: usize, id: i64) -> impl Iterator<Item = Loc> + '_ {
        self.added.iter().enumerate().filter_map(move |(i, row)| {
            let row = row.as_ref()?;
            (row[column] == Value::Int(id)).then_some(Loc::Added(i))
        })
    }

    fn finish(self) -> Result<RecordBatch, LoadError> {
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
        let added: Vec<&Vec<Value>> = self.added.iter().flatten().collect();
        let added_columns: Vec<ArrayRef> = self
            .columns
            .iter()
            .enumerate()
            .map(|(c, (_, ty))| {
                let values: Vec<&Value> = added.iter().map(|row| &row[c]).collect();
                build_array(*ty, &values)
            })
            .collect();
        let added = RecordBatch::try_new(schema.clone(), added_columns).map_err(failed)?;
        concat_batches(&schema, [&kept, &added]).map_err(failed)
    }
}

/// Applies a list of events in order to `dataset`: the dataset they leave, or the first
/// bad event. `label` names the result in the (unexpected) case that the loader refuses
/// it.
pub fn apply(dataset: &Dataset, events: &EventList, label: &Path) -> Result<Dataset, ApplyError> {
    apply_lists(dataset, std::slice::from_ref(events), label)
}

/// Applies lists one after the other, each as [`apply`] would (pointers are into the list
/// that holds the bad event): the data after the last.
pub fn apply_lists(
    dataset: &Dataset,
    lists: &[impl std::borrow::Borrow<EventList>],
    label: &Path,
) -> Result<Dataset, ApplyError> {
    let mut applier = Applier::new(dataset);
    for list in lists {
        for (i, event) in list.borrow().events().iter().enumerate() {
            applier.apply(event, &format!("/{i}"))?;
        }
        // As a load would: a list that leaves a subject two active carts on a website
        // keeps the most recently updated (data-model.md).
        applier.one_active_cart();
    }
    applier.finish(label).map_err(ApplyError::Data)
}

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("{0}")]
    Event(#[from] EventError),
    /// The events were valid but the data they leave is not (a bug, or data the loader
    /// rules out that no event check catches): nothing is applied.
    #[error("the events leave data that does not load: {0}")]
    Data(LoadError),
}

struct Applier<'a> {
    dataset: &'a Dataset,
    tables: BTreeMap<TableName, Editable>,
    /// Primary key to row, for tables whose events name rows by key.
    keys: FxHashMap<TableName, FxHashMap<i64, Loc>>,
}

impl<'a> Applier<'a> {
    fn new(dataset: &'a Dataset) -> Applier<'a> {
        Applier {
            dataset,
            tables: BTreeMap::new(),
            keys: FxHashMap::default(),
        }
    }

    fn table(&mut self, name: TableName) -> &mut Editable {
        let dataset = self.dataset;
        self.tables.entry(name).or_insert_with(|| {
            let table = match name {
                TableName::Customers => dataset.customers.clone(),
                TableName::Products => dataset.products.clone(),
                other => dataset.full_table(dataset.relation(other).expect("a relation")),
            };
            Editable::new(&table).expect("loaded columns convert back")
        })
    }

    /// The row with primary key `id`, if there is one now.
    fn find(&mut self, name: TableName, id: i64) -> Option<Loc> {
        let key = name.spec().primary_key.expect("a keyed table");
        if !self.keys.contains_key(&name) {
            let table = self.table(name);
            let column = table.position(key);
            let ids = table.base[column].as_primitive::<Int64Type>().clone();
            let index: FxHashMap<i64, Loc> = ids
                .iter()
                .enumerate()
                .filter_map(|(row, id)| Some((id?, Loc::Base(row as u32))))
                .collect();
            self.keys.insert(name, index);
        }
        let loc = *self.keys[&name].get(&id)?;
        self.table(name).is_live(loc).then_some(loc)
    }

    /// Adds a keyed row, replacing the row with the same key.
    fn upsert(&mut self, name: TableName, row: Vec<Value>) -> Loc {
        let key_column = self
            .table(name)
            .position(name.spec().primary_key.expect("keyed"));
        let id = row[key_column].id().expect("a checked key");
        if let Some(old) = self.find(name, id) {
            self.table(name).remove(old);
        }
        let loc = self.table(name).add(row);
        self.keys
            .get_mut(&name)
            .expect("built by find")
            .insert(id, loc);
        loc
    }

    /// Live rows of a child table whose `column` holds `id`: the loaded rows of the owner
    /// (found through the dataset's grouping) and added rows.
    fn children(&mut self, name: TableName, column: &str, id: i64) -> Vec<Loc> {
        let dataset = self.dataset;
        let base: Vec<Loc> = match (name, column) {
            (TableName::CartItems, "cart_id") => dataset
                .cart_index
                .get(id)
                .map(|cart| dataset.cart_items.groups.rows_of(cart as usize))
                .into_iter()
                .flatten()
                .map(|r| Loc::Base(r as u32))
                .collect(),
            (TableName::WishlistItems, "customer_id") => dataset
                .customer_index
                .get(id)
                .map(|c| dataset.wishlist_items.groups.rows_of(c as usize))
                .into_iter()
                .flatten()
                .map(|r| Loc::Base(r as u32))
                .collect(),
            (TableName::Carts | TableName::ProductViews, "visitor_id") => {
                let relation = dataset.relation(name).expect("a relation");
                match (dataset.visitor_index.get(id), &relation.visitor_groups) {
                    (Some(v), Some(groups)) => groups
                        .rows_of(v as usize)
                        .map(|r| Loc::Base(r as u32))
                        .collect(),
                    _ => Vec::new(),
                }
            }
            _ => unreachable!("no grouping of {name} by {column}"),
        };
        let table = self.table(name);
        let position = table.position(column);
        let mut rows: Vec<Loc> = base.into_iter().filter(|&l| table.is_live(l)).collect();
        rows.extend(table.added_with(position, id));
        rows
    }

    fn exists(&mut self, name: TableName, id: i64) -> bool {
        self.find(name, id).is_some()
    }

    fn apply(&mut self, event: &Event, at: &str) -> Result<(), EventError> {
        match event {
            Event::CustomerUpserted(row) => {
                self.upsert(TableName::Customers, row.values.clone());
            }
            Event::ProductUpserted(row) => {
                self.upsert(TableName::Products, row.values.clone());
            }
            Event::AddressUpserted(row) => {
                self.check_references(TableName::Addresses, row, at)?;
                self.upsert(TableName::Addresses, row.values.clone());
            }
            Event::AddressDeleted { address_id } => {
                let found = self
                    .find(TableName::Addresses, *address_id)
                    .ok_or_else(|| {
                        Refusal::NoAddress(*address_id).at(format!("{at}/address_id"))
                    })?;
                self.table(TableName::Addresses).remove(found);
            }
            Event::OrderPlaced {
                order,
                items,
                addresses,
            } => self.order_placed(order, items, addresses, at)?,
            Event::OrderUpdated { order_id, changes } => {
                self.order_updated(*order_id, changes, at)?;
            }
            Event::CartUpdated { cart, items } => self.cart_updated(cart, items, at)?,
            Event::WishlistItemAdded(row) => {
                self.check_references(TableName::WishlistItems, row, at)?;
                self.table(TableName::WishlistItems).add(row.values.clone());
            }
            Event::WishlistItemRemoved {
                customer_id,
                product_id,
            } => {
                let items = self.children(TableName::WishlistItems, "customer_id", *customer_id);
                let table = self.table(TableName::WishlistItems);
                let product_column = table.position("product_id");
                let on_list: Vec<Loc> = items
                    .into_iter()
                    .filter(|&l| table.value(l, product_column) == Value::Int(*product_id))
                    .collect();
                if on_list.is_empty() {
                    return Err(Refusal::NotOnWishlist {
                        customer: *customer_id,
                        product: *product_id,
                    }
                    .at(format!("{at}/product_id")));
                }
                for loc in on_list {
                    table.remove(loc);
                }
            }
            Event::ProductViewed(row) => {
                self.check_references(TableName::ProductViews, row, at)?;
                self.table(TableName::ProductViews).add(row.values.clone());
            }
            Event::VisitorLoggedIn {
                visitor_id,
                customer_id,
            } => self.visitor_logged_in(*visitor_id, *customer_id, at)?,
        }
        Ok(())
    }

    fn order_placed(
        &mut self,
        order: &Row,
        items: &[Row],
        addresses: &[Row],
        at: &str,
    ) -> Result<(), EventError> {
        let order_id = order.key.expect("a parsed key");
        if self.exists(TableName::Orders, order_id) {
            return Err(Refusal::OrderExists(order_id).at(format!("{at}/order_id")));
        }
        self.check_references(TableName::Orders, order, at)?;
        for (i, item) in items.iter().enumerate() {
            self.check_product(item, &format!("{at}/items/{i}"))?;
        }
        self.upsert(TableName::Orders, order.values.clone());
        for item in items {
            self.table(TableName::OrderItems).add(item.values.clone());
        }
        for address in addresses {
            self.table(TableName::OrderAddresses)
                .add(address.values.clone());
        }
        Ok(())
    }

    fn order_updated(
        &mut self,
        order_id: i64,
        changes: &OrderChanges,
        at: &str,
    ) -> Result<(), EventError> {
        let Some(loc) = self.find(TableName::Orders, order_id) else {
            return Err(Refusal::NoOrder(order_id).at(format!("{at}/order_id")));
        };
        let mut values = self.table(TableName::Orders).row(loc);
        changes.apply_to(&mut values);
        let table = self.table(TableName::Orders);
        if let Some(refusal) = missing_required(TableName::Orders, &values, |c| table.position(c)) {
            return Err(refusal.at(at));
        }
        if let Some(customer) = values[table.position("customer_id")].id()
            && !self.exists(TableName::Customers, customer)
        {
            return Err(Refusal::NoCustomer(customer).at(format!("{at}/customer_id")));
        }
        self.upsert(TableName::Orders, values);
        Ok(())
    }

    fn cart_updated(&mut self, cart: &Row, items: &[Row], at: &str) -> Result<(), EventError> {
        self.check_references(TableName::Carts, cart, at)?;
        for (i, item) in items.iter().enumerate() {
            self.check_product(item, &format!("{at}/items/{i}"))?;
        }
        // The cart comes whole: its old items go.
        let cart_id = cart.key.expect("a parsed key");
        for old in self.children(TableName::CartItems, "cart_id", cart_id) {
            self.table(TableName::CartItems).remove(old);
        }
        self.upsert(TableName::Carts, cart.values.clone());
        for item in items {
            self.table(TableName::CartItems).add(item.values.clone());
        }
        Ok(())
    }

    /// The visitor's carts and product views become the customer's.
    fn visitor_logged_in(
        &mut self,
        visitor: i64,
        customer: i64,
        at: &str,
    ) -> Result<(), EventError> {
        if !self.exists(TableName::Customers, customer) {
            return Err(Refusal::NoCustomer(customer).at(format!("{at}/customer_id")));
        }
        for name in [TableName::Carts, TableName::ProductViews] {
            for loc in self.children(name, "visitor_id", visitor) {
                let table = self.table(name);
                let mut row = table.row(loc);
                row[table.position("customer_id")] = Value::Int(customer);
                row[table.position("visitor_id")] = Value::Null;
                if name == TableName::Carts {
                    self.upsert(name, row);
                } else {
                    let table = self.table(name);
                    table.remove(loc);
                    table.add(row);
                }
            }
        }
        Ok(())
    }

    /// Where events left a subject more than one active cart on a website, the most
    /// recently updated (then the highest cart id) stays active; the others become
    /// inactive, as the loader rules for a file.
    fn one_active_cart(&mut self) {
        let dataset = self.dataset;
        let table = self.table(TableName::Carts);
        let [customer, visitor, website, active, updated, cart] = [
            "customer_id",
            "visitor_id",
            "website_id",
            "is_active",
            "updated_at",
            "cart_id",
        ]
        .map(|c| table.position(c));
        let is_active = |table: &Editable, loc: Loc| table.value(loc, active) != Value::Bool(false);
        // Only carts events wrote can clash: those rows were added.
        let mut keys: Vec<(Value, Value, Value)> = Vec::new();
        for loc in (0..table.added.len()).map(Loc::Added) {
            if table.is_live(loc) && is_active(table, loc) {
                let key = (
                    table.value(loc, customer),
                    table.value(loc, visitor),
                    table.value(loc, website),
                );
                if !keys.contains(&key) {
                    keys.push(key);
                }
            }
        }
        for (owner_customer, owner_visitor, on_website) in keys {
            let base: Vec<Loc> = match (&owner_customer, &owner_visitor) {
                (Value::Int(c), _) => dataset
                    .customer_index
                    .get(*c)
                    .map(|c| dataset.carts.groups.rows_of(c as usize))
                    .into_iter()
                    .flatten()
                    .map(|r| Loc::Base(r as u32))
                    .collect(),
                (_, Value::Int(v)) => {
                    match (dataset.visitor_index.get(*v), &dataset.carts.visitor_groups) {
                        (Some(v), Some(groups)) => groups
                            .rows_of(v as usize)
                            .map(|r| Loc::Base(r as u32))
                            .collect(),
                        _ => Vec::new(),
                    }
                }
                _ => Vec::new(),
            };
            let table = self.table(TableName::Carts);
            let rivals: Vec<Loc> = base
                .into_iter()
                .chain((0..table.added.len()).map(Loc::Added))
                .filter(|&loc| {
                    table.is_live(loc)
                        && is_active(table, loc)
                        && table.value(loc, customer) == owner_customer
                        && table.value(loc, visitor) == owner_visitor
                        && table.value(loc, website) == on_website
                })
                .collect();
            let recency = |loc: Loc| {
                let updated = match table.value(loc, updated) {
                    Value::Micros(t) => Some(t),
                    _ => None,
                };
                (updated, table.value(loc, cart).id())
            };
            let Some(&winner) = rivals.iter().max_by_key(|&&loc| recency(loc)) else {
                continue;
            };
            for loser in rivals.into_iter().filter(|&loc| loc != winner) {
                let mut row = self.table(TableName::Carts).row(loser);
                row[active] = Value::Bool(false);
                self.upsert(TableName::Carts, row);
            }
        }
    }

    /// The customer and the product a row names exist now.
    fn check_references(&mut self, name: TableName, row: &Row, at: &str) -> Result<(), EventError> {
        if let Some(customer) = row.customer_id
            && !self.exists(TableName::Customers, customer)
        {
            return Err(Refusal::NoCustomer(customer).at(format!("{at}/customer_id")));
        }
        if matches!(name, TableName::WishlistItems | TableName::ProductViews) {
            self.check_product(row, at)?;
        }
        Ok(())
    }

    fn check_product(&mut self, row: &Row, at: &str) -> Result<(), EventError> {
        match row.product_id {
            Some(id) if !self.exists(TableName::Products, id) => {
                Err(Refusal::NoProduct(id).at(format!("{at}/product_id")))
            }
            _ => Ok(()),
        }
    }

    fn finish(mut self, label: &Path) -> Result<Dataset, LoadError> {
        let started = std::time::Instant::now();
        let mut tables = BTreeMap::new();
        for name in TableName::ALL {
            self.table(name);
            let editable = self.tables.remove(&name).expect("made just above");
            tables.insert(name, editable.finish()?);
        }
        let built = started.elapsed();
        let dataset = load_tables(&tables, self.dataset.reference_time, label);
        tracing::debug!(
            "tables with events applied: built in {:.1} ms, loaded in {:.1} ms",
            built.as_secs_f64() * 1e3,
            (started.elapsed() - built).as_secs_f64() * 1e3
        );
        dataset
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

    /// The product ids its rows name.
    fn products(&self, layouts: &Layouts, into: &mut Vec<i64>) {
        for (table, rows) in &self.0 {
            if let Some(column) = layouts.position(*table, "product_id") {
                into.extend(rows.iter().filter_map(|row| row[column].id()));
            }
        }
    }

    /// Whether one of its rows names product `id`.
    pub fn names_product(&self, layouts: &Layouts, id: i64) -> bool {
        let mut named = Vec::new();
        self.products(layouts, &mut named);
        named.contains(&id)
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

/// Every row of subject `subject` (a dense id of `dataset`).
pub fn subject_rows(dataset: &Dataset, layouts: &Layouts, subject: u32) -> SubjectRows {
    let mut rows: BTreeMap<TableName, Vec<Vec<Value>>> = BTreeMap::new();
    let mut take = |name: TableName, range: std::ops::Range<usize>| {
        let list = rows.entry(name).or_default();
        list.extend(range.map(|row| row_of(dataset, layouts, name, row)));
    };
    let customers = dataset.customer_count();
    let (carts, views) = match (subject as usize).checked_sub(customers) {
        None => {
            let c = subject as usize;
            take(TableName::Customers, c..c + 1);
            take(TableName::Addresses, dataset.addresses.groups.rows_of(c));
            let orders = dataset.orders.groups.rows_of(c);
            for order in orders.clone() {
                take(
                    TableName::OrderItems,
                    dataset.order_items.groups.rows_of(order),
                );
                take(
                    TableName::OrderAddresses,
                    dataset.order_addresses.groups.rows_of(order),
                );
            }
            take(TableName::Orders, orders);
            take(
                TableName::WishlistItems,
                dataset.wishlist_items.groups.rows_of(c),
            );
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
        take(
            TableName::CartItems,
            dataset.cart_items.groups.rows_of(cart),
        );
    }
    take(TableName::Carts, carts);
    take(TableName::ProductViews, views);
    SubjectRows(rows)
}

/// Writes every table of `dataset` as read (`<table>.parquet`) into `dir`, a table at a
/// time, each file flushed to disk: a dataset directory that loads back as the same data.
pub fn write_tables(dataset: &Dataset, dir: &Path) -> Result<(), LoadError> {
    use datafusion::parquet::arrow::ArrowWriter;
    use datafusion::parquet::basic::Compression;
    use datafusion::parquet::file::properties::WriterProperties;
    let mut applier = Applier::new(dataset);
    for name in TableName::ALL {
        applier.table(name);
        let editable = applier.tables.remove(&name).expect("made just above");
        let batch = editable.finish()?;
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
