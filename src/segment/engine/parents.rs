//! Record tests on a record's parent (an order item's or order address's order, a cart
//! item's cart), answered over the parents before their rows are gathered.

use roaring::RoaringBitmap;

use super::{Context, Engine, ProductTests};
use crate::segment::bitmaps::Bitset;
use crate::segment::column_scan;
use crate::segment::index::ColumnIndex;
use crate::segment::plan::{FieldTest, RecordPlan, Tree};
use crate::segment::rows::ColumnReader;
use crate::segment::space::Space;
use crate::store::NONE;

impl Engine {
    /// For a child space whose filter tests fields of the parent (`order.created_at` of
    /// order items), when few subjects are in question: their parent rows in scope, those
    /// passing the parent's tests (through the parent's index or values), expanded to
    /// their rows, and the filter's other tests. "Ordered from category 12 in the last 30
    /// days" for 47,000 subjects becomes their 13,000 recent orders' items, not the 1.4
    /// million items of all their orders tested one by one. `None` otherwise.
    pub(super) fn by_parents(
        &self,
        context: &Context,
        space: Space,
        plan: &RecordPlan,
        within: &RoaringBitmap,
    ) -> Option<(RoaringBitmap, RecordPlan)> {
        let parent = space.parent()?;
        // As for the candidates themselves: subjects' ranges only when few remain.
        if within.len() * 16 >= self.universe(&context.scope).len() {
            return None;
        }
        let children = match plan {
            Tree::And(children) => children.as_slice(),
            leaf @ Tree::Leaf(_) => std::slice::from_ref(leaf),
            _ => return None,
        };
        let parent_table = &parent.relation(&self.dataset).table;
        let of_parent = |c: &&RecordPlan| matches!(c, Tree::Leaf(test) if test.field.table.table_name() == parent_table.name);
        let (tests, rest): (Vec<&RecordPlan>, Vec<&RecordPlan>) =
            children.iter().partition(of_parent);
        if tests.is_empty() {
            return None;
        }
        let mut parents = self.candidate_rows(context, parent, within);
        for test in tests {
            let Tree::Leaf(test) = test else {
                unreachable!("partitioned as leaves")
            };
            parents = self.table_rows(parent_table, &test.field.column, &test.test, &parents);
        }
        // The parents in scope have exactly their rows in the child's scope.
        let rows = space.expand_parents(&self.dataset, &parents);
        Some((rows, Tree::all_of(rest.into_iter().cloned().collect())))
    }

    /// The passing parents of `rows` (a child space's rows; `test` a test of the
    /// parent's field) as a bitset, when the rows are many against the parents they
    /// belong to (one for every 16 or more): a range test of a number or time read in
    /// one pass over those parents' column (the window from the first row's parent to
    /// the last's), other tests from the parent's index. `None` when the rows are few.
    pub(super) fn passing_parents(
        &self,
        space: Space,
        test: &FieldTest,
        rows: &RoaringBitmap,
    ) -> Option<Bitset> {
        let relation = space.relation(&self.dataset);
        let parent_table = &space.parent()?.relation(&self.dataset).table;
        let stored = parent_table.column(&test.field.column)?;
        let owner = |row: Option<u32>| {
            row.map(|row| relation.groups.owner_of(row as usize))
                .filter(|&owner| owner != NONE)
        };
        let parents = match (owner(rows.min()), owner(rows.max())) {
            (Some(first), Some(last)) => first as usize..last as usize + 1,
            _ => 0..parent_table.rows,
        };
        if rows.len() * 16 < parents.len() as u64 {
            return None;
        }
        column_scan::passing_rows(&ColumnReader::new(stored), &test.test, parents).or_else(|| {
            ColumnIndex::answers(stored.ty, &test.test).then(|| {
                let index = self.index(parent_table.name, &test.field.column);
                Bitset::from_bitmap(&index.select(&test.test))
            })
        })
    }

    /// `filter` as its first test of the parent's field that a pass over the parent's
    /// column answers (`order.created_at` in the last year), and the other tests; only
    /// when that test selects the most rows, so that it comes last anyway.
    pub(super) fn parent_scan_test(
        &self,
        space: Space,
        filter: &RecordPlan,
    ) -> Option<(FieldTest, RecordPlan)> {
        let parent_table = &space.parent()?.relation(&self.dataset).table;
        let children = match filter {
            Tree::And(children) => children.as_slice(),
            leaf @ Tree::Leaf(_) => std::slice::from_ref(leaf),
            _ => return None,
        };
        let at = children.iter().position(|child| match child {
            Tree::Leaf(test) => {
                test.field.table.table_name() == parent_table.name
                    && parent_table
                        .column(&test.field.column)
                        .is_some_and(|stored| {
                            column_scan::answers(&ColumnReader::new(stored), &test.test)
                        })
            }
            _ => false,
        })?;
        let Tree::Leaf(test) = &children[at] else {
            unreachable!("found as a leaf")
        };
        let products = ProductTests::default();
        let cost = |child: &RecordPlan| self.record_cost(space, child, &products);
        let last = cost(&children[at]);
        if children.iter().any(|child| cost(child) > last) {
            return None;
        }
        let rest = children
            .iter()
            .enumerate()
            .filter(|&(i, _)| i != at)
            .map(|(_, child)| child.clone())
            .collect();
        Some((test.clone(), Tree::all_of(rest)))
    }
}
