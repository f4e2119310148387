//! The change feed: numbering, pages and retention; the feed file (reopened, rotated,
//! cut at a torn end, completed from the event log); every cause of a change, followed
//! from the start to the members the segments have; `GET /changes` as JSON pages and as
//! Server-Sent Events.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::sync::Arc;
use std::time::Duration;

use segmint::data::value::parse_instant;
use segmint::feed::{Batch, Cause, ChangeFeed, FeedError};
use segmint::model::{MembershipChange, SegmentKey, SubjectId};
use segmint::segment::Engine;
use segmint::service::clock::ManualClock;
use segmint::service::state::StateDir;
use segmint::service::{Service, ServiceOptions};
use serde_json::{Value as Json, json};

use crate::http::{Options, Server};

const DAY: i64 = 86_400_000_000;

fn moved(segment: &str, customer: i64, entered: bool) -> MembershipChange {
    MembershipChange {
        segment: SegmentKey::of(segment),
        subject: SubjectId::Customer(customer),
        entered,
    }
}

fn commit(feed: &ChangeFeed, at: i64, changes: &[MembershipChange]) -> Vec<Batch> {
    let mut publishing = feed.publishing();
    let batches = publishing.number(Cause::Event, at, changes);
    publishing.commit(batches.clone(), false).unwrap();
    batches
}

fn seqs(feed: &ChangeFeed, after: u64, limit: usize, segment: Option<&str>) -> (Vec<u64>, u64) {
    let segment = segment.map(SegmentKey::of);
    let page = feed.page(after, limit, segment.as_ref()).unwrap();
    (page.changes.iter().map(|c| c.seq).collect(), page.next)
}

#[test]
fn changes_are_numbered_in_order_paged_and_the_latest_kept() {
    let feed = ChangeFeed::in_memory(5);
    let batches = commit(
        &feed,
        7,
        &[
            moved("a", 1, true),
            moved("a", 2, true),
            moved("a", 3, true),
        ],
    );
    assert_eq!((batches.len(), batches[0].first), (1, 1));
    let batches = commit(&feed, 8, &[moved("a", 1, false), moved("b", 1, true)]);
    assert_eq!(
        batches.iter().map(|b| b.first).collect::<Vec<_>>(),
        [4, 5],
        "one batch per segment"
    );
    assert_eq!(seqs(&feed, 0, 10, None), (vec![1, 2, 3, 4, 5], 5));
    assert_eq!(seqs(&feed, 0, 2, None), (vec![1, 2], 2));
    assert_eq!(seqs(&feed, 2, 2, None), (vec![3, 4], 4));
    // One segment's changes; the cursor moves past the others read over.
    assert_eq!(seqs(&feed, 0, 10, Some("b")), (vec![5], 5));
    assert_eq!(seqs(&feed, 0, 1, Some("a")), (vec![1], 1));
    assert_eq!(seqs(&feed, 5, 10, None), (vec![], 5));
    let page = feed.page(2, 1, None).unwrap();
    let change = &page.changes[0];
    assert_eq!(
        (change.segment.to_string(), change.subject, change.entered),
        ("a".to_string(), SubjectId::Customer(3), true)
    );
    assert_eq!((change.cause, change.at), (Cause::Event, 7));
    assert_eq!(
        feed.page(6, 10, None).unwrap_err(),
        FeedError::Ahead {
            after: 6,
            newest: 5
        }
    );
    // Numbered but never committed (a list refused at the log): the numbers stay free.
    drop(
        feed.publishing()
            .number(Cause::Event, 9, &[moved("c", 9, true)]),
    );
    // Past 5 kept, the oldest go, whole batches and parts of one.
    commit(&feed, 9, &[moved("c", 1, true), moved("c", 2, true)]);
    assert_eq!(seqs(&feed, 2, 10, None), (vec![3, 4, 5, 6, 7], 7));
    assert_eq!(
        feed.page(1, 10, None).unwrap_err(),
        FeedError::Gone { oldest: 3 }
    );
    commit(
        &feed,
        10,
        &[
            moved("d", 1, true),
            moved("d", 2, true),
            moved("d", 3, true),
            moved("d", 4, true),
        ],
    );
    assert_eq!(seqs(&feed, 6, 10, None), (vec![7, 8, 9, 10, 11], 11));
    assert_eq!(
        feed.page(5, 10, None).unwrap_err(),
        FeedError::Gone { oldest: 7 }
    );
    let message = feed.page(0, 1, None).unwrap_err().to_string();
    assert!(message.contains("after=6"), "{message}");
}

