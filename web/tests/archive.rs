//! The archive in the console, against a real S3-compatible server (`rclone serve
//! s3`) and a real PostgreSQL: rows stored by the collector's store (clock in 2024),
//! archived by the archive crate, dropped by retention; then as admin the archive page
//! and `GET /api/v1/archive` show the partitions, the store as read (never the secret)
//! and blocked retention; a restore brings the rows back, flow search and statistics
//! find them marked as restored, and removing it takes them away. Other roles are
//! refused everything of it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use common::*;
use flowvision_archive::{ArchiveConfig, ArchiveStats, Archiver};
use flowvision_collector::store::{Batch, BatchId, FlowRow, ManualClock, Store, StoreConfig, StoreStats};
use flowvision_tests::s3::{S3Server, SECRET_KEY};
use rocket::http::Status;
use serde_json::json;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// 2024-02-29T12:30:00Z.
const T0: i64 = 1_709_209_800_000;
const DAY: i64 = 86_400_000;

/// Stores rows with the store's clock at `clock_ms`; with `gate`, retention drops
/// archived partitions only.
fn store_at(url: &str, clock_ms: i64, rows: &[FlowRow], gate: bool) {
    let spool = tempfile::tempdir().unwrap();
    let mut cfg = StoreConfig::new(url, spool.path());
    cfg.clock = Arc::new(ManualClock::new(clock_ms));
    cfg.archive_gate = gate;
    cfg.maintenance_interval = Duration::from_secs(3600);
    let stats = Arc::new(StoreStats::default());
    let (store, tx) = Store::start(cfg, Arc::clone(&stats)).unwrap();
    for (i, chunk) in rows.chunks(100).enumerate() {
        tx.send(Batch {
            id: BatchId { instance: 99 + clock_ms as u64, seq: i as u64 },
            rows: chunk.to_vec(),
        })
        .unwrap();
    }
    let end = Instant::now() + Duration::from_secs(60);
    while stats.rows_stored.load(Ordering::Relaxed) < rows.len() as u64 {
        assert!(Instant::now() < end, "rows not stored");
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(tx);
    store.shutdown().unwrap();
}

fn archive_config(s3: &S3Server) -> ArchiveConfig {
    let env = s3.env();
    ArchiveConfig::from_lookup(&|k| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()))
        .unwrap()
        .unwrap()
}

