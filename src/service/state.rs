//! The state directory (`serve --state DIR`): what must survive a restart. Segment
//! definitions are one JSON file, replaced atomically on every change: written to a
//! temporary file, flushed to disk, renamed over the old one, and the directory flushed,
//! so a crash leaves the old or the new version, never a torn file.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

const SEGMENTS_FILE: &str = "segments.json";
/// The data with the events up to a point folded in, and the log of the events after it.
const CHECKPOINT: &str = "checkpoint";
const CHECKPOINT_FILE: &str = "checkpoint.json";
const FORMAT: u32 = 1;

#[derive(Clone, Debug, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct StateError {
    pub path: PathBuf,
    pub reason: String,
}

/// The stored segment definitions, as given (without the computed members).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct SavedSegments {
    /// The next numeric id to give out: ids of deleted segments are never reused, so an
    /// outside reference to one can never reach a different segment.
    pub next_id: u64,
    /// Explicit numeric ids ever given at or past `next_id`: not given out either.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub explicit_ids: Vec<u64>,
    pub segments: Vec<SavedSegment>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SavedSegment {
    pub id: String,
    /// The definition as the client sent it (segment-language.md), without `id`.
    pub definition: Json,
}

#[derive(Serialize, Deserialize)]
struct SegmentsFile {
    format: u32,
    #[serde(flatten)]
    saved: SavedSegments,
}

pub struct StateDir {
    dir: PathBuf,
    /// Held open and locked while the directory is in use, so that a second server on
    /// the same directory refuses to start instead of overwriting this one's definitions.
    _lock: File,
}

/// Tries at taking the state directory's lock, 50 ms apart.
const LOCK_TRIES: u32 = 10;

impl StateDir {
    /// Opens (creating it if needed) a state directory, and locks it for this process.
    pub fn open(dir: &Path) -> Result<StateDir, StateError> {
        fs::create_dir_all(dir).map_err(|e| StateError {
            path: dir.to_path_buf(),
            reason: format!("cannot create the state directory: {e}"),
        })?;
        let lock_path = dir.join("lock");
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| StateError {
                path: lock_path.clone(),
                reason: format!("cannot open the lock file: {e}"),
            })?;
        // A lock let go a moment ago can still be held for a while by a process forked
        // meanwhile (until it execs, it shares the open lock file): a few tries before
        // saying that another process has it.
        let mut tries = 0;
        loop {
            match lock.try_lock() {
                Ok(()) => break,
                Err(fs::TryLockError::WouldBlock) if tries < LOCK_TRIES => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                Err(e) => {
                    return Err(StateError {
                        path: dir.to_path_buf(),
                        reason: match e {
                            fs::TryLockError::WouldBlock => {
                                "another segmint process uses this state directory".to_string()
                            }
                            fs::TryLockError::Error(e) => {
                                format!("cannot lock the state directory: {e}")
                            }
                        },
                    });
                }
            }
        }
        Ok(StateDir {
            dir: dir.to_path_buf(),
            _lock: lock,
        })
    }

    /// Whether segment definitions were ever saved here.
    pub fn has_saved_segments(&self) -> bool {
        self.dir.join(SEGMENTS_FILE).exists()
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// The saved definitions; `None` when nothing was saved yet.
    pub fn load_segments(&self) -> Result<Option<SavedSegments>, StateError> {
        let path = self.dir.join(SEGMENTS_FILE);
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(StateError {
                    path,
                    reason: format!("cannot read: {e}"),
                });
            }
        };
        let file: SegmentsFile = serde_json::from_str(&text).map_err(|e| StateError {
            path: path.clone(),
            reason: format!("not a segmint segments file: {e}"),
        })?;
        if file.format != FORMAT {
            return Err(StateError {
                path,
                reason: format!(
                    "format {} is not known to this segmint (it reads format {FORMAT})",
                    file.format
                ),
            });
        }
        Ok(Some(file.saved))
    }

    /// Replaces the saved definitions atomically.
    pub fn save_segments(&self, saved: &SavedSegments) -> Result<(), StateError> {
        let file = SegmentsFile {
            format: FORMAT,
            saved: saved.clone(),
        };
        let text = serde_json::to_vec_pretty(&file).map_err(|e| StateError {
            path: self.dir.join(SEGMENTS_FILE),
            reason: format!("cannot encode: {e}"),
        })?;
        write_atomically(&self.dir.join(SEGMENTS_FILE), &text)
    }
}

/// A checkpoint's description: the log of the events after it.
#[derive(Serialize, Deserialize)]
struct CheckpointFile {
    format: u32,
    log: String,
}

/// Where the data and the events come from at start.
pub struct Sources {
    /// A checkpoint's dataset directory, to load instead of `--data`.
    pub checkpoint: Option<PathBuf>,
    /// The event log to replay on top.
    pub log: PathBuf,
}

