//! The container install as an operator does it, on a real Docker engine: a private
//! `dockerd` (Debian's docker.io, its own socket, data and exec roots, vfs, no iptables,
//! no bridge; stopped at the end, never touching another engine), the images built by
//! `deploy/docker/build.sh` (on a debootstrap base: no registry is reachable here), the
//! stack started by `docker-compose` with the least-privilege override, simulated
//! NetFlow v5, v9, IPFIX and sFlow sent to the host ports, and the flows checked through
//! the console's API. Then `docker-compose stop` right after a burst and `start`: every
//! flow of the burst stored, users, sessions and templates kept, ingest going on. And a
//! the collector service recreated (with the override's capabilities) in
//! `INGEST_MODE=xdp` on a veth pair: flows sent from a network namespace arrive through
//! AF_XDP, as its counters show.
//!
//! Then the bare-metal install: the Debian package (deploy/debian/build-deb.sh) installed
//! by deploy/debian/install.sh into a fresh container of the same base (its own network
//! namespace, PostgreSQL and systemd from apt in the image); the units pass
//! `systemd-analyze verify`; the services are started as their unit files say (user,
//! environment file, ExecStart) and take flows; an upgrade to a rebuilt package keeps
//! them; `dpkg -r` keeps the database, `dpkg -P` drops it.
//!
//! `privileged: true` itself cannot start in this sandbox (it withholds
//! CAP_SYS_RESOURCE, which privileged adds), so the override is what is proven; the
//! privileged default differs only by its capability list.
//!
//! Runs as root (dockerd and debootstrap need it); otherwise it says why and passes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

// The veth pair into a network namespace of the collector's XDP tests.
#[path = "../../collector/tests/xdp_common/mod.rs"]
mod xdp_common;

use flowvision_tests::http;
use flowvision_tests::local::{free_tcp, free_udp};

use serde_json::Value;
use std::collections::BTreeMap;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// target/<profile>/, where `cargo test` put the workspace's binaries.
fn bin_dir() -> PathBuf {
    flowvision_tests::local::bin_dir().unwrap()
}

const ADMIN: &str = "admin";
const PASSWORD: &str = "Docker-Admin-Passphrase-2026";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// A private Docker engine in a temporary folder.
struct Engine {
    dockerd: Child,
    host: String,
    dir: tempfile::TempDir,
}

impl Engine {
    fn start() -> Engine {
        // Short paths: containerd's sockets live under the exec root.
        let dir = tempfile::Builder::new().prefix("fvd").tempdir_in("/tmp").unwrap();
        let d = dir.path();
        let sock = d.join("docker.sock");
        let log = std::fs::File::create(d.join("dockerd.log")).unwrap();
        let dockerd = Command::new("dockerd")
            .arg(format!("--host=unix://{}", sock.display()))
            .arg(format!("--data-root={}", d.join("data").display()))
            .arg(format!("--exec-root={}", d.join("x").display()))
            .arg(format!("--pidfile={}", d.join("docker.pid").display()))
            .args(["--storage-driver=vfs", "--iptables=false", "--bridge=none"])
            .args(["--ip-masq=false", "--userland-proxy=false"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("dockerd (Debian package docker.io)");
        let engine = Engine { dockerd, host: format!("unix://{}", sock.display()), dir };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let ok = engine.docker(&["version", "--format", "{{.Server.Version}}"]).status.success();
            if ok {
                break;
            }
            assert!(Instant::now() < deadline, "dockerd did not start:\n{}", engine.log());
            std::thread::sleep(Duration::from_millis(500));
        }
        engine
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("dockerd.log")).unwrap_or_default()
    }

