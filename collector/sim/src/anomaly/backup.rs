//! Benign: a backup. An ordinary internal host uploads `bytes` (default 20 GB) to an
//! internal server over four rsync-over-SSH connections (port 22 unless told) for the
//! whole window, as it might every night. Gigabytes leaving a host that usually sends
//! little, to a place it never sent to: but inside the network, so no exfiltration.

use super::transfer::{Direction, Transfer};
use super::{internal_host, ordinary_host, Common, Involved};
use crate::error::SimError;
use crate::traffic::hosts::{Host, Network};
use crate::traffic::services::proto;
use crate::traffic::{Endpoint, Site};
use flowvision_codec::FlowRecord;

/// Parallel connections.
const CONNECTIONS: u64 = 4;

/// A running backup.
#[derive(Debug, Clone)]
pub struct Backup {
    /// Window and random stream.
    pub common: Common,
    client: Host,
    server: Host,
    port: u16,
    upload: Transfer,
}

impl Backup {
    /// Picks the client and the backup server and schedules the upload.
    pub fn new(mut common: Common, net: &mut Network) -> Result<Self, SimError> {
        let port = common.plan.spec.port.unwrap_or(22);
        let total = common.plan.spec.bytes.unwrap_or(20_000_000_000);
        let rng = &mut common.rng;
        let server = internal_host(net, rng, true, 20);
        let mut client = ordinary_host(net, rng);
        if client.v4 == server.v4 {
            client = ordinary_host(net, rng);
        }
        let window = (common.plan.start_ms, common.plan.end_ms);
        let upload = Transfer::new(rng, window, total, CONNECTIONS, (proto::TCP, port), Direction::Upload);
        Ok(Backup { common, client, server, port, upload })
    }

    /// The upload's records ending before `t1`.
    pub fn emit(&mut self, _t0: i64, t1: i64, site: &Site, template: &FlowRecord, out: &mut Vec<FlowRecord>) {
        let (client, server) = (Endpoint::Internal(self.client), Endpoint::Internal(self.server));
        self.upload.emit(t1, (site, template), &client, &server, out);
    }

    /// Ground truth.
    pub fn involved(&self) -> Involved {
        let mut details = serde_json::Map::new();
        details.insert("bytes_uploaded".into(), self.upload.total().into());
        Involved {
            victims: vec![self.client.v4.into()],
            sources: vec![self.server.v4.into()],
            ports: vec![self.port],
            proto: proto::TCP,
            details,
            ..Involved::default()
        }
    }
}
