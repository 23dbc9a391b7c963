//! Flow statistics, what `nfdump -s KEY/ORDER` answers: the top N values of one key
//! (addresses, /24 and /64 prefixes, ports, protocol, AS, interfaces, exporter, ToS)
//! over the raw `flows` table, by flows, bytes or packets, for a filter expression and
//! a time range, inside the caller's scope. Like flow search it runs read-only under
//! the search `statement_timeout`, so one statistics query cannot hold the database.
//!
//! Counters are reported twice: as exported (what nfdump prints, so the two can be
//! compared) and sampling-corrected (what the console's dashboards show). The ranking
//! follows the corrected counters: it is the traffic the exporters saw.

use super::flows::{build, MAX_SPAN_DAYS};
use super::{ts, DataError, DataResult, Db, Scope};
use flowvision_filter::Expr;
use flowvision_schema::tables::FLOWS_SEARCHABLE;
use serde::Serialize;
use time::OffsetDateTime;
use tokio_postgres::types::ToSql;

/// What rows are grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatKey {
    /// Source address.
    SrcIp,
    /// Destination address.
    DstIp,
    /// Source /24 (IPv4) or /64 (IPv6) prefix.
    SrcNet,
    /// Destination /24 or /64 prefix.
    DstNet,
    /// Source port.
    SrcPort,
    /// Destination port.
    DstPort,
    /// IP protocol.
    Proto,
    /// Source AS.
    SrcAs,
    /// Destination AS.
    DstAs,
    /// Input interface (with its exporter: ifIndex values are per device).
    InIf,
    /// Output interface (with its exporter).
    OutIf,
    /// Exporter.
    Exporter,
    /// Type of service.
    Tos,
}

/// Every key: (name in the API, nfdump's name, key).
pub const KEYS: &[(&str, &str, StatKey)] = &[
    ("srcip", "srcip", StatKey::SrcIp),
    ("dstip", "dstip", StatKey::DstIp),
    ("srcnet", "srcnet (/24, /64)", StatKey::SrcNet),
    ("dstnet", "dstnet (/24, /64)", StatKey::DstNet),
    ("srcport", "srcport", StatKey::SrcPort),
    ("dstport", "dstport", StatKey::DstPort),
    ("proto", "proto", StatKey::Proto),
    ("srcas", "srcas", StatKey::SrcAs),
    ("dstas", "dstas", StatKey::DstAs),
    ("inif", "inif", StatKey::InIf),
    ("outif", "outif", StatKey::OutIf),
    ("exporter", "router", StatKey::Exporter),
    ("tos", "tos", StatKey::Tos),
];

impl StatKey {
    /// Parses an API name (`srcip`, `dstport`...).
    pub fn from_name(s: &str) -> Option<StatKey> {
        KEYS.iter().find(|(n, _, _)| *n == s).map(|(_, _, k)| *k)
    }

    /// The API name.
    pub fn name(self) -> &'static str {
        KEYS.iter().find(|(_, _, k)| *k == self).map(|(n, _, _)| *n).unwrap_or("srcip")
    }

    /// The SQL expression rows are grouped by (a column or a prefix, not text: hashing
    /// an inet or an integer is cheaper than formatting every row), its text form over
    /// the group's `k`, and a condition rows need to have a value (flows without an
    /// address have no source address to rank).
    fn sql(self) -> (&'static str, &'static str, &'static str) {
        match self {
            StatKey::SrcIp => ("src_addr", "host(k)", "src_addr IS NOT NULL"),
            StatKey::DstIp => ("dst_addr", "host(k)", "dst_addr IS NOT NULL"),
            StatKey::SrcNet => (
                "network(set_masklen(src_addr, CASE WHEN family(src_addr) = 4 THEN 24 ELSE 64 END))",
                "k::text",
                "src_addr IS NOT NULL",
            ),
            StatKey::DstNet => (
                "network(set_masklen(dst_addr, CASE WHEN family(dst_addr) = 4 THEN 24 ELSE 64 END))",
                "k::text",
                "dst_addr IS NOT NULL",
            ),
            StatKey::SrcPort => ("src_port", "k::text", "TRUE"),
            StatKey::DstPort => ("dst_port", "k::text", "TRUE"),
            StatKey::Proto => ("proto", "k::text", "TRUE"),
            StatKey::SrcAs => ("src_as", "k::text", "TRUE"),
            StatKey::DstAs => ("dst_as", "k::text", "TRUE"),
            StatKey::InIf => ("host(exporter) || ' if ' || in_if::text", "k", "TRUE"),
            StatKey::OutIf => ("host(exporter) || ' if ' || out_if::text", "k", "TRUE"),
            StatKey::Exporter => ("exporter", "host(k)", "TRUE"),
            StatKey::Tos => ("tos", "k::text", "TRUE"),
        }
    }
}

