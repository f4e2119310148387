//! Magento's customer segments (`magento_customersegment_segment` and `_website`) as
//! segment files: each translated ([`super::translate`]), validated against the imported
//! dataset, and written to `segments/<segment_id>.json`, or skipped with every problem in
//! the report. Write-back only touches segments written here, and only while their row
//! still hashes to the `definition_sha256` the report keeps.

use std::collections::BTreeMap;
use std::path::Path;

use datafusion::arrow::record_batch::RecordBatch;
use mysql_async::Value;
use serde_json::{Value as Json, json};
use sha2::{Digest, Sha256};

use super::MagentoError;
use super::copy::integer_of;
use super::report::{ImportReport, Problem, SegmentEntry};
use super::source::Source;
use super::translate::{Vocabulary, translate};
use crate::model::TableName;
use crate::segment::{Schema, Segment};

/// A segment's row as Magento stores it, with its websites.
pub struct StoredSegment {
    pub segment_id: i64,
    pub name: Option<String>,
    pub description: Option<String>,
    pub is_active: i64,
    pub apply_to: i64,
    pub conditions_serialized: Option<String>,
    pub websites: Vec<i64>,
}

impl StoredSegment {
    /// A row of [`SEGMENT_COLUMNS`] with the segment's websites.
    fn from_row(row: &[Value], websites: Vec<i64>) -> Option<StoredSegment> {
        let text = |value: &Value| match value {
            Value::Bytes(b) => Some(String::from_utf8_lossy(b).into_owned()),
            _ => None,
        };
        Some(StoredSegment {
            segment_id: integer_of(&row[0])?,
            name: text(&row[1]),
            description: text(&row[2]),
            is_active: integer_of(&row[3]).unwrap_or(0),
            apply_to: integer_of(&row[4]).unwrap_or(0),
            conditions_serialized: text(&row[5]),
            websites,
        })
    }

