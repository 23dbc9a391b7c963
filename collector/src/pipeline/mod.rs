//! What a worker does with each datagram between the socket and the writer queue, one
//! named step each, in this order ([`Pipeline::handle`]):
//!
//! ```text
//! datagram ─> decode ─> relay ─> sequence + accounting ─> sampling ─> stages ─> batch ─> writers
//!             (codec)  (forward)  (sequence, accounting)  (sampling)  (stage)   (batch)
//! ```
//!
//! - decode: the codec's [`Decoder`] (templates shared by all workers);
//! - relay: forwarding rules see the records as exported ([`crate::forward`]);
//! - sequence + accounting: upstream loss from sequence numbers, then the worker's
//!   and the exporter's counters from the same facts;
//! - sampling: configured rates per exporter prefix;
//! - stages: per-flow enrichment and feature extraction ([`stage::FlowStage`]);
//! - batch: rows gathered for the store.
//!
//! The loop around it (receive, tick, counter flush, stop and drain) is
//! [`worker::Worker`], the same for kernel UDP sockets and AF_XDP rings.

pub mod accounting;
pub mod batch;
pub mod sampling;
pub mod sequence;
pub mod stage;
pub mod worker;

use crate::forward::{Relay, RelayWorker};
use crate::store::{Batch, FlowRow};
use crate::telemetry::{Counters, WorkerCounters};
use accounting::Outcome;
use batch::Batcher;
use crossbeam_channel::Sender;
use flowvision_codec::{DatagramInfo, DecodeError, DecodeOutput, Decoder};
use sampling::SamplingRule;
use sequence::SequenceTracker;
use stage::{FlowStage, Stages};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

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

impl WorkerSettings {
    /// Settings for one worker of a test or benchmark: `batch_rows` per batch, batches
    /// sent only when full (or at stop), no configured sampling, no relay rules, no row
    /// pool.
    pub fn standalone(batch_rows: usize) -> WorkerSettings {
        WorkerSettings {
            batch_rows,
            batch_max_age: Duration::from_secs(3600),
            sampling: Arc::new(Vec::new()),
            instance: 1,
            batch_seq: Arc::new(AtomicU64::new(0)),
            relay: Relay::new(),
            row_pool: None,
        }
    }
}

