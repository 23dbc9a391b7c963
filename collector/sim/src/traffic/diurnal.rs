//! The diurnal (and weekly) load curve.
//!
//! Load is 1 at `peak_hour` (local time, `utc_offset_hours` from UTC) and falls along
//! a raised cosine to `trough` twelve hours later; Saturdays and Sundays are scaled
//! by `weekend`. The curve multiplies the scenario's flow rate, which is therefore the
//! rate at the weekday peak. Because it is evaluated on the simulated clock, a
//! `speedup` of 3600 plays a whole day in 24 wall-clock seconds.

use serde::{Deserialize, Serialize};

/// Diurnal settings (the scenario's `[diurnal]` table).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Diurnal {
    /// Apply the curve at all (off: constant load 1).
    pub enabled: bool,
    /// Local hour of the daily peak (0-24).
    pub peak_hour: f64,
    /// Load at the daily low, relative to the peak (0-1].
    pub trough: f64,
    /// Local time offset from UTC, in hours.
    pub utc_offset_hours: f64,
    /// Load factor on Saturdays and Sundays (0-1].
    pub weekend: f64,
}

impl Default for Diurnal {
    fn default() -> Self {
        Diurnal { enabled: true, peak_hour: 15.0, trough: 0.25, utc_offset_hours: 0.0, weekend: 0.7 }
    }
}

impl Diurnal {
    /// Load factor in `(0, 1]` at `sim_ms` (Unix milliseconds).
    pub fn load(&self, sim_ms: i64) -> f64 {
        if !self.enabled {
            return 1.0;
        }
        let local_ms = sim_ms as f64 + self.utc_offset_hours * 3_600_000.0;
        let day_ms = 86_400_000.0;
        let hour = local_ms.rem_euclid(day_ms) / 3_600_000.0;
        let phase = (hour - self.peak_hour) / 24.0 * std::f64::consts::TAU;
        let trough = self.trough.clamp(0.01, 1.0);
        let daily = trough + (1.0 - trough) * 0.5 * (1.0 + phase.cos());
        // 1970-01-01 was a Thursday: (days + 4) % 7 is 0 on Sundays, 6 on Saturdays.
        let weekday = ((local_ms / day_ms).floor() as i64 + 4).rem_euclid(7);
        let week = if weekday == 0 || weekday == 6 { self.weekend.clamp(0.01, 1.0) } else { 1.0 };
        daily * week
    }

    /// Checks the ranges.
    pub fn validate(&self) -> Result<(), String> {
        if !(0.0..=24.0).contains(&self.peak_hour) {
            return Err(format!("diurnal.peak_hour {} is not within 0-24", self.peak_hour));
        }
        let in_range = |x: f64| x > 0.0 && x <= 1.0;
        if !in_range(self.trough) || !in_range(self.weekend) {
            return Err("diurnal.trough and diurnal.weekend must be in (0, 1]".into());
        }
        if !(-14.0..=14.0).contains(&self.utc_offset_hours) {
            return Err("diurnal.utc_offset_hours must be within -14..14".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peak_trough_weekend() {
        let d = Diurnal::default();
        // 2024-05-01 (a Wednesday) 15:00 UTC is the peak, 03:00 the trough.
        let wed = 1_714_521_600_000i64;
        let h = 3_600_000i64;
        assert!((d.load(wed + 15 * h) - 1.0).abs() < 1e-9);
        assert!((d.load(wed + 3 * h) - 0.25).abs() < 1e-9);
        assert!(d.load(wed + 9 * h) > 0.25 && d.load(wed + 9 * h) < 1.0);
        // 2024-05-04 is a Saturday.
        assert!((d.load(wed + 3 * 24 * h + 15 * h) - 0.7).abs() < 1e-9);
        let off = Diurnal { enabled: false, ..d };
        assert_eq!(off.load(wed), 1.0);
        assert!(d.validate().is_ok());
        assert!(Diurnal { trough: 0.0, ..d }.validate().is_err());
    }
}
