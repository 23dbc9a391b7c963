//! Problems found while loading MIB files: file, line, severity, message.
//!
//! Real vendor MIBs are full of errors; none of them stops a load. Each is reported
//! here and the rest of the file, and of the corpus, is still used.

use std::fmt;

/// How serious a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Something was lost: a definition, an import or a whole module is not usable as
    /// written (the resolver may still have recovered part of it).
    Error,
    /// Not as the SMI rules say, but understood.
    Warning,
    /// Style or a remark; nothing lost.
    Info,
}

impl Severity {
    /// The word printed in `file:line: severity: message`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One problem, located in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The label of the file ([`crate::SourceText::label`]), or `<unknown>` for a
    /// problem the resolver could not place (rare: a missing module is placed at the
    /// import that names it).
    pub file: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// How serious.
    pub severity: Severity,
    /// The module concerned, when known.
    pub module: Option<String>,
    /// What is wrong, in words.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    /// `file:line: severity: message`, the form compilers use, so editors can jump.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}: {}", self.file, line, self.severity, self.message),
            None => write!(f, "{}: {}: {}", self.file, self.severity, self.message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_like_a_compiler() {
        let mut d = Diagnostic {
            file: "a/B-MIB.txt".into(),
            line: Some(12),
            severity: Severity::Warning,
            module: Some("B-MIB".into()),
            message: "bad".into(),
        };
        assert_eq!(d.to_string(), "a/B-MIB.txt:12: warning: bad");
        d.line = None;
        assert_eq!(d.to_string(), "a/B-MIB.txt: warning: bad");
    }
}
