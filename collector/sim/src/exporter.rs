//! One simulated exporter: its export streams (one per observation domain, each
//! with its own encoder and sequence numbers), datagram packing, flush timeouts,
//! template refresh and restarts.
//!
//! Datagrams are filled the way exporters fill them: records accumulate until the
//! next one would not fit (v5: 30 records; v9/IPFIX: by bytes, templates included;
//! sFlow: as many samples as fit in the worst case), or until the flush timeout
//! passes with a partly filled datagram. Each batch is sized so that the codec's
//! encoder writes exactly one datagram, so the records handed to the sink with each
//! datagram are exactly the ones inside it (if the encoder ever disagreed, the run
//! stops with [`SimError::Packing`] rather than report a wrong account).
//!
//! Template refresh (v9/IPFIX) is decided here, not by the encoder: templates go out
//! in the first datagram, after every restart, and then every
//! `template_refresh_datagrams` datagrams or `template_refresh_ms` of simulated time.
//! A restart sends what was pending, resets every sequence number (v5 flow
//! sequence, v9 packet sequence, IPFIX record sequence, sFlow datagram and sample
//! sequences) and sysUpTime, and resends templates.

use crate::clock::SimClock;
use crate::conform::{self, Stream};
use crate::error::SimError;
use crate::rng::Rng;
use crate::sample_train::SampleTrains;
use crate::scenario::ExporterPlan;
use flowvision_codec::encode::sflow::SflowEncoder;
use flowvision_codec::encode::{TemplateEncoder, TemplateEncoderConfig, V5Encoder};
use flowvision_codec::netflow_v5::{HEADER_LEN as V5_HEADER, MAX_RECORDS as V5_MAX, RECORD_LEN as V5_RECORD};
use flowvision_codec::{FlowRecord, Protocol};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// One datagram as it leaves an exporter.
#[derive(Debug, Clone, Copy)]
pub struct Datagram<'a> {
    /// Exporter index.
    pub exporter: usize,
    /// Protocol.
    pub protocol: Protocol,
    /// UDP source (exporter address and port).
    pub src: SocketAddr,
    /// Observation domain of the stream.
    pub domain: u32,
    /// Sequence number in the header.
    pub sequence: u32,
    /// Whether it carries templates (v9/IPFIX).
    pub templates: bool,
    /// When to send it: virtual nanoseconds since the start of the run.
    pub vt_ns: i64,
    /// Its simulated time, Unix nanoseconds (pcap timestamp).
    pub sim_ns: i64,
    /// Its export time, Unix milliseconds.
    pub export_ms: i64,
    /// The UDP payload.
    pub payload: &'a [u8],
    /// The flow records inside, as a correct decoder reads them back.
    pub records: &'a [FlowRecord],
}

/// Where datagrams go.
pub trait Sink {
    /// Takes one datagram.
    fn send(&mut self, datagram: &Datagram<'_>) -> Result<(), SimError>;
}

impl<F: FnMut(&Datagram<'_>) -> Result<(), SimError>> Sink for F {
    fn send(&mut self, datagram: &Datagram<'_>) -> Result<(), SimError> {
        self(datagram)
    }
}

/// The run's clock and the time of the last datagram, which keeps datagram times
/// non-decreasing across exporters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timeline {
    /// Virtual to simulated time.
    pub clock: SimClock,
    /// Virtual time of the last datagram.
    pub last_vt: i64,
}

/// What an exporter sent, in its protocol's terms.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExporterStats {
    /// Datagrams.
    pub datagrams: u64,
    /// Datagrams that carried templates.
    pub template_datagrams: u64,
    /// Flow records (sFlow: flow samples).
    pub flows: u64,
    /// Bytes of those records (sFlow: sampled frame lengths).
    pub bytes: u64,
    /// Packets of those records (sFlow: 1 per sample).
    pub packets: u64,
    /// IPv6 flow records.
    pub ipv6_flows: u64,
    /// UDP payload bytes.
    pub payload_bytes: u64,
    /// Restarts.
    pub restarts: u64,
    /// Flows the protocol could not carry (IPv6 for v5), not sent.
    pub skipped: u64,
    /// Flows the packet sampler drew no packet of (`sample_packets`), not sent.
    pub not_sampled: u64,
    /// sFlow samples due while the export was down (an export outage), not sent.
    pub samples_lost: u64,
}

