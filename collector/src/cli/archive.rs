//! `flowvision-collector archive run|list|restore|restores|unrestore`: the flow archive
//! by hand (docs/archive.md). The configuration is the daemon's: `DATABASE_URL`,
//! `USE_EXTERNAL_STORAGE=true` and `MINIO_*`, `STATE_DIR`, `FLOW_RETENTION_DAYS`.

use crate::config::CollectorConfig;
use clap::{Args, Subcommand};
use flowvision_archive::archiver::connect;
use flowvision_archive::{catalog, restore, ArchiveStats, Archiver};
use flowvision_codec::time::parse_rfc3339_ms;
use std::process::ExitCode;
use std::sync::Arc;

/// `archive` subcommands.
#[derive(Debug, Args)]
pub struct ArchiveArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: ArchiveCommand,
}

/// `archive` subcommands.
#[derive(Debug, Subcommand)]
pub enum ArchiveCommand {
    /// Archive every closed partition not archived yet, now (waiting retries included).
    Run,
    /// Print the archive catalog: one line per partition (JSON Lines with --json).
    List {
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
        /// With each partition's objects.
        #[arg(long)]
        objects: bool,
    },
    /// Load archived rows received in [FROM, TO) back for flow search and statistics.
    Restore {
        /// Start (RFC 3339, e.g. 2026-11-02T13:00:00Z, or a date).
        #[arg(long)]
        from: String,
        /// End, exclusive.
        #[arg(long)]
        to: String,
    },
    /// List restores (JSON Lines with --json).
    Restores {
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Remove the rows of a restore.
    Unrestore {
        /// The restore's id (see `archive restores`).
        id: i64,
    },
}

enum Failure {
    Usage(String),
    Other(String),
}

fn other(e: impl std::fmt::Display) -> Failure {
    Failure::Other(e.to_string())
}

/// Runs an `archive` subcommand: 0 on success, 1 when it failed (or a partition could
/// not be archived), 2 on bad usage or configuration.
pub fn run(args: &ArchiveArgs) -> ExitCode {
    crate::logger::init();
    match execute(args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(Failure::Usage(m)) => {
            eprintln!("flowvision-collector archive: {m}");
            ExitCode::from(2)
        }
        Err(Failure::Other(m)) => {
            eprintln!("flowvision-collector archive: {m}");
            ExitCode::FAILURE
        }
    }
}

fn time_arg(name: &str, value: &str) -> Result<i64, Failure> {
    parse_rfc3339_ms(value)
        .ok_or_else(|| Failure::Usage(format!("--{name} {value:?}: expected an RFC 3339 time or a date")))
}

fn execute(args: &ArchiveArgs) -> Result<bool, Failure> {
    let config =
        CollectorConfig::from_env().map_err(|e| Failure::Usage(format!("bad configuration: {e}")))?;
    let archive_config = || {
        config.archive.clone().ok_or_else(|| {
            Failure::Usage(
                "the archive is off: set USE_EXTERNAL_STORAGE=true and MINIO_* (docs/archive.md)".into(),
            )
        })
    };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(other)?;
    rt.block_on(async {
        let mut client = connect(&config.database_url, "flowvision-archive-cli").await.map_err(other)?;
        crate::store::migrate::apply(&client, crate::store::migrate::MIGRATIONS).await.map_err(other)?;
        match &args.command {
            ArchiveCommand::Run => {
                // Asked for now: full speed, whatever pace the daemon keeps.
                let mut cfg = archive_config()?;
                cfg.max_rows_per_second = 0;
                catalog::record_store(&client, &cfg, &crate::store::host_name()).await.map_err(other)?;
                let archiver =
                    Archiver::new(cfg, config.state_dir.join("archive"), Arc::new(ArchiveStats::default()))
                        .map_err(other)?;
                let now = crate::clock::now_ms();
                let cutoff = now - i64::from(config.retention_days) * flowvision_schema::DAY_MS;
                let report = archiver.run_once(&mut client, now, cutoff, true).await.map_err(other)?;
                for (p, why) in &report.failed {
                    eprintln!("{p}: not archived: {why}");
                }
                println!(
                    "archived {} partitions ({} objects, {} rows, {} bytes); {} failed",
                    report.archived.len(),
                    report.objects,
                    report.rows,
                    report.bytes,
                    report.failed.len()
                );
                Ok(report.failed.is_empty())
            }
            ArchiveCommand::List { json, objects } => {
                for p in catalog::list(&client, *objects).await.map_err(other)? {
                    if *json {
                        println!("{}", serde_json::to_string(&p).map_err(other)?);
                    } else {
                        println!(
                            "{}\t{}\t{}\t{}\t{}\t{}",
                            p.partition,
                            p.range_start,
                            p.status.as_str(),
                            p.rows.map_or("-".into(), |r| r.to_string()),
                            p.bytes.map_or("-".into(), |b| b.to_string()),
                            p.last_error.as_deref().unwrap_or("")
                        );
                        for o in &p.objects {
                            println!("  {}\t{}\t{}", o.key, o.rows, o.bytes);
                        }
                    }
                }
                Ok(true)
            }
            ArchiveCommand::Restore { from, to } => {
                let (from, to) = (time_arg("from", from)?, time_arg("to", to)?);
                if from >= to {
                    return Err(Failure::Usage("--from must be before --to".into()));
                }
                let bucket = flowvision_archive::store::Bucket::open(&archive_config()?).map_err(other)?;
                let r = restore::restore(&mut client, &bucket, from, to, "cli").await.map_err(other)?;
                println!("restore {}: {} rows from {} objects", r.id, r.rows, r.objects);
                Ok(true)
            }
            ArchiveCommand::Restores { json } => {
                for r in catalog::restores(&client).await.map_err(other)? {
                    if *json {
                        println!("{}", serde_json::to_string(&r).map_err(other)?);
                    } else {
                        println!(
                            "{}\t{}\t{}\t{}\t{}\t{}",
                            r.id, r.from, r.to, r.status, r.rows, r.requested_by
                        );
                    }
                }
                Ok(true)
            }
            ArchiveCommand::Unrestore { id } => {
                match restore::remove(&mut client, *id).await.map_err(other)? {
                    Some(n) => {
                        println!("restore {id}: {n} rows removed");
                        Ok(true)
                    }
                    None => Err(Failure::Other(format!("no restore {id}"))),
                }
            }
        }
    })
}
