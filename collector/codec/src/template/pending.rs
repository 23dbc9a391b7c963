//! Data sets that arrived before their template, held for a bounded time and size.
//!
//! Exporters send templates periodically, and UDP reorders, so a collector that
//! starts (or restarts) mid-stream sees data it cannot read yet. Dropping it would
//! lose flows that the next template refresh makes readable; keeping it forever would
//! let a broken exporter exhaust memory. So: a FIFO bounded in bytes and age, and
//! every set that leaves it without being decoded is counted.

use super::cache::ScopeKey;
use crate::decode::SetContext;
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

#[derive(Debug, Default)]
pub(crate) struct PendingQueue {
    sets: VecDeque<PendingSet>,
    bytes: usize,
}

impl PendingQueue {
    pub fn len(&self) -> usize {
        self.sets.len()
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Adds a set, evicting the oldest ones past `max_bytes`.
    pub fn push(&mut self, set: PendingSet, max_bytes: usize) -> Evicted {
        let mut evicted = Evicted::default();
        if set.body.len() > max_bytes {
            evicted.overflow_sets += 1;
            return evicted;
        }
        self.bytes += set.body.len();
        self.sets.push_back(set);
        while self.bytes > max_bytes {
            match self.sets.pop_front() {
                Some(old) => {
                    self.bytes -= old.body.len();
                    evicted.overflow_sets += 1;
                }
                None => break,
            }
        }
        evicted
    }

    /// Drops sets held longer than `max_age_ms`.
    pub fn expire(&mut self, now_ms: i64, max_age_ms: i64) -> Evicted {
        let mut evicted = Evicted::default();
        while let Some(front) = self.sets.front() {
            if now_ms.saturating_sub(front.held_at_ms) <= max_age_ms {
                break;
            }
            if let Some(old) = self.sets.pop_front() {
                self.bytes -= old.body.len();
                evicted.timeout_sets += 1;
            }
        }
        evicted
    }

    /// Removes and returns the sets for one template, oldest first.
    pub fn take(&mut self, scope: &ScopeKey, template_id: u16) -> Vec<PendingSet> {
        if !self.sets.iter().any(|s| s.template_id == template_id && s.scope == *scope) {
            return Vec::new();
        }
        let (hit, keep): (VecDeque<_>, VecDeque<_>) = std::mem::take(&mut self.sets)
            .into_iter()
            .partition(|s| s.template_id == template_id && s.scope == *scope);
        self.sets = keep;
        self.bytes = self.sets.iter().map(|s| s.body.len()).sum();
        hit.into_iter().collect()
    }
}
