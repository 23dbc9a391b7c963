//! The entry points: sources indexed by the module names in their text, handed to the
//! engine (the native reader in `crate::smi`, or `mib-rs`, bridged below: it takes the
//! same index as a `mib_rs::Source` and its result is copied into the owned model), then
//! the per-file reports; and the incremental resolve that re-runs only what a change
//! affects.
//!
//! No I/O: sources are bytes in memory (see [`crate::fs`] for reading them from disk).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::io;
use std::sync::Arc;

use mib_rs::{Kind, Mib as Resolved, Source, SourceCandidate, SourceOrigin};

use crate::diagnostic::{Diagnostic, Severity};
use crate::model::{Access, MibNode, ModuleInfo, NodeKind, Status, Syntax};
use crate::oid::Oid;
use crate::revision;
use crate::scan::{self, ModuleHeader};
use crate::source::SourceText;
use crate::tree::{FileReport, Mib};

/// How to resolve.
#[derive(Debug, Clone, Default)]
pub struct ResolveOptions {
    /// Threads for parsing and for building the model's nodes (linking names and OIDs
    /// is sequential); `None`: one per CPU.
    pub threads: Option<usize>,
    /// Which parser and resolver.
    pub engine: Engine,
}

/// The parser and resolver behind [`resolve`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Engine {
    /// FlowVision's own SMI reader (`smi`): the default, several times faster on a
    /// whole corpus (docs/mib.md, "Performance").
    #[default]
    Native,
    /// The `mib-rs` crate: a complete SMI model with many more lint checks; kept as
    /// the reference the native reader is compared with.
    MibRs,
}

impl ResolveOptions {
    fn thread_count(&self) -> usize {
        self.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())).max(1)
    }
}

/// Resolves every module found in `sources`, in the order given.
///
/// Earlier sources take precedence: when two files define the same module name, the
/// first one that parses is used and the others get a warning saying so. Put the
/// user's files before the base modules so a newer copy of a base module wins.
/// SNMPv2-SMI, SNMPv2-TC, SNMPv2-CONF, RFC1155-SMI, RFC-1212 and RFC-1215 are taken
/// from the engine's own RFC-derived copies when no source defines them.
///
/// Never fails and never panics on bad input: what cannot be used is reported in
/// [`Mib::diagnostics`].
pub fn resolve(sources: &[SourceText], options: &ResolveOptions) -> Mib {
    let headers = headers(sources, None);
    let index = ModuleIndex::new(sources, &headers);
    let mut diagnostics = index.header_diagnostics(sources, None);
    if options.engine == Engine::Native {
        let linked = crate::smi::load(sources, &index.modules, None, options.thread_count());
        diagnostics.extend(linked.diagnostics);
        return finish(Nodes::All(linked.nodes), linked.modules, diagnostics, sources, &headers);
    }
    let resolved = match load(&index, None, options) {
        Ok(mib) => mib,
        Err(d) => {
            diagnostics.push(d);
            return finish(Nodes::All(Vec::new()), Vec::new(), diagnostics, sources, &headers);
        }
    };
    diagnostics.extend(resolved.diagnostics().iter().map(|d| convert_diagnostic(&resolved, d)));
    let modules = resolved.modules().map(|m| module_info(&resolved, m)).collect();
    let mut nodes = tree_nodes(&resolved, |_| true, options);
    nodes.extend(other_names(&resolved, None));
    finish(Nodes::All(nodes), modules, diagnostics, sources, &headers)
}

