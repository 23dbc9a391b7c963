//! The end-of-run summary: per exporter and in total, what was sent, in the terms
//! a collector counts.
//!
//! NetFlow v5/v9 and IPFIX: flows = flow records, bytes and packets = their octet
//! and packet counters as exported (not multiplied by the sampling rate).
//! sFlow v5: flows = flow samples, bytes = the sampled frames' lengths (Ethernet
//! header, VLAN tag and FCS included), packets = 1 per sample; that is what
//! sfacctd (without renormalization) and FlowVision's decoder add up.

use crate::anomaly::labels::Label;
use crate::exporter::Exporter;
use crate::output::udp::{PacingReport, TargetStats};
use flowvision_codec::{format_rfc3339_ms, Protocol};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

/// What one exporter sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExporterRow {
    /// Index.
    pub index: usize,
    /// Protocol.
    pub protocol: Protocol,
    /// Source address (sFlow agent address).
    pub address: IpAddr,
    /// Observation domains.
    pub domains: Vec<u32>,
    /// Sampling rate (1 in N).
    pub sampling_rate: u32,
    /// Datagrams.
    pub datagrams: u64,
    /// Datagrams with templates.
    pub template_datagrams: u64,
    /// Flows (sFlow: samples).
    pub flows: u64,
    /// Bytes (sFlow: sampled frame bytes).
    pub bytes: u64,
    /// Packets (sFlow: samples).
    pub packets: u64,
    /// IPv6 flows.
    pub ipv6_flows: u64,
    /// UDP payload bytes.
    pub payload_bytes: u64,
    /// Restarts.
    pub restarts: u64,
    /// Flows the protocol could not carry.
    pub skipped: u64,
    /// Flows the packet sampler drew no packet of (`sample_packets`).
    #[serde(skip_serializing_if = "is_zero")]
    pub not_sampled: u64,
    /// sFlow samples due while an export outage silenced the exporter, not sent.
    #[serde(skip_serializing_if = "is_zero")]
    pub samples_lost: u64,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

/// Sums over several exporters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    /// Exporters.
    pub exporters: u64,
    /// Datagrams.
    pub datagrams: u64,
    /// Flows.
    pub flows: u64,
    /// Bytes.
    pub bytes: u64,
    /// Packets.
    pub packets: u64,
}

impl Totals {
    fn add(&mut self, r: &ExporterRow) {
        self.exporters += 1;
        self.datagrams += r.datagrams;
        self.flows += r.flows;
        self.bytes += r.bytes;
        self.packets += r.packets;
    }
}

/// UDP delivery.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UdpReport {
    /// Per target.
    pub targets: Vec<TargetStats>,
    /// Pacing accuracy.
    pub pacing: PacingReport,
    /// Flows per wall-clock second actually sent (per target).
    pub flows_per_s: f64,
    /// Exporters that sent from a kernel-chosen address.
    pub unbound_exporters: Vec<usize>,
}

/// Anomaly totals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AnomalyRow {
    /// Kind.
    pub kind: String,
    /// Exporter index.
    pub exporter: usize,
    /// Flows.
    pub flows: u64,
    /// Bytes.
    pub bytes: u64,
    /// Packets.
    pub packets: u64,
}

/// The whole summary.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Seed of the run.
    pub seed: u64,
    /// Simulated start (RFC 3339).
    pub sim_start: String,
    /// Simulated end.
    pub sim_end: String,
    /// Simulated seconds per wall second.
    pub speedup: f64,
    /// Virtual (scheduled) seconds of the run.
    pub virtual_seconds: f64,
    /// Per exporter.
    pub exporters: Vec<ExporterRow>,
    /// By protocol name.
    pub protocols: BTreeMap<&'static str, Totals>,
    /// Everything.
    pub totals: Totals,
    /// Anomalies.
    pub anomalies: Vec<AnomalyRow>,
    /// UDP delivery, when sending.
    pub udp: Option<UdpReport>,
    /// pcap frames written, when writing one.
    pub pcap_frames: Option<u64>,
    /// Wall-clock seconds of the run.
    pub wall_seconds: f64,
    /// Whether the run was cancelled before its plan's end (everything above is what
    /// was sent until then).
    pub cancelled: bool,
}

