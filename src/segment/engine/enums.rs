//! Subjects by the value of an enumeration (an order's status, an address's type): for a
//! `has` whose `where` is one test of such a column, the subjects whose rows in scope
//! have each value, so that "has a canceled order" is a union of bitmaps of subjects
//! instead of 780,000 matching orders projected to their customers.

use std::sync::Arc;

use datafusion::arrow::array::Array;
use roaring::RoaringBitmap;

use super::bins::GroupEnds;
use super::kept::kept_or_build;
use super::{Context, Engine, PREPARED_DISTINCT, ScopeKey};
use crate::segment::bitmaps::{bitmap_from_rows, for_each_row};
use crate::segment::plan::{RecordPlan, Tree};
use crate::segment::rows::ColumnReader;
use crate::segment::space::{Space, SubjectLookup};
use crate::store::NONE;

/// For one column and scope of a space: per group of the column's rows (a dictionary
/// key's, or a bin of its index, see `bins.rs`), the subjects with a row in scope in it.
pub(super) struct SubjectsByGroup {
    pub groups: Vec<RoaringBitmap>,
    /// For groups in order (bins): the subjects of the first groups and of the last.
    pub ends: GroupEnds,
}

impl SubjectsByGroup {
    pub fn memory_bytes(&self) -> usize {
        self.groups
            .iter()
            .map(RoaringBitmap::serialized_size)
            .sum::<usize>()
            + self.ends.memory_bytes()
    }
}

/// What names one `SubjectsByGroup`: the space, the column and the scope.
pub(super) type ByGroupKey = (Space, String, ScopeKey);

impl Engine {
    /// The subjects of `within` with a row in scope passing `filter`, when `filter` is
    /// one test of a string column of the space's own rows with at most
    /// [`PREPARED_DISTINCT`] distinct values; `None` otherwise.
    pub(super) fn has_by_value(
        &self,
        context: &Context,
        space: Space,
        filter: &RecordPlan,
        within: &RoaringBitmap,
    ) -> Option<RoaringBitmap> {
        let Tree::Leaf(test) = filter else {
            return None;
        };
        let table = &space.relation(&self.dataset).table;
        if test.field.table.table_name() != table.name {
            return None;
        }
        let ColumnReader::Text { values, .. } =
            ColumnReader::new(table.column(&test.field.column)?)
        else {
            return None;
        };
        // A test that nulls pass (`is_null`) is left to the rows.
        if values.len() > PREPARED_DISTINCT || test.test.text(None) {
            return None;
        }
        let by_value = self.subjects_by_value(context, space, &test.field.column);
        let passing = (0..values.len())
            .filter(|&key| test.test.text(Some(values.value(key))))
            .map(|key| &by_value.groups[key]);
        let mut subjects: RoaringBitmap = roaring::MultiOps::union(passing);
        subjects &= within;
        Some(subjects)
    }

    fn subjects_by_value(
        &self,
        context: &Context,
        space: Space,
        column: &str,
    ) -> Arc<SubjectsByGroup> {
        let key = (space, column.to_string(), context.scope.clone());
        let what = || format!("subjects by {column} of {space:?}");
        kept_or_build(&self.by_group, key, what, || {
            self.build_subjects_by_value(context, space, column)
        })
    }

    fn build_subjects_by_value(
        &self,
        context: &Context,
        space: Space,
        column: &str,
    ) -> SubjectsByGroup {
        let dataset = &self.dataset;
        let table = &space.relation(dataset).table;
        let Some(ColumnReader::Text {
            codes,
            nulls,
            values,
        }) = table.column(column).map(ColumnReader::new)
        else {
            unreachable!("checked as a string column by has_by_value")
        };
        let lookup = SubjectLookup::of(space, dataset);
        // Per key: the subjects in order (rows ascend, and so do their subjects), each
        // once.
        let mut subjects = vec![Vec::new(); values.len()];
        for_each_row(&self.scope_rows(space, &context.scope), |row| {
            let row = row as usize;
            if nulls.is_some_and(|n| n.is_null(row)) {
                return;
            }
            let subject = lookup.subject_of(row);
            let of_key = &mut subjects[codes.get(row)];
            if subject != NONE && of_key.last() != Some(&subject) {
                of_key.push(subject);
            }
        });
        let groups = subjects
            .into_iter()
            .map(|of_key| bitmap_from_rows(of_key, dataset.subject_count()))
            .collect();
        SubjectsByGroup {
            groups,
            ends: GroupEnds::default(),
        }
    }
}
