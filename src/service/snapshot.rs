//! One consistent state of the service: the data (the loaded data's engine and what events
//! changed since) and every stored segment's members over it, and the moves between two
//! such states.

use std::collections::BTreeSet;
use std::sync::Arc;

use roaring::RoaringBitmap;

use super::catalog::Segments;
use super::delta::{Data, Delta, Subjects};
use super::{
    Members, MembershipChange, SegmentKey, ServiceError, StoredSegment, SubjectId, report,
};
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

    /// Where member rows (names, emails, addresses) come from now.
    pub fn member_source(&self) -> Result<report::MemberSource, ServiceError> {
        Ok(report::MemberSource {
            dataset: self.engine.dataset().clone(),
            added: self.delta.added.clone(),
            touched: self.delta.rows.clone(),
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
    let (old_data, new_data) = (old_subjects.base, subjects.base);
    // Added subjects keep their ids until a rebuild, which gives them ids in order.
    let same_subjects = std::ptr::eq(old_data, new_data)
        || (old_subjects.added.is_empty()
            && subjects.added.is_empty()
            && old_data
                .customer_ids()
                .iter()
                .eq(new_data.customer_ids().iter())
            && old_data.visitor_ids == new_data.visitor_ids);
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
            (false, _) => {
                let old: BTreeSet<SubjectId> =
                    old.bitmap().iter().map(|s| old_subjects.id(s)).collect();
                let new: BTreeSet<SubjectId> =
                    new.bitmap().iter().map(|s| subjects.id(s)).collect();
                old.symmetric_difference(&new)
                    .map(|s| (*s, new.contains(s)))
                    .collect()
            }
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
