//! The `segmint` command line. Errors print one line and exit non-zero.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use segmint::data::generate::{GenerateOptions, OutputFormat, generate};
use segmint::data::{LoadOptions, load_dataset};

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
    }
}
