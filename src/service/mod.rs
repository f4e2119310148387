//! The segment service: stored segments with their members, kept current, for a front
//! end (the HTTP server of [`crate::server`]) to read and change.
//!
//! State is one immutable [`Snapshot`] — the engine over the loaded data, what events
//! changed since ([`delta`]), and every stored segment with its member bitmap — published
//! through an `ArcSwap`. Readers take the current snapshot without locking and see one
//! consistent state for the whole request; changes (create, update, delete, refresh,
//! re-matching as days pass, and events) go through one writer, which builds the next
//! snapshot and publishes it whole, so readers never see half of a change.
//!
//! Memberships follow the service's clock: a segment whose truth moves with time (relative
//! dates, derived day fields, or `in_segment` of such a segment) is re-matched whenever the
//! clock's UTC day differs from the day it was matched at ([`Service::current`]).
//!
//! Every publication that moves members holds the change feed's [`Publishing`] lock and
//! commits the moves to the feed ([`crate::feed`]) in the order readers see them.

pub mod breakdown;
mod catalog;
pub mod clock;
mod event_writer;
mod fold;
pub mod live;
pub mod members;
pub mod origin;
pub mod overlap;
pub mod report;
mod snapshot;
pub mod state;
mod writer;

pub use catalog::{MAX_NUMERIC_ID, Segments, StoredSegment};
pub use members::Members;
pub use snapshot::Snapshot;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use roaring::RoaringBitmap;
use serde_json::Value as Json;

use crate::data::value::{day_of_micros, parse_instant};
use crate::events::idempotency::Remembered;
use crate::events::{EventError, EventList};
use crate::feed::{Cause, ChangeFeed, Publishing};
use crate::segment::definition::{SegmentId, segment_id};
use crate::segment::{DefinitionError, Engine, ErrorKind, EvalError, Segment};
use catalog::*;
use clock::Clock;
use live::{Data, Delta};
use snapshot::{Side, numbered_moves};
use state::{SavedSegments, StateDir, StateError};
use writer::*;

/// Why a request to the service was refused.
#[derive(Clone, Debug, thiserror::Error)]
pub enum ServiceError {
    /// The request does not fit: the definition, or another part of the body.
    #[error("{0}")]
    Invalid(DefinitionError),
    /// An event of a list does not fit: none of the list is applied.
    #[error("{0}")]
    Event(EventError),
    #[error("segment {0} does not exist")]
    NotFound(SegmentId),
    /// The request conflicts with what is stored (an id taken, a segment still named).
    #[error("{0}")]
    Conflict(String),
    /// An idempotency key sent again with another list.
    #[error("{0}")]
    KeyReused(String),
    #[error("the evaluation ran longer than the time limit of {0:?} and was stopped")]
    TimeLimit(Duration),
    /// The state directory could not be read or written: nothing was changed.
    #[error(transparent)]
    State(#[from] StateError),
    #[error("{0}")]
    Engine(String),
}

impl ServiceError {
    fn from_eval(error: EvalError, limit: Option<Duration>) -> ServiceError {
        match error {
            EvalError::Definition(e) => ServiceError::Invalid(e),
            EvalError::TimeLimit => ServiceError::TimeLimit(limit.unwrap_or_default()),
            EvalError::Engine(e) => ServiceError::Engine(e),
        }
    }
}

fn invalid(pointer: &str, kind: ErrorKind, message: impl Into<String>) -> ServiceError {
    ServiceError::Invalid(DefinitionError {
        pointer: pointer.to_string(),
        kind,
        message: message.into(),
    })
}

pub struct ServiceOptions {
    pub clock: Arc<dyn Clock>,
    pub state: Option<StateDir>,
    /// How long evaluating one request's definition (create, update, estimate) may take.
    pub time_limit: Option<Duration>,
    /// Events in the delta before a thread folds them into the data (see [`fold`]; a
    /// list rebuilds the data itself at four times this many); with a state directory,
    /// also the log length past which folded data is written as a checkpoint.
    pub checkpoint_after_events: usize,
    /// The engine given was loaded from the state's checkpoint already (else a
    /// checkpoint in the state is loaded and replaces it).
    pub engine_from_checkpoint: bool,
    /// How many of the latest membership changes the change feed keeps.
    pub changes_kept: usize,
}

/// Past this many times `checkpoint_after_events`, a list rebuilds the data itself rather
/// than wait for a fold.
const FOLD_BEHIND_FACTOR: usize = 4;

/// The default of [`ServiceOptions::checkpoint_after_events`].
pub const CHECKPOINT_AFTER_EVENTS: usize = 200_000;

/// What `/estimate` answers.
#[derive(Clone, Debug)]
pub struct Estimate {
    pub count: u64,
    pub universe: u64,
    pub elapsed: Duration,
}

/// What refreshing one segment changed.
#[derive(Clone, Debug)]
pub struct Refreshed {
    pub count: u64,
    pub entered: u64,
    pub left: u64,
    pub elapsed: Duration,
}

/// How to combine segments in a report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetOperation {
    Union,
    Intersection,
}

