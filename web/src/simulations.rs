//! Simulations run by the console (docs/simulations.md): the simulator crate as a
//! library ([`flowvision_sim::start`]), one thread per run, several at once within
//! `SIM_RATE_BUDGET`, sending only to this appliance's collector
//! (`SIM_DEFAULT_TARGET`) or to an address an admin put on the allow-list.
//!
//! [`Simulations`] (Rocket state) holds the running handles; each run has a watcher
//! task that stores its progress every few seconds and its outcome when it ends, so
//! the history in PostgreSQL (`web_sim_runs`) outlives the handles. Every start,
//! refusal, stop and allow-list change is audited.

use crate::actions::audit;
use crate::auth::{Auth, Permission};
use crate::data::Db;
use crate::error::{AppError, AppResult};
use crate::App;
use flowvision_codec::Protocol;
use flowvision_sim::scenario::{AnomalySpec, ExporterGroup};
use flowvision_sim::traffic::diurnal::Diurnal;
use flowvision_sim::{Progress, RunOptions, RunState, Scenario, SimulationHandle};
use rocket::fairing::AdHoc;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// The scenarios shipped in `collector/sim/scenarios`, compiled in: (name, TOML).
pub const BUNDLED: &[(&str, &str)] = &[
    ("demo", include_str!("../../collector/sim/scenarios/demo.toml")),
    ("day", include_str!("../../collector/sim/scenarios/day.toml")),
];

/// Most exporters one run may simulate (each is a socket and a flow cache).
pub const MAX_EXPORTERS: usize = 1000;

/// Most runs at once, whatever their rates: each is a thread and a socket per
/// exporter, so many tiny runs must not exhaust the process either.
pub const MAX_RUNNING: usize = 16;

/// Largest TOML scenario accepted.
pub const MAX_TOML: usize = 64 * 1024;

/// How often a run's watcher stores its progress.
const STORE_EVERY: Duration = Duration::from_secs(2);
/// How often a run's watcher looks whether it ended.
const WATCH_EVERY: Duration = Duration::from_millis(250);

/// The description of a bundled scenario: its first comment line.
pub fn bundled_description(toml: &str) -> String {
    toml.lines().next().unwrap_or("").trim_start_matches('#').trim().to_string()
}

/// Exporters per protocol of an edited scenario.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExporterCounts {
    /// NetFlow v5 exporters.
    pub netflow_v5: usize,
    /// NetFlow v9 exporters.
    pub netflow_v9: usize,
    /// IPFIX exporters.
    pub ipfix: usize,
    /// sFlow v5 agents.
    pub sflow_v5: usize,
}

/// What to run: a bundled scenario (or the simulator's defaults), edited by the
/// fields given, sent to `target` (default: this appliance's collector).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartRequest {
    /// Name of a bundled scenario.
    pub scenario: Option<String>,
    /// A whole scenario as TOML (instead of a bundled one); the fields below edit it.
    pub toml: Option<String>,
    /// ADDRESS:PORT to send to.
    pub target: Option<String>,
    /// PRNG seed.
    pub seed: Option<u64>,
    /// Background flows per second at the diurnal peak.
    pub rate: Option<f64>,
    /// Wall-clock length (`30s`, `5m`).
    pub duration: Option<String>,
    /// Simulated seconds per wall-clock second.
    pub speedup: Option<f64>,
    /// Exporters per protocol (replaces the scenario's groups).
    pub exporters: Option<ExporterCounts>,
    /// The load curve.
    pub diurnal: Option<Diurnal>,
    /// Anomalies (replace the scenario's).
    pub anomalies: Option<Vec<AnomalySpec>>,
}

