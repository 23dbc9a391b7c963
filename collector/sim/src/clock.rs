//! Simulated time.
//!
//! The generator runs on a virtual timeline measured in wall-clock nanoseconds from
//! the start of the run (`vt`): at `rate` flows/s the k-th flow is due at about
//! `k / rate` seconds. The simulated clock, which stamps flows and export headers and
//! drives the diurnal curve and anomaly windows, runs `speedup` times faster:
//!
//! ```text
//! sim_ms(vt) = start_ms + vt_ns * speedup / 1e6
//! ```
//!
//! With `speedup = 1` simulated time is wall time; with `speedup = 3600` one wall
//! second carries one simulated hour, so a day of diurnal load and anomalies plays
//! in 24 seconds. UDP output sends each datagram when the wall clock reaches its
//! `vt`; pcap output stamps frames with the simulated time, like a capture taken on
//! the simulated network. Both see the same datagrams.

use crate::error::SimError;
use flowvision_codec::time::days_from_civil;

/// Maps the virtual timeline onto the simulated clock.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SimClock {
    /// Simulated time at `vt = 0`, Unix milliseconds.
    pub start_ms: i64,
    /// Simulated seconds per wall-clock second.
    pub speedup: f64,
}

impl SimClock {
    /// Simulated Unix milliseconds at virtual time `vt_ns`.
    #[inline]
    pub fn sim_ms(&self, vt_ns: i64) -> i64 {
        self.start_ms + (vt_ns as f64 * self.speedup / 1e6) as i64
    }

    /// Simulated Unix nanoseconds at virtual time `vt_ns` (pcap timestamps).
    #[inline]
    pub fn sim_ns(&self, vt_ns: i64) -> i64 {
        self.start_ms.saturating_mul(1_000_000).saturating_add((vt_ns as f64 * self.speedup) as i64)
    }

    /// The virtual time at which the simulated clock reaches `sim_ms`.
    #[inline]
    pub fn vt_of(&self, sim_ms: i64) -> i64 {
        ((sim_ms - self.start_ms) as f64 * 1e6 / self.speedup) as i64
    }
}

/// Parses a duration: a number with a unit (`ns`, `us`, `ms`, `s`, `m`, `h`, `d`;
/// fractions allowed, e.g. `1.5h`), or a bare number of seconds. Returns nanoseconds.
pub fn parse_duration_ns(s: &str) -> Result<i64, SimError> {
    let t = s.trim();
    let bad = || SimError::Invalid(format!("bad duration {s:?} (e.g. 500ms, 30s, 5m, 2h, 1d)"));
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let v: f64 = num.parse().map_err(|_| bad())?;
    let scale = match unit.trim() {
        "" | "s" => 1e9,
        "ns" => 1.0,
        "us" => 1e3,
        "ms" => 1e6,
        "m" | "min" => 60e9,
        "h" => 3600e9,
        "d" => 86_400e9,
        _ => return Err(bad()),
    };
    let ns = v * scale;
    if !ns.is_finite() || !(0.0..=1e19).contains(&ns) {
        return Err(bad());
    }
    Ok(ns as i64)
}

/// Parses a point in time: `now`, Unix milliseconds, or RFC 3339
/// (`2024-05-01T12:00:00Z`, `2024-05-01T14:00:00.250+02:00`). Returns Unix ms.
pub fn parse_time_ms(s: &str, now_ms: i64) -> Result<i64, SimError> {
    let t = s.trim();
    if t.eq_ignore_ascii_case("now") {
        return Ok(now_ms);
    }
    if let Ok(ms) = t.parse::<i64>() {
        return Ok(ms);
    }
    parse_rfc3339(t).ok_or_else(|| SimError::Invalid(format!("bad time {s:?} (RFC 3339, Unix ms, or now)")))
}

fn parse_rfc3339(t: &str) -> Option<i64> {
    let b = t.as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> { t.get(from..from + len)?.parse().ok() };
    let (y, mo, d) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') || !matches!(b.get(10), Some(b'T' | b't' | b' ')) {
        return None;
    }
    let (h, mi, sec) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut i = 19;
    let mut millis = 0i64;
    if b.get(i) == Some(&b'.') {
        let digits = t.get(i + 1..)?.bytes().take_while(u8::is_ascii_digit).count();
        let frac = t.get(i + 1..i + 1 + digits)?;
        let ms3: String = frac.chars().chain("000".chars()).take(3).collect();
        millis = ms3.parse().ok()?;
        i += 1 + digits;
    }
    let offset_min = match t.get(i..)? {
        "Z" | "z" => 0,
        rest if rest.len() == 6 && (rest.starts_with('+') || rest.starts_with('-')) => {
            let oh: i64 = rest.get(1..3)?.parse().ok()?;
            let om: i64 = rest.get(4..6)?.parse().ok()?;
            let sign = if rest.starts_with('-') { -1 } else { 1 };
            sign * (oh * 60 + om)
        }
        _ => return None,
    };
    // mo and d were range-checked above.
    let days = days_from_civil(y, u32::try_from(mo).ok()?, u32::try_from(d).ok()?);
    Some(((days * 86_400 + h * 3600 + mi * 60 + sec) - offset_min * 60) * 1000 + millis)
}

/// The wall clock now, Unix milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;
    use flowvision_codec::format_rfc3339_ms;

    #[test]
    fn durations() {
        assert_eq!(parse_duration_ns("500ms").unwrap(), 500_000_000);
        assert_eq!(parse_duration_ns("1.5h").unwrap(), 5_400_000_000_000);
        assert_eq!(parse_duration_ns("10").unwrap(), 10_000_000_000);
        assert_eq!(parse_duration_ns("2 m").unwrap(), 120_000_000_000);
        assert!(parse_duration_ns("ten seconds").is_err());
        assert!(parse_duration_ns("-1s").is_err());
    }

    #[test]
    fn times() {
        let ms = parse_time_ms("2024-02-29T12:00:00.123Z", 0).unwrap();
        assert_eq!(format_rfc3339_ms(ms), "2024-02-29T12:00:00.123Z");
        assert_eq!(parse_time_ms("2024-02-29T14:00:00+02:00", 0).unwrap(), 1_709_208_000_000);
        assert_eq!(parse_time_ms("now", 42).unwrap(), 42);
        assert_eq!(parse_time_ms("1709208000000", 0).unwrap(), 1_709_208_000_000);
        assert!(parse_time_ms("2024-13-01T00:00:00Z", 0).is_err());
        assert!(parse_time_ms("yesterday", 0).is_err());
    }

    #[test]
    fn clock_maps_both_ways() {
        let c = SimClock { start_ms: 1_000_000, speedup: 3600.0 };
        assert_eq!(c.sim_ms(1_000_000_000), 1_000_000 + 3_600_000);
        assert_eq!(c.vt_of(1_000_000 + 3_600_000), 1_000_000_000);
        assert_eq!(c.sim_ns(1_000), 1_000_000 * 1_000_000 + 3_600_000);
    }
}
