//! The entry point ([`Decoder`]) and what NetFlow v9 and IPFIX share: turning a data
//! set into records with a compiled template.

use crate::cursor::{be_uint, Cursor};
use crate::detect::{detect, Detected};
use crate::error::{DecodeError, Result};
use crate::hash::FxHashMap;
use crate::ie::{FieldSpec, Target, VARIABLE_LENGTH};
use crate::output::DecodeOutput;
use crate::record::{DatagramInfo, EnterpriseField, FlowRecord, OptionsInfo, Protocol, SamplingOrigin};
use crate::template::{
    Layout, PendingSet, ScopeKey, ScopeOptions, Template, TemplateCache, TemplateCacheConfig,
};
use crate::{ipfix, netflow_v5, netflow_v9, sflow};
use std::cell::RefCell;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

/// Decodes datagrams of any of the four protocols, sharing one template cache.
///
/// Cheap to clone: clones share the cache, so each worker thread holds its own
/// `Decoder` and all of them see every template. A `Decoder` is `Send` but not `Sync`:
/// it keeps a private memo of recent template lookups, checked against the cache's
/// generation, so the steady state takes no lock at all.
#[derive(Debug, Default)]
pub struct Decoder {
    cache: Arc<TemplateCache>,
    memo: RefCell<Memo>,
}

impl Clone for Decoder {
    fn clone(&self) -> Self {
        Decoder::with_cache(Arc::clone(&self.cache))
    }
}

/// A worker's lock-free view of recently used templates.
#[derive(Debug, Default)]
struct Memo {
    generation: u64,
    entries: FxHashMap<(ScopeKey, u16), (Arc<Template>, Arc<ScopeOptions>)>,
}

/// Bound on memo entries; beyond it the memo starts over (it is only a cache).
const MEMO_MAX: usize = 4096;

impl Decoder {
    /// A decoder with a new cache.
    pub fn new(config: TemplateCacheConfig) -> Self {
        Decoder::with_cache(Arc::new(TemplateCache::new(config)))
    }

    /// A decoder over an existing (shared) cache.
    pub fn with_cache(cache: Arc<TemplateCache>) -> Self {
        Decoder { cache, memo: RefCell::new(Memo::default()) }
    }

    /// Template `id` of `scope`, from the memo when the cache has not changed since.
    fn lookup(&self, scope: &ScopeKey, id: u16) -> Option<(Arc<Template>, Arc<ScopeOptions>)> {
        let generation = self.cache.generation();
        let mut memo = self.memo.borrow_mut();
        if memo.generation != generation || memo.entries.len() >= MEMO_MAX {
            memo.entries.clear();
            memo.generation = generation;
        }
        if let Some((t, o)) = memo.entries.get(&(*scope, id)) {
            return Some((Arc::clone(t), Arc::clone(o)));
        }
        let found = self.cache.lookup(scope, id)?;
        memo.entries.insert((*scope, id), (Arc::clone(&found.0), Arc::clone(&found.1)));
        Some(found)
    }

    /// The shared template cache.
    pub fn cache(&self) -> &Arc<TemplateCache> {
        &self.cache
    }

    /// Decodes one UDP payload from `exporter`, appending to `out`.
    ///
    /// `now_ms` is the collector's clock (Unix milliseconds); it ages held data sets
    /// and templates, never the flows' own times. On error, records of the sets that
    /// were complete before the fault stay in `out`.
    pub fn decode(
        &self,
        exporter: IpAddr,
        datagram: &[u8],
        now_ms: i64,
        out: &mut DecodeOutput,
    ) -> Result<DatagramInfo> {
        match detect(datagram)? {
            Detected::NetflowV5 => netflow_v5::decode(exporter, datagram, out),
            Detected::NetflowV9 => netflow_v9::decode(self, exporter, datagram, now_ms, out),
            Detected::Ipfix => ipfix::decode(self, exporter, datagram, now_ms, out),
            Detected::SflowV5 => sflow::decode(exporter, datagram, out),
        }
    }

