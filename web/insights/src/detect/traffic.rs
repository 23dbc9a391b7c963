//! `traffic_anomaly`: an exporter's or an interface's volume outside its seasonal band,
//! up or down.
//!
//! The band of a window is built from the same window of the previous days (the daily
//! season): its center is their median, its half-width `traffic_band_k` times their
//! spread (1.4826 x the median absolute deviation, a standard deviation robust to one
//! odd day), and never narrower than `traffic_min_spread` of the center, so the
//! weekend's lower traffic and ordinary day-to-day drift stay inside. Windows need
//! `traffic_min_days` of history, so this is the one rule a fresh appliance does not
//! run: there is no usual traffic to leave yet. An exporter whose traffic stops while
//! its history says it should carry some is reported too (it went silent, or its
//! export broke).
//!
//! An interface's volume is what it carried both ways (flows in on it plus flows out
//! on it). It is reported only when its exporter's total is not itself out of its band
//! the same way: a silent uplink of a one-uplink router is one event, the router's, and
//! an interface is worth its own insight when the whole exporter looks normal (traffic
//! moved from a failed link to its backup, one customer port gone quiet).
//!
//! The window ends `traffic_lag_secs` before the round, because the last minutes'
//! flows are still in exporters' caches (their active timeouts) and in batches: a
//! window read too early looks like a drop.

use super::{grade, Insight, Kind, Observation, Thresholds, Why};
use std::collections::BTreeMap;
use std::net::IpAddr;

/// One day, ms.
pub const DAY_MS: i64 = 86_400_000;

/// Exporters' bytes per minute (sampling-corrected, `rollup_exporter_1m`) and their
/// interfaces' (`rollup_interface_1m`, in plus out), keyed by (exporter, interface
/// or `None` for the exporter's total, minute start in Unix ms).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExporterMinutes {
    bytes: BTreeMap<(IpAddr, Option<u32>, i64), i64>,
}

impl ExporterMinutes {
    /// From (exporter, minute start ms, bytes) rows of exporters' totals; rows of the
    /// same minute add up.
    pub fn new(rows: impl IntoIterator<Item = (IpAddr, i64, i64)>) -> ExporterMinutes {
        let mut m = ExporterMinutes::default();
        for (e, minute, b) in rows {
            m.add((e, None, minute), b);
        }
        m
    }

    /// Adds (exporter, ifIndex, minute start ms, bytes) rows of interfaces; ifIndex 0
    /// (unknown to the exporter) is left out, it is no interface.
    pub fn with_interfaces(
        mut self,
        rows: impl IntoIterator<Item = (IpAddr, u32, i64, i64)>,
    ) -> ExporterMinutes {
        for (e, interface, minute, b) in rows {
            if interface != 0 {
                self.add((e, Some(interface), minute), b);
            }
        }
        self
    }

    fn add(&mut self, key: (IpAddr, Option<u32>, i64), b: i64) {
        let v = self.bytes.entry(key).or_default();
        *v = v.saturating_add(b);
    }

    /// The time ranges a check of windows ending in `[first_end, last_end]` reads: the
    /// windows themselves and the same times on each of the previous `days` days.
    pub fn ranges(first_end: i64, last_end: i64, t: &Thresholds) -> Vec<(i64, i64)> {
        let window = t.traffic_window_secs.max(60) * 1000;
        let lag = t.traffic_lag_secs.max(0) * 1000;
        (0..=i64::from(t.traffic_history_days))
            .map(|d| (first_end - lag - window - d * DAY_MS, last_end - lag - d * DAY_MS))
            .collect()
    }

    /// Bytes of a series in `[from, to)`, and whether any minute of it was seen.
    fn sum(&self, (exporter, interface): Series, from: i64, to: i64) -> (i64, bool) {
        let mut total = 0i64;
        let mut seen = false;
        for (_, b) in self.bytes.range((exporter, interface, from)..(exporter, interface, to)) {
            total = total.saturating_add(*b);
            seen = true;
        }
        (total, seen)
    }

    /// Every series, each exporter's total before its interfaces.
    fn series(&self) -> impl Iterator<Item = Series> + '_ {
        let mut last = None;
        self.bytes.keys().filter_map(move |&(e, i, _)| {
            if last == Some((e, i)) {
                None
            } else {
                last = Some((e, i));
                last
            }
        })
    }
}

/// An exporter's total (`None`) or one of its interfaces.
type Series = (IpAddr, Option<u32>);

/// The window's band from the same window on previous days.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Band {
    /// Median of the previous days, bytes.
    pub center: f64,
    /// Lower edge, bytes (at least 0).
    pub low: f64,
    /// Upper edge, bytes.
    pub high: f64,
    /// Days it was built from.
    pub days: usize,
}

