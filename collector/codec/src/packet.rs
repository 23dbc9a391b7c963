//! Layer 2-4 parsing of sampled packet headers (sFlow) and captured frames: the one
//! parser of Ethernet/VLAN, IPv4 and IPv6 headers in FlowVision. The header readers
//! ([`ethernet_header`], [`ipv4_header`], [`ipv6_header`], [`ipv6_extension`]) are
//! shared with flowvision-capture, which extracts UDP datagrams (and fragments to
//! reassemble) from captured frames with them; [`PacketSummary`] is what a sampled
//! header says about its flow.
//!
//! Sampled headers are cut short (128 bytes by default on most agents), so parsing is
//! best effort: every layer that is complete fills its fields and the first incomplete
//! one ends the walk silently. A header that stops in the middle of the TCP header
//! still yields its addresses and ports. Nothing here panics, allocates or fails.
//!
//! Conventions follow nfdump so that sFlow records line up with NetFlow ones:
//! ICMP and ICMPv6 put `type << 8 | code` in the destination port (source port 0),
//! non-first IPv4/IPv6 fragments carry no ports, and IPv6 reports the upper-layer
//! protocol found after the extension headers.

use crate::cursor::Cursor;
use crate::error::Result;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// EtherType of IPv4.
pub const ETHERTYPE_IPV4: u16 = 0x0800;
/// EtherType of IPv6.
pub const ETHERTYPE_IPV6: u16 = 0x86dd;
/// EtherType of an 802.1Q VLAN tag.
pub const ETHERTYPE_VLAN: u16 = 0x8100;
/// EtherType of an 802.1ad service tag (QinQ outer tag).
pub const ETHERTYPE_QINQ: u16 = 0x88a8;
/// Pre-standard QinQ outer tag used by older switches.
pub const ETHERTYPE_QINQ_9100: u16 = 0x9100;
/// Another pre-standard QinQ outer tag.
pub const ETHERTYPE_QINQ_9200: u16 = 0x9200;
/// MPLS unicast.
pub const ETHERTYPE_MPLS: u16 = 0x8847;
/// MPLS multicast.
pub const ETHERTYPE_MPLS_MULTICAST: u16 = 0x8848;

/// IP protocol number of ICMP.
pub const PROTO_ICMP: u8 = 1;
/// IP protocol number of TCP.
pub const PROTO_TCP: u8 = 6;
/// IP protocol number of UDP.
pub const PROTO_UDP: u8 = 17;
/// IP protocol number of DCCP.
pub const PROTO_DCCP: u8 = 33;
/// IP protocol number of ICMPv6.
pub const PROTO_ICMPV6: u8 = 58;
/// IP protocol number of SCTP.
pub const PROTO_SCTP: u8 = 132;
/// IP protocol number of UDP-Lite.
pub const PROTO_UDPLITE: u8 = 136;

/// IPv6 extension headers skipped on the way to the upper-layer protocol.
const V6_HOP_BY_HOP: u8 = 0;
const V6_ROUTING: u8 = 43;
const V6_FRAGMENT: u8 = 44;
const V6_AH: u8 = 51;
const V6_DEST_OPTS: u8 = 60;
const V6_MOBILITY: u8 = 135;
const V6_HIP: u8 = 139;
const V6_SHIM6: u8 = 140;

/// More VLAN tags or MPLS labels than this is not a real frame; stop instead of
/// walking a long run of garbage.
pub const MAX_TAGS: usize = 8;
/// Likewise for IPv6 extension headers.
const MAX_EXTENSION_HEADERS: usize = 16;

/// What a (possibly truncated) packet header says. Fields of layers that were not
/// present or not complete keep their default (zero / `None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PacketSummary {
    /// Destination MAC address.
    pub dst_mac: Option<[u8; 6]>,
    /// Source MAC address.
    pub src_mac: Option<[u8; 6]>,
    /// VLAN id of the outermost tag (the service tag with QinQ), 0 when untagged.
    pub vlan: u16,
    /// VLAN id of the second tag (the customer tag with QinQ), 0 when none.
    pub inner_vlan: u16,
    /// EtherType after the VLAN tags (0 when the header did not start at layer 2).
    pub ethertype: u16,
    /// Top MPLS label (20-bit value), 0 when none.
    pub mpls_label: u32,
    /// IP source address.
    pub src_addr: Option<IpAddr>,
    /// IP destination address.
    pub dst_addr: Option<IpAddr>,
    /// Upper-layer protocol (after IPv6 extension headers).
    pub proto: u8,
    /// IPv4 type of service or IPv6 traffic class.
    pub tos: u8,
    /// IPv4 TTL or IPv6 hop limit.
    pub ttl: u8,
    /// True for a non-first fragment: it has no transport header, hence no ports.
    pub fragment: bool,
    /// Transport source port (0 for ICMP).
    pub src_port: u16,
    /// Transport destination port, or ICMP `type << 8 | code`.
    pub dst_port: u16,
    /// TCP flags (the eight classic bits, CWR..FIN).
    pub tcp_flags: u8,
}