enum Encoder {
    V5(V5Encoder),
    Template(TemplateEncoder),
    Sflow(SflowEncoder),
}

impl std::fmt::Debug for Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Encoder::V5(_) => "V5",
            Encoder::Template(_) => "Template",
            Encoder::Sflow(_) => "Sflow",
        })
    }
}

/// How much fits in one datagram.
#[derive(Debug, Clone, Copy)]
enum Packer {
    /// A fixed number of records (v5; sFlow sized for the largest sample).
    Fixed { cap: usize },
    /// v9/IPFIX: the encoder's own arithmetic, set by set.
    Template {
        max: usize,
        header: usize,
        templates_len: usize,
        rec_len: [usize; 2],
        pad: bool,
        /// Length before the current set.
        set_start: usize,
        set_v6: Option<bool>,
        set_count: usize,
    },
}

impl Packer {
    fn open(&mut self, with_templates: bool) {
        if let Packer::Template { header, templates_len, set_start, set_v6, set_count, .. } = self {
            *set_start = *header + if with_templates { *templates_len } else { 0 };
            *set_v6 = None;
            *set_count = 0;
        }
    }

    /// Adds a record if it fits; `false` when the datagram is full for it.
    fn add(&mut self, pending: usize, v6: bool) -> bool {
        match self {
            Packer::Fixed { cap } => pending < *cap,
            Packer::Template { max, rec_len, pad, set_start, set_v6, set_count, .. } => {
                let len = by_family(rec_len, v6);
                // The encoder fits `(max - set_start - 7) / len` records in a set.
                let fit = |start: usize| max.saturating_sub(start + 7) / len;
                if *set_v6 == Some(v6) {
                    if *set_count < fit(*set_start) {
                        *set_count += 1;
                        return true;
                    }
                    return false;
                }
                let next_start = match *set_v6 {
                    None => *set_start,
                    Some(prev) => {
                        let body = 4 + *set_count * by_family(rec_len, prev);
                        *set_start + if *pad { body.div_ceil(4) * 4 } else { body }
                    }
                };
                if fit(next_start) == 0 {
                    return false;
                }
                *set_start = next_start;
                *set_v6 = Some(v6);
                *set_count = 1;
                true
            }
        }
    }

    fn full(&self, pending: usize) -> bool {
        match self {
            Packer::Fixed { cap } => pending >= *cap,
            Packer::Template { .. } => false,
        }
    }
}

fn by_family(lens: &[usize; 2], v6: bool) -> usize {
    if v6 {
        lens[1]
    } else {
        lens[0]
    }
}

#[derive(Debug)]
struct ExportStream {
    info: Stream,
    enc: Encoder,
    packer: Packer,
    pending: Vec<FlowRecord>,
    /// Virtual time the open datagram got its first record.
    opened_vt: Option<i64>,
    /// Virtual time of its last record.
    last_vt: i64,
    with_templates: bool,
    templates_sent_ms: Option<i64>,
    datagrams_since_templates: u32,
}

/// A simulated exporter.
#[derive(Debug)]
pub struct Exporter {
    /// The resolved settings.
    pub plan: ExporterPlan,
    /// What it sent.
    pub stats: ExporterStats,
    /// A record with this exporter's protocol and address, the rest empty.
    pub template: FlowRecord,
    streams: Vec<ExportStream>,
    rng: Rng,
    boot_ms: i64,
    next_restart: usize,
    flush_vt: i64,
    /// Virtual nanoseconds per simulated millisecond.
    vt_per_ms: f64,
    /// sFlow samples of flows still passing (`sample_train`).
    trains: SampleTrains,
}

