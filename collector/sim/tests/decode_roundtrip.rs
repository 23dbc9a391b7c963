//! The simulator's own account of what it sent equals what FlowVision's decoder
//! reads back from its pcap output (and from real UDP datagrams), record by record;
//! the summary equals the decoded totals; a seed gives byte-identical output.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use common::*;
use flowvision_codec::{Decoder, Protocol, TemplateCacheConfig};
use flowvision_sim::output::udp::UdpSender;
use flowvision_sim::scenario::AnomalySpec;
use flowvision_sim::AnomalyKind;
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

fn check_pcap_roundtrip(name: &str, protocols: &[Protocol], exporters: usize, count: u64, restart: bool) {
    let dir = temp_dir(name);
    let pcap = dir.join("out.pcap");
    let mut s = scenario(protocols, exporters, count, 11);
    if restart {
        for g in &mut s.exporters {
            g.restart_at = vec!["150ms".into(), "400ms".into()];
        }
        for k in AnomalyKind::ALL {
            let mut a = AnomalySpec::new(k);
            a.start = Some("100ms".into());
            a.duration = Some("2s".into());
            s.anomalies.push(a);
        }
    }
    let (sent, sim) = run(plan(&s), Some(&pcap));
    let account = account(&sent);
    let (decoded, datagrams) = decode_pcap(&pcap);
    assert_eq!(datagrams as usize, sent.len());
    assert_eq!(decoded.len(), account.len(), "{name}: record count");
    for (i, (got, want)) in decoded.iter().zip(&account).enumerate() {
        assert_eq!(got, want, "{name}: record {i} differs");
    }
    // The summary's per-exporter totals equal the decoded records' totals.
    let mut by_exporter: BTreeMap<IpAddr, (u64, u64, u64)> = BTreeMap::new();
    for r in &decoded {
        let t = by_exporter.entry(r.exporter).or_default();
        *t = (t.0 + 1, t.1 + r.bytes, t.2 + r.packets);
    }
    for e in sim.exporters() {
        let got = by_exporter.get(&e.plan.address).copied().unwrap_or_default();
        assert_eq!(
            got,
            (e.stats.flows, e.stats.bytes, e.stats.packets),
            "{name}: exporter {}",
            e.plan.address
        );
        if restart {
            assert_eq!(e.stats.restarts, 2);
        }
    }
    assert_eq!(sim.flows(), count);
    assert_eq!(decoded.len() as u64, count);
    let v6 = decoded.iter().filter(|r| matches!(r.src_addr, Some(IpAddr::V6(_)))).count();
    println!(
        "{name}: {} datagrams, {} records decoded from the pcap equal the account ({} IPv6)",
        datagrams,
        decoded.len(),
        v6
    );
}

#[test]
fn each_protocol_decodes_to_the_account() {
    for p in Protocol::ALL {
        check_pcap_roundtrip(p.as_str(), &[p], 3, 6000, false);
    }
}

#[test]
fn mixed_run_with_restarts_and_anomalies_decodes_to_the_account() {
    check_pcap_roundtrip("mixed", &Protocol::ALL, 8, 30_000, true);
}

