//! Benign: a speed test. An ordinary internal host measures its line against a test
//! server outside (Ookla's port 8080 unless told): the first half of the window
//! downloads `bytes` (default 1 GB) over eight parallel connections, the second half
//! uploads half as much. A few seconds at line rate, in both directions: neither a
//! flood nor exfiltration.

use super::transfer::{Direction, Transfer};
use super::{actor, ordinary_host, random_in, Common, Involved};
use crate::error::SimError;
use crate::traffic::hosts::{Host, Network, ReservedBlock};
use crate::traffic::services::proto;
use crate::traffic::{Endpoint, Site};
use flowvision_codec::FlowRecord;
use std::net::Ipv4Addr;

/// Parallel connections of each phase.
const CONNECTIONS: u64 = 8;

/// A running speed test.
#[derive(Debug, Clone)]
pub struct SpeedTest {
    /// Window and random stream.
    pub common: Common,
    client: Host,
    block: ReservedBlock,
    server: Ipv4Addr,
    port: u16,
    download: Transfer,
    upload: Transfer,
}

impl SpeedTest {
    /// Picks the client and the test server and schedules both phases.
    pub fn new(mut common: Common, net: &mut Network) -> Result<Self, SimError> {
        let port = common.plan.spec.port.unwrap_or(8080);
        let down = common.plan.spec.bytes.unwrap_or(1_000_000_000).max(2);
        let block = net.reserve_block()?;
        let rng = &mut common.rng;
        let server = random_in(&block, rng);
        let client = ordinary_host(net, rng);
        let (s, e) = (common.plan.start_ms, common.plan.end_ms);
        let mid = s + (e - s) / 2;
        let download =
            Transfer::new(rng, (s, mid), down, CONNECTIONS, (proto::TCP, port), Direction::Download);
        let upload =
            Transfer::new(rng, (mid, e), down / 2, CONNECTIONS, (proto::TCP, port), Direction::Upload);
        Ok(SpeedTest { common, client, block, server, port, download, upload })
    }

    /// Both phases' records ending before `t1`.
    pub fn emit(&mut self, _t0: i64, t1: i64, site: &Site, template: &FlowRecord, out: &mut Vec<FlowRecord>) {
        let server = actor(&self.block, self.server);
        let client = Endpoint::Internal(self.client);
        self.download.emit(t1, (site, template), &client, &server, out);
        self.upload.emit(t1, (site, template), &client, &server, out);
    }

    /// Ground truth.
    pub fn involved(&self) -> Involved {
        let mut details = serde_json::Map::new();
        details.insert("bytes_downloaded".into(), self.download.total().into());
        details.insert("bytes_uploaded".into(), self.upload.total().into());
        Involved {
            victims: vec![self.client.v4.into()],
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
