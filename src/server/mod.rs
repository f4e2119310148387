//! The HTTP API of `shared/spec/interface.md`, thin over [`crate::service`]: axum routes
//! that read the body, call the service, and write JSON or `application/problem+json`.
//!
//! - Every error is problem+json, also those axum makes itself (unknown route 404, wrong
//!   method 405, unreadable path or query 400): one middleware rewrites them.
//! - Evaluations run on blocking threads, at most one per core at a time, each within
//!   the service's time limit, so lookups and health checks keep answering while a heavy
//!   definition is evaluated.
//! - With a token, every request but `GET /health` needs `Authorization: Bearer <token>`,
//!   compared in constant time.

pub mod api;
mod changes;
mod connections;
mod console;
mod exports;
mod insight;
pub mod metrics;
pub mod openapi;
pub mod problem;
mod routes;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;
use tokio::sync::Semaphore;

use crate::segment::definition::{MAX_DEFINITION_BYTES, parse_json};
use crate::segment::{DefinitionError, ErrorKind};
use crate::service::{Service, Snapshot};
pub use connections::ConnectionLimits;
use metrics::Metrics;
use problem::{PROBLEM_JSON, Problem};

pub struct ServerConfig {
    /// Required as `Authorization: Bearer <token>` on every request but `GET /health`.
    pub token: Option<String>,
    /// Largest request body, in bytes.
    pub body_limit: usize,
    /// How long a client may take to send its body.
    pub body_timeout: Duration,
    /// Evaluations running at once; more wait their turn.
    pub evaluations: usize,
    /// Header timeout and the cap on open connections.
    pub connections: ConnectionLimits,
}

impl Default for ServerConfig {
    fn default() -> ServerConfig {
        ServerConfig {
            token: None,
            body_limit: MAX_DEFINITION_BYTES,
            body_timeout: Duration::from_secs(30),
            evaluations: std::thread::available_parallelism().map_or(2, |n| n.get()),
            connections: ConnectionLimits::default(),
        }
    }
}

pub struct AppState {
    pub service: Arc<Service>,
    pub config: ServerConfig,
    pub metrics: Metrics,
    evaluations: Semaphore,
    /// XLSX exports running at once (each writes temporary files of all its rows).
    pub(crate) exports: Arc<Semaphore>,
    /// Set once the server stops: streams that would never end (following the change
    /// feed) end, so the open requests can finish.
    stopping: tokio::sync::watch::Sender<bool>,
}

/// XLSX exports that may run at once; more get 503.
pub(crate) const EXPORTS_AT_ONCE: usize = 2;

impl AppState {
    pub fn new(service: Arc<Service>, config: ServerConfig) -> Arc<AppState> {
        Arc::new(AppState {
            metrics: Metrics::new(service.clone()),
            evaluations: Semaphore::new(config.evaluations.max(1)),
            exports: Arc::new(Semaphore::new(EXPORTS_AT_ONCE)),
            stopping: tokio::sync::watch::Sender::new(false),
            service,
            config,
        })
    }

    /// The latest snapshot, current for the clock's day (re-matching first if the day
    /// has changed since the last one).
    pub async fn snapshot(&self) -> Result<Arc<Snapshot>, Problem> {
        let snapshot = self.service.snapshot();
        if self.service.is_current(&snapshot) {
            return Ok(snapshot);
        }
        let service = self.service.clone();
        run_blocking(move || service.current().map_err(Problem::from)).await
    }

    /// Runs evaluation work on a blocking thread, once an evaluation slot is free.
    pub async fn evaluate<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, Problem> + Send + 'static,
    ) -> Result<T, Problem> {
        self.evaluate_on(1, work).await
    }

    /// Runs evaluation work that uses every core (bulk re-matching) once every slot is free.
    pub async fn evaluate_on_all_cores<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, Problem> + Send + 'static,
    ) -> Result<T, Problem> {
        self.evaluate_on(self.config.evaluations.max(1), work).await
    }

    async fn evaluate_on<T: Send + 'static>(
        &self,
        slots: usize,
        work: impl FnOnce() -> Result<T, Problem> + Send + 'static,
    ) -> Result<T, Problem> {
        let wait = self.service.time_limit().unwrap_or(Duration::from_secs(60));
        let acquire = self.evaluations.acquire_many(slots as u32);
        let Ok(Ok(_permit)) = tokio::time::timeout(wait, acquire).await else {
            return Err(Problem::busy(format!(
                "every evaluation slot stayed busy for {wait:?}; try again shortly"
            )));
        };
        run_blocking(work).await
    }
}

