//! The deterministic detectors: each reads a window of merged host features and
//! reports [`Insight`]s that say what was observed against which threshold.
//!
//! They work from the first minutes of an appliance's life: every rule here fires on a
//! signature (a share of handshakes never completed, of traffic from reflector ports,
//! of probes, of bytes sent against bytes received) above a floor, so no baseline is
//! needed. The exporter's usual packet rate over the last hour lowers the volumetric
//! floors in a small network ([`NetworkSize`]); it never gates a rule.
//!
//! - `flood.rs`: `syn_flood`, `udp_flood`, `icmp_flood` (a victim).
//! - `amplification.rs`: `udp_amplification` (a victim of reflected UDP).
//! - `scan.rs`: `port_scan`, `host_sweep` (a source).
//! - `exfiltration.rs`: `exfiltration` (an internal host sending out of the network).
//! - `beaconing.rs`: `beaconing` (an internal host checking in with an outside one).
//! - `traffic.rs`: `traffic_anomaly` (an exporter's volume outside its daily band).
//! - `network.rs`: the volumetric floors following the size of the exporter's network.

mod amplification;
mod beaconing;
mod exfiltration;
mod flood;
mod insight;
mod network;
mod scan;
mod thresholds;
mod traffic;
mod window;

use crate::beacon::BeaconRow;

pub use insight::{Insight, Kind, Observation, Severity, Timeline, Why, CONTINUATION_GAP_MS};
pub use network::{Floor, NetworkSize};
pub use thresholds::Thresholds;
pub use traffic::{band, Band, BusiestHosts, ExporterMinutes, Volume};
pub use window::{merge, HostWindow, PairIndex, RowSums, SortedRows};

/// What changed in the rows and contacts a window reads since it was last evaluated.
/// A window evaluated again runs only the rules whose own span holds a change: the
/// same rows give the same detections, which are stored already. (A bucket's late rows
/// had every window after it run every rule again, the flood rule too, whose 10 s hold
/// only the window's last bucket; session 29. Late rows land in most of the last few
/// buckets at once, so it is the beaconing rule, reading contacts, that runs less.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changes {
    /// Buckets whose rows changed, ascending.
    pub buckets: Vec<i64>,
    /// Every bucket from this one on may have changed, ms (`i64::MAX`: none).
    pub rows_from: i64,
    /// Every contact started from this time on may have changed, ms (`i64::MAX`: none).
    pub beacons_from: i64,
}

impl Changes {
    /// Nothing changed.
    pub fn none() -> Changes {
        Changes { buckets: Vec::new(), rows_from: i64::MAX, beacons_from: i64::MAX }
    }

    /// The earliest bucket or contact start that may have changed (`i64::MAX`: none):
    /// the windows ending after it hold a change.
    pub fn earliest(&self) -> i64 {
        self.buckets.first().copied().unwrap_or(i64::MAX).min(self.rows_from).min(self.beacons_from)
    }

    /// Whether rows of a bucket in `[from_ms, to_ms)` may have changed.
    pub fn rows_in(&self, from_ms: i64, to_ms: i64) -> bool {
        from_ms.max(self.rows_from) < to_ms
            || self.buckets.get(self.buckets.partition_point(|&b| b < from_ms)).is_some_and(|&b| b < to_ms)
    }

    /// Whether contacts started in `[from_ms, to_ms)` may have changed.
    pub fn contacts_in(&self, from_ms: i64, to_ms: i64) -> bool {
        from_ms.max(self.beacons_from) < to_ms
    }
}

/// What the rules read for the windows ending at one time.
#[derive(Debug, Clone, Copy)]
pub struct Evidence<'a> {
    /// Host feature rows covering the longest window
    /// ([`Thresholds::longest_window_ms`]), sorted by bucket.
    pub hosts: SortedRows<'a>,
    /// Contacts of regular pairs covering the beaconing window.
    pub beacons: &'a [BeaconRow],
    /// Each exporter's usual packet rate.
    pub network: &'a NetworkSize,
    /// Exporters' bytes per minute in the traffic window and the same window on the
    /// previous days ([`ExporterMinutes::ranges`]).
    pub traffic: &'a ExporterMinutes,
    /// For a window evaluated before, what changed since (only the rules whose span
    /// holds a change run again); `None` for a window not evaluated yet.
    pub changed: Option<&'a Changes>,
}

