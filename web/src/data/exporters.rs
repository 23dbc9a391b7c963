//! Exporters and their health: what the collector wrote to `exporters`,
//! `exporter_stats_1m`, `templates` and the exporter rollup.

use super::{sum_i64, ts, ts_opt, DataResult, Db, Scope};
use flowvision_schema::tables::{EXPORTERS, EXPORTER_NAMES, EXPORTER_SNMP, EXPORTER_STATS_1M, TEMPLATES};
use flowvision_schema::Rollup;
use serde::Serialize;
use std::collections::HashMap;
use std::net::IpAddr;
use time::OffsetDateTime;

/// An exporter counts as up when it sent something this recently (seconds).
pub const UP_SECONDS: i64 = 120;
/// ... and as stale (not down yet) within this.
pub const STALE_SECONDS: i64 = 900;
/// Rates are averaged over the last complete minutes.
pub const RATE_MINUTES: i64 = 5;

/// Recent rates of an exporter (last complete minutes).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ExporterRates {
    /// Bits per second of stored flows (sampling-corrected).
    pub bps: f64,
    /// Packets per second (sampling-corrected).
    pub pps: f64,
    /// Flow records stored per second.
    pub flows_per_s: f64,
    /// Datagrams received per second.
    pub datagrams_per_s: f64,
    /// Undecodable datagrams in the period.
    pub decode_errors: i64,
    /// Records (or sFlow datagrams) lost upstream per sequence numbers, in the period.
    pub sequence_lost: i64,
    /// Templates received in the period.
    pub templates: i64,
}

/// An exporter and its health.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ExporterHealth {
    /// Its address.
    pub exporter: String,
    /// The name set in the console (shown with the address beside it), if any.
    pub display_name: Option<String>,
    /// Notes set in the console (empty when none).
    pub notes: String,
    /// `up`, `stale` or `down` (from `last_seen`).
    pub status: &'static str,
    /// First datagram or flow.
    pub first_seen: String,
    /// Last datagram or flow.
    pub last_seen: String,
    /// Last stored flow.
    pub last_flow: Option<String>,
    /// Protocol of its latest datagram.
    pub protocol: Option<String>,
    /// Latest sampling rate.
    pub sampling_rate: Option<i64>,
    /// Cumulative: flow records stored.
    pub flows: i64,
    /// Cumulative: bytes of stored flows as exported (not sampling-corrected).
    pub bytes: i64,
    /// Cumulative: datagrams received.
    pub datagrams: i64,
    /// Cumulative: undecodable datagrams.
    pub decode_errors: i64,
    /// Cumulative: upstream sequence loss.
    pub sequence_lost: i64,
    /// Cumulative: templates received.
    pub templates: i64,
    /// Templates currently known for it.
    pub active_templates: i64,
    /// Recent rates.
    pub rates: ExporterRates,
    /// Seconds the rates are averaged over.
    pub rate_seconds: i64,
    /// sysName from the last successful SNMP poll.
    pub sys_name: Option<String>,
    /// sysDescr.
    pub sys_descr: Option<String>,
    /// sysObjectID (dotted).
    pub sys_object_id: Option<String>,
    /// Vendor from the sysObjectID (filled in by the console: [`crate::snmp`]).
    pub vendor: Option<String>,
    /// Product: the MIB name of the sysObjectID (filled in by the console).
    pub product: Option<String>,
    /// SNMP poll status, last poll and error.
    pub snmp: super::snmp::SnmpState,
}

impl ExporterHealth {
    /// The name shown for it: the console's display name, else sysName.
    pub fn shown_name(&self) -> Option<&str> {
        self.display_name.as_deref().or(self.sys_name.as_deref())
    }
}

/// An exporter in a drop-down: its address (what [`std::fmt::Display`] writes, the
/// value submitted) and its display name, if one was set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExporterChoice {
    /// Address.
    pub addr: IpAddr,
    /// Display name.
    pub name: Option<String>,
}

impl ExporterChoice {
    /// "name (address)", or the address.
    pub fn label(&self) -> String {
        match &self.name {
            Some(n) => format!("{n} ({})", self.addr),
            None => self.addr.to_string(),
        }
    }
}

impl std::fmt::Display for ExporterChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.addr.fmt(f)
    }
}