/// What the ranking counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatOrder {
    /// Flow records.
    Flows,
    /// Bytes (sampling-corrected).
    Bytes,
    /// Packets (sampling-corrected).
    Packets,
}

impl StatOrder {
    /// Parses `flows`, `bytes` or `packets`.
    pub fn from_name(s: &str) -> Option<StatOrder> {
        match s {
            "flows" => Some(StatOrder::Flows),
            "bytes" => Some(StatOrder::Bytes),
            "packets" => Some(StatOrder::Packets),
            _ => None,
        }
    }

    /// The name.
    pub fn name(self) -> &'static str {
        match self {
            StatOrder::Flows => "flows",
            StatOrder::Bytes => "bytes",
            StatOrder::Packets => "packets",
        }
    }

    fn column(self) -> &'static str {
        match self {
            StatOrder::Flows => "flows",
            StatOrder::Bytes => "bytes_scaled",
            StatOrder::Packets => "packets_scaled",
        }
    }
}

/// Rows of a statistics answer at most.
pub const MAX_LIMIT: u32 = 1000;

/// A statistics query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatsQuery {
    /// Received at or after [to - 1 hour].
    pub from: Option<OffsetDateTime>,
    /// Received before [now].
    pub to: Option<OffsetDateTime>,
    /// Only flows this expression selects.
    pub filter: Option<Expr>,
    /// Group by.
    pub key: StatKey,
    /// Rank by.
    pub order: StatOrder,
    /// Top N (1 to [`MAX_LIMIT`]).
    pub limit: u32,
}

/// One value of the key and its counters.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct StatRow {
    /// The key's value (address, prefix, number; `EXPORTER if N` for interfaces).
    pub key: String,
    /// Flow records.
    pub flows: i64,
    /// Bytes as exported (nfdump's figure).
    pub bytes: i64,
    /// Packets as exported.
    pub packets: i64,
    /// Bytes times the sampling rate.
    pub bytes_scaled: i64,
    /// Packets times the sampling rate.
    pub packets_scaled: i64,
}

/// A statistics answer.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct StatsResult {
    /// Searched from.
    pub from: String,
    /// Searched to.
    pub to: String,
    /// The key's name.
    pub key: &'static str,
    /// The ranking's name.
    pub order: &'static str,
    /// Top N asked.
    pub limit: u32,
    /// Values of the key among the matching flows (all of them, not only the top N).
    pub distinct: i64,
    /// Totals over every matching flow (with a key).
    pub total: StatRow,
    /// The top N, largest first (ties by key).
    pub rows: Vec<StatRow>,
}

/// The columns of the CSV export, in order.
pub const CSV_COLUMNS: &[&str] = &["key", "flows", "bytes", "packets", "bytes_scaled", "packets_scaled"];

impl StatRow {
    /// The row's CSV fields, in [`CSV_COLUMNS`] order.
    pub fn csv_fields(&self) -> Vec<String> {
        vec![
            self.key.clone(),
            self.flows.to_string(),
            self.bytes.to_string(),
            self.packets.to_string(),
            self.bytes_scaled.to_string(),
            self.packets_scaled.to_string(),
        ]
    }
}

impl StatsQuery {
    /// The time range: `from`/`to` or the last hour; at most 7 days.
    pub fn range(&self, now: OffsetDateTime) -> DataResult<(OffsetDateTime, OffsetDateTime)> {
        let to = self.to.unwrap_or(now);
        let from = match self.from {
            Some(f) => f,
            None => to
                .checked_sub(time::Duration::hours(1))
                .ok_or_else(|| DataError::Invalid("'to' is too far in the past".into()))?,
        };
        if from >= to {
            return Err(DataError::Invalid("'from' must be before 'to'".into()));
        }
        if to - from > time::Duration::days(MAX_SPAN_DAYS) {
            return Err(DataError::Invalid(format!("statistics may span at most {MAX_SPAN_DAYS} days")));
        }
        Ok((from, to))
    }

