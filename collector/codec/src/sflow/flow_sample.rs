//! Flow samples (formats 1 and 3): one sampled packet, described by a list of flow
//! records, becomes one [`FlowRecord`] with `packets = 1`.
//!
//! Records may come in any order, so their contents are collected first and merged
//! once the sample is complete: the raw packet header wins for the 5-tuple, sampled
//! IPv4/IPv6 records fill in when there is none (or it held no IP packet).

use super::{
    xdr, Agent, FLOW_ETHERNET, FLOW_EXTENDED_GATEWAY, FLOW_EXTENDED_ROUTER, FLOW_EXTENDED_SWITCH, FLOW_IPV4,
    FLOW_IPV6, FLOW_RAW_HEADER, HEADER_ETHERNET, HEADER_IPV4, HEADER_IPV6, INTERFACE_LOCAL,
    INTERFACE_LOCAL_EXPANDED,
};
use crate::cursor::Cursor;
use crate::error::Result;
use crate::packet::{self, PacketSummary};
use crate::record::{FlowRecord, Protocol, SamplingOrigin};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Decodes the body of a flow sample (`expanded`: format 3).
pub(super) fn decode(agent: &Agent, body: &[u8], expanded: bool) -> Result<FlowRecord> {
    let mut cur =
        Cursor::new(body, if expanded { "sflow expanded flow sample" } else { "sflow flow sample" });
    let _sample_sequence = cur.u32()?;
    // Data source: type << 24 | index, or type and index as two words.
    cur.skip(if expanded { 8 } else { 4 })?;
    let sampling_rate = cur.u32()?;
    let _sample_pool = cur.u32()?;
    let _drops = cur.u32()?;
    let (in_if, out_if) = if expanded {
        let in_format = cur.u32()?;
        let in_value = cur.u32()?;
        let out_format = cur.u32()?;
        let out_value = cur.u32()?;
        (expanded_interface(in_format, in_value), expanded_interface(out_format, out_value))
    } else {
        (compact_interface(cur.u32()?), compact_interface(cur.u32()?))
    };

    let mut rec = FlowRecord::new(Protocol::SflowV5, agent.address);
    rec.observation_domain = agent.sub_agent;
    rec.sequence = agent.sequence;
    rec.packets = 1;
    rec.sampling_rate = sampling_rate.max(1);
    rec.sampling_origin = SamplingOrigin::SflowSample;
    rec.in_if = in_if;
    rec.out_if = out_if;

    let mut found = Found::default();
    let count = cur.u32()?;
    for _ in 0..count {
        cur.context("sflow flow record header");
        let format = cur.u32()?;
        let data = xdr::opaque(&mut cur, "flow record length overruns its sample")?;
        if format >> 12 == 0 {
            found.record(format, data)?;
        }
    }
    found.apply(&mut rec);
    Ok(rec)
}

/// Compact `interface`: the top 2 bits give the format, only format 0 (a single
/// ifIndex) names an interface. Format 1 (packet discarded, low bits = reason) and
/// format 2 (sent to several interfaces) have none.
fn compact_interface(v: u32) -> u32 {
    match v >> 30 {
        0 if v == INTERFACE_LOCAL => 0,
        0 => v,
        _ => 0,
    }
}

/// `interface_expanded`: format word, then value.
fn expanded_interface(format: u32, value: u32) -> u32 {
    match format {
        0 if value == INTERFACE_LOCAL_EXPANDED => 0,
        0 => value,
        _ => 0,
    }
}

/// A sampled IPv4/IPv6 record (formats 3 and 4).
#[derive(Clone, Copy)]
struct SampledIp {
    length: u32,
    proto: u8,
    src: IpAddr,
    dst: IpAddr,
    src_port: u16,
    dst_port: u16,
    tcp_flags: u8,
    tos: u8,
}

/// What the records of one sample said; the first record of each kind counts.
#[derive(Default)]
struct Found {
    header: Option<PacketSummary>,
    frame_length: Option<u32>,
    ethernet: Option<(u32, [u8; 6], [u8; 6])>,
    sampled_ip: Option<SampledIp>,
    vlan: Option<u16>,
    router: Option<(Option<IpAddr>, u8, u8)>,
    gateway: Option<(Option<IpAddr>, u32, u32)>,
}

