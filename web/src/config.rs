//! Configuration from the environment. Every problem is reported as one line naming
//! the variable, and the binary exits with status 2 (see `main.rs`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A configuration problem: one line, naming the variable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// Argon2id cost parameters for new password hashes (verification reads the
/// parameters stored in each hash, so changing these never locks anyone out).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Argon2Cost {
    /// Memory in KiB [19456, OWASP's recommendation for argon2id].
    pub memory_kib: u32,
    /// Iterations [2].
    pub iterations: u32,
    /// Lanes [1].
    pub parallelism: u32,
}

impl Default for Argon2Cost {
    fn default() -> Self {
        Argon2Cost { memory_kib: 19 * 1024, iterations: 2, parallelism: 1 }
    }
}

/// TLS certificate chain and private key (PEM files).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// Certificate chain.
    pub cert: PathBuf,
    /// Private key.
    pub key: PathBuf,
}

/// Everything the web service needs to start.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// PostgreSQL connection string (`DATABASE_URL`).
    pub database_url: String,
    /// Listen address (`WEB_LISTEN` [0.0.0.0:8000]).
    pub listen: SocketAddr,
    /// HTTPS when set (`WEB_TLS_CERT` and `WEB_TLS_KEY`, both or neither).
    pub tls: Option<TlsFiles>,
    /// Cookies carry the Secure attribute: always with TLS, or behind a TLS-terminating
    /// proxy with `WEB_COOKIE_SECURE=true`.
    pub cookie_secure: bool,
    /// First admin's user name (`FLOWVISION_ADMIN_USER` [admin]).
    pub admin_user: String,
    /// First admin's password (`FLOWVISION_ADMIN_PASSWORD`); without it a one-time
    /// password is generated and printed once.
    pub admin_password: Option<String>,
    /// Where `chart.js/dist/chart.umd.js` is found (`WEB_ASSETS_DIR` [web/node_modules
    /// of the build checkout]).
    pub assets_dir: PathBuf,
    /// Where the insights' model files are (`WEB_MODELS_DIR` [web/insights/models/weights
    /// of the build checkout]): `host-classes.json`, the host behaviour classifier.
    pub models_dir: PathBuf,
    /// Folders of the base MIB modules, searched after the uploaded ones
    /// (`FLOWVISION_BASE_MIBS`, colon-separated) [Debian's net-snmp folders, then the
    /// IETF/IANA modules of the `net-snmp` npm package under the assets folder; see
    /// docs/mib.md]. Missing folders are skipped.
    pub mib_base_dirs: Vec<PathBuf>,
    /// Header holding the client address set by a trusted reverse proxy
    /// (`WEB_IP_HEADER`, e.g. X-Real-IP) [none: the peer address is used].
    pub ip_header: Option<String>,
    /// Time limit of one flow search (`WEB_SEARCH_TIMEOUT_MS` [10000]).
    pub search_timeout: Duration,
    /// Time limit of every other query (`WEB_QUERY_TIMEOUT_MS` [30000]).
    pub query_timeout: Duration,
    /// Rows a flow search may page through (`WEB_SEARCH_MAX_ROWS` [10000]).
    pub search_max_rows: u32,
    /// Rows of one CSV export (`WEB_EXPORT_MAX_ROWS` [100000]).
    pub export_max_rows: u32,
    /// Database connections of the pool (`WEB_DB_POOL` [16]).
    pub pool_size: usize,
    /// Argon2id cost of new hashes (`WEB_ARGON2_MEMORY_KIB`, `WEB_ARGON2_ITERATIONS`,
    /// `WEB_ARGON2_PARALLELISM`).
    pub argon2: Argon2Cost,
    /// Rocket's log level (`WEB_LOG` [normal]: off, critical, normal). There is no
    /// debug level: Rocket's debug logger enables every crate's debug output, and
    /// tokio-postgres then logs statement parameters (password hashes, token digests).
    pub log_level: String,
    /// Worker threads of the HTTP server (`WEB_WORKERS` [number of CPUs]).
    pub workers: Option<usize>,
    /// Peak flows per second all running simulations may add up to (`SIM_RATE_BUDGET`
    /// [50000]).
    pub sim_rate_budget: f64,
    /// Where simulations send by default: this appliance's collector
    /// (`SIM_DEFAULT_TARGET` [127.0.0.1:2055]); always allowed.
    pub sim_default_target: SocketAddr,
    /// The flow archive's bucket (`USE_EXTERNAL_STORAGE=true` and `MINIO_*`, as for the
    /// collector): the console restores from it. `None`: archive off here.
    pub archive: Option<flowvision_archive::ArchiveConfig>,
    /// `FLOW_RETENTION_DAYS` [7], as the collector reads it: which partitions the
    /// archive page shows as blocking retention.
    pub retention_days: u32,
    /// SNMP polling of exporters (docs/snmp.md).
    pub snmp: SnmpSettings,
    /// The insight detectors' thresholds (`INSIGHT_THRESHOLDS`, a JSON object of the
    /// fields to change, e.g. `{"syn_flood_pps": 1000}`; docs/insights.md).
    pub insight_thresholds: flowvision_insights::detect::Thresholds,
    /// Whether the console runs the insights engine (`INSIGHTS` [on]: on, off).
    pub insights: bool,
    /// The host anomaly model's schedule (`INSIGHT_RETRAIN_HOURS` [24], 1 to 720) and
    /// the hosts it scores (`INTERNAL_NETWORKS`, as the collector reads it;
    /// docs/models.md).
    pub anomaly: crate::anomaly::AnomalyConfig,
}

