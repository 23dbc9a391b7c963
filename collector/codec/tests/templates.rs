//! Template cache behaviour: scoping, data before templates, bounds, withdrawal,
//! persistence, options-derived sampling, and malformed template input.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use flowvision_codec::encode::{TemplateEncoder, TemplateEncoderConfig};
use flowvision_codec::{
    CacheSnapshot, DecodeError, DecodeOutput, Decoder, FlowRecord, OptionsInfo, Protocol, SamplingOrigin,
    TemplateCacheConfig,
};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::Ordering;

const A: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
const B: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2));
const NOW: i64 = 1_732_000_000_000;

fn records(n: usize) -> Vec<FlowRecord> {
    (0..n)
        .map(|i| {
            let mut r = FlowRecord::new(Protocol::NetflowV9, A);
            r.src_addr = Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, i as u8)));
            r.dst_addr = Some(IpAddr::V4(Ipv4Addr::new(10, 1, 0, 1)));
            r.bytes = 1000 + i as u64;
            r.packets = 1;
            r.flow_start_ms = Some(NOW - 5000);
            r.flow_end_ms = Some(NOW - 1000);
            r
        })
        .collect()
}

/// Two datagrams: the first carries templates and data, the second data only.
fn stream(protocol: Protocol) -> (Vec<u8>, Vec<u8>) {
    let mut cfg = TemplateEncoderConfig::new(protocol, 9);
    cfg.template_refresh_datagrams = 0;
    cfg.template_refresh_ms = 0;
    let mut enc = TemplateEncoder::new(cfg);
    let mut out = Vec::new();
    enc.encode(NOW, 10_000, &records(3), |d| out.push(d.to_vec()));
    enc.encode(NOW, 10_000, &records(4), |d| out.push(d.to_vec()));
    assert_eq!(out.len(), 2);
    (out[0].clone(), out[1].clone())
}

#[test]
fn data_before_template_is_held_then_decoded() {
    for protocol in [Protocol::NetflowV9, Protocol::Ipfix] {
        let (first, second) = stream(protocol);
        let d = Decoder::new(TemplateCacheConfig::default());
        let mut out = DecodeOutput::default();
        let info = d.decode(A, &second, NOW, &mut out).unwrap();
        assert_eq!((info.records, info.held_sets), (0, 1));
        assert!(out.records.is_empty());
        let info = d.decode(A, &first, NOW, &mut out).unwrap();
        assert_eq!(info.records, 3);
        assert_eq!(info.released_records, 4);
        assert_eq!(out.records.len(), 7);
        assert_eq!(d.cache().counters.sets_released.load(Ordering::Relaxed), 1);
    }
}

#[test]
fn templates_are_scoped_by_exporter() {
    let (first, second) = stream(Protocol::Ipfix);
    let d = Decoder::new(TemplateCacheConfig::default());
    let mut out = DecodeOutput::default();
    d.decode(A, &first, NOW, &mut out).unwrap();
    out.clear();
    // Same template id, another exporter: must not be decoded with A's template.
    let info = d.decode(B, &second, NOW, &mut out).unwrap();
    assert_eq!((info.records, info.held_sets), (0, 1));
    let info = d.decode(A, &second, NOW, &mut out).unwrap();
    assert_eq!(info.records, 4);
}

#[test]
fn held_sets_time_out_and_overflow_counted() {
    let (_, second) = stream(Protocol::NetflowV9);
    let d = Decoder::new(TemplateCacheConfig { pending_max_bytes: 400, ..TemplateCacheConfig::default() });
    let mut out = DecodeOutput::default();
    d.decode(A, &second, NOW, &mut out).unwrap();
    d.cache().expire(NOW + 61_000);
    let c = &d.cache().counters;
    assert_eq!(c.sets_dropped_timeout.load(Ordering::Relaxed), 1);
    // Each held set is ~230 bytes, so the second evicts the first.
    d.decode(A, &second, NOW, &mut out).unwrap();
    d.decode(A, &second, NOW, &mut out).unwrap();
    assert_eq!(c.sets_dropped_overflow.load(Ordering::Relaxed), 1);
    assert_eq!(d.cache().pending_usage().0, 1);
    assert_eq!(d.cache().flush_pending(), 1);
}

#[test]
fn snapshot_restores_templates_across_restart() {
    let (first, second) = stream(Protocol::NetflowV9);
    let d = Decoder::new(TemplateCacheConfig::default());
    let mut out = DecodeOutput::default();
    d.decode(A, &first, NOW, &mut out).unwrap();
    let saved = d.cache().snapshot();
    assert_eq!(saved.templates.len(), 2);
    // Through serde, as the collector stores it.
    let json = serde_json::to_string(&saved).unwrap();
    let back: CacheSnapshot = serde_json::from_str(&json).unwrap();
    let restarted = Decoder::new(TemplateCacheConfig::default());
    assert_eq!(restarted.cache().restore(&back), 0);
    out.clear();
    let info = restarted.decode(A, &second, NOW, &mut out).unwrap();
    assert_eq!(info.records, 4);
}

/// Builds IPFIX messages by hand for cases the encoder never writes.
fn ipfix(sets: &[(u16, Vec<u8>)]) -> Vec<u8> {
    let body: Vec<u8> = sets
        .iter()
        .flat_map(|(id, b)| {
            let mut s = id.to_be_bytes().to_vec();
            s.extend_from_slice(&((b.len() + 4) as u16).to_be_bytes());
            s.extend_from_slice(b);
            s
        })
        .collect();
    let mut m = vec![0, 10];
    m.extend_from_slice(&((body.len() + 16) as u16).to_be_bytes());
    m.extend_from_slice(&1_732_000_000u32.to_be_bytes());
    m.extend_from_slice(&0u32.to_be_bytes());
    m.extend_from_slice(&5u32.to_be_bytes());
    m.extend(body);
    m
}

