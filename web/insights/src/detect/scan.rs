//! Reconnaissance from one source: `port_scan` (many destination ports) and
//! `host_sweep` (many destinations on few ports, mostly unanswered), both made of
//! probes (flows of one or two packets).

use super::{insight, merge, share, HostWindow, Insight, Kind, Observation, SortedRows, Thresholds, Why};
use crate::features::{Counters, HostKey};
use std::net::IpAddr;

fn check(w: &HostWindow, all: &[HostWindow], t: &Thresholds, out: &mut Vec<Insight>) {
    let f = &w.features;
    let c = &f.counters;
    let probes = share(c.probe_flows_out, c.flows_out);
    if probes < t.probe_share {
        return;
    }
    // On a sampled exporter, the probes seen are 1 in `rate` of those sent. When nearly
    // every one seen went to another port (host), as a scan's do, the distinct count
    // scales by the rate, once enough were seen to mean anything; a busy client's
    // samples repeat the same few services (its DNS queries are probes too) and are
    // left as seen.
    let rate = sampling_rate(c);
    let records = c.probe_records_out as f64;
    let scaled = |seen: f64| {
        if rate > 1.0 && (seen < t.scan_min_seen || seen < DISTINCT_SHARE_TO_SCALE * records) {
            seen
        } else {
            seen * rate
        }
    };
    let ports = scaled(f.ports_out.estimate());
    let peers = scaled(f.peers_out.estimate());
    let secs = w.secs();
    let sampled = sampled_text(rate);
    if ports >= t.port_scan_ports {
        out.push(insight(
            w,
            Kind::PortScan,
            (ports, t.port_scan_ports),
            Some(w.host),
            single_target(w, all),
            Why {
                summary: format!(
                    "{} probed about {ports:.0} ports on about {peers:.0} hosts in {secs:.0} s ({:.0} % of its flows were probes){sampled}",
                    w.host,
                    probes * 100.0
                ),
                observed: vec![
                    Observation { feature: "distinct_ports", value: ports, threshold: t.port_scan_ports },
                    Observation { feature: "probe_share", value: probes, threshold: t.probe_share },
                    Observation { feature: "distinct_hosts", value: peers, threshold: 0.0 },
                ],
            },
        ));
        return;
    }
    let answered = share(c.flows_in.saturating_sub(c.refusals_in), c.flows_out);
    if peers >= t.host_sweep_peers && ports <= t.host_sweep_max_ports && answered <= t.host_sweep_max_answered
    {
        let icmp = share(c.echo_flows_out, c.flows_out) >= 0.5;
        out.push(insight(
            w,
            Kind::HostSweep,
            (peers, t.host_sweep_peers),
            Some(w.host),
            None,
            Why {
                summary: format!(
                    "{} probed about {peers:.0} hosts{} in {secs:.0} s; {:.0} % answered{}{sampled}",
                    w.host,
                    if icmp { " with ICMP echo".to_string() } else { format!(" on about {ports:.0} ports") },
                    answered * 100.0,
                    refused_text(c.refusals_in, c.flows_out),
                ),
                observed: vec![
                    Observation { feature: "distinct_hosts", value: peers, threshold: t.host_sweep_peers },
                    Observation {
                        feature: "distinct_ports",
                        value: ports,
                        threshold: t.host_sweep_max_ports,
                    },
                    Observation {
                        feature: "answered_share",
                        value: answered,
                        threshold: t.host_sweep_max_answered,
                    },
                    Observation { feature: "probe_share", value: probes, threshold: t.probe_share },
                ],
            },
        ));
    }
}

/// The scan rules over the window of `scan_window_secs` ending at `end_ms`, for the
/// hosts that could reach a threshold in it ([`could_scan`]): a sum of two counters
/// per row rules out nearly every host, and only the rest have their sketches merged.
/// (Merging every host of the window, once the cheaper choice, was the detectors'
/// largest cost after the rows were read: session 20.)
pub(super) fn check_window(rows: SortedRows<'_>, end_ms: i64, t: &Thresholds, out: &mut Vec<Insight>) {
    check_over(rows, (end_ms, t.scan_window_secs), could_scan, t, out);
}

