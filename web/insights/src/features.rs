//! Per-host features in 10-second buckets, as seen by one exporter.
//!
//! A host's row says what reached it (`*_in`: it was the destination) and what it sent
//! (`*_out`: it was the source), sampling-corrected, plus distinct counts as
//! [`Distinct`] sketches. Rows are partial aggregates: each stored batch adds its own
//! rows, and whoever reads them merges the rows of a key ([`HostFeatures::merge`]),
//! so nothing is ever updated in place.
//!
//! Bounded per batch: every host of the batch is ranked by the signals alone (a map of
//! small fixed-size entries), then only the top hosts by each signal in each (bucket,
//! exporter) keep a row, and only those get whole counters and sketches, in a second
//! pass over the batch ([`HostFeatureSet`]). A flood from random spoofed sources makes
//! a million sources but no row per source.

use crate::amplifier;
use crate::sketch::Distinct;
use flowvision_codec::hash::FxHashMap;
use flowvision_codec::prefix::Prefix;
use flowvision_codec::{FlowRecord, Protocol};
use std::net::IpAddr;

/// Bucket length, milliseconds.
pub const BUCKET_MS: i64 = 10_000;

/// A flow whose own end time is further than this from its reception is bucketed by
/// its reception instead: an exporter with a wrong clock must not put live traffic
/// days in the past or future.
pub const MAX_CLOCK_SKEW_MS: i64 = 300_000;

/// Where a row belongs: bucket start (Unix ms), exporter and host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HostKey {
    /// Bucket start, Unix milliseconds (a multiple of [`BUCKET_MS`]).
    pub bucket_ms: i64,
    /// The exporter that saw the traffic.
    pub exporter: IpAddr,
    /// The host.
    pub host: IpAddr,
}

/// The additive part of a host's features (all sampling-corrected estimates).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Flows to the host.
    pub flows_in: i64,
    /// Flows from the host.
    pub flows_out: i64,
    /// Bytes to the host.
    pub bytes_in: i64,
    /// Bytes from the host.
    pub bytes_out: i64,
    /// Packets to the host.
    pub packets_in: i64,
    /// Packets from the host.
    pub packets_out: i64,
    /// Packets of TCP flows to the host that carried SYN but never ACK (handshakes
    /// that were never completed).
    pub syn_packets_in: i64,
    /// The same, from the host.
    pub syn_packets_out: i64,
    /// UDP packets to the host.
    pub udp_packets_in: i64,
    /// ICMP/ICMPv6 packets to the host.
    pub icmp_packets_in: i64,
    /// UDP packets to the host from a known reflector port ([`amplifier`]).
    pub amp_packets_in: i64,
    /// Their bytes.
    pub amp_bytes_in: i64,
    /// Probes from the host: flows of at most two packets that asked rather than
    /// answered ([`is_probe`]).
    pub probe_flows_out: i64,
    /// ICMP echo request flows from the host.
    pub echo_flows_out: i64,
    /// Refusals sent to the host: TCP flows of at most two packets carrying RST, and
    /// ICMP destination-unreachable. A sweep of live addresses is answered by resets;
    /// those are no more an answer than silence is.
    pub refusals_in: i64,
    /// Probe records from the host as exported, not sampling-corrected: with
    /// `probe_flows_out` they give the sampling rate its probes were seen at, by which
    /// a scan's distinct ports and hosts seen are scaled (`detect/scan.rs`).
    pub probe_records_out: i64,
    /// Bytes from the host, an internal one, to addresses outside the internal
    /// networks ([`InternalNetworks`]), but not its answers from a well-known port
    /// ([`answers`]): what `exfiltration` weighs. Backups and replication to internal
    /// servers are not in it, nor downloads outside clients made from the host.
    pub bytes_out_external: i64,
    /// Bytes to the host, an internal one, from addresses outside the internal
    /// networks: against `bytes_out_external`, whether the host sends far more out than
    /// comes in. Both count records whole (not at their rate, as the others do).
    pub bytes_in_external: i64,
}

/// How many counters [`Counters`] has.
pub const COUNTERS: usize = 18;

impl Counters {
    /// Adds `o`, saturating. Inlined: per record it adds a contribution whose fields
    /// are mostly constant zeros the compiler then drops.
    #[inline]
    pub fn add(&mut self, o: &Counters) {
        for (a, b) in self.fields_mut().into_iter().zip(o.fields()) {
            *a = a.saturating_add(b);
        }
    }

    /// The counters in storage order (see [`Counters::NAMES`]).
    #[inline]
    pub fn fields(&self) -> [i64; COUNTERS] {
        [
            self.flows_in,
            self.flows_out,
            self.bytes_in,
            self.bytes_out,
            self.packets_in,
            self.packets_out,
            self.syn_packets_in,
            self.syn_packets_out,
            self.udp_packets_in,
            self.icmp_packets_in,
            self.amp_packets_in,
            self.amp_bytes_in,
            self.probe_flows_out,
            self.echo_flows_out,
            self.refusals_in,
            self.probe_records_out,
            self.bytes_out_external,
            self.bytes_in_external,
        ]
    }

    #[inline]
    fn fields_mut(&mut self) -> [&mut i64; COUNTERS] {
        [
            &mut self.flows_in,
            &mut self.flows_out,
            &mut self.bytes_in,
            &mut self.bytes_out,
            &mut self.packets_in,
            &mut self.packets_out,
            &mut self.syn_packets_in,
            &mut self.syn_packets_out,
            &mut self.udp_packets_in,
            &mut self.icmp_packets_in,
            &mut self.amp_packets_in,
            &mut self.amp_bytes_in,
            &mut self.probe_flows_out,
            &mut self.echo_flows_out,
            &mut self.refusals_in,
            &mut self.probe_records_out,
            &mut self.bytes_out_external,
            &mut self.bytes_in_external,
        ]
    }

