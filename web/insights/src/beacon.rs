//! Periodic contacts: an internal host opening small connections to the same outside
//! address and port at a regular interval, the signature of malware checking in with
//! its controller (`beaconing`).
//!
//! Tracked as the flows pass, per (exporter, host, peer, port, protocol) for flows
//! that leave the network ([`InternalNetworks`]) and open a new connection (a TCP
//! record carrying SYN, or a source port the pair has not used among its last
//! `PORTS`: the records an exporter cuts from long connections at its active
//! timeout are periodic too, and are no beacon). A pair's regularity is the spread of
//! its last [`INTERVALS`] intervals between contact starts, so recent regularity
//! counts and a pause or a change of period is forgotten after a few contacts. (An
//! exponentially weighted variance was tried first: started at zero, it called five
//! random intervals regular, 21 false `beaconing` insights in three simulated hours.)
//! The spread of the last 16 intervals travels with the rows too: a client using a
//! service many times an hour is regular by chance for eight intervals now and then,
//! never for sixteen, and the rule asks that of a pair whose contacts vary in size.
//!
//! Behind packet sampling a TCP record shows its SYN only when the opening packet was
//! the one sampled, so there a new source port is a new connection for TCP as well,
//! and since a sampler misses check-ins, the last `RING` intervals are fitted as
//! whole multiples of one period (`lattice.rs`).
//!
//! A check-in is also of nearly constant size (the same request, the same "nothing to
//! do" answer), which a person's or an application's repeated use of a service is not:
//! each contact's bytes are kept (log-scaled, a byte each), and their spread over the
//! pair's recent contacts travels with its rows. Behind packet sampling a record's bytes
//! are its sampled packets' times the rate, which says nothing about the contact's size,
//! so there the spread is not given.
//!
//! Once a pair is loosely regular ([`REPORT_MIN_CONTACTS`], [`REPORT_MAX_JITTER`]),
//! each of its contacts gives a [`BeaconRow`], stored with the batch; the `beaconing`
//! rule (`detect/beaconing.rs`) applies the configured, stricter thresholds. Memory
//! is bounded: two generations of at most `capacity` pairs each, the older forgotten
//! every [`GENERATION_MS`] of flow time, so a pair silent for two generations starts
//! over; pairs beyond the capacity are counted, not tracked.

use crate::features::InternalNetworks;
use flowvision_codec::hash::FxHashMap;
use flowvision_codec::FlowRecord;
use std::net::IpAddr;

mod lattice;

/// Contacts (intervals + 1) a pair needs before its contacts are reported.
pub const REPORT_MIN_CONTACTS: u32 = 6;
/// The largest jitter (interval standard deviation over mean) reported.
pub const REPORT_MAX_JITTER: f64 = 0.3;
/// Intervals whose spread tells a pair's regularity.
pub const INTERVALS: usize = 8;
/// Intervals a pair remembers: more than [`INTERVALS`], for the lattice fit behind
/// packet sampling, which needs more of them to tell a period from chance, and for
/// [`BeaconRow::long_jitter`].
pub const RING: usize = 16;
/// Source ports a pair remembers: a record from one of them continues a connection
/// (parallel long connections, cut by the exporter at its active timeout, alternate
/// ports at regular times; a check-in comes from a new ephemeral port).
const PORTS: usize = 8;
/// Contacts closer than this are one burst (parallel connections), not two contacts.
const MIN_INTERVAL_MS: i64 = 1_000;
/// The longest interval tracked: beyond it a pair starts over.
pub const MAX_INTERVAL_MS: i64 = 3_600_000;
/// A check-in is small: records above this many bytes are transfers, not contacts.
const MAX_CONTACT_BYTES: u64 = 1_000_000;
/// Steps per doubling of a contact's size code: sizes are kept to within 3 %, a byte
/// each, up to 2^21 bytes (more than [`MAX_CONTACT_BYTES`]).
const SIZE_STEPS_PER_OCTAVE: f64 = 12.0;
/// How long a generation of pairs lives, ms of flow time.
pub const GENERATION_MS: i64 = 2 * MAX_INTERVAL_MS;

const TCP: u8 = 6;
const SYN: u16 = 0x02;

