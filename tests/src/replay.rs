//! Replays captured flow datagrams over real UDP, each original exporter from its own
//! loopback address (127.0.0.0/8 is all loopback on Linux), so the collector sees as
//! many distinct exporters as the capture had.

use flowvision_capture::DatagramReader;
use std::collections::BTreeMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::path::Path;
use std::time::{Duration, Instant};

/// One datagram to replay, with the address it came from originally.
#[derive(Debug, Clone)]
pub struct Captured {
    /// Original source address.
    pub source: IpAddr,
    /// UDP payload.
    pub payload: Vec<u8>,
}

/// Reads every UDP datagram of a pcap/pcapng file.
pub fn read_capture(path: &Path) -> io::Result<Vec<Captured>> {
    let file = std::fs::File::open(path)?;
    let mut reader = DatagramReader::new(io::BufReader::new(file)).map_err(io::Error::other)?;
    let mut out = Vec::new();
    loop {
        match reader.next_datagram() {
            Ok(Some(d)) => out.push(Captured { source: d.src.ip(), payload: d.payload.to_vec() }),
            Ok(None) => break,
            // A capture cut short keeps the datagrams before the cut.
            Err(e) if e.is_truncation() => break,
            Err(e) => return Err(io::Error::other(e)),
        }
    }
    Ok(out)
}

/// Sends datagrams to a collector from per-exporter loopback sources.
#[derive(Debug)]
pub struct Replayer {
    sockets: BTreeMap<IpAddr, UdpSocket>,
    next_host: u32,
    base: Ipv4Addr,
    /// Datagrams per second (0: as fast as possible).
    pub rate: u32,
}

impl Replayer {
    /// Sources will be `base`+1, +2, ... in order of first appearance.
    pub fn new(base: Ipv4Addr, rate: u32) -> Self {
        Replayer { sockets: BTreeMap::new(), next_host: 0, base, rate }
    }

    /// The loopback address standing in for `original`.
    pub fn source_for(&mut self, original: IpAddr) -> io::Result<IpAddr> {
        if let Some(s) = self.sockets.get(&original) {
            return Ok(s.local_addr()?.ip());
        }
        self.next_host += 1;
        let addr = Ipv4Addr::from(u32::from(self.base) + self.next_host);
        let socket = UdpSocket::bind((addr, 0))?;
        let ip = IpAddr::V4(addr);
        self.sockets.insert(original, socket);
        Ok(ip)
    }

    /// The mapping from original exporter to replay source.
    pub fn mapping(&self) -> BTreeMap<IpAddr, IpAddr> {
        self.sockets.iter().filter_map(|(orig, s)| Some((*orig, s.local_addr().ok()?.ip()))).collect()
    }

    /// Sends `datagrams` to `target`, paced at `rate` per second.
    pub fn send(&mut self, datagrams: &[Captured], target: SocketAddr) -> io::Result<usize> {
        let start = Instant::now();
        for (i, d) in datagrams.iter().enumerate() {
            self.source_for(d.source)?;
            if let Some(s) = self.sockets.get(&d.source) {
                s.send_to(&d.payload, target)?;
            }
            if self.rate > 0 {
                let due = start + Duration::from_secs_f64((i + 1) as f64 / f64::from(self.rate));
                if let Some(wait) = due.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
            }
        }
        Ok(datagrams.len())
    }
}
