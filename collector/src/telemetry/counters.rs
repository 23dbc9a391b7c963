//! Shared counters, and the per-worker counters that are folded into them so the hot
//! path touches no shared cache line per datagram.

use flowvision_codec::Protocol;
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

fn proto_index(p: Protocol) -> usize {
    match p {
        Protocol::NetflowV5 => 0,
        Protocol::NetflowV9 => 1,
        Protocol::Ipfix => 2,
        Protocol::SflowV5 => 3,
    }
}

/// What one exporter sent, as the exporters table and console show it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExporterCounters {
    /// Datagrams received.
    pub datagrams: u64,
    /// Their payload bytes.
    pub datagram_bytes: u64,
    /// Datagrams that did not decode.
    pub undecodable: u64,
    /// Flow records decoded.
    pub records: u64,
    /// Upstream loss from sequence gaps (in the protocol's sequence units).
    pub sequence_lost: u64,
    /// Sequence restarts (exporter reboot or reordering).
    pub sequence_resets: u64,
    /// Templates received.
    pub templates: u64,
    /// Last protocol seen.
    pub protocol: Option<Protocol>,
    /// First and last time seen, Unix ms.
    pub first_seen_ms: i64,
    /// Last time seen, Unix ms.
    pub last_seen_ms: i64,
}

impl ExporterCounters {
    fn merge(&mut self, o: &ExporterCounters) {
        self.datagrams += o.datagrams;
        self.datagram_bytes += o.datagram_bytes;
        self.undecodable += o.undecodable;
        self.records += o.records;
        self.sequence_lost += o.sequence_lost;
        self.sequence_resets += o.sequence_resets;
        self.templates += o.templates;
        if o.protocol.is_some() {
            self.protocol = o.protocol;
        }
        if self.first_seen_ms == 0 || (o.first_seen_ms != 0 && o.first_seen_ms < self.first_seen_ms) {
            self.first_seen_ms = o.first_seen_ms;
        }
        self.last_seen_ms = self.last_seen_ms.max(o.last_seen_ms);
    }
}

/// Counters shared by all workers (monotonic, since start).
#[derive(Debug, Default)]
pub struct Counters {
    /// Datagrams read from sockets/rings.
    pub datagrams_received: AtomicU64,
    /// Their payload bytes.
    pub datagram_bytes: AtomicU64,
    /// Datagrams decoded, per protocol (index: v5, v9, IPFIX, sFlow).
    pub datagrams_decoded: [AtomicU64; 4],
    /// Flow records decoded, per protocol.
    pub records_decoded: [AtomicU64; 4],
    /// Rows handed to the writers.
    pub rows_queued: AtomicU64,
    /// Rows dropped because the writer queue stayed full.
    pub rows_dropped_queue_full: AtomicU64,
    /// Upstream loss seen in sequence numbers.
    pub sequence_lost: AtomicU64,
    /// Sequence restarts.
    pub sequence_resets: AtomicU64,
    /// Undecodable datagrams by reason.
    pub undecodable: Mutex<BTreeMap<&'static str, u64>>,
    /// Per exporter.
    pub exporters: Mutex<HashMap<IpAddr, ExporterCounters>>,
}

impl Counters {
    /// Folds a worker's counters in and resets them.
    pub fn absorb(&self, w: &mut WorkerCounters) {
        self.datagrams_received.fetch_add(w.datagrams, Ordering::Relaxed);
        self.datagram_bytes.fetch_add(w.bytes, Ordering::Relaxed);
        for i in 0..4 {
            if let (Some(d), Some(r), Some(wd), Some(wr)) = (
                self.datagrams_decoded.get(i),
                self.records_decoded.get(i),
                w.decoded.get(i),
                w.records.get(i),
            ) {
                d.fetch_add(*wd, Ordering::Relaxed);
                r.fetch_add(*wr, Ordering::Relaxed);
            }
        }
        self.rows_queued.fetch_add(w.rows_queued, Ordering::Relaxed);
        self.rows_dropped_queue_full.fetch_add(w.rows_dropped_queue_full, Ordering::Relaxed);
        self.sequence_lost.fetch_add(w.sequence_lost, Ordering::Relaxed);
        self.sequence_resets.fetch_add(w.sequence_resets, Ordering::Relaxed);
        if !w.undecodable.is_empty() {
            let mut u = self.undecodable.lock().unwrap_or_else(|e| e.into_inner());
            for (reason, n) in w.undecodable.iter() {
                *u.entry(reason).or_default() += n;
            }
        }
        if !w.exporters.is_empty() {
            let mut e = self.exporters.lock().unwrap_or_else(|e| e.into_inner());
            for (addr, c) in w.exporters.iter() {
                e.entry(*addr).or_default().merge(c);
            }
        }
        *w = WorkerCounters::default();
    }

    /// Sum over protocols of datagrams decoded.
    pub fn decoded_total(&self) -> u64 {
        self.datagrams_decoded.iter().map(|c| c.load(Ordering::Relaxed)).sum()
    }

    /// Sum over protocols of records decoded.
    pub fn records_total(&self) -> u64 {
        self.records_decoded.iter().map(|c| c.load(Ordering::Relaxed)).sum()
    }

    /// Undecodable datagrams, all reasons.
    pub fn undecodable_total(&self) -> u64 {
        self.undecodable.lock().unwrap_or_else(|e| e.into_inner()).values().sum()
    }
}

/// A worker's private counters since its last flush.
#[derive(Debug, Default)]
pub struct WorkerCounters {
    /// Datagrams received.
    pub datagrams: u64,
    /// Payload bytes.
    pub bytes: u64,
    /// Decoded datagrams per protocol.
    pub decoded: [u64; 4],
    /// Records per protocol.
    pub records: [u64; 4],
    /// Rows queued.
    pub rows_queued: u64,
    /// Rows dropped on a full queue.
    pub rows_dropped_queue_full: u64,
    /// Upstream loss.
    pub sequence_lost: u64,
    /// Sequence restarts.
    pub sequence_resets: u64,
    /// Undecodable by reason.
    pub undecodable: BTreeMap<&'static str, u64>,
    /// Per exporter.
    pub exporters: HashMap<IpAddr, ExporterCounters>,
}

impl WorkerCounters {
    /// Counts a decoded datagram of `protocol` with `records` records.
    pub fn decoded(&mut self, protocol: Protocol, records: u64) {
        let i = proto_index(protocol);
        if let Some(d) = self.decoded.get_mut(i) {
            *d += 1;
        }
        if let Some(r) = self.records.get_mut(i) {
            *r += records;
        }
    }

    /// The exporter's entry, stamped as seen at `now_ms`.
    pub fn exporter(&mut self, addr: IpAddr, now_ms: i64) -> &mut ExporterCounters {
        let e = self.exporters.entry(addr).or_default();
        if e.first_seen_ms == 0 {
            e.first_seen_ms = now_ms;
        }
        e.last_seen_ms = now_ms;
        e
    }
}
