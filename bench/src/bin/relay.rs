//! Relay benchmark: the collector's worker path (decode, sample, sequence, batch,
//! hand to the writers' queue) with and without forwarding, in one run:
//!
//! - ingest without rules (the baseline; forwarding costs one atomic load),
//! - ingest with raw forwarding (`proto tcp`: about half of the datagrams' records;
//!   and `any`: every datagram),
//! - ingest with re-encoding to IPFIX (`proto tcp`).
//!
//! Destinations are real UDP sockets on loopback with a reader thread each; relay
//! throughput is the rate at which flows leave the destination's sender thread.
//!
//! `cargo run --release -p flowvision-bench --bin relay [-- FLOWS ROUNDS]`

use flowvision_bench::workload;
use flowvision_codec::{Decoder, Protocol, TemplateCache, TemplateCacheConfig};
use flowvision_collector::forward::{Relay, Rule};
use flowvision_collector::pipeline::worker::{Pipeline, WorkerSettings};
use flowvision_collector::store::Batch;
use flowvision_collector::telemetry::Counters;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

// The collector binary's allocator: worker-allocated, sender-freed buffers cost what
// they cost in the daemon.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Scenario {
    name: &'static str,
    rule: Option<(&'static str, Option<&'static str>)>,
}

fn sink() -> anyhow::Result<(SocketAddr, Arc<AtomicU64>, Arc<AtomicBool>)> {
    let s = UdpSocket::bind("127.0.0.1:0")?;
    socket2::SockRef::from(&s).set_recv_buffer_size(16 << 20)?;
    s.set_read_timeout(Some(Duration::from_millis(50)))?;
    let addr = s.local_addr()?;
    let count = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let (c, st) = (Arc::clone(&count), Arc::clone(&stop));
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 65536];
        while !st.load(Ordering::Relaxed) {
            if s.recv_from(&mut buf).is_ok() {
                c.fetch_add(1, Ordering::Relaxed);
            }
        }
    });
    Ok((addr, count, stop))
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let flows: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(100_000);
    let rounds: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(10);
    let records = workload::records(flows, 20, 7);
    let enc = workload::encode(Protocol::Ipfix, &records);
    let tcp = records.iter().filter(|r| r.proto == 6).count();
    println!(
        "workload: {} IPFIX data datagrams, {} flows ({} TCP), x{rounds} rounds per scenario",
        enc.data.len(),
        enc.records,
        tcp
    );
    let scenarios = [
        Scenario { name: "no forwarding", rule: None },
        Scenario { name: "raw, proto tcp", rule: Some(("proto tcp", None)) },
        Scenario { name: "raw, any", rule: Some(("any", None)) },
        Scenario { name: "re-encode ipfix, proto tcp", rule: Some(("proto tcp", Some("ipfix"))) },
    ];
    let reps = 3;
    let mut best: Vec<Option<Measurement>> = scenarios.iter().map(|_| None).collect();
    // Interleaved repetitions, best of each: the machine is shared, and a scenario
    // unlucky enough to run during someone's build says nothing about forwarding.
    for _ in 0..reps {
        for (i, s) in scenarios.iter().enumerate() {
            let m = run(s, &enc, rounds)?;
            if let Some(slot) = best.get_mut(i) {
                if !matches!(slot, Some(b) if b.cpu_rate >= m.cpu_rate) {
                    *slot = Some(m);
                }
            }
        }
    }
    println!("best of {reps} interleaved runs; cost = ingest throughput lost against `no forwarding`");
    println!(
        "{:<28} {:>15} {:>7} {:>15} {:>7} {:>14} {:>10} {:>10}",
        "scenario", "wall flows/s", "cost", "cpu flows/s", "cost", "relay flows/s", "dgrams out", "dropped"
    );
    let base = best.first().cloned().flatten();
    for (s, m) in scenarios.iter().zip(best) {
        let (Some(m), Some(b)) = (m, base.as_ref()) else { continue };
        println!(
            "{:<28} {:>15.0} {:>6.1}% {:>15.0} {:>6.1}% {:>14} {:>10} {:>10}",
            s.name,
            m.wall_rate,
            (1.0 - m.wall_rate / b.wall_rate) * 100.0,
            m.cpu_rate,
            (1.0 - m.cpu_rate / b.cpu_rate) * 100.0,
            m.relay_rate,
            m.out,
            m.dropped,
        );
    }
    Ok(())
}

