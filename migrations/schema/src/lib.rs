//! The database schema as code names it: the collector writes these tables, the
//! console reads them, the benchmarks load them and the tests check them, and all of
//! them take the names from here instead of spelling them out. The SQL that creates
//! the tables is `migrations/*.sql` (applied by `flowvision-migrations`); a test of
//! this crate checks that every name declared here exists there.
//!
//! - [`tables`]: every table by name.
//! - [`rollup`]: the rollups, their tiers (1m, 1h, 1d), dimensions and "other" rows.
//! - [`partition`]: which tables are partitioned by time and how partitions are named.
//! - [`rows`]: the row types both sides agree on (a flow row, rollup measures).
//!
//! No database client here: the crate only names things, so anything may depend on it.

pub mod partition;
pub mod rollup;
pub mod rows;
pub mod tables;

pub use partition::{Family, Span};
pub use rollup::{Rollup, Tier, MEASURES};
pub use rows::{FlowRow, Measures};

/// Milliseconds per minute (the 1-minute tier's bucket).
pub const MINUTE_MS: i64 = 60_000;
/// Milliseconds per hour (the 1-hour tier's bucket, an hourly partition).
pub const HOUR_MS: i64 = 3_600_000;
/// Milliseconds per UTC day (the daily tier's bucket, a daily partition).
pub const DAY_MS: i64 = 86_400_000;