    fn docker(&self, args: &[&str]) -> Output {
        Command::new("docker").args(args).env("DOCKER_HOST", &self.host).output().unwrap()
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.dockerd.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline && matches!(self.dockerd.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(200));
        }
        let _ = self.dockerd.kill();
        let _ = self.dockerd.wait();
        // dockerd leaves its network namespace mounted under the exec root; the
        // folder (gigabytes of vfs layers) cannot be removed while it is.
        let root = self.dir.path().to_string_lossy().to_string();
        let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
        for point in mounts.lines().filter_map(|l| l.split(' ').nth(1)).filter(|p| p.starts_with(&root)) {
            let _ = Command::new("umount").args(["--lazy", point]).status();
        }
    }
}

/// The compose project: its env file and the ports in it.
struct Stack<'a> {
    engine: &'a Engine,
    project: String,
    env_file: PathBuf,
    web: u16,
    metrics: u16,
    ports: BTreeMap<&'static str, u16>,
}

impl<'a> Stack<'a> {
    fn new(engine: &'a Engine) -> Stack<'a> {
        let env_file = engine.dir.path().join("flowvision.env");
        let (web, metrics) = (free_tcp(), free_tcp());
        let ports = BTreeMap::from([
            ("NETFLOW_PORT", free_udp()),
            ("SFLOW_PORT", free_udp()),
            ("IPFIX_PORT", free_udp()),
        ]);
        let mut env = format!(
            "POSTGRES_PASSWORD=compose-test-{}\nFLOWVISION_PG_PORT={}\nFLOWVISION_ADMIN_USER={ADMIN}\n\
             FLOWVISION_ADMIN_PASSWORD={PASSWORD}\nWEB_LISTEN=127.0.0.1:{web}\nMETRICS_LISTEN=127.0.0.1:{}\n\
             INGEST_MODE=udp\n",
            std::process::id(),
            free_tcp(),
            metrics
        );
        for (k, v) in &ports {
            env.push_str(&format!("{k}={v}\n"));
        }
        std::fs::write(&env_file, env).unwrap();
        Stack { engine, project: format!("fvtest{}", std::process::id()), env_file, web, metrics, ports }
    }

    fn compose(&self, args: &[&str]) -> Output {
        self.compose_with(&[], args)
    }

    /// `docker-compose` with the two files of deploy/docker, then `extra` files.
    fn compose_with(&self, extra: &[&Path], args: &[&str]) -> Output {
        let dir = repo().join("deploy/docker");
        let mut cmd = Command::new("docker-compose");
        cmd.args(["-p", &self.project, "--env-file"])
            .arg(&self.env_file)
            .arg("-f")
            .arg(dir.join("compose.yml"))
            .arg("-f")
            .arg(dir.join("compose.least-privilege.yml"));
        for f in extra {
            cmd.arg("-f").arg(f);
        }
        cmd.args(args)
            .env("DOCKER_HOST", &self.engine.host)
            .env("FLOWVISION_ENV_FILE", &self.env_file)
            .output()
            .unwrap()
    }

    fn logs(&self) -> String {
        text(&self.compose(&["logs", "--no-color", "--tail", "40"]))
    }

    fn wait_console(&self, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            if TcpStream::connect(("127.0.0.1", self.web)).is_ok()
                && http::request(self.web, "GET", "/healthz", "", "").is_ok_and(|r| r.status == 200)
            {
                return;
            }
            assert!(Instant::now() < deadline, "console not up after {within:?}:\n{}", self.logs());
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    fn api(&self, cookie: &str, path: &str) -> Value {
        let r = http::request(self.web, "GET", path, cookie, "").unwrap();
        assert_eq!(r.status, 200, "{path}: {}\n{}", r.body, self.logs());
        serde_json::from_str(&r.body).unwrap()
    }

    /// Flows stored per exporter, as the console's API reports them.
    fn stored(&self, cookie: &str) -> BTreeMap<String, (i64, Option<String>, i64)> {
        self.api(cookie, "/api/v1/exporters")["exporters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["exporter"].as_str().unwrap().to_string(),
                    (
                        e["flows"].as_i64().unwrap(),
                        e["protocol"].as_str().map(str::to_string),
                        e["active_templates"].as_i64().unwrap_or(0),
                    ),
                )
            })
            .collect()
    }

