//! The data-access layer: every SQL statement of the web service lives here.
//!
//! Exporter data (rollups, raw flows, exporters, interfaces) is only reachable
//! through functions that take the caller's [`Scope`], which only the authentication
//! guards can make; the scope is bound as a parameter (`exporter <<= ANY($n::text[]::inet[])`)
//! in every such statement. SQL is static text: the only strings formatted into it
//! are table-name suffixes from a closed set (`1m`, `1h`); every value is a parameter.

pub mod accounts;
pub mod archive;
pub mod dash;
pub mod exporters;
mod feature_copy;
pub mod flows;
pub mod hosts;
pub mod insights;
pub mod mibs;
pub mod models;
pub mod rules;
pub mod simulations;
pub mod snmp;
pub mod stats;
pub mod stats_query;
pub mod window;

pub use crate::auth::Scope;
pub use feature_copy::CopyDecodeError;
pub use window::{Resolution, Segment, Tier, Window};

use crate::config::WebConfig;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use std::time::Duration;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use tokio_postgres::error::SqlState;
use tokio_postgres::NoTls;

/// Why a data request failed.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The database reported an error.
    #[error("database: {0}")]
    Db(tokio_postgres::Error),
    /// No connection could be had from the pool.
    #[error("database unavailable: {0}")]
    Pool(String),
    /// The query ran past its time limit.
    #[error("the query took longer than its time limit; narrow the time range or the filters")]
    Timeout,
    /// A request parameter is invalid (the message is for the caller).
    #[error("{0}")]
    Invalid(String),
    /// The thing asked for does not exist (or is outside the caller's scope).
    #[error("not found")]
    NotFound,
    /// The change conflicts with existing data (the message is for the caller).
    #[error("{0}")]
    Conflict(String),
    /// The database's answer could not be decoded (a COPY stream of feature rows).
    #[error("database answer: {0}")]
    Answer(#[from] feature_copy::CopyDecodeError),
}

impl From<tokio_postgres::Error> for DataError {
    /// A cancelled statement is the time limit; a unique violation a conflict.
    fn from(e: tokio_postgres::Error) -> DataError {
        match e.code() {
            Some(c) if *c == SqlState::QUERY_CANCELED => DataError::Timeout,
            Some(c) if *c == SqlState::UNIQUE_VIOLATION => {
                DataError::Conflict("that name is already taken".into())
            }
            _ => DataError::Db(e),
        }
    }
}

/// Result of the data layer.
pub type DataResult<T> = Result<T, DataError>;

/// Limits of flow search.
#[derive(Debug, Clone, Copy)]
pub struct SearchLimits {
    /// Time limit of one search.
    pub timeout: Duration,
    /// Rows a search may page through.
    pub max_rows: u32,
    /// Rows of one CSV export.
    pub export_max_rows: u32,
}

/// The connection pool and the query limits. Cheap to clone.
#[derive(Clone)]
pub struct Db {
    pool: Pool,
    limits: SearchLimits,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db").field("limits", &self.limits).finish_non_exhaustive()
    }
}