    /// Decodes a data set: with its template if known, otherwise holds it.
    /// Returns the records produced, or 0 and holds the set.
    pub(crate) fn data_set(
        &self,
        ctx: &SetContext,
        template_id: u16,
        body: &[u8],
        now_ms: i64,
        out: &mut DecodeOutput,
        info: &mut DatagramInfo,
    ) -> Result<()> {
        let scope = ctx.scope();
        match self.lookup(&scope, template_id) {
            Some((template, options)) => {
                let (flows, opts) = decode_records(&self.cache, &template, &options, ctx, body, out)?;
                info.records += flows;
                info.options_records += opts;
            }
            None => {
                self.cache.hold(PendingSet {
                    scope,
                    template_id,
                    body: body.to_vec(),
                    context: *ctx,
                    held_at_ms: now_ms,
                });
                info.held_sets += 1;
            }
        }
        Ok(())
    }

    /// Learns a template and decodes any sets that were waiting for it.
    pub(crate) fn template(
        &self,
        scope: ScopeKey,
        template: Template,
        now_ms: i64,
        out: &mut DecodeOutput,
        info: &mut DatagramInfo,
    ) {
        let id = template.id;
        let template = Arc::new(template);
        self.cache.learn(scope, (*template).clone(), now_ms);
        info.templates += 1;
        for held in self.cache.release(&scope, id) {
            let options = self.cache.options(&scope);
            let before = out.records.len();
            // A held set that turns out malformed spoils only itself: its error is dropped,
            // but (as with a set decoded directly) the records before the fault stay in
            // `out`. Why they are counted from `out`: counting only sets that decoded
            // completely left `out.records` longer than `records + released_records`
            // (found by fuzzing).
            let _ = decode_records(&self.cache, &template, &options, &held.context, &held.body, out);
            info.released_records += u32::try_from(out.records.len() - before).unwrap_or(u32::MAX);
        }
    }
}

/// Header fields a data set needs to be decoded (also kept with held sets).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SetContext {
    /// v9 or IPFIX.
    pub protocol: Protocol,
    /// UDP source of the datagram.
    pub exporter: IpAddr,
    /// Source id / observation domain.
    pub domain: u32,
    /// Header sequence number.
    pub sequence: u32,
    /// Export time, Unix seconds.
    pub export_time: u32,
    /// v9 header sysUpTime in milliseconds.
    pub sys_uptime_ms: Option<u32>,
}

impl SetContext {
    /// The template scope of this datagram.
    pub fn scope(&self) -> ScopeKey {
        ScopeKey { exporter: self.exporter, protocol: self.protocol, domain: self.domain }
    }
}

/// Per-record values that need the whole record before they mean anything. Most
/// templates never touch it, so it is reset only after a record used it.
#[derive(Default)]
struct Pending {
    touched: bool,
    start_uptime: Option<u32>,
    end_uptime: Option<u32>,
    start_delta_us: Option<u64>,
    end_delta_us: Option<u64>,
    duration_ms: Option<u64>,
    system_init_ms: Option<i64>,
    sampling_interval: Option<u64>,
    packet_interval: Option<u64>,
    packet_space: Option<u64>,
    sampling_size: Option<u64>,
    sampling_population: Option<u64>,
    selector_id: Option<u64>,
    scope_interface: Option<u32>,
    if_name: Option<(usize, usize)>,
    if_description: Option<(usize, usize)>,
}

/// Seconds between the NTP era 0 (1900) and the Unix epoch.
const NTP_UNIX_OFFSET: i64 = 2_208_988_800;

fn ntp_to_ms(v: u64) -> i64 {
    let secs = (v >> 32) as i64 - NTP_UNIX_OFFSET;
    let frac_ms = ((v & 0xffff_ffff) * 1000) >> 32;
    secs * 1000 + frac_ms as i64
}

#[inline]
fn addr(bytes: &[u8]) -> Option<IpAddr> {
    match *bytes {
        [a, b, c, d] => Some(IpAddr::V4(Ipv4Addr::new(a, b, c, d))),
        _ => <[u8; 16]>::try_from(bytes).ok().map(|b| IpAddr::V6(Ipv6Addr::from(b))),
    }
}

