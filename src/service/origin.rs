//! Which data a state directory belongs to. A state's event log and segments are written
//! over one dataset: replayed over another, its events would land on other customers,
//! orders and products. The first start records the data's fingerprint (each table file's
//! length and CRC-32, or the demo store's reference time), and every later start over
//! other data is refused with what differs.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::state::{StateDir, StateError, write_atomically};
use crate::data::value::{format_timestamp, parse_timestamp};
use crate::model::TableName;

const ORIGIN_FILE: &str = "data.json";

/// The data a state was first written over.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum DataOrigin {
    /// The built-in demo store generated with this reference time: every start generates
    /// the same store again, so a demo's state outlives the day it was made.
    Demo { reference_time: String },
    /// A dataset directory (the path as given, for messages only: the same files moved
    /// elsewhere are the same data).
    Files {
        path: String,
        files: Vec<FileFingerprint>,
    },
}

/// One table file's length and checksum.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileFingerprint {
    pub name: String,
    pub bytes: u64,
    /// CRC-32 (IEEE) of the whole file, as 8 hex digits.
    pub crc32: String,
}

impl DataOrigin {
    pub fn demo(reference_time_micros: i64) -> DataOrigin {
        DataOrigin::Demo {
            reference_time: format_timestamp(reference_time_micros),
        }
    }

    /// The demo's reference time, if this is the demo.
    pub fn demo_reference_time(&self) -> Option<i64> {
        match self {
            DataOrigin::Demo { reference_time } => parse_timestamp(reference_time).ok(),
            DataOrigin::Files { .. } => None,
        }
    }

    /// The fingerprint of a dataset directory: every table file in it, read whole.
    pub fn of_files(dir: &Path) -> Result<DataOrigin, StateError> {
        let names: Vec<String> = TableName::ALL
            .iter()
            .flat_map(|table| {
                ["parquet", "csv"].map(|extension| format!("{}.{extension}", table.file_stem()))
            })
            .filter(|name| dir.join(name).is_file())
            .collect();
        // One thread per file: reading 1.3 GB at M takes a fraction of the load.
        let files = std::thread::scope(|scope| {
            let readers: Vec<_> = names
                .iter()
                .map(|name| scope.spawn(move || checksum(&dir.join(name))))
                .collect();
            names
                .iter()
                .zip(readers)
                .map(|(name, reader)| {
                    let (bytes, crc32) = reader.join().expect("a checksum thread panicked")?;
                    Ok(FileFingerprint {
                        name: name.clone(),
                        bytes,
                        crc32: format!("{crc32:08x}"),
                    })
                })
                .collect::<Result<Vec<_>, StateError>>()
        })?;
        Ok(DataOrigin::Files {
            path: dir.display().to_string(),
            files,
        })
    }

    /// Why `now` is not the data this origin describes; `None` when it is.
    pub fn differs_from(&self, now: &DataOrigin) -> Option<String> {
        match (self, now) {
            (DataOrigin::Demo { reference_time }, DataOrigin::Demo { .. }) => {
                (self != now).then(|| format!("the demo store of {reference_time}"))
            }
            (DataOrigin::Demo { .. }, DataOrigin::Files { path, .. }) => Some(format!(
                "it belongs to the built-in demo store, not to {path}; leave out --data"
            )),
            (DataOrigin::Files { path, .. }, DataOrigin::Demo { .. }) => Some(format!(
                "it belongs to the data in {path}; pass --data with that data"
            )),
            (DataOrigin::Files { path, files }, DataOrigin::Files { files: now, .. }) => {
                let differences = file_differences(files, now);
                (!differences.is_empty()).then(|| {
                    format!(
                        "it belongs to the data first served from {path}, and this data differs: {}",
                        differences.join("; ")
                    )
                })
            }
        }
    }
}

fn file_differences(recorded: &[FileFingerprint], now: &[FileFingerprint]) -> Vec<String> {
    let mut differences = Vec::new();
    for file in recorded {
        match now.iter().find(|f| f.name == file.name) {
            None => differences.push(format!("{} is missing", file.name)),
            Some(f) if f != file => differences.push(format!(
                "{} has {} bytes, CRC-32 {} (it had {} bytes, CRC-32 {})",
                f.name, f.bytes, f.crc32, file.bytes, file.crc32
            )),
            Some(_) => {}
        }
    }
    for file in now {
        if !recorded.iter().any(|f| f.name == file.name) {
            differences.push(format!("{} is new", file.name));
        }
    }
    differences
}

fn checksum(path: &Path) -> Result<(u64, u32), StateError> {
    use std::io::Read;
    let failed = |e: std::io::Error| StateError {
        path: path.to_path_buf(),
        reason: format!("cannot read the file to fingerprint the data: {e}"),
    };
    let mut file = std::fs::File::open(path).map_err(failed)?;
    let mut hasher = crc32fast::Hasher::new();
    let mut buffer = vec![0u8; 1 << 20];
    let mut bytes = 0u64;
    loop {
        let n = file.read(&mut buffer).map_err(failed)?;
        if n == 0 {
            return Ok((bytes, hasher.finalize()));
        }
        hasher.update(&buffer[..n]);
        bytes += n as u64;
    }
}

impl StateDir {
    /// The data this state was first written over; `None` for a new state (or one
    /// written by a version that did not record it).
    pub fn data_origin(&self) -> Result<Option<DataOrigin>, StateError> {
        let path = self.dir().join(ORIGIN_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(StateError {
                    path,
                    reason: format!("cannot read the data's fingerprint: {e}"),
                });
            }
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| StateError {
                path,
                reason: format!("not the data's fingerprint segmint writes: {e}"),
            })
    }

    pub fn record_data_origin(&self, origin: &DataOrigin) -> Result<(), StateError> {
        let text = serde_json::to_vec_pretty(origin).expect("an origin serializes");
        write_atomically(&self.dir().join(ORIGIN_FILE), &text)
    }
}