/// Parses an Ethernet II frame: MACs, any number of 802.1Q / 802.1ad / 0x9100 tags,
/// MPLS labels, then IPv4 or IPv6 and the transport header.
pub fn parse_ethernet(frame: &[u8]) -> PacketSummary {
    let mut s = PacketSummary::default();
    // Truncation simply ends the walk: whatever was complete is kept.
    let _ = ethernet(frame, &mut s);
    s
}

/// Parses a packet that starts with an IPv4 or IPv6 header (chosen by the version
/// nibble).
pub fn parse_ip(packet: &[u8]) -> PacketSummary {
    let mut s = PacketSummary::default();
    let _ = ip(packet, &mut s);
    s
}

/// Parses a packet that starts with an IPv4 header.
pub fn parse_ipv4(packet: &[u8]) -> PacketSummary {
    let mut s = PacketSummary::default();
    let _ = ipv4(packet, &mut s);
    s
}

/// Parses a packet that starts with an IPv6 header.
pub fn parse_ipv6(packet: &[u8]) -> PacketSummary {
    let mut s = PacketSummary::default();
    let _ = ipv6(packet, &mut s);
    s
}

/// Why a header could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// The bytes end inside the header.
    #[error("header cut short")]
    Truncated,
    /// The header is not what its place says (wrong IP version).
    #[error("malformed header")]
    Malformed,
}

/// Whether an EtherType is a VLAN tag protocol identifier: 802.1Q, 802.1ad (QinQ
/// outer tag) or one of the pre-standard QinQ tags still seen.
pub fn is_vlan_tpid(ethertype: u16) -> bool {
    matches!(ethertype, ETHERTYPE_VLAN | ETHERTYPE_QINQ | ETHERTYPE_QINQ_9100 | ETHERTYPE_QINQ_9200)
}

/// An Ethernet II header with its VLAN tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EthernetHeader<'a> {
    /// Destination MAC address.
    pub dst_mac: [u8; 6],
    /// Source MAC address.
    pub src_mac: [u8; 6],
    /// VLAN id of the outermost tag (the service tag with QinQ), 0 when untagged.
    pub vlan: u16,
    /// VLAN id of the second tag (the customer tag with QinQ), 0 when none.
    pub inner_vlan: u16,
    /// The EtherType after at most [`MAX_TAGS`] tags: still a VLAN TPID
    /// ([`is_vlan_tpid`]) when more tags follow than any real frame has. `None` when
    /// the frame ends inside the tags (the VLAN ids read before that are kept).
    pub ethertype: Option<u16>,
    /// What follows the EtherType (empty when it is `None`).
    pub payload: &'a [u8],
}

/// Reads an Ethernet II header and up to [`MAX_TAGS`] VLAN tags (802.1Q, 802.1ad,
/// 0x9100, 0x9200). `Truncated` when the frame is shorter than the untagged header.
#[inline]
pub fn ethernet_header(frame: &[u8]) -> std::result::Result<EthernetHeader<'_>, HeaderError> {
    // Fixed-size chunks instead of a Cursor: this runs once per sFlow sample, and the
    // chunks compile to plain loads.
    let (macs, rest) = frame.split_first_chunk::<12>().ok_or(HeaderError::Truncated)?;
    let (first_type, mut rest) = rest.split_first_chunk::<2>().ok_or(HeaderError::Truncated)?;
    let (dst_mac, src_mac) = macs.split_at(6);
    let mut h = EthernetHeader {
        dst_mac: dst_mac.try_into().unwrap_or_default(),
        src_mac: src_mac.try_into().unwrap_or_default(),
        vlan: 0,
        inner_vlan: 0,
        ethertype: None,
        payload: &[],
    };
    let mut ethertype = u16::from_be_bytes(*first_type);
    for tag in 0..MAX_TAGS {
        if !is_vlan_tpid(ethertype) {
            break;
        }
        // Tag control information (priority, DEI, VLAN id), then the inner type.
        let Some((tci, after)) = rest.split_first_chunk::<2>() else {
            return Ok(h);
        };
        let vid = u16::from_be_bytes(*tci) & 0x0fff;
        match tag {
            0 => h.vlan = vid,
            1 => h.inner_vlan = vid,
            _ => {}
        }
        let Some((inner, after)) = after.split_first_chunk::<2>() else {
            return Ok(h);
        };
        ethertype = u16::from_be_bytes(*inner);
        rest = after;
    }
    h.ethertype = Some(ethertype);
    h.payload = rest;
    Ok(h)
}

