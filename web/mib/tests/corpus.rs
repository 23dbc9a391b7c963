//! The whole MIB corpus (../shared/mibs, 1,000 real files) against net-snmp.
//!
//! Every file must yield a module or a diagnostic, and the (name, OID) pairs must
//! agree with `snmptranslate -m ALL -M <same folders> -Tz` on at least 99%: the
//! comparison is defined in docs/mib.md ("Agreement with net-snmp").

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use flowvision_mib::{fs, resolve, resolve_incremental, Mib, ResolveOptions, SourceText};

mod corpus_files;
use corpus_files::{base_dirs, corpus_dir};

/// Every folder under `root`, itself included: net-snmp's -M does not recurse.
fn folders(root: &Path, out: &mut Vec<PathBuf>) {
    out.push(root.to_path_buf());
    let mut entries: Vec<PathBuf> = std::fs::read_dir(root).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    for p in entries.into_iter().filter(|p| p.is_dir()) {
        folders(&p, out);
    }
}

type Pairs = BTreeSet<(String, String)>;

/// What the comparison leaves out on both sides, and why (docs/mib.md):
/// - labels with `#`: net-snmp's invented names, `anonymous#N` for unnamed arcs of OID
///   values such as `{ enterprises 30065 1 3011 }` and `enterprise#` for the
///   `enterprise.0` arc under which it files SMIv1 TRAP-TYPEs; no module defines them.
/// - single-arc OIDs (`iso`, `ccitt`, `joint-iso-ccitt`): -Tz does not print the roots.
fn comparable(name: &str, oid: &str) -> bool {
    !name.contains('#') && oid.contains('.')
}

fn snmptranslate(dirs: &[PathBuf]) -> Pairs {
    let search = std::env::join_paths(dirs).unwrap();
    let out = Command::new("snmptranslate")
        .args(["-m", "ALL", "-M"])
        .arg(&search)
        .arg("-Tz")
        .output()
        .unwrap_or_else(|e| {
            panic!("snmptranslate not runnable ({e}): apt-get install -y snmp libsnmp-base (deploy/test.sh does)")
        });
    assert!(out.status.success(), "snmptranslate failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            // "name"\t\t\t"1.3.6.1"
            let mut parts = l.split('"');
            let name = parts.nth(1)?;
            let oid = parts.nth(1)?;
            Some((name.to_owned(), oid.to_owned()))
        })
        .filter(|(n, o)| comparable(n, o))
        .collect()
}

fn ours(mib: &Mib) -> Pairs {
    mib.nodes()
        .iter()
        .map(|n| (n.name.clone(), n.oid.to_string()))
        .filter(|(n, o)| comparable(n, o))
        .collect()
}

#[test]
fn corpus_resolves_and_agrees_with_net_snmp() {
    let corpus = corpus_dir();
    let bases = base_dirs();

    let started = Instant::now();
    let files = fs::collect_files(std::slice::from_ref(&corpus)).unwrap();
    let mut sources = fs::read_files(&files).unwrap();
    sources.extend(fs::read_files(&fs::base_files(&bases).unwrap()).unwrap());
    let mib = resolve(&sources, &ResolveOptions::default());
    let elapsed = started.elapsed();

    // Every file yields a module or diagnostics.
    let silent: Vec<&str> = mib
        .files()
        .iter()
        .filter(|f| f.loaded.is_empty() && f.diagnostics == 0)
        .map(|f| f.file.as_str())
        .collect();
    assert!(silent.is_empty(), "files with neither a module nor a diagnostic: {silent:?}");

    let mut by_severity: BTreeMap<&str, usize> = BTreeMap::new();
    for d in mib.diagnostics() {
        *by_severity.entry(d.severity.as_str()).or_default() += 1;
    }

    let mut dirs = Vec::new();
    folders(&corpus, &mut dirs);
    dirs.extend(bases.iter().cloned());
    let started_oracle = Instant::now();
    let oracle = snmptranslate(&dirs);
    let oracle_elapsed = started_oracle.elapsed();
    let mine = ours(&mib);

    let agree = oracle.intersection(&mine).count();
    let only_oracle: Vec<_> = oracle.difference(&mine).collect();
    let only_ours: Vec<_> = mine.difference(&oracle).collect();
    let union = agree + only_oracle.len() + only_ours.len();
    let ratio = agree as f64 / union as f64;

    println!(
        "files {} (corpus {}), modules {}, diagnostics {} {:?}, resolve {:.2?} (snmptranslate {:.2?})",
        mib.files().len(),
        files.len(),
        mib.modules().len(),
        mib.diagnostics().len(),
        by_severity,
        elapsed,
        oracle_elapsed
    );
    println!(
        "pairs compared {union} (net-snmp {}, ours {}), agreeing {agree}, differing {} \
         (net-snmp only {}, ours only {}), agreement {:.4}",
        oracle.len(),
        mine.len(),
        only_oracle.len() + only_ours.len(),
        only_oracle.len(),
        only_ours.len(),
        ratio
    );
    for (n, o) in &only_oracle {
        println!("  net-snmp only: {n} {o}");
    }
    for (n, o) in &only_ours {
        println!("  ours only:     {n} {o}");
    }
    assert!(ratio >= 0.99, "agreement {ratio:.4} below 0.99");

    incremental_equals_full(&sources, &mib);
}

