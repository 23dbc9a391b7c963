//! Decoding recorded datagrams (capture files, raw payload files) rather than live
//! ones: the recording's own timestamps are the decoder's clock, so data sets held for
//! a missing template age in capture time, as they did on the wire, however fast the
//! file is read.
//!
//! Shared by `flowvision-collector decode` and the conformance tests, so the tests
//! decode the corpus exactly as the command does.

use crate::decode::Decoder;
use crate::error::Result;
use crate::output::DecodeOutput;
use crate::record::DatagramInfo;
use crate::template::TemplateCacheConfig;
use std::net::IpAddr;

/// How often (in recorded milliseconds) held sets and templates are aged: as often as
/// the collector does it live.
const EXPIRE_EVERY_MS: i64 = 1000;

/// A [`Decoder`] whose clock is the time datagrams were recorded.
#[derive(Debug)]
pub struct OfflineDecoder {
    decoder: Decoder,
    /// Recorded time of the last captured datagram.
    last_captured_ms: Option<i64>,
    last_expire_ms: i64,
}

impl OfflineDecoder {
    /// A decoder with a cache of its own; templates persist across every input given
    /// to it, so a template file can precede its data file.
    pub fn new(config: TemplateCacheConfig) -> Self {
        OfflineDecoder { decoder: Decoder::new(config), last_captured_ms: None, last_expire_ms: i64::MIN }
    }

    /// The decoder (its cache holds the counters of held sets).
    pub fn decoder(&self) -> &Decoder {
        &self.decoder
    }

    /// Notes the recorded time of a captured datagram (Unix ms).
    pub fn captured_at(&mut self, ms: i64) {
        self.last_captured_ms = Some(ms);
    }

    /// The clock for a datagram that carries no time of its own (a raw payload file):
    /// the time of the last captured datagram, else `fallback` (the wall clock).
    pub fn untimed_now(&self, fallback: impl FnOnce() -> i64) -> i64 {
        self.last_captured_ms.unwrap_or_else(fallback)
    }

    /// Decodes one datagram at recorded time `now_ms`, first ageing held sets when a
    /// second of recorded time has passed since they were last aged.
    pub fn decode(
        &mut self,
        exporter: IpAddr,
        payload: &[u8],
        now_ms: i64,
        out: &mut DecodeOutput,
    ) -> Result<DatagramInfo> {
        if now_ms.saturating_sub(self.last_expire_ms) >= EXPIRE_EVERY_MS {
            self.decoder.cache().expire(now_ms);
            self.last_expire_ms = now_ms;
        }
        self.decoder.decode(exporter, payload, now_ms, out)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;
    use crate::ie::id;
    use crate::testing::{ipfix, words, EXPORTER, NOW};
    use std::sync::atomic::Ordering;

    #[test]
    fn held_sets_age_in_recorded_time() {
        let config = TemplateCacheConfig { pending_max_age_ms: 5000, ..TemplateCacheConfig::default() };
        let mut d = OfflineDecoder::new(config);
        let mut out = DecodeOutput::default();
        let data = ipfix(1, 0, &[(256, vec![0, 0, 0, 1])]);
        d.captured_at(NOW);
        assert_eq!(d.decode(EXPORTER, &data, NOW, &mut out).unwrap().held_sets, 1);
        // Read a moment later but recorded 4 s later: still held, then released.
        let template = ipfix(2, 0, &[(2, words(&[256, 1, id::PACKET_DELTA_COUNT, 4]))]);
        d.captured_at(NOW + 4000);
        assert_eq!(d.decode(EXPORTER, &template, NOW + 4000, &mut out).unwrap().released_records, 1);
        // Recorded 6 s after the next held set: dropped as timed out.
        let data = ipfix(3, 0, &[(257, vec![0, 0, 0, 1])]);
        d.decode(EXPORTER, &data, NOW + 4000, &mut out).unwrap();
        d.decode(EXPORTER, &template, NOW + 10_001, &mut out).unwrap();
        let counters = &d.decoder().cache().counters;
        assert_eq!(counters.sets_dropped_timeout.load(Ordering::Relaxed), 1);
        assert_eq!(d.untimed_now(|| 7), NOW + 4000);
        assert_eq!(OfflineDecoder::new(TemplateCacheConfig::default()).untimed_now(|| 7), 7);
    }
}
