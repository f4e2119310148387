//! The catalog of stored segments: each definition with its members, and the one graph
//! of `in_segment` references between them — which segments a change reaches
//! ([`dependents_of`]), which references would make a cycle ([`find_cycle`]), in what
//! order segments are matched again ([`rematch`], those named before those naming them),
//! and which move with time ([`moves_with_time`]).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use roaring::RoaringBitmap;
use serde_json::Value as Json;

use super::live::Data;
use super::{Members, SegmentKey, ServiceError};
use crate::data::value::day_of_micros;
use crate::segment::definition::ApplyTo;
use crate::segment::{DefinitionError, Segment, SegmentSource};

/// The largest numeric segment id: 2^53 - 1, the largest integer every JSON reader holds
/// exactly (and so `next id + 1` can never overflow).
pub const MAX_NUMERIC_ID: u64 = (1 << 53) - 1;

/// A segment as stored: its definition and its members at `as_of`.
#[derive(Clone, Debug)]
pub struct StoredSegment {
    pub key: SegmentKey,
    pub definition: Arc<Segment>,
    /// The definition as the client sent it (without `id`), as saved in the state.
    pub source: Arc<Json>,
    /// Subject ids of the snapshot's dataset (see [`crate::segment::Evaluation`]).
    pub members: Members,
    /// Subjects in the segment's scope (websites and `apply_to`).
    pub universe: u64,
    /// The instant the members were matched at (µs).
    pub as_of: i64,
    /// When they were matched, by the service's clock (µs).
    pub refreshed_at: i64,
    pub elapsed: Duration,
    /// Whether the members move with time, directly or through `in_segment`.
    pub time_dependent: bool,
    /// The segments it names with `in_segment`.
    pub references: BTreeSet<SegmentKey>,
}

impl StoredSegment {
    pub fn id(&self) -> String {
        self.key.to_string()
    }

    pub fn count(&self) -> u64 {
        self.members.len()
    }
}

pub type Segments = BTreeMap<SegmentKey, Arc<StoredSegment>>;

/// `in_segment` over stored segments: their members are read, not evaluated again, when
/// they hold at the requested instant.
pub(super) struct Stored<'a>(pub(super) &'a Segments);

impl SegmentSource for Stored<'_> {
    fn segment(&self, id: &str) -> Result<Option<Segment>, DefinitionError> {
        Ok(self
            .0
            .get(&SegmentKey::of(id))
            .map(|s| s.definition.as_ref().clone()))
    }

    fn apply_to(&self, id: &str) -> Option<ApplyTo> {
        let stored = self.0.get(&SegmentKey::of(id))?;
        Some(stored.definition.apply_to)
    }

    fn members(&self, id: &str, as_of: i64) -> Option<Arc<RoaringBitmap>> {
        let stored = self.0.get(&SegmentKey::of(id))?;
        let holds = !stored.time_dependent || day_of_micros(stored.as_of) == day_of_micros(as_of);
        holds.then(|| stored.members.bitmap())
    }
}

pub(super) fn references_of(definition: &Segment) -> BTreeSet<SegmentKey> {
    definition
        .references()
        .into_iter()
        .map(|(id, _)| SegmentKey::of(&id))
        .collect()
}

/// A stored segment not matched yet (no members).
pub(super) fn unmatched(
    key: SegmentKey,
    definition: Segment,
    source: Json,
    now: i64,
) -> StoredSegment {
    let references = references_of(&definition);
    StoredSegment {
        key,
        time_dependent: definition.condition.depends_on_time(),
        definition: Arc::new(definition),
        source: Arc::new(source),
        members: Members::default(),
        universe: 0,
        as_of: now,
        refreshed_at: now,
        elapsed: Duration::ZERO,
        references,
    }
}

/// The day a set of segments holds for: `today` when every time-dependent one was
/// matched on it.
pub(super) fn current_day(segments: &Segments, today: i32) -> Option<i32> {
    segments
        .values()
        .filter(|s| s.time_dependent)
        .all(|s| day_of_micros(s.as_of) == today)
        .then_some(today)
}

/// Whether a segment's members move with time: by its own conditions, or through a
/// segment it names.
pub(super) fn moves_with_time(stored: &StoredSegment, segments: &Segments) -> bool {
    stored.definition.condition.depends_on_time()
        || stored
            .references
            .iter()
            .any(|r| segments.get(r).is_some_and(|s| s.time_dependent))
}

