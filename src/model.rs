//! The data model of `shared/spec/data-model.md`: tables, their known columns and types.
//!
//! Everything that reads, writes or names a column goes through these specs, so the loader,
//! the generator and (later) the segment validator agree on one list.

use std::fmt;

/// The type of a column, as the data model names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FieldType {
    Id,
    Int,
    /// Exact money: kept as `i64` units of 1/10000.
    Decimal,
    Bool,
    /// Days since 1970-01-01.
    Date,
    /// Microseconds since 1970-01-01T00:00:00Z.
    Timestamp,
    String,
    IdList,
}

impl FieldType {
    pub fn name(self) -> &'static str {
        match self {
            FieldType::Id => "id",
            FieldType::Int => "int",
            FieldType::Decimal => "decimal",
            FieldType::Bool => "bool",
            FieldType::Date => "date",
            FieldType::Timestamp => "timestamp",
            FieldType::String => "string",
            FieldType::IdList => "list<id>",
        }
    }
}

impl fmt::Display for FieldType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The tables of a dataset directory, in the order they are loaded (parents before children).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TableName {
    Customers,
    Products,
    Addresses,
    Orders,
    OrderItems,
    OrderAddresses,
    Carts,
    CartItems,
    WishlistItems,
    ProductViews,
}

impl TableName {
    pub const ALL: [TableName; 10] = [
        TableName::Customers,
        TableName::Products,
        TableName::Addresses,
        TableName::Orders,
        TableName::OrderItems,
        TableName::OrderAddresses,
        TableName::Carts,
        TableName::CartItems,
        TableName::WishlistItems,
        TableName::ProductViews,
    ];

    /// The file stem: `customers` for `customers.parquet` / `customers.csv`.
    pub fn file_stem(self) -> &'static str {
        match self {
            TableName::Customers => "customers",
            TableName::Products => "products",
            TableName::Addresses => "addresses",
            TableName::Orders => "orders",
            TableName::OrderItems => "order_items",
            TableName::OrderAddresses => "order_addresses",
            TableName::Carts => "carts",
            TableName::CartItems => "cart_items",
            TableName::WishlistItems => "wishlist_items",
            TableName::ProductViews => "product_views",
        }
    }

    pub fn spec(self) -> &'static TableSpec {
        match self {
            TableName::Customers => &CUSTOMERS,
            TableName::Products => &PRODUCTS,
            TableName::Addresses => &ADDRESSES,
            TableName::Orders => &ORDERS,
            TableName::OrderItems => &ORDER_ITEMS,
            TableName::OrderAddresses => &ORDER_ADDRESSES,
            TableName::Carts => &CARTS,
            TableName::CartItems => &CART_ITEMS,
            TableName::WishlistItems => &WISHLIST_ITEMS,
            TableName::ProductViews => &PRODUCT_VIEWS,
        }
    }
}

impl fmt::Display for TableName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.file_stem())
    }
}

/// One known column of a table.
#[derive(Debug)]
pub struct ColumnSpec {
    pub name: &'static str,
    pub ty: FieldType,
    /// Required columns must be present in the file and never null.
    pub required: bool,
}

/// A column that must name an existing row of another table.
#[derive(Debug)]
pub struct Reference {
    pub column: &'static str,
    pub parent: TableName,
}

#[derive(Debug)]
pub struct TableSpec {
    pub table: TableName,
    pub columns: &'static [ColumnSpec],
    /// The column whose values are unique in the table.
    pub primary_key: Option<&'static str>,
    /// Columns that must name an existing parent row (null is allowed where the column is
    /// not required: a guest order has no customer).
    pub references: &'static [Reference],
    /// `customer_id` / `visitor_id`: exactly one of the two is set on each row.
    pub customer_or_visitor: bool,
}

impl TableSpec {
    pub fn column(&self, name: &str) -> Option<&'static ColumnSpec> {
        self.columns.iter().find(|c| c.name == name)
    }
}

const fn req(name: &'static str, ty: FieldType) -> ColumnSpec {
    ColumnSpec {
        name,
        ty,
        required: true,
    }
}

const fn opt(name: &'static str, ty: FieldType) -> ColumnSpec {
    ColumnSpec {
        name,
        ty,
        required: false,
    }
}

const fn refers(column: &'static str, parent: TableName) -> Reference {
    Reference { column, parent }
}

use FieldType::*;

pub static CUSTOMERS: TableSpec = TableSpec {
    table: TableName::Customers,
    columns: &[
        req("customer_id", Id),
        req("website_id", Int),
        opt("group_id", Int),
        opt("email", String),
        opt("firstname", String),
        opt("lastname", String),
        opt("gender", String),
        opt("dob", Date),
        opt("created_at", Timestamp),
        opt("last_login_at", Timestamp),
        opt("newsletter_subscribed", Bool),
        opt("store_credit", Decimal),
    ],
    primary_key: Some("customer_id"),
    references: &[],
    customer_or_visitor: false,
};

pub static ADDRESSES: TableSpec = TableSpec {
    table: TableName::Addresses,
    columns: &[
        req("address_id", Id),
        req("customer_id", Id),
        opt("is_default_billing", Bool),
        opt("is_default_shipping", Bool),
        opt("firstname", String),
        opt("lastname", String),
        opt("company", String),
        opt("street", String),
        opt("city", String),
        opt("region", String),
        opt("postcode", String),
        opt("telephone", String),
        opt("country_id", String),
    ],
    primary_key: Some("address_id"),
    references: &[refers("customer_id", TableName::Customers)],
    customer_or_visitor: false,
};

