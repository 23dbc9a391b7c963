//! Configuration from the environment (README.md "Configuration"). Every value is
//! checked at start-up; a bad one stops the collector with one line naming it.

use std::net::SocketAddr;
use std::path::PathBuf;
use thiserror::Error;

/// A configuration value that cannot be used.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("{name}={value:?}: {why}")]
pub struct ConfigError {
    /// The variable.
    pub name: &'static str,
    /// What it was set to.
    pub value: String,
    /// Why it is refused.
    pub why: String,
}

/// How datagrams enter the collector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IngestMode {
    /// XDP when it can be set up, else UDP sockets.
    Auto,
    /// XDP/AF_XDP only.
    Xdp,
    /// Kernel UDP sockets only.
    Udp,
}

/// Where the XDP program runs (`XDP_MODE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XdpAttachMode {
    /// Native (driver) when the driver has it, else generic: the kernel decides.
    Auto,
    /// In the driver, before an skb exists.
    Native,
    /// In the kernel stack after the skb is built (works on any interface, slower).
    Generic,
}

/// How AF_XDP sockets get frames (`XDP_COPY`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XdpCopyMode {
    /// Zero-copy when the driver supports it, else copy.
    Auto,
    /// The kernel copies each frame into the UMEM.
    Copy,
    /// The NIC DMAs into the UMEM (driver support needed).
    ZeroCopy,
}

/// AF_XDP settings (`XDP_*`); used when `INGEST_MODE` is auto or xdp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XdpConfig {
    /// Interface the program is attached to (`XDP_INTERFACE`).
    pub interface: Option<String>,
    /// RX queues to open sockets on, from 0 (`XDP_QUEUES`); 0 = all of the interface's.
    pub queues: u32,
    /// `XDP_MODE`.
    pub attach: XdpAttachMode,
    /// `XDP_COPY`.
    pub copy: XdpCopyMode,
    /// UMEM frames per queue (`XDP_UMEM_FRAMES`).
    pub umem_frames: u32,
    /// Bytes per UMEM frame, 2048 or 4096 (`XDP_FRAME_SIZE`).
    pub frame_size: u32,
    /// Entries in the RX and fill rings (`XDP_RING_SIZE`).
    pub ring_size: u32,
}

/// Everything the collector daemon is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectorConfig {
    /// PostgreSQL connection string.
    pub database_url: String,
    /// Days of raw flows kept.
    pub retention_days: u32,
    /// UDP ports listened on (any protocol on any port).
    pub ports: Vec<u16>,
    /// Where `/metrics` is served.
    pub metrics_listen: SocketAddr,
    /// auto | xdp | udp.
    pub ingest_mode: IngestMode,
    /// Interface for XDP (also in `xdp.interface`).
    pub xdp_interface: Option<String>,
    /// AF_XDP settings.
    pub xdp: XdpConfig,
    /// Worker threads (one SO_REUSEPORT socket per port each). Default: cores.
    pub workers: usize,
    /// SO_RCVBUF requested per socket, bytes.
    pub socket_rcvbuf: usize,
    /// Rows per batch handed to the writers. Large batches matter: each batch upserts
    /// its rollup rows once, so bigger batches mean far fewer rollup updates per flow
    /// (docs/benchmarks.md: about 5x the sustained rate of 8192-row batches).
    pub batch_rows: usize,
    /// Longest a partly filled batch waits before it is sent, ms: the floor of the
    /// receive-to-commit latency at low rates.
    pub batch_max_age_ms: u64,
    /// Database writer connections (threads), each storing whole batches in its own
    /// transactions; rollup upserts are ordered by key, so writers cannot deadlock.
    /// Two by default: one backend alone waits on every commit's WAL flush while the
    /// database's other core idles (docs/benchmarks.md, "Ingest").
    pub db_writers: usize,
    /// Host feature rows per batch for the insights: the top hosts by each signal
    /// in each (10 s bucket, exporter); 0 turns them off (docs/insights.md).
    pub feature_hosts: usize,
    /// The operator's own address space (`INTERNAL_NETWORKS`, comma-separated
    /// prefixes) [RFC 1918, RFC 6598, RFC 4193 and link-local ranges]: traffic from a
    /// host inside to one outside leaves the network (the `exfiltration` rule).
    pub internal_networks: flowvision_insights::features::InternalNetworks,
    /// Pairs (internal host, outside service) the beaconing tracker follows per
    /// generation (`BEACON_PAIRS`) [250,000]; 0 turns it off.
    pub beacon_pairs: usize,
    /// Directory for the on-disk spool and the template snapshot.
    pub state_dir: PathBuf,
    /// Spool bound, bytes.
    pub spool_max_bytes: u64,
    /// Per-prefix sampling-rate defaults/overrides (`SAMPLING_RATES`).
    pub sampling: Vec<crate::pipeline::sampling::SamplingRule>,
    /// The flow archive (`USE_EXTERNAL_STORAGE=true` and `MINIO_*`; docs/archive.md).
    pub archive: Option<flowvision_archive::ArchiveConfig>,
}

