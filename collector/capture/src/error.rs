//! Typed errors of reading and writing capture files.
//!
//! Problems with individual frames (not IP, not UDP, cut by the snap length) are not
//! errors: they are counted as [`crate::SkipReason`]s and reading goes on. Errors are
//! about the file itself, after which the reader stops.

use thiserror::Error;

/// Why a capture file could not be read (further).
#[derive(Debug, Error)]
pub enum CaptureError {
    /// The underlying reader failed.
    #[error("read error: {0}")]
    Io(#[from] std::io::Error),
    /// The first bytes are neither a pcap nor a pcapng magic number.
    #[error("not a pcap or pcapng file (first bytes {0:02x?})")]
    NotACapture([u8; 4]),
    /// The file ends inside a structure: it was cut short (a capture still being
    /// written, or a file truncated to a size limit). Frames before it were good.
    #[error("capture file cut short: {what} at byte {offset} needs {needed} bytes, {available} present")]
    Truncated {
        /// The structure that was being read.
        what: &'static str,
        /// File offset where it starts.
        offset: u64,
        /// Bytes it needs.
        needed: u64,
        /// Bytes that were left in the file.
        available: u64,
    },
    /// A structure whose fields contradict each other or the format.
    #[error("malformed {what} at byte {offset}: {why}")]
    Malformed {
        /// The structure.
        what: &'static str,
        /// File offset where it starts.
        offset: u64,
        /// What is wrong with it.
        why: &'static str,
    },
    /// A length beyond what any real capture uses; trusting it would mean allocating
    /// whatever a corrupt file says.
    #[error("{what} at byte {offset} claims {len} bytes, more than the {max}-byte limit")]
    TooLarge {
        /// The structure.
        what: &'static str,
        /// File offset where it starts.
        offset: u64,
        /// The claimed length.
        len: u64,
        /// The limit.
        max: u64,
    },
    /// A pcap or pcapng major version this reader does not know.
    #[error("unsupported {format} version {major}.{minor}")]
    UnsupportedVersion {
        /// "pcap" or "pcapng".
        format: &'static str,
        /// Major version.
        major: u16,
        /// Minor version.
        minor: u16,
    },
}

impl CaptureError {
    /// True when the file was merely cut short: everything read before is valid, so
    /// tools report it as a warning rather than a failure.
    pub fn is_truncation(&self) -> bool {
        matches!(self, CaptureError::Truncated { .. })
    }
}

/// Why a datagram could not be written to a pcap file.
#[derive(Debug, Error)]
pub enum WriteError {
    /// The underlying writer failed.
    #[error("write error: {0}")]
    Io(#[from] std::io::Error),
    /// Source and destination are of different address families.
    #[error("source {src} and destination {dst} are not of the same address family")]
    MixedFamilies {
        /// Source address.
        src: std::net::SocketAddr,
        /// Destination address.
        dst: std::net::SocketAddr,
    },
    /// The payload does not fit one UDP datagram of that address family.
    #[error("UDP payload of {len} bytes exceeds the {max}-byte maximum")]
    PayloadTooLarge {
        /// Payload length.
        len: usize,
        /// Largest payload possible.
        max: usize,
    },
    /// The timestamp cannot be stored in a pcap record (before 1970 or after 2106).
    #[error("timestamp {0} ns is outside the range of a pcap record")]
    TimestampOutOfRange(i64),
}
