//! The loaded dataset: Arrow columns per table plus the links the engine walks.
//!
//! Subjects get dense ids: customer `c` is row `c` of `customers` (rows sorted by
//! `customer_id`), visitor `v` is `visitor_ids[v]` (sorted). Every child table is stored
//! grouped by its owner, so the rows of one customer's orders, one order's items or one
//! visitor's views are one contiguous range (`Groups`): evaluating a relation for a set of
//! subjects touches only their ranges, and projecting rows back to subjects is a lookup.

use std::sync::Arc;

use datafusion::arrow::array::UInt32Array;
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Int8Array, Int16Array, Int32Array, Int64Array, UInt8Array,
    UInt16Array,
};
use datafusion::arrow::compute::take;
use datafusion::arrow::datatypes::{
    DataType, Int8Type, Int16Type, Int32Type, Int64Type, TimestampMicrosecondType, UInt8Type,
    UInt16Type, UInt32Type,
};
use roaring::RoaringBitmap;
use rustc_hash::FxHashMap;

use crate::data::value::MICROS_PER_SECOND;
use crate::model::{FieldType, TableName};

mod owners;
pub use owners::Groups;

/// Marks "no owner" (a guest order) and "not in this id space" in link arrays.
pub const NONE: u32 = u32::MAX;

/// One column of a table.
#[derive(Clone, Debug)]
pub struct Column {
    pub name: String,
    pub ty: FieldType,
    /// Not a column of the data model: a custom attribute (Magento "Use in Customer Segment").
    pub custom: bool,
    pub array: ArrayRef,
}

/// One table's columns, all of the same length.
#[derive(Clone, Debug)]
pub struct Table {
    pub name: TableName,
    pub columns: Vec<Column>,
    pub rows: usize,
}

impl Table {
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The values of an id, int or decimal column, whichever way it is stored.
    pub fn ints(&self, name: &str) -> Option<Ints<'_>> {
        self.column(name).and_then(|c| Ints::of(c.array.as_ref()))
    }

    /// The table with rows in `order` (an index per new row into the old rows). Columns are
    /// replaced one at a time, two at once, so memory grows by two columns, not a table.
    pub fn reorder(self, order: Vec<u32>) -> Table {
        let rows = order.len();
        let indices = UInt32Array::from(order);
        let reorder_column = |c: Column| Column {
            array: take(c.array.as_ref(), &indices, None).expect("indices are in range"),
            ..c
        };
        let mut columns: Vec<Option<Column>> = self.columns.into_iter().map(Some).collect();
        let half = columns.len() / 2;
        let (front, back) = columns.split_at_mut(half);
        std::thread::scope(|scope| {
            scope.spawn(|| {
                for slot in front.iter_mut() {
                    *slot = slot.take().map(reorder_column);
                }
            });
            for slot in back.iter_mut() {
                *slot = slot.take().map(reorder_column);
            }
        });
        Table {
            name: self.name,
            columns: columns.into_iter().flatten().collect(),
            rows,
        }
    }

    pub fn memory_bytes(&self) -> usize {
        self.columns
            .iter()
            .map(|c| c.array.get_array_memory_size())
            .sum()
    }
}

/// A timestamp column's value at `row` in µs, whichever way it is stored: µs, or whole
/// seconds since the Unix epoch (`UInt32`, see `data::columns`).
pub fn micros_at(array: &dyn Array, row: usize) -> Option<i64> {
    if array.is_null(row) {
        return None;
    }
    match array.data_type() {
        DataType::UInt32 => {
            Some(i64::from(array.as_primitive::<UInt32Type>().value(row)) * MICROS_PER_SECOND)
        }
        DataType::Timestamp(_, _) => {
            Some(array.as_primitive::<TimestampMicrosecondType>().value(row))
        }
        _ => None,
    }
}

