//! The built-in demo: what `segmint serve` (and `segmint load`) use when no data is given.
//! A generated store small enough to start in seconds, dated up to today so that relative
//! conditions ("in the last 7 days") find members, and example segments from the suite.

use std::path::Path;

use crate::data::generate::{GenerateOptions, OutputFormat, generate};
use crate::data::value::MICROS_PER_DAY;
use crate::service::{Service, ServiceError};

/// Customers in the demo store: large enough to be interesting, small enough to be made
/// and loaded in a second or two.
pub const DEMO_CUSTOMERS: u64 = 20_000;

macro_rules! example {
    ($id:literal) => {
        (
            $id,
            include_str!(concat!("../benches/segments/", $id, ".json")),
        )
    };
}

/// Example segments (id, definition), each after the segments it names.
pub const EXAMPLES: [(&str, &str); 7] = [
    example!("attributes_wholesale"),
    example!("spent_500_complete"),
    example!("big_spender_wholesale"),
    example!("address_germany_billing"),
    example!("cart_big"),
    example!("viewed_not_bought"),
    example!("visitor_abandoners"),
];

/// Writes the demo store to `dir`, with dates up to the start of today (UTC).
pub fn generate_demo(dir: &Path, now_micros: i64) -> anyhow::Result<()> {
    let today = now_micros.div_euclid(MICROS_PER_DAY) * MICROS_PER_DAY;
    generate(&GenerateOptions {
        customers: DEMO_CUSTOMERS,
        seed: 1,
        format: OutputFormat::Parquet,
        out: dir.to_path_buf(),
        progress: true,
        reference_time: Some(today),
        overwrite: false,
    })?;
    Ok(())
}

/// Stores the example segments that are not stored yet.
pub fn store_examples(service: &Service) -> Result<usize, ServiceError> {
    let mut stored = 0;
    for (id, text) in EXAMPLES {
        if service.snapshot().segment(id).is_ok() {
            continue;
        }
        let mut definition: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| ServiceError::Engine(format!("example {id}: {e}")))?;
        definition["id"] = serde_json::Value::from(id);
        crate::server::api::create_segment(service, &definition)?;
        stored += 1;
    }
    Ok(stored)
}
