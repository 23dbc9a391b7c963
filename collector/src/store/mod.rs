//! Storage: flow batches into PostgreSQL, exactly once, with rollups, partitions and
//! an on-disk spool for outages.
//!
//! ```text
//! ingest workers ──Batch──> bounded queue ──> writer thread(s) ──COPY binary + rollups──> PostgreSQL
//!                                                  │  ^                (one transaction per batch,
//!                                  DB down / slow  v  │ replay in order  with its BatchId)
//!                                              spool dir (fsync'd files)
//! maintenance thread: migrations, partitions ahead / retention, batch-id pruning,
//!                     top-N compaction of closed periods and the daily tier,
//!                     exporter and collector counters, template persistence
//! ```
//!
//! Exactly once: a batch commits in one transaction together with its [`BatchId`] in
//! `ingest_batches`; a batch whose id is already there is skipped. So a batch spooled
//! after an ambiguous failure (connection lost during COMMIT) is never stored twice.
//! See `docs/storage.md` for the schema, which console query reads which table, the
//! partition and retention policy, the spool format and the crash window.

mod beacons;
pub mod compaction;
mod config;
pub mod copy;
mod error;
mod fault;
mod features;
mod maintenance;
pub mod migrate;
pub mod partitions;
mod retry;
mod rollup;
mod spool;
mod state;
mod stats;
mod summaries;
pub mod templates;
mod time;
mod tx;
mod wait;
mod writer;

// The collector's one clock (crate::clock), re-exported where the store's users find it.
pub use crate::clock::{Clock, ManualClock, SystemClock};
pub use config::{host_name, PartitionInterval, StoreConfig};
pub use error::StoreError;
pub use flowvision_schema::FlowRow;
pub use maintenance::MaintenanceReport;
pub use stats::{CollectorSnapshot, ExporterTotals, StoreStats};
pub use templates::{load_templates, save_templates};

use crossbeam_channel::{Receiver, Sender};
use flowvision_codec::CacheSnapshot;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;
use tokio_postgres::Client;

/// Identifies a batch for exactly-once storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BatchId {
    /// Random per collector process ([`new_instance_id`]).
    pub instance: u64,
    /// Monotonic within the instance (per writer queue).
    pub seq: u64,
}

/// A batch of rows, stored in one transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    /// Its id; never reuse one for different rows.
    pub id: BatchId,
    /// The rows.
    pub rows: Vec<FlowRow>,
}

/// A random id for this collector process, for [`BatchId::instance`].
///
/// Std's `RandomState` is seeded from the OS's randomness; mixing in the time and the
/// pid keeps two processes started together apart even if it were not.
pub fn new_instance_id() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos()),
    );
    h.write_u32(std::process::id());
    // Positive when stored as bigint keeps ids readable in SQL.
    h.finish() & (u64::MAX >> 1)
}

/// Connects to `cfg.database_url` and applies pending migrations (once, checksummed,
/// under an advisory lock). Must be called inside a tokio runtime: the connection's
/// task is spawned on it.
pub async fn connect_and_migrate(cfg: &StoreConfig) -> Result<Client, StoreError> {
    let client = writer::connect(cfg, "flowvision-admin").await?;
    migrate::apply(&client, migrate::MIGRATIONS).await?;
    Ok(client)
}

/// State shared by the writer threads and the maintenance thread.
pub(crate) struct Shared {
    pub cfg: StoreConfig,
    pub stats: Arc<StoreStats>,
    pub spool: spool::Spool,
    pub partitions: partitions::PartitionCache,
    /// Whether the spool directory was checked against the database (`state.rs`).
    pub state: state::StateGuard,
    /// Migrations have been applied by this process.
    pub schema_ready: AtomicBool,
    /// Shutdown requested: drain the queue, then exit.
    pub closing: AtomicBool,
    /// Current span for new `flows` partitions (resolved from `PartitionInterval`).
    pub flows_span: AtomicU64,
    /// Emptied row vectors going back to the workers (see [`Store::row_pool`]).
    pub rows_back: Sender<Vec<FlowRow>>,
    rows_pool: Receiver<Vec<FlowRow>>,
    /// Periodic contacts of every exporter's hosts, one tracker for all writers (a
    /// pair's contacts land in whichever writer's batches).
    pub beacons: std::sync::Mutex<flowvision_insights::beacon::BeaconTracker>,
}

