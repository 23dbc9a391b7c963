//! Anomalies injected on request, each with its ground truth.
//!
//! An anomaly has a window of simulated time and one exporter that sees it. Its
//! actors (bots, reflectors, scanners, C2 and exfiltration servers) live in /16
//! blocks of public space held back from the background traffic
//! ([`crate::traffic::hosts::Network::reserve_block`]), so no background flow ever
//! matches an anomaly's actors, and every flow of an anomaly starts and ends inside
//! its window. Floods scale with the background (`intensity` anomalous flows per
//! background flow); scans, beacons and exfiltration follow their own schedules.
//!
//! Some kinds are benign bursts ([`AnomalyKind::is_benign`]): speed tests, backups,
//! bulk downloads and a new popular service, the traffic an operator sees every day
//! that looks like an attack to a careless rule. They are labelled like attacks, with
//! `"benign": true`, so an evaluation can count every one reported as an attack.
//!
//! After the run, [`labels::Label`]s (JSON Lines) say what was injected: kind,
//! window, exporter, the hosts and prefixes involved, and the flows, bytes and
//! packets sent for it in the exporter's protocol terms.

pub mod backup;
pub mod beaconing;
pub mod bulk_download;
pub mod exfiltration;
pub mod host_sweep;
pub mod labels;
pub mod new_service;
pub mod outage;
pub mod port_scan;
pub mod speed_test;
pub mod syn_flood;
pub mod transfer;
pub mod udp_amplification;

use crate::error::SimError;
use crate::rng::Rng;
use crate::scenario::AnomalyPlan;
use crate::traffic::hosts::{Host, Network, PrefixHosts, ReservedBlock};
use crate::traffic::{Endpoint, Site};
use flowvision_codec::FlowRecord;
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, Ipv4Addr};

/// The kinds of anomaly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnomalyKind {
    /// Many bots send TCP SYNs to one service of one victim.
    SynFlood,
    /// Reflectors answer spoofed requests with large UDP responses to one victim.
    UdpAmplification,
    /// One scanner probes many ports of one host (vertical scan).
    PortScan,
    /// One scanner probes one port on many hosts (horizontal sweep).
    HostSweep,
    /// An internal host uploads a large volume to a destination never seen before.
    Exfiltration,
    /// An internal host contacts a C2 server at a regular period.
    Beaconing,
    /// Benign: an internal host runs a speed test (seconds at line rate both ways).
    SpeedTest,
    /// Benign: an internal host backs up gigabytes to an internal server.
    Backup,
    /// Benign: an internal host downloads gigabytes over QUIC.
    BulkDownload,
    /// Benign: thousands of clients start using a new internal service.
    NewService,
    /// The exporter exports nothing for the window.
    ExportOutage,
    /// One of the exporter's interfaces fails; an uplink's traffic takes the next one.
    LinkFailure,
}

impl AnomalyKind {
    /// All kinds.
    pub const ALL: [AnomalyKind; 12] = [
        AnomalyKind::SynFlood,
        AnomalyKind::UdpAmplification,
        AnomalyKind::PortScan,
        AnomalyKind::HostSweep,
        AnomalyKind::Exfiltration,
        AnomalyKind::Beaconing,
        AnomalyKind::SpeedTest,
        AnomalyKind::Backup,
        AnomalyKind::BulkDownload,
        AnomalyKind::NewService,
        AnomalyKind::ExportOutage,
        AnomalyKind::LinkFailure,
    ];

