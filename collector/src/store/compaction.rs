//! Top-N compaction of the high-cardinality rollups (talkers, services, AS pairs) and
//! the daily tier built from it, so that a dashboard ranking over 7 days sums a few
//! hundred thousand rows instead of tens of millions.
//!
//! ```text
//! rollup_X_1m ──minute closed──> keep top N per (minute, exporter[, side]) + "other"
//! rollup_X_1h ──hour closed────> keep top N per (hour, exporter[, side])   + "other"
//!             ──UTC day closed─> rollup_X_1d = sum of the day's hours, top N + "other"
//! ```
//!
//! What is folded goes into the table's "other" row, so every total (per bucket and
//! exporter) is unchanged and still equals the exporter totals; only the ranking of
//! keys that were outside a period's top N becomes approximate. This runs in the
//! maintenance thread, never in the writers' transactions, so ingest does not pay
//! for it. Progress is kept in `rollup_compaction` (one `done_until` per table): the
//! console reads a daily bucket only when the build has passed it.
//!
//! Late data (a spool replayed after an outage) may add rows to an already compacted
//! minute or hour: totals stay right, the bucket is just less compact. A daily row
//! whose day's hourly flow count no longer matches the exporter totals is rebuilt.

use super::error::StoreError;
use super::time::{system_time, unix_ms, DAY_MS, MINUTE_MS};
use flowvision_schema::tables::ROLLUP_COMPACTION;
use flowvision_schema::{Rollup, Tier};
use std::time::SystemTime;
use tokio_postgres::Client;

/// Rows kept per period and exporter (and side, for talkers) when a period is
/// compacted; everything else is folded into "other".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TopNKeep {
    /// Per closed minute [100].
    pub minute: i64,
    /// Per closed hour [100].
    pub hour: i64,
    /// Per closed UTC day [200].
    pub day: i64,
}

impl Default for TopNKeep {
    fn default() -> Self {
        TopNKeep { minute: 100, hour: 100, day: 200 }
    }
}

/// What one compaction pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompactionReport {
    /// Minute and hour buckets (per table) compacted.
    pub buckets: u64,
    /// Rows folded into "other" rows (and deleted).
    pub rows_folded: u64,
    /// Daily buckets built or rebuilt (per table).
    pub days_built: u64,
    /// Whether every table is compacted up to what is closed (false: more next pass).
    pub caught_up: bool,
}

/// A compacted rollup: its dimensions and "other" row are the schema's
/// ([`Rollup::dimensions`]); how its buckets are ranked is the compaction's.
#[derive(Debug, Clone, Copy)]
struct Kind {
    rollup: Rollup,
    /// Columns that split a bucket's ranking (talkers rank each side on its own).
    part: &'static [&'static str],
    /// Restriction counting each flow once (talkers hold every flow twice, once per side).
    one_side: &'static str,
}

const KINDS: [Kind; 3] = [
    Kind { rollup: Rollup::Talker, part: &["side"], one_side: "AND side = 0" },
    Kind { rollup: Rollup::Service, part: &[], one_side: "" },
    Kind { rollup: Rollup::As, part: &[], one_side: "" },
];

impl Kind {
    /// The table of `tier` (every compacted rollup has all three).
    fn table(&self, tier: Tier) -> &'static str {
        self.rollup.table(tier).unwrap_or_default()
    }

    /// The ranked key columns (the dimensions outside `part`).
    fn key(&self) -> Vec<&'static str> {
        cols(self).into_iter().filter(|c| !self.part.contains(c)).collect()
    }

    /// Columns the folded rows are grouped by before becoming "other" rows (besides
    /// bucket and exporter): those the "other" row keeps.
    fn fold_by(&self) -> Vec<&'static str> {
        self.rollup.dimensions().iter().filter(|d| d.other.is_none()).map(|d| d.column).collect()
    }

    /// The "other" row's value of each dimension column.
    fn other_values(&self) -> Vec<&'static str> {
        self.rollup.dimensions().iter().map(|d| d.other.unwrap_or(d.column)).collect()
    }
}

use super::rollup::{sat_add, MEASURES};

/// The dimension columns (`part` first).
fn cols(k: &Kind) -> Vec<&'static str> {
    k.rollup.dimensions().iter().map(|d| d.column).collect()
}

/// `min(sum(c), 2^63-1)::bigint`: sums saturate as the writer's do.
fn sat_sum(c: &str) -> String {
    format!("LEAST(sum({c}), 9223372036854775807)::bigint")
}

