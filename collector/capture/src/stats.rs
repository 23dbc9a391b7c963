//! What happened to every frame: turned into a datagram, merged into a reassembled
//! one, or skipped for a counted reason. Nothing is dropped silently.

use std::fmt;

/// Why a frame yielded no datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SkipReason {
    /// A link type FlowVision does not parse.
    UnsupportedLinkType,
    /// Not IPv4/IPv6 (ARP, LLDP, STP, MPLS, ...).
    NotIp,
    /// IP but not UDP (TCP, ICMP, ESP, ...).
    NotUdp,
    /// The frame ends before its headers or lengths say it should (snap length).
    Truncated,
    /// An IP header that contradicts itself (version, header length, total length,
    /// fragment fields).
    MalformedIp,
    /// A UDP header whose length is below 8 or beyond the IP payload.
    MalformedUdp,
    /// Fragments of a datagram that did not complete within the reassembly timeout.
    FragmentTimeout,
    /// Fragments evicted to keep reassembly memory bounded.
    FragmentOverflow,
    /// Fragments of a datagram with overlapping, inconsistent pieces (RFC 5722 says
    /// to drop the whole datagram).
    FragmentOverlap,
    /// Fragments still waiting for the rest of their datagram when the capture ended.
    FragmentIncomplete,
}

impl SkipReason {
    /// Every reason, in a stable order.
    pub const ALL: [SkipReason; 10] = [
        SkipReason::UnsupportedLinkType,
        SkipReason::NotIp,
        SkipReason::NotUdp,
        SkipReason::Truncated,
        SkipReason::MalformedIp,
        SkipReason::MalformedUdp,
        SkipReason::FragmentTimeout,
        SkipReason::FragmentOverflow,
        SkipReason::FragmentOverlap,
        SkipReason::FragmentIncomplete,
    ];

    /// Stable label for counters and summaries.
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::UnsupportedLinkType => "unsupported_link_type",
            SkipReason::NotIp => "not_ip",
            SkipReason::NotUdp => "not_udp",
            SkipReason::Truncated => "truncated",
            SkipReason::MalformedIp => "malformed_ip",
            SkipReason::MalformedUdp => "malformed_udp",
            SkipReason::FragmentTimeout => "fragment_timeout",
            SkipReason::FragmentOverflow => "fragment_overflow",
            SkipReason::FragmentOverlap => "fragment_overlap",
            SkipReason::FragmentIncomplete => "fragment_incomplete",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Skipped frames by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SkipCounts([u64; SkipReason::ALL.len()]);

impl SkipCounts {
    /// Adds `n` frames skipped for `reason`.
    pub fn add(&mut self, reason: SkipReason, n: u64) {
        if let Some(c) = self.0.get_mut(reason.index()) {
            *c += n;
        }
    }

    /// Frames skipped for `reason`.
    pub fn get(&self, reason: SkipReason) -> u64 {
        self.0.get(reason.index()).copied().unwrap_or(0)
    }

    /// All skipped frames.
    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }

    /// The reasons that occurred, with their counts, in [`SkipReason::ALL`] order.
    pub fn iter(&self) -> impl Iterator<Item = (SkipReason, u64)> + '_ {
        SkipReason::ALL.iter().map(|r| (*r, self.get(*r))).filter(|(_, n)| *n > 0)
    }

    /// Adds another set of counts to this one.
    pub fn merge(&mut self, other: &SkipCounts) {
        for (a, b) in self.0.iter_mut().zip(other.0.iter()) {
            *a += b;
        }
    }
}

/// Counters of a [`crate::DatagramReader`].
///
/// Once the capture has been read to its end, `frames == datagrams - reassembled +
/// fragments + skipped.total()`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CaptureStats {
    /// Frames read from the file.
    pub frames: u64,
    /// UDP datagrams yielded (reassembled ones included).
    pub datagrams: u64,
    /// Datagrams that were rebuilt from IP fragments.
    pub reassembled: u64,
    /// Fragment frames that went into the reassembled datagrams.
    pub fragments: u64,
    /// Frames that yielded nothing, by reason.
    pub skipped: SkipCounts,
}

impl CaptureStats {
    /// Adds another reader's counters (several files of one run).
    pub fn merge(&mut self, other: &CaptureStats) {
        self.frames += other.frames;
        self.datagrams += other.datagrams;
        self.reassembled += other.reassembled;
        self.fragments += other.fragments;
        self.skipped.merge(&other.skipped);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;

    #[test]
    fn counts_by_reason() {
        let mut c = SkipCounts::default();
        c.add(SkipReason::NotUdp, 2);
        c.add(SkipReason::FragmentIncomplete, 1);
        assert_eq!(c.total(), 3);
        let v: Vec<_> = c.iter().collect();
        assert_eq!(v, [(SkipReason::NotUdp, 2), (SkipReason::FragmentIncomplete, 1)]);
        for (i, r) in SkipReason::ALL.iter().enumerate() {
            assert_eq!(r.index(), i);
        }
    }
}
