//! Comparisons normalised for evaluation: relative dates resolved against `as_of`, date
//! values against timestamps widened to whole UTC days, every ordered comparison turned
//! into inclusive ranges of one integer domain.

use crate::data::value::MICROS_PER_DAY;
use crate::model::FieldType;
use crate::segment::definition::{Op, Operand, Scalar};

/// A test of one value. Null values fail every test but `IsNull`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Test {
    IsNull,
    IsNotNull,
    /// The value lies in one of the inclusive ranges (sorted, disjoint), or with `negate`
    /// in none of them. Ints, decimal units, bools (0/1), days and microseconds.
    Ranges {
        ranges: Vec<(i64, i64)>,
        negate: bool,
    },
    /// Case-insensitive string test; the needles are lower case.
    Text {
        matcher: TextMatcher,
        negate: bool,
    },
    /// A list<id> test; `ids` sorted and without duplicates.
    List {
        op: ListOp,
        ids: Vec<i64>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum TextMatcher {
    /// Equal to one of these (sorted, no duplicates).
    Equals(Vec<String>),
    Contains(String),
    StartsWith(String),
    EndsWith(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ListOp {
    HasAny,
    HasAll,
    HasNone,
    /// The same ids, in any order.
    Equals,
}

/// The inclusive interval a value denotes in the field's domain: a date against a
/// timestamp field is its whole day.
fn interval(scalar: &Scalar) -> (i64, i64) {
    match scalar {
        Scalar::Int(v) | Scalar::Instant(v) => (*v, *v),
        Scalar::Day(day) => {
            let start = *day as i64 * MICROS_PER_DAY;
            (start, start + MICROS_PER_DAY - 1)
        }
        Scalar::Text(_) => unreachable!("text values have no interval"),
    }
}

fn text(scalar: &Scalar) -> String {
    match scalar {
        Scalar::Text(text) => text.clone(),
        other => unreachable!("validated as text: {other:?}"),
    }
}

fn int(scalar: &Scalar) -> i64 {
    match scalar {
        Scalar::Int(v) => *v,
        other => unreachable!("validated as an int: {other:?}"),
    }
}

impl Test {
    /// Normalises `op value` on a field of type `ty`; `as_of_day` is the evaluation day.
    pub fn new(ty: FieldType, op: Op, operand: &Operand, as_of_day: i32) -> Test {
        let ranges = |ranges: Vec<(i64, i64)>, negate: bool| Test::Ranges {
            ranges: normalise(ranges),
            negate,
        };
        let one = || match operand {
            Operand::One(scalar) => scalar,
            other => unreachable!("validated as one value: {other:?}"),
        };
        let list = || match operand {
            Operand::List(items) => items.as_slice(),
            other => unreachable!("validated as a list: {other:?}"),
        };
        if ty == FieldType::String {
            let matcher = match op {
                Op::IsNull => return Test::IsNull,
                Op::IsNotNull => return Test::IsNotNull,
                Op::Eq | Op::Ne => TextMatcher::Equals(vec![text(one())]),
                Op::In | Op::NotIn => {
                    let mut values: Vec<String> = list().iter().map(text).collect();
                    values.sort();
                    values.dedup();
                    TextMatcher::Equals(values)
                }
                Op::Contains | Op::NotContains => TextMatcher::Contains(text(one())),
                Op::StartsWith => TextMatcher::StartsWith(text(one())),
                Op::EndsWith => TextMatcher::EndsWith(text(one())),
                other => unreachable!("validated string operator: {other}"),
            };
            let negate = matches!(op, Op::Ne | Op::NotIn | Op::NotContains);
            return Test::Text { matcher, negate };
        }
        if ty == FieldType::IdList {
            let op = match op {
                Op::IsNull => return Test::IsNull,
                Op::IsNotNull => return Test::IsNotNull,
                Op::HasAny => ListOp::HasAny,
                Op::HasAll => ListOp::HasAll,
                Op::HasNone => ListOp::HasNone,
                Op::Eq => ListOp::Equals,
                other => unreachable!("validated list operator: {other}"),
            };
            let mut ids: Vec<i64> = list().iter().map(int).collect();
            ids.sort_unstable();
            ids.dedup();
            return Test::List { op, ids };
        }
        match op {
            Op::IsNull => Test::IsNull,
            Op::IsNotNull => Test::IsNotNull,
            Op::Eq | Op::Ne => ranges(vec![interval(one())], op == Op::Ne),
            Op::In | Op::NotIn => ranges(list().iter().map(interval).collect(), op == Op::NotIn),
            Op::Gt => ranges(vec![(interval(one()).1.saturating_add(1), i64::MAX)], false),
            Op::Gte => ranges(vec![(interval(one()).0, i64::MAX)], false),
            Op::Lt => ranges(vec![(i64::MIN, interval(one()).0.saturating_sub(1))], false),
            Op::Lte => ranges(vec![(i64::MIN, interval(one()).1)], false),
            Op::Between => match operand {
                Operand::Between(low, high) => {
                    ranges(vec![(interval(low).0, interval(high).1)], false)
                }
                other => unreachable!("validated as a pair: {other:?}"),
            },
            Op::InLastDays | Op::NotInLastDays => {
                let Operand::Days(days) = operand else {
                    unreachable!("validated as days")
                };
                let cutoff_day = as_of_day as i64 - days;
                let cutoff = if ty == FieldType::Timestamp {
                    cutoff_day * MICROS_PER_DAY
                } else {
                    cutoff_day
                };
                if op == Op::InLastDays {
                    ranges(vec![(cutoff, i64::MAX)], false)
                } else {
                    ranges(vec![(i64::MIN, cutoff - 1)], false)
                }
            }
            other => unreachable!("validated ordered operator: {other}"),
        }
    }
    /// The values a `Ranges` test passes, as sorted, disjoint inclusive ranges (a negated
    /// test passes the gaps between its ranges); `None` for other tests.
    pub fn passing_ranges(&self) -> Option<Vec<(i64, i64)>> {
        let Test::Ranges { ranges, negate } = self else {
            return None;
        };
        if !negate {
            return Some(ranges.clone());
        }
        let mut gaps = Vec::with_capacity(ranges.len() + 1);
        let mut next = Some(i64::MIN);
        for &(low, high) in ranges {
            if let Some(from) = next.filter(|&from| from < low) {
                gaps.push((from, low - 1));
            }
            next = high.checked_add(1);
        }
        if let Some(from) = next {
            gaps.push((from, i64::MAX));
        }
        Some(gaps)
    }

    /// Whether a number (of any ordered type) passes.
    pub fn number(&self, value: Option<i64>) -> bool {
        match (self, value) {
            (Test::IsNull, value) => value.is_none(),
            (Test::IsNotNull, value) => value.is_some(),
            (Test::Ranges { ranges, negate }, Some(v)) => in_ranges(ranges, v) != *negate,
            _ => false,
        }
    }

    /// Whether a string passes (compared in lower case).
    pub fn text(&self, value: Option<&str>) -> bool {
        match (self, value) {
            (Test::IsNull, value) => value.is_none(),
            (Test::IsNotNull, value) => value.is_some(),
            (Test::Text { matcher, negate }, Some(v)) => {
                // Most values are short ASCII (emails, names, codes): lowered on the stack,
                // which is what `to_lowercase` gives them, without an allocation per row.
                let matched = if let Some(matched) = matcher.matches_ascii_affix(v) {
                    matched
                } else if v.is_ascii() && v.len() <= ASCII_ON_STACK {
                    let mut buffer = [0u8; ASCII_ON_STACK];
                    let lower = &mut buffer[..v.len()];
                    lower.copy_from_slice(v.as_bytes());
                    lower.make_ascii_lowercase();
                    matcher.matches_lower(std::str::from_utf8(lower).expect("ASCII is UTF-8"))
                } else {
                    matcher.matches_lower(&v.to_lowercase())
                };
                matched != *negate
            }
            _ => false,
        }
    }

    /// Whether a list of ids passes; an empty list counts as null.
    pub fn list(&self, value: Option<&[i64]>) -> bool {
        let value = value.filter(|v| !v.is_empty());
        match (self, value) {
            (Test::IsNull, value) => value.is_none(),
            (Test::IsNotNull, value) => value.is_some(),
            (Test::List { op, ids }, Some(values)) => match op {
                ListOp::HasAny => values.iter().any(|v| ids.binary_search(v).is_ok()),
                ListOp::HasNone => !values.iter().any(|v| ids.binary_search(v).is_ok()),
                ListOp::HasAll => ids.iter().all(|id| values.contains(id)),
                ListOp::Equals => {
                    let mut sorted = values.to_vec();
                    sorted.sort_unstable();
                    sorted.dedup();
                    sorted == *ids
                }
            },
            _ => false,
        }
    }
}

/// The longest ASCII value lowered in a buffer on the stack.
const ASCII_ON_STACK: usize = 128;

impl TextMatcher {
    /// A prefix or suffix test of ASCII, compared in place (no copy lowered); `None` for
    /// anything else.
    #[inline]
    fn matches_ascii_affix(&self, value: &str) -> Option<bool> {
        let (affix, at_end) = match self {
            TextMatcher::StartsWith(prefix) => (prefix, false),
            TextMatcher::EndsWith(suffix) => (suffix, true),
            _ => return None,
        };
        if !affix.is_ascii() {
            return None;
        }
        if !value.is_ascii() {
            // The value lowered a character at a time from the affix's end, no copy.
            // `str::to_lowercase` differs from that only for a final sigma, which no
            // ASCII affix matches either way.
            let n = affix.len();
            return Some(if at_end {
                let lowered = value.chars().rev().flat_map(|c| c.to_lowercase().rev());
                lowered.take(n).eq(affix.chars().rev())
            } else {
                let lowered = value.chars().flat_map(char::to_lowercase);
                lowered.take(n).eq(affix.chars())
            });
        }
        let (value, affix) = (value.as_bytes(), affix.as_bytes());
        let Some(start) = value.len().checked_sub(affix.len()) else {
            return Some(false);
        };
        let part = if at_end {
            &value[start..]
        } else {
            &value[..affix.len()]
        };
        Some(part.eq_ignore_ascii_case(affix))
    }

    /// `value` must already be lower case.
    pub fn matches_lower(&self, value: &str) -> bool {
        match self {
            TextMatcher::Equals(values) => {
                values.binary_search_by(|v| v.as_str().cmp(value)).is_ok()
            }
            TextMatcher::Contains(needle) => value.contains(needle.as_str()),
            TextMatcher::StartsWith(prefix) => value.starts_with(prefix.as_str()),
            TextMatcher::EndsWith(suffix) => value.ends_with(suffix.as_str()),
        }
    }
}

pub fn in_ranges(ranges: &[(i64, i64)], value: i64) -> bool {
    // Ranges are sorted and disjoint: the last range starting at or before `value`.
    let after = ranges.partition_point(|&(low, _)| low <= value);
    after > 0 && value <= ranges[after - 1].1
}

/// Sorted, merged, empty ranges dropped.
pub fn normalise(mut ranges: Vec<(i64, i64)>) -> Vec<(i64, i64)> {
    ranges.retain(|(low, high)| low <= high);
    ranges.sort_unstable();
    let mut merged: Vec<(i64, i64)> = Vec::with_capacity(ranges.len());
    for (low, high) in ranges {
        match merged.last_mut() {
            Some(last) if low <= last.1.saturating_add(1) => last.1 = last.1.max(high),
            _ => merged.push((low, high)),
        }
    }
    merged
}
