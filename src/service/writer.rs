//! The single writer's state: the state directory, the event log and its checkpoints, the
//! fold under way; saving definitions, replaying the log at start, and the moves of the
//! days a stopped server missed.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::catalog::{Numbering, Segments, rematch};
use super::live::{Data, Delta, Subjects};
use super::snapshot::{Side, numbered_moves};
use super::state::{self, SavedSegment, SavedSegments, StateDir, StateError};
use super::{SegmentKey, ServiceError, fold};
use crate::data::value::day_of_micros;
use crate::events::idempotency::{self, RememberedList};
use crate::events::log::EventLog;
use crate::events::{EventList, Layouts};
use crate::feed::{Batch, Cause, ChangeFeed};
use crate::segment::Engine;

pub(super) struct Writer {
    pub(super) state: Option<StateDir>,
    /// The event log of the state directory (every accepted list of events since the
    /// checkpoint, if any) and how many events it holds.
    pub(super) events: Option<(EventLog, usize)>,
    pub(super) numbering: Numbering,
    pub(super) checkpoint_after: usize,
    /// A checkpoint being written by a thread of its own.
    pub(super) pending: Option<PendingCheckpoint>,
    /// The events being folded into the data by a thread of its own.
    pub(super) fold: Option<fold::PendingFold>,
    /// Flushed before a checkpoint drops the log holding the changes it lacks.
    pub(super) feed: Arc<ChangeFeed>,
}

/// A checkpoint of rebuilt data, written while lists go on being accepted: they go to the
/// log in force as usual, and are carried into the checkpoint's log too. Its thread writes
/// those accepted while it works; the writer, those left when it puts it in force.
pub(super) struct PendingCheckpoint {
    job: std::thread::JoinHandle<Result<state::PreparedCheckpoint, StateError>>,
    carried: Arc<Mutex<Carried>>,
    started: Instant,
}

/// The lists accepted since the checkpoint's data was taken.
#[derive(Default)]
struct Carried {
    /// Those not yet in the checkpoint's log.
    waiting: Vec<Arc<EventList>>,
    /// Events of all of them.
    events: usize,
}

/// Lists the checkpoint's thread leaves for the writer: writing them holds up lists.
const CARRIED_BY_THE_WRITER: usize = 8;
/// Rounds of carrying lists before the writer takes what is left.
const CARRYING_ROUNDS: usize = 4;

impl PendingCheckpoint {
    /// Writes the data of `engine` as a checkpoint, `carried` (the lists accepted since
    /// that data) to go to its log.
    /// `remembered` are the idempotency keys of the lists in that data (or carried).
    pub(super) fn start(
        state: &StateDir,
        engine: Arc<Engine>,
        carried: Vec<Arc<EventList>>,
        remembered: Vec<RememberedList>,
    ) -> PendingCheckpoint {
        let dir = state.dir().to_path_buf();
        let events = carried.iter().map(|list| list.len()).sum();
        let carried = Arc::new(Mutex::new(Carried {
            waiting: carried,
            events,
        }));
        let shared = carried.clone();
        let job = std::thread::spawn(move || {
            let dataset = engine.dataset();
            let reference_time = dataset
                .reference_time
                .map(crate::data::value::format_timestamp);
            let mut prepared =
                state::prepare_checkpoint(&dir, dataset, reference_time, &remembered)?;
            // The lists accepted meanwhile, written here rather than by the writer.
            for _ in 0..CARRYING_ROUNDS {
                let lists = std::mem::take(&mut lock(&shared).waiting);
                if !lists.is_empty() {
                    prepared.carry(&lists)?;
                }
                if lists.len() <= CARRIED_BY_THE_WRITER {
                    break;
                }
            }
            Ok(prepared)
        });
        PendingCheckpoint {
            job,
            carried,
            started: Instant::now(),
        }
    }

    /// A list accepted (and logged) while the checkpoint is pending.
    pub(super) fn carry(&self, list: Arc<EventList>) {
        let mut carried = lock(&self.carried);
        carried.events += list.len();
        carried.waiting.push(list);
    }

    pub(super) fn is_finished(&self) -> bool {
        self.job.is_finished()
    }
}

fn lock(carried: &Mutex<Carried>) -> std::sync::MutexGuard<'_, Carried> {
    carried.lock().unwrap_or_else(|e| e.into_inner())
}

impl Drop for Writer {
    /// A server stopping (or a service dropped) lets its checkpoint finish and puts it in
    /// force, so no thread writes into the state directory after it is let go.
    fn drop(&mut self) {
        self.finish_checkpoint(true);
    }
}

impl Writer {
    /// Puts the pending checkpoint in force if its thread is done (or, with `wait`, once
    /// it is). A checkpoint that fails leaves the log in force: nothing is lost.
    pub(super) fn finish_checkpoint(&mut self, wait: bool) {
        let Some(pending) = self
            .pending
            .take_if(|pending| wait || pending.is_finished())
        else {
            return;
        };
        let Some(state) = &self.state else { return };
        let prepared = match pending.job.join() {
            Ok(Ok(prepared)) => prepared,
            Ok(Err(e)) => {
                tracing::warn!("{e}; the events stay in the log");
                return;
            }
            Err(_) => {
                tracing::warn!("writing a checkpoint failed; the events stay in the log");
                return;
            }
        };
        // From here the writer waits: the feed's file flushed (the log it is completed
        // from goes), the lists accepted meanwhile written to the new log, the swap.
        let pausing = Instant::now();
        if let Err(e) = self.feed.publishing().flush() {
            tracing::warn!("{e}; the events stay in the log");
            return;
        }
        let Carried { waiting, events } = std::mem::take(&mut *lock(&pending.carried));
        match state.commit_checkpoint(prepared, &waiting) {
            Ok(log) => {
                tracing::info!(
                    "a checkpoint of the data is in force after {:.1} s, its log holding the {events} events accepted meanwhile ({} lists written by the writer); the writer waited {:.1} ms",
                    pending.started.elapsed().as_secs_f64(),
                    waiting.len(),
                    pausing.elapsed().as_secs_f64() * 1e3
                );
                self.events = Some((log, events));
            }
            Err(e) => tracing::warn!("{e}; the events stay in the log"),
        }
    }
}

