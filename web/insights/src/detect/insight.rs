//! What a detector reports.

use serde::Serialize;
use std::net::IpAddr;

/// The kind of an insight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// TCP handshakes opened at a victim and never completed.
    SynFlood,
    /// UDP packets at a victim, not from reflector ports.
    UdpFlood,
    /// ICMP packets at a victim.
    IcmpFlood,
    /// UDP from many reflectors' service ports at a victim.
    UdpAmplification,
    /// One source probing many ports.
    PortScan,
    /// One source probing many hosts on few ports, mostly unanswered.
    HostSweep,
    /// An internal host sending a large volume out of the network, far more than it
    /// receives.
    Exfiltration,
    /// An internal host contacting one outside service at a regular interval.
    Beaconing,
    /// An exporter's volume outside its seasonal band, up or down.
    TrafficAnomaly,
    /// A host's minute unlike the appliance's history (the host anomaly model).
    HostAnomaly,
}

impl Kind {
    /// The name used in the API and in `rule:NAME`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::SynFlood => "syn_flood",
            Kind::UdpFlood => "udp_flood",
            Kind::IcmpFlood => "icmp_flood",
            Kind::UdpAmplification => "udp_amplification",
            Kind::PortScan => "port_scan",
            Kind::HostSweep => "host_sweep",
            Kind::Exfiltration => "exfiltration",
            Kind::Beaconing => "beaconing",
            Kind::TrafficAnomaly => "traffic_anomaly",
            Kind::HostAnomaly => "host_anomaly",
        }
    }
}

/// How bad an insight is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Over its threshold.
    Medium,
    /// Three times over.
    High,
    /// Ten times over.
    Critical,
}

/// One observed value against what it was compared with.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Observation {
    /// What was measured (e.g. `syn_packets_per_s`).
    pub feature: &'static str,
    /// The value in the window.
    pub value: f64,
    /// The threshold it crossed (a floor) or stayed under (a ceiling).
    pub threshold: f64,
}

/// Why an insight fired.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Why {
    /// One sentence for the console.
    pub summary: String,
    /// Every condition of the rule, with its value.
    pub observed: Vec<Observation>,
}

/// A detection: a kind, who, when, how sure and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Insight {
    /// What happened.
    pub kind: Kind,
    /// How bad.
    pub severity: Severity,
    /// 0.5 at the threshold, up to 1.
    pub score: f64,
    /// Window start, Unix ms (flow time).
    pub start_ms: i64,
    /// Window end, Unix ms (exclusive).
    pub end_ms: i64,
    /// The exporter that saw it.
    pub exporter: IpAddr,
    /// The exporter's interface (ifIndex) it is about, when one (`traffic_anomaly` of
    /// an interface).
    pub interface: Option<u32>,
    /// The attacking or scanning host, when it is one address.
    pub source: Option<IpAddr>,
    /// The victim, when it is one address.
    pub target: Option<IpAddr>,
    /// `rule:NAME`.
    pub detector: String,
    /// The evidence.
    pub why: Why,
}

/// How long a quiet gap may be before the same detection counts as a new insight, ms.
pub const CONTINUATION_GAP_MS: i64 = 60_000;

impl Insight {
    /// Whether `later` is the same detection going on: same kind, exporter, interface,
    /// source and target, starting no later than [`CONTINUATION_GAP_MS`] after this one ends.
    pub fn is_continued_by(&self, later: &Insight) -> bool {
        self.kind == later.kind
            && self.exporter == later.exporter
            && self.interface == later.interface
            && self.source == later.source
            && self.target == later.target
            && later.start_ms <= self.end_ms + CONTINUATION_GAP_MS
            && later.end_ms >= self.start_ms
    }

    /// Extends this insight with a later window of the same detection: the span
    /// grows, the score and severity keep their maximum, and the evidence is the
    /// strongest window's.
    pub fn extend(&mut self, later: &Insight) {
        self.start_ms = self.start_ms.min(later.start_ms);
        self.end_ms = self.end_ms.max(later.end_ms);
        self.severity = self.severity.max(later.severity);
        if later.score > self.score {
            self.score = later.score;
            self.why = later.why.clone();
        }
    }
}

/// Folds detections into insights the way the live engine stores them: each new one
/// extends the open insight it continues, or opens another.
#[derive(Debug, Default)]
pub struct Timeline {
    insights: Vec<Insight>,
}

impl Timeline {
    /// Adds a detection.
    pub fn absorb(&mut self, i: Insight) {
        match self.insights.iter_mut().rev().find(|o| o.is_continued_by(&i)) {
            Some(open) => open.extend(&i),
            None => self.insights.push(i),
        }
    }

    /// The insights, in order of start.
    pub fn into_insights(mut self) -> Vec<Insight> {
        self.insights.sort_by(|a, b| a.start_ms.cmp(&b.start_ms).then(a.kind.cmp(&b.kind)));
        self.insights
    }
}
