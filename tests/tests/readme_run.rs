//! The README's first command, as a user types it: `deploy/run.sh --demo` — the real
//! script with its embedded PostgreSQL, ports from the environment — serves the console,
//! the admin logs in and the charts have data within 90 s; SIGTERM stops everything.
//! And a failing helper (the demo's simulator) is reported in one line while the
//! appliance keeps running.
//!
//! The script builds release binaries unless `FLOWVISION_BIN_DIR` names built ones; the
//! test hands it the binaries `cargo test` has just built (a nested cargo would wait on
//! the lock the running `cargo test` holds).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use flowvision_tests::http;
use flowvision_tests::local::{free_tcp, free_udp};

use serde_json::Value;
use std::net::{TcpStream, UdpSocket};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// target/<profile>/, where `cargo test` put the workspace's binaries.
fn bin_dir() -> PathBuf {
    flowvision_tests::local::bin_dir().unwrap()
}

const ADMIN: &str = "admin";
const PASSWORD: &str = "Demo-Admin-Passphrase-2026";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

struct Appliance {
    child: Child,
    log: PathBuf,
    web: u16,
    _home: tempfile::TempDir,
}

impl Appliance {
    fn start(extra: &[(&str, &str)]) -> Appliance {
        let home = tempfile::tempdir().unwrap();
        // As root the script runs PostgreSQL as the 'postgres' user, which must reach
        // the cluster's folder inside this temporary directory.
        std::fs::set_permissions(home.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let log = home.path().join("run.log");
        let out = std::fs::File::create(&log).unwrap();
        let web = free_tcp();
        let mut cmd = Command::new(repo().join("deploy/run.sh"));
        cmd.arg("--demo")
            // Its own process group, as a service manager starts it (so the whole group
            // can be signalled, as `systemctl stop` does).
            .process_group(0)
            .current_dir(repo())
            .env_remove("DATABASE_URL")
            .env_remove("STATE_DIR")
            .env("FLOWVISION_HOME", home.path())
            .env("FLOWVISION_BIN_DIR", bin_dir())
            .env("FLOWVISION_PG_PORT", free_tcp().to_string())
            .env("NETFLOW_PORT", free_udp().to_string())
            .env("SFLOW_PORT", free_udp().to_string())
            .env("IPFIX_PORT", free_udp().to_string())
            .env("METRICS_LISTEN", format!("127.0.0.1:{}", free_tcp()))
            .env("WEB_LISTEN", format!("127.0.0.1:{web}"))
            .env("FLOWVISION_ADMIN_USER", ADMIN)
            .env("FLOWVISION_ADMIN_PASSWORD", PASSWORD)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out);
        for (k, v) in extra {
            cmd.env(k, v);
        }
        let child = cmd.spawn().unwrap();
        Appliance { child, log, web, _home: home }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the console accepts connections (the script may still be creating the
    /// embedded cluster).
    fn wait_console(&mut self, within: Duration) {
        let deadline = Instant::now() + within;
        while TcpStream::connect(("127.0.0.1", self.web)).is_err() {
            assert!(self.child.try_wait().unwrap().is_none(), "run.sh exited:\n{}", self.log());
            assert!(Instant::now() < deadline, "console not listening after {within:?}:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn session(&self) -> String {
        let r = http::login(self.web, ADMIN, PASSWORD).unwrap();
        assert_eq!(r.status, 303, "admin login: {}\n{}", r.body, self.log());
        format!("fv_session={}", r.cookie("fv_session").unwrap())
    }

    fn api(&self, cookie: &str, path: &str) -> Value {
        let r = http::request(self.web, "GET", path, cookie, "").unwrap();
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        serde_json::from_str(&r.body).unwrap()
    }

    /// SIGTERM to the script (`group`: to its whole process group, children included);
    /// it must stop everything and exit by itself.
    fn stop(mut self, group: bool) -> (Option<i32>, String) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        if group {
            nix::sys::signal::killpg(pid, nix::sys::signal::SIGTERM).unwrap();
        } else {
            nix::sys::signal::kill(pid, nix::sys::signal::SIGTERM).unwrap();
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status.code(), self.log());
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("run.sh did not stop within 60 s of SIGTERM:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Appliance {
    /// A test that failed half-way must not leave the appliance running: SIGTERM to the
    /// script's process group (its trap stops the embedded PostgreSQL), then SIGKILL.
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        let group = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::killpg(group, nix::sys::signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline && matches!(self.child.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = nix::sys::signal::killpg(group, nix::sys::signal::SIGKILL);
        let _ = self.child.wait();
    }
}

/// Sum of every number under a key named `key`, anywhere in `v`.
fn total(v: &Value, key: &str) -> f64 {
    match v {
        Value::Object(m) => m
            .iter()
            .map(|(k, x)| if k == key { x.as_f64().unwrap_or(0.0) + total(x, key) } else { total(x, key) })
            .sum(),
        Value::Array(a) => a.iter().map(|x| total(x, key)).sum(),
        _ => 0.0,
    }
}

#[test]
fn demo_serves_charts_with_data_within_90_s() {
    let started = Instant::now();
    let mut app = Appliance::start(&[]);
    app.wait_console(Duration::from_secs(120));
    let cookie = app.session();
    let deadline = Instant::now() + Duration::from_secs(90);
    let (traffic, exporters) = loop {
        let traffic = app.api(&cookie, "/api/v1/traffic?window=15m");
        let exporters = app.api(&cookie, "/api/v1/exporters");
        let listed = exporters["exporters"].as_array().map_or(0, Vec::len);
        if traffic["total_bytes"].as_f64().unwrap_or(0.0) > 0.0 && listed >= 12 {
            break (traffic, exporters);
        }
        assert!(
            Instant::now() < deadline,
            "no chart data within 90 s: {traffic}\n{exporters}\n{}",
            app.log()
        );
        std::thread::sleep(Duration::from_secs(2));
    };
    let talkers = app.api(&cookie, "/api/v1/top/talkers?window=15m");
    assert!(total(&talkers, "bytes") > 0.0, "top talkers empty: {talkers}");
    let protocols: std::collections::BTreeSet<String> = exporters["exporters"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["protocol"].as_str().map(str::to_owned))
        .collect();
    println!(
        "console with chart data after {:.0} s: {} bytes in 15 min, {} exporters ({protocols:?})",
        started.elapsed().as_secs_f64(),
        traffic["total_bytes"],
        exporters["exporters"].as_array().map_or(0, Vec::len)
    );
    assert!(protocols.len() >= 4, "all four protocols arrive: {protocols:?}");
    let log = app.log();
    assert!(!log.contains("traffic simulator failed"), "{log}");
    // SIGTERM to the whole group (the simulator, collector and console get it too):
    // still an ordered stop, exit 0.
    let (code, log) = app.stop(true);
    assert_eq!(code, Some(0), "run.sh exit status after SIGTERM to its process group:\n{log}");
}

#[test]
fn a_failing_demo_simulator_is_one_line_and_the_appliance_stays_up() {
    // A rate the simulator refuses: it exits at once with its error.
    let mut app = Appliance::start(&[("DEMO_RATE", "lots")]);
    app.wait_console(Duration::from_secs(120));
    let deadline = Instant::now() + Duration::from_secs(30);
    while !app.log().contains("demo: the traffic simulator failed") {
        assert!(Instant::now() < deadline, "no line about the failed simulator:\n{}", app.log());
        std::thread::sleep(Duration::from_millis(200));
    }
    let log = app.log();
    let lines: Vec<&str> = log.lines().filter(|l| l.contains("traffic simulator failed")).collect();
    assert_eq!(lines.len(), 1, "{log}");
    println!("{}", lines[0]);
    // Still up: the console answers and the admin logs in.
    std::thread::sleep(Duration::from_secs(2));
    assert!(app.child.try_wait().unwrap().is_none(), "the appliance stopped:\n{log}");
    let cookie = app.session();
    let me = app.api(&cookie, "/api/v1/me");
    assert_eq!(me["username"], ADMIN);
    let (code, log) = app.stop(false);
    assert_eq!(code, Some(0), "{log}");
}

/// The commands in the README's `sh` blocks, comments stripped.
fn readme_commands() -> Vec<String> {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let mut out = Vec::new();
    let mut inside = false;
    for line in readme.lines() {
        if line.starts_with("```") {
            inside = !inside && line.trim() == "```sh";
            continue;
        }
        if inside {
            let cmd = line.split(" # ").next().unwrap_or("").trim();
            if !cmd.is_empty() {
                out.push(cmd.to_string());
            }
        }
    }
    out
}

/// Every command the README shows is run here as written, with only what a reader
/// would change for their machine replaced: the binaries' folder (`cargo test` builds
/// debug ones), the capture file, the collector's address (a socket of this test), the
/// database (a throwaway cluster) and the simulator's 60 s shortened to 3 s. The two
/// scripts are covered by the demo tests above (`deploy/run.sh`) and by CI itself
/// (`.ci/run` executes `deploy/test.sh`).
#[test]
fn readme_commands_run_as_written() {
    let commands = readme_commands();
    assert!(commands.len() >= 5, "{commands:?}");
    let bin = bin_dir();
    let pg = flowvision_tests::pg::PgCluster::start().unwrap();
    let capture = flowvision_tests::fixtures::dir().join("tcpdump/tests/sflow_multiple_counter_30_pdus.pcap");
    let receiver = UdpSocket::bind("127.0.0.1:0").unwrap();
    receiver.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let target = receiver.local_addr().unwrap().to_string();
    let mut ran = 0;
    for cmd in &commands {
        match cmd.split_whitespace().next().unwrap_or("") {
            "deploy/run.sh" => continue,
            "deploy/test.sh" => {
                let ci = std::fs::read_to_string(repo().join(".ci/run")).unwrap();
                assert!(ci.contains("exec deploy/test.sh"), ".ci/run runs the README's test command: {ci}");
                continue;
            }
            _ => {}
        }
        assert!(cmd.starts_with("target/release/"), "a README command no test runs: {cmd}");
        let typed = cmd
            .replace("target/release/", &format!("{}/", bin.display()))
            .replace("capture.pcap", &capture.display().to_string())
            .replace("127.0.0.1:2055", &target)
            .replace("--duration 60s", "--duration 3s");
        let out = Command::new("bash")
            .arg("-c")
            .arg(&typed)
            .current_dir(repo())
            .env("DATABASE_URL", pg.url())
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{cmd}\n{stdout}\n{stderr}");
        if cmd.contains(" decode ") {
            let records: Vec<Value> = stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
            assert!(!records.is_empty() && records.iter().all(|r| r["exporter"].is_string()), "{stdout}");
            println!("{cmd}: {} records", records.len());
        } else if cmd.contains(" rules add ") {
            let name = cmd.split_whitespace().nth(3).unwrap();
            let list = Command::new(bin.join("flowvision-collector"))
                .args(["rules", "list"])
                .env("DATABASE_URL", pg.url())
                .output()
                .unwrap();
            let listed = String::from_utf8_lossy(&list.stdout);
            assert!(list.status.success() && listed.contains(name), "{listed}");
            println!("{cmd}: listed by `rules list`");
        } else if cmd.contains("flowvision-sim") {
            let mut buf = [0u8; 65536];
            let (n, _) = receiver.recv_from(&mut buf).expect("the simulator's datagrams arrive");
            assert!(n > 0);
            println!("{cmd}: datagrams arrive");
        } else {
            panic!("a README command no test checks: {cmd}");
        }
        ran += 1;
    }
    assert_eq!(ran, commands.len() - 2, "{commands:?}");
}