impl Found {
    fn record(&mut self, format: u32, data: &[u8]) -> Result<()> {
        match format {
            FLOW_RAW_HEADER if self.header.is_none() => {
                let (frame_length, summary) = raw_header(data)?;
                self.frame_length = Some(frame_length);
                self.header = Some(summary);
            }
            FLOW_ETHERNET if self.ethernet.is_none() => {
                let mut c = Cursor::new(data, "sflow ethernet frame data");
                let length = c.u32()?;
                // `mac` is opaque[6]: fixed-length, padded to 8 bytes.
                let src = c.array::<6>()?;
                c.skip(2)?;
                let dst = c.array::<6>()?;
                c.skip(2)?;
                let _ethertype = c.u32()?;
                self.ethernet = Some((length, src, dst));
            }
            FLOW_IPV4 | FLOW_IPV6 if self.sampled_ip.is_none() => {
                self.sampled_ip = Some(sampled_ip(data, format == FLOW_IPV6)?);
            }
            FLOW_EXTENDED_SWITCH if self.vlan.is_none() => {
                let mut c = Cursor::new(data, "sflow extended switch");
                let src_vlan = c.u32()?;
                let _src_priority = c.u32()?;
                let dst_vlan = c.u32()?;
                let _dst_priority = c.u32()?;
                let vlan = |v: u32| u16::try_from(v).ok().filter(|v| (1..=4095).contains(v));
                self.vlan = Some(vlan(src_vlan).or_else(|| vlan(dst_vlan)).unwrap_or(0));
            }
            FLOW_EXTENDED_ROUTER if self.router.is_none() => {
                let mut c = Cursor::new(data, "sflow extended router");
                let next_hop = xdr::address(&mut c)?;
                let src_mask = mask(c.u32()?);
                let dst_mask = mask(c.u32()?);
                self.router = Some((next_hop, src_mask, dst_mask));
            }
            FLOW_EXTENDED_GATEWAY if self.gateway.is_none() => {
                self.gateway = Some(gateway(data)?);
            }
            _ => {}
        }
        Ok(())
    }

    fn apply(self, rec: &mut FlowRecord) {
        if let Some(h) = &self.header {
            rec.src_mac = h.src_mac;
            rec.dst_mac = h.dst_mac;
            rec.vlan = h.vlan;
            rec.mpls_label = h.mpls_label;
        }
        match (self.header.filter(|h| h.src_addr.is_some()), self.sampled_ip) {
            (Some(h), _) => {
                rec.src_addr = h.src_addr;
                rec.dst_addr = h.dst_addr;
                rec.proto = h.proto;
                rec.tos = h.tos;
                rec.src_port = h.src_port;
                rec.dst_port = h.dst_port;
                rec.tcp_flags = u16::from(h.tcp_flags);
            }
            (None, Some(ip)) => {
                rec.src_addr = Some(ip.src);
                rec.dst_addr = Some(ip.dst);
                rec.proto = ip.proto;
                rec.tos = ip.tos;
                rec.src_port = ip.src_port;
                rec.dst_port = ip.dst_port;
                rec.tcp_flags = u16::from(ip.tcp_flags);
            }
            (None, None) => {}
        }
        if let Some((_, src, dst)) = self.ethernet {
            rec.src_mac = rec.src_mac.or(Some(src));
            rec.dst_mac = rec.dst_mac.or(Some(dst));
        }
        // The sampled frame's length; the Ethernet record also counts layer 2, the
        // sampled IP records only the IP packet, so they come last.
        let bytes = self
            .frame_length
            .or(self.ethernet.map(|(length, _, _)| length))
            .or(self.sampled_ip.map(|ip| ip.length));
        rec.bytes = u64::from(bytes.unwrap_or(0));
        // The switch knows the VLAN even when the sampled header carries no tag.
        if let Some(vlan) = self.vlan.filter(|v| *v != 0) {
            rec.vlan = vlan;
        }
        if let Some((next_hop, src_mask, dst_mask)) = self.router {
            rec.next_hop = next_hop;
            rec.src_mask = src_mask;
            rec.dst_mask = dst_mask;
        }
        if let Some((bgp_next_hop, src_as, dst_as)) = self.gateway {
            rec.src_as = src_as;
            rec.dst_as = dst_as;
            if rec.next_hop.is_none() {
                rec.next_hop = bgp_next_hop.filter(|a| !a.is_unspecified());
            }
        }
    }
}

/// Prefix lengths above 128 are nonsense; report them as unknown.
fn mask(v: u32) -> u8 {
    u8::try_from(v).ok().filter(|m| *m <= 128).unwrap_or(0)
}

/// Raw packet header: header protocol, frame length, stripped, then the header bytes.
fn raw_header(data: &[u8]) -> Result<(u32, PacketSummary)> {
    let mut c = Cursor::new(data, "sflow raw packet header");
    let protocol = c.u32()?;
    let frame_length = c.u32()?;
    let _stripped = c.u32()?;
    let header = xdr::opaque(&mut c, "sampled header length overruns its record")?;
    let summary = match protocol {
        HEADER_ETHERNET => packet::parse_ethernet(header),
        HEADER_IPV4 => packet::parse_ipv4(header),
        HEADER_IPV6 => packet::parse_ipv6(header),
        _ => PacketSummary::default(),
    };
    Ok((frame_length, summary))
}

