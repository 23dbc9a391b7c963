//! Volumetric floods at one victim: `syn_flood`, `udp_flood`, `icmp_flood`.
//!
//! Each needs both a rate above its floor and a share of the victim's inbound packets,
//! so a busy web server (its handshakes complete) or a fast download (TCP, answered)
//! is not a flood, however large. A SYN flood's share is of the victim's inbound TCP:
//! a media stream or a long UDP transfer whose record lands in the same bucket (one
//! record carries a minute of packets) says nothing about its handshakes, and hid the
//! first window of a flood in the evaluation (seed 111). UDP from a single sender needs a higher floor: one
//! conversation of one-way UDP bulk is ordinary at thousands of packets a second.
//! The floors come down in a small network (`network.rs`) for floods from several
//! sources.

use super::{insight, share, HostWindow, Insight, Kind, NetworkSize, Observation, Thresholds, Why};
use crate::features::Counters;
use std::net::IpAddr;

/// One flood rule: what it counts at the victim, against which floor and share, and
/// what a single source's row would show of it.
struct Rule {
    kind: Kind,
    packets: fn(&Counters) -> i64,
    /// The inbound packets the share is of.
    whole: fn(&Counters) -> i64,
    /// What they are, in the summary.
    whole_name: &'static str,
    min_pps: f64,
    min_share: f64,
    sent: fn(&Counters) -> i64,
    rate_name: &'static str,
    share_name: &'static str,
}

pub(super) fn check(
    w: &HostWindow,
    all: &[HostWindow],
    (t, net): (&Thresholds, &NetworkSize),
    out: &mut Vec<Insight>,
) {
    let c = &w.features.counters;
    let rules = [
        Rule {
            kind: Kind::SynFlood,
            packets: |c| c.syn_packets_in,
            whole: |c| c.packets_in.saturating_sub(c.udp_packets_in).saturating_sub(c.icmp_packets_in),
            whole_name: "inbound TCP packets",
            min_pps: t.syn_flood_pps,
            min_share: t.syn_flood_share,
            sent: |c| c.syn_packets_out,
            rate_name: "syn_only_packets_per_s",
            share_name: "syn_only_share_of_inbound_tcp_packets",
        },
        Rule {
            kind: Kind::UdpFlood,
            packets: |c| c.udp_packets_in.saturating_sub(c.amp_packets_in),
            whole: |c| c.packets_in,
            whole_name: "inbound packets",
            min_pps: t.udp_flood_pps,
            min_share: t.udp_flood_share,
            sent: |c| c.packets_out,
            rate_name: "udp_packets_per_s",
            share_name: "udp_share_of_inbound_packets",
        },
        Rule {
            kind: Kind::IcmpFlood,
            packets: |c| c.icmp_packets_in,
            whole: |c| c.packets_in,
            whole_name: "inbound packets",
            min_pps: t.icmp_flood_pps,
            min_share: t.icmp_flood_share,
            sent: |c| c.packets_out,
            rate_name: "icmp_packets_per_s",
            share_name: "icmp_share_of_inbound_packets",
        },
    ];
    for rule in rules {
        let packets = (rule.packets)(c);
        let (kind, min_share) = (rule.kind, rule.min_share);
        let floor = net.floor(w.exporter, rule.min_pps, t);
        let pps = w.per_s(packets);
        let part = share(packets, (rule.whole)(c));
        if pps < floor.pps || part < min_share {
            continue;
        }
        let reply = share(c.packets_out, c.packets_in);
        if kind == Kind::UdpFlood && reply > t.udp_flood_max_reply {
            continue;
        }
        let sources = w.features.sources_in.estimate();
        let source = single_source(w, all, packets, rule.sent);
        let min_pps = match source {
            // One sender is one conversation: only the configured floors apply.
            Some(_) if kind == Kind::UdpFlood => t.udp_flood_single_source_pps.max(rule.min_pps),
            Some(_) => rule.min_pps,
            None => floor.pps,
        };
        if pps < min_pps || (floor.scaled && source.is_none() && sources < t.scaled_floor_min_sources) {
            continue;
        }
        let mut observed = vec![
            Observation { feature: rule.rate_name, value: pps, threshold: min_pps },
            Observation { feature: rule.share_name, value: part, threshold: min_share },
            Observation {
                feature: "distinct_sources",
                value: sources,
                threshold: if floor.scaled { t.scaled_floor_min_sources } else { 0.0 },
            },
        ];
        let mut summary = format!(
            "{pps:.0} packets/s at {} ({:.0} % of its {}) from about {sources:.0} sources; threshold {min_pps:.0}/s",
            w.host,
            part * 100.0,
            rule.whole_name
        );
        if let (true, Some(usual)) = (floor.scaled && source.is_none(), net.pps(w.exporter)) {
            summary.push_str(&format!(
                " (lowered from {:.0}/s: the exporter usually carries {usual:.0} packets/s)",
                rule.min_pps
            ));
            observed.push(Observation {
                feature: "exporter_usual_packets_per_s",
                value: usual,
                threshold: 0.0,
            });
        }
        out.push(insight(w, kind, (pps, min_pps), source, Some(w.host), Why { summary, observed }));
    }
}

/// The one host that sent at least half of the victim's packets, when that host's own
/// row shows it (spoofed floods have none), however many other sources the victim has:
/// a one-way stream beside a few dozen light conversations is still one conversation,
/// and a lowered floor's "several sources" are several senders, not one sender and its
/// company (at 3,000 flows/s, seed 108's evaluation reported an unanswered RTP stream
/// at a server with 17 other sources as a flood against the network-sized floor).
fn single_source(
    victim: &HostWindow,
    all: &[HostWindow],
    packets: i64,
    sent: fn(&Counters) -> i64,
) -> Option<IpAddr> {
    all.iter()
        .filter(|w| w.exporter == victim.exporter && w.host != victim.host)
        .filter(|w| {
            w.features.peers_out.estimate() < 3.0 && w.features.peers_out.may_contain_addr(victim.host)
        })
        .max_by_key(|w| (sent(&w.features.counters), w.host))
        .filter(|w| sent(&w.features.counters) * 2 >= packets)
        .map(|w| w.host)
}
