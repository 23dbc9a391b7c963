//! What the cargo-fuzz target `resolve` runs on each input (fuzz/fuzz_targets), shared
//! with the `fuzz_regressions` test so saved inputs are replayed by `cargo test`.
//!
//! The promise: any bytes give a model and diagnostics, never a panic, an endless loop
//! or a runaway allocation; and what comes out is consistent.

use flowvision_mib::{resolve, scan, ResolveOptions, SourceText};

/// The input as one file; the first byte `0x00` splits it into two files at its
/// second byte's position (scaled), so that imports between files are fuzzed too.
pub fn resolve_bytes(data: &[u8]) {
    let sources = match data.split_first() {
        Some((0, rest)) if rest.len() > 1 => {
            let at = rest.first().map_or(0, |&b| usize::from(b) * rest.len() / 256);
            let (a, b) = rest.split_at(at.min(rest.len()));
            vec![SourceText::new("fuzz-a", a.to_vec()), SourceText::new("fuzz-b", b.to_vec())]
        }
        _ => vec![SourceText::new("fuzz", data.to_vec())],
    };
    for s in &sources {
        for h in scan::module_headers(s.bytes()) {
            assert!(h.line >= 1, "header line {}", h.line);
        }
    }
    let mib = resolve(&sources, &ResolveOptions { threads: Some(1), ..Default::default() });
    assert!(mib.nodes().windows(2).all(|w| w.first().map(|n| &n.oid) <= w.get(1).map(|n| &n.oid)));
    assert_eq!(mib.files().len(), sources.len());
    for f in mib.files() {
        assert!(!f.loaded.is_empty() || f.diagnostics > 0, "{} silent", f.file);
    }
    for d in mib.diagnostics() {
        assert!(!d.message.is_empty());
        assert!(d.line.is_none_or(|l| l >= 1), "{d}");
    }
}

/// The cargo-fuzz target `bundle`: any bytes as an uploaded file or archive, under the
/// default bounds and under small ones (so that every bound is reachable by small
/// inputs). The promise: an error or a bundle within the bounds, whose names are
/// relative paths without `..` or NUL; never a panic or an allocation past the bounds.
pub fn bundle_bytes(data: &[u8]) {
    use flowvision_mib::bundle::{unpack, Limits};
    let small = Limits { max_entries: 16, max_file_bytes: 4096, max_total_bytes: 16_384, max_name_bytes: 64 };
    for limits in [Limits::default(), small] {
        let Ok(b) = unpack("fuzz.bin", data, &limits) else { continue };
        assert!(b.files.len() + b.skipped.len() <= limits.max_entries.max(1));
        let total: u64 = b.files.iter().map(|f| f.bytes.len() as u64).sum();
        assert!(total <= limits.max_total_bytes, "{total} bytes expanded");
        for f in &b.files {
            assert!(!f.bytes.is_empty() && f.bytes.len() as u64 <= limits.max_file_bytes);
            assert!(!f.name.is_empty() && !f.name.starts_with('/') && !f.name.contains('\0'), "{:?}", f.name);
            assert!(f.name.split('/').all(|p| p != ".." && p != "." && !p.is_empty()), "{:?}", f.name);
        }
    }
}
