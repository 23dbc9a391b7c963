//! Object keys. One object per hour of a partition, under the hour it holds:
//! `PREFIX/date=YYYY-MM-DD/hour=HH/part-PARTITION.parquet`. The key depends only on the
//! partition and the hour, so archiving the same hour again (after a restart, or because
//! rows were replayed into it) replaces the object instead of adding a duplicate, and
//! Hive-style `date=`/`hour=` components let query engines prune by time.

use flowvision_codec::time::civil_from_days;
use flowvision_schema::{DAY_MS, HOUR_MS};

/// The key of the hour starting at `hour_start_ms` of `partition`.
pub fn object_key(prefix: &str, partition: &str, hour_start_ms: i64) -> String {
    let (y, m, d) = civil_from_days(hour_start_ms.div_euclid(DAY_MS));
    let h = hour_start_ms.rem_euclid(DAY_MS) / HOUR_MS;
    format!("{prefix}/date={y:04}-{m:02}-{d:02}/hour={h:02}/part-{partition}.parquet")
}

/// The hours `[lo, hi)` covers, as their start times (`lo` and `hi` on hour bounds).
pub fn hours(lo_ms: i64, hi_ms: i64) -> impl Iterator<Item = i64> {
    let first = lo_ms.div_euclid(HOUR_MS) * HOUR_MS;
    (0..).map(move |i| first + i * HOUR_MS).take_while(move |h| *h < hi_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_the_hour() {
        // 2024-02-29T13:00:00Z
        let t = 1_709_211_600_000;
        assert_eq!(
            object_key("flows", "flows_h2024022913", t),
            "flows/date=2024-02-29/hour=13/part-flows_h2024022913.parquet"
        );
        let day = t - 13 * HOUR_MS;
        assert_eq!(hours(day, day + DAY_MS).count(), 24);
        assert_eq!(hours(t, t + HOUR_MS).collect::<Vec<_>>(), vec![t]);
    }
}
