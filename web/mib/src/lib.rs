//! SNMP MIB modules for FlowVision: load them, resolve their imports and OIDs, and
//! browse the resulting OID tree.
//!
//! The console will show the tree and object pages from this model, and sysObjectID →
//! product lookup uses the node names of vendors' product MIBs
//! ([`Mib::longest_prefix`]).
//!
//! Parsing and resolution are done by FlowVision's own SMI reader (`smi`: lexer, module
//! splitter, linker), lenient and fast enough to resolve a thousand vendor modules in
//! less time than net-snmp's snmptranslate; the `mib-rs` crate, the engine before it,
//! remains selectable ([`Engine::MibRs`]) as the reference the tests compare it with.
//! docs/mib.md records both evaluations against net-snmp. What this crate provides:
//!
//! - [`scan`]: finds the modules a file holds by the `NAME DEFINITIONS ::= BEGIN` lines
//!   in its text, so imports resolve by module name and never by file name;
//! - [`resolve()`]: the core entry point, over in-memory [`SourceText`]s (no I/O);
//! - [`Mib`], [`MibNode`], [`ModuleInfo`]: an owned model, the same whichever engine
//!   built it, sorted in OID order;
//! - [`Diagnostic`]s with file, line and severity, including files holding no module and
//!   a module defined by several files;
//! - [`base`]: where the base modules are looked for at run time;
//! - [`fs`]: the I/O edge, which walks folders and reads files into [`SourceText`]s;
//! - [`bundle`]: uploaded files and archives (.zip, .tar.gz) unpacked in memory, bounded.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic))]

pub mod base;
pub mod bundle;
pub mod diagnostic;
pub mod fs;
pub mod model;
pub mod oid;
mod resolve;
pub mod revision;
pub mod scan;
mod smi;
pub mod source;
pub mod tree;

pub use diagnostic::{Diagnostic, Severity};
pub use model::{Access, MibNode, ModuleInfo, NodeKind, Status, Syntax};
pub use oid::Oid;
pub use resolve::{resolve, resolve_incremental, Engine, ResolveOptions};
pub use source::SourceText;
pub use tree::{FileReport, Mib};
