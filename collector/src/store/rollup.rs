//! Rollups aggregated in memory per batch, then upserted in bulk (one statement per
//! table, arrays bound as parameters and expanded with `unnest`) in the batch's
//! transaction.
//!
//! The 1-hour rows are derived from the batch's 1-minute rows, so each record is
//! hashed once per dimension. Rows are sent sorted by key and inserted `ORDER BY` key,
//! and the tables are always written in the same order, so concurrent writers lock
//! rollup rows in one global order and cannot deadlock with each other. (The
//! maintenance thread's top-N compaction deletes rows of closed periods in another
//! order; only a writer replaying the spool into such a period can meet it, and a
//! deadlock there aborts one side, which retries: totals stay exact either way.)
//!
//! Talkers and services keep the top N keys per batch and group (by sampling-corrected
//! bytes) and fold the rest into an "other" row (`addr` 0.0.0.0/0, `port` -1), so a
//! scan or a flood of random addresses cannot blow up the tables while the totals still
//! add up to the exporter totals. Everything else is exact.

use super::time::{system_time, HOUR_MS, MINUTE_MS};
use super::FlowRow;
use flowvision_codec::FlowRecord;
use flowvision_schema::rollup::{OTHER_AS, OTHER_PORT};
use flowvision_schema::tables::EXPORTERS;
use flowvision_schema::{Rollup, Tier};
use std::hash::Hash;
use std::net::IpAddr;
use std::time::SystemTime;
use tokio_postgres::types::ToSql;

/// The codec's hasher (Fx with a final avalanche): rollup keys are a few integers and
/// addresses, hashed once per record and dimension.
pub(crate) use flowvision_codec::hash::FxHashMap;

/// The measures every rollup row carries (the schema's row type).
pub(crate) use flowvision_schema::Measures;

/// One dimension value bound as an array element.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Dim {
    Int(i64),
    Addr(Option<IpAddr>),
}

/// A rollup key: bucket (Unix ms), exporter, then the table's dimensions.
pub(crate) trait Key: Copy + Eq + Hash + Ord {
    fn bucket(&self) -> i64;
    fn exporter(&self) -> IpAddr;
    fn rebucket(self, bucket: i64) -> Self;
    fn dims(&self, out: &mut Vec<Dim>);
}

macro_rules! int_key {
    ($name:ident, $($f:ident : $t:ty),*) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub(crate) struct $name { pub bucket: i64, pub exporter: IpAddr, $(pub $f: $t),* }
        impl Key for $name {
            fn bucket(&self) -> i64 { self.bucket }
            fn exporter(&self) -> IpAddr { self.exporter }
            fn rebucket(self, bucket: i64) -> Self { $name { bucket, ..self } }
            #[allow(unused_variables)]
            fn dims(&self, out: &mut Vec<Dim>) { $(out.push(Dim::Int(i64::from(self.$f)));)* }
        }
    };
}

int_key!(ExporterKey,);
int_key!(InterfaceKey, in_if: u32, out_if: u32);
int_key!(ProtocolKey, proto: u8);
int_key!(ServiceKey, proto: u8, port: i32);
int_key!(AsKey, src_as: i64, dst_as: i64);

/// Talker key: side 0 = source, 1 = destination; `None` is "other".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct TalkerKey {
    pub bucket: i64,
    pub exporter: IpAddr,
    pub side: u8,
    pub addr: Option<IpAddr>,
}

impl Key for TalkerKey {
    fn bucket(&self) -> i64 {
        self.bucket
    }
    fn exporter(&self) -> IpAddr {
        self.exporter
    }
    fn rebucket(self, bucket: i64) -> Self {
        TalkerKey { bucket, ..self }
    }
    fn dims(&self, out: &mut Vec<Dim>) {
        out.push(Dim::Int(i64::from(self.side)));
        out.push(Dim::Addr(self.addr));
    }
}

/// The service port of a record: the lower of the two ports for port-based
/// transports (the well-known side of a client/server flow), ICMP type*256+code as
/// exporters put it in the destination port, otherwise 0.
#[inline]
pub(crate) fn service_port(r: &FlowRecord) -> i32 {
    match r.proto {
        6 | 17 | 33 | 132 => {
            let (a, b) = (r.src_port.min(r.dst_port), r.src_port.max(r.dst_port));
            i32::from(if a == 0 { b } else { a })
        }
        1 | 58 => i32::from(r.dst_port),
        _ => 0,
    }
}

