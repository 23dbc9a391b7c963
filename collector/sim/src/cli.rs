//! The `flowvision-sim` command line: a scenario file plus flags that override it.

use crate::anomaly::AnomalyKind;
use crate::clock;
use crate::error::SimError;
use crate::run::RunOptions;
use crate::scenario::{AnomalySpec, Scenario};
use clap::Parser;
use flowvision_codec::Protocol;
use std::net::ToSocketAddrs;
use std::path::PathBuf;

const AFTER_HELP: &str = "\
Examples:
  flowvision-sim --target 127.0.0.1:2055 --rate 20000 --duration 30s
  flowvision-sim --protocol ipfix,sflow_v5 --exporters 40 --count 1000000 --pcap run.pcap --seed 7
  flowvision-sim --scenario day.toml --speedup 3600 --anomaly syn_flood@2h+10m --labels labels.jsonl \\
                 --target 127.0.0.1:2055 --target 127.0.0.1:9995

Time: flows carry simulated time, which starts at --start (default now) and runs --speedup
times faster than the wall clock; the diurnal curve and anomaly windows are in simulated time
(--duration is wall-clock time). UDP datagrams leave at their scheduled wall-clock times;
pcap frames carry their simulated times. Each exporter sends from its own address
(127.1.0.1, 127.1.0.2, ... by default: all of 127.0.0.0/8 is loopback on Linux).

Summary units: NetFlow/IPFIX flows are records with their counters as exported (not scaled
by the sampling rate); sFlow flows are flow samples, bytes the sampled frame lengths, one
packet per sample.

Exit status: 0 on success (datagrams the kernel refused are reported), 1 on errors, 2 on
bad usage.";

/// Realistic NetFlow v5/v9, IPFIX and sFlow v5 traffic from many exporters, with
/// labelled anomalies, sent over UDP or written to a pcap file.
#[derive(Debug, Clone, Parser)]
#[command(name = "flowvision-sim", version, after_help = AFTER_HELP)]
pub struct Cli {
    /// Scenario file (TOML); flags override it.
    #[arg(long, value_name = "FILE")]
    pub scenario: Option<PathBuf>,
    /// Protocols of the exporters, cycled over them: netflow_v5, netflow_v9, ipfix,
    /// sflow_v5 (comma separated or repeated).
    #[arg(long, value_name = "NAME", value_delimiter = ',', value_parser = parse_protocol)]
    pub protocol: Vec<Protocol>,
    /// Number of exporters (replaces the scenario's exporter groups).
    #[arg(long, value_name = "N")]
    pub exporters: Option<usize>,
    /// Background flows per second at the diurnal peak.
    #[arg(long, value_name = "FLOWS_PER_S")]
    pub rate: Option<f64>,
    /// Stop after this many flows.
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
    /// Stop after this much wall-clock time (e.g. 30s, 5m).
    #[arg(long, value_name = "DURATION")]
    pub duration: Option<String>,
    /// Send to this collector (repeatable: each target gets every datagram).
    #[arg(long, value_name = "HOST:PORT")]
    pub target: Vec<String>,
    /// Write the datagrams to this pcap file.
    #[arg(long, value_name = "FILE")]
    pub pcap: Option<PathBuf>,
    /// Write the anomalies' ground truth here (JSON Lines).
    #[arg(long, value_name = "FILE")]
    pub labels: Option<PathBuf>,
    /// Write every record sent here (JSON Lines, `flowvision-collector decode` format).
    #[arg(long, value_name = "FILE")]
    pub records: Option<PathBuf>,
    /// PRNG seed: the same seed, scenario and --start give the same datagrams.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Simulated start time: now, RFC 3339, or Unix milliseconds.
    #[arg(long, value_name = "TIME")]
    pub start: Option<String>,
    /// Simulated seconds per wall-clock second.
    #[arg(long, value_name = "X")]
    pub speedup: Option<f64>,
    /// Inject an anomaly: KIND[@START[+DURATION]] in simulated time from the start,
    /// KIND one of syn_flood, udp_amplification, port_scan, host_sweep,
    /// exfiltration, beaconing (repeatable).
    #[arg(long, value_name = "SPEC", value_parser = parse_anomaly)]
    pub anomaly: Vec<AnomalySpec>,
    /// Send UDP as fast as possible instead of at the scheduled times.
    #[arg(long)]
    pub no_pacing: bool,
    /// Write the summary as JSON here.
    #[arg(long, value_name = "FILE")]
    pub summary_json: Option<PathBuf>,
    /// Print the effective scenario (TOML) and exit.
    #[arg(long)]
    pub print_scenario: bool,
    /// Print nothing but errors.
    #[arg(long, short)]
    pub quiet: bool,
}

