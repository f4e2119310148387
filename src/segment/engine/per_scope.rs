//! Results kept per scope. Requests choose scopes freely (any list of websites), so each
//! map keeps a fixed number of them and forgets the oldest first: many distinct scopes
//! cost rebuilds, never memory without end.

use std::collections::VecDeque;
use std::hash::Hash;

use rustc_hash::FxHashMap;

/// Scopes' results one map keeps at most. Stored segments share a few scopes; this
/// leaves room for many more.
pub(super) const KEPT_SCOPES: usize = 64;

/// A map of at most [`KEPT_SCOPES`] entries (or another limit), the oldest kept
/// forgotten first.
pub(super) struct PerScope<K, V> {
    entries: FxHashMap<K, V>,
    order: VecDeque<K>,
    limit: usize,
}

impl<K, V> Default for PerScope<K, V> {
    fn default() -> Self {
        PerScope::with_limit(KEPT_SCOPES)
    }
}

impl<K, V> PerScope<K, V> {
    /// A map of at most `limit` entries.
    pub(super) fn with_limit(limit: usize) -> Self {
        PerScope {
            entries: FxHashMap::default(),
            order: VecDeque::new(),
            limit,
        }
    }
}

impl<K: Eq + Hash + Clone, V> PerScope<K, V> {
    pub(super) fn get(&self, key: &K) -> Option<&V> {
        self.entries.get(key)
    }

    /// Keeps `value` under `key` unless a value is kept there already; the kept value.
    pub(super) fn keep(&mut self, key: K, value: V) -> &V {
        if !self.entries.contains_key(&key) {
            if self.entries.len() >= self.limit
                && let Some(oldest) = self.order.pop_front()
            {
                self.entries.remove(&oldest);
            }
            self.order.push_back(key.clone());
            self.entries.insert(key.clone(), value);
        }
        &self.entries[&key]
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.entries.iter()
    }
}
