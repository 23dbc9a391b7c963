//! Data sets that arrived before their template, held for a bounded time and size.
//!
//! Exporters send templates periodically, and UDP reorders, so a collector that
//! starts (or restarts) mid-stream sees data it cannot read yet. Dropping it would
//! lose flows that the next template refresh makes readable; keeping it forever would
//! let a broken exporter exhaust memory. So: a FIFO bounded in bytes and age, and
//! every set that leaves it without being decoded is counted.

use super::cache::ScopeKey;
use crate::decode::SetContext;
use crate::hash::FxHashMap;
use std::collections::VecDeque;

/// A data set waiting for its template.
#[derive(Debug, Clone)]
pub struct PendingSet {
    /// Exporter scope.
    pub scope: ScopeKey,
    /// Template the set refers to.
    pub template_id: u16,
    /// The set body (without its 4-byte set header).
    pub body: Vec<u8>,
    /// Header fields needed to decode it later (times, sequence).
    pub context: SetContext,
    /// When it was held, in collector milliseconds.
    pub held_at_ms: i64,
}

/// Why held sets were discarded.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Evicted {
    pub timeout_sets: u64,
    pub overflow_sets: u64,
}

/// Held sets are found by what they wait for: `(scope, template id)`.
type Key = (ScopeKey, u16);

/// What a held set costs besides its body: the set itself (its index entries are
/// smaller still). Why it is charged: a set with an empty body counted nothing against
/// `pending_max_bytes`, so datagrams of thousands of 4-byte data sets for unknown
/// templates held unbounded memory until the age limit (found by the `any_datagram`
/// fuzz target's invariant).
const SET_OVERHEAD: usize = std::mem::size_of::<PendingSet>();

/// Bytes a held set counts against the budget.
fn cost(set: &PendingSet) -> usize {
    set.body.len() + SET_OVERHEAD
}

/// A FIFO bounded in bytes and age, indexed by what each set waits for.
#[derive(Debug, Default)]
pub(crate) struct PendingQueue {
    /// Held sets by the (scope, template) they wait for, each list in arrival order.
    /// Why not one FIFO scanned on release: every template learned scanned every held
    /// set, so one datagram of 8000 template records over a full holding area took
    /// 1.5 s (found while writing the fuzz regression inputs).
    waiting: FxHashMap<Key, VecDeque<(u64, PendingSet)>>,
    /// Arrival order, for ageing and eviction. Entries of sets already released are
    /// skipped when they reach the front, and compacted away when they pile up.
    order: VecDeque<(u64, Key)>,
    next: u64,
    len: usize,
    bytes: usize,
}

impl PendingQueue {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Adds a set, evicting the oldest ones past `max_bytes`.
    pub fn push(&mut self, set: PendingSet, max_bytes: usize) -> Evicted {
        let mut evicted = Evicted::default();
        if cost(&set) > max_bytes {
            evicted.overflow_sets += 1;
            return evicted;
        }
        let key = (set.scope, set.template_id);
        let seq = self.next;
        self.next += 1;
        self.bytes += cost(&set);
        self.len += 1;
        self.waiting.entry(key).or_default().push_back((seq, set));
        self.order.push_back((seq, key));
        while self.bytes > max_bytes {
            match self.pop_oldest() {
                Some(_) => evicted.overflow_sets += 1,
                None => break,
            }
        }
        evicted
    }

    /// The oldest set still held, dropping the arrival entries of released ones.
    fn oldest(&mut self) -> Option<&PendingSet> {
        while let Some(&(seq, key)) = self.order.front() {
            // A key's list is in arrival order and loses sets only at its front (age,
            // overflow) or all at once (release): the entry is live iff it heads it.
            if self.waiting.get(&key).and_then(|q| q.front()).is_some_and(|(s, _)| *s == seq) {
                break;
            }
            self.order.pop_front();
        }
        let (_, key) = self.order.front()?;
        self.waiting.get(key)?.front().map(|(_, set)| set)
    }

    /// Removes the oldest set still held.
    fn pop_oldest(&mut self) -> Option<PendingSet> {
        self.oldest()?;
        let (_, key) = self.order.pop_front()?;
        let queue = self.waiting.get_mut(&key)?;
        let (_, set) = queue.pop_front()?;
        if queue.is_empty() {
            self.waiting.remove(&key);
        }
        self.len -= 1;
        self.bytes -= cost(&set);
        Some(set)
    }

