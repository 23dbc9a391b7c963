//! A throwaway PostgreSQL for tests: a real server, never a mock.
//!
//! [`PgCluster::start`] runs `initdb` and `postgres` from the system's binaries
//! (`FLOWVISION_PG_BINDIR`, else the newest `/usr/lib/postgresql/*/bin`, else `PATH`) in
//! a temporary directory, listening on 127.0.0.1 on a free port and on a unix socket in
//! that directory. [`PgCluster::stop`] and [`PgCluster::resume`] simulate an outage on
//! the same port and data; [`PgCluster::crash`] is an immediate (kill -9 like) stop.
//! Dropping the cluster stops the server and removes the directory.
//!
//! When `DATABASE_URL` is set, no server is started: a uniquely named database is
//! created in that server instead (and dropped afterwards); outages cannot be
//! simulated there ([`PgCluster::can_stop`] says so).
//!
//! PostgreSQL refuses to run as root, so as root the binaries run as the `postgres`
//! user (else `nobody`) through `setpriv`, which `exec`s and so leaves the
//! postmaster as our direct child: signals reach it, and nothing is orphaned.

use nix::sys::signal::{kill, Signal};
use nix::unistd::{chown, Pid, Uid, User};
use std::fmt;
use std::fs::File;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Why the harness could not provide a database.
#[derive(Debug)]
pub struct PgError(String);

impl fmt::Display for PgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PgError {}

fn err<E: fmt::Display>(what: &str) -> impl FnOnce(E) -> PgError + '_ {
    move |e| PgError(format!("{what}: {e}"))
}

/// Result of the harness.
pub type PgResult<T> = Result<T, PgError>;

/// How long a server may take to accept connections or to stop.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// A PostgreSQL server (or a database in an external one) for the duration of a test.
pub struct PgCluster {
    url: String,
    mode: Mode,
}

enum Mode {
    Local(Local),
    External { admin_url: String, dbname: String },
}

struct Local {
    bindir: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
    run_as: Option<(u32, u32)>,
    child: Option<Child>,
}

impl PgCluster {
    /// A fresh server (or database, when `DATABASE_URL` is set), ready for connections.
    pub fn start() -> PgResult<PgCluster> {
        if let Ok(admin_url) = std::env::var("DATABASE_URL") {
            if !admin_url.trim().is_empty() {
                return PgCluster::external(admin_url);
            }
        }
        PgCluster::start_local()
    }

    /// The connection URL of the test database (`postgresql://...`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A synchronous client to the test database.
    pub fn connect(&self) -> PgResult<postgres::Client> {
        postgres::Client::connect(&self.url, postgres::NoTls).map_err(err("connecting to the test database"))
    }

    /// True when the server is ours, so [`PgCluster::stop`] can simulate an outage.
    pub fn can_stop(&self) -> bool {
        matches!(self.mode, Mode::Local(_))
    }

    /// The port the local server listens on (`None` for an external database).
    pub fn port(&self) -> Option<u16> {
        match &self.mode {
            Mode::Local(l) => Some(l.port),
            Mode::External { .. } => None,
        }
    }

    /// Fast shutdown (SIGINT): clients are disconnected, then the server exits.
    pub fn stop(&mut self) -> PgResult<()> {
        self.local()?.signal_and_wait(Signal::SIGINT)
    }

    /// Immediate shutdown (SIGQUIT): like a crash, no checkpoint; recovery on resume.
    pub fn crash(&mut self) -> PgResult<()> {
        self.local()?.signal_and_wait(Signal::SIGQUIT)
    }

    /// Starts the stopped server again on the same port and data directory.
    pub fn resume(&mut self) -> PgResult<()> {
        let url = self.url.clone();
        let local = self.local()?;
        if local.child.is_some() {
            return Ok(());
        }
        local.spawn()?;
        local.wait_ready(&url)
    }

    /// True while the local server process runs (always true for an external one).
    pub fn is_running(&mut self) -> bool {
        match &mut self.mode {
            Mode::Local(l) => l.child.as_mut().is_some_and(|c| matches!(c.try_wait(), Ok(None))),
            Mode::External { .. } => true,
        }
    }

    /// The server's log so far (local servers only), for failure messages.
    pub fn log(&self) -> String {
        match &self.mode {
            Mode::Local(l) => std::fs::read_to_string(l.dir.path().join("postgres.log")).unwrap_or_default(),
            Mode::External { .. } => String::new(),
        }
    }

    fn local(&mut self) -> PgResult<&mut Local> {
        match &mut self.mode {
            Mode::Local(l) => Ok(l),
            Mode::External { .. } => {
                Err(PgError("DATABASE_URL is set: an external server cannot be stopped by tests".into()))
            }
        }
    }

