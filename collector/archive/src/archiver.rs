//! The archiver: finds closed `flows` partitions that are not archived, archives them
//! hour by hour (export → upload → verify → record), and marks each partition archived
//! only when the objects hold every row it has. Failures leave the partition in place
//! and are retried with exponential backoff per partition; the reason is kept in the
//! catalog and counted on `/metrics`.
//!
//! A partition's state moves like this:
//!
//! ```text
//! (none) --attempt--> pending --all hours verified, counts equal--> archived
//!    pending/failed --error--> failed (next_attempt = now + backoff)
//!    archived --rows replayed into it (seen by retention)--> stale --attempt--> ...
//! ```
//!
//! Restarting in the middle of a run repeats no work that was recorded: hours with a
//! verified object are skipped, and an hour written again goes to the same key.

use crate::catalog::{self, FlowsPartition, NewObject, Status};
use crate::config::ArchiveConfig;
use crate::error::ArchiveError;
use crate::export::write_hour;
use crate::key::{hours, object_key};
use crate::stats::ArchiveStats;
use crate::store::Bucket;
use serde::Serialize;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio_postgres::Client;

/// What one run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RunReport {
    /// Partitions archived in this run.
    pub archived: Vec<String>,
    /// Partitions that failed, with the reason.
    pub failed: Vec<(String, String)>,
    /// Partitions skipped because their retry time has not come.
    pub waiting: Vec<String>,
    /// Objects uploaded.
    pub objects: u64,
    /// Rows archived.
    pub rows: u64,
    /// Bytes uploaded.
    pub bytes: u64,
}

/// Archives partitions into one bucket.
#[derive(Debug, Clone)]
pub struct Archiver {
    cfg: ArchiveConfig,
    bucket: Bucket,
    work_dir: PathBuf,
    stats: Arc<ArchiveStats>,
}

impl Archiver {
    /// An archiver writing its temporary files under `work_dir`.
    pub fn new(
        cfg: ArchiveConfig,
        work_dir: PathBuf,
        stats: Arc<ArchiveStats>,
    ) -> Result<Self, ArchiveError> {
        let bucket = Bucket::open(&cfg)?;
        Ok(Archiver { cfg, bucket, work_dir, stats })
    }

    /// The bucket it writes to.
    pub fn bucket(&self) -> &Bucket {
        &self.bucket
    }

    /// Its configuration.
    pub fn config(&self) -> &ArchiveConfig {
        &self.cfg
    }

    /// Archives every partition closed at `now_ms` (its end plus the grace period
    /// passed) that is not archived. `force`: also partitions waiting for their retry
    /// time. `retention_cutoff_ms`: partitions ending before it are counted as
    /// blocking retention while not archived.
    pub async fn run_once(
        &self,
        client: &mut Client,
        now_ms: i64,
        retention_cutoff_ms: i64,
        force: bool,
    ) -> Result<RunReport, ArchiveError> {
        crate::priority::lower_thread(self.cfg.nice, self.cfg.idle);
        crate::priority::lower_backend(client, self.cfg.nice, self.cfg.idle).await;
        let grace = self.cfg.grace.as_millis() as i64;
        let partitions = catalog::flows_partitions(&*client).await?;
        let mut report = RunReport::default();
        let mut pending = 0u64;
        let mut blocked = 0u64;
        let mut due = Vec::new();
        for p in partitions.iter().filter(|p| p.hi_ms.saturating_add(grace) <= now_ms) {
            let state = catalog::partition_state(&*client, &p.name).await?;
            if state.as_ref().is_some_and(|s| s.status == Status::Archived) {
                continue;
            }
            let waiting = state.as_ref().and_then(|s| s.next_attempt_ms).is_some_and(|t| t > now_ms);
            if waiting && !force {
                report.waiting.push(p.name.clone());
                pending += 1;
                blocked += u64::from(p.hi_ms <= retention_cutoff_ms);
                continue;
            }
            due.push(p);
        }
        // Caught up (one closed partition at a time): the export is paced so that its
        // cost to ingest is spread over the hour. Behind (a backlog after an outage, a
        // first start on old data, or ingest faster than the pace): full speed until
        // caught up, so the archive never falls further behind than one partition.
        let pace = if due.len() > 1 { 0 } else { self.cfg.max_rows_per_second };
        if due.len() > 1 && self.cfg.max_rows_per_second > 0 {
            log::info!("archive: {} partitions waiting, exporting without pacing until caught up", due.len());
        }
        for p in due {
            // Several collectors may share the database (and `archive run` may run beside
            // the daemon): one of them archives a partition at a time, the others skip it.
            if !lock(client, &p.name, true).await? {
                log::debug!("archive: {} is being archived by another process", p.name);
                continue;
            }
            // Read again under the lock: another process may have archived it since the
            // list was made.
            let state = match catalog::partition_state(&*client, &p.name).await {
                Ok(s) if s.as_ref().is_some_and(|s| s.status == Status::Archived) => {
                    let _ = lock(client, &p.name, false).await;
                    continue;
                }
                Ok(fresh) => fresh,
                Err(e) => {
                    let _ = lock(client, &p.name, false).await;
                    return Err(e.into());
                }
            };
            let result = self.archive_partition(client, p, state.as_ref().map(|s| s.status), pace).await;
            let _ = lock(client, &p.name, false).await;
            match result {
                Ok((rows, bytes, objects)) => {
                    report.archived.push(p.name.clone());
                    report.rows += rows;
                    report.bytes += bytes;
                    report.objects += objects;
                    self.stats.partitions.fetch_add(1, Ordering::Relaxed);
                    self.stats.last_success.store((now_ms / 1000).max(0) as u64, Ordering::Relaxed);
                    log::info!(
                        "archive: {} archived ({rows} rows, {objects} objects, {bytes} bytes)",
                        p.name
                    );
                }
                Err(e) => {
                    self.stats.failed(e.reason());
                    let attempts = catalog::partition_state(&*client, &p.name)
                        .await
                        .ok()
                        .flatten()
                        .map_or(1, |s| s.attempts);
                    let next = now_ms + self.backoff_ms(attempts);
                    let msg = e.to_string();
                    log::warn!(
                        "archive: {} not archived: {msg} (next attempt in {} s)",
                        p.name,
                        (next - now_ms) / 1000
                    );
                    if let Err(db) = catalog::mark_failed(&*client, &p.name, &msg, next).await {
                        log::warn!("archive: could not record the failure of {}: {db}", p.name);
                    }
                    report.failed.push((p.name.clone(), msg));
                    pending += 1;
                    blocked += u64::from(p.hi_ms <= retention_cutoff_ms);
                    if client.is_closed() {
                        break;
                    }
                }
            }
        }
        self.stats.pending.store(pending, Ordering::Relaxed);
        self.stats.blocked.store(blocked, Ordering::Relaxed);
        Ok(report)
    }

