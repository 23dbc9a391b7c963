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

/// `insights host`: exit status 0, 1 on a database error, 2 on bad arguments or
/// configuration.
fn host(args: &HostArgs) -> i32 {
    let cfg = match WebConfig::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("flowvision-web: configuration: {e}");
            return 2;
        }
    };
    let parse = |name: &str, v: &Option<String>| flowvision_web::params::opt_time(name, v);
    let range = parse("to", &args.to).and_then(|t| parse("from", &args.from).map(|f| (f, t)));
    let (from, to) = match range {
        Ok((f, t)) => {
            let to = t.unwrap_or_else(time::OffsetDateTime::now_utc);
            (f.unwrap_or(to - time::Duration::hours(1)), to)
        }
        Err(e) => {
            eprintln!("flowvision-web: {}", e.status_and_message().1);
            return 2;
        }
    };
    if from >= to {
        eprintln!("flowvision-web: --from must be before --to");
        return 2;
    }
    let models = flowvision_web::models::ModelService::load(&cfg.models_dir);
    let scope = flowvision_web::auth::command_line_scope();
    let run = async {
        let db = flowvision_web::data::Db::new(&cfg).map_err(|e| e.to_string())?;
        flowvision_web::hosts::report(&db, &models, &scope, args.address, from, to)
            .await
            .map_err(|e| e.status_and_message().1)
    };
    let runtime = match rocket::tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("flowvision-web: {e}");
            return 1;
        }
    };
    match runtime.block_on(run) {
        Ok(r) => match serde_json::to_string(&r) {
            Ok(s) => {
                println!("{s}");
                0
            }
            Err(e) => {
                eprintln!("flowvision-web: {e}");
                1
            }
        },
        Err(e) => {
            eprintln!("flowvision-web: {e}");
            1
        }
    }
}

/// `insights backtest`: exit status 0, 1 on a database error, 2 on bad arguments or
/// configuration.
fn backtest(args: &BacktestArgs) -> i32 {
    let cfg = match WebConfig::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("flowvision-web: configuration: {e}");
            return 2;
        }
    };
    let range = flowvision_web::params::parse_time("from", &args.from)
        .and_then(|f| flowvision_web::params::parse_time("to", &args.to).map(|t| (f, t)));
    let (from, to) = match range {
        Ok((f, t)) if f < t => (f, t),
        Ok(_) => {
            eprintln!("flowvision-web: --from must be before --to");
            return 2;
        }
        Err(e) => {
            eprintln!("flowvision-web: {}", e.status_and_message().1);
            return 2;
        }
    };
    let ms = flowvision_web::data::insights::unix_ms;
    let run = async {
        let db = flowvision_web::data::Db::new(&cfg)?;
        flowvision_web::insights::detect_range(&db, &cfg.insight_thresholds, ms(from), ms(to)).await
    };
    let runtime = match rocket::tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("flowvision-web: {e}");
            return 1;
        }
    };
    match runtime.block_on(run) {
        Ok(found) => {
            for i in &found {
                println!("{}", flowvision_web::data::insights::backtest_json(i));
            }
            0
        }
        Err(e) => {
            eprintln!("flowvision-web: {e}");
            1
        }
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
