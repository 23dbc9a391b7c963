//! SNMP polling benchmark: how long the console's poller takes for many agents, against
//! net-snmp's `snmpbulkwalk` polling the same agents the same way in the same run.
//!
//! Agents are `snmpsim` (PyPI) command responders serving recordings written here: a
//! router with `--router-ifs` interfaces (ifTable and ifXTable) and a switch with 48
//! and no ifXTable; each agent is one community (a copy of a recording), spread over
//! `--sims` responder processes (snmpsim is single-threaded Python; one per core).
//! Each poll asks what the console asks: the system group (one GET) and six interface
//! columns (GETBULK walks, 40 rows each). FlowVision polls every agent with at most
//! `--concurrency` at once (the console's semaphore); the peer runs that many
//! `snmpbulkwalk`/`snmpget` processes at once. Wall time, CPU of the poller, and rows
//! (interfaces) learned are printed per repeat, then medians.
//!
//! snmpsim must run as a non-root user that can read its interpreter, so as root the
//! package is installed with `pip --target` into a world-readable folder and run by
//! Debian's /usr/bin/python3 under `setpriv` (`--snmpsim-lib`, default
//! /tmp/fvsnmpsim: `python3 -m pip install --target /tmp/fvsnmpsim snmpsim pysmi`).
//!
//! `cargo run --release -p flowvision-bench --bin snmp_poll -- --switches 490 --routers 10`

use anyhow::{bail, Context, Result};
use clap::Parser;
use flowvision_snmp::{poll, Credentials, PollOptions};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// SNMP polling benchmark.
#[derive(Debug, Parser)]
#[command(name = "snmp_poll")]
struct Args {
    /// Agents serving the 48-port switch recording (no ifXTable).
    #[arg(long, default_value_t = 490)]
    switches: usize,
    /// Agents serving the router recording.
    #[arg(long, default_value_t = 10)]
    routers: usize,
    /// Interfaces of the router recording.
    #[arg(long, default_value_t = 1000)]
    router_ifs: u32,
    /// Agents polled at once.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// snmpsim processes.
    #[arg(long, default_value_t = 2)]
    sims: usize,
    /// Repeats of each poller.
    #[arg(long, default_value_t = 3)]
    repeats: usize,
    /// Folder holding the snmpsim package (see the module documentation).
    #[arg(long, default_value = "/tmp/fvsnmpsim")]
    snmpsim_lib: PathBuf,
}

/// One agent: responder address and community.
#[derive(Debug, Clone)]
struct Agent {
    addr: SocketAddr,
    community: String,
    interfaces: usize,
}

fn recording(name: &str, ifs: u32, if_x_table: bool) -> String {
    let mut rows: Vec<(Vec<u32>, &str, String)> = vec![
        (vec![1, 3, 6, 1, 2, 1, 1, 1, 0], "4", format!("{name}, simulated by snmpsim")),
        (vec![1, 3, 6, 1, 2, 1, 1, 2, 0], "6", "1.3.6.1.4.1.9.1.1041".into()),
        (vec![1, 3, 6, 1, 2, 1, 1, 3, 0], "67", "123456".into()),
        (vec![1, 3, 6, 1, 2, 1, 1, 5, 0], "4", name.into()),
    ];
    for i in 1..=ifs {
        rows.push((vec![1, 3, 6, 1, 2, 1, 2, 2, 1, 2, i], "4", format!("TenGigabitEthernet0/0/{i}")));
        rows.push((vec![1, 3, 6, 1, 2, 1, 2, 2, 1, 5, i], "66", "4294967295".into()));
        rows.push((vec![1, 3, 6, 1, 2, 1, 2, 2, 1, 8, i], "2", "1".into()));
        if if_x_table {
            rows.push((vec![1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 1, i], "4", format!("Te0/0/{i}")));
            rows.push((vec![1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 15, i], "66", "10000".into()));
            rows.push((
                vec![1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 18, i],
                "4",
                format!("customer {i} - AS{}", 64_500 + i),
            ));
        }
    }
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    rows.iter()
        .map(|(oid, tag, v)| {
            let o: Vec<String> = oid.iter().map(u32::to_string).collect();
            format!("{}|{tag}|{v}\n", o.join("."))
        })
        .collect()
}

struct Sims(Vec<Child>);

