//! Helpers shared by the `store_*` tests: random flow records, a test configuration,
//! and reading `flows` back.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use flowvision_codec::{FlowRecord, Protocol, SamplingOrigin};
use flowvision_collector::store::{Batch, BatchId, FlowRow, PartitionInterval, StoreConfig};
use flowvision_schema::tables::FLOWS;
use flowvision_tests::postgres;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

/// xorshift64*: deterministic, dependency-free randomness for test data.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// A handful of exporters, v4 and v6.
pub fn exporters() -> Vec<IpAddr> {
    vec![
        "192.0.2.1".parse().unwrap(),
        "192.0.2.2".parse().unwrap(),
        "2001:db8::1".parse().unwrap(),
        "10.255.0.9".parse().unwrap(),
    ]
}

fn addr(rng: &mut Rng, v6: bool) -> IpAddr {
    if v6 {
        IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, rng.below(4) as u16, 0, 0, 0, 0, rng.below(300) as u16))
    } else {
        IpAddr::V4(Ipv4Addr::new(10, rng.below(3) as u8, rng.below(4) as u8, rng.below(200) as u8))
    }
}

/// A random record with a unique `sequence` (used as the row's identity in tests):
/// IPv4 and IPv6, absent addresses and times, sampled and unsampled, extreme values.
pub fn random_record(rng: &mut Rng, id: u32) -> FlowRecord {
    let ex = exporters();
    let protocol = Protocol::ALL[rng.below(4) as usize];
    let mut r = FlowRecord::new(protocol, ex[rng.below(ex.len() as u64) as usize]);
    let v6 = rng.chance(30);
    r.observation_domain = rng.next() as u32;
    r.sequence = id;
    r.src_addr = (!rng.chance(5)).then(|| addr(rng, v6));
    r.dst_addr = (!rng.chance(5)).then(|| addr(rng, v6));
    r.proto = [6u8, 17, 1, 58, 47, 132][rng.below(6) as usize];
    r.src_port =
        if rng.chance(50) { [443u16, 53, 80, 22, 0][rng.below(5) as usize] } else { rng.next() as u16 };
    r.dst_port =
        if rng.chance(50) { [443u16, 53, 80, 123][rng.below(4) as usize] } else { rng.next() as u16 };
    r.tcp_flags = rng.below(0x200) as u16;
    r.tos = rng.next() as u8;
    r.bytes = match rng.below(50) {
        0 => u64::MAX, // clamped to i64::MAX when stored
        1 => 0,
        _ => rng.below(1_000_000),
    };
    r.packets = rng.below(2000);
    r.sampling_rate = [1u32, 1, 10, 1000, 0][rng.below(5) as usize];
    r.sampling_origin = SamplingOrigin::Record;
    r.in_if = [1u32, 2, 3, u32::MAX][rng.below(4) as usize];
    r.out_if = rng.below(4) as u32;
    r.src_as = [0u32, 64512, 4_200_000_000, 15169][rng.below(4) as usize];
    r.dst_as = [0u32, 13335, 4_294_967_295][rng.below(3) as usize];
    r.next_hop = rng.chance(60).then(|| addr(rng, v6));
    r.src_mask = rng.below(129) as u8;
    r.dst_mask = rng.below(33) as u8;
    r.vlan = rng.below(4096) as u16;
    let t0 = 1_709_208_000_000 + rng.below(1_000_000) as i64;
    r.flow_start_ms = rng.chance(80).then_some(t0);
    r.flow_end_ms = rng.chance(80).then_some(t0 + rng.below(60_000) as i64);
    r
}

/// `n` random rows received in `[t0, t0 + span_ms)`, sequence ids from `first_id`.
pub fn random_rows(rng: &mut Rng, n: usize, first_id: u32, t0: i64, span_ms: i64) -> Vec<FlowRow> {
    (0..n)
        .map(|i| FlowRow {
            time_received_ms: t0 + (i as i64 * span_ms) / n.max(1) as i64,
            record: random_record(rng, first_id + i as u32),
        })
        .collect()
}

/// Splits rows into batches of `size` with consecutive sequence numbers.
pub fn batches(instance: u64, rows: Vec<FlowRow>, size: usize) -> Vec<Batch> {
    rows.chunks(size)
        .enumerate()
        .map(|(i, c)| Batch { id: BatchId { instance, seq: i as u64 }, rows: c.to_vec() })
        .collect()
}

/// A configuration with short timers for tests.
pub fn config(url: &str, spool: &Path) -> StoreConfig {
    let mut c = StoreConfig::new(url, spool);
    c.partition_interval = PartitionInterval::Hourly;
    c.reconnect_interval = Duration::from_millis(200);
    c.connect_timeout = Duration::from_secs(2);
    c.batch_timeout = Duration::from_secs(20);
    c.stats_interval = Duration::from_millis(500);
    c
}

