//! Time windows of dashboards and the rollup resolution they read.

use super::{DataError, DataResult};
use flowvision_schema::Rollup;
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
    /// The rollup tier read.
    pub fn tier(self) -> Tier {
        match self {
            Resolution::Minute => Tier::Minute,
            Resolution::Hour => Tier::Hour,
        }
    }

    /// The table-name suffix (a closed set: safe to format into SQL).
    pub fn suffix(self) -> &'static str {
        self.tier().suffix()
    }

    /// The table of `rollup` at this resolution (every rollup has both).
    pub fn table(self, rollup: Rollup) -> &'static str {
        match self {
            Resolution::Minute => rollup.minute(),
            Resolution::Hour => rollup.hour(),
        }
    }

    /// Bucket length in seconds.
    pub fn step_seconds(self) -> i64 {
        self.tier().step_seconds()
    }
}

/// A rollup tier (`_1m`, `_1h`, `_1d`): the schema's.
pub use flowvision_schema::Tier;

/// A stretch of a window read from one tier: buckets starting in `[from, to)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    /// The tier read.
    pub tier: Tier,
    /// First bucket start.
    pub from: OffsetDateTime,
    /// End of the last bucket.
    pub to: OffsetDateTime,
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

    /// The window split into the coarsest buckets that lie inside it: whole days
    /// (within `days`, the range where the daily tier is built), then whole hours,
    /// then minutes at the edges, never finer than the window's own resolution. A
    /// top-N table over the segments sums the same flows as one over the window's
    /// resolution, from far fewer rows. When the window ends within the last minute
    /// (a preset ending "now"), the newest hour bucket counts as inside it: it holds
    /// data only up to now.
    pub fn segments(
        &self,
        now: OffsetDateTime,
        days: Option<(OffsetDateTime, OffsetDateTime)>,
    ) -> Vec<Segment> {
        let open_end = self.to.checked_add(Duration::minutes(1)).map_or(true, |e| e >= now);
        // An hour-resolution window reads its last, partial hour as its charts do.
        let hours_only = self.resolution == Resolution::Hour;
        let mut out: Vec<Segment> = Vec::new();
        let mut t = truncate(self.from, 60);
        // At most 7 days: 2 x 59 minutes + 2 x 23 hours + 7 days; the cap is a guard.
        while t < self.to && out.len() < 1000 {
            let fits = |tier: Tier| {
                let s = tier.step_seconds();
                let Some(end) = t.checked_add(Duration::seconds(s)) else { return false };
                let inside = end <= self.to || open_end || (hours_only && tier == Tier::Hour);
                t.unix_timestamp().rem_euclid(s) == 0 && inside
            };
            let day_built = days.is_some_and(|(from, until)| {
                t >= from && t.checked_add(Duration::days(1)).is_some_and(|e| e <= until)
            });
            let tier = if day_built && fits(Tier::Day) {
                Tier::Day
            } else if fits(Tier::Hour) {
                Tier::Hour
            } else {
                Tier::Minute
            };
            let Some(end) = t.checked_add(Duration::seconds(tier.step_seconds())) else { break };
            match out.last_mut() {
                Some(last) if last.tier == tier && last.to == t => last.to = end,
                _ => out.push(Segment { tier, from: t, to: end }),
            }
            t = end;
        }
        out
    }

    /// Every bucket start of the window (for zero-filled series).
    pub fn buckets(&self) -> Vec<OffsetDateTime> {
        let step = Duration::seconds(self.resolution.step_seconds());
        let mut out = Vec::new();
        let mut t = self.from;
        while t < self.to && out.len() < 20_000 {
            out.push(t);
            match t.checked_add(step) {
                Some(next) => t = next,
                None => break,
            }
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

    fn at(s: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(s).unwrap()
    }

    /// Segments are contiguous, aligned to their tier, start at the window's first
    /// minute and reach its end; a closed window's segments do not go past its last
    /// minute.
    fn covers_exactly(w: &Window, segs: &[Segment], now: OffsetDateTime) {
        let mut t = truncate(w.from, 60);
        for s in segs {
            let step = s.tier.step_seconds();
            assert_eq!(s.from, t, "{segs:?}");
            assert_eq!(s.from.unix_timestamp() % step, 0, "{s:?}");
            assert_eq!(s.to.unix_timestamp() % step, 0, "{s:?}");
            t = s.to;
        }
        assert!(t >= w.to, "{segs:?} ends before {}", w.to);
        if w.to < now && w.resolution == Resolution::Minute {
            assert!(t < w.to + Duration::minutes(1), "{segs:?} goes past {}", w.to);
        }
    }

    #[test]
    fn segments_use_the_coarsest_whole_buckets() {
        // 2023-11-14T22:15:23Z: 6 h back is 16:15.
        let now = at(1_700_000_123);
        let w = Window::preset("6h", now).unwrap();
        let segs = w.segments(now, None);
        let tiers: Vec<Tier> = segs.iter().map(|s| s.tier).collect();
        assert_eq!(tiers, [Tier::Minute, Tier::Hour]);
        assert_eq!(segs[0].to.unix_timestamp() % 3600, 0);
        assert_eq!((segs[1].to - segs[1].from).whole_hours(), 6, "17:00 to 23:00 (the open hour)");
        covers_exactly(&w, &segs, now);

        // 7 days with the daily tier built up to today's midnight.
        let today = truncate(now, 86_400);
        let w = Window::preset("7d", now).unwrap();
        let built = Some((today - Duration::days(8), today));
        let segs = w.segments(now, built);
        let tiers: Vec<Tier> = segs.iter().map(|s| s.tier).collect();
        assert_eq!(tiers, [Tier::Hour, Tier::Day, Tier::Hour]);
        assert_eq!((segs[1].to - segs[1].from).whole_days(), 6);
        assert_eq!(segs[1].to, today);
        covers_exactly(&w, &segs, now);
        // ... and without it (not built yet): hours only.
        let segs = w.segments(now, None);
        assert!(segs.iter().all(|s| s.tier == Tier::Hour));
        // The daily tier built only up to yesterday: the last whole day is read by hours.
        let segs = w.segments(now, Some((today - Duration::days(8), today - Duration::days(1))));
        assert_eq!(segs[1].to, today - Duration::days(1));
        // ... or built only from three days ago: older days are read by hours.
        let segs = w.segments(now, Some((today - Duration::days(3), today)));
        assert_eq!(segs[1].from, today - Duration::days(3));
        assert!(segs[0].tier == Tier::Hour && segs[1].tier == Tier::Day);
        // A request a moment after the window was made still reads the open hour.
        let later = now + Duration::milliseconds(30);
        assert_eq!(w.segments(later, built).last().unwrap().tier, Tier::Hour);

        // A window in the past that ends mid-hour: the partial hour is read by minutes
        // (minute resolution) or as the whole hour, like its chart (hour resolution).
        let w = Window::span(at(1_699_990_000), at(1_699_999_000)).unwrap();
        let segs = w.segments(now, built);
        assert_eq!(segs.last().unwrap().tier, Tier::Minute);
        assert!(segs.last().unwrap().to <= w.to + Duration::minutes(1));
        covers_exactly(&w, &segs, now);
        let w = Window::span(at(1_699_900_000), at(1_699_999_000)).unwrap();
        assert_eq!(w.resolution, Resolution::Hour);
        let segs = w.segments(now, built);
        assert!(segs.iter().all(|s| s.tier != Tier::Minute), "{segs:?}");
        assert!(segs.last().unwrap().to > w.to);
        // Far-future ends do not overflow.
        let far = OffsetDateTime::from_unix_timestamp(253_402_300_000).unwrap(); // 9999-12-31
        let w = Window::span(far - Duration::hours(2), far).unwrap();
        assert!(!w.segments(now, None).is_empty());
        assert!(!w.buckets().is_empty());
        // Five minutes: minutes, or the open hour when the window starts on the hour.
        let w = Window::preset("5m", now).unwrap();
        assert!(w.segments(now, None).iter().all(|s| s.tier == Tier::Minute));
        let on_hour = at(1_700_002_800 + 300);
        let w = Window::preset("5m", on_hour).unwrap();
        assert_eq!(w.segments(on_hour, None)[0].tier, Tier::Hour);
    }
}