pub use crate::model::{MembershipChange, SegmentKey, SubjectId};

/// What a list of events did.
#[derive(Clone, Debug)]
pub struct EventsApplied {
    pub applied: usize,
    pub changes: Vec<MembershipChange>,
    pub elapsed: Duration,
    /// Whether the list rebuilt the data (see [`delta`]) rather than applying to the
    /// subjects it touched.
    pub rebuilt: bool,
    /// Whether this is the answer of a list applied before under the same idempotency
    /// key (nothing was applied now).
    pub replayed: bool,
}

/// A definition as a request gives it (`POST /segments`, `PUT /segments/{id}`): the id it
/// asks for, the definition checked against the data's schema, and the JSON as sent
/// (without `id`), which is what the state directory saves. Parsed by
/// [`crate::server::api::segment_request`].
pub struct SegmentRequest {
    pub id: Option<SegmentKey>,
    pub definition: Segment,
    pub source: Json,
}

/// A segment's new version (`None`: deleted).
type Change = (SegmentKey, Option<Arc<StoredSegment>>);

pub struct Service {
    current: Arc<ArcSwap<Snapshot>>,
    /// Serialises the changes: one writer at a time.
    writer: Mutex<Writer>,
    /// The membership changes, in order; its lock serialises every publication that
    /// moves members (writers and re-matching for a new day).
    feed: Arc<ChangeFeed>,
    /// Lists of events waiting to be applied in a group.
    commits: event_writer::GroupCommit,
    clock: Arc<dyn Clock>,
    time_limit: Option<Duration>,
    events_applied: AtomicU64,
    /// Flushes of the event log (a group of lists shares one).
    log_flushes: AtomicU64,
    /// The idempotency keys of lists applied, and of those being applied.
    remembered: Mutex<Remembered>,
}

