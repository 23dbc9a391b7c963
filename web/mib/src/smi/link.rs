//! From split modules to the model: names looked up through IMPORTS, OIDs computed
//! from their parents, types followed to their base, nodes built.
//!
//! Lookups go to the module's own definitions, then to the module its IMPORTS name
//! (following that module's own imports when it only re-exports), never to "some
//! module defining that name": a module is resolved by what it says it uses, so
//! resolving a subset (an upload and what it imports) gives what a full resolve gives.

use std::collections::hash_map::Entry;
use std::sync::Arc;

use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};

use super::lex::{Lines, Tok, Token};
use super::parse::{self, clauses, DefKind, Macro, Module};
use crate::diagnostic::{Diagnostic, Severity};
use crate::model::{Access, MibNode, ModuleInfo, NodeKind, Status, Syntax};
use crate::oid::Oid;
use crate::revision;

/// One parsed file (or built-in module text).
pub(crate) struct Doc<'a> {
    pub(crate) label: Arc<str>,
    pub(crate) bytes: &'a [u8],
    pub(crate) toks: Vec<Token<'a>>,
    pub(crate) modules: Vec<Module<'a>>,
}

impl<'a> Doc<'a> {
    pub(crate) fn parse(label: Arc<str>, bytes: &'a [u8]) -> Self {
        let toks = super::lex::tokens(bytes);
        let modules = parse::modules(&toks);
        Self { label, bytes, toks, modules }
    }
}

/// What linking produced.
#[derive(Default)]
pub(crate) struct Linked {
    pub(crate) modules: Vec<ModuleInfo>,
    pub(crate) nodes: Vec<Arc<MibNode>>,
    pub(crate) diagnostics: Vec<Diagnostic>,
}

/// A module chosen to be resolved: which doc, which of its modules.
#[derive(Clone, Copy)]
pub(crate) struct Unit {
    pub(crate) doc: usize,
    pub(crate) module: usize,
}

#[derive(Clone)]
enum OidState {
    Todo,
    Busy,
    Done(Option<Arc<[u32]>>),
}

/// Longest chain of parents followed (real MIBs stay under 30).
const MAX_DEPTH: usize = 256;

/// The roots and SNMPv2-SMI's arcs (RFC 2578 section 2), which every SMI tool knows
/// whatever a module imports.
const WELL_KNOWN: [(&str, &[u32]); 20] = [
    ("ccitt", &[0]),
    ("itu-t", &[0]),
    ("iso", &[1]),
    ("joint-iso-ccitt", &[2]),
    ("joint-iso-itu-t", &[2]),
    ("org", &[1, 3]),
    ("dod", &[1, 3, 6]),
    ("internet", &[1, 3, 6, 1]),
    ("directory", &[1, 3, 6, 1, 1]),
    ("mgmt", &[1, 3, 6, 1, 2]),
    ("mib-2", &[1, 3, 6, 1, 2, 1]),
    ("transmission", &[1, 3, 6, 1, 2, 1, 10]),
    ("experimental", &[1, 3, 6, 1, 3]),
    ("private", &[1, 3, 6, 1, 4]),
    ("enterprises", &[1, 3, 6, 1, 4, 1]),
    ("security", &[1, 3, 6, 1, 5]),
    ("snmpV2", &[1, 3, 6, 1, 6]),
    ("snmpDomains", &[1, 3, 6, 1, 6, 1]),
    ("snmpProxys", &[1, 3, 6, 1, 6, 2]),
    ("snmpModules", &[1, 3, 6, 1, 6, 3]),
];

struct Linker<'d, 'a> {
    docs: &'d [Doc<'a>],
    units: &'d [Unit],
    by_name: HashMap<&'a str, usize>,
    symbols: Vec<HashMap<&'a str, usize>>,
    imported: Vec<HashMap<&'a str, &'a str>>,
    oids: Vec<Vec<OidState>>,
    /// Per unit: (offset, severity, message).
    problems: Vec<Vec<(u32, Severity, String)>>,
    /// Arcs named inside OID values (`org(3)`): unit, name, OID.
    named_arcs: Vec<(usize, &'a str, Arc<[u32]>)>,
}

impl<'d, 'a> Linker<'d, 'a> {
    fn module(&self, u: usize) -> Option<&'d Module<'a>> {
        let unit = self.units.get(u)?;
        self.docs.get(unit.doc)?.modules.get(unit.module)
    }

