//! MIB loading benchmark (docs/mib.md "Performance"): the whole MIB corpus plus the
//! base modules, resolved by flowvision-mib, against net-snmp's
//! `snmptranslate -m ALL -M <same folders> -Tz` in the same run; and the time to
//! re-resolve after adding one module, incrementally and in full.
//!
//! The native reader (the default engine) and `mib-rs` (the engine before it) are both
//! timed in each repetition.
//!
//! Each figure is the median of `--runs` repetitions, interleaved (ours, then
//! snmptranslate, then the next repetition) so that load from elsewhere on the machine
//! hits both alike. Reading the files is timed apart from resolving them; snmptranslate
//! reads its files inside its own time, so "read + resolve" is the figure to compare.
//!
//! `cargo run --release -p flowvision-bench --bin mib [-- --runs 5 --mibs DIR]`;
//! the corpus is `FLOWVISION_MIBS` or `../shared/mibs` beside the checkout, the base
//! folders `FLOWVISION_BASE_MIBS` or Debian's.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Parser;
use flowvision_mib::{base, fs, resolve, resolve_incremental, Engine, ResolveOptions, SourceText};

#[derive(Parser)]
#[command(about = "MIB corpus load and resolve time against snmptranslate")]
struct Args {
    /// Repetitions (the median is reported).
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// The MIB corpus (default: FLOWVISION_MIBS, else ../shared/mibs beside the checkout).
    #[arg(long)]
    mibs: Option<PathBuf>,
    /// Parser threads (default: one per CPU, as `mib dump` runs).
    #[arg(long)]
    threads: Option<usize>,
    /// Skip the mib-rs engine's runs (measured in the same run by default).
    #[arg(long)]
    no_mib_rs: bool,
}

/// The leaf added in the "add one module" case: nothing imports it, as with a
/// vendor's product MIB uploaded to the console.
const LEAF: &str = "cisco/CISCO-PRODUCTS-MIB.my";
/// A small leaf of the same kind (Palo Alto's product OIDs).
const SMALL_LEAF: &str = "paloalto/PAN-PRODUCT-MIB.my";
/// The other case: a vendor SMI that 99 Juniper modules import, all re-resolved.
const ROOT: &str = "juniper/mib-jnx-smi.txt";

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

fn folders(root: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    out.push(root.to_path_buf());
    let mut entries: Vec<PathBuf> =
        std::fs::read_dir(root)?.map(|e| e.map(|e| e.path())).collect::<Result<_, _>>()?;
    entries.sort();
    for p in entries.into_iter().filter(|p| p.is_dir()) {
        folders(&p, out)?;
    }
    Ok(())
}

fn snmptranslate(dirs: &[PathBuf]) -> anyhow::Result<(Duration, usize)> {
    let started = Instant::now();
    let out = Command::new("snmptranslate")
        .args(["-m", "ALL", "-M"])
        .arg(std::env::join_paths(dirs)?)
        .arg("-Tz")
        .stderr(Stdio::null())
        .output()
        .context("snmptranslate (apt-get install -y snmp libsnmp-base)")?;
    let took = started.elapsed();
    if !out.status.success() {
        bail!("snmptranslate failed");
    }
    Ok((took, out.stdout.iter().filter(|&&b| b == b'\n').count()))
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let corpus = args.mibs.clone().unwrap_or_else(|| {
        std::env::var_os("FLOWVISION_MIBS")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/mibs"))
    });
    if !corpus.is_dir() {
        bail!("MIB corpus not found at {} (set FLOWVISION_MIBS or --mibs)", corpus.display());
    }
    let bases: Vec<PathBuf> =
        base::dirs(std::env::var_os(base::ENV).as_deref()).into_iter().filter(|d| d.is_dir()).collect();
    let mut dirs = Vec::new();
    folders(&corpus, &mut dirs)?;
    dirs.extend(bases.iter().cloned());
    let files = fs::collect_files(std::slice::from_ref(&corpus))?;
    let base_files = fs::base_files(&bases)?;
    let options = ResolveOptions { threads: args.threads, ..Default::default() };

    let reference = ResolveOptions { threads: args.threads, engine: Engine::MibRs };

    let (mut read, mut ours, mut theirs, mut mib_rs) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut sources: Vec<SourceText> = Vec::new();
    let (mut nodes, mut pairs, mut mib_rs_nodes) = (0, 0, 0);
    for _ in 0..args.runs.max(1) {
        let started = Instant::now();
        sources = fs::read_files(&files)?;
        sources.extend(fs::read_files(&base_files)?);
        read.push(started.elapsed());
        let started = Instant::now();
        let mib = resolve(&sources, &options);
        ours.push(started.elapsed());
        nodes = mib.nodes().len();
        let (took, n) = snmptranslate(&dirs)?;
        theirs.push(took);
        pairs = n;
        if !args.no_mib_rs {
            let started = Instant::now();
            mib_rs_nodes = resolve(&sources, &reference).nodes().len();
            mib_rs.push(started.elapsed());
        }
    }
    let bytes: usize = sources.iter().map(|s| s.bytes().len()).sum();
    println!(
        "corpus {} ({} files + {} base files, {:.1} MB), {} runs, parser threads {}",
        corpus.display(),
        files.len(),
        base_files.len(),
        bytes as f64 / 1e6,
        args.runs,
        args.threads.map_or("per CPU".to_owned(), |t| t.to_string())
    );
    let (read, ours, theirs) = (median(read), median(ours), median(theirs));
    let ratio = (read + ours).as_secs_f64() / theirs.as_secs_f64();
    println!("read files            {:>9.1} ms", read.as_secs_f64() * 1e3);
    println!("resolve               {:>9.1} ms   ({nodes} nodes)", ours.as_secs_f64() * 1e3);
    println!("read + resolve        {:>9.1} ms", (read + ours).as_secs_f64() * 1e3);
    println!("snmptranslate -Tz     {:>9.1} ms   ({pairs} lines)", theirs.as_secs_f64() * 1e3);
    println!("read + resolve / snmptranslate: {ratio:.2}");
    if !mib_rs.is_empty() {
        let m = median(mib_rs);
        println!(
            "resolve with mib-rs   {:>9.1} ms   ({mib_rs_nodes} nodes; the engine before the native reader), / snmptranslate {:.2}",
            m.as_secs_f64() * 1e3,
            (read + m).as_secs_f64() / theirs.as_secs_f64()
        );
    }

    for added in [LEAF, SMALL_LEAF, ROOT] {
        let label = sources
            .iter()
            .map(SourceText::label)
            .find(|l| l.ends_with(added))
            .with_context(|| format!("{added} not in the corpus"))?
            .to_owned();
        let without: Vec<SourceText> = sources.iter().filter(|s| s.label() != label).cloned().collect();
        let before = resolve(&without, &options);
        let (mut inc, mut full) = (Vec::new(), Vec::new());
        let mut check = (0, 0);
        for _ in 0..args.runs.max(1) {
            let started = Instant::now();
            let after = resolve_incremental(&before, &sources, &[label.as_str()], &options);
            inc.push(started.elapsed());
            let started = Instant::now();
            let all = resolve(&sources, &options);
            full.push(started.elapsed());
            check = (after.nodes().len(), all.nodes().len());
        }
        let changed = before.modules().len();
        println!(
            "add {added}: incremental {:>7.1} ms, full {:>7.1} ms (nodes {} / {}, {changed} modules before)",
            median(inc).as_secs_f64() * 1e3,
            median(full).as_secs_f64() * 1e3,
            check.0,
            check.1
        );
    }
    Ok(())
}
