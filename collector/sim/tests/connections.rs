//! A connection's answer is sent whatever the rate: the generator used to cut a
//! tick's last connection to its request when only one flow was left due, so a slow
//! run was almost all one-way flows and a fast one had, now and then, a large
//! transfer never answered (the clean evaluation week's "exfiltration" and
//! "UDP flood" false positives).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use common::*;
use flowvision_codec::{FlowRecord, Protocol};
use std::collections::HashMap;
use std::net::IpAddr;

type Key = (Option<IpAddr>, Option<IpAddr>, u8, u16, u16);

/// The share of non-ICMP records whose reverse direction (addresses and ports
/// swapped) was also sent, and how many records were looked at.
fn answered_share(records: &[FlowRecord]) -> (f64, usize) {
    let mut seen: HashMap<Key, usize> = HashMap::new();
    let considered: Vec<&FlowRecord> = records.iter().filter(|r| r.proto != 1 && r.proto != 58).collect();
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
