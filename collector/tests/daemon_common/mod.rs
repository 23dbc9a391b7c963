//! Runs the real `flowvision-collector` binary against a real PostgreSQL for the
//! end-to-end tests: start, wait until it listens, scrape /metrics, SIGTERM.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_flowvision-collector");

/// A free UDP port on loopback (bound, then released).
pub fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A free TCP port on loopback.
pub fn free_tcp_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A running collector.
pub struct Collector {
    child: Option<Child>,
    /// UDP port for every protocol (NetFlow, sFlow and IPFIX ports all point here,
    /// plus two unused ones for the other variables).
    pub port: u16,
    /// Where /metrics is served.
    pub metrics: SocketAddr,
    /// The collector's stderr so far.
    pub log: Arc<Mutex<String>>,
    pub state_dir: PathBuf,
}

impl Collector {
    /// Starts the collector on `database_url` with its state in `state_dir`, reusing
    /// `port` if given; waits until it listens.
    pub fn start(database_url: &str, state_dir: &Path, port: Option<u16>, env: &[(&str, &str)]) -> Collector {
        let port = port.unwrap_or_else(free_udp_port);
        let metrics: SocketAddr = format!("127.0.0.1:{}", free_tcp_port()).parse().unwrap();
        let mut cmd = Command::new(BIN);
        cmd.arg("run")
            .env("DATABASE_URL", database_url)
            .env("NETFLOW_PORT", port.to_string())
            .env("SFLOW_PORT", free_udp_port().to_string())
            .env("IPFIX_PORT", free_udp_port().to_string())
            .env("METRICS_LISTEN", metrics.to_string())
            .env("STATE_DIR", state_dir)
            .env("INGEST_MODE", "udp")
            .env("BATCH_MAX_AGE_MS", "50")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().unwrap();
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("[collector] {line}");
                let mut l = sink.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        });
        let c = Collector { child: Some(child), port, metrics, log, state_dir: state_dir.to_path_buf() };
        let deadline = Instant::now() + Duration::from_secs(60);
        while !c.log.lock().unwrap().contains("listening on UDP ports") {
            assert!(Instant::now() < deadline, "collector did not start:\n{}", c.log.lock().unwrap());
            std::thread::sleep(Duration::from_millis(50));
        }
        c
    }

    /// The target address for exporters.
    pub fn target(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// /metrics as name{labels} -> value.
    pub fn metrics(&self) -> BTreeMap<String, u64> {
        let mut s = TcpStream::connect(self.metrics).unwrap();
        write!(s, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).unwrap();
        text.lines()
            .filter(|l| !l.starts_with('#') && !l.starts_with("HTTP") && l.starts_with("flowvision_"))
            .filter_map(|l| {
                let (k, v) = l.rsplit_once(' ')?;
                Some((k.to_string(), v.parse().ok()?))
            })
            .collect()
    }

    /// One metric (0 when absent).
    pub fn metric(&self, name: &str) -> u64 {
        self.metrics().get(name).copied().unwrap_or(0)
    }

    /// Waits until `cond` holds on the metrics, or panics after `timeout`.
    pub fn wait_metrics(&self, timeout: Duration, what: &str, cond: impl Fn(&BTreeMap<String, u64>) -> bool) {
        let deadline = Instant::now() + timeout;
        loop {
            let m = self.metrics();
            if cond(&m) {
                return;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}; metrics: {m:#?}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// SIGTERM, then waits for a clean exit; returns the exit status code.
    pub fn terminate(mut self) -> i32 {
        let mut child = self.child.take().unwrap();
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        )
        .unwrap();
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status.code().unwrap_or(-1);
            }
            assert!(Instant::now() < deadline, "collector did not stop after SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The log so far.
    pub fn log_text(&self) -> String {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Sum of counters over all label sets of a metric family.
pub fn family_sum(m: &BTreeMap<String, u64>, family: &str) -> u64 {
    m.iter().filter(|(k, _)| *k == family || k.starts_with(&format!("{family}{{"))).map(|(_, v)| *v).sum()
}
