//! End-to-end: the real collector binary, real UDP, a real PostgreSQL.
//!
//! - fixture captures replayed from distinct exporters land in `flows` exactly as the
//!   offline decoder reads them (count, bytes, packets, 5-tuples);
//! - PostgreSQL stopped for 30 s mid-stream: every flow stored once, none twice;
//! - SIGTERM mid-stream: everything received is stored;
//! - a restart between a template and its data: the data still decodes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod daemon_common;

use daemon_common::{family_sum, Collector};
use flowvision_codec::encode::{TemplateEncoder, TemplateEncoderConfig};
use flowvision_codec::{DecodeOutput, Decoder, FlowRecord, Protocol, TemplateCacheConfig};
use flowvision_schema::tables::FLOWS;
use flowvision_tests::fixtures::{capture_files, row_of, stored_rows, Row};
use flowvision_tests::pg::PgCluster;
use flowvision_tests::replay::{read_capture, Captured, Replayer};
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

#[test]
fn fixture_replay_lands_in_flows_as_decode_reads_it() {
    let files = capture_files().unwrap();
    let pg = PgCluster::start().unwrap();
    let state = tempfile::tempdir().unwrap();
    let collector = Collector::start(pg.url(), state.path(), None, &[]);
    let target = collector.target();

    // Each (file, original exporter) gets its own loopback source, so templates of
    // unrelated captures can never meet; the offline reference decodes the same
    // datagrams in the same order with the same exporter addresses.
    let offline = Decoder::new(TemplateCacheConfig::default());
    let mut out = DecodeOutput::default();
    let mut expected: BTreeMap<Row, usize> = BTreeMap::new();
    let mut sent = 0u64;
    let mut next_base = u32::from(Ipv4Addr::new(127, 10, 0, 0));
    for file in &files {
        let datagrams: Vec<Captured> = read_capture(file).unwrap();
        let mut replayer = Replayer::new(Ipv4Addr::from(next_base), 4000);
        let mut mapped = Vec::with_capacity(datagrams.len());
        for d in &datagrams {
            let src = replayer.source_for(d.source).unwrap();
            mapped.push(Captured { source: src, payload: d.payload.clone() });
        }
        next_base += 256;
        let now = now_ms();
        for d in &mapped {
            out.clear();
            let _ = offline.decode(d.source, &d.payload, now, &mut out);
            for r in &out.records {
                *expected.entry(row_of(r)).or_default() += 1;
            }
        }
        sent += replayer.send(&datagrams, target).unwrap() as u64;
    }
    let expected_rows: usize = expected.values().sum();
    collector.wait_metrics(Duration::from_secs(120), "every row stored", |m| {
        m.get("flowvision_datagrams_received_total").copied() == Some(sent)
            && m.get("flowvision_store_rows_stored_total").copied() == Some(expected_rows as u64)
    });
    let m = collector.metrics();
    assert_eq!(m["flowvision_kernel_drops_total"], 0);
    assert_eq!(m["flowvision_rows_queued_total"], expected_rows as u64);
    let mut db = pg.connect().unwrap();
    let stored = stored_rows(&mut db).unwrap();
    let missing: Vec<_> = expected.iter().filter(|(k, n)| stored.get(*k) != Some(n)).take(5).collect();
    assert!(missing.is_empty(), "rows differ from the offline decode, e.g. {missing:?}");
    assert_eq!(stored, expected);
    println!(
        "replayed {} captures: {sent} datagrams, {expected_rows} flow rows stored exactly as decoded offline ({} undecodable datagrams counted)",
        files.len(),
        family_sum(&m, "flowvision_datagrams_undecodable_total")
    );
    assert_eq!(collector.terminate(), 0);
}

/// `n` unique IPv4 records: `bytes` is the identity.
fn unique_records(n: u64, base: u64) -> Vec<FlowRecord> {
    (0..n)
        .map(|i| {
            let mut r = FlowRecord::new(Protocol::Ipfix, IpAddr::V4(Ipv4Addr::LOCALHOST));
            r.src_addr = Some(IpAddr::V4(Ipv4Addr::from(0x0a00_0000 | (i as u32 & 0xffff))));
            r.dst_addr = Some(IpAddr::V4(Ipv4Addr::new(198, 51, 100, (i % 250) as u8)));
            r.src_port = 1024 + (i % 60000) as u16;
            r.dst_port = 443;
            r.proto = 6;
            r.packets = 1 + i % 7;
            r.bytes = base + i;
            r.flow_start_ms = Some(now_ms() - 2000);
            r.flow_end_ms = Some(now_ms() - 1000);
            r
        })
        .collect()
}

