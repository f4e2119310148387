//! How many members each pair of stored segments shares: the overlap matrix of the
//! console, and `POST /overlap`.

use super::{ServiceError, Snapshot};

/// `shared[i][j]`: the members segments `ids[i]` and `ids[j]` have in common (the
/// diagonal is each segment's count). Symmetric; each pair is intersected once.
pub fn overlap(snapshot: &Snapshot, ids: &[String]) -> Result<Vec<Vec<u64>>, ServiceError> {
    let members = ids
        .iter()
        .map(|id| Ok(snapshot.segment(id)?.members.bitmap()))
        .collect::<Result<Vec<_>, ServiceError>>()?;
    let mut shared = vec![vec![0; ids.len()]; ids.len()];
    for i in 0..members.len() {
        shared[i][i] = members[i].len();
        for j in i + 1..members.len() {
            let both = members[i].intersection_len(&members[j]);
            shared[i][j] = both;
            shared[j][i] = both;
        }
    }
    Ok(shared)
}
