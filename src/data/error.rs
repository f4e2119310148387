//! Load errors and the lenient-mode report. Every data problem names the file, the
//! line (CSV) or row (Parquet), the column and the reason.

use std::fmt;
use std::path::PathBuf;

/// The bad-data rules of data-model.md, one per kind of problem.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Rule {
    MissingColumn,
    NullRequired,
    Unparsable,
    DuplicateId,
    MissingParent,
    CustomerOrVisitor,
}

impl Rule {
    pub fn describe(self) -> &'static str {
        match self {
            Rule::MissingColumn => "required column missing",
            Rule::NullRequired => "required value is null",
            Rule::Unparsable => "value does not parse",
            Rule::DuplicateId => "duplicate id",
            Rule::MissingParent => "parent row does not exist",
            Rule::CustomerOrVisitor => "not exactly one of customer_id / visitor_id",
        }
    }
}

/// Where in a file a problem is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Location {
    /// The file as a whole (a missing column, a column of the wrong type).
    File,
    /// A CSV line, 1-based, counting the header as line 1.
    Line(u64),
    /// A Parquet row, 1-based.
    Row(u64),
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::File => f.write_str("header"),
            Location::Line(n) => write!(f, "line {n}"),
            Location::Row(n) => write!(f, "row {n}"),
        }
    }
}

/// A row (or file) that breaks a rule of the data model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataError {
    pub file: String,
    pub location: Location,
    pub column: String,
    pub rule: Rule,
    pub reason: String,
}

impl fmt::Display for DataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}, column {}: {}",
            self.file, self.location, self.column, self.reason
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{0}")]
    Data(Box<DataError>),
    #[error("{}: the dataset has no customers table (customers.parquet or customers.csv)", .dir.display())]
    NoCustomers { dir: PathBuf },
    #[error("{}: {message}", .path.display())]
    File { path: PathBuf, message: String },
}

impl LoadError {
    pub fn file(path: impl Into<PathBuf>, message: impl fmt::Display) -> Self {
        LoadError::File {
            path: path.into(),
            message: message.to_string(),
        }
    }
}

impl From<DataError> for LoadError {
    fn from(e: DataError) -> Self {
        LoadError::Data(Box::new(e))
    }
}

/// How many rows one rule skipped in one table, with the first few of them.
#[derive(Clone, Debug, Default)]
pub struct SkippedRows {
    pub count: u64,
    pub examples: Vec<DataError>,
}

/// The first few offending rows kept per table and rule.
pub const EXAMPLES_PER_RULE: usize = 5;
