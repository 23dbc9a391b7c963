//! NetFlow v5 encoder.

use super::{put_u16, put_u32};
use crate::netflow_v5::{HEADER_LEN, MAX_RECORDS, RECORD_LEN};
use crate::record::FlowRecord;
use std::net::IpAddr;

/// One NetFlow v5 export stream (one engine of one exporter).
#[derive(Debug, Clone)]
pub struct V5Encoder {
    /// Engine type (high byte of the observation domain).
    pub engine_type: u8,
    /// Engine id (low byte).
    pub engine_id: u8,
    /// Sampling interval written to the header (14 bits; 0 = unsampled).
    pub sampling_interval: u16,
    /// Flows exported so far: the header's flow_sequence.
    pub flow_sequence: u32,
    buf: Vec<u8>,
}

impl V5Encoder {
    /// A stream with sequence 0.
    pub fn new(engine_type: u8, engine_id: u8, sampling_interval: u16) -> Self {
        V5Encoder {
            engine_type,
            engine_id,
            sampling_interval: sampling_interval & 0x3fff,
            flow_sequence: 0,
            buf: Vec::with_capacity(HEADER_LEN + RECORD_LEN * usize::from(MAX_RECORDS)),
        }
    }

    /// Encodes `records` into datagrams of up to 30 records, calling `emit` for each.
    ///
    /// `export_ms` is the export time and `uptime_ms` the exporter's sysUpTime at that
    /// moment; record times are written relative to it. v5 carries IPv4 only: records
    /// with other addresses are written as 0.0.0.0 (callers filter them out first).
    pub fn encode(
        &mut self,
        export_ms: i64,
        uptime_ms: u32,
        records: &[FlowRecord],
        mut emit: impl FnMut(&[u8]),
    ) {
        for chunk in records.chunks(usize::from(MAX_RECORDS)) {
            self.buf.clear();
            let out = &mut self.buf;
            let secs = export_ms.div_euclid(1000);
            let millis = export_ms.rem_euclid(1000);
            put_u16(out, 5);
            put_u16(out, chunk.len() as u16);
            put_u32(out, uptime_ms);
            put_u32(out, secs as u32);
            put_u32(out, (millis * 1_000_000) as u32);
            put_u32(out, self.flow_sequence);
            out.push(self.engine_type);
            out.push(self.engine_id);
            // Mode 01 (deterministic) when sampled, as Cisco IOS writes it.
            let mode: u16 = if self.sampling_interval > 1 { 0x4000 } else { 0 };
            put_u16(out, mode | self.sampling_interval);
            let base = secs * 1000 + millis;
            for r in chunk {
                put_u32(out, v4(r.src_addr));
                put_u32(out, v4(r.dst_addr));
                put_u32(out, v4(r.next_hop));
                put_u16(out, r.in_if as u16);
                put_u16(out, r.out_if as u16);
                put_u32(out, r.packets as u32);
                put_u32(out, r.bytes as u32);
                put_u32(out, uptime_at(base, uptime_ms, r.flow_start_ms));
                put_u32(out, uptime_at(base, uptime_ms, r.flow_end_ms));
                put_u16(out, r.src_port);
                put_u16(out, r.dst_port);
                out.push(0);
                out.push(r.tcp_flags as u8);
                out.push(r.proto);
                out.push(r.tos);
                put_u16(out, r.src_as as u16);
                put_u16(out, r.dst_as as u16);
                out.push(r.src_mask);
                out.push(r.dst_mask);
                put_u16(out, 0);
            }
            self.flow_sequence = self.flow_sequence.wrapping_add(chunk.len() as u32);
            emit(&self.buf);
        }
    }
}

fn v4(a: Option<IpAddr>) -> u32 {
    match a {
        Some(IpAddr::V4(a)) => u32::from(a),
        _ => 0,
    }
}

/// sysUpTime (ms) at time `at_ms`, given sysUpTime `uptime_ms` at `base_ms`.
pub(crate) fn uptime_at(base_ms: i64, uptime_ms: u32, at_ms: Option<i64>) -> u32 {
    match at_ms {
        Some(t) => uptime_ms.wrapping_sub((base_ms - t) as u32),
        None => uptime_ms,
    }
}
