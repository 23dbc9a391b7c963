//! Flow search on the raw `flows` table: a time range and a filter expression (the
//! filter crate renders it as parameterized SQL, ANDed inside the caller's scope); paged; run in a read-only transaction with its
//! own `statement_timeout`, and capped in how many rows it may page through or export.

use super::{ts, ts_opt, DataError, DataResult, Db, Scope};
use flowvision_filter::{to_sql, Expr, SqlParam};
use flowvision_schema::tables::FLOWS_SEARCHABLE;
use serde::Serialize;
use std::net::IpAddr;
use time::OffsetDateTime;
use tokio_postgres::types::ToSql;

/// The longest time range of one search (the raw table's default retention).
pub const MAX_SPAN_DAYS: i64 = 7;
/// Rows per page at most.
pub const MAX_PAGE_SIZE: u32 = 1000;

/// A flow search: a time range and a filter expression (the language shared with the
/// collector's relay, [`flowvision_filter`]); the search form's fields are a builder
/// for that expression ([`crate::params::FlowParams`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlowQuery {
    /// Received at or after.
    pub from: Option<OffsetDateTime>,
    /// Received before.
    pub to: Option<OffsetDateTime>,
    /// Only flows this expression selects (all when `None`); ANDed inside the scope.
    pub filter: Option<Expr>,
    /// Page number, from 1.
    pub page: u32,
    /// Rows per page.
    pub page_size: u32,
}

/// One stored flow record.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FlowRow {
    /// When the collector received it.
    pub time_received: String,
    /// Exporting device.
    pub exporter: String,
    /// Export protocol (`netflow_v5`, `netflow_v9`, `ipfix`, `sflow_v5`).
    pub protocol: String,
    /// Source address.
    pub src_addr: Option<String>,
    /// Destination address.
    pub dst_addr: Option<String>,
    /// Source port.
    pub src_port: i32,
    /// Destination port.
    pub dst_port: i32,
    /// IP protocol number.
    pub proto: i16,
    /// TCP flags.
    pub tcp_flags: i32,
    /// Type of service.
    pub tos: i16,
    /// Bytes as exported.
    pub bytes: i64,
    /// Packets as exported.
    pub packets: i64,
    /// One in `sampling_rate` packets was sampled.
    pub sampling_rate: i64,
    /// `bytes` times the sampling rate.
    pub bytes_scaled: i64,
    /// `packets` times the sampling rate.
    pub packets_scaled: i64,
    /// Input ifIndex.
    pub in_if: i64,
    /// Output ifIndex.
    pub out_if: i64,
    /// Source AS.
    pub src_as: i64,
    /// Destination AS.
    pub dst_as: i64,
    /// Next hop.
    pub next_hop: Option<String>,
    /// VLAN.
    pub vlan: i32,
    /// Flow start.
    pub flow_start: Option<String>,
    /// Flow end.
    pub flow_end: Option<String>,
    /// Restored from the archive (docs/archive.md), not a live row.
    pub restored: bool,
    /// The exporter's name (display name, else sysName), if it has one.
    pub exporter_name: Option<String>,
    /// The input interface as `ifName (ifAlias)` (else ifDescr), when SNMP named it.
    pub in_if_name: Option<String>,
    /// The output interface, likewise.
    pub out_if_name: Option<String>,
}

/// A page of results.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FlowPage {
    /// Searched from.
    pub from: String,
    /// Searched to.
    pub to: String,
    /// This page (from 1).
    pub page: u32,
    /// Rows per page.
    pub page_size: u32,
    /// More rows follow (within the cap).
    pub has_more: bool,
    /// Rows a search may page through.
    pub max_rows: u32,
    /// The rows, newest first.
    pub rows: Vec<FlowRow>,
}

