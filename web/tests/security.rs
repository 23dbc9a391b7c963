//! Security properties: logged-out requests refused on every route, CSRF-less posts
//! refused on every form and cookie-authenticated API write, login rate limiting and
//! lockout, session fixation, logout and revocation, one-time passwords, headers and
//! cookie attributes, parameterised SQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use common::*;
use rocket::http::{ContentType, Cookie, Status};
use serde_json::json;

/// Routes anyone may reach: the login form, static assets, the health check.
fn is_public(path: &str) -> bool {
    path == "/login" || path.starts_with("/static/") || path == "/healthz"
}

#[test]
fn logged_out_requests_are_refused_on_every_route() {
    let (web, _rows) = Web::with_data();
    let routes = routes(&web.client);
    let mut refused = 0;
    for (method, path) in &routes {
        if is_public(path) {
            continue;
        }
        let uri = concrete(path, EXPORTERS[0], 1);
        for cred in ["none", "bad-cookie", "bad-token"] {
            let mut req = web.client.req(method.parse().unwrap(), uri.clone());
            match cred {
                "bad-cookie" => req = req.cookie(Cookie::new("fv_session", "x".repeat(43))),
                "bad-token" => {
                    req = req.header(rocket::http::Header::new(
                        "Authorization",
                        format!("Bearer fvt_{}", "a".repeat(43)),
                    ))
                }
                _ => {}
            }
            if method != "GET" {
                req = req.header(ContentType::Form).body("csrf=x");
            }
            let res = req.dispatch();
            let status = res.status();
            let location = res.headers().get_one("Location").map(str::to_string);
            let body = res.into_string().unwrap_or_default();
            // /metrics answers scrapers like the API: 401, not a login page.
            let ok = if path.starts_with("/api/") || path == "/metrics" {
                status == Status::Unauthorized
            } else if method == "GET" {
                status == Status::SeeOther && location.as_deref().unwrap_or("").starts_with("/login")
            } else {
                status == Status::Unauthorized
            };
            assert!(ok, "{method} {uri} ({cred}) answered {status} {location:?}");
            for ex in EXPORTERS {
                assert!(!body.contains(ex), "{method} {uri} leaks {ex}");
            }
            refused += 1;
        }
    }
    // Public routes answer without data.
    assert_eq!(web.get("/login", None).status, Status::Ok);
    assert_eq!(web.get("/healthz", None).body, "ok");
    assert_eq!(web.get("/static/app.css", None).status, Status::Ok);
    println!("{refused} logged-out requests over {} routes refused", routes.len());
}

#[test]
fn posts_without_csrf_token_are_refused() {
    let (web, _rows) = Web::with_data();
    let admin = web.login(ADMIN, ADMIN_PW);
    let (vid, viewer) = web.user(&admin, "victim", "viewer", &[EXPORTERS[0]], &[]);
    let mut refused = 0;
    for (method, path) in routes(&web.client) {
        if method == "GET" || is_public(&path) {
            continue;
        }
        let uri = concrete(&path, EXPORTERS[0], vid);
        if path.starts_with("/api/") {
            // Cookie-authenticated API writes need the X-CSRF-Token header.
            for cred in [
                Cred::SessionNoCsrf(&admin),
                Cred::Session(&Session { csrf: "wrong".into(), ..admin.clone() }),
            ] {
                let r = web.api(
                    &method,
                    &uri,
                    cred,
                    Some(json!({"name": "x", "username": "x", "role": "admin"})),
                );
                assert_eq!(r.status, Status::Forbidden, "{method} {uri}: {}", r.body);
                refused += 1;
            }
        } else {
            // Forms: no token, an empty one, another session's token.
            let fields = "username=mallory&role=admin&prefixes=&name=x&description=&current_password=a&new_password=b&confirm_password=b";
            for body in [
                fields.to_string(),
                format!("csrf=&{fields}"),
                format!("csrf={}&{fields}", enc(&viewer.csrf)),
            ] {
                let r = web.post_form(&uri, Some(&admin), &body);
                assert_eq!(r.status, Status::Forbidden, "{method} {uri} with {body}: {}", r.body);
                refused += 1;
            }
        }
    }
    // Nothing happened: no user mallory, the victim still exists and is logged in.
    let users = web.json("/api/v1/users", &admin).to_string();
    assert!(!users.contains("mallory") && users.contains("victim"));
    assert_eq!(web.get("/api/v1/me", Some(&viewer)).status, Status::Ok);
    assert_eq!(web.get("/api/v1/me", Some(&admin)).status, Status::Ok, "logout without token did nothing");
    // Login form without its double-submit token.
    let r = web
        .client
        .post("/login")
        .header(ContentType::Form)
        .body(format!("username={ADMIN}&password={ADMIN_PW}"))
        .dispatch();
    assert_eq!(r.status(), Status::Forbidden);
    assert!(r.cookies().get("fv_session").is_none());
    // With the token: the same post works (so the refusals above were about the token).
    let r = web.post_csrf("/account/tokens", &viewer, &[("name", "ok"), ("expires_days", "1")]);
    assert_eq!(r.status, Status::Ok);
    assert!(r.body.contains("data-test=\"new-token\""));
    println!("{refused} CSRF-less posts refused");
}

