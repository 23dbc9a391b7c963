//! `flowvision-snmp`: how the console learns what flows only number. Exporters send
//! ifIndex values and their own address; a [`poll`] of the exporter's SNMP agent
//! (v2c or v3) returns sysName, sysDescr, sysObjectID and every interface's ifName,
//! ifAlias, ifDescr, speed and state, which the console stores and shows wherever an
//! exporter or interface appears. [`enterprises`] turns a sysObjectID into a vendor;
//! [`sealed`] keeps communities and v3 passwords encrypted at rest.
//!
//! No database or web framework here: scheduling, storage and the API are the
//! console's (web/src/snmp). See docs/snmp.md.

pub mod credentials;
pub mod device;
pub mod enterprises;
pub mod error;
pub mod poll;
pub mod sealed;

pub use credentials::{AuthProtocol, Credentials, CredentialsError, PrivProtocol};
pub use device::{Device, Interface, OperStatus};
pub use enterprises::Enterprises;
pub use error::{PollError, PollErrorKind};
pub use poll::{poll, PollOptions};
pub use sealed::{SealError, SealKey};
