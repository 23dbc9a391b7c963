//! SNMP credentials (sealed secrets and their plain settings), the poll schedule's
//! queries, and what polls learned (system group, interfaces). docs/snmp.md.

use super::{ts, ts_opt, DataError, DataResult, Db, Scope};
use flowvision_schema::tables::{
    EXPORTERS, EXPORTER_INTERFACES, EXPORTER_SNMP, SNMP_CREDENTIALS, WEB_DEVICE_GROUPS,
    WEB_DEVICE_GROUP_MEMBERS,
};
use flowvision_snmp::{Device, PollError};
use serde::Serialize;
use std::net::IpAddr;
use std::time::Duration;
use time::OffsetDateTime;

/// Whose credentials a row holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialsOwner {
    /// One exporter's own.
    Exporter(IpAddr),
    /// The default of a device group's exporters.
    Group(i64),
}

impl CredentialsOwner {
    /// Associated data the secrets are sealed with: a sealed value copied to another
    /// row does not open.
    pub fn seal_context(&self) -> Vec<u8> {
        match self {
            CredentialsOwner::Exporter(ip) => format!("exporter:{ip}").into_bytes(),
            CredentialsOwner::Group(id) => format!("group:{id}").into_bytes(),
        }
    }
}

/// A credentials row: the plain settings and the sealed secrets.
#[derive(Debug, Clone)]
pub struct StoredCredentials {
    /// Whose.
    pub owner: CredentialsOwner,
    /// The group's name when `owner` is a group.
    pub group_name: Option<String>,
    /// `2c` or `3`.
    pub version: String,
    /// v3 user.
    pub user: Option<String>,
    /// v3 authentication protocol.
    pub auth_protocol: Option<String>,
    /// v3 privacy protocol.
    pub priv_protocol: Option<String>,
    /// The agent's address when not the exporter's.
    pub agent: Option<IpAddr>,
    /// UDP port.
    pub port: u16,
    /// Sealed secrets (see `crate::snmp`).
    pub sealed: Vec<u8>,
    /// Last change.
    pub updated_at: OffsetDateTime,
    /// Who changed it.
    pub updated_by: String,
}

/// What the API shows of credentials: everything but the secrets.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CredentialsView {
    /// `exporter` (its own) or `group` (a device group's default).
    pub source: &'static str,
    /// The group, for `source = group`.
    pub group: Option<String>,
    /// `2c` or `3`.
    pub version: String,
    /// v3 user (not a secret).
    pub user: Option<String>,
    /// v3 authentication protocol.
    pub auth_protocol: Option<String>,
    /// v3 privacy protocol.
    pub priv_protocol: Option<String>,
    /// Agent address (default: the exporter's).
    pub agent: Option<String>,
    /// UDP port.
    pub port: u16,
    /// Last change.
    pub updated_at: String,
    /// Who made it.
    pub updated_by: String,
}

impl StoredCredentials {
    /// The view without secrets.
    pub fn view(&self) -> CredentialsView {
        CredentialsView {
            source: match self.owner {
                CredentialsOwner::Exporter(_) => "exporter",
                CredentialsOwner::Group(_) => "group",
            },
            group: self.group_name.clone(),
            version: self.version.clone(),
            user: self.user.clone(),
            auth_protocol: self.auth_protocol.clone(),
            priv_protocol: self.priv_protocol.clone(),
            agent: self.agent.map(|a| a.to_string()),
            port: self.port,
            updated_at: ts(self.updated_at),
            updated_by: self.updated_by.clone(),
        }
    }
}

/// The SNMP state of an exporter as the API shows it.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct SnmpState {
    /// `ok`, `error`, `polling`, `never` (credentials but no poll yet) or
    /// `unconfigured` (no credentials apply).
    pub status: String,
    /// Start of the last poll.
    pub last_poll: Option<String>,
    /// Last successful poll.
    pub last_success: Option<String>,
    /// The last poll's error, for people.
    pub last_error: Option<String>,
    /// Its class (`timeout`, `authentication`, ...).
    pub error_kind: Option<String>,
    /// Interfaces known.
    pub interfaces: i32,
    /// Whether the agent serves ifXTable (`false`: names from ifDescr).
    pub if_x_table: Option<bool>,
    /// Duration of the last poll, ms.
    pub poll_ms: Option<i32>,
}

