//! libpcap files: a 24-byte file header, then 16-byte record headers each followed by
//! the captured bytes. Either byte order; microsecond or nanosecond timestamps.

use crate::error::CaptureError;
use crate::frame::{array_at, CaptureFormat, Endian, Frame, LinkType};
use crate::input::Input;
use std::io::Read;

/// Largest record accepted. The biggest snap length tools use is 262144 bytes; 1 MiB
/// leaves room for odd link types while refusing absurd lengths from corrupt files.
pub const MAX_RECORD_LEN: u32 = 1 << 20;

const FILE_HEADER_LEN: usize = 24;
const RECORD_HEADER_LEN: usize = 16;

/// Streams the frames of a pcap file.
#[derive(Debug)]
pub struct PcapReader<R> {
    input: Input<R>,
    endian: Endian,
    nanos: bool,
    link_type: LinkType,
    snap_len: u32,
    buf: Vec<u8>,
    done: bool,
}

impl<R: Read> PcapReader<R> {
    /// Reads the file header.
    pub fn new(mut reader: R) -> Result<Self, CaptureError> {
        let mut magic = [0u8; 4];
        Input::new(&mut reader, 0).exact(&mut magic, "pcap file header")?;
        PcapReader::after_magic(magic, reader)
    }

    /// Continues after the caller has consumed the 4-byte magic.
    pub(crate) fn after_magic(magic: [u8; 4], reader: R) -> Result<Self, CaptureError> {
        let (endian, nanos) = match (u32::from_le_bytes(magic), u32::from_be_bytes(magic)) {
            (0xa1b2_c3d4, _) => (Endian::Little, false),
            (_, 0xa1b2_c3d4) => (Endian::Big, false),
            (0xa1b2_3c4d, _) => (Endian::Little, true),
            (_, 0xa1b2_3c4d) => (Endian::Big, true),
            _ => return Err(CaptureError::NotACapture(magic)),
        };
        let mut input = Input::new(reader, 4);
        let mut rest = [0u8; FILE_HEADER_LEN - 4];
        input.exact(&mut rest, "pcap file header")?;
        let field = |at: usize| array_at::<4>(&rest, at).map(|b| endian.u32(b)).unwrap_or(0);
        let version = array_at::<4>(&rest, 0).unwrap_or_default();
        let major = endian.u16([version[0], version[1]]);
        let minor = endian.u16([version[2], version[3]]);
        if major != 2 {
            return Err(CaptureError::UnsupportedVersion { format: "pcap", major, minor });
        }
        // Bytes 4-11 are thiszone and sigfigs, always 0 in practice and unused.
        let snap_len = field(12);
        // The low 16 bits are the link type; the upper bits may announce an FCS, which
        // needs no stripping here as the IP length bounds every datagram.
        let link_type = LinkType((field(16) & 0xffff) as u16);
        Ok(PcapReader { input, endian, nanos, link_type, snap_len, buf: Vec::new(), done: false })
    }

    /// Micro- or nanosecond flavour.
    pub fn format(&self) -> CaptureFormat {
        if self.nanos {
            CaptureFormat::PcapNanos
        } else {
            CaptureFormat::PcapMicros
        }
    }

    /// The link type of every frame in the file.
    pub fn link_type(&self) -> LinkType {
        self.link_type
    }

    /// The snap length from the file header.
    pub fn snap_len(&self) -> u32 {
        self.snap_len
    }

