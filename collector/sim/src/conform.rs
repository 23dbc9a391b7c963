//! What each protocol can carry, and so what the collector will count.
//!
//! The traffic model draws flows in full detail; an exporter of a given protocol can
//! only say part of it. [`conform`] turns a drawn flow into exactly the record a
//! correct decoder reads back from that exporter's datagrams, which is the
//! simulator's account of what it sent (the summary adds these up):
//!
//! | protocol | what changes |
//! |---|---|
//! | NetFlow v5 | IPv4 only (exporters of v5 never draw IPv6); 16-bit interfaces; 32-bit counters; 8-bit TCP flags; 4-byte ASNs become AS_TRANS (23456) as routers write them; no VLAN or MACs; next hop 0.0.0.0 when none; the header's 14-bit sampling interval |
//! | NetFlow v9 | everything of FlowVision's template; 8-bit TCP flags; no MACs |
//! | IPFIX | everything of FlowVision's template (16-bit TCP flags); no MACs |
//! | sFlow v5 | one flow sample per simulated flow, describing ONE sampled packet: packets = 1, bytes = that frame's length on the wire (Ethernet header, VLAN tag and FCS included), the TCP flags of that one packet; no times (sFlow has none) |
//!
//! Flow start times are never before the exporter's boot (a router exports nothing
//! it saw before it started, and its sysUpTime-relative times cannot say so).

use crate::rng::Rng;
use crate::traffic::services::{flags, proto};
use flowvision_codec::encode::sflow::{DEFAULT_DST_MAC, DEFAULT_SRC_MAC};
use flowvision_codec::{FlowRecord, Protocol, SamplingOrigin};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// RFC 6793 AS_TRANS: what a 2-byte-only export format carries for a 4-byte ASN.
pub const AS_TRANS: u32 = 23_456;
/// Ethernet header (without VLAN tag).
const ETHERNET: u64 = 14;
/// 802.1Q tag.
const VLAN_TAG: u64 = 4;
/// Frame check sequence, counted in sFlow's frame length.
const FCS: u64 = 4;

/// Whether records of `protocol` can carry IPv6 addresses.
pub fn carries_ipv6(protocol: Protocol) -> bool {
    protocol != Protocol::NetflowV5
}

/// The export stream a record goes out on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stream {
    /// Export protocol.
    pub protocol: Protocol,
    /// Exporter (UDP source; sFlow agent address).
    pub exporter: IpAddr,
    /// Observation domain as decoded: v5 engine type << 8 | engine id, v9 source id,
    /// IPFIX observation domain, sFlow sub-agent.
    pub domain: u32,
    /// The exporter's packet sampling rate (1 in N).
    pub sampling_rate: u32,
}

impl Stream {
    /// The v5 header's sampling interval (14 bits).
    pub fn v5_interval(&self) -> u16 {
        (self.sampling_rate & 0x3fff) as u16
    }
}

