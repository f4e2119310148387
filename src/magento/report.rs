//! `import-report.json`: what an import read, and every source row it did not carry.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Keys listed at most per entry (the count is always whole).
pub const KEYS_LISTED: usize = 100_000;

#[derive(Debug, Default, Serialize)]
pub struct ImportReport {
    /// The server's `VERSION()`.
    pub server: String,
    /// `Commerce` (it has the customer segment tables) or `Open Source`.
    pub edition: String,
    /// Whether the catalog has content staging (a `row_id` column).
    pub staging: bool,
    /// `customer/account_share/scope`: 1 per website (Magento's default), 0 global.
    pub account_share_scope: i64,
    pub imported_at: String,
    /// Tables the import reads that the database lacks: each read as empty.
    pub missing_tables: Vec<String>,
    /// Rows written per dataset table.
    pub tables: BTreeMap<String, usize>,
    pub not_carried: Vec<Entry>,
    pub counted_only: Vec<Counted>,
    /// Rows carried with a value read otherwise than stored (an unusual label, say).
    pub warnings: Vec<Entry>,
    pub segments: Vec<SegmentEntry>,
}

/// Source rows of one kind, with their Magento keys.
#[derive(Debug, Serialize)]
pub struct Entry {
    pub table: String,
    pub reason: String,
    pub count: usize,
    pub keys: Vec<serde_json::Value>,
}

/// Source rows no condition can read, only counted.
#[derive(Debug, Serialize)]
pub struct Counted {
    pub table: String,
    pub reason: String,
    pub count: usize,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct SegmentEntry {
    pub segment_id: i64,
    pub name: String,
    pub result: String,
    pub definition_sha256: String,
    pub problems: Vec<Problem>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Problem {
    pub severity: String,
    pub path: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub reason: String,
}

impl ImportReport {
    /// Notes `keys` of `table` as not carried, for `reason` (nothing when there are none).
    pub fn not_carried(&mut self, table: &str, reason: &str, keys: Vec<serde_json::Value>) {
        if let Some(entry) = entry(table, reason, keys) {
            self.not_carried.push(entry);
        }
    }

    /// Notes `keys` of `table` as carried with a warning.
    pub fn warn(&mut self, table: &str, reason: &str, keys: Vec<serde_json::Value>) {
        if let Some(entry) = entry(table, reason, keys) {
            self.warnings.push(entry);
        }
    }

    /// The summary line of an import.
    pub fn summary(&self) -> String {
        let tables: Vec<String> = self
            .tables
            .iter()
            .map(|(table, rows)| format!("{table}={rows}"))
            .collect();
        let not_carried: usize = self.not_carried.iter().map(|e| e.count).sum();
        let imported = self
            .segments
            .iter()
            .filter(|s| s.result == "imported")
            .count();
        format!(
            "imported {} ({} {}); {} source rows not carried, {} segments imported, {} skipped (see import-report.json)",
            tables.join(" "),
            self.edition,
            self.server,
            not_carried,
            imported,
            self.segments.len() - imported
        )
    }
}

fn entry(table: &str, reason: &str, mut keys: Vec<serde_json::Value>) -> Option<Entry> {
    if keys.is_empty() {
        return None;
    }
    let count = keys.len();
    keys.truncate(KEYS_LISTED);
    Some(Entry {
        table: table.to_string(),
        reason: reason.to_string(),
        count,
        keys,
    })
}