/// Re-resolves after files were added or replaced, reusing `previous` for every module
/// the change cannot affect.
///
/// `sources` are all the files, the new ones included, as [`resolve`] would take them;
/// `changed` are the labels of the added or replaced files (removing files needs a full
/// resolve). The modules those files declare, or provided before, are resolved again
/// with every loaded module that names them (imports them, or lists them in a
/// MODULE-COMPLIANCE or AGENT-CAPABILITIES), directly or through others; the rest of
/// `previous` is kept as it was. The result equals a
/// full [`resolve`] of `sources` as long as modules use what they import (the corpus
/// test checks this); a module that leans on the parser's fallback of finding an
/// unimported descriptor anywhere is only updated by the next full resolve.
///
/// The point is time: adding one module to a 900-module set re-resolves a handful of
/// modules instead of all of them (figures in docs/mib.md).
pub fn resolve_incremental(
    previous: &Mib,
    sources: &[SourceText],
    changed: &[&str],
    options: &ResolveOptions,
) -> Mib {
    let headers = headers(sources, Some((previous, changed)));
    let index = ModuleIndex::new(sources, &headers);
    // What the changed files declare now, and what they provided before (a replaced
    // file may no longer define a module it used to).
    let mut changed_modules: HashSet<String> = sources
        .iter()
        .zip(&headers)
        .filter(|(s, _)| changed.contains(&s.label()))
        .flat_map(|(_, h)| h.iter().map(|h| h.name.clone()))
        .collect();
    changed_modules.extend(
        previous
            .files()
            .iter()
            .filter(|f| changed.contains(&f.file.as_str()))
            .flat_map(|f| f.loaded.iter().cloned()),
    );
    // Everything that names a changed module, transitively.
    let mut affected = changed_modules.clone();
    loop {
        let before = affected.len();
        for m in previous.modules() {
            if !affected.contains(&m.name) && m.references.iter().any(|i| affected.contains(i)) {
                affected.insert(m.name.clone());
            }
        }
        if affected.len() == before {
            break;
        }
    }
    let is_changed_file = |file: &str| changed.contains(&file);
    let is_affected = |module: &Option<String>| module.as_ref().is_some_and(|m| affected.contains(m));

    let mut diagnostics: Vec<Diagnostic> = previous
        .diagnostics()
        .iter()
        .filter(|d| !is_changed_file(&d.file) && !is_affected(&d.module))
        .cloned()
        .collect();
    let mut modules: Vec<ModuleInfo> =
        previous.modules().iter().filter(|m| !affected.contains(&m.name)).cloned().collect();
    // The affected modules' new nodes; the others are kept from `previous` by `finish`.
    let mut nodes: Vec<Arc<MibNode>> = Vec::new();
    diagnostics.extend(index.header_diagnostics(sources, Some(changed)));

    // The affected modules, and every module they name, loaded together as a full
    // resolve would have them: a module's diagnostics depend on what it names being
    // there (an AGENT-CAPABILITIES' SUPPORTS targets are not imported). What the
    // changed files name is only known once they are parsed, hence the second round.
    if options.engine == Engine::Native {
        // The native reader resolves a module from what it imports alone: the
        // affected modules (and, inside `load`, their imports) are all it needs.
        let wanted: Vec<String> = affected.iter().filter(|m| index.declares(m)).cloned().collect();
        if !wanted.is_empty() {
            let linked = crate::smi::load(sources, &index.modules, Some(&wanted), options.thread_count());
            diagnostics.extend(
                linked.diagnostics.into_iter().filter(|d| is_affected(&d.module) || is_changed_file(&d.file)),
            );
            modules.extend(linked.modules.into_iter().filter(|m| affected.contains(&m.name)));
            nodes.extend(linked.nodes.into_iter().filter(|n| affected.contains(&n.module)));
        }
        return finish(
            Nodes::Changed { previous, affected: &affected, added: nodes },
            modules,
            diagnostics,
            sources,
            &headers,
        );
    }
    let mut wanted: BTreeSet<String> = affected.iter().filter(|m| index.declares(m)).cloned().collect();
    for m in previous.modules().iter().filter(|m| affected.contains(&m.name)) {
        wanted.extend(m.references.iter().filter(|r| index.declares(r)).cloned());
    }
    let mut loaded = None;
    for _round in 0..3 {
        if wanted.is_empty() {
            break;
        }
        match load(&index, Some(wanted.iter().cloned().collect()), options) {
            Ok(resolved) => {
                // Imports came along with the modules; only what they name without
                // importing it (SUPPORTS, compliance MODULEs) can be missing.
                let missing: Vec<String> = resolved
                    .modules()
                    .filter(|m| affected.contains(m.name()))
                    .flat_map(|m| references(&resolved, m))
                    .filter(|r| index.declares(r) && resolved.module(r).is_none())
                    .collect();
                // A named module that does not load stays missing: no new round for it.
                let before = wanted.len();
                wanted.extend(missing);
                let done = wanted.len() == before;
                loaded = Some(resolved);
                if done {
                    break;
                }
            }
            Err(d) => {
                diagnostics.push(d);
                loaded = None;
                break;
            }
        }
    }
    if let Some(resolved) = loaded {
        diagnostics.extend(
            resolved
                .diagnostics()
                .iter()
                .map(|d| convert_diagnostic(&resolved, d))
                .filter(|d| is_affected(&d.module) || is_changed_file(&d.file)),
        );
        modules.extend(
            resolved.modules().filter(|m| affected.contains(m.name())).map(|m| module_info(&resolved, m)),
        );
        nodes.extend(tree_nodes(
            &resolved,
            |n| n.module().is_some_and(|m| affected.contains(m.name())),
            options,
        ));
        nodes.extend(other_names(&resolved, Some(&affected)));
    }
    finish(
        Nodes::Changed { previous, affected: &affected, added: nodes },
        modules,
        diagnostics,
        sources,
        &headers,
    )
}