/// Rewrites `rec` into what `stream`'s protocol carries (see the module docs).
/// Returns `false` (record unchanged) when the protocol cannot carry it at all:
/// an IPv6 flow on a v5 exporter.
pub fn conform(rec: &mut FlowRecord, stream: &Stream, boot_ms: i64, rng: &mut Rng) -> bool {
    rec.protocol = stream.protocol;
    rec.exporter = stream.exporter;
    rec.observation_domain = stream.domain;
    rec.mpls_label = 0;
    rec.direction = None;
    rec.sampler_id = None;
    rec.enterprise = (0, 0);
    if stream.protocol == Protocol::SflowV5 {
        conform_sflow(rec, stream, rng);
        return true;
    }
    rec.src_mac = None;
    rec.dst_mac = None;
    if let (Some(s), Some(e)) = (rec.flow_start_ms, rec.flow_end_ms) {
        let s = s.max(boot_ms);
        rec.flow_start_ms = Some(s);
        rec.flow_end_ms = Some(e.max(s));
    }
    let v6 = matches!(rec.src_addr, Some(IpAddr::V6(_)));
    let unspecified = if v6 { IpAddr::V6(Ipv6Addr::UNSPECIFIED) } else { IpAddr::V4(Ipv4Addr::UNSPECIFIED) };
    if rec.next_hop.is_none() {
        rec.next_hop = Some(unspecified);
    }
    match stream.protocol {
        Protocol::NetflowV5 => {
            if v6 || matches!(rec.dst_addr, Some(IpAddr::V6(_))) {
                return false;
            }
            if !matches!(rec.next_hop, Some(IpAddr::V4(_))) {
                rec.next_hop = Some(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
            }
            rec.in_if &= 0xffff;
            rec.out_if &= 0xffff;
            rec.packets = rec.packets.min(u64::from(u32::MAX));
            rec.bytes = rec.bytes.min(u64::from(u32::MAX));
            rec.tcp_flags &= 0xff;
            for asn in [&mut rec.src_as, &mut rec.dst_as] {
                if *asn > 0xffff {
                    *asn = AS_TRANS;
                }
            }
            rec.vlan = 0;
            let interval = u32::from(stream.v5_interval());
            (rec.sampling_rate, rec.sampling_origin) = if interval > 1 {
                (interval, SamplingOrigin::V5Header)
            } else {
                (1, SamplingOrigin::Unsampled)
            };
        }
        Protocol::NetflowV9 | Protocol::Ipfix => {
            if stream.protocol == Protocol::NetflowV9 {
                rec.tcp_flags &= 0xff;
            }
            rec.vlan &= 0x0fff;
            rec.sampling_rate = stream.sampling_rate.max(1);
            rec.sampling_origin = SamplingOrigin::Record;
        }
        Protocol::SflowV5 => {}
    }
    true
}

/// One flow sample: a single packet of the flow, as the agent's sampler saw it.
fn conform_sflow(rec: &mut FlowRecord, stream: &Stream, rng: &mut Rng) {
    let v6 = matches!(rec.src_addr, Some(IpAddr::V6(_)));
    let tcp = rec.proto == proto::TCP;
    let l4 = match rec.proto {
        proto::TCP => 20,
        proto::UDP | proto::ICMP | proto::ICMPV6 => 8,
        132 => 12, // SCTP
        _ => 0,
    };
    let l2 = ETHERNET + if rec.vlan & 0x0fff != 0 { VLAN_TAG } else { 0 };
    let min_frame = l2 + if v6 { 40 } else { 20 } + l4 + FCS;
    let mean_ip = rec.bytes.checked_div(rec.packets).unwrap_or(rec.bytes);
    // A data-carrying TCP flow is about one third bare ACKs.
    let (packet_flags, ip_len) = if tcp {
        // Ephemeral ports open connections: the higher port is the side that sent SYN.
        let initiator = rec.src_port > rec.dst_port;
        let f = packet_flags(rec.tcp_flags, rec.packets, initiator, rng);
        if f == flags::ACK {
            (f, 0)
        } else {
            (f, mean_ip)
        }
    } else {
        (0, mean_ip)
    };
    rec.tcp_flags = packet_flags;
    rec.bytes = (ip_len + l2 + FCS).clamp(min_frame, u64::from(u32::MAX));
    rec.packets = 1;
    if !matches!(rec.proto, proto::TCP | proto::UDP | proto::ICMP | proto::ICMPV6 | 132) {
        rec.src_port = 0;
        rec.dst_port = 0;
    }
    if matches!(rec.proto, proto::ICMP | proto::ICMPV6) {
        rec.src_port = 0;
    }
    rec.flow_start_ms = None;
    rec.flow_end_ms = None;
    rec.vlan &= 0x0fff;
    rec.src_mac = Some(rec.src_mac.unwrap_or(DEFAULT_SRC_MAC));
    rec.dst_mac = Some(rec.dst_mac.unwrap_or(DEFAULT_DST_MAC));
    rec.sampling_rate = stream.sampling_rate.max(1);
    rec.sampling_origin = SamplingOrigin::SflowSample;
}

/// The flags of one packet drawn at random from a TCP flow of `packets` packets whose
/// cumulative flags are `cumulative`. A connection has one opening segment (SYN from
/// the `initiator`, SYN-ACK from the other side) and one closing one (FIN or RST), so
/// a sample is either with probability 1 in `packets`: a sampled bulk transfer is
/// almost all data segments, and a sampled SYN is one new connection.
fn packet_flags(cumulative: u16, packets: u64, initiator: bool, rng: &mut Rng) -> u16 {
    use flags::*;
    let c = cumulative & 0xff;
    if c & ACK == 0 || c == RST | ACK {
        // SYN-only attempts and bare resets: every packet looks the same.
        return c;
    }
    // Which packet of the flow this is, and (the fraction) what kind of data segment.
    let n = packets.max(1) as f64;
    let at = rng.f64() * n;
    let data = at.fract();
    if c & SYN != 0 && at < 1.0 {
        if initiator {
            SYN
        } else {
            SYN | ACK
        }
    } else if c & (FIN | RST) != 0 && at >= n - 1.0 {
        if c & RST != 0 {
            RST | ACK
        } else {
            FIN | ACK
        }
    } else if c & PSH != 0 && data >= 0.35 {
        PSH | ACK
    } else {
        ACK
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;

    fn flow() -> FlowRecord {
        FlowRecord {
            src_addr: Some("10.0.0.1".parse().unwrap()),
            dst_addr: Some("192.0.2.1".parse().unwrap()),
            proto: proto::TCP,
            tcp_flags: 0x1b,
            packets: 10,
            bytes: 10 * 1000,
            src_as: 64_500,
            dst_as: 200_000,
            vlan: 100,
            flow_start_ms: Some(1_000),
            flow_end_ms: Some(5_000),
            ..FlowRecord::default()
        }
    }

    fn stream(protocol: Protocol) -> Stream {
        Stream { protocol, exporter: "127.1.0.1".parse().unwrap(), domain: 3, sampling_rate: 100 }
    }

    #[test]
    fn v5_limits() {
        let mut rng = Rng::new(1);
        let mut r = flow();
        assert!(conform(&mut r, &stream(Protocol::NetflowV5), 2_000, &mut rng));
        assert_eq!((r.src_as, r.dst_as, r.vlan), (64_500, AS_TRANS, 0));
        assert_eq!(r.next_hop, Some("0.0.0.0".parse().unwrap()));
        assert_eq!((r.flow_start_ms, r.flow_end_ms), (Some(2_000), Some(5_000)));
        assert_eq!((r.sampling_rate, r.sampling_origin), (100, SamplingOrigin::V5Header));
        let mut v6 = flow();
        v6.src_addr = Some("2001:db8::1".parse().unwrap());
        assert!(!conform(&mut v6, &stream(Protocol::NetflowV5), 0, &mut rng));
    }

    #[test]
    fn sflow_is_one_packet() {
        let mut rng = Rng::new(1);
        for _ in 0..1000 {
            let mut r = flow();
            conform(&mut r, &stream(Protocol::SflowV5), 0, &mut rng);
            assert_eq!(r.packets, 1);
            assert!(r.bytes == 14 + 4 + 20 + 20 + 4 || r.bytes == 1000 + 14 + 4 + 4, "{}", r.bytes);
            assert!(r.tcp_flags & flags::ACK != 0 && r.tcp_flags & !0x1b == 0);
            assert_eq!(r.flow_start_ms, None);
            assert_eq!(r.src_mac, Some(DEFAULT_SRC_MAC));
        }
        let mut syn = flow();
        syn.tcp_flags = flags::SYN;
        conform(&mut syn, &stream(Protocol::SflowV5), 0, &mut rng);
        assert_eq!(syn.tcp_flags, flags::SYN);
    }

    #[test]
    fn a_sampled_packet_opens_its_connection_once_in_the_flows_packets() {
        let mut rng = Rng::new(7);
        let draws = 100_000;
        let mut opening = [0u32; 2];
        for (side, (sp, dp)) in [(50_000, 443), (443, 50_000)].into_iter().enumerate() {
            for _ in 0..draws {
                let mut r = flow();
                (r.src_port, r.dst_port, r.packets, r.bytes) = (sp, dp, 1_000, 1_000_000);
                conform(&mut r, &stream(Protocol::SflowV5), 0, &mut rng);
                if r.tcp_flags & flags::SYN != 0 {
                    // The client's SYN carries no ACK; the server's answer does.
                    assert_eq!(r.tcp_flags & flags::ACK == 0, side == 0, "{:#x}", r.tcp_flags);
                    opening[side] += 1;
                }
            }
        }
        // 1 in 1,000 packets of a long transfer: about 100 of 100,000 samples.
        assert!(opening.iter().all(|n| (60..=140).contains(n)), "{opening:?}");
    }
}
