//! The background traffic model: who talks to whom, over which service, how much,
//! for how long, through which interfaces.
//!
//! A connection is drawn as: a service from the weighted mix; a direction (most
//! connections go from an internal client, picked by Zipf activity, to an external
//! server, picked by Zipf popularity; a service-dependent share come in from outside
//! to internal servers); an address family (IPv6 when the exporter carries it, both
//! ends have an address and a coin with the exporter's `ipv6_share` says so); a TCP
//! outcome; heavy-tailed sizes and durations. It yields one flow record per direction
//! (NetFlow is unidirectional), routed through the exporter's interfaces: inside
//! interfaces by internal subnet (each with its VLAN), uplinks by external AS. A
//! connection longer than the exporter's active timeout yields its first timeout's
//! records and leaves the rest to [`long_flow::LongFlows`], one pair of records per
//! timeout at the connection's pace.

pub mod diurnal;
pub mod hosts;
pub mod long_flow;
pub mod services;
pub mod sizes;
pub mod zipf;

use crate::rng::Rng;
use flowvision_codec::{FlowRecord, Protocol};
use hosts::{Host, Network};
use long_flow::LongFlows;
use services::{proto, Port, Service, TcpOutcome};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use zipf::AliasTable;

/// What the traffic model needs to know about the exporter a flow goes through.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Site {
    /// Probability of an IPv6 connection (0 when the protocol carries IPv4 only).
    pub ipv6_share: f64,
    /// Uplink interfaces: ifIndex `1..=uplinks`.
    pub uplinks: u32,
    /// Inside interfaces: ifIndex `uplinks+1..=uplinks+inside`.
    pub inside: u32,
    /// VLAN of the first inside interface (0: no VLANs); the others count up.
    pub vlan_base: u16,
    /// First IPv4 next hop towards the uplinks (one per uplink).
    pub uplink_v4: Ipv4Addr,
    /// First IPv6 next hop towards the uplinks.
    pub uplink_v6: Ipv6Addr,
    /// Longest flow before the exporter's active timeout cuts it.
    pub active_timeout_ms: i64,
    /// Longest delay between a flow's end and its export (the inactive timeout).
    pub export_lag_ms: i64,
    /// The router's MAC (sFlow frames are addressed to it).
    pub router_mac: [u8; 6],
}

/// One end of a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// An internal host.
    Internal(Host),
    /// Anything outside: an external host, or an anomaly actor.
    External(Host),
}

impl Endpoint {
    fn host(&self) -> &Host {
        match self {
            Endpoint::Internal(h) | Endpoint::External(h) => h,
        }
    }
}

impl Site {
    fn inside_if(&self, group: u32) -> (u32, u16) {
        let n = self.inside.max(1);
        let i = group % n;
        let vlan = if self.vlan_base == 0 { 0 } else { self.vlan_base.wrapping_add(i as u16) & 0x0fff };
        (self.uplinks + 1 + i, vlan)
    }

    fn uplink(&self, group: u32) -> u32 {
        1 + group % self.uplinks.max(1)
    }

    /// Fills the addresses, interfaces, next hop, prefix lengths, AS numbers and
    /// VLAN of a flow from `src` to `dst` through this exporter.
    pub fn route(&self, rec: &mut FlowRecord, src: &Endpoint, dst: &Endpoint, v6: bool) {
        let v6 = v6 && src.host().v6.is_some() && dst.host().v6.is_some();
        rec.src_addr = Some(src.host().addr(v6));
        rec.dst_addr = Some(dst.host().addr(v6));
        rec.src_mask = src.host().mask(v6);
        rec.dst_mask = dst.host().mask(v6);
        rec.src_as = src.host().asn;
        rec.dst_as = dst.host().asn;
        let (in_if, out_if, vlan, next_hop) = match (src, dst) {
            (Endpoint::Internal(s), Endpoint::External(d)) => {
                let (inside, vlan) = self.inside_if(s.group);
                let up = self.uplink(d.group);
                (inside, up, vlan, self.uplink_hop(up, v6))
            }
            (Endpoint::External(s), Endpoint::Internal(d)) => {
                let (inside, vlan) = self.inside_if(d.group);
                (self.uplink(s.group), inside, vlan, gateway(d, v6))
            }
            (Endpoint::Internal(s), Endpoint::Internal(d)) => {
                let (a, vlan) = self.inside_if(s.group);
                let (b, _) = self.inside_if(d.group);
                (a, b, vlan, gateway(d, v6))
            }
            (Endpoint::External(s), Endpoint::External(d)) => {
                let (a, b) = (self.uplink(s.group), self.uplink(d.group));
                (a, b, 0, self.uplink_hop(b, v6))
            }
        };
        rec.in_if = in_if;
        rec.out_if = out_if;
        rec.vlan = vlan;
        rec.next_hop = Some(next_hop);
        rec.src_mac = Some(mac_of(rec.src_addr));
        rec.dst_mac = Some(self.router_mac);
    }

