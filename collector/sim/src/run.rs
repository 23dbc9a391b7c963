//! One complete run: simulation, outputs, labels, summary.

use crate::anomaly::labels::{write_labels, Label};
use crate::error::SimError;
use crate::output::pcap::PcapOutput;
use crate::output::records::RecordsOutput;
use crate::output::udp::UdpSender;
use crate::output::Outputs;
use crate::scenario::Plan;
use crate::simulation::Simulation;
use crate::summary::{Summary, UdpReport};
use std::fs::File;
use std::io::BufWriter;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Instant;

/// Where a run's output goes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunOptions {
    /// UDP targets (each gets every datagram).
    pub targets: Vec<SocketAddr>,
    /// pcap file.
    pub pcap: Option<PathBuf>,
    /// Labels file (JSON Lines).
    pub labels: Option<PathBuf>,
    /// Record account file (JSON Lines, `decode` format).
    pub records: Option<PathBuf>,
    /// Pace UDP sending (false: as fast as possible).
    pub paced: bool,
}

/// Runs `plan` to the end.
pub fn run(plan: Plan, options: &RunOptions) -> Result<(Summary, Vec<Label>), SimError> {
    let wall = Instant::now();
    let seed = plan.seed;
    let mut sim = Simulation::new(plan)?;
    let mut outputs = Outputs::default();
    if let Some(p) = &options.pcap {
        outputs.pcap = Some(PcapOutput::create(p, options.targets.first().copied())?);
    }
    if let Some(p) = &options.records {
        outputs.records = Some(RecordsOutput::create(p)?);
    }
    if !options.targets.is_empty() {
        let addrs: Vec<_> = sim.exporters().iter().map(|e| e.plan.address).collect();
        let mut udp = UdpSender::new(&addrs, options.targets.clone(), options.paced)?;
        udp.start_now();
        outputs.udp = Some(udp);
    }
    sim.run(&mut outputs)?;
    outputs.finish()?;
    let labels = sim.labels();
    if let Some(p) = &options.labels {
        let what = format!("labels {}", p.display());
        let file = File::create(p).map_err(|source| SimError::Write { what: what.clone(), source })?;
        write_labels(&mut BufWriter::new(file), &labels)
            .map_err(|source| SimError::Write { what, source })?;
    }
    let udp = outputs.udp.as_ref().map(|u| {
        let pacing = u.report();
        let flows = u.stats.first().map_or(0, |t| t.flows);
        UdpReport {
            flows_per_s: if pacing.elapsed_s > 0.0 { flows as f64 / pacing.elapsed_s } else { 0.0 },
            targets: u.stats.clone(),
            pacing,
            unbound_exporters: u.unbound_exporters.clone(),
        }
    });
    let clock = sim.plan().clock;
    let vt = sim.virtual_time_ns();
    let summary = Summary::new(
        seed,
        (clock.start_ms, clock.sim_ms(vt), clock.speedup, vt as f64 / 1e9),
        sim.exporters(),
        &labels,
        udp,
        outputs.pcap.as_ref().map(|p| p.frames),
        wall.elapsed().as_secs_f64(),
    );
    Ok((summary, labels))
}
