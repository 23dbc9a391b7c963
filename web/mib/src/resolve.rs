//! The bridge to `mib-rs`: hands it the sources indexed by module name, resolves every
//! module, and copies the result into the owned model.
//!
//! No I/O: sources are bytes in memory (see [`crate::fs`] for reading them from disk).

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::sync::Arc;

use mib_rs::{Kind, Mib as Resolved, Source, SourceCandidate, SourceOrigin};

use crate::diagnostic::{Diagnostic, Severity};
use crate::model::{Access, MibNode, ModuleInfo, NodeKind, Status, Syntax};
use crate::oid::Oid;
use crate::revision;
use crate::scan;
use crate::source::SourceText;
use crate::tree::{FileReport, Mib};

/// How to resolve.
#[derive(Debug, Clone, Default)]
pub struct ResolveOptions {
    /// Threads for parsing (resolution itself is sequential); `None`: one per CPU.
    pub threads: Option<usize>,
}

/// Resolves every module found in `sources`, in the order given.
///
/// Earlier sources take precedence: when two files define the same module name, the
/// first one that parses is used and the others get a warning saying so. Put the
/// user's files before the base modules so a newer copy of a base module wins.
/// SNMPv2-SMI, SNMPv2-TC, SNMPv2-CONF, RFC1155-SMI, RFC-1212 and RFC-1215 are taken
/// from `mib-rs`'s own RFC-derived copies when no source defines them.
///
/// Never fails and never panics on bad input: what cannot be used is reported in
/// [`Mib::diagnostics`].
pub fn resolve(sources: &[SourceText], options: &ResolveOptions) -> Mib {
    let index = ModuleIndex::new(sources);
    let mut config = mib_rs::DiagnosticConfig::default();
    // Nothing may abort the load: the caller wants everything usable, with a report.
    config.fail_at = mib_rs::Severity::Fatal;
    let mut loader = mib_rs::Loader::new().source(Box::new(index.clone())).diagnostic_config(config);
    if let Some(threads) = options.threads {
        loader = loader.parallelism(threads);
    }
    let mut diagnostics = index.header_diagnostics(sources);
    let resolved = match loader.load() {
        Ok(mib) => mib,
        Err(err) => {
            // Only NoSources or a fatal threshold can end up here; neither leaves a
            // model, so report it and return what we know.
            diagnostics.push(Diagnostic {
                file: "<mib>".into(),
                line: None,
                severity: Severity::Error,
                module: None,
                message: format!("no module resolved: {err}"),
            });
            return finish(Vec::new(), Vec::new(), diagnostics, sources);
        }
    };
    diagnostics.extend(resolved.diagnostics().iter().map(|d| convert_diagnostic(&resolved, d)));
    diagnostics.extend(index.duplicate_diagnostics(&resolved));
    let modules = resolved.modules().map(module_info).collect();
    let nodes = resolved.nodes().filter(|n| !n.name().is_empty()).map(node).collect();
    finish(nodes, modules, diagnostics, sources)
}

fn finish(
    nodes: Vec<MibNode>,
    modules: Vec<ModuleInfo>,
    mut diagnostics: Vec<Diagnostic>,
    sources: &[SourceText],
) -> Mib {
    let mut loaded: HashMap<&str, Vec<String>> = HashMap::new();
    for m in &modules {
        loaded.entry(m.file.as_str()).or_default().push(m.name.clone());
    }
    let loaded_anywhere: std::collections::HashSet<&str> = modules.iter().map(|m| m.name.as_str()).collect();
    let mut files = Vec::with_capacity(sources.len());
    let mut lost = Vec::new();
    for s in sources {
        let headers = scan::module_headers(s.bytes());
        let here = loaded.get(s.label()).cloned().unwrap_or_default();
        // A header the parser made nothing of, with no other file's copy loaded in its
        // place (that case has its own warning): say so, or the file would vanish
        // silently (a MIB quoted in a diff, a README showing a header).
        for h in
            headers.iter().filter(|h| !here.contains(&h.name) && !loaded_anywhere.contains(h.name.as_str()))
        {
            lost.push(Diagnostic {
                file: s.label().to_owned(),
                line: Some(h.line),
                severity: Severity::Error,
                module: Some(h.name.clone()),
                message: format!("module {} declared here could not be parsed into a module", h.name),
            });
        }
        files.push(FileReport {
            file: s.label().to_owned(),
            declared: headers.into_iter().map(|h| h.name).collect(),
            loaded: here,
            diagnostics: 0,
        });
    }
    diagnostics.extend(lost);
    diagnostics.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
    let mut per_file: HashMap<&str, usize> = HashMap::new();
    for d in &diagnostics {
        *per_file.entry(d.file.as_str()).or_default() += 1;
    }
    for f in &mut files {
        f.diagnostics = per_file.get(f.file.as_str()).copied().unwrap_or_default();
    }
    Mib::new(nodes, modules, diagnostics, files)
}

