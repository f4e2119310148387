//! `GET /changes`: the change feed ([`crate::feed`]) as pages of JSON, or followed live as
//! Server-Sent Events when the client accepts `text/event-stream` (what a browser's
//! `EventSource` sends; it resumes with `Last-Event-ID`, which is the change's number).

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::Stream;

use super::AppState;
use super::api::{ChangesPage, FeedChange};
use super::problem::Problem;
use crate::feed::{FeedError, Page};
use crate::service::SegmentKey;

/// Changes on one JSON page, at most.
const MAX_PAGE: usize = 10_000;
const DEFAULT_PAGE: usize = 1_000;
/// Changes read from the feed at a time while following it.
const STREAM_BATCH: usize = 1_000;

struct FeedRequest {
    after: u64,
    limit: usize,
    segment: Option<SegmentKey>,
}

impl FeedRequest {
    fn of(params: &HashMap<String, String>, headers: &HeaderMap) -> Result<FeedRequest, Problem> {
        let number = |name: &'static str, text: &str| {
            text.parse::<u64>().map_err(|_| {
                Problem::bad_parameter(name, format!("{name}={text:?} is not a whole number"))
            })
        };
        // A reconnecting EventSource says where it stopped.
        let resumed = headers
            .get("last-event-id")
            .map(|v| {
                let text = v.to_str().unwrap_or_default();
                text.parse::<u64>().map_err(|_| {
                    Problem::bad_parameter(
                        "Last-Event-ID",
                        format!("Last-Event-ID {text:?} is not a change's number"),
                    )
                })
            })
            .transpose()?;
        let after = match (resumed, params.get("after")) {
            (Some(after), _) => after,
            (None, Some(text)) => number("after", text)?,
            (None, None) => 0,
        };
        let limit = match params.get("limit") {
            Some(text) => {
                let limit = number("limit", text)?;
                if !(1..=MAX_PAGE as u64).contains(&limit) {
                    return Err(Problem::bad_parameter(
                        "limit",
                        format!("limit={limit} is out of range: 1 to {MAX_PAGE}"),
                    ));
                }
                limit as usize
            }
            None => DEFAULT_PAGE,
        };
        Ok(FeedRequest {
            after,
            limit,
            segment: params.get("segment").map(|id| SegmentKey::of(id)),
        })
    }
}

#[utoipa::path(get, path = "/changes", tag = "changes",
    params(
        ("after" = Option<u64>, Query, description = "The `next` of the previous page, or the last `seq` seen (default 0: from the oldest kept)"),
        ("limit" = Option<u64>, Query, description = "Changes per page: 1 to 10000, default 1000"),
        ("segment" = Option<String>, Query, description = "Only this segment's changes"),
    ),
    responses(
        (status = 200, description = "Membership changes in order, or with 'Accept: text/event-stream' a stream of them as Server-Sent Events (id: seq, data: one change), following the feed live", body = ChangesPage),
        (status = 400, description = "A bad parameter, or `after` past the newest change", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "Changes after `after` are no longer kept: read the members again and follow on from the oldest kept", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn changes(
    State(state): State<Arc<AppState>>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let request = FeedRequest::of(&params, &headers)?;
    let streamed = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/event-stream"));
    if streamed {
        // Refused at once, not as the stream's first event, when it cannot start.
        page(&state, &request, 1)?;
        return Ok(Sse::new(follow(state, request))
            .keep_alive(KeepAlive::default())
            .into_response());
    }
    let page = page(&state, &request, request.limit)?;
    Ok(Json(ChangesPage {
        next: page.next,
        changes: page.changes.iter().map(FeedChange::from).collect(),
    })
    .into_response())
}

fn page(state: &AppState, request: &FeedRequest, limit: usize) -> Result<Page, Problem> {
    state
        .service
        .feed()
        .page(request.after, limit, request.segment.as_ref())
        .map_err(|e| match e {
            FeedError::Gone { .. } => Problem::new(
                axum::http::StatusCode::GONE,
                "changes-gone",
                "Changes no longer kept",
                e.to_string(),
            ),
            FeedError::Ahead { .. } => Problem::bad_parameter("after", e.to_string()),
        })
}

/// The feed from `request.after` on, as it grows, until the server stops.
fn follow(
    state: Arc<AppState>,
    request: FeedRequest,
) -> impl Stream<Item = Result<Event, Infallible>> {
    struct Following {
        state: Arc<AppState>,
        request: FeedRequest,
        newest: tokio::sync::watch::Receiver<u64>,
        stopping: tokio::sync::watch::Receiver<bool>,
        ready: VecDeque<Event>,
        ended: bool,
    }
    let following = Following {
        newest: state.service.feed().subscribe(),
        stopping: state.stopping.subscribe(),
        state,
        request,
        ready: VecDeque::new(),
        ended: false,
    };
    futures::stream::unfold(following, |mut f| async move {
        loop {
            if let Some(event) = f.ready.pop_front() {
                return Some((Ok(event), f));
            }
            if f.ended {
                return None;
            }
            // Seen before reading, so a change committed after the read wakes the wait.
            f.newest.borrow_and_update();
            match page(&f.state, &f.request, STREAM_BATCH) {
                Ok(page) => {
                    f.request.after = page.next;
                    f.ready.extend(page.changes.iter().map(|change| {
                        let data =
                            serde_json::to_string(&FeedChange::from(change)).unwrap_or_default();
                        Event::default().id(change.seq.to_string()).data(data)
                    }));
                }
                Err(problem) => {
                    // The consumer fell behind the retention while following.
                    let data = serde_json::to_string(&problem).unwrap_or_default();
                    f.ready
                        .push_back(Event::default().event("error").data(data));
                    f.ended = true;
                }
            }
            if !f.ready.is_empty() || f.ended {
                continue;
            }
            tokio::select! {
                changed = f.newest.changed() => if changed.is_err() { return None },
                _ = f.stopping.wait_for(|stopping| *stopping) => return None,
            }
        }
    })
}