/// A pair: one internal host contacting one outside service, as one exporter saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PairKey {
    /// The exporter.
    pub exporter: IpAddr,
    /// The internal host.
    pub host: IpAddr,
    /// The outside address.
    pub peer: IpAddr,
    /// Destination port.
    pub port: u16,
    /// IP protocol.
    pub proto: u8,
}

/// What a pair's contacts look like so far.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Contacts {
    last_start_ms: i64,
    /// The pair's last distinct source ports, in a ring.
    ports: [u16; PORTS],
    next_port: u8,
    contacts: u32,
    /// The last intervals, ms, in a ring (the newest at `(contacts - 2) % RING`).
    intervals: [u32; RING],
    bytes: u64,
    /// The last contacts' sizes ([`size_code`]), in a ring (the newest at
    /// `(contacts - 1) % RING`).
    sizes: [u8; RING],
    /// Seen through packet sampling: check-ins may be missed.
    sampled: bool,
}

/// A contact's bytes as a byte: [`SIZE_STEPS_PER_OCTAVE`] steps per doubling.
fn size_code(bytes: u64) -> u8 {
    let steps = (bytes.max(1) as f64).log2() * SIZE_STEPS_PER_OCTAVE;
    steps.round().clamp(0.0, 255.0) as u8
}

/// The bytes a [`size_code`] stands for.
fn code_bytes(code: u8) -> f64 {
    (f64::from(code) / SIZE_STEPS_PER_OCTAVE).exp2()
}

impl Contacts {
    fn first(start_ms: i64, src_port: u16, bytes: u64, sampled: bool) -> Contacts {
        Contacts {
            last_start_ms: start_ms,
            ports: [src_port; PORTS],
            next_port: 1,
            contacts: 1,
            intervals: [0; RING],
            bytes,
            sizes: [size_code(bytes); RING],
            sampled,
        }
    }

    /// Remembers the size of the contact just counted.
    fn note_size(&mut self, bytes: u64) {
        let slot = (self.contacts.saturating_sub(1) as usize) % RING;
        if let Some(x) = self.sizes.get_mut(slot) {
            *x = size_code(bytes);
        }
    }

    /// The sample standard deviation of the recent contacts' bytes (those whose
    /// intervals tell the regularity, and the contact before them) over their mean;
    /// `None` behind packet sampling.
    fn size_jitter(&self) -> Option<f64> {
        if self.sampled {
            return None;
        }
        let n = (self.contacts as usize).min(INTERVALS + 1).min(RING);
        let newest = self.contacts.saturating_sub(1) as usize;
        if n < 2 {
            return Some(f64::INFINITY);
        }
        let sizes =
            (0..n).map(|j| code_bytes(self.sizes.get(newest.saturating_sub(j) % RING).copied().unwrap_or(0)));
        let mean = sizes.clone().sum::<f64>() / n as f64;
        let var = sizes.map(|x| (x - mean).powi(2)).sum::<f64>() / (n as f64 - 1.0);
        Some(if mean > 0.0 { var.sqrt() / mean } else { f64::INFINITY })
    }

    /// Whether `port` is among the pair's last source ports (a continuation), and
    /// remembers it.
    fn known_port(&mut self, port: u16) -> bool {
        if self.ports.contains(&port) {
            return true;
        }
        if let Some(p) = self.ports.get_mut(usize::from(self.next_port) % PORTS) {
            *p = port;
        }
        self.next_port = self.next_port.wrapping_add(1);
        false
    }

    /// The newest `k` remembered intervals (fewer when fewer are known).
    fn recent(&self, k: usize) -> ([u32; RING], usize) {
        let n = (self.contacts.saturating_sub(1) as usize).min(k).min(RING);
        let newest = self.contacts.saturating_sub(2) as usize;
        let mut out = [0; RING];
        for (j, x) in out.iter_mut().take(n).enumerate() {
            // j < n <= contacts - 1, so newest >= j.
            *x = self.intervals.get(newest.saturating_sub(j) % RING).copied().unwrap_or(0);
        }
        (out, n)
    }

    /// Mean interval (ms) and its sample standard deviation over the mean; behind
    /// packet sampling the period the intervals are multiples of, and their residuals'.
    fn period_and_jitter(&self) -> (f64, f64) {
        if self.sampled {
            let (v, n) = self.recent(RING);
            return lattice::fit(v.get(..n).unwrap_or_default());
        }
        let (v, n) = self.recent(INTERVALS);
        spread(v.get(..n).unwrap_or_default())
    }

