//! Encoders: what the simulator sends, what the relay re-encodes, what the round-trip
//! tests feed back to the decoders.
//!
//! Each encoder is a small state machine over one export stream (sequence numbers,
//! template refresh) that writes datagrams into a reused buffer and hands each one to a
//! callback, so generating millions of flows per second allocates nothing per record.

pub mod netflow_v5;
pub mod sflow;
pub mod template;

pub use netflow_v5::V5Encoder;
pub use template::{TemplateEncoder, TemplateEncoderConfig};

/// The largest UDP payload the encoders produce unless told otherwise: fits a
/// 1500-byte Ethernet MTU with IPv6 and UDP headers.
pub const DEFAULT_MAX_DATAGRAM: usize = 1452;

#[inline]
pub(crate) fn put_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_be_bytes());
}

#[inline]
pub(crate) fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_be_bytes());
}

#[inline]
pub(crate) fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_be_bytes());
}

/// Writes `v` big-endian at `at` (for length fields filled in after the body).
pub(crate) fn patch_u16(out: &mut [u8], at: usize, v: u16) {
    if let Some(dst) = out.get_mut(at..at + 2) {
        dst.copy_from_slice(&v.to_be_bytes());
    }
}
