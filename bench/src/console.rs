//! The console binary for the benchmarks that time it over HTTP (dashboards,
//! statistics): where it is built, a process that stops with the benchmark, the admin's
//! session.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Child;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_default()
}

/// `FLOWVISION_WEB_BIN`, else the release build, else the debug build of
/// `flowvision-web` (under `CARGO_TARGET_DIR` when set).
pub fn web_bin() -> Result<PathBuf> {
    if let Ok(p) = std::env::var("FLOWVISION_WEB_BIN") {
        return Ok(PathBuf::from(p));
    }
    let target =
        std::env::var("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|_| workspace().join("target"));
    for profile in ["release", "debug"] {
        let p = target.join(profile).join("flowvision-web");
        if p.exists() {
            return Ok(p);
        }
    }
    bail!("flowvision-web not built: cargo build --release -p flowvision-web")
}

/// A console process, killed when dropped (the benchmark's end, or its error).
#[derive(Debug)]
pub struct WebProcess(pub Child);

impl Drop for WebProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Logs in through the console's form; the session cookie's value.
pub fn login(port: u16, user: &str, password: &str) -> Result<String> {
    let r = flowvision_tests::http::login(port, user, password)?;
    if r.status != 303 {
        bail!("login failed ({}): {}", r.status, r.body);
    }
    r.cookie("fv_session").context("session cookie")
}

/// The benchmarks' console: started on a free loopback port against `database_url`, with
/// cheap password hashing and `extra` environment, listening when this returns. The
/// process stops when the returned value is dropped.
pub struct Console {
    /// The process.
    pub process: WebProcess,
    /// Its TCP port on 127.0.0.1.
    pub port: u16,
    /// Its output (kept until the console is dropped).
    pub log: tempfile::NamedTempFile,
}

impl Console {
    /// Starts `web_bin()` with the admin `user`/`password` as its first admin.
    pub fn start(
        database_url: &str,
        user: &str,
        password: &str,
        extra: &[(&str, String)],
    ) -> Result<Console> {
        use std::net::{TcpListener, TcpStream};
        use std::process::{Command, Stdio};
        use std::time::{Duration, Instant};
        let bin = web_bin()?;
        println!("flowvision-web: {}", bin.display());
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let log = tempfile::NamedTempFile::new()?;
        let mut cmd = Command::new(&bin);
        cmd.env("DATABASE_URL", database_url)
            .env("WEB_LISTEN", format!("127.0.0.1:{port}"))
            .env("WEB_LOG", "critical")
            .env("WEB_ARGON2_MEMORY_KIB", "256")
            .env("WEB_ARGON2_ITERATIONS", "1")
            .env("FLOWVISION_ADMIN_USER", user)
            .env("FLOWVISION_ADMIN_PASSWORD", password)
            .stdout(log.reopen()?)
            .stderr(log.reopen()?)
            .stdin(Stdio::null());
        for (k, v) in extra {
            cmd.env(k, v);
        }
        let process = WebProcess(cmd.spawn()?);
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                bail!("flowvision-web not listening: {}", std::fs::read_to_string(log.path())?);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(Console { process, port, log })
    }
}
