//! Benign: a new popular service. An ordinary internal host starts serving (port 443
//! unless told) and `sources` clients outside (default 5,000) suddenly use it:
//! `intensity` completed connections per background flow (default 0.5), each a short
//! request and a larger answer. A jump in connections and distinct sources at one
//! host, like a SYN flood's, but every handshake completes.

use super::{actor, ordinary_host, random_in, Accumulator, Common, Involved};
use crate::error::SimError;
use crate::traffic::hosts::{Host, Network, ReservedBlock};
use crate::traffic::services::{flags, proto};
use crate::traffic::{ephemeral_port, Endpoint, Site};
use flowvision_codec::FlowRecord;
use std::net::Ipv4Addr;

/// A running new service.
#[derive(Debug, Clone)]
pub struct NewService {
    /// Window and random stream.
    pub common: Common,
    server: Host,
    port: u16,
    block: ReservedBlock,
    clients: Vec<Ipv4Addr>,
    intensity: f64,
    due: Accumulator,
}

impl NewService {
    /// Picks the server and its clients.
    pub fn new(mut common: Common, net: &mut Network) -> Result<Self, SimError> {
        let spec = &common.plan.spec;
        let port = spec.port.unwrap_or(443);
        let intensity = spec.intensity.unwrap_or(0.5);
        let n = spec.sources.unwrap_or(5_000).max(1);
        let block = net.reserve_block()?;
        let rng = &mut common.rng;
        let server = ordinary_host(net, rng);
        let clients = (0..n).map(|_| random_in(&block, rng)).collect();
        Ok(NewService { common, server, port, block, clients, intensity, due: Accumulator::default() })
    }

    /// Connections for `[t0, t1)`: `intensity` per background flow.
    pub fn emit(
        &mut self,
        t0: i64,
        t1: i64,
        background: u64,
        site: &Site,
        template: &FlowRecord,
        out: &mut Vec<FlowRecord>,
    ) {
        let Some((a, b, n)) = self.common.scaled_flows(&mut self.due, (t0, t1), background, self.intensity)
        else {
            return;
        };
        let server = Endpoint::Internal(self.server);
        for _ in 0..n {
            let rng = &mut self.common.rng;
            let Some(ip) = self.clients.get(rng.index(self.clients.len())).copied() else { return };
            let client = actor(&self.block, ip);
            let duration = rng.range_i64(200, 5_000);
            let (start, end) = self.common.place(a, b, duration);
            let rng = &mut self.common.rng;
            let request_packets = u64::from(rng.range_u32(6, 20));
            let answer_packets = request_packets + u64::from(rng.range_u32(2, 30));
            let all = flags::SYN | flags::ACK | flags::PSH | flags::FIN;
            let mut r = *template;
            site.route(&mut r, &client, &server, false);
            r.proto = proto::TCP;
            (r.src_port, r.dst_port) = (ephemeral_port(rng), self.port);
            r.tcp_flags = all;
            (r.packets, r.bytes) = (request_packets, request_packets * 90);
            (r.flow_start_ms, r.flow_end_ms) = (Some(start), Some(end));
            out.push(r);
            let mut back = r;
            site.route(&mut back, &server, &client, false);
            (back.src_port, back.dst_port) = (r.dst_port, r.src_port);
            (back.packets, back.bytes) = (answer_packets, answer_packets * 1_200);
            out.push(back);
        }
    }

    /// Ground truth.
    pub fn involved(&self) -> Involved {
        let mut details = serde_json::Map::new();
        details.insert("clients".into(), self.clients.len().into());
        details.insert("intensity".into(), self.intensity.into());
        Involved {
            victims: vec![self.server.v4.into()],
            source_prefixes: vec![self.block.prefix.to_string()],
            source_asns: vec![self.block.asn],
            ports: vec![self.port],
            proto: proto::TCP,
            details,
            ..Involved::default()
        }
    }
}