    fn external(admin_url: String) -> PgResult<PgCluster> {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        let dbname = format!(
            "flowvision_test_{}_{}_{}",
            std::process::id(),
            nanos % 1_000_000_000_000,
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let mut admin = postgres::Client::connect(&admin_url, postgres::NoTls)
            .map_err(err("connecting to DATABASE_URL"))?;
        admin.batch_execute(&format!("CREATE DATABASE \"{dbname}\"")).map_err(err("CREATE DATABASE"))?;
        let url = with_dbname(&admin_url, &dbname);
        Ok(PgCluster { url, mode: Mode::External { admin_url, dbname } })
    }

    fn start_local() -> PgResult<PgCluster> {
        let bindir = bindir()?;
        let run_as = if Uid::effective().is_root() { Some(unprivileged_user()?) } else { None };
        // As root, the server user must reach the directory: /tmp is world-traversable,
        // a root-only TMPDIR may not be.
        let mut builder = tempfile::Builder::new();
        builder.prefix("flowvision-pg-");
        let dir = if run_as.is_some() { builder.tempdir_in("/tmp") } else { builder.tempdir() }
            .map_err(err("creating the cluster directory"))?;
        if let Some((uid, gid)) = run_as {
            chown(dir.path(), Some(uid.into()), Some(gid.into())).map_err(err("chown of the cluster dir"))?;
        }
        let mut local = Local { bindir, dir, port: 0, run_as, child: None };
        local.initdb()?;
        // A free port can be taken between our probe and the server's bind: retry.
        let mut last = PgError("no attempt".into());
        for _ in 0..5 {
            local.port = free_port()?;
            let url = format!("postgresql://postgres@127.0.0.1:{}/postgres", local.port);
            local.spawn()?;
            match local.wait_ready(&url) {
                Ok(()) => return Ok(PgCluster { url, mode: Mode::Local(local) }),
                Err(e) => {
                    let _ = local.signal_and_wait(Signal::SIGQUIT);
                    last = e;
                }
            }
        }
        Err(last)
    }
}

impl Local {
    fn command(&self, program: &str) -> Command {
        let path = self.bindir.join(program);
        match self.run_as {
            Some((uid, gid)) => {
                let mut c = Command::new("setpriv");
                c.arg(format!("--reuid={uid}"))
                    .arg(format!("--regid={gid}"))
                    .arg("--clear-groups")
                    .arg("--")
                    .arg(path);
                c
            }
            None => Command::new(path),
        }
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn initdb(&self) -> PgResult<()> {
        let out = self
            .command("initdb")
            .arg("-D")
            .arg(self.data())
            .args(["-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C"])
            .env("LC_ALL", "C")
            .stdin(Stdio::null())
            .output()
            .map_err(err("running initdb"))?;
        if !out.status.success() {
            return Err(PgError(format!(
                "initdb failed ({}): {}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )));
        }
        Ok(())
    }

    fn spawn(&mut self) -> PgResult<()> {
        let log = File::options()
            .create(true)
            .append(true)
            .open(self.dir.path().join("postgres.log"))
            .map_err(err("opening the server log"))?;
        let log2 = log.try_clone().map_err(err("server log"))?;
        // Durability is not what these tests measure: fsync off keeps them fast on a
        // shared 2-core machine. Big WAL so bulk loads do not checkpoint constantly.
        let child = self
            .command("postgres")
            .arg("-D")
            .arg(self.data())
            .arg("-p")
            .arg(self.port.to_string())
            .arg("-k")
            .arg(self.dir.path())
            .args(["-c", "listen_addresses=127.0.0.1"])
            .args(["-c", "fsync=off", "-c", "full_page_writes=off"])
            .args(["-c", "max_wal_size=4GB", "-c", "max_connections=100"])
            .args(["-c", "shared_buffers=256MB", "-c", "log_min_messages=warning"])
            .env("LC_ALL", "C")
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .spawn()
            .map_err(err("starting postgres"))?;
        self.child = Some(child);
        Ok(())
    }

    fn wait_ready(&mut self, url: &str) -> PgResult<()> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(c) = self.child.as_mut() {
                if let Ok(Some(status)) = c.try_wait() {
                    self.child = None;
                    let log =
                        std::fs::read_to_string(self.dir.path().join("postgres.log")).unwrap_or_default();
                    return Err(PgError(format!(
                        "postgres exited ({status}) before accepting connections:\n{log}"
                    )));
                }
            }
            if postgres::Client::connect(url, postgres::NoTls).is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(PgError(format!("postgres not ready after {READY_TIMEOUT:?}")));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn signal_and_wait(&mut self, sig: Signal) -> PgResult<()> {
        let Some(mut child) = self.child.take() else { return Ok(()) };
        let pid = Pid::from_raw(i32::try_from(child.id()).map_err(err("pid"))?);
        let _ = kill(pid, sig);
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            match child.try_wait() {
                Ok(Some(_)) => return Ok(()),
                Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
                _ => {
                    // Escalate: immediate shutdown, then SIGKILL as the last resort.
                    let _ = kill(pid, Signal::SIGQUIT);
                    std::thread::sleep(Duration::from_secs(2));
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(PgError(format!("postgres did not stop on {sig}")));
                }
            }
        }
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        match &mut self.mode {
            Mode::Local(l) => {
                let _ = l.signal_and_wait(Signal::SIGQUIT);
            }
            Mode::External { admin_url, dbname } => {
                if let Ok(mut admin) = postgres::Client::connect(admin_url, postgres::NoTls) {
                    let _ =
                        admin.batch_execute(&format!("DROP DATABASE IF EXISTS \"{dbname}\" WITH (FORCE)"));
                }
            }
        }
    }
}

/// The directory holding `initdb` and `postgres`.
pub fn bindir() -> PgResult<PathBuf> {
    if let Ok(d) = std::env::var("FLOWVISION_PG_BINDIR") {
        let d = PathBuf::from(d);
        if d.join("postgres").is_file() {
            return Ok(d);
        }
        return Err(PgError(format!("FLOWVISION_PG_BINDIR={} has no postgres binary", d.display())));
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| {
                    let version = e.file_name().to_str()?.parse::<u32>().ok()?;
                    let bin = e.path().join("bin");
                    (bin.join("initdb").is_file() && bin.join("postgres").is_file()).then_some((version, bin))
                })
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    if let Some((_, bin)) = found.pop() {
        return Ok(bin);
    }
    if let Some(dir) = std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p).find(|d| d.join("initdb").is_file() && d.join("postgres").is_file())
    }) {
        return Ok(dir);
    }
    Err(PgError(
        "no PostgreSQL server binaries (set FLOWVISION_PG_BINDIR or install Debian's postgresql)".into(),
    ))
}

fn unprivileged_user() -> PgResult<(u32, u32)> {
    for name in ["postgres", "nobody"] {
        if let Ok(Some(u)) = User::from_name(name) {
            return Ok((u.uid.as_raw(), u.gid.as_raw()));
        }
    }
    Err(PgError("running as root and neither user `postgres` nor `nobody` exists".into()))
}

fn free_port() -> PgResult<u16> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(err("finding a free port"))?;
    Ok(l.local_addr().map_err(err("finding a free port"))?.port())
}