/// The `mib-rs` source over our inputs: module name → the files declaring it.
#[derive(Clone)]
struct ModuleIndex {
    /// (label, bytes) per input, in input order.
    documents: Arc<Vec<(Arc<str>, Arc<[u8]>)>>,
    /// Module name → (document index, line of its header), in input order.
    modules: Arc<BTreeMap<String, Vec<(usize, usize)>>>,
}

impl ModuleIndex {
    fn new(sources: &[SourceText]) -> Self {
        let mut modules: BTreeMap<String, Vec<(usize, usize)>> = BTreeMap::new();
        for (i, s) in sources.iter().enumerate() {
            for h in scan::module_headers(s.bytes()) {
                let entry = modules.entry(h.name).or_default();
                // One file declaring a module twice is one candidate.
                if !entry.iter().any(|&(doc, _)| doc == i) {
                    entry.push((i, h.line));
                }
            }
        }
        let documents = sources.iter().map(|s| (s.shared_label(), s.shared_bytes())).collect();
        Self { documents: Arc::new(documents), modules: Arc::new(modules) }
    }

    /// A warning for every input without any module header: it contributes nothing.
    fn header_diagnostics(&self, sources: &[SourceText]) -> Vec<Diagnostic> {
        let declaring: std::collections::HashSet<usize> =
            self.modules.values().flatten().map(|&(doc, _)| doc).collect();
        sources
            .iter()
            .enumerate()
            .filter(|(i, _)| !declaring.contains(i))
            .map(|(_, s)| Diagnostic {
                file: s.label().to_owned(),
                line: None,
                severity: Severity::Warning,
                module: None,
                message: "no MIB module in this file (no `NAME DEFINITIONS ::= BEGIN` line)".into(),
            })
            .collect()
    }

    /// A warning at every module definition that lost to another file's.
    fn duplicate_diagnostics(&self, resolved: &Resolved) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        for (name, candidates) in self.modules.iter().filter(|(_, c)| c.len() > 1) {
            let used = resolved.module(name).and_then(|m| m.source_label()).map(str::to_owned);
            for &(doc, line) in candidates {
                let Some((label, _)) = self.documents.get(doc) else { continue };
                if used.as_deref() == Some(&**label) {
                    continue;
                }
                let message = match &used {
                    Some(winner) => format!("module {name} is also defined in {winner}, which is used"),
                    None => format!("module {name} is defined by several files and none could be loaded"),
                };
                out.push(Diagnostic {
                    file: label.to_string(),
                    line: Some(line),
                    severity: Severity::Warning,
                    module: Some(name.clone()),
                    message,
                });
            }
        }
        out
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
        Box::new(self.modules.get(name).into_iter().flatten().filter_map(move |&(doc, _)| {
            let (label, bytes) = self.documents.get(doc)?;
            Some(Ok(SourceCandidate::new(
                doc.to_string(),
                SourceOrigin::memory(Arc::clone(label)),
                Arc::clone(label),
                Arc::clone(bytes),
            )))
        }))
    }

    fn list_modules(&self) -> io::Result<Vec<String>> {
        Ok(self.modules.keys().cloned().collect())
    }
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

fn module_info(m: mib_rs::Module<'_>) -> ModuleInfo {
    let dates = std::iter::once(m.last_updated()).chain(m.revisions().iter().map(|r| r.date.as_str()));
    ModuleInfo {
        name: m.name().to_owned(),
        file: m.source_label().unwrap_or_default().to_owned(),
        language: m.language().to_string(),
        last_revision: revision::newest(dates),
        organization: m.organization().to_owned(),
        description: m.description().to_owned(),
    }
}

fn node(n: mib_rs::Node<'_>) -> MibNode {
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
    let mut out = MibNode {
        module: n.module().map(|m| m.name().to_owned()).unwrap_or_default(),
        name: n.name().to_owned(),
        oid: Oid::new(n.oid().as_ref().to_vec()),
        kind,
        syntax: None,
        access: None,
        status: n.status().map(status),
        units: String::new(),
        index: Vec::new(),
        index_implied_last: false,
        augments: None,
        members: Vec::new(),
        description: n.description().to_owned(),
    };
    if let Some(o) = n.object() {
        out.syntax = Some(syntax(o));
        out.access = Some(access(o.access()));
        out.status = Some(status(o.status()));
        out.units = o.units().to_owned();
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
        base: ty.map(|t| t.effective_base().to_string()).unwrap_or_default(),
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
