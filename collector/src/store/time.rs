//! Calendar arithmetic in UTC without a time crate: partition bounds and names, and
//! PostgreSQL's binary timestamp encoding.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Milliseconds per minute, hour, day.
pub(crate) const MINUTE_MS: i64 = 60_000;
pub(crate) const HOUR_MS: i64 = 3_600_000;
pub(crate) const DAY_MS: i64 = 86_400_000;

/// Unix ms of PostgreSQL's epoch, 2000-01-01T00:00:00Z.
const PG_EPOCH_MS: i64 = 946_684_800_000;

/// Microseconds since 2000-01-01, PostgreSQL's binary `timestamptz`.
pub(crate) fn pg_micros(unix_ms: i64) -> i64 {
    unix_ms.saturating_sub(PG_EPOCH_MS).saturating_mul(1000)
}

/// Unix ms as a `SystemTime` (for binding `timestamptz` parameters).
pub(crate) fn system_time(unix_ms: i64) -> SystemTime {
    if unix_ms >= 0 {
        UNIX_EPOCH + Duration::from_millis(unix_ms.unsigned_abs())
    } else {
        UNIX_EPOCH - Duration::from_millis(unix_ms.unsigned_abs())
    }
}

/// `SystemTime` back to Unix ms.
pub(crate) fn unix_ms(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
    }
}

/// (year, month, day) of a day number (days since 1970-01-01); Hinnant's algorithm.
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
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

/// Day number of a civil date (inverse of [`civil_from_days`]).
pub(crate) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `YYYY-MM-DD HH:MM:SS+00`, a `timestamptz` literal.
pub(crate) fn sql_timestamp(ms: i64) -> String {
    let days = ms.div_euclid(DAY_MS);
    let sod = ms.rem_euclid(DAY_MS) / 1000;
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}+00", sod / 3600, (sod / 60) % 60, sod % 60)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;

    #[test]
    fn civil_round_trip() {
        for z in (-800_000..800_000).step_by(97) {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
        assert_eq!(days_from_civil(2024, 2, 29), 19_782);
        assert_eq!(sql_timestamp(1_709_208_000_123), "2024-02-29 12:00:00+00");
        assert_eq!(pg_micros(PG_EPOCH_MS + 1), 1000);
        assert_eq!(unix_ms(system_time(-5)), -5);
        assert_eq!(unix_ms(system_time(1_709_208_000_123)), 1_709_208_000_123);
    }
}
