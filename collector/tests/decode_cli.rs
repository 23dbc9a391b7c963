//! The `decode` subcommand as a user runs it: the built binary on real fixtures.
//!
//! Concrete numbers below were checked with tshark 4.0.17 (`-d udp.port==P,cflow`;
//! raw payloads wrapped with text2pcap, companion files joined with `mergecap -a`).
//! When tshark is installed, the records are also compared with its dissection at
//! run time.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use flowvision_codec::json::FIELDS;
use serde_json::{Map, Value};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_flowvision-collector");

fn fixtures() -> Option<PathBuf> {
    let dir = match std::env::var_os("FLOWVISION_FIXTURES") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures"),
    };
    if dir.is_dir() {
        Some(dir)
    } else {
        println!("SKIPPED: fixtures not found at {} (set FLOWVISION_FIXTURES)", dir.display());
        None
    }
}

struct Output {
    code: i32,
    records: Vec<Map<String, Value>>,
    stderr: String,
}

fn decode(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(bytes) = stdin {
        child.stdin.take().unwrap().write_all(bytes).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let records = stdout
        .lines()
        .map(|l| match serde_json::from_str::<Value>(l) {
            Ok(Value::Object(m)) => m,
            other => panic!("not a JSON object: {l} ({other:?})"),
        })
        .collect();
    Output { code: out.status.code().unwrap_or(-1), records, stderr: String::from_utf8(out.stderr).unwrap() }
}

/// The number on the summary line whose label is `label`.
fn summary(stderr: &str, label: &str) -> u64 {
    stderr
        .lines()
        .find_map(|l| {
            let rest = l.trim_start().strip_prefix(label)?;
            let first = rest.split_whitespace().next()?;
            (rest.starts_with(' ')).then(|| first.parse().ok()).flatten()
        })
        .unwrap_or_else(|| panic!("no summary line {label:?} in:\n{stderr}"))
}

/// The per-protocol row: (datagrams, records, undecodable).
fn protocol_row(stderr: &str, protocol: &str) -> (u64, u64, u64) {
    let line = stderr
        .lines()
        .find(|l| l.split_whitespace().next() == Some(protocol))
        .unwrap_or_else(|| panic!("no row for {protocol} in:\n{stderr}"));
    let n: Vec<u64> = line.split_whitespace().skip(1).take(3).map(|v| v.parse().unwrap()).collect();
    (n[0], n[1], n[2])
}

fn check_fields(records: &[Map<String, Value>]) {
    for r in records {
        let mut keys: Vec<&str> = r.keys().map(String::as_str).collect();
        keys.sort_unstable();
        let mut expected = FIELDS.to_vec();
        expected.sort_unstable();
        assert_eq!(keys, expected);
    }
}

fn tshark_available() -> bool {
    Command::new("tshark").arg("-v").output().map(|o| o.status.success()).unwrap_or(false)
}

/// (source address, octets) of every flow record tshark decodes as cflow on `port`.
fn tshark_flows(path: &Path, port: u16) -> Vec<(String, u64)> {
    let out = Command::new("tshark")
        .arg("-r")
        .arg(path)
        .args(["-d", &format!("udp.port=={port},cflow"), "-T", "fields", "-E", "occurrence=a"])
        .args(["-e", "cflow.srcaddr", "-e", "cflow.srcaddrv6", "-e", "cflow.octets"])
        .output()
        .unwrap();
    let mut flows = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let cols: Vec<&str> = line.split('\t').collect();
        let list = |s: &str| s.split(',').filter(|v| !v.is_empty()).map(str::to_owned).collect::<Vec<_>>();
        let mut addrs = list(cols[0]);
        addrs.extend(list(cols[1]));
        let octets = list(cols[2]);
        assert_eq!(addrs.len(), octets.len(), "tshark line {line}");
        flows.extend(addrs.into_iter().zip(octets.iter().map(|o| o.parse().unwrap())));
    }
    flows
}

fn ours(records: &[Map<String, Value>]) -> Vec<(String, u64)> {
    records
        .iter()
        .map(|r| (r["src_addr"].as_str().unwrap().to_owned(), r["bytes"].as_u64().unwrap()))
        .collect()
}