async fn run_blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, Problem> + Send + 'static,
) -> Result<T, Problem> {
    tokio::task::spawn_blocking(work)
        .await
        .unwrap_or_else(|e| Err(Problem::internal(format!("the evaluation failed: {e}"))))
}

/// The router with every route of the API and its middleware.
pub fn router(state: Arc<AppState>) -> Router {
    // Route layers run once a route matched: the token check, then (outside it) the tag
    // that names the route in metrics, so refused requests count under their route.
    routes::routes()
        .merge(console::routes())
        .route_layer(middleware::from_fn_with_state(state.clone(), authorize))
        .route_layer(middleware::from_fn(tag_route))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            authorize_unmatched,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

/// Refuses to listen beyond this machine without a token.
pub fn check_bind(address: &SocketAddr, token: Option<&str>) -> Result<(), String> {
    if !address.ip().is_loopback() && token.is_none_or(str::is_empty) {
        return Err(format!(
            "refusing to listen on {address} without a token: anyone who can reach it could read and change segments; pass --token T (clients send 'Authorization: Bearer T') or bind a loopback address such as 127.0.0.1"
        ));
    }
    Ok(())
}

/// Serves until `shutdown` completes; a task re-matches time-dependent segments as soon
/// as the clock's UTC day changes, so no request pays for it, and publishes a fold or a
/// checkpoint done in the background once it is done.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let ticker = tokio::spawn(follow_days(state.service.clone()));
    let stopping = state.stopping.clone();
    let shutdown = async move {
        shutdown.await;
        stopping.send_replace(true);
    };
    let limits = state.config.connections;
    let result = connections::serve_connections(listener, router(state), limits, shutdown).await;
    ticker.abort();
    result
}

/// Re-matches time-dependent segments when the clock's day changes: checked every
/// second, so a new day is at most a second old before its memberships are ready.
async fn follow_days(service: Arc<Service>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if service.background_work_done() {
            let service = service.clone();
            let finished =
                tokio::task::spawn_blocking(move || service.finish_background_work(false)).await;
            if let Err(e) = finished {
                tracing::error!("publishing a fold or a checkpoint failed: {e}");
            }
        }
        if service.is_current(&service.snapshot()) {
            continue;
        }
        let service = service.clone();
        let outcome = tokio::task::spawn_blocking(move || service.current()).await;
        match outcome {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::error!("cannot re-match segments for the new day: {e}"),
            Err(e) => tracing::error!("re-matching segments for the new day failed: {e}"),
        }
    }
}

/// The route a response came from, for metrics (ids stay out of the labels).
#[derive(Clone)]
struct RouteName(String);

async fn tag_route(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string());
    let mut response = next.run(request).await;
    if let Some(route) = route {
        response.extensions_mut().insert(RouteName(route));
    }
    response
}

async fn authorize(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    match refusal(&state, &request) {
        Some(refused) => refused.into_response(),
        None => next.run(request).await,
    }
}

/// A request no route matched gets 401, not 404 or 405, without the token: the server
/// says nothing about its routes before authentication. (Matched routes are checked
/// before they run, by [`authorize`].)
async fn authorize_unmatched(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let refused = refusal(&state, &request);
    let response = next.run(request).await;
    let unmatched = response.extensions().get::<RouteName>().is_none();
    match refused {
        Some(refused) if unmatched => refused.into_response(),
        _ => response,
    }
}

/// Why a request may not go on, if the server has a token it lacks.
fn refusal(state: &AppState, request: &Request) -> Option<Problem> {
    let token = state.config.token.as_deref()?;
    // The console's files hold no data: the page asks for the token itself.
    if request.uri().path() == "/health" || console::is_console(request.uri().path()) {
        return None;
    }
    // `Bearer <token>`; the scheme is case-insensitive (RFC 9110, section 11.1).
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, credentials)| credentials.trim_start_matches(' '));
    match given {
        Some(given) if bool::from(given.as_bytes().ct_eq(token.as_bytes())) => None,
        Some(_) => Some(Problem::unauthorized("the bearer token is wrong")),
        None => Some(Problem::unauthorized(
            "this server needs 'Authorization: Bearer <token>' on every request but GET /health",
        )),
    }
}

