//! Evaluation time of every suite segment (`benches/segments/*.json`), one benchmark each.
//!
//! The dataset is `SEGMINT_BENCH_DATA` when set (e.g. a generated M), else a generated S
//! (100,000 customers, seed 1) in a temporary directory. Segments are evaluated at the
//! dataset's reference time. Indexes are built by a first evaluation before timing;
//! results are never cached, so every iteration evaluates the whole plan.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use segmint::data::generate::{GenerateOptions, OutputFormat, generate};
use segmint::data::{LoadOptions, load_dataset};
use segmint::segment::{DefinitionError, Engine, Segment, SegmentSource};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SUITE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/segments");

struct SuiteDir<'a>(&'a Engine);

impl SegmentSource for SuiteDir<'_> {
    fn segment(&self, id: &str) -> Result<Option<Segment>, DefinitionError> {
        let path = Path::new(SUITE).join(format!("{id}.json"));
        match std::fs::read_to_string(path) {
            Ok(text) => self.0.parse(&text).map(Some),
            Err(_) => Ok(None),
        }
    }
}

fn suite(c: &mut Criterion) {
    let mut temp = None;
    let dir = match std::env::var_os("SEGMINT_BENCH_DATA") {
        Some(dir) => PathBuf::from(dir),
        None => {
            let dir = temp
                .insert(tempfile::tempdir().expect("temp dir"))
                .path()
                .to_path_buf();
            generate(&GenerateOptions {
                customers: 100_000,
                seed: 1,
                format: OutputFormat::Parquet,
                out: dir.clone(),
                progress: false,
                reference_time: None,
            })
            .expect("generate S");
            dir
        }
    };
    let (dataset, _) = load_dataset(&dir, &LoadOptions::default()).expect("load");
    let as_of = dataset
        .reference_time
        .expect("generated data has a reference time");
    let engine = Engine::new(Arc::new(dataset));
    let source = SuiteDir(&engine);
    let mut files: Vec<PathBuf> = std::fs::read_dir(SUITE)
        .expect("suite directory")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    let mut group = c.benchmark_group("evaluate");
    group.sample_size(20);
    for file in files {
        let id = file
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("utf-8 name")
            .to_string();
        let segment = engine
            .parse(&std::fs::read_to_string(&file).expect("read"))
            .expect("valid");
        engine
            .evaluate(&segment, Some(&id), as_of, &source)
            .expect("evaluates");
        group.bench_function(&id, |b| {
            b.iter(|| {
                engine
                    .evaluate(&segment, Some(&id), as_of, &source)
                    .expect("evaluates")
            })
        });
    }
    group.finish();
}

criterion_group!(benches, suite);
criterion_main!(benches);
