//! The stored segments kept exact as events change the data, and evaluations over the
//! data now.
//!
//! A list is applied to the rows of the subjects it touches ([`crate::live::delta`]); then
//! each stored segment that reads what the list writes is decided for those subjects
//! alone, each from its rows ([`crate::live::matching`]), and their memberships replace
//! theirs in the stored members. The loaded data and its indexes stay as they are.
//!
//! Evaluations of new definitions (estimates, creates, refreshes, a new day) see the data
//! as events left it: per-subject matching of their rows for the touched subjects whose
//! events wrote a table the definition reads, the loaded data's engine for everyone else
//! ([`Data::evaluate_until`]).
//!
//! Once the delta has grown past `checkpoint_after_events` ([`super::ServiceOptions`]), a
//! thread folds it into newly loaded data ([`super::fold`]; the added subjects then take
//! their places in id order). A list applies by folding at once instead when it changes a
//! product that more than [`PRODUCT_REACH_LIMIT`] subjects' records name, or finds the
//! delta four times past `checkpoint_after_events` (folds do not keep up).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use roaring::RoaringBitmap;
use rustc_hash::FxHashMap;

use super::catalog::{Stored, tables_read};
use super::{SegmentKey, Segments};
use crate::data::value::day_of_micros;
use crate::events::EventList;
pub use crate::live::delta::{
    Delta, PRODUCT_REACH_LIMIT, RowsApplied, RowsBefore, Subjects, Touched, touched_by,
};
use crate::live::matching::{Matcher, Scope, Subject};
use crate::model::TableName;
use crate::segment::plan::Plan;
use crate::segment::{Engine, EvalError, Evaluation, Segment, SegmentSource};

/// The scope of a segment.
fn scope_of(segment: &Segment) -> Scope<'_> {
    Scope {
        websites: &segment.websites,
        apply_to: segment.apply_to,
    }
}

/// Decides a touched subject's place in a segment from its rows: (in the universe,
/// member).
fn decide(plan: &Plan, segment: &Segment, subject: Subject<'_>, as_of_day: i32) -> (bool, bool) {
    let scope = scope_of(segment);
    let matcher = Matcher { subject, as_of_day };
    if !matcher.in_universe(scope) {
        return (false, false);
    }
    (true, segment.active && matcher.matches(plan, scope))
}

/// Touched subjects past which a read decides them on two threads.
const PARALLEL_SUBJECTS: usize = 8192;

/// What applying a list to the touched subjects gives.
pub struct Applied {
    pub delta: Delta,
    /// Each stored segment with its members over the loaded data's dense ids.
    pub segments: Segments,
}

