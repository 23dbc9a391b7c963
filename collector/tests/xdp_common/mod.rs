//! A veth pair with one end in a fresh network namespace, for the XDP tests: the
//! collector attaches to the host end, senders run on threads that entered the
//! namespace. Everything is removed on drop, also when a test panics.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::net::{Ipv4Addr, Ipv6Addr};
use std::process::Command;

/// Why the XDP tests cannot run here, if they cannot.
pub fn skip_reason() -> Option<String> {
    if !nix::unistd::geteuid().is_root() {
        return Some(
            "not root: veth/netns creation and XDP attach need root (CAP_NET_ADMIN + CAP_BPF)".into(),
        );
    }
    if Command::new("ip").arg("-V").output().is_err() {
        return Some("iproute2 `ip` not installed".into());
    }
    None
}

fn run(cmd: &str, args: &[&str]) -> Result<(), String> {
    let out = Command::new(cmd).args(args).output().map_err(|e| format!("{cmd}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("{cmd} {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()))
    }
}

/// The namespace, the pair and their addresses.
pub struct Netns {
    /// Namespace name.
    pub ns: String,
    /// Host-side interface (the collector attaches here).
    pub host: String,
    /// Namespace-side interface.
    pub peer: String,
    /// Host-side address (the collector's target).
    pub host_ip: Ipv4Addr,
    /// Sender addresses start after this one (base + 1, + 2, ...).
    pub sender_base: Ipv4Addr,
    /// Host-side IPv6 address.
    pub host_ip6: Ipv6Addr,
    /// Namespace-side IPv6 address.
    pub peer_ip6: Ipv6Addr,
}

impl Netns {
    /// Creates `fvx<pid><tag>` with `senders` addresses on the namespace side. The
    /// namespace side has transmit checksum offload turned off when ethtool exists,
    /// so frames carry full UDP checksums that the AF_XDP worker verifies.
    pub fn create(tag: &str, senders: u32) -> Result<Netns, String> {
        let pid = std::process::id();
        let ns = format!("fvx{pid}{tag}");
        let n = Netns {
            host: format!("fvx{}{tag}h", pid % 100_000),
            peer: format!("fvx{}{tag}p", pid % 100_000),
            host_ip: Ipv4Addr::new(10, 200 + (pid % 50) as u8, 0, 1),
            sender_base: Ipv4Addr::new(10, 200 + (pid % 50) as u8, 1, 0),
            host_ip6: Ipv6Addr::new(0xfd00, 0xf7, (pid % 0xffff) as u16, 0, 0, 0, 0, 1),
            peer_ip6: Ipv6Addr::new(0xfd00, 0xf7, (pid % 0xffff) as u16, 0, 0, 0, 0, 2),
            ns,
        };
        run("ip", &["netns", "add", &n.ns])?;
        // From here on, Drop cleans up whatever was made.
        run("ip", &["link", "add", &n.host, "type", "veth", "peer", "name", &n.peer])?;
        run("ip", &["link", "set", &n.peer, "netns", &n.ns])?;
        run("ip", &["addr", "add", &format!("{}/16", n.host_ip), "dev", &n.host])?;
        // nodad: usable at once, no duplicate-address-detection wait.
        run("ip", &["-6", "addr", "add", &format!("{}/64", n.host_ip6), "dev", &n.host, "nodad"])?;
        run("ip", &["link", "set", &n.host, "up"])?;
        let mut batch = String::new();
        for i in 1..=senders {
            let a = Ipv4Addr::from(u32::from(n.sender_base) + i);
            batch.push_str(&format!("addr add {a}/16 dev {}\n", n.peer));
        }
        batch.push_str(&format!("addr add {}/64 dev {} nodad\n", n.peer_ip6, n.peer));
        batch.push_str(&format!("link set {} up\nlink set lo up\n", n.peer));
        let path = std::env::temp_dir().join(format!("{}.batch", n.ns));
        std::fs::write(&path, batch).map_err(|e| e.to_string())?;
        let r = run("ip", &["-n", &n.ns, "-batch", path.to_str().unwrap()]);
        let _ = std::fs::remove_file(&path);
        r?;
        match run("ip", &["netns", "exec", &n.ns, "ethtool", "-K", &n.peer, "tx", "off"]) {
            Ok(()) => {}
            Err(e) => println!("note: transmit checksum offload stays on ({e}); partial checksums expected"),
        }
        // Neighbour discovery before the first datagram, so none wait on ARP.
        let _ = run("ip", &["netns", "exec", &n.ns, "ping", "-c", "1", "-W", "2", &n.host_ip.to_string()]);
        Ok(n)
    }

    /// Runs `f` on a thread inside the namespace (sockets it makes live there).
    pub fn in_ns<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        let path = format!("/run/netns/{}", self.ns);
        std::thread::spawn(move || {
            let fd = std::fs::File::open(&path).unwrap();
            nix::sched::setns(&fd, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
            f()
        })
        .join()
        .unwrap()
    }

    /// Whether an XDP program is attached to the host end.
    pub fn xdp_attached(&self) -> bool {
        Command::new("ip")
            .args(["link", "show", &self.host])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).contains("prog/xdp"))
            .unwrap_or(false)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        // Deleting the namespace deletes the peer and with it the host end (and any
        // XDP program still attached to it).
        let _ = run("ip", &["link", "del", &self.host]);
        let _ = run("ip", &["netns", "del", &self.ns]);
    }
}
