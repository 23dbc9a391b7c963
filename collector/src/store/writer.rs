//! A writer thread: takes batches from the queue and stores each in one transaction
//! (batch id, `COPY ... (FORMAT binary)` into `flows`, rollup and exporter upserts),
//! spooling them when the database is down or slow and replaying the spool in order
//! when it is back.
//!
//! Each writer owns a current-thread tokio runtime and one connection: on a 2-core
//! machine a multi-threaded runtime would only add wake-ups, and the work per batch
//! is sequential anyway (its statements are pipelined on the one connection).
//!
//! Ordering: while the spool holds anything, new batches are appended to it instead
//! of being written directly, and writers replay the oldest file first, so batches
//! reach the database in the order they were produced.
//!
//! The parts it puts together live beside it: when to try again in `retry.rs`, the
//! partitions a batch needs in `partitions.rs`, the COPY stream in `copy.rs`, the
//! rollup statements in `rollup.rs`, the tests' fault injection in `fault.rs`.

use super::beacons::{self, PendingBeacons};
use super::error::{describe, StoreError};
use super::features;
use super::retry::{self, classify, Backoff, Failure, Next};
use super::rollup::{self, Aggregates, ExporterColumns};
use super::time::{system_time, DAY_MS};
use super::{copy, fault, migrate, partitions, wait, Batch, FlowRow, Shared, StoreConfig};
use bytes::BytesMut;
use crossbeam_channel::{Receiver, RecvTimeoutError};
use flowvision_insights::HostFeatureSet;
use flowvision_schema::tables::{HOST_BEACONS, HOST_FEATURES, INGEST_BATCHES};
use std::cell::Cell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_postgres::{Client, NoTls, Statement};

/// A replayed file that fails this many times for a reason other than the connection
/// is moved to `rejected/` so it cannot block the spool forever.
const MAX_REPLAY_ATTEMPTS: u32 = 5;

/// Opens a connection and spawns its task on the current runtime.
pub(crate) async fn connect(cfg: &StoreConfig, application: &str) -> Result<Client, StoreError> {
    let pg = cfg.tokio_config(application)?;
    let (client, connection) = pg.connect(NoTls).await?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            log::debug!("database connection closed: {}", describe(&e));
        }
    });
    // PostgreSQL 14+: notice a vanished client (a writer that timed out and dropped the
    // connection) while blocked, so its locks do not outlive it. Older servers lack it.
    let _ = client.batch_execute("SET client_connection_check_interval = '2s'").await;
    Ok(client)
}

/// Outcome of a stored batch.
enum Written {
    Stored,
    Duplicate,
    AllExpired,
}

struct Conn {
    client: Client,
    insert_batch: Statement,
    rollups: Vec<Statement>,
    exporters: Statement,
    host_beacons: Statement,
}

struct Writer {
    idx: usize,
    shared: Arc<Shared>,
    rx: Receiver<Batch>,
    conn: Option<Conn>,
    /// When to try connecting again.
    backoff: Backoff,
    was_down: bool,
    buf: BytesMut,
    agg: Aggregates,
    features: HostFeatureSet,
    /// The feature rows' COPY stream, kept from batch to batch.
    feature_buf: BytesMut,
    beacons: PendingBeacons,
    replay_failures: HashMap<u64, u32>,
    /// Since when the queue has been seen full (shared with [`watch_queue`]).
    full_since: Rc<Cell<Option<Instant>>>,
}

fn spool_batch(shared: &Shared, batch: &Batch) {
    match shared.spool.append(batch) {
        Ok(true) => {}
        Ok(false) => log::warn!(
            "spool full ({} bytes): dropped batch {:?} of {} rows",
            shared.cfg.spool_max_bytes,
            batch.id,
            batch.rows.len()
        ),
        Err(e) => {
            log::error!("spool write failed, batch {:?} ({} rows) lost: {e}", batch.id, batch.rows.len())
        }
    }
}

