//! Schema migrations: a thin layer over the shared `flowvision-migrations` crate
//! (which holds the SQL files' list and the runner, so the web service applies the
//! same schema), mapping its errors onto [`StoreError`].

use super::error::StoreError;
use flowvision_migrations::MigrateError;
use tokio_postgres::Client;

pub use flowvision_migrations::{checksum, Migration, MIGRATIONS};

/// Applies the migrations of `migrations` not yet applied; returns how many it applied.
/// See [`flowvision_migrations::apply`].
pub async fn apply(client: &Client, migrations: &[Migration]) -> Result<usize, StoreError> {
    flowvision_migrations::apply(client, migrations).await.map_err(|e| match e {
        MigrateError::Db(e) => StoreError::Db(e),
        MigrateError::Changed { version, name, applied, current } => {
            StoreError::MigrationChanged { version, name, applied, current }
        }
        MigrateError::Failed { version, name, source } => {
            StoreError::MigrationFailed { version, name, source }
        }
        MigrateError::List(s) => StoreError::MigrationList(s),
    })
}
