//! Shared helpers of the web tests: a real PostgreSQL (flowvision-tests' PgCluster),
//! the web application on Rocket's local client, flows stored through the collector's
//! own store (so rollups are exactly what the collector writes), and small HTTP
//! helpers (sessions, CSRF tokens, bearer tokens).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

pub mod appliance;

use flowvision_codec::{FlowRecord, Protocol, SamplingOrigin};
use flowvision_collector::store::{
    Batch, BatchId, CollectorSnapshot, ExporterTotals, FlowRow, PartitionInterval, Store, StoreConfig,
    StoreStats,
};
use flowvision_tests::pg::PgCluster;
use flowvision_web::config::{Argon2Cost, WebConfig};
use rocket::http::{ContentType, Cookie, Header, Status};
use rocket::local::blocking::Client;
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub const ADMIN: &str = "admin";
pub const ADMIN_PW: &str = "admin-password-for-tests";

/// The three exporters of the data set, each with its own hosts, ports, AS and
/// interfaces, so that leaking one exporter's data into another's scope is visible.
pub const EXPORTERS: [&str; 3] = ["192.0.2.1", "192.0.2.2", "2001:db8::1"];

/// Per-exporter markers: (source hosts prefix, service port, src AS, in_if, proto).
pub fn marker(i: usize) -> (&'static str, u16, u32, u32, u8) {
    match i {
        0 => ("10.1.0.", 443, 64501, 1, 6),
        1 => ("10.2.0.", 5432, 64502, 11, 132),
        _ => ("2001:db8:c::", 8443, 64503, 21, 17),
    }
}

pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
}

/// The rows of the data set: 120 per exporter over the last 40 minutes.
pub fn dataset(now: i64) -> Vec<FlowRow> {
    let mut rows = Vec::new();
    for (i, ex) in EXPORTERS.iter().enumerate() {
        let exporter: IpAddr = ex.parse().unwrap();
        let (hosts, port, asn, in_if, proto) = marker(i);
        let protocol = [Protocol::NetflowV5, Protocol::Ipfix, Protocol::NetflowV9][i];
        let rate = [1u32, 10, 1][i];
        for k in 0..120u32 {
            let mut r = FlowRecord::new(protocol, exporter);
            let h = k % 8;
            r.src_addr = Some(format!("{hosts}{}", h + 1).parse().unwrap());
            r.dst_addr = Some(if i == 2 {
                "2001:db8:ffff::1".parse().unwrap()
            } else {
                "203.0.113.9".parse().unwrap()
            });
            r.src_port = 40000 + k as u16;
            r.dst_port = port;
            r.proto = proto;
            // Distinct per host so rankings have no ties: host h sends (h+1) * 1000 bytes per flow.
            r.bytes = u64::from((h + 1) * 1000 + i as u32);
            r.packets = u64::from(h + 2);
            r.sampling_rate = rate;
            r.sampling_origin = SamplingOrigin::Record;
            r.in_if = in_if + (k % 2);
            r.out_if = in_if + 5;
            r.src_as = asn;
            r.dst_as = 64999;
            r.sequence = k;
            r.flow_start_ms = Some(now - 2_400_000 + i64::from(k) * 20_000 - 5_000);
            r.flow_end_ms = Some(now - 2_400_000 + i64::from(k) * 20_000);
            rows.push(FlowRow { time_received_ms: now - 2_400_000 + i64::from(k) * 20_000, record: r });
        }
    }
    rows
}

/// Sampling-corrected bytes of `rows` whose exporter is `ex` (all when `None`).
pub fn bytes_of(rows: &[FlowRow], ex: Option<&str>) -> i64 {
    rows.iter()
        .filter(|r| ex.map_or(true, |e| r.record.exporter == e.parse::<IpAddr>().unwrap()))
        .map(|r| (r.record.bytes * u64::from(r.record.sampling_rate.max(1))) as i64)
        .sum()
}

/// Sampling-corrected bytes of `rows` grouped by `key`, largest first (ties by key):
/// the ranking a top-N table must show.
pub fn ranked<'a>(
    rows: impl IntoIterator<Item = &'a FlowRow>,
    key: impl Fn(&FlowRow) -> String,
) -> Vec<(String, i64)> {
    let mut m: std::collections::HashMap<String, i64> = std::collections::HashMap::new();
    for r in rows {
        *m.entry(key(r)).or_default() += (r.record.bytes * u64::from(r.record.sampling_rate.max(1))) as i64;
    }
    let mut v: Vec<(String, i64)> = m.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    v
}

