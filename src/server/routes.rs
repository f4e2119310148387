//! The handlers: read the request, call the service, write the answer.

use std::collections::HashMap;
use std::io::Write;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use roaring::RoaringBitmap;
use serde_json::Value as Json_;
use utoipa::OpenApi;

use super::api::*;
use super::problem::Problem;
use super::{AppState, read_json, required};
use crate::events::idempotency::IdempotencyKey;
use crate::segment::definition::{pointer_join, segment_id};
use crate::segment::{DefinitionError, ErrorKind};
use crate::service::report::{CsvExport, Cursor, XLSX_MAX_ROWS, XlsxSheets, page, write_xlsx};
use crate::service::{SetOperation, Snapshot, combine, instant_at};

pub(super) type Params = Query<HashMap<String, String>>;
pub(super) type Answer = Result<Response, Problem>;

/// Members on one JSON page, at most.
const MAX_PAGE: usize = 10_000;
const DEFAULT_PAGE: usize = 100;

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
        .route("/segments/{id}/members", get(segment_members))
        .route(
            "/segments/{id}/breakdown",
            get(super::insight::segment_breakdown),
        )
        .route("/estimate", post(estimate))
        .route("/report", post(report))
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

#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Csv,
    Xlsx,
}

/// How to page or export members: `format`, `limit`, `after`.
struct PageRequest {
    format: Format,
    limit: Option<u64>,
    after: Option<Cursor>,
}

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

/// A paging value and where it was given: the query's are text, the body's JSON.
enum Given {
    Query(String),
    Body(Json_),
}

impl Given {
    /// The value as text: a query value, or a JSON string of the body.
    fn text(&self) -> Option<&str> {
        match self {
            Given::Query(text) => Some(text),
            Given::Body(value) => value.as_str(),
        }
    }

    /// The value as given, for messages.
    fn shown(&self) -> String {
        match self {
            Given::Query(text) => format!("{text:?}"),
            Given::Body(value) => value.to_string(),
        }
    }
}

impl PageRequest {
    /// From query parameters and body keys; a problem names its place by parameter or
    /// pointer.
    fn parse(values: &HashMap<String, Given>) -> Result<PageRequest, Problem> {
        let fail = |name: &'static str, message: String| match values.get(name) {
            Some(Given::Body(_)) => invalid(&pointer_join("", name), message),
            _ => Problem::bad_parameter(name, message),
        };
        let format = match values.get("format") {
            None => Format::Json,
            Some(value) => match value.text() {
                Some("json") => Format::Json,
                Some("csv") => Format::Csv,
                Some("xlsx") => Format::Xlsx,
                _ => {
                    return Err(fail(
                        "format",
                        format!("format must be json, csv or xlsx, not {}", value.shown()),
                    ));
                }
            },
        };
        let limit = match values.get("limit") {
            None => None,
            Some(value) => {
                let most = if format == Format::Json {
                    MAX_PAGE as u64
                } else {
                    u64::MAX
                };
                // In a body, a number: "5" is refused, as the language never guesses.
                let number = match value {
                    Given::Query(text) => text.parse::<u64>().ok(),
                    Given::Body(json) => json.as_u64(),
                };
                match number {
                    Some(n) if (1..=most).contains(&n) => Some(n),
                    _ => {
                        return Err(fail(
                            "limit",
                            format!(
                                "limit must be a whole number from 1 to {most}, not {}",
                                value.shown()
                            ),
                        ));
                    }
                }
            }
        };
        let after = match values.get("after") {
            None => None,
            Some(value) => Some(
                value
                    .text()
                    .ok_or_else(|| format!("{} is not a member cursor", value.shown()))
                    .and_then(Cursor::parse)
                    .map_err(|e| fail("after", e))?,
            ),
        };
        Ok(PageRequest {
            format,
            limit,
            after,
        })
    }

    fn from_query(params: &HashMap<String, String>) -> Result<PageRequest, Problem> {
        PageRequest::parse(&paging_in_query(params))
    }
}

/// The paging parameters of a query.
fn paging_in_query(params: &HashMap<String, String>) -> HashMap<String, Given> {
    params
        .iter()
        .filter(|(k, _)| matches!(k.as_str(), "format" | "limit" | "after"))
        .map(|(k, v)| (k.clone(), Given::Query(v.clone())))
        .collect()
}

