//! The `segmint` command line. Errors print one line and exit non-zero.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use segmint::bench::suite::{ColdCaches, SegmentDir, SegmentRun, evaluate_repeatedly};
use segmint::data::generate::{GenerateOptions, OutputFormat, generate};
use segmint::data::value::parse_instant;
use segmint::data::{LoadOptions, load_dataset};
use segmint::demo::{DEMO_CUSTOMERS, generate_demo, store_examples};
use segmint::segment::Engine;
use segmint::server::{AppState, ConnectionLimits, ServerConfig, check_bind, serve};
use segmint::service::clock::{Clock, ManualClock, SystemClock};
use segmint::service::origin::DataOrigin;
use segmint::service::state::StateDir;
use segmint::service::{Service, ServiceOptions};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "segmint", version, about = "Customer segmentation engine")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The Magento bridge (magento.md): import an Adobe Commerce / Magento 2 store from
    /// MySQL or MariaDB as a dataset, write its segments' memberships back, or seed a
    /// database with a dataset as a Magento store.
    #[command(subcommand)]
    Magento(MagentoCommand),
    /// Write a synthetic dataset (all tables of the data model) to a directory.
    Generate {
        /// Number of registered customers.
        #[arg(long)]
        customers: u64,
        /// Random seed: the same customers and seed give the same data.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long, value_enum, default_value_t = OutputFormat::Parquet)]
        format: OutputFormat,
        /// Output directory (created if missing).
        #[arg(long)]
        out: PathBuf,
        /// The instant generated dates lead up to (default 2026-11-01T00:00:00Z, so that
        /// figures are reproducible).
        #[arg(long)]
        reference_time: Option<String>,
        /// Write over the dataset files of a directory that is not empty (refused
        /// without it).
        #[arg(long)]
        force: bool,
    },
    /// Load a dataset and serve the HTTP API (interface.md). Without --data, serves the
    /// built-in demo: a generated store of 20,000 customers with example segments.
    Serve(ServeArgs),
    /// Load a dataset, check every data rule and print what it holds. Without --data, loads
    /// the built-in demo dataset.
    Load {
        #[arg(long)]
        data: Option<PathBuf>,
        /// Skip bad rows (and report them) instead of stopping at the first.
        #[arg(long)]
        lenient: bool,
    },
    /// The capacity-planning benchmark (benchmark.md): per scale, generation, load time and
    /// peak RSS, each suite segment's p50/p99, bulk re-segmentation, /estimate and lookup
    /// throughput over HTTP; a table, bench-report.json, bench.svg and a capacity estimate.
    Bench(BenchArgs),
    /// A bounded soak: `segmint serve --data DATA --state OUT/state` on loopback under a
    /// mixed load from concurrent clients (lookups, estimates, member pages, lists of
    /// events, segment changes) for SECONDS; p50/p99 per kind, errors (any answer but 2xx
    /// and 503) and the server's RSS over time, in OUT/soak-report.json. Fails on an error.
    Soak {
        /// A generated dataset (its dataset.json gives the customer and product counts).
        #[arg(long)]
        data: PathBuf,
        #[arg(long, default_value_t = 600.0)]
        seconds: f64,
        /// The segments stored before the load and estimated during it.
        #[arg(long, default_value = "benches/segments")]
        suite: PathBuf,
        #[arg(long, default_value = "soak-report")]
        out: PathBuf,
        /// Passed to the server: events before a fold (and a checkpoint).
        #[arg(long)]
        checkpoint_after_events: Option<usize>,
    },
    /// One scale of `segmint bench`, in a process of its own (started by `bench`).
    #[command(hide = true)]
    BenchWorker {
        #[arg(long)]
        data: PathBuf,
        #[arg(long)]
        suite: PathBuf,
        #[arg(long, default_value_t = 21)]
        repeat: usize,
        #[arg(long)]
        as_of: Option<String>,
        #[arg(long, value_parser = parse_cache_buffer_mib)]
        cold_caches: Option<usize>,
        #[command(flatten)]
        events: EventMeasures,
        #[arg(long)]
        report: PathBuf,
    },
    /// Load a dataset, evaluate one segment definition and print its member count (or,
    /// with --ids, its members: customers as c:<customer_id>, then visitors as v:<visitor_id>).
    Eval {
        #[arg(long)]
        data: PathBuf,
        /// Evaluation time: a timestamp (2026-11-24T10:00:00Z) or a date (midnight UTC).
        /// Default: now.
        #[arg(long)]
        as_of: Option<String>,
        /// Directory of the segments `in_segment` names, as <id>.json.
        #[arg(long)]
        segments: Option<PathBuf>,
        /// Print the members instead of their count.
        #[arg(long)]
        ids: bool,
        /// Also print the evaluation plan (to stderr).
        #[arg(long)]
        explain: bool,
        /// Skip bad rows of the dataset instead of stopping at the first.
        #[arg(long)]
        lenient: bool,
        /// Evaluate each segment this many times and log the time of the first run (on a
        /// fresh engine: only what the load prepared is built) and the p50 and p99 of the
        /// others (results are never kept).
        #[arg(long, default_value_t = 1)]
        repeat: usize,
        /// Before each timed run but the first, write a buffer of this many MiB (more than
        /// the processor's last-level cache), so that the run reads its data from memory
        /// as a service does once other work has used the caches. Default: the data of
        /// the run before stay cached.
        #[arg(long, value_name = "MIB", value_parser = parse_cache_buffer_mib)]
        cold_caches: Option<usize>,
        /// Also write counts and times as JSON to this file.
        #[arg(long)]
        report: Option<PathBuf>,
        /// The segment definitions (JSON, segment-language.md). With several, prints
        /// `<file>\t<count>` per segment.
        #[arg(required = true)]
        segments_files: Vec<PathBuf>,
    },
}

