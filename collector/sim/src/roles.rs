//! Hosts with a job: the flows a web server, a DNS resolver, a mail server, an NTP
//! server, a database, a workstation, a scanner or an IoT device that reports to its
//! cloud produce over a window. They are the labelled traffic the host behaviour
//! classifier is trained and checked on (`flowvision-models`).
//!
//! Each host of a role gets its own load, peer population and side activities (servers
//! resolve names and fetch updates, workstations read mail, devices sync their clocks),
//! drawn from the seed, so that two hosts of one role differ the way two real ones do.
//! Records carry addresses, ports, protocol, flags, packets, bytes and start/end times;
//! the exporter fields are the template's.

use crate::rng::Rng;
use crate::traffic::ephemeral_port;
use flowvision_codec::FlowRecord;
use std::net::{IpAddr, Ipv4Addr};

/// What a host does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HostRole {
    /// Serves HTTP(S) to many clients, large answers.
    WebServer,
    /// Answers DNS for its clients and asks authoritative servers.
    DnsResolver,
    /// Receives and relays SMTP, serves IMAP/submission to users.
    MailServer,
    /// Answers NTP, syncs with a few upstream servers.
    NtpServer,
    /// Serves a database port to a few application servers.
    Database,
    /// A person's computer: browsing, mail, name lookups, some SSH.
    Workstation,
    /// Probes many hosts and ports, rarely answered.
    Scanner,
    /// A device reporting to its cloud at a fixed period, little else.
    IotBeacon,
}

impl HostRole {
    /// Every role, in label order.
    pub const ALL: [HostRole; 8] = [
        HostRole::WebServer,
        HostRole::DnsResolver,
        HostRole::MailServer,
        HostRole::NtpServer,
        HostRole::Database,
        HostRole::Workstation,
        HostRole::Scanner,
        HostRole::IotBeacon,
    ];

    /// The role's name in labels, the API and the model's metadata.
    pub fn name(self) -> &'static str {
        match self {
            HostRole::WebServer => "web_server",
            HostRole::DnsResolver => "dns_resolver",
            HostRole::MailServer => "mail_server",
            HostRole::NtpServer => "ntp_server",
            HostRole::Database => "database",
            HostRole::Workstation => "workstation",
            HostRole::Scanner => "scanner",
            HostRole::IotBeacon => "iot_beacon",
        }
    }
}

const TCP: u8 = 6;
const UDP: u8 = 17;
const ICMP: u8 = 1;
const SYN: u16 = 0x02;
const RST: u16 = 0x04;
const ACK: u16 = 0x10;
const PSH: u16 = 0x08;
const FIN: u16 = 0x01;
const ESTABLISHED: u16 = SYN | ACK | PSH | FIN;

/// Generates one host's flows.
struct Gen<'a> {
    rng: &'a mut Rng,
    host: IpAddr,
    window_ms: i64,
    template: FlowRecord,
    out: Vec<FlowRecord>,
}

/// One side of an exchange: (packets, bytes).
type Side = (u64, u64);

