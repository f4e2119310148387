//! Record tests on the products that records name (an order item's, a view's): which
//! products pass, and the rows of those products.

use std::ops::Range;
use std::sync::Arc;

use roaring::RoaringBitmap;

use super::{Context, Engine, ProductRows, ProductTests, TIME_SAMPLE_EVERY};
use crate::segment::bitmaps::{bitmap_from_rows, filter_rows};
use crate::segment::plan::{FieldTest, RecordPlan, Tree};
use crate::segment::rows::ColumnReader;
use crate::segment::schema::FieldTable;
use crate::segment::space::Space;
use crate::store::{Groups, NONE, ProductLinks};

/// The time of each row of a product space ([`Space::time_field`]), by which rows by
/// product keep each product's rows.
pub(super) struct RowTimes<'a> {
    reader: ColumnReader<'a>,
    /// For the time of the row's parent (an order item's order): the rows by parent.
    parent: Option<&'a Groups>,
}

impl RowTimes<'_> {
    /// The row's time; null rows order before every time.
    #[inline(always)]
    pub fn at(&self, row: u32) -> Option<i64> {
        let row = match self.parent {
            Some(groups) => match groups.owner_of(row as usize) {
                NONE => return None,
                parent => parent as usize,
            },
            None => row as usize,
        };
        self.reader.number(row)
    }
}

impl Engine {
    /// The times of a space's rows; `None` for a space without one, or whose time
    /// column the dataset lacks.
    pub(super) fn row_times(&self, space: Space) -> Option<RowTimes<'_>> {
        let (table, column) = space.time_field()?;
        let relation = space.relation(&self.dataset);
        if table == relation.table.name {
            let stored = relation.table.column(column)?;
            return Some(RowTimes {
                reader: ColumnReader::new(stored),
                parent: None,
            });
        }
        let stored = space
            .parent()?
            .relation(&self.dataset)
            .table
            .column(column)?;
        Some(RowTimes {
            reader: ColumnReader::new(stored),
            parent: Some(&relation.groups),
        })
    }

    /// For a `has` whose `where` is an intersection of product tests, a test of the
    /// rows' time ([`Space::time_field`]) and maybe others: the rows in scope of the
    /// passing products at a passing time, and the other tests. Each product's rows are
    /// in time order, so those of a time range are one slice, found by two binary
    /// searches: "viewed category 5 in the last 30 days" gathers 184,000 rows instead of
    /// testing 22 million. `None` when the slices hold more rows than the candidates of
    /// the subjects in question.
    pub(super) fn by_product_times(
        &self,
        context: &Context,
        space: Space,
        plan: &RecordPlan,
        within: &RoaringBitmap,
    ) -> Option<(RoaringBitmap, RecordPlan)> {
        let Tree::And(children) = plan else {
            return None;
        };
        let (table, column) = space.time_field()?;
        let of_time = |c: &RecordPlan| match c {
            Tree::Leaf(test) => {
                test.field.table.table_name() == table && test.field.column == column
            }
            _ => false,
        };
        let time_index = children.iter().position(|c| {
            of_time(c) && matches!(c, Tree::Leaf(test) if test.test.passing_ranges().is_some())
        })?;
        let Tree::Leaf(time_test) = &children[time_index] else {
            unreachable!("found as a leaf")
        };
        let ranges = time_test.test.passing_ranges()?;
        let is_product = |c: &RecordPlan| matches!(c, Tree::Leaf(test) if test.field.table == FieldTable::Product);
        let memo = ProductTests::default();
        let passing = self.passing_all(children.iter().filter(|c| is_product(c)), &memo)?;
        let times = self.row_times(space)?;
        let relation_rows = space.relation(&self.dataset).rows();
        let scope = self.scope_rows(space, &context.scope);
        let universe = self.universe(&context.scope).len().max(1);
        // The rows the evaluation starts from otherwise: the subjects' rows when few
        // (as `candidate_rows` takes them), else every row in scope.
        let candidates = if within.len() * 16 < universe {
            within.len() * relation_rows as u64 / universe
        } else {
            scope.len()
        };
        // Two binary searches per product and range cost about as much as testing a few
        // dozen rows.
        if passing.len() * ranges.len() as u64 * 32 > candidates {
            return None;
        }
        let by_product = self.product_rows(space);
        let of_products: Vec<Range<usize>> = passing
            .iter()
            .map(|p| {
                by_product.offsets[p as usize] as usize..by_product.offsets[p as usize + 1] as usize
            })
            .collect();
        let mut slices = Vec::new();
        for &(low, high) in &ranges {
            let starts = time_points(&by_product, &of_products, &times, |t| t < Some(low));
            let ends = time_points(&by_product, &of_products, &times, |t| t <= Some(high));
            for (start, end) in starts.into_iter().zip(ends) {
                if start < end {
                    slices.push(&by_product.rows[start..end]);
                }
            }
        }
        let total: u64 = slices.iter().map(|slice| slice.len() as u64).sum();
        if total > candidates {
            return None;
        }
        let mut gathered = Vec::with_capacity(total as usize);
        slices
            .iter()
            .for_each(|slice| gathered.extend_from_slice(slice));
        let mut rows = bitmap_from_rows(gathered, relation_rows);
        rows &= scope.as_ref();
        let rest: Vec<RecordPlan> = children
            .iter()
            .enumerate()
            .filter(|&(i, c)| i != time_index && !is_product(c))
            .map(|(_, c)| c.clone())
            .collect();
        Some((rows, Tree::all_of(rest)))
    }

    /// The products passing every one of `tests` (product tests, as leaves); `None`
    /// without tests.
    pub(super) fn passing_all<'p>(
        &self,
        tests: impl Iterator<Item = &'p RecordPlan>,
        memo: &ProductTests,
    ) -> Option<RoaringBitmap> {
        let mut passing: Option<RoaringBitmap> = None;
        for test in tests {
            let Tree::Leaf(test) = test else {
                unreachable!("product tests are leaves")
            };
            let products = self.passing_products(test, memo);
            match &mut passing {
                None => passing = Some(products.as_ref().clone()),
                Some(all) => *all &= products.as_ref(),
            }
        }
        passing
    }

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
        let passing = self.passing_all(tests.into_iter(), memo);
        let rows = self.rows_of_products(space, &passing.unwrap_or_default(), within);
        Some((rows, Tree::all_of(rest.into_iter().cloned().collect())))
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
            let mut selected = bitmap_from_rows(rows, relation.rows());
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

