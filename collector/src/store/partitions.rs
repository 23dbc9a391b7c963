//! Time partitions of `flows`, the rollups and `exporter_stats_1m`: created ahead
//! (and on demand before a batch that needs one), dropped after their retention with
//! `DROP TABLE` (never `DELETE`).
//!
//! Which tables are partitioned and how partitions are named is the schema's
//! (`flowvision_schema::partition`: names encode their range, so no catalog parsing is
//! needed). Ranges are aligned, so a day holds whole hours and a week whole days: when
//! `flows` switches between hourly and daily partitions, a time whose day already has
//! an hourly partition gets an hourly one, and no range ever overlaps another.
//!
//! DDL runs under a transaction-level advisory lock, so several collectors sharing a
//! database never race on the same partition, and with a `lock_timeout`, so a long
//! console query delays a DROP to the next round instead of stalling ingest.

use super::config::StoreConfig;
use super::time::{civil_from_days, days_from_civil, sql_timestamp, DAY_MS, HOUR_MS};
use flowvision_schema::tables;
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use tokio_postgres::Client;

/// Advisory lock key of partition DDL ("fv-part").
const LOCK_KEY: i64 = 0x0066_762d_7061_7274;

use flowvision_schema::partition::{self as naming, PartitionStart};
pub use flowvision_schema::partition::{Family, Span, PARTITIONED as TABLES};

/// Span codes, for keeping the current `flows` span in an atomic.
pub(crate) fn span_code(span: Span) -> u64 {
    match span {
        Span::Hour => 0,
        Span::Day => 1,
        Span::Week => 2,
    }
}

/// The span of a [`span_code`].
pub(crate) fn span_from_code(c: u64) -> Span {
    match c {
        1 => Span::Day,
        2 => Span::Week,
        _ => Span::Hour,
    }
}

/// One partition: its table name and `[lo, hi)` range in Unix ms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partition {
    /// Table name.
    pub name: String,
    /// Inclusive lower bound.
    pub lo_ms: i64,
    /// Exclusive upper bound.
    pub hi_ms: i64,
}

/// Name of the `span` partition of `parent` starting at `lo_ms`.
pub fn partition_name(parent: &str, span: Span, lo_ms: i64) -> String {
    let (year, month, day) = civil_from_days(lo_ms.div_euclid(DAY_MS));
    let hour = (lo_ms.rem_euclid(DAY_MS) / HOUR_MS) as u32;
    naming::partition_name(parent, &PartitionStart { span, year, month, day, hour })
}

/// The range of a partition named by [`partition_name`]; `None` for other names.
pub fn parse_partition_name(parent: &str, name: &str) -> Option<Partition> {
    let s = naming::parse_partition_name(parent, name)?;
    let lo = days_from_civil(s.year, s.month, s.day) * DAY_MS + i64::from(s.hour) * HOUR_MS;
    // A week not starting on a Monday.
    if s.span.start(lo) != lo {
        return None;
    }
    Some(Partition { name: name.to_string(), lo_ms: lo, hi_ms: lo + s.span.len_ms() })
}

/// Retention of a family, in ms.
pub fn retention_ms(cfg: &StoreConfig, family: Family) -> i64 {
    let days = match family {
        Family::Flows => cfg.retention_days,
        Family::Minute => cfg.rollup_1m_retention_days,
        Family::Hour => cfg.rollup_1h_retention_days,
    };
    i64::from(days) * DAY_MS
}

/// Spans tried, in order, for a new partition of `family`: the first whose range
/// overlaps no existing partition is used.
fn candidate_spans(family: Family, flows_span: Span) -> &'static [Span] {
    match (family, flows_span) {
        (Family::Flows, Span::Day) => &[Span::Day, Span::Hour],
        (Family::Flows, _) => &[Span::Hour],
        (Family::Minute, _) => &[Span::Day, Span::Hour],
        (Family::Hour, _) => &[Span::Week, Span::Day, Span::Hour],
    }
}

