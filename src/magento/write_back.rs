//! `segmint magento write-back` (magento.md, "Write-back"): every imported segment
//! evaluated over the imported dataset first (a failure there writes nothing), then its
//! rows of `magento_customersegment_customer` rewritten in one transaction per segment, so
//! that each segment is wholly rewritten or left as it was.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, TxOpts};
use serde::Deserialize;

use super::connect::{DatabaseUrl, connect};
use super::copy::integer_of;
use super::report::SegmentEntry;
use super::source::Source;
use super::{MagentoError, segments};
use crate::bench::suite::SegmentDir;
use crate::segment::Engine;

/// Where Magento keeps the customers of each segment.
const MEMBERS_TABLE: &str = "magento_customersegment_customer";

/// Ids per statement (`IN` lists and multi-row inserts): big enough that statements are
/// few, small enough to stay far below `max_allowed_packet`.
const CHUNK: usize = 1000;

pub struct WriteBackOptions {
    pub to: DatabaseUrl,
    /// An import's output directory.
    pub data: PathBuf,
    /// The segment files to write back; `data/segments` when `None`.
    pub segments: Option<PathBuf>,
    /// Magento's `db-prefix` (letters, digits and `_`).
    pub table_prefix: String,
    /// The instant segments are evaluated at (µs); now when `None`.
    pub as_of: Option<i64>,
    /// Evaluate and compare, write nothing.
    pub dry_run: bool,
    /// Show the dataset loading on a terminal.
    pub progress: bool,
}

/// What write-back did with one segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Written(Counts),
    Skipped(&'static str),
}

/// A segment's customers in Magento after its rewrite, and how they changed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub members: usize,
    pub entered: usize,
    pub left: usize,
    /// Members segmint found that `customer_entity` no longer has (not written).
    pub missing: usize,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentResult {
    pub segment_id: i64,
    pub outcome: Outcome,
}

impl fmt::Display for SegmentResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.outcome {
            Outcome::Written(c) => write!(
                f,
                "segment {}: {} members, entered {}, left {}, missing {}",
                self.segment_id, c.members, c.entered, c.left, c.missing
            ),
            Outcome::Skipped(why) => write!(f, "segment {}: skipped, {why}", self.segment_id),
        }
    }
}

/// The line after the segments' lines.
pub fn total(results: &[SegmentResult], dry_run: bool) -> String {
    let mut sum = Counts::default();
    let mut written = 0;
    for result in results {
        if let Outcome::Written(c) = &result.outcome {
            written += 1;
            sum.members += c.members;
            sum.entered += c.entered;
            sum.left += c.left;
            sum.missing += c.missing;
        }
    }
    format!(
        "total: {written} segments {}, {} skipped; {} members, entered {}, left {}, missing {}",
        if dry_run {
            "compared (dry run: nothing written)"
        } else {
            "written"
        },
        results.len() - written,
        sum.members,
        sum.entered,
        sum.left,
        sum.missing
    )
}

/// A segment file evaluated: its customers with their websites, ascending.
struct Evaluated {
    segment_id: i64,
    /// What the segment's row and websites hashed to at the import.
    definition_sha256: String,
    members: Vec<(i64, i64)>,
}

/// Writes the memberships of every segment file back, calling `each` with every
/// segment's result as it is committed (or skipped). Stops at the first segment that
/// fails: that segment's transaction is rolled back, the ones before stay written.
pub fn write_back(
    options: &WriteBackOptions,
    mut each: impl FnMut(&SegmentResult),
) -> Result<Vec<SegmentResult>, MagentoError> {
    super::import::check_prefix(&options.table_prefix)?;
    let evaluated = evaluate(options)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| MagentoError::table("the async runtime", e))?;
    runtime.block_on(async {
        let mut conn = connect(&options.to).await?;
        let failed = |e: mysql_async::Error| MagentoError::Connect {
            at: options.to.place(),
            reason: e.to_string(),
        };
        let tables: Vec<String> = conn
            .query(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE()",
            )
            .await
            .map_err(failed)?;
        let members_table = format!("{}{MEMBERS_TABLE}", options.table_prefix);
        if !tables.contains(&members_table) {
            return Err(MagentoError::MissingTable(members_table));
        }
        // One instant for every row written, UTC as the session's time zone.
        let now = chrono::Utc::now().format("%Y-%m-%d %H:%M:%S").to_string();
        let mut results = Vec::with_capacity(evaluated.len());
        for segment in &evaluated {
            let outcome = write_segment(&mut conn, &tables, options, segment, &now)
                .await
                .map_err(|e| match e {
                    unknown @ MagentoError::CommitUnknown { .. } => unknown,
                    e => MagentoError::Segment {
                        segment_id: segment.segment_id,
                        reason: e.to_string(),
                    },
                })?;
            let result = SegmentResult {
                segment_id: segment.segment_id,
                outcome,
            };
            each(&result);
            results.push(result);
        }
        Ok(results)
    })
}

