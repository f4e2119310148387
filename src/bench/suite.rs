//! The segment suite (`benches/segments/`): its files, `in_segment` over them, and timed
//! evaluations, shared by `segmint eval` and `segmint bench`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::segment::{DefinitionError, Engine, EvalError, Evaluation, Segment, SegmentSource};

/// Segments named by `in_segment`, read from `<dir>/<id>.json`.
pub struct SegmentDir<'a> {
    pub dir: Option<PathBuf>,
    pub engine: &'a Engine,
}

impl SegmentSource for SegmentDir<'_> {
    fn segment(&self, id: &str) -> Result<Option<Segment>, DefinitionError> {
        let Some(dir) = &self.dir else {
            return Ok(None);
        };
        let path = dir.join(format!("{id}.json"));
        let Ok(text) = std::fs::read_to_string(&path) else {
            return Ok(None);
        };
        self.engine.parse(&text).map(Some).map_err(|mut e| {
            e.message = format!("{}: {}", path.display(), e);
            e
        })
    }
}

/// One segment file of a suite: its id is the file name without `.json`.
#[derive(Clone, Debug)]
pub struct SuiteFile {
    pub id: String,
    pub path: PathBuf,
    pub text: String,
}

/// The `*.json` files of a directory, by name.
pub fn read_suite(dir: &Path) -> anyhow::Result<Vec<SuiteFile>> {
    let mut files = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
    for entry in entries {
        let path = entry?.path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let id = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_string();
        let text = std::fs::read_to_string(&path)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        files.push(SuiteFile { id, path, text });
    }
    files.sort_by(|a, b| a.id.cmp(&b.id));
    anyhow::ensure!(
        !files.is_empty(),
        "{} holds no segment files",
        dir.display()
    );
    Ok(files)
}

/// Times of repeated runs: the first (cold: on an engine that has evaluated nothing
/// before, so it builds every index it needs that the load did not prepare) and the p50
/// and p99 of the others (nearest rank).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Timing {
    pub first_ms: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Runs after the first.
    pub runs: usize,
}

impl Timing {
    pub fn of(times_ms: &[f64]) -> Timing {
        let first_ms = times_ms.first().copied().unwrap_or(0.0);
        let mut rest = times_ms.get(1..).unwrap_or_default().to_vec();
        if rest.is_empty() {
            rest.push(first_ms);
        }
        rest.sort_by(f64::total_cmp);
        Timing {
            first_ms,
            p50_ms: percentile(&rest, 0.5),
            p99_ms: percentile(&rest, 0.99),
            runs: times_ms.len().saturating_sub(1),
        }
    }

    /// "first 12.3 ms" or "first 12.3 ms, then p50 1.2 ms, p99 1.5 ms over 19 runs".
    pub fn summary(&self) -> String {
        let first = format!("first {:.3} ms", self.first_ms);
        if self.runs == 0 {
            return first;
        }
        format!(
            "{first}, then p50 {:.3} ms, p99 {:.3} ms over {} runs",
            self.p50_ms, self.p99_ms, self.runs
        )
    }
}

/// The value at quantile `q` of sorted values (nearest rank).
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

/// One suite segment's result: its members and times.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SegmentRun {
    pub id: String,
    pub name: String,
    pub count: u64,
    pub universe: u64,
    #[serde(flatten)]
    pub timing: Timing,
    /// The same runs with the caches cold (`segmint bench --cold-caches`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cold: Option<Timing>,
}

/// Pushes what a run read out of the processor's caches before the next, by writing a
/// buffer larger than them: each run then reads its data from memory, as a service
/// does when its other work (other segments, events, requests) has used the caches
/// since. Without it a repeated run finds much of its data still cached, and more of it
/// the smaller the store.
pub struct ColdCaches {
    buffer: Vec<u64>,
    pass: u64,
}

impl ColdCaches {
    pub fn new(mib: usize) -> ColdCaches {
        ColdCaches {
            buffer: vec![0; mib << 17],
            pass: 0,
        }
    }

    /// Writes a word of every cache line of the buffer.
    fn evict(&mut self) {
        self.pass += 1;
        for word in self.buffer.iter_mut().step_by(8) {
            *word = word.wrapping_add(self.pass);
        }
        std::hint::black_box(&self.buffer);
    }
}

/// Evaluates a segment `repeat` times (at least once); results are never kept between runs.
/// The first run is on a fresh engine over the same data, holding only what a load
/// prepares (what a first evaluation after a load costs, whatever was evaluated before);
/// the others on `engine`, after one untimed run that builds what `engine` lacks, and
/// with `cold`, each after the caches were used for other data.
pub fn evaluate_repeatedly(
    engine: &Engine,
    segment: &Segment,
    own_id: Option<&str>,
    as_of: i64,
    source: &dyn SegmentSource,
    repeat: usize,
    mut cold: Option<&mut ColdCaches>,
) -> Result<(Evaluation, Timing), EvalError> {
    let mut times = Vec::with_capacity(repeat.max(1));
    let fresh = engine.fresh();
    let started = Instant::now();
    let mut last = fresh.evaluate(segment, own_id, as_of, source)?;
    times.push(started.elapsed().as_secs_f64() * 1e3);
    drop(fresh);
    if repeat > 1 {
        engine.evaluate(segment, own_id, as_of, source)?;
    }
    for _ in 1..repeat {
        if let Some(cold) = cold.as_deref_mut() {
            cold.evict();
        }
        let started = Instant::now();
        last = engine.evaluate(segment, own_id, as_of, source)?;
        times.push(started.elapsed().as_secs_f64() * 1e3);
    }
    Ok((last, Timing::of(&times)))
}
