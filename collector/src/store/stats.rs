//! Storage counters (for `/metrics` and `collector_stats`) and the periodic writes of
//! the ingest side's per-exporter counters.

use super::time::{system_time, MINUTE_MS};
use flowvision_codec::hash::FxHashMap;
use flowvision_codec::Protocol;
use flowvision_schema::tables::{COLLECTOR_STATS, EXPORTERS, EXPORTER_STATS_1M};
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio_postgres::Client;

/// Storage counters. Monotonic unless marked as a gauge.
#[derive(Debug, Default)]
pub struct StoreStats {
    /// Rows committed to `flows`.
    pub rows_stored: AtomicU64,
    /// Batches committed (first time, live or replayed).
    pub batches_stored: AtomicU64,
    /// Batches written to the spool.
    pub batches_spooled: AtomicU64,
    /// Spooled batches committed on replay.
    pub batches_replayed: AtomicU64,
    /// Replayed batches skipped because their id was already committed.
    pub batches_duplicate: AtomicU64,
    /// Gauge: bytes in the spool directory (including `rejected/`).
    pub spool_bytes: AtomicU64,
    /// Gauge: batches waiting in the spool.
    pub spool_files: AtomicU64,
    /// Batches dropped because the spool was full.
    pub batches_dropped_spool_full: AtomicU64,
    /// Rows of those batches.
    pub rows_dropped_spool_full: AtomicU64,
    /// Spool writes that failed (disk error); their rows are in `rows_dropped_spool_error`.
    pub spool_errors: AtomicU64,
    /// Rows lost because a spool write failed.
    pub rows_dropped_spool_error: AtomicU64,
    /// Rows older than the flow retention when their batch was stored (not stored).
    pub rows_expired: AtomicU64,
    /// Batches the database refused as invalid, kept in `spool/rejected/`.
    pub batches_rejected: AtomicU64,
    /// Rows of those batches.
    pub rows_rejected: AtomicU64,
    /// Spooled batches found at start that were written for another database, moved
    /// to `spool/orphaned/` and never replayed (see `store::state`).
    pub spool_orphaned_batches: AtomicU64,
    /// Database errors (any statement, connect attempts included).
    pub db_errors: AtomicU64,
    /// Gauge: writer connections currently open.
    pub db_connected: AtomicU64,
    /// Gauge: last batch's time from BEGIN to COMMIT, microseconds.
    pub last_commit_latency_us: AtomicU64,
    /// Sum of batch commit latencies, microseconds (with `batches_stored`: the mean).
    pub commit_latency_us_total: AtomicU64,
    /// Partitions created.
    pub partitions_created: AtomicU64,
    /// Partitions dropped by retention.
    pub partitions_dropped: AtomicU64,
    /// Contacts of new (host, outside service) pairs the beaconing tracker had no room
    /// for (`BEACON_PAIRS`): not followed, so a beacon among them goes unseen.
    pub beacon_pairs_untracked: AtomicU64,
}

/// One store counter: its key in `collector_stats.counters` (`store_` prefixed by the
/// writer), its Prometheus name (counters end in `_total`), gauge or counter, help.
struct Counter<'a> {
    value: &'a AtomicU64,
    key: &'static str,
    metric: &'static str,
    gauge: bool,
    help: &'static str,
}