/// The module headers of every source: scanned, or for files that did not change,
/// taken from the previous model (scanning 38 MB costs more than resolving one module).
fn headers(sources: &[SourceText], reuse: Option<(&Mib, &[&str])>) -> Vec<Vec<ModuleHeader>> {
    let known: HashMap<&str, &FileReport> = reuse
        .map(|(previous, _)| previous.files().iter().map(|f| (f.file.as_str(), f)).collect())
        .unwrap_or_default();
    let changed = reuse.map(|(_, changed)| changed).unwrap_or_default();
    sources
        .iter()
        .map(|s| match known.get(s.label()) {
            Some(report) if !changed.contains(&s.label()) => report.declared.clone(),
            _ => scan::module_headers(s.bytes()),
        })
        .collect()
}

/// Runs `mib-rs` over the index: every module, or `only` these and what they import.
fn load(
    index: &ModuleIndex,
    only: Option<Vec<String>>,
    options: &ResolveOptions,
) -> Result<Resolved, Diagnostic> {
    let run = |names: Option<Vec<String>>| {
        // Nothing may abort the load: the caller wants everything usable, with a report.
        let config = mib_rs::DiagnosticConfig { fail_at: mib_rs::Severity::Fatal, ..Default::default() };
        let mut loader = mib_rs::Loader::new().source(Box::new(index.clone())).diagnostic_config(config);
        if let Some(threads) = options.threads {
            loader = loader.parallelism(threads);
        }
        if let Some(names) = names {
            loader = loader.modules(names);
        }
        loader.load()
    };
    let result = match run(only.clone()) {
        // A module that a header declares but that does not parse (a MIB quoted in a
        // diff, a README's example header) is "not found" when asked for by name, and
        // mib-rs then drops the whole load. A full resolve simply lacks it (and
        // `finish` reports its header), so ask again without it. Found when a whole
        // corpus was uploaded to the console at once.
        Err(mib_rs::LoadError::MissingModules(missing)) if only.is_some() => {
            let rest: Vec<String> = only.into_iter().flatten().filter(|m| !missing.contains(m)).collect();
            if rest.is_empty() {
                Err(mib_rs::LoadError::MissingModules(missing))
            } else {
                run(Some(rest))
            }
        }
        other => other,
    };
    // Only "no sources", a fatal threshold or (for requested modules) nothing found end
    // up as an error; none leaves a model, so it becomes one diagnostic.
    result.map_err(|err| Diagnostic {
        file: "<mib>".into(),
        line: None,
        severity: Severity::Error,
        module: None,
        message: format!("no module resolved: {err}"),
    })
}

/// The nodes of the result: all of them, or a previous model's minus the affected
/// modules' plus their new ones.
enum Nodes<'a> {
    All(Vec<Arc<MibNode>>),
    Changed { previous: &'a Mib, affected: &'a HashSet<String>, added: Vec<Arc<MibNode>> },
}

