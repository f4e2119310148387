//! The reference evaluator: the oracle of the differential tests. It follows the text of
//! segment-language.md literally, row by row over plain structs, with no indexes, no
//! bitmaps, no DataFusion and none of the engine's code (not even its parser): it reads
//! the definition's JSON itself. It assumes the definition is valid.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::path::Path;

use chrono::{DateTime, Datelike, NaiveDate};
use serde_json::Value as Json;

pub const MICROS_PER_DAY: i64 = 86_400_000_000;

/// One value of a row.
#[derive(Clone, Debug, PartialEq)]
pub enum V {
    Null,
    Int(i64),
    /// Units of 1/10000.
    Dec(i64),
    Bool(bool),
    /// Days since 1970-01-01.
    Date(i32),
    /// Microseconds since 1970-01-01T00:00:00Z.
    Ts(i64),
    Str(String),
    List(Vec<i64>),
}

/// A row: column name to value. Absent columns are null.
#[derive(Clone, Debug, Default)]
pub struct Row(pub BTreeMap<&'static str, V>);

impl Row {
    pub fn get(&self, column: &str) -> V {
        self.0.get(column).cloned().unwrap_or(V::Null)
    }

    pub fn id(&self, column: &str) -> Option<i64> {
        match self.get(column) {
            V::Int(id) => Some(id),
            _ => None,
        }
    }
}

/// A whole dataset as plain rows.
#[derive(Clone, Debug, Default)]
pub struct World {
    pub customers: Vec<Row>,
    pub products: Vec<Row>,
    pub addresses: Vec<Row>,
    pub orders: Vec<Row>,
    pub order_items: Vec<Row>,
    pub order_addresses: Vec<Row>,
    pub carts: Vec<Row>,
    pub cart_items: Vec<Row>,
    pub wishlist_items: Vec<Row>,
    pub product_views: Vec<Row>,
}

/// The tables of a dataset, parents first.
const TABLES: [&str; 10] = [
    "customers",
    "products",
    "addresses",
    "orders",
    "order_items",
    "order_addresses",
    "carts",
    "cart_items",
    "wishlist_items",
    "product_views",
];

/// The column types of each table, as the oracle knows them (data-model.md).
pub fn columns(table: &str) -> &'static [(&'static str, &'static str)] {
    match table {
        "customers" => &[
            ("customer_id", "id"),
            ("website_id", "int"),
            ("group_id", "int"),
            ("email", "string"),
            ("firstname", "string"),
            ("gender", "string"),
            ("dob", "date"),
            ("created_at", "timestamp"),
            ("last_login_at", "timestamp"),
            ("newsletter_subscribed", "bool"),
            ("store_credit", "decimal"),
            ("loyalty_tier", "string"),
        ],
        "products" => &[
            ("product_id", "id"),
            ("sku", "string"),
            ("price", "decimal"),
            ("category_ids", "list"),
            ("color", "string"),
        ],
        "addresses" => &[
            ("address_id", "id"),
            ("customer_id", "id"),
            ("is_default_billing", "bool"),
            ("is_default_shipping", "bool"),
            ("city", "string"),
            ("country_id", "string"),
        ],
        "orders" => &[
            ("order_id", "id"),
            ("customer_id", "id"),
            ("website_id", "int"),
            ("created_at", "timestamp"),
            ("status", "string"),
            ("grand_total", "decimal"),
            ("total_qty_ordered", "decimal"),
        ],
        "order_items" => &[
            ("order_id", "id"),
            ("product_id", "id"),
            ("qty_ordered", "decimal"),
            ("row_total", "decimal"),
        ],
        "order_addresses" => &[
            ("order_id", "id"),
            ("address_type", "string"),
            ("country_id", "string"),
            ("city", "string"),
        ],
        "carts" => &[
            ("cart_id", "id"),
            ("customer_id", "id"),
            ("visitor_id", "id"),
            ("website_id", "int"),
            ("is_active", "bool"),
            ("updated_at", "timestamp"),
            ("items_count", "int"),
            ("grand_total", "decimal"),
        ],
        "cart_items" => &[
            ("cart_id", "id"),
            ("product_id", "id"),
            ("qty", "decimal"),
            ("added_at", "timestamp"),
        ],
        "wishlist_items" => &[
            ("customer_id", "id"),
            ("product_id", "id"),
            ("added_at", "timestamp"),
        ],
        "product_views" => &[
            ("customer_id", "id"),
            ("visitor_id", "id"),
            ("product_id", "id"),
            ("website_id", "int"),
            ("viewed_at", "timestamp"),
        ],
        other => panic!("unknown table {other}"),
    }
}