fn worst_case_record(v6: bool) -> FlowRecord {
    let mut r = FlowRecord::default();
    let (a, b, h): (IpAddr, IpAddr, IpAddr) = if v6 {
        (Ipv6Addr::LOCALHOST.into(), Ipv6Addr::LOCALHOST.into(), Ipv6Addr::LOCALHOST.into())
    } else {
        (Ipv4Addr::LOCALHOST.into(), Ipv4Addr::LOCALHOST.into(), Ipv4Addr::LOCALHOST.into())
    };
    (r.src_addr, r.dst_addr, r.next_hop) = (Some(a), Some(b), Some(h));
    (r.proto, r.src_port, r.dst_port, r.tcp_flags) = (6, 1, 2, 0x18);
    (r.vlan, r.src_mask, r.dst_mask, r.src_as, r.dst_as) = (100, 24, 24, 1, 2);
    (r.bytes, r.packets, r.in_if, r.out_if) = (1500, 1, 1, 2);
    r
}

fn measure(mut enc: impl FnMut(&mut dyn FnMut(&[u8]))) -> usize {
    let mut len = 0;
    enc(&mut |d: &[u8]| len = d.len());
    len
}

impl Exporter {
    /// An exporter that has been up since `plan.boot_ms`, with `speedup` to turn its
    /// flush timeout into virtual time.
    pub fn new(plan: ExporterPlan, seed: u64, speedup: f64) -> Exporter {
        let template = FlowRecord::new(plan.protocol, plan.address);
        let v6_possible = plan.site.ipv6_share > 0.0;
        let streams = plan
            .domains
            .iter()
            .map(|domain| {
                let info = Stream {
                    protocol: plan.protocol,
                    exporter: plan.address,
                    domain: *domain,
                    sampling_rate: plan.sampling_rate,
                };
                let (enc, packer) = match plan.protocol {
                    Protocol::NetflowV5 => {
                        // Cisco sends 30 records (1464 bytes) whatever the MTU headroom;
                        // a smaller max_datagram lowers it.
                        let cap = if plan.max_datagram >= flowvision_codec::encode::DEFAULT_MAX_DATAGRAM {
                            usize::from(V5_MAX)
                        } else {
                            ((plan.max_datagram - V5_HEADER) / V5_RECORD).clamp(1, usize::from(V5_MAX))
                        };
                        let enc = V5Encoder::new((*domain >> 8) as u8, *domain as u8, info.v5_interval());
                        (Encoder::V5(enc), Packer::Fixed { cap })
                    }
                    Protocol::NetflowV9 | Protocol::Ipfix => {
                        let config = TemplateEncoderConfig {
                            protocol: plan.protocol,
                            domain: *domain,
                            max_datagram: plan.max_datagram,
                            // Refresh is decided by the exporter (see the module docs).
                            template_refresh_datagrams: 0,
                            template_refresh_ms: 0,
                        };
                        let header = if plan.protocol == Protocol::Ipfix { 16 } else { 20 };
                        let templates_only = measure(|f| TemplateEncoder::new(config).encode(0, 0, &[], f));
                        let rec_len = [false, true].map(|v6| {
                            let mut e = TemplateEncoder::new(config);
                            e.encode(0, 0, &[], |_| {});
                            let four = [worst_case_record(v6); 4];
                            (measure(|f| e.encode(0, 0, &four, f)).saturating_sub(header + 4) / 4).max(1)
                        });
                        let packer = Packer::Template {
                            max: plan.max_datagram,
                            header,
                            templates_len: templates_only.saturating_sub(header),
                            rec_len,
                            pad: plan.protocol == Protocol::NetflowV9,
                            set_start: header,
                            set_v6: None,
                            set_count: 0,
                        };
                        (Encoder::Template(TemplateEncoder::new(config)), packer)
                    }
                    Protocol::SflowV5 => {
                        let mut enc = SflowEncoder::new(plan.address, *domain);
                        enc.max_datagram = plan.max_datagram;
                        let header = if plan.address.is_ipv4() { 28 } else { 40 };
                        let worst = worst_case_record(v6_possible);
                        let one = measure(|f| {
                            SflowEncoder::new(plan.address, *domain).encode_flows(0, &[worst], f)
                        });
                        let sample = one.saturating_sub(header).max(1);
                        let cap = (plan.max_datagram.saturating_sub(header) / sample).max(1);
                        (Encoder::Sflow(enc), Packer::Fixed { cap })
                    }
                };
                ExportStream {
                    info,
                    enc,
                    packer,
                    pending: Vec::with_capacity(64),
                    opened_vt: None,
                    last_vt: 0,
                    with_templates: false,
                    templates_sent_ms: None,
                    datagrams_since_templates: 0,
                }
            })
            .collect();
        Exporter {
            template,
            streams,
            rng: Rng::stream(seed, "exporter", plan.index as u64),
            boot_ms: plan.boot_ms,
            next_restart: 0,
            flush_vt: (plan.flush_ms as f64 * 1e6 / speedup).max(1.0) as i64,
            vt_per_ms: 1e6 / speedup,
            trains: SampleTrains::default(),
            stats: ExporterStats::default(),
            plan,
        }
    }

