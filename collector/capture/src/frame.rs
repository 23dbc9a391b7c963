//! What both file formats yield: a captured frame with its link type and time, and
//! the reader that picks the format from the file's magic number.

use crate::error::CaptureError;
use crate::pcap::PcapReader;
use crate::pcapng::PcapngReader;
use std::fmt;
use std::io::Read;

/// A link-layer header type (tcpdump.org LINKTYPE_ values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LinkType(pub u16);

impl LinkType {
    /// BSD loopback: a 4-byte address family in the capturing host's byte order.
    pub const NULL: LinkType = LinkType(0);
    /// Ethernet II / 802.3.
    pub const ETHERNET: LinkType = LinkType(1);
    /// Raw IP as DLT_RAW is numbered on most systems, found in old files.
    pub const RAW_DLT12: LinkType = LinkType(12);
    /// Raw IP as DLT_RAW is numbered on OpenBSD, found in old files.
    pub const RAW_DLT14: LinkType = LinkType(14);
    /// Raw IPv4 or IPv6, told apart by the version nibble.
    pub const RAW: LinkType = LinkType(101);
    /// OpenBSD loopback: a 4-byte address family in network byte order.
    pub const LOOP: LinkType = LinkType(108);
    /// Linux "cooked" capture, version 1 (`tcpdump -i any`).
    pub const LINUX_SLL: LinkType = LinkType(113);
    /// Raw IPv4 only.
    pub const IPV4: LinkType = LinkType(228);
    /// Raw IPv6 only.
    pub const IPV6: LinkType = LinkType(229);
    /// Linux "cooked" capture, version 2.
    pub const LINUX_SLL2: LinkType = LinkType(276);

    /// True for the link types [`crate::link::network_layer`] understands.
    pub fn is_supported(self) -> bool {
        matches!(self.0, 0 | 1 | 12 | 14 | 101 | 108 | 113 | 228 | 229 | 276)
    }
}

impl fmt::Display for LinkType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.0 {
            0 => "null",
            1 => "ethernet",
            12 | 14 | 101 => "raw",
            108 => "loop",
            113 => "linux_sll",
            228 => "ipv4",
            229 => "ipv6",
            276 => "linux_sll2",
            other => return write!(f, "linktype_{other}"),
        };
        f.write_str(name)
    }
}

/// One captured frame, borrowed from the reader's buffer until the next read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// How `data` starts.
    pub link_type: LinkType,
    /// Capture time, nanoseconds since the Unix epoch.
    pub timestamp_ns: i64,
    /// The bytes captured (possibly fewer than were on the wire).
    pub data: &'a [u8],
    /// Length of the frame on the wire.
    pub orig_len: u32,
}

/// The container format of a capture file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaptureFormat {
    /// libpcap, with microsecond timestamps.
    PcapMicros,
    /// libpcap, with nanosecond timestamps.
    PcapNanos,
    /// pcapng.
    Pcapng,
}

/// pcap magic as written by a little- or big-endian host (microseconds).
const PCAP_MICROS: u32 = 0xa1b2_c3d4;
/// pcap magic with nanosecond timestamps.
const PCAP_NANOS: u32 = 0xa1b2_3c4d;
/// pcapng Section Header Block type (a byte palindrome, so order-independent).
pub(crate) const PCAPNG_SHB: u32 = 0x0a0d_0d0a;

impl CaptureFormat {
    /// Recognizes a capture file by its first four bytes; `None` for anything else
    /// (the `decode` tool then treats the file as a raw UDP payload).
    pub fn detect(head: &[u8]) -> Option<CaptureFormat> {
        let magic: [u8; 4] = head.get(..4)?.try_into().ok()?;
        let (le, be) = (u32::from_le_bytes(magic), u32::from_be_bytes(magic));
        if le == PCAP_MICROS || be == PCAP_MICROS {
            Some(CaptureFormat::PcapMicros)
        } else if le == PCAP_NANOS || be == PCAP_NANOS {
            Some(CaptureFormat::PcapNanos)
        } else if be == PCAPNG_SHB {
            Some(CaptureFormat::Pcapng)
        } else {
            None
        }
    }
}

/// Byte order of a file's integers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endian {
    Little,
    Big,
}

