//! What the insights' per-batch host features cost the collector's writer: one batch
//! of the ingest harness's shape (65,536 NetFlow v5-like records from 16 exporters,
//! about a million source addresses, 256 destinations), built into feature rows
//! (`HostFeatureSet::build`, `FEATURE_HOSTS` 16) and, apart, observed by the beacon
//! tracker.
//!
//! Run: `cargo bench -p flowvision-bench --bench features`. The figure that matters is
//! nanoseconds per record against the collector's whole cost per flow (about 900 ns
//! without the features, docs/benchmarks.md).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, missing_docs)]

use criterion::{Criterion, Throughput};
use flowvision_bench::workload::{self, EXPORT_MS};
use flowvision_insights::beacon::BeaconTracker;
use flowvision_insights::features::InternalNetworks;
use flowvision_insights::HostFeatureSet;
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};

const RECORDS: usize = 65_536;
const EXPORTERS: u8 = 16;

fn batch() -> Vec<(flowvision_codec::FlowRecord, i64)> {
    let mut records = workload::records(RECORDS, 0, 42);
    for (i, r) in records.iter_mut().enumerate() {
        r.exporter = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1 + (i % usize::from(EXPORTERS)) as u8));
    }
    // Received a second after the export, as the harness's datagrams are.
    records.into_iter().map(|r| (r, EXPORT_MS + 1_000)).collect()
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    let rows = batch();
    let mut g = c.benchmark_group("features");
    g.throughput(Throughput::Elements(RECORDS as u64));
    g.sample_size(20);
    let mut set = HostFeatureSet::new(InternalNetworks::default());
    g.bench_function("host_features_top16", |b| {
        b.iter(|| {
            set.build(rows.iter().map(|(r, t)| (r, *t)), 16);
            black_box(set.len())
        })
    });
    set.build(rows.iter().map(|(r, t)| (r, *t)), 16);
    println!("feature rows per batch: {} ({:.4} per record)", set.len(), set.len() as f64 / RECORDS as f64);
    g.bench_function("beacon_tracker", |b| {
        b.iter(|| {
            let mut t = BeaconTracker::new(InternalNetworks::default(), 250_000);
            let mut n = 0;
            for (r, at) in &rows {
                n += usize::from(t.observe(r, *at).is_some());
            }
            black_box(n)
        })
    });
    g.finish();
    c.final_summary();
}
