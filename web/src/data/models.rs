//! The insights' trained models in PostgreSQL (`insight_models`), for the engine only.

use super::{DataResult, Db};
use time::OffsetDateTime;

/// Versions of one kind kept; older ones are deleted when a new one is stored.
pub const KEEP_VERSIONS: i64 = 10;

/// A stored model.
#[derive(Debug, Clone)]
pub struct StoredModel {
    /// Its version.
    pub version: i32,
    /// When it was trained.
    pub trained_at: OffsetDateTime,
    /// The model file.
    pub document: Vec<u8>,
}

impl Db {
    /// Engine only: the newest stored model of `kind`.
    pub async fn engine_latest_model(&self, kind: &str) -> DataResult<Option<StoredModel>> {
        let c = self.conn().await?;
        let row = c
            .query_opt(
                "SELECT version, trained_at, document FROM insight_models WHERE kind = $1 \
                 ORDER BY version DESC LIMIT 1",
                &[&kind],
            )
            .await?;
        Ok(match row {
            Some(r) => Some(StoredModel {
                version: r.try_get(0)?,
                trained_at: r.try_get(1)?,
                document: r.try_get(2)?,
            }),
            None => None,
        })
    }

    /// Engine only: the next version number of `kind`.
    pub async fn engine_next_model_version(&self, kind: &str) -> DataResult<i32> {
        let c = self.conn().await?;
        let r = c
            .query_one("SELECT COALESCE(max(version), 0) + 1 FROM insight_models WHERE kind = $1", &[&kind])
            .await?;
        Ok(r.try_get(0)?)
    }

    /// Engine only: stores a new version and deletes all but the newest
    /// [`KEEP_VERSIONS`], in one transaction.
    pub async fn engine_store_model(
        &self,
        kind: &str,
        version: i32,
        samples: i32,
        document: &[u8],
    ) -> DataResult<()> {
        let mut c = self.conn().await?;
        let tx = c.transaction().await?;
        tx.execute(
            "INSERT INTO insight_models (kind, version, samples, document) VALUES ($1, $2, $3, $4)",
            &[&kind, &version, &samples, &document],
        )
        .await?;
        let cutoff = version.saturating_sub(i32::try_from(KEEP_VERSIONS).unwrap_or(i32::MAX));
        tx.execute("DELETE FROM insight_models WHERE kind = $1 AND version <= $2", &[&kind, &cutoff]).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Engine only: the earliest host feature bucket at or after `from`, if any.
    pub async fn engine_first_feature_bucket(
        &self,
        from: OffsetDateTime,
    ) -> DataResult<Option<OffsetDateTime>> {
        let c = self.conn().await?;
        let r = c.query_one("SELECT min(bucket) FROM host_features WHERE bucket >= $1", &[&from]).await?;
        Ok(r.try_get(0)?)
    }
}
