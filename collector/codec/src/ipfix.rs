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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;
    use crate::ie::id;
    use crate::record::{OptionsInfo, SamplingOrigin};
    use crate::testing::{fresh, ipfix, words, EXPORTER, EXPORT_SECS, NOW, OTHER_EXPORTER};
    use std::sync::atomic::Ordering;

    /// Template `tid`: destination IPv4 address, packets (4 bytes).
    fn template(tid: u16) -> Vec<u8> {
        words(&[tid, 2, id::DESTINATION_IPV4_ADDRESS, 4, id::PACKET_DELTA_COUNT, 4])
    }

    fn record(last_octet: u8, packets: u32) -> Vec<u8> {
        [vec![198, 51, 100, last_octet], packets.to_be_bytes().to_vec()].concat()
    }

    #[test]
    fn template_then_data_and_the_header_fields() {
        let (d, mut out) = fresh();
        let msg =
            ipfix(1000, 42, &[(TEMPLATE_SET, template(256)), (256, [record(1, 3), record(2, 4)].concat())]);
        let info = decode(&d, EXPORTER, &msg, NOW, &mut out).unwrap();
        assert_eq!((info.protocol, info.observation_domain, info.sequence), (Protocol::Ipfix, 42, 1000));
        assert_eq!((info.export_time, info.templates, info.records), (EXPORT_SECS, 1, 2));
        assert_eq!(out.records[1].dst_addr, Some("198.51.100.2".parse().unwrap()));
        assert_eq!((out.records[1].packets, out.records[1].observation_domain), (4, 42));
    }

    #[test]
    fn held_data_waits_for_its_own_exporter_and_domain() {
        let (d, mut out) = fresh();
        let data = ipfix(5, 1, &[(256, record(1, 10))]);
        assert_eq!(decode(&d, EXPORTER, &data, NOW, &mut out).unwrap().held_sets, 1);
        // The same template id from another exporter, or another domain, is another
        // template: the held set stays held.
        for (from, domain) in [(OTHER_EXPORTER, 1), (EXPORTER, 2)] {
            let tpl = ipfix(6, domain, &[(TEMPLATE_SET, template(256))]);
            assert_eq!(decode(&d, from, &tpl, NOW, &mut out).unwrap().released_records, 0);
        }
        let tpl = ipfix(6, 1, &[(TEMPLATE_SET, template(256))]);
        let info = decode(&d, EXPORTER, &tpl, NOW, &mut out).unwrap();
        assert_eq!((info.records, info.released_records), (0, 1));
        assert_eq!((out.records[0].sequence, out.records[0].packets), (5, 10));
        assert_eq!(d.cache().pending_usage().0, 0);
    }

    #[test]
    fn withdrawing_all_data_templates_keeps_options_templates() {
        let (d, mut out) = fresh();
        let options_template = words(&[400, 2, 1, id::SELECTOR_ID, 2, id::SAMPLING_INTERVAL, 4]);
        let msg = ipfix(
            1,
            0,
            &[
                (TEMPLATE_SET, [template(256), template(257)].concat()),
                (OPTIONS_TEMPLATE_SET, options_template),
            ],
        );
        assert_eq!(decode(&d, EXPORTER, &msg, NOW, &mut out).unwrap().templates, 3);
        // Withdrawal of every data template: id 2 (the set id) with no fields.
        let withdraw_all = ipfix(2, 0, &[(TEMPLATE_SET, words(&[TEMPLATE_SET, 0]))]);
        decode(&d, EXPORTER, &withdraw_all, NOW, &mut out).unwrap();
        assert_eq!(d.cache().template_count(), 1);
        assert_eq!(d.cache().counters.templates_withdrawn.load(Ordering::Relaxed), 2);
        assert_eq!(
            decode(&d, EXPORTER, &ipfix(3, 0, &[(256, record(1, 1))]), NOW, &mut out).unwrap().held_sets,
            1
        );
        // The options template still reads its records.
        let mut opt = vec![0, 9];
        opt.extend(100u32.to_be_bytes());
        let info = decode(&d, EXPORTER, &ipfix(4, 0, &[(400, opt)]), NOW, &mut out).unwrap();
        assert_eq!(info.options_records, 1);
        assert_eq!(out.options.last().unwrap().1, OptionsInfo::Sampler { id: Some(9), rate: 100 });
    }

    #[test]
    fn domain_wide_sampling_option_applies_to_later_records() {
        let (d, mut out) = fresh();
        // Options template 401: scope observationDomainId (149)/4; samplingInterval/4.
        let options_template = words(&[401, 2, 1, 149, 4, id::SAMPLING_INTERVAL, 4]);
        let mut opt = 0u32.to_be_bytes().to_vec();
        opt.extend(1000u32.to_be_bytes());
        let msg = ipfix(
            1,
            0,
            &[
                (OPTIONS_TEMPLATE_SET, options_template),
                (TEMPLATE_SET, template(256)),
                (401, opt),
                (256, record(1, 2)),
            ],
        );
        let info = decode(&d, EXPORTER, &msg, NOW, &mut out).unwrap();
        assert_eq!((info.options_records, info.records), (1, 1));
        assert_eq!(out.options[0].1, OptionsInfo::Sampler { id: None, rate: 1000 });
        let r = out.records[0];
        assert_eq!(
            (r.sampling_rate, r.sampling_origin, r.packets),
            (1000, SamplingOrigin::ExporterOptions, 2)
        );
    }

    #[test]
    fn concatenated_messages_and_padding() {
        let (d, mut out) = fresh();
        let first = ipfix(1, 0, &[(TEMPLATE_SET, template(256))]);
        let mut second = ipfix(2, 0, &[(256, record(1, 1))]);
        // Zero padding after the last set, inside the message length.
        second.extend([0; 4]);
        second[3] += 4;
        let info = decode(&d, EXPORTER, &[first, second].concat(), NOW, &mut out).unwrap();
        // One datagram, counted once with the first header's sequence.
        assert_eq!((info.sequence, info.templates, info.records), (1, 1, 1));
        // Reserved set ids (4..=255) are skipped by their length.
        let info =
            decode(&d, EXPORTER, &ipfix(3, 0, &[(7, vec![1, 2, 3, 4]), (256, record(2, 2))]), NOW, &mut out);
        assert_eq!(info.unwrap().records, 1);
    }

    #[test]
    fn malformed_lengths_are_typed_errors() {
        let (d, mut out) = fresh();
        let mut run = |msg: &[u8]| decode(&d, EXPORTER, msg, NOW, &mut out);
        let empty = ipfix(1, 0, &[]);
        assert!(matches!(run(&empty[..10]), Err(DecodeError::Truncated { .. })));
        let mut too_short = empty.clone();
        too_short[3] = 12;
        assert!(matches!(run(&too_short), Err(DecodeError::BadMessageLength { header: 12, actual: 16 })));
        let mut set_past_end = ipfix(1, 0, &[(256, vec![0; 8])]);
        set_past_end[16 + 3] = 40;
        assert!(matches!(run(&set_past_end), Err(DecodeError::BadSetLength { set_id: 256, length: 40, .. })));
        // Options template whose scope count exceeds its field count.
        let scope = ipfix(1, 0, &[(OPTIONS_TEMPLATE_SET, words(&[402, 1, 2, 149, 4]))]);
        assert!(matches!(run(&scope), Err(DecodeError::BadTemplate { template_id: 402, .. })));
        // A variable-length field whose length runs past the record.
        let tpl = ipfix(1, 0, &[(TEMPLATE_SET, words(&[403, 1, id::INTERFACE_NAME, 0xffff]))]);
        run(&tpl).unwrap();
        let data = ipfix(2, 0, &[(403, vec![9, b'e', b't', b'h'])]);
        assert!(matches!(run(&data), Err(DecodeError::BadVariableLength { template_id: 403 })));
    }
}
