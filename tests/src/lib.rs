//! Shared helpers of the end-to-end tests.
pub mod exporters;
pub mod fixtures;
pub mod http;
pub mod local;
pub mod oracle;
pub mod pg;
pub mod replay;
pub mod s3;
pub mod snmpd;
pub mod traffic;

/// The synchronous PostgreSQL client the harness returns, re-exported so tests use the same version.
pub use postgres;
