//! FlowVision's own SMI reader: tokens ([`lex`]), modules and definitions
//! ([`parse`]), names, OIDs and types linked across modules ([`link`]).
//!
//! Written because resolving the whole corpus through `mib-rs` took 3.5 times as long
//! as net-snmp (docs/mib.md, "Performance"): `mib-rs` builds a complete semantic model
//! with a source span for everything, where the console needs the OID tree and each
//! object's definition. This reader keeps tokens borrowed from the file, reads a
//! definition's clauses only when building its node, and parses files on every core.
//! `mib-rs` stays as the oracle its tests compare against (`tests/engines.rs`).

mod builtin;
mod lex;
pub(crate) mod link;
mod parse;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::source::SourceText;
use link::{Doc, Linked, Unit};

/// Loaded whatever is asked for: where types used without an import are found.
const SMI_MODULES: [&str; 3] = ["SNMPv2-SMI", "SNMPv2-TC", "RFC1155-SMI"];

/// Resolves the modules of `sources`: all of them (`only` is `None`), or the named
/// ones and everything they import. `modules`: module name → the sources declaring
/// it, in precedence order.
pub(crate) fn load(
    sources: &[SourceText],
    modules: &BTreeMap<String, Vec<usize>>,
    only: Option<&[String]>,
    threads: usize,
) -> Linked {
    let mut docs: Vec<Option<Doc<'_>>> = (0..sources.len()).map(|_| None).collect();
    match only {
        None => {
            let wanted: BTreeSet<usize> = modules.values().flatten().copied().collect();
            parse_all(sources, &wanted.into_iter().collect::<Vec<_>>(), threads, &mut docs);
        }
        Some(names) => {
            // The SMI's modules always: types nobody imported are looked up there.
            let mut todo: Vec<String> = SMI_MODULES.iter().map(|m| (*m).to_owned()).collect();
            todo.extend(names.iter().cloned());
            let mut done: BTreeSet<String> = BTreeSet::new();
            while let Some(name) = todo.pop() {
                if !done.insert(name.clone()) {
                    continue;
                }
                for &i in modules.get(&name).into_iter().flatten() {
                    let (Some(slot), Some(source)) = (docs.get_mut(i), sources.get(i)) else { continue };
                    if slot.is_none() {
                        *slot = Some(Doc::parse(source.shared_label(), source.bytes()));
                    }
                    let Some(doc) = slot.as_ref() else { continue };
                    if let Some(m) = doc.modules.iter().find(|m| m.name == name) {
                        todo.extend(m.imports.iter().map(|i| i.module.to_owned()));
                        break;
                    }
                }
            }
        }
    }
    let mut docs: Vec<Doc<'_>> = docs
        .into_iter()
        .enumerate()
        .map(|(i, d)| {
            d.unwrap_or_else(|| Doc {
                label: sources.get(i).map(SourceText::shared_label).unwrap_or_else(|| Arc::from("")),
                bytes: &[],
                toks: Vec::new(),
                modules: Vec::new(),
            })
        })
        .collect();

    // The copy of each module that is used: the first source that holds it.
    let mut units: Vec<Unit> = Vec::new();
    let mut chosen: BTreeSet<&str> = BTreeSet::new();
    for (name, candidates) in modules {
        for &i in candidates {
            let Some(doc) = docs.get(i) else { continue };
            if let Some(m) = doc.modules.iter().position(|m| m.name == name.as_str()) {
                units.push(Unit { doc: i, module: m });
                chosen.insert(name.as_str());
                break;
            }
        }
    }
    // The SMI's own modules, when imported and no source provides them.
    let imported: BTreeSet<String> = units
        .iter()
        .filter_map(|u| docs.get(u.doc)?.modules.get(u.module))
        .flat_map(|m| m.imports.iter().map(|i| i.module.to_owned()))
        .collect();
    let missing: Vec<&(&str, &str)> = builtin::MODULES
        .iter()
        .filter(|(name, _)| {
            (imported.contains(*name) || SMI_MODULES.contains(name)) && !chosen.contains(name)
        })
        .collect();
    for (name, text) in missing {
        units.push(Unit { doc: docs.len(), module: 0 });
        docs.push(Doc::parse(Arc::from(format!("embedded:{name}")), text.as_bytes()));
    }
    link::link(&docs, &units, threads)
}

/// Parses `which` sources on `threads` threads, each taking the next unparsed file.
fn parse_all<'a>(sources: &'a [SourceText], which: &[usize], threads: usize, docs: &mut [Option<Doc<'a>>]) {
    let next = AtomicUsize::new(0);
    let parsed: Mutex<Vec<(usize, Doc<'a>)>> = Mutex::new(Vec::with_capacity(which.len()));
    let work = || {
        let mut mine = Vec::new();
        loop {
            let k = next.fetch_add(1, Ordering::Relaxed);
            let Some(&i) = which.get(k) else { break };
            if let Some(s) = sources.get(i) {
                mine.push((i, Doc::parse(s.shared_label(), s.bytes())));
            }
        }
        // A poisoned lock means another parser thread panicked; its panic is re-raised
        // by the scope, so what is kept here does not matter.
        if let Ok(mut all) = parsed.lock() {
            all.extend(mine);
        }
    };
    std::thread::scope(|scope| {
        for _ in 1..threads.clamp(1, 16) {
            if std::thread::Builder::new().spawn_scoped(scope, work).is_err() {
                break;
            }
        }
        work();
    });
    for (i, doc) in parsed.into_inner().unwrap_or_else(|e| e.into_inner()) {
        if let Some(slot) = docs.get_mut(i) {
            *slot = Some(doc);
        }
    }
}
