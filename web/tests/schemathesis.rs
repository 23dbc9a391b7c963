//! The API against its own document, tried as a new user would: schemathesis (PyPI,
//! pinned below) loads the served `/api_docs/openapi.json` of the real
//! `flowvision-web` binary (a real PostgreSQL holding the test data set), generates
//! requests for every operation with an admin API token and runs all of its checks
//! (server errors, status codes and content types the document does not list, response
//! bodies against their schemas, requests the document forbids but the server accepts,
//! 405 for methods a path does not have...). Any failure fails the test.
//!
//! deploy/test.sh installs schemathesis; when it is missing here it is installed with
//! pip. The test is skipped (with the reason printed) only without python3 or pip.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use common::appliance::{free_tcp, Proc};
use common::{Cred, Web, ADMIN, ADMIN_PW};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The schemathesis release the suite runs (deploy/test.sh installs the same).
const SCHEMATHESIS: &str = "3.39.16";
/// The Hypothesis release it runs with (newer ones break its generation).
const HYPOTHESIS: &str = "6.130.13";
/// Generated examples per operation: with ~30 operations, about a thousand cases
/// (coverage and generated) within this test's time budget (~3 minutes).
const MAX_EXAMPLES: &str = "20";

/// The schemathesis executable of the pinned release, installed with pip when
/// missing; `Err` says why it cannot be had.
fn schemathesis() -> Result<PathBuf, String> {
    let version_ok = |bin: &Path| {
        Command::new(bin)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success() && String::from_utf8_lossy(&o.stdout).contains(SCHEMATHESIS))
    };
    let candidates = || {
        let mut v = vec![PathBuf::from("schemathesis")];
        if let Ok(home) = std::env::var("HOME") {
            v.push(Path::new(&home).join(".local/bin/schemathesis"));
        }
        v
    };
    let hypothesis_ok = || {
        Command::new("python3")
            .args(["-c", "import hypothesis; print(hypothesis.__version__)"])
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == HYPOTHESIS)
    };
    if let Some(b) = candidates().into_iter().find(|b| version_ok(b)).filter(|_| hypothesis_ok()) {
        return Ok(b);
    }
    let py = Command::new("python3").arg("--version").output();
    if !py.is_ok_and(|o| o.status.success()) {
        return Err("python3 is not available".into());
    }
    let pip = Command::new("python3").args(["-m", "pip", "--version"]).output();
    if !pip.is_ok_and(|o| o.status.success()) {
        return Err("pip is not available (python3 -m pip)".into());
    }
    println!("installing schemathesis=={SCHEMATHESIS} hypothesis=={HYPOTHESIS} with pip");
    let st = Command::new("python3")
        .args(["-m", "pip", "install", "--quiet"])
        .args([format!("schemathesis=={SCHEMATHESIS}"), format!("hypothesis=={HYPOTHESIS}")])
        .status()
        .unwrap();
    assert!(st.success(), "pip install schemathesis=={SCHEMATHESIS} failed");
    candidates()
        .into_iter()
        .find(|b| version_ok(b))
        .ok_or_else(|| "schemathesis not on PATH after pip".into())
}

/// The largest "N / M passed" total of schemathesis' summary: the number of cases.
fn cases(report: &str) -> u64 {
    report
        .lines()
        .filter_map(|l| {
            let (_, rest) = l.split_once(" / ")?;
            rest.split_whitespace().next()?.parse::<u64>().ok()
        })
        .max()
        .unwrap_or(0)
}

