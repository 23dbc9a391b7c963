//! The forwarding rules page in headless Chromium, against the real appliance
//! (PostgreSQL, the collector and console binaries from `common::appliance`) and a
//! real downstream receiver: nfcapd, started here, read with nfdump.
//!
//! `web/tests/browser/rules.test.mjs` types a rule with a typo (the error appears at
//! the token as it is typed, and again from the server on submit), fixes it, sends
//! flows through the collector with flowvision-sim, waits for the rule's counters to
//! move on the page, then deletes the rule. Here: nfcapd received exactly the flows the
//! rule matches (the stored TCP flows), and the page's `matched` counter says the same.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use common::appliance::{artifacts_dir, browser_tools, free_udp, sim_bin, Appliance, Proc};
use std::process::Command;
use std::time::{Duration, Instant};

const FLOWS: i64 = 2000;

#[test]
fn rules_page_forwards_to_nfcapd() {
    let tools = match browser_tools() {
        Ok(t) => t,
        Err(why) => {
            println!("{why}");
            return;
        }
    };
    if Command::new("nfcapd").arg("-V").output().is_err() {
        println!("nfcapd not installed: skipped");
        return;
    }
    let artifacts = artifacts_dir("rules");
    let mut app = Appliance::start_collector();
    let nf_dir = app.tmp.path().join("nfcapd");
    std::fs::create_dir_all(&nf_dir).unwrap();
    let nf_port = free_udp();
    let mut nfcapd = Proc::spawn(
        "nfcapd",
        Command::new("nfcapd").args([
            "-w",
            nf_dir.to_str().unwrap(),
            "-p",
            &nf_port.to_string(),
            "-b",
            "127.0.0.1",
        ]),
        app.tmp.path().join("nfcapd.log"),
    );
    std::thread::sleep(Duration::from_millis(500));
    nfcapd.assert_running();
    app.start_web(&[]);

    let out = app.run_browser_script(
        &tools,
        "rules.test.mjs",
        &artifacts,
        &[
            ("FV_NFCAPD", format!("127.0.0.1:{nf_port}")),
            ("FV_SIM", sim_bin().display().to_string()),
            ("FV_COLLECTOR", format!("127.0.0.1:{}", app.netflow_port)),
            ("FV_FLOWS", FLOWS.to_string()),
        ],
    );
    assert!(out.status.success(), "browser tests failed ({}); web log:\n{}", out.status, app.web_log());

    // What the collector stored, and of it what the rule matches.
    let mut db = app.pg.connect().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let n: i64 = db.query_one("SELECT count(*) FROM flows", &[]).unwrap().get(0);
        if n == FLOWS {
            break;
        }
        assert!(Instant::now() < deadline, "{n} of {FLOWS} flows stored:\n{}", app.collector.log());
        std::thread::sleep(Duration::from_millis(200));
    }
    let tcp: i64 = db.query_one("SELECT count(*) FROM flows WHERE proto = 6", &[]).unwrap().get(0);
    let tcp_bytes: i64 = db
        .query_one("SELECT coalesce(sum(bytes), 0)::bigint FROM flows WHERE proto = 6", &[])
        .unwrap()
        .get(0);
    assert!(tcp > 0 && tcp < FLOWS, "the filter selects a part of the flows ({tcp} of {FLOWS})");

    // nfcapd flushes on SIGTERM (the process was started by this test; its id).
    let st = Command::new("kill").args(["-TERM", &nfcapd.id().to_string()]).status().unwrap();
    assert!(st.success());
    nfcapd.wait_exit(Duration::from_secs(10));
    let dump = Command::new("nfdump")
        .args(["-R", nf_dir.to_str().unwrap(), "-q", "-N", "-o", "fmt:%pr|%byt"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&dump.stdout);
    let rows: Vec<(String, i64)> = text
        .lines()
        .filter_map(|l| {
            let mut it = l.split('|').map(str::trim);
            Some((it.next()?.to_string(), it.next()?.parse().ok()?))
        })
        .collect();
    let received = rows.len() as i64;
    let received_bytes: i64 = rows.iter().map(|r| r.1).sum();
    println!(
        "stored {FLOWS} flows, {tcp} TCP ({tcp_bytes} bytes); nfcapd received {received} flows ({received_bytes} bytes)"
    );
    assert!(
        rows.iter().all(|(p, _)| p == "TCP" || p == "6"),
        "only TCP reached nfcapd: {:?}",
        &rows[..rows.len().min(5)]
    );
    assert_eq!(received, tcp, "nfcapd received every matching flow");
    assert_eq!(received_bytes, tcp_bytes, "with their bytes");

    // The counters the page showed.
    let seen: serde_json::Value =
        serde_json::from_slice(&std::fs::read(artifacts.join("counters.json")).unwrap()).unwrap();
    println!("page counters: {seen}");
    assert_eq!(seen["matched"].as_i64(), Some(tcp), "the page's matched counter");
    assert!(seen["sent"].as_i64().unwrap() > 0);
    assert_eq!(seen["dropped"].as_i64(), Some(0));

    // Every change is in the audit log.
    let actions: Vec<String> = db
        .query("SELECT action FROM web_audit_log WHERE action LIKE 'rule.%' ORDER BY id", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    println!("audit: {actions:?}");
    assert_eq!(actions, ["rule.create", "rule.disable", "rule.enable", "rule.delete"]);
    let left: i64 = db.query_one("SELECT count(*) FROM forward_rules", &[]).unwrap().get(0);
    assert_eq!(left, 0);
}