/// One statement that compacts every bucket of `table` in `[$1, $2)` to the top `$3`
/// rows per group and folds the rest into the "other" rows; returns (rows folded,
/// other rows written).
///
/// The rows to fold are sorted on the table's whole key before the join: ranked by
/// bytes, they are sorted on (bucket, exporter, side) only, and PostgreSQL then
/// merge-joined them on those three columns and filtered on the address, comparing
/// every pair of a group's rows. An hour of 105,000 talker rows (a busy exporter
/// whose batches each bring their own top talkers) took minutes of CPU that way,
/// holding the hour's rows locked against the writers' upserts; sorted, 0.3 s.
fn compact_sql(k: &Kind, table: &str) -> String {
    let all = cols(k);
    let part: String = k.part.iter().map(|c| format!(", {c}")).collect();
    let order_key = k.key().join(", ");
    let join: String = all.iter().map(|c| format!(" AND t.{c} = r.{c}")).collect();
    let fold_by: String = k.fold_by().iter().map(|c| format!(", t.{c}")).collect();
    let fold_group: String = k.fold_by().iter().map(|c| format!(", {c}")).collect();
    let measures = MEASURES.join(", ");
    let t_measures: String = MEASURES.iter().map(|m| format!(", t.{m}")).collect();
    let sums: Vec<String> = MEASURES.iter().map(|m| sat_sum(m)).collect();
    let updates: Vec<String> = MEASURES.iter().map(|c| sat_add(c)).collect();
    format!(
        "WITH ranked AS ( \
           SELECT * FROM ( \
             SELECT bucket, exporter, {all}, \
                    row_number() OVER (PARTITION BY bucket, exporter{part} \
                                       ORDER BY bytes DESC, flows DESC, {order_key}) AS rn \
             FROM {table} WHERE bucket >= $1 AND bucket < $2 AND NOT ({is_other})) w \
           WHERE rn > $3 ORDER BY bucket, exporter, {all}), \
         tail AS ( \
           DELETE FROM {table} t USING ranked r \
           WHERE t.bucket >= $1 AND t.bucket < $2 \
             AND t.bucket = r.bucket AND t.exporter = r.exporter{join} \
           RETURNING t.bucket, t.exporter{fold_by}{t_measures}), \
         folded AS ( \
           INSERT INTO {table} AS t (bucket, exporter, {all}, {measures}) \
           SELECT bucket, exporter, {other}, {sums} FROM tail \
           GROUP BY bucket, exporter{fold_group} ORDER BY bucket, exporter{fold_group} \
           ON CONFLICT (bucket, exporter, {all}) DO UPDATE SET {updates} \
           RETURNING 1) \
         SELECT (SELECT count(*) FROM tail), (SELECT count(*) FROM folded)",
        all = all.join(", "),
        is_other = k.rollup.is_other(),
        other = k.other_values().join(", "),
        sums = sums.join(", "),
        updates = updates.join(", "),
    )
}

/// The day's rows from the compacted hours (the caller deletes the day first).
fn day_sql(k: &Kind) -> String {
    let all = cols(k).join(", ");
    let measures = MEASURES.join(", ");
    let sums: Vec<String> = MEASURES.iter().map(|m| sat_sum(m)).collect();
    format!(
        "INSERT INTO {day} (bucket, exporter, {all}, {measures}) \
         SELECT $1::timestamptz, exporter, {all}, {sums} FROM {hour} \
         WHERE bucket >= $1 AND bucket < $2 GROUP BY exporter, {all} ORDER BY exporter, {all}",
        day = k.table(Tier::Day),
        hour = k.table(Tier::Hour),
        sums = sums.join(", "),
    )
}

/// Days in `[$1, $2)` whose daily rows do not hold the day's flows per the hourly
/// exporter totals (never built, or changed by late data since). A day whose hours
/// are gone (retention) keeps its daily rows.
fn stale_days_sql(k: &Kind) -> String {
    format!(
        "WITH days AS (SELECT generate_series($1::timestamptz, $2::timestamptz - interval '1 day', \
                                              interval '1 day') AS day), \
              e AS (SELECT to_timestamp(floor(extract(epoch FROM bucket) / 86400) * 86400) AS day, \
                           sum(flows) AS f \
                    FROM {exporters} WHERE bucket >= $1 AND bucket < $2 GROUP BY 1), \
              x AS (SELECT bucket AS day, sum(flows) AS f FROM {day} \
                    WHERE bucket >= $1 AND bucket < $2 {one_side} GROUP BY 1) \
         SELECT days.day FROM days LEFT JOIN e ON e.day = days.day LEFT JOIN x ON x.day = days.day \
         WHERE e.f IS NOT NULL AND e.f IS DISTINCT FROM x.f ORDER BY 1",
        exporters = Rollup::Exporter.hour(),
        day = k.table(Tier::Day),
        one_side = k.one_side,
    )
}

async fn done_until(client: &Client, table: &str) -> Result<Option<i64>, StoreError> {
    let row = client
        .query_opt(&format!("SELECT done_until FROM {ROLLUP_COMPACTION} WHERE tbl = $1"), &[&table])
        .await?;
    Ok(match row {
        Some(r) => Some(unix_ms(r.try_get::<_, SystemTime>(0)?)),
        None => None,
    })
}