    /// The UDP source of its datagrams.
    pub fn source(&self) -> SocketAddr {
        SocketAddr::new(self.plan.address, self.plan.source_port)
    }

    /// Thins `rec` by the packet sampler when the exporter has one, then conforms each
    /// record the exporter sends for it to the protocol and queues it at virtual time
    /// `vt`, sending the open datagram first when a record does not fit. An sFlow flow's
    /// samples after the first follow over its duration ([`crate::sample_train`]).
    /// Returns the (bytes, packets) sent or to be sent for it, or `None` when nothing
    /// was (not sampled, or the protocol cannot carry it).
    pub fn push(
        &mut self,
        mut rec: FlowRecord,
        vt: i64,
        timeline: &mut Timeline,
        sink: &mut dyn Sink,
    ) -> Result<Option<(u64, u64)>, SimError> {
        // Samples due by now go first, so datagrams leave in time order.
        self.send_samples_due(vt, timeline, sink)?;
        let copies = if self.plan.sample_packets {
            crate::sampler::sample(&mut rec, self.plan.protocol, self.plan.sampling_rate, &mut self.rng)
        } else {
            1
        };
        if copies == 0 {
            self.stats.not_sampled += 1;
            return Ok(None);
        }
        let span_ms = match (rec.flow_start_ms, rec.flow_end_ms) {
            (Some(start), Some(end)) => end.saturating_sub(start),
            _ => 0,
        };
        let first = self.push_one(rec, vt, timeline, sink)?;
        // Only an sFlow agent gives more than one copy (`sampler::sample`).
        if first.is_some() {
            self.trains.start(rec, copies - 1, vt, (span_ms as f64 * self.vt_per_ms) as i64);
        }
        // Every copy conforms as the first did (the same record).
        Ok(first.map(|(b, p)| (b.saturating_mul(copies), p.saturating_mul(copies))))
    }

    /// Sends the sFlow samples due by `vt`.
    fn send_samples_due(
        &mut self,
        vt: i64,
        timeline: &mut Timeline,
        sink: &mut dyn Sink,
    ) -> Result<(), SimError> {
        while let Some((at, sample)) = self.trains.next_due(vt) {
            self.push_one(sample, at, timeline, sink)?;
        }
        Ok(())
    }

