//! What the fuzz targets share: a small generated store, loaded once, and a service over
//! it with segments that read every relation, so that applied events are matched.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use segmint::data::generate::{GenerateOptions, OutputFormat, generate};
use segmint::data::{LoadOptions, load_dataset};
use segmint::segment::Engine;
use segmint::service::clock::ManualClock;
use segmint::service::state::StateDir;
use segmint::service::{Service, ServiceOptions};
use segmint::store::Dataset;
use tempfile::TempDir;

/// The store's reference time: what the segments' relative dates count from.
pub const NOW_MICROS: i64 = 1_793_448_000_000_000; // 2026-10-31T12:00:00Z

/// A generated store of a few customers, as files of `format` (generated once).
pub fn store_files(format: OutputFormat) -> &'static Path {
    static CSV: OnceLock<TempDir> = OnceLock::new();
    static PARQUET: OnceLock<TempDir> = OnceLock::new();
    let cell = match format {
        OutputFormat::Csv => &CSV,
        OutputFormat::Parquet => &PARQUET,
    };
    cell.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        generate(&GenerateOptions {
            customers: 40,
            seed: 7,
            format,
            out: dir.path().to_path_buf(),
            progress: false,
            reference_time: None,
            overwrite: false,
        })
        .expect("generate");
        dir
    })
    .path()
}

/// The generated store, loaded.
pub fn store() -> Arc<Dataset> {
    static STORE: OnceLock<Arc<Dataset>> = OnceLock::new();
    STORE
        .get_or_init(|| {
            let (dataset, _) =
                load_dataset(store_files(OutputFormat::Parquet), &LoadOptions::default())
                    .expect("load");
            Arc::new(dataset)
        })
        .clone()
}

/// Segments over customers and visitors that read attributes, every relation and an
/// aggregate, so that events move members.
pub const SEGMENTS: [&str; 4] = [
    r#"{"id": "group", "name": "group", "websites": [1, 2], "conditions": {"field": "customer.group_id", "op": "eq", "value": 1}}"#,
    r#"{"id": "spent", "name": "spent", "websites": [1, 2], "apply_to": "registered", "conditions": {"aggregate": "sum", "of": "order.grand_total", "op": "gte", "value": 100, "where": {"field": "order.status", "op": "eq", "value": "complete"}}}"#,
    r#"{"id": "viewers", "name": "viewers", "websites": [1, 2], "apply_to": "both", "conditions": {"any": [{"has": "product_view"}, {"has": "cart_item"}, {"has": "wishlist_item"}]}}"#,
    r#"{"id": "germans", "name": "germans", "websites": [1, 2], "conditions": {"all": [{"has": "address", "where": {"field": "address.country_id", "op": "eq", "value": "DE"}}, {"not": {"in_segment": "group"}}]}}"#,
];

/// A service over the store and the state directory given; with `segments`, the
/// [`SEGMENTS`] stored.
pub fn service(
    state: Option<StateDir>,
    segments: bool,
) -> Result<Service, segmint::service::ServiceError> {
    let service = Service::start(
        Arc::new(Engine::new(store())),
        ServiceOptions {
            clock: Arc::new(ManualClock::new(NOW_MICROS)),
            state,
            time_limit: Some(std::time::Duration::from_millis(500)),
            checkpoint_after_events: segmint::service::CHECKPOINT_AFTER_EVENTS,
            engine_from_checkpoint: false,
            changes_kept: 1_000,
        },
    )?;
    if segments {
        for text in SEGMENTS {
            let body = serde_json::from_str(text).expect("a segment");
            segmint::server::api::create_segment(&service, &body).expect("the segments fit");
        }
    }
    Ok(service)
}