impl Db {
    /// A pool for `cfg.database_url` (connections are opened on first use). Every
    /// connection has `statement_timeout` = `cfg.query_timeout`, so a heavy dashboard
    /// query cannot hold a connection forever.
    pub fn new(cfg: &WebConfig) -> DataResult<Db> {
        let mut pg: tokio_postgres::Config =
            cfg.database_url.parse().map_err(|_| DataError::Invalid("DATABASE_URL does not parse".into()))?;
        pg.application_name("flowvision-web");
        // jit=off: the console's queries are short scans the planner over-costs on big
        // tables; JIT compilation then took 780 ms of a 1 s flow search and ~25 ms of
        // every large dashboard aggregate (EXPLAIN ANALYZE, docs/benchmarks.md).
        pg.options(format!("-c statement_timeout={} -c jit=off", cfg.query_timeout.as_millis()));
        if pg.get_connect_timeout().is_none() {
            pg.connect_timeout(Duration::from_secs(5));
        }
        let mgr = Manager::from_config(pg, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(mgr)
            .max_size(cfg.pool_size)
            .wait_timeout(Some(Duration::from_secs(10)))
            .create_timeout(Some(Duration::from_secs(10)))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .build()
            .map_err(|e| DataError::Pool(e.to_string()))?;
        Ok(Db {
            pool,
            limits: SearchLimits {
                timeout: cfg.search_timeout,
                max_rows: cfg.search_max_rows,
                export_max_rows: cfg.export_max_rows,
            },
        })
    }

    /// The flow-search limits.
    pub fn limits(&self) -> SearchLimits {
        self.limits
    }

    async fn conn(&self) -> DataResult<deadpool_postgres::Object> {
        self.pool.get().await.map_err(|e| match e {
            deadpool_postgres::PoolError::Backend(e) => DataError::Db(e),
            other => DataError::Pool(other.to_string()),
        })
    }

    /// Applies the schema migrations (shared with the collector); returns how many ran.
    pub async fn migrate(&self) -> Result<usize, String> {
        let c = self.conn().await.map_err(|e| e.to_string())?;
        flowvision_migrations::apply(&c, flowvision_migrations::MIGRATIONS).await.map_err(|e| e.to_string())
    }

    /// True when the database answers.
    pub async fn ping(&self) -> bool {
        match self.conn().await {
            Ok(c) => c.query_one("SELECT 1", &[]).await.is_ok(),
            Err(_) => false,
        }
    }
}

/// RFC 3339 (UTC) text of a timestamp, to the millisecond (what the collector records).
pub fn ts(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    let t = t.replace_nanosecond(t.nanosecond() / 1_000_000 * 1_000_000).unwrap_or(t);
    t.format(&Rfc3339).unwrap_or_default()
}

/// RFC 3339 text of an optional timestamp.
pub fn ts_opt(t: Option<OffsetDateTime>) -> Option<String> {
    t.map(ts)
}

/// Sum of a bigint measure, saturated to the bigint range (sums of bigints are
/// numeric), 0 over no rows (LEAST ignores NULL, so the COALESCE must come first).
macro_rules! sum_i64 {
    ($col:literal) => {
        concat!("LEAST(COALESCE(sum(", $col, "), 0), 9223372036854775807)::bigint")
    };
}
pub(crate) use sum_i64;

/// Well-known names of IP protocol numbers.
pub fn proto_name(p: i16) -> String {
    match p {
        1 => "ICMP".into(),
        2 => "IGMP".into(),
        4 => "IPIP".into(),
        6 => "TCP".into(),
        17 => "UDP".into(),
        41 => "IPv6".into(),
        47 => "GRE".into(),
        50 => "ESP".into(),
        51 => "AH".into(),
        58 => "ICMPv6".into(),
        89 => "OSPF".into(),
        103 => "PIM".into(),
        112 => "VRRP".into(),
        132 => "SCTP".into(),
        33 => "DCCP".into(),
        n => format!("proto {n}"),
    }
}

/// Well-known service names of ports.
pub fn port_name(port: i32) -> Option<&'static str> {
    Some(match port {
        20 | 21 => "ftp",
        22 => "ssh",
        23 => "telnet",
        25 => "smtp",
        53 => "dns",
        67 | 68 => "dhcp",
        80 => "http",
        110 => "pop3",
        123 => "ntp",
        143 => "imap",
        161 | 162 => "snmp",
        179 => "bgp",
        389 => "ldap",
        443 => "https",
        445 => "smb",
        465 | 587 => "submission",
        514 => "syslog",
        636 => "ldaps",
        853 => "dns-over-tls",
        993 => "imaps",
        995 => "pop3s",
        1194 => "openvpn",
        1433 => "mssql",
        1812 | 1813 => "radius",
        2055 => "netflow",
        3306 => "mysql",
        3389 => "rdp",
        4739 => "ipfix",
        5060 | 5061 => "sip",
        5432 => "postgresql",
        6343 => "sflow",
        6379 => "redis",
        8080 => "http-alt",
        8443 => "https-alt",
        _ => return None,
    })
}