impl StoreStats {
    /// Every counter once, in the order `/metrics` shows them.
    fn counters(&self) -> [Counter<'_>; 22] {
        let c = |value, key, metric, gauge, help| Counter { value, key, metric, gauge, help };
        [
            c(
                &self.rows_stored,
                "rows_stored",
                "rows_stored_total",
                false,
                "Rows committed to the flows table.",
            ),
            c(&self.batches_stored, "batches_stored", "batches_stored_total", false, "Batches committed."),
            c(
                &self.batches_spooled,
                "batches_spooled",
                "batches_spooled_total",
                false,
                "Batches written to the on-disk spool.",
            ),
            c(
                &self.batches_replayed,
                "batches_replayed",
                "batches_replayed_total",
                false,
                "Spooled batches committed on replay.",
            ),
            c(
                &self.batches_duplicate,
                "batches_duplicate",
                "batches_duplicate_total",
                false,
                "Replayed batches skipped because they had been committed already.",
            ),
            c(
                &self.rows_expired,
                "rows_expired",
                "rows_expired_total",
                false,
                "Rows older than the retention, not stored.",
            ),
            c(
                &self.batches_rejected,
                "batches_rejected",
                "batches_rejected_total",
                false,
                "Batches the database refused, kept in spool/rejected.",
            ),
            c(
                &self.rows_rejected,
                "rows_rejected",
                "rows_rejected_total",
                false,
                "Rows of rejected batches.",
            ),
            c(
                &self.spool_orphaned_batches,
                "spool_orphaned_batches",
                "spool_orphaned_batches_total",
                false,
                "Spooled batches written for another database, moved to spool/orphaned and not replayed.",
            ),
            c(
                &self.batches_dropped_spool_full,
                "batches_dropped_spool_full",
                "batches_dropped_spool_full_total",
                false,
                "Batches dropped because the spool was full.",
            ),
            c(
                &self.rows_dropped_spool_full,
                "rows_dropped_spool_full",
                "rows_dropped_spool_full_total",
                false,
                "Rows dropped because the spool was full.",
            ),
            c(&self.spool_errors, "spool_errors", "spool_errors_total", false, "Spool writes that failed."),
            c(
                &self.rows_dropped_spool_error,
                "rows_dropped_spool_error",
                "rows_dropped_spool_error_total",
                false,
                "Rows lost to failed spool writes.",
            ),
            c(
                &self.db_errors,
                "db_errors",
                "db_errors_total",
                false,
                "Database errors (statements and connection attempts).",
            ),
            c(
                &self.commit_latency_us_total,
                "commit_latency_us_total",
                "commit_latency_microseconds_total",
                false,
                "Sum of batch commit latencies.",
            ),
            c(
                &self.partitions_created,
                "partitions_created",
                "partitions_created_total",
                false,
                "Partitions created.",
            ),
            c(
                &self.partitions_dropped,
                "partitions_dropped",
                "partitions_dropped_total",
                false,
                "Partitions dropped by retention.",
            ),
            c(
                &self.beacon_pairs_untracked,
                "beacon_pairs_untracked",
                "beacon_pairs_untracked_total",
                false,
                "Contacts of new host/outside-service pairs the beaconing tracker had no room for (BEACON_PAIRS).",
            ),
            c(
                &self.spool_bytes,
                "spool_bytes",
                "spool_bytes",
                true,
                "Bytes in the spool directory (rejected/ included).",
            ),
            c(&self.spool_files, "spool_files", "spool_batches", true, "Batches waiting in the spool."),
            c(&self.db_connected, "db_connected", "db_connections", true, "Writer connections open."),
            c(
                &self.last_commit_latency_us,
                "last_commit_latency_us",
                "last_commit_latency_microseconds",
                true,
                "Latest batch commit latency.",
            ),
        ]
    }

    /// Every counter with its name (`store_` prefix added by the caller as it likes).
    pub fn for_each(&self, mut f: impl FnMut(&'static str, u64)) {
        for c in self.counters() {
            f(c.key, c.value.load(Ordering::Relaxed));
        }
    }

    /// Every counter as a Prometheus-style metric: name (without prefix; counters
    /// end in `_total`), whether it is a gauge, help text, value.
    pub fn for_each_metric(&self, mut f: impl FnMut(&'static str, bool, &'static str, u64)) {
        for c in self.counters() {
            f(c.metric, c.gauge, c.help, c.value.load(Ordering::Relaxed));
        }
    }
}

/// The collector's counters at one moment, handed to [`super::Store::write_stats`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CollectorSnapshot {
    /// When it was taken, Unix ms.
    pub time_ms: i64,
    /// Process-wide counters, monotonic since start (`collector_stats.counters`).
    pub counters: BTreeMap<String, u64>,
    /// Per-exporter counters, monotonic since the process started.
    pub exporters: Vec<ExporterTotals>,
}

