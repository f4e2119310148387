//! Events as typed values (interface.md, "Events"), parsed once where they come in: a
//! request body, or the event log at start. Everything a list of events says about
//! itself (which subjects, tables and products it touches) is read from the typed
//! values, so the live path never looks at an event's JSON again.
//!
//! Parsing checks what an event says on its own: its type, its fields and their values,
//! the nested rows, what a row requires. What depends on the data (does the customer or
//! product exist, is the order new) is checked when the list is applied. Either way a bad
//! event refuses the whole list, with a JSON Pointer into it.

use std::collections::BTreeSet;

use serde_json::{Map, Value as Json};

use super::idempotency::IdempotencyKey;
use super::{EVENT_TYPES, EventError, Layouts, Value, refuse};
use crate::data::value::{parse_date, parse_decimal, parse_timestamp};
use crate::model::{FieldType, SubjectId, TableName};

/// One row of a table, in the columns of the table as read ([`Layouts`]), with the ids
/// the live path looks up.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub(crate) values: Vec<Value>,
    /// The row's primary key, if its table has one.
    pub key: Option<i64>,
    pub customer_id: Option<i64>,
    pub visitor_id: Option<i64>,
    pub product_id: Option<i64>,
}

/// The columns an `order_updated` event changes.
#[derive(Clone, Debug, PartialEq)]
pub struct OrderChanges {
    /// (column of the orders table as read, new value).
    pub(super) columns: Vec<(usize, Value)>,
    /// `None`: the customer stays; `Some(None)`: the order becomes a guest order.
    pub customer_id: Option<Option<i64>>,
}

impl OrderChanges {
    /// Writes the changes into an orders row.
    pub(crate) fn apply_to(&self, row: &mut [Value]) {
        for (column, value) in &self.columns {
            row[*column] = value.clone();
        }
    }
}

/// One event of interface.md's table.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    CustomerUpserted(Row),
    AddressUpserted(Row),
    AddressDeleted {
        address_id: i64,
    },
    OrderPlaced {
        order: Row,
        items: Vec<Row>,
        addresses: Vec<Row>,
    },
    OrderUpdated {
        order_id: i64,
        changes: OrderChanges,
    },
    /// A cart with its full list of items: the old items go.
    CartUpdated {
        cart: Row,
        items: Vec<Row>,
    },
    WishlistItemAdded(Row),
    WishlistItemRemoved {
        customer_id: i64,
        product_id: i64,
    },
    ProductViewed(Row),
    ProductUpserted(Row),
    /// The visitor's carts and product views become the customer's.
    VisitorLoggedIn {
        visitor_id: i64,
        customer_id: i64,
    },
}

