//! This machine, for tests that start the appliance's own binaries: free loopback
//! ports and where `cargo test` put the workspace's binaries.

use std::net::{TcpListener, UdpSocket};
use std::path::{Path, PathBuf};

/// A TCP port free on 127.0.0.1 at the time of asking (0 when none could be bound).
pub fn free_tcp() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map_or(0, |a| a.port())
}

/// A UDP port free on 127.0.0.1 at the time of asking (0 when none could be bound).
pub fn free_udp() -> u16 {
    UdpSocket::bind("127.0.0.1:0").and_then(|s| s.local_addr()).map_or(0, |a| a.port())
}

/// target/<profile>/ of the running test binary (it lives in target/<profile>/deps),
/// with the collector, console and simulator binaries in it; `Err` names the one
/// missing.
pub fn bin_dir() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let dir = exe.parent().and_then(Path::parent).ok_or("test binary outside target/")?.to_path_buf();
    for b in ["flowvision-collector", "flowvision-web", "flowvision-sim"] {
        if !dir.join(b).exists() {
            return Err(format!(
                "{} missing: run the whole suite (cargo test --workspace) or cargo build -p flowvision-collector -p flowvision-web -p flowvision-sim",
                dir.join(b).display()
            ));
        }
    }
    Ok(dir)
}
