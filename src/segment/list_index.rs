//! The index of a list-of-ids column (a product's `category_ids`): for each id, the rows
//! whose list holds it, so that `has_any`, `has_all` and `has_none` are unions and
//! intersections of a few bitmaps instead of a read of every row's list.

use datafusion::arrow::array::{Array, AsArray, ListArray};
use datafusion::arrow::datatypes::Int64Type;
use roaring::{MultiOps, RoaringBitmap};
use rustc_hash::FxHashMap;

use crate::segment::predicate::{ListOp, Test};

pub struct ListIndex {
    rows_by_id: FxHashMap<i64, RoaringBitmap>,
    /// Rows with a list of at least one id: the others count as null.
    listed: RoaringBitmap,
    rows: u32,
}

impl ListIndex {
    /// `None` when some ids are null (the scan decides those lists as they are).
    pub fn build(list: &ListArray) -> Option<ListIndex> {
        let children = list.values().as_primitive_opt::<Int64Type>()?;
        if children.null_count() > 0 {
            return None;
        }
        let (ids, offsets) = (children.values(), list.value_offsets());
        let mut rows_by_id: FxHashMap<i64, Vec<u32>> = FxHashMap::default();
        let mut listed = Vec::new();
        for row in 0..list.len() {
            let of_row = &ids[offsets[row] as usize..offsets[row + 1] as usize];
            if list.is_null(row) || of_row.is_empty() {
                continue;
            }
            listed.push(row as u32);
            for &id in of_row {
                let rows = rows_by_id.entry(id).or_default();
                // An id twice in one list is one row.
                if rows.last() != Some(&(row as u32)) {
                    rows.push(row as u32);
                }
            }
        }
        let ascending =
            |rows: Vec<u32>| RoaringBitmap::from_sorted_iter(rows).expect("rows ascend");
        Some(ListIndex {
            rows_by_id: rows_by_id
                .into_iter()
                .map(|(id, rows)| (id, ascending(rows)))
                .collect(),
            listed: ascending(listed),
            rows: list.len() as u32,
        })
    }

    /// The rows passing `test`, as [`Test::list`] decides them; `None` for a test the
    /// index does not answer (`equals`, which the scan decides).
    pub fn select(&self, test: &Test) -> Option<RoaringBitmap> {
        let with_id = |id: &i64| self.rows_by_id.get(id);
        Some(match test {
            Test::IsNull => {
                let mut all = RoaringBitmap::new();
                all.insert_range(0..self.rows);
                all - &self.listed
            }
            Test::IsNotNull => self.listed.clone(),
            Test::List { op, ids } => match op {
                ListOp::HasAny => ids.iter().filter_map(with_id).union(),
                ListOp::HasNone => &self.listed - ids.iter().filter_map(with_id).union(),
                ListOp::HasAll => match ids.iter().map(with_id).collect::<Option<Vec<_>>>() {
                    Some(bitmaps) if !bitmaps.is_empty() => bitmaps.intersection(),
                    Some(_) => self.listed.clone(),
                    None => RoaringBitmap::new(),
                },
                ListOp::Equals => return None,
            },
            _ => return None,
        })
    }

    pub fn memory_bytes(&self) -> usize {
        self.listed.serialized_size()
            + self
                .rows_by_id
                .values()
                .map(|rows| rows.serialized_size() + 16)
                .sum::<usize>()
    }
}
