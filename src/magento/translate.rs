//! Magento's `conditions_serialized` (decoded JSON) translated into the segment language,
//! as magento.md's table says: what the label says is evaluated, and every condition that
//! cannot be translated, or is translated otherwise than Magento's SQL runs it, is a
//! problem with the JSON Pointer of its node.

use std::collections::BTreeMap;

use serde_json::{Value as Json, json};

use super::report::Problem;
use crate::model::FieldType;
use crate::segment::Schema;
use crate::segment::schema::FieldTable;

/// The prefix Magento's condition types may carry.
const PREFIX: &str = "Magento\\CustomerSegment\\Model\\Segment\\Condition\\";

/// What translation needs beyond the dataset's fields.
pub struct Vocabulary<'a> {
    pub schema: &'a Schema,
    /// Gender option id → the dataset's value (`male`, ...).
    pub genders: &'a BTreeMap<i64, String>,
    /// Product attribute set id → its name.
    pub attribute_sets: &'a BTreeMap<i64, String>,
}

/// A translated definition's conditions (when nothing was untranslatable) and its problems.
pub struct Translation {
    pub conditions: Option<Json>,
    pub problems: Vec<Problem>,
}

/// Translates a decoded `conditions_serialized` root.
pub fn translate(root: &Json, vocabulary: &Vocabulary<'_>) -> Translation {
    let mut translator = Translator {
        vocabulary,
        problems: Vec::new(),
    };
    let conditions = match type_of(root) {
        Some("Combine\\Root") => translator.combination(root, "", Scope::Top),
        other => {
            translator.untranslatable("", other.unwrap_or(""), "the root is not Combine\\Root");
            None
        }
    };
    let untranslatable = translator
        .problems
        .iter()
        .any(|p| p.severity == "untranslatable");
    Translation {
        conditions: if untranslatable {
            None
        } else {
            Some(conditions.unwrap_or_else(|| json!({"all": []})))
        },
        problems: translator.problems,
    }
}

/// Where a condition stands: which fields it may name, and the date its period
/// conditions (`Uptodate`, `Daterange`) compare.
#[derive(Clone, Copy, PartialEq)]
enum Scope {
    Top,
    Address,
    OrderAddress,
    /// Over a relation with products (`cart_item`, ...) or orders; the date field.
    Records(&'static str),
}

fn type_of(node: &Json) -> Option<&str> {
    let full = node.get("type")?.as_str()?;
    Some(full.strip_prefix(PREFIX).unwrap_or(full))
}

/// A node's key as text (Magento stores numbers as strings or numbers).
fn text(node: &Json, key: &str) -> Option<String> {
    scalar_text(node.get(key)?)
}

/// A scalar as text: strings as they are, numbers written out, booleans as `1`/`0`.
fn scalar_text(value: &Json) -> Option<String> {
    match value {
        Json::String(s) => Some(s.clone()),
        Json::Number(n) => Some(n.to_string()),
        Json::Bool(b) => Some(if *b { "1" } else { "0" }.to_string()),
        _ => None,
    }
}

struct Translator<'a> {
    vocabulary: &'a Vocabulary<'a>,
    problems: Vec<Problem>,
}

