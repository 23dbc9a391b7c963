//! Insights: the engine's reads of host feature rows and writes of detections, and
//! the scoped list the API and pages show.
//!
//! The `engine_*` functions take no [`Scope`]: only the insights engine and the
//! backtest call them (never a request handler), and nothing they read leaves the
//! service except as insights, which are listed per scope.

use super::{ts, DataResult, Db, Scope};
use flowvision_insights::beacon::{BeaconRow, PairKey};
use flowvision_insights::detect::{BusiestHosts, Volume};
use flowvision_insights::features::{Counters, HostFeatures, HostKey, InternalNetworks};
use flowvision_insights::{Insight, Severity, CONTINUATION_GAP_MS};
use serde::Serialize;
use std::net::IpAddr;
use time::OffsetDateTime;

/// Most insights one list returns.
pub const MAX_LIMIT: i64 = 5_000;

/// A stored insight, as the API answers it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct InsightRow {
    /// Id.
    pub id: i64,
    /// `syn_flood`, `udp_amplification`, ...
    pub kind: String,
    /// medium, high, critical.
    pub severity: String,
    /// 0.5 at the threshold, up to 1.
    pub score: f64,
    /// First window's start (flow time, RFC 3339).
    pub start: String,
    /// Last window's end.
    pub end: String,
    /// The exporter that saw it.
    pub exporter: String,
    /// The exporter's interface (ifIndex) it is about, when one.
    pub interface: Option<i64>,
    /// The attacker or scanner, when one address.
    pub source: Option<String>,
    /// The victim, when one address.
    pub target: Option<String>,
    /// `rule:NAME`.
    pub detector: String,
    /// The evidence (summary and observed values against thresholds).
    pub why: serde_json::Value,
    /// Who acknowledged it, if anyone.
    pub acknowledged_by: Option<String>,
    /// When (RFC 3339).
    pub acknowledged_at: Option<String>,
}

/// The columns [`insight_row`] reads, in its order.
const INSIGHT_COLUMNS: &str = "id, kind, severity, score, start_time, end_time, exporter, source, target, \
     detector, why, acknowledged_by, acknowledged_at, interface";

fn insight_row(r: &tokio_postgres::Row) -> DataResult<InsightRow> {
    let score: f32 = r.try_get(3)?;
    let exporter: IpAddr = r.try_get(6)?;
    let source: Option<IpAddr> = r.try_get(7)?;
    let target: Option<IpAddr> = r.try_get(8)?;
    let acknowledged_at: Option<OffsetDateTime> = r.try_get(12)?;
    Ok(InsightRow {
        id: r.try_get(0)?,
        kind: r.try_get(1)?,
        severity: r.try_get(2)?,
        score: f64::from(score),
        start: ts(r.try_get(4)?),
        end: ts(r.try_get(5)?),
        exporter: exporter.to_string(),
        interface: r.try_get(13)?,
        source: source.map(|a| a.to_string()),
        target: target.map(|a| a.to_string()),
        detector: r.try_get(9)?,
        why: r.try_get(10)?,
        acknowledged_by: r.try_get(11)?,
        acknowledged_at: acknowledged_at.map(ts),
    })
}

/// Filters of an insight list.
#[derive(Debug, Clone, PartialEq)]
pub struct InsightQuery {
    /// Insights overlapping `[from, to)`.
    pub from: OffsetDateTime,
    /// End of the range.
    pub to: OffsetDateTime,
    /// Only this kind.
    pub kind: Option<String>,
    /// Only exporters inside this prefix (a single address is a host prefix).
    pub exporter: Option<crate::net::Prefix>,
    /// At most this many, newest first.
    pub limit: i64,
    /// Only acknowledged (`true`) or only open (`false`) ones.
    pub acknowledged: Option<bool>,
    /// Only those naming this host as source or target.
    pub host: Option<std::net::IpAddr>,
}

/// Unix ms to a timestamp (clamped to what `time` represents).
pub fn at_ms(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// A timestamp as Unix ms (0 outside the i64 range).
pub fn unix_ms(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(0)
}

fn severity_name(s: Severity) -> &'static str {
    match s {
        Severity::Medium => "medium",
        Severity::High => "high",
        Severity::Critical => "critical",
    }
}

