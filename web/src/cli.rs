//! The `flowvision-web` command line. Serving the console is the default, so that
//! `flowvision-web` alone keeps starting it; `serve` is its explicit form, and later
//! tools of the console are subcommands beside it. The configuration is the
//! environment (docs/web.md), not flags: the command line only chooses what to do,
//! and refuses what it does not know (usage on stderr, exit status 2) rather than
//! starting the console with arguments ignored.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

const AFTER_HELP: &str = "\
Configuration comes from the environment (docs/web.md): DATABASE_URL (required), WEB_LISTEN
[0.0.0.0:8000], WEB_TLS_CERT and WEB_TLS_KEY, WEB_COOKIE_SECURE, WEB_IP_HEADER,
FLOWVISION_ADMIN_USER and FLOWVISION_ADMIN_PASSWORD (first admin), WEB_ASSETS_DIR,
WEB_SEARCH_TIMEOUT_MS, WEB_QUERY_TIMEOUT_MS, WEB_SEARCH_MAX_ROWS, WEB_EXPORT_MAX_ROWS,
WEB_DB_POOL, WEB_ARGON2_MEMORY_KIB, WEB_ARGON2_ITERATIONS, WEB_ARGON2_PARALLELISM, WEB_LOG,
WEB_WORKERS.

Exit status: 0 after a clean shutdown, 1 when the console cannot start (database,
migrations) or stops on an error, 2 on bad usage or bad configuration.

`flowvision-web mib dump PATH...` needs none of that configuration: it prints the OID tree of
the MIB files under PATH (files and folders, recursively) with the base modules from
/usr/share/snmp/mibs or FLOWVISION_BASE_MIBS, one `MODULE::name<TAB>oid` line per node in OID
order, problems on stderr (docs/mib.md).

`flowvision-web insights backtest --from T --to T` runs the insight detectors over the stored
host features of that range (DATABASE_URL, INSIGHT_THRESHOLDS) and prints one JSON insight per
line (docs/insights.md).";

/// FlowVision web console: dashboards, flow search and the JSON API over the
/// collector's database.
#[derive(Debug, Parser)]
#[command(name = "flowvision-web", version, after_help = AFTER_HELP)]
pub struct Cli {
    /// What to do (default: serve).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the console and the JSON API (the default).
    Serve(ServeArgs),
    /// SNMP MIB modules (no database or console configuration needed).
    #[command(subcommand)]
    Mib(MibCommand),
    /// Insights (needs DATABASE_URL).
    #[command(subcommand)]
    Insights(InsightsCommand),
}

/// `insights` subcommands.
#[derive(Debug, Subcommand)]
pub enum InsightsCommand {
    /// Run the detectors over a stored time range (flow time) and print each insight as
    /// one JSON object per line, as the live engine stores them; nothing is written.
    Backtest(BacktestArgs),
    /// What the console knows of one host (its behaviour class and why, and the insights
    /// naming it) over a time range, as the JSON of `GET /api/v1/hosts/<addr>`.
    Host(HostArgs),
}

/// Arguments of `insights host`.
#[derive(Debug, Args)]
pub struct HostArgs {
    /// The host's address.
    pub address: std::net::IpAddr,
    /// Start (RFC 3339 or Unix ms) [an hour before --to].
    #[arg(long)]
    pub from: Option<String>,
    /// End (RFC 3339 or Unix ms) [now].
    #[arg(long)]
    pub to: Option<String>,
}

/// Arguments of `insights backtest`.
#[derive(Debug, Args)]
pub struct BacktestArgs {
    /// Start (RFC 3339 or Unix ms).
    #[arg(long)]
    pub from: String,
    /// End (RFC 3339 or Unix ms).
    #[arg(long)]
    pub to: String,
}

/// `mib` subcommands.
#[derive(Debug, Subcommand)]
pub enum MibCommand {
    /// Load MIB files and folders (recursively) with the base modules, resolve them and
    /// print every named OID node as `MODULE::name<TAB>oid`, in OID order; problems go to
    /// stderr as `file:line: severity: message`. Exit status 0 even when modules have
    /// problems, 1 when a file cannot be read, 2 when a PATH does not exist.
    Dump(MibDumpArgs),
}

/// Arguments of `mib dump`.
#[derive(Debug, Args)]
pub struct MibDumpArgs {
    /// MIB files or folders; every file under a folder is tried, whatever its name.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
}

/// Options of `serve` (configuration comes from the environment).
#[derive(Debug, Default, Args)]
pub struct ServeArgs {}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn serve_is_the_default_and_unknown_words_are_refused() {
        Cli::command().debug_assert();
        assert!(Cli::try_parse_from(["flowvision-web"]).unwrap().command.is_none());
        assert!(matches!(
            Cli::try_parse_from(["flowvision-web", "serve"]).unwrap().command,
            Some(Command::Serve(_))
        ));
        for args in [&["insights", "foo"][..], &["--bogus"], &["serve", "--bogus"], &["serve", "extra"]] {
            let err = Cli::try_parse_from(std::iter::once("flowvision-web").chain(args.iter().copied()))
                .unwrap_err();
            assert_eq!(err.exit_code(), 2, "{args:?}");
        }
    }

    #[test]
    fn backtest_needs_a_range() {
        match Cli::try_parse_from(["flowvision-web", "insights", "backtest", "--from", "1", "--to", "2"])
            .unwrap()
            .command
        {
            Some(Command::Insights(InsightsCommand::Backtest(a))) => {
                assert_eq!((a.from.as_str(), a.to.as_str()), ("1", "2"))
            }
            other => panic!("{other:?}"),
        }
        for args in [&["insights"][..], &["insights", "backtest"], &["insights", "backtest", "--from", "1"]] {
            let err = Cli::try_parse_from(std::iter::once("flowvision-web").chain(args.iter().copied()))
                .unwrap_err();
            assert_eq!(err.exit_code(), 2, "{args:?}");
        }
    }

    #[test]
    fn mib_dump_takes_one_or_more_paths() {
        match Cli::try_parse_from(["flowvision-web", "mib", "dump", "a", "b/c"]).unwrap().command {
            Some(Command::Mib(MibCommand::Dump(args))) => {
                assert_eq!(args.paths, [PathBuf::from("a"), PathBuf::from("b/c")]);
            }
            other => panic!("{other:?}"),
        }
        for args in [&["mib"][..], &["mib", "dump"], &["mib", "load", "x"], &["mib", "dump", "--bogus", "x"]]
        {
            let err = Cli::try_parse_from(std::iter::once("flowvision-web").chain(args.iter().copied()))
                .unwrap_err();
            assert_eq!(err.exit_code(), 2, "{args:?}");
        }
    }
}
