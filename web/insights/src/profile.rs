//! A host's behaviour over a window, as one fixed-length vector: what it serves, what it
//! uses, how many peers it talks to, how regular its connections are. The host
//! behaviour classifier (`flowvision-models`) reads these vectors; the console builds
//! one from the stored flows of a host when its page or `GET /api/v1/hosts/<addr>` is
//! asked for, and the training command builds them from labelled simulator traffic.
//!
//! Which side of a flow is the service comes from the ports, as an operator reads a flow
//! table: a well-known port (below 1024, or a listed service port) against an
//! ephemeral one. Flows with two ephemeral ports (peer-to-peer, RTP) count in
//! [`HostProfile::flows`] but for neither side.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

/// Services a host can serve or use, by their well-known ports. The last, `Other`,
/// is any other port below 1024.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    /// HTTP(S): 80, 443, 8080, 8443.
    Web,
    /// DNS: 53.
    Dns,
    /// Mail: SMTP 25/465/587, POP3 110/995, IMAP 143/993.
    Mail,
    /// NTP: 123.
    Ntp,
    /// Databases: MySQL 3306, PostgreSQL 5432, SQL Server 1433, Oracle 1521, Redis 6379,
    /// MongoDB 27017, Cassandra 9042.
    Database,
    /// SSH: 22.
    Ssh,
    /// MQTT 1883/8883 and CoAP 5683: what devices report to their cloud over.
    Telemetry,
    /// Any other port below 1024.
    Other,
}

impl Service {
    /// Every service, in the order of the profile's vector.
    pub const ALL: [Service; 8] = [
        Service::Web,
        Service::Dns,
        Service::Mail,
        Service::Ntp,
        Service::Database,
        Service::Ssh,
        Service::Telemetry,
        Service::Other,
    ];

    /// The service a port belongs to, `None` for an ephemeral or unlisted high port.
    pub fn of_port(port: u16) -> Option<Service> {
        Some(match port {
            80 | 443 | 8080 | 8443 => Service::Web,
            53 => Service::Dns,
            25 | 465 | 587 | 110 | 995 | 143 | 993 => Service::Mail,
            123 => Service::Ntp,
            3306 | 5432 | 1433 | 1521 | 6379 | 27017 | 9042 => Service::Database,
            22 => Service::Ssh,
            1883 | 8883 | 5683 => Service::Telemetry,
            1..=1023 => Service::Other,
            _ => return None,
        })
    }

    /// Short name, as in the feature names.
    pub fn name(self) -> &'static str {
        match self {
            Service::Web => "web",
            Service::Dns => "dns",
            Service::Mail => "mail",
            Service::Ntp => "ntp",
            Service::Database => "database",
            Service::Ssh => "ssh",
            Service::Telemetry => "telemetry",
            Service::Other => "other",
        }
    }

    fn index(self) -> usize {
        match self {
            Service::Web => 0,
            Service::Dns => 1,
            Service::Mail => 2,
            Service::Ntp => 3,
            Service::Database => 4,
            Service::Ssh => 5,
            Service::Telemetry => 6,
            Service::Other => 7,
        }
    }
}

/// What a profile needs of one flow record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowView {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// Source port (0 for ICMP).
    pub src_port: u16,
    /// Destination port (ICMP type/code on some exporters).
    pub dst_port: u16,
    /// IP protocol.
    pub proto: u8,
    /// Cumulative TCP flags.
    pub tcp_flags: u16,
    /// Packets, sampling-corrected.
    pub packets: u64,
    /// Bytes, sampling-corrected.
    pub bytes: u64,
    /// Flow start, Unix milliseconds.
    pub start_ms: i64,
}

/// Number of values in a profile vector.
pub const PROFILE_LEN: usize = 30;

/// Distinct peers and ports are counted exactly up to this many; a scanner's window
/// cannot grow the profile without bound.
const DISTINCT_CAP: usize = 65_536;
/// Start times kept per peer for the regularity measure.
const STARTS_CAP: usize = 512;

/// Accumulates one host's flows over a window.
#[derive(Debug, Clone)]
pub struct HostProfile {
    host: IpAddr,
    flows: u64,
    bytes_in: u64,
    bytes_out: u64,
    served: [u64; 8],
    used: [u64; 8],
    peers: HashSet<IpAddr>,
    served_peers: HashSet<IpAddr>,
    remote_ports: HashSet<u16>,
    probes_out: u64,
    flows_out: u64,
    udp: u64,
    icmp: u64,
    /// Start times of the host's own connections, per destination (for beaconing).
    starts: HashMap<IpAddr, Vec<i64>>,
}

fn tcp_probe(f: &FlowView) -> bool {
    const SYN: u16 = 0x02;
    const ACK: u16 = 0x10;
    f.proto == 6 && f.packets <= 2 && f.tcp_flags & SYN != 0 && f.tcp_flags & ACK == 0
}

