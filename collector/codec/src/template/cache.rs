//! The template cache shared by all workers.
//!
//! Scoped by (exporter address, protocol, observation domain), as RFC 3954 §5 and
//! RFC 7011 §8 scope template ids; the same id from two exporters never collides.
//! Reads (one per data set) take a read lock and clone two `Arc`s; writes happen only
//! when templates or options records arrive.

use super::pending::{Evicted, PendingQueue, PendingSet};
use super::{Template, TemplateKind};
use crate::error::Result;
use crate::hash::FxHashMap;
use crate::ie::FieldSpec;
use crate::record::{OptionsInfo, Protocol};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};

/// The scope that template ids and sampler ids are unique within.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ScopeKey {
    /// Exporter address (UDP source).
    pub exporter: IpAddr,
    /// NetFlow v9 or IPFIX.
    pub protocol: Protocol,
    /// Source id / observation domain id.
    pub domain: u32,
}

/// Limits of the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TemplateCacheConfig {
    /// Total bytes of data sets held while waiting for templates (each set's body plus
    /// the fixed size of its bookkeeping).
    pub pending_max_bytes: usize,
    /// How long a held set waits for its template.
    pub pending_max_age_ms: i64,
    /// Templates not refreshed for this long are forgotten (RFC 7011 §8.4 for UDP);
    /// `None` keeps them until withdrawn or replaced.
    pub template_lifetime_ms: Option<i64>,
}

impl Default for TemplateCacheConfig {
    fn default() -> Self {
        TemplateCacheConfig {
            pending_max_bytes: 16 * 1024 * 1024,
            pending_max_age_ms: 60_000,
            template_lifetime_ms: None,
        }
    }
}

/// Sampling and clock state learned from options records, per scope.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScopeOptions {
    /// Rate that applies to every record of the scope (no sampler id).
    pub domain_rate: Option<u32>,
    /// Sampler/selector id -> rate.
    pub samplers: FxHashMap<u64, u32>,
    /// Exporter boot time for sysUpTime-relative IPFIX times.
    pub system_init_ms: Option<i64>,
}

impl ScopeOptions {
    /// True when no options record has said anything for the scope.
    pub fn is_empty(&self) -> bool {
        self.domain_rate.is_none() && self.samplers.is_empty() && self.system_init_ms.is_none()
    }
}

#[derive(Debug, Default)]
struct ScopeState {
    templates: FxHashMap<u16, (Arc<Template>, i64)>,
    options: Arc<ScopeOptions>,
}

/// Counters the collector exports; all monotonic.
#[derive(Debug, Default)]
pub struct CacheCounters {
    /// Template records accepted (new or refreshed).
    pub templates_learned: AtomicU64,
    /// Templates withdrawn by the exporter.
    pub templates_withdrawn: AtomicU64,
    /// Templates forgotten after their lifetime.
    pub templates_expired: AtomicU64,
    /// Data sets held waiting for a template.
    pub sets_held: AtomicU64,
    /// Held sets decoded after their template arrived.
    pub sets_released: AtomicU64,
    /// Held sets dropped because their template never came in time.
    pub sets_dropped_timeout: AtomicU64,
    /// Held sets dropped because the holding area was full.
    pub sets_dropped_overflow: AtomicU64,
}

/// One template in a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedTemplate {
    /// Its scope.
    pub scope: ScopeKey,
    /// Template id.
    pub id: u16,
    /// Data or options.
    pub kind: TemplateKind,
    /// Fields as exported.
    pub fields: Vec<FieldSpec>,
    /// Last time it was received.
    pub last_seen_ms: i64,
}

/// Sampling state of one scope in a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedOptions {
    /// Its scope.
    pub scope: ScopeKey,
    /// Domain-wide rate.
    pub domain_rate: Option<u32>,
    /// Sampler id and rate pairs.
    pub samplers: Vec<(u64, u32)>,
    /// Exporter boot time.
    pub system_init_ms: Option<i64>,
}

/// Everything a restarted collector needs to keep decoding: serializable with serde.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheSnapshot {
    /// Templates.
    pub templates: Vec<SavedTemplate>,
    /// Options-derived state.
    pub options: Vec<SavedOptions>,
}