/// What one batch says about each exporter, for the `exporters` table.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Seen {
    pub first_ms: i64,
    pub last_ms: i64,
    pub protocol: flowvision_codec::Protocol,
    pub sampling_rate: u32,
    pub m: Measures,
}

/// A batch's aggregates.
#[derive(Debug, Default)]
pub(crate) struct Aggregates {
    pub exporter: FxHashMap<ExporterKey, Measures>,
    pub interface: FxHashMap<InterfaceKey, Measures>,
    pub protocol: FxHashMap<ProtocolKey, Measures>,
    pub service: FxHashMap<ServiceKey, Measures>,
    pub asn: FxHashMap<AsKey, Measures>,
    pub talker: FxHashMap<TalkerKey, Measures>,
    pub seen: FxHashMap<IpAddr, Seen>,
}

#[inline]
fn bump<K: Hash + Eq>(map: &mut FxHashMap<K, Measures>, k: K, m: &Measures) {
    map.entry(k).or_default().add(m);
}

impl Aggregates {
    pub fn clear(&mut self) {
        self.exporter.clear();
        self.interface.clear();
        self.protocol.clear();
        self.service.clear();
        self.asn.clear();
        self.talker.clear();
        self.seen.clear();
    }

    /// Adds one row to every 1-minute aggregate.
    #[inline]
    pub fn add(&mut self, row: &FlowRow) {
        let r = &row.record;
        let m = Measures::of(r);
        let bucket = row.time_received_ms.div_euclid(MINUTE_MS) * MINUTE_MS;
        let exporter = r.exporter;
        bump(&mut self.exporter, ExporterKey { bucket, exporter }, &m);
        bump(&mut self.interface, InterfaceKey { bucket, exporter, in_if: r.in_if, out_if: r.out_if }, &m);
        bump(&mut self.protocol, ProtocolKey { bucket, exporter, proto: r.proto }, &m);
        bump(&mut self.service, ServiceKey { bucket, exporter, proto: r.proto, port: service_port(r) }, &m);
        bump(
            &mut self.asn,
            AsKey { bucket, exporter, src_as: i64::from(r.src_as), dst_as: i64::from(r.dst_as) },
            &m,
        );
        bump(&mut self.talker, TalkerKey { bucket, exporter, side: 0, addr: r.src_addr }, &m);
        bump(&mut self.talker, TalkerKey { bucket, exporter, side: 1, addr: r.dst_addr }, &m);
        let t = row.time_received_ms;
        self.seen
            .entry(exporter)
            .and_modify(|s| {
                s.first_ms = s.first_ms.min(t);
                if t >= s.last_ms {
                    s.last_ms = t;
                    s.protocol = r.protocol;
                    s.sampling_rate = r.sampling_rate;
                }
                s.m.add(&m);
            })
            .or_insert(Seen {
                first_ms: t,
                last_ms: t,
                protocol: r.protocol,
                sampling_rate: r.sampling_rate,
                m,
            });
    }

    /// Folds all but the top keys of talkers, services and AS pairs into their "other"
    /// rows.
    pub fn prune(&mut self, talkers: usize, services: usize, as_pairs: usize) {
        top_k(
            &mut self.talker,
            talkers,
            |k| (k.bucket, k.exporter, k.side),
            |k| TalkerKey { addr: None, ..*k },
        );
        top_k(
            &mut self.service,
            services,
            |k| (k.bucket, k.exporter),
            |k| ServiceKey { port: OTHER_PORT, ..*k },
        );
        top_k(
            &mut self.asn,
            as_pairs,
            |k| (k.bucket, k.exporter),
            |k| AsKey { src_as: OTHER_AS, dst_as: OTHER_AS, ..*k },
        );
    }
}

/// Keeps the `k` entries with the most bytes of each group (ties broken by key, so
/// the result is deterministic); the others are added to the group's `other` key.
fn top_k<K: Key, G: Hash + Eq + Copy>(
    map: &mut FxHashMap<K, Measures>,
    k: usize,
    group: impl Fn(&K) -> G,
    other: impl Fn(&K) -> K,
) {
    if map.len() <= k || k == 0 {
        return;
    }
    let mut groups: FxHashMap<G, Vec<(K, Measures)>> = FxHashMap::default();
    for (key, m) in map.drain() {
        groups.entry(group(&key)).or_default().push((key, m));
    }
    for (_, mut entries) in groups {
        if entries.len() > k {
            entries.select_nth_unstable_by(k - 1, |a, b| b.1.bytes.cmp(&a.1.bytes).then(a.0.cmp(&b.0)));
            for (key, m) in entries.split_off(k) {
                bump(map, other(&key), &m);
            }
        }
        for (key, m) in entries {
            bump(map, key, &m);
        }
    }
}