impl Translator<'_> {
    fn problem(&mut self, severity: &str, path: &str, kind: &str, reason: impl Into<String>) {
        self.problems.push(Problem {
            severity: severity.into(),
            path: path.into(),
            kind: kind.into(),
            reason: reason.into(),
        });
    }

    fn untranslatable(&mut self, path: &str, kind: &str, reason: impl Into<String>) {
        self.problem("untranslatable", path, kind, reason);
    }

    fn warn(&mut self, path: &str, kind: &str, reason: impl Into<String>) {
        self.problem("warning", path, kind, reason);
    }

    /// The children of `node` in `scope`, combined by its aggregator and value.
    fn combination(&mut self, node: &Json, path: &str, scope: Scope) -> Option<Json> {
        let children = self.children(node, path, scope);
        let every = text(node, "aggregator").as_deref() != Some("any");
        let truth = text(node, "value").as_deref() != Some("0");
        let key = match (every, truth) {
            (true, true) => "all",
            (false, true) => "any",
            (true, false) => "none",
            (false, false) => "not_all",
        };
        Some(json!({ key: children }))
    }

    /// `node`'s children translated (omitted ones left out), aggregated `all` or `any`.
    fn children(&mut self, node: &Json, path: &str, scope: Scope) -> Vec<Json> {
        let Some(children) = node.get("conditions").and_then(Json::as_array) else {
            return Vec::new();
        };
        children
            .iter()
            .enumerate()
            .filter_map(|(i, child)| self.node(child, &format!("{path}/conditions/{i}"), scope))
            .collect()
    }

    /// The children of a relation's node as its `where`: `all`/`any` by the aggregator.
    fn relation_where(&mut self, node: &Json, path: &str, scope: Scope) -> Option<Json> {
        let children = self.children(node, path, scope);
        if children.is_empty() {
            return None;
        }
        let key = if text(node, "aggregator").as_deref() == Some("any") {
            "any"
        } else {
            "all"
        };
        Some(json!({ key: children }))
    }

    fn node(&mut self, node: &Json, path: &str, scope: Scope) -> Option<Json> {
        let Some(kind) = type_of(node) else {
            self.untranslatable(path, "", "a condition without a type");
            return None;
        };
        let kind = kind.to_string();
        let attribute = text(node, "attribute").unwrap_or_default();
        match (kind.as_str(), scope) {
            ("Combine", Scope::Top) => self.combination(node, path, scope),
            ("Customer\\Attributes", Scope::Top) => self.customer_attribute(node, path, &attribute),
            ("Customer\\Newsletter", Scope::Top) => Some(json!({
                "field": "customer.newsletter_subscribed", "op": "eq",
                "value": text(node, "value").as_deref() != Some("0")})),
            ("Customer\\Storecredit", Scope::Top) => {
                self.compare(node, path, &kind, FieldTable::Customer, "store_credit")
            }
            ("Customer\\Address", Scope::Top) => {
                let mut has = json!({"has": "address"});
                if let Some(w) = self.relation_where(node, path, Scope::Address) {
                    has["where"] = w;
                }
                Some(has)
            }
            ("Order\\Address", Scope::Top) => {
                let mut has = json!({"has": "order_address"});
                if let Some(w) = self.relation_where(node, path, Scope::OrderAddress) {
                    has["where"] = w;
                }
                Some(has)
            }
            (
                "Customer\\Address\\Combine" | "Order\\Address\\Combine",
                Scope::Address | Scope::OrderAddress,
            ) => {
                self.warn(path, &kind, "a nested combination is tested on the same address here; Magento tests it on any address");
                self.combination(node, path, scope)
            }
            ("Customer\\Address\\Attributes", Scope::Address) => {
                self.compare(node, path, &kind, FieldTable::Address, &attribute)
            }
            ("Order\\Address\\Attributes", Scope::OrderAddress) => {
                self.compare(node, path, &kind, FieldTable::OrderAddress, &attribute)
            }
            ("Order\\Address\\Type", Scope::OrderAddress) => {
                self.compare(node, path, &kind, FieldTable::OrderAddress, "address_type")
            }
            ("Customer\\Address\\DefaultAddress", Scope::Address) => {
                let which = match text(node, "value").as_deref() {
                    Some("default_billing") => "is_default_billing",
                    Some("default_shipping") => "is_default_shipping",
                    other => {
                        self.untranslatable(
                            path,
                            &kind,
                            format!("value {other:?} is not default_billing or default_shipping"),
                        );
                        return None;
                    }
                };
                let negated = text(node, "operator").as_deref() == Some("!=");
                if negated {
                    self.warn(
                        path,
                        &kind,
                        "\"is not\" is translated as the label says; Magento ignores it",
                    );
                }
                Some(json!({"field": format!("address.{which}"), "op": "eq", "value": !negated}))
            }
            ("Customer\\Address\\Region", Scope::Address) => {
                let op = if text(node, "value").as_deref() == Some("0") {
                    "is_null"
                } else {
                    "is_not_null"
                };
                Some(json!({"field": "address.region", "op": op}))
            }
            ("Shoppingcart\\Amount", Scope::Top) => {
                let column = match attribute.as_str() {
                    "subtotal" => "subtotal",
                    "grand_total" => "grand_total",
                    "tax" => "tax_amount",
                    "shipping" => "shipping_amount",
                    "store_credit" => "store_credit_used",
                    "gift_card" => "gift_card_used",
                    other => {
                        self.untranslatable(path, &kind, format!("unknown cart amount {other:?}"));
                        return None;
                    }
                };
                self.compare(node, path, &kind, FieldTable::Cart, column)
            }
            ("Shoppingcart\\Itemsquantity", Scope::Top) => {
                self.compare(node, path, &kind, FieldTable::Cart, "items_count")
            }
            ("Shoppingcart\\Productsquantity", Scope::Top) => {
                self.compare(node, path, &kind, FieldTable::Cart, "items_qty")
            }
            ("Product\\Combine\\ListCombine" | "Product\\Combine\\History", Scope::Top) => {
                self.product_list(node, path, &kind)
            }
            ("Product\\Combine", Scope::Records(_)) => {
                self.warn(
                    path,
                    &kind,
                    "a nested product combination is tested on the same record here",
                );
                self.combination(node, path, scope)
            }
            ("Product\\Attributes", Scope::Records(_)) => {
                self.product_attribute(node, path, &kind, &attribute)
            }
            ("Sales\\Salesamount" | "Sales\\Purchasedquantity", Scope::Top) => {
                let column = if kind == "Sales\\Salesamount" {
                    "grand_total"
                } else {
                    "total_qty_ordered"
                };
                let function = match attribute.as_str() {
                    "total" => "sum",
                    "average" => "avg",
                    other => {
                        self.untranslatable(
                            path,
                            &kind,
                            format!("unknown aggregate {other:?} (total or average)"),
                        );
                        return None;
                    }
                };
                self.aggregate(node, path, &kind, function, &format!("order.{column}"))
            }
            ("Sales\\Ordersnumber", Scope::Top) => {
                if text(node, "value").and_then(|v| v.trim().parse::<f64>().ok()) == Some(0.0) {
                    self.warn(path, &kind, "with the value 0 Magento matches customers with no order at all, ignoring the rest");
                }
                self.aggregate(node, path, &kind, "count", "order")
            }
            ("Order\\Status", Scope::Records("order.created_at")) => {
                if text(node, "value").as_deref() == Some("any") {
                    return None;
                }
                self.compare(node, path, &kind, FieldTable::Order, "status")
            }
            ("Uptodate", Scope::Records(date)) => self.up_to_date(node, path, &kind, date),
            ("Daterange", Scope::Records(date)) => self.date_range(node, path, &kind, date),
            _ => {
                self.untranslatable(
                    path,
                    &kind,
                    "an unknown condition type, or one that cannot stand here",
                );
                None
            }
        }
    }

    fn customer_attribute(&mut self, node: &Json, path: &str, attribute: &str) -> Option<Json> {
        let kind = "Customer\\Attributes";
        if let Some(flag) = attribute.strip_prefix("default_") {
            let field = format!("address.is_default_{flag}");
            let has =
                json!({"has": "address", "where": {"field": field, "op": "eq", "value": true}});
            return match text(node, "value").as_deref() {
                Some("is_exists") => Some(has),
                Some("is_not_exists") => Some(json!({"not": has})),
                other => {
                    self.untranslatable(
                        path,
                        kind,
                        format!("value {other:?} is not is_exists or is_not_exists"),
                    );
                    None
                }
            };
        }
        if attribute == "gender" {
            let operator = text(node, "operator").unwrap_or_default();
            let value = text(node, "value").unwrap_or_default();
            let label = value
                .trim()
                .parse::<i64>()
                .ok()
                .and_then(|id| self.vocabulary.genders.get(&id));
            let (Some(label), Some(op)) = (
                label,
                match operator.as_str() {
                    "==" => Some("eq"),
                    "!=" => Some("ne"),
                    _ => None,
                },
            ) else {
                self.untranslatable(path, kind, format!("gender {operator} {value:?}: not an option of gender compared with == or !="));
                return None;
            };
            return Some(json!({"field": "customer.gender", "op": op, "value": label}));
        }
        self.compare(node, path, kind, FieldTable::Customer, attribute)
    }

    fn product_attribute(
        &mut self,
        node: &Json,
        path: &str,
        kind: &str,
        attribute: &str,
    ) -> Option<Json> {
        if attribute == "attribute_set_id" {
            let operator = text(node, "operator").unwrap_or_default();
            let ids = list(node);
            let names: Option<Vec<&String>> = ids
                .iter()
                .map(|id| {
                    id.parse::<i64>()
                        .ok()
                        .and_then(|id| self.vocabulary.attribute_sets.get(&id))
                })
                .collect();
            let op = match operator.as_str() {
                "==" | "()" => "in",
                "!=" | "!()" => "not_in",
                _ => "",
            };
            return match names {
                Some(names) if !op.is_empty() && !names.is_empty() => {
                    Some(json!({"field": "product.attribute_set", "op": op, "value": names}))
                }
                _ => {
                    self.untranslatable(path, kind, format!("attribute_set_id {operator} {ids:?}: not attribute sets compared with == != () !()"));
                    None
                }
            };
        }
        self.compare(node, path, kind, FieldTable::Product, attribute)
    }

    /// `has` of the relation a product list names, `not` of it for `!=`.
    fn product_list(&mut self, node: &Json, path: &str, kind: &str) -> Option<Json> {
        let (relation, date) = match text(node, "value").as_deref() {
            Some("shopping_cart") => ("cart_item", "cart_item.added_at"),
            Some("wishlist") => ("wishlist_item", "wishlist_item.added_at"),
            Some("viewed_history") => ("product_view", "product_view.viewed_at"),
            Some("ordered_history") => ("order_item", "order.created_at"),
            other => {
                self.untranslatable(path, kind, format!("value {other:?} is not shopping_cart, wishlist, viewed_history or ordered_history"));
                return None;
            }
        };
        let negated = text(node, "operator").as_deref() == Some("!=");
        if negated {
            let inverted = node
                .get("conditions")
                .and_then(Json::as_array)
                .is_some_and(|c| {
                    c.iter()
                        .any(|c| matches!(type_of(c), Some("Daterange" | "Product\\Combine")))
                });
            if inverted {
                self.warn(path, kind, "\"was not found\" with a date range or nested combination: Magento inverts those children too");
            }
        }
        let mut has = json!({"has": relation});
        if let Some(w) = self.relation_where(node, path, Scope::Records(date)) {
            has["where"] = w;
        }
        Some(if negated { json!({"not": has}) } else { has })
    }

    fn aggregate(
        &mut self,
        node: &Json,
        path: &str,
        kind: &str,
        function: &str,
        of: &str,
    ) -> Option<Json> {
        let (op, value) = self.operator_and_value(node, path, kind, FieldType::Decimal)?;
        let mut aggregate = json!({"aggregate": function, "of": of, "op": op, "value": value});
        if let Some(w) = self.relation_where(node, path, Scope::Records("order.created_at")) {
            aggregate["where"] = w;
        }
        Some(aggregate)
    }

    fn up_to_date(&mut self, node: &Json, path: &str, kind: &str, date: &str) -> Option<Json> {
        let days = text(node, "value")
            .and_then(|v| v.trim().parse::<u32>().ok())
            .unwrap_or(0);
        if days == 0 {
            self.warn(path, kind, "a period of 0 days or none: omitted");
            return None;
        }
        let operator = text(node, "operator").unwrap_or_default();
        let op = match operator.as_str() {
            ">=" => "in_last_days",
            "<" => "not_in_last_days",
            ">" | "<=" => {
                self.warn(
                    path,
                    kind,
                    "Magento's SQL differs from the label at 00:00:00 exactly",
                );
                if operator == ">" {
                    "in_last_days"
                } else {
                    "not_in_last_days"
                }
            }
            other => {
                self.untranslatable(path, kind, format!("operator {other:?} on a period"));
                return None;
            }
        };
        Some(json!({"field": date, "op": op, "value": days}))
    }

    fn date_range(&mut self, node: &Json, path: &str, kind: &str, date: &str) -> Option<Json> {
        let value = text(node, "value").unwrap_or_default();
        let bounds = value
            .split_once("...")
            .and_then(|(a, b)| Some((parse_date(a.trim())?.0, parse_date(b.trim())?.0)));
        let Some((from, to)) = bounds else {
            self.warn(
                path,
                kind,
                format!("{value:?} is not a date range from...to: omitted"),
            );
            return None;
        };
        match text(node, "operator").as_deref() {
            Some("==") => Some(json!({"field": date, "op": "between", "value": [from, to]})),
            Some("!=") => Some(json!({"any": [
                {"field": date, "op": "lt", "value": from},
                {"field": date, "op": "gt", "value": to}]})),
            other => {
                self.untranslatable(path, kind, format!("operator {other:?} on a date range"));
                None
            }
        }
    }

    /// A comparison of the field `table.column` by the node's operator and value.
    fn compare(
        &mut self,
        node: &Json,
        path: &str,
        kind: &str,
        table: FieldTable,
        column: &str,
    ) -> Option<Json> {
        let field_path = format!("{}.{column}", table.name());
        let Some(field) = self.vocabulary.schema.field(table, column) else {
            self.untranslatable(
                path,
                kind,
                format!("{field_path} is not a field of the dataset"),
            );
            return None;
        };
        let ty = field.ty;
        let operator = text(node, "operator").unwrap_or_default();
        let values = list(node);
        if ty == FieldType::IdList {
            return self.list_field(path, kind, table, &field_path, &operator, &values);
        }
        if values.len() > 1 || matches!(operator.as_str(), "()" | "!()") {
            let parsed: Option<Vec<Json>> = values.iter().map(|v| parse_value(v, ty)).collect();
            let Some(parsed) = parsed else {
                self.untranslatable(
                    path,
                    kind,
                    format!("{values:?} is not a list of {field_path} values"),
                );
                return None;
            };
            return match operator.as_str() {
                "==" | "()" => Some(json!({"field": field_path, "op": "in", "value": parsed})),
                "!=" | "!()" => Some(json!({"field": field_path, "op": "not_in", "value": parsed})),
                "{}" | "!{}" if ty == FieldType::String => {
                    let op = if operator == "{}" {
                        "contains"
                    } else {
                        "not_contains"
                    };
                    self.like_warning(path, kind, &values);
                    Some(
                        json!({"all": parsed.iter().map(|v| json!({"field": field_path, "op": op, "value": v})).collect::<Vec<_>>()}),
                    )
                }
                other => {
                    self.untranslatable(
                        path,
                        kind,
                        format!("operator {other:?} with a list on {field_path}"),
                    );
                    None
                }
            };
        }
        let (op, value) = self.operator_and_value(node, path, kind, ty)?;
        if op == "contains" || op == "not_contains" {
            self.like_warning(path, kind, &values);
        }
        if ty == FieldType::Date && op == "eq" {
            self.warn(path, kind, "Magento's SQL also matches the next day");
        }
        Some(json!({"field": field_path, "op": op, "value": value}))
    }

    fn like_warning(&mut self, path: &str, kind: &str, values: &[String]) {
        if values.iter().any(|v| v.contains('%') || v.contains('_')) {
            self.warn(
                path,
                kind,
                "% and _ are LIKE wildcards in Magento; here they are plain characters",
            );
        }
    }

    /// The segment language's operator and value for a single value of type `ty`.
    fn operator_and_value(
        &mut self,
        node: &Json,
        path: &str,
        kind: &str,
        ty: FieldType,
    ) -> Option<(&'static str, Json)> {
        let operator = text(node, "operator").unwrap_or_default();
        let raw = text(node, "value").unwrap_or_default();
        let op = match (operator.as_str(), ty) {
            ("==", _) => "eq",
            ("!=", _) => "ne",
            (">=", _) => "gte",
            (">", _) => "gt",
            ("<=", _) => "lte",
            ("<", _) => "lt",
            ("{}", FieldType::String) => "contains",
            ("!{}", FieldType::String) => "not_contains",
            (other, _) => {
                self.untranslatable(
                    path,
                    kind,
                    format!("operator {other:?} is not one of this field's"),
                );
                return None;
            }
        };
        if !crate::segment::schema::operators_of(ty).contains(&op) {
            self.untranslatable(
                path,
                kind,
                format!("operator {operator:?} is not one of this field's"),
            );
            return None;
        }
        // `==` on a timestamp is the whole day, as the date picker Magento shows means it.
        let value = if ty == FieldType::Timestamp && matches!(op, "eq" | "ne") {
            parse_date(raw.trim()).map(|(day, _)| json!(day))
        } else {
            parse_value(raw.trim(), ty)
        };
        match value {
            Some(value) => Some((op, value)),
            None => {
                self.untranslatable(path, kind, format!("value {raw:?} does not parse"));
                None
            }
        }
    }

    fn list_field(
        &mut self,
        path: &str,
        kind: &str,
        table: FieldTable,
        field_path: &str,
        operator: &str,
        values: &[String],
    ) -> Option<Json> {
        let ids: Option<Vec<i64>> = values.iter().map(|v| v.trim().parse().ok()).collect();
        let Some(ids) = ids else {
            self.untranslatable(path, kind, format!("{values:?} is not a list of ids"));
            return None;
        };
        let categories = field_path == "product.category_ids";
        let product = table == FieldTable::Product;
        let op = match (operator, categories, product) {
            ("==" | "()", true, _) => "has_any",
            ("!=" | "!()", true, _) => {
                self.warn(
                    path,
                    kind,
                    "Magento matches products in some other category too",
                );
                "has_none"
            }
            ("{}", false, true) => "has_all",
            ("()", false, true) => "has_any",
            ("!{}" | "!()", false, true) => "has_none",
            ("==", false, false) => "eq",
            ("!=", false, false) => {
                return Some(json!({"all": [
                    {"field": field_path, "op": "is_not_null"},
                    {"not": {"field": field_path, "op": "eq", "value": ids}}]}));
            }
            ("[]", false, false) => "has_any",
            ("![]", false, false) => "has_none",
            (other, ..) => {
                self.untranslatable(
                    path,
                    kind,
                    format!("operator {other:?} on the list {field_path}"),
                );
                return None;
            }
        };
        if product && !categories {
            self.warn(
                path,
                kind,
                "Magento compares the stored text of a multiselect",
            );
        }
        Some(json!({"field": field_path, "op": op, "value": ids}))
    }
}

