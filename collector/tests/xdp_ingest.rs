//! XDP/AF_XDP ingest end-to-end, as root, on a veth pair into a network namespace:
//!
//! - every fixture capture and a simulator run (NetFlow v5/v9, IPFIX, sFlow), sent from
//!   inside the namespace to the host end, is decoded and stored exactly as the
//!   offline decoder reads it, and the XDP counters show the AF_XDP path carried every
//!   datagram that fits in one frame;
//! - datagrams larger than the MTU (IP fragments) arrive through the kernel UDP socket;
//! - the program is detached when the collector exits.
//!
//! Not root: skipped with a printed reason.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod daemon_common;
mod xdp_common;

use daemon_common::{family_sum, Collector};
use flowvision_codec::encode::{TemplateEncoder, TemplateEncoderConfig};
use flowvision_codec::{DecodeOutput, Decoder, FlowRecord, Protocol, TemplateCacheConfig};
use flowvision_sim::{Datagram, Scenario, SimError, Simulation};
use flowvision_tests::fixtures::{capture_files, row_of, stored_rows, Row};
use flowvision_tests::pg::PgCluster;
use flowvision_tests::replay::{read_capture, Captured, Replayer};
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;
use xdp_common::Netns;

/// Largest UDP payload that fits a 1500-byte MTU in IPv4 without fragmenting.
const UNFRAGMENTED_MAX: usize = 1500 - 20 - 8;

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

/// One source of datagrams for the run: a fixture file, the simulator, the jumbo stream.
struct Stream {
    name: String,
    datagrams: Vec<Captured>,
}

fn simulator_stream() -> (Stream, u64) {
    let mut scenario = Scenario { seed: Some(11), rate: 50_000.0, count: Some(6_000), ..Scenario::default() };
    scenario.diurnal.enabled = false;
    let plan = scenario.resolve(now_ms(), 11).unwrap();
    let mut sim = Simulation::new(plan).unwrap();
    let mut datagrams = Vec::new();
    let mut records = 0u64;
    let mut sink = |d: &Datagram<'_>| -> Result<(), SimError> {
        records += d.records.len() as u64;
        datagrams.push(Captured { source: d.src.ip(), payload: d.payload.to_vec() });
        Ok(())
    };
    sim.run(&mut sink).unwrap();
    (Stream { name: "simulator".into(), datagrams }, records)
}

/// IPFIX datagrams of ~6 kB: each leaves the namespace as IP fragments.
fn jumbo_stream() -> Stream {
    let records: Vec<FlowRecord> = (0..2000u32)
        .map(|i| {
            let mut r = FlowRecord::new(Protocol::Ipfix, IpAddr::V4(Ipv4Addr::LOCALHOST));
            r.src_addr = Some(IpAddr::V4(Ipv4Addr::from(0x0a10_0000 | i)));
            r.dst_addr = Some(IpAddr::V4(Ipv4Addr::new(198, 51, 100, (i % 250) as u8)));
            r.src_port = 1024 + i as u16;
            r.dst_port = 53;
            r.proto = 17;
            r.packets = 1 + u64::from(i % 5);
            r.bytes = 7_000_000 + u64::from(i);
            r.flow_start_ms = Some(now_ms() - 2000);
            r.flow_end_ms = Some(now_ms() - 1000);
            r
        })
        .collect();
    let mut cfg = TemplateEncoderConfig::new(Protocol::Ipfix, 77);
    cfg.max_datagram = 6000;
    let mut enc = TemplateEncoder::new(cfg);
    let mut datagrams = Vec::new();
    enc.encode(now_ms(), 0, &records, |d| {
        datagrams.push(Captured { source: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 77)), payload: d.to_vec() })
    });
    Stream { name: "jumbo IPFIX".into(), datagrams }
}

