//! Regression tests for the faults and hostile inputs of the hardening issue, each named
//! after what it found: what a public server must refuse or survive.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use segmint::server::ConnectionLimits;

use crate::http::{Options, Server};

fn connect(server: &Server) -> TcpStream {
    let stream = TcpStream::connect(server.base.trim_start_matches("http://")).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    stream
}

/// Reads until the server closes the connection; returns what it sent and how long the
/// close took from `since`.
fn read_until_closed(stream: &mut TcpStream, since: Instant) -> (String, Duration) {
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&buffer[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("the server kept the connection open past the read timeout: {e}"),
        }
    }
    (
        String::from_utf8_lossy(&answer).into_owned(),
        since.elapsed(),
    )
}

#[test]
fn connections_that_send_no_headers_in_time_are_closed() {
    let server = Server::start(Options {
        connections: ConnectionLimits {
            header_timeout: Duration::from_millis(700),
            ..ConnectionLimits::default()
        },
        ..Options::default()
    });

    // Connects and sends nothing.
    let mut silent = connect(&server);
    let (sent, took) = read_until_closed(&mut silent, Instant::now());
    assert!(took < Duration::from_secs(5), "closed after {took:?}");
    assert!(!sent.contains("200 OK"), "{sent}");

    // Sends headers a byte at a time, too slowly to finish.
    let mut slow = connect(&server);
    let started = Instant::now();
    let mut closed_early = false;
    for byte in b"GET /health HTTP/1.1\r\nHost: test\r\nX-Slow: 0123456789\r\n\r\n" {
        if slow.write_all(&[*byte]).is_err() {
            closed_early = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(150));
    }
    let (sent, took) = read_until_closed(&mut slow, started);
    assert!(
        closed_early || !sent.contains("200 OK"),
        "a request whose headers took {took:?} was served: {sent}"
    );

    // Asks once on a kept-alive connection, then stays idle.
    let mut idle = connect(&server);
    idle.write_all(b"GET /health HTTP/1.1\r\nHost: test\r\n\r\n")
        .unwrap();
    let started = Instant::now();
    let (sent, took) = read_until_closed(&mut idle, started);
    assert!(sent.starts_with("HTTP/1.1 200"), "{sent}");
    assert!(took < Duration::from_secs(5), "idle for {took:?}");

    // A client that asks in time is served.
    assert_eq!(server.get("/health").status, 200);
}

#[test]
fn connections_beyond_the_cap_wait_until_one_closes() {
    let server = Server::start(Options {
        connections: ConnectionLimits {
            header_timeout: Duration::from_secs(60),
            max_connections: 2,
        },
        ..Options::default()
    });
    let first = connect(&server);
    let _second = connect(&server);
    let mut third = connect(&server);
    third
        .write_all(b"GET /health HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
        .unwrap();
    third
        .set_read_timeout(Some(Duration::from_millis(1500)))
        .unwrap();
    let mut buffer = [0u8; 64];
    let early = third.read(&mut buffer);
    assert!(
        early.as_ref().is_err_and(|e| matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        )),
        "a third connection was served while two were open: {early:?}"
    );

    drop(first);
    third
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let (sent, _) = read_until_closed(&mut third, Instant::now());
    assert!(sent.starts_with("HTTP/1.1 200"), "{sent}");
}

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

#[test]
fn rfc_3339_offsets_are_taken_in_events_and_conditions() {
    use serde_json::json;
    let server = Server::start(Options::default());
    // 12:00 UTC, written at +05:30; the window is written at +00:00 and -01:00.
    let view = json!([{"type": "product_viewed", "visitor_id": 990_002, "product_id": 100,
        "website_id": 1, "viewed_at": "2026-10-31T17:30:00+05:30"}]);
    server.post_json("/events", &view).ok_json();
    let segment = json!({"name": "Viewed product 100 at noon UTC", "websites": [1],
        "apply_to": "visitors",
        "conditions": {"has": "product_view", "where": {"all": [
            {"field": "product.product_id", "op": "eq", "value": 100},
            {"field": "product_view.viewed_at", "op": "between",
             "value": ["2026-10-31T11:59:59+00:00", "2026-10-31T11:00:01-01:00"]}]}}});
    let id = server.create(&segment);
    let segments = server.get("/visitors/990002/segments").ok_json();
    assert_eq!(segments["segments"], json!([id]));

    // An offset that is not RFC 3339 is still refused, with where and why.
    let mut bad = segment.clone();
    bad.as_object_mut().unwrap().remove("name");
    bad["conditions"]["where"]["all"][1]["value"][0] = json!("2026-10-31T11:59:59+0530");
    let problem = server.post_json("/estimate", &bad).problem(422);
    assert!(
        problem["detail"].as_str().unwrap().contains("+0530"),
        "{problem}"
    );
    assert_eq!(
        problem["pointer"], "/conditions/where/all/1/value/0",
        "{problem}"
    );
}

