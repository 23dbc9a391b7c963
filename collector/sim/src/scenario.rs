//! The scenario file (TOML) and its resolution into a concrete [`Plan`].
//!
//! Every key is optional; a file may be as short as `rate = 50000`. Unknown keys are
//! errors (a typo must not silently fall back to a default). See
//! `collector/sim/README.md` for the annotated format; [`Scenario::to_toml`] prints
//! the effective scenario with every default filled in.

use crate::anomaly::AnomalyKind;
use crate::clock::{parse_duration_ns, parse_time_ms, SimClock};
use crate::conform::carries_ipv6;
use crate::error::SimError;
use crate::rng::Rng;
use crate::traffic::diurnal::Diurnal;
use crate::traffic::hosts::{parse_prefix, NetworkConfig};
use crate::traffic::Site;
use flowvision_codec::Protocol;
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A whole scenario, as written in TOML.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Scenario {
    /// PRNG seed (absent: drawn from the clock and printed in the summary).
    pub seed: Option<u64>,
    /// Simulated start time: `now`, RFC 3339 or Unix ms.
    pub start: String,
    /// Simulated seconds per wall-clock second.
    pub speedup: f64,
    /// Background flows per second at the weekday diurnal peak (anomalies add to it).
    pub rate: f64,
    /// Run length in wall-clock time (`10s`, `5m`); with `count`, whichever ends first.
    pub duration: Option<String>,
    /// Number of flows to send (background and anomalies).
    pub count: Option<u64>,
    /// First exporter source address; each further exporter takes the next one.
    pub source_base: IpAddr,
    /// Exporter groups.
    pub exporters: Vec<ExporterGroup>,
    /// Hosts, prefixes, ASes.
    pub traffic: TrafficConfig,
    /// The load curve.
    pub diurnal: Diurnal,
    /// Anomalies to inject.
    pub anomalies: Vec<AnomalySpec>,
}

impl Default for Scenario {
    fn default() -> Self {
        Scenario {
            seed: None,
            start: "now".into(),
            speedup: 1.0,
            rate: 10_000.0,
            duration: None,
            count: None,
            source_base: IpAddr::V4(Ipv4Addr::new(127, 1, 0, 1)),
            exporters: Protocol::ALL.iter().map(|p| ExporterGroup::new(*p)).collect(),
            traffic: TrafficConfig::default(),
            diurnal: Diurnal::default(),
            anomalies: Vec::new(),
        }
    }
}

/// `count` exporters with the same settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExporterGroup {
    /// `netflow_v5`, `netflow_v9`, `ipfix` or `sflow_v5`.
    pub protocol: Protocol,
    /// How many exporters.
    pub count: usize,
    /// First source address of the group (default: the next of `source_base`).
    pub source: Option<IpAddr>,
    /// Relative share of the traffic of each exporter of the group.
    pub weight: f64,
    /// Packet sampling, 1 in N (1: unsampled). v5 carries 14 bits.
    pub sampling_rate: u32,
    /// With `sampling_rate` > 1: export what a 1-in-N packet sampler sees of each
    /// simulated flow (`crate::sampler`): fewer, smaller records, whose counters
    /// multiplied by N estimate the simulated traffic. Default false: every simulated
    /// flow is exported as drawn, so a sampled exporter's records stand for N times
    /// the traffic of an unsampled one's.
    pub sample_packets: bool,
    /// Observation domains (v5: engine type << 8 | engine id; v9 source id; IPFIX
    /// observation domain id; sFlow sub-agent id), each its own export stream with
    /// its own sequence numbers. Flows are spread over them by input interface.
    pub domains: Vec<u32>,
    /// Uplink interfaces (ifIndex 1..=uplinks).
    pub uplinks: u32,
    /// Inside interfaces (after the uplinks), one per group of internal subnets.
    pub inside: u32,
    /// VLAN of the first inside interface (0: none).
    pub vlan_base: u16,
    /// Share of IPv6 flows (ignored for NetFlow v5, which carries IPv4 only).
    pub ipv6_share: f64,
    /// v9/IPFIX: resend templates after this many datagrams (0: not by count).
    pub template_refresh_datagrams: u32,
    /// v9/IPFIX: resend templates after this much simulated time (0: not by time).
    pub template_refresh: String,
    /// Send a partly filled datagram after this much simulated time.
    pub flush: String,
    /// Flow cache active timeout: the longest flow duration exported.
    pub active_timeout: String,
    /// Flow cache inactive timeout: the longest delay from a flow's end to its export.
    pub inactive_timeout: String,
    /// Restart every exporter of the group this often (simulated time; absent: never).
    pub restart_every: Option<String>,
    /// Restart at these offsets from the simulated start.
    pub restart_at: Vec<String>,
    /// Largest UDP payload.
    pub max_datagram: usize,
}

