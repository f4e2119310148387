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
const FORMAT: u32 = 1;

#[derive(Debug, thiserror::Error)]
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
        lock.try_lock().map_err(|e| StateError {
            path: dir.to_path_buf(),
            reason: match e {
                fs::TryLockError::WouldBlock => {
                    "another segmint process uses this state directory".to_string()
                }
                fs::TryLockError::Error(e) => format!("cannot lock the state directory: {e}"),
            },
        })?;
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

/// Writes `bytes` to `path` so that a crash at any moment leaves either the old file or
/// the new one.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), StateError> {
    let failed = |what: &str, e: std::io::Error| StateError {
        path: path.to_path_buf(),
        reason: format!("cannot {what}: {e}"),
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
