//! Ingest benchmark: FlowVision's collector against pmacct's nfacctd, both writing
//! NetFlow v5, then IPFIX, into the same throwaway PostgreSQL, at rising rates over
//! loopback (docs/benchmarks.md, "Ingest").
//!
//! ```text
//! cargo run --release -p flowvision-bench --bin ingest -- [--quick] [--rates 50000,100000]
//!     [--nfacctd-rates 25000,50000] [--step-secs 60] [--repeats 2] [--protocols v5,ipfix]
//!     [--peers flowvision,nfacctd,flowvision+relay,flowvision-noinsights]
//!     [--hold-for-profile RATE:SECS]
//! ```
//!
//! `flowvision+relay` is the same collector with one raw forwarding rule (`any`: every
//! datagram is relayed) to a UDP receiver in this process, added with
//! `flowvision-collector rules add` once the collector runs: with `flowvision` in the
//! same run it gives the ingest rate with and without forwarding (issue 6's goal:
//! forwarding costs under 10 % of it) and the collector's CPU per flow in both cases.
//!
//! One run: start PostgreSQL (the operator settings in [`PG_SETTINGS`], the same for
//! both peers), then per protocol: generate a pool of datagrams with the simulator's
//! library (16 exporters, 127.0.0.16-31), and for each peer in turn start it on free
//! loopback ports with its own database, and for each rate (each peer has its own
//! list) send the pool (cycled; headers rewritten per send so every datagram is a new,
//! in-sequence export) paced at that many flows/s for the step length, wait until the
//! store is quiet, and count what landed, `--repeats` times. A rate is sustained when
//! every run kept up ([`StepResult::kept_up`]); rates rise until one does not. After
//! FlowVision's steps, the ceiling: bare COPY of the same rows into an unindexed table.
//!
//! Per step: flows/s into PostgreSQL, the peer's and PostgreSQL's CPU per flow (their
//! process trees), WAL bytes per flow, and FlowVision's receive-to-commit latency,
//! measured in PostgreSQL: `track_commit_timestamp = on` gives every row's commit time
//! (`pg_xact_commit_timestamp(xmin)`), and each row carries its receive time
//! (`flows.time_received`, ms); the per-millisecond counts go into an HDR histogram.

use anyhow::{anyhow, bail, Context, Result};
use clap::Parser;
use flowvision_codec::Protocol;
use flowvision_sim::scenario::{ExporterGroup, Scenario};
use flowvision_sim::{Datagram, SimError, Simulation};
use hdrhistogram::Histogram;
use nix::sys::signal::{kill, Signal};
use nix::unistd::{chown, Pid, Uid, User};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// PostgreSQL settings of the run, the same for both peers: the settings an operator
/// starts from (issue 17): durable commits (fsync, synchronous_commit, full-page
/// writes, wal_level replica: all defaults), shared_buffers 256MB, max_wal_size 4GB,
/// checkpoint_timeout 15min. track_commit_timestamp is what the latency measurement
/// reads (the same small cost for both peers).
const PG_SETTINGS: &[(&str, &str)] = &[
    ("fsync", "on"),
    ("synchronous_commit", "on"),
    ("full_page_writes", "on"),
    ("shared_buffers", "256MB"),
    ("max_wal_size", "4GB"),
    ("checkpoint_timeout", "15min"),
    ("track_commit_timestamp", "on"),
    ("timezone", "UTC"),
    ("max_connections", "100"),
    ("log_min_messages", "warning"),
];

/// Socket receive buffer asked for by both peers: 4 MiB, this machine's
/// net.core.rmem_max (the kernel caps a request there, doubled).
const RCVBUF: usize = 4 << 20;

/// nfacctd's SQL refresh interval, seconds (how often its cache is written out).
const NFACCTD_REFRESH_S: u64 = 5;

struct Options {
    quick: bool,
    rates: Vec<u64>,
    /// nfacctd's own rates (empty: `rates`).
    nfacctd_rates: Vec<u64>,
    step: Duration,
    repeats: usize,
    peers: Vec<PeerKind>,
    protocols: Vec<Protocol>,
    hold_for_profile: Option<(u64, u64)>,
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum PeerKind {
    FlowVision,
    /// The collector with a raw forwarding rule relaying every datagram.
    FlowVisionRelay,
    /// The collector without the insights' ingest work (`FEATURE_HOSTS=0`,
    /// `BEACON_PAIRS=0`): with `flowvision` in the same run, what the features and the
    /// beacon tracker cost (issue 13's goal: under 10 % of ingest).
    FlowVisionNoInsights,
    Nfacctd,
}

impl PeerKind {
    fn name(self) -> &'static str {
        match self {
            PeerKind::FlowVision => "flowvision",
            PeerKind::FlowVisionRelay => "flowvision+relay",
            PeerKind::FlowVisionNoInsights => "flowvision-noinsights",
            PeerKind::Nfacctd => "nfacctd",
        }
    }

    fn db_name(self) -> &'static str {
        match self {
            PeerKind::FlowVision => "flowvision",
            PeerKind::FlowVisionRelay => "flowvision_relay",
            PeerKind::FlowVisionNoInsights => "flowvision_noinsights",
            PeerKind::Nfacctd => "nfacctd",
        }
    }
}

/// Ingest benchmark: FlowVision's collector against pmacct's nfacctd, both writing
/// NetFlow v5 and IPFIX into the same throwaway PostgreSQL, at rising rates over loopback.
#[derive(Debug, Parser)]
#[command(name = "ingest")]
struct Cli {
    /// Short steps (5 s) at two rates (20000, 50000 flows/s) unless given.
    #[arg(long)]
    quick: bool,
    /// Rates of the steps, flows/s, comma separated [10000, 25000, then 50000 to 600000].
    #[arg(long, value_name = "R,R,...", value_delimiter = ',')]
    rates: Vec<u64>,
    /// nfacctd's rates, when they should differ from FlowVision's (finer steps where
    /// its ceiling is) [the same as --rates].
    #[arg(long, value_name = "R,R,...", value_delimiter = ',')]
    nfacctd_rates: Vec<u64>,
    /// Length of a step, seconds [60; 5 with --quick].
    #[arg(long, value_name = "S")]
    step_secs: Option<u64>,
    /// Runs of each step; a rate counts as sustained when every run kept up [2; 1 with --quick].
    #[arg(long, value_name = "N")]
    repeats: Option<usize>,
    /// Export protocols, in order: v5, ipfix [v5,ipfix].
    #[arg(long, value_name = "P,...", value_delimiter = ',', value_parser = parse_protocol)]
    protocols: Vec<Protocol>,
    /// Peers, in order: flowvision, flowvision+relay, flowvision-noinsights, nfacctd
    /// [flowvision,nfacctd].
    #[arg(long, value_name = "PEER,...", value_delimiter = ',', value_parser = parse_peer)]
    peers: Vec<PeerKind>,
    /// After the rising steps, one more FlowVision step at RATE for SECS, printing the
    /// collector's pid so that `perf record -p` can attach.
    #[arg(long, value_name = "RATE:SECS", value_parser = parse_hold)]
    hold_for_profile: Option<(u64, u64)>,
}

fn parse_peer(s: &str) -> Result<PeerKind, String> {
    match s.trim() {
        "flowvision" => Ok(PeerKind::FlowVision),
        "flowvision+relay" => Ok(PeerKind::FlowVisionRelay),
        "flowvision-noinsights" => Ok(PeerKind::FlowVisionNoInsights),
        "nfacctd" => Ok(PeerKind::Nfacctd),
        other => Err(format!(
            "unknown peer {other}: flowvision, flowvision+relay, flowvision-noinsights or nfacctd"
        )),
    }
}

fn parse_protocol(s: &str) -> Result<Protocol, String> {
    match s.trim() {
        "v5" => Ok(Protocol::NetflowV5),
        "ipfix" => Ok(Protocol::Ipfix),
        other => Err(format!("unknown protocol {other}: v5 or ipfix")),
    }
}

