//! Schema migrations: the numbered SQL files of `migrations/`, compiled into every
//! binary that uses this crate (collector, web), applied once each, in order, under an
//! advisory lock (several collectors and the web service may start together), with a
//! SHA-256 checksum recorded so that an applied file that was edited afterwards stops
//! start-up instead of silently diverging.

use sha2::{Digest, Sha256};
use tokio_postgres::Client;

/// Why migrations could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    /// A database error outside a migration's own SQL (connection, lock, bookkeeping).
    #[error("database: {0}")]
    Db(#[from] tokio_postgres::Error),
    /// An applied migration's file differs from the one in this binary.
    #[error(
        "migration {version} ({name}) changed after it was applied: checksum {applied} in the database, \
         {current} in this binary; schema changes need a new migration file"
    )]
    Changed {
        /// Migration number.
        version: i32,
        /// File name.
        name: String,
        /// Checksum recorded when it was applied.
        applied: String,
        /// Checksum of the file now.
        current: String,
    },
    /// A migration's SQL failed (nothing of it was applied).
    #[error("migration {version} ({name}) failed: {source}")]
    Failed {
        /// Migration number.
        version: i32,
        /// File name.
        name: String,
        /// The database's error.
        source: tokio_postgres::Error,
    },
    /// The list of migrations is malformed (duplicate or unordered versions).
    #[error("migrations: {0}")]
    List(String),
}

/// One migration file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Migration {
    /// Its number (the file name's prefix); applied in increasing order.
    pub version: i32,
    /// The file name.
    pub name: &'static str,
    /// Its SQL (may hold several statements).
    pub sql: &'static str,
}

impl Migration {
    /// SHA-256 of the SQL (line endings normalized), lower-case hex.
    pub fn checksum(&self) -> String {
        checksum(self.sql)
    }
}