/// System group and SNMP state of one exporter.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SnmpSystem {
    /// sysName.
    pub sys_name: Option<String>,
    /// sysDescr.
    pub sys_descr: Option<String>,
    /// sysObjectID (dotted).
    pub sys_object_id: Option<String>,
    /// sysUpTime, hundredths of a second.
    pub sys_uptime_cs: Option<i64>,
    /// Poll state.
    pub state: SnmpState,
}

/// Names of one interface.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct InterfaceNames {
    /// ifName.
    pub name: Option<String>,
    /// ifAlias.
    pub alias: Option<String>,
    /// ifDescr.
    pub descr: Option<String>,
    /// Speed, bit/s.
    pub speed_bps: Option<i64>,
    /// ifOperStatus.
    pub oper_status: Option<String>,
}

impl InterfaceNames {
    /// `ifName (ifAlias)`, else ifDescr, else the index.
    pub fn label(&self, ifindex: i64) -> String {
        flowvision_snmp::device::label(
            u32::try_from(ifindex).unwrap_or(0),
            self.name.as_deref(),
            self.alias.as_deref(),
            self.descr.as_deref(),
        )
    }
}

const CRED_COLS: &str =
    "c.exporter, c.group_id, g.name, c.version, c.v3_user, c.auth_protocol, c.priv_protocol, \
                         c.agent, c.port, c.sealed, c.updated_at, c.updated_by";

fn row_to_credentials(r: &tokio_postgres::Row) -> DataResult<StoredCredentials> {
    let exporter: Option<IpAddr> = r.try_get(0)?;
    let group: Option<i64> = r.try_get(1)?;
    let owner = match (exporter, group) {
        (Some(e), _) => CredentialsOwner::Exporter(e),
        (None, Some(g)) => CredentialsOwner::Group(g),
        (None, None) => return Err(DataError::Invalid("credentials row without owner".into())),
    };
    let port: i32 = r.try_get(8)?;
    Ok(StoredCredentials {
        owner,
        group_name: r.try_get(2)?,
        version: r.try_get(3)?,
        user: r.try_get(4)?,
        auth_protocol: r.try_get(5)?,
        priv_protocol: r.try_get(6)?,
        agent: r.try_get(7)?,
        port: u16::try_from(port).unwrap_or(161),
        sealed: r.try_get(9)?,
        updated_at: r.try_get(10)?,
        updated_by: r.try_get(11)?,
    })
}

/// The credentials that apply to exporter `$1`: its own, else those of the device
/// group with the most specific prefix holding it (ties: the oldest group).
fn effective_sql() -> String {
    format!(
        "SELECT {CRED_COLS} FROM {SNMP_CREDENTIALS} c
         LEFT JOIN {WEB_DEVICE_GROUPS} g ON g.id = c.group_id
         LEFT JOIN {WEB_DEVICE_GROUP_MEMBERS} m ON m.group_id = c.group_id
         WHERE c.exporter = $1 OR (c.group_id IS NOT NULL AND $1 <<= m.prefix)
         ORDER BY (c.exporter IS NOT NULL) DESC, masklen(m.prefix) DESC NULLS LAST, c.group_id
         LIMIT 1"
    )
}

/// Values of a credentials row to write.
#[derive(Debug, Clone)]
pub struct NewCredentials<'a> {
    /// `2c` or `3`.
    pub version: &'a str,
    /// v3 user.
    pub user: Option<&'a str>,
    /// v3 auth protocol.
    pub auth_protocol: Option<&'a str>,
    /// v3 priv protocol.
    pub priv_protocol: Option<&'a str>,
    /// Agent address (exporters only).
    pub agent: Option<IpAddr>,
    /// UDP port.
    pub port: u16,
    /// Sealed secrets.
    pub sealed: Vec<u8>,
}

impl Db {
    /// The credentials that apply to `exporter` (own or a group's), if any.
    pub async fn snmp_credentials_for(&self, exporter: IpAddr) -> DataResult<Option<StoredCredentials>> {
        let c = self.conn().await?;
        let row = c.query_opt(&effective_sql(), &[&exporter]).await?;
        row.as_ref().map(row_to_credentials).transpose()
    }

