//! The archive's settings, from the same environment as the rest of the appliance
//! (`USE_EXTERNAL_STORAGE`, `MINIO_*`, `ARCHIVE_*`; docs/archive.md). The secret key is
//! held in a [`Secret`], whose `Debug` and `Display` never show it, so no log line or
//! error can carry it.

use std::fmt;
use std::time::Duration;

/// A value that must never be printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself, for the one place that signs requests with it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// A variable with an unusable value: named, so start-up can stop with one clear line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name}={value:?}: {why}")]
pub struct ConfigError {
    /// The variable.
    pub name: &'static str,
    /// Its value (never a secret's: those are replaced by `***`).
    pub value: String,
    /// Why it cannot be used.
    pub why: String,
}

/// Where and how partitions are archived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveConfig {
    /// Base URL of the S3 endpoint, with its scheme (`http://minio:9000`).
    pub endpoint: String,
    /// Bucket (`MINIO_BUCKET`).
    pub bucket: String,
    /// HTTPS (`MINIO_SECURE`).
    pub secure: bool,
    /// Region used for signing (`MINIO_REGION`; MinIO accepts any).
    pub region: String,
    /// Access key id (`MINIO_ACCESS_KEY`; not a secret, shown in the console).
    pub access_key_id: String,
    /// Secret key (`MINIO_SECRET_KEY`).
    pub secret_key: Secret,
    /// First component of every object key (`ARCHIVE_PREFIX`).
    pub prefix: String,
    /// How often the archiver looks for closed partitions (`ARCHIVE_INTERVAL_SECONDS`).
    pub interval: Duration,
    /// A partition counts as closed this long after its range ends
    /// (`ARCHIVE_GRACE_SECONDS`), so batches still in flight land first.
    pub grace: Duration,
    /// Size of one uploaded part (`ARCHIVE_PART_BYTES`; S3 wants at least 5 MiB).
    pub part_bytes: usize,
    /// Rows per Parquet row group (`ARCHIVE_ROW_GROUP_ROWS`).
    pub row_group_rows: usize,
    /// Timeout of one request to the store (`ARCHIVE_REQUEST_TIMEOUT_SECONDS`).
    pub request_timeout: Duration,
    /// First wait after a failed attempt; doubled per failure up to `retry_max`.
    pub retry_min: Duration,
    /// Longest wait between attempts.
    pub retry_max: Duration,
    /// Nice value of the archive's thread and database session (`ARCHIVE_NICE`
    /// [10]; 0 keeps normal priority).
    pub nice: i32,
    /// The archive's thread and database session run only on idle CPU time
    /// (`ARCHIVE_IDLE` [true]: Linux `SCHED_IDLE`).
    pub idle: bool,
    /// Rows per second the export reads at most while the archive is caught up
    /// (`ARCHIVE_MAX_ROWS_PER_SECOND` [50000]; 0: no limit). Spreading an hour's export
    /// keeps its cost to ingest small; when more than one closed partition waits, the
    /// archive is behind and runs unpaced (see [`crate::archiver`]).
    pub max_rows_per_second: u64,
}

const MIB: usize = 1 << 20;

