//! Segment definitions: the JSON of segment-language.md parsed and validated against a
//! dataset's schema into typed conditions. Every error names the JSON Pointer of the
//! offending node and says what would fit there.

use std::fmt;

use serde_json::{Map, Value as Json};

use crate::model::TableName;
use crate::segment::schema::{Field, FieldSource, RelationKind, Schema};
use crate::segment::unique_keys::{self, UniqueKeysError};

mod conditions;

/// Limits of segment-language.md, past which a definition is rejected.
pub const MAX_DEPTH: usize = 64;
pub const MAX_NODES: usize = 10_000;
pub const MAX_LIST_VALUES: usize = 100_000;
pub const MAX_DEFINITION_BYTES: usize = 4 * 1024 * 1024;
pub const MAX_NAME_CHARS: usize = 255;

/// Why a definition was rejected, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DefinitionError {
    /// JSON Pointer of the offending node ("" is the whole document).
    pub pointer: String,
    pub kind: ErrorKind,
    pub message: String,
}

/// The kinds of rejection, so callers (and tests) can tell them apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// Not JSON, or not the shape the language has (wrong type, unknown or missing key).
    Syntax,
    UnknownField,
    /// A field of a table that cannot be named where the condition stands.
    FieldNotHere,
    UnknownOperator,
    /// An operator that the field's type does not have.
    OperatorNotForType,
    /// A value of the wrong type or form for the field and operator.
    BadValue,
    UnknownRelation,
    UnknownSegment,
    Cycle,
    /// Names something visitors do not have in a segment for visitors only.
    NotForVisitors,
    Limit,
    /// An object names a key twice (JSON allows it; which value was meant is unknown).
    DuplicateKey,
}

impl fmt::Display for DefinitionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.pointer.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.pointer, self.message)
        }
    }
}

impl std::error::Error for DefinitionError {}

fn error(pointer: &str, kind: ErrorKind, message: impl Into<String>) -> DefinitionError {
    DefinitionError {
        pointer: pointer.to_string(),
        kind,
        message: message.into(),
    }
}

/// A child JSON Pointer (RFC 6901 escaping).
pub fn pointer_join(parent: &str, token: impl fmt::Display) -> String {
    let token = token.to_string().replace('~', "~0").replace('/', "~1");
    format!("{parent}/{token}")
}

/// Which subjects a segment applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum ApplyTo {
    Registered,
    Visitors,
    #[default]
    Both,
}

impl ApplyTo {
    pub fn name(self) -> &'static str {
        match self {
            ApplyTo::Registered => "registered",
            ApplyTo::Visitors => "visitors",
            ApplyTo::Both => "both",
        }
    }

    pub fn customers(self) -> bool {
        self != ApplyTo::Visitors
    }

    pub fn visitors(self) -> bool {
        self != ApplyTo::Registered
    }
}

/// A validated segment definition.
#[derive(Clone, Debug)]
pub struct Segment {
    pub name: String,
    pub description: Option<String>,
    pub websites: Vec<i64>,
    pub apply_to: ApplyTo,
    pub active: bool,
    /// The conditions as given, for showing the definition back.
    pub conditions_json: Json,
    pub condition: Condition,
}

/// The tables a relation's records come from: an item's date is its order's, a cart
/// item counts while its cart is active.
fn relation_tables(relation: RelationKind) -> &'static [TableName] {
    match relation {
        RelationKind::Address => &[TableName::Addresses],
        RelationKind::Order => &[TableName::Orders],
        RelationKind::OrderAddress => &[TableName::OrderAddresses, TableName::Orders],
        RelationKind::OrderItem => &[TableName::OrderItems, TableName::Orders],
        RelationKind::CartItem => &[TableName::CartItems, TableName::Carts],
        RelationKind::WishlistItem => &[TableName::WishlistItems],
        RelationKind::ProductView => &[TableName::ProductViews],
    }
}

/// A segment id as `in_segment` names it (`42` and `"42"` are the same segment).
pub type SegmentId = String;

