//! A connection's answer is sent whatever the rate: the generator used to cut a
//! tick's last connection to its request when only one flow was left due, so a slow
//! run was almost all one-way flows and a fast one had, now and then, a large
//! transfer never answered (the clean evaluation week's "exfiltration" and
//! "UDP flood" false positives).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use common::*;
use flowvision_codec::{FlowRecord, Protocol};
use flowvision_sim::traffic::services::flags::{FIN, RST, SYN};
use flowvision_sim::traffic::services::proto::{ICMP, ICMPV6, TCP};
use std::collections::HashMap;
use std::net::IpAddr;

type Key = (Option<IpAddr>, Option<IpAddr>, u8, u16, u16);

/// Whether a record's ports name its connection (ICMP echo keeps none: repeated pings
/// of one pair share a key).
fn has_ports(r: &FlowRecord) -> bool {
    r.proto != ICMP && r.proto != ICMPV6
}

/// The share of non-ICMP records whose reverse direction (addresses and ports
/// swapped) was also sent, and how many records were looked at.
fn answered_share(records: &[FlowRecord]) -> (f64, usize) {
    let mut seen: HashMap<Key, usize> = HashMap::new();
    let considered: Vec<&FlowRecord> = records.iter().filter(|r| has_ports(r)).collect();
    for r in &considered {
        *seen.entry((r.src_addr, r.dst_addr, r.proto, r.src_port, r.dst_port)).or_default() += 1;
    }
    let answered = considered
        .iter()
        .filter(|r| seen.contains_key(&(r.dst_addr, r.src_addr, r.proto, r.dst_port, r.src_port)))
        .count();
    (answered as f64 / considered.len().max(1) as f64, considered.len())
}

#[test]
fn connections_are_answered_at_low_and_high_rates() {
    for (rate, count) in [(5.0, 1_500), (33.0, 3_000), (20_000.0, 20_000)] {
        let mut s = scenario(&[Protocol::Ipfix], 1, count, 21);
        s.rate = rate;
        let (sent, sim) = run(plan(&s), None);
        let records = account(&sent);
        let (share, n) = answered_share(&records);
        println!("{rate} flows/s: {:.3} of {n} records answered", share);
        // Nearly every service answers (failed TCP handshakes half the time, syslog
        // never): 98 % of records have their reverse at any rate.
        assert!(share > 0.95, "{rate} flows/s: only {share:.3} of {n} records have their answer");
        assert_eq!(sim.flows(), count, "{rate} flows/s: the flow budget still holds exactly");
    }
}

/// A connection longer than the exporter's active timeout (60 s) reaches the
/// collector as one record per timeout at its own pace, as a router's flow cache
/// exports it. Until session 28 the whole connection went into one record cut to a
/// minute, so a 2-million-packet elephant ran at 33,000 packets/s: a flood.
#[test]
fn long_connections_come_one_record_per_active_timeout_at_their_own_pace() {
    let mut s = scenario(&[Protocol::Ipfix], 1, 40_000, 23);
    s.rate = 400.0;
    s.speedup = 60.0; // 100 s of virtual time: 100 minutes of traffic
    let (sent, _) = run(plan(&s), None);
    let records = account(&sent);
    let mut connections: HashMap<Key, Vec<&FlowRecord>> = HashMap::new();
    for r in records.iter().filter(|r| has_ports(r)) {
        connections.entry((r.src_addr, r.dst_addr, r.proto, r.src_port, r.dst_port)).or_default().push(r);
    }
    let (mut long, mut pieces) = (0, 0);
    for (key, mut recs) in connections.into_iter().filter(|(_, v)| v.len() >= 5) {
        recs.sort_by_key(|r| r.flow_start_ms);
        let times: Vec<(i64, i64)> =
            recs.iter().map(|r| (r.flow_start_ms.unwrap(), r.flow_end_ms.unwrap())).collect();
        // Back to back, a minute each but the last.
        for (i, w) in times.windows(2).enumerate() {
            assert_eq!(w[0].1, w[1].0, "{key:?} piece {i}: {times:?}");
            assert!(w[0].1 - w[0].0 <= 60_000, "{key:?} piece {i} longer than the timeout: {times:?}");
        }
        // The same pace in every full minute (the first may start a round trip late).
        let full: Vec<u64> = recs[1..recs.len() - 1].iter().map(|r| r.packets).collect();
        let (lo, hi) = (full.iter().min().unwrap(), full.iter().max().unwrap());
        assert!(hi - lo <= 1 + hi / 100, "{key:?}: packets per minute {full:?}");
        if key.2 == TCP {
            // Opening flags first, closing flags last, neither in between (unless
            // the connection was already open before, `ACK|PSH` throughout).
            let flags: Vec<u16> = recs.iter().map(|r| r.tcp_flags).collect();
            assert!(
                flags[1..flags.len() - 1].iter().all(|f| f & (SYN | FIN | RST) == 0),
                "{key:?}: {flags:?}"
            );
            assert_eq!(flags[0] & (FIN | RST), 0, "{key:?}: {flags:?}");
            assert_eq!(flags[flags.len() - 1] & SYN, 0, "{key:?}: {flags:?}");
        }
        long += 1;
        pieces += recs.len();
    }
    println!("{long} connections of 5 minutes or more in {pieces} of {} records", records.len());
    assert!(long >= 20 && pieces * 50 > records.len(), "{long} long connections, {pieces} records");
}
