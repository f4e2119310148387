use segmint::data::value::*;

#[test]
fn decimals_are_exact_units() {
    assert_eq!(parse_decimal("12.5"), Ok(125_000));
    assert_eq!(parse_decimal("-0.0001"), Ok(-1));
    assert_eq!(parse_decimal("3"), Ok(30_000));
    assert_eq!(parse_decimal(".5"), Ok(5_000));
    assert!(parse_decimal("1.23456").is_err());
    assert!(parse_decimal("1e3").is_err());
    assert!(parse_decimal("").is_err());
    assert!(parse_decimal("-").is_err());
    assert_eq!(format_decimal(-1), "-0.0001");
    assert_eq!(format_decimal(1_234_500), "123.4500");
}

#[test]
fn timestamps_accept_both_forms_and_reject_others() {
    let t = parse_timestamp("2026-03-01T10:00:00Z").unwrap();
    assert_eq!(parse_timestamp("2026-03-01T10:00:00"), Ok(t));
    assert_eq!(parse_timestamp("2026-03-01 10:00:00"), Ok(t));
    // RFC 3339 lets a space stand for the T, so Z after one is a timestamp too (issue 17).
    assert_eq!(parse_timestamp("2026-03-01 10:00:00Z"), Ok(t));
    assert!(parse_timestamp("2026-02-30T10:00:00").is_err());
    assert!(parse_timestamp("2026-03-01").is_err());
    assert_eq!(parse_timestamp("2026-03-01T10:00:00.5Z"), Ok(t + 500_000));
    assert_eq!(format_timestamp(t), "2026-03-01T10:00:00Z");
    assert_eq!(day_of_micros(-1), -1);
}

#[test]
fn dates_and_lists() {
    assert_eq!(parse_date("1970-01-02"), Ok(1));
    assert!(parse_date("1970-1-2").is_err());
    assert_eq!(format_date(parse_date("2024-02-29").unwrap()), "2024-02-29");
    assert_eq!(parse_id_list("3|17|240"), Ok(vec![3, 17, 240]));
    assert!(parse_id_list("3,17").is_err());
}

#[test]
fn timestamps_take_every_rfc_3339_form_as_its_utc_instant() {
    let t = parse_timestamp("2026-03-01T10:00:00Z").unwrap();
    assert_eq!(parse_timestamp("2026-03-01T10:00:00+00:00"), Ok(t));
    assert_eq!(parse_timestamp("2026-03-01T10:00:00-00:00"), Ok(t));
    assert_eq!(parse_timestamp("2026-03-01T15:30:00+05:30"), Ok(t));
    assert_eq!(parse_timestamp("2026-03-01t10:00:00z"), Ok(t));
    assert_eq!(
        parse_timestamp("2026-03-01T02:00:00.25-08:00"),
        Ok(t + 250_000)
    );
    // Past the microsecond, digits are cut.
    assert_eq!(
        parse_timestamp("2026-03-01T10:00:00.1234567891Z"),
        Ok(t + 123_456)
    );
    // A leap second is the last microsecond of its minute.
    assert_eq!(
        parse_timestamp("2016-12-31T23:59:60Z"),
        Ok(parse_timestamp("2017-01-01T00:00:00Z").unwrap() - 1)
    );
    for bad in [
        "2026-03-01T10:00:00+5:30",
        "2026-03-01T10:00:00+05",
        "2026-03-01T10:00:00+0530",
        "2026-03-01T10:00:00+24:00",
        "2026-03-01T10:00:00+05:60",
        "2026-03-01T10:00:00Z+01:00",
        "2026-03-01T10:00:00.Z",
        "2026-03-01T10:30:60Z",
    ] {
        assert!(parse_timestamp(bad).is_err(), "{bad} was taken");
    }
}

proptest::proptest! {
    /// Any instant written in RFC 3339 with any offset and fraction reads back as chrono
    /// reads it (an independent parser), cut to the microsecond.
    #[test]
    fn rfc_3339_timestamps_read_as_chrono_reads_them(
        seconds in 0i64..253_402_300_799,
        nanos in 0u32..1_000_000_000,
        offset_minutes in -(23 * 60 + 59)..=(23 * 60 + 59i32),
        digits in 0usize..10,
        separator in proptest::sample::select(vec!['T', 't', ' ']),
    ) {
        use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};
        let utc = DateTime::<Utc>::from_timestamp(seconds, nanos).unwrap();
        let offset = FixedOffset::east_opt(offset_minutes * 60).unwrap();
        let local = utc.with_timezone(&offset);
        let precision = match digits {
            0 => SecondsFormat::Secs,
            1..=3 => SecondsFormat::Millis,
            4..=6 => SecondsFormat::Micros,
            _ => SecondsFormat::Nanos,
        };
        let text = local.to_rfc3339_opts(precision, offset_minutes == 0);
        let text = text.replacen('T', &separator.to_string(), 1);
        // Local times past the year 9999 are outside RFC 3339.
        proptest::prop_assume!(text.as_bytes()[4] == b'-');
        let expected = DateTime::parse_from_rfc3339(&text.replacen(separator, "T", 1))
            .unwrap()
            .timestamp_micros();
        proptest::prop_assert_eq!(parse_timestamp(&text), Ok(expected), "{}", text);
    }
}
