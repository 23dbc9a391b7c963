//! A worker: one thread, pinned to a core, reading its own sockets, decoding with its
//! own `Decoder` (sharing the template cache), batching rows for the writers.

use super::sampling::{self, SamplingRule};
use super::sequence::{SequenceEvent, SequenceTracker};
use crate::forward::{Relay, RelayWorker};
use crate::ingest::udp::UdpReceiver;
use crate::store::{Batch, BatchId, FlowRow};
use crate::telemetry::{Counters, WorkerCounters};
use crossbeam_channel::{SendTimeoutError, Sender};
use flowvision_codec::{DecodeOutput, Decoder};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long a worker waits for a full writer queue before dropping (and counting)
/// a batch. Waiting longer only moves the loss into the kernel's socket buffer.
const QUEUE_WAIT: Duration = Duration::from_secs(1);
/// Longest a stopping worker keeps reading datagrams that are still arriving.
const STOP_DRAIN: Duration = Duration::from_secs(2);
/// How often worker counters are folded into the shared ones.
const COUNTER_FLUSH: Duration = Duration::from_millis(100);

/// Settings shared by all workers.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// Rows per batch.
    pub batch_rows: usize,
    /// Oldest a partial batch may get.
    pub batch_max_age: Duration,
    /// Configured sampling rates.
    pub sampling: Arc<Vec<SamplingRule>>,
    /// This collector process's batch-id instance.
    pub instance: u64,
    /// Batch sequence numbers, shared so ids are unique per instance.
    pub batch_seq: Arc<AtomicU64>,
    /// The flow relay (forwarding rules); empty unless rules are configured.
    pub relay: Arc<Relay>,
    /// Emptied row vectors coming back from the store ([`crate::store::Store::row_pool`]);
    /// `None`: every batch gets a new vector.
    pub row_pool: Option<crossbeam_channel::Receiver<Vec<FlowRow>>>,
}

/// Unix time in milliseconds.
pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// One worker: a source of datagrams and the pipeline they go through.
pub struct Worker {
    receiver: UdpReceiver,
    pipeline: Pipeline,
}

/// Everything after the socket: decode, sample, sequence-check, batch. Separate from
/// the receiver so that the AF_XDP path feeds the same code.
pub struct Pipeline {
    decoder: Decoder,
    tx: Sender<Batch>,
    counters: Arc<Counters>,
    settings: WorkerSettings,
    sequences: SequenceTracker,
    local: WorkerCounters,
    out: DecodeOutput,
    rows: Vec<FlowRow>,
    batch_started: Instant,
    relay: RelayWorker,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker").field("receiver", &self.receiver).finish_non_exhaustive()
    }
}

impl Worker {
    /// A worker reading `receiver` into `pipeline`.
    pub fn new(receiver: UdpReceiver, pipeline: Pipeline) -> Self {
        Worker { receiver, pipeline }
    }

    /// Runs until `stop` is set and the sockets are drained, then sends what is left.
    pub fn run(mut self, core: Option<usize>, stop: Arc<AtomicBool>) {
        if let Some(id) = core {
            // Pinning keeps the socket buffers, decoder state and batch in one
            // core's caches; failure (e.g. restricted cpuset) costs only speed.
            let _ = core_affinity::set_for_current(core_affinity::CoreId { id });
        }
        let mut last_flush = Instant::now();
        let mut stopping_since: Option<Instant> = None;
        loop {
            let n = match self.receiver.recv(Duration::from_millis(50)) {
                Ok(n) => n,
                Err(e) => {
                    eprintln!("flowvision-collector: receive error: {e}");
                    std::thread::sleep(Duration::from_millis(50));
                    0
                }
            };
            if n > 0 {
                let now = now_ms();
                for i in 0..n {
                    if let Some((src, payload)) = self.receiver.datagram(i) {
                        self.pipeline.handle(src, payload, now);
                    }
                }
            }
            self.pipeline.tick();
            if last_flush.elapsed() >= COUNTER_FLUSH {
                self.pipeline.flush_counters();
                last_flush = Instant::now();
            }
            if stop.load(Ordering::Acquire) {
                // Drain what the kernel already holds, but not forever: exporters
                // that keep sending would otherwise hold the shutdown open.
                let since = *stopping_since.get_or_insert_with(Instant::now);
                if n == 0 || since.elapsed() >= STOP_DRAIN {
                    break;
                }
            }
        }
        self.pipeline.send_batch();
        self.pipeline.flush_counters();
    }
}

