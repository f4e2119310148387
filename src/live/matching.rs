//! Per-subject matching: a segment's compiled plan decided for one subject from its own
//! rows, without a dataset or an index. An event touches a few subjects; this decides
//! their memberships (and an evaluation of the data now decides the touched subjects'
//! this way, beside the loaded data's engine for everyone else).
//!
//! The semantics are the bitmap engine's, leaf by leaf (`src/segment/engine.rs`): the
//! universe of a scope, the records that count for it (owned by a subject kind in scope,
//! on one of its websites, carts active, items through their cart or order), field tests
//! on the record, its parent and its product, and aggregates compared as the engine
//! compares them. The differential tests hold the two (and the reference evaluator) to
//! the same answers.

use std::sync::Arc;

use chrono::NaiveDate;

use crate::data::value::{DECIMAL_SCALE, date_from_days};
use crate::events::{Layouts, ProductRow, SubjectRows, Value};
use crate::model::{FieldType, TableName};
use crate::segment::definition::{AggregateFunction, ApplyTo};
use crate::segment::engine::{
    AggregateComparison, Group, age_on, days_since_as_instants, days_until_birthday,
    passes_aggregate,
};
use crate::segment::plan::{FieldTest, Plan, RecordPlan, SubjectLeaf, Tree};
use crate::segment::predicate::Test;
use crate::segment::schema::{DerivedField, FieldSource, FieldTable, RelationKind};
use crate::segment::space::Space;

/// The websites and subject kinds a segment is evaluated for.
#[derive(Clone, Copy, Debug)]
pub struct Scope<'a> {
    pub websites: &'a [i64],
    pub apply_to: ApplyTo,
}

/// One subject as the matching reads it: its rows and the products they name.
pub struct Subject<'a> {
    /// The dense id, which `in_segment` members are looked up by.
    pub id: u32,
    pub is_visitor: bool,
    pub rows: &'a SubjectRows,
    pub layouts: &'a Layouts,
    /// The product of an id now (`None`: no such product).
    pub product: &'a dyn Fn(i64) -> Option<Arc<ProductRow>>,
}

/// Decides plans for one subject on one evaluation day.
pub struct Matcher<'a> {
    pub subject: Subject<'a>,
    pub as_of_day: i32,
}

