//! The change feed (`GET /changes`): every subject entering or leaving a stored segment,
//! numbered in the order the changes were published, with why and when — what an email or
//! ad tool needs to keep an audience in step without reading whole segments again.
//!
//! The service numbers and commits changes while it holds [`Publishing`], the one lock
//! every publication of memberships takes, so the numbers follow the order readers saw
//! the changes in. The latest [`ChangeFeed::retention`] changes stay in memory; with a state
//! directory they are also in `changes.log` (records of [`crate::records`]). A list of
//! events is acknowledged once its record in the event log, which carries the list's
//! changes too, is on disk: the feed file is written without waiting and flushed before a
//! checkpoint drops a log, so after a crash the changes it lacks are in the log.

use std::collections::VecDeque;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use crate::model::{MembershipChange, SegmentKey, SubjectId};
use crate::records::{Damage, RecordError, RecordFile};

pub const FEED_FILE: &str = "changes.log";
/// The feed file before the current one: with it, the files hold at least the kept
/// changes.
pub const PREVIOUS_FEED_FILE: &str = "changes.previous.log";
const MAGIC: [u8; 4] = *b"SGCH";

/// The default of [`ChangeFeed::retention`].
pub const DEFAULT_KEPT: usize = 1_000_000;

/// Why subjects moved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cause {
    /// A list of events (`POST /events`).
    Event,
    SegmentCreated,
    SegmentUpdated,
    SegmentDeleted,
    /// A refresh asked for (`POST /segments/{id}/refresh`, `POST /segments/refresh`).
    Refresh,
    /// A segment with relative dates re-matched for a new day.
    DayChanged,
}

impl Cause {
    const ALL: [Cause; 6] = [
        Cause::Event,
        Cause::SegmentCreated,
        Cause::SegmentUpdated,
        Cause::SegmentDeleted,
        Cause::Refresh,
        Cause::DayChanged,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Cause::Event => "event",
            Cause::SegmentCreated => "segment_created",
            Cause::SegmentUpdated => "segment_updated",
            Cause::SegmentDeleted => "segment_deleted",
            Cause::Refresh => "refresh",
            Cause::DayChanged => "day_changed",
        }
    }

    fn code(self) -> u8 {
        Cause::ALL
            .iter()
            .position(|c| *c == self)
            .expect("every cause is listed") as u8
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Move {
    pub subject: SubjectId,
    pub entered: bool,
}

/// `changes` in batches of one segment each, numbered from `first` on.
pub fn batches_of(changes: &[MembershipChange], first: u64, cause: Cause, at: i64) -> Vec<Batch> {
    let mut batches: Vec<Batch> = Vec::new();
    for (next, change) in (first..).zip(changes) {
        let step = Move {
            subject: change.subject,
            entered: change.entered,
        };
        match batches.last_mut() {
            Some(batch) if batch.segment == change.segment => batch.moves.push(step),
            _ => batches.push(Batch {
                first: next,
                at,
                cause,
                segment: change.segment.clone(),
                moves: vec![step],
            }),
        }
    }
    batches
}

/// Changes of one segment, from one cause at one instant, numbered from `first` on.
#[derive(Clone, Debug, PartialEq)]
pub struct Batch {
    pub first: u64,
    /// When they were published (µs).
    pub at: i64,
    pub cause: Cause,
    pub segment: SegmentKey,
    /// Never empty.
    pub moves: Vec<Move>,
}

impl Batch {
    fn last(&self) -> u64 {
        self.first + self.moves.len() as u64 - 1
    }

    /// The batch without its changes numbered below `seq` (`None` if none is left).
    fn since(&self, seq: u64) -> Option<Batch> {
        let skip = seq.saturating_sub(self.first) as usize;
        (skip < self.moves.len()).then(|| Batch {
            first: self.first + skip as u64,
            moves: self.moves[skip..].to_vec(),
            segment: self.segment.clone(),
            ..*self
        })
    }
}

/// One change as `GET /changes` answers it.
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    pub seq: u64,
    pub segment: SegmentKey,
    pub subject: SubjectId,
    pub entered: bool,
    pub cause: Cause,
    pub at: i64,
}

/// A page of the feed: its changes, and the `after` that reads on from it.
#[derive(Debug)]
pub struct Page {
    pub changes: Vec<Change>,
    pub next: u64,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FeedError {
    #[error(
        "changes up to {} are no longer kept (the oldest kept is {oldest}): read the segments' members again and follow the feed from after={}",
        oldest - 1,
        oldest - 1
    )]
    Gone { oldest: u64 },
    #[error("after={after} is past the newest change, {newest}: this feed has not numbered it")]
    Ahead { after: u64, newest: u64 },
}