/// The 1-hour aggregate of a 1-minute one.
pub(crate) fn hourly<K: Key>(minute: &FxHashMap<K, Measures>) -> FxHashMap<K, Measures> {
    let mut out = FxHashMap::default();
    for (k, m) in minute {
        bump(&mut out, k.rebucket(k.bucket().div_euclid(HOUR_MS) * HOUR_MS), m);
    }
    out
}

/// One rollup table the writers upsert into: a rollup's 1-minute or 1-hour tier.
pub(crate) struct Table {
    rollup: Rollup,
    tier: Tier,
}

impl Table {
    /// The table's name.
    pub fn name(&self) -> &'static str {
        match self.tier {
            Tier::Minute => self.rollup.minute(),
            _ => self.rollup.hour(),
        }
    }
}

/// The rollup tables, in the order every transaction writes them.
pub(crate) const TABLES: [Table; 12] = {
    const fn both(rollup: Rollup) -> [Table; 2] {
        [Table { rollup, tier: Tier::Minute }, Table { rollup, tier: Tier::Hour }]
    }
    let [[a, b], [c, d], [e, f], [g, h], [i, j], [k, l]] = [
        both(Rollup::Exporter),
        both(Rollup::Interface),
        both(Rollup::Protocol),
        both(Rollup::Service),
        both(Rollup::As),
        both(Rollup::Talker),
    ];
    [a, b, c, d, e, f, g, h, i, j, k, l]
};

pub(super) use flowvision_schema::MEASURES;

/// `t.c + excluded.c`, saturating at 2^63-1: an overflow must not make a batch fail
/// forever (measures are never negative).
pub(super) fn sat_add(c: &str) -> String {
    format!(
        "{c} = CASE WHEN t.{c} > 9223372036854775807 - excluded.{c} THEN 9223372036854775807 \
         ELSE t.{c} + excluded.{c} END"
    )
}

impl Table {
    /// The upsert statement: arrays in, one row per element, merged on conflict.
    pub fn upsert_sql(&self) -> String {
        let dims = self.rollup.dimensions();
        // Dimensions travel as int8 or inet arrays; the insert casts them to the
        // column's type, and a talker's "other" row travels as NULL.
        let exprs: Vec<String> = dims
            .iter()
            .map(|d| match (d.sql_type, d.other) {
                ("smallint", _) => format!("{}::int2", d.column),
                ("integer", _) => format!("{}::int4", d.column),
                ("inet", Some(other)) => format!("COALESCE({}, {other})", d.column),
                _ => d.column.to_string(),
            })
            .collect();
        let mut arrays = vec!["$1::timestamptz[]".to_string(), "$2::inet[]".to_string()];
        let mut aliases = vec!["bucket", "exporter"];
        let mut n = 3;
        for d in dims {
            arrays.push(format!("${n}::{}[]", if d.is_integer() { "int8" } else { "inet" }));
            aliases.push(d.column);
            n += 1;
        }
        for m in MEASURES {
            arrays.push(format!("${n}::int8[]"));
            aliases.push(m);
            n += 1;
        }
        let dim_names: Vec<&str> = dims.iter().map(|d| d.column).collect();
        let dim_exprs: Vec<&str> = exprs.iter().map(String::as_str).collect();
        let key: Vec<&str> = ["bucket", "exporter"].into_iter().chain(dim_names.iter().copied()).collect();
        let select: Vec<&str> =
            ["bucket", "exporter"].into_iter().chain(dim_exprs.iter().copied()).chain(MEASURES).collect();
        let order: Vec<&str> = ["bucket", "exporter"].into_iter().chain(dim_exprs.iter().copied()).collect();
        let cols: Vec<&str> = key.iter().copied().chain(MEASURES).collect();
        let updates: Vec<String> = MEASURES.iter().map(|m| sat_add(m)).collect();
        format!(
            "INSERT INTO {table} AS t ({cols}) SELECT {select} FROM unnest({arrays}) AS u({aliases}) \
             ORDER BY {order} ON CONFLICT ({key}) DO UPDATE SET {updates}",
            table = self.name(),
            cols = cols.join(", "),
            select = select.join(", "),
            arrays = arrays.join(", "),
            aliases = aliases.join(", "),
            order = order.join(", "),
            key = key.join(", "),
            updates = updates.join(", "),
        )
    }
}