/// (key, bytes) of a top-N API response's items, in order.
pub fn items(v: &Value) -> Vec<(String, i64)> {
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["key"].as_str().unwrap().to_string(), i["bytes"].as_i64().unwrap()))
        .collect()
}

/// Stores rows through the collector's store (flows + rollups + exporters), writes
/// collector statistics, and waits until everything is committed.
pub fn store(url: &str, rows: &[FlowRow]) {
    let spool = tempfile::tempdir().unwrap();
    let mut cfg = StoreConfig::new(url, spool.path());
    cfg.partition_interval = PartitionInterval::Hourly;
    cfg.connect_timeout = Duration::from_secs(5);
    cfg.stats_interval = Duration::from_millis(200);
    cfg.host = "test-collector".into();
    let stats = Arc::new(StoreStats::default());
    let (store, tx) = Store::start(cfg, Arc::clone(&stats)).unwrap();
    let instance = flowvision_collector::store::new_instance_id();
    for (i, chunk) in rows.chunks(60).enumerate() {
        tx.send(Batch { id: BatchId { instance, seq: i as u64 }, rows: chunk.to_vec() }).unwrap();
    }
    let end = Instant::now() + Duration::from_secs(120);
    while stats.rows_stored.load(Ordering::Relaxed) < rows.len() as u64 {
        assert!(Instant::now() < end, "rows not stored in time");
        std::thread::sleep(Duration::from_millis(20));
    }
    let now = now_ms();
    let mut counters = BTreeMap::new();
    counters.insert("datagrams_received".to_string(), 1234u64);
    counters.insert("records_decoded".to_string(), rows.len() as u64);
    let exporters = EXPORTERS
        .iter()
        .enumerate()
        .map(|(i, e)| ExporterTotals {
            exporter: e.parse().unwrap(),
            protocol: Some([Protocol::NetflowV5, Protocol::Ipfix, Protocol::NetflowV9][i]),
            datagrams: 40,
            datagram_bytes: 40_000,
            records: 120,
            decode_errors: i as u64,
            sequence_lost: 7 * i as u64,
            templates: 2,
            last_seen_ms: now,
        })
        .collect();
    store.write_stats(&CollectorSnapshot { time_ms: now, counters, exporters }).unwrap();
    std::thread::sleep(Duration::from_millis(600));
    store.shutdown().unwrap();
}

/// A test environment: database, application, admin session.
pub struct Web {
    pub client: Client,
    pub pg: PgCluster,
}

/// The configuration the tests run with: cheap argon2 (the debug build is slow), the
/// first admin from the environment-equivalent fields.
pub fn config(url: &str) -> WebConfig {
    let mut cfg = WebConfig::new(url);
    cfg.admin_user = ADMIN.into();
    cfg.admin_password = Some(ADMIN_PW.into());
    cfg.argon2 = Argon2Cost { memory_kib: 256, iterations: 1, parallelism: 1 };
    cfg.log_level = "critical".into();
    cfg.pool_size = 4;
    // A fixed sealing key: nothing written into the working directory.
    cfg.snmp.key = flowvision_web::config::SnmpKeySource::Env(TEST_SNMP_KEY.into());
    cfg
}

/// The SNMP sealing key of the in-process tests (32 bytes of 0x2a, base64).
pub const TEST_SNMP_KEY: &str = "KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio=";

impl Web {
    /// A fresh database and application (migrations and first admin applied).
    pub fn start() -> Web {
        Web::start_with(|_| {})
    }

    /// Same, with a configuration tweak.
    pub fn start_with(tweak: impl FnOnce(&mut WebConfig)) -> Web {
        let pg = PgCluster::start().unwrap();
        let mut cfg = config(pg.url());
        tweak(&mut cfg);
        let rocket = flowvision_web::build(cfg).unwrap();
        let client = Client::untracked(rocket).expect("rocket ignites (migrations, first admin)");
        Web { client, pg }
    }

    /// A fresh environment with the data set stored; returns the rows too.
    pub fn with_data() -> (Web, Vec<FlowRow>) {
        Web::with_data_and(|_| {})
    }

