//! A destination: one bounded queue and one sender thread per receiver, so a slow or
//! dead receiver only ever fills its own queue. Workers `try_send` and count a drop
//! when the queue is full; they never wait.

use super::reencode::Reencoder;
use super::transparent::{as_v4, SpoofSocket};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TrySendError};
use flowvision_codec::{FlowRecord, Protocol};
use nix::errno::Errno;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// Entries a destination's queue holds before workers drop (batches of up to 32
/// datagrams, or of records).
pub const QUEUE_CAPACITY: usize = 1024;

/// Re-encoding gathers up to this many queued records into one encoder call.
const COALESCE_RECORDS: usize = 4096;

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

/// What a worker queues.
#[derive(Debug)]
pub enum Payload {
    /// Original datagrams, back to back in `data`, with each one's length and the
    /// exporter address it came from (one allocation per batch, not per datagram).
    Raw {
        /// The datagrams.
        data: Vec<u8>,
        /// (length, source) of each.
        frames: Vec<(u32, SocketAddr)>,
    },
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
    /// Emptied raw buffers coming back from the sender thread, so workers reuse
    /// warm memory instead of allocating (and faulting in) a new buffer per batch.
    recycle: Receiver<Vec<u8>>,
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
        let (give_back, recycle) = crossbeam_channel::bounded(64);
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
            std::thread::Builder::new()
                .name(format!("fwd-{addr}"))
                .spawn(move || {
                    Sender_ { addr, sock, reencoder, stats, rx, stop, give_back }.run();
                })
                .ok()
        };
        Destination { addr, mode, stats, tx, recycle, stop, thread: Mutex::new(thread), error }
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
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.stats.workers.dropped_queue_full.fetch_add(entries, Ordering::Relaxed);
                false
            }
        }
    }

    /// An empty buffer for a raw batch: a recycled one when there is one.
    #[inline]
    pub fn buffer(&self, capacity: usize) -> Vec<u8> {
        self.recycle.try_recv().unwrap_or_else(|_| Vec::with_capacity(capacity))
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
    // Connected, so ICMP unreachable comes back as ECONNREFUSED on a later send.
    s.connect(addr).map_err(|e| format!("connecting to {addr}: {e}"))?;
    let _ = socket2::SockRef::from(&s).set_send_buffer_size(4 << 20);
    Ok(Sock::Udp(s))
}

struct Sender_ {
    addr: SocketAddr,
    sock: Sock,
    reencoder: Option<Reencoder>,
    stats: Arc<DestinationStats>,
    rx: Receiver<Payload>,
    give_back: Sender<Vec<u8>>,
    stop: Arc<AtomicBool>,
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
            Payload::Raw { mut data, frames } => {
                self.send_frames(&data, &frames);
                data.clear();
                let _ = self.give_back.try_send(data);
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
                        Ok(Payload::Raw { data, frames }) => self.send_frames(&data, &frames),
                        Err(_) => break,
                    }
                }
                let now = crate::pipeline::worker::now_ms();
                let mut sent_any = false;
                enc.encode(now, &records, |d| {
                    sent_any |= self.send(d, self.addr);
                });
                if sent_any {
                    self.stats.sent_records.fetch_add(records.len() as u64, Ordering::Relaxed);
                }
                self.reencoder = Some(enc);
            }
        }
    }

    fn send_frames(&mut self, data: &[u8], frames: &[(u32, SocketAddr)]) {
        let mut at = 0usize;
        for (len, src) in frames {
            let end = at + *len as usize;
            if let Some(d) = data.get(at..end) {
                self.send(d, *src);
            }
            at = end;
        }
    }

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
                self.stats.sent_datagrams.fetch_add(1, Ordering::Relaxed);
                self.stats.sent_bytes.fetch_add(datagram.len() as u64, Ordering::Relaxed);
                self.stats.set_health(Health::Up);
                true
            }
            Err(e) if unreachable(&e) => {
                self.stats.dropped_unreachable.fetch_add(1, Ordering::Relaxed);
                self.stats.set_health(Health::Unreachable);
                false
            }
            Err(_) => {
                self.stats.dropped_send_error.fetch_add(1, Ordering::Relaxed);
                self.stats.set_health(Health::Error);
                false
            }
        }
    }
}