/// The type of a field as conditions name it (`customer.group_id`), derived ones included.
pub fn field_type(field: &str) -> &'static str {
    let (table, column) = field.split_once('.').expect("table.column");
    if table == "customer"
        && matches!(
            column,
            "days_since_created" | "days_since_last_login" | "days_until_birthday" | "age"
        )
    {
        return "int";
    }
    let ty = columns(table_of(table))
        .iter()
        .find(|(name, _)| *name == column)
        .unwrap_or_else(|| panic!("the oracle does not know {field}"))
        .1;
    if ty == "id" { "int" } else { ty }
}

fn table_of(name: &str) -> &'static str {
    match name {
        "customer" => "customers",
        "product" => "products",
        "address" => "addresses",
        "order" => "orders",
        "order_item" => "order_items",
        "order_address" => "order_addresses",
        "cart" => "carts",
        "cart_item" => "cart_items",
        "wishlist_item" => "wishlist_items",
        "product_view" => "product_views",
        other => panic!("unknown table {other}"),
    }
}

impl World {
    fn table(&self, name: &str) -> &[Row] {
        match name {
            "customers" => &self.customers,
            "products" => &self.products,
            "addresses" => &self.addresses,
            "orders" => &self.orders,
            "order_items" => &self.order_items,
            "order_addresses" => &self.order_addresses,
            "carts" => &self.carts,
            "cart_items" => &self.cart_items,
            "wishlist_items" => &self.wishlist_items,
            "product_views" => &self.product_views,
            other => panic!("unknown table {other}"),
        }
    }

    /// Writes every table as CSV into `dir`.
    pub fn write_csv(&self, dir: &Path) {
        for table in TABLES {
            let columns = columns(table);
            let mut text = columns.iter().map(|c| c.0).collect::<Vec<_>>().join(",");
            text.push('\n');
            for row in self.table(table) {
                let cells: Vec<String> = columns
                    .iter()
                    .map(|(name, _)| csv_cell(&row.get(name)))
                    .collect();
                text.push_str(&cells.join(","));
                text.push('\n');
            }
            std::fs::write(dir.join(format!("{table}.csv")), text).expect("write csv");
        }
    }
}

fn csv_cell(value: &V) -> String {
    match value {
        V::Null => String::new(),
        V::Int(v) => v.to_string(),
        V::Dec(units) => format!(
            "{}{}.{:04}",
            if *units < 0 { "-" } else { "" },
            units.abs() / 10_000,
            units.abs() % 10_000
        ),
        V::Bool(b) => b.to_string(),
        V::Date(days) => date(*days).format("%Y-%m-%d").to_string(),
        V::Ts(micros) => DateTime::from_timestamp_micros(*micros)
            .expect("in range")
            .format("%Y-%m-%dT%H:%M:%S%.6fZ")
            .to_string(),
        V::Str(text) => {
            let mut quoted = String::from("\"");
            for c in text.chars() {
                if c == '"' {
                    quoted.push('"');
                }
                quoted.push(c);
            }
            quoted.push('"');
            quoted
        }
        V::List(ids) => ids
            .iter()
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join("|"),
    }
}

pub fn date(days: i32) -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch") + chrono::Duration::days(days as i64)
}

fn day_of(micros: i64) -> i64 {
    micros.div_euclid(MICROS_PER_DAY)
}

