//! NetFlow v9 (RFC 3954): flowsets of templates, options templates and data.

use crate::cursor::Cursor;
use crate::decode::{Decoder, SetContext};
use crate::error::{DecodeError, Result};
use crate::ie::FieldSpec;
use crate::output::DecodeOutput;
use crate::record::{DatagramInfo, Protocol};
use crate::template::{Template, TemplateKind};
use std::net::IpAddr;

/// Header length.
pub const HEADER_LEN: usize = 20;
/// Flowset id of template flowsets.
pub const TEMPLATE_SET: u16 = 0;
/// Flowset id of options template flowsets.
pub const OPTIONS_TEMPLATE_SET: u16 = 1;

/// Decodes one NetFlow v9 datagram.
///
/// The header's `count` is not used as a bound: some exporters count flowsets, some
/// records, some neither. Flowsets are walked by their lengths until the datagram
/// ends or only zero padding is left.
pub fn decode(
    decoder: &Decoder,
    exporter: IpAddr,
    datagram: &[u8],
    now_ms: i64,
    out: &mut DecodeOutput,
) -> Result<DatagramInfo> {
    let mut cur = Cursor::new(datagram, "netflow v9 header");
    let _version = cur.u16()?;
    let _count = cur.u16()?;
    let uptime = cur.u32()?;
    let secs = cur.u32()?;
    let sequence = cur.u32()?;
    let source_id = cur.u32()?;
    let ctx = SetContext {
        protocol: Protocol::NetflowV9,
        exporter,
        domain: source_id,
        sequence,
        export_time: secs,
        sys_uptime_ms: Some(uptime),
    };
    let mut info = DatagramInfo {
        protocol: Protocol::NetflowV9,
        observation_domain: source_id,
        sequence,
        export_time: secs,
        records: 0,
        held_sets: 0,
        released_records: 0,
        templates: 0,
        options_records: 0,
    };
    while cur.remaining() >= 4 {
        if cur.rest().iter().all(|b| *b == 0) {
            break; // trailing zero padding (Palo Alto, Cisco ACI)
        }
        let available = cur.remaining();
        cur.context("netflow v9 flowset header");
        let set_id = cur.u16()?;
        let length = cur.u16()?;
        if usize::from(length) < 4 || usize::from(length) > available {
            return Err(DecodeError::BadSetLength { set_id, length, available });
        }
        let body = cur.take(usize::from(length) - 4)?;
        match set_id {
            TEMPLATE_SET => templates(decoder, &ctx, body, now_ms, out, &mut info)?,
            OPTIONS_TEMPLATE_SET => options_templates(decoder, &ctx, body, now_ms, out, &mut info)?,
            2..=255 => return Err(DecodeError::ReservedSetId(set_id)),
            id => decoder.data_set(&ctx, id, body, now_ms, out, &mut info)?,
        }
    }
    Ok(info)
}

fn templates(
    decoder: &Decoder,
    ctx: &SetContext,
    body: &[u8],
    now_ms: i64,
    out: &mut DecodeOutput,
    info: &mut DatagramInfo,
) -> Result<()> {
    let mut cur = Cursor::new(body, "netflow v9 template");
    while cur.remaining() >= 4 {
        let id = cur.u16()?;
        let count = cur.u16()?;
        if id == 0 && count == 0 {
            break; // padding
        }
        if id < 256 {
            return Err(DecodeError::BadTemplate { template_id: id, why: "template id below 256" });
        }
        let mut fields = Vec::with_capacity(usize::from(count).min(cur.remaining() / 4));
        for _ in 0..count {
            fields.push(FieldSpec { id: cur.u16()?, pen: 0, length: cur.u16()? });
        }
        let template = Template::new(Protocol::NetflowV9, id, TemplateKind::Data, fields)?;
        decoder.template(ctx.scope(), template, now_ms, out, info);
    }
    Ok(())
}

fn options_templates(
    decoder: &Decoder,
    ctx: &SetContext,
    body: &[u8],
    now_ms: i64,
    out: &mut DecodeOutput,
    info: &mut DatagramInfo,
) -> Result<()> {
    let mut cur = Cursor::new(body, "netflow v9 options template");
    // Each options template is at least 6 bytes of header and one 4-byte field.
    while cur.remaining() >= 10 {
        let id = cur.u16()?;
        let scope_len = cur.u16()?;
        let option_len = cur.u16()?;
        if id < 256 {
            if id == 0 && scope_len == 0 && option_len == 0 {
                break; // padding
            }
            return Err(DecodeError::BadTemplate { template_id: id, why: "template id below 256" });
        }
        if scope_len % 4 != 0 || option_len % 4 != 0 {
            return Err(DecodeError::BadTemplate {
                template_id: id,
                why: "scope or option length not a multiple of 4",
            });
        }
        let scope_fields = scope_len / 4;
        let total = usize::from(scope_fields) + usize::from(option_len / 4);
        let mut fields = Vec::with_capacity(total.min(cur.remaining() / 4));
        for _ in 0..total {
            fields.push(FieldSpec { id: cur.u16()?, pen: 0, length: cur.u16()? });
        }
        let template =
            Template::new(Protocol::NetflowV9, id, TemplateKind::Options { scope_fields }, fields)?;
        decoder.template(ctx.scope(), template, now_ms, out, info);
    }
    Ok(())
}
