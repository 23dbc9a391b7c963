//! The real `flowvision-web` binary: `--help` prints the usage; unknown subcommands
//! and arguments exit with status 2 and the usage on stderr, never starting the
//! console; bad configuration exits with status 2 and one line; with a database it migrates, prints the first admin's one-time password once,
//! serves HTTP; passwords typed at login or chosen later never reach its output.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use flowvision_tests::http::{self, form_encode as enc};
use flowvision_tests::pg::PgCluster;
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_flowvision-web");

fn run_config_error(envs: &[(&str, &str)]) -> (i32, String) {
    let mut cmd = Command::new(BIN);
    cmd.env_clear().env("PATH", std::env::var("PATH").unwrap_or_default());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).to_string())
}

#[test]
fn bad_configuration_exits_2_with_one_line() {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[], "DATABASE_URL"),
        (&[("DATABASE_URL", "postgresql://h/d"), ("WEB_LISTEN", "eight thousand")], "WEB_LISTEN"),
        (&[("DATABASE_URL", "postgresql://h/d"), ("WEB_TLS_CERT", "/nonexistent.pem")], "WEB_TLS_KEY"),
        (
            &[
                ("DATABASE_URL", "postgresql://h/d"),
                ("WEB_TLS_CERT", "/nonexistent.pem"),
                ("WEB_TLS_KEY", "/x.pem"),
            ],
            "WEB_TLS_CERT",
        ),
        (
            &[("DATABASE_URL", "postgresql://h/d"), ("FLOWVISION_ADMIN_PASSWORD", "tiny-secret")],
            "FLOWVISION_ADMIN_PASSWORD",
        ),
        (&[("DATABASE_URL", "postgresql://h/d"), ("WEB_COOKIE_SECURE", "perhaps")], "WEB_COOKIE_SECURE"),
        (&[("DATABASE_URL", "postgresql://h/d"), ("WEB_LOG", "debug")], "WEB_LOG"),
    ];
    for (envs, var) in cases {
        let (code, err) = run_config_error(envs);
        assert_eq!(code, 2, "{envs:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
        assert!(err.contains(var), "{err}");
        assert!(!err.contains("tiny-secret"), "{err}");
        println!("{var}: {}", err.trim());
    }
}