/// Where the key sealing SNMP secrets comes from.
#[derive(Clone, PartialEq, Eq)]
pub enum SnmpKeySource {
    /// `SNMP_SECRET_KEY`: 32 bytes in base64 (kept out of `Debug`).
    Env(String),
    /// `SNMP_KEY_FILE` [`$STATE_DIR/snmp-secret.key`, STATE_DIR as the collector reads
    /// it]: created with mode 0600 on first start.
    File(PathBuf),
}

impl std::fmt::Debug for SnmpKeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SnmpKeySource::Env(_) => f.write_str("Env(<SNMP_SECRET_KEY>)"),
            SnmpKeySource::File(p) => write!(f, "File({})", p.display()),
        }
    }
}

/// SNMP polling settings.
#[derive(Debug, Clone, PartialEq)]
pub struct SnmpSettings {
    /// The sealing key's source.
    pub key: SnmpKeySource,
    /// Re-poll every exporter this often (`SNMP_POLL_INTERVAL_S` [3600]).
    pub interval: Duration,
    /// After a failed poll, try again this soon (`SNMP_RETRY_INTERVAL_S` [300]).
    pub retry_interval: Duration,
    /// Agents polled at once (`SNMP_POLL_CONCURRENCY` [32]).
    pub concurrency: usize,
    /// Timeout of one request (`SNMP_TIMEOUT_MS` [2000]).
    pub timeout: Duration,
    /// Retries after a timeout (`SNMP_RETRIES` [2]).
    pub retries: u32,
    /// The IANA enterprise-number registry (`SNMP_ENTERPRISES_FILE`
    /// [/usr/share/wireshark/enterprises.tsv]); missing: vendors from MIBs only.
    pub enterprises_file: PathBuf,
}

impl Default for SnmpSettings {
    fn default() -> Self {
        SnmpSettings {
            key: SnmpKeySource::File(PathBuf::from(".flowvision/state/snmp-secret.key")),
            interval: Duration::from_secs(3600),
            retry_interval: Duration::from_secs(300),
            concurrency: 32,
            timeout: Duration::from_secs(2),
            retries: 2,
            enterprises_file: PathBuf::from(flowvision_snmp::enterprises::DEFAULT_PATH),
        }
    }
}

