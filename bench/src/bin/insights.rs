//! Insights quality: labelled simulator scenarios through the codec's decoder, the
//! collector's store (whose writers compute the host features in each batch's
//! transaction) and a throwaway PostgreSQL, then the console's detectors over the
//! stored range (`flowvision_web::insights::detect_range`, what the live engine and
//! `flowvision-web insights backtest` run), matched against the simulator's labels.
//!
//! Time is the simulator's: each datagram is decoded at its simulated time, which is
//! also its reception time in the store, so a week of traffic runs in minutes. (Over
//! UDP the collector would stamp wall-clock reception times on week-old flows; the
//! live path is what web/tests/insights_exporters.rs and the browser test cover.)
//!
//! Two kinds of run, each on its own PostgreSQL:
//! - **attack runs**, one per seed (`--seeds`, default 101-105: not the seeds of the
//!   tests): `--attack-hours` of diurnal background from mixed exporters with one
//!   anomaly of each simulated kind, at staggered times on different exporters,
//!   starting on a clock hour the seed chooses (the first attacks fall in the
//!   exporters' first hour, as on a freshly installed appliance);
//! - **a week run** (`--clean-days`, 7, ending at the last midnight UTC): background with the simulator's benign bursts
//!   (a nightly backup, a daily speed test and bulk download, a new popular service
//!   on the third day) and, once the exporters have days of history, the two events
//!   only a seasonal baseline finds: an uplink that fails over to its neighbour on the
//!   fifth day and an exporter whose export stops for 45 minutes on the sixth
//!   (`link_failure`, `export_outage`, both for `traffic_anomaly`). Every insight that
//!   matches neither is a false positive, reported per 1,000 internal hosts per day.
//!
//! Attack runs carry one benign burst of each kind too. An insight about a benign
//! burst (one of its hosts, overlapping its window) is reported on its own line:
//! the goal is none.
//!
//! Matching (issue 13): an insight matches a label when its kind is of the label's
//! family (floods and reflection; scans and sweeps; the others by name), one of its
//! addresses is the label's (a victim, or a source, or inside the label's prefixes),
//! and its span overlaps the label's window (plus 60 s for flows still in exporter
//! caches). Recall per label kind, precision per insight kind. Delay: from the label's
//! start (no attack flow exists before it) to the end of the first window that fired,
//! plus the engine's 5 s round.
//!
//! The host anomaly model (docs/models.md) runs too unless `--no-model`: in each attack
//! run trained on the run's own range and scored over all of it (which labels have a
//! `host_anomaly` insight about them, and how many of its insights are about an
//! attack); in the clean run trained on the first five days and scored over the last
//! two (false positives per 1,000 hosts per day); its CPU time per 1M flows; and the
//! console's memory (`flowvision-web` served against the clean run's database, libtorch
//! and both models loaded, the anomaly model trained in its first round).
//!
//! `cargo run --release -p flowvision-bench --bin insights -- [--seeds 101,102] [--attack-hours 2] [--clean-days 7] [--no-model] [--web-binary PATH] [--json FILE]`

use anyhow::{bail, Context, Result};
use clap::Parser;
use flowvision_codec::offline::OfflineDecoder;
use flowvision_codec::prefix::Prefix;
use flowvision_codec::{DecodeOutput, Protocol, TemplateCacheConfig};
use flowvision_collector::store::{Batch, BatchId, FlowRow, Store, StoreConfig, StoreStats};
use flowvision_insights::detect::Thresholds;
use flowvision_insights::Insight;
use flowvision_sim::{Datagram, Label, Scenario, SimError, Simulation};
use flowvision_tests::pg::PgCluster;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Insights quality against the simulator's labels (precision, recall, delay, false
/// positives per 1,000 hosts per day).
#[derive(Debug, Parser)]
#[command(name = "insights")]
struct Args {
    /// Seeds of the attack runs (not those the tests or the tuning used).
    #[arg(long, value_delimiter = ',', default_value = "101,102,103,104,105")]
    seeds: Vec<u64>,
    /// Simulated hours of each attack run.
    #[arg(long, default_value_t = 2)]
    attack_hours: u32,
    /// Background flows/s (simulated time, at the diurnal peak) of the attack runs.
    #[arg(long, default_value_t = 300.0)]
    attack_rate: f64,
    /// Simulated days of the clean run (0: none).
    #[arg(long, default_value_t = 7)]
    clean_days: u32,
    /// Background flows/s of the clean run.
    #[arg(long, default_value_t = 20.0)]
    clean_rate: f64,
    /// Seed of the clean run (7007 was used in tuning).
    #[arg(long, default_value_t = 7_007)]
    clean_seed: u64,
    /// Internal hosts of the simulated network.
    #[arg(long, default_value_t = 1000)]
    hosts: u32,
    /// Also write the results as JSON here.
    #[arg(long)]
    json: Option<std::path::PathBuf>,
    /// Leave out the host anomaly model (trained on each run's own history).
    #[arg(long)]
    no_model: bool,
    /// Also run the console's live engine as the attack runs' flows are stored: a round
    /// every 5 s of flow time over the rows stored by then, as the engine runs it, and
    /// report its CPU per 1M flows beside the backtest's.
    #[arg(long)]
    live: bool,
    /// The console binary whose memory is measured against the clean run's database
    /// (models loaded, the anomaly model trained) [flowvision-web beside this binary,
    /// if built].
    #[arg(long)]
    web_binary: Option<std::path::PathBuf>,
    /// Evaluate the five-minute windows at ends on multiples of this many seconds
    /// (`long_window_step_secs`) [the default thresholds'].
    #[arg(long)]
    long_window_step: Option<i64>,
    /// The rules' thresholds from this JSON file, as the console's configuration gives
    /// them (fields left out keep their defaults) [the defaults].
    #[arg(long, value_name = "FILE")]
    thresholds: Option<std::path::PathBuf>,
}