impl Gen<'_> {
    /// A peer drawn from a population of `n` addresses in `base`'s /16: popular peers
    /// come back (a Zipf-like draw by squaring a uniform).
    fn peer(&mut self, base: [u8; 2], n: u32) -> IpAddr {
        let u = self.rng.f64();
        let i = ((u * u) * f64::from(n.max(1))) as u32;
        IpAddr::V4(Ipv4Addr::new(base[0], base[1], (i >> 8) as u8, (i & 0xff) as u8 | 1))
    }

    fn at(&mut self) -> i64 {
        self.rng.range_i64(0, self.window_ms.max(1))
    }

    fn side(&mut self, packets_median: f64, bytes_per_packet: f64) -> Side {
        let p = (self.rng.lognormal(packets_median, 0.6).round() as u64).max(1);
        let b = (p as f64 * bytes_per_packet * self.rng.lognormal(1.0, 0.3)) as u64;
        (p, b.max(p * 40))
    }

    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        src: IpAddr,
        dst: IpAddr,
        sp: u16,
        dp: u16,
        proto: u8,
        flags: u16,
        side: Side,
        start: i64,
    ) {
        let mut r = self.template;
        r.src_addr = Some(src);
        r.dst_addr = Some(dst);
        r.src_port = sp;
        r.dst_port = dp;
        r.proto = proto;
        r.tcp_flags = flags;
        r.packets = side.0;
        r.bytes = side.1;
        r.flow_start_ms = Some(start);
        r.flow_end_ms = Some(start + (side.0 as i64) * 20);
        self.out.push(r);
    }

    /// A client-server exchange, both directions (the answer left out with
    /// probability `1 - answered`).
    #[allow(clippy::too_many_arguments)]
    fn exchange(
        &mut self,
        client: IpAddr,
        server: IpAddr,
        port: u16,
        proto: u8,
        req: Side,
        resp: Side,
        answered: f64,
    ) {
        let start = self.at();
        let cport = ephemeral_port(self.rng);
        let flags = if proto == TCP { ESTABLISHED } else { 0 };
        self.push(client, server, cport, port, proto, flags, req, start);
        if self.rng.chance(answered) {
            let delay = self.rng.range_i64(1, 60);
            self.push(server, client, port, cport, proto, flags, resp, start + delay);
        }
    }

    /// `n` connections of the host as a client of `port` at peers from a population.
    fn uses(
        &mut self,
        n: u32,
        port: u16,
        proto: u8,
        peers: ([u8; 2], u32),
        req: (f64, f64),
        resp: (f64, f64),
    ) {
        for _ in 0..n {
            let server = self.peer(peers.0, peers.1);
            let (rq, rs) = (self.side(req.0, req.1), self.side(resp.0, resp.1));
            self.exchange(self.host, server, port, proto, rq, rs, 0.97);
        }
    }

    /// `n` connections to the host's `port` from clients of a population.
    fn serves(
        &mut self,
        n: u32,
        port: u16,
        proto: u8,
        clients: ([u8; 2], u32),
        req: (f64, f64),
        resp: (f64, f64),
    ) {
        for _ in 0..n {
            let client = self.peer(clients.0, clients.1);
            let (rq, rs) = (self.side(req.0, req.1), self.side(resp.0, resp.1));
            self.exchange(client, self.host, port, proto, rq, rs, 0.99);
        }
    }

    /// A rate drawn per host: `median` connections per minute scaled to the window.
    fn count(&mut self, per_minute: f64) -> u32 {
        let minutes = self.window_ms as f64 / 60_000.0;
        (self.rng.lognormal(per_minute, 0.7) * minutes).round() as u32
    }

    /// The chores every host does a little of: name lookups, clock sync, updates.
    fn chores(&mut self, resolver: IpAddr) {
        let n = self.count(2.0);
        for _ in 0..n {
            let (rq, rs) = (self.side(1.0, 70.0), self.side(1.0, 130.0));
            self.exchange(self.host, resolver, 53, UDP, rq, rs, 0.98);
        }
        if self.rng.chance(0.7) {
            let n = self.count(0.1).max(1);
            self.uses(n, 123, UDP, ([192, 0], 4), (1.0, 76.0), (1.0, 76.0));
        }
        if self.rng.chance(0.6) {
            let n = self.count(0.5);
            self.uses(n, 443, TCP, ([151, 101], 40), (12.0, 120.0), (40.0, 1200.0));
        }
    }
}

fn pick(rng: &mut Rng, ports: &[u16]) -> u16 {
    ports.get(rng.index(ports.len())).copied().unwrap_or(443)
}

