//! Storage configuration.

use super::error::StoreError;
use crate::clock::{Clock, SystemClock};
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

/// Time span of new `flows` partitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PartitionInterval {
    /// One partition per hour (high ingest rates).
    Hourly,
    /// One partition per UTC day.
    Daily,
    /// Hourly while the measured rate exceeds `auto_hourly_rows_per_day`, else daily.
    #[default]
    Auto,
}

impl PartitionInterval {
    /// Parses `hourly`, `daily` or `auto`.
    pub fn from_name(s: &str) -> Option<PartitionInterval> {
        match s.trim().to_ascii_lowercase().as_str() {
            "hourly" | "hour" => Some(PartitionInterval::Hourly),
            "daily" | "day" => Some(PartitionInterval::Daily),
            "auto" => Some(PartitionInterval::Auto),
            _ => None,
        }
    }
}

/// Everything the store needs; [`StoreConfig::new`] fills in the defaults.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// `postgresql://...` URL or `key=value` connection string.
    pub database_url: String,
    /// Flow (raw rows) retention, days (`FLOW_RETENTION_DAYS`) [7].
    pub retention_days: u32,
    /// Retention drops a `flows` partition only once the archive catalog records it
    /// as archived with the rows it still holds (`USE_EXTERNAL_STORAGE=true`).
    pub archive_gate: bool,
    /// Retention of the 1-minute rollups and exporter statistics, days [8].
    pub rollup_1m_retention_days: u32,
    /// Retention of the 1-hour rollups, days [90].
    pub rollup_1h_retention_days: u32,
    /// Retention of `collector_stats` rows, days [30].
    pub collector_stats_retention_days: u32,
    /// Directory of the spool (batches waiting for the database) [/var/lib/flowvision/spool].
    pub spool_dir: PathBuf,
    /// Bound of the spool; beyond it new batches are dropped and counted [2 GiB].
    pub spool_max_bytes: u64,
    /// Writer threads, each with its own connection [1].
    pub writers: usize,
    /// Batches the queue holds (shared by all writers) [8].
    pub queue_batches: usize,
    /// Span of new `flows` partitions [auto].
    pub partition_interval: PartitionInterval,
    /// `Auto` switches to hourly partitions above this many rows per day [100 million].
    pub auto_hourly_rows_per_day: u64,
    /// Top-N addresses per (minute, exporter, side) kept per batch in the talker rollups [50].
    pub talkers_per_batch: usize,
    /// Top-N (protocol, port) services per (minute, exporter) kept per batch [50].
    pub services_per_batch: usize,
    /// Top-N (source AS, destination AS) pairs per (minute, exporter) kept per batch
    /// [100, what the minute compaction keeps].
    pub as_pairs_per_batch: usize,
    /// Host feature rows (insights) kept per batch: the top hosts by each signal in
    /// each (10 s bucket, exporter) [16]; 0 turns the features off.
    pub host_features_per_signal: usize,
    /// The operator's own address space, for the features' bytes leaving the network
    /// (`INTERNAL_NETWORKS`) [private and shared ranges].
    pub internal_networks: flowvision_insights::features::InternalNetworks,
    /// Pairs (internal host, outside service) the beaconing tracker follows per
    /// generation (`BEACON_PAIRS`) [250,000, 40 to 80 MB]; 0 turns it off.
    pub beacon_pairs: usize,
    /// Rows kept per closed minute, hour and day by the top-N compaction of the
    /// talker, service and AS rollups [100 / 100 / 200].
    pub topn_keep: super::compaction::TopNKeep,
    /// Retention of the daily top-N tables, days [400].
    pub rollup_1d_retention_days: u32,
    /// Connection attempts give up after this long [5 s].
    pub connect_timeout: Duration,
    /// A batch not committed within this long is spooled (database "slow") [30 s].
    pub batch_timeout: Duration,
    /// The database counts as slow, and queued batches are spooled, when the queue
    /// stays full this long while a batch is being stored [250 ms]. Keep it below the
    /// ingest side's send timeout.
    pub spool_after_queue_full: Duration,
    /// First wait between reconnect attempts; doubles up to 8x [1 s].
    pub reconnect_interval: Duration,
    /// Period of partition creation/retention and batch-id pruning [60 s].
    pub maintenance_interval: Duration,
    /// Period of exporter-counter and collector-statistics writes [10 s].
    pub stats_interval: Duration,
    /// The store's clock (tests move it).
    pub clock: Arc<dyn Clock>,
    /// Name written in `collector_stats.host` [the host name].
    pub host: String,
    /// This process's instance id (same as the ingest side's [`super::BatchId::instance`]).
    pub instance: u64,
    /// Fault injection for tests: while non-zero, a successful COMMIT is reported as a
    /// lost connection (and the counter decremented), as when a connection dies
    /// during COMMIT. The batch is spooled and its replay must be skipped.
    pub simulate_ambiguous_commits: Arc<AtomicU64>,
}

