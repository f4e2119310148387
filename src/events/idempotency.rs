//! Idempotency keys of `POST /events`: a producer that retries a list after a timeout
//! sends the same `Idempotency-Key`, and a list applied once is not applied again but
//! answered with its first answer.
//!
//! A key travels with its list into the event log (the record holds both), so it is
//! durable exactly when the list is. A checkpoint, which replaces the log, writes the keys
//! remembered so far beside its data ([`write_file`]); a start reads them back, then the
//! log's. Keys are remembered for [`KEPT_FOR`] and at most [`KEPT_AT_MOST`] of them.

use std::collections::VecDeque;
use std::path::Path;

use rustc_hash::FxHashMap;
use serde_json::Value as Json;
use sha2::{Digest, Sha256};

use crate::feed::{Batch, Cause};
use crate::model::MembershipChange;
use crate::records::{Damage, RecordError, RecordFile};

/// How long a key is remembered (µs): a day, as payment APIs keep theirs.
pub const KEPT_FOR: i64 = 24 * 3600 * 1_000_000;
/// Keys remembered at most, the oldest forgotten first.
pub const KEPT_AT_MOST: usize = 100_000;
/// The longest key taken (a UUID is 36 characters).
pub const MAX_KEY_LENGTH: usize = 255;

/// The file a checkpoint keeps its remembered keys in.
pub const KEYS_FILE: &str = "idempotency-keys.log";
const MAGIC: [u8; 4] = *b"SGIK";

/// A list's idempotency key and the digest of the list it came with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdempotencyKey {
    pub key: String,
    /// SHA-256 of the list's JSON (as parsed: spacing and key order do not matter), hex.
    pub digest: String,
}

impl IdempotencyKey {
    /// The key a request gave with `list`: 1 to [`MAX_KEY_LENGTH`] visible ASCII
    /// characters, else why not.
    pub fn new(key: &str, list: &Json) -> Result<IdempotencyKey, String> {
        if key.is_empty() || key.len() > MAX_KEY_LENGTH {
            return Err(format!(
                "an Idempotency-Key has 1 to {MAX_KEY_LENGTH} characters, not {}",
                key.len()
            ));
        }
        if !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err("an Idempotency-Key has visible ASCII characters only".into());
        }
        let bytes = serde_json::to_vec(list).expect("JSON values serialise");
        let digest = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Ok(IdempotencyKey {
            key: key.to_string(),
            digest,
        })
    }
}

/// A list applied under a key, and its answer.
#[derive(Clone, Debug, PartialEq)]
pub struct RememberedList {
    pub key: IdempotencyKey,
    /// When it was applied (µs).
    pub at: i64,
    pub applied: usize,
    pub changes: Vec<MembershipChange>,
}

/// What a request with a key meets.
pub enum Begin {
    /// The key is new: apply the list (the key is now in use until
    /// [`Remembered::remember`] or [`Remembered::abandon`]).
    New,
    /// The list was applied: its answer.
    Applied(RememberedList),
    /// A request with the key is being applied.
    InUse,
    /// The key was used with another list.
    OtherList,
}

/// The keys remembered, and those of lists being applied.
#[derive(Default)]
pub struct Remembered {
    lists: FxHashMap<String, RememberedList>,
    /// Keys in the order they were remembered (some may be forgotten since).
    order: VecDeque<String>,
    /// Keys of lists being applied, with their digests.
    in_use: FxHashMap<String, String>,
}

impl Remembered {
    /// Remembers what a start read (checkpoint first, then the log), forgetting what is
    /// older than [`KEPT_FOR`] at `now`.
    pub fn of(lists: impl IntoIterator<Item = RememberedList>, now: i64) -> Remembered {
        let mut remembered = Remembered::default();
        for list in lists {
            remembered.remember(list, now);
        }
        remembered
    }

    pub fn begin(&mut self, key: &IdempotencyKey, now: i64) -> Begin {
        self.forget_old(now);
        if let Some(list) = self.lists.get(&key.key) {
            return if list.key.digest == key.digest {
                Begin::Applied(list.clone())
            } else {
                Begin::OtherList
            };
        }
        if self.in_use.contains_key(&key.key) {
            return Begin::InUse;
        }
        self.in_use.insert(key.key.clone(), key.digest.clone());
        Begin::New
    }

    /// The list under a key was refused (or failed): the key is free again.
    pub fn abandon(&mut self, key: &IdempotencyKey) {
        self.in_use.remove(&key.key);
    }

