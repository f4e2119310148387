//! What the console shows about stored segments beyond their members: a segment's
//! members broken down by a field, and how much segments overlap.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use serde::Serialize;
use serde_json::Value as Json_;
use utoipa::ToSchema;

use super::api::Id;
use super::exports::{report_ids, stored_segments};
use super::problem::Problem;
use super::routes::{Answer, Params, PathId, invalid};
use super::{AppState, read_json, required};
use crate::segment::definition::pointer_join;
use crate::service::breakdown::{GroupBy, GroupValue, breakdown};
use crate::service::overlap::overlap;

/// Segments one overlap matrix may compare: every pair is intersected.
pub const MAX_OVERLAP_SEGMENTS: usize = 50;

#[derive(Serialize, ToSchema)]
pub struct BreakdownAnswer {
    pub segment: Id,
    /// The field counted by, as given.
    pub by: String,
    /// Members now (customers and visitors).
    pub count: u64,
    /// Customers among them: the groups' counts and `other` add up to it.
    pub customers: u64,
    /// Visitors among them, who have no customer fields.
    pub visitors: u64,
    /// Most members first; at most 100.
    pub groups: Vec<BreakdownGroup>,
    /// Customers in the smaller groups left out.
    pub other: u64,
}

#[derive(Serialize, ToSchema)]
pub struct BreakdownGroup {
    /// The field's value; null for customers without one (or, for `address.*`, without a
    /// default billing address).
    #[schema(value_type = Object)]
    pub value: Json_,
    pub count: u64,
}

#[utoipa::path(get, path = "/segments/{id}/breakdown", tag = "members",
    params(
        ("id" = String, Path, description = "Segment id"),
        ("by" = String, Query, description = "customer.<column> (group_id, gender, website_id, a custom attribute ...) or address.<column> of the default billing address (country_id ...): an id, int, bool or string field"),
    ),
    responses(
        (status = 200, description = "The members counted by the field's values", body = BreakdownAnswer),
        (status = 400, description = "by is missing or names no field to group by", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such segment", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn segment_breakdown(
    State(state): State<Arc<AppState>>,
    id: PathId,
    Query(params): Params,
) -> Answer {
    let id = id.segment()?;
    let snapshot = state.snapshot().await?;
    let stored = snapshot.segment(&id)?.clone();
    if let Some(unknown) = params.keys().find(|k| *k != "by") {
        return Err(Problem::bad_parameter(
            "by",
            format!("unknown parameter {unknown:?}: a breakdown takes only by"),
        ));
    }
    let path = params.get("by").ok_or_else(|| {
        Problem::bad_parameter(
            "by",
            "by is missing: the field to count members by, e.g. by=customer.group_id",
        )
    })?;
    let by =
        GroupBy::parse(path, snapshot.schema()).map_err(|e| Problem::bad_parameter("by", e))?;
    let source = snapshot.member_source().map_err(Problem::from)?;
    let members = stored.members.bitmap();
    // One pass over every member: evaluation work, off the async threads.
    let counted = state
        .evaluate(move || Ok(breakdown(&source, &members, &by)))
        .await?;
    Ok(Json(BreakdownAnswer {
        segment: Id::from(&stored.key),
        by: path.clone(),
        count: stored.count(),
        customers: counted.customers,
        visitors: counted.visitors,
        groups: counted
            .groups
            .into_iter()
            .map(|(value, count)| BreakdownGroup {
                value: match value {
                    None => Json_::Null,
                    Some(GroupValue::Int(n)) => Json_::from(n),
                    Some(GroupValue::Bool(b)) => Json_::from(b),
                    Some(GroupValue::Text(t)) => Json_::from(t),
                },
                count,
            })
            .collect(),
        other: counted.other,
    })
    .into_response())
}

#[derive(Serialize, ToSchema)]
pub struct OverlapAnswer {
    /// The segments compared, each once, in the order first named.
    pub segments: Vec<Id>,
    /// `shared[i][j]`: members segments i and j have in common; the diagonal holds each
    /// segment's count.
    pub shared: Vec<Vec<u64>>,
}

#[derive(Serialize, ToSchema)]
pub struct OverlapRequest {
    /// Segment ids: 1 to 50.
    pub segments: Vec<Id>,
}

#[utoipa::path(post, path = "/overlap", tag = "members",
    request_body(content = OverlapRequest, example = json!({"segments": ["wholesale_de"]})),
    responses(
        (status = 200, description = "How many members each pair of segments shares", body = OverlapAnswer),
        (status = 404, description = "A segment does not exist (pointer names it)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a list of 1 to 50 segment ids", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn segment_overlap(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Answer {
    let json = required(
        read_json(&state, &headers, body).await?,
        "{\"segments\": [id, ...]}",
    )?;
    let Json_::Object(object) = json else {
        return Err(invalid(
            "",
            "an overlap request is a JSON object: {\"segments\": [id, ...]}",
        ));
    };
    if let Some(other) = object.keys().find(|k| *k != "segments") {
        return Err(invalid(
            &pointer_join("", other),
            format!("unknown key {other:?}: an overlap request has only segments"),
        ));
    }
    let ids = report_ids(object.get("segments").unwrap_or(&Json_::Null))?;
    if ids.len() > MAX_OVERLAP_SEGMENTS {
        return Err(invalid(
            "/segments",
            format!(
                "an overlap matrix compares at most {MAX_OVERLAP_SEGMENTS} segments; this one names {}",
                ids.len()
            ),
        ));
    }
    let snapshot = state.snapshot().await?;
    let (listed, distinct) = stored_segments(&snapshot, &ids)?;
    let shared = state
        .evaluate(move || overlap(&snapshot, &distinct).map_err(Problem::from))
        .await?;
    Ok(Json(OverlapAnswer {
        segments: listed,
        shared,
    })
    .into_response())
}