fn protocol_name(p: Protocol) -> &'static str {
    if p == Protocol::Ipfix {
        "IPFIX"
    } else {
        "NetFlow v5"
    }
}

fn parse_hold(s: &str) -> Result<(u64, u64), String> {
    let (r, secs) = s.split_once(':').ok_or("RATE:SECS")?;
    Ok((r.parse().map_err(|e| format!("RATE: {e}"))?, secs.parse().map_err(|e| format!("SECS: {e}"))?))
}

fn parse_options() -> Options {
    let cli = Cli::parse();
    let rates = if !cli.rates.is_empty() {
        cli.rates
    } else if cli.quick {
        vec![20_000, 50_000]
    } else {
        [10_000, 25_000].into_iter().chain((1..=12).map(|i| i * 50_000)).collect()
    };
    let step = Duration::from_secs(cli.step_secs.unwrap_or(if cli.quick { 5 } else { 60 }));
    let repeats = cli.repeats.unwrap_or(if cli.quick { 1 } else { 2 }).max(1);
    let peers = if cli.peers.is_empty() { vec![PeerKind::FlowVision, PeerKind::Nfacctd] } else { cli.peers };
    let protocols =
        if cli.protocols.is_empty() { vec![Protocol::NetflowV5, Protocol::Ipfix] } else { cli.protocols };
    Options {
        quick: cli.quick,
        rates,
        nfacctd_rates: cli.nfacctd_rates,
        step,
        repeats,
        peers,
        protocols,
        hold_for_profile: cli.hold_for_profile,
    }
}

fn main() -> Result<()> {
    let opts = parse_options();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    // FLOWVISION_COLLECTOR_BIN: another build (e.g. an earlier commit's, for before/after).
    let collector_bin = std::env::var_os("FLOWVISION_COLLECTOR_BIN")
        .map_or_else(|| root.join("target/release/flowvision-collector"), PathBuf::from);
    let ours = opts.peers.iter().any(|p| *p != PeerKind::Nfacctd);
    if ours && !collector_bin.exists() {
        eprintln!("building flowvision-collector (release)...");
        let st = Command::new("cargo")
            .args(["build", "--release", "-p", "flowvision-collector"])
            .current_dir(&root)
            .status()
            .context("running cargo build")?;
        if !st.success() {
            bail!("cargo build -p flowvision-collector failed");
        }
    }
    let max_rate = opts.rates.iter().chain(&opts.nfacctd_rates).copied().max().unwrap_or(50_000);
    let pg = Pg::start()?;
    eprintln!("postgres: port {} ({})", pg.port, pg.dir.path().display());
    let pg_pid = pg.pid();
    let mut results: Vec<Outcome> = Vec::new();
    for &protocol in &opts.protocols {
        let pool =
            Pool::generate(if opts.quick { 200_000 } else { (max_rate * 5).max(1_000_000) }, protocol)?;
        eprintln!(
            "{} pool: {} datagrams, {} flows, {} exporters ({:.1} s to generate)",
            protocol_name(protocol),
            pool.datagrams.len(),
            pool.flows,
            pool.sources.len(),
            pool.generate_s
        );
        let mut ceiling = None;
        for &kind in &opts.peers {
            let mut admin = pg.connect("postgres")?;
            admin.batch_execute("CHECKPOINT")?;
            let db = format!("bench_{}", kind.db_name());
            admin.batch_execute(&format!("DROP DATABASE IF EXISTS {db}"))?;
            admin.batch_execute(&format!("CREATE DATABASE {db}"))?;
            let mut peer = match kind {
                PeerKind::FlowVision => {
                    Peer::start_flowvision(&collector_bin, &pg, &db, PeerKind::FlowVision)?
                }
                PeerKind::FlowVisionRelay => {
                    let mut p = Peer::start_flowvision(&collector_bin, &pg, &db, PeerKind::FlowVisionRelay)?;
                    p.add_relay(&collector_bin, &pg, &db)?;
                    p
                }
                PeerKind::FlowVisionNoInsights => {
                    Peer::start_flowvision(&collector_bin, &pg, &db, PeerKind::FlowVisionNoInsights)?
                }
                PeerKind::Nfacctd => Peer::start_nfacctd(&pg, &db)?,
            };
            let mut sender = Sender::new(&pool, peer.target_for(protocol))?;
            let mut rows = Vec::new();
            let rates = if kind == PeerKind::Nfacctd && !opts.nfacctd_rates.is_empty() {
                &opts.nfacctd_rates
            } else {
                &opts.rates
            };
            'rates: for &rate in rates {
                for _ in 0..opts.repeats {
                    // Only the previous step's rows are kept (disk): the same for both
                    // peers, between steps, while nothing is being stored.
                    if !rows.is_empty() {
                        peer.truncate()?;
                    }
                    let r = run_step(&mut peer, &mut sender, &pool, rate, opts.step, pg_pid)?;
                    eprintln!("{}", r.line(kind));
                    // Stop at the first run that lost flows or only absorbed the rate in
                    // buffers (our spool, nfacctd's cache): higher rates would only take longer.
                    let lost = !r.kept_up(kind);
                    if lost || r.stored == 0 {
                        let log = std::fs::read_to_string(&peer.log).unwrap_or_default();
                        let tail: Vec<&str> = log.lines().rev().take(30).collect();
                        eprintln!("{} did not keep up; its log ends:", kind.name());
                        for l in tail.iter().rev() {
                            eprintln!("    {l}");
                        }
                    }
                    rows.push(r);
                    if lost {
                        break 'rates;
                    }
                }
            }
            if kind == PeerKind::FlowVision {
                if let Some((rate, secs)) = opts.hold_for_profile {
                    // Not a measurement: load for a profiler, no drain, no counting.
                    eprintln!(
                        "profiling window: collector pid {} at {rate} flows/s for {secs} s",
                        peer.pid()
                    );
                    let s = sender.send(&pool, rate, Duration::from_secs(secs));
                    eprintln!("profiling window over: {} flows sent", s.flows);
                }
            }
            peer.stop();
            if statement_stats() {
                print_statement_stats(&pg, &db)?;
            }
            if kind == PeerKind::FlowVision && ceiling.is_none() {
                ceiling = Some(bare_copy(&pg, &db, if opts.quick { 200_000 } else { 2_000_000 }, pg_pid)?);
            }
            drop(peer);
            admin.batch_execute(&format!("DROP DATABASE IF EXISTS {db}"))?;
            results.push(Outcome { protocol, kind, rows, ceiling: None });
        }
        if let Some(c) = ceiling {
            results.push(Outcome {
                protocol,
                kind: PeerKind::FlowVision,
                rows: Vec::new(),
                ceiling: Some(c),
            });
        }
    }
    drop(pg);
    print!("{}", report(&opts, &results));
    Ok(())
}

/// `BENCH_STATEMENT_STATS=1`: a diagnostic run with pg_stat_statements loaded, printing
/// each peer's statements by server time and WAL (the extension costs a little; not for
/// the figures).
fn statement_stats() -> bool {
    std::env::var_os("BENCH_STATEMENT_STATS").is_some()
}

fn print_statement_stats(pg: &Pg, db: &str) -> Result<()> {
    let mut c = pg.connect(db)?;
    c.batch_execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")?;
    let rows = c.query(
        "SELECT s.calls, s.rows, s.total_exec_time, s.wal_bytes::bigint, s.wal_fpi, left(regexp_replace(s.query, '\\s+', ' ', 'g'), 110)
         FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
         WHERE d.datname = $1 ORDER BY s.total_exec_time DESC LIMIT 25",
        &[&db],
    )?;
    eprintln!("{db}: statements by server time (calls, rows, ms, WAL bytes, full-page images, query)");
    for r in rows {
        eprintln!(
            "  {:>7} {:>10} {:>9.0} {:>12} {:>7}  {}",
            r.get::<_, i64>(0),
            r.get::<_, i64>(1),
            r.get::<_, f64>(2),
            r.get::<_, i64>(3),
            r.get::<_, i64>(4),
            r.get::<_, String>(5)
        );
    }
    c.batch_execute("SELECT pg_stat_statements_reset()")?;
    Ok(())
}

