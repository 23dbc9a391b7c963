//! A file's tokens split into modules, imports and definitions.
//!
//! This is deliberately shallow: a definition is located (its name, what kind, where
//! its clauses and its value are), and its clauses are read only when the linker asks
//! for them ([`clauses`]). Vendor MIBs break the grammar in endless ways; locating
//! definitions by their first tokens (`name OBJECT-TYPE`, `name OBJECT IDENTIFIER ::=`,
//! `Name ::=`) means one broken definition costs that definition, never the module.

use std::ops::Range;

use super::lex::{Tok, Token};

/// The definition macros of SMIv1, SMIv2 and SPPI that give a node an OID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Macro {
    ModuleIdentity,
    ObjectIdentity,
    ObjectType,
    NotificationType,
    TrapType,
    ObjectGroup,
    NotificationGroup,
    ModuleCompliance,
    AgentCapabilities,
}

impl Macro {
    fn from_word(w: &str) -> Option<Self> {
        Some(match w {
            "MODULE-IDENTITY" => Macro::ModuleIdentity,
            "OBJECT-IDENTITY" => Macro::ObjectIdentity,
            "OBJECT-TYPE" => Macro::ObjectType,
            "NOTIFICATION-TYPE" => Macro::NotificationType,
            "TRAP-TYPE" => Macro::TrapType,
            "OBJECT-GROUP" => Macro::ObjectGroup,
            "NOTIFICATION-GROUP" => Macro::NotificationGroup,
            "MODULE-COMPLIANCE" => Macro::ModuleCompliance,
            "AGENT-CAPABILITIES" => Macro::AgentCapabilities,
            _ => return None,
        })
    }
}

/// What a definition is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DefKind {
    /// `name OBJECT IDENTIFIER ::= { … }`
    Oid,
    /// `name MACRO clauses ::= value`
    Macro(Macro),
    /// `Name ::= TEXTUAL-CONVENTION clauses`
    TextualConvention,
    /// `Name ::= type`
    Type,
    /// `NAME MACRO ::= BEGIN … END`: only its name matters (it can be imported).
    MacroDefinition,
}

/// One definition, as token ranges of its file.
#[derive(Debug, Clone)]
pub(crate) struct Def<'a> {
    pub(crate) name: &'a str,
    pub(crate) at: u32,
    pub(crate) kind: DefKind,
    /// Clauses (macros, TCs) or the type (type assignments).
    pub(crate) body: Range<usize>,
    /// Inside the braces of an OID value, or the number of a TRAP-TYPE.
    pub(crate) value: Range<usize>,
}

/// `symbols FROM MODULE`.
#[derive(Debug, Clone)]
pub(crate) struct Import<'a> {
    pub(crate) module: &'a str,
    pub(crate) symbols: Vec<&'a str>,
    pub(crate) at: u32,
}

/// A problem found while splitting; the linker turns it into a diagnostic.
#[derive(Debug, Clone)]
pub(crate) struct Problem {
    pub(crate) at: u32,
    pub(crate) error: bool,
    pub(crate) message: String,
}

/// One `NAME DEFINITIONS ::= BEGIN … END`.
#[derive(Debug, Clone)]
pub(crate) struct Module<'a> {
    pub(crate) name: &'a str,
    pub(crate) imports: Vec<Import<'a>>,
    pub(crate) defs: Vec<Def<'a>>,
    pub(crate) problems: Vec<Problem>,
}

/// Every module of a file's tokens.
pub(crate) fn modules<'a>(toks: &[Token<'a>]) -> Vec<Module<'a>> {
    let mut out = Vec::new();
    let mut p = 0;
    while p < toks.len() {
        match header(toks, p) {
            Some((name, body)) => {
                let (module, next) = module(toks, name, body);
                if !module.name.is_empty() {
                    out.push(module);
                }
                p = next.max(p + 1);
            }
            None => p += 1,
        }
    }
    out
}

fn word<'a>(toks: &[Token<'a>], p: usize) -> Option<&'a str> {
    match toks.get(p)?.tok {
        Tok::Word(w) => Some(w),
        _ => None,
    }
}

