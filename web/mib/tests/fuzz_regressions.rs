//! Replays every saved fuzz input (`tests/fuzz_regressions/resolve/*`) through the
//! harness the cargo-fuzz target runs (`tests/fuzz_harness`), so that what fuzzing
//! found once stays fixed without any fuzzing tool installed. The inputs are small
//! hand-written or minimized files, never corpus files.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod fuzz_harness;

use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Per-input bound, generous for a loaded debug build; an endless or quadratic loop on
/// a small input still trips it.
const TIME_BOUND: Duration = Duration::from_secs(10);

#[test]
fn saved_inputs_resolve_without_panic() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz_regressions/resolve");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    assert!(!files.is_empty(), "no saved inputs in {}", dir.display());
    for f in &files {
        let data = std::fs::read(f).unwrap();
        let started = Instant::now();
        fuzz_harness::resolve_bytes(&data);
        let took = started.elapsed();
        println!("{}: {} bytes, {took:.2?}", f.display(), data.len());
        assert!(took < TIME_BOUND, "{} took {took:?}", f.display());
    }
}
