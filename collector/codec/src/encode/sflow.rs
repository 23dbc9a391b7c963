//! sFlow v5 encoder: one agent's stream of datagrams carrying flow samples (one per
//! [`FlowRecord`]) and counter samples (one per [`InterfaceCounters`]).
//!
//! A flow record becomes what a switch would send for one sampled packet: a flow
//! sample with a raw packet header record holding a synthesized Ethernet (+ 802.1Q
//! tag when `vlan != 0`) + IPv4/IPv6 + TCP/UDP/UDP-Lite/SCTP/ICMP header built from the
//! record, a frame length of `bytes`, and extended switch / router / gateway records when
//! the record has a VLAN / next hop or prefix lengths / AS numbers. FlowVision's
//! decoder reads every one of those fields back unchanged, and tshark dissects the
//! result without complaint.
//!
//! Limits of the mapping (what cannot come back from a sampled packet):
//! `packets` is always 1, times, direction, sampler id and MPLS label are not written,
//! ports survive only for protocols with ports (TCP, UDP, UDP-Lite, SCTP; ICMP and
//! ICMPv6 carry `dst_port` as `type << 8 | code`), TCP flags (TCP only) keep 8 bits,
//! the VLAN keeps 12 bits, a source and destination of different families are written
//! with the source's family (the other address as unspecified), absent MACs become
//! [`DEFAULT_SRC_MAC`]/[`DEFAULT_DST_MAC`], `bytes` is clamped to 32 bits and raised to
//! at least the synthesized headers plus FCS (a frame cannot be shorter than its
//! headers: 58 bytes for untagged IPv4/TCP), and an interface of `u32::MAX` (sFlow's
//! "the device itself") decodes as 0.

use super::{put_u16, put_u32, put_u64, DEFAULT_MAX_DATAGRAM};
use crate::packet::{
    ETHERTYPE_IPV4, ETHERTYPE_IPV6, ETHERTYPE_VLAN, PROTO_ICMP, PROTO_ICMPV6, PROTO_SCTP, PROTO_TCP,
    PROTO_UDP, PROTO_UDPLITE,
};
use crate::record::{FlowRecord, InterfaceCounters};
use crate::sflow::{
    ADDRESS_IPV4, ADDRESS_IPV6, ADDRESS_UNKNOWN, AS_SEQUENCE, COUNTERS_GENERIC_INTERFACE,
    FLOW_EXTENDED_GATEWAY, FLOW_EXTENDED_ROUTER, FLOW_EXTENDED_SWITCH, FLOW_RAW_HEADER,
    GENERIC_INTERFACE_LEN, HEADER_ETHERNET, INTERFACE_LOCAL, SAMPLE_COUNTERS, SAMPLE_COUNTERS_EXPANDED,
    SAMPLE_FLOW, SAMPLE_FLOW_EXPANDED, VERSION,
};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Source MAC written when a record has none (locally administered, unicast).
pub const DEFAULT_SRC_MAC: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x01];
/// Destination MAC written when a record has none.
pub const DEFAULT_DST_MAC: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x02];

/// EtherType written for records without IP addresses (IEEE 802 local experimental),
/// so that no dissector expects a payload.
const ETHERTYPE_NO_IP: u16 = 0x88b5;
/// The sampled frames' FCS: counted in `frame_length`, stripped from the header.
const FCS_LEN: usize = 4;
/// Largest data source index of the compact encodings (24 bits).
const COMPACT_SOURCE_MAX: u32 = 0x00ff_ffff;
/// IANA ifType ethernetCsmacd.
const IF_TYPE_ETHERNET: u32 = 6;
/// ifDirection full-duplex.
const IF_DIRECTION_FULL_DUPLEX: u32 = 1;
/// ifStatus: bit 0 admin up, bit 1 oper up.
const IF_STATUS_UP: u32 = 3;

