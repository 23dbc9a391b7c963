//! COPY binary round trip and rollups against a real PostgreSQL, plus a throughput
//! probe (printed, not asserted).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod store_common;

use bytes::BytesMut;
use flowvision_collector::store::copy::{put_header, put_row, put_trailer};
use flowvision_collector::store::{ManualClock, Store, StoreStats};
use flowvision_schema::rollup::OTHER_ADDR;
use flowvision_schema::tables::{EXPORTERS, FLOWS, INGEST_BATCHES};
use flowvision_schema::{Rollup, Tier};
use flowvision_tests::pg::PgCluster;
use flowvision_tests::postgres;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use store_common::*;

const TALKER_1M: &str = Rollup::Talker.minute();
const EXPORTER_1M: &str = Rollup::Exporter.minute();
const SERVICE_1M: &str = Rollup::Service.minute();
const PROTOCOL_1M: &str = Rollup::Protocol.minute();
const AS_1M: &str = Rollup::As.minute();

/// 2024-02-29T11:30:00Z.
const T0: i64 = 1_709_206_200_000;

/// SQL recomputing a rollup from `flows`: (dimension expressions, names).
fn dims(table: &str) -> (&'static str, &'static str) {
    match table {
        "exporter" => ("", ""),
        "interface" => (", in_if, out_if", ", in_if, out_if"),
        "protocol" => (", proto::int8 AS proto", ", proto::int8"),
        "service" => (
            ", proto::int8 AS proto, (CASE WHEN proto IN (6, 17, 33, 132) THEN \
               CASE WHEN LEAST(src_port, dst_port) = 0 THEN GREATEST(src_port, dst_port) \
               ELSE LEAST(src_port, dst_port) END WHEN proto IN (1, 58) THEN dst_port ELSE 0 END)::int8 AS port",
            ", proto::int8, port::int8",
        ),
        "as" => (", src_as, dst_as", ", src_as, dst_as"),
        _ => unreachable!(),
    }
}

const MEASURES_EXPECTED: &str = "count(*)::numeric, \
    LEAST(sum(bytes::numeric * GREATEST(sampling_rate, 1)), 9223372036854775807), \
    LEAST(sum(packets::numeric * GREATEST(sampling_rate, 1)), 9223372036854775807), \
    LEAST(sum(bytes::numeric), 9223372036854775807), LEAST(sum(packets::numeric), 9223372036854775807)";
const MEASURES_ACTUAL: &str =
    "flows::numeric, bytes::numeric, packets::numeric, raw_bytes::numeric, raw_packets::numeric";

/// Rows of the symmetric difference between a rollup table and its recomputation.
fn rollup_mismatches(c: &mut postgres::Client, rollup: Rollup, tier: Tier) -> (i64, i64) {
    let unit = if tier == Tier::Minute { "minute" } else { "hour" };
    let (kind, table) = (rollup.name(), rollup.table(tier).unwrap());
    let other = OTHER_ADDR;
    let (expected, actual) = if rollup == Rollup::Talker {
        (
            format!(
                "SELECT date_trunc('{unit}', time_received) AS bucket, exporter, side, addr, {MEASURES_EXPECTED} FROM (\
                   SELECT time_received, exporter, 0::int8 AS side, COALESCE(src_addr, {other}) AS addr, \
                     bytes, packets, sampling_rate FROM {FLOWS} \
                   UNION ALL SELECT time_received, exporter, 1::int8, COALESCE(dst_addr, {other}), \
                     bytes, packets, sampling_rate FROM {FLOWS}) f GROUP BY 1, 2, 3, 4"
            ),
            format!("SELECT bucket, exporter, side::int8, addr, {MEASURES_ACTUAL} FROM {table}"),
        )
    } else {
        let (exprs, names) = dims(kind);
        let group: String =
            (1..=2 + names.matches(',').count()).map(|i| i.to_string()).collect::<Vec<_>>().join(", ");
        (
            format!(
                "SELECT date_trunc('{unit}', time_received) AS bucket, exporter{names}, {MEASURES_EXPECTED} FROM (\
                   SELECT time_received, exporter{exprs}, bytes, packets, sampling_rate FROM {FLOWS}) f GROUP BY {group}"
            ),
            format!("SELECT bucket, exporter{names}, {MEASURES_ACTUAL} FROM {table}"),
        )
    };
    let sql = format!(
        "SELECT (SELECT count(*) FROM (({expected}) EXCEPT ({actual})) a) + \
                (SELECT count(*) FROM (({actual}) EXCEPT ({expected})) b), \
                (SELECT count(*) FROM ({actual}) n)"
    );
    let r = c.query_one(&sql, &[]).unwrap();
    (r.get(0), r.get(1))
}

