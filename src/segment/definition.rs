//! Segment definitions: the JSON of segment-language.md parsed and validated against a
//! dataset's schema into typed conditions. Every error names the JSON Pointer of the
//! offending node and says what would fit there.

use std::fmt;

use serde_json::{Map, Value as Json};

use crate::data::value::{DECIMAL_SCALE, parse_date, parse_decimal, parse_timestamp};
use crate::model::{FieldType, TableName};
use crate::segment::schema::{Field, FieldSource, FieldTable, RelationKind, Schema, operators_of};
use crate::segment::unique_keys::{self, UniqueKeysError};

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

/// Where a condition stands: what it may name.
#[derive(Clone, Copy)]
struct Scope {
    /// `None` at top level; the relation of the enclosing `has` / `aggregate` otherwise.
    relation: Option<RelationKind>,
    apply_to: ApplyTo,
}

impl Scope {
    fn tables(self) -> &'static [FieldTable] {
        match self.relation {
            None => &[FieldTable::Customer, FieldTable::Cart],
            Some(relation) => relation.visible_tables(),
        }
    }
}

struct Parser<'a> {
    schema: &'a Schema,
    nodes: usize,
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
    let mut parser = Parser { schema, nodes: 0 };
    let scope = Scope {
        relation: None,
        apply_to,
    };
    let condition = parser.condition(json, pointer, scope, 1)?;
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

const FORMS: &str = "all, any, none, not_all, not, field, has, aggregate, in_segment";

