//! Subjects by product, for the relations with few rows a subject (wishlists, carts'
//! items): a `has` whose `where` tests only the product ("wishlisted a product of brand
//! 01") is the subjects of the passing products gathered, instead of their 240,000 rows
//! collected, ordered and projected to their owners.

use std::sync::Arc;

use roaring::RoaringBitmap;

use super::kept::kept_or_build;
use super::{Context, Engine, ProductTests, ScopeKey};
use crate::segment::bitmaps::{Bitset, bitmap_from_rows, for_each_chunk};
use crate::segment::plan::{RecordPlan, Tree};
use crate::segment::schema::FieldTable;
use crate::segment::space::{Space, SubjectLookup};
use crate::store::NONE;

/// For one space and scope: the subjects of product `p`'s rows in scope are
/// `subjects[offsets[p]..offsets[p + 1]]`, ascending, each once.
pub(super) struct SubjectsByProduct {
    offsets: Vec<u32>,
    subjects: Vec<u32>,
}

impl SubjectsByProduct {
    fn of(&self, product: u32) -> &[u32] {
        let product = product as usize;
        &self.subjects[self.offsets[product] as usize..self.offsets[product + 1] as usize]
    }

    pub fn memory_bytes(&self) -> usize {
        (self.offsets.capacity() + self.subjects.capacity()) * 4
    }
}

/// What names one `SubjectsByProduct`.
pub(super) type ByProductKey = (Space, ScopeKey);

impl Engine {
    /// The subjects of `within` with a row in scope passing `filter`, when `filter` tests
    /// only the product, the space has few rows a subject and most subjects are asked
    /// about; `None` otherwise.
    pub(super) fn has_by_products(
        &self,
        context: &Context,
        space: Space,
        filter: &RecordPlan,
        within: &RoaringBitmap,
    ) -> Option<RoaringBitmap> {
        let is_product = |c: &RecordPlan| matches!(c, Tree::Leaf(test) if test.field.table == FieldTable::Product);
        let tests: Vec<&RecordPlan> = match filter {
            Tree::And(children) if children.iter().all(is_product) => children.iter().collect(),
            leaf if is_product(leaf) => vec![leaf],
            _ => return None,
        };
        if space.relation(&self.dataset).product_row.is_none()
            || !self.keeps_subjects_of(context, space, within)
        {
            return None;
        }
        let passing = self.passing_all(tests.into_iter(), &ProductTests::default())?;
        let by_product = self.subjects_by_product(context, space);
        let mut subjects = Vec::new();
        passing
            .iter()
            .for_each(|product| subjects.extend_from_slice(by_product.of(product)));
        let mut subjects = bitmap_from_rows(subjects, self.dataset.subject_count());
        subjects &= within;
        Some(subjects)
    }

    fn subjects_by_product(&self, context: &Context, space: Space) -> Arc<SubjectsByProduct> {
        let key = (space, context.scope.clone());
        let what = || format!("subjects by product of {space:?}");
        kept_or_build(&self.by_product, key, what, || {
            self.build_subjects_by_product(context, space)
        })
    }

    fn build_subjects_by_product(&self, context: &Context, space: Space) -> SubjectsByProduct {
        let dataset = &self.dataset;
        let rows = self.product_rows(space);
        let mut in_scope = Bitset::new(space.relation(dataset).rows());
        for_each_chunk(&self.scope_rows(space, &context.scope), |chunk| {
            chunk.iter().for_each(|&row| in_scope.insert(row))
        });
        let lookup = SubjectLookup::of(space, dataset);
        let mut offsets = Vec::with_capacity(rows.offsets.len());
        let mut subjects = Vec::new();
        let mut of_product = Vec::new();
        offsets.push(0);
        for product in rows.offsets.windows(2) {
            of_product.clear();
            of_product.extend(
                rows.rows[product[0] as usize..product[1] as usize]
                    .iter()
                    .filter(|&&row| in_scope.contains(row))
                    .map(|&row| lookup.subject_of(row as usize))
                    .filter(|&subject| subject != NONE),
            );
            of_product.sort_unstable();
            of_product.dedup();
            subjects.extend_from_slice(&of_product);
            offsets.push(subjects.len() as u32);
        }
        subjects.shrink_to_fit();
        SubjectsByProduct { offsets, subjects }
    }
}
