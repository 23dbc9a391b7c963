//! NetFlow v9 and IPFIX encoder with FlowVision's own templates.
//!
//! Two data templates cover every [`FlowRecord`]: one for IPv4 flows (id 256) and one
//! for IPv6 flows (id 257). Templates go out in the first datagram and then every
//! `template_refresh_datagrams` datagrams or `template_refresh_ms`, whichever comes
//! first, as exporters do over UDP (RFC 7011 §8.4, RFC 3954 §5.2).

use super::netflow_v5::uptime_at;
use super::{patch_u16, put_u16, put_u32, put_u64, DEFAULT_MAX_DATAGRAM};
use crate::ie::id;
use crate::record::{FlowRecord, Protocol};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Template id of the IPv4 data template.
pub const IPV4_TEMPLATE_ID: u16 = 256;
/// Template id of the IPv6 data template.
pub const IPV6_TEMPLATE_ID: u16 = 257;

/// What an encoded field carries.
#[derive(Debug, Clone, Copy)]
enum Value {
    SrcAddr,
    DstAddr,
    SrcPort,
    DstPort,
    Proto,
    TcpFlags,
    Tos,
    Bytes,
    Packets,
    InIf,
    OutIf,
    SrcAs,
    DstAs,
    NextHop,
    SrcMask,
    DstMask,
    Vlan,
    Start,
    End,
    Sampling,
}

type Field = (u16, u16, Value);

/// (element id, length, value); times are patched per protocol.
fn fields(protocol: Protocol, v6: bool) -> Vec<Field> {
    let addr = if v6 { 16 } else { 4 };
    let (src, dst, nh, sm, dm) = if v6 {
        (
            id::SOURCE_IPV6_ADDRESS,
            id::DESTINATION_IPV6_ADDRESS,
            id::IP_NEXT_HOP_IPV6_ADDRESS,
            id::SOURCE_IPV6_PREFIX_LENGTH,
            id::DESTINATION_IPV6_PREFIX_LENGTH,
        )
    } else {
        (
            id::SOURCE_IPV4_ADDRESS,
            id::DESTINATION_IPV4_ADDRESS,
            id::IP_NEXT_HOP_IPV4_ADDRESS,
            id::SOURCE_IPV4_PREFIX_LENGTH,
            id::DESTINATION_IPV4_PREFIX_LENGTH,
        )
    };
    let ipfix = protocol == Protocol::Ipfix;
    let (start, end, time_len) = if ipfix {
        (id::FLOW_START_MILLISECONDS, id::FLOW_END_MILLISECONDS, 8)
    } else {
        (id::FLOW_START_SYS_UP_TIME, id::FLOW_END_SYS_UP_TIME, 4)
    };
    vec![
        (src, addr, Value::SrcAddr),
        (dst, addr, Value::DstAddr),
        (id::SOURCE_TRANSPORT_PORT, 2, Value::SrcPort),
        (id::DESTINATION_TRANSPORT_PORT, 2, Value::DstPort),
        (id::PROTOCOL_IDENTIFIER, 1, Value::Proto),
        // IPFIX defines 16 bits of TCP flags; v9 exporters send one byte.
        (id::TCP_CONTROL_BITS, if ipfix { 2 } else { 1 }, Value::TcpFlags),
        (id::IP_CLASS_OF_SERVICE, 1, Value::Tos),
        (id::OCTET_DELTA_COUNT, 8, Value::Bytes),
        (id::PACKET_DELTA_COUNT, 8, Value::Packets),
        (id::INGRESS_INTERFACE, 4, Value::InIf),
        (id::EGRESS_INTERFACE, 4, Value::OutIf),
        (id::BGP_SOURCE_AS_NUMBER, 4, Value::SrcAs),
        (id::BGP_DESTINATION_AS_NUMBER, 4, Value::DstAs),
        (nh, addr, Value::NextHop),
        (sm, 1, Value::SrcMask),
        (dm, 1, Value::DstMask),
        (id::VLAN_ID, 2, Value::Vlan),
        (start, time_len, Value::Start),
        (end, time_len, Value::End),
        (id::SAMPLING_INTERVAL, 4, Value::Sampling),
    ]
}

/// Settings of one export stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TemplateEncoderConfig {
    /// [`Protocol::NetflowV9`] or [`Protocol::Ipfix`].
    pub protocol: Protocol,
    /// Source id / observation domain id.
    pub domain: u32,
    /// Largest datagram written.
    pub max_datagram: usize,
    /// Resend templates after this many datagrams (0: only in the first).
    pub template_refresh_datagrams: u32,
    /// Resend templates after this much export time (0: never by time).
    pub template_refresh_ms: i64,
}

