//! The archive catalog in PostgreSQL (migrations/0009_archive.sql): the state of each
//! `flows` partition, the verified objects, the store's configuration as read, and
//! restores. Everything the collector, the `archive` commands and the console know
//! about the archive is read from here, so they always agree.

use crate::config::ArchiveConfig;
use flowvision_codec::time::{system_time, unix_ms as millis};
use flowvision_schema::partition::{parse_partition_name, Span};
use flowvision_schema::tables::{
    ARCHIVE_OBJECTS, ARCHIVE_PARTITIONS, ARCHIVE_RESTORES, ARCHIVE_STORE, FLOWS,
};
use flowvision_schema::{DAY_MS, HOUR_MS};
use serde::Serialize;
use std::time::SystemTime;
use tokio_postgres::GenericClient;

/// Archive state of a partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Not archived yet (or being archived).
    Pending,
    /// Every hour verified in the bucket; retention may drop it.
    Archived,
    /// The last attempt failed; retried at `next_attempt`.
    Failed,
    /// Rows arrived after it was archived (a spool replay): archived again before
    /// retention may drop it.
    Stale,
}

impl Status {
    fn parse(s: &str) -> Status {
        match s {
            "archived" => Status::Archived,
            "failed" => Status::Failed,
            "stale" => Status::Stale,
            _ => Status::Pending,
        }
    }

    /// The label stored in the catalog.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Archived => "archived",
            Status::Failed => "failed",
            Status::Stale => "stale",
        }
    }
}

/// A `flows` partition: its table and `[lo, hi)` range in Unix ms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowsPartition {
    /// Table name.
    pub name: String,
    /// Inclusive start.
    pub lo_ms: i64,
    /// Exclusive end.
    pub hi_ms: i64,
}

/// The range of a partition named by the collector's scheme (`flows_hYYYYMMDDHH`,
/// `flows_dYYYYMMDD`); `None` for any other name.
pub fn flows_partition(name: &str) -> Option<FlowsPartition> {
    let s = parse_partition_name(FLOWS, name)?;
    let lo = flowvision_codec::time::days_from_civil(s.year, s.month, s.day) * DAY_MS
        + i64::from(s.hour) * HOUR_MS;
    let len = match s.span {
        Span::Hour => HOUR_MS,
        Span::Day => DAY_MS,
        Span::Week => 7 * DAY_MS,
    };
    Some(FlowsPartition { name: name.to_string(), lo_ms: lo, hi_ms: lo + len })
}

/// Every partition of `flows` the collector manages, oldest first.
pub async fn flows_partitions(
    client: &impl GenericClient,
) -> Result<Vec<FlowsPartition>, tokio_postgres::Error> {
    let rows = client
        .query(
            "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
             WHERE i.inhparent = to_regclass($1)::oid",
            &[&FLOWS],
        )
        .await?;
    let mut parts: Vec<FlowsPartition> = rows.iter().filter_map(|r| flows_partition(r.get(0))).collect();
    parts.sort_by_key(|p| p.lo_ms);
    Ok(parts)
}

/// One partition's row of the catalog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PartitionEntry {
    /// Table name.
    pub partition: String,
    /// Range start (RFC 3339).
    pub range_start: String,
    /// Range end (RFC 3339).
    pub range_end: String,
    /// State.
    pub status: Status,
    /// Rows archived (when archived).
    pub rows: Option<i64>,
    /// Bytes in the bucket (when archived).
    pub bytes: Option<i64>,
    /// Attempts so far.
    pub attempts: i32,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When it was last tried (RFC 3339).
    pub last_attempt: Option<String>,
    /// When it will be tried again after a failure (RFC 3339).
    pub next_attempt: Option<String>,
    /// When it was archived (RFC 3339).
    pub archived_at: Option<String>,
    /// `next_attempt` in Unix ms.
    #[serde(skip)]
    pub next_attempt_ms: Option<i64>,
    /// Its objects (filled by [`list`] with `objects = true`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub objects: Vec<ObjectEntry>,
}

/// One verified object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObjectEntry {
    /// Partition it came from.
    pub partition: String,
    /// The hour it holds (RFC 3339).
    pub hour_start: String,
    /// Key in the bucket.
    pub key: String,
    /// Rows.
    pub rows: i64,
    /// Size in bytes.
    pub bytes: i64,
}

fn rfc3339(t: Option<SystemTime>) -> Option<String> {
    t.map(|t| flowvision_codec::time::format_rfc3339_ms(millis(t)))
}

