//! Replays every saved fuzz input (`tests/fuzz_regressions/<target>/*.bin`) through
//! the same harness function its cargo-fuzz target runs (`tests/fuzz_harness`), so a
//! crash, hang or runaway allocation that fuzzing found once stays fixed.
//!
//! The inputs are the minimized crashing inputs the fuzzers found plus hand-made
//! nasty ones (zero and overflowing lengths, empty templates, huge counts, template id
//! collisions between exporters); each must decode to `Ok` or a typed error without
//! panicking, within a time bound.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod fuzz_harness;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Per-input bound. The slowest input takes a few milliseconds in a debug build; the
/// bound is generous for loaded CI machines, but an endless or quadratic loop on a
/// datagram-sized input still trips it.
const TIME_BOUND: Duration = Duration::from_secs(5);

type Harness = fn(&[u8]);

const TARGETS: &[(&str, Harness)] = &[
    ("netflow_v5", fuzz_harness::netflow_v5),
    ("netflow_v9", fuzz_harness::netflow_v9),
    ("ipfix", fuzz_harness::ipfix),
    ("sflow", fuzz_harness::sflow),
    ("any_datagram", fuzz_harness::any_datagram),
    ("packet", fuzz_harness::packet),
    ("template_snapshot", fuzz_harness::template_snapshot),
    ("capture", fuzz_harness::capture),
];

fn inputs(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.flatten().map(|e| e.path()).filter(|p| p.is_file()).collect())
        .unwrap_or_default();
    files.sort();
    files
}

#[test]
fn every_saved_input_is_handled_without_panic_in_bounded_time() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz_regressions");
    // Every directory must belong to a target, so no saved input is silently skipped.
    for entry in std::fs::read_dir(&root).unwrap().flatten() {
        let name = entry.file_name().into_string().unwrap();
        assert!(TARGETS.iter().any(|(t, _)| *t == name), "unknown fuzz target directory {name}");
    }
    let mut total = 0;
    let mut slowest = (Duration::ZERO, String::new());
    for (target, harness) in TARGETS {
        let files = inputs(&root.join(target));
        assert!(files.len() >= 2, "{target}: fewer than 2 regression inputs");
        for path in &files {
            let bytes = std::fs::read(path).unwrap();
            let name = format!("{target}/{}", path.file_name().unwrap().to_string_lossy());
            let started = Instant::now();
            let outcome = std::panic::catch_unwind(|| harness(&bytes));
            let took = started.elapsed();
            assert!(outcome.is_ok(), "{name} panicked");
            assert!(took < TIME_BOUND, "{name} took {took:?}");
            if took > slowest.0 {
                slowest = (took, name);
            }
            total += 1;
        }
        println!("{target}: {} inputs", files.len());
    }
    println!("fuzz regressions: {total} inputs replayed, slowest {} in {:?}", slowest.1, slowest.0);
}
