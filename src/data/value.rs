//! Text forms of the data model's scalar types: strict parsers (CSV cells, JSON values) and
//! the matching formatters. Money is `i64` units of 1/10000, dates are days since the epoch,
//! timestamps are microseconds since the epoch, all UTC.

use chrono::{DateTime, NaiveDate, Timelike, Utc};

/// 1 unit of money = 1/10000.
pub const DECIMAL_SCALE: i64 = 10_000;
pub const MICROS_PER_SECOND: i64 = 1_000_000;
pub const MICROS_PER_DAY: i64 = 86_400 * MICROS_PER_SECOND;

pub fn parse_int(text: &str) -> Result<i64, String> {
    text.parse::<i64>()
        .map_err(|_| format!("{text:?} is not an integer"))
}

/// `-12.5`, `3`, `0.0001`: at most 4 fraction digits, no exponent.
pub fn parse_decimal(text: &str) -> Result<i64, String> {
    let bad = || format!("{text:?} is not a decimal with at most 4 fraction digits");
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let (whole, fraction) = match digits.split_once('.') {
        Some((w, f)) => (w, f),
        None => (digits, ""),
    };
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (whole.is_empty() && fraction.is_empty()) || !all_digits(whole) || !all_digits(fraction) {
        return Err(bad());
    }
    if fraction.len() > 4 {
        return Err(format!(
            "{text:?} has more than 4 fraction digits (decimals are exact to 1/10000)"
        ));
    }
    let mut units: i64 = 0;
    for b in whole.bytes() {
        units = units
            .checked_mul(10)
            .and_then(|u| u.checked_add(i64::from(b - b'0')))
            .ok_or_else(|| format!("{text:?} is too large for a decimal"))?;
    }
    let mut fraction_units: i64 = 0;
    for b in fraction.bytes().chain(std::iter::repeat(b'0')).take(4) {
        fraction_units = fraction_units * 10 + i64::from(b - b'0');
    }
    let units = units
        .checked_mul(DECIMAL_SCALE)
        .and_then(|u| u.checked_add(fraction_units))
        .ok_or_else(|| format!("{text:?} is too large for a decimal"))?;
    Ok(if negative { -units } else { units })
}

/// A float (Parquet float64 money, JSON numbers) to exact units, rounding to the nearest unit.
pub fn decimal_from_f64(value: f64) -> Result<i64, String> {
    let units = (value * DECIMAL_SCALE as f64).round();
    if !units.is_finite() || units.abs() >= 9.2e18 {
        return Err(format!("{value} is not a finite decimal in range"));
    }
    Ok(units as i64)
}

pub fn parse_bool(text: &str) -> Result<bool, String> {
    match text {
        "true" | "TRUE" | "True" | "1" => Ok(true),
        "false" | "FALSE" | "False" | "0" => Ok(false),
        _ => Err(format!("{text:?} is not a bool (true, false, 1 or 0)")),
    }
}

fn two_digits(b: &[u8]) -> Option<u32> {
    match b {
        [a, c] if a.is_ascii_digit() && c.is_ascii_digit() => {
            Some(u32::from(a - b'0') * 10 + u32::from(c - b'0'))
        }
        _ => None,
    }
}

fn date_parts(b: &[u8]) -> Option<NaiveDate> {
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' || !b[..4].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let year = b[..4]
        .iter()
        .fold(0i32, |y, d| y * 10 + i32::from(d - b'0'));
    NaiveDate::from_ymd_opt(year, two_digits(&b[5..7])?, two_digits(&b[8..10])?)
}

pub fn days_from_date(date: NaiveDate) -> i32 {
    (date - NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch")).num_days() as i32
}

pub fn date_from_days(days: i32) -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch") + chrono::Duration::days(i64::from(days))
}

/// `YYYY-MM-DD` to days since the epoch.
pub fn parse_date(text: &str) -> Result<i32, String> {
    date_parts(text.as_bytes())
        .map(days_from_date)
        .ok_or_else(|| format!("{text:?} is not a date (YYYY-MM-DD)"))
}

