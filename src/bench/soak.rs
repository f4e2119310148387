//! `segmint soak`: a real `segmint serve` (with a state directory) under a bounded, mixed
//! load from concurrent clients on loopback — lookups, estimates, member pages, lists of
//! events (with idempotency keys, retried on 503) and segment changes — for a fixed time,
//! with the server's RSS sampled throughout. A request answered other than 2xx is an error,
//! but 503 (back-pressure, retried); the run fails on any error.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{Value as Json, json};

use super::suite::{SuiteFile, percentile, read_suite};

pub struct SoakOptions {
    pub data: PathBuf,
    pub suite: PathBuf,
    pub seconds: f64,
    /// Where the state directory, the server's log and `soak-report.json` go.
    pub out: PathBuf,
    /// The `segmint` binary that serves.
    pub exe: PathBuf,
    /// The server's `--checkpoint-after-events` (`None`: its default).
    pub checkpoint_after_events: Option<usize>,
}

/// What one kind of request met.
#[derive(Debug, Serialize)]
pub struct KindReport {
    pub kind: &'static str,
    pub clients: usize,
    /// Answered with 2xx.
    pub requests: u64,
    /// Answered with 503 (and sent again).
    pub busy: u64,
    /// Answered otherwise, or not at all.
    pub errors: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// The first few errors, as answered.
    pub error_examples: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct SoakReport {
    pub seconds: f64,
    pub kinds: Vec<KindReport>,
    /// The server's resident set size (bytes), sampled every few seconds from the start of
    /// the load.
    pub rss: Vec<(f64, u64)>,
    /// The server's peak RSS (bytes) over its whole life.
    pub peak_rss_bytes: Option<u64>,
    /// What the server said it held, sampled with the RSS: what grows with events.
    pub held: Vec<(f64, Held)>,
    pub events_applied: u64,
}

/// What grows with events, from the server's `/metrics`: the delta (until a fold) and
/// the bounded caches.
#[derive(Debug, Default, Serialize)]
pub struct Held {
    pub events_since_load: u64,
    pub delta_rows: u64,
    pub delta_bytes: u64,
    pub delta_lists_kept: u64,
    pub rows_cache_rows: u64,
    pub change_feed_kept: u64,
    pub idempotency_keys: u64,
}

impl Held {
    fn scraped(base: &str) -> Option<Held> {
        let text = metrics_page(base)?;
        let value = |name: &str| metric_in(&text, name).unwrap_or(0);
        Some(Held {
            events_since_load: value("segmint_events_since_load"),
            delta_rows: value("segmint_delta_rows"),
            delta_bytes: value("segmint_delta_bytes"),
            delta_lists_kept: value("segmint_delta_lists_kept"),
            rows_cache_rows: value("segmint_rows_cache_rows"),
            change_feed_kept: value("segmint_change_feed_kept"),
            idempotency_keys: value("segmint_idempotency_keys"),
        })
    }
}

impl SoakReport {
    pub fn errors(&self) -> u64 {
        self.kinds.iter().map(|k| k.errors).sum()
    }
}

/// A request's outcome: answered with 2xx (its JSON, if any), with 503, or otherwise.
enum Outcome {
    Ok(Json),
    Busy,
    Failed(String),
}

struct Client {
    base: String,
    agent: ureq::Agent,
}

impl Client {
    fn new(base: &str) -> Client {
        Client {
            base: base.to_string(),
            agent: ureq::Agent::new_with_config(
                ureq::Agent::config_builder()
                    .http_status_as_error(false)
                    .timeout_global(Some(Duration::from_secs(60)))
                    .build(),
            ),
        }
    }

