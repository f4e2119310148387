//! The event log (`--state DIR/events.log`): every accepted list of events, appended and
//! flushed to disk before the request is answered, replayed on top of the loaded data at
//! start.
//!
//! A record is `"SGEV" | length (u32 LE) | CRC-32 of length and payload (u32 LE) | payload`,
//! the payload being the list as JSON. A crash while appending leaves a torn last record:
//! shorter than its length says, failing its checksum, or not a list. That request was
//! never answered, so the record is dropped at the next start (cut off the file, its
//! bytes kept beside it in `<log>.torn`). A bad record with a whole record anywhere after
//! it is not a crash but damage, and stops the start.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde_json::Value as Json;

use super::EventList;

pub const LOG_FILE: &str = "events.log";

const MAGIC: &[u8; 4] = b"SGEV";
const HEADER: usize = 12;
/// The shortest payload, `[]`.
const SHORTEST: usize = 2;

#[derive(Debug, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct LogError {
    pub path: PathBuf,
    pub reason: String,
}

pub struct EventLog {
    file: File,
    path: PathBuf,
    /// Bytes of whole records: where the next one goes.
    end: u64,
    /// Set when an append failed and could not be undone (later records would follow a
    /// broken one), or when the state directory could not be flushed: no more are
    /// written until a restart.
    broken: bool,
}

/// What the log held at start.
pub struct Recovered {
    pub log: EventLog,
    /// Every logged list, oldest first.
    pub lists: Vec<Json>,
    /// Bytes of a torn last record that were cut off (0 if none).
    pub dropped_bytes: u64,
}

impl EventLog {
    /// Opens (creating) the log `events.log` in `dir`: see [`EventLog::open_file`].
    pub fn open(dir: &Path) -> Result<Recovered, LogError> {
        EventLog::open_file(&dir.join(LOG_FILE))
    }

    /// Opens (creating) the log at `path`, reads every record and cuts off a torn last
    /// one.
    pub fn open_file(path: &Path) -> Result<Recovered, LogError> {
        let path = path.to_path_buf();
        let fail = |reason: String| LogError {
            path: path.clone(),
            reason,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| fail(format!("cannot open the event log: {e}")))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .map_err(|e| fail(format!("cannot read the event log: {e}")))?;
        let mut lists = Vec::new();
        let mut at = 0usize;
        while at < bytes.len() {
            match record_at(&bytes, at) {
                Ok((list, next)) => {
                    lists.push(list);
                    at = next;
                }
                Err(why) if !whole_record_after(&bytes, at + 1) => {
                    tracing::warn!(
                        "{}: dropped a torn last record at byte {at} ({why}): its request was never answered",
                        path.display()
                    );
                    break;
                }
                Err(why) => {
                    return Err(fail(format!(
                        "record at byte {at} is damaged ({why}) and whole records follow it"
                    )));
                }
            }
        }
        let dropped_bytes = (bytes.len() - at) as u64;
        if dropped_bytes > 0 {
            // Kept, not destroyed: a torn record is never acknowledged, but its bytes are
            // evidence.
            let torn = path.with_extension("log.torn");
            std::fs::write(&torn, &bytes[at..])
                .and_then(|()| file.set_len(at as u64))
                .and_then(|()| file.sync_all())
                .map_err(|e| fail(format!("cannot cut off the torn last record: {e}")))?;
        }
        file.seek(SeekFrom::Start(at as u64))
            .map_err(|e| fail(e.to_string()))?;
        Ok(Recovered {
            log: EventLog {
                file,
                path,
                end: at as u64,
                broken: false,
            },
            lists,
            dropped_bytes,
        })
    }

    /// Appends one list and flushes it to disk. On failure the log is as before.
    pub fn append(&mut self, list: &EventList) -> Result<(), LogError> {
        self.append_all(std::slice::from_ref(list))
    }

    /// Refuses every later append: the log may not be the one a restart reads.
    pub fn refuse_appends(&mut self) {
        self.broken = true;
    }

    /// Appends lists as one write, flushed to disk once: all of them or none.
    pub fn append_all(
        &mut self,
        lists: &[impl std::borrow::Borrow<EventList>],
    ) -> Result<(), LogError> {
        let fail = |reason: String| LogError {
            path: self.path.clone(),
            reason,
        };
        if self.broken {
            return Err(fail(
                "an earlier write to the state directory failed; restart the server".into(),
            ));
        }
        let mut record = Vec::new();
        for list in lists {
            let payload =
                serde_json::to_vec(list.borrow().json()).map_err(|e| fail(e.to_string()))?;
            let length = u32::try_from(payload.len())
                .map_err(|_| fail("a list of events over 4 GiB cannot be logged".into()))?;
            record.extend_from_slice(MAGIC);
            record.extend_from_slice(&length.to_le_bytes());
            record.extend_from_slice(&checksum(&length.to_le_bytes(), &payload).to_le_bytes());
            record.extend_from_slice(&payload);
        }
        let written = self
            .file
            .write_all(&record)
            .and_then(|()| self.file.sync_data());
        if let Err(e) = written {
            // Undo the partial record, so that the next one does not follow garbage.
            let undone = self
                .file
                .set_len(self.end)
                .and_then(|()| self.file.seek(SeekFrom::Start(self.end)).map(|_| ()));
            if undone.is_err() {
                self.broken = true;
            }
            return Err(fail(format!("cannot write the event log: {e}")));
        }
        self.end += record.len() as u64;
        Ok(())
    }
}

fn checksum(length: &[u8], payload: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(length);
    hasher.update(payload);
    hasher.finalize()
}

/// The list in the record at `at` and where the next record starts.
fn record_at(bytes: &[u8], at: usize) -> Result<(Json, usize), String> {
    let header = bytes
        .get(at..at + HEADER)
        .ok_or("the header is incomplete")?;
    if &header[..4] != MAGIC {
        return Err("no record starts here".into());
    }
    let length = u32::from_le_bytes(header[4..8].try_into().expect("4 bytes")) as usize;
    let stored = u32::from_le_bytes(header[8..].try_into().expect("4 bytes"));
    if length < SHORTEST {
        return Err(format!("a length of {length} holds no list"));
    }
    let payload = bytes
        .get(at + HEADER..at + HEADER + length)
        .ok_or_else(|| format!("{length} bytes announced, fewer written"))?;
    if checksum(&header[4..8], payload) != stored {
        return Err("the checksum does not match".into());
    }
    let list: Json = serde_json::from_slice(payload).map_err(|e| format!("not JSON: {e}"))?;
    if !list.is_array() {
        return Err("not a list of events".into());
    }
    Ok((list, at + HEADER + length))
}

/// Whether a whole, valid record starts anywhere at or after `from`: then a bad record
/// before it is damage, not a torn end.
fn whole_record_after(bytes: &[u8], from: usize) -> bool {
    let mut at = from;
    while let Some(found) = bytes
        .get(at..)
        .and_then(|rest| rest.windows(MAGIC.len()).position(|w| w == MAGIC))
    {
        if record_at(bytes, at + found).is_ok() {
            return true;
        }
        at += found + 1;
    }
    false
}
