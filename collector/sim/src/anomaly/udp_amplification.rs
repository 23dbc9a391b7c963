//! UDP reflection/amplification: reflectors (open resolvers, NTP servers, memcached
//! and SSDP devices) in held-back prefixes answer spoofed requests with large
//! responses to one internal victim. Flows come from the service's port with many
//! large packets (DNS ANY answers fragment at ~1500 bytes, NTP monlist answers are
//! 468 bytes, memcached ~1400, SSDP ~320): far above what background DNS/NTP/SSDP
//! answers ever carry.

use super::{actor, internal_host, random_in, Accumulator, Common, Involved};
use crate::error::SimError;
use crate::traffic::hosts::{Host, Network, ReservedBlock};
use crate::traffic::services::proto;
use crate::traffic::{ephemeral_port, Endpoint, Site};
use flowvision_codec::FlowRecord;
use std::net::Ipv4Addr;

/// Amplification services: name, source port, (min, max) IP bytes per packet.
pub const SERVICES: [(&str, u16, (u64, u64)); 4] = [
    ("dns", 53, (1200, 1500)),
    ("ntp", 123, (468, 468)),
    ("memcached", 11_211, (1100, 1400)),
    ("ssdp", 1900, (290, 350)),
];

/// A running amplification attack.
#[derive(Debug, Clone)]
pub struct UdpAmplification {
    /// Window and random stream.
    pub common: Common,
    victim: Host,
    service: (&'static str, u16, (u64, u64)),
    blocks: Vec<ReservedBlock>,
    reflectors: Vec<(usize, Ipv4Addr)>,
    intensity: f64,
    due: Accumulator,
}

impl UdpAmplification {
    /// Picks the service, the victim and the reflectors.
    pub fn new(mut common: Common, net: &mut Network) -> Result<Self, SimError> {
        let spec = &common.plan.spec;
        let name = spec.service.clone().unwrap_or_else(|| "dns".into());
        let service = SERVICES.iter().find(|s| s.0 == name).copied().ok_or_else(|| {
            SimError::Invalid(format!("udp_amplification service {name:?}: one of dns, ntp, memcached, ssdp"))
        })?;
        let intensity = spec.intensity.unwrap_or(0.5);
        let n = spec.sources.unwrap_or(500).max(1);
        let blocks = (0..4).map(|_| net.reserve_block()).collect::<Result<Vec<_>, _>>()?;
        let victim = internal_host(net, &mut common.rng, false, 200);
        let reflectors = (0..n)
            .map(|i| {
                let b = i % blocks.len();
                (b, blocks.get(b).map(|blk| random_in(blk, &mut common.rng)).unwrap_or(Ipv4Addr::UNSPECIFIED))
            })
            .collect();
        Ok(UdpAmplification {
            common,
            victim,
            service,
            blocks,
            reflectors,
            intensity,
            due: Accumulator::default(),
        })
    }

    /// Attack flows for `[t0, t1)`.
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
        let (_, port, (lo, hi)) = self.service;
        for _ in 0..n {
            let rng = &mut self.common.rng;
            let Some((blk, ip)) = self.reflectors.get(rng.index(self.reflectors.len())).copied() else {
                return;
            };
            let Some(block) = self.blocks.get(blk) else { return };
            let packets = (rng.pareto(8.0, 1.5) as u64).clamp(2, 200_000);
            let size = rng.range_u32(lo as u32, hi as u32) as u64;
            let duration = rng.range_i64(500, 20_000);
            let (start, end) = self.common.place(a, b, duration);
            let rng = &mut self.common.rng;
            let mut r = *template;
            site.route(&mut r, &actor(block, ip), &victim, false);
            r.proto = proto::UDP;
            r.src_port = port;
            r.dst_port = ephemeral_port(rng);
            r.tcp_flags = 0;
            r.packets = packets;
            r.bytes = packets * size;
            r.flow_start_ms = Some(start);
            r.flow_end_ms = Some(end);
            out.push(r);
        }
    }

    /// Ground truth.
    pub fn involved(&self) -> Involved {
        let mut details = serde_json::Map::new();
        details.insert("service".into(), self.service.0.into());
        details.insert("reflectors".into(), self.reflectors.len().into());
        details.insert("min_packet_bytes".into(), self.service.2 .0.into());
        details.insert("intensity".into(), self.intensity.into());
        Involved {
            victims: vec![self.victim.v4.into()],
            source_prefixes: self.blocks.iter().map(|b| b.prefix.to_string()).collect(),
            source_asns: self.blocks.iter().map(|b| b.asn).collect(),
            ports: vec![self.service.1],
            proto: proto::UDP,
            details,
            ..Involved::default()
        }
    }
}