impl Service {
    /// Starts over `engine` with the segments saved in the state directory (if any), each
    /// matched at the clock's now. A saved definition that no longer fits the data stops
    /// the start: dropping it would lose a definition without anyone knowing.
    pub fn start(engine: Arc<Engine>, options: ServiceOptions) -> Result<Service, ServiceError> {
        // The saved definitions are checked first: one that does not fit stops the start
        // before a long log is replayed for nothing.
        let saved = match &options.state {
            Some(state) => state.load_segments()?.unwrap_or_default(),
            None => SavedSegments::default(),
        };
        let now = options.clock.now_micros();
        let mut definitions = Vec::with_capacity(saved.segments.len());
        for entry in &saved.segments {
            let in_state = |message: String| {
                let path = options
                    .state
                    .as_ref()
                    .map(|s| s.path().display().to_string())
                    .unwrap_or_default();
                ServiceError::Engine(format!("state {path}: segment {}: {message}", entry.id))
            };
            let numeric_too_large =
                matches!(SegmentKey::of(&entry.id), SegmentKey::Number(n) if n > MAX_NUMERIC_ID);
            if segment_id(&Json::from(entry.id.as_str())).is_none() || numeric_too_large {
                return Err(in_state("not a valid segment id".to_string()));
            }
            let definition = Segment::from_json(&entry.definition, engine.schema())
                .map_err(|e| in_state(e.to_string()))?;
            definitions.push((
                SegmentKey::of(&entry.id),
                definition,
                entry.definition.clone(),
            ));
        }
        let mut segments = Segments::new();
        let placeholders: Vec<SegmentKey> = definitions.iter().map(|d| d.0.clone()).collect();
        for (key, definition, source) in definitions {
            segments.insert(
                key.clone(),
                Arc::new(unmatched(key, definition, source, now)),
            );
        }
        // Every saved reference must name a saved segment, without cycles.
        for key in &placeholders {
            if let Some(chain) = find_cycle(key, &segments[key].references, &segments) {
                return Err(ServiceError::Engine(format!(
                    "saved segments make an in_segment cycle: {chain}"
                )));
            }
            for named in &segments[key].references {
                if !segments.contains_key(named) {
                    return Err(ServiceError::Engine(format!(
                        "saved segment {key} names segment {named}, which is not saved"
                    )));
                }
            }
        }
        let mut remembered = Vec::new();
        let (engine, events, feed) = match &options.state {
            Some(state) => {
                let feed = ChangeFeed::open(state.dir(), options.changes_kept)
                    .map_err(|e| ServiceError::Engine(format!("the change feed: {e}")))?;
                let replayed = replay(engine, state, options.engine_from_checkpoint)?;
                feed.publishing()
                    .recover(replayed.changes)
                    .map_err(state_error)?;
                remembered = replayed.remembered;
                (replayed.engine, Some((replayed.log, replayed.logged)), feed)
            }
            None => (engine, None, ChangeFeed::in_memory(options.changes_kept)),
        };
        let feed = Arc::new(feed);
        let started = Instant::now();
        let keys: Vec<SegmentKey> = segments.keys().cloned().collect();
        rematch(&Data::plain(&engine), &mut segments, &keys, now, now)?;
        if !segments.is_empty() {
            tracing::info!(
                "matched {} saved segments in {:.1} ms",
                segments.len(),
                started.elapsed().as_secs_f64() * 1e3
            );
        }
        days_passed_while_stopped(&feed, &engine, &segments, now)?;
        // Automatic ids go on from where they were. A state from before they were kept (or
        // one an explicit id pushed past the last id, before explicit ids stopped moving
        // them) starts after the highest stored id that leaves room, else at 1.
        let next = if (1..=MAX_NUMERIC_ID).contains(&saved.next_id) {
            saved.next_id
        } else {
            next_free_number(&segments)
        };
        let numbering = Numbering {
            next,
            explicit: saved
                .explicit_ids
                .iter()
                .copied()
                .filter(|&n| n >= next)
                .collect(),
        };
        let first_engine = engine.clone();
        Ok(Service {
            current: Arc::new(ArcSwap::from_pointee(Snapshot {
                engine,
                delta: Arc::new(Delta::default()),
                segments,
                day: Some(day_of_micros(now)),
            })),
            writer: Mutex::new(Writer {
                // A long log replayed: its data is written as a checkpoint while the
                // server serves.
                pending: match (&options.state, &events) {
                    (Some(state), Some((_, logged)))
                        if *logged >= options.checkpoint_after_events.max(1) =>
                    {
                        Some(PendingCheckpoint::start(
                            state,
                            first_engine,
                            Vec::new(),
                            remembered.clone(),
                        ))
                    }
                    _ => None,
                },
                state: options.state,
                events,
                numbering,
                checkpoint_after: options.checkpoint_after_events.max(1),
                fold: None,
                feed: feed.clone(),
            }),
            feed,
            commits: Default::default(),
            clock: options.clock,
            time_limit: options.time_limit,
            events_applied: AtomicU64::new(0),
            log_flushes: AtomicU64::new(0),
            remembered: Mutex::new(Remembered::of(remembered, now)),
        })
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    pub fn time_limit(&self) -> Option<Duration> {
        self.time_limit
    }

    pub fn keeps_state(&self) -> bool {
        self.lock_writer().state.is_some()
    }

    /// The latest snapshot, as it is: possibly a day behind (see [`Service::is_current`]).
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    /// Whether the snapshot's time-dependent memberships hold for the clock's day.
    pub fn is_current(&self, snapshot: &Snapshot) -> bool {
        snapshot.day == Some(self.clock.today())
    }

    /// The latest snapshot with every membership current for the clock's day: when the
    /// day has changed since, the time-dependent segments are re-matched first, under
    /// the publishing lock (after the write in progress, if any), so that their moves
    /// are numbered in the feed in the order they are published.
    pub fn current(&self) -> Result<Arc<Snapshot>, ServiceError> {
        let snapshot = self.snapshot();
        if self.is_current(&snapshot) {
            return Ok(snapshot);
        }
        self.current_while(&mut self.feed.publishing())
    }

    /// [`Service::current`] for one who holds the publishing lock already.
    fn current_while(&self, publishing: &mut Publishing) -> Result<Arc<Snapshot>, ServiceError> {
        let snapshot = self.snapshot();
        if self.is_current(&snapshot) {
            return Ok(snapshot);
        }
        let now = self.clock.now_micros();
        let today = day_of_micros(now);
        let stale: Vec<SegmentKey> = snapshot
            .segments
            .values()
            .filter(|s| s.time_dependent && day_of_micros(s.as_of) != today)
            .map(|s| s.key.clone())
            .collect();
        let started = Instant::now();
        let mut segments = snapshot.segments.clone();
        rematch(&snapshot.data(), &mut segments, &stale, now, now)?;
        if !stale.is_empty() {
            tracing::info!(
                "re-matched {} time-dependent segments for {} in {:.1} ms",
                stale.len(),
                crate::data::value::format_date(today),
                started.elapsed().as_secs_f64() * 1e3
            );
        }
        let fresh = stale
            .into_iter()
            .map(|key| {
                let after = segments[&key].clone();
                (key, Some(after))
            })
            .collect();
        Ok(self.publish(publishing, fresh, Cause::DayChanged))
    }

    fn lock_writer(&self) -> std::sync::MutexGuard<'_, Writer> {
        // A panic while holding the lock leaves nothing half-written (snapshots are
        // published whole), so the state behind a poisoned lock is still good.
        self.writer.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Applies changes to the latest snapshot, publishes the result whole and puts the
    /// members who moved in the change feed (flushed to disk with a state directory: the
    /// segments' file, already saved, does not hold them).
    fn publish(
        &self,
        publishing: &mut Publishing,
        changes: Vec<Change>,
        cause: Cause,
    ) -> Arc<Snapshot> {
        let latest = self.snapshot();
        let mut segments = latest.segments.clone();
        for (key, after) in &changes {
            match after {
                Some(after) => segments.insert(key.clone(), after.clone()),
                None => segments.remove(key),
            };
        }
        let day = current_day(&segments, self.clock.today());
        let next = Arc::new(Snapshot {
            engine: latest.engine.clone(),
            delta: latest.delta.clone(),
            segments,
            day,
        });
        self.current.store(next.clone());
        let subjects = next.subjects();
        let batches = numbered_moves(
            publishing,
            (cause, self.clock.now_micros()),
            Side {
                segments: &latest.segments,
                subjects,
            },
            Side {
                segments: &next.segments,
                subjects,
            },
            changes.iter().map(|(key, _)| key),
        );
        if let Err(e) = publishing.commit(batches, true) {
            tracing::error!("{e}: the change feed may lose these changes at a restart");
        }
        next
    }

    /// Whether a fold or a checkpoint done in the background is ready to be published or
    /// put in force. Never waits: a busy writer says no (it publishes them itself).
    pub fn background_work_done(&self) -> bool {
        let writer = match self.writer.try_lock() {
            Ok(writer) => writer,
            Err(std::sync::TryLockError::Poisoned(e)) => e.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => return false,
        };
        writer.fold.as_ref().is_some_and(|f| f.is_finished())
            || writer.pending.as_ref().is_some_and(|p| p.is_finished())
    }

    /// Publishes a fold and puts a checkpoint in force that were done in the background
    /// (with `wait`, waits for them; the fold's checkpoint is then written too).
    pub fn finish_background_work(&self, wait: bool) {
        let mut writer = self.lock_writer();
        self.finish_fold(&mut writer, wait);
        writer.finish_checkpoint(wait);
    }

    /// Publishes the folded data if the fold is done (or, with `wait`, once it is), and
    /// starts writing it as a checkpoint when the log is long.
    fn finish_fold(&self, writer: &mut Writer, wait: bool) {
        let Some(pending) = writer.fold.take_if(|fold| wait || fold.is_finished()) else {
            return;
        };
        let folded = match pending.join() {
            Ok(folded) => folded,
            Err(reason) => {
                tracing::info!("a fold of the events is dropped: {reason}");
                return;
            }
        };
        let started = Instant::now();
        let mut publishing = self.feed.publishing();
        let current = self.snapshot();
        let folded_lists = folded.folded;
        let now = self.clock.now_micros();
        let (next, rematched) = match folded.into_snapshot(&current, now) {
            Ok(Some(next)) => next,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!("a fold of the events is dropped: {e}");
                return;
            }
        };
        // The segments matched again (over the same subjects as before, one by one): their
        // members move only when a new day began since the snapshot was current.
        let batches = numbered_moves(
            &mut publishing,
            (Cause::DayChanged, now),
            Side {
                segments: &current.segments,
                subjects: current.subjects(),
            },
            Side {
                segments: &next.segments,
                subjects: next.subjects(),
            },
            rematched.iter(),
        );
        let engine = next.engine.clone();
        self.current.store(Arc::new(next));
        if let Err(e) = publishing.commit(batches, true) {
            tracing::error!("{e}: the change feed may lose these changes at a restart");
        }
        drop(publishing);
        tracing::info!(
            "published the data with {folded_lists} lists of events folded in and {} after them over it; the writer waited {:.1} ms",
            current.delta.lists.len() - folded_lists,
            started.elapsed().as_secs_f64() * 1e3
        );
        if writer.pending.is_none()
            && let (Some(state), Some((_, logged))) = (&writer.state, &writer.events)
            && *logged >= writer.checkpoint_after
        {
            // The fold caught up with them: they were kept.
            let carried = current
                .delta
                .lists
                .since(folded_lists)
                .into_iter()
                .flatten();
            let carried = carried.cloned();
            let remembered = self.remembered().lists();
            writer.pending = Some(PendingCheckpoint::start(
                state,
                engine,
                carried.collect(),
                remembered,
            ));
        }
    }