/// A subject: a customer or a visitor, by id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Subject {
    Customer(i64),
    Visitor(i64),
}

/// Evaluates segments over a world at one instant.
pub struct Oracle<'a> {
    pub world: &'a World,
    pub as_of: i64,
    /// Segments `in_segment` may name.
    pub segments: &'a BTreeMap<String, Json>,
}

/// The records a `where` sees: the record's own row, its order, its product.
struct Record<'a> {
    table: &'static str,
    row: &'a Row,
    order: Option<&'a Row>,
    product: Option<&'a Row>,
}

impl Oracle<'_> {
    /// The members, as the engine prints them: `c:<id>` ascending, then `v:<id>` ascending.
    pub fn members(&self, segment: &Json) -> Vec<String> {
        let mut members: Vec<Subject> = self.member_set(segment).into_iter().collect();
        members.sort();
        members
            .into_iter()
            .map(|s| match s {
                Subject::Customer(id) => format!("c:{id}"),
                Subject::Visitor(id) => format!("v:{id}"),
            })
            .collect()
    }

    fn member_set(&self, segment: &Json) -> BTreeSet<Subject> {
        if segment.get("active") == Some(&Json::Bool(false)) {
            return BTreeSet::new();
        }
        let websites: Vec<i64> = segment["websites"]
            .as_array()
            .expect("websites")
            .iter()
            .map(|w| w.as_i64().unwrap())
            .collect();
        let apply_to = segment
            .get("apply_to")
            .and_then(Json::as_str)
            .unwrap_or("both");
        let default = serde_json::json!({"all": []});
        let conditions = segment.get("conditions").unwrap_or(&default);
        let mut subjects = BTreeSet::new();
        if apply_to != "visitors" {
            for customer in &self.world.customers {
                if websites.contains(&customer.id("website_id").unwrap()) {
                    subjects.insert(Subject::Customer(customer.id("customer_id").unwrap()));
                }
            }
        }
        if apply_to != "registered" {
            for cart in &self.world.carts {
                if let Some(visitor) = cart.id("visitor_id")
                    && active(cart)
                    && websites.contains(&cart.id("website_id").unwrap())
                {
                    subjects.insert(Subject::Visitor(visitor));
                }
            }
            for view in &self.world.product_views {
                if let Some(visitor) = view.id("visitor_id")
                    && websites.contains(&view.id("website_id").unwrap())
                {
                    subjects.insert(Subject::Visitor(visitor));
                }
            }
        }
        subjects
            .into_iter()
            .filter(|s| self.condition(conditions, *s, &websites))
            .collect()
    }

    fn condition(&self, c: &Json, subject: Subject, websites: &[i64]) -> bool {
        let object = c.as_object().expect("a condition is an object");
        if let Some(result) = combination(object, &|child| self.condition(child, subject, websites))
        {
            return result;
        }
        if let Some(id) = object.get("in_segment") {
            let id = match id {
                Json::String(s) => s.clone(),
                other => other.to_string(),
            };
            let other = &self.segments[&id];
            return self.member_set(other).contains(&subject);
        }
        if let Some(field) = object.get("field") {
            let field = field.as_str().unwrap();
            let (table, _) = field.split_once('.').unwrap();
            return match (table, subject) {
                ("customer", Subject::Customer(id)) => {
                    let customer = self
                        .world
                        .customers
                        .iter()
                        .find(|c| c.id("customer_id") == Some(id))
                        .unwrap();
                    compare(
                        &self.customer_value(customer, field),
                        field_type(field),
                        c,
                        self.as_of,
                    )
                }
                ("customer", Subject::Visitor(_)) => false,
                ("cart", _) => self.carts_of(subject, websites).into_iter().any(|cart| {
                    compare(
                        &cart_value(cart, field.split_once('.').unwrap().1),
                        field_type(field),
                        c,
                        self.as_of,
                    )
                }),
                other => panic!("top-level field of {other:?}"),
            };
        }
        if let Some(relation) = object.get("has") {
            let relation = relation.as_str().unwrap();
            let filter = object.get("where");
            return self
                .records(relation, subject, websites)
                .iter()
                .any(|record| filter.is_none_or(|f| self.record_condition(f, record)));
        }
        if let Some(function) = object.get("aggregate") {
            return self.aggregate(function.as_str().unwrap(), object, subject, websites);
        }
        panic!("unknown condition {c}")
    }

    fn customer_value(&self, customer: &Row, field: &str) -> V {
        let as_of_day = day_of(self.as_of);
        let column = field.split_once('.').unwrap().1;
        match column {
            "days_since_created" | "days_since_last_login" => {
                let base = if column == "days_since_created" {
                    "created_at"
                } else {
                    "last_login_at"
                };
                match customer.get(base) {
                    V::Ts(t) => V::Int(as_of_day - day_of(t)),
                    _ => V::Null,
                }
            }
            "days_until_birthday" | "age" => match customer.get("dob") {
                V::Date(dob) => {
                    let dob = date(dob);
                    let today = date(as_of_day as i32);
                    // 29 February falls on 28 February in other years.
                    let birthday = |year: i32| {
                        NaiveDate::from_ymd_opt(year, dob.month(), dob.day())
                            .unwrap_or_else(|| NaiveDate::from_ymd_opt(year, 2, 28).unwrap())
                    };
                    if column == "age" {
                        let mut years = (today.year() - dob.year()) as i64;
                        if today < birthday(today.year()) {
                            years -= 1;
                        }
                        V::Int(years)
                    } else {
                        let mut next = birthday(today.year());
                        if next < today {
                            next = birthday(today.year() + 1);
                        }
                        V::Int((next - today).num_days())
                    }
                }
                _ => V::Null,
            },
            _ => customer.get(column),
        }
    }

    /// The subject's active carts on the scope's websites.
    fn carts_of(&self, subject: Subject, websites: &[i64]) -> Vec<&Row> {
        self.world
            .carts
            .iter()
            .filter(|cart| {
                owned_by(cart, subject)
                    && active(cart)
                    && websites.contains(&cart.id("website_id").unwrap())
            })
            .collect()
    }

    fn product(&self, row: &Row) -> Option<&Row> {
        let id = row.id("product_id")?;
        self.world
            .products
            .iter()
            .find(|p| p.id("product_id") == Some(id))
    }

    /// The subject's records of a relation that count for the scope.
    fn records(&self, relation: &str, subject: Subject, websites: &[i64]) -> Vec<Record<'_>> {
        let world = self.world;
        let visitor = matches!(subject, Subject::Visitor(_));
        if visitor && !matches!(relation, "cart_item" | "product_view") {
            return Vec::new();
        }
        let orders = || {
            world.orders.iter().filter(move |o| {
                owned_by(o, subject) && websites.contains(&o.id("website_id").unwrap())
            })
        };
        let record = |table, row, order, product| Record {
            table,
            row,
            order,
            product,
        };
        match relation {
            "address" => world
                .addresses
                .iter()
                .filter(|a| owned_by(a, subject))
                .map(|a| record("address", a, None, None))
                .collect(),
            "order" => orders().map(|o| record("order", o, None, None)).collect(),
            // Each row of the subject's orders, found by its order's id in one pass.
            "order_item" | "order_address" => {
                let by_id: HashMap<i64, &Row> = orders()
                    .filter_map(|o| Some((o.id("order_id")?, o)))
                    .collect();
                let (table, rows) = match relation {
                    "order_item" => ("order_item", &world.order_items),
                    _ => ("order_address", &world.order_addresses),
                };
                rows.iter()
                    .filter_map(|row| Some((by_id.get(&row.id("order_id")?)?, row)))
                    .map(|(&o, row)| {
                        let product = (table == "order_item").then(|| self.product(row)).flatten();
                        record(table, row, Some(o), product)
                    })
                    .collect()
            }
            "cart_item" => self
                .carts_of(subject, websites)
                .into_iter()
                .flat_map(|cart| {
                    world
                        .cart_items
                        .iter()
                        .filter(move |i| i.id("cart_id") == cart.id("cart_id"))
                })
                .map(|i| record("cart_item", i, None, self.product(i)))
                .collect(),
            "wishlist_item" => world
                .wishlist_items
                .iter()
                .filter(|w| owned_by(w, subject))
                .map(|w| record("wishlist_item", w, None, self.product(w)))
                .collect(),
            "product_view" => world
                .product_views
                .iter()
                .filter(|v| owned_by(v, subject) && websites.contains(&v.id("website_id").unwrap()))
                .map(|v| record("product_view", v, None, self.product(v)))
                .collect(),
            other => panic!("unknown relation {other}"),
        }
    }

    fn record_condition(&self, c: &Json, record: &Record<'_>) -> bool {
        let object = c.as_object().unwrap();
        if let Some(result) = combination(object, &|child| self.record_condition(child, record)) {
            return result;
        }
        let field = object["field"].as_str().unwrap();
        compare(
            &record_value(record, field),
            field_type(field),
            c,
            self.as_of,
        )
    }

    fn aggregate(
        &self,
        function: &str,
        object: &serde_json::Map<String, Json>,
        subject: Subject,
        websites: &[i64],
    ) -> bool {
        let of = object["of"].as_str().unwrap();
        let relation = of.split_once('.').map_or(of, |(t, _)| t);
        let filter = object.get("where");
        let records: Vec<Record<'_>> = self
            .records(relation, subject, websites)
            .into_iter()
            .filter(|r| filter.is_none_or(|f| self.record_condition(f, r)))
            .collect();
        // Visitors have no such relation: every comparison is false for them.
        if matches!(subject, Subject::Visitor(_))
            && !matches!(relation, "cart_item" | "product_view")
        {
            return false;
        }
        let op = object["op"].as_str().unwrap();
        let value = &object["value"];
        if function == "count" {
            return compare_number(records.len() as i128, 1, op, value, "int", self.as_of);
        }
        let ty = field_type(of);
        let values: Vec<i64> = records
            .iter()
            .filter_map(|r| match record_value(r, of) {
                V::Int(v) | V::Dec(v) => Some(v),
                V::Date(d) => Some(d as i64),
                V::Ts(t) => Some(t),
                _ => None,
            })
            .collect();
        match function {
            "sum" => compare_number(
                values.iter().map(|&v| v as i128).sum(),
                1,
                op,
                value,
                ty,
                self.as_of,
            ),
            "avg" => {
                if values.is_empty() {
                    return compare_number(0, 1, op, value, "decimal", self.as_of);
                }
                // The average in decimal units, as the fraction sum / n.
                let scale = if ty == "int" { 10_000 } else { 1 };
                let sum: i128 = values.iter().map(|&v| v as i128 * scale).sum();
                compare_number(sum, values.len() as i128, op, value, "decimal", self.as_of)
            }
            "min" | "max" => {
                let extreme = if function == "min" {
                    values.iter().min()
                } else {
                    values.iter().max()
                };
                match extreme {
                    None => false,
                    Some(&v) => {
                        let typed = match ty {
                            "date" => V::Date(v as i32),
                            "timestamp" => V::Ts(v),
                            "decimal" => V::Dec(v),
                            _ => V::Int(v),
                        };
                        compare(
                            &typed,
                            ty,
                            &serde_json::json!({"op": op, "value": value}),
                            self.as_of,
                        )
                    }
                }
            }
            other => panic!("unknown aggregate {other}"),
        }
    }
}