/// The node's value as a list: a JSON list, or text split at commas (trimmed).
fn list(node: &Json) -> Vec<String> {
    match node.get("value") {
        Some(Json::Array(items)) => items.iter().filter_map(scalar_text).collect(),
        _ => text(node, "value")
            .unwrap_or_default()
            .split(',')
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .collect(),
    }
}

/// A Magento value of type `ty` as the segment language writes it.
fn parse_value(raw: &str, ty: FieldType) -> Option<Json> {
    match ty {
        FieldType::Id | FieldType::Int => raw.parse::<i64>().ok().map(Json::from),
        FieldType::Decimal => {
            super::columns::decimal_units(raw)?;
            serde_json::from_str::<serde_json::Number>(raw.trim_start_matches('+'))
                .ok()
                .map(Json::Number)
        }
        FieldType::Bool => match raw {
            "1" => Some(json!(true)),
            "0" => Some(json!(false)),
            _ => None,
        },
        FieldType::Date => parse_date(raw).map(|(day, _)| json!(day)),
        FieldType::Timestamp => parse_date(raw).map(|(day, instant)| json!(instant.unwrap_or(day))),
        FieldType::String => Some(json!(raw)),
        FieldType::IdList => None,
    }
}

/// `Y-m-d`, `Y-m-d H:i:s` or `m/d/Y`: the day (`YYYY-MM-DD`) and, with a time, the instant
/// (RFC 3339, UTC).
fn parse_date(raw: &str) -> Option<(String, Option<String>)> {
    use chrono::{NaiveDate, NaiveDateTime};
    if let Ok(at) = NaiveDateTime::parse_from_str(raw, "%Y-%m-%d %H:%M:%S") {
        return Some((
            at.date().format("%Y-%m-%d").to_string(),
            Some(at.format("%Y-%m-%dT%H:%M:%SZ").to_string()),
        ));
    }
    let day = NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(raw, "%m/%d/%Y"))
        .ok()?;
    Some((day.format("%Y-%m-%d").to_string(), None))
}