fn is(toks: &[Token<'_>], p: usize, w: &str) -> bool {
    word(toks, p) == Some(w)
}

fn punct(toks: &[Token<'_>], p: usize, c: u8) -> bool {
    toks.get(p).is_some_and(|t| t.tok == Tok::Punct(c))
}

/// The index after the group opened at `p` (`{`, `(` or `[`), nested groups included;
/// the end of the tokens when it is never closed.
pub(crate) fn skip_group(toks: &[Token<'_>], p: usize) -> usize {
    let mut depth = 0usize;
    let mut q = p;
    while let Some(t) = toks.get(q) {
        match t.tok {
            Tok::Punct(b'{' | b'(' | b'[') => depth += 1,
            Tok::Punct(b'}' | b')' | b']') => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return q + 1;
                }
            }
            _ => {}
        }
        q += 1;
    }
    toks.len()
}

/// `NAME [{ oid }] DEFINITIONS [tags] ::= BEGIN` at `p`: the name and the index after
/// BEGIN.
fn header<'a>(toks: &[Token<'a>], p: usize) -> Option<(&'a str, usize)> {
    let name = word(toks, p).filter(|w| w.starts_with(|c: char| c.is_ascii_uppercase()))?;
    let mut q = p + 1;
    if punct(toks, q, b'{') {
        q = skip_group(toks, q);
    }
    if !is(toks, q, "DEFINITIONS") {
        return None;
    }
    // `IMPLICIT TAGS`, `EXPLICIT TAGS`, `AUTOMATIC TAGS` before `::=`.
    q += 1;
    for _ in 0..4 {
        if toks.get(q).is_some_and(|t| t.tok == Tok::Assign) {
            break;
        }
        q += 1;
    }
    if toks.get(q).is_some_and(|t| t.tok == Tok::Assign) && is(toks, q + 1, "BEGIN") {
        Some((name, q + 2))
    } else {
        None
    }
}

/// Whether a new top-level item starts at `p`: `END`, or a word followed by `::=`,
/// `MACRO`, a definition macro, or `OBJECT IDENTIFIER ::=`. No definition's clauses
/// contain these, so this is where a broken definition's tokens end.
fn starts_item(toks: &[Token<'_>], p: usize) -> bool {
    let Some(w) = word(toks, p) else { return false };
    if w == "END" {
        return true;
    }
    match toks.get(p + 1).map(|t| t.tok) {
        Some(Tok::Assign) => true,
        Some(Tok::Word("MACRO")) => true,
        Some(Tok::Word("OBJECT")) => {
            is(toks, p + 2, "IDENTIFIER") && toks.get(p + 3).is_some_and(|t| t.tok == Tok::Assign)
        }
        Some(Tok::Word(m)) => Macro::from_word(m).is_some(),
        _ => false,
    }
}

fn next_item(toks: &[Token<'_>], mut p: usize) -> usize {
    while p < toks.len() && !starts_item(toks, p) {
        p += 1;
    }
    p
}

fn module<'a>(toks: &[Token<'a>], name: &'a str, mut p: usize) -> (Module<'a>, usize) {
    let mut m = Module { name, imports: Vec::new(), defs: Vec::new(), problems: Vec::new() };
    let offset = |p: usize| toks.get(p).or(toks.last()).map_or(0, |t| t.at);
    loop {
        let Some(t) = toks.get(p) else {
            // A header with nothing usable after it (a README quoting one, a diff) is
            // no module; the caller reports the header as not parsed.
            if m.defs.is_empty() && m.imports.is_empty() {
                m.name = "";
            }
            m.problems.push(Problem {
                at: offset(p),
                error: true,
                message: format!("module {name} ends without END (truncated file?)"),
            });
            return (m, p);
        };
        let Tok::Word(w) = t.tok else {
            m.problems.push(Problem {
                at: t.at,
                error: true,
                message: "unexpected symbol; skipped to the next definition".into(),
            });
            p = next_item(toks, p + 1);
            continue;
        };
        match w {
            "END" => return (m, p + 1),
            "IMPORTS" => p = imports(toks, p + 1, &mut m),
            "EXPORTS" => {
                while p < toks.len() && !punct(toks, p, b';') && !starts_item(toks, p + 1) {
                    p += 1;
                }
                p += 1;
            }
            _ => p = definition(toks, p, w, &mut m),
        }
    }
}