impl ExporterGroup {
    /// One exporter of `protocol` with the defaults.
    pub fn new(protocol: Protocol) -> Self {
        ExporterGroup { protocol, ..ExporterGroup::default() }
    }
}

impl Default for ExporterGroup {
    fn default() -> Self {
        ExporterGroup {
            protocol: Protocol::NetflowV9,
            count: 1,
            source: None,
            weight: 1.0,
            sampling_rate: 1,
            sample_packets: false,
            domains: vec![0],
            uplinks: 2,
            inside: 6,
            vlan_base: 100,
            ipv6_share: 0.15,
            template_refresh_datagrams: 20,
            template_refresh: "60s".into(),
            flush: "1s".into(),
            active_timeout: "60s".into(),
            inactive_timeout: "15s".into(),
            restart_every: None,
            restart_at: Vec::new(),
            max_datagram: flowvision_codec::encode::DEFAULT_MAX_DATAGRAM,
        }
    }
}

/// The host model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrafficConfig {
    /// Internal IPv4 prefixes.
    pub internal_v4: Vec<String>,
    /// Internal IPv6 prefix.
    pub internal_v6: Option<String>,
    /// Internal hosts.
    pub internal_hosts: usize,
    /// Hosts per internal /24.
    pub hosts_per_subnet: usize,
    /// Share of internal hosts that are servers.
    pub server_share: f64,
    /// Share of dual-stacked hosts.
    pub dual_stack_share: f64,
    /// External hosts.
    pub external_hosts: usize,
    /// External autonomous systems.
    pub external_ases: usize,
    /// Zipf exponent of host activity and popularity.
    pub zipf_s: f64,
    /// The operator's AS.
    pub local_as: u32,
}

impl Default for TrafficConfig {
    fn default() -> Self {
        TrafficConfig {
            internal_v4: vec!["10.0.0.0/16".into(), "172.16.0.0/20".into()],
            internal_v6: Some("2001:db8:1000::/48".into()),
            internal_hosts: 4000,
            hosts_per_subnet: 100,
            server_share: 0.05,
            dual_stack_share: 0.5,
            external_hosts: 50_000,
            external_ases: 800,
            zipf_s: 1.05,
            local_as: 64_500,
        }
    }
}

/// One anomaly to inject. Fields a kind does not use are ignored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AnomalySpec {
    /// What to inject.
    pub kind: AnomalyKind,
    /// Start: an offset from the simulated start (`90s`) or an RFC 3339 time
    /// (default: 30% into the run).
    pub start: Option<String>,
    /// Length in simulated time (default: 30% of the run).
    pub duration: Option<String>,
    /// Index of the exporter that sees it (default: drawn).
    pub exporter: Option<usize>,
    /// Floods: anomalous flows per background flow during the window.
    pub intensity: Option<f64>,
    /// Attack/scan/beacon destination port (kind default when absent).
    pub port: Option<u16>,
    /// Amplification service: `dns`, `ntp`, `memcached` or `ssdp`.
    pub service: Option<String>,
    /// Floods: bots or reflectors.
    pub sources: Option<usize>,
    /// Port scan: ports probed; host sweep: hosts probed.
    pub targets: Option<u32>,
    /// Exfiltration: bytes uploaded over the window.
    pub bytes: Option<u64>,
    /// Beaconing: period in simulated time (`60s`).
    pub period: Option<String>,
    /// Beaconing: jitter as a share of the period.
    pub jitter: Option<f64>,
    /// Link failure: the ifIndex that fails (default 1, the first uplink).
    pub interface: Option<u32>,
}

impl AnomalySpec {
    /// A spec of `kind` with every option at its default.
    pub fn new(kind: AnomalyKind) -> Self {
        AnomalySpec { kind, ..AnomalySpec::default() }
    }
}

