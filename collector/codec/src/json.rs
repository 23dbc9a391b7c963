//! One flow record as one JSON object: the format of `flowvision-collector decode`
//! (documented in README.md), of the simulator's `--records` account of what it sent
//! and of the conformance tests, so the field names and their formatting exist in
//! one place and the outputs can be compared with `diff`.
//!
//! Hand-written rather than derived: every value is a number, `null`, or a string
//! that needs no escaping (protocol names, IP addresses, RFC 3339 times), and
//! skipping serde's machinery keeps decoding of large captures I/O-bound. Nothing is
//! allocated per record: values are formatted straight into the writer.

use crate::record::FlowRecord;
use crate::time::Rfc3339Ms;
use std::fmt::Display;
use std::io::{self, Write};
use std::net::IpAddr;

/// The fields of every object, in output order.
pub const FIELDS: [&str; 24] = [
    "protocol",
    "exporter",
    "observation_domain",
    "sequence",
    "src_addr",
    "dst_addr",
    "src_port",
    "dst_port",
    "proto",
    "tcp_flags",
    "tos",
    "bytes",
    "packets",
    "sampling_rate",
    "in_if",
    "out_if",
    "src_as",
    "dst_as",
    "next_hop",
    "src_mask",
    "dst_mask",
    "vlan",
    "flow_start",
    "flow_end",
];

/// Writes `rec` as one JSON object (no trailing newline). Counters are as exported,
/// not scaled by the sampling rate; absent addresses and times are `null`.
pub fn write_record<W: Write + ?Sized>(out: &mut W, rec: &FlowRecord) -> io::Result<()> {
    write!(out, "{{\"protocol\":\"{}\",\"exporter\":\"{}\"", rec.protocol.as_str(), rec.exporter)?;
    write!(out, ",\"observation_domain\":{},\"sequence\":{}", rec.observation_domain, rec.sequence)?;
    out.write_all(b",\"src_addr\":")?;
    addr(out, rec.src_addr)?;
    out.write_all(b",\"dst_addr\":")?;
    addr(out, rec.dst_addr)?;
    write!(
        out,
        ",\"src_port\":{},\"dst_port\":{},\"proto\":{},\"tcp_flags\":{},\"tos\":{}",
        rec.src_port, rec.dst_port, rec.proto, rec.tcp_flags, rec.tos
    )?;
    write!(
        out,
        ",\"bytes\":{},\"packets\":{},\"sampling_rate\":{},\"in_if\":{},\"out_if\":{}",
        rec.bytes, rec.packets, rec.sampling_rate, rec.in_if, rec.out_if
    )?;
    write!(out, ",\"src_as\":{},\"dst_as\":{}", rec.src_as, rec.dst_as)?;
    out.write_all(b",\"next_hop\":")?;
    addr(out, rec.next_hop)?;
    write!(out, ",\"src_mask\":{},\"dst_mask\":{},\"vlan\":{}", rec.src_mask, rec.dst_mask, rec.vlan)?;
    out.write_all(b",\"flow_start\":")?;
    time(out, rec.flow_start_ms)?;
    out.write_all(b",\"flow_end\":")?;
    time(out, rec.flow_end_ms)?;
    out.write_all(b"}")
}

/// `rec` as a JSON string (convenience for tests and small outputs).
pub fn record_to_string(rec: &FlowRecord) -> String {
    let mut buf = Vec::with_capacity(512);
    // Writing to a Vec cannot fail.
    let _ = write_record(&mut buf, rec);
    String::from_utf8_lossy(&buf).into_owned()
}

fn string_or_null<W: Write + ?Sized, T: Display>(out: &mut W, v: Option<T>) -> io::Result<()> {
    match v {
        Some(v) => write!(out, "\"{v}\""),
        None => out.write_all(b"null"),
    }
}

fn addr<W: Write + ?Sized>(out: &mut W, a: Option<IpAddr>) -> io::Result<()> {
    string_or_null(out, a)
}

fn time<W: Write + ?Sized>(out: &mut W, ms: Option<i64>) -> io::Result<()> {
    string_or_null(out, ms.map(Rfc3339Ms))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;
    use crate::record::Protocol;

    #[test]
    fn valid_json_with_exact_fields() {
        let mut rec = FlowRecord::new(Protocol::Ipfix, "2001:db8::1".parse().unwrap());
        rec.src_addr = Some("192.0.2.1".parse().unwrap());
        rec.bytes = u64::MAX;
        rec.tcp_flags = 0x1ff;
        rec.flow_start_ms = Some(1_709_208_000_123);
        let text = record_to_string(&rec);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let obj = v.as_object().unwrap();
        let keys: Vec<&str> = obj.keys().map(String::as_str).collect();
        let mut expected = FIELDS.to_vec();
        expected.sort_unstable();
        let mut got = keys.clone();
        got.sort_unstable();
        assert_eq!(got, expected);
        assert_eq!(obj["protocol"], "ipfix");
        assert_eq!(obj["exporter"], "2001:db8::1");
        assert_eq!(obj["src_addr"], "192.0.2.1");
        assert!(obj["dst_addr"].is_null());
        assert!(obj["next_hop"].is_null());
        assert_eq!(obj["bytes"].as_u64(), Some(u64::MAX));
        assert_eq!(obj["tcp_flags"], 0x1ff);
        assert_eq!(obj["sampling_rate"], 1);
        assert_eq!(obj["flow_start"], "2024-02-29T12:00:00.123Z");
        assert!(obj["flow_end"].is_null());
        // Field order is the documented one.
        let order: Vec<usize> = FIELDS.iter().map(|f| text.find(&format!("\"{f}\":")).unwrap()).collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]));
    }
}
