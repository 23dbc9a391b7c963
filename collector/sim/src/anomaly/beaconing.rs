//! Periodic beaconing: an implanted internal host checks in with a C2 server (in a
//! held-back prefix) every `period` (default 60 s of simulated time) with `jitter`
//! (default 10% of the period, uniform), each time a short TLS exchange of nearly
//! constant size: the regularity is the signature.

use super::{actor, internal_host, random_in, Common, Involved};
use crate::clock::parse_duration_ns;
use crate::error::SimError;
use crate::traffic::hosts::{Host, Network, ReservedBlock};
use crate::traffic::services::{flags, proto};
use crate::traffic::{ephemeral_port, Endpoint, Site};
use flowvision_codec::FlowRecord;
use std::net::Ipv4Addr;

/// A running beacon.
#[derive(Debug, Clone)]
pub struct Beaconing {
    /// Window and random stream.
    pub common: Common,
    implant: Host,
    block: ReservedBlock,
    c2: Ipv4Addr,
    port: u16,
    period_ms: i64,
    jitter: f64,
    /// Check-in start times, ascending.
    beats: Vec<i64>,
    next: usize,
    request_bytes: u64,
    response_bytes: u64,
}

impl Beaconing {
    /// Picks implant and C2 and schedules the check-ins.
    pub fn new(mut common: Common, net: &mut Network) -> Result<Self, SimError> {
        let spec = &common.plan.spec;
        let port = spec.port.unwrap_or(443);
        let period_ms = match &spec.period {
            Some(p) => parse_duration_ns(p)? / 1_000_000,
            None => 60_000,
        }
        .max(10);
        let jitter = spec.jitter.unwrap_or(0.1).clamp(0.0, 0.9);
        let block = net.reserve_block()?;
        let rng = &mut common.rng;
        let c2 = random_in(&block, rng);
        let implant = internal_host(net, rng, false, net.internal.len());
        let (s, e) = (common.plan.start_ms, common.plan.end_ms);
        let mut beats = Vec::new();
        let mut k = 0i64;
        loop {
            let nominal = s + period_ms / 2 + k * period_ms;
            let t = nominal + ((rng.f64() - 0.5) * jitter * period_ms as f64) as i64;
            // Each check-in lasts under a second and must end inside the window.
            if t + 1_000 >= e {
                break;
            }
            beats.push(t.max(s));
            k += 1;
        }
        let request_bytes = u64::from(rng.range_u32(600, 1200));
        let response_bytes = u64::from(rng.range_u32(300, 900));
        Ok(Beaconing {
            common,
            implant,
            block,
            c2,
            port,
            period_ms,
            jitter,
            beats,
            next: 0,
            request_bytes,
            response_bytes,
        })
    }

    /// Check-ins ending in `[t0, t1)`.
    pub fn emit(&mut self, _t0: i64, t1: i64, site: &Site, template: &FlowRecord, out: &mut Vec<FlowRecord>) {
        let c2 = actor(&self.block, self.c2);
        let implant = Endpoint::Internal(self.implant);
        while let Some(start) = self.beats.get(self.next).copied() {
            let rng = &mut self.common.rng;
            let duration = rng.range_i64(80, 900);
            let end = start + duration;
            if end >= t1 {
                break;
            }
            self.next += 1;
            let mut r = *template;
            site.route(&mut r, &implant, &c2, false);
            r.proto = proto::TCP;
            (r.src_port, r.dst_port) = (ephemeral_port(rng), self.port);
            r.tcp_flags = flags::SYN | flags::ACK | flags::PSH | flags::FIN;
            r.packets = rng.range_u32(7, 9) as u64;
            r.bytes = self.request_bytes + rng.below(40);
            (r.flow_start_ms, r.flow_end_ms) = (Some(start), Some(end));
            out.push(r);
            let mut back = r;
            site.route(&mut back, &c2, &implant, false);
            (back.src_port, back.dst_port) = (r.dst_port, r.src_port);
            back.packets = rng.range_u32(5, 7) as u64;
            back.bytes = self.response_bytes + rng.below(40);
            back.flow_start_ms = Some(start + 20.min(duration));
            out.push(back);
        }
    }

    /// Ground truth.
    pub fn involved(&self) -> Involved {
        let mut details = serde_json::Map::new();
        details.insert("period_ms".into(), self.period_ms.into());
        details.insert("jitter".into(), self.jitter.into());
        details.insert("beacons".into(), self.beats.len().into());
        Involved {
            victims: vec![self.implant.v4.into()],
            sources: vec![self.c2.into()],
            source_prefixes: vec![self.block.prefix.to_string()],
            source_asns: vec![self.block.asn],
            ports: vec![self.port],
            proto: proto::TCP,
            details,
            ..Involved::default()
        }
    }
}
