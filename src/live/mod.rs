//! The live data: the loaded data as events change it.
//!
//! [`delta`] keeps what events changed, per subject ([`changes`]: the rows they added,
//! removed or changed, not the subject's others); [`apply`] applies events to the rows
//! of the subjects they touch, [`matching`] decides a segment for one subject from its
//! rows, which is how the subjects events touch get their memberships, and
//! [`materialize`] folds a delta into newly loaded data.

pub(crate) mod apply;
pub mod changes;
pub mod delta;
pub mod matching;
pub mod materialize;
mod packed;

pub use materialize::{ApplyError, apply_lists, apply_lists_folding_every, materialize};
