//! The address bloom index of `flows` (migrations/0018) against a real PostgreSQL: a
//! maintenance round summarizes the page ranges the store's COPY filled, a second
//! round finds nothing new, and a host search in the SQL the console sends (the filter
//! crate's) is answered through the index, reading only the ranges that may hold the
//! host, with the same rows as a sequential scan.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod store_common;

use flowvision_collector::store::{ManualClock, Store, StoreStats};
use flowvision_filter::sql::{to_sql, SqlParam};
use flowvision_tests::pg::PgCluster;
use flowvision_tests::postgres;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use store_common::*;

/// 2024-02-29T12:00:00Z.
const T0: i64 = 1_709_208_000_000;
const ROWS: usize = 30_000;
const NEEDLE: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 7);

/// Runs the console's host search for `filter` over the rows' hour and returns the
/// matching sequence ids and the plan.
fn search(c: &mut postgres::Client, filter: &str) -> (Vec<i64>, String) {
    let expr = flowvision_filter::parse(filter).unwrap();
    let mut params = Vec::new();
    let cond = to_sql(&expr, &mut params);
    let values: Vec<String> = params
        .iter()
        .map(|p| match p {
            SqlParam::Inet(s) => s.clone(),
            SqlParam::Int(_) => panic!("an address filter binds addresses only"),
        })
        .collect();
    let refs: Vec<&(dyn postgres::types::ToSql + Sync)> =
        values.iter().map(|v| v as &(dyn postgres::types::ToSql + Sync)).collect();
    let sql = format!(
        "SELECT sequence FROM flows WHERE time_received >= '2024-02-29 12:00+00' \
         AND time_received < '2024-02-29 13:00+00' AND {cond} ORDER BY sequence"
    );
    let ids = c.query(&sql, &refs).unwrap().iter().map(|r| r.get(0)).collect();
    let plan = c
        .query(&format!("EXPLAIN (ANALYZE, COSTS OFF) {sql}"), &refs)
        .unwrap()
        .iter()
        .map(|r| r.get::<_, String>(0))
        .collect::<Vec<_>>()
        .join("\n");
    (ids, plan)
}

/// Heap blocks a bitmap heap scan read, from `Heap Blocks: exact=N lossy=M` lines.
fn heap_blocks(plan: &str) -> u64 {
    plan.lines()
        .filter_map(|l| l.trim().strip_prefix("Heap Blocks:"))
        .flat_map(|s| s.split_whitespace())
        .filter_map(|kv| kv.split_once('=').and_then(|(_, n)| n.parse::<u64>().ok()))
        .sum()
}

#[test]
fn host_search_reads_only_the_ranges_the_bloom_index_names() {
    let pg = PgCluster::start().unwrap();
    let spool = tempfile::tempdir().unwrap();
    let mut cfg = config(pg.url(), spool.path());
    cfg.clock = Arc::new(ManualClock::new(T0 + 1_900_000));
    cfg.maintenance_interval = Duration::from_secs(3600); // only when asked
    let stats = Arc::new(StoreStats::default());
    let (store, tx) = Store::start(cfg, Arc::clone(&stats)).unwrap();

    // Every address distinct (as on a busy link), the needle in two rows only: once as
    // destination, once as source, far apart.
    let mut rng = Rng::new(18);
    let mut rows = random_rows(&mut rng, ROWS, 1, T0, 1_800_000);
    for (i, row) in rows.iter_mut().enumerate() {
        let i = i as u32;
        row.record.src_addr = Some(IpAddr::V4(Ipv4Addr::from(0x0a00_0000 | i)));
        row.record.dst_addr = Some(IpAddr::V4(Ipv4Addr::from(0x6440_0000 | i)));
    }
    rows[4_000].record.dst_addr = Some(IpAddr::V4(NEEDLE));
    rows[21_000].record.src_addr = Some(IpAddr::V4(NEEDLE));
    let expected: Vec<i64> = vec![rows[4_000].record.sequence.into(), rows[21_000].record.sequence.into()];
    for b in batches(18, rows, 2_500) {
        tx.send(b).unwrap();
    }
    assert!(wait_until(Duration::from_secs(60), || stats.rows_stored.load(Ordering::Relaxed) == ROWS as u64));

    let first = store.run_maintenance().unwrap();
    let again = store.run_maintenance().unwrap();
    let mut c = pg.connect().unwrap();
    let pages: i64 =
        c.query_one("SELECT (pg_relation_size('flows_h2024022912') / 8192)::bigint", &[]).unwrap().get(0);
    // Two BRIN indexes (time: 32 pages a range, addresses: 16) over the partition's
    // complete ranges.
    assert!(
        first.brin_ranges_summarized >= pages / 16,
        "{} ranges summarized for {pages} pages",
        first.brin_ranges_summarized
    );
    assert_eq!(again.brin_ranges_summarized, 0, "nothing new to summarize the second time");

    // Statistics as autovacuum keeps them. The planner would scan a table this
    // small: forbid that, so the plan shows whether the search's SQL uses the index.
    c.batch_execute("ANALYZE flows; SET enable_seqscan = off; SET max_parallel_workers_per_gather = 0")
        .unwrap();
    let (ids, plan) = search(&mut c, &format!("host {NEEDLE}"));
    assert_eq!(ids, expected, "{plan}");
    assert!(plan.contains("Bitmap Index Scan on flows_h2024022912_src_addr_dst_addr_idx"), "{plan}");
    let read = heap_blocks(&plan);
    // Two ranges hold the needle; a few more may be false positives (1 % each) or
    // the partial last range, never summarized.
    assert!(read <= 8 * 16 && (read as i64) < pages / 4, "read {read} of {pages} pages:\n{plan}");
    // The console's address field sends a prefix: a whole-address one is the host.
    let (by_prefix, plan) = search(&mut c, &format!("net {NEEDLE}/32"));
    assert_eq!(by_prefix, expected);
    assert!(heap_blocks(&plan) == read && plan.contains("Bitmap Index Scan"), "{plan}");
    let (src_only, _) = search(&mut c, &format!("src host {NEEDLE}"));
    assert_eq!(src_only, expected[1..].to_vec());

    // The same rows without the index.
    c.batch_execute("SET enable_seqscan = on; SET enable_bitmapscan = off").unwrap();
    let (scanned, plan) = search(&mut c, &format!("host {NEEDLE}"));
    assert!(!plan.contains("Bitmap"), "{plan}");
    assert_eq!(scanned, expected);
    let (others, _) = search(&mut c, &format!("not host {NEEDLE}"));
    assert_eq!(others.len(), ROWS - 2);

    println!(
        "{ROWS} flows in {pages} pages: {} BRIN ranges summarized, a host search read {read} pages",
        first.brin_ranges_summarized
    );
    drop(tx);
    store.shutdown().unwrap();
}
