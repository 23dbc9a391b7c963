//! Insights in headless Chromium, with the whole appliance for real: PostgreSQL, the
//! collector binary receiving NetFlow v9 from two simulated exporters in real time
//! while a labelled SYN flood hits a server behind the first, and the console with
//! its insights engine running. `node --test tests/browser/insights.test.mjs` waits
//! for the flood on the insights page (kind, target, why), acknowledges it, finds its
//! marker on the overview chart, and checks that a viewer scoped to the other
//! exporter sees none of it. Screenshots go to `target/browser-artifacts/insights/`.
//!
//! Skipped (with the reason printed) when chromium, node or playwright-core is missing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use common::appliance::{artifacts_dir, browser_tools, sim_bin, Appliance, Proc};
use std::process::Command;

/// Two NetFlow v9 exporters at 200 background flows/s in real time for 45 s, with a
/// SYN flood (four attack flows per background flow of the exporter) from 3 s to 33 s.
const SCENARIO: &str = r#"
start = "now"
speedup = 1
rate = 200
duration = "45s"

[[exporters]]
protocol = "netflow_v9"
count = 2

[[anomalies]]
kind = "syn_flood"
start = "3s"
duration = "30s"
exporter = 0
intensity = 4.0
"#;

#[test]
fn an_attack_sent_during_the_test_appears_with_its_why_and_chart_marker() {
    let tools = match browser_tools() {
        Ok(t) => t,
        Err(why) => {
            println!("{why}");
            return;
        }
    };
    let artifacts = artifacts_dir("insights");
    let mut app = Appliance::start_collector();
    app.start_web(&[("INSIGHTS", "on")]);

    let scenario = app.tmp.path().join("flood.toml");
    std::fs::write(&scenario, SCENARIO).unwrap();
    let labels = app.tmp.path().join("labels.jsonl");
    let summary = app.tmp.path().join("sim.json");
    let mut sim = Command::new(sim_bin());
    sim.arg("--scenario")
        .arg(&scenario)
        .args(["--seed", "11", "-q", "--target", &format!("127.0.0.1:{}", app.netflow_port)])
        .arg("--labels")
        .arg(&labels)
        .arg("--summary-json")
        .arg(&summary);
    // The victim is drawn from the seed and named in the labels, written when the run
    // ends: the browser starts after the 45 s of real-time traffic (the engine has
    // been finding the flood all along).
    let mut sim = Proc::spawn("flowvision-sim", &mut sim, app.tmp.path().join("sim.log"));
    sim.wait_exit(std::time::Duration::from_secs(120));
    let text = std::fs::read_to_string(&labels).unwrap_or_default();
    let label: serde_json::Value =
        serde_json::from_str(text.lines().next().unwrap_or_else(|| panic!("no label:\n{}", sim.log())))
            .unwrap();
    assert_eq!(label["kind"], "syn_flood", "{label}");
    let victim = label["victims"][0].as_str().unwrap().to_string();
    let summary: serde_json::Value = serde_json::from_slice(&std::fs::read(&summary).unwrap()).unwrap();
    let exporters: Vec<String> = summary["exporters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["address"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(exporters.len(), 2, "{summary}");
    assert_eq!(label["exporter"].as_str(), Some(exporters[0].as_str()), "{label}");
    println!(
        "syn_flood at {victim} behind {}: {} flows, {} packets",
        exporters[0], label["flows"], label["packets"]
    );

    let out = app.run_browser_script(
        &tools,
        "insights.test.mjs",
        &artifacts,
        &[
            ("FV_EXPORTER_A", exporters[0].clone()),
            ("FV_EXPORTER_B", exporters[1].clone()),
            ("FV_VICTIM", victim),
        ],
    );
    assert!(out.status.success(), "browser test failed ({}); web log:\n{}", out.status, app.web_log());
}