fn sampled_ip(data: &[u8], v6: bool) -> Result<SampledIp> {
    let mut c = Cursor::new(data, if v6 { "sflow sampled ipv6" } else { "sflow sampled ipv4" });
    let length = c.u32()?;
    let proto = c.u32()? as u8;
    let (src, dst) = if v6 {
        let src = IpAddr::V6(Ipv6Addr::from(c.array::<16>()?));
        (src, IpAddr::V6(Ipv6Addr::from(c.array::<16>()?)))
    } else {
        let src = IpAddr::V4(Ipv4Addr::from(c.array::<4>()?));
        (src, IpAddr::V4(Ipv4Addr::from(c.array::<4>()?)))
    };
    let src_port = c.u32()? as u16;
    let dst_port = c.u32()? as u16;
    let tcp_flags = c.u32()? as u8;
    // IPv4: the TOS byte; IPv6: the traffic class ("priority").
    let tos = c.u32()? as u8;
    Ok(SampledIp { length, proto, src, dst, src_port, dst_port, tcp_flags, tos })
}

/// Extended gateway: BGP next hop, the router's AS, source AS, source peer AS, the
/// destination AS path (communities and local preference follow, unused).
///
/// The destination AS is the last AS of the last path segment, as sflowtool (and so
/// nfdump and pmacct) take it; an empty path means the destination is in the
/// router's own AS or unknown, reported as 0.
fn gateway(data: &[u8]) -> Result<(Option<IpAddr>, u32, u32)> {
    let mut c = Cursor::new(data, "sflow extended gateway");
    let next_hop = xdr::address(&mut c)?;
    let _own_as = c.u32()?;
    let src_as = c.u32()?;
    let _src_peer_as = c.u32()?;
    let segments = c.u32()?;
    let mut dst_as = 0;
    for _ in 0..segments {
        // AS_SET or AS_SEQUENCE: the same layout, and the last AS counts either way.
        let _kind = c.u32()?;
        let len = c.u32()?;
        for _ in 0..len {
            dst_as = c.u32()?;
        }
    }
    Ok((next_hop, src_as, dst_as))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;
    use crate::sflow::{AS_SEQUENCE, AS_SET};

    fn words(ws: &[u32]) -> Vec<u8> {
        ws.iter().flat_map(|w| w.to_be_bytes()).collect()
    }

    #[test]
    fn gateway_takes_last_as_of_last_segment() {
        let d = words(&[
            1,
            0x0a00_0001,
            65000,
            64500,
            64501,
            2,
            AS_SEQUENCE,
            2,
            1,
            2,
            AS_SET,
            3,
            7,
            8,
            9,
            0,
            100,
        ]);
        assert_eq!(gateway(&d).unwrap(), (Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1))), 64500, 9));
        let d = words(&[0, 65000, 64500, 64501, 0, 0, 100]);
        assert_eq!(gateway(&d).unwrap(), (None, 64500, 0));
        // A segment claiming more ASes than the record holds.
        let d = words(&[0, 65000, 64500, 64501, 1, AS_SEQUENCE, 1000, 1]);
        assert!(gateway(&d).is_err());
    }

    #[test]
    fn sampled_ipv4_fills_when_no_raw_header() {
        let mut f = Found::default();
        let d = words(&[1500, 6, 0xc000_0201, 0xc000_0202, 80, 40000, 0x18, 0x20]);
        f.record(FLOW_IPV4, &d).unwrap();
        let mut rec = FlowRecord::default();
        f.apply(&mut rec);
        assert_eq!(rec.src_addr, Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1))));
        assert_eq!(
            (rec.proto, rec.src_port, rec.dst_port, rec.tcp_flags, rec.tos),
            (6, 80, 40000, 0x18, 0x20)
        );
        assert_eq!(rec.bytes, 1500);
    }

    #[test]
    fn raw_header_wins_over_sampled_ip() {
        let mut frame = vec![0u8; 12];
        frame.extend_from_slice(&[
            0x08, 0x00, 0x45, 0, 0, 40, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ]);
        frame.extend_from_slice(&[0, 53, 0, 54, 0, 8, 0, 0]);
        let mut raw = words(&[HEADER_ETHERNET, 64, 4, frame.len() as u32]);
        raw.extend_from_slice(&frame);
        let mut f = Found::default();
        f.record(FLOW_IPV4, &words(&[1500, 6, 1, 2, 80, 40000, 0x18, 0x20])).unwrap();
        f.record(FLOW_RAW_HEADER, &raw).unwrap();
        let mut rec = FlowRecord::default();
        f.apply(&mut rec);
        assert_eq!((rec.proto, rec.src_port, rec.dst_port, rec.bytes), (17, 53, 54, 64));
        assert_eq!(rec.dst_addr, Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2))));
    }

    #[test]
    fn sampled_header_longer_than_record_is_an_error() {
        let mut raw = words(&[HEADER_ETHERNET, 64, 4, 100]);
        raw.extend_from_slice(&[0; 60]);
        assert!(raw_header(&raw).is_err());
    }

    #[test]
    fn vlan_from_switch_record() {
        for (src, dst, want) in [(10, 20, 10), (0, 20, 20), (0, 0, 0), (5000, 30, 30)] {
            let mut f = Found::default();
            f.record(FLOW_EXTENDED_SWITCH, &words(&[src, 0, dst, 0])).unwrap();
            let mut rec = FlowRecord::default();
            f.apply(&mut rec);
            assert_eq!(rec.vlan, want, "src {src} dst {dst}");
        }
    }
}
