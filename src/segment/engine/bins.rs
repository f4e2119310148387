//! Subjects by bin of a column's index, for the relations with few rows a subject (carts,
//! wishlists, addresses): a `has` whose `where` is one range of such a column ("a cart of
//! 200 or more") is a union of the subjects of the bins inside the range and of the
//! passing rows of the two it cuts, instead of 100,000 matching rows projected to their
//! owners one by one.

use std::sync::Arc;

use roaring::{MultiOps, RoaringBitmap};

use super::enums::SubjectsByGroup;
use super::kept::kept_or_build;
use super::{Context, Engine};
use crate::segment::index::ColumnIndex;
use crate::segment::plan::{RecordPlan, Tree};
use crate::segment::space::Space;

impl Engine {
    /// The subjects of `within` with a row in scope passing `filter`, when `filter` is one
    /// range test of an indexed column of a small relation's own rows and most subjects
    /// are asked about; `None` otherwise.
    pub(super) fn has_by_bins(
        &self,
        context: &Context,
        space: Space,
        filter: &RecordPlan,
        within: &RoaringBitmap,
    ) -> Option<RoaringBitmap> {
        let Tree::Leaf(test) = filter else {
            return None;
        };
        let dataset = &self.dataset;
        let relation = space.relation(dataset);
        let table = &relation.table;
        let stored = table.column(&test.field.column)?;
        if test.field.table.table_name() != table.name
            || !ColumnIndex::answers(stored.ty, &test.test)
            || !self.keeps_subjects_of(context, space, within)
        {
            return None;
        }
        let ranges = test.test.passing_ranges()?;
        let index = self.index(table.name, &test.field.column);
        let by_bin = self.subjects_by_bin(context, space, &test.field.column, &index);
        let (inside, cut_rows) = index.inside_and_cut(&ranges);
        let cut_subjects = space.subjects_of(
            dataset,
            &(cut_rows & self.scope_rows(space, &context.scope).as_ref()),
        );
        let mut parts: Vec<&RoaringBitmap> =
            inside.iter().map(|&bin| &by_bin.groups[bin]).collect();
        parts.push(&cut_subjects);
        let mut subjects = parts.union();
        subjects &= within;
        Some(subjects)
    }

    fn subjects_by_bin(
        &self,
        context: &Context,
        space: Space,
        column: &str,
        index: &ColumnIndex,
    ) -> Arc<SubjectsByGroup> {
        let key = (space, column.to_string(), context.scope.clone());
        let what = || format!("subjects by bin of {column} of {space:?}");
        kept_or_build(&self.by_group, key, what, || {
            let scope = self.scope_rows(space, &context.scope);
            let groups = index
                .bins()
                .iter()
                .map(|rows| space.subjects_of(&self.dataset, &(rows & scope.as_ref())))
                .collect();
            SubjectsByGroup { groups }
        })
    }
}
