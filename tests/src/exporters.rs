//! Real flow exporters run over a capture file ([`crate::traffic`]): softflowd
//! (NetFlow v5, v9, IPFIX) and pmacctd's nfprobe (NetFlow v5, v9, IPFIX) and sfprobe
//! (sFlow v5, sampling rate 1) plugins, sending to a UDP address of the test. Debian
//! packages `softflowd` and `pmacct`; no root is needed (they read the file and send to
//! 127.0.0.1). Both take the flows' times from the capture's timestamps.

use std::fs::File;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// Where `name` is: on PATH, or in the sbin directories a non-root PATH often lacks
/// (Debian installs softflowd and pmacctd in /usr/sbin).
pub fn tool(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/local/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// Whether `name` is installed ([`tool`]).
pub fn have(name: &str) -> bool {
    tool(name).is_some()
}

/// Waits for `child` to exit, killing it after `limit`. Returns whether it exited alone.
pub fn wait_or_kill(child: &mut Child, limit: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if matches!(child.try_wait(), Ok(Some(_)) | Err(_)) {
            return true;
        }
        thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    false
}

/// A flow exporter and the export protocol it is run with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exporter {
    /// softflowd with `-v <version>` (5, 9 or 10 = IPFIX).
    Softflowd(u8),
    /// pmacctd's nfprobe plugin with `nfprobe_version: <version>` (5, 9 or 10).
    Nfprobe(u8),
    /// pmacctd's sfprobe plugin (sFlow v5), every packet sampled.
    Sfprobe,
}

impl Exporter {
    /// Every exporter and version.
    pub const ALL: [Exporter; 7] = [
        Exporter::Softflowd(5),
        Exporter::Softflowd(9),
        Exporter::Softflowd(10),
        Exporter::Nfprobe(5),
        Exporter::Nfprobe(9),
        Exporter::Nfprobe(10),
        Exporter::Sfprobe,
    ];

    /// How a report names it.
    pub fn name(self) -> String {
        match self {
            Exporter::Softflowd(v) => format!("softflowd -v {v}"),
            Exporter::Nfprobe(v) => format!("pmacctd nfprobe v{v}"),
            Exporter::Sfprobe => "pmacctd sfprobe (sFlow v5)".to_owned(),
        }
    }

    /// The first tool it needs that is not installed.
    pub fn missing_tool(self) -> Option<&'static str> {
        let tools: &[&'static str] = match self {
            Exporter::Softflowd(_) => &["softflowd", "softflowctl"],
            _ => &["pmacctd"],
        };
        tools.iter().copied().find(|t| !have(t))
    }

    /// Whether the export carries IPv6 flows.
    pub fn carries_ipv6(self) -> bool {
        !matches!(self, Exporter::Softflowd(5) | Exporter::Nfprobe(5))
    }

    /// Runs the exporter over `traffic` (a file directly in `work`, name shorter than
    /// 16 characters: softflowd's limit), sending to `to`; returns when everything is
    /// exported and the exporter has exited.
    pub fn run(self, work: &Path, traffic: &Path, to: SocketAddr) -> Result<(), String> {
        match self {
            Exporter::Softflowd(v) => softflowd(work, traffic, to, v),
            Exporter::Nfprobe(v) => pmacctd(
                work,
                traffic,
                &format!("plugins: nfprobe\nnfprobe_receiver: {to}\nnfprobe_version: {v}\n"),
            ),
            Exporter::Sfprobe => pmacctd(
                work,
                traffic,
                &format!("plugins: sfprobe\nsfprobe_receiver: {to}\nsfprobe_agentip: 127.0.0.1\nsampling_rate: 1\n"),
            ),
        }
    }
}

/// softflowd 1.1.0 reading a capture file blocks in accept() on its control socket
/// before each pass of its main loop, so it is driven with softflowctl: `statistics`
/// until every packet is processed, then `shutdown`, which exports every flow and exits
/// (the man page: flows read with -r are only expired when max_flows is exceeded).
/// It also cuts the -r path to 16 characters (an interface-name buffer), hence the
/// relative names in the work directory.
fn softflowd(work: &Path, traffic: &Path, to: SocketAddr, version: u8) -> Result<(), String> {
    let file = traffic.file_name().and_then(|f| f.to_str()).unwrap_or_default().to_owned();
    if traffic.parent() != Some(work) || file.is_empty() || file.len() >= 16 {
        return Err(format!("softflowd needs a capture directly in {} with a short name", work.display()));
    }
    let softflowd = tool("softflowd").ok_or("softflowd is not installed")?;
    let softflowctl = tool("softflowctl").ok_or("softflowctl is not installed")?;
    let ctl_name = format!("sf{version}.ctl");
    let ctl = work.join(&ctl_name);
    let mut args = vec![
        "-r".to_owned(),
        file,
        "-n".to_owned(),
        to.to_string(),
        "-v".to_owned(),
        version.to_string(),
        "-d".to_owned(),
        "-p".to_owned(),
        format!("sf{version}.pid"),
        "-c".to_owned(),
        ctl_name.clone(),
    ];
    if version != 5 {
        args.push("-6".to_owned());
    }
    let log = File::create(work.join(format!("sf{version}.log"))).map_err(|e| e.to_string())?;
    let mut child = Command::new(softflowd)
        .current_dir(work)
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .map_err(|e| format!("softflowd: {e}"))?;
    let control = |cmd: &str| -> String {
        Command::new(&softflowctl)
            .current_dir(work)
            .args(["-c", &ctl_name, cmd])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr))
            .unwrap_or_default()
    };
    // Depending on how poll() finds the control socket, softflowd either reads the whole
    // file and exits by itself ("Shutting down after pcap EOF", exporting every flow) or
    // waits in accept(); then `statistics` lets it read on, and `shutdown` ends it.
    let start = Instant::now();
    let mut last = String::new();
    loop {
        if child.try_wait().map_err(|e| e.to_string())?.is_some() {
            return Ok(());
        }
        if start.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("softflowd did not finish reading the capture (last statistics: {last:?})"));
        }
        if ctl.exists() {
            let stats = control("statistics");
            let processed =
                stats.lines().find(|l| l.starts_with("Packets processed")).unwrap_or("").to_owned();
            if !processed.is_empty() && processed == last {
                break;
            }
            last = processed;
        }
        thread::sleep(Duration::from_millis(300));
    }
    control("shutdown");
    if !wait_or_kill(&mut child, Duration::from_secs(10)) {
        return Err("softflowd did not exit after shutdown".to_owned());
    }
    Ok(())
}

/// pmacctd reads the capture (pcap_savefile), flushes its plugin and exits.
fn pmacctd(work: &Path, traffic: &Path, plugin: &str) -> Result<(), String> {
    let pmacctd = tool("pmacctd").ok_or("pmacctd is not installed")?;
    let conf = work.join("pmacctd.conf");
    std::fs::write(&conf, format!("daemonize: false\npcap_savefile: {}\n{plugin}", traffic.display()))
        .map_err(|e| e.to_string())?;
    let mut child = Command::new(pmacctd)
        .arg("-f")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("pmacctd: {e}"))?;
    if !wait_or_kill(&mut child, Duration::from_secs(30)) {
        return Err("pmacctd did not exit after reading the capture".to_owned());
    }
    Ok(())
}