fn select_sql() -> String {
    format!(
        "
    SELECT e.exporter, e.first_seen, e.last_seen, e.last_flow, e.protocol::text, e.sampling_rate,
           e.flows, e.bytes, e.datagrams, e.decode_errors, e.sequence_lost, e.templates,
           (SELECT count(*) FROM {TEMPLATES} t WHERE t.exporter = e.exporter) AS active_templates,
           COALESCE(r.b, 0), COALESCE(r.p, 0), COALESCE(r.f, 0),
           COALESCE(s.d, 0), COALESCE(s.e, 0), COALESCE(s.l, 0), COALESCE(s.t, 0),
           now(), n.display_name, COALESCE(n.notes, '')
    FROM {EXPORTERS} e
    LEFT JOIN {EXPORTER_NAMES} n ON n.exporter = e.exporter
    LEFT JOIN LATERAL (
        SELECT sum(bytes)::float8 AS b, sum(packets)::float8 AS p, sum(flows)::float8 AS f
        FROM {rollup}
        WHERE exporter = e.exporter AND bucket >= $2 AND bucket < $3) r ON true
    LEFT JOIN LATERAL (
        SELECT sum(datagrams)::float8 AS d, {sum_e} AS e, {sum_l} AS l, {sum_t} AS t
        FROM {EXPORTER_STATS_1M}
        WHERE exporter = e.exporter AND bucket >= $2 AND bucket < $3) s ON true
    WHERE e.exporter <<= ANY($1::text[]::inet[])",
        rollup = Rollup::Exporter.minute(),
        sum_e = sum_i64!("decode_errors"),
        sum_l = sum_i64!("sequence_lost"),
        sum_t = sum_i64!("templates"),
    )
}

fn rate_window() -> (OffsetDateTime, OffsetDateTime) {
    let to = super::window::truncate(OffsetDateTime::now_utc(), 60);
    (to - time::Duration::minutes(RATE_MINUTES), to)
}

fn row_to_health(r: &tokio_postgres::Row) -> DataResult<ExporterHealth> {
    let exporter: IpAddr = r.try_get(0)?;
    let last_seen: OffsetDateTime = r.try_get(2)?;
    let now: OffsetDateTime = r.try_get(20)?;
    let age = (now - last_seen).whole_seconds();
    let secs = (RATE_MINUTES * 60) as f64;
    let b: f64 = r.try_get(13)?;
    let p: f64 = r.try_get(14)?;
    let f: f64 = r.try_get(15)?;
    let d: f64 = r.try_get(16)?;
    Ok(ExporterHealth {
        exporter: exporter.to_string(),
        display_name: r.try_get(21)?,
        notes: r.try_get(22)?,
        status: if age <= UP_SECONDS {
            "up"
        } else if age <= STALE_SECONDS {
            "stale"
        } else {
            "down"
        },
        first_seen: ts(r.try_get(1)?),
        last_seen: ts(last_seen),
        last_flow: ts_opt(r.try_get(3)?),
        protocol: r.try_get(4)?,
        sampling_rate: r.try_get(5)?,
        flows: r.try_get(6)?,
        bytes: r.try_get(7)?,
        datagrams: r.try_get(8)?,
        decode_errors: r.try_get(9)?,
        sequence_lost: r.try_get(10)?,
        templates: r.try_get(11)?,
        active_templates: r.try_get(12)?,
        rates: ExporterRates {
            bps: b * 8.0 / secs,
            pps: p / secs,
            flows_per_s: f / secs,
            datagrams_per_s: d / secs,
            decode_errors: r.try_get(17)?,
            sequence_lost: r.try_get(18)?,
            templates: r.try_get(19)?,
        },
        rate_seconds: RATE_MINUTES * 60,
        sys_name: None,
        sys_descr: None,
        sys_object_id: None,
        vendor: None,
        product: None,
        snmp: super::snmp::SnmpState::default(),
    })
}

/// Merges what SNMP polls learned into `rows`.
fn merge_snmp(rows: &mut [ExporterHealth], mut systems: HashMap<IpAddr, super::snmp::SnmpSystem>) {
    for r in rows {
        let Ok(ip) = r.exporter.parse::<IpAddr>() else { continue };
        if let Some(s) = systems.remove(&ip) {
            r.sys_name = s.sys_name;
            r.sys_descr = s.sys_descr;
            r.sys_object_id = s.sys_object_id;
            r.snmp = s.state;
        }
    }
}