/// `url` with its database name replaced by `dbname` (URL or `key=value` form).
pub fn with_dbname(url: &str, dbname: &str) -> String {
    if let Some(scheme_end) = url.find("://") {
        let after = scheme_end + 3;
        let rest = url.get(after..).unwrap_or("");
        let auth_len = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(auth_len);
        let query = tail.find('?').and_then(|q| tail.get(q..)).unwrap_or("");
        format!("{}{authority}/{dbname}{query}", url.get(..after).unwrap_or(""))
    } else {
        format!("{url} dbname={dbname}")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;

    #[test]
    fn dbname_replacement() {
        assert_eq!(
            with_dbname("postgres://u:p@h:5/db?sslmode=disable", "x"),
            "postgres://u:p@h:5/x?sslmode=disable"
        );
        assert_eq!(with_dbname("postgresql://h", "x"), "postgresql://h/x");
        assert_eq!(with_dbname("postgresql://h?a=b", "x"), "postgresql://h/x?a=b");
        assert_eq!(with_dbname("host=h user=u", "x"), "host=h user=u dbname=x");
    }

    #[test]
    fn cluster_starts_stops_resumes() {
        let mut pg = PgCluster::start().unwrap();
        let mut c = pg.connect().unwrap();
        let one: i32 = c.query_one("SELECT 1", &[]).unwrap().get(0);
        assert_eq!(one, 1);
        if !pg.can_stop() {
            println!("external DATABASE_URL: outage simulation skipped");
            return;
        }
        pg.stop().unwrap();
        assert!(c.query_one("SELECT 1", &[]).is_err(), "server still answering after stop");
        assert!(pg.connect().is_err());
        pg.resume().unwrap();
        let mut c = pg.connect().unwrap();
        let one: i32 = c.query_one("SELECT 1", &[]).unwrap().get(0);
        assert_eq!(one, 1);
        println!("cluster on port {:?}: started, stopped, resumed", pg.port());
    }
}
