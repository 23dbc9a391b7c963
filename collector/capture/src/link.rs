//! Link layer: from a captured frame to the IP packet inside it.

use crate::frame::{array_at, LinkType};
use crate::stats::SkipReason;
use flowvision_codec::packet::{self, ETHERTYPE_IPV4, ETHERTYPE_IPV6};

/// The network-layer packet of a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Network<'a> {
    /// An IPv4 packet (header onwards, possibly followed by link padding).
    Ipv4(&'a [u8]),
    /// An IPv6 packet.
    Ipv6(&'a [u8]),
}

/// Ethernet "type" values up to this are 802.3 lengths (LLC frames, never IP here).
const MAX_8023_LENGTH: u16 = 1500;

/// Strips the link-layer header of `frame`.
pub fn network_layer(link_type: LinkType, frame: &[u8]) -> Result<Network<'_>, SkipReason> {
    match link_type {
        LinkType::ETHERNET => ethernet(frame),
        LinkType::RAW | LinkType::RAW_DLT12 | LinkType::RAW_DLT14 => raw(frame),
        LinkType::IPV4 => Ok(Network::Ipv4(frame)),
        LinkType::IPV6 => Ok(Network::Ipv6(frame)),
        LinkType::LINUX_SLL => {
            // packet type, ARPHRD type, address length, 8 address bytes, protocol.
            let proto = array_at::<2>(frame, 14).ok_or(SkipReason::Truncated)?;
            by_ethertype(u16::from_be_bytes(proto), frame.get(16..).unwrap_or(&[]))
        }
        LinkType::LINUX_SLL2 => {
            // protocol first, then reserved, ifindex, ARPHRD, packet type, addresses.
            let proto = array_at::<2>(frame, 0).ok_or(SkipReason::Truncated)?;
            let rest = frame.get(20..).ok_or(SkipReason::Truncated)?;
            by_ethertype(u16::from_be_bytes(proto), rest)
        }
        LinkType::NULL => null(frame, false),
        LinkType::LOOP => null(frame, true),
        _ => Err(SkipReason::UnsupportedLinkType),
    }
}

fn by_ethertype(ethertype: u16, rest: &[u8]) -> Result<Network<'_>, SkipReason> {
    match ethertype {
        ETHERTYPE_IPV4 => Ok(Network::Ipv4(rest)),
        ETHERTYPE_IPV6 => Ok(Network::Ipv6(rest)),
        _ => Err(SkipReason::NotIp),
    }
}

/// Ethernet II with any VLAN tags, read by the codec's [`packet::ethernet_header`]
/// (the parser sFlow's sampled headers go through too).
fn ethernet(frame: &[u8]) -> Result<Network<'_>, SkipReason> {
    let h = packet::ethernet_header(frame).map_err(|_| SkipReason::Truncated)?;
    let ethertype = h.ethertype.ok_or(SkipReason::Truncated)?;
    // A TPID still there after the deepest stack real traffic has is not IP.
    if ethertype <= MAX_8023_LENGTH || packet::is_vlan_tpid(ethertype) {
        return Err(SkipReason::NotIp);
    }
    by_ethertype(ethertype, h.payload)
}

fn raw(frame: &[u8]) -> Result<Network<'_>, SkipReason> {
    match frame.first().map(|b| b >> 4) {
        Some(4) => Ok(Network::Ipv4(frame)),
        Some(6) => Ok(Network::Ipv6(frame)),
        Some(_) => Err(SkipReason::MalformedIp),
        None => Err(SkipReason::Truncated),
    }
}

