//! Folding events into the data without stopping the writer. Once the delta has grown
//! past `checkpoint_after_events`, a thread of its own writes the loaded data's tables
//! with the delta's rows in place ([`crate::live::materialize`]), loads the result,
//! matches every segment over it, and then catches up with the lists accepted meanwhile
//! (in batches, up to four rounds). When it is done, the writer
//! catches up with the lists left and publishes the folded data, matching again the
//! segments that changed meanwhile (with those that name them). Lists never wait for the
//! rebuild, only for the writer's catching up: a few lists, unless lists keep coming as
//! fast as the fold can catch up with them. A fold that cannot finish (the data was
//! rebuilt meanwhile, or a list needs a rebuild) is dropped and the next list starts
//! another.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use arc_swap::ArcSwap;

use super::clock::Clock;
use super::live::{self, Data, Delta};
use super::{SegmentKey, Segments, ServiceError, Snapshot, rematch};
use crate::data::value::day_of_micros;
use crate::events::EventList;
use crate::live::delta::AppliedLists;
use crate::segment::Engine;

/// Lists the fold leaves for the writer to catch up with: applying them holds up lists.
const LEFT_FOR_THE_WRITER: usize = 8;
/// Rounds of catching up before the writer takes what is left.
const CATCH_UP_ROUNDS: usize = 4;

pub(super) struct PendingFold {
    job: JoinHandle<Result<Folded, String>>,
    started: Instant,
}

/// The loaded data with the first `folded` lists of a delta applied, and a delta over it
/// of the lists after those up to `caught_up`.
pub(super) struct Folded {
    /// The engine the fold started from.
    base: Arc<Engine>,
    engine: Arc<Engine>,
    pub folded: usize,
    delta: Delta,
    caught_up: usize,
    /// Every segment matched over `engine` and `delta`.
    segments: Segments,
    /// The segments as they were when the fold started.
    matched_from: Segments,
    day: Option<i32>,
}

impl PendingFold {
    pub(super) fn start(
        current: Arc<ArcSwap<Snapshot>>,
        from: &Snapshot,
        clock: Arc<dyn Clock>,
    ) -> PendingFold {
        let base = from.engine.clone();
        let delta = from.delta.clone();
        let segments = from.segments.clone();
        let day = from.day;
        let job = std::thread::spawn(move || {
            let now = clock.now_micros();
            let mut folded = fold(base, &delta, segments, day, now)?;
            // Catch up with the lists accepted meanwhile, until few are left. A writer as
            // fast as the catching up is never overtaken: after a few rounds, the writer
            // takes what is left.
            for _ in 0..CATCH_UP_ROUNDS {
                let snapshot = current.load_full();
                if !Arc::ptr_eq(&snapshot.engine, &folded.base) {
                    return Err("the data was rebuilt meanwhile".into());
                }
                let left = snapshot.delta.lists.len().saturating_sub(folded.caught_up);
                if left <= LEFT_FOR_THE_WRITER {
                    break;
                }
                let started = Instant::now();
                folded.catch_up(&snapshot.delta.lists, clock.now_micros())?;
                tracing::debug!(
                    "a fold caught up with {left} lists in {:.1} ms",
                    started.elapsed().as_secs_f64() * 1e3
                );
            }
            Ok(folded)
        });
        PendingFold {
            job,
            started: Instant::now(),
        }
    }

    pub(super) fn is_finished(&self) -> bool {
        self.job.is_finished()
    }

    /// The folded data, or why there is none.
    pub(super) fn join(self) -> Result<Folded, String> {
        let started = self.started;
        let folded = self
            .job
            .join()
            .map_err(|_| "the fold failed".to_string())??;
        tracing::info!(
            "{} lists folded into the data in {:.1} s",
            folded.folded,
            started.elapsed().as_secs_f64()
        );
        Ok(folded)
    }
}