impl Parser<'_> {
    fn condition(
        &mut self,
        json: &Json,
        pointer: &str,
        scope: Scope,
        depth: usize,
    ) -> Result<Condition, DefinitionError> {
        if depth > MAX_DEPTH {
            return Err(error(
                pointer,
                ErrorKind::Limit,
                format!("conditions are nested deeper than the limit of {MAX_DEPTH} levels"),
            ));
        }
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            return Err(error(
                pointer,
                ErrorKind::Limit,
                format!("the definition has more than the limit of {MAX_NODES} condition nodes"),
            ));
        }
        let object = json.as_object().ok_or_else(|| {
            error(
                pointer,
                ErrorKind::Syntax,
                format!(
                    "a condition is a JSON object of one of the forms {FORMS}; found {}",
                    kind_of(json)
                ),
            )
        })?;
        let form = [
            "all",
            "any",
            "none",
            "not_all",
            "not",
            "field",
            "has",
            "aggregate",
            "in_segment",
        ]
        .into_iter()
        .find(|form| object.contains_key(*form));
        let Some(form) = form else {
            let key = object.keys().next().map(String::as_str).unwrap_or("");
            let hint = closest(key, FORMS.split(", "))
                .map(|c| format!(" (did you mean \"{c}\"?)"))
                .unwrap_or_default();
            return Err(error(
                pointer,
                ErrorKind::Syntax,
                format!(
                    "a condition needs one of the keys {FORMS}{hint}; found {}",
                    keys_of(object)
                ),
            ));
        };
        match form {
            "all" | "any" | "none" | "not_all" => {
                check_keys(object, pointer, &[form], "a combination")?;
                let list_pointer = pointer_join(pointer, form);
                let Json::Array(items) = &object[form] else {
                    return Err(error(
                        &list_pointer,
                        ErrorKind::Syntax,
                        format!("\"{form}\" takes a list of conditions"),
                    ));
                };
                let children = items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| {
                        self.condition(item, &pointer_join(&list_pointer, i), scope, depth + 1)
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(match form {
                    "all" => Condition::All(children),
                    "any" => Condition::Any(children),
                    "none" => Condition::None(children),
                    _ => Condition::NotAll(children),
                })
            }
            "not" => {
                check_keys(object, pointer, &["not"], "a \"not\"")?;
                let child = self.condition(
                    &object["not"],
                    &pointer_join(pointer, "not"),
                    scope,
                    depth + 1,
                )?;
                Ok(Condition::Not(Box::new(child)))
            }
            "field" => {
                check_keys(object, pointer, &["field", "op", "value"], "a comparison")?;
                self.comparison(object, pointer, scope)
                    .map(Condition::Compare)
            }
            "has" => {
                check_keys(object, pointer, &["has", "where"], "a \"has\"")?;
                let relation = self.relation(object, "has", pointer, scope)?;
                let filter = self.filter(object, pointer, relation, scope, depth)?;
                Ok(Condition::Has {
                    relation,
                    filter: filter.map(Box::new),
                })
            }
            "aggregate" => {
                check_keys(
                    object,
                    pointer,
                    &["aggregate", "of", "where", "op", "value"],
                    "an aggregate",
                )?;
                self.aggregate(object, pointer, scope, depth)
                    .map(|a| Condition::Aggregate(Box::new(a)))
            }
            _ => {
                check_keys(object, pointer, &["in_segment"], "an \"in_segment\"")?;
                if scope.relation.is_some() {
                    return Err(error(
                        pointer,
                        ErrorKind::FieldNotHere,
                        "\"in_segment\" cannot stand inside a \"where\": a where names only its relation's tables",
                    ));
                }
                let id_pointer = pointer_join(pointer, "in_segment");
                let id = segment_id(&object["in_segment"]).ok_or_else(|| {
                    error(
                        &id_pointer,
                        ErrorKind::BadValue,
                        "a segment id is a non-negative integer or a string of letters, digits, '_' and '-'",
                    )
                })?;
                Ok(Condition::InSegment {
                    id,
                    pointer: id_pointer,
                })
            }
        }
    }

    fn relation(
        &self,
        object: &Map<String, Json>,
        key: &str,
        pointer: &str,
        scope: Scope,
    ) -> Result<RelationKind, DefinitionError> {
        let relation_pointer = pointer_join(pointer, key);
        if scope.relation.is_some() {
            return Err(error(
                pointer,
                ErrorKind::FieldNotHere,
                format!(
                    "\"{key}\" cannot stand inside a \"where\": a where names only its relation's tables"
                ),
            ));
        }
        let names = RelationKind::ALL.map(RelationKind::name);
        let relation = match &object[key] {
            Json::String(name) => RelationKind::from_name(name).ok_or_else(|| {
                let hint = closest(name, names.iter().copied())
                    .map(|c| format!("did you mean \"{c}\"? "))
                    .unwrap_or_default();
                error(
                    &relation_pointer,
                    ErrorKind::UnknownRelation,
                    format!(
                        "unknown relation \"{name}\"; {hint}relations: {}",
                        names.join(", ")
                    ),
                )
            })?,
            other => {
                return Err(error(
                    &relation_pointer,
                    ErrorKind::Syntax,
                    format!(
                        "\"{key}\" names a relation ({}), not {other}",
                        names.join(", ")
                    ),
                ));
            }
        };
        if scope.apply_to == ApplyTo::Visitors && !relation.visitors_have_it() {
            return Err(error(
                &relation_pointer,
                ErrorKind::NotForVisitors,
                format!(
                    "the segment applies to visitors only, and visitors have no {relation} records (only cart_item and product_view)"
                ),
            ));
        }
        Ok(relation)
    }

    fn filter(
        &mut self,
        object: &Map<String, Json>,
        pointer: &str,
        relation: RelationKind,
        scope: Scope,
        depth: usize,
    ) -> Result<Option<Condition>, DefinitionError> {
        let Some(json) = object.get("where") else {
            return Ok(None);
        };
        let inner = Scope {
            relation: Some(relation),
            apply_to: scope.apply_to,
        };
        self.condition(json, &pointer_join(pointer, "where"), inner, depth + 1)
            .map(Some)
    }

    fn field(&self, json: &Json, pointer: &str, scope: Scope) -> Result<Field, DefinitionError> {
        let Json::String(path) = json else {
            return Err(error(
                pointer,
                ErrorKind::Syntax,
                format!("a field is a string \"<table>.<column>\", not {json}"),
            ));
        };
        let allowed = scope.tables();
        let here = allowed
            .iter()
            .map(|t| format!("{t}.*"))
            .collect::<Vec<_>>()
            .join(", ");
        let candidates: Vec<String> = allowed
            .iter()
            .flat_map(|t| self.schema.fields_of(*t).map(Field::path))
            .collect();
        let suggestion = || {
            closest(path, candidates.iter().map(String::as_str))
                .map(|c| format!("did you mean {c}? "))
                .unwrap_or_default()
        };
        let (table_name, column) = path.split_once('.').unwrap_or((path.as_str(), ""));
        let Some(table) = FieldTable::from_name(table_name) else {
            return Err(error(
                pointer,
                ErrorKind::UnknownField,
                format!(
                    "unknown field \"{path}\"; {}fields here are {here}",
                    suggestion()
                ),
            ));
        };
        if !allowed.contains(&table) {
            let place = match scope.relation {
                None => "at the top level".to_string(),
                Some(relation) => format!("inside a \"where\" over {relation}"),
            };
            let wrap = match scope.relation {
                None => RelationKind::ALL
                    .into_iter()
                    .find(|r| r.visible_tables().contains(&table))
                    .map(|r| format!("; to test related records wrap it in {{\"has\": \"{r}\", \"where\": ...}}"))
                    .unwrap_or_default(),
                Some(_) => String::new(),
            };
            return Err(error(
                pointer,
                ErrorKind::FieldNotHere,
                format!("{path} cannot be named {place}, where a condition may name {here}{wrap}"),
            ));
        }
        let Some(field) = self.schema.field(table, column) else {
            let fields = self
                .schema
                .fields_of(table)
                .map(|f| f.column.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            return Err(error(
                pointer,
                ErrorKind::UnknownField,
                format!(
                    "{table} has no field \"{column}\"; {}its fields are: {fields}",
                    suggestion()
                ),
            ));
        };
        if scope.apply_to == ApplyTo::Visitors
            && !matches!(
                table,
                FieldTable::Cart
                    | FieldTable::CartItem
                    | FieldTable::ProductView
                    | FieldTable::Product
            )
        {
            return Err(error(
                pointer,
                ErrorKind::NotForVisitors,
                format!(
                    "the segment applies to visitors only, and visitors have no {table}.* fields (only cart.*, cart_item, product_view)"
                ),
            ));
        }
        Ok(field.clone())
    }

    fn op(
        &self,
        object: &Map<String, Json>,
        pointer: &str,
        ty: FieldType,
        allowed: &[&str],
        what: &str,
    ) -> Result<Op, DefinitionError> {
        let op_pointer = pointer_join(pointer, "op");
        let Some(json) = object.get("op") else {
            return Err(error(
                pointer,
                ErrorKind::Syntax,
                format!(
                    "missing key \"op\": the operators for {what} are {}",
                    allowed.join(", ")
                ),
            ));
        };
        let Json::String(name) = json else {
            return Err(error(
                &op_pointer,
                ErrorKind::Syntax,
                format!("op is a string, one of {}", allowed.join(", ")),
            ));
        };
        let Some(op) = Op::from_name(name) else {
            let hint = closest(name, allowed.iter().copied())
                .map(|c| format!("did you mean \"{c}\"? "))
                .unwrap_or_default();
            return Err(error(
                &op_pointer,
                ErrorKind::UnknownOperator,
                format!(
                    "unknown operator \"{name}\"; {hint}the operators for {what} are {}",
                    allowed.join(", ")
                ),
            ));
        };
        if !allowed.contains(&op.name()) {
            return Err(error(
                &op_pointer,
                ErrorKind::OperatorNotForType,
                format!(
                    "operator \"{op}\" does not apply to {what} ({ty}); use one of {}",
                    allowed.join(", ")
                ),
            ));
        }
        Ok(op)
    }

    fn comparison(
        &self,
        object: &Map<String, Json>,
        pointer: &str,
        scope: Scope,
    ) -> Result<Comparison, DefinitionError> {
        let field = self.field(&object["field"], &pointer_join(pointer, "field"), scope)?;
        let what = format!("{} fields like {}", field.ty, field.path());
        let op = self.op(object, pointer, field.ty, operators_of(field.ty), &what)?;
        let operand = operand(object, pointer, op, field.ty)?;
        Ok(Comparison { field, op, operand })
    }

    fn aggregate(
        &mut self,
        object: &Map<String, Json>,
        pointer: &str,
        scope: Scope,
        depth: usize,
    ) -> Result<Aggregate, DefinitionError> {
        let function_pointer = pointer_join(pointer, "aggregate");
        let names = AggregateFunction::ALL.map(AggregateFunction::name);
        let function = match &object["aggregate"] {
            Json::String(name) => AggregateFunction::ALL
                .into_iter()
                .find(|f| f.name() == name)
                .ok_or_else(|| {
                    error(
                        &function_pointer,
                        ErrorKind::BadValue,
                        format!(
                            "unknown aggregate \"{name}\"; aggregates: {}",
                            names.join(", ")
                        ),
                    )
                })?,
            other => {
                return Err(error(
                    &function_pointer,
                    ErrorKind::Syntax,
                    format!("\"aggregate\" is one of {}, not {other}", names.join(", ")),
                ));
            }
        };
        let of_pointer = pointer_join(pointer, "of");
        let Some(Json::String(of)) = object.get("of") else {
            return Err(error(
                if object.contains_key("of") {
                    &of_pointer
                } else {
                    pointer
                },
                ErrorKind::Syntax,
                "\"of\" names a relation for count (\"of\": \"order\") and a field of the relation otherwise (\"of\": \"order.grand_total\")",
            ));
        };
        let (relation, field) = if function == AggregateFunction::Count {
            let mut fake = Map::new();
            fake.insert("of".into(), Json::String(of.clone()));
            (
                self.relation(&fake, "of", pointer, scope)
                    .map_err(|mut e| {
                        if e.pointer == pointer {
                            e.pointer = of_pointer.clone();
                        }
                        e
                    })?,
                None,
            )
        } else {
            let (table_name, _) = of.split_once('.').unwrap_or((of.as_str(), ""));
            let relation = RelationKind::from_name(table_name).ok_or_else(|| {
                error(
                    &of_pointer,
                    ErrorKind::UnknownRelation,
                    format!(
                        "{} aggregates a field of a relation, e.g. \"order.grand_total\"; \"{of}\" is not one (relations: {})",
                        function.name(),
                        RelationKind::ALL.map(RelationKind::name).join(", ")
                    ),
                )
            })?;
            let mut fake = Map::new();
            fake.insert("of".into(), Json::String(relation.name().into()));
            self.relation(&fake, "of", pointer, scope)
                .map_err(|mut e| {
                    e.pointer = of_pointer.clone();
                    e
                })?;
            let inner = Scope {
                relation: Some(relation),
                apply_to: scope.apply_to,
            };
            let field = self.field(&Json::String(of.clone()), &of_pointer, inner)?;
            let numeric = matches!(field.ty, FieldType::Int | FieldType::Decimal);
            let ordered = numeric || matches!(field.ty, FieldType::Date | FieldType::Timestamp);
            let fits = match function {
                AggregateFunction::Sum | AggregateFunction::Avg => numeric,
                _ => ordered,
            };
            if !fits {
                return Err(error(
                    &of_pointer,
                    ErrorKind::BadValue,
                    format!(
                        "{} needs {} field; {} is {}",
                        function.name(),
                        if matches!(function, AggregateFunction::Sum | AggregateFunction::Avg) {
                            "an int or decimal"
                        } else {
                            "an int, decimal, date or timestamp"
                        },
                        field.path(),
                        field.ty
                    ),
                ));
            }
            (relation, Some(field))
        };
        let filter = self.filter(object, pointer, relation, scope, depth)?;
        let result_type = match (function, &field) {
            (AggregateFunction::Count, _) => FieldType::Int,
            (AggregateFunction::Avg, _) => FieldType::Decimal,
            (_, Some(field)) => field.ty,
            (_, None) => FieldType::Int,
        };
        let allowed: Vec<&str> = operators_of(result_type)
            .iter()
            .copied()
            .filter(|op| !matches!(*op, "is_null" | "is_not_null"))
            .collect();
        let what = format!("{} of {of}", function.name());
        let op = self.op(object, pointer, result_type, &allowed, &what)?;
        let operand = operand(object, pointer, op, result_type)?;
        Ok(Aggregate {
            function,
            relation,
            of: field,
            filter,
            op,
            operand,
        })
    }
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

fn kind_of(json: &Json) -> &'static str {
    match json {
        Json::Null => "null",
        Json::Bool(_) => "a bool",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "a list",
        Json::Object(_) => "an object",
    }
}

