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
//! exfiltration sends them to few, and answers from a well-known port (one client
//! downloading a large file from an internal server) are not counted as sent at all
//! (`features::answers`). The source is the internal host; there is no single target to name, as
//! the features keep counts of destinations, not their addresses.

use super::{insight, HostWindow, Insight, Kind, Observation, SortedRows, Thresholds, Why};

/// The rule over the window ending at `end_ms`: only hosts whose bytes out of the
/// network reach the floor are merged (their sketches), so the cost stays with the
/// few that upload much. `rows` must cover two windows.
pub(super) fn check(rows: SortedRows<'_>, end_ms: i64, t: &Thresholds, out: &mut Vec<Insight>) {
    let window_ms = t.exfiltration_window_secs.max(1) * 1000;
    let from = end_ms - window_ms;
    // Each pass reads its own window's slice, summing per pair in an array.
    let (both, this) = (rows.window(from - window_ms, end_ms), rows.window(from, end_ms));
    let mut sent = vec![0i64; rows.pairs()];
    for (p, s) in this.summed() {
        if let Some(v) = sent.get_mut(p) {
            *v = v.saturating_add(s.bytes_out_external);
        }
    }
    // Something sent, whatever the floor is set to (as when only senders were summed).
    let uploads = |p: usize| sent.get(p).is_some_and(|v| *v > 0 && *v as f64 >= t.exfiltration_bytes);
    if !(0..sent.len()).any(uploads) {
        return;
    }
    let mut received = vec![0i64; rows.pairs()];
    for (p, s) in both.summed() {
        if let Some(v) = received.get_mut(p).filter(|_| uploads(p)) {
            *v = v.saturating_add(s.bytes_in_external);
        }
    }
    for (p, w) in this.merge_pairs(from, end_ms, uploads) {
        uploader(&w, received.get(p).copied().unwrap_or(0), t, out);
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
