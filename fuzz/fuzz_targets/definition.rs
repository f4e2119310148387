//! Segment definitions, as `POST /segments` and `/estimate` take them: parsed against
//! the store's schema and, when they fit, evaluated (within a time limit).
#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use segmint::segment::{Engine, NoSegments};

fuzz_target!(|bytes: &[u8]| {
    static ENGINE: std::sync::OnceLock<Engine> = std::sync::OnceLock::new();
    let engine = ENGINE.get_or_init(|| Engine::new(segmint_fuzz::store()));
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    if let Ok(segment) = engine.parse(text) {
        let deadline = Instant::now() + Duration::from_millis(500);
        let _ = engine.evaluate_until(
            &segment,
            None,
            segmint_fuzz::NOW_MICROS,
            &NoSegments,
            Some(deadline),
        );
    }
});
