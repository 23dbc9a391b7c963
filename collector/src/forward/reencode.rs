//! Re-encoding: one NetFlow v9 / IPFIX export stream per destination, with its own
//! templates, template refresh, sequence numbers and MTU packing (the codec's
//! `TemplateEncoder`). The relay is the exporter of that stream.

use flowvision_codec::encode::{TemplateEncoder, TemplateEncoderConfig, DEFAULT_MAX_DATAGRAM};
use flowvision_codec::{FlowRecord, Protocol};
use std::time::Instant;

/// The export stream of one destination. Owned by the destination's sender thread,
/// so no lock is ever taken around it.
#[derive(Debug)]
pub struct Reencoder {
    encoder: TemplateEncoder,
    started: Instant,
}

impl Reencoder {
    /// A new stream in `protocol`, datagrams at most `max_datagram` bytes.
    pub fn new(protocol: Protocol, max_datagram: usize) -> Self {
        let mut config = TemplateEncoderConfig::new(protocol, 0);
        config.max_datagram = if max_datagram == 0 { DEFAULT_MAX_DATAGRAM } else { max_datagram };
        Reencoder { encoder: TemplateEncoder::new(config), started: Instant::now() }
    }

    /// Encodes `records`, calling `emit` for every datagram.
    pub fn encode(&mut self, now_ms: i64, records: &[FlowRecord], emit: impl FnMut(&[u8])) {
        // sysUpTime starts ~12 days in, so v9 flows that began before the relay started
        // still get a representable (relative) start time.
        let uptime = u32::try_from(self.started.elapsed().as_millis() + (1 << 30)).unwrap_or(u32::MAX);
        self.encoder.encode(now_ms, uptime, records, emit);
    }

    /// The next sequence number of the stream.
    pub fn sequence(&self) -> u32 {
        self.encoder.sequence()
    }
}