impl StartRequest {
    /// The scenario to run.
    pub fn scenario(&self) -> AppResult<Scenario> {
        let toml = self.toml.as_deref().filter(|t| !t.trim().is_empty());
        let mut s = match (toml, self.scenario.as_deref().filter(|n| !n.is_empty())) {
            (Some(_), Some(_)) => {
                return Err(AppError::BadRequest(
                    "give a bundled scenario or a TOML scenario, not both".into(),
                ))
            }
            (Some(text), None) => {
                if text.len() > MAX_TOML {
                    return Err(AppError::BadRequest(format!("toml: at most {MAX_TOML} bytes")));
                }
                Scenario::from_toml(text, "toml").map_err(|e| AppError::BadRequest(e.to_string()))?
            }
            (None, None) => Scenario::default(),
            (None, Some(name)) => {
                let (_, text) = BUNDLED
                    .iter()
                    .find(|(n, _)| *n == name)
                    .ok_or_else(|| AppError::BadRequest(format!("scenario: no bundled scenario {name:?}")))?;
                Scenario::from_toml(text, name).map_err(|e| AppError::Internal(e.to_string()))?
            }
        };
        if let Some(seed) = self.seed {
            s.seed = Some(seed);
        }
        if let Some(rate) = self.rate {
            s.rate = rate;
        }
        if let Some(d) = &self.duration {
            s.duration = Some(d.clone());
            s.count = None;
        }
        if let Some(x) = self.speedup {
            s.speedup = x;
        }
        if let Some(c) = &self.exporters {
            let mut groups = Vec::new();
            for (p, n) in [
                (Protocol::NetflowV9, c.netflow_v9),
                (Protocol::NetflowV5, c.netflow_v5),
                (Protocol::Ipfix, c.ipfix),
                (Protocol::SflowV5, c.sflow_v5),
            ] {
                if n == 0 {
                    continue;
                }
                // Keep the scenario's settings for the protocol (sampling, domains).
                let base = s.exporters.iter().find(|g| g.protocol == p).cloned();
                let g = base.unwrap_or_else(|| ExporterGroup::new(p));
                groups.push(ExporterGroup { count: n, source: None, ..g });
            }
            s.exporters = groups;
        }
        if let Some(d) = self.diurnal {
            s.diurnal = d;
        }
        if let Some(a) = &self.anomalies {
            s.anomalies = a.clone();
        }
        // Summed without wrapping: a group count near usize::MAX must not pass as small.
        let n = s.exporters.iter().try_fold(0usize, |acc, g| acc.checked_add(g.count)).unwrap_or(usize::MAX);
        if n == 0 || n > MAX_EXPORTERS {
            return Err(AppError::BadRequest(format!(
                "exporters: between 1 and {MAX_EXPORTERS} in all (got {n})"
            )));
        }
        check_limits(&s)?;
        Ok(s)
    }
}

/// Limits of what one console-started run may ask for. The simulator runs inside the
/// console's process: a request must not be able to make it allocate without bound
/// (flood bots, beacon schedules, host tables), run forever, or send far more than the
/// rate it is charged for.
pub mod limits {
    /// Longest run, wall clock.
    pub const MAX_DURATION_NS: i64 = 7 * 24 * 3_600 * 1_000_000_000;
    /// Flood intensity: anomalous flows per background flow.
    pub const MAX_INTENSITY: f64 = 10.0;
    /// Bots or reflectors of one flood.
    pub const MAX_SOURCES: usize = 65_536;
    /// Ports or hosts one scan probes.
    pub const MAX_TARGETS: u32 = 65_536;
    /// Anomalies in one run.
    pub const MAX_ANOMALIES: usize = 32;
    /// Beats of one beaconing anomaly (duration / period).
    pub const MAX_BEATS: i64 = 1_000_000;
    /// Internal or external hosts.
    pub const MAX_HOSTS: usize = 1_000_000;
    /// External autonomous systems.
    pub const MAX_ASES: usize = 100_000;
    /// Internal IPv4 prefixes, each at most a /8.
    pub const MAX_PREFIXES: usize = 16;
    /// Shortest internal IPv4 prefix.
    pub const MIN_PREFIX_LEN: u8 = 8;
}

