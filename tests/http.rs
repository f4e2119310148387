//! The HTTP API over a real socket: each endpoint's happy path, every kind of bad input
//! (the right 4xx, problem+json, nothing changed, the server still serving), tokens,
//! restarts with `--state`, the time limit, and memberships following the clock.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use segmint::data::generate::OutputFormat;
use segmint::data::value::parse_instant;
use segmint::segment::{Engine, NoSegments};
use segmint::server::{AppState, ConnectionLimits, ServerConfig, serve};
use segmint::service::clock::{Clock, ManualClock};
use segmint::service::state::StateDir;
use segmint::service::{Service, ServiceOptions};
use serde_json::{Value as Json, json};
use tempfile::TempDir;

use crate::common::{generated, load};

/// The generated data's reference instant: the clock of every test server.
const AS_OF: &str = "2026-11-01T00:00:00Z";

/// Magento's customer segment report columns (interface.md), in order.
const REPORT_COLUMNS: [&str; 9] = [
    "customer_id",
    "name",
    "email",
    "group_id",
    "telephone",
    "postcode",
    "country_id",
    "region",
    "customer_since",
];

/// One generated store shared by the tests (read only).
pub(crate) fn data() -> &'static Path {
    static DATA: OnceLock<TempDir> = OnceLock::new();
    DATA.get_or_init(|| generated(3_000, 11, OutputFormat::Parquet))
        .path()
}

pub(crate) struct Options<'a> {
    pub(crate) state: Option<&'a Path>,
    pub(crate) token: Option<&'a str>,
    pub(crate) time_limit: Duration,
    pub(crate) body_timeout: Duration,
    pub(crate) changes_kept: usize,
    pub(crate) connections: ConnectionLimits,
    pub(crate) checkpoint_after_events: usize,
}

impl Default for Options<'_> {
    fn default() -> Self {
        Options {
            state: None,
            token: None,
            time_limit: Duration::from_secs(30),
            body_timeout: Duration::from_secs(30),
            changes_kept: segmint::feed::DEFAULT_KEPT,
            connections: ConnectionLimits::default(),
            checkpoint_after_events: segmint::service::CHECKPOINT_AFTER_EVENTS,
        }
    }
}

/// A server on a loopback port of its own, stopped when dropped.
pub(crate) struct Server {
    pub(crate) base: String,
    token: Option<String>,
    pub(crate) clock: Arc<ManualClock>,
    pub(crate) service: Arc<Service>,
    runtime: Option<tokio::runtime::Runtime>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    agent: ureq::Agent,
}

impl Server {
    pub(crate) fn start(options: Options) -> Server {
        let clock = Arc::new(ManualClock::new(parse_instant(AS_OF).unwrap()));
        let engine = Arc::new(Engine::new(Arc::new(load(data()))));
        let service = Service::start(
            engine,
            ServiceOptions {
                clock: clock.clone(),
                state: options
                    .state
                    .map(|dir| StateDir::open(dir).expect("state dir")),
                time_limit: Some(options.time_limit),
                checkpoint_after_events: options.checkpoint_after_events,
                engine_from_checkpoint: false,
                changes_kept: options.changes_kept,
            },
        )
        .expect("service starts");
        let service = Arc::new(service);
        let state = AppState::new(
            service.clone(),
            ServerConfig {
                token: options.token.map(str::to_string),
                body_timeout: options.body_timeout,
                connections: options.connections,
                ..ServerConfig::default()
            },
        );
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        runtime.spawn(serve(listener, state, async {
            let _ = stopped.await;
        }));
        let agent = ureq::Agent::new_with_config(
            ureq::Agent::config_builder()
                .http_status_as_error(false)
                .timeout_global(Some(Duration::from_secs(60)))
                .build(),
        );
        Server {
            base,
            token: options.token.map(str::to_string),
            clock,
            service,
            runtime: Some(runtime),
            stop: Some(stop),
            agent,
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn auth<B>(&self, request: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
        match &self.token {
            Some(token) => request.header("Authorization", format!("Bearer {token}")),
            None => request,
        }
    }

    pub(crate) fn get(&self, path: &str) -> Reply {
        Reply::of(self.auth(self.agent.get(self.url(path))).call())
    }

    pub(crate) fn delete(&self, path: &str) -> Reply {
        Reply::of(self.auth(self.agent.delete(self.url(path))).call())
    }

    pub(crate) fn post(&self, path: &str, body: &str) -> Reply {
        Reply::of(
            self.auth(self.agent.post(self.url(path)))
                .header("Content-Type", "application/json")
                .send(body),
        )
    }

    pub(crate) fn put(&self, path: &str, body: &str) -> Reply {
        Reply::of(
            self.auth(self.agent.put(self.url(path)))
                .header("Content-Type", "application/json")
                .send(body),
        )
    }

    pub(crate) fn post_json(&self, path: &str, body: &Json) -> Reply {
        self.post(path, &body.to_string())
    }

    /// POSTs a JSON body with one more header.
    pub(crate) fn post_with(&self, path: &str, header: (&str, &str), body: &Json) -> Reply {
        Reply::of(
            self.auth(self.agent.post(self.url(path)))
                .header("Content-Type", "application/json")
                .header(header.0, header.1)
                .send(body.to_string()),
        )
    }

    /// Stores a segment and returns its id.
    pub(crate) fn create(&self, definition: &Json) -> Json {
        let reply = self.post_json("/segments", definition);
        assert_eq!(reply.status, 201, "create: {}", reply.text);
        reply.json()["id"].clone()
    }

    /// Every member of a segment, paging through with `limit`.
    pub(crate) fn all_members(&self, id: &Json, limit: usize) -> Vec<Json> {
        let mut members = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let mut path = format!("/segments/{}/members?limit={limit}", plain(id));
            if let Some(cursor) = &after {
                path.push_str(&format!("&after={cursor}"));
            }
            let page = self.get(&path).ok_json();
            let rows = page["members"].as_array().unwrap().clone();
            assert!(rows.len() <= limit);
            members.extend(rows);
            match page["next"].as_str() {
                Some(next) => after = Some(next.to_string()),
                None => break,
            }
        }
        members
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_timeout(Duration::from_secs(5));
        }
    }
}

pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) content_type: String,
    pub(crate) headers: BTreeMap<String, String>,
    pub(crate) text: String,
    pub(crate) bytes: Vec<u8>,
}

