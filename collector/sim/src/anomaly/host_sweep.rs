//! Horizontal host sweep: one scanner (in a held-back prefix) probes one port
//! (default 445, as SMB worms do) on `targets` consecutive addresses (default 254)
//! of the internal subnets, evenly over the window. Live hosts answer (RST-ACK, or
//! SYN-ACK on the 5% that run the service); empty addresses stay silent.

use super::{actor, random_in, Common, Involved};
use crate::error::SimError;
use crate::traffic::hosts::{self, Host, Network, ReservedBlock};
use crate::traffic::services::{flags, proto};
use crate::traffic::{ephemeral_port, Endpoint, Site};
use flowvision_codec::FlowRecord;
use std::collections::{BTreeSet, HashMap};
use std::net::Ipv4Addr;

/// A running sweep.
#[derive(Debug, Clone)]
pub struct HostSweep {
    /// Window and random stream.
    pub common: Common,
    block: ReservedBlock,
    scanner: Ipv4Addr,
    port: u16,
    /// (time, target, live), ascending by time.
    probes: Vec<(i64, Host, bool)>,
    subnets: BTreeSet<u32>,
    next: usize,
}

impl HostSweep {
    /// Picks the scanner and the swept addresses (starting at a random internal
    /// subnet), and schedules the probes.
    pub fn new(mut common: Common, net: &mut Network) -> Result<Self, SimError> {
        let n = common.plan.spec.targets.unwrap_or(254).clamp(1, 65_536);
        let port = common.plan.spec.port.unwrap_or(445);
        let block = net.reserve_block()?;
        let rng = &mut common.rng;
        let scanner = random_in(&block, rng);
        // /24 base -> (interface group, live hosts).
        let mut live: HashMap<u32, Host> = HashMap::new();
        let mut bases: BTreeSet<u32> = BTreeSet::new();
        let mut group_of: HashMap<u32, u32> = HashMap::new();
        for h in &net.internal {
            let a = u32::from(h.v4);
            live.insert(a, *h);
            bases.insert(a & 0xffff_ff00);
            group_of.insert(a & 0xffff_ff00, h.group);
        }
        let bases: Vec<u32> = bases.into_iter().collect();
        let first = rng.index(bases.len());
        let mut targets = Vec::new();
        let mut subnets = BTreeSet::new();
        'outer: for k in 0..bases.len() {
            let Some(base) = bases.get((first + k) % bases.len()).copied() else { break };
            for host in 1..255u32 {
                if targets.len() >= n as usize {
                    break 'outer;
                }
                let a = base | host;
                subnets.insert(base);
                let h = live.get(&a).copied();
                let group = group_of.get(&base).copied().unwrap_or(0);
                let target = h.unwrap_or(Host {
                    v4: Ipv4Addr::from(a),
                    v6: None,
                    asn: net.local_as,
                    mask4: 24,
                    mask6: 64,
                    group,
                });
                targets.push((target, h.is_some()));
            }
        }
        let (s, len) = (common.plan.start_ms, common.plan.end_ms - common.plan.start_ms);
        let count = targets.len().max(1) as f64;
        let rng = &mut common.rng;
        let probes = targets
            .into_iter()
            .enumerate()
            .map(|(k, (h, up))| (s + ((k as f64 + rng.f64()) / count * len as f64) as i64, h, up))
            .collect();
        Ok(HostSweep { common, block, scanner, port, probes, subnets, next: 0 })
    }

    /// Probes (and answers) due in `[t0, t1)`.
    pub fn emit(&mut self, _t0: i64, t1: i64, site: &Site, template: &FlowRecord, out: &mut Vec<FlowRecord>) {
        let scanner = actor(&self.block, self.scanner);
        while let Some((t, host, up)) = self.probes.get(self.next).copied() {
            if t >= t1 {
                break;
            }
            self.next += 1;
            let rng = &mut self.common.rng;
            let target = Endpoint::Internal(host);
            let mut r = *template;
            site.route(&mut r, &scanner, &target, false);
            r.proto = proto::TCP;
            (r.src_port, r.dst_port) = (ephemeral_port(rng), self.port);
            r.tcp_flags = flags::SYN;
            (r.packets, r.bytes) = (1, 44);
            (r.flow_start_ms, r.flow_end_ms) = (Some(t), Some(t));
            out.push(r);
            if up {
                let mut back = r;
                site.route(&mut back, &target, &scanner, false);
                (back.src_port, back.dst_port) = (r.dst_port, r.src_port);
                let open = rng.chance(0.05);
                back.tcp_flags = if open { flags::SYN | flags::ACK } else { flags::RST | flags::ACK };
                back.bytes = if open { 44 } else { 40 };
                out.push(back);
            }
        }
    }

    /// Ground truth.
    pub fn involved(&self) -> Involved {
        let mut details = serde_json::Map::new();
        details.insert("hosts_probed".into(), self.probes.len().into());
        details.insert("live_hosts".into(), self.probes.iter().filter(|p| p.2).count().into());
        Involved {
            victim_prefixes: self.subnets.iter().map(|b| hosts::v4(*b, 24).to_string()).collect(),
            sources: vec![self.scanner.into()],
            source_prefixes: vec![self.block.prefix.to_string()],
            source_asns: vec![self.block.asn],
            ports: vec![self.port],
            proto: proto::TCP,
            details,
            ..Involved::default()
        }
    }
}
