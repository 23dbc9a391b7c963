//! Browser test of filter search and statistics in headless Chromium: the whole
//! appliance (PostgreSQL, the collector receiving simulated NetFlow v9 over UDP, the
//! web binary); `node --test tests/browser/stats.test.mjs` types a filter with a typo
//! (the error names the token's position), fixes it, compares the rows shown with the
//! API's, runs a statistics query from the /stats form and checks that the table and
//! its CSV export equal `/api/v1/stats`. Skipped (with the reason printed) when
//! chromium, node or playwright-core is missing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use common::appliance::{artifacts_dir, browser_tools, sim_bin, Appliance};
use std::time::{Duration, Instant};

const FLOWS: i64 = 3000;

#[test]
fn filter_search_and_statistics_in_chromium() {
    let tools = match browser_tools() {
        Ok(t) => t,
        Err(why) => {
            println!("{why}");
            return;
        }
    };
    let artifacts = artifacts_dir("stats");
    let mut app = Appliance::start_collector();
    let st = std::process::Command::new(sim_bin())
        .args(["--exporters", "2", "--protocol", "netflow_v9", "--count", &FLOWS.to_string(), "--no-pacing"])
        .args(["--seed", "14", "-q", "--target", &format!("127.0.0.1:{}", app.netflow_port)])
        .status()
        .unwrap();
    assert!(st.success(), "flowvision-sim failed");
    let mut db = app.pg.connect().unwrap();
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        app.collector.assert_running();
        let n: i64 = db.query_one("SELECT count(*) FROM flows", &[]).unwrap().get(0);
        if n == FLOWS {
            break;
        }
        assert!(Instant::now() < deadline, "{n} of {FLOWS} flows stored:\n{}", app.collector.log());
        std::thread::sleep(Duration::from_millis(200));
    }
    let tcp443: i64 =
        db.query_one("SELECT count(*) FROM flows WHERE proto = 6 AND dst_port = 443", &[]).unwrap().get(0);
    println!("stored {FLOWS} flows, {tcp443} of them TCP to port 443");
    assert!(tcp443 > 0);

    app.start_web(&[]);
    let out =
        app.run_browser_script(&tools, "stats.test.mjs", &artifacts, &[("FV_TCP443", tcp443.to_string())]);
    assert!(out.status.success(), "browser tests failed ({}); web log:\n{}", out.status, app.web_log());
}
