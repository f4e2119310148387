//! The measuring process of one scale (`segmint bench-worker`, started by `segmint bench`):
//! it loads the data, evaluates the suite, stores it in a service and re-matches it in
//! bulk, writes what it measured, and then serves HTTP on loopback so that the parent can
//! load it from outside. A process of its own per scale, so that its peak RSS is that
//! scale's alone.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use datafusion::arrow::array::Int64Array;

use serde::{Deserialize, Serialize};

use super::suite::{
    ColdCaches, SegmentDir, SegmentRun, SuiteFile, evaluate_repeatedly, read_suite,
};
use crate::data::{LoadOptions, load_dataset};
use crate::segment::{Engine, ErrorKind};
use crate::server::{AppState, ServerConfig, serve};
use crate::service::clock::ManualClock;
use crate::service::{Service, ServiceError, ServiceOptions};

/// What the worker measured before serving.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WorkerReport {
    pub as_of: String,
    pub load_seconds: f64,
    /// From the start to a service ready to answer: load, engine and service start.
    pub ready_seconds: f64,
    /// Columns, links and id indexes the engine keeps.
    pub loaded_bytes: u64,
    /// Peak RSS right after loading.
    pub load_peak_rss_bytes: Option<u64>,
    pub rows: BTreeMap<String, u64>,
    /// Each suite segment evaluated `repeat` times in process.
    pub segments: Vec<SegmentRun>,
    /// Sum of the segments' p50.
    pub suite_p50_ms: f64,
    /// Sum of the segments' p50 with the caches cold, when measured.
    #[serde(default)]
    pub cold_suite_p50_ms: Option<f64>,
    /// The whole suite stored and re-matched at once (`POST /segments/refresh`), each run.
    pub bulk_refresh_ms: Vec<f64>,
    /// Column indexes built by the suite.
    pub index_bytes: u64,
    /// Where the loaded data and the indexes' bytes go, per table, column and index.
    #[serde(default)]
    pub memory: Vec<crate::store::MemoryItem>,
    /// Peak RSS once ready to serve: data, indexes and stored memberships.
    pub ready_peak_rss_bytes: Option<u64>,
    /// Lists of events applied with 100 active segments (after the measures above).
    #[serde(default)]
    pub events: Option<EventsMeasure>,
    #[serde(default)]
    pub replay: Option<ReplayMeasure>,
    #[serde(default)]
    pub http_events: Option<HttpEventsMeasure>,
}

/// Lists of events sent over HTTP by concurrent clients to a server with a state
/// directory: every list durable (in the event log, flushed) before its answer.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct HttpEventsMeasure {
    pub segments: usize,
    pub clients: usize,
    pub events_per_list: usize,
    /// Each request is one list.
    pub load: super::load::LoadResult,
    pub events_per_second: f64,
    /// Flushes of the event log: concurrent lists share one (group commit).
    pub log_flushes: u64,
}

/// The largest data the HTTP events measure runs over (M).
const HTTP_EVENTS_MAX_CUSTOMERS: usize = 1_000_000;

/// Clients and list length of the HTTP events measure (benchmark.md).
const HTTP_EVENT_CLIENTS: usize = 16;
const HTTP_EVENTS_PER_LIST: usize = 10;

/// A start that replays an event log over the loaded data (no segments stored).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ReplayMeasure {
    pub events: usize,
    pub log_bytes: u64,
    /// A start with the whole log replayed, ready to serve.
    pub seconds: f64,
    /// After it, the checkpoint of the replayed data written in the background, and put
    /// in force (the service stopping waits for it).
    #[serde(default)]
    pub checkpoint_seconds: f64,
    /// The start after it: the checkpoint loaded, an empty log.
    #[serde(default)]
    pub from_checkpoint_seconds: f64,
    /// The worker's peak RSS after the replay (the highest of the whole run).
    pub peak_rss_bytes: Option<u64>,
}