    /// Counters from their stored values, in [`Counters::NAMES`] order.
    pub fn from_fields(v: [i64; COUNTERS]) -> Counters {
        let mut c = Counters::default();
        for (a, b) in c.fields_mut().into_iter().zip(v) {
            *a = b;
        }
        c
    }

    /// Column names of the counters, in storage order.
    pub const NAMES: [&'static str; COUNTERS] = [
        "flows_in",
        "flows_out",
        "bytes_in",
        "bytes_out",
        "packets_in",
        "packets_out",
        "syn_packets_in",
        "syn_packets_out",
        "udp_packets_in",
        "icmp_packets_in",
        "amp_packets_in",
        "amp_bytes_in",
        "probe_flows_out",
        "echo_flows_out",
        "refusals_in",
        "probe_records_out",
        "bytes_out_external",
        "bytes_in_external",
    ];
}

/// A host's features in one bucket (or merged over a window).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct HostFeatures {
    /// The additive counters.
    pub counters: Counters,
    /// Distinct sources that sent to the host.
    pub sources_in: Distinct,
    /// Distinct reflectors (sources on an amplifier port) that sent to the host.
    pub reflectors_in: Distinct,
    /// Distinct destinations the host sent to.
    pub peers_out: Distinct,
    /// Distinct (protocol, destination port) the host sent to, TCP and UDP.
    pub ports_out: Distinct,
}

impl HostFeatures {
    /// Merges another partial row of the same host.
    pub fn merge(&mut self, o: &HostFeatures) {
        self.counters.add(&o.counters);
        self.sources_in.merge(&o.sources_in);
        self.reflectors_in.merge(&o.reflectors_in);
        self.peers_out.merge(&o.peers_out);
        self.ports_out.merge(&o.ports_out);
    }

    /// Sketch column names, in storage order.
    pub const SKETCH_NAMES: [&'static str; 4] = ["sources_in", "reflectors_in", "peers_out", "ports_out"];

    /// The sketches in storage order.
    pub fn sketches(&self) -> [&Distinct; 4] {
        [&self.sources_in, &self.reflectors_in, &self.peers_out, &self.ports_out]
    }
}

/// Partial rows merged per key (`key` giving `None` leaves a row out), in key order.
/// Rows are taken by reference (a row with its sketches is half a kilobyte), merged in
/// a hash map of indices and sorted once at the end: an ordered map shifted those half
/// kilobytes within its nodes at every insert (in a profile of the evaluation,
/// `memmove` and key comparisons were the detectors' largest costs, session 19).
pub fn merge_by<'a, K: Copy + Ord + std::hash::Hash>(
    rows: impl IntoIterator<Item = &'a (HostKey, HostFeatures)>,
    key: impl Fn(&HostKey) -> Option<K>,
) -> Vec<(K, HostFeatures)> {
    let mut index: FxHashMap<K, usize> = FxHashMap::default();
    let mut merged: Vec<(K, HostFeatures)> = Vec::new();
    for (k, f) in rows {
        let Some(key) = key(k) else { continue };
        let next = merged.len();
        match merged.get_mut(*index.entry(key).or_insert(next)) {
            Some((_, m)) => m.merge(f),
            None => merged.push((key, *f)),
        }
    }
    merged.sort_unstable_by_key(|(k, _)| *k);
    merged
}

/// The bucket of a flow: its end (or start) when the exporter's clock is plausible,
/// else its reception time.
#[inline]
pub fn bucket_of(r: &FlowRecord, received_ms: i64) -> i64 {
    let t = match r.flow_end_ms.or(r.flow_start_ms) {
        Some(t) if (t - received_ms).abs() <= MAX_CLOCK_SKEW_MS => t,
        _ => received_ms,
    };
    t.div_euclid(BUCKET_MS) * BUCKET_MS
}

const TCP: u8 = 6;
const UDP: u8 = 17;
const ICMP: u8 = 1;
const ICMPV6: u8 = 58;
const SYN: u16 = 0x02;
const RST: u16 = 0x04;
const ACK: u16 = 0x10;

/// Whether a flow is a probe: at most two packets, and not an answer. A TCP probe
/// never acknowledged anything (SYN, FIN, NULL and Xmas scans; a server's short replies
/// and a scanned host's resets carry ACK); a UDP probe comes from an ephemeral port (a
/// DNS or NTP server's one-packet answers come from its service port and go to as many
/// client ports as it has clients, which is no scan). Exporters that report no TCP
/// flags (flags 0) make every short TCP flow a probe, as before.
///
/// A sampled sFlow sample is one packet of a flow of unknown length, so its packet
/// count says nothing: only a bare SYN (a connection being asked for) or an ICMP packet
/// counts. A busy client's sampled UDP queries and TCP segments would otherwise make it
/// a scanner at 1:64 once its distinct ports are scaled by the rate. (Unsampled sFlow
/// sees every packet and keeps the flow rule.)
///
/// A packet-sampled NetFlow or IPFIX record counts the sampled packets only: half the
/// records of a 25-packet QUIC flow seen 1 in 10 hold one or two of them. TCP flags
/// still tell a probe (a long connection's segments carry ACK) and ICMP is mostly
/// echo; a short UDP record does not, so sampled UDP is no probe (a busy client's
/// sampled QUIC and DNS, to hundreds of servers, was a "host sweep" at 1:10).
#[inline]
fn is_probe(r: &FlowRecord) -> bool {
    let sampled = r.sampling_rate > 1;
    if r.protocol == Protocol::SflowV5 && sampled {
        return match r.proto {
            TCP => r.tcp_flags & (SYN | ACK) == SYN,
            ICMP | ICMPV6 => true,
            _ => false,
        };
    }
    r.packets <= 2
        && match r.proto {
            TCP => r.tcp_flags & ACK == 0,
            UDP => r.src_port >= 1024 && !sampled,
            _ => true,
        }
}