const SEVERITY_RANK: &str = "CASE {} WHEN 'critical' THEN 3 WHEN 'high' THEN 2 ELSE 1 END";

fn rank(expr: &str) -> String {
    SEVERITY_RANK.replace("{}", expr)
}

/// An insight found by a backtest as one JSON object: the API's fields, with `id`
/// null (nothing was stored).
pub fn backtest_json(i: &Insight) -> serde_json::Value {
    serde_json::json!({
        "id": null,
        "kind": i.kind.as_str(),
        "severity": severity_name(i.severity),
        "score": f64::from(i.score as f32),
        "start": ts(at_ms(i.start_ms)),
        "end": ts(at_ms(i.end_ms)),
        "exporter": i.exporter.to_string(),
        "interface": i.interface,
        "source": i.source.map(|a| a.to_string()),
        "target": i.target.map(|a| a.to_string()),
        "detector": i.detector,
        "why": i.why,
    })
}

/// The `host_features` rows of buckets in `[flowvision.rows_from, flowvision.rows_to)`
/// whose (bucket, transaction) is not among `flowvision.held_buckets` and
/// `flowvision.held_xids` and, when `within`, whose host is inside `flowvision.within`
/// (cidr[]), as a binary COPY in [`feature_copy`](super::feature_copy)'s column order.
/// COPY takes no bind parameters, so the values are bound to [`SET_READ`] first and
/// read back here from the transaction's settings: the statement is constant text.
fn copy_feature_rows(within: bool) -> String {
    format!(
        "COPY (SELECT xmin::text::bigint, bucket, exporter, host, {}, {} FROM host_features f \
         WHERE bucket >= current_setting('flowvision.rows_from')::timestamptz \
           AND bucket < current_setting('flowvision.rows_to')::timestamptz {} \
           AND NOT EXISTS ( \
             SELECT 1 FROM unnest(current_setting('flowvision.held_buckets')::timestamptz[], \
                                  current_setting('flowvision.held_xids')::bigint[]) AS h(bucket, xid) \
             WHERE h.bucket = f.bucket AND h.xid = f.xmin::text::bigint)) \
         TO STDOUT (FORMAT binary)",
        Counters::NAMES.join(", "),
        HostFeatures::SKETCH_NAMES.join(", "),
        if within { "AND host <<= ANY(current_setting('flowvision.within')::cidr[])" } else { "" }
    )
}

/// Binds a feature read's values (range, hosts, rows held) for [`copy_feature_rows`]
/// in the current transaction.
const SET_READ: &str = "SELECT set_config('flowvision.rows_from', $1::timestamptz::text, true), \
     set_config('flowvision.rows_to', $2::timestamptz::text, true), \
     set_config('flowvision.within', $3::text[]::cidr[]::text, true), \
     set_config('flowvision.held_buckets', $4::timestamptz[]::text, true), \
     set_config('flowvision.held_xids', $5::bigint[]::text, true)";

impl Db {
    /// Engine only: the host feature rows with a bucket in `[from_ms, to_ms)` of hosts
    /// inside `within` (the operator's own, which the host anomaly model trains on and
    /// scores). A row whose sketch bytes are not a sketch keeps its counters with empty
    /// sketches. Left to PostgreSQL: outside hosts were most of the rows, each decoded to
    /// be thrown away (reading and decoding rows was half of the scoring in a session 25
    /// profile).
    pub async fn engine_feature_rows_within(
        &self,
        from_ms: i64,
        to_ms: i64,
        within: &InternalNetworks,
    ) -> DataResult<Vec<(HostKey, HostFeatures)>> {
        let prefixes: Vec<String> = within.prefixes().iter().map(ToString::to_string).collect();
        let mut out = Vec::new();
        self.copy_feature_rows((from_ms, to_ms), Some(&prefixes), &[], |(_, k, f)| out.push((k, f))).await?;
        Ok(out)
    }

    /// Engine only: the host feature rows with a bucket in `[from_ms, to_ms)` that are
    /// not among those `held`, each with the transaction that wrote it (its `xmin`),
    /// appended to `out` in the order PostgreSQL sends them.
    /// `held` lists (bucket, transaction) pairs: a row is held exactly when the reader
    /// holds a row of the same transaction in the same bucket, since a transaction's
    /// rows become visible at once and every read covers whole buckets. (Per bucket,
    /// not per range: one writer's batch holds late rows of an old bucket and rows of
    /// the newest, which a round reads at different times.)
    pub async fn engine_feature_rows_not_held(
        &self,
        from_ms: i64,
        to_ms: i64,
        held: &[(i64, i64)],
        out: &mut Vec<(i64, HostKey, HostFeatures)>,
    ) -> DataResult<()> {
        self.copy_feature_rows((from_ms, to_ms), None, held, |t| out.push(t)).await
    }

