//! Lists of events (`POST /events`), applied by the one writer in groups. Each request
//! queues its list; the first to find no group under way leads one: it takes every list
//! queued, applies them in order (each all or nothing: a refused list leaves the others
//! be), writes the accepted ones to the event log in one write flushed once, publishes the
//! result and hands each request its answer. Lists that arrive meanwhile wait for the next
//! group, so concurrent requests share a flush instead of taking one each.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Instant;

use roaring::RoaringBitmap;

use super::live::{self, Delta, PRODUCT_REACH_LIMIT, Subjects};
use super::snapshot::membership_changes;
use super::{
    Data, EventsApplied, FOLD_BEHIND_FACTOR, PendingCheckpoint, SegmentKey, Segments, Service,
    ServiceError, Snapshot, Writer, current_day, fold, rematch, state_error,
};
use crate::data::value::day_of_micros;
use crate::events::idempotency::{Begin, IdempotencyKey, Remembered, RememberedList};
use crate::events::{EventError, EventList};
use crate::feed::{Batch, Cause, Publishing};
use crate::live::ApplyError;
use crate::segment::Engine;

/// The lists waiting for a group, and the answers of groups done.
#[derive(Default)]
pub(super) struct GroupCommit {
    queue: Mutex<Queue>,
    answered: Condvar,
}

#[derive(Default)]
struct Queue {
    waiting: Vec<(u64, EventList)>,
    answers: HashMap<u64, Result<EventsApplied, ServiceError>>,
    next_ticket: u64,
    leading: bool,
}

impl GroupCommit {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The leader's hold on a group: however the group ends (a panic included), every list in
/// it gets an answer and the next request may lead.
struct Leading<'a> {
    commits: &'a GroupCommit,
    tickets: Vec<u64>,
    answers: Vec<(u64, Result<EventsApplied, ServiceError>)>,
}

impl Drop for Leading<'_> {
    fn drop(&mut self) {
        let mut queue = self.commits.lock();
        queue.answers.extend(self.answers.drain(..));
        for ticket in &self.tickets {
            queue.answers.entry(*ticket).or_insert_with(|| {
                Err(ServiceError::Engine(
                    "the list was not applied: the writer failed while applying its group".into(),
                ))
            });
        }
        queue.leading = false;
        self.commits.answered.notify_all();
    }
}

/// A list applied over the snapshot before it, not yet logged or published.
struct Applied {
    list: Arc<EventList>,
    snapshot: Arc<Snapshot>,
    changes: Vec<crate::model::MembershipChange>,
    batches: Vec<Batch>,
    /// The rebuilt data, when the list rebuilt it.
    rebuilt: Option<Arc<Engine>>,
}

impl Service {
    /// Applies a list of events (`POST /events`) in order: all of them or, on the first
    /// bad one, none. With a state directory the list is in the event log, flushed to
    /// disk, before the new data is published and the answer returned. The segments that
    /// read what the list changes are matched again over the subjects it touched (see
    /// [`delta`]); the answer lists the subjects that moved.
    pub fn apply_events(&self, list: EventList) -> Result<EventsApplied, ServiceError> {
        let started = Instant::now();
        let commits = &self.commits;
        let mut queue = commits.lock();
        let ticket = queue.next_ticket;
        queue.next_ticket += 1;
        queue.waiting.push((ticket, list));
        loop {
            if let Some(answer) = queue.answers.remove(&ticket) {
                return answer.map(|applied| EventsApplied {
                    elapsed: started.elapsed(),
                    ..applied
                });
            }
            if queue.leading {
                queue = commits
                    .answered
                    .wait(queue)
                    .unwrap_or_else(|e| e.into_inner());
                continue;
            }
            queue.leading = true;
            let group = std::mem::take(&mut queue.waiting);
            drop(queue);
            let mut leading = Leading {
                commits,
                tickets: group.iter().map(|(ticket, _)| *ticket).collect(),
                answers: Vec::new(),
            };
            leading.answers = self.apply_group(group);
            drop(leading);
            queue = commits.lock();
        }
    }