#[test]
fn the_feed_file_reopens_rotates_cuts_a_torn_end_and_takes_the_rest_from_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(segmint::feed::FEED_FILE);
    let everything = |feed: &ChangeFeed| {
        let oldest = match feed.page(0, 1, None) {
            Err(FeedError::Gone { oldest }) => oldest,
            _ => 1,
        };
        feed.page(oldest - 1, 1000, None).unwrap().changes
    };
    let written = {
        let feed = ChangeFeed::open(dir.path(), 4).unwrap();
        commit(&feed, 1, &[moved("a", 1, true), moved("b", 1, true)]);
        commit(&feed, 2, &[moved("a", 1, false)]);
        everything(&feed)
    };
    assert_eq!(written.len(), 3);
    let feed = ChangeFeed::open(dir.path(), 4).unwrap();
    assert_eq!(everything(&feed), written, "reopened");
    // Many more changes than are kept: new files are started, the oldest dropped.
    for i in 0..60 {
        commit(&feed, 3, &[moved("c", i, true)]);
    }
    let kept = everything(&feed);
    assert_eq!(
        kept.iter().map(|c| c.seq).collect::<Vec<_>>(),
        [60, 61, 62, 63]
    );
    let previous = dir.path().join(segmint::feed::PREVIOUS_FEED_FILE);
    let size =
        std::fs::metadata(&path).unwrap().len() + std::fs::metadata(&previous).unwrap().len();
    assert!(
        size < 1_000,
        "the files hold about what is kept: {size} bytes"
    );
    drop(feed);
    let feed = ChangeFeed::open(dir.path(), 4).unwrap();
    assert_eq!(
        everything(&feed),
        kept,
        "reopened after new files were started"
    );
    drop(feed);
    // A torn end (a crash while appending) is cut off.
    let mut bytes = std::fs::read(&path).unwrap();
    let whole = bytes.len();
    bytes.extend_from_slice(b"SGCH\x30\x00\x00\x00garbage");
    std::fs::write(&path, &bytes).unwrap();
    let feed = ChangeFeed::open(dir.path(), 4).unwrap();
    assert_eq!(everything(&feed), kept);
    assert_eq!(std::fs::metadata(&path).unwrap().len(), whole as u64);
    // The log's batches: those the file has are skipped, the rest follow, also after a
    // gap (numbers neither file nor log holds).
    let logged = |first: u64, customers: std::ops::Range<i64>| Batch {
        first,
        at: 4,
        cause: Cause::Event,
        segment: SegmentKey::of("e"),
        moves: customers
            .map(|c| segmint::feed::Move {
                subject: SubjectId::Customer(c),
                entered: true,
            })
            .collect(),
    };
    feed.publishing()
        .recover(vec![logged(62, 0..3), logged(70, 3..5)])
        .unwrap();
    let (numbers, next) = seqs(&feed, 63, 10, None);
    assert_eq!((numbers, next), (vec![64, 70, 71], 71));
    drop(feed);
    let feed = ChangeFeed::open(dir.path(), 4).unwrap();
    assert_eq!(
        seqs(&feed, 63, 10, None).0,
        [64, 70, 71],
        "recovered on disk"
    );
}

/// Every change of the feed, through `GET /changes` pages of `limit`.
fn feed_over_http(server: &Server, limit: usize) -> Vec<Json> {
    let mut changes = Vec::new();
    let mut after = 0;
    loop {
        let page = server
            .get(&format!("/changes?after={after}&limit={limit}"))
            .ok_json();
        let got = page["changes"].as_array().unwrap().clone();
        assert!(got.len() <= limit);
        let next = page["next"].as_u64().unwrap();
        if got.is_empty() {
            assert_eq!(next, after, "an empty page keeps the cursor");
            return changes;
        }
        assert_eq!(next, got.last().unwrap()["seq"].as_u64().unwrap());
        after = next;
        changes.extend(got);
    }
}

