//! Top-N compaction and the daily tier against a real PostgreSQL, driven by the
//! maintenance thread with a manual clock: every (bucket, exporter[, side]) total is
//! unchanged, at most N keys stay per group and none of the folded ones had more
//! bytes than a kept one, kept rows are untouched, closed days are built from the
//! hours, late data rebuilds its day, and a second pass changes nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod store_common;

use flowvision_collector::store::compaction::TopNKeep;
use flowvision_collector::store::{ManualClock, Store, StoreStats};
use flowvision_schema::rollup::OTHER_PORT;
use flowvision_schema::tables::ROLLUP_COMPACTION;
use flowvision_schema::{Rollup, Tier};
use flowvision_tests::pg::PgCluster;
use flowvision_tests::postgres;
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use store_common::*;

const MINUTE: i64 = 60_000;
const HOUR: i64 = 3_600_000;
const DAY: i64 = 86_400_000;
/// 2024-02-29T12:00:00Z.
const T0: i64 = 1_709_208_000_000;
const KEEP: TopNKeep = TopNKeep { minute: 4, hour: 6, day: 8 };

/// (rollup, group columns besides bucket and exporter, key columns); the "other"
/// rows are the schema's ([`Rollup::is_other`]).
const KINDS: [(Rollup, &str, &str); 3] = [
    (Rollup::Talker, "side::int8", "addr::text"),
    (Rollup::Service, "0::int8", "proto::text || '/' || port::text"),
    (Rollup::As, "0::int8", "src_as::text || '>' || dst_as::text"),
];

type Group = (i64, String, i64); // bucket (epoch s), exporter, part
type Measures = [i64; 5];

/// Every row of a table: group -> key -> measures (the "other" row under key "other").
fn rows(c: &mut postgres::Client, kind: usize, tier: Tier) -> BTreeMap<Group, BTreeMap<String, Measures>> {
    let (rollup, part, key) = KINDS[kind];
    let (name, other) = (rollup.table(tier).unwrap(), rollup.is_other());
    let sql = format!(
        "SELECT extract(epoch FROM bucket)::int8, host(exporter), {part}, \
                CASE WHEN {other} THEN 'other' ELSE {key} END, flows, bytes, packets, raw_bytes, raw_packets \
         FROM {name}"
    );
    let mut out: BTreeMap<Group, BTreeMap<String, Measures>> = BTreeMap::new();
    for r in c.query(&sql, &[]).unwrap() {
        let g = (r.get(0), r.get(1), r.get(2));
        let m = [r.get(4), r.get(5), r.get(6), r.get(7), r.get(8)];
        let prev = out.entry(g).or_default().insert(r.get(3), m);
        assert!(prev.is_none(), "duplicate key in {name}");
    }
    out
}

fn totals(groups: &BTreeMap<Group, BTreeMap<String, Measures>>) -> BTreeMap<Group, Measures> {
    groups
        .iter()
        .map(|(g, keys)| {
            let mut t = [0i64; 5];
            for m in keys.values() {
                for (a, b) in t.iter_mut().zip(m) {
                    *a = a.saturating_add(*b);
                }
            }
            (g.clone(), t)
        })
        .collect()
}

/// Services rank per (bucket, exporter) but fold per protocol: the group of a
/// service table is (bucket, exporter) with every protocol's "other" row in it.
fn normalize_services(c: &mut postgres::Client, tier: Tier) -> BTreeMap<Group, BTreeMap<String, Measures>> {
    let sql = format!(
        "SELECT extract(epoch FROM bucket)::int8, host(exporter), proto, port, \
                flows, bytes, packets, raw_bytes, raw_packets FROM {}",
        Rollup::Service.table(tier).unwrap()
    );
    let mut out: BTreeMap<Group, BTreeMap<String, Measures>> = BTreeMap::new();
    for r in c.query(&sql, &[]).unwrap() {
        let (proto, port): (i16, i32) = (r.get(2), r.get(3));
        let key = if port == OTHER_PORT { format!("other/{proto}") } else { format!("{proto}/{port}") };
        let m = [r.get(4), r.get(5), r.get(6), r.get(7), r.get(8)];
        out.entry((r.get(0), r.get(1), 0)).or_default().insert(key, m);
    }
    out
}

