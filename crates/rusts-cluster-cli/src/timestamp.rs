//! Timestamps on the command line: nanoseconds since the Unix epoch, as the
//! library takes them, or RFC 3339 text, as people write them.
//!
//! A hand-written parser rather than a date crate: the grammar is small
//! (RFC 3339 section 5.6), the range is that of an `i64` of nanoseconds
//! (1677 to 2262), and the date arithmetic is the days-from-civil formula
//! (H. Hinnant, "chrono-Compatible Low-Level Date Algorithms"), tested below
//! against known instants and by a round trip through [`format`] over every
//! `i64`.

/// The earliest and latest instants an `i64` of nanoseconds holds, as
/// [`format`] writes them.
const RANGE: &str = "1677-09-21T00:12:43.145224192Z to 2262-04-11T23:47:16.854775807Z";

const NANOS_PER_SECOND: i128 = 1_000_000_000;

/// Parses `text` as integer nanoseconds since the epoch or as an RFC 3339
/// timestamp (`2026-11-28T10:00:00Z`, `2026-11-28T11:00:00.25+01:00`).
///
/// The error names the value and shows both accepted forms.
pub(crate) fn parse_timestamp(text: &str) -> Result<i64, String> {
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse::<i64>().map_err(|_| {
            format!(
                "`{text}` is out of range: nanoseconds since the epoch must fit in an i64 \
                 ({} to {})",
                i64::MIN,
                i64::MAX
            )
        });
    }
    let nanos = parse_rfc3339(text.as_bytes()).map_err(|why| {
        format!(
            "`{text}` is not a timestamp: {why}; use nanoseconds since the epoch \
             (e.g. 1700000000000000000) or RFC 3339 (e.g. 2026-11-28T10:00:00Z)"
        )
    })?;
    i64::try_from(nanos).map_err(|_| {
        format!(
            "`{text}` is out of range: timestamps are nanoseconds since the epoch in an i64, \
             from {RANGE}"
        )
    })
}

/// Writes `nanos` as RFC 3339 in UTC, with as many fractional digits as it
/// needs (none for whole seconds).
pub(crate) fn format(nanos: i64) -> String {
    let nanos = i128::from(nanos);
    let seconds = nanos.div_euclid(NANOS_PER_SECOND) as i64;
    let fraction = nanos.rem_euclid(NANOS_PER_SECOND) as u32;
    let (days, second_of_day) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    let mut text = format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        second_of_day / 3600,
        second_of_day / 60 % 60,
        second_of_day % 60
    );
    if fraction != 0 {
        let digits = format!("{fraction:09}");
        text.push('.');
        text.push_str(digits.trim_end_matches('0'));
    }
    text.push('Z');
    text
}