impl Reply {
    pub(crate) fn of(result: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Reply {
        let mut response = result.expect("the server answers");
        let headers: BTreeMap<String, String> = response
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
            .collect();
        let bytes = response
            .body_mut()
            .with_config()
            .limit(1 << 30)
            .read_to_vec()
            .expect("body");
        Reply {
            status: response.status().as_u16(),
            content_type: headers.get("content-type").cloned().unwrap_or_default(),
            headers,
            text: String::from_utf8_lossy(&bytes).to_string(),
            bytes,
        }
    }

    pub(crate) fn json(&self) -> Json {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }

    pub(crate) fn ok_json(&self) -> Json {
        assert_eq!(self.status, 200, "{}", self.text);
        self.json()
    }

    /// Asserts a problem+json answer with this status, and returns it.
    pub(crate) fn problem(&self, status: u16) -> Json {
        assert_eq!(self.status, status, "{}", self.text);
        assert_eq!(
            self.content_type, "application/problem+json",
            "{}",
            self.text
        );
        let problem = self.json();
        assert_eq!(problem["status"], status);
        assert!(problem["type"].is_string() && problem["title"].is_string());
        assert!(
            !problem["detail"].as_str().unwrap_or("").is_empty(),
            "a problem says why: {problem}"
        );
        problem
    }
}

/// An id as it goes in a path.
fn plain(id: &Json) -> String {
    match id {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `c:<customer_id>` / `v:<visitor_id>` of a member row.
pub(crate) fn member_key(row: &Json) -> String {
    match (row.get("customer_id"), row.get("visitor_id")) {
        (Some(c), _) => format!("c:{c}"),
        (None, Some(v)) => format!("v:{v}"),
        _ => panic!("a member row has customer_id or visitor_id: {row}"),
    }
}

/// The members the engine finds on its own (what `segmint eval --ids` prints).
fn engine_members(definition: &Json) -> Vec<String> {
    let engine = Engine::new(Arc::new(load(data())));
    let segment = engine.parse(&definition.to_string()).expect("valid");
    let evaluation = engine
        .evaluate(&segment, None, parse_instant(AS_OF).unwrap(), &NoSegments)
        .expect("evaluates");
    engine.member_ids(&evaluation.members).collect()
}

fn wholesale() -> Json {
    json!({"name": "Wholesale", "websites": [1, 2], "apply_to": "registered",
           "conditions": {"field": "customer.group_id", "op": "in", "value": [2, 3]}})
}

fn big_spenders() -> Json {
    json!({"name": "Spent 300+ on complete orders", "websites": [1], "apply_to": "registered",
           "conditions": {"aggregate": "sum", "of": "order.grand_total", "op": "gte", "value": 300,
                          "where": {"field": "order.status", "op": "eq", "value": "complete"}}})
}

fn cart_browsers() -> Json {
    json!({"name": "Carts of 50+ who viewed this month", "websites": [1, 2], "apply_to": "both",
           "conditions": {"all": [
               {"field": "cart.grand_total", "op": "gte", "value": 50},
               {"has": "product_view", "where": {"field": "product_view.viewed_at", "op": "in_last_days", "value": 30}}]}})
}

#[test]
fn metrics_declare_each_family_once_and_parse_as_the_exposition_format() {
    let server = Server::start(Options::default());
    let viewers = json!({"id": "viewers", "name": "viewers", "websites": [1], "apply_to": "both",
        "conditions": {"has": "product_view"}});
    let created = server.post_json("/segments", &viewers);
    assert_eq!(created.status, 201, "{}", created.text);
    let members = created.json()["count"].as_f64().unwrap();
    let view = json!([{"type": "product_viewed", "visitor_id": 990_001, "product_id": 100,
        "website_id": 1, "viewed_at": "2026-10-31T12:00:00Z"}]);
    server.post_json("/events", &view).ok_json();
    let metrics = server.get("/metrics");
    assert_eq!(metrics.status, 200);
    // A family declared twice is refused by strict parsers (Prometheus itself).
    let declared: Vec<&str> = metrics
        .text
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.split(' ').next())
        .collect();
    let unique: BTreeSet<&str> = declared.iter().copied().collect();
    assert_eq!(declared.len(), unique.len(), "{}", metrics.text);
    let lines = metrics.text.lines().map(|line| Ok(line.to_string()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("the exposition format");
    let applied: Vec<&prometheus_parse::Sample> = scrape
        .samples
        .iter()
        .filter(|sample| sample.metric == "segmint_events_applied_total")
        .collect();
    assert_eq!(applied.len(), 1, "{}", metrics.text);
    assert!(
        matches!(applied[0].value, prometheus_parse::Value::Counter(n) if n == 1.0),
        "{:?}",
        applied[0].value
    );
    assert!(
        scrape
            .samples
            .iter()
            .any(|sample| sample.metric == "segmint_event_log_flushes_total")
    );
    // What grows with events: one view of a new visitor is one row in the delta, and no
    // list is kept without a fold running.
    let gauge = |name: &str| {
        let sample = scrape.samples.iter().find(|sample| sample.metric == name);
        match sample.map(|sample| &sample.value) {
            Some(prometheus_parse::Value::Gauge(value)) => *value,
            other => panic!("{name}: {other:?} in {}", metrics.text),
        }
    };
    assert_eq!(gauge("segmint_events_since_load"), 1.0);
    assert_eq!(gauge("segmint_delta_rows"), 1.0);
    // The view's row packed: its values in a few dozen bytes, with the table's entry.
    let delta_bytes = gauge("segmint_delta_bytes");
    assert!(
        (1.0..=200.0).contains(&delta_bytes),
        "one view row held in {delta_bytes} bytes"
    );
    assert_eq!(gauge("segmint_delta_lists_kept"), 0.0);
    assert_eq!(gauge("segmint_idempotency_keys"), 0.0);
    assert!(
        gauge("segmint_rows_cache_rows") >= 1.0,
        "the visitor's rows are cached"
    );
    assert_eq!(
        gauge("segmint_change_feed_kept"),
        members + 1.0,
        "each member joined viewers when it was made, then the visitor"
    );
}

#[test]
fn health_schema_metrics_and_openapi_answer() {
    let server = Server::start(Options::default());
    let dataset = load(data());
    let health = server.get("/health").ok_json();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["customers"], dataset.customer_count() as u64);
    assert_eq!(health["visitors"], dataset.visitor_count() as u64);

    let schema = server.get("/schema").ok_json();
    let email = &schema["tables"]["customer"]["fields"]["email"];
    assert_eq!(email["type"], "string");
    assert!(
        email["operators"]
            .as_array()
            .unwrap()
            .contains(&json!("contains"))
    );
    assert_eq!(
        schema["tables"]["customer"]["fields"]["age"]["derived"],
        true
    );
    assert_eq!(
        schema["relations"]["order_item"]["tables"],
        json!(["order_item", "order", "product"])
    );
    assert_eq!(schema["relations"]["product_view"]["visitors"], true);

    server.create(&wholesale());
    let metrics = server.get("/metrics");
    assert_eq!(metrics.status, 200);
    assert!(metrics.content_type.starts_with("text/plain"));
    assert!(
        metrics.text.contains("segmint_http_requests_total{"),
        "{}",
        metrics.text
    );
    assert!(
        metrics.text.contains("route=\"/segments\""),
        "{}",
        metrics.text
    );
    assert!(
        metrics
            .text
            .contains("segmint_segment_members{segment=\"1\"}"),
        "{}",
        metrics.text
    );
    assert!(metrics.text.contains("segmint_resident_memory_bytes"));

    let openapi = server.get("/openapi.json").ok_json();
    assert!(openapi["openapi"].as_str().unwrap().starts_with("3."));
    let paths = openapi["paths"].as_object().unwrap();
    for (path, method) in [
        ("/health", "get"),
        ("/schema", "get"),
        ("/segments", "get"),
        ("/segments", "post"),
        ("/segments/{id}", "get"),
        ("/segments/{id}", "put"),
        ("/segments/{id}", "delete"),
        ("/segments/{id}/refresh", "post"),
        ("/segments/refresh", "post"),
        ("/segments/{id}/members", "get"),
        ("/estimate", "post"),
        ("/report", "post"),
        ("/customers/{customer_id}/segments", "get"),
        ("/visitors/{visitor_id}/segments", "get"),
        ("/metrics", "get"),
    ] {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "openapi lacks {method} {path}"
        );
    }
}

#[test]
fn segments_are_created_listed_read_updated_refreshed_and_deleted() {
    let server = Server::start(Options::default());
    let created = server.post_json("/segments", &wholesale());
    assert_eq!(created.status, 201);
    assert_eq!(
        created.headers.get("location").map(String::as_str),
        Some("/segments/1")
    );
    let stored = created.json();
    assert_eq!(stored["id"], 1);
    assert_eq!(stored["count"], engine_members(&wholesale()).len() as u64);
    assert_eq!(stored["conditions"], wholesale()["conditions"]);
    assert!(
        stored["refreshed_at"]
            .as_str()
            .unwrap()
            .starts_with("2026-11-01T00:00:00")
    );

    // A chosen id, and in_segment reading the stored members.
    let mut spenders = big_spenders();
    spenders["id"] = json!("spenders");
    assert_eq!(server.create(&spenders), json!("spenders"));
    let both = server.create(&json!({"name": "Wholesale big spenders", "websites": [1],
        "conditions": {"all": [{"in_segment": 1}, {"in_segment": "spenders"}]}}));
    assert_eq!(both, 2, "numbers continue after the highest numeric id");

    let list = server.get("/segments").ok_json();
    let ids: Vec<&Json> = list.as_array().unwrap().iter().map(|s| &s["id"]).collect();
    assert_eq!(ids, [&json!(1), &json!(2), &json!("spenders")]);
    for summary in list.as_array().unwrap() {
        for key in [
            "id",
            "name",
            "active",
            "websites",
            "apply_to",
            "count",
            "refreshed_at",
        ] {
            assert!(
                summary.get(key).is_some(),
                "list entries have {key}: {summary}"
            );
        }
    }
    let wholesale_ids: BTreeSet<String> = engine_members(&wholesale()).into_iter().collect();
    let spender_ids: BTreeSet<String> = engine_members(&big_spenders()).into_iter().collect();
    let both_count = server.get("/segments/2").ok_json()["count"]
        .as_u64()
        .unwrap();
    let website_1: BTreeSet<String> =
        engine_members(&json!({"name": "w1", "websites": [1], "apply_to": "registered"}))
            .into_iter()
            .collect();
    let expected = wholesale_ids
        .iter()
        .filter(|id| spender_ids.contains(*id) && website_1.contains(*id))
        .count();
    assert_eq!(both_count, expected as u64);

    // Update: re-matched, and the segment naming it follows.
    let mut narrower = wholesale();
    narrower["conditions"] = json!({"field": "customer.group_id", "op": "eq", "value": 3});
    let updated = server.put("/segments/1", &narrower.to_string()).ok_json();
    assert_eq!(updated["count"], engine_members(&narrower).len() as u64);
    assert_eq!(updated["conditions"], narrower["conditions"]);
    let narrower_ids: BTreeSet<String> = engine_members(&narrower).into_iter().collect();
    let expected = narrower_ids
        .iter()
        .filter(|id| spender_ids.contains(*id) && website_1.contains(*id))
        .count();
    assert_eq!(
        server.get("/segments/2").ok_json()["count"],
        expected as u64
    );

    // Refresh: nothing changed, so nobody enters or leaves.
    let refreshed = server.post("/segments/1/refresh", "").ok_json();
    assert_eq!(refreshed["count"], updated["count"]);
    assert_eq!(
        (refreshed["entered"].as_u64(), refreshed["left"].as_u64()),
        (Some(0), Some(0))
    );
    assert!(refreshed["elapsed_ms"].as_f64().unwrap() >= 0.0);
    // At an earlier instant the time-dependent conditions move: entered and left add up.
    let before = server.create(&cart_browsers());
    let count_now = server.get(&format!("/segments/{before}")).ok_json()["count"]
        .as_u64()
        .unwrap();
    let earlier = server
        .post_json(
            &format!("/segments/{before}/refresh"),
            &json!({"as_of": "2026-06-01"}),
        )
        .ok_json();
    let (count, entered, left) = (
        earlier["count"].as_u64().unwrap(),
        earlier["entered"].as_u64().unwrap(),
        earlier["left"].as_u64().unwrap(),
    );
    assert_eq!(count, count_now + entered - left);
    // in_last_days has no upper bound: on 1 June every view since 2 May counts, a superset.
    assert!(entered > 0 && left == 0, "{earlier}, now {count_now}");

    let bulk = server.post("/segments/refresh", "{}").ok_json();
    let counts: BTreeMap<String, u64> = bulk["segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (plain(&s["id"]), s["count"].as_u64().unwrap()))
        .collect();
    assert_eq!(counts.len(), 4);
    assert_eq!(
        counts[&before.to_string()],
        count_now,
        "back at the clock's now"
    );
    assert!(bulk["elapsed_ms"].as_f64().is_some());

    // Delete: a segment still named elsewhere stays; the others go.
    server.delete("/segments/1").problem(409);
    assert_eq!(server.delete("/segments/2").status, 204);
    assert_eq!(server.delete("/segments/1").status, 204);
    server.get("/segments/1").problem(404);
    assert_eq!(
        server.create(&wholesale()),
        4,
        "deleted ids are not given out again"
    );
}

#[test]
fn member_pages_reach_the_end_in_order_and_agree_with_the_engine() {
    let server = Server::start(Options::default());
    let id = server.create(&cart_browsers());
    let expected = engine_members(&cart_browsers());
    assert!(
        expected.iter().any(|m| m.starts_with("v:")),
        "the case has visitors"
    );
    let members = server.all_members(&id, 37);
    let keys: Vec<String> = members.iter().map(member_key).collect();
    assert_eq!(keys, expected);
    let first = server.get(&format!("/segments/{id}/members")).ok_json();
    assert_eq!(first["count"], expected.len() as u64);
    assert_eq!(
        first["members"].as_array().unwrap().len(),
        100.min(expected.len())
    );
    assert_eq!(first["segment"], id);

    // Magento's report columns, from the default billing address.
    let customer = members
        .iter()
        .find(|m| m.get("customer_id").is_some())
        .unwrap();
    for column in REPORT_COLUMNS {
        assert!(
            customer.get(column).is_some(),
            "member rows have {column}: {customer}"
        );
    }
    let visitor = members
        .iter()
        .find(|m| m.get("visitor_id").is_some())
        .unwrap();
    assert_eq!(
        visitor.as_object().unwrap().len(),
        1,
        "visitors are visitor_id only"
    );
}

#[test]
fn csv_and_xlsx_downloads_hold_every_member() {
    let server = Server::start(Options::default());
    let id = server.create(&cart_browsers());
    let members = server.all_members(&id, 10_000);
    let keys: Vec<String> = members.iter().map(member_key).collect();

    let csv = server.get(&format!("/segments/{id}/members?format=csv"));
    assert_eq!(csv.status, 200);
    assert!(csv.content_type.starts_with("text/csv"));
    assert!(csv.headers["content-disposition"].contains("attachment"));
    let mut reader = csv::Reader::from_reader(csv.bytes.as_slice());
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_string)
        .collect();
    assert_eq!(header[..9], REPORT_COLUMNS);
    assert_eq!(header[9], "visitor_id");
    let mut csv_keys = Vec::new();
    for (record, member) in reader.records().zip(&members) {
        let record = record.unwrap();
        if record[0].is_empty() {
            csv_keys.push(format!("v:{}", &record[9]));
        } else {
            csv_keys.push(format!("c:{}", &record[0]));
            assert_eq!(member["email"].as_str().unwrap_or(""), &record[2]);
            assert_eq!(member["country_id"].as_str().unwrap_or(""), &record[6]);
        }
    }
    assert_eq!(csv_keys, keys);

    let xlsx = server.get(&format!("/segments/{id}/members?format=xlsx"));
    assert_eq!(xlsx.status, 200);
    assert!(xlsx.content_type.contains("spreadsheetml"));
    use calamine::{DataType, Reader};
    let mut workbook: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(xlsx.bytes.clone())).expect("an xlsx");
    let sheet = workbook
        .worksheet_range("members")
        .expect("a members sheet");
    let mut rows = sheet.rows();
    assert_eq!(rows.next().unwrap()[0].to_string(), "customer_id");
    let xlsx_keys: Vec<String> = rows
        .map(|row| {
            if row[0].is_empty() {
                format!("v:{}", row[9])
            } else {
                format!("c:{}", row[0])
            }
        })
        .collect();
    assert_eq!(xlsx_keys, keys);

    // A download honours after and limit when given.
    let part = server.get(&format!(
        "/segments/{id}/members?format=csv&after={}&limit=5",
        keys[2]
    ));
    assert_eq!(part.text.lines().count(), 6, "{}", part.text);
}

#[test]
fn reports_combine_segments_as_union_and_intersection() {
    let server = Server::start(Options::default());
    let a = server.create(&wholesale());
    let b = server.create(&big_spenders());
    let set = |id: &Json| -> BTreeSet<String> {
        server.all_members(id, 500).iter().map(member_key).collect()
    };
    let (sa, sb) = (set(&a), set(&b));
    let report = |operation: &str| -> Vec<String> {
        let mut keys = Vec::new();
        let mut after = Json::Null;
        loop {
            let mut body = json!({"segments": [a, b], "set": operation, "limit": 250});
            if !after.is_null() {
                body["after"] = after.clone();
            }
            let page = server.post_json("/report", &body).ok_json();
            keys.extend(page["members"].as_array().unwrap().iter().map(member_key));
            after = page["next"].clone();
            if after.is_null() {
                assert_eq!(page["count"], keys.len() as u64);
                return keys;
            }
        }
    };
    let union = report("union");
    let intersection = report("intersection");
    let expect = |s: BTreeSet<&String>| -> Vec<String> {
        let mut v: Vec<String> = s.into_iter().cloned().collect();
        v.sort_by_key(|k| k[2..].parse::<i64>().unwrap());
        v
    };
    assert_eq!(union, expect(sa.union(&sb).collect()));
    assert_eq!(intersection, expect(sa.intersection(&sb).collect()));
    assert!(!intersection.is_empty() && union.len() > sa.len().max(sb.len()));

    let csv = server.post_json(
        "/report?format=csv",
        &json!({"segments": [a, b], "set": "intersection"}),
    );
    assert_eq!(csv.status, 200);
    assert_eq!(csv.text.lines().count(), intersection.len() + 1);
}

#[test]
fn lookups_agree_with_member_lists() {
    let server = Server::start(Options::default());
    let ids = [
        server.create(&wholesale()),
        server.create(&big_spenders()),
        server.create(&cart_browsers()),
    ];
    let mut inactive = wholesale();
    inactive["active"] = json!(false);
    let off = server.create(&inactive);
    assert_eq!(
        server.get(&format!("/segments/{off}")).ok_json()["count"],
        0
    );
    let mut holds: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for id in &ids {
        for member in server.all_members(id, 1_000) {
            holds
                .entry(member_key(&member))
                .or_default()
                .insert(plain(id));
        }
    }
    let dataset = load(data());
    let lookup = |path: String, key: String| {
        let answer = server.get(&path).ok_json();
        let found: BTreeSet<String> = answer["segments"]
            .as_array()
            .unwrap()
            .iter()
            .map(plain)
            .collect();
        assert_eq!(found, holds.get(&key).cloned().unwrap_or_default(), "{key}");
    };
    let customers = dataset.customer_ids();
    let mut checked = 0;
    for row in (0..dataset.customer_count()).step_by(7) {
        let customer = customers.value(row);
        lookup(
            format!("/customers/{customer}/segments"),
            format!("c:{customer}"),
        );
        checked += 1;
    }
    for visitor in dataset.visitor_ids.iter().step_by(5) {
        lookup(
            format!("/visitors/{visitor}/segments"),
            format!("v:{visitor}"),
        );
    }
    assert!(checked > 100);
    // Website 2: only segments assigned to it.
    let member = server.all_members(&ids[0], 10)[0].clone();
    let path = format!("/customers/{}/segments", member["customer_id"]);
    let on_2 = server.get(&format!("{path}?website=2")).ok_json();
    assert!(
        on_2["segments"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| *s != ids[1]),
        "spenders is website 1 only"
    );
    server.get("/customers/999999999/segments").problem(404);
    server.get("/visitors/999999999/segments").problem(404);
}

#[test]
fn estimates_are_exact_and_store_nothing() {
    let server = Server::start(Options::default());
    let id = server.create(&big_spenders());
    let stored = server.get(&format!("/segments/{id}")).ok_json();
    let segments_before = server.get("/segments").text;
    let definition = big_spenders();
    let estimate = server
        .post_json("/estimate", &json!({"conditions": definition["conditions"], "websites": [1], "apply_to": "registered"}))
        .ok_json();
    assert_eq!(estimate["count"], stored["count"]);
    assert_eq!(estimate["universe"], stored["universe"]);
    assert!(estimate["elapsed_us"].is_u64());
    // in_segment reads the stored segment; as_of moves relative dates.
    let with_reference = server
        .post_json(
            "/estimate",
            &json!({"conditions": {"in_segment": id}, "websites": [1]}),
        )
        .ok_json();
    assert_eq!(with_reference["count"], stored["count"]);
    let browsers = cart_browsers();
    let now = server
        .post_json(
            "/estimate",
            &json!({"conditions": browsers["conditions"], "websites": [1, 2]}),
        )
        .ok_json();
    let june = server
        .post_json("/estimate", &json!({"conditions": browsers["conditions"], "websites": [1, 2], "as_of": "2026-06-01"}))
        .ok_json();
    assert_eq!(now["count"], engine_members(&browsers).len() as u64);
    assert_ne!(now["count"], june["count"]);
    assert_eq!(server.get("/segments").text, segments_before);
}

/// Every kind of bad input: the right 4xx with problem+json, and nothing stored changes.
#[test]
fn bad_input_gets_a_clear_4xx_and_changes_nothing() {
    let server = Server::start(Options::default());
    let first = server.create(&wholesale());
    let mut named = big_spenders();
    named["id"] = json!("named");
    server.create(&named);
    let mut referring = wholesale();
    referring["id"] = json!("referring");
    referring["conditions"] = json!({"in_segment": "named"});
    server.create(&referring);
    let before = server.get("/segments").text;
    let detail_of = |reply: &Reply, status: u16| {
        reply.problem(status)["detail"]
            .as_str()
            .unwrap()
            .to_string()
    };

    // Malformed JSON, wrong content type, an empty body.
    server.post("/segments", "{\"name\": ").problem(400);
    server.post("/segments", "not json").problem(400);
    server.post("/estimate", "[1, 2").problem(400);
    let typed = Reply::of(
        server
            .agent
            .post(server.url("/segments"))
            .header("Content-Type", "text/plain")
            .send("{}"),
    );
    typed.problem(415);
    server.post("/segments", "").problem(422);

    // Wrong types, unknown keys, fields and operators: 422 at the pointer.
    let cases = [
        (json!({"name": "x", "websites": "1"}), "/websites"),
        (json!({"name": 5, "websites": [1]}), "/name"),
        (
            json!({"name": "x", "websites": [1], "color": "red"}),
            "/color",
        ),
        (
            json!({"name": "x", "websites": [1], "conditions": {"field": "customer.emial", "op": "eq", "value": "a"}}),
            "/conditions/field",
        ),
        (
            json!({"name": "x", "websites": [1], "conditions": {"all": [{"field": "customer.email", "op": "like", "value": "a"}]}}),
            "/conditions/all/0/op",
        ),
        (
            json!({"name": "x", "websites": [1], "conditions": {"field": "customer.group_id", "op": "eq", "value": "two"}}),
            "/conditions/value",
        ),
        (
            json!({"name": "x", "websites": [1], "conditions": {"in_segment": "nope"}}),
            "/conditions/in_segment",
        ),
        (
            json!({"id": "bad id!", "name": "x", "websites": [1]}),
            "/id",
        ),
        (
            json!({"id": "refresh", "name": "x", "websites": [1]}),
            "/id",
        ),
    ];
    for (body, pointer) in &cases {
        let problem = server.post_json("/segments", body).problem(422);
        assert_eq!(problem["pointer"], *pointer, "{body} -> {problem}");
    }
    let emial = detail_of(&server.post_json("/segments", &cases[3].0), 422);
    assert!(
        emial.contains("customer.email"),
        "suggests the closest field: {emial}"
    );

    // Limits: nesting past 64 (and far past serde's own limit), lists past 100,000.
    let mut deep = json!({"field": "customer.group_id", "op": "eq", "value": 1});
    for _ in 0..70 {
        deep = json!({"not": deep});
    }
    let problem = server
        .post_json(
            "/segments",
            &json!({"name": "x", "websites": [1], "conditions": deep}),
        )
        .problem(422);
    assert!(
        problem["detail"].as_str().unwrap().contains("64"),
        "{problem}"
    );
    let very_deep = format!(
        "{{\"name\":\"x\",\"websites\":[1],\"conditions\":{}1{}}}",
        "{\"not\":".repeat(100_000),
        "}".repeat(100_000)
    );
    server.post("/segments", &very_deep).problem(422);
    let huge: Vec<i64> = (0..100_001).collect();
    let problem = server
        .post_json("/segments", &json!({"name": "x", "websites": [1], "conditions": {"field": "customer.group_id", "op": "in", "value": huge}}))
        .problem(422);
    assert!(
        problem["detail"].as_str().unwrap().contains("100000"),
        "{problem}"
    );
    let oversized = format!("{{\"name\":\"{}\",\"websites\":[1]}}", "x".repeat(5 << 20));
    server.post("/segments", &oversized).problem(413);

    // A cycle through an update; the id in the body must match the path.
    let mut cycle = big_spenders();
    cycle["conditions"] = json!({"all": [{"in_segment": "referring"}]});
    let problem = server
        .put("/segments/named", &cycle.to_string())
        .problem(422);
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("named -> referring -> named"),
        "{problem}"
    );
    assert_eq!(problem["pointer"], "/conditions/all/0/in_segment");
    let mut moved = wholesale();
    moved["id"] = json!(77);
    server
        .put(&format!("/segments/{first}"), &moved.to_string())
        .problem(422);
    server.post_json("/segments", &named).problem(409);
    server.delete("/segments/named").problem(409);

