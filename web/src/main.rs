//! `flowvision-web`: the console by default (`serve`). It reads its configuration from
//! the environment (see docs/web.md), applies the schema migrations, creates the first
//! admin if there is none, and serves the console. Bad usage (unknown subcommand or
//! argument) prints the usage on stderr, and a configuration error one line; both
//! exit with status 2. `mib dump` (src/mib_dump.rs) reads no configuration at all.

mod mib_dump;

use clap::Parser;
use flowvision_web::cli::{BacktestArgs, Cli, Command, HostArgs, InsightsCommand, MibCommand};
use flowvision_web::config::WebConfig;

fn main() {
    let cli = Cli::parse();
    match cli.command {
        None | Some(Command::Serve(_)) => serve(),
        Some(Command::Mib(MibCommand::Dump(args))) => std::process::exit(mib_dump::run(&args.paths)),
        Some(Command::Insights(InsightsCommand::Backtest(args))) => std::process::exit(backtest(&args)),
        Some(Command::Insights(InsightsCommand::Host(args))) => std::process::exit(host(&args)),
    }
}

/// A command's configuration, or its exit status (2) once the reason is printed.
fn command_config() -> Result<WebConfig, i32> {
    WebConfig::from_env().map_err(|e| {
        eprintln!("flowvision-web: configuration: {e}");
        2
    })
}

/// Runs a command's database work on a one-thread runtime: its result, or exit
/// status 1 once the reason is printed.
fn run_command<T, E: std::fmt::Display>(
    work: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, i32> {
    let fail = |e: &dyn std::fmt::Display| {
        eprintln!("flowvision-web: {e}");
        1
    };
    let runtime =
        rocket::tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| fail(&e))?;
    runtime.block_on(work).map_err(|e| fail(&e))
}

/// A bad argument: the reason printed, exit status 2.
fn bad_argument(why: &str) -> i32 {
    eprintln!("flowvision-web: {why}");
    2
}

/// `insights host`: exit status 0, 1 on a database error, 2 on bad arguments or
/// configuration.
fn host(args: &HostArgs) -> i32 {
    let run = || -> Result<(), i32> {
        let cfg = command_config()?;
        let parse = |name: &str, v: &Option<String>| flowvision_web::params::opt_time(name, v);
        let (from, to) = match parse("to", &args.to).and_then(|t| parse("from", &args.from).map(|f| (f, t))) {
            Ok((f, t)) => {
                let to = t.unwrap_or_else(time::OffsetDateTime::now_utc);
                (f.unwrap_or(to - time::Duration::hours(1)), to)
            }
            Err(e) => return Err(bad_argument(&e.status_and_message().1)),
        };
        if from >= to {
            return Err(bad_argument("--from must be before --to"));
        }
        let models = flowvision_web::models::ModelService::load(&cfg.models_dir);
        let scope = flowvision_web::auth::command_line_scope();
        let report = run_command(async {
            let db = flowvision_web::data::Db::new(&cfg).map_err(|e| e.to_string())?;
            flowvision_web::hosts::report(&db, &models, &scope, args.address, from, to).await.map_err(|e| {
                match e {
                    // The operator at the command line sees the database's own words.
                    flowvision_web::error::AppError::Internal(m) => m,
                    other => other.status_and_message().1,
                }
            })
        })?;
        let line = serde_json::to_string(&report).map_err(|e| {
            eprintln!("flowvision-web: {e}");
            1
        })?;
        println!("{line}");
        Ok(())
    };
    run().err().unwrap_or(0)
}

/// `insights backtest`: exit status 0, 1 on a database error, 2 on bad arguments or
/// configuration.
fn backtest(args: &BacktestArgs) -> i32 {
    let run = || -> Result<(), i32> {
        let cfg = command_config()?;
        let range = flowvision_web::params::parse_time("from", &args.from)
            .and_then(|f| flowvision_web::params::parse_time("to", &args.to).map(|t| (f, t)));
        let (from, to) = match range {
            Ok((f, t)) if f < t => (f, t),
            Ok(_) => return Err(bad_argument("--from must be before --to")),
            Err(e) => return Err(bad_argument(&e.status_and_message().1)),
        };
        let ms = flowvision_web::data::insights::unix_ms;
        let found = run_command(async {
            let db = flowvision_web::data::Db::new(&cfg)?;
            flowvision_web::insights::detect_range(&db, &cfg.insight_thresholds, ms(from), ms(to)).await
        })?;
        for i in &found {
            println!("{}", flowvision_web::data::insights::backtest_json(i));
        }
        Ok(())
    };
    run().err().unwrap_or(0)
}

fn serve() {
    let cfg = match command_config() {
        Ok(c) => c,
        Err(status) => std::process::exit(status),
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
