//! Real exporters, real attack shapes: a capture written here holds a spoofed SYN
//! flood, DNS and NTP reflection, a TCP and a UDP port scan and an ICMP echo sweep,
//! among answered web and DNS traffic. softflowd (NetFlow v5, v9, IPFIX) and pmacctd
//! (nfprobe v5, v9, IPFIX; sfprobe sFlow v5) read it and export to the real collector
//! binary, which stores flows and host features in PostgreSQL; then
//! `flowvision-web insights backtest`, the detectors the console runs, must report
//! each attack with its kind and addresses, and nothing about the benign hosts; and
//! `flowvision-web insights host`, the host behaviour classifier over the stored flows,
//! must call the web server a web server, the resolver a DNS resolver and the TCP port
//! scanner a scanner.
//!
//! Each exporter gets its own address plan (second octet), so one appliance serves
//! every case. A case whose tool is missing is skipped with the reason printed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use common::appliance::Appliance;
use flowvision_tests::exporters::Exporter;
use flowvision_tests::traffic::{flags, proto, write_packets, Packet};
use serde_json::Value;
use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const BIN: &str = env!("CARGO_BIN_EXE_flowvision-web");

fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(a, b, c, d))
}

/// Where case `n`'s hosts live: victims and benign servers in 10.<40+n>.0.0/16,
/// clients in 10.<40+n>.128.0/17, attackers in 100.<64+n>.0.0/16, spoofed and
/// reflecting sources in 172.<16+n>.0.0/16.
struct Plan {
    n: u8,
}

impl Plan {
    fn victim(&self, i: u8) -> IpAddr {
        v4(10, 40 + self.n, 0, i)
    }
    fn attacker(&self, i: u8) -> IpAddr {
        v4(100, 64 + self.n, 0, i)
    }
    fn outside(&self, i: u16) -> IpAddr {
        let [hi, lo] = i.to_be_bytes();
        v4(172, 16 + self.n, hi, lo)
    }
    fn client(&self, i: u8) -> IpAddr {
        v4(10, 40 + self.n, 128, i)
    }
    fn web_server(&self) -> IpAddr {
        v4(10, 40 + self.n, 1, 80)
    }
    fn resolver(&self) -> IpAddr {
        v4(10, 40 + self.n, 1, 53)
    }
    /// Whether an address belongs to this case.
    fn owns(&self, a: &IpAddr) -> bool {
        match a {
            IpAddr::V4(v) => {
                let o = v.octets();
                (o[0] == 10 && o[1] == 40 + self.n)
                    || (o[0] == 100 && o[1] == 64 + self.n)
                    || (o[0] == 172 && o[1] == 16 + self.n)
            }
            IpAddr::V6(_) => false,
        }
    }
}

/// What the detectors must report: (kind, source, target).
type Expected = BTreeSet<(String, Option<IpAddr>, Option<IpAddr>)>;

#[allow(clippy::too_many_arguments)]
fn pkt(
    at_us: u64,
    src: IpAddr,
    dst: IpAddr,
    proto: u8,
    sport: u16,
    dport: u16,
    tcp_flags: u8,
    payload: usize,
) -> Packet {
    Packet { at_us, src, dst, proto, sport, dport, tcp_flags, payload }
}

