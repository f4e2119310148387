//! Record tests on a record's parent (an order item's or order address's order, a cart
//! item's cart): answered over the parents before their rows are gathered for few
//! subjects, and for many as the rows whose parent passes, kept per test.

use std::sync::Arc;
use std::time::Instant;

use roaring::RoaringBitmap;

use super::{Context, Engine};
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

    /// The rows of `space` (a child space: order items, order addresses) whose parent
    /// passes `test` (of the parent's field), over all the space's rows whatever their
    /// scope, when kept from an earlier evaluation or when `candidates` are many (one
    /// for every 16 parents or more from the first candidate's parent to the last's).
    /// Built from one pass over the parents' column for a range of numbers or times,
    /// else from the parent's index, then expanded to the parents' rows; kept per test,
    /// `KEPT_PARENT_TESTS` at most. "Ordered in the last 365 days" is then one
    /// intersection of bitmaps, for every segment and refresh that day (`in_last_days`
    /// cuts at midnight), instead of a lookup of each candidate's parent in 10.5
    /// million orders' times. `None` when neither answers.
    pub(super) fn rows_of_passing_parents(
        &self,
        space: Space,
        test: &FieldTest,
        candidates: &RoaringBitmap,
    ) -> Option<Arc<RoaringBitmap>> {
        let key = (space, test.field.column.clone(), test.test.clone());
        let find = || {
            self.parent_tests
                .lock()
                .expect("lock")
                .get(&key)
                .cloned()
                .map(Some)
        };
        if let Some(kept) = find() {
            return kept;
        }
        let parent_table = &space.parent()?.relation(&self.dataset).table;
        let groups = &space.relation(&self.dataset).groups;
        let parent_of = |row: Option<u32>| row.map_or(0, |row| groups.owner_of(row as usize));
        let spanned = match (parent_of(candidates.min()), parent_of(candidates.max())) {
            (first, last) if first != NONE && last != NONE => (last - first) as u64 + 1,
            _ => parent_table.rows as u64,
        };
        if candidates.len() * 16 < spanned {
            return None;
        }
        self.builds.find_or_build(&format!("{key:?}"), find, || {
            let started = Instant::now();
            let stored = parent_table.column(&test.field.column)?;
            let all_parents = 0..parent_table.rows;
            let reader = ColumnReader::new(stored);
            let passing =
                column_scan::passing_rows(&reader, &test.test, all_parents).or_else(|| {
                    ColumnIndex::answers(stored.ty, &test.test).then(|| {
                        let index = self.index(parent_table.name, &test.field.column);
                        Bitset::from_bitmap(&index.select(&test.test))
                    })
                })?;
            let rows = space
                .expand_parent_bits(&self.dataset, &passing)
                .into_bitmap();
            tracing::debug!(
                "rows of {space:?} whose {}.{} passes: {} in {:.1} ms",
                parent_table.name,
                test.field.column,
                rows.len(),
                started.elapsed().as_secs_f64() * 1e3
            );
            let mut kept = self.parent_tests.lock().expect("lock");
            Some(kept.keep(key.clone(), Arc::new(rows)).clone())
        })
    }
}