impl Db {
    /// Every exporter in `scope` with its health, by address.
    pub async fn exporters(&self, scope: &Scope) -> DataResult<Vec<ExporterHealth>> {
        let (from, to) = rate_window();
        let sql = format!("{} ORDER BY e.exporter", select_sql());
        let c = self.conn().await?;
        let rows = c.query(&sql, &[&scope.sql_param(), &from, &to]).await?;
        drop(c);
        let mut out = rows.iter().map(row_to_health).collect::<DataResult<Vec<_>>>()?;
        merge_snmp(&mut out, self.snmp_systems(scope, None).await?);
        Ok(out)
    }

    /// One exporter, or `None` when it does not exist or is outside `scope` (the two
    /// are indistinguishable to the caller on purpose).
    pub async fn exporter(&self, scope: &Scope, exporter: IpAddr) -> DataResult<Option<ExporterHealth>> {
        let (from, to) = rate_window();
        let sql = format!("{} AND e.exporter = $4", select_sql());
        let c = self.conn().await?;
        let rows = c.query(&sql, &[&scope.sql_param(), &from, &to, &exporter]).await?;
        drop(c);
        let Some(mut one) = rows.first().map(row_to_health).transpose()? else { return Ok(None) };
        merge_snmp(std::slice::from_mut(&mut one), self.snmp_systems(scope, Some(exporter)).await?);
        Ok(Some(one))
    }

    /// The exporters in `scope` with their display names (for filter drop-downs).
    pub async fn exporter_addresses(&self, scope: &Scope) -> DataResult<Vec<ExporterChoice>> {
        let c = self.conn().await?;
        let rows = c
            .query(
                &format!(
                    "SELECT e.exporter, COALESCE(n.display_name, s.sys_name) FROM {EXPORTERS} e
                     LEFT JOIN {EXPORTER_NAMES} n ON n.exporter = e.exporter
                     LEFT JOIN {EXPORTER_SNMP} s ON s.exporter = e.exporter
                     WHERE e.exporter <<= ANY($1::text[]::inet[]) ORDER BY e.exporter"
                ),
                &[&scope.sql_param()],
            )
            .await?;
        rows.iter().map(|r| Ok(ExporterChoice { addr: r.try_get(0)?, name: r.try_get(1)? })).collect()
    }

    /// Sets (or clears, with `None` and empty notes) the display name and notes of
    /// `exporter`, which must be a known exporter inside `scope` (else `NotFound`, as
    /// for reading it). Returns the previous (name, notes).
    pub async fn set_exporter_name(
        &self,
        scope: &Scope,
        exporter: IpAddr,
        display_name: Option<&str>,
        notes: &str,
        by: &str,
    ) -> DataResult<(Option<String>, String)> {
        if !scope.allows(exporter) {
            return Err(super::DataError::NotFound);
        }
        let mut c = self.conn().await?;
        let tx = c.transaction().await?;
        let known = tx
            .query_opt(
                &format!(
                    "SELECT 1 FROM {EXPORTERS} WHERE exporter = $1 AND exporter <<= ANY($2::text[]::inet[])"
                ),
                &[&exporter, &scope.sql_param()],
            )
            .await?;
        if known.is_none() {
            return Err(super::DataError::NotFound);
        }
        let before = tx
            .query_opt(
                &format!("SELECT display_name, notes FROM {EXPORTER_NAMES} WHERE exporter = $1 FOR UPDATE"),
                &[&exporter],
            )
            .await?;
        let before = match before {
            Some(r) => (r.try_get(0)?, r.try_get(1)?),
            None => (None, String::new()),
        };
        if display_name.is_none() && notes.is_empty() {
            tx.execute(&format!("DELETE FROM {EXPORTER_NAMES} WHERE exporter = $1"), &[&exporter]).await?;
        } else {
            tx.execute(
                &format!(
                    "INSERT INTO {EXPORTER_NAMES} (exporter, display_name, notes, updated_at, updated_by)
                     VALUES ($1, $2, $3, now(), $4)
                     ON CONFLICT (exporter) DO UPDATE SET display_name = EXCLUDED.display_name,
                         notes = EXCLUDED.notes, updated_at = now(), updated_by = EXCLUDED.updated_by"
                ),
                &[&exporter, &display_name, &notes, &by],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(before)
    }
}
