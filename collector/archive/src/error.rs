//! Why an archive step failed. Each failure is kept with its partition in the catalog
//! and counted on `/metrics` by [`ArchiveError::reason`].

/// An archive, verification or restore failure.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// The database refused or the connection broke.
    #[error("database: {0}")]
    Database(#[from] tokio_postgres::Error),
    /// The object store refused or could not be reached.
    #[error("object store: {0}")]
    Store(#[from] object_store::Error),
    /// Writing or reading Parquet failed.
    #[error("parquet: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    /// Building the Arrow arrays failed.
    #[error("arrow: {0}")]
    Arrow(#[from] arrow_schema::ArrowError),
    /// The local temporary file.
    #[error("local file: {0}")]
    Io(#[from] std::io::Error),
    /// The object read back is not what was written.
    #[error("verification of {key} failed: {what}")]
    Verify {
        /// Object key.
        key: String,
        /// What differed.
        what: String,
    },
    /// An archived object does not have the expected columns.
    #[error("object {key} does not hold flow rows: {what}")]
    Layout {
        /// Object key.
        key: String,
        /// What is wrong.
        what: String,
    },
    /// A value in the database the archive cannot represent.
    #[error("row data: {0}")]
    Data(String),
    /// A request timed out.
    #[error("timed out: {0}")]
    Timeout(&'static str),
}

impl ArchiveError {
    /// A short label for counting failures by kind (`/metrics`).
    pub fn reason(&self) -> &'static str {
        match self {
            ArchiveError::Database(_) => "database",
            ArchiveError::Store(e) => match e {
                object_store::Error::NotFound { .. } => "store_not_found",
                object_store::Error::PermissionDenied { .. }
                | object_store::Error::Unauthenticated { .. } => "store_denied",
                _ => "store",
            },
            ArchiveError::Parquet(_) | ArchiveError::Arrow(_) | ArchiveError::Layout { .. } => "format",
            ArchiveError::Io(_) => "local_io",
            ArchiveError::Verify { .. } => "verify",
            ArchiveError::Data(_) => "data",
            ArchiveError::Timeout(_) => "timeout",
        }
    }
}

/// Every label [`ArchiveError::reason`] can give (so `/metrics` shows each from start).
pub const REASONS: &[&str] = &[
    "database",
    "store_not_found",
    "store_denied",
    "store",
    "format",
    "local_io",
    "verify",
    "data",
    "timeout",
];