impl Summary {
    /// Builds the summary of a finished run.
    pub fn new(
        seed: u64,
        sim: (i64, i64, f64, f64),
        exporters: &[Exporter],
        labels: &[Label],
        udp: Option<UdpReport>,
        pcap_frames: Option<u64>,
        wall_seconds: f64,
    ) -> Summary {
        let rows: Vec<ExporterRow> = exporters
            .iter()
            .map(|e| ExporterRow {
                index: e.plan.index,
                protocol: e.plan.protocol,
                address: e.plan.address,
                domains: e.plan.domains.clone(),
                sampling_rate: e.plan.sampling_rate,
                datagrams: e.stats.datagrams,
                template_datagrams: e.stats.template_datagrams,
                flows: e.stats.flows,
                bytes: e.stats.bytes,
                packets: e.stats.packets,
                ipv6_flows: e.stats.ipv6_flows,
                payload_bytes: e.stats.payload_bytes,
                restarts: e.stats.restarts,
                skipped: e.stats.skipped,
                not_sampled: e.stats.not_sampled,
                samples_lost: e.stats.samples_lost,
            })
            .collect();
        let mut protocols: BTreeMap<&'static str, Totals> = BTreeMap::new();
        let mut totals = Totals::default();
        for r in &rows {
            protocols.entry(r.protocol.as_str()).or_default().add(r);
            totals.add(r);
        }
        Summary {
            seed,
            sim_start: format_rfc3339_ms(sim.0),
            sim_end: format_rfc3339_ms(sim.1),
            speedup: sim.2,
            virtual_seconds: sim.3,
            exporters: rows,
            protocols,
            totals,
            anomalies: labels
                .iter()
                .map(|l| AnomalyRow {
                    kind: l.kind.as_str().into(),
                    exporter: l.exporter_index,
                    flows: l.flows,
                    bytes: l.bytes,
                    packets: l.packets,
                })
                .collect(),
            udp,
            pcap_frames,
            wall_seconds,
            cancelled: false,
        }
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "flowvision-sim summary (seed {})", self.seed)?;
        if self.cancelled {
            writeln!(f, "  cancelled before the end of the plan: the figures are what was sent until then")?;
        }
        writeln!(
            f,
            "  simulated {} .. {} (speedup {}), {:.3} s scheduled, {:.3} s wall",
            self.sim_start, self.sim_end, self.speedup, self.virtual_seconds, self.wall_seconds
        )?;
        writeln!(
            f,
            "  {:>3} {:<11} {:<16} {:>6} {:>10} {:>6} {:>12} {:>16} {:>14} {:>4}",
            "#", "protocol", "exporter", "rate", "datagrams", "tmpl", "flows", "bytes", "packets", "rst"
        )?;
        for r in &self.exporters {
            writeln!(
                f,
                "  {:>3} {:<11} {:<16} {:>6} {:>10} {:>6} {:>12} {:>16} {:>14} {:>4}",
                r.index,
                r.protocol.as_str(),
                r.address.to_string(),
                r.sampling_rate,
                r.datagrams,
                r.template_datagrams,
                r.flows,
                r.bytes,
                r.packets,
                r.restarts
            )?;
        }
        for (name, t) in &self.protocols {
            writeln!(
                f,
                "  {:>3} {:<11} {:<16} {:>6} {:>10} {:>6} {:>12} {:>16} {:>14}",
                "",
                name,
                format!("{} exporters", t.exporters),
                "",
                t.datagrams,
                "",
                t.flows,
                t.bytes,
                t.packets
            )?;
        }
        let t = &self.totals;
        writeln!(
            f,
            "  {:>3} {:<11} {:<16} {:>6} {:>10} {:>6} {:>12} {:>16} {:>14}",
            "", "total", "", "", t.datagrams, "", t.flows, t.bytes, t.packets
        )?;
        writeln!(
            f,
            "  units: NetFlow/IPFIX flows = records, bytes/packets as exported (not scaled by the sampling rate);"
        )?;
        writeln!(f, "         sFlow flows = flow samples, bytes = sampled frame lengths (L2 + FCS), packets = samples")?;
        let skipped: u64 = self.exporters.iter().map(|r| r.skipped).sum();
        if skipped > 0 {
            writeln!(f, "  flows not sent (protocol cannot carry them): {skipped}")?;
        }
        let not_sampled: u64 = self.exporters.iter().map(|r| r.not_sampled).sum();
        if not_sampled > 0 {
            writeln!(f, "  flows not sent (no packet sampled, sample_packets): {not_sampled}")?;
        }
        let samples_lost: u64 = self.exporters.iter().map(|r| r.samples_lost).sum();
        if samples_lost > 0 {
            writeln!(f, "  sFlow samples not sent (due during an export outage): {samples_lost}")?;
        }
        for a in &self.anomalies {
            writeln!(
                f,
                "  anomaly {:<18} exporter {:>3}: {} flows, {} bytes, {} packets",
                a.kind, a.exporter, a.flows, a.bytes, a.packets
            )?;
        }
        if let Some(u) = &self.udp {
            for t in &u.targets {
                let target = t.target.map(|t| t.to_string()).unwrap_or_default();
                if t.failed_datagrams == 0 {
                    writeln!(f, "  udp {target}: all {} datagrams ({} flows) sent", t.datagrams, t.flows)?;
                } else {
                    writeln!(
                        f,
                        "  udp {target}: {} datagrams ({} flows) sent, {} datagrams ({} flows) FAILED: {}",
                        t.datagrams,
                        t.flows,
                        t.failed_datagrams,
                        t.failed_flows,
                        t.last_error.as_deref().unwrap_or("")
                    )?;
                }
            }
            let p = &u.pacing;
            writeln!(
                f,
                "  udp rate {:.0} flows/s over {:.3} s ({}); lateness us p50 {} p90 {} p99 {} p99.9 {} max {}",
                u.flows_per_s,
                p.elapsed_s,
                if p.paced { "paced" } else { "unpaced" },
                p.lateness_us[0],
                p.lateness_us[1],
                p.lateness_us[2],
                p.lateness_us[3],
                p.lateness_us[4]
            )?;
            if !u.unbound_exporters.is_empty() {
                writeln!(
                    f,
                    "  note: {} exporters sent from a kernel-chosen address (targets not loopback)",
                    u.unbound_exporters.len()
                )?;
            }
        }
        if let Some(n) = self.pcap_frames {
            writeln!(f, "  pcap: {n} frames written")?;
        }
        Ok(())
    }
}