/// Whether a flow is a server's answer: TCP or UDP from a well-known port (below 1024)
/// to one that is not. What a host sends from its service port, a client asked for (a
/// download from an internal web server); exfiltration is what a host sends on
/// connections it opened, and a 301 MB answer to one client was reported as one
/// (session 24). A service above 1023 is not told apart: its answers still count.
#[inline]
fn answers(r: &FlowRecord) -> bool {
    matches!(r.proto, TCP | UDP) && r.src_port != 0 && r.src_port < 1024 && r.dst_port >= 1024
}

/// Whether a flow refuses its destination's attempt: a short TCP reset (a closed port
/// on a live host) or ICMP destination-unreachable (type 3, ICMPv6 type 1; exporters
/// put the type in the high byte of the destination port).
#[inline]
fn is_refusal(r: &FlowRecord) -> bool {
    match r.proto {
        TCP => r.packets <= 2 && r.tcp_flags & RST != 0,
        ICMP => r.dst_port >> 8 == 3,
        ICMPV6 => r.dst_port >> 8 == 1,
        _ => false,
    }
}

/// What of `v` (a flow's packets or bytes) its bucket counts: all of it for a flow that
/// fit in a bucket; for a longer one, one bucket's worth at the flow's average rate.
/// A flow is only seen when it ends (exporters report long flows at their active
/// timeout, 1-30 minutes), so counting a ten-minute download whole in the bucket
/// where it ended would make it a ten-second burst of sixty times its rate: the
/// false `udp_flood` insights of bulk UDP transfers that bench/src/bin/insights.rs
/// found. Flow counts are not scaled: a flow ends once.
#[inline]
fn at_flow_rate(r: &FlowRecord, v: i64) -> i64 {
    match (r.flow_start_ms, r.flow_end_ms) {
        (Some(start), Some(end)) if end - start > BUCKET_MS => {
            let scaled = i128::from(v) * i128::from(BUCKET_MS) / i128::from(end - start);
            i64::try_from(scaled).unwrap_or(v)
        }
        _ => v,
    }
}

/// The networks a host is inside of: the operator's own address space. Traffic from an
/// internal host to anything else leaves the network (`bytes_out_external`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InternalNetworks {
    prefixes: Vec<Prefix>,
}

impl Default for InternalNetworks {
    /// The private and shared ranges (RFC 1918, RFC 6598, RFC 4193, link-local): what a
    /// network without public space of its own numbers its hosts from.
    fn default() -> Self {
        let prefixes = [
            "10.0.0.0/8",
            "172.16.0.0/12",
            "192.168.0.0/16",
            "100.64.0.0/10",
            "169.254.0.0/16",
            "fc00::/7",
            "fe80::/10",
        ]
        .iter()
        .filter_map(|p| p.parse().ok())
        .collect();
        InternalNetworks { prefixes }
    }
}

impl InternalNetworks {
    /// From a comma-separated list of prefixes (`INTERNAL_NETWORKS`, which the collector
    /// and the console both read), at least one.
    pub fn parse(v: &str) -> Result<InternalNetworks, String> {
        let mut prefixes = Vec::new();
        for part in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            prefixes.push(Prefix::parse_exact(part).map_err(|e| format!("{part}: {e}"))?);
        }
        if prefixes.is_empty() {
            return Err("must list at least one prefix, e.g. 10.0.0.0/8,2001:db8::/32".into());
        }
        Ok(InternalNetworks { prefixes })
    }

    /// Exactly these prefixes (none: no host is internal, so nothing is counted as
    /// leaving).
    pub fn new(prefixes: Vec<Prefix>) -> InternalNetworks {
        InternalNetworks { prefixes }
    }

    /// The prefixes.
    pub fn prefixes(&self) -> &[Prefix] {
        &self.prefixes
    }

    /// Whether `addr` is inside.
    #[inline]
    pub fn contains(&self, addr: IpAddr) -> bool {
        self.prefixes.iter().any(|p| p.contains(addr))
    }

    /// Whether a flow leaves the network (from an internal host to an external one)
    /// and whether it enters it (the other way).
    #[inline]
    fn crossing(&self, r: &FlowRecord) -> (bool, bool) {
        match (r.src_addr, r.dst_addr) {
            (Some(src), Some(dst)) => {
                let (src_in, dst_in) = (self.contains(src), self.contains(dst));
                (src_in && !dst_in, dst_in && !src_in)
            }
            _ => (false, false),
        }
    }
}

