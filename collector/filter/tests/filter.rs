//! The filter language: parsing, error positions, evaluation against records, and
//! SQL rendering with parameters.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use flowvision_codec::{FlowRecord, Protocol};
use flowvision_filter::{matches, parse, to_sql, Cmp, Dir, Expr, IfDir, Pred, Prefix, SqlParam};
use std::net::IpAddr;

fn rec(src: &str, dst: &str, sport: u16, dport: u16, proto: u8) -> FlowRecord {
    let mut r = blank();
    r.src_addr = Some(src.parse().unwrap());
    r.dst_addr = Some(dst.parse().unwrap());
    r.src_port = sport;
    r.dst_port = dport;
    r.proto = proto;
    r
}

fn blank() -> FlowRecord {
    let mut r = FlowRecord::new(Protocol::NetflowV9, "192.0.2.1".parse().unwrap());
    r.exporter = "192.0.2.1".parse().unwrap();
    r
}

#[test]
fn parses_the_documented_examples() {
    let e = parse("proto tcp and dst port 443 and src net 10.0.0.0/8").unwrap();
    let expected = Expr::And(
        Box::new(Expr::And(
            Box::new(Expr::Pred(Pred::Proto(6))),
            Box::new(Expr::Pred(Pred::Port(Dir::Dst, Cmp::Eq, 443))),
        )),
        Box::new(Expr::Pred(Pred::Net(Dir::Src, Prefix::new("10.0.0.0".parse().unwrap(), 8).unwrap()))),
    );
    assert_eq!(e, expected);
    assert_eq!(
        parse("exporter 192.0.2.1").unwrap(),
        Expr::Pred(Pred::Exporter("192.0.2.1".parse().unwrap()))
    );
    assert_eq!(parse("src as 64500").unwrap(), Expr::Pred(Pred::As(Dir::Src, Cmp::Eq, 64500)));
    assert_eq!(parse("in if 3").unwrap(), Expr::Pred(Pred::If(IfDir::In, 3)));
    assert_eq!(parse("proto 17").unwrap(), parse("proto udp").unwrap());
    assert_eq!(parse("udp").unwrap(), parse("proto udp").unwrap());
    assert_eq!(parse("not tcp").unwrap(), parse("! proto 6").unwrap());
    assert_eq!(parse("tcp && port 80 || udp").unwrap(), parse("(tcp and port 80) or udp").unwrap());
    assert_eq!(parse("src port > 1023").unwrap(), Expr::Pred(Pred::Port(Dir::Src, Cmp::Gt, 1023)));
    assert!(parse("host 2001:db8::1 and net 2001:db8::/32").is_ok());
    println!("covered 11 example expressions");
}

#[test]
fn precedence_and_over_or_not_binds_tightest() {
    // a or b and c == a or (b and c); not a and b == (not a) and b
    assert_eq!(parse("udp or tcp and port 80").unwrap(), parse("udp or (tcp and port 80)").unwrap());
    assert_eq!(parse("not udp and port 53").unwrap(), parse("(not udp) and port 53").unwrap());
}

#[test]
fn errors_point_at_the_bad_token() {
    let cases: &[(&str, usize, &str)] = &[
        ("proto tcpp", 6, "tcpp"),
        ("proto tcp and dst prt 443", 18, "prt"),
        ("src net 10.0.0.0/33", 8, "10.0.0.0/33"),
        ("src net 10.1.0.0/8", 8, "10.1.0.0/8"),
        ("dst port 70000", 9, "70000"),
        ("host 10.0.0.300", 5, "10.0.0.300"),
        ("(tcp or udp", 0, "("),
        ("tcp)", 3, ")"),
        ("tcp and", 7, ""),
        ("tcp udp", 4, "udp"),
        ("in 3", 3, "3"),
        ("foo", 0, "foo"),
        ("tcp & udp", 4, "&"),
        ("", 0, ""),
    ];
    for (input, pos, token) in cases {
        let e = parse(input).unwrap_err();
        assert_eq!((e.pos, e.token.as_str()), (*pos, *token), "{input}: {e}");
        println!("{input:?} -> {e}\n{}", e.caret(input));
    }
    println!("covered {} error cases", cases.len());
}

