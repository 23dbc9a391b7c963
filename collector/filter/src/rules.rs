//! The forwarding rules repository: table `forward_rules` (migration 0005), read and
//! written by the `rules` command line, the collector's live reload and the console.
//!
//! Every change to the table NOTIFYs channel [`CHANNEL`] (a trigger of the migration),
//! which is how running collectors learn about it within a second.

use crate::rule::Rule;
use tokio_postgres::types::ToSql;
use tokio_postgres::Client;

/// The NOTIFY channel the table's trigger signals on every change.
pub const CHANNEL: &str = "forward_rules";

/// Prefix of a rule's relay counters in a collector statistics snapshot
/// (`collector_stats.counters`): `relay.rule.<counter>.<rule name>`. Written by the
/// collector's relay, read by the console's rules page.
pub const STATS_RULE_PREFIX: &str = "relay.rule.";
/// Prefix of a rule's destination counters in a snapshot:
/// `relay.dest.<counter>.<rule name>@<destination as written>` (counter names hold no
/// '.', destinations no '@').
pub const STATS_DEST_PREFIX: &str = "relay.dest.";

/// One stored rule, column for column (the filter as written, not compiled).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRule {
    /// Name.
    pub name: String,
    /// Filter text.
    pub filter: String,
    /// host:port.
    pub destination: Option<String>,
    /// raw, reencode or drop.
    pub action: String,
    /// Re-encode protocol.
    pub protocol: Option<String>,
    /// Transparent raw forwarding.
    pub transparent: bool,
    /// Evaluation order.
    pub position: i32,
    /// Active.
    pub enabled: bool,
}

impl StoredRule {
    /// Compiles the row into a [`Rule`] (parses the filter, resolves the destination).
    pub fn compile(&self) -> Result<Rule, crate::RuleError> {
        Rule::from_columns(
            &self.name,
            &self.filter,
            self.destination.as_deref(),
            &self.action,
            self.protocol.as_deref(),
            self.transparent,
        )
    }
}

/// Reads every stored rule, in evaluation order.
pub async fn list(client: &Client) -> Result<Vec<StoredRule>, tokio_postgres::Error> {
    let rows = client
        .query(
            "SELECT name, filter, destination, action, protocol, transparent, position, enabled \
             FROM forward_rules ORDER BY position, name",
            &[],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| StoredRule {
            name: r.get(0),
            filter: r.get(1),
            destination: r.get(2),
            action: r.get(3),
            protocol: r.get(4),
            transparent: r.get(5),
            position: r.get(6),
            enabled: r.get(7),
        })
        .collect())
}

/// Loads the enabled rules, compiled; rows that do not compile are skipped and
/// described in the second list (a bad row must not stop the others from forwarding).
pub async fn load(client: &Client) -> Result<(Vec<Rule>, Vec<String>), tokio_postgres::Error> {
    let mut rules = Vec::new();
    let mut problems = Vec::new();
    for s in list(client).await?.into_iter().filter(|s| s.enabled) {
        match s.compile() {
            Ok(r) => rules.push(r),
            Err(e) => problems.push(format!("rule {} skipped: {e}", s.name)),
        }
    }
    Ok((rules, problems))
}

impl StoredRule {
    /// The row's values in the table's column order (name, filter, destination, action,
    /// protocol, transparent, position, enabled), as statements bind them.
    fn columns(&self) -> [&(dyn ToSql + Sync); 8] {
        [
            &self.name,
            &self.filter,
            &self.destination,
            &self.action,
            &self.protocol,
            &self.transparent,
            &self.position,
            &self.enabled,
        ]
    }
}

/// Adds `rule`, or replaces the rule of the same name. The caller checks it first
/// ([`StoredRule::compile`] or its own argument checks): the table takes any text.
pub async fn save(client: &Client, rule: &StoredRule) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            "INSERT INTO forward_rules (name, filter, destination, action, protocol, transparent, position, enabled)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (name) DO UPDATE SET filter = EXCLUDED.filter,
                 destination = EXCLUDED.destination, action = EXCLUDED.action,
                 protocol = EXCLUDED.protocol, transparent = EXCLUDED.transparent,
                 position = EXCLUDED.position, enabled = EXCLUDED.enabled",
            &rule.columns(),
        )
        .await?;
    Ok(())
}

/// Deletes the rule named `name`; false when there was none.
pub async fn delete(client: &Client, name: &str) -> Result<bool, tokio_postgres::Error> {
    Ok(client.execute("DELETE FROM forward_rules WHERE name = $1", &[&name]).await? > 0)
}

/// Reads one stored rule by name.
pub async fn get(client: &Client, name: &str) -> Result<Option<StoredRule>, tokio_postgres::Error> {
    Ok(list(client).await?.into_iter().find(|r| r.name == name))
}

/// Adds `rule` only when no rule has its name; false when one does (the console's
/// "add" must not silently replace an existing rule, unlike [`save`]).
pub async fn insert(client: &Client, rule: &StoredRule) -> Result<bool, tokio_postgres::Error> {
    let n = client
        .execute(
            "INSERT INTO forward_rules (name, filter, destination, action, protocol, transparent, position, enabled)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (name) DO NOTHING",
            &rule.columns(),
        )
        .await?;
    Ok(n > 0)
}

/// Replaces the rule named `name` by `rule` (which may carry a new name); false when
/// there was none. A rename onto an existing name is a unique violation.
pub async fn update(client: &Client, name: &str, rule: &StoredRule) -> Result<bool, tokio_postgres::Error> {
    let n = client
        .execute(
            "UPDATE forward_rules SET name = $2, filter = $3, destination = $4, action = $5, protocol = $6,
                 transparent = $7, position = $8, enabled = $9
             WHERE name = $1",
            &[&[&name as &(dyn ToSql + Sync)][..], &rule.columns()[..]].concat(),
        )
        .await?;
    Ok(n > 0)
}

/// Enables or disables the rule named `name`; false when there was none.
pub async fn set_enabled(client: &Client, name: &str, enabled: bool) -> Result<bool, tokio_postgres::Error> {
    Ok(client.execute("UPDATE forward_rules SET enabled = $2 WHERE name = $1", &[&name, &enabled]).await? > 0)
}
