//! Where datagrams go: UDP targets at a paced rate, a pcap file, and the account of
//! every record sent (JSON Lines in `flowvision-collector decode`'s format).

pub mod pcap;
pub mod records;
pub mod udp;

use crate::error::SimError;
use crate::exporter::{Datagram, Sink};

/// Every output of a run; each datagram goes to all of them.
#[derive(Debug, Default)]
pub struct Outputs {
    /// UDP sending.
    pub udp: Option<udp::UdpSender>,
    /// pcap writing.
    pub pcap: Option<pcap::PcapOutput>,
    /// The record account.
    pub records: Option<records::RecordsOutput>,
}

impl Sink for Outputs {
    fn send(&mut self, d: &Datagram<'_>) -> Result<(), SimError> {
        if let Some(p) = &mut self.pcap {
            p.send(d)?;
        }
        if let Some(r) = &mut self.records {
            r.send(d)?;
        }
        if let Some(u) = &mut self.udp {
            u.send(d)?;
        }
        Ok(())
    }
}

impl Outputs {
    /// Flushes the files.
    pub fn finish(&mut self) -> Result<(), SimError> {
        if let Some(p) = &mut self.pcap {
            p.finish()?;
        }
        if let Some(r) = &mut self.records {
            r.finish()?;
        }
        Ok(())
    }
}
