//! The simulations page (operator role): pick a bundled scenario and edit it, start,
//! watch a run's progress and labels (static/simulations.js polls the API), stop, the
//! history; admins keep the allow-list of targets here too. Everything goes through
//! [`crate::simulations::Simulations`], as the API does.

use super::layout::{csrf_field, fmt_count, notice, page};
use super::{html, Html};
use crate::auth::{Auth, CsrfForm, Permission};
use crate::data::simulations::SimRunRow;
use crate::error::{AppError, AppResult};
use crate::simulations::{
    bundled_description, dashboard_link, ExporterCounts, Simulations, StartRequest, BUNDLED,
};
use crate::App;
use flowvision_sim::scenario::AnomalySpec;
use flowvision_sim::traffic::diurnal::Diurnal;
use flowvision_sim::AnomalyKind;
use maud::{html as m, Markup};
use rocket::form::FromForm;
use rocket::http::{ContentType, Status};
use rocket::response::Redirect;
use rocket::{get, post, routes, Route, State};
use serde_json::Value;

/// The page's script: polls a run's progress.
pub const SIM_JS: &str = include_str!("../../static/simulations.js");

/// The simulation routes.
pub fn routes() -> Vec<Route> {
    routes![list, start, run, stop, target_add, target_remove, js]
}

#[get("/static/simulations.js")]
fn js() -> (ContentType, &'static str) {
    (ContentType::JavaScript, SIM_JS)
}

/// The start form: empty fields keep the scenario's values.
#[derive(Debug, FromForm)]
pub struct StartForm {
    scenario: String,
    toml: String,
    target: String,
    rate: String,
    duration: String,
    speedup: String,
    netflow_v5: String,
    netflow_v9: String,
    ipfix: String,
    sflow_v5: String,
    diurnal: String,
    peak_hour: String,
    trough: String,
    anomaly_kind: String,
    anomaly_start: String,
    anomaly_duration: String,
    anomaly_exporter: String,
    anomaly_port: String,
}

fn opt<T: std::str::FromStr>(name: &str, v: &str) -> AppResult<Option<T>> {
    let v = v.trim();
    if v.is_empty() {
        return Ok(None);
    }
    v.parse().map(Some).map_err(|_| AppError::BadRequest(format!("{name}: {v:?} is not a valid number")))
}

/// A field of a JSON object (null when absent).
fn f<'a>(v: &'a Value, k: &str) -> &'a Value {
    v.get(k).unwrap_or(&Value::Null)
}

fn opt_text(v: &str) -> Option<String> {
    Some(v.trim().to_string()).filter(|s| !s.is_empty())
}

impl StartForm {
    /// The API request the form stands for.
    fn request(&self) -> AppResult<StartRequest> {
        let counts = [
            opt::<usize>("netflow_v5", &self.netflow_v5)?,
            opt::<usize>("netflow_v9", &self.netflow_v9)?,
            opt::<usize>("ipfix", &self.ipfix)?,
            opt::<usize>("sflow_v5", &self.sflow_v5)?,
        ];
        let exporters = if counts.iter().any(Option::is_some) {
            let [v5, v9, ipfix, sflow] = counts.map(|c| c.unwrap_or(0));
            Some(ExporterCounts { netflow_v5: v5, netflow_v9: v9, ipfix, sflow_v5: sflow })
        } else {
            None
        };
        let diurnal = match self.diurnal.as_str() {
            "" => None,
            "off" => Some(Diurnal { enabled: false, ..Diurnal::default() }),
            _ => {
                let mut d = Diurnal::default();
                if let Some(h) = opt("peak_hour", &self.peak_hour)? {
                    d.peak_hour = h;
                }
                if let Some(t) = opt("trough", &self.trough)? {
                    d.trough = t;
                }
                Some(d)
            }
        };
        let anomalies = match self.anomaly_kind.trim() {
            "" => None,
            k => {
                let kind = AnomalyKind::ALL
                    .into_iter()
                    .find(|a| a.as_str() == k)
                    .ok_or_else(|| AppError::BadRequest(format!("anomaly: no kind {k:?}")))?;
                let mut a = AnomalySpec::new(kind);
                a.start = opt_text(&self.anomaly_start);
                a.duration = opt_text(&self.anomaly_duration);
                a.exporter = opt("anomaly exporter", &self.anomaly_exporter)?;
                a.port = opt("anomaly port", &self.anomaly_port)?;
                Some(vec![a])
            }
        };
        Ok(StartRequest {
            scenario: opt_text(&self.scenario),
            toml: opt_text(&self.toml),
            target: opt_text(&self.target),
            seed: None,
            rate: opt("rate", &self.rate)?,
            duration: opt_text(&self.duration),
            speedup: opt("speedup", &self.speedup)?,
            exporters,
            diurnal,
            anomalies,
        })
    }
}

