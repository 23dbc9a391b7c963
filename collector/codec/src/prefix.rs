//! IP prefixes (`192.0.2.0/24`, `2001:db8::/32`, or a bare address as a /32 or /128):
//! the one type the collector (sampling rates per exporter prefix), the filter
//! language (`src net 10.0.0.0/8`), the simulator (address plans) and the console
//! (device scopes, flow search) share.
//!
//! A [`Prefix`] always holds its network address: host bits are cleared when it is
//! built. Parsing with [`str::parse`] clears them silently (`10.1.2.3/16` is
//! `10.1.0.0/16`, what an operator typing a scope means); [`Prefix::parse_exact`]
//! refuses them instead, for languages where a set host bit is more likely a typo
//! (`10.1.0.0/8` meant /16?).

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// An IPv4 or IPv6 network: address with its host bits zero, and prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Prefix {
    addr: IpAddr,
    len: u8,
}

/// Why a prefix was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrefixError {
    /// The address part is not an IPv4 or IPv6 address (the part as written).
    #[error("`{0}` is not an IP address")]
    Address(String),
    /// The length is not a number, or longer than the address family allows.
    #[error("prefix length `{written}` must be 0-{max}")]
    Length {
        /// The length as written.
        written: String,
        /// The family's width (32 or 128).
        max: u8,
    },
    /// Host bits are set where the network address was required
    /// ([`Prefix::parse_exact`]).
    #[error("host bits set in `{written}` (the network is {})", network.addr())]
    HostBits {
        /// The prefix as written.
        written: String,
        /// The network the text would have meant with its host bits cleared.
        network: Prefix,
    },
}

/// The width of an address family in bits.
fn width(addr: IpAddr) -> u8 {
    if addr.is_ipv4() {
        32
    } else {
        128
    }
}

/// The network mask of a `len`-bit prefix in a family `max` bits wide, right-aligned
/// in a u128 (IPv4 uses the low 32 bits).
fn mask(len: u8, max: u8) -> u128 {
    let all: u128 = if max == 32 { u128::from(u32::MAX) } else { u128::MAX };
    all & u128::MAX.checked_shl(u32::from(max.saturating_sub(len))).unwrap_or(0)
}

fn to_bits(addr: IpAddr) -> u128 {
    match addr {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    }
}

fn from_bits(bits: u128, like: IpAddr) -> IpAddr {
    match like {
        IpAddr::V4(_) => IpAddr::from(u32::try_from(bits).unwrap_or(0).to_be_bytes()),
        IpAddr::V6(_) => IpAddr::from(bits.to_be_bytes()),
    }
}

impl Prefix {
    /// The `len`-bit prefix holding `addr`, host bits cleared; an error when `len` is
    /// longer than the address.
    pub fn new(addr: IpAddr, len: u8) -> Result<Prefix, PrefixError> {
        let max = width(addr);
        if len > max {
            return Err(PrefixError::Length { written: len.to_string(), max });
        }
        Ok(Prefix::clamped(addr, len))
    }

    /// Like [`Prefix::new`], a length beyond the address's width taken as the full
    /// width (for lengths the caller computes and knows to be in range).
    pub fn clamped(addr: IpAddr, len: u8) -> Prefix {
        let max = width(addr);
        let len = len.min(max);
        Prefix { addr: from_bits(to_bits(addr) & mask(len, max), addr), len }
    }

    /// A single address (/32 or /128).
    pub fn host(addr: IpAddr) -> Prefix {
        Prefix { addr, len: width(addr) }
    }

    /// Parses `ADDR/LEN` or a bare address, refusing set host bits
    /// ([`PrefixError::HostBits`]) instead of clearing them.
    pub fn parse_exact(s: &str) -> Result<Prefix, PrefixError> {
        let (addr, p) = parse_parts(s)?;
        if p.addr != addr {
            return Err(PrefixError::HostBits { written: s.trim().to_string(), network: p });
        }
        Ok(p)
    }

    /// The network address (host bits zero).
    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    /// The prefix length in bits.
    pub fn len(&self) -> u8 {
        self.len
    }

    /// True for a zero-length prefix (every address of its family).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// True when `ip` lies inside the prefix (never across address families).
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.addr.is_ipv4() == ip.is_ipv4() && to_bits(ip) & mask(self.len, width(ip)) == to_bits(self.addr)
    }

    /// True when every address of `other` lies inside `self`.
    pub fn covers(&self, other: &Prefix) -> bool {
        other.len >= self.len && self.contains(other.addr)
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

/// The address as written and the prefix it makes (host bits cleared).
fn parse_parts(s: &str) -> Result<(IpAddr, Prefix), PrefixError> {
    let s = s.trim();
    let (addr_text, len_text) = match s.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (s, None),
    };
    let addr: IpAddr = addr_text.parse().map_err(|_| PrefixError::Address(addr_text.to_string()))?;
    let max = width(addr);
    let len = match len_text {
        None => max,
        // Digits only: `+8` or ` 8` parse as numbers in Rust but are no prefix length.
        Some(l) => Some(l)
            .filter(|l| !l.is_empty() && l.len() <= 3 && l.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|l| l.parse::<u8>().ok())
            .filter(|len| *len <= max)
            .ok_or_else(|| PrefixError::Length { written: l.to_string(), max })?,
    };
    Ok((addr, Prefix::clamped(addr, len)))
}

