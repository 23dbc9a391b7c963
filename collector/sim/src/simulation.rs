//! The generator: turns a [`Plan`] into a time-ordered stream of datagrams.
//!
//! Virtual time advances in ticks (1 ms, or longer at low rates so that a tick holds
//! about 64 flows, at most 100 ms). In each tick:
//!
//! 1. exporters whose restart time has come restart;
//! 2. `rate x diurnal load x tick` background flows are due (fractions carry over,
//!    and so does the one record a tick's last connection made beyond its share);
//!    flow k of n gets the virtual time `t0 + k/n x tick` and either the next
//!    records of a long connection whose active timeout has come (from its
//!    exporter) or an exporter drawn by weight and a new connection from the
//!    traffic model (one record per direction);
//! 3. each anomaly adds its flows for the tick's simulated interval;
//! 4. open datagrams whose flush timeout has passed are sent.
//!
//! Every record goes through its exporter (conformed, packed, encoded) and each
//! datagram reaches the [`Sink`] with the records inside it. The run ends when the
//! flow budget (`count`) or the virtual duration is used up; then every open
//! datagram is sent. Everything is drawn from streams of the seed, so a seed and a
//! scenario give the same datagrams byte for byte.

use crate::anomaly::labels::Label;
use crate::anomaly::outage::Fate;
use crate::anomaly::{Accumulator, AnomalyKind, Injector};
use crate::error::SimError;
use crate::exporter::{Exporter, ExporterStats, Sink, Timeline};
use crate::rng::Rng;
use crate::scenario::Plan;
use crate::traffic::hosts::Network;
use crate::traffic::zipf::AliasTable;
use crate::traffic::TrafficModel;
use flowvision_codec::FlowRecord;

/// Shortest tick.
const MIN_TICK_NS: i64 = 1_000_000;
/// Longest tick.
const MAX_TICK_NS: i64 = 100_000_000;

/// A simulation in progress.
#[derive(Debug)]
pub struct Simulation {
    plan: Plan,
    exporters: Vec<Exporter>,
    pick: AliasTable,
    pick_rng: Rng,
    traffic: TrafficModel,
    injectors: Vec<Injector>,
    anomaly_counts: Vec<(u64, u64, u64)>,
    scratch: Vec<FlowRecord>,
    timeline: Timeline,
    tick_ns: i64,
    vt: i64,
    due: Accumulator,
    flows: u64,
    finished: bool,
}

impl Simulation {
    /// Builds the network, exporters and anomalies of `plan`.
    pub fn new(plan: Plan) -> Result<Simulation, SimError> {
        let seed = plan.seed;
        let mut net_rng = Rng::stream(seed, "network", 0);
        let mut net = Network::build(&plan.network, &mut net_rng)?;
        let injectors = plan
            .anomalies
            .iter()
            .enumerate()
            .map(|(i, a)| Injector::new(a, &mut net, seed, i))
            .collect::<Result<Vec<_>, _>>()?;
        let exporters: Vec<Exporter> =
            plan.exporters.iter().map(|e| Exporter::new(e.clone(), seed, plan.clock.speedup)).collect();
        let weights: Vec<f64> = plan.exporters.iter().map(|e| e.weight).collect();
        let tick_ns = ((64.0 / plan.rate * 1e9) as i64).clamp(MIN_TICK_NS, MAX_TICK_NS);
        Ok(Simulation {
            pick: AliasTable::new(&weights),
            pick_rng: Rng::stream(seed, "exporter-choice", 0),
            traffic: TrafficModel::new(net, Rng::stream(seed, "traffic", 0)),
            anomaly_counts: vec![(0, 0, 0); injectors.len()],
            injectors,
            exporters,
            scratch: Vec::with_capacity(256),
            timeline: Timeline { clock: plan.clock, last_vt: 0 },
            tick_ns,
            vt: 0,
            due: Accumulator::default(),
            flows: 0,
            finished: false,
            plan,
        })
    }

    /// The resolved plan.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// The exporters (settings and what each sent so far).
    pub fn exporters(&self) -> &[Exporter] {
        &self.exporters
    }

    /// Per-exporter counters so far.
    pub fn stats(&self) -> Vec<ExporterStats> {
        self.exporters.iter().map(|e| e.stats).collect()
    }

    /// The traffic model (hosts, prefixes, ASes).
    pub fn traffic(&self) -> &TrafficModel {
        &self.traffic
    }

    /// Flows sent so far.
    pub fn flows(&self) -> u64 {
        self.flows
    }

    /// Virtual time reached, nanoseconds.
    pub fn virtual_time_ns(&self) -> i64 {
        self.vt
    }