impl StoreConfig {
    /// Defaults for `database_url` with the spool in `spool_dir`.
    pub fn new(database_url: impl Into<String>, spool_dir: impl Into<PathBuf>) -> StoreConfig {
        StoreConfig {
            database_url: database_url.into(),
            retention_days: 7,
            archive_gate: false,
            rollup_1m_retention_days: 8,
            rollup_1h_retention_days: 90,
            collector_stats_retention_days: 30,
            spool_dir: spool_dir.into(),
            spool_max_bytes: 2 << 30,
            writers: 1,
            queue_batches: 8,
            partition_interval: PartitionInterval::Auto,
            auto_hourly_rows_per_day: 100_000_000,
            talkers_per_batch: 50,
            topn_keep: super::compaction::TopNKeep::default(),
            rollup_1d_retention_days: 400,
            services_per_batch: 50,
            as_pairs_per_batch: 100,
            host_features_per_signal: 16,
            internal_networks: flowvision_insights::features::InternalNetworks::default(),
            beacon_pairs: 250_000,
            connect_timeout: Duration::from_secs(5),
            batch_timeout: Duration::from_secs(30),
            spool_after_queue_full: Duration::from_millis(250),
            reconnect_interval: Duration::from_secs(1),
            maintenance_interval: Duration::from_secs(60),
            stats_interval: Duration::from_secs(10),
            clock: Arc::new(SystemClock),
            host: host_name(),
            instance: super::new_instance_id(),
            simulate_ambiguous_commits: Arc::new(AtomicU64::new(0)),
        }
    }

    pub(crate) fn validate(&self) -> Result<(), StoreError> {
        let bad = |m: &str| Err(StoreError::Config(m.to_string()));
        if self.database_url.trim().is_empty() {
            return bad("DATABASE_URL is empty");
        }
        if self.retention_days == 0 {
            return bad("FLOW_RETENTION_DAYS must be at least 1");
        }
        if self.rollup_1m_retention_days == 0 || self.rollup_1h_retention_days == 0 {
            return bad("rollup retention must be at least 1 day");
        }
        if self.writers == 0 || self.writers > 64 {
            return bad("writers must be 1..=64");
        }
        if self.queue_batches == 0 {
            return bad("queue_batches must be at least 1");
        }
        if i64::from(self.rollup_1d_retention_days) < super::compaction::DAYS_CHECKED {
            return bad("daily top-N retention must cover the 8 days the console reads");
        }
        let k = self.topn_keep;
        if k.minute < 1 || k.hour < 1 || k.day < 1 {
            return bad("top-N compaction must keep at least 1 row per period");
        }
        if self.talkers_per_batch == 0 || self.services_per_batch == 0 || self.as_pairs_per_batch == 0 {
            return bad("talkers_per_batch, services_per_batch and as_pairs_per_batch must be at least 1");
        }
        Ok(())
    }

    pub(crate) fn tokio_config(&self, application: &str) -> Result<tokio_postgres::Config, StoreError> {
        let mut c: tokio_postgres::Config =
            self.database_url.parse().map_err(|e| StoreError::Config(format!("DATABASE_URL: {e}")))?;
        c.application_name(application);
        c.connect_timeout(self.connect_timeout);
        c.keepalives(true);
        c.keepalives_idle(Duration::from_secs(30));
        Ok(c)
    }
}

/// This machine's host name (recorded with statistics and the archive's configuration).
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown".into())
}