/// Dual-stack templates carry both the IPv4 and the IPv6 element for one address and
/// fill only one: an all-zero address never replaces one already read.
#[inline]
fn pick_addr(current: Option<IpAddr>, bytes: &[u8]) -> Option<IpAddr> {
    match (addr(bytes), current) {
        (Some(new), Some(old)) if new.is_unspecified() && !old.is_unspecified() => Some(old),
        (Some(new), _) => Some(new),
        (None, old) => old,
    }
}

fn mac(bytes: &[u8]) -> Option<[u8; 6]> {
    <[u8; 6]>::try_from(bytes).ok()
}

/// Seconds (any u64 an exporter sends) as milliseconds.
fn secs_to_ms(v: u64) -> i64 {
    // Why saturating: a garbage 8-byte seconds field times 1000 overflows i64 (found by
    // fuzzing: a panic with overflow checks, a silently wrapped time without them).
    i64::try_from(v).unwrap_or(i64::MAX).saturating_mul(1000)
}

fn clamp_u32(v: u64) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

/// Splits a record's next field off `cur`, honouring IPFIX variable-length encoding.
#[inline]
fn field_bytes<'a>(cur: &mut Cursor<'a>, length: u16, template_id: u16) -> Result<&'a [u8]> {
    if length != VARIABLE_LENGTH {
        return cur.take(usize::from(length));
    }
    let bad = DecodeError::BadVariableLength { template_id };
    let first = cur.u8().map_err(|_| bad.clone())?;
    let len = if first < 255 { usize::from(first) } else { usize::from(cur.u16().map_err(|_| bad.clone())?) };
    cur.take(len).map_err(|_| bad)
}

/// Record-independent inputs of [`apply`].
struct Env {
    /// Export time in ms (whole seconds: that is what the headers carry).
    export_ms: i64,
    /// v9 header sysUpTime.
    sys_uptime_ms: Option<u32>,
}

impl Env {
    /// Export time minus `us` microseconds, floored to the millisecond (IE 158/159).
    #[inline]
    fn minus_micros(&self, us: u64) -> i64 {
        let us = i64::try_from(us).unwrap_or(i64::MAX / 2);
        (self.export_ms.saturating_mul(1000) - us).div_euclid(1000)
    }

    /// A v9 sysUpTime-relative time as Unix ms. The signed 32-bit difference survives
    /// sysUpTime wrapping after 49.7 days.
    #[inline]
    fn uptime_to_ms(&self, up: u32, v: u32) -> i64 {
        self.export_ms - i64::from(up.wrapping_sub(v) as i32)
    }
}

