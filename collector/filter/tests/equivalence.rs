//! One test suite for both users of the filter language: the relay evaluates a filter
//! against decoded records ([`flowvision_filter::matches`]); flow search renders it as
//! SQL ([`flowvision_filter::to_sql`]) over the `flows` table. A property test draws
//! random filters (as text, parsed back: the parser is covered too) and checks that both
//! select exactly the same records, stored in a real PostgreSQL with the real schema.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use flowvision_codec::{FlowRecord, Protocol};
use flowvision_filter::{matches, parse, to_sql, Expr, SqlParam};
use flowvision_tests::pg::PgCluster;
use postgres::types::ToSql;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};
use std::cell::RefCell;
use std::collections::BTreeSet;
use std::net::IpAddr;

const ADDRS: &[&str] = &[
    "10.0.0.1",
    "10.1.2.3",
    "10.200.0.9",
    "192.0.2.1",
    "192.0.2.80",
    "198.51.100.7",
    "2001:db8::1",
    "2001:db8:1::2",
];
const PREFIXES: &[&str] = &[
    "10.0.0.0/8",
    "10.1.0.0/16",
    "192.0.2.0/24",
    "0.0.0.0/0",
    "2001:db8::/32",
    "2001:db8:1::/48",
    // Whole-address prefixes render as equality (the address index's form).
    "198.51.100.7/32",
    "2001:db8::1/128",
];
const EXPORTERS: &[&str] = &["192.0.2.1", "192.0.2.2", "2001:db8::ff"];
const PORTS: &[u16] = &[0, 22, 53, 80, 443, 1023, 1024, 50000, 65535];
const PROTOS: &[u8] = &[1, 6, 17, 47, 58];
const COUNTERS: &[u64] = &[0, 1, 40, 1000, 1500, 65535, 1_000_000, 5_000_000_000];
const SMALL: &[u32] = &[0, 3, 7, 64500, 4_294_967_295];

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn record() -> impl Strategy<Value = FlowRecord> {
    let addr = prop::option::weighted(0.9, prop::sample::select(ADDRS).prop_map(ip));
    (
        (
            prop::sample::select(EXPORTERS),
            addr.clone(),
            addr.clone(),
            prop::option::of(prop::sample::select(ADDRS)),
        ),
        (prop::sample::select(PORTS), prop::sample::select(PORTS), prop::sample::select(PROTOS)),
        (
            prop::sample::select(COUNTERS),
            prop::sample::select(COUNTERS),
            any::<u8>(),
            prop::sample::select(&[0u8, 46, 184][..]),
        ),
        (
            prop::sample::select(&[0u16, 10, 4095][..]),
            prop::sample::select(SMALL),
            prop::sample::select(SMALL),
        ),
        (prop::sample::select(SMALL), prop::sample::select(SMALL)),
    )
        .prop_map(|((e, s, d, nh), (sp, dp, pr), (b, p, fl, tos), (vlan, i, o), (sa, da))| {
            let mut r = FlowRecord::new(Protocol::NetflowV9, ip(e));
            r.src_addr = s;
            r.dst_addr = d;
            r.next_hop = nh.map(ip);
            r.src_port = sp;
            r.dst_port = dp;
            r.proto = pr;
            r.bytes = b;
            r.packets = p;
            r.tcp_flags = u16::from(fl);
            r.tos = tos;
            r.vlan = vlan;
            r.in_if = i;
            r.out_if = o;
            r.src_as = sa;
            r.dst_as = da;
            r
        })
}

fn dir() -> impl Strategy<Value = &'static str> {
    prop::sample::select(&["", "src ", "dst "][..])
}

fn cmp() -> impl Strategy<Value = &'static str> {
    prop::sample::select(&["", "= ", "!= ", "< ", "<= ", "> ", ">= ", "gt ", "lt "][..])
}

/// One predicate, as an operator would type it.
fn leaf() -> impl Strategy<Value = String> {
    let addr = prop::sample::select(ADDRS);
    let prefix = prop::sample::select(PREFIXES);
    prop_oneof![
        (dir(), addr).prop_map(|(d, a)| format!("{d}host {a}")),
        (dir(), prefix).prop_map(|(d, p)| format!("{d}net {p}")),
        (dir(), cmp(), prop::sample::select(&["22", "53", "443", "1024", "https", "dns", "ssh", "http"][..]))
            .prop_map(|(d, c, p)| format!("{d}port {c}{p}")),
        (dir(), cmp(), prop::sample::select(SMALL)).prop_map(|(d, c, n)| format!("{d}as {c}{n}")),
        (prop::sample::select(&["in ", "out ", ""][..]), prop::sample::select(SMALL))
            .prop_map(|(d, n)| format!("{d}if {n}")),
        prop::sample::select(&["tcp", "udp", "icmp", "proto gre", "proto 58", "esp"][..])
            .prop_map(str::to_string),
        prop::sample::select(EXPORTERS).prop_map(|e| format!("exporter {e}")),
        prop::sample::select(&["192.0.2.0/24", "2001:db8::/32"][..])
            .prop_map(|p| format!("exporter net {p}")),
        (
            prop::sample::select(&["bytes", "packets"][..]),
            cmp(),
            prop::sample::select(&["0", "40", "1500", "1k", "1M", "5g"][..])
        )
            .prop_map(|(k, c, n)| format!("{k} {c}{n}")),
        prop::sample::select(&["S", "SA", "A", "F", "R", "X", "18", "0", "UPC"][..])
            .prop_map(|f| format!("flags {f}")),
        (cmp(), prop::sample::select(&[0u8, 46, 184][..])).prop_map(|(c, n)| format!("tos {c}{n}")),
        (cmp(), prop::sample::select(&[0u16, 10, 4095][..])).prop_map(|(c, n)| format!("vlan {c}{n}")),
        prop::sample::select(ADDRS).prop_map(|a| format!("next hop {a}")),
        Just("any".to_string()),
    ]
}

