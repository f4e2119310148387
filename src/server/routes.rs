//! The handlers: read the request, call the service, write the answer.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::Value as Json_;
use utoipa::OpenApi;

use super::api::*;
use super::exports;
use super::problem::Problem;
use super::{AppState, read_json, required};
use crate::events::idempotency::IdempotencyKey;
use crate::segment::definition::pointer_join;
use crate::segment::{DefinitionError, ErrorKind};
use crate::service::instant_at;

pub(super) type Params = Query<HashMap<String, String>>;
pub(super) type Answer = Result<Response, Problem>;

pub(super) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/health", get(health))
        .route("/schema", get(schema))
        .route("/segments", get(list_segments).post(create_segment))
        .route("/segments/refresh", post(refresh_all))
        .route(
            "/segments/{id}",
            get(get_segment).put(update_segment).delete(delete_segment),
        )
        .route("/segments/{id}/refresh", post(refresh_segment))
        .route("/segments/{id}/members", get(exports::segment_members))
        .route(
            "/segments/{id}/breakdown",
            get(super::insight::segment_breakdown),
        )
        .route("/estimate", post(estimate))
        .route("/report", post(exports::report))
        .route("/overlap", post(super::insight::segment_overlap))
        .route("/customers/{customer_id}/segments", get(customer_segments))
        .route("/visitors/{visitor_id}/segments", get(visitor_segments))
        .route("/events", post(post_events))
        .route("/changes", get(super::changes::changes))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi))
}

pub(super) fn invalid(pointer: &str, message: impl Into<String>) -> Problem {
    Problem::invalid(&DefinitionError {
        pointer: pointer.to_string(),
        kind: ErrorKind::BadValue,
        message: message.into(),
    })
}

#[utoipa::path(get, path = "/health", tag = "service",
    responses((status = 200, description = "The service is up", body = Health)))]
pub async fn health(State(state): State<Arc<AppState>>) -> Json<Health> {
    let snapshot = state.service.snapshot();
    Json(Health {
        status: "ok",
        customers: snapshot.customer_count() as u64,
        visitors: snapshot.visitor_count() as u64,
    })
}

#[utoipa::path(get, path = "/schema", tag = "service",
    responses((status = 200, description = "Every field a condition may name", body = SchemaView)))]
pub async fn schema(State(state): State<Arc<AppState>>) -> Json<SchemaView> {
    Json(SchemaView::of(state.service.snapshot().schema()))
}

#[utoipa::path(get, path = "/segments", tag = "segments",
    responses((status = 200, description = "The stored segments", body = Vec<SegmentSummary>)))]
pub async fn list_segments(State(state): State<Arc<AppState>>) -> Answer {
    let snapshot = state.snapshot().await?;
    let list: Vec<SegmentSummary> = snapshot
        .segments
        .values()
        .map(|s| SegmentSummary::of(s))
        .collect();
    Ok(Json(list).into_response())
}

