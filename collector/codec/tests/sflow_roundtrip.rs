//! Property: what the sFlow encoder writes, the decoder reads back to the same flow
//! records and interface counters (within what a sampled packet can carry; see
//! `encode::sflow`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use flowvision_codec::encode::sflow::{SflowEncoder, SflowSample, DEFAULT_DST_MAC, DEFAULT_SRC_MAC};
use flowvision_codec::{
    DecodeOutput, Decoder, FlowRecord, InterfaceCounters, Protocol, SamplingOrigin, TemplateCacheConfig,
};
use proptest::prelude::*;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Never the exporter of the decoded records: sFlow's exporter is the agent address.
const UDP_SOURCE: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 1));

fn arb_addr(v6: bool) -> BoxedStrategy<IpAddr> {
    if v6 {
        any::<[u8; 16]>().prop_map(|b| IpAddr::V6(Ipv6Addr::from(b))).boxed()
    } else {
        any::<[u8; 4]>().prop_map(|b| IpAddr::V4(Ipv4Addr::from(b))).boxed()
    }
}

// `bytes` starts at 82, the longest synthesized header (802.1Q + IPv6 + TCP) plus FCS:
// smaller counts are raised to the frame's header length (see `edge_records_round_trip`).

/// Interface numbers: small ones (compact samples) and large ones (expanded samples).
/// `u32::MAX` is sFlow's "the device itself", decoded as 0, so it is left out.
fn arb_if() -> BoxedStrategy<u32> {
    prop_oneof![0u32..5000, 0u32..u32::MAX].boxed()
}

prop_compose! {
    fn arb_record()(v6 in any::<bool>())
        (has_addr in prop::bool::weighted(0.95), src in arb_addr(v6), dst in arb_addr(v6),
         nh in prop::option::of(prop_oneof![arb_addr(v6), arb_addr(!v6)]),
         proto in prop::sample::select(vec![1u8, 6, 17, 58, 132, 136, 47, 50, 0, 255]),
         ports in any::<(u16, u16)>(), flags in any::<u8>(), tos in any::<u8>(),
         bytes in 82u64..=u64::from(u32::MAX), rate in 1u32..=u32::MAX, in_if in arb_if(), out_if in arb_if(),
         ases in prop_oneof![Just((0u32, 0u32)), any::<(u32, u32)>()],
         masks in prop_oneof![Just((0u8, 0u8)), (0u8..=128, 0u8..=128)], vlan in prop_oneof![Just(0u16), 1u16..4096],
         macs in any::<(Option<[u8; 6]>, Option<[u8; 6]>)>())
        -> FlowRecord {
        let mut r = FlowRecord::new(Protocol::NetflowV9, UDP_SOURCE);
        if has_addr {
            r.src_addr = Some(src);
            r.dst_addr = Some(dst);
        }
        r.proto = proto;
        match proto {
            6 | 17 | 132 | 136 => (r.src_port, r.dst_port) = ports,
            1 | 58 => r.dst_port = ports.1,
            _ => {}
        }
        if proto == 6 {
            r.tcp_flags = u16::from(flags);
        }
        r.tos = tos;
        r.bytes = bytes;
        r.packets = 7;
        r.sampling_rate = rate;
        r.in_if = in_if;
        r.out_if = out_if;
        (r.src_as, r.dst_as) = ases;
        (r.src_mask, r.dst_mask) = masks;
        r.next_hop = nh;
        r.vlan = vlan;
        (r.src_mac, r.dst_mac) = macs;
        r.flow_start_ms = Some(1);
        r.flow_end_ms = Some(2);
        r
    }
}

fn arb_counters() -> impl Strategy<Value = InterfaceCounters> {
    (any::<(u32, u64, u64, u64)>(), any::<[u32; 6]>()).prop_map(|((if_index, if_speed, ino, outo), c)| {
        InterfaceCounters {
            agent: None,
            sub_agent: 0,
            if_index,
            if_speed,
            in_octets: ino,
            in_ucast_pkts: c[0],
            in_errors: c[1],
            in_discards: c[2],
            out_octets: outo,
            out_ucast_pkts: c[3],
            out_errors: c[4],
            out_discards: c[5],
        }
    })
}

