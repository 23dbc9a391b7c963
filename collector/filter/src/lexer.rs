//! Splits a filter expression into tokens, each with its byte position, so that parse
//! errors can point at the token that is wrong.

use super::FilterError;

/// What a token is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenKind {
    /// A word: keyword, number, address, prefix or protocol name (the parser decides).
    Word(String),
    /// `(`
    LParen,
    /// `)`
    RParen,
    /// `!` (same as `not`)
    Bang,
    /// `&&` (same as `and`)
    AndAnd,
    /// `||` (same as `or`)
    OrOr,
    /// A comparison: `=`, `==`, `!=`, `<`, `<=`, `>`, `>=`.
    Cmp(String),
}

/// One token and where it starts (byte offset into the expression).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// What it is.
    pub kind: TokenKind,
    /// Byte offset of its first character.
    pub pos: usize,
    /// The text as written.
    pub text: String,
}

fn is_word_char(c: char) -> bool {
    !c.is_whitespace() && !matches!(c, '(' | ')' | '!' | '=' | '<' | '>' | '&' | '|')
}

/// Tokenizes `input`.
pub fn lex(input: &str) -> Result<Vec<Token>, FilterError> {
    let mut out = Vec::new();
    let mut chars = input.char_indices().peekable();
    while let Some(&(pos, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let mut take = |n: usize, kind: TokenKind| {
            let mut text = String::new();
            for _ in 0..n {
                if let Some((_, c)) = chars.next() {
                    text.push(c);
                }
            }
            out.push(Token { kind, pos, text });
        };
        let next = input.get(pos + c.len_utf8()..).and_then(|s| s.chars().next());
        match (c, next) {
            ('(', _) => take(1, TokenKind::LParen),
            (')', _) => take(1, TokenKind::RParen),
            ('&', Some('&')) => take(2, TokenKind::AndAnd),
            ('|', Some('|')) => take(2, TokenKind::OrOr),
            ('!', Some('=')) => take(2, TokenKind::Cmp("!=".into())),
            ('!', _) => take(1, TokenKind::Bang),
            ('=', Some('=')) => take(2, TokenKind::Cmp("=".into())),
            ('=', _) => take(1, TokenKind::Cmp("=".into())),
            ('<' | '>', Some('=')) => take(2, TokenKind::Cmp(format!("{c}="))),
            ('<' | '>', _) => take(1, TokenKind::Cmp(c.to_string())),
            ('&' | '|', _) => {
                return Err(FilterError::new(
                    pos,
                    c.to_string(),
                    format!("`{c}` alone: use `{c}{c}` or a word"),
                ))
            }
            _ => {
                let mut text = String::new();
                while let Some(&(_, c)) = chars.peek() {
                    if !is_word_char(c) {
                        break;
                    }
                    text.push(c);
                    chars.next();
                }
                out.push(Token { kind: TokenKind::Word(text.to_ascii_lowercase()), pos, text });
            }
        }
    }
    Ok(out)
}
