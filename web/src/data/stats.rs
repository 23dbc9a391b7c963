//! Collector statistics: the counter snapshots each collector process writes to
//! `collector_stats`. Appliance-wide (not per exporter), so they take no scope; the
//! handlers require the `ViewCollectorStats` permission instead.

use super::{ts, DataResult, Db};
use flowvision_schema::tables::COLLECTOR_STATS;
use serde::Serialize;
use time::OffsetDateTime;

/// A collector counts as running when its latest snapshot is this recent (seconds).
pub const LIVE_SECONDS: i64 = 120;

/// One counter of a collector process.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Counter {
    /// Its name (as the collector writes it).
    pub name: String,
    /// Value since the process started.
    pub value: i64,
    /// Per second since the previous snapshot (when there is one).
    pub rate_per_s: Option<f64>,
}

/// The latest state of one collector process.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CollectorInstance {
    /// Random id of the process.
    pub instance: i64,
    /// Host name.
    pub host: String,
    /// Process start.
    pub started_at: String,
    /// Time of the latest snapshot.
    pub time: String,
    /// False when the latest snapshot is older than two minutes.
    pub live: bool,
    /// The counters, by name.
    pub counters: Vec<Counter>,
}

/// Collector processes seen in the last day.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CollectorStats {
    /// Most recent first.
    pub instances: Vec<CollectorInstance>,
}

impl Db {
    /// The latest snapshot of each collector process seen in the last day, with rates
    /// against its previous snapshot.
    pub async fn collector_stats(&self) -> DataResult<CollectorStats> {
        let c = self.conn().await?;
        let rows = c
            .query(
                &format!("SELECT l.instance, l.host, l.started_at, l.time, l.counters, p.time, p.counters, now()
                 FROM (SELECT DISTINCT ON (instance) instance, host, started_at, time, counters
                       FROM {COLLECTOR_STATS} WHERE time > now() - interval '1 day'
                       ORDER BY instance, time DESC) l
                 LEFT JOIN LATERAL (
                       SELECT time, counters FROM {COLLECTOR_STATS} p
                       WHERE p.instance = l.instance AND p.time < l.time AND p.time > l.time - interval '1 hour'
                       ORDER BY p.time DESC LIMIT 1) p ON true
                 ORDER BY l.time DESC"),
                &[],
            )
            .await?;
        let mut instances = Vec::with_capacity(rows.len());
        for r in &rows {
            let time: OffsetDateTime = r.try_get(3)?;
            let now: OffsetDateTime = r.try_get(7)?;
            let cur: serde_json::Value = r.try_get(4)?;
            let prev_time: Option<OffsetDateTime> = r.try_get(5)?;
            let prev: Option<serde_json::Value> = r.try_get(6)?;
            let dt = prev_time.map(|p| (time - p).as_seconds_f64()).filter(|d| *d > 0.0);
            let mut counters: Vec<Counter> = cur
                .as_object()
                .map(|o| {
                    o.iter()
                        .filter_map(|(k, v)| {
                            let value = v.as_i64()?;
                            let before = prev.as_ref().and_then(|p| p.get(k)).and_then(|v| v.as_i64());
                            let rate_per_s = match (before, dt) {
                                (Some(b), Some(dt)) if value >= b => Some((value - b) as f64 / dt),
                                _ => None,
                            };
                            Some(Counter { name: k.clone(), value, rate_per_s })
                        })
                        .collect()
                })
                .unwrap_or_default();
            counters.sort_by(|a, b| a.name.cmp(&b.name));
            instances.push(CollectorInstance {
                instance: r.try_get(0)?,
                host: r.try_get(1)?,
                started_at: ts(r.try_get(2)?),
                time: ts(time),
                live: (now - time).whole_seconds() <= LIVE_SECONDS,
                counters,
            });
        }
        Ok(CollectorStats { instances })
    }
}
