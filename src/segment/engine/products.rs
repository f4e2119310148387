//! Record tests on the products that records name (an order item's, a view's): which
//! products pass, and the rows of those products.

use std::sync::Arc;

use roaring::RoaringBitmap;

use super::{Engine, ProductTests};
use crate::segment::plan::{FieldTest, RecordPlan, Tree};
use crate::segment::rows::filter_rows;
use crate::segment::schema::FieldTable;
use crate::segment::space::Space;
use crate::store::ProductLinks;

impl Engine {
    /// The products passing a product test, computed once per `ProductTests`.
    pub(super) fn passing_products(
        &self,
        test: &FieldTest,
        memo: &ProductTests,
    ) -> Arc<RoaringBitmap> {
        let key = test as *const FieldTest;
        if let Some(found) = memo.0.borrow().get(&key) {
            return found.clone();
        }
        let products = &self.dataset.products;
        let mut all = RoaringBitmap::new();
        all.insert_range(0..products.rows as u32);
        let passing = Arc::new(self.table_rows(products, &test.field.column, &test.test, &all));
        memo.0.borrow_mut().insert(key, passing.clone());
        passing
    }

    /// For an intersection with two or more product tests: the rows of `within` whose
    /// product passes them all, and the intersection's other tests (`None` otherwise).
    pub(super) fn by_products(
        &self,
        space: Space,
        plan: &RecordPlan,
        within: &RoaringBitmap,
        memo: &ProductTests,
    ) -> Option<(RoaringBitmap, RecordPlan)> {
        let Tree::And(children) = plan else {
            return None;
        };
        let is_product = |c: &&RecordPlan| matches!(c, Tree::Leaf(test) if test.field.table == FieldTable::Product);
        let (tests, rest): (Vec<&RecordPlan>, Vec<&RecordPlan>) =
            children.iter().partition(is_product);
        if tests.len() < 2 {
            return None;
        }
        let mut passing: Option<RoaringBitmap> = None;
        for test in tests {
            let Tree::Leaf(test) = test else {
                unreachable!("partitioned as leaves")
            };
            let products = self.passing_products(test, memo);
            match &mut passing {
                None => passing = Some(products.as_ref().clone()),
                Some(all) => *all &= products.as_ref(),
            }
        }
        let rows = self.rows_of_products(space, &passing.unwrap_or_default(), within);
        let rest = match rest.len() {
            0 => Tree::Everything,
            _ => Tree::And(rest.into_iter().cloned().collect()),
        };
        Some((rows, rest))
    }

    /// Rows in `within` whose product passes `test`.
    pub(super) fn rows_with_products(
        &self,
        space: Space,
        test: &FieldTest,
        within: &RoaringBitmap,
        memo: &ProductTests,
    ) -> RoaringBitmap {
        let passing = self.passing_products(test, memo);
        self.rows_of_products(space, &passing, within)
    }

    /// Rows in `within` whose product is one of `passing`: gathered from the rows by
    /// product when they are few, else each candidate's product looked up.
    fn rows_of_products(
        &self,
        space: Space,
        passing: &RoaringBitmap,
        within: &RoaringBitmap,
    ) -> RoaringBitmap {
        let dataset = &self.dataset;
        let products = &dataset.products;
        let relation = space.relation(dataset);
        let Some(product_row) = &relation.product_row else {
            return RoaringBitmap::new();
        };
        let by_product = self.product_rows(space);
        let matched_rows: u64 = passing
            .iter()
            .map(|p| (by_product.offsets[p as usize + 1] - by_product.offsets[p as usize]) as u64)
            .sum();
        if matched_rows * 4 < within.len() {
            let mut rows: Vec<u32> = Vec::with_capacity(matched_rows as usize);
            for product in passing.iter() {
                let range = by_product.offsets[product as usize] as usize
                    ..by_product.offsets[product as usize + 1] as usize;
                rows.extend_from_slice(&by_product.rows[range]);
            }
            let mut selected = crate::segment::rows::bitmap_from_rows(rows, relation.rows());
            selected &= within;
            return selected;
        }
        let mut pass = vec![false; products.rows];
        passing.iter().for_each(|p| pass[p as usize] = true);
        // `NONE` (no product) is past every product row and passes no test.
        let passes = |product: usize| pass.get(product).copied().unwrap_or(false);
        match product_row {
            ProductLinks::Narrow(links) => filter_rows(within, |row| passes(links[row] as usize)),
            ProductLinks::Wide(links) => filter_rows(within, |row| passes(links[row] as usize)),
        }
    }
}