/// Events applied through the service, a list at a time, with `segments` active.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EventsMeasure {
    pub segments: usize,
    pub events_per_list: usize,
    /// Each list's time from the call to its memberships published.
    pub list_ms: Vec<f64>,
    pub events_per_second: f64,
    /// Of the lists' times: an event's memberships change when its list is published.
    #[serde(default)]
    pub p50_list_ms: f64,
    #[serde(default)]
    pub p99_list_ms: f64,
    /// The slowest list: no event of any list waited longer for its memberships.
    pub max_event_to_membership_ms: f64,
    pub changes: usize,
    /// Estimates of an attribute-only suite segment, one after every tenth list: an admin
    /// page's live size while events flow (the first after a list builds the touched
    /// subjects' datasets that are new).
    #[serde(default)]
    pub estimate_ms: Vec<f64>,
    /// After the last list, the wait for a fold into the data still running (and its
    /// publishing).
    #[serde(default)]
    pub fold_wait_seconds: f64,
}

/// The suite segment estimated while events flow.
pub const ESTIMATED_WHILE_EVENTS: &str = "attributes_wholesale";

pub struct WorkerOptions {
    pub data: PathBuf,
    pub suite: PathBuf,
    pub as_of: Option<i64>,
    pub repeat: usize,
    /// Each segment evaluated again with the caches cold, through a buffer of this many
    /// MiB, allocated for those runs only.
    pub cold_caches_mib: Option<usize>,
    pub bulk_runs: usize,
    /// Lists of events to apply (0: no events measure) and events per list.
    pub event_lists: usize,
    pub events_per_list: usize,
    /// Events to write to a log and replay at a start (0: no replay measure).
    pub replay_events: usize,
    /// Events in the delta before a fold into the data starts.
    pub fold_after_events: usize,
    /// Seconds of lists of events over HTTP with a state directory (0: none).
    pub http_event_seconds: f64,
    pub report: PathBuf,
}

pub fn run(options: &WorkerOptions) -> anyhow::Result<()> {
    let started = Instant::now();
    let (dataset, load) = load_dataset(
        &options.data,
        &LoadOptions {
            lenient: false,
            progress: false,
        },
    )?;
    let load_peak_rss_bytes = crate::util::peak_rss_bytes();
    let as_of = options
        .as_of
        .or(dataset.reference_time)
        .ok_or_else(|| anyhow::anyhow!("the dataset has no reference time: pass --as-of"))?;
    let rows = load
        .rows
        .iter()
        .map(|(table, n)| (table.file_stem().to_string(), *n as u64))
        .collect();
    let engine = Arc::new(Engine::prepared(Arc::new(dataset)));
    let service = Arc::new(Service::start(
        engine.clone(),
        ServiceOptions {
            clock: Arc::new(ManualClock::new(as_of)),
            state: None,
            time_limit: None,
            checkpoint_after_events: options.fold_after_events,
            engine_from_checkpoint: false,
            changes_kept: crate::feed::DEFAULT_KEPT,
        },
    )?);
    let ready_seconds = started.elapsed().as_secs_f64();

    let suite = read_suite(&options.suite)?;
    let source = SegmentDir {
        dir: Some(options.suite.clone()),
        engine: &engine,
    };
    let mut segments = Vec::with_capacity(suite.len());
    for file in &suite {
        let segment = engine
            .parse(&file.text)
            .map_err(|e| anyhow::anyhow!("{}: {e}", file.path.display()))?;
        let (evaluation, timing) = evaluate_repeatedly(
            &engine,
            &segment,
            Some(&file.id),
            as_of,
            &source,
            options.repeat,
            None,
        )
        .map_err(|e| anyhow::anyhow!("{}: {e}", file.path.display()))?;
        tracing::info!(
            "{}: {} members; {}",
            file.id,
            evaluation.members.len(),
            timing.summary()
        );
        segments.push(SegmentRun {
            id: file.id.clone(),
            name: segment.name,
            count: evaluation.members.len(),
            universe: evaluation.universe,
            timing,
            cold: None,
        });
    }
    let suite_p50_ms = segments.iter().map(|s| s.timing.p50_ms).sum();
    let cold_suite_p50_ms = match options.cold_caches_mib {
        Some(mib) => Some(measure_cold(
            &engine,
            &suite,
            &source,
            as_of,
            options.repeat,
            mib,
            &mut segments,
        )?),
        None => None,
    };

    store_suite(&service, &options.suite)?;
    let mut bulk_refresh_ms = Vec::new();
    for _ in 0..options.bulk_runs.max(1) {
        let started = Instant::now();
        service.refresh_all(None)?;
        bulk_refresh_ms.push(started.elapsed().as_secs_f64() * 1e3);
    }

    let index_bytes = engine.index_memory_bytes() as u64;
    let mut memory = engine.dataset().memory_breakdown();
    memory.extend(engine.index_memory_breakdown());
    let ready_peak_rss_bytes = crate::util::peak_rss_bytes();
    let events = if options.event_lists > 0 {
        Some(measure_events(&service, &options.suite, options)?)
    } else {
        None
    };
    // A second server with segments of its own would add to the peak RSS that sizes one
    // server: past M it would decide whether the largest scale fits, so it is measured up
    // to M only.
    let http_events = if options.http_event_seconds > 0.0
        && engine.dataset().customer_count() <= HTTP_EVENTS_MAX_CUSTOMERS
    {
        Some(measure_http_events(&service, options)?)
    } else {
        None
    };
    let replay = if options.replay_events > 0 {
        Some(measure_replay(&service, options.replay_events)?)
    } else {
        None
    };

    let report = WorkerReport {
        as_of: crate::data::value::format_timestamp(as_of),
        load_seconds: load.elapsed.as_secs_f64(),
        ready_seconds,
        loaded_bytes: load.memory_bytes as u64,
        load_peak_rss_bytes,
        rows,
        segments,
        suite_p50_ms,
        cold_suite_p50_ms,
        bulk_refresh_ms,
        index_bytes,
        memory,
        ready_peak_rss_bytes,
        events,
        replay,
        http_events,
    };
    write_json(&options.report, &report)?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    println!("ready http://{}", listener.local_addr()?);
    std::io::Write::flush(&mut std::io::stdout())?;
    let state = AppState::new(service, ServerConfig::default());
    runtime.block_on(serve(listener, state, std::future::pending()))?;
    Ok(())
}