    /// Drops sets held longer than `max_age_ms`.
    pub fn expire(&mut self, now_ms: i64, max_age_ms: i64) -> Evicted {
        let mut evicted = Evicted::default();
        while let Some(front) = self.oldest() {
            if now_ms.saturating_sub(front.held_at_ms) <= max_age_ms {
                break;
            }
            match self.pop_oldest() {
                Some(_) => evicted.timeout_sets += 1,
                None => break,
            }
        }
        evicted
    }

    /// Removes and returns the sets for one template, oldest first.
    pub fn take(&mut self, scope: &ScopeKey, template_id: u16) -> Vec<PendingSet> {
        let Some(queue) = self.waiting.remove(&(*scope, template_id)) else {
            return Vec::new();
        };
        let sets: Vec<PendingSet> = queue.into_iter().map(|(_, set)| set).collect();
        self.len -= sets.len();
        self.bytes -= sets.iter().map(cost).sum::<usize>();
        // Their arrival entries are stale now. Rebuilt once they outnumber the live ones,
        // so the order list stays within a constant factor of the held sets.
        if self.order.len() > 2 * self.len + 64 {
            let mut order: Vec<(u64, Key)> =
                self.waiting.iter().flat_map(|(k, q)| q.iter().map(move |(seq, _)| (*seq, *k))).collect();
            order.sort_unstable_by_key(|(seq, _)| *seq);
            self.order = order.into();
        }
        sets
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;
    use crate::record::Protocol;
    use std::net::{IpAddr, Ipv4Addr};

    fn set(exporter: u8, template_id: u16, held_at_ms: i64, body: usize) -> PendingSet {
        let exporter = IpAddr::V4(Ipv4Addr::new(192, 0, 2, exporter));
        let scope = ScopeKey { exporter, protocol: Protocol::Ipfix, domain: 0 };
        let context = SetContext {
            protocol: Protocol::Ipfix,
            exporter,
            domain: 0,
            sequence: 0,
            export_time: 0,
            sys_uptime_ms: None,
        };
        PendingSet { scope, template_id, body: vec![1; body], context, held_at_ms }
    }

    fn ids(sets: &[PendingSet]) -> Vec<i64> {
        sets.iter().map(|s| s.held_at_ms).collect()
    }

    #[test]
    fn release_is_per_scope_and_template_and_keeps_arrival_order() {
        let mut q = PendingQueue::default();
        for (i, (exporter, id)) in [(1, 256), (2, 256), (1, 257), (1, 256)].into_iter().enumerate() {
            q.push(set(exporter, id, i as i64, 10), usize::MAX);
        }
        let scope = set(1, 256, 0, 0).scope;
        assert_eq!(ids(&q.take(&scope, 256)), [0, 3]);
        assert!(q.take(&scope, 256).is_empty());
        assert_eq!((q.len(), q.bytes()), (2, 2 * (10 + SET_OVERHEAD)));
        // Ageing skips the released sets and drops the others oldest first.
        assert_eq!(q.expire(100, 98).timeout_sets, 1);
        assert_eq!(ids(&q.take(&scope, 257)), [2]);
        assert_eq!((q.len(), q.bytes()), (0, 0));
    }

    #[test]
    fn budget_counts_empty_sets_and_evicts_oldest_across_releases() {
        let budget = 10 * SET_OVERHEAD;
        let mut q = PendingQueue::default();
        let mut overflow = 0;
        for i in 0..1000u16 {
            overflow += q.push(set(1, 256 + i, i64::from(i), 0), budget).overflow_sets;
            if i % 3 == 0 {
                // Releases leave stale arrival entries behind; they must not pile up.
                q.take(&set(1, 0, 0, 0).scope, 256 + i);
            }
        }
        assert!(q.len() <= 10 && q.bytes() <= budget);
        assert_eq!(overflow as usize + q.len() + 334, 1000);
        assert!(q.order.len() <= 2 * q.len() + 64);
        let left: Vec<i64> = (0..1000).filter(|i| i % 3 != 0).rev().take(q.len()).collect();
        let mut got = Vec::new();
        while let Some(s) = q.pop_oldest() {
            got.push(s.held_at_ms);
        }
        assert_eq!(got, left.into_iter().rev().collect::<Vec<_>>());
    }
}
