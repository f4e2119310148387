//! `segmint bench`: the measures of `shared/spec/benchmark.md` at chosen scales, a
//! report (table, JSON, SVG) and a capacity estimate.
//!
//! Per scale: the dataset is generated (or reused when `dataset.json` says it is the same
//! customers and seed), then a worker process ([`worker`]) loads it, evaluates the suite,
//! re-matches it in bulk and serves HTTP; this process loads the server from outside
//! ([`load`]) with `/estimate` (an attribute-only and an aggregate segment) and lookups,
//! reads the worker's peak RSS and stops it. A scale that does not fit (the worker dies)
//! is reported as such, and the others go on.

pub mod chart;
pub mod load;
pub mod soak;
pub mod suite;
pub mod worker;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::data::generate::{GenerateOptions, OutputFormat, generate};
use crate::data::loader::{META_FILE, read_meta};
use load::LoadResult;
use worker::{WorkerReport, write_json};

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

/// A scale: S, M, L (benchmark.md), or a number of customers.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Scale {
    pub label: String,
    pub customers: u64,
}

impl Scale {
    pub fn parse(text: &str) -> Result<Scale, String> {
        let customers = match text {
            "S" | "s" => 100_000,
            "M" | "m" => 1_000_000,
            "L" | "l" => 10_000_000,
            other => other.replace(['_', ','], "").parse::<u64>().map_err(|_| {
                format!("{other:?} is not a scale: S, M, L or a number of customers")
            })?,
        };
        if customers == 0 {
            return Err("a scale needs at least one customer".to_string());
        }
        let label = match text {
            "S" | "s" | "M" | "m" | "L" | "l" => text.to_uppercase(),
            _ => customers.to_string(),
        };
        Ok(Scale { label, customers })
    }
}

pub struct BenchOptions {
    pub scales: Vec<Scale>,
    /// Where datasets are generated (`<root>/<label>`), and found again next time.
    pub data_root: PathBuf,
    /// Where the report, the chart and the workers' logs go.
    pub out: PathBuf,
    pub suite: PathBuf,
    pub seed: u64,
    pub repeat: usize,
    pub http_seconds: f64,
    pub concurrency: usize,
    /// The customer count to estimate suite time and memory for.
    pub capacity_customers: u64,
    pub regenerate: bool,
    /// Each suite segment evaluated again with the caches cold, through a buffer of
    /// this many MiB (`None`: not measured).
    pub cold_caches_mib: Option<usize>,
    /// Lists of events to apply (0: none) and events per list.
    pub event_lists: usize,
    pub events_per_list: usize,
    pub replay_events: usize,
    pub fold_after_events: usize,
    /// Seconds of lists of events over HTTP with a state directory (0: none).
    pub http_event_seconds: f64,
    /// The `segmint` binary that runs the workers.
    pub exe: PathBuf,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ScaleReport {
    pub scale: Option<Scale>,
    /// None when the dataset was there already and its generation time is unknown.
    pub generate_seconds: Option<f64>,
    pub files_bytes: u64,
    pub worker: Option<WorkerReport>,
    pub estimate_attribute_only: Option<LoadResult>,
    pub estimate_aggregate: Option<LoadResult>,
    pub lookup: Option<LoadResult>,
    /// The worker's peak RSS at the end: data, indexes, stored segments, HTTP load.
    pub peak_rss_bytes: Option<u64>,
    /// Measures left out, and why.
    #[serde(default)]
    pub notes: Vec<String>,
    pub error: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Machine {
    pub cores: usize,
    pub memory_bytes: Option<u64>,
    pub cpu: Option<String>,
}

/// A straight line through measured points: `value = fixed + per_customer * customers`.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct LinearFit {
    pub fixed: f64,
    pub per_customer: f64,
}

impl LinearFit {
    /// Least squares; through the origin when there is one point.
    pub fn of(points: &[(f64, f64)]) -> Option<LinearFit> {
        match points {
            [] => None,
            [(x, y)] => Some(LinearFit {
                fixed: 0.0,
                per_customer: y / x,
            }),
            _ => {
                let n = points.len() as f64;
                let mean_x = points.iter().map(|p| p.0).sum::<f64>() / n;
                let mean_y = points.iter().map(|p| p.1).sum::<f64>() / n;
                let covariance: f64 = points.iter().map(|p| (p.0 - mean_x) * (p.1 - mean_y)).sum();
                let variance: f64 = points.iter().map(|p| (p.0 - mean_x).powi(2)).sum();
                (variance > 0.0).then(|| {
                    let per_customer = covariance / variance;
                    LinearFit {
                        fixed: mean_y - per_customer * mean_x,
                        per_customer,
                    }
                })
            }
        }
    }