    /// The name used in scenarios, flags and labels.
    pub fn as_str(self) -> &'static str {
        match self {
            AnomalyKind::SynFlood => "syn_flood",
            AnomalyKind::UdpAmplification => "udp_amplification",
            AnomalyKind::PortScan => "port_scan",
            AnomalyKind::HostSweep => "host_sweep",
            AnomalyKind::Exfiltration => "exfiltration",
            AnomalyKind::Beaconing => "beaconing",
            AnomalyKind::SpeedTest => "speed_test",
            AnomalyKind::Backup => "backup",
            AnomalyKind::BulkDownload => "bulk_download",
            AnomalyKind::NewService => "new_service",
            AnomalyKind::ExportOutage => "export_outage",
            AnomalyKind::LinkFailure => "link_failure",
        }
    }

    /// Whether the kind is ordinary traffic that only looks unusual (never an attack).
    pub fn is_benign(self) -> bool {
        matches!(
            self,
            AnomalyKind::SpeedTest
                | AnomalyKind::Backup
                | AnomalyKind::BulkDownload
                | AnomalyKind::NewService
        )
    }

    /// Parses [`AnomalyKind::as_str`] names.
    pub fn from_name(s: &str) -> Option<AnomalyKind> {
        AnomalyKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// Who and what an anomaly involves (the ground truth besides the window).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Involved {
    /// Attacked, scanned or compromised internal hosts.
    pub victims: Vec<IpAddr>,
    /// Prefixes swept (host sweep) or attacked.
    pub victim_prefixes: Vec<String>,
    /// Attacking or remote hosts when few (scanner, C2, exfiltration server).
    pub sources: Vec<IpAddr>,
    /// The held-back prefixes every remote actor lies in.
    pub source_prefixes: Vec<String>,
    /// AS numbers of those prefixes.
    pub source_asns: Vec<u32>,
    /// Destination ports attacked or probed (for port scans, the first and last).
    pub ports: Vec<u16>,
    /// IP protocol.
    pub proto: u8,
    /// Kind-specific facts (rates, periods, sizes).
    pub details: serde_json::Map<String, serde_json::Value>,
}

/// A running anomaly of any kind.
#[derive(Debug, Clone)]
pub enum Injector {
    /// See [`syn_flood`].
    SynFlood(syn_flood::SynFlood),
    /// See [`udp_amplification`].
    UdpAmplification(udp_amplification::UdpAmplification),
    /// See [`port_scan`].
    PortScan(port_scan::PortScan),
    /// See [`host_sweep`].
    HostSweep(host_sweep::HostSweep),
    /// See [`exfiltration`].
    Exfiltration(exfiltration::Exfiltration),
    /// See [`beaconing`].
    Beaconing(beaconing::Beaconing),
    /// See [`speed_test`].
    SpeedTest(speed_test::SpeedTest),
    /// See [`backup`].
    Backup(backup::Backup),
    /// See [`bulk_download`].
    BulkDownload(bulk_download::BulkDownload),
    /// See [`new_service`].
    NewService(new_service::NewService),
    /// See [`outage`]: `export_outage` and `link_failure`.
    Outage(outage::Outage),
}

/// What every kind shares: window, exporter, random stream.
#[derive(Debug, Clone)]
pub struct Common {
    /// The resolved plan.
    pub plan: AnomalyPlan,
    /// The anomaly's own random stream.
    pub rng: Rng,
}

impl Common {
    /// The part of `[t0, t1)` inside the window, if any.
    #[inline]
    pub fn overlap(&self, t0: i64, t1: i64) -> Option<(i64, i64)> {
        let a = t0.max(self.plan.start_ms);
        let b = t1.min(self.plan.end_ms);
        (a < b).then_some((a, b))
    }

    /// For anomalies that scale with the background (floods, a new service): the part
    /// `(a, b)` of `[t0, t1)` inside the window and the whole flows now due there at
    /// `intensity` per background flow (`background` were made in `[t0, t1)`).
    #[inline]
    pub fn scaled_flows(
        &self,
        due: &mut Accumulator,
        (t0, t1): (i64, i64),
        background: u64,
        intensity: f64,
    ) -> Option<(i64, i64, u64)> {
        let (a, b) = self.overlap(t0, t1)?;
        let share = (b - a) as f64 / (t1 - t0).max(1) as f64;
        Some((a, b, due.take(background as f64 * share * intensity)))
    }