fn filter() -> impl Strategy<Value = String> {
    leaf().prop_recursive(4, 24, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a}) and ({b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a}) or ({b})")),
            inner.prop_map(|a| format!("not ({a})")),
        ]
    })
}

fn insert(client: &mut postgres::Client, records: &[FlowRecord]) {
    client
        .batch_execute(
            "CREATE TABLE flows_h2026010100 PARTITION OF flows \
             FOR VALUES FROM ('2026-01-01 00:00:00+00') TO ('2026-01-01 01:00:00+00')",
        )
        .unwrap();
    let stmt = client
        .prepare(
            "INSERT INTO flows (time_received, bytes, packets, observation_domain, sequence, sampling_rate, \
             in_if, out_if, src_as, dst_as, src_port, dst_port, tcp_flags, vlan, protocol, proto, tos, src_mask, \
             dst_mask, exporter, src_addr, dst_addr, next_hop) VALUES ('2026-01-01 00:30:00+00', $1, $2, 0, $3, \
             1, $4, $5, $6, $7, $8, $9, $10, $11, 'netflow_v9', $12, $13, 0, 0, $14, $15, $16, $17)",
        )
        .unwrap();
    for (i, r) in records.iter().enumerate() {
        client
            .execute(
                &stmt,
                &[
                    &(r.bytes as i64),
                    &(r.packets as i64),
                    &(i as i64),
                    &i64::from(r.in_if),
                    &i64::from(r.out_if),
                    &i64::from(r.src_as),
                    &i64::from(r.dst_as),
                    &i32::from(r.src_port),
                    &i32::from(r.dst_port),
                    &i32::from(r.tcp_flags),
                    &i32::from(r.vlan),
                    &i16::from(r.proto),
                    &i16::from(r.tos),
                    &r.exporter,
                    &r.src_addr,
                    &r.dst_addr,
                    &r.next_hop,
                ],
            )
            .unwrap();
    }
}

fn sql_select(client: &mut postgres::Client, expr: &Expr) -> BTreeSet<usize> {
    let mut params = Vec::new();
    let cond = to_sql(expr, &mut params);
    let boxed: Vec<Box<dyn ToSql + Sync>> = params
        .into_iter()
        .map(|p| -> Box<dyn ToSql + Sync> {
            match p {
                SqlParam::Int(n) => Box::new(n),
                SqlParam::Inet(s) => Box::new(s),
            }
        })
        .collect();
    let refs: Vec<&(dyn ToSql + Sync)> = boxed.iter().map(|b| b.as_ref()).collect();
    let rows = client.query(&format!("SELECT sequence FROM flows WHERE {cond}"), &refs).unwrap();
    rows.iter().map(|r| r.get::<_, i64>(0) as usize).collect()
}

#[test]
fn relay_matching_and_sql_search_select_the_same_flows() {
    let pg = PgCluster::start().unwrap();
    let mut client = pg.connect().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let (c, conn) = tokio_postgres::connect(pg.url(), tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(conn);
        flowvision_migrations::apply(&c, flowvision_migrations::MIGRATIONS).await.unwrap();
    });

    let mut runner = TestRunner::new(Config { cases: 1, ..Config::default() });
    let records = prop::collection::vec(record(), 400).new_tree(&mut runner).unwrap().current();
    insert(&mut client, &records);

    let client = RefCell::new(client);
    let stats = RefCell::new((0usize, 0usize, 0usize));
    let mut runner = TestRunner::new(Config { cases: 400, ..Config::default() });
    runner
        .run(&filter(), |text| {
            let expr = parse(&text).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
            let by_eval: BTreeSet<usize> =
                records.iter().enumerate().filter(|(_, r)| matches(&expr, r)).map(|(i, _)| i).collect();
            let by_sql = sql_select(&mut client.borrow_mut(), &expr);
            prop_assert_eq!(&by_eval, &by_sql, "filter `{}`", text);
            let mut s = stats.borrow_mut();
            s.0 += 1;
            if by_eval.is_empty() {
                s.1 += 1;
            } else if by_eval.len() == records.len() {
                s.2 += 1;
            }
            Ok(())
        })
        .unwrap();
    let (n, none, all) = *stats.borrow();
    println!("{n} random filters over {} stored records: eval == SQL for all ({none} selected none, {all} selected all)", records.len());
    // A suite where every filter selects nothing (or everything) would prove little.
    assert!(none + all < n / 2, "{none} empty and {all} full selections of {n}");
}
