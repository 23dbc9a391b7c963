//! What a host did in one minute, as one vector: the input of the host anomaly model
//! (`flowvision-models`, an autoencoder trained on the appliance's own history).
//!
//! The collector's feature rows are 10-second partial aggregates per (exporter, host);
//! [`minutes`] merges them into minutes, [`activity_vector`] turns a minute into
//! `ln(1 + x) / 20` of each counter and distinct count, so a value of 1 is about
//! 485 million and every count of a busy host stays well inside [0, 1].

use crate::features::{merge_by, Counters, HostFeatures, HostKey};
use std::net::IpAddr;

/// Number of values in an activity vector.
pub const ACTIVITY_LEN: usize = 15;

/// One minute, Unix ms.
pub const MINUTE_MS: i64 = 60_000;

const SCALE: f64 = 20.0;

/// Counters of the feature rows the vector leaves out: reflected bytes say what
/// reflected packets already say, and probe records as exported are the scan rules'
/// sampling-rate estimate, not traffic; bytes leaving and entering the network are
/// part of the bytes sent and received, and leaving them out keeps models trained
/// before they were counted. Flows in and out are left out since session 21: behind a
/// packet sampler a long flow is one record per sampled packet (sFlow) or per active
/// timeout, each counted as N flows, so a backup through a 1:64 sFlow agent showed
/// 200,000-450,000 flows a minute where 3-5 are usual (all twelve of the model's false
/// positives on the held-out week of session 20). Packets and bytes scaled by N are
/// unbiased whatever the flows' lengths, and so are the one-packet events (SYN-only
/// packets, probes, refusals, echo requests) and the distinct counts, which is what
/// the model reads. The rules keep flows for their ratios (probe and answered shares),
/// which they were tuned on (docs/insights.md, "Flows under packet sampling").
const LEFT_OUT: [&str; 6] =
    ["flows_in", "flows_out", "amp_bytes_in", "probe_records_out", "bytes_out_external", "bytes_in_external"];

/// The distinct counts after the counters, from the rows' sketches.
const DISTINCT: [&str; 3] = ["distinct_sources_in", "distinct_peers_out", "distinct_ports_out"];

/// Names of the activity vector's values, in order: the feature rows' counters in
/// storage order ([`Counters::NAMES`]) but [`LEFT_OUT`], then the distinct counts.
pub fn activity_names() -> [&'static str; ACTIVITY_LEN] {
    let mut names = [""; ACTIVITY_LEN];
    let kept = Counters::NAMES.iter().filter(|n| !LEFT_OUT.contains(n));
    for (slot, name) in names.iter_mut().zip(kept.chain(DISTINCT.iter())) {
        *slot = name;
    }
    names
}

/// The smallest change of the named value in one minute worth an operator's attention:
/// 100 refusals/s, 8 Mbit/s, 1,000 packets/s, 10 probes or new peers per second. A host
/// the model finds unusual but whose change is smaller (one long UDP stream where the
/// history has none) is not reported: in the simulated clean week such minutes were
/// 111 of the model's 112 false positives (docs/models.md).
pub fn significance_floor(name: &str) -> f64 {
    if name.starts_with("bytes") {
        60.0e6
    } else if name == "refusals_in" {
        6_000.0
    } else if name.starts_with("probe") || name.starts_with("echo") || name.starts_with("distinct") {
        600.0
    } else {
        60_000.0
    }
}

/// Whether the named value, `value` where the model expected `expected`, changed by at
/// least its [`significance_floor`].
pub fn is_significant(name: &str, value: f64, expected: f64) -> bool {
    (value - expected).abs() >= significance_floor(name)
}

/// Whether the named activity value is about what the host sent (then the host is an
/// insight's source) rather than what it received (its target).
pub fn is_outbound(name: &str) -> bool {
    name.ends_with("_out")
}

/// The vector of one host's minute, in [`activity_names`] order.
pub fn activity_vector(f: &HostFeatures) -> [f32; ACTIVITY_LEN] {
    let counters = Counters::NAMES
        .iter()
        .zip(f.counters.fields())
        .filter(|(n, _)| !LEFT_OUT.contains(n))
        .map(|(_, v)| v as f64);
    let distinct = [f.sources_in.estimate(), f.peers_out.estimate(), f.ports_out.estimate()];
    let mut v = [0f32; ACTIVITY_LEN];
    for (slot, x) in v.iter_mut().zip(counters.chain(distinct)) {
        *slot = encode(x);
    }
    v
}

/// `ln(1 + x) / 20`, 0 for negative or non-finite input.
pub fn encode(x: f64) -> f32 {
    if x.is_finite() && x > 0.0 {
        ((1.0 + x).ln() / SCALE) as f32
    } else {
        0.0
    }
}

/// The count a vector value stands for (the inverse of [`encode`]).
pub fn decode(v: f32) -> f64 {
    (f64::from(v.max(0.0)) * SCALE).exp_m1()
}

/// A host's minute: (minute start ms, exporter, host).
pub type MinuteKey = (i64, IpAddr, IpAddr);

/// The rows merged per minute, exporter and host, in key order.
pub fn minutes(rows: &[(HostKey, HostFeatures)]) -> Vec<(MinuteKey, HostFeatures)> {
    merge_by(rows, |k| Some((k.bucket_ms.div_euclid(MINUTE_MS) * MINUTE_MS, k.exporter, k.host)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn buckets_merge_into_minutes_and_values_round_trip() {
        let ex = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
        let host = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
        let mut f = HostFeatures::default();
        f.counters.bytes_out = 1_000_000;
        f.counters.packets_out = 10;
        let rows: Vec<_> =
            (0..7).map(|i| (HostKey { bucket_ms: 60_000 + i * 10_000, exporter: ex, host }, f)).collect();
        let m = minutes(&rows);
        assert_eq!(m.len(), 2, "six buckets in the first minute, one in the next");
        let first = m
            .iter()
            .find(|(k, _)| *k == (60_000, ex, host))
            .map(|(_, f)| activity_vector(f))
            .unwrap_or_default();
        assert!(
            (decode(first[1]) - 6_000_000.0).abs() < 10.0,
            "f32 keeps about 7 digits: {}",
            decode(first[1])
        );
        assert!((decode(first[3]) - 60.0).abs() < 1e-4, "{}", decode(first[3]));
        assert_eq!(activity_names().len(), ACTIVITY_LEN);
        assert!(activity_names().iter().all(|n| !n.is_empty()), "every slot named: {:?}", activity_names());
        assert!(!activity_names().iter().any(|n| n.starts_with("flows")), "{:?}", activity_names());
        assert_eq!(activity_names()[1], "bytes_out");
        assert_eq!(activity_names()[ACTIVITY_LEN - 1], "distinct_ports_out");
        assert!(is_outbound("bytes_out") && !is_outbound("bytes_in"));
        for name in activity_names() {
            assert!(significance_floor(name) >= 600.0, "{name}");
        }
        assert_eq!(significance_floor("udp_packets_in"), 60_000.0);
        assert_eq!(encode(f64::NAN), 0.0);
        assert_eq!(encode(-5.0), 0.0);
    }
}