#[test]
fn duplicate_json_keys_are_refused_with_a_pointer() {
    let server = Server::start(Options::default());
    let cases = [
        (
            "/segments",
            r#"{"name": "x", "websites": [1], "conditions": {"field": "customer.group_id", "op": "eq", "value": 1, "value": 2}}"#,
            "/conditions/value",
        ),
        (
            "/segments",
            r#"{"id": "a", "name": "x", "id": "b", "websites": [1], "conditions": {"all": []}}"#,
            "/id",
        ),
        (
            "/estimate",
            r#"{"websites": [1], "conditions": {"any": [{"all": []}, {"field": "customer.group_id", "op": "eq", "op": "ne", "value": 1}]}}"#,
            "/conditions/any/1/op",
        ),
        (
            "/events",
            r#"[{"type": "product_viewed", "visitor_id": 990003, "product_id": 100, "website_id": 1, "viewed_at": "2026-10-31T12:00:00Z", "viewed_at": "2026-10-30T12:00:00Z"}]"#,
            "/0/viewed_at",
        ),
        (
            "/segments",
            r#"{"name": "x", "websites": [1], "conditions": {"all": []}, "a~b/c": 1, "a~b/c": 2}"#,
            "/a~0b~1c",
        ),
    ];
    let segments_before = server.get("/segments").text;
    let health_before = server.get("/health").text;
    for (path, body, pointer) in cases {
        let problem = server.post(path, body).problem(422);
        assert_eq!(problem["pointer"], pointer, "{path} {body}: {problem}");
        assert!(
            problem["detail"].as_str().unwrap().contains("twice"),
            "{problem}"
        );
    }
    assert_eq!(server.get("/segments").text, segments_before);
    assert_eq!(server.get("/health").text, health_before);
    assert_eq!(server.get("/visitors/990003/segments").status, 404);
}

proptest::proptest! {
    /// Without duplicate keys, the strict reader reads exactly what serde_json reads.
    #[test]
    fn json_without_duplicate_keys_reads_as_serde_json_reads_it(value in json_value()) {
        let text = value.to_string();
        let read = segmint::segment::definition::parse_json(text.as_bytes());
        let expected: serde_json::Value = serde_json::from_str(&text).unwrap();
        proptest::prop_assert_eq!(read.ok(), Some(expected));
    }
}

fn json_value() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
    use proptest::prelude::*;
    use serde_json::Value as Json;
    let leaf = prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::Bool),
        any::<i64>().prop_map(|n| Json::Number(n.into())),
        any::<u64>().prop_map(|n| Json::Number(n.into())),
        (-1e9f64..1e9)
            .prop_map(|x| serde_json::Number::from_f64(x).map_or(Json::Null, Json::Number)),
        ".{0,8}".prop_map(Json::String),
    ];
    leaf.prop_recursive(4, 40, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Json::Array),
            proptest::collection::btree_map(".{0,6}", inner, 0..6)
                .prop_map(|m| Json::Object(m.into_iter().collect())),
        ]
    })
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
    let (demo, _) = crate::http::start_demo(
        &["--state", &demo_state, "--as-of", "2026-11-01T10:00:00Z"],
        "listening on",
    );
    stop(demo);
    let (status, stderr) = serve_refused(&["--state", &demo_state, "--data", &data_a]);
    assert!(!status.success());
    assert!(stderr.contains("built-in demo store"), "{stderr}");
    let (later, lines) = crate::http::start_demo(
        &["--state", &demo_state, "--as-of", "2026-11-09T10:00:00Z"],
        "listening on",
    );
    stop(later);
    assert!(lines.last().unwrap().contains("segments"), "{lines:?}");
    let origin =
        std::fs::read_to_string(std::path::Path::new(&demo_state).join("data.json")).unwrap();
    assert!(origin.contains("2026-11-01T00:00:00Z"), "{origin}");
}