    /// The feature rows of buckets in `[from_ms, to_ms)` not among those `held`
    /// ((bucket, transaction) pairs), of hosts inside `within` (prefixes) when given,
    /// each handed to `row` as it is decoded from the COPY stream.
    async fn copy_feature_rows(
        &self,
        (from_ms, to_ms): (i64, i64),
        within: Option<&[String]>,
        held: &[(i64, i64)],
        mut row: impl FnMut(super::feature_copy::FeatureTuple),
    ) -> DataResult<()> {
        let mut c = self.conn().await?;
        let buckets: Vec<OffsetDateTime> = held.iter().map(|(b, _)| at_ms(*b)).collect();
        let xids: Vec<i64> = held.iter().map(|(_, x)| *x).collect();
        let tx = c.transaction().await?;
        let prefixes = within.unwrap_or_default();
        tx.execute(SET_READ, &[&at_ms(from_ms), &at_ms(to_ms), &prefixes, &buckets, &xids]).await?;
        let stream = tx.copy_out(&copy_feature_rows(within.is_some())).await?;
        futures_util::pin_mut!(stream);
        let mut decoder = super::feature_copy::FeatureCopy::new();
        while let Some(chunk) = futures_util::TryStreamExt::try_next(&mut stream).await? {
            decoder.feed(&chunk, &mut row)?;
        }
        decoder.finish()?;
        tx.commit().await?;
        Ok(())
    }

