//! The flow archive against a real S3-compatible server (`rclone serve s3`), a real
//! PostgreSQL and the real `flowvision-collector archive` command:
//!
//! - every fixture capture decoded and stored by the collector's store (its clock in
//!   2024, so the partitions are closed) is archived as Parquet; pyarrow, reading the
//!   bucket's files directly, finds the same rows, column for column, as the partitions
//!   held, zstd-compressed, with the schema version and row counts in the metadata;
//! - retention drops only archived partitions; a partition that got rows after it was
//!   archived (a spool replay) is marked stale and kept until archived again;
//! - a restore brings the rows of a range back into `flows_restored` (the same rows),
//!   `flows_searchable` shows them as restored, and removing the restore takes them out.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod archive_common;
mod store_common;

use archive_common::*;
use flowvision_codec::offline::OfflineDecoder;
use flowvision_codec::{DecodeOutput, TemplateCacheConfig};
use flowvision_collector::store::{Batch, BatchId, FlowRow, ManualClock, Store, StoreStats};
use flowvision_schema::tables::{FLOWS, FLOWS_RESTORED};
use flowvision_tests::pg::PgCluster;
use flowvision_tests::s3::S3Server;
use serde_json::Value;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use store_common::*;

const HOUR: i64 = 3_600_000;
const DAY: i64 = 86_400_000;
/// 2024-02-29T12:00:00Z.
const T0: i64 = 1_709_208_000_000;

/// Every record of every fixture capture, decoded as the collector does.
fn fixture_records() -> (usize, Vec<flowvision_codec::FlowRecord>) {
    let files = flowvision_tests::fixtures::capture_files().unwrap();
    let mut records = Vec::new();
    for f in &files {
        let mut d = OfflineDecoder::new(TemplateCacheConfig::default());
        let mut out = DecodeOutput::default();
        for (i, dg) in flowvision_tests::replay::read_capture(f).unwrap_or_default().iter().enumerate() {
            out.records.clear();
            let _ = d.decode(dg.source, &dg.payload, T0 + i as i64, &mut out);
            records.extend(out.records.iter().copied());
        }
    }
    (files.len(), records)
}