/// A download that streams: CSV a batch at a time, XLSX as the workbook is written.
fn download(
    state: &AppState,
    snapshot: &Snapshot,
    members: Arc<RoaringBitmap>,
    request: &PageRequest,
    file_stem: &str,
) -> Answer {
    let source = snapshot.member_source().map_err(Problem::from)?;
    let (body, content_type, extension) = match request.format {
        Format::Csv => {
            let export = CsvExport::new(source, members, request.after, request.limit);
            let chunks = futures::stream::iter(export.map(|chunk| chunk.map(Bytes::from)));
            (Body::from_stream(chunks), "text/csv; charset=utf-8", "csv")
        }
        _ => {
            let permit = state.exports.clone().try_acquire_owned().map_err(|_| {
                Problem::busy(format!(
                    "{} XLSX exports are running; try again when one has finished, or ask for format=csv",
                    super::EXPORTS_AT_ONCE
                ))
            })?;
            let (sender, receiver) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(4);
            let (after, limit) = (request.after, request.limit);
            tokio::task::spawn_blocking(move || {
                let _permit = permit;
                let sheets = XlsxSheets {
                    name: "members",
                    rows: XLSX_MAX_ROWS,
                };
                let mut out = ChannelWriter {
                    sender: sender.clone(),
                    buffer: Vec::new(),
                };
                let written = write_xlsx(&source, &members, after, limit, &sheets, &mut out)
                    .map_err(|e| std::io::Error::other(e.to_string()))
                    .and_then(|_| out.flush());
                if let Err(e) = written {
                    // The client sees the download cut short rather than a valid file.
                    let _ = sender.blocking_send(Err(e));
                }
            });
            let chunks = futures::stream::unfold(receiver, |mut receiver| async move {
                receiver.recv().await.map(|chunk| (chunk, receiver))
            });
            (
                Body::from_stream(chunks),
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                "xlsx",
            )
        }
    };
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(value) =
        HeaderValue::from_str(&format!("attachment; filename=\"{file_stem}.{extension}\""))
    {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

/// Sends what is written as body chunks of 64 KiB; a client gone away is a write error,
/// which stops the export.
struct ChannelWriter {
    sender: tokio::sync::mpsc::Sender<std::io::Result<Bytes>>,
    buffer: Vec<u8>,
}

impl ChannelWriter {
    fn send(&mut self) -> std::io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::take(&mut self.buffer));
        self.sender
            .blocking_send(Ok(chunk))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "client went away"))
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(bytes);
        if self.buffer.len() >= 64 * 1024 {
            self.send()?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.send()
    }
}

fn members_page(
    snapshot: &Snapshot,
    members: &RoaringBitmap,
    request: &PageRequest,
) -> Result<MembersPage, Problem> {
    let limit = request.limit.map_or(DEFAULT_PAGE, |n| n as usize);
    let source = snapshot.member_source().map_err(Problem::from)?;
    let found = page(&source, members, request.after, limit);
    Ok(MembersPage {
        count: members.len(),
        members: found.rows,
        next: found.next.map(|c| c.to_string()),
    })
}