const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 86_400_000;
/// Flows still in exporter caches after an anomaly's window are stored later.
const LABEL_SLACK_MS: i64 = 60_000;
/// The live engine runs every 5 s: a window closed just after a round waits for the next.
const ENGINE_ROUND_MS: i64 = 5_000;

/// The exporters of every run: unsampled NetFlow v9 and IPFIX, sampled NetFlow v5 and
/// sFlow, as a mid-size network has them. The sampled ones export what a packet
/// sampler sees of the simulated traffic (`sample_packets`), so their corrected
/// counters estimate the same traffic an unsampled exporter would show.
const EXPORTERS: &str = r#"
[[exporters]]
protocol = "netflow_v9"
count = 2
[[exporters]]
protocol = "ipfix"
count = 2
[[exporters]]
protocol = "netflow_v5"
count = 1
sampling_rate = 10
sample_packets = true
[[exporters]]
protocol = "sflow_v5"
count = 1
sampling_rate = 64
sample_packets = true
"#;
const EXPORTER_COUNT: usize = 6;

/// Where a seed's attack run starts: on a clock hour (the exporters are new, with no
/// previous hour, as on a freshly installed appliance), at an hour of the day the seed
/// chooses, so the seeds meet the diurnal background at different levels and a run
/// gives the same result whenever it is started. Within the two days before `now_ms`.
fn attack_start(now_ms: i64, seed: u64) -> i64 {
    let hour = i64::try_from(seed.wrapping_mul(7) % 24).unwrap_or(0);
    now_ms.div_euclid(DAY_MS) * DAY_MS - 2 * DAY_MS + hour * HOUR_MS
}

fn scenario(start_ms: i64, seed: u64, rate: f64, hours: f64, hosts: u32, anomalies: &str) -> String {
    format!(
        "start = \"{start_ms}\"\nspeedup = 1\nseed = {seed}\nrate = {rate}\nduration = \"{}s\"\n\
         [traffic]\ninternal_hosts = {hosts}\n{EXPORTERS}\n{anomalies}",
        (hours * 3600.0) as i64
    )
}

/// One anomaly of each kind, staggered, each on another exporter (rotated by seed).
fn attacks(seed: u64, hours: u32) -> String {
    let kinds = [
        ("syn_flood", "10m", "3m", ""),
        ("udp_amplification", "25m", "3m", ""),
        ("port_scan", "40m", "5m", ""),
        ("host_sweep", "55m", "5m", ""),
        ("exfiltration", "70m", "10m", ""),
        ("beaconing", "5m", "", "period = \"60s\"\n"),
        ("speed_test", "15m", "30s", ""),
        ("bulk_download", "30m", "10m", ""),
        ("backup", "45m", "20m", ""),
        ("new_service", "85m", "10m", ""),
    ];
    let mut out = String::new();
    for (i, (kind, start, duration, extra)) in kinds.iter().enumerate() {
        let exporter = (i + seed as usize) % EXPORTER_COUNT;
        let duration =
            if duration.is_empty() { format!("{}m", hours * 60 - 10) } else { (*duration).to_string() };
        out.push_str(&format!(
            "[[anomalies]]\nkind = \"{kind}\"\nstart = \"{start}\"\nduration = \"{duration}\"\nexporter = {exporter}\n{extra}"
        ));
    }
    out
}

/// The week run's events: every night a backup, every day a speed test and a bulk
/// download, a service that becomes popular on the third day and stays (all benign);
/// on the fifth day uplink 1 of a NetFlow v9 exporter fails for an hour (its traffic
/// takes uplink 2), on the sixth the sampled NetFlow v5 exporter's export stops for 45
/// minutes (both for `traffic_anomaly`, which needs 3 days of history).
fn week_events(days: u32) -> String {
    let mut out = String::new();
    let mut push = |kind: &str, start_h: f64, duration: &str, exporter: u32| {
        out.push_str(&format!(
            "[[anomalies]]\nkind = \"{kind}\"\nstart = \"{}s\"\nduration = \"{duration}\"\nexporter = {}\n",
            (start_h * 3600.0) as i64,
            exporter as usize % EXPORTER_COUNT
        ));
    };
    if days >= 5 {
        push("link_failure", 4.0 * 24.0 + 10.0, "1h", 1);
    }
    if days >= 6 {
        push("export_outage", 5.0 * 24.0 + 14.0, "45m", 4);
    }
    for d in 0..days {
        let day = f64::from(d) * 24.0;
        push("backup", day + 2.0, "1h", d);
        push("speed_test", day + 12.5, "30s", d + 1);
        push("bulk_download", day + 20.0, "15m", d + 2);
    }
    if days >= 3 {
        push("new_service", 2.0 * 24.0 + 9.0, &format!("{}h", (days - 2) * 24 - 9), 3);
    }
    out
}

/// A run's outcome: the simulator's labels and what the detectors reported.
struct RunResult {
    labels: Vec<Label>,
    insights: Vec<Insight>,
    flows: u64,
    range: (i64, i64),
    detect_cpu_s: f64,
    /// The live engine's replay, when asked for.
    live: Option<LiveRun>,
    model: Option<ModelRun>,
    /// The run's database, kept until the caller is done with it.
    pg: PgCluster,
}

/// What the live engine's replay cost and whether it found what the backtest did.
struct LiveRun {
    cpu_s: f64,
    same: bool,
}