fn finish(
    nodes: Nodes<'_>,
    modules: Vec<ModuleInfo>,
    mut diagnostics: Vec<Diagnostic>,
    sources: &[SourceText],
    headers: &[Vec<ModuleHeader>],
) -> Mib {
    let mut loaded: HashMap<&str, Vec<String>> = HashMap::new();
    for m in &modules {
        loaded.entry(m.file.as_str()).or_default().push(m.name.clone());
    }
    let loaded_from: HashMap<&str, &str> =
        modules.iter().map(|m| (m.name.as_str(), m.file.as_str())).collect();
    let mut files = Vec::with_capacity(sources.len());
    let mut lost = Vec::new();
    for (s, headers) in sources.iter().zip(headers) {
        let here = loaded.get(s.label()).cloned().unwrap_or_default();
        // Every header that did not become a module from this file is reported, or the
        // file would vanish silently: another copy was used (an earlier file's, or the
        // parser's own copy of an SMI base module when this one is broken), or the
        // parser made nothing of it (a MIB quoted in a diff, a README showing a header).
        for h in headers.iter().filter(|h| !here.contains(&h.name)) {
            let (severity, message) = match loaded_from.get(h.name.as_str()) {
                Some(winner) => (
                    Severity::Warning,
                    format!("module {} is also defined in {winner}, which is used", h.name),
                ),
                None => (
                    Severity::Error,
                    format!("module {} declared here could not be parsed into a module", h.name),
                ),
            };
            lost.push(Diagnostic {
                file: s.label().to_owned(),
                line: Some(h.line),
                severity,
                module: Some(h.name.clone()),
                message,
            });
        }
        files.push(FileReport {
            file: s.label().to_owned(),
            declared: headers.clone(),
            loaded: here,
            diagnostics: 0,
        });
    }
    diagnostics.extend(lost);
    diagnostics.sort_by(|a, b| (&a.file, a.line, &a.message).cmp(&(&b.file, b.line, &b.message)));
    // An incremental resolve may find again what the previous model already had.
    diagnostics.dedup();
    let mut per_file: HashMap<&str, usize> = HashMap::new();
    for d in &diagnostics {
        *per_file.entry(d.file.as_str()).or_default() += 1;
    }
    for f in &mut files {
        f.diagnostics = per_file.get(f.file.as_str()).copied().unwrap_or_default();
    }
    match nodes {
        Nodes::All(nodes) => Mib::new(nodes, modules, diagnostics, files),
        Nodes::Changed { previous, affected, added } => {
            // Usually one or two modules: comparing with each (lengths first) touches
            // less memory per node than hashing its module name.
            let affected: Vec<&str> = affected.iter().map(String::as_str).collect();
            let keep = |n: &MibNode| !affected.contains(&n.module.as_str());
            Mib::with_changes(previous, keep, added, modules, diagnostics, files)
        }
    }
}

/// The `mib-rs` source over our inputs: module name → the files declaring it.
#[derive(Clone)]
struct ModuleIndex {
    /// The inputs, in input order (cloning a [`SourceText`] shares its bytes).
    documents: Arc<[SourceText]>,
    /// Module name → the documents declaring it, in input order.
    modules: Arc<BTreeMap<String, Vec<usize>>>,
}

impl ModuleIndex {
    fn new(sources: &[SourceText], headers: &[Vec<ModuleHeader>]) -> Self {
        let mut modules: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (i, file) in headers.iter().enumerate() {
            for h in file {
                let entry = modules.entry(h.name.clone()).or_default();
                // One file declaring a module twice is one candidate.
                if !entry.contains(&i) {
                    entry.push(i);
                }
            }
        }
        Self { documents: sources.into(), modules: Arc::new(modules) }
    }

    /// Whether some input declares this module.
    fn declares(&self, module: &str) -> bool {
        self.modules.contains_key(module)
    }

