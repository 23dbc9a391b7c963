//! The simulated network: internal hosts in the operator's prefixes, external hosts
//! in autonomous systems spread over public address space, and address blocks held
//! back for anomaly actors (scanners, bots, reflectors, C2 and exfiltration servers)
//! so that no background flow ever touches them.
//!
//! Host activity and server popularity are Zipf-distributed; AS sizes too.

use super::zipf::AliasTable;
use crate::error::SimError;
use crate::rng::Rng;
use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub use flowvision_codec::prefix::Prefix;

/// A scenario's prefix: `ADDR/LEN` (host bits cleared); a bare address is refused, an
/// address plan names networks.
pub fn parse_prefix(s: &str) -> Result<Prefix, SimError> {
    let bad = || SimError::Invalid(format!("bad prefix {s:?} (want ADDR/LEN)"));
    if !s.contains('/') {
        return Err(bad());
    }
    s.parse().map_err(|_| bad())
}

/// The IPv4 prefix of `len` bits holding `base` (an address as a number).
pub fn v4(base: u32, len: u8) -> Prefix {
    Prefix::clamped(IpAddr::V4(Ipv4Addr::from(base)), len)
}

/// What the simulator needs of a prefix beyond the shared type: its addresses, to
/// pick hosts inside it.
pub trait PrefixHosts {
    /// The `i`-th address of the prefix (wrapping inside it).
    fn nth(&self, i: u128) -> IpAddr;
    /// Number of addresses (saturating at `u128::MAX`).
    fn size(&self) -> u128;
}

impl PrefixHosts for Prefix {
    fn nth(&self, i: u128) -> IpAddr {
        match self.addr() {
            IpAddr::V4(a) => {
                let size = 1u64 << (32 - u32::from(self.len().min(32)));
                IpAddr::V4(Ipv4Addr::from(u32::from(a).wrapping_add((i % u128::from(size)) as u32)))
            }
            IpAddr::V6(a) => {
                let host_bits = 128 - u32::from(self.len().min(128));
                let off = if host_bits >= 128 { i } else { i & ((1u128 << host_bits) - 1) };
                IpAddr::V6(Ipv6Addr::from(u128::from(a).wrapping_add(off)))
            }
        }
    }

    fn size(&self) -> u128 {
        let bits = match self.addr() {
            IpAddr::V4(_) => 32 - u32::from(self.len().min(32)),
            IpAddr::V6(_) => 128 - u32::from(self.len().min(128)),
        };
        if bits >= 128 {
            u128::MAX
        } else {
            1u128 << bits
        }
    }
}

/// One host as flows see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Host {
    /// IPv4 address (every host has one).
    pub v4: Ipv4Addr,
    /// IPv6 address of dual-stacked hosts.
    pub v6: Option<Ipv6Addr>,
    /// The AS the host's prefixes belong to.
    pub asn: u32,
    /// Length of the IPv4 prefix routing to it.
    pub mask4: u8,
    /// Length of the IPv6 prefix routing to it.
    pub mask6: u8,
    /// Internal hosts: their subnet number (selects interface and VLAN); external
    /// hosts: their AS index (selects the uplink).
    pub group: u32,
}

impl Host {
    /// The address in the requested family (IPv6 only when the host has one).
    #[inline]
    pub fn addr(&self, v6: bool) -> IpAddr {
        match (v6, self.v6) {
            (true, Some(a)) => IpAddr::V6(a),
            _ => IpAddr::V4(self.v4),
        }
    }

    /// Prefix length matching [`Host::addr`].
    #[inline]
    pub fn mask(&self, v6: bool) -> u8 {
        if v6 && self.v6.is_some() {
            self.mask6
        } else {
            self.mask4
        }
    }
}

