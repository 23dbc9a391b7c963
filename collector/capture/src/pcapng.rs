//! pcapng files: a sequence of blocks, each `type, total length, body, total length`.
//!
//! Understood: Section Header (either byte order; a new section resets the interface
//! table), Interface Description (link type, `if_tsresol`, `if_tsoffset`), Enhanced
//! Packet, Simple Packet and the obsolete Packet Block. Every other block (name
//! resolution, statistics, journal, custom, ...) is skipped by its length.

use crate::error::CaptureError;
use crate::frame::{array_at, Endian, Frame, LinkType, PCAPNG_SHB};
use crate::input::Input;
use std::io::Read;

/// Largest block accepted (Wireshark's limit is of the same order); refusing larger
/// ones keeps a corrupt length from turning into a huge allocation.
pub const MAX_BLOCK_LEN: u32 = 16 << 20;

const BYTE_ORDER_MAGIC: u32 = 0x1a2b_3c4d;
const IDB: u32 = 1;
const OPB: u32 = 2;
const SPB: u32 = 3;
const EPB: u32 = 6;
/// Option codes of the Interface Description Block.
const OPT_END: u16 = 0;
const IF_TSRESOL: u16 = 9;
const IF_TSOFFSET: u16 = 14;

/// Units of an interface's timestamps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TsResol {
    /// 10^-n seconds.
    Decimal(u8),
    /// 2^-n seconds.
    Binary(u8),
}

impl TsResol {
    fn from_option(v: u8) -> TsResol {
        if v & 0x80 == 0 {
            TsResol::Decimal(v)
        } else {
            TsResol::Binary(v & 0x7f)
        }
    }

    /// Nanoseconds since the epoch for `ticks` units plus `offset_s` seconds, clamped
    /// to the i64 range (only a corrupt file gets near it).
    fn to_ns(self, ticks: u64, offset_s: i64) -> i64 {
        let t = i128::from(ticks);
        let ns = match self {
            TsResol::Decimal(e) if e <= 9 => t * 10i128.pow(u32::from(9 - e)),
            TsResol::Decimal(e) => 10i128.checked_pow(u32::from(e - 9)).map_or(0, |d| t / d),
            // ticks < 2^64 and 1e9 < 2^30: the product fits in i128; e < 128.
            TsResol::Binary(e) => (t * 1_000_000_000) >> e,
        };
        let total = ns + i128::from(offset_s) * 1_000_000_000;
        i64::try_from(total).unwrap_or(if total < 0 { i64::MIN } else { i64::MAX })
    }
}

/// What an Interface Description Block said.
#[derive(Debug, Clone, Copy)]
struct Interface {
    link_type: LinkType,
    snap_len: u32,
    resol: TsResol,
    offset_s: i64,
}

/// Streams the packets of a pcapng file.
#[derive(Debug)]
pub struct PcapngReader<R> {
    input: Input<R>,
    endian: Endian,
    interfaces: Vec<Interface>,
    buf: Vec<u8>,
    /// Where the last packet's bytes are in `buf`.
    current: (usize, usize),
    last_ts: i64,
    done: bool,
}

/// A packet found in a block: where its bytes are in the block buffer.
struct Packet {
    link_type: LinkType,
    timestamp_ns: i64,
    start: usize,
    len: usize,
    orig_len: u32,
}

impl<R: Read> PcapngReader<R> {
    /// Reads the first Section Header Block.
    pub fn new(mut reader: R) -> Result<Self, CaptureError> {
        let mut magic = [0u8; 4];
        Input::new(&mut reader, 0).exact(&mut magic, "pcapng section header")?;
        PcapngReader::after_magic(magic, reader)
    }

    /// Continues after the caller has consumed the first block type.
    pub(crate) fn after_magic(magic: [u8; 4], reader: R) -> Result<Self, CaptureError> {
        if u32::from_be_bytes(magic) != PCAPNG_SHB {
            return Err(CaptureError::NotACapture(magic));
        }
        let mut r = PcapngReader {
            input: Input::new(reader, 4),
            endian: Endian::Little,
            interfaces: Vec::new(),
            buf: Vec::new(),
            current: (0, 0),
            last_ts: 0,
            done: false,
        };
        r.section_header(0)?;
        Ok(r)
    }