impl StateDir {
    /// Finishes or undoes a checkpoint a crash interrupted, removes what no checkpoint
    /// names, and says where the data and the events are.
    pub fn sources(&self) -> Result<Sources, StateError> {
        let dir = &self.dir;
        let failed = |path: &Path, e: std::io::Error| StateError {
            path: path.to_path_buf(),
            reason: e.to_string(),
        };
        let current = dir.join(CHECKPOINT);
        let old = dir.join(format!("{CHECKPOINT}.old"));
        let partial = dir.join(format!("{CHECKPOINT}.tmp"));
        if !current.exists() && old.exists() {
            // Crashed between moving the old checkpoint away and the new one in.
            fs::rename(&old, &current).map_err(|e| failed(&old, e))?;
        }
        for leftover in [&old, &partial] {
            if leftover.exists() {
                fs::remove_dir_all(leftover).map_err(|e| failed(leftover, e))?;
            }
        }
        // Old checkpoints a stop cut short while they were being removed.
        for entry in fs::read_dir(dir).map_err(|e| failed(dir, e))?.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with(&format!("{CHECKPOINT}.trash-")) {
                match fs::remove_dir_all(entry.path()) {
                    // The thread of a service stopped in this process is removing it.
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    other => other.map_err(|e| failed(&entry.path(), e))?,
                }
            }
        }
        let description = current.join(CHECKPOINT_FILE);
        let sources = if description.exists() {
            let text = fs::read_to_string(&description).map_err(|e| failed(&description, e))?;
            let file: CheckpointFile = serde_json::from_str(&text).map_err(|e| StateError {
                path: description.clone(),
                reason: format!("not a segmint checkpoint: {e}"),
            })?;
            if file.format != FORMAT || file.log.contains(['/', '\\']) {
                return Err(StateError {
                    path: description,
                    reason: "not a checkpoint this segmint reads".into(),
                });
            }
            Sources {
                checkpoint: Some(current),
                log: dir.join(file.log),
            }
        } else {
            Sources {
                checkpoint: None,
                log: dir.join(crate::events::log::LOG_FILE),
            }
        };
        remove_logs_except(dir, &sources.log)?;
        Ok(sources)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Puts a prepared checkpoint in force, followed by a log of `carried`: the lists
    /// accepted after the checkpoint's data was taken. They are in the new log, flushed,
    /// before the checkpoint replaces the old one and its log. A crash at any moment
    /// leaves the old checkpoint and log or the new; an error leaves the old in force.
    pub fn commit_checkpoint(
        &self,
        prepared: PreparedCheckpoint,
        carried: &[impl std::borrow::Borrow<crate::events::EventList>],
    ) -> Result<crate::events::log::EventLog, StateError> {
        let dir = &self.dir;
        let PreparedCheckpoint {
            partial,
            log_name,
            log: mut next,
        } = prepared;
        let old = dir.join(format!("{CHECKPOINT}.old"));
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%6f");
        let description = serde_json::to_vec_pretty(&CheckpointFile {
            format: FORMAT,
            log: log_name.clone(),
        })
        .map_err(|e| checkpoint_failed(&partial, &e))?;
        write_atomically(&partial.join(CHECKPOINT_FILE), &description)?;
        if !carried.is_empty() {
            next.append_all(carried)
                .map_err(|e| checkpoint_failed(&e.path, &e.reason))?;
        }
        // The new log's entry and the checkpoint's files are on disk before the swap names
        // them: a crash after it must find the carried lists.
        for flushed in [&partial, dir] {
            File::open(flushed)
                .and_then(|d| d.sync_all())
                .map_err(|e| checkpoint_failed(flushed, &e))?;
        }
        let current = dir.join(CHECKPOINT);
        if current.exists() {
            fs::rename(&current, &old).map_err(|e| checkpoint_failed(&current, &e))?;
        }
        if let Err(e) = fs::rename(&partial, &current) {
            // The old checkpoint goes back, so it stays the one in force.
            if old.exists() && !current.exists() {
                let _ = fs::rename(&old, &current);
            }
            return Err(checkpoint_failed(&partial, &e));
        }
        if let Err(e) = File::open(dir).and_then(|d| d.sync_all()) {
            // The swap may not survive a crash, which could bring back the old checkpoint
            // and log: no list may be acknowledged in the new log until a restart settles
            // which is in force, and the old ones stay.
            tracing::error!(
                "{}: cannot flush the directory after a checkpoint ({e}); events are refused until a restart",
                dir.display()
            );
            next.refuse_appends();
            return Ok(next);
        }
        // The new checkpoint is in force: what is left is tidying. The old checkpoint's
        // files are removed by a thread of its own (deleting them held the writer for tens
        // of milliseconds), once moved under a name nothing else uses.
        if old.exists() {
            let trash = dir.join(format!("{CHECKPOINT}.trash-{stamp}"));
            match fs::rename(&old, &trash) {
                Ok(()) => {
                    std::thread::spawn(move || {
                        if let Err(e) = fs::remove_dir_all(&trash) {
                            tracing::warn!("{}: cannot remove: {e}", trash.display());
                        }
                    });
                }
                Err(e) => tracing::warn!("{}: cannot remove: {e}", old.display()),
            }
        }
        if let Err(e) = remove_logs_except(dir, &dir.join(&log_name)) {
            tracing::warn!("{e}");
        }
        Ok(next)
    }
}

