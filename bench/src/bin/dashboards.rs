//! Console benchmark: p50/p95 latency of every dashboard query of `flowvision-web` over
//! 7 days of rollups at the seed's volume (~10^10 flows/day), and of flow search on a
//! large `flows` table. Goal: every dashboard under 300 ms p95.
//!
//! A throwaway PostgreSQL (`flowvision-tests`' `PgCluster`) is migrated by the real web
//! binary, filled with SQL (`generate_series`) at the cardinality the collector's
//! rollups have at that rate (see docs/benchmarks.md for the reasoning), then every
//! dashboard endpoint is timed over HTTP against the running binary, exactly as the
//! pages' charts and tables call it (an admin session: the scope filter is always
//! applied, "all" is just the widest prefix list).
//!
//! `cargo build --release -p flowvision-web && cargo run --release -p flowvision-bench --bin dashboards`
//! Options (`-- --help`; unknown ones exit 2): `--exporters N`, `--talkers-1m N`, `--talkers-1h N`,
//! `--services-1m N`, `--services-1h N`, `--as-1m N`, `--as-1h N`, `--minute-hours H`,
//! `--flows N`, `--flow-hours H`, `--iterations N`, `--explain` (plans of the slowest
//! queries), `--skip-dashboards` (flow search only).
//! The web binary: `FLOWVISION_WEB_BIN`, else `target/release/flowvision-web`, else
//! `target/debug/flowvision-web`.

use anyhow::{bail, Context, Result};
use clap::Parser;
use flowvision_collector::store::partitions::{partition_name, Family, Span, TABLES as PARTITIONED};
use flowvision_schema::rollup::OTHER_ADDR;
use flowvision_schema::{tables, Rollup};
use flowvision_tests::pg::PgCluster;
use std::time::Instant;

const ADMIN: &str = "admin";
const ADMIN_PW: &str = "dashboards-benchmark-password";

/// Console benchmark: p50/p95 latency of every dashboard query of `flowvision-web` and
/// of flow search, over a throwaway PostgreSQL filled at the collector's rollup
/// cardinality (docs/benchmarks.md). Data set size: rows per bucket and dimension.
#[derive(Debug, Parser)]
#[command(name = "dashboards")]
struct Scale {
    /// Exporters.
    #[arg(long, value_name = "N", default_value_t = 20)]
    exporters: i64,
    /// Talkers per exporter, side and minute bucket.
    #[arg(long = "talkers-1m", value_name = "N", default_value_t = 200)]
    talkers_1m: i64,
    /// Talkers per exporter, side and hour bucket.
    #[arg(long = "talkers-1h", value_name = "N", default_value_t = 1000)]
    talkers_1h: i64,
    /// Services per exporter and minute bucket.
    #[arg(long = "services-1m", value_name = "N", default_value_t = 100)]
    services_1m: i64,
    /// Services per exporter and hour bucket.
    #[arg(long = "services-1h", value_name = "N", default_value_t = 300)]
    services_1h: i64,
    /// AS pairs per exporter and minute bucket.
    #[arg(long = "as-1m", value_name = "N", default_value_t = 500)]
    as_1m: i64,
    /// AS pairs per exporter and hour bucket.
    #[arg(long = "as-1h", value_name = "N", default_value_t = 2000)]
    as_1h: i64,
    /// Interfaces per exporter.
    #[arg(skip = 48)]
    interfaces: i64,
    /// IP protocols.
    #[arg(skip = 6)]
    protocols: i64,
    /// Hours of minute rollups for talkers, services and AS (what windows up to 6 h read).
    #[arg(long, value_name = "H", default_value_t = 7)]
    minute_hours: i64,
    /// Rows of the raw `flows` table (flow search).
    #[arg(long, value_name = "N", default_value_t = 20_000_000)]
    flows: i64,
    /// Hours the raw flows span (up to now).
    #[arg(long, value_name = "H", default_value_t = 2)]
    flow_hours: i64,
    /// Timed requests per query (after one warm-up).
    #[arg(long, value_name = "N", default_value_t = 60)]
    iterations: usize,
    /// Print the plans of the slowest queries.
    #[arg(long)]
    explain: bool,
    /// Flow search only.
    #[arg(long)]
    skip_dashboards: bool,
}

