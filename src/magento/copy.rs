//! The common shape of a table's import: the carried rows of a query streamed into the
//! dataset table's file, and the other source rows listed in the report by reason.

use std::collections::BTreeMap;

use mysql_async::Value;

use super::MagentoError;
use super::columns::TableFile;
use super::products::Referenced;
use super::report::{Counted, ImportReport};
use super::source::Source;

/// The reason (code `customer`) of a row whose customer is not carried.
pub const CUSTOMER_NOT_CARRIED: (&str, &str) = (
    "customer",
    "its customer is not carried (no website, or no such customer)",
);

/// One Magento table read into a dataset table: which rows are carried, their values,
/// and why each other row is not.
pub struct Plan<'a> {
    /// The Magento table (for errors and the report).
    pub table: &'a str,
    /// The SQL of a source row's key, as the report lists it (`i.item_id`).
    pub key: &'a str,
    /// `FROM ...` with the joins the other parts use.
    pub from: String,
    /// The condition of a carried row.
    pub carried: String,
    /// The SELECT list of a carried row, a value per column of the file, and its order.
    pub values: String,
    pub order: &'a str,
    /// The SQL of a reason code for a row not carried, and what each code means.
    pub reason: &'a str,
    pub reasons: &'a [(&'a str, &'a str)],
    /// Rows neither carried nor listed (the caller counts them).
    pub counted_elsewhere: Option<&'a str>,
    /// What is checked of a row on the client rather than joined on the server (with
    /// `counted_elsewhere` none).
    pub check: Option<ClientCheck<'a>>,
}

/// A row's check on the client against keys read before ([`super::keys::KnownKeys`]):
/// given the row's values and the reason code the server gave (for a row its SQL does not
/// carry), the row's reason code, `None` when it is carried. It may put values from
/// those keys in place (a store's website for its id).
pub type ClientCheck<'a> = Box<dyn FnMut(&mut [Value], Option<&'a str>) -> Option<&'a str> + 'a>;

/// `check` as a [`ClientCheck`] (which types its closure's arguments).
pub fn client_check<'a>(
    check: impl FnMut(&mut [Value], Option<&'a str>) -> Option<&'a str> + 'a,
) -> ClientCheck<'a> {
    Box::new(check)
}

/// Streams the carried rows of `plan` into `file`, noting the product ids of column
/// `products.0`, and reports the others as not carried.
pub async fn copy_table(
    source: &mut Source<'_>,
    file: &mut TableFile,
    report: &mut ImportReport,
    plan: Plan<'_>,
    mut products: Option<(usize, &mut Referenced)>,
) -> Result<(), MagentoError> {
    let Plan {
        table,
        key,
        from,
        carried,
        values,
        order,
        reason,
        reasons,
        counted_elsewhere,
        mut check,
    } = plan;
    debug_assert!(check.is_none() || counted_elsewhere.is_none());
    // One pass over the table in the order of its key, each row looked up in the others
    // by key (`STRAIGHT_JOIN`: no temporary table, no sort of the whole table), routed
    // here: carried into the file, or listed as not carried with its reason.
    let listed = match counted_elsewhere {
        Some(rows) => format!("NOT ({carried}) AND NOT ({rows})"),
        None => format!("NOT ({carried})"),
    };
    // Two columns before the values, null for a carried row (which most are, and a null
    // costs neither the server nor the client a value): the reason code of a listed row
    // (empty for one counted elsewhere), and the key of a row not carried (of every row
    // when the client may find it is not).
    let key = match check {
        Some(_) => key.to_string(),
        None => format!("IF(({carried}) IS TRUE, NULL, {key})"),
    };
    let sql = format!(
        "SELECT STRAIGHT_JOIN CASE WHEN ({carried}) IS TRUE THEN NULL \
         WHEN ({listed}) IS TRUE THEN COALESCE({reason}, '?') ELSE '' END, \
         {key}, {values} {from} ORDER BY {order}"
    );
    let mut not_carried: BTreeMap<String, Vec<serde_json::Value>> = BTreeMap::new();
    source
        .for_each_row(table, &sql, |mut row| {
            let mut values = row.split_off(2);
            let carried_by_sql = row[0] == Value::NULL;
            let code_of_sql = || match &row[0] {
                Value::Bytes(code) if code.is_empty() => None,
                Value::Bytes(code) => Some(String::from_utf8_lossy(code).into_owned()),
                other => Some(format!("{other:?}")),
            };
            let (carried, listed) = match &mut check {
                Some(check) => {
                    let by_sql = if carried_by_sql { None } else { code_of_sql() };
                    let known = by_sql.as_deref().map(|code| {
                        reasons
                            .iter()
                            .find(|(known, _)| *known == code)
                            .map(|(known, _)| *known)
                    });
                    match known {
                        // A code of no reason: listed as it is, and found below.
                        Some(None) => (false, by_sql),
                        Some(Some(code)) => {
                            let code = check(&mut values, Some(code)).unwrap_or(code);
                            (false, Some(code.to_string()))
                        }
                        None => match check(&mut values, None) {
                            None => (true, None),
                            Some(code) => (false, Some(code.to_string())),
                        },
                    }
                }
                None if carried_by_sql => (true, None),
                None => (false, code_of_sql()),
            };
            if carried {
                if let Some((column, referenced)) = &mut products {
                    referenced.note(&values[*column]);
                }
                file.push(&values).map_err(|why| {
                    format!("row {}={}: {why}", file.first_column(), key_of(&values[0]))
                })
            } else {
                if let Some(code) = listed {
                    not_carried.entry(code).or_default().push(key_of(&row[1]));
                }
                Ok(())
            }
        })
        .await?;
    for (code, reason) in reasons {
        let listed = not_carried.remove(*code).unwrap_or_default();
        report.not_carried(&source.label(table), reason, listed);
    }
    debug_assert!(
        not_carried.is_empty(),
        "reason codes without a reason: {not_carried:?}"
    );
    Ok(())
}

/// Counts the rows of `table` matching `condition` (over alias `t`) as read by no
/// condition, for `reason`.
pub async fn count_only(
    source: &mut Source<'_>,
    report: &mut ImportReport,
    table: &str,
    condition: &str,
    reason: &str,
) -> Result<(), MagentoError> {
    if !source.has(table) {
        return Ok(());
    }
    let sql = format!(
        "SELECT COUNT(*) FROM {} t WHERE {condition}",
        source.name(table)
    );
    let rows = source.rows(table, &sql).await?;
    let count = match rows.first().and_then(|row| row.first()) {
        Some(Value::Int(n)) => *n as usize,
        Some(Value::UInt(n)) => *n as usize,
        _ => 0,
    };
    if count > 0 {
        report.counted_only.push(Counted {
            table: source.label(table),
            reason: reason.to_string(),
            count,
        });
    }
    Ok(())
}

/// A source key as the report lists it: a number when it is one.
pub fn key_of(value: &Value) -> serde_json::Value {
    match (integer_of(value), value) {
        (Some(n), _) => serde_json::json!(n),
        (None, Value::Bytes(b)) => serde_json::json!(String::from_utf8_lossy(b)),
        (None, other) => serde_json::json!(format!("{other:?}")),
    }
}

/// An integer value (MySQL sends some as text), if it is one.
pub fn integer_of(value: &Value) -> Option<i64> {
    match value {
        Value::Int(n) => Some(*n),
        Value::UInt(n) => i64::try_from(*n).ok(),
        Value::Bytes(text) => std::str::from_utf8(text).ok()?.parse().ok(),
        _ => None,
    }
}
