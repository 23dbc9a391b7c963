//! Uploaded MIB modules (`mib_modules`, migration 0010): read all at start-up, written
//! by uploads and deletes ([`crate::mibs`]). Every value is a parameter.

use super::{DataResult, Db};
use std::sync::Arc;
use time::OffsetDateTime;

/// One stored module.
#[derive(Debug, Clone)]
pub struct StoredModule {
    /// Module name (from its `DEFINITIONS ::= BEGIN` line).
    pub module: String,
    /// The uploaded file's name.
    pub file_name: String,
    /// The file's bytes (shared with the resolver's sources).
    pub content: Arc<[u8]>,
    /// SHA-256 of `content`.
    pub sha256: Vec<u8>,
    /// Newest revision, `YYYY-MM-DD HH:MM`.
    pub revision: Option<String>,
    /// `ok` or `quarantined`.
    pub status: String,
    /// The resolver's diagnostics for it, as JSON.
    pub diagnostics: serde_json::Value,
    /// Who uploaded it.
    pub uploaded_by: String,
    /// When.
    pub uploaded_at: OffsetDateTime,
}

impl StoredModule {
    /// Whether it is loaded into the OID tree.
    pub fn is_ok(&self) -> bool {
        self.status == "ok"
    }
}

impl Db {
    /// Every stored module, by name.
    pub async fn mib_modules(&self) -> DataResult<Vec<StoredModule>> {
        let c = self.conn().await?;
        let rows = c
            .query(
                "SELECT module, file_name, content, sha256, revision, status, diagnostics, uploaded_by, uploaded_at \
                 FROM mib_modules ORDER BY module",
                &[],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(StoredModule {
                    module: r.try_get(0)?,
                    file_name: r.try_get(1)?,
                    content: r.try_get::<_, Vec<u8>>(2)?.into(),
                    sha256: r.try_get(3)?,
                    revision: r.try_get(4)?,
                    status: r.try_get(5)?,
                    diagnostics: r.try_get(6)?,
                    uploaded_by: r.try_get(7)?,
                    uploaded_at: r.try_get(8)?,
                })
            })
            .collect()
    }

    /// Stores `upserts` (insert or replace by module name) and removes `deletes`, in
    /// one transaction: the tree in memory is swapped only after it commits.
    pub async fn mib_apply(&self, upserts: &[StoredModule], deletes: &[String]) -> DataResult<()> {
        let mut c = self.conn().await?;
        let tx = c.transaction().await?;
        for m in upserts {
            tx.execute(
                "INSERT INTO mib_modules (module, file_name, content, sha256, revision, status, diagnostics, uploaded_by, uploaded_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                 ON CONFLICT (module) DO UPDATE SET file_name = EXCLUDED.file_name, content = EXCLUDED.content, \
                   sha256 = EXCLUDED.sha256, revision = EXCLUDED.revision, status = EXCLUDED.status, \
                   diagnostics = EXCLUDED.diagnostics, uploaded_by = EXCLUDED.uploaded_by, uploaded_at = EXCLUDED.uploaded_at",
                &[
                    &m.module,
                    &m.file_name,
                    &&*m.content,
                    &m.sha256,
                    &m.revision,
                    &m.status,
                    &m.diagnostics,
                    &m.uploaded_by,
                    &m.uploaded_at,
                ],
            )
            .await?;
        }
        for d in deletes {
            tx.execute("DELETE FROM mib_modules WHERE module = $1", &[d]).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