    /// A warning for every input (of `only` these labels) without any module header:
    /// it contributes nothing.
    fn header_diagnostics(&self, sources: &[SourceText], only: Option<&[&str]>) -> Vec<Diagnostic> {
        let declaring: HashSet<usize> = self.modules.values().flatten().copied().collect();
        sources
            .iter()
            .enumerate()
            .filter(|(i, _)| !declaring.contains(i))
            .filter(|(_, s)| only.is_none_or(|labels| labels.contains(&s.label())))
            .map(|(_, s)| Diagnostic {
                file: s.label().to_owned(),
                line: None,
                severity: Severity::Warning,
                module: None,
                message: "no MIB module in this file (no `NAME DEFINITIONS ::= BEGIN` line)".into(),
            })
            .collect()
    }
}

impl Source for ModuleIndex {
    fn find(&self, name: &str) -> io::Result<Option<SourceCandidate>> {
        self.find_candidates(name).next().transpose()
    }

    fn find_candidates<'a>(
        &'a self,
        name: &'a str,
    ) -> Box<dyn Iterator<Item = io::Result<SourceCandidate>> + 'a> {
        Box::new(self.modules.get(name).into_iter().flatten().filter_map(move |&doc| {
            let source = self.documents.get(doc)?;
            Some(Ok(SourceCandidate::new(
                doc.to_string(),
                SourceOrigin::memory(source.shared_label()),
                source.shared_label(),
                source.shared_bytes(),
            )))
        }))
    }

    fn list_modules(&self) -> io::Result<Vec<String>> {
        Ok(self.modules.keys().cloned().collect())
    }
}

/// The names modules give to OIDs that already have another name.
///
/// The resolver's tree has one name per OID, that of the definition that registered it
/// first; a later module naming the same OID differently (a vendor's corrections file
/// renaming a product), or a module naming one OID twice (ISDN-MIB's
/// isdnMibTrapPrefix and isdnMibConformance), keeps the other name only in the
/// module's own name table. net-snmp lists every such name,
/// and sysObjectID lookups need the product names of every module, so each becomes a
/// node of its own here: same OID, that module's name, the definition details of the
/// node the tree has.
///
/// The tables can be asked by name but not listed, so the candidate names are the
/// identifiers of the module's text; only modules holding such OIDs are scanned.
/// `only`: restrict to these modules (incremental resolve).
fn other_names(resolved: &Resolved, only: Option<&HashSet<String>>) -> Vec<Arc<MibNode>> {
    let mut out = Vec::new();
    for m in resolved.modules() {
        if only.is_some_and(|o| !o.contains(m.name())) {
            continue;
        }
        let data = resolved.raw().module(m.id());
        // Nodes another module owns, and nodes this module names more than once (the
        // table lists a node once per name).
        let mut seen = HashSet::new();
        let candidates: HashSet<mib_rs::raw::NodeId> = data
            .nodes()
            .iter()
            .copied()
            .filter(|&id| {
                !seen.insert(id) || resolved.node_by_id(id).module().is_none_or(|owner| owner.id() != m.id())
            })
            .collect();
        let Some(doc) = m.source().filter(|_| !candidates.is_empty()) else { continue };
        // Borrowed and deduplicated before any lookup: most words are keywords and
        // descriptors that are no alias, and a String for each cost more than the rest.
        let mut words: Vec<&[u8]> = scan::words(doc.bytes()).collect();
        words.sort_unstable();
        words.dedup();
        for word in words {
            // Always ASCII: the scan's words are letters, digits, `-` and `_`.
            let Ok(word) = std::str::from_utf8(word) else { continue };
            let Some(id) = data.node_by_name(word).filter(|id| candidates.contains(id)) else { continue };
            let tree_node = resolved.node_by_id(id);
            if tree_node.name() != word {
                let mut alias = node_data(tree_node);
                alias.module = m.name().to_owned();
                alias.name = word.to_owned();
                out.push(Arc::new(alias));
            }
        }
    }
    out
}

