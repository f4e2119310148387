//! The strict JSON reader of every request body: within its limits it reads what
//! serde_json reads, refuses duplicate keys, and never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use segmint::segment::definition::parse_json;

fuzz_target!(|bytes: &[u8]| {
    if let Ok(ours) = parse_json(bytes) {
        let theirs: serde_json::Value =
            serde_json::from_slice(bytes).expect("what the strict reader takes is JSON");
        assert_eq!(ours, theirs);
    }
});
