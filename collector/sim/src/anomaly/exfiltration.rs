//! Data exfiltration: an ordinary internal host uploads `bytes` (default 2 GB) over
//! the window to a destination in a held-back prefix that no host ever contacted
//! before, over `connections` long-lived TLS connections (port 443 unless told).
//! The exporter cuts each connection into active-timeout-long records: the first
//! with SYN, the last with FIN, the middle ones ACK/PSH only; the server's ACK
//! stream comes back as small flows.

use super::transfer::{Direction, Transfer};
use super::{actor, ordinary_host, random_in, Common, Involved};
use crate::error::SimError;
use crate::traffic::hosts::{Host, Network, ReservedBlock};
use crate::traffic::services::proto;
use crate::traffic::{Endpoint, Site};
use flowvision_codec::FlowRecord;
use std::net::Ipv4Addr;

/// Parallel upload connections.
const CONNECTIONS: u64 = 2;

/// A running exfiltration.
#[derive(Debug, Clone)]
pub struct Exfiltration {
    /// Window and random stream.
    pub common: Common,
    insider: Host,
    block: ReservedBlock,
    server: Ipv4Addr,
    port: u16,
    upload: Transfer,
}

impl Exfiltration {
    /// Picks insider and destination and cuts the upload into records.
    pub fn new(mut common: Common, net: &mut Network) -> Result<Self, SimError> {
        let port = common.plan.spec.port.unwrap_or(443);
        let total = common.plan.spec.bytes.unwrap_or(2_000_000_000).max(1);
        let block = net.reserve_block()?;
        let rng = &mut common.rng;
        let server = random_in(&block, rng);
        let insider = ordinary_host(net, rng);
        let window = (common.plan.start_ms, common.plan.end_ms);
        let upload = Transfer::new(rng, window, total, CONNECTIONS, (proto::TCP, port), Direction::Upload);
        Ok(Exfiltration { common, insider, block, server, port, upload })
    }

    /// Upload records (and the ACK streams) ending in `[t0, t1)`.
    pub fn emit(&mut self, _t0: i64, t1: i64, site: &Site, template: &FlowRecord, out: &mut Vec<FlowRecord>) {
        let server = actor(&self.block, self.server);
        self.upload.emit(t1, (site, template), &Endpoint::Internal(self.insider), &server, out);
    }

    /// Ground truth.
    pub fn involved(&self) -> Involved {
        let mut details = serde_json::Map::new();
        details.insert("bytes_uploaded".into(), self.upload.total().into());
        details.insert("connections".into(), self.upload.connections().into());
        Involved {
            victims: vec![self.insider.v4.into()],
            sources: vec![self.server.into()],
            source_prefixes: vec![self.block.prefix.to_string()],
            source_asns: vec![self.block.asn],
            ports: vec![self.port],
            proto: proto::TCP,
            details,
            ..Involved::default()
        }
    }
}