    // Unknown segments, routes and methods.
    server.get("/segments/404").problem(404);
    server
        .put("/segments/404", &wholesale().to_string())
        .problem(404);
    server.delete("/segments/404").problem(404);
    server.post("/segments/404/refresh", "").problem(404);
    server.get("/segments/404/members").problem(404);
    server.get("/nowhere").problem(404);
    let wrong_method = Reply::of(server.agent.patch(server.url("/segments")).send("{}"));
    wrong_method.problem(405);
    assert!(wrong_method.headers.contains_key("allow"));
    server.delete("/health").problem(405);

    // Bad query parameters and path ids.
    for query in [
        "limit=0",
        "limit=abc",
        "limit=10001",
        "format=pdf",
        "after=x:1",
        "after=c:abc",
    ] {
        let problem = server
            .get(&format!("/segments/{first}/members?{query}"))
            .problem(400);
        assert!(problem["parameter"].is_string(), "{problem}");
    }
    server.get("/customers/abc/segments").problem(400);
    server.get("/customers/1/segments?website=one").problem(400);

    // Estimates and reports.
    server
        .post_json(
            "/estimate",
            &json!({"conditions": {"all": []}, "websites": [1], "extra": 1}),
        )
        .problem(422);
    let problem = server
        .post_json("/estimate", &json!({"websites": [1], "as_of": "yesterday"}))
        .problem(422);
    assert_eq!(problem["pointer"], "/as_of");
    server
        .post_json("/estimate", &json!({"conditions": {"all": []}}))
        .problem(422);
    let problem = server
        .post_json(
            "/report",
            &json!({"segments": [first, "ghost"], "set": "union"}),
        )
        .problem(404);
    assert_eq!(problem["pointer"], "/segments/1");
    server
        .post_json("/report", &json!({"segments": [first], "set": "xor"}))
        .problem(422);
    server
        .post_json("/report", &json!({"segments": []}))
        .problem(422);
    server
        .post_json("/segments/refresh", &json!({"as_of": 5}))
        .problem(422);
    server
        .post_json(
            &format!("/segments/{first}/refresh"),
            &json!({"when": "now"}),
        )
        .problem(422);

