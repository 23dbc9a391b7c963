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
}

/// Runs every rule over the feature rows of the windows that end at `end_ms`: the
/// flood window (floods, reflection), the longer scan window (scans, sweeps; longer
/// still for hosts whose probes were sampled) and the exfiltration window (these two
/// only when `end_ms` is on a [`Thresholds::long_window_step_secs`] boundary), as
/// [`Thresholds`] sets them, with the volumetric floors following each exporter's
/// size ([`NetworkSize`]), and the beaconing rule over the periodic contacts.
pub fn run(ev: &Evidence<'_>, end_ms: i64, t: &Thresholds) -> Vec<Insight> {
    let (rows, net) = (ev.hosts, ev.network);
    let mut out = Vec::new();
    check_floods(rows, end_ms, (t, net), &mut out);
    scan::check_window(rows, end_ms, t, &mut out);
    if t.long_window_due(end_ms) {
        scan::check_sampled(rows, end_ms, t, &mut out);
        exfiltration::check(rows, end_ms, t, &mut out);
    }
    beaconing::check(ev.beacons, end_ms, t, &mut out);
    traffic::check(ev.traffic, end_ms, t, &mut out);
    out.sort_by(|a, b| a.start_ms.cmp(&b.start_ms).then(a.kind.cmp(&b.kind)).then(a.target.cmp(&b.target)));
    out
}

/// The flood and reflection rules over the flood window ending at `end_ms`, for the
/// hosts that could be a victim (inbound packets at the lowest floor any of them comes
/// down to, [`least_flood_packets`]) or a victim's single source (half that, sent),
/// the others left unmerged: merging every host of every window was a sixth of a live
/// round (session 24).
fn check_floods(
    rows: SortedRows<'_>,
    end_ms: i64,
    (t, net): (&Thresholds, &NetworkSize),
    out: &mut Vec<Insight>,
) {
    let secs = t.flood_window_secs.max(1);
    let from = end_ms - secs * 1000;
    let rows = rows.window(from, end_ms);
    let least = least_flood_packets(t, secs as f64);
    let mut packets = vec![(0i64, 0i64); rows.pairs()];
    for (p, s) in rows.summed() {
        if let Some(e) = packets.get_mut(p) {
            e.0 = e.0.saturating_add(s.packets_in);
            e.1 = e.1.saturating_add(s.packets_out);
        }
    }
    let could = |p: usize| {
        packets.get(p).is_some_and(|&(received, sent)| received as f64 >= least || 2.0 * sent as f64 >= least)
    };
    let floods = rows.merge_where(from, end_ms, could);
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
/// reflection rule can fire: every rule's rate is of packets the victim received, and
/// no floor comes down below its configured value times `network_min_floor_ratio`
/// ([`NetworkSize::floor`]); a single source sent at least half of them. A hair under
/// it, as the rules compare rates in floating point; 0 (every host) when the
/// thresholds allow no bound.
fn least_flood_packets(t: &Thresholds, secs: f64) -> f64 {
    let lowest = [t.syn_flood_pps, t.udp_flood_pps, t.icmp_flood_pps, t.amplification_pps]
        .into_iter()
        .fold(f64::INFINITY, f64::min)
        * t.network_min_floor_ratio.clamp(0.0, 1.0);
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