/// The columns of CSV exports, in order.
pub const CSV_COLUMNS: &[&str] = &[
    "time_received",
    "exporter",
    "protocol",
    "src_addr",
    "dst_addr",
    "src_port",
    "dst_port",
    "proto",
    "tcp_flags",
    "tos",
    "bytes",
    "packets",
    "sampling_rate",
    "bytes_scaled",
    "packets_scaled",
    "in_if",
    "out_if",
    "src_as",
    "dst_as",
    "next_hop",
    "vlan",
    "flow_start",
    "flow_end",
    "restored",
    "exporter_name",
    "in_if_name",
    "out_if_name",
];

impl FlowRow {
    /// The row's CSV fields, in [`CSV_COLUMNS`] order.
    pub fn csv_fields(&self) -> Vec<String> {
        let o = |v: &Option<String>| v.clone().unwrap_or_default();
        vec![
            self.time_received.clone(),
            self.exporter.clone(),
            self.protocol.clone(),
            o(&self.src_addr),
            o(&self.dst_addr),
            self.src_port.to_string(),
            self.dst_port.to_string(),
            self.proto.to_string(),
            self.tcp_flags.to_string(),
            self.tos.to_string(),
            self.bytes.to_string(),
            self.packets.to_string(),
            self.sampling_rate.to_string(),
            self.bytes_scaled.to_string(),
            self.packets_scaled.to_string(),
            self.in_if.to_string(),
            self.out_if.to_string(),
            self.src_as.to_string(),
            self.dst_as.to_string(),
            o(&self.next_hop),
            self.vlan.to_string(),
            o(&self.flow_start),
            o(&self.flow_end),
            self.restored.to_string(),
            o(&self.exporter_name),
            o(&self.in_if_name),
            o(&self.out_if_name),
        ]
    }
}

/// A bound query parameter.
pub(crate) type Param = Box<dyn ToSql + Sync + Send>;

/// Appends `expr` rendered as SQL (by the filter crate, values as placeholders
/// numbered after those already in `params`) and returns the condition.
pub(crate) fn filter_sql(expr: &Expr, params: &mut Vec<Param>) -> String {
    let before = params.len();
    // to_sql numbers its placeholders after the vector's length: stand-ins for ours.
    let mut sp = vec![SqlParam::Int(0); before];
    let cond = to_sql(expr, &mut sp);
    params.extend(sp.into_iter().skip(before).map(|p| -> Param {
        match p {
            SqlParam::Int(n) => Box::new(n),
            SqlParam::Inet(s) => Box::new(s),
        }
    }));
    cond
}

/// The WHERE clause and parameters of a query: time range, the caller's scope
/// (always `$3`), then the filter.
pub(crate) fn build(
    scope: &Scope,
    filter: Option<&Expr>,
    from: OffsetDateTime,
    to: OffsetDateTime,
) -> (String, Vec<Param>) {
    let mut params: Vec<Param> = vec![Box::new(from), Box::new(to), Box::new(scope.sql_param())];
    let mut sql =
        String::from("time_received >= $1 AND time_received < $2 AND exporter <<= ANY($3::text[]::inet[])");
    if let Some(e) = filter {
        let cond = filter_sql(e, &mut params);
        sql.push_str(" AND ");
        sql.push_str(&cond);
    }
    (sql, params)
}

const COLUMNS: &str = "time_received, exporter, protocol::text, src_addr, dst_addr, src_port, dst_port, proto, \
    tcp_flags, tos, bytes, packets, sampling_rate, in_if, out_if, src_as, dst_as, next_hop, vlan, flow_start, flow_end, \
    restored";