fn keys_of(object: &Map<String, Json>) -> String {
    if object.is_empty() {
        "an empty object".into()
    } else {
        format!(
            "keys {}",
            object
                .keys()
                .map(|k| format!("\"{k}\""))
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}

/// The `value` of a comparison with operator `op` on a field of type `ty`.
fn operand(
    object: &Map<String, Json>,
    pointer: &str,
    op: Op,
    ty: FieldType,
) -> Result<Operand, DefinitionError> {
    let value_pointer = pointer_join(pointer, "value");
    let value = object.get("value");
    if matches!(op, Op::IsNull | Op::IsNotNull) {
        return match value {
            None | Some(Json::Null) => Ok(Operand::None),
            Some(_) => Err(error(
                &value_pointer,
                ErrorKind::BadValue,
                format!("{op} takes no value"),
            )),
        };
    }
    let Some(value) = value else {
        return Err(error(
            pointer,
            ErrorKind::Syntax,
            format!("missing key \"value\": {op} needs {}", expected(op, ty)),
        ));
    };
    let list = |value: &Json| -> Result<Vec<Scalar>, DefinitionError> {
        let Json::Array(items) = value else {
            return Err(error(
                &value_pointer,
                ErrorKind::BadValue,
                format!("{op} takes a JSON list ({}), not {value}", expected(op, ty)),
            ));
        };
        if items.len() > MAX_LIST_VALUES {
            return Err(list_limit(&value_pointer, items.len()));
        }
        let item_type = if ty == FieldType::IdList {
            FieldType::Int
        } else {
            ty
        };
        items
            .iter()
            .enumerate()
            .map(|(i, item)| scalar(item, &pointer_join(&value_pointer, i), item_type))
            .collect()
    };
    match op {
        Op::In | Op::NotIn | Op::HasAny | Op::HasAll | Op::HasNone => {
            list(value).map(Operand::List)
        }
        Op::Eq if ty == FieldType::IdList => list(value).map(Operand::List),
        Op::Between => {
            let items = match value {
                Json::Array(items) if items.len() == 2 => items,
                _ => {
                    return Err(error(
                        &value_pointer,
                        ErrorKind::BadValue,
                        format!("between takes [low, high] (both inclusive), not {value}"),
                    ));
                }
            };
            let low = scalar(&items[0], &pointer_join(&value_pointer, 0), ty)?;
            let high = scalar(&items[1], &pointer_join(&value_pointer, 1), ty)?;
            Ok(Operand::Between(low, high))
        }
        Op::InLastDays | Op::NotInLastDays => match value.as_i64() {
            Some(days) if (0..=1_000_000).contains(&days) => Ok(Operand::Days(days)),
            _ => Err(error(
                &value_pointer,
                ErrorKind::BadValue,
                format!("{op} takes a whole number of days from 0 to 1000000, not {value}"),
            )),
        },
        _ => scalar(value, &value_pointer, ty).map(Operand::One),
    }
}

fn expected(op: Op, ty: FieldType) -> String {
    let one = match ty {
        FieldType::Id | FieldType::Int | FieldType::IdList => "an integer",
        FieldType::Decimal => "a number with at most 4 decimals",
        FieldType::Bool => "true or false",
        FieldType::Date => "a date \"YYYY-MM-DD\"",
        FieldType::Timestamp => "a date \"YYYY-MM-DD\" or a timestamp \"YYYY-MM-DDTHH:MM:SSZ\"",
        FieldType::String => "a string",
    };
    match op {
        Op::In | Op::NotIn | Op::HasAny | Op::HasAll | Op::HasNone => {
            format!("a list of values, each {one}")
        }
        Op::Eq if ty == FieldType::IdList => format!("a list of values, each {one}"),
        Op::Between => format!("[low, high], each {one}"),
        Op::InLastDays | Op::NotInLastDays => "a whole number of days".into(),
        _ => one.into(),
    }
}

/// One value of type `ty`.
fn scalar(json: &Json, pointer: &str, ty: FieldType) -> Result<Scalar, DefinitionError> {
    let bad = |why: String| error(pointer, ErrorKind::BadValue, why);
    match ty {
        FieldType::Id | FieldType::Int | FieldType::IdList => json
            .as_i64()
            .map(Scalar::Int)
            .ok_or_else(|| bad(format!("expected an integer, found {json}"))),
        FieldType::Decimal => {
            let Json::Number(number) = json else {
                return Err(bad(format!(
                    "expected a number with at most 4 decimals, found {json}"
                )));
            };
            parse_decimal(&number.to_string())
                .or_else(|_| {
                    // serde_json prints 1e3 for big floats; read it through f64 exactly.
                    number
                        .as_f64()
                        .filter(|f| (f * DECIMAL_SCALE as f64).fract() == 0.0 && f.abs() < 9.0e14)
                        .map(|f| (f * DECIMAL_SCALE as f64) as i64)
                        .ok_or(())
                })
                .map(Scalar::Int)
                .map_err(|_| {
                    bad(format!(
                        "expected a number with at most 4 decimals, found {json}"
                    ))
                })
        }
        FieldType::Bool => json
            .as_bool()
            .map(|b| Scalar::Int(b as i64))
            .ok_or_else(|| bad(format!("expected true or false, found {json}"))),
        FieldType::Date => json
            .as_str()
            .and_then(|s| parse_date(s).ok())
            .map(|days| Scalar::Int(days as i64))
            .ok_or_else(|| bad(format!("expected a date \"YYYY-MM-DD\", found {json}"))),
        FieldType::Timestamp => {
            let text = json.as_str().ok_or_else(|| {
                bad(format!("expected a date \"YYYY-MM-DD\" or a timestamp \"YYYY-MM-DDTHH:MM:SSZ\", found {json}"))
            })?;
            if text.len() == 10 {
                parse_date(text).map(Scalar::Day)
            } else {
                parse_timestamp(text).map(Scalar::Instant)
            }
            .map_err(|e| {
                bad(format!(
                    "expected a date \"YYYY-MM-DD\" or a timestamp \"YYYY-MM-DDTHH:MM:SSZ\": {e}"
                ))
            })
        }
        FieldType::String => json
            .as_str()
            .map(|s| Scalar::Text(s.to_lowercase()))
            .ok_or_else(|| bad(format!("expected a string, found {json}"))),
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
