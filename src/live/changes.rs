//! What events changed in one subject's rows, against the loaded data: for each table
//! its events wrote, the loaded rows they removed or changed and the rows they added or
//! changed to. A view adds one row; it keeps one row, not the subject's hundred.
//!
//! A subject's rows now are its loaded rows with its changes applied
//! ([`SubjectChanges::applied_to`]): the loaded rows kept, in their order, then the rows
//! added, in theirs. A fold keeps the first in place and writes the others after the
//! loaded data's, so the subject has the same rows before and after it (the loader
//! orders each subject's rows its own way).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use rustc_hash::FxHashMap;

use super::packed::PackedRows;

use crate::events::{Layouts, SubjectRows, Value};
use crate::model::TableName;

/// A subject's changes, by table written (ascending). Held by the delta for every subject
/// events touched until a fold, so kept small: a slice of the tables written, not a
/// map's node of eleven, and the rows packed.
#[derive(Clone, Debug, Default)]
pub struct SubjectChanges(Box<[(TableName, TableChanges)]>);

#[derive(Clone, Debug, Default)]
struct TableChanges {
    /// Positions among the subject's loaded rows of the table (in the order of
    /// [`crate::events::subject_row_ranges`]) that events removed or changed, ascending.
    removed: Box<[u32]>,
    /// Rows events added, and the rows they changed as they are now.
    added: PackedRows,
}

impl SubjectChanges {
    /// The changes that turn `loaded` into `now` in the tables `written` (rows of other
    /// tables are as loaded). Rows equal in both are kept: matched in order, so that
    /// rows appended or changed in place cost a comparison each.
    pub fn between(
        loaded: &SubjectRows,
        now: &SubjectRows,
        written: impl IntoIterator<Item = TableName>,
    ) -> SubjectChanges {
        SubjectChanges::of_tables(
            written
                .into_iter()
                .map(|table| (table, table_changes(loaded.rows(table), now.rows(table)))),
        )
    }

    /// The changes that replace every loaded row (`loaded`: how many a table has) of the
    /// tables `written` with the rows of `now`.
    pub fn replacing(
        loaded: &BTreeMap<TableName, usize>,
        now: &SubjectRows,
        written: impl IntoIterator<Item = TableName>,
    ) -> SubjectChanges {
        SubjectChanges::of_tables(written.into_iter().map(|table| {
            let removed = (0..loaded.get(&table).copied().unwrap_or(0) as u32).collect();
            let added = PackedRows::pack(now.rows(table));
            (table, TableChanges { removed, added })
        }))
    }

    fn of_tables(tables: impl Iterator<Item = (TableName, TableChanges)>) -> SubjectChanges {
        let by_table: BTreeMap<TableName, TableChanges> = tables.collect();
        SubjectChanges(by_table.into_iter().collect())
    }

    /// `loaded` (the subject's loaded rows; with `only`, of those tables) with these
    /// changes applied.
    pub fn applied_to(
        &self,
        mut loaded: SubjectRows,
        only: Option<&BTreeSet<TableName>>,
    ) -> SubjectRows {
        for (table, changes) in &self.0 {
            if only.is_some_and(|tables| !tables.contains(table)) {
                continue;
            }
            let rows = loaded.rows_mut(*table);
            let mut removed = changes.removed.iter().peekable();
            let mut at = 0u32;
            rows.retain(|_| {
                let gone = removed.next_if_eq(&&at).is_some();
                at += 1;
                !gone
            });
            rows.extend(changes.added.unpack());
        }
        loaded
    }

    /// The tables changed, with the positions of the loaded rows removed from each and
    /// the rows added.
    pub(crate) fn tables(&self) -> impl Iterator<Item = (TableName, &[u32], &PackedRows)> {
        self.0
            .iter()
            .map(|(table, changes)| (*table, &*changes.removed, &changes.added))
    }

    /// How many rows events added or changed to, over every table: what the delta holds
    /// for the subject.
    pub fn rows_added(&self) -> usize {
        self.0.iter().map(|(_, changes)| changes.added.len()).sum()
    }