    /// The jitter of the pair's last [`RING`] intervals (all it has when fewer); behind
    /// packet sampling the lattice fit's, which already spans them.
    fn long_jitter(&self, sampled_jitter: f64) -> f64 {
        if self.sampled {
            return sampled_jitter;
        }
        let (v, n) = self.recent(RING);
        spread(v.get(..n).unwrap_or_default()).1
    }
}

/// Mean interval (ms) and its sample standard deviation over the mean (infinite when
/// fewer than two intervals tell it).
fn spread(v: &[u32]) -> (f64, f64) {
    if v.len() < 2 {
        return (v.first().map_or(0.0, |&x| f64::from(x)), f64::INFINITY);
    }
    let n = v.len() as f64;
    let mean = v.iter().map(|&x| f64::from(x)).sum::<f64>() / n;
    let var = v.iter().map(|&x| (f64::from(x) - mean).powi(2)).sum::<f64>() / (n - 1.0);
    let jitter = if mean > 0.0 { var.sqrt() / mean } else { f64::INFINITY };
    (mean, jitter)
}

/// A contact of a regular pair, as stored (`host_beacons`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BeaconRow {
    /// Start of the contact, Unix ms.
    pub start_ms: i64,
    /// The pair.
    pub key: PairKey,
    /// Contacts seen so far.
    pub contacts: u32,
    /// Mean of the recent intervals, ms.
    pub period_ms: i64,
    /// Their standard deviation over their mean ([`INTERVALS`] of them).
    pub jitter: f64,
    /// The same over the pair's last [`RING`] intervals (all it has when fewer): a client
    /// that uses a service often is regular by chance now and then, for a few
    /// intervals among many irregular ones, which a check-in is not.
    pub long_jitter: f64,
    /// Mean bytes per contact (sampling-corrected).
    pub bytes_per_contact: i64,
    /// The recent contacts' bytes: standard deviation over mean (a check-in's size
    /// hardly changes); `None` behind packet sampling, where a record's bytes are those
    /// of the packets sampled.
    pub size_jitter: Option<f64>,
    /// The packet sampling rate the contact was seen at (1: unsampled): above 1, the
    /// contacts are those seen and the period the one their intervals are multiples of.
    pub sampling_rate: u32,
}

impl BeaconRow {
    /// The intervals `long_jitter` spans (behind packet sampling, those the lattice was
    /// fitted to): the pair's last [`RING`], all it has when fewer.
    pub fn long_intervals(&self) -> usize {
        (self.contacts.saturating_sub(1) as usize).min(RING)
    }
}

/// The pairs of every exporter, shared by the writers of one collector.
#[derive(Debug)]
pub struct BeaconTracker {
    internal: InternalNetworks,
    capacity: usize,
    current: FxHashMap<PairKey, Contacts>,
    previous: FxHashMap<PairKey, Contacts>,
    generation_start_ms: i64,
    untracked: u64,
}

impl BeaconTracker {
    /// A tracker of at most `capacity` pairs per generation, internal hosts being those
    /// inside `internal`.
    pub fn new(internal: InternalNetworks, capacity: usize) -> BeaconTracker {
        BeaconTracker {
            internal,
            capacity,
            current: FxHashMap::default(),
            previous: FxHashMap::default(),
            generation_start_ms: i64::MIN,
            untracked: 0,
        }
    }

    /// Contacts of new pairs not tracked because both generations were full.
    pub fn untracked(&self) -> u64 {
        self.untracked
    }

    /// Pairs tracked now.
    pub fn len(&self) -> usize {
        self.current.len() + self.previous.len()
    }

    /// Whether no pair is tracked.
    pub fn is_empty(&self) -> bool {
        self.current.is_empty() && self.previous.is_empty()
    }

