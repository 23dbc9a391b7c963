//! Filter search and nfdump-style statistics through the API, against a real
//! PostgreSQL holding flows stored by the collector's own store. Expected values come
//! from the stored rows: filter counts from the relay's evaluator
//! (`flowvision_filter::matches`, the other user of the language), rankings from
//! grouping the rows in Rust.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use common::*;
use flowvision_collector::store::FlowRow;
use rocket::http::Status;
use std::collections::HashMap;

fn count_matching(rows: &[FlowRow], filter: &str) -> usize {
    let e = flowvision_filter::parse(filter).unwrap();
    rows.iter().filter(|r| flowvision_filter::matches(&e, &r.record)).count()
}

/// (key, flows, bytes, packets, bytes scaled) per key value, ranked by `order`.
fn expected_stats(
    rows: &[FlowRow],
    filter: Option<&str>,
    key: impl Fn(&FlowRow) -> String,
    order: &str,
) -> Vec<(String, i64, i64, i64, i64)> {
    let e = filter.map(|f| flowvision_filter::parse(f).unwrap());
    let mut m: HashMap<String, (i64, i64, i64, i64, i64)> = HashMap::new();
    for r in rows.iter().filter(|r| e.as_ref().map_or(true, |e| flowvision_filter::matches(e, &r.record))) {
        let rate = i64::from(r.record.sampling_rate.max(1));
        let v = m.entry(key(r)).or_default();
        v.0 += 1;
        v.1 += r.record.bytes as i64;
        v.2 += r.record.packets as i64;
        v.3 += r.record.bytes as i64 * rate;
        v.4 += r.record.packets as i64 * rate;
    }
    let mut v: Vec<(String, i64, i64, i64, i64, i64)> =
        m.into_iter().map(|(k, (f, b, p, bs, ps))| (k, f, b, p, bs, ps)).collect();
    let rank = |x: &(String, i64, i64, i64, i64, i64)| match order {
        "flows" => x.1,
        "packets" => x.5,
        _ => x.4,
    };
    v.sort_by(|a, b| rank(b).cmp(&rank(a)).then(a.0.cmp(&b.0)));
    v.into_iter().map(|(k, f, b, p, bs, _)| (k, f, b, p, bs)).collect()
}

