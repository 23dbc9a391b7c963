//! Finds the modules a file defines from its text: every `NAME DEFINITIONS ::= BEGIN`
//! header outside comments and strings.
//!
//! Imports name modules, not files, and real file names often differ from the module
//! inside (`mib-jnx-chas-defines.txt` holds JUNIPER-CHASSIS-DEFINES-MIB); one file may
//! also hold several modules. So the index of what can be imported is built from
//! contents. This is a scan, not a parse: it only needs to see headers, and must
//! never fail whatever the bytes.

/// A module header found in a file.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
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
    // Every header ends with the word DEFINITIONS, so no token starting after the last
    // occurrence of those bytes can complete one. Most files hold one module declared
    // on their first lines: the scan then stops there instead of tokenizing the whole
    // file (38 MB for the corpus, on every full resolve). The token at that occurrence
    // is still read from the whole text, so `DEFINITIONSX` stays one other word.
    let Some(last) = memchr::memmem::find_iter(text, b"DEFINITIONS").last() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    // The last identifier seen outside braces, and the brace depth since it.
    let mut candidate: Option<(&[u8], usize)> = None;
    let mut depth = 0usize;
    let mut tokens = Tokens::new(text);
    while tokens.i <= last {
        let Some((token, line)) = tokens.next() else { break };
        match token {
            Token::Open => depth += 1,
            Token::Close => depth = depth.saturating_sub(1),
            Token::Word(b"DEFINITIONS") => {
                if let Some((name, at)) = candidate.take() {
                    out.push(ModuleHeader { name: String::from_utf8_lossy(name).into_owned(), line: at });
                }
            }
            Token::Word(word) if depth == 0 => {
                let first_upper = word.first().is_some_and(u8::is_ascii_uppercase);
                candidate = first_upper.then_some((word, line));
            }
            Token::Word(_) => {}
            // Any other token between a name and DEFINITIONS (`::=`, `;`…) means the
            // name was not a module name.
            Token::Other if depth == 0 => candidate = None,
            Token::Other => {}
        }
    }
    out
}

/// Every distinct identifier outside comments and strings: the descriptors a module
/// may define, to ask the resolver's per-module name table about.
pub fn identifiers(text: &[u8]) -> std::collections::BTreeSet<String> {
    words(text).map(|w| String::from_utf8_lossy(w).into_owned()).collect()
}

/// The identifiers outside comments and strings, in order and repeated, unallocated:
/// [`identifiers`] for callers that filter most of them out.
pub(crate) fn words(text: &[u8]) -> impl Iterator<Item = &[u8]> {
    Tokens::new(text).filter_map(|(t, _)| match t {
        Token::Word(w) => Some(w),
        _ => None,
    })
}

/// What the scan distinguishes.
enum Token<'a> {
    /// An identifier or keyword (`[A-Za-z][A-Za-z0-9_-]*`).
    Word(&'a [u8]),
    /// `{`
    Open,
    /// `}`
    Close,
    /// Any other character outside comments and strings.
    Other,
}

/// The tokens of a text with their 1-based line, skipping white space, ASN.1 comments
/// (`--` to the next `--` or the end of the line) and strings (double quotes, possibly
/// over several lines). Never fails: any byte is some token or skipped.
struct Tokens<'a> {
    text: &'a [u8],
    i: usize,
    line: usize,
}

impl<'a> Tokens<'a> {
    fn new(text: &'a [u8]) -> Self {
        Self { text, i: 0, line: 1 }
    }

    fn at(&self, i: usize) -> Option<u8> {
        self.text.get(i).copied()
    }
}

impl<'a> Iterator for Tokens<'a> {
    type Item = (Token<'a>, usize);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let b = self.at(self.i)?;
            match b {
                b'\n' => {
                    self.line += 1;
                    self.i += 1;
                }
                b'-' if self.at(self.i + 1) == Some(b'-') => {
                    self.i += 2;
                    while let Some(c) = self.at(self.i) {
                        if c == b'\n' {
                            break;
                        }
                        if c == b'-' && self.at(self.i + 1) == Some(b'-') {
                            self.i += 2;
                            break;
                        }
                        self.i += 1;
                    }
                }
                b'"' => {
                    self.i += 1;
                    while let Some(c) = self.at(self.i) {
                        self.i += 1;
                        if c == b'\n' {
                            self.line += 1;
                        }
                        if c == b'"' {
                            break;
                        }
                    }
                }
                c if c.is_ascii_whitespace() => self.i += 1,
                c if c.is_ascii_alphabetic() => {
                    let start = self.i;
                    while self.at(self.i).is_some_and(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
                    {
                        self.i += 1;
                    }
                    let word = self.text.get(start..self.i).unwrap_or_default();
                    return Some((Token::Word(word), self.line));
                }
                _ => {
                    self.i += 1;
                    let token = match b {
                        b'{' => Token::Open,
                        b'}' => Token::Close,
                        _ => Token::Other,
                    };
                    return Some((token, self.line));
                }
            }
        }
    }
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
    fn identifiers_skip_comments_and_strings() {
        let ids = identifiers(b"a-b OBJECT -- hidden --\n\"quoted\" x_1 ::= { a-b 2 }");
        assert_eq!(ids.into_iter().collect::<Vec<_>>(), ["OBJECT", "a-b", "x_1"]);
    }

    /// The scan as it was before it stopped at the last `DEFINITIONS`: every token.
    fn headers_scanning_everything(text: &[u8]) -> Vec<ModuleHeader> {
        let mut out = Vec::new();
        let mut candidate: Option<(&[u8], usize)> = None;
        let mut depth = 0usize;
        for (token, line) in Tokens::new(text) {
            match token {
                Token::Open => depth += 1,
                Token::Close => depth = depth.saturating_sub(1),
                Token::Word(b"DEFINITIONS") => {
                    if let Some((name, at)) = candidate.take() {
                        out.push(ModuleHeader { name: String::from_utf8_lossy(name).into_owned(), line: at });
                    }
                }
                Token::Word(word) if depth == 0 => {
                    candidate = word.first().is_some_and(u8::is_ascii_uppercase).then_some((word, line));
                }
                Token::Word(_) => {}
                Token::Other if depth == 0 => candidate = None,
                Token::Other => {}
            }
        }
        out
    }

    #[test]
    fn stopping_at_the_last_definitions_changes_nothing() {
        let text = "A-MIB DEFINITIONS ::= BEGIN\n x \"B-MIB DEFINITIONS\" -- C-MIB DEFINITIONS --\n\
                    END\nD-MIB { iso 3 } DEFINITIONSX ::= BEGIN END\nE-MIB\nDEFINITIONS ::= BEGIN\n\
                    F-MIB DEFINITIONS-- trailing comment DEFINITIONS\n\"open DEFINITIONS";
        // Every prefix, so that the text ends inside each word, comment and string.
        for end in 0..=text.len() {
            let prefix = text.as_bytes().get(..end).unwrap();
            assert_eq!(module_headers(prefix), headers_scanning_everything(prefix), "prefix {end}");
        }
        let all: Vec<String> = module_headers(text.as_bytes()).into_iter().map(|h| h.name).collect();
        // `DEFINITIONS--` is one word to the scan (identifiers may hold `-`), before and after.
        assert_eq!(all, ["A-MIB", "E-MIB"]);
    }

    #[test]
    fn junk_yields_nothing() {
        assert!(names("").is_empty());
        assert!(names("DEFINITIONS ::= BEGIN").is_empty());
        assert!(module_headers(&[0xff, b'"', 0x00, b'-']).is_empty());
    }
}