fn too_big(what: &str, limit: impl std::fmt::Display) -> AppError {
    AppError::BadRequest(format!("{what}: at most {limit} in a console-started simulation"))
}

fn duration_ns(what: &str, d: &str) -> AppResult<i64> {
    flowvision_sim::clock::parse_duration_ns(d).map_err(|e| AppError::BadRequest(format!("{what}: {e}")))
}

fn check_limits(s: &Scenario) -> AppResult<()> {
    use limits::*;
    if let Some(d) = &s.duration {
        if duration_ns("duration", d)? > MAX_DURATION_NS {
            return Err(too_big("duration", "7 days"));
        }
    }
    if s.anomalies.len() > MAX_ANOMALIES {
        return Err(too_big("anomalies", MAX_ANOMALIES));
    }
    for a in &s.anomalies {
        if a.intensity.is_some_and(|i| !(0.0..=MAX_INTENSITY).contains(&i)) {
            return Err(too_big("anomaly intensity", MAX_INTENSITY));
        }
        if a.sources.is_some_and(|n| n > MAX_SOURCES) {
            return Err(too_big("anomaly sources", MAX_SOURCES));
        }
        if a.targets.is_some_and(|n| n > MAX_TARGETS) {
            return Err(too_big("anomaly targets", MAX_TARGETS));
        }
        if let Some(start) = &a.start {
            // An offset (RFC 3339 starts are checked by the simulator).
            if let Ok(ns) = flowvision_sim::clock::parse_duration_ns(start) {
                if ns > MAX_DURATION_NS {
                    return Err(too_big("anomaly start", "7 days"));
                }
            }
        }
        let length = match &a.duration {
            Some(d) => duration_ns("anomaly duration", d)?,
            None => 0,
        };
        if length > MAX_DURATION_NS {
            return Err(too_big("anomaly duration", "7 days"));
        }
        if let Some(p) = &a.period {
            let period = duration_ns("anomaly period", p)?.max(1);
            if length / period > MAX_BEATS {
                return Err(too_big("beaconing beats (duration / period)", MAX_BEATS));
            }
        }
    }
    let t = &s.traffic;
    if t.internal_hosts > MAX_HOSTS || t.external_hosts > MAX_HOSTS {
        return Err(too_big("hosts", MAX_HOSTS));
    }
    if t.external_ases > MAX_ASES {
        return Err(too_big("external ASes", MAX_ASES));
    }
    if t.internal_v4.len() > MAX_PREFIXES {
        return Err(too_big("internal IPv4 prefixes", MAX_PREFIXES));
    }
    for p in &t.internal_v4 {
        let len = p.split_once('/').and_then(|(_, l)| l.trim().parse::<u8>().ok());
        if len.is_some_and(|l| l < MIN_PREFIX_LEN) {
            return Err(AppError::BadRequest(format!(
                "internal IPv4 prefix {p}: at most a /{MIN_PREFIX_LEN} in a console-started simulation"
            )));
        }
    }
    Ok(())
}

/// The flows per second a run may send at its peak: background plus what its floods add
/// (intensity flows per background flow, the simulator's defaults when unset) plus
/// beacons; this is what the rate budget is charged.
fn charged_rate(s: &Scenario) -> f64 {
    use flowvision_sim::anomaly::AnomalyKind;
    let mut factor = 1.0;
    let mut beacons = 0.0;
    for a in &s.anomalies {
        match a.kind {
            AnomalyKind::SynFlood => factor += a.intensity.unwrap_or(1.0),
            AnomalyKind::UdpAmplification | AnomalyKind::NewService => factor += a.intensity.unwrap_or(0.5),
            AnomalyKind::Beaconing => {
                let period =
                    a.period.as_deref().and_then(|p| flowvision_sim::clock::parse_duration_ns(p).ok());
                beacons += period.map_or(1.0, |p| 1e9 / (p.max(1) as f64));
            }
            _ => {}
        }
    }
    s.rate * factor + beacons
}

/// A running simulation.
struct Live {
    handle: Option<SimulationHandle>,
    budget_rate: f64,
}