    /// The SQL and its parameters.
    fn sql(
        &self,
        scope: &Scope,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> (String, Vec<Box<dyn ToSql + Sync + Send>>) {
        let (cond, mut params) = build(scope, self.filter.as_ref(), from, to);
        let (group, text, has_key) = self.key.sql();
        params.push(Box::new(i64::from(self.limit.clamp(1, MAX_LIMIT))));
        let nl = params.len();
        let order = self.order.column();
        // sum(bigint) is numeric: back to bigint for the driver (a sum past 2^63 is an
        // error, not a wrong figure). The window sums run before LIMIT: the totals and
        // the number of distinct keys cover every group, not only the top N. Ties are
        // ordered by the text of the key, as the API shows it.
        let sql = format!(
            "WITH g AS (SELECT {group} AS k, count(*) AS flows, sum(bytes) AS bytes, sum(packets) AS packets, \
             sum(bytes * greatest(sampling_rate, 1)) AS bytes_scaled, \
             sum(packets * greatest(sampling_rate, 1)) AS packets_scaled \
             FROM {FLOWS_SEARCHABLE} WHERE {cond} AND {has_key} GROUP BY 1) \
             SELECT {text} AS key, flows, bytes::bigint, packets::bigint, bytes_scaled::bigint, packets_scaled::bigint, \
             count(*) OVER ()::bigint, (sum(flows) OVER ())::bigint, (sum(bytes) OVER ())::bigint, \
             (sum(packets) OVER ())::bigint, (sum(bytes_scaled) OVER ())::bigint, \
             (sum(packets_scaled) OVER ())::bigint \
             FROM g ORDER BY {order} DESC, key LIMIT ${nl}"
        );
        (sql, params)
    }
}

impl Db {
    /// The top N of `q.key` within `scope`.
    pub async fn flow_stats(&self, scope: &Scope, q: &StatsQuery) -> DataResult<StatsResult> {
        let (from, to) = q.range(OffsetDateTime::now_utc())?;
        let (sql, params) = q.sql(scope, from, to);
        let mut c = self.conn().await?;
        let tx = c.build_transaction().read_only(true).start().await?;
        let timeout = self.limits.timeout.as_millis().to_string();
        tx.query_one("SELECT set_config('statement_timeout', $1, true)", &[&timeout]).await?;
        // A key with a value per flow (source addresses, ports) makes one group per row:
        // room for the hash aggregate in memory rather than batches spilled to disk.
        tx.query_one("SELECT set_config('work_mem', '64MB', true)", &[]).await?;
        let refs: Vec<&(dyn ToSql + Sync)> =
            params.iter().map(|p| p.as_ref() as &(dyn ToSql + Sync)).collect();
        let rows = tx.query(&sql, &refs).await?;
        tx.commit().await?;
        let mut out = Vec::with_capacity(rows.len());
        let mut total = StatRow {
            key: "total".into(),
            flows: 0,
            bytes: 0,
            packets: 0,
            bytes_scaled: 0,
            packets_scaled: 0,
        };
        let mut distinct = 0;
        for r in &rows {
            out.push(StatRow {
                key: r.try_get(0)?,
                flows: r.try_get(1)?,
                bytes: r.try_get(2)?,
                packets: r.try_get(3)?,
                bytes_scaled: r.try_get(4)?,
                packets_scaled: r.try_get(5)?,
            });
            distinct = r.try_get(6)?;
            total.flows = r.try_get(7)?;
            total.bytes = r.try_get(8)?;
            total.packets = r.try_get(9)?;
            total.bytes_scaled = r.try_get(10)?;
            total.packets_scaled = r.try_get(11)?;
        }
        Ok(StatsResult {
            from: ts(from),
            to: ts(to),
            key: q.key.name(),
            order: q.order.name(),
            limit: q.limit,
            distinct,
            total,
            rows: out,
        })
    }
}
