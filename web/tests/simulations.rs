//! Simulations through the API against a real PostgreSQL, with real UDP sockets as
//! targets: start, progress that moves, labels with dashboard links, stop, the
//! allow-list (refusal, admin-only edits), the rate budget, roles, the audit log.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use common::*;
use rocket::http::Status;
use serde_json::{json, Value};
use std::net::UdpSocket;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A UDP socket counting the datagrams it receives, on a thread.
fn receiver() -> (std::net::SocketAddr, Arc<AtomicU64>) {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    let addr = sock.local_addr().unwrap();
    let n = Arc::new(AtomicU64::new(0));
    let count = Arc::clone(&n);
    std::thread::spawn(move || {
        let mut buf = [0u8; 65536];
        loop {
            if sock.recv_from(&mut buf).is_ok() {
                count.fetch_add(1, Ordering::Relaxed);
            }
        }
    });
    (addr, n)
}

fn run(web: &Web, s: &Session, id: i64) -> Value {
    web.json(&format!("/api/v1/simulations/{id}"), s)
}

#[test]
fn start_watch_stop_allow_list_budget_roles_audit() {
    let (collector, received) = receiver();
    let (elsewhere, received_elsewhere) = receiver();
    let web = Web::start_with(|c| {
        c.sim_default_target = collector;
        c.sim_rate_budget = 20_000.0;
    });
    let admin = web.login(ADMIN, ADMIN_PW);
    let (_, operator) = web.user(&admin, "op1", "operator", &[], &[]);
    let (_, viewer) = web.user(&admin, "view1", "viewer", &[], &[]);
    let (_, analyst) = web.user(&admin, "ana1", "analyst", &[], &[]);

    let body = json!({
        "scenario": "demo",
        "rate": 2000,
        "duration": "60s",
        "exporters": {"netflow_v9": 1, "ipfix": 1},
        "diurnal": {"enabled": false},
        "anomalies": [{"kind": "port_scan", "start": "1s", "duration": "30s", "exporter": 0}],
    });

    // Viewers and analysts can neither start nor list.
    for s in [&viewer, &analyst] {
        let r = web.api("POST", "/api/v1/simulations", Cred::Session(s), Some(body.clone()));
        assert_eq!(r.status, Status::Forbidden, "{}", r.body);
        assert_eq!(web.get("/api/v1/simulations", Some(s)).status, Status::Forbidden);
    }

    // The demo as bundled (12 exporters) with our edits: 2 exporters, one anomaly.
    let r = web.api("POST", "/api/v1/simulations", Cred::Session(&operator), Some(body.clone()));
    assert_eq!(r.status, Status::Created, "{}", r.body);
    let started = r.json();
    let id = started["id"].as_i64().unwrap();
    assert_eq!(started["state"], "running");
    assert_eq!(started["target"], collector.to_string());
    assert!(started["scenario_toml"].as_str().unwrap().contains("port_scan"));

    // Progress moves, datagrams arrive at the target, the label appears.
    std::thread::sleep(Duration::from_millis(1500));
    let first = run(&web, &operator, id);
    let f1 = first["progress"]["flows"].as_u64().unwrap();
    let end = Instant::now() + Duration::from_secs(20);
    let later = loop {
        std::thread::sleep(Duration::from_millis(500));
        let v = run(&web, &operator, id);
        if v["progress"]["flows"].as_u64().unwrap() > f1 && !v["labels"].as_array().unwrap().is_empty() {
            break v;
        }
        assert!(Instant::now() < end, "no progress or label: {v}");
    };
    let f2 = later["progress"]["flows"].as_u64().unwrap();
    let rate = later["progress"]["flows_per_s"].as_f64().unwrap();
    let lateness = &later["progress"]["lateness_us"];
    let label = &later["labels"][0];
    println!(
        "progress: {f1} -> {f2} flows, {rate:.0} flows/s, lateness {lateness}, {} datagrams received",
        received.load(Ordering::Relaxed)
    );
    assert!(f1 > 0 && f2 > f1);
    assert!(rate > 500.0 && rate < 4000.0, "paced near 2000 flows/s: {rate}");
    assert!(lateness["p50"].is_u64(), "lateness percentiles: {lateness}");
    assert!(received.load(Ordering::Relaxed) > 10);
    assert_eq!(label["kind"], "port_scan");
    let link = label["dashboard"].as_str().unwrap();
    assert!(link.starts_with("/?from=") && link.contains("&exporter="), "{link}");
    // The link opens the overview narrowed to the window.
    assert_eq!(web.get(link, Some(&operator)).status, Status::Ok);

    // Budget: 2000 in use of 20000.
    let mut big = body.clone();
    big["rate"] = json!(19_000);
    let r = web.api("POST", "/api/v1/simulations", Cred::Session(&operator), Some(big));
    assert_eq!(r.status, Status::Conflict, "{}", r.body);
    assert!(r.body.contains("budget"), "{}", r.body);

    // A target outside the allow-list is refused; only an admin may allow it.
    let mut other = body.clone();
    other["target"] = json!(elsewhere.to_string());
    other["rate"] = json!(500);
    let r = web.api("POST", "/api/v1/simulations", Cred::Session(&operator), Some(other.clone()));
    assert_eq!(r.status, Status::Forbidden, "{}", r.body);
    assert!(r.body.contains("allow-list"), "{}", r.body);
    let mut named = other.clone();
    named["target"] = json!("localhost:2055");
    let r = web.api("POST", "/api/v1/simulations", Cred::Session(&operator), Some(named));
    assert_eq!(r.status, Status::BadRequest, "names are refused: {}", r.body);
    let add = json!({"target": elsewhere.to_string(), "note": "lab collector"});
    let r = web.api("POST", "/api/v1/simulation-targets", Cred::Session(&operator), Some(add.clone()));
    assert_eq!(r.status, Status::Forbidden);
    let r = web.api("POST", "/api/v1/simulation-targets", Cred::Session(&admin), Some(add.clone()));
    assert_eq!(r.status, Status::Created, "{}", r.body);
    let target_id = r.json()["id"].as_i64().unwrap();
    let r = web.api("POST", "/api/v1/simulation-targets", Cred::Session(&admin), Some(add));
    assert_eq!(r.status, Status::Conflict);
    let r = web.api("POST", "/api/v1/simulations", Cred::Session(&operator), Some(other.clone()));
    assert_eq!(r.status, Status::Created, "{}", r.body);
    let id2 = r.json()["id"].as_i64().unwrap();
    let end = Instant::now() + Duration::from_secs(15);
    while received_elsewhere.load(Ordering::Relaxed) == 0 {
        assert!(Instant::now() < end, "nothing reached the allowed target");
        std::thread::sleep(Duration::from_millis(100));
    }

    // Stop both; a stopped run cannot be stopped again; a viewer cannot stop.
    let r = web.api("POST", &format!("/api/v1/simulations/{id}/stop"), Cred::Session(&viewer), None);
    assert_eq!(r.status, Status::Forbidden);
    for i in [id, id2] {
        let r = web.api("POST", &format!("/api/v1/simulations/{i}/stop"), Cred::Session(&operator), None);
        assert_eq!(r.status, Status::Ok, "{}", r.body);
        let v = r.json();
        assert_eq!(v["state"], "cancelled", "{v}");
        assert!(v["ended_at"].is_string());
    }
    let r = web.api("POST", &format!("/api/v1/simulations/{id}/stop"), Cred::Session(&operator), None);
    assert_eq!(r.status, Status::Conflict);
    assert_eq!(
        web.api("POST", "/api/v1/simulations/999999/stop", Cred::Session(&operator), None).status,
        Status::NotFound
    );

    // Sending stopped: nothing more arrives once the sockets drained.
    std::thread::sleep(Duration::from_millis(300));
    let after_stop = received.load(Ordering::Relaxed);
    std::thread::sleep(Duration::from_millis(1000));
    assert_eq!(received.load(Ordering::Relaxed), after_stop, "datagrams after stop");

    // History: both runs, stored outcome with labels; the budget is free again.
    let list = web.json("/api/v1/simulations", &operator);
    let runs = list["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(list["rate_in_use"].as_f64().unwrap(), 0.0);
    let stored = runs.iter().find(|r| r["id"] == id).unwrap();
    assert!(stored["progress"]["flows"].as_u64().unwrap() >= f2);
    assert_eq!(stored["labels"][0]["kind"], "port_scan");
    println!("history: {} runs, run {id} stored {} flows", runs.len(), stored["progress"]["flows"]);

    // Invalid scenarios are 400: an anomaly on an exporter that does not exist.
    let mut bad = body.clone();
    bad["anomalies"][0]["exporter"] = json!(7);
    let r = web.api("POST", "/api/v1/simulations", Cred::Session(&operator), Some(bad));
    assert_eq!(r.status, Status::BadRequest, "{}", r.body);
    let r =
        web.api("POST", "/api/v1/simulations", Cred::Session(&operator), Some(json!({"scenario": "nope"})));
    assert_eq!(r.status, Status::BadRequest, "{}", r.body);
    // A TOML scenario: a typo is an error naming it, never a silent default.
    let typo = json!({"toml": "rate = 100\nduraton = \"5s\""});
    let r = web.api("POST", "/api/v1/simulations", Cred::Session(&operator), Some(typo));
    assert_eq!(r.status, Status::BadRequest, "{}", r.body);
    assert!(r.body.contains("duraton"), "{}", r.body);
    for bad in ["limit=0", "limit=abc", "limit=5000", "limit=1&limit=2"] {
        let r = web.get(&format!("/api/v1/simulations?{bad}"), Some(&operator));
        assert_eq!(r.status, Status::BadRequest, "{bad}");
    }
    // A TOML scenario runs as written (and the run stores it).
    let toml = "rate = 300\nduration = \"20s\"\nseed = 5\n\n[[exporters]]\nprotocol = \"ipfix\"\ncount = 2\n";
    let r = web.api("POST", "/api/v1/simulations", Cred::Session(&operator), Some(json!({"toml": toml})));
    assert_eq!(r.status, Status::Created, "{}", r.body);
    let v = r.json();
    assert!(v["scenario_toml"].as_str().unwrap().contains("seed = 5"));
    let id3 = v["id"].as_i64().unwrap();
    let r = web.api("POST", &format!("/api/v1/simulations/{id3}/stop"), Cred::Session(&operator), None);
    assert_eq!(r.status, Status::Ok, "{}", r.body);
    assert_eq!(r.json()["state"], "cancelled");

    // Removing the target: admin only; then the target is refused again.
    let r =
        web.api("DELETE", &format!("/api/v1/simulation-targets/{target_id}"), Cred::Session(&operator), None);
    assert_eq!(r.status, Status::Forbidden);
    let r =
        web.api("DELETE", &format!("/api/v1/simulation-targets/{target_id}"), Cred::Session(&admin), None);
    assert_eq!(r.status, Status::NoContent);
    let r = web.api("POST", "/api/v1/simulations", Cred::Session(&operator), Some(other));
    assert_eq!(r.status, Status::Forbidden);

    // Everything is in the audit log.
    let audit = web.json("/api/v1/audit?action=simulation&limit=100", &admin);
    let entries = audit["entries"].as_array().unwrap();
    let count = |a: &str, ok: bool| entries.iter().filter(|e| e["action"] == a && e["success"] == ok).count();
    println!(
        "audit: {} simulation entries (start {}, stop {}, refused {}, target add {}, remove {})",
        entries.len(),
        count("simulation.start", true),
        count("simulation.stop", true),
        count("simulation.refused", false),
        count("simulation.target.add", true),
        count("simulation.target.remove", true)
    );
    assert_eq!(count("simulation.start", true), 3);
    assert_eq!(count("simulation.stop", true), 3);
    assert_eq!(count("simulation.refused", false), 3, "budget, target, target after removal");
    assert_eq!(count("simulation.target.add", true), 1);
    assert_eq!(count("simulation.target.remove", true), 1);
    assert!(entries.iter().all(|e| e["actor"] == "op1" || e["actor"] == ADMIN));
}

#[test]
fn runs_left_running_are_marked_interrupted_at_start() {
    let (collector, _) = receiver();
    let web = Web::start_with(|c| c.sim_default_target = collector);
    let mut c = web.pg.connect().unwrap();
    c.batch_execute(
        "INSERT INTO web_sim_runs (scenario, scenario_toml, target, budget_rate, state, started_by) \
         VALUES ('', '', '127.0.0.1:2055', 10, 'running', 'x')",
    )
    .unwrap();
    drop(web.client);
    let rocket = flowvision_web::build({
        let mut cfg = config(web.pg.url());
        cfg.sim_default_target = collector;
        cfg
    })
    .unwrap();
    let client = rocket::local::blocking::Client::untracked(rocket).unwrap();
    let web = Web { client, pg: web.pg };
    let admin = web.login(ADMIN, ADMIN_PW);
    let list = web.json("/api/v1/simulations", &admin);
    assert_eq!(list["runs"][0]["state"], "interrupted", "{list}");
}

fn form_fields<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    [
        "scenario",
        "toml",
        "target",
        "rate",
        "duration",
        "speedup",
        "netflow_v5",
        "netflow_v9",
        "ipfix",
        "sflow_v5",
        "diurnal",
        "peak_hour",
        "trough",
        "anomaly_kind",
        "anomaly_start",
        "anomaly_duration",
        "anomaly_exporter",
        "anomaly_port",
    ]
    .iter()
    .map(|k| (*k, extra.iter().find(|(n, _)| n == k).map_or("", |(_, v)| *v)))
    .collect()
}