/// Runs every rule over the feature rows of the windows that end at `end_ms`: the
/// flood window (floods, reflection), the longer scan window (scans, sweeps; longer
/// still for hosts whose probes were sampled) and the exfiltration window (these two
/// only when `end_ms` is on a [`Thresholds::long_window_step_secs`] boundary), as
/// [`Thresholds`] sets them, with the volumetric floors following each exporter's
/// size ([`NetworkSize`]), and the beaconing rule over the periodic contacts. Of a
/// window evaluated before, only the rules whose rows or contacts changed
/// ([`Evidence::changed`]), and the traffic rule, which reads the exporters' minutes.
pub fn run(ev: &Evidence<'_>, end_ms: i64, t: &Thresholds) -> Vec<Insight> {
    let (rows, net) = (ev.hosts, ev.network);
    let rows_changed =
        |secs: i64| ev.changed.map_or(true, |c| c.rows_in(end_ms - secs.max(1) * 1000, end_ms));
    let mut out = Vec::new();
    if rows_changed(t.flood_window_secs) {
        check_floods(rows, end_ms, (t, net), &mut out);
    }
    if rows_changed(t.scan_window_secs) {
        scan::check_window(rows, end_ms, t, &mut out);
    }
    if t.long_window_due(end_ms) {
        if rows_changed(t.scan_sampled_window_secs) {
            scan::check_sampled(rows, end_ms, t, &mut out);
        }
        // The rule reads the window before its own too.
        if rows_changed(2 * t.exfiltration_window_secs.max(1)) {
            exfiltration::check(rows, end_ms, t, &mut out);
        }
    }
    let from = end_ms - t.beacon_window_secs.max(1) * 1000;
    if ev.changed.map_or(true, |c| c.contacts_in(from, end_ms)) {
        beaconing::check(ev.beacons, end_ms, t, &mut out);
    }
    traffic::check(ev.traffic, end_ms, t, &mut out);
    out.sort_by(|a, b| a.start_ms.cmp(&b.start_ms).then(a.kind.cmp(&b.kind)).then(a.target.cmp(&b.target)));
    out
}

/// The flood and reflection rules over the flood window ending at `end_ms`, for the
/// hosts that could be a victim (inbound packets at the lowest floor any of them has
/// on the host's exporter, [`least_flood_packets`]) or a victim's single source (half
/// that, sent), the others left unmerged: merging every host of every window was a
/// sixth of a live round (session 24), and merging the hosts over the floors' lowest
/// possible value rather than their exporter's was two thirds of the flood window's
/// cost (session 29: a network of the usual size keeps its floors well above it).
fn check_floods(
    rows: SortedRows<'_>,
    end_ms: i64,
    (t, net): (&Thresholds, &NetworkSize),
    out: &mut Vec<Insight>,
) {
    let secs = t.flood_window_secs.max(1);
    let from = end_ms - secs * 1000;
    let rows = rows.window(from, end_ms);
    let least = least_flood_packets(t, secs as f64, |configured| {
        configured * t.network_min_floor_ratio.clamp(0.0, 1.0)
    });
    let packets = rows.sum_by_pair(|e: &mut (i64, i64), s| {
        e.0 = e.0.saturating_add(s.packets_in);
        e.1 = e.1.saturating_add(s.packets_out);
    });
    let reaches =
        |(received, sent): (i64, i64), least: f64| received as f64 >= least || 2.0 * sent as f64 >= least;
    // Each exporter's own least, for the few hosts over the lowest possible one.
    let mut on_exporter: Vec<(std::net::IpAddr, f64)> = Vec::new();
    let mut exporter_least = |exporter| match on_exporter.iter().find(|(e, _)| *e == exporter) {
        Some(&(_, least)) => least,
        None => {
            let least =
                least_flood_packets(t, secs as f64, |configured| net.floor(exporter, configured, t).pps);
            on_exporter.push((exporter, least));
            least
        }
    };
    let could = packets.into_iter().filter(|&(p, sums)| {
        reaches(sums, least) && rows.exporter_of(p).map_or(true, |e| reaches(sums, exporter_least(e)))
    });
    let could = rows.choose(could.map(|(p, _)| p));
    let floods = rows.merge_where(from, end_ms, |p| could.get(p).copied().unwrap_or(false));
    for w in &floods {
        flood::check(w, &floods, (t, net), out);
        amplification::check(w, (t, net), out);
    }
}