/// The data set, in SQL. Rollup rows are generated per (bucket, exporter, dimension);
/// dimension values are drawn through a bijection (odd multiplier modulo a power of
/// two) so keys are unique and different per bucket, and bytes are Zipf-like (1/k),
/// so rankings are heavy-tailed like real traffic.
fn generate(db: &mut postgres::Client, url: &str, s: &Scale) -> Result<()> {
    let t = Instant::now();
    db.batch_execute(
        "SET synchronous_commit = off; SET maintenance_work_mem = '512MB'; SET work_mem = '256MB'",
    )?;
    // Partitions: daily for the 1-minute tables (8 days back, tomorrow), weekly for
    // the 1-hour ones (the weeks of the last 8 days), hourly for flows (8 hours back,
    // the next hour), named as the collector names them.
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis() as i64;
    let (hour, day) = (flowvision_schema::HOUR_MS, flowvision_schema::DAY_MS);
    let mut ddl = String::new();
    for &(parent, family) in PARTITIONED {
        let (span, from, to) = match family {
            Family::Minute => (Span::Day, now_ms - 8 * day, now_ms + day),
            Family::Hour => (Span::Week, now_ms - 8 * day, now_ms),
            Family::Flows => (Span::Hour, now_ms - 8 * hour, now_ms + hour),
        };
        let mut lo = span.start(from);
        while lo <= to {
            let hi = lo + span.len_ms();
            ddl.push_str(&format!(
                "CREATE TABLE IF NOT EXISTS {} PARTITION OF {parent} \
                 FOR VALUES FROM (to_timestamp({lo} / 1000.0)) TO (to_timestamp({hi} / 1000.0));\n",
                partition_name(parent, span, lo)
            ));
            lo = hi;
        }
    }
    db.batch_execute(&ddl)?;
    let other = OTHER_ADDR;
    let ex = "('10.255.0.0'::inet + e)";
    // Buckets: 1m over the last `minute_hours` (what the ≤6 h windows read) and the
    // exporter/stats tables over 8 days; 1h over 8 days. The newest bucket is the
    // current one (still filling, like the collector's).
    // The minute buckets run 15 minutes past "now": generating and compacting take
    // ~6 minutes, and the 5-minute window must still find data when it is timed
    // (those minutes are not closed at compaction time, so they stay uncompacted, as
    // the last minutes of a live system are).
    let m_buckets = format!(
        "generate_series(date_trunc('minute', now()) - interval '{} hours', \
         date_trunc('minute', now()) + interval '15 minutes', interval '1 minute')",
        s.minute_hours
    );
    let m_buckets_8d = "generate_series(date_trunc('minute', now()) - interval '8 days', \
         date_trunc('minute', now()) + interval '15 minutes', interval '1 minute')";
    let h_buckets = "generate_series(date_trunc('hour', now()) - interval '8 days', date_trunc('hour', now()), interval '1 hour')";
    let measures = |k: &str, scale: i64| {
        format!(
            "1 + {scale} / {k}, (2e9 / {k})::bigint * {scale}, (2e6 / {k})::bigint * {scale}, (2e9 / {k})::bigint * {scale}, (2e6 / {k})::bigint * {scale}"
        )
    };
    let e = s.exporters;
    let statements: Vec<(&str, String)> = vec![
        (Rollup::Exporter.minute(), format!(
            "SELECT b, {ex}, {} FROM {m_buckets_8d} b, generate_series(1, {e}) e ORDER BY 1, 2",
            measures("1", 1))),
        (Rollup::Exporter.hour(), format!(
            "SELECT b, {ex}, {} FROM {h_buckets} b, generate_series(1, {e}) e ORDER BY 1, 2",
            measures("1", 60))),
        (tables::EXPORTER_STATS_1M, format!(
            "SELECT b, {ex}, 30000, 45000000, 350000, 0, (e % 3) * 10, 1 \
             FROM {m_buckets_8d} b, generate_series(1, {e}) e ORDER BY 1, 2")),
        (Rollup::Interface.minute(), format!(
            "SELECT b, {ex}, k, ({} + 1 - k), {} FROM {m_buckets} b, \
             generate_series(1, {e}) e, generate_series(1, {}) k ORDER BY 1, 2",
            s.interfaces, measures("k", 1), s.interfaces)),
        (Rollup::Interface.hour(), format!(
            "SELECT b, {ex}, k, ({} + 1 - k), {} FROM {h_buckets} b, \
             generate_series(1, {e}) e, generate_series(1, {}) k ORDER BY 1, 2",
            s.interfaces, measures("k", 60), s.interfaces)),
        (Rollup::Protocol.minute(), format!(
            "SELECT b, {ex}, (ARRAY[6,17,1,47,50,58])[k], {} FROM {m_buckets} b, \
             generate_series(1, {e}) e, generate_series(1, {}) k ORDER BY 1, 2",
            measures("k", 1), s.protocols)),
        (Rollup::Protocol.hour(), format!(
            "SELECT b, {ex}, (ARRAY[6,17,1,47,50,58])[k], {} FROM {h_buckets} b, \
             generate_series(1, {e}) e, generate_series(1, {}) k ORDER BY 1, 2",
            measures("k", 60), s.protocols)),
        (Rollup::Service.minute(), format!(
            "SELECT b, {ex}, CASE WHEN k % 3 = 0 THEN 17 ELSE 6 END, \
             CASE WHEN k = 1 THEN -1 ELSE ((k * 40503 + extract(epoch FROM b)::bigint / 60 * 8) % 65536)::int END, {} \
             FROM {m_buckets} b, generate_series(1, {e}) e, generate_series(1, {}) k ORDER BY 1, 2",
            measures("k", 1), s.services_1m)),
        (Rollup::Service.hour(), format!(
            "SELECT b, {ex}, CASE WHEN k % 3 = 0 THEN 17 ELSE 6 END, \
             CASE WHEN k = 1 THEN -1 ELSE ((k * 40503 + extract(epoch FROM b)::bigint / 3600 * 8) % 65536)::int END, {} \
             FROM {h_buckets} b, generate_series(1, {e}) e, generate_series(1, {}) k ORDER BY 1, 2",
            measures("k", 60), s.services_1h)),
        (Rollup::As.minute(), format!(
            "SELECT b, {ex}, 64512 + (k * 2654435761 % 65536), 64512 + (k * 40503 % 1024), {} \
             FROM {m_buckets} b, generate_series(1, {e}) e, generate_series(1, {}) k ORDER BY 1, 2",
            measures("k", 1), s.as_1m)),
        (Rollup::As.hour(), format!(
            "SELECT b, {ex}, 64512 + (k * 2654435761 % 65536), 64512 + (k * 40503 % 1024), {} \
             FROM {h_buckets} b, generate_series(1, {e}) e, generate_series(1, {}) k ORDER BY 1, 2",
            measures("k", 60), s.as_1h)),
        (Rollup::Talker.minute(), format!(
            "SELECT b, {ex}, side, \
             CASE WHEN k = 1 THEN {other} ELSE '100.64.0.0'::inet + ((k * 2654435761 + extract(epoch FROM b)::bigint / 60 * 64) % 1048576) END, {} \
             FROM {m_buckets} b, generate_series(1, {e}) e, generate_series(0, 1) side, generate_series(1, {}) k ORDER BY 1, 2",
            measures("k", 1), s.talkers_1m)),
        (Rollup::Talker.hour(), format!(
            "SELECT b, {ex}, side, \
             CASE WHEN k = 1 THEN {other} ELSE '100.64.0.0'::inet + ((k * 2654435761 + extract(epoch FROM b)::bigint / 3600 * 64) % 1048576) END, {} \
             FROM {h_buckets} b, generate_series(1, {e}) e, generate_series(0, 1) side, generate_series(1, {}) k ORDER BY 1, 2",
            measures("k", 60), s.talkers_1h)),
        (tables::EXPORTERS, format!(
            "(exporter, first_seen, last_seen, last_flow, protocol, sampling_rate, flows, bytes, packets, \
             datagrams, datagram_bytes, records) SELECT {ex}, now() - interval '8 days', now(), now(), 'ipfix', 1000, \
             1e9, 1e12, 1e10, 1e8, 1e11, 1e9 FROM generate_series(1, {e}) e")),
        // Flows: `flows` rows over the last `flow_hours`, in time order (as the collector
        // appends them, which is what makes the BRIN index prune).
        (tables::FLOWS, format!(
            "(time_received, bytes, packets, flow_start, flow_end, observation_domain, sequence, \
             sampling_rate, in_if, out_if, src_as, dst_as, src_port, dst_port, tcp_flags, vlan, protocol, proto, tos, \
             src_mask, dst_mask, exporter, src_addr, dst_addr, next_hop) \
             SELECT ts, 40 + (i * 7919) % 1500 * 20, 1 + i % 20, ts - interval '10 s', ts, 0, i, 1000, 1 + i % {ifs}, \
             1 + (i / 7) % {ifs}, 64512 + i % 977, 64512 + i % 331, 1024 + (i * 40503) % 64000, \
             (ARRAY[443, 80, 53, 22, 8443, 3389, 123, 5432])[1 + i % 8], 24, 0, 'ipfix', \
             (ARRAY[6, 6, 17, 6, 6, 6, 17, 6])[1 + i % 8], 0, 24, 24, '10.255.0.0'::inet + (1 + i % {e}), \
             '100.64.0.0'::inet + ((i * 2654435761) % 1048576), '198.18.0.0'::inet + ((i * 40503) % 65536), '10.0.0.1' \
             FROM generate_series(1::bigint, {n}) i, \
             LATERAL (SELECT now() - interval '{h} hours' + (i::double precision / {n}) * interval '{h} hours' AS ts) t",
            ifs = s.interfaces, n = s.flows, h = s.flow_hours)),
    ];
    for (table, rows) in statements {
        let st = Instant::now();
        let n = db
            .execute(&format!("INSERT INTO {table} {rows}"), &[])
            .with_context(|| format!("filling {table}"))?;
        println!("  {table:<22} {n:>11} rows  {:>6.1} s", st.elapsed().as_secs_f64());
    }
    // What the collector's maintenance round does every minute to the partitions it
    // writes (store::summaries): summarize the new page ranges of `flows`' BRIN
    // indexes (time, and the address bloom filters host searches use).
    let st = Instant::now();
    let ranges: i64 = db
        .query_one(
            "SELECT COALESCE(sum(brin_summarize_new_values(x.indexrelid)), 0)::bigint \
             FROM pg_inherits i JOIN pg_index x ON x.indrelid = i.inhrelid \
             JOIN pg_class ic ON ic.oid = x.indexrelid JOIN pg_am a ON a.oid = ic.relam \
             WHERE i.inhparent = $1::text::regclass AND a.amname = 'brin'",
            &[&tables::FLOWS],
        )
        .context("summarizing the BRIN indexes of flows")?
        .get(0);
    println!("  BRIN ranges summarized {ranges:>10}        {:>6.1} s", st.elapsed().as_secs_f64());
    // What the collector's maintenance would have done minute by minute: compact
    // every closed minute and hour to the top N and build the closed days.
    db.batch_execute("ANALYZE")?;
    let st = Instant::now();
    let cfg = flowvision_collector::store::StoreConfig::new(url, std::env::temp_dir());
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis() as i64;
    let r = flowvision_collector::store::compaction::catch_up_blocking(&cfg, now_ms, 1000)?;
    println!(
        "  compaction (keep {:?}): {} buckets, {} rows folded, {} daily buckets built, {:.0} s",
        cfg.topn_keep,
        r.buckets,
        r.rows_folded,
        r.days_built,
        st.elapsed().as_secs_f64()
    );
    for t in Rollup::TOP_N.iter().flat_map(|r| r.tiers().iter().filter_map(|tier| r.table(*tier))) {
        let n: i64 = db.query_one(&format!("SELECT count(*) FROM {t}"), &[])?.get(0);
        println!("  {t:<22} {n:>11} rows after compaction");
    }
    db.batch_execute("VACUUM ANALYZE")?;
    println!("  generated and analyzed in {:.0} s", t.elapsed().as_secs_f64());
    Ok(())
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i.min(sorted.len() - 1)).copied().unwrap_or(f64::NAN)
}

