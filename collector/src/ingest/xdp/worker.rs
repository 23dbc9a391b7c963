//! A pinned worker per RX queue: takes frames off its AF_XDP socket, parses
//! Ethernet/VLAN, IP and UDP itself (the kernel stack never saw these packets, so
//! lengths and checksums are checked here), and feeds the same worker loop and
//! [`Pipeline`] as the UDP path ([`XdpSource`] is its [`DatagramSource`]).

use super::socket::{SocketStats, XskQueue};
use crate::ingest::DatagramSource;
use crate::pipeline::worker::Worker;
use crate::pipeline::Pipeline;
use flowvision_capture::ip::{transport, Transport};
use flowvision_capture::link::{network_layer, Network};
use flowvision_capture::LinkType;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// What happened to the frames of one queue (published for /metrics).
#[derive(Debug, Default)]
pub struct QueueCounters {
    /// Frames taken off the RX ring.
    pub frames: AtomicU64,
    /// UDP datagrams handed to the pipeline.
    pub datagrams: AtomicU64,
    /// Frames with a bad IPv4 header checksum or UDP checksum (dropped).
    pub bad_checksum: AtomicU64,
    /// Frames that were not a whole UDP datagram (truncated, malformed, fragment).
    pub malformed: AtomicU64,
    /// Datagrams accepted with a partial (offload) checksum from a local sender.
    pub partial_checksum: AtomicU64,
    /// XDP_STATISTICS rx_dropped.
    pub rx_dropped: AtomicU64,
    /// XDP_STATISTICS rx_invalid_descs.
    pub rx_invalid_descs: AtomicU64,
    /// XDP_STATISTICS rx_ring_full.
    pub rx_ring_full: AtomicU64,
    /// XDP_STATISTICS rx_fill_ring_empty_descs.
    pub rx_fill_ring_empty: AtomicU64,
}

impl QueueCounters {
    fn publish(&self, local: &Local, stats: Option<SocketStats>) {
        self.frames.store(local.frames, Ordering::Relaxed);
        self.datagrams.store(local.datagrams, Ordering::Relaxed);
        self.bad_checksum.store(local.bad_checksum, Ordering::Relaxed);
        self.malformed.store(local.malformed, Ordering::Relaxed);
        self.partial_checksum.store(local.partial_checksum, Ordering::Relaxed);
        if let Some(s) = stats {
            self.rx_dropped.store(s.rx_dropped, Ordering::Relaxed);
            self.rx_invalid_descs.store(s.rx_invalid_descs, Ordering::Relaxed);
            self.rx_ring_full.store(s.rx_ring_full, Ordering::Relaxed);
            self.rx_fill_ring_empty.store(s.rx_fill_ring_empty, Ordering::Relaxed);
        }
    }
}

#[derive(Debug, Default)]
struct Local {
    frames: u64,
    datagrams: u64,
    bad_checksum: u64,
    malformed: u64,
    partial_checksum: u64,
}

/// Why a frame was not handed to the pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameError {
    /// Not a complete, unfragmented UDP datagram over IP.
    Malformed,
    /// IPv4 header or UDP checksum wrong.
    BadChecksum,
}

/// The UDP datagram of a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parsed<'a> {
    /// Exporter address and port.
    pub src: SocketAddr,
    /// UDP payload.
    pub payload: &'a [u8],
    /// The checksum field held only the pseudo-header sum (local sender, offload).
    pub partial_checksum: bool,
}

/// Parses one Ethernet frame down to its UDP datagram.
pub fn parse_frame(frame: &[u8]) -> Result<Parsed<'_>, FrameError> {
    let network = network_layer(LinkType::ETHERNET, frame).map_err(|_| FrameError::Malformed)?;
    if let Network::Ipv4(packet) = network {
        let ihl = usize::from(packet.first().copied().unwrap_or(0) & 0x0f) * 4;
        let header = packet.get(..ihl).ok_or(FrameError::Malformed)?;
        if fold(sum(0, header)) != 0xffff {
            return Err(FrameError::BadChecksum);
        }
    }
    let udp = match transport(network) {
        Ok(Transport::Udp(udp)) => udp,
        Ok(Transport::Fragment(_)) | Err(_) => return Err(FrameError::Malformed),
    };
    // The UDP header sits right before the payload inside `frame`.
    let at = (udp.payload.as_ptr() as usize).wrapping_sub(frame.as_ptr() as usize);
    let header = at.checked_sub(8).and_then(|h| frame.get(h..at)).ok_or(FrameError::Malformed)?;
    let checksum =
        header.get(6..8).and_then(|c| <[u8; 2]>::try_from(c).ok()).map(u16::from_be_bytes).unwrap_or(0);
    let udp_len = udp.payload.len() + 8;
    let zero_ok = udp.src.is_ipv4() && checksum == 0; // IPv4: sender sent no checksum.
    if !zero_ok {
        let mut s = match (udp.src.ip(), udp.dst.ip()) {
            (IpAddr::V4(a), IpAddr::V4(b)) => sum(sum(0, &a.octets()), &b.octets()),
            (IpAddr::V6(a), IpAddr::V6(b)) => sum(sum(0, &a.octets()), &b.octets()),
            _ => return Err(FrameError::Malformed),
        };
        s += 17 + udp_len as u64;
        let pseudo = fold(s);
        s = sum(sum(s, header), udp.payload);
        if fold(s) != 0xffff {
            // A sender on this host with checksum offload (veth, tap) leaves only the
            // pseudo-header sum for the NIC that never comes (CHECKSUM_PARTIAL); the
            // kernel stack trusts such packets, and so do we, but counts them.
            if u64::from(checksum) == pseudo {
                return Ok(Parsed { src: udp.src, payload: udp.payload, partial_checksum: true });
            }
            return Err(FrameError::BadChecksum);
        }
    }
    Ok(Parsed { src: udp.src, payload: udp.payload, partial_checksum: false })
}