/// `YYYY-MM-DD(T|t| )HH:MM:SS[.F+](Z|z|(+|-)HH:MM)` to nanoseconds since the
/// epoch, in an `i128` so that the range check is the caller's.
fn parse_rfc3339(b: &[u8]) -> Result<i128, String> {
    const SHAPE: &str = "expected YYYY-MM-DDTHH:MM:SS followed by Z or an offset like +01:00";
    let number = |at: usize, len: usize| -> Result<i64, String> {
        let field = b.get(at..at + len).ok_or(SHAPE)?;
        if !field.iter().all(u8::is_ascii_digit) {
            return Err(SHAPE.to_owned());
        }
        Ok(field.iter().fold(0, |n, d| n * 10 + i64::from(d - b'0')))
    };
    let byte = |at: usize, allowed: &[u8]| -> Result<u8, String> {
        b.get(at)
            .copied()
            .filter(|c| allowed.contains(c))
            .ok_or_else(|| SHAPE.to_owned())
    };
    let year = number(0, 4)?;
    byte(4, b"-")?;
    let month = number(5, 2)?;
    byte(7, b"-")?;
    let day = number(8, 2)?;
    byte(10, b"Tt ")?;
    let hour = number(11, 2)?;
    byte(13, b":")?;
    let minute = number(14, 2)?;
    byte(16, b":")?;
    let second = number(17, 2)?;
    let mut at = 19;
    let mut fraction: i128 = 0;
    if b.get(at) == Some(&b'.') {
        let digits = b[at + 1..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        if digits == 0 {
            return Err("a `.` must be followed by fractional seconds".to_owned());
        }
        if digits > 9 {
            return Err(format!(
                "{digits} fractional digits; at most 9 (nanoseconds) are kept, so write at most 9"
            ));
        }
        let value = number(at + 1, digits)?;
        fraction = i128::from(value) * 10_i128.pow(9 - digits as u32);
        at += 1 + digits;
    }
    let offset_seconds = match b.get(at) {
        Some(b'Z' | b'z') if b.len() == at + 1 => 0,
        Some(&sign @ (b'+' | b'-')) if b.len() == at + 6 => {
            let hours = number(at + 1, 2)?;
            byte(at + 3, b":")?;
            let minutes = number(at + 4, 2)?;
            if hours > 23 || minutes > 59 {
                return Err(format!(
                    "the offset {}{hours:02}:{minutes:02} is not a time zone offset (at most 23:59)",
                    sign as char
                ));
            }
            let seconds = hours * 3600 + minutes * 60;
            if sign == b'+' {
                seconds
            } else {
                -seconds
            }
        }
        _ => return Err(SHAPE.to_owned()),
    };
    if !(1..=12).contains(&month) {
        return Err(format!("month {month:02} does not exist (01 to 12)"));
    }
    let last_day = days_in_month(year, month);
    if !(1..=last_day).contains(&day) {
        return Err(format!(
            "day {day:02} does not exist in {year:04}-{month:02}, which has {last_day} days"
        ));
    }
    if hour > 23 || minute > 59 {
        return Err(format!("{hour:02}:{minute:02} is not a time of day"));
    }
    if second == 60 {
        return Err(
            "second 60 (a leap second) has no instant of its own in nanoseconds since the epoch"
                .to_owned(),
        );
    }
    if second > 59 {
        return Err(format!("second {second:02} does not exist (00 to 59)"));
    }
    let seconds = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second
        - offset_seconds;
    Ok(i128::from(seconds) * NANOS_PER_SECOND + fraction)
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The proleptic Gregorian date `days` after 1970-01-01.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn integers_are_nanoseconds() {
        assert_eq!(parse_timestamp("0"), Ok(0));
        assert_eq!(parse_timestamp("-5"), Ok(-5));
        assert_eq!(parse_timestamp("+5"), Ok(5));
        assert_eq!(
            parse_timestamp("1700000000000000000"),
            Ok(1_700_000_000_000_000_000)
        );
        let err = parse_timestamp("9223372036854775808").unwrap_err();
        assert!(
            err.starts_with("`9223372036854775808` is out of range"),
            "{err}"
        );
    }

    #[test]
    fn rfc3339_instants_match_known_epoch_values() {
        let cases = [
            ("1970-01-01T00:00:00Z", 0),
            ("2023-11-14T22:13:20Z", 1_700_000_000_000_000_000),
            ("2023-11-14t22:13:20z", 1_700_000_000_000_000_000),
            ("2023-11-14 22:13:20Z", 1_700_000_000_000_000_000),
            ("2023-11-14T23:13:20+01:00", 1_700_000_000_000_000_000),
            ("2023-11-14T17:43:20-04:30", 1_700_000_000_000_000_000),
            ("2023-11-14T22:13:20-00:00", 1_700_000_000_000_000_000),
            ("2023-11-14T22:13:20.5Z", 1_700_000_000_500_000_000),
            ("2023-11-14T22:13:20.000000001Z", 1_700_000_000_000_000_001),
            ("1969-12-31T23:59:59.999999999Z", -1),
            ("2000-02-29T00:00:00Z", 951_782_400_000_000_000),
            ("2026-11-28T10:00:00Z", 1_795_860_000_000_000_000),
            ("1677-09-21T00:12:43.145224192Z", i64::MIN),
            ("2262-04-11T23:47:16.854775807Z", i64::MAX),
        ];
        for (text, nanos) in cases {
            assert_eq!(parse_timestamp(text), Ok(nanos), "{text}");
        }
    }

    #[test]
    fn bad_dates_name_the_value_and_the_reason() {
        let cases = [
            ("2262-04-11T23:47:16.854775808Z", "out of range"),
            ("1677-09-21T00:12:43.145224191Z", "out of range"),
            ("9999-12-31T23:59:59Z", "out of range"),
            ("2023-02-29T00:00:00Z", "day 29 does not exist in 2023-02"),
            ("1900-02-29T00:00:00Z", "day 29 does not exist in 1900-02"),
            ("2024-13-01T00:00:00Z", "month 13"),
            ("2024-04-31T00:00:00Z", "day 31"),
            ("2024-01-01T24:00:00Z", "24:00 is not a time of day"),
            ("2024-01-01T23:59:60Z", "leap second"),
            ("2024-01-01T00:00:00", "expected YYYY-MM-DD"),
            ("2024-01-01T00:00:00+0100", "expected YYYY-MM-DD"),
            ("2024-01-01T00:00:00+24:00", "offset +24:00"),
            ("2024-01-01T00:00:00.Z", "fractional seconds"),
            ("2024-01-01T00:00:00.1234567891Z", "10 fractional digits"),
            ("2024-1-01T00:00:00Z", "expected YYYY-MM-DD"),
            ("2024-01-01T00:00:00Zjunk", "expected YYYY-MM-DD"),
            ("yesterday", "expected YYYY-MM-DD"),
            ("", "expected YYYY-MM-DD"),
            ("-", "expected YYYY-MM-DD"),
            ("２０２４-01-01T00:00:00Z", "expected YYYY-MM-DD"),
        ];
        for (text, why) in cases {
            let err = parse_timestamp(text).unwrap_err();
            assert!(err.starts_with(&format!("`{text}`")), "{err}");
            assert!(err.contains(why), "{text}: {err}");
        }
    }

    #[test]
    fn format_writes_utc_with_the_digits_needed() {
        assert_eq!(format(0), "1970-01-01T00:00:00Z");
        assert_eq!(format(-1), "1969-12-31T23:59:59.999999999Z");
        assert_eq!(format(1_700_000_000_500_000_000), "2023-11-14T22:13:20.5Z");
        assert_eq!(format(i64::MIN), "1677-09-21T00:12:43.145224192Z");
        assert_eq!(format(i64::MAX), "2262-04-11T23:47:16.854775807Z");
    }

    #[test]
    fn every_day_of_four_centuries_round_trips() {
        // 400 years are one full cycle of the Gregorian calendar.
        for days in -73_048..73_048 {
            let (y, m, d) = civil_from_days(days);
            assert!((1..=days_in_month(y, m)).contains(&d));
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
    }

    proptest! {
        #[test]
        fn prop_format_then_parse_is_identity(nanos in any::<i64>()) {
            prop_assert_eq!(parse_timestamp(&format(nanos)), Ok(nanos));
        }

        #[test]
        fn prop_parse_never_panics(text in "\\PC{0,40}") {
            let _ = parse_timestamp(&text);
        }
    }
}