/// The truth of `all`, `any`, `none`, `not_all` and `not` from their children's;
/// `None` for the other forms. An empty combination is true.
fn combination(
    object: &serde_json::Map<String, Json>,
    eval: &dyn Fn(&Json) -> bool,
) -> Option<bool> {
    let children =
        |key: &str| -> Vec<bool> { object[key].as_array().unwrap().iter().map(eval).collect() };
    if object.contains_key("all") {
        return Some(children("all").into_iter().all(|b| b));
    }
    if object.contains_key("any") {
        let results = children("any");
        return Some(results.is_empty() || results.into_iter().any(|b| b));
    }
    if object.contains_key("none") {
        return Some(children("none").into_iter().all(|b| !b));
    }
    if object.contains_key("not_all") {
        let results = children("not_all");
        return Some(results.is_empty() || results.into_iter().any(|b| !b));
    }
    object.get("not").map(|child| !eval(child))
}

fn owned_by(row: &Row, subject: Subject) -> bool {
    match subject {
        Subject::Customer(id) => row.id("customer_id") == Some(id),
        Subject::Visitor(id) => row.id("visitor_id") == Some(id),
    }
}

/// A cart's column; `is_active` defaults to true (data-model.md).
fn cart_value(cart: &Row, column: &str) -> V {
    match (column, cart.get(column)) {
        ("is_active", V::Null) => V::Bool(true),
        (_, value) => value,
    }
}

