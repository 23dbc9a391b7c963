//! `flowvision-collector`: the data-plane daemon's library and its command-line
//! tools. The binary (`src/main.rs`) only parses arguments and dispatches here, so
//! tests and other tools reuse the same code.

pub mod cli;
pub mod clock;
pub mod config;
pub mod daemon;
pub mod forward;
pub mod ingest;
pub mod logger;
pub mod pipeline;
pub mod store;
pub mod telemetry;
