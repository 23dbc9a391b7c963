//! Partitions and retention with a moved clock: partitions are created ahead and for
//! the rows a batch brings, dropped with DROP TABLE (never DELETE) once older than the
//! retention; rows already older than the retention are not stored, and counted.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod store_common;

const EXPORTER_1M: &str = Rollup::Exporter.minute();
const EXPORTER_1H: &str = Rollup::Exporter.hour();

use flowvision_collector::store::partitions::{partition_name, Span};
use flowvision_collector::store::{ManualClock, PartitionInterval, Store, StoreStats};
use flowvision_schema::tables::FLOWS;
use flowvision_schema::Rollup;
use flowvision_tests::pg::PgCluster;
use flowvision_tests::postgres;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use store_common::*;

const DAY: i64 = 86_400_000;
/// 2024-02-29T12:00:00Z.
const T0: i64 = 1_709_208_000_000;

fn partitions(c: &mut postgres::Client, parent: &str) -> Vec<String> {
    let mut v: Vec<String> = c
        .query(
            "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
             WHERE i.inhparent = $1::text::regclass",
            &[&parent],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    v.sort();
    v
}

fn count(c: &mut postgres::Client, sql: &str) -> i64 {
    c.query_one(sql, &[]).unwrap().get(0)
}

#[test]
fn retention_drops_partitions_as_the_clock_moves() {
    let pg = PgCluster::start().unwrap();
    let spool = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let mut cfg = config(pg.url(), spool.path());
    cfg.clock = clock.clone();
    cfg.partition_interval = PartitionInterval::Daily;
    cfg.retention_days = 7;
    cfg.rollup_1m_retention_days = 8;
    cfg.rollup_1h_retention_days = 90;
    cfg.maintenance_interval = Duration::from_secs(3600); // only when asked
    let stats = Arc::new(StoreStats::default());
    let (store, tx) = Store::start(cfg, Arc::clone(&stats)).unwrap();
    let mut c = pg.connect().unwrap();

    // Created ahead at start: today and the next two days.
    let flows_parts = partitions(&mut c, FLOWS);
    for d in 0..3 {
        let name = partition_name(FLOWS, Span::Day, Span::Day.start(T0 + d * DAY));
        assert!(flows_parts.contains(&name), "{name} not created ahead: {flows_parts:?}");
    }

    // Rows 6, 3 and 0 days old (inside the retention) and 10 days old (outside).
    let mut rng = Rng::new(11);
    let mut rows = Vec::new();
    for (i, age) in [6i64, 3, 0].iter().enumerate() {
        rows.extend(random_rows(&mut rng, 1000, 1 + i as u32 * 1000, T0 - age * DAY, 3_600_000));
    }
    let expired = random_rows(&mut rng, 500, 100_000, T0 - 10 * DAY, 60_000);
    let mut all = rows.clone();
    all.extend(expired.iter().copied());
    for b in batches(21, all, 250) {
        tx.send(b).unwrap();
    }
    assert!(wait_until(Duration::from_secs(60), || stats.rows_stored.load(Ordering::Relaxed)
        + stats.rows_expired.load(Ordering::Relaxed)
        == 3500));
    assert_eq!(stats.rows_expired.load(Ordering::Relaxed), 500, "expired rows counted");
    assert_eq!(count(&mut c, &format!("SELECT count(*) FROM {FLOWS}")), 3000);
    let six_days_ago = partition_name(FLOWS, Span::Day, Span::Day.start(T0 - 6 * DAY));
    assert!(partitions(&mut c, FLOWS).contains(&six_days_ago), "partition created on demand for old rows");
    assert!(
        !partitions(&mut c, FLOWS).contains(&partition_name(
            FLOWS,
            Span::Day,
            Span::Day.start(T0 - 10 * DAY)
        )),
        "no partition for expired rows"
    );

    // Move the clock 2 days: cutoff 02-24 12:00, so the 02-23 partition goes.
    clock.advance(2 * DAY);
    let report = store.run_maintenance().unwrap();
    assert!(report.dropped.contains(&six_days_ago), "{report:?}");
    assert!(
        report.dropped.iter().all(|n| n.starts_with("flows_")),
        "only flows is that short-lived: {report:?}"
    );
    assert!(report.created.contains(&partition_name(FLOWS, Span::Day, Span::Day.start(T0 + 4 * DAY))));
    assert_eq!(count(&mut c, &format!("SELECT count(*) FROM {FLOWS}")), 2000);
    // DROP, never DELETE: no partition ever saw a deleted tuple.
    let deleted = count(
        &mut c,
        "SELECT COALESCE(sum(n_tup_del), 0)::int8 FROM pg_stat_user_tables WHERE relname LIKE 'flows_%'",
    );
    assert_eq!(deleted, 0);
    // The rollups keep their own (longer) retention: minutes still there.
    assert!(count(&mut c, &format!("SELECT count(*) FROM {EXPORTER_1M} WHERE bucket < '2024-02-24'")) > 0);

    // Ten more days: every flows partition of the rows is gone, 1-minute rollups of
    // the oldest day too, the weekly 1-hour rollups stay (90 days).
    clock.advance(10 * DAY);
    let report = store.run_maintenance().unwrap();
    assert_eq!(count(&mut c, &format!("SELECT count(*) FROM {FLOWS}")), 0);
    assert!(
        report.dropped.iter().any(|n| n.starts_with(&format!("{}_d", Rollup::Talker.minute()))),
        "{report:?}"
    );
    assert!(report.dropped.iter().all(|n| !n.contains("_1h_")), "{report:?}");
    assert!(count(&mut c, &format!("SELECT count(*) FROM {EXPORTER_1H}")) > 0);
    assert!(report.batch_ids_pruned > 0, "batch ids older than retention + 1 day pruned");
    let parts = partitions(&mut c, FLOWS);
    assert!(parts
        .iter()
        .all(|p| p.as_str() >= partition_name(FLOWS, Span::Day, Span::Day.start(T0 + 5 * DAY)).as_str()));
    drop(tx);
    store.shutdown().unwrap();
    println!(
        "retention: 3000 rows over 3 days stored, 500 expired rows counted; clock +2 d dropped {six_days_ago}, \
         +12 d dropped every flows partition and the oldest 1-minute rollups; {} flows partitions remain, \
         no DELETE on flows",
        parts.len()
    );
}

#[test]
fn hourly_and_daily_partitions_coexist() {
    let pg = PgCluster::start().unwrap();
    let spool = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let mut cfg = config(pg.url(), spool.path());
    cfg.clock = clock.clone();
    cfg.partition_interval = PartitionInterval::Hourly;
    let stats = Arc::new(StoreStats::default());
    let (store, tx) = Store::start(cfg.clone(), Arc::clone(&stats)).unwrap();
    let mut rng = Rng::new(12);
    let rows = random_rows(&mut rng, 100, 1, T0, 60_000);
    tx.send(batches(1, rows, 100).remove(0)).unwrap();
    assert!(wait_until(Duration::from_secs(30), || stats.rows_stored.load(Ordering::Relaxed) == 100));
    // Another process drops the partition the writer believes exists: the COPY fails
    // with "no partition", the writer refreshes, recreates it and stores the batch.
    let mut c = pg.connect().unwrap();
    let hour = partition_name(FLOWS, Span::Hour, Span::Hour.start(T0));
    c.batch_execute(&format!("DROP TABLE {hour}")).unwrap();
    let again = random_rows(&mut rng, 100, 500, T0 + 1000, 60_000);
    tx.send(
        batches(1, again, 100)
            .pop()
            .map(|mut b| {
                b.id.seq = 1;
                b
            })
            .unwrap(),
    )
    .unwrap();
    assert!(wait_until(Duration::from_secs(30), || stats.rows_stored.load(Ordering::Relaxed) == 200));
    assert_eq!(count(&mut c, &format!("SELECT count(*) FROM {hour}")), 100);
    assert_eq!(stats.batches_spooled.load(Ordering::Relaxed), 0, "recovered without spooling");
    drop(tx);
    store.shutdown().unwrap();
    // Same day, now daily: the day already has hourly partitions, so new times of
    // that day get hourly ones; the next day gets a daily one.
    cfg.partition_interval = PartitionInterval::Daily;
    let stats = Arc::new(StoreStats::default());
    let (store, tx) = Store::start(cfg, Arc::clone(&stats)).unwrap();
    let mut rng = Rng::new(13);
    let later = random_rows(&mut rng, 100, 1000, T0 + 6 * 3_600_000, 60_000);
    tx.send(batches(2, later, 100).remove(0)).unwrap();
    assert!(wait_until(Duration::from_secs(30), || stats.rows_stored.load(Ordering::Relaxed) == 100));
    drop(tx);
    store.shutdown().unwrap();
    let mut c = pg.connect().unwrap();
    let parts = partitions(&mut c, FLOWS);
    assert!(
        parts.contains(&partition_name(FLOWS, Span::Hour, Span::Hour.start(T0 + 6 * 3_600_000))),
        "{parts:?}"
    );
    assert!(parts.contains(&partition_name(FLOWS, Span::Day, Span::Day.start(T0 + DAY))), "{parts:?}");
    assert_eq!(count(&mut c, &format!("SELECT count(*) FROM {FLOWS}")), 200);
    println!(
        "partition dropped behind the writer's back recreated on demand; hourly then daily: {} flows \
         partitions, no overlap",
        parts.len()
    );
}