    /// `retry_min · 2^(attempts-1)`, at most `retry_max`.
    fn backoff_ms(&self, attempts: i32) -> i64 {
        let min = self.cfg.retry_min.as_millis() as i64;
        let max = self.cfg.retry_max.as_millis() as i64;
        let shift = attempts.saturating_sub(1).clamp(0, 20) as u32;
        min.saturating_mul(1i64 << shift).min(max)
    }

    async fn archive_partition(
        &self,
        client: &mut Client,
        p: &FlowsPartition,
        previous: Option<Status>,
        max_rows_per_second: u64,
    ) -> Result<(u64, u64, u64), ArchiveError> {
        if previous == Some(Status::Stale) {
            catalog::forget_objects(&*client, &p.name).await?;
        }
        catalog::begin_attempt(&*client, p).await?;
        let done = catalog::objects_of(&*client, &p.name).await?;
        let (mut rows, mut bytes, mut objects) = (0u64, 0u64, 0u64);
        for hour in hours(p.lo_ms, p.hi_ms) {
            if done.iter().any(|(h, _, _)| *h == hour) {
                continue;
            }
            let file = write_hour(
                client,
                &p.name,
                hour,
                &self.work_dir,
                self.cfg.row_group_rows,
                max_rows_per_second,
            )
            .await?;
            let result = async {
                if file.rows == 0 {
                    return Ok(());
                }
                let key = object_key(&self.cfg.prefix, &p.name, hour);
                let size = self.bucket.upload_file(&key, &file.path).await?;
                self.bucket.verify(&key, size, file.rows).await?;
                catalog::record_object(
                    &*client,
                    &NewObject {
                        partition: &p.name,
                        hour_start_ms: hour,
                        key: &key,
                        rows: file.rows,
                        bytes: size,
                        min_us: file.min_us,
                        max_us: file.max_us,
                    },
                )
                .await?;
                rows += file.rows as u64;
                bytes += size;
                objects += 1;
                self.stats.objects.fetch_add(1, Ordering::Relaxed);
                self.stats.rows.fetch_add(file.rows as u64, Ordering::Relaxed);
                self.stats.bytes.fetch_add(size, Ordering::Relaxed);
                Ok::<_, ArchiveError>(())
            }
            .await;
            let _ = std::fs::remove_file(&file.path);
            result?;
        }
        // Every row of the partition must be in the recorded objects: rows replayed
        // into it while it was being archived make the totals differ, and it is
        // archived again next time.
        let recorded = catalog::objects_of(&*client, &p.name).await?;
        let archived_rows: i64 = recorded.iter().map(|(_, r, _)| r).sum();
        let archived_bytes: i64 = recorded.iter().map(|(_, _, b)| b).sum();
        let count: i64 = client
            .query_one(&format!("SELECT count(*) FROM \"{}\"", p.name.replace('"', "")), &[])
            .await?
            .get(0);
        if count != archived_rows {
            catalog::forget_objects(&*client, &p.name).await?;
            return Err(ArchiveError::Verify {
                key: p.name.clone(),
                what: format!("the partition holds {count} rows, the objects {archived_rows}: rows arrived while archiving"),
            });
        }
        catalog::mark_archived(&*client, &p.name, archived_rows, archived_bytes).await?;
        Ok((rows, bytes, objects))
    }
}

