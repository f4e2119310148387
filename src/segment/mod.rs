//! Segments: the language of `shared/spec/segment-language.md` and the engine that
//! evaluates it.
//!
//! A definition flows through these steps:
//!
//! - [`definition`]: JSON parsed and validated against the dataset's [`schema`] into a
//!   typed [`definition::Condition`]; errors carry the JSON Pointer of the offending node.
//! - [`predicate`]: each comparison normalised (relative dates resolved against `as_of`,
//!   ordered comparisons as inclusive ranges, strings in lower case).
//! - [`plan`]: the condition compiled into a tree of set operations and simplified.
//! - [`engine`]: the plan evaluated over roaring bitmaps of subjects and related records,
//!   with the column indexes of [`index`] and [`list_index`], the row readers of [`rows`], the bitmaps of
//!   rows of [`bitmaps`], the record
//!   spaces of [`space`], and
//!   DataFusion for aggregates ([`aggregate`]), also for the per-subject partial
//!   aggregates of [`partials`] that aggregates with a status and a time range combine.

pub mod aggregate;
pub mod bitmaps;
pub mod column_scan;
pub mod definition;
pub mod engine;
pub mod index;
pub mod list_index;
pub mod partials;
pub mod plan;
pub mod predicate;
pub mod rows;
pub mod schema;
pub mod space;
pub mod tail_index;
mod unique_keys;

pub use definition::{ApplyTo, Condition, DefinitionError, ErrorKind, Segment};
pub use engine::{Engine, EvalError, Evaluation, NoSegments, SegmentSource};
pub use schema::Schema;
