//! The OpenAPI document against the server it describes: the token and every 401, each
//! answer's keys and types against its schema, and every example request.

use crate::http::{Options, Server};

#[test]
fn openapi_declares_the_token_and_every_401_the_server_answers() {
    use serde_json::json;
    let server = Server::start(Options {
        token: Some("s3cret"),
        ..Options::default()
    });
    let openapi = server.get("/openapi.json").ok_json();
    assert_eq!(
        openapi["components"]["securitySchemes"]["bearer"],
        json!({"type": "http", "scheme": "bearer",
               "description": openapi["components"]["securitySchemes"]["bearer"]["description"]}),
    );
    assert_eq!(openapi["security"], json!([{"bearer": []}]));
    let agent = ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build(),
    );
    let mut operations = 0;
    for (path, item) in openapi["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let url = server.url(
                &path
                    .replace("{id}", "1")
                    .replace("{customer_id}", "1")
                    .replace("{visitor_id}", "1"),
            );
            let anonymous = match method.as_str() {
                "get" => agent.get(&url).call(),
                "delete" => agent.delete(&url).call(),
                "post" => agent
                    .post(&url)
                    .header("Content-Type", "application/json")
                    .send("{}"),
                "put" => agent
                    .put(&url)
                    .header("Content-Type", "application/json")
                    .send("{}"),
                other => panic!("{other} {path} is not tested"),
            }
            .unwrap();
            operations += 1;
            if path == "/health" {
                assert_eq!(operation["security"], json!([{}]), "{path}");
                assert_eq!(anonymous.status(), 200, "{method} {path}");
            } else {
                assert!(
                    operation["responses"]["401"].is_object(),
                    "{method} {path} does not document its 401"
                );
                assert_eq!(anonymous.status(), 401, "{method} {path}");
            }
        }
    }
    assert!(operations >= 18, "{operations} operations");
}

/// Checks `value` against an OpenAPI schema of `document` (the subset utoipa writes:
/// `$ref`, `allOf`, `oneOf`, `type` (one or a list), `required`, `properties`, `items`,
/// `additionalProperties`): every required key there, every key documented, every value of
/// a documented type. Returns the first difference, with its pointer.
fn schema_mismatch(
    document: &serde_json::Value,
    schema: &serde_json::Value,
    value: &serde_json::Value,
    at: &str,
) -> Option<String> {
    use serde_json::Value as Json;
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.trim_start_matches("#/components/schemas/");
        return schema_mismatch(
            document,
            &document["components"]["schemas"][name],
            value,
            at,
        );
    }
    if let Some(parts) = schema["allOf"].as_array() {
        // Each part sees only its own keys; together they must cover the object.
        let mut documented = std::collections::BTreeSet::new();
        for part in parts {
            let part = resolve(document, part);
            documented.extend(
                part["properties"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(k, _)| k.clone()),
            );
            let mut own = value.clone();
            if let (Some(object), Some(properties)) =
                (own.as_object_mut(), part["properties"].as_object())
            {
                object.retain(|k, _| properties.contains_key(k));
            }
            if let Some(problem) = schema_mismatch(document, &part, &own, at) {
                return Some(problem);
            }
        }
        if let Some(object) = value.as_object()
            && let Some(key) = object.keys().find(|k| !documented.contains(*k))
        {
            return Some(format!("{at}/{key} is not documented"));
        }
        return None;
    }
    if let Some(choices) = schema["oneOf"].as_array() {
        return choices
            .iter()
            .all(|c| schema_mismatch(document, c, value, at).is_some())
            .then(|| format!("{at}: {value} fits none of oneOf"));
    }
    let types: Vec<&str> = match &schema["type"] {
        Json::String(t) => vec![t.as_str()],
        Json::Array(list) => list.iter().filter_map(Json::as_str).collect(),
        _ => return None,
    };
    let fits = |t: &str| match t {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "string" => value.is_string(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        _ => true,
    };
    if !types.iter().any(|t| fits(t)) {
        return Some(format!("{at}: {value} is not {types:?}"));
    }
    match value {
        Json::Object(object) => {
            for key in schema["required"].as_array().into_iter().flatten() {
                let key = key.as_str().unwrap();
                if !object.contains_key(key) {
                    return Some(format!("{at}/{key} is required but missing"));
                }
            }
            let properties = schema["properties"].as_object();
            for (key, item) in object {
                match properties.and_then(|p| p.get(key)) {
                    Some(property) => {
                        if let Some(problem) =
                            schema_mismatch(document, property, item, &format!("{at}/{key}"))
                        {
                            return Some(problem);
                        }
                    }
                    None if schema["additionalProperties"].is_object()
                        || schema["additionalProperties"] == true =>
                    {
                        let extra = &schema["additionalProperties"];
                        if let Some(problem) =
                            schema_mismatch(document, extra, item, &format!("{at}/{key}"))
                        {
                            return Some(problem);
                        }
                    }
                    None if properties.is_some() => {
                        return Some(format!("{at}/{key} is not documented"));
                    }
                    None => {}
                }
            }
            None
        }
        Json::Array(items) => items.iter().enumerate().find_map(|(i, item)| {
            schema_mismatch(document, &schema["items"], item, &format!("{at}/{i}"))
        }),
        _ => None,
    }
}