    /// Events applied since the start (not counting the log replayed at start).
    pub fn events_applied(&self) -> u64 {
        self.events_applied.load(Ordering::Relaxed)
    }

    /// Flushes of the event log since the start.
    pub fn log_flushes(&self) -> u64 {
        self.log_flushes.load(Ordering::Relaxed)
    }

    /// The membership changes, in order (`GET /changes`).
    pub fn feed(&self) -> &ChangeFeed {
        &self.feed
    }

    /// Parses a list of events (a request body) against the data's tables.
    pub fn parse_events(&self, json: Json) -> Result<EventList, ServiceError> {
        let snapshot = self.snapshot();
        let layouts = snapshot.delta.layouts(snapshot.engine.dataset());
        EventList::parse(json, &layouts).map_err(ServiceError::Event)
    }

    fn deadline(&self) -> Option<Instant> {
        self.time_limit.map(|limit| Instant::now() + limit)
    }

    /// Stores a new segment (`POST /segments`) with the id asked for or, without one, the
    /// next free number.
    pub fn create(&self, request: SegmentRequest) -> Result<Arc<StoredSegment>, ServiceError> {
        let SegmentRequest {
            id,
            definition,
            source,
        } = request;
        let mut writer = self.lock_writer();
        let mut publishing = self.feed.publishing();
        let snapshot = self.current_while(&mut publishing)?;
        let explicit = id.is_some();
        let key = match id {
            Some(key) if snapshot.segments.contains_key(&key) => {
                return Err(ServiceError::Conflict(format!(
                    "segment {key} exists already: change it with PUT /segments/{key}"
                )));
            }
            Some(key) => key,
            None => SegmentKey::Number(writer.numbering.give_out(&snapshot.segments)?),
        };
        let stored = self.match_new(&snapshot, key.clone(), definition, source)?;
        let mut segments = snapshot.segments.clone();
        segments.insert(key.clone(), stored.clone());
        let numbering = writer.numbering.after(&key, explicit);
        save(&writer, &segments, &numbering)?;
        writer.numbering = numbering;
        self.publish(
            &mut publishing,
            vec![(key, Some(stored.clone()))],
            Cause::SegmentCreated,
        );
        Ok(stored)
    }

