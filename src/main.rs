//! The `segmint` command line. Errors print one line and exit non-zero.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use clap::{Parser, Subcommand};
use segmint::data::generate::{GenerateOptions, OutputFormat, generate};
use segmint::data::value::parse_instant;
use segmint::data::{LoadOptions, load_dataset};
use segmint::segment::{DefinitionError, Engine, Segment, SegmentSource};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Customers in the built-in demo dataset: large enough to be interesting, small enough to
/// be made in a second or two.
const DEMO_CUSTOMERS: u64 = 20_000;

#[derive(Parser)]
#[command(name = "segmint", version, about = "Customer segmentation engine")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
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
    },
    /// Load a dataset, check every data rule and print what it holds. Without --data, loads
    /// the built-in demo dataset.
    Load {
        #[arg(long)]
        data: Option<PathBuf>,
        /// Skip bad rows (and report them) instead of stopping at the first.
        #[arg(long)]
        lenient: bool,
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
        /// The segment definition (JSON, segment-language.md).
        segment: PathBuf,
    },
}

/// Segments named by `in_segment`, read from `<dir>/<id>.json`.
struct SegmentDir<'a> {
    dir: Option<PathBuf>,
    engine: &'a Engine,
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
        Command::Generate {
            customers,
            seed,
            format,
            out,
        } => {
            anyhow::ensure!(customers > 0, "--customers must be at least 1");
            let summary = generate(&GenerateOptions {
                customers,
                seed,
                format,
                out: out.clone(),
                progress: true,
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
                    generate(&GenerateOptions {
                        customers: DEMO_CUSTOMERS,
                        seed: 1,
                        format: OutputFormat::Parquet,
                        out: temp.path().to_path_buf(),
                        progress: true,
                    })?;
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
            let (dataset, report) =
                loaded.with_context(|| format!("cannot load {}", dir.display()))?;
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
        Command::Eval {
            data,
            as_of,
            segments,
            ids,
            explain,
            lenient,
            segment,
        } => {
            let as_of = match as_of {
                Some(text) => parse_instant(&text).map_err(|e| anyhow::anyhow!("--as-of: {e}"))?,
                None => chrono::Utc::now().timestamp_micros(),
            };
            let text = std::fs::read_to_string(&segment)
                .with_context(|| format!("cannot read {}", segment.display()))?;
            let (dataset, report) = load_dataset(
                &data,
                &LoadOptions {
                    lenient,
                    progress: true,
                },
            )
            .with_context(|| format!("cannot load {}", data.display()))?;
            tracing::info!("{}", report.summary());
            let engine = Engine::new(Arc::new(dataset));
            let definition = engine
                .parse(&text)
                .map_err(|e| anyhow::anyhow!("{}: {e}", segment.display()))?;
            let source = SegmentDir {
                dir: segments,
                engine: &engine,
            };
            // A segment file inside the segments directory is known by its id there.
            let own_id = segment
                .file_stem()
                .and_then(|s| s.to_str())
                .map(str::to_string);
            if explain {
                let plan = engine
                    .plan(&definition, as_of, &source)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", segment.display()))?;
                eprintln!("plan: {plan}");
            }
            let started = Instant::now();
            let evaluation = engine
                .evaluate(&definition, own_id.as_deref(), as_of, &source)
                .map_err(|e| anyhow::anyhow!("{}: {e}", segment.display()))?;
            tracing::info!(
                "{}: {} members of {} subjects in scope, evaluated in {:.3} ms",
                definition.name,
                evaluation.members.len(),
                evaluation.universe,
                started.elapsed().as_secs_f64() * 1e3
            );
            if ids {
                let mut out = std::io::BufWriter::new(std::io::stdout().lock());
                for line in engine.member_ids(&evaluation.members) {
                    writeln!(out, "{line}")?;
                }
                out.flush()?;
            } else {
                println!("{}", evaluation.members.len());
            }
            Ok(())
        }
    }
}
