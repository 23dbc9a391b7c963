//! Builds the seed corpora of every fuzz target into `fuzz/corpus/<target>/` (which is
//! gitignored): UDP payloads, frames and capture files from the shared fixture corpus
//! (`../shared/fixtures` beside the checkout, or `FLOWVISION_FIXTURES`), plus what the
//! codec's own encoders write. Fixture bytes never enter the repository.
//!
//! `cargo run --release --example seed_corpus` from `collector/codec/fuzz`.

#[path = "../../tests/fuzz_harness/mod.rs"]
mod harness;

use flowvision_capture::{CaptureFormat, DatagramReader, FrameReader};
use flowvision_codec::encode::sflow::{SflowEncoder, SflowSample};
use flowvision_codec::encode::{TemplateEncoder, TemplateEncoderConfig, V5Encoder};
use flowvision_codec::{detect, DecodeOutput, Decoder, Detected, FlowRecord, InterfaceCounters, Protocol};
use std::collections::{BTreeMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

/// Largest single seed; libFuzzer's -max_len follows the largest seed.
const MAX_SEED: usize = 16 * 1024;
/// Seeds per target (the fuzzer minimizes further with -merge if wanted).
const MAX_PER_TARGET: usize = 800;

struct Corpus {
    root: PathBuf,
    seen: HashSet<(String, u64)>,
    counts: BTreeMap<String, usize>,
}

impl Corpus {
    fn add(&mut self, target: &str, bytes: &[u8]) {
        let bytes = &bytes[..bytes.len().min(MAX_SEED)];
        if bytes.is_empty() || *self.counts.get(target).unwrap_or(&0) >= MAX_PER_TARGET {
            return;
        }
        let hash = fnv(bytes);
        if !self.seen.insert((target.to_owned(), hash)) {
            return;
        }
        let dir = self.root.join(target);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("seed-{hash:016x}")), bytes).unwrap();
        *self.counts.entry(target.to_owned()).or_default() += 1;
    }
}

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3))
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            files(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn target_of(payload: &[u8]) -> Option<&'static str> {
    match detect(payload).ok()? {
        Detected::NetflowV5 => Some("netflow_v5"),
        Detected::NetflowV9 => Some("netflow_v9"),
        Detected::Ipfix => Some("ipfix"),
        Detected::SflowV5 => Some("sflow"),
    }
}

/// One fixture file's datagrams with their sources (raw files: one payload, source A).
fn datagrams(bytes: &[u8]) -> Vec<(IpAddr, Vec<u8>)> {
    if CaptureFormat::detect(bytes).is_none() {
        return vec![(harness::EXPORTER_A, bytes.to_vec())];
    }
    let Ok(mut r) = DatagramReader::new(bytes) else { return Vec::new() };
    let (all, _) = r.read_all();
    all.into_iter().map(|d| (d.src.ip(), d.payload)).collect()
}

/// A stateful sequence: a file's datagrams with their exporters mapped onto A/B.
fn sequence(list: &[(IpAddr, Vec<u8>)], swap: bool) -> Vec<u8> {
    let mut sources: Vec<IpAddr> = Vec::new();
    let mut out = Vec::new();
    for (i, (src, payload)) in list.iter().take(24).enumerate() {
        if !sources.contains(src) {
            sources.push(*src);
        }
        let b = (sources.iter().position(|s| s == src).unwrap_or(0) % 2 == 1) ^ swap;
        harness::frame(b, i % 2, u8::from(i % 5 == 4), payload, &mut out);
        if out.len() > MAX_SEED {
            break;
        }
    }
    out
}

fn records(protocol: Protocol, n: usize) -> Vec<FlowRecord> {
    (0..n)
        .map(|i| {
            let mut r = FlowRecord::new(protocol, harness::EXPORTER_A);
            if i % 3 == 2 {
                r.src_addr = Some(IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, i as u16)));
                r.dst_addr = Some(IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 1)));
            } else {
                r.src_addr = Some(IpAddr::V4(Ipv4Addr::new(10, 0, (i >> 8) as u8, i as u8)));
                r.dst_addr = Some(IpAddr::V4(Ipv4Addr::new(10, 1, 0, 1)));
            }
            r.src_port = 1024 + i as u16;
            r.dst_port = 443;
            r.proto = 6;
            r.tcp_flags = 0x1b;
            r.bytes = 1500 * (i as u64 + 1);
            r.packets = i as u64 + 1;
            r.in_if = 3;
            r.out_if = 7;
            r.vlan = 100;
            r.flow_start_ms = Some(harness::NOW_MS - 5000);
            r.flow_end_ms = Some(harness::NOW_MS - 1000);
            r
        })
        .collect()
}