/// A timestamp to microseconds since the epoch (UTC): `YYYY-MM-DDTHH:MM:SS[.fff…]` followed
/// by nothing (UTC), `Z` or an offset `±HH:MM` — every RFC 3339 form, `t`, `z` and a space
/// for the `T` included. An offset gives the UTC instant it names; a leap second (`:60`)
/// is the last microsecond of its minute, as instants here have no room for it.
pub fn parse_timestamp(text: &str) -> Result<i64, String> {
    parse_timestamp_parts(text.as_bytes()).ok_or_else(|| {
        format!(
            "{text:?} is not a timestamp (YYYY-MM-DDTHH:MM:SS with an optional fraction, then Z, an offset such as +05:30, or nothing for UTC)"
        )
    })
}

fn parse_timestamp_parts(b: &[u8]) -> Option<i64> {
    if b.len() < 19 || !matches!(b[10], b'T' | b't' | b' ') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let date = date_parts(&b[..10])?;
    let (hour, minute, mut second) = (
        two_digits(&b[11..13])?,
        two_digits(&b[14..16])?,
        two_digits(&b[17..19])?,
    );
    let mut rest = &b[19..];
    let mut micros = 0i64;
    if let [b'.', fraction @ ..] = rest {
        let digits = fraction.iter().take_while(|d| d.is_ascii_digit()).count();
        if digits == 0 {
            return None;
        }
        // Digits past the microsecond are cut, not rounded: an instant never moves later.
        for d in &fraction[..digits.min(6)] {
            micros = micros * 10 + i64::from(d - b'0');
        }
        for _ in digits..6 {
            micros *= 10;
        }
        rest = &fraction[digits..];
    }
    let offset_seconds = match rest {
        [] | [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), hh @ .., b':', m1, m2] if hh.len() == 2 => {
            let (hours, minutes) = (two_digits(hh)?, two_digits(&[*m1, *m2])?);
            if hours > 23 || minutes > 59 {
                return None;
            }
            let seconds = i64::from(hours * 3600 + minutes * 60);
            if *sign == b'-' { -seconds } else { seconds }
        }
        _ => return None,
    };
    if second == 60 && minute == 59 {
        second = 59;
        micros = MICROS_PER_SECOND - 1;
    }
    let time = date.and_hms_opt(hour, minute, second)?;
    let local = time.and_utc().timestamp() * MICROS_PER_SECOND + micros;
    Some(local - offset_seconds * MICROS_PER_SECOND)
}

/// `3|17|240` (an empty text is the empty list; CSV nulls are handled before this).
pub fn parse_id_list(text: &str) -> Result<Vec<i64>, String> {
    if text.is_empty() {
        return Ok(Vec::new());
    }
    text.split('|')
        .map(|part| {
            part.trim()
                .parse::<i64>()
                .map_err(|_| format!("{text:?} is not a list of ids joined by '|'"))
        })
        .collect()
}

pub fn format_decimal(units: i64) -> String {
    let sign = if units < 0 { "-" } else { "" };
    let abs = units.unsigned_abs();
    let scale = DECIMAL_SCALE as u64;
    format!("{sign}{}.{:04}", abs / scale, abs % scale)
}

pub fn format_date(days: i32) -> String {
    date_from_days(days).format("%Y-%m-%d").to_string()
}

pub fn datetime_from_micros(micros: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_micros(micros)
}

pub fn format_timestamp(micros: i64) -> String {
    match datetime_from_micros(micros) {
        Some(t) if t.nanosecond() == 0 => t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        Some(t) => t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
        None => micros.to_string(),
    }
}

/// Whole UTC days since the epoch of a timestamp (floor, also before 1970).
pub fn day_of_micros(micros: i64) -> i32 {
    micros.div_euclid(MICROS_PER_DAY) as i32
}

/// Parses a timestamp in the forms above or a date (its first instant), for `--as-of`.
pub fn parse_instant(text: &str) -> Result<i64, String> {
    if let Ok(micros) = parse_timestamp(text) {
        return Ok(micros);
    }
    if let Ok(days) = parse_date(text) {
        return Ok(i64::from(days) * MICROS_PER_DAY);
    }
    Err(format!(
        "{text:?} is not a timestamp (e.g. 2026-11-24T10:00:00Z) or a date (YYYY-MM-DD)"
    ))
}