impl Event {
    /// The `"type"` it came with.
    pub fn type_name(&self) -> &'static str {
        match self {
            Event::CustomerUpserted(_) => "customer_upserted",
            Event::AddressUpserted(_) => "address_upserted",
            Event::AddressDeleted { .. } => "address_deleted",
            Event::OrderPlaced { .. } => "order_placed",
            Event::OrderUpdated { .. } => "order_updated",
            Event::CartUpdated { .. } => "cart_updated",
            Event::WishlistItemAdded(_) => "wishlist_item_added",
            Event::WishlistItemRemoved { .. } => "wishlist_item_removed",
            Event::ProductViewed(_) => "product_viewed",
            Event::ProductUpserted(_) => "product_upserted",
            Event::VisitorLoggedIn { .. } => "visitor_logged_in",
        }
    }

    /// The customers and visitors it names, each with whether the event adds the subject
    /// when the data does not have it yet (a new customer, a new visitor's first view or
    /// cart).
    pub fn subjects_named(&self) -> Vec<(SubjectId, bool)> {
        let of_row = |row: &Row, adds_customer: bool, adds_visitor: bool| {
            let customer = row
                .customer_id
                .map(|c| (SubjectId::Customer(c), adds_customer));
            let visitor = row
                .visitor_id
                .map(|v| (SubjectId::Visitor(v), adds_visitor));
            customer.into_iter().chain(visitor).collect()
        };
        match self {
            Event::CustomerUpserted(row) => of_row(row, true, false),
            Event::ProductViewed(row) => of_row(row, false, true),
            Event::CartUpdated { cart, .. } => of_row(cart, false, true),
            Event::AddressUpserted(row) | Event::WishlistItemAdded(row) => {
                of_row(row, false, false)
            }
            Event::OrderPlaced { order, .. } => of_row(order, false, false),
            Event::OrderUpdated { changes, .. } => changes
                .customer_id
                .flatten()
                .map(|c| (SubjectId::Customer(c), false))
                .into_iter()
                .collect(),
            Event::WishlistItemRemoved { customer_id, .. } => {
                vec![(SubjectId::Customer(*customer_id), false)]
            }
            Event::VisitorLoggedIn {
                visitor_id,
                customer_id,
            } => vec![
                (SubjectId::Customer(*customer_id), false),
                (SubjectId::Visitor(*visitor_id), false),
            ],
            Event::AddressDeleted { .. } | Event::ProductUpserted(_) => Vec::new(),
        }
    }

    /// The tables it writes.
    pub fn tables_written(&self) -> &'static [TableName] {
        use TableName::*;
        match self {
            Event::CustomerUpserted(_) => &[Customers],
            Event::AddressUpserted(_) | Event::AddressDeleted { .. } => &[Addresses],
            // An order that changes hands takes its items and addresses along.
            Event::OrderPlaced { .. } | Event::OrderUpdated { .. } => {
                &[Orders, OrderItems, OrderAddresses]
            }
            Event::CartUpdated { .. } => &[Carts, CartItems],
            Event::WishlistItemAdded(_) | Event::WishlistItemRemoved { .. } => &[WishlistItems],
            Event::ProductViewed(_) => &[ProductViews],
            Event::ProductUpserted(_) => &[Products],
            Event::VisitorLoggedIn { .. } => &[Carts, CartItems, ProductViews],
        }
    }

    /// The product ids it names, in its rows and their nested rows.
    pub fn products_named(&self) -> Vec<i64> {
        let of = |rows: &[Row]| rows.iter().filter_map(|r| r.product_id).collect();
        match self {
            Event::OrderPlaced { items, .. } | Event::CartUpdated { items, .. } => of(items),
            Event::WishlistItemAdded(row)
            | Event::ProductViewed(row)
            | Event::ProductUpserted(row) => row.product_id.into_iter().collect(),
            Event::WishlistItemRemoved { product_id, .. } => vec![*product_id],
            _ => Vec::new(),
        }
    }

    /// The product a `product_upserted` event writes.
    pub fn upserted_product(&self) -> Option<i64> {
        match self {
            Event::ProductUpserted(row) => row.product_id,
            _ => None,
        }
    }

    /// The order an `order_placed` event places.
    pub fn placed_order(&self) -> Option<i64> {
        match self {
            Event::OrderPlaced { order, .. } => order.key,
            _ => None,
        }
    }
}

/// A list of events as a client sent it: the typed events, and the JSON they were parsed
/// from, which the event log keeps.
#[derive(Clone, Debug)]
pub struct EventList {
    events: Vec<Event>,
    json: Json,
    /// The idempotency key it came with and when (µs): the log keeps them with the list.
    idempotency: Option<(IdempotencyKey, i64)>,
}

impl EventList {
    /// Parses a list of events against the tables' columns: every event, or the first
    /// error with its pointer.
    pub fn parse(json: Json, layouts: &Layouts) -> Result<EventList, EventError> {
        let Some(list) = json.as_array() else {
            return Err(refuse("", "the body must be a JSON list of events"));
        };
        let parser = Parser { layouts };
        let events = list
            .iter()
            .enumerate()
            .map(|(i, event)| parser.event(event, &format!("/{i}")))
            .collect::<Result<_, _>>()?;
        Ok(EventList {
            events,
            json,
            idempotency: None,
        })
    }

    /// The list as sent with an idempotency key, at `at` (µs).
    pub fn with_idempotency_key(self, key: IdempotencyKey, at: i64) -> EventList {
        EventList {
            idempotency: Some((key, at)),
            ..self
        }
    }

    pub fn idempotency_key(&self) -> Option<&(IdempotencyKey, i64)> {
        self.idempotency.as_ref()
    }

    pub fn events(&self) -> &[Event] {
        &self.events
    }

    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// The list as it came: what the event log writes.
    pub fn json(&self) -> &Json {
        &self.json
    }

    /// The tables its events write.
    pub fn tables_written(&self) -> BTreeSet<TableName> {
        self.events
            .iter()
            .flat_map(|e| e.tables_written().iter().copied())
            .collect()
    }

    /// The product ids its events name.
    pub fn products_named(&self) -> Vec<i64> {
        self.events.iter().flat_map(Event::products_named).collect()
    }
}

struct Parser<'a> {
    layouts: &'a Layouts,
}

