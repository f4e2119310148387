//! `segmint magento import`: the store read in one read-only `REPEATABLE READ`
//! transaction (a consistent snapshot while the shop goes on writing), written into a
//! temporary sibling of the output directory that is renamed at the end: on failure the
//! output directory is as it was.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use mysql_async::prelude::Queryable;
use mysql_async::{IsolationLevel, TxOpts, Value};

use super::attributes::OptionLabels;
use super::connect::{DatabaseUrl, connect};
use super::copy::integer_of;
use super::keys::KnownKeys;
use super::products::Referenced;
use super::report::ImportReport;
use super::source::Source;
use super::translate::Vocabulary;
use super::{MagentoError, activity, addresses, carts, customers, orders, products, segments};

pub struct ImportOptions {
    pub from: DatabaseUrl,
    pub out: PathBuf,
    /// Magento's `db-prefix` (letters, digits and `_`).
    pub table_prefix: String,
    /// Replace a non-empty output directory.
    pub force: bool,
    /// Show the rows read on a terminal.
    pub progress: bool,
}

/// Imports the store of `options.from` into `options.out`; the report, also written there.
pub fn import(options: &ImportOptions) -> Result<ImportReport, MagentoError> {
    check_prefix(&options.table_prefix)?;
    let output = Output::prepare(&options.out, options.force)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| MagentoError::output(&options.out, e))?;
    let read = runtime.block_on(read_store(options, output.temporary()));
    match read.and_then(|report| output.commit(&report).map(|()| report)) {
        Ok(report) => Ok(report),
        Err(e) => {
            output.discard();
            Err(e)
        }
    }
}

/// Refuses a `--table-prefix` that could not be part of a table name (it goes into SQL).
pub(crate) fn check_prefix(prefix: &str) -> Result<(), MagentoError> {
    if prefix
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        Ok(())
    } else {
        Err(MagentoError::Url(format!(
            "--table-prefix {prefix:?}: only letters, digits and _"
        )))
    }
}

async fn read_store(options: &ImportOptions, dir: &Path) -> Result<ImportReport, MagentoError> {
    let mut conn = connect(&options.from).await?;
    let failed = |e: mysql_async::Error| MagentoError::Connect {
        at: options.from.place(),
        reason: e.to_string(),
    };
    let server: Option<String> = conn.query_first("SELECT VERSION()").await.map_err(failed)?;
    // Category lists are read with GROUP_CONCAT, cut at 1 KiB by default.
    conn.query_drop("SET SESSION group_concat_max_len = 1073741824")
        .await
        .map_err(failed)?;
    let tables: Vec<String> = conn
        .query("SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE()")
        .await
        .map_err(failed)?;
    let mut transaction = TxOpts::default();
    transaction
        .with_isolation_level(IsolationLevel::RepeatableRead)
        .with_consistent_snapshot(true)
        .with_readonly(true);
    let tx = conn.start_transaction(transaction).await.map_err(failed)?;
    let mut source = Source::new(tx, &options.table_prefix, tables, options.progress)?;
    let mut report = ImportReport {
        server: server.unwrap_or_default(),
        edition: if source.has("magento_customersegment_segment") {
            "Commerce".into()
        } else {
            "Open Source".into()
        },
        staging: source
            .has_column("catalog_product_entity", "row_id")
            .await?,
        account_share_scope: account_share_scope(&mut source).await?,
        imported_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        ..ImportReport::default()
    };
    let mut options = OptionLabels::new();
    let customers = customers::import(&mut source, dir, &mut report, &mut options).await?;
    report.tables.insert("customers".into(), customers);
    let (addresses, address_attributes) =
        addresses::import(&mut source, dir, &mut report, &mut options).await?;
    report.tables.insert("addresses".into(), addresses);
    // Products come last: the catalog's, then a stub for each product the others name.
    let mut referenced = Referenced::default();
    let mut keys = KnownKeys::read(&mut source).await?;
    let mut written = Vec::new();
    let orders = orders::Orders {
        products: &mut referenced,
        keys: &mut keys,
        address_attributes: &address_attributes,
        options: &mut options,
    };
    written.extend(orders::import(&mut source, dir, &mut report, orders).await?);
    written.extend(carts::import(&mut source, dir, &mut report, &mut referenced).await?);
    written.extend(activity::import(&mut source, dir, &mut report, &mut referenced, &keys).await?);
    let products =
        products::import(&mut source, dir, &mut report, referenced, &mut options).await?;
    write_json(&dir.join("attribute-options.json"), &options)?;
    written.push(("products", products));
    for (table, rows) in written {
        report.tables.insert(table.into(), rows);
    }
    let segments = segments::stored(&mut source).await?;
    let genders = customers::gender_values(&mut source).await?;
    let attribute_sets = attribute_sets(&mut source).await?;
    source.finish_progress();
    report.missing_tables = source.missing();
    source
        .tx
        .rollback()
        .await
        .map_err(|e| MagentoError::table("the import's transaction", e))?;
    // The segments are checked against the dataset as segmint loads it.
    let schema = segments::schema_of(dir)?;
    let vocabulary = Vocabulary {
        schema: &schema,
        genders: &genders,
        attribute_sets: &attribute_sets,
    };
    segments::write(&segments, &vocabulary, dir, &mut report)?;
    Ok(report)
}

