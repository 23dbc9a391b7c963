//! Object identifiers as sequences of numeric arcs.

use std::fmt;
use std::str::FromStr;

/// An OID such as `1.3.6.1.2.1.1.1`.
///
/// Ordering is component by component, numerically, with a prefix before its
/// descendants (`1.3.6.1.2` < `1.3.6.1.2.1` < `1.3.6.1.10`): the order of an SNMP walk,
/// and the order `mib dump` prints in.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Oid(Vec<u32>);

/// A dotted OID that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a dotted numeric OID: {0:?}")]
pub struct ParseOidError(String);

impl Oid {
    /// The OID of these arcs.
    pub fn new(arcs: Vec<u32>) -> Self {
        Self(arcs)
    }

    /// The arcs, root first.
    pub fn arcs(&self) -> &[u32] {
        &self.0
    }

    /// Number of arcs.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether this is the empty OID (the root of the tree, never a node's OID).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `self` is `other` or one of its ancestors.
    pub fn is_prefix_of(&self, other: &Oid) -> bool {
        other.0.starts_with(&self.0)
    }
}

impl fmt::Display for Oid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for arc in &self.0 {
            if !first {
                f.write_str(".")?;
            }
            write!(f, "{arc}")?;
            first = false;
        }
        Ok(())
    }
}

impl FromStr for Oid {
    type Err = ParseOidError;

    /// Parses `1.3.6.1` and, as net-snmp prints them, `.1.3.6.1`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let body = s.strip_prefix('.').unwrap_or(s);
        if body.is_empty() {
            return Err(ParseOidError(s.to_owned()));
        }
        body.split('.')
            .map(|arc| arc.parse::<u32>().map_err(|_| ParseOidError(s.to_owned())))
            .collect::<Result<Vec<_>, _>>()
            .map(Oid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_numerically_with_prefix_first() {
        let mut v: Vec<Oid> = ["1.3.6.1.10", "1.3.6.1.2.1", "1.3.6.1.2", "1.3.6.1.9"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        v.sort();
        let shown: Vec<String> = v.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["1.3.6.1.2", "1.3.6.1.2.1", "1.3.6.1.9", "1.3.6.1.10"]);
    }

    #[test]
    fn parses_leading_dot_and_rejects_junk() {
        assert_eq!(".1.3.6".parse::<Oid>().unwrap(), Oid::new(vec![1, 3, 6]));
        assert!("".parse::<Oid>().is_err());
        assert!("1..3".parse::<Oid>().is_err());
        assert!("1.x".parse::<Oid>().is_err());
        assert!("1.4294967296".parse::<Oid>().is_err());
    }

    #[test]
    fn prefix() {
        let a: Oid = "1.3.6.1.4.1.9".parse().unwrap();
        let b: Oid = "1.3.6.1.4.1.9.1.2170".parse().unwrap();
        assert!(a.is_prefix_of(&b));
        assert!(!b.is_prefix_of(&a));
        assert!(!"1.3.6.1.4.1.90".parse::<Oid>().unwrap().is_prefix_of(&b));
    }
}
