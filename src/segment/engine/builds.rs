//! One build at a time of each thing an engine keeps. The two halves of an evaluation,
//! and requests at the same time, asking for an index nobody built yet wait for one
//! build instead of each making its own: on two cores, two builds of one index take
//! longer each than one alone, since they share the memory bandwidth.

use std::sync::{Condvar, Mutex};

use rustc_hash::FxHashSet;

#[derive(Default)]
pub struct Builds {
    /// The names of the builds under way.
    building: Mutex<FxHashSet<String>>,
    finished: Condvar,
}

impl Builds {
    /// What `find` finds, or else what `build` makes (and keeps where `find` looks), run
    /// by one caller at a time for each `name`: the others wait, then find it.
    pub fn find_or_build<T>(
        &self,
        name: &str,
        find: impl Fn() -> Option<T>,
        build: impl FnOnce() -> T,
    ) -> T {
        if let Some(found) = find() {
            return found;
        }
        {
            let mut building = self.building.lock().expect("lock");
            while building.contains(name) {
                building = self.finished.wait(building).expect("lock");
            }
            building.insert(name.to_string());
        }
        let _finished = Finished { builds: self, name };
        // Kept by the build this caller waited for.
        if let Some(found) = find() {
            return found;
        }
        build()
    }
}

/// Ends a build, also when it panics: its name leaves the set and the waiting wake.
struct Finished<'a> {
    builds: &'a Builds,
    name: &'a str,
}

impl Drop for Finished<'_> {
    fn drop(&mut self) {
        let mut building = self
            .builds
            .building
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        building.remove(self.name);
        self.builds.finished.notify_all();
    }
}