fn snapshot(
    c: &mut postgres::Client,
    kind: usize,
    tier: Tier,
) -> BTreeMap<Group, BTreeMap<String, Measures>> {
    if KINDS[kind].0 == Rollup::Service {
        normalize_services(c, tier)
    } else {
        rows(c, kind, tier)
    }
}

/// Checks one compacted table against its state before compaction; returns the
/// number of keys folded.
fn check_compacted(
    before: &BTreeMap<Group, BTreeMap<String, Measures>>,
    after: &BTreeMap<Group, BTreeMap<String, Measures>>,
    keep: usize,
    what: &str,
) -> usize {
    assert_eq!(totals(before), totals(after), "{what}: totals per group changed");
    let mut folded = 0;
    for (g, keys_after) in after {
        let keys_before = &before[g];
        let kept: Vec<&String> = keys_after.keys().filter(|k| !k.starts_with("other")).collect();
        assert!(kept.len() <= keep, "{what}: {g:?} keeps {} keys", kept.len());
        let mut min_kept = i64::MAX;
        for k in &kept {
            assert_eq!(keys_before.get(*k), keys_after.get(*k), "{what}: kept row {k} changed");
            min_kept = min_kept.min(keys_after[*k][1]);
        }
        for (k, m) in keys_before {
            if !k.starts_with("other") && !keys_after.contains_key(k) {
                folded += 1;
                assert!(m[1] <= min_kept, "{what}: {k} ({} bytes) folded, a kept key has {min_kept}", m[1]);
            }
        }
    }
    folded
}

fn maintain(store: &Store) -> (u64, u64, u64) {
    let mut sum = (0, 0, 0);
    for _ in 0..200 {
        let r = store.run_maintenance().unwrap().compaction.expect("compaction ran");
        sum = (sum.0 + r.buckets, sum.1 + r.rows_folded, sum.2 + r.days_built);
        if r.caught_up {
            return sum;
        }
    }
    panic!("compaction never caught up");
}