impl Matcher<'_> {
    /// Whether the subject is in the scope's universe: a customer on one of its websites,
    /// a visitor with an active cart or a view on one of them.
    pub fn in_universe(&self, scope: Scope<'_>) -> bool {
        if self.subject.is_visitor {
            scope.apply_to.visitors()
                && [Space::Cart, Space::Relation(RelationKind::ProductView)]
                    .into_iter()
                    .any(|space| self.any_record(space, scope, |_| true))
        } else {
            let website = self.subject.layouts.keys(TableName::Customers).website_id;
            scope.apply_to.customers()
                && self
                    .customer()
                    .zip(website)
                    .and_then(|(row, at)| row[at].number())
                    .is_some_and(|website| scope.websites.contains(&website))
        }
    }

    /// Whether the subject, in the scope's universe, passes `plan`.
    pub fn matches(&self, plan: &Plan, scope: Scope<'_>) -> bool {
        match plan {
            Tree::Everything => true,
            Tree::Nothing => false,
            Tree::And(children) => children.iter().all(|c| self.matches(c, scope)),
            Tree::Or(children) => children.iter().any(|c| self.matches(c, scope)),
            Tree::Not(child) => !self.matches(child, scope),
            Tree::Leaf(leaf) => self.leaf(leaf, scope),
        }
    }

    fn leaf(&self, leaf: &SubjectLeaf, scope: Scope<'_>) -> bool {
        match leaf {
            SubjectLeaf::Field(test) if test.field.table == FieldTable::Customer => {
                !self.subject.is_visitor && self.customer_field(test)
            }
            SubjectLeaf::Field(test) => {
                let filter = Tree::Leaf(test.clone());
                self.has(Space::Cart, &filter, scope)
            }
            SubjectLeaf::Has { relation, filter } => {
                self.has(Space::Relation(*relation), filter, scope)
            }
            SubjectLeaf::Aggregate {
                function,
                relation,
                of,
                filter,
                test,
                op,
                operand,
            } => {
                if self.subject.is_visitor && !relation.visitors_have_it() {
                    return false;
                }
                let space = Space::Relation(*relation);
                let mut group = Group::default();
                self.any_record(space, scope, |record| {
                    if self.record_passes(space, record, filter) {
                        group.count += 1;
                        let value = of.as_ref().and_then(|field| {
                            self.record_value(space, record, &field.table, &field.column)
                                .and_then(Value::number)
                        });
                        if let Some(value) = value {
                            group.add(*function, value);
                        }
                    }
                    false
                });
                let comparison = AggregateComparison {
                    test,
                    op: *op,
                    operand,
                };
                if group.count == 0 {
                    // As the engine: count, sum and avg are 0, min/max have no value.
                    return !matches!(function, AggregateFunction::Min | AggregateFunction::Max)
                        && test.number(Some(0));
                }
                let scale = match of.as_ref().map(|f| f.ty) {
                    Some(FieldType::Int) => DECIMAL_SCALE,
                    _ => 1,
                };
                passes_aggregate(*function, &group, scale, &comparison)
            }
            SubjectLeaf::Segment { members, .. } => members.contains(self.subject.id),
        }
    }

    fn customer(&self) -> Option<&[Value]> {
        self.subject
            .rows
            .rows(TableName::Customers)
            .first()
            .map(Vec::as_slice)
    }

    /// `row`'s value of `column` of `table`; `None` when the table has no such column.
    fn value<'r>(
        &self,
        table: TableName,
        row: Option<&'r [Value]>,
        column: &str,
    ) -> Option<&'r Value> {
        let position = self.subject.layouts.position(table, column)?;
        Some(&row?[position])
    }

    fn customer_field(&self, test: &FieldTest) -> bool {
        let customer = self.customer();
        match &test.field.source {
            FieldSource::Column(column) => {
                match self.value(TableName::Customers, customer, column) {
                    Some(value) => passes(test.field.ty, &test.test, value),
                    None => false,
                }
            }
            FieldSource::Derived(derived) => {
                let Some(base) = self.value(TableName::Customers, customer, derived.base_column())
                else {
                    return test.test == Test::IsNull;
                };
                match derived {
                    DerivedField::DaysSinceCreated | DerivedField::DaysSinceLastLogin => {
                        days_since_as_instants(&test.test, self.as_of_day).number(base.number())
                    }
                    DerivedField::DaysUntilBirthday | DerivedField::Age => {
                        let value = base.number().map(|day| {
                            let birth: NaiveDate = date_from_days(day as i32);
                            match derived {
                                DerivedField::Age => age_on(birth, date_from_days(self.as_of_day)),
                                _ => days_until_birthday(day as i32, self.as_of_day),
                            }
                        });
                        test.test.number(value)
                    }
                }
            }
        }
    }

    fn has(&self, space: Space, filter: &RecordPlan, scope: Scope<'_>) -> bool {
        self.any_record(space, scope, |record| {
            self.record_passes(space, record, filter)
        })
    }

    /// Calls `found` with the subject's rows of `space` that count for `scope`, until it
    /// returns true; whether one did.
    fn any_record(
        &self,
        space: Space,
        scope: Scope<'_>,
        mut found: impl FnMut(&[Value]) -> bool,
    ) -> bool {
        let table = space.table_name();
        let rows = self.subject.rows.rows(table);
        // Rows count for the subject kinds in scope (through their cart or order).
        let owner = space.parent().unwrap_or(space);
        let owned = if self.subject.is_visitor {
            scope.apply_to.visitors() && owner.visitors_have_it()
        } else {
            scope.apply_to.customers()
        };
        if !owned {
            return false;
        }
        match space.parent() {
            Some(parent) => {
                let key = match parent {
                    Space::Cart => self.subject.layouts.keys(table).cart_id,
                    _ => self.subject.layouts.keys(table).order_id,
                };
                let Some(key) = key else { return false };
                rows.iter().any(|row| {
                    let in_scope = row[key].number().is_some_and(|id| {
                        self.parent_row(parent.table_name(), id)
                            .is_some_and(|parent_row| self.counts(parent, parent_row, scope))
                    });
                    in_scope && found(row)
                })
            }
            None => rows
                .iter()
                .any(|row| self.counts(space, row, scope) && found(row)),
        }
    }

    /// Whether a row the subject owns directly counts for `scope`: on one of its
    /// websites (where the table has them) and, a cart, active.
    fn counts(&self, space: Space, row: &[Value], scope: Scope<'_>) -> bool {
        let keys = self.subject.layouts.keys(space.table_name());
        let on_website = keys.website_id.is_none_or(|at| {
            row[at]
                .number()
                .is_some_and(|w| scope.websites.contains(&w))
        });
        let active = space != Space::Cart
            || keys
                .is_active
                .is_none_or(|at| row[at] != Value::Bool(false));
        on_website && active
    }

    /// The subject's row of an order or a cart by its id.
    fn parent_row(&self, table: TableName, id: i64) -> Option<&[Value]> {
        let keys = self.subject.layouts.keys(table);
        let key = match table {
            TableName::Carts => keys.cart_id,
            _ => keys.order_id,
        }?;
        self.subject
            .rows
            .rows(table)
            .iter()
            .find(|row| row[key].number() == Some(id))
            .map(Vec::as_slice)
    }

    fn record_passes(&self, space: Space, record: &[Value], filter: &RecordPlan) -> bool {
        match filter {
            Tree::Everything => true,
            Tree::Nothing => false,
            Tree::And(children) => children
                .iter()
                .all(|c| self.record_passes(space, record, c)),
            Tree::Or(children) => children
                .iter()
                .any(|c| self.record_passes(space, record, c)),
            Tree::Not(child) => !self.record_passes(space, record, child),
            Tree::Leaf(test) => {
                let table = test.field.table;
                if table == FieldTable::Product || table.table_name() != space.table_name() {
                    self.related_field(space, record, test)
                } else {
                    match self.value(table.table_name(), Some(record), &test.field.column) {
                        Some(value) => passes(test.field.ty, &test.test, value),
                        None => false,
                    }
                }
            }
        }
    }

    /// A test of a record's product or parent; `false` when it has none, or the table no
    /// such column (as the engine, whose rows then pass no test).
    fn related_field(&self, space: Space, record: &[Value], test: &FieldTest) -> bool {
        let column = &test.field.column;
        if test.field.table == FieldTable::Product {
            let product = self
                .subject
                .layouts
                .keys(space.table_name())
                .product_id
                .and_then(|at| record[at].number())
                .and_then(|id| (self.subject.product)(id));
            return match product {
                Some(product) => match self.value(TableName::Products, Some(&product.0), column) {
                    Some(value) => passes(test.field.ty, &test.test, value),
                    None => false,
                },
                None => false,
            };
        }
        match self.parent_of(space, record) {
            Some(parent) => {
                let parent_table = test.field.table.table_name();
                match self.value(parent_table, Some(parent), column) {
                    Some(value) => passes(test.field.ty, &test.test, value),
                    None => false,
                }
            }
            None => false,
        }
    }

    fn record_value<'r>(
        &'r self,
        space: Space,
        record: &'r [Value],
        table: &FieldTable,
        column: &str,
    ) -> Option<&'r Value> {
        if table.table_name() == space.table_name() {
            return self.value(table.table_name(), Some(record), column);
        }
        let parent = self.parent_of(space, record)?;
        self.value(table.table_name(), Some(parent), column)
    }

    /// The order of an order item or address, the cart of a cart item.
    fn parent_of(&self, space: Space, record: &[Value]) -> Option<&[Value]> {
        let parent = space.parent()?.table_name();
        let keys = self.subject.layouts.keys(space.table_name());
        let key = match parent {
            TableName::Carts => keys.cart_id,
            _ => keys.order_id,
        }?;
        self.parent_row(parent, record[key].number()?)
    }
}