/// One sample to encode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SflowSample<'a> {
    /// A flow sample describing one sampled packet.
    Flow(&'a FlowRecord),
    /// A counter sample with generic interface counters.
    Counters(&'a InterfaceCounters),
}

/// One sFlow agent's export stream (one agent address and sub-agent).
///
/// Datagram sequence numbers start at 1 and count datagrams; flow and counter sample
/// sequence numbers count samples of each kind (a real agent counts per data source;
/// one counter per kind is enough for collectors, which track the datagram sequence).
#[derive(Debug, Clone)]
pub struct SflowEncoder {
    /// Agent address written in every datagram (the decoded records' exporter).
    pub agent: IpAddr,
    /// Sub-agent id (the decoded records' observation domain).
    pub sub_agent: u32,
    /// Largest datagram written; a single sample larger than this still goes out
    /// alone in its own datagram.
    pub max_datagram: usize,
    sequence: u32,
    flow_sequence: u32,
    counter_sequence: u32,
    buf: Vec<u8>,
    sample: Vec<u8>,
}

impl SflowEncoder {
    /// A new stream: sequence numbers at 1, datagrams of up to
    /// [`DEFAULT_MAX_DATAGRAM`] bytes.
    pub fn new(agent: IpAddr, sub_agent: u32) -> Self {
        SflowEncoder {
            agent,
            sub_agent,
            max_datagram: DEFAULT_MAX_DATAGRAM,
            sequence: 1,
            flow_sequence: 1,
            counter_sequence: 1,
            buf: Vec::with_capacity(DEFAULT_MAX_DATAGRAM + 512),
            sample: Vec::with_capacity(512),
        }
    }

    /// The sequence number of the next datagram.
    pub fn sequence(&self) -> u32 {
        self.sequence
    }

    /// Simulates an agent restart: every sequence number back to 1.
    pub fn restart(&mut self) {
        self.sequence = 1;
        self.flow_sequence = 1;
        self.counter_sequence = 1;
    }

    /// Encodes `records` as flow samples, as many per datagram as fit
    /// [`SflowEncoder::max_datagram`], calling `emit` with each datagram.
    ///
    /// `uptime_ms` is the agent's uptime written in the headers.
    pub fn encode_flows(&mut self, uptime_ms: u32, records: &[FlowRecord], emit: impl FnMut(&[u8])) {
        self.encode(uptime_ms, records.iter().map(SflowSample::Flow), emit);
    }

    /// Encodes `counters` as counter samples (one generic interface record each).
    pub fn encode_counters(
        &mut self,
        uptime_ms: u32,
        counters: &[InterfaceCounters],
        emit: impl FnMut(&[u8]),
    ) {
        self.encode(uptime_ms, counters.iter().map(SflowSample::Counters), emit);
    }

    /// Encodes any mix of samples, in order, splitting datagrams at
    /// [`SflowEncoder::max_datagram`]. Nothing is emitted for an empty input.
    pub fn encode<'a>(
        &mut self,
        uptime_ms: u32,
        samples: impl IntoIterator<Item = SflowSample<'a>>,
        mut emit: impl FnMut(&[u8]),
    ) {
        let mut count = 0u32;
        self.start_datagram(uptime_ms);
        for sample in samples {
            self.sample.clear();
            match sample {
                SflowSample::Flow(record) => {
                    write_flow_sample(&mut self.sample, record, self.flow_sequence);
                    self.flow_sequence = self.flow_sequence.wrapping_add(1);
                }
                SflowSample::Counters(counters) => {
                    write_counter_sample(&mut self.sample, counters, self.counter_sequence);
                    self.counter_sequence = self.counter_sequence.wrapping_add(1);
                }
            }
            if count > 0 && self.buf.len() + self.sample.len() > self.max_datagram {
                self.finish_datagram(count, &mut emit);
                self.start_datagram(uptime_ms);
                count = 0;
            }
            self.buf.extend_from_slice(&self.sample);
            count += 1;
        }
        if count > 0 {
            self.finish_datagram(count, &mut emit);
        }
    }

    fn start_datagram(&mut self, uptime_ms: u32) {
        let out = &mut self.buf;
        out.clear();
        put_u32(out, VERSION);
        put_address(out, Some(self.agent));
        put_u32(out, self.sub_agent);
        put_u32(out, self.sequence);
        put_u32(out, uptime_ms);
        put_u32(out, 0); // sample count, patched when the datagram is complete
    }

    fn finish_datagram(&mut self, count: u32, emit: &mut impl FnMut(&[u8])) {
        let count_at = match self.agent {
            IpAddr::V4(_) => 24,
            IpAddr::V6(_) => 36,
        };
        patch_u32(&mut self.buf, count_at, count);
        emit(&self.buf);
        self.sequence = self.sequence.wrapping_add(1);
    }
}

/// Writes `v` big-endian at `at` (length and count fields filled in afterwards).
fn patch_u32(out: &mut [u8], at: usize, v: u32) {
    if let Some(dst) = out.get_mut(at..at + 4) {
        dst.copy_from_slice(&v.to_be_bytes());
    }
}

/// Starts an `opaque<>`: a length placeholder, returned for [`end_opaque`].
fn begin_opaque(out: &mut Vec<u8>) -> usize {
    let at = out.len();
    put_u32(out, 0);
    at
}

