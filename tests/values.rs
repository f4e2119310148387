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
    assert!(parse_timestamp("2026-03-01 10:00:00Z").is_err());
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
