//! Insights end to end on a real PostgreSQL: flows stored through the collector's own
//! store (whose writers compute the host features in each batch's transaction), the
//! engine's detectors over those rows, the stored insights through the API with device
//! scopes, and `flowvision-web insights backtest` printing the same insights.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use common::{now_ms, store, Cred, Web, ADMIN, ADMIN_PW};
use flowvision_codec::{FlowRecord, Protocol};
use flowvision_collector::store::FlowRow;
use rocket::http::Status;
use serde_json::Value;
use std::net::{IpAddr, Ipv4Addr};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_flowvision-web");

#[allow(clippy::too_many_arguments)]
fn row(
    exporter: &str,
    end_ms: i64,
    src: IpAddr,
    dst: IpAddr,
    proto: u8,
    sport: u16,
    dport: u16,
    flags: u16,
    packets: u64,
) -> FlowRow {
    let mut r = FlowRecord::new(Protocol::NetflowV5, exporter.parse().unwrap());
    r.src_addr = Some(src);
    r.dst_addr = Some(dst);
    r.proto = proto;
    r.src_port = sport;
    r.dst_port = dport;
    r.tcp_flags = flags;
    r.packets = packets;
    r.bytes = packets * 60;
    r.flow_start_ms = Some(end_ms - 500);
    r.flow_end_ms = Some(end_ms);
    FlowRow { time_received_ms: end_ms + 1_000, record: r }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// 30 s ending a minute ago: a spoofed SYN flood (400/s) at 10.9.0.1 seen by
/// 192.0.2.1, a port scan of 10.9.0.2 by 198.51.100.66 seen by 192.0.2.2 (answered
/// by resets), and answered web traffic on both.
fn attack_rows(now: i64) -> Vec<FlowRow> {
    let t0 = now - 90_000;
    let mut rows = Vec::new();
    for i in 0..12_000u32 {
        let src = IpAddr::V4(Ipv4Addr::from(0x2d00_0000 + i.wrapping_mul(2_654_435_761) % 0x00ff_ffff));
        rows.push(row(
            "192.0.2.1",
            t0 + i64::from(i) * 30 / 12,
            src,
            ip("10.9.0.1"),
            6,
            1024 + (i % 50_000) as u16,
            80,
            0x02,
            1,
        ));
    }
    for p in 0..300u16 {
        let t = t0 + i64::from(p) * 100;
        rows.push(row("192.0.2.2", t, ip("198.51.100.66"), ip("10.9.0.2"), 6, 61_000, p + 1, 0x02, 1));
        rows.push(row("192.0.2.2", t, ip("10.9.0.2"), ip("198.51.100.66"), 6, p + 1, 61_000, 0x14, 1));
    }
    for k in 0..200u32 {
        let t = t0 + i64::from(k) * 150;
        for ex in ["192.0.2.1", "192.0.2.2"] {
            let client = IpAddr::V4(Ipv4Addr::new(10, 5, 0, (k % 50) as u8 + 1));
            rows.push(row(ex, t, client, ip("203.0.113.80"), 6, 40_000 + k as u16, 443, 0x1b, 10));
            rows.push(row(ex, t, ip("203.0.113.80"), client, 6, 443, 40_000 + k as u16, 0x1b, 14));
        }
    }
    rows.sort_by_key(|r| r.time_received_ms);
    rows
}

/// `flowvision-web insights backtest --from FROM --to TO` against `url`: its JSON lines.
fn backtest(url: &str, from: i64, to: i64) -> Vec<Value> {
    let out = Command::new(BIN)
        .args(["insights", "backtest", "--from", &from.to_string(), "--to", &to.to_string()])
        .env("DATABASE_URL", url)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn kinds(list: &Value) -> Vec<(String, String, Value, Value)> {
    let mut v: Vec<_> = list["insights"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["kind"].as_str().unwrap().to_string(),
                i["exporter"].as_str().unwrap().to_string(),
                i["source"].clone(),
                i["target"].clone(),
            )
        })
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

#[test]
fn attacks_stored_by_the_collector_become_scoped_insights_and_the_backtest_agrees() {
    let web = Web::start_with(|c| c.insights = false);
    let now = now_ms();
    let rows = attack_rows(now);
    store(web.pg.url(), &rows);

    // The writers wrote feature rows in the batches' transactions, bounded per batch.
    let mut pg = web.pg.connect().unwrap();
    let victim = pg
        .query_one(
            "SELECT sum(syn_packets_in)::bigint, sum(flows_in)::bigint, count(*) FROM host_features WHERE host = '10.9.0.1'",
            &[],
        )
        .unwrap();
    assert_eq!(victim.get::<_, i64>(0), 12_000, "every SYN of the flood counted at the victim");
    assert_eq!(victim.get::<_, i64>(1), 12_000);
    let all: i64 = pg.query_one("SELECT count(*) FROM host_features", &[]).unwrap().get(0);
    assert!(all < 12_000, "no row per spoofed source: {all} rows for {} flows", rows.len());

    // The engine's rounds over the last two and a half minutes, as the live loop runs them.
    let cfg = common::config(web.pg.url());
    let rt = rocket::tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let found = rt.block_on(async {
        let db = flowvision_web::data::Db::new(&cfg).unwrap();
        let mut found = Vec::new();
        for end in [now - 60_000, now - 30_000, now] {
            let list =
                flowvision_web::insights::detect_range(&db, &cfg.insight_thresholds, end - 90_000, end)
                    .await
                    .unwrap();
            for i in &list {
                db.engine_record(i).await.unwrap();
            }
            found.extend(list);
        }
        found
    });
    assert!(!found.is_empty());

    let admin = web.login(ADMIN, ADMIN_PW);
    let from = now - 600_000;
    let all = web.json(&format!("/api/v1/insights?from={from}"), &admin);
    assert_eq!(
        kinds(&all),
        vec![
            ("port_scan".into(), "192.0.2.2".into(), Value::from("198.51.100.66"), Value::from("10.9.0.2")),
            ("syn_flood".into(), "192.0.2.1".into(), Value::Null, Value::from("10.9.0.1")),
        ],
        "{all:#}"
    );
    let flood = all["insights"].as_array().unwrap().iter().find(|i| i["kind"] == "syn_flood").unwrap();
    assert_eq!(flood["detector"], "rule:syn_flood");
    assert!(flood["why"]["summary"].as_str().unwrap().contains("10.9.0.1"), "{flood:#}");
    assert!(flood["why"]["observed"][0]["value"].as_f64().unwrap() >= 300.0, "{flood:#}");

    // Filters, and a viewer scoped to 192.0.2.1 sees only its exporter's insight.
    let scans = web.json(&format!("/api/v1/insights?from={from}&kind=port_scan"), &admin);
    assert_eq!(kinds(&scans).len(), 1);
    let (_, viewer) = web.user(&admin, "viewer-one", "viewer", &["192.0.2.1"], &[]);
    let seen = web.json(&format!("/api/v1/insights?from={from}"), &viewer);
    assert_eq!(
        kinds(&seen),
        vec![("syn_flood".into(), "192.0.2.1".into(), Value::Null, Value::from("10.9.0.1"))]
    );
    let page = web.get("/insights", Some(&viewer));
    assert_eq!(page.status, Status::Ok);
    assert!(
        page.body.contains("data-kind=\"syn_flood\"") && !page.body.contains("data-kind=\"port_scan\""),
        "{}",
        page.body
    );
    assert!(web.get("/insights", Some(&admin)).body.contains("data-kind=\"port_scan\""));
    let hidden = web.json(&format!("/api/v1/insights?from={from}&exporter=192.0.2.2"), &viewer);
    assert_eq!(kinds(&hidden), vec![]);
    for bad in ["kind=ddos", "exporter=nope", "limit=0", "from=yesterday"] {
        let r = web.api("GET", &format!("/api/v1/insights?{bad}"), Cred::Session(&admin), None);
        assert_eq!(r.status, Status::BadRequest, "{bad}: {}", r.body);
    }
    assert_eq!(web.api("GET", "/api/v1/insights", Cred::None, None).status, Status::Unauthorized);

    // Markers on the overview chart: the insights of the window, within the scope.
    let overview = web.get("/?range=1h", Some(&viewer)).body;
    assert!(overview.contains("data-count=\"1\""), "{overview}");
    let markers =
        overview.split("data-markers=\"").nth(1).unwrap().split('"').next().unwrap().replace("&quot;", "\"");
    let markers: Value = serde_json::from_str(&markers).unwrap();
    assert_eq!(markers.as_array().unwrap().len(), 1, "{markers}");
    assert_eq!(markers[0]["kind"], "syn_flood");
    assert!(markers[0]["t"].as_i64().unwrap() >= now - 120_000, "{markers}");
    assert!(web.get("/?range=1h", Some(&admin)).body.contains("data-count=\"2\""));
    assert!(web.get("/?range=1h&exporter=192.0.2.2", Some(&admin)).body.contains("data-count=\"1\""));

    // Hosts: the behaviour class from the stored flows, within the caller's scope.
    let server = web.json("/api/v1/hosts/203.0.113.80", &admin);
    assert_eq!(server["class"], "web_server", "{server:#}");
    assert_eq!(server["detector"], "model:host_class@1");
    assert_eq!(server["flows"], 800, "200 exchanges, both directions, two exporters");
    assert!(server["why"]["top_features"][0]["feature"].is_string(), "{server:#}");
    let scanner = web.json("/api/v1/hosts/198.51.100.66", &admin);
    assert_eq!(scanner["class"], "scanner", "{scanner:#}");
    assert_eq!(scanner["insights"][0]["kind"], "port_scan", "{scanner:#}");
    // The viewer of 192.0.2.1 sees none of the scanner's flows (seen by 192.0.2.2 only)
    // and none of its insights; the flood's victim is theirs.
    let hidden = web.json("/api/v1/hosts/198.51.100.66", &viewer);
    assert_eq!((hidden["flows"].as_u64(), hidden["class"].is_null()), (Some(0), true), "{hidden:#}");
    assert_eq!(hidden["insights"], serde_json::json!([]));
    assert!(hidden["unclassified_because"].as_str().unwrap().contains("0 flows"), "{hidden:#}");
    assert_eq!(web.json("/api/v1/hosts/203.0.113.80", &viewer)["flows"], 400);
    let victim = web.json("/api/v1/hosts/10.9.0.1", &viewer);
    assert_eq!(victim["insights"][0]["kind"], "syn_flood", "{victim:#}");
    for bad in ["not-an-address", "10.9.0.1?from=2&to=1", "10.9.0.1?from=0&to=172800000", "10.9.0.1?to=soon"]
    {
        let r = web.api("GET", &format!("/api/v1/hosts/{bad}"), Cred::Session(&admin), None);
        assert_eq!(r.status, Status::BadRequest, "{bad}: {}", r.body);
    }
    assert_eq!(web.api("GET", "/api/v1/hosts/10.9.0.1", Cred::None, None).status, Status::Unauthorized);
    assert!(web.get("/insights", Some(&viewer)).body.contains("model:host_class@1</code> loaded"));
    let page = web.get("/hosts/198.51.100.66", Some(&admin)).body;
    assert!(page.contains("data-class=\"scanner\"") && page.contains("data-kind=\"port_scan\""), "{page}");
    let page = web.get("/hosts/198.51.100.66", Some(&viewer)).body;
    assert!(page.contains("Not classified: 0 flows") && !page.contains("data-kind=\"port_scan\""), "{page}");
    assert!(web.get("/insights", Some(&admin)).body.contains("href=\"/hosts/198.51.100.66\""));

    // Acknowledgement: analysts and up, within their scope, audited; viewers cannot.
    let id = |list: &Value, kind: &str| {
        list["insights"].as_array().unwrap().iter().find(|i| i["kind"] == kind).unwrap()["id"]
            .as_i64()
            .unwrap()
    };
    let (flood_id, scan_id) = (id(&all, "syn_flood"), id(&all, "port_scan"));
    let ack = |id: i64| format!("/api/v1/insights/{id}/acknowledge");
    assert_eq!(web.api("POST", &ack(flood_id), Cred::Session(&viewer), None).status, Status::Forbidden);
    let (_, analyst) = web.user(&admin, "analyst-one", "analyst", &["192.0.2.1"], &[]);
    let hidden = web.api("POST", &ack(scan_id), Cred::Session(&analyst), None);
    assert_eq!(hidden.status, Status::NotFound, "outside the analyst's scope: {}", hidden.body);
    assert_eq!(web.api("POST", &ack(i64::MAX), Cred::Session(&analyst), None).status, Status::NotFound);
    assert_eq!(
        web.api("POST", &ack(flood_id), Cred::SessionNoCsrf(&analyst), None).status,
        Status::Forbidden
    );
    let done = web.api("POST", &ack(flood_id), Cred::Session(&analyst), None);
    assert_eq!(done.status, Status::Ok, "{}", done.body);
    let done = done.json();
    assert_eq!(done["acknowledged_by"], "analyst-one");
    assert!(done["acknowledged_at"].is_string(), "{done:#}");
    let open = web.json(&format!("/api/v1/insights?from={from}&acknowledged=false"), &admin);
    assert_eq!(kinds(&open).len(), 1, "{open:#}");
    assert_eq!(open["insights"][0]["kind"], "port_scan");
    let acked = web.json(&format!("/api/v1/insights?from={from}&acknowledged=true"), &admin);
    assert_eq!(acked["insights"][0]["id"], flood_id);
    let bad = web.api("GET", "/api/v1/insights?acknowledged=maybe", Cred::Session(&admin), None);
    assert_eq!(bad.status, Status::BadRequest);
    assert!(web.get("/insights", Some(&viewer)).body.contains("acknowledged by analyst-one"));
    assert!(
        !web.get("/insights", Some(&viewer)).body.contains("data-test=\"acknowledge\""),
        "viewers get no button"
    );
    // The page's own buttons: reopen from the form, then acknowledge again.
    let r = web.post_csrf(&format!("/insights/{flood_id}/reopen"), &analyst, &[]);
    assert_eq!(r.status, Status::SeeOther, "{}", r.body);
    let page = web.get("/insights", Some(&analyst)).body;
    assert!(page.contains("data-test=\"acknowledge\"") && !page.contains("acknowledged by"), "{page}");
    assert_eq!(
        web.post_form(&format!("/insights/{flood_id}/acknowledge"), Some(&analyst), "").status,
        Status::Forbidden
    );
    let r = web.post_csrf(&format!("/insights/{flood_id}/acknowledge"), &analyst, &[]);
    assert_eq!(r.status, Status::SeeOther, "{}", r.body);
    let r = web.api("DELETE", &ack(flood_id), Cred::Session(&analyst), None);
    assert_eq!(r.status, Status::Ok, "{}", r.body);
    assert!(r.json()["acknowledged_by"].is_null());
    let audit = web.json("/api/v1/audit?limit=50", &admin).to_string();
    for action in ["insight.acknowledge", "insight.unacknowledge"] {
        assert!(audit.contains(action), "{action} not audited: {audit}");
    }

    // The backtest over the same range prints the same insights (no ids), one per line.
    let lines = backtest(web.pg.url(), now - 150_000, now);
    let backtest = kinds(&serde_json::json!({ "insights": lines }));
    assert_eq!(backtest, kinds(&all));
    for b in &lines {
        let stored = all["insights"].as_array().unwrap().iter().find(|s| s["kind"] == b["kind"]).unwrap();
        assert_eq!(
            (&b["start"], &b["end"], &b["severity"]),
            (&stored["start"], &stored["end"], &stored["severity"]),
            "{b:#} vs {stored:#}"
        );
        assert!(b["id"].is_null());
    }
    let bad = Command::new(BIN)
        .args(["insights", "backtest", "--from", "2", "--to", "1"])
        .env("DATABASE_URL", web.pg.url())
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
}

/// A damaged model file: the console starts, says why the classifier is missing, and
/// the deterministic detectors keep reporting.
#[test]
fn a_damaged_model_leaves_the_detectors_working_and_says_why() {
    let models = tempfile::tempdir().unwrap();
    let shipped =
        std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/insights/models/weights/host-classes.json"))
            .unwrap();
    std::fs::write(models.path().join("host-classes.json"), &shipped[..shipped.len() / 3]).unwrap();
    let dir = models.path().to_path_buf();
    let web = Web::start_with(move |c| {
        c.insights = false;
        c.models_dir = dir;
    });
    let now = now_ms();
    store(web.pg.url(), &attack_rows(now));
    let cfg = common::config(web.pg.url());
    let rt = rocket::tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let found = rt.block_on(async {
        let db = flowvision_web::data::Db::new(&cfg).unwrap();
        flowvision_web::insights::detect_range(&db, &cfg.insight_thresholds, now - 150_000, now)
            .await
            .unwrap()
    });
    assert!(found.iter().any(|i| i.kind.as_str() == "syn_flood"), "rules still run: {found:?}");
    let admin = web.login(ADMIN, ADMIN_PW);
    let host = web.json("/api/v1/hosts/203.0.113.80", &admin);
    assert!(host["class"].is_null() && host["detector"].is_null(), "{host:#}");
    let why = host["unclassified_because"].as_str().unwrap();
    assert!(why.contains("host-classes.json") && why.contains("is not a FlowVision model"), "{why}");
    assert_eq!(host["flows"], 800, "the rest of the report is there");
    let page = web.get("/insights", Some(&admin)).body;
    assert!(
        page.contains("Host behaviour classifier unavailable") && page.contains("is not a FlowVision model"),
        "{page}"
    );
}

/// Exfiltration, beaconing and a silent exporter, stored by the collector's store:
/// the tracker's contact rows and the external-bytes features are written with the
/// batches, and the backtest reports each with its hosts.
#[test]
fn exfiltration_beaconing_and_a_silent_exporter_are_found_from_what_the_store_wrote() {
    let web = Web::start_with(|c| c.insights = false);
    let now = now_ms();
    let (implant, c2, insider, drop) =
        (ip("10.9.0.7"), ip("203.0.113.66"), ip("10.9.0.8"), ip("198.51.100.9"));
    let mut rows = Vec::new();
    // Twelve check-ins a minute apart (± 2 s), each a new small TLS connection.
    for i in 0..12i64 {
        let t = now - 60_000 - (11 - i) * 60_000 + [0, 2_000, -1_000, 1_500][(i % 4) as usize];
        rows.push(row("192.0.2.1", t, implant, c2, 6, 40_000 + i as u16, 443, 0x1b, 12));
    }
    // Five one-minute records of 60 MB each uploaded out of the network, ACKs back.
    for m in 0..5i64 {
        let end = now - 30_000 - m * 55_000;
        let mut up = row("192.0.2.2", end, insider, drop, 6, 50_000, 443, 0x18, 40_000);
        up.record.bytes = 60_000_000;
        up.record.flow_start_ms = Some(end - 60_000);
        let mut back = row("192.0.2.2", end, drop, insider, 6, 443, 50_000, 0x10, 20_000);
        back.record.flow_start_ms = Some(end - 60_000);
        rows.extend([up, back]);
    }
    rows.sort_by_key(|r| r.time_received_ms);
    store(web.pg.url(), &rows);
    let contacts: i64 =
        web.pg.connect().unwrap().query_one("SELECT count(*) FROM host_beacons", &[]).unwrap().get(0);
    assert!(contacts >= 4, "{contacts} contact rows");
    // The contact rows that fill a spread column, and its largest value.
    let filled = |column: &str| -> (i64, Option<f32>) {
        let sql = format!("SELECT count({column}), max({column}) FROM host_beacons");
        let r = web.pg.connect().unwrap().query_one(&sql, &[]).unwrap();
        (r.get(0), r.get(1))
    };
    // Check-ins of one size: each row says so (the rule asks twice the contacts of a
    // pair whose sizes vary).
    let (with_spread, widest) = filled("size_jitter");
    assert_eq!(with_spread, contacts, "unsampled contacts carry their sizes' spread");
    assert!(widest.is_some_and(|w| w < 0.05), "{widest:?}");
    // And their intervals' spread over the pair's last sixteen, as regular as the last
    // eight for a check-in.
    let (with_long, loosest) = filled("long_jitter");
    assert_eq!(with_long, contacts, "every contact row carries its long spread");
    assert!(loosest.is_some_and(|j| j < 0.1), "{loosest:?}");

    // 192.0.2.3 carried 50 MB a minute in 10 flows at this time of day on each of the
    // last three days and nothing today.
    let mut history = Vec::new();
    for d in 1..=3i64 {
        for m in 0..40i64 {
            let t = now - d * 86_400_000 - m * 60_000;
            for f in 0..10u16 {
                let mut r =
                    row("192.0.2.3", t, ip("10.9.1.1"), ip("203.0.113.1"), 6, 40_000 + f, 443, 0x1b, 3_500);
                r.record.bytes = 5_000_000;
                history.push(r);
            }
        }
    }
    // 192.0.2.6 carried 50 MB a minute in 8 downloads on the last three days and today,
    // and today one host also backs up to an internal server in 12 streams reported
    // in 1-minute records, 600 MB a minute: bytes 13 times and flows 2.5 times the
    // usual, one host's transfer (the host rules' business), not a traffic anomaly.
    for d in 0..=3i64 {
        for m in 0..40i64 {
            let t = now - d * 86_400_000 - m * 60_000;
            for f in 0..8u16 {
                let mut r =
                    row("192.0.2.6", t, ip("203.0.113.3"), ip("10.9.3.1"), 6, 443, 40_000 + f, 0x1b, 4_500);
                r.record.bytes = 6_250_000;
                history.push(r);
            }
            for s in 0..12u16 {
                if d > 0 {
                    break;
                }
                let mut r =
                    row("192.0.2.6", t, ip("10.9.3.7"), ip("10.9.3.8"), 6, 50_000 + s, 22, 0x18, 35_000);
                r.record.bytes = 50_000_000;
                r.record.flow_start_ms = Some(t - 60_000);
                history.push(r);
            }
        }
    }
    // 192.0.2.4 carried as much in twice the flows (2.5 MB each), 30 MB a minute from
    // its interface 1 and 20 from interface 2 on the last three days, all 50 from
    // interface 2 today (its primary link failed over): the exporter's total is as
    // usual, both interfaces are not.
    for d in 0..=3i64 {
        for m in 0..40i64 {
            let t = now - d * 86_400_000 - m * 60_000;
            for f in 0..20u16 {
                let interface = if d == 0 || f >= 12 { 2 } else { 1 };
                let mut r =
                    row("192.0.2.4", t, ip("203.0.113.2"), ip("10.9.2.1"), 6, 443, 40_000 + f, 0x1b, 1_750);
                r.record.bytes = 2_500_000;
                r.record.in_if = interface;
                r.record.out_if = 3;
                history.push(r);
            }
        }
    }
    history.sort_by_key(|r| r.time_received_ms);
    store(web.pg.url(), &history);

    let lines = backtest(web.pg.url(), now - 900_000, now);
    let found = kinds(&serde_json::json!({ "insights": lines }));
    let s = |a: IpAddr| Value::String(a.to_string());
    assert_eq!(
        found,
        vec![
            ("beaconing".into(), "192.0.2.1".into(), s(implant), s(c2)),
            ("exfiltration".into(), "192.0.2.2".into(), s(insider), Value::Null),
            ("traffic_anomaly".into(), "192.0.2.3".into(), Value::Null, Value::Null),
            ("traffic_anomaly".into(), "192.0.2.4".into(), Value::Null, Value::Null),
            ("traffic_anomaly".into(), "192.0.2.4".into(), Value::Null, Value::Null),
        ],
        "{lines:#?}"
    );
    let mut moved: Vec<(Value, bool)> = lines
        .iter()
        .filter(|l| l["exporter"] == "192.0.2.4")
        .map(|l| (l["interface"].clone(), l["why"]["summary"].as_str().unwrap().contains("below its usual")))
        .collect();
    moved.sort_by_key(|(i, _)| i.as_i64());
    assert_eq!(moved, vec![(Value::from(1), true), (Value::from(2), false)], "{lines:#?}");
    assert!(lines.iter().filter(|l| l["exporter"] != "192.0.2.4").all(|l| l["interface"].is_null()));
    let traffic = lines.iter().find(|l| l["kind"] == "traffic_anomaly").unwrap();
    assert!(traffic["why"]["summary"].as_str().unwrap().contains("below its usual"), "{traffic:#}");

    // The exporter's pattern: today's silent slots against the band of the same slots
    // on the three days before (50 MB a minute: 6.67 Mbit/s).
    let admin = web.login(ADMIN, ADMIN_PW);
    let p = web.json("/api/v1/exporters/192.0.2.3/pattern", &admin);
    let points = p["points"].as_array().unwrap();
    assert_eq!((points.len(), p["step_seconds"].as_i64()), (288, Some(300)));
    let banded: Vec<&Value> = points.iter().filter(|p| !p["usual_bps"].is_null()).collect();
    assert!(banded.len() >= 6, "{} slots with a band", banded.len());
    for b in &banded {
        assert_eq!(b["bps"].as_f64(), Some(0.0));
        assert!(b["low_bps"].as_f64().unwrap() > 0.0, "{b}");
    }
    assert!(
        banded.iter().any(|b| (b["usual_bps"].as_f64().unwrap() - 6_666_666.7).abs() < 1.0),
        "{banded:?}"
    );
    let r = web.api("GET", "/api/v1/exporters/not-an-address/pattern", Cred::Session(&admin), None);
    assert_eq!(r.status, Status::NotFound);

    // The failed-over interface's pattern: its bytes both ways (30 MB a minute in on
    // it) on the previous days, none today.
    let p = web.json("/api/v1/exporters/192.0.2.4/interfaces/1/pattern", &admin);
    assert_eq!(p["interface"].as_i64(), Some(1));
    let points = p["points"].as_array().unwrap();
    let banded: Vec<&Value> = points.iter().filter(|p| !p["usual_bps"].is_null()).collect();
    assert!(banded.len() >= 6, "{} slots with a band", banded.len());
    assert!(banded.iter().all(|b| b["bps"].as_f64() == Some(0.0)), "{banded:?}");
    assert!(
        banded.iter().any(|b| (b["usual_bps"].as_f64().unwrap() - 4_000_000.0).abs() < 1.0),
        "{banded:?}"
    );
    // Interface 3 carried the same out, every day: today is inside its band.
    let p = web.json("/api/v1/exporters/192.0.2.4/interfaces/3/pattern", &admin);
    let today: Vec<&Value> = p["points"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| !p["usual_bps"].is_null() && p["bps"].as_f64() > Some(0.0))
        .collect();
    assert!(
        today.iter().any(
            |b| b["bps"].as_f64() >= b["low_bps"].as_f64() && b["bps"].as_f64() <= b["high_bps"].as_f64()
        ),
        "{today:?}"
    );
    let r = web.api("GET", "/api/v1/exporters/192.0.2.4/interfaces/0/pattern", Cred::Session(&admin), None);
    assert_eq!(r.status, Status::NotFound);

    // An interface's insight as the engine stores it: the API and the page name the
    // interface, and its flows link asks for it.
    let why = serde_json::to_value(&traffic["why"]).unwrap();
    web.pg
        .connect()
        .unwrap()
        .execute(
            "INSERT INTO insights (kind, severity, score, start_time, end_time, exporter, interface, detector, why) \
             VALUES ('traffic_anomaly', 'critical', 1, now() - interval '20 minutes', now() - interval '5 minutes', \
                     '192.0.2.4', 1, 'rule:traffic_anomaly', $1)",
            &[&why],
        )
        .unwrap();
    let listed = web.json("/api/v1/insights?kind=traffic_anomaly&exporter=192.0.2.4", &admin);
    assert_eq!(listed["insights"][0]["interface"].as_i64(), Some(1), "{listed}");
    let page = web.get("/insights?kind=traffic_anomaly", Some(&admin)).body;
    assert!(page.contains("ifIndex 1") && page.contains("interface=1"), "{page}");
}

#[test]
fn a_new_exporters_first_minutes_set_its_flood_floors() {
    // 192.0.2.5 exports for the first time at the start of a clock hour: 20 minutes of
    // answered web traffic (about 200 packets/s), then 30 s of 40 SYN/s from 20 sources
    // at 10.9.3.1, a fifth of the configured floor and a flood in a network this size.
    // With no previous hour, its own first minutes set the floor.
    let web = Web::start_with(|c| c.insights = false);
    let hour = now_ms() / 3_600_000 * 3_600_000 - 2 * 3_600_000;
    let (victim, server) = (ip("10.9.3.1"), ip("203.0.113.90"));
    let mut rows = Vec::new();
    for m in 0..20i64 {
        for k in 0..20u16 {
            // Clients and times vary from minute to minute (regular check-ins are beaconing).
            let t = hour + m * 60_000 + (i64::from(k) * 7_919 + m * 104_729) % 60_000;
            let client = IpAddr::V4(Ipv4Addr::new(10, 9, 4, ((i64::from(k) * 7 + m * 3) % 60) as u8 + 1));
            rows.push(row("192.0.2.5", t, client, server, 6, 40_000 + k, 443, 0x1b, 300));
            rows.push(row("192.0.2.5", t, server, client, 6, 443, 40_000 + k, 0x1b, 300));
        }
    }
    let flood_start = hour + 22 * 60_000;
    for i in 0..1_200u32 {
        let src = IpAddr::V4(Ipv4Addr::new(198, 51, 100, (i % 20) as u8 + 1));
        let t = flood_start + i64::from(i) * 25;
        rows.push(row("192.0.2.5", t, src, victim, 6, 1024 + (i % 60_000) as u16, 80, 0x02, 1));
    }
    rows.sort_by_key(|r| r.time_received_ms);
    store(web.pg.url(), &rows);

    let (from, to) = (flood_start - 60_000, flood_start + 120_000);
    let lines = backtest(web.pg.url(), from, to);
    let found = kinds(&serde_json::json!({ "insights": lines }));
    assert_eq!(
        found,
        vec![("syn_flood".into(), "192.0.2.5".into(), Value::Null, Value::String(victim.to_string()))],
        "{lines:#?}"
    );
}

/// The live rounds keep the rows they read and read again only those that may still
/// arrive late, every other round: a flood whose rows are stored after the first
/// round, within the settling time of their buckets, is in the second, which finds
/// what a backtest of its windows finds (it evaluates again only the windows the late
/// rows are in; what the two rounds store together is the backtest's); a round over
/// rows that did not change evaluates nothing again; late rows stored before a round
/// that does not look for them are in the one after it.
#[test]
fn live_rounds_read_late_rows_again_and_agree_with_the_backtest() {
    use flowvision_web::insights::{detect_range, live_round, KeptRows, LOOKBACK_MS};
    let web = Web::start_with(|c| c.insights = false);
    let now = now_ms();
    store(web.pg.url(), &attack_rows(now));
    // 10 s of 400 SYN/s at 10.9.0.7, stored only after the first round.
    let victim = ip("10.9.0.7");
    let late: Vec<FlowRow> = (0..4_000u32)
        .map(|i| {
            let src = IpAddr::V4(Ipv4Addr::from(0x2e00_0000 + i.wrapping_mul(2_654_435_761) % 0x00ff_ffff));
            row(
                "192.0.2.1",
                now - 70_000 + i64::from(i) * 10 / 4,
                src,
                victim,
                6,
                1024 + i as u16,
                80,
                0x02,
                1,
            )
        })
        .collect();
    // The same at 10.9.0.8, stored after the fourth round.
    let late_again: Vec<FlowRow> = late
        .iter()
        .map(|r| {
            let mut r = *r;
            r.record.dst_addr = Some(ip("10.9.0.8"));
            r
        })
        .collect();
    let cfg = common::config(web.pg.url());
    let rt = rocket::tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let (first, second, whole) = rt.block_on(async {
        let db = flowvision_web::data::Db::new(&cfg).unwrap();
        let t = &cfg.insight_thresholds;
        let mut kept = KeptRows::default();
        let at = now - 35_000;
        let first = live_round(&db, t, &mut kept, at).await.unwrap();
        store(web.pg.url(), &late);
        let second = live_round(&db, t, &mut kept, at + 5_000).await.unwrap();
        // What the engine stores from both rounds (each extending what it continues),
        // against a backtest of every window either round covered.
        let latest = |at: i64| at.div_euclid(flowvision_insights::BUCKET_MS) * flowvision_insights::BUCKET_MS;
        let whole = detect_range(&db, t, latest(at) - LOOKBACK_MS, latest(at + 5_000)).await.unwrap();
        // Nothing stored since: no window is evaluated again (its detections are stored),
        // whether the round looks for late rows (the fourth) or not (the third).
        for round in [3, 4] {
            let again = live_round(&db, t, &mut kept, at + 5_000).await.unwrap();
            assert_eq!(again, vec![], "round {round} over unchanged rows evaluated windows again");
        }
        // A second late flood: not looked for in the fifth round, found in the sixth.
        store(web.pg.url(), &late_again);
        let fifth = live_round(&db, t, &mut kept, at + 5_000).await.unwrap();
        assert_eq!(fifth, vec![], "the fifth round does not look for late rows");
        let sixth = live_round(&db, t, &mut kept, at + 5_000).await.unwrap();
        assert!(
            sixth
                .iter()
                .any(|i| i.kind == flowvision_insights::Kind::SynFlood && i.target == Some(ip("10.9.0.8"))),
            "{sixth:#?}"
        );
        (first, second, whole)
    });
    let targets = |v: &[flowvision_insights::Insight]| -> Vec<Option<IpAddr>> {
        v.iter().filter(|i| i.kind == flowvision_insights::Kind::SynFlood).map(|i| i.target).collect()
    };
    assert_eq!(targets(&first), vec![Some(ip("10.9.0.1"))], "{first:#?}");
    let mut flooded = targets(&second);
    flooded.sort();
    assert_eq!(flooded, vec![Some(ip("10.9.0.1")), Some(victim)], "{second:#?}");
    let mut stored = flowvision_insights::Timeline::default();
    for i in first.into_iter().chain(second) {
        stored.absorb(i);
    }
    assert_eq!(stored.into_insights(), whole);
}

/// A feature row as compared: transaction, bucket ms, exporter, host, counters, sketches.
type ReadRow = (i64, i64, IpAddr, IpAddr, Vec<i64>, Vec<Vec<u8>>);

#[test]
fn feature_rows_read_by_copy_are_those_the_collector_wrote() {
    use flowvision_insights::features::{Counters, HostFeatures, InternalNetworks};
    let web = Web::start_with(|c| c.insights = false);
    let now = now_ms();
    let mut rows = attack_rows(now);
    // IPv6 hosts too (inet's other binary form).
    for i in 0..40u16 {
        let (a, b) = (ip("2001:db8::10"), IpAddr::from([0x2001, 0xdb8, 1, 0, 0, 0, 0, i]));
        rows.push(row("192.0.2.1", now - 80_000 + i64::from(i) * 500, a, b, 17, 5_000 + i, 53, 0, 2));
    }
    store(web.pg.url(), &rows);
    let cfg = common::config(web.pg.url());
    let rt = rocket::tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let (client, conn) = tokio_postgres::connect(web.pg.url(), tokio_postgres::NoTls).await.unwrap();
        rocket::tokio::spawn(conn);
        let (from, to) = (now - 3_600_000, now + 60_000);
        // tokio-postgres's own decoding of the same rows, as the reads did before COPY.
        let sql = format!(
            "SELECT xmin::text::bigint, (extract(epoch FROM bucket) * 1000)::bigint, exporter, host, {}, {} \
             FROM host_features",
            Counters::NAMES.join(", "),
            HostFeatures::SKETCH_NAMES.join(", ")
        );
        let mut want: Vec<ReadRow> = client
            .query(&sql, &[])
            .await
            .unwrap()
            .iter()
            .map(|r| {
                let counters = (0..Counters::NAMES.len()).map(|i| r.get(4 + i)).collect();
                let sketches = (0..4).map(|i| r.get::<_, Vec<u8>>(4 + Counters::NAMES.len() + i)).collect();
                (r.get(0), r.get(1), r.get(2), r.get(3), counters, sketches)
            })
            .collect();
        want.sort_by_key(|a| (a.0, a.1, a.2, a.3));
        assert!(want.len() > 100 && want.iter().any(|w| w.3.is_ipv6()), "{} rows", want.len());

        let db = flowvision_web::data::Db::new(&cfg).unwrap();
        let read = |held: Vec<(i64, i64)>| {
            let db = &db;
            async move {
                let mut out = Vec::new();
                db.engine_feature_rows_not_held(from, to, &held, &mut out).await.unwrap();
                out
            }
        };
        let mut got: Vec<_> = read(vec![])
            .await
            .into_iter()
            .map(|(x, k, f)| {
                let sketches = f.sketches().iter().map(|s| s.as_bytes().to_vec()).collect();
                (x, k.bucket_ms, k.exporter, k.host, f.counters.fields().to_vec(), sketches)
            })
            .collect();
        got.sort_by_key(|a| (a.0, a.1, a.2, a.3));
        assert_eq!(got, want);

        // Held: every row of one transaction in each of its buckets is left out, and
        // holding all of them leaves nothing.
        let xid = want[0].0;
        let held: Vec<(i64, i64)> = want.iter().filter(|w| w.0 == xid).map(|w| (w.1, w.0)).collect();
        let rest = read(held).await;
        assert_eq!(rest.len(), want.iter().filter(|w| w.0 != xid).count());
        assert!(rest.iter().all(|(x, _, _)| *x != xid));
        let all: Vec<(i64, i64)> = want.iter().map(|w| (w.1, w.0)).collect();
        assert!(read(all).await.is_empty());

        // Within: only the hosts inside the prefixes.
        let within = InternalNetworks::parse("10.9.0.0/24, 2001:db8:1::/48").unwrap();
        let own = db.engine_feature_rows_within(from, to, &within).await.unwrap();
        let inside = want.iter().filter(|w| within.contains(w.3)).count();
        assert!(inside > 0 && inside < want.len());
        assert_eq!(own.len(), inside);
        assert!(own.iter().all(|(k, _)| within.contains(k.host)));
    });
}