#[test]
fn compaction_keeps_totals_and_the_top_keys() {
    let pg = PgCluster::start().unwrap();
    let spool = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let mut cfg = config(pg.url(), spool.path());
    cfg.clock = clock.clone();
    cfg.maintenance_interval = Duration::from_secs(3600); // only when asked
                                                          // Exact rollups at ingest, so what compaction folds is all there is to check.
    cfg.talkers_per_batch = 1_000_000;
    cfg.services_per_batch = 1_000_000;
    cfg.as_pairs_per_batch = 1_000_000;
    cfg.topn_keep = KEEP;
    let stats = Arc::new(StoreStats::default());
    let (store, tx) = Store::start(cfg, Arc::clone(&stats)).unwrap();
    let mut c = pg.connect().unwrap();

    // Half an hour of traffic two days ago, yesterday and three hours ago.
    let mut rng = Rng::new(7);
    let mut all = Vec::new();
    for (i, t) in [T0 - 2 * DAY, T0 - DAY, T0 - 3 * HOUR].iter().enumerate() {
        all.extend(random_rows(&mut rng, 6000, 1 + i as u32 * 10_000, *t, 30 * MINUTE));
    }
    let n = all.len() as u64;
    for b in batches(5, all, 500) {
        tx.send(b).unwrap();
    }
    assert!(wait_until(Duration::from_secs(60), || stats.rows_stored.load(Ordering::Relaxed) == n));

    let tiers = [Tier::Minute, Tier::Hour];
    let before: Vec<Vec<_>> =
        (0..KINDS.len()).map(|k| tiers.iter().map(|t| snapshot(&mut c, k, *t)).collect()).collect();
    let (buckets, folded_rows, days) = maintain(&store);
    println!("pass 1: {buckets} buckets compacted, {folded_rows} rows folded, {days} days built");
    assert_eq!(days, 2 * 3, "two closed days, three tables");
    let mut folded_keys = 0;
    for (k, kind) in KINDS.iter().enumerate() {
        for (t, tier) in tiers.iter().enumerate() {
            let keep = if *tier == Tier::Minute { KEEP.minute } else { KEEP.hour } as usize;
            let after = snapshot(&mut c, k, *tier);
            folded_keys += check_compacted(&before[k][t], &after, keep, kind.0.table(*tier).unwrap());
        }
    }
    assert!(folded_keys > 1000, "the data must be large enough to fold ({folded_keys} keys folded)");
    assert!(folded_rows >= folded_keys as u64, "{folded_rows} rows folded, {folded_keys} keys gone");

    // The daily tier: per (day, exporter[, side]) the sums of the day's hours.
    let check_days = |c: &mut postgres::Client| {
        for (k, kind) in KINDS.iter().enumerate() {
            let hours = totals(&snapshot(c, k, Tier::Hour));
            let mut expected: BTreeMap<Group, Measures> = BTreeMap::new();
            for ((b, e, p), m) in hours {
                let day = b - b.rem_euclid(86_400);
                if day * 1000 >= T0 - T0.rem_euclid(DAY) {
                    continue; // today is not closed
                }
                let t = expected.entry((day, e, p)).or_default();
                for (a, v) in t.iter_mut().zip(m) {
                    *a = a.saturating_add(v);
                }
            }
            let daily = snapshot(c, k, Tier::Day);
            let day_table = kind.0.table(Tier::Day).unwrap();
            assert_eq!(totals(&daily), expected, "{day_table} totals");
            for (g, keys) in &daily {
                let kept = keys.keys().filter(|k| !k.starts_with("other")).count();
                assert!(kept <= KEEP.day as usize, "{day_table} {g:?}: {kept} keys");
            }
        }
    };
    check_days(&mut c);
    let done: Vec<(String, i64)> = c
        .query(
            &format!(
                "SELECT tbl, (extract(epoch FROM done_until) * 1000)::int8 FROM {ROLLUP_COMPACTION} \
                 WHERE tbl LIKE '%\\_1d' ORDER BY tbl"
            ),
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(done.len(), 3);
    assert!(done.iter().all(|(_, d)| *d == T0 - T0.rem_euclid(DAY)), "{done:?}");

    // A second pass finds nothing to do.
    let again = maintain(&store);
    assert_eq!((again.1, again.2), (0, 0), "second pass folded or rebuilt: {again:?}");

    // Late data for yesterday (a replayed spool): its day is rebuilt.
    let late = random_rows(&mut rng, 800, 900_000, T0 - DAY + 2 * HOUR, 10 * MINUTE);
    for b in batches(6, late, 400) {
        tx.send(b).unwrap();
    }
    assert!(wait_until(Duration::from_secs(60), || stats.rows_stored.load(Ordering::Relaxed) == n + 800));
    let (_, _, rebuilt) = maintain(&store);
    assert_eq!(rebuilt, 3, "yesterday rebuilt in the three daily tables");
    check_days(&mut c);

    // Open periods are left alone until they close (plus grace); then compacted.
    let fresh = random_rows(&mut rng, 3000, 2_000_000, T0 + 10 * MINUTE, 10 * MINUTE);
    for b in batches(7, fresh, 500) {
        tx.send(b).unwrap();
    }
    assert!(wait_until(Duration::from_secs(60), || stats.rows_stored.load(Ordering::Relaxed) == n + 3800));
    clock.set(T0 + 15 * MINUTE);
    maintain(&store);
    let widest = |c: &mut postgres::Client| {
        let t = rows(c, 0, Tier::Minute);
        t.iter().filter(|(g, _)| g.0 * 1000 >= T0).map(|(_, k)| k.len()).max().unwrap()
    };
    assert!(widest(&mut c) > KEEP.minute as usize + 1, "open minutes must not be compacted");
    clock.set(T0 + 2 * HOUR);
    let (b2, f2, _) = maintain(&store);
    assert!(b2 >= 10 && f2 > 0, "{b2} buckets, {f2} rows");
    assert!(widest(&mut c) <= KEEP.minute as usize + 1, "closed minutes compacted");
    store.shutdown().unwrap();
}
