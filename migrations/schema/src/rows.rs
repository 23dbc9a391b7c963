//! Row types both sides agree on: what the collector stores and what readers (the
//! console, tools, tests) can expect of it.

use flowvision_codec::FlowRecord;

/// One flow record and when the collector received it: a row of `flows`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowRow {
    /// Receive time, Unix milliseconds (UTC): the partition and rollup key.
    pub time_received_ms: i64,
    /// The decoded record (its `enterprise` index is not stored).
    pub record: FlowRecord,
}

/// Counters beyond `i64::MAX` cannot be stored in `bigint`; such values only come
/// from broken or hostile exporters, so they are clamped rather than failing a batch.
#[inline]
pub fn clamp_u64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// The measures every rollup row carries ([`crate::MEASURES`], in that order).
/// Sums saturate at 2^63-1 instead of failing.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Measures {
    /// Flow records.
    pub flows: i64,
    /// Octets, sampling-corrected (bytes times the sampling rate).
    pub bytes: i64,
    /// Packets, sampling-corrected.
    pub packets: i64,
    /// Octets as exported.
    pub raw_bytes: i64,
    /// Packets as exported.
    pub raw_packets: i64,
}

impl Measures {
    /// One record's contribution; a sampling rate of 0 counts as 1.
    #[inline]
    pub fn of(r: &FlowRecord) -> Measures {
        let rate = i64::from(r.sampling_rate.max(1));
        let raw_bytes = clamp_u64(r.bytes);
        let raw_packets = clamp_u64(r.packets);
        Measures {
            flows: 1,
            bytes: raw_bytes.saturating_mul(rate),
            packets: raw_packets.saturating_mul(rate),
            raw_bytes,
            raw_packets,
        }
    }

    /// Adds `o`, saturating.
    #[inline]
    pub fn add(&mut self, o: &Measures) {
        self.flows = self.flows.saturating_add(o.flows);
        self.bytes = self.bytes.saturating_add(o.bytes);
        self.packets = self.packets.saturating_add(o.packets);
        self.raw_bytes = self.raw_bytes.saturating_add(o.raw_bytes);
        self.raw_packets = self.raw_packets.saturating_add(o.raw_packets);
    }
}
