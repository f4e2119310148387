//! Criterion benchmarks of the hot paths, over one dataset:
//!
//! - `evaluate/<segment>`: every suite segment (`benches/segments/*.json`), the whole plan
//!   each iteration (indexes are built by a first evaluation before timing; results are
//!   never kept);
//! - `index/...`: a column index lookup (an equality and a date range over orders);
//! - `aggregate/...`: aggregates alone, with and without a `where`;
//! - `lookup/...`: the segments one customer is in, with the suite and 82 more stored;
//! - `event/...`: one event applied through the service, with those 100 segments stored.
//!
//! The dataset is `SEGMINT_BENCH_DATA` when set (e.g. a generated M), else a generated S
//! (100,000 customers, seed 1) in a temporary directory; times are at its reference time.
//! `cargo bench --bench suite [-- FILTER]`.

use std::path::PathBuf;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use segmint::bench::suite::{SegmentDir, read_suite};
use segmint::bench::worker::store_suite;
use segmint::data::generate::{GenerateOptions, OutputFormat, generate};
use segmint::data::{LoadOptions, load_dataset};
use segmint::segment::Engine;
use segmint::segment::index::ColumnIndex;
use segmint::segment::predicate::Test;
use segmint::service::clock::ManualClock;
use segmint::service::{Service, ServiceOptions};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SUITE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/segments");

fn hot_paths(c: &mut Criterion) {
    let mut temp = None;
    let dir = match std::env::var_os("SEGMINT_BENCH_DATA") {
        Some(dir) => PathBuf::from(dir),
        None => {
            let dir = temp
                .insert(tempfile::tempdir().expect("temp dir"))
                .path()
                .to_path_buf();
            generate(&GenerateOptions {
                customers: 100_000,
                seed: 1,
                format: OutputFormat::Parquet,
                out: dir.clone(),
                progress: false,
                reference_time: None,
                overwrite: false,
            })
            .expect("generate S");
            dir
        }
    };
    let (dataset, _) = load_dataset(&dir, &LoadOptions::default()).expect("load");
    let as_of = dataset
        .reference_time
        .expect("generated data has a reference time");
    let engine = Arc::new(Engine::new(Arc::new(dataset)));
    let suite_dir = PathBuf::from(SUITE);
    let source = SegmentDir {
        dir: Some(suite_dir.clone()),
        engine: &engine,
    };

    let mut group = c.benchmark_group("evaluate");
    group.sample_size(20);
    for file in read_suite(&suite_dir).expect("suite") {
        let segment = engine.parse(&file.text).expect("valid");
        let id = file.id.as_str();
        engine
            .evaluate(&segment, Some(id), as_of, &source)
            .expect("evaluates");
        group.bench_function(id, |b| {
            b.iter(|| {
                engine
                    .evaluate(&segment, Some(id), as_of, &source)
                    .expect("evaluates")
            })
        });
    }
    group.finish();

    let mut group = c.benchmark_group("index");
    let orders = &engine.dataset().orders.table;
    let status = ColumnIndex::build(orders.column("status").expect("status"));
    let created = ColumnIndex::build(orders.column("created_at").expect("created_at"));
    let complete = Test::Text {
        matcher: segmint::segment::predicate::TextMatcher::Equals(vec!["complete".to_string()]),
        negate: false,
    };
    let last_30_days = Test::Ranges {
        ranges: vec![(as_of - 30 * 86_400_000_000, i64::MAX)],
        negate: false,
    };
    group.bench_function("order status eq complete", |b| {
        b.iter(|| status.select(&complete))
    });
    group.bench_function("order created_at in last 30 days", |b| {
        b.iter(|| created.select(&last_30_days))
    });
    group.finish();

    let mut group = c.benchmark_group("aggregate");
    group.sample_size(20);
    for (name, text) in [
        (
            "count of orders",
            r#"{"name":"a","websites":[1,2],"apply_to":"registered","conditions":{"aggregate":"count","of":"order","op":"gte","value":3}}"#,
        ),
        (
            "sum of complete orders",
            r#"{"name":"a","websites":[1,2],"apply_to":"registered","conditions":{"aggregate":"sum","of":"order.grand_total","op":"gte","value":500,"where":{"field":"order.status","op":"eq","value":"complete"}}}"#,
        ),
        (
            "max order date",
            r#"{"name":"a","websites":[1,2],"apply_to":"registered","conditions":{"aggregate":"max","of":"order.created_at","op":"in_last_days","value":90}}"#,
        ),
    ] {
        let segment = engine.parse(text).expect("valid");
        engine
            .evaluate(&segment, None, as_of, &source)
            .expect("evaluates");
        group.bench_function(name, |b| {
            b.iter(|| {
                engine
                    .evaluate(&segment, None, as_of, &source)
                    .expect("evaluates")
            })
        });
    }
    group.finish();

    let service = Service::start(
        engine.clone(),
        ServiceOptions {
            clock: Arc::new(ManualClock::new(as_of)),
            state: None,
            time_limit: None,
            checkpoint_after_events: segmint::service::CHECKPOINT_AFTER_EVENTS,
            engine_from_checkpoint: false,
            changes_kept: segmint::feed::DEFAULT_KEPT,
        },
    )
    .expect("service");
    store_suite(&service, &suite_dir).expect("suite stored");
    for i in 0..82 {
        let definition = serde_json::json!({"name": format!("credit {i}"), "websites": [1, 2],
            "apply_to": "registered",
            "conditions": {"field": "customer.store_credit", "op": "gte", "value": i}});
        segmint::server::api::create_segment(&service, &definition).expect("stored");
    }
    let snapshot = service.snapshot();
    let customers = engine.dataset().customer_count() as u32;
    let mut group = c.benchmark_group("lookup");
    let mut next = 0u32;
    group.bench_function("segments of one customer, 100 stored", |b| {
        b.iter(|| {
            next = (next + 7919) % customers;
            snapshot.segments_of(next, None).len()
        })
    });
    group.finish();

    let customer_ids = engine.dataset().customer_ids();
    let websites = engine
        .dataset()
        .customers
        .ints("website_id")
        .expect("website_id");
    let viewed_at = segmint::data::value::format_timestamp(as_of);
    let mut group = c.benchmark_group("event");
    // Each event rebuilds the data (see the README): seconds at S, so few samples.
    group.sample_size(10);
    let mut next = 0usize;
    group.bench_function("one product view, 100 segments stored", |b| {
        b.iter(|| {
            next = (next + 7919) % customer_ids.len();
            let event = serde_json::json!([{"type": "product_viewed",
                "customer_id": customer_ids.value(next), "product_id": 1,
                "website_id": websites.value(next), "viewed_at": viewed_at}]);
            let list = service.parse_events(event).expect("parses");
            service.apply_events(list).expect("applies").changes.len()
        })
    });
    group.finish();
}

criterion_group!(benches, hot_paths);
criterion_main!(benches);