fn row(r: &tokio_postgres::Row) -> DataResult<FlowRow> {
    let addr = |i: usize| -> DataResult<Option<String>> {
        Ok(r.try_get::<_, Option<IpAddr>>(i)?.map(|a| a.to_string()))
    };
    let exporter: IpAddr = r.try_get(1)?;
    let bytes: i64 = r.try_get(10)?;
    let packets: i64 = r.try_get(11)?;
    let rate: i64 = r.try_get(12)?;
    Ok(FlowRow {
        time_received: ts(r.try_get(0)?),
        exporter: exporter.to_string(),
        protocol: r.try_get(2)?,
        src_addr: addr(3)?,
        dst_addr: addr(4)?,
        src_port: r.try_get(5)?,
        dst_port: r.try_get(6)?,
        proto: r.try_get(7)?,
        tcp_flags: r.try_get(8)?,
        tos: r.try_get(9)?,
        bytes,
        packets,
        sampling_rate: rate,
        bytes_scaled: bytes.saturating_mul(rate.max(1)),
        packets_scaled: packets.saturating_mul(rate.max(1)),
        in_if: r.try_get(13)?,
        out_if: r.try_get(14)?,
        src_as: r.try_get(15)?,
        dst_as: r.try_get(16)?,
        next_hop: addr(17)?,
        vlan: r.try_get(18)?,
        flow_start: ts_opt(r.try_get(19)?),
        flow_end: ts_opt(r.try_get(20)?),
        restored: r.try_get(21)?,
        exporter_name: None,
        in_if_name: None,
        out_if_name: None,
    })
}

impl FlowQuery {
    /// The time range: `from`/`to` or the last 15 minutes; at most 7 days.
    pub fn range(&self, now: OffsetDateTime) -> DataResult<(OffsetDateTime, OffsetDateTime)> {
        let to = self.to.unwrap_or(now);
        let from = match self.from {
            Some(f) => f,
            None => to
                .checked_sub(time::Duration::minutes(15))
                .ok_or_else(|| DataError::Invalid("'to' is too far in the past".into()))?,
        };
        if from >= to {
            return Err(DataError::Invalid("'from' must be before 'to'".into()));
        }
        if to - from > time::Duration::days(MAX_SPAN_DAYS) {
            return Err(DataError::Invalid(format!("a search may span at most {MAX_SPAN_DAYS} days")));
        }
        Ok((from, to))
    }
}

/// The newest slice of the range a search reads first; each further slice is
/// [`SLICE_GROWTH`] times longer. Why: the raw table is indexed by time only (BRIN),
/// so one query over the whole range reads and sorts every row of the range before
/// the first page can be returned; most searches fill their page from the newest
/// minutes. A rare match still costs a read of the whole range, in a few queries.
const FIRST_SLICE: time::Duration = time::Duration::minutes(5);
/// How much longer each following slice is than the one before.
const SLICE_GROWTH: i32 = 4;

/// The time slices a search reads, newest first: they tile `[from, to)` without
/// gaps or overlap.
fn slices(from: OffsetDateTime, to: OffsetDateTime) -> Vec<(OffsetDateTime, OffsetDateTime)> {
    let mut out = Vec::new();
    let mut end = to;
    let mut span = FIRST_SLICE;
    while end > from {
        let start = end.checked_sub(span).map_or(from, |s| s.max(from));
        out.push((start, end));
        end = start;
        span = span.saturating_mul(SLICE_GROWTH);
    }
    out
}

impl Db {
    /// The newest `offset + limit` rows of the search, read slice by slice (see
    /// [`FIRST_SLICE`]) in one read-only repeatable-read transaction, so every slice
    /// sees the same snapshot; then the first `offset` are skipped.
    async fn run_search(
        &self,
        scope: &Scope,
        q: &FlowQuery,
        limit: i64,
        offset: i64,
    ) -> DataResult<(OffsetDateTime, OffsetDateTime, Vec<FlowRow>)> {
        let (from, to) = q.range(OffsetDateTime::now_utc())?;
        let wanted = usize::try_from(limit.saturating_add(offset)).unwrap_or(usize::MAX);
        let mut c = self.conn().await?;
        let tx = c
            .build_transaction()
            .read_only(true)
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .start()
            .await?;
        // SET LOCAL through set_config: the limit is a parameter and ends with the transaction.
        let timeout = self.limits.timeout.as_millis().to_string();
        tx.query_one("SELECT set_config('statement_timeout', $1, true)", &[&timeout]).await?;
        let mut found = Vec::new();
        for (start, end) in slices(from, to) {
            let (cond, mut params) = build(scope, q.filter.as_ref(), start, end);
            let rest = i64::try_from(wanted.saturating_sub(found.len())).unwrap_or(i64::MAX);
            params.push(Box::new(rest));
            let nl = params.len();
            let sql = format!(
                "SELECT {COLUMNS} FROM {FLOWS_SEARCHABLE} WHERE {cond} ORDER BY time_received DESC LIMIT ${nl}"
            );
            let refs: Vec<&(dyn ToSql + Sync)> =
                params.iter().map(|p| p.as_ref() as &(dyn ToSql + Sync)).collect();
            found.extend(tx.query(&sql, &refs).await?);
            if found.len() >= wanted {
                break;
            }
        }
        tx.commit().await?;
        drop(c);
        let skip = usize::try_from(offset).unwrap_or(usize::MAX);
        let mut rows = found.iter().skip(skip).map(row).collect::<DataResult<Vec<_>>>()?;
        self.name_flows(scope, &mut rows).await?;
        Ok((from, to, rows))
    }

