//! `sample_packets`: the simulated traffic through a 1-in-10 packet sampler gives
//! fewer, smaller records whose corrected counters estimate the simulated flows, and
//! every flow the sampler missed is counted. (`count` counts records sent, so the
//! sampled run simulates more flows to send as many: compared per simulated flow.)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use common::*;
use flowvision_codec::Protocol;

fn totals(sample_packets: bool) -> (u64, u64, u64, u64) {
    let mut s = scenario(&[Protocol::Ipfix], 1, 40_000, 41);
    s.exporters[0].sampling_rate = 10;
    s.exporters[0].sample_packets = sample_packets;
    let (sent, sim) = run(plan(&s), None);
    let records = account(&sent);
    assert!(records.iter().all(|r| r.sampling_rate == 10 && r.packets >= 1));
    let stats = &sim.stats()[0];
    (
        records.len() as u64,
        records.iter().map(|r| r.packets).sum(),
        records.iter().map(|r| r.bytes).sum(),
        stats.not_sampled,
    )
}

#[test]
fn a_packet_sampler_thins_records_and_its_corrected_counters_estimate_the_traffic() {
    let (flows, packets, bytes, missed) = totals(false);
    let (thin_flows, thin_packets, thin_bytes, thin_missed) = totals(true);
    println!(
        "sampling: as drawn {flows} records, {packets} packets; 1:10 packet sampler {thin_flows} records \
         ({thin_missed} flows unseen), {thin_packets} packets x 10 = {}",
        thin_packets * 10
    );
    assert_eq!(missed, 0);
    assert_eq!(thin_flows, flows, "count counts records sent");
    let simulated = thin_flows + thin_missed;
    assert!(
        thin_missed * 3 > simulated,
        "short flows often have no sampled packet: {thin_missed} of {simulated}"
    );
    let per_flow = |total: u64, n: u64| total as f64 / n as f64;
    let ratio = per_flow(thin_packets * 10, simulated) / per_flow(packets, flows);
    assert!(
        (0.8..1.25).contains(&ratio),
        "corrected packets per simulated flow: {ratio:.3} of the unthinned"
    );
    let ratio = per_flow(thin_bytes * 10, simulated) / per_flow(bytes, flows);
    assert!((0.8..1.25).contains(&ratio), "corrected bytes per simulated flow: {ratio:.3} of the unthinned");
}

/// An sFlow agent samples a flow as its packets pass: a long flow's samples leave over
/// its duration, not in one burst with the connection (which made a one-way stream of
/// thousands of packets a second look ten times faster in a 10 s bucket).
#[test]
fn an_sflow_flows_samples_leave_over_its_duration() {
    // Five minutes of 200 flows/s.
    let mut s = scenario(&[Protocol::SflowV5], 1, 60_000, 43);
    s.rate = 200.0;
    s.exporters[0].sampling_rate = 64;
    s.exporters[0].sample_packets = true;
    let (sent, _) = run(plan(&s), None);
    // Each flow's samples, by their headers (a sample copies its flow's), with the
    // times of the datagrams that carried them.
    let mut times: std::collections::HashMap<_, Vec<i64>> = std::collections::HashMap::new();
    for d in &sent {
        for r in &d.records {
            let key = (r.src_addr, r.dst_addr, r.src_port, r.dst_port, r.proto);
            times.entry(key).or_default().push(d.sim_ns / 1_000_000);
        }
    }
    // Flows that began a minute (the longest) before the run ended: the samples of
    // those still passing leave with the run's last datagrams.
    let end = sent.iter().map(|d| d.sim_ns / 1_000_000).max().unwrap();
    let long: Vec<_> =
        times.values().filter(|t| t.len() >= 30 && *t.iter().min().unwrap() < end - 61_000).collect();
    assert!(!long.is_empty(), "the run has flows of 30 samples or more");
    for t in &long {
        let spread = t.iter().max().unwrap() - t.iter().min().unwrap();
        // 30 samples at 1:64 are about 2,000 packets; the simulated flows last at least
        // 20 ms a packet (the fastest a third of it): seconds, not one datagram's flush.
        assert!(spread >= 1_000, "{} samples within {spread} ms", t.len());
    }
    println!("{} flows of 30 samples or more, each spread over 1 s or more", long.len());
}