fn active(cart: &Row) -> bool {
    cart.get("is_active") != V::Bool(false)
}

fn record_value(record: &Record<'_>, field: &str) -> V {
    let (table, column) = field.split_once('.').unwrap();
    if table == record.table {
        record.row.get(column)
    } else if table == "order" {
        record.order.expect("an order").get(column)
    } else if table == "product" {
        record.product.map_or(V::Null, |p| p.get(column))
    } else {
        panic!("{field} is not visible from {}", record.table)
    }
}

/// A JSON number as units of 1/10000 (exact, from its decimal text).
fn decimal_units(value: &Json) -> i128 {
    let text = value.to_string();
    let (negative, text) = text
        .strip_prefix('-')
        .map_or((false, text.as_str()), |t| (true, t));
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let mut units: i128 = whole.parse::<i128>().unwrap() * 10_000;
    let mut digits = fraction.to_string();
    while digits.len() < 4 {
        digits.push('0');
    }
    units += digits[..4].parse::<i128>().unwrap();
    if negative { -units } else { units }
}

/// A JSON value in the field's domain: ints, decimal units, bools 0/1, days, µs.
fn scalar(value: &Json, ty: &str) -> i128 {
    match ty {
        "int" => value.as_i64().unwrap() as i128,
        "decimal" => decimal_units(value),
        "bool" => value.as_bool().unwrap() as i128,
        "date" => (parse_date(value.as_str().unwrap())) as i128,
        "timestamp" => parse_ts(value.as_str().unwrap()) as i128,
        other => panic!("no scalar of {other}"),
    }
}

