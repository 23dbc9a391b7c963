//! Codec throughput: FlowVision's decoder against the `netflow_parser` crate on the
//! same datagrams, in the same run, reported as records/s per core and as a ratio.
//!
//! Run: `cargo bench -p flowvision-bench --bench codec`. Medians come from criterion's
//! estimates; the ratio table is printed at the end.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, missing_docs)]

use criterion::{BenchmarkId, Criterion, Throughput};
use flowvision_bench::workload::{self, Datagrams, EXPORT_MS};
use flowvision_codec::{DecodeOutput, Decoder, Protocol, TemplateCacheConfig};
use netflow_parser::{NetflowPacket, NetflowParser};
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

const EXPORTER: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
const RECORDS: usize = 20_000;

fn primed_decoder(d: &Datagrams) -> Decoder {
    let decoder = Decoder::new(TemplateCacheConfig::default());
    let mut out = DecodeOutput::default();
    for t in &d.templates {
        decoder.decode(EXPORTER, t, EXPORT_MS, &mut out).unwrap();
    }
    decoder
}

fn flowvision_pass(decoder: &Decoder, d: &Datagrams, out: &mut DecodeOutput) -> usize {
    let mut n = 0;
    for dg in &d.data {
        out.clear();
        decoder.decode(EXPORTER, dg, EXPORT_MS, out).unwrap();
        n += out.records.len();
    }
    n
}

fn primed_peer(d: &Datagrams) -> NetflowParser {
    let mut p = NetflowParser::default();
    for t in &d.templates {
        let _ = black_box(p.parse_bytes(t));
    }
    p
}

fn peer_records(packets: &[NetflowPacket]) -> usize {
    packets
        .iter()
        .map(|p| match p {
            NetflowPacket::V5(v5) => v5.flowsets.len(),
            NetflowPacket::V9(v9) => v9
                .flowsets
                .iter()
                .map(|f| match &f.body {
                    netflow_parser::variable_versions::v9::FlowSetBody::Data(d) => d.fields.len(),
                    _ => 0,
                })
                .sum(),
            NetflowPacket::IPFix(ipfix) => ipfix
                .flowsets
                .iter()
                .map(|f| match &f.body {
                    netflow_parser::variable_versions::ipfix::FlowSetBody::Data(d) => d.fields.len(),
                    _ => 0,
                })
                .sum(),
            _ => 0,
        })
        .sum()
}

fn peer_pass(p: &mut NetflowParser, d: &Datagrams) -> usize {
    d.data.iter().map(|dg| peer_records(&p.parse_bytes(dg).packets)).sum()
}

fn benches(c: &mut Criterion) {
    let records = workload::records(RECORDS, 20, 7);
    for protocol in Protocol::ALL {
        let d = workload::encode(protocol, &records);
        let mut group = c.benchmark_group(protocol.as_str());
        group.throughput(Throughput::Elements(d.records as u64));
        group.sample_size(20);

        let decoder = primed_decoder(&d);
        let mut out = DecodeOutput::default();
        assert_eq!(flowvision_pass(&decoder, &d, &mut out), d.records, "flowvision decodes every record");
        group.bench_function(BenchmarkId::new("flowvision", d.records), |b| {
            b.iter(|| black_box(flowvision_pass(&decoder, &d, &mut out)))
        });

        if protocol == Protocol::SflowV5 {
            group.finish();
            continue; // netflow_parser has no sFlow decoder
        }
        let mut peer = primed_peer(&d);
        assert_eq!(peer_pass(&mut peer, &d), d.records, "netflow_parser decodes every record");
        group.bench_function(BenchmarkId::new("netflow_parser", d.records), |b| {
            b.iter(|| black_box(peer_pass(&mut peer, &d)))
        });
        group.finish();
    }
}

/// Criterion's median estimate (ns per iteration) of one benchmark.
fn median_ns(group: &str, bench: &str, n: usize) -> Option<f64> {
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let path = dir.join("criterion").join(group).join(bench).join(n.to_string()).join("new/estimates.json");
    let text = std::fs::read_to_string(path).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v["median"]["point_estimate"].as_f64()
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    benches(&mut c);
    c.final_summary();
    let records = workload::records(RECORDS, 20, 7);
    println!("\nprotocol     flowvision rec/s   netflow_parser rec/s   ratio");
    for protocol in Protocol::ALL {
        let n = workload::encode(protocol, &records).records;
        let rate = |ns: f64| n as f64 / (ns / 1e9);
        match (
            median_ns(protocol.as_str(), "flowvision", n),
            median_ns(protocol.as_str(), "netflow_parser", n),
        ) {
            (Some(a), Some(b)) => {
                println!("{:<12} {:>17.0} {:>22.0} {:>7.2}x", protocol.as_str(), rate(a), rate(b), b / a)
            }
            (Some(a), None) => println!("{:<12} {:>17.0} {:>22} {:>8}", protocol.as_str(), rate(a), "-", "-"),
            _ => {}
        }
    }
}
