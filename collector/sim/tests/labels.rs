//! Labels line up with the traffic: from the records decoded out of the pcap (not
//! from the simulator's own account), each labelled anomaly is recomputed and found
//! inside its window, with its signature (SYN-only floods, large answers from
//! amplification ports, one scanner over many ports or hosts, a large upload to a
//! never-seen destination, a regular period) and absent outside it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use common::*;
use flowvision_capture::DatagramReader;
use flowvision_codec::{DecodeOutput, Decoder, FlowRecord, Protocol, TemplateCacheConfig};
use flowvision_sim::anomaly::labels::{read_labels, write_labels};
use flowvision_sim::scenario::{AnomalySpec, ExporterGroup};
use flowvision_sim::traffic::hosts::Prefix;
use flowvision_sim::{AnomalyKind, Label, Scenario};
use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::Path;

/// Decoded records with their time: the flow's end, or (sFlow, which has no flow
/// times) the capture time of the datagram.
fn decode_with_times(path: &Path) -> Vec<(FlowRecord, i64)> {
    let mut reader =
        DatagramReader::new(std::io::BufReader::new(std::fs::File::open(path).unwrap())).unwrap();
    let decoder = Decoder::new(TemplateCacheConfig::default());
    let mut out = DecodeOutput::default();
    let mut all = Vec::new();
    while let Some(d) = reader.next_datagram().unwrap() {
        out.clear();
        let frame_ms = d.timestamp_ns / 1_000_000;
        decoder.decode(d.src.ip(), d.payload, frame_ms, &mut out).unwrap();
        all.extend(out.records.iter().map(|r| (*r, r.flow_end_ms.unwrap_or(frame_ms))));
    }
    all
}

fn anomaly(kind: AnomalyKind, exporter: usize, start: &str, duration: &str) -> AnomalySpec {
    AnomalySpec {
        exporter: Some(exporter),
        start: Some(start.into()),
        duration: Some(duration.into()),
        ..AnomalySpec::new(kind)
    }
}

struct Actors {
    prefixes: Vec<Prefix>,
    sources: Vec<IpAddr>,
}

impl Actors {
    fn of(l: &Label) -> Actors {
        Actors {
            prefixes: l.involved.source_prefixes.iter().map(|p| p.parse().unwrap()).collect(),
            sources: l.involved.sources.clone(),
        }
    }
    fn is(&self, a: Option<IpAddr>) -> bool {
        a.is_some_and(|a| self.sources.contains(&a) || self.prefixes.iter().any(|p| p.contains(a)))
    }
    fn involved(&self, r: &FlowRecord) -> bool {
        self.is(r.src_addr) || self.is(r.dst_addr)
    }
}