    fn toks(&self, u: usize) -> &'d [Token<'a>] {
        self.units
            .get(u)
            .and_then(|unit| self.docs.get(unit.doc))
            .map(|d| d.toks.as_slice())
            .unwrap_or_default()
    }

    fn def(&self, u: usize, d: usize) -> Option<&'d parse::Def<'a>> {
        self.module(u)?.defs.get(d)
    }

    fn problem(&mut self, u: usize, at: u32, severity: Severity, message: String) {
        if let Some(p) = self.problems.get_mut(u) {
            p.push((at, severity, message));
        }
    }

    /// Where `name` is defined, as seen from unit `u`.
    fn lookup(&self, u: usize, name: &str) -> Option<(usize, usize)> {
        if let Some(&d) = self.symbols.get(u)?.get(name) {
            return Some((u, d));
        }
        let mut from = *self.imported.get(u)?.get(name)?;
        // A module may import a name from one that only imports it in turn.
        for _ in 0..8 {
            let t = *self.by_name.get(from)?;
            if let Some(&d) = self.symbols.get(t)?.get(name) {
                return Some((t, d));
            }
            from = self.imported.get(t)?.get(name)?;
        }
        None
    }

    fn oid(&mut self, u: usize, d: usize, depth: usize) -> Option<Arc<[u32]>> {
        match self.oids.get(u)?.get(d)? {
            OidState::Done(o) => return o.clone(),
            OidState::Busy => {
                let at = self.def(u, d)?.at;
                let name = self.def(u, d)?.name;
                self.problem(u, at, Severity::Error, format!("the OID of {name} depends on itself"));
                return None;
            }
            OidState::Todo => {}
        }
        if let Some(s) = self.oids.get_mut(u).and_then(|v| v.get_mut(d)) {
            *s = OidState::Busy;
        }
        let computed = if depth > MAX_DEPTH { None } else { self.compute_oid(u, d, depth) };
        if let Some(s) = self.oids.get_mut(u).and_then(|v| v.get_mut(d)) {
            *s = OidState::Done(computed.clone());
        }
        computed
    }

    fn compute_oid(&mut self, u: usize, d: usize, depth: usize) -> Option<Arc<[u32]>> {
        let def = self.def(u, d)?;
        let toks = self.toks(u);
        let value = toks.get(def.value.clone()).unwrap_or_default();
        match def.kind {
            DefKind::Oid | DefKind::Macro(_) => {}
            _ => return None,
        }
        if def.kind == DefKind::Macro(Macro::TrapType) {
            let body = toks.get(def.body.clone()).unwrap_or_default();
            let number = match value.first().map(|t| t.tok) {
                Some(Tok::Number(n)) => n.parse::<u32>().ok(),
                _ => None,
            };
            let enterprise =
                clauses(body).into_iter().find(|(k, _)| *k == "ENTERPRISE").and_then(|(_, v)| {
                    v.iter().find_map(|t| match t.tok {
                        Tok::Word(w) => Some(w),
                        _ => None,
                    })
                });
            let (Some(number), Some(enterprise)) = (number, enterprise) else {
                self.problem(
                    u,
                    def.at,
                    Severity::Error,
                    format!("TRAP-TYPE {} needs ENTERPRISE and a number", def.name),
                );
                return None;
            };
            let base = self.parent(u, def, enterprise, depth)?;
            let mut arcs = base.to_vec();
            arcs.extend([0, number]);
            return Some(arcs.into());
        }
        let mut arcs: Vec<u32> = Vec::with_capacity(16);
        let mut i = 0;
        let mut first = true;
        while let Some(t) = value.get(i) {
            match t.tok {
                Tok::Number(n) => {
                    let Ok(n) = n.parse::<u32>() else {
                        self.problem(
                            u,
                            t.at,
                            Severity::Error,
                            format!("{}: OID arc {n} out of range", def.name),
                        );
                        return None;
                    };
                    arcs.push(n);
                    i += 1;
                }
                Tok::Word(w) => {
                    // `name(n)`: a named arc; first in the value, a name alone is the parent.
                    let numbered = match (value.get(i + 1), value.get(i + 2), value.get(i + 3)) {
                        (Some(a), Some(b), Some(c))
                            if a.tok == Tok::Punct(b'(') && c.tok == Tok::Punct(b')') =>
                        {
                            match b.tok {
                                Tok::Number(n) => n.parse::<u32>().ok(),
                                _ => None,
                            }
                        }
                        _ => None,
                    };
                    match numbered {
                        Some(n) => {
                            arcs.push(n);
                            let here: Arc<[u32]> = arcs.as_slice().into();
                            if !first || self.lookup(u, w).is_none() {
                                self.named_arcs.push((u, w, here));
                            }
                            i += 4;
                        }
                        None if first => {
                            arcs.extend_from_slice(&self.parent(u, def, w, depth)?);
                            i += 1;
                        }
                        None => {
                            self.problem(
                                u,
                                t.at,
                                Severity::Error,
                                format!("{}: `{w}` inside the OID value has no number", def.name),
                            );
                            return None;
                        }
                    }
                }
                _ => {
                    self.problem(
                        u,
                        t.at,
                        Severity::Error,
                        format!("{}: unexpected symbol in the OID value", def.name),
                    );
                    return None;
                }
            }
            first = false;
        }
        if arcs.is_empty() {
            self.problem(u, def.at, Severity::Error, format!("{}: empty OID value", def.name));
            return None;
        }
        Some(arcs.into())
    }

    /// The OID of `name` as a parent of `def`; reports a name that is nowhere.
    fn parent(&mut self, u: usize, def: &parse::Def<'a>, name: &str, depth: usize) -> Option<Arc<[u32]>> {
        match self.lookup(u, name) {
            Some((t, d)) => self.oid(t, d, depth + 1),
            None => match WELL_KNOWN.iter().find(|(n, _)| *n == name) {
                Some((_, arcs)) => {
                    // Roots are nobody's to import; the SMI's own arcs are, but vendors
                    // import `mib-2` from RFC-1213 or forget to: said, and used.
                    if arcs.len() > 1 {
                        let why = match self.imported.get(u).and_then(|i| i.get(name)) {
                            Some(m) => format!("{m} does not provide it"),
                            None => "not imported".to_owned(),
                        };
                        self.problem(
                            u,
                            def.at,
                            Severity::Warning,
                            format!("{}: parent {name} taken from the SMI ({why})", def.name),
                        );
                    }
                    Some(Arc::from(*arcs))
                }
                None => {
                    let why = match self.imported.get(u).and_then(|i| i.get(name)) {
                        Some(m) if !self.by_name.contains_key(m) => {
                            format!(" (its module {m} is not loaded)")
                        }
                        Some(m) => format!(" (not found in {m})"),
                        None => " (neither defined in this module nor imported)".to_owned(),
                    };
                    self.problem(
                        u,
                        def.at,
                        Severity::Error,
                        format!("{}: parent {name} is not defined{why}", def.name),
                    );
                    None
                }
            },
        }
    }
}

