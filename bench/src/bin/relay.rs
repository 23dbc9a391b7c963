//! Relay benchmark: what forwarding costs the collector's ingest, in one run, with
//! interleaved repetitions and median figures (docs/relay.md "Benchmark").
//!
//! Scenarios: no rules (the baseline; forwarding costs one atomic load per datagram),
//! raw forwarding (`proto tcp` and `any`: with ~16 flows per datagram both forward
//! nearly every datagram), re-encoding to IPFIX (`proto tcp`). The destination is a
//! `recvmmsg` reader on loopback.
//!
//! The worker thread receives over a real UDP socket bound like the daemon's
//! (`bind_port`) with the collector's own `UdpReceiver` and runs the daemon's worker
//! loop (`recvmmsg`, handle each datagram, `tick`, fold counters every 100 ms), pinned
//! to CPU 0 as the daemon pins its workers. An exporter thread sends with `sendmmsg`.
//! Three feeds:
//!
//! - `burst` (the headline): the exporter puts [`BURST`] datagrams into the socket, the
//!   worker drains them (full receive batches, as at capacity), and so on. The worker's
//!   CPU per flow is then one core's ingest capacity; there is no wall-clock rate.
//! - `udp`: the exporter sends continuously, at most [`WINDOW`] datagrams ahead (the
//!   socket buffer never overflows), or at `RELAY_BENCH_RATE` flows/s. Receive batches
//!   are as full as the race between the threads makes them.
//! - `memory`: `Pipeline::handle` on datagrams in memory, no receive system calls.
//!
//! CPU per thread comes from `/proc/.../schedstat` (time on a CPU, whatever else runs):
//! the worker, the destinations' sender threads (`fwd-*`), the exporter, the reader.
//!
//! `cargo run --release -p flowvision-bench --bin relay [-- FLOWS ROUNDS REPS]` (`-- --help`);
//! `RELAY_BENCH_MODE=burst|udp|memory` (default: all three), `RELAY_BENCH_ONLY=<part
//! of a scenario name>` (for `perf`), `RELAY_BENCH_RATE=<flows/s>` (paced `udp`),
//! `RELAY_BENCH_DEST=<host:port>` (forward there instead of to the loopback reader;
//! docs/relay.md shows a veth pair in a network namespace for this),
//! `RELAY_BENCH_SPLIT=1` (every thread but the worker on CPU 1), `RELAY_BENCH_PIN=0`
//! (worker not pinned).

use clap::Parser;
use flowvision_bench::workload;
use flowvision_codec::{Decoder, Protocol, TemplateCache, TemplateCacheConfig};
use flowvision_collector::clock::now_ms;
use flowvision_collector::forward::multisend::MultiSender;
use flowvision_collector::forward::{Relay, Rule};
use flowvision_collector::ingest::udp::{bind_port, UdpReceiver, BATCH};
use flowvision_collector::pipeline::{Pipeline, WorkerSettings};
use flowvision_collector::store::Batch;
use flowvision_collector::telemetry::Counters;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

// The collector binary's allocator: worker-allocated, writer-freed batches cost what
// they cost in the daemon.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Datagrams the exporter keeps in flight at most (sent, not yet handled by the
/// worker): about 4 MB, well inside the 8 MB the kernel grants a 4 MB SO_RCVBUF.
const WINDOW: u64 = 1536;

struct Scenario {
    name: &'static str,
    rule: Option<(&'static str, Option<&'static str>)>,
}

const SCENARIOS: [Scenario; 4] = [
    Scenario { name: "no forwarding", rule: None },
    Scenario { name: "raw, proto tcp", rule: Some(("proto tcp", None)) },
    Scenario { name: "raw, any", rule: Some(("any", None)) },
    Scenario { name: "re-encode ipfix, proto tcp", rule: Some(("proto tcp", Some("ipfix"))) },
];

#[derive(Clone, Copy, PartialEq)]
enum Feed {
    /// The exporter sends a burst into the worker's socket, then the worker drains it.
    Burst,
    /// The exporter sends continuously, at most `WINDOW` datagrams ahead.
    Udp,
    Memory,
}

/// Datagrams per burst (about 3 MB of socket buffer on loopback, within the 8 MB the
/// kernel grants a 4 MB SO_RCVBUF).
const BURST: usize = 1024;