#[test]
fn evaluates_against_records() {
    let web = rec("10.1.2.3", "192.0.2.80", 50000, 443, 6);
    let dns = rec("10.1.2.3", "192.0.2.53", 50001, 53, 17);
    let outside = rec("172.16.0.1", "192.0.2.80", 50002, 443, 6);
    let f = parse("proto tcp and dst port 443 and src net 10.0.0.0/8").unwrap();
    assert!(matches(&f, &web));
    assert!(!matches(&f, &dns));
    assert!(!matches(&f, &outside));
    assert!(matches(&parse("port 53").unwrap(), &dns));
    assert!(!matches(&parse("src port 53").unwrap(), &dns));
    assert!(matches(&parse("host 192.0.2.53").unwrap(), &dns));
    assert!(matches(&parse("not host 192.0.2.53").unwrap(), &web));
    assert!(matches(&parse("exporter 192.0.2.1").unwrap(), &web));
    assert!(matches(&parse("exporter net 192.0.2.0/24").unwrap(), &web));
    assert!(!matches(&parse("exporter 192.0.2.2").unwrap(), &web));
    let mut r = web;
    r.src_as = 64500;
    r.in_if = 3;
    r.out_if = 7;
    assert!(matches(&parse("src as 64500 and in if 3 and out if 7").unwrap(), &r));
    assert!(!matches(&parse("dst as 64500").unwrap(), &r));
    assert!(matches(&parse("as 64500").unwrap(), &r));
    assert!(matches(&parse("if 7").unwrap(), &r));
    assert!(!matches(&parse("in if 7").unwrap(), &r));
    // Families never match across: a v4 prefix does not match a v6 flow.
    let v6 = rec("2001:db8::1", "2001:db8::2", 1, 2, 6);
    assert!(!matches(&parse("net 10.0.0.0/8").unwrap(), &v6));
    assert!(matches(&parse("src net 2001:db8::/32").unwrap(), &v6));
    assert!(matches(&parse("any").unwrap(), &v6));
}

#[test]
fn renders_parameterized_sql() {
    let f = parse("proto tcp and dst port 443 and src net 10.0.0.0/8").unwrap();
    let mut params = Vec::new();
    let sql = to_sql(&f, &mut params);
    assert_eq!(
        sql,
        "((proto = $1::bigint AND dst_port = $2::bigint) AND (src_addr <<= $3::text::inet AND src_addr IS NOT NULL))"
    );
    assert_eq!(params, vec![SqlParam::Int(6), SqlParam::Int(443), SqlParam::Inet("10.0.0.0/8".into())]);

    // Placeholders continue after the caller's own.
    let mut params = vec![SqlParam::Int(0)];
    let sql = to_sql(&parse("not (host 192.0.2.1 or in if 3)").unwrap(), &mut params);
    assert_eq!(
        sql,
        "(NOT (((src_addr = $2::text::inet AND src_addr IS NOT NULL) OR (dst_addr = $2::text::inet AND dst_addr IS NOT NULL)) OR \
         in_if = $3::bigint))"
    );
    assert_eq!(params[1], SqlParam::Inet("192.0.2.1".into()));
    // A prefix of one whole address is that host: equality, as `host` renders.
    let mut params = Vec::new();
    let sql = to_sql(&parse("dst net 2001:db8::1/128").unwrap(), &mut params);
    assert_eq!(sql, "(dst_addr = $1::text::inet AND dst_addr IS NOT NULL)");
    assert_eq!(params, vec![SqlParam::Inet("2001:db8::1".into())]);
    // No value ever appears in the SQL text (injection-proof by construction).
    let mut params = Vec::new();
    let sql = to_sql(&parse("exporter 192.0.2.1 and src as > 64500").unwrap(), &mut params);
    assert!(!sql.contains("192.0.2.1") && !sql.contains("64500"), "{sql}");
    let _: IpAddr = "192.0.2.1".parse().unwrap();
}

