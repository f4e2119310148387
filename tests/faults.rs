//! Fault injection: the state directory's disk failing (full, or an I/O error) under a
//! real server, through a small LD_PRELOAD shim (`tests/faults/fail_writes.c`, built with
//! the machine's C compiler) that fails writes and flushes of the state's files while a
//! switch file exists. Changes are refused with 503 and a log line, reads go on, the
//! server takes changes again once the disk does, and a restart after kill -9 holds every
//! acknowledged change once and no refused one.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use segmint::data::generate::OutputFormat;
use serde_json::{Value as Json, json};

/// The shim, compiled once into `dir`.
fn build_shim(dir: &Path) -> PathBuf {
    let shim = dir.join("fail_writes.so");
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/faults/fail_writes.c");
    let built = Command::new("cc")
        .args(["-shared", "-fPIC", "-O1", "-Wall", "-o"])
        .arg(&shim)
        .arg(&source)
        .arg("-ldl")
        .status()
        .expect("a C compiler (cc) builds the fault-injection shim");
    assert!(built.success(), "the shim does not compile");
    shim
}

struct Served {
    child: Child,
    url: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `segmint serve` over `data` with `state`, optionally with the shim preloaded (failing
/// the state's files while the switch exists).
fn serve(data: &Path, state: &Path, shim: Option<(&Path, &Path)>) -> Served {
    serve_with(
        data,
        state,
        shim.map(|(library, switch)| (library, switch, state)),
        &[],
    )
}

/// As [`serve`], the shim failing the files under its third path only, and with more
/// arguments.
fn serve_with(
    data: &Path,
    state: &Path,
    shim: Option<(&Path, &Path, &Path)>,
    arguments: &[&str],
) -> Served {
    let mut command = Command::new(env!("CARGO_BIN_EXE_segmint"));
    command
        .args([
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--as-of",
            "2026-11-01T00:00:00Z",
        ])
        .arg("--data")
        .arg(data)
        .arg("--state")
        .arg(state)
        .args(arguments)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some((library, switch, failing)) = shim {
        command
            .env("LD_PRELOAD", library)
            .env("SEGMINT_FAULT_DIR", failing)
            .env("SEGMINT_FAULT_SWITCH", switch);
    }
    let mut child = command.spawn().expect("segmint starts");
    let log = Arc::new(Mutex::new(Vec::new()));
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let kept = log.clone();
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            kept.lock().unwrap().push(line);
        }
    });
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = stdout.next().and_then(Result::ok).unwrap_or_default();
    std::thread::spawn(move || stdout.for_each(drop));
    let url = first
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("not started: {first:?} {:?}", log.lock().unwrap()))
        .to_string();
    Served { child, url, log }
}

fn agent() -> ureq::Agent {
    ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build(),
    )
}

/// Status and body of a request with a JSON body.
fn send(method: &str, url: &str, body: &Json) -> (u16, Json, Option<String>) {
    let agent = agent();
    let request = match method {
        "POST" => agent.post(url),
        _ => agent.put(url),
    };
    let mut answer = request
        .header("Content-Type", "application/json")
        .send(body.to_string())
        .unwrap();
    let retry = answer
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let text = answer.body_mut().read_to_string().unwrap();
    (
        answer.status().as_u16(),
        serde_json::from_str(&text).unwrap_or(Json::Null),
        retry,
    )
}

/// The JSON a GET answers.
fn get_json(url: &str) -> Json {
    let text = agent()
        .get(url)
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{url}: not JSON ({e}): {text}"))
}

fn status_of(url: &str) -> u16 {
    agent().get(url).call().unwrap().status().as_u16()
}

fn view(visitor: i64) -> Json {
    json!([{"type": "product_viewed", "visitor_id": visitor, "product_id": 100,
        "website_id": 1, "viewed_at": "2026-10-31T12:00:00Z"}])
}

fn segment(id: &str) -> Json {
    json!({"id": id, "name": id, "websites": [1, 2], "apply_to": "registered",
        "conditions": {"field": "customer.group_id", "op": "eq", "value": 1}})
}