impl Parser<'_> {
    fn columns(&self, table: TableName) -> &[(String, FieldType, super::Source)] {
        self.layouts.columns(table)
    }

    fn position(&self, table: TableName, column: &str) -> usize {
        self.layouts
            .position(table, column)
            .unwrap_or_else(|| panic!("{table} has the data model's column {column}"))
    }

    fn event(&self, event: &Json, at: &str) -> Result<Event, EventError> {
        let Some(object) = event.as_object() else {
            return Err(refuse(at, "an event is a JSON object"));
        };
        let kind = match object.get("type") {
            Some(Json::String(kind)) => kind.as_str(),
            Some(_) => return Err(refuse(format!("{at}/type"), "type must be a string")),
            None => return Err(refuse(at, "the event has no type")),
        };
        let row = |table: TableName| self.row(table, object, at, &[], &[]);
        Ok(match kind {
            "customer_upserted" => Event::CustomerUpserted(row(TableName::Customers)?),
            "product_upserted" => Event::ProductUpserted(row(TableName::Products)?),
            "address_upserted" => Event::AddressUpserted(row(TableName::Addresses)?),
            "address_deleted" => Event::AddressDeleted {
                address_id: only_id(object, "address_id", at, &[])?,
            },
            "order_placed" => self.order_placed(object, at)?,
            "order_updated" => self.order_updated(object, at)?,
            "cart_updated" => {
                let cart = self.row(TableName::Carts, object, at, &["items"], &[])?;
                let implied = [("cart_id", cart.key.expect("a required key"))];
                let items = self.list(TableName::CartItems, object, "items", at, &implied)?;
                Event::CartUpdated { cart, items }
            }
            "wishlist_item_added" => Event::WishlistItemAdded(row(TableName::WishlistItems)?),
            "wishlist_item_removed" => Event::WishlistItemRemoved {
                customer_id: only_id(object, "customer_id", at, &["product_id", "added_at"])?,
                product_id: only_id(object, "product_id", at, &["customer_id", "added_at"])?,
            },
            "product_viewed" => Event::ProductViewed(row(TableName::ProductViews)?),
            "visitor_logged_in" => Event::VisitorLoggedIn {
                visitor_id: only_id(object, "visitor_id", at, &["customer_id"])?,
                customer_id: only_id(object, "customer_id", at, &["visitor_id"])?,
            },
            other => {
                return Err(refuse(
                    format!("{at}/type"),
                    format!(
                        "unknown event type {other:?}; the types are {}",
                        EVENT_TYPES.join(", ")
                    ),
                ));
            }
        })
    }

    fn order_placed(&self, object: &Map<String, Json>, at: &str) -> Result<Event, EventError> {
        let order = self.row(TableName::Orders, object, at, &["items", "addresses"], &[])?;
        let implied = [("order_id", order.key.expect("a required key"))];
        let items = self.list(TableName::OrderItems, object, "items", at, &implied)?;
        let addresses = self.list(TableName::OrderAddresses, object, "addresses", at, &implied)?;
        let type_column = self.position(TableName::OrderAddresses, "address_type");
        for (i, address) in addresses.iter().enumerate() {
            if !matches!(&address.values[type_column], Value::Text(t) if t == "billing" || t == "shipping")
            {
                return Err(refuse(
                    format!("{at}/addresses/{i}/address_type"),
                    "address_type is billing or shipping",
                ));
            }
        }
        Ok(Event::OrderPlaced {
            order,
            items,
            addresses,
        })
    }

    fn order_updated(&self, object: &Map<String, Json>, at: &str) -> Result<Event, EventError> {
        let order_id = match object.get("order_id") {
            Some(Json::Number(n)) if n.as_i64().is_some() => n.as_i64().expect("checked"),
            Some(_) => {
                return Err(refuse(
                    format!("{at}/order_id"),
                    "order_id must be an integer id",
                ));
            }
            None => return Err(refuse(at, "order_updated needs order_id")),
        };
        let columns = self.columns_of(TableName::Orders, object, at, &[])?;
        let customer_column = self.position(TableName::Orders, "customer_id");
        let customer_id = columns
            .iter()
            .find(|(column, _)| *column == customer_column)
            .map(|(_, value)| value.id());
        Ok(Event::OrderUpdated {
            order_id,
            changes: OrderChanges {
                columns,
                customer_id,
            },
        })
    }

    /// A whole row of `table` from the event's fields (`nested` names lists that are not
    /// columns; `implied` columns come from the parent and may be left out).
    fn row(
        &self,
        table: TableName,
        object: &Map<String, Json>,
        at: &str,
        nested: &[&str],
        implied: &[(&str, i64)],
    ) -> Result<Row, EventError> {
        let mut values = vec![Value::Null; self.columns(table).len()];
        for (column, value) in self.columns_of(table, object, at, nested)? {
            values[column] = value;
        }
        for (column, id) in implied {
            let position = self.position(table, column);
            match &values[position] {
                Value::Null => values[position] = Value::Int(*id),
                Value::Int(given) if given == id => {}
                _ => {
                    return Err(refuse(
                        format!("{at}/{column}"),
                        format!("{column} must be that of the event, {id}, or left out"),
                    ));
                }
            }
        }
        for spec in table.spec().columns.iter().filter(|c| c.required) {
            if values[self.position(table, spec.name)] == Value::Null {
                return Err(refuse(
                    at,
                    format!("{} is required in a {table} row", spec.name),
                ));
            }
        }
        let id = |column: &str| {
            let position = self.layouts.position(table, column)?;
            values[position].id()
        };
        let row = Row {
            key: table.spec().primary_key.and_then(id),
            customer_id: id("customer_id"),
            visitor_id: id("visitor_id"),
            product_id: id("product_id"),
            values: Vec::new(),
        };
        if table.spec().customer_or_visitor && row.customer_id.is_some() == row.visitor_id.is_some()
        {
            return Err(refuse(
                at,
                "exactly one of customer_id and visitor_id is set",
            ));
        }
        Ok(Row { values, ..row })
    }

    /// The event's fields as column positions and values.
    fn columns_of(
        &self,
        table: TableName,
        object: &Map<String, Json>,
        at: &str,
        nested: &[&str],
    ) -> Result<Vec<(usize, Value)>, EventError> {
        let columns = self.columns(table);
        let mut values = Vec::new();
        for (key, json) in object {
            if key == "type" || nested.contains(&key.as_str()) {
                continue;
            }
            let pointer = format!("{at}/{}", escape(key));
            let Some(position) = columns.iter().position(|(n, _, _)| n == key) else {
                let names: Vec<&str> = columns.iter().map(|(n, _, _)| n.as_str()).collect();
                return Err(refuse(
                    pointer,
                    format!(
                        "{table} has no column {key:?}; its columns are {}",
                        names.join(", ")
                    ),
                ));
            };
            let value =
                parse_value(columns[position].1, json).map_err(|why| refuse(&pointer, why))?;
            values.push((position, value));
        }
        Ok(values)
    }

    fn list(
        &self,
        table: TableName,
        object: &Map<String, Json>,
        key: &str,
        at: &str,
        implied: &[(&str, i64)],
    ) -> Result<Vec<Row>, EventError> {
        match object.get(key) {
            None | Some(Json::Null) => Ok(Vec::new()),
            Some(Json::Array(list)) => list
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    let pointer = format!("{at}/{key}/{i}");
                    let fields = item.as_object().ok_or_else(|| {
                        refuse(&pointer, format!("a {table} row is a JSON object"))
                    })?;
                    self.row(table, fields, &pointer, &[], implied)
                })
                .collect(),
            Some(_) => Err(refuse(
                format!("{at}/{key}"),
                format!("{key} must be a list of {table} rows"),
            )),
        }
    }
}

