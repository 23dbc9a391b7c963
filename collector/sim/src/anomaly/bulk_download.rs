//! Benign: a bulk download. An ordinary internal host fetches `bytes` (default 5 GB:
//! an OS image, a game) from a CDN outside over one QUIC connection (UDP 443 unless
//! told) for the whole window. Thousands of UDP packets a second into one host from
//! one source, acknowledged: no UDP flood.

use super::transfer::{Direction, Transfer};
use super::{actor, ordinary_host, random_in, Common, Involved};
use crate::error::SimError;
use crate::traffic::hosts::{Host, Network, ReservedBlock};
use crate::traffic::services::proto;
use crate::traffic::{Endpoint, Site};
use flowvision_codec::FlowRecord;
use std::net::Ipv4Addr;

/// A running download.
#[derive(Debug, Clone)]
pub struct BulkDownload {
    /// Window and random stream.
    pub common: Common,
    client: Host,
    block: ReservedBlock,
    server: Ipv4Addr,
    port: u16,
    download: Transfer,
}

impl BulkDownload {
    /// Picks the client and the CDN node and schedules the download.
    pub fn new(mut common: Common, net: &mut Network) -> Result<Self, SimError> {
        let port = common.plan.spec.port.unwrap_or(443);
        let total = common.plan.spec.bytes.unwrap_or(5_000_000_000);
        let block = net.reserve_block()?;
        let rng = &mut common.rng;
        let server = random_in(&block, rng);
        let client = ordinary_host(net, rng);
        let window = (common.plan.start_ms, common.plan.end_ms);
        let download = Transfer::new(rng, window, total, 1, (proto::UDP, port), Direction::Download);
        Ok(BulkDownload { common, client, block, server, port, download })
    }

    /// The download's records ending before `t1`.
    pub fn emit(&mut self, _t0: i64, t1: i64, site: &Site, template: &FlowRecord, out: &mut Vec<FlowRecord>) {
        let server = actor(&self.block, self.server);
        self.download.emit(t1, (site, template), &Endpoint::Internal(self.client), &server, out);
    }

    /// Ground truth.
    pub fn involved(&self) -> Involved {
        let mut details = serde_json::Map::new();
        details.insert("bytes_downloaded".into(), self.download.total().into());
        Involved {
            victims: vec![self.client.v4.into()],
            sources: vec![self.server.into()],
            source_prefixes: vec![self.block.prefix.to_string()],
            source_asns: vec![self.block.asn],
            ports: vec![self.port],
            proto: proto::UDP,
            details,
            ..Involved::default()
        }
    }
}
