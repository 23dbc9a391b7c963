//! SMI tokens: one pass over a file's bytes, never failing.
//!
//! ASN.1 comments run from `--` to the next `--` or the end of the line; strings run
//! between double quotes over any number of lines (`""` inside is one quote). Tokens
//! keep their byte offset; lines are only counted when a diagnostic needs one
//! ([`Lines`]), because almost no token ever does.

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tok<'a> {
    /// An identifier or keyword: a letter, then letters, digits, `_` and single `-`.
    Word(&'a str),
    /// A decimal number, with its sign when written with one (`-1000`).
    Number(&'a str),
    /// The body of a quoted string, quotes excluded.
    Str(&'a [u8]),
    /// `'0A0B'H`: the hex digits.
    Hex(&'a [u8]),
    /// `'0101'B`: the binary digits.
    Bin(&'a [u8]),
    /// `::=`
    Assign,
    /// `..`
    Range,
    /// Any other single character: `{ } ( ) , ; | [ ] .` and the unexpected.
    Punct(u8),
}

/// One token and where it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Token<'a> {
    pub(crate) tok: Tok<'a>,
    /// Byte offset in the file.
    pub(crate) at: u32,
}

/// Every token of `text`. Offsets past 4 GiB are clamped (no MIB file is near that; the
/// upload bounds are far below).
pub(crate) fn tokens(text: &[u8]) -> Vec<Token<'_>> {
    // About one token per 6 bytes in real MIBs.
    let mut out = Vec::with_capacity(text.len() / 6);
    let mut i = 0;
    let at = |i: usize| u32::try_from(i).unwrap_or(u32::MAX);
    while let Some(&b) = text.get(i) {
        match b {
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
                let start = i + 1;
                let mut j = start;
                loop {
                    match memchr::memchr(b'"', text.get(j..).unwrap_or_default()) {
                        // `""` is a quote inside the string.
                        Some(k) if text.get(j + k + 1) == Some(&b'"') => j += k + 2,
                        Some(k) => {
                            out.push(Token {
                                tok: Tok::Str(text.get(start..j + k).unwrap_or_default()),
                                at: at(i),
                            });
                            i = j + k + 1;
                            break;
                        }
                        None => {
                            // Unterminated: the rest of the file is the string.
                            out.push(Token {
                                tok: Tok::Str(text.get(start..).unwrap_or_default()),
                                at: at(i),
                            });
                            i = text.len();
                            break;
                        }
                    }
                }
            }
            b'\'' => {
                let start = i + 1;
                let end = memchr::memchr(b'\'', text.get(start..).unwrap_or_default()).map(|k| start + k);
                let Some(end) = end else {
                    out.push(Token { tok: Tok::Punct(b), at: at(i) });
                    i += 1;
                    continue;
                };
                let body = text.get(start..end).unwrap_or_default();
                let tok = match text.get(end + 1) {
                    Some(b'H' | b'h') => Tok::Hex(body),
                    Some(b'B' | b'b') => Tok::Bin(body),
                    // A quote without its letter: the digits as hex, the usual intent.
                    _ => Tok::Hex(body),
                };
                out.push(Token { tok, at: at(i) });
                i = if matches!(text.get(end + 1), Some(b'H' | b'h' | b'B' | b'b')) {
                    end + 2
                } else {
                    end + 1
                };
            }
            c if c.is_ascii_alphabetic() => {
                let start = i;
                i += 1;
                while let Some(&c) = text.get(i) {
                    let more = c.is_ascii_alphanumeric()
                        || c == b'_'
                        || (c == b'-' && text.get(i + 1).is_some_and(|&n| n != b'-'));
                    if !more {
                        break;
                    }
                    i += 1;
                }
                out.push(Token {
                    tok: Tok::Word(ascii(text.get(start..i).unwrap_or_default())),
                    at: at(start),
                });
            }
            c if c.is_ascii_digit() || (c == b'-' && text.get(i + 1).is_some_and(u8::is_ascii_digit)) => {
                let start = i;
                i += 1;
                while text.get(i).is_some_and(u8::is_ascii_digit) {
                    i += 1;
                }
                out.push(Token {
                    tok: Tok::Number(ascii(text.get(start..i).unwrap_or_default())),
                    at: at(start),
                });
            }
            b':' if text.get(i + 1) == Some(&b':') && text.get(i + 2) == Some(&b'=') => {
                out.push(Token { tok: Tok::Assign, at: at(i) });
                i += 3;
            }
            b'.' if text.get(i + 1) == Some(&b'.') => {
                out.push(Token { tok: Tok::Range, at: at(i) });
                i += 2;
            }
            c if c.is_ascii_whitespace() => i += 1,
            _ => {
                out.push(Token { tok: Tok::Punct(b), at: at(i) });
                i += 1;
            }
        }
    }
    out
}

/// Bytes the lexer has checked to be ASCII as text.
fn ascii(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).unwrap_or_default()
}

/// Line numbers of byte offsets, built on first use.
pub(crate) struct Lines<'a> {
    text: &'a [u8],
    starts: Option<Vec<u32>>,
}

impl<'a> Lines<'a> {
    pub(crate) fn new(text: &'a [u8]) -> Self {
        Self { text, starts: None }
    }

    /// The 1-based line of `offset`.
    pub(crate) fn line(&mut self, offset: u32) -> usize {
        let text = self.text;
        let starts = self.starts.get_or_insert_with(|| {
            memchr::memchr_iter(b'\n', text).map(|i| u32::try_from(i).unwrap_or(u32::MAX)).collect()
        });
        starts.partition_point(|&nl| nl < offset) + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<Tok<'_>> {
        tokens(text.as_bytes()).into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn words_numbers_strings_comments() {
        assert_eq!(
            kinds("a-b OBJECT -- c --x\n\"q\"\"r\" ::= { a 1 } (-5..7) '0A'H '01'B foo--c\nbar"),
            [
                Tok::Word("a-b"),
                Tok::Word("OBJECT"),
                Tok::Word("x"),
                Tok::Str(b"q\"\"r"),
                Tok::Assign,
                Tok::Punct(b'{'),
                Tok::Word("a"),
                Tok::Number("1"),
                Tok::Punct(b'}'),
                Tok::Punct(b'('),
                Tok::Number("-5"),
                Tok::Range,
                Tok::Number("7"),
                Tok::Punct(b')'),
                Tok::Hex(b"0A"),
                Tok::Bin(b"01"),
                Tok::Word("foo"),
                Tok::Word("bar"),
            ]
        );
    }

    #[test]
    fn junk_and_truncation_never_fail() {
        for text in ["\"open", "'open", "-", "--", ":", "::", ".", "\u{0}\u{ff}", "a-", "a--"] {
            let _ = tokens(text.as_bytes());
        }
        assert_eq!(kinds("\"open"), [Tok::Str(b"open")]);
    }

    #[test]
    fn lines_from_offsets() {
        let mut lines = Lines::new(b"a\nbb\n\nc");
        assert_eq!([lines.line(0), lines.line(2), lines.line(5), lines.line(6)], [1, 2, 3, 4]);
    }
}