    pub fn at(&self, customers: f64) -> f64 {
        self.fixed + self.per_customer * customers
    }
}

/// How a measure grew from one scale to the next, against the customers.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Growth {
    pub from: String,
    pub to: String,
    pub customers: f64,
    pub load_seconds: Option<f64>,
    pub suite_p50: Option<f64>,
    /// Of the suite's p50 with the caches cold, when measured.
    #[serde(default)]
    pub cold_suite_p50: Option<f64>,
    pub peak_rss: Option<f64>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Capacity {
    /// Peak RSS against customers, fitted over the scales that ran.
    pub memory: Option<LinearFit>,
    /// Customers per GiB of peak RSS, from the fitted slope.
    pub customers_per_gib: Option<f64>,
    /// Customers that would fit in this machine's memory.
    pub customers_this_machine_holds: Option<u64>,
    /// Sum of the suite's p50 against customers.
    pub suite: Option<LinearFit>,
    pub at_customers: u64,
    pub expected_suite_p50_ms: Option<f64>,
    pub expected_peak_rss_bytes: Option<f64>,
    pub growth: Vec<Growth>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BenchReport {
    pub machine: Machine,
    pub seed: u64,
    pub repeat: usize,
    pub http_seconds: f64,
    pub scales: Vec<ScaleReport>,
    pub capacity: Capacity,
}

pub fn run(options: &BenchOptions) -> anyhow::Result<BenchReport> {
    std::fs::create_dir_all(&options.out)
        .map_err(|e| anyhow::anyhow!("{}: {e}", options.out.display()))?;
    let progress = indicatif::ProgressBar::new_spinner();
    progress.enable_steady_tick(Duration::from_millis(200));
    let mut scales = Vec::new();
    for scale in &options.scales {
        let report = run_scale(options, scale, &progress);
        if let Some(error) = &report.error {
            progress.println(format!("{}: {error}", scale.label));
        }
        scales.push(report);
        // Written after every scale, so a long run that is stopped keeps what it measured.
        write_json(&options.out.join("bench-report.json"), &scales)?;
    }
    progress.finish_and_clear();
    let report = BenchReport {
        machine: machine(),
        seed: options.seed,
        repeat: options.repeat,
        http_seconds: options.http_seconds,
        capacity: capacity(&scales, options.capacity_customers),
        scales,
    };
    write_json(&options.out.join("bench-report.json"), &report)?;
    write_chart(&options.out.join("bench.svg"), &report)?;
    Ok(report)
}

fn run_scale(
    options: &BenchOptions,
    scale: &Scale,
    progress: &indicatif::ProgressBar,
) -> ScaleReport {
    let mut report = ScaleReport {
        scale: Some(scale.clone()),
        ..ScaleReport::default()
    };
    if let Err(e) = measure_scale(options, scale, progress, &mut report) {
        report.error = Some(format!("{e:#}"));
    }
    report
}

fn measure_scale(
    options: &BenchOptions,
    scale: &Scale,
    progress: &indicatif::ProgressBar,
    report: &mut ScaleReport,
) -> anyhow::Result<()> {
    let dir = options.data_root.join(&scale.label);
    let timing_file = dir.join("bench-generate.json");
    let reusable = !options.regenerate
        && read_meta(&dir)
            .ok()
            .flatten()
            .is_some_and(|m| m.customers == Some(scale.customers) && m.seed == Some(options.seed));
    if reusable {
        report.generate_seconds = std::fs::read_to_string(&timing_file)
            .ok()
            .and_then(|t| serde_json::from_str::<f64>(&t).ok());
    } else {
        progress.set_message(format!(
            "{}: generating {} customers",
            scale.label, scale.customers
        ));
        let summary = generate(&GenerateOptions {
            customers: scale.customers,
            seed: options.seed,
            format: OutputFormat::Parquet,
            out: dir.clone(),
            progress: false,
            reference_time: None,
            // The bench's own directory, with the timing file of an earlier run.
            overwrite: true,
        })?;
        let seconds = summary.elapsed.as_secs_f64();
        report.generate_seconds = Some(seconds);
        write_json(&timing_file, &seconds)?;
    }
    report.files_bytes = dataset_bytes(&dir);

    progress.set_message(format!(
        "{}: loading, evaluating the suite {} times per segment, re-matching it in bulk, applying events",
        scale.label, options.repeat
    ));
    let worker_report = options.out.join(format!("{}-worker.json", scale.label));
    let log = std::fs::File::create(options.out.join(format!("{}-worker.log", scale.label)))?;
    let mut child = Command::new(&options.exe)
        .arg("bench-worker")
        .arg("--data")
        .arg(&dir)
        .arg("--suite")
        .arg(&options.suite)
        .arg("--repeat")
        .arg(options.repeat.to_string())
        .arg("--event-lists")
        .arg(options.event_lists.to_string())
        .arg("--events-per-list")
        .arg(options.events_per_list.to_string())
        .arg("--replay-events")
        .arg(options.replay_events.to_string())
        .arg("--fold-after-events")
        .arg(options.fold_after_events.to_string())
        .arg("--http-event-seconds")
        .arg(options.http_event_seconds.to_string())
        .args(
            options
                .cold_caches_mib
                .map(|mib| ["--cold-caches".to_string(), mib.to_string()])
                .iter()
                .flatten(),
        )
        .arg("--report")
        .arg(&worker_report)
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .map_err(|e| anyhow::anyhow!("cannot start {}: {e}", options.exe.display()))?;
    let outcome = drive_worker(options, scale, progress, &mut child, &worker_report, report);
    report.peak_rss_bytes = crate::util::peak_rss_bytes_of(child.id()).or(report.peak_rss_bytes);
    // How the worker ended, before this process stops it: a worker that died on its own
    // makes every measure after it void.
    let ended = child.try_wait().ok().flatten();
    let _ = child.kill();
    let _ = child.wait();
    match (outcome, ended) {
        (Ok(()), None) => Ok(()),
        (outcome, Some(status)) => {
            let why = match status.code() {
                None => "was killed by a signal (out of memory?)".to_string(),
                Some(code) => format!("exited with status {code}"),
            };
            let before = outcome.err().map_or(String::new(), |e| format!("{e:#}; "));
            anyhow::bail!("{before}the worker {why}: see {}-worker.log", scale.label)
        }
        (Err(e), None) => Err(e),
    }
}

fn drive_worker(
    options: &BenchOptions,
    scale: &Scale,
    progress: &indicatif::ProgressBar,
    child: &mut Child,
    worker_report: &Path,
    report: &mut ScaleReport,
) -> anyhow::Result<()> {
    let stdout = child.stdout.take().expect("piped");
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(url) = line.strip_prefix("ready ") {
                let _ = sender.send(url.to_string());
                return;
            }
        }
    });
    // Generous: L takes minutes to load and to evaluate 21 times.
    let url = receiver
        .recv_timeout(Duration::from_secs(6 * 3600))
        .map_err(|_| anyhow::anyhow!("the worker stopped before it was ready"))?;
    let measured: WorkerReport = serde_json::from_str(&std::fs::read_to_string(worker_report)?)?;
    report.peak_rss_bytes = measured.ready_peak_rss_bytes;
    report.worker = Some(measured);

    let duration = Duration::from_secs_f64(options.http_seconds);
    let suite = suite::read_suite(&options.suite)?;
    let body_of = |id: &str| -> anyhow::Result<String> {
        let file = suite
            .iter()
            .find(|f| f.id == id)
            .ok_or_else(|| anyhow::anyhow!("the suite has no {id}.json"))?;
        let definition: serde_json::Value = serde_json::from_str(&file.text)?;
        Ok(serde_json::json!({
            "conditions": definition["conditions"],
            "websites": definition["websites"],
            "apply_to": definition.get("apply_to").cloned().unwrap_or("both".into()),
        })
        .to_string())
    };
    let estimate_path = |_: u64| "/estimate".to_string();
    for (id, slot) in [
        ("attributes_wholesale", &mut report.estimate_attribute_only),
        ("spent_500_complete", &mut report.estimate_aggregate),
    ] {
        progress.set_message(format!(
            "{}: POST /estimate ({id}) from {} connections for {:.0} s",
            scale.label, options.concurrency, options.http_seconds
        ));
        let Ok(body) = body_of(id) else {
            report.notes.push(format!(
                "/estimate of {id} not measured: the suite has no {id}.json"
            ));
            continue;
        };
        let request = load::Request {
            method: "POST",
            path: &estimate_path,
            body: Some(&|_| body.clone()),
        };
        *slot = Some(load::run(&url, &request, options.concurrency, duration));
    }
    progress.set_message(format!(
        "{}: GET /customers/{{id}}/segments from {} connections for {:.0} s",
        scale.label, options.concurrency, options.http_seconds
    ));
    let customers = scale.customers;
    // Random customers, the same on every run (generated ids are 1..=customers).
    let lookup_path = move |n: u64| {
        let id = n.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17) % customers + 1;
        format!("/customers/{id}/segments")
    };
    let request = load::Request {
        method: "GET",
        path: &lookup_path,
        body: None,
    };
    report.lookup = Some(load::run(&url, &request, options.concurrency, duration));
    Ok(())
}