/// The changes kept in memory: the latest [`ChangeFeed::retention`].
struct Window {
    batches: VecDeque<Arc<Batch>>,
    /// Changes of the front batch no longer kept.
    skip: usize,
    kept: usize,
    limit: usize,
    /// The number the next change gets.
    next: u64,
}

impl Window {
    fn new(limit: usize) -> Window {
        Window {
            batches: VecDeque::new(),
            skip: 0,
            kept: 0,
            limit,
            next: 1,
        }
    }

    fn oldest(&self) -> u64 {
        self.batches
            .front()
            .map_or(self.next, |front| front.first + self.skip as u64)
    }

    fn push(&mut self, batch: Arc<Batch>) {
        self.kept += batch.moves.len();
        self.next = batch.last() + 1;
        self.batches.push_back(batch);
        while self.kept > self.limit {
            let front = self.batches.front().expect("changes are kept");
            let remaining = front.moves.len() - self.skip;
            let excess = self.kept - self.limit;
            if excess >= remaining {
                self.batches.pop_front();
                self.skip = 0;
                self.kept -= remaining;
            } else {
                self.skip += excess;
                self.kept -= excess;
            }
        }
    }

    fn page(
        &self,
        after: u64,
        limit: usize,
        segment: Option<&SegmentKey>,
    ) -> Result<Page, FeedError> {
        let newest = self.next - 1;
        if after > newest {
            return Err(FeedError::Ahead { after, newest });
        }
        let oldest = self.oldest();
        if after + 1 < oldest {
            return Err(FeedError::Gone { oldest });
        }
        let from = self.batches.partition_point(|b| b.last() <= after);
        let mut changes = Vec::new();
        for batch in self.batches.range(from..) {
            if segment.is_some_and(|s| *s != batch.segment) {
                continue;
            }
            let start = (after + 1).max(oldest).saturating_sub(batch.first) as usize;
            for (offset, step) in batch.moves.iter().enumerate().skip(start) {
                if changes.len() == limit {
                    let next = changes.last().map_or(after, |c: &Change| c.seq);
                    return Ok(Page { changes, next });
                }
                changes.push(Change {
                    seq: batch.first + offset as u64,
                    segment: batch.segment.clone(),
                    subject: step.subject,
                    entered: step.entered,
                    cause: batch.cause,
                    at: batch.at,
                });
            }
        }
        // Everything up to the newest was read (or passed over).
        Ok(Page {
            changes,
            next: newest,
        })
    }
}

/// The feed file of a state directory.
struct FeedFile {
    records: RecordFile,
    /// Changes in the current file (once as many as are kept, a new one starts).
    changes: usize,
    dir: PathBuf,
}

struct FeedWriter {
    file: Option<FeedFile>,
    /// The number the next change gets.
    next: u64,
}

pub struct ChangeFeed {
    writer: Mutex<FeedWriter>,
    window: RwLock<Window>,
    newest: tokio::sync::watch::Sender<u64>,
}

impl ChangeFeed {
    /// A feed kept in memory only (a server without `--state`).
    pub fn in_memory(kept: usize) -> ChangeFeed {
        ChangeFeed::with(Window::new(kept.max(1)), None)
    }

    /// The feed of the state directory `dir`, as its file holds it (a torn or damaged end
    /// cut off: [`ChangeFeed::recover`] adds what the event log holds after it).
    pub fn open(dir: &Path, kept: usize) -> Result<ChangeFeed, RecordError> {
        let mut window = Window::new(kept.max(1));
        let previous = dir.join(PREVIOUS_FEED_FILE);
        if previous.exists() {
            let opened = RecordFile::open(&previous, MAGIC, check, Damage::CutOff)?;
            for payload in &opened.payloads {
                for batch in decode(payload).expect("checked when read") {
                    if batch.first >= window.next {
                        window.push(Arc::new(batch));
                    }
                }
            }
        }
        let opened = RecordFile::open(&dir.join(FEED_FILE), MAGIC, check, Damage::CutOff)?;
        let mut changes = 0;
        for payload in &opened.payloads {
            for batch in decode(payload).expect("checked when read") {
                changes += batch.moves.len();
                if batch.first >= window.next {
                    window.push(Arc::new(batch));
                }
            }
        }
        let file = FeedFile {
            records: opened.file,
            changes,
            dir: dir.to_path_buf(),
        };
        Ok(ChangeFeed::with(window, Some(file)))
    }

    fn with(window: Window, file: Option<FeedFile>) -> ChangeFeed {
        let next = window.next;
        ChangeFeed {
            writer: Mutex::new(FeedWriter { file, next }),
            window: RwLock::new(window),
            newest: tokio::sync::watch::Sender::new(next - 1),
        }
    }

    /// How many of the latest changes are kept.
    pub fn retention(&self) -> usize {
        self.read().limit
    }

    /// How many changes are kept now (at most [`ChangeFeed::retention`]).
    pub fn kept(&self) -> usize {
        self.read().kept
    }

