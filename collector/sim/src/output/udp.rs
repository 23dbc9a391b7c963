//! UDP output: every datagram to every target, from a socket bound to its
//! exporter's address, at its virtual time.
//!
//! Exporters are distinct to the collector because each sends from its own source
//! address: on Linux the whole of 127.0.0.0/8 is loopback, so exporters at
//! 127.1.0.x need no configuration and no privilege when the targets are loopback.
//! For other targets (or a family the exporter address lacks) the exporter sends
//! from an address the kernel picks, which the summary says.
//!
//! Pacing: datagram `i` leaves when the wall clock reaches `start + vt_i` (sleep
//! until ~1 ms before, then spin), so the flow rate follows the plan, diurnal curve
//! included. How late each datagram left is recorded in an HDR histogram and
//! reported as percentiles: it shows whether this machine kept up with the rate.
//! A cancelled run stops waiting: what is left goes out at once, unmeasured.

use crate::error::SimError;
use crate::exporter::{Datagram, Sink};
use hdrhistogram::Histogram;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Longest single sleep while pacing, so that a cancellation is seen promptly even
/// when the next datagram is due far ahead (low rates, long flush timeouts).
const MAX_SLEEP: Duration = Duration::from_millis(20);

/// Delivery counters of one target.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct TargetStats {
    /// The target.
    pub target: Option<SocketAddr>,
    /// Datagrams the kernel accepted.
    pub datagrams: u64,
    /// Flow records in them.
    pub flows: u64,
    /// Datagrams that failed to send.
    pub failed_datagrams: u64,
    /// Flow records in those.
    pub failed_flows: u64,
    /// The last send error.
    pub last_error: Option<String>,
}

/// How well pacing kept the schedule.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PacingReport {
    /// Whether datagrams were paced (false: as fast as possible).
    pub paced: bool,
    /// Wall-clock seconds from the first to the last send.
    pub elapsed_s: f64,
    /// Lateness percentiles in microseconds: p50, p90, p99, p99.9, max.
    pub lateness_us: [u64; 5],
    /// Datagrams measured.
    pub samples: u64,
}

/// Sends datagrams over UDP.
pub struct UdpSender {
    targets: Vec<SocketAddr>,
    /// Per exporter: one socket per target family (v4, v6).
    sockets: Vec<[Option<UdpSocket>; 2]>,
    shared: [Option<UdpSocket>; 2],
    /// Exporters that send from an address the kernel picks.
    pub unbound_exporters: Vec<usize>,
    paced: bool,
    start: Option<Instant>,
    last: Option<Instant>,
    lateness: Histogram<u64>,
    cancel: Option<Arc<AtomicBool>>,
    /// Per target counters.
    pub stats: Vec<TargetStats>,
}

impl std::fmt::Debug for UdpSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UdpSender").field("targets", &self.targets).field("paced", &self.paced).finish()
    }
}

fn bind(addr: SocketAddr) -> Result<UdpSocket, SimError> {
    UdpSocket::bind(addr).map_err(|source| SimError::Bind { addr, source })
}

