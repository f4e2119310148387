//! Append-only files of checksummed records: the event log and the change feed of the
//! state directory.
//!
//! A record is `magic (4 bytes) | length (u32 LE) | CRC-32 of length and payload (u32 LE) |
//! payload`. A crash while appending leaves a torn last record: shorter than its length
//! says, failing its checksum, or a payload its reader refuses. Nothing acknowledged it, so
//! it is cut off at the next start (its bytes kept beside the file in `<file>.torn`).

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

const HEADER: usize = 12;

#[derive(Debug, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct RecordError {
    pub path: PathBuf,
    pub reason: String,
}

/// Decides whether a payload is one its reader takes.
pub type PayloadCheck = fn(&[u8]) -> Result<(), String>;

/// What to do with a bad record that whole records follow.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Damage {
    /// Stop: the file is damaged, not torn (what follows was acknowledged).
    Refuse,
    /// Cut the file there too: what follows is also kept elsewhere (the change feed's
    /// records after its last flush are in the event log), and a power loss may have
    /// written later pages before earlier ones.
    CutOff,
}

pub struct RecordFile {
    file: File,
    path: PathBuf,
    magic: [u8; 4],
    check: PayloadCheck,
    /// Bytes of whole records: where the next one goes.
    end: u64,
    /// Set when an append failed and could not be undone (later records would follow a
    /// broken one), or when the state directory could not be flushed: no more are
    /// written until a restart.
    broken: bool,
}

/// What a record file held when opened.
pub struct Opened {
    pub file: RecordFile,
    /// Every whole record's payload, oldest first.
    pub payloads: Vec<Vec<u8>>,
    /// Bytes of a torn (or, with [`Damage::CutOff`], damaged) end that were cut off.
    pub dropped_bytes: u64,
}

impl RecordFile {
    /// Opens (creating) the file at `path`, reads every record and cuts off a torn end.
    pub fn open(
        path: &Path,
        magic: [u8; 4],
        check: PayloadCheck,
        damage: Damage,
    ) -> Result<Opened, RecordError> {
        let path = path.to_path_buf();
        let fail = |reason: String| RecordError {
            path: path.clone(),
            reason,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| fail(format!("cannot open: {e}")))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .map_err(|e| fail(format!("cannot read: {e}")))?;
        let reader = Reader {
            bytes: &bytes,
            magic,
            check,
        };
        let mut payloads = Vec::new();
        let mut at = 0usize;
        while at < bytes.len() {
            match reader.record_at(at) {
                Ok((payload, next)) => {
                    payloads.push(payload.to_vec());
                    at = next;
                }
                Err(why) if damage == Damage::CutOff || !reader.whole_record_after(at + 1) => {
                    // A torn end was never acknowledged; a damaged end of a file whose
                    // records are also kept elsewhere is taken from there.
                    tracing::warn!(
                        "{}: cut off a torn or damaged end at byte {at} ({why})",
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
            let torn = PathBuf::from(format!("{}.torn", path.display()));
            std::fs::write(&torn, &bytes[at..])
                .and_then(|()| file.set_len(at as u64))
                .and_then(|()| file.sync_all())
                .map_err(|e| fail(format!("cannot cut off the torn end: {e}")))?;
        }
        file.seek(SeekFrom::Start(at as u64))
            .map_err(|e| fail(e.to_string()))?;
        Ok(Opened {
            file: RecordFile {
                file,
                path,
                magic,
                check,
                end: at as u64,
                broken: false,
            },
            payloads,
            dropped_bytes,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes of whole records.
    pub fn len(&self) -> u64 {
        self.end
    }

    pub fn is_empty(&self) -> bool {
        self.end == 0
    }

    /// Refuses every later append: the file may not be the one a restart reads.
    pub fn refuse_appends(&mut self) {
        self.broken = true;
    }

    /// Appends payloads as records in one write, flushed to disk when `flush` (else left
    /// to the page cache): all of them or none.
    pub fn append(&mut self, payloads: &[&[u8]], flush: bool) -> Result<(), RecordError> {
        let fail = |reason: String| RecordError {
            path: self.path.clone(),
            reason,
        };
        if self.broken {
            return Err(fail(
                "an earlier write to the state directory failed; restart the server".into(),
            ));
        }
        let mut record = Vec::with_capacity(payloads.iter().map(|p| p.len() + HEADER).sum());
        for payload in payloads {
            debug_assert!((self.check)(payload).is_ok());
            let length = u32::try_from(payload.len())
                .map_err(|_| fail("a record over 4 GiB cannot be written".into()))?;
            record.extend_from_slice(&self.magic);
            record.extend_from_slice(&length.to_le_bytes());
            record.extend_from_slice(&checksum(&length.to_le_bytes(), payload).to_le_bytes());
            record.extend_from_slice(payload);
        }
        let mut written = self.file.write_all(&record);
        if flush {
            written = written.and_then(|()| self.file.sync_data());
        }
        if let Err(e) = written {
            tracing::error!(
                "{}: cannot write to the state directory ({e}): the change is refused",
                self.path.display()
            );
            // Undo the partial record, so that the next one does not follow garbage.
            let undone = self
                .file
                .set_len(self.end)
                .and_then(|()| self.file.seek(SeekFrom::Start(self.end)).map(|_| ()));
            if undone.is_err() {
                self.broken = true;
            }
            return Err(fail(format!("cannot write: {e}")));
        }
        self.end += record.len() as u64;
        Ok(())
    }

    /// Flushes what was appended without flushing.
    pub fn flush(&mut self) -> Result<(), RecordError> {
        self.file.sync_data().map_err(|e| {
            tracing::error!(
                "{}: cannot flush the state directory ({e}): changes are refused until a restart",
                self.path.display()
            );
            // Whether the unflushed records reached the disk is unknown now.
            self.broken = true;
            RecordError {
                path: self.path.clone(),
                reason: format!("cannot flush: {e}"),
            }
        })
    }
}

fn checksum(length: &[u8], payload: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(length);
    hasher.update(payload);
    hasher.finalize()
}

struct Reader<'a> {
    bytes: &'a [u8],
    magic: [u8; 4],
    check: PayloadCheck,
}

impl<'a> Reader<'a> {
    /// The payload of the record at `at` and where the next record starts.
    fn record_at(&self, at: usize) -> Result<(&'a [u8], usize), String> {
        let bytes = self.bytes;
        let header = bytes
            .get(at..at + HEADER)
            .ok_or("the header is incomplete")?;
        if header[..4] != self.magic {
            return Err("no record starts here".into());
        }
        let length = u32::from_le_bytes(header[4..8].try_into().expect("4 bytes")) as usize;
        let stored = u32::from_le_bytes(header[8..].try_into().expect("4 bytes"));
        let payload = bytes
            .get(at + HEADER..at + HEADER + length)
            .ok_or_else(|| format!("{length} bytes announced, fewer written"))?;
        if checksum(&header[4..8], payload) != stored {
            return Err("the checksum does not match".into());
        }
        (self.check)(payload)?;
        Ok((payload, at + HEADER + length))
    }

    /// Whether a whole, valid record starts anywhere at or after `from`: then a bad
    /// record before it is damage, not a torn end.
    fn whole_record_after(&self, from: usize) -> bool {
        let mut at = from;
        while let Some(found) = self
            .bytes
            .get(at..)
            .and_then(|rest| rest.windows(4).position(|w| w == self.magic))
        {
            if self.record_at(at + found).is_ok() {
                return true;
            }
            at += found + 1;
        }
        false
    }
}