/// A validated condition.
#[derive(Clone, Debug, PartialEq)]
pub enum Condition {
    All(Vec<Condition>),
    Any(Vec<Condition>),
    None(Vec<Condition>),
    NotAll(Vec<Condition>),
    Not(Box<Condition>),
    Compare(Comparison),
    Has {
        relation: RelationKind,
        filter: Option<Box<Condition>>,
    },
    Aggregate(Box<Aggregate>),
    InSegment {
        id: SegmentId,
        /// Where it stands, for errors found when the reference is resolved.
        pointer: String,
    },
}

/// `{"field": F, "op": O, "value": V}`.
#[derive(Clone, Debug, PartialEq)]
pub struct Comparison {
    pub field: Field,
    pub op: Op,
    pub operand: Operand,
}

/// `{"aggregate": A, "of": X, "where": c, "op": O, "value": V}`.
#[derive(Clone, Debug, PartialEq)]
pub struct Aggregate {
    pub function: AggregateFunction,
    pub relation: RelationKind,
    /// The aggregated field; `None` for `count`.
    pub of: Option<Field>,
    pub filter: Option<Condition>,
    pub op: Op,
    /// In the value domain of the result: count as int; sum, min, max as the field; avg
    /// in decimal units (an average of ints may be fractional).
    pub operand: Operand,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AggregateFunction {
    Count,
    Sum,
    Avg,
    Min,
    Max,
}

impl AggregateFunction {
    pub const ALL: [AggregateFunction; 5] = [
        AggregateFunction::Count,
        AggregateFunction::Sum,
        AggregateFunction::Avg,
        AggregateFunction::Min,
        AggregateFunction::Max,
    ];

    pub fn name(self) -> &'static str {
        match self {
            AggregateFunction::Count => "count",
            AggregateFunction::Sum => "sum",
            AggregateFunction::Avg => "avg",
            AggregateFunction::Min => "min",
            AggregateFunction::Max => "max",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    Eq,
    Ne,
    Gt,
    Gte,
    Lt,
    Lte,
    Between,
    In,
    NotIn,
    IsNull,
    IsNotNull,
    Contains,
    NotContains,
    StartsWith,
    EndsWith,
    InLastDays,
    NotInLastDays,
    HasAny,
    HasAll,
    HasNone,
}

impl Op {
    pub const ALL: [Op; 20] = [
        Op::Eq,
        Op::Ne,
        Op::Gt,
        Op::Gte,
        Op::Lt,
        Op::Lte,
        Op::Between,
        Op::In,
        Op::NotIn,
        Op::IsNull,
        Op::IsNotNull,
        Op::Contains,
        Op::NotContains,
        Op::StartsWith,
        Op::EndsWith,
        Op::InLastDays,
        Op::NotInLastDays,
        Op::HasAny,
        Op::HasAll,
        Op::HasNone,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Op::Eq => "eq",
            Op::Ne => "ne",
            Op::Gt => "gt",
            Op::Gte => "gte",
            Op::Lt => "lt",
            Op::Lte => "lte",
            Op::Between => "between",
            Op::In => "in",
            Op::NotIn => "not_in",
            Op::IsNull => "is_null",
            Op::IsNotNull => "is_not_null",
            Op::Contains => "contains",
            Op::NotContains => "not_contains",
            Op::StartsWith => "starts_with",
            Op::EndsWith => "ends_with",
            Op::InLastDays => "in_last_days",
            Op::NotInLastDays => "not_in_last_days",
            Op::HasAny => "has_any",
            Op::HasAll => "has_all",
            Op::HasNone => "has_none",
        }
    }

