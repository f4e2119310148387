//! Record tests on a record's parent (an order item's or order address's order, a cart
//! item's cart), answered over the parents before their rows are gathered.

use roaring::RoaringBitmap;

use super::{Context, Engine};
use crate::segment::plan::{RecordPlan, Tree};
use crate::segment::space::Space;

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
}