#[utoipa::path(post, path = "/segments", tag = "segments",
    request_body(content = SegmentDefinition, example = json!({"id": "wholesale_de", "name": "Wholesale customers", "websites": [1], "apply_to": "registered", "conditions": {"all": [{"field": "customer.group_id", "op": "eq", "value": 2}, {"field": "customer.created_at", "op": "in_last_days", "value": 365}]}})),
    responses(
        (status = 201, description = "Stored and matched", body = SegmentView),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The id is taken", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The definition does not fit the language", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create_segment(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Answer {
    let json = required(
        read_json(&state, &headers, body).await?,
        "a segment definition",
    )?;
    let service = state.service.clone();
    let stored = state
        .evaluate(move || {
            let request = segment_request(&json, service.snapshot().schema())?;
            service.create(request).map_err(Problem::from)
        })
        .await?;
    let location = format!("/segments/{}", stored.key);
    let view =
        SegmentView::of(&stored).warning_of(&state.service.snapshot(), &stored.definition.websites);
    let mut response = (StatusCode::CREATED, Json(view)).into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}

#[utoipa::path(get, path = "/segments/{id}", tag = "segments",
    params(("id" = String, Path, description = "Segment id")),
    responses(
        (status = 200, description = "The stored segment", body = SegmentView),
        (status = 404, description = "No such segment", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_segment(State(state): State<Arc<AppState>>, id: PathId) -> Answer {
    let id = id.segment()?;
    let snapshot = state.snapshot().await?;
    Ok(Json(SegmentView::of(snapshot.segment(&id)?)).into_response())
}

#[utoipa::path(put, path = "/segments/{id}", tag = "segments",
    params(("id" = String, Path, description = "Segment id")),
    request_body(content = SegmentDefinition, example = json!({"name": "Wholesale customers", "websites": [1, 2], "apply_to": "registered", "conditions": {"field": "customer.group_id", "op": "eq", "value": 2}})),
    responses(
        (status = 200, description = "Replaced and re-matched (with the segments that name it)", body = SegmentView),
        (status = 404, description = "No such segment", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The definition does not fit the language", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn update_segment(
    State(state): State<Arc<AppState>>,
    id: PathId,
    headers: HeaderMap,
    body: Body,
) -> Answer {
    let id = id.segment()?;
    let json = required(
        read_json(&state, &headers, body).await?,
        "a segment definition",
    )?;
    let service = state.service.clone();
    let snapshot = state.snapshot().await?;
    // An unknown segment is a 404 whatever the body holds.
    snapshot.segment(&id)?;
    let stored = state
        .evaluate(move || {
            let request = segment_request(&json, snapshot.schema())?;
            service.update(&id, request).map_err(Problem::from)
        })
        .await?;
    let view =
        SegmentView::of(&stored).warning_of(&state.service.snapshot(), &stored.definition.websites);
    Ok(Json(view).into_response())
}

#[utoipa::path(delete, path = "/segments/{id}", tag = "segments",
    params(("id" = String, Path, description = "Segment id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such segment", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Another segment names it with in_segment", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn delete_segment(State(state): State<Arc<AppState>>, id: PathId) -> Answer {
    let id = id.segment()?;
    let service = state.service.clone();
    super::run_blocking(move || service.delete(&id).map_err(Problem::from)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `{"as_of"?}`: the only key a refresh body has.
fn refresh_as_of(body: Option<Json_>) -> Result<Option<i64>, Problem> {
    let Some(body) = body else { return Ok(None) };
    let object = body.as_object().ok_or_else(|| {
        invalid(
            "",
            "a refresh body is a JSON object: {\"as_of\": ...} or {}",
        )
    })?;
    if let Some(key) = object.keys().find(|k| *k != "as_of") {
        return Err(invalid(
            &pointer_join("", key),
            format!("unknown key {key:?}: a refresh body has only as_of"),
        ));
    }
    object
        .get("as_of")
        .map(|value| instant_at(value, "/as_of"))
        .transpose()
        .map_err(Problem::from)
}

#[utoipa::path(post, path = "/segments/{id}/refresh", tag = "segments",
    params(("id" = String, Path, description = "Segment id")),
    request_body(content = RefreshRequest, description = "Optional", example = json!({"as_of": "2026-11-01T00:00:00Z"})),
    responses(
        (status = 200, description = "Re-matched", body = RefreshAnswer),
        (status = 404, description = "No such segment", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn refresh_segment(
    State(state): State<Arc<AppState>>,
    id: PathId,
    headers: HeaderMap,
    body: Body,
) -> Answer {
    let id = id.segment()?;
    let as_of = refresh_as_of(read_json(&state, &headers, body).await?)?;
    let service = state.service.clone();
    let refreshed = state
        .evaluate(move || service.refresh(&id, as_of).map_err(Problem::from))
        .await?;
    Ok(Json(RefreshAnswer {
        count: refreshed.count,
        entered: refreshed.entered,
        left: refreshed.left,
        elapsed_ms: refreshed.elapsed.as_secs_f64() * 1e3,
    })
    .into_response())
}

#[utoipa::path(post, path = "/segments/refresh", tag = "segments",
    request_body(content = RefreshRequest, description = "Optional", example = json!({"as_of": "2026-11-01T00:00:00Z"})),
    responses((status = 200, description = "Every active segment re-matched", body = BulkRefreshAnswer)))]
pub async fn refresh_all(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Answer {
    let as_of = refresh_as_of(read_json(&state, &headers, body).await?)?;
    let service = state.service.clone();
    let (refreshed, elapsed) = state
        .evaluate_on_all_cores(move || service.refresh_all(as_of).map_err(Problem::from))
        .await?;
    Ok(Json(BulkRefreshAnswer {
        segments: refreshed
            .iter()
            .map(|s| RefreshedSegment {
                id: Id::from(&s.key),
                count: s.count(),
                elapsed_ms: s.elapsed.as_secs_f64() * 1e3,
            })
            .collect(),
        elapsed_ms: elapsed.as_secs_f64() * 1e3,
    })
    .into_response())
}

#[utoipa::path(post, path = "/events", tag = "events",
    params(("Idempotency-Key" = Option<String>, Header, description = "Names the list (1-255 visible ASCII characters, a UUID say): a list sent again with its key within a day is not applied again but answered as the first time, with `Idempotent-Replayed: true`")),
    request_body(content = Vec<Object>, description = "Events (interface.md), applied in order: all or none",
        example = json!([{"type": "product_viewed", "visitor_id": 990001, "product_id": 100, "website_id": 1, "viewed_at": "2026-10-31T12:00:00Z"}])),
    responses(
        (status = 200, description = "Applied (and, with --state, in the event log on disk); or, sent again under its Idempotency-Key, the first answer", body = EventsAnswer),
        (status = 400, description = "A malformed Idempotency-Key", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A request with the same Idempotency-Key is being applied", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An event does not fit (pointer names it): none applied; or the Idempotency-Key came with another list", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn post_events(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Answer {
    let json = required(
        read_json(&state, &headers, body).await?,
        "a list of events: [{\"type\": ..., ...}, ...]",
    )?;
    let key = match headers.get(IDEMPOTENCY_KEY) {
        None => None,
        Some(value) => {
            let bad = |why: String| {
                Problem::new(StatusCode::BAD_REQUEST, "bad-header", "Bad header", why)
            };
            let text = value
                .to_str()
                .map_err(|_| bad("an Idempotency-Key has visible ASCII characters only".into()))?;
            Some(IdempotencyKey::new(text, &json).map_err(bad)?)
        }
    };
    let service = state.service.clone();
    // Not in an evaluation slot: lists wait for the writer, which applies them in groups
    // (see `service::event_writer`), so concurrent requests share a flush of the log.
    let applied = super::run_blocking(move || {
        let list = service.parse_events(json)?;
        match key {
            Some(key) => service.apply_events_once(list, key),
            None => service.apply_events(list),
        }
        .map_err(Problem::from)
    })
    .await?;
    let mut response = Json(EventsAnswer {
        applied: applied.applied as u64,
        changes: applied.changes.iter().map(EventChange::from).collect(),
        elapsed_ms: applied.elapsed.as_secs_f64() * 1e3,
    })
    .into_response();
    if applied.replayed {
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(response)
}

/// The header naming a list of events, so that a retry does not apply it twice.
const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// An id from the path. Percent-escapes that decode to no UTF-8 text (`/segments/%ff`)
/// name nothing: a segment that does not exist (404), or an id that is not an integer.
pub struct PathId(Option<String>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for PathId {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<PathId, Self::Rejection> {
        let id = Path::<String>::from_request_parts(parts, state).await;
        Ok(PathId(id.ok().map(|Path(id)| id)))
    }
}

impl PathId {
    /// A segment id: one that is not text names no segment.
    pub(super) fn segment(self) -> Result<String, Problem> {
        self.0.ok_or_else(|| {
            let mut problem = Problem::not_found(
                "segment ids are text: this one (percent-escaped bytes that are not UTF-8) names no segment",
            );
            problem.parameter = Some("id");
            problem
        })
    }

    /// The id as text, an undecodable one as U+FFFD (which no id parses as).
    fn text(self) -> String {
        self.0.unwrap_or_else(|| "\u{fffd}".to_string())
    }
}

#[utoipa::path(post, path = "/estimate", tag = "segments",
    request_body(content = EstimateRequest, example = json!({"websites": [1], "apply_to": "registered", "conditions": {"field": "customer.group_id", "op": "eq", "value": 2}})),
    responses(
        (status = 200, description = "The exact size; nothing is stored", body = EstimateAnswer),
        (status = 422, description = "The conditions do not fit the language, or ran past the time limit", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn estimate(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Answer {
    let json = required(
        read_json(&state, &headers, body).await?,
        "{\"conditions\", \"websites\", \"apply_to\"?, \"as_of\"?}",
    )?;
    let snapshot = state.snapshot().await?;
    let service = state.service.clone();
    let (estimate, warnings) = state
        .evaluate(move || {
            let (segment, as_of) = EstimateRequest::parse(&json, snapshot.schema())?;
            let estimate = service
                .estimate(&snapshot, &segment, as_of)
                .map_err(Problem::from)?;
            Ok((estimate, website_warnings(&snapshot, &segment.websites)))
        })
        .await?;
    Ok(Json(EstimateAnswer {
        count: estimate.count,
        universe: estimate.universe,
        elapsed_us: estimate.elapsed.as_micros() as u64,
        warnings,
    })
    .into_response())
}

/// `website`: an optional website id.
fn website_param(params: &HashMap<String, String>) -> Result<Option<i64>, Problem> {
    params
        .get("website")
        .map(|w| {
            w.parse::<i64>().map_err(|_| {
                Problem::bad_parameter(
                    "website",
                    format!("website must be a website id, not {w:?}"),
                )
            })
        })
        .transpose()
}

/// The active segments a customer or visitor is in now: `{"segments": [...]}`.
async fn memberships(
    state: &AppState,
    id: &str,
    params: &HashMap<String, String>,
    kind: SubjectKind,
) -> Answer {
    let name = match kind {
        SubjectKind::Customer => "customer",
        SubjectKind::Visitor => "visitor",
    };
    let parameter = match kind {
        SubjectKind::Customer => "customer_id",
        SubjectKind::Visitor => "visitor_id",
    };
    let id: i64 = id.parse().map_err(|_| {
        Problem::bad_parameter(
            parameter,
            format!("{parameter} must be an integer, not {id:?}"),
        )
    })?;
    let website = website_param(params)?;
    let snapshot = state.snapshot().await?;
    let subject = match kind {
        SubjectKind::Customer => snapshot.customer(id),
        SubjectKind::Visitor => snapshot.visitor(id),
    }
    .ok_or_else(|| Problem::not_found(format!("{name} {id} does not exist")))?;
    let segments = snapshot
        .segments_of(subject, website)
        .into_iter()
        .map(Id::from)
        .collect();
    Ok(Json(Memberships { segments }).into_response())
}

#[derive(Clone, Copy)]
enum SubjectKind {
    Customer,
    Visitor,
}

#[utoipa::path(get, path = "/customers/{customer_id}/segments", tag = "members",
    params(
        ("customer_id" = i64, Path, description = "Customer id"),
        ("website" = Option<i64>, Query, description = "Only segments of this website"),
    ),
    responses(
        (status = 200, description = "The active segments the customer is in now", body = Memberships),
        (status = 404, description = "No such customer", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn customer_segments(
    State(state): State<Arc<AppState>>,
    customer_id: PathId,
    Query(params): Params,
) -> Answer {
    memberships(&state, &customer_id.text(), &params, SubjectKind::Customer).await
}

#[utoipa::path(get, path = "/visitors/{visitor_id}/segments", tag = "members",
    params(
        ("visitor_id" = i64, Path, description = "Visitor id"),
        ("website" = Option<i64>, Query, description = "Only segments of this website"),
    ),
    responses(
        (status = 200, description = "The active segments the visitor is in now", body = Memberships),
        (status = 404, description = "No such visitor", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn visitor_segments(
    State(state): State<Arc<AppState>>,
    visitor_id: PathId,
    Query(params): Params,
) -> Answer {
    memberships(&state, &visitor_id.text(), &params, SubjectKind::Visitor).await
}

#[utoipa::path(get, path = "/metrics", tag = "service",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
pub async fn metrics(State(state): State<Arc<AppState>>) -> Answer {
    // Segment sizes as of today: the collector reads the latest snapshot.
    state.snapshot().await?;
    let mut response = state.metrics.render().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    Ok(response)
}

#[utoipa::path(get, path = "/openapi.json", tag = "service",
    responses((status = 200, description = "This API as OpenAPI 3.1")))]
pub async fn openapi() -> Response {
    match super::openapi::ApiDoc::openapi().to_json() {
        Ok(text) => {
            let mut response = text.into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            response
        }
        Err(e) => {
            Problem::internal(format!("cannot write the OpenAPI document: {e}")).into_response()
        }
    }
}