#[test]
fn visitor_logged_in_of_an_unknown_visitor_is_refused() {
    use serde_json::json;
    let server = Server::start(Options::default());
    let customer = crate::common::load(crate::http::data())
        .customer_ids()
        .value(0);
    let view = json!([{"type": "product_viewed", "visitor_id": 990_010, "product_id": 100,
        "website_id": 1, "viewed_at": "2026-10-31T12:00:00Z"}]);
    server.post_json("/events", &view).ok_json();
    let login =
        json!([{"type": "visitor_logged_in", "visitor_id": 990_010, "customer_id": customer}]);
    server.post_json("/events", &login).ok_json();
    assert_eq!(server.get("/visitors/990010/segments").status, 404);
    // Logged in already: no records left, as unknown as one never seen.
    let again = server.post_json("/events", &login).problem(422);
    assert_eq!(again["pointer"], "/0/visitor_id", "{again}");
    assert!(
        again["detail"]
            .as_str()
            .unwrap()
            .contains("visitor 990010 does not exist"),
        "{again}"
    );
    let never =
        json!([{"type": "visitor_logged_in", "visitor_id": 990_011, "customer_id": customer}]);
    server.post_json("/events", &never).problem(422);
    let metrics = server.get("/metrics").text;
    assert!(
        metrics.contains("segmint_events_applied_total 2"),
        "only the view and the first login were applied: {metrics}"
    );
}

#[test]
fn in_segment_of_a_segment_for_other_subjects_is_refused() {
    use serde_json::json;
    let server = Server::start(Options::default());
    let segment = |name: &str, apply_to: &str, conditions: serde_json::Value| json!({"name": name, "websites": [1, 2], "apply_to": apply_to, "conditions": conditions});
    let group = json!({"field": "customer.group_id", "op": "eq", "value": 1});
    let viewed = json!({"has": "product_view"});
    server.create(&json!({"id": "registered", "name": "r", "websites": [1, 2],
        "apply_to": "registered", "conditions": group}));
    server.create(&json!({"id": "viewers", "name": "v", "websites": [1, 2],
        "apply_to": "visitors", "conditions": viewed}));
    server.create(&json!({"id": "anyone", "name": "b", "websites": [1, 2],
        "apply_to": "both", "conditions": viewed}));
    let before = server.get("/segments").text;
    for (apply_to, named) in [("visitors", "registered"), ("registered", "viewers")] {
        let bad = segment("x", apply_to, json!({"not": {"in_segment": named}}));
        let problem = server.post_json("/segments", &bad).problem(422);
        assert_eq!(
            problem["pointer"], "/conditions/not/in_segment",
            "{problem}"
        );
        assert!(
            problem["detail"]
                .as_str()
                .unwrap()
                .contains("no subject can be in both"),
            "{problem}"
        );
        let mut estimate = bad.clone();
        estimate.as_object_mut().unwrap().remove("name");
        server.post_json("/estimate", &estimate).problem(422);
    }
    assert_eq!(server.get("/segments").text, before);
    // A segment for both shares subjects with either.
    for apply_to in ["visitors", "registered"] {
        let good = segment("y", apply_to, json!({"in_segment": "anyone"}));
        let mut estimate = good.clone();
        estimate.as_object_mut().unwrap().remove("name");
        server.post_json("/estimate", &estimate).ok_json();
    }
    // Narrowing a segment that a visitors' segment names would leave that one always empty.
    server.create(&segment(
        "narrowed",
        "visitors",
        json!({"in_segment": "anyone"}),
    ));
    let narrowed = segment("b", "registered", viewed.clone());
    let refused = server.put("/segments/anyone", &narrowed.to_string());
    assert_eq!(refused.status, 422, "{}", refused.text);
}

