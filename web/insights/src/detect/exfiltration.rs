//! `exfiltration`: an internal host sending a large volume out of the network, far
//! more than it receives.
//!
//! Volume, not rate: the bytes leaving are counted whole in the bucket their flow
//! record ended in (`features::Counters::bytes_out_external`), because an upload is a
//! few long connections that exporters report once per active timeout, so a window
//! must be long enough to hold several of their records (five minutes by default,
//! against the 1-minute timeouts most exporters use; a 30-minute timeout delays the
//! detection to the record, never hides it). The ratio to what the host received from
//! outside, in the window and the one before it (a speed test downloads, then
//! uploads: a window holding only its upload must still see the download), keeps the
//! look-alikes out: a speed test or a video call sends about what it receives; backups
//! to internal servers never leave the network; downloads go the other way; and a
//! server answering the Internet spreads its bytes over thousands of clients, where an
//! exfiltration sends them to few. The source is the internal host; there is no single target to name, as
//! the features keep counts of destinations, not their addresses.

use super::{insight, merge, HostWindow, Insight, Kind, Observation, SortedRows, Thresholds, Why};
use flowvision_codec::hash::FxHashMap;
use std::net::IpAddr;

/// The rule over the window ending at `end_ms`: only hosts whose bytes out of the
/// network reach the floor are merged (their sketches), so the cost stays with the
/// few that upload much. `rows` must cover two windows.
pub(super) fn check(rows: SortedRows<'_>, end_ms: i64, t: &Thresholds, out: &mut Vec<Insight>) {
    let window_ms = t.exfiltration_window_secs.max(1) * 1000;
    let from = end_ms - window_ms;
    // Each pass reads its own window's slice.
    let (both, this) = (rows.window(from - window_ms, end_ms).rows(), rows.window(from, end_ms).rows());
    let mut sent: FxHashMap<(IpAddr, IpAddr), i64> = FxHashMap::default();
    for (k, f) in this {
        if f.counters.bytes_out_external > 0 {
            let v = sent.entry((k.exporter, k.host)).or_default();
            *v = v.saturating_add(f.counters.bytes_out_external);
        }
    }
    sent.retain(|_, v| *v as f64 >= t.exfiltration_bytes);
    if sent.is_empty() {
        return;
    }
    let mut received: FxHashMap<(IpAddr, IpAddr), i64> = FxHashMap::default();
    for (k, f) in both {
        if sent.contains_key(&(k.exporter, k.host)) {
            let v = received.entry((k.exporter, k.host)).or_default();
            *v = v.saturating_add(f.counters.bytes_in_external);
        }
    }
    let theirs = this.iter().filter(|(k, _)| sent.contains_key(&(k.exporter, k.host)));
    for w in merge(theirs, from, end_ms) {
        let back = received.get(&(w.exporter, w.host)).copied().unwrap_or(0);
        uploader(&w, back, t, out);
    }
}

/// One host that sent at least the floor out: `received` is what came in from outside
/// over the window and the one before.
fn uploader(w: &HostWindow, received: i64, t: &Thresholds, out: &mut Vec<Insight>) {
    let c = &w.features.counters;
    let sent = c.bytes_out_external as f64;
    let ratio = sent / received.max(1) as f64;
    let peers = w.features.peers_out.estimate().max(1.0);
    let per_peer = sent / peers;
    if sent < t.exfiltration_bytes || ratio < t.exfiltration_ratio || per_peer < t.exfiltration_bytes_per_peer
    {
        return;
    }
    let mbps = sent * 8.0 / w.secs() / 1e6;
    out.push(insight(
        w,
        Kind::Exfiltration,
        (sent, t.exfiltration_bytes),
        Some(w.host),
        None,
        Why {
            summary: format!(
                "{} sent {:.0} MB out of the network in {:.0} s ({mbps:.1} Mbit/s), {ratio:.0} times what came in from outside, to few places ({:.0} MB per host it sent to); threshold {:.0} MB",
                w.host,
                sent / 1e6,
                w.secs(),
                per_peer / 1e6,
                t.exfiltration_bytes / 1e6
            ),
            observed: vec![
                Observation { feature: "bytes_out_of_the_network", value: sent, threshold: t.exfiltration_bytes },
                Observation { feature: "sent_to_received_ratio", value: ratio, threshold: t.exfiltration_ratio },
                Observation { feature: "bytes_per_peer", value: per_peer, threshold: t.exfiltration_bytes_per_peer },
                Observation { feature: "distinct_peers", value: peers, threshold: 0.0 },
            ],
        },
    ));
}