fn encoder_seeds(c: &mut Corpus) {
    let now = harness::NOW_MS;
    let mut v5 = V5Encoder::new(0, 1, 100);
    let mut all = Vec::new();
    for n in [1, 5, 30] {
        v5.encode(now, 3_600_000, &records(Protocol::NetflowV5, n), |d| all.push(d.to_vec()));
    }
    for (protocol, target) in [(Protocol::NetflowV9, "netflow_v9"), (Protocol::Ipfix, "ipfix")] {
        let mut cfg = TemplateEncoderConfig::new(protocol, 7);
        cfg.template_refresh_datagrams = 3;
        cfg.max_datagram = 600;
        let mut enc = TemplateEncoder::new(cfg);
        let mut stream = Vec::new();
        for n in [0, 1, 4, 9, 2] {
            enc.encode(now, 3_600_000, &records(protocol, n), |d| stream.push(d.to_vec()));
        }
        for d in &stream {
            c.add(target, d);
        }
        all.extend(stream);
    }
    let mut sf = SflowEncoder::new(IpAddr::V4(Ipv4Addr::new(10, 9, 9, 9)), 2);
    let counters = InterfaceCounters { if_index: 3, if_speed: 10_000_000_000, ..Default::default() };
    let recs = records(Protocol::SflowV5, 6);
    let samples = recs.iter().map(SflowSample::Flow).chain([SflowSample::Counters(&counters)]);
    sf.encode(60_000, samples, |d| all.push(d.to_vec()));
    for d in &all {
        if let Some(t) = target_of(d) {
            c.add(t, d);
        }
    }
    // The same stream from both exporters, interleaved: same template ids, two scopes.
    let list: Vec<(IpAddr, Vec<u8>)> = all.iter().map(|d| (harness::EXPORTER_A, d.clone())).collect();
    let mut both = Vec::new();
    for (i, (_, d)) in list.iter().enumerate() {
        harness::frame(false, 0, 0, d, &mut both);
        harness::frame(true, 1, u8::from(i % 4 == 3), d, &mut both);
    }
    c.add("any_datagram", &both);
    c.add("any_datagram", &sequence(&list, false));
    snapshot_seed(c, &list);
}

/// The JSON snapshot of a cache that decoded `list`.
fn snapshot_seed(c: &mut Corpus, list: &[(IpAddr, Vec<u8>)]) {
    let decoder = Decoder::new(harness::small_cache());
    let mut out = DecodeOutput::default();
    for (src, d) in list {
        out.clear();
        let _ = decoder.decode(*src, d, harness::NOW_MS, &mut out);
    }
    let snap = decoder.cache().snapshot();
    if !snap.templates.is_empty() {
        let json = serde_json::to_vec(&snap).unwrap();
        if json.len() <= MAX_SEED {
            c.add("template_snapshot", &json);
        }
    }
}

fn main() {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let fixtures = std::env::var_os("FLOWVISION_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.join("../../../../shared/fixtures"));
    let mut c = Corpus { root: manifest.join("corpus"), seen: HashSet::new(), counts: BTreeMap::new() };
    encoder_seeds(&mut c);
    let mut list = Vec::new();
    files(&fixtures, &mut list);
    // Raw payload files of one directory are often one test's datagrams in feed order
    // (templates in one file, data in the next): they make stateful seeds together.
    let mut by_dir: BTreeMap<PathBuf, Vec<(IpAddr, Vec<u8>)>> = BTreeMap::new();
    for path in &list {
        let Ok(bytes) = std::fs::read(path) else { continue };
        let is_capture = CaptureFormat::detect(&bytes).is_some();
        if is_capture {
            c.add("capture", &bytes);
            if let Ok(mut frames) = FrameReader::new(&bytes[..]) {
                for _ in 0..50 {
                    match frames.next_frame() {
                        Ok(Some(f)) => {
                            let data = f.data[..f.data.len().min(256)].to_vec();
                            c.add("packet", &data);
                            // Without layer 2, for parse_ip.
                            if f.data.len() > 14 {
                                c.add("packet", &f.data[14..f.data.len().min(270)]);
                            }
                        }
                        _ => break,
                    }
                }
            }
        }
        let dgrams = datagrams(&bytes);
        let mut flow = Vec::new();
        for (src, payload) in dgrams {
            if let Some(t) = target_of(&payload) {
                c.add(t, &payload);
                flow.push((src, payload));
            }
        }
        if !is_capture && flow.len() == 1 {
            let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
            by_dir.entry(dir).or_default().extend(flow.iter().cloned());
        }
        if !flow.is_empty() && (is_capture || flow.len() == 1) {
            c.add("any_datagram", &sequence(&flow, false));
            if flow.len() > 1 {
                c.add("any_datagram", &sequence(&flow, true));
            }
            snapshot_seed(&mut c, &flow);
        }
    }
    for flow in by_dir.values().filter(|f| f.len() > 1) {
        for chunk in flow.chunks(8) {
            c.add("any_datagram", &sequence(chunk, false));
            snapshot_seed(&mut c, chunk);
        }
    }
    for (target, n) in &c.counts {
        println!("{target}: {n} seeds");
    }
}