fn subject_of(change: &Json) -> String {
    match (change.get("customer_id"), change.get("visitor_id")) {
        (Some(c), None) => format!("c:{c}"),
        (None, Some(v)) => format!("v:{v}"),
        _ => panic!("a change names a customer or a visitor: {change}"),
    }
}

/// What a consumer holds after following `changes` from the start: each change numbered
/// one after the other, each a move.
fn followed(changes: &[Json]) -> BTreeMap<String, BTreeSet<String>> {
    let mut members: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (i, change) in changes.iter().enumerate() {
        assert_eq!(change["seq"], json!(i + 1), "{change}");
        let segment = members.entry(change["segment"].to_string()).or_default();
        let subject = subject_of(change);
        let moved = if change["entered"] == json!(true) {
            segment.insert(subject)
        } else {
            segment.remove(&subject)
        };
        assert!(moved, "{change} moves nobody");
    }
    members.retain(|_, m| !m.is_empty());
    members
}

/// Every stored segment's members, as the API lists them.
fn members_now(server: &Server) -> BTreeMap<String, BTreeSet<String>> {
    let segments = server.get("/segments").ok_json();
    let mut members = BTreeMap::new();
    for segment in segments.as_array().unwrap() {
        let id = &segment["id"];
        let all: BTreeSet<String> = server
            .all_members(id, 10_000)
            .iter()
            .map(crate::http::member_key)
            .collect();
        if !all.is_empty() {
            members.insert(id.to_string(), all);
        }
    }
    members
}

/// A customer who is not in the stored segment `id`.
fn outside_of(server: &Server, id: &str) -> i64 {
    let snapshot = server.service.snapshot();
    (1..3000)
        .find(|customer| {
            let subject = snapshot.customer(*customer).unwrap();
            !snapshot.segments[&SegmentKey::of(id)]
                .members
                .contains(subject)
        })
        .expect("some customer is outside")
}