    fn send(&self, method: &str, path: &str, body: Option<&Json>, key: Option<&str>) -> Outcome {
        let url = format!("{}{path}", self.base);
        let answer = match (method, body) {
            ("GET", _) => self.agent.get(&url).call(),
            ("DELETE", _) => self.agent.delete(&url).call(),
            (_, body) => {
                let text = body.map_or(String::new(), Json::to_string);
                let request = match method {
                    "PUT" => self.agent.put(&url),
                    _ => self.agent.post(&url),
                };
                let request = request.header("Content-Type", "application/json");
                match key {
                    Some(key) => request.header("Idempotency-Key", key).send(&text),
                    None => request.send(&text),
                }
            }
        };
        match answer {
            Ok(mut response) => {
                let status = response.status().as_u16();
                let text = response.body_mut().read_to_string().unwrap_or_default();
                match status {
                    200..=299 => Outcome::Ok(serde_json::from_str(&text).unwrap_or(Json::Null)),
                    503 => Outcome::Busy,
                    _ => Outcome::Failed(format!("{method} {path}: {status} {text:.300}")),
                }
            }
            Err(e) => Outcome::Failed(format!("{method} {path}: {e}")),
        }
    }
}

/// The latencies and failures of one kind of request, shared by its clients.
#[derive(Default)]
struct Tally {
    latencies: Vec<f64>,
    busy: u64,
    errors: Vec<String>,
}

impl Tally {
    /// Sends until answered other than 503; returns the JSON of a 2xx.
    fn send(
        tally: &Mutex<Tally>,
        client: &Client,
        deadline: Instant,
        request: (&str, &str, Option<&Json>, Option<&str>),
    ) -> Option<Json> {
        let (method, path, body, key) = request;
        loop {
            let sent = Instant::now();
            let outcome = client.send(method, path, body, key);
            let took = sent.elapsed().as_secs_f64() * 1e3;
            let mut tally = tally.lock().unwrap_or_else(|e| e.into_inner());
            match outcome {
                Outcome::Ok(json) => {
                    tally.latencies.push(took);
                    return Some(json);
                }
                Outcome::Busy => tally.busy += 1,
                Outcome::Failed(why) => {
                    tally.errors.push(why);
                    return None;
                }
            }
            drop(tally);
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn report(self, kind: &'static str, clients: usize) -> KindReport {
        let mut latencies = self.latencies;
        latencies.sort_by(f64::total_cmp);
        KindReport {
            kind,
            clients,
            requests: latencies.len() as u64,
            busy: self.busy,
            errors: self.errors.len() as u64,
            p50_ms: percentile(&latencies, 0.5),
            p99_ms: percentile(&latencies, 0.99),
            max_ms: latencies.last().copied().unwrap_or(0.0),
            error_examples: self.errors.into_iter().take(5).collect(),
        }
    }
}

/// The kinds of client, and how many of each.
const KINDS: [(&str, usize); 5] = [
    ("lookup", 2),
    ("estimate", 2),
    ("members", 1),
    ("events", 2),
    ("segment changes", 1),
];
/// Events per list, and the pause after each list (a steady stream, not a flood).
const EVENTS_PER_LIST: usize = 10;
const PAUSE_AFTER_LIST: Duration = Duration::from_millis(50);

pub fn run(options: &SoakOptions) -> anyhow::Result<SoakReport> {
    let suite = read_suite(&options.suite)?;
    anyhow::ensure!(
        !suite.is_empty(),
        "{}: no segments",
        options.suite.display()
    );
    let counts = DataCounts::read(&options.data)?;
    std::fs::create_dir_all(&options.out)?;
    let state = options.out.join("state");
    if state.exists() {
        std::fs::remove_dir_all(&state)?;
    }
    let (mut server, base) = start_server(options, &state)?;
    let outcome = soak(options, &suite, &counts, &base, server.id());
    let _ = server.kill();
    let _ = server.wait();
    let report = outcome?;
    super::worker::write_json(&options.out.join("soak-report.json"), &report)?;
    Ok(report)
}

fn soak(
    options: &SoakOptions,
    suite: &[SuiteFile],
    counts: &DataCounts,
    base: &str,
    pid: u32,
) -> anyhow::Result<SoakReport> {
    let setup = Client::new(base);
    // Segments that name others go once those are stored.
    let mut waiting: Vec<&SuiteFile> = suite.iter().collect();
    while !waiting.is_empty() {
        let before = waiting.len();
        let mut refused = Vec::new();
        for file in waiting {
            let mut definition: Json = serde_json::from_str(&file.text)?;
            definition["id"] = json!(file.id);
            if let Outcome::Failed(why) = setup.send("POST", "/segments", Some(&definition), None) {
                refused.push((file, why));
            }
        }
        if refused.len() == before {
            anyhow::bail!("storing the suite: {}", refused[0].1);
        }
        waiting = refused.into_iter().map(|(file, _)| file).collect();
    }
    let tallies: Vec<Mutex<Tally>> = KINDS.iter().map(|_| Mutex::default()).collect();
    let rss = Mutex::new(Vec::new());
    let held = Mutex::new(Vec::new());
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(options.seconds);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            while Instant::now() < deadline {
                if let Some(bytes) = crate::util::rss_bytes_of(pid) {
                    let at = started.elapsed().as_secs_f64();
                    rss.lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push((at, bytes));
                }
                if let Some(sample) = Held::scraped(base) {
                    let at = started.elapsed().as_secs_f64();
                    held.lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push((at, sample));
                }
                std::thread::sleep(Duration::from_secs(5));
            }
        });
        for (kind, ((name, clients), tally)) in KINDS.iter().zip(&tallies).enumerate() {
            for client in 0..*clients {
                let seed = (kind * 16 + client) as u64;
                scope.spawn(move || {
                    let load = Load {
                        client: Client::new(base),
                        tally,
                        deadline,
                        suite,
                        counts,
                        seed,
                    };
                    load.run(name);
                });
            }
        }
    });
    let events_applied = metric(base, "segmint_events_applied_total").unwrap_or(0);
    let kinds = KINDS
        .iter()
        .zip(tallies)
        .map(|((name, clients), tally)| {
            tally
                .into_inner()
                .unwrap_or_else(|e| e.into_inner())
                .report(name, *clients)
        })
        .collect();
    Ok(SoakReport {
        seconds: started.elapsed().as_secs_f64(),
        kinds,
        rss: rss.into_inner().unwrap_or_else(|e| e.into_inner()),
        peak_rss_bytes: crate::util::peak_rss_bytes_of(pid),
        held: held.into_inner().unwrap_or_else(|e| e.into_inner()),
        events_applied,
    })
}

