//! Outages against a real PostgreSQL: stopped while batches flow (and again in the
//! middle of the replay), backends killed at random moments (some during COMMIT),
//! ambiguous commits, a full spool, and a collector restart with a non-empty spool.
//! Every row must be stored exactly once (or, for the full spool, dropped and counted).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod store_common;

const EXPORTER_1M: &str = Rollup::Exporter.minute();

use flowvision_collector::store::{ManualClock, Store, StoreStats};
use flowvision_schema::Rollup;
use flowvision_tests::pg::PgCluster;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use store_common::*;

const T0: i64 = 1_709_208_000_000;

fn load(s: &std::sync::atomic::AtomicU64) -> u64 {
    s.load(Ordering::Relaxed)
}

fn assert_exactly_once(pg: &PgCluster, rows: &[flowvision_collector::store::FlowRow]) {
    let mut c = pg.connect().unwrap();
    let (n, distinct, bytes) = flow_totals(&mut c);
    assert_eq!(n, rows.len() as i64, "row count");
    assert_eq!(distinct, rows.len() as i64, "some row stored twice");
    assert_eq!(bytes, sum_bytes(rows), "sum of bytes");
    // The rollups saw each row once too.
    let flows: i64 =
        c.query_one(&format!("SELECT COALESCE(sum(flows), 0)::int8 FROM {EXPORTER_1M}"), &[]).unwrap().get(0);
    assert_eq!(flows, rows.len() as i64, "rollup flow count");
    let ex: i64 = c.query_one("SELECT COALESCE(sum(flows), 0)::int8 FROM exporters", &[]).unwrap().get(0);
    assert_eq!(ex, rows.len() as i64, "exporters flow count");
}

#[test]
fn outage_then_second_outage_during_replay_stores_every_row_once() {
    let mut pg = PgCluster::start().unwrap();
    if !pg.can_stop() {
        println!("skipped: DATABASE_URL is external, outages cannot be simulated");
        return;
    }
    let spool = tempfile::tempdir().unwrap();
    let mut cfg = config(pg.url(), spool.path());
    cfg.clock = Arc::new(ManualClock::new(T0 + 60_000));
    cfg.writers = 2;
    let stats = Arc::new(StoreStats::default());
    let (store, tx) = Store::start(cfg, Arc::clone(&stats)).unwrap();
    let mut rng = Rng::new(3);
    let rows = random_rows(&mut rng, 120_000, 1, T0, 600_000);
    let all = batches(11, rows.clone(), 500);
    let mut it = all.into_iter();

    // Some batches with the database up.
    for b in it.by_ref().take(20) {
        tx.send(b).unwrap();
    }
    assert!(wait_until(Duration::from_secs(30), || load(&stats.batches_stored) == 20));
    // Outage 1 while batches keep coming: they spool.
    pg.stop().unwrap();
    for b in it.by_ref().take(160) {
        tx.send(b).unwrap();
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(wait_until(Duration::from_secs(30), || load(&stats.batches_spooled) >= 150));
    std::thread::sleep(Duration::from_secs(2));
    let spooled_during_outage = load(&stats.batches_spooled);
    pg.resume().unwrap();
    // Outage 2 in the middle of the replay.
    let mid_replay = wait_until(Duration::from_secs(30), || {
        load(&stats.batches_replayed) + load(&stats.batches_duplicate) >= 5 && load(&stats.spool_files) > 20
    });
    pg.crash().unwrap();
    let left_in_spool = load(&stats.spool_files);
    // Meanwhile more batches arrive; they queue behind the spool.
    for b in it.by_ref().take(20) {
        tx.send(b).unwrap();
    }
    std::thread::sleep(Duration::from_secs(3));
    pg.resume().unwrap();
    for b in it {
        tx.send(b).unwrap();
    }
    assert!(
        // A batch whose COMMIT reached the database just before the crash is reported
        // failed, spooled, and recognised as a duplicate on replay: its 500 rows are
        // stored but not counted again (assert_exactly_once below checks the table).
        wait_until(Duration::from_secs(120), || load(&stats.rows_stored)
            + 500 * load(&stats.batches_duplicate)
            >= rows.len() as u64
            && store.spool_is_empty()),
        "not everything stored: {} of {} rows, spool {} files\n{}",
        load(&stats.rows_stored),
        rows.len(),
        load(&stats.spool_files),
        pg.log()
    );
    drop(tx);
    store.shutdown().unwrap();
    assert_exactly_once(&pg, &rows);
    assert!(spooled_during_outage >= 150);
    println!(
        "outage: {} rows in {} batches; {} spooled, {} replayed, {} duplicates skipped; second outage {} the \
         replay ({} files still spooled then); every row stored once",
        rows.len(),
        rows.len() / 500,
        load(&stats.batches_spooled),
        load(&stats.batches_replayed),
        load(&stats.batches_duplicate),
        if mid_replay { "in the middle of" } else { "after (replay was too fast to catch)" },
        left_in_spool,
    );
}

#[test]
fn killed_backends_and_ambiguous_commits_store_every_row_once() {
    let pg = PgCluster::start().unwrap();
    let spool = tempfile::tempdir().unwrap();
    let mut cfg = config(pg.url(), spool.path());
    cfg.clock = Arc::new(ManualClock::new(T0 + 60_000));
    cfg.reconnect_interval = Duration::from_millis(50);
    // Three commits that succeed but are reported lost: their batches are spooled,
    // and their replay must be recognised and skipped.
    cfg.simulate_ambiguous_commits.store(3, Ordering::SeqCst);
    let stats = Arc::new(StoreStats::default());
    let (store, tx) = Store::start(cfg, Arc::clone(&stats)).unwrap();
    let mut rng = Rng::new(5);
    let rows = random_rows(&mut rng, 60_000, 1, T0, 60_000);

    // A killer terminates the writer's backend at random moments: before, during and
    // after COPY, upserts and COMMIT.
    let stop = Arc::new(AtomicBool::new(false));
    let killer = {
        let stop = Arc::clone(&stop);
        let mut c = pg.connect().unwrap();
        std::thread::spawn(move || {
            let mut rng = Rng::new(99);
            let mut kills = 0u64;
            while !stop.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(20 + rng.below(60)));
                let n: i64 = c
                    .query_one(
                        "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                         WHERE application_name = 'flowvision-writer' AND pid <> pg_backend_pid()) t",
                        &[],
                    )
                    .map(|r| r.get(0))
                    .unwrap_or(0);
                kills += n as u64;
            }
            kills
        })
    };
    for b in batches(13, rows.clone(), 400) {
        tx.send(b).unwrap();
        std::thread::sleep(Duration::from_millis(2));
    }
    // Keep killing a little longer, then let it finish.
    std::thread::sleep(Duration::from_secs(1));
    stop.store(true, Ordering::SeqCst);
    let kills = killer.join().unwrap();
    assert!(
        // A batch whose COMMIT reached the database just before the crash is reported
        // failed, spooled, and recognised as a duplicate on replay: its 500 rows are
        // stored but not counted again (assert_exactly_once below checks the table).
        wait_until(Duration::from_secs(120), || load(&stats.rows_stored)
            + 500 * load(&stats.batches_duplicate)
            >= rows.len() as u64
            && store.spool_is_empty()),
        "stored {} of {}",
        load(&stats.rows_stored),
        rows.len()
    );
    drop(tx);
    store.shutdown().unwrap();
    assert_exactly_once(&pg, &rows);
    // rows_stored counts the simulated-ambiguous commits once (they did commit).
    assert_eq!(load(&stats.rows_stored), rows.len() as u64);
    assert!(load(&stats.batches_duplicate) >= 3, "ambiguous commits not detected on replay");
    println!(
        "{kills} writer backends killed, 3 ambiguous commits simulated: {} batches spooled, {} replayed, {} \
         duplicates skipped, {} db errors; {} rows stored exactly once",
        load(&stats.batches_spooled),
        load(&stats.batches_replayed),
        load(&stats.batches_duplicate),
        load(&stats.db_errors),
        rows.len()
    );
}

