//! IP prefixes typed by users (`192.0.2.0/24`, `2001:db8::/32`, or a bare address):
//! parsed and validated in Rust before they reach SQL as parameters, and tested for
//! containment (device scopes). The type is the codec's [`Prefix`]; what is the
//! console's own is the wording of its errors and lists of prefixes in form fields.

pub use flowvision_codec::prefix::Prefix;

/// Why a prefix did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an IP address or prefix (like 192.0.2.0/24 or 2001:db8::/32)")]
pub struct PrefixError(pub String);

/// Parses a prefix typed by a user (a form field, an API body, a query parameter):
/// host bits are cleared, a bare address is a /32 or /128; the error quotes the input
/// (at most 60 characters) with an example.
pub fn parse(s: &str) -> Result<Prefix, PrefixError> {
    let s = s.trim();
    s.parse().map_err(|_| PrefixError(s.chars().take(60).collect()))
}

/// Parses a list of prefixes separated by commas, spaces or new lines (form fields).
pub fn parse_list(s: &str) -> Result<Vec<Prefix>, PrefixError> {
    let mut out: Vec<Prefix> = Vec::new();
    for part in s.split(|c: char| c == ',' || c.is_whitespace()).filter(|p| !p.is_empty()) {
        let p = parse(part)?;
        if !out.contains(&p) {
            out.push(p);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;

    #[test]
    fn parse_and_contain() {
        let p: Prefix = parse("192.0.2.77/24").unwrap();
        assert_eq!(p.to_string(), "192.0.2.0/24");
        assert!(p.contains("192.0.2.1".parse().unwrap()));
        assert!(!p.contains("192.0.3.1".parse().unwrap()));
        assert!(!p.contains("::1".parse().unwrap()));
        let h: Prefix = parse("2001:db8::1").unwrap();
        assert_eq!(h.to_string(), "2001:db8::1/128");
        assert!(h.contains("2001:db8::1".parse().unwrap()));
        assert!(!h.contains("2001:db8::2".parse().unwrap()));
        let z: Prefix = parse("0.0.0.0/0").unwrap();
        assert!(z.contains("8.8.8.8".parse().unwrap()));
        let v6: Prefix = parse("2001:db8::/32").unwrap();
        assert!(v6.covers(&h));
        assert!(!h.covers(&v6));
        for bad in ["", "1.2.3.4/33", "1.2.3.4/", "x", "1.2.3.4/-1", "1.2.3.4' OR 1=1", "::/129"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_list("10.0.0.0/8, 10.0.0.0/8\n192.0.2.1").unwrap().len(), 2);
    }
}
