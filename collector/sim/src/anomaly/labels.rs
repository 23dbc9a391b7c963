//! Ground-truth labels: one JSON object per anomaly, one per line.
//!
//! ```json
//! {"kind":"syn_flood","benign":false,"start":"2024-05-01T00:00:30.000Z","end":"2024-05-01T00:01:30.000Z",
//!  "start_ms":1714521630000,"end_ms":1714521690000,"exporter":"127.1.0.3",
//!  "exporter_index":2,"protocol":"ipfix","victims":["10.0.3.17"],"victim_prefixes":[],
//!  "sources":[],"source_prefixes":["45.17.0.0/16","150.3.0.0/16"],"source_asns":[...],
//!  "ports":[443],"proto":6,"flows":51234,"bytes":...,"packets":...,"details":{...}}
//! ```
//!
//! `start`/`end` bound every flow of the anomaly (flow start and end times; for
//! sFlow, which has no flow times, the samples were taken inside the window). The
//! window is cut at the end of the run when the run stopped first. `flows`, `bytes`
//! and `packets` count what was sent for the anomaly, in the exporter's protocol
//! terms (sFlow: samples, sampled frame bytes).

use super::{AnomalyKind, Involved};
use flowvision_codec::{format_rfc3339_ms, Protocol};
use serde::{Deserialize, Serialize};
use std::io::{self, Write};
use std::net::IpAddr;

/// One labelled anomaly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Label {
    /// Kind.
    pub kind: AnomalyKind,
    /// Ordinary traffic that only looks unusual ([`AnomalyKind::is_benign`]): an
    /// insight about it is a false positive.
    #[serde(default)]
    pub benign: bool,
    /// Window start, RFC 3339.
    pub start: String,
    /// Window end (exclusive), RFC 3339.
    pub end: String,
    /// Window start, Unix ms.
    pub start_ms: i64,
    /// Window end (exclusive), Unix ms.
    pub end_ms: i64,
    /// Exporter that carried it.
    pub exporter: IpAddr,
    /// Its index in the run.
    pub exporter_index: usize,
    /// Its protocol.
    pub protocol: Protocol,
    /// Who and what.
    #[serde(flatten)]
    pub involved: Involved,
    /// Flow records sent for the anomaly.
    pub flows: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Their packets.
    pub packets: u64,
}

impl Label {
    /// A label for `kind` over `[start_ms, end_ms)`.
    #[allow(clippy::too_many_arguments)] // one value per label field
    pub fn new(
        kind: AnomalyKind,
        start_ms: i64,
        end_ms: i64,
        exporter: IpAddr,
        exporter_index: usize,
        protocol: Protocol,
        involved: Involved,
        counts: (u64, u64, u64),
    ) -> Label {
        Label {
            kind,
            benign: kind.is_benign(),
            start: format_rfc3339_ms(start_ms),
            end: format_rfc3339_ms(end_ms),
            start_ms,
            end_ms,
            exporter,
            exporter_index,
            protocol,
            involved,
            flows: counts.0,
            bytes: counts.1,
            packets: counts.2,
        }
    }
}

/// Writes `labels` as JSON Lines.
pub fn write_labels<W: Write>(out: &mut W, labels: &[Label]) -> io::Result<()> {
    for l in labels {
        serde_json::to_writer(&mut *out, l).map_err(io::Error::other)?;
        out.write_all(b"\n")?;
    }
    out.flush()
}

/// Reads labels written by [`write_labels`].
pub fn read_labels(text: &str) -> Result<Vec<Label>, serde_json::Error> {
    text.lines().filter(|l| !l.trim().is_empty()).map(serde_json::from_str).collect()
}
