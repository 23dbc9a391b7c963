//! Calendar arithmetic in UTC without a time crate: day numbers to and from civil
//! (proleptic Gregorian) dates, and the RFC 3339 form of flow times.
//!
//! The one copy for the workspace: the codec formats flow times with it, the store
//! names its daily partitions with it and the simulator parses its start time with it.
//! The algorithms are Howard Hinnant's `days_from_civil` / `civil_from_days`
//! (<https://howardhinnant.github.io/date_algorithms.html>), exact for every `i64`
//! day number a millisecond timestamp can give.

use std::fmt;

/// Milliseconds per day.
const DAY_MS: i64 = 86_400_000;

/// `(year, month 1-12, day 1-31)` of a day number (days since 1970-01-01).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Day number (days since 1970-01-01) of a civil date; inverse of
/// [`civil_from_days`]. `month` is 1-12; a day past the month's end counts on into
/// the next month, as `mktime` does.
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Milliseconds since the Unix epoch, displayed as RFC 3339 UTC with millisecond
/// precision (`2024-02-29T12:00:00.123Z`). Writing it with `write!` allocates
/// nothing, which the JSON record writer relies on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rfc3339Ms(pub i64);

impl fmt::Display for Rfc3339Ms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0;
        let (y, m, d) = civil_from_days(ms.div_euclid(DAY_MS));
        let ms_of_day = ms.rem_euclid(DAY_MS);
        let (sod, millis) = (ms_of_day / 1000, ms_of_day % 1000);
        write!(
            f,
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
            sod / 3600,
            (sod / 60) % 60,
            sod % 60
        )
    }
}

/// Formats milliseconds since the epoch as RFC 3339 UTC with millisecond precision,
/// e.g. `2024-02-29T12:00:00.123Z`.
pub fn format_rfc3339_ms(ms: i64) -> String {
    Rfc3339Ms(ms).to_string()
}

/// Unix ms as a `SystemTime` (for binding `timestamptz` parameters).
pub fn system_time(unix_ms: i64) -> std::time::SystemTime {
    use std::time::{Duration, UNIX_EPOCH};
    if unix_ms >= 0 {
        UNIX_EPOCH + Duration::from_millis(unix_ms.unsigned_abs())
    } else {
        UNIX_EPOCH - Duration::from_millis(unix_ms.unsigned_abs())
    }
}

/// A `SystemTime` as Unix microseconds (negative before 1970, saturating).
pub fn unix_micros(t: std::time::SystemTime) -> i64 {
    match t.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_micros()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_micros()).unwrap_or(i64::MAX),
    }
}

/// A `SystemTime` as Unix ms (negative before 1970, saturating).
pub fn unix_ms(t: std::time::SystemTime) -> i64 {
    match t.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
    }
}