/// One record's contribution to its destination's (`in`) and its source's (`out`)
/// counters.
#[inline]
fn contribution(r: &FlowRecord, internal: &InternalNetworks) -> (Counters, Counters) {
    let rate = i64::from(r.sampling_rate.max(1));
    let packets = at_flow_rate(r, i64::try_from(r.packets).unwrap_or(i64::MAX).saturating_mul(rate));
    let whole_bytes = i64::try_from(r.bytes).unwrap_or(i64::MAX).saturating_mul(rate);
    let bytes = at_flow_rate(r, whole_bytes);
    let (leaves, enters) = internal.crossing(r);
    let syn_only = r.proto == TCP && r.tcp_flags & SYN != 0 && r.tcp_flags & ACK == 0;
    let syn = if syn_only { packets } else { 0 };
    let amp = r.proto == UDP && amplifier::service(r.src_port).is_some();
    let inbound = Counters {
        flows_in: rate,
        bytes_in: bytes,
        packets_in: packets,
        syn_packets_in: syn,
        udp_packets_in: if r.proto == UDP { packets } else { 0 },
        icmp_packets_in: if r.proto == ICMP || r.proto == ICMPV6 { packets } else { 0 },
        amp_packets_in: if amp { packets } else { 0 },
        amp_bytes_in: if amp { bytes } else { 0 },
        refusals_in: if is_refusal(r) { rate } else { 0 },
        bytes_in_external: if enters { whole_bytes } else { 0 },
        ..Counters::default()
    };
    // ICMP echo request: type 8 (v4) or 128 (v6) in the high byte of the port.
    let echo = (r.proto == ICMP && r.dst_port >> 8 == 8) || (r.proto == ICMPV6 && r.dst_port >> 8 == 128);
    let probe = is_probe(r);
    let outbound = Counters {
        flows_out: rate,
        bytes_out: bytes,
        packets_out: packets,
        syn_packets_out: syn,
        probe_flows_out: if probe { rate } else { 0 },
        probe_records_out: i64::from(probe),
        echo_flows_out: if echo { rate } else { 0 },
        // Whole, in the bucket the record ended in: exfiltration is a volume over
        // minutes, and an upload's long records must not shrink to ten seconds' worth.
        bytes_out_external: if leaves && !answers(r) { whole_bytes } else { 0 },
        ..Counters::default()
    };
    (inbound, outbound)
}

/// The signals a host can be among the top of, per bucket and exporter: one per way a
/// host stands out in an attack (as victim or as source) or in volume.
const SIGNALS: [fn(&Counters) -> i64; SIGNAL_COUNT] = [
    |c| c.bytes_in,
    |c| c.bytes_out,
    |c| c.bytes_out_external,
    |c| c.packets_in,
    |c| c.flows_out,
    |c| c.syn_packets_in,
    |c| c.udp_packets_in,
    |c| c.icmp_packets_in,
    |c| c.amp_packets_in,
    |c| c.probe_flows_out,
    |c| c.echo_flows_out,
];

const SIGNAL_COUNT: usize = 11;

/// A host of one (bucket, exporter) group of the batch: the group's index and the
/// address as two words. Ordered as [`HostKey`] orders hosts within a group (IPv4
/// before IPv6, then by address), so ties in a signal break the same way; 24 bytes
/// where a `HostKey` takes 48, which is what keeps the first pass's map of every host
/// in a 65,536-record batch mostly in cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Slot {
    group: u32,
    v6: bool,
    hi: u64,
    lo: u64,
}

impl Slot {
    #[inline]
    fn new(group: u32, host: IpAddr) -> Slot {
        match host {
            IpAddr::V4(a) => Slot { group, v6: false, hi: 0, lo: u64::from(u32::from(a)) },
            IpAddr::V6(a) => {
                let v = u128::from(a);
                Slot { group, v6: true, hi: (v >> 64) as u64, lo: v as u64 }
            }
        }
    }

    fn host(&self) -> IpAddr {
        if self.v6 {
            IpAddr::V6(std::net::Ipv6Addr::from((u128::from(self.hi) << 64) | u128::from(self.lo)))
        } else {
            // Built from a u32, so it fits.
            IpAddr::V4(std::net::Ipv4Addr::from(u32::try_from(self.lo).unwrap_or(u32::MAX)))
        }
    }
}

/// A candidate for the top of one signal: greater is worse (less of the signal, then
/// the later host), so a max-heap of them keeps its worst on top for replacing.
type Candidate = (std::cmp::Reverse<u32>, Slot);

/// A host's signals summed over a batch, for ranking only: saturated at `u32::MAX`
/// (4 GiB of a host's bytes in one batch ranks with every larger host, ties then
/// broken by address), half the room of whole counters in the first pass's map.
type Ranks = [u32; SIGNAL_COUNT];

/// One batch's host feature rows (reused from batch to batch: its maps keep their
/// room).
///
/// Two passes over the batch. The first sums, for every host of every (bucket,
/// exporter) group, only the signals it could be ranked by, in a map of compact keys;
/// the top hosts of each signal are then kept in small heaps. The second computes the
/// whole counters and the sketches of the chosen hosts only. The first pass is what
/// costs: a flood or a busy network puts tens of thousands of distinct hosts in a
/// batch, each an entry of that map.
#[derive(Debug, Default)]
pub struct HostFeatureSet {
    internal: InternalNetworks,
    /// (bucket, exporter) of each group, by index.
    groups: Vec<(i64, IpAddr)>,
    group_index: FxHashMap<(i64, IpAddr), u32>,
    /// How many hosts each group has.
    group_hosts: Vec<usize>,
    /// The group of each record, in batch order (for the second pass).
    record_groups: Vec<u32>,
    /// Every host of the batch and its signals.
    hosts: FxHashMap<Slot, Ranks>,
    /// The chosen hosts: their index in `rows`.
    chosen: FxHashMap<Slot, u32>,
    rows: Vec<(HostKey, HostFeatures)>,
}

