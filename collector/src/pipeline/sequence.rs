//! Per-exporter sequence tracking: gaps are flows the network lost before they
//! reached us (upstream loss), which operators must see next to our own drops.

use flowvision_codec::{DatagramInfo, Protocol};
use std::collections::HashMap;
use std::net::IpAddr;

/// What one datagram's sequence number said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SequenceEvent {
    /// First datagram of this stream, or exactly the expected number.
    InOrder,
    /// `lost` units (v5 flows, v9 datagrams, IPFIX records, sFlow datagrams) were
    /// skipped.
    Gap {
        /// How many units are missing.
        lost: u64,
    },
    /// The number went backwards or jumped implausibly: a restart or reordering.
    Reset,
}

/// Largest forward jump still counted as loss rather than an exporter restart.
const MAX_GAP: u32 = 1 << 20;

/// What the tracker expects of a stream's next datagram.
#[derive(Debug, Clone, Copy)]
struct Expected {
    /// Its sequence number, if nothing is lost.
    next: u32,
    /// The last datagram had data sets held for a missing template: IPFIX counts their
    /// records in the sequence, but how many there are is unknown until the template
    /// comes, so `next` is only a lower bound.
    held: bool,
}

/// Expected next sequence number per (exporter, protocol, observation domain).
///
/// IPFIX numbers data records (RFC 7011 §3.1). A datagram whose data sets wait for
/// their template ([`DatagramInfo::held_sets`]) carries records the decoder cannot
/// count yet, so the next datagram's number is ahead of the records counted by as
/// many as were held: that difference is not loss, and is not counted as such. Real
/// loss in that one window cannot be told apart from held records and goes uncounted
/// (see docs/codec.md, "Sequence numbers and held sets").
#[derive(Debug, Default)]
pub struct SequenceTracker {
    next: HashMap<(IpAddr, Protocol, u32), Expected>,
}

impl SequenceTracker {
    /// Records a datagram from `exporter` and says whether anything was missed.
    pub fn observe(&mut self, exporter: IpAddr, info: &DatagramInfo) -> SequenceEvent {
        // How far this datagram advances the sequence (RFC 3954 §5.1, RFC 7011 §3.1,
        // Cisco's v5 format, sFlow v5 §5).
        let (advance, held) = match info.protocol {
            Protocol::NetflowV5 => (info.records, false),
            // Released records belong to earlier datagrams' numbers: not counted here.
            Protocol::Ipfix => (info.records + info.options_records, info.held_sets > 0),
            // v9 numbers datagrams, so held sets change nothing.
            Protocol::NetflowV9 | Protocol::SflowV5 => (1, false),
        };
        let key = (exporter, info.protocol, info.observation_domain);
        let next = Expected { next: info.sequence.wrapping_add(advance), held };
        match self.next.insert(key, next) {
            None => SequenceEvent::InOrder,
            Some(expected) if expected.next == info.sequence => SequenceEvent::InOrder,
            Some(expected) => {
                let gap = info.sequence.wrapping_sub(expected.next);
                if gap >= MAX_GAP {
                    SequenceEvent::Reset
                } else if expected.held {
                    // The held records fill (some or all of) the gap.
                    SequenceEvent::InOrder
                } else {
                    SequenceEvent::Gap { lost: u64::from(gap) }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(protocol: Protocol, sequence: u32, records: u32) -> DatagramInfo {
        held(protocol, sequence, records, 0)
    }

    fn held(protocol: Protocol, sequence: u32, records: u32, held_sets: u32) -> DatagramInfo {
        DatagramInfo {
            protocol,
            observation_domain: 0,
            sequence,
            export_time: 0,
            records,
            held_sets,
            released_records: 0,
            templates: 0,
            options_records: 0,
        }
    }

    #[test]
    fn gaps_and_resets() {
        let a: IpAddr = IpAddr::from([192, 0, 2, 1]);
        let mut t = SequenceTracker::default();
        assert_eq!(t.observe(a, &info(Protocol::NetflowV5, 100, 30)), SequenceEvent::InOrder);
        assert_eq!(t.observe(a, &info(Protocol::NetflowV5, 130, 30)), SequenceEvent::InOrder);
        assert_eq!(t.observe(a, &info(Protocol::NetflowV5, 190, 30)), SequenceEvent::Gap { lost: 30 });
        assert_eq!(t.observe(a, &info(Protocol::NetflowV5, 5, 30)), SequenceEvent::Reset);
        // v9 counts datagrams, and wraps.
        assert_eq!(t.observe(a, &info(Protocol::NetflowV9, u32::MAX, 3)), SequenceEvent::InOrder);
        assert_eq!(t.observe(a, &info(Protocol::NetflowV9, 0, 3)), SequenceEvent::InOrder);
    }

    #[test]
    fn ipfix_records_held_for_a_template_are_not_loss() {
        let a: IpAddr = IpAddr::from([192, 0, 2, 1]);
        let mut t = SequenceTracker::default();
        // 10 records arrive before their template: held, not counted.
        assert_eq!(t.observe(a, &held(Protocol::Ipfix, 0, 0, 1)), SequenceEvent::InOrder);
        // Another 5 records (2 decodable, 3 held): still not loss.
        assert_eq!(t.observe(a, &held(Protocol::Ipfix, 10, 2, 1)), SequenceEvent::InOrder);
        // The template (no data records of its own) releases them.
        assert_eq!(t.observe(a, &info(Protocol::Ipfix, 15, 0)), SequenceEvent::InOrder);
        assert_eq!(t.observe(a, &info(Protocol::Ipfix, 15, 20)), SequenceEvent::InOrder);
        // Once nothing is held, a gap is loss again; backwards is a reset, held or not.
        assert_eq!(t.observe(a, &info(Protocol::Ipfix, 40, 1)), SequenceEvent::Gap { lost: 5 });
        assert_eq!(t.observe(a, &held(Protocol::Ipfix, 41, 0, 1)), SequenceEvent::InOrder);
        assert_eq!(t.observe(a, &info(Protocol::Ipfix, 7, 1)), SequenceEvent::Reset);
        // v9 numbers datagrams: a held set leaves the count exact.
        assert_eq!(t.observe(a, &held(Protocol::NetflowV9, 1, 0, 1)), SequenceEvent::InOrder);
        assert_eq!(t.observe(a, &info(Protocol::NetflowV9, 3, 4)), SequenceEvent::Gap { lost: 1 });
    }
}
