//! Protocol detection by content: any port may carry any protocol.

use crate::error::{DecodeError, Result};

/// What a datagram looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detected {
    /// NetFlow v5.
    NetflowV5,
    /// NetFlow v9.
    NetflowV9,
    /// IPFIX.
    Ipfix,
    /// sFlow v5.
    SflowV5,
}

/// Looks at the version fields: NetFlow/IPFIX start with a 16-bit version, sFlow with
/// a 32-bit one, so a leading zero u16 means sFlow.
pub fn detect(datagram: &[u8]) -> Result<Detected> {
    let head: [u8; 4] = match datagram.get(..4).and_then(|h| <[u8; 4]>::try_from(h).ok()) {
        Some(h) => h,
        None => return Err(DecodeError::Truncated { what: "version", needed: 4, available: datagram.len() }),
    };
    let v16 = u16::from_be_bytes([head[0], head[1]]);
    let v32 = u32::from_be_bytes(head);
    match (v16, v32) {
        (5, _) => Ok(Detected::NetflowV5),
        (9, _) => Ok(Detected::NetflowV9),
        (10, _) => Ok(Detected::Ipfix),
        (0, 5) => Ok(Detected::SflowV5),
        (0, 2 | 4) => Err(DecodeError::UnsupportedVersion { family: "sflow", version: v32 }),
        (1 | 6 | 7 | 8, _) => {
            Err(DecodeError::UnsupportedVersion { family: "netflow", version: u32::from(v16) })
        }
        _ => Err(DecodeError::UnknownProtocol(head)),
    }
}
