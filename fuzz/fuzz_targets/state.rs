//! A state directory, as `serve --state` reads it at start: the saved segments, the event
//! log, the change feed, the data's fingerprint and a checkpoint's description and keys,
//! each taken from the input (sections split by a line `--8<-- NAME`), then a service
//! started over it: an error or a start, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use segmint::service::state::StateDir;

/// The files of a state directory the input may hold.
const FILES: [&str; 6] = [
    "segments.json",
    "events.log",
    "changes.log",
    "data.json",
    "checkpoint/checkpoint.json",
    "checkpoint/idempotency-keys.log",
];

fuzz_target!(|bytes: &[u8]| {
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, contents) in sections(bytes) {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).expect("dir");
        std::fs::write(path, contents).expect("write");
    }
    let Ok(state) = StateDir::open(dir.path()) else {
        return;
    };
    let _ = state.data_origin();
    let _ = segmint_fuzz::service(Some(state), false);
});

/// The input cut at lines `--8<-- N` (N a digit naming one of [`FILES`]); what precedes
/// the first cut is the saved segments.
fn sections(bytes: &[u8]) -> Vec<(&'static str, &[u8])> {
    const CUT: &[u8] = b"\n--8<-- ";
    let mut found = Vec::new();
    let mut name = FILES[0];
    let mut rest = bytes;
    loop {
        match rest.windows(CUT.len()).position(|w| w == CUT) {
            Some(at) => {
                found.push((name, &rest[..at]));
                let after = &rest[at + CUT.len()..];
                let digit = after.first().copied().unwrap_or(b'0');
                name = FILES[(digit as usize) % FILES.len()];
                rest = after.get(1..).unwrap_or(&[]);
            }
            None => {
                found.push((name, rest));
                return found;
            }
        }
    }
}