fn convert_diagnostic(mib: &Resolved, d: &mib_rs::Diagnostic) -> Diagnostic {
    let severity = match d.severity {
        mib_rs::Severity::Fatal | mib_rs::Severity::Severe | mib_rs::Severity::Error => Severity::Error,
        mib_rs::Severity::Minor | mib_rs::Severity::Warning => Severity::Warning,
        mib_rs::Severity::Style | mib_rs::Severity::Info => Severity::Info,
    };
    let located = d.range.and_then(|r| {
        let doc = mib.source(r.source())?;
        let line = doc.line_column(r.start()).ok().map(|(line, _)| line);
        Some((doc.label().to_owned(), line))
    });
    // Without a range, the module's file is still a better place than nowhere.
    let (file, line) = located.unwrap_or_else(|| {
        let file = d
            .module
            .as_deref()
            .and_then(|m| mib.module(m))
            .and_then(|m| m.source_label())
            .unwrap_or("<unknown>");
        (file.to_owned(), None)
    });
    Diagnostic { file, line, severity, module: d.module.clone(), message: d.message.clone() }
}

fn module_info(resolved: &Resolved, m: mib_rs::Module<'_>) -> ModuleInfo {
    let dates = std::iter::once(m.last_updated()).chain(m.revisions().iter().map(|r| r.date.as_str()));
    ModuleInfo {
        name: m.name().to_owned(),
        file: m.source_label().unwrap_or_default().to_owned(),
        language: m.language().to_string(),
        last_revision: revision::newest(dates),
        organization: m.organization().to_owned(),
        description: m.description().to_owned(),
        imports: m.imports().iter().map(|i| i.module.clone()).collect(),
        references: references(resolved, m),
    }
}

fn references(mib_ref: &Resolved, m: mib_rs::Module<'_>) -> Vec<String> {
    let data = mib_ref.raw().module(m.id());
    let mut out: BTreeSet<String> = m.imports().iter().map(|i| i.module.clone()).collect();
    for &id in data.compliances() {
        out.extend(mib_ref.raw().compliance(id).modules().iter().map(|c| c.module_name.clone()));
    }
    for &id in data.capabilities() {
        out.extend(mib_ref.raw().capability(id).supports().iter().map(|c| c.module_name.clone()));
    }
    out.remove(m.name());
    out.remove("");
    out.into_iter().collect()
}

/// The named nodes of the resolver's tree that `wanted` accepts, in the tree's order.
///
/// A whole corpus has 85,000 of them, each copied field by field into several
/// allocations: that is split over the threads the options allow, while the
/// resolution before it is single-threaded anyway.
fn tree_nodes(
    resolved: &Resolved,
    wanted: impl Fn(mib_rs::Node<'_>) -> bool,
    options: &ResolveOptions,
) -> Vec<Arc<MibNode>> {
    let picked: Vec<mib_rs::Node<'_>> =
        resolved.nodes().filter(|n| !n.name().is_empty() && wanted(*n)).collect();
    let threads =
        options.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())).max(1);
    // Below this, starting a thread costs more than it saves (incremental resolves).
    const PER_THREAD: usize = 4096;
    let threads = threads.min(picked.len() / PER_THREAD).max(1);
    let convert =
        |part: &[mib_rs::Node<'_>]| part.iter().map(|&n| Arc::new(node_data(n))).collect::<Vec<_>>();
    let mut parts = picked.chunks(picked.len().div_ceil(threads).max(1));
    let Some(first) = parts.next() else { return Vec::new() };
    std::thread::scope(|scope| {
        // A part whose thread cannot be started is converted here instead.
        let others: Vec<_> = parts
            .map(|part| {
                std::thread::Builder::new().spawn_scoped(scope, move || convert(part)).map_err(|_| part)
            })
            .collect();
        let mut out = convert(first);
        for other in others {
            match other {
                // node_data does not panic; if it ever did, the caller sees that panic.
                Ok(thread) => out.extend(thread.join().unwrap_or_else(|e| std::panic::resume_unwind(e))),
                Err(part) => out.extend(convert(part)),
            }
        }
        out
    })
}