    /// The lock every publication of memberships holds.
    pub fn publishing(&self) -> Publishing<'_> {
        let writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        Publishing {
            numbered: writer.next,
            writer,
            feed: self,
        }
    }

    /// Up to `limit` changes numbered after `after` (of one segment only, if given).
    pub fn page(
        &self,
        after: u64,
        limit: usize,
        segment: Option<&SegmentKey>,
    ) -> Result<Page, FeedError> {
        self.read().page(after, limit, segment)
    }

    /// The newest change's number (0 before the first), as it moves.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.newest.subscribe()
    }

    /// When the newest change kept was published.
    pub fn newest_at(&self) -> Option<i64> {
        self.read().batches.back().map(|b| b.at)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Window> {
        self.window.read().unwrap_or_else(|e| e.into_inner())
    }
}

/// Held while memberships are published: changes are numbered and committed in the order
/// of publication.
pub struct Publishing<'a> {
    writer: MutexGuard<'a, FeedWriter>,
    feed: &'a ChangeFeed,
    /// The number the next change numbered gets (changes numbered for one commit).
    numbered: u64,
}

impl Publishing<'_> {
    /// Numbers `changes` (grouped by segment, as [`MembershipChange`]s come) after those
    /// numbered before; the numbers are taken once committed, in one commit.
    pub fn number(&mut self, cause: Cause, at: i64, changes: &[MembershipChange]) -> Vec<Batch> {
        let batches = batches_of(changes, self.numbered, cause, at);
        self.numbered += changes.len() as u64;
        batches
    }

    /// How many of the latest changes the feed keeps.
    pub fn retention(&self) -> usize {
        self.feed.retention()
    }

    /// Numbers `count` moves of `segment` after those numbered before, of which only the
    /// last ones, `kept`, are made: the others are past the retention at once.
    pub fn number_moves(
        &mut self,
        cause: Cause,
        at: i64,
        segment: &SegmentKey,
        count: u64,
        kept: Vec<Move>,
    ) -> Option<Batch> {
        debug_assert!(kept.len() as u64 <= count);
        let first = self.numbered + count - kept.len() as u64;
        self.numbered += count;
        (!kept.is_empty()).then(|| Batch {
            first,
            at,
            cause,
            segment: segment.clone(),
            moves: kept,
        })
    }

    /// Puts numbered batches in the feed: in memory at once, in the feed file (flushed if
    /// `flush`). An error writing the file leaves them in memory and says so.
    pub fn commit(&mut self, batches: Vec<Batch>, flush: bool) -> Result<(), RecordError> {
        let Some(last) = batches.last() else {
            return Ok(());
        };
        debug_assert!(batches[0].first >= self.writer.next);
        self.writer.next = self.numbered.max(last.last() + 1);
        self.numbered = self.writer.next;
        let newest = last.last();
        let limit = self.feed.retention();
        // What retention drops at once is not written; the rest is encoded before the
        // batches move into the window.
        let oldest = (newest + 1).saturating_sub(limit as u64);
        let mut payload = Vec::new();
        let mut written = 0;
        if self.writer.file.is_some() {
            if batches[0].first >= oldest {
                encode(&batches, &mut payload);
                written = batches.iter().map(|b| b.moves.len()).sum();
            } else {
                let kept: Vec<Batch> = batches.iter().filter_map(|b| b.since(oldest)).collect();
                encode(&kept, &mut payload);
                written = kept.iter().map(|b| b.moves.len()).sum();
            }
        }
        {
            let mut window = self.feed.window.write().unwrap_or_else(|e| e.into_inner());
            for batch in batches {
                window.push(Arc::new(batch));
            }
        }
        self.feed.newest.send_replace(newest);
        let Some(file) = &mut self.writer.file else {
            return Ok(());
        };
        file.records.append(&[&payload], flush)?;
        file.changes += written;
        if file.changes >= limit {
            rotate(file)?;
        }
        Ok(())
    }

    /// Adds the changes the event log holds past the feed file's end (at start).
    pub fn recover(&mut self, logged: Vec<Batch>) -> Result<(), RecordError> {
        let mut missing = Vec::new();
        for batch in logged {
            let Some(batch) = batch.since(self.writer.next) else {
                continue;
            };
            if batch.first > self.writer.next {
                tracing::warn!(
                    "the change feed lacks changes {} to {}: they were neither in the feed file nor in the event log",
                    self.writer.next,
                    batch.first - 1
                );
                self.commit(std::mem::take(&mut missing), false)?;
                self.writer.next = batch.first;
                self.numbered = batch.first;
            }
            missing.push(batch);
        }
        self.commit(missing, true)
    }

    /// Flushes the feed file: before a checkpoint drops the log that holds its end.
    pub fn flush(&mut self) -> Result<(), RecordError> {
        match &mut self.writer.file {
            Some(file) => file.records.flush(),
            None => Ok(()),
        }
    }
}

