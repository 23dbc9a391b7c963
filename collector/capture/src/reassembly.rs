//! IP fragment reassembly with bounded memory.
//!
//! Exporters send large IPFIX/v9 datagrams (IPv6 transport in particular) that the
//! network fragments; a collector reading captures must rebuild them. Each datagram in
//! progress keeps one buffer of at most 64 KiB and a sorted list of the byte ranges
//! received. Limits on datagrams in progress, total bytes and age (in capture time)
//! bound memory whatever the input; everything given up on is counted by reason.

use crate::ip::{Fragment, FragmentKey};
use crate::stats::{SkipCounts, SkipReason};
use std::collections::HashMap;

/// The largest payload an IP datagram can reassemble to (the 16-bit length limit).
const MAX_PAYLOAD: usize = 65_535;

/// Limits of a [`Reassembler`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReassemblyConfig {
    /// Datagrams in progress at once; the oldest is evicted to make room.
    pub max_datagrams: usize,
    /// Bytes buffered across all datagrams in progress.
    pub max_bytes: usize,
    /// A datagram not completed this long after its first fragment is dropped
    /// (Linux's `ipfrag_time` default is 30 s).
    pub timeout_ns: i64,
}

impl Default for ReassemblyConfig {
    fn default() -> Self {
        ReassemblyConfig { max_datagrams: 1024, max_bytes: 16 << 20, timeout_ns: 30_000_000_000 }
    }
}

/// A datagram rebuilt from its fragments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reassembled {
    /// Whose fragments they were.
    pub key: FragmentKey,
    /// The fragmentable part of the original packet (UDP header onwards, or IPv6
    /// extension headers first).
    pub payload: Vec<u8>,
    /// How many fragment frames it took (duplicates included).
    pub frames: u64,
}

#[derive(Debug)]
struct Entry {
    data: Vec<u8>,
    /// Received byte ranges, sorted, merged when adjacent.
    have: Vec<(usize, usize)>,
    /// Payload length, known once the last fragment arrived.
    total: Option<usize>,
    first_ns: i64,
    frames: u64,
}

/// Rebuilds datagrams from IP fragments.
#[derive(Debug, Default)]
pub struct Reassembler {
    config: ReassemblyConfig,
    entries: HashMap<FragmentKey, Entry>,
    bytes: usize,
    /// No entry is older than this (it may be stale-low after removals, which only
    /// costs an extra scan).
    oldest_ns: i64,
}

impl Reassembler {
    /// A reassembler with the given limits.
    pub fn new(config: ReassemblyConfig) -> Self {
        Reassembler { config, entries: HashMap::new(), bytes: 0, oldest_ns: i64::MAX }
    }

    /// Datagrams in progress and the bytes they hold.
    pub fn pending(&self) -> (usize, usize) {
        (self.entries.len(), self.bytes)
    }

    /// Adds a fragment captured at `now_ns`. Returns the datagram once it is complete;
    /// frames of datagrams given up on are counted in `skipped`.
    pub fn add(&mut self, now_ns: i64, frag: &Fragment<'_>, skipped: &mut SkipCounts) -> Option<Reassembled> {
        self.expire(now_ns, skipped);
        let start = frag.offset;
        let end = start + frag.data.len();
        // Only the last fragment may have a length that is not a multiple of 8, and
        // none may reach past the largest possible datagram.
        if end > MAX_PAYLOAD || (frag.more && (frag.data.is_empty() || frag.data.len() % 8 != 0)) {
            skipped.add(SkipReason::MalformedIp, 1);
            return None;
        }
        if !self.entries.contains_key(&frag.key) {
            while self.entries.len() >= self.config.max_datagrams.max(1) {
                self.evict_oldest(None, skipped);
            }
            let entry =
                Entry { data: Vec::new(), have: Vec::new(), total: None, first_ns: now_ns, frames: 0 };
            self.entries.insert(frag.key, entry);
            self.oldest_ns = self.oldest_ns.min(now_ns);
        }
        let grow = end.saturating_sub(self.entries.get(&frag.key).map_or(0, |e| e.data.len()));
        while self.bytes + grow > self.config.max_bytes {
            if !self.evict_oldest(Some(&frag.key), skipped) {
                // This datagram alone exceeds the budget.
                self.drop_entry(&frag.key, SkipReason::FragmentOverflow, 1, skipped);
                return None;
            }
        }
        let entry = self.entries.get_mut(&frag.key)?;
        match place(entry, start, end, frag.more) {
            Placement::Duplicate => {
                entry.frames += 1;
                return None;
            }
            Placement::Conflict => {
                self.drop_entry(&frag.key, SkipReason::FragmentOverlap, 1, skipped);
                return None;
            }
            Placement::New => {}
        }
        if entry.data.len() < end {
            entry.data.resize(end, 0);
            self.bytes += grow;
        }
        if let Some(dst) = entry.data.get_mut(start..end) {
            dst.copy_from_slice(frag.data);
        }
        entry.frames += 1;
        let complete = entry.total.is_some_and(|t| entry.have.as_slice() == [(0, t)]);
        if !complete {
            return None;
        }
        let mut entry = self.entries.remove(&frag.key)?;
        self.bytes -= entry.data.len();
        entry.data.truncate(entry.total.unwrap_or(0));
        Some(Reassembled { key: frag.key, payload: entry.data, frames: entry.frames })
    }