impl ArchiveConfig {
    /// Reads the settings through `get` (the process environment, or a map in tests).
    /// `Ok(None)` when `USE_EXTERNAL_STORAGE` is not true.
    pub fn from_lookup(get: &dyn Fn(&str) -> Option<String>) -> Result<Option<Self>, ConfigError> {
        let raw = |name: &str| get(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        if !boolean(raw("USE_EXTERNAL_STORAGE"), "USE_EXTERNAL_STORAGE", false)? {
            return Ok(None);
        }
        let required = |name: &'static str| {
            raw(name).ok_or_else(|| ConfigError {
                name,
                value: String::new(),
                why: "required when USE_EXTERNAL_STORAGE=true".into(),
            })
        };
        let secure = boolean(raw("MINIO_SECURE"), "MINIO_SECURE", false)?;
        let endpoint = endpoint_url(&required("MINIO_ENDPOINT")?, secure)?;
        let access_key_id = required("MINIO_ACCESS_KEY")?;
        let secret_key =
            Secret::new(get("MINIO_SECRET_KEY").filter(|v| !v.is_empty()).ok_or_else(|| ConfigError {
                name: "MINIO_SECRET_KEY",
                value: String::new(),
                why: "required when USE_EXTERNAL_STORAGE=true".into(),
            })?);
        let bucket = raw("MINIO_BUCKET").unwrap_or_else(|| "r369-bucket".into());
        if !valid_bucket(&bucket) {
            return Err(ConfigError {
                name: "MINIO_BUCKET",
                value: bucket,
                why: "a bucket name is 3 to 63 lowercase letters, digits, dots and hyphens".into(),
            });
        }
        let prefix = raw("ARCHIVE_PREFIX").unwrap_or_else(|| "flows".into());
        if prefix.split('/').any(|c| c.is_empty() || c == "." || c == "..") {
            return Err(ConfigError {
                name: "ARCHIVE_PREFIX",
                value: prefix,
                why: "path components must be non-empty and not . or ..".into(),
            });
        }
        let number = |name: &'static str, default: u64, lo: u64, hi: u64| -> Result<u64, ConfigError> {
            let Some(v) = raw(name) else { return Ok(default) };
            match v.parse::<u64>() {
                Ok(n) if (lo..=hi).contains(&n) => Ok(n),
                _ => Err(ConfigError { name, value: v, why: format!("a whole number from {lo} to {hi}") }),
            }
        };
        Ok(Some(ArchiveConfig {
            endpoint,
            bucket,
            secure,
            region: raw("MINIO_REGION").unwrap_or_else(|| "us-east-1".into()),
            access_key_id,
            secret_key,
            prefix,
            interval: Duration::from_secs(number("ARCHIVE_INTERVAL_SECONDS", 300, 1, 86_400)?),
            grace: Duration::from_secs(number("ARCHIVE_GRACE_SECONDS", 300, 0, 86_400)?),
            part_bytes: number("ARCHIVE_PART_BYTES", 16 * MIB as u64, 5 * MIB as u64, 1 << 30)? as usize,
            row_group_rows: number("ARCHIVE_ROW_GROUP_ROWS", 1_000_000, 1_000, 100_000_000)? as usize,
            request_timeout: Duration::from_secs(number("ARCHIVE_REQUEST_TIMEOUT_SECONDS", 60, 1, 3600)?),
            retry_min: Duration::from_secs(number("ARCHIVE_RETRY_MIN_SECONDS", 30, 1, 86_400)?),
            retry_max: Duration::from_secs(number("ARCHIVE_RETRY_MAX_SECONDS", 3600, 1, 86_400)?),
            nice: number("ARCHIVE_NICE", 10, 0, 19)? as i32,
            idle: boolean(raw("ARCHIVE_IDLE"), "ARCHIVE_IDLE", true)?,
            max_rows_per_second: number("ARCHIVE_MAX_ROWS_PER_SECOND", 50_000, 0, 100_000_000)?,
        }))
    }

    /// Reads the process environment.
    pub fn from_env() -> Result<Option<Self>, ConfigError> {
        Self::from_lookup(&|name| std::env::var(name).ok())
    }
}

fn boolean(value: Option<String>, name: &'static str, default: bool) -> Result<bool, ConfigError> {
    match value.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None => Ok(default),
        Some("true" | "1" | "yes" | "on") => Ok(true),
        Some("false" | "0" | "no" | "off") => Ok(false),
        Some(_) => {
            Err(ConfigError { name, value: value.unwrap_or_default(), why: "expected true or false".into() })
        }
    }
}