/// Evaluates each suite segment `repeat` times again with the caches cold (see
/// [`ColdCaches`]), into `segments`' `cold`; returns the sum of their p50.
fn measure_cold(
    engine: &Engine,
    suite: &[SuiteFile],
    source: &SegmentDir,
    as_of: i64,
    repeat: usize,
    mib: usize,
    segments: &mut [SegmentRun],
) -> anyhow::Result<f64> {
    let mut cold = ColdCaches::new(mib);
    for (file, run) in suite.iter().zip(segments.iter_mut()) {
        let segment = engine
            .parse(&file.text)
            .map_err(|e| anyhow::anyhow!("{}: {e}", file.path.display()))?;
        let (_, timing) = evaluate_repeatedly(
            engine,
            &segment,
            Some(&file.id),
            as_of,
            source,
            repeat,
            Some(&mut cold),
        )
        .map_err(|e| anyhow::anyhow!("{}: {e}", file.path.display()))?;
        tracing::info!("{}, caches cold: {}", file.id, timing.summary());
        run.cold = Some(timing);
    }
    Ok(segments
        .iter()
        .filter_map(|s| s.cold.as_ref())
        .map(|t| t.p50_ms)
        .sum())
}

/// Active segments while events are measured (benchmark.md).
const EVENT_SEGMENTS: usize = 100;

