//! The archive when things go wrong, against a real S3-compatible server (`rclone
//! serve s3`, reached through a throttling TCP relay of the test, so an upload takes
//! seconds and can be cut in the middle), a real PostgreSQL and the real binaries. In every case nothing is dropped, the failure is visible (exit status, the
//! catalog's reason, `/metrics`), and the archive completes once the cause is gone:
//!
//! - a wrong secret key (refused; the secret appears in no output);
//! - a refusing bucket (the server cannot store under the archive's prefix);
//! - the server stopped in the middle of an upload;
//! - the `archive run` process killed in the middle of a run: the next run resumes, and
//!   the bucket holds exactly the catalog's objects, no duplicates;
//! - the daemon: the archive thread counts failures by reason on `/metrics` while the
//!   server is down, retries with backoff, and archives once it is back.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod archive_common;
mod daemon_common;
mod store_common;

use archive_common::*;
use daemon_common::{family_sum, Collector};
use flowvision_collector::store::{ManualClock, Store, StoreStats};
use flowvision_tests::pg::PgCluster;
use flowvision_tests::postgres;
use flowvision_tests::s3::{S3Server, SECRET_KEY};
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use store_common::*;

const HOUR: i64 = 3_600_000;
/// 2024-02-29T12:00:00Z.
const T0: i64 = 1_709_208_000_000;

/// Stores `per_hour` random rows in each of the `hours` hours before T0 through the
/// collector's store; returns the number of rows.
fn seed(url: &str, hours: i64, per_hour: usize) -> i64 {
    let spool = tempfile::tempdir().unwrap();
    let mut cfg = config(url, spool.path());
    cfg.clock = Arc::new(ManualClock::new(T0));
    let stats = Arc::new(StoreStats::default());
    let (store, tx) = Store::start(cfg, Arc::clone(&stats)).unwrap();
    let mut rng = Rng::new(5);
    let mut rows = Vec::new();
    for h in 0..hours {
        rows.extend(random_rows(&mut rng, per_hour, (h as u32) * per_hour as u32, T0 - (h + 1) * HOUR, HOUR));
    }
    let n = rows.len();
    for b in batches(3, rows, 10_000) {
        tx.send(b).unwrap();
    }
    assert!(wait_until(Duration::from_secs(120), || stats.rows_stored.load(Ordering::Relaxed) == n as u64));
    drop(tx);
    store.shutdown().unwrap();
    n as i64
}

fn query_i64(c: &mut postgres::Client, sql: &str) -> i64 {
    c.query_one(sql, &[]).unwrap().get(0)
}

