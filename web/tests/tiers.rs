//! Top-N tables over several days read whole days from the daily tier, whole hours
//! from the hourly one and edge minutes from the minute one, and still rank exactly
//! the flows of the window: flows stored through the collector's store three, two
//! and one day(s) back, the collector's maintenance compacts and builds the days,
//! and the 7-day ranking equals the one computed from the rows — also after the
//! hourly rows of the built days are deleted (so it provably came from the days).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use common::*;
use flowvision_codec::{FlowRecord, Protocol, SamplingOrigin};
use flowvision_collector::store::{
    Batch, BatchId, FlowRow, PartitionInterval, Store, StoreConfig, StoreStats,
};
use flowvision_schema::tables::ROLLUP_COMPACTION;
use flowvision_schema::{Rollup, Tier};
use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

const HOUR: i64 = 3_600_000;
const DAY: i64 = 86_400_000;

/// 90 flows in each of three stretches (2-3 h, 30-31 h and 54-56 h ago), two
/// exporters, hosts whose weight differs per stretch so each window ranks differently.
fn rows(now: i64) -> Vec<FlowRow> {
    let mut out = Vec::new();
    for (s, (age, span)) in [(3 * HOUR, HOUR), (31 * HOUR, HOUR), (56 * HOUR, 2 * HOUR)].iter().enumerate() {
        for k in 0..90u32 {
            let ex: IpAddr = EXPORTERS[(k % 2) as usize].parse().unwrap();
            let mut r = FlowRecord::new(Protocol::Ipfix, ex);
            let h = (k / 2) % 9 + 1;
            r.src_addr = Some(format!("10.9.{s}.{h}").parse().unwrap());
            r.dst_addr = Some(format!("10.8.0.{}", 10 - h).parse().unwrap());
            r.proto = 6;
            r.src_port = 40000;
            r.dst_port = 8000 + h as u16;
            r.src_as = 65000 + h;
            r.dst_as = 65100 + s as u32;
            // No ties: weight depends on stretch, host and exporter.
            r.bytes = u64::from(h * h * 1000 * (s as u32 + 1) + k % 2);
            r.packets = u64::from(h);
            r.sampling_rate = 1;
            r.sampling_origin = SamplingOrigin::Record;
            r.sequence = k;
            let t = now - age + (i64::from(k) * span) / 90;
            out.push(FlowRow { time_received_ms: t, record: r });
        }
    }
    out
}

/// Stores the rows and runs the collector's maintenance until compaction has caught
/// up (as a running collector would have, minute after minute).
fn store_and_compact(url: &str, rows: &[FlowRow]) {
    let spool = tempfile::tempdir().unwrap();
    let mut cfg = StoreConfig::new(url, spool.path());
    cfg.partition_interval = PartitionInterval::Hourly;
    cfg.maintenance_interval = Duration::from_secs(3600);
    let stats = Arc::new(StoreStats::default());
    let (store, tx) = Store::start(cfg, Arc::clone(&stats)).unwrap();
    let instance = flowvision_collector::store::new_instance_id();
    for (i, chunk) in rows.chunks(45).enumerate() {
        tx.send(Batch { id: BatchId { instance, seq: i as u64 }, rows: chunk.to_vec() }).unwrap();
    }
    let end = Instant::now() + Duration::from_secs(120);
    while stats.rows_stored.load(Ordering::Relaxed) < rows.len() as u64 {
        assert!(Instant::now() < end, "rows not stored in time");
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut days = 0;
    for _ in 0..100 {
        let r = store.run_maintenance().unwrap().compaction.unwrap();
        days += r.days_built;
        if r.caught_up {
            break;
        }
    }
    println!("compaction built {days} daily buckets");
    assert!(days >= 3, "closed days with data are built in the three daily tables");
    store.shutdown().unwrap();
}

#[test]
fn long_windows_read_days_hours_and_minutes_exactly() {
    let web = Web::start();
    let now = now_ms();
    let all = rows(now);
    store_and_compact(web.pg.url(), &all);
    let admin = web.login(ADMIN, ADMIN_PW);
    let mut c = web.pg.connect().unwrap();
    let today = now - now.rem_euclid(DAY);
    let built: i64 = c
        .query_one(
            &format!(
                "SELECT (extract(epoch FROM done_until) * 1000)::int8 FROM {ROLLUP_COMPACTION} \
             WHERE tbl = $1"
            ),
            &[&Rollup::Talker.table(Tier::Day).unwrap()],
        )
        .unwrap()
        .get(0);
    // Up to today, unless the last hour of yesterday is not closed (plus its 5 minutes
    // of grace) yet: then up to yesterday.
    let hours_closed = (now - 5 * 60_000) - (now - 5 * 60_000).rem_euclid(HOUR);
    let expected = today.min(hours_closed - hours_closed.rem_euclid(DAY));
    assert_eq!(built, expected, "the daily tier is built up to the last closed day");

    let recent: Vec<&FlowRow> = all.iter().filter(|r| r.time_received_ms > now - 4 * HOUR).collect();
    let every: Vec<&FlowRow> = all.iter().collect();
    let src = |r: &FlowRow| r.record.src_addr.unwrap().to_string();
    let svc = |r: &FlowRow| format!("{}/{}", r.record.proto, r.record.dst_port);
    let pair = |r: &FlowRow| format!("{}>{}", r.record.src_as, r.record.dst_as);
    let total: i64 = all.iter().map(|r| r.record.bytes as i64).sum();
    let checks = |web: &Web, session: &Session| {
        let t = web.json("/api/v1/top/talkers?range=7d&limit=100", session);
        assert_eq!(items(&t), ranked(every.iter().copied(), src), "7d talkers");
        assert_eq!(t["total_bytes"].as_i64().unwrap(), total);
        assert_eq!(
            items(&web.json("/api/v1/top/services?range=7d&limit=100", session)),
            ranked(every.iter().copied(), svc)
        );
        assert_eq!(
            items(&web.json("/api/v1/top/as?range=7d&side=pair&limit=100", session)),
            ranked(every.iter().copied(), pair)
        );
        // 6 h and 24 h hold only the recent stretch (the others are 30+ hours old).
        assert_eq!(
            items(&web.json("/api/v1/top/talkers?range=24h&limit=100", session)),
            ranked(recent.iter().copied(), src)
        );
        assert_eq!(
            items(&web.json("/api/v1/top/talkers?range=6h&limit=100", session)),
            ranked(recent.iter().copied(), src)
        );
        assert_eq!(
            items(&web.json("/api/v1/top/as?range=6h&side=pair&limit=100", session)),
            ranked(recent.iter().copied(), pair)
        );
    };
    checks(&web, &admin);

    // The hourly rows of every day before yesterday are gone: the 7-day tables must
    // come from the daily tier for those days, and come out the same.
    let cut = today - DAY;
    let old: i64 = c
        .query_one(
            &format!(
                "SELECT count(*) FROM {} WHERE bucket < to_timestamp($1::float8 / 1000)",
                Rollup::Talker.hour()
            ),
            &[&(cut as f64)],
        )
        .unwrap()
        .get(0);
    assert!(old > 0, "the oldest stretch must lie before yesterday");
    for t in Rollup::TOP_N.map(Rollup::hour) {
        c.execute(
            &format!("DELETE FROM {t} WHERE bucket < to_timestamp($1::float8 / 1000)"),
            &[&(cut as f64)],
        )
        .unwrap();
    }
    checks(&web, &admin);
    println!("7d/24h/6h rankings equal the rows' before and after removing {old} hourly talker rows");
}
