//! Shared by the tshark conformance tests (conformance.rs, live_exporters.rs): running
//! `flowvision-collector decode`, reading expectation files written by
//! tests/oracle/tshark_flows.py, and comparing records in order.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashSet};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

pub const BIN: &str = env!("CARGO_BIN_EXE_flowvision-collector");

/// The fields of a record, as `decode` prints them.
pub const FIELDS: [&str; 24] = [
    "protocol",
    "exporter",
    "observation_domain",
    "sequence",
    "src_addr",
    "dst_addr",
    "src_port",
    "dst_port",
    "proto",
    "tcp_flags",
    "tos",
    "bytes",
    "packets",
    "sampling_rate",
    "in_if",
    "out_if",
    "src_as",
    "dst_as",
    "next_hop",
    "src_mask",
    "dst_mask",
    "vlan",
    "flow_start",
    "flow_end",
];
/// Fields that identify a record when aligning the two sequences.
pub const KEY: [&str; 9] = [
    "protocol",
    "exporter",
    "observation_domain",
    "sequence",
    "src_addr",
    "dst_addr",
    "src_port",
    "dst_port",
    "proto",
];
pub const ADDRESSES: [&str; 4] = ["exporter", "src_addr", "dst_addr", "next_hop"];
/// How far ahead to look for a record when the sequences disagree.
pub const LOOKAHEAD: usize = 64;
/// The exporter address of raw payload fixtures (tests/oracle/tshark_flows.py).
pub const RAW_EXPORTER: &str = "192.0.2.1";

pub type Record = Map<String, Value>;
/// (protocol, exporter, observation domain, sequence): one datagram.
pub type DatagramKey = (String, Option<IpAddr>, u64, u64);

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub fn fixtures_dir() -> PathBuf {
    match std::env::var_os("FLOWVISION_FIXTURES") {
        Some(d) => PathBuf::from(d),
        None => repo().join("../shared/fixtures"),
    }
}

pub fn expectations_dir() -> PathBuf {
    repo().join("tests/expectations")
}

/// Reads an expectation file, gzipped ones through `gzip -dc`.
pub fn read_lines(path: &Path) -> Vec<Value> {
    let text = if path.extension().is_some_and(|e| e == "gz") {
        let out = Command::new("gzip").arg("-dc").arg(path).output().expect("gzip -dc");
        assert!(out.status.success(), "gzip -dc {} failed", path.display());
        String::from_utf8(out.stdout).unwrap()
    } else {
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    };
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{}: {e}: {l}", path.display())))
        .collect()
}

pub fn ip(v: &Value) -> Option<IpAddr> {
    v.as_str().and_then(|s| s.parse().ok())
}

/// Whether an expected value equals ours (`None`: skipped, tshark cannot tell).
pub fn same(field: &str, expected: &Value, ours: &Value) -> Option<bool> {
    if expected.as_str() == Some("?") {
        return None;
    }
    if ADDRESSES.contains(&field) && expected.is_string() && ours.is_string() {
        return Some(ip(expected).is_some() && ip(expected) == ip(ours));
    }
    Some(expected == ours)
}

pub fn get<'a>(r: &'a Record, f: &str) -> &'a Value {
    r.get(f).unwrap_or(&Value::Null)
}

pub fn key_matches(e: &Record, o: &Record) -> bool {
    KEY.iter().all(|f| same(f, get(e, f), get(o, f)).unwrap_or(true))
}

/// (protocol, exporter, domain, sequence) of a record or marker.
pub fn datagram_of(r: &Record) -> DatagramKey {
    (
        get(r, "protocol").as_str().unwrap_or("").to_owned(),
        ip(get(r, "exporter")),
        get(r, "observation_domain").as_u64().unwrap_or(0),
        get(r, "sequence").as_u64().unwrap_or(0),
    )
}

/// One differing value, kept as an example.
#[derive(Debug, Clone)]
pub struct Example {
    /// Frame number of the expected record, when known.
    pub frame: Value,
    /// Expected value.
    pub expected: Value,
    /// FlowVision's value.
    pub ours: Value,
}

#[derive(Debug, Default)]
pub struct FixtureResult {
    /// Expected records.
    pub expected: usize,
    /// Records FlowVision decoded.
    pub ours: usize,
    /// Records aligned and compared field by field.
    pub matched: usize,
    /// Records FlowVision decoded where tshark could not (marked datagrams).
    pub extra_allowed: usize,
    /// Partial tshark records FlowVision rejected.
    pub partial_skipped: usize,
    /// Problems by field ("missing_records" / "extra_records" for whole records).
    pub problems: BTreeMap<String, (usize, Example)>,
}