/// How numeric ids are given out: from a counter that only automatic ids move, past the
/// ids in use and the explicit ids ever used above it. No id is given out twice, so an
/// outside reference to a deleted segment never reaches another; and an explicit id,
/// however high, does not use up the ids left.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Numbering {
    pub next: u64,
    /// Explicit numeric ids at or past `next` that were ever given.
    pub explicit: BTreeSet<u64>,
}

impl Numbering {
    /// The id a segment created without one gets.
    pub(super) fn give_out(&self, segments: &Segments) -> Result<u64, ServiceError> {
        let mut n = self.next.max(1);
        while segments.contains_key(&SegmentKey::Number(n)) || self.explicit.contains(&n) {
            n += 1;
        }
        if n > MAX_NUMERIC_ID {
            return Err(ServiceError::Conflict(format!(
                "no numeric id is left below {MAX_NUMERIC_ID}: give the segment a named id"
            )));
        }
        Ok(n)
    }

    /// The numbering after a segment was created with `key`, given out or `explicit`.
    pub(super) fn after(&self, key: &SegmentKey, explicit: bool) -> Numbering {
        let mut next = self.clone();
        match *key {
            SegmentKey::Number(n) if explicit && n >= next.next => {
                next.explicit.insert(n);
            }
            SegmentKey::Number(n) if !explicit => {
                next.next = n + 1;
                next.explicit = next.explicit.split_off(&next.next);
            }
            _ => {}
        }
        next
    }
}

/// The number after the highest stored numeric id that leaves room for another (1 when
/// none does).
pub(super) fn next_free_number(segments: &Segments) -> u64 {
    segments
        .keys()
        .filter_map(|k| match k {
            SegmentKey::Number(n) => Some(n + 1),
            SegmentKey::Name(_) => None,
        })
        .filter(|&n| n <= MAX_NUMERIC_ID)
        .max()
        .unwrap_or(1)
}

/// The chain `start -> ... -> start` when a segment naming `references` as `start` would
/// close an `in_segment` cycle through the stored segments.
pub(super) fn find_cycle(
    start: &SegmentKey,
    references: &BTreeSet<SegmentKey>,
    segments: &Segments,
) -> Option<String> {
    fn walk(
        at: &SegmentKey,
        start: &SegmentKey,
        segments: &Segments,
        path: &mut Vec<SegmentKey>,
        seen: &mut BTreeSet<SegmentKey>,
    ) -> bool {
        if at == start {
            return true;
        }
        if !seen.insert(at.clone()) {
            return false;
        }
        path.push(at.clone());
        if let Some(stored) = segments.get(at) {
            for next in &stored.references {
                if walk(next, start, segments, path, seen) {
                    return true;
                }
            }
        }
        path.pop();
        false
    }
    let mut seen = BTreeSet::new();
    for first in references {
        let mut path = vec![start.clone()];
        if walk(first, start, segments, &mut path, &mut seen) {
            path.push(start.clone());
            let names: Vec<String> = path.iter().map(|k| k.to_string()).collect();
            return Some(names.join(" -> "));
        }
    }
    None
}

/// Every segment that names `key` through `in_segment`, directly or not.
pub(super) fn dependents_of(key: &SegmentKey, segments: &Segments) -> Vec<SegmentKey> {
    readers_of(std::slice::from_ref(key), segments)
        .into_iter()
        .collect()
}

/// The segments that name any of `keys`, directly or through others (`keys` not
/// included unless one names another).
pub(super) fn readers_of(keys: &[SegmentKey], segments: &Segments) -> BTreeSet<SegmentKey> {
    let mut found: BTreeSet<SegmentKey> = BTreeSet::new();
    let mut frontier = keys.to_vec();
    while let Some(at) = frontier.pop() {
        for stored in segments.values() {
            if stored.references.contains(&at) && found.insert(stored.key.clone()) {
                frontier.push(stored.key.clone());
            }
        }
    }
    found
}