/// What the decoder must return for `r` sent by `agent`/`sub_agent` in datagram `sequence`.
fn expected(r: &FlowRecord, agent: IpAddr, sub_agent: u32, sequence: u32) -> FlowRecord {
    let mut e = *r;
    e.protocol = Protocol::SflowV5;
    e.exporter = agent;
    e.observation_domain = sub_agent;
    e.sequence = sequence;
    e.packets = 1;
    e.sampling_origin = SamplingOrigin::SflowSample;
    e.src_mac = r.src_mac.or(Some(DEFAULT_SRC_MAC));
    e.dst_mac = r.dst_mac.or(Some(DEFAULT_DST_MAC));
    e.flow_start_ms = None;
    e.flow_end_ms = None;
    if r.src_addr.is_none() && r.dst_addr.is_none() {
        // No IP packet was synthesized, so nothing above layer 2 comes back.
        (e.proto, e.tos, e.src_port, e.dst_port, e.tcp_flags) = (0, 0, 0, 0, 0);
    }
    e
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn flow_and_counter_samples_round_trip(
        records in prop::collection::vec(arb_record(), 0..40),
        counters in prop::collection::vec(arb_counters(), 0..4),
        agent in prop_oneof![arb_addr(false), arb_addr(true)],
        sub_agent in any::<u32>(),
        max_datagram in 200usize..1500,
        uptime in any::<u32>(),
    ) {
        let mut enc = SflowEncoder::new(agent, sub_agent);
        enc.max_datagram = max_datagram;
        let first_sequence = enc.sequence();
        let samples: Vec<SflowSample<'_>> = counters
            .iter()
            .map(SflowSample::Counters)
            .chain(records.iter().map(SflowSample::Flow))
            .collect();
        let mut datagrams = Vec::new();
        enc.encode(uptime, samples, |d| datagrams.push(d.to_vec()));
        prop_assert_eq!(datagrams.is_empty(), records.is_empty() && counters.is_empty());
        prop_assert_eq!(enc.sequence(), first_sequence + datagrams.len() as u32);

        let decoder = Decoder::new(TemplateCacheConfig::default());
        let mut want = Vec::new();
        let mut got = Vec::new();
        let mut got_counters = Vec::new();
        let mut remaining = records.iter();
        for (i, d) in datagrams.iter().enumerate() {
            // A datagram is over the limit only when one sample alone is.
            let count_at = if agent.is_ipv4() { 24 } else { 36 };
            let count = u32::from_be_bytes(d[count_at..count_at + 4].try_into().unwrap());
            prop_assert!(d.len() <= max_datagram || count == 1, "{} bytes, {} samples", d.len(), count);
            let mut out = DecodeOutput::default();
            let info = decoder.decode(UDP_SOURCE, d, 0, &mut out).unwrap();
            prop_assert_eq!(info.protocol, Protocol::SflowV5);
            prop_assert_eq!(info.sequence, first_sequence + i as u32);
            prop_assert_eq!(info.observation_domain, sub_agent);
            prop_assert_eq!(info.records as usize, out.records.len());
            for r in remaining.by_ref().take(out.records.len()) {
                want.push(expected(r, agent, sub_agent, info.sequence));
            }
            got.extend(out.records);
            got_counters.extend(out.counters);
        }
        prop_assert_eq!(got.len(), records.len());
        for (g, w) in got.iter().zip(&want) {
            prop_assert_eq!(g, w);
        }
        let want_counters: Vec<_> = counters
            .iter()
            .map(|c| InterfaceCounters { agent: Some(agent), sub_agent, ..*c })
            .collect();
        prop_assert_eq!(got_counters, want_counters);
    }
}