fn resolve(document: &serde_json::Value, schema: &serde_json::Value) -> serde_json::Value {
    match schema["$ref"].as_str() {
        Some(reference) => {
            let name = reference.trim_start_matches("#/components/schemas/");
            resolve(document, &document["components"]["schemas"][name])
        }
        None => schema.clone(),
    }
}

#[test]
fn answers_have_the_keys_and_types_the_openapi_document_says() {
    use serde_json::json;
    let server = Server::start(Options::default());
    let document = server.get("/openapi.json").ok_json();
    let answer_schema = |path: &str, method: &str, status: &str| {
        document["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"].clone()
    };
    let customer = crate::common::load(crate::http::data())
        .customer_ids()
        .value(0);
    let definition = json!({"id": "wholesale", "name": "Wholesale", "websites": [1, 2],
        "apply_to": "registered", "description": "groups 2 and 3",
        "conditions": {"field": "customer.group_id", "op": "in", "value": [2, 3]}});
    let cases: Vec<(&str, &str, &str, crate::http::Reply)> = vec![
        ("/health", "get", "200", server.get("/health")),
        (
            "/segments",
            "post",
            "201",
            server.post_json("/segments", &definition),
        ),
        (
            "/segments",
            "post",
            "201",
            server.post_json(
                "/segments",
                &json!({"name": "typo", "websites": [77], "conditions": {"all": []}}),
            ),
        ),
        ("/segments", "get", "200", server.get("/segments")),
        (
            "/segments/{id}",
            "get",
            "200",
            server.get("/segments/wholesale"),
        ),
        (
            "/segments/{id}",
            "put",
            "200",
            server.put("/segments/wholesale", &definition.to_string()),
        ),
        (
            "/segments/{id}/members",
            "get",
            "200",
            server.get("/segments/wholesale/members?limit=3"),
        ),
        (
            "/segments/{id}/refresh",
            "post",
            "200",
            server.post("/segments/wholesale/refresh", ""),
        ),
        (
            "/segments/refresh",
            "post",
            "200",
            server.post("/segments/refresh", ""),
        ),
        (
            "/estimate",
            "post",
            "200",
            server.post_json(
                "/estimate",
                &json!({"websites": [1, 77], "conditions": {"has": "order"}}),
            ),
        ),
        (
            "/report",
            "post",
            "200",
            server.post_json("/report", &json!({"segments": ["wholesale"], "limit": 2})),
        ),
        (
            "/customers/{customer_id}/segments",
            "get",
            "200",
            server.get(&format!("/customers/{customer}/segments")),
        ),
        (
            "/events",
            "post",
            "200",
            server.post_json(
                "/events",
                &json!([{"type": "product_viewed", "customer_id": customer, "product_id": 100,
                "website_id": 1, "viewed_at": "2026-10-31T12:00:00Z"}]),
            ),
        ),
        (
            "/changes",
            "get",
            "200",
            server.get("/changes?after=0&limit=5"),
        ),
        ("/schema", "get", "200", server.get("/schema")),
        (
            "/segments",
            "post",
            "422",
            server.post_json("/segments", &json!({"name": 1})),
        ),
    ];
    // The check finds each kind of difference.
    let stored = server.get("/segments/wholesale").ok_json();
    let schema = answer_schema("/segments/{id}", "get", "200");
    assert_eq!(schema_mismatch(&document, &schema, &stored, ""), None);
    for (change, expected) in [
        (json!({"universe": null}), "/universe"),
        (json!({"count": "many"}), "/count"),
        (json!({"bogus": 1}), "/bogus is not documented"),
    ] {
        let mut changed = stored.clone();
        let (key, value) = change.as_object().unwrap().iter().next().unwrap();
        changed[key] = value.clone();
        let found = schema_mismatch(&document, &schema, &changed, "").unwrap_or_default();
        assert!(found.contains(expected), "{change}: {found:?}");
    }
    let mut missing = stored.clone();
    missing.as_object_mut().unwrap().remove("as_of");
    assert!(
        schema_mismatch(&document, &schema, &missing, "")
            .is_some_and(|m| m.contains("/as_of is required"))
    );
    for (path, method, status, reply) in cases {
        assert_eq!(
            reply.status.to_string(),
            status,
            "{method} {path}: {}",
            reply.text
        );
        let schema = match status {
            "422" => document["paths"][path][method]["responses"][status]["content"]["application/problem+json"]["schema"].clone(),
            _ => answer_schema(path, method, status),
        };
        assert!(
            !schema.is_null(),
            "{method} {path} documents no {status} answer"
        );
        if let Some(problem) = schema_mismatch(&document, &schema, &reply.json(), "") {
            panic!("{method} {path} {status}: {problem}\n{}", reply.text);
        }
    }
}

