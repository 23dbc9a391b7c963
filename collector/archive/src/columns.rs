//! A flow row in Parquet: the columns of `flows` (migrations/0001_flows.sql), in its
//! order, with the nearest Parquet types — timestamps as microseconds since the epoch
//! in UTC, integers at their PostgreSQL width, the protocol enum as its label and
//! `inet` as its text form (Parquet has no address type; text is what every reader
//! compares and what PostgreSQL parses back). Both directions are here: database rows
//! into Arrow arrays for the archive, Arrow arrays into `COPY` text for a restore.

use arrow_array::builder::{
    Int16Builder, Int32Builder, Int64Builder, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow_array::cast::AsArray;
use arrow_array::types::{Int16Type, Int32Type, Int64Type, TimestampMicrosecondType};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use flowvision_codec::time::unix_micros;
use std::fmt::Write as _;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::SystemTime;
use tokio_postgres::Row;

/// The PostgreSQL type family of a column, which fixes its Parquet type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `timestamptz` → timestamp (µs, UTC).
    Time,
    /// `bigint` → INT64.
    Int64,
    /// `integer` → INT32.
    Int32,
    /// `smallint` → INT16.
    Int16,
    /// `flow_protocol` → string (the enum's label).
    Label,
    /// `inet` → string (the address's text form).
    Inet,
}

/// A column: name, kind, whether it may be NULL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    /// Column name (the same in `flows` and in Parquet).
    pub name: &'static str,
    /// Type family.
    pub kind: Kind,
    /// NULL allowed.
    pub nullable: bool,
}

const fn col(name: &'static str, kind: Kind, nullable: bool) -> Column {
    Column { name, kind, nullable }
}

/// Every column of `flows`, in table order.
pub const COLUMNS: &[Column] = &[
    col("time_received", Kind::Time, false),
    col("bytes", Kind::Int64, false),
    col("packets", Kind::Int64, false),
    col("flow_start", Kind::Time, true),
    col("flow_end", Kind::Time, true),
    col("observation_domain", Kind::Int64, false),
    col("sequence", Kind::Int64, false),
    col("sampling_rate", Kind::Int64, false),
    col("in_if", Kind::Int64, false),
    col("out_if", Kind::Int64, false),
    col("src_as", Kind::Int64, false),
    col("dst_as", Kind::Int64, false),
    col("src_port", Kind::Int32, false),
    col("dst_port", Kind::Int32, false),
    col("tcp_flags", Kind::Int32, false),
    col("vlan", Kind::Int32, false),
    col("protocol", Kind::Label, false),
    col("proto", Kind::Int16, false),
    col("tos", Kind::Int16, false),
    col("src_mask", Kind::Int16, false),
    col("dst_mask", Kind::Int16, false),
    col("exporter", Kind::Inet, false),
    col("src_addr", Kind::Inet, true),
    col("dst_addr", Kind::Inet, true),
    col("next_hop", Kind::Inet, true),
];

/// The column list of a `SELECT` that [`RowBuilder::push`] reads (the enum as text).
pub fn select_list() -> String {
    COLUMNS
        .iter()
        .map(|c| if c.kind == Kind::Label { format!("{}::text", c.name) } else { c.name.to_string() })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The comma-separated column names (for `COPY flows_restored (...)`).
pub fn names() -> String {
    COLUMNS.iter().map(|c| c.name).collect::<Vec<_>>().join(", ")
}

fn data_type(kind: Kind) -> DataType {
    match kind {
        Kind::Time => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        Kind::Int64 => DataType::Int64,
        Kind::Int32 => DataType::Int32,
        Kind::Int16 => DataType::Int16,
        Kind::Label | Kind::Inet => DataType::Utf8,
    }
}

/// The Arrow schema of an archived hour.
pub fn schema() -> SchemaRef {
    Arc::new(Schema::new(
        COLUMNS.iter().map(|c| Field::new(c.name, data_type(c.kind), c.nullable)).collect::<Vec<_>>(),
    ))
}

enum Builder {
    Time(TimestampMicrosecondBuilder),
    Int64(Int64Builder),
    Int32(Int32Builder),
    Int16(Int16Builder),
    Text(StringBuilder),
}

/// Accumulates database rows into Arrow columns, one record batch at a time.
pub struct RowBuilder {
    builders: Vec<Builder>,
    rows: usize,
    text: String,
}

impl Default for RowBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl RowBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        let builders = COLUMNS
            .iter()
            .map(|c| match c.kind {
                Kind::Time => Builder::Time(TimestampMicrosecondBuilder::new().with_timezone("UTC")),
                Kind::Int64 => Builder::Int64(Int64Builder::new()),
                Kind::Int32 => Builder::Int32(Int32Builder::new()),
                Kind::Int16 => Builder::Int16(Int16Builder::new()),
                Kind::Label | Kind::Inet => Builder::Text(StringBuilder::new()),
            })
            .collect();
        RowBuilder { builders, rows: 0, text: String::new() }
    }

    /// Rows added since the last [`RowBuilder::finish`].
    pub fn len(&self) -> usize {
        self.rows
    }

    /// No rows since the last [`RowBuilder::finish`].
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Adds one row of a `SELECT {select_list()}`; returns its `time_received` (µs).
    pub fn push(&mut self, row: &Row) -> Result<i64, tokio_postgres::Error> {
        let mut time = 0;
        for (i, (c, b)) in COLUMNS.iter().zip(self.builders.iter_mut()).enumerate() {
            match b {
                Builder::Time(b) => {
                    let v = row.try_get::<_, Option<SystemTime>>(i)?.map(unix_micros);
                    if i == 0 {
                        time = v.unwrap_or(0);
                    }
                    b.append_option(v);
                }
                Builder::Int64(b) => b.append_option(row.try_get::<_, Option<i64>>(i)?),
                Builder::Int32(b) => b.append_option(row.try_get::<_, Option<i32>>(i)?),
                Builder::Int16(b) => b.append_option(row.try_get::<_, Option<i16>>(i)?),
                Builder::Text(b) if c.kind == Kind::Inet => match row.try_get::<_, Option<IpAddr>>(i)? {
                    Some(a) => {
                        self.text.clear();
                        let _ = write!(self.text, "{a}");
                        b.append_value(&self.text);
                    }
                    None => b.append_null(),
                },
                Builder::Text(b) => b.append_option(row.try_get::<_, Option<&str>>(i)?),
            }
        }
        self.rows += 1;
        Ok(time)
    }

    /// The rows added so far as one record batch; the builder starts empty again.
    pub fn finish(&mut self) -> Result<RecordBatch, arrow_schema::ArrowError> {
        let arrays: Vec<ArrayRef> = self
            .builders
            .iter_mut()
            .map(|b| -> ArrayRef {
                match b {
                    Builder::Time(b) => Arc::new(b.finish()),
                    Builder::Int64(b) => Arc::new(b.finish()),
                    Builder::Int32(b) => Arc::new(b.finish()),
                    Builder::Int16(b) => Arc::new(b.finish()),
                    Builder::Text(b) => Arc::new(b.finish()),
                }
            })
            .collect();
        self.rows = 0;
        RecordBatch::try_new(schema(), arrays)
    }
}

