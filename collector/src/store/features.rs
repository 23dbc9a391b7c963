//! Host feature rows (`host_features`, see `flowvision-insights`): built from each
//! batch before its transaction and inserted in it, so a feature row exists exactly
//! when its flows do (a replayed or duplicate batch adds none twice).

use super::time::system_time;
use flowvision_insights::features::{Counters, HostFeatures, HostKey, COUNTERS};
use flowvision_insights::HostFeatureSet;
use flowvision_schema::tables::HOST_FEATURES;
use std::net::IpAddr;
use std::time::SystemTime;
use tokio_postgres::types::ToSql;

/// The insert: one array per column, expanded with `unnest`.
pub(crate) fn insert_sql() -> String {
    let counters = Counters::NAMES;
    let sketches = HostFeatures::SKETCH_NAMES;
    let mut cols = vec!["bucket", "exporter", "host"];
    cols.extend(counters);
    cols.extend(sketches);
    let mut arrays = vec!["$1::timestamptz[]".to_string(), "$2::inet[]".into(), "$3::inet[]".into()];
    arrays.extend((0..counters.len()).map(|i| format!("${}::int8[]", 4 + i)));
    arrays.extend((0..sketches.len()).map(|i| format!("${}::bytea[]", 4 + counters.len() + i)));
    format!("INSERT INTO {HOST_FEATURES} ({}) SELECT * FROM unnest({})", cols.join(", "), arrays.join(", "))
}

/// A batch's feature rows as the insert's arrays.
#[derive(Debug, Default)]
pub(crate) struct FeatureColumns {
    bucket_ms: Vec<i64>,
    buckets: Vec<SystemTime>,
    exporters: Vec<IpAddr>,
    hosts: Vec<IpAddr>,
    counters: [Vec<i64>; COUNTERS],
    sketches: [Vec<Vec<u8>>; 4],
}

impl FeatureColumns {
    /// The columns of `set`'s rows.
    pub fn from_set(set: &HostFeatureSet) -> FeatureColumns {
        let mut c = FeatureColumns::default();
        for (k, f) in set.rows() {
            c.push(&k, &f);
        }
        c
    }

    fn push(&mut self, k: &HostKey, f: &HostFeatures) {
        self.bucket_ms.push(k.bucket_ms);
        self.buckets.push(system_time(k.bucket_ms));
        self.exporters.push(k.exporter);
        self.hosts.push(k.host);
        for (col, v) in self.counters.iter_mut().zip(f.counters.fields()) {
            col.push(v);
        }
        for (col, s) in self.sketches.iter_mut().zip(f.sketches()) {
            col.push(s.as_bytes().to_vec());
        }
    }

    /// The rows' bucket times (for the partitions they need).
    pub fn times(&self) -> impl Iterator<Item = i64> + '_ {
        self.bucket_ms.iter().copied()
    }

    /// Whether there is nothing to insert.
    pub fn is_empty(&self) -> bool {
        self.hosts.is_empty()
    }

    /// The insert's parameters, in [`insert_sql`] order.
    pub fn params(&self) -> Vec<&(dyn ToSql + Sync)> {
        let mut p: Vec<&(dyn ToSql + Sync)> = vec![&self.buckets, &self.exporters, &self.hosts];
        p.extend(self.counters.iter().map(|c| c as &(dyn ToSql + Sync)));
        p.extend(self.sketches.iter().map(|c| c as &(dyn ToSql + Sync)));
        p
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;

    #[test]
    fn the_insert_names_every_column_once_with_its_parameter() {
        let sql = insert_sql();
        assert!(sql.starts_with("INSERT INTO host_features (bucket, exporter, host, flows_in,"), "{sql}");
        assert!(sql.contains("$25::bytea[]") && !sql.contains("$26"), "{sql}");
        assert_eq!(FeatureColumns::default().params().len(), 25);
    }
}