/// Pads the opaque begun at `at` to 4 bytes and writes its (unpadded) length.
fn end_opaque(out: &mut Vec<u8>, at: usize) {
    let len = out.len().saturating_sub(at + 4);
    out.resize(out.len() + (4 - len % 4) % 4, 0);
    patch_u32(out, at, u32::try_from(len).unwrap_or(u32::MAX));
}

fn put_address(out: &mut Vec<u8>, addr: Option<IpAddr>) {
    match addr {
        None => put_u32(out, ADDRESS_UNKNOWN),
        Some(IpAddr::V4(a)) => {
            put_u32(out, ADDRESS_IPV4);
            out.extend_from_slice(&a.octets());
        }
        Some(IpAddr::V6(a)) => {
            put_u32(out, ADDRESS_IPV6);
            out.extend_from_slice(&a.octets());
        }
    }
}

fn write_flow_sample(out: &mut Vec<u8>, r: &FlowRecord, sequence: u32) {
    // The compact form holds a 24-bit data source and 30-bit interfaces; anything
    // bigger needs the expanded sample, as agents do for large ifIndex values.
    let compact = r.in_if <= COMPACT_SOURCE_MAX && r.out_if < INTERFACE_LOCAL;
    put_u32(out, if compact { SAMPLE_FLOW } else { SAMPLE_FLOW_EXPANDED });
    let sample_at = begin_opaque(out);
    put_u32(out, sequence);
    // Data source: ifIndex (type 0) of the input interface, where sampling happened.
    if !compact {
        put_u32(out, 0);
    }
    put_u32(out, r.in_if);
    let rate = r.sampling_rate.max(1);
    put_u32(out, rate);
    put_u32(out, sequence.wrapping_mul(rate)); // sample pool: packets seen so far
    put_u32(out, 0); // drops
    if compact {
        put_u32(out, r.in_if);
        put_u32(out, r.out_if);
    } else {
        put_u32(out, 0);
        put_u32(out, r.in_if);
        put_u32(out, 0);
        put_u32(out, r.out_if);
    }
    let count_at = out.len();
    put_u32(out, 0);
    let mut records = 1;
    raw_header_record(out, r);
    if r.vlan != 0 {
        put_u32(out, FLOW_EXTENDED_SWITCH);
        put_u32(out, 16);
        for v in [u32::from(r.vlan & 0x0fff), 0, u32::from(r.vlan & 0x0fff), 0] {
            put_u32(out, v);
        }
        records += 1;
    }
    if r.next_hop.is_some() || r.src_mask != 0 || r.dst_mask != 0 {
        put_u32(out, FLOW_EXTENDED_ROUTER);
        let at = begin_opaque(out);
        put_address(out, r.next_hop);
        put_u32(out, u32::from(r.src_mask));
        put_u32(out, u32::from(r.dst_mask));
        end_opaque(out, at);
        records += 1;
    }
    if r.src_as != 0 || r.dst_as != 0 {
        put_u32(out, FLOW_EXTENDED_GATEWAY);
        let at = begin_opaque(out);
        put_address(out, r.next_hop);
        put_u32(out, 0); // the router's own AS: not known from a flow record
        put_u32(out, r.src_as);
        put_u32(out, 0); // source peer AS
        if r.dst_as != 0 {
            for v in [1, AS_SEQUENCE, 1, r.dst_as] {
                put_u32(out, v);
            }
        } else {
            put_u32(out, 0);
        }
        put_u32(out, 0); // communities
        put_u32(out, 0); // local preference
        end_opaque(out, at);
        records += 1;
    }
    patch_u32(out, count_at, records);
    end_opaque(out, sample_at);
}

fn raw_header_record(out: &mut Vec<u8>, r: &FlowRecord) {
    let bytes = u32::try_from(r.bytes).unwrap_or(u32::MAX);
    put_u32(out, FLOW_RAW_HEADER);
    let at = begin_opaque(out);
    put_u32(out, HEADER_ETHERNET);
    let frame_length_at = out.len();
    put_u32(out, bytes);
    put_u32(out, FCS_LEN as u32); // stripped
    let header_at = begin_opaque(out);
    write_frame(out, r, bytes as usize);
    // A frame is never shorter than its own headers (and dissectors treat the frame
    // length as the header's real length), so tiny byte counts are raised to that.
    let header_len = out.len() - header_at - 4;
    let min_frame = u32::try_from(header_len + FCS_LEN).unwrap_or(u32::MAX);
    patch_u32(out, frame_length_at, bytes.max(min_frame));
    end_opaque(out, header_at);
    end_opaque(out, at);
}