/// The import report's segments (what write-back needs of it).
#[derive(Deserialize)]
struct ImportedSegments {
    segments: Vec<SegmentEntry>,
}

/// Loads the dataset and evaluates every segment file, ascending by id.
fn evaluate(options: &WriteBackOptions) -> Result<Vec<Evaluated>, MagentoError> {
    let report_path = options.data.join("import-report.json");
    let report: ImportedSegments = std::fs::read(&report_path)
        .map_err(|e| e.to_string())
        .and_then(|bytes| serde_json::from_slice(&bytes).map_err(|e| e.to_string()))
        .map_err(|e| {
            MagentoError::output(
                &report_path,
                format!("{e} (is --data the output of `segmint magento import`?)"),
            )
        })?;
    let imported: BTreeMap<i64, String> = report
        .segments
        .into_iter()
        .filter(|s| s.result == "imported")
        .map(|s| (s.segment_id, s.definition_sha256))
        .collect();
    let dir = options
        .segments
        .clone()
        .unwrap_or_else(|| options.data.join("segments"));
    let files = segment_files(&dir, &imported)?;
    let load = crate::data::loader::LoadOptions {
        lenient: false,
        progress: options.progress,
    };
    let (dataset, _) = crate::data::loader::load_dataset(&options.data, &load)
        .map_err(|e| MagentoError::output(&options.data, format!("does not load: {e}")))?;
    let engine = Engine::new(Arc::new(dataset));
    let dataset = engine.dataset();
    let customer_ids = dataset.customer_ids();
    let websites = dataset
        .customers
        .ints("website_id")
        .ok_or_else(|| MagentoError::output(&options.data, "customers have no website_id"))?;
    let customers = dataset.customer_count() as u32;
    let source = SegmentDir {
        dir: Some(dir.clone()),
        engine: &engine,
    };
    let as_of = options
        .as_of
        .unwrap_or_else(|| chrono::Utc::now().timestamp_micros());
    let mut evaluated = Vec::with_capacity(files.len());
    for (segment_id, path) in files {
        let at = |e: &dyn fmt::Display| MagentoError::output(&path, e);
        let text = std::fs::read_to_string(&path).map_err(|e| at(&e))?;
        let definition = engine.parse(&text).map_err(|e| at(&e))?;
        let own_id = segment_id.to_string();
        let evaluation = engine
            .evaluate(&definition, Some(&own_id), as_of, &source)
            .map_err(|e| at(&e))?;
        // Subjects below the customer count are customers; Magento keeps no visitors.
        let members = evaluation
            .members
            .iter()
            .take_while(|&subject| subject < customers)
            .map(|subject| {
                let row = subject as usize;
                (customer_ids.value(row), websites.value(row))
            })
            .collect();
        evaluated.push(Evaluated {
            segment_id,
            definition_sha256: imported[&segment_id].clone(),
            members,
        });
    }
    Ok(evaluated)
}

/// The `<segment_id>.json` files of `dir`, ascending by id; each must be a segment the
/// import wrote.
fn segment_files(
    dir: &Path,
    imported: &BTreeMap<i64, String>,
) -> Result<Vec<(i64, PathBuf)>, MagentoError> {
    let entries = std::fs::read_dir(dir).map_err(|e| MagentoError::output(dir, e))?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| MagentoError::output(dir, e))?.path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
        match stem.parse::<i64>() {
            Ok(id) if imported.contains_key(&id) => files.push((id, path)),
            _ => {
                return Err(MagentoError::output(
                    &path,
                    format!(
                        "{stem:?} is not a segment the import wrote (import-report.json lists {:?})",
                        imported.keys().collect::<Vec<_>>()
                    ),
                ));
            }
        }
    }
    files.sort();
    Ok(files)
}