/// Row vectors kept for reuse at most: a batch's vector is ~12 MB at the default
/// 65,536 rows, and a new one costs the kernel that much page zeroing.
const ROW_POOL: usize = 4;

impl Shared {
    /// Gives a stored (or spooled) batch's row vector back for the next batch.
    pub fn recycle(&self, mut rows: Vec<FlowRow>) {
        rows.clear();
        let _ = self.rows_back.try_send(rows);
    }
}

/// Requests to the maintenance thread.
pub(crate) enum Request {
    LoadTemplates(Sender<Result<CacheSnapshot, StoreError>>),
    SaveTemplates(CacheSnapshot),
    Snapshot(Box<CollectorSnapshot>),
    RunMaintenance(Sender<Result<MaintenanceReport, StoreError>>),
}

/// The storage side of the collector: writer threads, the spool and the maintenance
/// thread. Created by [`Store::start`]; stop with [`Store::shutdown`].
pub struct Store {
    shared: Arc<Shared>,
    writers: Vec<JoinHandle<()>>,
    maintenance: Option<JoinHandle<()>>,
    requests: Sender<Request>,
    stop_maintenance: Arc<AtomicBool>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("writers", &self.writers.len()).finish_non_exhaustive()
    }
}

impl Store {
    /// Opens the spool, connects and migrates (a database that is down is not an
    /// error: batches spool until it is back; a migration that fails or was changed
    /// is), creates partitions ahead, and starts `cfg.writers` writer threads and the
    /// maintenance thread. Returns the store and the sender of its bounded queue
    /// (`cfg.queue_batches` batches); clone the sender for each ingest worker.
    pub fn start(cfg: StoreConfig, stats: Arc<StoreStats>) -> Result<(Store, Sender<Batch>), StoreError> {
        cfg.validate()?;
        let spool = spool::Spool::open(&cfg.spool_dir, cfg.spool_max_bytes, Arc::clone(&stats))?;
        let initial_span = match cfg.partition_interval {
            PartitionInterval::Daily => partitions::Span::Day,
            PartitionInterval::Hourly | PartitionInterval::Auto => partitions::Span::Hour,
        };
        let (rows_back, rows_pool) = crossbeam_channel::bounded(ROW_POOL);
        let shared = Arc::new(Shared {
            rows_back,
            rows_pool,
            stats,
            spool,
            partitions: partitions::PartitionCache::default(),
            state: state::StateGuard::default(),
            schema_ready: AtomicBool::new(false),
            closing: AtomicBool::new(false),
            flows_span: AtomicU64::new(partitions::span_code(initial_span)),
            beacons: std::sync::Mutex::new(flowvision_insights::beacon::BeaconTracker::new(
                cfg.internal_networks.clone(),
                cfg.beacon_pairs,
            )),
            cfg,
        });
        let (tx, rx): (Sender<Batch>, Receiver<Batch>) = crossbeam_channel::bounded(shared.cfg.queue_batches);
        let (req_tx, req_rx) = crossbeam_channel::unbounded();
        let (ready_tx, ready_rx) = crossbeam_channel::bounded(1);
        let stop_maintenance = Arc::new(AtomicBool::new(false));
        let maintenance = {
            let shared = Arc::clone(&shared);
            let stop = Arc::clone(&stop_maintenance);
            std::thread::Builder::new()
                .name("fv-store-maint".into())
                .spawn(move || maintenance::run(shared, req_rx, ready_tx, stop))
                .map_err(StoreError::Runtime)?
        };
        // Wait for the first connect/migrate/partition round so a fatal schema error
        // stops start-up with its cause.
        let first = ready_rx.recv_timeout(shared.cfg.connect_timeout * 2 + Duration::from_secs(60));
        let mut store = Store {
            shared: Arc::clone(&shared),
            writers: Vec::new(),
            maintenance: Some(maintenance),
            requests: req_tx,
            stop_maintenance,
        };
        match first {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                store.stop_threads();
                return Err(e);
            }
            Err(_) => log::warn!("storage: database not ready in time at start; batches spool until it is"),
        }
        for i in 0..shared.cfg.writers {
            let shared = Arc::clone(&shared);
            let rx = rx.clone();
            let handle = std::thread::Builder::new()
                .name(format!("fv-store-w{i}"))
                .spawn(move || writer::run(i, shared, rx))
                .map_err(StoreError::Runtime)?;
            store.writers.push(handle);
        }
        Ok((store, tx))
    }

    /// Drains the queue, commits (or spools, when the database is unavailable) every
    /// batch, flushes counters and templates, and returns when all of it is durable.
    ///
    /// Stop the ingest workers first: batches sent after the queue is found empty are
    /// left in the channel and dropped with it.
    pub fn shutdown(mut self) -> Result<(), StoreError> {
        self.shared.closing.store(true, Ordering::SeqCst);
        let mut failed = false;
        for w in self.writers.drain(..) {
            failed |= w.join().is_err();
        }
        self.stop_threads();
        if failed {
            return Err(StoreError::ThreadFailed);
        }
        Ok(())
    }

    fn stop_threads(&mut self) {
        self.stop_maintenance.store(true, Ordering::SeqCst);
        if let Some(m) = self.maintenance.take() {
            let _ = m.join();
        }
    }

    /// The counters shared with the caller.
    pub fn stats(&self) -> &Arc<StoreStats> {
        &self.shared.stats
    }

    /// The template snapshot to restore at start: from the database merged with the
    /// local copy in the spool directory (`templates.json`, written by every
    /// [`Store::save_templates`], so it also covers a database that is down now);
    /// `None` when neither has any. Blocks up to `connect_timeout` plus a few seconds.
    pub fn load_templates(&self) -> Result<Option<CacheSnapshot>, StoreError> {
        let (tx, rx) = crossbeam_channel::bounded(1);
        self.request(Request::LoadTemplates(tx))?;
        let snap = rx
            .recv_timeout(self.shared.cfg.connect_timeout * 2 + Duration::from_secs(30))
            .map_err(|_| StoreError::Timeout("loading templates"))??;
        Ok((!snap.templates.is_empty() || !snap.options.is_empty()).then_some(snap))
    }

    /// Persists a template snapshot: at once to the local copy, and to the database
    /// from the maintenance thread (now, or when it is back; the latest snapshot wins).
    /// Does not wait for the database.
    pub fn save_templates(&self, snapshot: &CacheSnapshot) -> Result<(), StoreError> {
        templates::save_local(&self.shared.cfg.spool_dir, snapshot)?;
        self.request(Request::SaveTemplates(snapshot.clone()))
    }

    /// Hands the collector's counters to storage: per-exporter counters become
    /// deltas added to `exporters` and `exporter_stats_1m`, the rest (plus the storage
    /// counters) a `collector_stats` row. Written by the maintenance thread; kept in
    /// memory and merged while the database is away. Does not block.
    pub fn write_stats(&self, snapshot: &CollectorSnapshot) -> Result<(), StoreError> {
        self.request(Request::Snapshot(Box::new(snapshot.clone())))
    }

    /// Emptied row vectors of stored batches, for the workers' next batches: reusing
    /// them saves the kernel zeroing fresh pages for every batch (19-33% of a worker's
    /// CPU at the default batch size, by `perf`).
    pub fn row_pool(&self) -> Receiver<Vec<FlowRow>> {
        self.shared.rows_pool.clone()
    }

    /// Runs one maintenance round now (partitions ahead, retention, pruning) with the
    /// configured clock, and reports what it created and dropped.
    pub fn run_maintenance(&self) -> Result<MaintenanceReport, StoreError> {
        let (tx, rx) = crossbeam_channel::bounded(1);
        self.request(Request::RunMaintenance(tx))?;
        rx.recv_timeout(Duration::from_secs(300)).map_err(|_| StoreError::Timeout("maintenance"))?
    }

    /// True when the spool holds no batch (everything queued so far is in the database
    /// or in flight).
    pub fn spool_is_empty(&self) -> bool {
        self.shared.spool.is_empty()
    }

    fn request(&self, r: Request) -> Result<(), StoreError> {
        self.requests.send(r).map_err(|_| StoreError::ThreadFailed)
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        // Dropped without shutdown (an error path): still stop the threads cleanly.
        if !self.writers.is_empty() || self.maintenance.is_some() {
            self.shared.closing.store(true, Ordering::SeqCst);
            for w in self.writers.drain(..) {
                let _ = w.join();
            }
            self.stop_threads();
        }
    }
}