#[derive(Default)]
struct State {
    live: HashMap<i64, Live>,
    /// Rate reserved by starts between the budget check and their handle.
    reserved: f64,
    /// Starts between the budget check and their handle.
    starting: usize,
}

/// The console's running simulations (Rocket state).
pub struct Simulations {
    state: Arc<Mutex<State>>,
    db: Db,
    budget: f64,
    default_target: SocketAddr,
}

impl std::fmt::Debug for Simulations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulations").field("budget", &self.budget).finish_non_exhaustive()
    }
}

/// The fairing that marks runs of a previous console as interrupted and manages a
/// [`Simulations`] (attach after the migrations).
pub fn fairing() -> AdHoc {
    AdHoc::try_on_ignite("simulations", |rocket| async move {
        let Some(app) = rocket.state::<App>() else { return Err(rocket) };
        let sims = Simulations {
            state: Arc::default(),
            db: app.db.clone(),
            budget: app.cfg.sim_rate_budget,
            default_target: app.cfg.sim_default_target,
        };
        match app.db.interrupt_sim_runs().await {
            Ok(0) => {}
            Ok(n) => {
                log::warn!("{n} simulations were running when the console last stopped: marked interrupted")
            }
            Err(e) => log::warn!("simulations: cannot mark interrupted runs: {e}"),
        }
        Ok(rocket.manage(sims))
    })
}

fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    // A poisoned lock means a handler panicked holding it; the map itself is whole.
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The progress as stored and answered: the labels apart, lateness named.
pub fn progress_json(p: &Progress) -> Value {
    let lateness = p.lateness_us.map(
        |[p50, p90, p99, p999, max]| json!({"p50": p50, "p90": p90, "p99": p99, "p999": p999, "max": max}),
    );
    json!({
        "flows": p.flows,
        "datagrams": p.datagrams,
        "flows_sent": p.flows_sent,
        "flows_per_s": p.flows_per_s,
        "wall_seconds": p.wall_seconds,
        "virtual_seconds": p.virtual_seconds,
        "sim_time_ms": p.sim_time_ms,
        "planned_flows": p.planned_flows,
        "planned_virtual_seconds": p.planned_virtual_seconds,
        "lateness_us": lateness,
    })
}

fn labels_json(p: &Progress) -> Value {
    serde_json::to_value(&p.labels).unwrap_or_else(|_| json!([]))
}

fn state_name(s: RunState) -> &'static str {
    match s {
        RunState::Starting | RunState::Running => "running",
        RunState::Finished => "finished",
        RunState::Cancelled => "cancelled",
        RunState::Failed => "failed",
    }
}

/// A dashboard link for a label: the overview narrowed to its window (one minute
/// either side, so the rise and fall show) and its exporter.
pub fn dashboard_link(label: &Value) -> Option<String> {
    let start = label.get("start_ms")?.as_i64()?;
    let end = label.get("end_ms")?.as_i64()?;
    let exporter = label.get("exporter")?.as_str()?;
    Some(format!(
        "/?from={}&to={}&exporter={}",
        start - 60_000,
        end.max(start + 60_000) + 60_000,
        crate::pages::urlencode(exporter)
    ))
}

/// Audits a start refused for `target` (allow-list, run count, budget) with why.
async fn refused(app: &App, auth: &Auth, target: &SocketAddr, why: Value) {
    audit(app, auth, "simulation.refused", &target.to_string(), false, why).await;
}

/// Parses a target as ADDRESS:PORT (names are refused: what a name resolves to can
/// change after the check).
pub fn parse_target(s: &str) -> AppResult<SocketAddr> {
    let t: SocketAddr = s.trim().parse().map_err(|_| {
        AppError::BadRequest(format!("target: {s:?} is not ADDRESS:PORT (e.g. 192.0.2.10:2055)"))
    })?;
    // v4-mapped IPv6 is judged as the IPv4 address it is.
    let ip = t.ip().to_canonical();
    let broadcast = matches!(ip, std::net::IpAddr::V4(v4) if v4.is_broadcast());
    if t.port() == 0 || ip.is_unspecified() || ip.is_multicast() || broadcast {
        return Err(AppError::BadRequest(format!("target: {t} is not a unicast address and port")));
    }
    Ok(t)
}

