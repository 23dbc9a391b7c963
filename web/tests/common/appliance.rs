//! The whole appliance for browser and end-to-end tests: a throwaway PostgreSQL, the
//! real collector binary on free UDP ports, the real console binary on a free TCP port,
//! and the means to drive headless Chromium (`node --test` scripts under
//! `web/tests/browser/` with playwright-core from web/node_modules).

use flowvision_tests::pg::PgCluster;
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The console's first admin in these tests.
pub const BROWSER_ADMIN: &str = "admin";
/// Their password.
pub const BROWSER_ADMIN_PW: &str = "browser-admin-password-0042";

/// The repository's root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// Chromium and node, or why the browser tests are skipped (printed by the caller).
pub fn browser_tools() -> Result<(PathBuf, PathBuf), String> {
    let chrome =
        PathBuf::from(std::env::var("FLOWVISION_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()));
    if !chrome.exists() {
        return Err(format!(
            "SKIPPED: chromium ({}) not installed (deploy/test.sh installs it)",
            chrome.display()
        ));
    }
    let node = std::env::var_os("PATH")
        .and_then(|path| std::env::split_paths(&path).map(|d| d.join("node")).find(|p| p.exists()))
        .ok_or("SKIPPED: node not installed (deploy/test.sh installs it)")?;
    let web_dir = workspace().join("web");
    if !web_dir.join("node_modules/playwright-core/package.json").exists()
        || !web_dir.join("node_modules/chart.js/dist/chart.umd.js").exists()
    {
        return Err("SKIPPED: web/node_modules lacks playwright-core or chart.js (run `npm ci` in web/, as deploy/test.sh does)".into());
    }
    Ok((chrome, node))
}

/// A binary of another workspace package: `env` if set, else `target/debug/<name>`,
/// built with cargo when missing (CARGO_BIN_EXE_ only covers this package's binaries).
pub fn sibling_bin(env: &str, package: &str, name: &str) -> PathBuf {
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

/// The collector binary.
pub fn collector_bin() -> PathBuf {
    sibling_bin("FLOWVISION_COLLECTOR_BIN", "flowvision-collector", "flowvision-collector")
}

/// The simulator binary.
pub fn sim_bin() -> PathBuf {
    sibling_bin("FLOWVISION_SIM_BIN", "flowvision-sim", "flowvision-sim")
}

/// A free TCP port on 127.0.0.1.
pub fn free_tcp() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A free UDP port on 127.0.0.1.
pub fn free_udp() -> u16 {
    UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A child process killed at the end of the test, whatever happens, with its output in
/// a file.
pub struct Proc(Child, &'static str, PathBuf);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Proc {
    /// Starts `cmd`, its output going to `log`.
    pub fn spawn(what: &'static str, cmd: &mut Command, log: PathBuf) -> Proc {
        let out = std::fs::File::create(&log).unwrap();
        let child = cmd
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {what}: {e}"));
        Proc(child, what, log)
    }

    /// Its output so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.2).unwrap_or_default()
    }

    /// Its process id (to signal it).
    pub fn id(&self) -> u32 {
        self.0.id()
    }

    /// Waits up to `limit` for it to exit (after a signal); fails the test otherwise.
    pub fn wait_exit(&mut self, limit: Duration) {
        let deadline = Instant::now() + limit;
        while self.0.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "{} did not exit:\n{}", self.1, self.log());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Fails the test (with the output) when the process has exited.
    pub fn assert_running(&mut self) {
        if let Some(st) = self.0.try_wait().unwrap() {
            panic!("{} exited ({st}):\n{}", self.1, self.log());
        }
    }
}

/// PostgreSQL, the collector and the console, each on free ports.
pub struct Appliance {
    /// The database (dropped last).
    pub pg: PgCluster,
    /// Logs and the collector's state directory.
    pub tmp: tempfile::TempDir,
    /// The collector process.
    pub collector: Proc,
    /// UDP port of the collector (any protocol).
    pub netflow_port: u16,
    /// The collector's /metrics address.
    pub metrics: String,
    /// The console process (`None` until [`Appliance::start_web`]).
    pub web: Option<Proc>,
    /// The console's TCP port.
    pub web_port: u16,
}

impl Appliance {
    /// PostgreSQL and the collector (ready: migrations applied, port bound); the
    /// console is started by [`Appliance::start_web`] (tests may store data first).
    pub fn start_collector() -> Appliance {
        let pg = PgCluster::start().unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let netflow_port = free_udp();
        let metrics = format!("127.0.0.1:{}", free_tcp());
        let mut collector = Proc::spawn(
            "flowvision-collector",
            Command::new(collector_bin())
                .env("DATABASE_URL", pg.url())
                .env("NETFLOW_PORT", netflow_port.to_string())
                .env("SFLOW_PORT", free_udp().to_string())
                .env("IPFIX_PORT", free_udp().to_string())
                .env("METRICS_LISTEN", &metrics)
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
            let migrated = db
                .query_one("SELECT to_regclass('public.flows') IS NOT NULL", &[])
                .unwrap()
                .get::<_, bool>(0);
            if migrated && UdpSocket::bind(("127.0.0.1", netflow_port)).is_err() {
                break;
            }
            assert!(Instant::now() < deadline, "collector not ready:\n{}", collector.log());
            std::thread::sleep(Duration::from_millis(200));
        }
        Appliance { pg, tmp, collector, netflow_port, metrics, web: None, web_port: free_tcp() }
    }

    /// The console binary with `extra` environment, listening when this returns.
    pub fn start_web(&mut self, extra: &[(&str, &str)]) {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_flowvision-web"));
        cmd.env("DATABASE_URL", self.pg.url())
            .env("WEB_LISTEN", format!("127.0.0.1:{}", self.web_port))
            .env("WEB_LOG", "critical")
            .env("WEB_ARGON2_MEMORY_KIB", "256")
            .env("WEB_ARGON2_ITERATIONS", "1")
            .env("FLOWVISION_ADMIN_USER", BROWSER_ADMIN)
            .env("FLOWVISION_ADMIN_PASSWORD", BROWSER_ADMIN_PW)
            .env("STATE_DIR", self.tmp.path().join("state"));
        for (k, v) in extra {
            cmd.env(k, v);
        }
        let mut web = Proc::spawn("flowvision-web", &mut cmd, self.tmp.path().join("web.log"));
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", self.web_port)).is_err() {
            web.assert_running();
            assert!(Instant::now() < deadline, "web not listening:\n{}", web.log());
            std::thread::sleep(Duration::from_millis(100));
        }
        self.web = Some(web);
    }

    /// The console's base URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.web_port)
    }

    /// The console's output so far.
    pub fn web_log(&self) -> String {
        self.web.as_ref().map(Proc::log).unwrap_or_default()
    }

    /// Runs `node --test web/tests/browser/<script>` against this console with the
    /// admin's credentials, Chromium and the artifacts folder in its environment
    /// (`FV_URL`, `FV_ADMIN_USER`, `FV_ADMIN_PASSWORD`, `FV_CHROMIUM`, `FV_ARTIFACTS`)
    /// plus `extra`; prints its report.
    pub fn run_browser_script(
        &mut self,
        (chrome, node): &(PathBuf, PathBuf),
        script: &str,
        artifacts: &Path,
        extra: &[(&str, String)],
    ) -> Output {
        let web_dir = workspace().join("web");
        let mut cmd = Command::new(node);
        cmd.arg("--test")
            .arg("--test-reporter=spec")
            .arg(web_dir.join("tests/browser").join(script))
            .current_dir(&web_dir)
            .env("FV_URL", self.url())
            .env("FV_ADMIN_USER", BROWSER_ADMIN)
            .env("FV_ADMIN_PASSWORD", BROWSER_ADMIN_PW)
            .env("FV_CHROMIUM", chrome)
            .env("FV_ARTIFACTS", artifacts);
        for (k, v) in extra {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        println!("{}", String::from_utf8_lossy(&out.stdout));
        eprintln!("{}", String::from_utf8_lossy(&out.stderr));
        if let Some(web) = self.web.as_mut() {
            web.assert_running();
        }
        out
    }
}

/// `target/browser-artifacts/<name>/`, emptied of earlier screenshots and exports.
pub fn artifacts_dir(name: &str) -> PathBuf {
    let dir = workspace().join("target/browser-artifacts").join(name);
    std::fs::create_dir_all(&dir).unwrap();
    for e in std::fs::read_dir(&dir).unwrap().filter_map(Result::ok) {
        if e.path().extension().is_some_and(|x| x == "png" || x == "csv") {
            std::fs::remove_file(e.path()).unwrap();
        }
    }
    dir
}