/// The two addresses in one family, or `None` when the record has no address.
fn addresses(r: &FlowRecord) -> Option<(IpAddr, IpAddr)> {
    let v4 = |a: Option<IpAddr>| match a {
        Some(IpAddr::V4(a)) => a,
        _ => Ipv4Addr::UNSPECIFIED,
    };
    let v6 = |a: Option<IpAddr>| match a {
        Some(IpAddr::V6(a)) => a,
        _ => Ipv6Addr::UNSPECIFIED,
    };
    match r.src_addr.or(r.dst_addr)? {
        IpAddr::V4(_) => Some((IpAddr::V4(v4(r.src_addr)), IpAddr::V4(v4(r.dst_addr)))),
        IpAddr::V6(_) => Some((IpAddr::V6(v6(r.src_addr)), IpAddr::V6(v6(r.dst_addr)))),
    }
}

/// Synthesizes the first bytes of the sampled frame: L2, L3 and the L4 header.
fn write_frame(out: &mut Vec<u8>, r: &FlowRecord, frame_length: usize) {
    out.extend_from_slice(&r.dst_mac.unwrap_or(DEFAULT_DST_MAC));
    out.extend_from_slice(&r.src_mac.unwrap_or(DEFAULT_SRC_MAC));
    let mut l2_len = 14;
    if r.vlan != 0 {
        put_u16(out, ETHERTYPE_VLAN);
        put_u16(out, r.vlan & 0x0fff);
        l2_len += 4;
    }
    let Some((src, dst)) = addresses(r) else {
        put_u16(out, ETHERTYPE_NO_IP);
        return;
    };
    let l4_len = match r.proto {
        PROTO_TCP => 20,
        PROTO_UDP | PROTO_UDPLITE | PROTO_ICMP | PROTO_ICMPV6 => 8,
        PROTO_SCTP => 12,
        _ => 0,
    };
    let ip_header_len = if src.is_ipv4() { 20 } else { 40 };
    // The IP length the frame length implies, never shorter than the headers written.
    let ip_len = frame_length.saturating_sub(l2_len + FCS_LEN).clamp(ip_header_len + l4_len, 65_535);
    match (src, dst) {
        (IpAddr::V4(src), IpAddr::V4(dst)) => {
            put_u16(out, ETHERTYPE_IPV4);
            let start = out.len();
            out.extend_from_slice(&[0x45, r.tos]);
            put_u16(out, ip_len as u16);
            put_u16(out, 0); // identification
            put_u16(out, 0x4000); // don't fragment
            out.extend_from_slice(&[64, r.proto, 0, 0]);
            out.extend_from_slice(&src.octets());
            out.extend_from_slice(&dst.octets());
            let checksum = ipv4_checksum(out.get(start..).unwrap_or(&[]));
            if let Some(dst) = out.get_mut(start + 10..start + 12) {
                dst.copy_from_slice(&checksum.to_be_bytes());
            }
        }
        (IpAddr::V6(src), IpAddr::V6(dst)) => {
            put_u16(out, ETHERTYPE_IPV6);
            put_u32(out, 6 << 28 | u32::from(r.tos) << 20);
            put_u16(out, (ip_len - 40) as u16);
            out.extend_from_slice(&[r.proto, 64]);
            out.extend_from_slice(&src.octets());
            out.extend_from_slice(&dst.octets());
        }
        _ => return, // `addresses` returns one family
    }
    let l4_payload = ip_len - ip_header_len;
    match r.proto {
        PROTO_TCP => {
            put_u16(out, r.src_port);
            put_u16(out, r.dst_port);
            put_u64(out, 0); // sequence and acknowledgment numbers
            out.extend_from_slice(&[0x50, r.tcp_flags as u8]);
            put_u16(out, 65_535); // window
            put_u32(out, 0); // checksum, urgent pointer
        }
        PROTO_UDP | PROTO_UDPLITE => {
            put_u16(out, r.src_port);
            put_u16(out, r.dst_port);
            // UDP length; for UDP-Lite the checksum coverage, where 0 means all.
            put_u16(out, if r.proto == PROTO_UDP { l4_payload as u16 } else { 0 });
            put_u16(out, 0);
        }
        PROTO_SCTP => {
            put_u16(out, r.src_port);
            put_u16(out, r.dst_port);
            put_u64(out, 0); // verification tag, checksum
        }
        PROTO_ICMP | PROTO_ICMPV6 => {
            out.extend_from_slice(&r.dst_port.to_be_bytes()); // type, code
            put_u16(out, 0); // checksum
            put_u32(out, 0); // rest of header
        }
        _ => {}
    }
}