#[test]
fn sequence_numbers_follow_each_protocol() {
    let mut s = scenario(&Protocol::ALL, 4, 8000, 5);
    for g in &mut s.exporters {
        g.domains = vec![7];
        g.restart_at = vec!["200ms".into()];
    }
    let (sent, _) = run(plan(&s), None);
    for e in 0..4 {
        let ds: Vec<_> = sent.iter().filter(|d| d.exporter == e).collect();
        let mut expected = None::<u32>;
        let mut resets = 0;
        for d in &ds {
            let first = match d.protocol {
                Protocol::SflowV5 => 1,
                _ => 0,
            };
            if d.sequence == first && expected.is_some() && expected != Some(first) {
                resets += 1;
            } else if let Some(x) = expected {
                assert_eq!(d.sequence, x, "{:?}", d.protocol);
            } else {
                assert_eq!(d.sequence, first);
            }
            // v5 counts flows, IPFIX data records, v9 and sFlow datagrams.
            let step = match d.protocol {
                Protocol::NetflowV5 | Protocol::Ipfix => d.records.len() as u32,
                _ => 1,
            };
            expected = Some(d.sequence + step);
            assert!(d.records.iter().all(|r| r.sequence == d.sequence && r.observation_domain == 7));
        }
        assert_eq!(resets, 1, "exporter {e}: one restart, one sequence reset");
        // Templates in the first datagram and again right after the restart.
        if matches!(ds[0].protocol, Protocol::NetflowV9 | Protocol::Ipfix) {
            assert!(ds[0].templates);
            let after = ds.iter().position(|d| d.sequence == 0 && !std::ptr::eq(*d, ds[0])).unwrap();
            assert!(ds[after].templates);
            let refreshes = ds.iter().filter(|d| d.templates).count();
            assert!(refreshes >= ds.len() / 5 - 1, "refresh every 5 datagrams: {refreshes}/{}", ds.len());
        }
    }
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let dir = temp_dir("determinism");
    let s = scenario(&Protocol::ALL, 4, 5000, 77);
    run(plan(&s), Some(&dir.join("a.pcap")));
    run(plan(&s), Some(&dir.join("b.pcap")));
    let mut other = s.clone();
    other.seed = Some(78);
    run(plan(&other), Some(&dir.join("c.pcap")));
    let a = std::fs::read(dir.join("a.pcap")).unwrap();
    assert_eq!(a, std::fs::read(dir.join("b.pcap")).unwrap());
    assert_ne!(a, std::fs::read(dir.join("c.pcap")).unwrap());
    println!("determinism: {} pcap bytes identical for one seed, different for another", a.len());
}

#[test]
fn udp_over_loopback_from_distinct_exporter_addresses() {
    // A collector socket on loopback; exporters send from 127.1.0.x.
    let collector = UdpSocket::bind("127.0.0.1:0").unwrap();
    collector.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
    let target = collector.local_addr().unwrap();
    let mut s = scenario(&Protocol::ALL, 8, 20_000, 3);
    s.rate = 40_000.0;
    let p = plan(&s);
    let addrs: Vec<IpAddr> = p.exporters.iter().map(|e| e.address).collect();
    let mut sim = flowvision_sim::Simulation::new(p).unwrap();
    let mut udp = UdpSender::new(&addrs, vec![target], true).unwrap();
    let mut sent = Vec::new();
    let decoder = Decoder::new(TemplateCacheConfig::default());
    let mut received = Vec::new();
    let mut got_from = BTreeMap::new();
    let started = Instant::now();
    {
        use flowvision_sim::exporter::{Datagram, Sink};
        let mut buf = vec![0u8; 65_536];
        collector.set_nonblocking(true).unwrap();
        let mut sink = |d: &Datagram<'_>| {
            udp.send(d)?;
            sent.extend_from_slice(d.records);
            // Drain as we go so the socket buffer never overflows.
            while let Ok((n, from)) = collector.recv_from(&mut buf) {
                *got_from.entry(from.ip()).or_insert(0u64) += 1;
                received.extend(decode_datagram(&decoder, from, &buf[..n], 0));
            }
            Ok(())
        };
        sim.run(&mut sink).unwrap();
        collector.set_nonblocking(false).unwrap();
        while let Ok((n, from)) = collector.recv_from(&mut buf) {
            *got_from.entry(from.ip()).or_insert(0u64) += 1;
            received.extend(decode_datagram(&decoder, from, &buf[..n], 0));
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let report = udp.report();
    let stats = &udp.stats[0];
    assert_eq!(stats.failed_datagrams, 0);
    assert_eq!(stats.flows, 20_000);
    assert_eq!(got_from.len(), 8, "one source address per exporter: {got_from:?}");
    assert!(got_from.keys().all(|a| addrs.contains(a)));
    assert_eq!(received.len(), sent.len());
    assert_eq!(received, sent);
    // Pacing: 20,000 flows at 40,000 flows/s (diurnal peak at 15:00, start 14:00 is
    // near it) take about half a second, not much less and not much more.
    // Never early; the upper bound only guards against a stuck sender on a loaded machine.
    assert!(elapsed > 0.4 && elapsed < 20.0, "elapsed {elapsed}");
    println!(
        "udp: {} records from {} exporter addresses received and decoded equal to the account; {:.3} s, \
         lateness p50 {} us p99 {} us",
        received.len(),
        got_from.len(),
        elapsed,
        report.lateness_us[0],
        report.lateness_us[2]
    );
    let _: SocketAddr = target;
}