    /// The next packet; `Ok(None)` at the end of the file. A block cut short by the
    /// end of the file is reported once as [`CaptureError::Truncated`]; after any
    /// error the reader returns `Ok(None)`.
    pub fn next_frame(&mut self) -> Result<Option<Frame<'_>>, CaptureError> {
        if self.done {
            return Ok(None);
        }
        match self.next_packet() {
            Ok(Some(p)) => {
                self.current = (p.start, p.len);
                let data = self.last_frame_data();
                Ok(Some(Frame {
                    link_type: p.link_type,
                    timestamp_ns: p.timestamp_ns,
                    data,
                    orig_len: p.orig_len,
                }))
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

    /// The bytes of the frame last returned by [`PcapngReader::next_frame`].
    pub(crate) fn last_frame_data(&self) -> &[u8] {
        let (start, len) = self.current;
        self.buf.get(start..start.saturating_add(len)).unwrap_or(&[])
    }

    fn next_packet(&mut self) -> Result<Option<Packet>, CaptureError> {
        loop {
            let start = self.input.offset();
            let mut kind = [0u8; 4];
            if !self.input.exact_or_eof(&mut kind, "pcapng block header")? {
                return Ok(None);
            }
            let kind = self.endian.u32(kind);
            if kind == PCAPNG_SHB {
                self.section_header(start)?;
                continue;
            }
            let mut len = [0u8; 4];
            self.input.exact(&mut len, "pcapng block header")?;
            let len = self.endian.u32(len);
            self.block_body(start, len, 8)?;
            let body_len = self.buf.len().saturating_sub(4);
            let packet = match kind {
                IDB => {
                    self.interface(start, body_len)?;
                    None
                }
                EPB => Some(self.enhanced_packet(start, body_len, false)?),
                OPB => Some(self.enhanced_packet(start, body_len, true)?),
                SPB => Some(self.simple_packet(start, body_len)?),
                _ => None,
            };
            if let Some(p) = packet {
                self.last_ts = p.timestamp_ns;
                return Ok(Some(p));
            }
        }
    }

    /// Reads a block's remaining `len - consumed` bytes into `buf` and checks the
    /// trailing copy of the length.
    fn block_body(&mut self, start: u64, len: u32, consumed: u32) -> Result<(), CaptureError> {
        if len > MAX_BLOCK_LEN {
            return Err(CaptureError::TooLarge {
                what: "pcapng block",
                offset: start,
                len: u64::from(len),
                max: u64::from(MAX_BLOCK_LEN),
            });
        }
        if len % 4 != 0 || len < consumed + 4 {
            return Err(CaptureError::Malformed {
                what: "pcapng block",
                offset: start,
                why: "length not a multiple of 4 or shorter than its header",
            });
        }
        self.input.vec(&mut self.buf, u64::from(len - consumed), "pcapng block")?;
        let trailer = self.buf.len().checked_sub(4).and_then(|at| array_at::<4>(&self.buf, at));
        if trailer.map(|t| self.endian.u32(t)) != Some(len) {
            return Err(CaptureError::Malformed {
                what: "pcapng block",
                offset: start,
                why: "trailing length differs from the leading one",
            });
        }
        Ok(())
    }

    /// Reads a Section Header Block whose type was consumed at `start`.
    fn section_header(&mut self, start: u64) -> Result<(), CaptureError> {
        let mut head = [0u8; 8];
        self.input.exact(&mut head, "pcapng section header")?;
        let len = array_at::<4>(&head, 0).unwrap_or_default();
        let magic = array_at::<4>(&head, 4).unwrap_or_default();
        self.endian = if u32::from_le_bytes(magic) == BYTE_ORDER_MAGIC {
            Endian::Little
        } else if u32::from_be_bytes(magic) == BYTE_ORDER_MAGIC {
            Endian::Big
        } else {
            return Err(CaptureError::Malformed {
                what: "pcapng section header",
                offset: start,
                why: "unknown byte-order magic",
            });
        };
        let len = self.endian.u32(len);
        self.block_body(start, len, 12)?;
        // Version (4 bytes) and section length (8) precede the trailing length.
        let version =
            array_at::<4>(&self.buf, 0).filter(|_| self.buf.len() >= 16).ok_or(CaptureError::Malformed {
                what: "pcapng section header",
                offset: start,
                why: "too short for its fields",
            })?;
        let major = self.endian.u16([version[0], version[1]]);
        let minor = self.endian.u16([version[2], version[3]]);
        if major != 1 {
            return Err(CaptureError::UnsupportedVersion { format: "pcapng", major, minor });
        }
        // Interface ids are numbered per section.
        self.interfaces.clear();
        Ok(())
    }

    fn interface(&mut self, start: u64, body_len: usize) -> Result<(), CaptureError> {
        let body = self.buf.get(..body_len).unwrap_or(&[]);
        let (Some(link), Some(snap)) = (array_at::<2>(body, 0), array_at::<4>(body, 4)) else {
            return Err(CaptureError::Malformed {
                what: "pcapng interface description",
                offset: start,
                why: "shorter than its fixed fields",
            });
        };
        let mut iface = Interface {
            link_type: LinkType(self.endian.u16(link)),
            snap_len: self.endian.u32(snap),
            resol: TsResol::Decimal(6),
            offset_s: 0,
        };
        let endian = self.endian;
        for_each_option(body.get(8..).unwrap_or(&[]), endian, |code, value| match code {
            IF_TSRESOL => {
                if let Some(v) = value.first() {
                    iface.resol = TsResol::from_option(*v);
                }
            }
            IF_TSOFFSET => {
                if let Some(v) = array_at::<8>(value, 0) {
                    iface.offset_s = endian.u64(v) as i64;
                }
            }
            _ => {}
        });
        self.interfaces.push(iface);
        Ok(())
    }

    fn iface(&self, id: usize, start: u64, what: &'static str) -> Result<Interface, CaptureError> {
        self.interfaces.get(id).copied().ok_or(CaptureError::Malformed {
            what,
            offset: start,
            why: "refers to an interface not described in its section",
        })
    }

    /// Enhanced Packet Block, or the obsolete Packet Block (`obsolete`), whose layout
    /// differs only in a 16-bit interface id followed by a drops count.
    fn enhanced_packet(&self, start: u64, body_len: usize, obsolete: bool) -> Result<Packet, CaptureError> {
        let what = if obsolete { "pcapng packet block" } else { "pcapng enhanced packet block" };
        let body = self.buf.get(..body_len).unwrap_or(&[]);
        let malformed = |why| CaptureError::Malformed { what, offset: start, why };
        let u32_at = |at| array_at::<4>(body, at).map(|b| self.endian.u32(b));
        let id =
            if obsolete { array_at::<2>(body, 0).map(|b| u32::from(self.endian.u16(b))) } else { u32_at(0) };
        let (Some(id), Some(hi), Some(lo), Some(cap), Some(orig)) =
            (id, u32_at(4), u32_at(8), u32_at(12), u32_at(16))
        else {
            return Err(malformed("shorter than its fixed fields"));
        };
        let iface = self.iface(id as usize, start, what)?;
        let len = cap as usize;
        if len > body_len.saturating_sub(20) {
            return Err(malformed("captured length runs past the block"));
        }
        let ticks = u64::from(hi) << 32 | u64::from(lo);
        Ok(Packet {
            link_type: iface.link_type,
            timestamp_ns: iface.resol.to_ns(ticks, iface.offset_s),
            start: 20,
            len,
            orig_len: orig,
        })
    }

    /// Simple Packet Block: interface 0, no timestamp (the previous packet's time is
    /// used, so capture-time ordering holds), captured length implied by the block.
    fn simple_packet(&self, start: u64, body_len: usize) -> Result<Packet, CaptureError> {
        let what = "pcapng simple packet block";
        let orig = array_at::<4>(&self.buf, 0)
            .map(|b| self.endian.u32(b))
            .ok_or(CaptureError::Malformed { what, offset: start, why: "shorter than its fixed fields" })?;
        let iface = self.iface(0, start, what)?;
        let mut len = body_len.saturating_sub(4).min(orig as usize);
        if iface.snap_len != 0 {
            len = len.min(iface.snap_len as usize);
        }
        Ok(Packet { link_type: iface.link_type, timestamp_ns: self.last_ts, start: 4, len, orig_len: orig })
    }
}

/// Calls `f(code, value)` for each option until `opt_endofopt` or the end of `buf`.
fn for_each_option(mut buf: &[u8], endian: Endian, mut f: impl FnMut(u16, &[u8])) {
    while let (Some(code), Some(len)) = (array_at::<2>(buf, 0), array_at::<2>(buf, 2)) {
        let (code, len) = (endian.u16(code), usize::from(endian.u16(len)));
        if code == OPT_END {
            break;
        }
        let Some(value) = buf.get(4..4 + len) else { break };
        f(code, value);
        // Values are padded to 32 bits.
        buf = buf.get(4 + len.next_multiple_of(4)..).unwrap_or(&[]);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;

    /// Builds pcapng blocks in either byte order.
    pub(crate) struct Ng {
        pub big: bool,
        pub out: Vec<u8>,
    }

    impl Ng {
        pub fn new(big: bool) -> Self {
            let mut ng = Ng { big, out: Vec::new() };
            ng.shb();
            ng
        }
        fn u16(&self, v: u16) -> [u8; 2] {
            if self.big {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        }
        fn u32(&self, v: u32) -> [u8; 4] {
            if self.big {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        }
        pub fn block(&mut self, kind: u32, body: &[u8]) {
            let mut body = body.to_vec();
            while body.len() % 4 != 0 {
                body.push(0);
            }
            let len = body.len() as u32 + 12;
            let (k, l) = (self.u32(kind), self.u32(len));
            self.out.extend(k);
            self.out.extend(l);
            self.out.extend(body);
            self.out.extend(l);
        }
        pub fn shb(&mut self) {
            let mut body = self.u32(BYTE_ORDER_MAGIC).to_vec();
            body.extend(self.u16(1));
            body.extend(self.u16(0));
            body.extend((-1i64).to_le_bytes());
            self.block(PCAPNG_SHB, &body);
        }
        pub fn idb(&mut self, link: u16, tsresol: Option<u8>, tsoffset: Option<i64>) {
            let mut body = self.u16(link).to_vec();
            body.extend(self.u16(0));
            body.extend(self.u32(0));
            if let Some(r) = tsresol {
                body.extend(self.u16(IF_TSRESOL));
                body.extend(self.u16(1));
                body.extend([r, 0, 0, 0]);
            }
            if let Some(o) = tsoffset {
                body.extend(self.u16(IF_TSOFFSET));
                body.extend(self.u16(8));
                body.extend(if self.big { o.to_be_bytes() } else { o.to_le_bytes() });
            }
            body.extend(self.u16(0));
            body.extend(self.u16(0));
            self.block(IDB, &body);
        }
        pub fn epb(&mut self, iface: u32, ticks: u64, data: &[u8]) {
            let mut body = self.u32(iface).to_vec();
            body.extend(self.u32((ticks >> 32) as u32));
            body.extend(self.u32(ticks as u32));
            body.extend(self.u32(data.len() as u32));
            body.extend(self.u32(data.len() as u32));
            body.extend_from_slice(data);
            self.block(EPB, &body);
        }
        pub fn opb(&mut self, iface: u16, ticks: u64, data: &[u8]) {
            let mut body = self.u16(iface).to_vec();
            body.extend(self.u16(0));
            body.extend(self.u32((ticks >> 32) as u32));
            body.extend(self.u32(ticks as u32));
            body.extend(self.u32(data.len() as u32));
            body.extend(self.u32(data.len() as u32));
            body.extend_from_slice(data);
            self.block(OPB, &body);
        }
        pub fn spb(&mut self, data: &[u8]) {
            let mut body = self.u32(data.len() as u32).to_vec();
            body.extend_from_slice(data);
            self.block(SPB, &body);
        }
    }

    type Got = (LinkType, i64, Vec<u8>);

    fn frames(bytes: &[u8]) -> (Vec<Got>, Option<CaptureError>) {
        let mut r = PcapngReader::new(bytes).unwrap();
        let mut out = Vec::new();
        loop {
            match r.next_frame() {
                Ok(Some(f)) => out.push((f.link_type, f.timestamp_ns, f.data.to_vec())),
                Ok(None) => return (out, None),
                Err(e) => {
                    assert!(r.next_frame().unwrap().is_none());
                    return (out, Some(e));
                }
            }
        }
    }

    #[test]
    fn all_packet_blocks_in_both_byte_orders() {
        for big in [false, true] {
            let mut ng = Ng::new(big);
            ng.idb(1, None, None);
            ng.idb(101, Some(9), Some(10));
            ng.block(4, &[1, 2, 3, 4, 5]); // name resolution: skipped
            ng.epb(0, 1_500_000, b"first");
            ng.block(0x4242, &[]); // unknown: skipped
            ng.epb(1, 2_000_000_001, b"second!");
            ng.spb(b"simple");
            ng.opb(1, 3, b"old");
            let (f, err) = frames(&ng.out);
            assert!(err.is_none(), "{err:?}");
            assert_eq!(f.len(), 4);
            assert_eq!(f[0], (LinkType::ETHERNET, 1_500_000_000, b"first".to_vec()));
            assert_eq!(f[1], (LinkType::RAW, 12_000_000_001, b"second!".to_vec()));
            assert_eq!(f[2], (LinkType::ETHERNET, 12_000_000_001, b"simple".to_vec()));
            assert_eq!(f[3], (LinkType::RAW, 10_000_000_003, b"old".to_vec()));
        }
    }

    #[test]
    fn new_section_changes_byte_order_and_interfaces() {
        let mut ng = Ng::new(false);
        ng.idb(1, None, None);
        ng.epb(0, 1, b"a");
        let mut second = Ng::new(true);
        second.idb(113, Some(0x80 | 10), None);
        second.epb(0, 1024 * 5, b"b");
        ng.out.extend(second.out);
        let (f, err) = frames(&ng.out);
        assert!(err.is_none());
        assert_eq!(f[0], (LinkType::ETHERNET, 1000, b"a".to_vec()));
        assert_eq!(f[1], (LinkType::LINUX_SLL, 5_000_000_000, b"b".to_vec()));
    }

    #[test]
    fn truncation_and_corruption() {
        let mut ng = Ng::new(false);
        ng.idb(1, None, None);
        ng.epb(0, 1, b"good");
        ng.epb(0, 2, b"cut");
        let (f, err) = frames(&ng.out[..ng.out.len() - 5]);
        assert_eq!(f.len(), 1);
        assert!(err.unwrap().is_truncation());

        let mut bad = Ng::new(false);
        bad.epb(3, 1, b"no interface");
        let (_, err) = frames(&bad.out);
        assert!(matches!(err, Some(CaptureError::Malformed { .. })));

        let mut bad = Ng::new(false);
        bad.idb(1, None, None);
        bad.epb(0, 1, b"x");
        let n = bad.out.len();
        bad.out[n - 4] ^= 0xff; // trailing length
        let (_, err) = frames(&bad.out);
        assert!(matches!(err, Some(CaptureError::Malformed { .. })));

        // A section header block of 16 bytes has no room for its version.
        let mut short = vec![0x0a, 0x0d, 0x0d, 0x0a, 16, 0, 0, 0, 0x4d, 0x3c, 0x2b, 0x1a];
        short.extend(16u32.to_le_bytes());
        let err = PcapngReader::new(&short[..]).unwrap_err();
        assert!(matches!(err, CaptureError::Malformed { why: "too short for its fields", .. }), "{err}");
    }

    #[test]
    fn timestamp_units() {
        assert_eq!(TsResol::Decimal(6).to_ns(5, 0), 5000);
        assert_eq!(TsResol::Decimal(12).to_ns(5000, 0), 5);
        assert_eq!(TsResol::Decimal(127).to_ns(u64::MAX, 0), 0);
        assert_eq!(TsResol::Binary(0).to_ns(2, 1), 3_000_000_000);
        assert_eq!(TsResol::Binary(127).to_ns(u64::MAX, 0), 0);
        assert_eq!(TsResol::Decimal(0).to_ns(u64::MAX, i64::MAX), i64::MAX);
    }
}