#[test]
fn the_served_document_holds_for_every_generated_request() {
    let st = match schemathesis() {
        Ok(b) => b,
        Err(why) => {
            println!("SKIPPED: schemathesis cannot run: {why}");
            return;
        }
    };
    // Data so that searches, tops and exporters answer with rows, not only empty sets.
    let (web, rows) = Web::with_data();
    let admin = web.login(ADMIN, ADMIN_PW);
    let created = web.api(
        "POST",
        "/api/v1/tokens",
        Cred::Session(&admin),
        Some(serde_json::json!({"name": "schemathesis"})),
    );
    assert_eq!(created.status.code, 201, "{}", created.body);
    let token = created.json()["token"].as_str().unwrap().to_string();

    let port = free_tcp();
    let tmp = tempfile::tempdir().unwrap();
    // Valid generated POST /api/v1/simulations bodies really start simulations: they go
    // to a socket of this test, within a small rate budget.
    let sim_sink = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let sim_target = sim_sink.local_addr().unwrap().to_string();
    let mut bin = Proc::spawn(
        "flowvision-web",
        Command::new(env!("CARGO_BIN_EXE_flowvision-web"))
            .env("DATABASE_URL", web.pg.url())
            .env("WEB_LISTEN", format!("127.0.0.1:{port}"))
            .env("WEB_LOG", "critical")
            .env("SIM_DEFAULT_TARGET", &sim_target)
            .env("SIM_RATE_BUDGET", "2000")
            .env("WEB_ARGON2_MEMORY_KIB", "256")
            .env("WEB_ARGON2_ITERATIONS", "1")
            .env("FLOWVISION_ADMIN_USER", ADMIN)
            .env("FLOWVISION_ADMIN_PASSWORD", ADMIN_PW)
            // Generated credentials really poll (agents at the data set's documentation
            // addresses, which do not answer): fail fast.
            .env("SNMP_SECRET_KEY", common::TEST_SNMP_KEY)
            .env("SNMP_TIMEOUT_MS", "100")
            .env("SNMP_RETRIES", "0"),
        tmp.path().join("web.log"),
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        bin.assert_running();
        assert!(Instant::now() < deadline, "web not listening:\n{}", bin.log());
        std::thread::sleep(Duration::from_millis(100));
    }

    let base = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    // Two runs, both with every check: the coverage phase (the edges the document
    // draws: null and repeated query values, bounds, missing parts, methods a path
    // does not have) over every operation but flow search, whose 15 optional filters
    // make that phase's combinations run for many minutes; then generated cases over
    // every operation, flow search included.
    let runs: [(&str, &[&str]); 2] = [
        ("coverage", &["--experimental", "coverage-phase", "--exclude-path-regex", "^/api/v1/flows"]),
        ("generated", &[]),
    ];
    let mut total = 0;
    let mut failed = Vec::new();
    for (name, extra) in runs {
        let out = Command::new(&st)
            .arg("run")
            .arg(format!("{base}/api_docs/openapi.json"))
            .args(["--base-url", &base])
            .args(["--header", &format!("Authorization: Bearer {token}")])
            // The document lists the session cookie as the other way in; a fixed
            // value that is no session keeps generated cookies (which may hold bytes
            // HTTP refuses before any route runs) out, the token authenticates.
            .args(["--set-cookie", "fv_session=unused"])
            .args(["--checks", "all"])
            .args(["--hypothesis-max-examples", MAX_EXAMPLES])
            // Reproducible runs: a failure seen once is seen again.
            .args(["--hypothesis-seed", "14"])
            .args(["--hypothesis-deadline", "60000"])
            .args(["--request-timeout", "20000"])
            .arg("--experimental-no-failfast")
            .arg("--no-color")
            .args(extra)
            .current_dir(tmp.path())
            .output()
            .unwrap();
        let report = String::from_utf8_lossy(&out.stdout);
        println!("{report}");
        eprintln!("{}", String::from_utf8_lossy(&out.stderr));
        let n = cases(&report);
        println!("schemathesis {SCHEMATHESIS} ({name}): {n} cases, exit {}", out.status);
        total += n;
        if !out.status.success() || n == 0 {
            failed.push(name);
        }
    }
    println!("schemathesis: {total} cases over {} flows in {:.0?}", rows.len(), started.elapsed());
    bin.assert_running();
    assert!(failed.is_empty(), "schemathesis found failures or ran no cases in {failed:?} (reports above)");
}
