//! `beaconing`: an internal host contacting one outside service at a regular interval
//! with small connections ([`crate::beacon`] tracks the pairs as the flows pass).
//!
//! The tracker reports every contact of a loosely regular pair; the rule asks for the
//! configured number of contacts and jitter, and leaves out the services whose
//! clients poll by design (DNS, NTP by default). The source is the internal host, the
//! target the outside address it checks in with.
//!
//! A check-in is nearly the same size each time; a pair whose contacts vary in size
//! (a person or an application fetching from a service on a timer by chance) must stay
//! regular for `beacon_irregular_min_contacts` instead, over its last 16 intervals
//! (the rows' `long_jitter`) and not only its last eight: a busy client's many
//! random connections to one service hold a regular run of eight now and then (run
//! AC, docs/benchmarks.md). Behind packet sampling sizes
//! tell nothing (a record's bytes are its sampled packets'), and timing alone decides.
//!
//! Behind packet sampling the period is a lattice fitted to the pair's last intervals
//! (`beacon/lattice.rs`, twelve at least, sixteen once there are), and random contacts
//! fit one by chance more often the fewer intervals there are and the looser the fit
//! allowed (the chance falls with the jitter allowed to the power of the intervals).
//! So the jitter allowed grows with the intervals fitted, to `beacon_max_jitter` at
//! sixteen ([`max_jitter`]): held-out run AD reported a busy client's random
//! connections seen 1 in 10 that fitted 15 s within 8 % over twelve intervals.

use super::{grade, Insight, Kind, Observation, Thresholds, Why};
use crate::beacon::{BeaconRow, PairKey, RING};
use crate::features::BUCKET_MS;
use std::collections::BTreeMap;

/// The rule over the periodic contacts that started in `[end_ms - window, end_ms)`.
pub(super) fn check(beacons: &[BeaconRow], end_ms: i64, t: &Thresholds, out: &mut Vec<Insight>) {
    let from = end_ms - t.beacon_window_secs.max(1) * 1000;
    // The latest contact of each pair says the most (all contacts so far).
    let mut latest: BTreeMap<PairKey, &BeaconRow> = BTreeMap::new();
    for b in beacons.iter().filter(|b| b.start_ms >= from && b.start_ms < end_ms) {
        let e = latest.entry(b.key).or_insert(b);
        if (b.start_ms, b.contacts) > (e.start_ms, e.contacts) {
            *e = b;
        }
    }
    for b in latest.values() {
        let sizes_regular = !matches!(b.size_jitter, Some(s) if s > t.beacon_max_size_jitter);
        let min_contacts = if sizes_regular {
            t.beacon_min_contacts
        } else {
            t.beacon_irregular_min_contacts.max(t.beacon_min_contacts)
        };
        let max_jitter = max_jitter(b, t);
        if f64::from(b.contacts) < min_contacts
            || b.jitter > max_jitter
            || (!sizes_regular && b.long_jitter > t.beacon_max_jitter)
            || (b.period_ms as f64) < t.beacon_min_period_secs * 1000.0
            || t.beacon_ignore_ports.contains(&b.key.port)
        {
            continue;
        }
        let (score, severity) = grade(f64::from(b.contacts), min_contacts);
        let period_s = b.period_ms as f64 / 1000.0;
        let mut observed = vec![
            Observation { feature: "contacts", value: f64::from(b.contacts), threshold: min_contacts },
            Observation { feature: "interval_jitter", value: b.jitter, threshold: max_jitter },
            Observation { feature: "period_s", value: period_s, threshold: t.beacon_min_period_secs },
            Observation { feature: "bytes_per_contact", value: b.bytes_per_contact as f64, threshold: 0.0 },
        ];
        if let Some(s) = b.size_jitter {
            observed.push(Observation {
                feature: "size_jitter",
                value: s,
                threshold: t.beacon_max_size_jitter,
            });
        }
        if !sizes_regular {
            observed.push(Observation {
                feature: "long_interval_jitter",
                value: b.long_jitter,
                threshold: t.beacon_max_jitter,
            });
        }
        if b.sampling_rate > 1 {
            observed.push(Observation {
                feature: "sampling_rate",
                value: f64::from(b.sampling_rate),
                threshold: 0.0,
            });
        }
        let first = b.start_ms - b.period_ms.saturating_mul(i64::from(b.contacts.saturating_sub(1)));
        out.push(Insight {
            kind: Kind::Beaconing,
            severity,
            score,
            start_ms: first,
            end_ms: (b.start_ms.div_euclid(BUCKET_MS) + 1) * BUCKET_MS,
            exporter: b.key.exporter,
            interface: None,
            source: Some(b.key.host),
            target: Some(b.key.peer),
            detector: format!("rule:{}", Kind::Beaconing.as_str()),
            why: Why {
                summary: if b.sampling_rate > 1 {
                    format!(
                        "{} was seen contacting {} port {} {} times at multiples of {period_s:.0} s (jitter {:.0} %), about {} bytes each time; sampled 1 in {}, so some check-ins were not seen",
                        b.key.host,
                        b.key.peer,
                        b.key.port,
                        b.contacts,
                        b.jitter * 100.0,
                        b.bytes_per_contact,
                        b.sampling_rate
                    )
                } else {
                    let sizes = if sizes_regular {
                        format!("about {} bytes each time", b.bytes_per_contact)
                    } else {
                        format!(
                            "each time of varying size ({} bytes on average), and regular over its last {} intervals (jitter {:.0} %)",
                            b.bytes_per_contact,
                            b.long_intervals(),
                            b.long_jitter * 100.0
                        )
                    };
                    format!(
                        "{} contacted {} port {} {} times every {period_s:.0} s (jitter {:.0} %), {sizes}",
                        b.key.host,
                        b.key.peer,
                        b.key.port,
                        b.contacts,
                        b.jitter * 100.0
                    )
                },
                observed,
            },
        });
    }
}

/// The largest interval jitter `b` may have: `beacon_max_jitter`, or behind packet
/// sampling that times the share of its degrees of freedom the lattice fit had
/// ((intervals - 1) / (16 - 1)): 73 % of it over twelve intervals.
fn max_jitter(b: &BeaconRow, t: &Thresholds) -> f64 {
    if b.sampling_rate <= 1 {
        return t.beacon_max_jitter;
    }
    t.beacon_max_jitter * b.long_intervals().saturating_sub(1) as f64 / (RING - 1) as f64
}
