//! The insights' learned models, run with libtorch through `tch` (CPU, one thread):
//!
//! - [`classifier`]: the host behaviour classifier: a host's [`HostProfile`] vector to
//!   a class (web server, DNS resolver, mail server, NTP server, database, workstation,
//!   scanner, IoT/beaconing device) with its confidence and the features that decided
//!   it. Trained reproducibly from labelled simulator traffic by
//!   `cargo run --release -p flowvision-models --bin train-host-classifier` ([`training`]);
//!   the weights are shipped in `weights/` and compiled into the console.
//! - [`anomaly`]: the host anomaly model: an autoencoder over hosts' minutes, trained
//!   on the appliance's own history by the console on a schedule, versioned and kept in
//!   PostgreSQL; a minute it reconstructs badly becomes a `host_anomaly` insight with
//!   the features that carry the error.
//! - [`file`]: the model file: metadata, weights and a checksum in one JSON document, so
//!   that a truncated or altered file is refused with a clear [`ModelError`] and the
//!   console keeps running its deterministic detectors.
//! - [`mlp`]: the small fully-connected network both are built from.
//!
//! Where it runs: in the console only (`flowvision-web`); the collector never links
//! libtorch. docs/models.md has the decisions and the measurements.
//!
//! [`HostProfile`]: flowvision_insights::profile::HostProfile

pub mod anomaly;
pub mod classifier;
pub mod error;
pub mod file;
pub mod mlp;
pub mod training;

pub use anomaly::{AnomalyScore, HostAnomalyModel};
pub use classifier::{Classification, HostClassifier};
pub use error::ModelError;

/// Sets libtorch to one intra-op thread: the appliance's cores belong to the collector.
/// Call before any model runs; later calls do nothing (libtorch refuses a second
/// setting of its inter-op pool once work has run).
pub fn init_torch() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        tch::set_num_threads(1);
        tch::set_num_interop_threads(1);
    });
}
