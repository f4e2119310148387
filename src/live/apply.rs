//! Events applied to the rows of the subjects they touch, in place: no dataset is built
//! and nothing is loaded again. This is the one applier: lists a writer applies, a fold
//! catches up with or a start replays all go through it, with the data model's checks,
//! errors and pointers; a list applies whole or not at all.

use std::collections::{BTreeMap, BTreeSet};

use rustc_hash::FxHashMap;

use crate::events::{
    Event, EventError, EventList, Layouts, OrderChanges, Refusal, Row, SubjectRows, Value,
    missing_required,
};
use crate::model::{SubjectId, TableName};
use crate::store::Dataset;

/// What the data held before the lists, beside the touched subjects' rows.
pub struct Known<'a> {
    pub base: &'a Dataset,
    pub layouts: &'a Layouts,
    /// The dense id of a subject: the loaded data's, or one events added (those the lists
    /// add included).
    pub dense: &'a dyn Fn(SubjectId) -> Option<u32>,
    /// Customers, products and orders that earlier lists added.
    pub customer_added: &'a dyn Fn(i64) -> bool,
    pub product_added: &'a dyn Fn(i64) -> bool,
    pub order_placed: &'a dyn Fn(i64) -> bool,
}

/// The touched subjects' rows as the lists leave them, and what else they wrote.
#[derive(Default)]
pub struct Applied {
    pub rows: BTreeMap<u32, SubjectRows>,
    /// Guest orders' rows, by order id (empty: the order became a customer's).
    pub guest_orders: BTreeMap<i64, SubjectRows>,
    /// Products written, as rows of the products table.
    pub products: Vec<(i64, Vec<Value>)>,
    pub placed_orders: Vec<i64>,
    /// Orders, carts and addresses the lists wrote or moved, and their owners now.
    pub owners: Vec<((TableName, i64), u32)>,
}

/// Applies `lists` in order to `rows`, the rows of every subject they touch, and to
/// `guest_orders`, the rows of the guest orders they change.
pub fn apply_to_rows(
    known: &Known<'_>,
    rows: BTreeMap<u32, SubjectRows>,
    guest_orders: BTreeMap<i64, SubjectRows>,
    lists: &[impl std::borrow::Borrow<EventList>],
) -> Result<Applied, EventError> {
    let mut applier = RowsApplier {
        known,
        applied: Applied {
            rows,
            guest_orders,
            ..Applied::default()
        },
        customers: BTreeSet::new(),
        written_carts: Vec::new(),
        written: Vec::new(),
        placed: FxHashMap::default(),
    };
    applier.index_held_records();
    for list in lists {
        for (i, event) in list.borrow().events().iter().enumerate() {
            applier.apply(event, &format!("/{i}"))?;
        }
        applier.one_active_cart();
    }
    let written = std::mem::take(&mut applier.written);
    for (table, id) in written {
        let key = match table {
            TableName::Orders => "order_id",
            TableName::Carts => "cart_id",
            _ => "address_id",
        };
        if let Some((Holder::Subject(owner), _)) = applier.find(table, key, id) {
            applier.applied.owners.push(((table, id), owner));
        }
    }
    Ok(applier.applied)
}

/// Whose rows hold a record: a subject's, or a guest order's own.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Holder {
    Subject(u32),
    GuestOrder(i64),
}

struct RowsApplier<'a> {
    known: &'a Known<'a>,
    applied: Applied,
    /// Customers the lists created.
    customers: BTreeSet<i64>,
    /// Carts the lists wrote: (owner, cart id).
    written_carts: Vec<(u32, i64)>,
    /// Orders, carts and addresses the lists wrote or moved.
    written: Vec<(TableName, i64)>,
    /// Whose rows each order, cart and address was last put in: where it is, if it is
    /// anywhere. Lists of many events over many subjects (a fold catching up, a replay)
    /// look a record up here instead of in every subject's rows.
    placed: FxHashMap<(TableName, i64), Holder>,
}

