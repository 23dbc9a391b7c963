//! pcap output: each datagram as an Ethernet/IP/UDP frame from the exporter's
//! address and source port to the target, stamped with its simulated time (a
//! capture taken on the simulated network; `tcpreplay --multiplier` replays it
//! faster). Exporters stay distinct to anything that reads the file.

use crate::error::SimError;
use crate::exporter::{Datagram, Sink};
use flowvision_capture::PcapWriter;
use flowvision_codec::Protocol;
use std::fs::File;
use std::io::BufWriter;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;

/// The usual collector port of a protocol (NetFlow 2055, IPFIX 4739, sFlow 6343).
pub fn default_port(protocol: Protocol) -> u16 {
    match protocol {
        Protocol::NetflowV5 | Protocol::NetflowV9 => 2055,
        Protocol::Ipfix => 4739,
        Protocol::SflowV5 => 6343,
    }
}

/// Writes datagrams to a pcap file.
#[derive(Debug)]
pub struct PcapOutput {
    writer: PcapWriter<BufWriter<File>>,
    target: Option<SocketAddr>,
    path: String,
    /// Frames written.
    pub frames: u64,
}

impl PcapOutput {
    /// Creates `path`; frames go to `target` (default: 127.0.0.1, or ::1 for IPv6
    /// exporters, at the protocol's usual port).
    pub fn create(path: &Path, target: Option<SocketAddr>) -> Result<PcapOutput, SimError> {
        let what = format!("pcap {}", path.display());
        let file = File::create(path).map_err(|source| SimError::Write { what: what.clone(), source })?;
        let writer = PcapWriter::new(BufWriter::with_capacity(1 << 20, file))?;
        Ok(PcapOutput { writer, target, path: what, frames: 0 })
    }

    fn destination(&self, d: &Datagram<'_>) -> SocketAddr {
        let port = self.target.map_or(default_port(d.protocol), |t| t.port());
        match (self.target, d.src.ip()) {
            (Some(t), src) if t.is_ipv4() == src.is_ipv4() => t,
            (_, IpAddr::V4(_)) => SocketAddr::new(Ipv4Addr::LOCALHOST.into(), port),
            (_, IpAddr::V6(_)) => SocketAddr::new(Ipv6Addr::LOCALHOST.into(), port),
        }
    }

    /// Flushes the file.
    pub fn finish(&mut self) -> Result<(), SimError> {
        self.writer.flush().map_err(SimError::from)
    }

    /// The file, for messages.
    pub fn path(&self) -> &str {
        &self.path
    }
}

impl Sink for PcapOutput {
    fn send(&mut self, d: &Datagram<'_>) -> Result<(), SimError> {
        let dst = self.destination(d);
        self.writer.write_udp(d.sim_ns, d.src, dst, d.payload)?;
        self.frames += 1;
        Ok(())
    }
}
