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