    /// Drops the sFlow samples due by `vt`: the export is down (an export outage), and
    /// an agent samples nothing it could send.
    pub fn lose_samples_due(&mut self, vt: i64) {
        while self.trains.next_due(vt).is_some() {
            self.stats.samples_lost += 1;
        }
    }

    fn push_one(
        &mut self,
        mut rec: FlowRecord,
        vt: i64,
        timeline: &mut Timeline,
        sink: &mut dyn Sink,
    ) -> Result<Option<(u64, u64)>, SimError> {
        let n = self.streams.len().max(1);
        let si = rec.in_if as usize % n;
        let Some(stream) = self.streams.get(si) else { return Ok(None) };
        if !conform::conform(&mut rec, &stream.info, self.boot_ms, &mut self.rng) {
            self.stats.skipped += 1;
            return Ok(None);
        }
        let v6 = matches!(rec.src_addr, Some(IpAddr::V6(_)));
        let sim_ms = timeline.clock.sim_ms(vt);
        let mut fits = self.open_and_add(si, v6, vt, sim_ms);
        if !fits {
            self.flush(si, vt, timeline, sink)?;
            fits = self.open_and_add(si, v6, vt, sim_ms);
        }
        let Some(stream) = self.streams.get_mut(si) else { return Ok(None) };
        if !fits {
            // Cannot happen with max_datagram >= 512; never drop silently.
            self.stats.skipped += 1;
            return Ok(None);
        }
        stream.pending.push(rec);
        stream.last_vt = stream.last_vt.max(vt);
        let full = stream.packer.full(stream.pending.len());
        if full {
            self.flush(si, vt, timeline, sink)?;
        }
        Ok(Some((rec.bytes, rec.packets)))
    }

    fn open_and_add(&mut self, si: usize, v6: bool, vt: i64, sim_ms: i64) -> bool {
        let refresh_n = self.plan.template_refresh_datagrams;
        let refresh_ms = self.plan.template_refresh_ms;
        let Some(s) = self.streams.get_mut(si) else { return false };
        if s.pending.is_empty() {
            s.with_templates = matches!(s.enc, Encoder::Template(_))
                && match s.templates_sent_ms {
                    None => true,
                    Some(sent) => {
                        (refresh_n > 0 && s.datagrams_since_templates >= refresh_n)
                            || (refresh_ms > 0 && sim_ms - sent >= refresh_ms)
                    }
                };
            s.packer.open(s.with_templates);
            s.opened_vt = Some(vt);
            s.last_vt = vt;
        }
        s.packer.add(s.pending.len(), v6)
    }

    /// Sends every open datagram whose flush timeout has passed by virtual time `vt`.
    pub fn flush_due(
        &mut self,
        vt: i64,
        timeline: &mut Timeline,
        sink: &mut dyn Sink,
    ) -> Result<(), SimError> {
        self.send_samples_due(vt, timeline, sink)?;
        for si in 0..self.streams.len() {
            let due = match self.streams.get(si).and_then(|s| s.opened_vt) {
                Some(opened) => opened + self.flush_vt <= vt,
                None => false,
            };
            if due {
                let at =
                    self.streams.get(si).map(|s| s.opened_vt.unwrap_or(vt) + self.flush_vt).unwrap_or(vt);
                self.flush(si, at, timeline, sink)?;
            }
        }
        Ok(())
    }

    /// Sends every open datagram now (end of run), with the samples of flows still
    /// passing: the run does not outlast its duration to spread them.
    pub fn flush_all(
        &mut self,
        vt: i64,
        timeline: &mut Timeline,
        sink: &mut dyn Sink,
    ) -> Result<(), SimError> {
        self.send_samples_due(vt, timeline, sink)?;
        while let Some((_, sample)) = self.trains.next_due(i64::MAX) {
            self.push_one(sample, vt, timeline, sink)?;
        }
        for si in 0..self.streams.len() {
            self.flush(si, vt, timeline, sink)?;
        }
        Ok(())
    }