fn be(words: &[u16]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_be_bytes()).collect()
}

#[test]
fn ipfix_withdrawal_forgets_template() {
    let d = Decoder::new(TemplateCacheConfig::default());
    let mut out = DecodeOutput::default();
    // Template 300: sourceIPv4Address(8)/4, octetDeltaCount(1)/4.
    let tpl = ipfix(&[(2, be(&[300, 2, 8, 4, 1, 4]))]);
    d.decode(A, &tpl, NOW, &mut out).unwrap();
    let data = ipfix(&[(300, vec![10, 0, 0, 1, 0, 0, 1, 0])]);
    assert_eq!(d.decode(A, &data, NOW, &mut out).unwrap().records, 1);
    assert_eq!(out.records[0].bytes, 256);
    let withdraw = ipfix(&[(2, be(&[300, 0]))]);
    d.decode(A, &withdraw, NOW, &mut out).unwrap();
    assert_eq!(d.decode(A, &data, NOW, &mut out).unwrap().held_sets, 1);
    assert_eq!(d.cache().counters.templates_withdrawn.load(Ordering::Relaxed), 1);
}

#[test]
fn ipfix_variable_length_and_enterprise_fields() {
    let d = Decoder::new(TemplateCacheConfig::default());
    let mut out = DecodeOutput::default();
    // interfaceName(82) varlen, enterprise 35632 field 100 varlen, packetDeltaCount(2)/2.
    let mut t = be(&[400, 3, 82, 0xffff, 0x8000 | 100, 0xffff]);
    t.extend_from_slice(&35632u32.to_be_bytes());
    t.extend(be(&[2, 2]));
    let mut rec = vec![3, b'e', b't', b'h'];
    // Three-byte length form for the enterprise value.
    rec.extend([255, 0, 2, 0xab, 0xcd]);
    rec.extend([0, 7]);
    let msg = ipfix(&[(2, t), (400, rec)]);
    let info = d.decode(A, &msg, NOW, &mut out).unwrap();
    assert_eq!(info.records, 1);
    let r = out.records[0];
    assert_eq!(r.packets, 7);
    let ent: Vec<_> = out.enterprise_of(&r).collect();
    assert_eq!(ent.len(), 1);
    assert_eq!((ent[0].0.pen, ent[0].0.id, ent[0].1), (35632, 100, &[0xab, 0xcd][..]));
}

#[test]
fn ipfix_selector_options_set_sampling_rate() {
    let d = Decoder::new(TemplateCacheConfig::default());
    let mut out = DecodeOutput::default();
    // Options template 500: scope selectorId(302)/2; samplingPacketInterval(305)/4,
    // samplingPacketSpace(306)/4. Data template 501: selectorId(302)/2, octets(1)/4.
    let ot = be(&[500, 3, 1, 302, 2, 305, 4, 306, 4]);
    let dt = be(&[501, 2, 302, 2, 1, 4]);
    let mut orec = vec![0, 7];
    orec.extend(1u32.to_be_bytes());
    orec.extend(99u32.to_be_bytes());
    let msg = ipfix(&[(3, ot), (2, dt), (500, orec), (501, vec![0, 7, 0, 0, 0, 100, 0, 9, 0, 0, 0, 1])]);
    d.decode(A, &msg, NOW, &mut out).unwrap();
    assert_eq!(out.options, vec![(out.options[0].0, OptionsInfo::Sampler { id: Some(7), rate: 100 })]);
    assert_eq!(out.records.len(), 2);
    assert_eq!(
        (out.records[0].sampling_rate, out.records[0].sampling_origin),
        (100, SamplingOrigin::SamplerTable)
    );
    // Selector 9 is unknown: unsampled, said so.
    assert_eq!(
        (out.records[1].sampling_rate, out.records[1].sampling_origin),
        (1, SamplingOrigin::Unsampled)
    );
}

#[test]
fn malformed_templates_are_typed_errors() {
    let d = Decoder::new(TemplateCacheConfig::default());
    let mut out = DecodeOutput::default();
    // Zero-length set: would loop forever if trusted.
    let mut zero = ipfix(&[]);
    zero.extend([1, 0, 0, 0, 0, 0]);
    zero[3] = zero.len() as u8;
    assert!(matches!(d.decode(A, &zero, NOW, &mut out), Err(DecodeError::BadSetLength { .. })));
    // A template whose fields are all zero-length.
    let empty = ipfix(&[(2, be(&[300, 1, 8, 0]))]);
    assert!(matches!(d.decode(A, &empty, NOW, &mut out), Err(DecodeError::BadTemplate { .. })));
    // A field count far beyond the set.
    let huge = ipfix(&[(2, be(&[300, 60000, 8, 4]))]);
    assert!(matches!(d.decode(A, &huge, NOW, &mut out), Err(DecodeError::Truncated { .. })));
    // Template id below 256.
    let low = ipfix(&[(2, be(&[255, 1, 8, 4]))]);
    assert!(matches!(d.decode(A, &low, NOW, &mut out), Err(DecodeError::BadTemplate { .. })));
    // Message length beyond the datagram, sets before it still decoded.
    let mut cut = ipfix(&[(2, be(&[300, 1, 8, 4]))]);
    cut[3] += 8;
    assert!(matches!(d.decode(A, &cut, NOW, &mut out), Err(DecodeError::BadMessageLength { .. })));
    assert_eq!(d.cache().template_count(), 1);
}
