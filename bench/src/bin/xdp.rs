//! AF_XDP against kernel UDP sockets, on the same veth pair, with the same load, in
//! one run (run as root):
//!
//! ```text
//! namespace fvx<pid>b: sender threads ──veth──> host end: XDP program ─> AF_XDP ─> collector (INGEST_MODE=xdp)
//!                                                        └─ kernel stack ─> UDP socket ─> collector (INGEST_MODE=udp)
//! ```
//!
//! For each mode (alternating, `--rounds` times): a paced phase measures receiver CPU
//! per packet (utime+stime from /proc/<pid>/stat for the whole collector, and from
//! /proc/<pid>/task/*/stat for its ingest threads `xdp-*`/`worker-*`); an unpaced
//! phase measures received packets/s and loss. Datagrams are NetFlow v5 with one
//! record each (from the simulator), stored in a real PostgreSQL like in production.
//! Results are printed per round, then as ratios AF_XDP / UDP.
//!
//! `cargo build --release -p flowvision-collector && cargo run --release -p flowvision-bench --bin xdp`
//! Options: `--paced N` (datagrams, default 100000) `--rate R` (per s, default 40000)
//! `--blast N` (default 300000) `--rounds N` (default 2) `--collector PATH` `--ring N`
//! (default 8192); `-- --help` lists them.

#[path = "../../../collector/tests/xdp_common/mod.rs"]
mod xdp_common;

use anyhow::{anyhow, bail, Context, Result};
use clap::Parser;
use flowvision_codec::Protocol;
use flowvision_sim::{Datagram, Scenario, SimError, Simulation};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// AF_XDP against kernel UDP sockets on the same veth pair, with the same load, in
/// one run (as root): receiver CPU per packet, packets/s and loss, as ratios.
#[derive(Debug, Parser)]
#[command(name = "xdp")]
struct Options {
    /// Datagrams of the paced phase (CPU per packet).
    #[arg(long, value_name = "N", default_value_t = 100_000)]
    paced: usize,
    /// Datagrams per second of the paced phase.
    #[arg(long, value_name = "R", default_value_t = 40_000.0)]
    rate: f64,
    /// Datagrams of the unpaced phase (packets/s and loss).
    #[arg(long, value_name = "N", default_value_t = 300_000)]
    blast: usize,
    /// Rounds, each mode once per round (alternating).
    #[arg(long, value_name = "N", default_value_t = 2)]
    rounds: usize,
    /// The collector binary (release build of this checkout by default).
    #[arg(long, value_name = "PATH", default_value_os_t = default_collector())]
    collector: PathBuf,
    /// XDP_RING_SIZE (UMEM frames: twice that).
    #[arg(long, value_name = "N", default_value_t = 8192)]
    ring: u32,
}

fn default_collector() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/release/flowvision-collector")
}

/// NetFlow v5 datagrams of one record each, cut from the simulator's output (the
/// header's count is rewritten; everything else is the simulator's bytes).
fn pool(n: usize) -> Result<Vec<Vec<u8>>> {
    let mut scenario =
        Scenario { seed: Some(3), rate: 500_000.0, count: Some(n as u64), ..Scenario::default() };
    let mut group = flowvision_sim::scenario::ExporterGroup::new(Protocol::NetflowV5);
    group.count = 8;
    scenario.exporters = vec![group];
    scenario.diurnal.enabled = false;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis() as i64;
    let mut sim = Simulation::new(scenario.resolve(now, 3)?)?;
    let mut out = Vec::with_capacity(n);
    let mut sink = |d: &Datagram<'_>| -> Result<(), SimError> {
        let p = d.payload;
        let count = p.get(2..4).and_then(|c| <[u8; 2]>::try_from(c).ok()).map(u16::from_be_bytes).unwrap_or(0)
            as usize;
        let (Some(header), true) = (p.get(..24), p.len() >= 24 + 48 * count) else { return Ok(()) };
        for i in 0..count {
            let Some(record) = p.get(24 + 48 * i..24 + 48 * (i + 1)) else { break };
            let mut one = header.to_vec();
            if let Some(c) = one.get_mut(2..4) {
                c.copy_from_slice(&1u16.to_be_bytes());
            }
            one.extend_from_slice(record);
            out.push(one);
        }
        Ok(())
    };
    sim.run(&mut sink)?;
    if out.is_empty() {
        bail!("the simulator produced no NetFlow v5 records");
    }
    Ok(out)
}

fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// utime + stime (ticks) from a /proc stat line (fields after the `comm` in parens).
fn stat_ticks(text: &str) -> Option<u64> {
    let rest = text.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    // rest[0] is field 3 (state); utime is field 14, stime 15.
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

/// (whole process, ingest threads) CPU ticks.
fn cpu(pid: u32) -> (u64, u64) {
    let process =
        std::fs::read_to_string(format!("/proc/{pid}/stat")).ok().and_then(|t| stat_ticks(&t)).unwrap_or(0);
    let mut ingest = 0;
    if let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for t in dir.filter_map(Result::ok) {
            let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
            if comm.starts_with("xdp-") || comm.starts_with("worker-") {
                ingest += std::fs::read_to_string(t.path().join("stat"))
                    .ok()
                    .and_then(|s| stat_ticks(&s))
                    .unwrap_or(0);
            }
        }
    }
    (process, ingest)
}

struct Running {
    child: Child,
    metrics: SocketAddr,
    log: Arc<Mutex<String>>,
}

impl Running {
    fn start(
        o: &Options,
        mode: &str,
        net: &xdp_common::Netns,
        db: &str,
        port: u16,
        state: &std::path::Path,
    ) -> Result<Running> {
        let metrics: SocketAddr =
            format!("127.0.0.1:{}", std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
                .parse()?;
        let spare = || UdpSocket::bind("127.0.0.1:0").and_then(|s| s.local_addr()).map(|a| a.port());
        let mut child = Command::new(&o.collector)
            .arg("run")
            .env("DATABASE_URL", db)
            .env("NETFLOW_PORT", port.to_string())
            .env("SFLOW_PORT", spare()?.to_string())
            .env("IPFIX_PORT", spare()?.to_string())
            .env("METRICS_LISTEN", metrics.to_string())
            .env("STATE_DIR", state)
            .env("INGEST_MODE", mode)
            .env("XDP_INTERFACE", &net.host)
            .env("XDP_QUEUES", "1")
            .env("XDP_RING_SIZE", o.ring.to_string())
            .env("XDP_UMEM_FRAMES", (2 * o.ring).to_string())
            .env("COLLECTOR_WORKERS", "1")
            .env("BATCH_MAX_AGE_MS", "50")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {}", o.collector.display()))?;
        let log = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&log);
        let stderr = child.stderr.take().ok_or_else(|| anyhow!("no stderr"))?;
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Ok(mut l) = sink.lock() {
                    l.push_str(&line);
                    l.push('\n');
                }
            }
        });
        let r = Running { child, metrics, log };
        let deadline = Instant::now() + Duration::from_secs(60);
        while !r.log().contains("listening on UDP ports") {
            if Instant::now() > deadline {
                bail!("collector did not start:\n{}", r.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(r)
    }

    fn log(&self) -> String {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    fn metrics(&self) -> BTreeMap<String, u64> {
        let Ok(mut s) = TcpStream::connect(self.metrics) else { return BTreeMap::new() };
        let _ = write!(s, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        let mut text = String::new();
        let _ = s.read_to_string(&mut text);
        text.lines()
            .filter(|l| l.starts_with("flowvision_"))
            .filter_map(|l| {
                let (k, v) = l.rsplit_once(' ')?;
                Some((k.to_string(), v.parse().ok()?))
            })
            .collect()
    }

    fn received(&self) -> u64 {
        self.metrics().get("flowvision_datagrams_received_total").copied().unwrap_or(0)
    }

    /// Waits until the received count stops moving for `quiet`; returns it and the
    /// time of its last change.
    fn settle(&self, target: u64, quiet: Duration) -> (u64, Instant) {
        let mut last = self.received();
        let mut changed = Instant::now();
        loop {
            std::thread::sleep(Duration::from_millis(20));
            let now = self.received();
            if now != last {
                last = now;
                changed = Instant::now();
            }
            if last >= target || changed.elapsed() >= quiet {
                return (last, changed);
            }
        }
    }

    fn stop(mut self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let _ = self.child.wait();
    }
}

/// Sends `pool[..n]` (cycled) from 8 namespace addresses; `rate` 0 = unpaced.
fn send(
    net: &xdp_common::Netns,
    pool: &Arc<Vec<Vec<u8>>>,
    n: usize,
    rate: f64,
    target: SocketAddr,
) -> Result<Duration> {
    let pool = Arc::clone(pool);
    let base = net.sender_base;
    net.in_ns(move || -> Result<Duration> {
        let sockets: Vec<UdpSocket> = (1..=8u32)
            .map(|i| UdpSocket::bind((Ipv4Addr::from(u32::from(base) + i), 0)))
            .collect::<std::io::Result<_>>()?;
        let start = Instant::now();
        for i in 0..n {
            let (Some(d), Some(s)) = (pool.get(i % pool.len()), sockets.get(i % sockets.len())) else {
                break;
            };
            // ENOBUFS under an unpaced burst is loss on the sender side; retry.
            while s.send_to(d, target).is_err() {
                std::thread::yield_now();
            }
            if rate > 0.0 && i % 64 == 63 {
                let due = start + Duration::from_secs_f64((i + 1) as f64 / rate);
                if let Some(w) = due.checked_duration_since(Instant::now()) {
                    std::thread::sleep(w);
                }
            }
        }
        Ok(start.elapsed())
    })
}

#[derive(Debug, Clone, Copy, Default)]
struct Round {
    paced_received: u64,
    cpu_process_us: f64,
    cpu_ingest_us: f64,
    blast_sent: u64,
    blast_received: u64,
    blast_pps: f64,
    redirected: u64,
    /// XDP_STATISTICS rx_ring_full + rx_dropped, and fill-ring-empty events.
    ring_full: u64,
    fill_empty: u64,
}

fn measure(
    o: &Options,
    mode: &str,
    net: &xdp_common::Netns,
    db: &str,
    pool: &Arc<Vec<Vec<u8>>>,
) -> Result<Round> {
    let state = tempfile::tempdir()?;
    let port = UdpSocket::bind("127.0.0.1:0")?.local_addr()?.port();
    let c = Running::start(o, mode, net, db, port, state.path())?;
    if mode == "xdp" && !c.log().contains("ingest: XDP on") {
        bail!("XDP not set up:\n{}", c.log());
    }
    let target = SocketAddr::from((net.host_ip, port));
    let tick_us = 1e6 / clock_ticks();
    // Warm-up: ARP, partitions, first COPY.
    send(net, pool, 5_000, 20_000.0, target)?;
    let (base, _) = c.settle(5_000, Duration::from_secs(2));
    let pid = c.child.id();
    let (p0, i0) = cpu(pid);
    send(net, pool, o.paced, o.rate, target)?;
    let (after, _) = c.settle(base + o.paced as u64, Duration::from_secs(2));
    let (p1, i1) = cpu(pid);
    let paced = after - base;
    let mut r = Round {
        paced_received: paced,
        cpu_process_us: (p1 - p0) as f64 * tick_us / paced.max(1) as f64,
        cpu_ingest_us: (i1 - i0) as f64 * tick_us / paced.max(1) as f64,
        ..Round::default()
    };
    let start = Instant::now();
    send(net, pool, o.blast, 0.0, target)?;
    let (end, last_change) = c.settle(after + o.blast as u64, Duration::from_millis(1500));
    r.blast_sent = o.blast as u64;
    r.blast_received = end - after;
    r.blast_pps = r.blast_received as f64 / last_change.duration_since(start).as_secs_f64();
    let m = c.metrics();
    let get = |k: &str| m.get(k).copied().unwrap_or(0);
    r.redirected = get("flowvision_xdp_packets_redirected_total");
    r.ring_full = get("flowvision_xdp_rx_ring_full_total") + get("flowvision_xdp_rx_dropped_total");
    r.fill_empty = get("flowvision_xdp_fill_ring_empty_total");
    c.stop();
    Ok(r)
}

fn main() -> Result<()> {
    let o = Options::parse();
    if let Some(why) = xdp_common::skip_reason() {
        println!("SKIPPED: {why}");
        return Ok(());
    }
    if !o.collector.exists() {
        bail!("{} not built: cargo build --release -p flowvision-collector", o.collector.display());
    }
    let pool = Arc::new(pool(o.paced.max(o.blast).min(200_000))?);
    let net = xdp_common::Netns::create("b", 8).map_err(|e| anyhow!(e))?;
    let pg = flowvision_tests::pg::PgCluster::start().map_err(|e| anyhow!("{e}"))?;
    println!(
        "veth {} <- netns {}; {} NetFlow v5 datagrams of one record; paced {} at {}/s, blast {}; {} rounds; XDP ring {}",
        net.host,
        net.ns,
        pool.len(),
        o.paced,
        o.rate,
        o.blast,
        o.rounds,
        o.ring
    );
    println!(
        "{:<5} {:>5} {:>10} {:>14} {:>14} {:>12} {:>10} {:>8}  xdp ring full/fill empty",
        "mode", "round", "paced rx", "cpu/pkt proc", "cpu/pkt ingest", "blast pps", "blast rx", "loss",
    );
    let mut results: BTreeMap<&str, Vec<Round>> = BTreeMap::new();
    for round in 0..o.rounds {
        for mode in ["xdp", "udp"] {
            let r = measure(&o, mode, &net, pg.url(), &pool)?;
            println!(
                "{mode:<5} {round:>5} {:>10} {:>12.2}us {:>12.2}us {:>12.0} {:>10} {:>7.2}%  {}/{}",
                r.paced_received,
                r.cpu_process_us,
                r.cpu_ingest_us,
                r.blast_pps,
                r.blast_received,
                100.0 * (1.0 - r.blast_received as f64 / r.blast_sent as f64),
                r.ring_full,
                r.fill_empty
            );
            if mode == "xdp" && r.redirected < r.paced_received {
                bail!("AF_XDP did not carry the load ({} redirected)", r.redirected);
            }
            results.entry(mode).or_default().push(r);
        }
    }
    let mean = |mode: &str, f: fn(&Round) -> f64| {
        let v = results.get(mode).map(Vec::as_slice).unwrap_or(&[]);
        v.iter().map(f).sum::<f64>() / v.len().max(1) as f64
    };
    let ratio = |f: fn(&Round) -> f64| mean("xdp", f) / mean("udp", f);
    println!("ratios AF_XDP / UDP (mean of rounds; < 1 means AF_XDP uses less):");
    println!("  receiver CPU per packet, whole process: {:.2}", ratio(|r| r.cpu_process_us));
    println!("  receiver CPU per packet, ingest threads: {:.2}", ratio(|r| r.cpu_ingest_us));
    println!(
        "  received packets/s, unpaced:            {:.2} (> 1 means AF_XDP receives more)",
        ratio(|r| r.blast_pps)
    );
    println!(
        "  loss, unpaced: AF_XDP {:.2}% UDP {:.2}%",
        100.0 * (1.0 - mean("xdp", |r| r.blast_received as f64 / r.blast_sent as f64)),
        100.0 * (1.0 - mean("udp", |r| r.blast_received as f64 / r.blast_sent as f64))
    );
    drop(pg);
    drop(net);
    Ok(())
}
