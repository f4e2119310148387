//! The public segment suite (`benches/segments/`): every definition is valid, they
//! together use every condition form, relation, aggregate and scope, and each evaluates.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use segmint::data::generate::OutputFormat;
use segmint::segment::definition::{ApplyTo, Condition};
use segmint::segment::schema::RelationKind;
use segmint::segment::{DefinitionError, Engine, Segment, SegmentSource};

use crate::common::{generated, load};

const SUITE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/segments");

struct SuiteDir<'a>(&'a Engine);

impl SegmentSource for SuiteDir<'_> {
    fn segment(&self, id: &str) -> Result<Option<Segment>, DefinitionError> {
        match std::fs::read_to_string(Path::new(SUITE).join(format!("{id}.json"))) {
            Ok(text) => self.0.parse(&text).map(Some),
            Err(_) => Ok(None),
        }
    }
}

#[test]
fn the_suite_uses_every_form_relation_aggregate_and_scope_and_evaluates() {
    let dir = generated(2_000, 5, OutputFormat::Parquet);
    let dataset = load(dir.path());
    let as_of = dataset.reference_time.expect("reference time");
    let engine = Engine::new(Arc::new(dataset));
    let mut files: Vec<PathBuf> = std::fs::read_dir(SUITE)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 12, "the suite has at least 12 segments");
    let mut used = BTreeSet::new();
    for file in &files {
        let id = file.file_stem().unwrap().to_str().unwrap();
        let segment = engine
            .parse(&std::fs::read_to_string(file).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        used.insert(format!("apply_to {}", segment.apply_to.name()));
        segment.condition.visit(&mut |c| {
            let name = match c {
                Condition::All(_) => "all".to_string(),
                Condition::Any(_) => "any".into(),
                Condition::None(_) => "none".into(),
                Condition::NotAll(_) => "not_all".into(),
                Condition::Not(_) => "not".into(),
                Condition::Compare(cmp) => format!("field of {}", cmp.field.table),
                Condition::Has { relation, .. } => format!("relation {relation}"),
                Condition::Aggregate(a) => {
                    used.insert(format!("relation {}", a.relation));
                    format!("aggregate {}", a.function.name())
                }
                Condition::InSegment { .. } => "in_segment".into(),
            };
            used.insert(name);
        });
        let evaluation = engine
            .evaluate(&segment, Some(id), as_of, &SuiteDir(&engine))
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        assert!(evaluation.members.len() <= evaluation.universe, "{id}");
    }
    let mut wanted: Vec<String> = [
        "all",
        "any",
        "none",
        "not_all",
        "not",
        "in_segment",
        "field of customer",
        "field of cart",
        "field of product",
    ]
    .map(String::from)
    .to_vec();
    wanted.extend(RelationKind::ALL.map(|r| format!("relation {r}")));
    wanted.extend(["count", "sum", "avg", "min", "max"].map(|a| format!("aggregate {a}")));
    wanted.extend(
        [ApplyTo::Registered, ApplyTo::Visitors, ApplyTo::Both]
            .map(|a| format!("apply_to {}", a.name())),
    );
    let missing: Vec<&String> = wanted.iter().filter(|w| !used.contains(*w)).collect();
    assert!(missing.is_empty(), "the suite does not use {missing:?}");
}

/// `segmint eval --cold-caches` times every run after the first with the caches used
/// for other data in between: the same members as a warm run, the runs it was asked
/// for, and the buffer's size in the report.
#[test]
fn eval_with_cold_caches_finds_the_same_members_and_reports_its_buffer() {
    let dir = generated(2_000, 5, OutputFormat::Parquet);
    let out = tempfile::tempdir().unwrap();
    let files = ["spent_500_complete", "shipped_to_gb"].map(|id| format!("{SUITE}/{id}.json"));
    let eval = |report: &str, cold: Option<&str>| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_segmint"));
        command
            .args(["eval", "--repeat", "4", "--segments", SUITE, "--data"])
            .arg(dir.path())
            .args(["--as-of", "2026-11-01T00:00:00Z", "--report"])
            .arg(out.path().join(report))
            .args(&files);
        if let Some(mib) = cold {
            command.args(["--cold-caches", mib]);
        }
        let output = command.output().expect("segmint runs");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let text = std::fs::read_to_string(out.path().join(report)).unwrap();
        serde_json::from_str::<serde_json::Value>(&text).unwrap()
    };
    let warm = eval("warm.json", None);
    let cold = eval("cold.json", Some("16"));
    assert_eq!(warm["cold_caches_mib"], serde_json::Value::Null);
    assert_eq!(cold["cold_caches_mib"], 16);
    let counts = |report: &serde_json::Value| -> Vec<(String, u64, u64)> {
        report["segments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                let field = |name: &str| s[name].as_u64().unwrap();
                (
                    s["id"].as_str().unwrap().to_string(),
                    field("count"),
                    field("runs"),
                )
            })
            .collect()
    };
    assert_eq!(counts(&cold), counts(&warm));
    assert!(
        counts(&cold).iter().all(|(_, _, runs)| *runs == 3),
        "{cold}"
    );
    assert!(
        counts(&cold).iter().any(|(_, count, _)| *count > 0),
        "{cold}"
    );
    // A size that is not a number of MiB, none, or one that would take the machine's
    // memory is refused before anything is loaded.
    for size in ["lots", "0", "99999999999"] {
        let refused = std::process::Command::new(env!("CARGO_BIN_EXE_segmint"))
            .args(["eval", "--cold-caches", size, "--data"])
            .arg(dir.path())
            .arg(&files[0])
            .output()
            .unwrap();
        assert_eq!(refused.status.code(), Some(2), "{size}");
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(
            stderr.contains("--cold-caches") && stderr.contains("MiB from 1"),
            "{stderr}"
        );
    }
}