#[test]
fn xdp_carries_fixtures_and_simulator_output_fragments_take_the_kernel_path() {
    if let Some(why) = xdp_common::skip_reason() {
        println!("SKIPPED: {why}");
        return;
    }
    let mut streams: Vec<Stream> = capture_files()
        .unwrap()
        .iter()
        .map(|f| Stream { name: f.display().to_string(), datagrams: read_capture(f).unwrap() })
        .collect();
    let fixture_files = streams.len();
    let (sim, sim_records) = simulator_stream();
    streams.push(sim);
    let jumbo = jumbo_stream();
    assert!(jumbo.datagrams.iter().all(|d| d.payload.len() > UNFRAGMENTED_MAX));
    streams.push(jumbo);

    // Every (stream, original exporter) gets its own namespace address, so templates
    // of unrelated captures never meet; the offline reference decodes the same
    // datagrams in the same order with the same exporter addresses.
    let exporters: u32 = streams
        .iter()
        .map(|s| s.datagrams.iter().map(|d| d.source).collect::<std::collections::BTreeSet<_>>().len() as u32)
        .sum();
    let net = match Netns::create("a", exporters) {
        Ok(n) => n,
        Err(e) => panic!("could not build the veth/netns test network as root: {e}"),
    };
    let pg = PgCluster::start().unwrap();
    let state = tempfile::tempdir().unwrap();
    let collector = Collector::start(
        pg.url(),
        state.path(),
        None,
        &[
            ("INGEST_MODE", "auto"),
            ("XDP_INTERFACE", &net.host),
            ("COLLECTOR_WORKERS", "1"),
            // Deep rings: a debug-build worker on shared cores stalls for a while now
            // and then, and the kernel path's socket buffer absorbs as much.
            ("XDP_RING_SIZE", "16384"),
            ("XDP_UMEM_FRAMES", "32768"),
        ],
    );
    let log = collector.log_text();
    if log.contains("program not built") {
        println!("SKIPPED: the collector was built without clang, so it has no XDP program:\n{log}");
        return;
    }
    assert!(log.contains(&format!("ingest: XDP on {}", net.host)), "XDP not set up:\n{log}");
    assert!(net.xdp_attached(), "no XDP program on {}", net.host);
    let target = SocketAddr::from((net.host_ip, collector.port));

    let offline = Decoder::new(TemplateCacheConfig::default());
    let mut out = DecodeOutput::default();
    let mut expected: BTreeMap<Row, usize> = BTreeMap::new();
    let mut sim_decoded = 0u64;
    let mut next_base = u32::from(net.sender_base);
    let mut plan = Vec::new();
    let (mut whole, mut fragmented) = (0u64, 0u64);
    for s in &streams {
        let mapped = s.datagrams.clone();
        // Distinct sources in order of first appearance, as Replayer assigns them.
        let mut order: Vec<IpAddr> = Vec::new();
        for d in &s.datagrams {
            if !order.contains(&d.source) {
                order.push(d.source);
            }
        }
        let now = now_ms();
        for d in &mapped {
            let pos = order.iter().position(|o| *o == d.source).unwrap() as u32;
            let src = IpAddr::V4(Ipv4Addr::from(next_base + 1 + pos));
            out.clear();
            let _ = offline.decode(src, &d.payload, now, &mut out);
            for r in &out.records {
                *expected.entry(row_of(r)).or_default() += 1;
            }
            if s.name == "simulator" {
                sim_decoded += out.records.len() as u64;
            }
            if d.payload.len() > UNFRAGMENTED_MAX {
                fragmented += 1;
            } else {
                whole += 1;
            }
        }
        plan.push((Ipv4Addr::from(next_base), mapped));
        next_base += order.len() as u32;
    }
    assert_eq!(sim_decoded, sim_records, "the offline decoder reads the simulator's records back");
    // The simulator's stream once more, over IPv6 from one namespace address.
    let v6_source = IpAddr::V6(net.peer_ip6);
    let v6_datagrams: Vec<Vec<u8>> = streams
        .iter()
        .find(|s| s.name == "simulator")
        .map(|s| s.datagrams.iter().map(|d| d.payload.clone()).filter(|p| p.len() <= 1500 - 40 - 8).collect())
        .unwrap();
    let now = now_ms();
    for p in &v6_datagrams {
        out.clear();
        let _ = offline.decode(v6_source, p, now, &mut out);
        for r in &out.records {
            *expected.entry(row_of(r)).or_default() += 1;
        }
    }
    let v6 = v6_datagrams.len() as u64;
    let v6_target = SocketAddr::new(IpAddr::V6(net.host_ip6), collector.port);
    let sent: u64 = net.in_ns(move || {
        let mut sent = 0u64;
        for (base, datagrams) in plan {
            // Paced: the point is the path, not the peak rate (the benchmark does that).
            let mut replayer = Replayer::new(base, 5_000);
            sent += replayer.send(&datagrams, target).unwrap() as u64;
        }
        let socket = std::net::UdpSocket::bind(SocketAddr::new(v6_source, 0)).unwrap();
        for (i, p) in v6_datagrams.iter().enumerate() {
            socket.send_to(p, v6_target).unwrap();
            if i % 20 == 19 {
                std::thread::sleep(Duration::from_millis(4));
            }
        }
        sent + v6_datagrams.len() as u64
    });
    assert_eq!(sent, whole + fragmented + v6);
    let whole = whole + v6;
    let expected_rows: usize = expected.values().sum();
    collector.wait_metrics(Duration::from_secs(180), "every datagram received and row stored", |m| {
        m.get("flowvision_datagrams_received_total").copied() == Some(sent)
            && m.get("flowvision_store_rows_stored_total").copied() == Some(expected_rows as u64)
    });
    let m = collector.metrics();
    let mut db = pg.connect().unwrap();
    let stored = stored_rows(&mut db).unwrap();
    let missing: Vec<_> = expected.iter().filter(|(k, n)| stored.get(*k) != Some(n)).take(5).collect();
    assert!(missing.is_empty(), "rows differ from the offline decode, e.g. {missing:?}");
    assert_eq!(stored, expected);

    // Which path carried what: every datagram that fits a frame went through AF_XDP,
    // the fragmented ones through the kernel (the program passed their fragments).
    let xdp_datagrams = m["flowvision_xdp_datagrams_total"];
    assert_eq!(xdp_datagrams, whole, "AF_XDP carried every unfragmented datagram: {m:#?}");
    assert_eq!(m["flowvision_xdp_frames_total"], whole);
    assert!(m["flowvision_xdp_packets_redirected_total"] >= whole);
    assert!(
        m[r#"flowvision_xdp_packets_passed_total{reason="fragment"}"#] >= 2 * fragmented,
        "fragments passed to the kernel: {m:#?}"
    );
    assert_eq!(m["flowvision_xdp_frames_bad_checksum_total"], 0);
    assert_eq!(m["flowvision_xdp_frames_malformed_total"], 0);
    assert_eq!(m["flowvision_xdp_rx_ring_full_total"], 0);
    assert_eq!(m["flowvision_xdp_rx_dropped_total"], 0);
    assert_eq!(m["flowvision_kernel_drops_total"], 0);
    println!(
        "XDP on {}: {fixture_files} fixture captures + simulator ({sim_records} records, again over IPv6: {v6} datagrams) + {fragmented} jumbo datagrams: \
         {sent} datagrams sent, {whole} via AF_XDP ({} redirected by the program, {} with partial checksums), \
         {fragmented} fragmented via the kernel UDP socket; {expected_rows} rows stored exactly as decoded offline \
         ({} undecodable datagrams counted)",
        net.host,
        m["flowvision_xdp_packets_redirected_total"],
        m["flowvision_xdp_partial_checksum_total"],
        family_sum(&m, "flowvision_datagrams_undecodable_total"),
    );
    assert_eq!(collector.terminate(), 0);
    // The link-based attach goes away with the process.
    assert!(!net.xdp_attached(), "XDP program still attached after the collector exited");
}