/// One segment in one transaction: skipped when inactive or changed in Magento, else its
/// rows made its members. Committed only when written (and not a dry run).
async fn write_segment(
    conn: &mut Conn,
    tables: &[String],
    options: &WriteBackOptions,
    segment: &Evaluated,
    now: &str,
) -> Result<Outcome, MagentoError> {
    let tx = conn
        .start_transaction(TxOpts::default())
        .await
        .map_err(|e| MagentoError::table("the transaction", e))?;
    let mut source = Source::new(tx, &options.table_prefix, tables.to_vec(), false)?;
    let writing = !options.dry_run;
    let outcome = match segments::stored_one(&mut source, segment.segment_id, writing).await? {
        None => Outcome::Skipped("deleted in Magento since the import"),
        Some(stored) if stored.is_active != 1 => Outcome::Skipped("inactive"),
        Some(stored) if stored.sha256() != segment.definition_sha256 => {
            Outcome::Skipped("changed in Magento since the import: import again")
        }
        Some(_) => Outcome::Written(rewrite(&mut source, segment, now, writing).await?),
    };
    if writing && matches!(outcome, Outcome::Written(_)) {
        // Whether a commit the connection lost on the way happened, only the server knows.
        source
            .tx
            .commit()
            .await
            .map_err(|e| MagentoError::CommitUnknown {
                segment_id: segment.segment_id,
                reason: e.to_string(),
            })?;
    } else {
        source
            .tx
            .rollback()
            .await
            .map_err(|e| MagentoError::table("the transaction", e))?;
    }
    Ok(outcome)
}

/// Makes the segment's rows its members, customer by customer: the rows of those who left
/// deleted, those who entered inserted on their website, the rows of those who stay (on
/// whichever website Magento wrote them) marked updated now with `added_date` kept. A
/// member `customer_entity` no longer has is missing: not written, its rows deleted. Only
/// counts when not `writing`.
async fn rewrite(
    source: &mut Source<'_>,
    segment: &Evaluated,
    now: &str,
    writing: bool,
) -> Result<Counts, MagentoError> {
    let id = segment.segment_id;
    let table = source.name(MEMBERS_TABLE);
    let locking = if writing { " FOR UPDATE" } else { "" };
    let mut current: HashSet<i64> = HashSet::new();
    let sql = format!("SELECT customer_id FROM {table} WHERE segment_id = {id}{locking}");
    source
        .for_each_row(MEMBERS_TABLE, &sql, |row| {
            current.extend(integer_of(&row[0]));
            Ok(())
        })
        .await?;
    let customers: Vec<i64> = segment.members.iter().map(|&(c, _)| c).collect();
    let existing = existing_customers(source, &customers, writing).await?;
    let members: Vec<(i64, i64)> = segment
        .members
        .iter()
        .filter(|(customer, _)| existing.contains(customer))
        .copied()
        .collect();
    let staying: HashSet<i64> = members.iter().map(|&(c, _)| c).collect();
    let entrants: Vec<(i64, i64)> = members
        .iter()
        .filter(|(customer, _)| !current.contains(customer))
        .copied()
        .collect();
    let mut leavers: Vec<i64> = current.difference(&staying).copied().collect();
    leavers.sort_unstable();
    let counts = Counts {
        members: members.len(),
        entered: entrants.len(),
        left: leavers.len(),
        missing: segment.members.len() - members.len(),
    };
    if !writing {
        return Ok(counts);
    }
    for chunk in leavers.chunks(CHUNK) {
        let sql = format!(
            "DELETE FROM {table} WHERE segment_id = {id} AND customer_id IN ({})",
            id_list(chunk)
        );
        execute(source, &sql).await?;
    }
    for chunk in entrants.chunks(CHUNK) {
        let rows: Vec<String> = chunk
            .iter()
            .map(|(customer, website)| format!("({id},{customer},{website},'{now}','{now}')"))
            .collect();
        let sql = format!(
            "INSERT INTO {table} (segment_id, customer_id, website_id, added_date, updated_date) VALUES {}",
            rows.join(",")
        );
        execute(source, &sql).await?;
    }
    execute(
        source,
        &format!("UPDATE {table} SET updated_date = '{now}' WHERE segment_id = {id}"),
    )
    .await?;
    Ok(counts)
}

/// Which of `customers` `customer_entity` has, read locked against deletion when
/// `writing` (so that no row is written for a customer being deleted).
async fn existing_customers(
    source: &mut Source<'_>,
    customers: &[i64],
    writing: bool,
) -> Result<HashSet<i64>, MagentoError> {
    let locking = if writing { " LOCK IN SHARE MODE" } else { "" };
    let mut existing = HashSet::new();
    for chunk in customers.chunks(CHUNK) {
        let sql = format!(
            "SELECT entity_id FROM {} WHERE entity_id IN ({}){locking}",
            source.name("customer_entity"),
            id_list(chunk)
        );
        for row in source.rows("customer_entity", &sql).await? {
            existing.extend(integer_of(&row[0]));
        }
    }
    Ok(existing)
}

fn id_list(ids: &[i64]) -> String {
    ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
}

async fn execute(source: &mut Source<'_>, sql: &str) -> Result<(), MagentoError> {
    source
        .tx
        .query_drop(sql)
        .await
        .map_err(|e| MagentoError::table(&source.label(MEMBERS_TABLE), e))
}