/// Links `units` (each module once, the chosen copy) of `docs`.
pub(crate) fn link(docs: &[Doc<'_>], units: &[Unit], threads: usize) -> Linked {
    let mut by_name = HashMap::with_capacity(units.len());
    let mut symbols = Vec::with_capacity(units.len());
    let mut imported = Vec::with_capacity(units.len());
    let mut oids = Vec::with_capacity(units.len());
    let mut duplicates = Vec::with_capacity(units.len());
    for (i, unit) in units.iter().enumerate() {
        let Some(m) = docs.get(unit.doc).and_then(|d| d.modules.get(unit.module)) else {
            duplicates.push(Vec::new());
            symbols.push(HashMap::new());
            imported.push(HashMap::new());
            oids.push(Vec::new());
            continue;
        };
        by_name.entry(m.name).or_insert(i);
        let mut own = HashMap::with_capacity(m.defs.len());
        let mut twice = Vec::new();
        for (d, def) in m.defs.iter().enumerate() {
            // The first definition is the one names resolve to.
            match own.entry(def.name) {
                Entry::Occupied(_) => twice.push((def.at, def.name)),
                Entry::Vacant(v) => {
                    v.insert(d);
                }
            }
        }
        duplicates.push(twice);
        symbols.push(own);
        let mut imp = HashMap::new();
        for import in &m.imports {
            for s in &import.symbols {
                imp.entry(*s).or_insert(import.module);
            }
        }
        imported.push(imp);
        oids.push(vec![OidState::Todo; m.defs.len()]);
    }
    let mut linker = Linker {
        docs,
        units,
        by_name,
        symbols,
        imported,
        oids,
        problems: vec![Vec::new(); units.len()],
        named_arcs: Vec::new(),
    };
    for (u, twice) in duplicates.into_iter().enumerate() {
        for (at, name) in twice {
            // RFC 2578 section 3.1: a descriptor is unique within its module; a second
            // one makes every reference to it ambiguous.
            linker.problem(
                u,
                at,
                Severity::Error,
                format!("{name} is defined more than once in this module"),
            );
        }
    }
    for u in 0..units.len() {
        let Some(m) = linker.module(u) else { continue };
        for d in 0..m.defs.len() {
            linker.oid(u, d, 0);
        }
        check_imports(&mut linker, u);
    }

    // The rest only reads: split over threads by unit.
    let linker = &linker;
    let threads = threads.clamp(1, 8).min(units.len().div_ceil(64).max(1));
    let per = units.len().div_ceil(threads).max(1);
    let parts: Vec<Vec<usize>> =
        (0..threads).map(|t| (t * per..((t + 1) * per).min(units.len())).collect()).collect();
    let work = |part: &[usize]| {
        let mut out = Linked::default();
        for &u in part {
            build_unit(linker, u, &mut out);
        }
        out
    };
    let results: Vec<Linked> = std::thread::scope(|scope| {
        let mut handles = Vec::new();
        let mut inline = Vec::new();
        for part in parts.iter().skip(1) {
            match std::thread::Builder::new().spawn_scoped(scope, || work(part)) {
                Ok(h) => handles.push(h),
                Err(_) => inline.push(part),
            }
        }
        let mut results = vec![work(parts.first().map(Vec::as_slice).unwrap_or_default())];
        results.extend(inline.into_iter().map(|p| work(p)));
        for h in handles {
            results.push(h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)));
        }
        results
    });
    let mut linked = Linked::default();
    for part in results {
        linked.modules.extend(part.modules);
        linked.nodes.extend(part.nodes);
        linked.diagnostics.extend(part.diagnostics);
    }
    linked
}