fn parse_date(text: &str) -> i64 {
    (NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap() - date(0)).num_days()
}

fn parse_ts(text: &str) -> i64 {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .timestamp_micros()
}

/// Compares a numeric aggregate `numerator / denominator` (denominator > 0).
fn compare_number(
    numerator: i128,
    denominator: i128,
    op: &str,
    value: &Json,
    ty: &str,
    as_of: i64,
) -> bool {
    let cmp = |v: &Json| {
        let x = scalar(v, ty);
        (numerator).cmp(&(x * denominator))
    };
    use std::cmp::Ordering::*;
    match op {
        "eq" => cmp(value) == Equal,
        "ne" => cmp(value) != Equal,
        "gt" => cmp(value) == Greater,
        "gte" => cmp(value) != Less,
        "lt" => cmp(value) == Less,
        "lte" => cmp(value) != Greater,
        "between" => cmp(&value[0]) != Less && cmp(&value[1]) != Greater,
        "in" => value.as_array().unwrap().iter().any(|v| cmp(v) == Equal),
        "not_in" => !value.as_array().unwrap().iter().any(|v| cmp(v) == Equal),
        other => {
            let _ = as_of;
            panic!("{other} on a number")
        }
    }
}

/// Whether `field_value` (of type `ty`) passes the comparison `c` (`op`, `value`).
pub fn compare(field_value: &V, ty: &str, c: &Json, as_of: i64) -> bool {
    let op = c["op"].as_str().unwrap();
    let value = &c["value"];
    let is_null = match field_value {
        V::Null => true,
        V::List(ids) => ids.is_empty(),
        _ => false,
    };
    match op {
        "is_null" => return is_null,
        "is_not_null" => return !is_null,
        _ => {}
    }
    if is_null {
        return false;
    }
    match field_value {
        V::Str(text) => {
            let text = text.to_lowercase();
            let needle = || value.as_str().unwrap().to_lowercase();
            let list = || {
                value
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_str().unwrap().to_lowercase())
                    .collect::<Vec<_>>()
            };
            match op {
                "eq" => text == needle(),
                "ne" => text != needle(),
                "in" => list().contains(&text),
                "not_in" => !list().contains(&text),
                "contains" => text.contains(&needle()),
                "not_contains" => !text.contains(&needle()),
                "starts_with" => text.starts_with(&needle()),
                "ends_with" => text.ends_with(&needle()),
                other => panic!("{other} on a string"),
            }
        }
        V::List(ids) => {
            let wanted: Vec<i64> = value
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_i64().unwrap())
                .collect();
            match op {
                "has_any" => wanted.iter().any(|w| ids.contains(w)),
                "has_all" => wanted.iter().all(|w| ids.contains(w)),
                "has_none" => !wanted.iter().any(|w| ids.contains(w)),
                "eq" => {
                    let a: BTreeSet<_> = ids.iter().collect();
                    let b: BTreeSet<_> = wanted.iter().collect();
                    a == b
                }
                other => panic!("{other} on a list"),
            }
        }
        V::Ts(t) => compare_timestamp(*t, op, value, as_of),
        V::Date(d) => match op {
            "in_last_days" => *d as i64 >= day_of(as_of) - value.as_i64().unwrap(),
            "not_in_last_days" => (*d as i64) < day_of(as_of) - value.as_i64().unwrap(),
            _ => compare_number(*d as i128, 1, op, value, "date", as_of),
        },
        V::Int(v) => compare_number(*v as i128, 1, op, value, ty, as_of),
        V::Dec(v) => compare_number(*v as i128, 1, op, value, "decimal", as_of),
        V::Bool(b) => compare_number(*b as i128, 1, op, value, "bool", as_of),
        V::Null => unreachable!(),
    }
}