    /// Sets `owner`'s credentials (replacing any). An exporter must be inside `scope`;
    /// a group must exist.
    pub async fn set_snmp_credentials(
        &self,
        scope: &Scope,
        owner: CredentialsOwner,
        new: &NewCredentials<'_>,
        by: &str,
    ) -> DataResult<()> {
        let c = self.conn().await?;
        let port = i32::from(new.port);
        let sql = format!(
            "INSERT INTO {SNMP_CREDENTIALS}
               (exporter, group_id, version, v3_user, auth_protocol, priv_protocol, agent, port, sealed, updated_at, updated_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, now(), $10)
             ON CONFLICT ({col}) DO UPDATE SET version = EXCLUDED.version, v3_user = EXCLUDED.v3_user,
               auth_protocol = EXCLUDED.auth_protocol, priv_protocol = EXCLUDED.priv_protocol,
               agent = EXCLUDED.agent, port = EXCLUDED.port, sealed = EXCLUDED.sealed,
               updated_at = now(), updated_by = EXCLUDED.updated_by",
            col = match owner {
                CredentialsOwner::Exporter(_) => "exporter",
                CredentialsOwner::Group(_) => "group_id",
            }
        );
        let (exporter, group) = match owner {
            CredentialsOwner::Exporter(ip) => {
                if !scope.allows(ip) {
                    return Err(DataError::NotFound);
                }
                (Some(ip), None)
            }
            CredentialsOwner::Group(id) => {
                let known =
                    c.query_opt(&format!("SELECT 1 FROM {WEB_DEVICE_GROUPS} WHERE id = $1"), &[&id]).await?;
                if known.is_none() {
                    return Err(DataError::NotFound);
                }
                (None, Some(id))
            }
        };
        c.execute(
            &sql,
            &[
                &exporter,
                &group,
                &new.version,
                &new.user,
                &new.auth_protocol,
                &new.priv_protocol,
                &new.agent,
                &port,
                &new.sealed,
                &by,
            ],
        )
        .await?;
        Ok(())
    }

    /// Removes `owner`'s credentials; `false` when there were none.
    pub async fn delete_snmp_credentials(&self, scope: &Scope, owner: CredentialsOwner) -> DataResult<bool> {
        let c = self.conn().await?;
        let n = match owner {
            CredentialsOwner::Exporter(ip) => {
                if !scope.allows(ip) {
                    return Err(DataError::NotFound);
                }
                c.execute(&format!("DELETE FROM {SNMP_CREDENTIALS} WHERE exporter = $1"), &[&ip]).await?
            }
            CredentialsOwner::Group(id) => {
                c.execute(&format!("DELETE FROM {SNMP_CREDENTIALS} WHERE group_id = $1"), &[&id]).await?
            }
        };
        Ok(n > 0)
    }

    /// The credentials of device group `id`, if set.
    pub async fn group_snmp_credentials(&self, id: i64) -> DataResult<Option<StoredCredentials>> {
        let c = self.conn().await?;
        let row = c
            .query_opt(
                &format!(
                    "SELECT {CRED_COLS} FROM {SNMP_CREDENTIALS} c
                     LEFT JOIN {WEB_DEVICE_GROUPS} g ON g.id = c.group_id WHERE c.group_id = $1"
                ),
                &[&id],
            )
            .await?;
        row.as_ref().map(row_to_credentials).transpose()
    }