#[test]
fn report_paging_is_given_once_and_with_its_type() {
    use serde_json::json;
    let server = Server::start(Options::default());
    server.create(&json!({"id": "group_1", "name": "g", "websites": [1, 2],
        "apply_to": "registered",
        "conditions": {"field": "customer.group_id", "op": "eq", "value": 1}}));
    let report = json!({"segments": ["group_1"], "limit": 5});
    assert_eq!(
        server.post_json("/report", &report).ok_json()["members"]
            .as_array()
            .map(Vec::len),
        Some(5)
    );
    assert_eq!(
        server
            .post("/report?limit=3", r#"{"segments": ["group_1"]}"#)
            .ok_json()["members"]
            .as_array()
            .map(Vec::len),
        Some(3)
    );
    // Both places: which one was meant is unknown.
    let conflict = server.post_json("/report?limit=3", &report).problem(422);
    assert_eq!(conflict["pointer"], "/limit", "{conflict}");
    assert!(
        conflict["detail"]
            .as_str()
            .unwrap()
            .contains("both in the query and in the body")
    );
    // A body's limit is a number, not a string; its format and cursor are strings.
    for (body, pointer) in [
        (json!({"segments": ["group_1"], "limit": "5"}), "/limit"),
        (json!({"segments": ["group_1"], "format": 1}), "/format"),
        (json!({"segments": ["group_1"], "after": 12}), "/after"),
    ] {
        let problem = server.post_json("/report", &body).problem(422);
        assert_eq!(problem["pointer"], pointer, "{problem}");
    }
    // In the query every value is text: limit=5 there is a number.
    let problem = server
        .post("/report?limit=five", r#"{"segments": ["group_1"]}"#)
        .problem(400);
    assert_eq!(problem["parameter"], "limit", "{problem}");
}

#[test]
fn what_get_answers_for_a_segment_can_be_put_back() {
    use serde_json::json;
    let server = Server::start(Options::default());
    server.create(
        &json!({"id": "wholesale", "name": "Wholesale", "websites": [1, 2],
        "apply_to": "registered",
        "conditions": {"field": "customer.group_id", "op": "in", "value": [2, 3]}}),
    );
    let mut stored = server.get("/segments/wholesale").ok_json();
    for key in [
        "count",
        "refreshed_at",
        "universe",
        "as_of",
        "elapsed_ms",
        "description",
    ] {
        assert!(stored.get(key).is_some(), "GET answers {key}: {stored}");
    }
    stored["name"] = json!("Wholesale (renamed)");
    let put = server
        .put("/segments/wholesale", &stored.to_string())
        .ok_json();
    assert_eq!(put["name"], "Wholesale (renamed)");
    assert_eq!(put["count"], stored["count"]);
    // The id in the body must still match the path; and the definition's own keys are
    // still checked.
    stored["id"] = json!("other");
    server
        .put("/segments/wholesale", &stored.to_string())
        .problem(422);
    stored["id"] = json!("wholesale");
    stored["colour"] = json!("red");
    let unknown = server
        .put("/segments/wholesale", &stored.to_string())
        .problem(422);
    assert_eq!(unknown["pointer"], "/colour", "{unknown}");
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
}

#[test]
fn websites_nobody_is_on_are_accepted_with_a_warning() {
    use serde_json::json;
    let server = Server::start(Options::default());
    let conditions = json!({"field": "customer.group_id", "op": "eq", "value": 1});
    let estimate = |websites: serde_json::Value| {
        server
            .post_json(
                "/estimate",
                &json!({"websites": websites, "conditions": conditions}),
            )
            .ok_json()
    };
    let known = estimate(json!([1, 2]));
    assert!(known.get("warnings").is_none(), "{known}");
    let typo = estimate(json!([1, 77]));
    assert_eq!(typo["count"], estimate(json!([1]))["count"], "{typo}");
    let warnings = typo["warnings"].as_array().expect("a warning");
    assert_eq!(warnings.len(), 1, "{typo}");
    assert!(
        warnings[0].as_str().unwrap().contains("website 77"),
        "{typo}"
    );
    let created = server.post_json(
        "/segments",
        &json!({"name": "typo", "websites": [77], "conditions": conditions}),
    );
    assert_eq!(created.status, 201, "{}", created.text);
    assert!(
        created.json()["warnings"][0]
            .as_str()
            .unwrap()
            .contains("website 77")
    );
    let id = created.json()["id"].clone();
    assert!(
        server
            .get(&format!("/segments/{id}"))
            .ok_json()
            .get("warnings")
            .is_none()
    );
    // Once a customer is on website 77, it is a website like any other.
    let customer = json!([{"type": "customer_upserted", "customer_id": 990_077,
        "website_id": 77, "group_id": 1, "email": "new@shop.test"}]);
    server.post_json("/events", &customer).ok_json();
    let now = estimate(json!([77]));
    assert!(now.get("warnings").is_none(), "{now}");
    assert_eq!(now["count"], 1);
}

#[test]
fn openapi_declares_the_token_and_every_401_the_server_answers() {
    use serde_json::json;
    let server = Server::start(Options {
        token: Some("s3cret"),
        ..Options::default()
    });
    let openapi = server.get("/openapi.json").ok_json();
    assert_eq!(
        openapi["components"]["securitySchemes"]["bearer"],
        json!({"type": "http", "scheme": "bearer",
               "description": openapi["components"]["securitySchemes"]["bearer"]["description"]}),
    );
    assert_eq!(openapi["security"], json!([{"bearer": []}]));
    let agent = ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build(),
    );
    let mut operations = 0;
    for (path, item) in openapi["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let url = server.url(
                &path
                    .replace("{id}", "1")
                    .replace("{customer_id}", "1")
                    .replace("{visitor_id}", "1"),
            );
            let anonymous = match method.as_str() {
                "get" => agent.get(&url).call(),
                "delete" => agent.delete(&url).call(),
                "post" => agent
                    .post(&url)
                    .header("Content-Type", "application/json")
                    .send("{}"),
                "put" => agent
                    .put(&url)
                    .header("Content-Type", "application/json")
                    .send("{}"),
                other => panic!("{other} {path} is not tested"),
            }
            .unwrap();
            operations += 1;
            if path == "/health" {
                assert_eq!(operation["security"], json!([{}]), "{path}");
                assert_eq!(anonymous.status(), 200, "{method} {path}");
            } else {
                assert!(
                    operation["responses"]["401"].is_object(),
                    "{method} {path} does not document its 401"
                );
                assert_eq!(anonymous.status(), 401, "{method} {path}");
            }
        }
    }
    assert!(operations >= 18, "{operations} operations");
}

