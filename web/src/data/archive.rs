//! The flow archive as the console shows it (admins): the catalog the collector keeps
//! (`flowvision_archive::catalog`), the store's configuration as the collector read it
//! (never the secret), restores, and whether retention is blocked — partitions past
//! `FLOW_RETENTION_DAYS` that stay because they are not archived — with the disk's
//! room left at the current growth.

use super::{DataError, DataResult, Db};
use flowvision_archive::catalog::{self, PartitionEntry, RestoreEntry, Status, StoreEntry};
use flowvision_archive::restore::RestoreReport;
use flowvision_archive::store::Bucket;
use flowvision_archive::ArchiveConfig;
use serde::Serialize;

/// Totals over the catalog.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct ArchiveSummary {
    /// Partitions archived.
    pub archived: u64,
    /// Partitions not archived yet.
    pub pending: u64,
    /// Partitions whose last attempt failed.
    pub failed: u64,
    /// Partitions with rows added after they were archived.
    pub stale: u64,
    /// Rows in the bucket.
    pub rows: i64,
    /// Bytes in the bucket.
    pub bytes: i64,
}

/// Retention blocked by the archive, and the disk.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct RetentionState {
    /// `FLOW_RETENTION_DAYS`.
    pub retention_days: u32,
    /// `flows` partitions past retention that are kept because not archived.
    pub blocked_partitions: u64,
    /// Their size on disk.
    pub blocked_bytes: i64,
    /// Start of the oldest of them (RFC 3339).
    pub oldest_blocked: Option<String>,
    /// Size of the `flows` partitions of the last 24 hours: the daily growth.
    pub daily_growth_bytes: i64,
    /// Free bytes on the database's disk (when the database lets the console know
    /// where its data directory is and it is on this machine).
    pub disk_free_bytes: Option<u64>,
    /// Days until that disk is full at the daily growth, while retention stays blocked.
    pub days_until_full: Option<f64>,
    /// A warning for the console's banner, when there is one.
    pub warning: Option<String>,
}

/// Everything the archive page and `GET /api/v1/archive` show.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ArchiveOverview {
    /// The archive is configured for this console (restores possible).
    pub enabled: bool,
    /// The store as the collector recorded it (`None` before it ran with the archive on).
    pub store: Option<StoreEntry>,
    /// Totals.
    pub summary: ArchiveSummary,
    /// Retention and disk.
    pub retention: RetentionState,
    /// Every partition in the catalog, newest first.
    pub partitions: Vec<PartitionEntry>,
    /// Restores, newest first.
    pub restores: Vec<RestoreEntry>,
}

/// Warn while retention is blocked and the disk would fill within this many days.
const WARN_DAYS: f64 = 7.0;

impl Db {
    /// The archive's state.
    pub async fn archive_overview(&self, enabled: bool, retention_days: u32) -> DataResult<ArchiveOverview> {
        let c = self.conn().await?;
        let store = catalog::store(&**c).await?;
        let mut partitions = catalog::list(&**c, false).await?;
        partitions.reverse();
        let restores = catalog::restores(&**c).await?;
        let mut summary = ArchiveSummary::default();
        for p in &partitions {
            match p.status {
                Status::Archived => summary.archived += 1,
                Status::Pending => summary.pending += 1,
                Status::Failed => summary.failed += 1,
                Status::Stale => summary.stale += 1,
            }
            if p.status == Status::Archived {
                summary.rows += p.rows.unwrap_or(0);
                summary.bytes += p.bytes.unwrap_or(0);
            }
        }
        let retention = if store.is_some() {
            let archived = partitions
                .iter()
                .filter(|p| p.status == Status::Archived)
                .map(|p| p.partition.as_str())
                .collect();
            self.retention_state(&c, retention_days, &archived).await?
        } else {
            RetentionState { retention_days, ..RetentionState::default() }
        };
        Ok(ArchiveOverview { enabled, store, summary, retention, partitions, restores })
    }

    async fn retention_state(
        &self,
        c: &tokio_postgres::Client,
        retention_days: u32,
        archived: &std::collections::HashSet<&str>,
    ) -> DataResult<RetentionState> {
        let now = flowvision_codec::time::unix_ms(std::time::SystemTime::now());
        let cutoff = now - i64::from(retention_days) * flowvision_schema::DAY_MS;
        let mut st = RetentionState { retention_days, ..RetentionState::default() };
        let day_ago = now - flowvision_schema::DAY_MS;
        for p in catalog::flows_partitions(c).await? {
            let recent = p.hi_ms > day_ago && p.lo_ms <= now;
            let blocked = p.hi_ms <= cutoff && !archived.contains(p.name.as_str());
            if !recent && !blocked {
                continue;
            }
            let size: i64 =
                c.query_one("SELECT pg_total_relation_size(to_regclass($1))::int8", &[&p.name]).await?.get(0);
            if recent {
                st.daily_growth_bytes += size;
            }
            if blocked {
                st.blocked_partitions += 1;
                st.blocked_bytes += size;
                if st.oldest_blocked.is_none() {
                    st.oldest_blocked = Some(flowvision_codec::time::format_rfc3339_ms(p.lo_ms));
                }
            }
        }
        // Only a superuser (or pg_read_all_settings) sees the data directory; the
        // embedded database of deploy/run.sh runs as this user on this machine.
        let dir: Option<String> =
            c.query_opt("SHOW data_directory", &[]).await.ok().flatten().map(|r| r.get(0));
        st.disk_free_bytes = dir
            .and_then(|d| nix::sys::statvfs::statvfs(d.as_str()).ok())
            .map(|s| s.blocks_available().saturating_mul(s.fragment_size()));
        if let (Some(free), true) = (st.disk_free_bytes, st.daily_growth_bytes > 0) {
            st.days_until_full = Some(free as f64 / st.daily_growth_bytes as f64);
        }
        if st.blocked_partitions > 0 {
            let mut w = format!(
                "Retention is blocked: {} partition(s) past the {retention_days}-day retention ({} MB) are kept because they are not archived yet",
                st.blocked_partitions,
                st.blocked_bytes / 1_000_000
            );
            match st.days_until_full {
                Some(d) if d < WARN_DAYS => w.push_str(&format!(
                    "; at the current growth the database's disk is full in about {d:.1} days"
                )),
                Some(d) => w.push_str(&format!("; the disk has room for about {d:.0} more days")),
                None => {}
            }
            st.warning = Some(w);
        }
        Ok(st)
    }

    /// Restores archived rows of `[from_ms, to_ms)` (see `flowvision_archive::restore`).
    pub async fn archive_restore(
        &self,
        cfg: &ArchiveConfig,
        from_ms: i64,
        to_ms: i64,
        by: &str,
    ) -> DataResult<RestoreReport> {
        let bucket = Bucket::open(cfg).map_err(|e| DataError::Conflict(e.to_string()))?;
        let mut c = self.conn().await?;
        flowvision_archive::restore::restore(&mut c, &bucket, from_ms, to_ms, by)
            .await
            .map_err(|e| DataError::Conflict(format!("restore failed: {e}")))
    }

    /// Removes a restore's rows; `NotFound` when there is no such restore.
    pub async fn archive_unrestore(&self, id: i64) -> DataResult<u64> {
        let mut c = self.conn().await?;
        flowvision_archive::restore::remove(&mut c, id)
            .await
            .map_err(|e| DataError::Conflict(e.to_string()))?
            .ok_or(DataError::NotFound)
    }
}