impl Pipeline {
    /// A pipeline sending batches to `tx`.
    pub fn new(
        decoder: Decoder,
        tx: Sender<Batch>,
        counters: Arc<Counters>,
        settings: WorkerSettings,
    ) -> Self {
        let rows = Vec::with_capacity(settings.batch_rows);
        let relay = settings.relay.worker();
        Pipeline {
            decoder,
            tx,
            counters,
            settings,
            sequences: SequenceTracker::default(),
            local: WorkerCounters::default(),
            out: DecodeOutput::default(),
            rows,
            batch_started: Instant::now(),
            relay,
        }
    }

    /// Sends the batch when it is full or old enough.
    pub fn tick(&mut self) {
        // Forwarded datagrams gathered during this receive batch go out now.
        self.relay.flush();
        if self.rows.len() >= self.settings.batch_rows
            || (!self.rows.is_empty() && self.batch_started.elapsed() >= self.settings.batch_max_age)
        {
            self.send_batch();
        }
    }

    /// Folds this pipeline's counters into the shared ones.
    pub fn flush_counters(&mut self) {
        self.counters.absorb(&mut self.local);
    }

    /// Decodes one datagram into the current batch.
    pub fn handle(&mut self, src: SocketAddr, payload: &[u8], now: i64) {
        let exporter = src.ip();
        self.local.datagrams += 1;
        self.local.bytes += payload.len() as u64;
        self.out.clear();
        let result = self.decoder.decode(exporter, payload, now, &mut self.out);
        // Forwarding sees the records as exported (before configured sampling rates),
        // and costs one atomic load when no rules are configured.
        self.relay.forward(src, payload, result.as_ref().ok(), &self.out.records);
        let records = (self.out.records.len()) as u64;
        match result {
            Ok(info) => {
                self.local.decoded(info.protocol, records);
                let event = self.sequences.observe(exporter, &info);
                let e = self.local.exporter(exporter, now);
                e.datagrams += 1;
                e.datagram_bytes += payload.len() as u64;
                e.records += records;
                e.templates += u64::from(info.templates);
                e.protocol = Some(info.protocol);
                match event {
                    SequenceEvent::InOrder => {}
                    SequenceEvent::Gap { lost } => {
                        e.sequence_lost += lost;
                        self.local.sequence_lost += lost;
                    }
                    SequenceEvent::Reset => {
                        e.sequence_resets += 1;
                        self.local.sequence_resets += 1;
                    }
                }
            }
            Err(err) => {
                *self.local.undecodable.entry(err.reason()).or_default() += 1;
                let e = self.local.exporter(exporter, now);
                e.datagrams += 1;
                e.datagram_bytes += payload.len() as u64;
                e.undecodable += 1;
                // Complete sets before the fault still count (and are stored).
                e.records += records;
            }
        }
        // A full batch goes before this datagram's records would overflow it: pushing
        // past the capacity reallocates and copies the whole batch (megabytes at the
        // default 65,536 rows, into freshly faulted pages), once per batch.
        if !self.rows.is_empty() && self.rows.len() + self.out.records.len() > self.settings.batch_rows {
            self.send_batch();
        }
        if self.rows.is_empty() {
            self.batch_started = Instant::now();
        }
        for rec in self.out.records.iter() {
            let mut record = *rec;
            sampling::apply(&self.settings.sampling, &mut record);
            self.rows.push(FlowRow { time_received_ms: now, record });
        }
    }

    /// Hands the current batch to the writers (or counts it dropped).
    pub fn send_batch(&mut self) {
        self.relay.flush();
        if self.rows.is_empty() {
            return;
        }
        let want = self.settings.batch_rows;
        let next = self
            .settings
            .row_pool
            .as_ref()
            .and_then(|p| p.try_recv().ok())
            .filter(|v| v.capacity() >= want)
            .unwrap_or_else(|| Vec::with_capacity(want));
        let rows = std::mem::replace(&mut self.rows, next);
        let n = rows.len() as u64;
        let id = BatchId {
            instance: self.settings.instance,
            seq: self.settings.batch_seq.fetch_add(1, Ordering::Relaxed),
        };
        match self.tx.send_timeout(Batch { id, rows }, QUEUE_WAIT) {
            Ok(()) => self.local.rows_queued += n,
            Err(SendTimeoutError::Timeout(_) | SendTimeoutError::Disconnected(_)) => {
                self.local.rows_dropped_queue_full += n;
            }
        }
    }
}