    /// Observes one record received at `received_ms`; returns a row when it is a
    /// contact of a regular pair.
    pub fn observe(&mut self, r: &FlowRecord, received_ms: i64) -> Option<BeaconRow> {
        let (Some(host), Some(peer)) = (r.src_addr, r.dst_addr) else { return None };
        let rate = u64::from(r.sampling_rate.max(1));
        let sampled = rate > 1;
        let bytes = r.bytes.saturating_mul(rate);
        if bytes > MAX_CONTACT_BYTES || !self.internal.contains(host) || self.internal.contains(peer) {
            return None;
        }
        let start = r.flow_start_ms.or(r.flow_end_ms).unwrap_or(received_ms);
        self.rotate(start);
        let key = PairKey { exporter: r.exporter, host, peer, port: r.dst_port, proto: r.proto };
        let entry = match self.current.get_mut(&key) {
            Some(e) => e,
            None => {
                let Some(moved) = self.previous.remove(&key) else {
                    // A new pair: its first contact, when there is room.
                    if self.current.len() >= self.capacity {
                        self.untracked += 1;
                    } else {
                        self.current.insert(key, Contacts::first(start, r.src_port, bytes, sampled));
                    }
                    return None;
                };
                self.current.entry(key).or_insert(moved)
            }
        };
        let new_port = !entry.known_port(r.src_port);
        let new_connection =
            if r.proto == TCP { r.tcp_flags & SYN != 0 || (sampled && new_port) } else { new_port };
        let interval = start - entry.last_start_ms;
        if !new_connection || interval < MIN_INTERVAL_MS {
            // A continuation, a retransmitted batch, a record out of order or a burst.
            return None;
        }
        if interval > MAX_INTERVAL_MS {
            *entry = Contacts::first(start, r.src_port, bytes, sampled);
            return None;
        }
        let slot = (entry.contacts.saturating_sub(1) as usize) % RING;
        if let Some(x) = entry.intervals.get_mut(slot) {
            // At most MAX_INTERVAL_MS here, which fits.
            *x = u32::try_from(interval).unwrap_or(u32::MAX);
        }
        entry.contacts = entry.contacts.saturating_add(1);
        entry.bytes = entry.bytes.saturating_add(bytes);
        entry.note_size(bytes);
        entry.last_start_ms = start;
        let (period, jitter) = entry.period_and_jitter();
        (entry.contacts >= REPORT_MIN_CONTACTS && jitter <= REPORT_MAX_JITTER).then(|| BeaconRow {
            start_ms: start,
            key,
            contacts: entry.contacts,
            period_ms: period.round() as i64,
            jitter,
            long_jitter: entry.long_jitter(jitter),
            bytes_per_contact: i64::try_from(entry.bytes / u64::from(entry.contacts.max(1)))
                .unwrap_or(i64::MAX),
            size_jitter: entry.size_jitter(),
            sampling_rate: r.sampling_rate.max(1),
        })
    }

