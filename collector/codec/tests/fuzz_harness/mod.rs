//! What each fuzz target does with its input, shared by the cargo-fuzz targets
//! (`collector/codec/fuzz/fuzz_targets/*.rs` include this file by path) and by the
//! `fuzz_regressions` integration test, so a saved crashing input is replayed through
//! exactly the code that found it.
//!
//! Every function must return normally for any input: malformed bytes are a typed
//! error, never a panic. The asserts are invariants whose failure is a bug too.
#![allow(dead_code)]

use flowvision_capture::DatagramReader;
use flowvision_codec::{
    format_rfc3339_ms, ipfix, netflow_v5, netflow_v9, packet, sflow, CacheSnapshot, DatagramInfo,
    DecodeOutput, Decoder, Protocol, TemplateCache, TemplateCacheConfig,
};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

/// The collector clock handed to the decoders (any fixed value will do).
pub const NOW_MS: i64 = 1_732_000_000_000;
/// Exporter A of the stateful target (and the UDP source of the single-datagram ones).
pub const EXPORTER_A: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
/// Exporter B: another address family, same template ids.
pub const EXPORTER_B: IpAddr = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1));
/// Most datagrams `any_datagram` splits one input into.
pub const MAX_DATAGRAMS: usize = 64;

/// Small limits, so that fuzzing reaches eviction, expiry and template ageing.
pub fn small_cache() -> TemplateCacheConfig {
    TemplateCacheConfig {
        pending_max_bytes: 8 * 1024,
        pending_max_age_ms: 20_000,
        template_lifetime_ms: Some(45_000),
    }
}

/// Checks what every successful or failed decode must satisfy.
fn check_output(out: &DecodeOutput) {
    for rec in &out.records {
        let (start, count) = rec.enterprise;
        let start = start as usize;
        let fields = out.enterprise_fields.get(start..start + usize::from(count));
        assert!(fields.is_some(), "enterprise range {start}+{count} outside {}", out.enterprise_fields.len());
        // What the collector does with every record's times next.
        for ms in [rec.flow_start_ms, rec.flow_end_ms].into_iter().flatten() {
            let _ = format_rfc3339_ms(ms);
        }
    }
    for f in &out.enterprise_fields {
        let end = f.offset as usize + f.len as usize;
        assert!(end <= out.enterprise_bytes.len(), "enterprise value past its buffer");
    }
}

/// On success the info counts exactly the records that were appended.
fn check_counts(info: &DatagramInfo, out: &DecodeOutput) {
    let expected = info.records as usize + info.released_records as usize;
    assert_eq!(out.records.len(), expected, "{info:?}");
}

/// NetFlow v5 decoder on arbitrary bytes (the version field is not checked by it).
pub fn netflow_v5(data: &[u8]) {
    let mut out = DecodeOutput::default();
    if let Ok(info) = netflow_v5::decode(EXPORTER_A, data, &mut out) {
        check_counts(&info, &out);
    }
    check_output(&out);
}

/// NetFlow v9 decoder on arbitrary bytes, twice through one cache: the second pass
/// decodes data sets with the templates the first pass learned.
pub fn netflow_v9(data: &[u8]) {
    let decoder = Decoder::new(small_cache());
    for _ in 0..2 {
        let mut out = DecodeOutput::default();
        if let Ok(info) = netflow_v9::decode(&decoder, EXPORTER_A, data, NOW_MS, &mut out) {
            check_counts(&info, &out);
        }
        check_output(&out);
    }
    check_pending(&decoder);
}

/// IPFIX decoder on arbitrary bytes, twice through one cache (see [`netflow_v9`]).
pub fn ipfix(data: &[u8]) {
    let decoder = Decoder::new(small_cache());
    for _ in 0..2 {
        let mut out = DecodeOutput::default();
        if let Ok(info) = ipfix::decode(&decoder, EXPORTER_A, data, NOW_MS, &mut out) {
            check_counts(&info, &out);
        }
        check_output(&out);
    }
    check_pending(&decoder);
}

/// sFlow v5 decoder on arbitrary bytes.
pub fn sflow(data: &[u8]) {
    let mut out = DecodeOutput::default();
    if let Ok(info) = sflow::decode(EXPORTER_A, data, &mut out) {
        assert_eq!(out.records.len(), info.records as usize);
    }
    check_output(&out);
}