fn node_data(n: mib_rs::Node<'_>) -> MibNode {
    let kind = match n.kind() {
        Kind::Node | Kind::Internal | Kind::Unknown => NodeKind::ValueAssignment,
        Kind::Scalar => NodeKind::Scalar,
        Kind::Table => NodeKind::Table,
        Kind::Row => NodeKind::Row,
        Kind::Column => NodeKind::Column,
        Kind::Notification => NodeKind::Notification,
        Kind::Group => NodeKind::Group,
        Kind::Compliance => NodeKind::Compliance,
        Kind::Capability => NodeKind::Capabilities,
        Kind::ModuleIdentity => NodeKind::ModuleIdentity,
        Kind::ObjectIdentity => NodeKind::ObjectIdentity,
    };
    let module = n.module().map(|m| m.name().to_owned()).unwrap_or_default();
    let mut out = MibNode::new(&module, n.name(), Oid::new(n.oid().as_ref().to_vec()), kind);
    out.status = n.status().map(status);
    out.description = n.description().to_owned();
    // The tree node carries the DESCRIPTION of OBJECT-IDENTITY and MODULE-IDENTITY;
    // the other macros keep theirs on their own definition.
    let own = [
        n.object().map(|o| o.description()),
        n.notification().map(|x| x.description()),
        n.group().map(|x| x.description()),
        n.compliance().map(|x| x.description()),
        n.capability().map(|x| x.description()),
    ];
    if let Some(d) = own.into_iter().flatten().find(|d| !d.is_empty()) {
        out.description = d.to_owned();
    }
    if let Some(nt) = n.notification() {
        out.status = Some(status(nt.status()));
    }
    if let Some(o) = n.object() {
        out.syntax = Some(syntax(o));
        out.access = Some(access(o.access()));
        out.status = Some(status(o.status()));
        out.units = o.units().to_owned();
        out.defval = o.default_value().map(ToString::to_string).filter(|d| !d.is_empty());
        out.index = o.index().map(|i| i.name().to_owned()).collect();
        out.index_implied_last = o.index().last().is_some_and(|i| i.implied());
        out.augments = o.augments().map(|a| a.name().to_owned());
    }
    if let Some(nt) = n.notification() {
        out.members = nt.objects().map(|o| o.name().to_owned()).collect();
    }
    if let Some(g) = n.group() {
        out.members = g.members().map(|m| m.name().to_owned()).collect();
    }
    out
}

fn syntax(o: mib_rs::Object<'_>) -> Syntax {
    let ty = o.ty();
    let enums = o.effective_enums();
    let named = if enums.is_empty() { o.effective_bits() } else { enums };
    let ranges = if o.effective_ranges().is_empty() { o.effective_sizes() } else { o.effective_ranges() };
    Syntax {
        type_name: ty.map(|t| t.name().to_owned()).unwrap_or_default(),
        textual_convention: ty.and_then(|t| t.effective_tc()).map(|t| t.name().to_owned()),
        base: ty
            .map(|t| t.effective_base())
            .filter(|b| *b != mib_rs::BaseType::Unknown)
            .map(|b| b.to_string())
            .unwrap_or_default(),
        display_hint: o.effective_display_hint().to_owned(),
        named_values: named.iter().map(|v| (v.label.clone(), v.value)).collect(),
        ranges: ranges.iter().map(ToString::to_string).collect(),
    }
}

fn access(a: mib_rs::Access) -> Access {
    match a {
        mib_rs::Access::NotAccessible => Access::NotAccessible,
        mib_rs::Access::AccessibleForNotify => Access::AccessibleForNotify,
        mib_rs::Access::ReadOnly => Access::ReadOnly,
        mib_rs::Access::ReadWrite => Access::ReadWrite,
        mib_rs::Access::ReadCreate => Access::ReadCreate,
        mib_rs::Access::WriteOnly => Access::WriteOnly,
        mib_rs::Access::NotImplemented => Access::NotImplemented,
    }
}

fn status(s: mib_rs::Status) -> Status {
    match s {
        mib_rs::Status::Current => Status::Current,
        mib_rs::Status::Deprecated => Status::Deprecated,
        mib_rs::Status::Obsolete => Status::Obsolete,
        mib_rs::Status::Mandatory => Status::Mandatory,
        mib_rs::Status::Optional => Status::Optional,
    }
}
