//! The straight-line decode of common-field templates (template::Layout) against the
//! generic per-field path, on the same record bytes: a v9 template of common fields
//! takes the layout; the same template with one extra uncommon field (DIRECTION, 61)
//! after them takes the generic path. Every decoded field must agree, for records with
//! varied values, in both field orders.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use flowvision_codec::{DecodeOutput, Decoder, FlowRecord, TemplateCacheConfig};
use std::net::{IpAddr, Ipv4Addr};

const EXPORTER: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 9));
const EXPORT_MS: i64 = 1_732_000_000_000;

/// (field type, length, value bytes of record `i`)
type Field = (u16, u16, fn(u32) -> Vec<u8>);

fn common_fields() -> Vec<Field> {
    vec![
        (8, 4, |i| [10, 0, (i >> 8) as u8, i as u8].to_vec()), // IPV4_SRC_ADDR
        (12, 4, |i| [203, 0, 113, (i % 250) as u8].to_vec()),  // IPV4_DST_ADDR
        (7, 2, |i| ((1024 + i * 7) as u16).to_be_bytes().to_vec()), // L4_SRC_PORT
        (11, 2, |i| ((i % 3) as u16 * 443).to_be_bytes().to_vec()), // L4_DST_PORT
        (4, 1, |i| vec![[6u8, 17, 1][(i % 3) as usize]]),      // PROTOCOL
        (6, 1, |i| vec![(i % 64) as u8]),                      // TCP_FLAGS
        (5, 1, |i| vec![(i % 8) as u8 * 32]),                  // SRC_TOS
        (1, 4, |i| (i * 1500 + 40).to_be_bytes().to_vec()),    // IN_BYTES
        (2, 4, |i| (i + 1).to_be_bytes().to_vec()),            // IN_PKTS
        (10, 2, |i| ((i % 5) as u16).to_be_bytes().to_vec()),  // INPUT_SNMP
        (14, 4, |i| (i % 7 + 100).to_be_bytes().to_vec()),     // OUTPUT_SNMP (4 bytes)
        (16, 2, |i| ((64_500 + i % 10) as u16).to_be_bytes().to_vec()), // SRC_AS
        (17, 4, |i| (4_200_000_000 + i).to_be_bytes().to_vec()), // DST_AS (4 bytes)
        (15, 4, |i| [192, 0, 2, (i % 4) as u8].to_vec()),      // IPV4_NEXT_HOP
        (9, 1, |i| vec![(i % 33) as u8]),                      // SRC_MASK
        (13, 1, |_| vec![24]),                                 // DST_MASK
        (58, 2, |i| ((i % 4095) as u16).to_be_bytes().to_vec()), // SRC_VLAN
        (22, 4, |i| (90_000 + i).to_be_bytes().to_vec()),      // FIRST_SWITCHED
        (21, 4, |i| (99_000 + i * 3).to_be_bytes().to_vec()),  // LAST_SWITCHED
    ]
}

fn datagram(fields: &[Field], records: u32) -> Vec<u8> {
    let mut template = Vec::new();
    template.extend_from_slice(&256u16.to_be_bytes());
    template.extend_from_slice(&(fields.len() as u16).to_be_bytes());
    for (t, l, _) in fields {
        template.extend_from_slice(&t.to_be_bytes());
        template.extend_from_slice(&l.to_be_bytes());
    }
    let mut data = Vec::new();
    for i in 0..records {
        for (_, l, v) in fields {
            let bytes = v(i);
            assert_eq!(bytes.len(), usize::from(*l));
            data.extend_from_slice(&bytes);
        }
    }
    while data.len() % 4 != 0 {
        data.push(0);
    }
    let mut d = Vec::new();
    d.extend_from_slice(&9u16.to_be_bytes());
    d.extend_from_slice(&((records + 1) as u16).to_be_bytes());
    d.extend_from_slice(&100_000u32.to_be_bytes()); // sysUptime
    d.extend_from_slice(&((EXPORT_MS / 1000) as u32).to_be_bytes());
    d.extend_from_slice(&1u32.to_be_bytes()); // sequence
    d.extend_from_slice(&0u32.to_be_bytes()); // source id
    d.extend_from_slice(&0u16.to_be_bytes());
    d.extend_from_slice(&((template.len() + 4) as u16).to_be_bytes());
    d.extend_from_slice(&template);
    d.extend_from_slice(&256u16.to_be_bytes());
    d.extend_from_slice(&((data.len() + 4) as u16).to_be_bytes());
    d.extend_from_slice(&data);
    d
}

fn decode(d: &[u8]) -> Vec<FlowRecord> {
    let decoder = Decoder::new(TemplateCacheConfig::default());
    let mut out = DecodeOutput::default();
    decoder.decode(EXPORTER, d, EXPORT_MS, &mut out).expect("decodes");
    out.records
}

#[test]
fn layout_and_generic_paths_agree() {
    for reversed in [false, true] {
        let mut common = common_fields();
        if reversed {
            common.reverse();
        }
        let mut uncommon = common.clone();
        uncommon.push((61, 1, |i| vec![(i % 2) as u8])); // DIRECTION: not a layout field
        let fast = decode(&datagram(&common, 40));
        let generic = decode(&datagram(&uncommon, 40));
        assert_eq!(fast.len(), 40);
        assert_eq!(generic.len(), 40);
        for (i, (a, b)) in fast.iter().zip(&generic).enumerate() {
            // The extra field sets the direction, on the generic path only.
            assert_eq!(b.direction, Some((i % 2) as u8));
            let mut b = *b;
            b.direction = None;
            assert_eq!(format!("{a:?}"), format!("{b:?}"), "record {i} (reversed: {reversed})");
        }
        // The values are the ones written (a decoder that drops fields on both paths
        // would agree with itself).
        let r = &fast[7];
        assert_eq!(r.src_addr, Some("10.0.0.7".parse().unwrap()));
        assert_eq!(r.dst_port, 443);
        assert_eq!(r.bytes, 7 * 1500 + 40);
        assert_eq!(r.dst_as, 4_200_000_007);
        assert_eq!(r.out_if, 100);
    }
}