/// Encodes records as IPFIX datagrams (templates refreshed every 10 datagrams).
fn ipfix_datagrams(records: &[FlowRecord], domain: u32) -> Vec<Vec<u8>> {
    let mut cfg = TemplateEncoderConfig::new(Protocol::Ipfix, domain);
    cfg.template_refresh_datagrams = 10;
    let mut enc = TemplateEncoder::new(cfg);
    let mut out = Vec::new();
    enc.encode(now_ms(), 0, records, |d| out.push(d.to_vec()));
    out
}

/// Sends datagrams from one source at `per_sec`, counting them, until done or `stop`.
fn pace(datagrams: &[Vec<u8>], target: SocketAddr, per_sec: f64, sent: &AtomicU64, stop: &AtomicBool) {
    let socket = UdpSocket::bind("127.0.0.2:0").unwrap();
    let start = Instant::now();
    for (i, d) in datagrams.iter().enumerate() {
        if stop.load(Ordering::Acquire) {
            return;
        }
        socket.send_to(d, target).unwrap();
        sent.fetch_add(1, Ordering::AcqRel);
        let due = start + Duration::from_secs_f64((i + 1) as f64 / per_sec);
        if let Some(w) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(w);
        }
    }
}

#[test]
fn postgres_down_for_30s_every_flow_stored_once() {
    let mut pg = PgCluster::start().unwrap();
    if !pg.can_stop() {
        println!("SKIPPED: DATABASE_URL points at an external server this test cannot stop");
        return;
    }
    let state = tempfile::tempdir().unwrap();
    let collector = Collector::start(pg.url(), state.path(), None, &[]);
    let n = 150_000u64;
    let records = unique_records(n, 1_000_000);
    let datagrams = ipfix_datagrams(&records, 7);
    // ~60 s of traffic; PostgreSQL is away from 15 s to 45 s.
    let per_sec = datagrams.len() as f64 / 60.0;
    let sent = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let target = collector.target();
    let sender = {
        let (sent, stop) = (Arc::clone(&sent), Arc::clone(&stop));
        std::thread::spawn(move || pace(&datagrams, target, per_sec, &sent, &stop))
    };
    std::thread::sleep(Duration::from_secs(15));
    pg.stop().unwrap();
    let down_at = Instant::now();
    std::thread::sleep(Duration::from_secs(30));
    let spooled = collector.metric("flowvision_store_batches_spooled_total");
    pg.resume().unwrap();
    println!(
        "PostgreSQL was down {:.1} s; {spooled} batches spooled meanwhile",
        down_at.elapsed().as_secs_f64()
    );
    sender.join().unwrap();
    collector.wait_metrics(Duration::from_secs(180), "spool replayed and every row stored", |m| {
        m.get("flowvision_store_rows_stored_total").copied() == Some(n)
            && m.get("flowvision_store_spool_bytes").copied().unwrap_or(0) == 0
    });
    assert!(spooled > 0, "the outage must have spooled batches");
    let mut db = pg.connect().unwrap();
    let row = db
        .query_one(&format!("SELECT count(*), count(DISTINCT bytes), sum(bytes)::text FROM {FLOWS}"), &[])
        .unwrap();
    let (count, distinct, sum): (i64, i64, String) = (row.get(0), row.get(1), row.get(2));
    let want_sum: u64 = records.iter().map(|r| r.bytes).sum();
    assert_eq!(count as u64, n, "every flow stored");
    assert_eq!(distinct as u64, n, "none twice");
    assert_eq!(sum, want_sum.to_string());
    let m = collector.metrics();
    println!(
        "outage: {n} flows sent, {count} stored once; {} batches spooled, {} replayed, {} duplicates skipped",
        m["flowvision_store_batches_spooled_total"],
        m["flowvision_store_batches_replayed_total"],
        m["flowvision_store_batches_duplicate_total"]
    );
    stop.store(true, Ordering::Release);
    assert_eq!(collector.terminate(), 0);
}

