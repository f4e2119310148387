//! The Magento database being read: its tables (under a prefix) and queries over them in
//! the import's one read-only transaction.

use std::cell::RefCell;
use std::collections::BTreeSet;

use mysql_async::prelude::Queryable;
use mysql_async::{Row, Transaction, Value};

use super::MagentoError;
use super::copy::key_of;

/// Tables without which the database is not a Magento store.
pub const REQUIRED: [&str; 5] = [
    "customer_entity",
    "store",
    "store_website",
    "eav_attribute",
    "eav_entity_type",
];

pub struct Source<'a> {
    pub tx: Transaction<'a>,
    prefix: String,
    present: BTreeSet<String>,
    /// Tables the import looked for and the database lacks (read as empty).
    missing: RefCell<BTreeSet<String>>,
    /// Rows streamed from the table being read, on a terminal.
    progress: indicatif::ProgressBar,
}

impl<'a> Source<'a> {
    /// `tables`: every table of the database, with the prefix.
    pub fn new(
        tx: Transaction<'a>,
        prefix: &str,
        tables: Vec<String>,
        progress: bool,
    ) -> Result<Source<'a>, MagentoError> {
        let present = tables
            .into_iter()
            .filter_map(|t| t.strip_prefix(prefix).map(str::to_string))
            .collect();
        let source = Source {
            tx,
            prefix: prefix.to_string(),
            present,
            missing: RefCell::default(),
            progress: crate::util::progress_bar(
                progress,
                0,
                "{spinner} reading {msg}: {human_pos} rows ({per_sec})",
            ),
        };
        for table in REQUIRED {
            if !source.has(table) {
                return Err(MagentoError::MissingTable(format!("{prefix}{table}")));
            }
        }
        Ok(source)
    }

    /// Whether the database has `table`; a table it lacks is noted as missing.
    pub fn has(&self, table: &str) -> bool {
        let present = self.present.contains(table);
        if !present {
            self.missing.borrow_mut().insert(self.label(table));
        }
        present
    }

    /// The tables looked for that the database lacks, with the prefix.
    pub fn missing(&self) -> Vec<String> {
        self.missing.borrow().iter().cloned().collect()
    }

    /// `table` as SQL names it: with the prefix, quoted.
    pub fn name(&self, table: &str) -> String {
        format!("`{}{table}`", self.prefix)
    }

    /// `sql` made with the SQL name of `table` when the database has it, else `otherwise`
    /// (a table that is missing is empty).
    pub fn with_table(
        &self,
        table: &str,
        otherwise: &str,
        sql: impl FnOnce(&str) -> String,
    ) -> String {
        if self.has(table) {
            sql(&self.name(table))
        } else {
            otherwise.to_string()
        }
    }

    /// Takes the progress line off the terminal.
    pub fn finish_progress(&self) {
        self.progress.finish_and_clear();
    }

    /// Whether the database has `table` with `column`.
    pub async fn has_column(&mut self, table: &str, column: &str) -> Result<bool, MagentoError> {
        if !self.has(table) {
            return Ok(false);
        }
        let sql = format!(
            "SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = DATABASE() \
             AND table_name = '{}' AND column_name = '{column}'",
            self.label(table)
        );
        let rows = self.rows(table, &sql).await?;
        Ok(matches!(rows.first().and_then(|r| r.first()), Some(Value::Int(n)) if *n > 0))
    }

    /// The table's name with the prefix, for messages.
    pub fn label(&self, table: &str) -> String {
        format!("{}{table}", self.prefix)
    }

    /// Every row of `sql` (a query of `table`, named in errors), with typed values.
    pub async fn rows(&mut self, table: &str, sql: &str) -> Result<Vec<Vec<Value>>, MagentoError> {
        let rows: Vec<Row> = self
            .tx
            .exec(sql, ())
            .await
            .map_err(|e| MagentoError::table(&self.label(table), e))?;
        Ok(rows.into_iter().map(Row::unwrap).collect())
    }

    /// The first column of every row of `sql` as JSON keys (for the report).
    pub async fn keys(
        &mut self,
        table: &str,
        sql: &str,
    ) -> Result<Vec<serde_json::Value>, MagentoError> {
        let rows = self.rows(table, sql).await?;
        Ok(rows
            .iter()
            .map(|row| row.first().map_or(serde_json::Value::Null, key_of))
            .collect())
    }

    /// Calls `each` with every row of `sql`, streamed (a table is never read whole).
    pub async fn for_each_row(
        &mut self,
        table: &str,
        sql: &str,
        mut each: impl FnMut(Vec<Value>) -> Result<(), String>,
    ) -> Result<(), MagentoError> {
        let label = self.label(table);
        let started = std::time::Instant::now();
        let progress = self.progress.clone();
        progress.set_message(label.clone());
        progress.set_position(0);
        let mut failure = None;
        let mut result = self
            .tx
            .exec_iter(sql, ())
            .await
            .map_err(|e| MagentoError::table(&label, e))?;
        // The progress line moves by a thousand rows (reading the clock per row costs).
        let mut unshown = 0;
        result
            .for_each(|row| {
                unshown += 1;
                if unshown == 1024 {
                    progress.inc(unshown);
                    unshown = 0;
                }
                if failure.is_none()
                    && let Err(why) = each(row.unwrap())
                {
                    failure = Some(why);
                }
            })
            .await
            .map_err(|e| MagentoError::table(&label, e))?;
        progress.inc(unshown);
        drop(result);
        tracing::debug!(
            "read {label}: {} rows in {:.1} s",
            progress.position(),
            started.elapsed().as_secs_f64()
        );
        match failure {
            Some(why) => Err(MagentoError::table(&label, why)),
            None => Ok(()),
        }
    }
}