    /// Starts a new generation when flow time has moved [`GENERATION_MS`] past the
    /// current one's start (the older is forgotten).
    fn rotate(&mut self, now_ms: i64) {
        if self.generation_start_ms == i64::MIN {
            self.generation_start_ms = now_ms;
        } else if now_ms - self.generation_start_ms >= GENERATION_MS {
            self.previous = std::mem::take(&mut self.current);
            self.generation_start_ms = now_ms;
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;
    use std::net::Ipv4Addr;

    const T0: i64 = 1_700_000_000_000;

    fn contact(start: i64, src_port: u16, flags: u16, bytes: u64) -> FlowRecord {
        FlowRecord {
            exporter: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
            src_addr: Some(IpAddr::V4(Ipv4Addr::new(10, 1, 0, 7))),
            dst_addr: Some(IpAddr::V4(Ipv4Addr::new(203, 0, 113, 66))),
            proto: TCP,
            src_port,
            dst_port: 443,
            tcp_flags: flags,
            packets: 8,
            bytes,
            sampling_rate: 1,
            flow_start_ms: Some(start),
            flow_end_ms: Some(start + 500),
            ..FlowRecord::default()
        }
    }

    fn tracker() -> BeaconTracker {
        BeaconTracker::new(InternalNetworks::default(), 1_000)
    }

    #[test]
    fn regular_check_ins_are_reported_from_the_sixth_contact() {
        let mut t = tracker();
        let mut rows = Vec::new();
        // Every 60 s, ±3 s, a new connection of about 1 kB.
        for i in 0..10i64 {
            let jitter = [0, 2_000, -3_000, 1_000, -1_000, 3_000, 0, -2_000, 2_500, -500][i as usize];
            if let Some(row) =
                t.observe(&contact(T0 + i * 60_000 + jitter, 40_000 + i as u16, 0x1b, 1_000), T0)
            {
                rows.push(row);
            }
        }
        assert_eq!(rows.len(), 10 - REPORT_MIN_CONTACTS as usize + 1, "{rows:?}");
        let last = rows.last().unwrap();
        assert_eq!(last.contacts, 10);
        assert!((last.period_ms - 60_000).abs() < 3_000 && last.jitter < 0.1, "{last:?}");
        assert!(
            last.long_jitter < 0.1 && last.long_jitter != last.jitter,
            "over all nine intervals: {last:?}"
        );
        assert_eq!(last.key.port, 443);
        assert_eq!(last.bytes_per_contact, 1_000);
        assert!(last.size_jitter.is_some_and(|s| s < 0.01), "{last:?}");
    }

    #[test]
    fn the_spread_of_contact_sizes_travels_with_the_rows() {
        // The spread the last row of contacts a minute apart of these sizes carries.
        let spread = |sizes: &[u64]| {
            let mut t = tracker();
            let rows: Vec<BeaconRow> = (0..sizes.len())
                .filter_map(|i| {
                    let c = contact(T0 + i as i64 * 60_000, 40_000 + i as u16, 0x1b, sizes[i]);
                    t.observe(&c, T0)
                })
                .collect();
            rows.last().and_then(|r| r.size_jitter).expect("unsampled")
        };
        // Check-ins of 900-940 bytes: within a few percent of each other.
        let s = spread(&[900, 935, 910, 940, 905, 925, 915, 930, 920, 900]);
        assert!(s < 0.05, "{s}");
        // A person fetching pages of a site on a timer by chance: sizes from 400 bytes
        // to 60 kB.
        let s = spread(&[400, 12_000, 3_500, 60_000, 800, 9_000, 25_000, 1_200, 5_000, 700]);
        assert!(s > 1.0, "{s}");
        // The code keeps a size to within 3 %, from one byte to past the largest contact.
        for bytes in [1u64, 2, 100, 917, 65_537, MAX_CONTACT_BYTES] {
            let back = code_bytes(size_code(bytes));
            assert!((back / bytes as f64 - 1.0).abs() < 0.03, "{bytes} -> {back}");
        }
    }

    #[test]
    fn irregular_contacts_long_connections_and_transfers_are_not() {
        // Random intervals.
        let mut t = tracker();
        let mut start = T0;
        for (i, gap) in [5_000i64, 200_000, 12_000, 90_000, 3_000, 400_000, 30_000, 7_000].iter().enumerate()
        {
            start += gap;
            assert_eq!(t.observe(&contact(start, 40_000 + i as u16, 0x1b, 1_000), T0), None);
        }
        // One long connection cut every 60 s by the exporter's active timeout: no SYN
        // after the first record.
        let mut t = tracker();
        for i in 0..10i64 {
            let flags = if i == 0 { 0x1a } else { 0x18 };
            assert_eq!(t.observe(&contact(T0 + i * 60_000, 40_000, flags, 1_000), T0), None);
        }
        // Regular, but uploads of 5 MB each are transfers, not check-ins.
        let mut t = tracker();
        for i in 0..10i64 {
            assert_eq!(t.observe(&contact(T0 + i * 60_000, 40_000 + i as u16, 0x1b, 5_000_000), T0), None);
        }
        // A retransmitted batch repeats contacts: ignored, the pair stays as it was.
        let mut t = tracker();
        let mut found = 0;
        for i in 0..8i64 {
            for _ in 0..2 {
                found += usize::from(
                    t.observe(&contact(T0 + i * 60_000, 40_000 + i as u16, 0x1b, 1_000), T0).is_some(),
                );
            }
        }
        assert_eq!(found, 8 - REPORT_MIN_CONTACTS as usize + 1);
    }

    #[test]
    fn check_ins_seen_through_packet_sampling_are_regular_on_their_period() {
        // A 1-in-10 sampler saw about half of the check-ins, rarely their SYN.
        let seen = [0i64, 1, 2, 4, 5, 8, 9, 10, 12, 13, 16, 17, 19, 20, 21, 23, 24, 27];
        let jitter = [0i64, 2_000, -3_000, 1_000, -1_000, 3_000, 0, -2_000, 2_500, -500, 1_500, -2_500];
        let jitter: Vec<i64> = jitter.iter().chain(&jitter).copied().collect();
        let mut t = tracker();
        let mut rows = Vec::new();
        for (i, (&k, &j)) in seen.iter().zip(&jitter).enumerate() {
            let mut r =
                contact(T0 + k * 60_000 + j, 40_000 + i as u16, if i == 3 { 0x1b } else { 0x18 }, 100);
            (r.packets, r.sampling_rate) = (1, 10);
            rows.extend(t.observe(&r, T0));
        }
        let last = rows.last().expect("reported");
        assert_eq!((rows.len(), last.contacts), (seen.len() - lattice::MIN_INTERVALS, 18));
        assert!((last.period_ms - 60_000).abs() < 1_000 && last.jitter < 0.1, "{last:?}");
        assert_eq!(last.bytes_per_contact, 1_000, "sampling-corrected");
        assert_eq!(last.size_jitter, None, "a sampled record's bytes are its packets'");
        // The same records from an exporter that does not sample: intervals of one to
        // three periods are no regular check-in there, and records without SYN are no
        // new connection.
        let mut t = tracker();
        for (i, (&k, &j)) in seen.iter().zip(&jitter).enumerate() {
            let r = contact(T0 + k * 60_000 + j, 40_000 + i as u16, 0x1b, 1_000);
            assert_eq!(t.observe(&r, T0), None);
        }
        // Sampled packets of one long connection (one source port) are no contacts,
        // nor records of three parallel ones cut every 60 s at the exporter's active
        // timeout: their intervals (20 s, 20 s, 20 s ...) fit a period exactly.
        let mut t = tracker();
        for k in 0..20i64 {
            let mut r = contact(T0 + k * 60_000, 40_000, 0x18, 100);
            r.sampling_rate = 64;
            assert_eq!(t.observe(&r, T0), None);
            for (i, port) in [41_000, 42_000, 43_000].into_iter().enumerate() {
                let mut r = contact(T0 + k * 60_000 + i as i64 * 20_000, port, 0x18, 100);
                r.sampling_rate = 10;
                assert_eq!(t.observe(&r, T0), None);
            }
        }
    }

    #[test]
    fn random_contacts_seen_through_sampling_are_not_reported() {
        // 2,000 pairs of 40 contacts each at exponential intervals (mean 2 min; 30 s and
        // 10 min, 6,000 pairs of 60 contacts, reported none either).
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut uniform = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut t = BeaconTracker::new(InternalNetworks::default(), 10_000);
        let mut reported = 0;
        for pair in 0..2000u16 {
            let mut start = T0;
            for i in 0..40u16 {
                start += 1_000 + (-(1.0 - uniform()).ln() * 120_000.0) as i64;
                let mut r = contact(start, 20_000 + i, 0x18, 100);
                (r.dst_port, r.sampling_rate) = (1_000 + pair, 10);
                reported += usize::from(t.observe(&r, T0).is_some_and(|b| b.jitter <= 0.1));
            }
        }
        assert_eq!(reported, 0);
    }

    #[test]
    fn a_pair_takes_at_most_176_bytes() {
        // docs/insights.md gives the tracker's memory from it.
        let size = std::mem::size_of::<(PairKey, Contacts)>();
        assert!(size <= 176, "{size}");
    }

    #[test]
    fn memory_is_bounded_and_silent_pairs_are_forgotten() {
        let mut t = BeaconTracker::new(InternalNetworks::default(), 10);
        for i in 0..20u16 {
            let mut r = contact(T0, 40_000, 0x1b, 1_000);
            r.dst_port = 1_000 + i;
            t.observe(&r, T0);
        }
        assert_eq!((t.len(), t.untracked()), (10, 10));
        // Two generations later only new pairs are left.
        t.observe(&contact(T0 + GENERATION_MS, 40_001, 0x1b, 1_000), T0);
        t.observe(&contact(T0 + 2 * GENERATION_MS, 40_002, 0x1b, 1_000), T0);
        assert!(t.len() <= 2, "{}", t.len());
    }
}