#[test]
fn full_spool_drops_and_counts_and_restart_replays_the_spool() {
    let mut pg = PgCluster::start().unwrap();
    if !pg.can_stop() {
        println!("skipped: DATABASE_URL is external, outages cannot be simulated");
        return;
    }
    let spool = tempfile::tempdir().unwrap();
    let mut cfg = config(pg.url(), spool.path());
    cfg.clock = Arc::new(ManualClock::new(T0 + 60_000));
    let mut rng = Rng::new(8);
    let rows = random_rows(&mut rng, 20_000, 1, T0, 60_000);
    let all = batches(17, rows.clone(), 1000);
    // Room for about 8 of the 20 batches.
    let batch_bytes = 1000 * 110;
    cfg.spool_max_bytes = 8 * batch_bytes + batch_bytes / 2;

    pg.stop().unwrap();
    let stats = Arc::new(StoreStats::default());
    // The database is down at start: not an error, batches spool.
    let (store, tx) = Store::start(cfg.clone(), Arc::clone(&stats)).unwrap();
    for b in all {
        tx.send(b).unwrap();
    }
    drop(tx);
    // Shutdown with the database down: everything in the queue goes to the spool
    // (or is dropped and counted when it is full).
    store.shutdown().unwrap();
    let spooled = load(&stats.batches_spooled);
    let dropped = load(&stats.batches_dropped_spool_full);
    let dropped_rows = load(&stats.rows_dropped_spool_full);
    assert_eq!(spooled + dropped, 20, "every batch spooled or counted as dropped");
    assert!(dropped > 0 && spooled > 0, "spooled {spooled}, dropped {dropped}");
    assert_eq!(dropped_rows, dropped * 1000);

    // A new collector process (new instance) with the same spool: replays it.
    pg.resume().unwrap();
    let stats2 = Arc::new(StoreStats::default());
    let (store2, tx2) = Store::start(cfg, Arc::clone(&stats2)).unwrap();
    assert!(
        wait_until(Duration::from_secs(60), || store2.spool_is_empty()),
        "spool not replayed after restart"
    );
    drop(tx2);
    store2.shutdown().unwrap();
    let mut c = pg.connect().unwrap();
    let (n, distinct, _) = flow_totals(&mut c);
    assert_eq!(n, spooled as i64 * 1000);
    assert_eq!(distinct, n);
    assert_eq!(load(&stats2.batches_replayed), spooled);
    println!(
        "spool bound {} bytes: {spooled} batches spooled, {dropped} dropped and counted ({dropped_rows} rows); \
         replayed by the next process: {n} rows, each once",
        8 * batch_bytes + batch_bytes / 2
    );
}
