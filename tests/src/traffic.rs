//! Packet captures the tests write themselves: Ethernet frames of IPv4/IPv6 TCP, UDP
//! and ICMP echo packets with the headers an exporter parses (checksums where the
//! exporters look at them), stored in a classic pcap file with chosen timestamps. The
//! exporters in [`crate::exporters`] read these files.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::net::IpAddr;
use std::path::Path;

/// TCP flags as they sit in the header's flags byte.
pub mod flags {
    /// FIN.
    pub const FIN: u8 = 0x01;
    /// SYN.
    pub const SYN: u8 = 0x02;
    /// RST.
    pub const RST: u8 = 0x04;
    /// PSH.
    pub const PSH: u8 = 0x08;
    /// ACK.
    pub const ACK: u8 = 0x10;
}

/// IP protocol numbers used here.
pub mod proto {
    /// ICMP.
    pub const ICMP: u8 = 1;
    /// TCP.
    pub const TCP: u8 = 6;
    /// UDP.
    pub const UDP: u8 = 17;
    /// ICMPv6.
    pub const ICMPV6: u8 = 58;
}

fn too_long(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, format!("{what} does not fit its length field"))
}

/// The Internet checksum (RFC 1071) of `bytes`.
pub fn checksum(bytes: &[u8]) -> u16 {
    let mut sum: u32 = bytes
        .chunks(2)
        .map(|c| {
            let hi = c.first().copied().unwrap_or(0);
            let lo = c.get(1).copied().unwrap_or(0);
            u32::from(u16::from_be_bytes([hi, lo]))
        })
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Transport header and `payload` bytes of one packet: TCP with `tcp_flags` and
/// sequence `seq`, UDP, or (any other protocol) an ICMP / ICMPv6 echo request with
/// identifier `sport` and sequence `seq`.
pub fn transport(
    proto: u8,
    sport: u16,
    dport: u16,
    seq: u32,
    tcp_flags: u8,
    payload: usize,
) -> io::Result<Vec<u8>> {
    let mut t = Vec::with_capacity(20 + payload);
    match proto {
        self::proto::TCP => {
            t.extend(sport.to_be_bytes());
            t.extend(dport.to_be_bytes());
            t.extend(seq.to_be_bytes());
            t.extend(0u32.to_be_bytes());
            t.extend([0x50, tcp_flags, 0x20, 0x00, 0, 0, 0, 0]);
        }
        self::proto::UDP => {
            t.extend(sport.to_be_bytes());
            t.extend(dport.to_be_bytes());
            let len = u16::try_from(8 + payload).map_err(|_| too_long("UDP datagram"))?;
            t.extend(len.to_be_bytes());
            t.extend([0, 0]);
        }
        _ => {
            t.extend([if proto == self::proto::ICMP { 8 } else { 128 }, 0, 0, 0]);
            t.extend(sport.to_be_bytes());
            t.extend((seq as u16).to_be_bytes());
        }
    }
    t.resize(t.len() + payload, 0x61);
    Ok(t)
}

fn ethernet(ethertype: u16, l3: &[u8]) -> Vec<u8> {
    let mut f = vec![0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01];
    f.extend(ethertype.to_be_bytes());
    f.extend(l3);
    f
}

/// An Ethernet frame carrying an IP packet from `src` to `dst` (both of one family)
/// with transport bytes `l4` (from [`transport`]).
pub fn ip_packet(src: IpAddr, dst: IpAddr, proto: u8, tos: u8, id: u16, l4: &[u8]) -> io::Result<Vec<u8>> {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let mut h = vec![0x45, tos];
            let len = u16::try_from(20 + l4.len()).map_err(|_| too_long("IPv4 packet"))?;
            h.extend(len.to_be_bytes());
            h.extend(id.to_be_bytes());
            h.extend([0x40, 0, 64, proto, 0, 0]);
            h.extend(s.octets());
            h.extend(d.octets());
            let c = checksum(&h);
            if let Some(field) = h.get_mut(10..12) {
                field.copy_from_slice(&c.to_be_bytes());
            }
            h.extend(l4);
            Ok(ethernet(0x0800, &h))
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            let first = 6u32 << 28 | u32::from(tos) << 20 | u32::from(id);
            let mut h = first.to_be_bytes().to_vec();
            let len = u16::try_from(l4.len()).map_err(|_| too_long("IPv6 payload"))?;
            h.extend(len.to_be_bytes());
            h.extend([proto, 64]);
            h.extend(s.octets());
            h.extend(d.octets());
            h.extend(l4);
            Ok(ethernet(0x86dd, &h))
        }
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "source and destination of different IP families",
        )),
    }
}

