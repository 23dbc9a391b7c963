//! Helpers shared by the simulator's integration tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, dead_code)]

use flowvision_capture::DatagramReader;
use flowvision_codec::{DecodeOutput, Decoder, FlowRecord, Protocol, TemplateCacheConfig};
use flowvision_sim::exporter::{Datagram, Sink};
use flowvision_sim::output::pcap::PcapOutput;
use flowvision_sim::scenario::{ExporterGroup, Plan};
use flowvision_sim::{Scenario, SimError, Simulation};
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};

/// The fixed simulated start of every test run (a Wednesday, 14:00 UTC).
pub const START: &str = "2024-05-01T14:00:00Z";

/// One datagram as the simulator sent it, with its records.
#[derive(Debug, Clone)]
pub struct Sent {
    pub exporter: usize,
    pub protocol: Protocol,
    pub src: SocketAddr,
    pub sequence: u32,
    pub domain: u32,
    pub templates: bool,
    pub sim_ns: i64,
    pub export_ms: i64,
    pub payload: Vec<u8>,
    pub records: Vec<FlowRecord>,
}

/// A fresh temporary directory under the target dir.
pub fn temp_dir(name: &str) -> PathBuf {
    let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("sim-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir_all(&base).unwrap();
    base
}

/// A scenario of `exporters` exporters cycling through `protocols`, sending `count`
/// flows, exercising several domains, sampling, VLANs, IPv6 and template refresh.
pub fn scenario(protocols: &[Protocol], exporters: usize, count: u64, seed: u64) -> Scenario {
    let mut s = Scenario {
        seed: Some(seed),
        start: START.into(),
        rate: 20_000.0,
        count: Some(count),
        ..Scenario::default()
    };
    s.traffic.internal_hosts = 1000;
    s.traffic.external_hosts = 5000;
    s.traffic.external_ases = 200;
    s.exporters = (0..exporters)
        .map(|i| ExporterGroup {
            protocol: protocols[i % protocols.len()],
            domains: if i % 2 == 0 { vec![0] } else { vec![1, 2] },
            sampling_rate: if i % 3 == 2 { 64 } else { 1 },
            template_refresh_datagrams: 5,
            ..ExporterGroup::default()
        })
        .collect();
    s
}

/// Resolves with a fixed fallback seed.
pub fn plan(s: &Scenario) -> Plan {
    s.resolve(0, 1).unwrap()
}

struct Collect<'a> {
    sent: &'a mut Vec<Sent>,
    pcap: Option<&'a mut PcapOutput>,
}

impl Sink for Collect<'_> {
    fn send(&mut self, d: &Datagram<'_>) -> Result<(), SimError> {
        if let Some(p) = &mut self.pcap {
            p.send(d)?;
        }
        self.sent.push(Sent {
            exporter: d.exporter,
            protocol: d.protocol,
            src: d.src,
            sequence: d.sequence,
            domain: d.domain,
            templates: d.templates,
            sim_ns: d.sim_ns,
            export_ms: d.export_ms,
            payload: d.payload.to_vec(),
            records: d.records.to_vec(),
        });
        Ok(())
    }
}

/// Runs `plan`, writing `pcap` when given; returns the datagrams and the finished
/// simulation.
pub fn run(plan: Plan, pcap: Option<&Path>) -> (Vec<Sent>, Simulation) {
    let mut sim = Simulation::new(plan).unwrap();
    let mut out = pcap.map(|p| PcapOutput::create(p, None).unwrap());
    let mut sent = Vec::new();
    {
        let mut sink = Collect { sent: &mut sent, pcap: out.as_mut() };
        sim.run(&mut sink).unwrap();
    }
    if let Some(o) = &mut out {
        o.finish().unwrap();
    }
    (sent, sim)
}

/// Every record of `sent`, in order.
pub fn account(sent: &[Sent]) -> Vec<FlowRecord> {
    sent.iter().flat_map(|d| d.records.iter().copied()).collect()
}

/// Decodes a pcap with FlowVision's own reader and decoder (exporter = UDP
/// source, clock = capture time), as `flowvision-collector decode` does.
pub fn decode_pcap(path: &Path) -> (Vec<FlowRecord>, u64) {
    let file = std::fs::File::open(path).unwrap();
    let mut reader = DatagramReader::new(std::io::BufReader::new(file)).unwrap();
    let decoder = Decoder::new(TemplateCacheConfig::default());
    let mut out = DecodeOutput::default();
    let mut records = Vec::new();
    let mut datagrams = 0;
    while let Some(d) = reader.next_datagram().unwrap() {
        out.clear();
        let info = decoder.decode(d.src.ip(), d.payload, d.timestamp_ns / 1_000_000, &mut out).unwrap();
        assert_eq!(info.held_sets, 0, "data before its template");
        records.extend_from_slice(&out.records);
        datagrams += 1;
    }
    (records, datagrams)
}

/// Decodes one datagram from `src`.
pub fn decode_datagram(decoder: &Decoder, src: SocketAddr, payload: &[u8], now_ms: i64) -> Vec<FlowRecord> {
    let mut out = DecodeOutput::default();
    decoder.decode(src.ip(), payload, now_ms, &mut out).unwrap();
    out.records
}

/// The path of an external tool, searched in PATH and the sbin directories (where
/// Debian puts pmacct's daemons); `None` (and a printed reason) when missing.
pub fn tool(name: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    let found = path
        .split(':')
        .chain(["/usr/sbin", "/usr/local/sbin", "/sbin"])
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file());
    if found.is_none() {
        println!("SKIPPED: {name} is not installed (Debian: apt-get install the package that ships it)");
    }
    found
}

/// A UDP port that was free a moment ago on 127.0.0.1.
pub fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Totals (flows, bytes, packets) of records.
pub fn totals<'a>(records: impl IntoIterator<Item = &'a FlowRecord>) -> (u64, u64, u64) {
    records.into_iter().fold((0, 0, 0), |(f, b, p), r| (f + 1, b + r.bytes, p + r.packets))
}