/// Column arrays of one upsert, sorted by key.
#[derive(Debug, Default)]
pub(crate) struct Columns {
    buckets: Vec<SystemTime>,
    exporters: Vec<IpAddr>,
    ints: Vec<Vec<i64>>,
    addrs: Vec<Vec<Option<IpAddr>>>,
    measures: [Vec<i64>; 5],
    /// Which dims are ints (true) or addresses (false), in order.
    kinds: Vec<bool>,
}

impl Columns {
    pub fn from_map<K: Key>(map: &FxHashMap<K, Measures>) -> Columns {
        let mut entries: Vec<(&K, &Measures)> = map.iter().collect();
        entries.sort_unstable_by_key(|(k, _)| **k);
        let mut c = Columns::default();
        let mut dims = Vec::new();
        for (i, (k, m)) in entries.into_iter().enumerate() {
            dims.clear();
            k.dims(&mut dims);
            if i == 0 {
                c.kinds = dims.iter().map(|d| matches!(d, Dim::Int(_))).collect();
                c.ints = vec![Vec::with_capacity(map.len()); c.kinds.iter().filter(|x| **x).count()];
                c.addrs = vec![Vec::with_capacity(map.len()); c.kinds.iter().filter(|x| !**x).count()];
            }
            c.buckets.push(system_time(k.bucket()));
            c.exporters.push(k.exporter());
            let (mut ii, mut ai) = (0, 0);
            for d in &dims {
                match *d {
                    Dim::Int(v) => {
                        if let Some(col) = c.ints.get_mut(ii) {
                            col.push(v);
                        }
                        ii += 1;
                    }
                    Dim::Addr(a) => {
                        if let Some(col) = c.addrs.get_mut(ai) {
                            col.push(a);
                        }
                        ai += 1;
                    }
                }
            }
            let [f, b, p, rb, rp] = &mut c.measures;
            f.push(m.flows);
            b.push(m.bytes);
            p.push(m.packets);
            rb.push(m.raw_bytes);
            rp.push(m.raw_packets);
        }
        c
    }

    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }

    /// Parameters in the statement's order.
    pub fn params(&self) -> Vec<&(dyn ToSql + Sync)> {
        let mut p: Vec<&(dyn ToSql + Sync)> = vec![&self.buckets, &self.exporters];
        let (mut ii, mut ai) = (0, 0);
        for is_int in &self.kinds {
            if *is_int {
                if let Some(col) = self.ints.get(ii) {
                    p.push(col);
                }
                ii += 1;
            } else {
                if let Some(col) = self.addrs.get(ai) {
                    p.push(col);
                }
                ai += 1;
            }
        }
        for m in &self.measures {
            p.push(m);
        }
        p
    }
}

/// The columns of every rollup table for a (pruned) batch aggregate, in [`TABLES`] order.
pub(crate) fn all_columns(a: &Aggregates) -> [Columns; 12] {
    [
        Columns::from_map(&a.exporter),
        Columns::from_map(&hourly(&a.exporter)),
        Columns::from_map(&a.interface),
        Columns::from_map(&hourly(&a.interface)),
        Columns::from_map(&a.protocol),
        Columns::from_map(&hourly(&a.protocol)),
        Columns::from_map(&a.service),
        Columns::from_map(&hourly(&a.service)),
        Columns::from_map(&a.asn),
        Columns::from_map(&hourly(&a.asn)),
        Columns::from_map(&a.talker),
        Columns::from_map(&hourly(&a.talker)),
    ]
}

/// Upsert of the batch's per-exporter totals into `exporters`.
pub(crate) fn exporters_sql() -> String {
    format!(
        "INSERT INTO {EXPORTERS} AS t \
     (exporter, first_seen, last_seen, last_flow, protocol, sampling_rate, flows, bytes, packets) \
     SELECT e, f, l, l, p::flow_protocol, s, fl, b, pk \
     FROM unnest($1::inet[], $2::timestamptz[], $3::timestamptz[], $4::text[], $5::int8[], $6::int8[], \
                 $7::int8[], $8::int8[]) AS u(e, f, l, p, s, fl, b, pk) \
     ORDER BY e \
     ON CONFLICT (exporter) DO UPDATE SET \
       first_seen = LEAST(t.first_seen, excluded.first_seen), \
       last_seen = GREATEST(t.last_seen, excluded.last_seen), \
       last_flow = GREATEST(t.last_flow, excluded.last_flow), \
       protocol = CASE WHEN excluded.last_flow >= t.last_flow OR t.last_flow IS NULL \
                       THEN excluded.protocol ELSE t.protocol END, \
       sampling_rate = CASE WHEN excluded.last_flow >= t.last_flow OR t.last_flow IS NULL \
                       THEN excluded.sampling_rate ELSE t.sampling_rate END, \
       flows = CASE WHEN t.flows > 9223372036854775807 - excluded.flows THEN 9223372036854775807 \
                    ELSE t.flows + excluded.flows END, \
       bytes = CASE WHEN t.bytes > 9223372036854775807 - excluded.bytes THEN 9223372036854775807 \
                    ELSE t.bytes + excluded.bytes END, \
       packets = CASE WHEN t.packets > 9223372036854775807 - excluded.packets THEN 9223372036854775807 \
                      ELSE t.packets + excluded.packets END"
    )
}

