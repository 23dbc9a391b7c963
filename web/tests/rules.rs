//! Forwarding rules and exporter names through the API, on a real PostgreSQL: add,
//! edit, disable, delete; a bad filter answered with the position of its bad token;
//! viewers and scoped operators refused; every change in the audit log; the table's
//! NOTIFY (what makes collectors reload) fires; relay counters read from a snapshot.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use common::*;
use flowvision_tests::postgres::fallible_iterator::FallibleIterator;
use rocket::http::Status;
use serde_json::json;

fn audit_actions(web: &Web, admin: &Session, prefix: &str) -> Vec<(String, String)> {
    let a = web.json(&format!("/api/v1/audit?action={prefix}&limit=1000"), admin);
    a["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["action"].as_str().unwrap().to_string(), e["target"].as_str().unwrap().to_string()))
        .collect()
}

#[test]
fn rules_crud_checks_permissions_and_audit() {
    let web = Web::start();
    let admin = web.login(ADMIN, ADMIN_PW);
    let (_, op) = web.user(&admin, "op", "operator", &[], &[]);
    // An operator with every exporter (through the API: all_exporters).
    let r = web.api(
        "POST",
        "/api/v1/users",
        Cred::Session(&admin),
        Some(json!({"username": "opall", "role": "operator", "all_exporters": true, "password": "opall-initial-password"})),
    );
    assert_eq!(r.status, Status::Created, "{}", r.body);
    let opall = {
        let s = web.login("opall", "opall-initial-password");
        let r = web.post_csrf(
            "/account/password",
            &s,
            &[
                ("current_password", "opall-initial-password"),
                ("new_password", "opall-chosen-pw-1"),
                ("confirm_password", "opall-chosen-pw-1"),
            ],
        );
        let cookie = r.set_cookie("fv_session").unwrap();
        let csrf = web.csrf_of(&cookie);
        Session { cookie, csrf }
    };
    let (_, viewer) = web.user(&admin, "viewer", "viewer", &[], &[]);
    let (_, analyst) = web.user(&admin, "analyst", "analyst", &[], &[]);

    // Someone listening like a collector does.
    let mut listener = web.pg.connect().unwrap();
    listener.batch_execute("LISTEN forward_rules").unwrap();

    // A typo in the filter: 400 pointing at the token.
    let bad = json!({"name": "web", "filter": "proto tcp and dts port 443", "action": "raw", "destination": "127.0.0.1:9995"});
    let r = web.api("POST", "/api/v1/rules", Cred::Session(&opall), Some(bad.clone()));
    assert_eq!(r.status, Status::BadRequest, "{}", r.body);
    let e = r.json();
    println!("bad filter answer: {e}");
    assert_eq!(e["field"], "filter");
    assert_eq!(e["position"], 14);
    assert_eq!(e["token"], "dts");
    // The checker says the same, and accepts the fix.
    let c = web.api(
        "POST",
        "/api/v1/rules/check",
        Cred::Session(&opall),
        Some(json!({"filter": "proto tcp and dts port 443"})),
    );
    assert_eq!(c.status, Status::Ok);
    assert_eq!(c.json()["valid"], false);
    assert_eq!(c.json()["position"], 14);
    let c = web.api(
        "POST",
        "/api/v1/rules/check",
        Cred::Session(&opall),
        Some(json!({"filter": "proto tcp and dst port 443"})),
    );
    assert_eq!(c.json()["valid"], true);
    // Other invalid parts name their field.
    for (body, field) in [
        (json!({"name": "x", "filter": "any", "action": "raw"}), "action"),
        (json!({"name": "x", "filter": "any", "action": "raw", "destination": "nowhere"}), "destination"),
        (
            json!({"name": "x", "filter": "any", "action": "reencode", "destination": "127.0.0.1:1", "protocol": "v5"}),
            "protocol",
        ),
        (json!({"name": "x", "filter": "any", "action": "bounce", "destination": "127.0.0.1:1"}), "action"),
        (json!({"name": "", "filter": "any", "action": "drop"}), "name"),
    ] {
        let r = web.api("POST", "/api/v1/rules", Cred::Session(&opall), Some(body));
        assert_eq!(r.status, Status::BadRequest, "{}", r.body);
        assert_eq!(r.json()["field"], field, "{}", r.body);
    }

    // Refused: viewer, analyst (role), operator without all exporters (scope), no CSRF.
    let good = json!({"name": "web", "filter": "proto tcp and dst port 443", "action": "raw", "destination": "127.0.0.1:9995"});
    for s in [&viewer, &analyst, &op] {
        let r = web.api("POST", "/api/v1/rules", Cred::Session(s), Some(good.clone()));
        assert_eq!(r.status, Status::Forbidden, "{}", r.body);
    }
    for s in [&viewer, &analyst] {
        assert_eq!(web.get("/api/v1/rules", Some(s)).status, Status::Forbidden);
        assert_eq!(web.get("/rules", Some(s)).status, Status::Forbidden);
    }
    let r = web.api("POST", "/api/v1/rules", Cred::SessionNoCsrf(&opall), Some(good.clone()));
    assert_eq!(r.status, Status::Forbidden);
    assert_eq!(web.json("/api/v1/rules", &op)["rules"].as_array().unwrap().len(), 0);

    // Add.
    let r = web.api("POST", "/api/v1/rules", Cred::Session(&opall), Some(good.clone()));
    assert_eq!(r.status, Status::Created, "{}", r.body);
    assert_eq!(r.json()["enabled"], true);
    assert_eq!(web.api("POST", "/api/v1/rules", Cred::Session(&opall), Some(good)).status, Status::Conflict);
    // The collectors' channel fired.
    let n = listener
        .notifications()
        .timeout_iter(std::time::Duration::from_secs(5))
        .next()
        .unwrap()
        .expect("a NOTIFY on forward_rules within 5 s");
    assert_eq!(n.channel(), "forward_rules");
    // It is what a collector loads.
    let mut c = web.pg.connect().unwrap();
    let stored = c
        .query_one("SELECT filter, destination, action, enabled FROM forward_rules WHERE name = 'web'", &[])
        .unwrap();
    assert_eq!(stored.get::<_, String>(0), "proto tcp and dst port 443");
    assert_eq!(stored.get::<_, Option<String>>(1).as_deref(), Some("127.0.0.1:9995"));

    // Edit (with a rename), and the old name is gone.
    let r = web.api(
        "PUT",
        "/api/v1/rules/web",
        Cred::Session(&admin),
        Some(json!({"name": "https", "filter": "proto tcp and port 443", "action": "reencode", "destination": "127.0.0.1:9996", "protocol": "ipfix", "position": 5})),
    );
    assert_eq!(r.status, Status::Ok, "{}", r.body);
    assert_eq!(r.json()["protocol"], "ipfix");
    assert_eq!(web.get("/api/v1/rules/web", Some(&op)).status, Status::NotFound);
    let r = web.api(
        "PUT",
        "/api/v1/rules/https",
        Cred::Session(&opall),
        Some(json!({"name": "https", "filter": "port (", "action": "drop"})),
    );
    assert_eq!(r.status, Status::BadRequest);
    assert_eq!(r.json()["field"], "filter");

    // Disable, enable.
    let r = web.api("PATCH", "/api/v1/rules/https", Cred::Session(&opall), Some(json!({"enabled": false})));
    assert_eq!(r.status, Status::Ok, "{}", r.body);
    assert_eq!(web.json("/api/v1/rules/https", &op)["enabled"], false);
    let r = web.api("PATCH", "/api/v1/rules/https", Cred::Session(&op), Some(json!({"enabled": true})));
    assert_eq!(r.status, Status::Forbidden);

    // Counters: a collector snapshot with relay keys shows up on the rule.
    c.execute(
        "INSERT INTO collector_stats (time, instance, host, started_at, counters) VALUES (now(), 7, 'h', now(), $1)",
        &[&json!({"records": 5, "relay.rule.matched.https": 42, "relay.dest.sent.https@127.0.0.1:9996": 40,
                  "relay.dest.dropped_queue_full.https@127.0.0.1:9996": 2, "relay.dest.up.https@127.0.0.1:9996": 1})],
    )
    .unwrap();
    let v = web.json("/api/v1/rules/https", &op);
    println!("rule with counters: {v}");
    assert_eq!(v["counters"]["matched"], 42);
    assert_eq!(v["destinations"]["127.0.0.1:9996"]["sent"], 40);
    assert_eq!(v["destinations"]["127.0.0.1:9996"]["dropped_queue_full"], 2);

    // Delete.
    assert_eq!(web.api("DELETE", "/api/v1/rules/https", Cred::Session(&op), None).status, Status::Forbidden);
    assert_eq!(
        web.api("DELETE", "/api/v1/rules/https", Cred::Session(&opall), None).status,
        Status::NoContent
    );
    assert_eq!(
        web.api("DELETE", "/api/v1/rules/https", Cred::Session(&opall), None).status,
        Status::NotFound
    );
    assert!(web.json("/api/v1/rules", &op)["rules"].as_array().unwrap().is_empty());

    let a = web.json("/api/v1/audit?action=rule.&limit=1000", &admin);
    let log: Vec<(String, String, bool, String)> = a["entries"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_string(),
                e["actor"].as_str().unwrap().to_string(),
                e["success"].as_bool().unwrap(),
                e["target"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    println!("audit: {log:?}");
    let done: Vec<&str> = log.iter().filter(|e| e.2).map(|e| e.0.as_str()).collect();
    assert_eq!(done, ["rule.create", "rule.update", "rule.disable", "rule.delete"]);
    assert!(log.iter().any(|e| e.0 == "rule.create" && e.3 == "web" && e.2));
    // The refused attempts too: viewer, analyst and scoped operator creating, the
    // scoped operator enabling and deleting.
    let refused: Vec<(&str, &str)> =
        log.iter().filter(|e| !e.2).map(|e| (e.0.as_str(), e.1.as_str())).collect();
    assert_eq!(
        refused,
        [
            ("rule.create", "viewer"),
            ("rule.create", "analyst"),
            ("rule.create", "op"),
            ("rule.enable", "op"),
            ("rule.delete", "op")
        ]
    );
}

#[test]
fn exporter_names_within_scope() {
    let (web, _) = Web::with_data();
    let admin = web.login(ADMIN, ADMIN_PW);
    let (a, b) = (EXPORTERS[0], EXPORTERS[1]);
    let (_, op_a) = web.user(&admin, "op-a", "operator", &[a], &[]);
    let (_, viewer) = web.user(&admin, "viewer", "viewer", &[], &[]);
    let set = |s: &Session, addr: &str, name: &str, notes: &str| {
        web.api(
            "PUT",
            &format!("/api/v1/exporters/{addr}/name"),
            Cred::Session(s),
            Some(json!({"display_name": name, "notes": notes})),
        )
    };
    let r = set(&op_a, a, "core-rtr-1", "rack 4, replaced 2026");
    assert_eq!(r.status, Status::Ok, "{}", r.body);
    assert_eq!(r.json()["display_name"], "core-rtr-1");
    // Outside the scope: 404 as for reading it; viewers: 403; unknown: 404.
    assert_eq!(set(&op_a, b, "x", "").status, Status::NotFound);
    assert_eq!(set(&viewer, a, "x", "").status, Status::Forbidden);
    assert_eq!(set(&admin, "198.51.100.77", "x", "").status, Status::NotFound);
    assert_eq!(set(&admin, a, &"n".repeat(101), "").status, Status::BadRequest);
    let e = web.json(&format!("/api/v1/exporters/{a}"), &admin);
    assert_eq!(e["display_name"], "core-rtr-1");
    assert_eq!(e["notes"], "rack 4, replaced 2026");
    let list = web.json("/api/v1/exporters", &admin);
    let named: Vec<_> =
        list["exporters"].as_array().unwrap().iter().filter(|e| !e["display_name"].is_null()).collect();
    assert_eq!(named.len(), 1);
    // Shown on the pages, with the address beside it.
    let page = web.get("/exporters", Some(&admin));
    assert!(page.body.contains("core-rtr-1") && page.body.contains(a), "{}", page.body);
    let page = web.get(&format!("/exporters/{a}"), Some(&admin));
    assert!(page.body.contains("core-rtr-1") && page.body.contains("rack 4"));
    // The exporter drop-downs say "name (address)".
    let page = web.get("/?range=1h", Some(&admin));
    assert!(page.body.contains(&format!("core-rtr-1 ({a})")), "overview drop-down");
    let page = web.get(&format!("/exporters/{a}/interfaces/1?range=1h"), Some(&admin));
    assert!(page.body.contains(&format!("Interface 1 of core-rtr-1 ({a})")), "interface page");
    let from = now_ms() - 3_600_000;
    let page = web.get(&format!("/flows?from={from}&exporter={a}"), Some(&admin));
    assert!(page.body.contains("data-test=\"exporter-name\">core-rtr-1"), "flow search rows: {}", page.body);
    // Cleared with a blank name and notes.
    assert_eq!(set(&admin, a, " ", "").status, Status::Ok);
    assert!(web.json(&format!("/api/v1/exporters/{a}"), &admin)["display_name"].is_null());
    let log = audit_actions(&web, &admin, "exporter.name");
    println!("audit: {log:?}");
    assert_eq!(log.len(), 2);
}