    /// The fingerprint of everything the translation read: a change in Magento after the
    /// import changes it.
    pub fn sha256(&self) -> String {
        let canonical = json!([
            self.segment_id,
            self.name,
            self.description,
            self.is_active,
            self.apply_to,
            self.conditions_serialized,
            self.websites
        ]);
        let digest = Sha256::digest(canonical.to_string().as_bytes());
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// The columns [`StoredSegment::from_row`] reads, in its order.
const SEGMENT_COLUMNS: &str =
    "segment_id, name, description, is_active, apply_to, conditions_serialized";

/// Every stored segment, ascending by id.
pub async fn stored(source: &mut Source<'_>) -> Result<Vec<StoredSegment>, MagentoError> {
    let table = "magento_customersegment_segment";
    if !source.has(table) {
        return Ok(Vec::new());
    }
    let mut websites: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    if source.has("magento_customersegment_website") {
        let sql = format!(
            "SELECT segment_id, website_id FROM {} ORDER BY segment_id, website_id",
            source.name("magento_customersegment_website")
        );
        for row in source.rows("magento_customersegment_website", &sql).await? {
            if let (Some(segment), Some(website)) = (integer_of(&row[0]), integer_of(&row[1])) {
                websites.entry(segment).or_default().push(website);
            }
        }
    }
    let sql = format!(
        "SELECT {SEGMENT_COLUMNS} FROM {} ORDER BY segment_id",
        source.name(table)
    );
    Ok(source
        .rows(table, &sql)
        .await?
        .iter()
        .filter_map(|row| {
            let segment_id = integer_of(&row[0])?;
            StoredSegment::from_row(row, websites.remove(&segment_id).unwrap_or_default())
        })
        .collect())
}

/// Segment `segment_id` as Magento stores it now, its row locked `FOR UPDATE` when `lock`
/// (so that nobody changes it while its memberships are written); `None` when deleted.
pub async fn stored_one(
    source: &mut Source<'_>,
    segment_id: i64,
    lock: bool,
) -> Result<Option<StoredSegment>, MagentoError> {
    let table = "magento_customersegment_segment";
    if !source.has(table) {
        return Ok(None);
    }
    let locking = if lock { " FOR UPDATE" } else { "" };
    let sql = format!(
        "SELECT {SEGMENT_COLUMNS} FROM {} WHERE segment_id = {segment_id}{locking}",
        source.name(table)
    );
    let rows = source.rows(table, &sql).await?;
    let Some(row) = rows.first() else {
        return Ok(None);
    };
    let mut websites = Vec::new();
    if source.has("magento_customersegment_website") {
        let sql = format!(
            "SELECT website_id FROM {} WHERE segment_id = {segment_id} ORDER BY website_id{locking}",
            source.name("magento_customersegment_website")
        );
        for website in source.rows("magento_customersegment_website", &sql).await? {
            websites.extend(integer_of(&website[0]));
        }
    }
    Ok(StoredSegment::from_row(row, websites))
}

/// Translates `segments` and writes those that translate into `dir/segments/`.
pub fn write(
    segments: &[StoredSegment],
    vocabulary: &Vocabulary<'_>,
    dir: &Path,
    report: &mut ImportReport,
) -> Result<(), MagentoError> {
    let folder = dir.join("segments");
    std::fs::create_dir_all(&folder).map_err(|e| MagentoError::output(&folder, e))?;
    for stored in segments {
        let (definition, problems) = definition(stored, vocabulary);
        let result = if let Some(definition) = &definition {
            let path = folder.join(format!("{}.json", stored.segment_id));
            let text = serde_json::to_vec_pretty(definition)
                .map_err(|e| MagentoError::output(&path, e))?;
            std::fs::write(&path, text).map_err(|e| MagentoError::output(&path, e))?;
            "imported"
        } else {
            "skipped"
        };
        report.segments.push(SegmentEntry {
            segment_id: stored.segment_id,
            name: stored.name.clone().unwrap_or_default(),
            result: result.into(),
            definition_sha256: stored.sha256(),
            problems,
        });
    }
    Ok(())
}

fn problem(severity: &str, path: &str, kind: &str, reason: impl Into<String>) -> Problem {
    Problem {
        severity: severity.into(),
        path: path.into(),
        kind: kind.into(),
        reason: reason.into(),
    }
}

/// The segment file of `stored`, or `None` (skipped), and its problems.
fn definition(stored: &StoredSegment, vocabulary: &Vocabulary<'_>) -> (Option<Json>, Vec<Problem>) {
    let mut problems = Vec::new();
    let name = match stored.name.as_deref().map(str::trim) {
        Some(name) if !name.is_empty() => name.to_string(),
        _ => {
            problems.push(problem(
                "warning",
                "",
                "",
                "no name: named \"segment <id>\"",
            ));
            format!("segment {}", stored.segment_id)
        }
    };
    if stored.websites.is_empty() {
        problems.push(problem("untranslatable", "", "", "assigned to no website"));
    }
    let apply_to = match stored.apply_to {
        0 => "both",
        1 => "registered",
        2 => "visitors",
        other => {
            problems.push(problem(
                "untranslatable",
                "",
                "",
                format!("apply_to {other} is not 0, 1 or 2"),
            ));
            "both"
        }
    };
    let text = stored.conditions_serialized.as_deref().unwrap_or("").trim();
    let decoded = if text.is_empty() {
        Some(
            json!({"type": "Magento\\CustomerSegment\\Model\\Segment\\Condition\\Combine\\Root", "aggregator": "all", "value": "1"}),
        )
    } else {
        match serde_json::from_str::<Json>(text) {
            Ok(decoded) => Some(decoded),
            Err(e) => {
                let why = if text.starts_with("a:") {
                    "PHP-serialized (Magento before 2.2): re-save the segment in Magento 2.2+ to store it as JSON".to_string()
                } else {
                    format!("not JSON: {e}")
                };
                problems.push(problem(
                    "untranslatable",
                    "",
                    "",
                    format!("conditions_serialized is {why}"),
                ));
                None
            }
        }
    };
    let conditions = decoded.and_then(|decoded| {
        let translation = translate(&decoded, vocabulary);
        problems.extend(translation.problems);
        translation.conditions
    });
    if problems.iter().any(|p| p.severity == "untranslatable") {
        return (None, problems);
    }
    let mut definition = json!({
        "name": name,
        "websites": stored.websites,
        "apply_to": apply_to,
        "active": stored.is_active == 1,
        "conditions": conditions.unwrap_or_else(|| json!({"all": []})),
    });
    if let Some(description) = stored.description.as_deref().filter(|d| !d.is_empty()) {
        definition["description"] = json!(description);
    }
    if let Err(rejection) = Segment::from_json(&definition, vocabulary.schema) {
        problems.push(problem(
            "untranslatable",
            "",
            "",
            format!(
                "segmint rejects the translation at {}: {}",
                if rejection.pointer.is_empty() {
                    "/"
                } else {
                    &rejection.pointer
                },
                rejection.message
            ),
        ));
        return (None, problems);
    }
    (Some(definition), problems)
}

/// The schema of the dataset imported into `dir`, to check the translations against.
pub fn schema_of(dir: &Path) -> Result<Schema, MagentoError> {
    let unloadable = |e: &dyn std::fmt::Display| {
        MagentoError::table("the imported dataset", format!("does not load: {e}"))
    };
    // The tables without their rows: the types are in the files' schemas, and loading
    // every row took a tenth of an import.
    let mut tables = BTreeMap::new();
    for table in TableName::ALL {
        if let Some((path, _)) = crate::data::read::find_table_file(dir, table) {
            let file = crate::data::parquet_file::open(&path).map_err(|e| unloadable(&e))?;
            tables.insert(table, RecordBatch::new_empty(file.schema().clone()));
        }
    }
    let dataset =
        crate::data::loader::load_tables(&tables, None, dir).map_err(|e| unloadable(&e))?;
    Ok(Schema::of(&dataset))
}