    /// Exporters due for a poll: known to the collector, with credentials that apply,
    /// never polled, or last polled `interval` ago (`retry` after a failure), and not
    /// being polled (a poll marked running for 10 minutes is taken as lost). Oldest
    /// first, at most `limit`.
    pub async fn snmp_due(&self, interval: Duration, retry: Duration, limit: i64) -> DataResult<Vec<IpAddr>> {
        let c = self.conn().await?;
        let interval = interval.as_secs_f64();
        let retry = retry.as_secs_f64();
        let rows = c
            .query(
                &format!(
                    "SELECT e.exporter FROM {EXPORTERS} e
                     LEFT JOIN {EXPORTER_SNMP} s ON s.exporter = e.exporter
                     WHERE (EXISTS (SELECT 1 FROM {SNMP_CREDENTIALS} c WHERE c.exporter = e.exporter)
                            OR EXISTS (SELECT 1 FROM {SNMP_CREDENTIALS} c
                                       JOIN {WEB_DEVICE_GROUP_MEMBERS} m ON m.group_id = c.group_id
                                       WHERE e.exporter <<= m.prefix))
                       AND (s.exporter IS NULL OR s.last_poll IS NULL
                            OR (s.status = 'ok' AND s.last_poll < now() - make_interval(secs => $1))
                            OR (s.status = 'error' AND s.last_poll < now() - make_interval(secs => $2))
                            OR (s.status = 'polling' AND s.last_poll < now() - interval '10 minutes'))
                     ORDER BY s.last_poll NULLS FIRST, e.exporter
                     LIMIT $3"
                ),
                &[&interval, &retry, &limit],
            )
            .await?;
        rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
    }

    /// Marks a poll of `exporter` as running; `false` when one already runs (started
    /// under 10 minutes ago), so two polls of one agent never overlap.
    pub async fn snmp_begin(&self, exporter: IpAddr) -> DataResult<bool> {
        let c = self.conn().await?;
        let n = c
            .execute(
                &format!(
                    "INSERT INTO {EXPORTER_SNMP} (exporter, status, last_poll) VALUES ($1, 'polling', now())
                     ON CONFLICT (exporter) DO UPDATE SET status = 'polling', last_poll = now()
                     WHERE {EXPORTER_SNMP}.status <> 'polling'
                        OR {EXPORTER_SNMP}.last_poll < now() - interval '10 minutes'"
                ),
                &[&exporter],
            )
            .await?;
        Ok(n > 0)
    }

    /// Stores a successful poll: system group, and the interfaces replaced whole.
    pub async fn snmp_record_success(
        &self,
        exporter: IpAddr,
        device: &Device,
        took: Duration,
    ) -> DataResult<()> {
        let mut c = self.conn().await?;
        let tx = c.transaction().await?;
        let ms = i32::try_from(took.as_millis()).unwrap_or(i32::MAX);
        let n_if = i32::try_from(device.interfaces.len()).unwrap_or(i32::MAX);
        let uptime = device.sys_uptime_cs.map(i64::from);
        tx.execute(
            &format!(
                "INSERT INTO {EXPORTER_SNMP} (exporter, status, last_poll, last_success, error_kind, last_error,
                    sys_name, sys_descr, sys_object_id, sys_uptime_cs, has_if_x_table, interfaces, poll_ms)
                 VALUES ($1, 'ok', now(), now(), NULL, NULL, $2, $3, $4, $5, $6, $7, $8)
                 ON CONFLICT (exporter) DO UPDATE SET status = 'ok', last_success = now(), error_kind = NULL,
                    last_error = NULL, sys_name = EXCLUDED.sys_name, sys_descr = EXCLUDED.sys_descr,
                    sys_object_id = EXCLUDED.sys_object_id, sys_uptime_cs = EXCLUDED.sys_uptime_cs,
                    has_if_x_table = EXCLUDED.has_if_x_table, interfaces = EXCLUDED.interfaces,
                    poll_ms = EXCLUDED.poll_ms"
            ),
            &[
                &exporter,
                &device.sys_name,
                &device.sys_descr,
                &device.sys_object_id,
                &uptime,
                &device.has_if_x_table,
                &n_if,
                &ms,
            ],
        )
        .await?;
        tx.execute(&format!("DELETE FROM {EXPORTER_INTERFACES} WHERE exporter = $1"), &[&exporter]).await?;
        // One statement for all rows (a router may have thousands): arrays unnested.
        let mut idx: Vec<i64> = Vec::with_capacity(device.interfaces.len());
        let mut names: Vec<Option<&str>> = Vec::with_capacity(device.interfaces.len());
        let mut aliases: Vec<Option<&str>> = Vec::with_capacity(device.interfaces.len());
        let mut descrs: Vec<Option<&str>> = Vec::with_capacity(device.interfaces.len());
        let mut speeds: Vec<Option<i64>> = Vec::with_capacity(device.interfaces.len());
        let mut states: Vec<Option<&str>> = Vec::with_capacity(device.interfaces.len());
        for i in &device.interfaces {
            idx.push(i64::from(i.if_index));
            names.push(i.name.as_deref());
            aliases.push(i.alias.as_deref());
            descrs.push(i.descr.as_deref());
            speeds.push(i.speed_bps.and_then(|s| i64::try_from(s).ok()));
            states.push(i.oper_status.map(|s| s.as_str()));
        }
        tx.execute(
            &format!(
                "INSERT INTO {EXPORTER_INTERFACES} (exporter, if_index, name, alias, descr, speed_bps, oper_status, polled_at)
                 SELECT $1, * , now() FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::text[])"
            ),
            &[&exporter, &idx, &names, &aliases, &descrs, &speeds, &states],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Stores a failed poll; what earlier polls learned is kept (names stay shown).
    pub async fn snmp_record_failure(
        &self,
        exporter: IpAddr,
        error: &PollError,
        took: Duration,
    ) -> DataResult<()> {
        let c = self.conn().await?;
        let ms = i32::try_from(took.as_millis()).unwrap_or(i32::MAX);
        c.execute(
            &format!(
                "INSERT INTO {EXPORTER_SNMP} (exporter, status, last_poll, error_kind, last_error, poll_ms)
                 VALUES ($1, 'error', now(), $2, $3, $4)
                 ON CONFLICT (exporter) DO UPDATE SET status = 'error', error_kind = EXCLUDED.error_kind,
                    last_error = EXCLUDED.last_error, poll_ms = EXCLUDED.poll_ms"
            ),
            &[&exporter, &error.kind.as_str(), &error.message, &ms],
        )
        .await?;
        Ok(())
    }