    /// One page of a flow search within `scope`, newest first.
    pub async fn search_flows(&self, scope: &Scope, q: &FlowQuery) -> DataResult<FlowPage> {
        let page = q.page.max(1);
        let size = q.page_size.clamp(1, MAX_PAGE_SIZE);
        let offset = u64::from(page - 1) * u64::from(size);
        let max = u64::from(self.limits.max_rows);
        if offset + u64::from(size) > max {
            return Err(DataError::Invalid(format!(
                "a search pages through at most {max} rows; narrow the filters or the time range"
            )));
        }
        let (from, to, mut rows) = self.run_search(scope, q, i64::from(size) + 1, offset as i64).await?;
        let has_more = rows.len() > size as usize && offset + u64::from(size) < max;
        rows.truncate(size as usize);
        Ok(FlowPage {
            from: ts(from),
            to: ts(to),
            page,
            page_size: size,
            has_more,
            max_rows: self.limits.max_rows,
            rows,
        })
    }

    /// The rows of a CSV export (newest first), and whether the export cap cut it.
    pub async fn export_flows(&self, scope: &Scope, q: &FlowQuery) -> DataResult<(Vec<FlowRow>, bool)> {
        let cap = self.limits.export_max_rows as usize;
        let (_, _, mut rows) = self.run_search(scope, q, cap as i64 + 1, 0).await?;
        let truncated = rows.len() > cap;
        rows.truncate(cap);
        Ok((rows, truncated))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;

    #[test]
    fn where_clause_is_parameterised() {
        let scope = crate::auth::scope_for_tests();
        let e = flowvision_filter::parse("src net 10.0.0.0/8 and port 443 and if 3").unwrap();
        let now = OffsetDateTime::now_utc();
        let (sql, params) = build(&scope, Some(&e), now - time::Duration::hours(1), now);
        assert_eq!(params.len(), 6);
        assert!(sql.contains("src_addr <<= $4::text::inet"), "{sql}");
        assert!(sql.contains("(src_port = $5::bigint OR dst_port = $5::bigint)"), "{sql}");
        assert!(sql.contains("(in_if = $6::bigint OR out_if = $6::bigint)"), "{sql}");
        assert!(!sql.contains("10.0.0.0"), "values must be parameters: {sql}");
    }

    #[test]
    fn slices_tile_the_range_newest_first() {
        let to = OffsetDateTime::now_utc();
        for span in [time::Duration::seconds(1), time::Duration::hours(1), time::Duration::days(7)] {
            let from = to - span;
            let s = slices(from, to);
            assert_eq!(s.first().unwrap().1, to);
            assert_eq!(s.last().unwrap().0, from);
            for w in s.windows(2) {
                assert_eq!(w[0].0, w[1].1, "no gap, no overlap");
                assert!(w[0].0 < w[0].1, "no empty slice");
            }
            assert!(s.len() <= 8, "{} slices for {span}", s.len());
        }
        assert_eq!(slices(to - time::Duration::hours(1), to).len(), 3);
    }
}
