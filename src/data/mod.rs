//! Datasets on disk: the value formats, reading and checking tables, and the generator.

pub mod columns;
pub mod error;
pub mod generate;
pub mod loader;
pub mod parquet_file;
pub mod read;
pub mod value;

pub use error::{DataError, LoadError, Location, Rule};
pub use loader::{DatasetMeta, LoadOptions, LoadReport, load_dataset};
