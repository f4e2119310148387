//! Regression tests for the faults and hostile inputs of the hardening issue, each named
//! after what it found: what a public server must refuse or survive.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use segmint::server::ConnectionLimits;

use crate::http::{Options, Server};

fn connect(server: &Server) -> TcpStream {
    let stream = TcpStream::connect(server.base.trim_start_matches("http://")).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    stream
}

/// Reads until the server closes the connection; returns what it sent and how long the
/// close took from `since`.
fn read_until_closed(stream: &mut TcpStream, since: Instant) -> (String, Duration) {
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&buffer[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("the server kept the connection open past the read timeout: {e}"),
        }
    }
    (
        String::from_utf8_lossy(&answer).into_owned(),
        since.elapsed(),
    )
}

#[test]
fn connections_that_send_no_headers_in_time_are_closed() {
    let server = Server::start(Options {
        connections: ConnectionLimits {
            header_timeout: Duration::from_millis(700),
            ..ConnectionLimits::default()
        },
        ..Options::default()
    });

    // Connects and sends nothing.
    let mut silent = connect(&server);
    let (sent, took) = read_until_closed(&mut silent, Instant::now());
    assert!(took < Duration::from_secs(5), "closed after {took:?}");
    assert!(!sent.contains("200 OK"), "{sent}");

    // Sends headers a byte at a time, too slowly to finish.
    let mut slow = connect(&server);
    let started = Instant::now();
    let mut closed_early = false;
    for byte in b"GET /health HTTP/1.1\r\nHost: test\r\nX-Slow: 0123456789\r\n\r\n" {
        if slow.write_all(&[*byte]).is_err() {
            closed_early = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(150));
    }
    let (sent, took) = read_until_closed(&mut slow, started);
    assert!(
        closed_early || !sent.contains("200 OK"),
        "a request whose headers took {took:?} was served: {sent}"
    );

    // Asks once on a kept-alive connection, then stays idle.
    let mut idle = connect(&server);
    idle.write_all(b"GET /health HTTP/1.1\r\nHost: test\r\n\r\n")
        .unwrap();
    let started = Instant::now();
    let (sent, took) = read_until_closed(&mut idle, started);
    assert!(sent.starts_with("HTTP/1.1 200"), "{sent}");
    assert!(took < Duration::from_secs(5), "idle for {took:?}");

    // A client that asks in time is served.
    assert_eq!(server.get("/health").status, 200);
}

#[test]
fn connections_beyond_the_cap_wait_until_one_closes() {
    let server = Server::start(Options {
        connections: ConnectionLimits {
            header_timeout: Duration::from_secs(60),
            max_connections: 2,
        },
        ..Options::default()
    });
    let first = connect(&server);
    let _second = connect(&server);
    let mut third = connect(&server);
    third
        .write_all(b"GET /health HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
        .unwrap();
    third
        .set_read_timeout(Some(Duration::from_millis(1500)))
        .unwrap();
    let mut buffer = [0u8; 64];
    let early = third.read(&mut buffer);
    assert!(
        early.as_ref().is_err_and(|e| matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        )),
        "a third connection was served while two were open: {early:?}"
    );

    drop(first);
    third
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let (sent, _) = read_until_closed(&mut third, Instant::now());
    assert!(sent.starts_with("HTTP/1.1 200"), "{sent}");
}

#[test]
fn rfc_3339_offsets_are_taken_in_events_and_conditions() {
    use serde_json::json;
    let server = Server::start(Options::default());
    // 12:00 UTC, written at +05:30; the window is written at +00:00 and -01:00.
    let view = json!([{"type": "product_viewed", "visitor_id": 990_002, "product_id": 100,
        "website_id": 1, "viewed_at": "2026-10-31T17:30:00+05:30"}]);
    server.post_json("/events", &view).ok_json();
    let segment = json!({"name": "Viewed product 100 at noon UTC", "websites": [1],
        "apply_to": "visitors",
        "conditions": {"has": "product_view", "where": {"all": [
            {"field": "product.product_id", "op": "eq", "value": 100},
            {"field": "product_view.viewed_at", "op": "between",
             "value": ["2026-10-31T11:59:59+00:00", "2026-10-31T11:00:01-01:00"]}]}}});
    let id = server.create(&segment);
    let segments = server.get("/visitors/990002/segments").ok_json();
    assert_eq!(segments["segments"], json!([id]));

    // An offset that is not RFC 3339 is still refused, with where and why.
    let mut bad = segment.clone();
    bad.as_object_mut().unwrap().remove("name");
    bad["conditions"]["where"]["all"][1]["value"][0] = json!("2026-10-31T11:59:59+0530");
    let problem = server.post_json("/estimate", &bad).problem(422);
    assert!(
        problem["detail"].as_str().unwrap().contains("+0530"),
        "{problem}"
    );
    assert_eq!(
        problem["pointer"], "/conditions/where/all/1/value/0",
        "{problem}"
    );
}