/// Parses an RFC 3339 time (`2024-02-29T12:00:00Z`, fractional seconds and a
/// `±HH:MM` offset allowed, `T` or a space between date and time), or a bare date
/// (`2024-02-29`, midnight UTC), as milliseconds since the epoch. `None` when it is
/// not one.
pub fn parse_rfc3339_ms(s: &str) -> Option<i64> {
    let s = s.trim();
    let num = |t: &str| -> Option<i64> {
        if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        t.parse().ok()
    };
    let date = s.get(..10)?;
    let (y, m, d) = (num(date.get(..4)?)?, num(date.get(5..7)?)?, num(date.get(8..10)?)?);
    if date.get(4..5)? != "-" || date.get(7..8)? != "-" || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let days = days_from_civil(y, m as u32, d as u32);
    if civil_from_days(days) != (y, m as u32, d as u32) {
        return None;
    }
    let rest = s.get(10..)?;
    if rest.is_empty() {
        return Some(days * 86_400_000);
    }
    let rest = rest.strip_prefix(['T', 't', ' '])?;
    let (hh, mm, ss) = (num(rest.get(..2)?)?, num(rest.get(3..5)?)?, num(rest.get(6..8)?)?);
    if rest.get(2..3)? != ":" || rest.get(5..6)? != ":" || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    let mut tail = rest.get(8..)?;
    let mut millis = 0;
    if let Some(frac) = tail.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        let f = frac.get(..digits)?;
        if f.is_empty() {
            return None;
        }
        millis = num(&format!("{:0<3}", f.get(..digits.min(3))?))?;
        tail = frac.get(digits..)?;
    }
    let offset_min = match tail {
        "Z" | "z" => 0,
        _ => {
            let sign = match tail.get(..1)? {
                "+" => 1,
                "-" => -1,
                _ => return None,
            };
            let (oh, om) = (num(tail.get(1..3)?)?, num(tail.get(4..6)?)?);
            if tail.len() != 6 || tail.get(3..4)? != ":" || oh > 23 || om > 59 {
                return None;
            }
            sign * (oh * 60 + om)
        }
    };
    Some(days * 86_400_000 + ((hh * 60 + mm - offset_min) * 60 + ss) * 1000 + millis)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;

    fn is_leap(y: i64) -> bool {
        (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
    }

    #[test]
    fn parses_what_it_formats_and_common_forms() {
        for ms in [0, 1_709_208_000_123, -86_400_000, 4_102_444_799_999] {
            assert_eq!(parse_rfc3339_ms(&format_rfc3339_ms(ms)), Some(ms));
        }
        assert_eq!(parse_rfc3339_ms("2024-02-29"), Some(1_709_164_800_000));
        assert_eq!(parse_rfc3339_ms("2024-02-29 12:00:00+01:00"), Some(1_709_204_400_000));
        assert_eq!(parse_rfc3339_ms("2024-02-29T12:00:00.5Z"), Some(1_709_208_000_500));
        for bad in [
            "",
            "2024-02-30",
            "2024-13-01",
            "2024-02-29T25:00:00Z",
            "2024-02-29T12:00:00",
            "x",
            "2024-02-29T12:00:00.Z",
            "２０２４",
        ] {
            assert_eq!(parse_rfc3339_ms(bad), None, "{bad}");
        }
    }

    #[test]
    fn round_trip_over_a_wide_range() {
        // About +-2,200 years around the epoch, every 97th day, plus the far ends of
        // what a millisecond timestamp can reach.
        for z in (-800_000..800_000).step_by(97) {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z, "{y}-{m}-{d}");
        }
        for z in [i64::MIN / DAY_MS, i64::MAX / DAY_MS, -1, 0, 1] {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
    }

    #[test]
    fn consecutive_days_walk_the_calendar() {
        // Day by day from 1599-12-31 to 2401-01-01: each step is the next calendar
        // day, months have their lengths and February 29 exists only in leap years.
        let start = days_from_civil(1599, 12, 31);
        let mut prev = civil_from_days(start);
        for z in start + 1..=days_from_civil(2401, 1, 1) {
            let (y, m, d) = civil_from_days(z);
            let (py, pm, pd) = prev;
            if d == 1 {
                let month_len = match pm {
                    2 if is_leap(py) => 29,
                    2 => 28,
                    4 | 6 | 9 | 11 => 30,
                    _ => 31,
                };
                assert_eq!(pd, month_len, "{py}-{pm} ends on day {pd}");
                assert_eq!((y, m), if pm == 12 { (py + 1, 1) } else { (py, pm + 1) });
            } else {
                assert_eq!((y, m, d), (py, pm, pd + 1));
            }
            prev = (y, m, d);
        }
    }

    #[test]
    fn known_dates_and_leap_years() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2024, 2, 29), 19_782);
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        // 2000 is a leap year (divisible by 400), 1900 and 2100 are not.
        assert_eq!(civil_from_days(days_from_civil(2000, 2, 28) + 1), (2000, 2, 29));
        assert_eq!(civil_from_days(days_from_civil(1900, 2, 28) + 1), (1900, 3, 1));
        assert_eq!(civil_from_days(days_from_civil(2100, 2, 28) + 1), (2100, 3, 1));
        assert_eq!(days_from_civil(2001, 1, 1) - days_from_civil(2000, 1, 1), 366);
        assert_eq!(days_from_civil(2101, 1, 1) - days_from_civil(2100, 1, 1), 365);
    }

    #[test]
    fn rfc3339() {
        assert_eq!(format_rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_rfc3339_ms(1_709_208_000_123), "2024-02-29T12:00:00.123Z");
        assert_eq!(format_rfc3339_ms(-1), "1969-12-31T23:59:59.999Z");
        assert_eq!(format_rfc3339_ms(951_868_799_999), "2000-02-29T23:59:59.999Z");
        assert_eq!(Rfc3339Ms(86_399_000).to_string(), "1970-01-01T23:59:59.000Z");
    }
}