    /// The next hop towards uplink `uplink`.
    pub(crate) fn uplink_hop(&self, uplink: u32, v6: bool) -> IpAddr {
        if v6 {
            IpAddr::V6(Ipv6Addr::from(u128::from(self.uplink_v6) + u128::from(uplink)))
        } else {
            IpAddr::V4(Ipv4Addr::from(u32::from(self.uplink_v4).wrapping_add(uplink)))
        }
    }
}

/// The subnet gateway of an internal host (.1 / ::1 of its subnet).
fn gateway(h: &Host, v6: bool) -> IpAddr {
    match (v6, h.v6) {
        (true, Some(a)) => IpAddr::V6(Ipv6Addr::from(u128::from(a) & !0xffff_ffff_ffff_ffffu128 | 1)),
        _ => IpAddr::V4(Ipv4Addr::from(u32::from(h.v4) & 0xffff_ff00 | 1)),
    }
}

/// A stable, locally administered MAC for an address.
pub fn mac_of(a: Option<IpAddr>) -> [u8; 6] {
    let t = match a {
        Some(IpAddr::V4(a)) => a.octets(),
        Some(IpAddr::V6(a)) => {
            let o = a.octets();
            [o[12], o[13], o[14], o[15]]
        }
        None => [0; 4],
    };
    [0x02, 0x42, t[0], t[1], t[2], t[3]]
}

/// Smallest IP packet (IP + transport headers) of a protocol and family.
pub fn min_packet(proto: u8, v6: bool) -> f64 {
    let ip = if v6 { 40.0 } else { 20.0 };
    ip + match proto {
        proto::TCP => 20.0,
        proto::UDP | proto::ICMP | proto::ICMPV6 => 8.0,
        proto::ESP => 8.0,
        proto::GRE => 4.0,
        _ => 0.0,
    }
}

/// Ephemeral client port (Linux default range).
#[inline]
pub fn ephemeral_port(rng: &mut Rng) -> u16 {
    rng.range_u32(32_768, 60_999) as u16
}

/// The background traffic generator.
#[derive(Debug, Clone)]
pub struct TrafficModel {
    /// The simulated network.
    pub net: Network,
    services: Vec<Service>,
    service_pick: AliasTable,
    rng: Rng,
    long_flows: LongFlows,
}

impl TrafficModel {
    /// A model over `net` with the default service mix.
    pub fn new(net: Network, rng: Rng) -> Self {
        let services = services::default_services();
        let weights: Vec<f64> = services.iter().map(|s| s.weight).collect();
        TrafficModel {
            net,
            service_pick: AliasTable::new(&weights),
            services,
            rng,
            long_flows: LongFlows::new(),
        }
    }