    /// Replaces a stored segment's definition (`PUT /segments/{id}`) and re-matches it and
    /// every segment that names it.
    pub fn update(
        &self,
        id: &str,
        request: SegmentRequest,
    ) -> Result<Arc<StoredSegment>, ServiceError> {
        let SegmentRequest {
            id: body_id,
            definition,
            source,
        } = request;
        let writer = self.lock_writer();
        let mut publishing = self.feed.publishing();
        let snapshot = self.current_while(&mut publishing)?;
        let key = snapshot.segment(id)?.key.clone();
        if let Some(other) = body_id.filter(|b| *b != key) {
            return Err(invalid(
                "/id",
                ErrorKind::BadValue,
                format!("the body's id {other} differs from the path's {key}; ids cannot change"),
            ));
        }
        let references = references_of(&definition);
        if let Some(chain) = find_cycle(&key, &references, &snapshot.segments) {
            let pointer = definition
                .references()
                .into_iter()
                .find(|(named, _)| chain.split(" -> ").nth(1) == Some(named.as_str()))
                .map(|(_, pointer)| pointer)
                .unwrap_or_default();
            return Err(invalid(
                &pointer,
                ErrorKind::Cycle,
                format!("in_segment makes a cycle: {chain}"),
            ));
        }
        let stored = self.match_new(&snapshot, key.clone(), definition, source)?;
        let mut segments = snapshot.segments.clone();
        segments.insert(key.clone(), stored);
        let dependents = dependents_of(&key, &segments);
        let now = self.clock.now_micros();
        rematch(&snapshot.data(), &mut segments, &dependents, now, now)?;
        save(&writer, &segments, &writer.numbering)?;
        let stored = segments[&key].clone();
        let changes = std::iter::once(&key)
            .chain(&dependents)
            .map(|k| (k.clone(), Some(segments[k].clone())))
            .collect();
        self.publish(&mut publishing, changes, Cause::SegmentUpdated);
        Ok(stored)
    }