/// Runs the binary with a configuration that would start the console (its database
/// unreachable, so that a console started by mistake fails rather than serves).
fn run_args(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .env("DATABASE_URL", "postgresql://127.0.0.1:1/none")
        .env("WEB_LISTEN", format!("127.0.0.1:{}", free_port()))
        .env_remove("FLOWVISION_ADMIN_PASSWORD")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[test]
fn help_and_usage_errors_never_start_the_console() {
    for args in [&["--help"][..], &["-h"], &["help"], &["serve", "--help"], &["help", "serve"]] {
        let (code, out, err) = run_args(args);
        assert_eq!(code, 0, "{args:?}: {err}");
        assert!(out.contains("Usage: flowvision-web"), "{args:?}: {out}");
        assert!(!out.contains("FlowVision console"), "{args:?}: {out}");
    }
    let (_, help, _) = run_args(&["--help"]);
    assert!(
        help.contains("serve") && help.contains("DATABASE_URL") && help.contains("Exit status"),
        "{help}"
    );
    let (code, version, _) = run_args(&["--version"]);
    assert_eq!(code, 0);
    assert!(version.starts_with("flowvision-web "), "{version}");

    for args in [
        &["insights", "foo"][..],
        &["insights"],
        &["--bogus"],
        &["serve", "--bogus"],
        &["serve", "extra"],
        &["-x"],
    ] {
        let (code, out, err) = run_args(args);
        assert_eq!(code, 2, "{args:?}: {out} {err}");
        assert!(err.contains("Usage: flowvision-web"), "{args:?}: usage on stderr: {err}");
        assert!(out.is_empty(), "{args:?}: {out}");
        // Past the command line it would have read the configuration and tried the
        // database: neither happened.
        assert!(!err.contains("configuration") && !err.contains("database"), "{args:?}: {err}");
        println!("{args:?}: {}", err.lines().next().unwrap_or(""));
    }
    // `serve` is the default's explicit form: the same configuration check.
    let mut cmd = Command::new(BIN);
    cmd.arg("serve").env_clear().env("PATH", std::env::var("PATH").unwrap_or_default());
    let out = cmd.output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("configuration: DATABASE_URL") && err.trim().lines().count() == 1, "{err}");
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn http(port: u16, method: &str, path: &str, cookies: &str, body: &str) -> http::Response {
    http::request(port, method, path, cookies, body).unwrap()
}

fn login(port: u16, user: &str, pw: &str) -> http::Response {
    http::login(port, user, pw).unwrap()
}

#[test]
fn serves_and_never_logs_passwords() {
    let pg = PgCluster::start().unwrap();
    let port = free_port();
    let out_dir = tempfile::tempdir().unwrap();
    let out_path = out_dir.path().join("out.log");
    let out = std::fs::File::create(&out_path).unwrap();
    let mut child = Command::new(BIN)
        .env("DATABASE_URL", pg.url())
        .env("WEB_LISTEN", format!("127.0.0.1:{port}"))
        .env("WEB_LOG", "normal")
        .env("WEB_ARGON2_MEMORY_KIB", "256")
        .env("WEB_ARGON2_ITERATIONS", "1")
        .env_remove("FLOWVISION_ADMIN_PASSWORD")
        .env_remove("FLOWVISION_ADMIN_USER")
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    // The port accepts before start-up has printed its lines (the address is printed
    // last, once Rocket has lifted off), so wait for both.
    let ready = || {
        TcpStream::connect(("127.0.0.1", port)).is_ok()
            && std::fs::read_to_string(&out_path).is_ok_and(|log| log.contains("FlowVision console: http"))
    };
    while !ready() {
        assert!(Instant::now() < deadline, "not listening: {}", std::fs::read_to_string(&out_path).unwrap());
        assert!(
            child.try_wait().unwrap().is_none(),
            "exited: {}",
            std::fs::read_to_string(&out_path).unwrap()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let log = std::fs::read_to_string(&out_path).unwrap();
    let otp = log.split("one-time password: ").nth(1).unwrap().split_whitespace().next().unwrap().to_string();
    assert!(log.contains(&format!("FlowVision console: http://127.0.0.1:{port}/")), "{log}");

    let wrong = "Wrong-Horse-Battery-4711";
    assert_eq!(login(port, "admin", wrong).status, 401);
    let r = login(port, "admin", &otp);
    assert_eq!(r.status, 303);
    let sid = r.cookie("fv_session").unwrap();
    let page = http(port, "GET", "/account/password", &format!("fv_session={sid}"), "");
    let csrf = page
        .body
        .split("name=\"csrf-token\" content=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let chosen = "Chosen-Secret-Passphrase-0815";
    let body = format!(
        "csrf={csrf}&current_password={}&new_password={}&confirm_password={}",
        enc(&otp),
        enc(chosen),
        enc(chosen)
    );
    let r = http(port, "POST", "/account/password", &format!("fv_session={sid}"), &body);
    assert_eq!(r.status, 303, "{}", r.body);
    let r = login(port, "admin", chosen);
    assert_eq!(r.status, 303);
    let sid = r.cookie("fv_session").unwrap();
    let r = http(port, "GET", "/api/v1/me", &format!("fv_session={sid}"), "");
    assert_eq!(r.status, 200);
    assert!(r.body.contains("\"username\":\"admin\""));
    assert_eq!(http(port, "GET", "/api/v1/me", "", "").status, 401);
    assert_eq!(
        http(port, "GET", "/static/vendor/chart.umd.js", "", "").status,
        200,
        "Chart.js served from node_modules"
    );

    let _ = child.kill();
    let _ = child.wait();
    let log = std::fs::read_to_string(&out_path).unwrap();
    assert!(log.contains("POST /login"), "the log has the requests: {log}");
    assert!(!log.contains(wrong), "a wrong password reached the output");
    assert!(!log.contains(chosen), "a chosen password reached the output");
    assert!(!log.contains(&enc(chosen)), "a chosen password (encoded) reached the output");
    assert!(!log.contains("$argon2"), "a password hash reached the output");
    assert_eq!(log.matches(otp.as_str()).count(), 1, "the one-time password is printed exactly once");
    println!("{} bytes of output hold no password", log.len());
}
