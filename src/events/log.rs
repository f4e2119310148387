//! The event log (`--state DIR/events.log`): every accepted list of events, appended and
//! flushed to disk before the request is answered, replayed on top of the loaded data at
//! start.
//!
//! Records (see [`crate::records`], magic `SGEV`) hold a list as JSON followed by the
//! membership changes it made. A list sent with an idempotency key is kept as an object,
//! `{"idempotency_key", "digest", "at", "events": [...]}`, so that the key is durable
//! exactly when its list is. A crash while appending leaves a torn last record: that
//! request was never answered, so the record is dropped at the next start (its bytes kept
//! beside the log in `<log>.torn`). A bad record with a whole record anywhere after it is
//! not a crash but damage, and stops the start.

use std::path::{Path, PathBuf};

use serde_json::Value as Json;

use super::EventList;
use super::idempotency::{KeyHeader, RememberedList, changes_of};
use crate::feed::Batch;
use crate::records::{Damage, RecordFile};

pub const LOG_FILE: &str = "events.log";

const MAGIC: [u8; 4] = *b"SGEV";

pub use crate::records::RecordError as LogError;

pub struct EventLog {
    records: RecordFile,
}

/// What the log held at start.
pub struct Recovered {
    pub log: EventLog,
    /// Every logged list, oldest first.
    pub lists: Vec<Json>,
    /// The membership changes the lists made (as the change feed numbered them), in order.
    pub changes: Vec<Batch>,
    /// The lists logged with idempotency keys, and their answers.
    pub remembered: Vec<RememberedList>,
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
        let opened = RecordFile::open(path, MAGIC, check, Damage::Refuse)?;
        let mut lists = Vec::with_capacity(opened.payloads.len());
        let mut changes = Vec::new();
        let mut remembered = Vec::new();
        for payload in &opened.payloads {
            let (list, key, batches) = split(payload).expect("checked when read");
            if let Some(header) = key {
                remembered.push(RememberedList {
                    key: header.key(),
                    at: header.at,
                    applied: list.as_array().map_or(0, Vec::len),
                    changes: changes_of(&batches),
                });
            }
            lists.push(list);
            changes.extend(batches);
        }
        Ok(Recovered {
            log: EventLog {
                records: opened.file,
            },
            lists,
            changes,
            remembered,
            dropped_bytes: opened.dropped_bytes,
        })
    }

    pub fn path(&self) -> &Path {
        self.records.path()
    }

    /// Appends one list and flushes it to disk. On failure the log is as before.
    pub fn append(&mut self, list: &EventList) -> Result<(), LogError> {
        self.append_with_changes(list, &[])
    }

    /// Appends one list with the membership changes it made, in one record flushed to
    /// disk: the feed holds a list's changes exactly when the log holds the list.
    pub fn append_with_changes(
        &mut self,
        list: &EventList,
        changes: &[Batch],
    ) -> Result<(), LogError> {
        let mut payload = payload_of(list, &self.records)?;
        crate::feed::encode(changes, &mut payload);
        self.records.append(&[&payload], true)
    }

    /// Appends lists, each with the changes it made, in one write flushed to disk once:
    /// all of them or none.
    pub fn append_group(&mut self, lists: &[(&EventList, &[Batch])]) -> Result<(), LogError> {
        let mut payloads = Vec::with_capacity(lists.len());
        for (list, changes) in lists {
            let mut payload = payload_of(list, &self.records)?;
            crate::feed::encode(changes, &mut payload);
            payloads.push(payload);
        }
        let payloads: Vec<&[u8]> = payloads.iter().map(Vec::as_slice).collect();
        self.records.append(&payloads, true)
    }

    /// Refuses every later append: the log may not be the one a restart reads.
    pub fn refuse_appends(&mut self) {
        self.records.refuse_appends();
    }

    /// Appends lists as one write, flushed to disk once: all of them or none.
    pub fn append_all(
        &mut self,
        lists: &[impl std::borrow::Borrow<EventList>],
    ) -> Result<(), LogError> {
        let payloads = lists
            .iter()
            .map(|list| payload_of(list.borrow(), &self.records))
            .collect::<Result<Vec<_>, _>>()?;
        let payloads: Vec<&[u8]> = payloads.iter().map(Vec::as_slice).collect();
        self.records.append(&payloads, true)
    }
}

/// A keyed list as its record holds it.
#[derive(serde::Serialize)]
struct KeyedList<'a> {
    #[serde(flatten)]
    header: KeyHeader,
    events: &'a Json,
}

#[derive(serde::Deserialize)]
struct KeyedListRead {
    #[serde(flatten)]
    header: KeyHeader,
    events: Json,
}

fn payload_of(list: &EventList, records: &RecordFile) -> Result<Vec<u8>, LogError> {
    let written = match list.idempotency_key() {
        Some((key, at)) => serde_json::to_vec(&KeyedList {
            header: KeyHeader::of(key, *at),
            events: list.json(),
        }),
        None => serde_json::to_vec(list.json()),
    };
    written.map_err(|e| LogError {
        path: PathBuf::from(records.path()),
        reason: e.to_string(),
    })
}

/// A record's payload: the list as JSON (with its key, if it came with one), then the
/// changes it made (see [`crate::feed::encode`]; none in logs written before the feed).
fn split(payload: &[u8]) -> Result<(Json, Option<KeyHeader>, Vec<Batch>), String> {
    let mut values = serde_json::Deserializer::from_slice(payload).into_iter::<Json>();
    let (list, key) = match values.next() {
        Some(Ok(list)) if list.is_array() => (list, None),
        Some(Ok(keyed)) if keyed.is_object() => {
            let keyed: KeyedListRead = serde_json::from_value(keyed)
                .map_err(|e| format!("not a list of events with its key: {e}"))?;
            if !keyed.events.is_array() {
                return Err("not a list of events".into());
            }
            (keyed.events, Some(keyed.header))
        }
        Some(Ok(_)) => return Err("not a list of events".into()),
        Some(Err(e)) => return Err(format!("not JSON: {e}")),
        None => return Err("an empty record".into()),
    };
    let changes = crate::feed::decode(&payload[values.byte_offset()..])?;
    Ok((list, key, changes))
}

fn check(payload: &[u8]) -> Result<(), String> {
    split(payload).map(|_| ())
}
