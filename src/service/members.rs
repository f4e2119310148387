//! A stored segment's members, shared between snapshots. A list of events moves a few
//! subjects in and out of many segments, and readers may still hold the snapshot before:
//! copying each changed segment's whole bitmap (up to a million subjects) for every list
//! cost more than everything else a list does. So the bitmap is kept as it was last
//! written whole, beside the subjects that entered and left since (small bitmaps, cheap
//! to copy), and written whole again once those grow past [`COMPACT_AFTER`].

use std::sync::{Arc, OnceLock};

use roaring::RoaringBitmap;

/// Entered and left subjects past which the members are written whole again.
const COMPACT_AFTER: u64 = 8192;

#[derive(Clone, Debug, Default)]
pub struct Members {
    /// The members when last written whole.
    base: Arc<RoaringBitmap>,
    /// Members since, not in `base`.
    entered: Arc<RoaringBitmap>,
    /// In `base`, members no longer.
    left: Arc<RoaringBitmap>,
    /// The members as one bitmap, made on the first read that needs it.
    whole: Arc<OnceLock<Arc<RoaringBitmap>>>,
}

impl Members {
    pub fn new(members: RoaringBitmap) -> Members {
        Members::from(Arc::new(members))
    }

    pub fn contains(&self, subject: u32) -> bool {
        self.entered.contains(subject)
            || (self.base.contains(subject) && !self.left.contains(subject))
    }

    pub fn len(&self) -> u64 {
        self.base.len() + self.entered.len() - self.left.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The members as one bitmap (made once for these members, on first use).
    pub fn bitmap(&self) -> Arc<RoaringBitmap> {
        if self.entered.is_empty() && self.left.is_empty() {
            return self.base.clone();
        }
        self.whole
            .get_or_init(|| {
                Arc::new((self.base.as_ref() - self.left.as_ref()) | self.entered.as_ref())
            })
            .clone()
    }

    /// Whether both are the same members without looking at them: nothing was set since
    /// one was cloned from the other.
    pub fn same(&self, other: &Members) -> bool {
        Arc::ptr_eq(&self.base, &other.base)
            && Arc::ptr_eq(&self.entered, &other.entered)
            && Arc::ptr_eq(&self.left, &other.left)
    }

    /// Makes `subject` a member or not.
    pub fn set(&mut self, subject: u32, member: bool) {
        if self.contains(subject) == member {
            return;
        }
        let in_base = self.base.contains(subject);
        match (member, in_base) {
            (true, true) => Arc::make_mut(&mut self.left).remove(subject),
            (true, false) => Arc::make_mut(&mut self.entered).insert(subject),
            (false, true) => Arc::make_mut(&mut self.left).insert(subject),
            (false, false) => Arc::make_mut(&mut self.entered).remove(subject),
        };
        self.whole = Arc::default();
        if self.entered.len() + self.left.len() > COMPACT_AFTER {
            *self = Members::from(self.bitmap());
        }
    }
}

impl From<Arc<RoaringBitmap>> for Members {
    fn from(base: Arc<RoaringBitmap>) -> Members {
        Members {
            base,
            ..Members::default()
        }
    }
}