    /// System group and poll state of the exporters in `scope` (all of them when
    /// `only` is `None`), with whether credentials apply.
    pub async fn snmp_systems(
        &self,
        scope: &Scope,
        only: Option<IpAddr>,
    ) -> DataResult<std::collections::HashMap<IpAddr, SnmpSystem>> {
        let c = self.conn().await?;
        let rows = c
            .query(
                &format!(
                    "SELECT e.exporter, s.status, s.last_poll, s.last_success, s.last_error, s.error_kind,
                            s.sys_name, s.sys_descr, s.sys_object_id, s.sys_uptime_cs, s.has_if_x_table,
                            COALESCE(s.interfaces, 0), s.poll_ms,
                            (EXISTS (SELECT 1 FROM {SNMP_CREDENTIALS} c WHERE c.exporter = e.exporter)
                             OR EXISTS (SELECT 1 FROM {SNMP_CREDENTIALS} c
                                        JOIN {WEB_DEVICE_GROUP_MEMBERS} m ON m.group_id = c.group_id
                                        WHERE e.exporter <<= m.prefix))
                     FROM {EXPORTERS} e LEFT JOIN {EXPORTER_SNMP} s ON s.exporter = e.exporter
                     WHERE e.exporter <<= ANY($1::text[]::inet[]) AND ($2::inet IS NULL OR e.exporter = $2)"
                ),
                &[&scope.sql_param(), &only],
            )
            .await?;
        let mut out = std::collections::HashMap::new();
        for r in &rows {
            let configured: bool = r.try_get(13)?;
            let status: Option<String> = r.try_get(1)?;
            let status = match status {
                Some(s) => s,
                None if configured => "never".to_string(),
                None => "unconfigured".to_string(),
            };
            out.insert(
                r.try_get(0)?,
                SnmpSystem {
                    sys_name: r.try_get(6)?,
                    sys_descr: r.try_get(7)?,
                    sys_object_id: r.try_get(8)?,
                    sys_uptime_cs: r.try_get(9)?,
                    state: SnmpState {
                        status,
                        last_poll: ts_opt(r.try_get(2)?),
                        last_success: ts_opt(r.try_get(3)?),
                        last_error: r.try_get(4)?,
                        error_kind: r.try_get(5)?,
                        if_x_table: r.try_get(10)?,
                        interfaces: r.try_get(11)?,
                        poll_ms: r.try_get(12)?,
                    },
                },
            );
        }
        Ok(out)
    }

