//! What a worker calls after decoding a datagram: evaluate the rules per record and
//! queue the datagram (raw) or the matching records (re-encode) to destinations.
//!
//! The rule set is swapped atomically: [`Relay::install`] publishes a new
//! `Arc<RuleSet>` and bumps a generation counter; each worker compares the counter
//! (one atomic load per datagram) and picks up the new set between two datagrams, so
//! no datagram is lost or half-processed across a change. With no rules that load is
//! the whole cost.

use super::destination::{Destination, Mode, Payload, RawBatch, RAW_BATCH_FRAMES};
use flowvision_codec::{DatagramInfo, FlowRecord};
use flowvision_filter::{matches, Action, Rule};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use flowvision_filter::rules::{STATS_DEST_PREFIX as RELAY_DEST, STATS_RULE_PREFIX as RELAY_RULE};

/// Counters of one rule (its own cache line: workers update it per datagram).
#[derive(Debug, Default)]
#[repr(align(128))]
pub struct RuleStats {
    /// Records that matched. Raw rules stop evaluating a datagram at its first
    /// matching record, so for them this counts one per matching datagram.
    pub matched_records: AtomicU64,
    /// Datagrams with at least one matching record.
    pub matched_datagrams: AtomicU64,
    /// Datagrams (raw) or record batches (re-encode) queued to the destination.
    pub queued: AtomicU64,
    /// Datagrams forwarded (raw) only because they carry templates or options.
    pub template_datagrams: AtomicU64,
    /// Records queued for re-encoding.
    pub queued_records: AtomicU64,
    /// Entries the destination's full queue refused.
    pub dropped_queue_full: AtomicU64,
}

/// A rule ready to run.
#[derive(Debug)]
pub struct ActiveRule {
    /// The rule.
    pub rule: Rule,
    /// Its destination (none for drop rules).
    pub destination: Option<Arc<Destination>>,
    /// Its counters (kept across reloads while the name stays).
    pub stats: Arc<RuleStats>,
}

/// The rules in evaluation order.
#[derive(Debug, Default)]
pub struct RuleSet {
    /// Rules.
    pub rules: Vec<ActiveRule>,
}

/// The relay shared by all workers.
#[derive(Debug, Default)]
pub struct Relay {
    generation: AtomicU64,
    current: RwLock<Arc<RuleSet>>,
    destinations: Mutex<HashMap<(SocketAddr, Mode), Arc<Destination>>>,
    rule_stats: Mutex<HashMap<String, Arc<RuleStats>>>,
    /// Largest re-encoded datagram (0: the codec's default, 1452 bytes).
    pub max_datagram: usize,
}

fn mode_of(action: Action) -> Option<Mode> {
    match action {
        Action::Raw { transparent: false } => Some(Mode::Raw),
        Action::Raw { transparent: true } => Some(Mode::Transparent),
        Action::Reencode { protocol } => Some(Mode::Reencode(protocol)),
        Action::Drop => None,
    }
}

impl Relay {
    /// An empty relay (no rules: forwarding costs one atomic load per datagram).
    pub fn new() -> Arc<Relay> {
        Arc::new(Relay::default())
    }

    /// Replaces the rule set. Destinations whose address and mode stay keep their
    /// queue, socket and export stream (sequence numbers continue); rules keep their
    /// counters by name. Returns one line per problem (e.g. a transparent destination
    /// without CAP_NET_RAW), for the log.
    pub fn install(&self, rules: Vec<Rule>) -> Vec<String> {
        let mut problems = Vec::new();
        let mut dests = self.destinations.lock().unwrap_or_else(|e| e.into_inner());
        let mut stats = self.rule_stats.lock().unwrap_or_else(|e| e.into_inner());
        let mut used = HashMap::new();
        let mut active = Vec::with_capacity(rules.len());
        for rule in rules {
            let destination = match (mode_of(rule.action), rule.destination) {
                (Some(mode), Some(addr)) => {
                    let d = dests
                        .entry((addr, mode))
                        .or_insert_with(|| Arc::new(Destination::start(addr, mode, self.max_datagram)))
                        .clone();
                    if let Some(e) = &d.error {
                        problems.push(format!("rule {}: destination {addr}: {e}", rule.name));
                    }
                    used.insert((addr, mode), Arc::clone(&d));
                    Some(d)
                }
                _ => None,
            };
            let s = Arc::clone(stats.entry(rule.name.clone()).or_default());
            active.push(ActiveRule { rule, destination, stats: s });
        }
        let names: std::collections::HashSet<String> = active.iter().map(|r| r.rule.name.clone()).collect();
        stats.retain(|k, _| names.contains(k));
        // Unused destinations drain and stop once the workers let go of the old set.
        *dests = used;
        let set = Arc::new(RuleSet { rules: active });
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = set;
        self.generation.fetch_add(1, Ordering::Release);
        problems
    }