    pub fn from_name(name: &str) -> Option<Op> {
        Op::ALL.into_iter().find(|op| op.name() == name)
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One value of a comparison, in the field's domain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scalar {
    /// Ints as they are, decimals in units of 1/10000, bools as 0/1, dates as days, ids.
    Int(i64),
    /// A timestamp value: an exact instant in microseconds.
    Instant(i64),
    /// A date value against a timestamp field: the whole UTC day (days since 1970-01-01).
    Day(i32),
    /// A string value, in Unicode lower case (strings compare case-insensitively).
    Text(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Operand {
    None,
    One(Scalar),
    List(Vec<Scalar>),
    Between(Scalar, Scalar),
    /// `in_last_days N`.
    Days(i64),
}

impl Segment {
    /// The tables its members are read from, apart from the segments it names with
    /// `in_segment`: its scope's (customers' websites; visitors' carts and views) and its
    /// conditions'. Its members change only when one of these does.
    pub fn tables_read(&self) -> std::collections::BTreeSet<TableName> {
        let mut tables = std::collections::BTreeSet::new();
        if self.apply_to.customers() {
            tables.insert(TableName::Customers);
        }
        if self.apply_to.visitors() {
            tables.extend([TableName::Carts, TableName::ProductViews]);
        }
        self.condition.visit(&mut |condition| match condition {
            Condition::Compare(comparison) => {
                tables.insert(comparison.field.table.table_name());
            }
            Condition::Has { relation, .. } => tables.extend(relation_tables(*relation)),
            Condition::Aggregate(aggregate) => {
                tables.extend(relation_tables(aggregate.relation));
                if let Some(of) = &aggregate.of {
                    tables.insert(of.table.table_name());
                }
            }
            _ => {}
        });
        tables
    }

    /// Parses and validates a definition from its JSON text.
    pub fn parse(text: &str, schema: &Schema) -> Result<Segment, DefinitionError> {
        Segment::from_json(&parse_json(text.as_bytes())?, schema)
    }

    /// Validates a definition already parsed as JSON.
    pub fn from_json(json: &Json, schema: &Schema) -> Result<Segment, DefinitionError> {
        let object = json.as_object().ok_or_else(|| {
            error(
                "",
                ErrorKind::Syntax,
                "a segment is a JSON object with name, websites and conditions",
            )
        })?;
        check_keys(
            object,
            "",
            &[
                "name",
                "description",
                "websites",
                "apply_to",
                "active",
                "conditions",
            ],
            "a segment",
        )?;
        let name = match object.get("name") {
            Some(Json::String(name)) => name.clone(),
            Some(_) => return Err(error("/name", ErrorKind::Syntax, "name must be a string")),
            None => {
                return Err(error(
                    "",
                    ErrorKind::Syntax,
                    "missing key \"name\": a segment needs a name of 1 to 255 characters",
                ));
            }
        };
        let chars = name.chars().count();
        if chars == 0 || chars > MAX_NAME_CHARS {
            return Err(error(
                "/name",
                ErrorKind::BadValue,
                format!("name must have 1 to {MAX_NAME_CHARS} characters; it has {chars}"),
            ));
        }
        let description = match object.get("description") {
            None | Some(Json::Null) => None,
            Some(Json::String(text)) => Some(text.clone()),
            Some(_) => {
                return Err(error(
                    "/description",
                    ErrorKind::Syntax,
                    "description must be a string",
                ));
            }
        };
        let websites = parse_websites(object.get("websites"), "/websites")?;
        let apply_to = parse_apply_to(object.get("apply_to"), "/apply_to")?;
        let active = match object.get("active") {
            None => true,
            Some(Json::Bool(active)) => *active,
            Some(_) => {
                return Err(error(
                    "/active",
                    ErrorKind::Syntax,
                    "active must be true or false",
                ));
            }
        };
        let (conditions_json, condition) =
            parse_conditions(object.get("conditions"), "/conditions", apply_to, schema)?;
        Ok(Segment {
            name,
            description,
            websites,
            apply_to,
            active,
            conditions_json,
            condition,
        })
    }

    /// A definition that is not stored (`POST /estimate`): the `websites`, `apply_to` and
    /// `conditions` of `object`, checked as a segment's (the same pointers); it has no name
    /// and is active. Other keys are the caller's to check.
    pub fn unstored(
        object: &serde_json::Map<String, Json>,
        schema: &Schema,
    ) -> Result<Segment, DefinitionError> {
        let websites = parse_websites(object.get("websites"), "/websites")?;
        let apply_to = parse_apply_to(object.get("apply_to"), "/apply_to")?;
        let (conditions_json, condition) =
            parse_conditions(object.get("conditions"), "/conditions", apply_to, schema)?;
        Ok(Segment {
            name: String::new(),
            description: None,
            websites,
            apply_to,
            active: true,
            conditions_json,
            condition,
        })
    }

    /// The segments this one names with `in_segment`, with the pointers of those nodes.
    pub fn references(&self) -> Vec<(SegmentId, String)> {
        let mut found = Vec::new();
        self.condition.visit(&mut |c| {
            if let Condition::InSegment { id, pointer } = c {
                found.push((id.clone(), pointer.clone()));
            }
        });
        found
    }
}

/// Reads a definition's JSON text within the size and nesting limits: a document past
/// them is rejected (`ErrorKind::Limit`) before it can cost memory or stack; text that is
/// not JSON is `ErrorKind::Syntax`.
pub fn parse_json(bytes: &[u8]) -> Result<Json, DefinitionError> {
    if bytes.len() > MAX_DEFINITION_BYTES {
        return Err(error(
            "",
            ErrorKind::Limit,
            format!(
                "the definition is {} bytes; the limit is {MAX_DEFINITION_BYTES} bytes (4 MiB)",
                bytes.len()
            ),
        ));
    }
    // serde_json stops at 128 levels, so no input can overflow the stack; the language's
    // own limit of 64 is checked while validating.
    unique_keys::from_slice(bytes).map_err(|e| match e {
        UniqueKeysError::Duplicate { pointer, key } => error(
            &pointer,
            ErrorKind::DuplicateKey,
            format!("the key {key:?} is given twice in one object"),
        ),
        UniqueKeysError::Json(e) if e.to_string().contains("recursion limit") => error(
            "",
            ErrorKind::Limit,
            format!("nesting is deeper than the limit of {MAX_DEPTH} levels ({e})"),
        ),
        UniqueKeysError::Json(e) => error("", ErrorKind::Syntax, format!("not valid JSON: {e}")),
    })
}

/// `websites`: a non-empty list of website ids.
pub fn parse_websites(value: Option<&Json>, pointer: &str) -> Result<Vec<i64>, DefinitionError> {
    let list = match value {
        Some(Json::Array(list)) => list,
        Some(_) => {
            return Err(error(
                pointer,
                ErrorKind::Syntax,
                "websites must be a list of website ids, e.g. [1]",
            ));
        }
        None => {
            return Err(error(
                "",
                ErrorKind::Syntax,
                "missing key \"websites\": the website ids the segment is assigned to, e.g. [1]",
            ));
        }
    };
    if list.is_empty() {
        return Err(error(
            pointer,
            ErrorKind::BadValue,
            "websites must name at least one website id",
        ));
    }
    if list.len() > MAX_LIST_VALUES {
        return Err(list_limit(pointer, list.len()));
    }
    let mut websites = Vec::with_capacity(list.len());
    for (i, item) in list.iter().enumerate() {
        match item.as_i64() {
            Some(id) => websites.push(id),
            None => {
                return Err(error(
                    &pointer_join(pointer, i),
                    ErrorKind::BadValue,
                    format!("a website id is an integer, not {item}"),
                ));
            }
        }
    }
    websites.sort_unstable();
    websites.dedup();
    Ok(websites)
}

/// `apply_to`: registered, visitors or both (default both).
pub fn parse_apply_to(value: Option<&Json>, pointer: &str) -> Result<ApplyTo, DefinitionError> {
    match value {
        None => Ok(ApplyTo::Both),
        Some(Json::String(text)) => match text.as_str() {
            "registered" => Ok(ApplyTo::Registered),
            "visitors" => Ok(ApplyTo::Visitors),
            "both" => Ok(ApplyTo::Both),
            other => Err(error(
                pointer,
                ErrorKind::BadValue,
                format!("apply_to is \"registered\", \"visitors\" or \"both\", not \"{other}\""),
            )),
        },
        Some(other) => Err(error(
            pointer,
            ErrorKind::Syntax,
            format!("apply_to is \"registered\", \"visitors\" or \"both\", not {other}"),
        )),
    }
}

/// `conditions` (default `{"all": []}`), validated for a segment applying to `apply_to`.
pub fn parse_conditions(
    value: Option<&Json>,
    pointer: &str,
    apply_to: ApplyTo,
    schema: &Schema,
) -> Result<(Json, Condition), DefinitionError> {
    let Some(json) = value else {
        return Ok((serde_json::json!({"all": []}), Condition::All(Vec::new())));
    };
    let condition = conditions::parse_condition(json, pointer, apply_to, schema)?;
    Ok((json.clone(), condition))
}

fn list_limit(pointer: &str, len: usize) -> DefinitionError {
    error(
        pointer,
        ErrorKind::Limit,
        format!("the list has {len} values; the limit is {MAX_LIST_VALUES} values in one list"),
    )
}

/// Rejects keys other than `known`, naming the closest known one.
fn check_keys(
    object: &Map<String, Json>,
    pointer: &str,
    known: &[&str],
    what: &str,
) -> Result<(), DefinitionError> {
    for key in object.keys() {
        if !known.contains(&key.as_str()) {
            let hint = closest(key, known.iter().copied())
                .map(|c| format!("did you mean \"{c}\"? "))
                .unwrap_or_default();
            return Err(error(
                &pointer_join(pointer, key),
                ErrorKind::Syntax,
                format!(
                    "unknown key \"{key}\" in {what}; {hint}it may have: {}",
                    known.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

/// The candidate closest to `name` when it is close enough to be a likely typo.
pub fn closest<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .map(|c| (strsim::levenshtein(name, c), c))
        .filter(|(distance, c)| *distance <= (c.len().max(name.len()) / 3).max(2))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, c)| c)
}

/// A segment id from JSON: a non-negative integer, or 1 to 64 letters, digits, `_` and `-`.
pub fn segment_id(json: &Json) -> Option<SegmentId> {
    match json {
        Json::Number(n) => n.as_u64().map(|n| n.to_string()),
        Json::String(s)
            if !s.is_empty()
                && s.len() <= 64
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') =>
        {
            Some(s.clone())
        }
        _ => None,
    }
}

impl Condition {
    /// Calls `f` on this condition and every condition inside it.
    /// Whether the condition's truth moves with the evaluation time by itself: a relative
    /// date (`in_last_days`, `not_in_last_days`) or a derived day field. `in_segment`
    /// moves with time when the segment it names does; that is for the caller to follow.
    pub fn depends_on_time(&self) -> bool {
        let mut found = false;
        self.visit(&mut |c| {
            let relative = |op: Op| matches!(op, Op::InLastDays | Op::NotInLastDays);
            found |= match c {
                Condition::Compare(comparison) => {
                    relative(comparison.op)
                        || matches!(comparison.field.source, FieldSource::Derived(_))
                }
                Condition::Aggregate(aggregate) => relative(aggregate.op),
                _ => false,
            };
        });
        found
    }

    pub fn visit<'a>(&'a self, f: &mut impl FnMut(&'a Condition)) {
        f(self);
        match self {
            Condition::All(children)
            | Condition::Any(children)
            | Condition::None(children)
            | Condition::NotAll(children) => children.iter().for_each(|c| c.visit(f)),
            Condition::Not(child) => child.visit(f),
            Condition::Has { filter, .. } => {
                if let Some(filter) = filter {
                    filter.visit(f)
                }
            }
            Condition::Aggregate(aggregate) => {
                if let Some(filter) = &aggregate.filter {
                    filter.visit(f)
                }
            }
            Condition::Compare(_) | Condition::InSegment { .. } => {}
        }
    }
}