    /// Same, with a configuration tweak.
    pub fn with_data_and(tweak: impl FnOnce(&mut WebConfig)) -> (Web, Vec<FlowRow>) {
        let web = Web::start_with(tweak);
        let rows = dataset(now_ms());
        store(web.pg.url(), &rows);
        // Exporter 3 has one template persisted (for active_templates).
        let mut c = web.pg.connect().unwrap();
        c.batch_execute(
            "INSERT INTO templates (exporter, protocol, observation_domain, template_id, kind, fields, last_seen) \
             VALUES ('2001:db8::1', 'netflow_v9', 0, 256, '\"data\"', '[]', now())",
        )
        .unwrap();
        (web, rows)
    }

    /// Logs in through the login form; panics unless it succeeds.
    pub fn login(&self, user: &str, pw: &str) -> Session {
        let (status, cookie, body) = self.try_login(user, pw, None);
        assert_eq!(status, Status::SeeOther, "login of {user} failed: {body}");
        let cookie = cookie.expect("session cookie set");
        let csrf = self.csrf_of(&cookie);
        Session { cookie, csrf }
    }

    /// Posts the login form (with a fresh login CSRF token, optionally presenting an
    /// existing session cookie); returns the status, the new session cookie and body.
    pub fn try_login(&self, user: &str, pw: &str, present: Option<&str>) -> (Status, Option<String>, String) {
        let page = self.client.get("/login").dispatch();
        let login_csrf = page.cookies().get("fv_login_csrf").expect("login csrf cookie").value().to_string();
        let html = page.into_string().unwrap();
        let token = between(&html, "name=\"csrf\" value=\"", "\"").expect("csrf field");
        assert_eq!(token, login_csrf);
        let body = format!("username={}&password={}&csrf={}", enc(user), enc(pw), enc(&token));
        let mut req = self
            .client
            .post("/login")
            .header(ContentType::Form)
            .cookie(Cookie::new("fv_login_csrf", login_csrf))
            .body(body);
        if let Some(old) = present {
            req = req.cookie(Cookie::new("fv_session", old.to_string()));
        }
        let res = req.dispatch();
        let status = res.status();
        let cookie = res.cookies().get("fv_session").map(|c| c.value().to_string()).filter(|v| !v.is_empty());
        (status, cookie, res.into_string().unwrap_or_default())
    }

    /// The CSRF token of a session (from the page's meta tag).
    pub fn csrf_of(&self, cookie: &str) -> String {
        for path in ["/account", "/account/password"] {
            let res = self.client.get(path).cookie(Cookie::new("fv_session", cookie.to_string())).dispatch();
            if res.status() == Status::Ok {
                let html = res.into_string().unwrap();
                return between(&html, "name=\"csrf-token\" content=\"", "\"").expect("csrf meta");
            }
        }
        panic!("no page with a CSRF token for this session");
    }

    /// GET with an optional session.
    pub fn get(&self, uri: &str, s: Option<&Session>) -> Resp {
        let mut req = self.client.get(uri.to_string());
        if let Some(s) = s {
            req = req.cookie(Cookie::new("fv_session", s.cookie.clone()));
        }
        Resp::of(req.dispatch())
    }

    /// GET with a bearer token.
    pub fn get_bearer(&self, uri: &str, token: &str) -> Resp {
        Resp::of(
            self.client
                .get(uri.to_string())
                .header(Header::new("Authorization", format!("Bearer {token}")))
                .dispatch(),
        )
    }

    /// A form post with an optional session; `body` is sent as is.
    pub fn post_form(&self, uri: &str, s: Option<&Session>, body: &str) -> Resp {
        let mut req = self.client.post(uri.to_string()).header(ContentType::Form).body(body);
        if let Some(s) = s {
            req = req.cookie(Cookie::new("fv_session", s.cookie.clone()));
        }
        Resp::of(req.dispatch())
    }

    /// A form post with the session's CSRF token added.
    pub fn post_csrf(&self, uri: &str, s: &Session, fields: &[(&str, &str)]) -> Resp {
        let mut body = format!("csrf={}", enc(&s.csrf));
        for (k, v) in fields {
            body.push_str(&format!("&{}={}", enc(k), enc(v)));
        }
        self.post_form(uri, Some(s), &body)
    }