impl HostFeatureSet {
    /// A set whose hosts are internal when inside `internal` (the default set uses
    /// [`InternalNetworks::default`]).
    pub fn new(internal: InternalNetworks) -> HostFeatureSet {
        HostFeatureSet { internal, ..HostFeatureSet::default() }
    }

    /// Builds the rows of a batch of (record, reception ms): the top `per_signal` hosts
    /// of each signal in each (bucket, exporter) get a row with their counters and
    /// sketches (every host of a group with no more hosts than that). The iterator is
    /// walked twice and must give the same records both times.
    pub fn build<'a, I>(&mut self, records: I, per_signal: usize)
    where
        I: Iterator<Item = (&'a FlowRecord, i64)> + Clone,
    {
        self.clear();
        if per_signal == 0 {
            return;
        }
        self.sum_signals(records.clone());
        self.choose(per_signal);
        if !self.rows.is_empty() {
            self.fill_rows(records);
        }
        self.rows.sort_unstable_by_key(|r| r.0);
    }

    /// First pass: each host's signals, per group.
    fn sum_signals<'a, I>(&mut self, records: I)
    where
        I: Iterator<Item = (&'a FlowRecord, i64)>,
    {
        let HostFeatureSet { internal, groups, group_index, group_hosts, record_groups, hosts, .. } = self;
        let mut last: Option<(i64, IpAddr, u32)> = None;
        for (r, received) in records {
            let bucket_ms = bucket_of(r, received);
            // Consecutive records mostly come from one datagram: one exporter, one bucket.
            let group = match last {
                Some((b, e, g)) if b == bucket_ms && e == r.exporter => g,
                _ => {
                    let next = u32::try_from(groups.len()).unwrap_or(u32::MAX);
                    let g = *group_index.entry((bucket_ms, r.exporter)).or_insert_with(|| {
                        groups.push((bucket_ms, r.exporter));
                        group_hosts.push(0);
                        next
                    });
                    last = Some((bucket_ms, r.exporter, g));
                    g
                }
            };
            record_groups.push(group);
            let (inbound, outbound) = contribution(r, internal);
            for (host, c) in [(r.dst_addr, &inbound), (r.src_addr, &outbound)] {
                let Some(host) = host else { continue };
                let sums = hosts.entry(Slot::new(group, host)).or_insert_with(|| {
                    if let Some(n) = usize::try_from(group).ok().and_then(|g| group_hosts.get_mut(g)) {
                        *n += 1;
                    }
                    [0; SIGNAL_COUNT]
                });
                for (sum, signal) in sums.iter_mut().zip(SIGNALS) {
                    let v = u32::try_from(signal(c).max(0)).unwrap_or(u32::MAX);
                    *sum = sum.saturating_add(v);
                }
            }
        }
    }

    /// Chooses the hosts that get a row: every host of a small group, else the top of
    /// each signal (ties broken by address, so the same batch always gives the same
    /// rows).
    fn choose(&mut self, per_signal: usize) {
        let HostFeatureSet { groups, group_hosts, hosts, chosen, rows, .. } = self;
        let mut tops: Vec<Vec<std::collections::BinaryHeap<Candidate>>> = Vec::new();
        tops.resize_with(groups.len(), || vec![std::collections::BinaryHeap::new(); SIGNAL_COUNT]);
        let mut choose = |slot: Slot| {
            let next = u32::try_from(rows.len()).unwrap_or(u32::MAX);
            chosen.entry(slot).or_insert_with(|| {
                let (bucket_ms, exporter) = usize::try_from(slot.group)
                    .ok()
                    .and_then(|g| groups.get(g))
                    .copied()
                    .unwrap_or((0, IpAddr::from([0u8; 4])));
                rows.push((HostKey { bucket_ms, exporter, host: slot.host() }, HostFeatures::default()));
                next
            });
        };
        for (slot, sums) in hosts.iter() {
            let g = usize::try_from(slot.group).unwrap_or(usize::MAX);
            if group_hosts.get(g).is_some_and(|&n| n <= per_signal) {
                choose(*slot);
                continue;
            }
            let Some(heaps) = tops.get_mut(g) else { continue };
            for (heap, &v) in heaps.iter_mut().zip(sums) {
                if v == 0 {
                    continue;
                }
                let c = (std::cmp::Reverse(v), *slot);
                if heap.len() < per_signal {
                    heap.push(c);
                } else if let Some(mut worst) = heap.peek_mut() {
                    if c < *worst {
                        *worst = c;
                    }
                }
            }
        }
        for heap in tops.iter().flatten() {
            for (_, slot) in heap.iter() {
                choose(*slot);
            }
        }
    }

    /// Second pass: the chosen hosts' counters and sketches.
    fn fill_rows<'a, I>(&mut self, records: I)
    where
        I: Iterator<Item = (&'a FlowRecord, i64)>,
    {
        let HostFeatureSet { internal, record_groups, chosen, rows, .. } = self;
        let row_of = |group: u32, host: Option<IpAddr>| {
            host.and_then(|h| chosen.get(&Slot::new(group, h))).and_then(|&i| usize::try_from(i).ok())
        };
        for ((r, _), &group) in records.zip(record_groups.iter()) {
            let (to, from) = (row_of(group, r.dst_addr), row_of(group, r.src_addr));
            if to.is_none() && from.is_none() {
                continue;
            }
            let (inbound, outbound) = contribution(r, internal);
            if let Some((_, f)) = to.and_then(|i| rows.get_mut(i)) {
                f.counters.add(&inbound);
                if let Some(src) = r.src_addr.filter(|_| r.dst_addr.is_some()) {
                    f.sources_in.insert_addr(src);
                    if r.proto == UDP && amplifier::service(r.src_port).is_some() {
                        f.reflectors_in.insert_addr(src);
                    }
                }
            }
            if let Some((_, f)) = from.and_then(|i| rows.get_mut(i)) {
                f.counters.add(&outbound);
                if let Some(dst) = r.dst_addr.filter(|_| r.src_addr.is_some()) {
                    f.peers_out.insert_addr(dst);
                    if r.proto == TCP || r.proto == UDP {
                        f.ports_out.insert_u64((u64::from(r.proto) << 16) | u64::from(r.dst_port));
                    }
                }
            }
        }
    }

    /// Forgets the last batch.
    pub fn clear(&mut self) {
        self.groups.clear();
        self.group_index.clear();
        self.group_hosts.clear();
        self.record_groups.clear();
        self.hosts.clear();
        self.chosen.clear();
        self.rows.clear();
    }

    /// The rows, sorted by key.
    pub fn rows(&self) -> &[(HostKey, HostFeatures)] {
        &self.rows
    }

    /// How many rows the batch has.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether the batch has no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;
    use std::net::Ipv4Addr;

    fn addr(last: u32) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + last))
    }