fn check_imports(linker: &mut Linker<'_, '_>, u: usize) {
    let Some(m) = linker.module(u) else { return };
    for import in &m.imports {
        let Some(&t) = linker.by_name.get(import.module) else {
            linker.problem(
                u,
                import.at,
                Severity::Error,
                format!("module {} imported here is not available", import.module),
            );
            continue;
        };
        for s in &import.symbols {
            // The module's own definitions, or what it imports in turn.
            if linker.lookup(t, s).is_none() {
                linker.problem(
                    u,
                    import.at,
                    Severity::Warning,
                    format!("{s} is not defined in {}", import.module),
                );
            }
        }
    }
}

fn word_of<'a>(toks: &[Token<'a>]) -> Option<&'a str> {
    toks.iter().find_map(|t| match t.tok {
        Tok::Word(w) => Some(w),
        _ => None,
    })
}

fn string_of(toks: &[Token<'_>]) -> Option<String> {
    toks.iter().find_map(|t| match t.tok {
        Tok::Str(s) => Some(String::from_utf8_lossy(s).replace("\"\"", "\"")),
        _ => None,
    })
}

/// Every word of a clause's value (`{ a, b }` of OBJECTS, INDEX, AUGMENTS…).
fn words<'a>(toks: &[Token<'a>]) -> Vec<&'a str> {
    toks.iter()
        .filter_map(|t| match t.tok {
            Tok::Word(w) => Some(w),
            _ => None,
        })
        .collect()
}

fn access(w: &str) -> Option<Access> {
    Some(match w {
        "not-accessible" => Access::NotAccessible,
        "accessible-for-notify" => Access::AccessibleForNotify,
        "read-only" => Access::ReadOnly,
        "read-write" => Access::ReadWrite,
        "read-create" => Access::ReadCreate,
        "write-only" => Access::WriteOnly,
        "not-implemented" => Access::NotImplemented,
        _ => return None,
    })
}

fn status(w: &str) -> Option<Status> {
    Some(match w {
        "current" => Status::Current,
        "deprecated" => Status::Deprecated,
        "obsolete" => Status::Obsolete,
        "mandatory" => Status::Mandatory,
        "optional" => Status::Optional,
        _ => return None,
    })
}

/// The SMI base type a type name stands for by itself.
fn base_name(name: &str) -> Option<&'static str> {
    Some(match name {
        "INTEGER" | "Integer32" => "Integer32",
        "Unsigned32" => "Unsigned32",
        "Counter32" | "Counter" => "Counter32",
        "Counter64" => "Counter64",
        "Gauge32" | "Gauge" => "Gauge32",
        "TimeTicks" => "TimeTicks",
        "IpAddress" | "NetworkAddress" => "IpAddress",
        "Opaque" => "Opaque",
        "Integer64" => "Integer64",
        "Unsigned64" => "Unsigned64",
        _ => return None,
    })
}

/// A SYNTAX as written: a named type or a base written inline, refinements after it.
#[derive(Default)]
struct TypeSpec<'a> {
    name: Option<&'a str>,
    base: Option<&'static str>,
    named: Vec<(String, i64)>,
    ranges: Vec<String>,
    sizes: Vec<String>,
}