    /// Engine only: the periodic contacts that started in `[from_ms, to_ms)`
    /// (`host_beacons`), in start order.
    pub async fn engine_beacon_rows(&self, from_ms: i64, to_ms: i64) -> DataResult<Vec<BeaconRow>> {
        let c = self.conn().await?;
        let rows = c
            .query(
                "SELECT started, exporter, host, peer, port, proto, contacts, period_ms, jitter, bytes_per_contact, sampling_rate, size_jitter, long_jitter \
                 FROM host_beacons WHERE started >= $1 AND started < $2 ORDER BY started",
                &[&at_ms(from_ms), &at_ms(to_ms)],
            )
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let started: OffsetDateTime = r.try_get(0)?;
            let port: i32 = r.try_get(4)?;
            let proto: i16 = r.try_get(5)?;
            let contacts: i32 = r.try_get(6)?;
            let jitter: f32 = r.try_get(8)?;
            let sampling_rate: i32 = r.try_get(10)?;
            let size_jitter: Option<f32> = r.try_get(11)?;
            let long_jitter: Option<f32> = r.try_get(12)?;
            out.push(BeaconRow {
                start_ms: unix_ms(started),
                key: PairKey {
                    exporter: r.try_get(1)?,
                    host: r.try_get(2)?,
                    peer: r.try_get(3)?,
                    port: u16::try_from(port).unwrap_or(0),
                    proto: u8::try_from(proto).unwrap_or(0),
                },
                contacts: u32::try_from(contacts).unwrap_or(0),
                period_ms: r.try_get(7)?,
                jitter: f64::from(jitter),
                // Stored before the column: judged by the last intervals alone.
                long_jitter: f64::from(long_jitter.unwrap_or(jitter)),
                bytes_per_contact: r.try_get(9)?,
                sampling_rate: u32::try_from(sampling_rate).unwrap_or(1).max(1),
                // Unknown (sampled, or stored before sizes were kept): timing decides.
                size_jitter: size_jitter.map(f64::from),
            });
        }
        Ok(out)
    }

    /// Engine only: every exporter's bytes and flows per minute (`rollup_exporter_1m`)
    /// in the given `[from_ms, to_ms)` ranges, as (exporter, minute ms, volume).
    pub async fn engine_exporter_minutes(
        &self,
        ranges: &[(i64, i64)],
    ) -> DataResult<Vec<(IpAddr, i64, Volume)>> {
        let c = self.conn().await?;
        let mut out = Vec::new();
        // One query per range, so each prunes to its day's partition.
        for &(from, to) in ranges {
            let rows = c
                .query(
                    "SELECT exporter, bucket, sum(bytes)::int8, sum(flows)::int8, sum(raw_bytes)::int8 FROM rollup_exporter_1m \
                     WHERE bucket >= $1 AND bucket < $2 GROUP BY exporter, bucket",
                    &[&at_ms(from), &at_ms(to)],
                )
                .await?;
            for r in rows {
                let bucket: OffsetDateTime = r.try_get(1)?;
                out.push((
                    r.try_get(0)?,
                    unix_ms(bucket),
                    Volume { bytes: r.try_get(2)?, flows: r.try_get(3)?, raw_bytes: r.try_get(4)? },
                ));
            }
        }
        Ok(out)
    }

    /// Engine only: what the busiest hosts of each exporter carried in `[from_ms,
    /// to_ms)`: the bytes of its `hosts` busiest sources or of its `hosts` busiest
    /// destinations (the larger; each record counted once), and the records of its
    /// busiest host as source or destination.
    ///
    /// From the top talkers' rollup (`rollup_talker_1m`), which counts a record's bytes
    /// whole in its minute as `rollup_exporter_1m` does, so the host's share of its
    /// exporter's excess compares like with like. (`host_features` counts a long flow
    /// at its rate in one 10 s bucket, for the flood rules: a backup reported in
    /// 1-minute records showed there as a sixth of its bytes, and a backup's quarter hour
    /// was reported as a traffic anomaly.)
    pub async fn engine_busiest_hosts(
        &self,
        from_ms: i64,
        to_ms: i64,
        hosts: u32,
    ) -> DataResult<Vec<(IpAddr, BusiestHosts)>> {
        let c = self.conn().await?;
        // Per host and side; the "other" row (0.0.0.0/0) is no host.
        let rows = c
            .query(
                "WITH per_side AS ( \
                     SELECT exporter, addr, side, sum(bytes) AS bytes, sum(flows) AS flows \
                     FROM rollup_talker_1m \
                     WHERE bucket >= $1 AND bucket < $2 AND addr <> '0.0.0.0/0'::inet \
                     GROUP BY exporter, addr, side), \
                 ranked AS ( \
                     SELECT exporter, side, bytes, \
                            row_number() OVER (PARTITION BY exporter, side ORDER BY bytes DESC) AS rn \
                     FROM per_side), \
                 top_bytes AS ( \
                     SELECT exporter, max(b) AS b FROM ( \
                         SELECT exporter, side, sum(bytes) AS b FROM ranked WHERE rn <= $3 \
                         GROUP BY exporter, side) AS s \
                     GROUP BY exporter), \
                 top_flows AS ( \
                     SELECT exporter, max(f) AS f FROM ( \
                         SELECT exporter, addr, sum(flows) AS f FROM per_side GROUP BY exporter, addr) AS h \
                     GROUP BY exporter) \
                 SELECT b.exporter, b.b::int8, f.f::int8 FROM top_bytes b JOIN top_flows f USING (exporter)",
                &[&at_ms(from_ms), &at_ms(to_ms), &i64::from(hosts)],
            )
            .await?;
        rows.iter()
            .map(|r| {
                let bytes: Option<i64> = r.try_get(1)?;
                let flows: Option<i64> = r.try_get(2)?;
                Ok((r.try_get(0)?, BusiestHosts { bytes: bytes.unwrap_or(0), flows: flows.unwrap_or(0) }))
            })
            .collect()
    }

    /// Engine only: every exporter's interfaces' bytes and flows per minute
    /// (`rollup_interface_1m`, flows in on the interface plus flows out on it) in the
    /// given `[from_ms, to_ms)` ranges, as (exporter, ifIndex, minute ms, volume).
    pub async fn engine_interface_minutes(
        &self,
        ranges: &[(i64, i64)],
    ) -> DataResult<Vec<(IpAddr, u32, i64, Volume)>> {
        let c = self.conn().await?;
        let mut out = Vec::new();
        for &(from, to) in ranges {
            let rows = c
                .query(
                    "SELECT exporter, interface, bucket, sum(bytes)::int8, sum(flows)::int8, sum(raw_bytes)::int8 FROM ( \
                         SELECT exporter, in_if AS interface, bucket, bytes, flows, raw_bytes FROM rollup_interface_1m \
                          WHERE bucket >= $1 AND bucket < $2 \
                         UNION ALL \
                         SELECT exporter, out_if, bucket, bytes, flows, raw_bytes FROM rollup_interface_1m \
                          WHERE bucket >= $1 AND bucket < $2) AS both_ways \
                     WHERE interface > 0 GROUP BY exporter, interface, bucket",
                    &[&at_ms(from), &at_ms(to)],
                )
                .await?;
            for r in rows {
                let bucket: OffsetDateTime = r.try_get(2)?;
                // ifIndex is 32 bits on the wire; anything else is no interface.
                let Ok(interface) = u32::try_from(r.try_get::<_, i64>(1)?) else { continue };
                let volume = Volume { bytes: r.try_get(3)?, flows: r.try_get(4)?, raw_bytes: r.try_get(5)? };
                out.push((r.try_get(0)?, interface, unix_ms(bucket), volume));
            }
        }
        Ok(out)
    }

    /// Bytes of one exporter (or of one of its interfaces: flows in on it plus flows
    /// out on it) per `slot_ms` slot (slot start, Unix ms) in `[from_ms, to_ms)`, from
    /// `rollup_exporter_1m` (`rollup_interface_1m`). The caller checks the scope.
    pub async fn exporter_slots(
        &self,
        exporter: IpAddr,
        interface: Option<u32>,
        from_ms: i64,
        to_ms: i64,
        slot_ms: i64,
    ) -> DataResult<std::collections::BTreeMap<i64, i64>> {
        let c = self.conn().await?;
        let slot = "(floor(extract(epoch FROM bucket) * 1000 / $4::float8) * $4::float8)::int8";
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 4] =
            [&exporter, &at_ms(from_ms), &at_ms(to_ms), &(slot_ms as f64)];
        let rows = match interface {
            None => {
                c.query(
                    &format!(
                        "SELECT {slot}, sum(bytes)::int8 FROM rollup_exporter_1m \
                         WHERE exporter = $1 AND bucket >= $2 AND bucket < $3 GROUP BY 1"
                    ),
                    &params,
                )
                .await?
            }
            Some(i) => {
                let mut p = params.to_vec();
                let i = i64::from(i);
                p.push(&i);
                c.query(
                    &format!(
                        "SELECT {slot}, sum(CASE WHEN in_if = $5 THEN bytes ELSE 0 END \
                                           + CASE WHEN out_if = $5 THEN bytes ELSE 0 END)::int8 \
                         FROM rollup_interface_1m \
                         WHERE exporter = $1 AND bucket >= $2 AND bucket < $3 AND (in_if = $5 OR out_if = $5) \
                         GROUP BY 1"
                    ),
                    &p,
                )
                .await?
            }
        };
        let mut out = std::collections::BTreeMap::new();
        for r in rows {
            out.insert(r.try_get::<_, i64>(0)?, r.try_get::<_, i64>(1)?);
        }
        Ok(out)
    }

    /// Engine only: each exporter's usual packets per second before `to_ms`, the median
    /// of its per-minute rates (`rollup_exporter_1m`, sampling-corrected) in
    /// `[from_ms, to_ms)` (`flowvision_insights::detect::NetworkSize`), with the number
    /// of minutes that median is of.
    pub async fn engine_network_pps(&self, from_ms: i64, to_ms: i64) -> DataResult<Vec<(IpAddr, f64, i64)>> {
        let c = self.conn().await?;
        let rows = c
            .query(
                "SELECT exporter, percentile_cont(0.5) WITHIN GROUP (ORDER BY packets) / 60.0, count(*) FROM ( \
                     SELECT exporter, sum(packets)::float8 AS packets FROM rollup_exporter_1m \
                     WHERE bucket >= $1 AND bucket < $2 GROUP BY exporter, bucket) m \
                 GROUP BY exporter",
                &[&at_ms(from_ms), &at_ms(to_ms)],
            )
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            out.push((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?));
        }
        Ok(out)
    }

    /// Engine only: stores a detection, extending the stored insight it continues
    /// (same kind, exporter, interface, source and target, at most
    /// [`CONTINUATION_GAP_MS`] apart) or adding a new one. Returns the insight's id.
    pub async fn engine_record(&self, i: &Insight) -> DataResult<i64> {
        let c = self.conn().await?;
        let why = serde_json::to_value(&i.why).unwrap_or(serde_json::Value::Null);
        let (start, end) = (at_ms(i.start_ms), at_ms(i.end_ms));
        let gap_start = at_ms(i.start_ms - CONTINUATION_GAP_MS);
        let kind = i.kind.as_str();
        let severity = severity_name(i.severity);
        let score = i.score as f32;
        let interface = i.interface.map(i64::from);
        let updated = c
            .query_opt(
                &format!(
                    "UPDATE insights SET start_time = least(start_time, $5), end_time = greatest(end_time, $6), \
                        why = CASE WHEN $7::real > score THEN $8::jsonb ELSE why END, \
                        score = greatest(score, $7::real), \
                        severity = CASE WHEN {} > {} THEN $9 ELSE severity END \
                     WHERE id = (SELECT id FROM insights WHERE kind = $1 AND exporter = $2 \
                                   AND interface IS NOT DISTINCT FROM $11 \
                                   AND source IS NOT DISTINCT FROM $3 AND target IS NOT DISTINCT FROM $4 \
                                   AND end_time >= $10 AND start_time <= $6 \
                                 ORDER BY end_time DESC LIMIT 1) \
                     RETURNING id",
                    rank("$9::text"),
                    rank("severity")
                ),
                &[
                    &kind,
                    &i.exporter,
                    &i.source,
                    &i.target,
                    &start,
                    &end,
                    &score,
                    &why,
                    &severity,
                    &gap_start,
                    &interface,
                ],
            )
            .await?;
        if let Some(row) = updated {
            return Ok(row.try_get(0)?);
        }
        let row = c
            .query_one(
                "INSERT INTO insights (kind, severity, score, start_time, end_time, exporter, source, target, detector, why, \
                                       interface) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
                &[&kind, &severity, &score, &start, &end, &i.exporter, &i.source, &i.target, &i.detector, &why, &interface],
            )
            .await?;
        Ok(row.try_get(0)?)
    }

    /// The insights of exporters in `scope` overlapping the query's range, newest first.
    pub async fn insights(&self, scope: &Scope, q: &InsightQuery) -> DataResult<Vec<InsightRow>> {
        let c = self.conn().await?;
        let rows = c
            .query(
                &format!(
                    "SELECT {INSIGHT_COLUMNS} FROM insights \
                     WHERE exporter <<= ANY($1::text[]::inet[]) AND end_time >= $2 AND start_time < $3 \
                       AND ($4::text IS NULL OR kind = $4) AND ($5::text IS NULL OR exporter <<= $5::text::inet) \
                       AND ($7::bool IS NULL OR (acknowledged_by IS NOT NULL) = $7) \
                       AND ($8::inet IS NULL OR source = $8 OR target = $8) \
                     ORDER BY start_time DESC, id DESC LIMIT $6"
                ),
                &[
                    &scope.sql_param(),
                    &q.from,
                    &q.to,
                    &q.kind,
                    &q.exporter.map(|p| p.to_string()),
                    &q.limit.clamp(1, MAX_LIMIT),
                    &q.acknowledged,
                    &q.host,
                ],
            )
            .await?;
        rows.iter().map(insight_row).collect()
    }

    /// Marks insight `id` acknowledged by `by` (now), or takes the acknowledgement back
    /// (`None`), when its exporter is in `scope`. The row as it is afterwards; `None`
    /// when the scope holds no such insight (the caller cannot tell it exists).
    pub async fn acknowledge_insight(
        &self,
        scope: &Scope,
        id: i64,
        by: Option<&str>,
    ) -> DataResult<Option<InsightRow>> {
        let c = self.conn().await?;
        let row = c
            .query_opt(
                &format!(
                    "UPDATE insights SET acknowledged_by = $3::text, \
                        acknowledged_at = CASE WHEN $3::text IS NULL THEN NULL ELSE now() END \
                     WHERE id = $1 AND exporter <<= ANY($2::text[]::inet[]) \
                     RETURNING {INSIGHT_COLUMNS}"
                ),
                &[&id, &scope.sql_param(), &by],
            )
            .await?;
        row.as_ref().map(insight_row).transpose()
    }
}
