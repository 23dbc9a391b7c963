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

/// Expected next sequence number per (exporter, protocol, observation domain).
#[derive(Debug, Default)]
pub struct SequenceTracker {
    next: HashMap<(IpAddr, Protocol, u32), u32>,
}

impl SequenceTracker {
    /// Records a datagram from `exporter` and says whether anything was missed.
    pub fn observe(&mut self, exporter: IpAddr, info: &DatagramInfo) -> SequenceEvent {
        // How far this datagram advances the sequence (RFC 3954 §5.1, RFC 7011 §3.1,
        // Cisco's v5 format, sFlow v5 §5).
        let advance = match info.protocol {
            Protocol::NetflowV5 => info.records,
            Protocol::Ipfix => info.records + info.options_records,
            Protocol::NetflowV9 | Protocol::SflowV5 => 1,
        };
        let key = (exporter, info.protocol, info.observation_domain);
        let next = info.sequence.wrapping_add(advance);
        match self.next.insert(key, next) {
            None => SequenceEvent::InOrder,
            Some(expected) if expected == info.sequence => SequenceEvent::InOrder,
            Some(expected) => {
                let gap = info.sequence.wrapping_sub(expected);
                if gap < MAX_GAP {
                    SequenceEvent::Gap { lost: u64::from(gap) }
                } else {
                    SequenceEvent::Reset
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(protocol: Protocol, sequence: u32, records: u32) -> DatagramInfo {
        DatagramInfo {
            protocol,
            observation_domain: 0,
            sequence,
            export_time: 0,
            records,
            held_sets: 0,
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
}