/// Settings of the host model (see the scenario's `[traffic]` table).
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkConfig {
    /// Internal IPv4 prefixes, cut into /24 subnets.
    pub internal_v4: Vec<Prefix>,
    /// Internal IPv6 prefix, cut into /64 subnets (one per IPv4 subnet).
    pub internal_v6: Option<Prefix>,
    /// Number of internal hosts.
    pub internal_hosts: usize,
    /// Hosts per /24 subnet.
    pub hosts_per_subnet: usize,
    /// Share of internal hosts that also serve inbound connections.
    pub server_share: f64,
    /// Share of hosts (internal and external) with an IPv6 address.
    pub dual_stack_share: f64,
    /// Number of external hosts.
    pub external_hosts: usize,
    /// Number of external autonomous systems.
    pub external_ases: usize,
    /// Zipf exponent of host activity and server popularity.
    pub zipf_s: f64,
    /// The operator's own AS.
    pub local_as: u32,
}

/// A block of public address space held back for one anomaly actor group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReservedBlock {
    /// The /16 prefix.
    pub prefix: Prefix,
    /// The AS it is announced from.
    pub asn: u32,
}

/// Hosts, ASes and held-back space of one simulation.
#[derive(Debug, Clone)]
pub struct Network {
    /// The operator's AS.
    pub local_as: u32,
    /// Internal hosts, most active first.
    pub internal: Vec<Host>,
    /// Internal activity (Zipf over `internal`).
    pub internal_activity: AliasTable,
    /// Indices of internal hosts that accept inbound connections.
    pub servers: Vec<usize>,
    /// Server popularity (Zipf over `servers`).
    pub server_popularity: AliasTable,
    /// External hosts, most popular first.
    pub external: Vec<Host>,
    /// External popularity (Zipf over `external`).
    pub external_popularity: AliasTable,
    /// Prefixes of each external AS (index = `Host::group`).
    pub as_prefixes: Vec<(u32, Vec<Prefix>)>,
    /// Number of internal subnets.
    pub subnets: u32,
    reserved: Vec<ReservedBlock>,
    next_reserved: usize,
}

/// First octets of public unicast IPv4 space (no 0/8, 10/8, 100/8 (CGN), 127/8,
/// 169/8 (link local), 172/8 (RFC 1918), 192/8, 198/8 (benchmarking, documentation),
/// 203/8 (documentation), multicast and class E).
fn public_first_octet(o: u32) -> bool {
    matches!(o, 1..=9 | 11..=99 | 101..=126 | 128..=168 | 170..=171 | 173..=191 | 193..=197 | 199..=202 | 204..=223)
}

