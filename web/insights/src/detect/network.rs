//! How busy each exporter's network usually is, so that the volumetric rules' floors
//! follow its size.
//!
//! The configured floors ([`Thresholds`]) suit a mid-size network. In a small one (or
//! a mid-size one at night) an attack scaled to its traffic never reaches them: 20
//! never-completed handshakes a second at one host are a flood where the whole
//! exporter carries 300 packets a second. So a floor comes down to a share of the
//! exporter's usual packet rate, never below a fraction of the configured value, and
//! never above it: the share conditions already keep busy hosts of large networks out.
//! A lowered floor also asks for several distinct sources, the signature that tells a
//! low-rate flood from one client retrying.
//!
//! "Usual" is the median of the exporter's per-minute packet rates over the clock hour
//! before the one the window ends in (the console reads them from
//! `rollup_exporter_1m`): the median, so that a flood's own minutes do not raise the
//! floor it is measured against, and a clock hour, so that the live rounds and a
//! backtest measure a window against the same size. An exporter with fewer than ten
//! minutes in that hour (a fresh install, an exporter just pointed at the appliance) is
//! measured on the minutes it has, up to two minutes before the window, so a flood in
//! its first hour meets its own network's floors; one without any keeps the configured
//! floors. (The console's engine chooses the minutes: `web/src/insights.rs`.)

use super::Thresholds;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// Each exporter's usual packets per second.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NetworkSize {
    pps: BTreeMap<IpAddr, f64>,
}

/// A rule's floor for one window: the value and whether it was lowered.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Floor {
    /// Packets per second.
    pub pps: f64,
    /// Below the configured floor because the network is small.
    pub scaled: bool,
}

impl NetworkSize {
    /// From (exporter, usual packets per second) pairs; non-finite or negative rates
    /// are left out (that exporter keeps the configured floors).
    pub fn new(rates: impl IntoIterator<Item = (IpAddr, f64)>) -> NetworkSize {
        let pps = rates.into_iter().filter(|(_, r)| r.is_finite() && *r >= 0.0).collect();
        NetworkSize { pps }
    }

    /// The exporter's usual packets per second, when known.
    pub fn pps(&self, exporter: IpAddr) -> Option<f64> {
        self.pps.get(&exporter).copied()
    }

    /// Every exporter's usual packets per second.
    pub fn rates(&self) -> impl Iterator<Item = (IpAddr, f64)> + '_ {
        self.pps.iter().map(|(e, r)| (*e, *r))
    }

    /// The floor of a rule configured at `configured` packets/s, on `exporter`.
    pub fn floor(&self, exporter: IpAddr, configured: f64, t: &Thresholds) -> Floor {
        let Some(pps) = self.pps(exporter) else {
            return Floor { pps: configured, scaled: false };
        };
        let lowest = configured * t.network_min_floor_ratio.clamp(0.0, 1.0);
        let scaled = (pps * t.network_floor_share).clamp(lowest, configured.max(lowest));
        Floor { pps: scaled, scaled: scaled < configured }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;

    #[test]
    fn floors_come_down_with_a_small_network_and_never_go_up() {
        let t = Thresholds::default();
        let (small, big, unknown): (IpAddr, IpAddr, IpAddr) =
            ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap(), "192.0.2.3".parse().unwrap());
        let net = NetworkSize::new([(small, 300.0), (big, 1e6), (unknown, f64::NAN)]);
        let f = net.floor(small, 200.0, &t);
        assert!(f.scaled && f.pps < 200.0 && f.pps >= 200.0 * t.network_min_floor_ratio, "{f:?}");
        assert_eq!(net.floor(big, 200.0, &t), Floor { pps: 200.0, scaled: false });
        assert_eq!(net.floor(unknown, 200.0, &t), Floor { pps: 200.0, scaled: false });
        let idle = NetworkSize::new([(small, 0.0)]);
        assert_eq!(idle.floor(small, 200.0, &t).pps, 200.0 * t.network_min_floor_ratio);
    }
}
