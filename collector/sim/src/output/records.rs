//! The simulator's account of every record it sent, as JSON Lines written by the same
//! writer as `flowvision-collector decode` ([`flowvision_codec::json`]: protocol,
//! exporter, observation_domain, sequence, src_addr, ..., flow_start, flow_end), in
//! datagram order: `diff` against the decoder's output of the same run shows any
//! disagreement.

use crate::error::SimError;
use crate::exporter::{Datagram, Sink};
use flowvision_codec::json::write_record;
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
