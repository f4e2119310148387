//! `segmint bench`: scales, the capacity fit, and a small run end to end.

use segmint::bench::{BenchReport, LinearFit, Scale};

#[test]
fn scales_are_names_or_customer_counts() {
    let customers = |text: &str| Scale::parse(text).map(|s| (s.label, s.customers));
    assert_eq!(customers("S"), Ok(("S".to_string(), 100_000)));
    assert_eq!(customers("m"), Ok(("M".to_string(), 1_000_000)));
    assert_eq!(customers("L"), Ok(("L".to_string(), 10_000_000)));
    assert_eq!(customers("250_000"), Ok(("250000".to_string(), 250_000)));
    assert!(customers("XL").is_err());
    assert!(customers("0").is_err());
}

#[test]
fn the_capacity_fit_is_a_least_squares_line() {
    let fit = LinearFit::of(&[(100.0, 250.0), (1000.0, 2050.0), (2000.0, 4050.0)]).unwrap();
    assert!((fit.per_customer - 2.0).abs() < 1e-9 && (fit.fixed - 50.0).abs() < 1e-6);
    assert!((fit.at(10_000.0) - 20_050.0).abs() < 1e-6);
    // One scale: a line through the origin.
    let one = LinearFit::of(&[(100.0, 300.0)]).unwrap();
    assert_eq!((one.fixed, one.per_customer), (0.0, 3.0));
    assert!(LinearFit::of(&[]).is_none());
}

/// Runs `segmint bench` on a tiny scale and reads its report.
fn bench(
    suite: &std::path::Path,
    extra: &[&str],
) -> (std::process::Output, Option<BenchReport>, tempfile::TempDir) {
    let work = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_segmint"))
        .args([
            "bench",
            "--scale",
            "2000",
            "--repeat",
            "2",
            "--http-seconds",
            "0.3",
        ])
        .args(["--concurrency", "2", "--capacity", "50000"])
        .args(["--event-lists", "2", "--events-per-list", "20"])
        .args(["--replay-events", "1500", "--http-event-seconds", "0.5"])
        .arg("--data-root")
        .arg(work.path().join("data"))
        .arg("--out")
        .arg(work.path().join("out"))
        .arg("--suite")
        .arg(suite)
        .args(extra)
        .output()
        .expect("segmint runs");
    let report = std::fs::read_to_string(work.path().join("out/bench-report.json"))
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok());
    (output, report, work)
}