/// Decodes every record of a data set with `template`; returns how many flow records
/// and how many options records were read (those feed the cache and `out.options`).
pub(crate) fn decode_records(
    cache: &TemplateCache,
    template: &Template,
    options: &ScopeOptions,
    ctx: &SetContext,
    body: &[u8],
    out: &mut DecodeOutput,
) -> Result<(u32, u32)> {
    let env = Env { export_ms: i64::from(ctx.export_time) * 1000, sys_uptime_ms: ctx.sys_uptime_ms };
    let mut cur = Cursor::new(body, "data record");
    let mut produced = 0u32;
    let mut options_read = 0u32;
    let mut options_view: Option<Arc<ScopeOptions>> = None;
    let mut p = Pending::default();
    let mut base = FlowRecord::new(ctx.protocol, ctx.exporter);
    base.observation_domain = ctx.domain;
    base.sequence = ctx.sequence;
    // Where the trailing zero padding of a variable-length set starts. Why computed once:
    // asking after every record whether the rest is all zeros rescanned a long zero run
    // for each one-byte record, quadratic in the set length (a 64 KiB IPFIX set took
    // over a second; found while writing the fuzz regression inputs).
    let content_end = match template.fixed_length {
        None => body.iter().rposition(|b| *b != 0).map_or(0, |i| i + 1),
        Some(_) => 0,
    };
    // Anything shorter than one record is padding (RFC 3954 §5.3, RFC 7011 §3.3.1).
    while cur.remaining() >= template.min_length {
        let record_start = cur.rest();
        let mut rec = base;
        if p.touched {
            p = Pending::default();
        }
        let ent_start = out.enterprise_fields.len();
        let mut failed = None;
        if let (Some(layout), Some(fixed)) = (template.layout(), template.fixed_length) {
            // The loop condition guarantees a whole record (min_length is the length).
            let record = cur.take(fixed)?;
            apply_layout(layout, record, &env, &mut rec, &mut p, out, record_start);
        } else {
            for (spec, target) in template.fields.iter().zip(template.targets()) {
                let bytes = match field_bytes(&mut cur, spec.length, template.id) {
                    Ok(b) => b,
                    Err(e) => {
                        failed = Some(e);
                        break;
                    }
                };
                apply(*target, spec, bytes, &env, &mut rec, &mut p, out, record_start);
            }
        }
        if let Some(e) = failed {
            out.enterprise_fields.truncate(ent_start);
            // A variable-length set may end in zero padding shorter than a real record.
            if record_start.iter().all(|b| *b == 0) {
                break;
            }
            return Err(e);
        }
        let ent_count = out.enterprise_fields.len() - ent_start;
        rec.enterprise = (clamp_u32(ent_start as u64), u16::try_from(ent_count).unwrap_or(u16::MAX));
        if template.is_options() {
            out.enterprise_fields.truncate(ent_start);
            options_record(cache, ctx, &rec, &p, record_start, out);
            options_read += 1;
            // What it said applies to the records after it.
            options_view = Some(cache.options(&ctx.scope()));
            continue;
        }
        let view = options_view.as_deref().unwrap_or(options);
        if p.touched || !view.is_empty() {
            finish(&mut rec, &p, &env, view);
        }
        out.records.push(rec);
        produced += 1;
        if template.fixed_length.is_none() && body.len() - cur.remaining() >= content_end {
            break;
        }
    }
    Ok((produced, options_read))
}

/// Decodes a record of a template with a [`Layout`]: each target's `apply` arm,
/// unrolled with the target known, so no field is dispatched at run time.
#[inline(always)]
fn apply_layout(
    layout: &Layout,
    record: &[u8],
    env: &Env,
    rec: &mut FlowRecord,
    p: &mut Pending,
    out: &mut DecodeOutput,
    record_start: &[u8],
) {
    // Neither pen nor id is read for these targets (only `Target::Keep` reads them).
    let spec = FieldSpec { id: 0, pen: 0, length: 0 };
    let mut spans = layout.spans.iter().copied();
    macro_rules! field {
        ($($target:ident),* $(,)?) => {$(
            if let Some(Some((start, end))) = spans.next() {
                if let Some(bytes) = record.get(start..end) {
                    apply(Target::$target, &spec, bytes, env, rec, p, out, record_start);
                }
            }
        )*};
    }
    // The order of LAYOUT_TARGETS.
    field!(
        SrcAddr,
        DstAddr,
        SrcPort,
        DstPort,
        Proto,
        TcpFlags,
        Tos,
        Bytes,
        PacketCount,
        InIf,
        OutIf,
        SrcAs,
        DstAs,
        NextHop,
        SrcMask,
        DstMask,
        Vlan,
        StartUptime,
        EndUptime,
        StartSeconds,
        EndSeconds,
        StartMillis,
        EndMillis,
        SamplingInterval,
    );
}