/// Attribute set names by id (products' `attribute_set_id` conditions name sets by id).
async fn attribute_sets(source: &mut Source<'_>) -> Result<BTreeMap<i64, String>, MagentoError> {
    if !source.has("eav_attribute_set") {
        return Ok(BTreeMap::new());
    }
    let sql = format!(
        "SELECT attribute_set_id, attribute_set_name FROM {}",
        source.name("eav_attribute_set")
    );
    let rows = source.rows("eav_attribute_set", &sql).await?;
    Ok(rows
        .iter()
        .filter_map(|row| match (integer_of(&row[0]), &row[1]) {
            (Some(id), Value::Bytes(name)) => {
                Some((id, String::from_utf8_lossy(name).into_owned()))
            }
            _ => None,
        })
        .collect())
}

/// `customer/account_share/scope` at the default scope: 1 (per website) when unset.
async fn account_share_scope(source: &mut Source<'_>) -> Result<i64, MagentoError> {
    if !source.has("core_config_data") {
        return Ok(1);
    }
    let sql = format!(
        "SELECT value FROM {} WHERE path = 'customer/account_share/scope' AND scope = 'default'",
        source.name("core_config_data")
    );
    let rows = source.rows("core_config_data", &sql).await?;
    Ok(match rows.first().and_then(|r| r.first()) {
        Some(Value::Bytes(text)) if text.as_slice() == b"0" => 0,
        _ => 1,
    })
}

fn write_json(path: &Path, value: &impl serde::Serialize) -> Result<(), MagentoError> {
    let text = serde_json::to_vec_pretty(value).map_err(|e| MagentoError::output(path, e))?;
    std::fs::write(path, text).map_err(|e| MagentoError::output(path, e))
}

/// The output directory and the temporary sibling the import writes into.
struct Output {
    out: PathBuf,
    temporary: PathBuf,
}

impl Output {
    /// Refuses a non-empty `out` unless `force`; makes the temporary sibling.
    fn prepare(out: &Path, force: bool) -> Result<Output, MagentoError> {
        match std::fs::read_dir(out) {
            Ok(mut entries) => {
                if entries.next().is_some() && !force {
                    return Err(MagentoError::output(
                        out,
                        "the directory is not empty (--force replaces it)",
                    ));
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(MagentoError::output(out, e)),
        }
        let name = out
            .file_name()
            .ok_or_else(|| MagentoError::output(out, "not a directory name"))?;
        let parent = match out.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&parent).map_err(|e| MagentoError::output(&parent, e))?;
        let temporary = parent.join(format!(
            ".{}.importing-{}",
            name.to_string_lossy(),
            std::process::id()
        ));
        if temporary.exists() {
            std::fs::remove_dir_all(&temporary).map_err(|e| MagentoError::output(&temporary, e))?;
        }
        std::fs::create_dir(&temporary).map_err(|e| MagentoError::output(&temporary, e))?;
        Ok(Output {
            out: out.to_path_buf(),
            temporary,
        })
    }

    fn temporary(&self) -> &Path {
        &self.temporary
    }

    /// Writes the report and puts the directory in place of `out`.
    fn commit(&self, report: &ImportReport) -> Result<(), MagentoError> {
        write_json(&self.temporary.join("import-report.json"), report)?;
        if self.out.exists() {
            std::fs::remove_dir_all(&self.out).map_err(|e| MagentoError::output(&self.out, e))?;
        }
        std::fs::rename(&self.temporary, &self.out).map_err(|e| MagentoError::output(&self.out, e))
    }

    fn discard(&self) {
        let _ = std::fs::remove_dir_all(&self.temporary);
    }
}