#[test]
fn every_documented_example_request_answers_as_documented() {
    let server = Server::start(Options::default());
    let document = server.get("/openapi.json").ok_json();
    let mut examples = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let example = &operation["requestBody"]["content"]["application/json"]["example"];
            if !example.is_null() {
                examples.push((path.clone(), method.clone(), example.clone()));
            }
        }
    }
    // The create first: the others name the segment it makes.
    examples
        .sort_by_key(|(path, method, _)| (path != "/segments" || method != "post", path.clone()));
    let created_id = examples[0].2["id"].as_str().unwrap().to_string();
    let mut tried = Vec::new();
    for (path, method, example) in &examples {
        let url = path.replace("{id}", &created_id);
        let reply = match method.as_str() {
            "post" => server.post_json(&url, example),
            "put" => server.put(&url, &example.to_string()),
            other => panic!("an example for {other} {path}"),
        };
        let responses = &document["paths"][path][method]["responses"];
        let status = reply.status.to_string();
        assert!(
            status.starts_with('2') && responses[&status].is_object(),
            "{method} {path} answers its example with {status}: {}",
            reply.text
        );
        let schema = &responses[&status]["content"]["application/json"]["schema"];
        if !schema.is_null()
            && let Some(problem) = schema_mismatch(&document, schema, &reply.json(), "")
        {
            panic!("{method} {path}: {problem}\n{}", reply.text);
        }
        tried.push(format!("{method} {path}"));
    }
    for expected in [
        "post /segments",
        "put /segments/{id}",
        "post /estimate",
        "post /report",
        "post /events",
        "post /segments/{id}/refresh",
        "post /segments/refresh",
    ] {
        assert!(
            tried.iter().any(|t| t == expected),
            "no example for {expected}: {tried:?}"
        );
    }
}