fn got_stats(v: &serde_json::Value) -> Vec<(String, i64, i64, i64, i64)> {
    v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["key"].as_str().unwrap().to_string(),
                r["flows"].as_i64().unwrap(),
                r["bytes"].as_i64().unwrap(),
                r["packets"].as_i64().unwrap(),
                r["bytes_scaled"].as_i64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn filter_search_and_statistics() {
    let (web, rows) = Web::with_data();
    let admin = web.login(ADMIN, ADMIN_PW);
    let from = now_ms() - 3_600_000;

    // Filter search: the API's count equals the relay evaluator's over the same rows.
    let filters = [
        "proto tcp and dst port 443 and src net 10.1.0.0/16",
        "proto tcp and dst port https and not exporter 192.0.2.2",
        "port 5432 or proto udp",
        "bytes > 5k",
        "bytes >= 3000 and packets < 6",
        "src as 64502 and in if 12",
        "not (net 10.0.0.0/8)",
        "dst host 203.0.113.9 and src port > 40100",
        "exporter net 2001:db8::/32 or exporter 192.0.2.1",
        "vlan 0 and tos 0 and not flags S",
        "next hop 192.0.2.254",
        "any",
    ];
    let mut nonzero = 0;
    for f in filters {
        let want = count_matching(&rows, f);
        let got = web.json(&format!("/api/v1/flows?from={from}&page_size=1000&filter={}", enc(f)), &admin)
            ["rows"]
            .as_array()
            .unwrap()
            .len();
        assert_eq!(got, want, "{f}");
        nonzero += usize::from(want > 0);
        println!("filter {f:?}: {got} flows");
    }
    assert!(nonzero >= 9, "most filters select something ({nonzero})");
    // The builder fields are ANDed with the expression.
    let both = web.json(
        &format!("/api/v1/flows?from={from}&page_size=1000&filter={}&src=10.1.0.3", enc("dst port 443")),
        &admin,
    );
    assert_eq!(
        both["rows"].as_array().unwrap().len(),
        count_matching(&rows, "dst port 443 and src net 10.1.0.3/32")
    );
    // CSV export takes the filter too.
    let csv = web.get(&format!("/api/v1/flows/export?from={from}&filter={}", enc("proto udp")), Some(&admin));
    assert_eq!(csv.body.lines().count() - 1, count_matching(&rows, "proto udp"));
    // A bad filter is a 400 that points at the token.
    let bad = web
        .get(&format!("/api/v1/flows?from={from}&filter={}", enc("proto tcp and dst prt 443")), Some(&admin));
    assert_eq!(bad.status, Status::BadRequest);
    assert!(bad.body.contains("position 18") && bad.body.contains("prt"), "{}", bad.body);
    // Values never reach SQL text: an injection attempt is a parse error.
    let inj = web
        .get(&format!("/api/v1/flows?from={from}&filter={}", enc("host 1.2.3.4' OR 1=1 --")), Some(&admin));
    assert_eq!(inj.status, Status::BadRequest, "{}", inj.body);

    // Statistics: every key, each order, with and without a filter.
    type KeyFn = fn(&FlowRow) -> String;
    let keys: &[(&str, KeyFn)] = &[
        ("srcip", |r| r.record.src_addr.unwrap().to_string()),
        ("dstip", |r| r.record.dst_addr.unwrap().to_string()),
        ("srcnet", |r| match r.record.src_addr.unwrap() {
            std::net::IpAddr::V4(a) => format!("{}.{}.{}.0/24", a.octets()[0], a.octets()[1], a.octets()[2]),
            std::net::IpAddr::V6(a) => {
                let s = a.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3]).replace(":0::/64", "::/64")
            }
        }),
        ("srcport", |r| r.record.src_port.to_string()),
        ("dstport", |r| r.record.dst_port.to_string()),
        ("proto", |r| r.record.proto.to_string()),
        ("srcas", |r| r.record.src_as.to_string()),
        ("dstas", |r| r.record.dst_as.to_string()),
        ("inif", |r| format!("{} if {}", r.record.exporter, r.record.in_if)),
        ("outif", |r| format!("{} if {}", r.record.exporter, r.record.out_if)),
        ("exporter", |r| r.record.exporter.to_string()),
        ("tos", |r| r.record.tos.to_string()),
    ];
    let mut compared = 0;
    for (key, f) in keys {
        for order in ["flows", "bytes", "packets"] {
            for filter in [None, Some("proto tcp or proto udp")] {
                let mut want = expected_stats(&rows, filter, f, order);
                let distinct = want.len() as i64;
                want.truncate(10);
                let url = format!(
                    "/api/v1/stats?key={key}&order={order}&limit=10&from={from}{}",
                    filter.map(|f| format!("&filter={}", enc(f))).unwrap_or_default()
                );
                let got = web.json(&url, &admin);
                // Ties in the ranking are broken by the key in both; compare as sets
                // when the counter ties at the cut.
                assert_eq!(got_stats(&got), want, "{url}");
                assert_eq!(got["distinct"].as_i64().unwrap(), distinct, "{url}");
                let n = filter.map_or(rows.len(), |f| count_matching(&rows, f));
                assert_eq!(got["total"]["flows"].as_i64().unwrap(), n as i64, "{url}");
                compared += want.len();
            }
        }
    }
    println!("{compared} statistics rows compared over {} keys x 3 orders x 2 filters", keys.len());
    // dstnet of IPv6 destinations is the /64.
    let v6 = web.json(
        &format!("/api/v1/stats?key=dstnet&from={from}&filter={}", enc("exporter 2001:db8::1")),
        &admin,
    );
    assert_eq!(v6["rows"][0]["key"], "2001:db8:ffff::/64");
    assert_eq!(v6["rows"][0]["flows"], 120);

    // CSV of the same query.
    let csv = web.get(&format!("/api/v1/stats/export?key=srcip&limit=5&from={from}"), Some(&admin));
    assert_eq!(csv.status, Status::Ok);
    let lines: Vec<&str> = csv.body.lines().collect();
    assert_eq!(lines[0], "key,flows,bytes,packets,bytes_scaled,packets_scaled");
    let api = got_stats(&web.json(&format!("/api/v1/stats?key=srcip&limit=5&from={from}"), &admin));
    assert_eq!(lines.len(), 6);
    for (l, a) in lines[1..].iter().zip(&api) {
        let first5: Vec<&str> = l.split(',').take(5).collect();
        assert_eq!(first5.join(","), format!("{},{},{},{},{}", a.0, a.1, a.2, a.3, a.4));
    }

    // Bad parameters are 400s.
    for bad in [
        "key=nope",
        "order=octets",
        "limit=0",
        "limit=1001",
        "limit=null",
        "filter=tcp%20and",
        "from=yesterday",
    ] {
        assert_eq!(
            web.get(&format!("/api/v1/stats?{bad}"), Some(&admin)).status,
            Status::BadRequest,
            "{bad}"
        );
    }

    // Scope: an analyst limited to one exporter sees only its flows; a viewer none.
    let (_, analyst) = web.user(&admin, "analyst-b", "analyst", &[EXPORTERS[1]], &[]);
    let s = web.json(&format!("/api/v1/stats?key=exporter&from={from}"), &analyst);
    assert_eq!(s["rows"].as_array().unwrap().len(), 1);
    assert_eq!(s["rows"][0]["key"], EXPORTERS[1]);
    let f = web.json(&format!("/api/v1/flows?from={from}&page_size=1000&filter={}", enc("any")), &analyst);
    assert_eq!(f["rows"].as_array().unwrap().len(), 120);
    let (_, viewer) = web.user(&admin, "viewer-b", "viewer", &[], &[]);
    let denied = web.get("/api/v1/stats?key=srcip", Some(&viewer));
    assert_eq!(denied.status, Status::Forbidden);
    assert!(!denied.body.contains("one-time"), "refused for the role: {}", denied.body);
    assert_eq!(web.get("/stats?key=srcip", Some(&viewer)).status, Status::Forbidden);

    // The page shows the API's numbers.
    let page = web.get(&format!("/stats?key=dstport&order=flows&from={from}"), Some(&admin));
    assert_eq!(page.status, Status::Ok);
    let api = got_stats(&web.json(&format!("/api/v1/stats?key=dstport&order=flows&from={from}"), &admin));
    for (k, flows, ..) in &api {
        assert!(page.body.contains(&format!("data-key=\"{k}\"")), "{k}");
        assert!(page.body.contains(&format!("<td class=\"num flows\">{flows}</td>")), "{k} {flows}");
    }
    let fp = web.get(&format!("/flows?from={from}&filter={}", enc("dst prt 443")), Some(&admin));
    assert!(fp.body.contains("position 4"), "the search page shows where the filter is wrong");
}
