//! A window of feature rows merged per host.

use crate::features::{HostFeatures, HostKey};
use std::collections::BTreeMap;
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
/// kilobyte.
pub fn merge<'a>(
    rows: impl IntoIterator<Item = &'a (HostKey, HostFeatures)>,
    from_ms: i64,
    to_ms: i64,
) -> Vec<HostWindow> {
    let mut by_host: BTreeMap<(IpAddr, IpAddr), HostFeatures> = BTreeMap::new();
    for (k, f) in rows {
        if k.bucket_ms >= from_ms && k.bucket_ms < to_ms {
            by_host.entry((k.exporter, k.host)).or_default().merge(f);
        }
    }
    by_host
        .into_iter()
        .map(|((exporter, host), features)| HostWindow { from_ms, to_ms, exporter, host, features })
        .collect()
}