pub static PRODUCTS: TableSpec = TableSpec {
    table: TableName::Products,
    columns: &[
        req("product_id", Id),
        opt("sku", String),
        opt("name", String),
        opt("attribute_set", String),
        opt("price", Decimal),
        opt("category_ids", IdList),
    ],
    primary_key: Some("product_id"),
    references: &[],
    customer_or_visitor: false,
};

pub static ORDERS: TableSpec = TableSpec {
    table: TableName::Orders,
    columns: &[
        req("order_id", Id),
        opt("customer_id", Id),
        req("website_id", Int),
        req("created_at", Timestamp),
        req("status", String),
        opt("grand_total", Decimal),
        opt("subtotal", Decimal),
        opt("tax_amount", Decimal),
        opt("shipping_amount", Decimal),
        opt("discount_amount", Decimal),
        opt("total_qty_ordered", Decimal),
    ],
    primary_key: Some("order_id"),
    references: &[refers("customer_id", TableName::Customers)],
    customer_or_visitor: false,
};

pub static ORDER_ITEMS: TableSpec = TableSpec {
    table: TableName::OrderItems,
    columns: &[
        req("order_id", Id),
        req("product_id", Id),
        opt("qty_ordered", Decimal),
        opt("price", Decimal),
        opt("row_total", Decimal),
    ],
    primary_key: None,
    references: &[
        refers("order_id", TableName::Orders),
        refers("product_id", TableName::Products),
    ],
    customer_or_visitor: false,
};

pub static ORDER_ADDRESSES: TableSpec = TableSpec {
    table: TableName::OrderAddresses,
    columns: &[
        req("order_id", Id),
        req("address_type", String),
        opt("firstname", String),
        opt("lastname", String),
        opt("company", String),
        opt("street", String),
        opt("city", String),
        opt("region", String),
        opt("postcode", String),
        opt("telephone", String),
        opt("country_id", String),
    ],
    primary_key: None,
    references: &[refers("order_id", TableName::Orders)],
    customer_or_visitor: false,
};

pub static CARTS: TableSpec = TableSpec {
    table: TableName::Carts,
    columns: &[
        req("cart_id", Id),
        opt("customer_id", Id),
        opt("visitor_id", Id),
        req("website_id", Int),
        opt("is_active", Bool),
        opt("created_at", Timestamp),
        opt("updated_at", Timestamp),
        opt("items_count", Int),
        opt("items_qty", Decimal),
        opt("subtotal", Decimal),
        opt("grand_total", Decimal),
        opt("tax_amount", Decimal),
        opt("shipping_amount", Decimal),
        opt("store_credit_used", Decimal),
        opt("gift_card_used", Decimal),
    ],
    primary_key: Some("cart_id"),
    references: &[refers("customer_id", TableName::Customers)],
    customer_or_visitor: true,
};

pub static CART_ITEMS: TableSpec = TableSpec {
    table: TableName::CartItems,
    columns: &[
        req("cart_id", Id),
        req("product_id", Id),
        opt("qty", Decimal),
        opt("price", Decimal),
        opt("added_at", Timestamp),
    ],
    primary_key: None,
    references: &[
        refers("cart_id", TableName::Carts),
        refers("product_id", TableName::Products),
    ],
    customer_or_visitor: false,
};

pub static WISHLIST_ITEMS: TableSpec = TableSpec {
    table: TableName::WishlistItems,
    columns: &[
        req("customer_id", Id),
        req("product_id", Id),
        opt("added_at", Timestamp),
    ],
    primary_key: None,
    references: &[
        refers("customer_id", TableName::Customers),
        refers("product_id", TableName::Products),
    ],
    customer_or_visitor: false,
};

pub static PRODUCT_VIEWS: TableSpec = TableSpec {
    table: TableName::ProductViews,
    columns: &[
        opt("customer_id", Id),
        opt("visitor_id", Id),
        req("product_id", Id),
        req("website_id", Int),
        req("viewed_at", Timestamp),
    ],
    primary_key: None,
    references: &[
        refers("customer_id", TableName::Customers),
        refers("product_id", TableName::Products),
    ],
    customer_or_visitor: true,
};

/// A subject as clients name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SubjectId {
    Customer(i64),
    Visitor(i64),
}

/// A stored segment's id, ordered as listed: numeric ids by value, then named ones.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SegmentKey {
    Number(u64),
    Name(std::string::String),
}

impl SegmentKey {
    pub fn of(id: &str) -> SegmentKey {
        match id.parse::<u64>() {
            Ok(n) if n.to_string() == id => SegmentKey::Number(n),
            _ => SegmentKey::Name(id.to_string()),
        }
    }

    /// The id as JSON: a number for numeric ids, else a string.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            SegmentKey::Number(n) => serde_json::Value::from(*n),
            SegmentKey::Name(name) => serde_json::Value::from(name.as_str()),
        }
    }
}

impl fmt::Display for SegmentKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SegmentKey::Number(n) => write!(f, "{n}"),
            SegmentKey::Name(name) => f.write_str(name),
        }
    }
}

/// A subject entering or leaving a segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MembershipChange {
    pub segment: SegmentKey,
    pub subject: SubjectId,
    pub entered: bool,
}
