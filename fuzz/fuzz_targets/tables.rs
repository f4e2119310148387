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
        // arrow's and parquet's decoders panic on some malformed files (an embedded schema,
        // definition levels); the loader catches those (src/data/parquet_file.rs) and
        // refuses the file. Any other panic is a finding.
        let finding = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !segmint::data::parquet_file::decoding() {
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
    // The generated store itself, the one file written over and put back after: every
    // input meets the same store. (Writes, unlike a copy, are retried when libFuzzer's
    // timer interrupts them.)
    let dir = segmint_fuzz::store_files(format);
    let name = match (table, format) {
        ("dataset", _) => "dataset.json".to_string(),
        (_, OutputFormat::Csv) => format!("{table}.csv"),
        (_, OutputFormat::Parquet) => format!("{table}.parquet"),
    };
    let path = dir.join(name);
    let original = std::fs::read(&path).expect("the store's file");
    std::fs::write(&path, contents).expect("write");
    for lenient in [false, true] {
        let options = LoadOptions {
            lenient,
            progress: false,
        };
        let _ = load_dataset(dir, &options);
    }
    std::fs::write(&path, original).expect("put back");
});
