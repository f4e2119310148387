//! Data files, as `load` and `serve --data` read them: one table of the store replaced by
//! the input, as CSV or Parquet (the first byte chooses which table and format), loaded
//! strictly and leniently.
#![no_main]

use libfuzzer_sys::fuzz_target;
use segmint::data::generate::OutputFormat;
use segmint::data::{LoadOptions, load_dataset};
use segmint::model::TableName;

fuzz_target!(|bytes: &[u8]| {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        // arrow-ipc's decoder of an embedded schema panics on malformed ones; the loader
        // catches those (src/data/parquet_file.rs) and refuses the file. Any other panic
        // is a finding.
        let finding = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !info
                .location()
                .is_some_and(|l| l.file().contains("arrow-ipc"))
            {
                finding(info);
            }
        }));
    });
    let Some((&choice, contents)) = bytes.split_first() else {
        return;
    };
    let format = if choice & 0x80 == 0 {
        OutputFormat::Csv
    } else {
        OutputFormat::Parquet
    };
    // Each table of the data model, or (past them) the dataset's meta file.
    let tables = TableName::ALL.map(TableName::file_stem);
    let table = tables
        .get((choice & 0x7f) as usize % (tables.len() + 1))
        .copied()
        .unwrap_or("dataset");
    let source = segmint_fuzz::store_files(format);
    let dir = tempfile::tempdir().expect("temp dir");
    for entry in std::fs::read_dir(source).expect("the store") {
        let path = entry.expect("an entry").path();
        std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).expect("copy");
    }
    let name = match (table, format) {
        ("dataset", _) => "dataset.json".to_string(),
        (_, OutputFormat::Csv) => format!("{table}.csv"),
        (_, OutputFormat::Parquet) => format!("{table}.parquet"),
    };
    std::fs::write(dir.path().join(name), contents).expect("write");
    for lenient in [false, true] {
        let options = LoadOptions {
            lenient,
            progress: false,
        };
        let _ = load_dataset(dir.path(), &options);
    }
});