#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn apply(
    target: Target,
    spec: &FieldSpec,
    bytes: &[u8],
    env: &Env,
    rec: &mut FlowRecord,
    p: &mut Pending,
    out: &mut DecodeOutput,
    record_start: &[u8],
) {
    // A zero-length field (RFC 7011 allows them; Juniper and others send them) says
    // nothing: it must not set a value of 0.
    if bytes.is_empty() {
        return;
    }
    let num = || be_uint(bytes);
    match target {
        Target::SrcAddr => rec.src_addr = pick_addr(rec.src_addr, bytes),
        Target::DstAddr => rec.dst_addr = pick_addr(rec.dst_addr, bytes),
        Target::SrcPort => rec.src_port = num() as u16,
        Target::DstPort => rec.dst_port = num() as u16,
        Target::Proto => rec.proto = num() as u8,
        Target::TcpFlags => rec.tcp_flags = num() as u16,
        Target::Tos => rec.tos = num() as u8,
        Target::Bytes => rec.bytes = num(),
        Target::PacketCount => rec.packets = num(),
        // Lower-priority duplicates (see ie::resolve_priorities) never reach here.
        Target::Octets
        | Target::Packets
        | Target::PostOctets
        | Target::PostPackets
        | Target::TotalOctets
        | Target::TotalPackets
        | Target::InitiatorOctets
        | Target::InitiatorPackets
        | Target::BgpNextHop
        | Target::Dot1qVlan => {}
        Target::InIf => rec.in_if = clamp_u32(num()),
        Target::OutIf => rec.out_if = clamp_u32(num()),
        Target::SrcAs => rec.src_as = clamp_u32(num()),
        Target::DstAs => rec.dst_as = clamp_u32(num()),
        Target::NextHop => rec.next_hop = pick_addr(rec.next_hop, bytes),
        Target::SrcMask => rec.src_mask = num() as u8,
        Target::DstMask => rec.dst_mask = num() as u8,
        Target::Vlan => rec.vlan = num() as u16,
        Target::StartUptime => match env.sys_uptime_ms {
            Some(up) => rec.flow_start_ms = Some(env.uptime_to_ms(up, num() as u32)),
            None => {
                p.touched = true;
                p.start_uptime = Some(num() as u32);
            }
        },
        Target::EndUptime => match env.sys_uptime_ms {
            Some(up) => rec.flow_end_ms = Some(env.uptime_to_ms(up, num() as u32)),
            None => {
                p.touched = true;
                p.end_uptime = Some(num() as u32);
            }
        },
        Target::StartSeconds => rec.flow_start_ms = Some(secs_to_ms(num())),
        Target::EndSeconds => rec.flow_end_ms = Some(secs_to_ms(num())),
        Target::StartMillis => rec.flow_start_ms = Some(num() as i64),
        Target::EndMillis => rec.flow_end_ms = Some(num() as i64),
        Target::StartNtp => rec.flow_start_ms = Some(ntp_to_ms(num())),
        Target::EndNtp => rec.flow_end_ms = Some(ntp_to_ms(num())),
        Target::SrcMac => rec.src_mac = mac(bytes),
        Target::DstMac => rec.dst_mac = mac(bytes),
        Target::MplsTopLabel => rec.mpls_label = (num() >> 4) as u32 & 0x000f_ffff,
        Target::Direction => rec.direction = Some(num() as u8),
        Target::SamplerId => rec.sampler_id = Some(num()),
        Target::Keep => {
            let offset = clamp_u32(out.enterprise_bytes.len() as u64);
            out.enterprise_bytes.extend_from_slice(bytes);
            out.enterprise_fields.push(EnterpriseField {
                pen: spec.pen,
                id: spec.id,
                offset,
                len: clamp_u32(bytes.len() as u64),
            });
        }
        Target::Skip => {}
        rare => {
            p.touched = true;
            match rare {
                Target::StartDeltaMicros => p.start_delta_us = Some(num()),
                Target::EndDeltaMicros => p.end_delta_us = Some(num()),
                Target::DurationMillis => p.duration_ms = Some(num()),
                Target::DurationMicros => p.duration_ms = Some(num() / 1000),
                Target::SystemInitMillis => p.system_init_ms = Some(num() as i64),
                Target::SelectorId => p.selector_id = Some(num()),
                Target::SamplingInterval => p.sampling_interval = Some(num()),
                Target::SamplingPacketInterval => p.packet_interval = Some(num()),
                Target::SamplingPacketSpace => p.packet_space = Some(num()),
                Target::SamplingSize => p.sampling_size = Some(num()),
                Target::SamplingPopulation => p.sampling_population = Some(num()),
                Target::ScopeInterface => p.scope_interface = Some(clamp_u32(num())),
                Target::InterfaceName => p.if_name = Some(span(record_start, bytes)),
                Target::InterfaceDescription => p.if_description = Some(span(record_start, bytes)),
                _ => {}
            }
        }
    }
}