fn main() -> Result<()> {
    let s = Scale::parse();
    let pg = PgCluster::start().context("starting PostgreSQL")?;
    let console = flowvision_bench::console::Console::start(pg.url(), ADMIN, ADMIN_PW, &[])?;
    let port = console.port;
    let mut db = pg.connect()?;
    println!(
        "data set: {} exporters; per bucket and exporter: talkers {}/{} per side (1m/1h), services {}/{}, AS pairs {}/{}, \
         {} interface pairs, {} protocols; 1m rollups over {} h, 1h over 8 days; {} flows over {} h",
        s.exporters, s.talkers_1m, s.talkers_1h, s.services_1m, s.services_1h, s.as_1m, s.as_1h, s.interfaces,
        s.protocols, s.minute_hours, s.flows, s.flow_hours
    );
    generate(&mut db, pg.url(), &s)?;
    let sized = [Rollup::Talker.hour(), Rollup::Talker.minute(), Rollup::As.hour(), tables::FLOWS];
    let sizes = db.query(
        "SELECT t, pg_size_pretty(sum(pg_total_relation_size(c.oid))::bigint) FROM unnest($1::text[]) v(t) \
         JOIN pg_inherits i ON i.inhparent = v.t::regclass JOIN pg_class c ON c.oid = i.inhrelid GROUP BY t ORDER BY t",
        &[&sized.as_slice()],
    )?;
    for r in sizes {
        println!("  {:<18} {}", r.get::<_, String>(0), r.get::<_, String>(1));
    }

    let session = flowvision_bench::console::login(port, ADMIN, ADMIN_PW)?;
    let cookie = format!("fv_session={session}");
    let one = "10.255.0.1";
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis() as i64;
    let mut cases: Vec<(String, String)> = Vec::new();
    for range in ["5m", "1h", "6h", "24h", "7d"] {
        for (name, path) in [
            ("overview page (HTML)", format!("/?range={range}")),
            ("traffic", format!("/api/v1/traffic?range={range}")),
            ("traffic, one exporter", format!("/api/v1/traffic?range={range}&exporter={one}")),
            ("top talkers src", format!("/api/v1/top/talkers?range={range}&side=src")),
            (
                "top talkers dst, one exporter",
                format!("/api/v1/top/talkers?range={range}&side=dst&exporter={one}"),
            ),
            ("top services", format!("/api/v1/top/services?range={range}")),
            ("top protocols", format!("/api/v1/top/protocols?range={range}")),
            ("top AS pairs", format!("/api/v1/top/as?range={range}&side=pair")),
            ("top AS src", format!("/api/v1/top/as?range={range}&side=src")),
            ("exporter interfaces", format!("/api/v1/exporters/{one}/interfaces?range={range}")),
            ("interface traffic", format!("/api/v1/exporters/{one}/interfaces/3/traffic?range={range}")),
        ] {
            cases.push((format!("{name} [{range}]"), path));
        }
    }
    cases.push(("exporters list (health)".into(), "/api/v1/exporters".into()));
    cases.push(("exporter detail (health)".into(), format!("/api/v1/exporters/{one}")));
    cases.push(("exporters page (HTML)".into(), "/exporters".into()));
    let from15 = now_ms - 15 * 60_000;
    let from1h = now_ms - 3_600_000;
    let flow_cases = vec![
        ("flow search: last 15 min, no filter, page 1".to_string(), "/api/v1/flows".to_string()),
        ("flow search: last 15 min, page 10".into(), "/api/v1/flows?page=10".into()),
        ("flow search: 1 h, src prefix /16".into(), format!("/api/v1/flows?from={from1h}&src=100.64.0.0/16")),
        ("flow search: 1 h, one host".into(), format!("/api/v1/flows?from={from1h}&addr=198.18.1.7")),
        (
            "flow search: 15 min, exporter + dst port".into(),
            format!("/api/v1/flows?from={from15}&exporter={one}&dst_port=22"),
        ),
        (
            "flow search: 6 d, dst port 3389, proto tcp".into(),
            format!("/api/v1/flows?from={}&dst_port=3389&proto=tcp", now_ms - 6 * 86_400_000),
        ),
        (
            "CSV export: 15 min, exporter + dst port".into(),
            format!("/api/v1/flows/export?from={from15}&exporter={one}&dst_port=22"),
        ),
    ];
    println!("\n{} iterations each (after one warm-up), ms:", s.iterations);
    println!("{:<52} {:>8} {:>8} {:>8}  status", "query", "p50", "p95", "max");
    let mut misses = Vec::new();
    for (is_dash, list) in [(true, &cases), (false, &flow_cases)] {
        if is_dash && s.skip_dashboards {
            continue;
        }
        for (name, path) in list {
            let r = flowvision_tests::http::request(port, "GET", path, &cookie, "")?;
            if r.status != 200 {
                bail!("{path}: HTTP {}: {}", r.status, r.body.chars().take(300).collect::<String>());
            }
            let mut times = Vec::with_capacity(s.iterations);
            for _ in 0..s.iterations {
                let t = Instant::now();
                let status = flowvision_tests::http::request(port, "GET", path, &cookie, "")?.status;
                times.push(t.elapsed().as_secs_f64() * 1000.0);
                if status != 200 {
                    bail!("{path}: HTTP {status}");
                }
            }
            times.sort_by(f64::total_cmp);
            let (p50, p95, max) = (pct(&times, 0.5), pct(&times, 0.95), pct(&times, 1.0));
            let verdict = if !is_dash {
                ""
            } else if p95 < 300.0 {
                "ok"
            } else {
                misses.push(name.clone());
                "MISS (>= 300 ms)"
            };
            println!("{name:<52} {p50:>8.1} {p95:>8.1} {max:>8.1}  {verdict}");
        }
    }
    if s.explain {
        let (talkers, flows) = (Rollup::Talker.hour(), tables::FLOWS);
        let other = Rollup::Talker.is_other();
        for sql in [
            format!(
                "SELECT addr, sum(bytes) FROM {talkers} WHERE bucket >= now() - interval '7 days' AND side = 0 \
                 AND NOT ({other}) GROUP BY addr ORDER BY 2 DESC LIMIT 10"
            ),
            format!(
                "SELECT addr, sum(bytes) FROM {talkers} WHERE bucket >= now() - interval '7 days' AND side = 1 \
                 AND exporter <<= '10.255.0.1'::inet AND NOT ({other}) GROUP BY addr ORDER BY 2 DESC LIMIT 10"
            ),
            format!(
                "SELECT time_received, src_addr FROM {flows} WHERE time_received >= now() - interval '1 hour' \
                 AND src_addr <<= '100.64.0.0/16'::inet ORDER BY time_received DESC LIMIT 100"
            ),
        ]
        .into_iter()
        .chain(
            // A 1-hour host search's three slices as flow search sends them (the view,
            // the scope, the address bloom index's condition).
            [(5, 0), (25, 5), (60, 25)].map(|(from, to)| {
                format!(
                    "SELECT time_received, src_addr FROM {} WHERE time_received >= now() - interval '{from} minutes' \
                     AND time_received < now() - interval '{to} minutes' \
                     AND exporter <<= ANY('{{0.0.0.0/0,::/0}}'::text[]::inet[]) \
                     AND ((src_addr = '198.18.1.7'::inet AND src_addr IS NOT NULL) \
                     OR (dst_addr = '198.18.1.7'::inet AND dst_addr IS NOT NULL)) ORDER BY time_received DESC LIMIT 100",
                    tables::FLOWS_SEARCHABLE
                )
            }),
        ) {
            db.batch_execute("SET jit = off")?; // as the console's connections
            for r in db.query(&format!("EXPLAIN (ANALYZE, BUFFERS) {sql}"), &[])? {
                println!("{}", r.get::<_, String>(0));
            }
        }
    }
    if s.skip_dashboards {
        println!("\ndashboards skipped (--skip-dashboards)");
    } else if misses.is_empty() {
        println!("\nevery dashboard query under 300 ms p95");
    } else {
        println!("\n{} dashboard queries at or above 300 ms p95: {}", misses.len(), misses.join(", "));
    }
    Ok(())
}
