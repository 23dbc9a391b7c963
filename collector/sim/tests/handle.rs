//! A run started on its own thread: its progress grows while it sends to a real UDP
//! socket, a cancel stops a long run promptly with its outputs flushed and labels
//! written, and a run to the end sends what the blocking `run` sends.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use common::*;
use flowvision_codec::Protocol;
use flowvision_sim::scenario::AnomalySpec;
use flowvision_sim::{AnomalyKind, RunOptions, RunState, Scenario, SimError};
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A collector stand-in on 127.0.0.1 that counts the datagrams it receives.
struct Receiver {
    addr: SocketAddr,
    datagrams: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Receiver {
    fn start() -> Receiver {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
        let addr = socket.local_addr().unwrap();
        let datagrams = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (d, s) = (Arc::clone(&datagrams), Arc::clone(&stop));
        let thread = std::thread::spawn(move || {
            let mut buf = vec![0u8; 65_536];
            while !s.load(Ordering::Relaxed) {
                if socket.recv_from(&mut buf).is_ok() {
                    d.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
        Receiver { addr, datagrams, stop, thread: Some(thread) }
    }

    fn received(&self) -> u64 {
        self.datagrams.load(Ordering::Relaxed)
    }

    /// Waits until `n` datagrams arrived (at most 5 s) and stops.
    fn finish(mut self, n: u64) -> u64 {
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.received() < n && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().unwrap().join().unwrap();
        self.received()
    }
}

fn long_scenario(rate: f64, duration: &str) -> Scenario {
    let mut s = scenario(&[Protocol::NetflowV9, Protocol::Ipfix, Protocol::NetflowV5], 3, 0, 9);
    s.count = None;
    s.duration = Some(duration.into());
    s.rate = rate;
    s
}

#[test]
fn progress_grows_while_a_run_sends() {
    let receiver = Receiver::start();
    let options = RunOptions { targets: vec![receiver.addr], paced: true, ..RunOptions::default() };
    let handle = flowvision_sim::start(plan(&long_scenario(5000.0, "60s")), &options).unwrap();
    let mut samples = Vec::new();
    for _ in 0..10 {
        std::thread::sleep(Duration::from_millis(150));
        samples.push(handle.progress());
    }
    let received_while_running = receiver.received();
    handle.cancel();
    let outcome = handle.join().unwrap();

    for p in &samples {
        assert_eq!(p.state, RunState::Running, "{p:?}");
        assert_eq!(p.planned_virtual_seconds, Some(60.0));
    }
    for w in samples.windows(2) {
        assert!(w[1].flows >= w[0].flows && w[1].datagrams >= w[0].datagrams, "{w:?}");
        assert!(w[1].sim_time_ms >= w[0].sim_time_ms && w[1].virtual_seconds >= w[0].virtual_seconds);
        assert!(w[1].wall_seconds >= w[0].wall_seconds);
    }
    let (first, last) = (&samples[0], &samples[samples.len() - 1]);
    assert!(last.flows > first.flows && last.datagrams > first.datagrams, "{first:?} {last:?}");
    assert!(last.sim_time_ms > first.sim_time_ms && last.wall_seconds > first.wall_seconds);
    // Published every 50 ms, sampled every 150 ms: a loaded machine may repeat a few.
    let distinct: std::collections::BTreeSet<u64> = samples.iter().map(|p| p.flows).collect();
    assert!(distinct.len() >= 4, "flows seldom grew: {distinct:?}");
    assert!(last.flows_sent.unwrap() > 0 && last.flows_per_s > 0.0, "{last:?}");
    assert!(last.lateness_us.is_some(), "paced UDP measures lateness");
    assert!(received_while_running > 0, "the socket received while the run was going");

    let summary = outcome.summary;
    assert!(summary.cancelled);
    assert!(summary.totals.flows >= last.flows);
    let sent = summary.udp.as_ref().unwrap().targets[0].datagrams;
    assert_eq!(summary.totals.datagrams, sent);
    assert_eq!(receiver.finish(sent), sent, "every datagram sent was received");
    println!(
        "progress: {} samples, flows {} -> {} at {:.0} flows/s, lateness us {:?}; {} datagrams received",
        samples.len(),
        first.flows,
        last.flows,
        last.flows_per_s,
        last.lateness_us,
        sent
    );
}

#[test]
fn cancel_stops_a_long_run_promptly_with_outputs_flushed_and_labels_written() {
    let dir = temp_dir("cancel");
    let receiver = Receiver::start();
    let mut s = long_scenario(3000.0, "1h");
    let mut scan = AnomalySpec::new(AnomalyKind::PortScan);
    scan.start = Some("0s".into());
    scan.duration = Some("10m".into());
    s.anomalies.push(scan);
    let options = RunOptions {
        targets: vec![receiver.addr],
        labels: Some(dir.join("labels.jsonl")),
        records: Some(dir.join("records.jsonl")),
        paced: true,
        ..RunOptions::default()
    };
    let handle = flowvision_sim::start(plan(&s), &options).unwrap();
    std::thread::sleep(Duration::from_millis(700));
    let before = handle.progress();
    assert_eq!(before.state, RunState::Running);
    assert!(before.flows > 0, "{before:?}");
    assert_eq!(before.labels.len(), 1, "the scan began at the start: {before:?}");

    let asked = Instant::now();
    handle.cancel();
    while !handle.is_finished() {
        assert!(asked.elapsed() < Duration::from_secs(3), "still running 3 s after cancel");
        std::thread::sleep(Duration::from_millis(5));
    }
    let after = handle.progress();
    let outcome = handle.join().unwrap();
    let stopped_in = asked.elapsed();
    assert!(stopped_in < Duration::from_secs(3), "{stopped_in:?}");

    let summary = &outcome.summary;
    assert!(summary.cancelled);
    assert!(summary.to_string().contains("cancelled"), "{summary}");
    assert_eq!(after.state, RunState::Cancelled);
    assert_eq!(after.flows, summary.totals.flows);
    assert!(summary.totals.flows >= before.flows);
    assert!(summary.totals.flows < 3000 * 60, "an hour at 3000 flows/s stopped within seconds");
    assert!(summary.virtual_seconds < 60.0, "{}", summary.virtual_seconds);
    // What was generated was sent, written and labelled.
    let udp = &summary.udp.as_ref().unwrap().targets[0];
    assert_eq!((udp.flows, udp.failed_datagrams), (summary.totals.flows, 0));
    let records = std::fs::read_to_string(dir.join("records.jsonl")).unwrap();
    assert_eq!(records.lines().count() as u64, summary.totals.flows);
    let labels = std::fs::read_to_string(dir.join("labels.jsonl")).unwrap();
    assert_eq!(labels.lines().count(), 1);
    assert!(labels.contains("\"kind\":\"port_scan\""), "{labels}");
    assert_eq!(outcome.labels.len(), 1);
    assert_eq!(outcome.labels[0].flows, summary.anomalies[0].flows);
    assert!(outcome.labels[0].flows > 0);
    assert_eq!(receiver.finish(udp.datagrams), udp.datagrams, "every datagram sent was received");
    println!(
        "cancel: stopped in {stopped_in:?} after {} flows in {} datagrams ({:.3} virtual s); labels and records written",
        summary.totals.flows, summary.totals.datagrams, summary.virtual_seconds
    );
}

#[test]
fn a_started_run_sends_what_run_sends() {
    let dir = temp_dir("handle-same");
    let s = scenario(&[Protocol::Ipfix, Protocol::SflowV5], 4, 5000, 3);
    let options = |name: &str| RunOptions { pcap: Some(dir.join(name)), ..RunOptions::default() };
    let handle = flowvision_sim::start(plan(&s), &options("started.pcap")).unwrap();
    let started = handle.join().unwrap();
    let blocking = flowvision_sim::run(plan(&s), &options("run.pcap")).unwrap();
    assert!(!started.summary.cancelled);
    assert_eq!(started.summary.totals, blocking.summary.totals);
    assert_eq!(started.summary.totals.flows, 5000);
    assert_eq!(
        std::fs::read(dir.join("started.pcap")).unwrap(),
        std::fs::read(dir.join("run.pcap")).unwrap()
    );

    // Output errors come from start, before anything is sent.
    let bad = RunOptions { records: Some(dir.join("no/such/dir/r.jsonl")), ..RunOptions::default() };
    assert!(matches!(flowvision_sim::start(plan(&s), &bad), Err(SimError::Write { .. })));
}