/// Checks `value` against an OpenAPI schema of `document` (the subset utoipa writes:
/// `$ref`, `allOf`, `oneOf`, `type` (one or a list), `required`, `properties`, `items`,
/// `additionalProperties`): every required key there, every key documented, every value of
/// a documented type. Returns the first difference, with its pointer.
fn schema_mismatch(
    document: &serde_json::Value,
    schema: &serde_json::Value,
    value: &serde_json::Value,
    at: &str,
) -> Option<String> {
    use serde_json::Value as Json;
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.trim_start_matches("#/components/schemas/");
        return schema_mismatch(
            document,
            &document["components"]["schemas"][name],
            value,
            at,
        );
    }
    if let Some(parts) = schema["allOf"].as_array() {
        // Each part sees only its own keys; together they must cover the object.
        let mut documented = std::collections::BTreeSet::new();
        for part in parts {
            let part = resolve(document, part);
            documented.extend(
                part["properties"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(k, _)| k.clone()),
            );
            let mut own = value.clone();
            if let (Some(object), Some(properties)) =
                (own.as_object_mut(), part["properties"].as_object())
            {
                object.retain(|k, _| properties.contains_key(k));
            }
            if let Some(problem) = schema_mismatch(document, &part, &own, at) {
                return Some(problem);
            }
        }
        if let Some(object) = value.as_object()
            && let Some(key) = object.keys().find(|k| !documented.contains(*k))
        {
            return Some(format!("{at}/{key} is not documented"));
        }
        return None;
    }
    if let Some(choices) = schema["oneOf"].as_array() {
        return choices
            .iter()
            .all(|c| schema_mismatch(document, c, value, at).is_some())
            .then(|| format!("{at}: {value} fits none of oneOf"));
    }
    let types: Vec<&str> = match &schema["type"] {
        Json::String(t) => vec![t.as_str()],
        Json::Array(list) => list.iter().filter_map(Json::as_str).collect(),
        _ => return None,
    };
    let fits = |t: &str| match t {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "string" => value.is_string(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        _ => true,
    };
    if !types.iter().any(|t| fits(t)) {
        return Some(format!("{at}: {value} is not {types:?}"));
    }
    match value {
        Json::Object(object) => {
            for key in schema["required"].as_array().into_iter().flatten() {
                let key = key.as_str().unwrap();
                if !object.contains_key(key) {
                    return Some(format!("{at}/{key} is required but missing"));
                }
            }
            let properties = schema["properties"].as_object();
            for (key, item) in object {
                match properties.and_then(|p| p.get(key)) {
                    Some(property) => {
                        if let Some(problem) =
                            schema_mismatch(document, property, item, &format!("{at}/{key}"))
                        {
                            return Some(problem);
                        }
                    }
                    None if schema["additionalProperties"].is_object()
                        || schema["additionalProperties"] == true =>
                    {
                        let extra = &schema["additionalProperties"];
                        if let Some(problem) =
                            schema_mismatch(document, extra, item, &format!("{at}/{key}"))
                        {
                            return Some(problem);
                        }
                    }
                    None if properties.is_some() => {
                        return Some(format!("{at}/{key} is not documented"));
                    }
                    None => {}
                }
            }
            None
        }
        Json::Array(items) => items.iter().enumerate().find_map(|(i, item)| {
            schema_mismatch(document, &schema["items"], item, &format!("{at}/{i}"))
        }),
        _ => None,
    }
}

