//! Lists of events, as `POST /events` takes them: parsed, applied to a service with
//! stored segments (which are matched again), all or none.
#![no_main]

use libfuzzer_sys::fuzz_target;
use segmint::segment::definition::parse_json;

fuzz_target!(|bytes: &[u8]| {
    let Ok(json) = parse_json(bytes) else {
        return;
    };
    // A service of its own for each list: what a list meets does not depend on the lists
    // before it, so that every finding reproduces from its input alone.
    let service = segmint_fuzz::service(None, true).expect("the service starts");
    let before = service.snapshot().customer_count();
    match service.parse_events(json) {
        Ok(list) => {
            let _ = service.apply_events(list);
        }
        Err(_) => assert_eq!(service.snapshot().customer_count(), before),
    }
});
