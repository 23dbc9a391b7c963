//! A destination: one bounded queue and one sender thread per receiver, so a slow or
//! dead receiver only ever fills its own queue. Workers `try_send` and count a drop
//! when the queue is full; they never wait.
//!
//! Raw datagrams travel in [`RawBatch`]es whose buffers cycle between the workers and
//! the sender thread through a bounded LIFO pool: a worker copies into the buffer the
//! sender emptied last (still in cache), buffers are allocated once and never freed
//! while the destination lives (no page is faulted in twice), and the pool's bound
//! caps the memory a receiver that cannot keep up may hold. The sender thread sends
//! a batch with one `sendmmsg` call on a connected UDP socket.

use super::multisend::MultiSender;
use super::reencode::Reencoder;
use super::transparent::{as_v4, SpoofSocket};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TrySendError};
use flowvision_codec::{FlowRecord, Protocol};
use nix::errno::Errno;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// Entries a destination's queue holds before workers drop (batches of up to 32
/// datagrams, or of records).
pub const QUEUE_CAPACITY: usize = 1024;

/// Re-encoding gathers up to this many queued records into one encoder call.
const COALESCE_RECORDS: usize = 4096;

/// Capacity of a raw batch's buffer. Any UDP payload fits in an empty one, so a batch
/// is handed over before a datagram would make it grow.
pub const RAW_BATCH_BYTES: usize = 64 * 1024;
/// Datagrams per raw batch at most (one `sendmmsg` call, one receive batch).
pub const RAW_BATCH_FRAMES: usize = super::multisend::MAX_BATCH;
/// Raw batch buffers one destination owns at most (32 MiB): queued, being filled by a
/// worker or being sent. When all are in use the receiver is that far behind, and a
/// worker counts the datagram dropped (`queue_full`) instead of allocating more.
pub const RAW_BATCHES: usize = 512;

/// How a destination sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// The original datagram from the relay's own address.
    Raw,
    /// The original datagram with the exporter's source address (raw socket).
    Transparent,
    /// Matching records re-encoded as their own export stream.
    Reencode(Protocol),
}

impl Mode {
    /// Label value for metrics.
    pub fn as_str(&self) -> &'static str {
        match self {
            Mode::Raw => "raw",
            Mode::Transparent => "transparent",
            Mode::Reencode(Protocol::Ipfix) => "ipfix",
            Mode::Reencode(_) => "netflow_v9",
        }
    }
}

/// Original datagrams, back to back in `data`, with each one's length and the
/// exporter address it came from (one buffer per batch, not per datagram).
#[derive(Debug, Default)]
pub struct RawBatch {
    data: Vec<u8>,
    frames: Vec<(u32, SocketAddr)>,
}

impl RawBatch {
    fn with_capacity() -> RawBatch {
        RawBatch { data: Vec::with_capacity(RAW_BATCH_BYTES), frames: Vec::with_capacity(RAW_BATCH_FRAMES) }
    }

    /// Appends `datagram` when it fits in the buffer as allocated (never grows it: a
    /// buffer that grew would be a fresh, cold allocation). Returns whether it did.
    #[inline]
    pub fn push(&mut self, src: SocketAddr, datagram: &[u8]) -> bool {
        if self.data.capacity() - self.data.len() < datagram.len() || self.frames.len() >= RAW_BATCH_FRAMES {
            return false;
        }
        self.data.extend_from_slice(datagram);
        self.frames.push((datagram.len() as u32, src));
        true
    }

    /// Whether this batch has a buffer (a worker's batch has none after handing it
    /// over, until it takes one from the pool).
    #[inline]
    pub fn has_buffer(&self) -> bool {
        self.data.capacity() > 0
    }

    /// Datagrams in the batch.
    #[inline]
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// Whether the batch holds no datagram.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// The datagrams with their sources.
    pub fn iter(&self) -> impl Iterator<Item = (SocketAddr, &[u8])> + '_ {
        let mut at = 0usize;
        self.frames.iter().filter_map(move |(len, src)| {
            let end = at + *len as usize;
            let d = self.data.get(at..end);
            at = end;
            d.map(|d| (*src, d))
        })
    }

    fn clear(&mut self) {
        self.data.clear();
        self.frames.clear();
    }
}

