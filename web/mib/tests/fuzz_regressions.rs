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

/// The `bundle` target's harness on hand-made archives and every truncation of them
/// (a cut archive is the commonest broken upload): errors or bounded bundles, no panic.
#[test]
fn archives_and_their_truncations_unpack_within_bounds() {
    use std::io::Write;
    let mib: &[u8] = b"A-MIB DEFINITIONS ::= BEGIN\nEND\n";
    let gz = |data: &[u8]| {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    };
    let mut t = tar::Builder::new(Vec::new());
    for name in ["a/A-MIB.txt", "b/B.txt"] {
        let mut h = tar::Header::new_gnu();
        h.set_size(mib.len() as u64);
        h.set_cksum();
        t.append_data(&mut h, name, mib).unwrap();
    }
    let tar = t.into_inner().unwrap();
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    z.start_file("d/A-MIB.my", opts).unwrap();
    z.write_all(mib).unwrap();
    z.start_file("d/inner.tgz", opts).unwrap();
    z.write_all(&gz(&tar)).unwrap();
    let zip = z.finish().unwrap().into_inner();
    let bomb = gz(&vec![0u8; 1 << 20]);
    let mut n = 0;
    for input in [tar.clone(), gz(&tar), zip, bomb, gz(mib)] {
        for len in (0..=input.len()).step_by(7).chain([input.len()]) {
            fuzz_harness::bundle_bytes(&input[..len]);
            n += 1;
        }
    }
    println!("{n} archives and truncations unpacked within bounds");
}