impl Drop for Sims {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn free_udp() -> Result<u16> {
    Ok(std::net::UdpSocket::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn start_sims(args: &Args, data: &Path, cache: &Path) -> Result<(Sims, Vec<u16>)> {
    let mut children = Vec::new();
    let mut ports = Vec::new();
    for i in 0..args.sims.max(1) {
        let port = free_udp()?;
        let log = std::fs::File::create(data.parent().unwrap_or(data).join(format!("sim{i}.log")))?;
        let mut cmd = Command::new("setpriv");
        cmd.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "/usr/bin/python3", "-c"])
            .arg("import sys; from snmpsim.commands.responder import main; sys.exit(main())")
            .arg(format!("--data-dir={}", data.display()))
            .arg(format!("--cache-dir={}", cache.join(format!("c{i}")).display()))
            .arg(format!("--agent-udpv4-endpoint=127.0.0.1:{port}"))
            .env("PYTHONPATH", &args.snmpsim_lib)
            .stdout(Stdio::null())
            .stderr(log);
        children.push(cmd.spawn().context("setpriv + /usr/bin/python3 (snmpsim)")?);
        ports.push(port);
    }
    Ok((Sims(children), ports))
}

fn make_agents(args: &Args, data: &Path, ports: &[u16]) -> Result<Vec<Agent>> {
    let router = recording("router", args.router_ifs, true);
    let switch = recording("switch", 48, false);
    let mut agents = Vec::new();
    for i in 0..args.routers + args.switches {
        let is_router = i < args.routers;
        let community = if is_router { format!("router-{i:04}") } else { format!("switch-{i:04}") };
        std::fs::write(data.join(format!("{community}.snmprec")), if is_router { &router } else { &switch })?;
        let port = ports.get(i % ports.len()).copied().context("no responder")?;
        agents.push(Agent {
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            community,
            interfaces: if is_router { args.router_ifs as usize } else { 48 },
        });
    }
    Ok(agents)
}

fn cpu_seconds() -> f64 {
    use nix::sys::resource::{getrusage, UsageWho};
    getrusage(UsageWho::RUSAGE_SELF)
        .map(|u| {
            let t = |tv: nix::sys::time::TimeVal| tv.tv_sec() as f64 + tv.tv_usec() as f64 / 1e6;
            t(u.user_time()) + t(u.system_time())
        })
        .unwrap_or(0.0)
}

/// FlowVision's poller: (wall s, CPU s, agents ok, interfaces learned).
fn run_flowvision(agents: &[Agent], concurrency: usize) -> Result<(f64, f64, usize, usize)> {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let opts = PollOptions { timeout: Duration::from_secs(5), retries: 1, ..PollOptions::default() };
    let limit = Arc::new(tokio::sync::Semaphore::new(concurrency.max(1)));
    let cpu0 = cpu_seconds();
    let t0 = Instant::now();
    let results = rt.block_on(async {
        let mut tasks = Vec::new();
        for a in agents {
            let (a, opts, limit) = (a.clone(), opts.clone(), Arc::clone(&limit));
            tasks.push(tokio::spawn(async move {
                let _permit = limit.acquire_owned().await.ok();
                poll(a.addr, &Credentials::V2c { community: a.community.clone() }, &opts).await
            }));
        }
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await);
        }
        out
    });
    let wall = t0.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;
    let mut ok = 0;
    let mut ifs = 0;
    for (r, a) in results.into_iter().zip(agents) {
        match r {
            Ok(Ok(d)) => {
                if d.interfaces.len() != a.interfaces {
                    bail!("{}: {} interfaces, expected {}", a.community, d.interfaces.len(), a.interfaces);
                }
                ok += 1;
                ifs += d.interfaces.len();
            }
            Ok(Err(e)) => eprintln!("{}: {e}", a.community),
            Err(e) => eprintln!("{}: task: {e}", a.community),
        }
    }
    Ok((wall, cpu, ok, ifs))
}

