//! Rows grouped by owner, and the owner of any row in about a bit and a half a row.
//!
//! A table's rows are stored grouped by owner (a customer's orders, an order's items), so
//! the rows of an owner are a range of offsets. The other way, the owner of a row, was a
//! 4-byte table per row: the largest thing in the store (order items, product views).
//! Instead one bit marks each row that starts an owner's rows, with the count of marks
//! before every block of 64 rows: the marks up to a row count the owners with rows up to
//! it, which names its owner. Any row's owner is one 12-byte read and a popcount.

use std::ops::Range;

use super::NONE;

/// Rows per block: one 64-bit word of marks and the count of marks before it.
const BLOCK_ROWS: u32 = 64;

/// Rows of a table grouped by owner: the rows of owner `o` are `offsets[o]..offsets[o+1]`.
/// Rows before the first offset or from the last on belong to no owner of this kind
/// (a guest's orders; customers' views in the visitors' grouping).
#[derive(Clone, Debug, Default)]
pub struct Groups {
    offsets: Vec<u32>,
    owners: OwnerIndex,
}

impl Groups {
    /// `offsets` ascend, one per owner plus the end.
    pub fn new(offsets: Vec<u32>) -> Groups {
        let owners = OwnerIndex::build(&offsets);
        Groups { offsets, owners }
    }

    pub fn offsets(&self) -> &[u32] {
        &self.offsets
    }

    pub fn rows_of(&self, owner: usize) -> Range<usize> {
        self.offsets[owner] as usize..self.offsets[owner + 1] as usize
    }

    pub fn owners(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    /// Rows that belong to some owner of this kind.
    pub fn owned_rows(&self) -> Range<usize> {
        let first = self.offsets.first().copied().unwrap_or(0) as usize;
        let last = self.offsets.last().copied().unwrap_or(0) as usize;
        first..last
    }

    /// The owner of `row`, or `NONE` when no owner of this kind has it.
    #[inline(always)]
    pub fn owner_of(&self, row: usize) -> u32 {
        self.owners.owner_of(row)
    }

    pub fn memory_bytes(&self) -> usize {
        self.offsets.capacity() * 4 + self.owners.memory_bytes()
    }
}

/// The owner of each row, as marks at the rows that start an owner's rows.
#[derive(Clone, Debug, Default)]
struct OwnerIndex {
    /// The first owned row; marks count from it.
    first: u32,
    /// One past the last owned row.
    end: u32,
    /// Per block: marks before it, then its 64 marks (low half, high half).
    blocks: Vec<[u32; 3]>,
    /// The owner of the n-th mark, when some owners have no rows (else the n-th mark is
    /// owner n).
    marked_owners: Option<Vec<u32>>,
}

impl OwnerIndex {
    fn build(offsets: &[u32]) -> OwnerIndex {
        let (Some(&first), Some(&end)) = (offsets.first(), offsets.last()) else {
            return OwnerIndex::default();
        };
        let rows = end - first;
        let mut blocks = vec![[0u32; 3]; rows.div_ceil(BLOCK_ROWS) as usize];
        let owners = offsets.len() - 1;
        let with_rows = (0..owners).filter(|&o| offsets[o] < offsets[o + 1]);
        let every_owner_has_rows = with_rows.clone().count() == owners;
        let mut marked_owners = Vec::new();
        for owner in with_rows {
            let row = offsets[owner] - first;
            let block = &mut blocks[(row / BLOCK_ROWS) as usize];
            let bit = row % BLOCK_ROWS;
            block[1 + (bit / 32) as usize] |= 1 << (bit % 32);
            if !every_owner_has_rows {
                marked_owners.push(owner as u32);
            }
        }
        let mut before = 0;
        for block in &mut blocks {
            block[0] = before;
            before += block[1].count_ones() + block[2].count_ones();
        }
        OwnerIndex {
            first,
            end,
            blocks,
            marked_owners: (!every_owner_has_rows).then_some(marked_owners),
        }
    }

    #[inline(always)]
    fn owner_of(&self, row: usize) -> u32 {
        let Some(row) = u32::try_from(row)
            .ok()
            .filter(|row| (self.first..self.end).contains(row))
        else {
            return NONE;
        };
        let row = row - self.first;
        let [before, low, high] = self.blocks[(row / BLOCK_ROWS) as usize];
        let marks = (high as u64) << 32 | low as u64;
        // Marks at or before the row; the first owned row is always marked.
        let upto = marks & (u64::MAX >> (BLOCK_ROWS - 1 - row % BLOCK_ROWS));
        let nth = (before + upto.count_ones() - 1) as usize;
        match &self.marked_owners {
            Some(owners) => owners[nth],
            None => nth as u32,
        }
    }

    fn memory_bytes(&self) -> usize {
        self.blocks.capacity() * 12 + self.marked_owners.as_ref().map_or(0, |o| o.capacity() * 4)
    }
}