#[test]
fn the_page_starts_refuses_and_stops() {
    let (collector, received) = receiver();
    let web = Web::start_with(|c| c.sim_default_target = collector);
    let admin = web.login(ADMIN, ADMIN_PW);
    let (_, operator) = web.user(&admin, "op2", "operator", &[], &[]);
    let (_, analyst) = web.user(&admin, "ana2", "analyst", &[], &[]);

    // Navigation and access by role.
    let home = web.get("/", Some(&operator)).body;
    assert!(home.contains("data-test=\"nav-simulations\""));
    assert!(!web.get("/", Some(&analyst)).body.contains("nav-simulations"));
    assert_eq!(web.get("/simulations", Some(&analyst)).status, Status::Forbidden);
    let page = web.get("/simulations", Some(&operator));
    assert_eq!(page.status, Status::Ok);
    assert!(page.body.contains("id=\"sim-form\"") && page.body.contains("demo"));
    assert!(!page.body.contains("id=\"target-add\""), "operators do not edit the allow-list");
    assert!(web.get("/simulations", Some(&admin)).body.contains("id=\"target-add\""));

    // A target outside the allow-list: refused with the reason above the form.
    let fields = form_fields(&[("target", "192.0.2.77:2055"), ("rate", "1000"), ("duration", "30s")]);
    let r = web.post_csrf("/simulations", &operator, &fields);
    assert_eq!(r.status, Status::Forbidden);
    assert!(r.body.contains("not on the simulation allow-list"), "{}", r.body);
    // Without the CSRF token, nothing.
    assert_eq!(web.post_form("/simulations", Some(&operator), "rate=1000").status, Status::Forbidden);

    // Start from the form: two NetFlow v9 exporters, one port scan.
    let fields = form_fields(&[
        ("rate", "1000"),
        ("duration", "60s"),
        ("netflow_v9", "2"),
        ("diurnal", "off"),
        ("anomaly_kind", "port_scan"),
        ("anomaly_start", "1s"),
        ("anomaly_duration", "20s"),
        ("anomaly_exporter", "1"),
    ]);
    let r = web.post_csrf("/simulations", &operator, &fields);
    assert_eq!(r.status, Status::SeeOther, "{}", r.body);
    let loc = r.header("Location").unwrap().to_string();
    assert!(loc.starts_with("/simulations/"));
    std::thread::sleep(Duration::from_millis(2500));
    let run = web.get(&loc, Some(&operator));
    assert_eq!(run.status, Status::Ok);
    assert!(
        run.body.contains("id=\"sim-stop\"") && run.body.contains("data-kind=\"port_scan\""),
        "{}",
        run.body
    );
    let r = web.post_csrf(&format!("{loc}/stop"), &operator, &[]);
    assert_eq!(r.status, Status::SeeOther);
    let run = web.get(&loc, Some(&operator)).body;
    assert!(run.contains("data-state=\"cancelled\"") && !run.contains("id=\"sim-stop\""));
    println!("page run: {} datagrams received", received.load(Ordering::Relaxed));
    assert!(received.load(Ordering::Relaxed) > 0);

    // The allow-list form (admin).
    let r = web.post_csrf("/simulations/targets", &admin, &[("target", "192.0.2.77:2055"), ("note", "lab")]);
    assert_eq!(r.status, Status::SeeOther);
    assert!(web.get("/simulations", Some(&operator)).body.contains("192.0.2.77:2055"));
    let r = web.post_csrf("/simulations/targets", &operator, &[("target", "192.0.2.78:2055"), ("note", "")]);
    assert_eq!(r.status, Status::Forbidden);
}

