//! Deterministic flow workloads encoded as real datagrams.

use flowvision_codec::encode::sflow::SflowEncoder;
use flowvision_codec::encode::{TemplateEncoder, TemplateEncoderConfig, V5Encoder};
use flowvision_codec::{FlowRecord, Protocol};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Export time used by every workload (2024-11-19T07:06:40Z).
pub const EXPORT_MS: i64 = 1_732_000_000_000;

/// A small deterministic generator (xorshift64*), so workloads need no RNG crate and
/// are identical on every run.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// Seeded generator (seed 0 is replaced by a fixed odd constant).
    pub fn new(seed: u64) -> Self {
        Rng(if seed == 0 { 0x9e37_79b9_7f4a_7c15 } else { seed })
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// One of `items`, uniformly (the default value when empty).
    pub fn pick<T: Copy + Default>(&mut self, items: &[T]) -> T {
        let i = self.below(items.len() as u64) as usize;
        items.get(i).copied().unwrap_or_default()
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

/// `n` plausible flow records; a share `v6_percent` of them IPv6.
pub fn records(n: usize, v6_percent: u64, seed: u64) -> Vec<FlowRecord> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|_| {
            let mut r = FlowRecord::new(Protocol::NetflowV9, IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)));
            if rng.below(100) < v6_percent {
                r.src_addr = Some(IpAddr::V6(Ipv6Addr::from(
                    (0x2001_0db8u128 << 96) | u128::from(rng.below(1 << 20)),
                )));
                r.dst_addr = Some(IpAddr::V6(Ipv6Addr::from(
                    (0x2001_0db8_0001u128 << 80) | u128::from(rng.below(1 << 16)),
                )));
                r.next_hop = Some(IpAddr::V6(Ipv6Addr::from(0x2001_0db8_ffffu128 << 80 | 1)));
            } else {
                r.src_addr = Some(IpAddr::V4(Ipv4Addr::from(0x0a00_0000 | rng.below(1 << 20) as u32)));
                r.dst_addr = Some(IpAddr::V4(Ipv4Addr::from(0xc633_6400 | rng.below(256) as u32)));
                r.next_hop = Some(IpAddr::V4(Ipv4Addr::new(10, 255, 0, 1)));
            }
            r.proto = rng.pick(&[6, 6, 6, 17, 17, 1]);
            r.src_port = 1024 + rng.below(60000) as u16;
            r.dst_port = rng.pick(&[443, 80, 53, 123, 22, 8080]);
            r.tcp_flags = if r.proto == 6 { 0x1b } else { 0 };
            r.packets = 1 + rng.below(1000);
            r.bytes = r.packets * (40 + rng.below(1460));
            r.in_if = 1 + rng.below(48) as u32;
            r.out_if = 1 + rng.below(48) as u32;
            r.src_as = 64_512 + rng.below(1000) as u32;
            r.dst_as = 15_169;
            r.src_mask = 24;
            r.dst_mask = 24;
            let end = EXPORT_MS - rng.below(30_000) as i64;
            r.flow_end_ms = Some(end);
            r.flow_start_ms = Some(end - rng.below(120_000) as i64);
            r
        })
        .collect()
}

/// Encoded datagrams of one protocol: `templates` (sent first, may be empty) and
/// `data` (data-only datagrams, the steady state a collector sees).
#[derive(Debug, Clone, Default)]
pub struct Datagrams {
    /// Datagrams carrying templates (v9/IPFIX); decode these first.
    pub templates: Vec<Vec<u8>>,
    /// Data datagrams.
    pub data: Vec<Vec<u8>>,
    /// Flow records in `data`.
    pub records: usize,
}

/// Encodes `records` in `protocol`. For v5 only IPv4 records are kept; sFlow samples
/// them at 1 in 1000.
pub fn encode(protocol: Protocol, records: &[FlowRecord]) -> Datagrams {
    let mut d = Datagrams::default();
    match protocol {
        Protocol::NetflowV5 => {
            let v4: Vec<FlowRecord> =
                records.iter().filter(|r| matches!(r.src_addr, Some(IpAddr::V4(_)))).copied().collect();
            let mut enc = V5Encoder::new(0, 0, 0);
            enc.encode(EXPORT_MS, 1_000_000, &v4, |b| d.data.push(b.to_vec()));
            d.records = v4.len();
        }
        Protocol::NetflowV9 | Protocol::Ipfix => {
            let mut cfg = TemplateEncoderConfig::new(protocol, 1);
            cfg.template_refresh_datagrams = 0;
            cfg.template_refresh_ms = 0;
            let mut enc = TemplateEncoder::new(cfg);
            enc.encode(EXPORT_MS, 1_000_000, &[], |b| d.templates.push(b.to_vec()));
            enc.encode(EXPORT_MS, 1_000_000, records, |b| d.data.push(b.to_vec()));
            d.records = records.len();
        }
        Protocol::SflowV5 => {
            let mut enc = SflowEncoder::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)), 0);
            let sampled: Vec<FlowRecord> =
                records.iter().map(|r| FlowRecord { sampling_rate: 1000, ..*r }).collect();
            enc.encode_flows(1_000_000, &sampled, |b| d.data.push(b.to_vec()));
            d.records = records.len();
        }
    }
    d
}

/// `INSERT ... SELECT` of `rows` generated flows into `table` (`flows` or one of its
/// partitions), row `i` (from 1) received at the SQL expression `ts` (which may use
/// `i`): time-ordered as the collector appends, with varied ports, ASes, 20 exporters
/// and about a million source addresses. The statistics and archive benchmarks fill
/// PostgreSQL with it (much faster than ingesting, and the same for both).
pub fn generated_flows_sql(table: &str, rows: u64, ts: &str) -> String {
    format!(
        "INSERT INTO {table} (time_received, bytes, packets, flow_start, flow_end, observation_domain, sequence, \
         sampling_rate, in_if, out_if, src_as, dst_as, src_port, dst_port, tcp_flags, vlan, protocol, proto, tos, \
         src_mask, dst_mask, exporter, src_addr, dst_addr, next_hop) \
         SELECT ts, 40 + (i * 7919) % 1500 * 20, 1 + i % 20, ts - interval '10 s', ts, 0, i, 1, 1 + i % 48, \
         1 + (i / 7) % 48, 64512 + i % 977, 64512 + i % 331, 1024 + (i * 40503) % 64000, \
         (ARRAY[443, 80, 53, 22, 8443, 3389, 123, 5432])[1 + i % 8], 24, 0, 'ipfix', \
         (ARRAY[6, 6, 17, 6, 6, 6, 17, 6])[1 + i % 8], 0, 24, 24, '10.255.0.0'::inet + (1 + i % 20), \
         '100.64.0.0'::inet + ((i * 2654435761) % 1048576), '198.18.0.0'::inet + ((i * 40503) % 65536), '10.0.0.1' \
         FROM generate_series(1::bigint, {rows}) i, LATERAL (SELECT {ts} AS ts) t"
    )
}