/// The held-set budget holds whatever came in, also in memory really used: a held set
/// costs well over 64 bytes however short its body, so more sets than that allows
/// means the budget is not being charged for them.
fn check_pending(decoder: &Decoder) {
    let (sets, bytes) = decoder.cache().pending_usage();
    let max = decoder.cache().config().pending_max_bytes;
    assert!(bytes <= max, "{bytes} bytes held");
    assert!(sets * 64 <= max, "{sets} sets held in a budget of {max} bytes");
}

/// One datagram of an `any_datagram` input.
#[derive(Debug, Clone, Copy)]
pub struct Step<'a> {
    /// UDP source.
    pub exporter: IpAddr,
    /// Which of two decoders sharing one cache (two workers) decodes it.
    pub worker: usize,
    /// Run the periodic cache maintenance before it.
    pub expire: bool,
    /// Collector seconds elapsed since the previous datagram.
    pub advance_s: i64,
    /// The UDP payload.
    pub datagram: &'a [u8],
}

/// Splits an `any_datagram` input: repeated `control: u8, length: u16 BE, bytes`.
/// Control bit 0 picks the exporter, bit 1 the worker, bit 2 asks for cache
/// maintenance and bits 3-7 advance the clock by 0-31 s. A length past the end takes
/// what is left.
pub fn steps(data: &[u8]) -> Vec<Step<'_>> {
    let mut rest = data;
    let mut out = Vec::new();
    while let [control, hi, lo, tail @ ..] = rest {
        if out.len() == MAX_DATAGRAMS {
            break;
        }
        let len = usize::from(u16::from_be_bytes([*hi, *lo])).min(tail.len());
        let (datagram, next) = tail.split_at(len);
        out.push(Step {
            exporter: if control & 1 == 0 { EXPORTER_A } else { EXPORTER_B },
            worker: usize::from(control >> 1 & 1),
            expire: control & 4 != 0,
            advance_s: i64::from(control >> 3),
            datagram,
        });
        rest = next;
    }
    out
}

/// Writes one datagram in the `any_datagram` framing (used to build seeds).
pub fn frame(exporter_b: bool, worker: usize, advance_s: u8, datagram: &[u8], out: &mut Vec<u8>) {
    let control = u8::from(exporter_b) | (worker as u8 & 1) << 1 | (advance_s.min(31) << 3);
    let len = datagram.len().min(usize::from(u16::MAX));
    out.push(control);
    out.extend_from_slice(&(len as u16).to_be_bytes());
    out.extend_from_slice(&datagram[..len]);
}

/// The whole decoder, stateful: several datagrams from two exporters through two
/// workers sharing one small template cache, so templates, options and held sets of
/// one datagram meet the data of the next (and the same template ids from the other
/// exporter). Then the cache goes through a JSON snapshot and a restore, and the
/// restored cache must say the same and decode the same datagrams without panicking.
pub fn any_datagram(data: &[u8]) {
    let steps = steps(data);
    let first = Decoder::new(small_cache());
    let workers = [first.clone(), first];
    let mut now = NOW_MS;
    let mut out = DecodeOutput::default();
    for step in &steps {
        now += step.advance_s * 1000;
        let decoder = &workers[step.worker];
        if step.expire {
            decoder.cache().expire(now);
        }
        out.clear();
        let result = decoder.decode(step.exporter, step.datagram, now, &mut out);
        if let Ok(info) = result {
            check_counts(&info, &out);
        }
        check_output(&out);
        check_pending(decoder);
    }

    // Persistence: what was learned survives a JSON round trip unchanged.
    let snapshot = workers[0].cache().snapshot();
    let json = serde_json::to_string(&snapshot).unwrap();
    let back: CacheSnapshot = serde_json::from_str(&json).unwrap();
    assert_eq!(sorted(&back), sorted(&snapshot));
    let restored = Decoder::new(small_cache());
    assert_eq!(restored.cache().restore(&back), 0, "a learned template failed to compile again");
    assert_eq!(sorted(&restored.cache().snapshot()), sorted(&snapshot));
    for step in &steps {
        out.clear();
        let _ = restored.decode(step.exporter, step.datagram, now, &mut out);
        check_output(&out);
    }
}

/// A snapshot's content in a canonical order (the cache's own order is not total).
fn sorted(s: &CacheSnapshot) -> (Vec<String>, Vec<String>) {
    let mut t: Vec<String> = s.templates.iter().map(|t| format!("{t:?}")).collect();
    let mut o: Vec<String> = s.options.iter().map(|o| format!("{o:?}")).collect();
    t.sort();
    o.sort();
    (t, o)
}

