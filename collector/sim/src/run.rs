//! One complete run: simulation, outputs, labels, summary, and the progress it
//! publishes on the way. [`run`] runs on the caller's thread; [`crate::handle::start`]
//! runs the same code on a thread of its own, observable and cancellable.

use crate::anomaly::labels::{write_labels, Label};
use crate::error::SimError;
use crate::handle::Control;
use crate::output::pcap::PcapOutput;
use crate::output::records::RecordsOutput;
use crate::output::udp::UdpSender;
use crate::output::Outputs;
use crate::scenario::Plan;
use crate::simulation::Simulation;
use crate::summary::{Summary, UdpReport};
use serde::Serialize;
use std::fs::File;
use std::io::BufWriter;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// How often a run publishes its progress: often enough for a console's refresh,
/// rarely enough that the lateness percentiles (a walk over the histogram) cost
/// nothing next to the sending.
const PUBLISH_EVERY: Duration = Duration::from_millis(50);

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

/// What a finished (or cancelled) run sent: its summary and the ground truth of
/// the anomalies it injected.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The end-of-run summary (`cancelled` says whether the plan ran to its end).
    pub summary: Summary,
    /// The anomalies that began before the run ended.
    pub labels: Vec<Label>,
}

/// Where a run stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    /// Built, not sending yet.
    #[default]
    Starting,
    /// Sending.
    Running,
    /// The plan ran to its end; outputs flushed, labels written.
    Finished,
    /// Cancelled; what was generated until then was sent, outputs flushed, labels written.
    Cancelled,
    /// Stopped by an error (the handle's `join` returns it).
    Failed,
}

impl RunState {
    /// Whether the run is over (finished, cancelled or failed).
    pub fn is_over(self) -> bool {
        matches!(self, RunState::Finished | RunState::Cancelled | RunState::Failed)
    }
}

/// A run's progress so far, published while it runs (at most [`PUBLISH_EVERY`] old)
/// and once more when it ends.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Progress {
    /// Where the run stands.
    pub state: RunState,
    /// Flows generated and handed to the outputs (sFlow: flow samples).
    pub flows: u64,
    /// Datagrams handed to the outputs.
    pub datagrams: u64,
    /// Flows the first UDP target's socket accepted, when sending.
    pub flows_sent: Option<u64>,
    /// Flows per wall-clock second achieved so far (UDP: as sent to the first target).
    pub flows_per_s: f64,
    /// Wall-clock seconds since the run started.
    pub wall_seconds: f64,
    /// Virtual (scheduled) seconds reached.
    pub virtual_seconds: f64,
    /// Simulated time reached, Unix milliseconds.
    pub sim_time_ms: i64,
    /// The plan's flow budget, if it has one.
    pub planned_flows: Option<u64>,
    /// The plan's virtual length in seconds, if it has one.
    pub planned_virtual_seconds: Option<f64>,
    /// How late paced datagrams left, microseconds: p50, p90, p99, p99.9, max
    /// (when sending paced UDP).
    pub lateness_us: Option<[u64; 5]>,
    /// Ground truth of the anomalies begun so far (windows cut at the time reached).
    pub labels: Vec<Label>,
}

/// Runs `plan` to the end on this thread.
pub fn run(plan: Plan, options: &RunOptions) -> Result<Outcome, SimError> {
    Run::prepare(plan, options)?.execute(&Control::default())
}

/// A run with its outputs open, ready to send.
#[derive(Debug)]
pub(crate) struct Run {
    sim: Simulation,
    outputs: Outputs,
    labels_path: Option<PathBuf>,
    /// When the run was prepared: the summary's wall time includes building the network.
    wall: Instant,
}

impl Run {
    /// Builds the simulation and opens every output (errors here are the caller's:
    /// bad plan, unwritable file, address that cannot be bound).
    pub(crate) fn prepare(plan: Plan, options: &RunOptions) -> Result<Run, SimError> {
        let wall = Instant::now();
        let sim = Simulation::new(plan)?;
        let mut outputs = Outputs::default();
        if let Some(p) = &options.pcap {
            outputs.pcap = Some(PcapOutput::create(p, options.targets.first().copied())?);
        }
        if let Some(p) = &options.records {
            outputs.records = Some(RecordsOutput::create(p)?);
        }
        if !options.targets.is_empty() {
            let addrs: Vec<_> = sim.exporters().iter().map(|e| e.plan.address).collect();
            outputs.udp = Some(UdpSender::new(&addrs, options.targets.clone(), options.paced)?);
        }
        Ok(Run { sim, outputs, labels_path: options.labels.clone(), wall })
    }