pub(super) fn save(
    writer: &Writer,
    segments: &Segments,
    numbering: &Numbering,
) -> Result<(), ServiceError> {
    let Some(state) = &writer.state else {
        return Ok(());
    };
    let saved = SavedSegments {
        next_id: numbering.next,
        explicit_ids: numbering.explicit.iter().copied().collect(),
        segments: segments
            .values()
            .map(|s| SavedSegment {
                id: s.id(),
                definition: s.source.as_ref().clone(),
            })
            .collect(),
    };
    state.save_segments(&saved)?;
    Ok(())
}

pub(super) fn state_error(e: crate::records::RecordError) -> ServiceError {
    ServiceError::State(StateError {
        path: e.path,
        reason: e.reason,
    })
}

/// What the state directory holds at start.
pub(super) struct Replayed {
    /// The data with every logged event applied.
    pub(super) engine: Arc<Engine>,
    /// The log to append to, and how many events it holds (a long log is written as a
    /// checkpoint once serving).
    pub(super) log: EventLog,
    pub(super) logged: usize,
    /// The membership changes the logged lists made.
    pub(super) changes: Vec<Batch>,
    /// The idempotency keys of the checkpoint's lists and the log's, oldest first.
    pub(super) remembered: Vec<RememberedList>,
}

/// The data the server stopped with: the state's checkpoint if it has one (else the
/// loaded data), with the event log after it applied.
pub(super) fn replay(
    engine: Arc<Engine>,
    state: &StateDir,
    engine_from_checkpoint: bool,
) -> Result<Replayed, ServiceError> {
    let sources = state.sources()?;
    let mut remembered = match &sources.checkpoint {
        Some(dir) => idempotency::read_file(dir).map_err(state_error)?,
        None => Vec::new(),
    };
    let engine = match &sources.checkpoint {
        Some(dir) if !engine_from_checkpoint => {
            let started = Instant::now();
            let (dataset, _) = crate::data::load_dataset(dir, &Default::default())
                .map_err(|e| ServiceError::Engine(format!("checkpoint: {e}")))?;
            tracing::info!(
                "loaded the checkpoint {} in {:.1} s (it replaces the data given)",
                dir.display(),
                started.elapsed().as_secs_f64()
            );
            Arc::new(Engine::prepared(Arc::new(dataset)))
        }
        _ => engine,
    };
    let recovered = EventLog::open_file(&sources.log).map_err(state_error)?;
    remembered.extend(recovered.remembered);
    if recovered.lists.is_empty() {
        return Ok(Replayed {
            engine,
            log: recovered.log,
            logged: 0,
            changes: recovered.changes,
            remembered,
        });
    }
    let started = Instant::now();
    let path = &sources.log;
    let refused = |e: &dyn std::fmt::Display| {
        ServiceError::Engine(format!(
            "{}: the logged events do not apply to this data (was the server started with other --data?): {e}",
            path.display()
        ))
    };
    let layouts = Layouts::of(engine.dataset());
    let lists: Vec<Arc<EventList>> = recovered
        .lists
        .into_iter()
        .map(|list| EventList::parse(list, &layouts).map(Arc::new))
        .collect::<Result<_, _>>()
        .map_err(|e| refused(&e))?;
    let count: usize = lists.iter().map(|list| list.len()).sum();
    let dataset = crate::live::apply_lists(engine.dataset(), &Delta::default(), &lists, path)
        .map_err(|e| refused(&e))?;
    tracing::info!(
        "replayed {count} logged events in {:.1} ms",
        started.elapsed().as_secs_f64() * 1e3
    );
    Ok(Replayed {
        engine: Arc::new(Engine::prepared(Arc::new(dataset))),
        log: recovered.log,
        logged: count,
        changes: recovered.changes,
        remembered,
    })
}

/// Puts in the feed what a restart on a later day moves: the time-dependent segments'
/// members on the day of the feed's newest change (what a consumer of the feed holds)
/// against theirs now.
pub(super) fn days_passed_while_stopped(
    feed: &ChangeFeed,
    engine: &Engine,
    segments: &Segments,
    now: i64,
) -> Result<(), ServiceError> {
    let Some(last) = feed.newest_at() else {
        return Ok(());
    };
    if day_of_micros(last) == day_of_micros(now) {
        return Ok(());
    }
    let moving: Vec<SegmentKey> = segments
        .values()
        .filter(|s| s.time_dependent)
        .map(|s| s.key.clone())
        .collect();
    let mut then = segments.clone();
    rematch(&Data::plain(engine), &mut then, &moving, last, last)?;
    let added = crate::live::delta::AddedSubjects::default();
    let subjects = Subjects {
        base: engine.dataset(),
        added: &added,
    };
    let mut publishing = feed.publishing();
    let batches = numbered_moves(
        &mut publishing,
        (Cause::DayChanged, now),
        Side {
            segments: &then,
            subjects,
        },
        Side { segments, subjects },
        &moving,
    );
    publishing.commit(batches, true).map_err(state_error)
}