    /// Drops datagrams whose first fragment is older than the timeout.
    pub fn expire(&mut self, now_ns: i64, skipped: &mut SkipCounts) {
        let timeout = self.config.timeout_ns;
        if self.entries.is_empty() || now_ns.saturating_sub(self.oldest_ns) <= timeout {
            return;
        }
        let old: Vec<FragmentKey> = self
            .entries
            .iter()
            .filter(|(_, e)| now_ns.saturating_sub(e.first_ns) > timeout)
            .map(|(k, _)| *k)
            .collect();
        for key in old {
            self.drop_entry(&key, SkipReason::FragmentTimeout, 0, skipped);
        }
        self.oldest_ns = self.entries.values().map(|e| e.first_ns).min().unwrap_or(i64::MAX);
    }

    /// Gives up on every datagram in progress (end of capture), counting their frames
    /// as [`SkipReason::FragmentIncomplete`].
    pub fn finish(&mut self, skipped: &mut SkipCounts) {
        for (_, e) in self.entries.drain() {
            skipped.add(SkipReason::FragmentIncomplete, e.frames);
        }
        self.bytes = 0;
        self.oldest_ns = i64::MAX;
    }

    fn drop_entry(&mut self, key: &FragmentKey, reason: SkipReason, extra: u64, skipped: &mut SkipCounts) {
        if let Some(e) = self.entries.remove(key) {
            self.bytes -= e.data.len();
            skipped.add(reason, e.frames + extra);
        }
    }

    /// Evicts the oldest datagram other than `keep`; false when there is none.
    fn evict_oldest(&mut self, keep: Option<&FragmentKey>, skipped: &mut SkipCounts) -> bool {
        let oldest = self
            .entries
            .iter()
            .filter(|(k, _)| Some(*k) != keep)
            .min_by_key(|(_, e)| e.first_ns)
            .map(|(k, _)| *k);
        match oldest {
            Some(key) => {
                self.drop_entry(&key, SkipReason::FragmentOverflow, 0, skipped);
                true
            }
            None => false,
        }
    }
}

enum Placement {
    New,
    Duplicate,
    Conflict,
}