/// The flood window with every host merged: [`check_floods`]' oracle.
#[cfg(test)]
fn check_floods_merging_every_host(
    rows: SortedRows<'_>,
    end_ms: i64,
    (t, net): (&Thresholds, &NetworkSize),
    out: &mut Vec<Insight>,
) {
    let from = end_ms - t.flood_window_secs.max(1) * 1000;
    let floods = rows.window(from, end_ms).merge_where(from, end_ms, |_| true);
    for w in &floods {
        flood::check(w, &floods, (t, net), out);
        amplification::check(w, (t, net), out);
    }
}

/// The fewest inbound packets in a flood window of `secs` at which a flood or
/// reflection rule can fire, given each rule's floor for its configured packets/s
/// (`floor`: the exporter's, [`NetworkSize::floor`], or the lowest any exporter can
/// have, the configured value times `network_min_floor_ratio`): every rule's rate is
/// of packets the victim received, and a single source sent at least half of them.
/// A hair under it, as the rules compare rates in floating point; 0 (every host) when
/// the floors allow no bound.
fn least_flood_packets(t: &Thresholds, secs: f64, floor: impl Fn(f64) -> f64) -> f64 {
    let lowest = [t.syn_flood_pps, t.udp_flood_pps, t.icmp_flood_pps, t.amplification_pps]
        .into_iter()
        .map(|configured| {
            // A floor that is not a number lets its rule fire at any rate.
            let f = floor(configured);
            if f.is_nan() {
                0.0
            } else {
                f
            }
        })
        .fold(f64::INFINITY, f64::min);
    if lowest.is_finite() && lowest > 0.0 {
        lowest * secs * (1.0 - 1e-9)
    } else {
        0.0
    }
}

/// The insight of rule `kind` over window `w`: span, exporter and `rule:NAME` from the
/// window and the kind, score and severity from how far `value` is over `threshold`.
pub(crate) fn insight(
    w: &HostWindow,
    kind: Kind,
    (value, threshold): (f64, f64),
    source: Option<std::net::IpAddr>,
    target: Option<std::net::IpAddr>,
    why: Why,
) -> Insight {
    let (score, severity) = grade(value, threshold);
    Insight {
        kind,
        severity,
        score,
        start_ms: w.from_ms,
        end_ms: w.to_ms,
        exporter: w.exporter,
        interface: None,
        source,
        target,
        detector: format!("rule:{}", kind.as_str()),
        why,
    }
}

/// How far over its threshold a value is, as a score in [0.5, 1] (0.5 at the
/// threshold, 1 at 100 times it) and a severity.
pub fn grade(value: f64, threshold: f64) -> (f64, Severity) {
    let ratio = if threshold > 0.0 { value / threshold } else { 100.0 };
    let score = (0.5 + ratio.max(1.0).ln() / 100f64.ln() / 2.0).min(1.0);
    let severity = if ratio >= 10.0 {
        Severity::Critical
    } else if ratio >= 3.0 {
        Severity::High
    } else {
        Severity::Medium
    };
    (score, severity)
}

/// The share `part / whole`, 0 when there is no whole.
pub(crate) fn share(part: i64, whole: i64) -> f64 {
    if whole <= 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

#[cfg(test)]
mod tests;
