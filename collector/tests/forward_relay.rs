//! Flow relay end to end: a real collector on a real PostgreSQL, real captures
//! replayed into it, nfdump's nfcapd and plain UDP sockets as the downstream
//! collectors (issue 6 "Proof").
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod forward_common;

use flowvision_tests::pg::PgCluster;
use flowvision_tests::replay::Replayer;
use forward_common::*;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

/// Real Cisco IOS XR IPFIX session (templates, options templates, several exporters).
const IPFIX: &str =
    "pmacct-test-automation/tests/401-IPFIXv10-BMP-IPv6-CISCO-MPLS-multiple-sources/traffic-00.pcap";
/// Real Cisco NetFlow v9 session.
const V9: &str = "pmacct/tests/101-NFv9-CISCO-cust_primitives/traffic-00.pcap";

fn wait_rules(c: &Collector, n: u64) {
    assert!(c.wait_metric("flowvision_forward_rules ", n, Duration::from_secs(5)), "rules not loaded");
}

/// Re-encoding with a filter: nfdump on the receiver shows exactly the matching
/// flows (count, bytes, packets) and none of the others.
#[test]
fn reencode_delivers_exactly_the_matching_flows() {
    let pg = PgCluster::start().unwrap();
    let collector = Collector::start(pg.url());
    for (proto_name, file, base) in
        [("ipfix", IPFIX, Ipv4Addr::new(127, 10, 0, 0)), ("netflow_v9", V9, Ipv4Addr::new(127, 11, 0, 0))]
    {
        let nfcapd = Nfcapd::start();
        let (datagrams, expected) = load(file, base);
        let all: Vec<_> = expected.iter().flat_map(|e| e.records.iter().copied()).collect();
        // The expectation uses its own predicate, not the filter implementation.
        let want: Vec<_> = all.iter().filter(|r| r.proto == 6 && r.dst_port != 179).copied().collect();
        println!(
            "{file}: {} datagrams, {} records, {} match `proto tcp and not dst port 179`",
            datagrams.len(),
            all.len(),
            want.len()
        );
        assert!(!want.is_empty() && want.len() < all.len(), "the filter must split the capture");
        let name = format!("re-{proto_name}");
        let (ok, out) = rules(
            pg.url(),
            &[
                "add",
                &name,
                "--filter",
                "proto tcp and not dst port 179",
                "--to",
                &nfcapd.addr(),
                "--reencode",
                proto_name,
            ],
        );
        assert!(ok, "{out}");
        wait_rules(&collector, 1);
        let mut replay = Replayer::new(base, 2000);
        replay.send(&datagrams, collector.target()).unwrap();
        let sent =
            format!("flowvision_forward_destination_sent_records_total{{destination=\"{}\"", nfcapd.addr());
        let deadline = Instant::now() + Duration::from_secs(10);
        while collector.metric(&sent) != Some(want.len() as u64) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        std::thread::sleep(Duration::from_millis(300));
        let flows = nfcapd.stop_and_read();
        let got_bytes: u64 = flows.iter().map(|f| f.1).sum();
        let got_packets: u64 = flows.iter().map(|f| f.2).sum();
        let want_bytes: u64 = want.iter().map(|r| r.bytes).sum();
        let want_packets: u64 = want.iter().map(|r| r.packets).sum();
        println!(
            "nfdump ({proto_name}): {} flows, {got_bytes} bytes, {got_packets} packets; expected {} / {want_bytes} / {want_packets}",
            flows.len(),
            want.len()
        );
        assert_eq!(flows.len(), want.len());
        assert_eq!(got_bytes, want_bytes);
        assert_eq!(got_packets, want_packets);
        assert!(flows.iter().all(|f| f.0 == 6), "a non-TCP flow reached the receiver");
        let (ok, out) = rules(pg.url(), &["del", &name]);
        assert!(ok, "{out}");
        wait_rules(&collector, 0);
    }
    collector.stop();
}