/// A checkpoint's data written beside the state's checkpoint, not yet in force.
pub struct PreparedCheckpoint {
    partial: PathBuf,
    /// The log that takes over with it, holding the lists carried so far.
    log_name: String,
    log: crate::events::log::EventLog,
}

impl PreparedCheckpoint {
    /// Writes lists accepted since the checkpoint's data was taken to its log (flushed):
    /// what the writer need not write when it puts the checkpoint in force.
    pub fn carry(
        &mut self,
        lists: &[impl std::borrow::Borrow<crate::events::EventList>],
    ) -> Result<(), StateError> {
        self.log
            .append_all(lists)
            .map_err(|e| checkpoint_failed(&e.path, &e.reason))
    }
}

fn checkpoint_failed(path: &Path, e: &dyn std::fmt::Display) -> StateError {
    StateError {
        path: path.to_path_buf(),
        reason: format!("cannot write a checkpoint: {e}"),
    }
}

/// Writes `dataset` (with its meta file) as the next checkpoint of the state directory
/// `dir`, not yet in force: the slow part of a checkpoint, which needs no lock. One at a
/// time: it clears what an earlier attempt left.
pub fn prepare_checkpoint(
    dir: &Path,
    dataset: &crate::store::Dataset,
    reference_time: Option<String>,
    remembered: &[crate::events::idempotency::RememberedList],
) -> Result<PreparedCheckpoint, StateError> {
    let partial = dir.join(format!("{CHECKPOINT}.tmp"));
    let old = dir.join(format!("{CHECKPOINT}.old"));
    let current = dir.join(CHECKPOINT);
    // An earlier swap that moved the checkpoint aside and failed to move its successor in
    // (and failed to undo that): the one aside is in force.
    if old.exists() && !current.exists() {
        fs::rename(&old, &current).map_err(|e| checkpoint_failed(&old, &e))?;
    }
    // Leftovers of an earlier attempt.
    for leftover in [&partial, &old] {
        if leftover.exists() {
            fs::remove_dir_all(leftover).map_err(|e| checkpoint_failed(leftover, &e))?;
        }
    }
    fs::create_dir_all(&partial).map_err(|e| checkpoint_failed(&partial, &e))?;
    crate::events::write_tables(dataset, &partial).map_err(|e| checkpoint_failed(&partial, &e))?;
    let meta = crate::data::DatasetMeta {
        reference_time,
        ..Default::default()
    };
    let meta = serde_json::to_vec_pretty(&meta).map_err(|e| checkpoint_failed(&partial, &e))?;
    write_atomically(&partial.join(crate::data::loader::META_FILE), &meta)?;
    crate::events::idempotency::write_file(&partial, remembered)
        .map_err(|e| checkpoint_failed(&e.path, &e.reason))?;
    // A name no file has: creating the new log must never empty the live one. Until the
    // checkpoint is in force, a start removes it with the other logs not in force.
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%6f");
    let log_name = (0..)
        .map(|n| format!("events-{stamp}-{n}.log"))
        .find(|name| !dir.join(name).exists())
        .expect("some name is free");
    let path = dir.join(&log_name);
    File::create(&path)
        .and_then(|f| f.sync_all())
        .map_err(|e| checkpoint_failed(&path, &e))?;
    let log = crate::events::log::EventLog::open_file(&path)
        .map_err(|e| checkpoint_failed(&e.path, &e.reason))?
        .log;
    Ok(PreparedCheckpoint {
        partial,
        log_name,
        log,
    })
}

/// Logs other than `keep` hold events a checkpoint has folded in (or, from a checkpoint
/// a crash cut short, none that were acknowledged).
fn remove_logs_except(dir: &Path, keep: &Path) -> Result<(), StateError> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("events") && name.ends_with(".log") && path != keep {
            fs::remove_file(&path).map_err(|e| StateError {
                path: path.clone(),
                reason: format!("cannot remove a folded log: {e}"),
            })?;
        }
    }
    Ok(())
}

/// Writes `bytes` to `path` so that a crash at any moment leaves either the old file or
/// the new one.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), StateError> {
    let failed = |what: &str, e: std::io::Error| {
        tracing::error!(
            "{}: cannot {what} ({e}): the change is refused",
            path.display()
        );
        StateError {
            path: path.to_path_buf(),
            reason: format!("cannot {what}: {e}"),
        }
    };
    let temporary = path.with_extension("json.tmp");
    let mut file = File::create(&temporary).map_err(|e| failed("create the temporary file", e))?;
    file.write_all(bytes)
        .map_err(|e| failed("write the temporary file", e))?;
    file.sync_all()
        .map_err(|e| failed("flush the temporary file", e))?;
    drop(file);
    fs::rename(&temporary, path).map_err(|e| failed("replace the file", e))?;
    // The rename is durable only once the directory is flushed. It has happened, though:
    // failing now would report a change as not made while the new file is in place.
    if let Some(dir) = path.parent()
        && let Err(e) = File::open(dir).and_then(|d| d.sync_all())
    {
        tracing::warn!(
            "{}: replaced, but the directory could not be flushed ({e}); a crash now may bring back the previous version",
            path.display()
        );
    }
    Ok(())
}