    // Nothing changed, and the server still serves.
    assert_eq!(server.get("/segments").text, before);
    assert_eq!(server.get("/health").ok_json()["status"], "ok");
}

#[test]
fn a_token_guards_everything_but_health() {
    let server = Server::start(Options {
        token: Some("s3cret-token"),
        ..Options::default()
    });
    assert_eq!(server.get("/segments").status, 200);
    let get_with = |authorization: Option<&str>| {
        let request = server.agent.get(server.url("/segments"));
        Reply::of(match authorization {
            Some(value) => request.header("Authorization", value).call(),
            None => request.call(),
        })
    };
    let anonymous = get_with(None);
    anonymous.problem(401);
    assert!(anonymous.headers.contains_key("www-authenticate"));
    get_with(Some("Bearer s3cret-tokem")).problem(401);
    get_with(Some("Basic s3cret-token")).problem(401);
    get_with(Some("Bearer")).problem(401);
    let posted = Reply::of(
        server
            .agent
            .post(server.url("/segments"))
            .header("Content-Type", "application/json")
            .send(wholesale().to_string()),
    );
    posted.problem(401);
    assert_eq!(
        server.get("/segments").text,
        "[]",
        "the refused create stored nothing"
    );
    let health = Reply::of(server.agent.get(server.url("/health")).call());
    assert_eq!(health.status, 200);
}