/// Where the `net-snmp` npm package (installed with the console's assets, pinned in
/// web/package.json) keeps its MIB modules: IETF and IANA base modules (SNMPv2-SMI,
/// -TC, -CONF, -MIB, RFC1155-SMI, RFC-1212, RFC-1215, RFC1213-MIB, IF-MIB,
/// IANAifType-MIB...) that Debian ships only in non-free.
pub const NPM_MIB_DIR: &str = "net-snmp/lib/mibs";

/// The default base MIB folders: Debian's ([`flowvision_mib::base::DEFAULT_DIRS`]),
/// then the npm package's under `assets_dir`.
pub fn default_mib_base_dirs(assets_dir: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = flowvision_mib::base::DEFAULT_DIRS.iter().map(PathBuf::from).collect();
    dirs.push(assets_dir.join(NPM_MIB_DIR));
    dirs
}

impl WebConfig {
    /// A configuration with defaults for `database_url` (for tests and embedding).
    pub fn new(database_url: impl Into<String>) -> WebConfig {
        WebConfig {
            database_url: database_url.into(),
            listen: SocketAddr::from(([0, 0, 0, 0], 8000)),
            tls: None,
            cookie_secure: false,
            admin_user: "admin".into(),
            admin_password: None,
            assets_dir: PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/node_modules")),
            models_dir: PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/insights/models/weights")),
            mib_base_dirs: default_mib_base_dirs(Path::new(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/node_modules"
            ))),
            ip_header: None,
            search_timeout: Duration::from_secs(10),
            query_timeout: Duration::from_secs(30),
            search_max_rows: 10_000,
            export_max_rows: 100_000,
            pool_size: 16,
            argon2: Argon2Cost::default(),
            log_level: "normal".into(),
            workers: None,
            sim_rate_budget: 50_000.0,
            sim_default_target: SocketAddr::from(([127, 0, 0, 1], 2055)),
            archive: None,
            retention_days: 7,
            snmp: SnmpSettings::default(),
            insight_thresholds: flowvision_insights::detect::Thresholds::default(),
            insights: true,
            anomaly: crate::anomaly::AnomalyConfig::default(),
        }
    }

    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<WebConfig, ConfigError> {
        WebConfig::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads the configuration through `get` (the environment, or a map in tests).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<WebConfig, ConfigError> {
        let var = |k: &str| get(k).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let bad = |k: &str, why: &str| ConfigError(format!("{k}: {why}"));
        let database_url = var("DATABASE_URL").ok_or_else(|| bad("DATABASE_URL", "not set"))?;
        if database_url.parse::<tokio_postgres::Config>().is_err() {
            return Err(bad("DATABASE_URL", "not a PostgreSQL connection string"));
        }
        let mut cfg = WebConfig::new(database_url);
        if let Some(v) = var("WEB_LISTEN") {
            cfg.listen = v.parse().map_err(|_| bad("WEB_LISTEN", &format!("{v:?} is not ADDRESS:PORT")))?;
        }
        match (var("WEB_TLS_CERT"), var("WEB_TLS_KEY")) {
            (None, None) => {}
            (Some(cert), Some(key)) => {
                for (k, p) in [("WEB_TLS_CERT", &cert), ("WEB_TLS_KEY", &key)] {
                    std::fs::File::open(p).map_err(|e| bad(k, &format!("cannot read {p}: {e}")))?;
                }
                cfg.tls = Some(TlsFiles { cert: cert.into(), key: key.into() });
            }
            (Some(_), None) => return Err(bad("WEB_TLS_KEY", "must be set together with WEB_TLS_CERT")),
            (None, Some(_)) => return Err(bad("WEB_TLS_CERT", "must be set together with WEB_TLS_KEY")),
        }
        cfg.cookie_secure = match var("WEB_COOKIE_SECURE") {
            None => cfg.tls.is_some(),
            Some(v) => parse_bool(&v).ok_or_else(|| bad("WEB_COOKIE_SECURE", "must be true or false"))?,
        };
        if cfg.tls.is_some() && !cfg.cookie_secure {
            return Err(bad("WEB_COOKIE_SECURE", "cannot be false when TLS is on"));
        }
        if let Some(u) = var("FLOWVISION_ADMIN_USER") {
            if !crate::auth::valid_username(&u) {
                return Err(bad("FLOWVISION_ADMIN_USER", "use 1-64 letters, digits, '.', '_', '@' or '-'"));
            }
            cfg.admin_user = u;
        }
        // Not trimmed: a password may start or end with a space.
        if let Some(p) = get("FLOWVISION_ADMIN_PASSWORD").filter(|p| !p.is_empty()) {
            if let Err(why) = crate::auth::password::check_policy(&p) {
                return Err(bad("FLOWVISION_ADMIN_PASSWORD", &why));
            }
            cfg.admin_password = Some(p);
        }
        if let Some(v) = var("WEB_ASSETS_DIR") {
            cfg.assets_dir = v.into();
        }
        if let Some(v) = var("WEB_MODELS_DIR") {
            cfg.models_dir = v.into();
        }
        cfg.mib_base_dirs = match var(flowvision_mib::base::ENV) {
            Some(v) => flowvision_mib::base::dirs(Some(std::ffi::OsStr::new(&v))),
            None => default_mib_base_dirs(&cfg.assets_dir),
        };
        if let Some(v) = var("WEB_IP_HEADER") {
            let ok = v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
            if !ok {
                return Err(bad("WEB_IP_HEADER", "not a header name"));
            }
            cfg.ip_header = Some(v);
        }
        let num = |k: &str, lo: u64, hi: u64| -> Result<Option<u64>, ConfigError> {
            match var(k) {
                None => Ok(None),
                Some(v) => match v.parse::<u64>() {
                    Ok(n) if (lo..=hi).contains(&n) => Ok(Some(n)),
                    _ => Err(bad(k, &format!("{v:?} is not a number in {lo}..={hi}"))),
                },
            }
        };
        if let Some(n) = num("WEB_SEARCH_TIMEOUT_MS", 100, 600_000)? {
            cfg.search_timeout = Duration::from_millis(n);
        }
        if let Some(n) = num("WEB_QUERY_TIMEOUT_MS", 100, 600_000)? {
            cfg.query_timeout = Duration::from_millis(n);
        }
        if let Some(n) = num("WEB_SEARCH_MAX_ROWS", 10, 1_000_000)? {
            cfg.search_max_rows = n as u32;
        }
        if let Some(n) = num("WEB_EXPORT_MAX_ROWS", 10, 10_000_000)? {
            cfg.export_max_rows = n as u32;
        }
        if let Some(n) = num("WEB_DB_POOL", 1, 512)? {
            cfg.pool_size = n as usize;
        }
        if let Some(n) = num("WEB_ARGON2_MEMORY_KIB", 8, 4 * 1024 * 1024)? {
            cfg.argon2.memory_kib = n as u32;
        }
        if let Some(n) = num("WEB_ARGON2_ITERATIONS", 1, 100)? {
            cfg.argon2.iterations = n as u32;
        }
        if let Some(n) = num("WEB_ARGON2_PARALLELISM", 1, 64)? {
            cfg.argon2.parallelism = n as u32;
        }
        if u64::from(cfg.argon2.memory_kib) < 8 * u64::from(cfg.argon2.parallelism) {
            return Err(bad("WEB_ARGON2_MEMORY_KIB", "must be at least 8 KiB per lane"));
        }
        if let Some(n) = num("WEB_WORKERS", 1, 1024)? {
            cfg.workers = Some(n as usize);
        }
        if let Some(n) = num("SIM_RATE_BUDGET", 1, 10_000_000)? {
            cfg.sim_rate_budget = n as f64;
        }
        if let Some(v) = var("SIM_DEFAULT_TARGET") {
            cfg.sim_default_target =
                v.parse().map_err(|_| bad("SIM_DEFAULT_TARGET", &format!("{v:?} is not ADDRESS:PORT")))?;
        }
        if let Some(n) = num("FLOW_RETENTION_DAYS", 1, 36_500)? {
            cfg.retention_days = n as u32;
        }
        cfg.snmp.key = match (get("SNMP_SECRET_KEY").filter(|v| !v.trim().is_empty()), var("SNMP_KEY_FILE")) {
            (Some(k), _) => {
                flowvision_snmp::SealKey::from_base64(&k)
                    .map_err(|e| bad("SNMP_SECRET_KEY", &e.to_string()))?;
                SnmpKeySource::Env(k)
            }
            (None, Some(f)) => SnmpKeySource::File(f.into()),
            (None, None) => SnmpKeySource::File(
                PathBuf::from(var("STATE_DIR").unwrap_or_else(|| ".flowvision/state".into()))
                    .join("snmp-secret.key"),
            ),
        };
        if let Some(n) = num("SNMP_POLL_INTERVAL_S", 10, 7 * 86_400)? {
            cfg.snmp.interval = Duration::from_secs(n);
        }
        if let Some(n) = num("SNMP_RETRY_INTERVAL_S", 5, 86_400)? {
            cfg.snmp.retry_interval = Duration::from_secs(n);
        }
        if let Some(n) = num("SNMP_POLL_CONCURRENCY", 1, 1024)? {
            cfg.snmp.concurrency = n as usize;
        }
        if let Some(n) = num("SNMP_TIMEOUT_MS", 50, 60_000)? {
            cfg.snmp.timeout = Duration::from_millis(n);
        }
        if let Some(n) = num("SNMP_RETRIES", 0, 10)? {
            cfg.snmp.retries = n as u32;
        }
        if let Some(v) = var("SNMP_ENTERPRISES_FILE") {
            cfg.snmp.enterprises_file = v.into();
        }
        if let Some(v) = var("INSIGHT_THRESHOLDS") {
            cfg.insight_thresholds = serde_json::from_str(&v)
                .map_err(|e| bad("INSIGHT_THRESHOLDS", &format!("not valid: {e}")))?;
        }
        if let Some(v) = var("INTERNAL_NETWORKS") {
            cfg.anomaly.hosts = flowvision_insights::features::InternalNetworks::parse(&v)
                .map_err(|e| bad("INTERNAL_NETWORKS", &e))?;
        }
        if let Some(n) = num("INSIGHT_RETRAIN_HOURS", 1, 720)? {
            cfg.anomaly.retrain_ms = n as i64 * 3_600_000;
        }
        if let Some(v) = var("INSIGHTS") {
            cfg.insights = match v.as_str() {
                "on" => true,
                "off" => false,
                _ => return Err(bad("INSIGHTS", "must be on or off")),
            };
        }
        cfg.archive = flowvision_archive::ArchiveConfig::from_lookup(&|k| get(k))
            .map_err(|e| ConfigError(format!("{}: {}", e.name, e.why)))?;
        if let Some(v) = var("WEB_LOG") {
            if !["off", "critical", "normal"].contains(&v.as_str()) {
                return Err(bad("WEB_LOG", "must be off, critical or normal"));
            }
            cfg.log_level = v;
        }
        Ok(cfg)
    }

    /// The console's base URL as a person would type it (for the start-up message).
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        let host = if self.listen.ip().is_unspecified() {
            "localhost".to_string()
        } else if self.listen.is_ipv6() {
            format!("[{}]", self.listen.ip())
        } else {
            self.listen.ip().to_string()
        };
        format!("{scheme}://{host}:{}/", self.listen.port())
    }
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;
    use std::collections::HashMap;

    fn cfg(pairs: &[(&str, &str)]) -> Result<WebConfig, ConfigError> {
        let m: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        WebConfig::from_lookup(|k| m.get(k).cloned())
    }

    #[test]
    fn defaults_and_errors() {
        let c = cfg(&[("DATABASE_URL", "postgresql://u@h/db")]).unwrap();
        assert_eq!(c.listen.to_string(), "0.0.0.0:8000");
        assert!(!c.cookie_secure);
        assert_eq!(c.url(), "http://localhost:8000/");
        assert!(cfg(&[]).unwrap_err().0.starts_with("DATABASE_URL"));
        let e = cfg(&[("DATABASE_URL", "postgresql://h/d"), ("WEB_LISTEN", "nope")]).unwrap_err();
        assert!(e.0.starts_with("WEB_LISTEN"), "{e}");
        let e = cfg(&[("DATABASE_URL", "postgresql://h/d"), ("WEB_TLS_CERT", "/x")]).unwrap_err();
        assert!(e.0.starts_with("WEB_TLS_KEY"), "{e}");
        let e =
            cfg(&[("DATABASE_URL", "postgresql://h/d"), ("FLOWVISION_ADMIN_PASSWORD", "short")]).unwrap_err();
        assert!(e.0.starts_with("FLOWVISION_ADMIN_PASSWORD"), "{e}");
        assert!(!e.0.contains("short"), "the message must not echo the password: {e}");
        let c = cfg(&[("DATABASE_URL", "postgresql://h/d"), ("WEB_COOKIE_SECURE", "true")]).unwrap();
        assert!(c.cookie_secure);
        let e = cfg(&[("DATABASE_URL", "postgresql://h/d"), ("WEB_SEARCH_MAX_ROWS", "x")]).unwrap_err();
        assert!(e.0.starts_with("WEB_SEARCH_MAX_ROWS"));
        // The operator's own hosts, as the collector reads them, are the model's.
        let own: std::net::IpAddr = "198.51.100.7".parse().unwrap();
        assert!(!c.anomaly.hosts.contains(own));
        let c = cfg(&[
            ("DATABASE_URL", "postgresql://h/d"),
            ("INTERNAL_NETWORKS", "198.51.100.0/24, 10.0.0.0/8"),
        ])
        .unwrap();
        assert!(c.anomaly.hosts.contains(own));
        let e = cfg(&[("DATABASE_URL", "postgresql://h/d"), ("INTERNAL_NETWORKS", "198.51.100.0/33")])
            .unwrap_err();
        assert!(e.0.starts_with("INTERNAL_NETWORKS"), "{e}");
    }

    #[test]
    fn simulation_settings() {
        let c = cfg(&[("DATABASE_URL", "postgresql://h/d")]).unwrap();
        assert_eq!(
            (c.sim_rate_budget, c.sim_default_target.to_string().as_str()),
            (50_000.0, "127.0.0.1:2055")
        );
        let c = cfg(&[
            ("DATABASE_URL", "postgresql://h/d"),
            ("SIM_RATE_BUDGET", "1000"),
            ("SIM_DEFAULT_TARGET", "[::1]:9995"),
        ])
        .unwrap();
        assert_eq!((c.sim_rate_budget, c.sim_default_target.to_string().as_str()), (1000.0, "[::1]:9995"));
        let e = cfg(&[("DATABASE_URL", "postgresql://h/d"), ("SIM_DEFAULT_TARGET", "collector:2055")])
            .unwrap_err();
        assert!(e.0.starts_with("SIM_DEFAULT_TARGET"), "{e}");
        let e = cfg(&[("DATABASE_URL", "postgresql://h/d"), ("SIM_RATE_BUDGET", "0")]).unwrap_err();
        assert!(e.0.starts_with("SIM_RATE_BUDGET"), "{e}");
    }
}
