//! Forwarding (relay) rules, read and written through the filter crate's repository
//! (`flowvision_filter::rules`: the same functions the `rules` command line uses, so
//! the table's trigger NOTIFYs every collector, which reloads within a second), and
//! the relay's live counters as the collectors snapshot them into `collector_stats`.
//!
//! Rules are appliance-wide (a rule sees the flows of every exporter), so these
//! functions take no scope; the handlers require `ManageRules` and an all-exporter
//! scope for changes instead.

use super::{DataError, DataResult, Db};
use flowvision_filter::rules::{self, StoredRule};
use flowvision_schema::tables::COLLECTOR_STATS;
use serde::Serialize;
use std::collections::BTreeMap;

/// One rule as the console shows it: its columns and its live counters.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RuleView {
    /// Unique name.
    pub name: String,
    /// Filter expression as written.
    pub filter: String,
    /// `raw`, `reencode` or `drop`.
    pub action: String,
    /// host:port (`None` for `drop`).
    pub destination: Option<String>,
    /// Re-encode protocol (`netflow_v9` or `ipfix`).
    pub protocol: Option<String>,
    /// Raw forwarding with the exporter's source address.
    pub transparent: bool,
    /// Evaluation order (then by name).
    pub position: i32,
    /// Active.
    pub enabled: bool,
    /// Counters of the rule (summed over live collectors).
    pub counters: Counters,
    /// Counters per destination of the rule, by destination as written.
    pub destinations: BTreeMap<String, Counters>,
}

/// Counter name (`matched`, `sent`, `dropped_<reason>`, `up`, `state_<health>`) to value.
pub type Counters = BTreeMap<String, i64>;
/// Counters by rule name.
pub type RuleCounters = BTreeMap<String, Counters>;
/// Counters by rule name, then destination as written.
pub type DestCounters = BTreeMap<String, BTreeMap<String, Counters>>;

impl RuleView {
    fn of(s: StoredRule) -> RuleView {
        RuleView {
            name: s.name,
            filter: s.filter,
            action: s.action,
            destination: s.destination,
            protocol: s.protocol,
            transparent: s.transparent,
            position: s.position,
            enabled: s.enabled,
            counters: BTreeMap::new(),
            destinations: BTreeMap::new(),
        }
    }
}

/// The relay counters of a snapshot, split by rule: (rule counters, destination
/// counters by rule then destination). Rule names may contain dots: destination keys
/// end with `host:port` or `[v6]:port`, which is found from the right.
pub fn split_relay_counters(
    counters: &serde_json::Map<String, serde_json::Value>,
) -> (RuleCounters, DestCounters) {
    let mut rules = RuleCounters::new();
    let mut dests = DestCounters::new();
    for (k, v) in counters {
        let Some(value) = v.as_i64() else { continue };
        // Keys written by the collector's relay (`Relay::statistics`).
        if let Some(rest) = k.strip_prefix(rules::STATS_RULE_PREFIX) {
            if let Some((counter, rule)) = rest.split_once('.') {
                *rules.entry(rule.to_string()).or_default().entry(counter.to_string()).or_default() += value;
            }
        } else if let Some(rest) = k.strip_prefix(rules::STATS_DEST_PREFIX) {
            // `<counter>.<rule>@<dest>`: counters have no '.', and host:port no '@'.
            if let Some((counter, rd)) = rest.split_once('.') {
                if let Some((rule, dest)) = rd.rsplit_once('@') {
                    *dests
                        .entry(rule.to_string())
                        .or_default()
                        .entry(dest.to_string())
                        .or_default()
                        .entry(counter.to_string())
                        .or_default() += value;
                }
            }
        }
    }
    (rules, dests)
}

impl Db {
    /// Every rule in evaluation order, with the relay counters of the live collectors.
    pub async fn rules(&self) -> DataResult<Vec<RuleView>> {
        let c = self.conn().await?;
        let stored = rules::list(&c).await?;
        let (mut rc, mut dc) = self.relay_counters(&c).await?;
        Ok(stored
            .into_iter()
            .map(|s| {
                let mut v = RuleView::of(s);
                v.counters = rc.remove(&v.name).unwrap_or_default();
                v.destinations = dc.remove(&v.name).unwrap_or_default();
                v
            })
            .collect())
    }