/// The raw batch buffers of one destination (see the module comment).
#[derive(Debug, Default)]
struct Pool {
    free: Mutex<Vec<RawBatch>>,
    allocated: AtomicUsize,
}

impl Pool {
    fn take(&self) -> Option<RawBatch> {
        if let Some(b) = self.free.lock().unwrap_or_else(|e| e.into_inner()).pop() {
            return Some(b);
        }
        // Only workers allocate; two racing past the bound by one is harmless.
        if self.allocated.load(Ordering::Relaxed) >= RAW_BATCHES {
            return None;
        }
        self.allocated.fetch_add(1, Ordering::Relaxed);
        Some(RawBatch::with_capacity())
    }

    fn give_back(&self, mut b: RawBatch) {
        if !b.has_buffer() {
            return;
        }
        b.clear();
        self.free.lock().unwrap_or_else(|e| e.into_inner()).push(b);
    }
}

/// What a worker queues.
#[derive(Debug)]
pub enum Payload {
    /// Original datagrams.
    Raw(RawBatch),
    /// Records to re-encode.
    Records(Vec<FlowRecord>),
}

/// Health as seen from send results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Health {
    /// Nothing sent yet.
    Unknown = 0,
    /// The last send worked.
    Up = 1,
    /// The receiver's host answered ICMP port/host unreachable (ECONNREFUSED and the
    /// like on the connected socket).
    Unreachable = 2,
    /// Sending failed otherwise (or the socket could not be opened).
    Error = 3,
}

impl Health {
    fn from_u8(v: u8) -> Health {
        match v {
            1 => Health::Up,
            2 => Health::Unreachable,
            3 => Health::Error,
            _ => Health::Unknown,
        }
    }

    /// Metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Unknown => "unknown",
            Health::Up => "up",
            Health::Unreachable => "unreachable",
            Health::Error => "error",
        }
    }
}

/// Counters only workers write, on their own cache line: the sender thread updates
/// its counters for every datagram, and sharing a line with the workers' would move
/// it between cores twice per datagram.
#[derive(Debug, Default)]
#[repr(align(128))]
pub struct WorkerSide {
    /// Datagrams (raw) or record batches queued.
    pub queued: AtomicU64,
    /// Datagrams (raw) or record batches dropped because the queue was full.
    pub dropped_queue_full: AtomicU64,
}

/// Counters of one destination.
#[derive(Debug, Default)]
pub struct DestinationStats {
    /// Written by the workers.
    pub workers: WorkerSide,
    /// Datagrams sent.
    pub sent_datagrams: AtomicU64,
    /// Bytes sent (UDP payload).
    pub sent_bytes: AtomicU64,
    /// Records sent re-encoded.
    pub sent_records: AtomicU64,
    /// Datagrams not sent: the receiver is unreachable (ICMP).
    pub dropped_unreachable: AtomicU64,
    /// Datagrams not sent: another send error (or no socket).
    pub dropped_send_error: AtomicU64,
    /// Datagrams not sent transparently: exporter address not IPv4.
    pub dropped_family: AtomicU64,
    health: AtomicU8,
}

impl DestinationStats {
    /// Current health.
    pub fn health(&self) -> Health {
        Health::from_u8(self.health.load(Ordering::Relaxed))
    }

    fn set_health(&self, h: Health) {
        self.health.store(h as u8, Ordering::Relaxed);
    }
}

/// One receiver.
#[derive(Debug)]
pub struct Destination {
    /// Where to.
    pub addr: SocketAddr,
    /// How.
    pub mode: Mode,
    /// Counters.
    pub stats: Arc<DestinationStats>,
    tx: Sender<Payload>,
    /// Raw batch buffers, shared with the sender thread.
    pool: Arc<Pool>,
    stop: Arc<AtomicBool>,
    thread: Mutex<Option<JoinHandle<()>>>,
    /// Why the socket could not be opened, if it could not.
    pub error: Option<String>,
}