/// Polls `f` until it is true or `timeout` passes; returns whether it became true.
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    f()
}

/// What `flows` keeps of a record (the fields it has columns for).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRow {
    pub time_received_ms: i64,
    pub protocol: String,
    pub exporter: IpAddr,
    pub observation_domain: i64,
    pub sequence: i64,
    pub src_addr: Option<IpAddr>,
    pub dst_addr: Option<IpAddr>,
    pub src_port: i32,
    pub dst_port: i32,
    pub proto: i16,
    pub tcp_flags: i32,
    pub tos: i16,
    pub bytes: i64,
    pub packets: i64,
    pub sampling_rate: i64,
    pub in_if: i64,
    pub out_if: i64,
    pub src_as: i64,
    pub dst_as: i64,
    pub next_hop: Option<IpAddr>,
    pub src_mask: i16,
    pub dst_mask: i16,
    pub vlan: i32,
    pub flow_start_ms: Option<i64>,
    pub flow_end_ms: Option<i64>,
}

impl StoredRow {
    /// What a row should look like once stored.
    pub fn expected(row: &FlowRow) -> StoredRow {
        let r = &row.record;
        StoredRow {
            time_received_ms: row.time_received_ms,
            protocol: r.protocol.as_str().to_string(),
            exporter: r.exporter,
            observation_domain: i64::from(r.observation_domain),
            sequence: i64::from(r.sequence),
            src_addr: r.src_addr,
            dst_addr: r.dst_addr,
            src_port: i32::from(r.src_port),
            dst_port: i32::from(r.dst_port),
            proto: i16::from(r.proto),
            tcp_flags: i32::from(r.tcp_flags),
            tos: i16::from(r.tos),
            bytes: i64::try_from(r.bytes).unwrap_or(i64::MAX),
            packets: i64::try_from(r.packets).unwrap_or(i64::MAX),
            sampling_rate: i64::from(r.sampling_rate),
            in_if: i64::from(r.in_if),
            out_if: i64::from(r.out_if),
            src_as: i64::from(r.src_as),
            dst_as: i64::from(r.dst_as),
            next_hop: r.next_hop,
            src_mask: i16::from(r.src_mask),
            dst_mask: i16::from(r.dst_mask),
            vlan: i32::from(r.vlan),
            flow_start_ms: r.flow_start_ms,
            flow_end_ms: r.flow_end_ms,
        }
    }
}

fn ms(t: SystemTime) -> i64 {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => d.as_millis() as i64,
        Err(e) => -(e.duration().as_millis() as i64),
    }
}

/// Every row of `flows`, ordered by sequence.
pub fn read_flows(c: &mut postgres::Client) -> Vec<StoredRow> {
    c.query(
        &format!("SELECT time_received, protocol::text, exporter, observation_domain, sequence, src_addr, dst_addr, \
           src_port, dst_port, proto, tcp_flags, tos, bytes, packets, sampling_rate, in_if, out_if, src_as, \
           dst_as, next_hop, src_mask, dst_mask, vlan, flow_start, flow_end FROM {FLOWS} ORDER BY sequence"),
        &[],
    )
    .unwrap()
    .iter()
    .map(|r| StoredRow {
        time_received_ms: ms(r.get(0)),
        protocol: r.get(1),
        exporter: r.get(2),
        observation_domain: r.get(3),
        sequence: r.get(4),
        src_addr: r.get(5),
        dst_addr: r.get(6),
        src_port: r.get(7),
        dst_port: r.get(8),
        proto: r.get(9),
        tcp_flags: r.get(10),
        tos: r.get(11),
        bytes: r.get(12),
        packets: r.get(13),
        sampling_rate: r.get(14),
        in_if: r.get(15),
        out_if: r.get(16),
        src_as: r.get(17),
        dst_as: r.get(18),
        next_hop: r.get(19),
        src_mask: r.get(20),
        dst_mask: r.get(21),
        vlan: r.get(22),
        flow_start_ms: r.get::<_, Option<SystemTime>>(23).map(ms),
        flow_end_ms: r.get::<_, Option<SystemTime>>(24).map(ms),
    })
    .collect()
}

/// (rows, distinct sequence ids, sum of bytes as numeric text) of `flows`.
pub fn flow_totals(c: &mut postgres::Client) -> (i64, i64, String) {
    let r = c
        .query_one(
            &format!("SELECT count(*), count(DISTINCT sequence), COALESCE(sum(bytes), 0)::text FROM {FLOWS}"),
            &[],
        )
        .unwrap();
    (r.get(0), r.get(1), r.get(2))
}

/// Sum of `bytes` (clamped like the store) over `rows`, as decimal text.
pub fn sum_bytes(rows: &[FlowRow]) -> String {
    rows.iter()
        .map(|r| i128::from(i64::try_from(r.record.bytes).unwrap_or(i64::MAX)))
        .sum::<i128>()
        .to_string()
}