impl Network {
    /// Builds the network for `config` from `rng`.
    pub fn build(config: &NetworkConfig, rng: &mut Rng) -> Result<Network, SimError> {
        if config.internal_v4.is_empty() {
            return Err(SimError::Invalid("traffic.internal_v4 needs at least one prefix".into()));
        }
        if config.internal_hosts == 0 || config.external_hosts == 0 || config.external_ases == 0 {
            return Err(SimError::Invalid(
                "internal_hosts, external_hosts and external_ases must be > 0".into(),
            ));
        }
        let per_subnet = config.hosts_per_subnet.clamp(1, 240);
        // /24 subnets of the internal prefixes, in order.
        let mut subnets: Vec<u32> = Vec::new();
        for p in &config.internal_v4 {
            let IpAddr::V4(a) = p.addr() else {
                return Err(SimError::Invalid(format!("traffic.internal_v4: {p} is not IPv4")));
            };
            if p.len() > 24 {
                return Err(SimError::Invalid(format!("traffic.internal_v4: {p} is smaller than a /24")));
            }
            let count = 1u32 << (24 - u32::from(p.len()));
            subnets.extend((0..count).map(|i| u32::from(a) + (i << 8)));
        }
        let needed = config.internal_hosts.div_ceil(per_subnet);
        if needed > subnets.len() {
            return Err(SimError::Invalid(format!(
                "{} internal hosts at {} per /24 need {} subnets; the internal prefixes hold {}",
                config.internal_hosts,
                per_subnet,
                needed,
                subnets.len()
            )));
        }
        if let Some(p) = config.internal_v6 {
            if !p.addr().is_ipv6() || p.len() > 64 {
                return Err(SimError::Invalid(format!(
                    "traffic.internal_v6: {p} is not an IPv6 prefix of /64 or shorter"
                )));
            }
        }
        let mut internal = Vec::with_capacity(config.internal_hosts);
        for i in 0..config.internal_hosts {
            let subnet = i / per_subnet;
            let base = subnets.get(subnet).copied().unwrap_or(0);
            let v4 = Ipv4Addr::from(base + 10 + (i % per_subnet) as u32);
            let v6 = match config.internal_v6.map(|p| p.addr()) {
                Some(IpAddr::V6(a)) if rng.chance(config.dual_stack_share) => {
                    let net = u128::from(a) | (subnet as u128) << 64;
                    Some(Ipv6Addr::from(net | u128::from(rng.next_u64() | 1)))
                }
                _ => None,
            };
            internal.push(Host { v4, v6, asn: config.local_as, mask4: 24, mask6: 64, group: subnet as u32 });
        }
        // Servers: a share of the internal hosts, spread over the activity ranks.
        let mut servers: Vec<usize> =
            (0..internal.len()).filter(|_| rng.chance(config.server_share.clamp(0.0, 1.0))).collect();
        if servers.is_empty() {
            servers.push(0);
        }

        // Public /16 blocks, shuffled: ASes take them in order, anomaly actors take
        // the ones after, so the two never overlap.
        let mut blocks: Vec<u32> = (1u32..=223)
            .filter(|o| public_first_octet(*o))
            .flat_map(|o| (0u32..256).map(move |b| o << 24 | b << 16))
            .collect();
        for i in (1..blocks.len()).rev() {
            let j = rng.index(i + 1);
            blocks.swap(i, j);
        }
        let mut asns = HashSet::new();
        asns.insert(config.local_as);
        let mut next_block = 0usize;
        let mut as_prefixes = Vec::with_capacity(config.external_ases);
        for i in 0..config.external_ases {
            let asn = loop {
                // Mostly 2-byte ASNs, some 4-byte ones (RFC 6793), none private.
                let asn =
                    if rng.chance(0.85) { rng.range_u32(1, 64_495) } else { rng.range_u32(131_072, 399_999) };
                if asn != 23_456 && asns.insert(asn) {
                    break asn;
                }
            };
            let mut prefixes = Vec::new();
            for _ in 0..rng.range_u32(1, 3) {
                let Some(block) = blocks.get(next_block).copied() else { break };
                next_block += 1;
                let len = rng.range_u32(16, 24) as u8;
                let offset = rng.below(1 << (len - 16)) as u32;
                prefixes.push(v4(block | offset << (32 - u32::from(len)), len));
            }
            // One IPv6 /32 per AS in 2a00::/12, distinct by construction.
            let v6 = 0x2a00u128 << 112 | (i as u128 & 0x0f_ffff) << 96;
            prefixes.push(Prefix::clamped(IpAddr::V6(Ipv6Addr::from(v6)), 32));
            as_prefixes.push((asn, prefixes));
        }
        let as_pick = AliasTable::zipf(as_prefixes.len(), 0.9);
        let mut external = Vec::with_capacity(config.external_hosts);
        for _ in 0..config.external_hosts {
            let g = as_pick.sample(rng);
            let Some((asn, prefixes)) = as_prefixes.get(g) else { continue };
            let v4s: Vec<&Prefix> = prefixes.iter().filter(|p| p.addr().is_ipv4()).collect();
            let Some(p4) = v4s.get(rng.index(v4s.len())).copied() else { continue };
            // Skip the network and broadcast addresses of the prefix.
            let host = 1 + rng.below((p4.size() as u64).saturating_sub(2).max(1));
            let IpAddr::V4(v4) = p4.nth(u128::from(host)) else { continue };
            let v6 =
                prefixes.iter().find(|p| p.addr().is_ipv6()).filter(|_| rng.chance(config.dual_stack_share));
            let (v6, mask6) = match v6 {
                Some(p) => {
                    match p.nth(u128::from(rng.next_u64()) << 32 | u128::from(rng.next_u64() as u32 | 1)) {
                        IpAddr::V6(a) => (Some(a), p.len()),
                        IpAddr::V4(_) => (None, 0),
                    }
                }
                None => (None, 0),
            };
            external.push(Host { v4, v6, asn: *asn, mask4: p4.len(), mask6, group: g as u32 });
        }
        let reserved = blocks
            .get(next_block..)
            .unwrap_or(&[])
            .iter()
            .take(64)
            .map(|b| {
                let asn = loop {
                    let asn = rng.range_u32(131_072, 399_999);
                    if asns.insert(asn) {
                        break asn;
                    }
                };
                ReservedBlock { prefix: v4(*b, 16), asn }
            })
            .collect();
        Ok(Network {
            local_as: config.local_as,
            internal_activity: AliasTable::zipf(internal.len(), config.zipf_s),
            server_popularity: AliasTable::zipf(servers.len(), config.zipf_s),
            external_popularity: AliasTable::zipf(external.len(), config.zipf_s),
            internal,
            servers,
            external,
            as_prefixes,
            subnets: needed as u32,
            reserved,
            next_reserved: 0,
        })
    }