/// Whether a value of a field of type `ty` passes `test`.
fn passes(ty: FieldType, test: &Test, value: &Value) -> bool {
    match ty {
        FieldType::String => test.text(value.text()),
        FieldType::IdList => test.list(value.ids()),
        _ => test.number(value.number()),
    }
}

/// The members of `segment` over the loaded data, each subject decided alone from its
/// rows: what per-subject matching gives every subject, for holding it to the engine.
pub fn members_one_by_one(
    engine: &crate::segment::Engine,
    segment: &crate::segment::Segment,
    as_of: i64,
    source: &dyn crate::segment::SegmentSource,
) -> Result<roaring::RoaringBitmap, crate::segment::EvalError> {
    let plan = engine.plan(segment, as_of, source)?;
    let dataset = engine.dataset();
    let layouts = Layouts::of(dataset);
    let product = |id: i64| crate::events::product_row(dataset, &layouts, id).map(Arc::new);
    let scope = Scope {
        websites: &segment.websites,
        apply_to: segment.apply_to,
    };
    let as_of_day = crate::data::value::day_of_micros(as_of);
    let mut members = roaring::RoaringBitmap::new();
    for id in 0..dataset.subject_count() as u32 {
        let rows = crate::events::subject_rows(dataset, &layouts, id);
        let matcher = Matcher {
            subject: Subject {
                id,
                is_visitor: id as usize >= dataset.customer_count(),
                rows: &rows,
                layouts: &layouts,
                product: &product,
            },
            as_of_day,
        };
        if segment.active && matcher.in_universe(scope) && matcher.matches(&plan, scope) {
            members.insert(id);
        }
    }
    Ok(members)
}
