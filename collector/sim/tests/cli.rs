//! The `flowvision-sim` command: flags, files it writes, exit codes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use common::temp_dir;
use std::process::Command;

fn sim() -> Command {
    Command::new(env!("CARGO_BIN_EXE_flowvision-sim"))
}

#[test]
fn writes_pcap_labels_records_and_summary() {
    let dir = temp_dir("cli");
    let scenario = dir.join("s.toml");
    std::fs::write(
        &scenario,
        "rate = 5000\n[traffic]\ninternal_hosts = 500\nexternal_hosts = 2000\nexternal_ases = 100\n\
         [[exporters]]\nprotocol = \"netflow_v9\"\ncount = 2\n[[exporters]]\nprotocol = \"sflow_v5\"\n\
         sampling_rate = 256\n",
    )
    .unwrap();
    let out = sim()
        .arg("--scenario")
        .arg(&scenario)
        .args(["--protocol", "ipfix,netflow_v5", "--count", "4000", "--seed", "4"])
        .args(["--start", "2024-05-01T10:00:00Z", "--anomaly", "port_scan@0s+500ms"])
        .arg("--pcap")
        .arg(dir.join("o.pcap"))
        .arg("--labels")
        .arg(dir.join("l.jsonl"))
        .arg("--records")
        .arg(dir.join("r.jsonl"))
        .arg("--summary-json")
        .arg(dir.join("s.json"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("flowvision-sim summary (seed 4)") && stderr.contains("pcap:"), "{stderr}");
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("s.json")).unwrap()).unwrap();
    assert_eq!(summary["totals"]["flows"], 4000);
    // --protocol cycles over the scenario's three exporters.
    let protocols: Vec<&str> =
        summary["exporters"].as_array().unwrap().iter().map(|e| e["protocol"].as_str().unwrap()).collect();
    assert_eq!(protocols, ["ipfix", "netflow_v5", "ipfix"]);
    let records = std::fs::read_to_string(dir.join("r.jsonl")).unwrap();
    assert_eq!(records.lines().count(), 4000);
    let bytes: u64 = records
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["bytes"].as_u64().unwrap())
        .sum();
    assert_eq!(summary["totals"]["bytes"].as_u64().unwrap(), bytes);
    let labels = std::fs::read_to_string(dir.join("l.jsonl")).unwrap();
    assert_eq!(labels.lines().count(), 1);
    assert!(labels.contains("\"kind\":\"port_scan\""));
    assert!(std::fs::metadata(dir.join("o.pcap")).unwrap().len() > 24);
    println!("cli: 4000 flows, summary, records, labels and pcap written");
}

#[test]
fn prints_the_effective_scenario_and_rejects_bad_usage() {
    let out = sim().args(["--print-scenario", "--rate", "123", "--exporters", "2"]).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let s = flowvision_sim::Scenario::from_toml(&text, "printed").unwrap();
    assert_eq!((s.rate, s.exporters.len()), (123.0, 2));

    let bad = sim().args(["--protocol", "netflow_v7"]).output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
    let dir = temp_dir("cli-bad");
    let scenario = dir.join("bad.toml");
    std::fs::write(&scenario, "rate = 10\nspeed = 3\n").unwrap();
    let out = sim().arg("--scenario").arg(&scenario).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.toml") && err.contains("speed"), "{err}");
}

#[test]
fn the_example_scenario_is_valid() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/day.toml");
    let s = flowvision_sim::Scenario::load(&path).unwrap();
    let p = s.resolve(0, 0).unwrap();
    assert_eq!(p.exporters.len(), 40);
    assert_eq!(p.anomalies.len(), 6);
    assert_eq!(p.duration_ns, Some(24 * 60 * 1_000_000_000));
    // Restarts every 8 simulated hours on the v9 routers.
    assert_eq!(p.exporters[0].restarts_ms[0], p.clock.start_ms + 8 * 3_600_000);
    // Ten seconds of it (ten simulated minutes) run cleanly.
    let mut short = s.clone();
    short.duration = Some("200ms".into());
    let plan = short.resolve(0, 0).unwrap();
    let mut sim = flowvision_sim::Simulation::new(plan).unwrap();
    let mut n = 0u64;
    sim.run(&mut |d: &flowvision_sim::Datagram<'_>| {
        n += d.records.len() as u64;
        Ok(())
    })
    .unwrap();
    assert_eq!(n, sim.flows());
    assert!(n > 100, "{n}");
    println!("scenarios/day.toml: 40 exporters, 6 anomalies; 200 ms of it sent {n} flows");
}

#[test]
fn help_and_usage_errors_never_start_a_run() {
    let run = |args: &[&str]| {
        let out = sim().args(args).stdin(std::process::Stdio::null()).output().unwrap();
        let text = |b: Vec<u8>| String::from_utf8_lossy(&b).to_string();
        (out.status.code().unwrap_or(-1), text(out.stdout), text(out.stderr))
    };
    for args in [&["--help"][..], &["-h"]] {
        let (code, out, err) = run(args);
        assert_eq!(code, 0, "{args:?}: {err}");
        assert!(out.contains("Usage: flowvision-sim") && out.contains("Exit status"), "{args:?}: {out}");
    }
    for args in [&["insights", "foo"][..], &["--bogus"], &["--count", "10", "extra"], &["-x"]] {
        let (code, out, err) = run(args);
        assert_eq!(code, 2, "{args:?}: {out} {err}");
        assert!(err.contains("Usage: flowvision-sim"), "{args:?}: usage on stderr: {err}");
        assert!(out.is_empty(), "{args:?}: {out}");
        // A run would have said "dry run" (no output given) and printed its summary.
        assert!(!err.contains("dry run") && !err.contains("summary"), "{args:?}: {err}");
    }
}