    /// How many loaded rows events removed or changed, over every table.
    pub fn rows_removed(&self) -> usize {
        self.0
            .iter()
            .map(|(_, changes)| changes.removed.len())
            .sum()
    }

    /// The rows added to `table`.
    pub(crate) fn added(&self, table: TableName) -> Vec<Vec<Value>> {
        self.0
            .iter()
            .find(|(of, _)| *of == table)
            .map_or_else(Vec::new, |(_, changes)| changes.added.unpack())
    }

    /// Bytes held beyond the struct itself: what the delta holds for the subject.
    pub fn heap_bytes(&self) -> usize {
        let entry = std::mem::size_of::<(TableName, TableChanges)>();
        self.0
            .iter()
            .map(|(_, c)| entry + c.removed.len() * 4 + c.added.heap_bytes())
            .sum()
    }

    /// Whether a row events added names product `id`. (A loaded row naming it is found
    /// through the loaded data.)
    pub fn adds_product(&self, layouts: &Layouts, id: i64) -> bool {
        self.0.iter().any(|(table, changes)| {
            layouts
                .position(*table, "product_id")
                .is_some_and(|column| {
                    changes
                        .added
                        .unpack()
                        .iter()
                        .any(|row| row[column] == Value::Int(id))
                })
        })
    }
}

/// The removed positions and added rows that turn `loaded` into `now`.
fn table_changes(loaded: &[Vec<Value>], now: &[Vec<Value>]) -> TableChanges {
    let mut kept = vec![false; loaded.len()];
    let mut added = Vec::new();
    // Where the last kept row was: the next row now is most likely the loaded row after.
    let mut next = 0;
    for row in now {
        let found = (next..loaded.len())
            .chain(0..next)
            .find(|&at| !kept[at] && loaded[at] == *row);
        match found {
            Some(at) => {
                kept[at] = true;
                next = at + 1;
            }
            None => added.push(row.clone()),
        }
    }
    let removed = (0..loaded.len() as u32)
        .filter(|&at| !kept[at as usize])
        .collect();
    let added = PackedRows::pack(&added);
    TableChanges { removed, added }
}

/// Rows now of the subjects lately touched or read, so that matching them again reads
/// no loaded rows. Bounded: past its limit of rows, about half the subjects go.
pub struct RowsCache {
    /// By dense id: the changes the rows were made with (an entry for other changes is
    /// stale), and the rows.
    subjects: FxHashMap<u32, (Arc<SubjectChanges>, Arc<SubjectRows>)>,
    rows: usize,
    limit: usize,
}

/// Rows a cache holds at most by default: about 100 MB of rows at M (some 100 rows a
/// customer, 2,600 customers).
pub const CACHED_ROWS: usize = 1 << 18;

impl Default for RowsCache {
    fn default() -> RowsCache {
        RowsCache::holding(CACHED_ROWS)
    }
}

impl RowsCache {
    /// A cache of at most `limit` rows.
    pub fn holding(limit: usize) -> RowsCache {
        RowsCache {
            subjects: FxHashMap::default(),
            rows: 0,
            limit,
        }
    }

    /// The rows held, over every subject.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// The rows now of `subject`, made with `changes`, if held.
    pub fn get(&self, subject: u32, changes: &Arc<SubjectChanges>) -> Option<Arc<SubjectRows>> {
        let (made_with, rows) = self.subjects.get(&subject)?;
        Arc::ptr_eq(made_with, changes).then(|| rows.clone())
    }

    pub fn insert(&mut self, subject: u32, changes: Arc<SubjectChanges>, rows: Arc<SubjectRows>) {
        let count = rows.len();
        if let Some((_, old)) = self.subjects.insert(subject, (changes, rows)) {
            self.rows -= old.len();
        }
        self.rows += count;
        if self.rows > self.limit {
            let mut rows = self.rows;
            self.subjects.retain(|_, (_, held)| {
                if rows <= self.limit / 2 {
                    return true;
                }
                rows -= held.len();
                false
            });
            self.rows = rows;
        }
    }
}
