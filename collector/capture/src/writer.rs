//! Writes UDP datagrams as a pcap file (Ethernet, IPv4 or IPv6, UDP with correct
//! lengths and checksums, nanosecond timestamps), so simulated exports can be opened
//! in Wireshark or replayed with tcpreplay.

use crate::error::WriteError;
use std::io::Write;
use std::net::{IpAddr, SocketAddr};

/// pcap magic for nanosecond timestamps.
const MAGIC_NANOS: u32 = 0xa1b2_3c4d;
/// Snap length announced in the header: no frame written is ever cut.
const SNAP_LEN: u32 = 262_144;
const LINKTYPE_ETHERNET: u32 = 1;
const UDP_HEADER: usize = 8;
const IPV4_HEADER: usize = 20;

/// A pcap writer for UDP datagrams.
#[derive(Debug)]
pub struct PcapWriter<W: Write> {
    out: W,
    frame: Vec<u8>,
    ip_id: u16,
}

impl<W: Write> PcapWriter<W> {
    /// Writes the pcap file header to `out`. Wrap files in a `BufWriter`: each frame
    /// is written with two `write_all` calls.
    pub fn new(mut out: W) -> Result<Self, WriteError> {
        let mut header = Vec::with_capacity(24);
        header.extend(MAGIC_NANOS.to_le_bytes());
        header.extend(2u16.to_le_bytes());
        header.extend(4u16.to_le_bytes());
        header.extend(0i32.to_le_bytes()); // thiszone
        header.extend(0u32.to_le_bytes()); // sigfigs
        header.extend(SNAP_LEN.to_le_bytes());
        header.extend(LINKTYPE_ETHERNET.to_le_bytes());
        out.write_all(&header)?;
        Ok(PcapWriter { out, frame: Vec::with_capacity(2048), ip_id: 0 })
    }

    /// Writes one UDP datagram from `src` to `dst` captured at `timestamp_ns`
    /// (nanoseconds since the Unix epoch). Both addresses must be of one family.
    pub fn write_udp(
        &mut self,
        timestamp_ns: i64,
        src: SocketAddr,
        dst: SocketAddr,
        payload: &[u8],
    ) -> Result<(), WriteError> {
        let secs = u32::try_from(timestamp_ns.div_euclid(1_000_000_000))
            .map_err(|_| WriteError::TimestampOutOfRange(timestamp_ns))?;
        let nanos = timestamp_ns.rem_euclid(1_000_000_000) as u32;
        // IPv4 total length and the UDP length are 16-bit; IPv6's payload length
        // counts the UDP header but not the IPv6 one.
        let (ethertype, max) = match (src.ip(), dst.ip()) {
            (IpAddr::V4(_), IpAddr::V4(_)) => (0x0800u16, usize::from(u16::MAX) - IPV4_HEADER - UDP_HEADER),
            (IpAddr::V6(_), IpAddr::V6(_)) => (0x86dd, usize::from(u16::MAX) - UDP_HEADER),
            _ => return Err(WriteError::MixedFamilies { src, dst }),
        };
        if payload.len() > max {
            return Err(WriteError::PayloadTooLarge { len: payload.len(), max });
        }
        let udp_len = (UDP_HEADER + payload.len()) as u16;

        let f = &mut self.frame;
        f.clear();
        f.extend(mac(dst.ip()));
        f.extend(mac(src.ip()));
        f.extend(ethertype.to_be_bytes());
        match (src.ip(), dst.ip()) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                let start = f.len();
                f.extend([0x45, 0]);
                f.extend((udp_len + IPV4_HEADER as u16).to_be_bytes());
                f.extend(self.ip_id.to_be_bytes());
                f.extend(0x4000u16.to_be_bytes()); // don't fragment
                f.extend([64, 17, 0, 0]); // TTL, UDP, checksum placeholder
                f.extend(s.octets());
                f.extend(d.octets());
                let sum = checksum(0, f.get(start..).unwrap_or(&[]));
                if let Some(c) = f.get_mut(start + 10..start + 12) {
                    c.copy_from_slice(&sum.to_be_bytes());
                }
                self.ip_id = self.ip_id.wrapping_add(1);
            }
            (IpAddr::V6(s), IpAddr::V6(d)) => {
                f.extend([0x60, 0, 0, 0]);
                f.extend(udp_len.to_be_bytes());
                f.extend([17, 64]); // next header UDP, hop limit
                f.extend(s.octets());
                f.extend(d.octets());
            }
            _ => {}
        }
        let udp_start = f.len();
        f.extend(src.port().to_be_bytes());
        f.extend(dst.port().to_be_bytes());
        f.extend(udp_len.to_be_bytes());
        f.extend([0, 0]);
        f.extend_from_slice(payload);
        // Pseudo-header: addresses, protocol, UDP length (RFC 768, RFC 8200 §8.1).
        let mut pseudo = pseudo_sum(src.ip(), dst.ip());
        pseudo += 17 + u64::from(udp_len);
        let mut sum = checksum(pseudo, f.get(udp_start..).unwrap_or(&[]));
        if sum == 0 {
            sum = 0xffff; // 0 means "no checksum" in UDP over IPv4 and is illegal over IPv6
        }
        if let Some(c) = f.get_mut(udp_start + 6..udp_start + 8) {
            c.copy_from_slice(&sum.to_be_bytes());
        }

        let len = f.len() as u32;
        let mut record = [0u8; 16];
        record[..4].copy_from_slice(&secs.to_le_bytes());
        record[4..8].copy_from_slice(&nanos.to_le_bytes());
        record[8..12].copy_from_slice(&len.to_le_bytes());
        record[12..].copy_from_slice(&len.to_le_bytes());
        self.out.write_all(&record)?;
        self.out.write_all(&self.frame)?;
        Ok(())
    }

    /// Flushes the underlying writer.
    pub fn flush(&mut self) -> Result<(), WriteError> {
        self.out.flush()?;
        Ok(())
    }

    /// The underlying writer (not flushed).
    pub fn into_inner(self) -> W {
        self.out
    }
}