/// One peer's steps for one protocol, or (with `ceiling`) the bare-COPY measurement.
struct Outcome {
    protocol: Protocol,
    kind: PeerKind,
    rows: Vec<StepResult>,
    ceiling: Option<Ceiling>,
}

/// Bare COPY of the same rows into an unindexed, unpartitioned table: the physical
/// limit of loading them into this PostgreSQL.
struct Ceiling {
    rows: u64,
    /// Per run: (rows/s, WAL bytes per row, PostgreSQL CPU µs per row).
    runs: Vec<(f64, f64, f64)>,
}

impl Ceiling {
    fn median(&self) -> (f64, f64, f64) {
        let pick = |f: fn(&(f64, f64, f64)) -> f64| median(self.runs.iter().map(f).collect());
        (pick(|r| r.0), pick(|r| r.1), pick(|r| r.2))
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v.get(n / 2).copied().unwrap_or(f64::NAN),
        n => {
            (v.get(n / 2 - 1).copied().unwrap_or(f64::NAN) + v.get(n / 2).copied().unwrap_or(f64::NAN)) / 2.0
        }
    }
}

/// Copies `rows` of FlowVision's stored flows out (binary) and COPYs them, five times,
/// each into a new table `LIKE flows` (no index, no partitions) in one transaction.
fn bare_copy(pg: &Pg, db: &str, rows: u64, pg_pid: u32) -> Result<Ceiling> {
    let mut c = pg.connect(db)?;
    let mut data = Vec::new();
    let mut out = c.copy_out(&format!(
        "COPY (SELECT * FROM flows WHERE exporter <> '127.0.0.99' LIMIT {rows}) TO STDOUT (FORMAT binary)"
    ))?;
    out.read_to_end(&mut data)?;
    drop(out);
    let n: i64 = c
        .query_one(
            &format!(
                "SELECT count(*) FROM (SELECT 1 FROM flows WHERE exporter <> '127.0.0.99' LIMIT {rows}) s"
            ),
            &[],
        )?
        .get(0);
    let n = n.max(1) as u64;
    let mut runs = Vec::new();
    // Five runs, the median reported: a single run scatters (0.5x-1.3x of the median
    // here) with what the kernel is still writing back from the steps before.
    for _ in 0..5 {
        c.batch_execute("DROP TABLE IF EXISTS bare_copy; CREATE TABLE bare_copy (LIKE flows); CHECKPOINT")?;
        let (cpu0, wal0) = (tree_cpu_s(pg_pid), wal_position(&mut c));
        let t = Instant::now();
        let mut w = c.copy_in("COPY bare_copy FROM STDIN (FORMAT binary)")?;
        w.write_all(&data)?;
        w.finish()?;
        let secs = t.elapsed().as_secs_f64();
        let (cpu1, wal1) = (tree_cpu_s(pg_pid), wal_position(&mut c));
        let wal = wal0.zip(wal1).map_or(f64::NAN, |(a, b)| (b - a) as f64 / n as f64);
        let cpu = cpu0.zip(cpu1).map_or(f64::NAN, |(a, b)| (b - a) * 1e6 / n as f64);
        eprintln!(
            "bare COPY: {n} rows in {secs:.2} s: {:.0} rows/s, {wal:.0} WAL B/row, {cpu:.2} PG CPU µs/row",
            n as f64 / secs
        );
        runs.push((n as f64 / secs, wal, cpu));
    }
    c.batch_execute("DROP TABLE IF EXISTS bare_copy")?;
    Ok(Ceiling { rows: n, runs })
}

// ---------------------------------------------------------------------------------
// Load: a pool of NetFlow v5 datagrams from the simulator, replayed at a paced rate.

struct Pool {
    protocol: Protocol,
    /// (source index, payload, flow records in it, packets of those records)
    datagrams: Vec<(usize, Vec<u8>, u64, u64)>,
    sources: Vec<IpAddr>,
    flows: u64,
    generate_s: f64,
}

impl Pool {
    fn generate(flows: u64, protocol: Protocol) -> Result<Pool> {
        let t = Instant::now();
        let mut scenario = Scenario {
            seed: Some(7),
            rate: 300_000.0,
            count: Some(flows),
            source_base: IpAddr::V4(Ipv4Addr::new(127, 0, 0, 16)),
            ..Scenario::default()
        };
        let mut group = ExporterGroup::new(protocol);
        group.count = 16;
        scenario.exporters = vec![group];
        scenario.diurnal.enabled = false;
        let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0);
        let plan = scenario.resolve(now_ms, 7)?;
        let mut sim = Simulation::new(plan)?;
        let mut sources: Vec<IpAddr> = Vec::new();
        let mut datagrams = Vec::new();
        let mut total = 0u64;
        let mut sink = |d: &Datagram<'_>| -> Result<(), SimError> {
            let ip = d.src.ip();
            let idx = match sources.iter().position(|s| *s == ip) {
                Some(i) => i,
                None => {
                    sources.push(ip);
                    sources.len() - 1
                }
            };
            total += d.records.len() as u64;
            let packets = d.records.iter().map(|r| r.packets).sum::<u64>();
            datagrams.push((idx, d.payload.to_vec(), d.records.len() as u64, packets));
            Ok(())
        };
        sim.run(&mut sink)?;
        Ok(Pool { protocol, datagrams, sources, flows: total, generate_s: t.elapsed().as_secs_f64() })
    }
}

/// Source of the flush datagrams sent after each step (excluded from every count).
/// nfacctd's core hands records to its SQL plugin in whole buffers
/// (`plugin_buffer_size`), so the last partial buffer of a step would wait for more
/// traffic; in production more traffic always comes. Both peers get the same flush.
const FLUSH_SOURCE: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 99);

/// Datagrams of the flush (30 flows each).
const FLUSH_DATAGRAMS: usize = 20;

struct Sender {
    sockets: Vec<UdpSocket>,
    flush: UdpSocket,
    target: SocketAddr,
    /// Next sequence per (source, export stream).
    sequences: HashMap<(usize, u32), u32>,
    /// Position in the pool.
    next: usize,
    /// Header rewrite scratch.
    buf: Vec<u8>,
}

struct Sent {
    flows: u64,
    packets: u64,
    datagrams: u64,
    errors: u64,
    elapsed_s: f64,
}

impl Sender {
    fn new(pool: &Pool, target: SocketAddr) -> Result<Sender> {
        let sockets = pool
            .sources
            .iter()
            .map(|ip| UdpSocket::bind(SocketAddr::new(*ip, 0)).with_context(|| format!("binding {ip}")))
            .collect::<Result<_>>()?;
        let flush = UdpSocket::bind(SocketAddr::from((FLUSH_SOURCE, 0))).context("binding 127.0.0.99")?;
        Ok(Sender {
            sockets,
            flush,
            target,
            sequences: HashMap::new(),
            next: 0,
            buf: Vec::with_capacity(1500),
        })
    }

