//! The archive's counters, shown on the collector's `/metrics` as
//! `flowvision_archive_*`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Counters and gauges of the archiver.
#[derive(Debug, Default)]
pub struct ArchiveStats {
    /// Objects uploaded and verified.
    pub objects: AtomicU64,
    /// Rows archived.
    pub rows: AtomicU64,
    /// Bytes uploaded (verified objects).
    pub bytes: AtomicU64,
    /// Partitions archived completely.
    pub partitions: AtomicU64,
    /// Closed partitions not archived yet (gauge).
    pub pending: AtomicU64,
    /// Partitions past their retention that are kept because they are not archived
    /// (gauge): retention is blocked for them.
    pub blocked: AtomicU64,
    /// Unix seconds of the last partition archived (gauge; 0: none yet).
    pub last_success: AtomicU64,
    /// Failed attempts by reason ([`crate::error::REASONS`]).
    failures: Mutex<Vec<(&'static str, u64)>>,
}

impl ArchiveStats {
    /// Counts one failed attempt.
    pub fn failed(&self, reason: &'static str) {
        let mut f = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        match f.iter_mut().find(|(r, _)| *r == reason) {
            Some((_, n)) => *n += 1,
            None => f.push((reason, 1)),
        }
    }

    /// Failed attempts by reason, every known reason included.
    pub fn failures(&self) -> Vec<(&'static str, u64)> {
        let f = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        crate::error::REASONS
            .iter()
            .map(|r| (*r, f.iter().find(|(x, _)| x == r).map_or(0, |(_, n)| *n)))
            .collect()
    }

    /// Writes the counters in Prometheus' text format.
    pub fn render(&self, out: &mut String) {
        use std::fmt::Write as _;
        let single = |out: &mut String, name: &str, kind: &str, help: &str, v: u64| {
            let _ = writeln!(out, "# HELP flowvision_archive_{name} {help}");
            let _ = writeln!(out, "# TYPE flowvision_archive_{name} {kind}");
            let _ = writeln!(out, "flowvision_archive_{name} {v}");
        };
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        single(out, "objects_total", "counter", "Objects uploaded and verified.", load(&self.objects));
        single(out, "rows_total", "counter", "Flow rows archived.", load(&self.rows));
        single(out, "bytes_total", "counter", "Bytes of verified objects uploaded.", load(&self.bytes));
        single(out, "partitions_total", "counter", "Partitions archived completely.", load(&self.partitions));
        single(
            out,
            "pending_partitions",
            "gauge",
            "Closed partitions not archived yet.",
            load(&self.pending),
        );
        single(
            out,
            "retention_blocked_partitions",
            "gauge",
            "Partitions past retention kept because they are not archived.",
            load(&self.blocked),
        );
        single(
            out,
            "last_success_seconds",
            "gauge",
            "Unix time of the last partition archived (0: none).",
            load(&self.last_success),
        );
        let _ = writeln!(out, "# HELP flowvision_archive_failures_total Failed archive attempts by reason.");
        let _ = writeln!(out, "# TYPE flowvision_archive_failures_total counter");
        for (reason, n) in self.failures() {
            let _ = writeln!(out, "flowvision_archive_failures_total{{reason=\"{reason}\"}} {n}");
        }
    }
}