/// The flows of one host of `role` at `host` over `window_ms` starting at time 0 (the
/// caller shifts them), drawn from `rng`; `template` gives the exporter fields.
pub fn host_flows(
    role: HostRole,
    host: IpAddr,
    window_ms: i64,
    rng: &mut Rng,
    template: FlowRecord,
) -> Vec<FlowRecord> {
    let resolver = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 53));
    let mut g = Gen { rng, host, window_ms, template, out: Vec::new() };
    let internet = ([198, 18], 60_000);
    let lan = ([10, 20], 3_000);
    match role {
        HostRole::WebServer => {
            let n = g.count(120.0);
            let port = if g.rng.chance(0.8) { 443 } else { 80 };
            g.serves(n, port, TCP, internet, (8.0, 150.0), (30.0, 1300.0));
            if g.rng.chance(0.3) {
                let n = g.count(10.0);
                g.serves(n, 8443, TCP, lan, (8.0, 150.0), (20.0, 1000.0));
            }
            if g.rng.chance(0.5) {
                let n = g.count(20.0);
                g.uses(n, 5432, TCP, ([10, 30], 3), (6.0, 200.0), (8.0, 900.0));
            }
            g.chores(resolver);
        }
        HostRole::DnsResolver => {
            let n = g.count(300.0);
            g.serves(n, 53, UDP, lan, (1.0, 72.0), (1.0, 150.0));
            let n = g.count(60.0);
            g.uses(n, 53, UDP, ([199, 7], 20_000), (1.0, 80.0), (1.0, 400.0));
            if g.rng.chance(0.3) {
                let n = g.count(5.0);
                g.serves(n, 53, TCP, lan, (4.0, 90.0), (4.0, 600.0));
            }
            g.chores(host);
        }
        HostRole::MailServer => {
            let n = g.count(20.0);
            g.serves(n, 25, TCP, internet, (20.0, 600.0), (12.0, 90.0));
            let n = g.count(15.0);
            let port = if g.rng.chance(0.7) { 993 } else { 143 };
            g.serves(n, port, TCP, lan, (10.0, 100.0), (25.0, 900.0));
            let n = g.count(4.0);
            g.serves(n, 587, TCP, lan, (15.0, 700.0), (10.0, 90.0));
            let n = g.count(10.0);
            g.uses(n, 25, TCP, internet, (20.0, 700.0), (12.0, 90.0));
            g.chores(resolver);
        }
        HostRole::NtpServer => {
            let n = g.count(80.0);
            let clients = if g.rng.chance(0.5) { lan } else { internet };
            g.serves(n, 123, UDP, clients, (1.0, 76.0), (1.0, 76.0));
            let n = g.count(0.5).max(1);
            g.uses(n, 123, UDP, ([192, 0], 4), (1.0, 76.0), (1.0, 76.0));
            g.chores(resolver);
        }
        HostRole::Database => {
            let port = pick(g.rng, &[5432, 3306, 1433, 6379, 27017]);
            let apps = ([10, 30], g.rng.range_u32(2, 12));
            let n = g.count(40.0);
            g.serves(n, port, TCP, apps, (10.0, 250.0), (20.0, 1100.0));
            if g.rng.chance(0.5) {
                let n = g.count(1.0);
                g.serves(n, 22, TCP, lan, (60.0, 90.0), (60.0, 200.0));
            }
            g.chores(resolver);
        }
        HostRole::Workstation => {
            let n = g.count(15.0);
            g.uses(n, 443, TCP, internet, (12.0, 110.0), (40.0, 1200.0));
            let n = g.count(2.0);
            g.uses(n, 80, TCP, internet, (8.0, 110.0), (20.0, 1100.0));
            if g.rng.chance(0.6) {
                let n = g.count(1.0);
                g.uses(n, 993, TCP, ([10, 0], 2), (10.0, 100.0), (25.0, 900.0));
            }
            if g.rng.chance(0.3) {
                let n = g.count(0.5);
                g.uses(n, 22, TCP, lan, (80.0, 90.0), (80.0, 200.0));
            }
            if g.rng.chance(0.4) {
                // QUIC.
                let n = g.count(4.0);
                g.uses(n, 443, UDP, internet, (20.0, 100.0), (60.0, 1250.0));
            }
            let n = g.count(8.0);
            for _ in 0..n {
                let (rq, rs) = (g.side(1.0, 70.0), g.side(1.0, 130.0));
                g.exchange(host, resolver, 53, UDP, rq, rs, 0.98);
            }
        }
        HostRole::Scanner => {
            let n = g.count(400.0);
            let wide = g.rng.chance(0.5);
            let ports = [22u16, 23, 80, 443, 445, 3389, 8080, 3306, 5900, 6379];
            for _ in 0..n {
                let dst = if wide {
                    let i = g.rng.range_u32(0, 65_535);
                    IpAddr::V4(Ipv4Addr::new(10, 40, (i >> 8) as u8, i as u8))
                } else {
                    g.peer([10, 40], 64)
                };
                let dport = if wide { pick(g.rng, &ports) } else { g.rng.range_u32(1, 65_535) as u16 };
                let start = g.at();
                let sport = ephemeral_port(g.rng);
                if g.rng.chance(0.1) {
                    g.push(host, dst, 0, 0x0800, ICMP, 0, (1, 64), start);
                    continue;
                }
                g.push(host, dst, sport, dport, TCP, SYN, (1, 60), start);
                if g.rng.chance(0.2) {
                    g.push(dst, host, dport, sport, TCP, RST | ACK, (1, 40), start + 1);
                }
            }
            g.chores(resolver);
        }
        HostRole::IotBeacon => {
            let period = g.rng.range_i64(10_000, 300_000);
            let jitter = period / g.rng.range_i64(20, 200);
            let cloud = g.peer([52, 0], 60_000);
            let port = pick(g.rng, &[443, 8883, 1883, 5683]);
            let proto = if port == 5683 { UDP } else { TCP };
            let mut t = g.rng.range_i64(0, period);
            while t < window_ms {
                let s = t + g.rng.range_i64(-jitter, jitter + 1);
                let cport = ephemeral_port(g.rng);
                let flags = if proto == TCP { ESTABLISHED } else { 0 };
                let (rq, rs) = (g.side(6.0, 120.0), g.side(5.0, 200.0));
                g.push(host, cloud, cport, port, proto, flags, rq, s);
                g.push(cloud, host, port, cport, proto, flags, rs, s + 30);
                t += period;
            }
            if g.rng.chance(0.5) {
                g.uses(1, 123, UDP, ([192, 0], 4), (1.0, 76.0), (1.0, 76.0));
            }
            let n = g.count(0.3);
            for _ in 0..n {
                let (rq, rs) = (g.side(1.0, 70.0), g.side(1.0, 130.0));
                g.exchange(host, resolver, 53, UDP, rq, rs, 0.98);
            }
        }
    }
    g.out.sort_by_key(|r| r.flow_start_ms);
    g.out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;
    use flowvision_codec::Protocol;

    fn flows(role: HostRole, seed: u64) -> Vec<FlowRecord> {
        let mut rng = Rng::new(seed);
        let host = IpAddr::V4(Ipv4Addr::new(10, 9, 0, 1));
        host_flows(
            role,
            host,
            600_000,
            &mut rng,
            FlowRecord::new(Protocol::Ipfix, IpAddr::V4(Ipv4Addr::LOCALHOST)),
        )
    }

    #[test]
    fn every_role_makes_traffic_involving_its_host_deterministically() {
        let host = Some(IpAddr::V4(Ipv4Addr::new(10, 9, 0, 1)));
        for role in HostRole::ALL {
            let a = flows(role, 7);
            assert!(a.len() >= 4, "{role:?}: {}", a.len());
            assert!(a.iter().all(|r| r.src_addr == host || r.dst_addr == host), "{role:?}");
            assert_eq!(a, flows(role, 7), "{role:?} is deterministic");
            assert_ne!(a, flows(role, 8), "{role:?} varies with the seed");
        }
    }

    #[test]
    fn a_beacon_keeps_its_period() {
        let host = Some(IpAddr::V4(Ipv4Addr::new(10, 9, 0, 1)));
        let f = flows(HostRole::IotBeacon, 3);
        let mut peers: Vec<_> = f.iter().filter(|r| r.src_addr == host).map(|r| r.dst_addr).collect();
        peers.sort();
        peers.dedup();
        assert!(peers.len() <= 4, "one cloud, perhaps NTP and the resolver: {peers:?}");
    }
}