const PARTITION_COLUMNS: &str =
    "partition, range_start, range_end, status, rows, bytes, attempts, last_error, \
                                 last_attempt, next_attempt, archived_at";

fn partition_entry(r: &tokio_postgres::Row) -> PartitionEntry {
    PartitionEntry {
        partition: r.get(0),
        range_start: rfc3339(r.get(1)).unwrap_or_default(),
        range_end: rfc3339(r.get(2)).unwrap_or_default(),
        status: Status::parse(r.get(3)),
        rows: r.get(4),
        bytes: r.get(5),
        attempts: r.get(6),
        last_error: r.get(7),
        last_attempt: rfc3339(r.get(8)),
        next_attempt: rfc3339(r.get(9)),
        archived_at: rfc3339(r.get(10)),
        next_attempt_ms: r.get::<_, Option<SystemTime>>(9).map(millis),
        objects: Vec::new(),
    }
}

/// The catalog: every partition the archiver has seen, oldest first, optionally with
/// its objects.
pub async fn list(
    client: &impl GenericClient,
    objects: bool,
) -> Result<Vec<PartitionEntry>, tokio_postgres::Error> {
    let rows = client
        .query(&format!("SELECT {PARTITION_COLUMNS} FROM {ARCHIVE_PARTITIONS} ORDER BY range_start"), &[])
        .await?;
    let mut out: Vec<PartitionEntry> = rows.iter().map(partition_entry).collect();
    if objects {
        let rows = client
            .query(
                &format!(
                    "SELECT partition, hour_start, object_key, rows, bytes FROM {ARCHIVE_OBJECTS} ORDER BY hour_start"
                ),
                &[],
            )
            .await?;
        for r in rows {
            let o = ObjectEntry {
                partition: r.get(0),
                hour_start: rfc3339(r.get(1)).unwrap_or_default(),
                key: r.get(2),
                rows: r.get(3),
                bytes: r.get(4),
            };
            if let Some(p) = out.iter_mut().find(|p| p.partition == o.partition) {
                p.objects.push(o);
            }
        }
    }
    Ok(out)
}

/// The state of one partition (`None`: never looked at).
pub async fn partition_state(
    client: &impl GenericClient,
    partition: &str,
) -> Result<Option<PartitionEntry>, tokio_postgres::Error> {
    let row = client
        .query_opt(
            &format!("SELECT {PARTITION_COLUMNS} FROM {ARCHIVE_PARTITIONS} WHERE partition = $1"),
            &[&partition],
        )
        .await?;
    Ok(row.as_ref().map(partition_entry))
}

/// Records that `p` is being archived (a new row, or one more attempt). A failed or
/// stale partition keeps its status (and reason) until it is archived, so the
/// console never shows a failing partition as merely pending between retries.
pub async fn begin_attempt(
    client: &impl GenericClient,
    p: &FlowsPartition,
) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            &format!(
                "INSERT INTO {ARCHIVE_PARTITIONS} (partition, range_start, range_end, status, attempts, last_attempt) \
                 VALUES ($1, $2, $3, 'pending', 1, now()) \
                 ON CONFLICT (partition) DO UPDATE SET attempts = {ARCHIVE_PARTITIONS}.attempts + 1, last_attempt = now()"
            ),
            &[&p.name, &system_time(p.lo_ms), &system_time(p.hi_ms)],
        )
        .await?;
    Ok(())
}

/// Hours of `partition` with a verified object: `(hour start ms, rows, bytes)`.
pub async fn objects_of(
    client: &impl GenericClient,
    partition: &str,
) -> Result<Vec<(i64, i64, i64)>, tokio_postgres::Error> {
    let rows = client
        .query(
            &format!("SELECT hour_start, rows, bytes FROM {ARCHIVE_OBJECTS} WHERE partition = $1 ORDER BY hour_start"),
            &[&partition],
        )
        .await?;
    Ok(rows.iter().map(|r| (millis(r.get(0)), r.get(1), r.get(2))).collect())
}

/// A verified object, as recorded.
#[derive(Debug, Clone)]
pub struct NewObject<'a> {
    /// Partition.
    pub partition: &'a str,
    /// Hour start, ms.
    pub hour_start_ms: i64,
    /// Key.
    pub key: &'a str,
    /// Rows.
    pub rows: i64,
    /// Bytes.
    pub bytes: u64,
    /// Earliest row, µs.
    pub min_us: Option<i64>,
    /// Latest row, µs.
    pub max_us: Option<i64>,
}