/// Applies `lists` in order to the subjects in `touched` (what [`touched_by`] gives for
/// their events as one list): the new delta and every segment's members. The segments
/// that read a table the lists write are decided again for the touched subjects, each
/// from its rows ([`crate::live::matching`]).
pub fn apply(
    base: &Engine,
    delta: &Delta,
    segments: &Segments,
    touched: &Touched,
    lists: &[Arc<EventList>],
    now: i64,
) -> Result<Applied, super::ServiceError> {
    let started = Instant::now();
    let mut phases: Vec<(&str, f64)> = Vec::new();
    let mut phase = |name: &'static str| {
        phases.push((name, started.elapsed().as_secs_f64() * 1e3));
    };
    let dataset = base.dataset();
    let RowsApplied {
        delta: next_delta,
        before: rows_before,
        after: rows_after,
    } = crate::live::delta::apply_rows(dataset, delta, touched, lists, RowsBefore::Kept)
        .map_err(super::ServiceError::Event)?;
    phase("events applied");
    let Touched {
        subjects: touched,
        written,
        added,
        ..
    } = touched;
    let subjects = Subjects {
        base: dataset,
        added,
    };
    let layouts = delta.layouts(dataset);
    let layouts = layouts.as_ref();
    // Only segments that read a table the lists write can move; the others keep their
    // members. A segment naming another comes after it.
    let changed: BTreeSet<TableName> = lists
        .iter()
        .flat_map(|list| list.tables_written())
        .collect();
    let mut known = BTreeMap::new();
    let chosen: Vec<SegmentKey> = segments
        .keys()
        .filter(|key| !tables_read(key, segments, &mut known).is_disjoint(&changed))
        .cloned()
        .collect();
    let order = super::catalog::levels(&chosen, segments).concat();
    let mut next = segments.clone();
    let data = Data {
        engine: base,
        delta: Some(&next_delta),
    };
    let product = next_delta.product(dataset, layouts);
    let as_of_day = day_of_micros(now);
    let mut universes = FxHashMap::default();
    for key in &order {
        let matching = Instant::now();
        let stored = &segments[key];
        // What it names is matched already: the plan reads their members now.
        let plan = base
            .plan(&stored.definition, now, &LiveSource::new(data, &next, None))
            .map_err(|e| super::ServiceError::from_eval(e, None))?;
        let subject = |id, rows| Subject {
            id,
            is_visitor: subjects.is_visitor(id),
            rows,
            layouts,
            product: &product,
        };
        // The touched subjects in the segment's universe before and after: shared by the
        // segments of a scope.
        let scope = scope_of(&stored.definition);
        let (was_in, now_in) = universes
            .entry((scope.websites.to_vec(), scope.apply_to))
            .or_insert_with(|| {
                let in_universe = |id, rows| {
                    Matcher {
                        subject: subject(id, rows),
                        as_of_day,
                    }
                    .in_universe(scope)
                };
                let mut was_in = RoaringBitmap::new();
                let mut now_in = RoaringBitmap::new();
                for (&id, before) in touched.iter().zip(&rows_before) {
                    if in_universe(id, before) {
                        was_in.insert(id);
                    }
                    if in_universe(id, &rows_after[&id]) {
                        now_in.insert(id);
                    }
                }
                (was_in, now_in)
            });
        let universe = (stored.universe + now_in.len()).saturating_sub(was_in.len());
        let mut members = stored.members.clone();
        let reads = &known[key];
        let moved = touched.iter().filter(|id| !written[id].is_disjoint(reads));
        for &id in moved {
            let matcher = Matcher {
                subject: subject(id, &rows_after[&id]),
                as_of_day,
            };
            let member =
                stored.definition.active && now_in.contains(id) && matcher.matches(&plan, scope);
            members.set(id, member);
        }
        let mut updated = stored.as_ref().clone();
        updated.members = members;
        updated.universe = universe;
        updated.as_of = now;
        updated.refreshed_at = now;
        updated.elapsed = matching.elapsed();
        next.insert(key.clone(), Arc::new(updated));
    }
    drop(product);
    phase("segments matched");
    tracing::debug!(
        "{} subjects, {} of {} segments: {phases:?}",
        touched.len(),
        chosen.len(),
        segments.len()
    );
    Ok(Applied {
        delta: next_delta,
        segments: next,
    })
}

/// The loaded data's engine and, when events have touched subjects since, their delta:
/// what an evaluation of the data now reads.
#[derive(Clone, Copy)]
pub struct Data<'a> {
    pub engine: &'a Engine,
    pub delta: Option<&'a Delta>,
}

