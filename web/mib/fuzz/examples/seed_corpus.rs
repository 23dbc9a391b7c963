//! Seeds `fuzz/corpus/resolve/` (gitignored): the saved regression inputs, plus every
//! file of the shared MIB corpus up to 64 KiB (`../shared/mibs` beside the checkout,
//! or `FLOWVISION_MIBS`). Corpus bytes never enter the repository.
//!
//! `cargo run --release --example seed_corpus` from `web/mib/fuzz`.

use std::path::{Path, PathBuf};

const MAX_SEED: u64 = 64 * 1024;

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for e in std::fs::read_dir(dir)? {
        let p = e?.path();
        if p.is_dir() {
            walk(&p, out)?;
        } else {
            out.push(p);
        }
    }
    Ok(())
}

fn main() -> std::io::Result<()> {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mibs = std::env::var_os("FLOWVISION_MIBS")
        .map(PathBuf::from)
        .unwrap_or_else(|| here.join("../../../../shared/mibs"));
    let out = here.join("corpus/resolve");
    std::fs::create_dir_all(&out)?;
    let mut files = Vec::new();
    walk(&here.join("../tests/fuzz_regressions/resolve"), &mut files)?;
    if mibs.is_dir() {
        walk(&mibs, &mut files)?;
    } else {
        eprintln!("MIB corpus not found at {} (set FLOWVISION_MIBS); regression seeds only", mibs.display());
    }
    let mut n = 0;
    for f in files {
        if std::fs::metadata(&f)?.len() <= MAX_SEED {
            std::fs::copy(&f, out.join(format!("seed-{n:04}")))?;
            n += 1;
        }
    }
    println!("{n} seeds in {}", out.display());
    Ok(())
}
