//! The simulator's library errors.

use std::io;
use std::net::SocketAddr;
use thiserror::Error;

/// Everything that can stop a simulation.
#[derive(Debug, Error)]
pub enum SimError {
    /// The scenario file could not be read.
    #[error("cannot read scenario {path}: {source}")]
    ReadScenario {
        /// The file.
        path: String,
        /// Why.
        source: io::Error,
    },
    /// The scenario is not valid TOML for the scenario format.
    #[error("scenario {path}: {message}")]
    ParseScenario {
        /// The file (or `<flags>`).
        path: String,
        /// The parser's message, with line and column.
        message: String,
    },
    /// A value of the scenario or of a flag is out of range or inconsistent.
    #[error("invalid scenario: {0}")]
    Invalid(String),
    /// A socket could not be opened or bound.
    #[error("cannot open a UDP socket bound to {addr}: {source}")]
    Bind {
        /// The local address.
        addr: SocketAddr,
        /// Why.
        source: io::Error,
    },
    /// Writing an output file failed.
    #[error("cannot write {what}: {source}")]
    Write {
        /// Which output.
        what: String,
        /// Why.
        source: io::Error,
    },
    /// The pcap writer refused a datagram.
    #[error("pcap output: {0}")]
    Pcap(#[from] flowvision_capture::WriteError),
    /// An encoder split a batch the exporter had sized for one datagram: the
    /// simulator's own account of what it sent would be wrong, so it stops.
    #[error("exporter {exporter}: {datagrams} datagrams for one batch of {records} records (packing bug)")]
    Packing {
        /// Exporter index.
        exporter: usize,
        /// Records in the batch.
        records: usize,
        /// Datagrams the encoder produced.
        datagrams: usize,
    },
    /// The thread that runs a started simulation could not be created.
    #[error("cannot start the simulation thread: {0}")]
    Spawn(io::Error),
    /// The simulation thread panicked (a bug): the run's outputs may be incomplete.
    #[error("the simulation thread panicked: {0}")]
    Panicked(String),
}