/// Position of `inner` within `outer` (both from the same set body).
fn span(outer: &[u8], inner: &[u8]) -> (usize, usize) {
    let start = (inner.as_ptr() as usize).saturating_sub(outer.as_ptr() as usize);
    (start, inner.len())
}

/// The sampling rate a record states itself, if any.
fn record_rate(p: &Pending) -> Option<u32> {
    if let Some(i) = p.sampling_interval.filter(|i| *i > 0) {
        return Some(clamp_u32(i));
    }
    if let Some(i) = p.packet_interval.filter(|i| *i > 0) {
        let space = p.packet_space.unwrap_or(0);
        // Why saturating: both are exporter-supplied u64s; their sum may overflow.
        return Some(clamp_u32(i.saturating_add(space) / i));
    }
    if let (Some(size), Some(pop)) = (p.sampling_size.filter(|s| *s > 0), p.sampling_population) {
        return Some(clamp_u32(pop / size).max(1));
    }
    None
}

fn finish(rec: &mut FlowRecord, p: &Pending, env: &Env, options: &ScopeOptions) {
    if rec.sampler_id.is_none() {
        rec.sampler_id = p.selector_id;
    }
    // IPFIX sysUpTime-relative times count from the exporter's boot (IE 160).
    if let Some(init) = p.system_init_ms.or(options.system_init_ms) {
        // Why saturating: systemInitTimeMilliseconds is an exporter-supplied u64 that may
        // sit near i64::MAX, and adding the uptime would overflow.
        if let Some(v) = p.start_uptime {
            rec.flow_start_ms = Some(init.saturating_add(i64::from(v)));
        }
        if let Some(v) = p.end_uptime {
            rec.flow_end_ms = Some(init.saturating_add(i64::from(v)));
        }
    }
    if rec.flow_start_ms.is_none() {
        rec.flow_start_ms = p.start_delta_us.map(|d| env.minus_micros(d));
    }
    if rec.flow_end_ms.is_none() {
        rec.flow_end_ms = p.end_delta_us.map(|d| env.minus_micros(d));
    }
    if let Some(d) = p.duration_ms {
        let d = i64::try_from(d).unwrap_or(i64::MAX);
        match (rec.flow_start_ms, rec.flow_end_ms) {
            (Some(s), None) => rec.flow_end_ms = Some(s.saturating_add(d)),
            (None, Some(e)) => rec.flow_start_ms = Some(e.saturating_sub(d)),
            _ => {}
        }
    }

    // Sampling: the record's own statement wins, then its sampler's table entry,
    // then the exporter-wide option.
    if let Some(rate) = record_rate(p) {
        rec.sampling_rate = rate;
        rec.sampling_origin = SamplingOrigin::Record;
    } else if let Some(rate) = rec.sampler_id.and_then(|id| options.samplers.get(&id)) {
        rec.sampling_rate = (*rate).max(1);
        rec.sampling_origin = SamplingOrigin::SamplerTable;
    } else if let Some(rate) = options.domain_rate {
        rec.sampling_rate = rate.max(1);
        rec.sampling_origin = SamplingOrigin::ExporterOptions;
    }
}

fn text(record: &[u8], (start, len): (usize, usize)) -> Option<String> {
    let bytes = record.get(start..start.checked_add(len)?)?;
    let s = String::from_utf8_lossy(bytes);
    let s = s.trim_end_matches('\0').trim();
    (!s.is_empty()).then(|| s.to_owned())
}

