//! SNMP names through the console's API, against a real PostgreSQL and a real agent
//! (Debian's snmpd on loopback, started by the test): v3 credentials (SHA-256 +
//! AES-128 and SHA-512 + AES-256) set by an admin, sealed at rest and never returned;
//! a poll brings sysName, vendor and product, and interface names, aliases and
//! speeds that the exporters list, the interface table, flow search and the CSV
//! export then show; a wrong password and an unreachable agent show as errors on the
//! exporter (names already learned stay); a device group's v2c default reaches an
//! agent without ifXTable and names fall back to ifDescr; viewers see no credentials
//! and cannot set or poll; scopes hide other exporters; /metrics counts the outcomes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use common::*;
use flowvision_tests::snmpd::{self, Snmpd};
use rocket::http::Status;
use serde_json::{json, Value};

fn v3_body(agent: &Snmpd, user: (&str, &str, &str), auth: &str, privacy: &str) -> Value {
    json!({"version": "3", "user": user.0, "auth_protocol": auth, "auth_password": user.1,
           "priv_protocol": privacy, "priv_password": user.2, "agent": "127.0.0.1", "port": agent.port()})
}

fn exporter<'a>(list: &'a Value, addr: &str) -> &'a Value {
    list["exporters"].as_array().unwrap().iter().find(|e| e["exporter"] == addr).unwrap()
}

