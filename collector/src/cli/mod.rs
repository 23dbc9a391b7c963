//! Command-line interface of the `flowvision-collector` binary.

pub mod archive;
pub mod decode;
pub mod rules;

use clap::{Args, Parser, Subcommand};

/// FlowVision collector: receives NetFlow v5/v9, IPFIX and sFlow v5, decodes,
/// forwards and stores flows.
#[derive(Debug, Parser)]
#[command(name = "flowvision-collector", version)]
pub struct Cli {
    /// What to do (default: run).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the collector daemon (the default).
    Run(RunArgs),
    /// Decode flow datagrams from capture files or raw payloads and print one JSON
    /// object per flow record.
    Decode(decode::DecodeArgs),
    /// Manage the forwarding (relay) rules stored in the database (DATABASE_URL).
    Rules(rules::RulesArgs),
    /// The flow archive in the S3 bucket (USE_EXTERNAL_STORAGE): archive now, list the
    /// catalog, restore archived rows.
    Archive(archive::ArchiveArgs),
}

/// Options of `run` (configuration comes from the environment).
#[derive(Debug, Default, Args)]
pub struct RunArgs {}