fn login_from(web: &Web, user: &str, pw: &str, ip: &str) -> Status {
    let page = web.client.get("/login").dispatch();
    let c = page.cookies().get("fv_login_csrf").unwrap().value().to_string();
    web.client
        .post("/login")
        .remote(format!("{ip}:40000").parse().unwrap())
        .header(ContentType::Form)
        .cookie(Cookie::new("fv_login_csrf", c.clone()))
        .body(format!("username={}&password={}&csrf={}", enc(user), enc(pw), enc(&c)))
        .dispatch()
        .status()
}

#[test]
fn wrong_passwords_are_rate_limited_and_lock_out() {
    let web = Web::start();
    let admin = web.login(ADMIN, ADMIN_PW);
    let (uid, _) = web.user(&admin, "alice", "viewer", &[], &[]);
    let pw = "alice-chosen-password";
    // Per user: five failures lock the account, even for the right password.
    for i in 0..5 {
        assert_eq!(
            login_from(&web, "alice", &format!("guess-{i}-xxxxxxxx"), "198.51.100.1"),
            Status::Unauthorized
        );
    }
    assert_eq!(login_from(&web, "alice", pw, "198.51.100.2"), Status::TooManyRequests);
    assert_eq!(
        login_from(&web, "ALICE", pw, "198.51.100.3"),
        Status::TooManyRequests,
        "names are case-insensitive"
    );
    let u = web.json(&format!("/api/v1/users/{uid}"), &admin);
    assert_eq!(u["locked"], true);
    // An admin unlocks; the right password works again.
    let r = web.post_csrf(&format!("/admin/users/{uid}/unlock"), &admin, &[]);
    assert_eq!(r.status, Status::SeeOther);
    assert_eq!(login_from(&web, "alice", pw, "198.51.100.2"), Status::SeeOther);
    // Per address: twenty failures (any user names) block the address, not others.
    for i in 0..20 {
        assert_eq!(
            login_from(&web, &format!("nobody{i}"), "wrong-password-123", "203.0.113.66"),
            Status::Unauthorized
        );
    }
    assert_eq!(login_from(&web, "alice", pw, "203.0.113.66"), Status::TooManyRequests);
    assert_eq!(login_from(&web, "alice", pw, "203.0.113.67"), Status::SeeOther);
    // Counted in PostgreSQL, audited without the passwords tried.
    let mut c = web.pg.connect().unwrap();
    let n: i64 =
        c.query_one("SELECT count(*) FROM web_login_attempts WHERE NOT success", &[]).unwrap().get(0);
    // 20 from the blocked address + the refused attempt; the unlock cleared alice's 7.
    assert_eq!(n, 21);
    let audit: String = c
        .query_one("SELECT string_agg(details::text || actor || target, ' ') FROM web_audit_log", &[])
        .unwrap()
        .get(0);
    assert!(!audit.contains("guess-") && !audit.contains("wrong-password"), "{audit}");
    assert!(audit.contains("(unknown user)"));
    let blocked: i64 =
        c.query_one("SELECT count(*) FROM web_audit_log WHERE action = 'login.blocked'", &[]).unwrap().get(0);
    let locked: i64 =
        c.query_one("SELECT count(*) FROM web_audit_log WHERE action = 'login.locked'", &[]).unwrap().get(0);
    assert_eq!((blocked, locked), (1, 2));
    println!("lockout after 5 failures per user, block after 20 per address: {n} failures counted");
}