    /// Names of `exporter`'s interfaces (all when `indexes` is empty). Empty when the
    /// exporter is outside `scope`.
    pub async fn interface_names(
        &self,
        scope: &Scope,
        exporter: IpAddr,
        indexes: &[i64],
    ) -> DataResult<std::collections::HashMap<i64, InterfaceNames>> {
        if !scope.allows(exporter) {
            return Ok(Default::default());
        }
        let c = self.conn().await?;
        let rows = c
            .query(
                &format!(
                    "SELECT if_index, name, alias, descr, speed_bps, oper_status FROM {EXPORTER_INTERFACES}
                     WHERE exporter = $1 AND (cardinality($2::bigint[]) = 0 OR if_index = ANY($2::bigint[]))"
                ),
                &[&exporter, &indexes],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get(0)?,
                    InterfaceNames {
                        name: r.try_get(1)?,
                        alias: r.try_get(2)?,
                        descr: r.try_get(3)?,
                        speed_bps: r.try_get(4)?,
                        oper_status: r.try_get(5)?,
                    },
                ))
            })
            .collect()
    }

    /// Exporters per poll status (`ok`, `error`, `polling`), for /metrics.
    pub async fn snmp_status_counts(&self) -> DataResult<Vec<(String, i64)>> {
        let c = self.conn().await?;
        let rows = c
            .query(
                &format!("SELECT status, count(*) FROM {EXPORTER_SNMP} GROUP BY status ORDER BY status"),
                &[],
            )
            .await?;
        rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
    }

    /// Fills in the exporter and interface names of flow rows (exporters in `scope`
    /// only), two statements for the whole page.
    pub async fn name_flows(&self, scope: &Scope, rows: &mut [super::flows::FlowRow]) -> DataResult<()> {
        use std::collections::{BTreeSet, HashMap};
        if rows.is_empty() {
            return Ok(());
        }
        let exporters: Vec<String> =
            rows.iter().map(|r| r.exporter.clone()).collect::<BTreeSet<_>>().into_iter().collect();
        let indexes: Vec<i64> =
            rows.iter().flat_map(|r| [r.in_if, r.out_if]).collect::<BTreeSet<_>>().into_iter().collect();
        let c = self.conn().await?;
        let names = c
            .query(
                &format!(
                    "SELECT e.exporter, COALESCE(n.display_name, s.sys_name) FROM {EXPORTERS} e
                     LEFT JOIN {exporter_names} n ON n.exporter = e.exporter
                     LEFT JOIN {EXPORTER_SNMP} s ON s.exporter = e.exporter
                     WHERE e.exporter = ANY($1::text[]::inet[]) AND e.exporter <<= ANY($2::text[]::inet[])",
                    exporter_names = flowvision_schema::tables::EXPORTER_NAMES
                ),
                &[&exporters, &scope.sql_param()],
            )
            .await?;
        let mut by_exporter: HashMap<String, String> = HashMap::new();
        for r in &names {
            let ip: IpAddr = r.try_get(0)?;
            if let Some(n) = r.try_get::<_, Option<String>>(1)? {
                by_exporter.insert(ip.to_string(), n);
            }
        }
        let ifs = c
            .query(
                &format!(
                    "SELECT exporter, if_index, name, alias, descr FROM {EXPORTER_INTERFACES}
                     WHERE exporter = ANY($1::text[]::inet[]) AND exporter <<= ANY($2::text[]::inet[])
                       AND if_index = ANY($3::bigint[])"
                ),
                &[&exporters, &scope.sql_param(), &indexes],
            )
            .await?;
        let mut by_if: HashMap<(String, i64), String> = HashMap::new();
        for r in &ifs {
            let ip: IpAddr = r.try_get(0)?;
            let index: i64 = r.try_get(1)?;
            let n = InterfaceNames {
                name: r.try_get(2)?,
                alias: r.try_get(3)?,
                descr: r.try_get(4)?,
                ..Default::default()
            };
            by_if.insert((ip.to_string(), index), n.label(index));
        }
        for r in rows.iter_mut() {
            r.exporter_name = by_exporter.get(&r.exporter).cloned();
            r.in_if_name = by_if.get(&(r.exporter.clone(), r.in_if)).cloned();
            r.out_if_name = by_if.get(&(r.exporter.clone(), r.out_if)).cloned();
        }
        Ok(())
    }
}