/// Known partitions per parent table, shared by the writers and the maintenance
/// thread, so a batch only touches the catalog when it needs a new partition.
#[derive(Debug, Default)]
pub struct PartitionCache {
    inner: Mutex<HashMap<String, BTreeMap<i64, Partition>>>,
}

impl PartitionCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, BTreeMap<i64, Partition>>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// True when a known partition of `parent` contains `t`.
    pub fn covers(&self, parent: &str, t: i64) -> bool {
        self.lock().get(parent).is_some_and(|m| covers(m, t))
    }

    /// Forgets everything (another process may have dropped partitions).
    pub fn invalidate(&self) {
        self.lock().clear();
    }

    fn replace(&self, parent: &str, parts: BTreeMap<i64, Partition>) {
        self.lock().insert(parent.to_string(), parts);
    }

    fn get(&self, parent: &str) -> BTreeMap<i64, Partition> {
        self.lock().get(parent).cloned().unwrap_or_default()
    }

    /// The known partitions of `parent` (for tests and reports).
    pub fn partitions(&self, parent: &str) -> Vec<Partition> {
        self.get(parent).into_values().collect()
    }
}

fn covers(m: &BTreeMap<i64, Partition>, t: i64) -> bool {
    m.range(..=t).next_back().is_some_and(|(_, p)| t < p.hi_ms)
}

fn overlaps(m: &BTreeMap<i64, Partition>, lo: i64, hi: i64) -> bool {
    m.range(..hi).next_back().is_some_and(|(_, p)| p.hi_ms > lo)
}

/// Reads the partitions of `parents` from the catalog into the cache. Partitions whose
/// names this module did not make are kept out of the cache (and never dropped).
pub async fn refresh(
    client: &Client,
    cache: &PartitionCache,
    parents: &[&str],
) -> Result<(), tokio_postgres::Error> {
    let names: Vec<String> = parents.iter().map(|p| p.to_string()).collect();
    let rows = client
        .query(
            "SELECT p.relname::text, c.relname::text FROM pg_inherits i \
             JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent \
             WHERE i.inhparent IN (SELECT to_regclass(x)::oid FROM unnest($1::text[]) AS x)",
            &[&names],
        )
        .await?;
    let mut by_parent: HashMap<String, BTreeMap<i64, Partition>> =
        parents.iter().map(|p| (p.to_string(), BTreeMap::new())).collect();
    for r in rows {
        let parent: String = r.get(0);
        let child: String = r.get(1);
        match parse_partition_name(&parent, &child) {
            Some(p) => {
                by_parent.entry(parent).or_default().insert(p.lo_ms, p);
            }
            None => log::debug!("partition {child} of {parent} is not managed by the collector"),
        }
    }
    for (parent, parts) in by_parent {
        cache.replace(&parent, parts);
    }
    Ok(())
}

