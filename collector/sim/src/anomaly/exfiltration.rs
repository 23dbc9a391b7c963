//! Data exfiltration: an ordinary internal host uploads `bytes` (default 2 GB) over
//! the window to a destination in a held-back prefix that no host ever contacted
//! before, over `connections` long-lived TLS connections (port 443 unless told).
//! The exporter cuts each connection into active-timeout-long records: the first
//! with SYN, the last with FIN, the middle ones ACK/PSH only; the server's ACK
//! stream comes back as small flows.

use super::{actor, internal_host, random_in, Common, Involved};
use crate::error::SimError;
use crate::traffic::hosts::{Host, Network, ReservedBlock};
use crate::traffic::services::{flags, proto};
use crate::traffic::{ephemeral_port, Endpoint, Site};
use flowvision_codec::FlowRecord;
use std::net::Ipv4Addr;

/// Parallel upload connections.
const CONNECTIONS: u64 = 2;
/// Largest byte count of one record (keeps NetFlow v5's 32-bit counter exact).
const MAX_RECORD_BYTES: u64 = 3_000_000_000;

/// A running exfiltration.
#[derive(Debug, Clone)]
pub struct Exfiltration {
    /// Window and random stream.
    pub common: Common,
    insider: Host,
    block: ReservedBlock,
    server: Ipv4Addr,
    port: u16,
    total: u64,
    /// (end time, connection, first, last, bytes), ascending by end time.
    records: Vec<(i64, usize, bool, bool, u64)>,
    ports: Vec<u16>,
    starts: Vec<i64>,
    next: usize,
}

impl Exfiltration {
    /// Picks insider and destination and cuts the upload into records.
    pub fn new(mut common: Common, net: &mut Network) -> Result<Self, SimError> {
        let port = common.plan.spec.port.unwrap_or(443);
        let total = common.plan.spec.bytes.unwrap_or(2_000_000_000).max(1);
        let block = net.reserve_block()?;
        let rng = &mut common.rng;
        let server = random_in(&block, rng);
        // An ordinary host: not among the busiest 50.
        let insider = {
            let n = net.internal.len();
            let i = if n > 60 { 50 + rng.index(n - 50) } else { rng.index(n.max(1)) };
            net.internal.get(i).copied().unwrap_or_else(|| internal_host(net, rng, false, 1))
        };
        let (s, e) = (common.plan.start_ms, common.plan.end_ms);
        // Records per connection: one per active timeout (60 s unless the window is
        // shorter), more if a record would overflow 32-bit counters.
        let slice = 60_000i64.min(e - s).max(1);
        let by_time = ((e - s) as u64).div_ceil(slice as u64).max(1);
        let by_size = (total / CONNECTIONS).div_ceil(MAX_RECORD_BYTES).max(1);
        let per_conn = by_time.max(by_size);
        let step = ((e - s) as u64 / per_conn).max(1) as i64;
        let share = total / (CONNECTIONS * per_conn);
        let mut records = Vec::new();
        let mut left = total;
        for k in 0..per_conn {
            for c in 0..CONNECTIONS as usize {
                let last = k + 1 == per_conn;
                let bytes = if last && c + 1 == CONNECTIONS as usize { left } else { share.min(left) };
                left -= bytes;
                // Each record ends at the end of its slice, a little staggered.
                let end = (s + (k as i64 + 1) * step - 1 - c as i64 * 7).clamp(s, e - 1);
                records.push((end, c, k == 0, last, bytes));
            }
        }
        records.sort_by_key(|r| r.0);
        let ports = (0..CONNECTIONS).map(|_| ephemeral_port(rng)).collect();
        let starts = vec![s; CONNECTIONS as usize];
        Ok(Exfiltration { common, insider, block, server, port, total, records, ports, starts, next: 0 })
    }

    /// Upload records (and the ACK streams) ending in `[t0, t1)`.
    pub fn emit(&mut self, _t0: i64, t1: i64, site: &Site, template: &FlowRecord, out: &mut Vec<FlowRecord>) {
        let server = actor(&self.block, self.server);
        let insider = Endpoint::Internal(self.insider);
        while let Some((end, c, first, last, bytes)) = self.records.get(self.next).copied() {
            if end >= t1 {
                break;
            }
            self.next += 1;
            let start = self.starts.get(c).copied().unwrap_or(end).min(end);
            if let Some(s) = self.starts.get_mut(c) {
                *s = end + 1;
            }
            let sport = self.ports.get(c).copied().unwrap_or(50_000);
            let mut up = *template;
            site.route(&mut up, &insider, &server, false);
            up.proto = proto::TCP;
            (up.src_port, up.dst_port) = (sport, self.port);
            let mut f = flags::ACK | flags::PSH;
            if first {
                f |= flags::SYN;
            }
            if last {
                f |= flags::FIN;
            }
            up.tcp_flags = f;
            up.bytes = bytes.max(60);
            up.packets = up.bytes.div_ceil(1400).max(1);
            (up.flow_start_ms, up.flow_end_ms) = (Some(start), Some(end));
            out.push(up);
            let mut ack = up;
            site.route(&mut ack, &server, &insider, false);
            (ack.src_port, ack.dst_port) = (self.port, sport);
            ack.packets = up.packets.div_ceil(2);
            ack.bytes = ack.packets * 52;
            out.push(ack);
        }
    }

    /// Ground truth.
    pub fn involved(&self) -> Involved {
        let mut details = serde_json::Map::new();
        details.insert("bytes_uploaded".into(), self.total.into());
        details.insert("connections".into(), CONNECTIONS.into());
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