/// One client's loop of one kind of request.
struct Load<'a> {
    client: Client,
    tally: &'a Mutex<Tally>,
    deadline: Instant,
    suite: &'a [SuiteFile],
    counts: &'a DataCounts,
    seed: u64,
}

impl Load<'_> {
    fn run(&self, kind: &str) {
        let mut n = 0u64;
        while Instant::now() < self.deadline {
            n += 1;
            let random = (self.seed << 40 | n).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 11;
            let file = &self.suite[(random % self.suite.len() as u64) as usize];
            match kind {
                "lookup" => {
                    let customer = random % self.counts.customers + 1;
                    self.send(
                        "GET",
                        &format!("/customers/{customer}/segments"),
                        None,
                        None,
                    );
                }
                "estimate" => {
                    let definition: Json = serde_json::from_str(&file.text).unwrap_or_default();
                    let body = json!({"conditions": definition["conditions"],
                        "websites": definition["websites"],
                        "apply_to": definition.get("apply_to").cloned().unwrap_or("both".into())});
                    self.send("POST", "/estimate", Some(&body), None);
                }
                "members" => {
                    // The first pages of a stored segment, followed by cursor.
                    let mut path = format!("/segments/{}/members?limit=100", file.id);
                    for _ in 0..3 {
                        let Some(page) = self.send("GET", &path, None, None) else {
                            break;
                        };
                        let Some(next) = page["next"].as_str() else {
                            break;
                        };
                        path = format!("/segments/{}/members?limit=100&after={next}", file.id);
                    }
                }
                "events" => {
                    let list = self.events(n);
                    let key = format!("soak-{}-{n}", self.seed);
                    self.send("POST", "/events", Some(&list), Some(&key));
                    std::thread::sleep(PAUSE_AFTER_LIST);
                }
                _ => self.change_segment(file, n),
            }
        }
    }

    fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<&Json>,
        key: Option<&str>,
    ) -> Option<Json> {
        Tally::send(
            self.tally,
            &self.client,
            self.deadline,
            (method, path, body, key),
        )
    }

    /// Creates a segment, reads it, changes its name and deletes it.
    fn change_segment(&self, file: &SuiteFile, n: u64) {
        let Ok(mut definition) = serde_json::from_str::<Json>(&file.text) else {
            return;
        };
        let id = format!("soak-{}-{n}", self.seed);
        definition["id"] = json!(id);
        if self
            .send("POST", "/segments", Some(&definition), None)
            .is_none()
        {
            return;
        }
        self.send("GET", &format!("/segments/{id}"), None, None);
        definition["name"] = json!(format!("{id} renamed"));
        self.send("PUT", &format!("/segments/{id}"), Some(&definition), None);
        self.send("DELETE", &format!("/segments/{id}"), None, None);
    }

    /// A list of views, wishlist items and orders of existing customers and views of new
    /// visitors, at the data's reference time.
    fn events(&self, n: u64) -> Json {
        let at = &self.counts.reference_time;
        let list: Vec<Json> = (0..EVENTS_PER_LIST as u64)
            .map(|i| {
                let random =
                    (self.seed << 48 | n << 8 | i).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 7;
                let customer = random % self.counts.customers + 1;
                let product = (random >> 20) % self.counts.products + 1;
                let website = (random >> 40) % 2 + 1;
                // Ids of new rows, apart for each client and list.
                let unique = 1_000_000_000 + self.seed * 100_000_000 + n * 16 + i;
                match i % 4 {
                    0 => json!({"type": "product_viewed", "customer_id": customer,
                        "product_id": product, "website_id": website, "viewed_at": at}),
                    1 => json!({"type": "wishlist_item_added", "customer_id": customer,
                        "product_id": product, "added_at": at}),
                    2 => json!({"type": "order_placed", "order_id": unique,
                        "customer_id": customer, "website_id": website, "created_at": at,
                        "status": "complete", "grand_total": "49.9000",
                        "items": [{"product_id": product, "qty_ordered": 1,
                            "price": "49.9000", "row_total": "49.9000"}]}),
                    _ => json!({"type": "product_viewed", "visitor_id": unique,
                        "product_id": product, "website_id": website, "viewed_at": at}),
                }
            })
            .collect();
        Json::Array(list)
    }
}

