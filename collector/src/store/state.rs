//! Which database the spool directory belongs to.
//!
//! Spooled batches and the local template copy were written for one database. A
//! collector started with an old `STATE_DIR` against another database must not replay
//! them there: on the first successful connection of a process, the database's
//! identity is compared with the one recorded in `spool/database` (written then if
//! absent). When they differ, the spool files left by earlier processes and
//! `templates.json` move to `spool/orphaned/<old identity>-<unix seconds>/`, one line
//! is logged, the batches are counted (`store_spool_orphaned_batches_total`), and the
//! directory is recorded as belonging to the new database.
//!
//! The identity is PostgreSQL's `system_identifier` (`pg_control_system()`, chosen
//! at `initdb`: a different cluster has a different one, while a streaming replica or
//! a physical backup restored after a failover keeps it, and holds the same data) plus
//! the database's oid (a database dropped and created again under the same name gets
//! a new oid; fresh clusters reuse the same oids, hence the system identifier). The
//! name is recorded for the operator only: renaming a database does not change it.

use super::error::StoreError;
use super::spool::Spool;
use super::stats::StoreStats;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Mutex;
use tokio_postgres::Client;

/// The file in the spool directory that names its database.
pub(crate) const IDENTITY_FILE: &str = "database";
/// Where spool contents of another database are kept.
pub(crate) const ORPHANED_DIR: &str = "orphaned";

/// A database's identity, as recorded in [`IDENTITY_FILE`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DbIdentity {
    /// `pg_control_system().system_identifier`; 0 when the role may not read it.
    pub system_identifier: i64,
    /// `pg_database.oid` of the current database.
    pub database_oid: u32,
    /// The database's name (informative; not compared).
    pub database: String,
}

impl DbIdentity {
    /// Queries the identity of the database `client` is connected to.
    pub async fn query(client: &Client) -> Result<DbIdentity, StoreError> {
        let row = client
            .query_one(
                "SELECT d.oid, d.datname::text FROM pg_database d WHERE d.datname = current_database()",
                &[],
            )
            .await?;
        let database_oid: u32 = row.try_get(0)?;
        let database: String = row.try_get(1)?;
        // pg_control_system() may be revoked from the collector's role; the oid alone
        // still tells databases of one cluster apart, so carry on with 0.
        let system_identifier = match client
            .query_one("SELECT system_identifier FROM pg_control_system()", &[])
            .await
        {
            Ok(r) => r.try_get(0)?,
            Err(e) => {
                log::warn!("storage: cannot read pg_control_system() ({e}); the state directory's identity uses the database oid only");
                0
            }
        };
        Ok(DbIdentity { system_identifier, database_oid, database })
    }

    /// A short name for directories and logs: `<system identifier>-<oid>`.
    pub fn key(&self) -> String {
        format!("{}-{}", self.system_identifier, self.database_oid)
    }

    fn render(&self) -> String {
        format!(
            "system_identifier={}\ndatabase_oid={}\ndatabase={}\n",
            self.system_identifier, self.database_oid, self.database
        )
    }

    /// Parses [`DbIdentity::render`]'s text; `None` when it is not that.
    fn parse(text: &str) -> Option<DbIdentity> {
        let mut sys = None;
        let mut oid = None;
        let mut name = None;
        for line in text.lines() {
            let (k, v) = line.split_once('=')?;
            match k {
                "system_identifier" => sys = v.parse().ok(),
                "database_oid" => oid = v.parse().ok(),
                "database" => name = Some(v.to_string()),
                _ => {}
            }
        }
        Some(DbIdentity { system_identifier: sys?, database_oid: oid?, database: name.unwrap_or_default() })
    }

    /// Same database (the name is not compared).
    fn same(&self, other: &DbIdentity) -> bool {
        self.system_identifier == other.system_identifier && self.database_oid == other.database_oid
    }
}

/// Checks the spool directory against the database once per process (the first
/// connection of any storage thread), before any replay.
#[derive(Debug, Default)]
pub(crate) struct StateGuard {
    checked: Mutex<bool>,
}

impl StateGuard {
    /// Runs the check unless it has run. Writers call it on every new connection
    /// before replaying; only the first one does the work, the others wait for it.
    pub async fn ensure(&self, client: &Client, spool: &Spool, stats: &StoreStats) -> Result<(), StoreError> {
        if *self.lock() {
            return Ok(());
        }
        let id = DbIdentity::query(client).await?;
        let mut done = self.lock();
        if !*done {
            check(spool, &id, stats)?;
            *done = true;
        }
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, bool> {
        self.checked.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Compares `id` with the recorded identity; moves another database's leftovers
/// aside; records `id`.
fn check(spool: &Spool, id: &DbIdentity, stats: &StoreStats) -> Result<(), StoreError> {
    let dir = spool.dir();
    let file = dir.join(IDENTITY_FILE);
    let recorded = match fs::read_to_string(&file) {
        Ok(text) => DbIdentity::parse(&text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // A state directory from before identities were recorded (or a new one):
            // its spool is taken as this database's, as it always was.
            write_identity(dir, &file, id)?;
            return Ok(());
        }
        Err(e) => return Err(StoreError::io(&file)(e)),
    };
    if let Some(old) = &recorded {
        if old.same(id) {
            return Ok(());
        }
    }
    // Another database's (or an unreadable record: not provably ours).
    let old_key = recorded.as_ref().map_or_else(|| "unknown".to_string(), DbIdentity::key);
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let to = dir.join(ORPHANED_DIR).join(format!("{old_key}-{secs}"));
    fs::create_dir_all(&to).map_err(StoreError::io(&to))?;
    let (batches, bytes) = spool.orphan_leftovers(&to)?;
    let templates = dir.join(super::templates::LOCAL_FILE);
    let moved_templates = match fs::rename(&templates, to.join(super::templates::LOCAL_FILE)) {
        Ok(()) => true,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) => return Err(StoreError::io(&templates)(e)),
    };
    let _ = fs::rename(&file, to.join(IDENTITY_FILE));
    stats.spool_orphaned_batches.fetch_add(batches, Ordering::Relaxed);
    log::warn!(
        "storage: state directory {} was written for database {} (system_identifier-oid {old_key}), not for {} ({}): \
         kept {batches} spooled batches ({bytes} bytes){} in {} and not replayed",
        dir.display(),
        recorded.as_ref().map_or("?", |r| r.database.as_str()),
        id.database,
        id.key(),
        if moved_templates { " and the template copy" } else { "" },
        to.display()
    );
    write_identity(dir, &file, id)
}

fn write_identity(dir: &Path, file: &Path, id: &DbIdentity) -> Result<(), StoreError> {
    let tmp: PathBuf = file.with_extension("tmp-id");
    fs::write(&tmp, id.render()).map_err(StoreError::io(&tmp))?;
    fs::rename(&tmp, file).map_err(StoreError::io(file))?;
    // Durable like the spool files it vouches for.
    fs::File::open(dir).and_then(|d| d.sync_all()).map_err(StoreError::io(dir))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn render_parse_round_trip() {
        let id =
            DbIdentity { system_identifier: 7_312_345_678_901, database_oid: 16384, database: "fv".into() };
        assert_eq!(DbIdentity::parse(&id.render()), Some(id.clone()));
        assert!(DbIdentity::parse("garbage").is_none());
        let other = DbIdentity { system_identifier: 1, ..id.clone() };
        assert!(!id.same(&other));
        assert!(id.same(&DbIdentity { database: "renamed".into(), ..id.clone() }));
    }
}