/// Runs beside a batch's transaction. The database is "slow" when the queue stays
/// full for `spool_after_queue_full` while a batch is being stored: the queued
/// batches then go to the spool instead of making the ingest side wait and drop. In
/// spool mode (replaying), anything queued goes behind the spool at once, keeping
/// order. Never returns.
async fn watch_queue(
    rx: Receiver<Batch>,
    shared: Arc<Shared>,
    full_since: Rc<Cell<Option<Instant>>>,
    spool_mode: bool,
) {
    let cap = shared.cfg.queue_batches;
    loop {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let divert = if spool_mode {
            !rx.is_empty()
        } else if rx.len() >= cap {
            let since = full_since.get().unwrap_or_else(Instant::now);
            full_since.set(Some(since));
            since.elapsed() >= shared.cfg.spool_after_queue_full
        } else {
            full_since.set(None);
            false
        };
        if divert {
            if !spool_mode {
                log::warn!("database slower than ingest: spooling {} queued batches", rx.len());
            }
            while let Ok(b) = rx.try_recv() {
                spool_batch(&shared, &b);
            }
            full_since.set(None);
        }
    }
}

/// Thread entry point.
pub(crate) fn run(idx: usize, shared: Arc<Shared>, rx: Receiver<Batch>) {
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            log::error!("storage writer {idx}: cannot build a runtime: {e}; batches stay queued");
            return;
        }
    };
    let interval = shared.cfg.reconnect_interval;
    let features = HostFeatureSet::new(shared.cfg.internal_networks.clone());
    let mut w = Writer {
        idx,
        shared,
        rx,
        conn: None,
        backoff: Backoff::new(interval, interval * 8, Instant::now()),
        was_down: false,
        buf: copy::buffer(),
        agg: Aggregates::default(),
        features,
        feature_buf: BytesMut::new(),
        beacons: PendingBeacons::default(),
        replay_failures: HashMap::new(),
        full_since: Rc::new(Cell::new(None)),
    };
    rt.block_on(w.run());
}

