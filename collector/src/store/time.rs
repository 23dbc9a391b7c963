//! Time for the store: partition bounds and names, SQL timestamp literals and
//! PostgreSQL's binary timestamp encoding. The civil-date arithmetic itself is the
//! codec's ([`flowvision_codec::time`]).

pub(crate) use flowvision_codec::time::{civil_from_days, days_from_civil, system_time, unix_ms};

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