#[test]
fn the_bearer_scheme_is_case_insensitive() {
    let server = Server::start(Options {
        token: Some("s3cret-token"),
        ..Options::default()
    });
    for scheme in ["bearer", "BEARER", "Bearer", "bEaReR"] {
        let reply = Reply::of(
            server
                .agent
                .get(server.url("/segments"))
                .header("Authorization", format!("{scheme} s3cret-token"))
                .call(),
        );
        assert_eq!(reply.status, 200, "{scheme}");
    }
    let wrong = server
        .agent
        .get(server.url("/segments"))
        .header("Authorization", "bearer s3cret-tokem");
    Reply::of(wrong.call()).problem(401);
}

#[test]
fn unknown_routes_and_methods_answer_401_before_authentication() {
    let server = Server::start(Options {
        token: Some("s3cret-token"),
        ..Options::default()
    });
    let anonymous = |method: &str, path: &str| {
        let request = ureq::http::Request::builder()
            .method(method)
            .uri(server.url(path))
            .body(())
            .unwrap();
        Reply::of(server.agent.run(request))
    };
    let refused = anonymous("GET", "/no-such-route");
    refused.problem(401);
    assert!(refused.headers.contains_key("www-authenticate"));
    anonymous("DELETE", "/segments").problem(401);
    anonymous("GET", "/segments/%ff").problem(401);
    // With the token, the same requests say what is wrong with them.
    assert_eq!(server.get("/no-such-route").status, 404);
    assert_eq!(server.delete("/segments").status, 405);
    // Health stays open.
    assert_eq!(anonymous("GET", "/health").status, 200);
}