    fn wait_stored(&self, cookie: &str, expected: &BTreeMap<String, i64>, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let got = self.stored(cookie);
            if expected.iter().all(|(a, n)| got.get(a).map(|g| g.0) == Some(*n)) {
                return;
            }
            assert!(Instant::now() < deadline, "stored {got:?}, expected {expected:?}\n{}", self.logs());
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

impl Drop for Stack<'_> {
    fn drop(&mut self) {
        let _ = self.compose(&["down", "-v", "--timeout", "30"]);
    }
}

/// One exporter per protocol, each from its own loopback address, to that protocol's port.
const EXPORTERS: [(&str, &str, &str); 4] = [
    ("netflow_v5", "127.3.0.5", "NETFLOW_PORT"),
    ("netflow_v9", "127.3.0.9", "NETFLOW_PORT"),
    ("ipfix", "127.3.0.10", "IPFIX_PORT"),
    ("sflow_v5", "127.3.0.6", "SFLOW_PORT"),
];

/// Sends `count` flows from each exporter; returns flows per exporter address as the
/// simulator counted them.
fn send(stack: &Stack<'_>, count: u64, seed: u64) -> BTreeMap<String, i64> {
    let dir = stack.engine.dir.path();
    let mut sent = BTreeMap::new();
    for (protocol, source, port) in EXPORTERS {
        let scenario = dir.join(format!("{protocol}.toml"));
        std::fs::write(
            &scenario,
            format!("rate = 5000\n[[exporters]]\nprotocol = \"{protocol}\"\nsource = \"{source}\"\n"),
        )
        .unwrap();
        let summary = dir.join(format!("{protocol}-{seed}.json"));
        let out = Command::new(bin_dir().join("flowvision-sim"))
            .arg("--scenario")
            .arg(&scenario)
            .args(["--count", &count.to_string(), "--no-pacing", "-q", "--seed", &seed.to_string()])
            .args(["--target", &format!("127.0.0.1:{}", stack.ports[port])])
            .arg("--summary-json")
            .arg(&summary)
            .output()
            .unwrap();
        assert!(out.status.success(), "flowvision-sim {protocol}: {}", text(&out));
        let s: Value = serde_json::from_slice(&std::fs::read(&summary).unwrap()).unwrap();
        assert_eq!(s["udp"]["targets"][0]["failed_datagrams"].as_u64(), Some(0), "{s}");
        for e in s["exporters"].as_array().unwrap() {
            *sent.entry(e["address"].as_str().unwrap().to_string()).or_insert(0) +=
                e["flows"].as_i64().unwrap();
        }
    }
    sent
}

fn add(a: &BTreeMap<String, i64>, b: &BTreeMap<String, i64>) -> BTreeMap<String, i64> {
    let mut out = a.clone();
    for (k, v) in b {
        *out.entry(k.clone()).or_insert(0) += v;
    }
    out
}

#[test]
fn compose_stack_and_debian_package_install_and_take_flows() {
    if !nix::unistd::Uid::effective().is_root() {
        println!("skipped: a private Docker engine and debootstrap need root (the README's test command runs as root in CI)");
        return;
    }
    let started = Instant::now();
    let engine = Engine::start();

    // The images, as an operator builds them (the binaries this suite has just built).
    let t = Instant::now();
    let out = Command::new(repo().join("deploy/docker/build.sh"))
        .env("DOCKER_HOST", &engine.host)
        .env("FLOWVISION_BIN_DIR", bin_dir())
        .output()
        .unwrap();
    assert!(out.status.success(), "build.sh: {}\n{}", text(&out), engine.log());
    println!("images built in {:.0} s", t.elapsed().as_secs_f64());
    for image in ["flowvision/postgres", "flowvision/collector", "flowvision/web"] {
        let o = engine.docker(&[
            "image",
            "inspect",
            "--format",
            "{{.Config.User}}|{{json .Config.Healthcheck}}",
            image,
        ]);
        assert!(o.status.success(), "{image}: {}", text(&o));
        let info = String::from_utf8_lossy(&o.stdout).to_string();
        assert!(info.contains("healthcheck"), "{image} has no health check: {info}");
        if image != "flowvision/collector" {
            assert!(!info.starts_with('|') && !info.starts_with("root|"), "{image} runs as root: {info}");
        }
    }

    let stack = Stack::new(&engine);
    let up = stack.compose(&["up", "-d"]);
    assert!(up.status.success(), "docker-compose up: {}\n{}", text(&up), stack.logs());
    stack.wait_console(Duration::from_secs(120));
    let r = http::login(stack.web, ADMIN, PASSWORD).unwrap();
    assert_eq!(r.status, 303, "admin login: {}\n{}", r.body, stack.logs());
    let cookie = format!("fv_session={}", r.cookie("fv_session").unwrap());
    let users = stack.api(&cookie, "/api/v1/users");
    // The console image carries the base MIB modules.
    let if_name = stack.api(&cookie, "/api/v1/mibs/oid/IF-MIB::ifName");
    assert!(if_name.to_string().contains("1.3.6.1.2.1.31.1.1.1.1"), "{if_name}");

    // Every protocol to its port on the host.
    let first = send(&stack, 3000, 1);
    stack.wait_stored(&cookie, &first, Duration::from_secs(90));
    let stored = stack.stored(&cookie);
    for (protocol, source, _) in EXPORTERS {
        assert_eq!(stored[source].1.as_deref(), Some(protocol), "{stored:?}");
    }
    println!("stored {} flows of 4 protocols from the compose stack", first.values().sum::<i64>());

    // A burst, then `stop` at once: the collector drains and commits before it exits.
    let burst = send(&stack, 5000, 2);
    let stop = stack.compose(&["stop"]);
    assert!(stop.status.success(), "docker-compose stop: {}", text(&stop));
    let ps = stack.compose(&["ps"]);
    assert!(!String::from_utf8_lossy(&ps.stdout).contains(" Up "), "still up after stop:\n{}", text(&ps));
    let start = stack.compose(&["start"]);
    assert!(start.status.success(), "docker-compose start: {}\n{}", text(&start), stack.logs());
    stack.wait_console(Duration::from_secs(120));

    // The old session still works (users and sessions are in the database volume).
    assert_eq!(stack.api(&cookie, "/api/v1/users"), users, "users changed across stop/start");
    let total = add(&first, &burst);
    stack.wait_stored(&cookie, &total, Duration::from_secs(90));
    let stored = stack.stored(&cookie);
    for source in ["127.3.0.9", "127.3.0.10"] {
        assert!(stored[source].2 > 0, "templates of {source} lost across stop/start: {stored:?}");
    }
    println!(
        "after stop/start: all {} flows of the burst stored, users and templates kept",
        burst.values().sum::<i64>()
    );

    // Ingest goes on after the restart.
    let after = send(&stack, 1000, 3);
    stack.wait_stored(&cookie, &add(&total, &after), Duration::from_secs(90));

    xdp_in_the_engine(&stack, &cookie);
    drop(stack);

    debian_package_in_a_fresh_container(&engine);
    println!("compose test done in {:.0} s", started.elapsed().as_secs_f64());
}

/// `GET /metrics` of a collector, as name (with labels) → value.
fn metrics(port: u16) -> Option<BTreeMap<String, f64>> {
    let r = http::request(port, "GET", "/metrics", "", "").ok()?;
    (r.status == 200).then(|| {
        r.body
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.rsplit_once(' '))
            .filter_map(|(k, v)| Some((k.to_string(), v.parse().ok()?)))
            .collect()
    })
}

