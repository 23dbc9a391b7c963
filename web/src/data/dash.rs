//! Dashboards: traffic over time and top-N tables, read only from the rollups.
//!
//! The rollups' `bytes` and `packets` are already sampling-corrected (the collector
//! multiplies by the sampling rate at ingest), so rates are `bytes * 8 / seconds`.

use super::window::Tier;
use super::{port_name, proto_name, sum_i64, ts, DataError, DataResult, Db, Scope, Window};
use crate::net::Prefix;
use flowvision_schema::tables::ROLLUP_COMPACTION;
use flowvision_schema::Rollup;
use serde::Serialize;
use std::collections::HashMap;
use time::OffsetDateTime;

/// Optional narrowing of a dashboard to one exporter (or a prefix of exporters).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DashFilter {
    /// Only exporters inside this prefix (still within the caller's scope).
    pub exporter: Option<Prefix>,
}

impl DashFilter {
    fn param(&self) -> Option<String> {
        self.exporter.map(|p| p.to_string())
    }
}

/// One point of a traffic series.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SeriesPoint {
    /// Bucket start, Unix milliseconds.
    pub t: i64,
    /// Bits per second (sampling-corrected).
    pub bps: f64,
    /// Packets per second (sampling-corrected).
    pub pps: f64,
    /// Flow records per second.
    pub fps: f64,
}

/// Traffic over time.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Series {
    /// Window start (RFC 3339).
    pub from: String,
    /// Window end (RFC 3339).
    pub to: String,
    /// `1m` or `1h`: the rollups read.
    pub resolution: &'static str,
    /// Seconds per point.
    pub step_seconds: i64,
    /// Totals over the window.
    pub total_bytes: i64,
    /// Totals over the window.
    pub total_packets: i64,
    /// Totals over the window.
    pub total_flows: i64,
    /// One point per bucket, zero-filled.
    pub points: Vec<SeriesPoint>,
}

/// One point of an interface's traffic (in = the interface is the flow's input).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct IfPoint {
    /// Bucket start, Unix milliseconds.
    pub t: i64,
    /// Bits per second received on the interface.
    pub in_bps: f64,
    /// Bits per second sent out of the interface.
    pub out_bps: f64,
    /// Packets per second in.
    pub in_pps: f64,
    /// Packets per second out.
    pub out_pps: f64,
}

/// An interface's traffic over time.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct IfSeries {
    /// The exporter.
    pub exporter: String,
    /// The interface's ifIndex.
    pub ifindex: i64,
    /// `ifName (ifAlias)`, else ifDescr, else the index.
    pub label: String,
    /// Names and speed from SNMP.
    #[serde(flatten)]
    pub names: super::snmp::InterfaceNames,
    /// Window start.
    pub from: String,
    /// Window end.
    pub to: String,
    /// `1m` or `1h`.
    pub resolution: &'static str,
    /// Seconds per point.
    pub step_seconds: i64,
    /// Points, zero-filled.
    pub points: Vec<IfPoint>,
}

/// One row of a top-N table.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TopItem {
    /// Machine-readable key (`192.0.2.1`, `6/443`, `17`, `15169`, `15169>13335`).
    pub key: String,
    /// Human label (`TCP 443 (https)`, `AS15169`).
    pub label: String,
    /// Flow records.
    pub flows: i64,
    /// Bytes (sampling-corrected).
    pub bytes: i64,
    /// Packets (sampling-corrected).
    pub packets: i64,
    /// Average bits per second over the window.
    pub bps: f64,
    /// Share of the window's bytes (0..1).
    pub share: f64,
}

/// A top-N table.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TopList {
    /// What is ranked (`talkers`, `services`, `protocols`, `as`).
    pub kind: &'static str,
    /// For talkers and AS: `src`, `dst` (or `pair` for AS).
    pub side: &'static str,
    /// Window start.
    pub from: String,
    /// Window end.
    pub to: String,
    /// `1m` or `1h`.
    pub resolution: &'static str,
    /// Bytes of the whole window, including what is not listed.
    pub total_bytes: i64,
    /// The rows, by bytes, largest first.
    pub items: Vec<TopItem>,
}