#[test]
fn archive_verify_retention_and_restore() {
    let pg = PgCluster::start().unwrap();
    let s3 = S3Server::start().unwrap();
    let state = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let mut cfg = config(pg.url(), &state.path().join("spool"));
    cfg.clock = clock.clone();
    cfg.retention_days = 7;
    cfg.archive_gate = true;
    cfg.maintenance_interval = Duration::from_secs(3600); // only when asked
    let stats = Arc::new(StoreStats::default());
    let (store, tx) = Store::start(cfg, Arc::clone(&stats)).unwrap();
    let mut c = pg.connect().unwrap();

    // The captures' records, received over the three hours before T0.
    let (files, records) = fixture_records();
    assert!(records.len() > 1000, "{} records from {files} captures", records.len());
    let n = records.len() as i64;
    let rows: Vec<FlowRow> = records
        .into_iter()
        .enumerate()
        .map(|(i, record)| FlowRow { time_received_ms: T0 - 3 * HOUR + (i as i64 * 3 * HOUR) / n, record })
        .collect();
    for (seq, chunk) in rows.chunks(5000).enumerate() {
        tx.send(Batch { id: BatchId { instance: 7, seq: seq as u64 }, rows: chunk.to_vec() }).unwrap();
    }
    assert!(wait_until(Duration::from_secs(120), || stats.rows_stored.load(Ordering::Relaxed) == n as u64));
    let before = canonical(&mut c, FLOWS, "true");
    assert_eq!(before.len() as i64, n);
    println!("{n} records from {files} fixture captures stored in {:?}", partitions_of(&mut c));

    // `archive run` archives every closed partition (all of 2024 is closed). Two at
    // once, as two collectors sharing a database would: each partition is archived by
    // one of them (advisory lock), both succeed, nothing is written twice.
    let env = archive_env(pg.url(), &s3, state.path());
    let other_state = tempfile::tempdir().unwrap();
    let other_env = archive_env(pg.url(), &s3, other_state.path());
    let other = std::thread::spawn(move || cli(&["run"], &other_env));
    let out = cli(&["run"], &env);
    let other = other.join().unwrap();
    assert!(other.status.success(), "second archive run: {}", String::from_utf8_lossy(&other.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "archive run: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains(flowvision_tests::s3::SECRET_KEY)
            && !stdout.contains(flowvision_tests::s3::SECRET_KEY)
    );

    // Independent reader: the same rows, column for column; zstd; metadata.
    let (headers, archived) = pyarrow_read(&s3.bucket_dir());
    assert_eq!(headers.len(), 3, "one object per hour with rows: {headers:#?}");
    let uploads: i64 = c.query_one("SELECT count(*) FROM archive_objects", &[]).unwrap().get(0);
    assert_eq!(uploads, 3);
    let most: i32 = c.query_one("SELECT max(attempts) FROM archive_partitions", &[]).unwrap().get(0);
    assert_eq!(most, 1, "each partition archived once, by one of the two");
    for h in &headers {
        assert_eq!(h["codecs"], serde_json::json!(["ZSTD"]), "{h}");
        assert_eq!(h["metadata"]["flowvision.schema_version"], "1");
        assert_eq!(h["metadata"]["flowvision.rows"], h["rows"].to_string());
        let key = h["object"].as_str().unwrap();
        assert!(key.starts_with("flows/date=2024-02-29/hour="), "{key}");
        assert_eq!(h["columns"].as_array().unwrap().len(), 25);
        // Row groups of ARCHIVE_ROW_GROUP_ROWS, each in (exporter, time) order and
        // declaring it.
        let groups = h["row_groups"].as_i64().unwrap();
        assert_eq!(groups, (h["rows"].as_i64().unwrap() + 9_999) / 10_000, "{h}");
        assert_eq!(h["sorted_row_groups"], groups, "{h}");
        assert_eq!(h["sorting_columns"], serde_json::json!(["exporter", "time_received"]), "{h}");
    }
    assert_eq!(archived.len(), before.len());
    assert!(archived == before, "archived rows differ from the partitions' rows");
    println!(
        "pyarrow read {} rows from {} objects: identical to the partitions",
        archived.len(),
        headers.len()
    );

    // The catalog (`archive list --json`) agrees.
    let out = cli(&["list", "--json", "--objects"], &env);
    assert!(out.status.success());
    let listed: Vec<Value> =
        String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let with_rows: Vec<&Value> = listed.iter().filter(|p| p["rows"].as_i64().unwrap_or(0) > 0).collect();
    assert_eq!(with_rows.len(), 3, "{listed:#?}");
    assert!(listed.iter().all(|p| p["status"] == "archived"), "{listed:#?}");
    assert_eq!(with_rows.iter().map(|p| p["rows"].as_i64().unwrap()).sum::<i64>(), n);

    // A row replayed into an archived partition (the hour starting at T0-1h) makes it
    // stale: retention keeps it until it is archived again.
    let late = FlowRow { time_received_ms: T0 - HOUR + 1234, record: rows[0].record };
    tx.send(Batch { id: BatchId { instance: 7, seq: 10_000 }, rows: vec![late] }).unwrap();
    assert!(wait_until(Duration::from_secs(30), || stats.rows_stored.load(Ordering::Relaxed) == n as u64 + 1));
    let stale = "flows_h2024022911";
    clock.advance(8 * DAY);
    let report = store.run_maintenance().unwrap();
    for p in ["flows_h2024022909", "flows_h2024022910"] {
        assert!(report.dropped.contains(&p.to_string()), "{p} archived, expired, dropped: {report:?}");
    }
    assert!(!report.dropped.contains(&stale.to_string()), "{report:?}");
    assert_eq!(catalog_status(&mut c, stale).as_deref(), Some("stale"));
    // Partitions created ahead at T0 and after (nothing archived yet for the later
    // ones) stay while not archived.
    assert!(partitions_of(&mut c).contains(&stale.to_string()));
    let out = cli(&["run"], &env);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(catalog_status(&mut c, stale).as_deref(), Some("archived"));
    let report = store.run_maintenance().unwrap();
    assert!(report.dropped.contains(&stale.to_string()), "{report:?}");
    let count: i64 = c.query_one(&format!("SELECT count(*) FROM {FLOWS}"), &[]).unwrap().get(0);
    assert_eq!(count, 0, "every archived partition dropped by retention");
    let (headers, archived_now) = pyarrow_read(&s3.bucket_dir());
    assert_eq!(headers.len(), 3, "the stale hour was replaced, not duplicated: {headers:#?}");
    assert_eq!(archived_now.len(), before.len() + 1);

    // Restore [T0-3h, T0-1h30m): exactly the rows received then.
    let (from, to) = ("2024-02-29T09:00:00Z", "2024-02-29T10:30:00Z");
    let out = cli(&["restore", "--from", from, "--to", to], &env);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let cond = format!("time_received >= '{from}' AND time_received < '{to}'");
    let expected: Vec<Value> = {
        let (lo, hi) = ((T0 - 3 * HOUR) * 1000, (T0 - 90 * 60_000) * 1000);
        before
            .iter()
            .filter(|r| {
                let t: i64 = r[0].as_str().unwrap().parse().unwrap();
                (lo..hi).contains(&t)
            })
            .cloned()
            .collect()
    };
    assert!(!expected.is_empty());
    let restored = canonical(&mut c, FLOWS_RESTORED, &cond);
    assert_eq!(restored.len(), expected.len());
    assert!(restored == expected, "restored rows differ from the archived ones");
    let marked: i64 = c
        .query_one(&format!("SELECT count(*) FROM flows_searchable WHERE restored AND {cond}"), &[])
        .unwrap()
        .get(0);
    assert_eq!(marked as usize, expected.len());
    println!("restored {} rows of {from}..{to}, equal to the archived ones", restored.len());

    // And removable again.
    let out = cli(&["restores", "--json"], &env);
    let first: Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().next().unwrap()).unwrap();
    assert_eq!(first["status"], "done");
    assert_eq!(first["rows"].as_u64().unwrap() as usize, expected.len());
    let id = first["id"].as_i64().unwrap().to_string();
    let out = cli(&["unrestore", &id], &env);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let left: i64 = c.query_one(&format!("SELECT count(*) FROM {FLOWS_RESTORED}"), &[]).unwrap().get(0);
    assert_eq!(left, 0);

    drop(tx);
    store.shutdown().unwrap();
}