/// Records `start..end` as received, unless it repeats or contradicts what is there.
fn place(entry: &mut Entry, start: usize, end: usize, more: bool) -> Placement {
    if entry.have.contains(&(start, end)) {
        return Placement::Duplicate;
    }
    if entry.have.iter().any(|(s, e)| start < *e && *s < end) {
        return Placement::Conflict;
    }
    let max_seen = entry.have.last().map_or(0, |(_, e)| *e);
    match (more, entry.total) {
        // A second "last" fragment with another length, or data beyond the end.
        (false, Some(t)) if t != end => return Placement::Conflict,
        (false, _) if max_seen > end => return Placement::Conflict,
        (true, Some(t)) if end > t => return Placement::Conflict,
        (false, _) => entry.total = Some(end),
        (true, _) => {}
    }
    let at = entry.have.partition_point(|(s, _)| *s < start);
    entry.have.insert(at, (start, end));
    // Merge neighbours that now touch.
    let mut merged: Vec<(usize, usize)> = Vec::with_capacity(entry.have.len());
    for (s, e) in entry.have.drain(..) {
        match merged.last_mut() {
            Some(last) if last.1 == s => last.1 = e,
            _ => merged.push((s, e)),
        }
    }
    entry.have = merged;
    Placement::New
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;
    use std::net::{IpAddr, Ipv4Addr};

    fn key(id: u32) -> FragmentKey {
        let a = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
        FragmentKey { src: a, dst: a, id, next_header: 17 }
    }

    fn frag(id: u32, offset: usize, more: bool, data: &[u8]) -> Fragment<'_> {
        Fragment { key: key(id), offset, more, data }
    }

    #[test]
    fn out_of_order_with_duplicate() {
        let payload: Vec<u8> = (0..40u8).collect();
        let mut r = Reassembler::new(ReassemblyConfig::default());
        let mut s = SkipCounts::default();
        assert!(r.add(1, &frag(1, 32, false, &payload[32..]), &mut s).is_none());
        assert!(r.add(2, &frag(1, 0, true, &payload[..16]), &mut s).is_none());
        assert!(r.add(3, &frag(1, 0, true, &payload[..16]), &mut s).is_none());
        assert_eq!(r.pending(), (1, 40));
        let done = r.add(4, &frag(1, 16, true, &payload[16..32]), &mut s).unwrap();
        assert_eq!(done.payload, payload);
        assert_eq!(done.frames, 4);
        assert_eq!(r.pending(), (0, 0));
        assert_eq!(s.total(), 0);
    }

    #[test]
    fn overlap_and_bad_fragments_are_dropped_and_counted() {
        let mut r = Reassembler::new(ReassemblyConfig::default());
        let mut s = SkipCounts::default();
        assert!(r.add(1, &frag(1, 0, true, &[0; 16]), &mut s).is_none());
        assert!(r.add(1, &frag(1, 8, true, &[0; 16]), &mut s).is_none());
        assert_eq!(s.get(SkipReason::FragmentOverlap), 2);
        assert!(r.add(1, &frag(2, 0, true, &[0; 5]), &mut s).is_none());
        assert!(r.add(1, &frag(2, 65_528, false, &[0; 16]), &mut s).is_none());
        assert_eq!(s.get(SkipReason::MalformedIp), 2);
        // Two different ends.
        assert!(r.add(1, &frag(3, 8, false, &[0; 8]), &mut s).is_none());
        assert!(r.add(1, &frag(3, 24, false, &[0; 8]), &mut s).is_none());
        assert_eq!(s.get(SkipReason::FragmentOverlap), 4);
        assert_eq!(r.pending().0, 0);
    }

    #[test]
    fn limits_timeout_and_finish() {
        let config = ReassemblyConfig { max_datagrams: 2, max_bytes: 100, timeout_ns: 10 };
        let mut r = Reassembler::new(config);
        let mut s = SkipCounts::default();
        r.add(0, &frag(1, 0, true, &[0; 8]), &mut s);
        r.add(1, &frag(2, 0, true, &[0; 8]), &mut s);
        r.add(2, &frag(3, 0, true, &[0; 8]), &mut s);
        assert_eq!(s.get(SkipReason::FragmentOverflow), 1);
        r.add(3, &frag(3, 200, false, &[0; 8]), &mut s); // 208 bytes > 100
        assert_eq!(s.get(SkipReason::FragmentOverflow), 1 + 1 + 2);
        r.add(5, &frag(4, 0, true, &[0; 8]), &mut s);
        r.add(16, &frag(5, 0, true, &[0; 8]), &mut s);
        assert_eq!(s.get(SkipReason::FragmentTimeout), 1);
        r.add(17, &frag(6, 0, true, &[0; 8]), &mut s);
        r.finish(&mut s);
        assert_eq!(s.get(SkipReason::FragmentIncomplete), 2);
        assert_eq!(r.pending(), (0, 0));
    }
}
