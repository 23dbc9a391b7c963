//! The native SMI reader against `mib-rs` on the whole corpus, field by field.
//!
//! Both build the same model ([`flowvision_mib::MibNode`], [`flowvision_mib::ModuleInfo`]);
//! the native one is the default since it is several times faster (docs/mib.md). This
//! test holds it to `mib-rs`'s reading of every definition both have: each field must
//! agree on at least 97% of nodes (the exceptions, and why, are in docs/mib.md).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::collections::BTreeMap;

use flowvision_mib::{resolve, Engine, MibNode, NodeKind, ResolveOptions};

mod corpus_files;

/// The fields compared, each as text.
fn fields(n: &MibNode) -> Vec<(&'static str, String)> {
    let syntax = n.syntax.clone().unwrap_or_default();
    vec![
        ("kind", format!("{:?}", n.kind)),
        ("status", format!("{:?}", n.status)),
        ("access", format!("{:?}", n.access)),
        ("syntax.type_name", syntax.type_name),
        ("syntax.textual_convention", format!("{:?}", syntax.textual_convention)),
        ("syntax.base", syntax.base),
        ("syntax.display_hint", syntax.display_hint),
        ("syntax.named_values", format!("{:?}", syntax.named_values)),
        ("syntax.ranges", format!("{:?}", syntax.ranges)),
        ("units", n.units.clone()),
        ("defval", format!("{:?}", n.defval)),
        ("index", format!("{:?} {}", n.index, n.index_implied_last)),
        ("augments", format!("{:?}", n.augments)),
        ("members", format!("{:?}", n.members)),
        ("description", n.description.clone()),
    ]
}

#[test]
fn native_reader_agrees_with_mib_rs() {
    let (sources, _) = corpus_files::corpus_and_base();

    let native = resolve(&sources, &ResolveOptions::default());
    let reference = resolve(&sources, &ResolveOptions { engine: Engine::MibRs, ..Default::default() });

    let key = |n: &MibNode| (n.module.clone(), n.name.clone(), n.oid.to_string());
    let theirs: BTreeMap<_, _> = reference.nodes().iter().map(|n| (key(n), n)).collect();
    let ours: BTreeMap<_, _> = native.nodes().iter().map(|n| (key(n), n)).collect();
    let both: Vec<_> = ours.keys().filter(|k| theirs.contains_key(*k)).collect();
    let only_ours = ours.len() - both.len();
    let only_theirs = theirs.len() - both.len();
    for k in ours.keys().filter(|k| !theirs.contains_key(*k)).step_by(40) {
        println!("  native only: {}::{} {} {:?}", k.0, k.1, k.2, ours[k].kind);
    }
    println!(
        "nodes: native {}, mib-rs {}, both {} (native only {only_ours}, mib-rs only {only_theirs})",
        ours.len(),
        theirs.len(),
        both.len()
    );
    let mut examples: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    let mut agree: BTreeMap<&str, usize> = BTreeMap::new();
    for k in &both {
        let (a, b) = (fields(ours[*k]), fields(theirs[*k]));
        let kind = ours[*k].kind;
        for ((name, x), (_, y)) in a.into_iter().zip(b) {
            // Known, deliberate differences (docs/mib.md "The native reader"): mib-rs
            // gives tables and rows no syntax, MODULE-IDENTITY nodes no description,
            // and groups, compliances and capabilities no status; the native reader does.
            let skip = (name.starts_with("syntax.") && matches!(kind, NodeKind::Table | NodeKind::Row))
                || (name == "description" && kind == NodeKind::ModuleIdentity)
                || (name == "status"
                    && matches!(kind, NodeKind::Group | NodeKind::Compliance | NodeKind::Capabilities));
            if skip || x == y {
                *agree.entry(name).or_default() += 1;
            } else {
                let e = examples.entry(name).or_default();
                if e.len() < 4 {
                    e.push(format!("{}::{}: native {x:?} / mib-rs {y:?}", k.0, k.1));
                }
            }
        }
    }
    let mut worst = 1.0f64;
    for (name, _) in fields(ours[both[0]]) {
        let n = agree.get(name).copied().unwrap_or_default();
        let share = n as f64 / both.len() as f64;
        worst = worst.min(share);
        println!("{name:28} {n:6} of {} agree ({:.2}%)", both.len(), share * 100.0);
        for e in examples.get(name).into_iter().flatten() {
            println!("    {e}");
        }
    }
    let modules_both = native.modules().iter().filter(|m| reference.module(&m.name).is_some()).count();
    let same = |f: &dyn Fn(&flowvision_mib::ModuleInfo) -> String| {
        native.modules().iter().filter(|m| reference.module(&m.name).is_some_and(|r| f(r) == f(m))).count()
    };
    println!(
        "modules: native {}, mib-rs {}, both {modules_both}; same file {}, language {}, last revision {}, \
         organization {}, imports {}, references {}",
        native.modules().len(),
        reference.modules().len(),
        same(&|m| m.file.clone()),
        same(&|m| m.language.clone()),
        same(&|m| format!("{:?}", m.last_revision)),
        same(&|m| m.organization.clone()),
        same(&|m| format!("{:?}", m.imports)),
        same(&|m| format!("{:?}", m.references)),
    );
    assert!(both.len() as f64 >= 0.99 * theirs.len() as f64, "native misses nodes mib-rs has");
    assert!(worst >= 0.97, "a field agrees on fewer than 97% of nodes");
}
