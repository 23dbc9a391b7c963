//! The maintenance thread: migrations at start, partitions ahead and retention,
//! pruning of batch ids and old statistics, exporter counters, collector statistics
//! and template persistence. Its own connection, so none of this ever waits behind a
//! batch (or the other way round).

use super::error::StoreError;
use super::partitions::{self, Family, Span};
use super::retry::Backoff;
use super::stats::{write_collector_stats, DeltaTracker, PendingDeltas};
use super::templates;
use super::time::DAY_MS;
use super::writer::connect;
use super::{migrate, wait, PartitionInterval, Request, Shared};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use flowvision_codec::CacheSnapshot;
use flowvision_schema::tables;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_postgres::Client;

/// What one maintenance round did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MaintenanceReport {
    /// Partitions created (ahead of time).
    pub created: Vec<String>,
    /// Partitions dropped by retention.
    pub dropped: Vec<String>,
    /// `ingest_batches` rows pruned.
    pub batch_ids_pruned: u64,
    /// Span of new `flows` partitions now in force.
    pub flows_span_hours: u32,
    /// BRIN page ranges of recent `flows` partitions summarized this round.
    pub brin_ranges_summarized: i64,
    /// What the top-N compaction did (none when it failed; the round still counts).
    pub compaction: Option<super::compaction::CompactionReport>,
}

/// Templates not seen for this long are removed from the database.
const TEMPLATE_MAX_AGE_MS: i64 = 30 * DAY_MS;
/// `Auto` decides on the ingest rate measured over at least this long.
const RATE_WINDOW: Duration = Duration::from_secs(300);

struct Maint {
    shared: Arc<Shared>,
    client: Option<Client>,
    /// When to try connecting again (every `reconnect_interval`).
    retry: Backoff,
    pending: PendingDeltas,
    tracker: DeltaTracker,
    /// Latest collector counters, and whether they still have to be written.
    counters: BTreeMap<String, u64>,
    counters_dirty: bool,
    templates: Option<CacheSnapshot>,
    last_round: Option<Instant>,
    last_stats: Instant,
    rate_since: (Instant, u64),
    started_ms: i64,
}

pub(crate) fn run(
    shared: Arc<Shared>,
    requests: Receiver<Request>,
    ready: Sender<Result<(), StoreError>>,
    stop: Arc<AtomicBool>,
) {
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            let _ = ready.send(Err(StoreError::Runtime(e)));
            return;
        }
    };
    let started_ms = shared.cfg.clock.now_ms();
    let rows = shared.stats.rows_stored.load(Ordering::Relaxed);
    let interval = shared.cfg.reconnect_interval;
    let mut m = Maint {
        shared,
        client: None,
        retry: Backoff::new(interval, interval, Instant::now()),
        pending: PendingDeltas::default(),
        tracker: DeltaTracker::default(),
        counters: BTreeMap::new(),
        counters_dirty: false,
        templates: None,
        last_round: None,
        last_stats: Instant::now(),
        rate_since: (Instant::now(), rows),
        started_ms,
    };
    rt.block_on(m.run(requests, ready, stop));
}

