//! Typed decode errors. Every variant maps to a stable `reason()` string that the
//! collector uses as a counter label, so an undecodable datagram is always explained.

use thiserror::Error;

/// Why a datagram (or the rest of it) could not be decoded.
///
/// Records from sets that were complete before the error stay in the output, as a
/// router's other flows in the same export are still good data.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// The datagram is shorter than the structure being read.
    #[error("truncated {what}: need {needed} bytes, {available} available")]
    Truncated {
        /// Which structure was being read.
        what: &'static str,
        /// Bytes the structure needs.
        needed: usize,
        /// Bytes left in the datagram.
        available: usize,
    },
    /// The content is not any protocol FlowVision knows.
    #[error("unknown protocol (first 4 bytes {0:02x?})")]
    UnknownProtocol([u8; 4]),
    /// A known protocol family in a version we do not decode (NetFlow v1/v7/v8, sFlow v2/v4).
    #[error("unsupported {family} version {version}")]
    UnsupportedVersion {
        /// Protocol family (netflow, sflow).
        family: &'static str,
        /// The version number found.
        version: u32,
    },
    /// A NetFlow v5 header whose count cannot fit the datagram.
    #[error("netflow v5 count {count} does not fit {length} bytes")]
    BadV5Count {
        /// Record count in the header.
        count: u16,
        /// Datagram length.
        length: usize,
    },
    /// An IPFIX message-length field that disagrees with the datagram.
    #[error("ipfix message length {header} but datagram is {actual} bytes")]
    BadMessageLength {
        /// Length in the header.
        header: u16,
        /// Bytes actually present.
        actual: usize,
    },
    /// A set/flowset length below its own header size or beyond the datagram.
    #[error("set {set_id} has invalid length {length} ({available} bytes left)")]
    BadSetLength {
        /// The set id.
        set_id: u16,
        /// The declared length.
        length: u16,
        /// Bytes left in the datagram.
        available: usize,
    },
    /// A template that cannot describe a record (no fields, zero total length, bad scope).
    #[error("invalid template {template_id}: {why}")]
    BadTemplate {
        /// Template id.
        template_id: u16,
        /// What is wrong with it.
        why: &'static str,
    },
    /// A variable-length field whose length runs past its set.
    #[error("variable-length field overruns its set in template {template_id}")]
    BadVariableLength {
        /// Template the field belongs to.
        template_id: u16,
    },
    /// A set id reserved by the RFC (v9: 2-255, IPFIX: 0,1,4-255).
    #[error("reserved set id {0}")]
    ReservedSetId(u16),
    /// An sFlow structure that is inconsistent (bad lengths or counts).
    #[error("malformed sflow {what}")]
    BadSflow {
        /// Which structure.
        what: &'static str,
    },
}

impl DecodeError {
    /// Stable label for counters (`flowvision_undecodable_total{reason=...}`).
    pub fn reason(&self) -> &'static str {
        match self {
            DecodeError::Truncated { .. } => "truncated",
            DecodeError::UnknownProtocol(_) => "unknown_protocol",
            DecodeError::UnsupportedVersion { .. } => "unsupported_version",
            DecodeError::BadV5Count { .. } => "bad_v5_count",
            DecodeError::BadMessageLength { .. } => "bad_message_length",
            DecodeError::BadSetLength { .. } => "bad_set_length",
            DecodeError::BadTemplate { .. } => "bad_template",
            DecodeError::BadVariableLength { .. } => "bad_variable_length",
            DecodeError::ReservedSetId(_) => "reserved_set_id",
            DecodeError::BadSflow { .. } => "bad_sflow",
        }
    }
}

/// Shorthand used throughout the codec.
pub type Result<T> = std::result::Result<T, DecodeError>;
