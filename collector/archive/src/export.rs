//! One hour of a `flows` partition as a Parquet file on local disk: rows read in their
//! stored order, a range of table blocks per statement (memory bounded by one row
//! group, whatever the hour holds; no snapshot held across the hour), each row group sorted by exporter and time in memory
//! ([`crate::order`]), zstd-compressed, with the schema version and row count in the
//! file's metadata.

use crate::columns::{select_list, RowBuilder};
use crate::error::ArchiveError;
use flowvision_schema::HOUR_MS;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use std::path::{Path, PathBuf};
use tokio_postgres::Client;

/// Table blocks read per statement (16 MB with 8 kB blocks: about 90,000 flows).
const CHUNK_BLOCKS: i64 = 2048;

/// A Parquet file holding one hour of a partition, ready to upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HourFile {
    /// Where it was written.
    pub path: PathBuf,
    /// Rows in it.
    pub rows: i64,
    /// Its size in bytes.
    pub bytes: u64,
    /// Earliest `time_received` (µs since the epoch), if any row.
    pub min_us: Option<i64>,
    /// Latest `time_received` (µs since the epoch), if any row.
    pub max_us: Option<i64>,
}

/// Metadata keys of an archived file.
pub mod meta {
    /// [`crate::SCHEMA_VERSION`].
    pub const SCHEMA_VERSION: &str = "flowvision.schema_version";
    /// Rows in the file.
    pub const ROWS: &str = "flowvision.rows";
    /// The `flows` partition it came from.
    pub const PARTITION: &str = "flowvision.partition";
    /// Start of the hour it holds (RFC 3339).
    pub const HOUR_START: &str = "flowvision.hour_start";
    /// How rows are ordered.
    pub const ORDER: &str = "flowvision.order";
}

/// Writes the rows of `partition` received in the hour starting at `hour_start_ms` to
/// a file in `dir`. `partition` must be a name the collector manages (checked by the
/// caller against the schema's naming; it is quoted here anyway).
pub async fn write_hour(
    client: &mut Client,
    partition: &str,
    hour_start_ms: i64,
    dir: &Path,
    row_group_rows: usize,
    max_rows_per_second: u64,
) -> Result<HourFile, ArchiveError> {
    let started = std::time::Instant::now();
    std::fs::create_dir_all(dir)?;
    let path = dir.join(format!("{partition}-{hour_start_ms}.parquet.part"));
    let file = std::fs::File::create(&path)?;
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3)?))
        .set_max_row_group_row_count(Some(row_group_rows))
        .set_key_value_metadata(Some(vec![
            KeyValue::new(meta::SCHEMA_VERSION.into(), crate::SCHEMA_VERSION.to_string()),
            KeyValue::new(meta::PARTITION.into(), partition.to_string()),
            KeyValue::new(meta::HOUR_START.into(), flowvision_codec::time::format_rfc3339_ms(hour_start_ms)),
            KeyValue::new(meta::ORDER.into(), "exporter, time_received within each row group".to_string()),
        ]))
        .set_sorting_columns(Some(crate::order::sorting_columns()))
        .build();
    let mut writer = ArrowWriter::try_new(file, crate::columns::schema(), Some(props))?;

    let from = flowvision_codec::time::system_time(hour_start_ms);
    let to = flowvision_codec::time::system_time(hour_start_ms + HOUR_MS);
    let table = partition.replace('"', "");
    // The table is read in ranges of blocks, one short statement each, not through one
    // cursor held open for the whole hour: an open snapshot stops PostgreSQL from
    // pruning the row versions that ingest's rollup upserts leave behind, and a paced
    // export would hold it for minutes. Rows added after the size was read are not
    // missed silently: the archiver compares the partition's count with the rows
    // archived before it records the partition.
    let blocks: i64 = client
        .query_one(
            "SELECT pg_relation_size($1::text::regclass) / current_setting('block_size')::bigint",
            &[&format!("\"{table}\"")],
        )
        .await?
        .get(0);
    let stmt = client
        .prepare(&format!(
            "SELECT {} FROM \"{table}\" WHERE ctid >= $1::text::tid AND ctid < $2::text::tid \
             AND time_received >= $3 AND time_received < $4",
            select_list()
        ))
        .await?;
    let mut builder = RowBuilder::new();
    let (mut rows, mut min_us, mut max_us) = (0i64, None::<i64>, None::<i64>);
    let mut block = 0i64;
    while block < blocks {
        let (lo, hi) = (format!("({block},0)"), format!("({},0)", block + CHUNK_BLOCKS));
        block += CHUNK_BLOCKS;
        for row in &client.query(&stmt, &[&lo, &hi, &from, &to]).await? {
            let t = builder.push(row)?;
            min_us = Some(min_us.map_or(t, |m| m.min(t)));
            max_us = Some(max_us.map_or(t, |m| m.max(t)));
            rows += 1;
            if builder.len() >= row_group_rows {
                write_row_group(&mut writer, &mut builder)?;
            }
        }
        // Pacing (ARCHIVE_MAX_ROWS_PER_SECOND): wait until the rows read so far are
        // within the allowed rate, with no statement open.
        if max_rows_per_second > 0 {
            let due = std::time::Duration::from_secs_f64(rows as f64 / max_rows_per_second as f64);
            if let Some(wait) = due.checked_sub(started.elapsed()) {
                tokio::time::sleep(wait).await;
            }
        }
    }
    if !builder.is_empty() {
        write_row_group(&mut writer, &mut builder)?;
    }
    writer.append_key_value_metadata(KeyValue::new(meta::ROWS.into(), rows.to_string()));
    writer.close()?;
    let bytes = std::fs::metadata(&path)?.len();
    Ok(HourFile { path, rows, bytes, min_us, max_us })
}

/// Sorts the rows gathered so far and writes them as one row group (the flush keeps row
/// groups and sorted runs the same, which the declared `sorting_columns` promise).
fn write_row_group(
    writer: &mut ArrowWriter<std::fs::File>,
    builder: &mut RowBuilder,
) -> Result<(), ArchiveError> {
    writer.write(&crate::order::by_exporter_and_time(builder.finish()?)?)?;
    writer.flush()?;
    Ok(())
}