    /// Whether the run is over.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    fn budget_left(&self) -> u64 {
        self.plan.count.map_or(u64::MAX, |c| c.saturating_sub(self.flows))
    }

    /// Runs to the end.
    pub fn run(&mut self, sink: &mut dyn Sink) -> Result<(), SimError> {
        while self.step(sink)? {}
        Ok(())
    }

    /// Simulates one tick; `false` once the run is over (the last datagrams sent).
    pub fn step(&mut self, sink: &mut dyn Sink) -> Result<bool, SimError> {
        if self.finished {
            return Ok(false);
        }
        let t0 = self.vt;
        if self.budget_left() == 0 || self.plan.duration_ns.is_some_and(|d| t0 >= d) {
            self.finish(sink)?;
            return Ok(false);
        }
        let tick = match self.plan.duration_ns {
            Some(d) => self.tick_ns.min(d - t0),
            None => self.tick_ns,
        };
        let t1 = t0 + tick;
        let clock = self.plan.clock;
        let (sim0, sim1) = (clock.sim_ms(t0), clock.sim_ms(t1));
        for e in &mut self.exporters {
            e.restart_due(t0, &mut self.timeline, sink)?;
        }

        // Export outages and link failures change the background of their exporter.
        let outages = self.injectors.iter().any(|i| {
            matches!(i.common().plan.spec.kind, AnomalyKind::ExportOutage | AnomalyKind::LinkFailure)
                && i.common().overlap(sim0, sim1 + 1).is_some()
        });
        let load = self.plan.diurnal.load(sim0);
        let n = self.due.take(self.plan.rate * load * tick as f64 / 1e9);
        let mut made = 0u64;
        while made < n {
            let left = self.budget_left();
            if left == 0 {
                break;
            }
            let vt = t0 + (made as i128 * i128::from(tick) / i128::from(n.max(1))) as i64;
            let now_ms = clock.sim_ms(vt);
            // A long connection's next record, when one is due, takes this slot:
            // the exporter sends it whatever new connections come.
            let continued = self.traffic.long_flows().due(now_ms);
            let ei = match continued {
                Some(ei) => ei,
                None => self.pick.sample(&mut self.pick_rng),
            };
            let Some(exporter) = self.exporters.get_mut(ei) else { break };
            self.scratch.clear();
            // Only the run's flow budget may cut a connection to its request: cutting
            // it to fit the tick left a one-way flow (a 400 MB upload never answered,
            // a UDP stream without replies) that looks like exfiltration or a flood.
            let room = left.min(2) as usize;
            let k = if continued.is_some() {
                self.traffic.long_flows().next_piece(room, &mut self.scratch)
            } else {
                self.traffic.connection(
                    &exporter.plan.site,
                    ei,
                    now_ms,
                    room,
                    &exporter.template,
                    &mut self.scratch,
                )
            };
            made += k.max(1) as u64;
            for mut rec in self.scratch.drain(..) {
                if outages {
                    let mut lost = false;
                    for (inj, counts) in self.injectors.iter_mut().zip(self.anomaly_counts.iter_mut()) {
                        if inj.common().plan.exporter != ei {
                            continue;
                        }
                        let Some(o) = inj.outage() else { continue };
                        match o.reroute(now_ms, &exporter.plan.site, &mut rec) {
                            Fate::Untouched => continue,
                            Fate::Lost => lost = true,
                            Fate::Rerouted => {}
                        }
                        counts.0 += 1;
                        counts.1 += rec.bytes;
                        counts.2 += rec.packets;
                    }
                    if lost {
                        continue;
                    }
                }
                if exporter.push(rec, vt, &mut self.timeline, sink)?.is_some() {
                    self.flows += 1;
                }
            }
        }
        if made > n {
            self.due.owe(made - n);
        }

        for (i, inj) in self.injectors.iter_mut().enumerate() {
            let ei = inj.common().plan.exporter;
            let Some(exporter) = self.exporters.get_mut(ei) else { continue };
            self.scratch.clear();
            inj.emit(sim0, sim1, made, &exporter.plan.site, &exporter.template, &mut self.scratch);
            let left = self.plan.count.map_or(u64::MAX, |c| c.saturating_sub(self.flows));
            self.scratch.truncate(usize::try_from(left).unwrap_or(usize::MAX));
            for rec in self.scratch.drain(..) {
                if let Some((bytes, packets)) = exporter.push(rec, t1, &mut self.timeline, sink)? {
                    self.flows += 1;
                    if let Some(c) = self.anomaly_counts.get_mut(i) {
                        c.0 += 1;
                        c.1 += bytes;
                        c.2 += packets;
                    }
                }
            }
        }

        for (ei, e) in self.exporters.iter_mut().enumerate() {
            // A silent exporter sends none of the samples of flows still passing it.
            let silent = self.injectors.iter().any(|i| {
                let c = i.common();
                c.plan.exporter == ei
                    && c.plan.spec.kind == AnomalyKind::ExportOutage
                    && c.overlap(sim0, sim1 + 1).is_some()
            });
            if silent {
                e.lose_samples_due(t1);
            }
            e.flush_due(t1, &mut self.timeline, sink)?;
        }
        self.vt = t1;
        Ok(true)
    }

    /// Ends the run now: sends every open datagram.
    pub fn finish(&mut self, sink: &mut dyn Sink) -> Result<(), SimError> {
        if self.finished {
            return Ok(());
        }
        let vt = self.vt.max(self.timeline.last_vt);
        for e in &mut self.exporters {
            e.flush_all(vt, &mut self.timeline, sink)?;
        }
        self.finished = true;
        Ok(())
    }

    /// Ground-truth labels of the anomalies that began before the run ended, their
    /// windows cut at the simulated end of the run.
    pub fn labels(&self) -> Vec<Label> {
        let end_ms = self.plan.clock.sim_ms(self.vt);
        self.injectors
            .iter()
            .zip(&self.anomaly_counts)
            .filter(|(inj, _)| inj.common().plan.start_ms < end_ms)
            .map(|(inj, counts)| {
                let p = &inj.common().plan;
                let e = self.exporters.get(p.exporter);
                Label::new(
                    p.spec.kind,
                    p.start_ms,
                    p.end_ms.min(end_ms),
                    e.map(|e| e.plan.address)
                        .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)),
                    p.exporter,
                    e.map(|e| e.plan.protocol).unwrap_or(flowvision_codec::Protocol::NetflowV9),
                    inj.involved(),
                    *counts,
                )
            })
            .collect()
    }
}