/// One packet of a capture: IP endpoints, transport and its capture time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet {
    /// Capture time, Unix microseconds.
    pub at_us: u64,
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// IP protocol ([`proto`]).
    pub proto: u8,
    /// TCP/UDP source port; the echo identifier for ICMP.
    pub sport: u16,
    /// TCP/UDP destination port (unused for ICMP).
    pub dport: u16,
    /// TCP flags ([`flags`]); 0 otherwise.
    pub tcp_flags: u8,
    /// Payload bytes after the transport header.
    pub payload: usize,
}

impl Packet {
    /// The packet as an Ethernet frame (`seq` numbers TCP segments and echo requests).
    pub fn frame(&self, seq: u32) -> io::Result<Vec<u8>> {
        let l4 = transport(self.proto, self.sport, self.dport, seq, self.tcp_flags, self.payload)?;
        ip_packet(self.src, self.dst, self.proto, 0, seq as u16, &l4)
    }
}

/// Writes `frames` (capture time in Unix microseconds, Ethernet frame) as a classic
/// little-endian pcap file (linktype Ethernet), in the order given.
pub fn write_pcap(path: &Path, frames: impl IntoIterator<Item = (u64, Vec<u8>)>) -> io::Result<usize> {
    let mut out = BufWriter::new(File::create(path)?);
    out.write_all(&0xa1b2_c3d4u32.to_le_bytes())?;
    for v in [2u16, 4] {
        out.write_all(&v.to_le_bytes())?;
    }
    for v in [0u32, 0, 65_535, 1] {
        out.write_all(&v.to_le_bytes())?;
    }
    let mut n = 0;
    for (us, frame) in frames {
        let len = u32::try_from(frame.len()).map_err(|_| too_long("frame"))?;
        let secs = u32::try_from(us / 1_000_000).map_err(|_| too_long("capture time"))?;
        for v in [secs, (us % 1_000_000) as u32, len, len] {
            out.write_all(&v.to_le_bytes())?;
        }
        out.write_all(&frame)?;
        n += 1;
    }
    out.flush()?;
    Ok(n)
}

/// Writes `packets` (sorted by capture time) as a pcap file; returns how many.
pub fn write_packets(path: &Path, packets: &[Packet]) -> io::Result<usize> {
    let mut sorted: Vec<&Packet> = packets.iter().collect();
    sorted.sort_by_key(|p| p.at_us);
    let frames = sorted
        .into_iter()
        .enumerate()
        .map(|(n, p)| p.frame(n as u32).map(|f| (p.at_us, f)))
        .collect::<io::Result<Vec<_>>>()?;
    write_pcap(path, frames)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn ipv4_header_checksum_verifies() {
        let l4 = transport(proto::UDP, 53, 40_000, 0, 0, 10).unwrap();
        let f = ip_packet("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap(), proto::UDP, 0, 7, &l4)
            .unwrap();
        // Summing a header with its checksum in place gives zero.
        assert_eq!(checksum(&f[14..34]), 0);
        assert_eq!(u16::from_be_bytes([f[16], f[17]]), 20 + 8 + 10);
        assert!(ip_packet("10.0.0.1".parse().unwrap(), "::1".parse().unwrap(), 17, 0, 0, &l4).is_err());
    }
}
