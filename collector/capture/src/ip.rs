//! Network and transport layers: IPv4 (with options), IPv6 (with extension headers)
//! and UDP. The IP headers are read by the codec's parser
//! ([`flowvision_codec::packet`], the one shared with sFlow's sampled headers); what
//! is decided here is capture's: a datagram must be whole and UDP, and fragments are
//! handed to [`crate::reassembly`] rather than parsed.
//!
//! Checksums are not verified: captures taken on the sending host carry the
//! placeholder checksums of NIC offload, and a flow export with a bad checksum
//! would have been dropped by the kernel before any collector saw it anyway.

use crate::frame::array_at;
use crate::link::Network;
use crate::stats::SkipReason;
pub use flowvision_codec::packet::PROTO_UDP;
use flowvision_codec::packet::{self, HeaderError, Ipv6Step};
use std::net::{IpAddr, SocketAddr};

/// More extension headers than this in one packet is not traffic worth parsing.
const MAX_EXTENSIONS: usize = 16;

/// A UDP datagram found in a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Udp<'a> {
    /// Source address and port.
    pub src: SocketAddr,
    /// Destination address and port.
    pub dst: SocketAddr,
    /// The UDP payload (bounded by the UDP length, so link padding is not included).
    pub payload: &'a [u8],
}

/// Identifies the fragments of one datagram (RFC 791: source, destination, protocol,
/// identification; RFC 8200: source, destination, identification).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FragmentKey {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// Identification (16 bits in IPv4, 32 in IPv6).
    pub id: u32,
    /// IPv4 protocol, or the IPv6 fragment header's next header.
    pub next_header: u8,
}

/// One IP fragment of a UDP datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fragment<'a> {
    /// Which datagram it belongs to.
    pub key: FragmentKey,
    /// Byte offset of `data` in the reassembled payload.
    pub offset: usize,
    /// More fragments follow (false on the last one).
    pub more: bool,
    /// The fragment's part of the payload.
    pub data: &'a [u8],
}

/// What a packet holds, as far as a flow collector cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport<'a> {
    /// A complete UDP datagram.
    Udp(Udp<'a>),
    /// A fragment of a (possibly) UDP datagram.
    Fragment(Fragment<'a>),
}

/// Parses the IP packet of a frame down to UDP.
pub fn transport(network: Network<'_>) -> Result<Transport<'_>, SkipReason> {
    match network {
        Network::Ipv4(p) => ipv4(p),
        Network::Ipv6(p) => ipv6(p),
    }
}

/// Parses an IPv4 packet (its header with the codec's [`packet::ipv4_header`]).
pub fn ipv4(packet: &[u8]) -> Result<Transport<'_>, SkipReason> {
    let h = packet::ipv4_header(packet).map_err(|e| match e {
        HeaderError::Truncated => SkipReason::Truncated,
        HeaderError::Malformed => SkipReason::MalformedIp,
    })?;
    if h.header_len < 20 || h.total_len < h.header_len {
        return Err(SkipReason::MalformedIp);
    }
    // Beyond total_len is link padding; short of it, the snap length cut the packet.
    let payload = packet.get(h.header_len..h.total_len).ok_or(SkipReason::Truncated)?;
    let (src, dst) = (IpAddr::V4(h.src), IpAddr::V4(h.dst));
    if h.proto != PROTO_UDP {
        return Err(SkipReason::NotUdp);
    }
    let (more, offset) = (h.more_fragments(), h.fragment_offset());
    if more || offset > 0 {
        let key = FragmentKey { src, dst, id: u32::from(h.id), next_header: h.proto };
        return Ok(Transport::Fragment(Fragment { key, offset, more, data: payload }));
    }
    udp(src, dst, payload).map(Transport::Udp)
}

/// Parses an IPv6 packet, walking its extension headers (with the codec's
/// [`packet::ipv6_header`] and [`packet::ipv6_extension`]).
pub fn ipv6(packet: &[u8]) -> Result<Transport<'_>, SkipReason> {
    let h = packet::ipv6_header(packet).map_err(|e| match e {
        HeaderError::Truncated => SkipReason::Truncated,
        HeaderError::Malformed => SkipReason::MalformedIp,
    })?;
    // A zero payload length announces a jumbogram (RFC 2675), which no flow exporter
    // sends; it is not worth a special path.
    if h.payload_len == 0 {
        return Err(SkipReason::MalformedIp);
    }
    let payload = packet.get(40..40 + h.payload_len).ok_or(SkipReason::Truncated)?;
    walk_ipv6(IpAddr::V6(h.src), IpAddr::V6(h.dst), h.next_header, payload, true)
}

