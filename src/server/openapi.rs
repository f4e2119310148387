//! The OpenAPI document of the API (`GET /openapi.json`), generated from the handlers'
//! annotations and the answer types, so it cannot drift from the code.

use utoipa::OpenApi;

use super::api::*;
use super::problem::Problem;
use super::{changes, routes};
use crate::service::report::{CustomerRow, MemberRow};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "segmint",
        description = "Customer segments evaluated over Arrow columns and roaring bitmaps. Errors are application/problem+json. With a token, every request but GET /health needs 'Authorization: Bearer <token>'."
    ),
    paths(
        routes::health,
        routes::schema,
        routes::list_segments,
        routes::create_segment,
        routes::get_segment,
        routes::update_segment,
        routes::delete_segment,
        routes::refresh_segment,
        routes::refresh_all,
        routes::segment_members,
        routes::estimate,
        routes::report,
        routes::customer_segments,
        routes::visitor_segments,
        routes::post_events,
        changes::changes,
        routes::metrics,
        routes::openapi,
    ),
    components(schemas(Problem, MemberRow, CustomerRow, Id))
)]
pub struct ApiDoc;
