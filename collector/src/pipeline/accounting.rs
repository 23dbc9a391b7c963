//! What one datagram adds to a worker's counters: the worker's totals (the /metrics
//! counters) and its exporter's entry (the exporters table and console), both from the
//! same facts in one place, so the two views cannot drift apart.

use super::sequence::SequenceEvent;
use crate::telemetry::WorkerCounters;
use flowvision_codec::DatagramInfo;
use std::net::IpAddr;

/// How a datagram's decoding ended, as the counters see it.
#[derive(Debug, Clone, Copy)]
pub enum Outcome<'a> {
    /// Decoded; its header and what its sequence number said.
    Decoded {
        /// The datagram's header facts.
        info: &'a DatagramInfo,
        /// Gap, reset or in order, from the exporter's stream.
        sequence: SequenceEvent,
    },
    /// Not decodable (records of sets complete before the fault still count for the
    /// exporter, and are stored).
    Undecodable {
        /// The error's stable reason label.
        reason: &'static str,
    },
}

/// One datagram from `exporter`, `bytes` long, that produced `records` flow records.
#[inline]
pub fn count(
    counters: &mut WorkerCounters,
    exporter: IpAddr,
    now_ms: i64,
    bytes: usize,
    records: u64,
    outcome: Outcome<'_>,
) {
    let bytes = bytes as u64;
    let (lost, resets) = match outcome {
        Outcome::Decoded { sequence: SequenceEvent::Gap { lost }, .. } => (lost, 0),
        Outcome::Decoded { sequence: SequenceEvent::Reset, .. } => (0, 1),
        Outcome::Decoded { sequence: SequenceEvent::InOrder, .. } | Outcome::Undecodable { .. } => (0, 0),
    };
    counters.datagrams += 1;
    counters.bytes += bytes;
    counters.sequence_lost += lost;
    counters.sequence_resets += resets;
    match outcome {
        Outcome::Decoded { info, .. } => counters.decoded(info.protocol, records),
        Outcome::Undecodable { reason } => *counters.undecodable.entry(reason).or_default() += 1,
    }
    let e = counters.exporter(exporter, now_ms);
    e.datagrams += 1;
    e.datagram_bytes += bytes;
    e.records += records;
    e.sequence_lost += lost;
    e.sequence_resets += resets;
    match outcome {
        Outcome::Decoded { info, .. } => {
            e.templates += u64::from(info.templates);
            e.protocol = Some(info.protocol);
        }
        Outcome::Undecodable { .. } => e.undecodable += 1,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use flowvision_codec::Protocol;

    #[test]
    fn totals_and_exporter_agree() {
        let a = IpAddr::from([192, 0, 2, 1]);
        let info = DatagramInfo {
            protocol: Protocol::Ipfix,
            observation_domain: 0,
            sequence: 0,
            export_time: 0,
            records: 3,
            held_sets: 0,
            released_records: 0,
            templates: 2,
            options_records: 0,
        };
        let mut c = WorkerCounters::default();
        count(
            &mut c,
            a,
            10,
            100,
            3,
            Outcome::Decoded { info: &info, sequence: SequenceEvent::Gap { lost: 4 } },
        );
        count(&mut c, a, 20, 50, 1, Outcome::Decoded { info: &info, sequence: SequenceEvent::Reset });
        count(&mut c, a, 30, 7, 2, Outcome::Undecodable { reason: "truncated" });
        assert_eq!((c.datagrams, c.bytes, c.sequence_lost, c.sequence_resets), (3, 157, 4, 1));
        // Worker totals count records of decoded datagrams only, as before the split.
        assert_eq!((c.decoded[2], c.records[2]), (2, 4));
        assert_eq!(c.undecodable.get("truncated"), Some(&1));
        let e = &c.exporters[&a];
        assert_eq!((e.datagrams, e.datagram_bytes, e.records, e.undecodable), (3, 157, 6, 1));
        assert_eq!((e.sequence_lost, e.sequence_resets, e.templates), (4, 1, 4));
        assert_eq!((e.first_seen_ms, e.last_seen_ms, e.protocol), (10, 30, Some(Protocol::Ipfix)));
    }
}