#[test]
fn a_small_bench_measures_every_step_and_writes_its_report_and_chart() {
    let suite = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/segments");
    let (output, report, work) = bench(&suite, &["--cold-caches", "8"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report = report.expect("bench-report.json");
    let scale = &report.scales[0];
    assert!(scale.error.is_none(), "{:?}", scale.error);
    assert!(scale.generate_seconds.is_some() && scale.files_bytes > 0);
    let worker = scale.worker.as_ref().expect("the worker's measures");
    assert_eq!(worker.segments.len(), 18);
    assert!(worker.segments.iter().any(|s| s.count > 0));
    // Asked for: every segment timed again with the caches cold, as many runs.
    for segment in &worker.segments {
        let cold = segment.cold.as_ref().expect("cold runs");
        assert_eq!(cold.runs, segment.timing.runs, "{}", segment.id);
    }
    let cold_sum: f64 = worker
        .segments
        .iter()
        .map(|s| s.cold.as_ref().unwrap().p50_ms)
        .sum();
    // Through JSON: equal up to the last digit of the sum.
    let reported = worker.cold_suite_p50_ms.expect("the cold suite's sum");
    assert!(
        (reported - cold_sum).abs() < 1e-9,
        "{reported} against {cold_sum}"
    );
    assert!(stdout.contains("2000 p50 ms, caches cold |"), "{stdout}");
    assert!(worker.ready_seconds >= worker.load_seconds);
    assert_eq!(worker.bulk_refresh_ms.len(), 3);
    let events = worker.events.as_ref().expect("the events measure");
    assert_eq!((events.segments, events.events_per_list), (100, 20));
    assert_eq!(events.list_ms.len(), 2);
    assert!(events.events_per_second > 0.0);
    let http = worker
        .http_events
        .as_ref()
        .expect("the events over HTTP measure");
    assert_eq!(
        (http.clients, http.events_per_list, http.segments),
        (16, 10, 100)
    );
    assert!(http.load.requests > 0 && http.load.errors == 0, "{http:?}");
    assert!(http.log_flushes > 0 && http.log_flushes <= http.load.requests);
    let replay = worker.replay.as_ref().expect("the replay measure");
    assert_eq!(replay.events, 1500);
    assert!(replay.log_bytes > 0 && replay.seconds > 0.0 && replay.from_checkpoint_seconds > 0.0);
    for load in [
        &scale.estimate_attribute_only,
        &scale.estimate_aggregate,
        &scale.lookup,
    ] {
        let load = load.as_ref().expect("measured");
        assert!(load.requests > 0 && load.errors == 0, "{load:?}");
    }
    assert!(scale.peak_rss_bytes.unwrap_or(0) > 0);
    assert!(report.capacity.expected_suite_p50_ms.is_some());
    assert!(
        stdout.contains("| 2000 |") && stdout.contains("customers per GiB"),
        "{stdout}"
    );
    let chart = std::fs::read_to_string(work.path().join("out/bench.svg")).expect("a chart");
    assert!(chart.starts_with("<svg") && chart.contains("peak RSS"));
}

#[test]
fn a_suite_without_the_http_segments_skips_those_measures_and_says_so() {
    let suite = tempfile::tempdir().unwrap();
    std::fs::write(
        suite.path().join("wholesale.json"),
        r#"{"name": "w", "websites": [1], "conditions": {"field": "customer.group_id", "op": "eq", "value": 2}}"#,
    )
    .unwrap();
    let (output, report, _work) = bench(suite.path(), &[]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let scale = &report.expect("report").scales[0];
    assert!(scale.error.is_none(), "{:?}", scale.error);
    assert!(scale.estimate_attribute_only.is_none() && scale.lookup.is_some());
    // Not asked for: no runs with the caches cold.
    let worker = scale.worker.as_ref().expect("the worker's measures");
    assert!(worker.cold_suite_p50_ms.is_none());
    assert!(worker.segments.iter().all(|s| s.cold.is_none()));
    assert!(
        scale
            .notes
            .iter()
            .any(|n| n.contains("attributes_wholesale")),
        "{:?}",
        scale.notes
    );
}

/// The growth from one scale to the next gives the suite's p50 with the caches cold
/// beside the warm one, when both scales measured it.
#[test]
fn growth_between_scales_gives_the_cold_suite_beside_the_warm_one() {
    let scale = |label: &str, customers: u64, warm: f64, cold: Option<f64>| {
        let worker = serde_json::json!({
            "as_of": "2026-11-01T00:00:00Z", "load_seconds": 1.0, "ready_seconds": 1.0,
            "loaded_bytes": 1, "rows": {}, "segments": [], "suite_p50_ms": warm,
            "cold_suite_p50_ms": cold, "bulk_refresh_ms": [], "index_bytes": 0,
        });
        segmint::bench::ScaleReport {
            scale: Some(Scale {
                label: label.to_string(),
                customers,
            }),
            worker: Some(serde_json::from_value(worker).unwrap()),
            ..Default::default()
        }
    };
    let scales = [
        scale("M", 1_000_000, 25.0, Some(40.0)),
        scale("L", 10_000_000, 300.0, Some(340.0)),
    ];
    let growth = &segmint::bench::capacity(&scales, 10_000_000).growth[0];
    assert_eq!((growth.from.as_str(), growth.to.as_str()), ("M", "L"));
    assert!((growth.suite_p50.unwrap() - 12.0).abs() < 1e-9);
    assert!((growth.cold_suite_p50.unwrap() - 8.5).abs() < 1e-9);
    // One scale without cold runs: no cold growth.
    let scales = [scales[0].clone(), scale("L", 10_000_000, 300.0, None)];
    let growth = &segmint::bench::capacity(&scales, 10_000_000).growth[0];
    assert_eq!(growth.cold_suite_p50, None);
}