/// Follows IPv6 extension headers from `next` until UDP, a fragment header or
/// something else.
fn walk_ipv6(
    src: IpAddr,
    dst: IpAddr,
    mut next: u8,
    mut rest: &[u8],
    allow_fragment: bool,
) -> Result<Transport<'_>, SkipReason> {
    for _ in 0..MAX_EXTENSIONS {
        if next == PROTO_UDP {
            return udp(src, dst, rest).map(Transport::Udp);
        }
        match packet::ipv6_extension(next, rest).map_err(|_| SkipReason::MalformedIp)? {
            Ipv6Step::Extension { next: following, rest: after } => (next, rest) = (following, after),
            Ipv6Step::Fragment { next: inner, offset, more, id, rest: data } => {
                if offset == 0 && !more {
                    // An atomic fragment (RFC 6946): a whole packet, parse on.
                    (next, rest) = (inner, data);
                    continue;
                }
                if !allow_fragment {
                    return Err(SkipReason::MalformedIp);
                }
                // Every fragment carries the next header of the fragmentable part, so
                // datagrams that cannot be UDP are skipped without being reassembled.
                if inner != PROTO_UDP && !packet::is_ipv6_extension(inner) {
                    return Err(SkipReason::NotUdp);
                }
                let key = FragmentKey { src, dst, id, next_header: inner };
                return Ok(Transport::Fragment(Fragment { key, offset, more, data }));
            }
            // TCP, ICMPv6, ESP, "no next header" and everything else.
            Ipv6Step::Upper => return Err(SkipReason::NotUdp),
        }
    }
    Err(SkipReason::MalformedIp)
}

/// The UDP datagram in a reassembled payload (the fragmentable part of the packet).
pub fn reassembled<'a>(key: &FragmentKey, payload: &'a [u8]) -> Result<Udp<'a>, SkipReason> {
    match (key.src, key.next_header) {
        (IpAddr::V4(_), PROTO_UDP) => udp(key.src, key.dst, payload),
        (IpAddr::V4(_), _) => Err(SkipReason::NotUdp),
        (IpAddr::V6(_), next) => match walk_ipv6(key.src, key.dst, next, payload, false)? {
            Transport::Udp(u) => Ok(u),
            Transport::Fragment(_) => Err(SkipReason::MalformedIp),
        },
    }
}