    /// Generates one connection seen by the exporter described by `site` (the
    /// caller's index `exporter`) around `now_ms`, appending its flow records (one
    /// per direction; the server's answer is left out when `room` is 1 or the server
    /// did not answer). A connection longer than the active timeout appends its first
    /// timeout's records and leaves the rest to [`TrafficModel::long_flows`]. Returns
    /// how many records were appended.
    #[allow(clippy::too_many_arguments)]
    pub fn connection(
        &mut self,
        site: &Site,
        exporter: usize,
        now_ms: i64,
        room: usize,
        template: &FlowRecord,
        out: &mut Vec<FlowRecord>,
    ) -> usize {
        let rng = &mut self.rng;
        let net = &self.net;
        let Some(svc) = self.services.get(self.service_pick.sample(rng)).copied() else { return 0 };
        let want_v6 = site.ipv6_share > 0.0 && rng.chance(site.ipv6_share);
        let inbound = rng.chance(svc.inbound);
        // An IPv6 connection needs two dual-stacked ends: draw again (a few times)
        // until both have an address, so `ipv6_share` is the share of IPv6 flows.
        let mut tries = if want_v6 { 8 } else { 1 };
        let (client, server) = loop {
            let pair = if inbound {
                let s = net.servers.get(net.server_popularity.sample(rng)).and_then(|i| net.internal.get(*i));
                let c = net.external.get(rng.index(net.external.len()));
                match (c, s) {
                    (Some(c), Some(s)) => (Endpoint::External(*c), Endpoint::Internal(*s)),
                    _ => return 0,
                }
            } else {
                let c = net.internal.get(net.internal_activity.sample(rng));
                let s = net.external.get(net.external_popularity.sample(rng));
                match (c, s) {
                    (Some(c), Some(s)) => (Endpoint::Internal(*c), Endpoint::External(*s)),
                    _ => return 0,
                }
            };
            tries -= 1;
            if tries == 0 || (pair.0.host().v6.is_some() && pair.1.host().v6.is_some()) {
                break pair;
            }
        };
        let v6 = want_v6 && client.host().v6.is_some() && server.host().v6.is_some();
        let ip_proto = if svc.proto == proto::ICMP && v6 { proto::ICMPV6 } else { svc.proto };
        let (client_port, server_port) = match svc.port {
            Port::Fixed(p) => (ephemeral_port(rng), p),
            Port::Range(lo, hi) => (ephemeral_port(rng), rng.range_u32(u32::from(lo), u32::from(hi)) as u16),
            Port::None if svc.proto == proto::ICMP => {
                let (req, rep) = services::icmp_echo(v6);
                // ICMP carries type/code in the destination port; no source port.
                (req, rep)
            }
            Port::None => (0, 0),
        };
        let min = min_packet(ip_proto, v6);
        let outcome = if ip_proto == proto::TCP { TcpOutcome::pick(rng.f64()) } else { TcpOutcome::Complete };
        let (mut req_packets, mut resp_packets) = if outcome == TcpOutcome::Failed {
            (rng.range_u32(1, 3) as u64, 1)
        } else {
            let resp = sizes::packets(rng, svc.packets_median, svc.packets_sigma);
            let req = ((resp as f64 * svc.request_ratio * rng.lognormal(1.0, 0.2)).round() as u64).max(1);
            (req, resp)
        };
        if ip_proto == proto::TCP && outcome != TcpOutcome::Failed {
            // A TCP connection has at least handshake + teardown segments each way.
            req_packets = req_packets.max(3);
            resp_packets = resp_packets.max(2);
        }
        let (req_bytes, resp_bytes) = if outcome == TcpOutcome::Failed {
            let syn = min + 24.0; // SYN with MSS, SACK, timestamps, window scale
            ((req_packets as f64 * syn) as u64, min as u64)
        } else {
            (
                sizes::bytes(rng, req_packets, svc.request_packet, min, svc.max_packet),
                sizes::bytes(rng, resp_packets, svc.response_packet, min, svc.max_packet),
            )
        };
        let duration = sizes::duration_ms(rng, resp_packets.max(req_packets), svc.ms_per_packet);
        // A long connection's first record ends at its first active timeout.
        let exported = duration.min(site.active_timeout_ms.max(1));
        let end = now_ms - rng.range_i64(0, site.export_lag_ms.max(0));
        let start = end - exported;
        let (client_flags, server_flags) = if ip_proto == proto::TCP { outcome.flags() } else { (0, 0) };

        let mut req = *template;
        site.route(&mut req, &client, &server, v6);
        req.proto = ip_proto;
        req.tos = svc.tos;
        req.tcp_flags = client_flags;
        req.packets = req_packets;
        req.bytes = req_bytes;
        req.flow_start_ms = Some(start);
        req.flow_end_ms = Some(end);
        let icmp = ip_proto == proto::ICMP || ip_proto == proto::ICMPV6;
        (req.src_port, req.dst_port) = if icmp { (0, client_port) } else { (client_port, server_port) };
        // A failed TCP attempt is answered by an RST half of the time; otherwise the
        // service's answer probability applies (0 for one-way services like syslog).
        let p_answer = if outcome == TcpOutcome::Failed { 0.5 } else { svc.reply };
        let resp = (room >= 2 && rng.chance(p_answer)).then(|| {
            let mut resp = req;
            site.route(&mut resp, &server, &client, v6);
            resp.tcp_flags = server_flags;
            resp.packets = resp_packets;
            resp.bytes = resp_bytes;
            // The answer starts one round trip later and ends with the request.
            let rtt = rng.range_i64(1, 80).min(exported);
            resp.flow_start_ms = Some(start + rtt);
            (resp.src_port, resp.dst_port) = if icmp { (0, server_port) } else { (server_port, client_port) };
            resp
        });
        let (req, resp) = if duration > exported {
            let first = self.long_flows.cut(exporter, start, duration, site.active_timeout_ms, req, resp);
            (first.request, first.response)
        } else {
            (req, resp)
        };
        out.push(req);
        out.extend(resp);
        1 + usize::from(resp.is_some())
    }