/// What a top-N table ranks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopKind {
    /// Source (`false`) or destination (`true`) addresses.
    Talkers {
        /// Rank destinations instead of sources.
        dst: bool,
    },
    /// Protocol and service port.
    Services,
    /// IP protocols.
    Protocols,
    /// Source AS, destination AS, or (source, destination) pairs.
    As(AsSide),
}

/// Which AS a table ranks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AsSide {
    /// Source AS.
    Src,
    /// Destination AS.
    Dst,
    /// (source, destination) pairs.
    Pair,
}

/// One interface of an exporter with its traffic in the window.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct InterfaceRow {
    /// ifIndex.
    pub ifindex: i64,
    /// Bits per second in (the interface is the flow's input).
    pub in_bps: f64,
    /// Bits per second out.
    pub out_bps: f64,
    /// Bytes in.
    pub in_bytes: i64,
    /// Bytes out.
    pub out_bytes: i64,
    /// Packets in.
    pub in_packets: i64,
    /// Packets out.
    pub out_packets: i64,
    /// ifName, ifAlias, ifDescr, speed and state from SNMP (all `null` without).
    #[serde(flatten)]
    pub names: super::snmp::InterfaceNames,
    /// How the console shows it: `ifName (ifAlias)`, else ifDescr, else the index.
    pub label: String,
    /// Average utilisation in, % of speed (needs the speed from SNMP).
    pub in_util_pct: Option<f64>,
    /// Average utilisation out, % of speed.
    pub out_util_pct: Option<f64>,
}

fn util(bps: f64, speed: Option<i64>) -> Option<f64> {
    speed.filter(|s| *s > 0).map(|s| bps * 100.0 / s as f64)
}