impl UdpSender {
    /// Opens the sockets for `exporters` (their source addresses) and `targets`.
    pub fn new(exporters: &[IpAddr], targets: Vec<SocketAddr>, paced: bool) -> Result<UdpSender, SimError> {
        let mut sockets = Vec::with_capacity(exporters.len());
        let mut unbound = Vec::new();
        let wants = |v4: bool| targets.iter().any(|t| t.is_ipv4() == v4);
        for (i, addr) in exporters.iter().enumerate() {
            let mut pair: [Option<UdpSocket>; 2] = [None, None];
            for (slot, v4) in [(0usize, true), (1, false)] {
                if !wants(v4) {
                    continue;
                }
                let family_targets: Vec<&SocketAddr> = targets.iter().filter(|t| t.is_ipv4() == v4).collect();
                let all_loopback = family_targets.iter().all(|t| t.ip().is_loopback());
                if addr.is_ipv4() == v4 && (all_loopback == addr.is_loopback()) {
                    if let Some(s) = pair.get_mut(slot) {
                        *s = Some(bind(SocketAddr::new(*addr, 0))?);
                    }
                } else if !unbound.contains(&i) {
                    unbound.push(i);
                }
            }
            sockets.push(pair);
        }
        let shared = [
            if wants(true) { Some(bind(SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), 0))?) } else { None },
            if wants(false) { Some(bind(SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), 0))?) } else { None },
        ];
        let lateness = Histogram::new_with_bounds(1, 60_000_000, 3)
            .map_err(|e| SimError::Invalid(format!("histogram: {e}")))?;
        let stats =
            targets.iter().map(|t| TargetStats { target: Some(*t), ..TargetStats::default() }).collect();
        Ok(UdpSender {
            targets,
            sockets,
            shared,
            unbound_exporters: unbound,
            paced,
            start: None,
            last: None,
            lateness,
            cancel: None,
            stats,
        })
    }

    /// Stops pacing once `flag` is set: later datagrams leave without waiting.
    pub fn cancel_on(&mut self, flag: Arc<AtomicBool>) {
        self.cancel = Some(flag);
    }

    fn cancelled(&self) -> bool {
        self.cancel.as_ref().is_some_and(|c| c.load(Ordering::Relaxed))
    }

    /// Starts the clock now (otherwise it starts with the first datagram).
    pub fn start_now(&mut self) {
        self.start = Some(Instant::now());
    }

    fn wait_until(&mut self, vt_ns: i64) -> Instant {
        let start = *self.start.get_or_insert_with(Instant::now);
        let due = start + Duration::from_nanos(vt_ns.max(0) as u64);
        loop {
            let now = Instant::now();
            if now >= due {
                let late = now.duration_since(due).as_micros() as u64;
                let _ = self.lateness.record(late.clamp(1, 60_000_000));
                return now;
            }
            if self.cancelled() {
                return now;
            }
            let left = due - now;
            if left > Duration::from_micros(1500) {
                std::thread::sleep((left - Duration::from_millis(1)).min(MAX_SLEEP));
            } else if left > Duration::from_micros(200) {
                std::thread::sleep(Duration::from_micros(50));
            } else {
                std::hint::spin_loop();
            }
        }
    }

    /// How pacing went.
    pub fn report(&self) -> PacingReport {
        let h = &self.lateness;
        let elapsed_s = match (self.start, self.last) {
            (Some(s), Some(l)) => l.duration_since(s).as_secs_f64(),
            _ => 0.0,
        };
        PacingReport {
            paced: self.paced,
            elapsed_s,
            lateness_us: [
                h.value_at_quantile(0.5),
                h.value_at_quantile(0.9),
                h.value_at_quantile(0.99),
                h.value_at_quantile(0.999),
                h.max(),
            ],
            samples: h.len(),
        }
    }
}

impl Sink for UdpSender {
    fn send(&mut self, d: &Datagram<'_>) -> Result<(), SimError> {
        let now = if self.paced {
            self.wait_until(d.vt_ns)
        } else {
            let now = Instant::now();
            self.start.get_or_insert(now);
            now
        };
        self.last = Some(now);
        for (ti, target) in self.targets.iter().enumerate() {
            let slot = usize::from(!target.is_ipv4());
            let socket = self
                .sockets
                .get(d.exporter)
                .and_then(|pair| pair.get(slot))
                .and_then(Option::as_ref)
                .or_else(|| self.shared.get(slot).and_then(Option::as_ref));
            let result = match socket {
                Some(s) => s.send_to(d.payload, target).map(|_| ()),
                None => Err(io::Error::other("no socket for the target's family")),
            };
            if let Some(st) = self.stats.get_mut(ti) {
                match result {
                    Ok(()) => {
                        st.datagrams += 1;
                        st.flows += d.records.len() as u64;
                    }
                    Err(e) => {
                        st.failed_datagrams += 1;
                        st.failed_flows += d.records.len() as u64;
                        st.last_error = Some(e.to_string());
                    }
                }
            }
        }
        Ok(())
    }
}