#[utoipa::path(get, path = "/segments/{id}/members", tag = "members",
    params(
        ("id" = String, Path, description = "Segment id"),
        ("limit" = Option<u64>, Query, description = "Members per page (JSON: 1 to 10000, default 100; downloads: all unless given)"),
        ("after" = Option<String>, Query, description = "The `next` of the previous page"),
        ("format" = Option<String>, Query, description = "json (default), csv or xlsx"),
    ),
    responses(
        (status = 200, description = "A page of members, or a CSV / XLSX download of them", body = SegmentMembers),
        (status = 404, description = "No such segment", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn segment_members(
    State(state): State<Arc<AppState>>,
    id: PathId,
    Query(params): Params,
) -> Answer {
    let id = id.segment()?;
    let snapshot = state.snapshot().await?;
    let stored = snapshot.segment(&id)?;
    let request = PageRequest::from_query(&params)?;
    if request.format != Format::Json {
        let stem = format!("segment-{}-members", stored.key);
        return download(&state, &snapshot, stored.members.bitmap(), &request, &stem);
    }
    Ok(Json(SegmentMembers {
        segment: Id::from(&stored.key),
        page: members_page(&snapshot, &stored.members.bitmap(), &request)?,
    })
    .into_response())
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

#[utoipa::path(post, path = "/report", tag = "members",
    request_body(content = ReportRequest, example = json!({"segments": ["wholesale_de"], "set": "union", "limit": 10})),
    params(
        ("limit" = Option<u64>, Query, description = "As for members (in the query or the body, not both)"),
        ("after" = Option<String>, Query, description = "As for members"),
        ("format" = Option<String>, Query, description = "As for members"),
    ),
    responses(
        (status = 200, description = "The union or intersection of segments: count and members", body = ReportAnswer),
        (status = 404, description = "A segment does not exist (pointer names it)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn report(
    State(state): State<Arc<AppState>>,
    Query(params): Params,
    headers: HeaderMap,
    body: Body,
) -> Answer {
    let json = required(
        read_json(&state, &headers, body).await?,
        "{\"segments\": [id, ...], \"set\": \"union\" | \"intersection\"}",
    )?;
    let Json_::Object(object) = json else {
        return Err(invalid(
            "",
            "a report is a JSON object: {\"segments\": [id, ...], \"set\": \"union\" | \"intersection\"}",
        ));
    };
    let mut paging = paging_in_query(&params);
    let mut ids = None;
    let mut set = SetOperation::Union;
    for (key, value) in &object {
        match key.as_str() {
            "segments" => ids = Some(report_ids(value)?),
            "set" => {
                set = match value.as_str() {
                    Some("union") => SetOperation::Union,
                    Some("intersection") => SetOperation::Intersection,
                    _ => {
                        return Err(invalid(
                            "/set",
                            format!("set must be \"union\" or \"intersection\", not {value}"),
                        ));
                    }
                }
            }
            "format" | "limit" | "after" => {
                if paging.contains_key(key) {
                    return Err(invalid(
                        &pointer_join("", key),
                        format!(
                            "{key} is given both in the query and in the body; give it in one place"
                        ),
                    ));
                }
                paging.insert(key.clone(), Given::Body(value.clone()));
            }
            other => {
                return Err(invalid(
                    &pointer_join("", other),
                    format!(
                        "unknown key {other:?}: a report has segments, set, format, limit and after"
                    ),
                ));
            }
        }
    }
    let request = PageRequest::parse(&paging)?;
    let Some(ids) = ids else {
        return Err(invalid(
            "",
            "missing key \"segments\": the segments to combine",
        ));
    };
    let snapshot = state.snapshot().await?;
    let (listed, distinct) = stored_segments(&snapshot, &ids)?;
    // Combining bitmaps of millions of members is evaluation work: off the async threads.
    let combined = snapshot.clone();
    let members = Arc::new(
        state
            .evaluate(move || combine(&combined, &distinct, set).map_err(Problem::from))
            .await?,
    );
    if request.format != Format::Json {
        return download(&state, &snapshot, members, &request, "report-members");
    }
    Ok(Json(ReportAnswer {
        segments: listed,
        set: match set {
            SetOperation::Union => "union",
            SetOperation::Intersection => "intersection",
        },
        page: members_page(&snapshot, &members, &request)?,
    })
    .into_response())
}

/// The segments `ids` names, each once in the order first named: their ids as answers
/// show them and as the service finds them. One that does not exist is a 404 whose
/// pointer names it (`/segments/<i>`).
pub(super) fn stored_segments(
    snapshot: &Snapshot,
    ids: &[String],
) -> Result<(Vec<Id>, Vec<String>), Problem> {
    let mut listed: Vec<Id> = Vec::with_capacity(ids.len());
    let mut distinct = Vec::with_capacity(ids.len());
    for (i, id) in ids.iter().enumerate() {
        let stored = snapshot.segment(id).map_err(|_| {
            Problem::not_found(format!("segment {id} does not exist")).at(&format!("/segments/{i}"))
        })?;
        let id = Id::from(&stored.key);
        if !listed.contains(&id) {
            listed.push(id);
            distinct.push(stored.id());
        }
    }
    Ok((listed, distinct))
}

/// Segments one report may combine.
const MAX_REPORT_SEGMENTS: usize = 1_000;

pub(super) fn report_ids(value: &Json_) -> Result<Vec<String>, Problem> {
    let list = value.as_array().filter(|l| !l.is_empty()).ok_or_else(|| {
        invalid(
            "/segments",
            "segments must be a non-empty list of segment ids",
        )
    })?;
    if list.len() > MAX_REPORT_SEGMENTS {
        return Err(Problem::invalid(&DefinitionError {
            pointer: "/segments".to_string(),
            kind: ErrorKind::Limit,
            message: format!(
                "a report combines at most {MAX_REPORT_SEGMENTS} segments; this one names {}",
                list.len()
            ),
        }));
    }
    list.iter()
        .enumerate()
        .map(|(i, item)| {
            segment_id(item).ok_or_else(|| {
                invalid(
                    &format!("/segments/{i}"),
                    format!(
                        "{item} is not a segment id (a number, or letters, digits, '_' and '-')"
                    ),
                )
            })
        })
        .collect()
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
