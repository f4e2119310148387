//! What a condition may name: the fields of each table (data model columns, custom
//! attributes and derived customer fields), their types, and which tables each relation
//! of `has` / `aggregate` can see.

use std::fmt;

use crate::model::{FieldType, TableName};
use crate::store::{Dataset, Table};

/// A table as conditions name it: `customer.email`, `order.status`, `product.color`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FieldTable {
    Customer,
    Cart,
    Address,
    Order,
    OrderAddress,
    OrderItem,
    CartItem,
    WishlistItem,
    ProductView,
    Product,
}

impl FieldTable {
    pub const ALL: [FieldTable; 10] = [
        FieldTable::Customer,
        FieldTable::Cart,
        FieldTable::Address,
        FieldTable::Order,
        FieldTable::OrderAddress,
        FieldTable::OrderItem,
        FieldTable::CartItem,
        FieldTable::WishlistItem,
        FieldTable::ProductView,
        FieldTable::Product,
    ];

    pub fn name(self) -> &'static str {
        match self {
            FieldTable::Customer => "customer",
            FieldTable::Cart => "cart",
            FieldTable::Address => "address",
            FieldTable::Order => "order",
            FieldTable::OrderAddress => "order_address",
            FieldTable::OrderItem => "order_item",
            FieldTable::CartItem => "cart_item",
            FieldTable::WishlistItem => "wishlist_item",
            FieldTable::ProductView => "product_view",
            FieldTable::Product => "product",
        }
    }

    pub fn from_name(name: &str) -> Option<FieldTable> {
        FieldTable::ALL.into_iter().find(|t| t.name() == name)
    }

    /// The dataset table holding this table's columns.
    pub fn table_name(self) -> TableName {
        match self {
            FieldTable::Customer => TableName::Customers,
            FieldTable::Cart => TableName::Carts,
            FieldTable::Address => TableName::Addresses,
            FieldTable::Order => TableName::Orders,
            FieldTable::OrderAddress => TableName::OrderAddresses,
            FieldTable::OrderItem => TableName::OrderItems,
            FieldTable::CartItem => TableName::CartItems,
            FieldTable::WishlistItem => TableName::WishlistItems,
            FieldTable::ProductView => TableName::ProductViews,
            FieldTable::Product => TableName::Products,
        }
    }
}

impl fmt::Display for FieldTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A relation of `has` / `aggregate`: the related records of a subject.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RelationKind {
    Address,
    Order,
    OrderAddress,
    OrderItem,
    CartItem,
    WishlistItem,
    ProductView,
}

impl RelationKind {
    pub const ALL: [RelationKind; 7] = [
        RelationKind::Address,
        RelationKind::Order,
        RelationKind::OrderAddress,
        RelationKind::OrderItem,
        RelationKind::CartItem,
        RelationKind::WishlistItem,
        RelationKind::ProductView,
    ];

    /// The table of the relation's own records.
    pub fn table(self) -> FieldTable {
        match self {
            RelationKind::Address => FieldTable::Address,
            RelationKind::Order => FieldTable::Order,
            RelationKind::OrderAddress => FieldTable::OrderAddress,
            RelationKind::OrderItem => FieldTable::OrderItem,
            RelationKind::CartItem => FieldTable::CartItem,
            RelationKind::WishlistItem => FieldTable::WishlistItem,
            RelationKind::ProductView => FieldTable::ProductView,
        }
    }

    pub fn name(self) -> &'static str {
        self.table().name()
    }

    pub fn from_name(name: &str) -> Option<RelationKind> {
        RelationKind::ALL.into_iter().find(|r| r.name() == name)
    }

    /// The tables a `where` over this relation may name: its own, then the record's order
    /// or product.
    pub fn visible_tables(self) -> &'static [FieldTable] {
        match self {
            RelationKind::Address => &[FieldTable::Address],
            RelationKind::Order => &[FieldTable::Order],
            RelationKind::OrderAddress => &[FieldTable::OrderAddress, FieldTable::Order],
            RelationKind::OrderItem => &[
                FieldTable::OrderItem,
                FieldTable::Order,
                FieldTable::Product,
            ],
            RelationKind::CartItem => &[FieldTable::CartItem, FieldTable::Product],
            RelationKind::WishlistItem => &[FieldTable::WishlistItem, FieldTable::Product],
            RelationKind::ProductView => &[FieldTable::ProductView, FieldTable::Product],
        }
    }

    /// Visitors have carts and product views only.
    pub fn visitors_have_it(self) -> bool {
        matches!(self, RelationKind::CartItem | RelationKind::ProductView)
    }
}

