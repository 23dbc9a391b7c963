//! `flowvision-web`: the console by default (`serve`). It reads its configuration from
//! the environment (see docs/web.md), applies the schema migrations, creates the first
//! admin if there is none, and serves the console. Bad usage (unknown subcommand or
//! argument) prints the usage on stderr, and a configuration error one line; both
//! exit with status 2. `mib dump` (src/mib_dump.rs) reads no configuration at all.

mod mib_dump;

use clap::Parser;
use flowvision_web::cli::{Cli, Command, MibCommand};
use flowvision_web::config::WebConfig;

fn main() {
    let cli = Cli::parse();
    match cli.command {
        None | Some(Command::Serve(_)) => serve(),
        Some(Command::Mib(MibCommand::Dump(args))) => std::process::exit(mib_dump::run(&args.paths)),
    }
}

fn serve() {
    let cfg = match WebConfig::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("flowvision-web: configuration: {e}");
            std::process::exit(2);
        }
    };
    let rocket = match flowvision_web::build(cfg) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("flowvision-web: {e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = rocket::execute(rocket.launch()) {
        // Ignition failures (database, migrations) were already printed as one line.
        if !matches!(e.kind(), rocket::error::ErrorKind::FailedFairings(_)) {
            eprintln!("flowvision-web: {e}");
        }
        std::process::exit(1);
    }
}