/// Stores copies of the suite up to 100 active segments, then applies lists of events:
/// views, orders and wishlist items of existing customers, views of new visitors and
/// registrations of new customers.
fn measure_events(
    service: &Service,
    suite_dir: &Path,
    options: &WorkerOptions,
) -> anyhow::Result<EventsMeasure> {
    let suite = read_suite(suite_dir)?;
    store_event_segments(service, &suite)?;
    let snapshot = service.snapshot();
    let as_of = crate::data::value::format_timestamp(service.clock().now_micros());
    let mut events = EventMaker::new(snapshot.loaded_engine().dataset(), as_of)?;
    let estimated: Option<serde_json::Value> = suite
        .iter()
        .find(|file| file.id == ESTIMATED_WHILE_EVENTS)
        .map(|file| serde_json::from_str::<serde_json::Value>(&file.text))
        .transpose()?
        .map(|definition| {
            // An estimate takes the definition's conditions and scope, not its name.
            let keys = ["conditions", "websites", "apply_to"];
            let body: serde_json::Map<String, serde_json::Value> = keys
                .iter()
                .filter_map(|key| Some((key.to_string(), definition.get(*key)?.clone())))
                .collect();
            serde_json::Value::Object(body)
        });
    let mut list_ms = Vec::new();
    let mut estimate_ms = Vec::new();
    let mut changes = 0;
    for list_number in 0..options.event_lists {
        let list = events.list(options.events_per_list);
        let started = Instant::now();
        let applied = service.apply_events(service.parse_events(list)?)?;
        let elapsed = started.elapsed().as_secs_f64() * 1e3;
        tracing::info!(
            "{} events applied in {elapsed:.1} ms, {} membership changes",
            applied.applied,
            applied.changes.len()
        );
        changes += applied.changes.len();
        list_ms.push(elapsed);
        if let Some(definition) = estimated.as_ref().filter(|_| list_number % 10 == 9) {
            let started = Instant::now();
            let snapshot = service.snapshot();
            let (segment, as_of) =
                crate::server::api::EstimateRequest::parse(definition, snapshot.schema())?;
            service.estimate(&snapshot, &segment, as_of)?;
            estimate_ms.push(started.elapsed().as_secs_f64() * 1e3);
        }
    }
    let waiting = Instant::now();
    service.finish_background_work(true);
    let fold_wait_seconds = waiting.elapsed().as_secs_f64();
    let total_ms: f64 = list_ms.iter().sum();
    let mut sorted = list_ms.clone();
    sorted.sort_by(f64::total_cmp);
    Ok(EventsMeasure {
        segments: service.snapshot().segments.len(),
        events_per_list: options.events_per_list,
        events_per_second: (options.event_lists * options.events_per_list) as f64
            / (total_ms / 1e3),
        max_event_to_membership_ms: list_ms.iter().copied().fold(0.0, f64::max),
        p50_list_ms: super::suite::percentile(&sorted, 0.50),
        p99_list_ms: super::suite::percentile(&sorted, 0.99),
        list_ms,
        changes,
        estimate_ms,
        fold_wait_seconds,
    })
}

/// Stores copies of the suite until 100 segments are stored.
fn store_event_segments(
    service: &Service,
    suite: &[super::suite::SuiteFile],
) -> anyhow::Result<()> {
    let mut copy = 0;
    while service.snapshot().segments.len() < EVENT_SEGMENTS && !suite.is_empty() {
        let file = &suite[copy % suite.len()];
        let mut definition: serde_json::Value = serde_json::from_str(&file.text)?;
        definition["id"] = serde_json::Value::from(format!("{}_copy{copy}", file.id));
        crate::server::api::create_segment(service, &definition)?;
        copy += 1;
    }
    Ok(())
}

