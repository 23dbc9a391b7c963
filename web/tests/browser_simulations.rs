//! The simulations page in headless Chromium against the whole appliance: PostgreSQL,
//! the real collector on a free NetFlow port, the console with `SIM_DEFAULT_TARGET`
//! pointing at it. `web/tests/browser/simulations.test.mjs` starts a simulation with
//! one anomaly from the form, watches it, sees its flows on the overview and its label,
//! stops it, and is refused a target outside the allow-list; then the database is
//! checked: flows from the simulated exporters, the run's stored outcome and labels,
//! the audit rows. Screenshots under `target/browser-artifacts/simulations/`.
//!
//! Skipped (with the reason printed) when chromium, node or playwright-core is missing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use common::appliance::{artifacts_dir, browser_tools, Appliance};

#[test]
fn simulations_in_headless_chromium() {
    let tools = match browser_tools() {
        Ok(t) => t,
        Err(why) => {
            println!("{why}");
            return;
        }
    };
    let artifacts = artifacts_dir("simulations");
    let mut app = Appliance::start_collector();
    let target = format!("127.0.0.1:{}", app.netflow_port);
    app.start_web(&[("SIM_DEFAULT_TARGET", target.as_str())]);
    let out = app.run_browser_script(&tools, "simulations.test.mjs", &artifacts, &[]);
    assert!(out.status.success(), "browser tests failed ({}); web log:\n{}", out.status, app.web_log());

    let mut db = app.pg.connect().unwrap();
    let run = db
        .query_one(
            "SELECT id, state, target, (progress->>'flows')::bigint, jsonb_array_length(labels), labels->0->>'kind', \
             labels->0->>'exporter' FROM web_sim_runs ORDER BY id LIMIT 1",
            &[],
        )
        .unwrap();
    let (id, state, to, sent, labels, kind, exporter): (i64, String, String, i64, i32, String, String) =
        (run.get(0), run.get(1), run.get(2), run.get(3), run.get(4), run.get(5), run.get(6));
    let runs: i64 = db.query_one("SELECT count(*) FROM web_sim_runs", &[]).unwrap().get(0);
    assert_eq!(runs, 1, "the refused start left no run");
    assert_eq!(
        (state.as_str(), to.as_str(), labels, kind.as_str()),
        ("cancelled", target.as_str(), 1, "port_scan")
    );
    let stored: i64 = db
        .query_one("SELECT count(*) FROM flows WHERE exporter <<= '127.1.0.0/24'::inet", &[])
        .unwrap()
        .get(0);
    let of_label: i64 = db
        .query_one("SELECT count(*) FROM flows WHERE exporter = $1::text::inet", &[&exporter])
        .unwrap()
        .get(0);
    let audit: Vec<(String, bool)> = db
        .query("SELECT action, success FROM web_audit_log WHERE action LIKE 'simulation%' ORDER BY id", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    println!(
        "run {id}: {state}, {sent} flows sent, {stored} stored by the collector ({of_label} from the label's \
         exporter {exporter}); audit {audit:?}"
    );
    assert!(sent > 0 && stored > 0 && of_label > 0);
    assert!(stored <= sent, "never more stored than sent");
    assert_eq!(
        audit,
        vec![
            ("simulation.start".to_string(), true),
            ("simulation.stop".to_string(), true),
            ("simulation.refused".to_string(), false)
        ]
    );
}
