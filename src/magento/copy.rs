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
    } = plan;
    let sql = format!("SELECT {values} {from} WHERE {carried} ORDER BY {order}");
    source
        .for_each_row(table, &sql, |row| {
            if let Some((column, referenced)) = &mut products {
                referenced.note(&row[*column]);
            }
            file.push(&row)
                .map_err(|why| format!("row {}={}: {why}", file.first_column(), key_of(&row[0])))
        })
        .await?;
    let elsewhere = counted_elsewhere.map_or(String::new(), |rows| format!(" AND NOT ({rows})"));
    let rejected =
        format!("SELECT {key}, {reason} {from} WHERE NOT ({carried}){elsewhere} ORDER BY {key}");
    report_not_carried(source, report, table, &rejected, reasons).await
}

/// Reports the rows of `table` that `sql` selects, as (Magento key, reason code), as not
/// carried: each code's keys under its reason in `reasons` (a code not listed is a bug).
async fn report_not_carried(
    source: &mut Source<'_>,
    report: &mut ImportReport,
    table: &str,
    sql: &str,
    reasons: &[(&str, &str)],
) -> Result<(), MagentoError> {
    let mut keys: BTreeMap<String, Vec<serde_json::Value>> = BTreeMap::new();
    for row in source.rows(table, sql).await? {
        let code = match &row[1] {
            Value::Bytes(code) => String::from_utf8_lossy(code).into_owned(),
            other => format!("{other:?}"),
        };
        keys.entry(code).or_default().push(key_of(&row[0]));
    }
    for (code, reason) in reasons {
        let listed = keys.remove(*code).unwrap_or_default();
        report.not_carried(&source.label(table), reason, listed);
    }
    debug_assert!(keys.is_empty(), "reason codes without a reason: {keys:?}");
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