impl Simulations {
    /// The target used when a start names none.
    pub fn default_target(&self) -> SocketAddr {
        self.default_target
    }

    /// The configured rate budget (peak flows per second of all runs together).
    pub fn budget(&self) -> f64 {
        self.budget
    }

    /// The rate of the runs now running.
    pub fn rate_in_use(&self) -> f64 {
        let s = lock(&self.state);
        s.live.values().map(|l| l.budget_rate).sum::<f64>() + s.reserved
    }

    /// Live progress and labels of a running run (None: not running here).
    pub fn live(&self, id: i64) -> Option<(Progress, &'static str)> {
        let s = lock(&self.state);
        let p = s.live.get(&id)?.handle.as_ref()?.progress();
        let state = state_name(p.state);
        Some((p, state))
    }

    /// Starts a run; returns its id. Refuses (403) a target that is neither the
    /// default nor on the allow-list, and (409) a rate over the remaining budget.
    pub async fn start(&self, app: &App, auth: &Auth, req: &StartRequest) -> AppResult<i64> {
        auth.require(Permission::RunSimulations)?;
        let target = match req.target.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            None => self.default_target,
            Some(t) => parse_target(t)?,
        };
        if target != self.default_target && !app.db.sim_target_allowed(&target.to_string()).await? {
            refused(
                app,
                auth,
                &target,
                json!({"reason": "target not on the allow-list", "scenario": req.scenario}),
            )
            .await;
            return Err(AppError::Forbidden(format!(
                "target {target} is not on the simulation allow-list (an admin adds targets; the default is {})",
                self.default_target
            )));
        }
        let scenario = req.scenario()?;
        let seed = scenario.seed.unwrap_or_else(|| rand_core::RngCore::next_u64(&mut rand_core::OsRng));
        let plan = scenario.resolve(now_ms(), seed).map_err(|e| AppError::BadRequest(e.to_string()))?;
        let rate = charged_rate(&scenario);
        let over = {
            let mut s = lock(&self.state);
            let used = s.live.values().map(|l| l.budget_rate).sum::<f64>() + s.reserved;
            if s.live.len() + s.starting >= MAX_RUNNING {
                Some((used, true))
            } else if used + rate > self.budget {
                Some((used, false))
            } else {
                s.reserved += rate;
                s.starting += 1;
                None
            }
        };
        if let Some((_, true)) = over {
            refused(app, auth, &target, json!({"reason": "too many runs", "running": MAX_RUNNING})).await;
            return Err(AppError::Conflict(format!("{MAX_RUNNING} simulations are running: stop one first")));
        }
        if let Some((used, _)) = over {
            refused(
                app,
                auth,
                &target,
                json!({"reason": "rate budget", "rate": rate, "in_use": used, "budget": self.budget}),
            )
            .await;
            return Err(AppError::Conflict(format!(
                "rate {rate} flows/s would exceed the simulation budget: {used} of {} flows/s in use \
                 (SIM_RATE_BUDGET)",
                self.budget
            )));
        }
        let result = self.launch(app, auth, req, &scenario, plan, target, rate).await;
        {
            let mut s = lock(&self.state);
            s.reserved -= rate;
            s.starting -= 1;
        }
        result
    }

    #[allow(clippy::too_many_arguments)] // the pieces start() checked, in order
    async fn launch(
        &self,
        app: &App,
        auth: &Auth,
        req: &StartRequest,
        scenario: &Scenario,
        plan: flowvision_sim::Plan,
        target: SocketAddr,
        rate: f64,
    ) -> AppResult<i64> {
        let name = req.scenario.clone().unwrap_or_default();
        let id = app
            .db
            .insert_sim_run(&name, &scenario.to_toml(), &target.to_string(), rate, &auth.username)
            .await?;
        let options = RunOptions { targets: vec![target], paced: true, ..RunOptions::default() };
        // Building the network model takes a moment: not on the async workers.
        let started = rocket::tokio::task::spawn_blocking(move || flowvision_sim::start(plan, &options))
            .await
            .map_err(|e| AppError::Internal(e.to_string()))?;
        let handle = match started {
            Ok(h) => h,
            Err(e) => {
                let msg = e.to_string();
                app.db.finish_sim_run(id, "failed", &json!({}), &json!([]), Some(&msg)).await?;
                audit(
                    app,
                    auth,
                    "simulation.start",
                    &target.to_string(),
                    false,
                    json!({"id": id, "error": msg}),
                )
                .await;
                return Err(AppError::BadRequest(msg));
            }
        };
        lock(&self.state).live.insert(id, Live { handle: Some(handle), budget_rate: rate });
        self.watch(id);
        let anomalies: Vec<&str> = scenario.anomalies.iter().map(|a| a.kind.as_str()).collect();
        let exporters: usize = scenario.exporters.iter().map(|g| g.count).sum();
        audit(
            app,
            auth,
            "simulation.start",
            &target.to_string(),
            true,
            json!({
                "id": id, "scenario": name, "rate": rate, "speedup": scenario.speedup,
                "duration": scenario.duration, "exporters": exporters, "anomalies": anomalies,
            }),
        )
        .await;
        Ok(id)
    }

    /// The watcher of run `id`: stores its progress every [`STORE_EVERY`] and its
    /// outcome when it ends.
    fn watch(&self, id: i64) {
        let state = Arc::clone(&self.state);
        let db = self.db.clone();
        rocket::tokio::spawn(async move {
            let mut last = std::time::Instant::now();
            loop {
                rocket::tokio::time::sleep(WATCH_EVERY).await;
                let snapshot = {
                    let s = lock(&state);
                    match s.live.get(&id).and_then(|l| l.handle.as_ref()) {
                        None => return,
                        Some(h) => (h.is_finished(), h.progress()),
                    }
                };
                match snapshot {
                    (true, _) => {
                        finalize(&state, &db, id).await;
                        return;
                    }
                    (false, p) if last.elapsed() >= STORE_EVERY => {
                        if let Err(e) = db.update_sim_progress(id, &progress_json(&p), &labels_json(&p)).await
                        {
                            log::warn!("simulation {id}: storing progress: {e}");
                        }
                        last = std::time::Instant::now();
                    }
                    _ => {}
                }
            }
        });
    }

    /// Stops run `id` and waits (a few seconds at most) until its outcome is stored.
    /// Errors: 404 for no such run, 409 when it is not running.
    pub async fn stop(&self, app: &App, auth: &Auth, id: i64) -> AppResult<()> {
        auth.require(Permission::RunSimulations)?;
        let found = {
            let s = lock(&self.state);
            match s.live.get(&id).and_then(|l| l.handle.as_ref()) {
                Some(h) => {
                    h.cancel();
                    true
                }
                None => false,
            }
        };
        if !found {
            let row = app.db.sim_run(id).await?.ok_or(AppError::NotFound)?;
            return Err(AppError::Conflict(format!("simulation {id} is not running (it is {})", row.state)));
        }
        audit(app, auth, "simulation.stop", &id.to_string(), true, json!({"id": id})).await;
        // Cancelling is prompt (the simulator checks every tick); wait for the
        // outcome so that the answer and the history agree.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::time::Instant::now() < deadline {
            let finished = {
                let s = lock(&self.state);
                s.live.get(&id).and_then(|l| l.handle.as_ref()).map_or(true, SimulationHandle::is_finished)
            };
            if finished {
                break;
            }
            rocket::tokio::time::sleep(Duration::from_millis(20)).await;
        }
        finalize(&self.state, &self.db, id).await;
        // The watcher may have taken the handle first and be storing the outcome:
        // answer once it is stored.
        while std::time::Instant::now() < deadline {
            match app.db.sim_run(id).await? {
                Some(r) if r.state == "running" => {
                    rocket::tokio::time::sleep(Duration::from_millis(20)).await
                }
                _ => break,
            }
        }
        Ok(())
    }

    /// Adds an allowed target (admin); audited.
    pub async fn add_target(
        &self,
        app: &App,
        auth: &Auth,
        target: &str,
        note: &str,
    ) -> AppResult<(i64, String)> {
        auth.require(Permission::ManageSimTargets)?;
        let t = parse_target(target)?.to_string();
        let note = note.trim();
        if note.len() > 500 {
            return Err(AppError::BadRequest("note: at most 500 characters".into()));
        }
        let id = app.db.add_sim_target(&t, note, &auth.username).await.map_err(|e| match e {
            crate::data::DataError::Conflict(_) => AppError::Conflict(format!("{t} is already allowed")),
            other => other.into(),
        })?;
        audit(app, auth, "simulation.target.add", &t, true, json!({"id": id, "note": note})).await;
        Ok((id, t))
    }

    /// Removes an allowed target (admin); audited. Running runs keep sending.
    pub async fn remove_target(&self, app: &App, auth: &Auth, id: i64) -> AppResult<()> {
        auth.require(Permission::ManageSimTargets)?;
        let t = app.db.remove_sim_target(id).await?.ok_or(AppError::NotFound)?;
        audit(app, auth, "simulation.target.remove", &t, true, json!({"id": id})).await;
        Ok(())
    }
}

