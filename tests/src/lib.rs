//! Shared helpers of the end-to-end tests.
pub mod fixtures;
pub mod http;
pub mod local;
pub mod oracle;
pub mod pg;
pub mod replay;
pub mod s3;
pub mod snmpd;

/// The synchronous PostgreSQL client the harness returns, re-exported so tests use the same version.
pub use postgres;