#[test]
fn nfdump_predicates_parse() {
    assert_eq!(parse("bytes > 1500").unwrap(), Expr::Pred(Pred::Bytes(Cmp::Gt, 1500)));
    assert_eq!(parse("bytes >= 10k").unwrap(), Expr::Pred(Pred::Bytes(Cmp::Ge, 10_000)));
    assert_eq!(parse("bytes < 2M").unwrap(), Expr::Pred(Pred::Bytes(Cmp::Lt, 2_000_000)));
    assert_eq!(parse("packets 1g").unwrap(), Expr::Pred(Pred::Packets(Cmp::Eq, 1_000_000_000)));
    assert_eq!(parse("packets gt 10").unwrap(), Expr::Pred(Pred::Packets(Cmp::Gt, 10)));
    assert_eq!(parse("flags S").unwrap(), Expr::Pred(Pred::Flags(0x02)));
    assert_eq!(parse("flags SA").unwrap(), Expr::Pred(Pred::Flags(0x12)));
    assert_eq!(parse("flags 18").unwrap(), Expr::Pred(Pred::Flags(18)));
    assert_eq!(parse("tos 184").unwrap(), Expr::Pred(Pred::Tos(Cmp::Eq, 184)));
    assert_eq!(parse("vlan != 10").unwrap(), Expr::Pred(Pred::Vlan(Cmp::Ne, 10)));
    let nh = Expr::Pred(Pred::NextHop("192.0.2.254".parse().unwrap()));
    assert_eq!(parse("next hop 192.0.2.254").unwrap(), nh);
    assert_eq!(parse("next ip 192.0.2.254").unwrap(), nh);
    assert_eq!(parse("nexthop 192.0.2.254").unwrap(), nh);
    assert_eq!(parse("dst port https").unwrap(), parse("dst port 443").unwrap());
    assert_eq!(parse("port dns").unwrap(), parse("port 53").unwrap());
    assert_eq!(parse("src port > ssh").unwrap(), Expr::Pred(Pred::Port(Dir::Src, Cmp::Gt, 22)));
    assert_eq!(parse("proto gre or esp").unwrap(), parse("proto 47 or proto 50").unwrap());
    let cases: &[(&str, usize, &str)] = &[
        ("bytes > lots", 8, "lots"),
        ("bytes > 99999999999g", 8, "99999999999g"),
        ("flags SZ", 6, "SZ"),
        ("tos 300", 4, "300"),
        ("vlan 5000", 5, "5000"),
        ("next door 10.0.0.1", 5, "door"),
        ("dst port htps", 9, "htps"),
    ];
    for (input, pos, token) in cases {
        let e = parse(input).unwrap_err();
        assert_eq!((e.pos, e.token.as_str()), (*pos, *token), "{input}: {e}");
    }
    println!("18 nfdump forms parsed, {} errors located", cases.len());
}

#[test]
fn nfdump_predicates_evaluate() {
    let mut r = rec("10.0.0.1", "192.0.2.80", 40000, 443, 6);
    r.bytes = 1500;
    r.packets = 3;
    r.tcp_flags = 0x12; // SYN+ACK
    r.tos = 184;
    r.vlan = 10;
    r.next_hop = Some("192.0.2.254".parse().unwrap());
    let yes = [
        "bytes 1500",
        "bytes > 1k",
        "bytes < 2k",
        "packets <= 3",
        "flags S",
        "flags SA",
        "not flags R",
        "tos 184",
        "vlan 10",
        "next hop 192.0.2.254",
        "dst port https",
    ];
    let no = [
        "bytes > 1500",
        "packets > 3",
        "flags S and not flags A",
        "flags F",
        "tos 0",
        "vlan 11",
        "next hop 192.0.2.1",
    ];
    for f in yes {
        assert!(matches(&parse(f).unwrap(), &r), "{f}");
    }
    for f in no {
        assert!(!matches(&parse(f).unwrap(), &r), "{f}");
    }
    // Absent next hop: `next hop X` is false and its negation true (as in SQL).
    r.next_hop = None;
    assert!(matches(&parse("not next hop 192.0.2.254").unwrap(), &r));
    println!("{} matching and {} non-matching filters checked", yes.len(), no.len());
}