impl fmt::Display for RelationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Customer fields computed from a column against the evaluation time (UTC days).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DerivedField {
    DaysSinceCreated,
    DaysSinceLastLogin,
    DaysUntilBirthday,
    Age,
}

impl DerivedField {
    pub const ALL: [DerivedField; 4] = [
        DerivedField::DaysSinceCreated,
        DerivedField::DaysSinceLastLogin,
        DerivedField::DaysUntilBirthday,
        DerivedField::Age,
    ];

    pub fn name(self) -> &'static str {
        match self {
            DerivedField::DaysSinceCreated => "days_since_created",
            DerivedField::DaysSinceLastLogin => "days_since_last_login",
            DerivedField::DaysUntilBirthday => "days_until_birthday",
            DerivedField::Age => "age",
        }
    }

    /// The customers column it is computed from.
    pub fn base_column(self) -> &'static str {
        match self {
            DerivedField::DaysSinceCreated => "created_at",
            DerivedField::DaysSinceLastLogin => "last_login_at",
            DerivedField::DaysUntilBirthday | DerivedField::Age => "dob",
        }
    }
}

/// Where a field's values come from.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum FieldSource {
    /// A stored column of the table, by name.
    Column(String),
    Derived(DerivedField),
}

/// One field a condition may name.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Field {
    pub table: FieldTable,
    pub column: String,
    pub ty: FieldType,
    pub source: FieldSource,
    pub custom: bool,
}

impl Field {
    /// `table.column`, as conditions spell it.
    pub fn path(&self) -> String {
        format!("{}.{}", self.table, self.column)
    }
}

/// Every field of every table of one dataset.
#[derive(Clone, Debug, Default)]
pub struct Schema {
    fields: Vec<Field>,
}

impl Schema {
    pub fn of(dataset: &Dataset) -> Schema {
        let mut fields = Vec::new();
        for table in FieldTable::ALL {
            let stored = match table.table_name() {
                TableName::Customers => &dataset.customers,
                TableName::Products => &dataset.products,
                other => {
                    &dataset
                        .relation(other)
                        .expect("every child table is a relation")
                        .table
                }
            };
            fields.extend(columns_of(table, stored));
            if table == FieldTable::Customer {
                for derived in DerivedField::ALL {
                    fields.retain(|f: &Field| f.table != table || f.column != derived.name());
                    fields.push(Field {
                        table,
                        column: derived.name().to_string(),
                        ty: FieldType::Int,
                        source: FieldSource::Derived(derived),
                        custom: false,
                    });
                }
            }
        }
        Schema { fields }
    }

    pub fn field(&self, table: FieldTable, column: &str) -> Option<&Field> {
        self.fields
            .iter()
            .find(|f| f.table == table && f.column == column)
    }

    pub fn fields_of(&self, table: FieldTable) -> impl Iterator<Item = &Field> {
        self.fields.iter().filter(move |f| f.table == table)
    }

    pub fn fields(&self) -> &[Field] {
        &self.fields
    }
}

fn columns_of(table: FieldTable, stored: &Table) -> impl Iterator<Item = Field> + '_ {
    stored.columns.iter().map(move |column| Field {
        table,
        column: column.name.clone(),
        // Ids compare as integers.
        ty: match column.ty {
            FieldType::Id => FieldType::Int,
            other => other,
        },
        source: FieldSource::Column(column.name.clone()),
        custom: column.custom,
    })
}

/// The operators of a field type, as segment-language.md lists them.
pub fn operators_of(ty: FieldType) -> &'static [&'static str] {
    match ty {
        FieldType::Id | FieldType::Int | FieldType::Decimal => &[
            "eq",
            "ne",
            "gt",
            "gte",
            "lt",
            "lte",
            "between",
            "in",
            "not_in",
            "is_null",
            "is_not_null",
        ],
        FieldType::String => &[
            "eq",
            "ne",
            "in",
            "not_in",
            "contains",
            "not_contains",
            "starts_with",
            "ends_with",
            "is_null",
            "is_not_null",
        ],
        FieldType::Bool => &["eq", "ne", "is_null", "is_not_null"],
        FieldType::Date | FieldType::Timestamp => &[
            "eq",
            "ne",
            "gt",
            "gte",
            "lt",
            "lte",
            "between",
            "in_last_days",
            "not_in_last_days",
            "is_null",
            "is_not_null",
        ],
        FieldType::IdList => &[
            "has_any",
            "has_all",
            "has_none",
            "eq",
            "is_null",
            "is_not_null",
        ],
    }
}