enum Sock {
    Udp(UdpSocket),
    Spoof(SpoofSocket),
    None,
}

impl Destination {
    /// Opens the socket and starts the sender thread. A socket that cannot be opened
    /// (no CAP_NET_RAW) leaves a destination that counts every entry dropped and
    /// reports why in [`Destination::error`].
    pub fn start(addr: SocketAddr, mode: Mode, max_datagram: usize) -> Destination {
        let stats = Arc::new(DestinationStats::default());
        let (tx, rx) = crossbeam_channel::bounded(QUEUE_CAPACITY);
        let pool = Arc::new(Pool::default());
        let stop = Arc::new(AtomicBool::new(false));
        let (sock, error) = match open(addr, mode) {
            Ok(s) => (s, None),
            Err(e) => {
                stats.set_health(Health::Error);
                (Sock::None, Some(e))
            }
        };
        let reencoder = match mode {
            Mode::Reencode(p) => Some(Reencoder::new(p, max_datagram)),
            _ => None,
        };
        let thread = {
            let stats = Arc::clone(&stats);
            let stop = Arc::clone(&stop);
            let pool = Arc::clone(&pool);
            std::thread::Builder::new()
                .name(format!("fwd-{addr}"))
                .spawn(move || {
                    // Built here: its headers hold raw pointers and stay on this thread.
                    let multi = MultiSender::new();
                    let scratch = RawBatch::default();
                    Sender_ { addr, sock, reencoder, stats, rx, stop, pool, multi, scratch }.run();
                })
                .ok()
        };
        Destination { addr, mode, stats, tx, pool, stop, thread: Mutex::new(thread), error }
    }

    /// Queues without waiting; counts `entries` (datagrams, or 1 for a record batch)
    /// dropped when full. Returns whether it was queued.
    #[inline]
    pub fn offer(&self, payload: Payload, entries: u64) -> bool {
        match self.tx.try_send(payload) {
            Ok(()) => {
                self.stats.workers.queued.fetch_add(entries, Ordering::Relaxed);
                true
            }
            Err(TrySendError::Full(p) | TrySendError::Disconnected(p)) => {
                self.stats.workers.dropped_queue_full.fetch_add(entries, Ordering::Relaxed);
                if let Payload::Raw(b) = p {
                    self.pool.give_back(b);
                }
                false
            }
        }
    }

    /// An empty raw batch with its buffer: the one the sender emptied last, a new one
    /// while fewer than [`RAW_BATCHES`] exist, else none (the receiver is that far
    /// behind; the caller counts the datagram dropped with [`Destination::dropped`]).
    #[inline]
    pub fn raw_batch(&self) -> Option<RawBatch> {
        self.pool.take()
    }

    /// Counts `entries` dropped because the destination's queue (or its buffers) is
    /// full.
    #[cold]
    pub fn dropped(&self, entries: u64) {
        self.stats.workers.dropped_queue_full.fetch_add(entries, Ordering::Relaxed);
    }

    /// Entries waiting.
    pub fn queue_len(&self) -> usize {
        self.tx.len()
    }

    /// Sends what is queued, then stops the thread (waits at most `limit`).
    pub fn shutdown(&self, limit: Duration) {
        self.stop.store(true, Ordering::Release);
        let handle = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(h) = handle {
            let deadline = std::time::Instant::now() + limit;
            while !h.is_finished() && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            if h.is_finished() {
                let _ = h.join();
            }
        }
    }
}

impl Drop for Destination {
    fn drop(&mut self) {
        // The thread drains its queue and exits; nobody waits for it.
        self.stop.store(true, Ordering::Release);
    }
}