impl FromStr for Prefix {
    type Err = PrefixError;

    /// `ADDR/LEN` (host bits cleared) or a bare address (/32 or /128); surrounding
    /// white space is ignored.
    fn from_str(s: &str) -> Result<Prefix, PrefixError> {
        parse_parts(s).map(|(_, p)| p)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn parses_prefixes_and_bare_addresses() {
        let p: Prefix = "192.0.2.77/24".parse().unwrap();
        assert_eq!((p.addr(), p.len()), (ip("192.0.2.0"), 24));
        assert_eq!(p.to_string(), "192.0.2.0/24");
        assert_eq!(" 10.0.0.0/8 ".parse::<Prefix>().unwrap().to_string(), "10.0.0.0/8");
        assert_eq!("2001:db8::1".parse::<Prefix>().unwrap().to_string(), "2001:db8::1/128");
        assert_eq!("192.0.2.1".parse::<Prefix>().unwrap(), Prefix::host(ip("192.0.2.1")));
        assert_eq!("2001:db8::1/32".parse::<Prefix>().unwrap().to_string(), "2001:db8::/32");
        assert!("0.0.0.0/0".parse::<Prefix>().unwrap().is_empty());
    }

    #[test]
    fn refuses_what_is_no_prefix() {
        for bad in ["", "x", "1.2.3.4/", "1.2.3.4/33", "1.2.3.4/-1", "1.2.3.4/+8", "1.2.3.4/0008", "::/129"] {
            assert!(bad.parse::<Prefix>().is_err(), "{bad}");
        }
        assert_eq!("banana/8".parse::<Prefix>(), Err(PrefixError::Address("banana".into())));
        assert_eq!(
            "10.0.0.0/33".parse::<Prefix>(),
            Err(PrefixError::Length { written: "33".into(), max: 32 })
        );
        assert_eq!(Prefix::new(ip("::"), 129), Err(PrefixError::Length { written: "129".into(), max: 128 }));
        assert_eq!(Prefix::new(ip("10.1.2.3"), 8).unwrap().to_string(), "10.0.0.0/8");
    }

    #[test]
    fn exact_parsing_refuses_host_bits() {
        assert_eq!(Prefix::parse_exact("10.0.0.0/8").unwrap().to_string(), "10.0.0.0/8");
        assert_eq!(Prefix::parse_exact("192.0.2.1").unwrap(), Prefix::host(ip("192.0.2.1")));
        let e = Prefix::parse_exact("10.1.0.0/8").unwrap_err();
        assert_eq!(e.to_string(), "host bits set in `10.1.0.0/8` (the network is 10.0.0.0)");
        assert!(matches!(Prefix::parse_exact("2001:db8::1/32"), Err(PrefixError::HostBits { .. })));
    }

    #[test]
    fn containment_stays_in_its_family() {
        let p: Prefix = "192.0.2.0/24".parse().unwrap();
        assert!(p.contains(ip("192.0.2.1")));
        assert!(p.contains(ip("192.0.2.255")));
        assert!(!p.contains(ip("192.0.3.1")));
        assert!(!p.contains(ip("::1")));
        assert!(!p.contains(ip("::ffff:192.0.2.1")));
        let everything: Prefix = "0.0.0.0/0".parse().unwrap();
        assert!(everything.contains(ip("8.8.8.8")));
        assert!(!everything.contains(ip("2001:db8::1")));
        let v6: Prefix = "2001:db8::/32".parse().unwrap();
        assert!(v6.contains(ip("2001:db8:ffff::1")));
        assert!(!v6.contains(ip("2001:db9::1")));
        let all6: Prefix = "::/0".parse().unwrap();
        assert!(all6.contains(ip("2001:db8::1")));
        let h = Prefix::host(ip("2001:db8::1"));
        assert!(h.contains(ip("2001:db8::1")) && !h.contains(ip("2001:db8::2")));
        assert!(v6.covers(&h));
        assert!(!h.covers(&v6));
        assert!(!p.covers(&v6));
    }

    #[test]
    fn clamped_lengths_and_ordering() {
        assert_eq!(Prefix::clamped(ip("10.1.2.3"), 40), Prefix::host(ip("10.1.2.3")));
        assert_eq!(Prefix::clamped(ip("10.1.2.3"), 16).to_string(), "10.1.0.0/16");
        let mut v: Vec<Prefix> = ["10.0.0.0/16", "10.0.0.0/8"].iter().map(|s| s.parse().unwrap()).collect();
        v.sort();
        assert_eq!(v[0].len(), 8);
    }
}
