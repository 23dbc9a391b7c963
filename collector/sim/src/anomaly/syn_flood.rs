//! SYN flood: bots in held-back prefixes send TCP SYNs (1-3 packets each, with
//! retransmissions, 40-60 bytes) to one port of a popular internal server; the
//! overloaded server answers a third of them with a SYN-ACK.

use super::{actor, internal_host, random_in, Accumulator, Common, Involved};
use crate::error::SimError;
use crate::traffic::hosts::{Host, Network, ReservedBlock};
use crate::traffic::services::{flags, proto};
use crate::traffic::{ephemeral_port, Endpoint, Site};
use flowvision_codec::FlowRecord;
use std::net::Ipv4Addr;

/// A running SYN flood.
#[derive(Debug, Clone)]
pub struct SynFlood {
    /// Window and random stream.
    pub common: Common,
    victim: Host,
    port: u16,
    blocks: Vec<ReservedBlock>,
    bots: Vec<(usize, Ipv4Addr)>,
    intensity: f64,
    due: Accumulator,
}

impl SynFlood {
    /// Picks the victim among the 10 most popular servers and places the bots.
    pub fn new(mut common: Common, net: &mut Network) -> Result<Self, SimError> {
        let spec = &common.plan.spec;
        let port = spec.port.unwrap_or(443);
        let intensity = spec.intensity.unwrap_or(1.0);
        let n = spec.sources.unwrap_or(2000).max(1);
        let blocks = vec![net.reserve_block()?, net.reserve_block()?];
        let victim = internal_host(net, &mut common.rng, true, 10);
        let bots = (0..n)
            .map(|i| {
                let b = i % blocks.len();
                (b, blocks.get(b).map(|blk| random_in(blk, &mut common.rng)).unwrap_or(Ipv4Addr::UNSPECIFIED))
            })
            .collect();
        Ok(SynFlood { common, victim, port, blocks, bots, intensity, due: Accumulator::default() })
    }

    /// Flood flows for `[t0, t1)`: `intensity` per background flow.
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
        let victim = Endpoint::Internal(self.victim);
        for _ in 0..n {
            let rng = &mut self.common.rng;
            let Some((blk, ip)) = self.bots.get(rng.index(self.bots.len())).copied() else { return };
            let Some(block) = self.blocks.get(blk) else { return };
            let bot = actor(block, ip);
            let packets = rng.range_u32(1, 3) as u64;
            let size = rng.range_u32(40, 60) as u64;
            let duration = if packets > 1 { rng.range_i64(1_000, 3_000) } else { 0 };
            let (start, end) = self.common.place(a, b, duration);
            let rng = &mut self.common.rng;
            let mut r = *template;
            site.route(&mut r, &bot, &victim, false);
            r.proto = proto::TCP;
            r.src_port = ephemeral_port(rng);
            r.dst_port = self.port;
            r.tcp_flags = flags::SYN;
            r.packets = packets;
            r.bytes = packets * size;
            r.flow_start_ms = Some(start);
            r.flow_end_ms = Some(end);
            out.push(r);
            if rng.chance(0.33) {
                let mut back = r;
                site.route(&mut back, &victim, &bot, false);
                (back.src_port, back.dst_port) = (r.dst_port, r.src_port);
                back.tcp_flags = flags::SYN | flags::ACK;
                back.packets = 1;
                back.bytes = 44;
                back.flow_start_ms = Some(end);
                out.push(back);
            }
        }
    }

    /// Ground truth.
    pub fn involved(&self) -> Involved {
        let mut details = serde_json::Map::new();
        details.insert("bots".into(), self.bots.len().into());
        details.insert("intensity".into(), self.intensity.into());
        Involved {
            victims: vec![self.victim.v4.into()],
            source_prefixes: self.blocks.iter().map(|b| b.prefix.to_string()).collect(),
            source_asns: self.blocks.iter().map(|b| b.asn).collect(),
            ports: vec![self.port],
            proto: proto::TCP,
            details,
            ..Involved::default()
        }
    }
}
