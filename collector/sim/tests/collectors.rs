//! Real collectors accept the simulator's traffic and count exactly what its summary
//! says: nfdump's nfcapd for NetFlow v5/v9 and IPFIX, pmacct's sfacctd for sFlow.
//! Each daemon runs on a free loopback port, receives a paced run from several
//! exporter addresses, is stopped cleanly, and its per-exporter totals (flows,
//! bytes, packets) are compared with the summary's. Skipped (with the reason
//! printed) when a tool is missing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use common::*;
use flowvision_codec::Protocol;
use flowvision_sim::scenario::ExporterGroup;
use flowvision_sim::{run as sim_run, RunOptions, Summary};
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Waits until something has bound `port` on 127.0.0.1 (the daemon is listening).
fn wait_bound(port: u16, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if UdpSocket::bind(("127.0.0.1", port)).is_err() {
            return;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("collector exited early: {status}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("collector did not bind port {port}");
}

/// Sends `signal` and waits (at most 20 s) for the daemon to exit.
fn stop(child: &mut Child, signal: &str) {
    let status = Command::new("kill").args([signal, &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if child.try_wait().unwrap().is_some() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    panic!("collector did not stop on {signal}");
}

fn send(scenario: &flowvision_sim::Scenario, port: u16) -> Summary {
    let target: SocketAddr = ([127, 0, 0, 1], port).into();
    let options = RunOptions { targets: vec![target], paced: true, ..RunOptions::default() };
    let summary = sim_run(plan(scenario), &options).unwrap().summary;
    let udp = summary.udp.as_ref().unwrap();
    assert_eq!(udp.targets[0].failed_datagrams, 0, "every datagram handed to the kernel");
    assert_eq!(udp.targets[0].flows, summary.totals.flows);
    summary
}

fn group(protocol: Protocol, sampling_rate: u32, domains: Vec<u32>) -> ExporterGroup {
    ExporterGroup { protocol, sampling_rate, domains, ..ExporterGroup::default() }
}

#[test]
fn nfcapd_counts_what_the_summary_says() {
    let (Some(nfcapd), Some(nfdump)) = (tool("nfcapd"), tool("nfdump")) else { return };
    let dir = temp_dir("nfcapd");
    let flows_dir = dir.join("flows");
    std::fs::create_dir_all(&flows_dir).unwrap();
    let port = free_udp_port();
    // nfdump 1.7 names the flow directory -w; 1.6 used -l.
    let help = Command::new(&nfcapd).arg("-h").output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout).to_string() + &String::from_utf8_lossy(&help.stderr);
    let dir_flag = if help.contains("-w ") { "-w" } else { "-l" };
    let mut child = Command::new(&nfcapd)
        .arg(dir_flag)
        .arg(&flows_dir)
        .args(["-p", &port.to_string(), "-b", "127.0.0.1", "-t", "3600", "-B", "16777216"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_bound(port, &mut child);

    let mut s = scenario(&[Protocol::NetflowV5], 1, 30_000, 9);
    s.rate = 30_000.0;
    s.exporters = vec![
        group(Protocol::NetflowV5, 1, vec![0]),
        // nfcapd scales v5 counters by the header's sampling interval.
        group(Protocol::NetflowV5, 100, vec![0x0102]),
        group(Protocol::NetflowV9, 1, vec![0]),
        group(Protocol::NetflowV9, 1, vec![1, 2]),
        group(Protocol::Ipfix, 1, vec![0]),
        group(Protocol::Ipfix, 1, vec![5, 6]),
    ];
    s.exporters[3].restart_at = vec!["300ms".into()];
    s.exporters[5].restart_at = vec!["300ms".into()];
    let summary = send(&s, port);
    std::thread::sleep(Duration::from_millis(300));
    stop(&mut child, "-TERM");

    let out = Command::new(&nfdump)
        .arg("-R")
        .arg(&flows_dir)
        .args(["-q", "-N", "-A", "router", "-o", "fmt:%ra %fl %byt %pkt"])
        .output()
        .unwrap();
    assert!(out.status.success(), "nfdump: {}", String::from_utf8_lossy(&out.stderr));
    let mut got: BTreeMap<IpAddr, (u64, u64, u64)> = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() == 4 {
            got.insert(
                f[0].parse().unwrap(),
                (f[1].parse().unwrap(), f[2].parse().unwrap(), f[3].parse().unwrap()),
            );
        }
    }
    assert_eq!(got.len(), summary.exporters.len(), "nfdump saw every exporter: {got:?}");
    for e in &summary.exporters {
        let scale = if e.protocol == Protocol::NetflowV5 { u64::from(e.sampling_rate.max(1)) } else { 1 };
        assert_eq!(
            got.get(&e.address).copied(),
            Some((e.flows, e.bytes * scale, e.packets * scale)),
            "exporter {} ({})",
            e.address,
            e.protocol
        );
    }
    // Overall totals of the unsampled exporters are the summary's, unscaled.
    let unsampled: (u64, u64, u64) = summary
        .exporters
        .iter()
        .filter(|e| e.sampling_rate == 1)
        .fold((0, 0, 0), |t, e| (t.0 + e.flows, t.1 + e.bytes, t.2 + e.packets));
    let nf_unsampled = summary
        .exporters
        .iter()
        .filter(|e| e.sampling_rate == 1)
        .map(|e| got[&e.address])
        .fold((0, 0, 0), |t, g| (t.0 + g.0, t.1 + g.1, t.2 + g.2));
    assert_eq!(nf_unsampled, unsampled);
    println!(
        "nfcapd: {} exporters, {} flows, {} bytes, {} packets: equal to the summary",
        got.len(),
        summary.totals.flows,
        summary.totals.bytes,
        summary.totals.packets
    );
}

fn sfacctd_config(path: &Path, port: u16, csv: &Path) {
    let text = format!(
        "daemonize: false\n\
         sfacctd_ip: 127.0.0.1\n\
         sfacctd_port: {port}\n\
         sfacctd_pipe_size: 16777216\n\
         sfacctd_renormalize: false\n\
         plugins: print[all]\n\
         aggregate[all]: peer_src_ip\n\
         print_output[all]: csv\n\
         print_output_file[all]: {}\n\
         print_refresh_time[all]: 3600\n",
        csv.display()
    );
    std::fs::write(path, text).unwrap();
}

#[test]
fn sfacctd_counts_what_the_summary_says() {
    let Some(sfacctd) = tool("sfacctd") else { return };
    let dir = temp_dir("sfacctd");
    let port = free_udp_port();
    let csv = dir.join("out.csv");
    let conf = dir.join("sfacctd.conf");
    sfacctd_config(&conf, port, &csv);
    let mut child = Command::new(&sfacctd)
        .arg("-f")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_bound(port, &mut child);

    let mut s = scenario(&[Protocol::SflowV5], 1, 20_000, 13);
    s.rate = 20_000.0;
    s.exporters = vec![
        group(Protocol::SflowV5, 1, vec![0]),
        group(Protocol::SflowV5, 512, vec![0, 1]),
        group(Protocol::SflowV5, 2048, vec![3]),
        group(Protocol::SflowV5, 1, vec![0]),
    ];
    s.exporters[1].restart_at = vec!["300ms".into()];
    let summary = send(&s, port);
    std::thread::sleep(Duration::from_millis(300));
    // pmacct writes its cache out when interrupted.
    stop(&mut child, "-INT");

    let text = std::fs::read_to_string(&csv).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("PEER_SRC_IP,PACKETS,BYTES"), "{text}");
    let mut got: BTreeMap<IpAddr, (u64, u64)> = BTreeMap::new();
    for line in lines {
        let f: Vec<&str> = line.split(',').collect();
        let e = got.entry(f[0].parse().unwrap()).or_default();
        *e = (e.0 + f[1].parse::<u64>().unwrap(), e.1 + f[2].parse::<u64>().unwrap());
    }
    assert_eq!(got.len(), summary.exporters.len(), "{got:?}");
    for e in &summary.exporters {
        // sFlow: one packet per sample, bytes = sampled frame lengths.
        assert_eq!(e.flows, e.packets);
        assert_eq!(got.get(&e.address).copied(), Some((e.packets, e.bytes)), "exporter {}", e.address);
    }
    println!(
        "sfacctd: {} agents, {} samples, {} bytes: equal to the summary",
        got.len(),
        summary.totals.flows,
        summary.totals.bytes
    );
}