    /// The next frame; `Ok(None)` at the end of the file. A record cut short by the
    /// end of the file is reported once as [`CaptureError::Truncated`]; after any
    /// error the reader returns `Ok(None)`.
    pub fn next_frame(&mut self) -> Result<Option<Frame<'_>>, CaptureError> {
        if self.done {
            return Ok(None);
        }
        match self.read_record() {
            Ok(Some((timestamp_ns, orig_len))) => {
                Ok(Some(Frame { link_type: self.link_type, timestamp_ns, data: &self.buf, orig_len }))
            }
            Ok(None) => {
                self.done = true;
                Ok(None)
            }
            Err(e) => {
                self.done = true;
                Err(e)
            }
        }
    }

    /// The bytes of the frame last returned by [`PcapReader::next_frame`].
    pub(crate) fn last_frame_data(&self) -> &[u8] {
        &self.buf
    }

    fn read_record(&mut self) -> Result<Option<(i64, u32)>, CaptureError> {
        let start = self.input.offset();
        let mut header = [0u8; RECORD_HEADER_LEN];
        if !self.input.exact_or_eof(&mut header, "pcap record header")? {
            return Ok(None);
        }
        let field = |at: usize| array_at::<4>(&header, at).map(|b| self.endian.u32(b)).unwrap_or(0);
        let (secs, frac, incl_len, orig_len) = (field(0), field(4), field(8), field(12));
        if incl_len > MAX_RECORD_LEN {
            return Err(CaptureError::TooLarge {
                what: "pcap record",
                offset: start,
                len: u64::from(incl_len),
                max: u64::from(MAX_RECORD_LEN),
            });
        }
        self.input.vec(&mut self.buf, u64::from(incl_len), "pcap record data")?;
        let frac_ns = if self.nanos { i64::from(frac) } else { i64::from(frac) * 1000 };
        Ok(Some((i64::from(secs) * 1_000_000_000 + frac_ns, orig_len)))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;

    /// Builds a pcap file by hand in either byte order.
    pub(crate) fn pcap_bytes(big: bool, nanos: bool, link: u32, records: &[(u32, u32, &[u8])]) -> Vec<u8> {
        let w32 = |v: u32| if big { v.to_be_bytes() } else { v.to_le_bytes() };
        let w16 = |v: u16| if big { v.to_be_bytes() } else { v.to_le_bytes() };
        let mut out = Vec::new();
        out.extend(w32(if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 }));
        out.extend(w16(2));
        out.extend(w16(4));
        out.extend(w32(0));
        out.extend(w32(0));
        out.extend(w32(65535));
        out.extend(w32(link));
        for (s, f, data) in records {
            out.extend(w32(*s));
            out.extend(w32(*f));
            out.extend(w32(data.len() as u32));
            out.extend(w32(data.len() as u32 + 4));
            out.extend_from_slice(data);
        }
        out
    }

    #[test]
    fn both_byte_orders_and_resolutions() {
        for big in [false, true] {
            for nanos in [false, true] {
                let file = pcap_bytes(big, nanos, 1, &[(10, 7, b"abc"), (11, 0, b"")]);
                let mut r = PcapReader::new(&file[..]).unwrap();
                assert_eq!(r.link_type(), LinkType::ETHERNET);
                assert_eq!(r.snap_len(), 65535);
                let f = r.next_frame().unwrap().unwrap();
                let frac = if nanos { 7 } else { 7000 };
                assert_eq!(f.timestamp_ns, 10_000_000_000 + frac);
                assert_eq!(f.data, b"abc");
                assert_eq!(f.orig_len, 7);
                let f = r.next_frame().unwrap().unwrap();
                assert_eq!((f.timestamp_ns, f.data.len()), (11_000_000_000, 0));
                assert!(r.next_frame().unwrap().is_none());
                assert!(r.next_frame().unwrap().is_none());
            }
        }
    }

    #[test]
    fn cut_record_is_reported_once_after_good_frames() {
        let file = pcap_bytes(false, false, 1, &[(1, 0, b"good"), (2, 0, b"cut-off")]);
        for cut in [file.len() - 3, file.len() - 7 - 5] {
            let mut r = PcapReader::new(&file[..cut]).unwrap();
            assert_eq!(r.next_frame().unwrap().unwrap().data, b"good");
            assert!(r.next_frame().unwrap_err().is_truncation());
            assert!(r.next_frame().unwrap().is_none());
        }
    }

    #[test]
    fn rejects_absurd_lengths_and_versions() {
        let mut file = pcap_bytes(false, false, 1, &[(1, 0, b"x")]);
        file[24 + 8..24 + 12].copy_from_slice(&u32::MAX.to_le_bytes());
        let mut r = PcapReader::new(&file[..]).unwrap();
        assert!(matches!(r.next_frame(), Err(CaptureError::TooLarge { .. })));
        let mut file = pcap_bytes(false, false, 1, &[]);
        file[4] = 3;
        assert!(matches!(PcapReader::new(&file[..]), Err(CaptureError::UnsupportedVersion { major: 3, .. })));
        assert!(PcapReader::new(&file[..10]).unwrap_err().is_truncation());
    }
}