/// SHA-256 of `sql` with CRLF read as LF (a checkout's line endings are not a change).
pub fn checksum(sql: &str) -> String {
    let digest = Sha256::digest(sql.replace("\r\n", "\n").as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Every migration of the project. Adding a file to `migrations/` means adding it
/// here (a test checks that both lists agree).
pub const MIGRATIONS: &[Migration] = &[
    Migration { version: 1, name: "0001_flows.sql", sql: include_str!("../0001_flows.sql") },
    Migration { version: 2, name: "0002_rollups.sql", sql: include_str!("../0002_rollups.sql") },
    Migration {
        version: 3,
        name: "0003_exporters_stats_templates.sql",
        sql: include_str!("../0003_exporters_stats_templates.sql"),
    },
    Migration { version: 4, name: "0004_web_auth.sql", sql: include_str!("../0004_web_auth.sql") },
    Migration { version: 5, name: "0005_forward_rules.sql", sql: include_str!("../0005_forward_rules.sql") },
    Migration { version: 6, name: "0006_topn_tiers.sql", sql: include_str!("../0006_topn_tiers.sql") },
    Migration { version: 7, name: "0007_simulations.sql", sql: include_str!("../0007_simulations.sql") },
    Migration {
        version: 8,
        name: "0008_exporter_names.sql",
        sql: include_str!("../0008_exporter_names.sql"),
    },
    Migration { version: 9, name: "0009_archive.sql", sql: include_str!("../0009_archive.sql") },
    Migration { version: 10, name: "0010_mibs.sql", sql: include_str!("../0010_mibs.sql") },
    Migration { version: 11, name: "0011_snmp.sql", sql: include_str!("../0011_snmp.sql") },
    Migration { version: 12, name: "0012_insights.sql", sql: include_str!("../0012_insights.sql") },
    Migration {
        version: 13,
        name: "0013_feature_refusals.sql",
        sql: include_str!("../0013_feature_refusals.sql"),
    },
    Migration {
        version: 14,
        name: "0014_insight_models.sql",
        sql: include_str!("../0014_insight_models.sql"),
    },
    Migration {
        version: 15,
        name: "0015_feature_external_bytes.sql",
        sql: include_str!("../0015_feature_external_bytes.sql"),
    },
    Migration { version: 16, name: "0016_host_beacons.sql", sql: include_str!("../0016_host_beacons.sql") },
    Migration {
        version: 17,
        name: "0017_insight_interface.sql",
        sql: include_str!("../0017_insight_interface.sql"),
    },
    Migration {
        version: 18,
        name: "0018_flows_address_bloom.sql",
        sql: include_str!("../0018_flows_address_bloom.sql"),
    },
    Migration {
        version: 19,
        name: "0019_beacon_sampling.sql",
        sql: include_str!("../0019_beacon_sampling.sql"),
    },
    Migration {
        version: 20,
        name: "0020_beacon_size_jitter.sql",
        sql: include_str!("../0020_beacon_size_jitter.sql"),
    },
    Migration {
        version: 21,
        name: "0021_beacon_long_jitter.sql",
        sql: include_str!("../0021_beacon_long_jitter.sql"),
    },
];

/// Advisory lock key of the migration runner ("fv-migr").
const LOCK_KEY: i64 = 0x0066_762d_6d69_6772;

/// Applies the migrations of `migrations` not yet applied; returns how many it applied.
///
/// Fails, applying nothing, when an applied migration's checksum differs from its
/// file's. Migrations recorded in the database but unknown to this binary (a newer
/// version ran) are logged, not an error, so a rollback of the binary still starts.
pub async fn apply(client: &Client, migrations: &[Migration]) -> Result<usize, MigrateError> {
    check_list(migrations)?;
    client.query_one("SELECT pg_advisory_lock($1)", &[&LOCK_KEY]).await?;
    let result = apply_locked(client, migrations).await;
    // Released with the session too, should this fail.
    let _ = client.query_one("SELECT pg_advisory_unlock($1)", &[&LOCK_KEY]).await;
    result
}

/// Checks that versions are strictly increasing.
pub fn check_list(migrations: &[Migration]) -> Result<(), MigrateError> {
    for w in migrations.windows(2) {
        if let [a, b] = w {
            if a.version >= b.version {
                return Err(MigrateError::List(format!(
                    "{} (version {}) must come before {} (version {})",
                    b.name, b.version, a.name, a.version
                )));
            }
        }
    }
    Ok(())
}

async fn apply_locked(client: &Client, migrations: &[Migration]) -> Result<usize, MigrateError> {
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 version    integer     PRIMARY KEY,
                 name       text        NOT NULL,
                 checksum   text        NOT NULL,
                 applied_at timestamptz NOT NULL DEFAULT now()
             )",
        )
        .await?;
    let applied: Vec<(i32, String, String)> = client
        .query("SELECT version, name, checksum FROM schema_migrations ORDER BY version", &[])
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    for (version, name, sum) in &applied {
        match migrations.iter().find(|m| m.version == *version) {
            Some(m) => {
                let current = m.checksum();
                if &current != sum {
                    return Err(MigrateError::Changed {
                        version: *version,
                        name: name.clone(),
                        applied: sum.clone(),
                        current,
                    });
                }
            }
            None => log::warn!("schema has migration {version} ({name}) that this binary does not know"),
        }
    }
    let mut count = 0;
    for m in migrations {
        if applied.iter().any(|(v, _, _)| *v == m.version) {
            continue;
        }
        let failed = |source| MigrateError::Failed { version: m.version, name: m.name.to_string(), source };
        // One transaction per file: DDL is transactional in PostgreSQL, so a failed
        // file leaves nothing half-applied.
        client.batch_execute("BEGIN").await.map_err(failed)?;
        let run = async {
            client.batch_execute(m.sql).await?;
            client
                .execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                    &[&m.version, &m.name, &m.checksum()],
                )
                .await?;
            client.batch_execute("COMMIT").await
        };
        if let Err(e) = run.await {
            let _ = client.batch_execute("ROLLBACK").await;
            return Err(failed(e));
        }
        log::info!("applied migration {} ({})", m.version, m.name);
        count += 1;
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;

    #[test]
    fn list_matches_directory() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.ends_with(".sql"))
            .collect();
        files.sort();
        let names: Vec<&str> = MIGRATIONS.iter().map(|m| m.name).collect();
        assert_eq!(files, names, "migrations/ and MIGRATIONS differ");
        for m in MIGRATIONS {
            let prefix: i32 = m.name.split('_').next().unwrap().parse().unwrap();
            assert_eq!(prefix, m.version, "{}", m.name);
            let on_disk = std::fs::read_to_string(dir.join(m.name)).unwrap();
            assert_eq!(checksum(&on_disk), m.checksum());
        }
        check_list(MIGRATIONS).unwrap();
        println!("{} migration files match the compiled list", MIGRATIONS.len());
    }
}
