//! The conditions of a definition parsed and validated: each form, field, operator and
//! operand against the schema, within the limits of nesting, nodes and list sizes.

use serde_json::{Map, Value as Json};

use super::{
    Aggregate, AggregateFunction, ApplyTo, Comparison, Condition, DefinitionError, ErrorKind,
    MAX_DEPTH, MAX_LIST_VALUES, MAX_NODES, Op, Operand, Scalar, check_keys, closest, error,
    list_limit, pointer_join, segment_id,
};
use crate::data::value::{DECIMAL_SCALE, parse_date, parse_decimal, parse_timestamp};
use crate::model::FieldType;
use crate::segment::schema::{Field, FieldTable, RelationKind, Schema, operators_of};

/// A condition tree from `json` at `pointer`, at the top level of a segment applying to
/// `apply_to`.
pub(super) fn parse_condition(
    json: &Json,
    pointer: &str,
    apply_to: ApplyTo,
    schema: &Schema,
) -> Result<Condition, DefinitionError> {
    let mut parser = Parser { schema, nodes: 0 };
    let scope = Scope {
        relation: None,
        apply_to,
    };
    parser.condition(json, pointer, scope, 1)
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