impl<'a> Data<'a> {
    pub fn plain(engine: &'a Engine) -> Data<'a> {
        Data {
            engine,
            delta: None,
        }
    }

    /// The segment's members over the data now: per-subject matching of their rows for
    /// the touched subjects whose events wrote a table the definition reads
    /// ([`Delta::changed_for`]), the loaded data's engine for the others.
    pub fn evaluate_until(
        &self,
        segment: &Segment,
        id: Option<&str>,
        as_of: i64,
        segments: &Segments,
        deadline: Option<Instant>,
    ) -> Result<Evaluation, EvalError> {
        let Some(delta) = self.delta.filter(|d| !d.touched.is_empty()) else {
            return self
                .engine
                .evaluate_until(segment, id, as_of, &Stored(segments), deadline);
        };
        let source = LiveSource::new(*self, segments, deadline);
        let base = self
            .engine
            .evaluate_until(segment, id, as_of, &source, deadline)?;
        let plan = self.engine.plan(segment, as_of, &source)?;
        let dataset = self.engine.dataset();
        let layouts = delta.layouts(dataset);
        let subjects = Subjects {
            base: dataset,
            added: &delta.added,
        };
        let as_of_day = day_of_micros(as_of);
        let reads = segment.tables_read();
        // The touched subjects, each decided from its rows now (of the tables the
        // definition reads): (in the universe, members).
        let decide_all = |touched: &[u32]| {
            let product = delta.product(dataset, &layouts);
            let mut universe = RoaringBitmap::new();
            let mut members = RoaringBitmap::new();
            for &id in touched {
                let rows = delta
                    .rows_now(dataset, &layouts, id, Some(&reads))
                    .expect("a touched subject");
                let subject = Subject {
                    id,
                    is_visitor: subjects.is_visitor(id),
                    rows: &rows,
                    layouts: &layouts,
                    product: &product,
                };
                let (in_universe, member) = decide(&plan, segment, subject, as_of_day);
                if in_universe {
                    universe.insert(id);
                }
                if member {
                    members.insert(id);
                }
            }
            (universe, members)
        };
        // Only those whose events wrote a table the definition reads (or that the loaded
        // data lacks) are decided again.
        let touched = delta.changed_for(&reads);
        let decided: RoaringBitmap = touched.iter().copied().collect();
        // Many touched subjects (a long delta): half on each of two threads, each
        // subject's rows being reads far from the last one's.
        let (touched_universe, touched_members) = if touched.len() >= PARALLEL_SUBJECTS {
            let (low, high) = touched.split_at(touched.len() / 2);
            std::thread::scope(|scope| {
                let high = scope.spawn(|| decide_all(high));
                let (mut universe, mut members) = decide_all(low);
                let (high_universe, high_members) =
                    high.join().expect("deciding subjects does not panic");
                universe |= high_universe;
                members |= high_members;
                (universe, members)
            })
        } else {
            decide_all(&touched)
        };
        let members = (base.members - &decided) | touched_members;
        let universe = (base.universe_members.as_ref() - &decided) | touched_universe;
        Ok(Evaluation {
            members,
            universe: universe.len(),
            universe_members: Arc::new(universe),
        })
    }
}

/// `in_segment` over the data now: a stored segment's members where they hold at the
/// instant asked, else its definition evaluated over the data now (never over the loaded
/// data alone, which would miss what events changed).
struct LiveSource<'a> {
    data: Data<'a>,
    segments: &'a Segments,
    deadline: Option<Instant>,
    evaluated: Mutex<FxHashMap<(String, i64), Arc<RoaringBitmap>>>,
}

impl<'a> LiveSource<'a> {
    fn new(data: Data<'a>, segments: &'a Segments, deadline: Option<Instant>) -> LiveSource<'a> {
        LiveSource {
            data,
            segments,
            deadline,
            evaluated: Mutex::default(),
        }
    }
}

impl SegmentSource for LiveSource<'_> {
    fn segment(&self, id: &str) -> Result<Option<Segment>, crate::segment::DefinitionError> {
        Stored(self.segments).segment(id)
    }

    fn apply_to(&self, id: &str) -> Option<crate::segment::definition::ApplyTo> {
        Stored(self.segments).apply_to(id)
    }

    fn members(&self, id: &str, as_of: i64) -> Option<Arc<RoaringBitmap>> {
        if let Some(members) = Stored(self.segments).members(id, as_of) {
            return Some(members);
        }
        let key = (id.to_string(), as_of);
        if let Some(found) = self
            .evaluated
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
        {
            return Some(found.clone());
        }
        let stored = self.segments.get(&SegmentKey::of(id))?;
        let evaluation = self
            .data
            .evaluate_until(
                &stored.definition,
                Some(id),
                as_of,
                self.segments,
                self.deadline,
            )
            .ok()?;
        let members = Arc::new(evaluation.members);
        self.evaluated
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, members.clone());
        Some(members)
    }
}
