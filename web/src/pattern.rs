//! Traffic patterns: an exporter's or an interface's last 24 hours in 5-minute slots,
//! each against its usual band, the same slot on the previous days (`flowvision_insights::detect::band`,
//! the band `traffic_anomaly` reports leaving). What an operator looks at to see
//! whether tonight is quieter than usual or this morning's peak came early.

use crate::data::{DataResult, Db};
use flowvision_insights::detect::{band, Thresholds};
use serde::Serialize;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// Slot length, ms.
pub const SLOT_MS: i64 = 300_000;
/// Slots shown: 24 hours.
pub const SLOTS: i64 = 288;
const DAY_MS: i64 = 86_400_000;

/// One slot: the traffic and, with enough history, its usual band.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PatternPoint {
    /// Slot start, Unix ms.
    pub t: i64,
    /// Average bits/s in the slot.
    pub bps: f64,
    /// Median of the same slot on the previous days, bits/s.
    pub usual_bps: Option<f64>,
    /// Lower edge of the band, bits/s.
    pub low_bps: Option<f64>,
    /// Upper edge of the band, bits/s.
    pub high_bps: Option<f64>,
}

/// An exporter's or an interface's pattern.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Pattern {
    /// The exporter.
    pub exporter: String,
    /// The interface (ifIndex; its traffic in plus out, as `traffic_anomaly` counts
    /// it), or `None` for the exporter's total.
    pub interface: Option<u32>,
    /// Slot length, seconds.
    pub step_seconds: i64,
    /// Previous days the bands are built from (at most).
    pub days: u32,
    /// The last 24 hours, oldest first; the current, partial slot is left out.
    pub points: Vec<PatternPoint>,
}

/// The pattern of `exporter`, or of one of its interfaces, (the caller checked its
/// scope) up to `now_ms`.
pub async fn exporter_pattern(
    db: &Db,
    exporter: IpAddr,
    interface: Option<u32>,
    now_ms: i64,
    t: &Thresholds,
) -> DataResult<Pattern> {
    let days = t.traffic_history_days.clamp(1, 28);
    let end = now_ms.div_euclid(SLOT_MS) * SLOT_MS;
    let start = end - SLOTS * SLOT_MS;
    let slots =
        db.exporter_slots(exporter, interface, start - i64::from(days) * DAY_MS, end, SLOT_MS).await?;
    Ok(Pattern {
        exporter: exporter.to_string(),
        interface,
        step_seconds: SLOT_MS / 1000,
        days,
        points: points(&slots, start, end, days, t),
    })
}

/// The points of `[start, end)` from bytes per slot.
pub fn points(
    slots: &BTreeMap<i64, i64>,
    start: i64,
    end: i64,
    days: u32,
    t: &Thresholds,
) -> Vec<PatternPoint> {
    let bps = |bytes: f64| bytes * 8.0 / (SLOT_MS / 1000) as f64;
    let mut out = Vec::new();
    let mut s = start;
    while s < end {
        let history: Vec<f64> =
            (1..=i64::from(days)).filter_map(|d| slots.get(&(s - d * DAY_MS)).map(|&b| b as f64)).collect();
        let b = band(&history, t);
        out.push(PatternPoint {
            t: s,
            bps: bps(slots.get(&s).copied().unwrap_or(0) as f64),
            usual_bps: b.map(|b| bps(b.center)),
            low_bps: b.map(|b| bps(b.low)),
            high_bps: b.map(|b| bps(b.high)),
        });
        s += SLOT_MS;
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;

    #[test]
    fn each_slot_gets_the_band_of_the_same_slot_on_previous_days() {
        let t = Thresholds::default();
        let start = 1_700_000_100_000 / SLOT_MS * SLOT_MS;
        let mut slots = BTreeMap::new();
        for d in 1..=3 {
            slots.insert(start - d * DAY_MS, 3_750_000); // 100 kbit/s
        }
        slots.insert(start, 7_500_000);
        let p = points(&slots, start, start + 2 * SLOT_MS, 7, &t);
        assert_eq!(p.len(), 2);
        assert_eq!((p[0].bps, p[0].usual_bps), (200_000.0, Some(100_000.0)));
        assert!(p[0].high_bps.unwrap() < p[0].bps, "twice the usual is above the band");
        assert_eq!((p[1].bps, p[1].usual_bps), (0.0, None), "no history for that slot: no band");
    }
}