/// Templates, options state and held data sets of every exporter.
#[derive(Debug, Default)]
pub struct TemplateCache {
    config: TemplateCacheConfig,
    scopes: RwLock<FxHashMap<ScopeKey, ScopeState>>,
    /// Bumped on every change that could alter a lookup's answer, so workers can keep
    /// a lock-free memo of recent lookups and drop it when this moves.
    generation: AtomicU64,
    pending: Mutex<PendingQueue>,
    pending_sets: AtomicUsize,
    /// Monotonic counters.
    pub counters: CacheCounters,
}

impl TemplateCache {
    /// An empty cache.
    pub fn new(config: TemplateCacheConfig) -> Self {
        TemplateCache { config, ..TemplateCache::default() }
    }

    /// The configured limits.
    pub fn config(&self) -> &TemplateCacheConfig {
        &self.config
    }

    // A poisoned lock only means another worker panicked mid-update of a map whose
    // invariants hold after every statement, so the data is still usable.
    fn read(&self) -> std::sync::RwLockReadGuard<'_, FxHashMap<ScopeKey, ScopeState>> {
        self.scopes.read().unwrap_or_else(|e| e.into_inner())
    }

    /// The current generation (see the field's doc).
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    fn changed(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, FxHashMap<ScopeKey, ScopeState>> {
        self.scopes.write().unwrap_or_else(|e| e.into_inner())
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, PendingQueue> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The template `id` of `scope` and the scope's options state.
    pub fn lookup(&self, scope: &ScopeKey, id: u16) -> Option<(Arc<Template>, Arc<ScopeOptions>)> {
        let scopes = self.read();
        let state = scopes.get(scope)?;
        let (tpl, _) = state.templates.get(&id)?;
        Some((Arc::clone(tpl), Arc::clone(&state.options)))
    }

    /// The options state of `scope` (empty when none was received).
    pub fn options(&self, scope: &ScopeKey) -> Arc<ScopeOptions> {
        self.read().get(scope).map(|s| Arc::clone(&s.options)).unwrap_or_default()
    }

    /// Stores (or refreshes) a template.
    pub fn learn(&self, scope: ScopeKey, template: Template, now_ms: i64) {
        let id = template.id;
        let mut scopes = self.write();
        let state = scopes.entry(scope).or_default();
        match state.templates.get_mut(&id) {
            Some((existing, seen)) if **existing == template => *seen = now_ms,
            _ => {
                state.templates.insert(id, (Arc::new(template), now_ms));
                self.changed();
            }
        }
        self.counters.templates_learned.fetch_add(1, Ordering::Relaxed);
    }

    /// Compiles and stores a template given as exported.
    pub fn learn_fields(
        &self,
        scope: ScopeKey,
        id: u16,
        kind: TemplateKind,
        fields: Vec<FieldSpec>,
        now_ms: i64,
    ) -> Result<()> {
        let template = Template::new(scope.protocol, id, kind, fields)?;
        self.learn(scope, template, now_ms);
        Ok(())
    }

    /// Withdraws one template (IPFIX template record with no fields).
    pub fn withdraw(&self, scope: &ScopeKey, id: u16) {
        if let Some(state) = self.write().get_mut(scope) {
            if state.templates.remove(&id).is_some() {
                self.changed();
                self.counters.templates_withdrawn.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Withdraws every template of one kind in a scope (IPFIX "all data templates"
    /// withdrawal uses id 2, "all options templates" id 3).
    pub fn withdraw_all(&self, scope: &ScopeKey, options: bool) {
        if let Some(state) = self.write().get_mut(scope) {
            let before = state.templates.len();
            state.templates.retain(|_, (t, _)| t.is_options() != options);
            let gone = before - state.templates.len();
            self.changed();
            self.counters.templates_withdrawn.fetch_add(gone as u64, Ordering::Relaxed);
        }
    }

    /// Applies what an options record said.
    pub fn apply_options(&self, scope: ScopeKey, info: &OptionsInfo) {
        let mut scopes = self.write();
        let state = scopes.entry(scope).or_default();
        let current = &state.options;
        let changed = match info {
            OptionsInfo::Sampler { id: None, rate } => current.domain_rate != Some(*rate),
            OptionsInfo::Sampler { id: Some(id), rate } => current.samplers.get(id) != Some(rate),
            OptionsInfo::SystemInit { ms } => current.system_init_ms != Some(*ms),
            OptionsInfo::Interface { .. } => false,
        };
        if !changed {
            return;
        }
        self.changed();
        // Copy-on-write: decoders holding the old Arc finish their set with it.
        let opts = Arc::make_mut(&mut state.options);
        match info {
            OptionsInfo::Sampler { id: None, rate } => opts.domain_rate = Some(*rate),
            OptionsInfo::Sampler { id: Some(id), rate } => {
                opts.samplers.insert(*id, *rate);
            }
            OptionsInfo::SystemInit { ms } => opts.system_init_ms = Some(*ms),
            OptionsInfo::Interface { .. } => {}
        }
    }

    /// Holds a data set until its template arrives.
    pub fn hold(&self, set: PendingSet) {
        let mut pending = self.pending();
        let mut evicted = pending.expire(set.held_at_ms, self.config.pending_max_age_ms);
        let more = pending.push(set, self.config.pending_max_bytes);
        evicted.overflow_sets += more.overflow_sets;
        self.pending_sets.store(pending.len(), Ordering::Relaxed);
        drop(pending);
        self.counters.sets_held.fetch_add(1, Ordering::Relaxed);
        self.count_evicted(evicted);
    }

    /// Removes the held sets of a template that has just arrived.
    pub fn release(&self, scope: &ScopeKey, template_id: u16) -> Vec<PendingSet> {
        // Fast path: most templates are refreshes with nothing waiting.
        if self.pending_sets.load(Ordering::Relaxed) == 0 {
            return Vec::new();
        }
        let mut pending = self.pending();
        let sets = pending.take(scope, template_id);
        self.pending_sets.store(pending.len(), Ordering::Relaxed);
        drop(pending);
        self.counters.sets_released.fetch_add(sets.len() as u64, Ordering::Relaxed);
        sets
    }

    /// Held sets and their bytes right now (as counted against `pending_max_bytes`).
    pub fn pending_usage(&self) -> (usize, usize) {
        let pending = self.pending();
        (pending.len(), pending.bytes())
    }

    fn count_evicted(&self, evicted: Evicted) {
        self.counters.sets_dropped_timeout.fetch_add(evicted.timeout_sets, Ordering::Relaxed);
        self.counters.sets_dropped_overflow.fetch_add(evicted.overflow_sets, Ordering::Relaxed);
    }

    /// Periodic maintenance: drops held sets past their age and templates past their
    /// lifetime. Call about once a second.
    pub fn expire(&self, now_ms: i64) {
        let mut pending = self.pending();
        let evicted = pending.expire(now_ms, self.config.pending_max_age_ms);
        self.pending_sets.store(pending.len(), Ordering::Relaxed);
        drop(pending);
        self.count_evicted(evicted);
        if let Some(lifetime) = self.config.template_lifetime_ms {
            let mut gone = 0u64;
            for state in self.write().values_mut() {
                let before = state.templates.len();
                state.templates.retain(|_, (_, seen)| now_ms.saturating_sub(*seen) <= lifetime);
                gone += (before - state.templates.len()) as u64;
            }
            if gone > 0 {
                self.changed();
            }
            self.counters.templates_expired.fetch_add(gone, Ordering::Relaxed);
        }
    }

    /// Drops every held set, counting them as timed out (used at shutdown, after the
    /// last datagram, so none leaves uncounted).
    pub fn flush_pending(&self) -> u64 {
        let mut pending = self.pending();
        let evicted = pending.expire(i64::MAX, -1);
        self.pending_sets.store(0, Ordering::Relaxed);
        drop(pending);
        self.count_evicted(evicted);
        evicted.timeout_sets
    }

    /// Number of templates known.
    pub fn template_count(&self) -> usize {
        self.read().values().map(|s| s.templates.len()).sum()
    }

    /// A serializable copy of templates and options state.
    pub fn snapshot(&self) -> CacheSnapshot {
        let scopes = self.read();
        let mut snap = CacheSnapshot::default();
        for (scope, state) in scopes.iter() {
            for (id, (tpl, seen)) in &state.templates {
                snap.templates.push(SavedTemplate {
                    scope: *scope,
                    id: *id,
                    kind: tpl.kind,
                    fields: tpl.fields.clone(),
                    last_seen_ms: *seen,
                });
            }
            let o = &state.options;
            if o.domain_rate.is_some() || !o.samplers.is_empty() || o.system_init_ms.is_some() {
                let mut samplers: Vec<_> = o.samplers.iter().map(|(k, v)| (*k, *v)).collect();
                samplers.sort_unstable();
                snap.options.push(SavedOptions {
                    scope: *scope,
                    domain_rate: o.domain_rate,
                    samplers,
                    system_init_ms: o.system_init_ms,
                });
            }
        }
        snap.templates.sort_by(|a, b| {
            (a.scope.exporter, a.scope.domain, a.id).cmp(&(b.scope.exporter, b.scope.domain, b.id))
        });
        snap
    }

    /// Restores a snapshot; templates that no longer compile are skipped and counted
    /// in the returned number.
    pub fn restore(&self, snapshot: &CacheSnapshot) -> usize {
        let mut skipped = 0;
        let mut scopes = self.write();
        for saved in &snapshot.templates {
            match Template::new(saved.scope.protocol, saved.id, saved.kind, saved.fields.clone()) {
                Ok(t) => {
                    scopes
                        .entry(saved.scope)
                        .or_default()
                        .templates
                        .insert(saved.id, (Arc::new(t), saved.last_seen_ms));
                }
                Err(_) => skipped += 1,
            }
        }
        self.changed();
        for saved in &snapshot.options {
            let state = scopes.entry(saved.scope).or_default();
            state.options = Arc::new(ScopeOptions {
                domain_rate: saved.domain_rate,
                samplers: saved.samplers.iter().copied().collect(),
                system_init_ms: saved.system_init_ms,
            });
        }
        skipped
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;
    use crate::decode::SetContext;
    use crate::ie::id;
    use crate::testing::{EXPORTER, NOW, OTHER_EXPORTER};

    fn scope(exporter: IpAddr, domain: u32) -> ScopeKey {
        ScopeKey { exporter, protocol: Protocol::Ipfix, domain }
    }

    fn fields(ids: &[u16]) -> Vec<FieldSpec> {
        ids.iter().map(|id| FieldSpec { id: *id, pen: 0, length: 4 }).collect()
    }

    fn learn(cache: &TemplateCache, scope: ScopeKey, tid: u16, kind: TemplateKind, ids: &[u16]) {
        cache.learn_fields(scope, tid, kind, fields(ids), NOW).unwrap();
    }

    fn held(scope: ScopeKey, template_id: u16, body_len: usize, at_ms: i64) -> PendingSet {
        let context = SetContext {
            protocol: scope.protocol,
            exporter: scope.exporter,
            domain: scope.domain,
            sequence: 1,
            export_time: 0,
            sys_uptime_ms: None,
        };
        PendingSet { scope, template_id, body: vec![0; body_len], context, held_at_ms: at_ms }
    }

    #[test]
    fn templates_are_found_only_in_their_scope() {
        let cache = TemplateCache::new(TemplateCacheConfig::default());
        let a = scope(EXPORTER, 1);
        learn(&cache, a, 256, TemplateKind::Data, &[id::OCTET_DELTA_COUNT]);
        assert!(cache.lookup(&a, 256).is_some());
        assert!(cache.lookup(&a, 257).is_none());
        assert!(cache.lookup(&scope(EXPORTER, 2), 256).is_none());
        assert!(cache.lookup(&scope(OTHER_EXPORTER, 1), 256).is_none());
        let v9 = ScopeKey { protocol: Protocol::NetflowV9, ..a };
        assert!(cache.lookup(&v9, 256).is_none());
        assert!(cache.learn_fields(a, 258, TemplateKind::Data, Vec::new(), NOW).is_err());
        assert_eq!(cache.template_count(), 1);
    }

    #[test]
    fn only_real_changes_move_the_generation() {
        let cache = TemplateCache::new(TemplateCacheConfig::default());
        let a = scope(EXPORTER, 0);
        learn(&cache, a, 256, TemplateKind::Data, &[id::OCTET_DELTA_COUNT]);
        let g = cache.generation();
        // An identical refresh (the usual case, every few seconds) invalidates nothing.
        learn(&cache, a, 256, TemplateKind::Data, &[id::OCTET_DELTA_COUNT]);
        assert_eq!(cache.generation(), g);
        learn(&cache, a, 256, TemplateKind::Data, &[id::PACKET_DELTA_COUNT]);
        assert!(cache.generation() > g);
        assert_eq!(cache.counters.templates_learned.load(Ordering::Relaxed), 3);
        let g = cache.generation();
        let rate = OptionsInfo::Sampler { id: None, rate: 100 };
        cache.apply_options(a, &rate);
        assert!(cache.generation() > g);
        let g = cache.generation();
        cache.apply_options(a, &rate);
        cache.apply_options(a, &OptionsInfo::Interface { index: 1, name: "eth0".into() });
        assert_eq!(cache.generation(), g);
        assert_eq!(cache.options(&a).domain_rate, Some(100));
    }

    #[test]
    fn options_are_copied_on_write() {
        let cache = TemplateCache::new(TemplateCacheConfig::default());
        let a = scope(EXPORTER, 0);
        cache.apply_options(a, &OptionsInfo::Sampler { id: Some(3), rate: 10 });
        let before = cache.options(&a);
        cache.apply_options(a, &OptionsInfo::Sampler { id: Some(3), rate: 20 });
        cache.apply_options(a, &OptionsInfo::SystemInit { ms: 5 });
        // A decoder still holding the old view finishes its set with it.
        assert_eq!(before.samplers.get(&3), Some(&10));
        let now = cache.options(&a);
        assert_eq!((now.samplers.get(&3), now.system_init_ms), (Some(&20), Some(5)));
        assert!(cache.options(&scope(EXPORTER, 9)).is_empty());
    }

    #[test]
    fn withdrawal_by_id_and_by_kind() {
        let cache = TemplateCache::new(TemplateCacheConfig::default());
        let a = scope(EXPORTER, 0);
        let options = TemplateKind::Options { scope_fields: 1 };
        learn(&cache, a, 256, TemplateKind::Data, &[id::OCTET_DELTA_COUNT]);
        learn(&cache, a, 257, TemplateKind::Data, &[id::PACKET_DELTA_COUNT]);
        learn(&cache, a, 300, options, &[149, id::SAMPLING_INTERVAL]);
        learn(&cache, a, 301, options, &[149, id::SAMPLING_INTERVAL]);
        cache.withdraw(&a, 256);
        cache.withdraw(&a, 256); // Already gone: not counted twice.
        cache.withdraw(&scope(OTHER_EXPORTER, 0), 257); // Not its template.
        assert!(cache.lookup(&a, 257).is_some());
        cache.withdraw_all(&a, true);
        assert!(cache.lookup(&a, 300).is_none() && cache.lookup(&a, 301).is_none());
        assert!(cache.lookup(&a, 257).is_some());
        assert_eq!(cache.counters.templates_withdrawn.load(Ordering::Relaxed), 3);
    }

    #[test]
    fn templates_expire_after_their_lifetime_only_when_configured() {
        let config =
            TemplateCacheConfig { template_lifetime_ms: Some(30_000), ..TemplateCacheConfig::default() };
        let cache = TemplateCache::new(config);
        let a = scope(EXPORTER, 0);
        learn(&cache, a, 256, TemplateKind::Data, &[id::OCTET_DELTA_COUNT]);
        cache
            .learn_fields(a, 257, TemplateKind::Data, fields(&[id::OCTET_DELTA_COUNT]), NOW + 20_000)
            .unwrap();
        cache.expire(NOW + 30_000);
        assert_eq!(cache.template_count(), 2);
        cache.expire(NOW + 30_001);
        assert!(cache.lookup(&a, 256).is_none() && cache.lookup(&a, 257).is_some());
        assert_eq!(cache.counters.templates_expired.load(Ordering::Relaxed), 1);

        let forever = TemplateCache::new(TemplateCacheConfig::default());
        learn(&forever, a, 256, TemplateKind::Data, &[id::OCTET_DELTA_COUNT]);
        forever.expire(i64::MAX);
        assert_eq!(forever.template_count(), 1);
    }

    #[test]
    fn held_sets_are_released_timed_out_or_flushed_and_always_counted() {
        let config = TemplateCacheConfig { pending_max_age_ms: 1000, ..TemplateCacheConfig::default() };
        let cache = TemplateCache::new(config);
        let a = scope(EXPORTER, 0);
        assert!(cache.release(&a, 256).is_empty());
        cache.hold(held(a, 256, 8, NOW));
        cache.hold(held(a, 256, 8, NOW + 10));
        cache.hold(held(a, 257, 8, NOW + 20));
        cache.hold(held(a, 258, 8, NOW + 30));
        assert_eq!(cache.pending_usage().0, 4);
        // Released in arrival order, only those of that scope and template.
        assert!(cache.release(&scope(OTHER_EXPORTER, 0), 256).is_empty());
        let released = cache.release(&a, 256);
        assert_eq!(released.iter().map(|s| s.held_at_ms).collect::<Vec<_>>(), [NOW, NOW + 10]);
        cache.expire(NOW + 1021);
        assert_eq!(cache.pending_usage().0, 1);
        assert_eq!(cache.flush_pending(), 1);
        assert_eq!(cache.pending_usage(), (0, 0));
        let c = &cache.counters;
        assert_eq!(c.sets_held.load(Ordering::Relaxed), 4);
        assert_eq!(c.sets_released.load(Ordering::Relaxed), 2);
        assert_eq!(c.sets_dropped_timeout.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn the_holding_area_is_bounded_in_bytes() {
        let one = held(scope(EXPORTER, 0), 256, 100, NOW);
        let budget = 2 * (100 + std::mem::size_of::<PendingSet>());
        let cache = TemplateCache::new(TemplateCacheConfig {
            pending_max_bytes: budget,
            ..TemplateCacheConfig::default()
        });
        for i in 0..3 {
            cache.hold(PendingSet { held_at_ms: NOW + i, ..one.clone() });
        }
        // The oldest made room for the newest.
        assert_eq!(cache.pending_usage(), (2, budget));
        assert_eq!(cache.counters.sets_dropped_overflow.load(Ordering::Relaxed), 1);
        let kept = cache.release(&one.scope, 256);
        assert_eq!(kept.iter().map(|s| s.held_at_ms).collect::<Vec<_>>(), [NOW + 1, NOW + 2]);
    }

    #[test]
    fn snapshot_and_restore_keep_templates_and_sampling() {
        let cache = TemplateCache::new(TemplateCacheConfig::default());
        let (a, b) = (scope(EXPORTER, 0), scope(OTHER_EXPORTER, 7));
        learn(&cache, b, 260, TemplateKind::Data, &[id::OCTET_DELTA_COUNT]);
        learn(&cache, a, 256, TemplateKind::Options { scope_fields: 1 }, &[149, id::SAMPLING_INTERVAL]);
        cache.apply_options(a, &OptionsInfo::Sampler { id: Some(9), rate: 64 });
        cache.apply_options(a, &OptionsInfo::Sampler { id: Some(2), rate: 32 });
        let snap = cache.snapshot();
        // Sorted, so snapshots of equal caches are equal.
        assert_eq!(snap.templates.iter().map(|t| t.id).collect::<Vec<_>>(), [256, 260]);
        assert_eq!(snap.options[0].samplers, [(2, 32), (9, 64)]);

        let restored = TemplateCache::new(TemplateCacheConfig::default());
        let mut broken = snap.clone();
        broken.templates[1].fields.clear();
        assert_eq!(restored.restore(&broken), 1);
        assert!(restored.lookup(&a, 256).is_some() && restored.lookup(&b, 260).is_none());
        assert_eq!(restored.options(&a).samplers.get(&9), Some(&64));
        let again = TemplateCache::new(TemplateCacheConfig::default());
        assert_eq!(again.restore(&snap), 0);
        assert_eq!(again.snapshot(), snap);
    }
}