/// One run of one scenario.
#[derive(Debug, Clone, Default)]
struct Measurement {
    /// Flows the worker handled (stored rows).
    flows: f64,
    /// Flows per second of wall time, first data datagram sent to last one handled.
    wall_rate: f64,
    /// Flows per second of the worker thread's own CPU time.
    worker_rate: f64,
    /// CPU nanoseconds per flow: worker, destination sender threads, exporter, reader.
    worker_ns: f64,
    fwd_ns: f64,
    exporter_ns: f64,
    sink_ns: f64,
    /// CPU nanoseconds per flow of every thread of the benchmark (the above, and the
    /// thread standing in for the writers).
    process_ns: f64,
    /// Destination sender CPU per datagram it sent.
    fwd_per_datagram: f64,
    /// Flows leaving the relay per second (first datagram in to queue drained).
    relay_rate: f64,
    /// Datagrams the destination sent, and the reader received.
    out: f64,
    received: f64,
    /// Entries the relay dropped (queue full, send errors).
    dropped: f64,
    /// Datagrams the worker never got (kernel receive-buffer overflow).
    ingest_lost: f64,
    /// Datagrams per `recvmmsg` call: fuller batches spread the receive calls' cost
    /// over more datagrams, so the worker's CPU per flow depends on it.
    per_recv: f64,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v.get(n / 2).copied().unwrap_or(0.0),
        n => (v.get(n / 2 - 1).copied().unwrap_or(0.0) + v.get(n / 2).copied().unwrap_or(0.0)) / 2.0,
    }
}

fn medians(ms: &[Measurement]) -> Measurement {
    let m = |f: fn(&Measurement) -> f64| median(ms.iter().map(f).collect());
    Measurement {
        flows: m(|x| x.flows),
        wall_rate: m(|x| x.wall_rate),
        worker_rate: m(|x| x.worker_rate),
        worker_ns: m(|x| x.worker_ns),
        fwd_ns: m(|x| x.fwd_ns),
        exporter_ns: m(|x| x.exporter_ns),
        sink_ns: m(|x| x.sink_ns),
        process_ns: m(|x| x.process_ns),
        fwd_per_datagram: m(|x| x.fwd_per_datagram),
        relay_rate: m(|x| x.relay_rate),
        out: m(|x| x.out),
        received: m(|x| x.received),
        dropped: m(|x| x.dropped),
        ingest_lost: m(|x| x.ingest_lost),
        per_recv: m(|x| x.per_recv),
    }
}

/// Nanoseconds this thread has run on a CPU.
fn thread_cpu_ns() -> u64 {
    schedstat("/proc/thread-self/schedstat")
}

