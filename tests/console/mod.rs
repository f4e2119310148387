//! The admin console: its files served by `segmint serve` (also without the token), the
//! endpoints it added (a segment's breakdown, the overlap of segments), and the page
//! itself driven in a real headless Chromium (`browser`).

mod browser;
mod pages;

use serde_json::{Value as Json, json};

use crate::http::{Options, Server};

/// Segment ids as path segments.
fn plain(id: &Json) -> String {
    id.as_str().map_or_else(|| id.to_string(), str::to_string)
}

/// A segment of customers and visitors: customers who spent 300 or more, and anyone who
/// viewed a product.
fn spenders_and_viewers(server: &Server) -> Json {
    server.create(&json!({
        "name": "Spenders and viewers", "websites": [1, 2], "apply_to": "both",
        "conditions": {"any": [
            {"aggregate": "sum", "of": "order.grand_total", "op": "gte", "value": 300},
            {"has": "product_view"}]}}))
}

/// Every group of every breakdown a field can have, against the evaluator: each group's
/// count is what `/estimate` counts for the segment and the group's value together.
fn assert_breakdowns_agree(server: &Server, id: &Json) {
    let schema = server.get("/schema").ok_json();
    let count = server.get(&format!("/segments/{}", plain(id))).ok_json()["count"]
        .as_u64()
        .unwrap();
    let mut checked = 0;
    for table in ["customer", "address"] {
        for (column, field) in schema["tables"][table]["fields"].as_object().unwrap() {
            let groupable = ["id", "int", "bool", "string"]
                .contains(&field["type"].as_str().unwrap())
                && field["derived"] == json!(false);
            let by = format!("{table}.{column}");
            let reply = server.get(&format!("/segments/{}/breakdown?by={by}", plain(id)));
            if !groupable {
                assert_eq!(reply.status, 400, "{by}: {}", reply.text);
                assert_eq!(reply.json()["parameter"], "by", "{}", reply.text);
                continue;
            }
            let answer = reply.ok_json();
            let groups = answer["groups"].as_array().unwrap();
            let customers = answer["customers"].as_u64().unwrap();
            let in_groups: u64 = groups.iter().map(|g| g["count"].as_u64().unwrap()).sum();
            assert_eq!(
                in_groups + answer["other"].as_u64().unwrap(),
                customers,
                "{by}"
            );
            assert_eq!(
                customers + answer["visitors"].as_u64().unwrap(),
                count,
                "{by}"
            );
            assert!(groups.len() <= 100, "{by}");
            assert!(
                groups
                    .windows(2)
                    .all(|w| w[0]["count"].as_u64() >= w[1]["count"].as_u64()),
                "{by}: largest groups first"
            );
            for group in groups.iter().take(12) {
                let value = &group["value"];
                let test = match value {
                    Json::Null => json!({"field": by, "op": "is_null"}),
                    _ => json!({"field": by, "op": "eq", "value": value}),
                };
                let test = match table {
                    "customer" => test,
                    // The default billing address's value (the data has one default
                    // billing address a customer at most); a null address value is also
                    // a customer without one, which a `has` cannot count.
                    _ if value.is_null() => continue,
                    _ => json!({"has": "address", "where": {"all": [
                        {"field": "address.is_default_billing", "op": "eq", "value": true},
                        test]}}),
                };
                let estimate = server
                    .post_json(
                        "/estimate",
                        &json!({"websites": [1, 2], "apply_to": "registered",
                            "conditions": {"all": [{"in_segment": id}, test]}}),
                    )
                    .ok_json();
                assert_eq!(estimate["count"], group["count"], "{by} = {value}");
                checked += 1;
            }
        }
    }
    assert!(checked > 30, "only {checked} groups checked");
}

#[test]
fn a_breakdown_counts_each_member_in_the_group_the_evaluator_puts_it_in() {
    let server = Server::start(Options::default());
    let id = spenders_and_viewers(&server);
    let answer = server
        .get(&format!(
            "/segments/{}/breakdown?by=customer.group_id",
            plain(&id)
        ))
        .ok_json();
    assert!(answer["visitors"].as_u64().unwrap() > 0, "{answer}");
    assert_eq!(answer["by"], "customer.group_id");
    assert_eq!(answer["segment"], id);
    assert_breakdowns_agree(&server, &id);

    // A member's new values count at once: events change the rows breakdowns read.
    let member = server.all_members(&id, 1000)[0]["customer_id"].clone();
    let applied = server.post_json(
        "/events",
        &json!([{"type": "customer_upserted", "customer_id": member, "website_id": 1,
            "email": "moved@shop.test", "group_id": 77}]),
    );
    assert_eq!(applied.status, 200, "{}", applied.text);
    let moved = server
        .get(&format!(
            "/segments/{}/breakdown?by=customer.group_id",
            plain(&id)
        ))
        .ok_json();
    assert!(
        moved["groups"]
            .as_array()
            .unwrap()
            .contains(&json!({"value": 77, "count": 1})),
        "{moved}"
    );
    assert_breakdowns_agree(&server, &id);
}