#[test]
fn sigterm_mid_stream_loses_nothing_received() {
    let pg = PgCluster::start().unwrap();
    let state = tempfile::tempdir().unwrap();
    let collector = Collector::start(pg.url(), state.path(), None, &[]);
    // About 11 s of traffic at 3000 datagrams/s; SIGTERM comes after 3 s.
    let records = unique_records(600_000, 5_000_000);
    let datagrams = ipfix_datagrams(&records, 9);
    let sent = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let target = collector.target();
    let sender = {
        let (sent, stop) = (Arc::clone(&sent), Arc::clone(&stop));
        std::thread::spawn(move || pace(&datagrams, target, 3000.0, &sent, &stop))
    };
    std::thread::sleep(Duration::from_secs(3));
    let sent_before_term = sent.load(Ordering::Acquire);
    let mut child_log = String::new();
    // SIGTERM while datagrams are still arriving.
    let status = {
        let c = collector;
        let log = Arc::clone(&c.log);
        let status = c.terminate();
        child_log.push_str(&log.lock().unwrap());
        status
    };
    stop.store(true, Ordering::Release);
    sender.join().unwrap();
    assert_eq!(status, 0, "clean exit:\n{child_log}");
    // The last line accounts for everything the collector received.
    let line = child_log.lines().rev().find(|l| l.contains("stopped:")).expect("final summary line");
    let number = |label: &str| -> u64 {
        let before = line.split(label).next().unwrap();
        before.split_whitespace().last().unwrap().parse().unwrap()
    };
    let received = number(" datagrams");
    let decoded = number(" records");
    assert_eq!(number(" rows dropped"), 0);
    assert!(received >= sent_before_term, "received {received} of {sent_before_term} sent before SIGTERM");
    assert!(decoded < 600_000, "the stream was still running when the collector stopped");
    let mut db = pg.connect().unwrap();
    let count = |db: &mut flowvision_tests::postgres::Client| -> u64 {
        let n: i64 = db.query_one(&format!("SELECT count(*) FROM {FLOWS}"), &[]).unwrap().get(0);
        n as u64
    };
    let at_exit = count(&mut db);
    // The shutdown drain is bounded: on a machine too busy for PostgreSQL to take the
    // last queued batches in time, they go to the spool (the log says so) and the next
    // start replays them. Either way every record received is stored, exactly once.
    let spooled = child_log.contains("spooling");
    if at_exit < decoded {
        assert!(spooled, "{} records neither stored nor spooled:\n{child_log}", decoded - at_exit);
        let again = Collector::start(pg.url(), state.path(), None, &[]);
        let deadline = Instant::now() + Duration::from_secs(60);
        while count(&mut db) < decoded && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(200));
        }
        assert_eq!(again.terminate(), 0);
    }
    let stored = count(&mut db);
    assert_eq!(stored, decoded, "every record received before exit is stored");
    println!(
        "SIGTERM after {sent_before_term} datagrams sent: {received} received, {decoded} records, \
         {at_exit} stored at exit, {stored} after the spool's replay"
    );
}

#[test]
fn restart_between_template_and_data_still_decodes() {
    let pg = PgCluster::start().unwrap();
    let records = unique_records(300, 9_000_000);
    let mut cfg = TemplateEncoderConfig::new(Protocol::NetflowV9, 3);
    cfg.template_refresh_datagrams = 0;
    cfg.template_refresh_ms = 0;
    let mut enc = TemplateEncoder::new(cfg);
    let mut first = Vec::new();
    enc.encode(now_ms(), 5000, &records[..10], |d| first.push(d.to_vec()));
    let mut later = Vec::new();
    enc.encode(now_ms(), 5000, &records[10..], |d| later.push(d.to_vec()));
    assert!(later.iter().all(|d| d.len() > 24), "data-only datagrams");

    let state_a = tempfile::tempdir().unwrap();
    let a = Collector::start(pg.url(), state_a.path(), None, &[]);
    let port = a.port;
    let socket = UdpSocket::bind("127.0.0.3:0").unwrap();
    for d in &first {
        socket.send_to(d, a.target()).unwrap();
    }
    a.wait_metrics(Duration::from_secs(30), "first rows", |m| {
        m.get("flowvision_store_rows_stored_total").copied() == Some(10)
    });
    assert_eq!(a.terminate(), 0);

    // A new state directory: the templates must come back from PostgreSQL.
    let state_b = tempfile::tempdir().unwrap();
    let b = Collector::start(pg.url(), state_b.path(), Some(port), &[]);
    assert!(b.log_text().contains("restored"), "templates restored at start:\n{}", b.log_text());
    for d in &later {
        socket.send_to(d, b.target()).unwrap();
        std::thread::sleep(Duration::from_millis(2));
    }
    b.wait_metrics(Duration::from_secs(30), "data after restart decoded and stored", |m| {
        m.get("flowvision_store_rows_stored_total").copied() == Some(290)
    });
    assert_eq!(b.metric("flowvision_sets_held_total"), 0, "nothing waited for a template");
    let mut db = pg.connect().unwrap();
    let count: i64 = db.query_one(&format!("SELECT count(*) FROM {FLOWS}"), &[]).unwrap().get(0);
    assert_eq!(count, 300);
    assert_eq!(b.terminate(), 0);
}