/// What the host anomaly model did in a run.
struct ModelRun {
    /// `host_anomaly` insights over the scored minutes, folded like the engine's.
    insights: Vec<Insight>,
    /// `model:host_anomaly@N`, or none when the history was too short.
    detector: Option<String>,
    train_cpu_s: f64,
    score_cpu_s: f64,
    /// The scored range, ms.
    scored: (i64, i64),
}

fn cpu_seconds() -> f64 {
    cpu_seconds_of(nix::sys::resource::UsageWho::RUSAGE_SELF)
}

/// This thread's CPU: the live rounds run on it, while the store writes on its own.
fn thread_cpu_seconds() -> f64 {
    cpu_seconds_of(nix::sys::resource::UsageWho::RUSAGE_THREAD)
}

fn cpu_seconds_of(who: nix::sys::resource::UsageWho) -> f64 {
    let usage = nix::sys::resource::getrusage(who);
    usage.map_or(0.0, |u| {
        let t = |tv: nix::sys::time::TimeVal| tv.tv_sec() as f64 + tv.tv_usec() as f64 / 1e6;
        t(u.user_time()) + t(u.system_time())
    })
}

/// Simulates `toml`, decodes every datagram at its simulated time, stores the flows
/// through the collector's store, then runs the detectors over the stored range.
fn run(
    name: &str,
    toml: &str,
    thresholds: &Thresholds,
    model_history: Option<f64>,
    live: bool,
) -> Result<RunResult> {
    let started = Instant::now();
    let pg = PgCluster::start().map_err(|e| anyhow::anyhow!("PostgreSQL: {e}"))?;
    let spool = tempfile::tempdir()?;
    let mut cfg = StoreConfig::new(pg.url(), spool.path());
    // The clean run reaches a week back: keep all of it.
    cfg.retention_days = 30;
    cfg.rollup_1m_retention_days = 30;
    cfg.connect_timeout = Duration::from_secs(10);
    let stats = Arc::new(StoreStats::default());
    let (store, tx) = Store::start(cfg, Arc::clone(&stats)).context("store")?;
    let web = flowvision_web::config::WebConfig::new(pg.url());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let db =
        rt.block_on(async { flowvision_web::data::Db::new(&web) }).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut engine = live.then(LiveEngine::default);

    let scenario = Scenario::from_toml(toml, name)?;
    let plan = scenario.resolve(flowvision_collector::clock::now_ms(), 1)?;
    let mut sim = Simulation::new(plan)?;
    let mut decoder = OfflineDecoder::new(TemplateCacheConfig::default());
    let mut out = DecodeOutput::default();
    let instance = flowvision_collector::store::new_instance_id();
    let mut seq = 0u64;
    let mut rows: Vec<FlowRow> = Vec::with_capacity(8192);
    let (mut sent, mut first_ms, mut last_ms, mut undecodable) = (0u64, i64::MAX, i64::MIN, 0u64);
    {
        let mut sink = |d: &Datagram<'_>| -> Result<(), SimError> {
            let at_ms = d.sim_ns / 1_000_000;
            out.clear();
            if decoder.decode(d.src.ip(), d.payload, at_ms, &mut out).is_err() {
                undecodable += 1;
            }
            for record in out.records.drain(..) {
                rows.push(FlowRow { time_received_ms: at_ms, record });
            }
            first_ms = first_ms.min(at_ms);
            last_ms = last_ms.max(at_ms);
            // A live round is due: what was exported by now is stored first, as the
            // collector would have stored it by the time the engine looks.
            let round_due = engine.as_ref().is_some_and(|e| at_ms >= e.next_round_ms);
            if rows.len() >= 8192 || (round_due && !rows.is_empty()) {
                sent += rows.len() as u64;
                let batch = Batch { id: BatchId { instance, seq }, rows: std::mem::take(&mut rows) };
                seq += 1;
                tx.send(batch).map_err(|_| SimError::Invalid("the store stopped".into()))?;
            }
            if let (true, Some(e)) = (round_due, engine.as_mut()) {
                wait_stored(&stats, sent).map_err(|e| SimError::Invalid(format!("{e:#}")))?;
                e.round(&rt, &db, thresholds, at_ms).map_err(|e| SimError::Invalid(format!("{e:#}")))?;
            }
            Ok(())
        };
        sim.run(&mut sink)?;
    }
    if !rows.is_empty() {
        sent += rows.len() as u64;
        tx.send(Batch { id: BatchId { instance, seq }, rows: std::mem::take(&mut rows) })
            .map_err(|_| anyhow::anyhow!("the store stopped"))?;
    }
    wait_stored(&stats, sent).with_context(|| name.to_string())?;
    // The rounds after the last export, until its windows are past the lookback.
    if let Some(e) = engine.as_mut() {
        while e.next_round_ms <= last_ms + 2 * MINUTE_MS {
            let at = e.next_round_ms;
            e.round(&rt, &db, thresholds, at)?;
        }
    }
    drop(tx);
    store.shutdown().context("store shutdown")?;
    if undecodable > 0 {
        bail!("{name}: {undecodable} simulated datagrams did not decode");
    }
    let labels = sim.labels();
    let stored_s = started.elapsed().as_secs_f64();

    // The detectors over everything stored, as the backtest runs them.
    let cpu0 = cpu_seconds();
    let range = (first_ms - MINUTE_MS, last_ms + 2 * MINUTE_MS);
    let insights = rt.block_on(async {
        flowvision_web::insights::detect_range(&db, thresholds, range.0, range.1)
            .await
            .map_err(|e| anyhow::anyhow!("detectors: {e}"))
    })?;
    let detect_cpu_s = cpu_seconds() - cpu0;
    println!(
        "  {name}: {sent} flows over {:.1} h stored in {stored_s:.0} s; {} labels, {} insights (detectors {detect_cpu_s:.1} CPU-s)",
        (last_ms - first_ms) as f64 / HOUR_MS as f64,
        labels.len(),
        insights.len()
    );
    let live = engine.map(|e| {
        let found = e.timeline.into_insights();
        let same = found.len() == insights.len()
            && found.iter().all(|i| insights.iter().any(|b| same_insight(i, b)));
        println!(
            "  {name}: live engine {} rounds in {:.1} CPU-s, {} insights ({})",
            e.rounds,
            e.cpu_s,
            found.len(),
            if same { "the backtest's" } else { "not the backtest's" }
        );
        LiveRun { cpu_s: e.cpu_s, same }
    });
    let model = match model_history {
        Some(share) => Some(model_run(name, &rt, &web, range, share)?),
        None => None,
    };
    Ok(RunResult { labels, insights, flows: sent, range, detect_cpu_s, live, model, pg })
}