    /// Sends the flush datagrams (1 ms apart); returns their flows. v5: the first
    /// datagrams of the pool with a distinct engine (its own sequence stream); IPFIX:
    /// the first datagrams of one exporter, which begin with its templates.
    fn flush(&mut self, pool: &Pool) -> u64 {
        let mut flows = 0;
        let mut seqs: HashMap<u32, u32> = HashMap::new();
        let first = pool.datagrams.iter().filter(|d| pool.protocol != Protocol::Ipfix || d.0 == 0);
        for (_, payload, n, _) in first.take(FLUSH_DATAGRAMS) {
            self.buf.clear();
            self.buf.extend_from_slice(payload);
            if pool.protocol == Protocol::NetflowV5 {
                put(&mut self.buf, 20, &[0xfe, 0xfe]);
            }
            let seq = seqs.entry(stream_of(pool.protocol, &self.buf)).or_insert(0);
            rewrite_header(pool.protocol, &mut self.buf, *seq);
            *seq = seq.wrapping_add(*n as u32);
            if self.flush.send_to(&self.buf, self.target).is_ok() {
                flows += n;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        flows
    }

    /// Sends `rate` flows/s for `dur`, pacing each datagram by its record count.
    fn send(&mut self, pool: &Pool, rate: u64, dur: Duration) -> Sent {
        let start = Instant::now();
        let mut due_ns: f64 = 0.0;
        let ns_per_flow = 1e9 / rate.max(1) as f64;
        let mut s = Sent { flows: 0, packets: 0, datagrams: 0, errors: 0, elapsed_s: 0.0 };
        let stop = dur.as_nanos() as f64;
        while due_ns < stop {
            let Some((src, payload, n, packets)) = pool.datagrams.get(self.next) else {
                self.next = 0;
                continue;
            };
            self.next += 1;
            let ahead = due_ns - start.elapsed().as_nanos() as f64;
            if ahead > 100_000.0 {
                std::thread::sleep(Duration::from_nanos(ahead as u64));
            }
            self.buf.clear();
            self.buf.extend_from_slice(payload);
            let seq = self.sequences.entry((*src, stream_of(pool.protocol, &self.buf))).or_insert(0);
            rewrite_header(pool.protocol, &mut self.buf, *seq);
            let Some(sock) = self.sockets.get(*src) else { continue };
            match sock.send_to(&self.buf, self.target) {
                Ok(_) => {
                    *seq = seq.wrapping_add(*n as u32);
                    s.flows += n;
                    s.packets += packets;
                    s.datagrams += 1;
                }
                Err(_) => s.errors += 1,
            }
            due_ns += *n as f64 * ns_per_flow;
        }
        s.elapsed_s = start.elapsed().as_secs_f64();
        s
    }
}

/// The export stream a datagram belongs to (its sequence numbers count per stream):
/// v5 engine type and id, IPFIX observation domain.
fn stream_of(protocol: Protocol, buf: &[u8]) -> u32 {
    let at = if protocol == Protocol::Ipfix { 12..16 } else { 20..22 };
    buf.get(at).map_or(0, |b| b.iter().fold(0u32, |acc, x| acc << 8 | u32::from(*x)))
}

/// Makes a pool datagram a new export: export time now, the stream's next sequence
/// (v5: flows before it; IPFIX: data records before it).
fn rewrite_header(protocol: Protocol, buf: &mut [u8], seq: u32) {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    if protocol == Protocol::Ipfix {
        put(buf, 4, &(now.as_secs() as u32).to_be_bytes());
        put(buf, 8, &seq.to_be_bytes());
    } else {
        put(buf, 8, &(now.as_secs() as u32).to_be_bytes());
        put(buf, 12, &now.subsec_nanos().to_be_bytes());
        put(buf, 16, &seq.to_be_bytes());
    }
}

/// Overwrites `bytes` at `at` (v5 header fields; the pool holds only whole headers).
fn put(buf: &mut [u8], at: usize, bytes: &[u8]) {
    if let Some(dst) = buf.get_mut(at..at + bytes.len()) {
        dst.copy_from_slice(bytes);
    }
}

// ---------------------------------------------------------------------------------
// PostgreSQL: a private cluster from the system binaries, as the postgres user.

struct Pg {
    dir: tempfile::TempDir,
    port: u16,
    child: Option<Child>,
}

impl Pg {
    fn bindir() -> Result<PathBuf> {
        if let Ok(d) = std::env::var("FLOWVISION_PG_BINDIR") {
            return Ok(PathBuf::from(d));
        }
        let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
            .context("no /usr/lib/postgresql (install postgresql)")?
            .flatten()
            .filter_map(|e| {
                let v = e.file_name().to_string_lossy().parse::<u32>().ok()?;
                let bin = e.path().join("bin");
                bin.join("postgres").exists().then_some((v, bin))
            })
            .collect();
        versions.sort();
        versions.pop().map(|(_, b)| b).ok_or_else(|| anyhow!("no PostgreSQL server binaries found"))
    }

    fn command(bindir: &Path, program: &str, run_as: Option<(u32, u32)>) -> Command {
        let path = bindir.join(program);
        match run_as {
            Some((uid, gid)) => {
                let mut c = Command::new("setpriv");
                c.arg(format!("--reuid={uid}"))
                    .arg(format!("--regid={gid}"))
                    .arg("--clear-groups")
                    .arg("--")
                    .arg(path);
                c
            }
            None => Command::new(path),
        }
    }

    fn start() -> Result<Pg> {
        let bindir = Pg::bindir()?;
        let run_as = if Uid::effective().is_root() {
            let u = User::from_name("postgres")?.ok_or_else(|| anyhow!("no postgres user"))?;
            Some((u.uid.as_raw(), u.gid.as_raw()))
        } else {
            None
        };
        let dir = tempfile::Builder::new().prefix("flowvision-bench-pg-").tempdir_in("/tmp")?;
        if let Some((uid, gid)) = run_as {
            chown(dir.path(), Some(uid.into()), Some(gid.into()))?;
        }
        let data = dir.path().join("data");
        let out = Pg::command(&bindir, "initdb", run_as)
            .arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C"])
            .env("LC_ALL", "C")
            .stdin(Stdio::null())
            .output()
            .context("running initdb")?;
        if !out.status.success() {
            bail!("initdb failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        let port = free_tcp_port()?;
        let log = File::create(dir.path().join("postgres.log"))?;
        if let Some((uid, gid)) = run_as {
            chown(&dir.path().join("postgres.log"), Some(uid.into()), Some(gid.into()))?;
        }
        let mut cmd = Pg::command(&bindir, "postgres", run_as);
        cmd.arg("-D").arg(&data).arg("-p").arg(port.to_string()).arg("-k").arg(dir.path());
        cmd.args(["-c", "listen_addresses=127.0.0.1"]);
        for (k, v) in PG_SETTINGS {
            cmd.arg("-c").arg(format!("{k}={v}"));
        }
        if statement_stats() {
            cmd.args([
                "-c",
                "shared_preload_libraries=pg_stat_statements",
                "-c",
                "pg_stat_statements.track=all",
            ]);
        }
        let child = cmd
            .env("LC_ALL", "C")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("starting postgres")?;
        let pg = Pg { dir, port, child: Some(child) };
        let deadline = Instant::now() + Duration::from_secs(60);
        while pg.connect("postgres").is_err() {
            if Instant::now() > deadline {
                bail!(
                    "postgres not ready: {}",
                    std::fs::read_to_string(pg.dir.path().join("postgres.log")).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(pg)
    }

    /// The postmaster's pid (setpriv, when used, execs it in place).
    fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    fn url(&self, db: &str) -> String {
        format!("postgresql://postgres@127.0.0.1:{}/{db}", self.port)
    }

    fn connect(&self, db: &str) -> Result<postgres::Client> {
        Ok(postgres::Client::connect(&self.url(db), postgres::NoTls)?)
    }
}

impl Drop for Pg {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            stop_child(&mut c, Signal::SIGINT, Duration::from_secs(60));
        }
    }
}

fn stop_child(c: &mut Child, sig: Signal, wait: Duration) {
    if let Ok(pid) = i32::try_from(c.id()) {
        let _ = kill(Pid::from_raw(pid), sig);
    }
    let deadline = Instant::now() + wait;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = c.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = c.kill();
    let _ = c.wait();
}

fn free_tcp_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn free_udp_port() -> Result<u16> {
    Ok(UdpSocket::bind("127.0.0.1:0")?.local_addr()?.port())
}

// ---------------------------------------------------------------------------------
// The peers.

struct Peer {
    kind: PeerKind,
    child: Child,
    target: SocketAddr,
    /// Where IPFIX goes (the collector listens on its own port; nfacctd takes all on one).
    ipfix_target: SocketAddr,
    metrics: Option<SocketAddr>,
    db: postgres::Client,
    _dir: tempfile::TempDir,
    log: PathBuf,
    /// `flowvision+relay`: the forwarding rule's receiver.
    sink: Option<Sink>,
    /// nfacctd: (flows, packets) stored before the current step.
    base: (u64, u64),
}

/// A UDP receiver counting the datagrams the relay forwards to it.
struct Sink {
    addr: SocketAddr,
    datagrams: std::sync::Arc<std::sync::atomic::AtomicU64>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Sink {
    fn start() -> Result<Sink> {
        use std::sync::atomic::Ordering;
        let s = UdpSocket::bind("127.0.0.1:0")?;
        // As large as the kernel allows (it caps at net.core.rmem_max).
        let _ = socket2::SockRef::from(&s).set_recv_buffer_size(RCVBUF);
        s.set_read_timeout(Some(Duration::from_millis(100)))?;
        let addr = s.local_addr()?;
        let datagrams = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (n, st) = (std::sync::Arc::clone(&datagrams), std::sync::Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 65536];
            while !st.load(Ordering::Relaxed) {
                if s.recv(&mut buf).is_ok() {
                    n.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
        Ok(Sink { addr, datagrams, stop })
    }

    fn count(&self) -> u64 {
        self.datagrams.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// CPU seconds (user + system) used by process `pid` and its descendants: its own
/// time, the time of the children it has reaped, and that of the live descendants
/// (PostgreSQL's backends, nfacctd's plugin and writer processes), from /proc.
fn tree_cpu_s(pid: u32) -> Option<f64> {
    // (pid, ppid, own ticks, reaped children's ticks) of every process.
    let mut procs: Vec<(u32, u32, f64, f64)> = Vec::new();
    for e in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(p) = e.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else { continue };
        // Fields after the command name (which may contain spaces) start after ") ".
        let Some((_, rest)) = stat.rsplit_once(") ") else { continue };
        let f: Vec<&str> = rest.split_whitespace().collect();
        let num = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
        let ppid = f.get(1).and_then(|v| v.parse::<u32>().ok()).unwrap_or(0);
        procs.push((p, ppid, num(11) + num(12), num(13) + num(14)));
    }
    let mut total = 0.0;
    let mut found = false;
    let mut frontier = vec![pid];
    while let Some(cur) = frontier.pop() {
        for &(p, ppid, own, reaped) in &procs {
            if p == cur {
                total += own + reaped;
                found = true;
            }
            if ppid == cur {
                frontier.push(p);
            }
        }
    }
    // In USER_HZ ticks, which Linux fixes at 100 for this interface.
    found.then_some(total / 100.0)
}

/// The cluster's WAL insert position, bytes.
fn wal_position(db: &mut postgres::Client) -> Option<i64> {
    db.query_one("SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint", &[]).ok().map(|r| r.get(0))
}

impl Peer {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn target_for(&self, protocol: Protocol) -> SocketAddr {
        if protocol == Protocol::Ipfix {
            self.ipfix_target
        } else {
            self.target
        }
    }

    /// Empties the flow table between steps (only disk space is at stake): both peers
    /// alike, while nothing is being written.
    fn truncate(&mut self) -> Result<()> {
        let table = if self.kind == PeerKind::Nfacctd { "acct_v9" } else { "flows" };
        self.db.batch_execute(&format!("TRUNCATE {table}"))?;
        Ok(())
    }

    fn start_flowvision(bin: &Path, pg: &Pg, db: &str, kind: PeerKind) -> Result<Peer> {
        let dir = tempfile::Builder::new().prefix("flowvision-bench-collector-").tempdir()?;
        let port = free_udp_port()?;
        let metrics = SocketAddr::from(([127, 0, 0, 1], free_tcp_port()?));
        let ipfix_port = free_udp_port()?;
        let log = dir.path().join("collector.log");
        let out = File::create(&log)?;
        // The defaults, explicitly, so a changed default cannot make the two peers equal.
        let (feature_hosts, beacon_pairs) =
            if kind == PeerKind::FlowVisionNoInsights { ("0", "0") } else { ("16", "250000") };
        let child = Command::new(bin)
            .arg("run")
            .env("FEATURE_HOSTS", feature_hosts)
            .env("BEACON_PAIRS", beacon_pairs)
            .env("DATABASE_URL", pg.url(db))
            .env("NETFLOW_PORT", port.to_string())
            .env("SFLOW_PORT", free_udp_port()?.to_string())
            .env("IPFIX_PORT", ipfix_port.to_string())
            .env("METRICS_LISTEN", metrics.to_string())
            .env("STATE_DIR", dir.path().join("state"))
            .env("SOCKET_RCVBUF", RCVBUF.to_string())
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let mut peer = Peer {
            kind,
            child,
            target: SocketAddr::from(([127, 0, 0, 1], port)),
            ipfix_target: SocketAddr::from(([127, 0, 0, 1], ipfix_port)),
            metrics: Some(metrics),
            db: pg.connect(db)?,
            _dir: dir,
            log,
            sink: None,
            base: (0, 0),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(st)) = peer.child.try_wait() {
                bail!("collector exited ({st}): {}", std::fs::read_to_string(&peer.log).unwrap_or_default());
            }
            if let Ok(m) = scrape(metrics) {
                if m.contains_key("flowvision_store_rows_stored_total") {
                    break;
                }
            }
            if Instant::now() > deadline {
                bail!("collector not ready: {}", std::fs::read_to_string(&peer.log).unwrap_or_default());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        // Migrations are applied before the listeners open; flows must exist now.
        peer.db.query_one("SELECT count(*) FROM flows", &[]).context("flows table")?;
        Ok(peer)
    }

    /// Adds the raw forwarding rule (every datagram) to a new [`Sink`] with the
    /// collector's own CLI, and waits until the running collector has loaded it.
    fn add_relay(&mut self, bin: &Path, pg: &Pg, db: &str) -> Result<()> {
        let sink = Sink::start()?;
        let out = Command::new(bin)
            .args(["rules", "add", "bench-relay", "--filter", "any", "--to", &sink.addr.to_string()])
            .env("DATABASE_URL", pg.url(db))
            .output()
            .context("flowvision-collector rules add")?;
        if !out.status.success() {
            bail!("rules add failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        let metrics = self.metrics.ok_or_else(|| anyhow!("no metrics"))?;
        let deadline = Instant::now() + Duration::from_secs(30);
        while scrape(metrics)?.get("flowvision_forward_rules").copied().unwrap_or(0) != 1 {
            if Instant::now() > deadline {
                bail!("the collector did not load the forwarding rule");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        eprintln!("flowvision+relay: raw rule `any` to {}", sink.addr);
        self.sink = Some(sink);
        Ok(())
    }

    fn start_nfacctd(pg: &Pg, db: &str) -> Result<Peer> {
        let dir = tempfile::Builder::new().prefix("flowvision-bench-nfacctd-").tempdir()?;
        let mut client = pg.connect(db)?;
        // The configuration issue 17 measured as nfacctd's best (CONFIG-KEYS): COPY
        // instead of INSERT (needs sql_dont_try_update), only the primitives' columns in
        // the statements, a 5 s purge, arrival time as the time base, a large cache and
        // plugin pipe. The table: the primitives' columns of pmacct's v9 schema
        // (/usr/share/doc/pmacct/sql) with 64-bit counters and no index or key, so a
        // purge is a plain append, as our COPY is.
        client.batch_execute(
            "CREATE TABLE acct_v9 (
                peer_ip_src inet NOT NULL DEFAULT '0.0.0.0',
                ip_src inet NOT NULL DEFAULT '0.0.0.0',
                ip_dst inet NOT NULL DEFAULT '0.0.0.0',
                port_src INT NOT NULL DEFAULT 0,
                port_dst INT NOT NULL DEFAULT 0,
                ip_proto SMALLINT NOT NULL DEFAULT 0,
                tos INT NOT NULL DEFAULT 0,
                timestamp_start timestamptz NOT NULL DEFAULT '1970-01-01',
                timestamp_start_residual INT NOT NULL DEFAULT 0,
                timestamp_end timestamptz NOT NULL DEFAULT '1970-01-01',
                timestamp_end_residual INT NOT NULL DEFAULT 0,
                packets BIGINT NOT NULL,
                bytes BIGINT NOT NULL,
                flows BIGINT NOT NULL DEFAULT 0,
                stamp_inserted timestamptz NOT NULL DEFAULT '0001-01-01 00:00:00',
                stamp_updated timestamptz
            )",
        )?;
        let port = free_udp_port()?;
        let conf = dir.path().join("nfacctd.conf");
        let text = format!(
            "daemonize: false\n\
             nfacctd_ip: 127.0.0.1\n\
             nfacctd_port: {port}\n\
             nfacctd_pipe_size: {RCVBUF}\n\
             nfacctd_time_new: true\n\
             plugin_pipe_size: 67108864\n\
             plugin_buffer_size: 65536\n\
             plugins: pgsql[fv]\n\
             aggregate[fv]: {aggregate}\n\
             sql_db[fv]: {db}\n\
             sql_table[fv]: acct_v9\n\
             sql_table_version[fv]: 9\n\
             sql_host[fv]: 127.0.0.1\n\
             sql_port[fv]: {pgport}\n\
             sql_user[fv]: postgres\n\
             sql_passwd[fv]: postgres\n\
             sql_refresh_time[fv]: {NFACCTD_REFRESH_S}\n\
             sql_cache_entries[fv]: 1000003\n\
             sql_use_copy[fv]: true\n\
             sql_dont_try_update[fv]: true\n\
             sql_optimize_clauses[fv]: true\n",
            pgport = pg.port,
            aggregate = nfacctd_aggregate(),
        );
        std::fs::write(&conf, text)?;
        let log = dir.path().join("nfacctd.log");
        let out = File::create(&log)?;
        let child = Command::new("nfacctd")
            .arg("-f")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .context("starting nfacctd (apt-get install pmacct)")?;
        let mut peer = Peer {
            kind: PeerKind::Nfacctd,
            child,
            target: SocketAddr::from(([127, 0, 0, 1], port)),
            ipfix_target: SocketAddr::from(([127, 0, 0, 1], port)),
            metrics: None,
            db: client,
            _dir: dir,
            log,
            sink: None,
            base: (0, 0),
        };
        // nfacctd has no readiness signal: wait until its socket is bound.
        let deadline = Instant::now() + Duration::from_secs(30);
        while UdpSocket::bind(peer.target).is_ok() {
            if let Ok(Some(st)) = peer.child.try_wait() {
                bail!("nfacctd exited ({st}): {}", std::fs::read_to_string(&peer.log).unwrap_or_default());
            }
            if Instant::now() > deadline {
                bail!("nfacctd did not bind: {}", std::fs::read_to_string(&peer.log).unwrap_or_default());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        std::thread::sleep(Duration::from_secs(1));
        Ok(peer)
    }

    /// Flows stored so far (cheap enough to poll).
    fn stored(&mut self) -> Result<u64> {
        match self.kind {
            PeerKind::FlowVision | PeerKind::FlowVisionRelay | PeerKind::FlowVisionNoInsights => {
                let m = scrape(self.metrics.ok_or_else(|| anyhow!("no metrics"))?)?;
                Ok(m.get("flowvision_store_rows_stored_total").copied().unwrap_or(0))
            }
            PeerKind::Nfacctd => {
                let row = self.db.query_one(
                    "SELECT coalesce(sum(greatest(flows, 1)), 0)::bigint FROM acct_v9 \
                         WHERE peer_ip_src <> '127.0.0.99'",
                    &[],
                )?;
                Ok(row.get::<_, i64>(0).max(0) as u64)
            }
        }
    }

    /// Flows and packets received since `since` (Unix s) as stored in the database,
    /// and their receive-to-commit latencies (µs, per-millisecond resolution).
    /// nfacctd may merge records with identical primitives into one row (its `flows`
    /// counter then says how many); packets are summed either way, so they are the
    /// exact check.
    fn landed_since(&mut self, since: f64) -> Result<(u64, u64, Histogram<u64>)> {
        let mut h = Histogram::<u64>::new_with_bounds(1, 24 * 3600 * 1_000_000, 3)?;
        if self.kind == PeerKind::Nfacctd {
            // Without the arrival time among its primitives (issue 17's configuration)
            // rows carry no receive time: the step's flows are the growth of the totals
            // and its latency is not measured.
            let (flows, packets) = self.nfacctd_totals()?;
            return Ok((flows.saturating_sub(self.base.0), packets.saturating_sub(self.base.1), h));
        }
        let sql =
            "SELECT floor(extract(epoch FROM pg_xact_commit_timestamp(xmin) - time_received) * 1000)::bigint,
                        count(*)::bigint, sum(packets)::bigint
                 FROM flows WHERE time_received >= to_timestamp($1) AND exporter <> '127.0.0.99' GROUP BY 1";
        let (mut n, mut packets) = (0u64, 0u64);
        for row in self.db.query(sql, &[&since])? {
            let ms: Option<i64> = row.get(0);
            let count = row.get::<_, i64>(1).max(0) as u64;
            packets += row.get::<_, Option<i64>>(2).unwrap_or(0).max(0) as u64;
            n += count;
            // Rows committed before track_commit_timestamp could see them have no
            // commit time; none are expected (it is on from initdb on).
            if let Some(ms) = ms {
                h.record_n((ms.max(0) as u64) * 1000 + 500, count)?;
            }
        }
        Ok((n, packets, h))
    }

    /// nfacctd: flows and packets in its table, the flush exporter's excluded.
    fn nfacctd_totals(&mut self) -> Result<(u64, u64)> {
        let row = self.db.query_one(
            "SELECT coalesce(sum(greatest(flows, 1)), 0)::bigint, coalesce(sum(packets), 0)::bigint \
             FROM acct_v9 WHERE peer_ip_src <> '127.0.0.99'",
            &[],
        )?;
        Ok((row.get::<_, i64>(0).max(0) as u64, row.get::<_, i64>(1).max(0) as u64))
    }

    fn stop(&mut self) {
        let sig = match self.kind {
            PeerKind::FlowVision | PeerKind::FlowVisionRelay | PeerKind::FlowVisionNoInsights => {
                Signal::SIGTERM
            }
            PeerKind::Nfacctd => Signal::SIGINT,
        };
        stop_child(&mut self.child, sig, Duration::from_secs(60));
    }
}

/// nfacctd's primitives, as issue 17 configured it: the 5-tuple, TOS, exporter, flow
/// times and the flow count. `BENCH_NFACCTD_AGGREGATE` replaces the list (keep
/// `peer_src_ip` and `flows`, which the counts read).
fn nfacctd_aggregate() -> String {
    std::env::var("BENCH_NFACCTD_AGGREGATE").unwrap_or_else(|_| {
        "src_host, dst_host, src_port, dst_port, proto, tos, peer_src_ip, timestamp_start, timestamp_end, flows"
            .to_string()
    })
}

fn scrape(addr: SocketAddr) -> Result<HashMap<String, u64>> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")?;
    let mut body = String::new();
    s.read_to_string(&mut body)?;
    let mut m = HashMap::new();
    for line in body.lines() {
        if line.starts_with('#') {
            continue;
        }
        if let Some((name, v)) = line.rsplit_once(' ') {
            if let Ok(v) = v.trim().parse::<u64>() {
                m.insert(name.to_string(), v);
            }
        }
    }
    Ok(m)
}

// ---------------------------------------------------------------------------------
// One step.

struct StepResult {
    rate: u64,
    sent: Sent,
    stored: u64,
    stored_packets: u64,
    drained_s: f64,
    latency: Histogram<u64>,
    kernel_drops: Option<u64>,
    queue_drops: Option<u64>,
    spooled: Option<u64>,
    /// The peer's CPU seconds over the step (send + drain), its child processes included.
    cpu_s: Option<f64>,
    /// PostgreSQL's CPU seconds over the step (every process of the cluster).
    pg_cpu_s: Option<f64>,
    /// WAL written over the step, bytes.
    wal_bytes: Option<i64>,
    /// `flowvision+relay`: datagrams the receiver got during the step, and datagrams
    /// the collector counted as sent by the relay.
    relayed: Option<(u64, u64)>,
}

impl StepResult {
    fn loss(&self) -> i64 {
        self.sent.flows as i64 - self.stored as i64
    }

    /// Every flow and every packet stored, none twice.
    fn lossless(&self) -> bool {
        self.sent.flows > 0 && self.loss() == 0 && self.stored_packets == self.sent.packets
    }

    /// Flows/s into PostgreSQL over the whole step: stored over send time plus drain.
    fn db_rate(&self) -> f64 {
        self.stored as f64 / (self.sent.elapsed_s + self.drained_s).max(1e-9)
    }

    /// Nothing missing: at least every flow and packet sent is stored (duplicates
    /// allowed).
    fn nothing_missing(&self) -> bool {
        self.sent.flows > 0 && self.stored >= self.sent.flows && self.stored_packets >= self.sent.packets
    }

    /// Whether the peer kept up with the rate rather than absorbing it in buffers, and
    /// everything stored soon after the end of the send. FlowVision: zero loss and no
    /// duplicate (its batches are stored exactly once), nothing spooled (it spools
    /// batches when the database is slower than ingest), stored within 5 s (batches
    /// leave within BATCH_MAX_AGE_MS). nfacctd: zero loss (issue 17's measure for it),
    /// read as generously as possible: nothing missing once its writes stop, however
    /// long after the load that is (the drain time is reported), and records it stored
    /// twice are reported (`duplicates`) but do not fail it.
    fn kept_up(&self, kind: PeerKind) -> bool {
        match kind {
            PeerKind::FlowVision | PeerKind::FlowVisionRelay | PeerKind::FlowVisionNoInsights => {
                self.lossless() && self.spooled.unwrap_or(0) == 0 && self.drained_s <= 5.0
            }
            PeerKind::Nfacctd => self.nothing_missing(),
        }
    }

    fn achieved(&self) -> f64 {
        self.sent.flows as f64 / self.sent.elapsed_s.max(1e-9)
    }

    fn q(&self, q: f64) -> f64 {
        if self.latency.is_empty() {
            return f64::NAN;
        }
        self.latency.value_at_quantile(q) as f64 / 1000.0
    }

    /// Peer CPU per flow stored, µs.
    fn cpu_us_per_flow(&self) -> Option<f64> {
        Some(self.cpu_s? * 1e6 / self.stored.max(1) as f64)
    }

    /// PostgreSQL CPU per flow stored, µs.
    fn pg_cpu_us_per_flow(&self) -> Option<f64> {
        Some(self.pg_cpu_s? * 1e6 / self.stored.max(1) as f64)
    }

    /// WAL bytes per flow stored.
    fn wal_per_flow(&self) -> Option<f64> {
        Some(self.wal_bytes? as f64 / self.stored.max(1) as f64)
    }

    fn line(&self, kind: PeerKind) -> String {
        let opt = |v: Option<u64>| v.map_or("-".to_string(), |v| v.to_string());
        format!(
            "| {} | {} | {:.0} | {} | {} | {} | {:.4}% | {} | {} | {} | {} | {} | {} | {} | {:.1} | {:.0} | {} | {} | {} | {} | {} |",
            kind.name(),
            self.rate,
            self.achieved(),
            self.sent.flows,
            self.stored,
            self.loss(),
            100.0 * self.loss() as f64 / self.sent.flows.max(1) as f64,
            self.sent.packets as i64 - self.stored_packets as i64,
            opt(self.kernel_drops),
            opt(self.queue_drops),
            opt(self.spooled),
            ms(self.q(0.5)),
            ms(self.q(0.99)),
            ms(self.q(0.999)),
            self.drained_s,
            self.db_rate(),
            if self.kept_up(kind) { "yes" } else { "no" },
            self.cpu_us_per_flow().map_or("-".to_string(), |v| format!("{v:.2}")),
            self.pg_cpu_us_per_flow().map_or("-".to_string(), |v| format!("{v:.2}")),
            self.wal_per_flow().map_or("-".to_string(), |v| format!("{v:.0}")),
            self.relayed.map_or("-".to_string(), |(got, sent)| format!("{got}/{sent}")),
        )
    }
}

/// A latency in ms, or "-" when not measured.
fn ms(v: f64) -> String {
    if v.is_nan() {
        "-".to_string()
    } else {
        format!("{v:.0}")
    }
}

fn drop_counters(peer: &Peer) -> (Option<u64>, Option<u64>, Option<u64>) {
    match peer.metrics.and_then(|m| scrape(m).ok()) {
        Some(m) => (
            m.get("flowvision_kernel_drops_total").copied(),
            m.get("flowvision_rows_dropped_total{reason=\"queue_full\"}").copied(),
            m.get("flowvision_store_batches_spooled_total").copied(),
        ),
        None => (None, None, None),
    }
}

fn run_step(
    peer: &mut Peer,
    sender: &mut Sender,
    pool: &Pool,
    rate: u64,
    dur: Duration,
    pg_pid: u32,
) -> Result<StepResult> {
    if let Ok(Some(st)) = peer.child.try_wait() {
        bail!(
            "{} exited ({st}): {}",
            peer.kind.name(),
            std::fs::read_to_string(&peer.log).unwrap_or_default()
        );
    }
    let (k0, q0, s0) = drop_counters(peer);
    let stored0 = peer.stored()?;
    if peer.kind == PeerKind::Nfacctd {
        peer.base = peer.nfacctd_totals()?;
    }
    let cpu0 = tree_cpu_s(peer.pid());
    let pg_cpu0 = tree_cpu_s(pg_pid);
    let wal0 = wal_position(&mut peer.db);
    let relay0 = relay_counters(peer);
    // Receive times are stored in whole milliseconds (truncated): start the window a
    // little earlier so the first datagram's rows fall inside it. The previous step's
    // rows were all stored (drained) well before.
    let since = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs_f64() - 0.005;
    let sent = sender.send(pool, rate, dur);
    let flushed = sender.flush(pool);
    // The collector's counter includes the flush rows; nfacctd's query excludes them.
    let expect = match peer.kind {
        PeerKind::FlowVision | PeerKind::FlowVisionRelay | PeerKind::FlowVisionNoInsights => {
            sent.flows + flushed
        }
        PeerKind::Nfacctd => sent.flows,
    };
    // Drain: until everything sent is stored, or nothing more arrives for a while.
    let t = Instant::now();
    let quiet = match peer.kind {
        PeerKind::FlowVision | PeerKind::FlowVisionRelay | PeerKind::FlowVisionNoInsights => {
            Duration::from_secs(5)
        }
        PeerKind::Nfacctd => Duration::from_secs(2 * NFACCTD_REFRESH_S + 5),
    };
    let poll = match peer.kind {
        PeerKind::FlowVision | PeerKind::FlowVisionRelay | PeerKind::FlowVisionNoInsights => {
            Duration::from_millis(250)
        }
        PeerKind::Nfacctd => Duration::from_secs(1),
    };
    let mut last = stored0;
    let mut last_change = Instant::now();
    loop {
        let now = peer.stored()?;
        if now != last {
            last = now;
            last_change = Instant::now();
        }
        if now.saturating_sub(stored0) >= expect
            || last_change.elapsed() > quiet
            || t.elapsed() > Duration::from_secs(300)
        {
            break;
        }
        std::thread::sleep(poll);
    }
    let drained_s = t.elapsed().as_secs_f64();
    let cpu1 = tree_cpu_s(peer.pid());
    let pg_cpu1 = tree_cpu_s(pg_pid);
    let wal1 = wal_position(&mut peer.db);
    if peer.sink.is_some() {
        // The relay's queue drains in well under a second at these rates.
        std::thread::sleep(Duration::from_millis(500));
    }
    let relay1 = relay_counters(peer);
    let (k1, q1, s1) = drop_counters(peer);
    let (stored, stored_packets, latency) = peer.landed_since(since)?;
    let sub = |a: Option<u64>, b: Option<u64>| Some(b?.saturating_sub(a?));
    Ok(StepResult {
        rate,
        sent,
        stored,
        stored_packets,
        drained_s,
        latency,
        kernel_drops: sub(k0, k1),
        queue_drops: sub(q0, q1),
        spooled: sub(s0, s1),
        cpu_s: cpu0.zip(cpu1).map(|(a, b)| b - a),
        pg_cpu_s: pg_cpu0.zip(pg_cpu1).map(|(a, b)| b - a),
        wal_bytes: wal0.zip(wal1).map(|(a, b)| b - a),
        relayed: relay0.zip(relay1).map(|(a, b)| (b.0.saturating_sub(a.0), b.1.saturating_sub(a.1))),
    })
}

/// (datagrams the sink received, datagrams the relay counted as sent).
fn relay_counters(peer: &Peer) -> Option<(u64, u64)> {
    let sink = peer.sink.as_ref()?;
    let m = scrape(peer.metrics?).ok()?;
    let sent = m
        .iter()
        .filter(|(k, _)| k.starts_with("flowvision_forward_destination_sent_datagrams_total"))
        .map(|(_, v)| *v)
        .sum();
    Some((sink.count(), sent))
}

// ---------------------------------------------------------------------------------
// Report.

/// The highest rate at which every run kept up, with its runs.
fn sustained(kind: PeerKind, rows: &[StepResult]) -> Option<(u64, Vec<&StepResult>)> {
    let mut rates: Vec<u64> = rows.iter().map(|r| r.rate).collect();
    rates.dedup();
    rates
        .into_iter()
        .filter_map(|rate| {
            let runs: Vec<&StepResult> = rows.iter().filter(|r| r.rate == rate).collect();
            runs.iter().all(|r| r.kept_up(kind)).then_some((rate, runs))
        })
        .max_by_key(|(rate, _)| *rate)
}

fn report(opts: &Options, results: &[Outcome]) -> String {
    let mut s = String::new();
    let settings: Vec<String> = PG_SETTINGS.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let _ = writeln!(
        s,
        "\nIngest benchmark: loopback, {} s per step, {} run(s) per rate{}\nPostgreSQL (both peers): {}\n\
         socket buffer {} bytes (both peers); nfacctd aggregate: {}\n",
        opts.step.as_secs(),
        opts.repeats,
        if opts.quick { " (--quick: smoke run, not a measurement)" } else { "" },
        settings.join(", "),
        RCVBUF,
        nfacctd_aggregate(),
    );
    for &protocol in &opts.protocols {
        let _ = writeln!(s, "## {}\n", protocol_name(protocol));
        let _ = writeln!(
            s,
            "| peer | target flows/s | sent flows/s | sent | stored | loss | loss % | packets lost \
             | kernel drops | queue drops | batches spooled | p50 ms | p99 ms | p99.9 ms | drain s \
             | flows/s into PG | kept up (nfacctd: zero loss) | peer CPU µs/flow | PostgreSQL CPU µs/flow | WAL B/flow | relayed (received/sent) |"
        );
        let _ = writeln!(
            s,
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
        );
        let of_protocol: Vec<&Outcome> = results.iter().filter(|o| o.protocol == protocol).collect();
        for o in of_protocol.iter().filter(|o| o.ceiling.is_none()) {
            for r in &o.rows {
                let _ = writeln!(s, "{}", r.line(o.kind));
            }
        }
        let _ = writeln!(s);
        let mut top = HashMap::new();
        for o in of_protocol.iter().filter(|o| o.ceiling.is_none()) {
            match sustained(o.kind, &o.rows) {
                Some((rate, runs)) => {
                    let med = |f: &dyn Fn(&StepResult) -> Option<f64>| {
                        median(runs.iter().filter_map(|r| f(r)).collect())
                    };
                    let achieved = med(&|r| Some(r.achieved()));
                    let _ = writeln!(
                        s,
                        "{}: highest rate {} in every run: {} flows/s (median achieved {:.0}, into PostgreSQL {:.0} flows/s; \
                         peer CPU {:.2} µs/flow, PostgreSQL CPU {:.2} µs/flow, WAL {:.0} B/flow){}",
                        o.kind.name(),
                        if o.kind == PeerKind::Nfacctd {
                            "with zero loss"
                        } else {
                            "sustained (zero loss, nothing spooled, stored within 5 s)"
                        },
                        rate,
                        achieved,
                        med(&|r| Some(r.db_rate())),
                        med(&|r| r.cpu_us_per_flow()),
                        med(&|r| r.pg_cpu_us_per_flow()),
                        med(&|r| r.wal_per_flow()),
                        if o.rows.last().is_some_and(|l| l.kept_up(o.kind)) {
                            " — every run kept up: the ceiling is above the highest rate tried"
                        } else {
                            ""
                        }
                    );
                    let dupes: i64 = runs.iter().map(|r| (-r.loss()).max(0)).sum();
                    if dupes > 0 {
                        let _ = writeln!(
                            s,
                            "  ({} stored {dupes} flows more than were sent in these runs)",
                            o.kind.name()
                        );
                    }
                    top.insert(o.kind, achieved);
                }
                None => {
                    let _ = writeln!(s, "{}: no rate sustained", o.kind.name());
                }
            }
        }
        if let (Some(a), Some(b)) = (top.get(&PeerKind::FlowVision), top.get(&PeerKind::Nfacctd)) {
            let _ = writeln!(
                s,
                "ratio flowvision / nfacctd (flowvision sustained / nfacctd zero loss): {:.2}x",
                a / b
            );
        }
        if let (Some(a), Some(b)) = (top.get(&PeerKind::FlowVision), top.get(&PeerKind::FlowVisionRelay)) {
            let _ = writeln!(
                s,
                "forwarding: highest sustained rate with a raw rule relaying every datagram / without: {:.3} \
                 (cost {:.1} % of ingest throughput)",
                b / a,
                (1.0 - b / a) * 100.0
            );
        }
        if let (Some(a), Some(b)) = (top.get(&PeerKind::FlowVision), top.get(&PeerKind::FlowVisionNoInsights))
        {
            let _ = writeln!(
                s,
                "insights at ingest: highest sustained rate with the features and beacon tracker / without: {:.3} \
                 (cost {:.1} % of ingest throughput; compare the per-step CPU and WAL per flow above)",
                a / b,
                (1.0 - a / b) * 100.0
            );
        }
        for c in of_protocol.iter().filter_map(|o| o.ceiling.as_ref()) {
            let (rate, wal, cpu) = c.median();
            let _ = writeln!(
                s,
                "bare COPY of {} of the same rows into an unindexed table (median of {} runs): {:.0} rows/s, \
                 WAL {:.0} B/row, PostgreSQL CPU {:.2} µs/row{}",
                c.rows,
                c.runs.len(),
                rate,
                wal,
                cpu,
                top.get(&PeerKind::FlowVision)
                    .map(|fv| format!("; flowvision's sustained rate is {:.0} % of it", 100.0 * fv / rate))
                    .unwrap_or_default()
            );
        }
        let _ = writeln!(s);
    }
    s
}