/// The collector service in `INGEST_MODE=xdp` on the host end of a veth pair; NetFlow v9
/// from the namespace end.
fn xdp_in_the_engine(stack: &Stack<'_>, cookie: &str) {
    let net = xdp_common::Netns::create("d", 1).unwrap();
    // The same service recreated with a third compose file for XDP (`docker-compose
    // run` cannot be used: 1.29 links its dependencies, refused with host networking).
    let xdp_file = stack.engine.dir.path().join("compose.xdp.yml");
    std::fs::write(
        &xdp_file,
        format!(
            "version: \"2.4\"\nservices:\n  collector:\n    environment:\n      INGEST_MODE: xdp\n      XDP_INTERFACE: {}\n",
            net.host
        ),
    )
    .unwrap();
    let out = stack.compose_with(&[&xdp_file], &["up", "-d", "collector"]);
    assert!(out.status.success(), "docker-compose up collector (xdp): {}", text(&out));
    let port = stack.ports["NETFLOW_PORT"];
    let metrics_port = stack.metrics;
    let container_log =
        || text(&stack.compose_with(&[&xdp_file], &["logs", "--no-color", "--tail", "40", "collector"]));
    let deadline = Instant::now() + Duration::from_secs(60);
    while metrics(metrics_port).is_none() || !net.xdp_attached() {
        assert!(Instant::now() < deadline, "XDP collector not up:\n{}", container_log());
        std::thread::sleep(Duration::from_millis(500));
    }

    let sender = std::net::Ipv4Addr::from(u32::from(net.sender_base) + 1);
    let dir = stack.engine.dir.path();
    let scenario = dir.join("xdp.toml");
    std::fs::write(
        &scenario,
        format!("rate = 5000\n[[exporters]]\nprotocol = \"netflow_v9\"\nsource = \"{sender}\"\n"),
    )
    .unwrap();
    let summary = dir.join("xdp.json");
    let out = Command::new("ip")
        .args(["netns", "exec", &net.ns])
        .arg(bin_dir().join("flowvision-sim"))
        .arg("--scenario")
        .arg(&scenario)
        .args(["--count", "4000", "--no-pacing", "-q", "--seed", "4"])
        .args(["--target", &format!("{}:{port}", net.host_ip)])
        .arg("--summary-json")
        .arg(&summary)
        .output()
        .unwrap();
    assert!(out.status.success(), "flowvision-sim in the namespace: {}", text(&out));
    let s: Value = serde_json::from_slice(&std::fs::read(&summary).unwrap()).unwrap();
    let target = &s["udp"]["targets"][0];
    assert_eq!(target["failed_datagrams"].as_u64(), Some(0), "{s}");
    let (datagrams, flows) = (target["datagrams"].as_f64().unwrap(), target["flows"].as_i64().unwrap());

    stack.wait_stored(cookie, &BTreeMap::from([(sender.to_string(), flows)]), Duration::from_secs(90));
    let m = metrics(metrics_port).unwrap();
    let xdp = m.get("flowvision_xdp_datagrams_total").copied().unwrap_or(0.0);
    assert_eq!(xdp, datagrams, "AF_XDP carried every datagram: {m:?}\n{}", container_log());
    println!("XDP collector in the engine: {flows} flows in {datagrams} datagrams, all through AF_XDP");
}