impl Writer {
    async fn run(&mut self) {
        loop {
            let closing = self.shared.closing.load(Ordering::SeqCst);
            if !self.shared.spool.is_empty() {
                // Keep order: what is queued goes behind what is spooled.
                self.divert_queue();
                if closing {
                    // Replaying could take long; the spool survives the restart.
                    break;
                }
                if self.connected().await {
                    if !self.replay_one().await {
                        // Nothing to claim (other writers hold the rest) or a failure.
                        self.wait_and_spool(Duration::from_millis(50)).await;
                    }
                } else {
                    let wait = self.backoff.wait(Instant::now());
                    self.wait_and_spool(wait.clamp(Duration::from_millis(10), Duration::from_millis(500)))
                        .await;
                }
                continue;
            }
            match wait::recv_timeout(&self.rx, Duration::from_millis(100)).await {
                Ok(batch) => self.handle(batch).await,
                Err(RecvTimeoutError::Timeout) => {
                    if closing {
                        break;
                    }
                    // Idle: notice a dead connection early, and reconnect in the background.
                    if self.conn.as_ref().is_some_and(|c| c.client.is_closed()) {
                        self.disconnect();
                    }
                }
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        self.disconnect();
    }

    /// Appends every queued batch to the spool.
    fn divert_queue(&mut self) {
        while let Ok(batch) = self.rx.try_recv() {
            self.spool(&batch);
        }
    }

    async fn wait_and_spool(&mut self, d: Duration) {
        if let Ok(batch) = wait::recv_timeout(&self.rx, d).await {
            self.spool(&batch);
        }
    }

    fn spool(&self, batch: &Batch) {
        spool_batch(&self.shared, batch);
    }

    /// Stores `batch` while watching the queue: see [`watch_queue`].
    async fn store_watched(&mut self, batch: &Batch, spool_mode: bool) -> Result<Written, Failure> {
        let watcher =
            watch_queue(self.rx.clone(), Arc::clone(&self.shared), Rc::clone(&self.full_since), spool_mode);
        tokio::select! {
            r = self.store(batch) => r,
            () = watcher => Err(Failure::Other("queue watcher ended".into())),
        }
    }

    async fn handle(&mut self, batch: Batch) {
        self.handle_batch(&batch).await;
        self.shared.recycle(batch.rows);
    }

    async fn handle_batch(&mut self, batch: &Batch) {
        if !self.connected().await {
            self.spool(batch);
            return;
        }
        match self.store_watched(batch, false).await {
            Ok(_) => {}
            Err(Failure::Poison(why)) => self.reject(batch, &why),
            Err(f) => {
                if let Failure::Connection(why) | Failure::Other(why) | Failure::Retry(why) = &f {
                    log::warn!("storage writer {}: batch {:?} spooled: {why}", self.idx, batch.id);
                }
                self.spool(batch);
                if matches!(f, Failure::Connection(_)) {
                    self.disconnect();
                }
            }
        }
    }

    fn reject(&self, batch: &Batch, why: &str) {
        log::error!(
            "batch {:?} ({} rows) refused by the database, kept in spool/rejected: {why}",
            batch.id,
            batch.rows.len()
        );
        let st = &self.shared.stats;
        st.batches_rejected.fetch_add(1, Ordering::Relaxed);
        st.rows_rejected.fetch_add(batch.rows.len() as u64, Ordering::Relaxed);
        if let Err(e) = self.shared.spool.reject_batch(batch) {
            log::error!("could not keep rejected batch {:?}: {e}", batch.id);
        }
    }

    /// Replays the oldest spooled batch. True when it made progress.
    async fn replay_one(&mut self) -> bool {
        let spool = &self.shared.spool;
        let Some((seq, path)) = spool.claim_oldest() else { return false };
        let batch = match spool.read(&path) {
            Ok(b) => b,
            Err(e) => {
                log::error!("{e}; moved to rejected/");
                self.shared.stats.batches_rejected.fetch_add(1, Ordering::Relaxed);
                spool.reject(seq);
                return true;
            }
        };
        let stats = Arc::clone(&self.shared.stats);
        match self.store_watched(&batch, true).await {
            Ok(w) => {
                match w {
                    Written::Stored => stats.batches_replayed.fetch_add(1, Ordering::Relaxed),
                    Written::Duplicate => stats.batches_duplicate.fetch_add(1, Ordering::Relaxed),
                    Written::AllExpired => 0,
                };
                self.replay_failures.remove(&seq);
                self.shared.spool.complete(seq);
                true
            }
            Err(Failure::Connection(why)) => {
                log::warn!("storage writer {}: replay interrupted: {why}", self.idx);
                self.shared.spool.release(seq);
                self.disconnect();
                false
            }
            Err(Failure::Poison(why)) => {
                self.reject_spooled(seq, &batch, &why);
                true
            }
            Err(Failure::Retry(why)) => {
                log::warn!("replay of spooled batch {:?} will be retried: {why}", batch.id);
                self.shared.spool.release(seq);
                false
            }
            Err(Failure::Other(why)) => self.replay_failed(seq, &batch, &why),
            Err(Failure::MissingPartition) => {
                self.replay_failed(seq, &batch, "partition missing after retry")
            }
        }
    }

    /// Counts a failed replay; rejects the file after [`MAX_REPLAY_ATTEMPTS`].
    fn replay_failed(&mut self, seq: u64, batch: &Batch, why: &str) -> bool {
        let n = self.replay_failures.entry(seq).or_insert(0);
        *n += 1;
        if *n >= MAX_REPLAY_ATTEMPTS {
            self.replay_failures.remove(&seq);
            self.reject_spooled(seq, batch, why);
            true
        } else {
            log::warn!("replay of spooled batch {:?} failed (attempt {n}): {why}", batch.id);
            self.shared.spool.release(seq);
            false
        }
    }

    fn reject_spooled(&self, seq: u64, batch: &Batch, why: &str) {
        log::error!(
            "spooled batch {:?} ({} rows) refused, moved to rejected/: {why}",
            batch.id,
            batch.rows.len()
        );
        self.shared.stats.batches_rejected.fetch_add(1, Ordering::Relaxed);
        self.shared.stats.rows_rejected.fetch_add(batch.rows.len() as u64, Ordering::Relaxed);
        self.shared.spool.reject(seq);
    }

    /// True with a usable connection; otherwise tries to open one when the backoff
    /// allows.
    async fn connected(&mut self) -> bool {
        if let Some(c) = &self.conn {
            if !c.client.is_closed() {
                return true;
            }
            self.disconnect();
        }
        if !self.backoff.ready(Instant::now()) {
            return false;
        }
        match self.open().await {
            Ok(c) => {
                if self.was_down {
                    log::info!("storage writer {}: database connection restored", self.idx);
                }
                self.conn = Some(c);
                self.shared.stats.db_connected.fetch_add(1, Ordering::Relaxed);
                self.backoff.succeeded();
                self.was_down = false;
                true
            }
            Err(e) => {
                self.shared.stats.db_errors.fetch_add(1, Ordering::Relaxed);
                if !self.was_down {
                    log::warn!("storage writer {}: database unavailable, spooling: {e}", self.idx);
                }
                self.was_down = true;
                self.backoff.failed(Instant::now());
                false
            }
        }
    }

    fn disconnect(&mut self) {
        if self.conn.take().is_some() {
            self.shared.stats.db_connected.fetch_sub(1, Ordering::Relaxed);
            self.was_down = true;
            self.backoff.lost(Instant::now());
        }
    }

    async fn open(&self) -> Result<Conn, StoreError> {
        let cfg = &self.shared.cfg;
        let client = tokio::time::timeout(
            cfg.connect_timeout + Duration::from_secs(1),
            connect(cfg, "flowvision-writer"),
        )
        .await
        .map_err(|_| StoreError::Timeout("connecting"))??;
        // Before anything is replayed on this connection: the spool may be another
        // database's.
        self.shared.state.ensure(&client, &self.shared.spool, &self.shared.stats).await?;
        if !self.shared.schema_ready.load(Ordering::SeqCst) {
            migrate::apply(&client, migrate::MIGRATIONS).await?;
            self.shared.schema_ready.store(true, Ordering::SeqCst);
        }
        let insert_batch = client
            .prepare(&format!(
                "INSERT INTO {INGEST_BATCHES} (instance, seq, rows, committed_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT DO NOTHING RETURNING 1"
            ))
            .await?;
        let mut rollups = Vec::with_capacity(rollup::TABLES.len());
        for t in &rollup::TABLES {
            rollups.push(client.prepare(&t.upsert_sql()).await?);
        }
        let exporters = client.prepare(&rollup::exporters_sql()).await?;
        let host_beacons = client.prepare(&beacons::insert_sql()).await?;
        Ok(Conn { client, insert_batch, rollups, exporters, host_beacons })
    }

    /// Stores a batch (with a deadline), trying again at once as [`retry::after`]
    /// says (a missing partition, a deadlock).
    async fn store(&mut self, batch: &Batch) -> Result<Written, Failure> {
        let timeout = self.shared.cfg.batch_timeout;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let r = match tokio::time::timeout(timeout, self.store_once(batch)).await {
                Ok(r) => r,
                Err(_) => Err(Failure::Connection(format!("batch not committed within {timeout:?}"))),
            };
            let failure = match r {
                Ok(w) => return Ok(w),
                Err(f) => f,
            };
            match retry::after(&failure, attempt) {
                Next::Again { refresh_partitions } => {
                    if refresh_partitions {
                        self.shared.partitions.invalidate();
                    }
                }
                Next::GiveUp => {
                    self.shared.stats.db_errors.fetch_add(1, Ordering::Relaxed);
                    return Err(failure);
                }
            }
        }
    }

    /// One attempt: the partitions the rows need, then one transaction with the
    /// batch id, the rows and their host features (COPY), and the rollup, exporter and
    /// contact upserts and inserts.
    async fn store_once(&mut self, batch: &Batch) -> Result<Written, Failure> {
        let Some(conn) = self.conn.as_mut() else { return Err(Failure::Connection("not connected".into())) };
        let shared = &self.shared;
        let cfg = &shared.cfg;
        let now = cfg.clock.now_ms();
        let cutoff = now.saturating_sub(i64::from(cfg.retention_days) * DAY_MS);
        let keep = |r: &&FlowRow| r.time_received_ms >= cutoff;
        let kept = batch.rows.iter().filter(keep).count();
        let expired = batch.rows.len() - kept;
        if kept == 0 {
            shared.stats.rows_expired.fetch_add(expired as u64, Ordering::Relaxed);
            return Ok(Written::AllExpired);
        }

        // Host features before the transaction: their buckets (flow time) may need a
        // partition the rows' reception times do not.
        if cfg.host_features_per_signal > 0 {
            let rows = batch.rows.iter().filter(keep).map(|r| (&r.record, r.time_received_ms));
            self.features.build(rows, cfg.host_features_per_signal);
        } else {
            self.features.clear();
        }
        let feature_rows = self.features.len() as u64;
        let feature_copy = features::encode(&self.features, &mut self.feature_buf);
        let rows = batch.rows.iter().filter(keep).filter(|_| cfg.beacon_pairs > 0);
        let (beacon_cols, untracked) =
            self.beacons.for_batch(batch.id, &shared.beacons, rows.map(|r| (&r.record, r.time_received_ms)));
        shared.stats.beacon_pairs_untracked.fetch_add(untracked, Ordering::Relaxed);

        let span = partitions::span_from_code(shared.flows_span.load(Ordering::Relaxed));
        let mut need = partitions::for_rows(batch.rows.iter().filter(keep).map(|r| r.time_received_ms));
        need.extend(
            partitions::for_rows(self.features.rows().iter().map(|(k, _)| k.bucket_ms))
                .into_iter()
                .filter(|(table, _, _)| *table == HOST_FEATURES),
        );
        need.extend(
            partitions::for_rows(beacon_cols.times())
                .into_iter()
                .filter(|(table, _, _)| *table == HOST_BEACONS),
        );
        let created = partitions::create_missing(&conn.client, &shared.partitions, span, &need)
            .await
            .map_err(classify)?;
        if !created.is_empty() {
            shared.stats.partitions_created.fetch_add(created.len() as u64, Ordering::Relaxed);
            log::info!("created partitions {}", created.join(", "));
        }

        let started = Instant::now();
        let tx = conn.client.transaction().await.map_err(classify)?;
        let first = tx
            .query_opt(
                &conn.insert_batch,
                &[
                    &(batch.id.instance as i64),
                    &(batch.id.seq as i64),
                    &i32::try_from(kept).unwrap_or(i32::MAX),
                    &system_time(now),
                ],
            )
            .await
            .map_err(classify)?;
        if first.is_none() {
            let _ = tx.rollback().await;
            return Ok(Written::Duplicate);
        }

        // The rollups are aggregated while the server is still parsing the last chunk.
        let agg = &mut self.agg;
        let copied = copy::copy_rows(&tx, &mut self.buf, batch.rows.iter().filter(keep), || {
            agg.clear();
            for r in batch.rows.iter().filter(keep) {
                agg.add(r);
            }
            agg.prune(cfg.talkers_per_batch, cfg.services_per_batch, cfg.as_pairs_per_batch);
        })
        .await
        .map_err(classify)?;
        if copied != kept as u64 {
            return Err(Failure::Other(format!("COPY stored {copied} rows of {kept}")));
        }

        if !feature_copy.is_empty() {
            let copied = features::copy(&tx, feature_copy).await.map_err(classify)?;
            if copied != feature_rows {
                return Err(Failure::Other(format!("COPY stored {copied} feature rows of {feature_rows}")));
            }
        }

        // All upserts pipelined on the connection, in the fixed table order.
        let columns = rollup::all_columns(agg);
        let exporter_cols = ExporterColumns::from_seen(&agg.seen);
        let params: Vec<Vec<&(dyn tokio_postgres::types::ToSql + Sync)>> =
            columns.iter().map(|c| c.params()).collect();
        let exporter_params = exporter_cols.params();
        let beacon_params = beacon_cols.params();
        let mut futures = Vec::with_capacity(columns.len() + 2);
        for ((c, p), st) in columns.iter().zip(&params).zip(&conn.rollups) {
            if !c.is_empty() {
                futures.push(tx.execute(st, p));
            }
        }
        if !exporter_cols.is_empty() {
            futures.push(tx.execute(&conn.exporters, &exporter_params));
        }
        if !beacon_cols.is_empty() {
            futures.push(tx.execute(&conn.host_beacons, &beacon_params));
        }
        futures_util::future::try_join_all(futures).await.map_err(classify)?;
        tx.commit().await.map_err(classify)?;

        let latency = started.elapsed().as_micros() as u64;
        let st = &shared.stats;
        st.rows_stored.fetch_add(kept as u64, Ordering::Relaxed);
        st.batches_stored.fetch_add(1, Ordering::Relaxed);
        st.rows_expired.fetch_add(expired as u64, Ordering::Relaxed);
        st.last_commit_latency_us.store(latency, Ordering::Relaxed);
        st.commit_latency_us_total.fetch_add(latency, Ordering::Relaxed);

        if fault::commit_answer_lost(&cfg.simulate_ambiguous_commits) {
            return Err(Failure::Connection("simulated connection loss during COMMIT".into()));
        }
        Ok(Written::Stored)
    }
}