    /// A list applied (and logged) under its key.
    pub fn remember(&mut self, list: RememberedList, now: i64) {
        self.in_use.remove(&list.key.key);
        if now - list.at >= KEPT_FOR {
            return;
        }
        if self
            .lists
            .insert(list.key.key.clone(), list.clone())
            .is_none()
        {
            self.order.push_back(list.key.key);
        }
        while self.lists.len() > KEPT_AT_MOST
            && let Some(oldest) = self.order.pop_front()
        {
            self.lists.remove(&oldest);
        }
        self.forget_old(now);
    }

    fn forget_old(&mut self, now: i64) {
        while let Some(oldest) = self.order.front() {
            match self.lists.get(oldest) {
                Some(list) if now - list.at < KEPT_FOR => break,
                Some(_) => {
                    self.lists.remove(oldest);
                }
                None => {}
            }
            self.order.pop_front();
        }
    }

    /// The lists remembered, oldest first.
    pub fn lists(&self) -> Vec<RememberedList> {
        self.order
            .iter()
            .filter_map(|key| self.lists.get(key).cloned())
            .collect()
    }

    pub fn len(&self) -> usize {
        self.lists.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lists.is_empty()
    }
}

/// The changes a list made, as its log record keeps them.
pub fn changes_of(batches: &[Batch]) -> Vec<MembershipChange> {
    batches
        .iter()
        .flat_map(|batch| {
            batch.moves.iter().map(|step| MembershipChange {
                segment: batch.segment.clone(),
                subject: step.subject,
                entered: step.entered,
            })
        })
        .collect()
}

/// The record header of a keyed list in the event log and in [`KEYS_FILE`].
#[derive(serde::Serialize, serde::Deserialize)]
pub(super) struct KeyHeader {
    pub idempotency_key: String,
    pub digest: String,
    pub at: i64,
}

impl KeyHeader {
    pub(super) fn of(key: &IdempotencyKey, at: i64) -> KeyHeader {
        KeyHeader {
            idempotency_key: key.key.clone(),
            digest: key.digest.clone(),
            at,
        }
    }

    pub(super) fn key(&self) -> IdempotencyKey {
        IdempotencyKey {
            key: self.idempotency_key.clone(),
            digest: self.digest.clone(),
        }
    }
}

/// A record of [`KEYS_FILE`]: the header with `applied`, then the changes.
#[derive(serde::Serialize, serde::Deserialize)]
struct KeyRecord {
    #[serde(flatten)]
    header: KeyHeader,
    applied: usize,
}

/// Writes `lists` to `dir/`[`KEYS_FILE`], flushed.
pub fn write_file(dir: &Path, lists: &[RememberedList]) -> Result<(), RecordError> {
    let mut file = RecordFile::open(&dir.join(KEYS_FILE), MAGIC, check, Damage::Refuse)?.file;
    let payloads: Vec<Vec<u8>> = lists
        .iter()
        .map(|list| {
            let record = KeyRecord {
                header: KeyHeader::of(&list.key, list.at),
                applied: list.applied,
            };
            let mut payload = serde_json::to_vec(&record).expect("records serialise");
            // Numbered from 1: the feed's numbers are not kept, [`changes_of`] reads them
            // back.
            let batches = crate::feed::batches_of(&list.changes, 1, Cause::Event, list.at);
            crate::feed::encode(&batches, &mut payload);
            payload
        })
        .collect();
    let payloads: Vec<&[u8]> = payloads.iter().map(Vec::as_slice).collect();
    file.append(&payloads, true)
}

/// The lists `dir/`[`KEYS_FILE`] remembers (none without the file: a checkpoint from
/// before keys).
pub fn read_file(dir: &Path) -> Result<Vec<RememberedList>, RecordError> {
    let path = dir.join(KEYS_FILE);
    if !path.exists() {
        return Ok(Vec::new());
    }
    let opened = RecordFile::open(&path, MAGIC, check, Damage::Refuse)?;
    Ok(opened
        .payloads
        .iter()
        .map(|payload| split(payload).expect("checked when read"))
        .collect())
}

fn split(payload: &[u8]) -> Result<RememberedList, String> {
    let mut values = serde_json::Deserializer::from_slice(payload).into_iter::<KeyRecord>();
    let record = match values.next() {
        Some(Ok(record)) => record,
        Some(Err(e)) => return Err(format!("not a remembered key: {e}")),
        None => return Err("an empty record".into()),
    };
    let batches = crate::feed::decode(&payload[values.byte_offset()..])?;
    Ok(RememberedList {
        key: record.header.key(),
        at: record.header.at,
        applied: record.applied,
        changes: changes_of(&batches),
    })
}

fn check(payload: &[u8]) -> Result<(), String> {
    split(payload).map(|_| ())
}