/// A container of the engine standing for a plain Debian machine; commands run in it
/// by `docker exec`.
struct Machine<'a> {
    engine: &'a Engine,
    name: String,
}

impl Machine<'_> {
    fn exec(&self, args: &[&str]) -> Output {
        let mut all = vec!["exec", self.name.as_str()];
        all.extend(args);
        self.engine.docker(&all)
    }

    fn sh(&self, script: &str) -> String {
        let o = self.exec(&["sh", "-c", script]);
        assert!(o.status.success(), "in {}: {script}: {}", self.name, text(&o));
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    }

    fn flows(&self) -> i64 {
        self.sh("runuser -u postgres -- psql -d flowvision -qAtc 'SELECT count(*) FROM flows'")
            .parse()
            .unwrap()
    }

    /// Starts a service as its unit file says: `User=`, `EnvironmentFile=`, `ExecStart=`.
    /// (Its capabilities are not given: the engine's default set has no CAP_BPF, and UDP
    /// ingest needs none; the compose test covers XDP with them.)
    fn start_unit(&self, unit: &str) {
        let unit_file = self.sh(&format!("cat /lib/systemd/system/{unit}"));
        let key = |k: &str| {
            unit_file
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{k}=")))
                .unwrap_or_else(|| panic!("{unit} has no {k}="))
                .to_string()
        };
        let (user, env, exec) = (key("User"), key("EnvironmentFile"), key("ExecStart"));
        let log = format!("/tmp/{unit}.log");
        let o = self.exec(&[
            "sh",
            "-c",
            &format!(
                "set -a; . {env}; set +a; \
                 exec setpriv --reuid={user} --regid={user} --init-groups -- {exec} >>{log} 2>&1 &"
            ),
        ]);
        assert!(o.status.success(), "{unit}: {}", text(&o));
    }

    fn stop_services(&self) {
        let o = self.exec(&[
            "sh",
            "-c",
            "pkill -TERM -f '^/usr/bin/flowvision-'; \
             for i in $(seq 240); do pgrep -f '^/usr/bin/flowvision-' >/dev/null || exit 0; sleep 0.5; done; exit 1",
        ]);
        assert!(o.status.success(), "services did not stop within 120 s:\n{}", self.logs());
    }

    fn logs(&self) -> String {
        text(&self.exec(&["sh", "-c", "tail -n 30 /tmp/*.log"]))
    }

    fn wait_flows(&self, n: i64, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let got = self.sh("runuser -u postgres -- psql -d flowvision -qAtc 'SELECT count(*) FROM flows' 2>/dev/null || echo -1");
            if got == n.to_string() {
                return;
            }
            assert!(Instant::now() < deadline, "{got} flows stored, expected {n}:\n{}", self.logs());
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    fn send(&self, count: u64, seed: u64) -> i64 {
        let out = self.sh(&format!(
            "flowvision-sim --scenario /usr/share/flowvision/scenarios/demo.toml --count {count} --no-pacing -q \
             --seed {seed} --duration 60s --target 127.0.0.1:2055 --summary-json /tmp/sim.json && cat /tmp/sim.json"
        ));
        let s: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(s["udp"]["targets"][0]["failed_datagrams"].as_u64(), Some(0), "{s}");
        s["udp"]["targets"][0]["flows"].as_i64().unwrap()
    }
}