/// The model's content compared between two resolves: every node, every module.
fn content(mib: &Mib) -> (Vec<String>, Vec<String>) {
    let nodes = mib.nodes().iter().map(|n| format!("{:?}", n)).collect();
    let mut modules: Vec<String> = mib.modules().iter().map(|m| format!("{m:?}")).collect();
    modules.sort();
    (nodes, modules)
}

/// Adding files to a resolved set re-resolves only what they affect, and gives the
/// same model as resolving everything: here the Juniper SMI (which 99 modules import,
/// so they are all resolved again) and the Cisco products (which nothing imports).
fn incremental_equals_full(all: &[SourceText], full: &Mib) {
    let added: Vec<&str> = all
        .iter()
        .map(SourceText::label)
        .filter(|l| l.ends_with("juniper/mib-jnx-smi.txt") || l.ends_with("cisco/CISCO-PRODUCTS-MIB.my"))
        .collect();
    assert_eq!(added.len(), 2, "corpus files missing");
    let without: Vec<SourceText> = all.iter().filter(|s| !added.contains(&s.label())).cloned().collect();
    let options = ResolveOptions::default();
    let before = resolve(&without, &options);
    assert!(before.lookup("JUNIPER-SMI::juniperMIB").is_none());
    let started = Instant::now();
    let after = resolve_incremental(&before, all, &added, &options);
    println!("incremental resolve of {added:?}: {:.2?}", started.elapsed());
    let (full_nodes, full_modules) = content(full);
    let (nodes, modules) = content(&after);
    let (full_set, set): (BTreeSet<&String>, BTreeSet<&String>) =
        (full_nodes.iter().collect(), nodes.iter().collect());
    let missing: Vec<_> = full_set.difference(&set).take(5).collect();
    let extra: Vec<_> = set.difference(&full_set).take(5).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "incremental differs: missing {missing:?}, extra {extra:?}"
    );
    assert_eq!(nodes.len(), full_nodes.len());
    assert!(nodes == full_nodes, "same nodes, different order");
    // Lookups by name, served from the merged name index.
    for n in full.nodes().iter().map(|n| &**n).step_by(97).chain(full.by_name("juniperMIB")) {
        let a: Vec<String> = after.by_name(&n.name).map(|x| format!("{x:?}")).collect();
        let f: Vec<String> = full.by_name(&n.name).map(|x| format!("{x:?}")).collect();
        assert_eq!(a, f, "by_name({})", n.name);
    }
    assert_eq!(modules, full_modules);
    assert!(after.lookup("JUNIPER-SMI::juniperMIB").is_some());
    let differing: Vec<_> = after.files().iter().zip(full.files()).filter(|(a, b)| a != b).take(10).collect();
    assert!(differing.is_empty(), "file reports differ (incremental, full): {differing:#?}");
}
