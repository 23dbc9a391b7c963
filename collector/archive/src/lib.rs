//! The flow archive (`USE_EXTERNAL_STORAGE=true`): every closed partition of `flows`
//! is written to an S3-compatible bucket as Parquet, read back and verified, recorded in
//! the archive catalog — and only then may retention drop it. Archived hours can be
//! restored into `flows_restored`, where flow search and statistics find them.
//!
//! ```text
//! flows partition (closed) --query, one hour at a time--> Parquet file (local, zstd)
//!   --multipart upload--> bucket --HEAD + footer read back--> catalog (archive_objects)
//!   --all hours verified--> archive_partitions.status = 'archived' --> retention may drop
//! ```
//!
//! - [`config`]: the store's settings from the environment (the secret never printed).
//! - [`columns`]: the Parquet schema of a flow row and the conversion both ways.
//! - [`key`]: where an hour of a partition lives in the bucket.
//! - [`store`]: the bucket client: upload in parts, verify, fetch.
//! - [`catalog`]: the catalog tables (partitions, objects, store, restores).
//! - [`export`]: one hour of a partition to a Parquet file.
//! - [`order`]: the order of rows in a row group (exporter, time), sorted in memory.
//! - [`archiver`]: which partitions to archive, when, and retries with backoff.
//! - [`priority`]: the archive yields the CPU to ingest.
//! - [`restore`]: archived rows back into the database, and removed again.
//! - [`stats`]: counters for `/metrics`.
//!
//! No collector, Rocket or XDP dependency: the console uses this crate too.

pub mod archiver;
pub mod catalog;
pub mod columns;
pub mod config;
pub mod error;
pub mod export;
pub mod key;
pub mod order;
pub mod priority;
pub mod restore;
pub mod stats;
pub mod store;

pub use archiver::{Archiver, RunReport};
pub use config::{ArchiveConfig, ConfigError};
pub use error::ArchiveError;
pub use stats::ArchiveStats;

/// Version of the Parquet layout written (the `flowvision.schema_version` metadata
/// key): raised whenever a column is added, removed or changes type.
pub const SCHEMA_VERSION: i32 = 1;