    fn rec(src: u32, dst: u32, proto: u8, sport: u16, dport: u16, flags: u16, packets: u64) -> FlowRecord {
        FlowRecord {
            protocol: Protocol::NetflowV5,
            exporter: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
            src_addr: Some(addr(src)),
            dst_addr: Some(addr(dst)),
            src_port: sport,
            dst_port: dport,
            proto,
            tcp_flags: flags,
            packets,
            bytes: packets * 60,
            sampling_rate: 1,
            flow_end_ms: Some(1_000_005_000),
            ..FlowRecord::default()
        }
    }

    const NOW: i64 = 1_000_009_000;

    #[test]
    fn a_syn_flood_gives_the_victim_one_row_and_no_row_per_spoofed_source() {
        let flood: Vec<FlowRecord> =
            (0..5_000).map(|i| rec(100_000 + i, 1, TCP, 40_000, 80, SYN, 1)).collect();
        let mut set = HostFeatureSet::default();
        set.build(flood.iter().map(|r| (r, NOW)), 16);
        let rows = set.rows();
        assert!(rows.len() <= 10 * 16, "{} rows", rows.len());
        let (k, f) = rows.iter().find(|(k, _)| k.host == addr(1)).copied().expect("a row for the host");
        assert_eq!(k.bucket_ms, 1_000_000_000);
        assert_eq!(f.counters.syn_packets_in, 5_000);
        assert_eq!(f.counters.flows_in, 5_000);
        let sources = f.sources_in.estimate();
        assert!((sources / 5_000.0 - 1.0).abs() < 0.4, "{sources}");
    }

    #[test]
    fn completed_handshakes_and_replies_are_not_syn_only() {
        let flows = [rec(2, 1, TCP, 40_000, 443, SYN | ACK, 10), rec(1, 2, TCP, 443, 40_000, SYN | ACK, 8)];
        let mut set = HostFeatureSet::default();
        set.build(flows.iter().map(|r| (r, NOW)), 16);
        for (_, f) in set.rows() {
            assert_eq!(f.counters.syn_packets_in + f.counters.syn_packets_out, 0);
        }
    }

    #[test]
    fn reflection_counts_reflectors_and_scans_count_ports_and_peers() {
        let mut flows: Vec<FlowRecord> = (0..50).map(|i| rec(1_000 + i, 1, UDP, 123, 7_777, 0, 3)).collect();
        flows.extend((0..300).map(|p| rec(9, 2, TCP, 50_000, 1 + p as u16, SYN, 1)));
        flows.extend((0..80).map(|h| rec(8, 3_000 + h, ICMP, 0, 0x0800, 0, 1)));
        let mut set = HostFeatureSet::default();
        set.build(flows.iter().map(|r| (r, NOW)), 16);
        let rows = set.rows();
        let get = |h: u32| rows.iter().find(|(k, _)| k.host == addr(h)).map(|(_, f)| *f).unwrap_or_default();
        let victim = get(1);
        assert_eq!(victim.counters.amp_packets_in, 150);
        assert!((victim.reflectors_in.estimate() - 50.0).abs() < 15.0);
        let scanner = get(9);
        assert_eq!(scanner.counters.probe_flows_out, 300);
        assert!((scanner.ports_out.estimate() - 300.0).abs() < 120.0);
        assert!(scanner.peers_out.estimate() < 1.5);
        let sweeper = get(8);
        assert_eq!(sweeper.counters.echo_flows_out, 80);
        assert!((sweeper.peers_out.estimate() - 80.0).abs() < 30.0);
    }

    #[test]
    fn resets_and_unreachables_are_refusals_not_answers() {
        // A sweeper (1) gets a reset from a live host, an ICMP port unreachable from
        // another, and one real answer (SYN-ACK then data).
        let rst = rec(2, 1, TCP, 445, 40_000, RST | ACK, 1);
        let unreachable = rec(3, 1, ICMP, 0, 3 << 8 | 3, 0, 1);
        let answer = rec(4, 1, TCP, 445, 40_001, SYN | ACK, 1);
        let long_rst = rec(5, 1, TCP, 80, 40_002, ACK | RST, 20);
        let mut set = HostFeatureSet::default();
        set.build([rst, unreachable, answer, long_rst].iter().map(|r| (r, NOW)), 16);
        let rows = set.rows();
        let c = rows.iter().find(|(k, _)| k.host == addr(1)).unwrap().1.counters;
        assert_eq!(c.flows_in, 4);
        assert_eq!(c.refusals_in, 2, "a 20-packet connection that ended in a reset was answered");
    }