fn dataset_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| e.file_name() != META_FILE)
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

fn machine() -> Machine {
    let memory_bytes = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|info| {
            let line = info
                .lines()
                .find(|l| l.starts_with("MemTotal:"))?
                .to_string();
            Some(line.split_whitespace().nth(1)?.parse::<u64>().ok()? * 1024)
        });
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            let line = info
                .lines()
                .find(|l| l.starts_with("model name"))?
                .to_string();
            Some(line.split(':').nth(1)?.trim().to_string())
        });
    Machine {
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        memory_bytes,
        cpu,
    }
}

pub fn capacity(scales: &[ScaleReport], at_customers: u64) -> Capacity {
    let measured: Vec<(&Scale, &ScaleReport)> = scales
        .iter()
        .filter(|r| r.error.is_none())
        .filter_map(|r| r.scale.as_ref().map(|s| (s, r)))
        .collect();
    let points = |value: &dyn Fn(&ScaleReport) -> Option<f64>| -> Vec<(f64, f64)> {
        measured
            .iter()
            .filter_map(|(s, r)| value(r).map(|v| (s.customers as f64, v)))
            .collect()
    };
    let memory = LinearFit::of(&points(&|r| r.peak_rss_bytes.map(|b| b as f64)));
    let suite = LinearFit::of(&points(&|r| r.worker.as_ref().map(|w| w.suite_p50_ms)));
    let machine_memory = machine().memory_bytes;
    let growth = measured
        .windows(2)
        .map(|pair| {
            let ((a, ra), (b, rb)) = (pair[0], pair[1]);
            let ratio = |f: &dyn Fn(&ScaleReport) -> Option<f64>| match (f(ra), f(rb)) {
                (Some(x), Some(y)) if x > 0.0 => Some(y / x),
                _ => None,
            };
            Growth {
                from: a.label.clone(),
                to: b.label.clone(),
                customers: b.customers as f64 / a.customers as f64,
                load_seconds: ratio(&|r| r.worker.as_ref().map(|w| w.load_seconds)),
                suite_p50: ratio(&|r| r.worker.as_ref().map(|w| w.suite_p50_ms)),
                cold_suite_p50: ratio(&|r| r.worker.as_ref().and_then(|w| w.cold_suite_p50_ms)),
                peak_rss: ratio(&|r| r.peak_rss_bytes.map(|b| b as f64)),
            }
        })
        .collect();
    Capacity {
        customers_per_gib: memory
            .filter(|m| m.per_customer > 0.0)
            .map(|m| GIB / m.per_customer),
        customers_this_machine_holds: match (memory, machine_memory) {
            (Some(m), Some(total)) if m.per_customer > 0.0 => {
                Some(((total as f64 - m.fixed) / m.per_customer).max(0.0) as u64)
            }
            _ => None,
        },
        expected_suite_p50_ms: suite.map(|f| f.at(at_customers as f64)),
        expected_peak_rss_bytes: memory.map(|f| f.at(at_customers as f64)),
        memory,
        suite,
        at_customers,
        growth,
    }
}