#[test]
fn edge_records_round_trip() {
    let agent = IpAddr::V4(Ipv4Addr::new(10, 9, 8, 7));
    let mut base = FlowRecord::new(Protocol::Ipfix, UDP_SOURCE);
    base.bytes = 1514;
    let mut cases = Vec::new();
    // No addresses at all: an Ethernet frame without IP.
    cases.push(base);
    // Interfaces at the compact/expanded boundaries.
    for (i, o) in [(0x00ff_ffff, 0x3fff_fffe), (0x0100_0000, 1), (1, 0x3fff_ffff), (0xffff_fffe, 0xffff_fffe)]
    {
        let mut r = base;
        (r.in_if, r.out_if) = (i, o);
        cases.push(r);
    }
    // AS numbers without next hop; masks without next hop; an unspecified next hop.
    let mut r = base;
    r.src_addr = Some(IpAddr::V6(Ipv6Addr::LOCALHOST));
    r.dst_addr = Some(IpAddr::V6(Ipv6Addr::UNSPECIFIED));
    (r.src_as, r.dst_as) = (0, 4_200_000_000);
    cases.push(r);
    (r.src_mask, r.dst_mask, r.src_as, r.dst_as) = (64, 128, 0, 0);
    cases.push(r);
    r.next_hop = Some(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    cases.push(r);
    // A zero sampling rate (decoded as 1) and byte counts below the frame's own
    // headers, raised to headers + FCS: 14 + 20 + 20 + 4 for IPv4/TCP, 14 + 4 without IP.
    let mut r = base;
    r.src_addr = Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)));
    r.dst_addr = Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2)));
    r.proto = 6;
    (r.bytes, r.sampling_rate) = (0, 0);
    cases.push(r);
    r.bytes = 57;
    cases.push(r);
    r.bytes = 58;
    cases.push(r);
    r.src_addr = None;
    r.dst_addr = None;
    r.bytes = 1;
    cases.push(r);

    let mut enc = SflowEncoder::new(agent, 1);
    let mut datagrams = Vec::new();
    enc.encode_flows(5, &cases, |d| datagrams.push(d.to_vec()));
    let decoder = Decoder::new(TemplateCacheConfig::default());
    let mut out = DecodeOutput::default();
    for d in &datagrams {
        decoder.decode(UDP_SOURCE, d, 0, &mut out).unwrap();
    }
    assert_eq!(out.records.len(), cases.len());
    for (got, case) in out.records.iter().zip(&cases) {
        let mut want = expected(case, agent, 1, 1);
        want.sampling_rate = case.sampling_rate.max(1);
        want.bytes = match (case.bytes, case.src_addr) {
            (0..=57, Some(_)) => 58,
            (0..=17, None) => 18,
            (b, _) => b,
        };
        assert_eq!(*got, want);
    }
    println!("{} edge records in {} datagram(s) round-tripped", cases.len(), datagrams.len());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Corrupted and truncated datagrams give errors or fewer records, never a panic.
    #[test]
    fn mutated_datagrams_never_panic(
        records in prop::collection::vec(arb_record(), 1..6),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut enc = SflowEncoder::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), 0);
        let mut datagram = Vec::new();
        enc.encode_flows(0, &records, |d| if datagram.is_empty() { datagram = d.to_vec() });
        for (at, value) in &flips {
            let i = at.index(datagram.len());
            datagram[i] = *value;
        }
        datagram.truncate(cut.index(datagram.len() + 1));
        let decoder = Decoder::new(TemplateCacheConfig::default());
        let mut out = DecodeOutput::default();
        let result = decoder.decode(UDP_SOURCE, &datagram, 0, &mut out);
        if let Ok(info) = result {
            prop_assert_eq!(info.records as usize, out.records.len());
        }
        prop_assert!(out.records.len() <= records.len() + datagram.len() / 8);
    }
}