fn state_of(r: &SimRunRow, sims: &Simulations) -> (String, Value) {
    match sims.live(r.id) {
        Some((p, st)) => (st.to_string(), crate::simulations::progress_json(&p)),
        None => (r.state.clone(), r.progress.clone()),
    }
}

fn start_form(auth: &Auth, sims: &Simulations) -> Markup {
    let field = |id: &str, label: &str, placeholder: &str| {
        m! {
            label for=(id) { (label) }
            input type="text" id=(id) name=(id) placeholder=(placeholder);
        }
    };
    m! {
        form.card #sim-form method="post" action="/simulations" {
            (csrf_field(auth))
            h2 { "Start a simulation" }
            p.muted { "Empty fields keep the scenario's values. The rate budget of all runs together is "
                      (fmt_count(sims.budget())) " flows/s; " (fmt_count(sims.rate_in_use())) " in use." }
            div.grid {
                label for="scenario" { "Scenario" }
                select #scenario name="scenario" {
                    option value="" { "simulator defaults (4 exporters, 10 s)" }
                    @for (name, toml) in BUNDLED { option value=(name) { (name) ": " (bundled_description(toml)) } }
                }
                (field("target", "Target", &format!("{} (this appliance's collector)", sims.default_target())))
                (field("rate", "Rate (flows/s at peak)", "10000"))
                (field("duration", "Duration (wall clock)", "10s, 5m, 1h"))
                (field("speedup", "Speed-up (simulated s per s)", "1"))
                (field("netflow_v9", "NetFlow v9 exporters", "as in the scenario"))
                (field("netflow_v5", "NetFlow v5 exporters", ""))
                (field("ipfix", "IPFIX exporters", ""))
                (field("sflow_v5", "sFlow agents", ""))
                label for="diurnal" { "Diurnal curve" }
                select #diurnal name="diurnal" {
                    option value="" { "as in the scenario" }
                    option value="on" { "on (peak hour, trough below)" }
                    option value="off" { "off (constant load)" }
                }
                (field("peak_hour", "Peak hour (0-24)", "15"))
                (field("trough", "Trough (share of peak)", "0.25"))
            }
            fieldset #anomaly {
                legend { "Anomaly (replaces the scenario's)" }
                div.grid {
                    label for="anomaly_kind" { "Kind" }
                    select #anomaly_kind name="anomaly_kind" {
                        option value="" { "none: keep the scenario's" }
                        @for k in AnomalyKind::ALL { option value=(k.as_str()) { (k.as_str()) } }
                    }
                    (field("anomaly_start", "Start (offset)", "30% into the run, e.g. 10s"))
                    (field("anomaly_duration", "Duration", "30% of the run, e.g. 1m"))
                    (field("anomaly_exporter", "Exporter index", "drawn"))
                    (field("anomaly_port", "Target port", "the kind's default"))
                }
            }
            details #sim-toml-edit {
                summary { "Or write the whole scenario (TOML, the simulator's format; the fields above still apply)" }
                textarea #toml name="toml" rows="12" cols="80" placeholder="rate = 5000\nduration = \"2m\"\n\n[[exporters]]\nprotocol = \"ipfix\"\ncount = 4" {}
                p.muted { "Leave the scenario choice on the defaults when writing one. See collector/sim/README.md." }
            }
            button type="submit" #sim-start { "Start" }
        }
    }
}

fn runs_table(runs: &[SimRunRow], sims: &Simulations) -> Markup {
    m! {
        h2 { "Runs" }
        table.data #sim-runs {
            thead { tr { th { "Run" } th { "Scenario" } th { "Target" } th { "State" } th.num { "Flows" } th.num { "Labels" } th { "Started by" } th { "Started" } } }
            tbody {
                @if runs.is_empty() { tr { td colspan="8" .muted { "No simulations yet." } } }
                @for r in runs {
                    @let (state, progress) = state_of(r, sims);
                    tr data-run-id=(r.id) data-state=(state) {
                        td { a href={ "/simulations/" (r.id) } { "#" (r.id) } }
                        td { @if r.scenario.is_empty() { "defaults" } @else { (r.scenario) } }
                        td { code { (r.target) } }
                        td.state { (state) }
                        td.num { (progress.get("flows").and_then(Value::as_u64).unwrap_or(0)) }
                        td.num { (r.labels.as_array().map_or(0, Vec::len)) }
                        td { (r.started_by) }
                        td { (r.started_at) }
                    }
                }
            }
        }
    }
}