fn resolve(document: &serde_json::Value, schema: &serde_json::Value) -> serde_json::Value {
    match schema["$ref"].as_str() {
        Some(reference) => {
            let name = reference.trim_start_matches("#/components/schemas/");
            resolve(document, &document["components"]["schemas"][name])
        }
        None => schema.clone(),
    }
}

#[test]
fn answers_have_the_keys_and_types_the_openapi_document_says() {
    use serde_json::json;
    let server = Server::start(Options::default());
    let document = server.get("/openapi.json").ok_json();
    let answer_schema = |path: &str, method: &str, status: &str| {
        document["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"].clone()
    };
    let customer = crate::common::load(crate::http::data())
        .customer_ids()
        .value(0);
    let definition = json!({"id": "wholesale", "name": "Wholesale", "websites": [1, 2],
        "apply_to": "registered", "description": "groups 2 and 3",
        "conditions": {"field": "customer.group_id", "op": "in", "value": [2, 3]}});
    let cases: Vec<(&str, &str, &str, crate::http::Reply)> = vec![
        ("/health", "get", "200", server.get("/health")),
        (
            "/segments",
            "post",
            "201",
            server.post_json("/segments", &definition),
        ),
        (
            "/segments",
            "post",
            "201",
            server.post_json(
                "/segments",
                &json!({"name": "typo", "websites": [77], "conditions": {"all": []}}),
            ),
        ),
        ("/segments", "get", "200", server.get("/segments")),
        (
            "/segments/{id}",
            "get",
            "200",
            server.get("/segments/wholesale"),
        ),
        (
            "/segments/{id}",
            "put",
            "200",
            server.put("/segments/wholesale", &definition.to_string()),
        ),
        (
            "/segments/{id}/members",
            "get",
            "200",
            server.get("/segments/wholesale/members?limit=3"),
        ),
        (
            "/segments/{id}/refresh",
            "post",
            "200",
            server.post("/segments/wholesale/refresh", ""),
        ),
        (
            "/segments/refresh",
            "post",
            "200",
            server.post("/segments/refresh", ""),
        ),
        (
            "/estimate",
            "post",
            "200",
            server.post_json(
                "/estimate",
                &json!({"websites": [1, 77], "conditions": {"has": "order"}}),
            ),
        ),
        (
            "/report",
            "post",
            "200",
            server.post_json("/report", &json!({"segments": ["wholesale"], "limit": 2})),
        ),
        (
            "/customers/{customer_id}/segments",
            "get",
            "200",
            server.get(&format!("/customers/{customer}/segments")),
        ),
        (
            "/events",
            "post",
            "200",
            server.post_json(
                "/events",
                &json!([{"type": "product_viewed", "customer_id": customer, "product_id": 100,
                "website_id": 1, "viewed_at": "2026-10-31T12:00:00Z"}]),
            ),
        ),
        (
            "/changes",
            "get",
            "200",
            server.get("/changes?after=0&limit=5"),
        ),
        ("/schema", "get", "200", server.get("/schema")),
        (
            "/segments",
            "post",
            "422",
            server.post_json("/segments", &json!({"name": 1})),
        ),
    ];
    // The check finds each kind of difference.
    let stored = server.get("/segments/wholesale").ok_json();
    let schema = answer_schema("/segments/{id}", "get", "200");
    assert_eq!(schema_mismatch(&document, &schema, &stored, ""), None);
    for (change, expected) in [
        (json!({"universe": null}), "/universe"),
        (json!({"count": "many"}), "/count"),
        (json!({"bogus": 1}), "/bogus is not documented"),
    ] {
        let mut changed = stored.clone();
        let (key, value) = change.as_object().unwrap().iter().next().unwrap();
        changed[key] = value.clone();
        let found = schema_mismatch(&document, &schema, &changed, "").unwrap_or_default();
        assert!(found.contains(expected), "{change}: {found:?}");
    }
    let mut missing = stored.clone();
    missing.as_object_mut().unwrap().remove("as_of");
    assert!(
        schema_mismatch(&document, &schema, &missing, "")
            .is_some_and(|m| m.contains("/as_of is required"))
    );
    for (path, method, status, reply) in cases {
        assert_eq!(
            reply.status.to_string(),
            status,
            "{method} {path}: {}",
            reply.text
        );
        let schema = match status {
            "422" => document["paths"][path][method]["responses"][status]["content"]["application/problem+json"]["schema"].clone(),
            _ => answer_schema(path, method, status),
        };
        assert!(
            !schema.is_null(),
            "{method} {path} documents no {status} answer"
        );
        if let Some(problem) = schema_mismatch(&document, &schema, &reply.json(), "") {
            panic!("{method} {path} {status}: {problem}\n{}", reply.text);
        }
    }
}