    /// Sends until the plan's end or `control`'s cancellation, then flushes every
    /// output and writes the labels.
    pub(crate) fn execute(mut self, control: &Control) -> Result<Outcome, SimError> {
        if let Some(udp) = &mut self.outputs.udp {
            udp.cancel_on(control.cancel_flag());
            udp.start_now();
        }
        control.publish(self.progress(RunState::Running));
        let mut published = Instant::now();
        while !control.is_cancelled() && self.sim.step(&mut self.outputs)? {
            if published.elapsed() >= PUBLISH_EVERY {
                control.publish(self.progress(RunState::Running));
                published = Instant::now();
            }
        }
        // Stopped before the plan's end: the open datagrams still go out, so that
        // the summary, the outputs and the labels agree on what was sent.
        let cancelled = !self.sim.is_finished();
        self.sim.finish(&mut self.outputs)?;
        self.outputs.finish()?;
        let labels = self.sim.labels();
        if let Some(p) = &self.labels_path {
            let what = format!("labels {}", p.display());
            let file = File::create(p).map_err(|source| SimError::Write { what: what.clone(), source })?;
            write_labels(&mut BufWriter::new(file), &labels)
                .map_err(|source| SimError::Write { what, source })?;
        }
        let mut summary = self.summary(&labels);
        summary.cancelled = cancelled;
        control.publish(self.progress(if cancelled { RunState::Cancelled } else { RunState::Finished }));
        Ok(Outcome { summary, labels })
    }

    fn progress(&self, state: RunState) -> Progress {
        let plan = self.sim.plan();
        let vt = self.sim.virtual_time_ns();
        let flows = self.sim.flows();
        let wall_seconds = self.wall.elapsed().as_secs_f64();
        let udp = self.outputs.udp.as_ref();
        let flows_sent = udp.map(|u| u.stats.first().map_or(0, |t| t.flows));
        let report = udp.map(UdpSender::report);
        let flows_per_s = match (flows_sent, &report) {
            (Some(sent), Some(r)) if r.elapsed_s > 0.0 => sent as f64 / r.elapsed_s,
            (None, _) if wall_seconds > 0.0 => flows as f64 / wall_seconds,
            _ => 0.0,
        };
        Progress {
            state,
            flows,
            datagrams: self.sim.exporters().iter().map(|e| e.stats.datagrams).sum(),
            flows_sent,
            flows_per_s,
            wall_seconds,
            virtual_seconds: vt as f64 / 1e9,
            sim_time_ms: plan.clock.sim_ms(vt),
            planned_flows: plan.count,
            planned_virtual_seconds: plan.duration_ns.map(|d| d as f64 / 1e9),
            lateness_us: report.filter(|r| r.paced && r.samples > 0).map(|r| r.lateness_us),
            labels: self.sim.labels(),
        }
    }

    fn summary(&self, labels: &[Label]) -> Summary {
        let udp = self.outputs.udp.as_ref().map(|u| {
            let pacing = u.report();
            let flows = u.stats.first().map_or(0, |t| t.flows);
            UdpReport {
                flows_per_s: if pacing.elapsed_s > 0.0 { flows as f64 / pacing.elapsed_s } else { 0.0 },
                targets: u.stats.clone(),
                pacing,
                unbound_exporters: u.unbound_exporters.clone(),
            }
        });
        let plan = self.sim.plan();
        let clock = plan.clock;
        let vt = self.sim.virtual_time_ns();
        Summary::new(
            plan.seed,
            (clock.start_ms, clock.sim_ms(vt), clock.speedup, vt as f64 / 1e9),
            self.sim.exporters(),
            labels,
            udp,
            self.outputs.pcap.as_ref().map(|p| p.frames),
            self.wall.elapsed().as_secs_f64(),
        )
    }
}