/// Parses a UDP header; `segment` is the complete IP payload.
pub fn udp(src: IpAddr, dst: IpAddr, segment: &[u8]) -> Result<Udp<'_>, SkipReason> {
    let header = segment.get(..8).ok_or(SkipReason::MalformedUdp)?;
    let sport = array_at::<2>(header, 0).map(u16::from_be_bytes).unwrap_or(0);
    let dport = array_at::<2>(header, 2).map(u16::from_be_bytes).unwrap_or(0);
    let len = array_at::<2>(header, 4).map(u16::from_be_bytes).unwrap_or(0);
    let len = usize::from(len);
    if len < 8 {
        return Err(SkipReason::MalformedUdp);
    }
    let payload = segment.get(8..len).ok_or(SkipReason::MalformedUdp)?;
    Ok(Udp { src: SocketAddr::new(src, sport), dst: SocketAddr::new(dst, dport), payload })
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;
    use std::net::Ipv6Addr;

    pub(crate) fn udp_segment(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
        let mut s = sport.to_be_bytes().to_vec();
        s.extend(dport.to_be_bytes());
        s.extend((payload.len() as u16 + 8).to_be_bytes());
        s.extend([0, 0]);
        s.extend_from_slice(payload);
        s
    }

    /// An IPv4 packet; `options` must be a multiple of 4 bytes.
    pub(crate) fn v4_packet(proto: u8, id: u16, frag: u16, options: &[u8], body: &[u8]) -> Vec<u8> {
        let ihl = 5 + options.len() / 4;
        let mut p = vec![0x40 | ihl as u8, 0];
        p.extend(((ihl * 4 + body.len()) as u16).to_be_bytes());
        p.extend(id.to_be_bytes());
        p.extend(frag.to_be_bytes());
        p.extend([64, proto, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
        p.extend_from_slice(options);
        p.extend_from_slice(body);
        p
    }

    /// An IPv6 packet with the given chain of (next header, header bytes).
    pub(crate) fn v6_packet(first: u8, ext: &[u8], body: &[u8]) -> Vec<u8> {
        let mut p = vec![0x60, 0, 0, 0];
        p.extend(((ext.len() + body.len()) as u16).to_be_bytes());
        p.extend([first, 64]);
        p.extend(Ipv6Addr::LOCALHOST.octets());
        p.extend("2001:db8::2".parse::<Ipv6Addr>().unwrap().octets());
        p.extend_from_slice(ext);
        p.extend_from_slice(body);
        p
    }

    fn udp_of(t: Result<Transport<'_>, SkipReason>) -> Udp<'_> {
        match t {
            Ok(Transport::Udp(u)) => u,
            other => panic!("not udp: {other:?}"),
        }
    }

    #[test]
    fn ipv4_udp_with_options_and_padding() {
        let seg = udp_segment(2055, 9995, b"netflow");
        let mut p = v4_packet(17, 1, 0x4000, &[1, 1, 1, 0], &seg);
        p.extend([0u8; 6]); // Ethernet padding
        let u = udp_of(ipv4(&p));
        assert_eq!(u.src, "10.0.0.1:2055".parse().unwrap());
        assert_eq!(u.dst, "10.0.0.2:9995".parse().unwrap());
        assert_eq!(u.payload, b"netflow");
        assert_eq!(ipv4(&p[..p.len() - 10]), Err(SkipReason::Truncated));
        assert_eq!(ipv4(&v4_packet(6, 1, 0, &[], &seg)), Err(SkipReason::NotUdp));
        let mut bad = p.clone();
        bad[0] = 0x44;
        assert_eq!(ipv4(&bad), Err(SkipReason::MalformedIp));
        let mut bad = p.clone();
        bad[0] = 0x65;
        assert_eq!(ipv4(&bad), Err(SkipReason::MalformedIp));
        let mut short_udp = v4_packet(17, 1, 0, &[], &seg);
        short_udp[20 + 5] = 4;
        assert_eq!(ipv4(&short_udp), Err(SkipReason::MalformedUdp));
        let mut long_udp = v4_packet(17, 1, 0, &[], &seg);
        long_udp[20 + 5] = 200;
        assert_eq!(ipv4(&long_udp), Err(SkipReason::MalformedUdp));
    }

    #[test]
    fn ipv4_fragments() {
        let p = v4_packet(17, 77, 0x2000 | 3, &[], &[0u8; 16]);
        match ipv4(&p).unwrap() {
            Transport::Fragment(f) => {
                assert_eq!((f.key.id, f.offset, f.more, f.data.len()), (77, 24, true, 16));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(ipv4(&v4_packet(6, 77, 0x2000, &[], &[0u8; 16])), Err(SkipReason::NotUdp));
    }

    #[test]
    fn ipv6_extension_headers() {
        let seg = udp_segment(4739, 4739, b"ipfix");
        let p = v6_packet(17, &[], &seg);
        let u = udp_of(ipv6(&p));
        assert_eq!(u.src, "[::1]:4739".parse().unwrap());
        assert_eq!(u.payload, b"ipfix");
        // hop-by-hop (8 bytes) -> destination options (16 bytes) -> UDP
        let mut ext = vec![60, 0, 1, 4, 0, 0, 0, 0];
        ext.extend([17, 1, 1, 12]);
        ext.extend([0u8; 12]);
        let p = v6_packet(0, &ext, &seg);
        let u = udp_of(ipv6(&p));
        assert_eq!(u.payload, b"ipfix");
        // atomic fragment
        let p = v6_packet(44, &[17, 0, 0, 0, 0, 0, 0, 9], &seg);
        let u = udp_of(ipv6(&p));
        assert_eq!(u.payload, b"ipfix");
        assert_eq!(ipv6(&v6_packet(6, &[], &seg)), Err(SkipReason::NotUdp));
        assert_eq!(ipv6(&v6_packet(59, &[], &seg)), Err(SkipReason::NotUdp));
        assert_eq!(ipv6(&v6_packet(0, &[17, 9, 0, 0], &seg[..4])), Err(SkipReason::MalformedIp));
        let p = v6_packet(17, &[], &seg);
        assert_eq!(ipv6(&p[..p.len() - 1]), Err(SkipReason::Truncated));
        assert_eq!(ipv6(&p[..30]), Err(SkipReason::Truncated));
    }

    #[test]
    fn ipv6_fragment_header() {
        let p = v6_packet(44, &[17, 0, 0, 8 | 1, 0, 0, 1, 2], &[0u8; 8]);
        match ipv6(&p).unwrap() {
            Transport::Fragment(f) => assert_eq!((f.key.id, f.offset, f.more), (0x102, 8, true)),
            other => panic!("{other:?}"),
        }
        let tcp = v6_packet(44, &[6, 0, 0, 8 | 1, 0, 0, 1, 2], &[0u8; 8]);
        assert_eq!(ipv6(&tcp), Err(SkipReason::NotUdp));
    }
}
