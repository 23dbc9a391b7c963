//! A worker: one thread, pinned to a core, taking datagrams from its own source (a
//! set of UDP sockets, or one AF_XDP queue) through its own [`Pipeline`]. The loop —
//! receive, tick, counter flush, stop and drain — is written once here for every
//! [`DatagramSource`].

use super::Pipeline;
use crate::clock;
use crate::ingest::DatagramSource;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Longest wait for datagrams before the worker ticks anyway (batch age, relay flush,
/// counters, the stop flag).
const RECEIVE_WAIT: Duration = Duration::from_millis(50);
/// Pause after a receive error, so a persistent one does not spin a core.
const ERROR_PAUSE: Duration = Duration::from_millis(50);
/// Longest a stopping worker keeps reading datagrams that are still arriving.
const STOP_DRAIN: Duration = Duration::from_secs(2);
/// How often worker counters are folded into the shared ones.
const COUNTER_FLUSH: Duration = Duration::from_millis(100);

/// One worker: a source of datagrams and the pipeline they go through.
pub struct Worker<S> {
    source: S,
    pipeline: Pipeline,
}

impl<S: std::fmt::Debug> std::fmt::Debug for Worker<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker").field("source", &self.source).finish_non_exhaustive()
    }
}

impl<S: DatagramSource> Worker<S> {
    /// A worker reading `source` into `pipeline`.
    pub fn new(source: S, pipeline: Pipeline) -> Self {
        Worker { source, pipeline }
    }

    /// Runs until `stop` is set and the source is drained, then sends what is left.
    pub fn run(mut self, core: Option<usize>, stop: Arc<AtomicBool>) {
        if let Some(id) = core {
            // Pinning keeps the receive buffers (or ring), decoder state and batch in
            // one core's caches; failure (e.g. restricted cpuset) costs only speed.
            let _ = core_affinity::set_for_current(core_affinity::CoreId { id });
        }
        let mut last_flush = Instant::now();
        let mut stopping_since: Option<Instant> = None;
        loop {
            // One receive time per batch, taken when its first datagram is handed over.
            let mut now = None;
            let pipeline = &mut self.pipeline;
            let received = self.source.receive(RECEIVE_WAIT, |src, payload| {
                let now = *now.get_or_insert_with(clock::now_ms);
                pipeline.handle(src, payload, now);
            });
            let n = match received {
                Ok(n) => n,
                Err(e) => {
                    log::warn!("receive error: {e}");
                    std::thread::sleep(ERROR_PAUSE);
                    0
                }
            };
            self.pipeline.tick();
            if last_flush.elapsed() >= COUNTER_FLUSH {
                self.flush_counters();
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
        self.flush_counters();
    }

    fn flush_counters(&mut self) {
        self.pipeline.flush_counters();
        self.source.flush_counters();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
    use super::*;
    use crate::pipeline::WorkerSettings;
    use crate::telemetry::Counters;
    use flowvision_codec::encode::V5Encoder;
    use flowvision_codec::{Decoder, FlowRecord, Protocol};
    use std::collections::VecDeque;
    use std::io;
    use std::net::{IpAddr, SocketAddr};
    use std::sync::atomic::AtomicU64;

    /// Batches of datagrams in memory; sets `stop` when the first batch is taken, so
    /// the rest must be drained.
    #[derive(Debug)]
    struct Memory {
        batches: VecDeque<Vec<Vec<u8>>>,
        stop: Arc<AtomicBool>,
        flushes: Arc<AtomicU64>,
    }

    impl DatagramSource for Memory {
        fn receive<F: FnMut(SocketAddr, &[u8])>(&mut self, _: Duration, mut handle: F) -> io::Result<usize> {
            self.stop.store(true, Ordering::Release);
            let Some(batch) = self.batches.pop_front() else { return Ok(0) };
            for d in &batch {
                handle(SocketAddr::from(([192, 0, 2, 5], 2055)), d);
            }
            Ok(batch.len())
        }

        fn flush_counters(&mut self) {
            self.flushes.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[test]
    fn a_stopping_worker_drains_its_source_and_sends_the_rest() {
        let mut enc = V5Encoder::new(0, 0, 0);
        let mut datagrams = Vec::new();
        let records: Vec<FlowRecord> =
            (0..90).map(|_| FlowRecord::new(Protocol::NetflowV5, IpAddr::from([192, 0, 2, 5]))).collect();
        enc.encode(clock::now_ms(), 1000, &records, |d| datagrams.push(d.to_vec()));
        assert_eq!(datagrams.len(), 3, "30 records per v5 datagram");
        let stop = Arc::new(AtomicBool::new(false));
        let source = Memory {
            batches: VecDeque::from([datagrams[..1].to_vec(), datagrams[1..].to_vec()]),
            stop: Arc::clone(&stop),
            flushes: Arc::new(AtomicU64::new(0)),
        };
        let flushes = Arc::clone(&source.flushes);
        let (tx, rx) = crossbeam_channel::unbounded();
        let counters = Arc::new(Counters::default());
        let settings = WorkerSettings::standalone(1000);
        let pipeline = Pipeline::new(Decoder::default(), tx, Arc::clone(&counters), settings);
        Worker::new(source, pipeline).run(None, stop);
        let rows: usize = rx.try_iter().map(|b| b.rows.len()).sum();
        assert_eq!(rows, 90);
        assert_eq!(counters.datagrams_received.load(Ordering::Relaxed), 3);
        assert_eq!(counters.sequence_lost.load(Ordering::Relaxed), 0);
        assert!(flushes.load(Ordering::Relaxed) >= 1, "the source's counters are published at the end");
    }
}