#[test]
fn labels_line_up_with_the_decoded_traffic() {
    let dir = temp_dir("labels");
    let pcap = dir.join("run.pcap");
    let mut s = scenario(&[Protocol::NetflowV5], 1, 1, 31);
    s.count = None;
    s.duration = Some("4s".into());
    s.speedup = 60.0; // one simulated minute per second: 4 simulated minutes
    s.rate = 20_000.0;
    s.exporters = [
        Protocol::NetflowV5,
        Protocol::NetflowV9,
        Protocol::Ipfix,
        Protocol::SflowV5,
        Protocol::NetflowV9,
        Protocol::Ipfix,
    ]
    .into_iter()
    .map(|protocol| ExporterGroup { protocol, ..ExporterGroup::default() })
    .collect();
    let mut amp = anomaly(AnomalyKind::UdpAmplification, 2, "60s", "40s");
    amp.service = Some("ntp".into());
    let mut beacon = anomaly(AnomalyKind::Beaconing, 2, "10s", "200s");
    beacon.period = Some("10s".into());
    let mut exfil = anomaly(AnomalyKind::Exfiltration, 5, "40s", "120s");
    exfil.bytes = Some(1_000_000_000);
    let mut scan = anomaly(AnomalyKind::PortScan, 0, "20s", "60s");
    scan.targets = Some(500);
    s.anomalies = vec![
        anomaly(AnomalyKind::SynFlood, 1, "30s", "40s"),
        amp,
        scan,
        anomaly(AnomalyKind::HostSweep, 4, "100s", "60s"),
        exfil,
        beacon,
        anomaly(AnomalyKind::SynFlood, 3, "150s", "40s"),
    ];
    let p = plan(&s);
    let flush_ms = p.exporters[3].flush_ms;
    let (_sent, sim) = run(p, Some(&pcap));
    // Through the file format, as a consumer reads them.
    let mut file = Vec::new();
    write_labels(&mut file, &sim.labels()).unwrap();
    let labels = read_labels(std::str::from_utf8(&file).unwrap()).unwrap();
    assert_eq!(labels.len(), 7);
    let records = decode_with_times(&pcap);
    let mut attributed = 0u64;

    for l in &labels {
        let actors = Actors::of(l);
        let sflow = l.protocol == Protocol::SflowV5;
        // sFlow samples carry no time: their datagram leaves within the flush timeout.
        let slack = if sflow { flush_ms } else { 0 };
        let inside = |t: i64| t >= l.start_ms && t < l.end_ms + slack;
        let mine: Vec<&(FlowRecord, i64)> = records.iter().filter(|(r, _)| actors.involved(r)).collect();
        let outside = mine.iter().filter(|(_, t)| !inside(*t)).count();
        assert_eq!(outside, 0, "{:?}: {outside} flows outside the window", l.kind);
        assert_eq!(mine.len() as u64, l.flows, "{:?}: flows of the anomaly", l.kind);
        assert!(mine.iter().all(|(r, _)| r.exporter == l.exporter), "{:?}: one exporter", l.kind);
        if !sflow {
            // Flow times (start and end) lie inside the window.
            assert!(mine.iter().all(|(r, _)| r.flow_start_ms.unwrap() >= l.start_ms));
            let bytes: u64 = mine.iter().map(|(r, _)| r.bytes).sum();
            assert_eq!(bytes, l.bytes, "{:?}: bytes", l.kind);
        }
        attributed += mine.len() as u64;
        let victim = l.involved.victims.first().copied();
        let to_victim = |r: &FlowRecord| r.dst_addr == victim && actors.is(r.src_addr);
        match l.kind {
            AnomalyKind::SynFlood => {
                let port = l.involved.ports[0];
                let syns: Vec<_> = mine
                    .iter()
                    .filter(|(r, _)| to_victim(r) && r.dst_port == port && r.tcp_flags == 0x02)
                    .collect();
                assert!(
                    syns.len() as u64 * 3 >= l.flows * 2 - 2,
                    "mostly SYN-only: {} of {}",
                    syns.len(),
                    l.flows
                );
                assert!(syns.len() > 500, "a flood: {}", syns.len());
                // Background SYN-only flows to the same service are rare outside.
                let background_outside = records
                    .iter()
                    .filter(|(r, t)| {
                        r.dst_addr == victim && r.dst_port == port && r.tcp_flags == 0x02 && !inside(*t)
                    })
                    .count();
                assert!(background_outside * 50 < syns.len(), "{background_outside} vs {}", syns.len());
                let bots: BTreeSet<_> = syns.iter().map(|(r, _)| r.src_addr).collect();
                assert!(bots.len() > 100, "many sources: {}", bots.len());
            }
            AnomalyKind::UdpAmplification => {
                let min = l.involved.details["min_packet_bytes"].as_u64().unwrap();
                let port = l.involved.ports[0];
                assert!(mine.iter().all(|(r, _)| to_victim(r)
                    && r.proto == 17
                    && r.src_port == port
                    && r.bytes / r.packets >= min));
                let reflectors: BTreeSet<_> = mine.iter().map(|(r, _)| r.src_addr).collect();
                assert!(reflectors.len() > 50, "{}", reflectors.len());
            }
            AnomalyKind::PortScan => {
                let probes: BTreeSet<u16> = mine
                    .iter()
                    .filter(|(r, _)| to_victim(r) && r.tcp_flags == 0x02)
                    .map(|(r, _)| r.dst_port)
                    .collect();
                assert_eq!(probes.len() as u64, l.involved.details["ports_probed"].as_u64().unwrap());
                assert_eq!(probes.len(), 500);
            }
            AnomalyKind::HostSweep => {
                let swept: Vec<Prefix> =
                    l.involved.victim_prefixes.iter().map(|p| p.parse().unwrap()).collect();
                let port = l.involved.ports[0];
                let hosts: BTreeSet<_> = mine
                    .iter()
                    .filter(|(r, _)| actors.is(r.src_addr) && r.dst_port == port && r.tcp_flags == 0x02)
                    .map(|(r, _)| r.dst_addr.unwrap())
                    .collect();
                assert_eq!(hosts.len() as u64, l.involved.details["hosts_probed"].as_u64().unwrap());
                assert!(hosts.iter().all(|h| swept.iter().any(|p| p.contains(*h))));
            }
            AnomalyKind::Exfiltration => {
                let up: u64 = mine
                    .iter()
                    .filter(|(r, _)| r.src_addr == victim && actors.is(r.dst_addr))
                    .map(|(r, _)| r.bytes)
                    .sum();
                assert_eq!(up, l.involved.details["bytes_uploaded"].as_u64().unwrap());
                // A rare destination: nobody else ever talked to it.
                assert!(mine.iter().all(|(r, _)| r.src_addr == victim || r.dst_addr == victim));
            }
            AnomalyKind::Beaconing => {
                let mut starts: Vec<i64> = mine
                    .iter()
                    .filter(|(r, _)| r.src_addr == victim && actors.is(r.dst_addr))
                    .map(|(r, _)| r.flow_start_ms.unwrap())
                    .collect();
                starts.sort_unstable();
                assert_eq!(starts.len() as u64, l.involved.details["beacons"].as_u64().unwrap());
                let gaps: Vec<f64> = starts.windows(2).map(|w| (w[1] - w[0]) as f64).collect();
                let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
                let sd = (gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / gaps.len() as f64).sqrt();
                let period = l.involved.details["period_ms"].as_f64().unwrap();
                assert!((mean - period).abs() < period * 0.05, "mean gap {mean} vs {period}");
                assert!(sd / mean < 0.1, "regular: cv {}", sd / mean);
                assert!(starts.len() >= 18, "{}", starts.len());
            }
            AnomalyKind::SpeedTest
            | AnomalyKind::Backup
            | AnomalyKind::BulkDownload
            | AnomalyKind::NewService => {
                panic!("no benign burst in this run")
            }
            AnomalyKind::ExportOutage | AnomalyKind::LinkFailure => panic!("no outage in this run"),
        }
        println!(
            "labels: {:<18} on {:<10} {} flows in [{}, {}) and none outside",
            l.kind.as_str(),
            l.protocol.as_str(),
            l.flows,
            l.start,
            l.end
        );
    }
    // No background flow touches the anomalies' held-back address space.
    let reserved: Vec<Prefix> =
        labels.iter().flat_map(|l| l.involved.source_prefixes.iter().map(|p| p.parse().unwrap())).collect();
    let touching = records
        .iter()
        .filter(|(r, _)| {
            reserved.iter().any(|p| {
                r.src_addr.is_some_and(|a| p.contains(a)) || r.dst_addr.is_some_and(|a| p.contains(a))
            })
        })
        .count() as u64;
    assert_eq!(touching, attributed);
    println!("labels: {} decoded records, {} attributed to 7 labelled anomalies", records.len(), attributed);
}