/// Records a verified object (replacing the hour's earlier one).
pub async fn record_object(
    client: &impl GenericClient,
    o: &NewObject<'_>,
) -> Result<(), tokio_postgres::Error> {
    let us = |v: Option<i64>| {
        v.map(|us| std::time::UNIX_EPOCH + std::time::Duration::from_micros(us.max(0) as u64))
    };
    client
        .execute(
            &format!(
                "INSERT INTO {ARCHIVE_OBJECTS} (partition, hour_start, object_key, rows, bytes, min_time, max_time, schema_version) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                 ON CONFLICT (partition, hour_start) DO UPDATE SET object_key = EXCLUDED.object_key, rows = EXCLUDED.rows, \
                 bytes = EXCLUDED.bytes, min_time = EXCLUDED.min_time, max_time = EXCLUDED.max_time, \
                 schema_version = EXCLUDED.schema_version, archived_at = now()"
            ),
            &[
                &o.partition,
                &system_time(o.hour_start_ms),
                &o.key,
                &o.rows,
                &(o.bytes as i64),
                &us(o.min_us),
                &us(o.max_us),
                &crate::SCHEMA_VERSION,
            ],
        )
        .await?;
    Ok(())
}

/// Forgets the objects of a partition (it is archived again from scratch; the keys
/// are the same, so the bucket's objects are replaced, not duplicated).
pub async fn forget_objects(
    client: &impl GenericClient,
    partition: &str,
) -> Result<(), tokio_postgres::Error> {
    client.execute(&format!("DELETE FROM {ARCHIVE_OBJECTS} WHERE partition = $1"), &[&partition]).await?;
    Ok(())
}

/// Marks a partition archived with its totals.
pub async fn mark_archived(
    client: &impl GenericClient,
    partition: &str,
    rows: i64,
    bytes: i64,
) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            &format!(
                "UPDATE {ARCHIVE_PARTITIONS} SET status = 'archived', rows = $2, bytes = $3, archived_at = now(), \
                 last_error = NULL, next_attempt = NULL WHERE partition = $1"
            ),
            &[&partition, &rows, &bytes],
        )
        .await?;
    Ok(())
}

/// Marks a partition failed with the reason and when to try again.
pub async fn mark_failed(
    client: &impl GenericClient,
    partition: &str,
    error: &str,
    next_attempt_ms: i64,
) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            &format!(
                "UPDATE {ARCHIVE_PARTITIONS} SET status = CASE WHEN status = 'stale' THEN 'stale' ELSE 'failed' END, \
                 last_error = $2, next_attempt = $3 WHERE partition = $1"
            ),
            &[&partition, &error, &system_time(next_attempt_ms)],
        )
        .await?;
    Ok(())
}

/// What retention may do with an expired partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropDecision {
    /// Archived, and it still holds exactly the rows archived: drop it.
    Drop,
    /// Not archived (yet): keep it.
    Keep,
    /// Archived, but it holds other rows now (a spool replay landed in it): marked
    /// stale, kept until archived again.
    KeepStale,
}

/// Whether retention may drop `partition` (a `flows` partition). Counts its rows
/// only when the catalog says it is archived.
pub async fn may_drop(
    client: &impl GenericClient,
    partition: &str,
) -> Result<DropDecision, tokio_postgres::Error> {
    let Some(state) = partition_state(client, partition).await? else { return Ok(DropDecision::Keep) };
    if state.status != Status::Archived {
        return Ok(DropDecision::Keep);
    }
    let count: i64 = client
        .query_one(&format!("SELECT count(*) FROM \"{}\"", partition.replace('"', "")), &[])
        .await?
        .get(0);
    if Some(count) == state.rows {
        return Ok(DropDecision::Drop);
    }
    client
        .execute(
            &format!(
                "UPDATE {ARCHIVE_PARTITIONS} SET status = 'stale', last_error = $2, next_attempt = NULL WHERE partition = $1"
            ),
            &[&partition, &format!("{count} rows now, {} archived: archived again before it may be dropped", state.rows.unwrap_or(0))],
        )
        .await?;
    Ok(DropDecision::KeepStale)
}

