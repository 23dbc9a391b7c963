//! The IANA Private Enterprise Numbers registry: who owns `1.3.6.1.4.1.N`, the
//! vendor of a sysObjectID when no product MIB names it.
//!
//! Read from the registry as Wireshark ships it (Debian `libwireshark-data`:
//! `/usr/share/wireshark/enterprises.tsv`, `NUMBER<blanks>NAME` per line, `#`
//! comments), so the appliance needs no network access to know 60,000 vendors.

use std::collections::HashMap;

/// Where Debian's `libwireshark-data` puts the registry.
pub const DEFAULT_PATH: &str = "/usr/share/wireshark/enterprises.tsv";

/// `1.3.6.1.4.1`, the `enterprises` arc.
pub const ENTERPRISES: [u32; 6] = [1, 3, 6, 1, 4, 1];

/// Enterprise number → organisation.
#[derive(Debug, Clone, Default)]
pub struct Enterprises {
    names: HashMap<u32, String>,
}

impl Enterprises {
    /// Parses the registry; lines that are not `NUMBER NAME` are skipped.
    pub fn parse(text: &str) -> Enterprises {
        let names = text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| {
                let (n, name) = l.trim().split_once([' ', '\t'])?;
                let name = name.trim();
                Some((n.parse().ok()?, name.to_string())).filter(|_| !name.is_empty())
            })
            .collect();
        Enterprises { names }
    }

    /// Entries known.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether none is known (no registry file).
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The organisation holding enterprise number `n`.
    pub fn get(&self, n: u32) -> Option<&str> {
        self.names.get(&n).map(String::as_str)
    }
}

/// The enterprise number of a dotted OID under `1.3.6.1.4.1`.
pub fn enterprise_of(dotted: &str) -> Option<u32> {
    let arcs: Vec<u32> =
        dotted.trim_start_matches('.').split('.').map(str::parse).collect::<Result<_, _>>().ok()?;
    let rest = arcs.strip_prefix(ENTERPRISES.as_slice())?;
    rest.first().copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_wireshark_format() {
        let e = Enterprises::parse(
            "#\n# comment\n\n9\tciscoSystems\n2636  Juniper Networks, Inc.\nbad line\n12\t\n",
        );
        assert_eq!(e.len(), 2);
        assert_eq!(e.get(9), Some("ciscoSystems"));
        assert_eq!(e.get(2636), Some("Juniper Networks, Inc."));
        assert_eq!(e.get(12), None);
    }

    #[test]
    fn enterprise_numbers() {
        assert_eq!(enterprise_of("1.3.6.1.4.1.9.1.1041"), Some(9));
        assert_eq!(enterprise_of(".1.3.6.1.4.1.8072.3.2.10"), Some(8072));
        assert_eq!(enterprise_of("1.3.6.1.2.1.1"), None);
        assert_eq!(enterprise_of("1.3.6.1.4.1"), None);
        assert_eq!(enterprise_of("x"), None);
    }
}