/// net-snmp polling the same: `snmpget` of the system group and one `snmpbulkwalk`
/// per column, `concurrency` agents at once. (wall s, agents whose every command
/// succeeded, interface rows seen in ifDescr walks)
fn run_netsnmp(agents: &[Agent], concurrency: usize) -> Result<(f64, usize, usize)> {
    let columns = [
        ".1.3.6.1.2.1.2.2.1.2",
        ".1.3.6.1.2.1.2.2.1.5",
        ".1.3.6.1.2.1.2.2.1.8",
        ".1.3.6.1.2.1.31.1.1.1.1",
        ".1.3.6.1.2.1.31.1.1.1.15",
        ".1.3.6.1.2.1.31.1.1.1.18",
    ];
    let next = std::sync::atomic::AtomicUsize::new(0);
    let ok = std::sync::atomic::AtomicUsize::new(0);
    let rows = std::sync::atomic::AtomicUsize::new(0);
    let t0 = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..concurrency.max(1) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(a) = agents.get(i) else { break };
                let base = |cmd: &str| {
                    let mut c = Command::new(cmd);
                    c.args([
                        "-m",
                        "",
                        "-M",
                        "/nonexistent",
                        "-v2c",
                        "-c",
                        &a.community,
                        "-t",
                        "5",
                        "-r",
                        "1",
                        "-On",
                        "-Oq",
                    ])
                    .env("MIBS", "");
                    c
                };
                let mut good = base("snmpget")
                    .arg(a.addr.to_string())
                    .args([
                        ".1.3.6.1.2.1.1.1.0",
                        ".1.3.6.1.2.1.1.2.0",
                        ".1.3.6.1.2.1.1.3.0",
                        ".1.3.6.1.2.1.1.5.0",
                    ])
                    .output()
                    .is_ok_and(|o| o.status.success());
                for (k, col) in columns.iter().enumerate() {
                    match base("snmpbulkwalk").arg("-Cr40").arg(a.addr.to_string()).arg(col).output() {
                        Ok(o) if o.status.success() => {
                            if k == 0 {
                                rows.fetch_add(
                                    o.stdout.split(|b| *b == b'\n').filter(|l| !l.is_empty()).count(),
                                    std::sync::atomic::Ordering::Relaxed,
                                );
                            }
                        }
                        _ => good = false,
                    }
                }
                if good {
                    ok.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            });
        }
    });
    Ok((t0.elapsed().as_secs_f64(), ok.into_inner(), rows.into_inner()))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

fn main() -> Result<()> {
    let args = Args::parse();
    if !args.snmpsim_lib.join("snmpsim").is_dir() {
        bail!(
            "snmpsim not found in {0}: python3 -m pip install --target {0} snmpsim pysmi && chmod -R a+rX {0}",
            args.snmpsim_lib.display()
        );
    }
    let dir = tempfile::Builder::new().prefix("fv-snmpsim").tempdir()?;
    let data = dir.path().join("data");
    let cache = dir.path().join("cache");
    std::fs::create_dir_all(&data)?;
    std::fs::create_dir_all(&cache)?;
    // The responders run as nobody: they read the recordings and write their indexes.
    let world = |p: &Path, mode: u32| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode))
    };
    world(dir.path(), 0o777)?;
    world(&data, 0o755)?;
    world(&cache, 0o777)?;
    let (_sims, ports) = start_sims(&args, &data, &cache)?;
    let agents = make_agents(&args, &data, &ports)?;
    for f in std::fs::read_dir(&data)? {
        world(&f?.path(), 0o644)?;
    }
    // Warm-up: every responder indexes every recording on first use; not measured.
    let t = Instant::now();
    let warm = run_flowvision(&agents, args.concurrency)?;
    println!(
        "warm-up (snmpsim indexing {} recordings): {:.1} s, {} agents ok",
        agents.len(),
        t.elapsed().as_secs_f64(),
        warm.2
    );
    let total_ifs: usize = agents.iter().map(|a| a.interfaces).sum();
    println!(
        "agents: {} ({} routers x {} interfaces, {} switches x 48 without ifXTable), {} interfaces, {} snmpsim processes, concurrency {}",
        agents.len(), args.routers, args.router_ifs, args.switches, total_ifs, ports.len(), args.concurrency
    );
    let (mut fv_wall, mut fv_cpu, mut ns_wall) = (Vec::new(), Vec::new(), Vec::new());
    for r in 0..args.repeats.max(1) {
        let (wall, cpu, ok, ifs) = run_flowvision(&agents, args.concurrency)?;
        println!(
            "repeat {r}: FlowVision {wall:.2} s wall, {cpu:.2} s CPU, {ok}/{} agents, {ifs} interfaces",
            agents.len()
        );
        fv_wall.push(wall);
        fv_cpu.push(cpu);
        let (wall, ok, rows) = run_netsnmp(&agents, args.concurrency)?;
        println!(
            "repeat {r}: net-snmp   {wall:.2} s wall, {ok}/{} agents, {rows} ifDescr rows",
            agents.len()
        );
        ns_wall.push(wall);
    }
    let (fw, fc, nw) = (median(fv_wall), median(fv_cpu), median(ns_wall));
    println!(
        "median: FlowVision {fw:.2} s ({fc:.2} s CPU, {:.1} µs CPU per interface), net-snmp {nw:.2} s; net-snmp / FlowVision = {:.2}x",
        fc * 1e6 / total_ifs.max(1) as f64,
        nw / fw
    );
    Ok(())
}