/// `keys` in levels: first those naming none of `keys`, then each segment one level after
/// the deepest of `keys` it names. Matched level after level, a segment is matched after
/// the segments it names; those of one level may be matched at once.
pub(super) fn levels(keys: &[SegmentKey], segments: &Segments) -> Vec<Vec<SegmentKey>> {
    let chosen: BTreeSet<&SegmentKey> = keys.iter().collect();
    fn level_of(
        key: &SegmentKey,
        segments: &Segments,
        chosen: &BTreeSet<&SegmentKey>,
        found: &mut BTreeMap<SegmentKey, usize>,
    ) -> usize {
        if let Some(level) = found.get(key) {
            return *level;
        }
        let level = segments[key]
            .references
            .iter()
            .filter(|r| chosen.contains(r) && segments.contains_key(r))
            .map(|r| level_of(r, segments, chosen, found) + 1)
            .max()
            .unwrap_or(0);
        found.insert(key.clone(), level);
        level
    }
    let mut found = BTreeMap::new();
    for key in keys {
        level_of(key, segments, &chosen, &mut found);
    }
    let deepest = found.values().copied().max().unwrap_or(0);
    let mut levels = vec![Vec::new(); if keys.is_empty() { 0 } else { deepest + 1 }];
    for (key, level) in found {
        levels[level].push(key);
    }
    levels
}

/// The tables a stored segment's members are read from, through the segments it names
/// (`known` keeps what was found for each segment).
pub(super) fn tables_read(
    key: &SegmentKey,
    segments: &Segments,
    known: &mut BTreeMap<SegmentKey, BTreeSet<crate::model::TableName>>,
) -> BTreeSet<crate::model::TableName> {
    if let Some(found) = known.get(key) {
        return found.clone();
    }
    let Some(stored) = segments.get(key) else {
        return BTreeSet::new();
    };
    let mut tables = stored.definition.tables_read();
    for named in &stored.references {
        tables.extend(tables_read(named, segments, known));
    }
    known.insert(key.clone(), tables.clone());
    tables
}

/// Re-matches `keys` at `as_of`, writing the results into `segments`: in levels, so a
/// segment is matched after the segments it names, and within a level in parallel.
pub(super) fn rematch(
    data: &Data,
    segments: &mut Segments,
    keys: &[SegmentKey],
    as_of: i64,
    now: i64,
) -> Result<(), ServiceError> {
    let levels = levels(keys, segments);
    // Threads pay off over the loaded data, not over the few subjects a list of events
    // touches, where starting them costs more than the matching.
    let dataset = data.engine.dataset();
    let workers = if dataset.subject_count() < 20_000 {
        1
    } else {
        std::thread::available_parallelism().map_or(2, |n| n.get())
    };
    for batch in &levels {
        let next = AtomicUsize::new(0);
        let results: Mutex<Vec<Result<Arc<StoredSegment>, ServiceError>>> = Mutex::default();
        let view: &Segments = segments;
        if workers == 1 {
            for key in batch {
                let stored = rematch_one(data, view, &view[key], as_of, now)?;
                results
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(Ok(stored));
            }
        } else {
            std::thread::scope(|scope| {
                for _ in 0..workers.min(batch.len()) {
                    scope.spawn(|| {
                        loop {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            let Some(key) = batch.get(i) else { break };
                            let result = rematch_one(data, view, &view[key], as_of, now);
                            results
                                .lock()
                                .unwrap_or_else(|e| e.into_inner())
                                .push(result);
                        }
                    });
                }
            });
        }
        for result in results.into_inner().unwrap_or_else(|e| e.into_inner()) {
            let stored = result?;
            segments.insert(stored.key.clone(), stored);
        }
    }
    Ok(())
}

pub(super) fn rematch_one(
    data: &Data,
    segments: &Segments,
    stored: &StoredSegment,
    as_of: i64,
    now: i64,
) -> Result<Arc<StoredSegment>, ServiceError> {
    let started = Instant::now();
    let id = stored.id();
    let evaluation = data
        .evaluate_until(&stored.definition, Some(&id), as_of, segments, None)
        .map_err(|e| ServiceError::from_eval(e, None))?;
    let mut next = stored.clone();
    next.time_dependent = moves_with_time(stored, segments);
    next.members = Members::new(evaluation.members);
    next.universe = evaluation.universe;
    next.as_of = as_of;
    next.refreshed_at = now;
    next.elapsed = started.elapsed();
    Ok(Arc::new(next))
}