/// A generated store, a state directory and the shim, in a directory of their own; the
/// shim fails writes while `switch` exists.
struct FaultyDisk {
    _dir: tempfile::TempDir,
    generated: tempfile::TempDir,
    shim: PathBuf,
    state: PathBuf,
    switch: PathBuf,
}

impl FaultyDisk {
    fn new() -> FaultyDisk {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        FaultyDisk {
            shim: build_shim(&root),
            generated: crate::common::generated(200, 1, OutputFormat::Parquet),
            state: root.join("state"),
            switch: root.join("fault"),
            _dir: dir,
        }
    }

    fn data(&self) -> &Path {
        self.generated.path()
    }
}

#[test]
fn a_failing_disk_refuses_changes_with_503_and_loses_nothing_acknowledged() {
    let faulty = FaultyDisk::new();
    let (data, state, shim, switch) = (faulty.data(), &faulty.state, &faulty.shim, &faulty.switch);
    let served = serve(data, state, Some((shim, switch)));
    let url = |path: &str| format!("{}{path}", served.url);

    assert_eq!(send("POST", &url("/events"), &view(990_100)).0, 200);
    assert_eq!(send("POST", &url("/segments"), &segment("before")).0, 201);

    for (error, visitor, id) in [("ENOSPC", 990_101, "full"), ("EIO", 990_102, "broken")] {
        std::fs::write(switch, error).unwrap();
        let (status, problem, retry) = send("POST", &url("/events"), &view(visitor));
        assert_eq!(status, 503, "{error}: {problem}");
        assert_eq!(problem["type"], "urn:segmint:problem:storage-unavailable");
        assert!(retry.is_some(), "503 says when to retry");
        let (status, problem, _) = send("POST", &url("/segments"), &segment(id));
        assert_eq!(status, 503, "{error}: {problem}");
        // Reads go on, and see nothing of the refused changes.
        assert_eq!(status_of(&url("/segments/before")), 200);
        assert_eq!(status_of(&url(&format!("/segments/{id}"))), 404);
        assert_eq!(
            status_of(&url(&format!("/visitors/{visitor}/segments"))),
            404
        );
        assert_eq!(status_of(&url("/visitors/990100/segments")), 200);
        let log = served.log.lock().unwrap().join("\n");
        let reason = if error == "EIO" {
            "Input/output error"
        } else {
            "No space left on device"
        };
        assert!(
            log.contains("cannot write") && log.contains(reason),
            "{error}: no clear log line:\n{log}"
        );
    }

    // The disk works again: so does the server.
    std::fs::remove_file(switch).unwrap();
    assert_eq!(send("POST", &url("/events"), &view(990_103)).0, 200);
    assert_eq!(send("POST", &url("/segments"), &segment("after")).0, 201);

    // kill -9, and a start without faults: what was acknowledged, once; nothing refused.
    drop(served);
    let again = serve(data, state, None);
    let url = |path: &str| format!("{}{path}", again.url);
    for visitor in [990_100, 990_103] {
        assert_eq!(
            status_of(&url(&format!("/visitors/{visitor}/segments"))),
            200
        );
    }
    for visitor in [990_101, 990_102] {
        assert_eq!(
            status_of(&url(&format!("/visitors/{visitor}/segments"))),
            404
        );
    }
    let listed: Json = get_json(&url("/segments"));
    let ids: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["id"].as_str())
        .collect();
    assert_eq!(ids, ["after", "before"]);
}