/// The L2-L4 parser through every entry point.
pub fn packet(data: &[u8]) {
    for s in [
        packet::parse_ethernet(data),
        packet::parse_ip(data),
        packet::parse_ipv4(data),
        packet::parse_ipv6(data),
    ] {
        if s.fragment {
            // A non-first fragment has no transport header.
            assert_eq!((s.src_port, s.dst_port, s.tcp_flags), (0, 0, 0), "{s:?}");
        }
    }
}

/// A cache snapshot with arbitrary content (the input is JSON text): restore it, then
/// decode a data set for each restored template, built from the input bytes, and
/// check that a second snapshot round trip is stable.
pub fn template_snapshot(data: &[u8]) {
    let Ok(snapshot) = serde_json::from_slice::<CacheSnapshot>(data) else {
        return;
    };
    let cache = Arc::new(TemplateCache::new(small_cache()));
    let skipped = cache.restore(&snapshot);
    assert!(skipped <= snapshot.templates.len());
    let again = cache.snapshot();
    let json = serde_json::to_string(&again).unwrap();
    let back: CacheSnapshot = serde_json::from_str(&json).unwrap();
    assert_eq!(sorted(&back), sorted(&again));
    let other = TemplateCache::new(small_cache());
    assert_eq!(other.restore(&back), 0, "a restored template failed to compile again");
    assert_eq!(sorted(&other.snapshot()), sorted(&again));

    let decoder = Decoder::with_cache(cache);
    // Record bytes: the input itself, repeated (zeros, 0xff varlen markers and all).
    let body: Vec<u8> = data.iter().copied().cycle().take(600).collect();
    let mut out = DecodeOutput::default();
    for saved in snapshot.templates.iter().take(32) {
        let Some(datagram) = data_datagram(saved.scope.protocol, saved.scope.domain, saved.id, &body) else {
            continue;
        };
        out.clear();
        let _ = decoder.decode(saved.scope.exporter, &datagram, NOW_MS, &mut out);
        check_output(&out);
    }
}

/// A v9 or IPFIX datagram with one data set for template `id`.
fn data_datagram(protocol: Protocol, domain: u32, id: u16, body: &[u8]) -> Option<Vec<u8>> {
    let set_len = (body.len() + 4) as u16;
    let mut d = Vec::new();
    match protocol {
        Protocol::NetflowV9 => {
            d.extend_from_slice(&9u16.to_be_bytes());
            d.extend_from_slice(&1u16.to_be_bytes());
            d.extend_from_slice(&3_600_000u32.to_be_bytes());
            d.extend_from_slice(&((NOW_MS / 1000) as u32).to_be_bytes());
            d.extend_from_slice(&1u32.to_be_bytes());
            d.extend_from_slice(&domain.to_be_bytes());
        }
        Protocol::Ipfix => {
            d.extend_from_slice(&10u16.to_be_bytes());
            d.extend_from_slice(&(16 + set_len).to_be_bytes());
            d.extend_from_slice(&((NOW_MS / 1000) as u32).to_be_bytes());
            d.extend_from_slice(&1u32.to_be_bytes());
            d.extend_from_slice(&domain.to_be_bytes());
        }
        Protocol::NetflowV5 | Protocol::SflowV5 => return None,
    }
    d.extend_from_slice(&id.to_be_bytes());
    d.extend_from_slice(&set_len.to_be_bytes());
    d.extend_from_slice(body);
    Some(d)
}

/// The capture reader (pcap or pcapng, any link type, fragments) on arbitrary bytes;
/// every datagram it yields goes through the decoder.
pub fn capture(data: &[u8]) {
    let Ok(mut reader) = DatagramReader::new(data) else {
        return;
    };
    let decoder = Decoder::new(small_cache());
    let mut out = DecodeOutput::default();
    let mut datagrams = 0usize;
    while let Ok(Some(d)) = reader.next_datagram() {
        datagrams += 1;
        // Each datagram consumes input: more than the input has bytes is a loop.
        assert!(datagrams <= data.len(), "more datagrams than input bytes");
        out.clear();
        let _ = decoder.decode(d.src.ip(), d.payload, d.timestamp_ns / 1_000_000, &mut out);
        check_output(&out);
    }
    // Once finished, the reader stays finished.
    assert!(matches!(reader.next_datagram(), Ok(None)));
    // The documented accounting: every frame is a datagram, part of one, or skipped.
    let s = reader.stats();
    assert!(s.datagrams <= s.frames, "{s:?}");
    assert_eq!(s.frames + s.reassembled, s.datagrams + s.fragments + s.skipped.total(), "{s:?}");
}