#[derive(Subcommand)]
enum MagentoCommand {
    /// Read the store's tables in one consistent snapshot into a dataset directory, with
    /// its segments as segment files and import-report.json accounting for every row and
    /// condition not carried.
    Import {
        /// mysql://USER:PASS@HOST[:PORT]/DB or mysql://USER:PASS@localhost/DB?socket=PATH;
        /// without a password in it, SEGMINT_MYSQL_PASSWORD is the password.
        #[arg(long)]
        from: String,
        /// The dataset directory: absent or empty (written elsewhere and renamed at the
        /// end, so a failed import leaves it as it was).
        #[arg(long)]
        out: PathBuf,
        /// Magento's db-prefix.
        #[arg(long, default_value = "")]
        table_prefix: String,
        /// Replace a directory that is not empty.
        #[arg(long)]
        force: bool,
    },
    /// Write a dataset (a `segmint generate` output, say) into a database without
    /// Magento's tables as a Magento 2.4 Commerce store, for demos and for timing import
    /// and write-back: creates the tables, prints how rows were changed to fit them.
    Seed {
        /// mysql://USER:PASS@HOST[:PORT]/DB or mysql://USER:PASS@localhost/DB?socket=PATH;
        /// without a password in it, SEGMINT_MYSQL_PASSWORD is the password.
        #[arg(long)]
        to: String,
        /// The dataset directory.
        #[arg(long)]
        from: PathBuf,
        /// Magento's db-prefix for the tables created.
        #[arg(long, default_value = "")]
        table_prefix: String,
    },
    /// Evaluate the imported segments and make magento_customersegment_customer hold
    /// their members: one transaction per segment, added_date kept for those who stay.
    /// Skips inactive segments and those changed in Magento since the import.
    WriteBack {
        /// mysql://USER:PASS@HOST[:PORT]/DB or mysql://USER:PASS@localhost/DB?socket=PATH;
        /// without a password in it, SEGMINT_MYSQL_PASSWORD is the password.
        #[arg(long)]
        to: String,
        /// The directory `segmint magento import` wrote.
        #[arg(long)]
        data: PathBuf,
        /// The segment files to write back (default: DATA/segments), named <segment_id>.json.
        #[arg(long)]
        segments: Option<PathBuf>,
        /// Evaluate at this instant (RFC 3339; default now).
        #[arg(long)]
        as_of: Option<String>,
        /// Magento's db-prefix.
        #[arg(long, default_value = "")]
        table_prefix: String,
        /// Print what would change; write nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

fn magento(command: MagentoCommand) -> anyhow::Result<()> {
    match command {
        MagentoCommand::Import {
            from,
            out,
            table_prefix,
            force,
        } => {
            let password = std::env::var(segmint::magento::connect::PASSWORD_VARIABLE).ok();
            let options = segmint::magento::ImportOptions {
                from: segmint::magento::DatabaseUrl::parse(&from, password)?,
                out: out.clone(),
                table_prefix,
                force,
                progress: true,
            };
            let started = std::time::Instant::now();
            let report = segmint::magento::import(&options)?;
            tracing::info!(
                "{} in {:.1} s into {}",
                report.summary(),
                started.elapsed().as_secs_f64(),
                out.display()
            );
            Ok(())
        }
        MagentoCommand::Seed {
            to,
            from,
            table_prefix,
        } => {
            let password = std::env::var(segmint::magento::connect::PASSWORD_VARIABLE).ok();
            let options = segmint::magento::SeedOptions {
                to: segmint::magento::DatabaseUrl::parse(&to, password)?,
                from,
                table_prefix,
                progress: true,
            };
            let started = std::time::Instant::now();
            let summary = segmint::magento::seed(&options)?;
            for note in &summary.notes {
                println!("note: {note}");
            }
            tracing::info!(
                "{} in {:.1} s",
                summary.summary(),
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
        MagentoCommand::WriteBack {
            to,
            data,
            segments,
            as_of,
            table_prefix,
            dry_run,
        } => {
            let password = std::env::var(segmint::magento::connect::PASSWORD_VARIABLE).ok();
            let options = segmint::magento::WriteBackOptions {
                to: segmint::magento::DatabaseUrl::parse(&to, password)?,
                data,
                segments,
                table_prefix,
                as_of: as_of
                    .map(|t| parse_instant(&t).map_err(|e| anyhow::anyhow!("--as-of: {e}")))
                    .transpose()?,
                dry_run,
                progress: true,
            };
            let results = segmint::magento::write_back(&options, |result| println!("{result}"))?;
            println!("{}", segmint::magento::write_back::total(&results, dry_run));
            Ok(())
        }
    }
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Magento(command) => magento(command),
        Command::Generate {
            customers,
            seed,
            format,
            out,
            reference_time,
            force,
        } => {
            anyhow::ensure!(customers > 0, "--customers must be at least 1");
            let reference_time = reference_time
                .map(|text| {
                    parse_instant(&text).map_err(|e| anyhow::anyhow!("--reference-time: {e}"))
                })
                .transpose()?;
            let summary = generate(&GenerateOptions {
                customers,
                seed,
                format,
                out: out.clone(),
                progress: true,
                reference_time,
                overwrite: force,
            })?;
            let rows: Vec<String> = summary
                .meta
                .rows
                .iter()
                .map(|(t, n)| format!("{t}={n}"))
                .collect();
            tracing::info!(
                "generated {} in {:.2}s into {} (reference time {})",
                rows.join(" "),
                summary.elapsed.as_secs_f64(),
                out.display(),
                summary.meta.reference_time.as_deref().unwrap_or("-"),
            );
            Ok(())
        }
        Command::Load { data, lenient } => {
            // The demo dataset lives in a temporary directory removed on exit.
            let mut demo_dir = None;
            let dir = match data {
                Some(dir) => dir,
                None => {
                    tracing::info!(
                        "no --data given: generating the built-in demo dataset ({DEMO_CUSTOMERS} customers)"
                    );
                    let temp =
                        tempfile::tempdir().context("cannot create a temporary directory")?;
                    generate_demo(temp.path(), chrono::Utc::now().timestamp_micros())?;
                    demo_dir.insert(temp).path().to_path_buf()
                }
            };
            let loaded = load_dataset(
                &dir,
                &LoadOptions {
                    lenient,
                    progress: true,
                },
            );
            drop(demo_dir);
            let (dataset, report) = loaded.context("cannot load the dataset")?;
            tracing::info!("{}", report.summary());
            for (table, rule, skipped) in &report.skipped {
                eprintln!(
                    "skipped {} rows of {table}: {}",
                    skipped.count,
                    rule.describe()
                );
                for example in &skipped.examples {
                    eprintln!("  {example}");
                }
            }
            println!("visitors\t{}", dataset.visitor_count());
            for (table, rows) in report.rows {
                println!("{table}\t{rows}");
            }
            Ok(())
        }
        Command::Serve(args) => run_server(args),
        Command::Bench(args) => run_bench(args),
        Command::Soak {
            data,
            seconds,
            suite,
            out,
            checkpoint_after_events,
        } => {
            let report = segmint::bench::soak::run(&segmint::bench::soak::SoakOptions {
                data,
                suite,
                seconds,
                out,
                exe: std::env::current_exe().context("cannot find the segmint binary")?,
                checkpoint_after_events,
            })?;
            println!("{}", segmint::bench::soak::render(&report));
            anyhow::ensure!(report.errors() == 0, "{} requests failed", report.errors());
            Ok(())
        }
        Command::BenchWorker {
            data,
            suite,
            repeat,
            as_of,
            cold_caches,
            events,
            report,
        } => segmint::bench::worker::run(&segmint::bench::worker::WorkerOptions {
            data,
            suite,
            as_of: as_of
                .map(|t| parse_instant(&t).map_err(|e| anyhow::anyhow!("--as-of: {e}")))
                .transpose()?,
            repeat,
            cold_caches_mib: cold_caches,
            bulk_runs: 3,
            event_lists: events.event_lists,
            events_per_list: events.events_per_list.max(1),
            replay_events: events.replay_events,
            fold_after_events: events.fold_after_events.max(1),
            http_event_seconds: events.http_event_seconds.max(0.0),
            report,
        }),
        Command::Eval {
            data,
            as_of,
            segments,
            ids,
            explain,
            lenient,
            repeat,
            cold_caches,
            report: report_file,
            segments_files,
        } => {
            let mut cold = cold_caches.map(ColdCaches::new);
            let as_of = match as_of {
                Some(text) => parse_instant(&text).map_err(|e| anyhow::anyhow!("--as-of: {e}"))?,
                None => chrono::Utc::now().timestamp_micros(),
            };
            let (dataset, report) = load_dataset(
                &data,
                &LoadOptions {
                    lenient,
                    progress: true,
                },
            )
            .context("cannot load the dataset")?;
            tracing::info!("{}", report.summary());
            let engine = Engine::prepared(Arc::new(dataset));
            let source = SegmentDir {
                dir: segments,
                engine: &engine,
            };
            let several = segments_files.len() > 1;
            let mut runs = Vec::with_capacity(segments_files.len());
            for segment in &segments_files {
                let text = std::fs::read_to_string(segment)
                    .with_context(|| format!("cannot read {}", segment.display()))?;
                let at = |e: &dyn std::fmt::Display| anyhow::anyhow!("{}: {e}", segment.display());
                let definition = engine.parse(&text).map_err(|e| at(&e))?;
                // A segment file inside the segments directory is known by its id there.
                let own_id = segment.file_stem().and_then(|s| s.to_str());
                if explain {
                    let plan = engine
                        .plan(&definition, as_of, &source)
                        .map_err(|e| at(&e))?;
                    eprintln!("plan: {plan}");
                }
                let (evaluation, timing) = evaluate_repeatedly(
                    &engine,
                    &definition,
                    own_id,
                    as_of,
                    &source,
                    repeat,
                    cold.as_mut(),
                )
                .map_err(|e| at(&e))?;
                tracing::info!(
                    "{}: {} members of {} subjects in scope; {}",
                    definition.name,
                    evaluation.members.len(),
                    evaluation.universe,
                    timing.summary()
                );
                runs.push(SegmentRun {
                    id: own_id.unwrap_or_default().to_string(),
                    name: definition.name.clone(),
                    count: evaluation.members.len(),
                    universe: evaluation.universe,
                    timing,
                    cold: None,
                });
                if ids {
                    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
                    for line in engine.member_ids(&evaluation.members) {
                        writeln!(out, "{line}")?;
                    }
                    out.flush()?;
                } else if several {
                    println!("{}\t{}", segment.display(), evaluation.members.len());
                } else {
                    println!("{}", evaluation.members.len());
                }
            }
            tracing::info!(
                "indexes built for these segments: {:.1} MiB",
                engine.index_memory_bytes() as f64 / (1024.0 * 1024.0)
            );
            for item in engine.index_memory_breakdown() {
                tracing::debug!(
                    "memory: {} {:.1} MiB",
                    item.what,
                    item.bytes as f64 / (1024.0 * 1024.0)
                );
            }
            if let Some(path) = report_file {
                let written = serde_json::json!({
                    "data": data,
                    "as_of": segmint::data::value::format_timestamp(as_of),
                    "repeat": repeat,
                    "cold_caches_mib": cold_caches,
                    "load_seconds": report.elapsed.as_secs_f64(),
                    "loaded_bytes": report.memory_bytes,
                    "index_bytes": engine.index_memory_bytes(),
                    "peak_rss_bytes": segmint::util::peak_rss_bytes(),
                    "segments": runs,
                });
                std::fs::write(&path, serde_json::to_string_pretty(&written)? + "\n")
                    .with_context(|| format!("cannot write {}", path.display()))?;
            }
            Ok(())
        }
    }
}

#[derive(clap::Args)]
struct BenchArgs {
    /// Scales to measure: S (100,000 customers), M (1,000,000), L (10,000,000) or a number
    /// of customers. Repeat the option or separate with commas.
    #[arg(long, value_delimiter = ',', default_value = "S")]
    scale: Vec<String>,
    /// Where datasets are generated (<dir>/<scale>) and reused on later runs.
    #[arg(long, default_value = "bench-data")]
    data_root: PathBuf,
    /// Where bench-report.json, bench.svg and the workers' logs are written.
    #[arg(long, default_value = "bench-report")]
    out: PathBuf,
    /// The segment suite.
    #[arg(long, default_value = "benches/segments")]
    suite: PathBuf,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Evaluations per suite segment: the first on a fresh engine (holding only what the
    /// load prepared), timed apart; p50/p99 are of the rest.
    #[arg(long, default_value_t = 21)]
    repeat: usize,
    /// Seconds of HTTP load per measure.
    #[arg(long, default_value_t = 10.0)]
    http_seconds: f64,
    /// Connections of the HTTP load.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Customers to estimate the suite time and memory for.
    #[arg(long, default_value_t = 10_000_000)]
    capacity: u64,
    /// Generate datasets again even when they are there already.
    #[arg(long)]
    regenerate: bool,
    /// Also evaluate each suite segment with the caches used for other data before
    /// every run (`eval --cold-caches`), writing a buffer of this many MiB; the buffer
    /// counts in the worker's peak RSS.
    #[arg(long, value_name = "MIB", value_parser = parse_cache_buffer_mib)]
    cold_caches: Option<usize>,
    #[command(flatten)]
    events: EventMeasures,
}

/// The events measures of `segmint bench` (and of its worker).
#[derive(clap::Args, Clone, Copy, Debug)]
struct EventMeasures {
    /// Lists of events to apply with 100 active segments (0: none).
    #[arg(long, default_value_t = 3)]
    event_lists: usize,
    /// Events per list.
    #[arg(long, default_value_t = 100)]
    events_per_list: usize,
    /// Events to write to an event log and replay at a start over the loaded data (0: none).
    #[arg(long, default_value_t = 0)]
    replay_events: usize,
    /// Events in the delta before a fold into the data starts (`serve
    /// --checkpoint-after-events`).
    #[arg(long, default_value_t = segmint::service::CHECKPOINT_AFTER_EVENTS)]
    fold_after_events: usize,
    /// Seconds of lists of 10 events sent over HTTP by 16 clients to a server with a state
    /// directory (0: not measured).
    #[arg(long, default_value_t = 5.0)]
    http_event_seconds: f64,
}

/// The largest buffer `--cold-caches` writes: far past any processor's caches, and
/// small enough not to take a machine's memory by a typo.
const MAX_CACHE_BUFFER_MIB: usize = 16_384;

/// A `--cold-caches` size: MiB, from 1 to [`MAX_CACHE_BUFFER_MIB`].
fn parse_cache_buffer_mib(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(mib) if (1..=MAX_CACHE_BUFFER_MIB).contains(&mib) => Ok(mib),
        _ => Err(format!(
            "{text:?} is not a size in MiB from 1 to {MAX_CACHE_BUFFER_MIB} (more than the processor's last-level cache)"
        )),
    }
}

fn run_bench(args: BenchArgs) -> anyhow::Result<()> {
    let scales = args
        .scale
        .iter()
        .map(|s| segmint::bench::Scale::parse(s).map_err(|e| anyhow::anyhow!("--scale: {e}")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    anyhow::ensure!(args.http_seconds > 0.0, "--http-seconds must be positive");
    let report = segmint::bench::run(&segmint::bench::BenchOptions {
        scales,
        data_root: args.data_root,
        out: args.out.clone(),
        suite: args.suite,
        seed: args.seed,
        repeat: args.repeat.max(2),
        http_seconds: args.http_seconds,
        concurrency: args.concurrency.max(1),
        capacity_customers: args.capacity,
        regenerate: args.regenerate,
        cold_caches_mib: args.cold_caches,
        event_lists: args.events.event_lists,
        events_per_list: args.events.events_per_list.max(1),
        replay_events: args.events.replay_events,
        fold_after_events: args.events.fold_after_events.max(1),
        http_event_seconds: args.events.http_event_seconds.max(0.0),
        exe: std::env::current_exe().context("cannot find the segmint binary")?,
    })?;
    println!("{}", segmint::bench::render(&report));
    tracing::info!(
        "wrote {} and {}",
        args.out.join("bench-report.json").display(),
        args.out.join("bench.svg").display()
    );
    let failed = report.scales.iter().filter(|s| s.error.is_some()).count();
    anyhow::ensure!(failed == 0, "{failed} scale(s) did not complete");
    Ok(())
}

#[derive(clap::Args)]
struct ServeArgs {
    #[arg(long)]
    data: Option<PathBuf>,
    /// Address to listen on, HOST:PORT (a name such as localhost:8080 is resolved).
    /// Anything but loopback needs --token.
    #[arg(long, default_value = "127.0.0.1:8080")]
    bind: String,
    /// Directory that keeps segment definitions and the event log across restarts
    /// (created if missing). Without it they live in memory only.
    #[arg(long)]
    state: Option<PathBuf>,
    /// Require 'Authorization: Bearer <token>' on every request but GET /health.
    #[arg(long)]
    token: Option<String>,
    /// Fix the server's clock at this instant (memberships, refreshes and estimates
    /// use it as now), for reproducible demos and benchmarks. Default: the system clock.
    #[arg(long)]
    as_of: Option<String>,
    /// Seconds one request's evaluation (create, update, estimate) may take before it
    /// is stopped with a 422.
    #[arg(long, default_value_t = 10.0)]
    time_limit: f64,
    /// Events applied to touched subjects before a list folds them into the data; with
    /// --state, also the log length past which the data is written as a checkpoint.
    #[arg(long, default_value_t = segmint::service::CHECKPOINT_AFTER_EVENTS)]
    checkpoint_after_events: usize,
    /// How many of the latest membership changes the change feed (GET /changes) keeps,
    /// in memory and, with --state, on disk.
    #[arg(long, default_value_t = segmint::feed::DEFAULT_KEPT)]
    changes_kept: usize,
    /// Skip bad rows of the dataset instead of stopping at the first.
    #[arg(long)]
    lenient: bool,
    /// Seconds a client has to send a request's headers, counted from when the server
    /// waits for it (a new connection, or a kept-alive one after its last response).
    #[arg(long, default_value_t = 10.0)]
    header_timeout: f64,
    /// Connections served at once; more wait until one closes.
    #[arg(long, default_value_t = 1024)]
    max_connections: usize,
}

fn run_server(args: ServeArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.token.as_deref() != Some(""),
        "--token is empty: no client could authenticate; give a token, or leave --token out on a loopback address"
    );
    let addresses: Vec<std::net::SocketAddr> = std::net::ToSocketAddrs::to_socket_addrs(&args.bind)
        .with_context(|| {
            format!(
                "--bind {}: not an address to listen on (HOST:PORT)",
                args.bind
            )
        })?
        .collect();
    anyhow::ensure!(
        !addresses.is_empty(),
        "--bind {}: the name resolves to no address",
        args.bind
    );
    for address in &addresses {
        check_bind(address, args.token.as_deref()).map_err(|e| anyhow::anyhow!(e))?;
    }
    anyhow::ensure!(
        args.time_limit.is_finite() && args.time_limit > 0.0,
        "--time-limit must be a positive number of seconds"
    );
    anyhow::ensure!(
        args.header_timeout.is_finite() && args.header_timeout > 0.0,
        "--header-timeout must be a positive number of seconds"
    );
    anyhow::ensure!(
        args.max_connections > 0,
        "--max-connections must be at least 1"
    );
    let clock: Arc<dyn Clock> = match &args.as_of {
        Some(text) => Arc::new(ManualClock::new(
            parse_instant(text).map_err(|e| anyhow::anyhow!("--as-of: {e}"))?,
        )),
        None => Arc::new(SystemClock),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    // Bound before loading, so a taken port fails at once rather than after the load.
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind(addresses.as_slice()))
        .with_context(|| format!("cannot listen on {}", args.bind))?;
    let address = listener
        .local_addr()
        .context("cannot read the bound address")?;

    let state = match &args.state {
        Some(dir) => Some(StateDir::open(dir)?),
        None => {
            tracing::warn!(
                "no --state given: segments and events are kept in memory only and are gone when the server stops"
            );
            None
        }
    };
    // A checkpoint in the state holds the data with the events so far: it replaces --data.
    let checkpoint = match &state {
        Some(state) => state.sources()?.checkpoint,
        None => None,
    };
    let demo = args.data.is_none();
    let origin = data_origin(
        state.as_ref(),
        args.data.as_deref(),
        checkpoint.is_some(),
        &*clock,
    )?;
    let mut demo_dir = None;
    let dir = match (&checkpoint, &args.data) {
        (Some(dir), _) => {
            tracing::info!(
                "starting from the checkpoint {} (the data with the logged events applied)",
                dir.display()
            );
            dir.clone()
        }
        (None, Some(dir)) => dir.clone(),
        (None, None) => {
            tracing::info!(
                "no --data given: serving the built-in demo store ({DEMO_CUSTOMERS} customers)"
            );
            let temp = tempfile::tempdir().context("cannot create a temporary directory")?;
            let reference_time = origin
                .as_ref()
                .and_then(DataOrigin::demo_reference_time)
                .unwrap_or_else(|| clock.now_micros());
            generate_demo(temp.path(), reference_time)?;
            demo_dir.insert(temp).path().to_path_buf()
        }
    };
    let (dataset, report) = load_dataset(
        &dir,
        &LoadOptions {
            lenient: args.lenient,
            progress: true,
        },
    )
    // The loader's errors name the file (and row) already.
    .context("cannot load the dataset")?;
    drop(demo_dir);
    tracing::info!("{}", report.summary());
    // Examples go into a fresh state only: deleting one is a change that must last.
    let first_start = state.as_ref().is_none_or(|s| !s.has_saved_segments());
    let service = Arc::new(Service::start(
        Arc::new(Engine::prepared(Arc::new(dataset))),
        ServiceOptions {
            clock,
            state,
            time_limit: Some(std::time::Duration::from_secs_f64(args.time_limit)),
            checkpoint_after_events: args.checkpoint_after_events.max(1),
            engine_from_checkpoint: checkpoint.is_some(),
            changes_kept: args.changes_kept.max(1),
        },
    )?);
    if demo && first_start {
        let added = store_examples(&service)?;
        tracing::info!("stored {added} example segments");
    }
    let snapshot = service.snapshot();
    // The demo's example requests name rows of the data as loaded.
    let dataset = snapshot.loaded_engine().dataset();
    let url = format!("http://{address}");
    let mut lines = vec![format!(
        "segmint listening on {url} ({} customers, {} visitors, {} segments)",
        snapshot.customer_count(),
        snapshot.visitor_count(),
        snapshot.segments.len()
    )];
    lines.push(format!("admin console: {url}/ (open it in a browser)"));
    if demo {
        let auth = args
            .token
            .as_ref()
            .map(|t| format!(" -H 'Authorization: Bearer {t}'"))
            .unwrap_or_default();
        // A customer who is in some example segment, so the lookup shows one.
        let customer = snapshot
            .segments
            .values()
            .find_map(|s| {
                s.members
                    .bitmap()
                    .min()
                    .filter(|&m| (m as usize) < dataset.customer_count())
            })
            .map_or(1, |c| dataset.customer_ids().value(c as usize));
        // An event that customer could send now: a view of the first product.
        let view = serde_json::json!([{"type": "product_viewed", "customer_id": customer,
            "product_id": dataset.products.ints("product_id").map_or(1, |p| p.value(0)),
            "website_id": dataset.customer_index.get(customer).map_or(1, |c| {
                dataset.customers.ints("website_id").map_or(1, |w| w.value(c as usize))
            }),
            "viewed_at": segmint::data::value::format_timestamp(service.clock().now_micros())}]);
        lines.extend([
            "try:".to_string(),
            format!("  curl -s{auth} {url}/segments"),
            format!("  curl -s{auth} {url}/customers/{customer}/segments"),
            format!(
                "  curl -s{auth} -X POST {url}/estimate -H 'Content-Type: application/json' -d '{{\"websites\":[1],\"conditions\":{{\"field\":\"customer.group_id\",\"op\":\"eq\",\"value\":2}}}}'"
            ),
            format!(
                "  curl -s{auth} -X POST {url}/events -H 'Content-Type: application/json' -d '{view}'"
            ),
        ]);
    }
    // A closed standard output (piped to `head`, say) must not stop the server.
    let mut out = std::io::stdout().lock();
    for line in lines {
        let _ = writeln!(out, "{line}");
    }
    let _ = out.flush();
    drop(out);
    let state = AppState::new(
        service,
        ServerConfig {
            token: args.token,
            connections: ConnectionLimits {
                header_timeout: std::time::Duration::from_secs_f64(args.header_timeout),
                max_connections: args.max_connections,
            },
            ..ServerConfig::default()
        },
    );
    runtime
        .block_on(serve(listener, state, shutdown_signal()))
        .context("the server stopped")?;
    tracing::info!("stopped");
    Ok(())
}

/// The data a start serves must be the data its state was first written over: checked
/// against the recorded fingerprint, or recorded at the state's first start. `None`
/// without a state, or when a checkpoint stands in for the data and no --data is given.
fn data_origin(
    state: Option<&StateDir>,
    data: Option<&std::path::Path>,
    has_checkpoint: bool,
    clock: &dyn Clock,
) -> anyhow::Result<Option<DataOrigin>> {
    let Some(state) = state else {
        return Ok(None);
    };
    let recorded = state.data_origin()?;
    let now = match (data, &recorded) {
        (Some(dir), _) => {
            let started = std::time::Instant::now();
            let files = DataOrigin::of_files(dir)?;
            tracing::info!(
                "fingerprinted the data for the state in {:.2}s",
                started.elapsed().as_secs_f64()
            );
            files
        }
        (None, _) if has_checkpoint => return Ok(recorded),
        (None, Some(demo @ DataOrigin::Demo { .. })) => demo.clone(),
        (None, Some(DataOrigin::Files { .. })) | (None, None) => {
            // The demo of the start of today, as `generate_demo` makes it.
            let day = segmint::data::value::day_of_micros(clock.now_micros());
            DataOrigin::demo(i64::from(day) * segmint::data::value::MICROS_PER_DAY)
        }
    };
    match &recorded {
        Some(recorded) => {
            if let Some(why) = recorded.differs_from(&now) {
                anyhow::bail!(
                    "the state directory {} cannot be used with this data: {why}. A state replays its events over the data it was first written over; use a new --state for other data",
                    state.path().display()
                );
            }
        }
        None => state.record_data_origin(&now)?,
    }
    Ok(Some(now))
}

/// Ctrl-C or SIGTERM: stop taking connections and let the open requests finish.
async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {}
        _ = terminate => {}
    }
}