#[test]
fn copy_round_trip_and_exact_rollups() {
    let pg = PgCluster::start().unwrap();
    let spool = tempfile::tempdir().unwrap();
    let mut cfg = config(pg.url(), spool.path());
    cfg.clock = Arc::new(ManualClock::new(T0 + 3_600_000));
    // Large top-N: every talker and service is kept, so the rollups are exact.
    cfg.talkers_per_batch = 1_000_000;
    cfg.services_per_batch = 1_000_000;
    cfg.as_pairs_per_batch = 1_000_000;
    // Every host keeps its feature row, so feature totals are exact too.
    cfg.host_features_per_signal = 1_000_000;
    cfg.writers = 2;
    let stats = Arc::new(StoreStats::default());
    let (store, tx) = Store::start(cfg, Arc::clone(&stats)).unwrap();
    let mut rng = Rng::new(42);
    // 2.5 hours of rows: several minutes and three hours, each touched by several
    // batches, so the upserts merge across batches and writers.
    let rows = random_rows(&mut rng, 6000, 1, T0, 9_000_000);
    for b in batches(7, rows.clone(), 700) {
        tx.send(b).unwrap();
    }
    assert!(wait_until(Duration::from_secs(60), || stats.rows_stored.load(Ordering::Relaxed)
        == rows.len() as u64));
    drop(tx);
    store.shutdown().unwrap();

    let mut c = pg.connect().unwrap();
    let stored = read_flows(&mut c);
    let expected: Vec<StoredRow> = rows.iter().map(StoredRow::expected).collect();
    assert_eq!(stored.len(), expected.len());
    for (s, e) in stored.iter().zip(&expected) {
        assert_eq!(s, e);
    }
    let v6 = rows.iter().filter(|r| matches!(r.record.src_addr, Some(std::net::IpAddr::V6(_)))).count();
    let nulls =
        rows.iter().filter(|r| r.record.src_addr.is_none() || r.record.flow_start_ms.is_none()).count();
    println!("COPY round trip: {} rows equal ({v6} IPv6, {nulls} with NULLs)", stored.len());

    let mut checked = 0;
    for rollup in Rollup::ALL {
        for tier in [Tier::Minute, Tier::Hour] {
            let (diff, n) = rollup_mismatches(&mut c, rollup, tier);
            let table = rollup.table(tier).unwrap();
            assert_eq!(diff, 0, "{table} differs from flows");
            assert!(n > 0, "{table} empty");
            checked += n;
        }
    }
    println!("12 rollup tables equal to aggregates recomputed from flows ({checked} rollup rows)");

    // Exporters: exact flow totals and last seen.
    let bad: i64 = c
        .query_one(
            &format!(
                "SELECT count(*) FROM {EXPORTERS} e FULL JOIN (SELECT exporter, count(*) n, \
               LEAST(sum(bytes::numeric), 9223372036854775807) b, max(time_received) l, min(time_received) f \
               FROM {FLOWS} GROUP BY 1) x USING (exporter) \
             WHERE e.flows IS DISTINCT FROM x.n OR e.bytes IS DISTINCT FROM x.b \
               OR e.last_flow IS DISTINCT FROM x.l OR e.first_seen IS DISTINCT FROM x.f"
            ),
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(bad, 0, "exporters table differs from flows");
    let ids: i64 = c
        .query_one(&format!("SELECT count(*) FROM {INGEST_BATCHES} WHERE instance = 7"), &[])
        .unwrap()
        .get(0);
    assert_eq!(ids, rows.len().div_ceil(700) as i64);

    // Host features (insights): written in the batches' transactions, once each, so
    // their totals are those of the stored flows, per direction.
    let mut q = |sql: &str| -> i64 { c.query_one(sql, &[]).unwrap().get(0) };
    let features_in = q("SELECT COALESCE(sum(flows_in), 0)::bigint FROM host_features");
    let flows_in =
        q(&format!("SELECT sum(GREATEST(sampling_rate, 1))::bigint FROM {FLOWS} WHERE dst_addr IS NOT NULL"));
    let features_out = q("SELECT COALESCE(sum(flows_out), 0)::bigint FROM host_features");
    let flows_out =
        q(&format!("SELECT sum(GREATEST(sampling_rate, 1))::bigint FROM {FLOWS} WHERE src_addr IS NOT NULL"));
    assert_eq!((features_in, features_out), (flows_in, flows_out), "host features differ from flows");
    println!("host features: {features_in} flows in, {features_out} out, equal to the stored flows");
}

#[test]
fn top_talkers_and_services_keep_totals() {
    let pg = PgCluster::start().unwrap();
    let spool = tempfile::tempdir().unwrap();
    let mut cfg = config(pg.url(), spool.path());
    cfg.clock = Arc::new(ManualClock::new(T0 + 600_000));
    cfg.talkers_per_batch = 3;
    cfg.services_per_batch = 2;
    cfg.as_pairs_per_batch = 4;
    let stats = Arc::new(StoreStats::default());
    let (store, tx) = Store::start(cfg, Arc::clone(&stats)).unwrap();
    let mut rng = Rng::new(7);
    let rows = random_rows(&mut rng, 3000, 1, T0, 300_000);
    for b in batches(9, rows.clone(), 500) {
        tx.send(b).unwrap();
    }
    assert!(wait_until(Duration::from_secs(60), || stats.rows_stored.load(Ordering::Relaxed)
        == rows.len() as u64));
    drop(tx);
    store.shutdown().unwrap();
    let mut c = pg.connect().unwrap();
    // Per (bucket, exporter, side), talker bytes (kept + other) add up to the exporter's.
    let bad: i64 = c
        .query_one(
            &format!(
                "SELECT count(*) FROM (SELECT bucket, exporter, side, sum(flows) f, \
               LEAST(sum(bytes), 9223372036854775807) b FROM {TALKER_1M} GROUP BY 1, 2, 3) t \
             JOIN {EXPORTER_1M} e USING (bucket, exporter) WHERE t.f <> e.flows OR t.b <> e.bytes"
            ),
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(bad, 0, "talker totals differ from exporter totals");
    // A kept talker never has more than its true traffic.
    let over: i64 = c
        .query_one(
            &format!("SELECT count(*) FROM {TALKER_1M} t JOIN (SELECT date_trunc('minute', time_received) bucket, \
               exporter, src_addr addr, count(*) n FROM {FLOWS} WHERE src_addr IS NOT NULL GROUP BY 1, 2, 3) x \
             USING (bucket, exporter, addr) WHERE t.side = 0 AND t.flows > x.n"),
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(over, 0);
    let talker_other = Rollup::Talker.is_other();
    let (others, kept): (i64, i64) = {
        let r = c
            .query_one(
                &format!("SELECT count(*) FILTER (WHERE {talker_other}), count(*) FILTER (WHERE NOT ({talker_other})) \
                 FROM {TALKER_1M}"),
                &[],
            )
            .unwrap();
        (r.get(0), r.get(1))
    };
    assert!(others > 0 && kept > 0);
    let svc_bad: i64 = c
        .query_one(
            &format!("SELECT count(*) FROM (SELECT bucket, exporter, proto, sum(flows) f FROM {SERVICE_1M} GROUP BY 1, 2, 3) s \
             JOIN {PROTOCOL_1M} p USING (bucket, exporter, proto) WHERE s.f <> p.flows"),
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(svc_bad, 0, "service totals differ from protocol totals");
    // AS pairs: at most 4 kept per batch and (minute, exporter), the rest in "other",
    // and the totals are the exporter's.
    let as_other = Rollup::As.is_other();
    let (as_bad, as_others): (i64, i64) = {
        let r = c
            .query_one(
                &format!(
                    "SELECT (SELECT count(*) FROM (SELECT bucket, exporter, sum(flows) f, \
                       LEAST(sum(bytes), 9223372036854775807) b FROM {AS_1M} \
                       GROUP BY 1, 2) a JOIN {EXPORTER_1M} e USING (bucket, exporter) WHERE a.f <> e.flows OR a.b <> e.bytes), \
                     (SELECT count(*) FROM {AS_1M} WHERE {as_other})"
                ),
                &[],
            )
            .unwrap();
        (r.get(0), r.get(1))
    };
    assert_eq!(as_bad, 0, "AS pair totals differ from exporter totals");
    assert!(as_others > 0, "no AS pair was folded into 'other'");
    println!(
        "top-N rollups: {kept} talker rows kept, {others} 'other' rows, {as_others} AS 'other' rows; \
         totals equal exporter/protocol rollups"
    );
}

/// Where we stand: rows/s of COPY alone (hand-written encoder vs tokio-postgres's
/// BinaryCopyInWriter) and of the full store path (COPY + rollups + exporters).
#[test]
fn throughput_probe() {
    const N: usize = 200_000;
    let pg = PgCluster::start().unwrap();
    let mut rng = Rng::new(1);
    let rows = random_rows(&mut rng, N, 1, T0, 60_000);

    // 1. COPY alone into an unpartitioned copy of `flows`.
    let spool = tempfile::tempdir().unwrap();
    let cfg = config(pg.url(), spool.path());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let (hand, lib) = rt.block_on(async {
        use futures_util::SinkExt;
        let client = flowvision_collector::store::connect_and_migrate(&cfg).await.unwrap();
        client
            .batch_execute(
                "CREATE TABLE probe_a (LIKE flows); CREATE TABLE probe_b (LIKE flows); \
                 ALTER TABLE probe_b ALTER COLUMN protocol TYPE text",
            )
            .await
            .unwrap();
        let start = Instant::now();
        let sink = client
            .copy_in(
                &flowvision_collector::store::copy::COPY_FLOWS
                    .replace(&format!("COPY {FLOWS}"), "COPY probe_a"),
            )
            .await
            .unwrap();
        futures_util::pin_mut!(sink);
        let mut buf = BytesMut::with_capacity(1 << 20);
        put_header(&mut buf);
        for r in &rows {
            put_row(&mut buf, r);
            if buf.len() > 256 * 1024 {
                sink.send(buf.split().freeze()).await.unwrap();
            }
        }
        put_trailer(&mut buf);
        sink.send(buf.split().freeze()).await.unwrap();
        assert_eq!(sink.as_mut().finish().await.unwrap(), N as u64);
        let hand = N as f64 / start.elapsed().as_secs_f64();

        use std::time::SystemTime;
        use tokio_postgres::binary_copy::BinaryCopyInWriter;
        use tokio_postgres::types::{ToSql, Type};
        let types = [
            Type::TIMESTAMPTZ,
            Type::INT8,
            Type::INT8,
            Type::TIMESTAMPTZ,
            Type::TIMESTAMPTZ,
            Type::INT8,
            Type::INT8,
            Type::INT8,
            Type::INT8,
            Type::INT8,
            Type::INT8,
            Type::INT8,
            Type::INT4,
            Type::INT4,
            Type::INT4,
            Type::INT4,
            Type::TEXT,
            Type::INT2,
            Type::INT2,
            Type::INT2,
            Type::INT2,
            Type::INET,
            Type::INET,
            Type::INET,
            Type::INET,
        ];
        let t = |ms: i64| SystemTime::UNIX_EPOCH + Duration::from_millis(ms as u64);
        let start = Instant::now();
        let sink = client
            .copy_in(
                &flowvision_collector::store::copy::COPY_FLOWS
                    .replace(&format!("COPY {FLOWS}"), "COPY probe_b"),
            )
            .await
            .unwrap();
        let writer = BinaryCopyInWriter::new(sink, &types);
        futures_util::pin_mut!(writer);
        for row in &rows {
            let r = &row.record;
            let v: [&(dyn ToSql + Sync); 25] = [
                &t(row.time_received_ms),
                &(r.bytes.min(i64::MAX as u64) as i64),
                &(r.packets as i64),
                &r.flow_start_ms.map(t),
                &r.flow_end_ms.map(t),
                &i64::from(r.observation_domain),
                &i64::from(r.sequence),
                &i64::from(r.sampling_rate),
                &i64::from(r.in_if),
                &i64::from(r.out_if),
                &i64::from(r.src_as),
                &i64::from(r.dst_as),
                &i32::from(r.src_port),
                &i32::from(r.dst_port),
                &i32::from(r.tcp_flags),
                &i32::from(r.vlan),
                &r.protocol.as_str(),
                &i16::from(r.proto),
                &i16::from(r.tos),
                &i16::from(r.src_mask),
                &i16::from(r.dst_mask),
                &r.exporter,
                &r.src_addr,
                &r.dst_addr,
                &r.next_hop,
            ];
            writer.as_mut().write(&v).await.unwrap();
        }
        assert_eq!(writer.finish().await.unwrap(), N as u64);
        let lib = N as f64 / start.elapsed().as_secs_f64();
        (hand, lib)
    });
    println!("COPY only, {N} rows, 1 connection: hand-written binary {hand:.0} rows/s, BinaryCopyInWriter {lib:.0} rows/s");

    // 2. The store: COPY + rollups + exporters, partitioned table, 1 and 2 writers.
    for writers in [1usize, 2] {
        let spool = tempfile::tempdir().unwrap();
        let mut cfg = config(pg.url(), spool.path());
        cfg.clock = Arc::new(ManualClock::new(T0 + 60_000));
        cfg.writers = writers;
        let stats = Arc::new(StoreStats::default());
        let before: i64 =
            pg.connect().unwrap().query_one(&format!("SELECT count(*) FROM {FLOWS}"), &[]).unwrap().get(0);
        let (store, tx) = Store::start(cfg, Arc::clone(&stats)).unwrap();
        let start = Instant::now();
        for (i, b) in batches(100 + writers as u64, rows.clone(), 10_000).into_iter().enumerate() {
            let _ = i;
            tx.send(b).unwrap();
        }
        assert!(
            wait_until(Duration::from_secs(300), || stats.rows_stored.load(Ordering::Relaxed) == N as u64)
        );
        let rate = N as f64 / start.elapsed().as_secs_f64();
        drop(tx);
        store.shutdown().unwrap();
        let after: i64 =
            pg.connect().unwrap().query_one(&format!("SELECT count(*) FROM {FLOWS}"), &[]).unwrap().get(0);
        assert_eq!(after - before, N as i64);
        let batches_n = stats.batches_stored.load(Ordering::Relaxed).max(1);
        println!(
            "store (COPY + 12 rollups + exporters), {N} rows in batches of 10000, {writers} writer(s): {rate:.0} rows/s, \
             mean commit {} ms",
            stats.commit_latency_us_total.load(Ordering::Relaxed) / batches_n / 1000
        );
    }
}
