//! Finds the modules a file defines from its text: every `NAME DEFINITIONS ::= BEGIN`
//! header outside comments and strings.
//!
//! Imports name modules, not files, and real file names often differ from the module
//! inside (`mib-jnx-chas-defines.txt` holds JUNIPER-CHASSIS-DEFINES-MIB); one file may
//! also hold several modules. So the index of what can be imported is built from
//! contents. This is a scan, not a parse: it only needs to see headers, and must
//! never fail whatever the bytes.

/// A module header found in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleHeader {
    /// The module name as written.
    pub name: String,
    /// 1-based line of the name.
    pub line: usize,
}

/// Every module header in `text`, in order.
///
/// A header is an identifier starting with an upper-case letter, optionally followed
/// by an OID value in braces (`NAME { iso ... } DEFINITIONS`), then the word
/// `DEFINITIONS`. ASN.1 comments run from `--` to the next `--` or the end of the
/// line; strings run between double quotes and may span lines.
pub fn module_headers(text: &[u8]) -> Vec<ModuleHeader> {
    let mut out = Vec::new();
    let mut i = 0;
    let mut line = 1;
    // The last identifier seen outside braces, and the brace depth since it.
    let mut candidate: Option<(String, usize)> = None;
    let mut depth = 0usize;
    while let Some(&b) = text.get(i) {
        match b {
            b'\n' => {
                line += 1;
                i += 1;
            }
            b'-' if text.get(i + 1) == Some(&b'-') => {
                i += 2;
                while let Some(&c) = text.get(i) {
                    if c == b'\n' {
                        break;
                    }
                    if c == b'-' && text.get(i + 1) == Some(&b'-') {
                        i += 2;
                        break;
                    }
                    i += 1;
                }
            }
            b'"' => {
                i += 1;
                while let Some(&c) = text.get(i) {
                    i += 1;
                    if c == b'\n' {
                        line += 1;
                    }
                    if c == b'"' {
                        break;
                    }
                }
            }
            b'{' => {
                depth += 1;
                i += 1;
            }
            b'}' => {
                depth = depth.saturating_sub(1);
                i += 1;
            }
            c if c.is_ascii_alphabetic() => {
                let start = i;
                while text.get(i).is_some_and(|&c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_') {
                    i += 1;
                }
                let word = text.get(start..i).unwrap_or_default();
                if word == b"DEFINITIONS" {
                    if let Some((name, at)) = candidate.take() {
                        out.push(ModuleHeader { name, line: at });
                    }
                } else if depth == 0 {
                    let first_upper = word.first().is_some_and(u8::is_ascii_uppercase);
                    candidate = first_upper.then(|| (String::from_utf8_lossy(word).into_owned(), line));
                }
            }
            c if c.is_ascii_whitespace() => i += 1,
            _ => {
                // Any other token between a name and DEFINITIONS (`::=`, `;`…)
                // means the name was not a module name.
                if depth == 0 {
                    candidate = None;
                }
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(text: &str) -> Vec<(String, usize)> {
        module_headers(text.as_bytes()).into_iter().map(|h| (h.name, h.line)).collect()
    }

    #[test]
    fn finds_plain_and_oid_headers_and_several_per_file() {
        let text = "-- a comment DEFINITIONS\nFOO-MIB DEFINITIONS ::= BEGIN\nEND\n\n\
                    BAR-MIB { iso org(3) 6 } DEFINITIONS IMPLICIT TAGS ::= BEGIN END";
        assert_eq!(names(text), [("FOO-MIB".to_owned(), 2), ("BAR-MIB".to_owned(), 5)]);
    }

    #[test]
    fn ignores_strings_comments_and_lowercase_words() {
        let text = "X-MIB DEFINITIONS ::= BEGIN\n a OBJECT-TYPE DESCRIPTION \"Y-MIB DEFINITIONS\n\" \
                    -- Z-MIB DEFINITIONS --\n foo DEFINITIONS\nEND";
        assert_eq!(names(text), [("X-MIB".to_owned(), 1)]);
    }

    #[test]
    fn junk_yields_nothing() {
        assert!(names("").is_empty());
        assert!(names("DEFINITIONS ::= BEGIN").is_empty());
        assert!(module_headers(&[0xff, b'"', 0x00, b'-']).is_empty());
    }
}
