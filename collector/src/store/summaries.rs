//! BRIN summaries of the recent `flows` partitions: the time index and the address
//! bloom index (migrations/0018) only prune the page ranges they have summarized, and
//! rows appended by COPY land in unsummarized ranges. Summarizing them here, in bulk
//! once a maintenance round, costs one read of the new pages instead of work per row
//! at ingest, and keeps the unsummarized tail a search must read to about one round.
//!
//! `brin_summarize_new_values` skips the partial last range (so COPY never has to
//! update a summary as it appends) and takes a SHARE UPDATE EXCLUSIVE lock, which COPY
//! does not conflict with but VACUUM does: a short `lock_timeout` lets a running
//! (auto)vacuum, which summarizes the same ranges, finish instead of being cancelled;
//! the partition is tried again next round.

use super::partitions::PartitionCache;
use super::time::HOUR_MS;
use flowvision_schema::tables;
use tokio_postgres::error::SqlState;
use tokio_postgres::Client;

/// Partitions ending within this long before now are summarized: the current one, and
/// the previous one for rows received just before its end (late batches, replays from
/// the spool). Older partitions are left to VACUUM.
const RECENT_MS: i64 = 2 * HOUR_MS;

/// Summarizes the new complete page ranges of every BRIN index of the `flows`
/// partitions that cover `[now - 2 h, now]`; returns how many ranges were summarized.
/// A partition whose lock is held (a VACUUM running on it) is skipped this time.
pub(crate) async fn summarize_recent(
    client: &Client,
    cache: &PartitionCache,
    now_ms: i64,
) -> Result<i64, tokio_postgres::Error> {
    let mut ranges = 0;
    for p in cache.partitions(tables::FLOWS) {
        if p.hi_ms <= now_ms - RECENT_MS || p.lo_ms > now_ms {
            continue;
        }
        let name: &(dyn tokio_postgres::types::ToSql + Sync) = &p.name;
        let params = [name];
        let work = client.query_one(
            "SELECT COALESCE(sum(brin_summarize_new_values(x.indexrelid)), 0)::bigint \
             FROM pg_index x JOIN pg_class ic ON ic.oid = x.indexrelid JOIN pg_am a ON a.oid = ic.relam \
             WHERE x.indrelid = to_regclass($1) AND a.amname = 'brin'",
            &params,
        );
        match super::tx::transaction(client, "SET LOCAL lock_timeout = '500ms'", work).await {
            Ok(row) => ranges += row.get::<_, i64>(0),
            Err(e) if e.code() == Some(&SqlState::LOCK_NOT_AVAILABLE) => {
                log::debug!("BRIN summaries of {}: busy (a VACUUM holds it), next round", p.name);
            }
            Err(e) => return Err(e),
        }
    }
    Ok(ranges)
}
