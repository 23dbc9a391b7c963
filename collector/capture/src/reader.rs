//! From capture file to UDP datagrams: frames, link layer, IP, reassembly, UDP.

use crate::error::CaptureError;
use crate::frame::{CaptureFormat, FrameReader};
use crate::ip::{self, Transport};
use crate::link;
use crate::reassembly::{Reassembler, ReassemblyConfig};
use crate::stats::CaptureStats;
use std::io::Read;
use std::net::SocketAddr;

/// A UDP datagram from a capture, borrowed from the reader until its next call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Datagram<'a> {
    /// Capture time of the frame (of the last fragment, if reassembled), nanoseconds
    /// since the Unix epoch.
    pub timestamp_ns: i64,
    /// Sender (the exporter, for flow datagrams).
    pub src: SocketAddr,
    /// Receiver.
    pub dst: SocketAddr,
    /// The UDP payload.
    pub payload: &'a [u8],
}

impl Datagram<'_> {
    /// An owned copy that outlives the reader's buffer.
    pub fn to_owned_datagram(&self) -> OwnedDatagram {
        OwnedDatagram {
            timestamp_ns: self.timestamp_ns,
            src: self.src,
            dst: self.dst,
            payload: self.payload.to_vec(),
        }
    }
}

/// A [`Datagram`] that owns its payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedDatagram {
    /// Capture time, nanoseconds since the Unix epoch.
    pub timestamp_ns: i64,
    /// Sender.
    pub src: SocketAddr,
    /// Receiver.
    pub dst: SocketAddr,
    /// The UDP payload.
    pub payload: Vec<u8>,
}

/// Where the next datagram's payload lies.
enum Place {
    Frame,
    Reassembled,
}

struct Found {
    timestamp_ns: i64,
    src: SocketAddr,
    dst: SocketAddr,
    place: Place,
    start: usize,
    len: usize,
}

/// Yields every UDP datagram (any port) of a pcap or pcapng stream, reassembling IP
/// fragments and counting every frame that yields none.
#[derive(Debug)]
pub struct DatagramReader<R> {
    frames: FrameReader<R>,
    reassembler: Reassembler,
    reassembled: Vec<u8>,
    stats: CaptureStats,
    finished: bool,
}

impl<R: Read> DatagramReader<R> {
    /// Reads the file header (either format) with default reassembly limits.
    pub fn new(reader: R) -> Result<Self, CaptureError> {
        Ok(DatagramReader::from_frames(FrameReader::new(reader)?, ReassemblyConfig::default()))
    }

    /// Wraps an open frame reader.
    pub fn from_frames(frames: FrameReader<R>, config: ReassemblyConfig) -> Self {
        DatagramReader {
            frames,
            reassembler: Reassembler::new(config),
            reassembled: Vec::new(),
            stats: CaptureStats::default(),
            finished: false,
        }
    }

    /// The container format.
    pub fn format(&self) -> CaptureFormat {
        self.frames.format()
    }

    /// Counters so far (complete once `next_datagram` returned `Ok(None)` or an error).
    pub fn stats(&self) -> &CaptureStats {
        &self.stats
    }

