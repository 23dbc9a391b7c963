//! Browser tests in headless Chromium (Debian's `chromium`, driven by `playwright-core`
//! from web/node_modules): the whole appliance for real — PostgreSQL, the collector
//! binary receiving NetFlow v9 over UDP from two simulated exporters (127.1.0.1 and
//! 127.1.0.2), the web binary — then `node --test tests/browser/console.test.mjs`
//! logs in, checks the charts against what the simulator sent, searches flows, exports
//! CSV, checks a scoped viewer and analyst, logged-out refusals and CSRF refusals, and
//! saves screenshots under `target/browser-artifacts/`.
//!
//! Skipped (with the reason printed) when chromium, node or playwright-core is missing;
//! deploy/test.sh installs all three.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use common::appliance::{artifacts_dir, browser_tools, sim_bin, Appliance};
use std::time::{Duration, Instant};

const FLOWS: u64 = 3000;

#[test]
fn console_in_headless_chromium() {
    let tools = match browser_tools() {
        Ok(t) => t,
        Err(why) => {
            println!("{why}");
            return;
        }
    };
    let artifacts = artifacts_dir("console");
    let mut app = Appliance::start_collector();
    let nf_port = app.netflow_port;
    let mut db = app.pg.connect().unwrap();

    // Two exporters, NetFlow v9, through the collector over UDP.
    let summary_path = app.tmp.path().join("sim.json");
    let st = std::process::Command::new(sim_bin())
        .args(["--exporters", "2", "--protocol", "netflow_v9", "--count", &FLOWS.to_string(), "--no-pacing"])
        .args(["--seed", "7", "-q", "--target", &format!("127.0.0.1:{nf_port}")])
        .arg("--summary-json")
        .arg(&summary_path)
        .status()
        .unwrap();
    assert!(st.success(), "flowvision-sim failed");
    let summary: serde_json::Value = serde_json::from_slice(&std::fs::read(&summary_path).unwrap()).unwrap();
    let exporters: Vec<(String, u64, u64)> = summary["exporters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["address"].as_str().unwrap().to_string(),
                e["flows"].as_u64().unwrap(),
                e["bytes"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(exporters.len(), 2);
    assert_eq!(summary["udp"]["targets"][0]["failed_datagrams"].as_u64(), Some(0));

    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        app.collector.assert_running();
        let n: i64 = db.query_one("SELECT count(*) FROM flows", &[]).unwrap().get(0);
        let r: i64 = db
            .query_one("SELECT coalesce(sum(flows), 0)::bigint FROM rollup_exporter_1m", &[])
            .unwrap()
            .get(0);
        if n as u64 == FLOWS && r as u64 == FLOWS {
            break;
        }
        assert!(Instant::now() < deadline, "{n} of {FLOWS} flows stored:\n{}", app.collector.log());
        std::thread::sleep(Duration::from_millis(200));
    }
    // The database's own per-exporter totals (sampling-corrected; the simulator's
    // exporters sample 1:1, so they must equal what it sent).
    for (addr, flows, bytes) in &exporters {
        let row = db
            .query_one(
                "SELECT count(*), sum(bytes * greatest(sampling_rate, 1))::bigint FROM flows WHERE exporter = $1::text::inet",
                &[addr],
            )
            .unwrap();
        assert_eq!(row.get::<_, i64>(0) as u64, *flows, "{addr}: flows");
        assert_eq!(row.get::<_, i64>(1) as u64, *bytes, "{addr}: bytes");
    }
    println!("stored {FLOWS} flows from {} exporters through the collector", exporters.len());

    // The console.
    app.start_web(&[]);
    let ex_json = serde_json::json!(exporters
        .iter()
        .map(|(a, f, b)| serde_json::json!({"address": a, "flows": f, "bytes": b}))
        .collect::<Vec<_>>());
    let out = app.run_browser_script(
        &tools,
        "console.test.mjs",
        &artifacts,
        &[("FV_EXPORTERS", ex_json.to_string())],
    );
    assert!(out.status.success(), "browser tests failed ({}); web log:\n{}", out.status, app.web_log());
    let mut shots: Vec<_> = std::fs::read_dir(&artifacts)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "png"))
        .collect();
    shots.sort();
    assert!(shots.len() >= 5, "screenshots saved: {shots:?}");
    for s in &shots {
        println!("screenshot: {}", s.display());
    }
}