/// The band of values seen on previous days (`None` with fewer than `min_days`).
pub fn band(history: &[f64], t: &Thresholds) -> Option<Band> {
    if history.len() < usize::from(t.traffic_min_days.max(1)) {
        return None;
    }
    let center = median(history.to_vec());
    let mad = median(history.iter().map(|v| (v - center).abs()).collect());
    let spread = (1.4826 * mad).max(t.traffic_min_spread * center);
    let half = t.traffic_band_k * spread;
    Some(Band { center, low: (center - half).max(0.0), high: center + half, days: history.len() })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    match n {
        0 => 0.0,
        _ if n % 2 == 1 => v.get(n / 2).copied().unwrap_or(0.0),
        _ => (v.get(n / 2 - 1).copied().unwrap_or(0.0) + v.get(n / 2).copied().unwrap_or(0.0)) / 2.0,
    }
}

/// Where a window's value fell against its band.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Outside {
    Above,
    Below,
}

/// The rule for the window ending `traffic_lag_secs` before `end_ms`, checked when
/// `end_ms` is on a `traffic_step_secs` boundary.
pub(super) fn check(minutes: &ExporterMinutes, end_ms: i64, t: &Thresholds, out: &mut Vec<Insight>) {
    let step = t.traffic_step_secs.max(10) * 1000;
    if end_ms.rem_euclid(step) != 0 {
        return;
    }
    let window = t.traffic_window_secs.max(60) * 1000;
    let to = end_ms - t.traffic_lag_secs.max(0) * 1000;
    let from = to - window;
    // The exporter's own verdict, met before its interfaces (the series are sorted).
    let mut total: Option<(IpAddr, Option<Outside>)> = None;
    for series in minutes.series() {
        let (exporter, interface) = series;
        let history: Vec<f64> = (1..=i64::from(t.traffic_history_days))
            .filter_map(|d| match minutes.sum(series, from - d * DAY_MS, to - d * DAY_MS) {
                (b, true) => Some(b as f64),
                _ => None,
            })
            .collect();
        let Some(b) = band(&history, t).filter(|b| b.center >= t.traffic_min_bytes) else {
            if interface.is_none() {
                total = Some((exporter, None));
            }
            continue;
        };
        let now = minutes.sum(series, from, to).0 as f64;
        let (edge, outside, ratio) = if now > b.high {
            (b.high, Outside::Above, now / b.high.max(1.0))
        } else if now < b.low {
            // How far below: the edge over the value, so a silent exporter is critical.
            (b.low, Outside::Below, b.low / now.max(b.low / 100.0).max(1.0))
        } else {
            if interface.is_none() {
                total = Some((exporter, None));
            }
            continue;
        };
        if interface.is_none() {
            total = Some((exporter, Some(outside)));
        } else if total == Some((exporter, Some(outside))) {
            // The exporter's insight tells it already.
            continue;
        }
        let secs = (window / 1000) as f64;
        let mbps = |v: f64| v * 8.0 / secs / 1e6;
        let what = match interface {
            None => exporter.to_string(),
            Some(i) => format!("{exporter} interface {i} (in + out)"),
        };
        let direction = match outside {
            Outside::Above => "above",
            Outside::Below => "below",
        };
        let (score, severity) = grade(ratio, 1.0);
        out.push(Insight {
            kind: Kind::TrafficAnomaly,
            severity,
            score,
            start_ms: from,
            end_ms: to,
            exporter,
            interface,
            source: None,
            target: None,
            detector: format!("rule:{}", Kind::TrafficAnomaly.as_str()),
            why: Why {
                summary: format!(
                    "{what} carried {:.1} Mbit/s over {:.0} min, {direction} its usual {:.1}-{:.1} Mbit/s at this time of day (median {:.1} of the last {} days)",
                    mbps(now),
                    secs / 60.0,
                    mbps(b.low),
                    mbps(b.high),
                    mbps(b.center),
                    b.days
                ),
                observed: vec![
                    Observation { feature: "bits_per_s", value: now * 8.0 / secs, threshold: edge * 8.0 / secs },
                    Observation { feature: "usual_bits_per_s", value: b.center * 8.0 / secs, threshold: 0.0 },
                ],
            },
        });
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;

    #[test]
    fn the_band_is_robust_to_one_odd_day_and_never_too_narrow() {
        let t = Thresholds::default();
        let b = band(&[100.0, 102.0, 98.0, 101.0, 99.0, 400.0], &t).unwrap();
        assert!((b.center - 100.5).abs() < 1e-9, "{b:?}");
        assert!(
            b.high < 200.0
                && b.low > 0.0
                && b.high - b.center >= t.traffic_band_k * t.traffic_min_spread * b.center - 1e-9
        );
        assert_eq!(band(&[100.0, 100.0], &t), None, "two days are not a season");
    }
}
