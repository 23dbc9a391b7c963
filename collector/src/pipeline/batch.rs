//! Batching: a worker's rows gathered into [`Batch`]es for the writers, sent when full
//! or old enough, in vectors recycled through the store's row pool.

use crate::store::{Batch, BatchId, FlowRow};
use crate::telemetry::WorkerCounters;
use crossbeam_channel::{Receiver, SendTimeoutError, Sender};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a worker waits for a full writer queue before dropping (and counting)
/// a batch. Waiting longer only moves the loss into the kernel's socket buffer.
const QUEUE_WAIT: Duration = Duration::from_secs(1);

/// The batch a worker is filling, and where it goes.
#[derive(Debug)]
pub struct Batcher {
    tx: Sender<Batch>,
    rows: Vec<FlowRow>,
    started: Instant,
    batch_rows: usize,
    max_age: Duration,
    instance: u64,
    batch_seq: Arc<AtomicU64>,
    row_pool: Option<Receiver<Vec<FlowRow>>>,
}

impl Batcher {
    /// Batches of `batch_rows` rows (sent earlier when older than `max_age`) to `tx`,
    /// with ids of `instance` numbered from `batch_seq`; emptied vectors come back
    /// through `row_pool` when there is one.
    pub fn new(
        tx: Sender<Batch>,
        batch_rows: usize,
        max_age: Duration,
        instance: u64,
        batch_seq: Arc<AtomicU64>,
        row_pool: Option<Receiver<Vec<FlowRow>>>,
    ) -> Self {
        Batcher {
            tx,
            rows: Vec::with_capacity(batch_rows),
            started: Instant::now(),
            batch_rows,
            max_age,
            instance,
            batch_seq,
            row_pool,
        }
    }

    /// Makes room for `incoming` rows: a full batch goes before they would overflow it,
    /// because pushing past the capacity reallocates and copies the whole batch
    /// (megabytes at the default 65,536 rows, into freshly faulted pages), once per
    /// batch. Starts the age of a new batch.
    #[inline]
    pub fn reserve(&mut self, incoming: usize, counters: &mut WorkerCounters) {
        if !self.rows.is_empty() && self.rows.len() + incoming > self.batch_rows {
            self.send(counters);
        }
        if self.rows.is_empty() {
            self.started = Instant::now();
        }
    }

    /// Appends one row (after [`Batcher::reserve`] for the datagram's records).
    #[inline]
    pub fn push(&mut self, row: FlowRow) {
        self.rows.push(row);
    }

    /// The last `n` rows pushed (per-flow stages work on a datagram's rows in place).
    #[inline]
    pub fn last_mut(&mut self, n: usize) -> &mut [FlowRow] {
        let from = self.rows.len().saturating_sub(n);
        self.rows.get_mut(from..).unwrap_or_default()
    }

    /// Whether the batch is full or old enough to go.
    #[inline]
    pub fn due(&self) -> bool {
        self.rows.len() >= self.batch_rows
            || (!self.rows.is_empty() && self.started.elapsed() >= self.max_age)
    }

    /// Hands the current batch to the writers (or counts it dropped when their queue
    /// stays full), and starts the next one in a recycled vector when one is back.
    pub fn send(&mut self, counters: &mut WorkerCounters) {
        if self.rows.is_empty() {
            return;
        }
        let want = self.batch_rows;
        let next = self
            .row_pool
            .as_ref()
            .and_then(|p| p.try_recv().ok())
            .filter(|v| v.capacity() >= want)
            .unwrap_or_else(|| Vec::with_capacity(want));
        let rows = std::mem::replace(&mut self.rows, next);
        let n = rows.len() as u64;
        let id = BatchId { instance: self.instance, seq: self.batch_seq.fetch_add(1, Ordering::Relaxed) };
        match self.tx.send_timeout(Batch { id, rows }, QUEUE_WAIT) {
            Ok(()) => counters.rows_queued += n,
            Err(SendTimeoutError::Timeout(_) | SendTimeoutError::Disconnected(_)) => {
                counters.rows_dropped_queue_full += n;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use flowvision_codec::{FlowRecord, Protocol};
    use std::net::IpAddr;

    fn row(t: i64) -> FlowRow {
        FlowRow {
            time_received_ms: t,
            record: FlowRecord::new(Protocol::Ipfix, IpAddr::from([192, 0, 2, 1])),
        }
    }

    #[test]
    fn full_batches_go_before_overflowing_and_ids_count_up() {
        let (tx, rx) = crossbeam_channel::unbounded();
        let (pool_tx, pool) = crossbeam_channel::unbounded();
        let mut b =
            Batcher::new(tx, 4, Duration::from_secs(3600), 9, Arc::new(AtomicU64::new(0)), Some(pool));
        let mut c = WorkerCounters::default();
        for t in 0..3 {
            b.reserve(1, &mut c);
            b.push(row(t));
        }
        assert!(!b.due());
        // Two more would overflow: the three go first, as one batch.
        b.reserve(2, &mut c);
        let first = rx.try_recv().unwrap();
        assert_eq!((first.id, first.rows.len()), (BatchId { instance: 9, seq: 0 }, 3));
        // The store hands the vector back emptied.
        let mut emptied = first.rows;
        emptied.clear();
        pool_tx.send(emptied).unwrap();
        for t in 3..5 {
            b.push(row(t));
        }
        b.last_mut(1)[0].time_received_ms = 40;
        b.reserve(2, &mut c);
        b.push(row(5));
        b.push(row(6));
        assert!(b.due(), "full");
        b.send(&mut c);
        let second = rx.try_recv().unwrap();
        assert_eq!(second.id.seq, 1);
        assert_eq!(second.rows.iter().map(|r| r.time_received_ms).collect::<Vec<_>>(), [3, 40, 5, 6]);
        assert_eq!((c.rows_queued, c.rows_dropped_queue_full), (7, 0));
        b.send(&mut c);
        assert!(rx.try_recv().is_err(), "an empty batch is not sent");
    }
}