#[test]
fn every_documented_example_request_answers_as_documented() {
    let server = Server::start(Options::default());
    let document = server.get("/openapi.json").ok_json();
    let mut examples = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let example = &operation["requestBody"]["content"]["application/json"]["example"];
            if !example.is_null() {
                examples.push((path.clone(), method.clone(), example.clone()));
            }
        }
    }
    // The create first: the others name the segment it makes.
    examples
        .sort_by_key(|(path, method, _)| (path != "/segments" || method != "post", path.clone()));
    let created_id = examples[0].2["id"].as_str().unwrap().to_string();
    let mut tried = Vec::new();
    for (path, method, example) in &examples {
        let url = path.replace("{id}", &created_id);
        let reply = match method.as_str() {
            "post" => server.post_json(&url, example),
            "put" => server.put(&url, &example.to_string()),
            other => panic!("an example for {other} {path}"),
        };
        let responses = &document["paths"][path][method]["responses"];
        let status = reply.status.to_string();
        assert!(
            status.starts_with('2') && responses[&status].is_object(),
            "{method} {path} answers its example with {status}: {}",
            reply.text
        );
        let schema = &responses[&status]["content"]["application/json"]["schema"];
        if !schema.is_null()
            && let Some(problem) = schema_mismatch(&document, schema, &reply.json(), "")
        {
            panic!("{method} {path}: {problem}\n{}", reply.text);
        }
        tried.push(format!("{method} {path}"));
    }
    for expected in [
        "post /segments",
        "put /segments/{id}",
        "post /estimate",
        "post /report",
        "post /events",
        "post /segments/{id}/refresh",
        "post /segments/refresh",
    ] {
        assert!(
            tried.iter().any(|t| t == expected),
            "no example for {expected}: {tried:?}"
        );
    }
}

#[test]
fn path_ids_that_are_not_text_are_unknown_segments_or_bad_ids() {
    let server = Server::start(Options::default());
    for path in ["/segments/%ff", "/segments/%ff/members", "/segments/a%c3"] {
        let problem = server.get(path).problem(404);
        assert_eq!(problem["parameter"], "id", "{path}: {problem}");
    }
    server.delete("/segments/%ff").problem(404);
    server.post("/segments/%ff/refresh", "").problem(404);
    server
        .put(
            "/segments/%ff",
            r#"{"name": "x", "websites": [1], "conditions": {"all": []}}"#,
        )
        .problem(404);
    for (path, parameter) in [
        ("/customers/%ff/segments", "customer_id"),
        ("/visitors/%fe/segments", "visitor_id"),
    ] {
        let problem = server.get(path).problem(400);
        assert_eq!(problem["parameter"], parameter, "{path}: {problem}");
    }
}