fn imports<'a>(toks: &[Token<'a>], mut p: usize, m: &mut Module<'a>) -> usize {
    let mut symbols = Vec::new();
    loop {
        match toks.get(p).map(|t| t.tok) {
            Some(Tok::Punct(b';')) => return p + 1,
            Some(Tok::Punct(b',')) => p += 1,
            Some(Tok::Word("FROM")) => {
                let at = toks.get(p).map_or(0, |t| t.at);
                let Some(module) = word(toks, p + 1) else {
                    m.problems.push(Problem {
                        at,
                        error: true,
                        message: "IMPORTS: FROM without a module name".into(),
                    });
                    return next_item(toks, p + 1);
                };
                m.imports.push(Import { module, symbols: std::mem::take(&mut symbols), at });
                p += 2;
                // `FROM MODULE { oid }`: ASN.1 allows naming the module by OID too.
                if punct(toks, p, b'{') {
                    p = skip_group(toks, p);
                }
            }
            Some(Tok::Word(w)) if !starts_item(toks, p) => {
                symbols.push(w);
                p += 1;
            }
            _ => {
                let at = toks.get(p).or(toks.last()).map_or(0, |t| t.at);
                m.problems.push(Problem {
                    at,
                    error: !symbols.is_empty(),
                    message: if symbols.is_empty() {
                        "IMPORTS not ended by `;`".into()
                    } else {
                        format!("IMPORTS: {} without FROM", symbols.join(", "))
                    },
                });
                return p;
            }
        }
    }
}

fn definition<'a>(toks: &[Token<'a>], p: usize, name: &'a str, m: &mut Module<'a>) -> usize {
    let at = toks.get(p).map_or(0, |t| t.at);
    let mut def = |kind, body: Range<usize>, value: Range<usize>| {
        m.defs.push(Def { name, at, kind, body, value });
    };
    match toks.get(p + 1).map(|t| t.tok) {
        Some(Tok::Word("MACRO")) => {
            // The body is ASN.1 macro notation, not SMI: skipped to its END.
            let mut q = p + 2;
            while q < toks.len() && !is(toks, q, "END") {
                q += 1;
            }
            def(DefKind::MacroDefinition, p..p, p..p);
            q + 1
        }
        Some(Tok::Assign) => {
            let end = next_item(toks, p + 2);
            if is(toks, p + 2, "TEXTUAL-CONVENTION") {
                def(DefKind::TextualConvention, p + 3..end, p..p);
            } else {
                def(DefKind::Type, p + 2..end, p..p);
            }
            end
        }
        Some(Tok::Word("OBJECT")) if is(toks, p + 2, "IDENTIFIER") => {
            let open = p + 4;
            if toks.get(p + 3).is_some_and(|t| t.tok == Tok::Assign) && punct(toks, open, b'{') {
                let close = skip_group(toks, open);
                def(DefKind::Oid, p..p, open + 1..close.saturating_sub(1).max(open + 1));
                close
            } else {
                m.problems.push(Problem {
                    at,
                    error: true,
                    message: format!("{name}: OBJECT IDENTIFIER without a value"),
                });
                next_item(toks, p + 1)
            }
        }
        Some(Tok::Word(w)) if Macro::from_word(w).is_some() => {
            let kind = Macro::from_word(w).unwrap_or(Macro::ObjectType);
            let mut q = p + 2;
            while q < toks.len() && toks.get(q).is_some_and(|t| t.tok != Tok::Assign) {
                if q > p + 2
                    && starts_item(toks, q)
                    && !matches!(toks.get(q + 1).map(|t| t.tok), Some(Tok::Assign))
                {
                    break;
                }
                q += 1;
            }
            if toks.get(q).is_none_or(|t| t.tok != Tok::Assign) {
                m.problems.push(Problem { at, error: true, message: format!("{name} {w}: no `::=` value") });
                return q;
            }
            let body = p + 2..q;
            if punct(toks, q + 1, b'{') {
                let close = skip_group(toks, q + 1);
                def(DefKind::Macro(kind), body, q + 2..close.saturating_sub(1).max(q + 2));
                close
            } else if matches!(toks.get(q + 1).map(|t| t.tok), Some(Tok::Number(_))) {
                def(DefKind::Macro(kind), body, q + 1..q + 2);
                q + 2
            } else {
                m.problems.push(Problem {
                    at,
                    error: true,
                    message: format!("{name} {w}: the value after `::=` is not an OID"),
                });
                next_item(toks, q + 1)
            }
        }
        _ => {
            m.problems.push(Problem {
                at,
                error: true,
                message: format!("`{name}` does not start a definition; skipped to the next one"),
            });
            next_item(toks, p + 1)
        }
    }
}