#[test]
fn at_most_sixteen_runs_at_once() {
    let (collector, _) = receiver();
    let web = Web::start_with(|c| c.sim_default_target = collector);
    let admin = web.login(ADMIN, ADMIN_PW);
    // The bundled scenarios and the allow-list as the API lists them.
    let sc = web.json("/api/v1/simulations/scenarios", &admin);
    let names: Vec<&str> =
        sc["scenarios"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["demo", "day"]);
    assert!(sc["scenarios"][0]["toml"].as_str().unwrap().contains("[[anomalies]]"));
    let t = web.json("/api/v1/simulation-targets", &admin);
    assert_eq!(t["default_target"], collector.to_string());
    assert_eq!(t["targets"].as_array().unwrap().len(), 0);
    let tiny = json!({"rate": 1, "duration": "5m", "exporters": {"ipfix": 1}, "anomalies": []});
    let start = || web.api("POST", "/api/v1/simulations", Cred::Session(&admin), Some(tiny.clone()));
    let mut ids = Vec::new();
    for _ in 0..16 {
        let r = start();
        assert_eq!(r.status, Status::Created, "{}", r.body);
        ids.push(r.json()["id"].as_i64().unwrap());
    }
    let r = start();
    assert_eq!(r.status, Status::Conflict, "{}", r.body);
    assert!(r.body.contains("stop one first"), "{}", r.body);
    let list = web.json("/api/v1/simulations", &admin);
    let running = list["runs"].as_array().unwrap().iter().filter(|r| r["state"] == "running").count();
    println!("{running} running, the 17th refused: {}", r.body);
    assert_eq!(running, 16);
    for id in ids {
        let r = web.api("POST", &format!("/api/v1/simulations/{id}/stop"), Cred::Session(&admin), None);
        assert_eq!(r.status, Status::Ok, "{}", r.body);
    }
    assert_eq!(start().status, Status::Created);
}

