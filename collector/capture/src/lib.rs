//! Capture files for FlowVision: pcap and pcapng reading, UDP datagram extraction
//! from captured frames, and a pcap writer.
//!
//! ```text
//! Read ─> FrameReader (pcap | pcapng) ─> link (Ethernet/VLAN, raw, SLL, loopback)
//!      ─> ip (IPv4 options, IPv6 extension headers) ─> reassembly ─> UDP ─> Datagram
//! ```
//!
//! The Ethernet/VLAN and IP headers are read with the codec's parser
//! (`flowvision_codec::packet`, the one sFlow's sampled headers go through); what is
//! capture's own is the link types, the UDP extraction rules and the reassembly.
//!
//! Everything is pure parsing of bytes from any [`std::io::Read`] (files, stdin);
//! no input can make it panic. File-level problems are [`CaptureError`]s; frames that
//! hold no UDP datagram are counted by [`SkipReason`] in [`CaptureStats`].

pub mod error;
pub mod frame;
mod input;
pub mod ip;
pub mod link;
pub mod pcap;
pub mod pcapng;
pub mod reader;
pub mod reassembly;
pub mod stats;
pub mod writer;

pub use error::{CaptureError, WriteError};
pub use frame::{CaptureFormat, Frame, FrameReader, LinkType};
pub use reader::{Datagram, DatagramReader, OwnedDatagram};
pub use reassembly::{Reassembler, ReassemblyConfig};
pub use stats::{CaptureStats, SkipCounts, SkipReason};
pub use writer::PcapWriter;
