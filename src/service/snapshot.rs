//! One consistent state of the service: the data (the loaded data's engine and what events
//! changed since) and every stored segment's members over it, and the moves between two
//! such states.

use std::collections::BTreeSet;
use std::sync::Arc;

use roaring::RoaringBitmap;

use super::catalog::Segments;
use super::live::{Data, Delta, Subjects};
use super::{
    Members, MembershipChange, SegmentKey, ServiceError, StoredSegment, SubjectId, report,
};
use crate::feed::{Batch, Cause, Move, Publishing};
use crate::model::TableName;
use crate::segment::Engine;

/// One consistent state: the data and every stored segment's members over it.
/// The data inside is read through [`Snapshot::data`] (evaluations) and the readers below
/// (subjects, member rows, counts), which see the events; the loaded data's engine alone
/// is the service's own business (folds, checkpoints).
pub struct Snapshot {
    /// The engine over the data as loaded (or last folded or rebuilt).
    pub(super) engine: Arc<Engine>,
    /// What events changed since, subject by subject.
    pub(super) delta: Arc<Delta>,
    pub segments: Segments,
    /// The UTC day its time-dependent segments were all matched at; `None` when one was
    /// matched at another instant (a refresh with `as_of`).
    pub day: Option<i32>,
}

impl Snapshot {
    /// Every field a condition may name.
    pub fn schema(&self) -> &crate::segment::schema::Schema {
        self.engine.schema()
    }

    /// The engine over the data as loaded (or last folded or rebuilt), without the events
    /// since: what a fold replaces, and what a test checks was not rebuilt.
    pub fn loaded_engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// Events applied since the loaded data (0 after a fold or a rebuild).
    pub fn events_since_load(&self) -> usize {
        self.delta.events
    }

    /// Bytes of the loaded data's columns and of the indexes built over them.
    pub fn memory_bytes(&self) -> (usize, usize) {
        (
            self.engine.dataset().memory_bytes(),
            self.engine.index_memory_bytes(),
        )
    }

    pub fn segment(&self, id: &str) -> Result<&Arc<StoredSegment>, ServiceError> {
        self.segments
            .get(&SegmentKey::of(id))
            .ok_or_else(|| ServiceError::NotFound(id.to_string()))
    }

    /// The active segments that hold `subject` now, optionally only those of `website`.
    pub fn segments_of(&self, subject: u32, website: Option<i64>) -> Vec<&SegmentKey> {
        self.segments
            .values()
            .filter(|s| s.definition.active)
            .filter(|s| website.is_none_or(|w| s.definition.websites.contains(&w)))
            .filter(|s| s.members.contains(subject))
            .map(|s| &s.key)
            .collect()
    }

    /// The subjects of the data now.
    pub fn subjects(&self) -> Subjects<'_> {
        Subjects {
            base: self.engine.dataset(),
            added: &self.delta.added,
        }
    }

    /// The dense subject id of a customer, if the data has them.
    pub fn customer(&self, customer_id: i64) -> Option<u32> {
        self.subjects().dense(SubjectId::Customer(customer_id))
    }

    /// The dense subject id of a visitor, unless events moved all its records away.
    pub fn visitor(&self, visitor_id: i64) -> Option<u32> {
        self.subjects()
            .dense(SubjectId::Visitor(visitor_id))
            .filter(|&subject| !self.delta.gone.contains(subject))
    }

    /// Customers in the data now.
    pub fn customer_count(&self) -> usize {
        self.engine.dataset().customer_count() + self.delta.added.customers()
    }

    /// Visitors with records in the data now.
    pub fn visitor_count(&self) -> usize {
        let added = &self.delta.added;
        (self.engine.dataset().visitor_count() + added.len() - added.customers())
            .saturating_sub(self.delta.gone.len() as usize)
    }

    /// The data now, for evaluations: the loaded data and what events changed since.
    pub fn data(&self) -> Data<'_> {
        Data {
            engine: &self.engine,
            delta: Some(&self.delta),
        }
    }

    /// The websites among `websites` that no customer, order, cart or product view is on,
    /// in the loaded data or in the rows events wrote since: a segment matches no one
    /// there, which is most likely a mistyped id.
    pub fn websites_without_subjects(&self, websites: &[i64]) -> Vec<i64> {
        let loaded = self.engine.websites();
        let mut unknown: Vec<i64> = websites
            .iter()
            .copied()
            .filter(|w| !loaded.contains(w))
            .collect();
        if unknown.is_empty() {
            return unknown;
        }
        // One pass over what events wrote, however many websites are asked about.
        let layouts = self.delta.layouts(self.engine.dataset());
        let tables = [
            TableName::Customers,
            TableName::Orders,
            TableName::Carts,
            TableName::ProductViews,
        ];
        let mut written = std::collections::BTreeSet::new();
        let mut note = |table: TableName, rows: &[Vec<crate::events::Value>]| {
            if let Some(column) = layouts.position(table, "website_id") {
                written.extend(rows.iter().filter_map(|row| row[column].number()));
            }
        };
        // Rows events added or changed: the loaded rows' websites are the loaded data's.
        for changes in self.delta.changes.values() {
            for table in tables {
                note(table, &changes.added(table));
            }
        }
        for rows in self.delta.guest_orders.values() {
            for table in tables {
                note(table, rows.rows(table));
            }
        }
        unknown.retain(|w| !written.contains(w));
        unknown
    }

    /// Where member rows (names, emails, addresses) come from now.
    pub fn member_source(&self) -> Result<report::MemberSource, ServiceError> {
        Ok(report::MemberSource {
            dataset: self.engine.dataset().clone(),
            delta: self.delta.as_ref().clone(),
            layouts: self.delta.layouts(self.engine.dataset()),
        })
    }
}

