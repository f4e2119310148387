//! The OpenAPI document of the API (`GET /openapi.json`), generated from the handlers'
//! annotations and the answer types, so it cannot drift from the code.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use super::api::*;
use super::insight::{self, BreakdownAnswer, BreakdownGroup, OverlapAnswer, OverlapRequest};
use super::problem::Problem;
use super::{changes, exports, routes};
use crate::service::report::{CustomerRow, MemberRow};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "segmint",
        description = "Customer segments evaluated over Arrow columns and roaring bitmaps. Errors are application/problem+json. With a token, every request but GET /health and the console's page and files (GET /, /console/...) needs 'Authorization: Bearer <token>'."
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
        exports::segment_members,
        routes::estimate,
        exports::report,
        insight::segment_breakdown,
        insight::segment_overlap,
        routes::customer_segments,
        routes::visitor_segments,
        routes::post_events,
        changes::changes,
        routes::metrics,
        routes::openapi,
    ),
    components(schemas(Problem, MemberRow, CustomerRow, Id, BreakdownAnswer, BreakdownGroup, OverlapAnswer, OverlapRequest)),
    modifiers(&BearerToken)
)]
pub struct ApiDoc;

/// The token (`serve --token`): a bearer scheme every operation needs but `GET /health`,
/// each answering 401 without it.
struct BearerToken;

const SCHEME: &str = "bearer";

impl Modify for BearerToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            SCHEME,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "The server's --token, as 'Authorization: Bearer <token>' (any case of 'Bearer'). A server started without --token needs none.",
                    ))
                    .build(),
            ),
        );
        openapi.security = Some(vec![SecurityRequirement::new(SCHEME, Vec::<String>::new())]);
        let unauthorized = ResponseBuilder::new()
            .description("Without the token (when the server has one)")
            .content(
                "application/problem+json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("Problem")))
                    .build(),
            )
            .build();
        for (path, item) in openapi.paths.paths.iter_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for operation in operations.into_iter().flatten() {
                if path == "/health" {
                    // An empty requirement: no credentials needed.
                    operation.security = Some(vec![SecurityRequirement::default()]);
                } else {
                    operation
                        .responses
                        .responses
                        .insert("401".to_string(), unauthorized.clone().into());
                }
            }
        }
    }
}