    /// The current rule set.
    pub fn rules(&self) -> Arc<RuleSet> {
        Arc::clone(&self.current.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// A worker's view.
    pub fn worker(self: &Arc<Self>) -> RelayWorker {
        RelayWorker {
            relay: Arc::clone(self),
            seen: self.generation.load(Ordering::Acquire),
            rules: self.rules(),
            hits: Vec::new(),
            counts: Vec::new(),
            pending: Vec::new(),
            sent_to: Vec::new(),
            dirty: false,
        }
    }

    /// Sends what is queued and stops the sender threads (each waits at most `limit`).
    pub fn shutdown(&self, limit: Duration) {
        let dests: Vec<Arc<Destination>> =
            self.destinations.lock().unwrap_or_else(|e| e.into_inner()).values().cloned().collect();
        for d in dests {
            d.shutdown(limit);
        }
    }

    /// The forwarding counters as statistics keys (`collector_stats.counters`, read by
    /// the console's rules page): per rule `relay.rule.<counter>.<rule>`, and per rule
    /// and destination `relay.dest.<counter>.<rule>@<destination as written>`.
    /// Destination counters belong to the destination (shared by the rules that send
    /// to the same address and mode). Health is `up` (0/1) and `state_<health>` = 1.
    /// Counter names hold no '.', destinations no '@': the keys split unambiguously.
    pub fn statistics(&self) -> std::collections::BTreeMap<String, u64> {
        let set = self.rules();
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let mut out = std::collections::BTreeMap::new();
        for r in &set.rules {
            let name = &r.rule.name;
            let st = &r.stats;
            for (k, v) in [
                ("matched", load(&st.matched_records)),
                ("matched_datagrams", load(&st.matched_datagrams)),
                ("queued", load(&st.queued)),
                ("template_datagrams", load(&st.template_datagrams)),
                ("dropped_queue_full", load(&st.dropped_queue_full)),
            ] {
                out.insert(format!("{RELAY_RULE}{k}.{name}"), v);
            }
            let Some(d) = &r.destination else { continue };
            let written = r.rule.destination_text.clone().unwrap_or_else(|| d.addr.to_string());
            let ds = &d.stats;
            let health = ds.health();
            for (k, v) in [
                ("sent", load(&ds.sent_datagrams)),
                ("sent_bytes", load(&ds.sent_bytes)),
                ("sent_records", load(&ds.sent_records)),
                ("dropped_queue_full", load(&ds.workers.dropped_queue_full)),
                ("dropped_unreachable", load(&ds.dropped_unreachable)),
                ("dropped_send_error", load(&ds.dropped_send_error)),
                ("dropped_address_family", load(&ds.dropped_family)),
                ("queue", d.queue_len() as u64),
                ("up", u64::from(health == super::destination::Health::Up)),
            ] {
                out.insert(format!("{RELAY_DEST}{k}.{name}@{written}"), v);
            }
            out.insert(format!("{RELAY_DEST}state_{}.{name}@{written}", health.as_str()), 1);
        }
        out
    }

    /// Writes the forwarding metrics.
    pub fn metrics(&self, e: &mut crate::telemetry::metrics::Exposition) {
        let set = self.rules();
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        e.single("flowvision_forward_rules", "gauge", "Forwarding rules loaded.", set.rules.len() as u64);
        e.family(
            "flowvision_forward_rule_matched_records_total",
            "counter",
            "Records that matched the rule (raw rules: the first per datagram).",
        );
        for r in &set.rules {
            e.sample(
                "flowvision_forward_rule_matched_records_total",
                &[("rule", &r.rule.name)],
                load(&r.stats.matched_records),
            );
        }
        e.family(
            "flowvision_forward_rule_matched_datagrams_total",
            "counter",
            "Datagrams with at least one record matching the rule.",
        );
        for r in &set.rules {
            e.sample(
                "flowvision_forward_rule_matched_datagrams_total",
                &[("rule", &r.rule.name)],
                load(&r.stats.matched_datagrams),
            );
        }
        e.family(
            "flowvision_forward_rule_queued_total",
            "counter",
            "Datagrams (raw) or record batches (re-encode) the rule queued to its destination.",
        );
        for r in &set.rules {
            e.sample(
                "flowvision_forward_rule_queued_total",
                &[("rule", &r.rule.name)],
                load(&r.stats.queued),
            );
        }
        e.family(
            "flowvision_forward_rule_template_datagrams_total",
            "counter",
            "Datagrams forwarded raw only because they carry templates or options.",
        );
        for r in &set.rules {
            e.sample(
                "flowvision_forward_rule_template_datagrams_total",
                &[("rule", &r.rule.name)],
                load(&r.stats.template_datagrams),
            );
        }
        e.family(
            "flowvision_forward_rule_dropped_total",
            "counter",
            "Entries the rule could not queue, by reason.",
        );
        for r in &set.rules {
            e.sample(
                "flowvision_forward_rule_dropped_total",
                &[("rule", &r.rule.name), ("reason", "queue_full")],
                load(&r.stats.dropped_queue_full),
            );
        }
        let dests: Vec<Arc<Destination>> =
            self.destinations.lock().unwrap_or_else(|e| e.into_inner()).values().cloned().collect();
        let label = |d: &Destination| (d.addr.to_string(), d.mode.as_str());
        e.family("flowvision_forward_destination_sent_datagrams_total", "counter", "Datagrams sent.");
        for d in &dests {
            let (a, m) = label(d);
            e.sample(
                "flowvision_forward_destination_sent_datagrams_total",
                &[("destination", &a), ("mode", m)],
                load(&d.stats.sent_datagrams),
            );
        }
        e.family("flowvision_forward_destination_sent_bytes_total", "counter", "UDP payload bytes sent.");
        for d in &dests {
            let (a, m) = label(d);
            e.sample(
                "flowvision_forward_destination_sent_bytes_total",
                &[("destination", &a), ("mode", m)],
                load(&d.stats.sent_bytes),
            );
        }
        e.family("flowvision_forward_destination_sent_records_total", "counter", "Records sent re-encoded.");
        for d in &dests {
            let (a, m) = label(d);
            e.sample(
                "flowvision_forward_destination_sent_records_total",
                &[("destination", &a), ("mode", m)],
                load(&d.stats.sent_records),
            );
        }
        e.family("flowvision_forward_destination_dropped_total", "counter", "Entries not sent, by reason.");
        for d in &dests {
            let (a, m) = label(d);
            for (reason, v) in [
                ("queue_full", &d.stats.workers.dropped_queue_full),
                ("unreachable", &d.stats.dropped_unreachable),
                ("send_error", &d.stats.dropped_send_error),
                ("address_family", &d.stats.dropped_family),
            ] {
                e.sample(
                    "flowvision_forward_destination_dropped_total",
                    &[("destination", &a), ("mode", m), ("reason", reason)],
                    load(v),
                );
            }
        }
        e.family(
            "flowvision_forward_destination_queue",
            "gauge",
            "Entries waiting in the destination's queue.",
        );
        for d in &dests {
            let (a, m) = label(d);
            e.sample(
                "flowvision_forward_destination_queue",
                &[("destination", &a), ("mode", m)],
                d.queue_len() as u64,
            );
        }
        e.family(
            "flowvision_forward_destination_up",
            "gauge",
            "1 when the last send worked; label state: unknown, up, unreachable, error.",
        );
        for d in &dests {
            let (a, m) = label(d);
            let h = d.stats.health();
            e.sample(
                "flowvision_forward_destination_up",
                &[("destination", &a), ("mode", m), ("state", h.as_str())],
                u64::from(h == super::destination::Health::Up),
            );
        }
    }
}

/// Datagrams or records a rule has gathered for its destination since the last flush.
#[derive(Debug, Default)]
struct Pending {
    /// Raw: the datagrams (no buffer until the first datagram after a hand-over).
    raw: RawBatch,
    /// Re-encode: the matching records.
    records: Vec<FlowRecord>,
    /// Counters not yet added to the rule's shared ones.
    matched_records: u64,
    matched_datagrams: u64,
    template_datagrams: u64,
}

/// A rule's batch is handed to its destination when it is full (raw: its buffer or
/// [`RAW_BATCH_FRAMES`] datagrams; re-encode: this many records), otherwise at the
/// worker's next `tick` (after each receive batch), so batching adds no latency
/// beyond one `recvmmsg` batch.
const FLUSH_RECORDS: usize = 512;

/// One worker's handle: its copy of the current rule set and per-rule batches.
#[derive(Debug)]
pub struct RelayWorker {
    relay: Arc<Relay>,
    seen: u64,
    rules: Arc<RuleSet>,
    hits: Vec<bool>,
    counts: Vec<u64>,
    pending: Vec<Pending>,
    /// Destinations (by address of their allocation) this datagram went to.
    sent_to: Vec<usize>,
    /// Whether any batch holds something.
    dirty: bool,
}

impl RelayWorker {
    /// Forwards one decoded datagram. `info` is `None` when decoding failed part-way
    /// (the records decoded before the fault still count).
    #[inline]
    pub fn forward(
        &mut self,
        src: SocketAddr,
        payload: &[u8],
        info: Option<&DatagramInfo>,
        records: &[FlowRecord],
    ) {
        let g = self.relay.generation.load(Ordering::Acquire);
        if g != self.seen {
            self.swap(g);
        }
        if self.rules.rules.is_empty() {
            return;
        }
        self.forward_slow(src, payload, info, records);
    }

    /// Hands every gathered batch to its destination (called after each receive
    /// batch and before a rule-set swap, so nothing is lost across a change).
    #[inline]
    pub fn flush(&mut self) {
        if self.dirty {
            self.flush_all();
        }
    }

    #[cold]
    fn swap(&mut self, g: u64) {
        // Batches of the old set go to the old set's destinations first.
        self.flush();
        self.seen = g;
        self.rules = self.relay.rules();
        self.pending.clear();
    }

    #[cold]
    #[inline(never)]
    fn flush_all(&mut self) {
        for (p, r) in self.pending.iter_mut().zip(self.rules.rules.iter()) {
            flush_rule(p, r);
        }
        self.dirty = false;
    }

    #[cold]
    #[inline(never)]
    fn forward_slow(
        &mut self,
        src: SocketAddr,
        payload: &[u8],
        info: Option<&DatagramInfo>,
        records: &[FlowRecord],
    ) {
        // Disjoint borrows: the rule set is read while the batches are written,
        // without touching the set's reference count per datagram.
        let RelayWorker { rules, hits, counts, pending, sent_to, dirty, .. } = self;
        let rules = &rules.rules;
        let n = rules.len();
        hits.clear();
        hits.resize(n, false);
        counts.clear();
        counts.resize(n, 0);
        if pending.len() < n {
            pending.resize_with(n, Pending::default);
        }
        // Raw rules need one matching record per datagram: once every rule is a raw
        // rule that has hit, the remaining records are not looked at.
        let mut raw_pending = rules.iter().filter(|r| matches!(r.rule.action, Action::Raw { .. })).count();
        let all_raw = raw_pending == n;
        for rec in records {
            if all_raw && raw_pending == 0 {
                break;
            }
            for (i, r) in rules.iter().enumerate() {
                let raw = matches!(r.rule.action, Action::Raw { .. });
                if raw && hits.get(i).copied().unwrap_or(false) {
                    continue;
                }
                if !matches(&r.rule.filter, rec) {
                    continue;
                }
                if let Some(c) = counts.get_mut(i) {
                    *c += 1;
                }
                if r.rule.action == Action::Drop {
                    break;
                }
                if let Some(h) = hits.get_mut(i) {
                    if raw && !*h {
                        raw_pending -= 1;
                    }
                    *h = true;
                }
                if !raw {
                    if let Some(p) = pending.get_mut(i) {
                        p.records.push(*rec);
                    }
                }
            }
        }
        // Templates, options and sets held for a template (whose records cannot be
        // tested yet) go to every raw destination: without them a receiver cannot
        // decode the datagrams that do match.
        let carries_templates =
            info.is_some_and(|i| i.templates > 0 || i.options_records > 0 || i.held_sets > 0);
        sent_to.clear();
        for (i, r) in rules.iter().enumerate() {
            let hit = hits.get(i).copied().unwrap_or(false);
            let count = counts.get(i).copied().unwrap_or(0);
            let Some(p) = pending.get_mut(i) else { continue };
            if count > 0 {
                p.matched_records += count;
                p.matched_datagrams += 1;
                *dirty = true;
            }
            let Some(dest) = &r.destination else { continue };
            let full = match r.rule.action {
                Action::Raw { .. } => {
                    if !hit && !carries_templates {
                        continue;
                    }
                    let ptr = Arc::as_ptr(dest) as usize;
                    // Two rules to one destination send the datagram once.
                    if sent_to.contains(&ptr) {
                        continue;
                    }
                    sent_to.push(ptr);
                    if !p.raw.push(src, payload) {
                        // No room (or no buffer yet): hand over what is gathered and
                        // take the pool's warmest buffer.
                        if !p.raw.is_empty() {
                            flush_rule(p, r);
                        }
                        if let Some(b) = dest.raw_batch() {
                            p.raw = b;
                        }
                        if !p.raw.push(src, payload) {
                            // Every buffer is queued or being sent: the receiver
                            // is that far behind. Counted, never waited for.
                            r.stats.dropped_queue_full.fetch_add(1, Ordering::Relaxed);
                            dest.dropped(1);
                            continue;
                        }
                    }
                    if !hit {
                        p.template_datagrams += 1;
                    }
                    *dirty = true;
                    p.raw.len() >= RAW_BATCH_FRAMES
                }
                Action::Reencode { .. } => {
                    *dirty |= !p.records.is_empty();
                    p.records.len() >= FLUSH_RECORDS
                }
                Action::Drop => false,
            };
            if full {
                flush_rule(p, r);
            }
        }
    }
}

/// Adds a rule's local counters to its shared ones and queues its batch.
fn flush_rule(p: &mut Pending, r: &ActiveRule) {
    let stats = &r.stats;
    for (v, a) in [
        (&mut p.matched_records, &stats.matched_records),
        (&mut p.matched_datagrams, &stats.matched_datagrams),
        (&mut p.template_datagrams, &stats.template_datagrams),
    ] {
        if *v > 0 {
            a.fetch_add(std::mem::take(v), Ordering::Relaxed);
        }
    }
    let Some(dest) = &r.destination else { return };
    let payload = if !p.raw.is_empty() {
        let n = p.raw.len() as u64;
        // The next buffer is taken when the next datagram comes, not now: a worker
        // holds none while its rule sees no traffic.
        Some((Payload::Raw(std::mem::take(&mut p.raw)), n, 0))
    } else if !p.records.is_empty() {
        let n = p.records.len() as u64;
        let records = std::mem::replace(&mut p.records, Vec::with_capacity(FLUSH_RECORDS));
        Some((Payload::Records(records), 1, n))
    } else {
        None
    };
    if let Some((payload, entries, records)) = payload {
        if dest.offer(payload, entries) {
            stats.queued.fetch_add(entries, Ordering::Relaxed);
            stats.queued_records.fetch_add(records, Ordering::Relaxed);
        } else {
            stats.dropped_queue_full.fetch_add(entries, Ordering::Relaxed);
        }
    }
}
