//! The JSON shapes of the API's answers (and, for the OpenAPI document, of its request
//! bodies, which the service itself validates).

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value as Json;
use utoipa::ToSchema;

use crate::data::value::format_timestamp;
use crate::segment::Schema;
use crate::segment::definition::AggregateFunction;
use crate::segment::schema::{FieldSource, FieldTable, RelationKind, operators_of};
use crate::service::report::MemberRow;
use crate::service::{MembershipChange, SegmentKey, StoredSegment, SubjectId};

/// A segment id: a number, or a name of letters, digits, `_` and `-`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(untagged)]
pub enum Id {
    Number(u64),
    Name(String),
}

impl From<&SegmentKey> for Id {
    fn from(key: &SegmentKey) -> Id {
        match key {
            SegmentKey::Number(n) => Id::Number(*n),
            SegmentKey::Name(name) => Id::Name(name.clone()),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct Health {
    pub status: &'static str,
    pub customers: u64,
    pub visitors: u64,
}

/// A stored segment as listed.
#[derive(Serialize, ToSchema)]
pub struct SegmentSummary {
    pub id: Id,
    pub name: String,
    pub active: bool,
    pub websites: Vec<i64>,
    pub apply_to: &'static str,
    /// Members now.
    pub count: u64,
    /// When the members were last matched (UTC).
    pub refreshed_at: String,
}

impl SegmentSummary {
    pub fn of(stored: &StoredSegment) -> SegmentSummary {
        SegmentSummary {
            id: Id::from(&stored.key),
            name: stored.definition.name.clone(),
            active: stored.definition.active,
            websites: stored.definition.websites.clone(),
            apply_to: stored.definition.apply_to.name(),
            count: stored.count(),
            refreshed_at: format_timestamp(stored.refreshed_at),
        }
    }
}

/// A stored segment with its definition.
#[derive(Serialize, ToSchema)]
pub struct SegmentView {
    #[serde(flatten)]
    pub summary: SegmentSummary,
    pub description: Option<String>,
    /// Subjects in the segment's scope (websites and apply_to).
    pub universe: u64,
    /// The instant the members were matched at (UTC).
    pub as_of: String,
    /// How long matching took.
    pub elapsed_ms: f64,
    /// The conditions as given (segment-language.md).
    #[schema(value_type = Object)]
    pub conditions: Json,
    /// What was accepted but looks like a mistake (a website no customer, cart or view
    /// is on); left out when there is nothing to say. Only in answers to a create or a
    /// change.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

impl SegmentView {
    pub fn of(stored: &StoredSegment) -> SegmentView {
        SegmentView {
            summary: SegmentSummary::of(stored),
            description: stored.definition.description.clone(),
            universe: stored.universe,
            as_of: format_timestamp(stored.as_of),
            elapsed_ms: stored.elapsed.as_secs_f64() * 1e3,
            conditions: stored.definition.conditions_json.clone(),
            warnings: Vec::new(),
        }
    }

    /// The view with the warnings a create or a change answers with.
    pub fn warning_of(mut self, snapshot: &crate::service::Snapshot, websites: &[i64]) -> Self {
        self.warnings = website_warnings(snapshot, websites);
        self
    }
}

/// A warning for each website no customer, cart or product view is on.
pub fn website_warnings(snapshot: &crate::service::Snapshot, websites: &[i64]) -> Vec<String> {
    snapshot
        .websites_without_subjects(websites)
        .into_iter()
        .map(|w| {
            format!(
                "website {w} has no customers, orders, carts or product views: the segment matches no one there"
            )
        })
        .collect()
}

#[derive(Serialize, ToSchema)]
pub struct RefreshAnswer {
    pub count: u64,
    /// Subjects that became members.
    pub entered: u64,
    /// Subjects that stopped being members.
    pub left: u64,
    pub elapsed_ms: f64,
}

#[derive(Serialize, ToSchema)]
pub struct RefreshedSegment {
    pub id: Id,
    pub count: u64,
    pub elapsed_ms: f64,
}

#[derive(Serialize, ToSchema)]
pub struct BulkRefreshAnswer {
    pub segments: Vec<RefreshedSegment>,
    pub elapsed_ms: f64,
}

#[derive(Serialize, ToSchema)]
pub struct EstimateAnswer {
    /// Subjects the conditions match: exact.
    pub count: u64,
    /// Subjects in scope (websites and apply_to).
    pub universe: u64,
    pub elapsed_us: u64,
    /// Websites no customer, cart or product view is on; left out when there are none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// One page of members, ascending: customers by customer_id, then visitors.
#[derive(Serialize, ToSchema)]
pub struct MembersPage {
    /// Members in all.
    pub count: u64,
    pub members: Vec<MemberRow>,
    /// The `after` of the next page; null on the last.
    pub next: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct SegmentMembers {
    pub segment: Id,
    #[serde(flatten)]
    pub page: MembersPage,
}

#[derive(Serialize, ToSchema)]
pub struct ReportAnswer {
    pub segments: Vec<Id>,
    /// `union` or `intersection`.
    pub set: &'static str,
    #[serde(flatten)]
    pub page: MembersPage,
}

#[derive(Serialize, ToSchema)]
pub struct Memberships {
    /// The active segments the subject is in now.
    pub segments: Vec<Id>,
}

/// A segment definition (segment-language.md), with an optional `id` on create.
#[derive(ToSchema)]
#[allow(dead_code)] // Documents the body for OpenAPI; the service validates the JSON itself.
pub struct SegmentDefinition {
    pub id: Option<Id>,
    pub name: String,
    pub description: Option<String>,
    pub websites: Vec<i64>,
    /// `registered`, `visitors` or `both` (default).
    pub apply_to: Option<String>,
    pub active: Option<bool>,
    #[schema(value_type = Object)]
    pub conditions: Option<Json>,
}

#[derive(ToSchema)]
#[allow(dead_code)] // Documents the body for OpenAPI.
pub struct EstimateRequest {
    #[schema(value_type = Object)]
    pub conditions: Option<Json>,
    pub websites: Vec<i64>,
    pub apply_to: Option<String>,
    /// Evaluation instant; default now.
    pub as_of: Option<String>,
}

impl EstimateRequest {
    /// The definition to size and the instant (`None`: now) of a `POST /estimate` body,
    /// each part checked at its pointer.
    pub fn parse(
        body: &Json,
        schema: &crate::segment::schema::Schema,
    ) -> Result<(crate::segment::Segment, Option<i64>), crate::service::ServiceError> {
        use crate::segment::{DefinitionError, ErrorKind};
        let invalid = |pointer: String, message: String| {
            crate::service::ServiceError::Invalid(DefinitionError {
                pointer,
                kind: ErrorKind::Syntax,
                message,
            })
        };
        let object = body.as_object().ok_or_else(|| {
            invalid(
                String::new(),
                "an estimate is a JSON object with conditions, websites, apply_to and as_of".into(),
            )
        })?;
        let mut as_of = None;
        for (key, value) in object {
            match key.as_str() {
                "conditions" | "websites" | "apply_to" => {}
                "as_of" => as_of = Some(crate::service::instant_at(value, "/as_of")?),
                other => {
                    return Err(invalid(
                        crate::segment::definition::pointer_join("", other),
                        format!(
                            "unknown key {other:?}: an estimate has conditions, websites, apply_to and as_of"
                        ),
                    ));
                }
            }
        }
        let segment = crate::segment::Segment::unstored(object, schema)
            .map_err(crate::service::ServiceError::Invalid)?;
        Ok((segment, as_of))
    }
}

#[derive(ToSchema)]
#[allow(dead_code)] // Documents the body for OpenAPI.
pub struct RefreshRequest {
    /// Evaluation instant; default now.
    pub as_of: Option<String>,
}

#[derive(ToSchema)]
#[allow(dead_code)] // Documents the body for OpenAPI.
pub struct ReportRequest {
    pub segments: Vec<Id>,
    /// `union` (default) or `intersection`.
    pub set: Option<String>,
    /// `json` (default), `csv` or `xlsx`.
    pub format: Option<String>,
    pub limit: Option<u64>,
    pub after: Option<String>,
}

/// Every field a condition may name, per table, and the relations.
#[derive(Serialize, ToSchema)]
pub struct SchemaView {
    pub tables: BTreeMap<String, TableView>,
    pub relations: BTreeMap<String, RelationView>,
    pub aggregates: Vec<&'static str>,
}

#[derive(Serialize, ToSchema)]
pub struct TableView {
    /// Where conditions may name this table's fields.
    pub named_in: String,
    pub fields: BTreeMap<String, FieldView>,
}

#[derive(Serialize, ToSchema)]
pub struct FieldView {
    #[serde(rename = "type")]
    pub ty: &'static str,
    pub operators: Vec<&'static str>,
    /// A custom attribute (a column beyond the data model).
    pub custom: bool,
    /// Computed against the evaluation time (days_since_created, age ...).
    pub derived: bool,
}

#[derive(Serialize, ToSchema)]
pub struct RelationView {
    /// The tables a `where` over this relation may name.
    pub tables: Vec<&'static str>,
    /// Whether visitors have such records.
    pub visitors: bool,
}

impl SchemaView {
    pub fn of(schema: &Schema) -> SchemaView {
        let tables = FieldTable::ALL
            .into_iter()
            .map(|table| {
                let fields = schema
                    .fields_of(table)
                    .map(|field| {
                        let view = FieldView {
                            ty: field.ty.name(),
                            operators: operators_of(field.ty).to_vec(),
                            custom: field.custom,
                            derived: matches!(field.source, FieldSource::Derived(_)),
                        };
                        (field.column.clone(), view)
                    })
                    .collect();
                let named_in = match table {
                    FieldTable::Customer | FieldTable::Cart => "top level".to_string(),
                    other => {
                        let relations: Vec<&str> = RelationKind::ALL
                            .into_iter()
                            .filter(|r| r.visible_tables().contains(&other))
                            .map(RelationKind::name)
                            .collect();
                        format!("where of {}", relations.join(", "))
                    }
                };
                (table.name().to_string(), TableView { named_in, fields })
            })
            .collect();
        let relations = RelationKind::ALL
            .into_iter()
            .map(|relation| {
                let view = RelationView {
                    tables: relation.visible_tables().iter().map(|t| t.name()).collect(),
                    visitors: relation.visitors_have_it(),
                };
                (relation.name().to_string(), view)
            })
            .collect();
        SchemaView {
            tables,
            relations,
            aggregates: AggregateFunction::ALL.iter().map(|a| a.name()).collect(),
        }
    }
}

/// What `POST /events` did: how many events applied, and who moved.
#[derive(Serialize, ToSchema)]
pub struct EventsAnswer {
    pub applied: u64,
    pub changes: Vec<EventChange>,
    pub elapsed_ms: f64,
}

/// One subject entering (`entered: true`) or leaving a segment.
#[derive(Serialize, ToSchema)]
pub struct EventChange {
    pub segment: Id,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub visitor_id: Option<i64>,
    pub entered: bool,
}

impl From<&MembershipChange> for EventChange {
    fn from(change: &MembershipChange) -> EventChange {
        let (customer_id, visitor_id) = match change.subject {
            SubjectId::Customer(id) => (Some(id), None),
            SubjectId::Visitor(id) => (None, Some(id)),
        };
        EventChange {
            segment: Id::from(&change.segment),
            customer_id,
            visitor_id,
            entered: change.entered,
        }
    }
}

/// A page of the change feed (`GET /changes`).
#[derive(Serialize, ToSchema)]
pub struct ChangesPage {
    pub changes: Vec<FeedChange>,
    /// The `after` of the next page: the last change read (or passed over).
    pub next: u64,
}

/// One membership change of the feed.
#[derive(Serialize, ToSchema)]
pub struct FeedChange {
    /// Its number: changes are numbered 1, 2, ... in the order they were published.
    pub seq: u64,
    #[serde(flatten)]
    pub change: EventChange,
    /// `event`, `segment_created`, `segment_updated`, `segment_deleted`, `refresh` or
    /// `day_changed`.
    pub cause: &'static str,
    /// When it was published (RFC 3339, UTC).
    pub at: String,
}

impl From<&crate::feed::Change> for FeedChange {
    fn from(change: &crate::feed::Change) -> FeedChange {
        let moved = MembershipChange {
            segment: change.segment.clone(),
            subject: change.subject,
            entered: change.entered,
        };
        FeedChange {
            seq: change.seq,
            change: EventChange::from(&moved),
            cause: change.cause.name(),
            at: crate::data::value::format_timestamp(change.at),
        }
    }
}

/// Stores the segment a definition body describes, as `POST /segments` does.
pub fn create_segment(
    service: &crate::service::Service,
    body: &Json,
) -> Result<std::sync::Arc<crate::service::StoredSegment>, crate::service::ServiceError> {
    service.create(segment_request(body, service.snapshot().schema())?)
}

/// A segment definition body (`POST /segments`, `PUT /segments/{id}`) as the service takes
/// it: the optional `id` split off and checked, the rest checked against `schema`.
pub fn segment_request(
    body: &Json,
    schema: &crate::segment::schema::Schema,
) -> Result<crate::service::SegmentRequest, crate::service::ServiceError> {
    let (id, source) = split_id(body)?;
    let definition = crate::segment::Segment::from_json(&source, schema)
        .map_err(crate::service::ServiceError::Invalid)?;
    Ok(crate::service::SegmentRequest {
        id,
        definition,
        source,
    })
}

/// The keys of a stored segment's answer (`SegmentView`) that say how its members were
/// matched: a definition body may carry them, and they are ignored.
pub const READ_ONLY_KEYS: [&str; 5] = ["count", "refreshed_at", "universe", "as_of", "elapsed_ms"];

/// Splits the optional `id` off a definition body, without the read-only keys.
fn split_id(body: &Json) -> Result<(Option<SegmentKey>, Json), crate::service::ServiceError> {
    let Json::Object(object) = body else {
        return Err(invalid_at(
            "",
            crate::segment::ErrorKind::Syntax,
            "a segment is a JSON object with name, websites and conditions",
        ));
    };
    let mut object = object.clone();
    // What GET /segments/{id} answers can be sent back as it is: the keys it adds about
    // the members are not part of a definition, and are dropped.
    for key in READ_ONLY_KEYS {
        object.remove(key);
    }
    let id = match object.remove("id") {
        None => None,
        Some(value) => Some(
            crate::segment::definition::segment_id(&value)
                .map(|id| SegmentKey::of(&id))
                .ok_or_else(|| {
                    invalid_at(
                        "/id",
                        crate::segment::ErrorKind::BadValue,
                        "id must be a non-negative integer or 1 to 64 letters, digits, '_' and '-'",
                    )
                })?,
        ),
    };
    if let Some(SegmentKey::Number(n)) = id
        && n > crate::service::MAX_NUMERIC_ID
    {
        return Err(invalid_at(
            "/id",
            crate::segment::ErrorKind::BadValue,
            format!(
                "numeric ids go up to {} (2^53 - 1), so that every JSON client reads them exactly",
                crate::service::MAX_NUMERIC_ID
            ),
        ));
    }
    if id == Some(SegmentKey::Name("refresh".to_string())) {
        // POST /segments/refresh re-matches every segment: the path cannot also be one.
        return Err(invalid_at(
            "/id",
            crate::segment::ErrorKind::BadValue,
            "\"refresh\" is reserved (POST /segments/refresh); choose another id",
        ));
    }
    Ok((id, Json::Object(object)))
}

fn invalid_at(
    pointer: &str,
    kind: crate::segment::ErrorKind,
    message: impl Into<String>,
) -> crate::service::ServiceError {
    crate::service::ServiceError::Invalid(crate::segment::DefinitionError {
        pointer: pointer.to_string(),
        kind,
        message: message.into(),
    })
}