    /// Restarts the exporter if a restart is due by simulated time `sim_ms`.
    pub fn restart_due(
        &mut self,
        vt: i64,
        timeline: &mut Timeline,
        sink: &mut dyn Sink,
    ) -> Result<(), SimError> {
        let sim_ms = timeline.clock.sim_ms(vt);
        while let Some(at) = self.plan.restarts_ms.get(self.next_restart).copied() {
            if at > sim_ms {
                break;
            }
            self.next_restart += 1;
            // What was queued goes out before the restart.
            self.flush_all(timeline.clock.vt_of(at).max(timeline.last_vt), timeline, sink)?;
            for s in &mut self.streams {
                match &mut s.enc {
                    Encoder::V5(e) => e.flow_sequence = 0,
                    Encoder::Template(e) => e.restart(),
                    Encoder::Sflow(e) => e.restart(),
                }
                s.templates_sent_ms = None;
                s.datagrams_since_templates = 0;
            }
            self.boot_ms = at;
            self.stats.restarts += 1;
        }
        Ok(())
    }

    fn flush(
        &mut self,
        si: usize,
        vt: i64,
        timeline: &mut Timeline,
        sink: &mut dyn Sink,
    ) -> Result<(), SimError> {
        let index = self.plan.index;
        let src = self.source();
        let boot_ms = self.boot_ms;
        let Some(s) = self.streams.get_mut(si) else { return Ok(()) };
        if s.pending.is_empty() {
            s.opened_vt = None;
            return Ok(());
        }
        let vt = vt.max(s.last_vt).max(timeline.last_vt);
        timeline.last_vt = vt;
        let export_ms = timeline.clock.sim_ms(vt);
        let sim_ns = timeline.clock.sim_ns(vt);
        let uptime = (export_ms - boot_ms) as u32;
        let sequence = match &s.enc {
            Encoder::V5(e) => e.flow_sequence,
            Encoder::Template(e) => e.sequence(),
            Encoder::Sflow(e) => e.sequence(),
        };
        for r in &mut s.pending {
            r.sequence = sequence;
        }
        let templates = s.with_templates;
        let mut emitted = 0usize;
        let mut result = Ok(());
        {
            let records = &s.pending;
            let protocol = s.info.protocol;
            let domain = s.info.domain;
            let mut emit = |payload: &[u8]| {
                emitted += 1;
                if emitted > 1 || result.is_err() {
                    return;
                }
                let d = Datagram {
                    exporter: index,
                    protocol,
                    src,
                    domain,
                    sequence,
                    templates,
                    vt_ns: vt,
                    sim_ns,
                    export_ms,
                    payload,
                    records,
                };
                self.stats.payload_bytes += payload.len() as u64;
                result = sink.send(&d);
            };
            match &mut s.enc {
                Encoder::V5(e) => e.encode(export_ms, uptime, records, &mut emit),
                Encoder::Template(e) => {
                    if templates {
                        e.resend_templates();
                    }
                    e.encode(export_ms, uptime, records, &mut emit)
                }
                Encoder::Sflow(e) => e.encode_flows(uptime, records, &mut emit),
            }
        }
        if emitted != 1 {
            return Err(SimError::Packing { exporter: index, records: s.pending.len(), datagrams: emitted });
        }
        result?;
        let st = &mut self.stats;
        st.datagrams += 1;
        st.flows += s.pending.len() as u64;
        for r in &s.pending {
            st.bytes += r.bytes;
            st.packets += r.packets;
            st.ipv6_flows += u64::from(matches!(r.src_addr, Some(IpAddr::V6(_))));
        }
        if templates {
            st.template_datagrams += 1;
            s.templates_sent_ms = Some(export_ms);
            s.datagrams_since_templates = 0;
        }
        s.datagrams_since_templates += 1;
        s.pending.clear();
        s.opened_vt = None;
        Ok(())
    }
}
