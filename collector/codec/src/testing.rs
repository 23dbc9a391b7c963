//! Datagram builders for the codec's unit tests: a NetFlow v9 or IPFIX header around
//! sets given as (set id, body) pairs, so each test spells out only the templates and
//! records it is about. The encoders (crate::encode) write only what exporters
//! usually send; these write anything, malformed included.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use crate::decode::Decoder;
use crate::output::DecodeOutput;
use crate::template::TemplateCacheConfig;
use std::net::{IpAddr, Ipv4Addr};

/// The exporter of every test datagram.
pub(crate) const EXPORTER: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
/// Another exporter, for scoping.
pub(crate) const OTHER_EXPORTER: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2));
/// Export time of the headers, Unix seconds.
pub(crate) const EXPORT_SECS: u32 = 1_732_000_000;
/// The collector's clock when the datagrams arrive.
pub(crate) const NOW: i64 = 1_732_000_000_500;

/// A decoder with a cache of its own (default limits) and an empty output.
pub(crate) fn fresh() -> (Decoder, DecodeOutput) {
    (Decoder::new(TemplateCacheConfig::default()), DecodeOutput::default())
}

/// Big-endian 16-bit words: template records are lists of them.
pub(crate) fn words(w: &[u16]) -> Vec<u8> {
    w.iter().flat_map(|v| v.to_be_bytes()).collect()
}

fn sets(sets: &[(u16, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (id, body) in sets {
        out.extend(id.to_be_bytes());
        out.extend(u16::try_from(body.len() + 4).unwrap().to_be_bytes());
        out.extend(body);
    }
    out
}

/// A NetFlow v9 datagram: sysUpTime 10 s, export time [`EXPORT_SECS`].
pub(crate) fn v9(sequence: u32, source_id: u32, flowsets: &[(u16, Vec<u8>)]) -> Vec<u8> {
    let body = sets(flowsets);
    let mut d = vec![0, 9];
    d.extend(u16::try_from(flowsets.len()).unwrap().to_be_bytes());
    d.extend(10_000u32.to_be_bytes());
    d.extend(EXPORT_SECS.to_be_bytes());
    d.extend(sequence.to_be_bytes());
    d.extend(source_id.to_be_bytes());
    d.extend(body);
    d
}

/// An IPFIX message whose length field is right.
pub(crate) fn ipfix(sequence: u32, domain: u32, message_sets: &[(u16, Vec<u8>)]) -> Vec<u8> {
    let body = sets(message_sets);
    let mut d = vec![0, 10];
    d.extend(u16::try_from(body.len() + 16).unwrap().to_be_bytes());
    d.extend(EXPORT_SECS.to_be_bytes());
    d.extend(sequence.to_be_bytes());
    d.extend(domain.to_be_bytes());
    d.extend(body);
    d
}
