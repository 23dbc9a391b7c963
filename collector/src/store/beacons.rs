//! Periodic contacts (`host_beacons`, see `flowvision-insights`'s `beacon`): observed
//! once per batch by the tracker the writers share, and inserted in the batch's
//! transaction. A batch tried again (a timeout, a lost connection) reuses the rows of
//! its first observation: the tracker has moved on and would see its contacts as
//! repeats.

use super::time::system_time;
use crate::store::BatchId;
use flowvision_insights::beacon::{BeaconRow, BeaconTracker};
use flowvision_schema::tables::HOST_BEACONS;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::SystemTime;
use tokio_postgres::types::ToSql;

/// The insert: one array per column, expanded with `unnest`.
pub(crate) fn insert_sql() -> String {
    format!(
        "INSERT INTO {HOST_BEACONS} (started, exporter, host, peer, port, proto, contacts, period_ms, jitter, bytes_per_contact, sampling_rate, size_jitter, long_jitter) \
         SELECT * FROM unnest($1::timestamptz[], $2::inet[], $3::inet[], $4::inet[], $5::int4[], $6::int2[], $7::int4[], $8::int8[], $9::float4[], $10::int8[], $11::int4[], $12::float4[], $13::float4[])"
    )
}

/// A batch's contact rows as the insert's arrays.
#[derive(Debug, Default)]
pub(crate) struct BeaconColumns {
    started_ms: Vec<i64>,
    started: Vec<SystemTime>,
    exporters: Vec<IpAddr>,
    hosts: Vec<IpAddr>,
    peers: Vec<IpAddr>,
    ports: Vec<i32>,
    protos: Vec<i16>,
    contacts: Vec<i32>,
    periods: Vec<i64>,
    jitters: Vec<f32>,
    bytes: Vec<i64>,
    sampling_rates: Vec<i32>,
    size_jitters: Vec<Option<f32>>,
    long_jitters: Vec<Option<f32>>,
}

impl BeaconColumns {
    fn push(&mut self, b: &BeaconRow) {
        self.started_ms.push(b.start_ms);
        self.started.push(system_time(b.start_ms));
        self.exporters.push(b.key.exporter);
        self.hosts.push(b.key.host);
        self.peers.push(b.key.peer);
        self.ports.push(i32::from(b.key.port));
        self.protos.push(i16::from(b.key.proto));
        self.contacts.push(i32::try_from(b.contacts).unwrap_or(i32::MAX));
        self.periods.push(b.period_ms);
        self.jitters.push(b.jitter as f32);
        self.bytes.push(b.bytes_per_contact);
        self.sampling_rates.push(i32::try_from(b.sampling_rate.max(1)).unwrap_or(i32::MAX));
        // A pair of one contact has no spread: stored as unknown, like a sampled one.
        self.size_jitters.push(b.size_jitter.filter(|s| s.is_finite()).map(|s| s as f32));
        self.long_jitters.push(Some(b.long_jitter).filter(|s| s.is_finite()).map(|s| s as f32));
    }

    /// The rows' start times (for the partitions they need).
    pub fn times(&self) -> impl Iterator<Item = i64> + '_ {
        self.started_ms.iter().copied()
    }

    /// Whether there is nothing to insert.
    pub fn is_empty(&self) -> bool {
        self.hosts.is_empty()
    }

    /// The insert's parameters, in [`insert_sql`] order.
    pub fn params(&self) -> Vec<&(dyn ToSql + Sync)> {
        vec![
            &self.started,
            &self.exporters,
            &self.hosts,
            &self.peers,
            &self.ports,
            &self.protos,
            &self.contacts,
            &self.periods,
            &self.jitters,
            &self.bytes,
            &self.sampling_rates,
            &self.size_jitters,
            &self.long_jitters,
        ]
    }
}

/// The contact rows of the batch a writer is storing, kept until it is stored.
#[derive(Debug, Default)]
pub(crate) struct PendingBeacons {
    batch: Option<BatchId>,
    columns: BeaconColumns,
}

impl PendingBeacons {
    /// The rows of `batch`, observed by `tracker` the first time the batch is seen,
    /// and how many contacts of new pairs the tracker had no room for then (0 when the
    /// batch's rows are reused). A poisoned lock (a writer panicked while observing)
    /// leaves the batch without contact rows rather than stopping the writers.
    pub fn for_batch<'a, I>(
        &mut self,
        batch: BatchId,
        tracker: &Mutex<BeaconTracker>,
        records: I,
    ) -> (&BeaconColumns, u64)
    where
        I: Iterator<Item = (&'a flowvision_codec::FlowRecord, i64)>,
    {
        let mut untracked = 0;
        if self.batch != Some(batch) {
            self.batch = Some(batch);
            self.columns = BeaconColumns::default();
            if let Ok(mut t) = tracker.lock() {
                let before = t.untracked();
                for (r, received) in records {
                    if let Some(b) = t.observe(r, received) {
                        self.columns.push(&b);
                    }
                }
                untracked = t.untracked().saturating_sub(before);
            }
        }
        (&self.columns, untracked)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;

    #[test]
    fn the_insert_has_a_parameter_per_column() {
        let sql = insert_sql();
        assert!(sql.contains("$13::float4[]") && !sql.contains("$14"), "{sql}");
        assert_eq!(BeaconColumns::default().params().len(), 13);
    }
}
