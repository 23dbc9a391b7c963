//! Helpers of the archive tests: the `archive` command, canonical rows from
//! PostgreSQL, and pyarrow's reading of the bucket's files.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use flowvision_tests::postgres;
use serde_json::Value;
use std::path::Path;
use std::process::Command;

pub const BIN: &str = env!("CARGO_BIN_EXE_flowvision-collector");

/// Canonical rows: one JSON array per row, the columns in `flows` order, timestamps
/// as µs since the epoch, addresses as text, sorted.
pub fn canonical(c: &mut postgres::Client, from: &str, cond: &str) -> Vec<Value> {
    let cols: Vec<String> = c
        .query(
            "SELECT column_name::text, data_type::text FROM information_schema.columns \
             WHERE table_name = 'flows' ORDER BY ordinal_position",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| {
            let (name, ty): (String, String) = (r.get(0), r.get(1));
            match ty.as_str() {
                "timestamp with time zone" => format!("(extract(epoch from {name}) * 1000000)::int8::text"),
                "inet" => format!("host({name})"),
                _ => format!("{name}::text"),
            }
        })
        .collect();
    let sql = format!("SELECT json_build_array({})::text FROM {from} WHERE {cond}", cols.join(", "));
    let mut rows: Vec<Value> = c
        .query(&sql, &[])
        .unwrap()
        .iter()
        .map(|r| normalize(serde_json::from_str(r.get::<_, &str>(0)).unwrap()))
        .collect();
    rows.sort_by_key(|v| v.to_string());
    rows
}

/// Every value as text (PostgreSQL's `::text` and pyarrow's numbers then compare).
pub fn normalize(v: Value) -> Value {
    match v {
        Value::Array(a) => Value::Array(
            a.into_iter()
                .map(|x| match x {
                    Value::Null => Value::Null,
                    Value::String(s) => Value::String(s),
                    other => Value::String(other.to_string()),
                })
                .collect(),
        ),
        other => other,
    }
}

/// (object headers, rows) as pyarrow reads them from the bucket's files.
pub fn pyarrow_read(bucket_dir: &Path) -> (Vec<Value>, Vec<Value>) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/archive/read_parquet.py");
    let out = Command::new("python3").arg(script).arg(bucket_dir).output().unwrap();
    assert!(
        out.status.success(),
        "pyarrow reader failed (python3 -m pip install pyarrow): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (mut headers, mut rows) = (Vec::new(), Vec::new());
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        if v.is_object() {
            headers.push(v);
        } else {
            rows.push(normalize(v));
        }
    }
    rows.sort_by_key(|v| v.to_string());
    (headers, rows)
}

pub fn cli(args: &[&str], env: &[(String, String)]) -> std::process::Output {
    Command::new(BIN).arg("archive").args(args).envs(env.iter().map(|(k, v)| (k, v))).output().unwrap()
}

pub fn partitions_of(c: &mut postgres::Client) -> Vec<String> {
    let mut v: Vec<String> = c
        .query(
            "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
             WHERE i.inhparent = 'flows'::regclass",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    v.sort();
    v
}

pub fn catalog_status(c: &mut postgres::Client, partition: &str) -> Option<String> {
    c.query_opt("SELECT status FROM archive_partitions WHERE partition = $1", &[&partition])
        .unwrap()
        .map(|r| r.get(0))
}

/// The environment of the `archive` command / the daemon for this database and server.
pub fn archive_env(
    database_url: &str,
    s3: &flowvision_tests::s3::S3Server,
    state_dir: &Path,
) -> Vec<(String, String)> {
    [
        vec![("DATABASE_URL".to_string(), database_url.to_string())],
        s3.env(),
        vec![("STATE_DIR".into(), state_dir.to_string_lossy().into_owned())],
        // Several row groups per object, so that each one's order is checked.
        vec![("ARCHIVE_ROW_GROUP_ROWS".into(), "10000".into())],
    ]
    .concat()
}
