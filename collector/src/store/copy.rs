//! PostgreSQL's binary COPY format for `flows`, written by hand: no per-value trait
//! objects or per-row futures, just bytes appended to a buffer that is streamed in
//! chunks while it is being filled.
//!
//! Format (PostgreSQL docs, "COPY", binary format): the 11-byte signature, a 32-bit
//! flags word and a 32-bit header-extension length; per tuple a 16-bit field count,
//! then per field a 32-bit length (-1 for NULL) and the value in the type's binary
//! `send` representation; a 16-bit -1 trailer.

use super::time::pg_micros;
use super::FlowRow;
use bytes::{BufMut, BytesMut};
use futures_util::SinkExt;
use std::net::IpAddr;
use tokio_postgres::Transaction;

/// The COPY statement whose column order [`put_row`] follows.
pub const COPY_FLOWS: &str = "COPY flows (time_received, bytes, packets, flow_start, flow_end, \
     observation_domain, sequence, sampling_rate, in_if, out_if, src_as, dst_as, src_port, dst_port, \
     tcp_flags, vlan, protocol, proto, tos, src_mask, dst_mask, exporter, src_addr, dst_addr, next_hop) \
     FROM STDIN (FORMAT binary)";

const COLUMNS: i16 = 25;

/// Signature, flags, header extension length.
pub fn put_header(buf: &mut BytesMut) {
    buf.put_slice(b"PGCOPY\n\xff\r\n\0");
    buf.put_i32(0);
    buf.put_i32(0);
}

/// The file trailer.
pub fn put_trailer(buf: &mut BytesMut) {
    buf.put_i16(-1);
}

/// Counters beyond `i64::MAX` are clamped (the schema's rule for `bigint` counters).
pub use flowvision_schema::rows::clamp_u64;

#[inline]
pub(crate) fn int8(buf: &mut BytesMut, v: i64) {
    buf.put_i32(8);
    buf.put_i64(v);
}

#[inline]
fn int4(buf: &mut BytesMut, v: i32) {
    buf.put_i32(4);
    buf.put_i32(v);
}

#[inline]
fn int2(buf: &mut BytesMut, v: i16) {
    buf.put_i32(2);
    buf.put_i16(v);
}

#[inline]
fn timestamptz(buf: &mut BytesMut, ms: Option<i64>) {
    match ms {
        Some(ms) => int8(buf, pg_micros(ms)),
        None => buf.put_i32(-1),
    }
}

/// `inet` binary form: family (2 = PGSQL_AF_INET, 3 = PGSQL_AF_INET6), bits,
/// is_cidr (0), address length, address bytes.
#[inline]
pub(crate) fn inet(buf: &mut BytesMut, addr: Option<IpAddr>) {
    match addr {
        Some(IpAddr::V4(a)) => {
            buf.put_i32(8);
            buf.put_slice(&[2, 32, 0, 4]);
            buf.put_slice(&a.octets());
        }
        Some(IpAddr::V6(a)) => {
            buf.put_i32(20);
            buf.put_slice(&[3, 128, 0, 16]);
            buf.put_slice(&a.octets());
        }
        None => buf.put_i32(-1),
    }
}

/// Appends one tuple in [`COPY_FLOWS`] column order.
#[inline]
pub fn put_row(buf: &mut BytesMut, row: &FlowRow) {
    let r = &row.record;
    buf.put_i16(COLUMNS);
    timestamptz(buf, Some(row.time_received_ms));
    int8(buf, clamp_u64(r.bytes));
    int8(buf, clamp_u64(r.packets));
    timestamptz(buf, r.flow_start_ms);
    timestamptz(buf, r.flow_end_ms);
    int8(buf, i64::from(r.observation_domain));
    int8(buf, i64::from(r.sequence));
    int8(buf, i64::from(r.sampling_rate));
    int8(buf, i64::from(r.in_if));
    int8(buf, i64::from(r.out_if));
    int8(buf, i64::from(r.src_as));
    int8(buf, i64::from(r.dst_as));
    int4(buf, i32::from(r.src_port));
    int4(buf, i32::from(r.dst_port));
    int4(buf, i32::from(r.tcp_flags));
    int4(buf, i32::from(r.vlan));
    // Enums travel as their label in binary COPY.
    let label = r.protocol.as_str().as_bytes();
    buf.put_i32(label.len() as i32);
    buf.put_slice(label);
    int2(buf, i16::from(r.proto));
    int2(buf, i16::from(r.tos));
    int2(buf, i16::from(r.src_mask));
    int2(buf, i16::from(r.dst_mask));
    inet(buf, Some(r.exporter));
    inet(buf, r.src_addr);
    inet(buf, r.dst_addr);
    inet(buf, r.next_hop);
}

/// Upper bound of one encoded tuple, for buffer sizing.
pub const MAX_ROW_BYTES: usize = 2 + 16 * 12 + 8 * 4 + 4 + 12 + 6 * 4 + 24 * 4;

/// COPY data is streamed in chunks of this size, so the server parses while the
/// writer encodes.
const CHUNK: usize = 256 * 1024;

/// A buffer for [`copy_rows`], kept by a writer from batch to batch.
pub(crate) fn buffer() -> BytesMut {
    BytesMut::with_capacity(CHUNK + MAX_ROW_BYTES)
}

/// Streams `rows` into `flows` with [`COPY_FLOWS`] inside `tx`, in chunks encoded
/// into `buf`. `meanwhile` runs once the last chunk is sent, before the server's
/// answer is awaited: work done there overlaps the server parsing that chunk.
/// Returns the number of rows the server stored.
pub(crate) async fn copy_rows<'r>(
    tx: &Transaction<'_>,
    buf: &mut BytesMut,
    rows: impl Iterator<Item = &'r FlowRow>,
    meanwhile: impl FnOnce(),
) -> Result<u64, tokio_postgres::Error> {
    let sink = tx.copy_in(COPY_FLOWS).await?;
    futures_util::pin_mut!(sink);
    buf.clear();
    put_header(buf);
    for r in rows {
        put_row(buf, r);
        if buf.len() >= CHUNK {
            sink.send(buf.split().freeze()).await?;
            buf.reserve(CHUNK + MAX_ROW_BYTES);
        }
    }
    put_trailer(buf);
    sink.feed(buf.split().freeze()).await?;
    meanwhile();
    sink.as_mut().finish().await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;

    #[test]
    fn copies_into_the_schemas_flows_table() {
        let head = format!("COPY {} (", flowvision_schema::tables::FLOWS);
        assert!(COPY_FLOWS.starts_with(&head), "{COPY_FLOWS}");
        let columns = COPY_FLOWS.split_once('(').unwrap().1.split_once(')').unwrap().0;
        assert_eq!(columns.split(',').count(), COLUMNS as usize);
    }
}