impl FixtureResult {
    fn problem(&mut self, field: &str, example: Example) {
        self.problems.entry(field.to_owned()).or_insert((0, example)).0 += 1;
    }

    fn compare_fields(&mut self, e: &Record, o: &Record) {
        for f in FIELDS {
            let (ev, ov) = (get(e, f), get(o, f));
            if ev.is_null() && f.starts_with("flow_") && get(e, "_uptime_unknown") == &Value::Bool(true) {
                continue;
            }
            if same(f, ev, ov) == Some(false) {
                self.problem(
                    f,
                    Example { frame: get(e, "_frame").clone(), expected: ev.clone(), ours: ov.clone() },
                );
            }
        }
    }
}

/// Aligns our records with the expected ones (in order) and compares them.
pub fn compare(expected: &[Record], markers: &HashSet<DatagramKey>, ours: &[Record]) -> FixtureResult {
    let mut r = FixtureResult { expected: expected.len(), ours: ours.len(), ..Default::default() };
    let (mut i, mut j) = (0, 0);
    while i < expected.len() || j < ours.len() {
        if i < expected.len() && j < ours.len() && key_matches(&expected[i], &ours[j]) {
            r.compare_fields(&expected[i], &ours[j]);
            r.matched += 1;
            i += 1;
            j += 1;
            continue;
        }
        if j < ours.len() {
            if markers.contains(&datagram_of(&ours[j])) {
                r.extra_allowed += 1;
                j += 1;
                continue;
            }
            let comes_later = i < expected.len()
                && ours[j..ours.len().min(j + LOOKAHEAD)].iter().any(|o| key_matches(&expected[i], o));
            if i >= expected.len() || comes_later {
                let o = &ours[j];
                r.problem(
                    "extra_records",
                    Example { frame: Value::Null, expected: Value::Null, ours: Value::Object(o.clone()) },
                );
                j += 1;
                continue;
            }
        }
        if i < expected.len() {
            let e = &expected[i];
            if get(e, "_partial") == &Value::Bool(true) {
                r.partial_skipped += 1;
                i += 1;
                continue;
            }
            let ours_later = j < ours.len()
                && expected[i..expected.len().min(i + LOOKAHEAD)].iter().any(|x| key_matches(x, &ours[j]));
            if j >= ours.len() || ours_later {
                r.problem(
                    "missing_records",
                    Example {
                        frame: get(e, "_frame").clone(),
                        expected: Value::Object(e.clone()),
                        ours: Value::Null,
                    },
                );
                i += 1;
                continue;
            }
            // Neither turns up nearby: the same record decoded differently.
            r.compare_fields(e, &ours[j]);
            for f in KEY {
                if same(f, get(e, f), get(&ours[j], f)) == Some(false) {
                    r.problem(
                        f,
                        Example {
                            frame: get(e, "_frame").clone(),
                            expected: get(e, f).clone(),
                            ours: get(&ours[j], f).clone(),
                        },
                    );
                }
            }
            i += 1;
            j += 1;
        }
    }
    r
}

/// Runs `flowvision-collector decode` on a fixture's inputs.
pub fn decode(fixtures: &Path, inputs: &[String], raw: bool) -> (Vec<Record>, String) {
    let mut cmd = Command::new(BIN);
    cmd.arg("decode");
    if raw {
        cmd.args(["--raw-split", "--exporter", RAW_EXPORTER]);
    }
    for input in inputs {
        cmd.arg(fixtures.join(input));
    }
    let out = cmd.output().expect("run flowvision-collector decode");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "decode {inputs:?} failed ({}):\n{stderr}", out.status);
    let records = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| match serde_json::from_str::<Value>(l) {
            Ok(Value::Object(m)) => m,
            other => panic!("decode printed a non-object line {l:?}: {other:?}"),
        })
        .collect();
    (records, stderr)
}

/// Splits expectation lines into records and the datagrams tshark could not finish.
pub fn split_expectations(lines: Vec<Value>) -> (Vec<Record>, HashSet<DatagramKey>) {
    let mut expected = Vec::new();
    let mut markers = HashSet::new();
    for line in lines {
        let Value::Object(m) = line else { panic!("expectation line is not an object: {line}") };
        if m.contains_key("tshark") {
            markers.insert(datagram_of(&m));
        } else {
            expected.push(m);
        }
    }
    (expected, markers)
}

/// A value for a report line, cut to a readable length.
pub fn short(v: &Value) -> String {
    let s = v.to_string();
    match s.char_indices().nth(160) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s,
    }
}
