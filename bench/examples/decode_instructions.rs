//! A fixed decoding workload for instruction counting: `valgrind --tool=callgrind`
//! counts instructions, not seconds, so the figure repeats on a busy shared machine.
//!
//! ```text
//! cargo build --release -p flowvision-bench --example decode_instructions
//! valgrind --tool=callgrind target/release/examples/decode_instructions ipfix 0   # setup only
//! valgrind --tool=callgrind target/release/examples/decode_instructions ipfix 10  # + 10 passes
//! ```
//!
//! Instructions per record = (Ir with P passes - Ir with 0 passes) / (P x records); the
//! records are the codec benchmark's (20,000, 20% IPv6, seed 7).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, missing_docs)]

use flowvision_bench::workload::{self, EXPORT_MS};
use flowvision_codec::{DecodeOutput, Decoder, Protocol, TemplateCacheConfig};
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};

const EXPORTER: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let protocol = Protocol::ALL
        .into_iter()
        .find(|p| Some(p.as_str()) == args.get(1).map(String::as_str))
        .expect("usage: decode_instructions netflow_v5|netflow_v9|ipfix|sflow_v5 PASSES");
    let passes: usize = args.get(2).and_then(|p| p.parse().ok()).expect("PASSES");
    let records = workload::records(20_000, 20, 7);
    let d = workload::encode(protocol, &records);
    let decoder = Decoder::new(TemplateCacheConfig::default());
    let mut out = DecodeOutput::default();
    for t in &d.templates {
        decoder.decode(EXPORTER, t, EXPORT_MS, &mut out).unwrap();
    }
    let mut n = 0usize;
    for _ in 0..passes {
        for dg in &d.data {
            out.clear();
            decoder.decode(EXPORTER, black_box(dg), EXPORT_MS, &mut out).unwrap();
            n += out.records.len();
        }
    }
    println!("{} {} records per pass, {n} decoded", protocol.as_str(), d.records);
}