/// The table whose key a child table's rows name, with its key column: an item or
/// address is where its order or cart is.
fn keyed_by(table: TableName) -> Option<(TableName, &'static str)> {
    match table {
        TableName::Orders | TableName::OrderItems | TableName::OrderAddresses => {
            Some((TableName::Orders, "order_id"))
        }
        TableName::Carts | TableName::CartItems => Some((TableName::Carts, "cart_id")),
        TableName::Addresses => Some((TableName::Addresses, "address_id")),
        _ => None,
    }
}

impl RowsApplier<'_> {
    fn position(&self, table: TableName, column: &str) -> usize {
        self.known
            .layouts
            .position(table, column)
            .unwrap_or_else(|| panic!("{table} has the data model's column {column}"))
    }

    fn id_at(&self, table: TableName, row: &[Value], column: &str) -> Option<i64> {
        row[self.position(table, column)].number()
    }

    fn rows_mut(&mut self, subject: u32) -> &mut SubjectRows {
        self.applied.rows.entry(subject).or_default()
    }

    fn customer_exists(&self, id: i64) -> bool {
        self.known.base.customer_index.get(id).is_some()
            || (self.known.customer_added)(id)
            || self.customers.contains(&id)
    }

    fn product_exists(&self, id: i64) -> bool {
        self.known.base.product_index.get(id).is_some()
            || (self.known.product_added)(id)
            || self.applied.products.iter().any(|(p, _)| *p == id)
    }

    fn order_exists(&self, id: i64) -> bool {
        self.known.base.order_index.get(id).is_some()
            || (self.known.order_placed)(id)
            || self.applied.placed_orders.contains(&id)
    }

    fn subject(&self, subject: SubjectId) -> Option<u32> {
        (self.known.dense)(subject)
    }

    /// Notes where every order, cart and address the rows hold is.
    fn index_held_records(&mut self) {
        let subjects = self.applied.rows.iter();
        let in_subjects = subjects.map(|(&s, rows)| (Holder::Subject(s), rows));
        let guests = self.applied.guest_orders.iter();
        let in_guests = guests.map(|(&order, rows)| (Holder::GuestOrder(order), rows));
        let mut placed = FxHashMap::default();
        for (holder, rows) in in_subjects.chain(in_guests) {
            for table in [TableName::Orders, TableName::Carts, TableName::Addresses] {
                let (_, key) = keyed_by(table).expect("a keyed table");
                let position = self.position(table, key);
                for row in rows.rows(table) {
                    if let Some(id) = row[position].number() {
                        placed.insert((table, id), holder);
                    }
                }
            }
        }
        self.placed = placed;
    }

    /// Notes that record `id` of keyed `table` is now in `holder`'s rows.
    fn place(&mut self, table: TableName, id: i64, holder: Holder) {
        self.placed.insert((table, id), holder);
    }

    /// The holder that may have the rows of `table` whose `key` is `id`.
    fn holder_of(&self, table: TableName, key: &str, id: i64) -> Option<Holder> {
        let (keyed, key_column) = keyed_by(table)?;
        debug_assert_eq!(key, key_column, "{table} is looked up by {key_column}");
        self.placed.get(&(keyed, id)).copied()
    }

    fn held(&self, holder: Holder) -> Option<&SubjectRows> {
        match holder {
            Holder::Subject(subject) => self.applied.rows.get(&subject),
            Holder::GuestOrder(order) => self.applied.guest_orders.get(&order),
        }
    }

    /// The rows of `holder`.
    fn held_mut(&mut self, holder: Holder) -> &mut SubjectRows {
        match holder {
            Holder::Subject(subject) => self.rows_mut(subject),
            Holder::GuestOrder(order) => self.applied.guest_orders.entry(order).or_default(),
        }
    }

    /// Whose rows hold the row of `table` whose `key` is `id`, and where it is.
    fn find(&self, table: TableName, key: &str, id: i64) -> Option<(Holder, usize)> {
        let position = self.position(table, key);
        let holder = self.holder_of(table, key, id)?;
        let at = self
            .held(holder)?
            .rows(table)
            .iter()
            .position(|row| row[position].number() == Some(id))?;
        Some((holder, at))
    }

    /// Takes out the rows of `table` whose `key` is `id`, wherever they are.
    fn take(&mut self, table: TableName, key: &str, id: i64) -> Vec<Vec<Value>> {
        let position = self.position(table, key);
        let Some(holder) = self.holder_of(table, key, id) else {
            return Vec::new();
        };
        let list = self.held_mut(holder).rows_mut(table);
        let (taken, kept) = std::mem::take(list)
            .into_iter()
            .partition(|row| row[position].number() == Some(id));
        *list = kept;
        taken
    }

    fn check_customer(&self, row: &Row, at: &str) -> Result<(), EventError> {
        match row.customer_id {
            Some(customer) if !self.customer_exists(customer) => {
                Err(Refusal::NoCustomer(customer).at(format!("{at}/customer_id")))
            }
            _ => Ok(()),
        }
    }

    fn check_product(&self, row: &Row, at: &str) -> Result<(), EventError> {
        match row.product_id {
            Some(id) if !self.product_exists(id) => {
                Err(Refusal::NoProduct(id).at(format!("{at}/product_id")))
            }
            _ => Ok(()),
        }
    }

    /// The subject a row belongs to (its customer, else its visitor).
    fn owner(&self, row: &Row) -> Option<u32> {
        match (row.customer_id, row.visitor_id) {
            (Some(c), _) => self.subject(SubjectId::Customer(c)),
            (None, Some(v)) => self.subject(SubjectId::Visitor(v)),
            (None, None) => None,
        }
    }

    fn apply(&mut self, event: &Event, at: &str) -> Result<(), EventError> {
        match event {
            Event::CustomerUpserted(row) => {
                let id = row.key.expect("a parsed key");
                let subject = self
                    .subject(SubjectId::Customer(id))
                    .expect("a customer event adds its subject");
                self.customers.insert(id);
                *self.rows_mut(subject).rows_mut(TableName::Customers) = vec![row.values.clone()];
            }
            Event::ProductUpserted(row) => {
                let id = row.key.expect("a parsed key");
                self.applied.products.retain(|(p, _)| *p != id);
                self.applied.products.push((id, row.values.clone()));
            }
            Event::AddressUpserted(row) => {
                self.check_customer(row, at)?;
                self.take(
                    TableName::Addresses,
                    "address_id",
                    row.key.expect("a parsed key"),
                );
                let owner = self.owner(row).expect("an existing customer has a subject");
                self.rows_mut(owner)
                    .rows_mut(TableName::Addresses)
                    .push(row.values.clone());
                let address = row.key.expect("a parsed key");
                self.place(TableName::Addresses, address, Holder::Subject(owner));
                self.written.push((TableName::Addresses, address));
            }
            Event::AddressDeleted { address_id } => {
                if self
                    .take(TableName::Addresses, "address_id", *address_id)
                    .is_empty()
                {
                    return Err(Refusal::NoAddress(*address_id).at(format!("{at}/address_id")));
                }
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
                self.check_customer(row, at)?;
                self.check_product(row, at)?;
                let owner = self.owner(row).expect("an existing customer has a subject");
                self.rows_mut(owner)
                    .rows_mut(TableName::WishlistItems)
                    .push(row.values.clone());
            }
            Event::WishlistItemRemoved {
                customer_id,
                product_id,
            } => {
                let product = self.position(TableName::WishlistItems, "product_id");
                let removed = match self.subject(SubjectId::Customer(*customer_id)) {
                    Some(subject) if self.customer_exists(*customer_id) => {
                        let list = self.rows_mut(subject).rows_mut(TableName::WishlistItems);
                        let before = list.len();
                        list.retain(|row| row[product].number() != Some(*product_id));
                        before - list.len()
                    }
                    _ => 0,
                };
                if removed == 0 {
                    return Err(Refusal::NotOnWishlist {
                        customer: *customer_id,
                        product: *product_id,
                    }
                    .at(format!("{at}/product_id")));
                }
            }
            Event::ProductViewed(row) => {
                self.check_customer(row, at)?;
                self.check_product(row, at)?;
                let owner = self.owner(row).expect("a view event adds its subject");
                self.rows_mut(owner)
                    .rows_mut(TableName::ProductViews)
                    .push(row.values.clone());
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
        if self.order_exists(order_id) {
            return Err(Refusal::OrderExists(order_id).at(format!("{at}/order_id")));
        }
        self.check_customer(order, at)?;
        for (i, item) in items.iter().enumerate() {
            self.check_product(item, &format!("{at}/items/{i}"))?;
        }
        self.applied.placed_orders.push(order_id);
        // A guest order is no subject's: its rows are kept on their own.
        let holder = match self.owner(order) {
            Some(owner) => {
                self.written.push((TableName::Orders, order_id));
                Holder::Subject(owner)
            }
            None => Holder::GuestOrder(order_id),
        };
        self.place(TableName::Orders, order_id, holder);
        let rows = self.held_mut(holder);
        rows.rows_mut(TableName::Orders).push(order.values.clone());
        let list = rows.rows_mut(TableName::OrderItems);
        list.extend(items.iter().map(|item| item.values.clone()));
        let list = rows.rows_mut(TableName::OrderAddresses);
        list.extend(addresses.iter().map(|address| address.values.clone()));
        Ok(())
    }

    fn order_updated(
        &mut self,
        order_id: i64,
        changes: &OrderChanges,
        at: &str,
    ) -> Result<(), EventError> {
        let Some((owner, at_row)) = self.find(TableName::Orders, "order_id", order_id) else {
            return Err(Refusal::NoOrder(order_id).at(format!("{at}/order_id")));
        };
        let held = match owner {
            Holder::Subject(subject) => &self.applied.rows[&subject],
            Holder::GuestOrder(order) => &self.applied.guest_orders[&order],
        };
        let mut values = held.rows(TableName::Orders)[at_row].clone();
        changes.apply_to(&mut values);
        let position = |column: &str| self.position(TableName::Orders, column);
        if let Some(refusal) = missing_required(TableName::Orders, &values, position) {
            return Err(refusal.at(at));
        }
        let customer = self.id_at(TableName::Orders, &values, "customer_id");
        if let Some(customer) = customer
            && !self.customer_exists(customer)
        {
            return Err(Refusal::NoCustomer(customer).at(format!("{at}/customer_id")));
        }
        let new_owner = match customer {
            Some(c) => Holder::Subject(
                self.subject(SubjectId::Customer(c))
                    .expect("an existing customer has a subject"),
            ),
            None => Holder::GuestOrder(order_id),
        };
        if new_owner == owner {
            self.held_mut(owner).rows_mut(TableName::Orders)[at_row] = values;
            return Ok(());
        }
        // The order changes hands, with its items and addresses.
        self.written.push((TableName::Orders, order_id));
        self.take(TableName::Orders, "order_id", order_id);
        let items = self.take(TableName::OrderItems, "order_id", order_id);
        let addresses = self.take(TableName::OrderAddresses, "order_id", order_id);
        self.place(TableName::Orders, order_id, new_owner);
        let rows = self.held_mut(new_owner);
        rows.rows_mut(TableName::Orders).push(values);
        rows.rows_mut(TableName::OrderItems).extend(items);
        rows.rows_mut(TableName::OrderAddresses).extend(addresses);
        Ok(())
    }

    fn cart_updated(&mut self, cart: &Row, items: &[Row], at: &str) -> Result<(), EventError> {
        self.check_customer(cart, at)?;
        for (i, item) in items.iter().enumerate() {
            self.check_product(item, &format!("{at}/items/{i}"))?;
        }
        // The cart comes whole: its old row and items go, wherever they were.
        let cart_id = cart.key.expect("a parsed key");
        self.take(TableName::Carts, "cart_id", cart_id);
        self.take(TableName::CartItems, "cart_id", cart_id);
        let owner = self.owner(cart).expect("a cart event adds its subject");
        self.place(TableName::Carts, cart_id, Holder::Subject(owner));
        let rows = self.rows_mut(owner);
        rows.rows_mut(TableName::Carts).push(cart.values.clone());
        rows.rows_mut(TableName::CartItems)
            .extend(items.iter().map(|item| item.values.clone()));
        self.written_carts.push((owner, cart_id));
        self.written.push((TableName::Carts, cart_id));
        Ok(())
    }

    /// The visitor's carts and product views become the customer's.
    fn visitor_logged_in(
        &mut self,
        visitor: i64,
        customer: i64,
        at: &str,
    ) -> Result<(), EventError> {
        if !self.customer_exists(customer) {
            return Err(Refusal::NoCustomer(customer).at(format!("{at}/customer_id")));
        }
        // A visitor is its carts and views: one without any (never seen, or logged in
        // already) is as unknown as a customer that does not exist.
        let has_records = |rows: &SubjectRows| {
            !rows.rows(TableName::Carts).is_empty()
                || !rows.rows(TableName::ProductViews).is_empty()
        };
        let Some(from) = self
            .subject(SubjectId::Visitor(visitor))
            .filter(|from| self.applied.rows.get(from).is_some_and(has_records))
        else {
            return Err(Refusal::NoVisitor(visitor).at(format!("{at}/visitor_id")));
        };
        let to = self
            .subject(SubjectId::Customer(customer))
            .expect("an existing customer has a subject");
        let mut moved = self
            .applied
            .rows
            .remove(&from)
            .expect("checked to have records");
        let mut carts = std::mem::take(moved.rows_mut(TableName::Carts));
        let mut views = std::mem::take(moved.rows_mut(TableName::ProductViews));
        let items = std::mem::take(moved.rows_mut(TableName::CartItems));
        for (table, rows) in [
            (TableName::Carts, &mut carts),
            (TableName::ProductViews, &mut views),
        ] {
            let customer_column = self.position(table, "customer_id");
            let visitor_column = self.position(table, "visitor_id");
            for row in rows.iter_mut() {
                row[customer_column] = Value::Int(customer);
                row[visitor_column] = Value::Null;
            }
        }
        let cart_ids: Vec<i64> = carts
            .iter()
            .filter_map(|row| self.id_at(TableName::Carts, row, "cart_id"))
            .collect();
        self.applied.rows.insert(from, moved);
        let rows = self.rows_mut(to);
        rows.rows_mut(TableName::Carts).extend(carts);
        rows.rows_mut(TableName::CartItems).extend(items);
        rows.rows_mut(TableName::ProductViews).extend(views);
        for cart in cart_ids {
            self.place(TableName::Carts, cart, Holder::Subject(to));
            self.written_carts.push((to, cart));
            self.written.push((TableName::Carts, cart));
        }
        Ok(())
    }

    /// Where the lists left a subject more than one active cart on a website, the most
    /// recently updated (then the highest cart id) stays active, as the loader rules for
    /// a file. Only carts the lists wrote can clash.
    fn one_active_cart(&mut self) {
        let [website, active, updated, cart] = ["website_id", "is_active", "updated_at", "cart_id"]
            .map(|c| self.position(TableName::Carts, c));
        let is_active = |row: &Vec<Value>| row[active] != Value::Bool(false);
        let written = self.written_carts.clone();
        for (owner, cart_id) in written {
            let Some(rows) = self.applied.rows.get_mut(&owner) else {
                continue;
            };
            let carts = rows.rows_mut(TableName::Carts);
            let Some(on_website) = carts
                .iter()
                .find(|row| row[cart].number() == Some(cart_id) && is_active(row))
                .map(|row| row[website].clone())
            else {
                continue;
            };
            let rivals: Vec<usize> = (0..carts.len())
                .filter(|&i| is_active(&carts[i]) && carts[i][website] == on_website)
                .collect();
            let recency = |i: &usize| (carts[*i][updated].number(), carts[*i][cart].number());
            let Some(&winner) = rivals.iter().max_by_key(|i| recency(i)) else {
                continue;
            };
            for loser in rivals.into_iter().filter(|&i| i != winner) {
                carts[loser][active] = Value::Bool(false);
            }
        }
    }
}