/// The clauses of a macro or TC body: each keyword and the tokens up to the next one.
/// `OBJECT` followed by `IDENTIFIER` is a type, not the compliance clause.
pub(crate) fn clauses<'t, 'a>(toks: &'t [Token<'a>]) -> Vec<(&'a str, &'t [Token<'a>])> {
    let mut out: Vec<(&'a str, &'t [Token<'a>])> = Vec::new();
    let mut start: Option<(&'a str, usize)> = None;
    let mut depth = 0usize;
    for (i, t) in toks.iter().enumerate() {
        match t.tok {
            Tok::Punct(b'{' | b'(' | b'[') => depth += 1,
            Tok::Punct(b'}' | b')' | b']') => depth = depth.saturating_sub(1),
            Tok::Word(w)
                if depth == 0 && is_clause(w) && !(w == "OBJECT" && is(toks, i + 1, "IDENTIFIER")) =>
            {
                if let Some((k, s)) = start.take() {
                    out.push((k, toks.get(s..i).unwrap_or_default()));
                }
                start = Some((w, i + 1));
            }
            _ => {}
        }
    }
    if let Some((k, s)) = start {
        out.push((k, toks.get(s..).unwrap_or_default()));
    }
    out
}

fn is_clause(w: &str) -> bool {
    matches!(
        w,
        "SYNTAX"
            | "UNITS"
            | "MAX-ACCESS"
            | "ACCESS"
            | "STATUS"
            | "DESCRIPTION"
            | "REFERENCE"
            | "INDEX"
            | "AUGMENTS"
            | "DEFVAL"
            | "OBJECTS"
            | "VARIABLES"
            | "ENTERPRISE"
            | "LAST-UPDATED"
            | "ORGANIZATION"
            | "CONTACT-INFO"
            | "REVISION"
            | "NOTIFICATIONS"
            | "MODULE"
            | "MANDATORY-GROUPS"
            | "GROUP"
            | "OBJECT"
            | "MIN-ACCESS"
            | "WRITE-SYNTAX"
            | "PRODUCT-RELEASE"
            | "SUPPORTS"
            | "INCLUDES"
            | "VARIATION"
            | "CREATION-REQUIRES"
            | "DISPLAY-HINT"
            | "PIB-ACCESS"
            | "PIB-INDEX"
            | "PIB-REFERENCES"
            | "PIB-TAG"
            | "PIB-MIN-ACCESS"
            | "UNIQUENESS"
            | "INSTALL-ERRORS"
            | "SUBJECT-CATEGORIES"
            | "EXTENDS"
    )
}

#[cfg(test)]
mod tests {
    use super::super::lex::tokens;
    use super::*;

    #[test]
    fn splits_modules_imports_and_definitions() {
        let text = b"A-MIB DEFINITIONS ::= BEGIN\nIMPORTS x, OBJECT-TYPE FROM B-MIB y FROM C-MIB;\n\
            T ::= TEXTUAL-CONVENTION STATUS current SYNTAX OCTET STRING (SIZE (6))\n\
            a OBJECT IDENTIFIER ::= { x 1 }\n\
            junk junk ::=\n\
            b OBJECT-TYPE SYNTAX OBJECT IDENTIFIER MAX-ACCESS read-only ::= { a 2 }\n\
            S ::= SEQUENCE { b OBJECT IDENTIFIER }\nEND\nZ-MIB DEFINITIONS ::= BEGIN END";
        let toks = tokens(text);
        let ms = modules(&toks);
        assert_eq!(ms.len(), 2);
        let a = &ms[0];
        assert_eq!(a.imports.len(), 2);
        assert_eq!(a.imports[0].symbols, ["x", "OBJECT-TYPE"]);
        let names: Vec<(&str, DefKind)> = a.defs.iter().map(|d| (d.name, d.kind)).collect();
        assert_eq!(
            names,
            [
                ("T", DefKind::TextualConvention),
                ("a", DefKind::Oid),
                ("junk", DefKind::Type),
                ("b", DefKind::Macro(Macro::ObjectType)),
                ("S", DefKind::Type)
            ]
        );
        let b = &a.defs[3];
        let cl: Vec<&str> = clauses(&toks[b.body.clone()]).into_iter().map(|(k, _)| k).collect();
        assert_eq!(cl, ["SYNTAX", "MAX-ACCESS"]);
        assert_eq!(ms[1].name, "Z-MIB");
    }

    #[test]
    fn truncated_and_broken_never_fail() {
        let text = b"A DEFINITIONS ::= BEGIN IMPORTS a FROM";
        let toks = tokens(text);
        for end in 0..=toks.len() {
            let _ = modules(&toks[..end]);
        }
        // Nothing usable: no module.
        assert!(modules(&toks).is_empty());
        let toks = tokens(b"A DEFINITIONS ::= BEGIN a OBJECT IDENTIFIER ::= { b 1 }");
        let ms = modules(&toks);
        assert_eq!(ms[0].defs.len(), 1);
        assert!(ms[0].problems[0].message.contains("without END"));
    }
}