fn ipv4_checksum(header: &[u8]) -> u16 {
    let mut sum: u32 = header
        .chunks(2)
        .map(|w| {
            u32::from(u16::from_be_bytes([w.first().copied().unwrap_or(0), w.get(1).copied().unwrap_or(0)]))
        })
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

fn write_counter_sample(out: &mut Vec<u8>, c: &InterfaceCounters, sequence: u32) {
    let compact = c.if_index <= COMPACT_SOURCE_MAX;
    put_u32(out, if compact { SAMPLE_COUNTERS } else { SAMPLE_COUNTERS_EXPANDED });
    let sample_at = begin_opaque(out);
    put_u32(out, sequence);
    if !compact {
        put_u32(out, 0);
    }
    put_u32(out, c.if_index);
    put_u32(out, 1); // one counter record
    put_u32(out, COUNTERS_GENERIC_INTERFACE);
    put_u32(out, GENERIC_INTERFACE_LEN as u32);
    put_u32(out, c.if_index);
    put_u32(out, IF_TYPE_ETHERNET);
    put_u64(out, c.if_speed);
    put_u32(out, IF_DIRECTION_FULL_DUPLEX);
    put_u32(out, IF_STATUS_UP);
    put_u64(out, c.in_octets);
    for v in [c.in_ucast_pkts, 0, 0, c.in_discards, c.in_errors, 0] {
        put_u32(out, v); // unicast, multicast, broadcast, discards, errors, unknown protos
    }
    put_u64(out, c.out_octets);
    for v in [c.out_ucast_pkts, 0, 0, c.out_discards, c.out_errors, 0] {
        put_u32(out, v); // unicast, multicast, broadcast, discards, errors, promiscuous
    }
    end_opaque(out, sample_at);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;
    use crate::output::DecodeOutput;
    use crate::record::{Protocol, SamplingOrigin};

    fn record(i: u32) -> FlowRecord {
        let mut r = FlowRecord::new(Protocol::SflowV5, IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        r.src_addr = Some(IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i)));
        r.dst_addr = Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 80)));
        r.proto = PROTO_TCP;
        r.src_port = 40_000 + i as u16;
        r.dst_port = 443;
        r.tcp_flags = 0x18;
        r.bytes = 1514;
        r.sampling_rate = 512;
        r.in_if = 3;
        r.out_if = 4;
        r.vlan = 20;
        r.next_hop = Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 254)));
        (r.src_mask, r.dst_mask) = (8, 24);
        (r.src_as, r.dst_as) = (64_500, 64_501);
        r
    }

    #[test]
    fn datagrams_respect_max_size_and_sequence() {
        let agent = IpAddr::V6("2001:db8::5".parse().unwrap());
        let mut enc = SflowEncoder::new(agent, 3);
        enc.max_datagram = 600;
        let records: Vec<_> = (0..20).map(record).collect();
        let mut datagrams = Vec::new();
        enc.encode_flows(1000, &records, |d| datagrams.push(d.to_vec()));
        assert!(datagrams.len() > 1);
        assert!(datagrams.iter().all(|d| d.len() <= 600));
        assert_eq!(enc.sequence(), datagrams.len() as u32 + 1);
        let mut out = DecodeOutput::default();
        for (i, d) in datagrams.iter().enumerate() {
            let info = crate::sflow::decode(IpAddr::V4(Ipv4Addr::LOCALHOST), d, &mut out).unwrap();
            assert_eq!(info.sequence, i as u32 + 1);
        }
        assert_eq!(out.records.len(), 20);
        for (got, want) in out.records.iter().zip(&records) {
            assert_eq!(got.exporter, agent);
            assert_eq!(got.observation_domain, 3);
            assert_eq!(got.sampling_origin, SamplingOrigin::SflowSample);
            assert_eq!(
                (got.src_addr, got.src_port, got.vlan, got.dst_as),
                (want.src_addr, want.src_port, 20, 64_501)
            );
        }
    }

    #[test]
    fn oversized_sample_still_goes_out_alone() {
        let mut enc = SflowEncoder::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), 0);
        enc.max_datagram = 10;
        let mut n = 0;
        enc.encode_flows(0, &[record(1), record(2)], |_| n += 1);
        assert_eq!(n, 2);
        enc.encode_flows(0, &[], |_| n += 1);
        assert_eq!(n, 2);
    }

    #[test]
    fn checksum_of_a_known_header() {
        // Example from RFC 1071 style worked examples (Wikipedia's IPv4 checksum).
        let h = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01,
            0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert_eq!(ipv4_checksum(&h), 0xb861);
    }
}
