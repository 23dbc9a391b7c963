//! `/api/v1/simulations` and `/api/v1/simulation-targets` (docs/simulations.md).
//! Operators and admins list, start, watch and stop runs; admins keep the allow-list
//! of targets besides the appliance's collector.

use crate::auth::{Auth, Permission};
use crate::error::{AppError, AppResult};
use crate::simulations::{bundled_description, run_json, Simulations, StartRequest, BUNDLED};
use crate::App;
use rocket::http::Status;
use rocket::serde::json::Json;
use rocket::{delete, get, post, routes, Route, State};
use serde::Deserialize;
use serde_json::{json, Value};

/// The routes (mounted at `/api/v1`).
pub fn routes() -> Vec<Route> {
    routes![list, start, get_run, stop, scenarios, targets, target_add, target_remove]
}

type JsonResult = AppResult<Json<Value>>;

/// Runs, newest first (running ones with live progress), and the budget.
#[get("/simulations?<limit>")]
async fn list(auth: Auth, app: &State<App>, sims: &State<Simulations>, limit: Vec<&str>) -> JsonResult {
    auth.require(Permission::RunSimulations)?;
    // Strict, as documented: one integer in 1..=1000 (no null, no repeats, no clamping).
    let limit = match limit.as_slice() {
        [] => 50,
        [one] => one
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or_else(|| AppError::BadRequest("limit: an integer from 1 to 1000".into()))?,
        _ => return Err(AppError::BadRequest("limit: given more than once".into())),
    };
    let rows = app.db.sim_runs(limit).await?;
    let runs: Vec<Value> = rows.iter().map(|r| run_json(r, sims.live(r.id))).collect();
    Ok(Json(json!({
        "runs": runs,
        "rate_budget": sims.budget(),
        "rate_in_use": sims.rate_in_use(),
        "default_target": sims.default_target().to_string(),
    })))
}

#[post("/simulations", data = "<body>")]
async fn start(
    auth: Auth,
    app: &State<App>,
    sims: &State<Simulations>,
    body: Json<StartRequest>,
) -> AppResult<(Status, Json<Value>)> {
    let id = sims.start(app, &auth, &body).await?;
    let row = app.db.sim_run(id).await?.ok_or(AppError::NotFound)?;
    Ok((Status::Created, Json(run_json(&row, sims.live(id)))))
}

#[get("/simulations/<id>")]
async fn get_run(auth: Auth, app: &State<App>, sims: &State<Simulations>, id: i64) -> JsonResult {
    auth.require(Permission::RunSimulations)?;
    let row = app.db.sim_run(id).await?.ok_or(AppError::NotFound)?;
    Ok(Json(run_json(&row, sims.live(id))))
}

#[post("/simulations/<id>/stop")]
async fn stop(auth: Auth, app: &State<App>, sims: &State<Simulations>, id: i64) -> JsonResult {
    sims.stop(app, &auth, id).await?;
    let row = app.db.sim_run(id).await?.ok_or(AppError::NotFound)?;
    Ok(Json(run_json(&row, sims.live(id))))
}

/// The bundled scenarios, as TOML.
#[get("/simulations/scenarios")]
async fn scenarios(auth: Auth) -> JsonResult {
    auth.require(Permission::RunSimulations)?;
    let list: Vec<Value> = BUNDLED
        .iter()
        .map(|(n, t)| json!({"name": n, "description": bundled_description(t), "toml": t}))
        .collect();
    Ok(Json(json!({ "scenarios": list })))
}

/// The allow-list (operators see it, to know where they may send).
#[get("/simulation-targets")]
async fn targets(auth: Auth, app: &State<App>, sims: &State<Simulations>) -> JsonResult {
    auth.require(Permission::RunSimulations)?;
    Ok(Json(json!({
        "default_target": sims.default_target().to_string(),
        "targets": app.db.sim_targets().await?,
    })))
}

/// Body of an allow-list addition.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TargetBody {
    target: String,
    #[serde(default)]
    note: String,
}

#[post("/simulation-targets", data = "<body>")]
async fn target_add(
    auth: Auth,
    app: &State<App>,
    sims: &State<Simulations>,
    body: Json<TargetBody>,
) -> AppResult<(Status, Json<Value>)> {
    let (id, target) = sims.add_target(app, &auth, &body.target, &body.note).await?;
    Ok((Status::Created, Json(json!({"id": id, "target": target}))))
}

#[delete("/simulation-targets/<id>")]
async fn target_remove(
    auth: Auth,
    app: &State<App>,
    sims: &State<Simulations>,
    id: i64,
) -> AppResult<Status> {
    sims.remove_target(app, &auth, id).await?;
    Ok(Status::NoContent)
}

fn err(desc: &str) -> Value {
    json!({ "description": desc, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } })
}

fn ok(desc: &str, schema: Value) -> Value {
    json!({ "description": desc, "content": { "application/json": { "schema": schema } } })
}

