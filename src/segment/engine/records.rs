//! The record stage of an evaluation: `has` over a relation's rows, the candidate rows
//! of the subjects still in question, and the record plan narrowed over them (fields of
//! the rows, of their parents and of their products).

use std::time::Instant;

use roaring::RoaringBitmap;

use super::{Context, Engine, EvalError, ProductTests, narrow};
use crate::segment::index::ColumnIndex;
use crate::segment::plan::{FieldTest, RecordPlan, Tree};
use crate::segment::rows::ColumnReader;
use crate::segment::schema::FieldTable;
use crate::segment::space::Space;

/// Candidate rows of a `has` from which it is evaluated in two halves on two threads:
/// below, a thread's start and join cost more than the half of the work it takes.
const SPLIT_CANDIDATES: u64 = 1 << 16;

impl Engine {
    /// Subjects in `within` with at least one row of `space` in scope passing `filter`.
    pub(super) fn has(
        &self,
        context: &Context,
        space: Space,
        filter: &RecordPlan,
        within: &RoaringBitmap,
    ) -> Result<RoaringBitmap, EvalError> {
        if let Some(subjects) = self
            .has_by_value(context, space, filter, within)
            .or_else(|| self.has_by_bins(context, space, filter, within))
            .or_else(|| self.has_by_products(context, space, filter, within))
        {
            return Ok(subjects);
        }
        let started = std::time::Instant::now();
        let narrowed = self
            .by_product_times(context, space, filter, within)
            .or_else(|| self.by_parents(context, space, filter, within));
        let (candidates, filter) = match narrowed {
            Some((rows, rest)) => (rows, std::borrow::Cow::Owned(rest)),
            None => (
                self.candidate_rows(context, space, within),
                std::borrow::Cow::Borrowed(filter),
            ),
        };
        let candidates_ms = started.elapsed().as_secs_f64() * 1e3;
        let candidate_count = candidates.len();
        let universe = self.universe(&context.scope).len();
        // The subjects of the candidates that pass, and how many rows passed.
        let subjects_of = |candidates: &RoaringBitmap| -> Result<(RoaringBitmap, u64), EvalError> {
            let rows = self.records(context, space, &filter, candidates)?;
            // Few subjects, fewer than half the rows: their ranges against the rows (a
            // few scattered reads a subject), not each row's owner (one or two lookups a
            // row, in order).
            let few = within.len() * 16 < universe && within.len() * 2 < rows.len();
            let subjects = match few {
                true => space.subjects_among(&self.dataset, &rows, within),
                false => space.subjects_of(&self.dataset, &rows) & within,
            };
            Ok((subjects, rows.len()))
        };
        // Many candidates: two halves by row, one on each core. Rows ascend with their
        // subjects, so each half is a range of subjects (one may own rows of both).
        let (subjects, matching) = if candidate_count >= SPLIT_CANDIDATES {
            let (low, high) = halves(candidates);
            let (low, high) = std::thread::scope(|scope| {
                let high = scope.spawn(|| subjects_of(&high));
                (
                    subjects_of(&low),
                    high.join().expect("a filtering thread does not panic"),
                )
            });
            let ((low, low_rows), (high, high_rows)) = (low?, high?);
            (low | high, low_rows + high_rows)
        } else {
            subjects_of(&candidates)?
        };
        tracing::debug!(
            "has {space:?}: {candidate_count} candidate records in {candidates_ms:.2} ms, {matching} matching, {} subjects at {:.2} ms",
            subjects.len(),
            started.elapsed().as_secs_f64() * 1e3
        );
        Ok(subjects)
    }

    /// The in-scope rows of `space` that belong to subjects in `within`.
    pub(super) fn candidate_rows(
        &self,
        context: &Context,
        space: Space,
        within: &RoaringBitmap,
    ) -> RoaringBitmap {
        let scope = self.scope_rows(space, &context.scope);
        let universe = self.universe(&context.scope);
        // Inserting each subject's range costs about as much as testing a dozen rows:
        // worth it only when few subjects remain.
        if within.len() * 16 >= universe.len() {
            return scope.as_ref().clone();
        }
        let mut rows = RoaringBitmap::new();
        for subject in within {
            let range = space.rows_of_subject(&self.dataset, subject);
            if !range.is_empty() {
                rows.insert_range(range.start as u32..range.end as u32);
            }
        }
        rows &= scope.as_ref();
        rows
    }