/// An int or decimal column, in the narrowest of Int8, Int16, Int32 and Int64 that holds
/// every value (a website id takes one byte a row, not eight), or as one- or two-byte keys
/// into a dictionary of its few distinct values (see `data::columns::keyed_if_few`).
#[derive(Clone, Copy, Debug)]
pub enum Ints<'a> {
    I8(&'a Int8Array),
    I16(&'a Int16Array),
    I32(&'a Int32Array),
    I64(&'a Int64Array),
    Keyed8(&'a UInt8Array, &'a [i64]),
    Keyed16(&'a UInt16Array, &'a [i64]),
}

impl<'a> Ints<'a> {
    pub fn of(array: &'a dyn Array) -> Option<Ints<'a>> {
        match array.data_type() {
            DataType::Int8 => Some(Ints::I8(array.as_primitive::<Int8Type>())),
            DataType::Int16 => Some(Ints::I16(array.as_primitive::<Int16Type>())),
            DataType::Int32 => Some(Ints::I32(array.as_primitive::<Int32Type>())),
            DataType::Int64 => Some(Ints::I64(array.as_primitive::<Int64Type>())),
            DataType::Dictionary(key, value) if value.as_ref() == &DataType::Int64 => {
                match key.as_ref() {
                    DataType::UInt8 => {
                        let keyed = array.as_dictionary::<UInt8Type>();
                        let values = keyed.values().as_primitive::<Int64Type>().values();
                        Some(Ints::Keyed8(keyed.keys(), values))
                    }
                    DataType::UInt16 => {
                        let keyed = array.as_dictionary::<UInt16Type>();
                        let values = keyed.values().as_primitive::<Int64Type>().values();
                        Some(Ints::Keyed16(keyed.keys(), values))
                    }
                    _ => None,
                }
            }
            _ => None,
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Ints::I8(a) => a.len(),
            Ints::I16(a) => a.len(),
            Ints::I32(a) => a.len(),
            Ints::I64(a) => a.len(),
            Ints::Keyed8(keys, _) => keys.len(),
            Ints::Keyed16(keys, _) => keys.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn is_valid(&self, row: usize) -> bool {
        match self {
            Ints::I8(a) => a.is_valid(row),
            Ints::I16(a) => a.is_valid(row),
            Ints::I32(a) => a.is_valid(row),
            Ints::I64(a) => a.is_valid(row),
            Ints::Keyed8(keys, _) => keys.is_valid(row),
            Ints::Keyed16(keys, _) => keys.is_valid(row),
        }
    }

    /// The value of a row (0 for a null row: check `is_valid`).
    pub fn value(&self, row: usize) -> i64 {
        match self {
            Ints::I8(a) => i64::from(a.value(row)),
            Ints::I16(a) => i64::from(a.value(row)),
            Ints::I32(a) => i64::from(a.value(row)),
            Ints::I64(a) => a.value(row),
            Ints::Keyed8(keys, values) => {
                values.get(keys.value(row) as usize).copied().unwrap_or(0)
            }
            Ints::Keyed16(keys, values) => {
                values.get(keys.value(row) as usize).copied().unwrap_or(0)
            }
        }
    }

    pub fn get(&self, row: usize) -> Option<i64> {
        self.is_valid(row).then(|| self.value(row))
    }

    /// The values widened to Int64 (a copy).
    pub fn to_int64(&self) -> Int64Array {
        match self {
            Ints::I64(a) => (*a).clone(),
            _ => self.iter().collect(),
        }
    }

    /// The first row whose value is not below `value`, for a column that ascends.
    pub fn lower_bound(&self, value: i64) -> usize {
        let (mut low, mut high) = (0, self.len());
        while low < high {
            let middle = (low + high) / 2;
            if self.value(middle) < value {
                low = middle + 1;
            } else {
                high = middle;
            }
        }
        low
    }

    pub fn iter(&self) -> impl Iterator<Item = Option<i64>> + '_ {
        (0..self.len()).map(|row| self.get(row))
    }
}

/// Row lookup by id: a direct table when ids are dense enough, else a hash map.
#[derive(Clone, Debug)]
pub enum IdIndex {
    Dense { min: i64, rows: Vec<u32> },
    Hashed(FxHashMap<i64, u32>),
}

impl Default for IdIndex {
    fn default() -> Self {
        IdIndex::Dense {
            min: 0,
            rows: Vec::new(),
        }
    }
}

impl IdIndex {
    /// Builds the index of `ids` (one per row; nulls are skipped). On a duplicate, returns
    /// the rows of its first and second occurrence.
    pub fn build(ids: Ints<'_>) -> Result<IdIndex, (usize, usize)> {
        IdIndex::build_skipping(ids, &RoaringBitmap::new(), &mut |first, again| {
            Err((first, again))
        })
    }

    /// Builds the index of `ids`, leaving out the rows in `skip`. A repeated id keeps its
    /// first row; `on_duplicate(first, again)` decides whether that is an error.
    pub fn build_skipping<E>(
        ids: Ints<'_>,
        skip: &RoaringBitmap,
        on_duplicate: &mut dyn FnMut(usize, usize) -> Result<(), E>,
    ) -> Result<IdIndex, E> {
        let rows_to_index = || {
            ids.iter()
                .enumerate()
                .filter(|(row, _)| !skip.contains(*row as u32))
                .filter_map(|(row, id)| Some((row, id?)))
        };
        let (min, max) = rows_to_index().fold((i64::MAX, i64::MIN), |(lo, hi), (_, v)| {
            (lo.min(v), hi.max(v))
        });
        let span = (max as i128) - (min as i128) + 1;
        if span > 0 && span <= (ids.len() as i128) * 4 + 1024 {
            let mut rows = vec![NONE; span as usize];
            for (row, id) in rows_to_index() {
                let slot = &mut rows[(id - min) as usize];
                if *slot == NONE {
                    *slot = row as u32;
                } else {
                    on_duplicate(*slot as usize, row)?;
                }
            }
            return Ok(IdIndex::Dense { min, rows });
        }
        let mut map: FxHashMap<i64, u32> =
            FxHashMap::with_capacity_and_hasher(ids.len(), Default::default());
        for (row, id) in rows_to_index() {
            match map.entry(id) {
                std::collections::hash_map::Entry::Vacant(slot) => {
                    slot.insert(row as u32);
                }
                std::collections::hash_map::Entry::Occupied(first) => {
                    on_duplicate(*first.get() as usize, row)?
                }
            }
        }
        Ok(IdIndex::Hashed(map))
    }

    pub fn get(&self, id: i64) -> Option<u32> {
        match self {
            IdIndex::Dense { min, rows } => {
                let slot = id.checked_sub(*min)?;
                let row = *rows.get(usize::try_from(slot).ok()?)?;
                (row != NONE).then_some(row)
            }
            IdIndex::Hashed(map) => map.get(&id).copied(),
        }
    }

    fn memory_bytes(&self) -> usize {
        match self {
            IdIndex::Dense { rows, .. } => rows.capacity() * 4,
            IdIndex::Hashed(map) => map.capacity() * 16,
        }
    }
}

/// What a link column's ids are rebuilt from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkTarget {
    /// `customer_id`: the customer owning the row (`groups`).
    Customer,
    /// `visitor_id`: the visitor owning the row (`visitor_groups`).
    Visitor,
    /// `order_id` / `cart_id`: the parent row owning the row (`groups`).
    Parent,
    /// `product_id`: the row's product (`product_row`).
    Product,
}

/// A column of the file that is not stored as values: its ids are those of the row's owner
/// or product, so the links hold it already (and the ids are rebuilt on demand).
#[derive(Clone, Debug)]
pub struct LinkColumn {
    pub name: String,
    /// Its place among the table's columns as read.
    pub position: usize,
    pub target: LinkTarget,
}

/// The product row of each row of a table with a `product_id` (`NONE`: no product): two
/// bytes a row while the catalog has fewer than 65,535 products, as at every benchmark
/// scale (the largest tables, order items and product views, are mostly these links).
#[derive(Clone, Debug)]
pub enum ProductLinks {
    Narrow(Vec<u16>),
    Wide(Vec<u32>),
}

impl ProductLinks {
    pub fn new(product_rows: Vec<u32>) -> ProductLinks {
        if product_rows
            .iter()
            .all(|&p| p == NONE || p < u16::MAX as u32)
        {
            let narrow = |p: u32| if p == NONE { u16::MAX } else { p as u16 };
            ProductLinks::Narrow(product_rows.into_iter().map(narrow).collect())
        } else {
            ProductLinks::Wide(product_rows)
        }
    }

    #[inline]
    pub fn get(&self, row: usize) -> u32 {
        match self {
            ProductLinks::Narrow(links) => match links[row] {
                u16::MAX => NONE,
                product => product as u32,
            },
            ProductLinks::Wide(links) => links[row],
        }
    }

    pub fn len(&self) -> usize {
        match self {
            ProductLinks::Narrow(links) => links.len(),
            ProductLinks::Wide(links) => links.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn memory_bytes(&self) -> usize {
        match self {
            ProductLinks::Narrow(links) => links.capacity() * 2,
            ProductLinks::Wide(links) => links.capacity() * 4,
        }
    }
}

/// A child table, grouped by the owner named in `groups`.
#[derive(Clone, Debug)]
pub struct Relation {
    pub table: Table,
    /// Grouping by the owning customer (dense id), or by the parent row (orders for items
    /// and order addresses, carts for cart items).
    pub groups: Groups,
    /// For tables of customers and visitors (carts, product views): rows owned by a
    /// visitor, grouped by dense visitor id. They come after the customers' rows.
    pub visitor_groups: Option<Groups>,
    /// The product row of each row, for tables with a `product_id`.
    pub product_row: Option<ProductLinks>,
    /// Id columns kept only as links (`customer_id`, `order_id`, `product_id` ...).
    pub links: Vec<LinkColumn>,
}

impl Relation {
    pub fn rows(&self) -> usize {
        self.table.rows
    }

    pub fn memory_bytes(&self) -> usize {
        self.table.memory_bytes()
            + self.groups.memory_bytes()
            + self.visitor_groups.as_ref().map_or(0, Groups::memory_bytes)
            + self
                .product_row
                .as_ref()
                .map_or(0, ProductLinks::memory_bytes)
    }
}

/// Everything loaded from one dataset directory.
#[derive(Clone, Debug)]
pub struct Dataset {
    /// The dataset's reference instant (µs) from `dataset.json`, when it has one.
    pub reference_time: Option<i64>,
    /// Row `c` is dense customer `c`; rows are sorted by `customer_id`.
    pub customers: Table,
    pub customer_index: IdIndex,
    /// Dense visitor `v` is `visitor_ids[v]`; ascending.
    pub visitor_ids: Vec<i64>,
    pub visitor_index: IdIndex,
    /// Sorted by `product_id`.
    pub products: Table,
    pub product_index: IdIndex,
    /// Grouped by customer.
    pub addresses: Relation,
    /// Grouped by customer; guest orders (no customer) last.
    pub orders: Relation,
    pub order_index: IdIndex,
    /// Grouped by order row.
    pub order_items: Relation,
    /// Grouped by order row.
    pub order_addresses: Relation,
    /// Grouped by customer, then by visitor. Only one active cart per subject and website.
    pub carts: Relation,
    pub cart_index: IdIndex,
    /// Grouped by cart row.
    pub cart_items: Relation,
    /// Grouped by customer.
    pub wishlist_items: Relation,
    /// Grouped by customer, then by visitor.
    pub product_views: Relation,
}

impl Dataset {
    pub fn customer_count(&self) -> usize {
        self.customers.rows
    }

    pub fn visitor_count(&self) -> usize {
        self.visitor_ids.len()
    }

    /// Customers and visitors: the size of the space of subject ids.
    pub fn subject_count(&self) -> usize {
        self.customer_count() + self.visitor_count()
    }

    /// Customer ids by dense customer (ascending).
    pub fn customer_ids(&self) -> Ints<'_> {
        self.customers
            .ints("customer_id")
            .expect("customers always have customer_id")
    }

    /// The child relations with their table names, in load order.
    pub fn relations(&self) -> [(TableName, &Relation); 8] {
        [
            (TableName::Addresses, &self.addresses),
            (TableName::Orders, &self.orders),
            (TableName::OrderItems, &self.order_items),
            (TableName::OrderAddresses, &self.order_addresses),
            (TableName::Carts, &self.carts),
            (TableName::CartItems, &self.cart_items),
            (TableName::WishlistItems, &self.wishlist_items),
            (TableName::ProductViews, &self.product_views),
        ]
    }

    pub fn relation(&self, table: TableName) -> Option<&Relation> {
        self.relations()
            .into_iter()
            .find(|(t, _)| *t == table)
            .map(|(_, r)| r)
    }

    /// The ids of a link column of a relation, rebuilt from its links (null where the row
    /// has no such owner: a guest order's customer, a visitor cart's customer).
    pub fn link_ids(&self, relation: &Relation, link: &LinkColumn) -> Int64Array {
        fn key<'t>(table: &'t Table, name: &str) -> Ints<'t> {
            table.ints(name).expect("key column")
        }
        let no_groups = Groups::default();
        // The id of owner (or product row) `o`, read in place.
        type IdOf<'a> = Box<dyn Fn(usize) -> i64 + 'a>;
        fn of_ints(ids: Ints<'_>) -> IdOf<'_> {
            Box::new(move |o| ids.value(o))
        }
        let (groups, id_of): (&Groups, IdOf<'_>) = match link.target {
            LinkTarget::Customer => (&relation.groups, of_ints(self.customer_ids())),
            LinkTarget::Visitor => (
                relation.visitor_groups.as_ref().unwrap_or(&no_groups),
                Box::new(|o| self.visitor_ids[o]),
            ),
            LinkTarget::Parent if relation.table.name == TableName::CartItems => {
                (&relation.groups, of_ints(key(&self.carts.table, "cart_id")))
            }
            LinkTarget::Parent => (
                &relation.groups,
                of_ints(key(&self.orders.table, "order_id")),
            ),
            LinkTarget::Product => {
                let products = key(&self.products, "product_id");
                let Some(links) = &relation.product_row else {
                    return Int64Array::new_null(relation.rows());
                };
                return (0..relation.rows())
                    .map(|row| match links.get(row) {
                        NONE => None,
                        product => Some(products.value(product as usize)),
                    })
                    .collect();
            }
        };
        (0..relation.rows())
            .map(|row| {
                let owner = groups.owner_of(row);
                (owner != NONE).then(|| id_of(owner as usize))
            })
            .collect()
    }

    /// A relation's table with its link columns rebuilt in their places: the table as read.
    pub fn full_table(&self, relation: &Relation) -> Table {
        let mut columns = relation.table.columns.clone();
        for link in &relation.links {
            let column = Column {
                name: link.name.clone(),
                ty: FieldType::Id,
                custom: false,
                array: Arc::new(self.link_ids(relation, link)),
            };
            columns.insert(link.position.min(columns.len()), column);
        }
        Table {
            name: relation.table.name,
            columns,
            rows: relation.rows(),
        }
    }

    /// Rows per table, in load order.
    pub fn row_counts(&self) -> Vec<(TableName, usize)> {
        let mut counts = vec![
            (TableName::Customers, self.customers.rows),
            (TableName::Products, self.products.rows),
        ];
        counts.extend(self.relations().iter().map(|(name, r)| (*name, r.rows())));
        counts
    }

    /// Bytes held by columns, links and indexes.
    pub fn memory_bytes(&self) -> usize {
        self.customers.memory_bytes()
            + self.products.memory_bytes()
            + self.visitor_ids.capacity() * 8
            + [
                &self.customer_index,
                &self.visitor_index,
                &self.product_index,
                &self.order_index,
                &self.cart_index,
            ]
            .iter()
            .map(|i| i.memory_bytes())
            .sum::<usize>()
            + self
                .relations()
                .iter()
                .map(|(_, r)| r.memory_bytes())
                .sum::<usize>()
    }
}

/// One line of a memory breakdown: what holds the bytes (`orders.created_at`,
/// `orders links`, `index orders.status`) and how many.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MemoryItem {
    pub what: String,
    pub bytes: u64,
}

impl MemoryItem {
    pub fn new(what: impl Into<String>, bytes: usize) -> MemoryItem {
        MemoryItem {
            what: what.into(),
            bytes: bytes as u64,
        }
    }
}

impl Dataset {
    /// Where [`Dataset::memory_bytes`] goes: every column of every table, each
    /// relation's links (owners, offsets, products) and the id indexes.
    pub fn memory_breakdown(&self) -> Vec<MemoryItem> {
        let mut items = Vec::new();
        let columns = |table: &Table, items: &mut Vec<MemoryItem>| {
            for column in &table.columns {
                items.push(MemoryItem::new(
                    format!("{}.{}", table.name, column.name),
                    column.array.get_array_memory_size(),
                ));
            }
        };
        columns(&self.customers, &mut items);
        columns(&self.products, &mut items);
        for (table, relation) in self.relations() {
            columns(&relation.table, &mut items);
            items.push(MemoryItem::new(
                format!("{table} links"),
                relation.memory_bytes() - relation.table.memory_bytes(),
            ));
        }
        items.push(MemoryItem::new(
            "visitor ids",
            self.visitor_ids.capacity() * 8,
        ));
        for (name, index) in [
            ("customers", &self.customer_index),
            ("visitors", &self.visitor_index),
            ("products", &self.product_index),
            ("orders", &self.order_index),
            ("carts", &self.cart_index),
        ] {
            items.push(MemoryItem::new(
                format!("{name} id index"),
                index.memory_bytes(),
            ));
        }
        items
    }
}

/// Orders `rows` rows by their owner (`owner_of`, below `owners` or `NONE`), stably: rows
/// of owner 0 first, ..., rows with `NONE` last. Returns the new order (old row per new
/// row), or `None` when the rows are grouped already, and the offsets per owner.
pub fn group_rows(
    rows: usize,
    owner_of: impl Fn(usize) -> u32,
    owners: usize,
) -> (Option<Vec<u32>>, Vec<u32>) {
    let slot_of = |row: usize| match owner_of(row) {
        NONE => owners,
        owner => owner as usize,
    };
    let mut counts = vec![0u32; owners + 1];
    for row in 0..rows {
        counts[slot_of(row)] += 1;
    }
    let mut offsets = starts_of(&counts);
    // NONE is the largest value, so grouped rows are exactly non-decreasing owners.
    let order = if (1..rows).all(|row| owner_of(row - 1) <= owner_of(row)) {
        None
    } else {
        let mut next = offsets.clone();
        let mut order = vec![0u32; rows];
        for row in 0..rows {
            let slot = slot_of(row);
            order[next[slot] as usize] = row as u32;
            next[slot] += 1;
        }
        Some(order)
    };
    offsets.truncate(owners + 1);
    (order, offsets)
}

/// Where each of consecutive groups of `counts` rows starts, and the end.
pub fn starts_of(counts: &[u32]) -> Vec<u32> {
    let mut starts = Vec::with_capacity(counts.len() + 1);
    let mut total = 0u32;
    for &count in counts {
        starts.push(total);
        total += count;
    }
    starts.push(total);
    starts
}