async fn set_done_until(client: &Client, table: &str, ms: i64) -> Result<(), StoreError> {
    client
        .execute(
            &format!(
                "INSERT INTO {ROLLUP_COMPACTION} (tbl, done_until) VALUES ($1, $2) \
                 ON CONFLICT (tbl) DO UPDATE SET done_until = excluded.done_until, updated_at = now()"
            ),
            &[&table, &system_time(ms)],
        )
        .await?;
    Ok(())
}

/// The oldest bucket of `table` at or after `from`, if any.
async fn next_bucket(client: &Client, table: &str, from: i64) -> Result<Option<i64>, StoreError> {
    let sql = format!("SELECT min(bucket) FROM {table} WHERE bucket >= $1");
    let row = client.query_one(&sql, &[&system_time(from)]).await?;
    Ok(row.try_get::<_, Option<SystemTime>>(0)?.map(unix_ms))
}

/// Runs `work` in a transaction that plans joins as hash or merge joins (the
/// compaction statements join a bucket range with itself, and on a table without
/// statistics yet, a new daily table or a fresh partition, the planner's nested loop
/// turns that quadratic: minutes instead of a second for a day of talkers), under
/// the compaction's advisory lock: several collectors may share the database, and
/// their passes take turns (a pass that waited redoes a range already done, which
/// changes nothing).
async fn transaction<T>(
    client: &Client,
    work: impl std::future::Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    let setup = format!("SET LOCAL enable_nestloop = off; SELECT pg_advisory_xact_lock({LOCK_KEY})");
    super::tx::transaction(client, &setup, work).await
}

/// The compaction's advisory lock ("fv-compa").
const LOCK_KEY: i64 = 0x0066_762d_636f_6d70;

/// How long after a bucket's end it is left alone (the writers' batches are at most
/// a second or so old; a minute of margin covers a slow commit).
const MINUTE_GRACE_MS: i64 = 2 * MINUTE_MS;
const HOUR_GRACE_MS: i64 = 5 * MINUTE_MS;
/// Buckets compacted per table and pass, so a pass after a long stop stays short
/// (the maintenance thread has other work); catching up continues next pass.
const MINUTES_PER_PASS: i64 = 60;
const HOURS_PER_PASS: i64 = 24;
/// Days kept in the daily tier's "verify and rebuild" range: the console's longest
/// window is 7 days.
pub const DAYS_CHECKED: i64 = 8;

/// How the minute or hour tier of the tables is compacted.
struct Pass {
    tier: Tier,
    grace: i64,
    per_pass: i64,
    keep: i64,
}

/// Compacts the closed, not yet compacted buckets of one tier of one table.
async fn compact_tier(
    client: &Client,
    k: &Kind,
    tier: &Pass,
    now_ms: i64,
    report: &mut CompactionReport,
) -> Result<bool, StoreError> {
    let table = k.table(tier.tier);
    let (step, keep) = (tier.tier.step_ms(), tier.keep);
    // End of the newest bucket that closed at least `grace` ago.
    let closed = (now_ms - tier.grace).div_euclid(step) * step;
    let start = match done_until(client, table).await? {
        Some(d) => d,
        None => closed.min(next_bucket(client, table, 0).await?.unwrap_or(closed)),
    };
    // Skip empty stretches (a stop of the collector, retention) in one step.
    let from = match next_bucket(client, table, start).await? {
        Some(b) if b < closed => b.div_euclid(step) * step,
        _ => {
            if start < closed {
                set_done_until(client, table, closed).await?;
            }
            return Ok(true);
        }
    };
    let to = closed.min(from + tier.per_pass * step);
    let sql = compact_sql(k, table);
    let folded = transaction(client, async {
        let row = client.query_one(&sql, &[&system_time(from), &system_time(to), &keep]).await?;
        set_done_until(client, table, to).await?;
        Ok(row.try_get::<_, i64>(0)?)
    })
    .await?;
    report.rows_folded += folded.max(0) as u64;
    report.buckets += ((to - from) / step).max(0) as u64;
    Ok(to >= closed)
}

