//! Subjects by bin of a column's index, for the relations with few rows a subject (carts,
//! wishlists, addresses): a `has` whose `where` is one range of such a column ("a cart of
//! 200 or more") is a union of the subjects of the bins inside the range and of the
//! passing rows of the two it cuts, instead of 100,000 matching rows projected to their
//! owners one by one. A subject may have rows in many bins, so the subjects of a range of
//! bins are no difference of two unions; but a range from the first bin ("a cart under
//! 20") or to the last ("a cart of 200 or more", "3 items or more") is read as a union of
//! the first or last bins kept whole and the few bins up to it.

use std::sync::Arc;

use roaring::{MultiOps, RoaringBitmap};

use super::enums::SubjectsByGroup;
use super::kept::kept_or_build;
use super::{Context, Engine};
use crate::segment::index::ColumnIndex;
use crate::segment::index::prefixes::{runs, unions_of_first};
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
        let mut parts = by_bin.ends.parts(&inside, &by_bin.groups);
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
            let groups: Vec<RoaringBitmap> = index
                .bins()
                .iter()
                .map(|rows| space.subjects_of(&self.dataset, &(rows & scope.as_ref())))
                .collect();
            SubjectsByGroup {
                ends: GroupEnds::of(&groups),
                groups,
            }
        })
    }
}

/// Places of unions kept at each end of a column's bins: each costs up to a bit a subject.
const END_UNIONS: usize = 8;

/// The subjects of the first bins and of the last, at up to [`END_UNIONS`] places each
/// end, placed where they part the subjects of the bins in equal shares.
#[derive(Default)]
pub(super) struct GroupEnds {
    /// `(end, subjects of groups 0..end)`, ends ascending.
    heads: Vec<(usize, RoaringBitmap)>,
    /// `(start, subjects of groups start..)`, starts ascending.
    tails: Vec<(usize, RoaringBitmap)>,
}

impl GroupEnds {
    fn of(groups: &[RoaringBitmap]) -> GroupEnds {
        let count = groups.len();
        let mut tails: Vec<(usize, RoaringBitmap)> =
            unions_of_first(groups.iter().rev(), END_UNIONS)
                .into_iter()
                .map(|(last, subjects)| (count - last, subjects))
                .collect();
        tails.reverse();
        GroupEnds {
            heads: unions_of_first(groups, END_UNIONS),
            tails,
        }
    }

    /// The bitmaps whose union is the subjects of `bins` (ascending) of `groups`.
    fn parts<'a>(&'a self, bins: &[usize], groups: &'a [RoaringBitmap]) -> Vec<&'a RoaringBitmap> {
        let mut parts = Vec::new();
        for run in runs(bins) {
            let tail = (run.end == groups.len())
                .then(|| self.tails.iter().find(|(start, _)| *start >= run.start))
                .flatten();
            let head = (run.start == 0)
                .then(|| self.heads.iter().rev().find(|(end, _)| *end <= run.end))
                .flatten();
            let rest = match (tail, head) {
                (Some((start, subjects)), _) => {
                    parts.push(subjects);
                    run.start..*start
                }
                (None, Some((end, subjects))) => {
                    parts.push(subjects);
                    *end..run.end
                }
                (None, None) => run,
            };
            parts.extend(&groups[rest]);
        }
        parts
    }

    pub fn memory_bytes(&self) -> usize {
        self.heads
            .iter()
            .chain(&self.tails)
            .map(|(_, subjects)| subjects.serialized_size())
            .sum()
    }
}
