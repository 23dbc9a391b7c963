//! The bucket: an S3-compatible object store (MinIO, or anything speaking SigV4 with
//! path-style requests). Uploads go in parts from a local file, so memory stays bounded
//! by the part size whatever the partition's size; every object is verified by reading
//! back its size and the row count in its Parquet footer before the catalog records it.

use crate::config::ArchiveConfig;
use crate::error::ArchiveError;
use bytes::Bytes;
use futures_util::StreamExt;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path;
use object_store::{BackoffConfig, ClientOptions, ObjectStoreExt, RetryConfig, WriteMultipart};
use parquet::file::metadata::{FooterTail, ParquetMetaDataReader};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncReadExt;

/// Parts in flight at once (memory: this many parts).
const CONCURRENT_PARTS: usize = 2;
/// Parquet's trailer: metadata length (4 bytes) and the magic `PAR1`.
const FOOTER: u64 = 8;

/// An open bucket.
#[derive(Debug, Clone)]
pub struct Bucket {
    store: Arc<AmazonS3>,
    part_bytes: usize,
}

/// One object in the bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredObject {
    /// Key.
    pub key: String,
    /// Size in bytes.
    pub size: u64,
}

impl Bucket {
    /// A client for the configured bucket (no request is made yet).
    pub fn open(cfg: &ArchiveConfig) -> Result<Self, ArchiveError> {
        // reqwest's rustls needs a process-wide crypto provider; ring, not aws-lc
        // (DESIGN.md). Installing twice is harmless: the first one stays.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let options = ClientOptions::new()
            .with_allow_http(!cfg.secure)
            .with_timeout(cfg.request_timeout)
            .with_connect_timeout(Duration::from_secs(10));
        // A few quick retries for a dropped connection; longer outages are the
        // archiver's backoff (the partition waits, the failure is shown).
        let retry = RetryConfig {
            backoff: BackoffConfig {
                init_backoff: Duration::from_millis(200),
                max_backoff: Duration::from_secs(5),
                base: 2.0,
            },
            max_retries: 2,
            retry_timeout: cfg.request_timeout,
        };
        let store = AmazonS3Builder::new()
            .with_endpoint(&cfg.endpoint)
            .with_bucket_name(&cfg.bucket)
            .with_region(&cfg.region)
            .with_access_key_id(&cfg.access_key_id)
            .with_secret_access_key(cfg.secret_key.expose())
            .with_allow_http(!cfg.secure)
            .with_virtual_hosted_style_request(false)
            .with_client_options(options)
            .with_retry(retry)
            .build()?;
        Ok(Bucket { store: Arc::new(store), part_bytes: cfg.part_bytes })
    }

    /// Uploads the file at `path` to `key` in parts of the configured size; an upload
    /// that fails is aborted (no half object is ever visible under the key).
    pub async fn upload_file(&self, key: &str, path: &std::path::Path) -> Result<u64, ArchiveError> {
        let mut file = tokio::fs::File::open(path).await?;
        let upload = self.store.put_multipart(&Path::from(key)).await?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, self.part_bytes);
        let mut buf = vec![0u8; self.part_bytes.min(8 << 20)];
        let mut total = 0u64;
        let result: Result<(), ArchiveError> = async {
            loop {
                let n = file.read(&mut buf).await?;
                if n == 0 {
                    return Ok(());
                }
                writer.wait_for_capacity(CONCURRENT_PARTS).await?;
                writer.write(buf.get(..n).unwrap_or_default());
                total += n as u64;
            }
        }
        .await;
        match result {
            Ok(()) => {
                writer.finish().await?;
                Ok(total)
            }
            Err(e) => {
                let _ = writer.abort().await;
                Err(e)
            }
        }
    }

    /// Reads back `key`'s size and the row count in its Parquet footer; both must be
    /// what was written.
    pub async fn verify(&self, key: &str, size: u64, rows: i64) -> Result<(), ArchiveError> {
        let path = Path::from(key);
        let bad = |what: String| ArchiveError::Verify { key: key.to_string(), what };
        let meta = self.store.head(&path).await?;
        if meta.size != size {
            return Err(bad(format!("{} bytes stored, {size} written", meta.size)));
        }
        if size < 2 * FOOTER {
            return Err(bad(format!("{size} bytes is too short for Parquet")));
        }
        let mut whole: Option<Bytes> = None;
        let tail = self.read_range(&path, size - FOOTER..size, &mut whole).await?;
        let tail: [u8; FOOTER as usize] =
            tail.as_ref().try_into().map_err(|_| bad("short read of the footer".into()))?;
        let footer = FooterTail::try_new(&tail)?;
        let len = footer.metadata_length() as u64;
        if len + FOOTER > size {
            return Err(bad(format!("footer claims {len} bytes of metadata in a {size}-byte object")));
        }
        let metadata = self.read_range(&path, size - FOOTER - len..size - FOOTER, &mut whole).await?;
        let metadata = ParquetMetaDataReader::decode_metadata(&metadata)?;
        let stored = metadata.file_metadata().num_rows();
        if stored != rows {
            return Err(bad(format!("{stored} rows in the footer, {rows} written")));
        }
        Ok(())
    }

    /// Bytes `range` of an object. Some S3 implementations answer a ranged GET with
    /// `200 OK` and the range's bytes instead of `206` (rclone's `serve s3` does), which
    /// the client refuses; then the whole object is read once (kept in `whole` for the
    /// next range) and the range cut from it. Servers that follow the protocol (S3,
    /// MinIO) never take this path.
    async fn read_range(
        &self,
        path: &Path,
        range: std::ops::Range<u64>,
        whole: &mut Option<Bytes>,
    ) -> Result<Bytes, ArchiveError> {
        if whole.is_none() {
            match self.store.get_range(path, range.clone()).await {
                Ok(b) => return Ok(b),
                Err(object_store::Error::Generic { source, .. }) => {
                    log::debug!("archive: ranged read refused ({source}); reading the whole object");
                    *whole = Some(self.store.get(path).await?.bytes().await?);
                }
                Err(e) => return Err(e.into()),
            }
        }
        let all = whole.as_ref().map(Bytes::clone).unwrap_or_default();
        let (lo, hi) = (range.start as usize, range.end as usize);
        if hi > all.len() || lo > hi {
            return Err(ArchiveError::Verify {
                key: path.to_string(),
                what: format!("{} bytes read back, range {lo}..{hi} asked", all.len()),
            });
        }
        Ok(all.slice(lo..hi))
    }

    /// The whole object.
    pub async fn fetch(&self, key: &str) -> Result<Bytes, ArchiveError> {
        Ok(self.store.get(&Path::from(key)).await?.bytes().await?)
    }

    /// Every object under `prefix`.
    pub async fn list(&self, prefix: &str) -> Result<Vec<StoredObject>, ArchiveError> {
        let prefix = Path::from(prefix);
        let mut stream = object_store::ObjectStore::list(self.store.as_ref(), Some(&prefix));
        let mut out = Vec::new();
        while let Some(meta) = stream.next().await {
            let meta = meta?;
            out.push(StoredObject { key: meta.location.to_string(), size: meta.size });
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }
}
