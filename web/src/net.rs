//! IP prefixes (`192.0.2.0/24`, `2001:db8::/32`, or a bare address): parsed and
//! validated in Rust before they reach SQL as parameters, and tested for containment
//! (device scopes).

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// An IP prefix with its host bits cleared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Prefix {
    addr: IpAddr,
    len: u8,
}

impl Prefix {
    /// The prefix of `addr` with `len` bits, host bits cleared; `None` when `len` is
    /// longer than the address.
    pub fn new(addr: IpAddr, len: u8) -> Option<Prefix> {
        let max = max_len(addr);
        if len > max {
            return None;
        }
        let bits = to_bits(addr) & mask(len, max);
        Some(Prefix { addr: from_bits(bits, addr), len })
    }

    /// A single address (/32 or /128).
    pub fn host(addr: IpAddr) -> Prefix {
        Prefix { addr, len: max_len(addr) }
    }

    /// The network address.
    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    /// The prefix length.
    pub fn len(&self) -> u8 {
        self.len
    }

    /// True for a zero-length prefix (matches every address of its family).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// True when `ip` is inside the prefix (same family, same leading bits).
    pub fn contains(&self, ip: IpAddr) -> bool {
        if self.addr.is_ipv4() != ip.is_ipv4() {
            return false;
        }
        let max = max_len(ip);
        to_bits(ip) & mask(self.len, max) == to_bits(self.addr)
    }

    /// True when every address of `other` is inside `self`.
    pub fn covers(&self, other: &Prefix) -> bool {
        other.len >= self.len && self.contains(other.addr)
    }
}

fn max_len(a: IpAddr) -> u8 {
    if a.is_ipv4() {
        32
    } else {
        128
    }
}

fn to_bits(a: IpAddr) -> u128 {
    match a {
        IpAddr::V4(v) => u128::from(u32::from(v)),
        IpAddr::V6(v) => u128::from(v),
    }
}

fn from_bits(bits: u128, like: IpAddr) -> IpAddr {
    match like {
        IpAddr::V4(_) => IpAddr::from(u32::try_from(bits).unwrap_or(0).to_be_bytes()),
        IpAddr::V6(_) => IpAddr::from(bits.to_be_bytes()),
    }
}

fn mask(len: u8, max: u8) -> u128 {
    if len == 0 {
        return 0;
    }
    let all: u128 = if max == 32 { u128::from(u32::MAX) } else { u128::MAX };
    let host_bits = u32::from(max.saturating_sub(len));
    all & u128::MAX.checked_shl(host_bits).unwrap_or(0)
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

/// Why a prefix did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an IP address or prefix (like 192.0.2.0/24 or 2001:db8::/32)")]
pub struct PrefixError(pub String);

impl FromStr for Prefix {
    type Err = PrefixError;

    fn from_str(s: &str) -> Result<Prefix, PrefixError> {
        let s = s.trim();
        let err = || PrefixError(s.chars().take(60).collect());
        match s.split_once('/') {
            None => s.parse::<IpAddr>().map(Prefix::host).map_err(|_| err()),
            Some((a, l)) => {
                let addr: IpAddr = a.parse().map_err(|_| err())?;
                if l.is_empty() || l.len() > 3 || !l.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(err());
                }
                let len: u8 = l.parse().map_err(|_| err())?;
                Prefix::new(addr, len).ok_or_else(err)
            }
        }
    }
}

/// Parses a list of prefixes separated by commas, spaces or new lines (form fields).
pub fn parse_list(s: &str) -> Result<Vec<Prefix>, PrefixError> {
    let mut out: Vec<Prefix> = Vec::new();
    for part in s.split(|c: char| c == ',' || c.is_whitespace()).filter(|p| !p.is_empty()) {
        let p: Prefix = part.parse()?;
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
        let p: Prefix = "192.0.2.77/24".parse().unwrap();
        assert_eq!(p.to_string(), "192.0.2.0/24");
        assert!(p.contains("192.0.2.1".parse().unwrap()));
        assert!(!p.contains("192.0.3.1".parse().unwrap()));
        assert!(!p.contains("::1".parse().unwrap()));
        let h: Prefix = "2001:db8::1".parse().unwrap();
        assert_eq!(h.to_string(), "2001:db8::1/128");
        assert!(h.contains("2001:db8::1".parse().unwrap()));
        assert!(!h.contains("2001:db8::2".parse().unwrap()));
        let z: Prefix = "0.0.0.0/0".parse().unwrap();
        assert!(z.contains("8.8.8.8".parse().unwrap()));
        let v6: Prefix = "2001:db8::/32".parse().unwrap();
        assert!(v6.covers(&h));
        assert!(!h.covers(&v6));
        for bad in ["", "1.2.3.4/33", "1.2.3.4/", "x", "1.2.3.4/-1", "1.2.3.4' OR 1=1", "::/129"] {
            assert!(bad.parse::<Prefix>().is_err(), "{bad}");
        }
        assert_eq!(parse_list("10.0.0.0/8, 10.0.0.0/8\n192.0.2.1").unwrap().len(), 2);
    }
}