impl HostProfile {
    /// An empty profile of `host`.
    pub fn new(host: IpAddr) -> Self {
        HostProfile {
            host,
            flows: 0,
            bytes_in: 0,
            bytes_out: 0,
            served: [0; 8],
            used: [0; 8],
            peers: HashSet::new(),
            served_peers: HashSet::new(),
            remote_ports: HashSet::new(),
            probes_out: 0,
            flows_out: 0,
            udp: 0,
            icmp: 0,
            starts: HashMap::new(),
        }
    }

    /// The host this profile describes.
    pub fn host(&self) -> IpAddr {
        self.host
    }

    /// Flows seen with the host at either end.
    pub fn flows(&self) -> u64 {
        self.flows
    }

    /// Adds one flow; flows not involving the host are ignored (returns false).
    pub fn observe(&mut self, f: &FlowView) -> bool {
        let outbound = f.src == self.host;
        if !outbound && f.dst != self.host {
            return false;
        }
        self.flows += 1;
        let (peer, local_port, remote_port) =
            if outbound { (f.dst, f.src_port, f.dst_port) } else { (f.src, f.dst_port, f.src_port) };
        if outbound {
            self.bytes_out = self.bytes_out.saturating_add(f.bytes);
            self.flows_out += 1;
        } else {
            self.bytes_in = self.bytes_in.saturating_add(f.bytes);
        }
        match f.proto {
            17 => self.udp += 1,
            1 | 58 => self.icmp += 1,
            _ => {}
        }
        if self.peers.len() < DISTINCT_CAP {
            self.peers.insert(peer);
        }
        let icmp = f.proto == 1 || f.proto == 58;
        if outbound && (tcp_probe(f) || (icmp && f.packets <= 2)) {
            self.probes_out += 1;
        }
        if icmp {
            return true;
        }
        let local = Service::of_port(local_port);
        let remote = Service::of_port(remote_port);
        // The lower well-known port is the service when both ends look like one (DNS
        // between two resolvers, 53 to 53, counts as served on the receiving side).
        let serving = match (local, remote) {
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(_), Some(_)) => !outbound,
            (None, None) => return true,
        };
        if serving {
            if let Some(s) = local {
                if let Some(n) = self.served.get_mut(s.index()) {
                    *n += 1;
                }
            }
            if self.served_peers.len() < DISTINCT_CAP {
                self.served_peers.insert(peer);
            }
        } else {
            if let Some(s) = remote {
                if let Some(n) = self.used.get_mut(s.index()) {
                    *n += 1;
                }
            }
            if self.remote_ports.len() < DISTINCT_CAP {
                self.remote_ports.insert(remote_port);
            }
            if outbound {
                let starts = self.starts.entry(peer).or_default();
                if starts.len() < STARTS_CAP {
                    starts.push(f.start_ms);
                }
            }
        }
        true
    }

    /// How regular the host's most frequent outgoing connection is: the coefficient of
    /// variation of the gaps between its starts (0 = a metronome), with the number of
    /// connections; `None` with fewer than 4 connections to any one peer.
    pub fn regularity(&self) -> Option<(f64, usize)> {
        let (_, starts) = self.starts.iter().max_by_key(|(peer, s)| (s.len(), **peer))?;
        if starts.len() < 4 {
            return None;
        }
        let mut sorted = starts.clone();
        sorted.sort_unstable();
        let gaps: Vec<f64> =
            sorted.windows(2).filter_map(|w| Some((*w.get(1)? - *w.first()?) as f64)).collect();
        let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
        if mean <= 0.0 {
            return Some((0.0, starts.len()));
        }
        let var = gaps.iter().map(|g| (g - mean) * (g - mean)).sum::<f64>() / gaps.len() as f64;
        Some((var.sqrt() / mean, starts.len()))
    }

    /// The profile as the classifier's input, each value in about [0, 1]; names in
    /// [`feature_names`].
    pub fn vector(&self) -> [f32; PROFILE_LEN] {
        let mut v = [0f32; PROFILE_LEN];
        let flows = self.flows.max(1) as f64;
        let served_total: u64 = self.served.iter().sum();
        let used_total: u64 = self.used.iter().sum();
        let log = |x: f64, scale: f64| ((1.0 + x).ln() / scale).min(1.5) as f32;
        let share = |n: u64, of: u64| if of == 0 { 0.0 } else { (n as f64 / of as f64) as f32 };
        // Sorts the top connection's start times: once.
        let regularity = self.regularity();
        let values: [f32; PROFILE_LEN] = [
            log(self.flows as f64, 12.0),
            share(served_total, self.flows),
            share(used_total, self.flows),
            // Bytes out against in: 0.5 balanced, toward 1 a sender, toward 0 a receiver.
            ((self.bytes_out as f64 + 1.0) / (self.bytes_in as f64 + self.bytes_out as f64 + 2.0)) as f32,
            share(self.served[0], served_total),
            share(self.served[1], served_total),
            share(self.served[2], served_total),
            share(self.served[3], served_total),
            share(self.served[4], served_total),
            share(self.served[5], served_total),
            share(self.served[6], served_total),
            share(self.served[7], served_total),
            share(self.used[0], used_total),
            share(self.used[1], used_total),
            share(self.used[2], used_total),
            share(self.used[3], used_total),
            share(self.used[4], used_total),
            share(self.used[5], used_total),
            share(self.used[6], used_total),
            share(self.used[7], used_total),
            log(self.peers.len() as f64, 10.0),
            log(self.served_peers.len() as f64, 10.0),
            log(self.remote_ports.len() as f64, 10.0),
            share(self.probes_out, self.flows_out),
            log((self.bytes_in + self.bytes_out) as f64 / flows, 16.0),
            share(self.udp, self.flows),
            share(self.icmp, self.flows),
            // Peers per flow: near 1 when every flow meets a new host (a sweep).
            share(self.peers.len() as u64, self.flows),
            regularity.map_or(0.0, |(cv, _)| (1.0 - cv.min(1.0)) as f32),
            regularity.map_or(0.0, |(_, n)| share(n as u64, self.flows_out)),
        ];
        for (slot, x) in v.iter_mut().zip(values) {
            *slot = if x.is_finite() { x } else { 0.0 };
        }
        v
    }
}

