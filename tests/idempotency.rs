//! Idempotency keys of `POST /events`: what a key is, and how long and how many are
//! remembered (the server's side is in `hardening::retried_event_lists_are_applied_once`).

use segmint::events::idempotency::*;
use segmint::model::{MembershipChange, SegmentKey, SubjectId};
use serde_json::Value as Json;

fn key(name: &str, list: &str) -> IdempotencyKey {
    IdempotencyKey::new(name, &serde_json::from_str(list).unwrap()).unwrap()
}

fn applied(key: IdempotencyKey, at: i64) -> RememberedList {
    RememberedList {
        key,
        at,
        applied: 1,
        changes: vec![MembershipChange {
            segment: SegmentKey::Number(3),
            subject: SubjectId::Customer(7),
            entered: true,
        }],
    }
}

#[test]
fn a_key_is_answered_again_in_use_or_refused_for_another_list() {
    let mut remembered = Remembered::default();
    let first = key("k1", r#"[{"a": 1, "b": 2}]"#);
    assert!(matches!(remembered.begin(&first, 0), Begin::New));
    assert!(matches!(remembered.begin(&first, 0), Begin::InUse));
    remembered.remember(applied(first.clone(), 0), 0);
    // The same list written with other spacing and key order is the same list.
    let again = key("k1", r#"[ {"b":2,"a":1} ]"#);
    assert!(matches!(remembered.begin(&again, 1), Begin::Applied(list) if list.applied == 1));
    let other = key("k1", r#"[{"a": 1}]"#);
    assert!(matches!(remembered.begin(&other, 1), Begin::OtherList));
    // A refused list frees its key.
    let refused = key("k2", "[]");
    assert!(matches!(remembered.begin(&refused, 1), Begin::New));
    remembered.abandon(&refused);
    assert!(matches!(remembered.begin(&refused, 1), Begin::New));
}

#[test]
fn keys_are_forgotten_after_a_day_and_past_the_most_kept() {
    let mut remembered = Remembered::default();
    remembered.remember(applied(key("old", "[]"), 0), 0);
    assert!(matches!(
        remembered.begin(&key("old", "[]"), KEPT_FOR - 1),
        Begin::Applied(_)
    ));
    assert!(matches!(
        remembered.begin(&key("old", "[]"), KEPT_FOR),
        Begin::New
    ));
    let mut remembered = Remembered::default();
    for n in 0..KEPT_AT_MOST + 5 {
        remembered.remember(applied(key(&format!("k{n}"), "[]"), 0), 0);
    }
    assert_eq!(remembered.len(), KEPT_AT_MOST);
    assert!(matches!(remembered.begin(&key("k4", "[]"), 0), Begin::New));
    assert!(matches!(
        remembered.begin(&key("k5", "[]"), 0),
        Begin::Applied(_)
    ));
}

#[test]
fn keys_are_refused_empty_long_or_invisible() {
    let list = Json::Array(vec![]);
    assert!(IdempotencyKey::new("", &list).is_err());
    assert!(IdempotencyKey::new(&"x".repeat(MAX_KEY_LENGTH + 1), &list).is_err());
    assert!(IdempotencyKey::new("a b", &list).is_err());
    assert!(IdempotencyKey::new("é", &list).is_err());
    assert!(IdempotencyKey::new(&"x".repeat(MAX_KEY_LENGTH), &list).is_ok());
}

#[test]
fn the_keys_file_reads_back_what_was_written() {
    let dir = tempfile::tempdir().unwrap();
    let lists = vec![applied(key("a", "[1]"), 5), applied(key("b", "[2]"), 6)];
    write_file(dir.path(), &lists).unwrap();
    assert_eq!(read_file(dir.path()).unwrap(), lists);
    assert_eq!(read_file(&dir.path().join("none")).unwrap(), vec![]);
}
