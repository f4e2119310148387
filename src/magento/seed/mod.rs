//! `segmint magento seed`: a dataset written into a database without Magento's tables as
//! a Magento 2.4 Commerce store (the tables of `src/magento/schema.sql`), so that
//! `segmint magento import` reads it back: for demos, for timing the bridge at scale, and
//! for the round-trip test. Where Magento's tables cannot hold a row as the dataset has it
//! (a view per subject and product, a visitor's cart, a `NOT NULL` column), the row is
//! written as Magento would keep it and a note says how many.

mod activity;
mod catalog;
mod cells;
mod inserter;
mod people;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Value};

use super::MagentoError;
use super::connect::{DatabaseUrl, connect};
use super::import::check_prefix;
use crate::data::{LoadOptions, load_dataset};
use crate::model::TableName;
use cells::Table;
use inserter::Inserter;

/// The Magento tables seed creates, as `db_schema.xml` declares them (the tests create the
/// same).
const SCHEMA: &str = include_str!("../schema.sql");

/// Commerce's flag on customer attributes ("Use in Customer Segment"), which the
/// Open Source tables of [`SCHEMA`] lack.
const SEGMENT_FLAG: &str = "ALTER TABLE {customer_eav_attribute} ADD COLUMN \
    `is_used_for_customer_segment` smallint(5) unsigned NOT NULL DEFAULT 0";

pub struct SeedOptions {
    pub to: DatabaseUrl,
    /// The dataset directory.
    pub from: PathBuf,
    /// Magento's `db-prefix` (letters, digits and `_`).
    pub table_prefix: String,
    /// Show loading and the rows written on a terminal.
    pub progress: bool,
}

/// What seed wrote: rows per Magento table, and how rows were changed to fit.
#[derive(Debug, Default)]
pub struct SeedSummary {
    pub rows: BTreeMap<String, u64>,
    pub notes: Vec<String>,
}

impl SeedSummary {
    /// The one-line summary printed at the end.
    pub fn summary(&self) -> String {
        let total: u64 = self.rows.values().sum();
        let tables: Vec<String> = self.rows.iter().map(|(t, n)| format!("{t}={n}")).collect();
        format!("seeded {total} rows: {}", tables.join(" "))
    }
}

/// Writes the dataset of `options.from` into the database of `options.to`.
pub fn seed(options: &SeedOptions) -> Result<SeedSummary, MagentoError> {
    check_prefix(&options.table_prefix)?;
    let load = LoadOptions {
        lenient: false,
        progress: options.progress,
    };
    let (dataset, _) =
        load_dataset(&options.from, &load).map_err(|e| MagentoError::output(&options.from, e))?;
    let mut tables = BTreeMap::new();
    for name in TableName::ALL {
        let batch = crate::events::table_as_read(&dataset, name)
            .map_err(|e| MagentoError::output(&options.from, e))?;
        tables.insert(name.file_stem(), Table::new(name, batch));
    }
    drop(dataset);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| MagentoError::output(&options.from, e))?;
    runtime.block_on(write_store(options, &tables))
}

async fn write_store(
    options: &SeedOptions,
    tables: &BTreeMap<&str, Table>,
) -> Result<SeedSummary, MagentoError> {
    let mut conn = connect(&options.to).await?;
    let prefix = options.table_prefix.as_str();
    let schema = schema(prefix);
    refuse_existing(&mut conn, &schema).await?;
    match fill(options, conn, tables, &schema).await {
        Ok(summary) => Ok(summary),
        Err(error) => {
            // The tables were absent before: dropping them leaves the database as it was.
            let undone = drop_tables(options, &schema).await.is_ok();
            Err(MagentoError::SeedFailed {
                reason: error.to_string(),
                undone,
            })
        }
    }
}

async fn fill(
    options: &SeedOptions,
    mut conn: Conn,
    tables: &BTreeMap<&str, Table>,
    schema: &[TableSchema],
) -> Result<SeedSummary, MagentoError> {
    let prefix = options.table_prefix.as_str();
    create_schema(&mut conn, prefix, schema).await?;
    let mut seeder = Seeder {
        conn,
        prefix: prefix.to_string(),
        now: cells::timestamp(chrono::Utc::now().timestamp() * 1_000_000).unwrap_or(Value::NULL),
        progress: crate::util::progress_bar(
            options.progress,
            0,
            "{spinner} seeding {msg}: {human_pos} rows ({per_sec})",
        ),
        summary: SeedSummary::default(),
    };
    let started = Instant::now();
    let catalog = catalog::write(&mut seeder, tables).await?;
    people::customers(
        &mut seeder,
        &tables["customers"],
        &tables["addresses"],
        &catalog,
    )
    .await?;
    people::addresses(&mut seeder, &tables["addresses"], &catalog).await?;
    people::products(&mut seeder, &tables["products"], &catalog).await?;
    activity::orders(&mut seeder, &tables["orders"]).await?;
    activity::order_items(&mut seeder, &tables["order_items"]).await?;
    activity::order_addresses(&mut seeder, &tables["order_addresses"]).await?;
    activity::carts(&mut seeder, &tables["carts"]).await?;
    activity::cart_items(&mut seeder, &tables["cart_items"]).await?;
    activity::wishlist_items(&mut seeder, &tables["wishlist_items"]).await?;
    activity::product_views(&mut seeder, &tables["product_views"]).await?;
    for table in schema {
        if let Some(keys) = &table.keys {
            seeder
                .progress
                .set_message(format!("indexing {}", table.name));
            seeder
                .conn
                .query_drop(keys)
                .await
                .map_err(|e| MagentoError::table(&table.name, e))?;
        }
    }
    seeder.progress.finish_and_clear();
    tracing::debug!("seeded in {:.1} s", started.elapsed().as_secs_f64());
    Ok(seeder.summary)
}

