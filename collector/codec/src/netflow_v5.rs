//! NetFlow v5: a 24-byte header and up to 30 fixed 48-byte records.

use crate::cursor::Cursor;
use crate::error::{DecodeError, Result};
use crate::output::DecodeOutput;
use crate::record::{DatagramInfo, FlowRecord, Protocol, SamplingOrigin};
use std::net::{IpAddr, Ipv4Addr};

/// Header length.
pub const HEADER_LEN: usize = 24;
/// Record length.
pub const RECORD_LEN: usize = 48;
/// Most records a v5 datagram may carry.
pub const MAX_RECORDS: u16 = 30;

/// Decodes one NetFlow v5 datagram.
pub fn decode(exporter: IpAddr, datagram: &[u8], out: &mut DecodeOutput) -> Result<DatagramInfo> {
    let mut cur = Cursor::new(datagram, "netflow v5 header");
    let _version = cur.u16()?;
    let count = cur.u16()?;
    let uptime = cur.u32()?;
    let secs = cur.u32()?;
    let nsecs = cur.u32()?;
    let sequence = cur.u32()?;
    let engine_type = cur.u8()?;
    let engine_id = cur.u8()?;
    let sampling = cur.u16()?;
    // The count must fit what was received; a lying count must not make us read
    // past the datagram or trust garbage.
    if count > MAX_RECORDS || usize::from(count) * RECORD_LEN > cur.remaining() {
        return Err(DecodeError::BadV5Count { count, length: datagram.len() });
    }
    // Top two bits: sampling mode; low 14 bits: interval (RFC-less, Cisco's doc).
    let interval = u32::from(sampling & 0x3fff);
    let export_ms = i64::from(secs) * 1000 + i64::from(nsecs / 1_000_000);
    let domain = u32::from(engine_type) << 8 | u32::from(engine_id);
    cur.context("netflow v5 record");
    for _ in 0..count {
        let mut rec = FlowRecord::new(Protocol::NetflowV5, exporter);
        rec.observation_domain = domain;
        rec.sequence = sequence;
        rec.src_addr = Some(IpAddr::V4(Ipv4Addr::from(cur.u32()?)));
        rec.dst_addr = Some(IpAddr::V4(Ipv4Addr::from(cur.u32()?)));
        rec.next_hop = Some(IpAddr::V4(Ipv4Addr::from(cur.u32()?)));
        rec.in_if = u32::from(cur.u16()?);
        rec.out_if = u32::from(cur.u16()?);
        rec.packets = u64::from(cur.u32()?);
        rec.bytes = u64::from(cur.u32()?);
        let first = cur.u32()?;
        let last = cur.u32()?;
        rec.src_port = cur.u16()?;
        rec.dst_port = cur.u16()?;
        cur.skip(1)?;
        rec.tcp_flags = u16::from(cur.u8()?);
        rec.proto = cur.u8()?;
        rec.tos = cur.u8()?;
        rec.src_as = u32::from(cur.u16()?);
        rec.dst_as = u32::from(cur.u16()?);
        rec.src_mask = cur.u8()?;
        rec.dst_mask = cur.u8()?;
        cur.skip(2)?;
        // Signed difference: sysUpTime wraps after 49.7 days.
        rec.flow_start_ms = Some(export_ms - i64::from(uptime.wrapping_sub(first) as i32));
        rec.flow_end_ms = Some(export_ms - i64::from(uptime.wrapping_sub(last) as i32));
        if interval > 1 {
            rec.sampling_rate = interval;
            rec.sampling_origin = SamplingOrigin::V5Header;
        }
        out.records.push(rec);
    }
    Ok(DatagramInfo {
        protocol: Protocol::NetflowV5,
        observation_domain: domain,
        sequence,
        export_time: secs,
        records: u32::from(count),
        held_sets: 0,
        released_records: 0,
        templates: 0,
        options_records: 0,
    })
}