/// One exporter's counters since the collector process started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExporterTotals {
    /// The exporter.
    pub exporter: IpAddr,
    /// Protocol of its latest datagram.
    pub protocol: Option<Protocol>,
    /// Datagrams received.
    pub datagrams: u64,
    /// Their payload bytes (0 when not counted).
    pub datagram_bytes: u64,
    /// Flow records decoded.
    pub records: u64,
    /// Datagrams that did not decode.
    pub decode_errors: u64,
    /// Upstream loss per sequence numbers (protocol units).
    pub sequence_lost: u64,
    /// Templates and options templates received.
    pub templates: u64,
    /// Latest datagram, Unix ms.
    pub last_seen_ms: i64,
}

/// Turns successive cumulative per-exporter counters (of this process) into deltas.
#[derive(Debug, Default)]
pub(crate) struct DeltaTracker {
    last: HashMap<IpAddr, ExporterTotals>,
}

impl DeltaTracker {
    /// The deltas since the previous snapshot (everything since start the first time).
    pub fn deltas(&mut self, snap: &CollectorSnapshot) -> Vec<ExporterDelta> {
        let mut out = Vec::with_capacity(snap.exporters.len());
        for cur in &snap.exporters {
            let prev = self.last.get(&cur.exporter);
            // A counter below its previous value cannot happen within one process;
            // should it, the current value is the safest delta.
            let d = |f: fn(&ExporterTotals) -> u64| {
                let (c, p) = (f(cur), prev.map_or(0, f));
                if c >= p {
                    c - p
                } else {
                    c
                }
            };
            let delta = ExporterDelta {
                exporter: cur.exporter,
                protocol: cur.protocol,
                datagrams: d(|e| e.datagrams),
                datagram_bytes: d(|e| e.datagram_bytes),
                records: d(|e| e.records),
                decode_errors: d(|e| e.decode_errors),
                sequence_lost: d(|e| e.sequence_lost),
                templates: d(|e| e.templates),
                last_seen_ms: cur.last_seen_ms,
            };
            let changed = prev != Some(cur);
            self.last.insert(cur.exporter, *cur);
            if changed {
                out.push(delta);
            }
        }
        out
    }
}

/// Counters of one exporter since the previous report: the same fields as
/// [`ExporterTotals`], as deltas, so they add up across collector restarts and
/// across several collectors.
pub(crate) type ExporterDelta = ExporterTotals;

impl ExporterDelta {
    /// Adds `o` (same exporter) to this delta.
    pub(crate) fn merge(&mut self, o: &ExporterDelta) {
        self.datagrams = self.datagrams.saturating_add(o.datagrams);
        self.datagram_bytes = self.datagram_bytes.saturating_add(o.datagram_bytes);
        self.records = self.records.saturating_add(o.records);
        self.decode_errors = self.decode_errors.saturating_add(o.decode_errors);
        self.sequence_lost = self.sequence_lost.saturating_add(o.sequence_lost);
        self.templates = self.templates.saturating_add(o.templates);
        if o.last_seen_ms >= self.last_seen_ms {
            self.last_seen_ms = o.last_seen_ms;
            self.protocol = o.protocol.or(self.protocol);
        }
    }
}

/// The health counters `exporters` and `exporter_stats_1m` both add up, in the
/// order their statements bind them.
const HEALTH: [&str; 6] =
    ["datagrams", "datagram_bytes", "records", "decode_errors", "sequence_lost", "templates"];

/// Deltas waiting for the database, merged per exporter.
#[derive(Debug, Default)]
pub(crate) struct PendingDeltas {
    by_exporter: FxHashMap<IpAddr, ExporterDelta>,
}