fn open(addr: SocketAddr, mode: Mode) -> Result<Sock, String> {
    if mode == Mode::Transparent {
        return SpoofSocket::open().map(Sock::Spoof).map_err(|e| e.to_string());
    }
    let bind: SocketAddr =
        if addr.is_ipv4() { ([0, 0, 0, 0], 0).into() } else { (std::net::Ipv6Addr::UNSPECIFIED, 0).into() };
    let s = UdpSocket::bind(bind).map_err(|e| format!("binding a UDP socket: {e}"))?;
    // Connected, so ICMP unreachable comes back as ECONNREFUSED on a later send; the
    // error queue keeps the reason when that send is inside a `sendmmsg` batch
    // (without it such a datagram is still counted, as `send_error`).
    s.connect(addr).map_err(|e| format!("connecting to {addr}: {e}"))?;
    let _ = super::multisend::enable_error_queue(&s);
    let _ = socket2::SockRef::from(&s).set_send_buffer_size(4 << 20);
    Ok(Sock::Udp(s))
}

struct Sender_ {
    addr: SocketAddr,
    sock: Sock,
    reencoder: Option<Reencoder>,
    stats: Arc<DestinationStats>,
    rx: Receiver<Payload>,
    pool: Arc<Pool>,
    stop: Arc<AtomicBool>,
    multi: MultiSender,
    /// The datagrams of one encoder call, sent together.
    scratch: RawBatch,
}

fn unreachable(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(c) if c == Errno::ECONNREFUSED as i32 || c == Errno::EHOSTUNREACH as i32 || c == Errno::ENETUNREACH as i32
    )
}