    /// Hands out the next held-back /16 (with its AS) to an anomaly: no background
    /// flow ever uses an address inside it.
    pub fn reserve_block(&mut self) -> Result<ReservedBlock, SimError> {
        let b =
            self.reserved.get(self.next_reserved).copied().ok_or_else(|| {
                SimError::Invalid("too many anomalies: no held-back address space left".into())
            })?;
        self.next_reserved += 1;
        Ok(b)
    }

    /// Whether `ip` lies in any held-back block (handed out or not).
    pub fn is_reserved(&self, ip: IpAddr) -> bool {
        self.reserved.iter().any(|b| b.prefix.contains(ip))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;

    fn config() -> NetworkConfig {
        NetworkConfig {
            internal_v4: vec!["10.10.0.0/16".parse().unwrap()],
            internal_v6: Some("2001:db8:100::/48".parse().unwrap()),
            internal_hosts: 1000,
            hosts_per_subnet: 100,
            server_share: 0.1,
            dual_stack_share: 0.5,
            external_hosts: 5000,
            external_ases: 200,
            zipf_s: 1.1,
            local_as: 64_500,
        }
    }

    #[test]
    fn builds_disjoint_spaces() {
        let mut rng = Rng::new(5);
        let mut net = Network::build(&config(), &mut rng).unwrap();
        assert_eq!(net.internal.len(), 1000);
        assert_eq!(net.external.len(), 5000);
        assert_eq!(net.subnets, 10);
        let internal: Prefix = "10.10.0.0/16".parse().unwrap();
        assert!(net.internal.iter().all(|h| internal.contains(IpAddr::V4(h.v4))));
        assert!(net.external.iter().all(|h| public_first_octet(u32::from(h.v4.octets()[0]))));
        let b = net.reserve_block().unwrap();
        assert!(net.external.iter().all(|h| !b.prefix.contains(IpAddr::V4(h.v4))));
        assert!(net.external.iter().all(|h| !net.is_reserved(IpAddr::V4(h.v4))));
        let v6 = net.internal.iter().filter(|h| h.v6.is_some()).count();
        assert!((400..600).contains(&v6), "{v6}");
        // Each external host lies in one of its AS's prefixes.
        for h in &net.external {
            let (asn, prefixes) = &net.as_prefixes[h.group as usize];
            assert_eq!(*asn, h.asn);
            assert!(prefixes.iter().any(|p| p.contains(IpAddr::V4(h.v4)) && p.len() == h.mask4));
        }
    }

    #[test]
    fn prefix_parsing() {
        let p: Prefix = "10.1.2.3/16".parse().unwrap();
        assert_eq!(p.to_string(), "10.1.0.0/16");
        assert!(p.contains("10.1.200.1".parse().unwrap()));
        assert!(!p.contains("10.2.0.1".parse().unwrap()));
        assert!("10.0.0.0/33".parse::<Prefix>().is_err());
        assert!("nonsense".parse::<Prefix>().is_err());
        let p6: Prefix = "2001:db8::1/32".parse().unwrap();
        assert_eq!(p6.to_string(), "2001:db8::/32");
        // Scenarios name networks: ADDR/LEN, never a bare address.
        assert_eq!(parse_prefix("10.1.2.3/16").unwrap(), p);
        assert!(parse_prefix("10.1.2.3").is_err());
        assert_eq!(v4(0x0a01_0203, 16), p);
        assert_eq!((p.size(), p.nth(1)), (65_536, "10.1.0.1".parse().unwrap()));
    }
}