/// The capture of case `plan`, starting at `t0` (Unix µs): floods over 20 s (so at
/// least one whole 10 s bucket holds their rate whatever the phase), scans and the
/// sweep within 10 s, benign traffic over 20 s.
fn capture(plan: &Plan, t0: u64) -> (Vec<Packet>, Expected) {
    let mut p = Vec::new();
    let mut expected = Expected::new();
    // SYN flood: 5,000 spoofed sources, one SYN each, at 250/s on victim 1's port 80.
    for i in 0..5_000u16 {
        let at = t0 + u64::from(i) * 4_000;
        p.push(pkt(at, plan.outside(1_000 + i), plan.victim(1), proto::TCP, 1024 + i, 80, flags::SYN, 0));
    }
    expected.insert(("syn_flood".into(), None, Some(plan.victim(1))));
    // DNS reflection: 8 resolvers answering spoofed ANY queries, 12,000 large answers at
    // 600/s onto victim 2's (spoofed) query ports.
    for i in 0..12_000u32 {
        let at = t0 + u64::from(i) * 1_666;
        let reflector = plan.outside(100 + (i % 8) as u16);
        p.push(pkt(at, reflector, plan.victim(2), proto::UDP, 53, 20_000 + (i % 40) as u16, 0, 900));
    }
    expected.insert(("udp_amplification".into(), None, Some(plan.victim(2))));
    // NTP reflection (monlist): 5 servers, 12,000 answers onto one port of victim 3.
    for i in 0..12_000u32 {
        let at = t0 + u64::from(i) * 1_666;
        let reflector = plan.outside(200 + (i % 5) as u16);
        p.push(pkt(at, reflector, plan.victim(3), proto::UDP, 123, 443, 0, 440));
    }
    expected.insert(("udp_amplification".into(), None, Some(plan.victim(3))));
    // TCP SYN scan of 400 ports of victim 4, answered by resets.
    for port in 1..=400u16 {
        let at = t0 + u64::from(port) * 20_000;
        p.push(pkt(at, plan.attacker(1), plan.victim(4), proto::TCP, 61_000, port, flags::SYN, 0));
        p.push(pkt(
            at + 300,
            plan.victim(4),
            plan.attacker(1),
            proto::TCP,
            port,
            61_000,
            flags::RST | flags::ACK,
            0,
        ));
    }
    expected.insert(("port_scan".into(), Some(plan.attacker(1)), Some(plan.victim(4))));
    // UDP scan of 300 ports of victim 5 from an ephemeral port, unanswered.
    for port in 1..=300u16 {
        let at = t0 + u64::from(port) * 25_000;
        p.push(pkt(at, plan.attacker(2), plan.victim(5), proto::UDP, 51_000, port, 0, 0));
    }
    expected.insert(("port_scan".into(), Some(plan.attacker(2)), Some(plan.victim(5))));
    // ICMP echo sweep of 200 addresses, unanswered.
    for h in 0..200u8 {
        let at = t0 + u64::from(h) * 40_000;
        p.push(pkt(at, plan.attacker(3), v4(10, 40 + plan.n, 2, h), proto::ICMP, 7, 0, 0, 32));
    }
    expected.insert(("host_sweep".into(), Some(plan.attacker(3)), None));
    // Benign: 150 clients fetch from the web server (handshake, data both ways, close)
    // and ask the resolver (one query, one answer each), over 20 s: the resolver's
    // one-packet answers go to 150 client ports, as many as a port scan probes.
    for c in 0..150u8 {
        let at = t0 + u64::from(c) * 130_000;
        let (client, server, port) = (plan.client(c + 1), plan.web_server(), 40_000 + u16::from(c));
        let exchange = [
            (client, server, flags::SYN, 0),
            (server, client, flags::SYN | flags::ACK, 0),
            (client, server, flags::ACK | flags::PSH, 300),
            (server, client, flags::ACK | flags::PSH, 1_400),
            (server, client, flags::ACK | flags::PSH, 1_400),
            (client, server, flags::FIN | flags::ACK, 0),
            (server, client, flags::FIN | flags::ACK, 0),
        ];
        for (k, (src, dst, f, len)) in exchange.into_iter().enumerate() {
            let (sport, dport) = if src == client { (port, 443) } else { (443, port) };
            p.push(pkt(at + k as u64 * 2_000, src, dst, proto::TCP, sport, dport, f, len));
        }
        let q = 30_000 + u16::from(c);
        p.push(pkt(at + 50_000, client, plan.resolver(), proto::UDP, q, 53, 0, 40));
        p.push(pkt(at + 51_000, plan.resolver(), client, proto::UDP, 53, q, 0, 120));
    }
    (p, expected)
}

/// Flows stored for this case's addresses.
fn stored(pg: &mut flowvision_tests::postgres::Client, n: u8) -> i64 {
    let (v, a, o) =
        (format!("10.{}.0.0/16", 40 + n), format!("100.{}.0.0/16", 64 + n), format!("172.{}.0.0/16", 16 + n));
    pg.query_one(
        "SELECT count(*) FROM flows WHERE src_addr <<= $1::text::inet OR src_addr <<= $2::text::inet \
         OR src_addr <<= $3::text::inet OR dst_addr <<= $1::text::inet",
        &[&v, &a, &o],
    )
    .unwrap()
    .get(0)
}