/// One scenario's figures.
#[derive(Debug, Clone)]
struct Measurement {
    /// Flows per second of wall time through the worker path.
    wall_rate: f64,
    /// Flows per second of the worker thread's own CPU time (immune to other
    /// processes taking the core).
    cpu_rate: f64,
    relay_rate: String,
    out: u64,
    dropped: u64,
}

/// Nanoseconds this thread has run on a CPU (/proc/thread-self/schedstat).
fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

fn run(s: &Scenario, enc: &workload::Datagrams, rounds: usize) -> anyhow::Result<Measurement> {
    let relay = Relay::new();
    let (addr, received, stop_sink) = sink()?;
    if let Some((filter, reencode)) = s.rule {
        let rule = Rule::from_columns(
            "bench",
            filter,
            Some(&addr.to_string()),
            if reencode.is_some() { "reencode" } else { "raw" },
            reencode,
            false,
        )?;
        relay.install(vec![rule]);
    }
    let (tx, rx) = crossbeam_channel::bounded::<Batch>(1024);
    let drain = std::thread::spawn(move || rx.iter().map(|b| b.rows.len()).sum::<usize>());
    let settings = WorkerSettings {
        batch_rows: 8192,
        batch_max_age: Duration::from_millis(200),
        sampling: Arc::new(Vec::new()),
        instance: 1,
        batch_seq: Arc::new(AtomicU64::new(0)),
        relay: Arc::clone(&relay),
    };
    let cache = Arc::new(TemplateCache::new(TemplateCacheConfig::default()));
    let mut pipeline = Pipeline::new(Decoder::with_cache(cache), tx, Arc::new(Counters::default()), settings);
    let src = SocketAddr::from(([192, 0, 2, 1], 40000));
    for t in &enc.templates {
        pipeline.handle(src, t, workload::EXPORT_MS);
    }
    let start = Instant::now();
    let cpu0 = thread_cpu_ns();
    for _ in 0..rounds {
        // The worker ticks after every receive batch (recvmmsg, 32 datagrams).
        for chunk in enc.data.chunks(32) {
            for d in chunk {
                pipeline.handle(src, d, workload::EXPORT_MS);
            }
            pipeline.tick();
        }
    }
    let ingest = start.elapsed();
    let cpu = Duration::from_nanos(thread_cpu_ns().saturating_sub(cpu0));
    pipeline.send_batch();
    drop(pipeline);
    let stored = drain.join().map_err(|_| anyhow::anyhow!("drain thread"))?;
    let total = enc.records * rounds;
    anyhow::ensure!(stored == total, "stored {stored} of {total}");
    // Wait for the destination's sender to empty its queue.
    let rules = relay.rules();
    let mut relay_rate = String::from("-");
    let mut out = 0;
    let mut dropped = 0;
    if let Some(dest) = rules.rules.first().and_then(|r| r.destination.clone()) {
        while dest.queue_len() > 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
        let done = start.elapsed();
        let forwarded = match s.rule {
            Some((_, Some(_))) => dest.stats.sent_records.load(Ordering::Relaxed) as usize,
            _ => {
                // Raw: the flows inside the datagrams sent.
                let per = enc.records as f64 / enc.data.len() as f64;
                (dest.stats.sent_datagrams.load(Ordering::Relaxed) as f64 * per) as usize
            }
        };
        relay_rate = format!("{:.0}", forwarded as f64 / done.as_secs_f64());
        out = dest.stats.sent_datagrams.load(Ordering::Relaxed);
        dropped = dest.stats.workers.dropped_queue_full.load(Ordering::Relaxed)
            + dest.stats.dropped_send_error.load(Ordering::Relaxed)
            + dest.stats.dropped_unreachable.load(Ordering::Relaxed);
    }
    relay.shutdown(Duration::from_secs(2));
    std::thread::sleep(Duration::from_millis(100));
    stop_sink.store(true, Ordering::Relaxed);
    let _ = received.load(Ordering::Relaxed);
    Ok(Measurement {
        wall_rate: total as f64 / ingest.as_secs_f64(),
        cpu_rate: total as f64 / cpu.as_secs_f64().max(1e-9),
        relay_rate,
        out,
        dropped,
    })
}