#[test]
fn netflow_v5_pcap() {
    let Some(dir) = fixtures() else { return };
    let path = dir.join("akvorado/outlet/flow/decoder/netflow/testdata/nfv5.pcap");
    let out = decode(&["decode", path.to_str().unwrap()], None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    check_fields(&out.records);
    // tshark: one datagram from 10.19.144.41, count 29, sequence 1961402419,
    // first flow 161.202.212.212 with 133 octets.
    assert_eq!(out.records.len(), 29);
    let first = &out.records[0];
    assert_eq!(first["protocol"], "netflow_v5");
    assert_eq!(first["exporter"], "10.19.144.41");
    assert_eq!(first["sequence"], 1_961_402_419u64);
    assert_eq!(first["src_addr"], "161.202.212.212");
    assert_eq!(first["bytes"], 133);
    assert!(out.records.iter().all(|r| r["flow_start"].is_string() && r["flow_end"].is_string()));
    assert_eq!(summary(&out.stderr, "files"), 1);
    assert_eq!(summary(&out.stderr, "frames"), 1);
    assert_eq!(summary(&out.stderr, "datagrams"), 1);
    assert_eq!(summary(&out.stderr, "records"), 29);
    assert_eq!(summary(&out.stderr, "undecodable datagrams"), 0);
    assert_eq!(protocol_row(&out.stderr, "netflow_v5"), (1, 29, 0));
    if tshark_available() {
        assert_eq!(ours(&out.records), tshark_flows(&path, 9990));
    }
    println!("nfv5.pcap: {} records", out.records.len());
}

#[test]
fn ipfix_pcap() {
    let Some(dir) = fixtures() else { return };
    let path = dir.join("pmacct/tests/100-IPFIXv10-CISCO/traffic-00.pcap");
    let out = decode(&["decode", path.to_str().unwrap()], None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    check_fields(&out.records);
    // tshark: 6 datagrams from 138.187.0.13 (2 templates, then 4 data messages with
    // 4+2+4+2 flows); the first is 10.231.65.56, 220 octets, 2 packets, input 995.
    assert_eq!(out.records.len(), 12);
    let first = &out.records[0];
    assert_eq!(first["protocol"], "ipfix");
    assert_eq!(first["exporter"], "138.187.0.13");
    assert_eq!(first["src_addr"], "10.231.65.56");
    assert_eq!((first["bytes"].as_u64(), first["packets"].as_u64()), (Some(220), Some(2)));
    assert_eq!(first["in_if"], 995);
    assert_eq!(out.records[4]["src_addr"], "2001:1700:f101:2000::1");
    assert_eq!(summary(&out.stderr, "datagrams"), 6);
    assert_eq!(summary(&out.stderr, "records"), 12);
    assert_eq!(protocol_row(&out.stderr, "ipfix"), (6, 12, 0));
    if tshark_available() {
        assert_eq!(ours(&out.records), tshark_flows(&path, 9991));
    }
    println!("IPFIX pcap: {} records", out.records.len());
}

#[test]
fn stdin_capture_and_raw_payload() {
    let Some(dir) = fixtures() else { return };
    let pcap = std::fs::read(dir.join("akvorado/outlet/flow/decoder/netflow/testdata/nfv5.pcap")).unwrap();
    let out = decode(&["decode", "-"], Some(&pcap));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.records.len(), 29);

    // A raw NetFlow v5 payload (tshark after text2pcap: count 8, first flow
    // 140.82.121.3 with 87477 octets).
    let raw = std::fs::read(
        dir.join("telegraf/plugins/inputs/netflow/testcases/netflow_v5_example/netflow_v5.bin"),
    )
    .unwrap();
    let out = decode(&["decode", "--exporter", "192.0.2.7", "-"], Some(&raw));
    assert_eq!(out.code, 0, "{}", out.stderr);
    check_fields(&out.records);
    assert_eq!(out.records.len(), 8);
    assert_eq!(out.records[0]["exporter"], "192.0.2.7");
    assert_eq!(out.records[0]["src_addr"], "140.82.121.3");
    assert_eq!(out.records[0]["bytes"], 87477);
    assert!(out.stderr.contains("(pcap 0, pcapng 0, raw 1)"), "{}", out.stderr);
    assert_eq!(summary(&out.stderr, "frames"), 0);
    assert_eq!(summary(&out.stderr, "datagrams"), 1);
    println!("stdin: pcap and raw payload decoded");
}

#[test]
fn raw_split_back_to_back_datagrams() {
    let Some(dir) = fixtures() else { return };
    let path = dir.join("logstash-codec-netflow/spec/codecs/netflow5.dat");
    let path = path.to_str().unwrap();
    // tshark on the file split at each header's 24 + 48 x count: 12 datagrams holding
    // 30 flows. Unsplit, the file is one datagram whose header counts 2 flows.
    let split = decode(&["decode", "--raw-split", path], None);
    assert_eq!((summary(&split.stderr, "datagrams"), split.records.len()), (12, 30));
    let whole = decode(&["decode", path], None);
    assert_eq!((summary(&whole.stderr, "datagrams"), whole.records.len()), (1, 2));
    assert!(split.records.iter().all(|r| r["exporter"] == "0.0.0.0"));
}

#[test]
fn templates_persist_across_files_in_order() {
    let Some(dir) = fixtures() else { return };
    let base = dir.join("akvorado/outlet/flow/decoder/netflow/testdata");
    let template = base.join("template.pcap");
    let data = base.join("data.pcap");
    let (template, data) = (template.to_str().unwrap(), data.to_str().unwrap());
    // tshark on `mergecap -a template.pcap data.pcap`: 4 flows, first 198.38.121.178
    // with 1500 octets.
    let out = decode(&["decode", template, data], None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.records.len(), 4);
    assert_eq!(out.records[0]["src_addr"], "198.38.121.178");
    assert_eq!(out.records[0]["bytes"], 1500);
    assert_eq!(summary(&out.stderr, "held sets dropped (template never seen)"), 0);
    // Data alone: held for its template, which never comes.
    let out = decode(&["decode", data], None);
    assert_eq!(out.records.len(), 0);
    assert_eq!(summary(&out.stderr, "held sets dropped (template never seen)"), 1);
    // Data first: held in capture time. Here the data was captured 62 s before its
    // template, beyond the 60 s hold, so it is dropped as timed out...
    let out = decode(&["decode", data, template], None);
    assert_eq!(out.records.len(), 0);
    assert_eq!(summary(&out.stderr, "held sets dropped (timeout)"), 1);
    // ...while the ICMP pair is 71 us apart: released when the template comes
    // (tshark on the merged pair: 4 flows, 2 in each file).
    let data = base.join("icmp-data.pcap");
    let template = base.join("icmp-template.pcap");
    let out = decode(&["decode", data.to_str().unwrap(), template.to_str().unwrap()], None);
    assert_eq!(out.records.len(), 4);
    assert_eq!(summary(&out.stderr, "held sets released"), 1);
    assert_eq!(summary(&out.stderr, "held sets dropped (template never seen)"), 0);
}

#[test]
fn truncated_capture_and_exit_codes() {
    let Some(dir) = fixtures() else { return };
    // tshark: 2708 frames, then "cut short in the middle of a packet".
    let cut = dir.join("overflowd/netflow_4M.pcap");
    let out = decode(&["decode", cut.to_str().unwrap()], None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(summary(&out.stderr, "datagrams"), 2708);
    assert_eq!(summary(&out.stderr, "truncated files"), 1);
    assert!(out.stderr.contains("cut short"));

    let good = dir.join("akvorado/outlet/flow/decoder/netflow/testdata/nfv5.pcap");
    let out = decode(&["decode", "/nonexistent/file.pcap", good.to_str().unwrap()], None);
    assert_eq!(out.code, 1);
    assert_eq!(out.records.len(), 29, "later files are still decoded");
    assert_eq!(summary(&out.stderr, "unreadable files"), 1);

    assert_eq!(decode(&["decode"], None).code, 2);
    assert_eq!(decode(&["decode", "--no-such-flag", "x"], None).code, 2);
    // `run` (also the default) with bad configuration: one line naming it, exit 2.
    for args in [&["run"][..], &[][..]] {
        let out = Command::new(BIN).args(args).env_remove("DATABASE_URL").output().unwrap();
        assert_eq!(out.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains("bad configuration: DATABASE_URL"), "{stderr}");
    }
}

#[test]
fn help_and_usage_errors_never_start_the_daemon() {
    let run = |args: &[&str]| {
        // Without DATABASE_URL a daemon started by mistake would say "bad configuration".
        let out =
            Command::new(BIN).args(args).env_remove("DATABASE_URL").stdin(Stdio::null()).output().unwrap();
        let text = |b: Vec<u8>| String::from_utf8_lossy(&b).to_string();
        (out.status.code().unwrap_or(-1), text(out.stdout), text(out.stderr))
    };
    for args in
        [&["--help"][..], &["-h"], &["help"], &["run", "--help"], &["decode", "--help"], &["rules", "--help"]]
    {
        let (code, out, err) = run(args);
        assert_eq!(code, 0, "{args:?}: {err}");
        assert!(out.contains("Usage: flowvision-collector"), "{args:?}: {out}");
    }
    for args in [
        &["insights", "foo"][..],
        &["--bogus"],
        &["run", "--bogus"],
        &["run", "extra"],
        &["rules", "bogus"],
        &["decode", "--bogus", "x.pcap"],
    ] {
        let (code, out, err) = run(args);
        assert_eq!(code, 2, "{args:?}: {out} {err}");
        assert!(err.contains("Usage: flowvision-collector"), "{args:?}: usage on stderr: {err}");
        assert!(out.is_empty(), "{args:?}: {out}");
        assert!(!err.contains("bad configuration"), "{args:?}: {err}");
        println!("{args:?}: {}", err.lines().next().unwrap_or(""));
    }
}