#[test]
fn archive_page_restore_and_search() {
    let s3 = S3Server::start().unwrap();
    let cfg = archive_config(&s3);
    let web = Web::start_with(|c| c.archive = Some(cfg.clone()));
    let url = web.pg.url().to_string();

    // Rows of 2024 (closed partitions), archived by the archive crate.
    let rows = dataset(T0);
    store_at(&url, T0, &rows, false);
    let work = tempfile::tempdir().unwrap();
    let archiver =
        Archiver::new(cfg.clone(), work.path().to_path_buf(), Arc::new(ArchiveStats::default())).unwrap();
    let rt = rocket::tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let report = rt.block_on(async {
        let mut c = flowvision_archive::archiver::connect(&url, "test").await.unwrap();
        flowvision_archive::catalog::record_store(&c, &cfg, "test-collector").await.unwrap();
        archiver.run_once(&mut c, now_ms(), now_ms() - 7 * DAY, true).await.unwrap()
    });
    assert_eq!(report.rows as usize, rows.len(), "{report:?}");
    // Retention 8 days later drops them (archived); rows of another day, stored now,
    // are not archived: retention is blocked for them.
    // (The store's first maintenance round, at start, already applies retention.)
    store_at(&url, T0 + 8 * DAY, &[], true);
    let mut db = web.pg.connect().unwrap();
    let left: i64 = db
        .query_one(
            "SELECT count(*) FROM pg_class WHERE relname IN ('flows_h2024022911', 'flows_h2024022912')",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(left, 0, "archived partitions dropped by retention");
    let mut late = dataset(T0 - 3 * DAY);
    late.truncate(10);
    store_at(&url, T0 - 3 * DAY, &late, false);

    let admin = web.login(ADMIN, ADMIN_PW);
    let (_, viewer) = web.user(&admin, "viewer1", "viewer", &["0.0.0.0/0", "::/0"], &[]);
    let (_, operator) = web.user(&admin, "operator1", "operator", &["0.0.0.0/0", "::/0"], &[]);

    // The overview.
    let o = web.json("/api/v1/archive", &admin);
    assert_eq!(o["enabled"], true);
    assert_eq!(o["store"]["bucket"], flowvision_tests::s3::BUCKET);
    assert_eq!(o["store"]["access_key_id"], flowvision_tests::s3::ACCESS_KEY);
    assert!(!o.to_string().contains(SECRET_KEY));
    assert_eq!(o["summary"]["rows"].as_u64().unwrap() as usize, rows.len());
    // The late rows' partition, and the empty ones created ahead around it and after
    // T0 + 8 days: all past retention, none archived.
    assert!(o["retention"]["blocked_partitions"].as_u64().unwrap() >= 1, "{}", o["retention"]);
    assert!(o["retention"]["blocked_bytes"].as_u64().unwrap() > 0);
    assert!(o["retention"]["warning"].as_str().unwrap().contains("Retention is blocked"));
    let page = web.get("/archive", Some(&admin));
    assert_eq!(page.status, Status::Ok);
    assert!(page.body.contains("data-partition=\"flows_h2024022912\"") && page.body.contains("never shown"));
    assert!(page.body.contains("archive-warning") && !page.body.contains(SECRET_KEY));

    // Other roles: refused.
    for s in [&viewer, &operator] {
        assert_eq!(web.get("/api/v1/archive", Some(s)).status, Status::Forbidden);
        assert_eq!(web.get("/archive", Some(s)).status, Status::Forbidden);
        let r = web.api(
            "POST",
            "/api/v1/archive/restores",
            Cred::Session(s),
            Some(json!({"from": "2024-02-29", "to": "2024-03-01"})),
        );
        assert_eq!(r.status, Status::Forbidden);
    }

    // Nothing is searchable before the restore; after it, every row, marked restored.
    let (from, to) = ("2024-02-29T11:00:00Z", "2024-02-29T13:00:00Z");
    let search = format!("/api/v1/flows?from={from}&to={to}&page_size=1000");
    assert_eq!(web.json(&search, &admin)["rows"].as_array().unwrap().len(), 0);
    let r = web.api(
        "POST",
        "/api/v1/archive/restores",
        Cred::Session(&admin),
        Some(json!({"from": from, "to": to})),
    );
    assert_eq!(r.status, Status::Created, "{}", r.body);
    let restore = r.json();
    assert_eq!(restore["rows"].as_u64().unwrap() as usize, rows.len());
    let found = web.json(&search, &admin);
    let found = found["rows"].as_array().unwrap();
    assert_eq!(found.len(), rows.len());
    assert!(found.iter().all(|r| r["restored"] == true));
    let bytes: i64 = found.iter().map(|r| r["bytes"].as_i64().unwrap()).sum();
    assert_eq!(bytes, rows.iter().map(|r| r.record.bytes as i64).sum::<i64>());
    let stats = web.json(&format!("/api/v1/stats?key=srcip&order=flows&from={from}&to={to}"), &admin);
    assert_eq!(stats["total"]["flows"].as_u64().unwrap() as usize, rows.len(), "{stats}");
    // A viewer's search still passes their role check (viewers cannot search at all).
    assert_eq!(web.get(&search, Some(&viewer)).status, Status::Forbidden);

    // Removed again.
    let id = restore["id"].as_i64().unwrap();
    let r = web.api("DELETE", &format!("/api/v1/archive/restores/{id}"), Cred::Session(&admin), None);
    assert_eq!(r.status, Status::Ok, "{}", r.body);
    assert_eq!(r.json()["removed_rows"].as_u64().unwrap() as usize, rows.len());
    assert_eq!(web.json(&search, &admin)["rows"].as_array().unwrap().len(), 0);
    let r = web.api("DELETE", &format!("/api/v1/archive/restores/{id}"), Cred::Session(&admin), None);
    assert_eq!(r.status, Status::Ok, "removing twice finds the removed restore");
    assert_eq!(
        web.api("DELETE", "/api/v1/archive/restores/999999", Cred::Session(&admin), None).status,
        Status::NotFound
    );
    // Bad ranges are refused with a reason.
    let r = web.api(
        "POST",
        "/api/v1/archive/restores",
        Cred::Session(&admin),
        Some(json!({"from": "yesterday", "to": to})),
    );
    assert_eq!(r.status, Status::BadRequest);
}