    /// One rule with its counters.
    pub async fn rule(&self, name: &str) -> DataResult<Option<RuleView>> {
        Ok(self.rules().await?.into_iter().find(|r| r.name == name))
    }

    /// Adds a rule (checked by the caller); a conflict when the name is taken.
    pub async fn insert_rule(&self, rule: &StoredRule) -> DataResult<()> {
        let c = self.conn().await?;
        if rules::insert(&c, rule).await? {
            Ok(())
        } else {
            Err(DataError::Conflict(format!("a rule named {:?} exists", rule.name)))
        }
    }

    /// Replaces the rule `name` (checked by the caller); not found when there is none.
    pub async fn update_rule(&self, name: &str, rule: &StoredRule) -> DataResult<()> {
        let c = self.conn().await?;
        if rules::update(&c, name, rule).await? {
            Ok(())
        } else {
            Err(DataError::NotFound)
        }
    }

    /// Enables or disables the rule `name`.
    pub async fn set_rule_enabled(&self, name: &str, enabled: bool) -> DataResult<()> {
        let c = self.conn().await?;
        if rules::set_enabled(&c, name, enabled).await? {
            Ok(())
        } else {
            Err(DataError::NotFound)
        }
    }

    /// Deletes the rule `name`.
    pub async fn delete_rule(&self, name: &str) -> DataResult<()> {
        let c = self.conn().await?;
        if rules::delete(&c, name).await? {
            Ok(())
        } else {
            Err(DataError::NotFound)
        }
    }

    /// The relay counters of the latest snapshot of every live collector, summed.
    async fn relay_counters(&self, c: &tokio_postgres::Client) -> DataResult<(RuleCounters, DestCounters)> {
        let rows = c
            .query(
                &format!(
                    "SELECT DISTINCT ON (instance) counters FROM {COLLECTOR_STATS}
                     WHERE time > now() - make_interval(secs => $1)
                     ORDER BY instance, time DESC"
                ),
                &[&(super::stats::LIVE_SECONDS as f64)],
            )
            .await?;
        let mut rules = RuleCounters::new();
        let mut dests = DestCounters::new();
        for r in &rows {
            let v: serde_json::Value = r.try_get(0)?;
            let Some(o) = v.as_object() else { continue };
            let (rs, ds) = split_relay_counters(o);
            for (rule, m) in rs {
                let e = rules.entry(rule).or_default();
                for (k, n) in m {
                    *e.entry(k).or_default() += n;
                }
            }
            for (rule, by_dest) in ds {
                let e = dests.entry(rule).or_default();
                for (d, m) in by_dest {
                    let e = e.entry(d).or_default();
                    for (k, n) in m {
                        *e.entry(k).or_default() += n;
                    }
                }
            }
        }
        Ok((rules, dests))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;

    #[test]
    fn relay_keys_split_by_rule_and_destination() {
        let v = serde_json::json!({
            "records_decoded_total.ipfix": 9,
            "relay.rule.matched.a.b@c": 5,
            "relay.rule.dropped_queue_full.a.b@c": 1,
            "relay.dest.sent.a.b@c@[2001:db8::1]:2055": 4,
            "relay.dest.state_up.a.b@c@[2001:db8::1]:2055": 1,
            "relay.dest.sent.plain@host.example:9995": 7,
            "relay.rule.junk": 3,
            "relay.dest.sent.no-destination": 3,
            "relay.rule.matched.text": "x"
        });
        let (rules, dests) = split_relay_counters(v.as_object().unwrap());
        assert_eq!(rules.len(), 1, "{rules:?}");
        assert_eq!(rules["a.b@c"]["matched"], 5);
        assert_eq!(rules["a.b@c"]["dropped_queue_full"], 1);
        assert_eq!(dests["a.b@c"]["[2001:db8::1]:2055"]["sent"], 4);
        assert_eq!(dests["a.b@c"]["[2001:db8::1]:2055"]["state_up"], 1);
        assert_eq!(dests["plain"]["host.example:9995"]["sent"], 7);
        assert_eq!(dests.len(), 2);
    }
}