fn schedstat(path: &str) -> u64 {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

/// CPU nanoseconds of this process's live threads whose name starts with `prefix`.
fn tasks_cpu_ns(prefix: &str) -> u64 {
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else { return 0 };
    dir.filter_map(|e| e.ok())
        .filter(|e| {
            std::fs::read_to_string(e.path().join("comm")).map(|c| c.starts_with(prefix)).unwrap_or(false)
        })
        .map(|e| schedstat(&e.path().join("schedstat").to_string_lossy()))
        .sum()
}

fn spawn<T: Send + 'static>(
    name: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> anyhow::Result<JoinHandle<T>> {
    let others = name != "worker";
    Ok(std::thread::Builder::new().name(name.to_string()).spawn(move || {
        if others && split() {
            pin(nix::unistd::Pid::from_raw(0), 1);
        }
        f()
    })?)
}

fn join<T>(h: JoinHandle<T>) -> anyhow::Result<T> {
    h.join().map_err(|_| anyhow::anyhow!("a benchmark thread panicked"))
}

/// The downstream collector: a `recvmmsg` reader counting datagrams.
struct Sink {
    addr: SocketAddr,
    received: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: JoinHandle<u64>,
}

impl Sink {
    fn start() -> anyhow::Result<Sink> {
        let s = bind_port(0, 4 << 20)?;
        let addr = SocketAddr::from(([127, 0, 0, 1], s.local_addr()?.port()));
        let received = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (c, st) = (Arc::clone(&received), Arc::clone(&stop));
        let thread = spawn("sink", move || {
            let cpu0 = thread_cpu_ns();
            let mut rx = UdpReceiver::new(vec![s]);
            while !st.load(Ordering::Relaxed) {
                if let Ok(n) = rx.recv(Duration::from_millis(20)) {
                    c.fetch_add(n as u64, Ordering::Relaxed);
                }
            }
            thread_cpu_ns().saturating_sub(cpu0)
        })?;
        Ok(Sink { addr, received, stop, thread })
    }

    /// Waits until nothing more arrives, stops; returns (received, reader CPU ns).
    fn finish(self) -> anyhow::Result<(u64, u64)> {
        let mut last = u64::MAX;
        loop {
            let now = self.received.load(Ordering::Relaxed);
            if now == last {
                break;
            }
            last = now;
            std::thread::sleep(Duration::from_millis(30));
        }
        self.stop.store(true, Ordering::Relaxed);
        let cpu = join(self.thread)?;
        Ok((self.received.load(Ordering::Relaxed), cpu))
    }
}

fn pipeline(relay: &Arc<Relay>, tx: crossbeam_channel::Sender<Batch>) -> Pipeline {
    // The daemon's defaults (BATCH_ROWS, BATCH_MAX_AGE_MS).
    let settings = WorkerSettings {
        batch_rows: 65_536,
        batch_max_age: Duration::from_millis(1000),
        sampling: Arc::new(Vec::new()),
        instance: 1,
        batch_seq: Arc::new(AtomicU64::new(0)),
        relay: Arc::clone(relay),
        // The stand-in writer frees batches, as the store did before it recycled them.
        row_pool: None,
    };
    let cache = Arc::new(TemplateCache::new(TemplateCacheConfig::default()));
    Pipeline::new(Decoder::with_cache(cache), tx, Arc::new(Counters::default()), settings)
}

/// Pins the calling thread to CPU 0, as the daemon pins worker `i` to core `i`
/// (`RELAY_BENCH_PIN=0` leaves it to the scheduler). The other threads are not pinned:
/// the daemon does not pin destination sender threads either.
fn pin_worker() {
    if std::env::var("RELAY_BENCH_PIN").as_deref() != Ok("0") {
        pin(nix::unistd::Pid::from_raw(0), 0);
    }
}

/// `RELAY_BENCH_SPLIT=1`: every other thread (exporter, reader, the destinations'
/// sender threads) on CPU 1, so the worker has CPU 0 to itself. Not the daemon's
/// placement (it runs one worker per core); it shows what forwarding costs the worker
/// itself, without the cache pollution of sharing its core with the sender.
fn split() -> bool {
    std::env::var("RELAY_BENCH_SPLIT").as_deref() == Ok("1")
}

fn pin(task: nix::unistd::Pid, cpu: usize) {
    let mut set = nix::sched::CpuSet::new();
    if set.set(cpu).is_ok() {
        let _ = nix::sched::sched_setaffinity(task, &set);
    }
}

/// Pins this process's threads named `prefix...` to `cpu`, waiting up to 200 ms for
/// one to appear (a new thread names itself after it starts).
fn pin_tasks(prefix: &str, cpu: usize) {
    let deadline = Instant::now() + Duration::from_millis(200);
    loop {
        let mut found = false;
        if let Ok(dir) = std::fs::read_dir("/proc/self/task") {
            for e in dir.filter_map(|e| e.ok()) {
                let named =
                    std::fs::read_to_string(e.path().join("comm")).is_ok_and(|c| c.starts_with(prefix));
                let tid = e.file_name().to_string_lossy().parse::<i32>().ok();
                if let (true, Some(tid)) = (named, tid) {
                    pin(nix::unistd::Pid::from_raw(tid), cpu);
                    found = true;
                }
            }
        }
        if found || Instant::now() >= deadline {
            return;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// What the worker thread reports.
struct WorkerEnd {
    cpu_ns: u64,
    last: Instant,
    /// Datagrams per receive call that returned any (the memory feed: its chunk).
    per_recv: f64,
}

fn run(
    s: &Scenario,
    feed: Feed,
    enc: &Arc<workload::Datagrams>,
    rounds: usize,
) -> anyhow::Result<Measurement> {
    let relay = Relay::new();
    let sink = Sink::start()?;
    // RELAY_BENCH_DEST: forward elsewhere than the loopback reader, e.g. to an address
    // behind a veth whose peer drops what it is given (docs/relay.md): the relay's
    // transmit path, without the receiver's delivery that loopback adds to it.
    let dest = std::env::var("RELAY_BENCH_DEST").unwrap_or_else(|_| sink.addr.to_string());
    if let Some((filter, reencode)) = s.rule {
        let rule = Rule::from_columns(
            "bench",
            filter,
            Some(&dest),
            if reencode.is_some() { "reencode" } else { "raw" },
            reencode,
            false,
        )?;
        relay.install(vec![rule]);
        if split() {
            pin_tasks("fwd-", 1);
        }
    }
    let (tx, rx) = crossbeam_channel::bounded::<Batch>(1024);
    let drain = spawn("drain", move || {
        let cpu0 = thread_cpu_ns();
        let rows = rx.iter().map(|b| b.rows.len()).sum::<usize>();
        (rows, thread_cpu_ns().saturating_sub(cpu0))
    })?;
    let mut pipeline = pipeline(&relay, tx);
    let total_datagrams = (enc.data.len() * rounds) as u64;
    let handled = Arc::new(AtomicU64::new(0));
    let (start, end, exporter_cpu) = match feed {
        Feed::Memory => {
            let src = SocketAddr::from(([192, 0, 2, 1], 40000));
            for t in &enc.templates {
                pipeline.handle(src, t, workload::EXPORT_MS);
            }
            let enc = Arc::clone(enc);
            let worker = spawn("worker", move || {
                pin_worker();
                let cpu0 = thread_cpu_ns();
                let start = Instant::now();
                for _ in 0..rounds {
                    for chunk in enc.data.chunks(BATCH) {
                        let now = now_ms();
                        for d in chunk {
                            pipeline.handle(src, d, now);
                        }
                        pipeline.tick();
                    }
                }
                let last = Instant::now();
                pipeline.send_batch();
                pipeline.flush_counters();
                let per_recv = BATCH as f64;
                (start, WorkerEnd { cpu_ns: thread_cpu_ns().saturating_sub(cpu0), last, per_recv })
            })?;
            let (start, end) = join(worker)?;
            handled.store(total_datagrams, Ordering::Relaxed);
            (start, end, 0)
        }
        Feed::Burst => {
            let socket = bind_port(0, 4 << 20)?;
            let port = socket.local_addr()?.port();
            let (go_tx, go_rx) = crossbeam_channel::bounded::<u64>(1);
            let (done_tx, done_rx) = crossbeam_channel::bounded::<u64>(1);
            let worker = {
                let handled = Arc::clone(&handled);
                spawn("worker", move || {
                    burst_worker(UdpReceiver::new(vec![socket]), pipeline, &handled, &go_rx, &done_tx)
                })?
            };
            let exporter = {
                let enc = Arc::clone(enc);
                spawn("exporter", move || burst_exporter(&enc, rounds, port, go_tx, &done_rx))?
            };
            let (start, exporter_cpu) = join(exporter)??;
            let end = join(worker)?;
            (start, end, exporter_cpu)
        }
        Feed::Udp => {
            let socket = bind_port(0, 4 << 20)?;
            let port = socket.local_addr()?.port();
            let stop = Arc::new(AtomicBool::new(false));
            let target = (enc.templates.len() as u64) + total_datagrams;
            let worker = {
                let (handled, stop) = (Arc::clone(&handled), Arc::clone(&stop));
                spawn("worker", move || {
                    worker_loop(UdpReceiver::new(vec![socket]), pipeline, &handled, target, &stop)
                })?
            };
            let exporter = {
                let (enc, handled) = (Arc::clone(enc), Arc::clone(&handled));
                spawn("exporter", move || exporter(&enc, rounds, port, &handled))?
            };
            let (start, exporter_cpu) = join(exporter)??;
            // Whatever the kernel dropped never comes: stop once nothing moves.
            let mut last = u64::MAX;
            while handled.load(Ordering::Relaxed) < target {
                let now = handled.load(Ordering::Relaxed);
                if now == last {
                    break;
                }
                last = now;
                std::thread::sleep(Duration::from_millis(200));
            }
            stop.store(true, Ordering::Release);
            let end = join(worker)?;
            (start, end, exporter_cpu)
        }
    };
    let (stored, drain_cpu) = join(drain)?;
    let flows = stored as f64;
    let datagram_flows = enc.records as f64 / enc.data.len() as f64;
    let lost = total_datagrams.saturating_sub(handled.load(Ordering::Relaxed).min(total_datagrams));
    if lost == 0 {
        anyhow::ensure!(stored == enc.records * rounds, "stored {stored} of {}", enc.records * rounds);
    }
    let mut m = Measurement {
        flows,
        // Bursts take turns with the exporter by design: no wall-clock rate.
        wall_rate: if feed == Feed::Burst {
            0.0
        } else {
            flows / end.last.duration_since(start).as_secs_f64().max(1e-9)
        },
        worker_rate: flows / (end.cpu_ns as f64 / 1e9).max(1e-9),
        worker_ns: end.cpu_ns as f64 / flows,
        exporter_ns: exporter_cpu as f64 / flows,
        ingest_lost: lost as f64,
        per_recv: end.per_recv,
        ..Measurement::default()
    };
    let rules = relay.rules();
    if let Some(dest) = rules.rules.first().and_then(|r| r.destination.clone()) {
        while dest.queue_len() > 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
        let done = start.elapsed();
        let st = &dest.stats;
        let sent = st.sent_datagrams.load(Ordering::Relaxed) as f64;
        let forwarded = match s.rule {
            Some((_, Some(_))) => st.sent_records.load(Ordering::Relaxed) as f64,
            // Raw: the flows inside the datagrams sent.
            _ => sent * datagram_flows,
        };
        m.relay_rate = forwarded / done.as_secs_f64();
        m.out = sent;
        m.dropped = (st.workers.dropped_queue_full.load(Ordering::Relaxed)
            + st.dropped_send_error.load(Ordering::Relaxed)
            + st.dropped_unreachable.load(Ordering::Relaxed)) as f64;
        // Read before shutdown: the sender thread is gone afterwards.
        let fwd = tasks_cpu_ns("fwd-") as f64;
        m.fwd_ns = fwd / flows;
        m.fwd_per_datagram = fwd / sent.max(1.0);
    }
    relay.shutdown(Duration::from_secs(2));
    let (received, sink_cpu) = sink.finish()?;
    m.received = received as f64;
    m.sink_ns = sink_cpu as f64 / flows;
    m.process_ns = m.worker_ns + m.fwd_ns + m.exporter_ns + m.sink_ns + drain_cpu as f64 / flows;
    Ok(m)
}

/// The daemon's worker loop (`Worker::run`), counting handled datagrams for the
/// exporter's window. Returns the thread's CPU time and when the last datagram came.
fn worker_loop(
    mut receiver: UdpReceiver,
    mut pipeline: Pipeline,
    handled: &AtomicU64,
    target: u64,
    stop: &AtomicBool,
) -> WorkerEnd {
    pin_worker();
    let cpu0 = thread_cpu_ns();
    let mut last_flush = Instant::now();
    let mut last = Instant::now();
    let mut count = 0u64;
    let mut calls = 0u64;
    loop {
        let n = receiver.recv(Duration::from_millis(50)).unwrap_or(0);
        if n > 0 {
            let now = now_ms();
            for i in 0..n {
                if let Some((src, payload)) = receiver.datagram(i) {
                    pipeline.handle(src, payload, now);
                }
            }
        }
        pipeline.tick();
        if last_flush.elapsed() >= Duration::from_millis(100) {
            pipeline.flush_counters();
            last_flush = Instant::now();
        }
        if n > 0 {
            count += n as u64;
            calls += 1;
            handled.store(count, Ordering::Release);
            last = Instant::now();
        }
        if count >= target || (n == 0 && stop.load(Ordering::Acquire)) {
            break;
        }
    }
    pipeline.send_batch();
    pipeline.flush_counters();
    let per_recv = count as f64 / calls.max(1) as f64;
    WorkerEnd { cpu_ns: thread_cpu_ns().saturating_sub(cpu0), last, per_recv }
}

/// The daemon's worker loop over one burst at a time: waits (blocked, no CPU) for the
/// exporter's word that a burst is in the socket, then receives, handles and ticks
/// until it has the burst (full 64-datagram receive batches, as a worker at capacity
/// sees them), and says so.
fn burst_worker(
    mut receiver: UdpReceiver,
    mut pipeline: Pipeline,
    handled: &AtomicU64,
    go: &crossbeam_channel::Receiver<u64>,
    done: &crossbeam_channel::Sender<u64>,
) -> WorkerEnd {
    pin_worker();
    let cpu0 = thread_cpu_ns();
    let mut last_flush = Instant::now();
    let mut last = Instant::now();
    let (mut count, mut calls) = (0u64, 0u64);
    while let Ok(want) = go.recv() {
        let mut got = 0u64;
        while got < want {
            let n = receiver.recv(Duration::from_millis(50)).unwrap_or(0);
            if n == 0 {
                // Nothing for 50 ms: the rest was lost (counted by the caller).
                break;
            }
            let now = now_ms();
            for i in 0..n {
                if let Some((src, payload)) = receiver.datagram(i) {
                    pipeline.handle(src, payload, now);
                }
            }
            pipeline.tick();
            if last_flush.elapsed() >= Duration::from_millis(100) {
                pipeline.flush_counters();
                last_flush = Instant::now();
            }
            got += n as u64;
            calls += 1;
        }
        count += got;
        handled.store(count, Ordering::Release);
        last = Instant::now();
        if done.send(got).is_err() {
            break;
        }
    }
    pipeline.send_batch();
    pipeline.flush_counters();
    let per_recv = count as f64 / calls.max(1) as f64;
    WorkerEnd { cpu_ns: thread_cpu_ns().saturating_sub(cpu0), last, per_recv }
}

/// Sends the templates, then the data `rounds` times, in bursts of [`BURST`]
/// datagrams, each once the worker has drained the one before.
fn burst_exporter(
    enc: &workload::Datagrams,
    rounds: usize,
    port: u16,
    go: crossbeam_channel::Sender<u64>,
    done: &crossbeam_channel::Receiver<u64>,
) -> anyhow::Result<(Instant, u64)> {
    let s = UdpSocket::bind("127.0.0.1:0")?;
    s.connect(("127.0.0.1", port))?;
    let _ = socket2::SockRef::from(&s).set_send_buffer_size(4 << 20);
    let mut ms = MultiSender::new();
    let mut errors = 0u64;
    let mut burst = |datagrams: &[&[u8]], errors: &mut u64| -> anyhow::Result<()> {
        let mut count = |_: usize, _: &[u8], r: std::io::Result<()>| *errors += u64::from(r.is_err());
        ms.send_connected(&s, datagrams.iter().copied(), &mut count);
        go.send(datagrams.len() as u64)?;
        done.recv()?;
        Ok(())
    };
    let templates: Vec<&[u8]> = enc.templates.iter().map(|d| d.as_slice()).collect();
    burst(&templates, &mut errors)?;
    let cpu0 = thread_cpu_ns();
    let start = Instant::now();
    let mut pending: Vec<&[u8]> = Vec::with_capacity(BURST);
    for d in (0..rounds).flat_map(|_| enc.data.iter()) {
        pending.push(d);
        if pending.len() == BURST {
            burst(&pending, &mut errors)?;
            pending.clear();
        }
    }
    if !pending.is_empty() {
        burst(&pending, &mut errors)?;
    }
    anyhow::ensure!(errors == 0, "exporter: {errors} send errors");
    Ok((start, thread_cpu_ns().saturating_sub(cpu0)))
}

/// Sends the templates, waits for them to be handled, then the data `rounds` times
/// with `sendmmsg`, at most [`WINDOW`] datagrams ahead of the worker (or paced at
/// `RELAY_BENCH_RATE` flows/s). Returns when the data started and the thread's CPU.
fn exporter(
    enc: &workload::Datagrams,
    rounds: usize,
    port: u16,
    handled: &AtomicU64,
) -> anyhow::Result<(Instant, u64)> {
    let s = UdpSocket::bind("127.0.0.1:0")?;
    s.connect(("127.0.0.1", port))?;
    let _ = socket2::SockRef::from(&s).set_send_buffer_size(4 << 20);
    let mut ms = MultiSender::new();
    let mut errors = 0u64;
    let mut count = |_: usize, _: &[u8], r: std::io::Result<()>| errors += u64::from(r.is_err());
    ms.send_connected(&s, enc.templates.iter().map(|d| d.as_slice()), &mut count);
    let templates = enc.templates.len() as u64;
    while handled.load(Ordering::Acquire) < templates {
        std::thread::sleep(Duration::from_millis(1));
    }
    let rate: Option<f64> = std::env::var("RELAY_BENCH_RATE").ok().and_then(|r| r.parse().ok());
    let per_datagram = enc.records as f64 / enc.data.len() as f64;
    let cpu0 = thread_cpu_ns();
    let start = Instant::now();
    let mut sent = templates;
    for _ in 0..rounds {
        for chunk in enc.data.chunks(32) {
            match rate {
                Some(r) => {
                    let due = start + Duration::from_secs_f64((sent - templates) as f64 * per_datagram / r);
                    let now = Instant::now();
                    if due > now {
                        std::thread::sleep(due - now);
                    }
                }
                None => {
                    while sent.saturating_sub(handled.load(Ordering::Acquire)) > WINDOW {
                        std::thread::sleep(Duration::from_micros(50));
                    }
                }
            }
            ms.send_connected(&s, chunk.iter().map(|d| d.as_slice()), &mut count);
            sent += chunk.len() as u64;
        }
    }
    anyhow::ensure!(errors == 0, "exporter: {errors} send errors");
    Ok((start, thread_cpu_ns().saturating_sub(cpu0)))
}

fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

fn report(feed: Feed, results: &[Vec<Measurement>]) {
    let med: Vec<Measurement> = results.iter().map(|r| medians(r)).collect();
    let Some(base) = med.first().cloned() else { return };
    let title = match feed {
        Feed::Burst => "UDP feed, worker at capacity (bursts of 1024 datagrams, full receive batches)",
        Feed::Udp => {
            "UDP feed, continuous (exporter at most 1536 datagrams ahead; receive batches as they come)"
        }
        Feed::Memory => "in-memory feed (Pipeline::handle, no receive syscalls)",
    };
    println!("\n{title}: medians of {} interleaved runs", results.first().map_or(0, |r| r.len()));
    println!(
        "{:<27} {:>10} {:>6} {:>10} {:>6} {:>6} {:>6} {:>7} {:>6} {:>6} {:>6} {:>7} {:>6} {:>9} {:>7} {:>7} {:>5}",
        "scenario",
        "worker f/s",
        "cost",
        "wall f/s",
        "cost",
        "wrk ns",
        "fwd ns",
        "coll ns",
        "cost",
        "exp ns",
        "sink",
        "proc ns",
        "cost",
        "relay f/s",
        "dgr out",
        "dropped",
        "lost"
    );
    for (s, m) in SCENARIOS.iter().zip(&med) {
        let collector = m.worker_ns + m.fwd_ns;
        let base_collector = base.worker_ns + base.fwd_ns;
        println!(
            "{:<27} {:>10.0} {:>6} {:>10} {:>6} {:>6.1} {:>6.1} {:>7.1} {:>6} {:>6.1} {:>6.1} {:>7.1} {:>6} {:>9.0} {:>7.0} {:>7.0} {:>5.0}",
            s.name,
            m.worker_rate,
            pct(1.0 - m.worker_rate / base.worker_rate),
            if m.wall_rate > 0.0 { format!("{:.0}", m.wall_rate) } else { "-".into() },
            if m.wall_rate > 0.0 { pct(1.0 - m.wall_rate / base.wall_rate) } else { "-".into() },
            m.worker_ns,
            m.fwd_ns,
            collector,
            pct(1.0 - base_collector / collector),
            m.exporter_ns,
            m.sink_ns,
            m.process_ns,
            pct(1.0 - base.process_ns / m.process_ns),
            m.relay_rate,
            m.out,
            m.dropped,
            m.ingest_lost,
        );
    }
    let fwd: Vec<String> = SCENARIOS
        .iter()
        .zip(&med)
        .skip(1)
        .map(|(s, m)| format!("{} {:.0}", s.name, m.fwd_per_datagram))
        .collect();
    println!("destination sender CPU ns per datagram sent: {}", fwd.join(", "));
    let spread: Vec<String> = SCENARIOS
        .iter()
        .zip(results)
        .map(|(s, r)| {
            let lo = r.iter().map(|m| m.worker_ns).fold(f64::INFINITY, f64::min);
            let hi = r.iter().map(|m| m.worker_ns).fold(0.0, f64::max);
            format!("{} {lo:.0}-{hi:.0}", s.name)
        })
        .collect();
    println!("worker CPU ns per flow, lowest-highest run: {}", spread.join(", "));
    let fill: Vec<String> =
        SCENARIOS.iter().zip(&med).map(|(s, m)| format!("{} {:.1}", s.name, m.per_recv)).collect();
    println!("datagrams per receive call: {}", fill.join(", "));
    // Each repetition runs every scenario back to back: the ratio within one
    // repetition is immune to load that changes between repetitions.
    let paired: Vec<String> = SCENARIOS
        .iter()
        .zip(results)
        .skip(1)
        .map(|(s, r)| {
            let base = results.first().map(|b| b.as_slice()).unwrap_or(&[]);
            let ratios: Vec<f64> = r.iter().zip(base).map(|(m, b)| 1.0 - b.worker_ns / m.worker_ns).collect();
            format!("{} {}", s.name, pct(median(ratios)))
        })
        .collect();
    println!("worker CPU cost, median of the per-repetition ratios: {}", paired.join(", "));
    println!(
        "worker f/s: flows per second of the worker thread's CPU; wall f/s: first datagram sent to last \
         handled; ns: CPU ns per ingested flow (wrk: worker, fwd: destination sender threads, coll: both, \
         exp: exporter incl. the kernel's loopback delivery to the worker's socket, sink: downstream \
         reader, proc: every thread); cost = ingest throughput lost against `no forwarding` (coll, proc: \
         at equal CPU)"
    );
}

/// Relay benchmark: what forwarding costs the collector's ingest (docs/relay.md
/// "Benchmark"). Feeds and scenarios are chosen with RELAY_BENCH_* variables.
#[derive(Debug, Parser)]
#[command(name = "relay", after_help = RELAY_AFTER_HELP)]
struct Cli {
    /// Synthetic flows in the workload (encoded as IPFIX).
    #[arg(value_name = "FLOWS", default_value_t = 100_000)]
    flows: usize,
    /// Times the workload is sent per run.
    #[arg(value_name = "ROUNDS", default_value_t = 10)]
    rounds: usize,
    /// Interleaved repetitions of every scenario (figures are their medians).
    #[arg(value_name = "REPS", default_value_t = 5)]
    reps: usize,
}

const RELAY_AFTER_HELP: &str = "\
Environment: RELAY_BENCH_MODE=burst|udp|memory (one feed; default all three),
RELAY_BENCH_ONLY=<part of a scenario name>, RELAY_BENCH_RATE=<flows/s> (paced udp feed),
RELAY_BENCH_DEST=<host:port> (forward there instead of the loopback reader),
RELAY_BENCH_SPLIT=1 (every thread but the worker on CPU 1), RELAY_BENCH_PIN=0 (worker not pinned).";

fn main() -> anyhow::Result<()> {
    let Cli { flows, rounds, reps } = Cli::parse();
    let only = std::env::var("RELAY_BENCH_ONLY").ok();
    let feeds = match std::env::var("RELAY_BENCH_MODE").as_deref() {
        Ok("burst") => vec![Feed::Burst],
        Ok("udp") => vec![Feed::Udp],
        Ok("memory") => vec![Feed::Memory],
        _ => vec![Feed::Burst, Feed::Udp, Feed::Memory],
    };
    let records = workload::records(flows, 20, 7);
    let enc = Arc::new(workload::encode(Protocol::Ipfix, &records));
    let tcp = records.iter().filter(|r| r.proto == 6).count();
    let bytes: usize = enc.data.iter().map(|d| d.len()).sum();
    println!(
        "workload: {} IPFIX data datagrams (mean {} B), {} flows ({} TCP), x{rounds} rounds per run, {reps} \
         interleaved repetitions",
        enc.data.len(),
        bytes / enc.data.len().max(1),
        enc.records,
        tcp
    );
    for feed in feeds {
        let mut results: Vec<Vec<Measurement>> = SCENARIOS.iter().map(|_| Vec::new()).collect();
        // A first run faults in the allocator's and the kernel's memory; not counted.
        if let Some(first) = SCENARIOS.first() {
            run(first, feed, &enc, rounds)?;
        }
        // Interleaved repetitions, medians: the machine is shared, and a scenario that
        // ran during someone's build says nothing about forwarding.
        for rep in 0..reps {
            for (s, r) in SCENARIOS.iter().zip(results.iter_mut()) {
                if only.as_deref().is_some_and(|o| !s.name.contains(o)) {
                    continue;
                }
                let m = run(s, feed, &enc, rounds)?;
                eprintln!(
                    "  rep {rep} {:<27} worker {:>9.0} f/s  wall {:>9.0} f/s  worker {:>6.1} fwd {:>6.1} exp {:>6.1} \
                     ns/flow  out {:>6.0} (reader got {:>6.0}) dropped {:>5.0} lost {:>4.0} per recv {:>4.1}",
                    s.name, m.worker_rate, m.wall_rate, m.worker_ns, m.fwd_ns, m.exporter_ns, m.out, m.received, m.dropped,
                    m.ingest_lost, m.per_recv
                );
                r.push(m);
            }
        }
        if only.is_none() {
            report(feed, &results);
        }
    }
    Ok(())
}