/// Joins run `id` if it ended and stores its outcome (once: the handle is taken
/// out of the map under the lock).
async fn finalize(state: &Arc<Mutex<State>>, db: &Db, id: i64) {
    let handle = {
        let mut s = lock(state);
        match s.live.get(&id).and_then(|l| l.handle.as_ref()) {
            Some(h) if h.is_finished() => s.live.remove(&id).and_then(|mut l| l.handle.take()),
            _ => None,
        }
    };
    let Some(handle) = handle else { return };
    let progress = handle.progress();
    let joined = rocket::tokio::task::spawn_blocking(move || handle.join()).await;
    let (state_s, labels, error) = match joined {
        Ok(Ok(outcome)) => (
            if outcome.summary.cancelled { "cancelled" } else { "finished" },
            serde_json::to_value(&outcome.labels).unwrap_or_else(|_| json!([])),
            None,
        ),
        Ok(Err(e)) => ("failed", labels_json(&progress), Some(e.to_string())),
        Err(e) => ("failed", labels_json(&progress), Some(e.to_string())),
    };
    if let Err(e) = db.finish_sim_run(id, state_s, &progress_json(&progress), &labels, error.as_deref()).await
    {
        log::error!("simulation {id}: storing its outcome: {e}");
    }
}

/// A run as the API answers it: the stored row, with the live progress while it
/// runs, and each label's dashboard link.
pub fn run_json(row: &crate::data::simulations::SimRunRow, live: Option<(Progress, &'static str)>) -> Value {
    let (state, progress, mut labels) = match live {
        Some((p, st)) => (st.to_string(), progress_json(&p), labels_json(&p)),
        None => (row.state.clone(), row.progress.clone(), row.labels.clone()),
    };
    if let Some(list) = labels.as_array_mut() {
        for l in list.iter_mut() {
            let link = dashboard_link(l);
            if let Some(o) = l.as_object_mut() {
                o.insert("dashboard".into(), json!(link));
            }
        }
    }
    json!({
        "id": row.id,
        "scenario": row.scenario,
        "target": row.target,
        "rate": row.budget_rate,
        "state": state,
        "started_by": row.started_by,
        "started_at": row.started_at,
        "ended_at": row.ended_at,
        "error": row.error,
        "progress": progress,
        "labels": labels,
        "scenario_toml": row.scenario_toml,
    })
}