fn addr(v: &Value) -> Option<IpAddr> {
    v.as_str().map(|s| s.parse().unwrap())
}

#[test]
fn attacks_exported_by_softflowd_and_pmacctd_are_found_with_kind_and_addresses_and_hosts_classified() {
    let app = Appliance::start_collector();
    let work = tempfile::tempdir().unwrap();
    let to: SocketAddr = format!("127.0.0.1:{}", app.netflow_port).parse().unwrap();
    let mut pg = app.pg.connect().unwrap();
    let mut failures = Vec::new();
    let mut ran = 0;
    for (n, exporter) in Exporter::ALL.into_iter().enumerate() {
        let name = exporter.name();
        if let Some(tool) = exporter.missing_tool() {
            println!("SKIPPED {name}: {tool} is not installed");
            continue;
        }
        let plan = Plan { n: n as u8 };
        let now_us = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_micros() as u64;
        // The capture ends a little before now, as if the exporter had just seen it.
        let t0 = now_us - 25_000_000;
        let (packets, expected) = capture(&plan, t0);
        let file = work.path().join(format!("atk{n}.pcap"));
        write_packets(&file, &packets).unwrap();
        if let Err(e) = exporter.run(work.path(), &file, to) {
            failures.push(format!("{name}: {e}"));
            continue;
        }
        // Stored when the count stops growing (the collector batches every 100 ms).
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut last = -1;
        loop {
            std::thread::sleep(Duration::from_millis(700));
            let now = stored(&mut pg, plan.n);
            if now == last && now > 0 {
                break;
            }
            assert!(Instant::now() < deadline, "{name}: flows still arriving after 30 s ({now})");
            last = now;
        }
        ran += 1;
        // The detectors over the capture's time and the time it took to arrive.
        let (from, to_ms) = (t0 / 1_000 - 120_000, now_us / 1_000 + 120_000);
        let out = Command::new(BIN)
            .args(["insights", "backtest", "--from", &from.to_string(), "--to", &to_ms.to_string()])
            .env("DATABASE_URL", app.pg.url())
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let found: Vec<Value> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let mine: Expected = found
            .iter()
            .map(|i| (i["kind"].as_str().unwrap().to_string(), addr(&i["source"]), addr(&i["target"])))
            .filter(|(_, s, t)| s.iter().chain(t.iter()).any(|a| plan.owns(a)))
            .collect();
        println!(
            "{name}: {} packets, {last} flows stored, {} insights of this case:",
            packets.len(),
            mine.len()
        );
        for (kind, s, t) in &mine {
            println!("  {kind} source {s:?} target {t:?}");
        }
        // The host behaviour classifier over the same stored flows: the web server and
        // the resolver are what they are, whichever exporter saw them.
        for (host, class) in [
            (plan.web_server(), "web_server"),
            (plan.resolver(), "dns_resolver"),
            (plan.attacker(1), "scanner"),
        ] {
            let out = Command::new(BIN)
                .args([
                    "insights",
                    "host",
                    &host.to_string(),
                    "--from",
                    &from.to_string(),
                    "--to",
                    &to_ms.to_string(),
                ])
                .env("DATABASE_URL", app.pg.url())
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            let r: Value = serde_json::from_slice(&out.stdout).unwrap();
            println!(
                "  host {host}: {} ({}, {} flows; top feature {})",
                r["class"], r["confidence"], r["flows"], r["why"]["top_features"][0]["feature"]
            );
            if r["class"] != class {
                failures.push(format!("{name}: {host} classified {} (want {class}): {r}", r["class"]));
            }
            if r["detector"] != "model:host_class@1" {
                failures.push(format!("{name}: detector {}", r["detector"]));
            }
        }
        let missing: Vec<_> = expected.difference(&mine).collect();
        let extra: Vec<_> = mine.difference(&expected).collect();
        if !missing.is_empty() || !extra.is_empty() {
            failures.push(format!("{name}: missing {missing:?}, unexpected {extra:?}"));
        }
    }
    println!("exporters run: {ran} of {}", Exporter::ALL.len());
    assert!(failures.is_empty(), "{}\ncollector log:\n{}", failures.join("\n"), app.collector.log());
}