impl TemplateEncoderConfig {
    /// Defaults: 1452-byte datagrams, templates every 20 datagrams or 60 s.
    pub fn new(protocol: Protocol, domain: u32) -> Self {
        TemplateEncoderConfig {
            protocol,
            domain,
            max_datagram: DEFAULT_MAX_DATAGRAM,
            template_refresh_datagrams: 20,
            template_refresh_ms: 60_000,
        }
    }
}

/// One NetFlow v9 or IPFIX export stream.
#[derive(Debug, Clone)]
pub struct TemplateEncoder {
    config: TemplateEncoderConfig,
    v4: Vec<Field>,
    v6: Vec<Field>,
    v4_len: usize,
    v6_len: usize,
    /// v9: datagrams sent; IPFIX: data records sent (RFC 7011 §3.1).
    sequence: u32,
    datagrams_since_templates: u32,
    templates_sent_ms: Option<i64>,
    buf: Vec<u8>,
}

fn record_len(fields: &[Field]) -> usize {
    fields.iter().map(|(_, l, _)| usize::from(*l)).sum()
}

impl TemplateEncoder {
    /// A new stream; the first datagram carries the templates.
    pub fn new(config: TemplateEncoderConfig) -> Self {
        let v4 = fields(config.protocol, false);
        let v6 = fields(config.protocol, true);
        TemplateEncoder {
            v4_len: record_len(&v4),
            v6_len: record_len(&v6),
            v4,
            v6,
            config,
            sequence: 0,
            datagrams_since_templates: 0,
            templates_sent_ms: None,
            buf: Vec::with_capacity(config.max_datagram),
        }
    }

    /// The stream's settings.
    pub fn config(&self) -> &TemplateEncoderConfig {
        &self.config
    }

    /// The next header sequence number.
    pub fn sequence(&self) -> u32 {
        self.sequence
    }

    /// Sends templates with the next datagram (after an exporter restart, say).
    pub fn resend_templates(&mut self) {
        self.templates_sent_ms = None;
    }

    /// Simulates an exporter restart: sequence back to 0, templates resent.
    pub fn restart(&mut self) {
        self.sequence = 0;
        self.resend_templates();
    }

    fn templates_due(&self, export_ms: i64) -> bool {
        let Some(sent) = self.templates_sent_ms else { return true };
        let c = &self.config;
        (c.template_refresh_datagrams > 0 && self.datagrams_since_templates >= c.template_refresh_datagrams)
            || (c.template_refresh_ms > 0 && export_ms - sent >= c.template_refresh_ms)
    }

    fn is_v6(r: &FlowRecord) -> bool {
        matches!(r.src_addr, Some(IpAddr::V6(_))) || matches!(r.dst_addr, Some(IpAddr::V6(_)))
    }

    /// Encodes `records` into as many datagrams as needed, calling `emit` for each.
    ///
    /// `export_ms` is the export time; `uptime_ms` the exporter's sysUpTime then (v9
    /// record times are relative to it; IPFIX writes absolute milliseconds).
    pub fn encode(
        &mut self,
        export_ms: i64,
        uptime_ms: u32,
        records: &[FlowRecord],
        mut emit: impl FnMut(&[u8]),
    ) {
        let ipfix = self.config.protocol == Protocol::Ipfix;
        let header_len = if ipfix { 16 } else { 20 };
        let mut rest = records;
        // A call with no records still sends due templates, once.
        let mut templates_only = records.is_empty() && self.templates_due(export_ms);
        while !rest.is_empty() || std::mem::take(&mut templates_only) {
            self.buf.clear();
            let mut count: u16 = 0;
            self.write_header(export_ms, uptime_ms);
            if self.templates_due(export_ms) {
                count += self.write_templates();
                self.templates_sent_ms = Some(export_ms);
                self.datagrams_since_templates = 0;
            }
            let mut data_records = 0u32;
            // Data sets: consecutive records of one address family share a set.
            while let Some(first) = rest.first() {
                let v6 = Self::is_v6(first);
                let rec_len = if v6 { self.v6_len } else { self.v4_len };
                let room = self.config.max_datagram.saturating_sub(self.buf.len() + 4 + 3);
                let fit = room / rec_len;
                if fit == 0 {
                    break;
                }
                let n = rest.iter().take(fit).take_while(|r| Self::is_v6(r) == v6).count();
                let (set, tail) = rest.split_at(n);
                self.write_data_set(v6, set, export_ms, uptime_ms);
                count = count.saturating_add(n as u16);
                data_records += n as u32;
                rest = tail;
            }
            if self.buf.len() <= header_len {
                // Nothing fits (max_datagram below one record): never loop forever.
                break;
            }
            if ipfix {
                let len = self.buf.len() as u16;
                patch_u16(&mut self.buf, 2, len);
            } else {
                patch_u16(&mut self.buf, 2, count);
            }
            emit(&self.buf);
            self.datagrams_since_templates += 1;
            self.sequence =
                if ipfix { self.sequence.wrapping_add(data_records) } else { self.sequence.wrapping_add(1) };
        }
    }

