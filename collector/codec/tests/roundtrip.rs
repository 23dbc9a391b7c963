//! Property: what the encoders write, the decoder reads back to the same records.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use flowvision_codec::encode::{TemplateEncoder, TemplateEncoderConfig, V5Encoder};
use flowvision_codec::{DecodeOutput, Decoder, FlowRecord, Protocol, SamplingOrigin, TemplateCacheConfig};
use proptest::prelude::*;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

const EXPORTER: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7));
const EXPORT_MS: i64 = 1_732_000_000_000;

fn arb_addr(v6: bool) -> BoxedStrategy<IpAddr> {
    if v6 {
        any::<[u8; 16]>().prop_map(|b| IpAddr::V6(Ipv6Addr::from(b))).boxed()
    } else {
        any::<[u8; 4]>().prop_map(|b| IpAddr::V4(Ipv4Addr::from(b))).boxed()
    }
}

prop_compose! {
    fn arb_record(allow_v6: bool)(v6 in if allow_v6 { any::<bool>().boxed() } else { Just(false).boxed() })
        (src in arb_addr(v6), dst in arb_addr(v6), nh in arb_addr(v6),
         ports in any::<(u16, u16)>(), proto in any::<u8>(), flags in any::<u8>(), tos in any::<u8>(),
         bytes in 0u64..u64::from(u32::MAX), packets in 0u64..u64::from(u32::MAX),
         ifs in any::<(u16, u16)>(), ases in any::<(u16, u16)>(), masks in (0u8..=32, 0u8..=32),
         vlan in 0u16..4096, start_ago in 0i64..3_600_000, dur in 0i64..600_000, rate in 1u32..10_000)
        -> FlowRecord {
        let mut r = FlowRecord::new(Protocol::NetflowV9, EXPORTER);
        r.src_addr = Some(src);
        r.dst_addr = Some(dst);
        r.next_hop = Some(nh);
        (r.src_port, r.dst_port) = ports;
        r.proto = proto;
        r.tcp_flags = u16::from(flags);
        r.tos = tos;
        r.bytes = bytes;
        r.packets = packets;
        r.in_if = u32::from(ifs.0);
        r.out_if = u32::from(ifs.1);
        r.src_as = u32::from(ases.0);
        r.dst_as = u32::from(ases.1);
        (r.src_mask, r.dst_mask) = masks;
        r.vlan = vlan;
        let end = EXPORT_MS - start_ago;
        r.flow_start_ms = Some(end - dur);
        r.flow_end_ms = Some(end);
        r.sampling_rate = rate;
        r
    }
}

fn decode_all(datagrams: &[Vec<u8>]) -> Vec<FlowRecord> {
    let decoder = Decoder::new(TemplateCacheConfig::default());
    let mut out = DecodeOutput::default();
    for d in datagrams {
        decoder.decode(EXPORTER, d, EXPORT_MS, &mut out).expect("own encoding decodes");
    }
    out.records
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn netflow_v5(records in prop::collection::vec(arb_record(false), 0..100), rate in 0u16..0x3fff) {
        let mut enc = V5Encoder::new(1, 2, rate);
        let mut datagrams = Vec::new();
        // v5 times are relative to a header in whole ms.
        enc.encode(EXPORT_MS, 3_000_000_000, &records, |d| datagrams.push(d.to_vec()));
        let got = decode_all(&datagrams);
        prop_assert_eq!(got.len(), records.len());
        for (i, (g, want)) in got.iter().zip(&records).enumerate() {
            let mut w = *want;
            w.protocol = Protocol::NetflowV5;
            w.observation_domain = (1 << 8) | 2;
            w.sequence = (i / 30 * 30) as u32;
            w.vlan = 0; // v5 has no VLAN field
            (w.sampling_rate, w.sampling_origin) =
                if rate > 1 { (u32::from(rate), SamplingOrigin::V5Header) } else { (1, SamplingOrigin::Unsampled) };
            prop_assert_eq!(g, &w);
        }
    }

    #[test]
    fn netflow_v9_and_ipfix(records in prop::collection::vec(arb_record(true), 0..200),
                            ipfix in any::<bool>(), refresh in 0u32..4) {
        let protocol = if ipfix { Protocol::Ipfix } else { Protocol::NetflowV9 };
        let mut cfg = TemplateEncoderConfig::new(protocol, 77);
        cfg.template_refresh_datagrams = refresh;
        let mut enc = TemplateEncoder::new(cfg);
        let mut datagrams = Vec::new();
        enc.encode(EXPORT_MS, 123_456_789, &records, |d| datagrams.push(d.to_vec()));
        for d in &datagrams {
            prop_assert!(d.len() <= cfg.max_datagram);
        }
        let got = decode_all(&datagrams);
        prop_assert_eq!(got.len(), records.len());
        for (g, want) in got.iter().zip(&records) {
            let mut w = *want;
            w.protocol = protocol;
            w.observation_domain = 77;
            w.sequence = g.sequence;
            w.sampling_origin = SamplingOrigin::Record;
            prop_assert_eq!(g, &w);
        }
    }
}

#[test]
fn v9_sequence_counts_datagrams_and_ipfix_counts_records() {
    let mut r = FlowRecord::new(Protocol::NetflowV9, EXPORTER);
    r.src_addr = Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)));
    r.dst_addr = Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)));
    let records = vec![r; 100];
    for protocol in [Protocol::NetflowV9, Protocol::Ipfix] {
        let mut enc = TemplateEncoder::new(TemplateEncoderConfig::new(protocol, 1));
        let mut seqs = Vec::new();
        // The sequence number sits at offset 12 in a v9 header, 8 in an IPFIX one.
        let at = if protocol == Protocol::Ipfix { 8 } else { 12 };
        enc.encode(EXPORT_MS, 1000, &records, |d| {
            seqs.push(u32::from_be_bytes([d[at], d[at + 1], d[at + 2], d[at + 3]]))
        });
        assert!(seqs.len() >= 2, "100 records need several datagrams");
        if protocol == Protocol::NetflowV9 {
            assert_eq!(seqs, (0..seqs.len() as u32).collect::<Vec<_>>());
        } else {
            assert_eq!(seqs[0], 0);
            assert!(seqs.windows(2).all(|w| w[1] > w[0]));
        }
    }
}