/// Four simulated minutes (4 s at 60x) of 5,000 flows/s through one exporter of each
/// protocol given.
fn four_minutes(protocols: &[Protocol], seed: u64) -> Scenario {
    let mut s = scenario(&[Protocol::Ipfix], 1, 1, seed);
    s.count = None;
    s.duration = Some("4s".into());
    s.speedup = 60.0;
    s.rate = 5_000.0;
    s.exporters =
        protocols.iter().map(|&protocol| ExporterGroup { protocol, ..ExporterGroup::default() }).collect();
    s
}

#[test]
fn benign_bursts_line_up_with_the_decoded_traffic_and_say_they_are_benign() {
    let dir = temp_dir("benign");
    let pcap = dir.join("run.pcap");
    let mut s =
        four_minutes(&[Protocol::Ipfix, Protocol::NetflowV9, Protocol::Ipfix, Protocol::NetflowV9], 37);
    let mut speed = anomaly(AnomalyKind::SpeedTest, 0, "20s", "30s");
    speed.bytes = Some(600_000_000);
    let mut download = anomaly(AnomalyKind::BulkDownload, 1, "30s", "150s");
    download.bytes = Some(2_000_000_000);
    let mut backup = anomaly(AnomalyKind::Backup, 2, "10s", "180s");
    backup.bytes = Some(9_000_000_000);
    s.anomalies = vec![speed, download, backup, anomaly(AnomalyKind::NewService, 3, "60s", "120s")];
    let (_sent, sim) = run(plan(&s), Some(&pcap));
    let mut file = Vec::new();
    write_labels(&mut file, &sim.labels()).unwrap();
    let text = std::str::from_utf8(&file).unwrap();
    assert_eq!(text.matches("\"benign\":true").count(), 4, "{text}");
    let labels = read_labels(text).unwrap();
    let records = decode_with_times(&pcap);
    for l in &labels {
        assert!(l.benign);
        let client = l.involved.victims[0];
        let inside = |t: i64| t >= l.start_ms && t < l.end_ms;
        let mid = l.start_ms + (l.end_ms - l.start_ms) / 2;
        let port = l.involved.ports[0];
        let between = |r: &FlowRecord, a: IpAddr, b: &dyn Fn(Option<IpAddr>) -> bool| {
            r.src_addr == Some(a) && b(r.dst_addr)
        };
        let actors = Actors::of(l);
        let bytes = |f: &dyn Fn(&FlowRecord, i64) -> bool| -> u64 {
            records.iter().filter(|(r, t)| f(r, *t)).map(|(r, _)| r.bytes).sum()
        };
        match l.kind {
            AnomalyKind::SpeedTest => {
                let server = |a: Option<IpAddr>| actors.is(a);
                let down = bytes(&|r, t| {
                    actors.is(r.src_addr) && r.dst_addr == Some(client) && r.src_port == port && t < mid
                });
                let up = bytes(&|r, t| between(r, client, &server) && r.dst_port == port && t >= mid);
                assert_eq!(down, l.involved.details["bytes_downloaded"].as_u64().unwrap());
                assert_eq!(up, l.involved.details["bytes_uploaded"].as_u64().unwrap());
                assert_eq!(up * 2, down);
                assert!(records.iter().filter(|(r, _)| actors.involved(r)).all(|(_, t)| inside(*t)));
            }
            AnomalyKind::BulkDownload => {
                let data: Vec<&FlowRecord> =
                    records.iter().filter(|(r, _)| actors.is(r.src_addr)).map(|(r, _)| r).collect();
                let acks: Vec<&FlowRecord> =
                    records.iter().filter(|(r, _)| actors.is(r.dst_addr)).map(|(r, _)| r).collect();
                assert!(data
                    .iter()
                    .all(|r| r.proto == 17 && r.src_port == port && r.dst_addr == Some(client)));
                assert_eq!(data.iter().map(|r| r.bytes).sum::<u64>(), 2_000_000_000);
                let (sent, acked): (u64, u64) =
                    (data.iter().map(|r| r.packets).sum(), acks.iter().map(|r| r.packets).sum());
                assert!(acked * 5 >= sent && acked * 3 <= sent, "QUIC acknowledges: {acked} for {sent}");
                assert!(data.len() >= 3, "cut at the active timeout: {}", data.len());
            }
            AnomalyKind::Backup => {
                let server = l.involved.sources[0];
                assert!(matches!(server, IpAddr::V4(a) if a.is_private()), "an internal server: {server}");
                let up = bytes(&|r, t| {
                    r.src_addr == Some(client)
                        && r.dst_addr == Some(server)
                        && r.dst_port == port
                        && inside(t)
                });
                assert!(up >= 9_000_000_000, "{up}");
            }
            AnomalyKind::NewService => {
                let asks: Vec<&FlowRecord> = records
                    .iter()
                    .filter(|(r, _)| actors.is(r.src_addr) && r.dst_addr == Some(client))
                    .map(|(r, _)| r)
                    .collect();
                assert!(asks.len() > 500, "{}", asks.len());
                assert!(
                    asks.iter().all(|r| r.tcp_flags & 0x12 == 0x12 && r.packets >= 6),
                    "handshakes complete"
                );
                let clients: BTreeSet<_> = asks.iter().map(|r| r.src_addr).collect();
                assert!(clients.len() > 300, "{}", clients.len());
            }
            other => panic!("{other:?} is not benign"),
        }
        println!("labels: benign {:<14} {} flows in [{}, {})", l.kind.as_str(), l.flows, l.start, l.end);
    }
}

