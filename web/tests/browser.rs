//! Browser tests in headless Chromium (Debian's `chromium`, driven by `playwright-core`
//! from web/node_modules): the whole appliance for real — PostgreSQL, the collector
//! binary receiving NetFlow v9 over UDP from two simulated exporters (127.1.0.1 and
//! 127.1.0.2), the web binary — then `node --test tests/browser/console.test.mjs`
//! logs in, checks the charts against what the simulator sent, searches flows, exports
//! CSV, checks a scoped viewer and analyst, logged-out refusals and CSRF refusals, and
//! saves screenshots under `target/browser-artifacts/`.
//!
//! Skipped (with the reason printed) when chromium, node or playwright-core is missing;
//! deploy/test.sh installs all three.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use flowvision_tests::pg::PgCluster;
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const WEB_BIN: &str = env!("CARGO_BIN_EXE_flowvision-web");
const ADMIN: &str = "admin";
const ADMIN_PW: &str = "browser-admin-password-0042";
const FLOWS: u64 = 3000;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn chromium() -> Option<PathBuf> {
    let p =
        PathBuf::from(std::env::var("FLOWVISION_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()));
    p.exists().then_some(p)
}

fn node() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join("node")).find(|p| p.exists())
}

/// A binary of another workspace package: `env` if set, else `target/debug/<name>`,
/// built with cargo when missing (CARGO_BIN_EXE_ only covers this package's binaries).
fn sibling_bin(env: &str, package: &str, name: &str) -> PathBuf {
    if let Ok(p) = std::env::var(env) {
        return PathBuf::from(p);
    }
    let target =
        std::env::var("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|_| workspace().join("target"));
    let bin = target.join("debug").join(name);
    if !bin.exists() {
        println!("building {package} ({} is missing)", bin.display());
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let st =
            Command::new(cargo).args(["build", "-p", package]).current_dir(workspace()).status().unwrap();
        assert!(st.success(), "cargo build -p {package} failed");
    }
    bin
}

fn free_tcp() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn free_udp() -> u16 {
    UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Kills the child at the end of the test, whatever happens.
struct Proc(Child, &'static str, PathBuf);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Proc {
    fn spawn(what: &'static str, cmd: &mut Command, log: PathBuf) -> Proc {
        let out = std::fs::File::create(&log).unwrap();
        let child = cmd
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {what}: {e}"));
        Proc(child, what, log)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.2).unwrap_or_default()
    }

    fn assert_running(&mut self) {
        if let Some(st) = self.0.try_wait().unwrap() {
            panic!("{} exited ({st}):\n{}", self.1, self.log());
        }
    }
}

#[test]
fn console_in_headless_chromium() {
    let (Some(chrome), Some(node)) = (chromium(), node()) else {
        println!(
            "SKIPPED: chromium (/usr/bin/chromium) or node not installed (deploy/test.sh installs them)"
        );
        return;
    };
    let web_dir = workspace().join("web");
    if !web_dir.join("node_modules/playwright-core/package.json").exists()
        || !web_dir.join("node_modules/chart.js/dist/chart.umd.js").exists()
    {
        println!("SKIPPED: web/node_modules lacks playwright-core or chart.js (run `npm ci` in web/, as deploy/test.sh does)");
        return;
    }
    let collector_bin =
        sibling_bin("FLOWVISION_COLLECTOR_BIN", "flowvision-collector", "flowvision-collector");
    let sim_bin = sibling_bin("FLOWVISION_SIM_BIN", "flowvision-sim", "flowvision-sim");

    let pg = PgCluster::start().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let artifacts = workspace().join("target/browser-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    // Only this run's screenshots and exports.
    for e in std::fs::read_dir(&artifacts).unwrap().filter_map(Result::ok) {
        if e.path().extension().is_some_and(|x| x == "png" || x == "csv") {
            std::fs::remove_file(e.path()).unwrap();
        }
    }

    // The collector, on free ports.
    let nf_port = free_udp();
    let mut collector = Proc::spawn(
        "flowvision-collector",
        Command::new(&collector_bin)
            .env("DATABASE_URL", pg.url())
            .env("NETFLOW_PORT", nf_port.to_string())
            .env("SFLOW_PORT", free_udp().to_string())
            .env("IPFIX_PORT", free_udp().to_string())
            .env("METRICS_LISTEN", format!("127.0.0.1:{}", free_tcp()))
            .env("STATE_DIR", tmp.path().join("state"))
            .env("COLLECTOR_WORKERS", "1")
            .env("BATCH_MAX_AGE_MS", "100"),
        tmp.path().join("collector.log"),
    );
    // Ready when the flows table exists (migrations applied) and the port is bound.
    let mut db = pg.connect().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        collector.assert_running();
        let migrated =
            db.query_one("SELECT to_regclass('public.flows') IS NOT NULL", &[]).unwrap().get::<_, bool>(0);
        if migrated && UdpSocket::bind(("127.0.0.1", nf_port)).is_err() {
            break;
        }
        assert!(Instant::now() < deadline, "collector not ready:\n{}", collector.log());
        std::thread::sleep(Duration::from_millis(200));
    }

    // Two exporters, NetFlow v9, through the collector over UDP.
    let summary_path = tmp.path().join("sim.json");
    let st = Command::new(&sim_bin)
        .args(["--exporters", "2", "--protocol", "netflow_v9", "--count", &FLOWS.to_string(), "--no-pacing"])
        .args(["--seed", "7", "-q", "--target", &format!("127.0.0.1:{nf_port}")])
        .arg("--summary-json")
        .arg(&summary_path)
        .status()
        .unwrap();
    assert!(st.success(), "flowvision-sim failed");
    let summary: serde_json::Value = serde_json::from_slice(&std::fs::read(&summary_path).unwrap()).unwrap();
    let exporters: Vec<(String, u64, u64)> = summary["exporters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["address"].as_str().unwrap().to_string(),
                e["flows"].as_u64().unwrap(),
                e["bytes"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(exporters.len(), 2);
    assert_eq!(summary["udp"]["targets"][0]["failed_datagrams"].as_u64(), Some(0));

    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        collector.assert_running();
        let n: i64 = db.query_one("SELECT count(*) FROM flows", &[]).unwrap().get(0);
        let r: i64 = db
            .query_one("SELECT coalesce(sum(flows), 0)::bigint FROM rollup_exporter_1m", &[])
            .unwrap()
            .get(0);
        if n as u64 == FLOWS && r as u64 == FLOWS {
            break;
        }
        assert!(Instant::now() < deadline, "{n} of {FLOWS} flows stored:\n{}", collector.log());
        std::thread::sleep(Duration::from_millis(200));
    }
    // The database's own per-exporter totals (sampling-corrected; the simulator's
    // exporters sample 1:1, so they must equal what it sent).
    for (addr, flows, bytes) in &exporters {
        let row = db
            .query_one(
                "SELECT count(*), sum(bytes * greatest(sampling_rate, 1))::bigint FROM flows WHERE exporter = $1::text::inet",
                &[addr],
            )
            .unwrap();
        assert_eq!(row.get::<_, i64>(0) as u64, *flows, "{addr}: flows");
        assert_eq!(row.get::<_, i64>(1) as u64, *bytes, "{addr}: bytes");
    }
    println!("stored {FLOWS} flows from {} exporters through the collector", exporters.len());

    // The console.
    let port = free_tcp();
    let mut web = Proc::spawn(
        "flowvision-web",
        Command::new(WEB_BIN)
            .env("DATABASE_URL", pg.url())
            .env("WEB_LISTEN", format!("127.0.0.1:{port}"))
            .env("WEB_LOG", "critical")
            .env("WEB_ARGON2_MEMORY_KIB", "256")
            .env("WEB_ARGON2_ITERATIONS", "1")
            .env("FLOWVISION_ADMIN_USER", ADMIN)
            .env("FLOWVISION_ADMIN_PASSWORD", ADMIN_PW),
        tmp.path().join("web.log"),
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        web.assert_running();
        assert!(Instant::now() < deadline, "web not listening:\n{}", web.log());
        std::thread::sleep(Duration::from_millis(100));
    }

    let ex_json = serde_json::json!(exporters
        .iter()
        .map(|(a, f, b)| serde_json::json!({"address": a, "flows": f, "bytes": b}))
        .collect::<Vec<_>>());
    let script = web_dir.join("tests/browser/console.test.mjs");
    let out = Command::new(&node)
        .arg("--test")
        .arg("--test-reporter=spec")
        .arg(&script)
        .current_dir(&web_dir)
        .env("FV_URL", format!("http://127.0.0.1:{port}"))
        .env("FV_ADMIN_USER", ADMIN)
        .env("FV_ADMIN_PASSWORD", ADMIN_PW)
        .env("FV_EXPORTERS", ex_json.to_string())
        .env("FV_CHROMIUM", &chrome)
        .env("FV_ARTIFACTS", &artifacts)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    eprintln!("{stderr}");
    web.assert_running();
    assert!(out.status.success(), "browser tests failed ({}); web log:\n{}", out.status, web.log());
    let mut shots: Vec<_> = std::fs::read_dir(&artifacts)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "png"))
        .collect();
    shots.sort();
    assert!(shots.len() >= 5, "screenshots saved: {shots:?}");
    for s in &shots {
        println!("screenshot: {}", s.display());
    }
}