impl Default for AnomalySpec {
    fn default() -> Self {
        AnomalySpec {
            kind: AnomalyKind::SynFlood,
            start: None,
            duration: None,
            exporter: None,
            intensity: None,
            port: None,
            service: None,
            sources: None,
            targets: None,
            bytes: None,
            period: None,
            jitter: None,
            interface: None,
        }
    }
}

/// One exporter, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct ExporterPlan {
    /// Index in the run (labels and `--exporters` refer to it).
    pub index: usize,
    /// Protocol.
    pub protocol: Protocol,
    /// Source address (and sFlow agent address).
    pub address: IpAddr,
    /// UDP source port.
    pub source_port: u16,
    /// Relative traffic share.
    pub weight: f64,
    /// Sampling rate (1 in N).
    pub sampling_rate: u32,
    /// Whether records are thinned by a packet sampler ([`ExporterGroup::sample_packets`]).
    pub sample_packets: bool,
    /// Observation domains.
    pub domains: Vec<u32>,
    /// Interfaces, VLANs, next hops, timeouts as the traffic model needs them.
    pub site: Site,
    /// Template refresh by datagrams.
    pub template_refresh_datagrams: u32,
    /// Template refresh by simulated time (ms; 0: not by time).
    pub template_refresh_ms: i64,
    /// Partial-datagram flush timeout (simulated ms).
    pub flush_ms: i64,
    /// Largest UDP payload.
    pub max_datagram: usize,
    /// Restart times (simulated Unix ms), ascending.
    pub restarts_ms: Vec<i64>,
    /// Boot time before the run (simulated Unix ms).
    pub boot_ms: i64,
}

/// One anomaly, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct AnomalyPlan {
    /// Options as written.
    pub spec: AnomalySpec,
    /// Window start (simulated Unix ms).
    pub start_ms: i64,
    /// Window end, exclusive.
    pub end_ms: i64,
    /// Exporter index.
    pub exporter: usize,
}

/// A scenario with every value concrete.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// PRNG seed.
    pub seed: u64,
    /// Virtual-to-simulated time.
    pub clock: SimClock,
    /// Peak background flows per second.
    pub rate: f64,
    /// Flow budget.
    pub count: Option<u64>,
    /// Wall-clock (virtual) length.
    pub duration_ns: Option<i64>,
    /// Exporters.
    pub exporters: Vec<ExporterPlan>,
    /// Host model.
    pub network: NetworkConfig,
    /// Load curve.
    pub diurnal: Diurnal,
    /// Anomalies.
    pub anomalies: Vec<AnomalyPlan>,
}

/// Length of a run without `duration` or `count`.
pub const DEFAULT_DURATION: &str = "10s";

fn ms(s: &str, what: &str) -> Result<i64, SimError> {
    parse_duration_ns(s).map(|ns| ns / 1_000_000).map_err(|e| SimError::Invalid(format!("{what}: {e}")))
}

fn add_to_ip(ip: IpAddr, n: u64) -> IpAddr {
    match ip {
        IpAddr::V4(a) => IpAddr::V4(Ipv4Addr::from(u32::from(a).wrapping_add(n as u32))),
        IpAddr::V6(a) => IpAddr::V6(Ipv6Addr::from(u128::from(a).wrapping_add(u128::from(n)))),
    }
}

impl Scenario {
    /// Parses TOML text (`origin` names it in errors).
    pub fn from_toml(text: &str, origin: &str) -> Result<Scenario, SimError> {
        toml::from_str(text)
            .map_err(|e| SimError::ParseScenario { path: origin.into(), message: e.to_string() })
    }

