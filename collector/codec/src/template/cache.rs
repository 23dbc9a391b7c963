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
