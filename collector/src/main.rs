//! `flowvision-collector`: the data-plane daemon and its tools.

use clap::Parser;
use flowvision_collector::cli::{decode, Cli, Command};
use flowvision_collector::config::CollectorConfig;
use flowvision_collector::{daemon, logger};
use std::process::ExitCode;

// The workers allocate batches at line rate; mimalloc's per-thread heaps avoid the
// system allocator's contention.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        None | Some(Command::Run(_)) => run(),
        Some(Command::Decode(args)) => decode::run(&args),
        Some(Command::Rules(args)) => flowvision_collector::cli::rules::run(&args),
        Some(Command::Archive(args)) => flowvision_collector::cli::archive::run(&args),
    }
}

fn run() -> ExitCode {
    logger::init();
    let config = match CollectorConfig::from_env() {
        Ok(c) => c,
        Err(e) => {
            // One clear line, exit code 2: bad configuration is the operator's to fix.
            eprintln!("flowvision-collector: bad configuration: {e}");
            return ExitCode::from(2);
        }
    };
    match daemon::run(config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            log::error!("{e:#}");
            ExitCode::FAILURE
        }
    }
}