/// Checks that a batch read from an object has the archive's columns (by name, type
/// and order): a foreign or newer object is refused instead of restored wrongly.
pub fn check_layout(batch: &RecordBatch) -> Result<(), String> {
    let fields = batch.schema();
    if fields.fields().len() != COLUMNS.len() {
        return Err(format!("{} columns, expected {}", fields.fields().len(), COLUMNS.len()));
    }
    for (f, c) in fields.fields().iter().zip(COLUMNS) {
        let expected = data_type(c.kind);
        let same_type = match (f.data_type(), &expected) {
            (DataType::Timestamp(TimeUnit::Microsecond, _), DataType::Timestamp(..)) => true,
            (a, b) => a == b,
        };
        if f.name() != c.name || !same_type {
            return Err(format!(
                "column {} {:?}, expected {} {:?}",
                f.name(),
                f.data_type(),
                c.name,
                expected
            ));
        }
    }
    Ok(())
}

/// Appends the rows of `batch` whose `time_received` lies in `[from_us, to_us)` to
/// `out` as `COPY ... (FORMAT text)` lines, with `suffix` (e.g. `\t42`, the restore
/// id) after the last column. The batch must have passed [`check_layout`].
pub fn copy_text(batch: &RecordBatch, from_us: i64, to_us: i64, suffix: &str, out: &mut String) -> usize {
    let columns = batch.columns();
    let Some(times) = columns.first().and_then(|a| a.as_primitive_opt::<TimestampMicrosecondType>()) else {
        return 0;
    };
    let mut written = 0;
    for row in 0..batch.num_rows() {
        if times.is_null(row) || !(from_us..to_us).contains(&times.value(row)) {
            continue;
        }
        for (i, (a, c)) in columns.iter().zip(COLUMNS).enumerate() {
            if i > 0 {
                out.push('\t');
            }
            if a.is_null(row) {
                out.push_str("\\N");
                continue;
            }
            match c.kind {
                Kind::Time => {
                    if let Some(a) = a.as_primitive_opt::<TimestampMicrosecondType>() {
                        push_timestamp(out, a.value(row));
                    }
                }
                Kind::Int64 => {
                    if let Some(a) = a.as_primitive_opt::<Int64Type>() {
                        let _ = write!(out, "{}", a.value(row));
                    }
                }
                Kind::Int32 => {
                    if let Some(a) = a.as_primitive_opt::<Int32Type>() {
                        let _ = write!(out, "{}", a.value(row));
                    }
                }
                Kind::Int16 => {
                    if let Some(a) = a.as_primitive_opt::<Int16Type>() {
                        let _ = write!(out, "{}", a.value(row));
                    }
                }
                Kind::Label | Kind::Inet => {
                    if let Some(a) = a.as_string_opt::<i32>() {
                        push_escaped(out, a.value(row));
                    }
                }
            }
        }
        out.push_str(suffix);
        out.push('\n');
        written += 1;
    }
    written
}

/// `COPY` text escaping: backslash and the separators (the values are addresses and
/// enum labels, but an object is input, so nothing in it may break a line).
fn push_escaped(out: &mut String, v: &str) {
    for ch in v.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
}

/// `YYYY-MM-DD HH:MM:SS.ffffff+00`.
fn push_timestamp(out: &mut String, us: i64) {
    let days = us.div_euclid(86_400_000_000);
    let (y, m, d) = flowvision_codec::time::civil_from_days(days);
    let rem = us.rem_euclid(86_400_000_000);
    let secs = rem / 1_000_000;
    let _ = write!(
        out,
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}.{:06}+00",
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        rem % 1_000_000
    );
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_in_copy_text() {
        let mut s = String::new();
        push_timestamp(&mut s, 1_709_211_600_123_456);
        assert_eq!(s, "2024-02-29 13:00:00.123456+00");
        s.clear();
        push_timestamp(&mut s, -1);
        assert_eq!(s, "1969-12-31 23:59:59.999999+00");
    }

    #[test]
    fn the_schema_has_every_column_of_flows() {
        assert_eq!(schema().fields().len(), 25);
        assert!(select_list().contains("protocol::text"));
        let batch = RowBuilder::new().finish().unwrap();
        assert_eq!(check_layout(&batch), Ok(()));
    }
}
