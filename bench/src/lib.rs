//! Shared workloads of FlowVision's benchmarks.
//!
//! The codec benchmark needs the same datagrams for FlowVision and for its peers, so
//! they are generated here, deterministically, with the codec's own encoders.

pub mod console;
pub mod workload;