#[test]
fn duplicate_json_keys_are_refused_with_a_pointer() {
    let server = Server::start(Options::default());
    let cases = [
        (
            "/segments",
            r#"{"name": "x", "websites": [1], "conditions": {"field": "customer.group_id", "op": "eq", "value": 1, "value": 2}}"#,
            "/conditions/value",
        ),
        (
            "/segments",
            r#"{"id": "a", "name": "x", "id": "b", "websites": [1], "conditions": {"all": []}}"#,
            "/id",
        ),
        (
            "/estimate",
            r#"{"websites": [1], "conditions": {"any": [{"all": []}, {"field": "customer.group_id", "op": "eq", "op": "ne", "value": 1}]}}"#,
            "/conditions/any/1/op",
        ),
        (
            "/events",
            r#"[{"type": "product_viewed", "visitor_id": 990003, "product_id": 100, "website_id": 1, "viewed_at": "2026-10-31T12:00:00Z", "viewed_at": "2026-10-30T12:00:00Z"}]"#,
            "/0/viewed_at",
        ),
        (
            "/segments",
            r#"{"name": "x", "websites": [1], "conditions": {"all": []}, "a~b/c": 1, "a~b/c": 2}"#,
            "/a~0b~1c",
        ),
    ];
    let segments_before = server.get("/segments").text;
    let health_before = server.get("/health").text;
    for (path, body, pointer) in cases {
        let problem = server.post(path, body).problem(422);
        assert_eq!(problem["pointer"], pointer, "{path} {body}: {problem}");
        assert!(
            problem["detail"].as_str().unwrap().contains("twice"),
            "{problem}"
        );
    }
    assert_eq!(server.get("/segments").text, segments_before);
    assert_eq!(server.get("/health").text, health_before);
    assert_eq!(server.get("/visitors/990003/segments").status, 404);
}

proptest::proptest! {
    /// Without duplicate keys, the strict reader reads exactly what serde_json reads.
    #[test]
    fn json_without_duplicate_keys_reads_as_serde_json_reads_it(value in json_value()) {
        let text = value.to_string();
        let read = segmint::segment::definition::parse_json(text.as_bytes());
        let expected: serde_json::Value = serde_json::from_str(&text).unwrap();
        proptest::prop_assert_eq!(read.ok(), Some(expected));
    }
}

fn json_value() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
    use proptest::prelude::*;
    use serde_json::Value as Json;
    let leaf = prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::Bool),
        any::<i64>().prop_map(|n| Json::Number(n.into())),
        any::<u64>().prop_map(|n| Json::Number(n.into())),
        (-1e9f64..1e9)
            .prop_map(|x| serde_json::Number::from_f64(x).map_or(Json::Null, Json::Number)),
        ".{0,8}".prop_map(Json::String),
    ];
    leaf.prop_recursive(4, 40, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Json::Array),
            proptest::collection::btree_map(".{0,6}", inner, 0..6)
                .prop_map(|m| Json::Object(m.into_iter().collect())),
        ]
    })
}

