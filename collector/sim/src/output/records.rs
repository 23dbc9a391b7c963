//! The simulator's account of every record it sent, as JSON Lines with the fields
//! and formatting of `flowvision-collector decode` (protocol, exporter,
//! observation_domain, sequence, src_addr, ..., flow_start, flow_end), in datagram
//! order: `diff` against the decoder's output of the same run shows any disagreement.

use crate::error::SimError;
use crate::exporter::{Datagram, Sink};
use flowvision_codec::{format_rfc3339_ms, FlowRecord};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

/// Writes one JSON object per record.
#[derive(Debug)]
pub struct RecordsOutput {
    out: BufWriter<File>,
    what: String,
}

impl RecordsOutput {
    /// Creates `path`.
    pub fn create(path: &Path) -> Result<RecordsOutput, SimError> {
        let what = format!("records {}", path.display());
        let file = File::create(path).map_err(|source| SimError::Write { what: what.clone(), source })?;
        Ok(RecordsOutput { out: BufWriter::with_capacity(1 << 20, file), what })
    }

    /// Flushes the file.
    pub fn finish(&mut self) -> Result<(), SimError> {
        self.out.flush().map_err(|source| SimError::Write { what: self.what.clone(), source })
    }
}

impl Sink for RecordsOutput {
    fn send(&mut self, d: &Datagram<'_>) -> Result<(), SimError> {
        for r in d.records {
            write_record(&mut self.out, r)
                .and_then(|_| self.out.write_all(b"\n"))
                .map_err(|source| SimError::Write { what: self.what.clone(), source })?;
        }
        Ok(())
    }
}

fn opt<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or_else(|| "null".to_owned(), |v| format!("\"{v}\""))
}

/// One record in `decode`'s JSON format.
pub fn write_record<W: Write>(out: &mut W, r: &FlowRecord) -> std::io::Result<()> {
    write!(
        out,
        "{{\"protocol\":\"{}\",\"exporter\":\"{}\",\"observation_domain\":{},\"sequence\":{},\
         \"src_addr\":{},\"dst_addr\":{},\"src_port\":{},\"dst_port\":{},\"proto\":{},\"tcp_flags\":{},\
         \"tos\":{},\"bytes\":{},\"packets\":{},\"sampling_rate\":{},\"in_if\":{},\"out_if\":{},\
         \"src_as\":{},\"dst_as\":{},\"next_hop\":{},\"src_mask\":{},\"dst_mask\":{},\"vlan\":{},\
         \"flow_start\":{},\"flow_end\":{}}}",
        r.protocol.as_str(),
        r.exporter,
        r.observation_domain,
        r.sequence,
        opt(r.src_addr),
        opt(r.dst_addr),
        r.src_port,
        r.dst_port,
        r.proto,
        r.tcp_flags,
        r.tos,
        r.bytes,
        r.packets,
        r.sampling_rate,
        r.in_if,
        r.out_if,
        r.src_as,
        r.dst_as,
        opt(r.next_hop),
        r.src_mask,
        r.dst_mask,
        r.vlan,
        opt(r.flow_start_ms.map(format_rfc3339_ms)),
        opt(r.flow_end_ms.map(format_rfc3339_ms)),
    )
}