fn parse_protocol(s: &str) -> Result<Protocol, String> {
    Protocol::from_name(s.trim())
        .ok_or_else(|| format!("unknown protocol {s:?}: netflow_v5, netflow_v9, ipfix or sflow_v5"))
}

/// Parses `KIND[@START[+DURATION]]`.
pub fn parse_anomaly(s: &str) -> Result<AnomalySpec, String> {
    let (kind, window) = s.split_once('@').map_or((s, None), |(k, w)| (k, Some(w)));
    let kind = AnomalyKind::from_name(kind.trim()).ok_or_else(|| {
        let names: Vec<&str> = AnomalyKind::ALL.iter().map(|k| k.as_str()).collect();
        format!("unknown anomaly {kind:?}: one of {}", names.join(", "))
    })?;
    let mut spec = AnomalySpec::new(kind);
    if let Some(w) = window {
        let (start, duration) = w.split_once('+').map_or((w, None), |(a, b)| (a, Some(b)));
        clock::parse_duration_ns(start).map_err(|e| e.to_string())?;
        spec.start = Some(start.trim().to_owned());
        if let Some(d) = duration {
            clock::parse_duration_ns(d).map_err(|e| e.to_string())?;
            spec.duration = Some(d.trim().to_owned());
        }
    }
    Ok(spec)
}

impl Cli {
    /// The scenario file (or the defaults) with the flags applied.
    pub fn scenario(&self) -> Result<Scenario, SimError> {
        let mut s = match &self.scenario {
            Some(p) => Scenario::load(p)?,
            None => Scenario::default(),
        };
        if let Some(n) = self.exporters {
            s.set_exporters(n, &self.protocol);
        } else {
            s.set_protocols(&self.protocol);
        }
        if let Some(r) = self.rate {
            s.rate = r;
        }
        if self.count.is_some() || self.duration.is_some() {
            s.count = self.count;
            s.duration = self.duration.clone();
        }
        if self.seed.is_some() {
            s.seed = self.seed;
        }
        if let Some(t) = &self.start {
            s.start = t.clone();
        }
        if let Some(x) = self.speedup {
            s.speedup = x;
        }
        s.anomalies.extend(self.anomaly.iter().cloned());
        Ok(s)
    }

    /// Outputs from the flags.
    pub fn run_options(&self) -> Result<RunOptions, SimError> {
        let mut targets = Vec::new();
        for t in &self.target {
            let addr = t
                .to_socket_addrs()
                .map_err(|e| SimError::Invalid(format!("--target {t}: {e}")))?
                .next()
                .ok_or_else(|| SimError::Invalid(format!("--target {t}: no address")))?;
            targets.push(addr);
        }
        Ok(RunOptions {
            targets,
            pcap: self.pcap.clone(),
            labels: self.labels.clone(),
            records: self.records.clone(),
            paced: !self.no_pacing,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;

    #[test]
    fn flags_override_the_file() {
        let cli = Cli::parse_from([
            "flowvision-sim",
            "--protocol",
            "ipfix,sflow_v5",
            "--exporters",
            "5",
            "--rate",
            "1234",
            "--count",
            "99",
            "--seed",
            "3",
            "--anomaly",
            "port_scan@10s+5s",
            "--anomaly",
            "beaconing",
            "--target",
            "127.0.0.1:2055",
        ]);
        let s = cli.scenario().unwrap();
        assert_eq!(s.exporters.len(), 5);
        assert_eq!(s.exporters[1].protocol, Protocol::SflowV5);
        assert_eq!((s.rate, s.count, s.seed), (1234.0, Some(99), Some(3)));
        assert_eq!(s.anomalies[0].start.as_deref(), Some("10s"));
        assert_eq!(s.anomalies[0].duration.as_deref(), Some("5s"));
        assert_eq!(s.anomalies[1].kind, AnomalyKind::Beaconing);
        let o = cli.run_options().unwrap();
        assert_eq!(o.targets, vec!["127.0.0.1:2055".parse().unwrap()]);
        assert!(o.paced);
        assert!(Cli::try_parse_from(["x", "--protocol", "netflow_v8"]).is_err());
        assert!(Cli::try_parse_from(["x", "--anomaly", "ddos"]).is_err());
        assert!(Cli::try_parse_from(["x", "--anomaly", "syn_flood@soon"]).is_err());
    }
}
