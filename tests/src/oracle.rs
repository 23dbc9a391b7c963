//! The tshark oracle (tests/oracle/README.md): reading the expectation files written
//! by tests/oracle/tshark_flows.py, decoding the same inputs with FlowVision, and
//! comparing the two record for record, in order.
//!
//! Shared by the codec's conformance test (collector/codec/tests/conformance.rs,
//! decoding in process with [`decode_in_process`]) and the collector's live exporter
//! test (collector/tests/live_exporters.rs, running `flowvision-collector decode` with
//! [`decode_cli`]); both print and compare records in the one JSON format of
//! [`flowvision_codec::json`].
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use flowvision_capture::{CaptureFormat, DatagramReader};
pub use flowvision_codec::json::FIELDS;
use flowvision_codec::offline::OfflineDecoder;
use flowvision_codec::{json, raw, DecodeOutput, TemplateCacheConfig};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashSet};
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Fields that identify a record when aligning the two sequences: the first nine of
/// [`FIELDS`], protocol, exporter, observation_domain, sequence (which datagram) and
/// src_addr, dst_addr, src_port, dst_port, proto (which flow).
pub const KEY: [&str; 9] = {
    let f = FIELDS;
    [f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8]]
};
/// Fields holding addresses, compared as addresses (`::ffff:0.0.0.0` is not `0.0.0.0`).
pub const ADDRESSES: [&str; 4] = ["exporter", "src_addr", "dst_addr", "next_hop"];
/// How far ahead to look for a record when the sequences disagree.
pub const LOOKAHEAD: usize = 64;
/// The exporter address of raw payload fixtures (tests/oracle/tshark_flows.py).
pub const RAW_EXPORTER: &str = "192.0.2.1";

/// One decoded or expected record, as its JSON object.
pub type Record = Map<String, Value>;
/// (protocol, exporter, observation domain, sequence): one datagram.
pub type DatagramKey = (String, Option<IpAddr>, u64, u64);

/// tests/expectations: the committed tshark expectations and their MANIFEST.json.
pub fn expectations_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("expectations")
}

/// tests/oracle: the scripts that produce expectations (tshark_flows.py, generate.py).
pub fn oracle_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("oracle")
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

/// An address value of a record, parsed.
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

/// A field of a record (`null` when absent).
pub fn get<'a>(r: &'a Record, f: &str) -> &'a Value {
    r.get(f).unwrap_or(&Value::Null)
}

/// Whether two records are the same flow of the same datagram (fields of [`KEY`]).
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

/// How one fixture's records compared.
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

/// Runs `flowvision-collector decode` (the binary at `bin`) on a fixture's inputs;
/// returns its records and its summary (stderr).
pub fn decode_cli(bin: &Path, fixtures: &Path, inputs: &[String], raw: bool) -> (Vec<Record>, String) {
    let mut cmd = Command::new(bin);
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
    (records_of(&out.stdout), stderr)
}

/// Decodes a fixture's inputs in this process with the codec alone, as
/// `flowvision-collector decode` does (collector/src/cli/decode.rs): one
/// [`OfflineDecoder`] whose templates persist across the inputs, in order; captures
/// give every UDP datagram with its source address as exporter and its capture time as
/// the clock; any other file is one raw payload (split by [`raw::split`] and sent from
/// [`RAW_EXPORTER`] when `raw_split`, else whole from 0.0.0.0).
pub fn decode_in_process(fixtures: &Path, inputs: &[String], raw_split: bool) -> Vec<Record> {
    let exporter: IpAddr =
        if raw_split { RAW_EXPORTER.parse().unwrap() } else { IpAddr::V4(Ipv4Addr::UNSPECIFIED) };
    let mut decoder = OfflineDecoder::new(TemplateCacheConfig::default());
    let mut out = DecodeOutput::default();
    let mut text = Vec::new();
    let mut decode = |decoder: &mut OfflineDecoder, from: IpAddr, payload: &[u8], now_ms: i64| {
        out.clear();
        // Records of sets complete before an error are good data, as in `decode`.
        let _ = decoder.decode(from, payload, now_ms, &mut out);
        for rec in &out.records {
            json::write_record(&mut text, rec).unwrap();
            text.push(b'\n');
        }
    };
    for input in inputs {
        let path = fixtures.join(input);
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        if CaptureFormat::detect(bytes.get(..4).unwrap_or(&bytes)).is_none() {
            let now_ms = decoder.untimed_now(wall_clock_ms);
            let parts = if raw_split { raw::split(&bytes) } else { vec![&bytes[..]] };
            for part in parts {
                decode(&mut decoder, exporter, part, now_ms);
            }
            continue;
        }
        let mut reader = match DatagramReader::new(&bytes[..]) {
            Ok(r) => r,
            Err(e) if e.is_truncation() => continue,
            Err(e) => panic!("{}: {e}", path.display()),
        };
        loop {
            match reader.next_datagram() {
                Ok(Some(d)) => {
                    let now_ms = d.timestamp_ns.div_euclid(1_000_000);
                    decoder.captured_at(now_ms);
                    decode(&mut decoder, d.src.ip(), d.payload, now_ms);
                }
                Ok(None) => break,
                // A capture cut inside a record: what came before it counts.
                Err(e) if e.is_truncation() => break,
                Err(e) => panic!("{}: {e}", path.display()),
            }
        }
    }
    records_of(&text)
}

fn wall_clock_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// JSON Lines of records, parsed.
fn records_of(text: &[u8]) -> Vec<Record> {
    std::str::from_utf8(text)
        .unwrap()
        .lines()
        .map(|l| match serde_json::from_str::<Value>(l) {
            Ok(Value::Object(m)) => m,
            other => panic!("decode printed a non-object line {l:?}: {other:?}"),
        })
        .collect()
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
