//! The admin console: a page and its scripts, compiled into the binary so that
//! `segmint serve` needs nothing else. The page holds no data: everything it shows it
//! asks the API for, with the token the user types (kept in the browser's session
//! storage), so these files are served without a token.

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::problem::Problem;

/// The console's files under `/console/`: name, content type, text.
const FILES: [(&str, &str, &str); 7] = [
    ("app.js", JS, include_str!("console/app.js")),
    ("api.js", JS, include_str!("console/api.js")),
    ("dom.js", JS, include_str!("console/dom.js")),
    ("editor.js", JS, include_str!("console/editor.js")),
    ("views.js", JS, include_str!("console/views.js")),
    ("charts.js", JS, include_str!("console/charts.js")),
    (
        "console.css",
        "text/css; charset=utf-8",
        include_str!("console/console.css"),
    ),
];

const JS: &str = "text/javascript; charset=utf-8";

const PAGE: &str = include_str!("console/index.html");

/// Scripts and styles from this server only, and nothing the page did not ask for.
const POLICY: &str = "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

/// Whether a path is one of the console's (served without the token).
pub(super) fn is_console(path: &str) -> bool {
    path == "/"
        || path
            .strip_prefix("/console/")
            .is_some_and(|name| FILES.iter().any(|f| f.0 == name))
}

pub(super) fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(page))
        .route("/console/{file}", get(file))
}

async fn page() -> Response {
    answer("text/html; charset=utf-8", PAGE)
}

async fn file(Path(name): Path<String>) -> Response {
    match FILES.iter().find(|f| f.0 == name) {
        Some((_, content_type, text)) => answer(content_type, text),
        None => Problem::not_found(format!("the console has no file {name:?}")).into_response(),
    }
}

fn answer(content_type: &'static str, text: &'static str) -> Response {
    let mut response = (StatusCode::OK, text).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}
