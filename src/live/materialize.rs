//! A delta folded into the data: the loaded tables written again with the touched
//! subjects' rows, the guest orders' and the products' as events left them in place of
//! theirs, and loaded by the loader itself, so that the data after events obeys exactly
//! the rules of a dataset on disk. Folds, rebuilds and replays at start all make their
//! data this way, from rows the one applier ([`super::apply`]) wrote.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use super::delta::{Delta, RowsBefore, apply_rows, touched_by};
use crate::data::LoadError;
use crate::data::loader::load_tables;
use crate::events::{EventError, EventList, TableEdit, order_row_ranges, subject_row_ranges};
use crate::model::TableName;
use crate::store::Dataset;

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("{0}")]
    Event(#[from] EventError),
    /// The events were valid but the data they leave is not (a bug, or data the loader
    /// rules out that no event check catches): nothing is applied.
    #[error("the events leave data that does not load: {0}")]
    Data(LoadError),
}

/// Events applied between two folds while lists are applied in bulk (a replay): the
/// touched subjects' rows of the tables written, held as values, are what bounds the
/// memory.
const EVENTS_PER_FOLD: usize = 200_000;

/// The data `lists` leave when applied in order over `delta` (over `base`), as one
/// dataset. `label` names the result in the (unexpected) case that the loader refuses it.
pub fn apply_lists(
    base: &Dataset,
    delta: &Delta,
    lists: &[Arc<EventList>],
    label: &Path,
) -> Result<Dataset, ApplyError> {
    apply_lists_folding_every(base, delta, lists, label, EVENTS_PER_FOLD)
}

/// [`apply_lists`], folding the rows in every `events_per_fold` events (at least a list).
pub fn apply_lists_folding_every(
    base: &Dataset,
    delta: &Delta,
    lists: &[Arc<EventList>],
    label: &Path,
    events_per_fold: usize,
) -> Result<Dataset, ApplyError> {
    let mut folded: Option<Dataset> = None;
    let mut delta = delta.clone();
    let mut rest = lists;
    while !rest.is_empty() || folded.is_none() {
        let mut events = 0;
        let take = rest
            .iter()
            .take_while(|list| {
                events += list.len();
                events <= events_per_fold
            })
            .count()
            .max(1)
            .min(rest.len());
        let (round, after) = rest.split_at(take);
        rest = after;
        let data = folded.as_ref().unwrap_or(base);
        let events = round.iter().flat_map(|list| list.events());
        // No subject's memberships are decided here, so a product's reach need not be.
        let touched = touched_by(events, data, &delta, 0);
        let applied = apply_rows(data, &delta, &touched, round, RowsBefore::Dropped)?;
        let next = materialize(data, &applied.delta, label).map_err(ApplyError::Data)?;
        folded = Some(next);
        delta = Delta::default();
    }
    Ok(folded.expect("folded at least once"))
}

/// `base` with `delta` folded in.
pub fn materialize(base: &Dataset, delta: &Delta, label: &Path) -> Result<Dataset, LoadError> {
    let started = std::time::Instant::now();
    let mut tables: BTreeMap<TableName, crate::events::TableEdit> = TableName::ALL
        .into_iter()
        .map(|name| Ok((name, TableEdit::of(base, name)?)))
        .collect::<Result<_, LoadError>>()?;
    let read = started.elapsed();
    // A subject's loaded rows that events did not remove or change stay where they are;
    // the rows events added or changed to come after the loaded data's.
    let loaded_subjects = (base.customer_count() + base.visitor_count()) as u32;
    for (&subject, changes) in &delta.changes {
        let ranges = match subject < loaded_subjects {
            true => subject_row_ranges(base, subject),
            false => Vec::new(),
        };
        for (name, removed, added) in changes.tables() {
            let table = tables.get_mut(&name).expect("every table");
            if !removed.is_empty() {
                let loaded: Vec<usize> = ranges
                    .iter()
                    .filter(|(of, _)| *of == name)
                    .flat_map(|(_, rows)| rows.clone())
                    .collect();
                table.remove(removed.iter().map(|&at| loaded[at as usize]));
            }
            table.add_owned(added.unpack());
        }
    }
    for &order in delta.guest_orders.keys() {
        if let Some(row) = base.order_index.get(order) {
            for (name, rows) in order_row_ranges(base, row as usize) {
                tables.get_mut(&name).expect("every table").remove(rows);
            }
        }
    }
    for held in delta.guest_orders.values() {
        for (&name, rows) in held.tables() {
            let table = tables.get_mut(&name).expect("every table");
            table.add(rows.iter().map(Vec::as_slice));
        }
    }
    let products = tables.get_mut(&TableName::Products).expect("every table");
    products.remove(
        delta
            .products
            .keys()
            .filter_map(|&id| base.product_index.get(id))
            .map(|row| row as usize),
    );
    products.add(delta.products.values().map(|row| row.0.as_slice()));
    let edited = started.elapsed();
    let batches = tables
        .into_iter()
        .map(|(name, edit)| Ok((name, edit.finish()?)))
        .collect::<Result<BTreeMap<_, _>, LoadError>>()?;
    let built = started.elapsed();
    let dataset = load_tables(&batches, base.reference_time, label);
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
    tracing::debug!(
        "{} touched subjects folded into the tables in {:.1} ms (tables read {:.1} ms, rows \
         placed {:.1} ms, tables made {:.1} ms), loaded in {:.1} ms",
        delta.touched.len(),
        ms(built),
        ms(read),
        ms(edited - read),
        ms(built - edited),
        ms(started.elapsed() - built)
    );
    dataset
}
