//! IPFIX (RFC 7011): messages of template, options template and data sets.

use crate::cursor::Cursor;
use crate::decode::{Decoder, SetContext};
use crate::error::{DecodeError, Result};
use crate::ie::FieldSpec;
use crate::output::DecodeOutput;
use crate::record::{DatagramInfo, Protocol};
use crate::template::{Template, TemplateKind};
use std::net::IpAddr;

/// Message header length.
pub const HEADER_LEN: usize = 16;
/// Set id of template sets.
pub const TEMPLATE_SET: u16 = 2;
/// Set id of options template sets.
pub const OPTIONS_TEMPLATE_SET: u16 = 3;
/// The enterprise bit of an element id (RFC 7011 §3.2).
const ENTERPRISE_BIT: u16 = 0x8000;

/// Decodes the IPFIX message(s) in one datagram.
///
/// A datagram normally holds one message; when more bytes follow a message they are
/// decoded as further messages (files and some relays concatenate them).
pub fn decode(
    decoder: &Decoder,
    exporter: IpAddr,
    datagram: &[u8],
    now_ms: i64,
    out: &mut DecodeOutput,
) -> Result<DatagramInfo> {
    let mut rest = datagram;
    let mut total: Option<DatagramInfo> = None;
    loop {
        let (info, consumed) = message(decoder, exporter, rest, now_ms, out, total.as_mut())?;
        if total.is_none() {
            total = Some(info);
        }
        rest = rest.get(consumed..).unwrap_or(&[]);
        if rest.len() < HEADER_LEN || rest.get(..2) != Some(&[0, 10]) {
            break;
        }
    }
    total.ok_or(DecodeError::Truncated {
        what: "ipfix header",
        needed: HEADER_LEN,
        available: datagram.len(),
    })
}

fn message(
    decoder: &Decoder,
    exporter: IpAddr,
    datagram: &[u8],
    now_ms: i64,
    out: &mut DecodeOutput,
    into: Option<&mut DatagramInfo>,
) -> Result<(DatagramInfo, usize)> {
    let mut cur = Cursor::new(datagram, "ipfix header");
    let _version = cur.u16()?;
    let length = cur.u16()?;
    let export_time = cur.u32()?;
    let sequence = cur.u32()?;
    let domain = cur.u32()?;
    if usize::from(length) < HEADER_LEN {
        return Err(DecodeError::BadMessageLength { header: length, actual: datagram.len() });
    }
    // Decode the sets that are there even when the message was cut short; the
    // shortfall is reported after them.
    let end = usize::from(length).min(datagram.len());
    let mut sets = Cursor::new(datagram.get(HEADER_LEN..end).unwrap_or(&[]), "ipfix set header");
    let ctx = SetContext {
        protocol: Protocol::Ipfix,
        exporter,
        domain,
        sequence,
        export_time,
        sys_uptime_ms: None,
    };
    let mut own = DatagramInfo {
        protocol: Protocol::Ipfix,
        observation_domain: domain,
        sequence,
        export_time,
        records: 0,
        held_sets: 0,
        released_records: 0,
        templates: 0,
        options_records: 0,
    };
    let info = match into {
        Some(i) => i,
        None => &mut own,
    };
    while sets.remaining() >= 4 {
        let available = sets.remaining();
        let set_id = sets.u16()?;
        let set_len = sets.u16()?;
        if usize::from(set_len) < 4 || usize::from(set_len) > available {
            if set_id == 0 && set_len == 0 && sets.rest().iter().all(|b| *b == 0) {
                break; // zero padding after the last set
            }
            return Err(DecodeError::BadSetLength { set_id, length: set_len, available });
        }
        let body = sets.take(usize::from(set_len) - 4)?;
        match set_id {
            TEMPLATE_SET => templates(decoder, &ctx, body, false, now_ms, out, info)?,
            OPTIONS_TEMPLATE_SET => templates(decoder, &ctx, body, true, now_ms, out, info)?,
            // Reserved set ids (RFC 7011 §3.3.2): skipped by their length, as the RFC
            // leaves them for future use rather than calling them errors.
            0..=255 => {}
            id => decoder.data_set(&ctx, id, body, now_ms, out, info)?,
        }
    }
    if usize::from(length) > datagram.len() {
        return Err(DecodeError::BadMessageLength { header: length, actual: datagram.len() });
    }
    Ok((own, end))
}

fn templates(
    decoder: &Decoder,
    ctx: &SetContext,
    body: &[u8],
    options: bool,
    now_ms: i64,
    out: &mut DecodeOutput,
    info: &mut DatagramInfo,
) -> Result<()> {
    let mut cur = Cursor::new(body, "ipfix template record");
    let scope = ctx.scope();
    while cur.remaining() >= 4 {
        let id = cur.u16()?;
        let count = cur.u16()?;
        if count == 0 {
            // Template withdrawal (§8.1): id 2 / 3 withdraws all of that kind.
            match id {
                0 => break, // padding
                TEMPLATE_SET | OPTIONS_TEMPLATE_SET => decoder.cache().withdraw_all(&scope, options),
                id => decoder.cache().withdraw(&scope, id),
            }
            continue;
        }
        if id < 256 {
            return Err(DecodeError::BadTemplate { template_id: id, why: "template id below 256" });
        }
        let kind = if options {
            let scope_fields = cur.u16()?;
            if scope_fields == 0 || scope_fields > count {
                return Err(DecodeError::BadTemplate { template_id: id, why: "bad scope field count" });
            }
            TemplateKind::Options { scope_fields }
        } else {
            TemplateKind::Data
        };
        let mut fields = Vec::with_capacity(usize::from(count).min(cur.remaining() / 4));
        for _ in 0..count {
            let raw = cur.u16()?;
            let length = cur.u16()?;
            let pen = if raw & ENTERPRISE_BIT != 0 { cur.u32()? } else { 0 };
            fields.push(FieldSpec { id: raw & !ENTERPRISE_BIT, pen, length });
        }
        let template = Template::new(Protocol::Ipfix, id, kind, fields)?;
        decoder.template(scope, template, now_ms, out, info);
    }
    Ok(())
}
