//! The tables partitioned by time and the names of their partitions.
//!
//! Partition names encode their range, so nobody needs to parse the catalog's
//! bounds: `<parent>_hYYYYMMDDHH` (one hour), `<parent>_dYYYYMMDD` (one UTC day) and
//! `<parent>_wYYYYMMDD` (seven days from a Monday). Ranges are aligned ([`Span::start`]),
//! so a day holds whole hours and a week whole days. The collector creates and drops
//! them (`collector/src/store/partitions.rs`); there is no DEFAULT partition (see
//! `migrations/0001_flows.sql`).
//!
//! The date in a name is a civil UTC date; turning a time into one is the caller's
//! calendar arithmetic, so this module only formats and parses the text.

use crate::rollup::Rollup;
use crate::tables;
use crate::{DAY_MS, HOUR_MS};

/// Length of a partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Span {
    /// One hour.
    Hour,
    /// One UTC day.
    Day,
    /// Seven days starting on a Monday, 00:00 UTC.
    Week,
}

impl Span {
    /// Start of the span containing `ms` (Unix milliseconds).
    pub const fn start(self, ms: i64) -> i64 {
        match self {
            Span::Hour => ms.div_euclid(HOUR_MS) * HOUR_MS,
            Span::Day => ms.div_euclid(DAY_MS) * DAY_MS,
            Span::Week => {
                // 1970-01-01 was a Thursday: day + 3 counts from the Monday before.
                let day = ms.div_euclid(DAY_MS);
                (day - (day + 3).rem_euclid(7)) * DAY_MS
            }
        }
    }

    /// Length in milliseconds.
    pub const fn len_ms(self) -> i64 {
        match self {
            Span::Hour => HOUR_MS,
            Span::Day => DAY_MS,
            Span::Week => 7 * DAY_MS,
        }
    }

    /// The letter after the parent's name: `h`, `d`, `w`.
    pub const fn letter(self) -> char {
        match self {
            Span::Hour => 'h',
            Span::Day => 'd',
            Span::Week => 'w',
        }
    }
}

/// Which retention and spans a partitioned table follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// `flows`: hourly or daily partitions, the flow retention.
    Flows,
    /// 1-minute tables: daily partitions, the 1-minute retention.
    Minute,
    /// 1-hour tables: weekly partitions, the 1-hour retention.
    Hour,
}

/// Every table partitioned by time, with its family.
pub const PARTITIONED: &[(&str, Family)] = &[
    (tables::FLOWS, Family::Flows),
    (Rollup::Exporter.minute(), Family::Minute),
    (Rollup::Interface.minute(), Family::Minute),
    (Rollup::Protocol.minute(), Family::Minute),
    (Rollup::Service.minute(), Family::Minute),
    (Rollup::As.minute(), Family::Minute),
    (Rollup::Talker.minute(), Family::Minute),
    (tables::EXPORTER_STATS_1M, Family::Minute),
    (tables::HOST_FEATURES, Family::Minute),
    (tables::HOST_BEACONS, Family::Minute),
    (Rollup::Exporter.hour(), Family::Hour),
    (Rollup::Interface.hour(), Family::Hour),
    (Rollup::Protocol.hour(), Family::Hour),
    (Rollup::Service.hour(), Family::Hour),
    (Rollup::As.hour(), Family::Hour),
    (Rollup::Talker.hour(), Family::Hour),
];

/// Where a partition starts, as its name writes it: a UTC civil date and, for
/// hourly partitions, the hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionStart {
    /// Length of the partition.
    pub span: Span,
    /// Year.
    pub year: i64,
    /// Month, 1-12.
    pub month: u32,
    /// Day of the month, 1-31.
    pub day: u32,
    /// Hour, 0-23 (0 for daily and weekly partitions).
    pub hour: u32,
}

/// The name of `parent`'s partition starting at `start`.
pub fn partition_name(parent: &str, start: &PartitionStart) -> String {
    let PartitionStart { span, year: y, month: m, day: d, hour: h } = *start;
    match span {
        Span::Hour => format!("{parent}_h{y:04}{m:02}{d:02}{h:02}"),
        Span::Day | Span::Week => format!("{parent}_{}{y:04}{m:02}{d:02}", span.letter()),
    }
}

/// The start written in a name made by [`partition_name`] for `parent`; `None` for
/// other names (out-of-range fields included; whether the date exists and a week
/// starts on a Monday is the caller's calendar's to check).
pub fn parse_partition_name(parent: &str, name: &str) -> Option<PartitionStart> {
    let rest = name.strip_prefix(parent)?.strip_prefix('_')?;
    let mut chars = rest.chars();
    let span = match chars.next()? {
        'h' => Span::Hour,
        'd' => Span::Day,
        'w' => Span::Week,
        _ => return None,
    };
    let digits = chars.as_str();
    let want = if span == Span::Hour { 10 } else { 8 };
    if digits.len() != want || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let num = |a: usize, b: usize| digits.get(a..b).and_then(|s| s.parse::<u32>().ok());
    let (year, month, day) = (num(0, 4)?, num(4, 6)?, num(6, 8)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let hour = if span == Span::Hour { num(8, 10)? } else { 0 };
    if hour > 23 {
        return None;
    }
    Some(PartitionStart { span, year: i64::from(year), month, day, hour })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;

    #[test]
    fn names_round_trip() {
        let s = PartitionStart { span: Span::Hour, year: 2024, month: 2, day: 29, hour: 12 };
        assert_eq!(partition_name("flows", &s), "flows_h2024022912");
        assert_eq!(parse_partition_name("flows", "flows_h2024022912"), Some(s));
        let w = PartitionStart { span: Span::Week, hour: 0, day: 26, ..s };
        assert_eq!(partition_name("x", &w), "x_w20240226");
        assert_eq!(parse_partition_name("x", "x_w20240226"), Some(w));
        assert!(parse_partition_name("flows", "flows_default").is_none());
        assert!(parse_partition_name("flows", "flows_h2024022924").is_none());
        assert!(parse_partition_name("rollup_as_1m", "flows_d20240229").is_none());
    }

    #[test]
    fn spans_align() {
        let t = 1_709_208_000_123; // 2024-02-29T12:00:00.123Z, a Thursday
        for span in [Span::Hour, Span::Day, Span::Week] {
            let lo = span.start(t);
            assert!(lo <= t && t < lo + span.len_ms());
        }
        // The Monday before: 2024-02-26.
        assert_eq!(Span::Week.start(t), 1_708_905_600_000);
    }

    #[test]
    fn partitioned_tables_are_named() {
        assert!(PARTITIONED.iter().all(|(t, _)| !t.is_empty()));
        assert_eq!(PARTITIONED.len(), 16);
    }
}
