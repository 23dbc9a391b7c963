//! The two XDR shapes sFlow is built from: variable-length opaques (every sample and
//! record) and the `address` union.

use super::{ADDRESS_IPV4, ADDRESS_IPV6, ADDRESS_UNKNOWN};
use crate::cursor::Cursor;
use crate::error::{DecodeError, Result};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Splits the next `opaque<>` (u32 length, bytes, zero padding to 4) off `cur`.
///
/// A length that runs past its container is [`DecodeError::BadSflow`] naming `what`:
/// it means the structure itself is inconsistent, not that the datagram was cut.
/// Padding missing at the very end of the container is tolerated, as it carries
/// nothing.
pub(super) fn opaque<'a>(cur: &mut Cursor<'a>, what: &'static str) -> Result<&'a [u8]> {
    let len = usize::try_from(cur.u32()?).unwrap_or(usize::MAX);
    if len > cur.remaining() {
        return Err(DecodeError::BadSflow { what });
    }
    let body = cur.take(len)?;
    let pad = (4 - len % 4) % 4;
    cur.skip(pad.min(cur.remaining()))?;
    Ok(body)
}

/// Reads an `address`: `None` for the UNKNOWN type (which has no body).
pub(super) fn address(cur: &mut Cursor<'_>) -> Result<Option<IpAddr>> {
    match cur.u32()? {
        ADDRESS_UNKNOWN => Ok(None),
        ADDRESS_IPV4 => Ok(Some(IpAddr::V4(Ipv4Addr::from(cur.array::<4>()?)))),
        ADDRESS_IPV6 => Ok(Some(IpAddr::V6(Ipv6Addr::from(cur.array::<16>()?)))),
        // Any other type has a length nobody knows: the rest cannot be parsed.
        _ => Err(DecodeError::BadSflow { what: "address type" }),
    }
}
