//! RBAC: roles and device scopes on every endpoint and page. A user scoped to one
//! exporter never sees another exporter's data, in pages, API answers or CSV.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use common::*;
use rocket::http::Status;
use serde_json::json;

/// Strings that only exporters B and C's data contain.
fn foreign_markers() -> Vec<&'static str> {
    vec![EXPORTERS[1], EXPORTERS[2], "10.2.0.", "2001:db8:c::", "2001:db8:ffff::1"]
}

fn assert_clean(what: &str, body: &str) {
    for m in foreign_markers() {
        assert!(!body.contains(m), "{what} leaks {m}:\n{}", &body[..body.len().min(3000)]);
    }
}

/// Every GET route of the API and the pages that shows exporter data, made concrete.
fn data_uris(addr: &str) -> Vec<String> {
    let from = now_ms() - 3_600_000;
    let mut v: Vec<String> = [
        "/api/v1/traffic?range=1h",
        "/api/v1/traffic?range=7d",
        "/api/v1/top/talkers?range=1h&limit=1000",
        "/api/v1/top/talkers?range=1h&side=dst",
        "/api/v1/top/services?range=24h",
        "/api/v1/top/protocols?range=1h",
        "/api/v1/top/as?range=1h&side=pair",
        "/api/v1/exporters",
        "/?range=1h",
        "/talkers?range=1h&side=dst",
        "/services?range=1h",
        "/protocols",
        "/as?side=pair",
        "/exporters",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.push(format!("/api/v1/exporters/{addr}"));
    v.push(format!("/api/v1/exporters/{addr}/interfaces?range=1h"));
    v.push(format!("/api/v1/exporters/{addr}/interfaces/1/traffic?range=1h"));
    v.push(format!("/exporters/{addr}?range=1h"));
    v.push(format!("/exporters/{addr}/interfaces/1?range=1h"));
    v.push(format!("/api/v1/flows?from={from}&page_size=1000"));
    v.push(format!("/api/v1/flows/export?from={from}"));
    v.push(format!("/flows?from={from}&page_size=1000"));
    v.push(format!("/flows/export?from={from}"));
    v
}

#[test]
fn scoped_users_see_only_their_exporters() {
    let (web, rows) = Web::with_data();
    let admin = web.login(ADMIN, ADMIN_PW);
    let a = EXPORTERS[0];
    let (b, c) = (EXPORTERS[1], EXPORTERS[2]);
    let g = web.api(
        "POST",
        "/api/v1/groups",
        Cred::Session(&admin),
        Some(json!({"name": "b-only", "prefixes": [b]})),
    );
    let gid = g.json()["id"].as_i64().unwrap();
    let (_, viewer_a) = web.user(&admin, "viewer-a", "viewer", &[a], &[]);
    let (va_id, analyst_a) = web.user(&admin, "analyst-a", "analyst", &["192.0.2.1/32"], &[]);
    let (_, viewer_g) = web.user(&admin, "viewer-g", "viewer", &[], &[gid]);
    let (_, nobody) = web.user(&admin, "nobody", "viewer", &[], &[]);
    let mut checks = 0;

    // Totals are exactly those of the granted exporters.
    let total = |s: &Session| web.json("/api/v1/traffic?range=1h", s)["total_bytes"].as_i64().unwrap();
    assert_eq!(total(&viewer_a), bytes_of(&rows, Some(a)));
    assert_eq!(total(&analyst_a), bytes_of(&rows, Some(a)));
    assert_eq!(total(&viewer_g), bytes_of(&rows, Some(b)));
    assert_eq!(total(&nobody), 0);
    assert_eq!(total(&admin), bytes_of(&rows, None));
    // Asking for another exporter explicitly yields nothing, not its data.
    let t = web.json(&format!("/api/v1/traffic?range=1h&exporter={b}"), &viewer_a);
    assert_eq!(t["total_bytes"].as_i64().unwrap(), 0);
    let t = web.json("/api/v1/traffic?range=1h&exporter=0.0.0.0/0", &viewer_a);
    assert_eq!(t["total_bytes"].as_i64().unwrap(), bytes_of(&rows, Some(a)));
    checks += 7;

    // Every data endpoint and page, for the analyst scoped to A (who may also search
    // flows): nothing of B or C anywhere.
    for uri in data_uris(a) {
        let r = web.get(&uri, Some(&analyst_a));
        assert_eq!(r.status, Status::Ok, "{uri}: {}", r.body);
        assert_clean(&uri, &r.body);
        checks += 1;
    }
    // The viewer: the same for dashboards; raw flows are not for viewers.
    for uri in data_uris(a) {
        let r = web.get(&uri, Some(&viewer_a));
        if uri.contains("flows") {
            assert_eq!(r.status, Status::Forbidden, "{uri}");
        } else {
            assert_eq!(r.status, Status::Ok, "{uri}: {}", r.body);
        }
        assert_clean(&uri, &r.body);
        checks += 1;
    }
    // And with an API token of the viewer.
    let tok = web.api("POST", "/api/v1/tokens", Cred::Session(&viewer_a), Some(json!({"name": "t"}))).json()
        ["token"]
        .as_str()
        .unwrap()
        .to_string();
    for uri in data_uris(a).into_iter().filter(|u| u.starts_with("/api/")) {
        let r = web.get_bearer(&uri, &tok);
        assert_clean(&uri, &r.body);
        checks += 1;
    }

    // Other exporters' own endpoints are 404 (indistinguishable from unknown ones).
    for ex in [b, c] {
        for uri in [
            format!("/api/v1/exporters/{ex}"),
            format!("/api/v1/exporters/{ex}/interfaces"),
            format!("/api/v1/exporters/{ex}/interfaces/11/traffic"),
            format!("/exporters/{ex}"),
            format!("/exporters/{ex}/interfaces/11"),
        ] {
            let r = web.get(&uri, Some(&viewer_a));
            assert_eq!(r.status, Status::NotFound, "{uri}");
            assert_clean(&uri, &r.body);
            checks += 1;
        }
    }

    // Flow search and CSV of the analyst: A's 120 rows, nothing else, even when asking.
    let from = now_ms() - 3_600_000;
    let page = web.json(&format!("/api/v1/flows?from={from}&page_size=1000"), &analyst_a);
    let got = page["rows"].as_array().unwrap();
    assert_eq!(got.len(), 120);
    assert!(got.iter().all(|r| r["exporter"] == a));
    let asked = web.json(&format!("/api/v1/flows?from={from}&exporter={b}"), &analyst_a);
    assert_eq!(asked["rows"].as_array().unwrap().len(), 0);
    let csv = web.get(&format!("/api/v1/flows/export?from={from}&exporter=0.0.0.0/0"), Some(&analyst_a));
    assert_eq!(csv.body.lines().count(), 121);
    assert!(csv.body.lines().skip(1).all(|l| l.split(',').nth(1) == Some(a)));
    checks += 3;

    // Top tables of the group-scoped viewer hold only B's markers.
    let talkers = web.json("/api/v1/top/talkers?range=1h&limit=100", &viewer_g);
    assert!(talkers["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|i| i["key"].as_str().unwrap().starts_with("10.2.0.")));
    let ex = web.json("/api/v1/exporters", &viewer_g);
    assert_eq!(ex["exporters"].as_array().unwrap().len(), 1);
    assert_eq!(ex["exporters"][0]["exporter"], b);
    // The user without grants sees nothing at all.
    assert_eq!(web.json("/api/v1/exporters", &nobody)["exporters"].as_array().unwrap().len(), 0);
    let none = web.json("/api/v1/top/talkers?range=1h", &nobody);
    assert_eq!(none["items"].as_array().unwrap().len(), 0);
    assert_eq!(none["total_bytes"].as_i64().unwrap(), 0);
    checks += 4;

    // Scope changes apply at the next request (nothing is cached in the session).
    let r = web.api(
        "PATCH",
        &format!("/api/v1/users/{va_id}"),
        Cred::Session(&admin),
        Some(json!({"prefixes": [c]})),
    );
    assert_eq!(r.status, Status::NoContent);
    assert_eq!(total(&analyst_a), bytes_of(&rows, Some(c)));
    checks += 1;

    // Roles: what each may not do.
    for (who, s) in [("viewer", &viewer_a), ("analyst", &analyst_a)] {
        for uri in [
            "/api/v1/collector/stats",
            "/collector",
            "/api/v1/users",
            "/admin/users",
            "/api/v1/audit",
            "/admin/audit",
            "/api/v1/groups",
            "/admin/groups",
        ] {
            assert_eq!(web.get(uri, Some(s)).status, Status::Forbidden, "{who} {uri}");
            checks += 1;
        }
        let r = web.api(
            "POST",
            "/api/v1/users",
            Cred::Session(s),
            Some(json!({"username": "evil", "role": "admin"})),
        );
        assert_eq!(r.status, Status::Forbidden);
        let r =
            web.post_csrf("/admin/users", s, &[("username", "evil2"), ("role", "admin"), ("prefixes", "")]);
        assert_eq!(r.status, Status::Forbidden);
        checks += 2;
    }
    let (_, operator) = web.user(&admin, "op", "operator", &[a], &[]);
    assert_eq!(web.get("/api/v1/collector/stats", Some(&operator)).status, Status::Ok);
    assert_eq!(web.get("/collector", Some(&operator)).status, Status::Ok);
    assert_eq!(web.get("/api/v1/users", Some(&operator)).status, Status::Forbidden);
    let users = web.json("/api/v1/users", &admin);
    assert!(!users.to_string().contains("evil"), "no user was created by a non-admin");
    checks += 4;

    // Navigation shows only what the role may open.
    let nav = web.get("/", Some(&viewer_a)).body;
    assert!(!nav.contains("data-test=\"nav-flows\"") && !nav.contains("data-test=\"nav-users\""));
    let nav = web.get("/", Some(&admin)).body;
    assert!(nav.contains("data-test=\"nav-flows\"") && nav.contains("data-test=\"nav-users\""));
    checks += 2;
    println!("{checks} RBAC checks over {} endpoints and pages", data_uris(a).len());
}