/// The scan window as it was before [`could_scan`]: every host merged and checked, every
/// merged host a possible target. The property test's oracle.
#[cfg(test)]
pub(super) fn check_window_merging_every_host(
    rows: SortedRows<'_>,
    end_ms: i64,
    t: &Thresholds,
    out: &mut Vec<Insight>,
) {
    let from = end_ms - t.scan_window_secs.max(1) * 1000;
    let hosts = merge(rows.window(from, end_ms).rows(), from, end_ms);
    for w in &hosts {
        check(w, &hosts, t, out);
    }
}

/// The scan rules over the longer window of sampled exporters
/// ([`Thresholds::scan_sampled_window_secs`]) ending at `end_ms`, for the hosts whose
/// probes there were sampled ([`sampled_scanners`]).
pub(super) fn check_sampled(rows: SortedRows<'_>, end_ms: i64, t: &Thresholds, out: &mut Vec<Insight>) {
    check_over(rows, (end_ms, t.scan_sampled_window_secs), sampled_scanners, t, out);
}

/// The scan rules over the window of `secs` ending at `end_ms`, for the hosts `pick`
/// chooses from its rows.
fn check_over(
    rows: SortedRows<'_>,
    (end_ms, secs): (i64, i64),
    pick: fn(SortedRows<'_>, &Thresholds) -> Hosts,
    t: &Thresholds,
    out: &mut Vec<Insight>,
) {
    let from = end_ms - secs.max(1) * 1000;
    let rows = rows.window(from, end_ms);
    let scanners = pick(rows, t);
    if scanners.contains(&true) {
        check_scanners(rows, &scanners, (from, end_ms), t, out);
    }
}

/// The (exporter, host) pairs of `rows` that could reach a scan threshold: most of
/// their flows out were probes, and they sent at least half as many flows as the
/// lower of the port and host thresholds. Distinct ports or hosts are never more than
/// the flows (scaled by the sampling rate when sampled), and the sketch's estimate of
/// n ≤ 50 values is under 2n (its linear counting, used below 160, gives at most
/// 64 ln(64 / (64 - n)); the raw estimate would need dozens of registers with unlikely
/// ranks). So with both thresholds up to 100 a host left out here could not have
/// fired; with higher ones, only on an estimate twice its true count.
fn could_scan(rows: SortedRows<'_>, t: &Thresholds) -> Hosts {
    let mut sums = vec![(0i64, 0i64); rows.pairs()];
    for (p, s) in rows.summed() {
        if let Some(e) = sums.get_mut(p) {
            e.0 = e.0.saturating_add(s.probe_flows_out);
            e.1 = e.1.saturating_add(s.flows_out);
        }
    }
    let least = t.port_scan_ports.min(t.host_sweep_peers);
    sums.into_iter()
        .map(|(probes, flows)| {
            flows > 0 && share(probes, flows) >= t.probe_share && 2.0 * flows as f64 >= least
        })
        .collect()
}

/// Whether each (exporter, host) pair of the rows ([`SortedRows::pairs`]) is chosen.
type Hosts = Vec<bool>;

/// The scan rules for the `scanners` of `rows` over `[from_ms, to_ms)`, their rows
/// alone merged.
fn check_scanners(
    rows: SortedRows<'_>,
    scanners: &[bool],
    (from, end_ms): (i64, i64),
    t: &Thresholds,
    out: &mut Vec<Insight>,
) {
    let scanners = rows.merge_where(from, end_ms, |p| scanners.get(p).copied().unwrap_or(false));
    // A scan of one host names it from that host's rows, merged only for the one-host
    // scans that fire: looking up every one-host candidate's peer in every row made a
    // round three times dearer (run K of the evaluation).
    let mut one_host: Vec<&HostWindow> = Vec::new();
    for w in &scanners {
        let before = out.len();
        check(w, &scanners, t, out);
        if out.len() > before && w.features.peers_out.estimate() <= ONE_HOST_PEERS {
            out.truncate(before);
            one_host.push(w);
        }
    }
    if one_host.is_empty() {
        return;
    }
    let is_target = |k: &HostKey| {
        one_host.iter().any(|w| w.exporter == k.exporter && w.features.peers_out.may_contain_addr(k.host))
    };
    let mut all = merge(rows.rows().iter().filter(|(k, _)| is_target(k)), from, end_ms);
    all.extend(one_host.iter().map(|w| **w));
    for w in one_host {
        check(w, &all, t, out);
    }
}

/// A scanner whose distinct destinations estimate at most this probed one host.
const ONE_HOST_PEERS: f64 = 1.5;

/// The (exporter, host) pairs whose flows in `rows` (a window's) were mostly probes,
/// sampled, at least `scan_min_seen` of them (fewer say nothing, [`check`]): the hosts
/// the scan rules look at again over the longer window of sampled exporters
/// ([`Thresholds::scan_sampled_window_secs`]), where a 60 s window holds too few samples.
fn sampled_scanners(rows: SortedRows<'_>, t: &Thresholds) -> Hosts {
    // Sampled probe records first: most rows have none, and most hosts stay out.
    let mut records: Vec<Option<i64>> = vec![None; rows.pairs()];
    for (p, s) in rows.summed() {
        if let Some(n) = records.get_mut(p).filter(|_| s.probe_flows_out > s.probe_records_out) {
            *n = Some(n.unwrap_or(0).saturating_add(s.probe_records_out));
        }
    }
    let seen: Hosts = records.iter().map(|n| n.is_some_and(|n| n as f64 >= t.scan_min_seen)).collect();
    if !seen.contains(&true) {
        return seen;
    }
    // Then whether the probes were most of those hosts' flows.
    let mut flows = vec![(0i64, 0i64); rows.pairs()];
    for (p, s) in rows.summed() {
        if let Some(e) = flows.get_mut(p).filter(|_| seen.get(p).copied().unwrap_or(false)) {
            e.0 = e.0.saturating_add(s.probe_flows_out);
            e.1 = e.1.saturating_add(s.flows_out);
        }
    }
    flows
        .into_iter()
        .zip(seen)
        .map(|((probes, all), seen)| seen && share(probes, all) >= t.probe_share)
        .collect()
}

/// Scaling by the sampling rate needs the distinct ports (hosts) seen to be at least
/// this share of the probe records seen: each sampled probe of a scan is a new one.
const DISTINCT_SHARE_TO_SCALE: f64 = 0.8;

/// The sampling rate the host's probes were seen at (1 when unsampled or unknown).
fn sampling_rate(c: &Counters) -> f64 {
    if c.probe_records_out > 0 {
        (c.probe_flows_out as f64 / c.probe_records_out as f64).max(1.0)
    } else {
        1.0
    }
}

/// " (seen sampled 1 in N, counts scaled)" on a sampled exporter.
fn sampled_text(rate: f64) -> String {
    if rate > 1.0 {
        format!(" (seen sampled 1 in {rate:.0}, counts scaled)")
    } else {
        String::new()
    }
}

/// ", N % refused" when some probes were refused (resets, unreachables).
fn refused_text(refusals: i64, probes: i64) -> String {
    if refusals > 0 {
        format!(", {:.0} % refused", share(refusals, probes) * 100.0)
    } else {
        String::new()
    }
}

/// The scanned host, when the scanner probed one host: of the hosts whose rows show
/// at least half the probes arriving and whose sources may include the scanner, the
/// one with the fewest other sources (a busy server answering many is not it).
fn single_target(scanner: &HostWindow, all: &[HostWindow]) -> Option<IpAddr> {
    if scanner.features.peers_out.estimate() > ONE_HOST_PEERS {
        return None;
    }
    let sent = scanner.features.counters.flows_out;
    all.iter()
        .filter(|w| w.exporter == scanner.exporter && w.host != scanner.host)
        .filter(|w| {
            w.features.counters.flows_in * 2 >= sent && w.features.sources_in.may_contain_addr(scanner.host)
        })
        .filter(|w| scanner.features.peers_out.may_contain_addr(w.host))
        .min_by(|a, b| {
            a.features
                .sources_in
                .estimate()
                .total_cmp(&b.features.sources_in.estimate())
                .then(a.host.cmp(&b.host))
        })
        .map(|w| w.host)
}