#[test]
fn the_command_line_refuses_an_empty_token() {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_segmint"))
        .args(["serve", "--bind", "127.0.0.1:0", "--token", ""])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("segmint runs");
    // A server that starts anyway would serve forever: it is stopped, and the test fails.
    let started = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > std::time::Duration::from_secs(20) {
            child.kill().unwrap();
            panic!("segmint serve started with an empty --token");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let output = child.wait_with_output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--token is empty"), "{stderr}");
}

#[test]
fn non_loopback_binds_need_a_token() {
    use segmint::server::check_bind;
    assert!(check_bind(&"0.0.0.0:8080".parse().unwrap(), None).is_err());
    assert!(check_bind(&"0.0.0.0:8080".parse().unwrap(), Some("")).is_err());
    assert!(check_bind(&"0.0.0.0:8080".parse().unwrap(), Some("t")).is_ok());
    assert!(check_bind(&"127.0.0.1:8080".parse().unwrap(), None).is_ok());
    assert!(check_bind(&"[::1]:8080".parse().unwrap(), None).is_ok());
}

#[test]
fn an_explicit_id_does_not_use_up_the_automatic_ids() {
    let state = tempfile::tempdir().unwrap();
    let options = || Options {
        state: Some(state.path()),
        ..Options::default()
    };
    let highest = segmint::service::MAX_NUMERIC_ID;
    let explicit = |id: u64| {
        let mut definition = big_spenders();
        definition["id"] = json!(id);
        definition
    };
    {
        let server = Server::start(options());
        let first = server.create(&wholesale()).as_u64().unwrap();
        assert_eq!(server.create(&explicit(highest)), json!(highest));
        assert_eq!(server.create(&explicit(highest - 1)), json!(highest - 1));
        assert_eq!(server.create(&wholesale()), json!(first + 1));
        for id in [highest, highest - 1] {
            assert_eq!(server.delete(&format!("/segments/{id}")).status, 204);
        }
        assert_eq!(server.create(&wholesale()), json!(first + 2));
    }
    // Across a restart too: the numbering goes on where it was.
    {
        let server = Server::start(options());
        assert_eq!(server.create(&explicit(highest)), json!(highest));
        assert_eq!(server.create(&wholesale()), json!(4));
        // An explicit id ahead of the numbering is never given out again, deleted or not.
        assert_eq!(server.create(&explicit(6)), json!(6));
        assert_eq!(server.delete("/segments/6").status, 204);
    }
    let server = Server::start(options());
    let given: Vec<Json> = (0..3).map(|_| server.create(&wholesale())).collect();
    assert_eq!(given, [json!(5), json!(7), json!(8)]);
    drop(server);
    // A state an older segmint left with the numbering past the last id starts after
    // the highest stored id that leaves room.
    let file = state.path().join("segments.json");
    let mut saved: Json = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    saved["next_id"] = json!(highest + 1);
    std::fs::write(&file, saved.to_string()).unwrap();
    let server = Server::start(options());
    assert_eq!(server.create(&wholesale()), json!(9));
}

#[test]
fn definitions_and_counts_survive_a_restart() {
    let state = tempfile::tempdir().unwrap();
    let listed = {
        let server = Server::start(Options {
            state: Some(state.path()),
            ..Options::default()
        });
        server.create(&wholesale());
        let mut named = big_spenders();
        named["id"] = json!("spenders");
        server.create(&named);
        let both = server.create(&json!({"name": "Both", "websites": [1], "conditions": {"all": [{"in_segment": 1}, {"in_segment": "spenders"}]}}));
        let gone = server.create(&cart_browsers());
        assert_eq!(server.delete(&format!("/segments/{gone}")).status, 204);
        let mut changed = wholesale();
        changed["name"] = json!("Wholesale, renamed");
        server.put("/segments/1", &changed.to_string()).ok_json();
        assert!(
            server.get(&format!("/segments/{both}")).ok_json()["count"]
                .as_u64()
                .unwrap()
                > 0
        );
        server.get("/segments").ok_json()
    };
    assert!(!state.path().join("segments.json.tmp").exists());
    let server = Server::start(Options {
        state: Some(state.path()),
        ..Options::default()
    });
    let again = server.get("/segments").ok_json();
    assert_eq!(again, listed);
    assert_eq!(again[0]["name"], "Wholesale, renamed");
    assert_eq!(
        server.create(&wholesale()),
        4,
        "the deleted 3 is not given out again"
    );
}

#[test]
fn an_evaluation_past_the_time_limit_is_stopped_and_the_server_goes_on() {
    let server = Server::start(Options {
        time_limit: Duration::from_nanos(1),
        ..Options::default()
    });
    let problem = server
        .post_json(
            "/estimate",
            &json!({"conditions": big_spenders()["conditions"], "websites": [1]}),
        )
        .problem(422);
    assert!(
        problem["type"].as_str().unwrap().ends_with("time-limit"),
        "{problem}"
    );
    server.post_json("/segments", &big_spenders()).problem(422);
    assert_eq!(server.get("/segments").text, "[]");
    assert_eq!(server.get("/health").ok_json()["status"], "ok");
}

#[test]
fn memberships_follow_the_clock_without_any_request_to_refresh() {
    let server = Server::start(Options::default());
    let recent = json!({"name": "Ordered in the last 30 days", "websites": [1, 2], "apply_to": "registered",
        "conditions": {"has": "order", "where": {"field": "order.created_at", "op": "in_last_days", "value": 30}}});
    let id = server.create(&recent);
    let member = server.all_members(&id, 1)[0]["customer_id"].clone();
    let lookup = format!("/customers/{member}/segments");
    assert!(
        server.get(&lookup).ok_json()["segments"]
            .as_array()
            .unwrap()
            .contains(&id)
    );
    // Generated orders end at the reference instant: 31 days on, the window is empty.
    server
        .clock
        .set(parse_instant("2026-12-02T00:00:00Z").unwrap());
    assert_eq!(
        server.clock.today() - parse_instant(AS_OF).map(|t| t / 86_400_000_000).unwrap() as i32,
        31
    );
    assert_eq!(server.get(&lookup).ok_json()["segments"], json!([]));
    let stored = server.get(&format!("/segments/{id}")).ok_json();
    assert_eq!(stored["count"], 0);
    assert!(stored["as_of"].as_str().unwrap().starts_with("2026-12-02"));
}

#[test]
fn the_demo_answers_the_curl_lines_it_prints() {
    let (mut child, lines) = start_demo(&[], "/events");
    let agent = ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build(),
    );
    let url_of = |line: &str| {
        line.split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap()
            .to_string()
    };
    let mut answered = 0;
    for line in lines.iter().filter(|l| l.trim_start().starts_with("curl")) {
        let url = url_of(line);
        let reply = if line.contains("-X POST") {
            let body = line.split("-d '").nth(1).unwrap().trim_end_matches('\'');
            Reply::of(
                agent
                    .post(&url)
                    .header("Content-Type", "application/json")
                    .send(body),
            )
        } else {
            Reply::of(agent.get(&url).call())
        };
        assert_eq!(reply.status, 200, "{line}: {}", reply.text);
        answered += 1;
    }
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(answered, 4, "{lines:?}");
    assert!(lines[0].contains("7 segments"), "{lines:?}");
}