impl Maint {
    async fn run(
        &mut self,
        requests: Receiver<Request>,
        ready: Sender<Result<(), StoreError>>,
        stop: Arc<AtomicBool>,
    ) {
        match self.first_round().await {
            Ok(()) => {
                let _ = ready.send(Ok(()));
            }
            Err(
                e @ (StoreError::MigrationChanged { .. }
                | StoreError::MigrationFailed { .. }
                | StoreError::MigrationList(_)
                | StoreError::Config(_)),
            ) => {
                let _ = ready.send(Err(e));
                return;
            }
            Err(e) => {
                log::warn!("storage: database unavailable at start ({e}); batches spool until it is back");
                let _ = ready.send(Ok(()));
            }
        }
        drop(ready);
        let cfg = self.shared.cfg.clone();
        loop {
            if stop.load(Ordering::SeqCst) {
                self.final_flush().await;
                return;
            }
            match wait::recv_timeout(&requests, Duration::from_millis(200)).await {
                Ok(req) => self.handle(req).await,
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    // The Store is gone without shutdown: nothing more will come.
                    self.final_flush().await;
                    return;
                }
            }
            if self.last_round.map_or(true, |t| t.elapsed() >= cfg.maintenance_interval) {
                if let Err(e) = self.round(true).await {
                    log::warn!("storage maintenance: {e}");
                }
            }
            if self.last_stats.elapsed() >= cfg.stats_interval {
                self.last_stats = Instant::now();
                self.flush_stats().await;
            }
        }
    }

    /// Ensures `self.client` holds an open connection (reconnecting when the backoff
    /// allows); read it as `self.client.as_ref()` afterwards, so other fields can
    /// still be borrowed.
    async fn ensure_client(&mut self) -> Result<(), StoreError> {
        if self.client.as_ref().is_some_and(|c| c.is_closed()) {
            self.client = None;
        }
        if self.client.is_none() {
            if !self.retry.ready(Instant::now()) {
                return Err(StoreError::Timeout("waiting to reconnect"));
            }
            let cfg = &self.shared.cfg;
            let attempt = tokio::time::timeout(
                cfg.connect_timeout + Duration::from_secs(1),
                connect(cfg, "flowvision-maintenance"),
            )
            .await
            .map_err(|_| StoreError::Timeout("connecting"))
            .and_then(|r| r);
            match attempt {
                Ok(c) => {
                    // Before the template copy is read (`load_templates`).
                    let shared = &self.shared;
                    shared.state.ensure(&c, &shared.spool, &shared.stats).await?;
                    if !self.shared.schema_ready.load(Ordering::SeqCst) {
                        migrate::apply(&c, migrate::MIGRATIONS).await?;
                        self.shared.schema_ready.store(true, Ordering::SeqCst);
                    }
                    self.client = Some(c);
                }
                Err(e) => {
                    self.shared.stats.db_errors.fetch_add(1, Ordering::Relaxed);
                    self.retry.failed(Instant::now());
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    async fn client(&mut self) -> Result<&Client, StoreError> {
        self.ensure_client().await?;
        self.client.as_ref().ok_or(StoreError::ThreadFailed)
    }

    fn forget_if_closed(&mut self) {
        if self.client.as_ref().is_some_and(|c| c.is_closed()) {
            self.client = None;
        }
    }

    async fn first_round(&mut self) -> Result<(), StoreError> {
        let shared = Arc::clone(&self.shared);
        let client = self.client().await?;
        if shared.cfg.partition_interval == PartitionInterval::Auto {
            // Until a rate is measured, follow the newest existing partition.
            partitions::refresh(client, &shared.partitions, &[tables::FLOWS]).await?;
            let newest = self.shared.partitions.partitions(tables::FLOWS).into_iter().max_by_key(|p| p.lo_ms);
            let span = match newest {
                Some(p) if p.hi_ms - p.lo_ms == DAY_MS => Span::Day,
                _ => Span::Hour,
            };
            self.shared.flows_span.store(partitions::span_code(span), Ordering::Relaxed);
        }
        // No compaction yet: after a long stop it may take a while, and the
        // collector waits for this round before it starts reading datagrams.
        self.round(false).await.map(|_| ())
    }

    /// One maintenance round with the configured clock; `compact`: also a top-N
    /// compaction pass.
    async fn round(&mut self, compact: bool) -> Result<MaintenanceReport, StoreError> {
        self.last_round = Some(Instant::now());
        self.update_auto_span();
        let shared = Arc::clone(&self.shared);
        let cfg = &shared.cfg;
        let now = cfg.clock.now_ms();
        let span = partitions::span_from_code(shared.flows_span.load(Ordering::Relaxed));
        let result = async {
            let client = self.client().await?;
            let created =
                partitions::create_missing(client, &shared.partitions, span, &partitions::ahead(now, span))
                    .await?;
            let dropped = partitions::drop_expired(client, cfg, &shared.partitions, now).await?;
            // Batch ids must outlive any spooled batch that could still be replayed
            // with rows inside the retention: retention + 1 day.
            let ids_cutoff = now - (i64::from(cfg.retention_days) + 1) * DAY_MS;
            let pruned = client
                .execute(
                    &format!("DELETE FROM {} WHERE committed_at < $1", tables::INGEST_BATCHES),
                    &[&super::time::system_time(ids_cutoff)],
                )
                .await?;
            let stats_cutoff = now - i64::from(cfg.collector_stats_retention_days) * DAY_MS;
            client
                .execute(
                    &format!("DELETE FROM {} WHERE time < $1", tables::COLLECTOR_STATS),
                    &[&super::time::system_time(stats_cutoff)],
                )
                .await?;
            client
                .execute(
                    &format!("DELETE FROM {} WHERE last_seen < $1", tables::TEMPLATES),
                    &[&super::time::system_time(now - TEMPLATE_MAX_AGE_MS)],
                )
                .await?;
            // A failed summary (it is only an index's coverage) must not fail the round.
            let brin_ranges_summarized =
                match super::summaries::summarize_recent(client, &shared.partitions, now).await {
                    Ok(n) => n,
                    Err(e) => {
                        log::warn!("BRIN summaries of recent flows partitions: {e}");
                        0
                    }
                };
            // Compaction failing (e.g. a deadlock with a replaying writer) must not
            // fail partition upkeep: it is retried next round.
            let compaction = if compact {
                match super::compaction::run(client, now, cfg.topn_keep, cfg.rollup_1d_retention_days).await {
                    Ok(r) => Some(r),
                    Err(e) => {
                        log::warn!("rollup compaction: {e}");
                        None
                    }
                }
            } else {
                None
            };
            Ok::<_, StoreError>(MaintenanceReport {
                created,
                dropped,
                batch_ids_pruned: pruned,
                flows_span_hours: (span.len_ms() / 3_600_000) as u32,
                brin_ranges_summarized,
                compaction,
            })
        }
        .await;
        self.forget_if_closed();
        if let Ok(r) = &result {
            let st = &shared.stats;
            st.partitions_created.fetch_add(r.created.len() as u64, Ordering::Relaxed);
            st.partitions_dropped.fetch_add(r.dropped.len() as u64, Ordering::Relaxed);
            if !r.created.is_empty() {
                log::info!("partitions created: {}", r.created.join(", "));
            }
            if !r.dropped.is_empty() {
                log::info!("partitions dropped by retention: {}", r.dropped.join(", "));
            }
        }
        result
    }

    /// `Auto`: hourly partitions above the configured daily row count, daily below
    /// half of it (the gap keeps it from flapping).
    fn update_auto_span(&mut self) {
        let cfg = &self.shared.cfg;
        let span = match cfg.partition_interval {
            PartitionInterval::Hourly => Span::Hour,
            PartitionInterval::Daily => Span::Day,
            PartitionInterval::Auto => {
                let (since, rows_then) = self.rate_since;
                let elapsed = since.elapsed();
                if elapsed < RATE_WINDOW {
                    return;
                }
                let rows = self.shared.stats.rows_stored.load(Ordering::Relaxed);
                self.rate_since = (Instant::now(), rows);
                let per_day = (rows.saturating_sub(rows_then)) as f64 / elapsed.as_secs_f64() * 86_400.0;
                let current = partitions::span_from_code(self.shared.flows_span.load(Ordering::Relaxed));
                let threshold = cfg.auto_hourly_rows_per_day as f64;
                if per_day > threshold {
                    Span::Hour
                } else if per_day < threshold / 2.0 {
                    Span::Day
                } else {
                    current
                }
            }
        };
        self.shared.flows_span.store(partitions::span_code(span), Ordering::Relaxed);
    }

    async fn handle(&mut self, req: Request) {
        match req {
            Request::LoadTemplates(reply) => {
                let _ = reply.send(self.load_templates().await);
            }
            Request::SaveTemplates(snap) => {
                self.templates = Some(snap);
                self.save_templates().await;
            }
            Request::Snapshot(snap) => {
                self.pending.add(self.tracker.deltas(&snap));
                self.counters = snap.counters;
                self.counters_dirty = true;
                self.flush_stats().await;
            }
            Request::RunMaintenance(reply) => {
                let _ = reply.send(self.round(true).await);
            }
        }
    }

    /// Database snapshot plus local templates it lacks (saved while it was down);
    /// on conflict the more recently seen template wins.
    async fn load_templates(&mut self) -> Result<CacheSnapshot, StoreError> {
        let dir = self.shared.cfg.spool_dir.clone();
        let local = templates::load_local(&dir).unwrap_or_else(|e| {
            log::warn!("local template copy unreadable: {e}");
            None
        });
        let db = match self.client().await {
            Ok(c) => templates::load_templates(c).await,
            Err(e) => Err(e),
        };
        self.forget_if_closed();
        match (db, local) {
            (Ok(mut snap), Some(local)) => {
                for t in local.templates {
                    match snap.templates.iter_mut().find(|x| x.scope == t.scope && x.id == t.id) {
                        Some(x) if x.last_seen_ms < t.last_seen_ms => *x = t,
                        Some(_) => {}
                        None => snap.templates.push(t),
                    }
                }
                for o in local.options {
                    if !snap.options.iter().any(|x| x.scope == o.scope) {
                        snap.options.push(o);
                    }
                }
                Ok(snap)
            }
            (Ok(snap), None) => Ok(snap),
            (Err(e), Some(local)) => {
                log::warn!("templates restored from the local copy (database: {e})");
                Ok(local)
            }
            (Err(e), None) => {
                log::warn!("no templates restored (database: {e}; no local copy)");
                Ok(CacheSnapshot::default())
            }
        }
    }

    async fn save_templates(&mut self) {
        let Some(snap) = self.templates.take() else { return };
        let r = match self.client().await {
            Ok(c) => templates::save_templates(c, &snap).await.map(|_| ()),
            Err(e) => Err(e),
        };
        self.forget_if_closed();
        if let Err(e) = r {
            log::debug!("templates not saved to the database yet: {e}");
            self.templates = Some(snap);
        }
    }

    async fn flush_stats(&mut self) {
        self.save_templates().await;
        let now = self.shared.cfg.clock.now_ms();
        let shared = Arc::clone(&self.shared);
        if self.ensure_client().await.is_err() {
            return;
        }
        let Some(client) = self.client.as_ref() else { return };
        if !self.pending.is_empty() {
            let need = [(tables::EXPORTER_STATS_1M, Family::Minute, now)];
            let span = partitions::span_from_code(shared.flows_span.load(Ordering::Relaxed));
            let r = match partitions::create_missing(client, &shared.partitions, span, &need).await {
                Ok(_) => self.pending.flush(client, now).await,
                Err(e) => Err(e),
            };
            if let Err(e) = r {
                log::warn!("exporter counters not written yet: {e}");
            }
        }
        let cfg = &shared.cfg;
        if self.counters_dirty {
            match write_collector_stats(
                client,
                cfg.instance,
                &cfg.host,
                self.started_ms,
                now,
                &self.counters,
                &shared.stats,
            )
            .await
            {
                Ok(()) => self.counters_dirty = false,
                Err(e) => log::warn!("collector statistics not written: {e}"),
            }
        }
        self.forget_if_closed();
    }

    async fn final_flush(&mut self) {
        // One attempt, bounded: shutdown must not hang on a dead database.
        let _ = tokio::time::timeout(Duration::from_secs(10), self.flush_stats()).await;
    }
}