#[test]
fn visitor_logged_in_of_an_unknown_visitor_is_refused() {
    use serde_json::json;
    let server = Server::start(Options::default());
    let customer = crate::common::load(crate::http::data())
        .customer_ids()
        .value(0);
    let view = json!([{"type": "product_viewed", "visitor_id": 990_010, "product_id": 100,
        "website_id": 1, "viewed_at": "2026-10-31T12:00:00Z"}]);
    server.post_json("/events", &view).ok_json();
    let login =
        json!([{"type": "visitor_logged_in", "visitor_id": 990_010, "customer_id": customer}]);
    server.post_json("/events", &login).ok_json();
    assert_eq!(server.get("/visitors/990010/segments").status, 404);
    // Logged in already: no records left, as unknown as one never seen.
    let again = server.post_json("/events", &login).problem(422);
    assert_eq!(again["pointer"], "/0/visitor_id", "{again}");
    assert!(
        again["detail"]
            .as_str()
            .unwrap()
            .contains("visitor 990010 does not exist"),
        "{again}"
    );
    let never =
        json!([{"type": "visitor_logged_in", "visitor_id": 990_011, "customer_id": customer}]);
    server.post_json("/events", &never).problem(422);
    let metrics = server.get("/metrics").text;
    assert!(
        metrics.contains("segmint_events_applied_total 2"),
        "only the view and the first login were applied: {metrics}"
    );
}

#[test]
fn in_segment_of_a_segment_for_other_subjects_is_refused() {
    use serde_json::json;
    let server = Server::start(Options::default());
    let segment = |name: &str, apply_to: &str, conditions: serde_json::Value| json!({"name": name, "websites": [1, 2], "apply_to": apply_to, "conditions": conditions});
    let group = json!({"field": "customer.group_id", "op": "eq", "value": 1});
    let viewed = json!({"has": "product_view"});
    server.create(&json!({"id": "registered", "name": "r", "websites": [1, 2],
        "apply_to": "registered", "conditions": group}));
    server.create(&json!({"id": "viewers", "name": "v", "websites": [1, 2],
        "apply_to": "visitors", "conditions": viewed}));
    server.create(&json!({"id": "anyone", "name": "b", "websites": [1, 2],
        "apply_to": "both", "conditions": viewed}));
    let before = server.get("/segments").text;
    for (apply_to, named) in [("visitors", "registered"), ("registered", "viewers")] {
        let bad = segment("x", apply_to, json!({"not": {"in_segment": named}}));
        let problem = server.post_json("/segments", &bad).problem(422);
        assert_eq!(
            problem["pointer"], "/conditions/not/in_segment",
            "{problem}"
        );
        assert!(
            problem["detail"]
                .as_str()
                .unwrap()
                .contains("no subject can be in both"),
            "{problem}"
        );
        let mut estimate = bad.clone();
        estimate.as_object_mut().unwrap().remove("name");
        server.post_json("/estimate", &estimate).problem(422);
    }
    assert_eq!(server.get("/segments").text, before);
    // A segment for both shares subjects with either.
    for apply_to in ["visitors", "registered"] {
        let good = segment("y", apply_to, json!({"in_segment": "anyone"}));
        let mut estimate = good.clone();
        estimate.as_object_mut().unwrap().remove("name");
        server.post_json("/estimate", &estimate).ok_json();
    }
    // Narrowing a segment that a visitors' segment names would leave that one always empty.
    server.create(&segment(
        "narrowed",
        "visitors",
        json!({"in_segment": "anyone"}),
    ));
    let narrowed = segment("b", "registered", viewed.clone());
    let refused = server.put("/segments/anyone", &narrowed.to_string());
    assert_eq!(refused.status, 422, "{}", refused.text);
}