    #[test]
    fn a_sampled_record_is_a_probe_only_when_tcp_or_icmp_says_so() {
        let sample = |proto, flags| FlowRecord {
            protocol: Protocol::SflowV5,
            sampling_rate: 64,
            ..rec(1, 2, proto, 40_000, 53, flags, 1)
        };
        assert!(!is_probe(&sample(UDP, 0)), "a sampled DNS query");
        assert!(!is_probe(&sample(TCP, ACK)), "a sampled segment");
        assert!(is_probe(&sample(TCP, SYN)));
        assert!(!is_probe(&sample(TCP, SYN | ACK)));
        assert!(is_probe(&sample(ICMP, 0)));
        assert!(is_probe(&rec(1, 2, UDP, 40_000, 53, 0, 1)), "a one-packet NetFlow query still is");
        let every_packet = FlowRecord { sampling_rate: 1, ..sample(UDP, 0) };
        assert!(is_probe(&every_packet), "unsampled sFlow keeps the flow rule");
        let netflow =
            |proto, flags| FlowRecord { sampling_rate: 10, ..rec(1, 2, proto, 40_000, 53, flags, 1) };
        assert!(!is_probe(&netflow(UDP, 0)), "one sampled packet of a UDP flow of any length");
        assert!(is_probe(&netflow(TCP, SYN)), "a sampled bare SYN");
        assert!(!is_probe(&netflow(TCP, ACK)), "a sampled segment");
        assert!(is_probe(&netflow(ICMP, 0)));
    }

    #[test]
    fn long_flows_count_at_their_rate_in_one_bucket() {
        // A 600 s transfer of 600,000 packets ends in this bucket: 1,000 packets/s, so
        // 10,000 of them here; a 2 s flow counts whole.
        let mut long = rec(3, 4, UDP, 40_000, 443, 0, 600_000);
        long.flow_start_ms = Some(NOW - 600_000);
        long.flow_end_ms = Some(NOW);
        let mut short = rec(5, 4, UDP, 40_001, 443, 0, 500);
        short.flow_start_ms = Some(NOW - 2_000);
        short.flow_end_ms = Some(NOW);
        let mut set = HostFeatureSet::default();
        set.build([long, short].iter().map(|r| (r, NOW)), 16);
        let rows = set.rows();
        let c = rows.iter().find(|(k, _)| k.host == addr(4)).unwrap().1.counters;
        assert_eq!(c.udp_packets_in, 10_000 + 500);
        assert_eq!(c.bytes_in, (10_000 + 500) * 60);
        assert_eq!(c.flows_in, 2, "flows are counted whole");
    }

    #[test]
    fn answers_are_not_probes() {
        // A resolver's one-packet answers to 300 client ports, a web server's short
        // replies, a scanned host's resets; then a UDP scan from an ephemeral port.
        let mut flows: Vec<FlowRecord> =
            (0..300).map(|c| rec(5, 1_000 + c, UDP, 53, 30_000 + c as u16, 0, 1)).collect();
        flows.extend((0..300).map(|c| rec(6, 2_000 + c, TCP, 443, 40_000 + c as u16, SYN | ACK, 2)));
        flows.extend((0..300).map(|p| rec(7, 9, TCP, 1 + p as u16, 50_000, 0x14, 1)));
        flows.extend((0..300).map(|p| rec(9, 7, UDP, 51_000, 1 + p as u16, 0, 1)));
        let mut set = HostFeatureSet::default();
        set.build(flows.iter().map(|r| (r, NOW)), 16);
        let rows = set.rows();
        let get = |h: u32| rows.iter().find(|(k, _)| k.host == addr(h)).map(|(_, f)| *f).unwrap_or_default();
        for h in [5, 6, 7] {
            let c = get(h).counters;
            assert_eq!((c.flows_out, c.probe_flows_out), (300, 0), "host {h}");
        }
        assert_eq!(get(9).counters.probe_flows_out, 300);
    }

    #[test]
    fn sampling_corrects_counts_and_skewed_clocks_use_reception() {
        let mut r = rec(2, 1, UDP, 5_000, 53, 0, 4);
        r.sampling_rate = 100;
        r.flow_end_ms = Some(NOW - 86_400_000);
        let mut set = HostFeatureSet::default();
        set.build(std::iter::once((&r, NOW)), 16);
        let rows = set.rows();
        let (k, f) = rows.iter().find(|(k, _)| k.host == addr(1)).copied().expect("a row for the host");
        assert_eq!(k.bucket_ms, 1_000_000_000);
        assert_eq!(f.counters.packets_in, 400);
        assert_eq!(f.counters.flows_in, 100);
    }

    #[test]
    fn counters_round_trip_through_their_stored_order() {
        let c = contribution(&rec(1, 2, TCP, 1, 2, SYN, 7), &InternalNetworks::default()).0;
        assert_eq!(Counters::from_fields(c.fields()), c);
    }