async fn targets_section(app: &App, auth: &Auth, sims: &Simulations) -> AppResult<Markup> {
    let targets = app.db.sim_targets().await?;
    let admin = auth.role.allows(Permission::ManageSimTargets);
    Ok(m! {
        h2 { "Allowed targets" }
        p.muted { "Simulations send to " code { (sims.default_target()) } " (this appliance's collector) or to an address below. "
                  "Only admins edit this list: the simulator can generate floods." }
        table.data #sim-targets {
            thead { tr { th { "Target" } th { "Note" } th { "Added by" } th { "Added" } @if admin { th {} } } }
            tbody {
                @for t in &targets {
                    tr data-target=(t.target) {
                        td { code { (t.target) } } td { (t.note) } td { (t.added_by) } td { (t.added_at) }
                        @if admin {
                            td { form.inline method="post" action={ "/simulations/targets/" (t.id) "/delete" } {
                                (csrf_field(auth)) button.link type="submit" data-confirm="Remove this target?" { "Remove" } } }
                        }
                    }
                }
            }
        }
        @if admin {
            form.inline #target-add method="post" action="/simulations/targets" {
                (csrf_field(auth))
                input type="text" name="target" #new-target placeholder="192.0.2.10:2055" required;
                input type="text" name="note" placeholder="why";
                button type="submit" { "Allow" }
            }
        }
    })
}

async fn list_page(app: &App, auth: &Auth, sims: &Simulations, top: Markup) -> AppResult<Html> {
    let runs = app.db.sim_runs(50).await?;
    let targets = targets_section(app, auth, sims).await?;
    Ok(html(page(
        "Simulations",
        auth,
        "simulations",
        m! { (top) (start_form(auth, sims)) (runs_table(&runs, sims)) (targets) },
    )))
}

#[get("/simulations?<done>")]
async fn list(
    auth: Auth,
    app: &State<App>,
    sims: &State<Simulations>,
    done: Option<&str>,
) -> AppResult<Html> {
    auth.require(Permission::RunSimulations)?;
    let top = match done {
        Some("target-added") => notice("ok", "The target was allowed."),
        Some("target-removed") => notice("ok", "The target was removed."),
        _ => m! {},
    };
    list_page(app, &auth, sims, top).await
}