fn fold(
    base: Arc<Engine>,
    delta: &Delta,
    segments: Segments,
    day: Option<i32>,
    now: i64,
) -> Result<Folded, String> {
    let dataset = crate::live::materialize(base.dataset(), delta, Path::new("events"))
        .map_err(|e| format!("the events leave data that does not load: {e}"))?;
    let engine = Arc::new(Engine::prepared(Arc::new(dataset)));
    let mut matched = segments.clone();
    let keys: Vec<SegmentKey> = matched.keys().cloned().collect();
    rematch(&Data::plain(&engine), &mut matched, &keys, now, now).map_err(|e| e.to_string())?;
    Ok(Folded {
        base,
        engine,
        folded: delta.lists.len(),
        delta: Delta::default(),
        caught_up: delta.lists.len(),
        segments: matched,
        matched_from: segments,
        day,
    })
}

impl Folded {
    /// Applies the lists after those caught up with, all at once: the data they leave is
    /// the same as the writer's, and subjects many lists touch are copied once.
    fn catch_up(&mut self, lists: &AppliedLists, now: i64) -> Result<(), String> {
        let Some(batch) = lists.since(self.caught_up) else {
            return Err("the lists applied since it started were not kept".into());
        };
        let batch: Vec<Arc<EventList>> = batch.cloned().collect();
        if batch.is_empty() {
            return Ok(());
        }
        let touched = live::touched_by(
            batch.iter().flat_map(|list| list.events()),
            self.engine.dataset(),
            &self.delta,
            usize::MAX,
        );
        let applied = live::apply(
            &self.engine,
            &self.delta,
            &self.segments,
            &touched,
            &batch,
            now,
        )
        .map_err(|e| e.to_string())?;
        self.delta = applied.delta;
        self.segments = applied.segments;
        self.caught_up += batch.len();
        Ok(())
    }

    /// The snapshot that replaces `current`: the lists left caught up with, and the
    /// segments that changed since the fold started (or read one that did, or move with
    /// time when the day changed) matched again, with those segments. `None` when
    /// `current` is not over the data the fold started from.
    pub(super) fn into_snapshot(
        mut self,
        current: &Snapshot,
        now: i64,
    ) -> Result<Option<(Snapshot, Vec<SegmentKey>)>, ServiceError> {
        if !Arc::ptr_eq(&current.engine, &self.base) {
            return Ok(None);
        }
        if let Err(reason) = self.catch_up(&current.delta.lists, now) {
            tracing::debug!("a fold is dropped: {reason}");
            return Ok(None);
        }
        let day_changed = current.day != self.day;
        let mut stale: BTreeSet<SegmentKey> = current
            .segments
            .iter()
            .filter(|(key, stored)| match self.matched_from.get(*key) {
                Some(from) => {
                    // Changed, or time-dependent and matched for another day since
                    // (a new day, or a refresh with `as_of`).
                    !Arc::ptr_eq(&from.definition, &stored.definition)
                        || (stored.time_dependent
                            && (day_changed
                                || day_of_micros(from.as_of) != day_of_micros(stored.as_of)))
                }
                None => true,
            })
            .map(|(key, _)| key.clone())
            .collect();
        let changed: Vec<SegmentKey> = stale.iter().cloned().collect();
        stale.extend(super::catalog::readers_of(&changed, &current.segments));
        let mut segments: Segments = current
            .segments
            .iter()
            .map(|(key, stored)| match self.segments.get(key) {
                Some(folded) if !stale.contains(key) => (key.clone(), folded.clone()),
                _ => (key.clone(), stored.clone()),
            })
            .collect();
        let data = Data {
            engine: &self.engine,
            delta: Some(&self.delta),
        };
        let stale: Vec<SegmentKey> = stale.into_iter().collect();
        rematch(&data, &mut segments, &stale, now, now)?;
        let day = super::current_day(&segments, crate::data::value::day_of_micros(now));
        let snapshot = Snapshot {
            engine: self.engine,
            delta: Arc::new(self.delta),
            segments,
            day,
        };
        Ok(Some((snapshot, stale)))
    }
}