    #[test]
    fn hosts_past_four_gib_in_a_batch_rank_alike_then_by_address() {
        // Two senders to distinct receivers; 5 and 6 GiB, both past the ranks' ceiling.
        let big =
            |src, dst, gib: u64| FlowRecord { bytes: gib << 30, ..rec(src, dst, UDP, 40_000, 443, 0, 1_000) };
        let flows: Vec<FlowRecord> = (0..3).map(|i| rec(20 + i, 30 + i, TCP, 40_000, 443, ACK, 1)).collect();
        let flows: Vec<FlowRecord> = flows.into_iter().chain([big(7, 8, 6), big(5, 6, 5)]).collect();
        let mut set = HostFeatureSet::default();
        set.build(flows.iter().map(|r| (r, NOW)), 1);
        let senders: Vec<IpAddr> =
            set.rows().iter().filter(|(_, f)| f.counters.bytes_out > 0).map(|(k, _)| k.host).collect();
        assert!(senders.contains(&addr(5)), "{senders:?}");
        if let Some((_, f)) = set.rows().iter().find(|(k, _)| k.host == addr(7)) {
            assert_eq!(f.counters.bytes_out, 6 << 30, "counters stay whole");
        }
    }

    /// What `build` must give, the plain way: whole counters for every host, each
    /// group's hosts sorted by each signal.
    fn oracle(records: &[(FlowRecord, i64)], per_signal: usize) -> Vec<(HostKey, HostFeatures)> {
        use std::collections::BTreeMap;
        let internal = InternalNetworks::default();
        let mut counters: BTreeMap<HostKey, Counters> = BTreeMap::new();
        for (r, received) in records {
            let bucket_ms = bucket_of(r, *received);
            let (inbound, outbound) = contribution(r, &internal);
            for (host, c) in [(r.dst_addr, inbound), (r.src_addr, outbound)] {
                if let Some(host) = host {
                    counters.entry(HostKey { bucket_ms, exporter: r.exporter, host }).or_default().add(&c);
                }
            }
        }
        let mut groups: BTreeMap<(i64, IpAddr), Vec<(HostKey, Counters)>> = BTreeMap::new();
        for (k, c) in &counters {
            groups.entry((k.bucket_ms, k.exporter)).or_default().push((*k, *c));
        }
        let mut rows: BTreeMap<HostKey, HostFeatures> = BTreeMap::new();
        for hosts in groups.values() {
            let mut keep: Vec<HostKey> = Vec::new();
            if hosts.len() <= per_signal {
                keep.extend(hosts.iter().map(|h| h.0));
            } else {
                for signal in SIGNALS {
                    let mut ranked: Vec<(i64, HostKey)> = hosts
                        .iter()
                        .map(|(k, c)| (signal(c).clamp(0, i64::from(u32::MAX)), *k))
                        .filter(|(v, _)| *v > 0)
                        .collect();
                    ranked.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
                    keep.extend(ranked.iter().take(per_signal).map(|r| r.1));
                }
            }
            for k in keep {
                rows.insert(k, HostFeatures { counters: counters[&k], ..HostFeatures::default() });
            }
        }
        for (r, received) in records {
            let bucket_ms = bucket_of(r, *received);
            let (Some(dst), Some(src)) = (r.dst_addr, r.src_addr) else { continue };
            if let Some(f) = rows.get_mut(&HostKey { bucket_ms, exporter: r.exporter, host: dst }) {
                f.sources_in.insert_addr(src);
                if r.proto == UDP && amplifier::service(r.src_port).is_some() {
                    f.reflectors_in.insert_addr(src);
                }
            }
            if let Some(f) = rows.get_mut(&HostKey { bucket_ms, exporter: r.exporter, host: src }) {
                f.peers_out.insert_addr(dst);
                if r.proto == TCP || r.proto == UDP {
                    f.ports_out.insert_u64((u64::from(r.proto) << 16) | u64::from(r.dst_port));
                }
            }
        }
        rows.into_iter().collect()
    }

    fn any_record() -> impl proptest::strategy::Strategy<Value = (FlowRecord, i64)> {
        use proptest::prelude::*;
        (
            (0u32..40, 0u32..40, any::<bool>(), 0u8..3),
            (
                prop::sample::select(vec![TCP, UDP, ICMP, ICMPV6]),
                prop::sample::select(vec![53u16, 123, 443, 40_000]),
            ),
            (0u16..0x20, 1u64..4, prop::sample::select(vec![1u32, 10, 64])),
            (0i64..25_000, any::<bool>()),
        )
            .prop_map(
                |((src, dst, v6, exporter), (proto, sport), (flags, packets, rate), (age, no_src))| {
                    let host = |n: u32| {
                        if v6 && n % 3 == 0 {
                            IpAddr::V6(std::net::Ipv6Addr::from(0xfd00_u128 << 112 | u128::from(n)))
                        } else {
                            addr(n)
                        }
                    };
                    let mut r = rec(src, dst, proto, sport, 80, flags, packets);
                    r.src_addr = (!no_src).then(|| host(src));
                    r.dst_addr = Some(host(dst));
                    r.exporter = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1 + exporter));
                    r.sampling_rate = rate;
                    r.flow_end_ms = Some(NOW - age);
                    (r, NOW)
                },
            )
    }

    proptest::proptest! {
        #[test]
        fn build_keeps_what_ranking_every_host_keeps(
            batch in proptest::collection::vec(any_record(), 0..400),
            per_signal in 0usize..6,
        ) {
            let mut set = HostFeatureSet::default();
            set.build(batch.iter().map(|(r, t)| (r, *t)), per_signal);
            let want = if per_signal == 0 { Vec::new() } else { oracle(&batch, per_signal) };
            proptest::prop_assert_eq!(set.rows(), &want[..]);
            // Reused for the next batch, nothing left of this one.
            set.build(batch.iter().take(3).map(|(r, t)| (r, *t)), per_signal);
            let want = if per_signal == 0 { Vec::new() } else { oracle(&batch[..batch.len().min(3)], per_signal) };
            proptest::prop_assert_eq!(set.rows(), &want[..]);
        }
    }
}
