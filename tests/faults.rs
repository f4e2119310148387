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

/// `segmint serve` over `data` with `state`, optionally with the shim preloaded.
fn serve(data: &Path, state: &Path, shim: Option<(&Path, &Path)>) -> Served {
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
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some((library, switch)) = shim {
        command
            .env("LD_PRELOAD", library)
            .env("SEGMINT_FAULT_DIR", state)
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

#[test]
fn a_failing_disk_refuses_changes_with_503_and_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    let shim = build_shim(&root);
    let data = root.join("data");
    let made = Command::new(env!("CARGO_BIN_EXE_segmint"))
        .args(["generate", "--customers", "200", "--out"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:?}");
    let state = root.join("state");
    let switch = root.join("fault");
    let served = serve(&data, &state, Some((&shim, &switch)));
    let url = |path: &str| format!("{}{path}", served.url);

    assert_eq!(send("POST", &url("/events"), &view(990_100)).0, 200);
    assert_eq!(send("POST", &url("/segments"), &segment("before")).0, 201);

    for (error, visitor, id) in [("ENOSPC", 990_101, "full"), ("EIO", 990_102, "broken")] {
        std::fs::write(&switch, error).unwrap();
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
    std::fs::remove_file(&switch).unwrap();
    assert_eq!(send("POST", &url("/events"), &view(990_103)).0, 200);
    assert_eq!(send("POST", &url("/segments"), &segment("after")).0, 201);

    // kill -9, and a start without faults: what was acknowledged, once; nothing refused.
    drop(served);
    let again = serve(&data, &state, None);
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
    let listed: Json = serde_json::from_str(
        &agent()
            .get(&url("/segments"))
            .call()
            .unwrap()
            .body_mut()
            .read_to_string()
            .unwrap(),
    )
    .unwrap();
    let ids: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["id"].as_str())
        .collect();
    assert_eq!(ids, ["after", "before"]);
}
