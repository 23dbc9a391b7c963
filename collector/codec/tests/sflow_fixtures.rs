//! Every raw sFlow payload of the shared fixture corpus decodes without panic, the
//! ones that are internally consistent decode completely, and a few concrete values
//! (checked against tshark 4.0's dissection of the same bytes) come out right.
//!
//! The corpus lives outside the repository (`../shared/fixtures` next to the checkout,
//! or `FLOWVISION_FIXTURES`); pcaps are covered by the capture crate's tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use flowvision_codec::{
    DecodeError, DecodeOutput, Decoder, FlowRecord, InterfaceCounters, Protocol, SamplingOrigin,
    TemplateCacheConfig,
};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

/// The UDP source handed to the decoder: never the exporter of sFlow records, which is
/// the agent address inside the datagram.
const UDP_SOURCE: IpAddr = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 254));

fn fixtures_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("FLOWVISION_FIXTURES") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").join("../shared/fixtures"),
    };
    dir.join("INDEX.json").is_file().then_some(dir)
}

/// Files whose own lengths contradict their contents, with the error they must give.
/// tshark 4.0 shows them without complaint because it walks fixed-size structures and
/// ignores the sample/record lengths; FlowVision trusts the lengths (a record running
/// past its sample would otherwise be read from the next sample's bytes).
const INCONSISTENT: &[(&str, &str, usize)] = &[
    // Hand-made test packets: sample length 52, but its one record needs 56 bytes.
    ("gopacket/layers/sflow_test/SFlowTestPacket5.bin", "bad_sflow", 0),
    ("gopacket/layers/sflow_test/SFlowTestPacket8.bin", "bad_sflow", 0),
    // A corrupted buffer: extended switch records declared 6 bytes long (16 needed),
    // sampled headers holding impossible IPv4 headers.
    ("goflow/utils/getExpandedSFlowDecode__arr.bin", "truncated", 0),
    // The counter sample's length runs past the end of the datagram (tshark agrees).
    ("gopacket/layers/sflow_test/SFlowTestPacket11.bin", "bad_sflow", 0),
];

struct Decoded {
    result: Result<(), DecodeError>,
    records: Vec<FlowRecord>,
    counters: Vec<InterfaceCounters>,
}

fn decode_file(dir: &std::path::Path, rel: &str) -> Decoded {
    let bytes = std::fs::read(dir.join(rel)).unwrap();
    let decoder = Decoder::new(TemplateCacheConfig::default());
    let mut out = DecodeOutput::default();
    let result = decoder.decode(UDP_SOURCE, &bytes, 0, &mut out).map(|info| {
        assert_eq!(info.protocol, Protocol::SflowV5, "{rel}");
        assert_eq!(info.records as usize, out.records.len(), "{rel}");
        assert_eq!(info.export_time, 0);
    });
    Decoded { result, records: out.records, counters: out.counters }
}

/// The agent address as the datagram header states it (IPv4 agents only here).
fn header_agent(bytes: &[u8]) -> Option<IpAddr> {
    (bytes[4..8] == [0, 0, 0, 1]).then(|| IpAddr::V4(Ipv4Addr::new(bytes[8], bytes[9], bytes[10], bytes[11])))
}

