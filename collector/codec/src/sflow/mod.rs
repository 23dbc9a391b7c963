//! sFlow version 5 (sflow.org, "sFlow Version 5", July 2004).
//!
//! A datagram is an XDR header (agent address, sub-agent, sequence, uptime) and a list
//! of samples, each `(data_format, opaque)`: a data format is `enterprise << 12 |
//! format`. FlowVision decodes the standard (enterprise 0) flow samples into one
//! [`FlowRecord`](crate::FlowRecord) each ([`flow_sample`]) and the generic interface
//! counters of counter samples into [`InterfaceCounters`](crate::InterfaceCounters)
//! ([`counter_sample`]); everything else is skipped by its length, which is what the
//! length prefixes are for.
//!
//! The exporter of sFlow records is the agent address in the datagram, not the UDP
//! source: agents commonly send from a management address or through a relay.

mod counter_sample;
mod flow_sample;
mod xdr;

use crate::cursor::Cursor;
use crate::error::{DecodeError, Result};
use crate::output::DecodeOutput;
use crate::record::{DatagramInfo, Protocol};
use std::net::IpAddr;

/// The datagram version this module decodes.
pub const VERSION: u32 = 5;

/// `address` type: unknown (no address bytes follow).
pub const ADDRESS_UNKNOWN: u32 = 0;
/// `address` type: IPv4.
pub const ADDRESS_IPV4: u32 = 1;
/// `address` type: IPv6.
pub const ADDRESS_IPV6: u32 = 2;

/// Sample format (enterprise 0): flow sample.
pub const SAMPLE_FLOW: u32 = 1;
/// Sample format (enterprise 0): counter sample.
pub const SAMPLE_COUNTERS: u32 = 2;
/// Sample format (enterprise 0): expanded flow sample (ifIndex above 2^24).
pub const SAMPLE_FLOW_EXPANDED: u32 = 3;
/// Sample format (enterprise 0): expanded counter sample.
pub const SAMPLE_COUNTERS_EXPANDED: u32 = 4;

/// Flow record format: raw packet header.
pub const FLOW_RAW_HEADER: u32 = 1;
/// Flow record format: Ethernet frame data (MACs, frame length).
pub const FLOW_ETHERNET: u32 = 2;
/// Flow record format: sampled IPv4 (5-tuple).
pub const FLOW_IPV4: u32 = 3;
/// Flow record format: sampled IPv6 (5-tuple).
pub const FLOW_IPV6: u32 = 4;
/// Flow record format: extended switch data (VLANs).
pub const FLOW_EXTENDED_SWITCH: u32 = 1001;
/// Flow record format: extended router data (next hop, prefix lengths).
pub const FLOW_EXTENDED_ROUTER: u32 = 1002;
/// Flow record format: extended gateway data (BGP next hop, AS numbers).
pub const FLOW_EXTENDED_GATEWAY: u32 = 1003;

/// Counter record format: generic interface counters (RFC 2233 ifTable/ifXTable).
pub const COUNTERS_GENERIC_INTERFACE: u32 = 1;
/// Counter record format: Ethernet interface counters (skipped).
pub const COUNTERS_ETHERNET: u32 = 2;
/// Length of the generic interface counters record.
pub const GENERIC_INTERFACE_LEN: usize = 88;

/// Raw packet header protocol: Ethernet (ISO 8802-3).
pub const HEADER_ETHERNET: u32 = 1;
/// Raw packet header protocol: IPv4 (no layer 2).
pub const HEADER_IPV4: u32 = 11;
/// Raw packet header protocol: IPv6 (no layer 2).
pub const HEADER_IPV6: u32 = 12;

/// Compact interface value meaning "the device itself" (traffic it originates or
/// terminates); FlowVision reports it as interface 0, as NetFlow exporters do.
pub const INTERFACE_LOCAL: u32 = 0x3fff_ffff;
/// The same in the expanded encoding.
pub const INTERFACE_LOCAL_EXPANDED: u32 = u32::MAX;

/// AS path segment type AS_SET.
pub const AS_SET: u32 = 1;
/// AS path segment type AS_SEQUENCE.
pub const AS_SEQUENCE: u32 = 2;

