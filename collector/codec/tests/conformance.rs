//! Conformance with tshark: the codec, decoding captures as `flowvision-collector
//! decode` does, against the expectations that `tests/oracle/generate.py` produced from
//! tshark 4.0's dissection of every capture in the shared fixture corpus
//! (tests/expectations/, reviewed and committed; the captures themselves stay in
//! ../shared/fixtures, or FLOWVISION_FIXTURES). It needs no daemon: the decoding runs
//! in this process (`flowvision_tests::oracle::decode_in_process`).
//!
//! For each fixture of tests/expectations/MANIFEST.json the decoder runs on the same
//! inputs (raw payload files split as `--raw-split --exporter 192.0.2.1` does, exactly
//! as the oracle wrapped them), and its records are compared with the expected ones in
//! order, field by field:
//! * a field expected as `"?"` is one tshark cannot tell (see tests/oracle/README.md) and
//!   is skipped; so is a `null` time flagged `_uptime_unknown`;
//! * records FlowVision decodes and tshark does not are accepted only for datagrams the
//!   expectations mark (`{"tshark": "no template" | "exception" | "stopped at header
//!   count", ...}` with the datagram's protocol, exporter, domain and sequence): tshark
//!   only uses templates seen earlier, gives up after an exception and trusts the v9
//!   header count, where FlowVision holds data for its template and walks flowsets by
//!   their lengths;
//! * an expected record flagged `_partial` (tshark stopped inside it; the record is
//!   malformed) may be missing.
//!
//! Any other difference fails the test unless collector/codec/tests/conformance_known_differences.txt
//! lists it (fixture, field, reason). Entries that no longer match anything fail it too,
//! so the list stays true.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use flowvision_tests::fixtures::dir as fixtures_dir;
use flowvision_tests::oracle::{
    compare, datagram_of, decode_in_process, expectations_dir, read_lines, short, split_expectations, Record,
    FIELDS,
};
use serde_json::Value;
use std::collections::{BTreeSet, HashSet};
use std::fmt::Write as _;
use std::path::Path;

/// An allow-list entry: fixture, field, reason.
#[derive(Debug)]
struct KnownDifference {
    fixture: String,
    field: String,
    reason: String,
    line: usize,
}

fn known_differences() -> Vec<KnownDifference> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance_known_differences.txt");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let parts: Vec<&str> = line.splitn(3, '|').map(str::trim).collect();
        assert!(
            parts.len() == 3 && parts.iter().all(|p| !p.is_empty()),
            "{}:{}: expected `fixture | field | reason`, got {line:?}",
            path.display(),
            n + 1
        );
        let field = parts[1];
        assert!(
            FIELDS.contains(&field) || field == "missing_records" || field == "extra_records",
            "{}:{}: unknown field {field:?}",
            path.display(),
            n + 1
        );
        let reason = parts[2].to_lowercase();
        assert!(
            reason.len() >= 20 && !reason.contains("our bug") && !reason.contains("todo"),
            "{}:{}: give a real reason (what tshark or the capture does), not {:?}",
            path.display(),
            n + 1,
            parts[2]
        );
        out.push(KnownDifference {
            fixture: parts[0].to_owned(),
            field: field.to_owned(),
            reason: parts[2].to_owned(),
            line: n + 1,
        });
    }
    out
}