/// The fixed part of an IPv4 header (RFC 791).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Header {
    /// Header length in bytes (IHL x 4): options included; below 20 in a broken header.
    pub header_len: usize,
    /// Total length of the packet in bytes, header included.
    pub total_len: usize,
    /// Type of service.
    pub tos: u8,
    /// Identification, shared by the fragments of one datagram.
    pub id: u16,
    /// Flags (top 3 bits) and fragment offset (13 bits, 8-octet units).
    pub flags_offset: u16,
    /// Time to live.
    pub ttl: u8,
    /// Protocol of the payload.
    pub proto: u8,
    /// Source address.
    pub src: Ipv4Addr,
    /// Destination address.
    pub dst: Ipv4Addr,
}

impl Ipv4Header {
    /// More fragments follow this one (MF flag).
    pub fn more_fragments(&self) -> bool {
        self.flags_offset & 0x2000 != 0
    }

    /// Offset of this fragment's data in the datagram, in bytes.
    pub fn fragment_offset(&self) -> usize {
        usize::from(self.flags_offset & 0x1fff) * 8
    }
}

/// Reads the fixed 20 bytes of an IPv4 header; `Malformed` when the version is not 4.
#[inline]
pub fn ipv4_header(packet: &[u8]) -> std::result::Result<Ipv4Header, HeaderError> {
    let first = *packet.first().ok_or(HeaderError::Truncated)?;
    if first >> 4 != 4 {
        return Err(HeaderError::Malformed);
    }
    let mut c = Cursor::new(packet, "ipv4 header");
    let read = |c: &mut Cursor<'_>| -> Result<Ipv4Header> {
        let ver_ihl = c.u8()?;
        let tos = c.u8()?;
        let total_len = usize::from(c.u16()?);
        let id = c.u16()?;
        let flags_offset = c.u16()?;
        let ttl = c.u8()?;
        let proto = c.u8()?;
        let _checksum = c.u16()?;
        let src = Ipv4Addr::from(c.array::<4>()?);
        let dst = Ipv4Addr::from(c.array::<4>()?);
        let header_len = usize::from(ver_ihl & 0x0f) * 4;
        Ok(Ipv4Header { header_len, total_len, tos, id, flags_offset, ttl, proto, src, dst })
    };
    read(&mut c).map_err(|_| HeaderError::Truncated)
}

/// The fixed 40 bytes of an IPv6 header (RFC 8200).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6Header {
    /// Traffic class.
    pub traffic_class: u8,
    /// Payload length in bytes (extension headers included; 0 for a jumbogram).
    pub payload_len: usize,
    /// Type of the first header after this one.
    pub next_header: u8,
    /// Hop limit.
    pub hop_limit: u8,
    /// Source address.
    pub src: Ipv6Addr,
    /// Destination address.
    pub dst: Ipv6Addr,
}

/// Reads the fixed 40 bytes of an IPv6 header; `Malformed` when the version is not 6.
#[inline]
pub fn ipv6_header(packet: &[u8]) -> std::result::Result<Ipv6Header, HeaderError> {
    let mut c = Cursor::new(packet, "ipv6 header");
    let fixed = c.array::<40>().map_err(|_| HeaderError::Truncated)?;
    let mut c = Cursor::new(&fixed, "ipv6 header");
    let read = |c: &mut Cursor<'_>| -> Result<Option<Ipv6Header>> {
        let first = c.u32()?;
        if first >> 28 != 6 {
            return Ok(None);
        }
        let payload_len = usize::from(c.u16()?);
        let next_header = c.u8()?;
        let hop_limit = c.u8()?;
        let src = Ipv6Addr::from(c.array::<16>()?);
        let dst = Ipv6Addr::from(c.array::<16>()?);
        Ok(Some(Ipv6Header {
            traffic_class: (first >> 20) as u8,
            payload_len,
            next_header,
            hop_limit,
            src,
            dst,
        }))
    };
    read(&mut c).map_err(|_| HeaderError::Truncated)?.ok_or(HeaderError::Malformed)
}

