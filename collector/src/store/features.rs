//! Host feature rows (`host_features`, see `flowvision-insights`): built from each
//! batch before its transaction and copied in it, so a feature row exists exactly
//! when its flows do (a replayed or duplicate batch adds none twice).
//!
//! Binary COPY rather than an `INSERT ... SELECT unnest(...)` of one array per column:
//! the server stores COPY's rows in multi-row inserts and parses no arrays, which
//! made a row about a third of the cost (docs/benchmarks.md, "What the insights cost
//! at ingest").

use super::copy::{inet, int8, put_header, put_trailer};
use super::time::pg_micros;
use bytes::{BufMut, Bytes, BytesMut};
use flowvision_insights::features::{Counters, HostFeatures, HostKey, COUNTERS};
use flowvision_insights::HostFeatureSet;
use flowvision_schema::tables::HOST_FEATURES;
use futures_util::SinkExt;
use tokio_postgres::Transaction;

/// The COPY statement whose column order [`encode`] follows.
pub(crate) fn copy_sql() -> String {
    let mut cols = vec!["bucket", "exporter", "host"];
    cols.extend(Counters::NAMES);
    cols.extend(HostFeatures::SKETCH_NAMES);
    format!("COPY {HOST_FEATURES} ({}) FROM STDIN (FORMAT binary)", cols.join(", "))
}

/// Fields per tuple: bucket, exporter, host, the counters and the four sketches.
const FIELDS: usize = 3 + COUNTERS + 4;

fn put_row(buf: &mut BytesMut, k: &HostKey, f: &HostFeatures) {
    buf.put_i16(FIELDS as i16);
    int8(buf, pg_micros(k.bucket_ms));
    inet(buf, Some(k.exporter));
    inet(buf, Some(k.host));
    for v in f.counters.fields() {
        int8(buf, v);
    }
    for s in f.sketches() {
        let b = s.as_bytes();
        buf.put_i32(b.len() as i32);
        buf.put_slice(b);
    }
}

/// `set`'s rows as one binary COPY stream (empty when there are none).
pub(crate) fn encode(set: &HostFeatureSet, buf: &mut BytesMut) -> Bytes {
    buf.clear();
    if set.is_empty() {
        return Bytes::new();
    }
    put_header(buf);
    for (k, f) in set.rows() {
        put_row(buf, k, f);
    }
    put_trailer(buf);
    buf.split().freeze()
}

/// Copies an [`encode`]d stream inside `tx`; returns how many rows the server stored.
pub(crate) async fn copy(tx: &Transaction<'_>, stream: Bytes) -> Result<u64, tokio_postgres::Error> {
    let sink = tx.copy_in(&copy_sql()).await?;
    futures_util::pin_mut!(sink);
    sink.feed(stream).await?;
    sink.as_mut().finish().await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;
    use flowvision_codec::{FlowRecord, Protocol};
    use std::net::{IpAddr, Ipv4Addr};

    #[test]
    fn the_copy_names_every_column_once() {
        let sql = copy_sql();
        assert!(sql.starts_with("COPY host_features (bucket, exporter, host, flows_in,"), "{sql}");
        assert!(sql.ends_with("peers_out, ports_out) FROM STDIN (FORMAT binary)"), "{sql}");
        assert_eq!(sql.matches(", ").count() + 1, FIELDS);
    }

    #[test]
    fn a_row_is_as_long_as_its_fields_say() {
        let mut r = FlowRecord::new(Protocol::NetflowV5, IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)));
        r.src_addr = Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)));
        r.dst_addr = Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)));
        r.packets = 3;
        r.bytes = 180;
        let mut set = HostFeatureSet::default();
        set.build(std::iter::once((&r, 1_000_000)), 16);
        let mut buf = BytesMut::new();
        let stream = encode(&set, &mut buf);
        // Header 19, trailer 2; per row: count 2, bucket 12, two IPv4 inets 12 each,
        // counters 12 each, sketches 4 + 64 each.
        let row = 2 + 12 + 2 * 12 + COUNTERS * 12 + 4 * 68;
        assert_eq!(stream.len(), 19 + 2 + 2 * row);
        assert!(encode(&HostFeatureSet::default(), &mut buf).is_empty());
    }
}