/// Reads one variable through `get` (the environment in production, a map in tests).
struct Env<'a> {
    get: &'a dyn Fn(&str) -> Option<String>,
}

impl Env<'_> {
    fn raw(&self, name: &str) -> Option<String> {
        (self.get)(name).filter(|v| !v.trim().is_empty())
    }

    fn parse<T: std::str::FromStr>(
        &self,
        name: &'static str,
        default: T,
        check: impl Fn(&T) -> Result<(), String>,
    ) -> Result<T, ConfigError>
    where
        T::Err: std::fmt::Display,
    {
        let Some(value) = self.raw(name) else { return Ok(default) };
        let parsed = value.trim().parse::<T>().map_err(|e| ConfigError {
            name,
            value: value.clone(),
            why: e.to_string(),
        })?;
        check(&parsed).map_err(|why| ConfigError { name, value, why })?;
        Ok(parsed)
    }
}

fn port(p: &u16) -> Result<(), String> {
    if *p == 0 {
        Err("port 0 is not a port".into())
    } else {
        Ok(())
    }
}

impl CollectorConfig {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(&|name| std::env::var(name).ok())
    }

    /// Reads variables through `get`.
    pub fn from_lookup(get: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env { get };
        let database_url = env.raw("DATABASE_URL").ok_or_else(|| ConfigError {
            name: "DATABASE_URL",
            value: String::new(),
            why: "not set (deploy/run.sh starts an embedded PostgreSQL and sets it)".into(),
        })?;
        let retention_days = env.parse("FLOW_RETENTION_DAYS", 7u32, |d| {
            if (1..=3650).contains(d) {
                Ok(())
            } else {
                Err("must be between 1 and 3650 days".into())
            }
        })?;
        let netflow = env.parse("NETFLOW_PORT", 2055u16, port)?;
        let sflow = env.parse("SFLOW_PORT", 6343u16, port)?;
        let ipfix = env.parse("IPFIX_PORT", 4739u16, port)?;
        let mut ports = vec![netflow, sflow, ipfix];
        ports.sort_unstable();
        ports.dedup();
        let metrics_listen =
            env.parse("METRICS_LISTEN", SocketAddr::from(([127, 0, 0, 1], 9105)), |_| Ok(()))?;
        let ingest_mode = match env.raw("INGEST_MODE").as_deref().map(str::trim) {
            None | Some("auto") => IngestMode::Auto,
            Some("xdp") => IngestMode::Xdp,
            Some("udp") => IngestMode::Udp,
            Some(other) => {
                return Err(ConfigError {
                    name: "INGEST_MODE",
                    value: other.into(),
                    why: "must be auto, xdp or udp".into(),
                })
            }
        };
        let xdp = xdp_config(&env)?;
        if ingest_mode == IngestMode::Xdp && xdp.interface.is_none() {
            return Err(ConfigError {
                name: "XDP_INTERFACE",
                value: String::new(),
                why: "must be set when INGEST_MODE=xdp".into(),
            });
        }
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        let workers = env.parse("COLLECTOR_WORKERS", cores, one_to(256))?;
        let socket_rcvbuf = env.parse("SOCKET_RCVBUF", 32usize << 20, |b| {
            if *b >= 65_536 {
                Ok(())
            } else {
                Err("must be at least 65536 bytes".into())
            }
        })?;
        let batch_rows = env.parse("BATCH_ROWS", 65_536usize, one_to(1_000_000))?;
        let batch_max_age_ms = env.parse("BATCH_MAX_AGE_MS", 1000u64, |a| {
            if (1..=60_000).contains(a) {
                Ok(())
            } else {
                Err("must be 1 to 60000 ms".into())
            }
        })?;
        let db_writers = env.parse("DB_WRITERS", 2usize, one_to(16))?;
        let feature_hosts = env.parse("FEATURE_HOSTS", 16usize, |n| {
            if *n <= 1_000 {
                Ok(())
            } else {
                Err("must be 0 (off) to 1000".into())
            }
        })?;
        let internal_networks = match env.raw("INTERNAL_NETWORKS") {
            None => flowvision_insights::features::InternalNetworks::default(),
            Some(v) => flowvision_insights::features::InternalNetworks::parse(&v)
                .map_err(|why| ConfigError { name: "INTERNAL_NETWORKS", value: v.clone(), why })?,
        };
        let beacon_pairs = env.parse("BEACON_PAIRS", 250_000usize, |n| {
            if *n <= 10_000_000 {
                Ok(())
            } else {
                Err("must be 0 (off) to 10000000".into())
            }
        })?;
        let state_dir = PathBuf::from(env.raw("STATE_DIR").unwrap_or_else(|| ".flowvision/state".into()));
        let spool_max_bytes = env.parse("SPOOL_MAX_BYTES", 4u64 << 30, |_| Ok(()))?;
        let sampling = match env.raw("SAMPLING_RATES") {
            None => Vec::new(),
            Some(v) => crate::pipeline::sampling::parse_rules(&v).map_err(|why| ConfigError {
                name: "SAMPLING_RATES",
                value: v.clone(),
                why,
            })?,
        };
        Ok(CollectorConfig {
            database_url,
            retention_days,
            ports,
            metrics_listen,
            ingest_mode,
            xdp_interface: xdp.interface.clone(),
            xdp,
            workers,
            socket_rcvbuf,
            batch_rows,
            batch_max_age_ms,
            db_writers,
            feature_hosts,
            internal_networks,
            beacon_pairs,
            state_dir,
            spool_max_bytes,
            sampling,
            archive: flowvision_archive::ArchiveConfig::from_lookup(get).map_err(|e| ConfigError {
                name: e.name,
                value: e.value,
                why: e.why,
            })?,
        })
    }
}