/// Whether an IPv6 next-header value is an extension header [`ipv6_extension`] skips.
pub fn is_ipv6_extension(next: u8) -> bool {
    matches!(
        next,
        V6_HOP_BY_HOP | V6_ROUTING | V6_DEST_OPTS | V6_MOBILITY | V6_HIP | V6_SHIM6 | V6_FRAGMENT | V6_AH
    )
}

/// What one step along an IPv6 header chain found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ipv6Step<'a> {
    /// The header type is not an extension header: the upper layer starts here.
    Upper,
    /// An extension header, skipped whole: the type of the next header and what
    /// follows.
    Extension {
        /// Type of the following header.
        next: u8,
        /// The bytes after this extension header.
        rest: &'a [u8],
    },
    /// A fragment header (RFC 8200 section 4.5).
    Fragment {
        /// Type of the header the fragmentable part starts with.
        next: u8,
        /// Offset of the data in the fragmentable part, in bytes.
        offset: usize,
        /// More fragments follow (M flag).
        more: bool,
        /// Identification, shared by the fragments of one packet.
        id: u32,
        /// The bytes after the fragment header.
        rest: &'a [u8],
    },
}

/// Reads the IPv6 header of type `next` at the start of `rest` when it is an
/// extension header (hop-by-hop, routing, destination options, mobility, HIP, shim6,
/// fragment, authentication).
#[inline]
pub fn ipv6_extension(next: u8, rest: &[u8]) -> std::result::Result<Ipv6Step<'_>, HeaderError> {
    fn step<'a>(next: u8, c: &mut Cursor<'a>) -> Result<Ipv6Step<'a>> {
        Ok(match next {
            V6_HOP_BY_HOP | V6_ROUTING | V6_DEST_OPTS | V6_MOBILITY | V6_HIP | V6_SHIM6 => {
                let following = c.u8()?;
                let len = c.u8()?;
                // Length in 8-octet units, not counting the first 8 (2 already read).
                c.skip(usize::from(len) * 8 + 6)?;
                Ipv6Step::Extension { next: following, rest: c.rest() }
            }
            V6_FRAGMENT => {
                let following = c.u8()?;
                let _reserved = c.u8()?;
                let offset_flags = c.u16()?;
                let id = c.u32()?;
                let offset = usize::from(offset_flags >> 3) * 8;
                Ipv6Step::Fragment {
                    next: following,
                    offset,
                    more: offset_flags & 1 != 0,
                    id,
                    rest: c.rest(),
                }
            }
            V6_AH => {
                let following = c.u8()?;
                let len = c.u8()?;
                // Length in 4-octet units minus 2 (RFC 4302 section 2.2).
                c.skip((usize::from(len) + 2) * 4 - 2)?;
                Ipv6Step::Extension { next: following, rest: c.rest() }
            }
            _ => Ipv6Step::Upper,
        })
    }
    step(next, &mut Cursor::new(rest, "ipv6 extension header")).map_err(|_| HeaderError::Truncated)
}

fn ethernet(frame: &[u8], s: &mut PacketSummary) -> Result<()> {
    let h = match ethernet_header(frame) {
        Ok(h) => h,
        Err(_) => {
            // MAC addresses are kept even when the frame ends right after them.
            if let (Some(dst), Some(src)) = (frame.get(..6), frame.get(6..12)) {
                s.dst_mac = <[u8; 6]>::try_from(dst).ok();
                s.src_mac = <[u8; 6]>::try_from(src).ok();
            }
            return Ok(());
        }
    };
    (s.dst_mac, s.src_mac) = (Some(h.dst_mac), Some(h.src_mac));
    (s.vlan, s.inner_vlan) = (h.vlan, h.inner_vlan);
    let Some(ethertype) = h.ethertype.filter(|t| !is_vlan_tpid(*t)) else {
        return Ok(());
    };
    s.ethertype = ethertype;
    match ethertype {
        ETHERTYPE_IPV4 => ipv4(h.payload, s),
        ETHERTYPE_IPV6 => ipv6(h.payload, s),
        ETHERTYPE_MPLS | ETHERTYPE_MPLS_MULTICAST => mpls(h.payload, s),
        _ => Ok(()),
    }
}