/// BSD loopback: the address family in host byte order (`LOOP`: network order).
/// AF_INET is 2 everywhere; AF_INET6 is 24 (NetBSD, OpenBSD), 28 (FreeBSD),
/// 30 (macOS) or 10 (Linux).
fn null(frame: &[u8], network_order: bool) -> Result<Network<'_>, SkipReason> {
    let family = array_at::<4>(frame, 0).ok_or(SkipReason::Truncated)?;
    let family = if network_order {
        u32::from_be_bytes(family)
    } else {
        // The writer's byte order is unknown: the family is small, so whichever
        // reading is small is the right one.
        let le = u32::from_le_bytes(family);
        if le < 0x1_0000 {
            le
        } else {
            u32::from_be_bytes(family)
        }
    };
    let rest = frame.get(4..).unwrap_or(&[]);
    match family {
        2 => Ok(Network::Ipv4(rest)),
        10 | 24 | 28 | 30 => Ok(Network::Ipv6(rest)),
        _ => Err(SkipReason::NotIp),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;

    const V4: [u8; 4] = [0x45, 0, 0, 20];
    const V6: [u8; 4] = [0x60, 0, 0, 0];

    fn eth(tags: &[u16], ethertype: u16, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; 12];
        for t in tags {
            f.extend(t.to_be_bytes());
            f.extend(0x0064u16.to_be_bytes());
        }
        f.extend(ethertype.to_be_bytes());
        f.extend_from_slice(payload);
        f
    }

    #[test]
    fn ethernet_with_vlans() {
        let e = LinkType::ETHERNET;
        assert_eq!(network_layer(e, &eth(&[], 0x0800, &V4)), Ok(Network::Ipv4(&V4)));
        assert_eq!(network_layer(e, &eth(&[0x8100], 0x86dd, &V6)), Ok(Network::Ipv6(&V6)));
        assert_eq!(network_layer(e, &eth(&[0x88a8, 0x8100], 0x0800, &V4)), Ok(Network::Ipv4(&V4)));
        assert_eq!(network_layer(e, &eth(&[], 0x0806, &V4)), Err(SkipReason::NotIp));
        assert_eq!(network_layer(e, &eth(&[], 46, &V4)), Err(SkipReason::NotIp));
        assert_eq!(network_layer(e, &eth(&[0x8100; 9], 0x0800, &V4)), Err(SkipReason::NotIp));
        assert_eq!(network_layer(e, &[0u8; 13]), Err(SkipReason::Truncated));
        let mut cut = eth(&[0x8100], 0x0800, &[]);
        cut.truncate(16);
        assert_eq!(network_layer(e, &cut), Err(SkipReason::Truncated));
    }

    #[test]
    fn raw_and_cooked() {
        assert_eq!(network_layer(LinkType::RAW, &V6), Ok(Network::Ipv6(&V6)));
        assert_eq!(network_layer(LinkType::RAW_DLT12, &V4), Ok(Network::Ipv4(&V4)));
        assert_eq!(network_layer(LinkType::RAW_DLT14, &[0x20]), Err(SkipReason::MalformedIp));
        assert_eq!(network_layer(LinkType::IPV4, &V4), Ok(Network::Ipv4(&V4)));
        assert_eq!(network_layer(LinkType::IPV6, &V6), Ok(Network::Ipv6(&V6)));
        let mut sll = vec![0u8; 14];
        sll.extend(0x86ddu16.to_be_bytes());
        sll.extend(V6);
        assert_eq!(network_layer(LinkType::LINUX_SLL, &sll), Ok(Network::Ipv6(&V6)));
        let mut sll2 = 0x0800u16.to_be_bytes().to_vec();
        sll2.extend([0u8; 18]);
        sll2.extend(V4);
        assert_eq!(network_layer(LinkType::LINUX_SLL2, &sll2), Ok(Network::Ipv4(&V4)));
        assert_eq!(network_layer(LinkType::LINUX_SLL2, &sll2[..10]), Err(SkipReason::Truncated));
        assert_eq!(network_layer(LinkType(147), &V4), Err(SkipReason::UnsupportedLinkType));
    }

    #[test]
    fn loopback_families() {
        let null = |fam: [u8; 4], payload: &[u8]| [&fam[..], payload].concat();
        let n = LinkType::NULL;
        assert_eq!(network_layer(n, &null(2u32.to_le_bytes(), &V4)), Ok(Network::Ipv4(&V4)));
        assert_eq!(network_layer(n, &null(2u32.to_be_bytes(), &V4)), Ok(Network::Ipv4(&V4)));
        assert_eq!(network_layer(n, &null(30u32.to_be_bytes(), &V6)), Ok(Network::Ipv6(&V6)));
        assert_eq!(network_layer(n, &null(24u32.to_le_bytes(), &V6)), Ok(Network::Ipv6(&V6)));
        assert_eq!(network_layer(n, &null(7u32.to_le_bytes(), &V6)), Err(SkipReason::NotIp));
        let l = LinkType::LOOP;
        assert_eq!(network_layer(l, &null(28u32.to_be_bytes(), &V6)), Ok(Network::Ipv6(&V6)));
        assert_eq!(network_layer(l, &null(2u32.to_le_bytes(), &V4)), Err(SkipReason::NotIp));
    }
}
