//! sFlow version 5 (sflow.org, "sFlow Version 5", July 2004).
#![allow(missing_docs)]

use crate::error::{DecodeError, Result};
use crate::output::DecodeOutput;
use crate::record::DatagramInfo;
use std::net::IpAddr;

/// Decodes one sFlow v5 datagram.
pub fn decode(_exporter: IpAddr, _datagram: &[u8], _out: &mut DecodeOutput) -> Result<DatagramInfo> {
    Err(DecodeError::BadSflow { what: "not yet implemented" })
}