/// One's-complement sum of 16-bit big-endian words (odd tail padded with zero).
fn sum(mut acc: u64, bytes: &[u8]) -> u64 {
    let mut chunks = bytes.chunks_exact(2);
    for c in chunks.by_ref() {
        if let [a, b] = c {
            acc += u64::from(u16::from_be_bytes([*a, *b]));
        }
    }
    if let [last] = chunks.remainder() {
        acc += u64::from(*last) << 8;
    }
    acc
}

fn fold(mut s: u64) -> u64 {
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    s
}

/// One queue's AF_XDP socket as a source of datagrams: frames parsed down to their
/// UDP datagram, counted by what became of them.
#[derive(Debug)]
pub struct XdpSource {
    queue: XskQueue,
    local: Local,
    counters: Arc<QueueCounters>,
}

impl XdpSource {
    /// Reads `queue`, publishing into `counters`.
    pub fn new(queue: XskQueue, counters: Arc<QueueCounters>) -> Self {
        XdpSource { queue, local: Local::default(), counters }
    }
}

impl DatagramSource for XdpSource {
    /// Frames go back on the fill ring as soon as the batch is handled (in
    /// [`XskQueue::receive`]). Returns frames, so a ring holding only bad frames still
    /// counts as not drained.
    fn receive<F: FnMut(SocketAddr, &[u8])>(
        &mut self,
        timeout: Duration,
        mut handle: F,
    ) -> io::Result<usize> {
        let local = &mut self.local;
        self.queue.receive(timeout, |frame| {
            local.frames += 1;
            match parse_frame(frame) {
                Ok(p) => {
                    local.datagrams += 1;
                    local.partial_checksum += u64::from(p.partial_checksum);
                    handle(p.src, p.payload);
                }
                Err(FrameError::BadChecksum) => local.bad_checksum += 1,
                Err(FrameError::Malformed) => local.malformed += 1,
            }
        })
    }

    /// The queue's counters and the socket's XDP_STATISTICS.
    fn flush_counters(&mut self) {
        self.counters.publish(&self.local, self.queue.stats().ok());
    }
}

/// Runs one queue until `stop` is set and the ring is drained.
pub fn run(
    queue: XskQueue,
    pipeline: Pipeline,
    counters: Arc<QueueCounters>,
    core: Option<usize>,
    stop: Arc<AtomicBool>,
) {
    Worker::new(XdpSource::new(queue, counters), pipeline).run(core, stop);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    /// An Ethernet/IPv4/UDP frame with correct checksums, built by hand.
    fn frame(payload: &[u8], vlan: bool) -> Vec<u8> {
        let mut f = vec![0u8; 12];
        if vlan {
            f.extend([0x81, 0x00, 0x00, 0x64]);
        }
        f.extend([0x08, 0x00]);
        let total = (20 + 8 + payload.len()) as u16;
        let mut ip = vec![0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2];
        ip[2..4].copy_from_slice(&total.to_be_bytes());
        let c = !(fold(sum(0, &ip)) as u16);
        ip[10..12].copy_from_slice(&c.to_be_bytes());
        let mut udp = vec![0x30, 0x39, 0x08, 0x07, 0, 0, 0, 0];
        udp[4..6].copy_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
        let mut s = sum(sum(0, &ip[12..16]), &ip[16..20]) + 17 + 8 + payload.len() as u64;
        s = sum(sum(s, &udp), payload);
        udp[6..8].copy_from_slice(&(!(fold(s) as u16)).to_be_bytes());
        f.extend(ip);
        f.extend(udp);
        f.extend_from_slice(payload);
        f
    }

    #[test]
    fn parses_and_checks_sums() {
        for vlan in [false, true] {
            let payload = b"netflow datagram!";
            let f = frame(payload, vlan);
            let p = parse_frame(&f).unwrap();
            assert_eq!(p.src, "10.0.0.1:12345".parse().unwrap());
            assert_eq!(p.payload, payload);
            assert!(!p.partial_checksum);
            let mut bad = f.clone();
            *bad.last_mut().unwrap() ^= 1;
            assert_eq!(parse_frame(&bad), Err(FrameError::BadChecksum));
            let mut bad_ip = f.clone();
            bad_ip[if vlan { 18 } else { 14 } + 8] ^= 1; // TTL
            assert_eq!(parse_frame(&bad_ip), Err(FrameError::BadChecksum));
            assert_eq!(parse_frame(&f[..f.len() - 3]), Err(FrameError::Malformed));
        }
        let mut no_sum = frame(b"odd", false);
        let n = no_sum.len();
        no_sum[n - 3 - 2..n - 3].copy_from_slice(&[0, 0]);
        assert!(parse_frame(&no_sum).is_ok(), "IPv4 checksum 0 means none");
        // CHECKSUM_PARTIAL: the field holds the folded pseudo-header sum.
        let mut partial = frame(b"offloaded", false);
        let n = partial.len();
        let pseudo = fold(sum(sum(0, &[10, 0, 0, 1]), &[10, 0, 0, 2]) + 17 + 8 + 9) as u16;
        partial[n - 9 - 2..n - 9].copy_from_slice(&pseudo.to_be_bytes());
        assert!(parse_frame(&partial).unwrap().partial_checksum);
    }
}
