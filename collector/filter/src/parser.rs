//! Recursive-descent parser: tokens to [`Expr`]. Precedence, loosest first: `or`,
//! `and`, `not`; parentheses group.

use super::lexer::{lex, Token, TokenKind};
use super::{Cmp, Dir, Expr, FilterError, IfDir, Pred, Prefix, PORTS, PROTOCOLS, TCP_FLAGS};
use flowvision_codec::prefix::PrefixError;
use std::net::IpAddr;

/// Parses a filter expression.
pub fn parse(input: &str) -> Result<Expr, FilterError> {
    let tokens = lex(input)?;
    let mut p = Parser { tokens: &tokens, at: 0, end: input.len() };
    if tokens.is_empty() {
        return Err(FilterError::new(0, "", "empty filter (use `any` to match every record)"));
    }
    let expr = p.or()?;
    if let Some(t) = p.peek() {
        let msg = if t.kind == TokenKind::RParen {
            "unbalanced `)`".to_string()
        } else {
            format!("expected `and`, `or` or the end, found `{}`", t.text)
        };
        return Err(FilterError::new(t.pos, t.text.clone(), msg));
    }
    Ok(expr)
}

struct Parser<'a> {
    tokens: &'a [Token],
    at: usize,
    end: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<&'a Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<&'a Token> {
        let t = self.tokens.get(self.at);
        if t.is_some() {
            self.at += 1;
        }
        t
    }

    fn peek_word(&self) -> Option<&'a str> {
        match self.peek() {
            Some(Token { kind: TokenKind::Word(w), .. }) => Some(w.as_str()),
            _ => None,
        }
    }

    fn eof(&self, what: &str) -> FilterError {
        FilterError::new(self.end, "", format!("expected {what}, found the end of the filter"))
    }

    /// The next token, which must be a word (`what` names it in the error).
    fn word(&mut self, what: &str) -> Result<&'a Token, FilterError> {
        match self.next() {
            Some(t @ Token { kind: TokenKind::Word(_), .. }) => Ok(t),
            Some(t) => {
                Err(FilterError::new(t.pos, t.text.clone(), format!("expected {what}, found `{}`", t.text)))
            }
            None => Err(self.eof(what)),
        }
    }

    fn or(&mut self) -> Result<Expr, FilterError> {
        let mut left = self.and()?;
        while matches!(self.peek(), Some(Token { kind: TokenKind::OrOr, .. }))
            || self.peek_word() == Some("or")
        {
            self.at += 1;
            let right = self.and()?;
            left = Expr::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, FilterError> {
        let mut left = self.unary()?;
        while matches!(self.peek(), Some(Token { kind: TokenKind::AndAnd, .. }))
            || self.peek_word() == Some("and")
        {
            self.at += 1;
            let right = self.unary()?;
            left = Expr::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, FilterError> {
        let Some(t) = self.peek() else { return Err(self.eof("a condition")) };
        match &t.kind {
            TokenKind::Bang => {
                self.at += 1;
                Ok(Expr::Not(Box::new(self.unary()?)))
            }
            TokenKind::Word(w) if w == "not" => {
                self.at += 1;
                Ok(Expr::Not(Box::new(self.unary()?)))
            }
            TokenKind::LParen => {
                self.at += 1;
                let inner = self.or()?;
                match self.next() {
                    Some(Token { kind: TokenKind::RParen, .. }) => Ok(inner),
                    Some(t) => Err(FilterError::new(
                        t.pos,
                        t.text.clone(),
                        format!("expected `)`, found `{}`", t.text),
                    )),
                    None => Err(FilterError::new(t.pos, "(", "this `(` is never closed")),
                }
            }
            TokenKind::Word(_) => self.predicate().map(Expr::Pred),
            _ => Err(FilterError::new(
                t.pos,
                t.text.clone(),
                format!("expected a condition, found `{}`", t.text),
            )),
        }
    }

    fn predicate(&mut self) -> Result<Pred, FilterError> {
        let t = self.word("a condition")?;
        let TokenKind::Word(w) = &t.kind else { return Err(self.eof("a condition")) };
        match w.as_str() {
            "any" | "all" => Ok(Pred::Any),
            "proto" => {
                let p = self.word("a protocol name or number")?;
                protocol(p).ok_or_else(|| {
                    FilterError::new(p.pos, p.text.clone(), format!("unknown IP protocol `{}`", p.text))
                })
                .map(Pred::Proto)
            }
            "exporter" => {
                if self.peek_word() == Some("net") {
                    self.at += 1;
                    return Ok(Pred::ExporterNet(self.prefix()?));
                }
                let a = self.word("an exporter address")?;
                if a.text.contains('/') {
                    self.at -= 1;
                    return Ok(Pred::ExporterNet(self.prefix()?));
                }
                Ok(Pred::Exporter(address(a)?))
            }
            "in" | "out" => {
                let i = self.word("`if`")?;
                if !matches!(&i.kind, TokenKind::Word(k) if k == "if") {
                    return Err(FilterError::new(i.pos, i.text.clone(), format!("expected `if` after `{w}`")));
                }
                let n = self.number("an interface index", u64::from(u32::MAX))?;
                Ok(Pred::If(if w == "in" { IfDir::In } else { IfDir::Out }, n as u32))
            }
            "if" => Ok(Pred::If(IfDir::Any, self.number("an interface index", u64::from(u32::MAX))? as u32)),
            "src" | "dst" => {
                let dir = if w == "src" { Dir::Src } else { Dir::Dst };
                let k = self.word("`host`, `ip`, `net`, `port` or `as`")?;
                self.qualified(dir, k)
            }
            "host" | "ip" | "net" | "port" | "as" => self.qualified(Dir::Any, t),
            "bytes" | "packets" => {
                let cmp = self.cmp();
                let n = self.counter(if w == "bytes" { "a byte count" } else { "a packet count" })?;
                Ok(if w == "bytes" { Pred::Bytes(cmp, n) } else { Pred::Packets(cmp, n) })
            }
            "flags" => self.flags(),
            "tos" => {
                let cmp = self.cmp();
                Ok(Pred::Tos(cmp, self.number("a ToS value", 255)? as u8))
            }
            "vlan" => {
                let cmp = self.cmp();
                Ok(Pred::Vlan(cmp, self.number("a VLAN id", 4095)? as u16))
            }
            "nexthop" => Ok(Pred::NextHop(address(self.word("a next-hop address")?)?)),
            "next" => {
                let k = self.word("`hop` or `ip`")?;
                if !matches!(&k.kind, TokenKind::Word(x) if x == "hop" || x == "ip") {
                    return Err(FilterError::new(k.pos, k.text.clone(), "expected `hop` or `ip` after `next`"));
                }
                Ok(Pred::NextHop(address(self.word("a next-hop address")?)?))
            }
            other => match protocol(t) {
                Some(p) if PROTOCOLS.iter().any(|(n, _)| *n == other) => Ok(Pred::Proto(p)),
                _ => Err(FilterError::new(
                    t.pos,
                    t.text.clone(),
                    format!(
                        "unknown keyword `{}` (expected proto, exporter, src, dst, host, net, port, as, in if, \
                         out if, bytes, packets, flags, tos, vlan, next hop, not, any or a protocol name)",
                        t.text
                    ),
                )),
            },
        }
    }

    fn qualified(&mut self, dir: Dir, k: &'a Token) -> Result<Pred, FilterError> {
        let TokenKind::Word(w) = &k.kind else { return Err(self.eof("a keyword")) };
        match w.as_str() {
            "host" | "ip" => {
                let a = self.word("an address")?;
                Ok(Pred::Host(dir, address(a)?))
            }
            "net" => Ok(Pred::Net(dir, self.prefix()?)),
            "port" => {
                let cmp = self.cmp();
                Ok(Pred::Port(dir, cmp, self.port()?))
            }
            "as" => {
                let cmp = self.cmp();
                Ok(Pred::As(dir, cmp, self.number("an AS number", u64::from(u32::MAX))? as u32))
            }
            _ => Err(FilterError::new(
                k.pos,
                k.text.clone(),
                format!("expected `host`, `ip`, `net`, `port` or `as`, found `{}`", k.text),
            )),
        }
    }

    fn cmp(&mut self) -> Cmp {
        let cmp = match self.peek() {
            Some(Token { kind: TokenKind::Cmp(c), .. }) => match c.as_str() {
                "!=" => Cmp::Ne,
                "<" => Cmp::Lt,
                "<=" => Cmp::Le,
                ">" => Cmp::Gt,
                ">=" => Cmp::Ge,
                _ => Cmp::Eq,
            },
            _ => {
                // nfdump's word forms.
                match self.peek_word() {
                    Some("eq") => Cmp::Eq,
                    Some("ne") => Cmp::Ne,
                    Some("lt") => Cmp::Lt,
                    Some("gt") => Cmp::Gt,
                    _ => return Cmp::Eq,
                }
            }
        };
        self.at += 1;
        cmp
    }

    fn number(&mut self, what: &str, max: u64) -> Result<u64, FilterError> {
        let t = self.word(what)?;
        match t.text.parse::<u64>() {
            Ok(n) if n <= max => Ok(n),
            Ok(_) => Err(FilterError::new(t.pos, t.text.clone(), format!("{what} must be at most {max}"))),
            Err(_) => {
                Err(FilterError::new(t.pos, t.text.clone(), format!("expected {what}, found `{}`", t.text)))
            }
        }
    }

    /// A port number or a well-known name (`https`, `dns`...).
    fn port(&mut self) -> Result<u16, FilterError> {
        if let Some(w) = self.peek_word() {
            if let Some((_, p)) = PORTS.iter().find(|(n, _)| *n == w) {
                self.at += 1;
                return Ok(*p);
            }
        }
        let what = "a port number or name (http, https, dns, ssh...)";
        self.number(what, 65535).map(|n| n as u16)
    }

    /// A counter: digits with an optional k, m or g suffix (powers of 1000, as nfdump).
    fn counter(&mut self, what: &str) -> Result<u64, FilterError> {
        let t = self.word(what)?;
        let text = t.text.to_ascii_lowercase();
        let (digits, mult) = match text.char_indices().last() {
            Some((i, 'k')) => (text.get(..i).unwrap_or(""), 1_000u64),
            Some((i, 'm')) => (text.get(..i).unwrap_or(""), 1_000_000),
            Some((i, 'g')) => (text.get(..i).unwrap_or(""), 1_000_000_000),
            _ => (text.as_str(), 1),
        };
        let bad = || {
            FilterError::new(
                t.pos,
                t.text.clone(),
                format!("expected {what} (such as 1500, 10k, 2M), found `{}`", t.text),
            )
        };
        let n: u64 = digits.parse().map_err(|_| bad())?;
        // bigint is the column: larger bounds could not be compared in SQL.
        n.checked_mul(mult).filter(|v| *v <= i64::MAX as u64).ok_or_else(|| {
            FilterError::new(t.pos, t.text.clone(), format!("{what} must be at most {}", i64::MAX))
        })
    }

    /// `flags` and its operand: letters (FSRPAUEC, `X` for all) or a number 0-65535.
    fn flags(&mut self) -> Result<Pred, FilterError> {
        let t = self.word("TCP flags such as S, SA or 18")?;
        if let Ok(n) = t.text.parse::<u16>() {
            return Ok(Pred::Flags(n));
        }
        let mut mask = 0u16;
        for c in t.text.chars() {
            let c = c.to_ascii_uppercase();
            if c == 'X' {
                mask |= 0xff;
                continue;
            }
            match TCP_FLAGS.iter().find(|(l, _)| *l == c) {
                Some((_, bit)) => mask |= bit,
                None => {
                    return Err(FilterError::new(
                        t.pos,
                        t.text.clone(),
                        format!("unknown TCP flag `{c}` (F S R P A U E C, X for all, or a number)"),
                    ))
                }
            }
        }
        Ok(Pred::Flags(mask))
    }

    fn prefix(&mut self) -> Result<Prefix, FilterError> {
        let t = self.word("a prefix such as 10.0.0.0/8")?;
        // Host bits set is almost always a typo (10.1.0.0/8 meant /16?): parse_exact
        // says so rather than clearing them.
        Prefix::parse_exact(&t.text).map_err(|e| {
            let message = match e {
                PrefixError::Length { max, .. } => format!("prefix length must be 0-{max}"),
                other => other.to_string(),
            };
            FilterError::new(t.pos, t.text.clone(), message)
        })
    }
}

fn address(t: &Token) -> Result<IpAddr, FilterError> {
    t.text
        .parse()
        .map_err(|_| FilterError::new(t.pos, t.text.clone(), format!("`{}` is not an IP address", t.text)))
}

fn protocol(t: &Token) -> Option<u8> {
    let TokenKind::Word(w) = &t.kind else { return None };
    if let Ok(n) = w.parse::<u8>() {
        return Some(n);
    }
    PROTOCOLS.iter().find(|(n, _)| n == w).map(|(_, p)| *p)
}