#[test]
fn sessions_cannot_be_fixed_and_end_when_they_should() {
    let web = Web::start();
    // Fixation: a session id chosen by an attacker is never adopted.
    let planted = "A".repeat(43);
    let (status, cookie, _) = web.try_login(ADMIN, ADMIN_PW, Some(&planted));
    assert_eq!(status, Status::SeeOther);
    let cookie = cookie.unwrap();
    assert_ne!(cookie, planted);
    assert_eq!(
        web.get("/api/v1/me", Some(&Session { cookie: planted, csrf: String::new() })).status,
        Status::Unauthorized
    );
    // Logging in again replaces the presented (valid) session with a new id.
    let (_, second, _) = web.try_login(ADMIN, ADMIN_PW, Some(&cookie));
    let second = second.unwrap();
    assert_ne!(second, cookie);
    assert_eq!(
        web.get("/api/v1/me", Some(&Session { cookie: cookie.clone(), csrf: String::new() })).status,
        Status::Unauthorized
    );
    let s = Session { csrf: web.csrf_of(&second), cookie: second };
    // Only the digest is stored.
    let mut c = web.pg.connect().unwrap();
    let stored: Vec<Vec<u8>> =
        c.query("SELECT id_hash FROM web_sessions", &[]).unwrap().iter().map(|r| r.get(0)).collect();
    assert!(stored.iter().all(|h| h.len() == 32 && !String::from_utf8_lossy(h).contains(&s.cookie)));
    // Cookie attributes.
    let page = web.client.get("/login").dispatch();
    let c2 = page.cookies().get("fv_login_csrf").unwrap().value().to_string();
    let res = web
        .client
        .post("/login")
        .header(ContentType::Form)
        .cookie(Cookie::new("fv_login_csrf", c2.clone()))
        .body(format!("username={ADMIN}&password={}&csrf={c2}", enc(ADMIN_PW)))
        .dispatch();
    let set: Vec<String> = res.headers().get("Set-Cookie").map(str::to_string).collect();
    let sc = set.iter().find(|h| h.starts_with("fv_session=")).unwrap();
    assert!(sc.contains("HttpOnly") && sc.contains("SameSite=Strict") && sc.contains("Path=/"), "{sc}");
    assert!(!sc.contains("Secure"), "no Secure flag without TLS or WEB_COOKIE_SECURE: {sc}");
    // Logout ends the session for good.
    let r = web.post_csrf("/logout", &s, &[]);
    assert_eq!(r.status, Status::SeeOther);
    assert_eq!(web.get("/api/v1/me", Some(&s)).status, Status::Unauthorized);
    assert_eq!(web.get("/", Some(&s)).status, Status::SeeOther);
    // Expired sessions are refused.
    let s = web.login(ADMIN, ADMIN_PW);
    c.batch_execute("UPDATE web_sessions SET expires_at = now() - interval '1 second'").unwrap();
    assert_eq!(web.get("/api/v1/me", Some(&s)).status, Status::Unauthorized);
    // Idle sessions too.
    let s = web.login(ADMIN, ADMIN_PW);
    c.batch_execute("UPDATE web_sessions SET last_seen = now() - interval '13 hours'").unwrap();
    assert_eq!(web.get("/api/v1/me", Some(&s)).status, Status::Unauthorized);
    println!("fixation refused, rotation on login, logout, expiry and idle timeout checked");
}

