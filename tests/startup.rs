//! The command line and the start, as a careless operator meets them: `generate` over a
//! directory that holds data, a state started over other data, a bad saved segment,
//! start-up errors and `--bind` names.

use std::io::Read;
use std::time::{Duration, Instant};

fn segmint(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_segmint"))
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("segmint runs")
}

#[test]
fn generate_refuses_a_directory_that_is_not_empty_unless_forced() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("store");
    let out_text = out.to_str().unwrap();
    let generate = |force: bool| {
        let mut args = vec!["generate", "--customers", "20", "--format", "csv", "--out"];
        args.push(out_text);
        if force {
            args.push("--force");
        }
        segmint(&args)
    };

    // A user's own data: generating over it is refused and leaves it as it was.
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("customers.csv"), "the user's own customers\n").unwrap();
    let refused = generate(false);
    assert!(!refused.status.success());
    let message = String::from_utf8_lossy(&refused.stderr);
    assert!(message.contains("is not empty"), "{message}");
    assert!(message.contains("--force"), "{message}");
    assert_eq!(
        std::fs::read_to_string(out.join("customers.csv")).unwrap(),
        "the user's own customers\n"
    );
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 1);

    // With --force it is written over.
    let forced = generate(true);
    assert!(forced.status.success(), "{forced:?}");
    let customers = std::fs::read_to_string(out.join("customers.csv")).unwrap();
    assert_eq!(customers.lines().count(), 21, "a header and 20 customers");

    // A new directory needs no --force.
    std::fs::remove_dir_all(&out).unwrap();
    assert!(generate(false).status.success());
    assert!(out.join("dataset.json").exists());
}

/// Runs `segmint serve` expecting it to refuse to start: its exit status and standard
/// error, or a panic if it is still running after a minute (it started when it must not).
fn serve_refused(args: &[&str]) -> (std::process::ExitStatus, String) {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_segmint"));
    command.arg("serve");
    if !args.contains(&"--bind") {
        command.args(["--bind", "127.0.0.1:0"]);
    }
    let mut child = command
        .args(args)
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("segmint starts");
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(60) {
        if let Some(status) = child.try_wait().unwrap() {
            let mut stderr = String::new();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut stderr)
                .unwrap();
            return (status, stderr);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("segmint serve {args:?} started, but it should have refused");
}

fn stop(mut child: std::process::Child) {
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn a_state_refuses_data_other_than_the_data_it_was_written_over() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    for (name, seed) in [("a", "1"), ("b", "2")] {
        let out = path(name);
        let made = segmint(&[
            "generate",
            "--customers",
            "30",
            "--seed",
            seed,
            "--out",
            &out,
        ]);
        assert!(made.status.success(), "{made:?}");
    }
    let (state, data_a, data_b) = (path("state"), path("a"), path("b"));
    let (first, _) =
        crate::http::start_demo(&["--state", &state, "--data", &data_a], "listening on");
    stop(first);
    let recorded = std::fs::read_dir(&state).unwrap().count();

    // Other data, and no data at all (the demo), are refused with what differs.
    let (status, stderr) = serve_refused(&["--state", &state, "--data", &data_b]);
    assert!(!status.success());
    assert!(stderr.contains("cannot be used with this data"), "{stderr}");
    assert!(stderr.contains("customers.parquet has"), "{stderr}");
    let (status, stderr) = serve_refused(&["--state", &state]);
    assert!(!status.success());
    assert!(
        stderr.contains(&format!("belongs to the data in {data_a}")),
        "{stderr}"
    );
    // The same files copied elsewhere are the same data; one changed file is not.
    let copy = path("copy");
    std::fs::create_dir(&copy).unwrap();
    for entry in std::fs::read_dir(&data_a).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(
            entry.path(),
            std::path::Path::new(&copy).join(entry.file_name()),
        )
        .unwrap();
    }
    let (again, _) = crate::http::start_demo(&["--state", &state, "--data", &copy], "listening on");
    stop(again);
    std::fs::copy(
        std::path::Path::new(&data_b).join("orders.parquet"),
        std::path::Path::new(&copy).join("orders.parquet"),
    )
    .unwrap();
    let (status, stderr) = serve_refused(&["--state", &state, "--data", &copy]);
    assert!(!status.success());
    assert!(stderr.contains("orders.parquet has"), "{stderr}");
    assert!(!stderr.contains("customers.parquet has"), "{stderr}");
    assert_eq!(std::fs::read_dir(&state).unwrap().count(), recorded);

    // A demo's state refuses a dataset, and keeps its own demo store on another day.
    let demo_state = path("demo-state");
    let (demo, lines) = crate::http::start_demo(
        &["--state", &demo_state, "--as-of", "2026-11-01T10:00:00Z"],
        "listening on",
    );
    let made_before = customers_made_before_october_25(&lines);
    stop(demo);
    let (status, stderr) = serve_refused(&["--state", &demo_state, "--data", &data_a]);
    assert!(!status.success());
    assert!(stderr.contains("built-in demo store"), "{stderr}");
    let (later, lines) = crate::http::start_demo(
        &["--state", &demo_state, "--as-of", "2026-11-09T10:00:00Z"],
        "listening on",
    );
    // The same store: a demo of 9 November would have its customers made 8 days later.
    assert_eq!(customers_made_before_october_25(&lines), made_before);
    stop(later);
    let origin =
        std::fs::read_to_string(std::path::Path::new(&demo_state).join("data.json")).unwrap();
    assert!(origin.contains("2026-11-01T00:00:00Z"), "{origin}");
}