#[test]
fn an_export_outage_and_a_link_failure_change_what_the_exporter_exports() {
    let dir = temp_dir("outage");
    let pcap = dir.join("run.pcap");
    let mut s = four_minutes(&[Protocol::Ipfix, Protocol::NetflowV9], 41);
    s.anomalies = vec![
        anomaly(AnomalyKind::ExportOutage, 0, "60s", "90s"),
        anomaly(AnomalyKind::LinkFailure, 1, "60s", "90s"),
    ];
    let (_sent, sim) = run(plan(&s), Some(&pcap));
    let labels = sim.labels();
    let records = decode_with_times(&pcap);
    assert_eq!(labels.len(), 2);
    for l in &labels {
        assert!(!l.benign && l.flows > 0 && l.involved.victims.is_empty(), "{l:?}");
        // Flows end at most the inactive timeout (15 s) before they are exported.
        let silent = |t: i64| t >= l.start_ms && t < l.end_ms - 16_000;
        let before = |t: i64| t < l.start_ms;
        let of = |r: &FlowRecord| r.exporter == l.exporter;
        let via = |r: &FlowRecord, i: u32| r.in_if == i || r.out_if == i;
        let count =
            |f: &dyn Fn(&FlowRecord, i64) -> bool| records.iter().filter(|(r, t)| of(r) && f(r, *t)).count();
        match l.kind {
            AnomalyKind::ExportOutage => {
                assert_eq!(count(&|_, t| silent(t)), 0, "nothing exported in the outage");
                assert!(count(&|_, t| before(t)) > 1000 && count(&|_, t| t >= l.end_ms) > 1000);
            }
            AnomalyKind::LinkFailure => {
                assert_eq!(
                    (l.involved.details["interface"].as_u64(), l.involved.details["backup"].as_u64()),
                    (Some(1), Some(2))
                );
                assert_eq!(count(&|r, t| via(r, 1) && silent(t)), 0, "nothing through the failed uplink");
                assert!(count(&|r, t| via(r, 1) && before(t)) > 500);
                // Its share went to the other uplink.
                let share = |i: u32, when: &dyn Fn(i64) -> bool| {
                    count(&|r, t| via(r, i) && when(t)) as f64 / count(&|_, t| when(t)).max(1) as f64
                };
                let (moved, now) = (share(1, &before) + share(2, &before), share(2, &silent));
                assert!(
                    (now - moved).abs() < 0.05,
                    "uplink 2 carries {now:.3} of the flows, expected {moved:.3}"
                );
                assert!(count(&|_, t| silent(t)) > 1000, "the exporter kept exporting");
            }
            other => panic!("{other:?}"),
        }
    }
}