/// In each of `products` (ranges of `by_product.rows`, in time order), the first entry
/// whose row's time is not `before`. The time samples narrow each range to the entries
/// between two samples, then row times are read in a binary search over those.
fn time_points(
    by_product: &ProductRows,
    products: &[Range<usize>],
    times: &RowTimes,
    before: impl Fn(Option<i64>) -> bool,
) -> Vec<usize> {
    let narrowed: Vec<Range<usize>> = products
        .iter()
        .map(|range| {
            if by_product.sampled_times.is_empty() {
                return range.clone();
            }
            // Samples stand for the entries at multiples of TIME_SAMPLE_EVERY.
            let first = range.start.div_ceil(TIME_SAMPLE_EVERY);
            let end = range.end.div_ceil(TIME_SAMPLE_EVERY).max(first);
            let samples = &by_product.sampled_times[first..end];
            let before_count =
                samples.partition_point(|&time| before((time != i64::MIN).then_some(time)));
            // After the last sample that is before; up to the first that is not.
            let low = match before_count {
                0 => range.start,
                n => (first + n - 1) * TIME_SAMPLE_EVERY + 1,
            };
            let high = match first + before_count < end {
                true => (first + before_count) * TIME_SAMPLE_EVERY,
                false => range.end,
            };
            low..high
        })
        .collect();
    let slices: Vec<&[u32]> = narrowed
        .iter()
        .map(|range| &by_product.rows[range.clone()])
        .collect();
    partition_points(&slices, |row| before(times.at(row)))
        .into_iter()
        .zip(&narrowed)
        .map(|(point, range)| range.start + point)
        .collect()
}

/// `partition_point` of every slice, the searches in lockstep: each step probes every
/// slice once, and those probes wait on memory together rather than one after another.
fn partition_points(slices: &[&[u32]], before: impl Fn(u32) -> bool) -> Vec<usize> {
    let mut bases = vec![0usize; slices.len()];
    let mut sizes: Vec<usize> = slices.iter().map(|slice| slice.len()).collect();
    let mut open = true;
    while open {
        open = false;
        for ((slice, base), size) in slices.iter().zip(&mut bases).zip(&mut sizes) {
            if *size > 1 {
                let half = *size / 2;
                if before(slice[*base + half]) {
                    *base += half;
                }
                *size -= half;
                open |= *size > 1;
            }
        }
    }
    slices
        .iter()
        .zip(bases)
        .zip(sizes)
        .map(|((slice, base), size)| match size {
            0 => 0,
            _ => base + usize::from(before(slice[base])),
        })
        .collect()
}
