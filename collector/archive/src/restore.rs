//! Restores: archived hours read back from the bucket into `flows_restored`, where
//! flow search and statistics find them (marked as restored), and removed again by
//! their id. Rows of a restore arrive in one transaction: a restore that fails leaves
//! nothing half-loaded, only its row in `archive_restores` with the reason.

use crate::catalog;
use crate::columns::{check_layout, copy_text, names};
use crate::error::ArchiveError;
use crate::store::Bucket;
use flowvision_codec::time::system_time;
use flowvision_schema::tables::{ARCHIVE_RESTORES, FLOWS_RESTORED};
use futures_util::SinkExt;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde::Serialize;
use tokio_postgres::Client;

/// What a restore did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RestoreReport {
    /// The restore's id (to remove it again).
    pub id: i64,
    /// Objects read.
    pub objects: usize,
    /// Rows restored.
    pub rows: usize,
}

/// Copies archived rows received in `[from_ms, to_ms)` into `flows_restored`.
pub async fn restore(
    client: &mut Client,
    bucket: &Bucket,
    from_ms: i64,
    to_ms: i64,
    requested_by: &str,
) -> Result<RestoreReport, ArchiveError> {
    if from_ms >= to_ms {
        return Err(ArchiveError::Data("the range is empty: from must be before to".into()));
    }
    let id: i64 = client
        .query_one(
            &format!(
                "INSERT INTO {ARCHIVE_RESTORES} (range_start, range_end, status, requested_by) \
                 VALUES ($1, $2, 'running', $3) RETURNING id"
            ),
            &[&system_time(from_ms), &system_time(to_ms), &requested_by],
        )
        .await?
        .get(0);
    let result = load(client, bucket, id, from_ms, to_ms).await;
    match &result {
        Ok(r) => {
            client
                .execute(
                    &format!(
                        "UPDATE {ARCHIVE_RESTORES} SET status = 'done', objects = $2, rows = $3, finished_at = now() WHERE id = $1"
                    ),
                    &[&id, &(r.objects as i32), &(r.rows as i64)],
                )
                .await?;
        }
        Err(e) => {
            client
                .execute(
                    &format!(
                        "UPDATE {ARCHIVE_RESTORES} SET status = 'failed', error = $2, finished_at = now() WHERE id = $1"
                    ),
                    &[&id, &e.to_string()],
                )
                .await?;
        }
    }
    result
}

async fn load(
    client: &mut Client,
    bucket: &Bucket,
    id: i64,
    from_ms: i64,
    to_ms: i64,
) -> Result<RestoreReport, ArchiveError> {
    let objects = catalog::objects_between(&*client, from_ms, to_ms).await?;
    let tx = client.transaction().await?;
    let sink = tx.copy_in(&format!("COPY {FLOWS_RESTORED} ({}, restore_id) FROM STDIN", names())).await?;
    futures_util::pin_mut!(sink);
    let suffix = format!("\t{id}");
    let (from_us, to_us) = (from_ms.saturating_mul(1000), to_ms.saturating_mul(1000));
    let mut rows = 0;
    let mut buf = String::new();
    for (key, _, _) in &objects {
        let bytes = bucket.fetch(key).await?;
        let reader = ParquetRecordBatchReaderBuilder::try_new(bytes)?.with_batch_size(65_536).build()?;
        for batch in reader {
            let batch = batch?;
            check_layout(&batch).map_err(|what| ArchiveError::Layout { key: key.clone(), what })?;
            rows += copy_text(&batch, from_us, to_us, &suffix, &mut buf);
            if buf.len() >= 4 << 20 {
                sink.send(bytes::Bytes::from(std::mem::take(&mut buf))).await?;
            }
        }
    }
    if !buf.is_empty() {
        sink.send(bytes::Bytes::from(buf)).await?;
    }
    sink.as_mut().finish().await?;
    tx.commit().await?;
    Ok(RestoreReport { id, objects: objects.len(), rows })
}

/// Removes the rows of restore `id`; returns how many went (`None`: no such restore).
pub async fn remove(client: &mut Client, id: i64) -> Result<Option<u64>, ArchiveError> {
    let tx = client.transaction().await?;
    let updated = tx
        .execute(&format!("UPDATE {ARCHIVE_RESTORES} SET status = 'removed' WHERE id = $1"), &[&id])
        .await?;
    if updated == 0 {
        return Ok(None);
    }
    let removed = tx.execute(&format!("DELETE FROM {FLOWS_RESTORED} WHERE restore_id = $1"), &[&id]).await?;
    tx.commit().await?;
    Ok(Some(removed))
}