    /// A flow end time in `[a, b)` and a start `duration` before it, both kept
    /// inside the window.
    #[inline]
    pub fn place(&mut self, a: i64, b: i64, duration: i64) -> (i64, i64) {
        let end = self.rng.range_i64(a, (b - 1).max(a));
        let start = (end - duration.max(0)).max(self.plan.start_ms);
        (start, end)
    }
}

impl Injector {
    /// Sets up the anomaly of `plan`, reserving its actors' address space in `net`.
    pub fn new(plan: &AnomalyPlan, net: &mut Network, seed: u64, index: usize) -> Result<Injector, SimError> {
        let common = Common { plan: plan.clone(), rng: Rng::stream(seed, "anomaly", index as u64) };
        Ok(match plan.spec.kind {
            AnomalyKind::SynFlood => Injector::SynFlood(syn_flood::SynFlood::new(common, net)?),
            AnomalyKind::UdpAmplification => {
                Injector::UdpAmplification(udp_amplification::UdpAmplification::new(common, net)?)
            }
            AnomalyKind::PortScan => Injector::PortScan(port_scan::PortScan::new(common, net)?),
            AnomalyKind::HostSweep => Injector::HostSweep(host_sweep::HostSweep::new(common, net)?),
            AnomalyKind::Exfiltration => {
                Injector::Exfiltration(exfiltration::Exfiltration::new(common, net)?)
            }
            AnomalyKind::Beaconing => Injector::Beaconing(beaconing::Beaconing::new(common, net)?),
            AnomalyKind::SpeedTest => Injector::SpeedTest(speed_test::SpeedTest::new(common, net)?),
            AnomalyKind::Backup => Injector::Backup(backup::Backup::new(common, net)?),
            AnomalyKind::BulkDownload => {
                Injector::BulkDownload(bulk_download::BulkDownload::new(common, net)?)
            }
            AnomalyKind::NewService => Injector::NewService(new_service::NewService::new(common, net)?),
            AnomalyKind::ExportOutage | AnomalyKind::LinkFailure => {
                Injector::Outage(outage::Outage::new(common))
            }
        })
    }

    /// The shared part.
    pub fn common(&self) -> &Common {
        match self {
            Injector::SynFlood(a) => &a.common,
            Injector::UdpAmplification(a) => &a.common,
            Injector::PortScan(a) => &a.common,
            Injector::HostSweep(a) => &a.common,
            Injector::Exfiltration(a) => &a.common,
            Injector::Beaconing(a) => &a.common,
            Injector::SpeedTest(a) => &a.common,
            Injector::Backup(a) => &a.common,
            Injector::BulkDownload(a) => &a.common,
            Injector::NewService(a) => &a.common,
            Injector::Outage(a) => &a.common,
        }
    }

    /// Appends the anomaly's flows whose end lies in the simulated interval
    /// `[t0, t1)`, during which `background` background flows were generated.
    pub fn emit(
        &mut self,
        t0: i64,
        t1: i64,
        background: u64,
        site: &Site,
        template: &FlowRecord,
        out: &mut Vec<FlowRecord>,
    ) {
        if self.common().overlap(t0, t1).is_none() {
            return;
        }
        match self {
            Injector::SynFlood(a) => a.emit(t0, t1, background, site, template, out),
            Injector::UdpAmplification(a) => a.emit(t0, t1, background, site, template, out),
            Injector::PortScan(a) => a.emit(t0, t1, site, template, out),
            Injector::HostSweep(a) => a.emit(t0, t1, site, template, out),
            Injector::Exfiltration(a) => a.emit(t0, t1, site, template, out),
            Injector::Beaconing(a) => a.emit(t0, t1, site, template, out),
            Injector::SpeedTest(a) => a.emit(t0, t1, site, template, out),
            Injector::Backup(a) => a.emit(t0, t1, site, template, out),
            Injector::BulkDownload(a) => a.emit(t0, t1, site, template, out),
            Injector::NewService(a) => a.emit(t0, t1, background, site, template, out),
            // It changes the background instead ([`Injector::outage`]).
            Injector::Outage(_) => {}
        }
    }

