//! A 1-in-N packet sampler in front of an exporter's flow cache
//! ([`crate::scenario::ExporterGroup::sample_packets`]).
//!
//! A router sampling 1 packet in N builds its records from the sampled packets only:
//! a flow of k packets shows a binomial draw of them (k/N on average), its bytes in
//! proportion, and a flow none of whose packets was drawn is never exported, which is
//! most one-packet flows at 1:100. An sFlow agent sends one sample per sampled packet,
//! so a flow of k packets gives a binomial draw of samples (an upload of a million
//! packets, about 15,600 samples at 1:64), each a copy of the flow's header. Either
//! way a record's counters times N estimate the flow, which is what a collector's
//! sampling correction assumes.

use crate::rng::Rng;
use flowvision_codec::{FlowRecord, Protocol};

/// Above this many packets the binomial draw uses its normal approximation.
const EXACT_DRAW_MAX: u64 = 64;

/// The most sFlow samples one record gives (a bound on the simulator's work, far
/// above what the simulated flows reach at the rates used).
pub const MAX_SAMPLES_PER_FLOW: u64 = 1 << 20;

/// Thins `rec` as a 1-in-`rate` packet sampler would. Returns how many records the
/// exporter sends for it: 0 when no packet of the flow was sampled (the exporter never
/// sees it), 1 for a flow record, and for sFlow one per sampled packet (each a copy of
/// `rec`, which the sFlow encoder sends as one packet's header, with the flags of one of
/// its packets: `conform`).
pub fn sample(rec: &mut FlowRecord, protocol: Protocol, rate: u32, rng: &mut Rng) -> u64 {
    if rate <= 1 {
        return 1;
    }
    let n = u64::from(rate);
    let k = rec.packets.max(1);
    let drawn = binomial(k, 1.0 / n as f64, rng);
    if protocol == Protocol::SflowV5 {
        return drawn.min(MAX_SAMPLES_PER_FLOW);
    }
    if drawn == 0 {
        return 0;
    }
    rec.bytes = ((u128::from(rec.bytes) * u128::from(drawn)) / u128::from(k)).max(1) as u64;
    rec.packets = drawn;
    rec.tcp_flags = drawn_flags(rec, k, drawn, rng);
    1
}

/// The cumulative TCP flags of `drawn` packets sampled out of a connection's `k`: the
/// router ORs the flags of the packets it sampled, so the opening SYN and the closing
/// FIN are there only when that packet was drawn (`drawn` in `k`): a record of a long
/// transfer mostly shows data segments alone. A reset is left as the flow had it (a
/// simplification: aborted connections are few and short).
fn drawn_flags(rec: &FlowRecord, k: u64, drawn: u64, rng: &mut Rng) -> u16 {
    use crate::traffic::services::{flags, proto};
    let f = rec.tcp_flags;
    // Attempts that never completed (no ACK) and bare resets look the same in every packet.
    if rec.proto != proto::TCP || drawn >= k || f & flags::ACK == 0 || f & 0xff == flags::RST | flags::ACK {
        return f;
    }
    let p = drawn as f64 / k as f64;
    let mut out = f & !(flags::SYN | flags::FIN);
    if f & flags::SYN != 0 && rng.chance(p) {
        out |= flags::SYN;
    }
    if f & flags::FIN != 0 && rng.chance(p) {
        out |= flags::FIN;
    }
    out
}

/// Packets sampled out of `k`, each with probability `p`.
fn binomial(k: u64, p: f64, rng: &mut Rng) -> u64 {
    if k <= EXACT_DRAW_MAX {
        return (0..k).filter(|_| rng.chance(p)).count() as u64;
    }
    let mean = k as f64 * p;
    let sd = (mean * (1.0 - p)).sqrt();
    (mean + sd * rng.normal()).round().clamp(0.0, k as f64) as u64
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;

    fn flow(packets: u64) -> FlowRecord {
        FlowRecord { packets, bytes: packets * 1_000, ..FlowRecord::default() }
    }

    #[test]
    fn corrected_counters_estimate_the_flows_and_small_flows_mostly_vanish() {
        let mut rng = Rng::new(11);
        let (mut kept, mut packets, mut bytes) = (0u64, 0u64, 0u64);
        for _ in 0..20_000 {
            let mut r = flow(300);
            if sample(&mut r, Protocol::Ipfix, 100, &mut rng) == 1 {
                kept += 1;
                packets += r.packets;
                bytes += r.bytes;
                assert_eq!(r.bytes, r.packets * 1_000);
            }
        }
        let estimate = packets as f64 * 100.0 / 20_000.0;
        assert!((estimate - 300.0).abs() < 6.0, "{estimate}");
        assert_eq!(bytes, packets * 1_000);
        assert!(kept > 18_000, "a 300-packet flow is almost always seen: {kept}");
        let mut seen = 0;
        for _ in 0..20_000 {
            seen += sample(&mut flow(1), Protocol::NetflowV5, 100, &mut rng);
        }
        assert!((150..260).contains(&seen), "one-packet flows at 1:100: {seen} of 20,000");
        let mut samples = 0;
        for _ in 0..10_000 {
            samples += sample(&mut flow(16), Protocol::SflowV5, 64, &mut rng);
        }
        assert!((2_200..2_800).contains(&samples), "16 of 64: {samples}");
        // A long flow gives a sample per sampled packet, not one.
        let big = sample(&mut flow(1_000_000), Protocol::SflowV5, 64, &mut rng);
        assert!((15_000..16_300).contains(&big), "a million packets at 1:64: {big} samples");
        let mut r = flow(5);
        assert!(sample(&mut r, Protocol::Ipfix, 1, &mut rng) == 1 && r.packets == 5, "unsampled: unchanged");
    }

    #[test]
    fn a_sampled_record_shows_its_connections_syn_once_in_the_sampling_rate() {
        use crate::traffic::services::{flags, proto};
        let mut rng = Rng::new(5);
        let (mut records, mut syn) = (0, 0);
        for _ in 0..20_000 {
            let mut r = flow(300);
            (r.proto, r.tcp_flags) = (proto::TCP, flags::SYN | flags::ACK | flags::PSH | flags::FIN);
            if sample(&mut r, Protocol::NetflowV9, 100, &mut rng) == 1 {
                records += 1;
                assert!(r.tcp_flags & (flags::ACK | flags::PSH) == flags::ACK | flags::PSH);
                syn += u32::from(r.tcp_flags & flags::SYN != 0);
            }
        }
        // The SYN is one packet of 300, drawn 1 in 100: in about 200 of 20,000 connections.
        assert!(records > 18_000 && (140..=260).contains(&syn), "{records} records, {syn} with SYN");
        // An attempt that never completed is all SYNs: every record shows it.
        let mut attempt = flow(3);
        (attempt.proto, attempt.tcp_flags) = (proto::TCP, flags::SYN);
        while sample(&mut attempt, Protocol::NetflowV9, 2, &mut rng) == 0 {}
        assert_eq!(attempt.tcp_flags, flags::SYN);
    }
}
