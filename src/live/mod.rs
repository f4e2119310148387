//! The live data: the loaded data as events change it.
//!
//! [`matching`] decides a segment for one subject from that subject's rows, which is how
//! the subjects events touch get their memberships.

pub mod matching;
