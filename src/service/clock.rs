//! Where the service's "now" comes from. Memberships follow it: segments with relative
//! dates are re-matched when its UTC day changes. Tests and reproducible benchmarks use a
//! fixed or a hand-moved clock instead of the system's.

use std::sync::atomic::{AtomicI64, Ordering};

use crate::data::value::day_of_micros;

/// The current instant, in µs since the epoch (UTC).
pub trait Clock: Send + Sync {
    fn now_micros(&self) -> i64;

    /// The current UTC day (days since the epoch).
    fn today(&self) -> i32 {
        day_of_micros(self.now_micros())
    }
}

/// The system's clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_micros(&self) -> i64 {
        chrono::Utc::now().timestamp_micros()
    }
}

/// A clock that reads what it was last set to: fixed unless moved with [`ManualClock::set`].
pub struct ManualClock(AtomicI64);

impl ManualClock {
    pub fn new(micros: i64) -> ManualClock {
        ManualClock(AtomicI64::new(micros))
    }

    pub fn set(&self, micros: i64) {
        self.0.store(micros, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_micros(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}