/// Everything after the socket: decode, relay, sequence-check and count, sample, run
/// the stages, batch. Separate from the receive loop so that every datagram source
/// (UDP sockets, AF_XDP rings, benchmarks feeding memory) goes through the same code.
pub struct Pipeline {
    decoder: Decoder,
    out: DecodeOutput,
    relay: RelayWorker,
    sequences: SequenceTracker,
    counters: Arc<Counters>,
    local: WorkerCounters,
    sampling: Arc<Vec<SamplingRule>>,
    stages: Stages,
    batch: Batcher,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline").field("stages", &self.stages).finish_non_exhaustive()
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
        let relay = settings.relay.worker();
        let batch = Batcher::new(
            tx,
            settings.batch_rows,
            settings.batch_max_age,
            settings.instance,
            settings.batch_seq,
            settings.row_pool,
        );
        Pipeline {
            decoder,
            out: DecodeOutput::default(),
            relay,
            sequences: SequenceTracker::default(),
            counters,
            local: WorkerCounters::default(),
            sampling: settings.sampling,
            stages: Stages::default(),
            batch,
        }
    }

    /// Adds a per-flow stage after those already there (see [`stage`]).
    pub fn with_stage(mut self, stage: Box<dyn FlowStage>) -> Self {
        self.stages.push(stage);
        self
    }

    /// Takes one datagram from `src`, received at `now` (Unix ms), through every step.
    pub fn handle(&mut self, src: SocketAddr, payload: &[u8], now: i64) {
        let exporter = src.ip();
        let result = self.decode(exporter, payload, now);
        // Forwarding sees the records as exported (before configured sampling rates),
        // and costs one atomic load when no rules are configured.
        self.relay.forward(src, payload, result.as_ref().ok(), &self.out.records);
        self.account(exporter, payload.len(), &result, now);
        self.batch_records(now);
    }

    /// Decode: the datagram's records into `self.out`.
    #[inline]
    fn decode(&mut self, exporter: IpAddr, payload: &[u8], now: i64) -> Result<DatagramInfo, DecodeError> {
        self.out.clear();
        self.decoder.decode(exporter, payload, now, &mut self.out)
    }

    /// Sequence and accounting: what the datagram said about upstream loss, and what
    /// it adds to the counters.
    #[inline]
    fn account(
        &mut self,
        exporter: IpAddr,
        bytes: usize,
        result: &Result<DatagramInfo, DecodeError>,
        now: i64,
    ) {
        let outcome = match result {
            Ok(info) => Outcome::Decoded { info, sequence: self.sequences.observe(exporter, info) },
            Err(err) => Outcome::Undecodable { reason: err.reason() },
        };
        accounting::count(&mut self.local, exporter, now, bytes, self.out.records.len() as u64, outcome);
    }

    /// Sampling, stages and batching: the records become rows of the current batch.
    #[inline]
    fn batch_records(&mut self, now: i64) {
        let n = self.out.records.len();
        self.batch.reserve(n, &mut self.local);
        for rec in self.out.records.iter() {
            let mut record = *rec;
            sampling::apply(&self.sampling, &mut record);
            self.batch.push(FlowRow { time_received_ms: now, record });
        }
        if !self.stages.is_empty() {
            self.stages.apply(self.batch.last_mut(n));
        }
    }

    /// Sends the batch when it is full or old enough (called after each receive batch).
    pub fn tick(&mut self) {
        // Forwarded datagrams gathered during this receive batch go out now.
        self.relay.flush();
        if self.batch.due() {
            self.batch.send(&mut self.local);
        }
    }

    /// Folds this pipeline's counters into the shared ones, and lets the stages publish.
    pub fn flush_counters(&mut self) {
        self.stages.flush();
        self.counters.absorb(&mut self.local);
    }

    /// Hands the current batch to the writers (or counts it dropped).
    pub fn send_batch(&mut self) {
        self.relay.flush();
        self.batch.send(&mut self.local);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
    use super::*;
    use flowvision_codec::encode::{TemplateEncoder, TemplateEncoderConfig};
    use flowvision_codec::{FlowRecord, Protocol, TemplateCache, TemplateCacheConfig};
    use std::sync::atomic::Ordering;
    use std::sync::Mutex;

    const NOW: i64 = 1_700_000_000_000;

    fn pipeline(tx: Sender<Batch>, counters: &Arc<Counters>) -> Pipeline {
        let settings = WorkerSettings::standalone(1000);
        let decoder = Decoder::with_cache(Arc::new(TemplateCache::new(TemplateCacheConfig::default())));
        Pipeline::new(decoder, tx, Arc::clone(counters), settings)
    }

    fn records(n: usize, first_port: u16) -> Vec<FlowRecord> {
        (0..n)
            .map(|i| {
                let mut r = FlowRecord::new(Protocol::Ipfix, IpAddr::from([192, 0, 2, 1]));
                r.src_addr = Some(IpAddr::from([10, 0, 0, 1]));
                r.dst_addr = Some(IpAddr::from([10, 0, 0, 2]));
                r.src_port = first_port + i as u16;
                r.dst_port = 443;
                r.proto = 6;
                r.bytes = 1000;
                r.packets = 2;
                r.flow_start_ms = Some(NOW - 2000);
                r.flow_end_ms = Some(NOW - 1000);
                r
            })
            .collect()
    }

    fn encode(enc: &mut TemplateEncoder, records: &[FlowRecord]) -> Vec<u8> {
        let mut out = Vec::new();
        enc.encode(NOW, 0, records, |d| {
            assert!(out.is_empty(), "one datagram");
            out = d.to_vec();
        });
        out
    }

    /// An IPFIX exporter whose data reaches a fresh collector before its template:
    /// the held records are in the sequence numbers, and are not upstream loss.
    #[test]
    fn ipfix_data_before_its_template_is_no_sequence_gap() {
        let mut cfg = TemplateEncoderConfig::new(Protocol::Ipfix, 7);
        cfg.template_refresh_datagrams = 0;
        cfg.template_refresh_ms = 0;
        let mut enc = TemplateEncoder::new(cfg);
        // What the exporter sent before the collector started listening.
        let _missed = encode(&mut enc, &records(3, 1000));
        let data_before = [encode(&mut enc, &records(10, 2000)), encode(&mut enc, &records(5, 3000))];
        enc.resend_templates();
        let template_only = encode(&mut enc, &[]);
        let after = [encode(&mut enc, &records(4, 4000)), encode(&mut enc, &records(6, 5000))];
        enc.resend_templates();
        let template_and_data = encode(&mut enc, &records(2, 6000));

        let (tx, rx) = crossbeam_channel::unbounded();
        let counters = Arc::new(Counters::default());
        let mut p = pipeline(tx, &counters);
        let src = SocketAddr::from(([192, 0, 2, 1], 4739));
        for d in data_before.iter().chain([&template_only]).chain(&after).chain([&template_and_data]) {
            p.handle(src, d, NOW);
        }
        p.send_batch();
        p.flush_counters();
        let rows: usize = rx.try_iter().map(|b| b.rows.len()).sum();
        assert_eq!(rows, 10 + 5 + 4 + 6 + 2, "held records released and stored");
        assert_eq!(counters.sequence_lost.load(Ordering::Relaxed), 0, "no sequence gap counted");
        assert_eq!(counters.sequence_resets.load(Ordering::Relaxed), 0);
        let exporters = counters.exporters.lock().unwrap();
        let e = &exporters[&src.ip()];
        assert_eq!((e.sequence_lost, e.datagrams), (0, 6));
        drop(exporters);

        // Real loss is still seen: one datagram of 7 records never arrives.
        let _lost = encode(&mut enc, &records(7, 7000));
        p.handle(src, &encode(&mut enc, &records(1, 8000)), NOW);
        p.flush_counters();
        assert_eq!(counters.sequence_lost.load(Ordering::Relaxed), 7);
    }

    /// A test stage: fills a field the exporter left empty (enrichment) and counts
    /// flows per worker, published on flush (feature extraction).
    struct TagAndCount {
        vlan: u16,
        seen: u64,
        published: Arc<Mutex<Vec<u64>>>,
    }

    impl FlowStage for TagAndCount {
        fn name(&self) -> &'static str {
            "tag-and-count"
        }

        fn flow(&mut self, row: &mut FlowRow) {
            assert_eq!(row.time_received_ms, NOW);
            row.record.vlan = self.vlan;
            self.seen += 1;
        }

        fn flush(&mut self) {
            self.published.lock().unwrap().push(std::mem::take(&mut self.seen));
        }
    }

    #[test]
    fn stages_see_every_flow_after_sampling_and_before_the_batch() {
        let mut cfg = TemplateEncoderConfig::new(Protocol::Ipfix, 7);
        cfg.template_refresh_datagrams = 0;
        let mut enc = TemplateEncoder::new(cfg);
        let first = encode(&mut enc, &records(3, 1000));
        let second = encode(&mut enc, &records(4, 2000));
        let (tx, rx) = crossbeam_channel::unbounded();
        let counters = Arc::new(Counters::default());
        let published = Arc::new(Mutex::new(Vec::new()));
        let mut sampled = pipeline(tx, &counters);
        sampled.sampling = Arc::new(sampling::parse_rules("192.0.2.0/24=!100").unwrap());
        let mut p = sampled
            .with_stage(Box::new(TagAndCount { vlan: 42, seen: 0, published: Arc::clone(&published) }))
            .with_stage(Box::new(TagAndCount { vlan: 43, seen: 0, published: Arc::clone(&published) }));
        assert_eq!(format!("{p:?}"), r#"Pipeline { stages: ["tag-and-count", "tag-and-count"], .. }"#);
        let src = SocketAddr::from(([192, 0, 2, 1], 4739));
        p.handle(src, &first, NOW);
        p.flush_counters();
        p.handle(src, &second, NOW);
        p.send_batch();
        p.flush_counters();
        assert_eq!(*published.lock().unwrap(), [3, 3, 4, 4], "each stage, in order, at each flush");
        let rows: Vec<FlowRow> = rx.try_iter().flat_map(|b| b.rows).collect();
        assert_eq!(rows.len(), 7);
        assert!(rows.iter().all(|r| r.record.vlan == 43 && r.record.sampling_rate == 100), "last stage wins");
    }
}