#[test]
fn a_bad_saved_segment_stops_the_start_before_the_log_is_read() {
    use segmint::segment::Engine;
    use segmint::service::clock::ManualClock;
    use segmint::service::state::StateDir;
    use segmint::service::{Service, ServiceOptions};
    use std::sync::Arc;
    let state = tempfile::tempdir().unwrap();
    std::fs::write(
        state.path().join("segments.json"),
        r#"{"format": 1, "next_id": 1, "segments": [{"id": "broken", "definition":
            {"name": "b", "websites": [1], "conditions":
             {"field": "customer.no_such_field", "op": "eq", "value": 1}}}]}"#,
    )
    .unwrap();
    // A damaged log: reading it would stop the start with another error.
    std::fs::write(
        state.path().join(segmint::events::log::LOG_FILE),
        b"not a log at all",
    )
    .unwrap();
    let engine = Engine::new(Arc::new(crate::common::load(crate::http::data())));
    let started = Service::start(
        Arc::new(engine),
        ServiceOptions {
            clock: Arc::new(ManualClock::new(0)),
            state: Some(StateDir::open(state.path()).unwrap()),
            time_limit: None,
            checkpoint_after_events: segmint::service::CHECKPOINT_AFTER_EVENTS,
            engine_from_checkpoint: false,
            changes_kept: segmint::feed::DEFAULT_KEPT,
        },
    );
    let error = started
        .err()
        .expect("a bad saved segment stops the start")
        .to_string();
    assert!(error.contains("segment broken"), "{error}");
    assert!(error.contains("no_such_field"), "{error}");
    assert_eq!(
        std::fs::read(state.path().join(segmint::events::log::LOG_FILE)).unwrap(),
        b"not a log at all"
    );
}

#[test]
fn start_up_errors_say_their_message_once_and_bind_takes_names() {
    let missing = "/no/such/segmint/data";
    let (status, stderr) = serve_refused(&["--data", missing]);
    assert!(!status.success());
    assert_eq!(stderr.matches(missing).count(), 1, "{stderr}");
    let (status, stderr) = serve_refused(&["--bind", "no-such-host.invalid:8080"]);
    assert!(!status.success());
    assert!(stderr.contains("no-such-host.invalid:8080"), "{stderr}");
    // A name that resolves to loopback needs no token; the server listens on it.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("d");
    let made = segmint(&[
        "generate",
        "--customers",
        "10",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(made.status.success(), "{made:?}");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_segmint"))
        .args([
            "serve",
            "--bind",
            "localhost:0",
            "--data",
            out.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    stop(child);
    assert!(
        line.contains("listening on http://127.0.0.1:")
            || line.contains("listening on http://[::1]:"),
        "{line}"
    );
    // A state error (a damaged event log) says its file and reason once too.
    let state = dir.path().join("state");
    std::fs::create_dir(&state).unwrap();
    let log = state.join(segmint::events::log::LOG_FILE);
    fn any(_: &[u8]) -> Result<(), String> {
        Ok(())
    }
    let mut records =
        segmint::records::RecordFile::open(&log, *b"SGEV", any, segmint::records::Damage::Refuse)
            .unwrap()
            .file;
    records.append(&[b"[]"], true).unwrap();
    drop(records);
    let whole = std::fs::read(&log).unwrap();
    std::fs::write(&log, [&[0u8; 16][..], &whole].concat()).unwrap();
    let state_arg = state.to_str().unwrap();
    let (status, stderr) = serve_refused(&["--data", out.to_str().unwrap(), "--state", state_arg]);
    assert!(!status.success());
    assert!(stderr.contains("is damaged"), "{stderr}");
    assert_eq!(stderr.matches("events.log").count(), 1, "{stderr}");
}

/// Customers of the server that printed `lines` made before a fixed instant: a count
/// that depends on the data alone, not on the server's clock.
fn customers_made_before_october_25(lines: &[String]) -> u64 {
    let url = lines
        .last()
        .and_then(|line| line.split_whitespace().find(|w| w.starts_with("http://")))
        .unwrap_or_else(|| panic!("no address in {lines:?}"));
    let body = serde_json::json!({"websites": [1, 2], "apply_to": "registered",
        "conditions": {"field": "customer.created_at", "op": "lt",
                       "value": "2026-10-25T00:00:00Z"}});
    let text = ureq::post(format!("{url}/estimate"))
        .header("Content-Type", "application/json")
        .send(body.to_string())
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    let answer: serde_json::Value = serde_json::from_str(&text).unwrap();
    answer["count"].as_u64().unwrap_or_else(|| panic!("{text}"))
}