/// Waits until the store holds `sent` rows.
fn wait_stored(stats: &StoreStats, sent: u64) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(1800);
    while stats.rows_stored.load(Ordering::Relaxed) < sent {
        if Instant::now() > deadline {
            bail!("{} of {sent} rows stored after 30 min", stats.rows_stored.load(Ordering::Relaxed));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    Ok(())
}

/// The console's live engine replayed on flow time: a round every
/// [`flowvision_web::insights::ROUND`] over what was stored by then, its detections
/// folded as the engine's store extends them.
#[derive(Default)]
struct LiveEngine {
    kept: flowvision_web::insights::KeptRows,
    /// Flow time of the next round (the first is at the first datagram).
    next_round_ms: i64,
    rounds: u64,
    cpu_s: f64,
    timeline: flowvision_insights::Timeline,
}

impl LiveEngine {
    fn round(
        &mut self,
        rt: &tokio::runtime::Runtime,
        db: &flowvision_web::data::Db,
        t: &Thresholds,
        now_ms: i64,
    ) -> Result<()> {
        let step = flowvision_web::insights::ROUND.as_millis() as i64;
        let c0 = thread_cpu_seconds();
        let found = rt
            .block_on(flowvision_web::insights::live_round(db, t, &mut self.kept, now_ms))
            .map_err(|e| anyhow::anyhow!("live round: {e}"))?;
        self.cpu_s += thread_cpu_seconds() - c0;
        self.rounds += 1;
        for i in found {
            self.timeline.absorb(i);
        }
        self.next_round_ms = now_ms.div_euclid(step) * step + step;
        Ok(())
    }
}

/// The same detection: kind, exporter, interface, addresses and time.
fn same_insight(a: &Insight, b: &Insight) -> bool {
    (a.kind, a.exporter, a.interface, a.source, a.target, a.start_ms, a.end_ms)
        == (b.kind, b.exporter, b.interface, b.source, b.target, b.start_ms, b.end_ms)
}

/// The family of a label kind or insight kind (what may match what).
/// The host anomaly model over a run, as the console's engine runs it: trained on the
/// first `share` of the stored range (the appliance's history), then every minute after
/// it scored (every minute of the run when `share` is 1: trained on all of it, attacks
/// included, as an appliance's model is).
fn model_run(
    name: &str,
    rt: &tokio::runtime::Runtime,
    web: &flowvision_web::config::WebConfig,
    range: (i64, i64),
    share: f64,
) -> Result<ModelRun> {
    use flowvision_web::anomaly::{score_minute, train, AnomalyConfig};
    let models = Arc::new(flowvision_web::models::ModelService::load(&web.models_dir));
    let db = rt.block_on(async { flowvision_web::data::Db::new(web) }).map_err(|e| anyhow::anyhow!("{e}"))?;
    let start = range.0 / MINUTE_MS * MINUTE_MS;
    let train_end = start + (((range.1 - start) as f64 * share) as i64) / MINUTE_MS * MINUTE_MS;
    // The simulated network's own space (its defaults; the IPv6 one is not a private
    // range), which an operator would give as INTERNAL_NETWORKS.
    let sim = flowvision_sim::scenario::TrafficConfig::default();
    let own: Vec<String> = sim.internal_v4.iter().cloned().chain(sim.internal_v6).collect();
    let hosts = flowvision_insights::features::InternalNetworks::parse(&own.join(","))
        .map_err(|e| anyhow::anyhow!("the simulator's networks: {e}"))?;
    let cfg = AnomalyConfig { history_ms: train_end - start + MINUTE_MS, hosts, ..AnomalyConfig::default() };
    let c0 = cpu_seconds();
    rt.block_on(train(&db, &models, &cfg, train_end + cfg.lag_ms))
        .map_err(|e| anyhow::anyhow!("training: {e}"))?;
    let train_cpu_s = cpu_seconds() - c0;
    let detector = models.anomaly_status().detector;
    let scored = (if share >= 1.0 { start } else { train_end }, range.1 / MINUTE_MS * MINUTE_MS);
    let c1 = cpu_seconds();
    let mut timeline = flowvision_insights::Timeline::default();
    let mut minute = scored.0;
    while minute < scored.1 {
        for i in rt
            .block_on(score_minute(&db, &models, &cfg, minute))
            .map_err(|e| anyhow::anyhow!("scoring: {e}"))?
        {
            timeline.absorb(i);
        }
        minute += MINUTE_MS;
    }
    let score_cpu_s = cpu_seconds() - c1;
    let insights = timeline.into_insights();
    println!(
        "  {name}: host anomaly model {} (training {train_cpu_s:.1} CPU-s), {} minutes scored in {score_cpu_s:.1} CPU-s, {} host_anomaly insights",
        detector.as_deref().unwrap_or("not trained: too little history"),
        (scored.1 - scored.0) / MINUTE_MS,
        insights.len()
    );
    Ok(ModelRun { insights, detector, train_cpu_s, score_cpu_s, scored })
}

/// The console's resident memory with libtorch and both models loaded: `binary`
/// served against `url` (whose feature rows it trains the anomaly model on in its
/// first engine round), sampled every half second for 60 s. (peak, last) in MB.
fn web_rss(binary: &std::path::Path, url: &str) -> Result<(f64, f64)> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let mut child = std::process::Command::new(binary)
        .env("DATABASE_URL", url)
        .env("WEB_LISTEN", format!("127.0.0.1:{port}"))
        .env("FLOWVISION_ADMIN_PASSWORD", "bench-admin-password-1")
        .env("WEB_LOG", "critical")
        .stdout(std::process::Stdio::null())
        .spawn()
        .with_context(|| format!("starting {}", binary.display()))?;
    let rss = |pid: u32| -> f64 {
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|s| s.lines().find(|l| l.starts_with("VmRSS:")).map(str::to_owned))
            .and_then(|l| l.split_whitespace().nth(1).and_then(|kb| kb.parse::<f64>().ok()))
            .map_or(0.0, |kb| kb / 1024.0)
    };
    let (mut peak, mut last) = (0.0f64, 0.0f64);
    for _ in 0..120 {
        std::thread::sleep(Duration::from_millis(500));
        if let Some(status) = child.try_wait()? {
            bail!("{} exited: {status}", binary.display());
        }
        last = rss(child.id());
        peak = peak.max(last);
    }
    let _ = child.kill();
    let _ = child.wait();
    Ok((peak, last))
}

