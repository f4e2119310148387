//! Derived customer fields: days until the birthday from an index of customers by birth
//! month and day, ages as ranges of birth days, days since an instant as ranges of it.

use std::sync::Arc;

use chrono::{Datelike, NaiveDate};
use datafusion::arrow::array::Int64Array;
use roaring::RoaringBitmap;

use super::Engine;
use crate::data::value::date_from_days;
use crate::model::TableName;
use crate::segment::bitmaps::filter_rows;
use crate::segment::index::ColumnIndex;
use crate::segment::predicate::Test;
use crate::segment::rows::ColumnReader;
use crate::segment::schema::DerivedField;

impl Engine {
    /// Customers in `candidates` whose days until birthday or age passes `test`. Days
    /// until a birthday depend on the month and day of birth only: the 366 month-days that
    /// pass are bins of an index of customers by birth month-day. An age range is one
    /// range of birth days (age falls as the birth day rises): a range of `dob`'s index.
    /// Few candidates read their own `dob` instead.
    pub(super) fn birthday_field(
        &self,
        field: DerivedField,
        test: &Test,
        as_of_day: i32,
        candidates: &RoaringBitmap,
    ) -> RoaringBitmap {
        let today = date_from_days(as_of_day);
        let dob = self.dataset.customers.column("dob").expect("checked");
        let (index, on_index) = match field {
            DerivedField::Age => (
                self.index(TableName::Customers, "dob"),
                ages_as_days(test, today),
            ),
            _ => (
                self.birthday_index(),
                days_until_as_month_days(test, as_of_day),
            ),
        };
        if candidates.len() < index.cost(&on_index) {
            let dob = ColumnReader::new(dob);
            return filter_rows(candidates, |row| {
                let value = dob.number(row).map(|day| {
                    let birth = date_from_days(day as i32);
                    match field {
                        DerivedField::Age => age_on(birth, today),
                        _ => days_until_birthday(day as i32, as_of_day),
                    }
                });
                test.number(value)
            });
        }
        index.select_within(&on_index, candidates)
    }

    /// Customers by birth month and day (`month * 32 + day`), built once.
    pub(super) fn birthday_index(&self) -> Arc<ColumnIndex> {
        self.birthdays
            .get_or_init(|| {
                let dob = ColumnReader::new(self.dataset.customers.column("dob").expect("checked"));
                let keys: Int64Array = (0..self.dataset.customer_count())
                    .map(|row| {
                        dob.number(row).map(|days| {
                            let date = date_from_days(days as i32);
                            month_day_key(date.month(), date.day())
                        })
                    })
                    .collect();
                Arc::new(ColumnIndex::of_values(keys, 1))
            })
            .clone()
    }
}

/// A test on "days since an instant" as a test on the instant: `as_of_day - day(t)` in
/// `low..=high` is `t` from the start of day `as_of_day - high` to the end of day
/// `as_of_day - low`.
pub(crate) fn days_since_as_instants(test: &Test, as_of_day: i32) -> Test {
    let Test::Ranges { ranges, negate } = test else {
        return test.clone();
    };
    let day = |d: i128| d * crate::data::value::MICROS_PER_DAY as i128;
    let clamp = |v: i128| v.clamp(i64::MIN as i128, i64::MAX as i128) as i64;
    let as_of = as_of_day as i128;
    let instants = ranges
        .iter()
        .map(|&(low, high)| {
            let first = if high == i64::MAX {
                i64::MIN
            } else {
                clamp(day(as_of - high as i128))
            };
            let last = if low == i64::MIN {
                i64::MAX
            } else {
                clamp(day(as_of - low as i128 + 1) - 1)
            };
            (first, last)
        })
        .collect();
    Test::Ranges {
        ranges: crate::segment::predicate::normalise(instants),
        negate: *negate,
    }
}

/// The birthday in `year`: 29 February falls on 28 February in other years.
pub(super) fn birthday_in(dob: NaiveDate, year: i32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, dob.month(), dob.day())
        .or_else(|| NaiveDate::from_ymd_opt(year, 2, 28))
        .expect("28 February exists")
}

pub(crate) fn days_until_birthday(dob_day: i32, as_of_day: i32) -> i64 {
    let dob = date_from_days(dob_day);
    let today = date_from_days(as_of_day);
    let mut next = birthday_in(dob, today.year());
    if next < today {
        next = birthday_in(dob, today.year() + 1);
    }
    (next - today).num_days()
}

/// The key of a birth month and day in the birthday index.
pub(super) fn month_day_key(month: u32, day: u32) -> i64 {
    (month * 32 + day) as i64
}

/// A test on days until the birthday as a test on birth month-days: those of the 366
/// (of a leap year, so that 29 February is one) whose next birthday passes it.
pub(super) fn days_until_as_month_days(test: &Test, as_of_day: i32) -> Test {
    if matches!(test, Test::IsNull | Test::IsNotNull) {
        return test.clone();
    }
    let passing = (1..=12u32)
        .flat_map(|month| (1..=31u32).map(move |day| (month, day)))
        .filter_map(|(month, day)| NaiveDate::from_ymd_opt(2000, month, day))
        .filter(|birth| {
            let until = days_until_birthday(crate::data::value::days_from_date(*birth), as_of_day);
            test.number(Some(until))
        })
        .map(|birth| {
            let key = month_day_key(birth.month(), birth.day());
            (key, key)
        })
        .collect();
    Test::Ranges {
        ranges: crate::segment::predicate::normalise(passing),
        negate: false,
    }
}

/// The age on `today` of someone born on `birth`.
pub(crate) fn age_on(birth: NaiveDate, today: NaiveDate) -> i64 {
    let had_birthday = birthday_in(birth, today.year()) <= today;
    (today.year() - birth.year()) as i64 - !had_birthday as i64
}

/// A test on age as a test on the birth day (days since the epoch): age falls as the birth
/// day rises, so each range of ages is one range of birth days, found by binary search.
pub(super) fn ages_as_days(test: &Test, today: NaiveDate) -> Test {
    let Test::Ranges { ranges, negate } = test else {
        return test.clone();
    };
    let first = crate::data::value::days_from_date(NaiveDate::MIN) as i64;
    let last = crate::data::value::days_from_date(NaiveDate::MAX) as i64;
    let age = |day: i64| age_on(date_from_days(day as i32), today);
    let days = ranges
        .iter()
        .filter_map(|&(low, high)| {
            // Born on or before `upto`: at least `low` years old; on or after `from`: at
            // most `high`.
            let upto = if low == i64::MIN {
                i64::MAX
            } else {
                last_where(first, last, |day| age(day) >= low)?
            };
            let from = if high == i64::MAX {
                i64::MIN
            } else {
                last_where(first, last, |day| age(day) > high).map_or(i64::MIN, |d| d + 1)
            };
            Some((from, upto))
        })
        .collect();
    Test::Ranges {
        ranges: crate::segment::predicate::normalise(days),
        negate: *negate,
    }
}

/// The last value of `first..=last` where `holds` (true up to a point, false after it).
pub(super) fn last_where(first: i64, last: i64, holds: impl Fn(i64) -> bool) -> Option<i64> {
    if !holds(first) {
        return None;
    }
    let (mut yes, mut no) = (first, last + 1);
    while no - yes > 1 {
        let middle = yes + (no - yes) / 2;
        if holds(middle) {
            yes = middle;
        } else {
            no = middle;
        }
    }
    Some(yes)
}
