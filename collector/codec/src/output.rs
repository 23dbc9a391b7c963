//! What decoding a datagram produces. Reused across datagrams so the hot path does
//! not allocate once its vectors have grown to the working size.

use crate::record::{EnterpriseField, FlowRecord, InterfaceCounters, OptionsInfo};
use crate::template::ScopeKey;

/// Output buffers for [`crate::Decoder::decode`]. Call [`DecodeOutput::clear`] between
/// datagrams (or let records accumulate over a batch).
#[derive(Debug, Default, Clone)]
pub struct DecodeOutput {
    /// Flow records, in datagram order (held sets released by a template come after
    /// the records of the datagram that delivered it).
    pub records: Vec<FlowRecord>,
    /// Enterprise-specific fields of all records; see [`FlowRecord::enterprise`].
    pub enterprise_fields: Vec<EnterpriseField>,
    /// Values of `enterprise_fields`.
    pub enterprise_bytes: Vec<u8>,
    /// Options data the collector acts on (sampler tables, interface names, boot time).
    pub options: Vec<(ScopeKey, OptionsInfo)>,
    /// sFlow interface counter samples.
    pub counters: Vec<InterfaceCounters>,
}

impl DecodeOutput {
    /// Empties every buffer, keeping their capacity.
    pub fn clear(&mut self) {
        self.records.clear();
        self.enterprise_fields.clear();
        self.enterprise_bytes.clear();
        self.options.clear();
        self.counters.clear();
    }

    /// The enterprise fields of one record, with their values.
    pub fn enterprise_of<'a>(
        &'a self,
        record: &FlowRecord,
    ) -> impl Iterator<Item = (EnterpriseField, &'a [u8])> + 'a {
        let (start, count) = record.enterprise;
        let start = start as usize;
        self.enterprise_fields.get(start..start.saturating_add(usize::from(count))).unwrap_or(&[]).iter().map(
            move |f| {
                let from = f.offset as usize;
                let bytes =
                    self.enterprise_bytes.get(from..from.saturating_add(f.len as usize)).unwrap_or(&[]);
                (*f, bytes)
            },
        )
    }
}
