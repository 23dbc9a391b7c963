//! FlowVision's flow simulator: realistic NetFlow v5/v9, IPFIX and sFlow v5 traffic
//! from many exporters, with labelled anomalies, sent over UDP at a paced rate or
//! written to a pcap file. It is the load source of FlowVision's benchmarks and the
//! ground truth of its insights.
//!
//! ```text
//! scenario (TOML + flags) ─> Plan ─> Simulation ──┬─ TrafficModel (hosts, services, sizes, diurnal)
//!                                                 ├─ Injector per anomaly ──────────> labels (JSONL)
//!                                                 └─ Exporter per device (conform, pack, encode)
//!                                                        └─> Datagram + its records ─> Outputs (UDP | pcap | records)
//!                                                                                  └─> Summary
//! ```
//!
//! A run is [`run`] on the caller's thread, or [`start`] on its own thread: the
//! [`SimulationHandle`] reads its [`Progress`], cancels it and joins it for the
//! [`Outcome`] (summary and labels), so that a console can run several at once.
//!
//! Everything is deterministic for a seed ([`rng`]); time is simulated ([`clock`]);
//! what each protocol can carry, and so what collectors count, is in [`conform`].
//! The encoders are the codec's ([`flowvision_codec::encode`]).

pub mod anomaly;
pub mod cli;
pub mod clock;
pub mod conform;
pub mod error;
pub mod exporter;
pub mod handle;
pub mod output;
pub mod rng;
pub mod roles;
pub mod run;
pub mod sample_train;
pub mod sampler;
pub mod scenario;
pub mod simulation;
pub mod summary;
pub mod traffic;

pub use anomaly::labels::Label;
pub use anomaly::AnomalyKind;
pub use error::SimError;
pub use exporter::{Datagram, Sink};
pub use handle::{start, SimulationHandle};
pub use run::{run, Outcome, Progress, RunOptions, RunState};
pub use scenario::{Plan, Scenario};
pub use simulation::Simulation;
pub use summary::Summary;
