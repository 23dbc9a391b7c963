//! Statistics benchmark: p50/p95 latency of `/api/v1/stats` (nfdump -s over raw flows:
//! top 10 source addresses by bytes, with a few filters) over 1 hour and 24 hours of
//! raw flows, over HTTP against the running `flowvision-web` binary.
//!
//! A throwaway PostgreSQL is migrated by the web binary and filled with SQL
//! (`generate_series`, time-ordered as the collector appends) with `--flows` rows
//! spread evenly over the last `--hours` hours; then each query is timed
//! `--iterations` times after one warm-up. Statistics read every raw row of the
//! window that passes the time test (the BRIN index prunes other hours), so their
//! latency is bounded by the rows in the window: see docs/benchmarks.md.
//!
//! `cargo build -p flowvision-web && cargo run --release -p flowvision-bench --bin stats`
//! Options: `--flows N` [3000000], `--hours H` [24], `--iterations N` [7],
//! `--timeout-ms MS` [WEB_SEARCH_TIMEOUT_MS given to the console, 60000].
//! The web binary: `FLOWVISION_WEB_BIN`, else `target/release/flowvision-web`, else
//! `target/debug/flowvision-web`.

use anyhow::{bail, Context, Result};
use clap::Parser;
use flowvision_collector::store::partitions::{partition_name, Family, Span, TABLES as PARTITIONED};
use flowvision_schema::tables;
use flowvision_tests::pg::PgCluster;
use std::time::Instant;

const ADMIN: &str = "admin";
const ADMIN_PW: &str = "stats-benchmark-password";

/// Statistics benchmark: `/api/v1/stats` latency over raw flows.
#[derive(Debug, Parser)]
#[command(name = "stats")]
struct Scale {
    /// Raw flow rows.
    #[arg(long, value_name = "N", default_value_t = 3_000_000)]
    flows: i64,
    /// Hours they span (up to now).
    #[arg(long, value_name = "H", default_value_t = 24)]
    hours: i64,
    /// Timed requests per query (after one warm-up).
    #[arg(long, value_name = "N", default_value_t = 7)]
    iterations: usize,
    /// The console's statistics time limit (WEB_SEARCH_TIMEOUT_MS).
    #[arg(long = "timeout-ms", value_name = "MS", default_value_t = 60_000)]
    timeout_ms: u64,
}

/// Raw flows in time order, as dashboards.rs generates them: 20 exporters, 2^20
/// source addresses drawn through a bijection, 8 services, Zipf-free uniform bytes.
fn generate(db: &mut postgres::Client, s: &Scale) -> Result<()> {
    let t = Instant::now();
    db.batch_execute("SET synchronous_commit = off; SET maintenance_work_mem = '512MB'")?;
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis() as i64;
    let hour = flowvision_schema::HOUR_MS;
    let mut ddl = String::new();
    for &(parent, family) in PARTITIONED.iter().filter(|(_, f)| matches!(f, Family::Flows)) {
        let _ = family;
        let mut lo = Span::Hour.start(now_ms - (s.hours + 1) * hour);
        while lo <= now_ms + hour {
            let hi = lo + Span::Hour.len_ms();
            ddl.push_str(&format!(
                "CREATE TABLE IF NOT EXISTS {} PARTITION OF {parent} \
                 FOR VALUES FROM (to_timestamp({lo} / 1000.0)) TO (to_timestamp({hi} / 1000.0));\n",
                partition_name(parent, Span::Hour, lo)
            ));
            lo = hi;
        }
    }
    db.batch_execute(&ddl)?;
    let ts = format!(
        "now() - interval '{h} hours' + (i::double precision / {n}) * interval '{h} hours'",
        n = s.flows,
        h = s.hours
    );
    let sql = flowvision_bench::workload::generated_flows_sql(tables::FLOWS, u64::try_from(s.flows)?, &ts);
    let n = db.execute(&sql, &[])?;
    db.batch_execute("VACUUM ANALYZE")?;
    println!("  {n} flows over {} h generated and analyzed in {:.0} s", s.hours, t.elapsed().as_secs_f64());
    Ok(())
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i.min(sorted.len() - 1)).copied().unwrap_or(f64::NAN)
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn main() -> Result<()> {
    let s = Scale::parse();
    let pg = PgCluster::start().context("starting PostgreSQL")?;
    let console = flowvision_bench::console::Console::start(
        pg.url(),
        ADMIN,
        ADMIN_PW,
        &[("WEB_SEARCH_TIMEOUT_MS", s.timeout_ms.to_string())],
    )?;
    let port = console.port;
    let mut db = pg.connect()?;
    println!(
        "data set: {} flows over {} h ({:.0} per hour)",
        s.flows,
        s.hours,
        s.flows as f64 / s.hours as f64
    );
    generate(&mut db, &s)?;
    let session = flowvision_bench::console::login(port, ADMIN, ADMIN_PW)?;
    let cookie = format!("fv_session={session}");
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis() as i64;
    let filters = [
        ("no filter", ""),
        ("proto tcp and dst port 443", "proto tcp and dst port 443"),
        ("src net 100.64.0.0/16 and bytes > 10k", "src net 100.64.0.0/16 and bytes > 10k"),
        ("not exporter 10.255.0.1", "not exporter 10.255.0.1"),
    ];
    println!("\ntop 10 srcip by bytes, {} iterations each (after one warm-up), ms:", s.iterations);
    println!("{:<60} {:>9} {:>9} {:>9} {:>10}", "query", "p50", "p95", "max", "rows read");
    for hours in [1i64, 24] {
        let from = now_ms - hours * 3_600_000;
        let in_window: i64 = db
            .query_one(
                &format!(
                    "SELECT count(*) FROM {} WHERE time_received >= to_timestamp($1::float8 / 1000)",
                    tables::FLOWS
                ),
                &[&(from as f64)],
            )?
            .get(0);
        for (name, f) in filters {
            let path = format!(
                "/api/v1/stats?key=srcip&order=bytes&limit=10&from={from}&to={}{}",
                now_ms + 60_000,
                if f.is_empty() { String::new() } else { format!("&filter={}", enc(f)) }
            );
            let flowvision_tests::http::Response { status, body, .. } =
                flowvision_tests::http::request(port, "GET", &path, &cookie, "")?;
            if status != 200 {
                println!(
                    "{:<60} HTTP {status}: {}",
                    format!("{hours} h, {name}"),
                    body.chars().take(120).collect::<String>()
                );
                continue;
            }
            let mut times = Vec::with_capacity(s.iterations);
            for _ in 0..s.iterations {
                let t = Instant::now();
                let status = flowvision_tests::http::request(port, "GET", &path, &cookie, "")?.status;
                times.push(t.elapsed().as_secs_f64() * 1000.0);
                if status != 200 {
                    bail!("{path}: HTTP {status}");
                }
            }
            times.sort_by(f64::total_cmp);
            println!(
                "{:<60} {:>9.1} {:>9.1} {:>9.1} {:>10}",
                format!("{hours} h, {name}"),
                pct(&times, 0.5),
                pct(&times, 0.95),
                pct(&times, 1.0),
                in_window
            );
        }
    }
    Ok(())
}
