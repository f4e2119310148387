//! Rows written into one Magento table with `LOAD DATA LOCAL INFILE`, the fastest way
//! into MariaDB and MySQL: rows are encoded as tab-separated text in memory and handed
//! to the server in chunks of a few megabytes, no file in between. `LOCAL` turns bad
//! values and duplicate keys into warnings; any warning is an error here, so that nothing
//! is written other than as given.

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Value};

use crate::magento::MagentoError;

/// Bytes of rows per `LOAD DATA` statement: big enough that statements are few, small
/// enough that a chunk held in memory does not matter.
const CHUNK_BYTES: usize = 8 << 20;

pub struct Inserter {
    table: String,
    columns: Vec<&'static str>,
    /// The rows not sent yet, as `LOAD DATA`'s default format reads them.
    chunk: Vec<u8>,
    chunk_rows: u64,
    rows: u64,
    progress: indicatif::ProgressBar,
}

impl Inserter {
    /// `table` with its prefix; the rows pushed fill `columns`, in that order.
    pub fn new(table: String, columns: &[&'static str], progress: &indicatif::ProgressBar) -> Self {
        Inserter {
            table,
            columns: columns.to_vec(),
            chunk: Vec::new(),
            chunk_rows: 0,
            rows: 0,
            progress: progress.clone(),
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    pub async fn push(
        &mut self,
        conn: &mut Conn,
        row: impl IntoIterator<Item = Value>,
    ) -> Result<(), MagentoError> {
        for (i, value) in row.into_iter().enumerate() {
            if i > 0 {
                self.chunk.push(b'\t');
            }
            encode(&value, &mut self.chunk);
        }
        self.chunk.push(b'\n');
        self.chunk_rows += 1;
        if self.chunk.len() >= CHUNK_BYTES {
            self.flush(conn).await?;
        }
        Ok(())
    }

    /// Sends the rows still held; the rows written in all.
    pub async fn finish(mut self, conn: &mut Conn) -> Result<u64, MagentoError> {
        self.flush(conn).await?;
        Ok(self.rows)
    }

    async fn flush(&mut self, conn: &mut Conn) -> Result<(), MagentoError> {
        if self.chunk_rows == 0 {
            return Ok(());
        }
        let failed = |e: &dyn std::fmt::Display| MagentoError::table(&self.table, e);
        let data = bytes::Bytes::from(std::mem::take(&mut self.chunk));
        conn.set_infile_handler(async move {
            let stream: mysql_async::InfileData =
                Box::pin(futures::stream::once(async move { Ok(data) }));
            Ok(stream)
        });
        let sql = format!(
            "LOAD DATA LOCAL INFILE 'segmint-seed' INTO TABLE {} CHARACTER SET utf8mb4 ({})",
            self.table,
            self.columns.join(", ")
        );
        conn.query_drop(sql).await.map_err(|e| failed(&e))?;
        let taken = conn.affected_rows();
        if conn.get_warnings() > 0 || taken != self.chunk_rows {
            let warnings: Vec<(String, u32, String)> = conn
                .query("SHOW WARNINGS LIMIT 3")
                .await
                .map_err(|e| failed(&e))?;
            let said: Vec<String> = warnings
                .into_iter()
                .map(|(level, code, message)| format!("{level} {code}: {message}"))
                .collect();
            return Err(failed(&format!(
                "the server would not take {} rows as given ({} taken): {}",
                self.chunk_rows,
                taken,
                said.join("; ")
            )));
        }
        self.rows += self.chunk_rows;
        self.progress.inc(self.chunk_rows);
        self.chunk_rows = 0;
        Ok(())
    }
}

/// A value as `LOAD DATA` reads it with its default `FIELDS ESCAPED BY '\\'`.
fn encode(value: &Value, out: &mut Vec<u8>) {
    use std::io::Write;
    match value {
        Value::NULL => out.extend_from_slice(b"\\N"),
        Value::Int(n) => write!(out, "{n}").expect("writes to a Vec"),
        Value::UInt(n) => write!(out, "{n}").expect("writes to a Vec"),
        Value::Float(x) => write!(out, "{x}").expect("writes to a Vec"),
        Value::Double(x) => write!(out, "{x}").expect("writes to a Vec"),
        Value::Bytes(bytes) => {
            for &byte in bytes {
                match byte {
                    b'\\' => out.extend_from_slice(b"\\\\"),
                    b'\t' => out.extend_from_slice(b"\\t"),
                    b'\n' => out.extend_from_slice(b"\\n"),
                    b'\r' => out.extend_from_slice(b"\\r"),
                    0 => out.extend_from_slice(b"\\0"),
                    other => out.push(other),
                }
            }
        }
        Value::Date(year, month, day, hour, minute, second, micros) => {
            write!(
                out,
                "{year:04}-{month:02}-{day:02} {hour:02}:{minute:02}:{second:02}.{micros:06}"
            )
            .expect("writes to a Vec");
        }
        Value::Time(negative, days, hours, minutes, seconds, micros) => {
            let sign = if *negative { "-" } else { "" };
            let hours = u32::from(*hours) + days * 24;
            write!(out, "{sign}{hours}:{minutes:02}:{seconds:02}.{micros:06}")
                .expect("writes to a Vec");
        }
    }
}