fn ms(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

impl Db {
    /// Traffic over time (bits/s, packets/s, flows/s) of the exporters in `scope`
    /// (narrowed by `filter`), from `rollup_exporter_{1m,1h}`.
    pub async fn traffic(&self, scope: &Scope, w: &Window, filter: &DashFilter) -> DataResult<Series> {
        let sql = format!(
            "SELECT bucket, {}, {}, {} FROM {} \
             WHERE bucket >= $1 AND bucket < $2 AND exporter <<= ANY($3::text[]::inet[]) \
               AND ($4::text IS NULL OR exporter <<= $4::text::inet) \
             GROUP BY bucket ORDER BY bucket",
            sum_i64!("bytes"),
            sum_i64!("packets"),
            sum_i64!("flows"),
            w.resolution.table(Rollup::Exporter)
        );
        let c = self.conn().await?;
        let rows = c.query(&sql, &[&w.from, &w.to, &scope.sql_param(), &filter.param()]).await?;
        let mut by_bucket: HashMap<i64, (i64, i64, i64)> = HashMap::new();
        let (mut tb, mut tp, mut tf) = (0i64, 0i64, 0i64);
        for r in &rows {
            let b: OffsetDateTime = r.try_get(0)?;
            let (bytes, packets, flows): (i64, i64, i64) = (r.try_get(1)?, r.try_get(2)?, r.try_get(3)?);
            tb = tb.saturating_add(bytes);
            tp = tp.saturating_add(packets);
            tf = tf.saturating_add(flows);
            by_bucket.insert(ms(b), (bytes, packets, flows));
        }
        let step = w.resolution.step_seconds() as f64;
        let points = w
            .buckets()
            .into_iter()
            .map(|b| {
                let (bytes, packets, flows) = by_bucket.get(&ms(b)).copied().unwrap_or_default();
                SeriesPoint {
                    t: ms(b),
                    bps: bytes as f64 * 8.0 / step,
                    pps: packets as f64 / step,
                    fps: flows as f64 / step,
                }
            })
            .collect();
        Ok(Series {
            from: ts(w.from),
            to: ts(w.to),
            resolution: w.resolution.suffix(),
            step_seconds: w.resolution.step_seconds(),
            total_bytes: tb,
            total_packets: tp,
            total_flows: tf,
            points,
        })
    }

    /// A top-N table of the exporters in `scope`. Rows the collector folded into
    /// "other" (`addr` 0.0.0.0/0, `port` -1, AS -1) are not ranked but count in the
    /// total. The window is read as whole days, hours and edge minutes
    /// ([`Window::segments`]): the same flows as the window's own resolution, from
    /// the compacted tiers.
    pub async fn top(
        &self,
        scope: &Scope,
        w: &Window,
        filter: &DashFilter,
        kind: TopKind,
        limit: i64,
    ) -> DataResult<TopList> {
        let (rollup, key_columns, side_sql, kind_name, side_name): (_, &[&str], _, _, _) = match kind {
            TopKind::Talkers { dst } => {
                (Rollup::Talker, &["addr"], "AND side = $4", "talkers", if dst { "dst" } else { "src" })
            }
            TopKind::Services => (Rollup::Service, &["proto", "port"], "", "services", ""),
            TopKind::Protocols => (Rollup::Protocol, &["proto"], "", "protocols", ""),
            TopKind::As(AsSide::Src) => (Rollup::As, &["src_as"], "", "as", "src"),
            TopKind::As(AsSide::Dst) => (Rollup::As, &["dst_as"], "", "as", "dst"),
            TopKind::As(AsSide::Pair) => (Rollup::As, &["src_as", "dst_as"], "", "as", "pair"),
        };
        let keys = key_columns.join(", ");
        // The rows the collector folded into "other" on these keys.
        let other = rollup.other_on(key_columns);
        let c = self.conn().await?;
        // Where the daily tier is built (protocols have none).
        let days: Option<(OffsetDateTime, OffsetDateTime)> = match rollup.table(Tier::Day) {
            None => None,
            Some(t) => {
                let sql = format!("SELECT built_from, done_until FROM {ROLLUP_COMPACTION} WHERE tbl = $1");
                match c.query_opt(&sql, &[&t]).await? {
                    Some(r) => r.try_get::<_, Option<OffsetDateTime>>(0)?.zip(Some(r.try_get(1)?)),
                    None => None,
                }
            }
        };
        let segments = w.segments(OffsetDateTime::now_utc(), days);
        // $1 scope, $2 exporter filter, $3 limit, $4 side, then each segment's bounds.
        let mut bounds: Vec<OffsetDateTime> = Vec::with_capacity(segments.len() * 2);
        let mut parts = Vec::with_capacity(segments.len());
        for seg in &segments {
            let n = 5 + bounds.len();
            bounds.push(seg.from);
            bounds.push(seg.to);
            // Segments are of tiers the rollup has (days only where they are built).
            let table = rollup.table(seg.tier).ok_or_else(|| {
                DataError::Invalid(format!("no {} tier of the {} rollup", seg.tier.suffix(), rollup.name()))
            })?;
            parts.push(format!(
                "SELECT {keys}, flows, bytes, packets FROM {table} \
                 WHERE bucket >= ${n} AND bucket < ${m} AND exporter <<= ANY($1::text[]::inet[]) \
                   AND ($2::text IS NULL OR exporter <<= $2::text::inet) {side_sql}",
                m = n + 1,
            ));
        }
        let source = if parts.is_empty() {
            format!("SELECT {keys}, flows, bytes, packets FROM {} WHERE false", rollup.minute())
        } else {
            parts.join(" UNION ALL ")
        };
        let sql = format!(
            "SELECT * FROM ( \
               SELECT {keys}, {f} AS f, {b} AS b, {p} AS p, \
                      LEAST(COALESCE(sum(sum(bytes)) OVER (), 0), 9223372036854775807)::bigint AS total \
               FROM ({source}) s \
               WHERE $3::int8 IS NOT NULL AND $4::smallint IS NOT NULL \
               GROUP BY {keys}) g \
             WHERE NOT ({other}) ORDER BY b DESC, f DESC LIMIT $3",
            f = sum_i64!("flows"),
            b = sum_i64!("bytes"),
            p = sum_i64!("packets"),
        );
        let side: i16 = matches!(kind, TopKind::Talkers { dst: true }).into();
        let limit = limit.clamp(1, 1000);
        let (scope_p, filter_p) = (scope.sql_param(), filter.param());
        let mut params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
            vec![&scope_p, &filter_p, &limit, &side];
        params.extend(bounds.iter().map(|b| b as &(dyn tokio_postgres::types::ToSql + Sync)));
        let rows = c.query(&sql, &params).await?;
        let secs = w.seconds();
        let mut total = 0i64;
        let mut items = Vec::with_capacity(rows.len());
        for r in &rows {
            let nkeys = key_columns.len();
            let (key, label) = match kind {
                TopKind::Talkers { .. } => {
                    let a: std::net::IpAddr = r.try_get(0)?;
                    (a.to_string(), a.to_string())
                }
                TopKind::Services => {
                    let proto: i16 = r.try_get(0)?;
                    let port: i32 = r.try_get(1)?;
                    let mut label = format!("{} {port}", proto_name(proto));
                    if matches!(proto, 6 | 17 | 132 | 33) {
                        if let Some(n) = port_name(port) {
                            label = format!("{label} ({n})");
                        }
                    } else if matches!(proto, 1 | 58) {
                        label = format!("{} type {} code {}", proto_name(proto), port / 256, port % 256);
                    }
                    (format!("{proto}/{port}"), label)
                }
                TopKind::Protocols => {
                    let proto: i16 = r.try_get(0)?;
                    (proto.to_string(), proto_name(proto))
                }
                TopKind::As(AsSide::Pair) => {
                    let s: i64 = r.try_get(0)?;
                    let d: i64 = r.try_get(1)?;
                    (format!("{s}>{d}"), format!("AS{s} → AS{d}"))
                }
                TopKind::As(_) => {
                    let a: i64 = r.try_get(0)?;
                    (a.to_string(), format!("AS{a}"))
                }
            };
            let flows: i64 = r.try_get(nkeys)?;
            let bytes: i64 = r.try_get(nkeys + 1)?;
            let packets: i64 = r.try_get(nkeys + 2)?;
            total = r.try_get(nkeys + 3)?;
            items.push(TopItem {
                key,
                label,
                flows,
                bytes,
                packets,
                bps: bytes as f64 * 8.0 / secs,
                share: 0.0,
            });
        }
        if rows.is_empty() {
            // Only "other" rows (or nothing): the total still tells the volume.
            let sql = format!(
                "SELECT {b} FROM ({source}) s WHERE $3::int8 IS NOT NULL AND $4::smallint IS NOT NULL",
                b = sum_i64!("bytes"),
            );
            let r = c.query_one(&sql, &params).await?;
            total = r.try_get(0)?;
        }
        for i in &mut items {
            i.share = if total > 0 { i.bytes as f64 / total as f64 } else { 0.0 };
        }
        Ok(TopList {
            kind: kind_name,
            side: side_name,
            from: ts(w.from),
            to: ts(w.to),
            resolution: w.resolution.suffix(),
            total_bytes: total,
            items,
        })
    }

    /// The interfaces of one exporter (in and out traffic), from
    /// `rollup_interface_{1m,1h}`. Empty when the exporter is outside `scope`.
    pub async fn interfaces(
        &self,
        scope: &Scope,
        w: &Window,
        exporter: std::net::IpAddr,
        limit: i64,
    ) -> DataResult<Vec<InterfaceRow>> {
        let cond = "bucket >= $1 AND bucket < $2 AND exporter <<= ANY($3::text[]::inet[]) AND exporter = $4";
        let sql = format!(
            "SELECT ifindex, {ib}, {ob}, {ip}, {op} FROM ( \
               SELECT in_if AS ifindex, bytes AS in_b, 0::bigint AS out_b, packets AS in_p, 0::bigint AS out_p \
               FROM {table} WHERE {cond} \
               UNION ALL \
               SELECT out_if, 0::bigint, bytes, 0::bigint, packets FROM {table} WHERE {cond} \
             ) x GROUP BY ifindex ORDER BY sum(in_b) + sum(out_b) DESC, ifindex LIMIT $5",
            ib = sum_i64!("in_b"),
            ob = sum_i64!("out_b"),
            ip = sum_i64!("in_p"),
            op = sum_i64!("out_p"),
            table = w.resolution.table(Rollup::Interface),
        );
        let limit = limit.clamp(1, 10_000);
        let c = self.conn().await?;
        let rows = c.query(&sql, &[&w.from, &w.to, &scope.sql_param(), &exporter, &limit]).await?;
        drop(c);
        let secs = w.seconds();
        let indexes = rows.iter().map(|r| r.try_get(0)).collect::<Result<Vec<i64>, _>>()?;
        let mut names = if indexes.is_empty() {
            HashMap::new()
        } else {
            self.interface_names(scope, exporter, &indexes).await?
        };
        rows.iter()
            .map(|r| {
                let ifindex: i64 = r.try_get(0)?;
                let in_bytes: i64 = r.try_get(1)?;
                let out_bytes: i64 = r.try_get(2)?;
                let names = names.remove(&ifindex).unwrap_or_default();
                let (in_bps, out_bps) = (in_bytes as f64 * 8.0 / secs, out_bytes as f64 * 8.0 / secs);
                Ok(InterfaceRow {
                    ifindex,
                    in_bps,
                    out_bps,
                    in_bytes,
                    out_bytes,
                    in_packets: r.try_get(3)?,
                    out_packets: r.try_get(4)?,
                    label: names.label(ifindex),
                    in_util_pct: util(in_bps, names.speed_bps),
                    out_util_pct: util(out_bps, names.speed_bps),
                    names,
                })
            })
            .collect()
    }

    /// One interface's traffic over time (in and out), zero-filled.
    pub async fn interface_traffic(
        &self,
        scope: &Scope,
        w: &Window,
        exporter: std::net::IpAddr,
        ifindex: i64,
    ) -> DataResult<IfSeries> {
        let sql = format!(
            "SELECT bucket, \
               COALESCE(sum(bytes) FILTER (WHERE in_if = $5), 0)::float8, \
               COALESCE(sum(bytes) FILTER (WHERE out_if = $5), 0)::float8, \
               COALESCE(sum(packets) FILTER (WHERE in_if = $5), 0)::float8, \
               COALESCE(sum(packets) FILTER (WHERE out_if = $5), 0)::float8 \
             FROM {} \
             WHERE bucket >= $1 AND bucket < $2 AND exporter <<= ANY($3::text[]::inet[]) AND exporter = $4 \
               AND (in_if = $5 OR out_if = $5) \
             GROUP BY bucket ORDER BY bucket",
            w.resolution.table(Rollup::Interface)
        );
        let c = self.conn().await?;
        let rows = c.query(&sql, &[&w.from, &w.to, &scope.sql_param(), &exporter, &ifindex]).await?;
        let mut by: HashMap<i64, [f64; 4]> = HashMap::new();
        for r in &rows {
            let b: OffsetDateTime = r.try_get(0)?;
            by.insert(ms(b), [r.try_get(1)?, r.try_get(2)?, r.try_get(3)?, r.try_get(4)?]);
        }
        let step = w.resolution.step_seconds() as f64;
        let points = w
            .buckets()
            .into_iter()
            .map(|b| {
                let [ib, ob, ip, op] = by.get(&ms(b)).copied().unwrap_or_default();
                IfPoint {
                    t: ms(b),
                    in_bps: ib * 8.0 / step,
                    out_bps: ob * 8.0 / step,
                    in_pps: ip / step,
                    out_pps: op / step,
                }
            })
            .collect();
        drop(c);
        let names =
            self.interface_names(scope, exporter, &[ifindex]).await?.remove(&ifindex).unwrap_or_default();
        Ok(IfSeries {
            exporter: exporter.to_string(),
            ifindex,
            label: names.label(ifindex),
            names,
            from: ts(w.from),
            to: ts(w.to),
            resolution: w.resolution.suffix(),
            step_seconds: w.resolution.step_seconds(),
            points,
        })
    }
}