    /// The next UDP datagram; `Ok(None)` at the end of the capture. A file error
    /// (e.g. [`CaptureError::Truncated`] for a file cut mid-record) comes after every
    /// good datagram before it; afterwards the reader returns `Ok(None)`.
    pub fn next_datagram(&mut self) -> Result<Option<Datagram<'_>>, CaptureError> {
        let found = loop {
            if self.finished {
                return Ok(None);
            }
            let frame = match self.frames.next_frame() {
                Ok(Some(frame)) => frame,
                Ok(None) => {
                    self.finish();
                    return Ok(None);
                }
                Err(e) => {
                    self.finish();
                    return Err(e);
                }
            };
            self.stats.frames += 1;
            let ts = frame.timestamp_ns;
            let parsed = link::network_layer(frame.link_type, frame.data).and_then(ip::transport);
            match parsed {
                Ok(Transport::Udp(u)) => {
                    self.reassembler.expire(ts, &mut self.stats.skipped);
                    // The payload is a sub-slice of the frame: remember where.
                    let start = (u.payload.as_ptr() as usize).saturating_sub(frame.data.as_ptr() as usize);
                    let len = u.payload.len();
                    break Found {
                        timestamp_ns: ts,
                        src: u.src,
                        dst: u.dst,
                        place: Place::Frame,
                        start,
                        len,
                    };
                }
                Ok(Transport::Fragment(f)) => {
                    let Some(done) = self.reassembler.add(ts, &f, &mut self.stats.skipped) else {
                        continue;
                    };
                    self.reassembled = done.payload;
                    match ip::reassembled(&done.key, &self.reassembled) {
                        Ok(u) => {
                            self.stats.reassembled += 1;
                            self.stats.fragments += done.frames;
                            let start = (u.payload.as_ptr() as usize)
                                .saturating_sub(self.reassembled.as_ptr() as usize);
                            let len = u.payload.len();
                            let place = Place::Reassembled;
                            break Found { timestamp_ns: ts, src: u.src, dst: u.dst, place, start, len };
                        }
                        Err(reason) => self.stats.skipped.add(reason, done.frames),
                    }
                }
                Err(reason) => self.stats.skipped.add(reason, 1),
            }
        };
        self.stats.datagrams += 1;
        let buf = match found.place {
            Place::Frame => self.frames.last_frame_data(),
            Place::Reassembled => &self.reassembled,
        };
        Ok(Some(Datagram {
            timestamp_ns: found.timestamp_ns,
            src: found.src,
            dst: found.dst,
            payload: buf.get(found.start..found.start + found.len).unwrap_or(&[]),
        }))
    }

    /// Reads the rest of the capture into owned datagrams. Returns them with the error
    /// that stopped reading, if any.
    pub fn read_all(&mut self) -> (Vec<OwnedDatagram>, Option<CaptureError>) {
        let mut out = Vec::new();
        loop {
            match self.next_datagram() {
                Ok(Some(d)) => out.push(d.to_owned_datagram()),
                Ok(None) => return (out, None),
                Err(e) => return (out, Some(e)),
            }
        }
    }

    fn finish(&mut self) {
        self.finished = true;
        self.reassembler.finish(&mut self.stats.skipped);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;
    use crate::ip::tests::{udp_segment, v4_packet, v6_packet};
    use crate::pcap::tests::pcap_bytes;
    use crate::pcapng::tests::Ng;
    use crate::stats::SkipReason;
    use crate::writer::PcapWriter;
    use proptest::prelude::*;

    fn eth(ethertype: u16, packet: &[u8]) -> Vec<u8> {
        let mut f = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2];
        f.extend(ethertype.to_be_bytes());
        f.extend_from_slice(packet);
        f
    }

    fn check_accounting(s: &CaptureStats) {
        assert_eq!(s.frames, s.datagrams - s.reassembled + s.fragments + s.skipped.total(), "{s:?}");
    }

    fn read(file: &[u8]) -> (Vec<OwnedDatagram>, Option<CaptureError>, CaptureStats) {
        let mut r = DatagramReader::new(file).unwrap();
        let (d, e) = r.read_all();
        check_accounting(r.stats());
        (d, e, *r.stats())
    }

    #[test]
    fn ipv4_fragments_reassembled_out_of_order_among_other_traffic() {
        let payload: Vec<u8> = (0..3000u32).map(|i| i as u8).collect();
        let seg = udp_segment(2055, 9995, &payload);
        let (a, b, c) = (&seg[..1480], &seg[1480..2960], &seg[2960..]);
        let frag = |off: usize, more: bool, body: &[u8]| {
            eth(0x0800, &v4_packet(17, 4242, (off / 8) as u16 | if more { 0x2000 } else { 0 }, &[], body))
        };
        let small = eth(0x0800, &v4_packet(17, 1, 0, &[], &udp_segment(1, 2, b"small")));
        let tcp = eth(0x0800, &v4_packet(6, 2, 0, &[], &[0u8; 20]));
        let arp = eth(0x0806, &[0u8; 28]);
        let orphan = frag(8, true, &[0u8; 8]);
        let frames =
            [frag(2960, false, c), small.clone(), frag(0, true, a), tcp, arp, frag(1480, true, b), orphan];
        let records: Vec<(u32, u32, &[u8])> =
            frames.iter().enumerate().map(|(i, f)| (i as u32, 0, &f[..])).collect();
        let (d, err, s) = read(&pcap_bytes(false, false, 1, &records));
        assert!(err.is_none());
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].payload, b"small");
        assert_eq!(d[1].payload, payload);
        assert_eq!(d[1].timestamp_ns, 5_000_000_000);
        assert_eq!(d[1].src, "10.0.0.1:2055".parse().unwrap());
        assert_eq!((s.frames, s.datagrams, s.reassembled, s.fragments), (7, 2, 1, 3));
        assert_eq!(s.skipped.get(SkipReason::NotUdp), 1);
        assert_eq!(s.skipped.get(SkipReason::NotIp), 1);
        assert_eq!(s.skipped.get(SkipReason::FragmentIncomplete), 1);
    }

    #[test]
    fn ipv6_fragments_reassembled_in_pcapng() {
        let payload = vec![0x5au8; 2000];
        let seg = udp_segment(4739, 4739, &payload);
        let frag = |off: usize, more: bool, body: &[u8]| {
            let mut ext = vec![17, 0];
            ext.extend(((off as u16) | u16::from(more)).to_be_bytes());
            ext.extend(0xdead_beefu32.to_be_bytes());
            eth(0x86dd, &v6_packet(44, &ext, body))
        };
        let mut ng = Ng::new(true);
        ng.idb(1, Some(9), None);
        ng.epb(0, 1, &frag(0, true, &seg[..1232]));
        ng.epb(0, 2, &frag(1232, false, &seg[1232..]));
        let (d, err, s) = read(&ng.out);
        assert!(err.is_none());
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].payload, payload);
        assert_eq!(d[0].dst, "[2001:db8::2]:4739".parse().unwrap());
        assert_eq!((s.reassembled, s.fragments), (1, 2));
    }

    #[test]
    fn truncated_file_keeps_good_datagrams() {
        let mut w = PcapWriter::new(Vec::new()).unwrap();
        let (a, b) = ("192.0.2.1:1".parse().unwrap(), "192.0.2.2:2".parse().unwrap());
        for i in 0..5 {
            w.write_udp(i, a, b, &[i as u8; 100]).unwrap();
        }
        let file = w.into_inner();
        let (d, err, s) = read(&file[..file.len() - 1]);
        assert_eq!(d.len(), 4);
        assert!(err.unwrap().is_truncation());
        assert_eq!(s.frames, 4);
    }

    fn sample_files() -> Vec<Vec<u8>> {
        let mut w = PcapWriter::new(Vec::new()).unwrap();
        let (a, b) = ("192.0.2.1:1".parse().unwrap(), "[2001:db8::9]:2".parse().unwrap());
        w.write_udp(1, a, a, b"hello").unwrap();
        w.write_udp(2, b, b, b"world").unwrap();
        let mut ng = Ng::new(false);
        ng.idb(1, None, None);
        ng.idb(0, Some(0x89), Some(3));
        let seg = udp_segment(1, 2, &[7u8; 64]);
        ng.epb(0, 5, &eth(0x0800, &v4_packet(17, 9, 0x2000, &[], &seg[..40])));
        ng.epb(0, 6, &eth(0x0800, &v4_packet(17, 9, 5, &[], &seg[40..])));
        let mut null = 2u32.to_le_bytes().to_vec();
        null.extend(v4_packet(17, 1, 0, &[4, 0, 0, 0], &seg));
        ng.epb(1, 7, &null);
        ng.spb(&eth(0x8100, &[0, 5, 0x86, 0xdd]));
        vec![w.into_inner(), ng.out]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Random damage to valid files: never a panic, and every frame accounted for.
        #[test]
        fn damaged_files_never_panic(
            which in 0usize..2,
            flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
            cut in any::<usize>(),
        ) {
            let mut file = sample_files().swap_remove(which);
            for (at, v) in flips {
                let n = file.len();
                file[at % n] ^= v;
            }
            file.truncate(cut % (file.len() + 1));
            if let Ok(mut r) = DatagramReader::new(&file[..]) {
                let _ = r.read_all();
                check_accounting(r.stats());
            }
        }

        /// Arbitrary bytes after a valid magic.
        #[test]
        fn arbitrary_bytes_never_panic(magic in 0usize..3, body in proptest::collection::vec(any::<u8>(), 0..600)) {
            let heads: [&[u8]; 3] = [
                &[0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0],
                &[0xa1, 0xb2, 0x3c, 0x4d, 0, 2, 0, 4],
                &[0x0a, 0x0d, 0x0d, 0x0a],
            ];
            let file = [heads[magic], &body[..]].concat();
            if let Ok(mut r) = DatagramReader::new(&file[..]) {
                let _ = r.read_all();
                check_accounting(r.stats());
            }
        }

        /// Any frame bytes under any link type.
        #[test]
        fn arbitrary_frames_never_panic(link in 0u16..300, frame in proptest::collection::vec(any::<u8>(), 0..200)) {
            if let Ok(net) = crate::link::network_layer(crate::LinkType(link), &frame) {
                let _ = crate::ip::transport(net);
            }
        }
    }
}
