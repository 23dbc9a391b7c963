//! Every API endpoint against a real PostgreSQL holding flows stored by the
//! collector's own store; expected values are computed from the stored rows.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use common::*;
use flowvision_collector::store::FlowRow;
use rocket::http::Status;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::net::IpAddr;

fn series_bytes(v: &Value) -> f64 {
    let step = v["step_seconds"].as_f64().unwrap();
    v["points"].as_array().unwrap().iter().map(|p| p["bps"].as_f64().unwrap() * step / 8.0).sum()
}

#[test]
fn every_endpoint_with_real_flows() {
    let (web, rows) = Web::with_data();
    let admin = web.login(ADMIN, ADMIN_PW);
    let total = bytes_of(&rows, None);
    let mut checked = 0;

    // /me
    let me = web.json("/api/v1/me", &admin);
    assert_eq!(me["role"], "admin");
    assert_eq!(me["scope"]["all"], true);
    checked += 1;

    // traffic, both resolutions, and narrowed to one exporter.
    let t = web.json("/api/v1/traffic?range=1h", &admin);
    assert_eq!(t["resolution"], "1m");
    assert_eq!(t["total_bytes"].as_i64().unwrap(), total);
    assert_eq!(t["total_flows"].as_i64().unwrap(), rows.len() as i64);
    assert!((series_bytes(&t) - total as f64).abs() < 1.0, "points add up to the total");
    assert!(t["points"].as_array().unwrap().len() >= 60);
    let d = web.json("/api/v1/traffic?range=24h", &admin);
    assert_eq!(d["resolution"], "1h");
    assert_eq!(d["total_bytes"].as_i64().unwrap(), total);
    let b = web.json(&format!("/api/v1/traffic?range=6h&exporter={}", EXPORTERS[1]), &admin);
    assert_eq!(b["total_bytes"].as_i64().unwrap(), bytes_of(&rows, Some(EXPORTERS[1])));
    let now = now_ms();
    let custom = web.json(&format!("/api/v1/traffic?from={}&to={}", now - 3_600_000, now + 60_000), &admin);
    assert_eq!(custom["total_bytes"].as_i64().unwrap(), total);
    assert_eq!(web.get("/api/v1/traffic?range=9y", Some(&admin)).status, Status::BadRequest);
    assert_eq!(web.get("/api/v1/traffic?from=yesterday", Some(&admin)).status, Status::BadRequest);
    checked += 1;

    // top-N tables, compared with rankings computed from the rows.
    let src = ranked(&rows, |r| r.record.src_addr.unwrap().to_string());
    let got = web.json("/api/v1/top/talkers?range=1h&limit=5", &admin);
    assert_eq!(items(&got), src[..5].to_vec());
    assert_eq!(got["total_bytes"].as_i64().unwrap(), total);
    let dst = ranked(&rows, |r| r.record.dst_addr.unwrap().to_string());
    assert_eq!(items(&web.json("/api/v1/top/talkers?range=1h&side=dst", &admin)), dst);
    let svc = ranked(&rows, |r| format!("{}/{}", r.record.proto, r.record.dst_port));
    let got = web.json("/api/v1/top/services?range=1h", &admin);
    assert_eq!(items(&got), svc);
    assert!(got["items"][0]["label"].as_str().unwrap().contains(' '));
    let proto = ranked(&rows, |r| r.record.proto.to_string());
    assert_eq!(items(&web.json("/api/v1/top/protocols?range=1h", &admin)), proto);
    let asn = ranked(&rows, |r| r.record.src_as.to_string());
    assert_eq!(items(&web.json("/api/v1/top/as?range=1h", &admin)), asn);
    let pairs = ranked(&rows, |r| format!("{}>{}", r.record.src_as, r.record.dst_as));
    assert_eq!(items(&web.json("/api/v1/top/as?range=7d&side=pair", &admin)), pairs);
    assert_eq!(
        items(&web.json("/api/v1/top/as?range=1h&side=dst", &admin)),
        vec![("64999".to_string(), total)]
    );
    assert_eq!(web.get("/api/v1/top/as?side=sideways", Some(&admin)).status, Status::BadRequest);
    checked += 5;

    // exporters and health.
    let ex = web.json("/api/v1/exporters", &admin);
    let list = ex["exporters"].as_array().unwrap();
    let mut addrs: Vec<&str> = list.iter().map(|e| e["exporter"].as_str().unwrap()).collect();
    addrs.sort();
    let mut want = EXPORTERS.to_vec();
    want.sort();
    assert_eq!(addrs, want);
    for e in list {
        assert_eq!(e["status"], "up", "{e}");
        assert_eq!(e["flows"].as_i64().unwrap(), 120);
    }
    let c = web.json("/api/v1/exporters/2001:db8::1", &admin);
    assert_eq!(c["sequence_lost"].as_i64().unwrap(), 14);
    // Counters of the current minute are not in the last complete minutes: 0, not a sum over nothing.
    assert!(c["rates"]["sequence_lost"].as_i64().unwrap() <= 14, "{c}");
    assert!(c["rates"]["decode_errors"].as_i64().unwrap() <= 2, "{c}");
    assert_eq!(c["active_templates"].as_i64().unwrap(), 1);
    assert_eq!(c["protocol"], "netflow_v9");
    assert_eq!(web.get("/api/v1/exporters/198.51.100.99", Some(&admin)).status, Status::NotFound);
    assert_eq!(web.get("/api/v1/exporters/not-an-ip", Some(&admin)).status, Status::NotFound);
    checked += 2;

    // interfaces of exporter A: in on 1 and 2, out on 6.
    let a = EXPORTERS[0];
    let ifs = web.json(&format!("/api/v1/exporters/{a}/interfaces?range=1h"), &admin);
    let by: HashMap<i64, (i64, i64)> = ifs["interfaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["ifindex"].as_i64().unwrap(),
                (i["in_bytes"].as_i64().unwrap(), i["out_bytes"].as_i64().unwrap()),
            )
        })
        .collect();
    let a_rows: Vec<FlowRow> =
        rows.iter().filter(|r| r.record.exporter == a.parse::<IpAddr>().unwrap()).copied().collect();
    let in1 = a_rows.iter().filter(|r| r.record.in_if == 1).map(|r| r.record.bytes as i64).sum::<i64>();
    assert_eq!(by[&1].0, in1);
    assert_eq!(by[&1].0 + by[&2].0, bytes_of(&rows, Some(a)));
    assert_eq!(by[&6].1, bytes_of(&rows, Some(a)));
    let it = web.json(&format!("/api/v1/exporters/{a}/interfaces/1/traffic?range=1h"), &admin);
    let in_sum: f64 =
        it["points"].as_array().unwrap().iter().map(|p| p["in_bps"].as_f64().unwrap() * 60.0 / 8.0).sum();
    assert!((in_sum - in1 as f64).abs() < 1.0);
    checked += 2;

    // flow search: paging, filters, caps, invalid input.
    let from = now - 3_600_000;
    let q = |extra: &str| format!("/api/v1/flows?from={from}&page_size=1000{extra}");
    let count = |extra: &str| web.json(&q(extra), &admin)["rows"].as_array().unwrap().len();
    assert_eq!(count(""), rows.len());
    let p1 = web.json(&format!("/api/v1/flows?from={from}&page_size=100"), &admin);
    assert_eq!(p1["has_more"], true);
    let p4 = web.json(&format!("/api/v1/flows?from={from}&page_size=100&page=4"), &admin);
    assert_eq!(p4["rows"].as_array().unwrap().len(), 60);
    assert_eq!(p4["has_more"], false);
    assert_eq!(count("&src=10.1.0.3"), 15);
    assert_eq!(count("&src=10.1.0.0/24&port=443&proto=tcp"), 120);
    assert_eq!(count("&port=5432"), 120);
    assert_eq!(count("&proto=17"), 120);
    assert_eq!(count("&exporter=2001:db8::1"), 120);
    assert_eq!(count("&interface=2"), 60);
    assert_eq!(count("&in_if=12"), 60);
    assert_eq!(count("&out_if=6"), 120);
    assert_eq!(count("&addr=2001:db8:c::/48"), 120);
    assert_eq!(count("&dst=203.0.113.9"), 240);
    assert_eq!(count("&dst_port=443&src_port=40001"), 1);
    let one = web.json(&q("&exporter=192.0.2.2&src=10.2.0.1&src_port=40000"), &admin);
    let r0 = &one["rows"][0];
    assert_eq!(r0["sampling_rate"].as_i64().unwrap(), 10);
    assert_eq!(r0["bytes_scaled"].as_i64().unwrap(), r0["bytes"].as_i64().unwrap() * 10);
    assert_eq!(r0["protocol"], "ipfix");
    for bad in ["&src=1.2.3.4'%20OR%201=1", "&port=70000", "&proto=banana", "&interface=-1", "&page=1000"] {
        assert_eq!(web.get(&q(bad), Some(&admin)).status, Status::BadRequest, "{bad}");
    }
    assert_eq!(
        web.get(&format!("/api/v1/flows?from={}&to={now}", now - 8 * 86_400_000), Some(&admin)).status,
        Status::BadRequest
    );
    checked += 1;

    // CSV export.
    let csv = web.get(&format!("/api/v1/flows/export?from={from}"), Some(&admin));
    assert_eq!(csv.status, Status::Ok);
    assert!(csv.header("Content-Type").unwrap().starts_with("text/csv"));
    assert!(csv.header("Content-Disposition").unwrap().starts_with("attachment"));
    assert_eq!(csv.header("X-FlowVision-Truncated"), Some("false"));
    let lines: Vec<&str> = csv.body.lines().collect();
    assert_eq!(lines[0], flowvision_web::data::flows::CSV_COLUMNS.join(","));
    assert_eq!(lines.len(), rows.len() + 1);
    let csv_b = web.get(&format!("/api/v1/flows/export?from={from}&exporter={}", EXPORTERS[1]), Some(&admin));
    assert_eq!(csv_b.body.lines().count(), 121);
    assert!(csv_b.body.lines().skip(1).all(|l| l.split(',').nth(1) == Some(EXPORTERS[1])));
    checked += 1;

    // collector statistics.
    let st = web.json("/api/v1/collector/stats", &admin);
    let inst = &st["instances"][0];
    assert_eq!(inst["host"], "test-collector");
    let counters: HashMap<String, i64> = inst["counters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["name"].as_str().unwrap().to_string(), c["value"].as_i64().unwrap()))
        .collect();
    assert_eq!(counters["datagrams_received"], 1234);
    assert_eq!(counters["records_decoded"], rows.len() as i64);
    checked += 1;

    // tokens: create (session only), use, list, revoke.
    let r = web.api(
        "POST",
        "/api/v1/tokens",
        Cred::Session(&admin),
        Some(json!({"name": "ci", "expires_days": 30})),
    );
    assert_eq!(r.status, Status::Created, "{}", r.body);
    let tok = r.json()["token"].as_str().unwrap().to_string();
    let tid = r.json()["id"].as_i64().unwrap();
    assert!(tok.starts_with("fvt_"));
    let me = web.get_bearer("/api/v1/me", &tok).json();
    assert_eq!(me["auth"], "token");
    assert_eq!(
        web.get_bearer("/api/v1/traffic?range=1h", &tok).json()["total_bytes"].as_i64().unwrap(),
        total
    );
    let r = web.api("POST", "/api/v1/tokens", Cred::Token(&tok), Some(json!({"name": "child"})));
    assert_eq!(r.status, Status::Forbidden, "a token cannot mint tokens");
    let list = web.json("/api/v1/tokens", &admin);
    assert_eq!(list["tokens"].as_array().unwrap().len(), 1);
    assert!(!list.to_string().contains(&tok), "token values are never listed");
    assert_eq!(
        web.api("DELETE", &format!("/api/v1/tokens/{tid}"), Cred::Session(&admin), None).status,
        Status::NoContent
    );
    assert_eq!(web.get_bearer("/api/v1/me", &tok).status, Status::Unauthorized);
    assert_eq!(
        web.api("DELETE", &format!("/api/v1/tokens/{tid}"), Cred::Session(&admin), None).status,
        Status::NotFound
    );
    checked += 3;

    // users: create, get, patch, unlock, reset, sessions, delete.
    let r = web.api(
        "POST",
        "/api/v1/users",
        Cred::Session(&admin),
        Some(json!({"username": "ops1", "role": "operator", "prefixes": ["192.0.2.0/24"]})),
    );
    assert_eq!(r.status, Status::Created, "{}", r.body);
    let uid = r.json()["id"].as_i64().unwrap();
    let otp = r.json()["one_time_password"].as_str().unwrap().to_string();
    assert_eq!(otp.len(), 20);
    let dup = web.api(
        "POST",
        "/api/v1/users",
        Cred::Session(&admin),
        Some(json!({"username": "OPS1", "role": "viewer"})),
    );
    assert_eq!(dup.status, Status::Conflict);
    let bad = web.api(
        "POST",
        "/api/v1/users",
        Cred::Session(&admin),
        Some(json!({"username": "x y", "role": "viewer"})),
    );
    assert_eq!(bad.status, Status::BadRequest);
    let u = web.json(&format!("/api/v1/users/{uid}"), &admin);
    assert_eq!(u["role"], "operator");
    assert_eq!(u["prefixes"], json!(["192.0.2.0/24"]));
    assert_eq!(u["must_change_password"], true);
    let users = web.json("/api/v1/users", &admin);
    assert_eq!(users["users"].as_array().unwrap().len(), 2);
    let r = web.api(
        "PATCH",
        &format!("/api/v1/users/{uid}"),
        Cred::Session(&admin),
        Some(json!({"role": "analyst"})),
    );
    assert_eq!(r.status, Status::NoContent, "{}", r.body);
    assert_eq!(web.json(&format!("/api/v1/users/{uid}"), &admin)["role"], "analyst");
    assert_eq!(web.json(&format!("/api/v1/users/{uid}"), &admin)["prefixes"], json!(["192.0.2.0/24"]));
    assert_eq!(
        web.api("POST", &format!("/api/v1/users/{uid}/unlock"), Cred::Session(&admin), None).status,
        Status::NoContent
    );
    let r = web.api("POST", &format!("/api/v1/users/{uid}/password-reset"), Cred::Session(&admin), None);
    let otp2 = r.json()["one_time_password"].as_str().unwrap().to_string();
    assert_ne!(otp, otp2);
    let s = web.login("ops1", &otp2);
    let r = web.api("DELETE", &format!("/api/v1/users/{uid}/sessions"), Cred::Session(&admin), None);
    assert_eq!(r.json()["sessions_ended"].as_i64().unwrap(), 1);
    assert_eq!(web.get("/api/v1/me", Some(&s)).status, Status::Unauthorized);
    let admin_id = web.json("/api/v1/me", &admin)["id"].as_i64().unwrap();
    let r = web.api(
        "PATCH",
        &format!("/api/v1/users/{admin_id}"),
        Cred::Session(&admin),
        Some(json!({"role": "viewer"})),
    );
    assert_eq!(r.status, Status::Conflict, "the last admin stays admin");
    assert_eq!(
        web.api("DELETE", &format!("/api/v1/users/{admin_id}"), Cred::Session(&admin), None).status,
        Status::Conflict
    );
    assert_eq!(
        web.api("DELETE", &format!("/api/v1/users/{uid}"), Cred::Session(&admin), None).status,
        Status::NoContent
    );
    assert_eq!(web.get(&format!("/api/v1/users/{uid}"), Some(&admin)).status, Status::NotFound);
    checked += 8;

    // device groups.
    let r = web.api(
        "POST",
        "/api/v1/groups",
        Cred::Session(&admin),
        Some(json!({"name": "core", "description": "core routers", "prefixes": ["192.0.2.1", "2001:db8::/32"]})),
    );
    assert_eq!(r.status, Status::Created, "{}", r.body);
    let gid = r.json()["id"].as_i64().unwrap();
    let g = web.json("/api/v1/groups", &admin);
    assert_eq!(g["groups"][0]["prefixes"], json!(["192.0.2.1/32", "2001:db8::/32"]));
    let r = web.api(
        "PUT",
        &format!("/api/v1/groups/{gid}"),
        Cred::Session(&admin),
        Some(json!({"name": "core2", "prefixes": []})),
    );
    assert_eq!(r.status, Status::NoContent);
    assert_eq!(web.json("/api/v1/groups", &admin)["groups"][0]["name"], "core2");
    let r = web.api(
        "POST",
        "/api/v1/groups",
        Cred::Session(&admin),
        Some(json!({"name": "bad", "prefixes": ["nope"]})),
    );
    assert_eq!(r.status, Status::BadRequest);
    assert_eq!(
        web.api("DELETE", &format!("/api/v1/groups/{gid}"), Cred::Session(&admin), None).status,
        Status::NoContent
    );
    assert_eq!(
        web.api("DELETE", &format!("/api/v1/groups/{gid}"), Cred::Session(&admin), None).status,
        Status::NotFound
    );
    checked += 4;

    // password change through the API.
    let r = web.api(
        "POST",
        "/api/v1/me/password",
        Cred::Session(&admin),
        Some(json!({"current_password": "wrong-password-1", "new_password": "another-password-99"})),
    );
    assert_eq!(r.status, Status::Forbidden);
    let r = web.api(
        "POST",
        "/api/v1/me/password",
        Cred::Session(&admin),
        Some(json!({"current_password": ADMIN_PW, "new_password": "another-password-99"})),
    );
    assert_eq!(r.status, Status::NoContent, "{}", r.body);
    assert_eq!(
        web.get("/api/v1/me", Some(&admin)).status,
        Status::Unauthorized,
        "sessions end with the change"
    );
    let admin = web.login(ADMIN, "another-password-99");
    checked += 1;

    // audit log.
    let audit = web.json("/api/v1/audit?limit=1000", &admin);
    let actions: Vec<&str> =
        audit["entries"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    for a in [
        "login",
        "user.create",
        "user.update",
        "user.delete",
        "user.password_reset",
        "user.unlock",
        "user.sessions_revoke",
        "token.create",
        "token.revoke",
        "group.create",
        "group.update",
        "group.delete",
        "password.change",
    ] {
        assert!(actions.contains(&a), "audit lacks {a}: {actions:?}");
    }
    let logins = web.json("/api/v1/audit?action=login", &admin);
    assert!(logins["entries"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["action"].as_str().unwrap().starts_with("login")));
    let first = audit["entries"][0]["id"].as_i64().unwrap();
    let older = web.json(&format!("/api/v1/audit?before={first}&limit=2"), &admin);
    assert!(older["entries"].as_array().unwrap().iter().all(|e| e["id"].as_i64().unwrap() < first));
    checked += 1;

    // docs.
    assert_eq!(web.get("/api_docs", Some(&admin)).status, Status::Ok);
    assert_eq!(web.get("/api_docs/openapi.json", Some(&admin)).json()["openapi"], "3.0.3");
    checked += 2;
    println!(
        "{checked} API endpoints checked against {} stored flows of {} exporters",
        rows.len(),
        EXPORTERS.len()
    );
}