fn failed_with(c: &mut postgres::Client) -> Vec<(String, String)> {
    c.query("SELECT partition, coalesce(last_error, '') FROM archive_partitions WHERE status = 'failed' ORDER BY 1", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

fn with(env: &[(String, String)], name: &str, value: &str) -> Vec<(String, String)> {
    let mut e: Vec<(String, String)> = env.iter().filter(|(k, _)| k != name).cloned().collect();
    e.push((name.to_string(), value.to_string()));
    e
}

fn spawn_run(env: &[(String, String)]) -> std::process::Child {
    Command::new(BIN)
        .args(["archive", "run"])
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// A TCP relay in front of the S3 server: requests pass at `rate` bytes/s, so an
/// upload takes seconds; [`Relay::cut`] closes every connection and refuses new ones
/// (the store going away), and it counts the bytes of part uploads (`PUT`s) seen.
struct Relay {
    port: u16,
    cut: Arc<std::sync::atomic::AtomicBool>,
    put_bytes: Arc<std::sync::atomic::AtomicU64>,
}

impl Relay {
    fn start(upstream: u16, rate: u64) -> Relay {
        use std::net::{TcpListener, TcpStream};
        use std::sync::atomic::{AtomicBool, AtomicU64};
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let cut = Arc::new(AtomicBool::new(false));
        let put_bytes = Arc::new(AtomicU64::new(0));
        let (cut2, put2) = (Arc::clone(&cut), Arc::clone(&put_bytes));
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                if cut2.load(Ordering::SeqCst) {
                    continue; // dropped: connection closed at once
                }
                let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else { continue };
                let (c_in, s_out) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                let (cut_a, put_a, cut_b) = (Arc::clone(&cut2), Arc::clone(&put2), Arc::clone(&cut2));
                // Requests throttled and counted; answers as they come.
                std::thread::spawn(move || pump(c_in, s_out, &cut_a, Some((&put_a, rate))));
                std::thread::spawn(move || pump(server, client, &cut_b, None));
            }
        });
        Relay { port, cut, put_bytes }
    }

    fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
    }

    fn endpoint(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

/// Copies `from` to `to` until either closes or the relay is cut; with `throttle`,
/// at most `rate` bytes/s, counting the bytes of `PUT` requests.
fn pump(
    mut from: std::net::TcpStream,
    mut to: std::net::TcpStream,
    cut: &std::sync::atomic::AtomicBool,
    throttle: Option<(&std::sync::atomic::AtomicU64, u64)>,
) {
    use std::io::{Read, Write};
    let mut buf = [0u8; 8192];
    let mut in_put = false;
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if let Some((put_bytes, rate)) = throttle {
            let head = &buf[..n];
            if head.starts_with(b"PUT ") {
                in_put = true;
            } else if [&b"GET "[..], b"POST ", b"HEAD ", b"DELETE "].iter().any(|m| head.starts_with(m)) {
                in_put = false;
            }
            if in_put {
                put_bytes.fetch_add(n as u64, Ordering::SeqCst);
            }
            std::thread::sleep(Duration::from_micros(n as u64 * 1_000_000 / rate));
        }
        if cut.load(Ordering::SeqCst) || to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = from.shutdown(std::net::Shutdown::Both);
    let _ = to.shutdown(std::net::Shutdown::Both);
}

fn wait_for(timeout: Duration, what: &str, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + timeout;
    while !f() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn failures_are_visible_and_the_archive_completes() {
    let pg = PgCluster::start().unwrap();
    let rows = seed(pg.url(), 3, 15_000);
    let mut c = pg.connect().unwrap();
    let mut s3 = S3Server::start_with(&["--dir-cache-time", "100ms"]).unwrap();
    let state = tempfile::tempdir().unwrap();
    let direct = archive_env(pg.url(), &s3, state.path());
    // ~0.7 MB per hour's object; at 250 kB/s an upload lasts about 3 s.
    let relay = Relay::start(s3.endpoint().rsplit(':').next().unwrap().parse().unwrap(), 250_000);
    let env = with(&direct, "MINIO_ENDPOINT", &relay.endpoint());
    let partitions_with_rows = 3;

    // 1. Wrong secret: refused, reason recorded, the secret in no output.
    let wrong = with(&env, "MINIO_SECRET_KEY", "not-the-secret-key");
    let out = cli(&["run"], &wrong);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let failed = failed_with(&mut c);
    assert_eq!(failed.len(), partitions_with_rows, "{failed:?}");
    let text =
        format!("{failed:?}{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!text.contains("not-the-secret-key") && !text.contains(SECRET_KEY), "{text}");
    assert!(failed.iter().all(|(_, e)| e.contains("object store")), "{failed:?}");
    assert!(s3.objects().is_empty(), "nothing stored with a wrong secret: {:?}", s3.objects());
    println!("wrong secret: {}", failed[0].1);

    // 2. A bucket that refuses (it cannot store under the archive's prefix).
    std::fs::write(s3.bucket_dir().join("flows"), b"in the way").unwrap();
    let out = cli(&["run"], &env);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let failed = failed_with(&mut c);
    assert_eq!(failed.len(), partitions_with_rows, "{failed:?}");
    println!("refusing bucket: {}", failed[0].1);
    std::fs::remove_file(s3.bucket_dir().join("flows")).unwrap();

    // 3. The server stopped in the middle of an upload: once 100 kB of a part went
    // through, the relay cuts every connection and the server stops.
    let mut run = spawn_run(&env);
    wait_for(Duration::from_secs(120), "a part upload in progress", || {
        relay.put_bytes.load(Ordering::SeqCst) > 100_000
    });
    relay.cut();
    s3.stop();
    let status = run.wait().unwrap();
    let mut stderr = String::new();
    std::io::Read::read_to_string(run.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert_eq!(
        query_i64(&mut c, "SELECT count(*) FROM archive_partitions WHERE status = 'archived' AND rows > 0"),
        0
    );
    let failed = failed_with(&mut c);
    // A request of a started multipart upload failed (a part's PUT, or aborting it):
    // the server went away in the middle of the upload.
    assert!(failed.iter().any(|(_, e)| e.contains("uploadId=")), "{failed:#?}");
    println!("server stopped during the upload: {failed:#?}");
    s3.resume().unwrap();
    // The rest goes through a fresh relay (same throttle) to the restarted server.
    let relay = Relay::start(s3.endpoint().rsplit(':').next().unwrap().parse().unwrap(), 250_000);
    let env = with(&direct, "MINIO_ENDPOINT", &relay.endpoint());

    // 4. `archive run` killed after its first verified object: the next run resumes.
    let mut run = spawn_run(&env);
    wait_for(Duration::from_secs(120), "a first verified object", || {
        query_i64(&mut c, "SELECT count(*) FROM archive_objects") >= 1
    });
    run.kill().unwrap();
    run.wait().unwrap();
    let done_before = query_i64(&mut c, "SELECT count(*) FROM archive_objects");
    assert!(done_before < partitions_with_rows as i64, "killed before the end");
    let out = cli(&["run"], &env);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let keys: Vec<String> = c
        .query("SELECT object_key FROM archive_objects ORDER BY 1", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(keys.len(), partitions_with_rows);
    assert_eq!(s3.objects(), keys, "the bucket holds exactly the catalog's objects");
    let (headers, archived) = pyarrow_read(&s3.bucket_dir());
    assert_eq!(headers.len(), partitions_with_rows);
    assert_eq!(archived.len() as i64, rows, "every row once");
    assert_eq!(archived, canonical(&mut c, "flows", "true"));
    assert!(failed_with(&mut c).is_empty());
    println!(
        "killed after {done_before} object(s); resumed: {} objects ({:?} bytes), {rows} rows, no duplicates",
        keys.len(),
        headers.iter().map(|h| h["bytes"].clone()).collect::<Vec<_>>()
    );
}

#[test]
fn the_daemon_retries_and_counts_failures() {
    let pg = PgCluster::start().unwrap();
    seed(pg.url(), 2, 5_000);
    let mut s3 = S3Server::start().unwrap();
    s3.stop();
    let state = tempfile::tempdir().unwrap();
    let env = archive_env(pg.url(), &s3, state.path());
    let mut env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    env.extend([
        ("ARCHIVE_INTERVAL_SECONDS", "1"),
        ("ARCHIVE_GRACE_SECONDS", "0"),
        ("ARCHIVE_RETRY_MIN_SECONDS", "1"),
        ("ARCHIVE_RETRY_MAX_SECONDS", "2"),
        ("ARCHIVE_REQUEST_TIMEOUT_SECONDS", "5"),
    ]);
    let collector = Collector::start(pg.url(), state.path(), None, &env);
    collector.wait_metrics(Duration::from_secs(60), "archive failures while the store is down", |m| {
        family_sum(m, "flowvision_archive_failures_total") >= 2
            && m.get("flowvision_archive_pending_partitions").copied().unwrap_or(0) >= 2
    });
    let m = collector.metrics();
    println!(
        "store down: failures {:?}",
        m.iter()
            .filter(|(k, v)| k.starts_with("flowvision_archive_failures_total") && **v > 0)
            .collect::<Vec<_>>()
    );
    let mut c = pg.connect().unwrap();
    assert!(failed_with(&mut c).len() >= 2);
    s3.resume().unwrap();
    collector.wait_metrics(Duration::from_secs(60), "the archive once the store is back", |m| {
        m.get("flowvision_archive_objects_total").copied().unwrap_or(0) == 2
            && m.get("flowvision_archive_pending_partitions").copied() == Some(0)
    });
    assert_eq!(
        query_i64(&mut c, "SELECT count(*) FROM archive_partitions WHERE status = 'archived' AND rows > 0"),
        2
    );
    let store: (String, String) = {
        let r = c.query_one("SELECT bucket, access_key_id FROM archive_store", &[]).unwrap();
        (r.get(0), r.get(1))
    };
    assert_eq!(store.0, flowvision_tests::s3::BUCKET);
    assert!(!collector.log_text().contains(SECRET_KEY));
    assert_eq!(collector.terminate(), 0);
}
