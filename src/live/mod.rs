//! The live data: the loaded data as events change it.
//!
//! [`apply`] applies events to the rows of the subjects they touch, and [`matching`]
//! decides a segment for one subject from its rows, which is how the subjects events
//! touch get their memberships.

pub(crate) mod apply;
pub mod matching;
