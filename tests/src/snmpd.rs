//! A real SNMP agent for the SNMP tests: Debian's `snmpd` (package `snmpd`, installed
//! by deploy/test.sh) on a loopback port, with a v2c community, a community whose view
//! hides ifXTable (a device without it), a write community (to set ifAlias) and two v3
//! users. Runs in the foreground of a temporary folder, no MIB files loaded.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The v2c read community.
pub const COMMUNITY: &str = "fv-read-7c1";
/// A v2c read community whose view excludes ifXTable (1.3.6.1.2.1.31).
pub const COMMUNITY_NO_IFX: &str = "fv-noifx-52e";
/// A v2c write community (the test sets ifAlias with it).
pub const COMMUNITY_WRITE: &str = "fv-write-a09";
/// sysName the agent reports.
pub const SYS_NAME: &str = "edge1.test.flowvision";
/// v3 user with SHA-256 and AES-128: (user, auth password, priv password).
pub const USER_SHA256_AES128: (&str, &str, &str) = ("fv-sha256", "auth-pass-256x", "priv-pass-128x");
/// v3 user with SHA-512 and AES-256 (Blumenthal): (user, auth password, priv password).
pub const USER_SHA512_AES256: (&str, &str, &str) = ("fv-sha512", "auth-pass-512x", "priv-pass-256x");

/// A running snmpd.
pub struct Snmpd {
    dir: tempfile::TempDir,
    port: u16,
    child: Child,
}

impl Snmpd {
    /// Starts snmpd on a free loopback port and waits until it answers.
    pub fn start() -> io::Result<Snmpd> {
        let dir = tempfile::tempdir()?;
        let port = crate::local::free_udp();
        let (u1, a1, p1) = USER_SHA256_AES128;
        let (u2, a2, p2) = USER_SHA512_AES256;
        let conf = format!(
            "agentAddress udp:127.0.0.1:{port}\n\
             rocommunity {COMMUNITY} 127.0.0.1\n\
             rwcommunity {COMMUNITY_WRITE} 127.0.0.1\n\
             view noifx included .1\n\
             view noifx excluded .1.3.6.1.2.1.31\n\
             rocommunity {COMMUNITY_NO_IFX} 127.0.0.1 -V noifx\n\
             createUser {u1} SHA-256 \"{a1}\" AES \"{p1}\"\n\
             createUser {u2} SHA-512 \"{a2}\" AES-256 \"{p2}\"\n\
             rouser {u1} priv\n\
             rouser {u2} priv\n\
             sysName {SYS_NAME}\n\
             sysLocation FlowVision test rack\n\
             sysContact noc@example.net\n"
        );
        let conf_path = dir.path().join("snmpd.conf");
        std::fs::write(&conf_path, conf)?;
        let child = Command::new(snmpd_path()?)
            .arg("-f")
            .arg("-C")
            .arg("-c")
            .arg(&conf_path)
            .arg("-Lf")
            .arg(dir.path().join("snmpd.log"))
            .arg(format!("--persistentDir={}", dir.path().join("persist").display()))
            .args(["-M", "/nonexistent", "-m", ""])
            .env("MIBS", "")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let mut agent = Snmpd { dir, port, child };
        agent.wait_ready()?;
        Ok(agent)
    }

    /// The agent's address.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// Its UDP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// What snmpd logged.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("snmpd.log")).unwrap_or_default()
    }

    /// Sets `ifAlias.<if_index>` with `snmpset` and the write community.
    pub fn set_alias(&self, if_index: u32, alias: &str) -> io::Result<()> {
        let out = self.tool(
            "snmpset",
            COMMUNITY_WRITE,
            &[&format!(".1.3.6.1.2.1.31.1.1.1.18.{if_index}"), "s", alias],
        )?;
        if out.contains("STRING") {
            Ok(())
        } else {
            Err(io::Error::other(format!("snmpset ifAlias: {out}")))
        }
    }

    /// `snmpwalk -On -Oq` of `oid` with `community`: (dotted OID, value) pairs, values
    /// as net-snmp prints them (strings unquoted).
    pub fn walk(&self, community: &str, oid: &str) -> io::Result<Vec<(String, String)>> {
        let out = self.tool("snmpwalk", community, &["-On", "-Oq", "-Oe", oid])?;
        Ok(out
            .lines()
            .filter_map(|l| {
                let (o, v) = l.split_once(' ')?;
                Some((o.trim_start_matches('.').to_string(), v.trim().trim_matches('"').to_string()))
            })
            .filter(|(o, _)| o.starts_with(oid.trim_start_matches('.')))
            .collect())
    }

    fn tool(&self, tool: &str, community: &str, args: &[&str]) -> io::Result<String> {
        let out = Command::new(tool)
            .args(["-m", "", "-M", "/nonexistent", "-v2c", "-c", community, "-t", "2", "-r", "1"])
            .arg(self.addr().to_string())
            .args(args)
            .env("MIBS", "")
            .output()?;
        Ok(format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
    }

    fn wait_ready(&mut self) -> io::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Err(io::Error::other(format!("snmpd exited ({status}): {}", self.log())));
            }
            if self.answers() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(io::Error::other(format!("snmpd did not answer in 15 s: {}", self.log())));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// One v2c GET of sysUpTime.0, by hand: is the agent answering yet?
    fn answers(&self) -> bool {
        // SEQUENCE { version 1 (v2c), community, GetRequest { id, 0, 0, { { sysUpTime.0, NULL } } } }
        let oid = [0x06u8, 0x08, 0x2b, 0x06, 0x01, 0x02, 0x01, 0x01, 0x03, 0x00];
        let mut vb = vec![0x30, (oid.len() + 2) as u8];
        vb.extend_from_slice(&oid);
        vb.extend_from_slice(&[0x05, 0x00]);
        let mut vbl = vec![0x30, vb.len() as u8];
        vbl.extend(vb);
        let mut pdu_body = vec![0x02, 0x01, 0x01, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00];
        pdu_body.extend(vbl);
        let mut pdu = vec![0xa0, pdu_body.len() as u8];
        pdu.extend(pdu_body);
        let mut msg_body = vec![0x02, 0x01, 0x01, 0x04, COMMUNITY.len() as u8];
        msg_body.extend_from_slice(COMMUNITY.as_bytes());
        msg_body.extend(pdu);
        let mut msg = vec![0x30, msg_body.len() as u8];
        msg.extend(msg_body);
        let Ok(sock) = UdpSocket::bind("127.0.0.1:0") else { return false };
        let _ = sock.set_read_timeout(Some(Duration::from_millis(300)));
        if sock.send_to(&msg, self.addr()).is_err() {
            return false;
        }
        let mut buf = [0u8; 1500];
        matches!(sock.recv_from(&mut buf), Ok((n, _)) if n > 0)
    }
}

impl Drop for Snmpd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// snmpd's path: `/usr/sbin/snmpd` or the PATH.
pub fn snmpd_path() -> io::Result<PathBuf> {
    let candidates = [PathBuf::from("/usr/sbin/snmpd")];
    let from_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).map(|d| d.join("snmpd")).collect::<Vec<_>>());
    candidates.into_iter().chain(from_path).find(|p| p.is_file()).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::NotFound,
            "snmpd not found: apt-get install snmpd (deploy/test.sh does it)",
        )
    })
}