/// Columns of [`exporters_sql`].
#[derive(Debug, Default)]
pub(crate) struct ExporterColumns {
    exporters: Vec<IpAddr>,
    first: Vec<SystemTime>,
    last: Vec<SystemTime>,
    protocol: Vec<&'static str>,
    rate: Vec<i64>,
    flows: Vec<i64>,
    bytes: Vec<i64>,
    packets: Vec<i64>,
}

impl ExporterColumns {
    pub fn from_seen(seen: &FxHashMap<IpAddr, Seen>) -> ExporterColumns {
        let mut entries: Vec<(&IpAddr, &Seen)> = seen.iter().collect();
        entries.sort_unstable_by_key(|(k, _)| **k);
        let mut c = ExporterColumns::default();
        for (e, s) in entries {
            c.exporters.push(*e);
            c.first.push(system_time(s.first_ms));
            c.last.push(system_time(s.last_ms));
            c.protocol.push(s.protocol.as_str());
            c.rate.push(i64::from(s.sampling_rate));
            c.flows.push(s.m.flows);
            c.bytes.push(s.m.raw_bytes);
            c.packets.push(s.m.raw_packets);
        }
        c
    }

    pub fn is_empty(&self) -> bool {
        self.exporters.is_empty()
    }

    pub fn params(&self) -> [&(dyn ToSql + Sync); 8] {
        [
            &self.exporters,
            &self.first,
            &self.last,
            &self.protocol,
            &self.rate,
            &self.flows,
            &self.bytes,
            &self.packets,
        ]
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;
    use flowvision_codec::Protocol;

    fn row(t: i64, src: [u8; 4], bytes: u64) -> FlowRow {
        let mut r = FlowRecord::new(Protocol::Ipfix, "192.0.2.1".parse().unwrap());
        r.src_addr = Some(IpAddr::from(src));
        r.dst_addr = Some("198.51.100.1".parse().unwrap());
        r.proto = 6;
        r.src_port = 40000;
        r.dst_port = 443;
        r.bytes = bytes;
        r.packets = 1;
        r.sampling_rate = 10;
        FlowRow { time_received_ms: t, record: r }
    }

    #[test]
    fn aggregates_and_top_k_keep_totals() {
        let mut a = Aggregates::default();
        let t = 1_709_208_000_000;
        for i in 0..100u8 {
            a.add(&row(t + i64::from(i) * 1000, [10, 0, 0, i], u64::from(i) + 1));
        }
        let total: i64 = (1..=100).sum::<i64>() * 10;
        assert_eq!(a.exporter.values().map(|m| m.bytes).sum::<i64>(), total);
        a.prune(5, 5, 5);
        let src: Vec<_> = a.talker.iter().filter(|(k, _)| k.side == 0).collect();
        // Two minutes (t..t+99 s), top 5 + other per minute.
        assert_eq!(src.len(), 12);
        assert_eq!(src.iter().map(|(_, m)| m.bytes).sum::<i64>(), total);
        let biggest = src.iter().find(|(k, _)| k.addr == Some(IpAddr::from([10, 0, 0, 99]))).unwrap();
        assert_eq!(biggest.1.bytes, 1000);
        assert!(a.service.keys().all(|k| k.port == 443));
        let h = hourly(&a.talker);
        assert_eq!(h.values().map(|m| m.bytes).sum::<i64>(), 2 * total);
        assert!(TABLES.iter().all(|t| t.upsert_sql().contains("ON CONFLICT")));
    }

    #[test]
    fn service_ports() {
        let mut r = row(0, [1, 1, 1, 1], 1).record;
        assert_eq!(service_port(&r), 443);
        r.src_port = 0;
        assert_eq!(service_port(&r), 443);
        r.proto = 1;
        r.dst_port = 0x0800;
        assert_eq!(service_port(&r), 0x0800);
        r.proto = 47;
        assert_eq!(service_port(&r), 0);
    }
}
