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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;
    use crate::ie::id;
    use crate::record::SamplingOrigin;
    use crate::testing::{fresh, v9, words, EXPORTER, EXPORT_SECS, NOW};
    use std::sync::atomic::Ordering;

    /// Template 256: IPv4 source, destination port, octets, flow end (sysUpTime).
    fn template_256() -> Vec<u8> {
        words(&[
            256,
            4,
            id::SOURCE_IPV4_ADDRESS,
            4,
            id::DESTINATION_TRANSPORT_PORT,
            2,
            id::OCTET_DELTA_COUNT,
            4,
            id::FLOW_END_SYS_UP_TIME,
            4,
        ])
    }

    /// One record of template 256.
    fn record_256(last_octet: u8, port: u16, octets: u32, end_uptime: u32) -> Vec<u8> {
        let mut r = vec![10, 0, 0, last_octet];
        r.extend(port.to_be_bytes());
        r.extend(octets.to_be_bytes());
        r.extend(end_uptime.to_be_bytes());
        r
    }

    #[test]
    fn template_then_data_in_one_datagram() {
        let (d, mut out) = fresh();
        let data = [record_256(1, 53, 1500, 9_000), record_256(2, 443, 40, 10_000)].concat();
        let dgram = v9(77, 5, &[(TEMPLATE_SET, template_256()), (256, data)]);
        let info = decode(&d, EXPORTER, &dgram, NOW, &mut out).unwrap();
        assert_eq!((info.protocol, info.observation_domain, info.sequence), (Protocol::NetflowV9, 5, 77));
        assert_eq!((info.templates, info.records, info.held_sets), (1, 2, 0));
        let r = &out.records[0];
        assert_eq!(r.src_addr, Some("10.0.0.1".parse().unwrap()));
        assert_eq!((r.dst_port, r.bytes, r.observation_domain, r.sequence), (53, 1500, 5, 77));
        // sysUpTime 10 s at export: a flow that ended at uptime 9 s ended 1 s earlier.
        assert_eq!(r.flow_end_ms, Some(i64::from(EXPORT_SECS) * 1000 - 1000));
        assert_eq!(out.records[1].flow_end_ms, Some(i64::from(EXPORT_SECS) * 1000));
    }

    #[test]
    fn data_before_template_is_held_and_released_with_it() {
        let (d, mut out) = fresh();
        let data = v9(1, 5, &[(256, record_256(1, 53, 100, 9_000))]);
        let info = decode(&d, EXPORTER, &data, NOW, &mut out).unwrap();
        assert_eq!((info.records, info.held_sets), (0, 1));
        assert!(out.records.is_empty());
        // Another source id is another scope: its template releases nothing here.
        let other = v9(1, 6, &[(TEMPLATE_SET, template_256())]);
        assert_eq!(decode(&d, EXPORTER, &other, NOW, &mut out).unwrap().released_records, 0);
        let tpl = v9(2, 5, &[(TEMPLATE_SET, template_256())]);
        let info = decode(&d, EXPORTER, &tpl, NOW, &mut out).unwrap();
        assert_eq!((info.templates, info.records, info.released_records), (1, 0, 1));
        assert_eq!(out.records.len(), 1);
        // The released record keeps the header of the datagram it came in.
        assert_eq!((out.records[0].sequence, out.records[0].bytes), (1, 100));
        assert_eq!(d.cache().counters.sets_released.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn template_refresh_with_other_fields_replaces_the_old_one() {
        let (d, mut out) = fresh();
        decode(&d, EXPORTER, &v9(1, 0, &[(TEMPLATE_SET, template_256())]), NOW, &mut out).unwrap();
        // Same id, now only packets (2 bytes).
        let refreshed = words(&[256, 1, id::PACKET_DELTA_COUNT, 2]);
        decode(&d, EXPORTER, &v9(2, 0, &[(TEMPLATE_SET, refreshed)]), NOW, &mut out).unwrap();
        let info = decode(&d, EXPORTER, &v9(3, 0, &[(256, vec![0, 9, 0, 7])]), NOW, &mut out).unwrap();
        assert_eq!(info.records, 2);
        assert_eq!((out.records[0].packets, out.records[1].packets), (9, 7));
        assert_eq!(d.cache().template_count(), 1);
    }

    #[test]
    fn sampler_options_give_the_rate_of_records_that_name_the_sampler() {
        let (d, mut out) = fresh();
        // Options template 300: scope system (1)/4; sampler id/1, random interval/4.
        let options_template = words(&[300, 4, 8, 1, 4, id::SAMPLER_ID, 1, id::SAMPLER_RANDOM_INTERVAL, 4]);
        let mut options_record = vec![0, 0, 0, 0, 3];
        options_record.extend(512u32.to_be_bytes());
        options_record.extend([0, 0, 0]); // flowset padding to 4 bytes
        let data_template = words(&[257, 2, id::SAMPLER_ID, 1, id::OCTET_DELTA_COUNT, 4]);
        let dgram = v9(
            9,
            0,
            &[
                (OPTIONS_TEMPLATE_SET, options_template),
                (TEMPLATE_SET, data_template),
                (300, options_record),
                (257, vec![3, 0, 0, 0, 64, 4, 0, 0, 0, 64]),
            ],
        );
        let info = decode(&d, EXPORTER, &dgram, NOW, &mut out).unwrap();
        assert_eq!((info.templates, info.options_records, info.records), (2, 1, 2));
        assert_eq!(out.options.len(), 1);
        assert_eq!(out.options[0].1, crate::OptionsInfo::Sampler { id: Some(3), rate: 512 });
        assert_eq!(
            (out.records[0].sampling_rate, out.records[0].sampling_origin),
            (512, SamplingOrigin::SamplerTable)
        );
        // Sampler 4 was never described: unsampled.
        assert_eq!(
            (out.records[1].sampling_rate, out.records[1].sampling_origin),
            (1, SamplingOrigin::Unsampled)
        );
    }

    #[test]
    fn padding_after_the_last_flowset_is_ignored() {
        let (d, mut out) = fresh();
        let mut dgram = v9(1, 0, &[(TEMPLATE_SET, template_256()), (256, record_256(1, 1, 1, 1))]);
        dgram.extend([0; 6]);
        assert_eq!(decode(&d, EXPORTER, &dgram, NOW, &mut out).unwrap().records, 1);
    }

    #[test]
    fn malformed_lengths_and_ids_are_typed_errors() {
        let (d, mut out) = fresh();
        let mut run = |dgram: &[u8]| decode(&d, EXPORTER, dgram, NOW, &mut out);

        let header_only = v9(1, 0, &[]);
        assert!(matches!(run(&header_only[..12]), Err(DecodeError::Truncated { .. })));
        // Flowset length 2: below its own header.
        let mut short = header_only.clone();
        short.extend([1, 0, 0, 2, 0, 0, 0, 0]);
        assert!(matches!(run(&short), Err(DecodeError::BadSetLength { set_id: 256, length: 2, .. })));
        // Flowset length past the datagram's end.
        let mut long = v9(1, 0, &[(256, vec![0; 8])]);
        long.truncate(long.len() - 4);
        assert!(matches!(
            run(&long),
            Err(DecodeError::BadSetLength { set_id: 256, length: 12, available: 8 })
        ));
        assert!(matches!(run(&v9(1, 0, &[(2, vec![0; 4])])), Err(DecodeError::ReservedSetId(2))));
        let low_id = v9(1, 0, &[(TEMPLATE_SET, words(&[255, 1, 8, 4]))]);
        assert!(matches!(run(&low_id), Err(DecodeError::BadTemplate { template_id: 255, .. })));
        // A field count the flowset cannot hold.
        let cut = v9(1, 0, &[(TEMPLATE_SET, words(&[256, 3, 8, 4]))]);
        assert!(matches!(run(&cut), Err(DecodeError::Truncated { .. })));
        // Options scope length not a multiple of 4.
        let odd = v9(1, 0, &[(OPTIONS_TEMPLATE_SET, words(&[300, 2, 4, 1, 4, 34, 4]))]);
        assert!(matches!(run(&odd), Err(DecodeError::BadTemplate { template_id: 300, .. })));
    }
}