fn write_chart(path: &Path, report: &BenchReport) -> anyhow::Result<()> {
    let series = |name: &str, value: &dyn Fn(&ScaleReport) -> Option<f64>| chart::Series {
        name: name.to_string(),
        points: report
            .scales
            .iter()
            .filter_map(|r| Some((r.scale.as_ref()?.customers as f64, value(r)?)))
            .collect(),
    };
    let times = [
        series("generate", &|r| r.generate_seconds),
        series("load", &|r| r.worker.as_ref().map(|w| w.load_seconds)),
        series("suite, sum of p50", &|r| {
            r.worker.as_ref().map(|w| w.suite_p50_ms / 1e3)
        }),
        series("bulk re-segmentation", &|r| {
            r.worker
                .as_ref()
                .and_then(|w| w.bulk_refresh_ms.iter().copied().reduce(f64::min))
                .map(|ms| ms / 1e3)
        }),
    ];
    let memory = [
        series("peak RSS", &|r| r.peak_rss_bytes.map(|b| b as f64 / GIB)),
        series("loaded data", &|r| {
            r.worker.as_ref().map(|w| w.loaded_bytes as f64 / GIB)
        }),
        series("files", &|r| Some(r.files_bytes as f64 / GIB)),
    ];
    chart::write_svg(path, &times, &memory)
}

