//! Keys read before the big tables, so that each of their rows is checked on the client
//! against its store, customer and order instead of joined with them on the server:
//! a lookup by key for every one of millions of order items, order addresses and views
//! took the server longer than reading the rows themselves.

use std::collections::HashMap;

use mysql_async::Value;
use roaring::RoaringTreemap;

use super::MagentoError;
use super::copy::integer_of;
use super::source::Source;

/// The stores, the carried customers and, once orders are read, the orders.
#[derive(Default)]
pub struct KnownKeys {
    /// Each store's website, by store id.
    store_websites: HashMap<i64, Value>,
    /// Customers with a website: the customers carried.
    customers: RoaringTreemap,
    /// Every order read, and those carried.
    orders: RoaringTreemap,
    carried_orders: RoaringTreemap,
}

/// An id as a treemap key: `as` maps every i64 to its own u64.
fn key(id: i64) -> u64 {
    id as u64
}

impl KnownKeys {
    /// Reads the stores and the carried customers.
    pub async fn read(source: &mut Source<'_>) -> Result<KnownKeys, MagentoError> {
        let mut keys = KnownKeys::default();
        let sql = format!("SELECT store_id, website_id FROM {}", source.name("store"));
        for row in source.rows("store", &sql).await? {
            if let Some(store) = integer_of(&row[0]) {
                keys.store_websites.insert(store, row[1].clone());
            }
        }
        let sql = format!(
            "SELECT entity_id FROM {} WHERE website_id IS NOT NULL",
            source.name("customer_entity")
        );
        source
            .for_each_row("customer_entity", &sql, |row| {
                if let Some(customer) = integer_of(&row[0]) {
                    keys.customers.insert(key(customer));
                }
                Ok(())
            })
            .await?;
        Ok(keys)
    }

    /// The website of the store `store` names, if it is a store.
    pub fn website_of_store(&self, store: &Value) -> Option<&Value> {
        self.store_websites.get(&integer_of(store)?)
    }

    /// Whether a row naming `customer` (null for a guest) may be carried: a guest's, or
    /// one of a carried customer.
    pub fn customer_carried_or_none(&self, customer: &Value) -> bool {
        match customer {
            Value::NULL => true,
            customer => integer_of(customer).is_some_and(|id| self.customers.contains(key(id))),
        }
    }

    /// Notes an order read, and whether it is carried.
    pub fn note_order(&mut self, order: &Value, carried: bool) {
        if let Some(id) = integer_of(order) {
            self.orders.insert(key(id));
            if carried {
                self.carried_orders.insert(key(id));
            }
        }
    }

    /// Why a row of the order `order` names is not carried: `order` (no such order) or
    /// `parent` (its order is not carried); `None` when it is.
    pub fn order_reason(&self, order: &Value) -> Option<&'static str> {
        let Some(id) = integer_of(order).map(key) else {
            return Some("order");
        };
        if self.carried_orders.contains(id) {
            None
        } else if self.orders.contains(id) {
            Some("parent")
        } else {
            Some("order")
        }
    }
}