#[test]
fn segments_naming_a_time_dependent_segment_follow_the_clock_too() {
    let server = Server::start(Options::default());
    let recent = json!({"id": "recent", "name": "Ordered in the last 30 days", "websites": [1, 2],
        "apply_to": "registered",
        "conditions": {"has": "order", "where": {"field": "order.created_at", "op": "in_last_days", "value": 30}}});
    server.create(&recent);
    let naming = server.create(&json!({"name": "Recent wholesale", "websites": [1, 2],
        "apply_to": "registered",
        "conditions": {"all": [{"in_segment": "recent"},
                               {"field": "customer.group_id", "op": "in", "value": [1, 2, 3]}]}}));
    assert!(
        server.get(&format!("/segments/{naming}")).ok_json()["count"]
            .as_u64()
            .unwrap()
            > 0
    );
    server
        .clock
        .set(parse_instant("2026-12-02T00:00:00Z").unwrap());
    assert_eq!(
        server.get(&format!("/segments/{naming}")).ok_json()["count"],
        0
    );
}

#[test]
fn a_new_day_is_matched_in_the_background_without_any_request() {
    let server = Server::start(Options::default());
    let recent = json!({"name": "Ordered in the last 30 days", "websites": [1, 2], "apply_to": "registered",
        "conditions": {"has": "order", "where": {"field": "order.created_at", "op": "in_last_days", "value": 30}}});
    server.create(&recent);
    server
        .clock
        .set(parse_instant("2026-12-02T00:00:00Z").unwrap());
    // No request from here on: the server's own task re-matches within about a second.
    let waited = std::time::Instant::now();
    while !server.service.is_current(&server.service.snapshot()) {
        assert!(
            waited.elapsed() < Duration::from_secs(10),
            "not re-matched in the background"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let snapshot = server.service.snapshot();
    let stored = snapshot.segments.values().next().unwrap();
    assert_eq!(stored.count(), 0);
}

#[test]
fn a_body_that_does_not_arrive_in_time_gets_408() {
    use std::io::{Read, Write};
    let server = Server::start(Options {
        body_timeout: Duration::from_millis(300),
        ..Options::default()
    });
    let address = server.base.trim_start_matches("http://").to_string();
    let mut stream = std::net::TcpStream::connect(&address).unwrap();
    stream
        .write_all(b"POST /segments HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"name\"")
        .unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    while !String::from_utf8_lossy(&answer).contains("\r\n\r\n{") {
        let n = stream
            .read(&mut buffer)
            .expect("an answer before the read timeout");
        assert!(n > 0, "closed without an answer");
        answer.extend_from_slice(&buffer[..n]);
    }
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("application/problem+json"), "{text}");
    assert_eq!(server.get("/segments").text, "[]");
}

#[test]
fn reports_take_each_segment_once_and_at_most_a_thousand() {
    let server = Server::start(Options::default());
    let a = server.create(&wholesale());
    let once = server
        .post_json("/report", &json!({"segments": [a], "limit": 1}))
        .ok_json();
    let twice = server
        .post_json(
            "/report",
            &json!({"segments": [a, a, plain(&a)], "set": "intersection", "limit": 1}),
        )
        .ok_json();
    assert_eq!(twice["segments"], json!([a]));
    assert_eq!(twice["count"], once["count"]);
    let many = vec![a.clone(); 1_001];
    let problem = server
        .post_json("/report", &json!({"segments": many}))
        .problem(422);
    assert_eq!(problem["pointer"], "/segments");
}

#[test]
fn refused_changes_leave_the_state_file_as_it_was() {
    let state = tempfile::tempdir().unwrap();
    let server = Server::start(Options {
        state: Some(state.path()),
        ..Options::default()
    });
    let id = server.create(&wholesale());
    let mut named = big_spenders();
    named["id"] = json!("named");
    server.create(&named);
    server.create(&json!({"name": "Both", "websites": [1], "conditions": {"in_segment": "named"}}));
    let saved = std::fs::read(state.path().join("segments.json")).unwrap();
    server.post("/segments", "{\"name\": 1}").problem(422);
    server.post_json("/segments", &named).problem(409);
    let mut bad = wholesale();
    bad["conditions"] = json!({"field": "customer.nope", "op": "eq", "value": 1});
    server
        .put(&format!("/segments/{id}"), &bad.to_string())
        .problem(422);
    server.delete("/segments/named").problem(409);
    server.delete("/segments/ghost").problem(404);
    assert_eq!(
        std::fs::read(state.path().join("segments.json")).unwrap(),
        saved
    );
    // A second server on the same directory is refused rather than overwriting it.
    let second = StateDir::open(state.path());
    assert!(second.is_err_and(|e| e.reason.contains("another segmint process")));
}

#[test]
fn the_command_line_refuses_a_public_address_without_a_token() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_segmint"))
        .args(["serve", "--bind", "0.0.0.0:0"])
        .output()
        .expect("segmint runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--token"), "{stderr}");
}

