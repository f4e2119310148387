//! Helpers that make the tests read like sentences.

use std::path::{Path, PathBuf};

use segmint::data::generate::{GenerateOptions, OutputFormat, generate};
use segmint::data::{DataError, LoadError, LoadOptions, LoadReport, load_dataset};
use segmint::store::Dataset;
use tempfile::TempDir;

/// A generated dataset in a temporary directory.
pub fn generated(customers: u64, seed: u64, format: OutputFormat) -> TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    generate(&GenerateOptions {
        customers,
        seed,
        format,
        out: dir.path().to_path_buf(),
        progress: false,
        reference_time: None,
        overwrite: false,
    })
    .expect("generate");
    dir
}

pub fn load(dir: &Path) -> Dataset {
    load_dataset(dir, &LoadOptions::default()).expect("load").0
}

pub fn load_lenient(dir: &Path) -> (Dataset, LoadReport) {
    load_dataset(
        dir,
        &LoadOptions {
            lenient: true,
            progress: false,
        },
    )
    .expect("lenient load")
}

/// A dataset directory written from CSV texts: `[("customers.csv", "customer_id,..."), ...]`.
pub fn csv_dataset(files: &[(&str, &str)]) -> TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).expect("write csv");
    }
    dir
}

/// The data error a strict load of `dir` fails with.
pub fn load_error(dir: &Path) -> DataError {
    match load_dataset(dir, &LoadOptions::default()) {
        Ok(_) => panic!(
            "the dataset in {} loaded, but should have been rejected",
            dir.display()
        ),
        Err(LoadError::Data(e)) => *e,
        Err(other) => panic!("expected a data error, got: {other}"),
    }
}

pub fn path_of(dir: &TempDir, name: &str) -> PathBuf {
    dir.path().join(name)
}

/// Two customers on website 1, the smallest valid base for the bad-data cases.
pub const CUSTOMERS: &str = "customer_id,website_id,email\n1,1,a@example.com\n2,1,b@example.com\n";
