//! Opening a Parquet data file with the Arrow schema its writer embedded, decoded apart.
//!
//! The embedded schema says what Parquet's own types cannot (timestamps in seconds, for
//! one), but arrow-ipc's decoder panics on a malformed one (an unknown time unit, say:
//! found by fuzzing). So the reader is told to skip it, and it is decoded here, where a
//! panic is caught and becomes the file's error. So is a panic of the page decoders on
//! malformed pages ([`unpanicked`]).

use std::cell::Cell;
use std::fs::File;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::Arc;

use base64::Engine as _;
use base64::prelude::BASE64_STANDARD;
use datafusion::arrow::datatypes::Schema;
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::ipc;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::ARROW_SCHEMA_META_KEY;
use datafusion::parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};
use datafusion::parquet::file::metadata::ParquetMetaData;

use super::error::LoadError;

/// A reader of the Parquet file at `path`, its columns typed by the embedded Arrow schema
/// when there is one.
pub fn open(path: &Path) -> Result<ParquetRecordBatchReaderBuilder<File>, LoadError> {
    let unreadable = |e: &dyn std::fmt::Display| {
        LoadError::file(path, format!("not a readable Parquet file: {e}"))
    };
    let file = File::open(path).map_err(|e| LoadError::file(path, e))?;
    let without_hint = ArrowReaderOptions::new().with_skip_arrow_metadata(true);
    let footer =
        ArrowReaderMetadata::load(&file, without_hint.clone()).map_err(|e| unreadable(&e))?;
    let options = match embedded_schema(footer.metadata()).map_err(|e| unreadable(&e))? {
        Some(schema) => without_hint.with_schema(Arc::new(schema)),
        None => without_hint,
    };
    let metadata = ArrowReaderMetadata::try_new(footer.metadata().clone(), options)
        .map_err(|e| unreadable(&e))?;
    Ok(ParquetRecordBatchReaderBuilder::new_with_metadata(
        file, metadata,
    ))
}

thread_local! {
    static DECODING: Cell<bool> = const { Cell::new(false) };
}

/// Whether this thread is in a decoder call whose panics the loader catches: a panic hook
/// (the fuzz targets') tells those from findings by it.
pub fn decoding() -> bool {
    DECODING.with(Cell::get)
}

/// Runs a decoder call of arrow or parquet, its panic caught.
fn caught<T>(decode: impl FnOnce() -> T) -> std::thread::Result<T> {
    DECODING.with(|flag| flag.set(true));
    let result = catch_unwind(AssertUnwindSafe(decode));
    DECODING.with(|flag| flag.set(false));
    result
}

/// The batches `reader` decodes, each error the file's; a panic of the decoder on malformed
/// pages (arrow-buffer's bounds checks on definition levels: found by fuzzing) is caught and
/// becomes the file's error, and no batch follows it.
pub fn unpanicked<'a>(
    mut reader: impl Iterator<Item = Result<RecordBatch, ArrowError>> + 'a,
    path: &'a Path,
) -> impl Iterator<Item = Result<RecordBatch, LoadError>> + 'a {
    let mut failed = false;
    std::iter::from_fn(move || {
        if failed {
            return None;
        }
        match caught(|| reader.next()) {
            Ok(batch) => {
                let batch = batch?;
                Some(batch.map_err(|e| LoadError::file(path, format!("cannot decode: {e}"))))
            }
            Err(_) => {
                failed = true;
                Some(Err(LoadError::file(
                    path,
                    "cannot decode: the Parquet decoder failed on malformed data",
                )))
            }
        }
    })
}

/// The Arrow schema in the file's key-value metadata, as the Parquet reader would decode
/// it (base64 of an IPC schema message), if there is one.
fn embedded_schema(metadata: &ParquetMetaData) -> Result<Option<Schema>, String> {
    let encoded = metadata
        .file_metadata()
        .key_value_metadata()
        .and_then(|pairs| pairs.iter().find(|kv| kv.key == ARROW_SCHEMA_META_KEY))
        .and_then(|kv| kv.value.as_deref());
    let Some(encoded) = encoded else {
        return Ok(None);
    };
    let malformed = |why: &dyn std::fmt::Display| {
        format!("the Arrow schema embedded in its metadata is malformed ({why})")
    };
    let bytes = BASE64_STANDARD.decode(encoded).map_err(|e| malformed(&e))?;
    // An IPC message may start with a continuation marker and its length.
    let message = match bytes.get(..4) {
        Some([255, 255, 255, 255]) if bytes.len() > 8 => &bytes[8..],
        _ => &bytes[..],
    };
    let message = ipc::root_as_message(message).map_err(|e| malformed(&e))?;
    let schema = message
        .header_as_schema()
        .ok_or_else(|| malformed(&"not a schema message"))?;
    caught(|| ipc::convert::fb_to_schema(schema))
        .map(Some)
        .map_err(|_| malformed(&"its decoder failed"))
}