#[test]
fn exports_neutralise_cells_a_spreadsheet_would_read_as_formulas() {
    let server = Server::start(Options::default());
    let hostile = json!([{"type": "customer_upserted", "customer_id": 990_001, "website_id": 1,
        "group_id": 77, "firstname": "=HYPERLINK(\"http://evil.example\",\"x\")",
        "lastname": "Doe", "email": "@evil.example"},
        {"type": "address_upserted", "address_id": 990_001, "customer_id": 990_001,
        "is_default_billing": true, "country_id": "DE", "city": "Berlin",
        "telephone": "+49 30 1234", "postcode": "-1", "region": "\tregion"}]);
    server.post_json("/events", &hostile).ok_json();
    let id = server.create(&json!({"name": "group 77", "websites": [1],
        "conditions": {"field": "customer.group_id", "op": "eq", "value": 77}}));
    let expected = [
        "990001",
        "'=HYPERLINK(\"http://evil.example\",\"x\") Doe",
        "'@evil.example",
        "77",
        "'+49 30 1234",
        "'-1",
        "DE",
        "'\tregion",
    ];
    let csv = server.get(&format!("/segments/{id}/members?format=csv"));
    let mut reader = csv::Reader::from_reader(csv.bytes.as_slice());
    let record = reader.records().next().expect("one member").unwrap();
    let cells: Vec<&str> = record.iter().take(expected.len()).collect();
    assert_eq!(cells, expected);

    use calamine::Reader;
    let xlsx = server.get(&format!("/segments/{id}/members?format=xlsx"));
    let mut workbook: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(xlsx.bytes.clone())).expect("an xlsx");
    let sheet = workbook.worksheet_range("members").unwrap();
    let row: Vec<String> = sheet.rows().nth(1).expect("one member")[..expected.len()]
        .iter()
        .map(|cell| cell.to_string())
        .collect();
    assert_eq!(row, expected);
    // The JSON page gives the values as they are.
    let page = server.get(&format!("/segments/{id}/members")).ok_json();
    assert_eq!(page["members"][0]["email"], "@evil.example");
}

#[test]
fn xlsx_exports_go_on_to_further_sheets() {
    use calamine::Reader;
    use segmint::service::report::{MemberSource, XlsxSheets, write_xlsx};
    let dataset = Arc::new(load(data()));
    let mut members = roaring::RoaringBitmap::new();
    members.insert_range(0..250);
    let mut bytes = Vec::new();
    let source = MemberSource {
        dataset: dataset.clone(),
        delta: Default::default(),
        layouts: Arc::new(segmint::events::Layouts::of(&dataset)),
    };
    let written = write_xlsx(
        &source,
        &members,
        None,
        None,
        &XlsxSheets {
            name: "members",
            rows: 101,
        },
        &mut bytes,
    )
    .expect("written");
    assert_eq!(written, 250);
    let mut workbook: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).expect("an xlsx");
    assert_eq!(
        workbook.sheet_names(),
        ["members", "members 2", "members 3"]
    );
    let ids: Vec<String> = workbook
        .sheet_names()
        .into_iter()
        .flat_map(|name| {
            let range = workbook.worksheet_range(&name).unwrap();
            range
                .rows()
                .skip(1)
                .map(|row| row[0].to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    let expected: Vec<String> = (0..250)
        .map(|c| dataset.customer_ids().value(c).to_string())
        .collect();
    assert_eq!(ids, expected);
}

/// Starts `segmint serve` (the demo, with `args`) and reads what it prints up to the line
/// that contains `until`.
pub fn start_demo(args: &[&str], until: &str) -> (std::process::Child, Vec<String>) {
    use std::io::{BufRead, BufReader};
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_segmint"))
        .args(["serve", "--bind", "127.0.0.1:0"])
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("segmint starts");
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut lines = Vec::new();
    for line in stdout.by_ref() {
        let line = line.unwrap();
        let done = line.contains(until);
        lines.push(line);
        if done {
            break;
        }
    }
    // Keep reading, as a terminal would, whatever the server prints next.
    std::thread::spawn(move || stdout.for_each(drop));
    (child, lines)
}

#[test]
fn the_demo_keeps_a_deleted_example_deleted_across_a_restart() {
    let state = tempfile::tempdir().unwrap();
    let state_arg = state.path().to_str().unwrap();
    let (mut first, lines) = start_demo(&["--state", state_arg], "listening on");
    assert!(lines.last().unwrap().contains("7 segments"), "{lines:?}");
    let url = lines
        .last()
        .unwrap()
        .split_whitespace()
        .nth(3)
        .unwrap()
        .to_string();
    let agent = ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build(),
    );
    let deleted = Reply::of(agent.delete(format!("{url}/segments/cart_big")).call());
    assert_eq!(deleted.status, 204, "{}", deleted.text);
    let _ = first.kill();
    let _ = first.wait();
    let (mut second, lines) = start_demo(&["--state", state_arg], "listening on");
    let _ = second.kill();
    let _ = second.wait();
    assert!(lines.last().unwrap().contains("6 segments"), "{lines:?}");
}

#[test]
fn events_move_a_customer_into_a_segment_and_bad_events_change_nothing() {
    let server = Server::start(Options::default());
    let dataset = load(data());
    let customer = dataset.customer_ids().value(0);
    let website = dataset.customers.ints("website_id").unwrap().value(0);
    let id = server.create(&json!({"name": "big order", "websites": [website],
        "apply_to": "registered", "conditions": {"aggregate": "max", "of": "order.grand_total",
        "op": "gte", "value": 1_000_000}}));
    let segments_of = || {
        server
            .get(&format!("/customers/{customer}/segments"))
            .ok_json()
    };
    assert_eq!(segments_of()["segments"], json!([]));
    let order = json!({"type": "order_placed", "order_id": 987_654_321, "customer_id": customer,
        "website_id": website, "created_at": "2026-10-31T10:00:00Z", "status": "complete",
        "grand_total": "1000000.5", "items": [{"product_id": 1, "qty_ordered": 1, "price": 1, "row_total": 1}]});
    // A bad second event: nothing applies, the answer points at it.
    let bad = json!([order, {"type": "order_updated", "order_id": 1, "status": 5}]);
    let problem = server.post_json("/events", &bad).problem(422);
    assert_eq!(problem["pointer"], "/1/status", "{problem}");
    assert_eq!(segments_of()["segments"], json!([]));
    let not_a_list = server.post_json("/events", &order).problem(422);
    assert!(not_a_list["detail"].as_str().unwrap().contains("list"));
    server.post("/events", "[{\"type\": ").problem(400);
    // The order alone applies, and the answer names who moved.
    let reply = server.post_json("/events", &json!([order])).ok_json();
    assert_eq!(reply["applied"], 1);
    assert_eq!(
        reply["changes"],
        json!([{"segment": id, "customer_id": customer, "entered": true}])
    );
    assert_eq!(segments_of()["segments"], json!([id]));
    let count = server.get(&format!("/segments/{}", plain(&id))).ok_json()["count"].clone();
    assert_eq!(count, 1);
    // Placing it again is refused: order ids are unique.
    let again = server.post_json("/events", &json!([order])).problem(422);
    assert_eq!(again["pointer"], "/0/order_id");
    let metrics = server.get("/metrics").text;
    assert!(
        metrics.contains("segmint_events_applied_total 1"),
        "{metrics}"
    );
}