/// Creates the partitions needed so that every `(parent, time)` in `need` is covered.
/// Returns the names created.
pub async fn create_missing(
    client: &Client,
    cache: &PartitionCache,
    flows_span: Span,
    need: &[(&'static str, Family, i64)],
) -> Result<Vec<String>, tokio_postgres::Error> {
    if need.iter().all(|(p, _, t)| cache.covers(p, *t)) {
        return Ok(Vec::new());
    }
    let result = super::tx::transaction(client, "SET LOCAL lock_timeout = '10s'", async {
        client.query_one("SELECT pg_advisory_xact_lock($1)", &[&LOCK_KEY]).await?;
        let mut parents: Vec<&str> = need.iter().map(|(p, _, _)| *p).collect();
        parents.sort_unstable();
        parents.dedup();
        refresh(client, cache, &parents).await?;
        let mut created = Vec::new();
        for &(parent, family, t) in need {
            let mut parts = cache.get(parent);
            if covers(&parts, t) {
                continue;
            }
            let Some((span, lo)) = candidate_spans(family, flows_span)
                .iter()
                .map(|s| (*s, s.start(t)))
                .find(|(s, lo)| !overlaps(&parts, *lo, lo + s.len_ms()))
            else {
                log::error!("no partition of {parent} can hold time {}: ranges overlap", sql_timestamp(t));
                continue;
            };
            let hi = lo + span.len_ms();
            let name = partition_name(parent, span, lo);
            client
                .batch_execute(&format!(
                    "CREATE TABLE IF NOT EXISTS {name} PARTITION OF {parent} FOR VALUES FROM ('{}') TO ('{}'){}",
                    sql_timestamp(lo),
                    sql_timestamp(hi),
                    storage_parameters(family),
                ))
                .await?;
            parts.insert(lo, Partition { name: name.clone(), lo_ms: lo, hi_ms: hi });
            cache.replace(parent, parts);
            created.push(name);
        }
        Ok(created)
    })
    .await;
    if result.is_err() {
        cache.invalidate();
    }
    result
}

/// Storage parameters of a new partition. Rollup rows are updated in place by the
/// upserts of every batch of their minute (and hour): free space on each page lets
/// PostgreSQL update them as heap-only tuples, without a new index entry (less WAL and
/// CPU per batch). `flows` is append-only and packed full.
fn storage_parameters(family: Family) -> &'static str {
    match family {
        Family::Flows => "",
        Family::Minute | Family::Hour => " WITH (fillfactor = 70)",
    }
}

/// Drops partitions of every managed table whose upper bound is at or before
/// `now_ms - retention`. Returns the names dropped; a partition that cannot be dropped
/// now (lock timeout) is logged and retried next round.
pub async fn drop_expired(
    client: &Client,
    cfg: &StoreConfig,
    cache: &PartitionCache,
    now_ms: i64,
) -> Result<Vec<String>, tokio_postgres::Error> {
    let parents: Vec<&str> = TABLES.iter().map(|(p, _)| *p).collect();
    refresh(client, cache, &parents).await?;
    let mut dropped = Vec::new();
    for &(parent, family) in TABLES {
        let cutoff = now_ms.saturating_sub(retention_ms(cfg, family));
        for p in cache.get(parent).into_values().filter(|p| p.hi_ms <= cutoff) {
            if family == Family::Flows && cfg.archive_gate && !archived(client, &p.name).await? {
                continue;
            }
            let sql = format!(
                "BEGIN; SET LOCAL lock_timeout = '10s'; SELECT pg_advisory_xact_lock({LOCK_KEY}); \
                 DROP TABLE IF EXISTS {}; COMMIT",
                p.name
            );
            match client.batch_execute(&sql).await {
                Ok(()) => dropped.push(p.name),
                Err(e) => {
                    let _ = client.batch_execute("ROLLBACK").await;
                    if client.is_closed() {
                        return Err(e);
                    }
                    log::warn!("retention: could not drop {} now: {}", p.name, super::error::describe(&e));
                }
            }
        }
    }
    if !dropped.is_empty() {
        refresh(client, cache, &parents).await?;
    }
    Ok(dropped)
}

/// With the archive on, whether retention may drop `flows` partition `name`: the
/// catalog records it as archived with exactly the rows it holds (docs/archive.md).
async fn archived(client: &Client, name: &str) -> Result<bool, tokio_postgres::Error> {
    use flowvision_archive::catalog::{may_drop, DropDecision};
    match may_drop(client, name).await {
        Ok(DropDecision::Drop) => Ok(true),
        Ok(DropDecision::Keep) => {
            log::debug!("retention: {name} is kept until it is archived");
            Ok(false)
        }
        Ok(DropDecision::KeepStale) => {
            log::warn!("retention: {name} holds rows that are not archived yet; kept until archived again");
            Ok(false)
        }
        Err(e) if client.is_closed() => Err(e),
        Err(e) => {
            log::warn!("retention: could not check the archive of {name}: {}", super::error::describe(&e));
            Ok(false)
        }
    }
}

/// The `(table, family, time)` list a batch with rows at `times` needs: every hour
/// it touches (usually one) of every table a batch writes (all but
/// `exporter_stats_1m`, which the maintenance thread writes).
pub fn for_rows(times: impl Iterator<Item = i64>) -> Vec<(&'static str, Family, i64)> {
    let mut hours: Vec<i64> = Vec::new();
    for t in times {
        let h = Span::Hour.start(t);
        if hours.last() != Some(&h) && !hours.contains(&h) {
            hours.push(h);
        }
    }
    TABLES
        .iter()
        .filter(|(name, _)| *name != tables::EXPORTER_STATS_1M)
        .flat_map(|&(name, family)| hours.iter().map(move |h| (name, family, *h)))
        .collect()
}

/// The `(table, family, time)` list that keeps partitions `ahead` of `now_ms`: the
/// current range and the next ones (flows: two more spans; 1-minute tables: tomorrow;
/// 1-hour tables: next week).
pub fn ahead(now_ms: i64, flows_span: Span) -> Vec<(&'static str, Family, i64)> {
    let mut need = Vec::new();
    for &(parent, family) in TABLES {
        let times: Vec<i64> = match family {
            Family::Flows => (0..3).map(|i| now_ms + i * flows_span.len_ms()).collect(),
            Family::Minute => vec![now_ms, now_ms + DAY_MS],
            Family::Hour => vec![now_ms, now_ms + 7 * DAY_MS],
        };
        need.extend(times.into_iter().map(|t| (parent, family, t)));
    }
    need
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;

    #[test]
    fn names_round_trip() {
        let t = 1_709_208_000_123; // 2024-02-29T12:00:00.123Z, a Thursday
        for span in [Span::Hour, Span::Day, Span::Week] {
            let lo = span.start(t);
            assert!(lo <= t && t < lo + span.len_ms());
            let name = partition_name("flows", span, lo);
            let p = parse_partition_name("flows", &name).unwrap();
            assert_eq!((p.lo_ms, p.hi_ms), (lo, lo + span.len_ms()), "{name}");
        }
        assert_eq!(partition_name("flows", Span::Hour, Span::Hour.start(t)), "flows_h2024022912");
        assert_eq!(partition_name("flows", Span::Day, Span::Day.start(t)), "flows_d20240229");
        // The Monday before.
        assert_eq!(partition_name("x", Span::Week, Span::Week.start(t)), "x_w20240226");
        assert!(parse_partition_name("flows", "flows_w20240229").is_none(), "not a Monday");
        assert!(parse_partition_name("flows", "flows_default").is_none());
        assert!(parse_partition_name("flows", "flows_h2024022924").is_none());
        assert!(parse_partition_name("rollup_as_1m", "flows_d20240229").is_none());
    }

    #[test]
    fn a_batch_needs_the_hours_it_touches() {
        let t = Span::Hour.start(1_709_208_000_000);
        let need = for_rows([t + 5, t + HOUR_MS + 1, t + 7].into_iter());
        assert_eq!(need.len(), 2 * (TABLES.len() - 1));
        assert!(need.iter().all(|(name, _, _)| *name != tables::EXPORTER_STATS_1M));
        assert!(need.contains(&(tables::FLOWS, Family::Flows, t)));
        assert!(need.contains(&(tables::FLOWS, Family::Flows, t + HOUR_MS)));
        assert!(for_rows(std::iter::empty()).is_empty());
    }

    #[test]
    fn overlap_logic() {
        let mut m = BTreeMap::new();
        let d = Span::Day.start(1_709_208_000_000);
        m.insert(d, Partition { name: "a".into(), lo_ms: d, hi_ms: d + DAY_MS });
        assert!(covers(&m, d) && covers(&m, d + DAY_MS - 1) && !covers(&m, d + DAY_MS) && !covers(&m, d - 1));
        assert!(overlaps(&m, d + HOUR_MS, d + 2 * HOUR_MS));
        assert!(!overlaps(&m, d + DAY_MS, d + 2 * DAY_MS));
        assert!(!overlaps(&m, d - HOUR_MS, d));
    }
}