/// What the soak needs of the data: how many customers and products (generated ids are
/// 1..=n), and its reference time (`dataset.json`).
struct DataCounts {
    customers: u64,
    products: u64,
    reference_time: String,
}

impl DataCounts {
    fn read(dir: &Path) -> anyhow::Result<DataCounts> {
        let path = dir.join("dataset.json");
        let text = std::fs::read_to_string(&path).map_err(|e| {
            anyhow::anyhow!("{}: {e} (soak runs over generated data)", path.display())
        })?;
        let meta: Json = serde_json::from_str(&text)?;
        let count = |value: &Json| value.as_u64().filter(|&n| n > 0);
        let missing = || anyhow::anyhow!("{}: no customer or product counts", path.display());
        Ok(DataCounts {
            customers: count(&meta["rows"]["customers"]).ok_or_else(missing)?,
            products: count(&meta["rows"]["products"]).ok_or_else(missing)?,
            reference_time: meta["reference_time"]
                .as_str()
                .unwrap_or("2026-11-01T00:00:00Z")
                .to_string(),
        })
    }
}

/// Starts `segmint serve` on a free loopback port; returns it and its base URL once it
/// listens.
fn start_server(options: &SoakOptions, state: &Path) -> anyhow::Result<(Child, String)> {
    let log = std::fs::File::create(options.out.join("soak-server.log"))?;
    let mut child = Command::new(&options.exe)
        .args(["serve", "--bind", "127.0.0.1:0", "--data"])
        .arg(&options.data)
        .arg("--state")
        .arg(state)
        .args(
            options
                .checkpoint_after_events
                .map(|n| ["--checkpoint-after-events".to_string(), n.to_string()])
                .into_iter()
                .flatten(),
        )
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .map_err(|e| anyhow::anyhow!("cannot start {}: {e}", options.exe.display()))?;
    let stdout = child.stdout.take().expect("piped");
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(rest) = line.strip_prefix("segmint listening on ") {
                let url = rest
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_string();
                let _ = sender.send(url);
            }
        }
    });
    match receiver.recv_timeout(Duration::from_secs(600)) {
        Ok(url) => Ok((child, url)),
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            anyhow::bail!("the server did not start: see soak-server.log")
        }
    }
}