fn options_record(
    cache: &TemplateCache,
    ctx: &SetContext,
    rec: &FlowRecord,
    p: &Pending,
    record: &[u8],
    out: &mut DecodeOutput,
) {
    let scope = ctx.scope();
    if let Some(rate) = record_rate(p) {
        let info = OptionsInfo::Sampler { id: rec.sampler_id.or(p.selector_id), rate: rate.max(1) };
        cache.apply_options(scope, &info);
        out.options.push((scope, info));
    }
    if let Some(ms) = p.system_init_ms {
        let info = OptionsInfo::SystemInit { ms };
        cache.apply_options(scope, &info);
        out.options.push((scope, info));
    }
    let index = p.scope_interface.or((rec.in_if != 0).then_some(rec.in_if));
    let name =
        p.if_name.and_then(|s| text(record, s)).or_else(|| p.if_description.and_then(|s| text(record, s)));
    if let (Some(index), Some(name)) = (index, name) {
        out.options.push((scope, OptionsInfo::Interface { index, name }));
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;
    use crate::ie::id;
    use crate::testing::{fresh, ipfix, v9, words, EXPORTER, EXPORT_SECS, NOW};

    const EXPORT_MS: i64 = EXPORT_SECS as i64 * 1000;

    #[test]
    fn dispatches_by_content_and_refuses_what_it_does_not_know() {
        let (d, mut out) = fresh();
        let v9_info = d.decode(EXPORTER, &v9(1, 0, &[]), NOW, &mut out).unwrap();
        assert_eq!(v9_info.protocol, Protocol::NetflowV9);
        let ipfix_info = d.decode(EXPORTER, &ipfix(1, 0, &[]), NOW, &mut out).unwrap();
        assert_eq!(ipfix_info.protocol, Protocol::Ipfix);
        assert!(matches!(
            d.decode(EXPORTER, &[0, 7, 0, 0], NOW, &mut out),
            Err(DecodeError::UnsupportedVersion { .. })
        ));
        assert!(matches!(d.decode(EXPORTER, b"GET /", NOW, &mut out), Err(DecodeError::UnknownProtocol(_))));
        assert!(matches!(d.decode(EXPORTER, &[0, 9], NOW, &mut out), Err(DecodeError::Truncated { .. })));
    }

    #[test]
    fn ipfix_times_in_every_encoding() {
        let (d, mut out) = fresh();
        // Template 256: start/end in ms; 257: start/end as deltas before export (us);
        // 258: end in seconds with a duration in ms.
        let templates = [
            words(&[256, 2, id::FLOW_START_MILLISECONDS, 8, id::FLOW_END_MILLISECONDS, 8]),
            words(&[257, 2, id::FLOW_START_DELTA_MICROSECONDS, 4, id::FLOW_END_DELTA_MICROSECONDS, 4]),
            words(&[258, 2, id::FLOW_END_SECONDS, 4, id::FLOW_DURATION_MILLISECONDS, 4]),
        ]
        .concat();
        let millis = [(EXPORT_MS - 3000).to_be_bytes(), (EXPORT_MS - 1000).to_be_bytes()].concat();
        let deltas = [5_000_000u32.to_be_bytes(), 2_500_500u32.to_be_bytes()].concat();
        let secs = [(EXPORT_SECS - 1).to_be_bytes(), 1500u32.to_be_bytes()].concat();
        let msg = ipfix(1, 0, &[(2, templates), (256, millis), (257, deltas), (258, secs)]);
        d.decode(EXPORTER, &msg, NOW, &mut out).unwrap();
        let times: Vec<_> = out.records.iter().map(|r| (r.flow_start_ms, r.flow_end_ms)).collect();
        assert_eq!(
            times,
            [
                (Some(EXPORT_MS - 3000), Some(EXPORT_MS - 1000)),
                // Deltas floor to the millisecond: 2,500,500 us before is 2,500.5 ms
                // before, i.e. within the millisecond that starts 2,501 ms before.
                (Some(EXPORT_MS - 5000), Some(EXPORT_MS - 2501)),
                (Some(EXPORT_MS - 2500), Some(EXPORT_MS - 1000)),
            ]
        );
    }

    #[test]
    fn ipfix_uptime_times_count_from_the_system_init_option() {
        let (d, mut out) = fresh();
        let boot = EXPORT_MS - 3_600_000;
        // Options template 300: scope observationDomainId/4; systemInitTimeMilliseconds/8.
        let options_template = words(&[300, 2, 1, 149, 4, id::SYSTEM_INIT_TIME_MILLISECONDS, 8]);
        let data_template = words(&[256, 2, id::FLOW_START_SYS_UP_TIME, 4, id::FLOW_END_SYS_UP_TIME, 4]);
        let options_record = [0u32.to_be_bytes().to_vec(), boot.to_be_bytes().to_vec()].concat();
        let data = [1000u32.to_be_bytes(), 2000u32.to_be_bytes()].concat();
        let msg =
            ipfix(1, 0, &[(3, options_template), (2, data_template), (300, options_record), (256, data)]);
        d.decode(EXPORTER, &msg, NOW, &mut out).unwrap();
        assert_eq!(out.options[0].1, OptionsInfo::SystemInit { ms: boot });
        assert_eq!(
            (out.records[0].flow_start_ms, out.records[0].flow_end_ms),
            (Some(boot + 1000), Some(boot + 2000))
        );
        // The boot time is remembered for later datagrams of the scope.
        out.clear();
        d.decode(
            EXPORTER,
            &ipfix(2, 0, &[(256, [5u32.to_be_bytes(), 6u32.to_be_bytes()].concat())]),
            NOW,
            &mut out,
        )
        .unwrap();
        assert_eq!(out.records[0].flow_start_ms, Some(boot + 5));
    }

    #[test]
    fn dual_stack_templates_keep_the_address_that_is_set() {
        let (d, mut out) = fresh();
        let tpl = words(&[256, 2, id::SOURCE_IPV4_ADDRESS, 4, id::SOURCE_IPV6_ADDRESS, 16]);
        let mut rec = vec![10, 1, 2, 3];
        rec.extend([0u8; 16]);
        let msg = ipfix(1, 0, &[(2, tpl), (256, rec)]);
        d.decode(EXPORTER, &msg, NOW, &mut out).unwrap();
        assert_eq!(out.records[0].src_addr, Some("10.1.2.3".parse().unwrap()));
    }

    #[test]
    fn clones_share_templates_and_see_refreshes() {
        let (d, mut out) = fresh();
        let worker = d.clone();
        d.decode(EXPORTER, &ipfix(1, 0, &[(2, words(&[256, 1, id::PACKET_DELTA_COUNT, 2]))]), NOW, &mut out)
            .unwrap();
        let data = ipfix(2, 0, &[(256, vec![0, 1, 0, 2, 0, 3, 0, 4])]);
        assert_eq!(worker.decode(EXPORTER, &data, NOW, &mut out).unwrap().records, 4);
        // A refresh through the other decoder changes what this one's memo answers.
        d.decode(EXPORTER, &ipfix(3, 0, &[(2, words(&[256, 1, id::PACKET_DELTA_COUNT, 4]))]), NOW, &mut out)
            .unwrap();
        assert_eq!(worker.decode(EXPORTER, &data, NOW, &mut out).unwrap().records, 2);
    }

    #[test]
    fn records_before_a_fault_are_kept_and_a_bad_held_set_spoils_only_itself() {
        let (d, mut out) = fresh();
        let tpl = words(&[256, 1, id::INTERFACE_NAME, VARIABLE_LENGTH, 257, 1, id::PACKET_DELTA_COUNT, 4]);
        // Held: a good set for 257 and a bad one for 256 (length 9, 3 bytes follow).
        let held = ipfix(1, 0, &[(257, 7u32.to_be_bytes().to_vec()), (256, vec![9, b'x', b'y', b'z'])]);
        assert_eq!(d.decode(EXPORTER, &held, NOW, &mut out).unwrap().held_sets, 2);
        let info = d.decode(EXPORTER, &ipfix(2, 0, &[(2, tpl)]), NOW, &mut out).unwrap();
        assert_eq!((info.templates, info.released_records), (2, 1));
        assert_eq!(out.records.len(), 1);
        // Decoded directly, the good set's records stay in `out` despite the error after them.
        out.clear();
        let both = ipfix(3, 0, &[(257, 8u32.to_be_bytes().to_vec()), (256, vec![9, b'x'])]);
        assert!(matches!(
            d.decode(EXPORTER, &both, NOW, &mut out),
            Err(DecodeError::BadVariableLength { .. })
        ));
        assert_eq!(out.records.len(), 1);
        assert_eq!(out.records[0].packets, 8);
    }
}
