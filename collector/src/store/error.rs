//! Errors of the storage layer.

use std::path::PathBuf;

/// What went wrong in storage.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A database error (connection, SQL).
    #[error("database: {}", describe(.0))]
    Db(#[from] tokio_postgres::Error),
    /// An applied migration's file differs from the one in this binary.
    #[error(
        "migration {version} ({name}) changed after it was applied: checksum {applied} in the database, \
         {current} in this binary; schema changes need a new migration file"
    )]
    MigrationChanged {
        /// Migration number.
        version: i32,
        /// File name.
        name: String,
        /// Checksum recorded when it was applied.
        applied: String,
        /// Checksum of the file now.
        current: String,
    },
    /// A migration's SQL failed.
    #[error("migration {version} ({name}) failed: {}", describe(source))]
    MigrationFailed {
        /// Migration number.
        version: i32,
        /// File name.
        name: String,
        /// The database's error.
        source: tokio_postgres::Error,
    },
    /// The list of migrations is malformed (duplicate or unordered versions).
    #[error("migrations: {0}")]
    MigrationList(String),
    /// A spool or local file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A spool file that does not decode (bad magic, length or checksum).
    #[error("spool file {path} is corrupt: {why}")]
    SpoolCorrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        why: &'static str,
    },
    /// Invalid configuration.
    #[error("storage configuration: {0}")]
    Config(String),
    /// A thread or runtime could not be created.
    #[error("starting a storage thread: {0}")]
    Runtime(std::io::Error),
    /// An operation took too long.
    #[error("timed out: {0}")]
    Timeout(&'static str),
    /// A storage thread exited unexpectedly.
    #[error("a storage thread exited unexpectedly")]
    ThreadFailed,
    /// Template JSON could not be encoded or decoded.
    #[error("template JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// A database error with its cause: tokio-postgres's own `Display` says only "db
/// error" or "error connecting to server".
pub(crate) fn describe(e: &tokio_postgres::Error) -> String {
    if let Some(d) = e.as_db_error() {
        return format!("{}: {} (SQLSTATE {})", d.severity(), d.message(), d.code().code());
    }
    match std::error::Error::source(e) {
        Some(cause) => format!("{e}: {cause}"),
        None => e.to_string(),
    }
}

impl StoreError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> StoreError {
        let path = path.into();
        move |source| StoreError::Io { path, source }
    }
}