fn family(kind: &str) -> &str {
    match kind {
        "syn_flood" | "udp_flood" | "icmp_flood" | "udp_amplification" => "flood",
        "port_scan" | "host_sweep" => "recon",
        "traffic_anomaly" | "export_outage" | "link_failure" => "traffic",
        other => other,
    }
}

fn label_kind(l: &Label) -> String {
    serde_json::to_value(l.kind).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

/// Whether `a` is one of the label's hosts or inside its prefixes.
fn involves(l: &Label, a: IpAddr) -> bool {
    let i = &l.involved;
    let in_prefixes =
        |list: &[String]| list.iter().any(|p| p.parse::<Prefix>().is_ok_and(|p: Prefix| p.contains(a)));
    i.victims.contains(&a)
        || i.sources.contains(&a)
        || in_prefixes(&i.victim_prefixes)
        || in_prefixes(&i.source_prefixes)
}

/// Whether the insight is about the label's hosts during its window, whatever its kind;
/// for an event of the exporter itself (an outage, a failed link), whether it is about
/// that exporter and no host.
fn about(i: &Insight, l: &Label) -> bool {
    let overlaps = i.start_ms < l.end_ms + LABEL_SLACK_MS && i.end_ms > l.start_ms;
    if family(&label_kind(l)) == "traffic" {
        return overlaps && i.exporter == l.exporter && i.source.is_none() && i.target.is_none();
    }
    overlaps && i.source.into_iter().chain(i.target).any(|a| involves(l, a))
}

/// The insights about benign bursts, as report lines.
fn benign_reported(run: &str, r: &RunResult) -> Vec<String> {
    let mut out = Vec::new();
    for l in r.labels.iter().filter(|l| l.benign) {
        // An insight that matches an attack's label is that attack's, whoever else it
        // touches: seed 118's port scan probed the host whose backup started during it.
        let explained = |i: &Insight| r.labels.iter().any(|a| matches(i, a));
        for i in r.insights.iter().filter(|i| about(i, l) && !explained(i)) {
            out.push(format!(
                "{run}: benign {} on {} at {} reported as {} (source {:?}, target {:?})",
                label_kind(l),
                l.exporter,
                l.start,
                i.kind.as_str(),
                i.source,
                i.target
            ));
        }
    }
    out
}

fn matches(i: &Insight, l: &Label) -> bool {
    !l.benign && family(i.kind.as_str()) == family(&label_kind(l)) && about(i, l)
}

/// When an insight first fired: the end of its first window, or for `beaconing`
/// (whose start is the first contact) the contact that reached the rule's count, or for
/// `traffic_anomaly` (whose window ends `traffic_lag_secs` before the check) the check.
/// On a `sampled` exporter a scan's insight may start where the scan rules' longer
/// window did (`scan_sampled_window_secs`), so its first window is taken to be that one.
fn fired_ms(i: &Insight, t: &Thresholds, sampled: bool) -> i64 {
    if family(i.kind.as_str()) == "traffic" {
        return i.start_ms + t.traffic_window_secs.max(60) * 1000 + t.traffic_lag_secs.max(0) * 1000;
    }
    if i.kind.as_str() == "beaconing" {
        let period_s = i.why.observed.iter().find(|o| o.feature == "period_s").map_or(0.0, |o| o.value);
        let contacts = (t.beacon_min_contacts - 1.0).max(0.0);
        return i.start_ms + (contacts * period_s * 1000.0) as i64 + flowvision_insights::BUCKET_MS;
    }
    let window = window_ms(i.kind.as_str(), t);
    if sampled && family(i.kind.as_str()) == "recon" {
        return i.start_ms + window.max(t.scan_sampled_window_secs * 1000);
    }
    i.start_ms + window
}

/// The length of the window a kind is detected over, ms.
fn window_ms(kind: &str, t: &Thresholds) -> i64 {
    match family(kind) {
        "recon" => t.scan_window_secs * 1000,
        "exfiltration" => t.exfiltration_window_secs * 1000,
        _ => t.flood_window_secs * 1000,
    }
}

#[derive(Debug, Default, Clone, serde::Serialize)]
struct KindScore {
    labels: u64,
    found: u64,
    /// Of those, on the sampled exporters (NetFlow v5 1:10, sFlow 1:64).
    sampled_labels: u64,
    sampled_found: u64,
    delays_ms: Vec<i64>,
}

#[derive(Debug, Default, Clone, serde::Serialize)]
struct Precision {
    insights: u64,
    matched: u64,
}

/// Recall and delay per kind of `r`'s attack labels; a label no insight found is a
/// line in `unmatched`.
fn score_labels(
    run: &str,
    r: &RunResult,
    t: &Thresholds,
    recall: &mut BTreeMap<String, KindScore>,
    unmatched: &mut Vec<String>,
) {
    for l in r.labels.iter().filter(|l| !l.benign) {
        let kind = label_kind(l);
        let score = recall.entry(kind.clone()).or_default();
        score.labels += 1;
        let sampled = matches!(l.protocol, Protocol::NetflowV5 | Protocol::SflowV5);
        score.sampled_labels += u64::from(sampled);
        let first = r.insights.iter().filter(|i| matches(i, l)).map(|i| fired_ms(i, t, sampled)).min();
        if let Some(fired) = first {
            score.found += 1;
            score.sampled_found += u64::from(sampled);
            let delay_ms = (fired - l.start_ms).max(0) + ENGINE_ROUND_MS;
            score.delays_ms.push(delay_ms);
            // Each found label's delay, so a percentile's outlier can be looked up.
            println!(
                "    {run}: {kind} on {} ({}) at {} found after {:.0} s ({})",
                l.exporter,
                l.protocol.as_str(),
                l.start,
                delay_ms as f64 / 1000.0,
                exported(l)
            );
        } else {
            unmatched.push(format!(
                "{run}: {kind} on {} ({}) at {} not found ({})",
                l.exporter,
                l.protocol.as_str(),
                l.start,
                exported(l)
            ));
        }
    }
}

/// What the export carried of a label's anomaly: its records as exported (behind a
/// packet sampler, only the flows with a sampled packet) over its window, and per
/// minute, which bounds what any flow-based detector can see in a minute.
fn exported(l: &Label) -> String {
    let minutes = ((l.end_ms - l.start_ms) as f64 / MINUTE_MS as f64).max(1.0 / 60.0);
    format!("{} records exported in {:.0} min, {:.1} a minute", l.flows, minutes, l.flows as f64 / minutes)
}

fn percentile(sorted: &[i64], p: f64) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(idx.min(sorted.len() - 1)).copied()
}