fn causes(changes: &[Json]) -> BTreeSet<String> {
    changes
        .iter()
        .map(|c| c["cause"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn every_cause_of_a_change_is_in_the_feed_and_following_it_gives_the_members() {
    let server = Server::start(Options::default());
    let group = |id: i64| json!({"field": "customer.group_id", "op": "eq", "value": id});
    server.create(&json!({"id": "group", "name": "group", "websites": [1, 2],
        "conditions": group(2)}));
    let created = feed_over_http(&server, 500);
    assert!(!created.is_empty());
    assert_eq!(
        causes(&created),
        BTreeSet::from(["segment_created".to_string()])
    );
    assert!(created.iter().all(|c| c["entered"] == json!(true)));
    assert_eq!(created[0]["at"], json!("2026-11-01T00:00:00Z"));
    assert_eq!(followed(&created), members_now(&server));
    let put = server.put(
        "/segments/group",
        &json!({"name": "group", "websites": [1, 2], "conditions": group(3)}).to_string(),
    );
    assert_eq!(put.status, 200, "{}", put.text);
    // Ordered in the last 30 days: moves with the days.
    server.create(
        &json!({"id": "recent", "name": "recent", "websites": [1, 2],
        "apply_to": "registered", "conditions": {"has": "order", "where":
            {"field": "order.created_at", "op": "in_last_days", "value": 30}}}),
    );
    let before_days = feed_over_http(&server, 500).len();
    server
        .clock
        .set(parse_instant("2026-11-20T00:00:00Z").unwrap());
    let _ = server.get("/segments").ok_json();
    let all = feed_over_http(&server, 500);
    assert!(all.len() > before_days, "some left as days passed");
    assert_eq!(
        causes(&all[before_days..]),
        BTreeSet::from(["day_changed".to_string()])
    );
    assert_eq!(all.last().unwrap()["at"], json!("2026-11-20T00:00:00Z"));
    // A refresh at an earlier instant moves them back.
    let refreshed = server.post_json(
        "/segments/recent/refresh",
        &json!({"as_of": "2026-11-01T00:00:00Z"}),
    );
    assert_eq!(refreshed.status, 200, "{}", refreshed.text);
    let all = feed_over_http(&server, 500);
    assert!(all.iter().any(|c| c["cause"] == json!("refresh")));
    // An event: a customer joins group 3.
    let outsider = outside_of(&server, "group");
    let answer = server
        .post_json(
            "/events",
            &json!([{"type": "customer_upserted", "customer_id": outsider, "website_id": 1,
                "group_id": 3, "email": "moved@shop.de"}]),
        )
        .ok_json();
    let last = feed_over_http(&server, 500);
    let from_event: Vec<&Json> = last
        .iter()
        .filter(|c| c["cause"] == json!("event"))
        .collect();
    assert_eq!(
        from_event.len(),
        answer["changes"].as_array().unwrap().len()
    );
    for (fed, answered) in from_event.iter().zip(answer["changes"].as_array().unwrap()) {
        for key in ["segment", "customer_id", "entered"] {
            assert_eq!(fed[key], answered[key], "{fed} {answered}");
        }
    }
    assert_eq!(followed(&last), members_now(&server));
    assert_eq!(server.delete("/segments/group").status, 204);
    let after_delete = feed_over_http(&server, 500);
    assert!(
        after_delete[last.len()..]
            .iter()
            .all(|c| c["cause"] == json!("segment_deleted") && c["entered"] == json!(false))
    );
    assert_eq!(followed(&after_delete), members_now(&server));
    // One segment's changes only.
    let recent = server.get("/changes?segment=recent&limit=10000").ok_json();
    let only: Vec<&Json> = after_delete
        .iter()
        .filter(|c| c["segment"] == json!("recent"))
        .collect();
    assert_eq!(
        recent["changes"]
            .as_array()
            .unwrap()
            .iter()
            .collect::<Vec<_>>(),
        only
    );
}

#[test]
fn bad_feed_requests_get_a_problem_and_changes_past_retention_are_gone() {
    let server = Server::start(Options {
        changes_kept: 3,
        ..Options::default()
    });
    for query in ["after=x", "after=-1", "limit=0", "limit=10001", "limit=two"] {
        let problem = server.get(&format!("/changes?{query}")).problem(400);
        assert!(
            problem["detail"].as_str().unwrap().contains('='),
            "{problem}"
        );
    }
    server.get("/changes?after=1").problem(400);
    server.create(&json!({"id": "g2", "name": "g2", "websites": [1, 2],
        "conditions": {"field": "customer.group_id", "op": "eq", "value": 2}}));
    let problem = server.get("/changes?after=0").problem(410);
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("no longer kept"),
        "{problem}"
    );
    let newest = *server.service.feed().subscribe().borrow();
    // Every member took a number, though only the latest 3 moves were kept.
    let members = server.get("/segments/g2").ok_json()["count"]
        .as_u64()
        .unwrap();
    assert!(members > 3);
    assert_eq!(newest, members);
    let page = server
        .get(&format!("/changes?after={}", newest - 3))
        .ok_json();
    assert_eq!(page["changes"].as_array().unwrap().len(), 3);
    assert_eq!(page["next"], json!(newest));
}

#[test]
fn a_consumer_follows_the_feed_live_as_server_sent_events() {
    let server = Server::start(Options::default());
    server.create(&json!({"id": "g3", "name": "g3", "websites": [1, 2],
        "conditions": {"field": "customer.group_id", "op": "eq", "value": 3}}));
    let newest = feed_over_http(&server, 10_000).len() as u64;
    let (lines, received) = std::sync::mpsc::channel::<String>();
    let url = server.url(&format!("/changes?after={}", newest - 1));
    let reader = std::thread::spawn(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        let mut reply = agent
            .get(&url)
            .header("Accept", "text/event-stream")
            .call()
            .unwrap();
        assert_eq!(
            reply.headers()["content-type"].to_str().unwrap(),
            "text/event-stream"
        );
        for line in BufReader::new(reply.body_mut().as_reader()).lines() {
            let Ok(line) = line else { break };
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    // The last change there was, then one made while following.
    let next_event = || -> (u64, Json) {
        let mut id = None;
        loop {
            let line = received.recv_timeout(Duration::from_secs(20)).unwrap();
            if let Some(rest) = line.strip_prefix("id: ").or(line.strip_prefix("id:")) {
                id = Some(rest.trim().parse::<u64>().unwrap());
            } else if let Some(data) = line.strip_prefix("data: ").or(line.strip_prefix("data:")) {
                return (
                    id.expect("an id before the data"),
                    serde_json::from_str(data).unwrap(),
                );
            }
        }
    };
    let (id, change) = next_event();
    assert_eq!((id, change["seq"].as_u64()), (newest, Some(newest)));
    let outsider = outside_of(&server, "g3");
    server
        .post_json(
            "/events",
            &json!([{"type": "customer_upserted", "customer_id": outsider, "website_id": 1,
                "group_id": 3, "email": "live@shop.de"}]),
        )
        .ok_json();
    let (id, change) = next_event();
    assert_eq!(id, newest + 1);
    assert_eq!(
        (
            &change["segment"],
            &change["customer_id"],
            &change["entered"],
            &change["cause"]
        ),
        (
            &json!("g3"),
            &json!(outsider),
            &json!(true),
            &json!("event")
        )
    );
    // Stopping the server ends the stream, so the stop does not wait for it.
    drop(server);
    reader.join().unwrap();
}

#[test]
fn a_restart_on_a_later_day_puts_the_moves_of_the_days_missed_in_the_feed() {
    let data = crate::common::generated(400, 3, segmint::data::generate::OutputFormat::Parquet);
    let state = tempfile::tempdir().unwrap();
    let day_0 = parse_instant("2026-11-01T10:00:00Z").unwrap();
    let start = |now: i64| {
        Service::start(
            Arc::new(Engine::new(Arc::new(crate::common::load(data.path())))),
            ServiceOptions {
                clock: Arc::new(ManualClock::new(now)),
                state: Some(StateDir::open(state.path()).unwrap()),
                time_limit: None,
                checkpoint_after_events: segmint::service::CHECKPOINT_AFTER_EVENTS,
                engine_from_checkpoint: false,
                changes_kept: segmint::feed::DEFAULT_KEPT,
            },
        )
        .unwrap()
    };
    let service = start(day_0);
    segmint::server::api::create_segment(
        &service,
        &json!({"id": "recent", "name": "recent", "websites": [1, 2],
            "apply_to": "registered", "conditions": {"has": "order", "where":
                {"field": "order.created_at", "op": "in_last_days", "value": 30}}}),
    )
    .unwrap();
    let members_at_start = service.snapshot().segments[&SegmentKey::of("recent")].count();
    assert!(members_at_start > 0);
    drop(service);
    let later = start(day_0 + 45 * DAY);
    let snapshot = later.snapshot();
    let feed = later.feed().page(0, 100_000, None).unwrap().changes;
    let (created, missed): (Vec<_>, Vec<_>) =
        feed.iter().partition(|c| c.cause == Cause::SegmentCreated);
    assert_eq!(created.len() as u64, members_at_start);
    assert!(!missed.is_empty());
    assert!(
        missed
            .iter()
            .all(|c| c.cause == Cause::DayChanged && c.at == day_0 + 45 * DAY)
    );
    let mut held = BTreeSet::new();
    for change in &feed {
        assert!(if change.entered {
            held.insert(change.subject)
        } else {
            held.remove(&change.subject)
        });
    }
    let subjects = snapshot.subjects();
    let members: BTreeSet<SubjectId> = snapshot.segments[&SegmentKey::of("recent")]
        .members
        .bitmap()
        .iter()
        .map(|m| subjects.id(m))
        .collect();
    assert_eq!(held, members);
    // The same day again: nothing more.
    drop(later);
    let again = start(day_0 + 45 * DAY + 3_600_000_000);
    assert_eq!(again.feed().page(0, 100_000, None).unwrap().changes, feed);
}

#[test]
fn a_server_told_to_stop_ends_the_streams_following_the_feed_and_exits() {
    let (mut child, lines) = crate::http::start_demo(&[], "listening on");
    let url = crate::events::url_of(&lines);
    let (opened, is_open) = std::sync::mpsc::channel::<()>();
    let follower = std::thread::spawn(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        let mut reply = agent
            .get(format!("{url}/changes"))
            .header("Accept", "text/event-stream")
            .call()
            .unwrap();
        opened.send(()).unwrap();
        // Reads until the server ends the stream.
        BufReader::new(reply.body_mut().as_reader()).lines().count()
    });
    is_open.recv_timeout(Duration::from_secs(30)).unwrap();
    let terminated = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(terminated.success());
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            panic!("the server did not stop within 10 s while a stream followed the feed");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status}");
    follower.join().unwrap();
}
