//! Insights: what the flows say about each host, seconds after they arrive.
//!
//! - [`sketch`]: a 64-byte distinct-count sketch (HyperLogLog), mergeable across
//!   batches, writers and restarts.
//! - [`activity`]: a host's minute as the host anomaly model's input vector.
//! - [`amplifier`]: the UDP services abused for reflection (DNS, NTP, SSDP, ...).
//! - [`beacon`]: periodic contacts of internal hosts with outside services, tracked
//!   as the flows pass (bounded), for `beaconing`.
//! - [`features`]: per-host features in 10-second buckets, accumulated from a batch of
//!   flow records and bounded to the hosts that matter (top-N per signal).
//! - [`profile`]: one host's behaviour over a window as a fixed-length vector, the
//!   input of the host behaviour classifier (`flowvision-models`).
//! - [`detect`]: the deterministic detectors (floods, reflection, scans, sweeps,
//!   exfiltration, beaconing) over a window of merged feature rows and periodic
//!   contacts, and the [`Insight`]s they report.
//!
//! Where each piece runs: the collector's database writers call
//! [`features::HostFeatureSet`] and [`beacon::BeaconTracker`] on every batch they
//! store and write the rows in the batch's transaction (so a feature row exists exactly when its flows do); the console
//! reads the rows of the last seconds and calls [`detect::run`].

pub mod activity;
pub mod amplifier;
pub mod beacon;
pub mod detect;
pub mod features;
pub mod profile;
pub mod sketch;

pub use detect::{Insight, Kind, Severity, Timeline, CONTINUATION_GAP_MS};
pub use features::{HostFeatureSet, HostFeatures, HostKey, BUCKET_MS};
pub use sketch::Distinct;