#[test]
fn requests_beyond_the_limits_are_refused_before_anything_runs() {
    let (collector, received) = receiver();
    let web = Web::start_with(|c| {
        c.sim_default_target = collector;
        c.sim_rate_budget = 10_000.0;
    });
    let admin = web.login(ADMIN, ADMIN_PW);
    let start = |body: Value| web.api("POST", "/api/v1/simulations", Cred::Session(&admin), Some(body));
    let flood = |extra: Value| {
        let mut a = json!({"kind": "syn_flood", "start": "0s", "duration": "1m"});
        if let (Some(a), Some(e)) = (a.as_object_mut(), extra.as_object()) {
            a.extend(e.clone());
        }
        json!({"rate": 100, "duration": "1m", "exporters": {"ipfix": 1}, "anomalies": [a]})
    };
    let cases = [
        // Group counts whose sum wraps to 1 must not pass as one exporter.
        (json!({"rate": 100, "exporters": {"netflow_v5": u64::MAX, "netflow_v9": 2}}), "exporters"),
        (flood(json!({"sources": 4_000_000_000u64})), "sources"),
        (flood(json!({"intensity": 1e6})), "intensity"),
        (
            json!({"rate": 100, "exporters": {"ipfix": 1}, "anomalies": [
                {"kind": "beaconing", "start": "0s", "duration": "100000d", "period": "10ms"}]}),
            "duration",
        ),
        (json!({"rate": 100, "duration": "30d", "exporters": {"ipfix": 1}}), "duration"),
        (json!({"toml": "rate = 100\n[traffic]\nexternal_hosts = 10000000000\n"}), "hosts"),
        (json!({"toml": "rate = 100\n[traffic]\ninternal_v4 = [\"0.0.0.0/0\"]\n"}), "prefix"),
    ];
    for (body, word) in &cases {
        let r = start(body.clone());
        assert_eq!(r.status, Status::BadRequest, "{body}: {}", r.body);
        assert!(r.body.contains(word), "{body}: {}", r.body);
        println!("refused: {}", r.body);
    }
    // A flood is charged what it sends: 1,000 background flows/s at intensity 10 is
    // 11,000 flows/s, over the 10,000 budget, although its background rate fits.
    let mut heavy = flood(json!({"intensity": 10.0}));
    heavy["rate"] = json!(1000);
    let r = start(heavy);
    assert_eq!(r.status, Status::Conflict, "{}", r.body);
    assert!(r.body.contains("budget"), "{}", r.body);
    // Nothing was started by any of them.
    let list = web.json("/api/v1/simulations", &admin);
    assert_eq!(list["runs"].as_array().unwrap().len(), 0, "{list}");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(received.load(Ordering::Relaxed), 0);
    // Broadcast and v4-mapped multicast are not targets, even for an admin.
    for t in ["255.255.255.255:2055", "[::ffff:239.1.1.1]:2055", "[::ffff:0.0.0.0]:9"] {
        let r = web.api(
            "POST",
            "/api/v1/simulation-targets",
            Cred::Session(&admin),
            Some(json!({"target": t, "note": "x"})),
        );
        assert_eq!(r.status, Status::BadRequest, "{t}: {}", r.body);
    }
}