#[test]
fn secure_cookie_flag_when_configured() {
    let web = Web::start_with(|c| c.cookie_secure = true);
    let page = web.client.get("/login").dispatch();
    let c = page.cookies().get("fv_login_csrf").unwrap().value().to_string();
    let res = web
        .client
        .post("/login")
        .header(ContentType::Form)
        .cookie(Cookie::new("fv_login_csrf", c.clone()))
        .body(format!("username={ADMIN}&password={}&csrf={c}", enc(ADMIN_PW)))
        .dispatch();
    let set: Vec<String> = res.headers().get("Set-Cookie").map(str::to_string).collect();
    let sc = set.iter().find(|h| h.starts_with("fv_session=")).unwrap();
    assert!(sc.contains("Secure"), "{sc}");
}

#[test]
fn tokens_revocation_disabled_users_and_one_time_passwords() {
    let web = Web::start();
    let admin = web.login(ADMIN, ADMIN_PW);
    let (uid, bob) = web.user(&admin, "bob", "analyst", &[EXPORTERS[0]], &[]);
    // Token through the page (shown once), used as bearer, revoked through the page.
    let r = web.post_csrf("/account/tokens", &bob, &[("name", "script"), ("expires_days", "0")]);
    let tok = between(&r.body, "data-test=\"new-token\">", "<").unwrap();
    assert_eq!(web.get_bearer("/api/v1/me", &tok).json()["username"], "bob");
    assert!(!web.get("/account", Some(&bob)).body.contains(&tok), "shown only once");
    let mut c = web.pg.connect().unwrap();
    let id: i64 = c.query_one("SELECT id FROM web_api_tokens", &[]).unwrap().get(0);
    // Tokens only work on the API, not for pages.
    assert_eq!(web.get_bearer("/", &tok).status, Status::SeeOther);
    let r = web.post_csrf(&format!("/account/tokens/{id}/revoke"), &bob, &[]);
    assert_eq!(r.status, Status::SeeOther);
    assert_eq!(web.get_bearer("/api/v1/me", &tok).status, Status::Unauthorized);
    // Another user's token cannot be revoked by bob.
    let t2 = web.api("POST", "/api/v1/tokens", Cred::Session(&admin), Some(json!({"name": "a"}))).json();
    let r = web.api("DELETE", &format!("/api/v1/tokens/{}", t2["id"]), Cred::Session(&bob), None);
    assert_eq!(r.status, Status::NotFound);
    assert_eq!(web.get_bearer("/api/v1/me", t2["token"].as_str().unwrap()).status, Status::Ok);
    // Expired tokens stop working.
    let t3 = web
        .api("POST", "/api/v1/tokens", Cred::Session(&bob), Some(json!({"name": "b", "expires_days": 1})))
        .json();
    let t3v = t3["token"].as_str().unwrap();
    assert_eq!(web.get_bearer("/api/v1/me", t3v).status, Status::Ok);
    c.execute(
        "UPDATE web_api_tokens SET expires_at = now() - interval '1 minute' WHERE id = $1",
        &[&t3["id"].as_i64().unwrap()],
    )
    .unwrap();
    assert_eq!(web.get_bearer("/api/v1/me", t3v).status, Status::Unauthorized);
    // A disabled user's sessions and tokens stop at once.
    let t4 = web.api("POST", "/api/v1/tokens", Cred::Session(&bob), Some(json!({"name": "c"}))).json();
    let r = web.post_csrf(
        &format!("/admin/users/{uid}"),
        &admin,
        &[("role", "analyst"), ("prefixes", ""), ("disabled", "on")],
    );
    assert_eq!(r.status, Status::SeeOther, "{}", r.body);
    assert_eq!(web.get("/api/v1/me", Some(&bob)).status, Status::Unauthorized);
    assert_eq!(web.get_bearer("/api/v1/me", t4["token"].as_str().unwrap()).status, Status::Unauthorized);
    assert_eq!(web.try_login("bob", "bob-chosen-password", None).0, Status::Unauthorized);
    // One-time password: nothing but the password change until it is changed.
    let r = web.post_csrf(
        "/admin/users",
        &admin,
        &[("username", "carol"), ("role", "viewer"), ("prefixes", "192.0.2.1")],
    );
    let otp = between(&r.body, "data-test=\"one-time-password\">", "<").unwrap();
    let carol = web.login("carol", &otp);
    assert_eq!(web.get("/", Some(&carol)).status, Status::SeeOther);
    assert_eq!(web.get("/", Some(&carol)).header("Location"), Some("/account/password"));
    assert_eq!(web.get("/api/v1/traffic", Some(&carol)).status, Status::Forbidden);
    assert_eq!(web.get("/api/v1/me", Some(&carol)).json()["must_change_password"], true);
    let r = web.post_csrf(
        "/account/password",
        &carol,
        &[("current_password", &otp), ("new_password", "short"), ("confirm_password", "short")],
    );
    assert_eq!(r.status, Status::BadRequest);
    let np = "carol-new-password-1";
    let r = web.post_csrf(
        "/account/password",
        &carol,
        &[("current_password", &otp), ("new_password", np), ("confirm_password", np)],
    );
    assert_eq!(r.status, Status::SeeOther);
    let rotated = r.set_cookie("fv_session").unwrap();
    assert_ne!(rotated, carol.cookie, "the session id changes with the password");
    assert_eq!(web.get("/api/v1/me", Some(&carol)).status, Status::Unauthorized);
    let carol2 = Session { csrf: web.csrf_of(&rotated), cookie: rotated };
    assert_eq!(web.get("/", Some(&carol2)).status, Status::Ok);
    assert_eq!(web.try_login("carol", &otp, None).0, Status::Unauthorized, "the one-time password is spent");
    // Stored passwords are argon2id hashes.
    let hashes: Vec<String> =
        c.query("SELECT password_hash FROM web_users", &[]).unwrap().iter().map(|r| r.get(0)).collect();
    assert!(hashes.iter().all(|h| h.starts_with("$argon2id$")));
    let tokens: Vec<Vec<u8>> =
        c.query("SELECT token_hash FROM web_api_tokens", &[]).unwrap().iter().map(|r| r.get(0)).collect();
    assert!(tokens.iter().all(|t| t.len() == 32));
    println!("token revocation, expiry, disabled users and one-time passwords checked");
}