#[test]
fn a_breakdown_refuses_what_it_cannot_group_by() {
    let server = Server::start(Options::default());
    let id = plain(&spenders_and_viewers(&server));
    for (query, why) in [
        ("", "by is missing"),
        ("?by=customer.nope", "not a field"),
        ("?by=order.status", "customer.<column> or address.<column>"),
        ("?by=customer.created_at", "timestamp"),
        ("?by=customer.age", "derived"),
        ("?by=customer.group_id&limit=5", "unknown parameter"),
    ] {
        let reply = server.get(&format!("/segments/{id}/breakdown{query}"));
        assert_eq!(reply.status, 400, "{query}: {}", reply.text);
        let problem = reply.json();
        assert_eq!(problem["parameter"], "by", "{query}");
        assert!(
            problem["detail"].as_str().unwrap().contains(why),
            "{query}: {problem}"
        );
    }
    let missing = server.get("/segments/nope/breakdown?by=customer.group_id");
    assert_eq!(missing.status, 404, "{}", missing.text);
}

#[test]
fn the_overlap_of_segments_is_what_their_intersections_count() {
    let server = Server::start(Options::default());
    let ids = [
        spenders_and_viewers(&server),
        server.create(&json!({"name": "Wholesale", "websites": [1, 2],
            "apply_to": "registered",
            "conditions": {"field": "customer.group_id", "op": "eq", "value": 2}})),
        server.create(
            &json!({"name": "Carts", "websites": [1], "apply_to": "both",
            "conditions": {"field": "cart.grand_total", "op": "gte", "value": 50}}),
        ),
    ];
    // Named twice: compared once, in the order first named.
    let asked = json!([ids[0], ids[1], ids[2], ids[1]]);
    let answer = server
        .post_json("/overlap", &json!({"segments": asked}))
        .ok_json();
    assert_eq!(answer["segments"], json!(ids));
    for (i, a) in ids.iter().enumerate() {
        for (j, b) in ids.iter().enumerate() {
            let both = server
                .post_json(
                    "/report",
                    &json!({"segments": [a, b], "set": "intersection", "limit": 1}),
                )
                .ok_json();
            assert_eq!(answer["shared"][i][j], both["count"], "{a} and {b}");
        }
    }
    assert!(answer["shared"][0][2].as_u64().unwrap() > 0, "{answer}");
}

#[test]
fn an_overlap_request_that_does_not_fit_is_refused_at_its_pointer() {
    let server = Server::start(Options::default());
    let id = spenders_and_viewers(&server);
    let many: Vec<Json> = (0..51).map(|_| id.clone()).collect();
    for (body, status, pointer) in [
        (json!({}), 422, "/segments"),
        (json!({"segments": []}), 422, "/segments"),
        (json!({"segments": [id, "nope"]}), 404, "/segments/1"),
        (json!({"segments": [id], "set": "union"}), 422, "/set"),
        (json!({"segments": many}), 422, "/segments"),
        (json!([id]), 422, ""),
    ] {
        let reply = server.post_json("/overlap", &body);
        assert_eq!(reply.status, status, "{body}: {}", reply.text);
        assert_eq!(reply.json()["pointer"], pointer, "{body}: {}", reply.text);
    }
}

#[test]
fn the_console_is_served_without_the_token_and_nothing_else_is() {
    let server = Server::start(Options {
        token: Some("s3cret"),
        ..Options::default()
    });
    let anonymous = ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build(),
    );
    let get = |path: &str| anonymous.get(server.url(path)).call().unwrap();
    let mut page = get("/");
    assert_eq!(page.status(), 200);
    let policy = page.headers()["content-security-policy"].to_str().unwrap();
    assert!(policy.contains("default-src 'self'"), "{policy}");
    let html = page.body_mut().read_to_string().unwrap();
    assert!(html.contains("/console/app.js"), "{html}");
    assert!(!html.contains("s3cret"));
    for file in [
        "app.js",
        "api.js",
        "dom.js",
        "editor.js",
        "views.js",
        "charts.js",
    ] {
        let reply = get(&format!("/console/{file}"));
        assert_eq!(reply.status(), 200, "{file}");
        assert_eq!(
            reply.headers()["content-type"],
            "text/javascript; charset=utf-8"
        );
    }
    assert_eq!(get("/console/console.css").status(), 200);
    // Other files, and the API, still need the token.
    assert_eq!(get("/console/secrets.js").status(), 401);
    assert_eq!(get("/segments").status(), 401);
    assert_eq!(server.get("/console/secrets.js").status, 404);
}
