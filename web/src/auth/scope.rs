//! Device scopes: which exporters a caller may see.
//!
//! A [`Scope`] can only be made inside `auth` (its constructors are private to it),
//! from an authenticated user, and every data-access function takes one: a handler
//! that has no authenticated caller has no way to query exporter data.

use crate::net::Prefix;
use std::net::IpAddr;

/// The exporters a caller may see: all of them, or those inside a set of prefixes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    all: bool,
    prefixes: Vec<Prefix>,
}

impl Scope {
    /// Every exporter (admins, and users granted all exporters).
    pub(super) fn all() -> Scope {
        Scope { all: true, prefixes: Vec::new() }
    }

    /// Exporters inside `prefixes` (none at all when empty).
    pub(super) fn prefixes(mut prefixes: Vec<Prefix>) -> Scope {
        prefixes.sort();
        prefixes.dedup();
        Scope { all: false, prefixes }
    }

    /// True when nothing is filtered.
    pub fn is_all(&self) -> bool {
        self.all
    }

    /// The granted prefixes (empty for "all").
    pub fn granted(&self) -> &[Prefix] {
        &self.prefixes
    }

    /// True when the exporter `ip` is visible.
    pub fn allows(&self, ip: IpAddr) -> bool {
        self.all || self.prefixes.iter().any(|p| p.contains(ip))
    }

    /// The SQL parameter of the scope filter, bound as `$n::text[]` and used as
    /// `exporter <<= ANY($n::text[]::inet[])`. "All" is both whole address families,
    /// so there is a single query shape (no string building around the filter).
    pub(crate) fn sql_param(&self) -> Vec<String> {
        if self.all {
            vec!["0.0.0.0/0".into(), "::/0".into()]
        } else {
            self.prefixes.iter().map(|p| p.to_string()).collect()
        }
    }

    /// A human description for pages ("all exporters" or the prefixes).
    pub fn describe(&self) -> String {
        if self.all {
            "all exporters".into()
        } else if self.prefixes.is_empty() {
            "no exporters (ask an administrator for access)".into()
        } else {
            self.prefixes.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(", ")
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;

    #[test]
    fn scope_filters() {
        let s = Scope::prefixes(vec!["192.0.2.1".parse().unwrap(), "2001:db8::/32".parse().unwrap()]);
        assert!(s.allows("192.0.2.1".parse().unwrap()));
        assert!(!s.allows("192.0.2.2".parse().unwrap()));
        assert!(s.allows("2001:db8::9".parse().unwrap()));
        assert_eq!(s.sql_param(), vec!["192.0.2.1/32".to_string(), "2001:db8::/32".to_string()]);
        assert!(Scope::all().allows("8.8.8.8".parse().unwrap()));
        assert!(!Scope::prefixes(vec![]).allows("8.8.8.8".parse().unwrap()));
        assert!(Scope::prefixes(vec![]).sql_param().is_empty());
    }
}