#[test]
fn names_errors_secrets_and_scopes() {
    let agent = Snmpd::start().expect("snmpd (apt-get install snmpd)");
    agent.set_alias(1, "loopback — transit AS64500").unwrap();
    let lo_name = agent.walk(snmpd::COMMUNITY, ".1.3.6.1.2.1.31.1.1.1.1.1").unwrap()[0].1.clone();
    let descr = agent.walk(snmpd::COMMUNITY, ".1.3.6.1.2.1.2.2.1.2").unwrap();
    let (web, _) = Web::with_data_and(|cfg| {
        cfg.snmp.timeout = std::time::Duration::from_millis(600);
        cfg.snmp.retries = 1;
    });
    let admin = web.login(ADMIN, ADMIN_PW);
    let secrets = [
        snmpd::USER_SHA256_AES128.1,
        snmpd::USER_SHA256_AES128.2,
        snmpd::USER_SHA512_AES256.1,
        snmpd::USER_SHA512_AES256.2,
        snmpd::COMMUNITY_NO_IFX,
    ];

    // Nothing configured: the state says so, and a poll says why.
    let before = web.json("/api/v1/exporters/192.0.2.1/snmp", &admin);
    assert_eq!(before["snmp"]["status"], "unconfigured", "{before}");
    let r = web.api("POST", "/api/v1/exporters/192.0.2.1/snmp/poll", Cred::Session(&admin), None);
    assert_eq!(r.status, Status::Ok, "{}", r.body);
    assert_eq!(r.json()["error_kind"], "configuration", "{}", r.body);

    // v3 SHA-256/AES-128 for exporter 1, SHA-512/AES-256 for exporter 2.
    let r = web.api(
        "PUT",
        "/api/v1/exporters/192.0.2.1/snmp",
        Cred::Session(&admin),
        Some(v3_body(&agent, snmpd::USER_SHA256_AES128, "SHA-256", "AES-128")),
    );
    assert_eq!(r.status, Status::Ok, "{}", r.body);
    let r2 = web.api(
        "PUT",
        "/api/v1/exporters/192.0.2.2/snmp",
        Cred::Session(&admin),
        Some(v3_body(&agent, snmpd::USER_SHA512_AES256, "SHA-512", "AES-256")),
    );
    assert_eq!(r2.status, Status::Ok, "{}", r2.body);
    for body in [&r.body, &r2.body] {
        for s in secrets {
            assert!(!body.contains(s), "a secret in the answer: {body}");
        }
    }
    let state = web.json("/api/v1/exporters/192.0.2.1/snmp", &admin);
    assert_eq!(state["snmp"]["status"], "never");
    assert_eq!(state["credentials"]["user"], snmpd::USER_SHA256_AES128.0);
    assert_eq!(state["credentials"]["auth_protocol"], "SHA-256");
    assert!(!state.to_string().contains(snmpd::USER_SHA256_AES128.1));

    // At rest: sealed, not readable in the database.
    let mut db = web.pg.connect().unwrap();
    for row in db.query("SELECT sealed FROM snmp_credentials", &[]).unwrap() {
        let sealed: Vec<u8> = row.get(0);
        for s in secrets {
            assert!(!sealed.windows(s.len()).any(|w| w == s.as_bytes()), "secret {s:?} in clear at rest");
        }
    }

    for ex in ["192.0.2.1", "192.0.2.2"] {
        let r = web.api("POST", &format!("/api/v1/exporters/{ex}/snmp/poll"), Cred::Session(&admin), None);
        assert_eq!(r.status, Status::Ok, "{}", r.body);
        let v = r.json();
        assert_eq!(v["status"], "ok", "{ex}: {v}");
        assert_eq!(v["sys_name"], snmpd::SYS_NAME);
        assert_eq!(v["interfaces"].as_u64(), Some(descr.len() as u64));
    }

    // Names everywhere: the exporters list...
    let list = web.json("/api/v1/exporters", &admin);
    let e1 = exporter(&list, "192.0.2.1");
    assert_eq!(e1["sys_name"], snmpd::SYS_NAME, "{e1}");
    assert_eq!(e1["sys_object_id"], "1.3.6.1.4.1.8072.3.2.10");
    assert_eq!(e1["vendor"], "net-snmp", "IANA registry (Debian libwireshark-data): {e1}");
    assert_eq!(e1["product"], "NET-SNMP-TC::linux", "product from the base MIBs: {e1}");
    assert_eq!(e1["snmp"]["status"], "ok");
    assert!(e1["snmp"]["last_poll"].is_string() && e1["snmp"]["last_error"].is_null());
    // ... the interface table (the data set's exporter 1 uses ifIndex 1 = lo) ...
    let ifs = web.json("/api/v1/exporters/192.0.2.1/interfaces?range=1h", &admin);
    let lo = ifs["interfaces"].as_array().unwrap().iter().find(|i| i["ifindex"] == 1).unwrap();
    let label = format!("{lo_name} (loopback — transit AS64500)");
    assert_eq!(lo["label"], label.as_str(), "{lo}");
    assert_eq!(lo["name"], lo_name.as_str());
    assert_eq!(lo["speed_bps"], 10_000_000);
    let util = lo["in_util_pct"].as_f64().unwrap();
    let expect = lo["in_bps"].as_f64().unwrap() * 100.0 / 1e7;
    assert!((util - expect).abs() < 1e-6, "{util} vs {expect}");
    let series = web.json("/api/v1/exporters/192.0.2.1/interfaces/1/traffic?range=1h", &admin);
    assert_eq!(series["label"], label.as_str());
    // ... the pages ...
    let page = web.get("/exporters/192.0.2.1", Some(&admin)).body;
    assert!(
        page.contains(snmpd::SYS_NAME) && page.contains(&label) && page.contains("net-snmp"),
        "exporter page"
    );
    assert!(page.contains("snmp-credentials-form") && page.contains("snmp-refresh"));
    let exporters_page = web.get("/exporters", Some(&admin)).body;
    assert!(exporters_page.contains(snmpd::SYS_NAME) && exporters_page.contains("NET-SNMP-TC::linux"));
    // ... flow search and its CSV export.
    let from = now_ms() - 3_600_000;
    let flows = web.json(&format!("/api/v1/flows?exporter=192.0.2.1&from={from}"), &admin);
    let row =
        flows["rows"].as_array().unwrap().iter().find(|r| r["in_if"] == 1).expect("a flow in on ifIndex 1");
    assert_eq!(row["exporter_name"], snmpd::SYS_NAME, "{row}");
    assert_eq!(row["in_if_name"], label.as_str(), "{row}");
    let search = web.get(&format!("/flows?exporter=192.0.2.1&from={from}"), Some(&admin)).body;
    assert!(search.contains(&label) && search.contains(snmpd::SYS_NAME), "search page shows names");
    let csv = web.get(&format!("/api/v1/flows/export?exporter=192.0.2.1&from={from}"), Some(&admin)).body;
    let header = csv.lines().next().unwrap();
    assert!(header.ends_with("exporter_name,in_if_name,out_if_name"), "{header}");
    assert!(csv.lines().skip(1).any(|l| l.contains(&label)), "{csv}");

    // A wrong password: an authentication error on the exporter; names stay.
    let (user, _, privacy) = snmpd::USER_SHA512_AES256;
    let wrong = v3_body(&agent, (user, "not-the-password", privacy), "SHA-512", "AES-256");
    assert_eq!(
        web.api("PUT", "/api/v1/exporters/192.0.2.2/snmp", Cred::Session(&admin), Some(wrong)).status,
        Status::Ok
    );
    let r = web.api("POST", "/api/v1/exporters/192.0.2.2/snmp/poll", Cred::Session(&admin), None).json();
    assert_eq!(r["status"], "error", "{r}");
    assert_eq!(r["error_kind"], "authentication", "{r}");
    let e2 = web.json("/api/v1/exporters/192.0.2.2", &admin);
    assert_eq!(e2["snmp"]["status"], "error");
    assert_eq!(e2["snmp"]["error_kind"], "authentication");
    assert!(e2["snmp"]["last_error"].as_str().unwrap().contains("keys"), "{e2}");
    assert_eq!(e2["sys_name"], snmpd::SYS_NAME, "names learned earlier stay");

    // A device group's v2c default reaches exporter 3 through the no-ifXTable view.
    let g = web.api(
        "POST",
        "/api/v1/groups",
        Cred::Session(&admin),
        Some(json!({"name": "v6-lab", "description": "", "prefixes": ["2001:db8::/32"]})),
    );
    assert_eq!(g.status, Status::Created, "{}", g.body);
    let gid = g.json()["id"].as_i64().unwrap();
    let r = web.api(
        "PUT",
        &format!("/api/v1/groups/{gid}/snmp"),
        Cred::Session(&admin),
        Some(json!({"version": "2c", "community": snmpd::COMMUNITY_NO_IFX, "port": agent.port()})),
    );
    assert_eq!(r.status, Status::Ok, "{}", r.body);
    // The group's page sets the same through its form (v3 here, then back to v2c).
    let page = web.get(&format!("/admin/groups/{gid}/snmp"), Some(&admin));
    assert_eq!(page.status, Status::Ok);
    assert!(
        page.body.contains("snmp-credentials-form") && !page.body.contains("snmp-agent"),
        "no agent field for groups"
    );
    let (u, a, p) = snmpd::USER_SHA256_AES128;
    let port = agent.port().to_string();
    let r = web.post_csrf(
        &format!("/admin/groups/{gid}/snmp"),
        &admin,
        &[
            ("version", "3"),
            ("community", ""),
            ("user", u),
            ("auth_protocol", "SHA-256"),
            ("auth_password", a),
            ("priv_protocol", "AES-128"),
            ("priv_password", p),
            ("port", &port),
        ],
    );
    assert_eq!(r.status, Status::SeeOther, "{}", r.body);
    let g = web.json(&format!("/api/v1/groups/{gid}/snmp"), &admin);
    assert_eq!(g["user"], u, "{g}");
    assert_eq!(g["priv_protocol"], "AES-128");
    assert!(
        !g.to_string().contains(a)
            && !web.get(&format!("/admin/groups/{gid}/snmp"), Some(&admin)).body.contains(a)
    );
    let r = web.post_csrf(
        &format!("/admin/groups/{gid}/snmp"),
        &admin,
        &[("version", "2c"), ("community", snmpd::COMMUNITY_NO_IFX), ("port", &port)],
    );
    assert_eq!(r.status, Status::SeeOther, "{}", r.body);
    assert_eq!(web.json(&format!("/api/v1/groups/{gid}/snmp"), &admin)["version"], "2c");
    // ... but a group default polls each exporter's own address: point exporter 3's own
    // credentials at the agent to use the group's community there.
    let r = web.api("PUT", "/api/v1/exporters/2001:db8::1/snmp", Cred::Session(&admin),
                    Some(json!({"version": "2c", "community": snmpd::COMMUNITY_NO_IFX, "agent": "127.0.0.1", "port": agent.port()})));
    assert_eq!(r.status, Status::Ok, "{}", r.body);
    let r = web.api("POST", "/api/v1/exporters/2001:db8::1/snmp/poll", Cred::Session(&admin), None).json();
    assert_eq!(r["status"], "ok", "{r}");
    assert_eq!(r["if_x_table"], false);
    let e3 = web.json("/api/v1/exporters/2001:db8::1", &admin);
    assert_eq!(e3["snmp"]["if_x_table"], false);
    let ifs = web.json("/api/v1/exporters/2001:db8::1/interfaces?range=1h", &admin);
    for i in ifs["interfaces"].as_array().unwrap() {
        let d = descr.iter().find(|(o, _)| o.ends_with(&format!(".{}", i["ifindex"])));
        if let Some((_, d)) = d {
            assert_eq!(i["label"], d.as_str(), "falls back to ifDescr: {i}");
            assert!(i["name"].is_null());
        }
    }
    // Remove the exporter's own: the group default applies (its own address: no agent
    // there, so the poll fails with a timeout that names the exporter's address).
    assert_eq!(
        web.api("DELETE", "/api/v1/exporters/2001:db8::1/snmp", Cred::Session(&admin), None).status,
        Status::NoContent
    );
    let st = web.json("/api/v1/exporters/2001:db8::1/snmp", &admin);
    assert_eq!(st["credentials"]["source"], "group", "{st}");
    assert_eq!(st["credentials"]["group"], "v6-lab");

    // Unreachable agent: a closed port.
    let closed = flowvision_tests::local::free_udp();
    let r = web.api(
        "PUT",
        "/api/v1/exporters/192.0.2.1/snmp",
        Cred::Session(&admin),
        Some(
            json!({"version": "2c", "community": "whatever-community", "agent": "127.0.0.1", "port": closed}),
        ),
    );
    assert_eq!(r.status, Status::Ok);
    let r = web.api("POST", "/api/v1/exporters/192.0.2.1/snmp/poll", Cred::Session(&admin), None).json();
    assert!(r["error_kind"] == "timeout" || r["error_kind"] == "network", "{r}");
    let e1 = web.json("/api/v1/exporters/192.0.2.1", &admin);
    assert_eq!(e1["snmp"]["status"], "error");
    assert!(e1["snmp"]["last_error"].as_str().unwrap().contains(&format!("127.0.0.1:{closed}")), "{e1}");

    // Bad input: typed 400s that never echo secrets.
    for (body, why) in [
        (
            json!({"version": "3", "user": "u", "auth_protocol": "SHA-256", "auth_password": "short"}),
            "auth_password",
        ),
        (
            json!({"version": "3", "user": "u", "auth_protocol": "SHA-3", "auth_password": "longenough1"}),
            "auth_protocol",
        ),
        (json!({"version": "2c"}), "community"),
        (json!({"version": "1", "community": "x"}), "version"),
    ] {
        let r = web.api("PUT", "/api/v1/exporters/192.0.2.1/snmp", Cred::Session(&admin), Some(body));
        assert_eq!(r.status, Status::BadRequest, "{}", r.body);
        assert!(r.body.contains(why), "{}", r.body);
    }

    // Viewers see names but no credentials, and can neither set nor poll.
    let (_, viewer) = web.user(&admin, "snmp-viewer", "viewer", &["0.0.0.0/0", "::/0"], &[]);
    let v = web.json("/api/v1/exporters/192.0.2.2/snmp", &viewer);
    assert!(v.get("credentials").is_none(), "{v}");
    assert_eq!(v["sys_name"], snmpd::SYS_NAME);
    let r = web.api(
        "PUT",
        "/api/v1/exporters/192.0.2.2/snmp",
        Cred::Session(&viewer),
        Some(json!({"version": "2c", "community": "viewer-community"})),
    );
    assert_eq!(r.status, Status::Forbidden);
    assert_eq!(
        web.api("POST", "/api/v1/exporters/192.0.2.2/snmp/poll", Cred::Session(&viewer), None).status,
        Status::Forbidden
    );
    assert_eq!(web.get(&format!("/admin/groups/{gid}/snmp"), Some(&viewer)).status, Status::Forbidden);
    let page = web.get("/exporters/192.0.2.2", Some(&viewer)).body;
    assert!(
        page.contains(snmpd::SYS_NAME)
            && !page.contains("snmp-credentials-form")
            && !page.contains("snmp-refresh")
    );
    assert!(!page.contains(snmpd::USER_SHA512_AES256.0), "a viewer sees no v3 user");
    // Operators poll but do not see or set credentials.
    let (_, operator) = web.user(&admin, "snmp-operator", "operator", &["0.0.0.0/0", "::/0"], &[]);
    assert!(web.json("/api/v1/exporters/192.0.2.2/snmp", &operator).get("credentials").is_none());
    assert_eq!(
        web.api("POST", "/api/v1/exporters/192.0.2.2/snmp/poll", Cred::Session(&operator), None).status,
        Status::Ok
    );
    assert_eq!(
        web.api(
            "PUT",
            "/api/v1/exporters/192.0.2.2/snmp",
            Cred::Session(&operator),
            Some(json!({"version": "2c", "community": "operator-community"}))
        )
        .status,
        Status::Forbidden
    );
    // A scoped user sees only their exporters' SNMP state.
    let (_, scoped) = web.user(&admin, "snmp-scoped", "operator", &["192.0.2.1/32"], &[]);
    assert_eq!(web.get("/api/v1/exporters/192.0.2.2/snmp", Some(&scoped)).status, Status::NotFound);
    assert_eq!(
        web.api("POST", "/api/v1/exporters/192.0.2.2/snmp/poll", Cred::Session(&scoped), None).status,
        Status::NotFound
    );
    let theirs = web.json("/api/v1/exporters", &scoped);
    assert_eq!(theirs["exporters"].as_array().unwrap().len(), 1);

    // /metrics: outcomes counted; the audit log holds no secret.
    let m = web.get("/metrics", Some(&operator));
    assert_eq!(m.status, Status::Ok, "{}", m.body);
    let count = |label: &str| -> u64 {
        m.body
            .lines()
            .find(|l| l.starts_with(&format!("flowvision_snmp_polls_total{{result=\"{label}\"}}")))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap()
    };
    assert!(count("ok") >= 3, "{}", m.body);
    assert!(count("authentication") >= 1 && count("timeout") + count("network") >= 1, "{}", m.body);
    assert!(m.body.contains("flowvision_snmp_exporters{status=\"error\"}"));
    assert_eq!(web.get("/metrics", Some(&viewer)).status, Status::Forbidden);
    assert_eq!(web.get("/metrics", None).status, Status::Unauthorized);
    let audit: String = db
        .query("SELECT details::text FROM web_audit_log WHERE action LIKE 'snmp.%'", &[])
        .unwrap()
        .iter()
        .map(|r| r.get::<_, String>(0))
        .collect();
    assert!(audit.contains("SHA-512/AES-256"), "{audit}");
    for s in secrets.iter().chain(["not-the-password", "whatever-community"].iter()) {
        assert!(!audit.contains(s), "secret {s:?} in the audit log");
    }
    println!(
        "SNMP: 3 exporters, v3 SHA-256/AES-128 and SHA-512/AES-256, v2c without ifXTable, {} interfaces",
        descr.len()
    );
}