/// Times and counts every response, and turns the errors axum makes itself (plain-text
/// rejections, empty 404 and 405) into problem+json.
async fn observe(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let response = next.run(request).await;
    let route = response
        .extensions()
        .get::<RouteName>()
        .map_or("unmatched".to_string(), |r| r.0.clone());
    let response = if response.status().as_u16() >= 400 && !is_problem(response.headers()) {
        as_problem(response, &method, &path).await
    } else {
        response
    };
    state.metrics.observe(
        method.as_str(),
        &route,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

fn is_problem(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(PROBLEM_JSON.as_bytes()))
}

async fn as_problem(response: Response, method: &axum::http::Method, path: &str) -> Response {
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 64 * 1024)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    let status = parts.status;
    let problem = match status {
        StatusCode::NOT_FOUND => Problem::not_found(format!(
            "no route {method} {path}; GET /openapi.json lists the API"
        )),
        StatusCode::METHOD_NOT_ALLOWED => Problem::new(
            status,
            "method-not-allowed",
            "Method not allowed",
            format!(
                "{method} is not allowed on {path}; the Allow header lists the methods that are"
            ),
        ),
        _ => Problem::new(
            status,
            "bad-request",
            status.canonical_reason().unwrap_or("Error"),
            if text.is_empty() {
                status.to_string()
            } else {
                text
            },
        ),
    };
    let mut rewritten = problem.into_response();
    for name in [header::ALLOW, header::WWW_AUTHENTICATE, header::RETRY_AFTER] {
        if let Some(value) = parts.headers.get(&name) {
            rewritten.headers_mut().insert(name, value.clone());
        }
    }
    rewritten
}

/// Reads a JSON request body within the size and time limits. An empty body is `None`.
pub async fn read_json(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<Option<serde_json::Value>, Problem> {
    if let Some(kind) = headers.get(header::CONTENT_TYPE) {
        let kind = kind.to_str().unwrap_or("").to_ascii_lowercase();
        let essence = kind.split(';').next().unwrap_or("").trim();
        if essence != "application/json" && !essence.ends_with("+json") {
            return Err(Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported media type",
                format!("the body must be JSON (Content-Type: application/json), not {essence}"),
            ));
        }
    }
    let limit = state.config.body_limit;
    let read = tokio::time::timeout(state.config.body_timeout, read_limited(body, limit)).await;
    let bytes = match read {
        Err(_) => {
            return Err(Problem::new(
                StatusCode::REQUEST_TIMEOUT,
                "body-timeout",
                "Request timeout",
                format!(
                    "the request body did not arrive within {:?}",
                    state.config.body_timeout
                ),
            ));
        }
        Ok(Err(BodyError::TooLarge)) => {
            return Err(Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body-too-large",
                "Body too large",
                format!("the request body is larger than the limit of {limit} bytes"),
            ));
        }
        Ok(Err(BodyError::Unreadable(e))) => {
            return Err(Problem::new(
                StatusCode::BAD_REQUEST,
                "unreadable-body",
                "Unreadable body",
                format!("cannot read the request body: {e}"),
            ));
        }
        Ok(Ok(bytes)) => bytes,
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    parse_json(&bytes).map(Some).map_err(|e| match e.kind {
        ErrorKind::Syntax => Problem::malformed_json(e.message),
        _ => Problem::invalid(&e),
    })
}

enum BodyError {
    TooLarge,
    Unreadable(axum::Error),
}

/// Reads a body of at most `limit` bytes. Past the limit the rest is read and dropped (up
/// to four times the limit), so that a client still sending gets the 413 instead of a
/// broken connection.
async fn read_limited(mut body: Body, limit: usize) -> Result<Vec<u8>, BodyError> {
    use http_body_util::BodyExt;
    let mut bytes = Vec::new();
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(BodyError::Unreadable)?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        seen += data.len();
        if seen <= limit {
            bytes.extend_from_slice(&data);
        } else if seen > limit.saturating_mul(4) {
            break;
        }
    }
    if seen > limit {
        return Err(BodyError::TooLarge);
    }
    Ok(bytes)
}

/// A body that must be present.
pub fn required(body: Option<serde_json::Value>, what: &str) -> Result<serde_json::Value, Problem> {
    body.ok_or_else(|| {
        Problem::invalid(&DefinitionError {
            pointer: String::new(),
            kind: ErrorKind::Syntax,
            message: format!("the request needs a JSON body: {what}"),
        })
    })
}