    /// Applies a group of lists in order, logs the accepted ones with one flush, and
    /// publishes the data after the last.
    fn apply_group(
        &self,
        group: Vec<(u64, EventList)>,
    ) -> Vec<(u64, Result<EventsApplied, ServiceError>)> {
        let mut writer = self.lock_writer();
        self.finish_fold(&mut writer, false);
        writer.finish_checkpoint(false);
        let mut publishing = self.feed.publishing();
        let before = match self.current_while(&mut publishing) {
            Ok(before) => before,
            Err(e) => {
                return group
                    .into_iter()
                    .map(|(t, _)| (t, Err(e.clone())))
                    .collect();
            }
        };
        let now = self.clock.now_micros();
        let mut answers = Vec::with_capacity(group.len());
        let mut accepted: Vec<(u64, Applied)> = Vec::new();
        let mut head = before;
        for (ticket, list) in group {
            match self.apply_list(&head, list, now, &writer, &mut publishing) {
                Ok(applied) => {
                    head = applied.snapshot.clone();
                    accepted.push((ticket, applied));
                }
                Err(e) => answers.push((ticket, Err(e))),
            }
        }
        if accepted.is_empty() {
            return answers;
        }
        let writer = &mut *writer;
        if let Some((log, _)) = &mut writer.events {
            let records: Vec<(&EventList, &[Batch])> = accepted
                .iter()
                .map(|(_, a)| (a.list.as_ref(), a.batches.as_slice()))
                .collect();
            if let Err(e) = log.append_group(&records) {
                // Nothing of the group is published; its numbers stay free.
                let e = state_error(e);
                answers.extend(accepted.into_iter().map(|(t, _)| (t, Err(e.clone()))));
                return answers;
            }
            self.log_flushes
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        self.remember_keys(&accepted, now);
        if let Some((_, logged)) = &mut writer.events {
            for (_, applied) in &accepted {
                *logged += applied.list.len();
                // Rebuilt data holds every event: once the log is long, it is written as a
                // checkpoint (by a thread of its own), which then replaces the log.
                if let Some(pending) = &writer.pending {
                    pending.carry(applied.list.clone());
                } else if let Some(engine) = &applied.rebuilt
                    && *logged >= writer.checkpoint_after
                    && let Some(state) = &writer.state
                {
                    let remembered = self.remembered().lists();
                    let pending =
                        PendingCheckpoint::start(state, engine.clone(), Vec::new(), remembered);
                    writer.pending = Some(pending);
                }
            }
        }
        self.current.store(head.clone());
        let batches: Vec<Batch> = accepted
            .iter_mut()
            .flat_map(|(_, a)| std::mem::take(&mut a.batches))
            .collect();
        // The log holds them on disk already.
        if let Err(e) = publishing.commit(batches, false) {
            tracing::warn!("{e}: the change feed's file lacks changes the event log holds");
        }
        drop(publishing);
        if writer.fold.is_none() && head.delta.events >= writer.checkpoint_after {
            writer.fold = Some(fold::PendingFold::start(
                self.current.clone(),
                &head,
                self.clock.clone(),
            ));
        }
        let events: usize = accepted.iter().map(|(_, a)| a.list.len()).sum();
        self.events_applied
            .fetch_add(events as u64, std::sync::atomic::Ordering::Relaxed);
        answers.extend(accepted.into_iter().map(|(ticket, applied)| {
            let answer = EventsApplied {
                applied: applied.list.len(),
                changes: applied.changes,
                elapsed: std::time::Duration::ZERO,
                rebuilt: applied.rebuilt.is_some(),
                replayed: false,
            };
            (ticket, Ok(answer))
        }));
        answers
    }

    /// As [`Service::apply_events`], under an idempotency key: a list applied under the
    /// key before (and remembered: see [`crate::events::idempotency`]) is not applied
    /// again but answered as then, marked `replayed`. The key with another list is
    /// refused, and so is a request while another with the key is being applied.
    pub fn apply_events_once(
        &self,
        list: EventList,
        key: IdempotencyKey,
    ) -> Result<EventsApplied, ServiceError> {
        let now = self.clock.now_micros();
        let begun = self.remembered().begin(&key, now);
        match begun {
            Begin::New => {}
            Begin::Applied(remembered) => {
                return Ok(EventsApplied {
                    applied: remembered.applied,
                    changes: remembered.changes,
                    elapsed: std::time::Duration::ZERO,
                    rebuilt: false,
                    replayed: true,
                });
            }
            Begin::InUse => {
                return Err(ServiceError::Conflict(format!(
                    "a list with Idempotency-Key {:?} is being applied; send it again once that request is answered",
                    key.key
                )));
            }
            Begin::OtherList => {
                return Err(ServiceError::KeyReused(format!(
                    "Idempotency-Key {:?} came with another list of events; a key names one list",
                    key.key
                )));
            }
        }
        let answer = self.apply_events(list.with_idempotency_key(key.clone(), now));
        if answer.is_err() {
            // Nothing was applied or logged: a retry applies it.
            self.remembered().abandon(&key);
        }
        answer
    }

    /// How many idempotency keys are remembered (at most
    /// [`crate::events::idempotency::KEPT_AT_MOST`]).
    pub fn idempotency_keys_kept(&self) -> usize {
        self.remembered().len()
    }

    pub(super) fn remembered(&self) -> MutexGuard<'_, Remembered> {
        self.remembered.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Remembers the keys of lists just logged (or applied, without a log).
    fn remember_keys(&self, accepted: &[(u64, Applied)], now: i64) {
        let mut remembered = self.remembered();
        for (_, applied) in accepted {
            if let Some((key, at)) = applied.list.idempotency_key() {
                let list = RememberedList {
                    key: key.clone(),
                    at: *at,
                    applied: applied.list.len(),
                    changes: applied.changes.clone(),
                };
                remembered.remember(list, now);
            }
        }
    }

    /// Applies one list over `before` and numbers the moves it makes.
    fn apply_list(
        &self,
        before: &Snapshot,
        list: EventList,
        now: i64,
        writer: &Writer,
        publishing: &mut Publishing,
    ) -> Result<Applied, ServiceError> {
        let started = Instant::now();
        let applied = list.len();
        let list = Arc::new(list);
        let mut rebuilt = None;
        let mut only = None;
        let touched = live::touched_by(
            list.events().iter(),
            before.engine.dataset(),
            &before.delta,
            PRODUCT_REACH_LIMIT,
        );
        // A fold that cannot keep up (or keeps being dropped) gives way to a rebuild.
        let fold_behind = writer.checkpoint_after.saturating_mul(FOLD_BEHIND_FACTOR);
        let rebuild_reason = match touched.product_beyond_reach {
            Some((product, reach)) => Some(format!(
                "product {product} is in the records of {reach} subjects"
            )),
            None if before.delta.events >= fold_behind => Some(format!(
                "{} events since the data was loaded: folding them in",
                before.delta.events
            )),
            None => None,
        };
        let (engine, delta, segments) = match rebuild_reason {
            None => {
                only = Some(touched.subjects.iter().copied().collect::<RoaringBitmap>());
                // A running fold catches up with the lists applied since it started;
                // without one, none is kept.
                let mut delta = Delta::clone(&before.delta);
                delta.lists.keep(writer.fold.is_some());
                let result = live::apply(
                    &before.engine,
                    &delta,
                    &before.segments,
                    &touched,
                    std::slice::from_ref(&list),
                    now,
                )?;
                tracing::debug!(
                    "{applied} events over {} subjects applied in {:.1} ms",
                    touched.subjects.len(),
                    started.elapsed().as_secs_f64() * 1e3
                );
                (
                    before.engine.clone(),
                    Arc::new(result.delta),
                    result.segments,
                )
            }
            Some(reason) => {
                let (engine, segments) = rebuild(before, &list, now)?;
                rebuilt = Some(engine.clone());
                tracing::debug!(
                    "{applied} events applied by rebuilding the data ({reason}) in {:.1} ms",
                    started.elapsed().as_secs_f64() * 1e3
                );
                (engine, Arc::new(Delta::default()), segments)
            }
        };
        let after = Subjects {
            base: engine.dataset(),
            added: &delta.added,
        };
        let changes = membership_changes(
            &before.segments,
            before.subjects(),
            after,
            &segments,
            segments.keys(),
            only.as_ref(),
        );
        let batches = publishing.number(Cause::Event, now, &changes);
        let day = current_day(&segments, day_of_micros(now));
        Ok(Applied {
            list,
            snapshot: Arc::new(Snapshot {
                engine,
                delta,
                segments,
                day,
            }),
            changes,
            batches,
            rebuilt,
        })
    }
}

/// Applies `list` over the delta and folds the result into the loaded data, and matches
/// every segment over it.
fn rebuild(
    before: &Snapshot,
    list: &Arc<EventList>,
    now: i64,
) -> Result<(Arc<Engine>, Segments), ServiceError> {
    let lists = std::slice::from_ref(list);
    let dataset = crate::live::apply_lists(
        before.engine.dataset(),
        &before.delta,
        lists,
        Path::new("events"),
    )
    .map_err(event_error)?;
    let engine = Arc::new(Engine::prepared(Arc::new(dataset)));
    let mut segments = before.segments.clone();
    let keys: Vec<SegmentKey> = segments.keys().cloned().collect();
    rematch(&Data::plain(&engine), &mut segments, &keys, now, now)?;
    Ok((engine, segments))
}

/// A refused list as the service says it.
fn event_error(error: ApplyError) -> ServiceError {
    match error {
        ApplyError::Event(e) => ServiceError::Event(e),
        ApplyError::Data(e) => ServiceError::Event(EventError {
            pointer: String::new(),
            message: e.to_string(),
        }),
    }
}