/// Records the store's configuration as read (never the secret) and the facts the
/// console needs to warn about blocked retention.
pub async fn record_store(
    client: &impl GenericClient,
    cfg: &ArchiveConfig,
    host: &str,
) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            &format!(
                "INSERT INTO {ARCHIVE_STORE} (id, endpoint, bucket, secure, region, access_key_id, prefix, host, updated_at) \
                 VALUES (1, $1, $2, $3, $4, $5, $6, $7, now()) ON CONFLICT (id) DO UPDATE SET endpoint = EXCLUDED.endpoint, \
                 bucket = EXCLUDED.bucket, secure = EXCLUDED.secure, region = EXCLUDED.region, \
                 access_key_id = EXCLUDED.access_key_id, prefix = EXCLUDED.prefix, host = EXCLUDED.host, updated_at = now()"
            ),
            &[&cfg.endpoint, &cfg.bucket, &cfg.secure, &cfg.region, &cfg.access_key_id, &cfg.prefix, &host],
        )
        .await?;
    Ok(())
}

/// Objects holding rows received in `[from_ms, to_ms)`: `(key, hour start ms, rows)`.
pub async fn objects_between(
    client: &impl GenericClient,
    from_ms: i64,
    to_ms: i64,
) -> Result<Vec<(String, i64, i64)>, tokio_postgres::Error> {
    let rows = client
        .query(
            &format!(
                "SELECT object_key, hour_start, rows FROM {ARCHIVE_OBJECTS} \
                 WHERE hour_start < $2 AND hour_start + interval '1 hour' > $1 ORDER BY hour_start"
            ),
            &[&system_time(from_ms), &system_time(to_ms)],
        )
        .await?;
    Ok(rows.iter().map(|r| (r.get(0), millis(r.get(1)), r.get(2))).collect())
}

/// One restore.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RestoreEntry {
    /// Id.
    pub id: i64,
    /// Range start (RFC 3339).
    pub from: String,
    /// Range end (RFC 3339).
    pub to: String,
    /// `running`, `done`, `failed` or `removed`.
    pub status: String,
    /// Objects read.
    pub objects: i32,
    /// Rows restored.
    pub rows: i64,
    /// Why it failed.
    pub error: Option<String>,
    /// Who asked (a console user, or `cli`).
    pub requested_by: String,
    /// When (RFC 3339).
    pub created_at: String,
}

/// Every restore, newest first.
pub async fn restores(client: &impl GenericClient) -> Result<Vec<RestoreEntry>, tokio_postgres::Error> {
    let rows = client
        .query(
            &format!(
                "SELECT id, range_start, range_end, status, objects, rows, error, requested_by, created_at \
                 FROM {ARCHIVE_RESTORES} ORDER BY id DESC"
            ),
            &[],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| RestoreEntry {
            id: r.get(0),
            from: rfc3339(r.get(1)).unwrap_or_default(),
            to: rfc3339(r.get(2)).unwrap_or_default(),
            status: r.get(3),
            objects: r.get(4),
            rows: r.get(5),
            error: r.get(6),
            requested_by: r.get(7),
            created_at: rfc3339(r.get(8)).unwrap_or_default(),
        })
        .collect())
}

/// The store's configuration as the collector recorded it (`None` before it ran with
/// the archive enabled): endpoint, bucket, secure, region, access key id, prefix,
/// host, updated at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoreEntry {
    /// Endpoint URL.
    pub endpoint: String,
    /// Bucket.
    pub bucket: String,
    /// HTTPS.
    pub secure: bool,
    /// Signing region.
    pub region: String,
    /// Access key id (the secret is never stored).
    pub access_key_id: String,
    /// Key prefix.
    pub prefix: String,
    /// Host of the collector that recorded it.
    pub host: String,
    /// When (RFC 3339).
    pub updated_at: String,
}

/// See [`StoreEntry`].
pub async fn store(client: &impl GenericClient) -> Result<Option<StoreEntry>, tokio_postgres::Error> {
    let row = client
        .query_opt(
            &format!(
                "SELECT endpoint, bucket, secure, region, access_key_id, prefix, host, updated_at FROM {ARCHIVE_STORE} WHERE id = 1"
            ),
            &[],
        )
        .await?;
    Ok(row.map(|r| StoreEntry {
        endpoint: r.get(0),
        bucket: r.get(1),
        secure: r.get(2),
        region: r.get(3),
        access_key_id: r.get(4),
        prefix: r.get(5),
        host: r.get(6),
        updated_at: rfc3339(r.get(7)).unwrap_or_default(),
    }))
}
