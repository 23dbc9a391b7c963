//! Statistics and filter search against nfdump, the tool operators know: the same
//! simulated NetFlow v5, v9 and IPFIX traffic goes to the real collector (storing into
//! a real PostgreSQL) and to nfdump's nfcapd, in one run with both as targets; then
//! `/api/v1/stats` must equal `nfdump -s KEY/ORDER` (flows, bytes and packets of every
//! key value, and the top 10's ranking) and a filter search must count what
//! `nfdump 'FILTER'` counts. Skipped (with the reason printed) without nfcapd.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use common::appliance::{collector_bin, free_tcp, free_udp, Proc};
use common::*;
use flowvision_codec::Protocol;
use flowvision_sim::scenario::ExporterGroup;
use flowvision_sim::{run as sim_run, RunOptions, Scenario};
use flowvision_tests::pg::PgCluster;
use rocket::local::blocking::Client;
use std::collections::BTreeMap;
use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// nfcapd, killed at the end whatever happens.
struct Nfcapd(std::process::Child);

impl Drop for Nfcapd {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn tool(name: &str) -> bool {
    Command::new(name).arg("-V").output().is_ok()
}

fn wait_bound(port: u16, what: &mut Proc) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while UdpSocket::bind(("127.0.0.1", port)).is_ok() {
        what.assert_running();
        assert!(Instant::now() < deadline, "nothing bound port {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

type Counts = BTreeMap<String, (i64, i64, i64)>;

/// `nfdump -s STAT/ORDER -n 0 -o csv` over `dir` (with `filter`): value -> (flows,
/// bytes, packets), and the values in nfdump's order.
fn nfdump_stats(dir: &Path, stat: &str, order: &str, filter: &str) -> (Counts, Vec<(String, i64)>) {
    let out = Command::new("nfdump")
        .arg("-R")
        .arg(dir)
        .args(["-N", "-s", &format!("{stat}/{order}"), "-n", "0", "-o", "csv", filter])
        .output()
        .unwrap();
    assert!(out.status.success(), "nfdump: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let mut header: Vec<String> = Vec::new();
    let mut m = Counts::new();
    let mut ranked = Vec::new();
    // The statistics, then a "Summary" section with other columns.
    for line in text.lines().take_while(|l| l.trim() != "Summary").filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = line.split(',').map(str::trim).collect();
        if f.contains(&"val") || f.contains(&"fl") {
            header = f.iter().map(|s| s.to_string()).collect();
            continue;
        }
        if header.is_empty() {
            continue;
        }
        let col = |n: &str| header.iter().position(|h| h == n).and_then(|i| f.get(i).copied());
        // nfdump names the counters ibyt/ipkt or byt/pkt depending on the order.
        let byt = col("byt").or_else(|| col("ibyt"));
        let pkt = col("pkt").or_else(|| col("ipkt"));
        let (Some(val), Some(fl), Some(byt), Some(pkt)) = (col("val"), col("fl"), byt, pkt) else {
            continue;
        };
        let Ok(fl) = fl.parse::<i64>() else { continue };
        let v = (fl, byt.parse().unwrap(), pkt.parse().unwrap());
        let rank = match order {
            "flows" => v.0,
            "bytes" => v.1,
            _ => v.2,
        };
        ranked.push((val.to_string(), rank));
        m.insert(val.to_string(), v);
    }
    assert!(!header.is_empty() && !m.is_empty(), "nfdump printed no CSV statistics:\n{text}");
    (m, ranked)
}

/// nfdump names protocols; the API gives numbers.
fn nf_proto(v: &str) -> String {
    match v {
        "TCP" => "6".into(),
        "UDP" => "17".into(),
        "ICMP" => "1".into(),
        "ICMP6" => "58".into(),
        "GRE" => "47".into(),
        "ESP" => "50".into(),
        other => other.to_string(),
    }
}

#[test]
fn statistics_and_search_equal_nfdump() {
    if !tool("nfcapd") || !tool("nfdump") {
        println!("skipped: nfcapd/nfdump not installed");
        return;
    }
    let pg = PgCluster::start().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    // The console first (migrations, first admin), then the collector on the same database.
    let client = Client::untracked(flowvision_web::build(config(pg.url())).unwrap()).unwrap();
    let web = Web { client, pg };
    let port = free_udp();
    let mut collector = Proc::spawn(
        "flowvision-collector",
        Command::new(collector_bin())
            .env("DATABASE_URL", web.pg.url())
            .env("NETFLOW_PORT", port.to_string())
            .env("SFLOW_PORT", free_udp().to_string())
            .env("IPFIX_PORT", free_udp().to_string())
            .env("METRICS_LISTEN", format!("127.0.0.1:{}", free_tcp()))
            .env("STATE_DIR", tmp.path().join("state"))
            .env("COLLECTOR_WORKERS", "1")
            .env("BATCH_MAX_AGE_MS", "100"),
        tmp.path().join("collector.log"),
    );
    wait_bound(port, &mut collector);
    let nf_dir = tmp.path().join("nfcapd");
    std::fs::create_dir_all(&nf_dir).unwrap();
    let nf_port = free_udp();
    let mut nfcapd = Nfcapd(
        Command::new("nfcapd")
            .arg("-w")
            .arg(&nf_dir)
            .args(["-p", &nf_port.to_string(), "-b", "127.0.0.1", "-t", "3600", "-B", "16777216"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while UdpSocket::bind(("127.0.0.1", nf_port)).is_ok() {
        assert!(nfcapd.0.try_wait().unwrap().is_none(), "nfcapd exited");
        assert!(Instant::now() < deadline, "nfcapd did not bind");
        std::thread::sleep(Duration::from_millis(50));
    }

    // Unsampled exporters: nfcapd scales v5 counters by the sampling interval, the
    // collector stores them as exported; with rate 1 both hold the same numbers.
    let mut s = Scenario {
        seed: Some(14),
        start: "now".into(),
        rate: 5_000.0,
        count: Some(6_000),
        ..Scenario::default()
    };
    s.traffic.internal_hosts = 60;
    s.traffic.external_hosts = 300;
    s.traffic.external_ases = 20;
    s.exporters = [Protocol::NetflowV5, Protocol::NetflowV9, Protocol::Ipfix]
        .into_iter()
        .map(|protocol| ExporterGroup {
            protocol,
            sampling_rate: 1,
            domains: vec![0],
            template_refresh_datagrams: 5,
            ..ExporterGroup::default()
        })
        .collect();
    let targets: Vec<SocketAddr> = vec![([127, 0, 0, 1], port).into(), ([127, 0, 0, 1], nf_port).into()];
    let options = RunOptions { targets, paced: true, ..RunOptions::default() };
    let summary = sim_run(s.resolve(0, 1).unwrap(), &options).unwrap().summary;
    let sent = summary.totals.flows as i64;
    println!("simulator: {sent} flows from {} exporters to both collectors", summary.exporters.len());

    // Wait until the collector stored every flow, then stop nfcapd so it flushes.
    let mut db = web.pg.connect().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        collector.assert_running();
        let n: i64 = db.query_one("SELECT count(*) FROM flows", &[]).unwrap().get(0);
        if n >= sent {
            assert_eq!(n, sent, "stored exactly what was sent");
            break;
        }
        assert!(Instant::now() < deadline, "collector stored {n} of {sent}:\n{}", collector.log());
        std::thread::sleep(Duration::from_millis(200));
    }
    // SIGTERM: nfcapd writes its file out.
    let _ = Command::new("kill").arg("-TERM").arg(nfcapd.0.id().to_string()).status();
    let _ = nfcapd.0.wait();

    let admin = web.login(ADMIN, ADMIN_PW);
    let from = now_ms() - 3_600_000;
    let to = now_ms() + 60_000;

    // Statistics: every key value, counters equal; the top 10's counters in the same order.
    let stats: &[(&str, &str)] = &[
        ("srcip", "srcip"),
        ("dstip", "dstip"),
        ("srcport", "srcport"),
        ("dstport", "dstport"),
        ("proto", "proto"),
        ("srcas", "srcas"),
        ("dstas", "dstas"),
        ("tos", "tos"),
        ("exporter", "router"),
    ];
    let mut compared = 0;
    for (key, nf) in stats {
        for order in ["flows", "bytes", "packets"] {
            // ICMP type/code: the collector keeps it in dst_port for every protocol (as
            // NetFlow v5 does); nfcapd keeps IPFIX's icmpTypeCode apart and reports
            // port 0 for some of those flows. Ports are compared over the other flows.
            let all = if key.ends_with("port") { "not proto icmp and not proto icmp6" } else { "any" };
            for filter in [all, "proto tcp and dst port 443"] {
                let (want, nf_rank) = nfdump_stats(&nf_dir, nf, order, filter);
                let want: Counts = want
                    .into_iter()
                    .map(|(k, v)| (if *key == "proto" { nf_proto(&k) } else { k }, v))
                    .collect();
                let url = format!(
                    "/api/v1/stats?key={key}&order={order}&limit=1000&from={from}&to={to}&filter={}",
                    enc(filter)
                );
                let v = web.json(&url, &admin);
                let got: Counts = v["rows"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| {
                        (
                            r["key"].as_str().unwrap().to_string(),
                            (
                                r["flows"].as_i64().unwrap(),
                                r["bytes"].as_i64().unwrap(),
                                r["packets"].as_i64().unwrap(),
                            ),
                        )
                    })
                    .collect();
                // Every value nfdump lists; at most 1000 of them in our answer (the
                // largest), each with nfdump's counters.
                assert_eq!(v["distinct"].as_i64().unwrap(), want.len() as i64, "{url}: distinct values");
                let complete = want.len() <= 1000;
                let diff: Vec<_> = got
                    .keys()
                    .chain(want.keys().filter(|_| complete))
                    .filter(|k| got.get(*k) != want.get(*k))
                    .map(|k| (k, got.get(k), want.get(k)))
                    .collect();
                assert!(
                    diff.is_empty(),
                    "{url} vs nfdump -s {nf}/{order} '{filter}': (key, ours, nfdump's) {diff:?}"
                );
                // The ranking: the top 10 counters in order (ties may list keys differently).
                let rank_col = match order {
                    "flows" => "flows",
                    "bytes" => "bytes",
                    _ => "packets",
                };
                let top: Vec<i64> = v["rows"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .take(10)
                    .map(|r| r[rank_col].as_i64().unwrap())
                    .collect();
                let nf_top: Vec<i64> = nf_rank.iter().take(10).map(|(_, n)| *n).collect();
                assert_eq!(top, nf_top, "{url}: top 10 order");
                compared += got.len();
                if filter == all && order == "bytes" {
                    println!("-s {nf}/bytes: {} values, equal to nfdump", got.len());
                }
            }
        }
    }
    println!(
        "{compared} (key value, counters) rows equal to nfdump's over {} keys x 3 orders x 2 filters",
        stats.len()
    );

    // Filter search: the count of nfdump's records for the same expression.
    for filter in [
        "proto tcp and dst port 443",
        "proto udp and dst port 53",
        "bytes > 1000 and packets < 10",
        "not proto tcp",
    ] {
        let out = Command::new("nfdump")
            .arg("-R")
            .arg(&nf_dir)
            .args(["-N", "-q", "-o", "csv", filter])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let nf_count = text.lines().filter(|l| l.chars().next().is_some_and(|c| c.is_ascii_digit())).count();
        let v = web.json(
            &format!("/api/v1/flows?from={from}&to={to}&page_size=1000&filter={}", enc(filter)),
            &admin,
        );
        let n = v["rows"].as_array().unwrap().len();
        let st =
            web.json(&format!("/api/v1/stats?key=proto&from={from}&to={to}&filter={}", enc(filter)), &admin);
        let total = st["total"]["flows"].as_i64().unwrap();
        println!("filter {filter:?}: nfdump {nf_count} records, search page {n}, stats total {total}");
        assert_eq!(total, nf_count as i64, "{filter}");
        assert_eq!(n as i64, total.min(1000), "{filter}");
    }
}
