//! Counting everything: every datagram is received, decoded or undecodable (by
//! reason), every row stored or dropped (by reason). Exposed as Prometheus text on
//! `/metrics` and written to the statistics table.

pub mod counters;
pub mod kernel;
pub mod metrics;

pub use counters::{Counters, ExporterCounters, WorkerCounters};
