//! Anomalies of the exporter rather than of hosts: its export stops, or one of its
//! links fails. They add no flows; while their window lasts they change what the
//! exporter exports of the background ([`Outage::reroute`]), which is what an
//! operator's traffic_anomaly insight should notice:
//!
//! - `export_outage`: the exporter exports nothing (the device, its export process or
//!   the path to the collector is down), so its volume drops to zero;
//! - `link_failure`: interface `interface` (default ifIndex 1, the first uplink) goes
//!   down. Traffic through an uplink takes the next uplink (`interface % uplinks + 1`),
//!   so the exporter's total stays as usual while one interface goes silent and
//!   another carries twice its share; traffic through a failed inside interface is
//!   lost (its hosts are cut off), as it is with a single uplink.
//!
//! Their labels count the background records they affected (not exported, or
//! exported through the backup link) in `flows`, `bytes` and `packets`.

use super::{AnomalyKind, Common, Involved};
use crate::traffic::Site;
use flowvision_codec::FlowRecord;

/// A running export outage or link failure.
#[derive(Debug, Clone)]
pub struct Outage {
    /// Window and random stream.
    pub common: Common,
    /// The failed interface (`link_failure`); `None`: the whole export.
    failed: Option<u32>,
    /// Where an uplink's traffic went, once known (`link_failure` of an uplink).
    backup: Option<u32>,
}

/// What happened to one background record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Not touched by the outage.
    Untouched,
    /// Exported through another interface.
    Rerouted,
    /// Not exported.
    Lost,
}

impl Outage {
    /// An export outage, or a link failure of `interface` (default 1).
    pub fn new(common: Common) -> Outage {
        let failed = match common.plan.spec.kind {
            AnomalyKind::LinkFailure => Some(common.plan.spec.interface.unwrap_or(1).max(1)),
            _ => None,
        };
        Outage { common, failed, backup: None }
    }

    /// What the outage does to a background record of its exporter made at `now_ms`
    /// through `site`: leaves it, moves it to the backup uplink, or drops it.
    pub fn reroute(&mut self, now_ms: i64, site: &Site, rec: &mut FlowRecord) -> Fate {
        if now_ms < self.common.plan.start_ms || now_ms >= self.common.plan.end_ms {
            return Fate::Untouched;
        }
        let Some(failed) = self.failed else { return Fate::Lost };
        if rec.in_if != failed && rec.out_if != failed {
            return Fate::Untouched;
        }
        if failed > site.uplinks || site.uplinks < 2 {
            return Fate::Lost;
        }
        let backup = failed % site.uplinks + 1;
        self.backup = Some(backup);
        if rec.in_if == failed {
            rec.in_if = backup;
        }
        if rec.out_if == failed {
            rec.out_if = backup;
            if let Some(hop) = rec.next_hop {
                rec.next_hop = Some(site.uplink_hop(backup, hop.is_ipv6()));
            }
        }
        Fate::Rerouted
    }

    /// Ground truth: no hosts; the failed interface and its backup in `details`.
    pub fn involved(&self) -> Involved {
        let mut details = serde_json::Map::new();
        if let Some(f) = self.failed {
            details.insert("interface".into(), f.into());
            details.insert("backup".into(), self.backup.map_or(serde_json::Value::Null, Into::into));
        }
        Involved { details, ..Involved::default() }
    }
}