/// Raw forwarding next to a dead destination: the live receiver gets exactly the
/// datagrams holding a matching record plus the template/options datagrams,
/// byte-for-byte; the dead one's drops are counted; storage gets every record.
#[test]
fn raw_forwarding_sends_only_matching_datagrams_and_survives_a_dead_destination() {
    let pg = PgCluster::start().unwrap();
    let collector = Collector::start(pg.url());
    let live = Sink::start();
    let dead = format!("127.0.0.1:{}", free_udp_port()); // nothing listens there
    let base = Ipv4Addr::new(127, 12, 0, 0);
    let (datagrams, expected) = load(IPFIX, base);
    let filter = "proto tcp and not dst port 179";
    let want: Vec<&Expected> = expected
        .iter()
        .filter(|e| e.carries_templates || e.records.iter().any(|r| r.proto == 6 && r.dst_port != 179))
        .collect();
    let matching_records: usize =
        expected.iter().flat_map(|e| &e.records).filter(|r| r.proto == 6 && r.dst_port != 179).count();
    let total_records: usize = expected.iter().map(|e| e.records.len()).sum();
    println!(
        "{IPFIX}: {} datagrams, {} to forward ({} carry templates/options), {matching_records} matching of {total_records} records",
        datagrams.len(),
        want.len(),
        want.iter().filter(|e| e.carries_templates).count()
    );
    assert!(want.len() < datagrams.len(), "the filter must leave datagrams out");
    // A receiver that never reads (tiny buffer): the kernel drops silently, no ICMP.
    let stalled = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    socket2::SockRef::from(&stalled).set_recv_buffer_size(1024).unwrap();
    let blackhole = stalled.local_addr().unwrap().to_string();
    for (name, to) in
        [("dead", dead.clone()), ("blackhole", blackhole.clone()), ("live", live.addr.to_string())]
    {
        let (ok, out) = rules(pg.url(), &["add", name, "--filter", filter, "--to", &to]);
        assert!(ok, "{out}");
    }
    wait_rules(&collector, 3);
    let (ok, listing) = rules(pg.url(), &["list"]);
    println!("{listing}");
    assert!(ok && ["dead", "blackhole", "live", filter].iter().all(|w| listing.contains(w)), "{listing}");
    let (ok, err) = rules(pg.url(), &["add", "bad", "--filter", "proto tcp and dst prt 443", "--to", &dead]);
    assert!(!ok && err.contains("position 18 (`prt`)"), "{err}");
    let mut replay = Replayer::new(base, 0);
    let start = Instant::now();
    replay.send(&datagrams, collector.target()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while live.count() < want.len() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    println!("live receiver got {} datagrams in {:?}", live.count(), start.elapsed());
    std::thread::sleep(Duration::from_millis(300));
    let dead_dropped = collector
        .metric(&format!("flowvision_forward_destination_dropped_total{{destination=\"{dead}\",mode=\"raw\",reason=\"unreachable\"}}"))
        .unwrap_or(0);
    let dead_state = collector.scrape().unwrap_or_default();
    let got = live.finish();
    let mut want_payloads: BTreeMap<Vec<u8>, usize> = BTreeMap::new();
    for e in &want {
        *want_payloads.entry(e.payload.clone()).or_default() += 1;
    }
    let mut got_payloads: BTreeMap<Vec<u8>, usize> = BTreeMap::new();
    for (_, p, _) in &got {
        *got_payloads.entry(p.clone()).or_default() += 1;
    }
    assert_eq!(got.len(), want.len(), "datagram count at the live receiver");
    assert!(got_payloads == want_payloads, "forwarded datagrams differ from the expected ones");
    println!("dead destination: {dead_dropped} datagrams dropped as unreachable");
    for line in dead_state.lines().filter(|l| l.contains(&blackhole) && !l.ends_with(" 0")) {
        println!("blackhole: {line}");
    }
    assert!(dead_dropped > 0, "ICMP unreachable not noticed:\n{dead_state}");
    assert!(dead_state.contains(&format!("destination=\"{dead}\",mode=\"raw\",state=\"unreachable\"")));
    let rows = wait_rows(&pg, total_records as i64, Duration::from_secs(10));
    assert_eq!(rows, total_records as i64, "storage lost records");
    collector.stop();
}

/// Live reload: a rule added during a replay takes effect within a second and no
/// datagram is lost across the change (neither forwarded nor stored).
#[test]
fn live_reload_takes_effect_within_a_second_without_loss() {
    let pg = PgCluster::start().unwrap();
    let collector = Collector::start(pg.url());
    let sink = Sink::start();
    let base = Ipv4Addr::new(127, 13, 0, 0);
    let (datagrams, expected) = load(V9, base);
    let total_records: usize = expected.iter().map(|e| e.records.len()).sum();
    // Replay the capture several times (paced) in a thread; add the rule mid-way.
    let rounds = 10;
    let target = collector.target();
    let replay = {
        let datagrams = datagrams.clone();
        std::thread::spawn(move || {
            let mut r = Replayer::new(base, 200);
            for _ in 0..rounds {
                r.send(&datagrams, target).unwrap();
            }
        })
    };
    std::thread::sleep(Duration::from_millis(1500));
    // Measured from before the CLI starts: includes its start-up, connection and
    // INSERT, so the bound is conservative.
    let added = Instant::now();
    let (ok, out) = rules(pg.url(), &["add", "late", "--filter", "any", "--to", &sink.addr.to_string()]);
    println!("`rules add` took {:?}", added.elapsed());
    assert!(ok, "{out}");
    replay.join().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let got = sink.finish();
    let first = got.first().map(|g| g.2.duration_since(added)).unwrap();
    println!(
        "first forwarded datagram {first:?} after `rules add` started; {} datagrams forwarded",
        got.len()
    );
    assert!(first < Duration::from_secs(1));
    // With `any`, every datagram after the swap is forwarded: the forwarded ones must
    // be exactly the tail of what was sent, in order, with nothing missing.
    let all: Vec<&[u8]> = (0..rounds).flat_map(|_| datagrams.iter().map(|d| d.payload.as_slice())).collect();
    let tail = &all[all.len() - got.len()..];
    assert!(got.iter().map(|g| g.1.as_slice()).eq(tail.iter().copied()), "a datagram was lost or reordered");
    assert!(got.len() < all.len() && !got.is_empty());
    let rows = wait_rows(&pg, (total_records * rounds) as i64, Duration::from_secs(10));
    assert_eq!(rows, (total_records * rounds) as i64, "storage lost records across the reload");
    collector.stop();
}

/// Transparent mode: the receiver sees the exporter's address as the source.
#[test]
fn transparent_forwarding_keeps_the_exporter_address() {
    if !nix_is_root() {
        println!("SKIPPED: transparent forwarding needs root (CAP_NET_RAW)");
        return;
    }
    let pg = PgCluster::start().unwrap();
    let collector = Collector::start(pg.url());
    let sink = Sink::start();
    let base = Ipv4Addr::new(127, 14, 0, 0);
    let (datagrams, expected) = load(V9, base);
    let (ok, out) =
        rules(pg.url(), &["add", "tp", "--filter", "any", "--to", &sink.addr.to_string(), "--transparent"]);
    assert!(ok, "{out}");
    wait_rules(&collector, 1);
    let mut replay = Replayer::new(base, 0);
    replay.send(&datagrams, collector.target()).unwrap();
    let want = expected.iter().filter(|e| !e.records.is_empty() || e.carries_templates).count();
    let deadline = Instant::now() + Duration::from_secs(10);
    while sink.count() < want && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let mapping = replay.mapping();
    let got = sink.finish();
    println!("transparent: {} datagrams received (expected {want}); exporters {:?}", got.len(), mapping);
    assert_eq!(got.len(), want);
    let exporters: Vec<_> = mapping.values().copied().collect();
    for (from, payload, _) in &got {
        assert!(exporters.contains(&from.ip()), "source {from} is not an exporter");
        assert!(datagrams.iter().any(|d| d.payload == *payload));
    }
    collector.stop();
}

fn nix_is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn sh(cmd: &str) -> bool {
    std::process::Command::new("sh").arg("-c").arg(cmd).status().map(|s| s.success()).unwrap_or(false)
}

/// Transparent mode across a network namespace: the collector (host namespace)
/// forwards over a veth pair to nfcapd inside the namespace, spoofing the exporter's
/// address; nfdump's exporter column (%ra) must show the exporter, not the relay.
#[test]
fn transparent_forwarding_into_a_network_namespace() {
    if !nix_is_root() {
        println!("SKIPPED: needs root (network namespaces, CAP_NET_RAW)");
        return;
    }
    if !sh("command -v ip >/dev/null") {
        println!("SKIPPED: iproute2 `ip` not installed");
        return;
    }
    let id = std::process::id() % 200 + 20;
    let ns = format!("fvtp{id}");
    let (host_if, ns_if) = (format!("fvh{id}"), format!("fvn{id}"));
    let (host_ip, ns_ip, exporter) =
        (format!("10.200.{id}.1"), format!("10.200.{id}.2"), Ipv4Addr::new(10, 201, id as u8, 5));
    let cleanup = format!(
        "ip netns del {ns} 2>/dev/null; ip link del {host_if} 2>/dev/null; ip addr del {exporter}/32 dev lo 2>/dev/null; true"
    );
    sh(&cleanup);
    let setup = [
        format!("ip netns add {ns}"),
        format!("ip link add {host_if} type veth peer name {ns_if}"),
        format!("ip link set {ns_if} netns {ns}"),
        format!("ip addr add {host_ip}/24 dev {host_if}"),
        format!("ip link set {host_if} up"),
        format!("ip addr add {exporter}/32 dev lo"),
        format!("ip netns exec {ns} ip addr add {ns_ip}/24 dev {ns_if}"),
        format!("ip netns exec {ns} ip link set {ns_if} up"),
        format!("ip netns exec {ns} ip link set lo up"),
        format!("ip netns exec {ns} ip route add default via {host_ip}"),
        format!(
            "ip netns exec {ns} sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.{ns_if}.rp_filter=0"
        ),
    ];
    for cmd in &setup {
        if !sh(cmd) {
            sh(&cleanup);
            println!(
                "SKIPPED: network namespace setup failed at `{cmd}` (no CAP_SYS_ADMIN in this container?)"
            );
            return;
        }
    }
    let result = std::panic::catch_unwind(|| {
        let pg = PgCluster::start().unwrap();
        let collector = Collector::start(pg.url());
        let dir = tempfile::tempdir().unwrap();
        let port = free_udp_port();
        let mut nfcapd = std::process::Command::new("ip")
            .args([
                "netns",
                "exec",
                &ns,
                "nfcapd",
                "-w",
                dir.path().to_str().unwrap(),
                "-p",
                &port.to_string(),
            ])
            .args(["-b", &ns_ip])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(500));
        let to = format!("{ns_ip}:{port}");
        let (ok, out) = rules(pg.url(), &["add", "tp-ns", "--filter", "any", "--to", &to, "--transparent"]);
        assert!(ok, "{out}");
        wait_rules(&collector, 1);
        let base = Ipv4Addr::from(u32::from(exporter) - 1);
        let (datagrams, expected) = load(V9, base);
        let records: usize = expected.iter().map(|e| e.records.len()).sum();
        let mut replay = Replayer::new(base, 0);
        replay.send(&datagrams, collector.target()).unwrap();
        let sent = format!("flowvision_forward_destination_sent_datagrams_total{{destination=\"{to}\"");
        let deadline = Instant::now() + Duration::from_secs(10);
        while collector.metric(&sent) != Some(datagrams.len() as u64) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        std::thread::sleep(Duration::from_millis(500));
        let _ = std::process::Command::new("kill").arg("-TERM").arg(nfcapd.id().to_string()).status();
        let _ = nfcapd.wait();
        let out = std::process::Command::new("nfdump")
            .args(["-R", dir.path().to_str().unwrap(), "-q", "-N", "-o", "fmt:%ra"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let sources: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
        println!(
            "transparent via netns: nfdump shows {} flows (capture has {records}), exporter column {:?}",
            sources.len(),
            sources.iter().collect::<std::collections::BTreeSet<_>>()
        );
        assert!(!sources.is_empty(), "nothing arrived in the namespace");
        assert!(sources.iter().all(|s| *s == exporter.to_string()), "receiver saw another source");
        assert_eq!(sources.len(), records);
        collector.stop();
    });
    sh(&cleanup);
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}