#[test]
fn decode_agrees_with_tshark_on_every_fixture() {
    let fixtures = fixtures_dir();
    assert!(
        fixtures.join("INDEX.json").is_file(),
        "the fixture corpus is missing: expected it at {} (set FLOWVISION_FIXTURES to its directory)",
        fixtures.display()
    );
    let exp_dir = expectations_dir();
    let manifest_path = exp_dir.join("MANIFEST.json");
    let manifest: Value = serde_json::from_str(
        &std::fs::read_to_string(&manifest_path)
            .unwrap_or_else(|e| panic!("{}: {e}", manifest_path.display())),
    )
    .unwrap();
    let known = known_differences();
    let mut used = vec![false; known.len()];

    let mut report = String::new();
    let mut failures = Vec::new();
    let (mut n_fixtures, mut n_expected, mut n_matched, mut n_extra, mut n_partial, mut n_ours) =
        (0, 0, 0, 0, 0, 0);
    for fx in manifest["fixtures"].as_array().unwrap() {
        let name = fx["name"].as_str().unwrap();
        let inputs: Vec<String> =
            fx["inputs"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()).collect();
        let raw = fx["feed"] == "raw";
        let (expected, markers) =
            split_expectations(read_lines(&exp_dir.join(fx["expectations"].as_str().unwrap())));
        assert_eq!(
            expected.len() as u64,
            fx["records"].as_u64().unwrap(),
            "{name}: MANIFEST record count differs from its expectation file"
        );
        let ours = decode_in_process(&fixtures, &inputs, raw);
        let result = compare(&expected, &markers, &ours);
        n_fixtures += 1;
        n_expected += result.expected;
        n_ours += result.ours;
        n_matched += result.matched;
        n_extra += result.extra_allowed;
        n_partial += result.partial_skipped;
        for (field, (count, ex)) in &result.problems {
            let allowed = known.iter().position(|k| k.fixture == name && &k.field == field);
            if let Some(k) = allowed {
                used[k] = true;
            } else {
                failures.push(format!("{name} {field}"));
            }
            let _ = writeln!(
                report,
                "  {:<4} {name}\n         {field}: {count} record(s); e.g. frame {} expected {} ours {}{}",
                if allowed.is_some() { "ok" } else { "FAIL" },
                ex.frame,
                short(&ex.expected),
                short(&ex.ours),
                allowed.map(|k| format!("\n         known: {}", known[k].reason)).unwrap_or_default()
            );
        }
    }
    println!(
        "conformance with tshark: {n_fixtures} fixtures, {n_expected} expected records, {n_ours} decoded, \
         {n_matched} compared record for record; {n_extra} decoded only by FlowVision in datagrams tshark \
         could not finish (template not yet seen, exception, v9 header count); {n_partial} partial tshark \
         records of malformed sets not decoded by FlowVision"
    );
    if report.is_empty() {
        println!("no differences");
    } else {
        println!("differences (fixture / field: count, first example):\n{report}");
    }
    let stale: Vec<String> = known
        .iter()
        .zip(&used)
        .filter(|(_, u)| !**u)
        .map(|(k, _)| format!("line {}: {} | {}", k.line, k.fixture, k.field))
        .collect();
    let mut problems = String::new();
    if !failures.is_empty() {
        let _ = writeln!(problems, "{} unexplained difference(s): {}", failures.len(), failures.join(", "));
    }
    if !stale.is_empty() {
        let _ = writeln!(
            problems,
            "conformance_known_differences.txt entries that match nothing any more (remove them): {}",
            stale.join("; ")
        );
    }
    assert!(problems.is_empty(), "{problems}");
    let distinct: BTreeSet<&str> = known.iter().map(|k| k.fixture.as_str()).collect();
    println!("known differences used: {} entries over {} fixtures", known.len(), distinct.len());
}

#[test]
fn comparator_catches_a_changed_value() {
    // The comparison itself must be able to fail: change one value and one record.
    let rec: Record = serde_json::from_str(
        r#"{"protocol":"netflow_v5","exporter":"192.0.2.1","observation_domain":0,"sequence":7,
            "src_addr":"10.0.0.1","dst_addr":"10.0.0.2","src_port":1,"dst_port":2,"proto":6,
            "tcp_flags":0,"tos":0,"bytes":100,"packets":1,"sampling_rate":1,"in_if":0,"out_if":0,
            "src_as":0,"dst_as":0,"next_hop":"0.0.0.0","src_mask":0,"dst_mask":0,"vlan":0,
            "flow_start":null,"flow_end":null}"#,
    )
    .unwrap();
    let none = HashSet::new();
    let same_result = compare(std::slice::from_ref(&rec), &none, std::slice::from_ref(&rec));
    assert!(same_result.problems.is_empty());
    assert_eq!(same_result.matched, 1);

    let mut changed = rec.clone();
    changed.insert("bytes".into(), Value::from(101));
    let r = compare(std::slice::from_ref(&rec), &none, &[changed]);
    assert_eq!(r.problems.keys().collect::<Vec<_>>(), ["bytes"]);

    let mut unknown = rec.clone();
    unknown.insert("bytes".into(), Value::from("?"));
    let mut v6 = rec.clone();
    v6.insert("next_hop".into(), Value::from("::ffff:0.0.0.0"));
    assert!(compare(&[unknown], &none, std::slice::from_ref(&rec)).problems.is_empty());
    assert_eq!(
        compare(std::slice::from_ref(&rec), &none, &[v6]).problems.keys().collect::<Vec<_>>(),
        ["next_hop"]
    );

    let mut other = rec.clone();
    other.insert("src_port".into(), Value::from(9));
    let r = compare(std::slice::from_ref(&rec), &none, &[rec.clone(), other.clone()]);
    assert_eq!(r.problems.keys().collect::<Vec<_>>(), ["extra_records"]);
    let marked = HashSet::from([datagram_of(&rec)]);
    let r = compare(std::slice::from_ref(&rec), &marked, &[rec.clone(), other]);
    assert!(r.problems.is_empty());
    assert_eq!(r.extra_allowed, 1);
    let r = compare(&[rec.clone(), rec.clone()], &none, std::slice::from_ref(&rec));
    assert_eq!(r.problems.keys().collect::<Vec<_>>(), ["missing_records"]);
}