fn mpls(buf: &[u8], s: &mut PacketSummary) -> Result<()> {
    let mut c = Cursor::new(buf, "mpls label stack");
    for i in 0..MAX_TAGS {
        let entry = c.u32()?;
        if i == 0 {
            s.mpls_label = entry >> 12;
        }
        if entry & 0x100 != 0 {
            // Bottom of stack. MPLS does not say what follows; the IP version nibble
            // is the usual (and the only available) guess.
            return ip(c.rest(), s);
        }
    }
    Ok(())
}

fn ip(buf: &[u8], s: &mut PacketSummary) -> Result<()> {
    match buf.first().map(|b| b >> 4) {
        Some(4) => ipv4(buf, s),
        Some(6) => ipv6(buf, s),
        _ => Ok(()),
    }
}

fn ipv4(buf: &[u8], s: &mut PacketSummary) -> Result<()> {
    let Ok(h) = ipv4_header(buf) else {
        return Ok(());
    };
    s.tos = h.tos;
    s.ttl = h.ttl;
    s.proto = h.proto;
    s.src_addr = Some(IpAddr::V4(h.src));
    s.dst_addr = Some(IpAddr::V4(h.dst));
    if h.fragment_offset() != 0 {
        s.fragment = true;
        return Ok(());
    }
    // An IHL below 5 is a broken header: where the transport header starts is unknown.
    // Sampled headers are cut short, so the total length does not bound what follows.
    match buf.get(h.header_len..) {
        Some(rest) if h.header_len >= 20 => transport(h.proto, rest, s),
        _ => Ok(()),
    }
}

fn ipv6(buf: &[u8], s: &mut PacketSummary) -> Result<()> {
    let Ok(h) = ipv6_header(buf) else {
        return Ok(());
    };
    s.tos = h.traffic_class;
    s.ttl = h.hop_limit;
    s.proto = h.next_header;
    s.src_addr = Some(IpAddr::V6(h.src));
    s.dst_addr = Some(IpAddr::V6(h.dst));
    let (mut next, mut rest) = (h.next_header, buf.get(40..).unwrap_or(&[]));
    for _ in 0..MAX_EXTENSION_HEADERS {
        match ipv6_extension(next, rest) {
            Ok(Ipv6Step::Upper) | Err(_) => break,
            Ok(Ipv6Step::Extension { next: following, rest: after }) => (next, rest) = (following, after),
            Ok(Ipv6Step::Fragment { next: following, offset, rest: after, .. }) => {
                (next, rest) = (following, after);
                if offset != 0 {
                    s.proto = next;
                    s.fragment = true;
                    return Ok(());
                }
            }
        }
        // Only a completely skipped extension header reveals the next protocol.
        s.proto = next;
    }
    transport(next, rest, s)
}