/// A count from 1 to `hi`.
fn one_to(hi: usize) -> impl Fn(&usize) -> Result<(), String> {
    move |v| if (1..=hi).contains(v) { Ok(()) } else { Err(format!("must be 1 to {hi}")) }
}

fn power_of_two(lo: u32, hi: u32) -> impl Fn(&u32) -> Result<(), String> {
    move |v| {
        if v.is_power_of_two() && (lo..=hi).contains(v) {
            Ok(())
        } else {
            Err(format!("must be a power of two from {lo} to {hi}"))
        }
    }
}

fn xdp_config(env: &Env<'_>) -> Result<XdpConfig, ConfigError> {
    let word = |name: &'static str, allowed: &[&str]| -> Result<Option<String>, ConfigError> {
        match env.raw(name).map(|v| v.trim().to_ascii_lowercase()) {
            None => Ok(None),
            Some(v) if allowed.contains(&v.as_str()) => Ok(Some(v)),
            Some(v) => Err(ConfigError { name, value: v, why: format!("must be {}", allowed.join(", ")) }),
        }
    };
    let attach = match word("XDP_MODE", &["auto", "native", "generic"])?.as_deref() {
        Some("native") => XdpAttachMode::Native,
        Some("generic") => XdpAttachMode::Generic,
        _ => XdpAttachMode::Auto,
    };
    let copy = match word("XDP_COPY", &["auto", "copy", "zerocopy"])?.as_deref() {
        Some("copy") => XdpCopyMode::Copy,
        Some("zerocopy") => XdpCopyMode::ZeroCopy,
        _ => XdpCopyMode::Auto,
    };
    let queues = env.parse("XDP_QUEUES", 0u32, |q| {
        if *q <= 256 {
            Ok(())
        } else {
            Err("must be 0 (all RX queues) to 256".into())
        }
    })?;
    let frame_size = env.parse("XDP_FRAME_SIZE", 2048u32, |f| {
        if *f == 2048 || *f == 4096 {
            Ok(())
        } else {
            Err("must be 2048 or 4096".into())
        }
    })?;
    // 16384 x 2 kB = 32 MB per queue, like the UDP sockets' default SO_RCVBUF: the RX
    // ring must absorb a stalled worker as long as a socket buffer would.
    let umem_frames = env.parse("XDP_UMEM_FRAMES", 16_384u32, power_of_two(64, 1 << 20))?;
    let ring_size = env.parse("XDP_RING_SIZE", 8192u32, power_of_two(64, 1 << 16))?;
    if ring_size > umem_frames {
        return Err(ConfigError {
            name: "XDP_RING_SIZE",
            value: ring_size.to_string(),
            why: format!("must not exceed XDP_UMEM_FRAMES ({umem_frames})"),
        });
    }
    Ok(XdpConfig {
        interface: env.raw("XDP_INTERFACE").map(|v| v.trim().to_string()),
        queues,
        attach,
        copy,
        umem_frames,
        frame_size,
        ring_size,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use std::collections::HashMap;

    fn cfg(vars: &[(&str, &str)]) -> Result<CollectorConfig, ConfigError> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        CollectorConfig::from_lookup(&move |k| map.get(k).cloned())
    }

    #[test]
    fn defaults() {
        let c = cfg(&[("DATABASE_URL", "postgres://x")]).unwrap();
        assert_eq!(c.ports, vec![2055, 4739, 6343]);
        assert_eq!(c.retention_days, 7);
        assert_eq!(c.metrics_listen.to_string(), "127.0.0.1:9105");
        assert_eq!(c.ingest_mode, IngestMode::Auto);
        assert_eq!(c.db_writers, 2);
        assert_eq!(c.feature_hosts, 16);
        assert!(c.internal_networks.contains("10.1.2.3".parse().unwrap()));
        assert!(!c.internal_networks.contains("8.8.8.8".parse().unwrap()));
        assert_eq!(c.beacon_pairs, 250_000);
    }

    #[test]
    fn internal_networks() {
        let c =
            cfg(&[("DATABASE_URL", "postgres://x"), ("INTERNAL_NETWORKS", "198.51.100.0/24, 2001:db8::/32")])
                .unwrap();
        assert_eq!(c.internal_networks.prefixes().len(), 2);
        assert!(c.internal_networks.contains("198.51.100.7".parse().unwrap()));
        assert!(!c.internal_networks.contains("10.1.2.3".parse().unwrap()));
        for bad in ["198.51.100.1/24", ",", "nonsense"] {
            let e = cfg(&[("DATABASE_URL", "postgres://x"), ("INTERNAL_NETWORKS", bad)]).unwrap_err();
            assert_eq!(e.name, "INTERNAL_NETWORKS", "{bad}");
        }
    }

    #[test]
    fn database_writers() {
        assert_eq!(cfg(&[("DATABASE_URL", "x"), ("DB_WRITERS", "3")]).unwrap().db_writers, 3);
        for bad in ["0", "17", "two"] {
            assert_eq!(cfg(&[("DATABASE_URL", "x"), ("DB_WRITERS", bad)]).unwrap_err().name, "DB_WRITERS");
        }
    }

    #[test]
    fn bad_values_name_the_variable() {
        let e = cfg(&[("DATABASE_URL", "x"), ("NETFLOW_PORT", "70000")]).unwrap_err();
        assert_eq!(e.name, "NETFLOW_PORT");
        let e = cfg(&[("DATABASE_URL", "x"), ("FLOW_RETENTION_DAYS", "0")]).unwrap_err();
        assert!(e.to_string().starts_with("FLOW_RETENTION_DAYS=\"0\": "));
        let e = cfg(&[("DATABASE_URL", "x"), ("INGEST_MODE", "fast")]).unwrap_err();
        assert_eq!(e.name, "INGEST_MODE");
        assert_eq!(cfg(&[]).unwrap_err().name, "DATABASE_URL");
    }

    #[test]
    fn xdp_settings() {
        let c = cfg(&[("DATABASE_URL", "x")]).unwrap();
        assert_eq!(c.xdp.attach, XdpAttachMode::Auto);
        assert_eq!(
            (c.xdp.umem_frames, c.xdp.frame_size, c.xdp.ring_size, c.xdp.queues),
            (16_384, 2048, 8192, 0)
        );
        let c = cfg(&[
            ("DATABASE_URL", "x"),
            ("INGEST_MODE", "xdp"),
            ("XDP_INTERFACE", "veth0"),
            ("XDP_MODE", "generic"),
            ("XDP_COPY", "copy"),
            ("XDP_QUEUES", "2"),
        ])
        .unwrap();
        assert_eq!(c.xdp.interface.as_deref(), Some("veth0"));
        assert_eq!((c.xdp.attach, c.xdp.copy, c.xdp.queues), (XdpAttachMode::Generic, XdpCopyMode::Copy, 2));
        for (name, value) in [
            ("XDP_MODE", "offload"),
            ("XDP_COPY", "maybe"),
            ("XDP_FRAME_SIZE", "3000"),
            ("XDP_UMEM_FRAMES", "1000"),
            ("XDP_RING_SIZE", "32768"),
            ("XDP_QUEUES", "999"),
        ] {
            assert_eq!(cfg(&[("DATABASE_URL", "x"), (name, value)]).unwrap_err().name, name);
        }
        assert_eq!(cfg(&[("DATABASE_URL", "x"), ("INGEST_MODE", "xdp")]).unwrap_err().name, "XDP_INTERFACE");
    }
}