impl Endian {
    pub(crate) fn u16(self, b: [u8; 2]) -> u16 {
        match self {
            Endian::Little => u16::from_le_bytes(b),
            Endian::Big => u16::from_be_bytes(b),
        }
    }

    pub(crate) fn u32(self, b: [u8; 4]) -> u32 {
        match self {
            Endian::Little => u32::from_le_bytes(b),
            Endian::Big => u32::from_be_bytes(b),
        }
    }

    pub(crate) fn u64(self, b: [u8; 8]) -> u64 {
        match self {
            Endian::Little => u64::from_le_bytes(b),
            Endian::Big => u64::from_be_bytes(b),
        }
    }
}

/// Reads a fixed-size array at `at`; `None` past the end.
pub(crate) fn array_at<const N: usize>(buf: &[u8], at: usize) -> Option<[u8; N]> {
    buf.get(at..at.checked_add(N)?)?.try_into().ok()
}

/// Reads a pcap or pcapng file, whichever its magic number says.
#[derive(Debug)]
pub enum FrameReader<R> {
    /// A libpcap file.
    Pcap(PcapReader<R>),
    /// A pcapng file.
    Pcapng(PcapngReader<R>),
}

impl<R: Read> FrameReader<R> {
    /// Reads the file header and picks the format; [`CaptureError::NotACapture`] when
    /// the magic is neither.
    pub fn new(mut reader: R) -> Result<Self, CaptureError> {
        let mut magic = [0u8; 4];
        let mut input = crate::input::Input::new(&mut reader, 0);
        input.exact(&mut magic, "file magic")?;
        match CaptureFormat::detect(&magic) {
            Some(CaptureFormat::Pcapng) => Ok(FrameReader::Pcapng(PcapngReader::after_magic(magic, reader)?)),
            Some(_) => Ok(FrameReader::Pcap(PcapReader::after_magic(magic, reader)?)),
            None => Err(CaptureError::NotACapture(magic)),
        }
    }

    /// The container format.
    pub fn format(&self) -> CaptureFormat {
        match self {
            FrameReader::Pcap(r) => r.format(),
            FrameReader::Pcapng(_) => CaptureFormat::Pcapng,
        }
    }

    /// The next frame; `Ok(None)` at the end of the file. After an error the reader
    /// is finished and returns `Ok(None)`.
    pub fn next_frame(&mut self) -> Result<Option<Frame<'_>>, CaptureError> {
        match self {
            FrameReader::Pcap(r) => r.next_frame(),
            FrameReader::Pcapng(r) => r.next_frame(),
        }
    }

    /// The bytes of the frame last returned by [`FrameReader::next_frame`].
    pub(crate) fn last_frame_data(&self) -> &[u8] {
        match self {
            FrameReader::Pcap(r) => r.last_frame_data(),
            FrameReader::Pcapng(r) => r.last_frame_data(),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;

    #[test]
    fn detects_all_magics() {
        assert_eq!(CaptureFormat::detect(&[0xd4, 0xc3, 0xb2, 0xa1]), Some(CaptureFormat::PcapMicros));
        assert_eq!(CaptureFormat::detect(&[0xa1, 0xb2, 0xc3, 0xd4]), Some(CaptureFormat::PcapMicros));
        assert_eq!(CaptureFormat::detect(&[0x4d, 0x3c, 0xb2, 0xa1]), Some(CaptureFormat::PcapNanos));
        assert_eq!(CaptureFormat::detect(&[0xa1, 0xb2, 0x3c, 0x4d]), Some(CaptureFormat::PcapNanos));
        assert_eq!(CaptureFormat::detect(&[0x0a, 0x0d, 0x0d, 0x0a]), Some(CaptureFormat::Pcapng));
        assert_eq!(CaptureFormat::detect(&[0, 5, 0, 1]), None);
        assert_eq!(CaptureFormat::detect(&[0xd4, 0xc3]), None);
    }

    #[test]
    fn not_a_capture() {
        let err = FrameReader::new(&[0u8, 10, 0, 16, 1, 2][..]).unwrap_err();
        assert!(matches!(err, CaptureError::NotACapture([0, 10, 0, 16])));
        let err = FrameReader::new(&[0xd4u8][..]).unwrap_err();
        assert!(err.is_truncation());
    }
}