    /// Deletes a stored segment. One still named by another segment's `in_segment` stays.
    pub fn delete(&self, id: &str) -> Result<(), ServiceError> {
        let writer = self.lock_writer();
        let mut publishing = self.feed.publishing();
        let snapshot = self.snapshot();
        let key = snapshot.segment(id)?.key.clone();
        let naming: Vec<String> = snapshot
            .segments
            .values()
            .filter(|s| s.references.contains(&key))
            .map(|s| s.id())
            .collect();
        if !naming.is_empty() {
            return Err(ServiceError::Conflict(format!(
                "segment {key} is named by in_segment in segment {}: change or delete those first",
                naming.join(", ")
            )));
        }
        let mut segments = snapshot.segments.clone();
        segments.remove(&key);
        save(&writer, &segments, &writer.numbering)?;
        self.publish(&mut publishing, vec![(key, None)], Cause::SegmentDeleted);
        Ok(())
    }

    /// Re-matches one segment at `as_of` (default: now), and the segments that name it.
    pub fn refresh(&self, id: &str, as_of: Option<i64>) -> Result<Refreshed, ServiceError> {
        let _writer = self.lock_writer();
        let mut publishing = self.feed.publishing();
        let snapshot = self.current_while(&mut publishing)?;
        let key = snapshot.segment(id)?.key.clone();
        let now = self.clock.now_micros();
        let as_of = as_of.unwrap_or(now);
        let before = snapshot.segments[&key].members.bitmap();
        let mut segments = snapshot.segments.clone();
        let mut keys = vec![key.clone()];
        keys.extend(dependents_of(&key, &segments));
        rematch(&snapshot.data(), &mut segments, &keys, as_of, now)?;
        let after = &segments[&key];
        let refreshed = Refreshed {
            count: after.count(),
            entered: after.members.bitmap().difference_len(&before),
            left: before.difference_len(&after.members.bitmap()),
            elapsed: after.elapsed,
        };
        let changes = keys
            .iter()
            .map(|k| (k.clone(), Some(segments[k].clone())))
            .collect();
        self.publish(&mut publishing, changes, Cause::Refresh);
        Ok(refreshed)
    }