fn main() -> Result<()> {
    let args = Args::parse();
    // Checked now rather than after the runs, whose results would be lost.
    if let Some(b) = args.web_binary.as_ref().filter(|b| !b.is_file()) {
        bail!(
            "--web-binary {}: no such file (build it: cargo build --release -p flowvision-web)",
            b.display()
        );
    }
    let defaults = Thresholds::default();
    let base = match &args.thresholds {
        Some(path) => {
            let text =
                std::fs::read_to_string(path).with_context(|| format!("--thresholds {}", path.display()))?;
            serde_json::from_str::<Thresholds>(&text)
                .with_context(|| format!("--thresholds {}", path.display()))?
        }
        None => defaults.clone(),
    };
    let thresholds = Thresholds {
        long_window_step_secs: args.long_window_step.unwrap_or(base.long_window_step_secs),
        ..base
    };
    let now = flowvision_collector::clock::now_ms();
    println!(
        "insights evaluation: seeds {:?}, {} h attack runs at {} flows/s, clean run {} days at {} flows/s, {} internal hosts; {} thresholds",
        args.seeds,
        args.attack_hours,
        args.attack_rate,
        args.clean_days,
        args.clean_rate,
        args.hosts,
        if thresholds == defaults { "default" } else { "changed" }
    );
    let mut recall: BTreeMap<String, KindScore> = BTreeMap::new();
    let mut precision: BTreeMap<String, Precision> = BTreeMap::new();
    let (mut flows, mut detect_cpu) = (0u64, 0.0f64);
    let mut unmatched = Vec::new();
    let (mut benign_labels, mut benign_hits) = (0usize, Vec::new());
    // The host anomaly model: (train, score) CPU-s, flows of the runs it scored,
    // labels found per kind (labels, found), (insights, about an attack).
    let (mut model_cpu, mut model_flows) = ((0.0f64, 0.0f64), 0u64);
    let mut model_recall: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let mut model_precision = (0u64, 0u64);
    let mut model_clean = None;
    let mut rss = None;
    // The live engine's replay: (its CPU-s, the backtest's over the same runs, flows,
    // runs whose live insights differ from the backtest's).
    let mut live = (0.0f64, 0.0f64, 0u64, 0u64);
    for &seed in &args.seeds {
        let start = attack_start(now, seed);
        println!("  attacks seed {seed}: from {}", flowvision_codec::format_rfc3339_ms(start));
        let toml = scenario(
            start,
            seed,
            args.attack_rate,
            f64::from(args.attack_hours),
            args.hosts,
            &attacks(seed, args.attack_hours),
        );
        let model = if args.no_model { None } else { Some(1.0) };
        let r = run(&format!("attacks seed {seed}"), &toml, &thresholds, model, args.live)?;
        if let Some(m) = &r.model {
            model_cpu.0 += m.train_cpu_s;
            model_cpu.1 += m.score_cpu_s;
            model_flows += r.flows;
            for l in r.labels.iter() {
                let hit = m.insights.iter().any(|i| about(i, l));
                for i in m.insights.iter().filter(|i| about(i, l)) {
                    println!(
                        "    host_anomaly about {} {}: {}",
                        if l.benign { "benign" } else { "attack" },
                        label_kind(l),
                        i.why.summary
                    );
                }
                let e = model_recall
                    .entry(if l.benign { format!("benign {}", label_kind(l)) } else { label_kind(l) })
                    .or_default();
                e.0 += 1;
                e.1 += u64::from(hit);
            }
            for i in &m.insights {
                model_precision.0 += 1;
                if r.labels.iter().any(|l| !l.benign && about(i, l)) {
                    model_precision.1 += 1;
                } else if !r.labels.iter().any(|l| about(i, l)) {
                    unmatched.push(format!(
                        "seed {seed}: host_anomaly source {:?} target {:?} at {} matches no label: {}",
                        i.source, i.target, i.start_ms, i.why.summary
                    ));
                }
            }
        }
        flows += r.flows;
        detect_cpu += r.detect_cpu_s;
        if let Some(l) = &r.live {
            live.0 += l.cpu_s;
            live.1 += r.detect_cpu_s;
            live.2 += r.flows;
            live.3 += u64::from(!l.same);
        }
        benign_labels += r.labels.iter().filter(|l| l.benign).count();
        benign_hits.extend(benign_reported(&format!("seed {seed}"), &r));
        score_labels(&format!("seed {seed}"), &r, &thresholds, &mut recall, &mut unmatched);
        for i in &r.insights {
            let p = precision.entry(i.kind.as_str().to_string()).or_default();
            p.insights += 1;
            if r.labels.iter().any(|l| matches(i, l)) {
                p.matched += 1;
            } else {
                unmatched.push(format!(
                    "seed {seed}: insight {} on {} source {:?} target {:?} at {} matches no label: {}",
                    i.kind.as_str(),
                    i.exporter,
                    i.source,
                    i.target,
                    i.start_ms,
                    i.why.summary
                ));
            }
        }
    }

    let mut clean = None;
    if args.clean_days > 0 {
        // Ends at the last midnight (UTC), so every run simulates the same days.
        let start = now.div_euclid(DAY_MS) * DAY_MS - i64::from(args.clean_days) * DAY_MS;
        let toml = scenario(
            start,
            args.clean_seed,
            args.clean_rate,
            f64::from(args.clean_days) * 24.0,
            args.hosts,
            &week_events(args.clean_days),
        );
        // The model learns from the first five sevenths (five days of a week), the rest is
        // scored: what an appliance trained on last week would report this week.
        let model = if args.no_model { None } else { Some(5.0 / 7.0) };
        let r = run("clean", &toml, &thresholds, model, false)?;
        if let Some(m) = &r.model {
            let days = (m.scored.1 - m.scored.0) as f64 / DAY_MS as f64;
            let per_k = m.insights.len() as f64 / (f64::from(args.hosts) / 1000.0) / days.max(1e-9);
            let on_bursts = m.insights.iter().filter(|i| r.labels.iter().any(|l| about(i, l))).count();
            for i in &m.insights {
                println!(
                    "  clean-run host_anomaly: source {:?} target {:?} at {}: {}",
                    i.source, i.target, i.start_ms, i.why.summary
                );
            }
            model_clean = Some((m.insights.len(), days, per_k, on_bursts, m.detector.clone()));
        }
        let binary = args.web_binary.clone().or_else(|| {
            std::env::current_exe()
                .ok()
                .and_then(|e| e.parent().map(|d| d.join("flowvision-web")))
                .filter(|p| p.exists())
        });
        if let Some(b) = binary {
            rss = Some(web_rss(&b, r.pg.url())?);
            println!("  console memory: {:?}", rss);
        }
        benign_labels += r.labels.iter().filter(|l| l.benign).count();
        benign_hits.extend(benign_reported("clean", &r));
        flows += r.flows;
        detect_cpu += r.detect_cpu_s;
        // The outages' labels count like the attack runs'; every other insight is a
        // false positive (traffic_anomaly's precision is the week's).
        score_labels("week", &r, &thresholds, &mut recall, &mut unmatched);
        let mut false_positives = 0usize;
        for i in &r.insights {
            let matched = r.labels.iter().any(|l| matches(i, l));
            if matched || family(i.kind.as_str()) == "traffic" {
                let p = precision.entry(i.kind.as_str().to_string()).or_default();
                p.insights += 1;
                p.matched += u64::from(matched);
            }
            if matched {
                continue;
            }
            false_positives += 1;
            println!(
                "  week-run false positive: {} on {}{} source {:?} target {:?} at {}: {}",
                i.kind.as_str(),
                i.exporter,
                i.interface.map_or(String::new(), |n| format!(" interface {n}")),
                i.source,
                i.target,
                i.start_ms,
                i.why.summary
            );
        }
        let days = (r.range.1 - r.range.0) as f64 / DAY_MS as f64;
        let per_k = false_positives as f64 / (f64::from(args.hosts) / 1000.0) / days.max(1e-9);
        clean = Some((false_positives, days, per_k));
    }

    println!(
        "\nrecall per simulated kind (label matched by an insight of its family, same host (outages: same exporter), overlapping; export_outage and link_failure from the week run):"
    );
    println!(
        "{:<20} {:>7} {:>6} {:>7} {:>12} {:>12} {:>16} {:>16}",
        "kind", "labels", "found", "recall", "delay p50 s", "delay p95 s", "unsampled found", "sampled found"
    );
    for (kind, s) in &mut recall {
        s.delays_ms.sort_unstable();
        let d = |p| {
            percentile(&s.delays_ms, p).map_or("-".to_string(), |ms| format!("{:.0}", ms as f64 / 1000.0))
        };
        println!(
            "{kind:<20} {:>7} {:>6} {:>7.2} {:>12} {:>12} {:>16} {:>16}",
            s.labels,
            s.found,
            s.found as f64 / s.labels.max(1) as f64,
            d(0.5),
            d(0.95),
            format!("{} of {}", s.found - s.sampled_found, s.labels - s.sampled_labels),
            format!("{} of {}", s.sampled_found, s.sampled_labels)
        );
    }
    println!("\nprecision per insight kind (attack runs; traffic_anomaly from the week run):");
    for (kind, p) in &precision {
        println!(
            "{kind:<20} {:>7} insights, {:>6} matched a label, precision {:.2}",
            p.insights,
            p.matched,
            p.matched as f64 / p.insights.max(1) as f64
        );
    }
    println!(
        "\nbenign bursts (speed tests, backups, bulk downloads, new services): {benign_labels}, reported as attacks: {}",
        benign_hits.len()
    );
    for b in &benign_hits {
        println!("  {b}");
    }
    if let Some((n, days, per_k)) = clean {
        println!("\nweek run: {n} insights matching no label over {days:.1} days and {} hosts = {per_k:.2} false positives per 1,000 hosts per day", args.hosts);
    }
    println!(
        "\ndetectors: {detect_cpu:.1} CPU-s for {flows} flows = {:.2} CPU-s per 1M flows",
        detect_cpu / (flows as f64 / 1e6).max(1e-9)
    );
    if args.live {
        let per_m = |cpu: f64| cpu / (live.2 as f64 / 1e6).max(1e-9);
        println!(
            "live engine (attack runs, a round every 5 s of flow time over what was stored by then): {:.1} CPU-s for {} flows = {:.2} CPU-s per 1M flows, {:.2}x the backtest's {:.2} over the same runs; {} runs found other insights than the backtest",
            live.0,
            live.2,
            per_m(live.0),
            live.0 / live.1.max(1e-9),
            per_m(live.1),
            live.3
        );
    }
    if !args.no_model {
        println!("\nhost anomaly model (trained on each attack run's own two hours; the clean week's on its first five days):");
        for (kind, (labels, found)) in &model_recall {
            println!("  {kind:<28} {found} of {labels} labels have a host_anomaly insight about them");
        }
        println!(
            "  attack runs: {} host_anomaly insights, {} about an attack ({:.2})",
            model_precision.0,
            model_precision.1,
            model_precision.1 as f64 / model_precision.0.max(1) as f64
        );
        if let Some((n, days, per_k, on_bursts, detector)) = &model_clean {
            println!(
                "  clean run ({}): {n} host_anomaly insights over the last {days:.1} days = {per_k:.2} per 1,000 hosts per day ({on_bursts} about benign bursts)",
                detector.as_deref().unwrap_or("no model")
            );
        }
        println!(
            "  cost: scoring {:.1} CPU-s for {model_flows} flows = {:.2} CPU-s per 1M flows; training {:.1} CPU-s in all",
            model_cpu.1,
            model_cpu.1 / (model_flows as f64 / 1e6).max(1e-9),
            model_cpu.0
        );
        if let Some((peak, last)) = rss {
            println!("  console (flowvision-web serve, libtorch and both models loaded, anomaly model trained): RSS peak {peak:.0} MB, {last:.0} MB after 60 s");
        }
    }
    for u in &unmatched {
        println!("  {u}");
    }
    if let Some(path) = &args.json {
        let doc = serde_json::json!({
            "seeds": args.seeds, "attack_hours": args.attack_hours, "attack_rate": args.attack_rate,
            "clean_days": args.clean_days, "clean_rate": args.clean_rate, "clean_seed": args.clean_seed, "hosts": args.hosts,
            "recall": recall, "precision": precision,
            "clean": clean.map(|(n, d, k)| serde_json::json!({"insights": n, "days": d, "per_1000_hosts_per_day": k})),
            "flows": flows, "detect_cpu_s": detect_cpu, "unmatched": unmatched,
            "live": args.live.then(|| serde_json::json!({"cpu_s": live.0, "backtest_cpu_s": live.1, "flows": live.2, "runs_differing": live.3})),
            "benign_bursts": benign_labels, "benign_reported": benign_hits,
            "model": (!args.no_model).then(|| serde_json::json!({
                "recall": model_recall.iter().map(|(k, (l, f))| (k.clone(), serde_json::json!({"labels": l, "found": f}))).collect::<serde_json::Map<_, _>>(),
                "attack_insights": model_precision.0, "about_attacks": model_precision.1,
                "clean": model_clean.as_ref().map(|(n, d, k, b, det)| serde_json::json!({"insights": n, "days": d, "per_1000_hosts_per_day": k, "about_benign_bursts": b, "detector": det})),
                "score_cpu_s": model_cpu.1, "train_cpu_s": model_cpu.0, "flows": model_flows,
                "web_rss_mb": rss.map(|(p, l)| serde_json::json!({"peak": p, "after_60s": l})),
            })),
        });
        std::fs::write(path, serde_json::to_string_pretty(&doc)?)?;
    }
    Ok(())
}