#[post("/simulations", data = "<form>")]
async fn start(
    auth: Auth,
    app: &State<App>,
    sims: &State<Simulations>,
    form: CsrfForm<StartForm>,
) -> AppResult<Result<Redirect, (Status, Html)>> {
    auth.require(Permission::RunSimulations)?;
    let started = match form.0.request() {
        Ok(req) => sims.start(app, &auth, &req).await,
        Err(e) => Err(e),
    };
    match started {
        Ok(id) => Ok(Ok(Redirect::to(format!("/simulations/{id}")))),
        // Refusals (target, budget, scenario) are shown above the form, with their status.
        Err(e @ (AppError::BadRequest(_) | AppError::Forbidden(_) | AppError::Conflict(_))) => {
            let (status, msg) = e.status_and_message();
            let top = m! { div.notice.error #sim-error data-test="notice-error" { (msg) } };
            Ok(Err((status, list_page(app, &auth, sims, top).await?)))
        }
        Err(e) => Err(e),
    }
}

#[get("/simulations/<id>")]
async fn run(auth: Auth, app: &State<App>, sims: &State<Simulations>, id: i64) -> AppResult<Html> {
    auth.require(Permission::RunSimulations)?;
    let row = app.db.sim_run(id).await?.ok_or(AppError::NotFound)?;
    let v = crate::simulations::run_json(&row, sims.live(id));
    let state = f(&v, "state").as_str().unwrap_or("").to_string();
    let p = f(&v, "progress");
    let num = |k: &str| p.get(k).and_then(Value::as_f64).unwrap_or(0.0);
    let lat = &p["lateness_us"];
    let empty = Vec::new();
    let labels = f(&v, "labels").as_array().unwrap_or(&empty);
    Ok(html(page(
        &format!("Simulation #{id}"),
        &auth,
        "simulations",
        m! {
            p { a href="/simulations" { "All simulations" } }
            div.card #sim-run data-api={ "/api/v1/simulations/" (id) } data-state=(state) {
                dl.facts {
                    dt { "State" } dd #sim-state { (state) }
                    dt { "Scenario" } dd { @if row.scenario.is_empty() { "defaults" } @else { (row.scenario) } }
                    dt { "Target" } dd { code { (row.target) } }
                    dt { "Flows generated" } dd #sim-flows data-flows=(num("flows")) { (num("flows")) }
                    dt { "Flows sent (accepted by the socket)" } dd #sim-sent { (num("flows_sent")) }
                    dt { "Datagrams" } dd #sim-datagrams { (num("datagrams")) }
                    dt { "Rate achieved" } dd #sim-rate { (format!("{:.0}", num("flows_per_s"))) " flows/s" }
                    dt { "Lateness p50 / p99 / max" } dd #sim-lateness {
                        @if lat.is_object() { (f(lat, "p50")) " / " (f(lat, "p99")) " / " (f(lat, "max")) " µs" } @else { "—" }
                    }
                    dt { "Elapsed" } dd #sim-elapsed { (format!("{:.1}", num("wall_seconds"))) " s" }
                    dt { "Started" } dd { (row.started_at) " by " (row.started_by) }
                    @if let Some(e) = &row.error { dt { "Error" } dd #sim-error-text { (e) } }
                }
                @if state == "running" {
                    form.inline #sim-stop-form method="post" action={ "/simulations/" (id) "/stop" } {
                        (csrf_field(&auth))
                        button type="submit" #sim-stop { "Stop" }
                    }
                }
            }
            h2 { "Ground truth" }
            table.data #sim-labels {
                thead { tr { th { "Kind" } th { "From" } th { "To" } th { "Exporter" } th.num { "Flows" } th { "Dashboard" } } }
                tbody {
                    @if labels.is_empty() { tr.empty { td colspan="6" .muted { "No anomaly has begun yet." } } }
                    @for l in labels {
                        tr data-kind=(f(l, "kind").as_str().unwrap_or("")) {
                            td { (f(l, "kind").as_str().unwrap_or("")) }
                            td { (f(l, "start").as_str().unwrap_or("")) }
                            td { (f(l, "end").as_str().unwrap_or("")) }
                            td { (f(l, "exporter").as_str().unwrap_or("")) }
                            td.num { (f(l, "flows")) }
                            td { @if let Some(link) = dashboard_link(l) { a.label-link href=(link) { "Overview of the window" } } }
                        }
                    }
                }
            }
            details { summary { "Scenario (TOML)" } pre #sim-toml { (row.scenario_toml) } }
            script src="/static/simulations.js" defer {}
        },
    )))
}

#[post("/simulations/<id>/stop", data = "<_form>")]
async fn stop(
    auth: Auth,
    app: &State<App>,
    sims: &State<Simulations>,
    id: i64,
    _form: CsrfForm<super::account::Confirm>,
) -> AppResult<Redirect> {
    match sims.stop(app, &auth, id).await {
        // Already over: the page shows how it ended.
        Ok(()) | Err(AppError::Conflict(_)) => Ok(Redirect::to(format!("/simulations/{id}"))),
        Err(e) => Err(e),
    }
}

/// An allow-list addition.
#[derive(Debug, FromForm)]
pub struct TargetForm {
    target: String,
    note: String,
}

#[post("/simulations/targets", data = "<form>")]
async fn target_add(
    auth: Auth,
    app: &State<App>,
    sims: &State<Simulations>,
    form: CsrfForm<TargetForm>,
) -> AppResult<Redirect> {
    sims.add_target(app, &auth, &form.0.target, &form.0.note).await?;
    Ok(Redirect::to("/simulations?done=target-added"))
}

#[post("/simulations/targets/<id>/delete", data = "<_form>")]
async fn target_remove(
    auth: Auth,
    app: &State<App>,
    sims: &State<Simulations>,
    id: i64,
    _form: CsrfForm<super::account::Confirm>,
) -> AppResult<Redirect> {
    sims.remove_target(app, &auth, id).await?;
    Ok(Redirect::to("/simulations?done=target-removed"))
}