    /// An API call: JSON body, credentials as given (a session adds X-CSRF-Token).
    pub fn api(&self, method: &str, uri: &str, cred: Cred<'_>, body: Option<Value>) -> Resp {
        let m = match method {
            "GET" => rocket::http::Method::Get,
            "POST" => rocket::http::Method::Post,
            "PUT" => rocket::http::Method::Put,
            "PATCH" => rocket::http::Method::Patch,
            "DELETE" => rocket::http::Method::Delete,
            _ => panic!("method {method}"),
        };
        let mut req = self.client.req(m, uri.to_string());
        match cred {
            Cred::None => {}
            Cred::Session(s) => {
                req = req
                    .cookie(Cookie::new("fv_session", s.cookie.clone()))
                    .header(Header::new("X-CSRF-Token", s.csrf.clone()));
            }
            Cred::SessionNoCsrf(s) => {
                req = req.cookie(Cookie::new("fv_session", s.cookie.clone()));
            }
            Cred::Token(t) => {
                req = req.header(Header::new("Authorization", format!("Bearer {t}")));
            }
        }
        if let Some(b) = body {
            req = req.header(ContentType::JSON).body(b.to_string());
        }
        Resp::of(req.dispatch())
    }

    /// GET of a JSON API path as a session; asserts 200.
    pub fn json(&self, uri: &str, s: &Session) -> Value {
        let r = self.get(uri, Some(s));
        assert_eq!(r.status, Status::Ok, "{uri}: {}", r.body);
        serde_json::from_str(&r.body).unwrap()
    }

    /// Creates a user through the API as `admin`; logs them in after choosing a
    /// password (their initial one is one-time). Returns (id, session).
    pub fn user(
        &self,
        admin: &Session,
        name: &str,
        role: &str,
        prefixes: &[&str],
        groups: &[i64],
    ) -> (i64, Session) {
        let pw = format!("{name}-initial-password");
        let r = self.api(
            "POST",
            "/api/v1/users",
            Cred::Session(admin),
            Some(serde_json::json!({"username": name, "role": role, "prefixes": prefixes, "groups": groups, "password": pw})),
        );
        assert_eq!(r.status, Status::Created, "{}", r.body);
        let id = r.json()["id"].as_i64().unwrap();
        let s = self.login(name, &pw);
        let final_pw = format!("{name}-chosen-password");
        let r = self.post_csrf(
            "/account/password",
            &s,
            &[("current_password", &pw), ("new_password", &final_pw), ("confirm_password", &final_pw)],
        );
        assert_eq!(r.status, Status::SeeOther, "{}", r.body);
        let cookie = r.set_cookie("fv_session").expect("rotated session");
        let csrf = self.csrf_of(&cookie);
        (id, Session { cookie, csrf })
    }
}

/// Credentials of an API call.
pub enum Cred<'a> {
    None,
    Session(&'a Session),
    SessionNoCsrf(&'a Session),
    Token(&'a str),
}

/// A logged-in session: cookie value and CSRF token.
#[derive(Debug, Clone)]
pub struct Session {
    pub cookie: String,
    pub csrf: String,
}

/// A response, read.
#[derive(Debug)]
pub struct Resp {
    pub status: Status,
    pub body: String,
    pub headers: Vec<(String, String)>,
    pub cookies: Vec<(String, String)>,
}

impl Resp {
    fn of(r: rocket::local::blocking::LocalResponse<'_>) -> Resp {
        let status = r.status();
        let headers = r.headers().iter().map(|h| (h.name().to_string(), h.value().to_string())).collect();
        let cookies = r.cookies().iter().map(|c| (c.name().to_string(), c.value().to_string())).collect();
        Resp { status, body: r.into_string().unwrap_or_default(), headers, cookies }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn set_cookie(&self, name: &str) -> Option<String> {
        self.cookies.iter().find(|(n, v)| n == name && !v.is_empty()).map(|(_, v)| v.clone())
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// Text between `a` and the next `b`.
pub fn between(s: &str, a: &str, b: &str) -> Option<String> {
    let start = s.find(a)? + a.len();
    let end = s[start..].find(b)? + start;
    Some(s[start..end].to_string())
}

/// Percent-encoding for form bodies and query strings.
pub fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Every API and page route of the application, as (method, path with `<params>`).
pub fn routes(client: &Client) -> Vec<(String, String)> {
    client.rocket().routes().map(|r| (r.method.as_str().to_string(), r.uri.path().to_string())).collect()
}

/// A concrete URI for a route path: parameters replaced by values that exist.
pub fn concrete(path: &str, addr: &str, id: i64) -> String {
    path.replace("<addr>", addr)
        .replace("<ifindex>", "1")
        .replace("<id>", &id.to_string())
        .replace("<name>", "rule-x")
        .replace("<oid>", "1.3.6.1")
}