/// Builds (or rebuilds) the daily rows of the closed days of the last
/// [`DAYS_CHECKED`] days that do not match the hourly totals.
async fn build_days(
    client: &Client,
    k: &Kind,
    keep: i64,
    now_ms: i64,
    report: &mut CompactionReport,
) -> Result<(), StoreError> {
    let table = k.table(Tier::Day);
    let today = now_ms.div_euclid(DAY_MS) * DAY_MS;
    // A day is built once its last hour is compacted (and so closed).
    let hours_done = done_until(client, k.table(Tier::Hour)).await?.unwrap_or(0);
    let until = today.min(hours_done - hours_done.rem_euclid(DAY_MS));
    let since = today - DAYS_CHECKED * DAY_MS;
    if until <= since {
        return Ok(());
    }
    let stale = client.query(&stale_days_sql(k), &[&system_time(since), &system_time(until)]).await?;
    let built_before = report.days_built;
    let compact = compact_sql(k, table);
    let insert = day_sql(k);
    let delete = format!("DELETE FROM {table} WHERE bucket = $1");
    for r in stale {
        let day: SystemTime = r.try_get(0)?;
        let end = system_time(unix_ms(day) + DAY_MS);
        let folded = transaction(client, async {
            client.execute(&delete, &[&day]).await?;
            client.execute(&insert, &[&day, &end]).await?;
            let row = client.query_one(&compact, &[&day, &end, &keep]).await?;
            Ok(row.try_get::<_, i64>(0)?)
        })
        .await?;
        report.rows_folded += folded.max(0) as u64;
        report.days_built += 1;
    }
    if report.days_built > built_before {
        // A fresh daily table has no statistics yet; the console's plans need them.
        client.batch_execute(&format!("ANALYZE {table}")).await?;
    }
    // Every day of [since, until) is now checked and built: the console reads the
    // daily tier only there (older days, e.g. before an upgrade, are read by hours).
    client
        .execute(
            &format!(
                "INSERT INTO {ROLLUP_COMPACTION} AS t (tbl, done_until, built_from) VALUES ($1, $2, $3) \
                 ON CONFLICT (tbl) DO UPDATE SET done_until = excluded.done_until, \
                   built_from = excluded.built_from, updated_at = now() \
                 WHERE t.done_until IS DISTINCT FROM excluded.done_until \
                    OR t.built_from IS DISTINCT FROM excluded.built_from"
            ),
            &[&table, &system_time(until), &system_time(since)],
        )
        .await?;
    Ok(())
}

/// One compaction pass over every table: closed minutes and hours compacted (at most
/// [`MINUTES_PER_PASS`] / [`HOURS_PER_PASS`] buckets each), closed days built, daily
/// rows older than `day_retention_days` deleted.
pub async fn run(
    client: &Client,
    now_ms: i64,
    keep: TopNKeep,
    day_retention_days: u32,
) -> Result<CompactionReport, StoreError> {
    let mut report = CompactionReport { caught_up: true, ..Default::default() };
    let minutes =
        Pass { tier: Tier::Minute, grace: MINUTE_GRACE_MS, per_pass: MINUTES_PER_PASS, keep: keep.minute };
    let hours = Pass { tier: Tier::Hour, grace: HOUR_GRACE_MS, per_pass: HOURS_PER_PASS, keep: keep.hour };
    for k in &KINDS {
        let m = compact_tier(client, k, &minutes, now_ms, &mut report).await?;
        let h = compact_tier(client, k, &hours, now_ms, &mut report).await?;
        report.caught_up &= m && h;
        build_days(client, k, keep.day, now_ms, &mut report).await?;
        let cutoff = now_ms.div_euclid(DAY_MS) * DAY_MS - i64::from(day_retention_days) * DAY_MS;
        client
            .execute(
                &format!("DELETE FROM {} WHERE bucket < $1", k.table(Tier::Day)),
                &[&system_time(cutoff)],
            )
            .await?;
    }
    Ok(report)
}

/// Runs compaction passes until every table is caught up (at most `max_passes`),
/// on its own connection and runtime; for tools and benchmarks that load rollups
/// in bulk and want them as a running collector would have left them.
pub fn catch_up_blocking(
    cfg: &super::StoreConfig,
    now_ms: i64,
    max_passes: usize,
) -> Result<CompactionReport, StoreError> {
    let rt =
        tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(StoreError::Runtime)?;
    rt.block_on(async {
        let client = super::connect_and_migrate(cfg).await?;
        let mut total = CompactionReport::default();
        for _ in 0..max_passes.max(1) {
            let r = run(&client, now_ms, cfg.topn_keep, cfg.rollup_1d_retention_days).await?;
            total.buckets += r.buckets;
            total.rows_folded += r.rows_folded;
            total.days_built += r.days_built;
            total.caught_up = r.caught_up;
            if r.caught_up {
                break;
            }
        }
        Ok(total)
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;

    #[test]
    fn statements_name_every_column_of_their_table() {
        for k in &KINDS {
            let s = compact_sql(k, k.table(Tier::Hour));
            assert!(s.contains("ON CONFLICT (bucket, exporter, "), "{s}");
            assert_eq!(cols(k).len(), k.other_values().len(), "{:?}", k.rollup);
            assert!(day_sql(k).contains(&format!("rollup_{}_1d", k.rollup.name())));
        }
    }
}