#[test]
fn every_raw_sflow_fixture_decodes() {
    let Some(dir) = fixtures_dir() else {
        println!("SKIPPED: fixture corpus not found (set FLOWVISION_FIXTURES)");
        return;
    };
    let index: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("INDEX.json")).unwrap()).unwrap();
    let files: Vec<String> = index["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| {
            f["protocol"].as_str().unwrap_or("").contains("sFlow")
                && f["container"].as_str() == Some("raw UDP payload")
        })
        .map(|f| f["path"].as_str().unwrap().to_owned())
        .collect();
    assert!(files.len() >= 30, "only {} raw sFlow files in the index", files.len());

    let (mut records, mut counters, mut failed) = (0, 0, 0);
    for rel in &files {
        let bytes = std::fs::read(dir.join(rel)).unwrap();
        assert_eq!(bytes[..4], [0, 0, 0, 5], "{rel} is not sFlow v5");
        let d = decode_file(&dir, rel);
        match INCONSISTENT.iter().find(|(f, _, _)| f == rel) {
            Some((_, reason, kept)) => {
                let err = d.result.expect_err(rel);
                assert_eq!(err.reason(), *reason, "{rel}: {err}");
                assert_eq!(d.records.len(), *kept, "{rel}");
                failed += 1;
            }
            None => d.result.unwrap_or_else(|e| panic!("{rel}: {e}")),
        }
        let agent = header_agent(&bytes);
        for r in &d.records {
            assert_eq!(r.protocol, Protocol::SflowV5);
            assert_eq!(Some(r.exporter), agent.or(Some(r.exporter)), "{rel}");
            assert_ne!(r.exporter, UDP_SOURCE, "{rel}: exporter must be the agent");
            assert_eq!(r.packets, 1);
            assert!(r.sampling_rate >= 1);
            assert_eq!(r.sampling_origin, SamplingOrigin::SflowSample);
        }
        for c in &d.counters {
            assert_eq!(c.agent, agent.or(c.agent), "{rel}");
        }
        records += d.records.len();
        counters += d.counters.len();
    }
    println!(
        "raw sFlow fixtures: {} files, {records} flow records, {counters} interface counter samples, \
         {failed} inconsistent files rejected as expected",
        files.len()
    );
    assert!(records >= 40 && counters >= 15, "{records} records, {counters} counters");
}

fn mac(s: &str) -> Option<[u8; 6]> {
    let v: Vec<u8> = s.split(':').map(|h| u8::from_str_radix(h, 16).unwrap()).collect();
    Some(v.try_into().unwrap())
}

fn v4(s: &str) -> Option<IpAddr> {
    Some(IpAddr::V4(s.parse::<Ipv4Addr>().unwrap()))
}

