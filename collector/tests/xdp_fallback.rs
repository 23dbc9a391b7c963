//! `INGEST_MODE=auto` without what XDP needs: the collector logs one line naming the
//! cause and ingests over its UDP sockets.
//!
//! - without capabilities (as root the collector is started through `setpriv` as
//!   `nobody` with every capability dropped; not root, it simply runs as the caller):
//!   cause "missing capability", then simulator datagrams are received and stored;
//! - a missing interface: cause "no such interface" (needs no privileges).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use flowvision_sim::{Datagram, Scenario, SimError, Simulation};
use flowvision_tests::pg::PgCluster;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_flowvision-collector");

fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A collector started through an optional wrapper (setpriv); killed on drop.
struct Launched {
    child: Child,
    log: Arc<Mutex<String>>,
    metrics: SocketAddr,
    port: u16,
}

impl Launched {
    fn start(wrapper: &[&str], database_url: &str, state: &std::path::Path, interface: &str) -> Launched {
        let port = free_udp_port();
        let metrics: SocketAddr = format!(
            "127.0.0.1:{}",
            std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
        )
        .parse()
        .unwrap();
        let mut cmd = match wrapper.split_first() {
            Some((first, rest)) => {
                let mut c = Command::new(first);
                c.args(rest).arg(BIN);
                c
            }
            None => Command::new(BIN),
        };
        cmd.arg("run")
            .env("DATABASE_URL", database_url)
            .env("NETFLOW_PORT", port.to_string())
            .env("SFLOW_PORT", free_udp_port().to_string())
            .env("IPFIX_PORT", free_udp_port().to_string())
            .env("METRICS_LISTEN", metrics.to_string())
            .env("STATE_DIR", state)
            .env("INGEST_MODE", "auto")
            .env("XDP_INTERFACE", interface)
            .env("BATCH_MAX_AGE_MS", "50")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&log);
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("[collector] {line}");
                let mut l = sink.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        });
        let l = Launched { child, log, metrics, port };
        let deadline = Instant::now() + Duration::from_secs(60);
        while !l.log().contains("listening on UDP ports") {
            assert!(Instant::now() < deadline, "collector did not start:\n{}", l.log());
            std::thread::sleep(Duration::from_millis(50));
        }
        l
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    fn metrics(&self) -> BTreeMap<String, u64> {
        let mut s = TcpStream::connect(self.metrics).unwrap();
        write!(s, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).unwrap();
        text.lines()
            .filter(|l| l.starts_with("flowvision_"))
            .filter_map(|l| {
                let (k, v) = l.rsplit_once(' ')?;
                Some((k.to_string(), v.parse().ok()?))
            })
            .collect()
    }
}

impl Drop for Launched {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn fallback_line(log: &str) -> Vec<&str> {
    log.lines().filter(|l| l.contains("falling back to UDP sockets")).collect()
}

#[test]
fn without_capabilities_auto_logs_the_cause_and_ingests_over_udp() {
    let root = nix::unistd::geteuid().is_root();
    let wrapper: &[&str] = if root {
        &[
            "setpriv",
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
            "--inh-caps=-all",
            "--bounding-set=-all",
        ]
    } else {
        &[]
    };
    let pg = PgCluster::start().unwrap();
    let state = tempfile::tempdir().unwrap();
    if root {
        // `nobody` writes its spool and template snapshot here.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(state.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    }
    // Loopback exists everywhere, so the only thing missing is the capability.
    let c = Launched::start(wrapper, pg.url(), state.path(), "lo");
    let log = c.log();
    let lines = fallback_line(&log);
    assert_eq!(lines.len(), 1, "one fallback line:\n{log}");
    assert!(lines[0].contains("missing capability"), "cause named: {}", lines[0]);

    let mut scenario = Scenario { seed: Some(5), rate: 20_000.0, count: Some(3_000), ..Scenario::default() };
    scenario.diurnal.enabled = false;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let mut sim = Simulation::new(scenario.resolve(now, 5).unwrap()).unwrap();
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let target = SocketAddr::from(([127, 0, 0, 1], c.port));
    let (mut sent, mut records) = (0u64, 0u64);
    let mut sink = |d: &Datagram<'_>| -> Result<(), SimError> {
        socket.send_to(d.payload, target).unwrap();
        sent += 1;
        records += d.records.len() as u64;
        // Gentle pacing: a 1-worker debug build must not overflow its socket buffer.
        if sent % 50 == 0 {
            std::thread::sleep(Duration::from_millis(2));
        }
        Ok(())
    };
    sim.run(&mut sink).unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let m = c.metrics();
        if m.get("flowvision_datagrams_received_total") == Some(&sent)
            && m.get("flowvision_store_rows_stored_total") == Some(&records)
        {
            assert!(!m.contains_key("flowvision_xdp_queues"), "no XDP metrics in UDP mode");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not all ingested over UDP: sent {sent}, {records} records; {m:#?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut db = pg.connect().unwrap();
    let stored: i64 = db.query_one("SELECT count(*) FROM flows", &[]).unwrap().get(0);
    assert_eq!(stored as u64, records);
    println!(
        "{}: fell back with cause \"missing capability\"; {sent} simulator datagrams, {records} records stored over UDP",
        if root { "as nobody with all capabilities dropped" } else { "as an ordinary user" }
    );
}

#[test]
fn auto_with_a_missing_interface_names_it() {
    let pg = PgCluster::start().unwrap();
    let state = tempfile::tempdir().unwrap();
    let c = Launched::start(&[], pg.url(), state.path(), "fvx-nonexist");
    let log = c.log();
    let lines = fallback_line(&log);
    assert_eq!(lines.len(), 1, "one fallback line:\n{log}");
    assert!(lines[0].contains("no such interface") && lines[0].contains("fvx-nonexist"), "{}", lines[0]);
    println!("fallback line: {}", lines[0]);
}