/// Names of the profile vector's values, in order.
pub fn feature_names() -> [&'static str; PROFILE_LEN] {
    [
        "flows (log)",
        "share of flows served",
        "share of flows as client",
        "bytes out / total",
        "served: web",
        "served: dns",
        "served: mail",
        "served: ntp",
        "served: database",
        "served: ssh",
        "served: telemetry",
        "served: other",
        "used: web",
        "used: dns",
        "used: mail",
        "used: ntp",
        "used: database",
        "used: ssh",
        "used: telemetry",
        "used: other",
        "distinct peers (log)",
        "distinct clients served (log)",
        "distinct remote ports used (log)",
        "probe share of outgoing flows",
        "bytes per flow (log)",
        "UDP share",
        "ICMP share",
        "peers per flow",
        "regularity of the top outgoing connection",
        "share of outgoing flows to the top peer",
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn flow(src: [u8; 4], dst: [u8; 4], sp: u16, dp: u16, start_ms: i64) -> FlowView {
        FlowView {
            src: IpAddr::V4(Ipv4Addr::from(src)),
            dst: IpAddr::V4(Ipv4Addr::from(dst)),
            src_port: sp,
            dst_port: dp,
            proto: 6,
            tcp_flags: 0x1b,
            packets: 10,
            bytes: 5_000,
            start_ms,
        }
    }

    #[test]
    fn a_web_server_serves_web_and_a_client_uses_it() {
        let server = [10, 0, 0, 1];
        let mut p = HostProfile::new(IpAddr::V4(Ipv4Addr::from(server)));
        for i in 0..100u8 {
            assert!(p.observe(&flow([198, 51, 100, i], server, 40_000 + u16::from(i), 443, 0)));
            assert!(p.observe(&flow(server, [198, 51, 100, i], 443, 40_000 + u16::from(i), 0)));
        }
        assert!(!p.observe(&flow([1, 1, 1, 1], [2, 2, 2, 2], 1, 2, 0)));
        let v = p.vector();
        assert_eq!(v[1], 1.0, "everything served");
        assert_eq!(v[4], 1.0, "all of it web");
        assert_eq!(p.flows(), 200);
        assert!(p.regularity().is_none(), "a server opens no connections");
    }

    #[test]
    fn a_beacon_is_regular_and_a_browser_is_not() {
        let dev = [10, 0, 0, 9];
        let mut beacon = HostProfile::new(IpAddr::V4(Ipv4Addr::from(dev)));
        for i in 0..30 {
            beacon.observe(&flow(dev, [203, 0, 113, 5], 50_000, 8883, i * 60_000 + (i % 3) * 100));
        }
        let (cv, n) = beacon.regularity().unwrap_or((9.0, 0));
        assert!(cv < 0.01, "{cv}");
        assert_eq!(n, 30);
        let mut browser = HostProfile::new(IpAddr::V4(Ipv4Addr::from(dev)));
        let mut t = 0;
        for i in 0..30i64 {
            t += 1_000 + (i * i * 7_919) % 120_000;
            browser.observe(&flow(dev, [203, 0, 113, 5], 50_000, 443, t));
        }
        assert!(browser.regularity().is_some_and(|(cv, _)| cv > 0.3));
        assert!(beacon.vector()[28] > 0.95 && browser.vector()[28] < 0.7);
    }

    #[test]
    fn every_value_is_finite_and_bounded() {
        let p = HostProfile::new(IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert!(p.vector().iter().all(|x| x.is_finite() && (0.0..=1.5).contains(x)));
        assert_eq!(feature_names().len(), PROFILE_LEN);
    }
}
