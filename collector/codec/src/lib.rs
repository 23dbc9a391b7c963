//! FlowVision's flow codec: NetFlow v5, NetFlow v9, IPFIX and sFlow v5, decoded into
//! one normalized [`FlowRecord`] and encoded back.
//!
//! No I/O lives here: the collector, the simulator, the benchmarks and the fuzzers all
//! hand it byte slices. Every read is bounds-checked ([`cursor::Cursor`]); malformed
//! input yields a typed [`DecodeError`], never a panic.
//!
//! ```text
//! detect ──> netflow_v5 ─────────────────────────────┐
//!        ──> netflow_v9 ─┐                           ├─> DecodeOutput { records, options, counters }
//!        ──> ipfix ──────┴─> decode (templates) ─────┤
//!        ──> sflow ──> packet (L2-L4 of samples) ────┘
//! ```
//!
//! It also holds the one copy of what the rest of the workspace shares around flow
//! records: the L2-L4 header readers ([`packet`], also used by flowvision-capture),
//! the JSON record format ([`json`]), civil-date arithmetic and RFC 3339 times
//! ([`time`]), the splitting of raw payload files ([`raw`]) and decoding recorded
//! datagrams in recorded time ([`offline`]).

pub mod cursor;
pub mod decode;
pub mod detect;
pub mod encode;
pub mod error;
pub mod hash;
pub mod ie;
pub mod ipfix;
pub mod json;
pub mod netflow_v5;
pub mod netflow_v9;
pub mod offline;
pub mod output;
pub mod packet;
pub mod prefix;
pub mod raw;
pub mod record;
pub mod sflow;
pub mod template;
pub mod time;

#[cfg(test)]
mod testing;

pub use decode::{Decoder, SetContext};
pub use detect::{detect, Detected};
pub use error::DecodeError;
pub use output::DecodeOutput;
pub use record::{
    DatagramInfo, EnterpriseField, FlowRecord, InterfaceCounters, OptionsInfo, Protocol, SamplingOrigin,
};
pub use template::{CacheSnapshot, TemplateCache, TemplateCacheConfig};
pub use time::format_rfc3339_ms;
