//! Time windows of dashboards and the rollup resolution they read.

use super::{DataError, DataResult};
use time::{Duration, OffsetDateTime};

/// Which rollup tables a window reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// `rollup_*_1m`: windows up to 6 hours.
    Minute,
    /// `rollup_*_1h`: longer windows (up to 7 days).
    Hour,
}

impl Resolution {
    /// The table-name suffix (a closed set: safe to format into SQL).
    pub fn suffix(self) -> &'static str {
        match self {
            Resolution::Minute => "1m",
            Resolution::Hour => "1h",
        }
    }

    /// Bucket length in seconds.
    pub fn step_seconds(self) -> i64 {
        match self {
            Resolution::Minute => 60,
            Resolution::Hour => 3600,
        }
    }
}

/// The range presets of the time-range picker.
pub const PRESETS: &[(&str, i64)] =
    &[("5m", 300), ("15m", 900), ("1h", 3600), ("6h", 6 * 3600), ("24h", 86_400), ("7d", 7 * 86_400)];

/// The longest window (the rollups' and the picker's limit).
pub const MAX_SPAN_SECONDS: i64 = 7 * 86_400;
/// Windows up to this long read the 1-minute rollups.
pub const MINUTE_MAX_SECONDS: i64 = 6 * 3600;

/// A dashboard window: `[from, to)`, widened at the start to whole buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Start (aligned to the resolution's bucket).
    pub from: OffsetDateTime,
    /// End (exclusive).
    pub to: OffsetDateTime,
    /// The rollups read.
    pub resolution: Resolution,
}

impl Window {
    /// The window of a preset name ending at `now`.
    pub fn preset(name: &str, now: OffsetDateTime) -> Option<Window> {
        let secs = PRESETS.iter().find(|(n, _)| *n == name)?.1;
        Window::span(now - Duration::seconds(secs), now).ok()
    }

    /// A custom window; 1 minute to 7 days long.
    pub fn span(from: OffsetDateTime, to: OffsetDateTime) -> DataResult<Window> {
        let secs = (to - from).whole_seconds();
        if secs < 60 {
            return Err(DataError::Invalid("the time range must be at least one minute long".into()));
        }
        if secs > MAX_SPAN_SECONDS {
            return Err(DataError::Invalid("the time range may be at most 7 days long".into()));
        }
        let resolution = if secs <= MINUTE_MAX_SECONDS { Resolution::Minute } else { Resolution::Hour };
        Ok(Window { from: truncate(from, resolution.step_seconds()), to, resolution })
    }

    /// Length in seconds (for rates), at least one bucket.
    pub fn seconds(&self) -> f64 {
        ((self.to - self.from).whole_milliseconds() as f64 / 1000.0)
            .max(self.resolution.step_seconds() as f64)
    }

    /// Every bucket start of the window (for zero-filled series).
    pub fn buckets(&self) -> Vec<OffsetDateTime> {
        let step = Duration::seconds(self.resolution.step_seconds());
        let mut out = Vec::new();
        let mut t = self.from;
        while t < self.to && out.len() < 20_000 {
            out.push(t);
            t += step;
        }
        out
    }
}

/// `t` truncated to a multiple of `step` seconds since the Unix epoch (UTC).
pub fn truncate(t: OffsetDateTime, step: i64) -> OffsetDateTime {
    let s = t.unix_timestamp();
    OffsetDateTime::from_unix_timestamp(s - s.rem_euclid(step.max(1))).unwrap_or(t)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;

    #[test]
    fn presets_pick_resolution() {
        let now = OffsetDateTime::from_unix_timestamp(1_700_000_123).unwrap();
        let w = Window::preset("5m", now).unwrap();
        assert_eq!(w.resolution, Resolution::Minute);
        assert_eq!(w.from.unix_timestamp() % 60, 0);
        assert_eq!(w.buckets().len(), 6);
        assert_eq!(Window::preset("6h", now).unwrap().resolution, Resolution::Minute);
        let d = Window::preset("24h", now).unwrap();
        assert_eq!(d.resolution, Resolution::Hour);
        assert_eq!(d.buckets().len(), 25);
        assert_eq!(Window::preset("7d", now).unwrap().buckets().len(), 169);
        assert!(Window::preset("8d", now).is_none());
        assert!(Window::span(now, now).is_err());
        assert!(Window::span(now - Duration::days(8), now).is_err());
    }
}