/// A server over the loaded data with a state directory (on the same disk as the data)
/// and 100 segments, sent lists of 10 events by 16 clients at once, each list flushed to
/// the event log before its answer.
fn measure_http_events(
    service: &Service,
    options: &WorkerOptions,
) -> anyhow::Result<HttpEventsMeasure> {
    let snapshot = service.snapshot();
    let dir = tempfile::tempdir_in(options.data.parent().unwrap_or(Path::new(".")))?;
    let durable = Arc::new(Service::start(
        snapshot.loaded_engine().clone(),
        ServiceOptions {
            clock: service.clock().clone(),
            state: Some(crate::service::state::StateDir::open(dir.path())?),
            time_limit: None,
            checkpoint_after_events: options.fold_after_events,
            engine_from_checkpoint: false,
            changes_kept: crate::feed::DEFAULT_KEPT,
        },
    )?);
    store_suite(&durable, &options.suite)?;
    store_event_segments(&durable, &read_suite(&options.suite)?)?;
    let as_of = crate::data::value::format_timestamp(service.clock().now_micros());
    let events = std::sync::Mutex::new(EventMaker::new(snapshot.loaded_engine().dataset(), as_of)?);
    let body = |_: u64| {
        let mut events = events.lock().unwrap_or_else(|e| e.into_inner());
        events.list(HTTP_EVENTS_PER_LIST).to_string()
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let url = format!("http://{}", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = runtime.spawn(serve(
        listener,
        AppState::new(durable.clone(), ServerConfig::default()),
        async {
            let _ = stopped.await;
        },
    ));
    let flushes_before = durable.log_flushes();
    let path = |_: u64| "/events".to_string();
    let load = super::load::run(
        &url,
        &super::load::Request {
            method: "POST",
            path: &path,
            body: Some(&body),
        },
        HTTP_EVENT_CLIENTS,
        std::time::Duration::from_secs_f64(options.http_event_seconds),
    );
    let log_flushes = durable.log_flushes() - flushes_before;
    let _ = stop.send(());
    let _ = runtime.block_on(server);
    anyhow::ensure!(
        load.errors == 0,
        "{} of the lists sent over HTTP were refused or not answered",
        load.errors
    );
    tracing::info!(
        "over HTTP with a state directory: {:.0} events/s from {HTTP_EVENT_CLIENTS} clients, {} lists in {log_flushes} flushes of the log",
        load.requests_per_second * HTTP_EVENTS_PER_LIST as f64,
        load.requests
    );
    Ok(HttpEventsMeasure {
        segments: durable.snapshot().segments.len(),
        clients: HTTP_EVENT_CLIENTS,
        events_per_list: HTTP_EVENTS_PER_LIST,
        events_per_second: load.requests_per_second * HTTP_EVENTS_PER_LIST as f64,
        load,
        log_flushes,
    })
}

/// Events over existing products, a fifth each, at one instant: views, orders (with one
/// item) and wishlist items of existing customers, views of new visitors and new
/// customers.
struct EventMaker {
    customers: Int64Array,
    websites: Vec<i64>,
    products: Int64Array,
    next_order: i64,
    next_customer: i64,
    next_visitor: i64,
    at: String,
    rng: rand_pcg::Pcg64Mcg,
}

impl EventMaker {
    fn new(dataset: &crate::store::Dataset, at: String) -> anyhow::Result<EventMaker> {
        let customers = dataset.customer_ids().to_int64();
        let websites = dataset.customers.ints("website_id").expect("website_id");
        let products = dataset
            .products
            .ints("product_id")
            .expect("product_id")
            .to_int64();
        anyhow::ensure!(
            !customers.is_empty() && !products.is_empty(),
            "events need customers and products"
        );
        let next_order = dataset
            .orders
            .table
            .ints("order_id")
            .and_then(|ids| ids.iter().flatten().max())
            .unwrap_or(0);
        let next_customer = customers.iter().flatten().max().unwrap_or(0);
        let next_visitor = dataset.visitor_ids.iter().copied().max().unwrap_or(0);
        Ok(EventMaker {
            next_customer,
            next_visitor,
            websites: (0..customers.len()).map(|c| websites.value(c)).collect(),
            customers,
            products,
            next_order,
            at,
            rng: rand_pcg::Pcg64Mcg::new(0x5e9_e7e7),
        })
    }

    fn list(&mut self, events: usize) -> serde_json::Value {
        use rand::Rng;
        use serde_json::json;
        let list = (0..events)
            .map(|_| {
                let c = self.rng.random_range(0..self.customers.len());
                let (customer, website) = (self.customers.value(c), self.websites[c]);
                let product = self
                    .products
                    .value(self.rng.random_range(0..self.products.len()));
                let at = &self.at;
                match self.rng.random_range(0..5) {
                    0 => json!({"type": "product_viewed", "customer_id": customer,
                        "product_id": product, "website_id": website, "viewed_at": at}),
                    1 => {
                        self.next_order += 1;
                        json!({"type": "order_placed", "order_id": self.next_order,
                            "customer_id": customer, "website_id": website, "created_at": at,
                            "status": "complete", "grand_total": "129.9000",
                            "items": [{"product_id": product, "qty_ordered": 1,
                                "price": "129.9000", "row_total": "129.9000"}]})
                    }
                    2 => json!({"type": "wishlist_item_added", "customer_id": customer,
                        "product_id": product, "added_at": at}),
                    3 => {
                        self.next_visitor += 1;
                        json!({"type": "product_viewed", "visitor_id": self.next_visitor,
                            "product_id": product, "website_id": website, "viewed_at": at})
                    }
                    _ => {
                        self.next_customer += 1;
                        json!({"type": "customer_upserted", "customer_id": self.next_customer,
                            "website_id": website, "group_id": 1, "created_at": at,
                            "email": format!("new{}@example.com", self.next_customer)})
                    }
                }
            })
            .collect();
        serde_json::Value::Array(list)
    }
}

/// Writes `events` (in lists of 1,000) to an event log and times a service starting
/// over the loaded data with it (the log read, the events applied), the checkpoint it
/// then writes in the background when they are many, and the start after that one.
fn measure_replay(service: &Service, events: usize) -> anyhow::Result<ReplayMeasure> {
    let snapshot = service.snapshot();
    let dir = tempfile::tempdir()?;
    {
        let as_of = crate::data::value::format_timestamp(service.clock().now_micros());
        let mut maker = EventMaker::new(snapshot.loaded_engine().dataset(), as_of)?;
        let mut log = crate::events::log::EventLog::open(dir.path())?.log;
        let layouts = crate::events::Layouts::of(snapshot.loaded_engine().dataset());
        let mut left = events;
        while left > 0 {
            let n = left.min(1_000);
            log.append(&crate::events::EventList::parse(maker.list(n), &layouts)?)?;
            left -= n;
        }
    }
    let log_bytes = std::fs::metadata(dir.path().join(crate::events::log::LOG_FILE))?.len();
    let start = || -> anyhow::Result<(f64, f64)> {
        let started = Instant::now();
        let replayed = Service::start(
            snapshot.loaded_engine().clone(),
            ServiceOptions {
                clock: service.clock().clone(),
                state: Some(crate::service::state::StateDir::open(dir.path())?),
                time_limit: None,
                checkpoint_after_events: crate::service::CHECKPOINT_AFTER_EVENTS,
                engine_from_checkpoint: false,
                changes_kept: crate::feed::DEFAULT_KEPT,
            },
        )?;
        let seconds = started.elapsed().as_secs_f64();
        let stopping = Instant::now();
        drop(replayed);
        Ok((seconds, stopping.elapsed().as_secs_f64()))
    };
    // The first start replays the whole log and, the log being long, writes a
    // checkpoint; the next loads the checkpoint.
    let (seconds, checkpoint_seconds) = start()?;
    let (from_checkpoint_seconds, _) = start()?;
    Ok(ReplayMeasure {
        events,
        log_bytes,
        seconds,
        checkpoint_seconds,
        from_checkpoint_seconds,
        peak_rss_bytes: crate::util::peak_rss_bytes(),
    })
}

/// Stores every segment of a suite directory under its file name, each after the
/// segments it names.
pub fn store_suite(service: &Service, dir: &Path) -> anyhow::Result<()> {
    let mut pending = read_suite(dir)?;
    while !pending.is_empty() {
        let before = pending.len();
        let mut waiting = Vec::new();
        for file in pending {
            let mut definition: serde_json::Value = serde_json::from_str(&file.text)?;
            definition["id"] = serde_json::Value::from(file.id.as_str());
            match crate::server::api::create_segment(service, &definition) {
                Ok(_) => {}
                Err(ServiceError::Invalid(e)) if e.kind == ErrorKind::UnknownSegment => {
                    waiting.push(file)
                }
                Err(e) => anyhow::bail!("{}: {e}", file.path.display()),
            }
        }
        anyhow::ensure!(
            waiting.len() < before,
            "segments {} name segments that are not in the suite",
            waiting
                .iter()
                .map(|f| f.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
        pending = waiting;
    }
    Ok(())
}

pub fn write_json<T: Serialize>(path: &Path, value: &T) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(value)? + "\n";
    std::fs::write(path, text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}