#[test]
fn concrete_values_match_tshark() {
    let Some(dir) = fixtures_dir() else {
        println!("SKIPPED: fixture corpus not found (set FLOWVISION_FIXTURES)");
        return;
    };
    let mut checked = 0;

    // Flow sample: raw Ethernet/IPv4/UDP header + extended switch.
    let d = decode_file(&dir, "Cistern-sflow/_test/flow_sample.dump");
    d.result.unwrap();
    let r = &d.records[0];
    assert_eq!((r.exporter, r.observation_domain, r.sequence), (v4("208.85.240.52").unwrap(), 1, 1_260_270));
    assert_eq!((r.src_addr, r.dst_addr), (v4("199.58.161.150"), v4("197.161.57.246")));
    assert_eq!((r.proto, r.src_port, r.dst_port, r.tos), (17, 51413, 9728, 0));
    assert_eq!((r.bytes, r.sampling_rate, r.in_if, r.out_if, r.vlan), (318, 4096, 4, 1, 16));
    assert_eq!((r.src_mac, r.dst_mac), (mac("00:16:3c:c2:a9:ab"), mac("00:d0:01:ff:58:00")));
    checked += 1;

    // Ethernet frame data records only; input interface 0x3fffffff (the device itself).
    let d = decode_file(&dir, "gopacket/layers/sflow_test/SFlowEthernetFramePacket.bin");
    d.result.unwrap();
    assert_eq!(d.records.len(), 7);
    let r = &d.records[0];
    assert_eq!((r.exporter, r.observation_domain, r.sequence), (v4("185.120.22.246").unwrap(), 100_000, 11));
    assert_eq!((r.bytes, r.sampling_rate, r.in_if, r.out_if), (16, 1000, 0, 3));
    assert_eq!(
        (r.src_mac, r.dst_mac, r.src_addr),
        (mac("00:25:90:a2:53:58"), mac("00:1d:b5:a2:5f:c0"), None)
    );
    checked += 7;

    // Sampled IPv4 record (no raw header). The flags and TOS are XDR unsigned ints:
    // 0x00000010 (ACK) and 0x00000070. tshark 4.0 displays the first byte of each word
    // (so "no flags", precedence 0); the values are the whole words.
    let d = decode_file(&dir, "nxthdr-sflow-parser/tests/data/sflow.bin");
    d.result.unwrap();
    let r = &d.records[0];
    assert_eq!((r.exporter, r.sequence), (v4("1.1.1.1").unwrap(), 264_476_700));
    assert_eq!((r.src_addr, r.dst_addr), (v4("3.3.3.3"), v4("4.4.4.4")));
    assert_eq!((r.proto, r.src_port, r.dst_port, r.tcp_flags, r.tos), (6, 53032, 25562, 0x10, 0x70));
    assert_eq!((r.bytes, r.sampling_rate, r.src_mac), (40, 1000, None));
    checked += 1;

    // Expanded flow samples with ifIndex values above 2^24.
    let d = decode_file(&dir, "goflow2/decoders/sflow/TestExpandedSFlowDecode__data.bin");
    d.result.unwrap();
    assert_eq!(d.records.len(), 5);
    let r = &d.records[2];
    assert_eq!((r.in_if, r.out_if, r.sampling_rate, r.bytes), (1_000_104, 1_000_100, 16383, 1522));
    assert_eq!((r.src_addr, r.dst_addr), (v4("137.74.204.213"), v4("89.187.169.85")));
    assert_eq!((r.src_port, r.dst_port, r.tcp_flags, r.tos, r.vlan), (1935, 44508, 0x10, 24, 1337));
    checked += 5;

    // Extended router records: next hop and prefix lengths.
    let d = decode_file(&dir, "vflow/sflow/TestsFlowRawPacket.bin");
    d.result.unwrap();
    let r = &d.records[1];
    assert_eq!((r.src_addr, r.dst_addr, r.bytes), (v4("152.195.13.89"), v4("172.58.27.156"), 1458));
    assert_eq!(
        (r.next_hop, r.src_mask, r.dst_mask, r.in_if, r.out_if),
        (v4("206.72.211.22"), 24, 21, 561, 707)
    );
    checked += 5;

    // A switch mixing IPv4, IPv6 with a hop-by-hop header (MLD report), and an output
    // of format 2 (multiple interfaces). Telegraf's expected output for this file says
    // protocol "hopopt" (it stops at the extension header) and reports the data source
    // index as the input interface; tshark and FlowVision read the input field.
    let d = decode_file(&dir, "telegraf/plugins/inputs/netflow/testcases/sflow_issue_15918/message.bin");
    d.result.unwrap();
    assert_eq!(d.records.len(), 6);
    let r = &d.records[0];
    assert_eq!((r.src_addr, r.dst_addr, r.proto), (v4("192.168.227.2"), v4("192.168.101.2"), 17));
    assert_eq!((r.src_port, r.dst_port, r.bytes, r.sampling_rate), (49469, 2055, 1286, 200));
    assert_eq!((r.in_if, r.out_if, r.vlan), (96, 95, 154));
    let r = &d.records[2];
    let ll: Ipv6Addr = "fe80::f3a8:9738:cab4:2286".parse().unwrap();
    assert_eq!(
        (r.src_addr, r.dst_addr),
        (Some(IpAddr::V6(ll)), Some(IpAddr::V6("ff02::16".parse().unwrap())))
    );
    assert_eq!((r.proto, r.src_port, r.dst_port), (58, 0, 143 << 8));
    assert_eq!((r.in_if, r.out_if, r.bytes, r.vlan), (97, 0, 114, 153));
    // The counter sample of the same datagram (values also in Telegraf's expected.out).
    let c = &d.counters[0];
    assert_eq!(
        (c.if_index, c.if_speed, c.in_octets, c.out_octets),
        (101, 1_000_000_000, 21_286_022_420_858, 8_929_238_553_590)
    );
    assert_eq!((c.in_ucast_pkts, c.out_ucast_pkts), (1_153_749_508, 3_892_490_465));
    checked += 7;

    // Generic interface counters after a record tshark 4.0 cannot skip (format 1005).
    let d = decode_file(&dir, "telegraf/plugins/inputs/netflow/testcases/sflow_v5_example/sflow_v5.bin");
    d.result.unwrap();
    let c = &d.counters[0];
    assert_eq!(
        (c.agent, c.sub_agent, c.if_index, c.if_speed),
        (v4("192.168.119.184"), 100_000, 3, 1_000_000_000)
    );
    assert_eq!((c.in_octets, c.in_ucast_pkts, c.out_octets, c.out_ucast_pkts), (3910, 28, 3946, 29));
    assert_eq!((c.in_errors, c.in_discards, c.out_errors, c.out_discards), (0, 0, 0, 0));
    checked += 1;

    println!("concrete values checked in {checked} records/counter samples of 7 fixtures");
}