    /// The long connections whose later records are still to be exported.
    pub fn long_flows(&mut self) -> &mut LongFlows {
        &mut self.long_flows
    }

    /// The service mix.
    pub fn services(&self) -> &[Service] {
        &self.services
    }
}

/// A record template for an exporter (protocol and exporter address set, the rest
/// empty).
pub fn template_record(protocol: Protocol, exporter: IpAddr) -> FlowRecord {
    FlowRecord::new(protocol, exporter)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;
    use hosts::NetworkConfig;

    pub(crate) fn site() -> Site {
        Site {
            ipv6_share: 0.3,
            uplinks: 2,
            inside: 6,
            vlan_base: 100,
            uplink_v4: Ipv4Addr::new(100, 64, 0, 0),
            uplink_v6: "2001:db8:ffff::".parse().unwrap(),
            active_timeout_ms: 60_000,
            export_lag_ms: 15_000,
            router_mac: [2, 0, 0, 0, 0, 9],
        }
    }

    fn model() -> TrafficModel {
        let cfg = NetworkConfig {
            internal_v4: vec!["10.20.0.0/16".parse().unwrap()],
            internal_v6: Some("2001:db8:20::/48".parse().unwrap()),
            internal_hosts: 2000,
            hosts_per_subnet: 100,
            server_share: 0.05,
            dual_stack_share: 0.6,
            external_hosts: 10_000,
            external_ases: 300,
            zipf_s: 1.1,
            local_as: 64_500,
        };
        let mut rng = Rng::new(1);
        TrafficModel::new(Network::build(&cfg, &mut rng).unwrap(), Rng::new(2))
    }

    #[test]
    fn connections_look_real() {
        let mut m = model();
        let s = site();
        let t = template_record(Protocol::NetflowV9, IpAddr::V4(Ipv4Addr::LOCALHOST));
        let mut out = Vec::new();
        let now = 1_714_521_600_000;
        for _ in 0..20_000 {
            m.connection(&s, 0, now, 2, &t, &mut out);
        }
        let n = out.len() as f64;
        let tcp = out.iter().filter(|r| r.proto == proto::TCP).count() as f64;
        let v6 = out.iter().filter(|r| matches!(r.src_addr, Some(IpAddr::V6(_)))).count() as f64;
        let https = out.iter().filter(|r| r.dst_port == 443 || r.src_port == 443).count() as f64;
        assert!(tcp / n > 0.5 && tcp / n < 0.85, "tcp {}", tcp / n);
        assert!(v6 / n > 0.25 && v6 / n < 0.35, "v6 {}", v6 / n);
        assert!(https / n > 0.3, "https {}", https / n);
        for r in &out {
            let (s, e) = (r.flow_start_ms.unwrap(), r.flow_end_ms.unwrap());
            assert!(s <= e && e <= now && now - s <= 60_000 + 15_000 + 80, "{r:?}");
            assert!(r.packets >= 1 && r.bytes >= r.packets * 20);
            assert!((1..=8).contains(&r.in_if) && (1..=8).contains(&r.out_if) && r.in_if != r.out_if);
            assert_eq!(r.src_addr.unwrap().is_ipv6(), r.dst_addr.unwrap().is_ipv6());
            assert_eq!(r.next_hop.unwrap().is_ipv6(), r.src_addr.unwrap().is_ipv6());
            assert!(r.src_as != 0 && r.dst_as != 0 && r.src_mask != 0 && r.dst_mask != 0);
            if r.proto != proto::TCP {
                assert_eq!(r.tcp_flags, 0);
            }
        }
        // Heavy-tailed talkers: the busiest 1% of internal hosts start a large share.
        let mut per_host = std::collections::HashMap::new();
        for r in out.iter().filter(|r| r.in_if > 2) {
            *per_host.entry(r.src_addr).or_insert(0u32) += 1;
        }
        let mut counts: Vec<u32> = per_host.values().copied().collect();
        counts.sort_unstable_by(|a, b| b.cmp(a));
        let top: u32 = counts.iter().take(20).sum();
        let all: u32 = counts.iter().sum();
        assert!(top as f64 / all as f64 > 0.3, "top talkers {top}/{all}");
    }
}
