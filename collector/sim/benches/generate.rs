//! Generation rate per protocol: flows per second on one core, generation and
//! encoding included, no socket and no file (the datagrams go to a sink that only
//! adds up their lengths). Medians over repeated runs.
//!
//! `cargo bench -p flowvision-sim --bench generate` (FLOWVISION_SIM_BENCH_FLOWS sets the
//! flows per run, default 2,000,000; FLOWVISION_SIM_BENCH_RUNS the runs, default 5).

use flowvision_codec::Protocol;
use flowvision_sim::exporter::Datagram;
use flowvision_sim::{Scenario, SimError, Simulation};
use std::time::Instant;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

struct Measured {
    seconds: f64,
    flows: u64,
    datagrams: u64,
    payload: u64,
}

fn once(protocols: &[Protocol], flows: u64, anomalies: bool) -> Result<Measured, SimError> {
    let mut s = Scenario::default();
    s.set_exporters(8, protocols);
    s.seed = Some(1);
    s.start = "2024-05-01T12:00:00Z".into();
    s.rate = 1_000_000.0;
    s.count = Some(flows);
    s.duration = None;
    if anomalies {
        for k in flowvision_sim::AnomalyKind::ALL {
            let mut a = flowvision_sim::scenario::AnomalySpec::new(k);
            a.start = Some("0s".into());
            a.duration = Some("1h".into());
            s.anomalies.push(a);
        }
    }
    let plan = s.resolve(0, 1)?;
    let mut sim = Simulation::new(plan)?;
    let (mut datagrams, mut payload) = (0u64, 0u64);
    let mut sink = |d: &Datagram<'_>| {
        datagrams += 1;
        payload += d.payload.len() as u64;
        Ok(())
    };
    let t = Instant::now();
    sim.run(&mut sink)?;
    let seconds = t.elapsed().as_secs_f64();
    Ok(Measured { seconds, flows: sim.flows(), datagrams, payload })
}

fn main() -> Result<(), SimError> {
    let flows = env_or("FLOWVISION_SIM_BENCH_FLOWS", 2_000_000);
    let runs = env_or("FLOWVISION_SIM_BENCH_RUNS", 5).max(1);
    let cases: Vec<(&str, Vec<Protocol>, bool)> = vec![
        ("netflow_v5", vec![Protocol::NetflowV5], false),
        ("netflow_v9", vec![Protocol::NetflowV9], false),
        ("ipfix", vec![Protocol::Ipfix], false),
        ("sflow_v5", vec![Protocol::SflowV5], false),
        ("mixed", Protocol::ALL.to_vec(), false),
        ("mixed+anomalies", Protocol::ALL.to_vec(), true),
    ];
    println!(
        "flowvision-sim generation benchmark: {flows} flows per run, {runs} runs, 8 exporters, one thread"
    );
    println!(
        "{:<16} {:>14} {:>14} {:>14} {:>12} {:>10}",
        "protocol", "median flows/s", "min flows/s", "max flows/s", "datagrams/s", "MB/s"
    );
    for (name, protocols, anomalies) in cases {
        let mut results = Vec::new();
        for _ in 0..runs {
            results.push(once(&protocols, flows, anomalies)?);
        }
        let mut rates: Vec<f64> = results.iter().map(|m| m.flows as f64 / m.seconds).collect();
        rates.sort_by(f64::total_cmp);
        let median = rates.get(rates.len() / 2).copied().unwrap_or(0.0);
        let mut by_rate: Vec<&Measured> = results.iter().collect();
        by_rate.sort_by(|a, b| (a.flows as f64 / a.seconds).total_cmp(&(b.flows as f64 / b.seconds)));
        let mid = by_rate.get(by_rate.len() / 2);
        let (dps, mbps) =
            mid.map_or((0.0, 0.0), |m| (m.datagrams as f64 / m.seconds, m.payload as f64 / m.seconds / 1e6));
        println!(
            "{:<16} {:>14.0} {:>14.0} {:>14.0} {:>12.0} {:>10.1}",
            name,
            median,
            rates.first().copied().unwrap_or(0.0),
            rates.last().copied().unwrap_or(0.0),
            dps,
            mbps
        );
    }
    Ok(())
}
