//! `ends_with` answered from a column's tail index (see `TailIndex`).

use roaring::RoaringBitmap;

use super::{Engine, SCAN_FRACTION};
use crate::segment::predicate::{Test, TextMatcher};
use crate::segment::rows::ColumnReader;
use crate::store::{Column, Table};

impl Engine {
    /// The rows of `within` of `table` whose `column` ends with `suffix` (or with
    /// `negate` does not), from the column's tail index when reading the candidates'
    /// values costs more; one not built yet only when the candidates are many (as for
    /// [`Engine::index`]). `None` when the values are to be read.
    pub(super) fn ends_with_by_tails(
        &self,
        table: &Table,
        column: &Column,
        suffix: &str,
        negate: bool,
        within: &RoaringBitmap,
    ) -> Option<RoaringBitmap> {
        let key = (table.name, column.name.clone());
        let built = self.tail_indexes.lock().expect("lock").get(&key).cloned();
        let tails = match built {
            Some(tails) => tails,
            None if within.len() * SCAN_FRACTION < table.rows as u64 => return None,
            None => self.tail_index(table.name, column),
        };
        let tails = tails.as_ref().as_ref()?;
        if within.len() < tails.cost(suffix) {
            return None;
        }
        Some(tails.ends_with(suffix, negate, within, |candidates| {
            let test = Test::Text {
                matcher: TextMatcher::EndsWith(suffix.to_string()),
                negate: false,
            };
            ColumnReader::new(column).select(&test, candidates)
        }))
    }
}
