//! Vertical port scan: one scanner (in a held-back prefix) sends one SYN probe to
//! each of `targets` ports (default 1-1024, in random order, from one source port
//! as nmap does) of one internal host, evenly over the window. Closed ports answer
//! RST-ACK, open ones (the well-known services) SYN-ACK, filtered ones (10%) nothing.

use super::{actor, internal_host, random_in, Common, Involved};
use crate::error::SimError;
use crate::traffic::hosts::{Host, Network, ReservedBlock};
use crate::traffic::services::{flags, proto};
use crate::traffic::{ephemeral_port, Endpoint, Site};
use flowvision_codec::FlowRecord;
use std::net::Ipv4Addr;

/// Ports that answer SYN-ACK on the target.
const OPEN: [u16; 5] = [22, 80, 443, 445, 3389];

/// A running port scan.
#[derive(Debug, Clone)]
pub struct PortScan {
    /// Window and random stream.
    pub common: Common,
    target: Host,
    block: ReservedBlock,
    scanner: Ipv4Addr,
    source_port: u16,
    /// (time, port), ascending by time.
    probes: Vec<(i64, u16)>,
    next: usize,
}

impl PortScan {
    /// Picks scanner and target, and schedules the probes.
    pub fn new(mut common: Common, net: &mut Network) -> Result<Self, SimError> {
        let n = common.plan.spec.targets.unwrap_or(1024).clamp(1, 65_535);
        let block = net.reserve_block()?;
        let rng = &mut common.rng;
        let scanner = random_in(&block, rng);
        let target = internal_host(net, rng, true, 50);
        let mut ports: Vec<u16> = (1..=n as u16).collect();
        for i in (1..ports.len()).rev() {
            ports.swap(i, rng.index(i + 1));
        }
        let (s, len) = (common.plan.start_ms, common.plan.end_ms - common.plan.start_ms);
        let probes = ports
            .iter()
            .enumerate()
            .map(|(k, p)| (s + ((k as f64 + rng.f64()) / f64::from(n) * len as f64) as i64, *p))
            .collect();
        let source_port = ephemeral_port(rng);
        Ok(PortScan { common, target, block, scanner, source_port, probes, next: 0 })
    }

    /// Probes (and answers) due in `[t0, t1)`.
    pub fn emit(&mut self, _t0: i64, t1: i64, site: &Site, template: &FlowRecord, out: &mut Vec<FlowRecord>) {
        let scanner = actor(&self.block, self.scanner);
        let target = Endpoint::Internal(self.target);
        while let Some((t, port)) = self.probes.get(self.next).copied() {
            if t >= t1 {
                break;
            }
            self.next += 1;
            let mut r = *template;
            site.route(&mut r, &scanner, &target, false);
            r.proto = proto::TCP;
            (r.src_port, r.dst_port) = (self.source_port, port);
            r.tcp_flags = flags::SYN;
            (r.packets, r.bytes) = (1, 44);
            (r.flow_start_ms, r.flow_end_ms) = (Some(t), Some(t));
            out.push(r);
            let rng = &mut self.common.rng;
            if rng.chance(0.1) {
                continue; // filtered
            }
            let mut back = r;
            site.route(&mut back, &target, &scanner, false);
            (back.src_port, back.dst_port) = (port, self.source_port);
            back.tcp_flags =
                if OPEN.contains(&port) { flags::SYN | flags::ACK } else { flags::RST | flags::ACK };
            back.bytes = if OPEN.contains(&port) { 44 } else { 40 };
            out.push(back);
        }
    }

    /// Ground truth.
    pub fn involved(&self) -> Involved {
        let mut details = serde_json::Map::new();
        details.insert("ports_probed".into(), self.probes.len().into());
        let (lo, hi) = (1u16, self.probes.len() as u16);
        Involved {
            victims: vec![self.target.v4.into()],
            sources: vec![self.scanner.into()],
            source_prefixes: vec![self.block.prefix.to_string()],
            source_asns: vec![self.block.asn],
            ports: vec![lo, hi],
            proto: proto::TCP,
            details,
            ..Involved::default()
        }
    }
}