fn metric(base: &str, name: &str) -> Option<u64> {
    metric_in(&metrics_page(base)?, name)
}

fn metrics_page(base: &str) -> Option<String> {
    ureq::get(&format!("{base}/metrics"))
        .call()
        .ok()?
        .body_mut()
        .read_to_string()
        .ok()
}

/// The value of the sample `name` (without labels) in a metrics page.
fn metric_in(text: &str, name: &str) -> Option<u64> {
    text.lines()
        .find_map(|line| {
            line.strip_prefix(name)?
                .strip_prefix(' ')?
                .trim()
                .parse::<f64>()
                .ok()
        })
        .map(|value| value as u64)
}

/// The report as a Markdown table, and the RSS over time.
pub fn render(report: &SoakReport) -> String {
    const MIB: f64 = 1024.0 * 1024.0;
    let mut out = format!(
        "soak of {:.0} s: {} events applied, {} errors\n\n| requests | clients | answered | 503 | errors | p50 ms | p99 ms | max ms |\n|---|---|---|---|---|---|---|---|\n",
        report.seconds,
        report.events_applied,
        report.errors()
    );
    for k in &report.kinds {
        out += &format!(
            "| {} | {} | {} | {} | {} | {:.2} | {:.2} | {:.1} |\n",
            k.kind, k.clients, k.requests, k.busy, k.errors, k.p50_ms, k.p99_ms, k.max_ms
        );
    }
    out += "\nserver RSS (MiB) by minute:";
    let mut minute = -1i64;
    for (at, bytes) in &report.rss {
        if (*at / 60.0) as i64 > minute {
            minute = (*at / 60.0) as i64;
            out += &format!(" {minute}m {:.0}", *bytes as f64 / MIB);
        }
    }
    if let Some((_, last)) = report.rss.last() {
        out += &format!(", end {:.0}", *last as f64 / MIB);
    }
    if let Some(peak) = report.peak_rss_bytes {
        out += &format!("; peak {:.0}", peak as f64 / MIB);
    }
    if let Some((_, held)) = report.held.last() {
        out += &format!(
            "\nheld at the end: {} events since the load, {} delta rows ({} bytes), {} lists kept; caches: {} rows, {} feed changes, {} idempotency keys",
            held.events_since_load,
            held.delta_rows,
            held.delta_bytes,
            held.delta_lists_kept,
            held.rows_cache_rows,
            held.change_feed_kept,
            held.idempotency_keys
        );
    }
    for k in &report.kinds {
        for example in &k.error_examples {
            out += &format!("\nerror ({}): {example}", k.kind);
        }
    }
    out
}
