//! `udp_amplification`: a victim receiving UDP from the service ports of known
//! reflectors ([`crate::amplifier`]), from several of them, as most of its traffic.
//! The source is never one address (the reflectors are innocent third parties, the
//! attacker is hidden behind spoofing), so only the target is named.

use super::{insight, share, HostWindow, Insight, Kind, NetworkSize, Observation, Thresholds, Why};

pub(super) fn check(w: &HostWindow, (t, net): (&Thresholds, &NetworkSize), out: &mut Vec<Insight>) {
    let c = &w.features.counters;
    let pps = w.per_s(c.amp_packets_in);
    let reflectors = w.features.reflectors_in.estimate();
    let part = share(c.amp_bytes_in, c.bytes_in);
    let floor = net.floor(w.exporter, t.amplification_pps, t);
    let min_reflectors = if floor.scaled {
        t.amplification_reflectors.max(t.scaled_floor_min_sources)
    } else {
        t.amplification_reflectors
    };
    if pps < floor.pps || reflectors < min_reflectors || part < t.amplification_share {
        return;
    }
    let bps = w.per_s(c.amp_bytes_in) * 8.0;
    out.push(insight(
        w,
        Kind::UdpAmplification,
        (pps, floor.pps),
        None,
        Some(w.host),
        Why {
            summary: format!(
                "{:.1} Mbit/s ({pps:.0} packets/s) of UDP from reflector ports at {} from about {reflectors:.0} reflectors ({:.0} % of its inbound bytes)",
                bps / 1e6,
                w.host,
                part * 100.0
            ),
            observed: vec![
                Observation { feature: "reflected_packets_per_s", value: pps, threshold: floor.pps },
                Observation { feature: "distinct_reflectors", value: reflectors, threshold: min_reflectors },
                Observation { feature: "reflected_share_of_inbound_bytes", value: part, threshold: t.amplification_share },
                Observation { feature: "reflected_bits_per_s", value: bps, threshold: 0.0 },
            ],
        },
    ));
}
