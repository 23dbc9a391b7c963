//! Flow sizes and durations: heavy-tailed, as measured flows are.
//!
//! Packet counts are log-normal around each service's median with a Pareto "elephant"
//! tail (2% of flows, tail index 1.2, so a few flows carry much of the volume); bytes
//! are packets times a per-flow mean packet size drawn around the service's median
//! and kept within [minimum packet, the service's largest packet]; durations grow
//! with packet count at a per-flow pace (the exporter cuts the long ones into one
//! record per active timeout: see `long_flow`).

use crate::rng::Rng;

/// Largest packet count of one flow record: keeps NetFlow v5's 32-bit counters safe.
pub const MAX_PACKETS: u64 = 2_000_000;

/// Share of flows drawn from the Pareto elephant tail.
const ELEPHANT_SHARE: f64 = 0.02;
/// Tail index of the elephants (below 2: infinite variance).
const ELEPHANT_ALPHA: f64 = 1.2;

/// Packets of one direction of a flow.
#[inline]
pub fn packets(rng: &mut Rng, median: f64, sigma: f64) -> u64 {
    let mut p = rng.lognormal(median.max(1.0), sigma);
    if rng.chance(ELEPHANT_SHARE) {
        p *= rng.pareto(1.0, ELEPHANT_ALPHA);
    }
    (p.round() as u64).clamp(1, MAX_PACKETS)
}

/// Bytes of `packets` packets whose mean size is drawn around `median_packet`,
/// within `[min_packet, max_packet]`.
#[inline]
pub fn bytes(rng: &mut Rng, packets: u64, median_packet: f64, min_packet: f64, max_packet: f64) -> u64 {
    let mean =
        rng.lognormal(median_packet.max(min_packet), 0.3).clamp(min_packet, max_packet.max(min_packet));
    (packets as f64 * mean).round() as u64
}

/// Longest connection: a day (an elephant at a slow pace would otherwise last weeks).
pub const MAX_DURATION_MS: i64 = 86_400_000;

/// Duration in milliseconds of a flow of `packets` packets, at most a day.
#[inline]
pub fn duration_ms(rng: &mut Rng, packets: u64, ms_per_packet: f64) -> i64 {
    if packets <= 1 {
        return 0;
    }
    let per = rng.lognormal(ms_per_packet, 1.0);
    ((packets - 1) as f64 * per).min(MAX_DURATION_MS as f64).max(1.0) as i64
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;

    #[test]
    fn heavy_tail_and_bounds() {
        let mut rng = Rng::new(11);
        let mut v: Vec<u64> = (0..100_000).map(|_| packets(&mut rng, 10.0, 1.5)).collect();
        v.sort_unstable();
        let total: u64 = v.iter().sum();
        let top: u64 = v[v.len() - 1000..].iter().sum();
        // The top 1% of flows carry a large share of the packets.
        assert!(top as f64 / total as f64 > 0.25, "{top} of {total}");
        assert!(v[0] >= 1 && v[v.len() - 1] <= MAX_PACKETS);
        let median = v[v.len() / 2];
        assert!((6..=15).contains(&median), "{median}");
        for _ in 0..10_000 {
            let b = bytes(&mut rng, 10, 1200.0, 40.0, 1500.0);
            assert!((400..=15_000).contains(&b));
            assert!((1..=MAX_DURATION_MS).contains(&duration_ms(&mut rng, 100_000, 2_000.0)));
        }
        assert_eq!(duration_ms(&mut rng, 1, 20.0), 0);
    }
}