/// Advisory lock key space of the archive ("fv-arch"), with the partition's hash.
const LOCK_SPACE: i32 = 0x6676_6172;

/// Takes (`true`) or releases (`false`) the session-level advisory lock of a
/// partition; taking answers whether it was free.
async fn lock(client: &Client, partition: &str, take: bool) -> Result<bool, ArchiveError> {
    let sql = if take {
        "SELECT pg_try_advisory_lock($1, hashtext($2))"
    } else {
        "SELECT pg_advisory_unlock($1, hashtext($2))"
    };
    Ok(client.query_one(sql, &[&LOCK_SPACE, &partition]).await?.get(0))
}

/// Connects to the database for the archive's own work (a connection of its own:
/// exports are long reads that must not hold up ingest or maintenance).
pub async fn connect(database_url: &str, application: &str) -> Result<Client, ArchiveError> {
    let mut pg: tokio_postgres::Config = database_url.parse()?;
    pg.application_name(application);
    pg.connect_timeout(std::time::Duration::from_secs(10));
    let (client, connection) = pg.connect(tokio_postgres::NoTls).await?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            log::debug!("archive: database connection closed: {e}");
        }
    });
    Ok(client)
}

/// Settings of the archiver's background thread.
#[derive(Debug, Clone)]
pub struct LoopSettings {
    /// Where the database is.
    pub database_url: String,
    /// `FLOW_RETENTION_DAYS`, to tell which pending partitions block retention.
    pub retention_days: u32,
    /// This host's name (recorded with the store's configuration).
    pub host: String,
}

impl Archiver {
    /// Runs on a thread of its own until `stop` is set: a run at start and then every
    /// `interval`. A stop during a run waits for the current hour's upload to end or
    /// fail (bounded by the request timeout); what was recorded stays.
    pub fn spawn(
        self,
        settings: LoopSettings,
        stop: Arc<std::sync::atomic::AtomicBool>,
    ) -> std::io::Result<std::thread::JoinHandle<()>> {
        std::thread::Builder::new().name("archive".into()).spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(rt) => rt,
                Err(e) => {
                    log::error!("archive: cannot start its runtime: {e}");
                    return;
                }
            };
            rt.block_on(self.run_loop(settings, stop));
        })
    }

    async fn run_loop(self, settings: LoopSettings, stop: Arc<std::sync::atomic::AtomicBool>) {
        let mut client: Option<Client> = None;
        let tick = std::time::Duration::from_millis(200);
        let mut next_run = std::time::Instant::now();
        while !stop.load(Ordering::SeqCst) {
            if std::time::Instant::now() < next_run {
                tokio::time::sleep(tick).await;
                continue;
            }
            next_run = std::time::Instant::now() + self.cfg.interval;
            if client.as_ref().map_or(true, |c| c.is_closed()) {
                client = match connect(&settings.database_url, "flowvision-archive").await {
                    Ok(c) => {
                        if let Err(e) = catalog::record_store(&c, &self.cfg, &settings.host).await {
                            log::warn!("archive: could not record the store's configuration: {e}");
                        }
                        Some(c)
                    }
                    Err(e) => {
                        log::warn!(
                            "archive: database unavailable ({e}); next try in {} s",
                            self.cfg.interval.as_secs()
                        );
                        None
                    }
                };
            }
            let Some(c) = client.as_mut() else { continue };
            let now = now_ms();
            let cutoff = now - i64::from(settings.retention_days) * flowvision_schema::DAY_MS;
            let run = self.run_once(c, now, cutoff, false);
            // Stop promptly: a run that outlasts shutdown is abandoned between awaits;
            // a half-uploaded object is aborted by the store (never visible), and the
            // next start redoes that hour only.
            tokio::select! {
                r = run => if let Err(e) = r {
                    self.stats.failed(e.reason());
                    log::warn!("archive: run failed: {e}");
                },
                _ = wait_for(&stop) => break,
            }
        }
    }
}

async fn wait_for(stop: &std::sync::atomic::AtomicBool) {
    while !stop.load(Ordering::SeqCst) {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

fn now_ms() -> i64 {
    flowvision_codec::time::unix_ms(std::time::SystemTime::now())
}