fn op(
    id: &str,
    summary: &str,
    description: &str,
    params: Value,
    body: Option<&str>,
    responses: Value,
) -> Value {
    let mut o = json!({
        "operationId": id, "summary": summary, "description": description, "tags": ["simulations"],
        "parameters": params, "responses": responses,
    });
    if let (Some(b), Some(m)) = (body, o.as_object_mut()) {
        m.insert(
            "requestBody".into(),
            json!({ "required": true, "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{b}") } } } }),
        );
    }
    o
}

fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

/// Adds this module's paths, schemas and tag to the OpenAPI document.
pub fn document(doc: &mut Value) {
    let id = json!([{ "name": "id", "in": "path", "required": true,
                      "schema": { "type": "integer", "format": "int64" }, "description": "Run id" }]);
    let tid = json!([{ "name": "id", "in": "path", "required": true,
                       "schema": { "type": "integer", "format": "int64" }, "description": "Target id" }]);
    let ops = "Operator role or higher.";
    let paths = json!({
        "/api/v1/simulations": {
            "get": op("listSimulations", "Simulation runs", ops,
                json!([{ "name": "limit", "in": "query", "required": false,
                         "schema": { "type": "integer", "format": "int64", "minimum": 1, "maximum": 1000, "default": 50 },
                         "description": "Runs, newest first" }]), None,
                json!({ "200": ok("Runs (running ones with live progress), the rate budget", schema_ref("SimulationList")),
                        "400": err("Invalid limit"),
                        "401": err("Not authenticated"), "403": err("Not allowed (role)") })),
            "post": op("startSimulation", "Start a simulation",
                "Operator role or higher. A bundled scenario (or the simulator's defaults) edited by the fields given, \
                 sent to `target` (default: this appliance's collector; anything else must be on the allow-list). \
                 Refused with 409 when its rate would exceed SIM_RATE_BUDGET. Audited.",
                json!([]), Some("SimulationStart"),
                json!({ "201": ok("Started", schema_ref("Simulation")),
                        "400": err("Invalid scenario or target"), "401": err("Not authenticated"),
                        "403": err("Not allowed (role), or the target is not on the allow-list"),
                        "409": err("The rate budget is used up"), "422": err("Malformed body") })),
        },
        "/api/v1/simulations/{id}": {
            "get": op("getSimulation", "One run: progress and labels", ops, id.clone(), None,
                json!({ "200": ok("The run", schema_ref("Simulation")), "401": err("Not authenticated"),
                        "403": err("Not allowed (role)"), "404": err("No such run") })),
        },
        "/api/v1/simulations/{id}/stop": {
            "post": op("stopSimulation", "Stop a run", "Operator role or higher. Audited.", id, None,
                json!({ "200": ok("The stopped run", schema_ref("Simulation")), "401": err("Not authenticated"),
                        "403": err("Not allowed (role)"), "404": err("No such run"),
                        "409": err("The run is not running") })),
        },
        "/api/v1/simulations/scenarios": {
            "get": op("listSimulationScenarios", "Bundled scenarios", ops, json!([]), None,
                json!({ "200": ok("Name, description and TOML of each", schema_ref("SimulationScenarios")),
                        "401": err("Not authenticated"), "403": err("Not allowed (role)") })),
        },
        "/api/v1/simulation-targets": {
            "get": op("listSimulationTargets", "Allowed simulation targets", ops, json!([]), None,
                json!({ "200": ok("The default target and the allow-list", schema_ref("SimulationTargets")),
                        "401": err("Not authenticated"), "403": err("Not allowed (role)") })),
            "post": op("addSimulationTarget", "Allow a simulation target", "Admin role. Audited.", json!([]),
                Some("SimulationTargetNew"),
                json!({ "201": ok("Added", schema_ref("SimulationTargetCreated")), "400": err("Not ADDRESS:PORT"),
                        "401": err("Not authenticated"), "403": err("Not allowed (role)"),
                        "409": err("Already allowed"), "422": err("Malformed body") })),
        },
        "/api/v1/simulation-targets/{id}": {
            "delete": op("removeSimulationTarget", "Remove an allowed target", "Admin role. Audited.", tid, None,
                json!({ "204": { "description": "Removed" }, "401": err("Not authenticated"),
                        "403": err("Not allowed (role)"), "404": err("No such target") })),
        },
    });
    let n = |d: &str| json!({ "type": "number", "format": "double", "description": d });
    let i = |d: &str| json!({ "type": "integer", "format": "int64", "description": d });
    let s = |d: &str| json!({ "type": "string", "description": d });
    let schemas = json!({
        "SimulationStart": { "type": "object", "additionalProperties": false, "properties": {
            "scenario": { "type": "string", "enum": BUNDLED.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
                          "description": "Bundled scenario to start from (absent: the simulator's defaults)" },
            "toml": { "type": "string", "maxLength": crate::simulations::MAX_TOML,
                      "description": "A whole scenario in the simulator's TOML format, instead of `scenario`" },
            "target": { "type": "string", "description": "ADDRESS:PORT [SIM_DEFAULT_TARGET]" },
            "seed": { "type": "integer", "format": "int64", "minimum": 0 },
            "rate": { "type": "number", "format": "double", "exclusiveMinimum": true, "minimum": 0,
                      "description": "Background flows/s at the diurnal peak" },
            "duration": { "type": "string", "pattern": "^[0-9.]+(ns|us|ms|s|m|h|d)$", "description": "Wall-clock length, e.g. 30s, 5m" },
            "speedup": { "type": "number", "format": "double", "exclusiveMinimum": true, "minimum": 0 },
            "exporters": { "type": "object", "additionalProperties": false, "description": "Exporters per protocol",
                "properties": { "netflow_v5": { "type": "integer", "minimum": 0 }, "netflow_v9": { "type": "integer", "minimum": 0 },
                                "ipfix": { "type": "integer", "minimum": 0 }, "sflow_v5": { "type": "integer", "minimum": 0 } } },
            "diurnal": { "type": "object", "additionalProperties": false, "properties": {
                "enabled": { "type": "boolean" }, "peak_hour": n("0-24"), "trough": n("(0, 1]"),
                "utc_offset_hours": n("hours"), "weekend": n("(0, 1]") } },
            "anomalies": { "type": "array", "items": { "type": "object", "required": ["kind"], "additionalProperties": false, "properties": {
                "kind": { "type": "string", "enum": flowvision_sim::AnomalyKind::ALL.iter().map(|k| k.as_str()).collect::<Vec<_>>() },
                "start": s("Offset from the simulated start (90s) or RFC 3339"),
                "duration": s("Simulated length"),
                "exporter": { "type": "integer", "minimum": 0, "description": "Index of the exporter that sees it" },
                "port": { "type": "integer", "minimum": 0, "maximum": 65535 },
                "intensity": n("Floods: anomalous flows per background flow"),
                "service": { "type": "string", "enum": ["dns", "ntp", "memcached", "ssdp"] },
                "sources": { "type": "integer", "minimum": 0 }, "targets": { "type": "integer", "minimum": 0 },
                "bytes": { "type": "integer", "format": "int64", "minimum": 0 },
                "period": s("Beaconing period"), "jitter": n("Beaconing jitter (share of the period)"),
                "interface": { "type": "integer", "minimum": 1, "description": "link_failure: the ifIndex that fails (1)" } } } },
        } },
        "Simulation": { "type": "object", "required": ["id", "scenario", "target", "rate", "state", "started_by", "started_at", "progress", "labels"],
            "properties": {
                "id": i("Run id"), "scenario": s("Bundled scenario ('' for the defaults)"), "target": s("ADDRESS:PORT"),
                "rate": n("Budgeted flows/s"),
                "state": { "type": "string", "enum": ["running", "finished", "cancelled", "failed", "interrupted"] },
                "started_by": s("User"), "started_at": { "type": "string", "format": "date-time" },
                "ended_at": { "type": "string", "format": "date-time", "nullable": true },
                "error": { "type": "string", "nullable": true },
                "scenario_toml": s("The effective scenario"),
                "progress": { "type": "object", "description": "flows, datagrams, flows_sent, flows_per_s, wall_seconds, \
                    virtual_seconds, sim_time_ms, planned_flows, planned_virtual_seconds, lateness_us {p50,p90,p99,p999,max}" },
                "labels": { "type": "array", "items": { "type": "object", "description":
                    "The simulator's ground-truth label (kind, start, end, start_ms, end_ms, exporter, victims, ...) and `dashboard`: \
                     the overview over its window" } },
            } },
        "SimulationList": { "type": "object", "required": ["runs", "rate_budget", "rate_in_use", "default_target"], "properties": {
            "runs": { "type": "array", "items": schema_ref("Simulation") }, "rate_budget": n("SIM_RATE_BUDGET"),
            "rate_in_use": n("Flows/s of the running runs"), "default_target": s("SIM_DEFAULT_TARGET") } },
        "SimulationScenarios": { "type": "object", "required": ["scenarios"], "properties": { "scenarios": { "type": "array",
            "items": { "type": "object", "required": ["name", "description", "toml"],
                       "properties": { "name": s("Name"), "description": s("What it is"), "toml": s("The scenario") } } } } },
        "SimulationTargetNew": { "type": "object", "required": ["target"], "additionalProperties": false, "properties": {
            "target": s("ADDRESS:PORT (no names)"), "note": s("Why it is allowed") } },
        "SimulationTargetCreated": { "type": "object", "required": ["id", "target"], "properties": { "id": i("Id"), "target": s("As stored") } },
        "SimulationTargets": { "type": "object", "required": ["default_target", "targets"], "properties": {
            "default_target": s("Always allowed"),
            "targets": { "type": "array", "items": { "type": "object", "required": ["id", "target", "note", "added_by", "added_at"],
                "properties": { "id": i("Id"), "target": s("ADDRESS:PORT"), "note": s("Note"), "added_by": s("Admin"),
                                "added_at": { "type": "string", "format": "date-time" } } } } } },
    });
    for (key, add) in [("paths", paths), ("components/schemas", schemas)] {
        let ptr = format!("/{key}");
        if let (Some(Value::Object(target)), Value::Object(add)) = (doc.pointer_mut(&ptr), add) {
            target.extend(add);
        }
    }
    if let Some(Value::Array(tags)) = doc.get_mut("tags") {
        tags.push(json!({ "name": "simulations" }));
    }
}
