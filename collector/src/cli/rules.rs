//! `flowvision-collector rules add|list|del`: edits the forwarding rules in the
//! database (DATABASE_URL). Running collectors pick changes up within a second
//! (the table's trigger NOTIFYs them).

use clap::{Args, Subcommand};
use flowvision_filter::rule::{reencode_protocol, resolve};
use flowvision_filter::rules::{self, StoredRule};
use std::process::ExitCode;
use tokio_postgres::NoTls;

/// `rules` subcommands.
#[derive(Debug, Args)]
pub struct RulesArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: RulesCommand,
}

/// `rules` subcommands.
#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Add (or replace) a rule.
    Add(AddArgs),
    /// List the rules in evaluation order.
    List,
    /// Delete a rule.
    Del {
        /// The rule's name.
        name: String,
    },
}

/// `rules add`.
#[derive(Debug, Args)]
pub struct AddArgs {
    /// Unique name.
    pub name: String,
    /// Filter, e.g. `proto tcp and dst port 443 and src net 10.0.0.0/8`.
    #[arg(long)]
    pub filter: String,
    /// Destination HOST:PORT (IPv6 as [ADDR]:PORT). Omit with --drop.
    #[arg(long)]
    pub to: Option<String>,
    /// Re-encode the matching records as netflow_v9 or ipfix (default: forward the
    /// original datagrams).
    #[arg(long)]
    pub reencode: Option<String>,
    /// Keep the exporter's source address (raw forwarding; needs CAP_NET_RAW on the
    /// collector).
    #[arg(long)]
    pub transparent: bool,
    /// Matching records are not forwarded by later rules.
    #[arg(long, conflicts_with_all = ["to", "reencode", "transparent"])]
    pub drop: bool,
    /// Evaluation order (lower first).
    #[arg(long, default_value_t = 0)]
    pub position: i32,
}

/// Runs a `rules` subcommand.
pub fn run(args: &RulesArgs) -> ExitCode {
    match execute(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(m)) => {
            eprintln!("{m}");
            ExitCode::from(2)
        }
        Err(Failure::Other(m)) => {
            eprintln!("flowvision-collector rules: {m}");
            ExitCode::FAILURE
        }
    }
}

enum Failure {
    Usage(String),
    Other(String),
}

fn other(e: impl std::fmt::Display) -> Failure {
    Failure::Other(e.to_string())
}

/// Checks `add` arguments before touching the database; the message points at the
/// bad token of the filter.
fn validate(a: &AddArgs) -> Result<(), Failure> {
    if let Err(e) = flowvision_filter::parse(&a.filter) {
        return Err(Failure::Usage(format!("invalid --filter: {e}\n{}", e.caret(&a.filter))));
    }
    if a.drop {
        return Ok(());
    }
    let Some(to) = &a.to else {
        return Err(Failure::Usage("--to HOST:PORT is required (or --drop)".into()));
    };
    resolve(to).map_err(|e| Failure::Usage(format!("invalid --to: {e}")))?;
    if let Some(p) = &a.reencode {
        reencode_protocol(p).map_err(|e| Failure::Usage(format!("invalid --reencode: {e}")))?;
        if a.transparent {
            return Err(Failure::Usage("--transparent applies to raw forwarding, not --reencode".into()));
        }
    }
    Ok(())
}

/// The row `add` stores (arguments checked by [`validate`]); an added rule is enabled.
fn stored_rule(a: &AddArgs) -> StoredRule {
    let (action, protocol) = match (&a.reencode, a.drop) {
        (_, true) => ("drop", None),
        (Some(p), _) => ("reencode", Some(p.as_str())),
        (None, _) => ("raw", None),
    };
    let protocol = protocol.map(|p| match p {
        "v9" | "netflow9" => "netflow_v9",
        p => p,
    });
    StoredRule {
        name: a.name.clone(),
        filter: a.filter.clone(),
        destination: a.to.clone(),
        action: action.to_string(),
        protocol: protocol.map(str::to_string),
        transparent: a.transparent,
        position: a.position,
        enabled: true,
    }
}

fn execute(args: &RulesArgs) -> Result<(), Failure> {
    if let RulesCommand::Add(a) = &args.command {
        validate(a)?;
    }
    let url = std::env::var("DATABASE_URL")
        .map_err(|_| Failure::Usage("DATABASE_URL is not set (postgresql://user@host/db)".into()))?;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(other)?;
    rt.block_on(async move {
        let (client, connection) = tokio_postgres::connect(&url, NoTls).await.map_err(other)?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        // The table may not exist yet when no collector has started on this database.
        crate::store::migrate::apply(&client, crate::store::migrate::MIGRATIONS).await.map_err(other)?;
        match &args.command {
            RulesCommand::Add(a) => {
                rules::save(&client, &stored_rule(a)).await.map_err(other)?;
                println!("rule {} saved", a.name);
            }
            RulesCommand::List => {
                println!(
                    "{:<20} {:<9} {:<11} {:<28} {:>4} FILTER",
                    "NAME", "ACTION", "PROTOCOL", "TO", "POS"
                );
                for r in rules::list(&client).await.map_err(other)? {
                    let action = if r.transparent { "raw+transp" } else { r.action.as_str() };
                    println!(
                        "{:<20} {:<9} {:<11} {:<28} {:>4} {}{}",
                        r.name,
                        action,
                        r.protocol.as_deref().unwrap_or("-"),
                        r.destination.as_deref().unwrap_or("-"),
                        r.position,
                        r.filter,
                        if r.enabled { "" } else { "  (disabled)" }
                    );
                }
            }
            RulesCommand::Del { name } => {
                if !rules::delete(&client, name).await.map_err(other)? {
                    return Err(Failure::Other(format!("no rule named {name}")));
                }
                println!("rule {name} deleted");
            }
        }
        Ok(())
    })
}