fn transport(proto: u8, buf: &[u8], s: &mut PacketSummary) -> Result<()> {
    let mut c = Cursor::new(buf, "transport header");
    match proto {
        PROTO_TCP => {
            s.src_port = c.u16()?;
            s.dst_port = c.u16()?;
            c.skip(9)?; // sequence, acknowledgment, data offset
            s.tcp_flags = c.u8()?;
        }
        PROTO_UDP | PROTO_UDPLITE | PROTO_SCTP | PROTO_DCCP => {
            let src = c.u16()?;
            let dst = c.u16()?;
            s.src_port = src;
            s.dst_port = dst;
        }
        PROTO_ICMP | PROTO_ICMPV6 => {
            let icmp_type = c.u8()?;
            let code = c.u8()?;
            s.src_port = 0;
            s.dst_port = u16::from(icmp_type) << 8 | u16::from(code);
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;

    const DST: [u8; 6] = [0x00, 0x1d, 0xb5, 0xa2, 0x5f, 0xc0];
    const SRC: [u8; 6] = [0x00, 0x25, 0x90, 0xa2, 0x53, 0x58];

    fn eth(tags: &[(u16, u16)], ethertype: u16) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&DST);
        v.extend_from_slice(&SRC);
        for (tpid, tci) in tags {
            v.extend_from_slice(&tpid.to_be_bytes());
            v.extend_from_slice(&tci.to_be_bytes());
        }
        v.extend_from_slice(&ethertype.to_be_bytes());
        v
    }

    fn ipv4_header(proto: u8, tos: u8, flags_offset: u16, options: &[u8]) -> Vec<u8> {
        let ihl = 5 + options.len() / 4;
        let mut v = vec![0x40 | ihl as u8, tos, 0, 60, 0, 1];
        v.extend_from_slice(&flags_offset.to_be_bytes());
        v.extend_from_slice(&[64, proto, 0, 0, 192, 0, 2, 1, 198, 51, 100, 7]);
        v.extend_from_slice(options);
        v
    }

    fn tcp_header(src: u16, dst: u16, flags: u8) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&src.to_be_bytes());
        v.extend_from_slice(&dst.to_be_bytes());
        v.extend_from_slice(&[0; 8]);
        v.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
        v
    }

    fn ipv6_header(next: u8, traffic_class: u8) -> Vec<u8> {
        let first = 6u32 << 28 | u32::from(traffic_class) << 20 | 0x12345;
        let mut v = first.to_be_bytes().to_vec();
        v.extend_from_slice(&[0, 40, next, 63]);
        v.extend_from_slice(&"2001:db8::1".parse::<Ipv6Addr>().unwrap().octets());
        v.extend_from_slice(&"2001:db8::2".parse::<Ipv6Addr>().unwrap().octets());
        v
    }

    #[test]
    fn ethernet_ipv4_tcp() {
        let mut f = eth(&[], ETHERTYPE_IPV4);
        f.extend(ipv4_header(PROTO_TCP, 0xb8, 0x4000, &[]));
        f.extend(tcp_header(443, 51000, 0x12));
        let s = parse_ethernet(&f);
        assert_eq!(s.dst_mac, Some(DST));
        assert_eq!(s.src_mac, Some(SRC));
        assert_eq!(s.vlan, 0);
        assert_eq!(s.src_addr, Some("192.0.2.1".parse().unwrap()));
        assert_eq!(s.dst_addr, Some("198.51.100.7".parse().unwrap()));
        assert_eq!((s.proto, s.tos, s.ttl), (PROTO_TCP, 0xb8, 64));
        assert_eq!((s.src_port, s.dst_port, s.tcp_flags), (443, 51000, 0x12));
        assert!(!s.fragment);
    }

    #[test]
    fn vlan_and_qinq_tags() {
        for outer in [ETHERTYPE_VLAN, ETHERTYPE_QINQ, ETHERTYPE_QINQ_9100] {
            let mut f = eth(&[(outer, 0x2000 | 100), (ETHERTYPE_VLAN, 0xe000 | 4000)], ETHERTYPE_IPV4);
            f.extend(ipv4_header(PROTO_UDP, 0, 0, &[]));
            f.extend_from_slice(&[0x00, 0x35, 0x13, 0x88, 0, 8, 0, 0]);
            let s = parse_ethernet(&f);
            assert_eq!((s.vlan, s.inner_vlan, s.ethertype), (100, 4000, ETHERTYPE_IPV4), "tpid {outer:#x}");
            assert_eq!((s.proto, s.src_port, s.dst_port), (PROTO_UDP, 53, 5000));
        }
        let mut f = eth(&[(ETHERTYPE_VLAN, 42)], ETHERTYPE_IPV6);
        f.extend(ipv6_header(PROTO_UDP, 0));
        f.extend_from_slice(&[0x00, 0x35, 0x13, 0x88]);
        let s = parse_ethernet(&f);
        assert_eq!((s.vlan, s.inner_vlan, s.src_port, s.dst_port), (42, 0, 53, 5000));
    }

    #[test]
    fn ipv4_options_and_fragments() {
        let mut p = ipv4_header(PROTO_TCP, 0, 0, &[1, 1, 1, 0, 0x94, 4, 0, 0]);
        p.extend(tcp_header(22, 60000, 0x18));
        let s = parse_ipv4(&p);
        assert_eq!((s.src_port, s.dst_port, s.tcp_flags), (22, 60000, 0x18));

        // First fragment (MF set, offset 0) has the ports.
        let mut p = ipv4_header(PROTO_UDP, 0, 0x2000, &[]);
        p.extend_from_slice(&[0x10, 0x00, 0x20, 0x00, 0, 8, 0, 0]);
        let s = parse_ip(&p);
        assert_eq!((s.src_port, s.dst_port, s.fragment), (0x1000, 0x2000, false));

        // Later fragments carry payload bytes, not a UDP header.
        let mut p = ipv4_header(PROTO_UDP, 0, 0x00b9, &[]);
        p.extend_from_slice(&[0x10, 0x00, 0x20, 0x00, 0, 8, 0, 0]);
        let s = parse_ip(&p);
        assert_eq!((s.src_port, s.dst_port, s.fragment, s.proto), (0, 0, true, PROTO_UDP));
        assert!(s.src_addr.is_some());
    }

    #[test]
    fn icmp_type_and_code_in_dst_port() {
        let mut p = ipv4_header(PROTO_ICMP, 0, 0, &[]);
        p.extend_from_slice(&[3, 13, 0, 0, 0, 0, 0, 0]);
        let s = parse_ipv4(&p);
        assert_eq!((s.src_port, s.dst_port), (0, 0x030d));

        let mut p = ipv6_header(PROTO_ICMPV6, 0);
        p.extend_from_slice(&[128, 0, 0, 0]);
        let s = parse_ipv6(&p);
        assert_eq!((s.proto, s.src_port, s.dst_port), (PROTO_ICMPV6, 0, 128 << 8));
    }

    #[test]
    fn ipv6_extension_headers_are_skipped() {
        let mut p = ipv6_header(V6_HOP_BY_HOP, 0x2e);
        // Hop-by-hop, 8 bytes, next: routing.
        p.extend_from_slice(&[V6_ROUTING, 0, 5, 2, 0, 0, 0, 0]);
        // Routing, 24 bytes (len 2), next: destination options.
        p.extend_from_slice(&[V6_DEST_OPTS, 2, 0, 0, 0, 0, 0, 0]);
        p.extend_from_slice(&[0; 16]);
        // Destination options, 8 bytes, next: fragment.
        p.extend_from_slice(&[V6_FRAGMENT, 0, 1, 4, 0, 0, 0, 0]);
        // Fragment, offset 0 and M set: the first fragment, ports follow. Next: AH.
        p.extend_from_slice(&[V6_AH, 0, 0x00, 0x01, 0xde, 0xad, 0xbe, 0xef]);
        // AH with a 12-byte ICV: 24 bytes in all, length field 24 / 4 - 2 = 4.
        p.extend_from_slice(&[PROTO_TCP, 4, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1]);
        p.extend_from_slice(&[0; 12]);
        p.extend(tcp_header(8080, 443, 0x02));
        let s = parse_ipv6(&p);
        assert_eq!(s.tos, 0x2e);
        assert_eq!(s.ttl, 63);
        assert_eq!(s.src_addr, Some("2001:db8::1".parse().unwrap()));
        assert_eq!((s.proto, s.src_port, s.dst_port, s.tcp_flags), (PROTO_TCP, 8080, 443, 0x02));
        assert!(!s.fragment);
    }

    #[test]
    fn ipv6_later_fragment_has_no_ports() {
        let mut p = ipv6_header(V6_FRAGMENT, 0);
        p.extend_from_slice(&[PROTO_UDP, 0, 0x05, 0x00, 0, 0, 0, 9]);
        p.extend_from_slice(&[0x10, 0x00, 0x20, 0x00]);
        let s = parse_ipv6(&p);
        assert_eq!((s.proto, s.fragment, s.src_port, s.dst_port), (PROTO_UDP, true, 0, 0));
    }

    #[test]
    fn mpls_stack_then_ip() {
        let mut f = eth(&[], ETHERTYPE_MPLS);
        f.extend_from_slice(&(16000u32 << 12 | 64).to_be_bytes());
        f.extend_from_slice(&(299_776u32 << 12 | 0x100 | 64).to_be_bytes());
        f.extend(ipv4_header(PROTO_UDP, 0, 0, &[]));
        f.extend_from_slice(&[0x00, 0x35, 0x00, 0x35]);
        let s = parse_ethernet(&f);
        assert_eq!(s.mpls_label, 16000);
        assert_eq!((s.proto, s.src_port, s.dst_port), (PROTO_UDP, 53, 53));
    }

    #[test]
    fn truncated_headers_keep_complete_layers_and_never_panic() {
        let mut f = eth(&[(ETHERTYPE_QINQ, 7), (ETHERTYPE_VLAN, 8)], ETHERTYPE_IPV6);
        f.extend(ipv6_header(V6_HOP_BY_HOP, 0));
        f.extend_from_slice(&[PROTO_TCP, 0, 0, 0, 0, 0, 0, 0]);
        f.extend(tcp_header(1, 2, 0x11));
        let full = parse_ethernet(&f);
        assert_eq!((full.src_port, full.dst_port, full.tcp_flags), (1, 2, 0x11));
        for cut in 0..f.len() {
            let s = parse_ethernet(&f[..cut]);
            if cut >= 14 + 8 + 40 {
                assert!(s.src_addr.is_some(), "cut {cut}");
            } else {
                assert_eq!(s.src_addr, None, "cut {cut}");
            }
            if cut < f.len() - 7 {
                assert_eq!(s.tcp_flags, 0, "cut {cut}");
            }
        }
        // Arbitrary bytes through every entry point.
        let mut x: u32 = 0x1234_5678;
        for len in 0..300 {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    x as u8
                })
                .collect();
            let _ = parse_ethernet(&bytes);
            let _ = parse_ip(&bytes);
            let _ = parse_ipv4(&bytes);
            let _ = parse_ipv6(&bytes);
        }
    }

    #[test]
    fn header_readers_shared_with_capture() {
        let mut f = eth(&[(ETHERTYPE_QINQ, 0x2000 | 10), (ETHERTYPE_VLAN, 20)], ETHERTYPE_IPV4);
        f.extend(ipv4_header(PROTO_UDP, 0, 0x2000 | 3, &[]));
        let h = ethernet_header(&f).unwrap();
        assert_eq!((h.vlan, h.inner_vlan, h.ethertype, h.payload.len()), (10, 20, Some(ETHERTYPE_IPV4), 20));
        assert_eq!(ethernet_header(&f[..13]), Err(HeaderError::Truncated));
        // Cut inside the second tag: the first tag's VLAN is known, the EtherType not.
        let cut = ethernet_header(&f[..19]).unwrap();
        assert_eq!((cut.vlan, cut.inner_vlan, cut.ethertype), (10, 0, None));
        let deep = eth(&[(ETHERTYPE_VLAN, 1); MAX_TAGS + 1], ETHERTYPE_IPV4);
        assert!(ethernet_header(&deep).unwrap().ethertype.is_some_and(is_vlan_tpid));

        let v4 = super::ipv4_header(&f[22..]).unwrap();
        assert_eq!((v4.header_len, v4.total_len, v4.proto, v4.ttl), (20, 60, PROTO_UDP, 64));
        assert_eq!((v4.more_fragments(), v4.fragment_offset()), (true, 24));
        assert_eq!(super::ipv4_header(&f[22..41]), Err(HeaderError::Truncated));
        assert_eq!(super::ipv4_header(&[0x65; 20]), Err(HeaderError::Malformed));

        // The test builders shadow the readers of the same name.
        let v6 = ipv6_header(PROTO_TCP, 0xb8);
        let h6 = super::ipv6_header(&v6).unwrap();
        assert_eq!(
            (h6.traffic_class, h6.payload_len, h6.next_header, h6.hop_limit),
            (0xb8, 40, PROTO_TCP, 63)
        );
        assert_eq!(super::ipv6_header(&v6[..39]), Err(HeaderError::Truncated));
        assert_eq!(super::ipv6_header(&[0x45; 40]), Err(HeaderError::Malformed));

        assert_eq!(ipv6_extension(PROTO_TCP, &[1, 2, 3]), Ok(Ipv6Step::Upper));
        let rest = [PROTO_UDP, 0, 0, 0, 0, 0, 0, 0, 0xaa];
        assert_eq!(
            ipv6_extension(V6_DEST_OPTS, &rest),
            Ok(Ipv6Step::Extension { next: PROTO_UDP, rest: &[0xaa] })
        );
        let frag = [PROTO_UDP, 0, 0x00, 0x11, 0, 0, 0, 7];
        assert_eq!(
            ipv6_extension(V6_FRAGMENT, &frag),
            Ok(Ipv6Step::Fragment { next: PROTO_UDP, offset: 16, more: true, id: 7, rest: &[] })
        );
        assert_eq!(ipv6_extension(V6_ROUTING, &rest[..7]), Err(HeaderError::Truncated));
        assert!(is_ipv6_extension(V6_AH) && !is_ipv6_extension(PROTO_UDP));
    }

    #[test]
    fn bad_ihl_and_non_ip_stop_cleanly() {
        let mut p = ipv4_header(PROTO_TCP, 0, 0, &[]);
        p[0] = 0x43;
        p.extend(tcp_header(1, 2, 3));
        let s = parse_ipv4(&p);
        assert!(s.src_addr.is_some());
        assert_eq!((s.src_port, s.dst_port), (0, 0));

        let f = eth(&[], 0x0806);
        let s = parse_ethernet(&f);
        assert_eq!((s.ethertype, s.src_addr), (0x0806, None));
        assert_eq!(parse_ipv4(&[0x60; 40]).src_addr, None);
    }
}
