//! The order of rows inside an archived row group: by exporter (its text form, the
//! byte order Parquet's statistics use), then by `time_received`.
//!
//! The export reads an hour in its stored order (time) and sorts each row group here,
//! in memory, instead of asking PostgreSQL for `ORDER BY exporter, time_received`: that
//! sort had to finish before the first row came back, spilled about twice the partition
//! to temporary files, and was most of what an archive run cost a busy collector
//! (docs/benchmarks.md). Sorted row groups keep what the order is for: within a row
//! group, one exporter's rows are contiguous, so a reader looking for one device skips
//! pages by their statistics, and the row group's `sorting_columns` say so.

use crate::columns::{Kind, COLUMNS};
use arrow_array::cast::AsArray;
use arrow_array::types::TimestampMicrosecondType;
use arrow_array::{Array, ArrayRef, RecordBatch, UInt32Array};
use arrow_schema::ArrowError;
use parquet::file::metadata::SortingColumn;
use std::collections::HashMap;

/// Position of `exporter` among [`COLUMNS`].
fn exporter_column() -> usize {
    COLUMNS.iter().position(|c| c.name == "exporter" && c.kind == Kind::Inet).unwrap_or(0)
}

/// The `sorting_columns` every archived row group declares.
pub fn sorting_columns() -> Vec<SortingColumn> {
    [exporter_column(), 0]
        .into_iter()
        .map(|i| SortingColumn { column_idx: i as i32, descending: false, nulls_first: false })
        .collect()
}

/// `batch` with its rows ordered by exporter, then time received (ties keep their
/// stored order, so the result does not depend on the sort's stability).
pub fn by_exporter_and_time(batch: RecordBatch) -> Result<RecordBatch, ArrowError> {
    let rows = batch.num_rows();
    if rows < 2 {
        return Ok(batch);
    }
    if rows > u32::MAX as usize {
        return Err(ArrowError::InvalidArgumentError(format!("{rows} rows in one row group")));
    }
    let columns = batch.columns();
    let (Some(times), Some(exporters)) = (
        columns.first().and_then(|a| a.as_primitive_opt::<TimestampMicrosecondType>()),
        columns.get(exporter_column()).and_then(|a| a.as_string_opt::<i32>()),
    ) else {
        return Err(ArrowError::SchemaError("not an archive row group".into()));
    };
    // An hour holds few exporters: rank them once, then sort fixed-width keys
    // (rank, time, row) instead of comparing strings for every pair.
    let mut rank: HashMap<&str, u32> = HashMap::new();
    for e in exporters.iter().flatten() {
        rank.entry(e).or_insert(0);
    }
    let mut names: Vec<&str> = rank.keys().copied().collect();
    names.sort_unstable();
    for (i, n) in names.iter().enumerate() {
        rank.insert(n, i as u32);
    }
    let mut keys: Vec<u128> = (0..rows)
        .map(|row| {
            // The exporter column is NOT NULL; a null would sort last.
            let r = exporters.is_valid(row).then(|| rank.get(exporters.value(row)).copied()).flatten();
            let r = r.unwrap_or(u32::MAX);
            // Flipping the sign bit maps i64 order onto u64 order.
            let t = (times.value(row) as u64) ^ (1 << 63);
            (u128::from(r) << 96) | (u128::from(t) << 32) | row as u128
        })
        .collect();
    keys.sort_unstable();
    let indices = UInt32Array::from_iter_values(keys.iter().map(|k| *k as u32));
    drop(keys);
    let (schema, columns, _) = batch.into_parts();
    // Column by column, so that each unsorted column is freed once taken: the peak is
    // one row group plus one column, not two row groups.
    let sorted = columns
        .into_iter()
        .map(|c| arrow_select::take::take(&c, &indices, None))
        .collect::<Result<Vec<ArrayRef>, _>>()?;
    RecordBatch::try_new(schema, sorted)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::columns::schema;
    use arrow_array::builder::{StringBuilder, TimestampMicrosecondBuilder};
    use arrow_array::new_null_array;

    fn batch(rows: &[(&str, i64)]) -> RecordBatch {
        let mut t = TimestampMicrosecondBuilder::new().with_timezone("UTC");
        let mut e = StringBuilder::new();
        for (ex, time) in rows {
            t.append_value(*time);
            e.append_value(ex);
        }
        let schema = schema();
        let columns: Vec<ArrayRef> = schema
            .fields()
            .iter()
            .enumerate()
            .map(|(i, f)| -> ArrayRef {
                if i == 0 {
                    std::sync::Arc::new(t.finish())
                } else if i == exporter_column() {
                    std::sync::Arc::new(e.finish())
                } else {
                    // Another column carries the original row number, to check rows
                    // move whole.
                    if f.name() == "bytes" {
                        std::sync::Arc::new(arrow_array::Int64Array::from_iter_values(0..rows.len() as i64))
                    } else {
                        new_null_array(f.data_type(), rows.len())
                    }
                }
            })
            .collect();
        // Non-nullable fields filled with nulls are fine for RecordBatch::try_new only
        // when the schema allows it; use a relaxed copy.
        let relaxed = std::sync::Arc::new(arrow_schema::Schema::new(
            schema.fields().iter().map(|f| f.as_ref().clone().with_nullable(true)).collect::<Vec<_>>(),
        ));
        RecordBatch::try_new(relaxed, columns).unwrap()
    }

    #[test]
    fn rows_are_ordered_by_exporter_text_then_time_and_move_whole() {
        let input = [
            ("10.0.0.9", 30),
            ("10.0.0.10", 20),
            ("10.0.0.9", -5),
            ("192.0.2.1", 1),
            ("10.0.0.10", 10),
            ("10.0.0.9", 30),
        ];
        let out = by_exporter_and_time(batch(&input)).unwrap();
        let ex = out.column(exporter_column()).as_string::<i32>();
        let t = out.column(0).as_primitive::<TimestampMicrosecondType>();
        let orig = out.column(1).as_primitive::<arrow_array::types::Int64Type>();
        let got: Vec<(&str, i64, i64)> =
            (0..out.num_rows()).map(|i| (ex.value(i), t.value(i), orig.value(i))).collect();
        assert_eq!(
            got,
            vec![
                ("10.0.0.10", 10, 4),
                ("10.0.0.10", 20, 1),
                ("10.0.0.9", -5, 2),
                ("10.0.0.9", 30, 0),
                ("10.0.0.9", 30, 5),
                ("192.0.2.1", 1, 3),
            ]
        );
        assert_eq!(out.column(2).null_count(), 6);
    }

    #[test]
    fn the_declared_sort_is_exporter_then_time() {
        let s = sorting_columns();
        assert_eq!(COLUMNS[s[0].column_idx as usize].name, "exporter");
        assert_eq!(COLUMNS[s[1].column_idx as usize].name, "time_received");
        assert!(by_exporter_and_time(batch(&[])).unwrap().num_rows() == 0);
    }
}