impl Sender_ {
    fn run(mut self) {
        loop {
            match self.rx.recv_timeout(Duration::from_millis(100)) {
                Ok(p) => self.handle(p),
                Err(RecvTimeoutError::Timeout) => {
                    if self.stop.load(Ordering::Acquire) {
                        break;
                    }
                }
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        while let Ok(p) = self.rx.try_recv() {
            self.handle(p);
        }
    }

    fn handle(&mut self, p: Payload) {
        match p {
            Payload::Raw(batch) => {
                self.send_batch(&batch);
                self.pool.give_back(batch);
            }
            Payload::Records(mut records) => {
                let Some(mut enc) = self.reencoder.take() else { return };
                // Workers queue the matching records of one datagram; whatever else is
                // already waiting joins them, so datagrams are packed to the MTU
                // instead of carrying one source datagram's worth each. Nothing waits
                // for more to arrive: latency stays that of the queue.
                while records.len() < COALESCE_RECORDS {
                    match self.rx.try_recv() {
                        Ok(Payload::Records(more)) => records.extend_from_slice(&more),
                        Ok(Payload::Raw(batch)) => {
                            self.send_batch(&batch);
                            self.pool.give_back(batch);
                        }
                        Err(_) => break,
                    }
                }
                let now = crate::clock::now_ms();
                // The encoder's datagrams are gathered and go out in `sendmmsg` calls.
                let mut out = std::mem::take(&mut self.scratch);
                out.clear();
                let addr = self.addr;
                enc.encode(now, &records, |d| {
                    out.data.extend_from_slice(d);
                    out.frames.push((d.len() as u32, addr));
                });
                let sent = self.send_batch(&out);
                self.scratch = out;
                if sent > 0 {
                    self.stats.sent_records.fetch_add(records.len() as u64, Ordering::Relaxed);
                }
                self.reencoder = Some(enc);
            }
        }
    }

    /// Sends every datagram of `batch`; returns how many went out.
    fn send_batch(&mut self, batch: &RawBatch) -> u64 {
        let (mut sent, mut bytes) = (0u64, 0u64);
        if let Sock::Udp(s) = &self.sock {
            let stats = &self.stats;
            let mut last = None;
            self.multi.send_connected(s, batch.iter().map(|(_, d)| d), &mut |_, d, result| match result {
                Ok(()) => {
                    sent += 1;
                    bytes += d.len() as u64;
                    last = Some(Health::Up);
                }
                Err(e) => last = Some(count_error(stats, &e)),
            });
            if let Some(h) = last {
                stats.set_health(h);
            }
        } else {
            for (src, d) in batch.iter() {
                if self.send(d, src) {
                    sent += 1;
                    bytes += d.len() as u64;
                }
            }
        }
        if sent > 0 {
            self.stats.sent_datagrams.fetch_add(sent, Ordering::Relaxed);
            self.stats.sent_bytes.fetch_add(bytes, Ordering::Relaxed);
        }
        sent
    }

    /// Sends one datagram on a socket `sendmmsg` does not serve (transparent mode's
    /// raw socket); counts drops but not what was sent (the caller does).
    fn send(&mut self, datagram: &[u8], src: SocketAddr) -> bool {
        let result = match &mut self.sock {
            Sock::Udp(s) => s.send(datagram),
            Sock::Spoof(s) => match (as_v4(src), as_v4(self.addr)) {
                (Some(src), Some(dst)) => s.send(src, dst, datagram),
                _ => {
                    self.stats.dropped_family.fetch_add(1, Ordering::Relaxed);
                    return false;
                }
            },
            Sock::None => {
                self.stats.dropped_send_error.fetch_add(1, Ordering::Relaxed);
                return false;
            }
        };
        match result {
            Ok(_) => {
                self.stats.set_health(Health::Up);
                true
            }
            Err(e) => {
                let h = count_error(&self.stats, &e);
                self.stats.set_health(h);
                false
            }
        }
    }
}

/// Counts one datagram lost to `e` under its reason; returns the health it implies.
fn count_error(stats: &DestinationStats, e: &io::Error) -> Health {
    if unreachable(e) {
        stats.dropped_unreachable.fetch_add(1, Ordering::Relaxed);
        Health::Unreachable
    } else {
        stats.dropped_send_error.fetch_add(1, Ordering::Relaxed);
        Health::Error
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;
    use std::time::Instant;

    #[test]
    fn raw_buffers_never_grow_are_bounded_and_come_back_from_the_sender() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        rx.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let d = Destination::start(rx.local_addr().unwrap(), Mode::Raw, 0);
        let src: SocketAddr = "192.0.2.1:2055".parse().unwrap();
        let datagram = vec![7u8; 1400];

        // A batch takes datagrams until its buffer (or frame count) is full, then
        // refuses instead of growing.
        let mut b = d.raw_batch().unwrap();
        let cap = b.data.capacity();
        let mut n = 0;
        while b.push(src, &datagram) {
            n += 1;
        }
        assert_eq!(n, RAW_BATCH_FRAMES.min(cap / datagram.len()));
        assert_eq!(b.data.capacity(), cap, "buffer grew");
        assert_eq!(b.iter().count(), n);
        assert!(b.iter().all(|(s, d)| s == src && d == datagram.as_slice()));

        // Bounded: once every buffer is out, there is none (the caller counts a drop).
        let mut held = vec![b];
        while let Some(x) = d.raw_batch() {
            held.push(x);
        }
        assert_eq!(held.len(), RAW_BATCHES);
        assert!(d.raw_batch().is_none());

        // The sender sends a queued batch and gives its buffer back, emptied.
        let first = held.swap_remove(0);
        assert!(d.offer(Payload::Raw(first), n as u64));
        let deadline = Instant::now() + Duration::from_secs(5);
        let back = loop {
            if let Some(b) = d.raw_batch() {
                break b;
            }
            assert!(Instant::now() < deadline, "buffer never came back");
            std::thread::sleep(Duration::from_millis(1));
        };
        assert!(back.is_empty() && back.data.capacity() == cap);
        assert_eq!(d.pool.allocated.load(Ordering::Relaxed), RAW_BATCHES, "allocated again");
        let mut buf = [0u8; 2048];
        for _ in 0..n {
            assert_eq!(rx.recv(&mut buf).unwrap(), datagram.len());
        }
        assert_eq!(d.stats.sent_datagrams.load(Ordering::Relaxed), n as u64);
        println!("raw pool: {RAW_BATCHES} buffers of {cap} B, {n} datagrams per batch, sent and reused");
        d.shutdown(Duration::from_secs(2));
    }
}