/// What every sample of a datagram inherits from its header.
#[derive(Debug, Clone, Copy)]
struct Agent {
    /// The agent address, or the UDP source when the agent did not say.
    address: IpAddr,
    sub_agent: u32,
    sequence: u32,
}

/// Decodes one sFlow v5 datagram from `exporter` (the UDP source, used only when the
/// agent address type is unknown).
///
/// Appends one flow record per flow sample to `out.records` and one entry per generic
/// interface counter record to `out.counters`. On error, the samples before the bad
/// one stay in `out`; the bad sample contributes nothing.
pub fn decode(exporter: IpAddr, datagram: &[u8], out: &mut DecodeOutput) -> Result<DatagramInfo> {
    let mut cur = Cursor::new(datagram, "sflow header");
    let version = cur.u32()?;
    if version != VERSION {
        return Err(DecodeError::UnsupportedVersion { family: "sflow", version });
    }
    let address = xdr::address(&mut cur)?.unwrap_or(exporter);
    let sub_agent = cur.u32()?;
    let sequence = cur.u32()?;
    let _uptime_ms = cur.u32()?;
    let count = cur.u32()?;
    let agent = Agent { address, sub_agent, sequence };
    let mut info = DatagramInfo {
        protocol: Protocol::SflowV5,
        observation_domain: sub_agent,
        sequence,
        export_time: 0,
        records: 0,
        held_sets: 0,
        released_records: 0,
        templates: 0,
        options_records: 0,
    };
    // The count only bounds the loop, it sizes nothing: every sample consumes at
    // least 8 bytes, so an inflated count ends in a truncation error.
    for _ in 0..count {
        cur.context("sflow sample header");
        let format = cur.u32()?;
        let body = xdr::opaque(&mut cur, "sample length overruns the datagram")?;
        if format >> 12 != 0 {
            continue; // another enterprise's sample
        }
        match format & 0xfff {
            SAMPLE_FLOW | SAMPLE_FLOW_EXPANDED => {
                let expanded = format & 0xfff == SAMPLE_FLOW_EXPANDED;
                out.records.push(flow_sample::decode(&agent, body, expanded)?);
                info.records += 1;
            }
            SAMPLE_COUNTERS | SAMPLE_COUNTERS_EXPANDED => {
                let expanded = format & 0xfff == SAMPLE_COUNTERS_EXPANDED;
                counter_sample::decode(&agent, body, expanded, out)?;
            }
            _ => {} // discarded-packet events and later additions
        }
    }
    Ok(info)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;
    use std::net::Ipv4Addr;

    const UDP_SOURCE: IpAddr = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 9));

    fn header(agent_type: u32, agent: &[u8], count: u32) -> Vec<u8> {
        let mut v = Vec::new();
        for w in [VERSION, agent_type] {
            v.extend_from_slice(&w.to_be_bytes());
        }
        v.extend_from_slice(agent);
        for w in [7u32, 1000, 5000, count] {
            v.extend_from_slice(&w.to_be_bytes());
        }
        v
    }

    fn words(v: &mut Vec<u8>, ws: &[u32]) {
        for w in ws {
            v.extend_from_slice(&w.to_be_bytes());
        }
    }

    /// A flow sample with only an extended switch record.
    fn tiny_flow_sample(v: &mut Vec<u8>, input: u32, output: u32) {
        words(v, &[SAMPLE_FLOW, 4 * 8 + 8 + 16, 1, 3, 0, 0, 0, input, output, 1]);
        words(v, &[FLOW_EXTENDED_SWITCH, 16, 10, 0, 20, 0]);
    }

    #[test]
    fn header_fields_and_unknown_agent_type() {
        let mut d = header(ADDRESS_UNKNOWN, &[], 1);
        tiny_flow_sample(&mut d, 5, 6);
        let mut out = DecodeOutput::default();
        let info = decode(UDP_SOURCE, &d, &mut out).unwrap();
        assert_eq!((info.protocol, info.observation_domain, info.sequence), (Protocol::SflowV5, 7, 1000));
        assert_eq!((info.export_time, info.records), (0, 1));
        let r = out.records[0];
        assert_eq!(r.exporter, UDP_SOURCE);
        assert_eq!((r.in_if, r.out_if, r.vlan, r.packets, r.sampling_rate), (5, 6, 10, 1, 1));
    }

    #[test]
    fn interface_formats() {
        let mut d = header(ADDRESS_IPV4, &[10, 1, 1, 1], 4);
        tiny_flow_sample(&mut d, 5, 1 << 30 | 3); // discarded, reason 3
        tiny_flow_sample(&mut d, 5, 2 << 30 | 7); // multiple (7 interfaces)
        tiny_flow_sample(&mut d, INTERFACE_LOCAL, 9); // originated by the device
        tiny_flow_sample(&mut d, 4, 0x3fff_fffe);
        let mut out = DecodeOutput::default();
        decode(UDP_SOURCE, &d, &mut out).unwrap();
        let ifs: Vec<_> = out.records.iter().map(|r| (r.in_if, r.out_if)).collect();
        assert_eq!(ifs, [(5, 0), (5, 0), (0, 9), (4, 0x3fff_fffe)]);
        assert!(out.records.iter().all(|r| r.exporter == IpAddr::V4(Ipv4Addr::new(10, 1, 1, 1))));
    }

    #[test]
    fn bad_sample_keeps_earlier_ones() {
        let mut d = header(ADDRESS_IPV4, &[10, 1, 1, 1], 3);
        tiny_flow_sample(&mut d, 1, 2);
        // Second sample: a flow record whose length runs past its sample.
        words(&mut d, &[SAMPLE_FLOW, 4 * 8 + 8 + 16, 2, 3, 0, 0, 0, 1, 2, 1]);
        words(&mut d, &[FLOW_EXTENDED_SWITCH, 20, 10, 0, 20, 0]);
        tiny_flow_sample(&mut d, 1, 2);
        let mut out = DecodeOutput::default();
        let err = decode(UDP_SOURCE, &d, &mut out).unwrap_err();
        assert_eq!(err.reason(), "bad_sflow");
        assert_eq!(out.records.len(), 1);
    }

    #[test]
    fn inflated_counts_and_lengths_are_errors_not_allocations() {
        let mut d = header(ADDRESS_IPV4, &[10, 1, 1, 1], u32::MAX);
        tiny_flow_sample(&mut d, 1, 2);
        let mut out = DecodeOutput::default();
        let err = decode(UDP_SOURCE, &d, &mut out).unwrap_err();
        assert!(matches!(err, DecodeError::Truncated { .. }), "{err}");
        assert_eq!(out.records.len(), 1);

        let mut d = header(ADDRESS_IPV4, &[10, 1, 1, 1], 1);
        words(&mut d, &[SAMPLE_FLOW, u32::MAX]);
        let err = decode(UDP_SOURCE, &d, &mut DecodeOutput::default()).unwrap_err();
        assert_eq!(err, DecodeError::BadSflow { what: "sample length overruns the datagram" });

        let mut d = header(7, &[10, 1, 1, 1], 0);
        d.truncate(12);
        let err = decode(UDP_SOURCE, &d, &mut DecodeOutput::default()).unwrap_err();
        assert_eq!(err, DecodeError::BadSflow { what: "address type" });
    }

    #[test]
    fn other_enterprises_and_formats_are_skipped() {
        let mut d = header(ADDRESS_IPV4, &[10, 1, 1, 1], 3);
        words(&mut d, &[4413 << 12 | 1, 8, 1, 2]);
        words(&mut d, &[5, 4, 0xdead_beef]); // discarded packet event (truncated body is fine)
        tiny_flow_sample(&mut d, 1, 2);
        let mut out = DecodeOutput::default();
        assert_eq!(decode(UDP_SOURCE, &d, &mut out).unwrap().records, 1);
        assert_eq!(out.records.len(), 1);
    }

    #[test]
    fn every_prefix_of_a_datagram_fails_cleanly() {
        let mut d = header(ADDRESS_IPV4, &[10, 1, 1, 1], 2);
        tiny_flow_sample(&mut d, 1, 2);
        tiny_flow_sample(&mut d, 3, 4);
        for cut in 0..d.len() {
            let mut out = DecodeOutput::default();
            assert!(decode(UDP_SOURCE, &d[..cut], &mut out).is_err(), "cut {cut}");
            assert!(out.records.len() <= 1);
        }
    }
}
