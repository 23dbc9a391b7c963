//! Shared harness of the forwarding tests: a real collector process on a real
//! PostgreSQL, real downstream receivers (nfcapd, plain UDP sockets).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, dead_code)]

use flowvision_codec::{DecodeOutput, Decoder, FlowRecord, TemplateCacheConfig};
use flowvision_tests::pg::PgCluster;
use flowvision_tests::replay::{read_capture, Captured, Replayer};
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_flowvision-collector");

pub fn fixtures_dir() -> PathBuf {
    match std::env::var_os("FLOWVISION_FIXTURES") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures"),
    }
}

pub fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub fn free_tcp_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A running collector.
pub struct Collector {
    pub child: Child,
    pub port: u16,
    pub metrics: SocketAddr,
    pub url: String,
    _state: tempfile::TempDir,
}

impl Collector {
    pub fn start(url: &str) -> Collector {
        let port = free_udp_port();
        let metrics = SocketAddr::from(([127, 0, 0, 1], free_tcp_port()));
        let state = tempfile::tempdir().unwrap();
        let child = Command::new(BIN)
            .arg("run")
            .env("DATABASE_URL", url)
            .env("NETFLOW_PORT", port.to_string())
            .env("IPFIX_PORT", free_udp_port().to_string())
            .env("SFLOW_PORT", free_udp_port().to_string())
            .env("METRICS_LISTEN", metrics.to_string())
            .env("STATE_DIR", state.path())
            .env("COLLECTOR_WORKERS", "1")
            .env("INGEST_MODE", "udp")
            .env("RUST_LOG", "info")
            .stdout(Stdio::inherit())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let c = Collector { child, port, metrics, url: url.to_string(), _state: state };
        let deadline = Instant::now() + Duration::from_secs(30);
        while c.scrape().is_none() {
            assert!(Instant::now() < deadline, "collector did not serve /metrics");
            std::thread::sleep(Duration::from_millis(100));
        }
        c
    }

    pub fn target(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    pub fn scrape(&self) -> Option<String> {
        let mut s = TcpStream::connect_timeout(&self.metrics, Duration::from_secs(2)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        s.write_all(b"GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n").ok()?;
        let mut body = String::new();
        s.read_to_string(&mut body).ok()?;
        Some(body)
    }

    /// Value of the first sample whose line starts with `prefix` (name plus labels).
    pub fn metric(&self, prefix: &str) -> Option<u64> {
        let text = self.scrape()?;
        text.lines()
            .filter(|l| !l.starts_with('#') && l.starts_with(prefix))
            .find_map(|l| l.rsplit_once(' ').and_then(|(_, v)| v.parse().ok()))
    }

    pub fn wait_metric(&self, prefix: &str, want: u64, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if self.metric(prefix) == Some(want) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    pub fn stop(mut self) {
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `flowvision-collector rules ...` against `url`; returns (success, stdout+stderr).
pub fn rules(url: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new(BIN).arg("rules").args(args).env("DATABASE_URL", url).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// nfdump's collector as a downstream receiver.
pub struct Nfcapd {
    child: Child,
    pub port: u16,
    pub dir: tempfile::TempDir,
}

impl Nfcapd {
    pub fn start() -> Nfcapd {
        let port = free_udp_port();
        let dir = tempfile::tempdir().unwrap();
        let child = Command::new("nfcapd")
            .args(["-w", dir.path().to_str().unwrap(), "-p", &port.to_string(), "-b", "127.0.0.1"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nfcapd (nfdump package) must be installed");
        // nfcapd binds within a few ms; give it time before anything is sent.
        std::thread::sleep(Duration::from_millis(500));
        Nfcapd { child, port, dir }
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Stops with SIGTERM (so it flushes) and returns (proto, bytes, packets) per flow.
    pub fn stop_and_read(mut self) -> Vec<(u8, u64, u64)> {
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        let _ = self.child.wait();
        let out = Command::new("nfdump")
            .args(["-R", self.dir.path().to_str().unwrap(), "-q", "-N", "-o", "fmt:%pr|%byt|%pkt"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        text.lines()
            .filter_map(|l| {
                let mut it = l.split('|').map(str::trim);
                let pr = it.next()?;
                let pr = match pr {
                    "TCP" => 6,
                    "UDP" => 17,
                    "ICMP" => 1,
                    "ICMP6" => 58,
                    other => other.parse().ok()?,
                };
                Some((pr, it.next()?.parse().ok()?, it.next()?.parse().ok()?))
            })
            .collect()
    }
}

/// One received datagram: source, payload, arrival time.
pub type Received = (SocketAddr, Vec<u8>, Instant);

/// A plain UDP receiver that keeps every datagram and its source.
pub struct Sink {
    pub addr: SocketAddr,
    pub got: Arc<Mutex<Vec<Received>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Sink {
    pub fn start() -> Sink {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket2::SockRef::from(&s).set_recv_buffer_size(8 << 20).unwrap();
        s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
        let addr = s.local_addr().unwrap();
        let got = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let got = Arc::clone(&got);
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 65536];
                while !stop.load(Ordering::Acquire) {
                    if let Ok((n, from)) = s.recv_from(&mut buf) {
                        got.lock().unwrap().push((from, buf[..n].to_vec(), Instant::now()));
                    }
                }
            })
        };
        Sink { addr, got, stop, thread: Some(thread) }
    }

    pub fn count(&self) -> usize {
        self.got.lock().unwrap().len()
    }

    pub fn finish(mut self) -> Vec<Received> {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
        std::mem::take(&mut *self.got.lock().unwrap())
    }
}

/// One replayed datagram as the collector will decode it.
pub struct Expected {
    pub payload: Vec<u8>,
    pub records: Vec<FlowRecord>,
    /// Templates, options or held sets: raw destinations get it regardless.
    pub carries_templates: bool,
}

/// Loads a capture and decodes it exactly as a single-worker collector sees it
/// (exporters renamed to their replay addresses).
pub fn load(rel: &str, base: Ipv4Addr) -> (Vec<Captured>, Vec<Expected>) {
    let path = fixtures_dir().join(rel);
    let datagrams = read_capture(&path).unwrap();
    let mut mapper = Replayer::new(base, 0);
    let decoder = Decoder::new(TemplateCacheConfig::default());
    let mut out = DecodeOutput::default();
    let mut expected = Vec::new();
    for d in &datagrams {
        let src: IpAddr = mapper.source_for(d.source).unwrap();
        out.clear();
        let info = decoder.decode(src, &d.payload, 0, &mut out).ok();
        expected.push(Expected {
            payload: d.payload.clone(),
            records: out.records.clone(),
            carries_templates: info
                .is_some_and(|i| i.templates > 0 || i.options_records > 0 || i.held_sets > 0),
        });
    }
    (datagrams, expected)
}

/// Rows in `flows`, waiting until the count stops at `want` (or the limit).
pub fn wait_rows(pg: &PgCluster, want: i64, limit: Duration) -> i64 {
    let mut client = pg.connect().unwrap();
    let deadline = Instant::now() + limit;
    loop {
        let n: i64 = client.query_one("SELECT count(*) FROM flows", &[]).map(|r| r.get(0)).unwrap_or(-1);
        if n == want || Instant::now() >= deadline {
            return n;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