    /// Reads and parses a scenario file.
    pub fn load(path: &std::path::Path) -> Result<Scenario, SimError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| SimError::ReadScenario { path: path.display().to_string(), source })?;
        Scenario::from_toml(&text, &path.display().to_string())
    }

    /// The scenario as TOML, every default written out.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_else(|e| format!("# cannot print the scenario: {e}\n"))
    }

    /// Replaces the exporters by `n` exporters cycling through `protocols` (all four
    /// when empty), keeping the settings of the first group.
    pub fn set_exporters(&mut self, n: usize, protocols: &[Protocol]) {
        let protocols: Vec<Protocol> =
            if protocols.is_empty() { Protocol::ALL.to_vec() } else { protocols.to_vec() };
        let base = self.exporters.first().cloned().unwrap_or_default();
        self.exporters = (0..n)
            .map(|i| ExporterGroup {
                protocol: protocols.get(i % protocols.len()).copied().unwrap_or(Protocol::NetflowV9),
                count: 1,
                source: None,
                ..base.clone()
            })
            .collect();
    }

    /// Sets every exporter group's protocol, cycling through `protocols`.
    pub fn set_protocols(&mut self, protocols: &[Protocol]) {
        if protocols.is_empty() {
            return;
        }
        let mut groups = Vec::new();
        for g in &self.exporters {
            for _ in 0..g.count {
                groups.push(ExporterGroup { count: 1, ..g.clone() });
            }
        }
        for (i, g) in groups.iter_mut().enumerate() {
            g.protocol = protocols.get(i % protocols.len()).copied().unwrap_or(g.protocol);
        }
        self.exporters = groups;
    }

    /// Resolves into a [`Plan`]; `now_ms` stands for `now`, `fallback_seed` for an
    /// absent seed.
    pub fn resolve(&self, now_ms: i64, fallback_seed: u64) -> Result<Plan, SimError> {
        let invalid = |m: String| Err(SimError::Invalid(m));
        if !(self.rate.is_finite() && self.rate > 0.0) {
            return invalid(format!("rate must be > 0 (got {})", self.rate));
        }
        if !(self.speedup.is_finite() && self.speedup > 0.0) {
            return invalid(format!("speedup must be > 0 (got {})", self.speedup));
        }
        self.diurnal.validate().map_err(SimError::Invalid)?;
        let start_ms = parse_time_ms(&self.start, now_ms)?;
        let clock = SimClock { start_ms, speedup: self.speedup };
        let duration_ns = match (&self.duration, self.count) {
            (Some(d), _) => Some(parse_duration_ns(d)?),
            (None, Some(_)) => None,
            (None, None) => Some(parse_duration_ns(DEFAULT_DURATION)?),
        };
        if self.count == Some(0) || duration_ns == Some(0) {
            return invalid("count and duration must be > 0".into());
        }
        let seed = self.seed.unwrap_or(fallback_seed);

        let mut exporters = Vec::new();
        let mut next_source = self.source_base;
        for g in &self.exporters {
            if g.count == 0 {
                continue;
            }
            let checks = [
                (g.weight.is_finite() && g.weight > 0.0, "weight must be > 0"),
                (g.sampling_rate >= 1, "sampling_rate must be >= 1"),
                (
                    g.protocol != Protocol::NetflowV5 || g.sampling_rate <= 0x3fff,
                    "v5 sampling_rate must be < 16384",
                ),
                (!g.domains.is_empty(), "domains must not be empty"),
                (
                    g.protocol != Protocol::NetflowV5 || g.domains.iter().all(|d| *d <= 0xffff),
                    "v5 domains are engine type << 8 | engine id (<= 65535)",
                ),
                (g.uplinks >= 1 && g.inside >= 1, "uplinks and inside must be >= 1"),
                (g.uplinks + g.inside <= 0xffff, "too many interfaces"),
                ((0.0..=1.0).contains(&g.ipv6_share), "ipv6_share must be within 0-1"),
                ((512..=65_000).contains(&g.max_datagram), "max_datagram must be within 512-65000"),
            ];
            if let Some((_, m)) = checks.iter().find(|(ok, _)| !ok) {
                return invalid(format!("exporter group {:?}: {m}", g.protocol.as_str()));
            }
            let flush_ms = ms(&g.flush, "flush")?.max(1);
            let active = ms(&g.active_timeout, "active_timeout")?.max(1);
            let inactive = ms(&g.inactive_timeout, "inactive_timeout")?;
            let refresh = ms(&g.template_refresh, "template_refresh")?;
            let every = g.restart_every.as_deref().map(|s| ms(s, "restart_every")).transpose()?;
            let at: Vec<i64> = g.restart_at.iter().map(|s| ms(s, "restart_at")).collect::<Result<_, _>>()?;
            let mut source = g.source.unwrap_or(next_source);
            for _ in 0..g.count {
                let index = exporters.len();
                let mut restarts_ms: Vec<i64> = at.iter().map(|o| start_ms + o).collect();
                if let Some(every) = every.filter(|e| *e > 0) {
                    // Enough restarts for any run up to 1000 periods (or a year).
                    let horizon = (every.saturating_mul(1000)).min(366 * 86_400_000);
                    restarts_ms
                        .extend((1..).map(|k| start_ms + k * every).take_while(|t| *t <= start_ms + horizon));
                }
                restarts_ms.sort_unstable();
                restarts_ms.dedup();
                let n = index as u32;
                let site = Site {
                    ipv6_share: if carries_ipv6(g.protocol) { g.ipv6_share } else { 0.0 },
                    uplinks: g.uplinks,
                    inside: g.inside,
                    vlan_base: g.vlan_base & 0x0fff,
                    // Transit next hops in 100.64.0.0/10 and 2001:db8:ffff::/48, per exporter.
                    uplink_v4: Ipv4Addr::from(0x6440_0000u32 + (n << 4)),
                    uplink_v6: Ipv6Addr::from(0x2001_0db8_ffffu128 << 80 | u128::from(n) << 16),
                    active_timeout_ms: active,
                    export_lag_ms: inactive,
                    router_mac: [0x02, 0xfe, 0, (n >> 16) as u8, (n >> 8) as u8, n as u8],
                };
                exporters.push(ExporterPlan {
                    index,
                    protocol: g.protocol,
                    address: source,
                    source_port: 50_000 + (index % 10_000) as u16,
                    weight: g.weight,
                    sampling_rate: g.sampling_rate,
                    sample_packets: g.sample_packets && g.sampling_rate > 1,
                    domains: g.domains.clone(),
                    site,
                    template_refresh_datagrams: g.template_refresh_datagrams,
                    template_refresh_ms: refresh,
                    flush_ms,
                    max_datagram: g.max_datagram,
                    restarts_ms,
                    // Booted between one hour and twenty days before the start
                    // (uptime stays far from sysUpTime's 49.7-day wrap).
                    boot_ms: start_ms
                        - 3_600_000
                        - Rng::stream(seed, "boot", index as u64).range_i64(0, 1_641_600_000),
                });
                source = add_to_ip(source, 1);
            }
            next_source = source;
        }
        if exporters.is_empty() {
            return invalid("the scenario has no exporters".into());
        }
        let mut seen = std::collections::HashSet::new();
        if let Some(dup) = exporters.iter().find(|e| !seen.insert(e.address)) {
            return invalid(format!("two exporters share the source address {}", dup.address));
        }

        let t = &self.traffic;
        let network = NetworkConfig {
            internal_v4: t.internal_v4.iter().map(|p| parse_prefix(p)).collect::<Result<_, _>>()?,
            internal_v6: t.internal_v6.as_deref().map(parse_prefix).transpose()?,
            internal_hosts: t.internal_hosts,
            hosts_per_subnet: t.hosts_per_subnet,
            server_share: t.server_share,
            dual_stack_share: t.dual_stack_share,
            external_hosts: t.external_hosts,
            external_ases: t.external_ases,
            zipf_s: t.zipf_s,
            local_as: t.local_as,
        };

        // Default windows are placed relative to the expected simulated span.
        let span_ms = match (duration_ns, self.count) {
            (Some(d), _) => (d as f64 * self.speedup / 1e6) as i64,
            (None, Some(c)) => (c as f64 / self.rate * self.speedup * 1000.0) as i64,
            (None, None) => 10_000,
        }
        .max(1);
        let mut anomalies = Vec::new();
        for (i, a) in self.anomalies.iter().enumerate() {
            let start = match &a.start {
                Some(s) if s.contains('T') || s.eq_ignore_ascii_case("now") => parse_time_ms(s, now_ms)?,
                Some(s) => start_ms + ms(s, "anomaly start")?,
                None => start_ms + span_ms * 3 / 10,
            };
            let len = match &a.duration {
                Some(d) => ms(d, "anomaly duration")?,
                None => span_ms * 3 / 10,
            }
            .max(1);
            let exporter = match a.exporter {
                Some(e) if e < exporters.len() => e,
                Some(e) => return invalid(format!("anomaly {}: no exporter {e}", a.kind.as_str())),
                None => (seed.wrapping_add(i as u64 * 7919) % exporters.len() as u64) as usize,
            };
            if a.interface == Some(0) {
                return invalid(format!("anomaly {}: interface 0 is no interface", a.kind.as_str()));
            }
            anomalies.push(AnomalyPlan { spec: a.clone(), start_ms: start, end_ms: start + len, exporter });
        }
        Ok(Plan {
            seed,
            clock,
            rate: self.rate,
            count: self.count,
            duration_ns,
            exporters,
            network,
            diurnal: self.diurnal,
            anomalies,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;

    #[test]
    fn minimal_and_full_files() {
        let s = Scenario::from_toml("rate = 500", "t").unwrap();
        assert_eq!(s.rate, 500.0);
        assert_eq!(s.exporters.len(), 4);
        let p = s.resolve(1_000, 9).unwrap();
        assert_eq!(p.seed, 9);
        assert_eq!(p.exporters.len(), 4);
        assert_eq!(p.exporters[1].address, "127.1.0.2".parse::<IpAddr>().unwrap());
        assert_eq!(p.exporters[0].site.ipv6_share, 0.0, "v5 carries IPv4 only");
        assert_eq!(p.duration_ns, Some(10_000_000_000));

        let text = r#"
            seed = 42
            start = "2024-05-01T00:00:00Z"
            speedup = 60
            rate = 1000
            count = 5000
            [[exporters]]
            protocol = "ipfix"
            count = 3
            sampling_rate = 100
            domains = [1, 2]
            restart_every = "10m"
            [[exporters]]
            protocol = "sflow_v5"
            source = "127.2.0.1"
            [traffic]
            internal_hosts = 500
            [diurnal]
            peak_hour = 20
            [[anomalies]]
            kind = "syn_flood"
            start = "30s"
            duration = "1m"
            exporter = 3
            intensity = 0.5
        "#;
        let s = Scenario::from_toml(text, "t").unwrap();
        let p = s.resolve(0, 0).unwrap();
        assert_eq!(p.seed, 42);
        assert_eq!(p.exporters.len(), 4);
        assert_eq!(p.exporters[3].address, "127.2.0.1".parse::<IpAddr>().unwrap());
        assert_eq!(p.exporters[2].domains, vec![1, 2]);
        assert_eq!(p.exporters[0].restarts_ms[0], p.clock.start_ms + 600_000);
        assert_eq!(p.anomalies[0].start_ms, 1_714_521_600_000 + 30_000);
        assert_eq!(p.anomalies[0].end_ms - p.anomalies[0].start_ms, 60_000);
        // Round trip through the printed form.
        let again = Scenario::from_toml(&s.to_toml(), "printed").unwrap();
        assert_eq!(again, s);
    }

    #[test]
    fn errors_are_precise() {
        let e = Scenario::from_toml("rat = 5", "f.toml").unwrap_err().to_string();
        assert!(e.contains("f.toml") && e.contains("rat"), "{e}");
        let e = Scenario::from_toml("[[exporters]]\nprotocol = \"netflow_v8\"", "f").unwrap_err().to_string();
        assert!(e.contains("netflow_v8"), "{e}");
        let bad = Scenario { rate: 0.0, ..Scenario::default() };
        assert!(bad.resolve(0, 0).is_err());
        let mut s = Scenario::default();
        s.exporters[1].source = Some("127.1.0.1".parse().unwrap());
        assert!(s.resolve(0, 0).unwrap_err().to_string().contains("share the source"));
    }

    #[test]
    fn flag_overrides() {
        let mut s = Scenario::default();
        s.set_exporters(6, &[Protocol::SflowV5, Protocol::Ipfix]);
        let p = s.resolve(0, 0).unwrap();
        let protos: Vec<Protocol> = p.exporters.iter().map(|e| e.protocol).collect();
        assert_eq!(protos[..3], [Protocol::SflowV5, Protocol::Ipfix, Protocol::SflowV5]);
        let mut s = Scenario::default();
        s.set_protocols(&[Protocol::NetflowV5]);
        assert!(s.resolve(0, 0).unwrap().exporters.iter().all(|e| e.protocol == Protocol::NetflowV5));
    }
}