/// `host:port` (MinIO's own form) gets the scheme `MINIO_SECURE` implies; a URL must
/// agree with it, so a deployment never believes it is using TLS when it is not.
fn endpoint_url(value: &str, secure: bool) -> Result<String, ConfigError> {
    let bad = |why: &str| ConfigError { name: "MINIO_ENDPOINT", value: value.to_string(), why: why.into() };
    let (scheme, rest) = match value.split_once("://") {
        Some((s, rest)) => (s.to_ascii_lowercase(), rest),
        None => ((if secure { "https" } else { "http" }).to_string(), value),
    };
    match (scheme.as_str(), secure) {
        ("http", false) | ("https", true) => {}
        ("http", true) => return Err(bad("http:// but MINIO_SECURE=true")),
        ("https", false) => return Err(bad("https:// but MINIO_SECURE=false (set MINIO_SECURE=true)")),
        _ => return Err(bad("the scheme must be http or https")),
    }
    let host = rest.trim_end_matches('/');
    if host.is_empty() || host.contains('/') || host.contains('@') || host.contains(char::is_whitespace) {
        return Err(bad("expected host:port or a URL without a path"));
    }
    Ok(format!("{scheme}://{host}"))
}

fn valid_bucket(b: &str) -> bool {
    (3..=63).contains(&b.len())
        && b.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'.' || c == b'-')
        && b.bytes().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && b.bytes().last().is_some_and(|c| c.is_ascii_alphanumeric())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn cfg(vars: &[(&str, &str)]) -> Result<Option<ArchiveConfig>, ConfigError> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        ArchiveConfig::from_lookup(&|k| map.get(k).cloned())
    }

    const ON: [(&str, &str); 4] = [
        ("USE_EXTERNAL_STORAGE", "true"),
        ("MINIO_ENDPOINT", "minio:9000"),
        ("MINIO_ACCESS_KEY", "flowvision"),
        ("MINIO_SECRET_KEY", "s3cr3t-value"),
    ];

    #[test]
    fn off_unless_asked() {
        assert_eq!(cfg(&[]).unwrap(), None);
        assert_eq!(cfg(&[("USE_EXTERNAL_STORAGE", "false"), ("MINIO_ENDPOINT", "x")]).unwrap(), None);
        assert_eq!(cfg(&[("USE_EXTERNAL_STORAGE", "maybe")]).unwrap_err().name, "USE_EXTERNAL_STORAGE");
    }

    #[test]
    fn defaults_and_endpoint_forms() {
        let c = cfg(&ON).unwrap().unwrap();
        assert_eq!(c.endpoint, "http://minio:9000");
        assert_eq!(c.bucket, "r369-bucket");
        assert!(!c.secure);
        assert_eq!(c.prefix, "flows");
        let mut v = ON.to_vec();
        v.push(("MINIO_SECURE", "true"));
        assert_eq!(cfg(&v).unwrap().unwrap().endpoint, "https://minio:9000");
        v[1] = ("MINIO_ENDPOINT", "http://minio:9000");
        assert_eq!(cfg(&v).unwrap_err().name, "MINIO_ENDPOINT");
    }

    #[test]
    fn missing_and_bad_values_are_named_and_the_secret_never_shown() {
        for (i, name) in ["MINIO_ENDPOINT", "MINIO_ACCESS_KEY", "MINIO_SECRET_KEY"].iter().enumerate() {
            let mut v = ON.to_vec();
            v.remove(i + 1);
            assert_eq!(cfg(&v).unwrap_err().name, *name);
        }
        for (name, value) in
            [("MINIO_BUCKET", "Bad_Bucket"), ("ARCHIVE_PART_BYTES", "1024"), ("ARCHIVE_PREFIX", "a//b")]
        {
            let mut v = ON.to_vec();
            v.push((name, value));
            assert_eq!(cfg(&v).unwrap_err().name, name);
        }
        let c = cfg(&ON).unwrap().unwrap();
        assert!(!format!("{c:?}").contains("s3cr3t"));
        assert_eq!(c.secret_key.expose(), "s3cr3t-value");
    }
}