    /// Re-matches every active segment at `as_of` (default: now): bulk re-segmentation.
    /// Segments are matched in parallel, those named by `in_segment` before the others.
    pub fn refresh_all(
        &self,
        as_of: Option<i64>,
    ) -> Result<(Vec<Arc<StoredSegment>>, Duration), ServiceError> {
        let _writer = self.lock_writer();
        let mut publishing = self.feed.publishing();
        let snapshot = self.snapshot();
        let started = Instant::now();
        let now = self.clock.now_micros();
        let mut segments = snapshot.segments.clone();
        // Inactive segments have no members to re-match.
        let keys: Vec<SegmentKey> = segments
            .values()
            .filter(|s| s.definition.active)
            .map(|s| s.key.clone())
            .collect();
        rematch(
            &snapshot.data(),
            &mut segments,
            &keys,
            as_of.unwrap_or(now),
            now,
        )?;
        let elapsed = started.elapsed();
        tracing::info!(
            "re-matched {} segments in {:.1} ms",
            keys.len(),
            elapsed.as_secs_f64() * 1e3
        );
        let refreshed: Vec<Arc<StoredSegment>> = keys.iter().map(|k| segments[k].clone()).collect();
        let changes = refreshed
            .iter()
            .map(|s| (s.key.clone(), Some(s.clone())))
            .collect();
        self.publish(&mut publishing, changes, Cause::Refresh);
        Ok((refreshed, elapsed))
    }

    /// The exact size of a definition that is not stored (`POST /estimate`, parsed by
    /// [`crate::server::api::EstimateRequest::parse`]), at `as_of` (default now).
    pub fn estimate(
        &self,
        snapshot: &Snapshot,
        segment: &Segment,
        as_of: Option<i64>,
    ) -> Result<Estimate, ServiceError> {
        let started = Instant::now();
        let evaluation = snapshot
            .data()
            .evaluate_until(
                segment,
                None,
                as_of.unwrap_or_else(|| self.clock.now_micros()),
                &snapshot.segments,
                self.deadline(),
            )
            .map_err(|e| ServiceError::from_eval(e, self.time_limit))?;
        Ok(Estimate {
            count: evaluation.members.len(),
            universe: evaluation.universe,
            elapsed: started.elapsed(),
        })
    }

    /// Matches a new or changed definition at now, within the time limit.
    fn match_new(
        &self,
        snapshot: &Snapshot,
        key: SegmentKey,
        definition: Segment,
        source: Json,
    ) -> Result<Arc<StoredSegment>, ServiceError> {
        let now = self.clock.now_micros();
        let started = Instant::now();
        let id = key.to_string();
        let evaluation = snapshot
            .data()
            .evaluate_until(
                &definition,
                Some(&id),
                now,
                &snapshot.segments,
                self.deadline(),
            )
            .map_err(|e| ServiceError::from_eval(e, self.time_limit))?;
        let mut stored = unmatched(key, definition, source, now);
        stored.time_dependent = moves_with_time(&stored, &snapshot.segments);
        stored.members = Members::new(evaluation.members);
        stored.universe = evaluation.universe;
        stored.elapsed = started.elapsed();
        Ok(Arc::new(stored))
    }
}

/// The members a combination of stored segments has (`POST /report`).
pub fn combine(
    snapshot: &Snapshot,
    ids: &[String],
    operation: SetOperation,
) -> Result<RoaringBitmap, ServiceError> {
    let mut members: Option<RoaringBitmap> = None;
    for id in ids {
        let stored = snapshot.segment(id)?;
        members = Some(match (members, operation) {
            (None, _) => stored.members.bitmap().as_ref().clone(),
            (Some(acc), SetOperation::Union) => acc | stored.members.bitmap().as_ref(),
            (Some(acc), SetOperation::Intersection) => acc & stored.members.bitmap().as_ref(),
        });
    }
    Ok(members.unwrap_or_default())
}

/// An instant from JSON (a timestamp or a date string), for `as_of`.
pub fn instant_at(value: &Json, pointer: &str) -> Result<i64, ServiceError> {
    match value {
        Json::String(text) => parse_instant(text)
            .map_err(|e| invalid(pointer, ErrorKind::BadValue, format!("as_of: {e}"))),
        _ => Err(invalid(
            pointer,
            ErrorKind::Syntax,
            "as_of must be a timestamp string, e.g. \"2026-11-24T10:00:00Z\", or a date",
        )),
    }
}