/// The report as text tables: per scale, then per segment.
pub fn render(report: &BenchReport) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let fmt_opt =
        |v: Option<f64>, digits: usize| v.map_or("-".to_string(), |v| format!("{v:.digits$}"));
    let _ = writeln!(
        out,
        "machine: {} cores, {} memory, {}",
        report.machine.cores,
        report
            .machine
            .memory_bytes
            .map_or("?".to_string(), |b| format!("{:.1} GiB", b as f64 / GIB)),
        report.machine.cpu.as_deref().unwrap_or("?")
    );
    let _ = writeln!(
        out,
        "\n| scale | customers | generate s | files GiB | load s | loaded GiB | peak RSS GiB | suite p50 sum ms | bulk re-match ms | estimate attr req/s, p99 ms | estimate aggr req/s, p99 ms | lookup req/s, p99 ms |"
    );
    let _ = writeln!(
        out,
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for r in &report.scales {
        let Some(scale) = &r.scale else { continue };
        let w = r.worker.as_ref();
        let load = |l: &Option<LoadResult>| {
            l.as_ref().map_or("-".to_string(), |l| {
                format!(
                    "{:.2}, {:.3}{}",
                    l.requests_per_second,
                    l.p99_ms,
                    if l.errors > 0 {
                        format!(" ({} errors)", l.errors)
                    } else {
                        String::new()
                    }
                )
            })
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {:.3} | {} | {} | {} | {} | {} | {} | {} | {} |",
            scale.label,
            scale.customers,
            fmt_opt(r.generate_seconds, 2),
            r.files_bytes as f64 / GIB,
            fmt_opt(w.map(|w| w.load_seconds), 2),
            fmt_opt(w.map(|w| w.loaded_bytes as f64 / GIB), 3),
            fmt_opt(r.peak_rss_bytes.map(|b| b as f64 / GIB), 3),
            fmt_opt(w.map(|w| w.suite_p50_ms), 3),
            w.map_or("-".to_string(), |w| w
                .bulk_refresh_ms
                .iter()
                .map(|m| format!("{m:.1}"))
                .collect::<Vec<_>>()
                .join(" / ")),
            load(&r.estimate_attribute_only),
            load(&r.estimate_aggregate),
            load(&r.lookup),
        );
        if let Some(events) = w.and_then(|w| w.events.as_ref()) {
            let _ = writeln!(
                out,
                "|   | {}: events with {} active segments: {:.1} events/s in lists of {}; event to membership (a list's time) p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms |",
                scale.label,
                events.segments,
                events.events_per_second,
                events.events_per_list,
                events.p50_list_ms,
                events.p99_list_ms,
                events.max_event_to_membership_ms
            );
            if events.fold_wait_seconds >= 0.001 {
                let _ = writeln!(
                    out,
                    "|   | {}: after the last list, a fold into the data still running took {:.3} s more |",
                    scale.label, events.fold_wait_seconds
                );
            }
            if !events.estimate_ms.is_empty() {
                let mut sorted = events.estimate_ms.clone();
                sorted.sort_by(f64::total_cmp);
                let _ = writeln!(
                    out,
                    "|   | {}: /estimate of {} after every 10th list ({} estimates): p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms |",
                    scale.label,
                    worker::ESTIMATED_WHILE_EVENTS,
                    sorted.len(),
                    suite::percentile(&sorted, 0.50),
                    suite::percentile(&sorted, 0.99),
                    sorted.last().copied().unwrap_or(0.0)
                );
            }
        }
        if let Some(http) = w.and_then(|w| w.http_events.as_ref()) {
            let _ = writeln!(
                out,
                "|   | {}: events over HTTP with --state, {} clients, lists of {}, {} segments: {:.1} events/s; a list's answer p50 {:.3} ms, p99 {:.3} ms; {} lists in {} flushes of the log |",
                scale.label,
                http.clients,
                http.events_per_list,
                http.segments,
                http.events_per_second,
                http.load.p50_ms,
                http.load.p99_ms,
                http.load.requests,
                http.log_flushes
            );
        }
        if let Some(replay) = w.and_then(|w| w.replay.as_ref()) {
            let _ = writeln!(
                out,
                "|   | {}: a start replaying {} logged events ({:.1} MiB of log): {:.2} s to serve, its checkpoint written in the background {:.2} s later; the next start, from that checkpoint: {:.2} s |",
                scale.label,
                replay.events,
                replay.log_bytes as f64 / (1 << 20) as f64,
                replay.seconds,
                replay.checkpoint_seconds,
                replay.from_checkpoint_seconds
            );
        }
        for note in &r.notes {
            let _ = writeln!(out, "|   | {}: {note} |", scale.label);
        }
        if let Some(error) = &r.error {
            let _ = writeln!(out, "|   | {} did not complete: {error} |", scale.label);
        }
    }
    let ran: Vec<&ScaleReport> = report
        .scales
        .iter()
        .filter(|r| r.worker.is_some())
        .collect();
    if let Some(first) = ran.first().and_then(|r| r.worker.as_ref()) {
        let cold = ran.iter().any(|r| {
            r.worker
                .as_ref()
                .is_some_and(|w| w.cold_suite_p50_ms.is_some())
        });
        let _ = write!(out, "\n| segment |");
        for r in &ran {
            let l = label(r);
            let _ = write!(
                out,
                " {l} members | {l} first ms | {l} p50 ms | {l} p99 ms |"
            );
            if cold {
                let _ = write!(out, " {l} p50 ms, caches cold |");
            }
        }
        let _ = write!(out, "\n|---|");
        for _ in &ran {
            let _ = write!(
                out,
                "---:|---:|---:|---:|{}",
                if cold { "---:|" } else { "" }
            );
        }
        let _ = writeln!(out);
        for (i, segment) in first.segments.iter().enumerate() {
            let _ = write!(out, "| {} |", segment.id);
            for r in &ran {
                match r.worker.as_ref().and_then(|w| w.segments.get(i)) {
                    Some(s) => {
                        let t = &s.timing;
                        let _ = write!(
                            out,
                            " {} | {:.3} | {:.3} | {:.3} |",
                            s.count, t.first_ms, t.p50_ms, t.p99_ms
                        );
                    }
                    None => {
                        let _ = write!(out, " - | - | - | - |");
                    }
                }
                if cold {
                    let p50 = r
                        .worker
                        .as_ref()
                        .and_then(|w| w.segments.get(i))
                        .and_then(|s| s.cold.as_ref())
                        .map(|t| t.p50_ms);
                    let _ = write!(out, " {} |", fmt_opt(p50, 3));
                }
            }
            let _ = writeln!(out);
        }
    }
    let c = &report.capacity;
    let _ = writeln!(out, "\ncapacity:");
    if let Some(per_gib) = c.customers_per_gib {
        let _ = writeln!(
            out,
            "  {per_gib:.0} customers per GiB of peak RSS (slope of the fit over the scales that ran)"
        );
    }
    if let Some(n) = c.customers_this_machine_holds {
        let _ = writeln!(out, "  about {n} customers fit in this machine's memory");
    }
    if let Some(ms) = c.expected_suite_p50_ms {
        let _ = writeln!(
            out,
            "  at {} customers: suite p50 sum about {ms:.1} ms, peak RSS about {:.2} GiB (linear fits)",
            c.at_customers,
            c.expected_peak_rss_bytes.unwrap_or(0.0) / GIB
        );
    }
    for g in &c.growth {
        let cold = g.cold_suite_p50.map_or(String::new(), |ratio| {
            format!(" (caches cold: x{ratio:.2})")
        });
        let _ = writeln!(
            out,
            "  {} -> {}: customers x{:.1}; load x{}, suite p50 sum x{}{cold}, peak RSS x{}",
            g.from,
            g.to,
            g.customers,
            fmt_opt(g.load_seconds, 2),
            fmt_opt(g.suite_p50, 2),
            fmt_opt(g.peak_rss, 2)
        );
    }
    out
}

fn label(report: &ScaleReport) -> &str {
    report.scale.as_ref().map_or("?", |s| s.label.as_str())
}