/// Starts a new feed file once the current one holds as many changes as are kept: the
/// current one (flushed) becomes the previous one, replacing the one before, whose
/// changes are all past retention. Nothing kept is written again, so the writer waits
/// only for a flush and a rename.
fn rotate(file: &mut FeedFile) -> Result<(), RecordError> {
    let path = file.dir.join(FEED_FILE);
    let previous = file.dir.join(PREVIOUS_FEED_FILE);
    let failed = |e: &dyn std::fmt::Display| RecordError {
        path: path.clone(),
        reason: format!("cannot start a new change feed file: {e}"),
    };
    file.records.flush()?;
    std::fs::rename(&path, &previous).map_err(|e| failed(&e))?;
    // A crash now leaves no current file: the next start reads the previous one alone.
    let fresh = RecordFile::open(&path, MAGIC, check, Damage::CutOff)?.file;
    File::open(&file.dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| failed(&e))?;
    file.records = fresh;
    file.changes = 0;
    Ok(())
}

fn check(payload: &[u8]) -> Result<(), String> {
    decode(payload).map(|_| ())
}

const VISITOR: u8 = 1;
const ENTERED: u8 = 2;

/// Writes batches as bytes (little-endian): `first u64 | at i64 | cause u8 | key | count
/// u32 | count × (flags u8, id i64)`, the key a `0` and a `u64`, or a `1`, a `u32` length
/// and UTF-8.
pub fn encode(batches: &[Batch], out: &mut Vec<u8>) {
    for batch in batches {
        out.extend_from_slice(&batch.first.to_le_bytes());
        out.extend_from_slice(&batch.at.to_le_bytes());
        out.push(batch.cause.code());
        match &batch.segment {
            SegmentKey::Number(n) => {
                out.push(0);
                out.extend_from_slice(&n.to_le_bytes());
            }
            SegmentKey::Name(name) => {
                out.push(1);
                out.extend_from_slice(&(name.len() as u32).to_le_bytes());
                out.extend_from_slice(name.as_bytes());
            }
        }
        out.extend_from_slice(&(batch.moves.len() as u32).to_le_bytes());
        for step in &batch.moves {
            let (kind, id) = match step.subject {
                SubjectId::Customer(id) => (0, id),
                SubjectId::Visitor(id) => (VISITOR, id),
            };
            out.push(kind | if step.entered { ENTERED } else { 0 });
            out.extend_from_slice(&id.to_le_bytes());
        }
    }
}

/// Reads what [`encode`] wrote.
pub fn decode(bytes: &[u8]) -> Result<Vec<Batch>, String> {
    let mut reader = Bytes { bytes, at: 0 };
    let mut batches = Vec::new();
    while reader.at < bytes.len() {
        let first = u64::from_le_bytes(reader.take()?);
        let at = i64::from_le_bytes(reader.take()?);
        let [cause] = reader.take()?;
        let cause = *Cause::ALL
            .get(cause as usize)
            .ok_or_else(|| format!("unknown cause {cause}"))?;
        let segment = match reader.take()? {
            [0] => SegmentKey::Number(u64::from_le_bytes(reader.take()?)),
            [1] => {
                let length = u32::from_le_bytes(reader.take()?) as usize;
                let name = reader.slice(length)?;
                let name = std::str::from_utf8(name).map_err(|e| e.to_string())?;
                SegmentKey::Name(name.to_string())
            }
            [other] => return Err(format!("unknown segment id kind {other}")),
        };
        let count = u32::from_le_bytes(reader.take()?) as usize;
        if count == 0 || first == 0 {
            return Err("a batch without changes or numbered 0".into());
        }
        let mut moves = Vec::with_capacity(count.min(bytes.len() / 9));
        for _ in 0..count {
            let [flags] = reader.take()?;
            if flags & !(VISITOR | ENTERED) != 0 {
                return Err(format!("unknown change flags {flags}"));
            }
            let id = i64::from_le_bytes(reader.take()?);
            moves.push(Move {
                subject: if flags & VISITOR != 0 {
                    SubjectId::Visitor(id)
                } else {
                    SubjectId::Customer(id)
                },
                entered: flags & ENTERED != 0,
            });
        }
        batches.push(Batch {
            first,
            at,
            cause,
            segment,
            moves,
        });
    }
    Ok(batches)
}

struct Bytes<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Bytes<'a> {
    fn slice(&mut self, n: usize) -> Result<&'a [u8], String> {
        let slice = self
            .bytes
            .get(self.at..self.at + n)
            .ok_or("the changes end early")?;
        self.at += n;
        Ok(slice)
    }

    fn take<const N: usize>(&mut self) -> Result<[u8; N], String> {
        Ok(self.slice(N)?.try_into().expect("N bytes"))
    }
}
