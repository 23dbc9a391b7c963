//! A fixed MIB workload for instruction counting (docs/mib.md, "Performance"):
//! `valgrind --tool=callgrind` counts instructions, not seconds, so the figure repeats
//! on a busy shared machine where the wall-clock times of `bench/src/bin/mib.rs` do not.
//!
//! ```text
//! cargo build --release -p flowvision-bench --example mib_instructions
//! valgrind --tool=callgrind target/release/examples/mib_instructions read
//! valgrind --tool=callgrind target/release/examples/mib_instructions full
//! valgrind --tool=callgrind --toggle-collect='*resolve_incremental*' \
//!     target/release/examples/mib_instructions add cisco/CISCO-PRODUCTS-MIB.my
//! ```
//!
//! `read` only reads the files (subtract it from `full`); `full` resolves the corpus
//! (`FLOWVISION_MIBS`) plus the base folders once; `add FILE` resolves everything but
//! FILE, then re-resolves incrementally with it, and only the latter is counted with
//! `--toggle-collect`. One parser thread, so that every instruction is on the thread
//! callgrind counts and the total does not depend on scheduling.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, missing_docs)]

use std::path::PathBuf;

use flowvision_mib::{base, fs, resolve, resolve_incremental, ResolveOptions, SourceText};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let corpus = PathBuf::from(std::env::var_os("FLOWVISION_MIBS").expect("FLOWVISION_MIBS"));
    let bases = base::dirs(std::env::var_os(base::ENV).as_deref());
    let mut sources = fs::read_files(&fs::collect_files(&[corpus]).unwrap()).unwrap();
    sources.extend(fs::read_files(&fs::base_files(&bases).unwrap()).unwrap());
    let options = ResolveOptions { threads: Some(1), ..Default::default() };
    match args.get(1).map(String::as_str) {
        Some("read") => println!("{} files", sources.len()),
        Some("full") => println!("{} nodes", resolve(&sources, &options).nodes().len()),
        Some("add") => {
            let added = args.get(2).expect("add FILE");
            let label = sources.iter().map(SourceText::label).find(|l| l.ends_with(added.as_str())).unwrap();
            let label = label.to_owned();
            let without: Vec<SourceText> = sources.iter().filter(|s| s.label() != label).cloned().collect();
            let before = resolve(&without, &options);
            let after = resolve_incremental(&before, &sources, &[label.as_str()], &options);
            println!("{} nodes", after.nodes().len());
        }
        _ => panic!("usage: mib_instructions read | full | add FILE"),
    }
}