/// Refuses a database that has any of Magento's tables already: seed writes a whole store,
/// never into a shop's tables.
async fn refuse_existing(conn: &mut Conn, schema: &[TableSchema]) -> Result<(), MagentoError> {
    let existing: Vec<String> = conn
        .query("SHOW TABLES")
        .await
        .map_err(|e| MagentoError::table("SHOW TABLES", e))?;
    match schema.iter().find(|table| existing.contains(&table.name)) {
        Some(table) => Err(MagentoError::table(
            &table.name,
            "already exists: seed writes a whole store into a database without Magento's \
             tables (create an empty database for it)",
        )),
        None => Ok(()),
    }
}

/// Drops the tables seed creates, on a connection of its own (the failure may have been
/// the first connection's).
async fn drop_tables(options: &SeedOptions, schema: &[TableSchema]) -> Result<(), MagentoError> {
    let mut conn = connect(&options.to).await?;
    let names: Vec<String> = schema.iter().map(|t| format!("`{}`", t.name)).collect();
    conn.query_drop(format!("DROP TABLE IF EXISTS {}", names.join(", ")))
        .await
        .map_err(|e| MagentoError::table("DROP TABLE", e))
}

/// Creates Magento's tables.
async fn create_schema(
    conn: &mut Conn,
    prefix: &str,
    schema: &[TableSchema],
) -> Result<(), MagentoError> {
    for table in schema {
        conn.query_drop(&table.create)
            .await
            .map_err(|e| MagentoError::table(&table.name, e))?;
    }
    let flags = format!("`{prefix}customer_eav_attribute`");
    conn.query_drop(SEGMENT_FLAG.replace("{customer_eav_attribute}", &flags))
        .await
        .map_err(|e| MagentoError::table(&flags, e))?;
    conn.query_drop(
        "SET SESSION sql_mode = CONCAT(@@sql_mode, ',NO_AUTO_VALUE_ON_ZERO'), \
         unique_checks = 0, foreign_key_checks = 0",
    )
    .await
    .map_err(|e| MagentoError::table("SET SESSION", e))
}

/// One table of [`SCHEMA`], with `prefix` on its name.
struct TableSchema {
    name: String,
    /// `CREATE TABLE` with its primary key only.
    create: String,
    /// `ALTER TABLE` adding its other keys, once its rows are in: InnoDB builds an index
    /// over rows already there by sorting them, many times faster than row by row.
    keys: Option<String>,
}

/// The tables of [`SCHEMA`] with `prefix` on their names.
fn schema(prefix: &str) -> Vec<TableSchema> {
    let without_comments: String = SCHEMA
        .lines()
        .filter(|line| !line.trim_start().starts_with("--"))
        .map(|line| format!("{line}\n"))
        .collect();
    without_comments
        .split(';')
        .map(str::trim)
        .filter_map(|statement| {
            let rest = statement.strip_prefix("CREATE TABLE `")?;
            let (table, body) = rest.split_once('`')?;
            let name = format!("{prefix}{table}");
            let (mut kept, mut keys) = (Vec::new(), Vec::new());
            for line in body.lines() {
                let trimmed = line.trim().trim_end_matches(',');
                if trimmed.starts_with("KEY ") || trimmed.starts_with("UNIQUE KEY ") {
                    keys.push(format!("ADD {trimmed}"));
                } else {
                    kept.push(line.trim_end().trim_end_matches(',').to_string());
                }
            }
            // Columns and the primary key, comma-separated again; the closing line last.
            let (closing, columns) = kept.split_last()?;
            let (opening, columns) = columns.split_first()?;
            let create = format!(
                "CREATE TABLE `{name}` {opening}\n{}\n{closing}",
                columns.join(",\n")
            );
            let keys =
                (!keys.is_empty()).then(|| format!("ALTER TABLE `{name}` {}", keys.join(", ")));
            Some(TableSchema { name, create, keys })
        })
        .collect()
}

/// The connection and what has been written so far.
pub(super) struct Seeder {
    pub conn: Conn,
    prefix: String,
    /// The seeding instant, for timestamps Magento requires and the dataset lacks.
    pub now: Value,
    progress: indicatif::ProgressBar,
    pub summary: SeedSummary,
}

impl Seeder {
    /// Rows for `table` (no prefix), filling `columns`.
    pub fn inserter(&self, table: &str, columns: &[&'static str]) -> Inserter {
        self.progress.set_message(table.to_string());
        Inserter::new(format!("`{}{table}`", self.prefix), columns, &self.progress)
    }

    pub async fn finish(&mut self, inserter: Inserter) -> Result<(), MagentoError> {
        let table = inserter.table().trim_matches('`').to_string();
        let rows = inserter.finish(&mut self.conn).await?;
        let table = table
            .strip_prefix(&self.prefix)
            .unwrap_or(&table)
            .to_string();
        *self.summary.rows.entry(table).or_default() += rows;
        Ok(())
    }

    /// A few rows at once.
    pub async fn insert(
        &mut self,
        table: &str,
        columns: &[&'static str],
        rows: impl IntoIterator<Item = Vec<Value>>,
    ) -> Result<(), MagentoError> {
        let mut inserter = self.inserter(table, columns);
        for row in rows {
            inserter.push(&mut self.conn, row).await?;
        }
        self.finish(inserter).await
    }

    /// A note with `count` in place of `{}`, unless `count` is 0.
    pub fn note_if(&mut self, count: usize, template: &str) {
        if count > 0 {
            self.summary
                .notes
                .push(template.replacen("{}", &count.to_string(), 1));
        }
    }
}