fn type_spec<'a>(toks: &[Token<'a>]) -> TypeSpec<'a> {
    let mut spec = TypeSpec::default();
    let mut p = 0;
    if toks.first().is_some_and(|t| t.tok == Tok::Punct(b'[')) {
        p = parse::skip_group(toks, 0);
    }
    while matches!(toks.get(p).map(|t| t.tok), Some(Tok::Word("IMPLICIT" | "EXPLICIT"))) {
        p += 1;
    }
    let w = |p: usize| match toks.get(p).map(|t| t.tok) {
        Some(Tok::Word(w)) => Some(w),
        _ => None,
    };
    match w(p) {
        Some("SEQUENCE") => {
            spec.base = Some("SEQUENCE");
            return spec;
        }
        Some("CHOICE") | None => return spec,
        Some(first @ ("OCTET" | "OBJECT" | "INTEGER" | "BITS")) => {
            // A base type written inline: (as written, SMI base, tokens).
            let (written, base, len) = match first {
                "OCTET" => ("OCTET STRING", "OCTET STRING", 2),
                "OBJECT" => ("OBJECT IDENTIFIER", "OBJECT IDENTIFIER", 2),
                "INTEGER" => ("INTEGER", "Integer32", 1),
                _ => ("BITS", "BITS", 1),
            };
            spec.name = Some(written);
            spec.base = Some(base);
            p += len;
        }
        Some(name) => {
            spec.name = Some(name);
            p += 1;
            // `Module.Type`
            if toks.get(p).is_some_and(|t| t.tok == Tok::Punct(b'.')) {
                if let Some(n) = w(p + 1) {
                    spec.name = Some(n);
                    p += 2;
                }
            }
        }
    }
    if toks.get(p).is_some_and(|t| t.tok == Tok::Punct(b'{')) {
        let end = parse::skip_group(toks, p);
        let inner = toks.get(p + 1..end.saturating_sub(1)).unwrap_or_default();
        let mut i = 0;
        while let Some(t) = inner.get(i) {
            if let (Tok::Word(label), Some(open), Some(value)) = (t.tok, inner.get(i + 1), inner.get(i + 2)) {
                if open.tok == Tok::Punct(b'(') {
                    if let Tok::Number(n) = value.tok {
                        if let Ok(v) = n.parse::<i64>() {
                            spec.named.push((label.to_owned(), v));
                        }
                        i += 3;
                        continue;
                    }
                }
            }
            i += 1;
        }
        p = end;
    }
    if toks.get(p).is_some_and(|t| t.tok == Tok::Punct(b'(')) {
        let end = parse::skip_group(toks, p);
        let inner = toks.get(p + 1..end.saturating_sub(1)).unwrap_or_default();
        if inner.first().is_some_and(|t| t.tok == Tok::Word("SIZE")) {
            let size_end = parse::skip_group(inner, 1);
            spec.sizes = ranges(inner.get(2..size_end.saturating_sub(1)).unwrap_or_default());
        } else {
            spec.ranges = ranges(inner);
        }
    }
    spec
}

/// `a..b | c` as `["a..b", "c"]`; hex and binary bounds as decimal.
fn ranges(toks: &[Token<'_>]) -> Vec<String> {
    let bound = |t: &Token<'_>| -> Option<String> {
        match t.tok {
            Tok::Number(n) => Some(n.trim_start_matches('+').to_owned()),
            Tok::Word(w @ ("MIN" | "MAX")) => Some(w.to_owned()),
            Tok::Hex(h) => u128::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok().map(|v| v.to_string()),
            Tok::Bin(b) => u128::from_str_radix(std::str::from_utf8(b).ok()?, 2).ok().map(|v| v.to_string()),
            _ => None,
        }
    };
    toks.split(|t| t.tok == Tok::Punct(b'|'))
        .filter_map(|item| {
            let lo = bound(item.first()?)?;
            match (item.get(1).map(|t| t.tok), item.get(2)) {
                (Some(Tok::Range), Some(hi)) => {
                    let hi = bound(hi)?;
                    Some(if hi == lo { lo } else { format!("{lo}..{hi}") })
                }
                _ => Some(lo),
            }
        })
        .collect()
}