#[test]
fn headers_and_hostile_input() {
    let (web, _rows) = Web::with_data();
    let admin = web.login(ADMIN, ADMIN_PW);
    let r = web.get("/", Some(&admin));
    let csp = r.header("Content-Security-Policy").unwrap();
    assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"));
    assert_eq!(r.header("X-Frame-Options"), Some("DENY"));
    assert_eq!(r.header("X-Content-Type-Options"), Some("nosniff"));
    assert_eq!(r.header("Cache-Control"), Some("no-store"));
    assert!(!r.body.contains("<script>") && !r.body.contains("style=\""), "no inline script or style");
    // Hostile values are data, never SQL or markup.
    for uri in [
        "/api/v1/flows?src=10.0.0.1';DROP%20TABLE%20flows;--",
        "/api/v1/traffic?exporter=1.1.1.1)%20OR%20(1=1",
        "/api/v1/top/talkers?side=src';--",
        "/api/v1/audit?action=%27%20OR%201%3D1",
    ] {
        let s = web.get(uri, Some(&admin)).status;
        assert!(s == Status::BadRequest || s == Status::Ok, "{uri}: {s}");
    }
    let r = web.get("/api/v1/audit?action=%27%20OR%201%3D1", Some(&admin)).json();
    assert_eq!(r["entries"].as_array().unwrap().len(), 0);
    let r = web.get("/flows?src=%3Cscript%3Ealert(1)%3C/script%3E", Some(&admin));
    assert!(!r.body.contains("<script>alert(1)</script>"));
    assert!(r.body.contains("&lt;script&gt;"));
    let (s, _, _) = web.try_login("x' OR '1'='1", "' OR 1=1 --", None);
    assert_eq!(s, Status::Unauthorized);
    let mut c = web.pg.connect().unwrap();
    let n: i64 = c.query_one("SELECT count(*) FROM flows", &[]).unwrap().get(0);
    assert_eq!(n, 360, "flows intact");
    println!("security headers present; hostile input handled as data");
}
