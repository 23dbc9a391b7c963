//! A window of feature rows merged per host.

use crate::features::{HostFeatures, HostKey};
use flowvision_codec::hash::FxHashMap;
use std::net::IpAddr;

/// One host's features merged over a window, as one exporter saw them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HostWindow {
    /// Window start, Unix ms.
    pub from_ms: i64,
    /// Window end, Unix ms (exclusive).
    pub to_ms: i64,
    /// The exporter.
    pub exporter: IpAddr,
    /// The host.
    pub host: IpAddr,
    /// The merged features.
    pub features: HostFeatures,
}

impl HostWindow {
    /// The window's length in seconds (at least 1).
    pub fn secs(&self) -> f64 {
        ((self.to_ms - self.from_ms) as f64 / 1000.0).max(1.0)
    }

    /// `v` per second over the window.
    pub fn per_s(&self, v: i64) -> f64 {
        v as f64 / self.secs()
    }
}

/// Merges the rows whose bucket lies in `[from_ms, to_ms)` per (exporter, host), in
/// address order (so detectors see hosts in a stable order).
/// Rows are taken by reference: a window reads a few of the rows it is handed (the
/// flood window a tenth of the longest), and a row with its sketches is half a
/// kilobyte. Merged in a hash map of indices and sorted once at the end: an ordered
/// map shifted those half kilobytes within its nodes at every insert (in a profile of
/// the evaluation, `memmove` and key comparisons were the detectors' largest costs).
pub fn merge<'a>(
    rows: impl IntoIterator<Item = &'a (HostKey, HostFeatures)>,
    from_ms: i64,
    to_ms: i64,
) -> Vec<HostWindow> {
    let mut index: FxHashMap<(IpAddr, IpAddr), usize> = FxHashMap::default();
    let mut merged: Vec<HostFeatures> = Vec::new();
    for (k, f) in rows {
        if k.bucket_ms >= from_ms && k.bucket_ms < to_ms {
            let next = merged.len();
            let i = *index.entry((k.exporter, k.host)).or_insert(next);
            match merged.get_mut(i) {
                Some(m) => m.merge(f),
                None => merged.push(*f),
            }
        }
    }
    let mut order: Vec<((IpAddr, IpAddr), usize)> = index.into_iter().collect();
    order.sort_unstable_by_key(|o| o.0);
    order
        .into_iter()
        .filter_map(|((exporter, host), i)| {
            merged.get(i).map(|features| HostWindow { from_ms, to_ms, exporter, host, features: *features })
        })
        .collect()
}

/// The rows whose bucket lies in `[from_ms, to_ms)`, of rows sorted by bucket.
pub(crate) fn in_window(
    rows: &[(HostKey, HostFeatures)],
    from_ms: i64,
    to_ms: i64,
) -> &[(HostKey, HostFeatures)] {
    let lo = rows.partition_point(|(k, _)| k.bucket_ms < from_ms);
    let hi = rows.partition_point(|(k, _)| k.bucket_ms < to_ms);
    rows.get(lo..hi.max(lo)).unwrap_or_default()
}

/// Feature rows sorted by bucket, as the windows read them: a window is a slice of
/// them found by two binary searches. The order is checked (and made) once, where the
/// rows are read, not in every window: checking every window's rows again touched
/// each half-kilobyte row of the longest window once per window.
#[derive(Debug, Clone, Copy, Default)]
pub struct SortedRows<'a>(&'a [(HostKey, HostFeatures)]);

impl<'a> SortedRows<'a> {
    /// `rows`, sorted by bucket first if they are not.
    pub fn sort(rows: &'a mut [(HostKey, HostFeatures)]) -> Self {
        if !rows.windows(2).all(|w| matches!(w, [a, b] if a.0.bucket_ms <= b.0.bucket_ms)) {
            rows.sort_unstable_by_key(|(k, _)| k.bucket_ms);
        }
        SortedRows(rows)
    }

    /// The rows whose bucket lies in `[from_ms, to_ms)`.
    pub fn window(self, from_ms: i64, to_ms: i64) -> Self {
        SortedRows(in_window(self.0, from_ms, to_ms))
    }

    /// The rows.
    pub fn rows(self) -> &'a [(HostKey, HostFeatures)] {
        self.0
    }
}