/// A silent sFlow agent sends no samples, not even those of flows that began before
/// its export stopped (they leave over the flows' durations: `sample_train`); the ones
/// it could not send are counted.
#[test]
fn a_silent_sflow_agent_sends_no_samples_of_earlier_flows() {
    let dir = temp_dir("sflow-outage");
    let pcap = dir.join("run.pcap");
    let mut s = four_minutes(&[Protocol::SflowV5], 47);
    s.exporters[0].sampling_rate = 64;
    s.exporters[0].sample_packets = true;
    s.anomalies = vec![anomaly(AnomalyKind::ExportOutage, 0, "60s", "90s")];
    let (_sent, sim) = run(plan(&s), Some(&pcap));
    let l = &sim.labels()[0];
    let records = decode_with_times(&pcap);
    // A datagram leaves at most its flush timeout (1 s) after its first sample.
    let silent = |t: i64| t >= l.start_ms + 1_000 && t < l.end_ms;
    assert_eq!(records.iter().filter(|(_, t)| silent(*t)).count(), 0, "nothing sent in the outage");
    assert!(records.iter().filter(|(_, t)| *t >= l.end_ms).count() > 100, "it sends again after");
    let lost = sim.stats()[0].samples_lost;
    assert!(lost > 0, "the samples of flows passing when it went silent are counted: {lost}");
}