impl Drop for Machine<'_> {
    fn drop(&mut self) {
        let _ = self.engine.docker(&["rm", "-f", &self.name]);
    }
}

fn debian_package_in_a_fresh_container(engine: &Engine) {
    let t = Instant::now();
    let dir = engine.dir.path().join("pkg");
    std::fs::create_dir_all(&dir).unwrap();
    let build = |version: &str| {
        let o = Command::new(repo().join("deploy/debian/build-deb.sh"))
            .args(["--out", dir.to_str().unwrap(), "--version", version])
            .env("FLOWVISION_BIN_DIR", bin_dir())
            .output()
            .unwrap();
        assert!(o.status.success(), "build-deb.sh: {}", text(&o));
        let deb = String::from_utf8_lossy(&o.stdout).trim().to_string();
        Path::new(&deb).file_name().unwrap().to_string_lossy().to_string()
    };
    let first = build("0.1.0");
    std::fs::copy(repo().join("deploy/debian/install.sh"), dir.join("install.sh")).unwrap();

    // A plain Debian machine: the base the images use, with PostgreSQL and systemd from
    // apt (built with the network; run without: its own namespace, nothing shared).
    let base = if engine.docker(&["image", "inspect", "flowvision/base:bookworm"]).status.success() {
        "flowvision/base:bookworm"
    } else {
        "debian:bookworm-slim"
    };
    std::fs::write(
        dir.join("Dockerfile"),
        format!(
            "FROM {base}\nRUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y \
             --no-install-recommends postgresql systemd adduser ca-certificates procps && rm -rf /var/lib/apt/lists/*\n"
        ),
    )
    .unwrap();
    let o = engine.docker(&[
        "build",
        "-q",
        "--network",
        "host",
        "-t",
        "flowvision/debian-test",
        dir.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "test image: {}", text(&o));
    let name = format!("fvdeb{}", std::process::id());
    let volume = format!("{}:/pkg:ro", dir.display());
    let o = engine.docker(&[
        "run",
        "-d",
        "--network",
        "none",
        "--name",
        &name,
        "-v",
        &volume,
        "flowvision/debian-test",
        "sleep",
        "infinity",
    ]);
    assert!(o.status.success(), "container: {}", text(&o));
    let deb = Machine { engine, name };

    deb.sh(&format!("/pkg/install.sh /pkg/{first} 2>&1"));
    assert_eq!(deb.sh("stat -c '%U:%G %a' /etc/flowvision/flowvision.env"), "root:flowvision 640");
    assert!(deb.sh("id flowvision").contains("flowvision"));
    deb.sh("test -f /usr/share/flowvision/assets/net-snmp/lib/mibs/IF-MIB.mib");
    for unit in ["flowvision-collector.service", "flowvision-web.service"] {
        let o = deb.exec(&["systemd-analyze", "verify", &format!("/lib/systemd/system/{unit}")]);
        let out = text(&o);
        assert!(o.status.success() && !out.contains(unit), "systemd-analyze verify {unit}: {out}");
    }

    deb.start_unit("flowvision-collector.service");
    deb.start_unit("flowvision-web.service");
    // The services run as the system user, nothing of theirs as root.
    let deadline = Instant::now() + Duration::from_secs(60);
    while deb.sh("ps -o comm= -u flowvision | sort | tr '\\n' ' '") != "flowvision-coll flowvision-web" {
        assert!(Instant::now() < deadline, "services not running as flowvision:\n{}", deb.logs());
        std::thread::sleep(Duration::from_millis(500));
    }
    assert_eq!(deb.sh("pgrep -u 0 -f '^/usr/bin/flowvision-' || true"), "", "a service runs as root");
    let web_up = || deb.exec(&["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8000"]).status.success();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !web_up() {
        assert!(Instant::now() < deadline, "console not listening:\n{}", deb.logs());
        std::thread::sleep(Duration::from_millis(500));
    }
    let mut expected = 0;
    // The collector may still be applying migrations: wait for its socket.
    std::thread::sleep(Duration::from_secs(2));
    expected += deb.send(3000, 5);
    deb.wait_flows(expected, Duration::from_secs(90));
    println!("package: installed, units verified, services as the user flowvision, {expected} flows stored");

    // Upgrade to a rebuilt package: the data stays, the services take flows again.
    let second = build("0.1.0+rebuilt1");
    deb.stop_services();
    deb.sh(&format!("/pkg/install.sh /pkg/{second} 2>&1"));
    assert_eq!(deb.sh("dpkg-query -W -f='${Version}' flowvision"), "0.1.0+rebuilt1");
    assert_eq!(deb.flows(), expected, "flows lost in the upgrade");
    deb.start_unit("flowvision-collector.service");
    std::thread::sleep(Duration::from_secs(3));
    expected += deb.send(1000, 6);
    deb.wait_flows(expected, Duration::from_secs(90));

    // Remove keeps the database; purge drops it.
    deb.stop_services();
    deb.sh("dpkg -r flowvision >/dev/null");
    assert_eq!(deb.flows(), expected, "dpkg -r dropped data");
    deb.sh("dpkg -P flowvision >/dev/null");
    let left = deb.sh(
        "runuser -u postgres -- psql -qAtc \"SELECT count(*) FROM pg_database WHERE datname = 'flowvision'\"",
    );
    assert_eq!(left, "0", "dpkg -P kept the database");
    println!(
        "package: upgrade kept {expected} flows; remove kept the database, purge dropped it ({:.0} s)",
        t.elapsed().as_secs_f64()
    );
}