/// A locally administered unicast MAC derived from the address, so each host keeps
/// one MAC across the file.
fn mac(ip: IpAddr) -> [u8; 6] {
    let tail = match ip {
        IpAddr::V4(a) => a.octets(),
        IpAddr::V6(a) => {
            let o = a.octets();
            [o[12], o[13], o[14], o[15]]
        }
    };
    [0x02, 0x00, tail[0], tail[1], tail[2], tail[3]]
}

/// Sum of the 16-bit words of both addresses.
fn pseudo_sum(src: IpAddr, dst: IpAddr) -> u64 {
    let words = |ip: IpAddr| match ip {
        IpAddr::V4(a) => sum_words(&a.octets()),
        IpAddr::V6(a) => sum_words(&a.octets()),
    };
    words(src) + words(dst)
}

/// Sum of the big-endian 16-bit words of `data`, an odd last byte padded with zero.
fn sum_words(data: &[u8]) -> u64 {
    let mut chunks = data.chunks_exact(2);
    let mut sum: u64 = chunks
        .by_ref()
        .map(|c| match c {
            [hi, lo] => u64::from(u16::from_be_bytes([*hi, *lo])),
            _ => 0,
        })
        .sum();
    if let [last] = chunks.remainder() {
        sum += u64::from(*last) << 8;
    }
    sum
}

/// The Internet checksum (RFC 1071) of `data`, starting from `initial`.
fn checksum(initial: u64, data: &[u8]) -> u16 {
    let mut sum = initial + sum_words(data);
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;
    use crate::reader::DatagramReader;

    #[test]
    fn rfc1071_example() {
        // RFC 1071 §3: the words 0001 f203 f4f5 f6f7 sum to ddf2, checksum 220d.
        assert_eq!(checksum(0, &[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]), 0x220d);
        assert_eq!(checksum(0, &[0xff]), 0x00ff);
    }

    #[test]
    fn round_trip_v4_and_v6() {
        let mut w = PcapWriter::new(Vec::new()).unwrap();
        let a: SocketAddr = "192.0.2.1:2055".parse().unwrap();
        let b: SocketAddr = "198.51.100.7:9995".parse().unwrap();
        let c: SocketAddr = "[2001:db8::1]:4739".parse().unwrap();
        let d: SocketAddr = "[2001:db8::2]:4739".parse().unwrap();
        w.write_udp(1_700_000_000_123_456_789, a, b, b"v5 datagram").unwrap();
        w.write_udp(1_700_000_001_000_000_000, c, d, &[0xab; 3000]).unwrap();
        w.write_udp(5, a, b, b"").unwrap();
        assert!(matches!(w.write_udp(0, a, d, b""), Err(WriteError::MixedFamilies { .. })));
        assert!(matches!(w.write_udp(-1, a, b, b""), Err(WriteError::TimestampOutOfRange(-1))));
        assert!(matches!(w.write_udp(0, a, b, &vec![0; 65_508]), Err(WriteError::PayloadTooLarge { .. })));
        let file = w.into_inner();
        let mut r = DatagramReader::new(&file[..]).unwrap();
        let (got, err) = r.read_all();
        assert!(err.is_none());
        assert_eq!(got.len(), 3);
        assert_eq!((got[0].timestamp_ns, got[0].src, got[0].dst), (1_700_000_000_123_456_789, a, b));
        assert_eq!(got[0].payload, b"v5 datagram");
        assert_eq!((got[1].src, got[1].dst, got[1].payload.len()), (c, d, 3000));
        assert_eq!(got[2].payload, b"");
        assert_eq!(r.stats().skipped.total(), 0);
    }

    #[test]
    fn checksums_verify() {
        let mut w = PcapWriter::new(Vec::new()).unwrap();
        let a: SocketAddr = "10.1.2.3:1000".parse().unwrap();
        let b: SocketAddr = "10.3.2.1:2000".parse().unwrap();
        w.write_udp(0, a, b, b"odd").unwrap();
        let file = w.into_inner();
        let frame = &file[24 + 16..];
        let ip = &frame[14..34];
        assert_eq!(checksum(0, ip), 0, "IPv4 header checksum");
        let udp = &frame[34..];
        let pseudo = pseudo_sum(a.ip(), b.ip()) + 17 + udp.len() as u64;
        assert_eq!(checksum(pseudo, udp), 0, "UDP checksum");
    }
}
