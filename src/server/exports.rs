//! Members paged as JSON or downloaded as CSV or XLSX: one segment's
//! (`/segments/{id}/members`) or a union or intersection of several (`/report`).

use std::collections::HashMap;
use std::io::Write;
use std::sync::Arc;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::IntoResponse;
use roaring::RoaringBitmap;
use serde_json::Value as Json_;

use super::api::*;
use super::problem::Problem;
use super::routes::{Answer, Params, PathId, invalid};
use super::{AppState, read_json, required};
use crate::segment::definition::{pointer_join, segment_id};
use crate::segment::{DefinitionError, ErrorKind};
use crate::service::report::{CsvExport, Cursor, XLSX_MAX_ROWS, XlsxSheets, page, write_xlsx};
use crate::service::{SetOperation, Snapshot, combine};

/// Members on one JSON page, at most.
const MAX_PAGE: usize = 10_000;
const DEFAULT_PAGE: usize = 100;

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
