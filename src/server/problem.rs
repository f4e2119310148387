//! Errors as `application/problem+json` (RFC 9457): `type`, `title`, `status`, `detail`,
//! and `pointer` (the JSON Pointer of the offending part of the request body) or
//! `parameter` (the offending query parameter) where one is at fault.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::segment::{DefinitionError, ErrorKind};
use crate::service::ServiceError;

pub const PROBLEM_JSON: &str = "application/problem+json";

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem, e.g. `urn:segmint:problem:invalid-definition`.
    #[serde(rename = "type", serialize_with = "problem_uri")]
    #[schema(value_type = String)]
    pub kind: &'static str,
    pub title: &'static str,
    pub status: u16,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pointer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameter: Option<&'static str>,
    /// Seconds after which a retry may succeed (sent as `Retry-After`).
    #[serde(skip)]
    pub retry_after: Option<u32>,
}

impl Problem {
    pub fn new(
        status: StatusCode,
        slug: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Problem {
        Problem {
            kind: slug,
            title,
            status: status.as_u16(),
            detail: detail.into(),
            pointer: None,
            parameter: None,
            retry_after: None,
        }
    }

    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    pub fn at(mut self, pointer: &str) -> Problem {
        self.pointer = Some(pointer.to_string());
        self
    }

    pub fn bad_parameter(parameter: &'static str, detail: impl Into<String>) -> Problem {
        let mut problem = Problem::new(
            StatusCode::BAD_REQUEST,
            "bad-parameter",
            "Bad query parameter",
            detail,
        );
        problem.parameter = Some(parameter);
        problem
    }

    pub fn malformed_json(detail: impl Into<String>) -> Problem {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "malformed-json",
            "Malformed JSON",
            detail,
        )
        .at("")
    }

    pub fn not_found(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::NOT_FOUND, "not-found", "Not found", detail)
    }

    pub fn unauthorized(detail: impl Into<String>) -> Problem {
        Problem::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Unauthorized",
            detail,
        )
    }

    /// A body that JSON-parses but does not fit: 422, at its pointer.
    pub fn invalid(error: &DefinitionError) -> Problem {
        let (slug, title) = match error.kind {
            ErrorKind::Limit => ("limit", "Past a limit"),
            ErrorKind::Cycle => ("cycle", "in_segment cycle"),
            ErrorKind::UnknownSegment => ("unknown-segment", "Unknown segment"),
            _ => ("invalid-definition", "Invalid request body"),
        };
        Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            slug,
            title,
            &error.message,
        )
        .at(&error.pointer)
    }

    /// Overloaded: every evaluation slot is taken.
    pub fn busy(detail: impl Into<String>) -> Problem {
        let mut problem = Problem::new(StatusCode::SERVICE_UNAVAILABLE, "busy", "Busy", detail);
        problem.retry_after = Some(1);
        problem
    }

    pub fn internal(detail: impl Into<String>) -> Problem {
        Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
            detail,
        )
    }
}

impl From<ServiceError> for Problem {
    fn from(error: ServiceError) -> Problem {
        let detail = error.to_string();
        match error {
            ServiceError::Invalid(e) => Problem::invalid(&e),
            ServiceError::Event(e) => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-event",
                "Invalid event",
                &e.message,
            )
            .at(&e.pointer),
            ServiceError::NotFound(_) => Problem::not_found(detail),
            ServiceError::Conflict(_) => {
                Problem::new(StatusCode::CONFLICT, "conflict", "Conflict", detail)
            }
            ServiceError::KeyReused(_) => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency-key-reused",
                "Idempotency key reused",
                detail,
            ),
            // Too costly as written: the client can narrow it, so it is theirs to change.
            ServiceError::TimeLimit(_) => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "time-limit",
                "Evaluation time limit exceeded",
                format!("{detail}; narrow the conditions or raise serve --time-limit"),
            ),
            // The disk failed (full, or an I/O error): the change is refused, nothing was
            // changed, and reads go on; a client retries once the operator made room.
            ServiceError::State(_) => {
                let mut problem = Problem::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "storage-unavailable",
                    "Storage unavailable",
                    format!(
                        "{detail}; nothing was changed (reads go on; try the change again once the state directory can be written)"
                    ),
                );
                problem.retry_after = Some(5);
                problem
            }
            ServiceError::Engine(_) => Problem::internal(detail),
        }
    }
}

fn problem_uri<S: serde::Serializer>(slug: &&'static str, out: S) -> Result<S::Ok, S::Error> {
    out.serialize_str(&format!("urn:segmint:problem:{slug}"))
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut response = (status, body).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"segmint\""),
            );
        }
        response
    }
}