/// Who entered and left the segments `keys` between `before` (members of `old_subjects`)
/// and `after` (of `subjects`); a segment missing on one side has no members there. With
/// `only`, no other subjects can have moved.
pub(super) fn membership_changes<'k>(
    before: &Segments,
    old_subjects: Subjects,
    subjects: Subjects,
    after: &Segments,
    keys: impl IntoIterator<Item = &'k SegmentKey>,
    only: Option<&RoaringBitmap>,
) -> Vec<MembershipChange> {
    let same_subjects = same_subjects(&old_subjects, &subjects);
    let mut changes = Vec::new();
    let empty = Members::default();
    for key in keys {
        let old = before.get(key).map_or(&empty, |s| &s.members);
        let new = after.get(key).map_or(&empty, |s| &s.members);
        if old.same(new) {
            continue;
        }
        let mut moved: Vec<(SubjectId, bool)> = match (same_subjects, only) {
            // Only these subjects can have moved: test them alone.
            (true, Some(only)) => only
                .iter()
                .filter(|&s| old.contains(s) != new.contains(s))
                .map(|s| (subjects.id(s), new.contains(s)))
                .collect(),
            (true, None) => (old.bitmap().as_ref() ^ new.bitmap().as_ref())
                .iter()
                .map(|s| (subjects.id(s), new.contains(s)))
                .collect(),
            (false, _) => listed_moves(old, new, &old_subjects, &subjects)
                .into_iter()
                .map(|m| (m.subject, m.entered))
                .collect(),
        };
        moved.sort();
        changes.extend(
            moved
                .into_iter()
                .map(|(subject, entered)| MembershipChange {
                    segment: key.clone(),
                    subject,
                    entered,
                }),
        );
    }
    changes
}

/// Whether dense ids name the same subjects on both sides. Added subjects keep their ids
/// until a fold or a rebuild, which gives them ids in order.
fn same_subjects(old: &Subjects, new: &Subjects) -> bool {
    std::ptr::eq(old.base, new.base)
        || (old.added.is_empty()
            && new.added.is_empty()
            && old
                .base
                .customer_ids()
                .iter()
                .eq(new.base.customer_ids().iter())
            && old.base.visitor_ids == new.base.visitor_ids)
}

/// Who moved between members over different subjects (a fold or a rebuild numbered them
/// anew), by subject id, in order.
fn listed_moves(
    old: &Members,
    new: &Members,
    old_subjects: &Subjects,
    subjects: &Subjects,
) -> Vec<Move> {
    let old: BTreeSet<SubjectId> = old.bitmap().iter().map(|s| old_subjects.id(s)).collect();
    let new: BTreeSet<SubjectId> = new.bitmap().iter().map(|s| subjects.id(s)).collect();
    old.symmetric_difference(&new)
        .map(|s| Move {
            subject: *s,
            entered: new.contains(s),
        })
        .collect()
}

/// Segments' members over some subjects: one side of a publication.
#[derive(Clone, Copy)]
pub(super) struct Side<'a> {
    pub segments: &'a Segments,
    pub subjects: Subjects<'a>,
}

/// Who moved in one segment: dense ids of the side after (over the same subjects), or
/// listed.
enum Moved {
    Dense(RoaringBitmap),
    Listed(Vec<Move>),
}

impl Moved {
    fn count(&self) -> u64 {
        match self {
            Moved::Dense(dense) => dense.len(),
            Moved::Listed(listed) => listed.len() as u64,
        }
    }
}

/// The moves of the segments `keys` from `before` to `after`, numbered for the change
/// feed. Only the latest the feed keeps are made: a new segment of millions of members
/// takes millions of numbers, but listing them all would cost memory and time for moves
/// the feed drops at once.
pub(super) fn numbered_moves<'k>(
    publishing: &mut Publishing,
    (cause, at): (Cause, i64),
    before: Side,
    after: Side,
    keys: impl IntoIterator<Item = &'k SegmentKey>,
) -> Vec<Batch> {
    let same = same_subjects(&before.subjects, &after.subjects);
    let empty = Members::default();
    let moved: Vec<(&SegmentKey, &Members, Moved)> = keys
        .into_iter()
        .filter_map(|key| {
            let old = before.segments.get(key).map_or(&empty, |s| &s.members);
            let new = after.segments.get(key).map_or(&empty, |s| &s.members);
            if old.same(new) {
                return None;
            }
            let moves = if same {
                Moved::Dense(old.bitmap().as_ref() ^ new.bitmap().as_ref())
            } else {
                Moved::Listed(listed_moves(old, new, &before.subjects, &after.subjects))
            };
            Some((key, new, moves))
        })
        .collect();
    let total: u64 = moved.iter().map(|(_, _, m)| m.count()).sum();
    let mut skip = total.saturating_sub(publishing.retention() as u64);
    let mut batches = Vec::new();
    for (key, new, moves) in moved {
        let n = moves.count();
        let dropped = skip.min(n);
        skip -= dropped;
        let kept: Vec<Move> = match moves {
            Moved::Dense(dense) => dense
                .iter()
                .skip(dropped as usize)
                .map(|s| Move {
                    subject: after.subjects.id(s),
                    entered: new.contains(s),
                })
                .collect(),
            Moved::Listed(listed) => listed.into_iter().skip(dropped as usize).collect(),
        };
        batches.extend(publishing.number_moves(cause, at, key, n, kept));
    }
    batches
}