/// The id in `key`, for events that carry nothing else but `others`.
fn only_id(
    object: &Map<String, Json>,
    key: &str,
    at: &str,
    others: &[&str],
) -> Result<i64, EventError> {
    if let Some(extra) = object
        .keys()
        .find(|k| *k != "type" && *k != key && !others.contains(&k.as_str()))
    {
        return Err(refuse(
            format!("{at}/{}", escape(extra)),
            format!("unknown field {extra:?} for this event type"),
        ));
    }
    match object.get(key) {
        Some(Json::Number(n)) if n.as_i64().is_some() => Ok(n.as_i64().expect("checked")),
        Some(_) => Err(refuse(
            format!("{at}/{key}"),
            format!("{key} must be an integer id"),
        )),
        None => Err(refuse(at, format!("the event needs {key}"))),
    }
}

fn parse_value(ty: FieldType, json: &Json) -> Result<Value, String> {
    if json.is_null() {
        return Ok(Value::Null);
    }
    let wrong = || format!("expected a {ty}, got {json}");
    let text = || json.as_str().ok_or_else(wrong);
    Ok(match ty {
        FieldType::Id | FieldType::Int => Value::Int(json.as_i64().ok_or_else(wrong)?),
        FieldType::Decimal => {
            let text = match json {
                Json::Number(n) => n.to_string(),
                Json::String(s) => s.clone(),
                _ => return Err(wrong()),
            };
            Value::Int(parse_decimal(&text)?)
        }
        FieldType::Bool => Value::Bool(json.as_bool().ok_or_else(wrong)?),
        FieldType::Date => Value::Date(parse_date(text()?)?),
        FieldType::Timestamp => Value::Micros(parse_timestamp(text()?)?),
        FieldType::String => Value::Text(text()?.to_string()),
        FieldType::IdList => Value::Ids(
            json.as_array()
                .ok_or_else(wrong)?
                .iter()
                .map(|id| {
                    id.as_i64()
                        .ok_or_else(|| format!("{id} is not an integer id"))
                })
                .collect::<Result<_, _>>()?,
        ),
    })
}

/// A key as a JSON Pointer token (RFC 6901).
fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}