fn defval(toks: &[Token<'_>]) -> Option<String> {
    // Inside DEFVAL's braces.
    let inner = toks.get(1..parse::skip_group(toks, 0).saturating_sub(1)).unwrap_or_default();
    let rendered = match inner {
        [] => return None,
        [one] => match one.tok {
            Tok::Number(n) => n.to_owned(),
            Tok::Word(w) => w.to_owned(),
            Tok::Str(s) => format!("\"{}\"", String::from_utf8_lossy(s).replace("\"\"", "\\\"")),
            Tok::Hex(h) => format!("0x{}", String::from_utf8_lossy(h).to_ascii_uppercase()),
            Tok::Bin(b) => {
                let bits = std::str::from_utf8(b).ok()?;
                let padded = format!("{bits:0>width$}", width = bits.len().div_ceil(8) * 8);
                let bytes: Option<Vec<u8>> = padded
                    .as_bytes()
                    .chunks(8)
                    .map(|c| u8::from_str_radix(std::str::from_utf8(c).ok()?, 2).ok())
                    .collect();
                bytes.map(|b| format!("0x{}", b.iter().map(|x| format!("{x:02X}")).collect::<String>()))?
            }
            _ => return None,
        },
        _ if inner.first().is_some_and(|t| t.tok == Tok::Punct(b'{')) => {
            let labels = words(inner);
            if labels.is_empty() {
                "{ }".to_owned()
            } else {
                format!("{{ {} }}", labels.join(", "))
            }
        }
        more => more
            .iter()
            .filter_map(|t| match t.tok {
                Tok::Word(w) | Tok::Number(w) => Some(w.to_owned()),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join(" "),
    };
    Some(rendered).filter(|r| !r.is_empty())
}

impl Linker<'_, '_> {
    /// The SYNTAX of an object with its type chain followed.
    fn syntax(&self, u: usize, toks: &[Token<'_>], problems: &mut Vec<(u32, Severity, String)>) -> Syntax {
        let spec = type_spec(toks);
        let mut out = Syntax { type_name: spec.name.unwrap_or_default().to_owned(), ..Syntax::default() };
        let (mut named, mut ranges, mut sizes) = (spec.named, spec.ranges, spec.sizes);
        let mut base = spec.base;
        let mut name = spec.name;
        let mut unit = u;
        for _ in 0..16 {
            if base.is_some() {
                break;
            }
            let Some(n) = name else { break };
            let found = self.lookup(unit, n).or_else(|| self.lookup_smi_type(n));
            if let Some(b) = base_name(n) {
                // The SMI's own definition (`Unsigned32 ::= … (0..4294967295)`) gives
                // the range a bare base type allows.
                if let Some(def) = found.and_then(|(t, d)| Some((t, self.def(t, d)?))) {
                    if def.1.kind == DefKind::Type && ranges.is_empty() && sizes.is_empty() {
                        let spec = type_spec(self.toks(def.0).get(def.1.body.clone()).unwrap_or_default());
                        (ranges, sizes) = (spec.ranges, spec.sizes);
                    }
                }
                base = Some(b);
                break;
            }
            let Some((t, d)) = found else {
                let at = toks.first().map_or(0, |t| t.at);
                problems.push((at, Severity::Warning, format!("type {n} is not defined")));
                break;
            };
            let Some(def) = self.def(t, d) else { break };
            let body = self.toks(t).get(def.body.clone()).unwrap_or_default();
            let next = match def.kind {
                DefKind::TextualConvention => {
                    let cl = clauses(body);
                    if out.textual_convention.is_none() {
                        out.textual_convention = Some(n.to_owned());
                    }
                    if out.display_hint.is_empty() {
                        if let Some(h) =
                            cl.iter().find(|(k, _)| *k == "DISPLAY-HINT").and_then(|(_, v)| string_of(v))
                        {
                            out.display_hint = h;
                        }
                    }
                    match cl.into_iter().find(|(k, _)| *k == "SYNTAX") {
                        Some((_, v)) => type_spec(v),
                        None => break,
                    }
                }
                DefKind::Type => type_spec(body),
                _ => break,
            };
            if named.is_empty() {
                named = next.named;
            }
            if ranges.is_empty() {
                ranges = next.ranges;
            }
            if sizes.is_empty() {
                sizes = next.sizes;
            }
            base = next.base;
            name = next.name;
            unit = t;
        }
        out.base = base.unwrap_or_default().to_owned();
        out.named_values = named;
        out.ranges = if ranges.is_empty() { sizes } else { ranges };
        out
    }

    /// A type no import brings, found in the SMI's own modules (`DisplayString` used
    /// without importing it from SNMPv2-TC, `Counter32` from SNMPv2-SMI): what every
    /// SMI tool does. Those modules are always loaded (`smi::load`), so the answer does
    /// not depend on what else is.
    fn lookup_smi_type(&self, name: &str) -> Option<(usize, usize)> {
        ["SNMPv2-TC", "SNMPv2-SMI", "RFC1155-SMI"].iter().find_map(|m| {
            let t = *self.by_name.get(m)?;
            self.lookup(t, name)
        })
    }

    /// Table, row, column or scalar, from the syntax and the parent.
    fn object_kind(&self, u: usize, d: usize, depth: usize) -> NodeKind {
        let Some(def) = self.def(u, d) else { return NodeKind::Scalar };
        let toks = self.toks(u);
        let body = toks.get(def.body.clone()).unwrap_or_default();
        let cl = clauses(body);
        let syntax = cl.iter().find(|(k, _)| *k == "SYNTAX").map(|(_, v)| *v).unwrap_or_default();
        if matches!(
            (syntax.first().map(|t| t.tok), syntax.get(1).map(|t| t.tok)),
            (Some(Tok::Word("SEQUENCE")), Some(Tok::Word("OF")))
        ) {
            return NodeKind::Table;
        }
        if cl.iter().any(|(k, _)| matches!(*k, "INDEX" | "AUGMENTS" | "PIB-INDEX" | "EXTENDS")) {
            return NodeKind::Row;
        }
        let value = toks.get(def.value.clone()).unwrap_or_default();
        let parent = match (value.first().map(|t| t.tok), value.len()) {
            (Some(Tok::Word(p)), 2) => self.lookup(u, p),
            _ => None,
        };
        match parent {
            Some((t, pd))
                if depth < 4
                    && self.def(t, pd).is_some_and(|x| x.kind == DefKind::Macro(Macro::ObjectType)) =>
            {
                match self.object_kind(t, pd, depth + 1) {
                    NodeKind::Table => NodeKind::Row,
                    NodeKind::Row => NodeKind::Column,
                    _ => NodeKind::Scalar,
                }
            }
            _ => NodeKind::Scalar,
        }
    }
}

fn build_unit(linker: &Linker<'_, '_>, u: usize, out: &mut Linked) {
    let (Some(m), Some(unit)) = (linker.module(u), linker.units.get(u)) else { return };
    let Some(doc) = linker.docs.get(unit.doc) else { return };
    let toks = doc.toks.as_slice();
    let mut problems: Vec<(u32, Severity, String)> = linker.problems.get(u).cloned().unwrap_or_default();
    problems.extend(
        m.problems
            .iter()
            .map(|p| (p.at, if p.error { Severity::Error } else { Severity::Warning }, p.message.clone())),
    );
    let mut info = ModuleInfo {
        name: m.name.to_owned(),
        file: doc.label.to_string(),
        language: String::new(),
        last_revision: None,
        organization: String::new(),
        description: String::new(),
        imports: m.imports.iter().map(|i| i.module.to_owned()).collect(),
        references: Vec::new(),
    };
    let mut references: Vec<&str> = m.imports.iter().map(|i| i.module).collect();
    let mut seen: HashSet<(&str, Arc<[u32]>)> = HashSet::with_capacity(m.defs.len());
    let mut smiv2 = matches!(m.name, "SNMPv2-SMI" | "SNMPv2-TC" | "SNMPv2-CONF")
        || m.imports.iter().any(|i| i.module == "SNMPv2-SMI");
    let sppi = m.imports.iter().any(|i| i.module == "COPS-PR-SPPI");
    let oids = linker.oids.get(u).map(Vec::as_slice).unwrap_or_default();
    for (d, def) in m.defs.iter().enumerate() {
        let Some(OidState::Done(Some(oid))) = oids.get(d) else {
            if let DefKind::Macro(Macro::ModuleCompliance | Macro::AgentCapabilities) = def.kind {
                collect_references(toks.get(def.body.clone()).unwrap_or_default(), &mut references);
            }
            continue;
        };
        if !seen.insert((def.name, oid.clone())) {
            continue;
        }
        let body = toks.get(def.body.clone()).unwrap_or_default();
        let cl = clauses(body);
        let clause = |key: &str| cl.iter().find(|(k, _)| *k == key).map(|(_, v)| *v);
        let members = |key: &str| -> Vec<String> {
            clause(key).map(words).unwrap_or_default().into_iter().map(str::to_owned).collect()
        };
        let kind = match def.kind {
            DefKind::Macro(Macro::ModuleIdentity) => NodeKind::ModuleIdentity,
            DefKind::Macro(Macro::ObjectIdentity) => NodeKind::ObjectIdentity,
            DefKind::Macro(Macro::ObjectType) => linker.object_kind(u, d, 0),
            DefKind::Macro(Macro::NotificationType | Macro::TrapType) => NodeKind::Notification,
            DefKind::Macro(Macro::ObjectGroup | Macro::NotificationGroup) => NodeKind::Group,
            DefKind::Macro(Macro::ModuleCompliance) => NodeKind::Compliance,
            DefKind::Macro(Macro::AgentCapabilities) => NodeKind::Capabilities,
            _ => NodeKind::ValueAssignment,
        };
        let mut node = MibNode::new(m.name, def.name, Oid::new(oid.to_vec()), kind);
        node.status = clause("STATUS").and_then(word_of).and_then(status);
        node.units = clause("UNITS").and_then(string_of).unwrap_or_default();
        node.description = clause("DESCRIPTION").and_then(string_of).unwrap_or_default();
        match def.kind {
            DefKind::Macro(Macro::ObjectType) => {
                smiv2 |= clause("MAX-ACCESS").is_some();
                node.syntax = Some(linker.syntax(u, clause("SYNTAX").unwrap_or_default(), &mut problems));
                node.access =
                    clause("MAX-ACCESS").or_else(|| clause("ACCESS")).and_then(word_of).and_then(access);
                node.defval = clause("DEFVAL").and_then(defval);
                if let Some(index) = clause("INDEX").or_else(|| clause("PIB-INDEX")) {
                    let words = words(index);
                    node.index_implied_last =
                        words.len() >= 2 && words.get(words.len() - 2) == Some(&"IMPLIED");
                    node.index = words.into_iter().filter(|w| *w != "IMPLIED").map(str::to_owned).collect();
                }
                node.augments = clause("AUGMENTS").and_then(word_of).map(str::to_owned);
            }
            DefKind::Macro(Macro::NotificationType | Macro::ObjectGroup) => node.members = members("OBJECTS"),
            DefKind::Macro(Macro::TrapType) => node.members = members("VARIABLES"),
            DefKind::Macro(Macro::NotificationGroup) => node.members = members("NOTIFICATIONS"),
            DefKind::Macro(Macro::ModuleIdentity) => {
                smiv2 = true;
                let dates = cl
                    .iter()
                    .filter(|(k, _)| matches!(*k, "LAST-UPDATED" | "REVISION"))
                    .filter_map(|(_, v)| string_of(v))
                    .collect::<Vec<_>>();
                info.last_revision = revision::newest(dates.iter().map(String::as_str));
                info.organization = clause("ORGANIZATION").and_then(string_of).unwrap_or_default();
                info.description = node.description.clone();
            }
            DefKind::Macro(Macro::ModuleCompliance | Macro::AgentCapabilities) => {
                collect_references(body, &mut references);
            }
            _ => {}
        }
        out.nodes.push(Arc::new(node));
    }
    // The three roots no module defines: SNMPv2-SMI names them (as mib-rs does), so
    // the tree starts from them and every node has a module.
    let roots: &[(&str, &[u32])] = if m.name == "SNMPv2-SMI" {
        &[("ccitt", &[0]), ("iso", &[1]), ("joint-iso-ccitt", &[2])]
    } else {
        &[]
    };
    let arcs = linker.named_arcs.iter().filter(|(au, ..)| *au == u).map(|(_, n, o)| (*n, o.clone()));
    for (name, oid) in roots.iter().map(|(n, o)| (*n, Arc::from(*o))).chain(arcs) {
        if !seen.insert((name, Arc::clone(&oid))) {
            continue;
        }
        out.nodes.push(Arc::new(MibNode::new(
            m.name,
            name,
            Oid::new(oid.to_vec()),
            NodeKind::ValueAssignment,
        )));
    }
    info.language = if sppi {
        "SPPI"
    } else if smiv2 {
        "SMIv2"
    } else {
        "SMIv1"
    }
    .to_owned();
    references.sort_unstable();
    references.dedup();
    references.retain(|r| *r != m.name && !r.is_empty());
    info.references = references.into_iter().map(str::to_owned).collect();
    let mut lines = Lines::new(doc.bytes);
    for (at, severity, message) in problems {
        out.diagnostics.push(Diagnostic {
            file: doc.label.to_string(),
            line: Some(lines.line(at)),
            severity,
            module: Some(m.name.to_owned()),
            message,
        });
    }
    out.modules.push(info);
}

/// The MODULE clauses of a MODULE-COMPLIANCE and SUPPORTS of AGENT-CAPABILITIES name
/// other modules (`MODULE -- this module` names none).
fn collect_references<'a>(body: &[Token<'a>], out: &mut Vec<&'a str>) {
    for (k, v) in clauses(body) {
        if matches!(k, "MODULE" | "SUPPORTS") {
            if let Some(Tok::Word(w)) = v.first().map(|t| t.tok) {
                if w.starts_with(|c: char| c.is_ascii_uppercase()) && w != "MANDATORY-GROUPS" {
                    out.push(w);
                }
            }
        }
    }
}
