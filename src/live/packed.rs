//! Rows the delta holds until a fold, packed (postcard: a variant tag, numbers as zigzag
//! varints, texts with their length). A view row of six values packs into some 25 bytes,
//! where as values it is six 32-byte cells in vectors of their own: the delta grows with
//! events by what they add, not by the allocations around it.

use crate::events::Value;

/// The rows of one table, packed; unpacked each time they are read (a subject's rows
/// are read for matching, which the cache of rows now spares, and by a fold).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PackedRows {
    bytes: Box<[u8]>,
    rows: u32,
}

impl PackedRows {
    pub fn pack(rows: &[Vec<Value>]) -> PackedRows {
        let bytes = postcard::to_allocvec(rows).expect("values always serialize");
        PackedRows {
            bytes: bytes.into_boxed_slice(),
            rows: rows.len() as u32,
        }
    }

    pub fn unpack(&self) -> Vec<Vec<Value>> {
        postcard::from_bytes(&self.bytes).expect("packed by `pack`")
    }

    pub fn len(&self) -> usize {
        self.rows as usize
    }

    /// Bytes held, beyond the struct itself.
    pub fn heap_bytes(&self) -> usize {
        self.bytes.len()
    }
}
