//! `flowvision-collector`: the data-plane daemon and its tools.

use clap::Parser;
use flowvision_collector::cli::{decode, Cli, Command};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        None | Some(Command::Run(_)) => {
            eprintln!("flowvision-collector: not yet implemented: run");
            ExitCode::from(2)
        }
        Some(Command::Decode(args)) => decode::run(&args),
    }
}