    fn write_header(&mut self, export_ms: i64, uptime_ms: u32) {
        let out = &mut self.buf;
        let secs = export_ms.div_euclid(1000) as u32;
        if self.config.protocol == Protocol::Ipfix {
            put_u16(out, 10);
            put_u16(out, 0); // length, patched
            put_u32(out, secs);
            put_u32(out, self.sequence);
            put_u32(out, self.config.domain);
        } else {
            put_u16(out, 9);
            put_u16(out, 0); // count, patched
            put_u32(out, uptime_ms);
            put_u32(out, secs);
            put_u32(out, self.sequence);
            put_u32(out, self.config.domain);
        }
    }

    fn write_templates(&mut self) -> u16 {
        let ipfix = self.config.protocol == Protocol::Ipfix;
        let out = &mut self.buf;
        let start = out.len();
        put_u16(out, if ipfix { 2 } else { 0 });
        put_u16(out, 0);
        for (tid, fields) in [(IPV4_TEMPLATE_ID, &self.v4), (IPV6_TEMPLATE_ID, &self.v6)] {
            put_u16(out, tid);
            put_u16(out, fields.len() as u16);
            for (ie, len, _) in fields.iter() {
                put_u16(out, *ie);
                put_u16(out, *len);
            }
        }
        let len = (out.len() - start) as u16;
        patch_u16(out, start + 2, len);
        2
    }

    fn write_data_set(&mut self, v6: bool, records: &[FlowRecord], export_ms: i64, uptime_ms: u32) {
        let ipfix = self.config.protocol == Protocol::Ipfix;
        let fields = if v6 { &self.v6 } else { &self.v4 };
        let out = &mut self.buf;
        let start = out.len();
        put_u16(out, if v6 { IPV6_TEMPLATE_ID } else { IPV4_TEMPLATE_ID });
        put_u16(out, 0);
        // v9 sysUpTime-relative times are computed against whole export seconds,
        // because the header carries no milliseconds.
        let base = export_ms.div_euclid(1000) * 1000;
        for r in records {
            for (_, len, value) in fields.iter() {
                write_value(out, r, *value, *len, ipfix, base, uptime_ms);
            }
        }
        if !ipfix {
            // RFC 3954 §5.3: flowsets padded to a 32-bit boundary.
            while (out.len() - start) % 4 != 0 {
                out.push(0);
            }
        }
        let len = (out.len() - start) as u16;
        patch_u16(out, start + 2, len);
    }
}

fn write_addr(out: &mut Vec<u8>, a: Option<IpAddr>, len: u16) {
    if len == 16 {
        let v6 = match a {
            Some(IpAddr::V6(v6)) => v6,
            Some(IpAddr::V4(v4)) => v4.to_ipv6_mapped(),
            None => Ipv6Addr::UNSPECIFIED,
        };
        out.extend_from_slice(&v6.octets());
    } else {
        let v4 = match a {
            Some(IpAddr::V4(v4)) => v4,
            _ => Ipv4Addr::UNSPECIFIED,
        };
        out.extend_from_slice(&v4.octets());
    }
}

fn write_value(out: &mut Vec<u8>, r: &FlowRecord, value: Value, len: u16, ipfix: bool, base: i64, up: u32) {
    match value {
        Value::SrcAddr => write_addr(out, r.src_addr, len),
        Value::DstAddr => write_addr(out, r.dst_addr, len),
        Value::NextHop => write_addr(out, r.next_hop, len),
        Value::SrcPort => put_u16(out, r.src_port),
        Value::DstPort => put_u16(out, r.dst_port),
        Value::Proto => out.push(r.proto),
        Value::TcpFlags if len == 2 => put_u16(out, r.tcp_flags),
        Value::TcpFlags => out.push(r.tcp_flags as u8),
        Value::Tos => out.push(r.tos),
        Value::Bytes => put_u64(out, r.bytes),
        Value::Packets => put_u64(out, r.packets),
        Value::InIf => put_u32(out, r.in_if),
        Value::OutIf => put_u32(out, r.out_if),
        Value::SrcAs => put_u32(out, r.src_as),
        Value::DstAs => put_u32(out, r.dst_as),
        Value::SrcMask => out.push(r.src_mask),
        Value::DstMask => out.push(r.dst_mask),
        Value::Vlan => put_u16(out, r.vlan),
        Value::Start | Value::End => {
            let t = if matches!(value, Value::Start) { r.flow_start_ms } else { r.flow_end_ms };
            if ipfix {
                put_u64(out, t.unwrap_or(base).max(0) as u64);
            } else {
                put_u32(out, uptime_at(base, up, t));
            }
        }
        Value::Sampling => put_u32(out, r.sampling_rate.max(1)),
    }
}