    /// Rows of `space` in `within` that pass `plan`.
    pub(super) fn records(
        &self,
        context: &Context,
        space: Space,
        plan: &RecordPlan,
        within: &RoaringBitmap,
    ) -> Result<RoaringBitmap, EvalError> {
        // A product test is needed for ordering and again for evaluating: once each.
        let products = ProductTests::default();
        // Several product tests of one intersection: one set of products, whose rows
        // are gathered once, and the other tests over those.
        let (within, plan) = match self.by_products(space, plan, within, &products) {
            Some((rows, rest)) => (std::borrow::Cow::Owned(rows), std::borrow::Cow::Owned(rest)),
            None => (
                std::borrow::Cow::Borrowed(within),
                std::borrow::Cow::Borrowed(plan),
            ),
        };
        narrow(
            &plan,
            &within,
            &|c| self.record_cost(space, c, &products),
            &mut |test, within| {
                context.check_deadline()?;
                let started = Instant::now();
                let rows = self.record_field(space, test, &products, within);
                tracing::trace!(
                    "{space:?} {}.{} of {} rows: {} in {:.3} ms",
                    test.field.table.table_name(),
                    test.field.column,
                    within.len(),
                    rows.len(),
                    started.elapsed().as_secs_f64() * 1e3
                );
                Ok(rows)
            },
        )
    }

    /// Estimated rows a record condition selects (leaves), for evaluating the most
    /// selective child of an intersection first.
    pub(super) fn record_cost(
        &self,
        space: Space,
        plan: &RecordPlan,
        products: &ProductTests,
    ) -> (u8, usize) {
        match plan {
            Tree::Leaf(test) => (1, self.record_estimate(space, test, products)),
            Tree::Not(child) => (self.record_cost(space, child, products).0 + 1, 0),
            Tree::And(children) | Tree::Or(children) => children
                .iter()
                .map(|c| self.record_cost(space, c, products))
                .max()
                .unwrap_or((0, 0)),
            _ => (0, 0),
        }
    }

    fn record_estimate(&self, space: Space, test: &FieldTest, products: &ProductTests) -> usize {
        let relation = space.relation(&self.dataset);
        let column = &test.field.column;
        if test.field.table == FieldTable::Product {
            let passing = self.passing_products(test, products);
            let by_product = self.product_rows(space);
            return passing
                .iter()
                .map(|p| {
                    (by_product.offsets[p as usize + 1] - by_product.offsets[p as usize]) as usize
                })
                .sum();
        }
        let (table, per_row) = match space.parent() {
            Some(parent) if test.field.table.table_name() != space.table_name() => {
                let parent_table = &parent.relation(&self.dataset).table;
                (
                    parent_table,
                    relation.rows() as f64 / parent_table.rows.max(1) as f64,
                )
            }
            _ => (&relation.table, 1.0),
        };
        if !ColumnIndex::answers(test.field.ty, &test.test) || table.column(column).is_none() {
            return relation.rows();
        }
        (self.index(table.name, column).estimate(&test.test) as f64 * per_row) as usize
    }

    fn record_field(
        &self,
        space: Space,
        test: &FieldTest,
        products: &ProductTests,
        within: &RoaringBitmap,
    ) -> RoaringBitmap {
        let dataset = &self.dataset;
        let column = test.field.column.as_str();
        match test.field.table {
            FieldTable::Product => self.rows_with_products(space, test, within, products),
            table if table.table_name() == space.table_name() => {
                self.table_rows(&space.relation(dataset).table, column, &test.test, within)
            }
            _ => {
                // A field of the row's parent (an order item's or order address's order).
                let parent = space.parent().expect("validated: the parent's fields");
                let parent_table = &parent.relation(dataset).table;
                let Some(stored) = parent_table.column(column) else {
                    return RoaringBitmap::new();
                };
                let relation = space.relation(dataset);
                let reader = ColumnReader::new(stored);
                let index = ColumnIndex::answers(stored.ty, &test.test)
                    .then(|| self.index(parent_table.name, column));
                // Few passing parents: their rows, from the parent's index.
                if let Some(index) = &index {
                    let rows_per_parent = relation.rows() as f64 / parent_table.rows.max(1) as f64;
                    let estimate = index.estimate(&test.test) as f64 * rows_per_parent;
                    if estimate * 8.0 < within.len() as f64 {
                        let mut rows = space.expand_parents(dataset, &index.select(&test.test));
                        rows &= within;
                        return rows;
                    }
                }
                // Many candidates, or a test answered before: the rows whose parent
                // passes, kept, against the candidates.
                if let Some(rows) = self.rows_of_passing_parents(space, test, within) {
                    return rows.as_ref() & within;
                }
                // Else each candidate row reads its parent's value.
                reader.select_mapped(&test.test, within, |row| {
                    relation.groups.owner_of(row) as usize
                })
            }
        }
    }
}

/// `rows` as the rows below and from a boundary between roaring's containers near the
/// middle, so that each half keeps whole containers.
fn halves(mut rows: RoaringBitmap) -> (RoaringBitmap, RoaringBitmap) {
    let middle = rows.select((rows.len() / 2) as u32).unwrap_or(0) & !0xFFFF;
    let mut high = rows.clone();
    high.remove_range(..middle);
    rows.remove_range(middle..);
    (rows, high)
}