#[test]
fn a_checkpoint_the_disk_refuses_leaves_the_log_in_force() {
    let faulty = FaultyDisk::new();
    let (data, state, shim, switch) = (faulty.data(), &faulty.state, &faulty.shim, &faulty.switch);
    // Only the checkpoint being written fails: the log takes every list.
    let partial = state.join("checkpoint.tmp");
    std::fs::write(switch, "ENOSPC").unwrap();
    let often = ["--checkpoint-after-events", "2"];
    let mut visitor = 990_200;
    // Sends views, each acknowledged, until `done` says so.
    let mut send_views_until = |served: &Served, done: &dyn Fn(&str) -> bool, what: &str| {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            let log = served.log.lock().unwrap().join("\n");
            if done(&log) {
                return visitor;
            }
            assert!(std::time::Instant::now() < deadline, "{what}:\n{log}");
            visitor += 1;
            let (status, answer, _) =
                send("POST", &format!("{}/events", served.url), &view(visitor));
            assert_eq!(status, 200, "{answer}");
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    let every_view_is_there = |served: &Served, last: i64| {
        for visitor in 990_201..=last {
            let segments = get_json(&format!("{}/visitors/{visitor}/segments", served.url));
            assert_eq!(segments["segments"], json!(["once"]), "visitor {visitor}");
        }
    };

    let served = serve_with(data, state, Some((shim, switch, &partial)), &often);
    let created = send(
        "POST",
        &format!("{}/segments", served.url),
        &viewed_at_least("once", 1),
    );
    assert_eq!(created.0, 201);
    let refused = |log: &str| log.matches("cannot write a checkpoint").count() >= 2;
    let last = send_views_until(&served, &refused, "no checkpoint was refused twice");
    assert!(log_mentions(&served, "No space left on device"));
    assert!(!state.join("checkpoint").exists());
    // kill -9 with the checkpoints refused: the log holds every acknowledged view.
    drop(served);
    let served = serve_with(data, state, Some((shim, switch, &partial)), &often);
    every_view_is_there(&served, last);

    // The disk works again: a later checkpoint is put in force, and after kill -9 the
    // start from it still has every view.
    std::fs::remove_file(switch).unwrap();
    let written = |_: &str| state.join("checkpoint").join("checkpoint.json").exists();
    let last = send_views_until(&served, &written, "no checkpoint once the disk worked");
    drop(served);
    let again = serve(data, state, None);
    every_view_is_there(&again, last);
}

fn log_mentions(served: &Served, text: &str) -> bool {
    served
        .log
        .lock()
        .unwrap()
        .iter()
        .any(|line| line.contains(text))
}

/// Views of product 100 by `visitor`: the segment of visitors with at least `views`.
fn viewed_at_least(id: &str, views: u32) -> Json {
    json!({"id": id, "name": id, "websites": [1, 2], "apply_to": "visitors",
        "conditions": {"aggregate": "count", "of": "product_view", "op": "gte", "value": views,
            "where": {"field": "product.product_id", "op": "eq", "value": 100}}})
}

#[test]
fn kill_9_under_concurrent_changes_and_reads_keeps_every_acknowledged_change_once() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    let generated = crate::common::generated(300, 1, OutputFormat::Parquet);
    let data = generated.path();
    let state = root.join("state");
    // A different moment for the kill at every run: the runs together cover the steps.
    let kill_after = Duration::from_millis(
        300 + u64::from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .subsec_millis(),
        ),
    );
    let served = serve(data, &state, None);
    let base = served.url.clone();
    assert_eq!(
        send(
            "POST",
            &format!("{base}/segments"),
            &viewed_at_least("once", 1)
        )
        .0,
        201
    );
    assert_eq!(
        send(
            "POST",
            &format!("{base}/segments"),
            &viewed_at_least("twice", 2)
        )
        .0,
        201
    );

    let stop = Arc::new(AtomicBool::new(false));
    let acknowledged_views = Arc::new(Mutex::new(Vec::new()));
    // Views sent when the kill came, never answered: sent again after the restart.
    let unanswered_views = Arc::new(Mutex::new(Vec::new()));
    let acknowledged_segments = Arc::new(Mutex::new(Vec::new()));
    let mut clients = Vec::new();
    for client in 0..3i64 {
        let (base, stop, acknowledged) = (base.clone(), stop.clone(), acknowledged_views.clone());
        let unanswered = unanswered_views.clone();
        clients.push(std::thread::spawn(move || {
            let mut visitor = 991_000 + client * 100_000;
            while !stop.load(Ordering::Relaxed) {
                visitor += 1;
                let sent = agent()
                    .post(&format!("{base}/events"))
                    .header("Content-Type", "application/json")
                    .header("Idempotency-Key", &format!("view-{visitor}"))
                    .send(view(visitor).to_string());
                match sent {
                    Ok(answer) if answer.status() == 200 => {
                        acknowledged.lock().unwrap().push(visitor)
                    }
                    Ok(answer) => panic!("a view answered {}", answer.status()),
                    Err(_) => {
                        unanswered.lock().unwrap().push(visitor);
                        break;
                    }
                }
            }
        }));
    }
    {
        let (base, stop, acknowledged) =
            (base.clone(), stop.clone(), acknowledged_segments.clone());
        clients.push(std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let id = format!("s{n}");
                let sent = agent()
                    .post(&format!("{base}/segments"))
                    .header("Content-Type", "application/json")
                    .send(segment(&id).to_string());
                match sent {
                    Ok(answer) if answer.status() == 201 => acknowledged.lock().unwrap().push(id),
                    Ok(answer) => panic!("a create answered {}", answer.status()),
                    Err(_) => break,
                }
                let read = agent().get(&format!("{base}/segments/once")).call();
                if read.is_err() {
                    break;
                }
            }
        }));
    }
    std::thread::sleep(kill_after);
    drop(served); // SIGKILL, in the middle of writes
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.join().expect("a client thread");
    }
    let mut views = acknowledged_views.lock().unwrap().clone();
    let segments = acknowledged_segments.lock().unwrap().clone();
    assert!(
        !views.is_empty() && !segments.is_empty(),
        "the kill came before any change"
    );

    let again = serve(data, &state, None);
    let url = |path: &str| format!("{}{path}", again.url);
    // A producer retries what went unanswered under the same key: applied once, whether
    // or not the log had it before the kill.
    let mut replayed = 0;
    for &visitor in unanswered_views.lock().unwrap().iter() {
        let answer = agent()
            .post(&url("/events"))
            .header("Content-Type", "application/json")
            .header("Idempotency-Key", &format!("view-{visitor}"))
            .send(view(visitor).to_string())
            .unwrap();
        assert_eq!(answer.status(), 200, "the retry of {visitor}");
        replayed += usize::from(answer.headers().contains_key("idempotent-replayed"));
        views.push(visitor);
    }
    let lookup = |visitor: i64| -> Json {
        let mut answer = agent()
            .get(&url(&format!("/visitors/{visitor}/segments")))
            .call()
            .unwrap();
        assert_eq!(answer.status(), 200, "acknowledged view of {visitor} lost");
        serde_json::from_str(&answer.body_mut().read_to_string().unwrap()).unwrap()
    };
    for &visitor in &views {
        // In "once" and not in "twice": the view is there, and there once.
        assert_eq!(
            lookup(visitor)["segments"],
            json!(["once"]),
            "visitor {visitor}"
        );
    }
    for id in &segments {
        assert_eq!(
            status_of(&url(&format!("/segments/{id}"))),
            200,
            "segment {id} lost"
        );
    }
    // The stored memberships are those a full re-match finds.
    for id in ["once", "twice"] {
        let (status, refreshed, _) =
            send("POST", &url(&format!("/segments/{id}/refresh")), &json!({}));
        assert_eq!(status, 200, "{refreshed}");
        assert_eq!(
            (&refreshed["entered"], &refreshed["left"]),
            (&json!(0), &json!(0)),
            "{id}: {refreshed}"
        );
    }
    let counts = |listed: &Json| -> Vec<(String, u64)> {
        let mut counts: Vec<(String, u64)> = listed
            .as_array()
            .unwrap()
            .iter()
            .map(|s| (s["id"].to_string(), s["count"].as_u64().unwrap()))
            .collect();
        counts.sort();
        counts
    };
    let stored: Json = get_json(&url("/segments"));
    let (status, refreshed, _) = send("POST", &url("/segments/refresh"), &json!({}));
    assert_eq!(status, 200, "{refreshed}");
    assert_eq!(counts(&stored), counts(&refreshed["segments"]));
    eprintln!(
        "killed after {kill_after:?}: {} views (of which {} retried, {replayed} logged before the kill) and {} segments acknowledged",
        views.len(),
        unanswered_views.lock().unwrap().len(),
        segments.len()
    );
}
