//! Flow relay: rule-based filter-and-forward to other collectors (docs/relay.md).
//!
//! ```text
//! worker: decode -> RelayWorker::forward (per record: rules' filters)
//!   raw:      original datagram (copied into a pooled batch buffer) -> destination queue
//!             -> sendmmsg (UDP) / raw socket
//!   reencode: matching records               -> destination queue -> TemplateEncoder -> UDP
//! ```
//!
//! Every destination has its own bounded queue and sender thread; workers never wait
//! for one. Rules come from PostgreSQL and are swapped in live ([`reload`]); the
//! filter language and the rules repository are the `flowvision-filter` crate.

pub mod destination;
pub mod multisend;
pub mod reencode;
pub mod relay;
pub mod reload;
pub mod transparent;

pub use flowvision_filter::{Action, Rule};
pub use relay::{Relay, RelayWorker};