#[test]
fn report_paging_is_given_once_and_with_its_type() {
    use serde_json::json;
    let server = Server::start(Options::default());
    server.create(&json!({"id": "group_1", "name": "g", "websites": [1, 2],
        "apply_to": "registered",
        "conditions": {"field": "customer.group_id", "op": "eq", "value": 1}}));
    let report = json!({"segments": ["group_1"], "limit": 5});
    assert_eq!(
        server.post_json("/report", &report).ok_json()["members"]
            .as_array()
            .map(Vec::len),
        Some(5)
    );
    assert_eq!(
        server
            .post("/report?limit=3", r#"{"segments": ["group_1"]}"#)
            .ok_json()["members"]
            .as_array()
            .map(Vec::len),
        Some(3)
    );
    // Both places: which one was meant is unknown.
    let conflict = server.post_json("/report?limit=3", &report).problem(422);
    assert_eq!(conflict["pointer"], "/limit", "{conflict}");
    assert!(
        conflict["detail"]
            .as_str()
            .unwrap()
            .contains("both in the query and in the body")
    );
    // A body's limit is a number, not a string; its format and cursor are strings.
    for (body, pointer) in [
        (json!({"segments": ["group_1"], "limit": "5"}), "/limit"),
        (json!({"segments": ["group_1"], "format": 1}), "/format"),
        (json!({"segments": ["group_1"], "after": 12}), "/after"),
    ] {
        let problem = server.post_json("/report", &body).problem(422);
        assert_eq!(problem["pointer"], pointer, "{problem}");
    }
    // In the query every value is text: limit=5 there is a number.
    let problem = server
        .post("/report?limit=five", r#"{"segments": ["group_1"]}"#)
        .problem(400);
    assert_eq!(problem["parameter"], "limit", "{problem}");
}

#[test]
fn what_get_answers_for_a_segment_can_be_put_back() {
    use serde_json::json;
    let server = Server::start(Options::default());
    server.create(
        &json!({"id": "wholesale", "name": "Wholesale", "websites": [1, 2],
        "apply_to": "registered",
        "conditions": {"field": "customer.group_id", "op": "in", "value": [2, 3]}}),
    );
    let mut stored = server.get("/segments/wholesale").ok_json();
    for key in [
        "count",
        "refreshed_at",
        "universe",
        "as_of",
        "elapsed_ms",
        "description",
    ] {
        assert!(stored.get(key).is_some(), "GET answers {key}: {stored}");
    }
    stored["name"] = json!("Wholesale (renamed)");
    let put = server
        .put("/segments/wholesale", &stored.to_string())
        .ok_json();
    assert_eq!(put["name"], "Wholesale (renamed)");
    assert_eq!(put["count"], stored["count"]);
    // The id in the body must still match the path; and the definition's own keys are
    // still checked.
    stored["id"] = json!("other");
    server
        .put("/segments/wholesale", &stored.to_string())
        .problem(422);
    stored["id"] = json!("wholesale");
    stored["colour"] = json!("red");
    let unknown = server
        .put("/segments/wholesale", &stored.to_string())
        .problem(422);
    assert_eq!(unknown["pointer"], "/colour", "{unknown}");
}

#[test]
fn websites_nobody_is_on_are_accepted_with_a_warning() {
    use serde_json::json;
    let server = Server::start(Options::default());
    let conditions = json!({"field": "customer.group_id", "op": "eq", "value": 1});
    let estimate = |websites: serde_json::Value| {
        server
            .post_json(
                "/estimate",
                &json!({"websites": websites, "conditions": conditions}),
            )
            .ok_json()
    };
    let known = estimate(json!([1, 2]));
    assert!(known.get("warnings").is_none(), "{known}");
    let typo = estimate(json!([1, 77]));
    assert_eq!(typo["count"], estimate(json!([1]))["count"], "{typo}");
    let warnings = typo["warnings"].as_array().expect("a warning");
    assert_eq!(warnings.len(), 1, "{typo}");
    assert!(
        warnings[0].as_str().unwrap().contains("website 77"),
        "{typo}"
    );
    let created = server.post_json(
        "/segments",
        &json!({"name": "typo", "websites": [77], "conditions": conditions}),
    );
    assert_eq!(created.status, 201, "{}", created.text);
    assert!(
        created.json()["warnings"][0]
            .as_str()
            .unwrap()
            .contains("website 77")
    );
    let id = created.json()["id"].clone();
    assert!(
        server
            .get(&format!("/segments/{id}"))
            .ok_json()
            .get("warnings")
            .is_none()
    );
    // Once a customer is on website 77, it is a website like any other.
    let customer = json!([{"type": "customer_upserted", "customer_id": 990_077,
        "website_id": 77, "group_id": 1, "email": "new@shop.test"}]);
    server.post_json("/events", &customer).ok_json();
    let now = estimate(json!([77]));
    assert!(now.get("warnings").is_none(), "{now}");
    assert_eq!(now["count"], 1);
}

#[test]
fn path_ids_that_are_not_text_are_unknown_segments_or_bad_ids() {
    let server = Server::start(Options::default());
    for path in ["/segments/%ff", "/segments/%ff/members", "/segments/a%c3"] {
        let problem = server.get(path).problem(404);
        assert_eq!(problem["parameter"], "id", "{path}: {problem}");
    }
    server.delete("/segments/%ff").problem(404);
    server.post("/segments/%ff/refresh", "").problem(404);
    server
        .put(
            "/segments/%ff",
            r#"{"name": "x", "websites": [1], "conditions": {"all": []}}"#,
        )
        .problem(404);
    for (path, parameter) in [
        ("/customers/%ff/segments", "customer_id"),
        ("/visitors/%fe/segments", "visitor_id"),
    ] {
        let problem = server.get(path).problem(400);
        assert_eq!(problem["parameter"], parameter, "{path}: {problem}");
    }
}

#[test]
fn retried_event_lists_are_applied_once() {
    use serde_json::json;
    let state = tempfile::tempdir().unwrap();
    let viewers = |id: &str, views: u32| {
        json!({"id": id, "name": id, "websites": [1], "apply_to": "visitors",
            "conditions": {"aggregate": "count", "of": "product_view", "op": "gte",
                "value": views, "where": {"field": "product.product_id", "op": "eq", "value": 100}}})
    };
    let view = |visitor: u64| {
        json!([{"type": "product_viewed", "visitor_id": visitor, "product_id": 100,
            "website_id": 1, "viewed_at": "2026-10-31T12:00:00Z"}])
    };
    let segments_of = |server: &Server, visitor: u64| {
        server
            .get(&format!("/visitors/{visitor}/segments"))
            .ok_json()["segments"]
            .clone()
    };
    let send = |server: &Server, key: &str, list: &serde_json::Value| {
        server.post_with("/events", ("Idempotency-Key", key), list)
    };
    let without_time = |mut answer: serde_json::Value| {
        answer.as_object_mut().unwrap().remove("elapsed_ms");
        answer
    };
    let first = {
        let server = Server::start(Options {
            state: Some(state.path()),
            // Every list is folded and written as a checkpoint, which replaces the log.
            checkpoint_after_events: 1,
            ..Options::default()
        });
        server.create(&viewers("once", 1));
        server.create(&viewers("twice", 2));
        let first = send(&server, "retry-1", &view(990_020));
        let answer = without_time(first.ok_json());
        assert_eq!(answer["applied"], 1);
        assert!(!first.headers.contains_key("idempotent-replayed"));
        let again = send(&server, "retry-1", &view(990_020));
        assert_eq!(without_time(again.ok_json()), answer);
        assert_eq!(again.headers["idempotent-replayed"], "true");
        assert_eq!(segments_of(&server, 990_020), json!(["once"]));
        // The key names that list: another is refused, and not applied.
        let other = send(&server, "retry-1", &view(990_021)).problem(422);
        assert_eq!(other["type"], "urn:segmint:problem:idempotency-key-reused");
        assert_eq!(server.get("/visitors/990021/segments").status, 404);
        let bad = send(&server, "two words", &view(990_021)).problem(400);
        assert!(bad["detail"].as_str().unwrap().contains("Idempotency-Key"));
        server.service.finish_background_work(true);
        assert!(state.path().join("checkpoint").is_dir());
        answer
    };
    let restart = || {
        Server::start(Options {
            state: Some(state.path()),
            ..Options::default()
        })
    };
    // Sent again under `key`: the first answer, marked as such.
    let answered_again = |server: &Server, key: &str, answer: &serde_json::Value| {
        let again = send(server, key, &view(990_020));
        assert_eq!(&without_time(again.ok_json()), answer, "{key}");
        assert_eq!(again.headers["idempotent-replayed"], "true", "{key}");
    };
    // Restarted from the checkpoint: the key is still known.
    let server = restart();
    answered_again(&server, "retry-1", &first);
    assert_eq!(segments_of(&server, 990_020), json!(["once"]));
    // Keyed lists in the log after the checkpoint are known after a restart too.
    let logged = without_time(send(&server, "retry-2", &view(990_020)).ok_json());
    assert_eq!(segments_of(&server, 990_020), json!(["once", "twice"]));
    drop(server);
    let server = restart();
    answered_again(&server, "retry-2", &logged);
    answered_again(&server, "retry-1", &first);
    assert_eq!(segments_of(&server, 990_020), json!(["once", "twice"]));
}