    /// Who and what is involved.
    pub fn involved(&self) -> Involved {
        match self {
            Injector::SynFlood(a) => a.involved(),
            Injector::UdpAmplification(a) => a.involved(),
            Injector::PortScan(a) => a.involved(),
            Injector::HostSweep(a) => a.involved(),
            Injector::Exfiltration(a) => a.involved(),
            Injector::Beaconing(a) => a.involved(),
            Injector::SpeedTest(a) => a.involved(),
            Injector::Backup(a) => a.involved(),
            Injector::BulkDownload(a) => a.involved(),
            Injector::NewService(a) => a.involved(),
            Injector::Outage(a) => a.involved(),
        }
    }

    /// The running export outage or link failure, if this is one.
    pub fn outage(&mut self) -> Option<&mut outage::Outage> {
        match self {
            Injector::Outage(o) => Some(o),
            _ => None,
        }
    }
}

/// An external actor host at `ip` inside the held-back `block`.
pub fn actor(block: &ReservedBlock, ip: Ipv4Addr) -> Endpoint {
    Endpoint::External(Host {
        v4: ip,
        v6: None,
        asn: block.asn,
        mask4: block.prefix.len(),
        mask6: 0,
        // Uplink choice: by block, like any external AS.
        group: u32::from(ip) >> 16,
    })
}

/// A random address inside `block` (never its first or last).
pub fn random_in(block: &ReservedBlock, rng: &mut Rng) -> Ipv4Addr {
    match block.prefix.nth(u128::from(1 + rng.below(block.prefix.size().saturating_sub(2) as u64))) {
        IpAddr::V4(a) => a,
        IpAddr::V6(_) => Ipv4Addr::UNSPECIFIED,
    }
}

/// An internal host chosen among the `top` most active/popular (victims of floods
/// are busy servers; insiders are ordinary hosts).
pub fn internal_host(net: &Network, rng: &mut Rng, servers: bool, top: usize) -> Host {
    let pick = if servers {
        net.servers.get(rng.index(net.servers.len().min(top).max(1))).and_then(|i| net.internal.get(*i))
    } else {
        net.internal.get(rng.index(net.internal.len().min(top).max(1)))
    };
    pick.copied().unwrap_or(Host {
        v4: Ipv4Addr::new(10, 0, 0, 10),
        v6: None,
        asn: net.local_as,
        mask4: 24,
        mask6: 64,
        group: 0,
    })
}

/// An ordinary internal host: not among the busiest 50 (insiders, speed testers,
/// the host whose service becomes popular).
pub fn ordinary_host(net: &Network, rng: &mut Rng) -> Host {
    let n = net.internal.len();
    let i = if n > 60 { 50 + rng.index(n - 50) } else { rng.index(n.max(1)) };
    net.internal.get(i).copied().unwrap_or_else(|| internal_host(net, rng, false, 1))
}

/// Fractional accumulator: turns an expected count into whole flows without drift.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Accumulator(f64);

impl Accumulator {
    /// Adds `expected` and returns the whole flows now due.
    #[inline]
    pub fn take(&mut self, expected: f64) -> u64 {
        self.0 += expected.max(0.0);
        // Negative while flows made ahead of time (`owe`) are still being paid back.
        let n = self.0.floor().max(0.0);
        self.0 -= n;
        n as u64
    }

    /// Records `made` flows produced beyond what was due, so the next `take`s
    /// return that many fewer: a connection's two directions are never split to
    /// hit a count exactly, and the rate still holds over time.
    #[inline]
    pub fn owe(&mut self, made: u64) {
        self.0 -= made as f64;
    }
}