/// A timestamp against a date value compares whole UTC days; against a timestamp, exactly.
fn compare_timestamp(t: i64, op: &str, value: &Json, as_of: i64) -> bool {
    let side = |v: &Json| -> (i64, i64) {
        // (the value's day or instant, the field's day or instant)
        let text = v.as_str().unwrap();
        if text.len() == 10 {
            (parse_date(text), day_of(t))
        } else {
            (parse_ts(text), t)
        }
    };
    match op {
        "in_last_days" => t >= (day_of(as_of) - value.as_i64().unwrap()) * MICROS_PER_DAY,
        "not_in_last_days" => t < (day_of(as_of) - value.as_i64().unwrap()) * MICROS_PER_DAY,
        "between" => {
            let (low, field_low) = side(&value[0]);
            let (high, field_high) = side(&value[1]);
            field_low >= low && field_high <= high
        }
        _ => {
            let (x, field) = side(value);
            match op {
                "eq" => field == x,
                "ne" => field != x,
                "gt" => field > x,
                "gte" => field >= x,
                "lt" => field < x,
                "lte" => field <= x,
                other => panic!("{other} on a timestamp"),
            }
        }
    }
}

/// A short description of a world, for failure messages.
pub fn describe(world: &World) -> String {
    let mut text = String::new();
    for table in TABLES {
        let _ = writeln!(text, "{table}:");
        for row in world.table(table) {
            let _ = writeln!(text, "  {:?}", row.0);
        }
    }
    text
}