impl PendingDeltas {
    pub fn add(&mut self, deltas: Vec<ExporterDelta>) {
        for d in deltas {
            self.by_exporter.entry(d.exporter).and_modify(|e| e.merge(&d)).or_insert(d);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.by_exporter.is_empty()
    }

    /// Writes the deltas (bucketed at `now_ms`'s minute) in one transaction and clears
    /// them; on error they stay for the next attempt.
    pub async fn flush(&mut self, client: &Client, now_ms: i64) -> Result<(), tokio_postgres::Error> {
        if self.by_exporter.is_empty() {
            return Ok(());
        }
        let mut ds: Vec<&ExporterDelta> = self.by_exporter.values().collect();
        ds.sort_unstable_by_key(|d| d.exporter);
        let c = |f: fn(&ExporterDelta) -> u64| -> Vec<i64> {
            ds.iter().map(|d| i64::try_from(f(d)).unwrap_or(i64::MAX)).collect()
        };
        let exporters: Vec<IpAddr> = ds.iter().map(|d| d.exporter).collect();
        let seen: Vec<std::time::SystemTime> = ds.iter().map(|d| system_time(d.last_seen_ms)).collect();
        let protocol: Vec<Option<&str>> = ds.iter().map(|d| d.protocol.map(Protocol::as_str)).collect();
        let (dg, db, rec, err, lost, tpl) = (
            c(|d| d.datagrams),
            c(|d| d.datagram_bytes),
            c(|d| d.records),
            c(|d| d.decode_errors),
            c(|d| d.sequence_lost),
            c(|d| d.templates),
        );
        let bucket = system_time(now_ms.div_euclid(MINUTE_MS) * MINUTE_MS);
        let health = HEALTH.join(", ");
        let add: Vec<String> = HEALTH.iter().map(|c| format!("{c} = t.{c} + excluded.{c}")).collect();
        let add = add.join(", ");
        let r = super::tx::transaction(client, "", async {
            client
                .execute(
                    &format!(
                        "INSERT INTO {EXPORTERS} AS t (exporter, first_seen, last_seen, protocol, {health}) \
                     SELECT e, s, s, p::flow_protocol, a, b, c, d, f, g FROM unnest($1::inet[], \
                       $2::timestamptz[], $3::text[], $4::int8[], $5::int8[], $6::int8[], $7::int8[], \
                       $8::int8[], $9::int8[]) AS u(e, s, p, a, b, c, d, f, g) ORDER BY e \
                     ON CONFLICT (exporter) DO UPDATE SET \
                       last_seen = GREATEST(t.last_seen, excluded.last_seen), \
                       first_seen = LEAST(t.first_seen, excluded.first_seen), \
                       protocol = COALESCE(t.protocol, excluded.protocol), \
                       {add}"
                    ),
                    &[&exporters, &seen, &protocol, &dg, &db, &rec, &err, &lost, &tpl],
                )
                .await?;
            client
                .execute(
                    &format!(
                        "INSERT INTO {EXPORTER_STATS_1M} AS t (bucket, exporter, {health}) \
                     SELECT $1, e, a, b, c, d, f, g FROM unnest($2::inet[], $3::int8[], $4::int8[], \
                       $5::int8[], $6::int8[], $7::int8[], $8::int8[]) AS u(e, a, b, c, d, f, g) ORDER BY e \
                     ON CONFLICT (bucket, exporter) DO UPDATE SET \
                       {add}"
                    ),
                    &[&bucket, &exporters, &dg, &db, &rec, &err, &lost, &tpl],
                )
                .await?;
            Ok(())
        })
        .await;
        if r.is_ok() {
            self.by_exporter.clear();
        }
        r
    }
}

/// Inserts one `collector_stats` row: the ingest side's counters plus the storage
/// counters (prefixed `store_`).
pub(crate) async fn write_collector_stats(
    client: &Client,
    instance: u64,
    host: &str,
    started_ms: i64,
    now_ms: i64,
    ingest: &BTreeMap<String, u64>,
    store: &StoreStats,
) -> Result<(), tokio_postgres::Error> {
    let mut obj = serde_json::Map::new();
    for (k, v) in ingest {
        obj.insert(k.clone(), serde_json::Value::from(*v));
    }
    store.for_each(|k, v| {
        obj.insert(format!("store_{k}"), serde_json::Value::from(v));
    });
    let counters = serde_json::Value::Object(obj);
    client
        .execute(
            &format!("INSERT INTO {COLLECTOR_STATS} (time, instance, host, started_at, counters) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (instance, time) DO UPDATE SET counters = excluded.counters"),
            &[&system_time(now_ms), &(instance as i64), &host, &system_time(started_ms), &counters],
        )
        .await?;
    Ok(())
}
