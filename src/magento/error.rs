//! What can go wrong in the Magento bridge, each naming the place: the URL, the server,
//! the table and row, or the output directory.

#[derive(Debug, thiserror::Error)]
pub enum MagentoError {
    #[error("{0}")]
    Url(String),
    #[error("cannot connect to {at}: {reason}")]
    Connect { at: String, reason: String },
    #[error(
        "the database has no table `{0}`: is it a Magento 2 database, and is --table-prefix right?"
    )]
    MissingTable(String),
    #[error("{table}: {reason}")]
    Table { table: String, reason: String },
    #[error("{path}: {reason}")]
    Output { path: String, reason: String },
    #[error("segment {segment_id}: {reason}; rolled back: its rows in Magento are as they were")]
    Segment { segment_id: i64, reason: String },
    #[error("{reason}; {}", if *undone {
        "the tables seed created were dropped: the database is as it was"
    } else {
        "the tables seed created could not be dropped: drop them before seeding again"
    })]
    SeedFailed { reason: String, undone: bool },
    #[error(
        "segment {segment_id}: the commit was sent but its answer lost ({reason}): run write-back again to be sure of its rows"
    )]
    CommitUnknown { segment_id: i64, reason: String },
}

impl MagentoError {
    pub(crate) fn table(table: &str, reason: impl std::fmt::Display) -> MagentoError {
        MagentoError::Table {
            table: table.to_string(),
            reason: reason.to_string(),
        }
    }

    pub(crate) fn output(path: &std::path::Path, reason: impl std::fmt::Display) -> MagentoError {
        MagentoError::Output {
            path: path.display().to_string(),
            reason: reason.to_string(),
        }
    }
}
