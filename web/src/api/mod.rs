//! The JSON API under `/api/v1` (documented in [`crate::openapi`]).
//!
//! Authentication: a session cookie (writes then need `X-CSRF-Token`) or
//! `Authorization: Bearer fvt_...`. Every handler takes an [`Auth`] guard; exporter
//! data is read with its scope.

pub mod contract;

use crate::actions::{self, UserInput};
use crate::auth::{Auth, PendingAuth, Permission, Role};
use crate::data::accounts::UserUpdate;
use crate::data::dash::TopKind;
use crate::error::{AppError, AppResult};
use crate::params::{DashParams, FlowParams};
use crate::App;
use rocket::http::{ContentType, Header, Status};
use rocket::serde::json::Json;
use rocket::{delete, get, patch, post, put, routes, Route, State};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::net::IpAddr;

pub mod archive;
pub mod archive_openapi;
pub mod exporter_names;
pub mod hosts;
pub mod insights;
pub mod insights_openapi;
pub mod mibs;
pub mod mibs_openapi;
pub mod rules;
pub mod rules_openapi;
pub mod simulations;
pub mod snmp;
pub mod snmp_openapi;
pub mod stats;

/// Every route of the API (mounted at `/api/v1`).
pub fn routes() -> Vec<Route> {
    let mut r = simulations::routes();
    r.extend(stats::routes());
    r.extend(rules::routes());
    r.extend(exporter_names::routes());
    r.extend(archive::routes());
    r.extend(mibs::routes());
    r.extend(snmp::routes());
    r.extend(insights::routes());
    r.extend(hosts::routes());
    r.extend(routes![
        me,
        me_password,
        traffic,
        top_talkers,
        top_services,
        top_protocols,
        top_as,
        exporters,
        exporter,
        exporter_pattern,
        interface_pattern,
        interfaces,
        interface_traffic,
        flows,
        flows_export,
        collector_stats,
        tokens,
        token_create,
        token_revoke,
        users,
        user_create,
        user_get,
        user_update,
        user_delete,
        user_reset_password,
        user_unlock,
        user_revoke_sessions,
        groups,
        group_create,
        group_update,
        group_delete,
        audit,
    ]);
    r
}

type JsonResult = AppResult<Json<Value>>;

fn to_json<T: Serialize>(v: &T) -> JsonResult {
    serde_json::to_value(v).map(Json).map_err(|e| AppError::Internal(e.to_string()))
}

fn parse_exporter(addr: &str) -> AppResult<IpAddr> {
    addr.parse().map_err(|_| AppError::NotFound)
}

/// The caller, their role, scope and permissions.
#[get("/me")]
async fn me(auth: PendingAuth) -> JsonResult {
    let a = auth.0;
    let perms: Vec<&str> = [
        (Permission::ViewDashboards, "dashboards"),
        (Permission::SearchFlows, "flows"),
        (Permission::AcknowledgeInsights, "insights_acknowledge"),
        (Permission::ViewCollectorStats, "collector_stats"),
        (Permission::ManageUsers, "users"),
        (Permission::ViewAudit, "audit"),
        (Permission::RunSimulations, "simulations"),
        (Permission::ManageSimTargets, "simulation_targets"),
        (Permission::ManageRules, "rules"),
        (Permission::NameExporters, "exporter_names"),
        (Permission::BrowseMibs, "mibs"),
        (Permission::ManageMibs, "mib_uploads"),
        (Permission::PollSnmp, "snmp_poll"),
        (Permission::ManageSnmp, "snmp_credentials"),
    ]
    .into_iter()
    .filter(|(p, _)| a.role.allows(*p))
    .map(|(_, n)| n)
    .collect();
    let prefixes: Vec<String> = a.scope().granted().iter().map(|p| p.to_string()).collect();
    Ok(Json(json!({
        "id": a.id,
        "username": a.username,
        "role": a.role,
        "must_change_password": a.must_change_password,
        "scope": {"all": a.scope().is_all(), "prefixes": prefixes},
        "permissions": perms,
        "auth": if a.is_token() { "token" } else { "session" },
    })))
}

/// Body of a password change.
#[derive(Debug, Deserialize)]
struct PasswordChange {
    current_password: String,
    new_password: String,
}

#[post("/me/password", data = "<body>")]
async fn me_password(auth: PendingAuth, app: &State<App>, body: Json<PasswordChange>) -> AppResult<Status> {
    let a = auth.0;
    if a.is_token() {
        return Err(AppError::Forbidden("passwords are changed from a logged-in session".into()));
    }
    // The session is rotated: the API caller must log in again (its cookie is gone).
    actions::change_password(app, &a, &body.current_password, &body.new_password).await?;
    Ok(Status::NoContent)
}

#[get("/traffic?<q..>")]
async fn traffic(auth: Auth, app: &State<App>, q: DashParams) -> JsonResult {
    auth.require(Permission::ViewDashboards)?;
    to_json(&app.db.traffic(auth.scope(), &q.window()?, &q.filter()?).await?)
}

#[get("/top/talkers?<q..>")]
async fn top_talkers(auth: Auth, app: &State<App>, q: DashParams) -> JsonResult {
    auth.require(Permission::ViewDashboards)?;
    let kind = TopKind::Talkers { dst: q.talker_dst()? };
    to_json(&app.db.top(auth.scope(), &q.window()?, &q.filter()?, kind, q.limit()).await?)
}

#[get("/top/services?<q..>")]
async fn top_services(auth: Auth, app: &State<App>, q: DashParams) -> JsonResult {
    auth.require(Permission::ViewDashboards)?;
    to_json(&app.db.top(auth.scope(), &q.window()?, &q.filter()?, TopKind::Services, q.limit()).await?)
}

#[get("/top/protocols?<q..>")]
async fn top_protocols(auth: Auth, app: &State<App>, q: DashParams) -> JsonResult {
    auth.require(Permission::ViewDashboards)?;
    to_json(&app.db.top(auth.scope(), &q.window()?, &q.filter()?, TopKind::Protocols, q.limit()).await?)
}

#[get("/top/as?<q..>")]
async fn top_as(auth: Auth, app: &State<App>, q: DashParams) -> JsonResult {
    auth.require(Permission::ViewDashboards)?;
    let kind = TopKind::As(q.as_side()?);
    to_json(&app.db.top(auth.scope(), &q.window()?, &q.filter()?, kind, q.limit()).await?)
}

#[get("/exporters")]
async fn exporters(auth: Auth, app: &State<App>) -> JsonResult {
    auth.require(Permission::ViewDashboards)?;
    let mut list = app.db.exporters(auth.scope()).await?;
    app.snmp.fill_identity(&app.mibs, &mut list);
    to_json(&json!({ "exporters": list }))
}

#[get("/exporters/<addr>")]
async fn exporter(auth: Auth, app: &State<App>, addr: &str) -> JsonResult {
    auth.require(Permission::ViewDashboards)?;
    let ip = parse_exporter(addr)?;
    let mut e = app.db.exporter(auth.scope(), ip).await?.ok_or(AppError::NotFound)?;
    app.snmp.fill_identity(&app.mibs, std::slice::from_mut(&mut e));
    to_json(&e)
}

#[get("/exporters/<addr>/pattern")]
async fn exporter_pattern(auth: Auth, app: &State<App>, addr: &str) -> JsonResult {
    auth.require(Permission::ViewDashboards)?;
    let ip = parse_exporter(addr)?;
    if !auth.scope().allows(ip) {
        return Err(AppError::NotFound);
    }
    let now = crate::data::insights::unix_ms(time::OffsetDateTime::now_utc());
    to_json(&crate::pattern::exporter_pattern(&app.db, ip, None, now, &app.cfg.insight_thresholds).await?)
}

#[get("/exporters/<addr>/interfaces/<ifindex>/pattern")]
async fn interface_pattern(auth: Auth, app: &State<App>, addr: &str, ifindex: &str) -> JsonResult {
    auth.require(Permission::ViewDashboards)?;
    let ip = parse_exporter(addr)?;
    // ifIndex 0 is no interface (the exporter did not know it).
    let ifindex: u32 = ifindex.parse().ok().filter(|i| *i > 0).ok_or(AppError::NotFound)?;
    if !auth.scope().allows(ip) {
        return Err(AppError::NotFound);
    }
    let now = crate::data::insights::unix_ms(time::OffsetDateTime::now_utc());
    to_json(
        &crate::pattern::exporter_pattern(&app.db, ip, Some(ifindex), now, &app.cfg.insight_thresholds)
            .await?,
    )
}

#[get("/exporters/<addr>/interfaces?<q..>")]
async fn interfaces(auth: Auth, app: &State<App>, addr: &str, q: DashParams) -> JsonResult {
    auth.require(Permission::ViewDashboards)?;
    let ip = parse_exporter(addr)?;
    if !auth.scope().allows(ip) {
        return Err(AppError::NotFound);
    }
    let w = q.window()?;
    let rows = app.db.interfaces(auth.scope(), &w, ip, q.limit.unwrap_or(1000)).await?;
    to_json(&json!({
        "exporter": ip.to_string(),
        "from": crate::data::ts(w.from),
        "to": crate::data::ts(w.to),
        "resolution": w.resolution.suffix(),
        "interfaces": rows,
    }))
}

#[get("/exporters/<addr>/interfaces/<ifindex>/traffic?<q..>")]
async fn interface_traffic(
    auth: Auth,
    app: &State<App>,
    addr: &str,
    ifindex: &str,
    q: DashParams,
) -> JsonResult {
    auth.require(Permission::ViewDashboards)?;
    let ip = parse_exporter(addr)?;
    // Parsed here, not by Rocket (whose failed parse answers 422): no such interface.
    let ifindex: u32 = ifindex.parse().map_err(|_| AppError::NotFound)?;
    if !auth.scope().allows(ip) {
        return Err(AppError::NotFound);
    }
    to_json(&app.db.interface_traffic(auth.scope(), &q.window()?, ip, i64::from(ifindex)).await?)
}

#[get("/flows?<q..>")]
async fn flows(auth: Auth, app: &State<App>, q: FlowParams) -> JsonResult {
    auth.require(Permission::SearchFlows)?;
    to_json(&app.db.search_flows(auth.scope(), &q.query()?).await?)
}

/// A CSV download.
pub struct Csv {
    body: String,
    truncated: bool,
    filename: String,
}

impl<'r> rocket::response::Responder<'r, 'static> for Csv {
    fn respond_to(self, _req: &'r rocket::Request<'_>) -> rocket::response::Result<'static> {
        rocket::Response::build()
            .header(ContentType::new("text", "csv").with_params(("charset", "utf-8")))
            .header(Header::new("Content-Disposition", format!("attachment; filename=\"{}\"", self.filename)))
            .header(Header::new("X-FlowVision-Truncated", if self.truncated { "true" } else { "false" }))
            .sized_body(self.body.len(), std::io::Cursor::new(self.body))
            .ok()
    }
}

impl Csv {
    /// A CSV download of `body` named `filename`.
    pub fn new(body: String, truncated: bool, filename: String) -> Self {
        Csv { body, truncated, filename }
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The CSV export of a flow search (shared with the flow-search page's link).
pub async fn export_csv(app: &App, auth: &Auth, q: &FlowParams) -> AppResult<Csv> {
    auth.require(Permission::SearchFlows)?;
    let (rows, truncated) = app.db.export_flows(auth.scope(), &q.query()?).await?;
    let mut body = crate::data::flows::CSV_COLUMNS.join(",");
    body.push('\n');
    for r in &rows {
        let fields: Vec<String> = r.csv_fields().iter().map(|f| csv_field(f)).collect();
        body.push_str(&fields.join(","));
        body.push('\n');
    }
    let stamp = time::OffsetDateTime::now_utc().unix_timestamp();
    Ok(Csv { body, truncated, filename: format!("flows-{stamp}.csv") })
}

#[get("/flows/export?<q..>")]
async fn flows_export(auth: Auth, app: &State<App>, q: FlowParams) -> AppResult<Csv> {
    export_csv(app, &auth, &q).await
}

#[get("/collector/stats")]
async fn collector_stats(auth: Auth, app: &State<App>) -> JsonResult {
    auth.require(Permission::ViewCollectorStats)?;
    to_json(&app.db.collector_stats().await?)
}

#[get("/tokens")]
async fn tokens(auth: Auth, app: &State<App>) -> JsonResult {
    to_json(&json!({ "tokens": app.db.tokens(auth.id).await? }))
}

/// Body of a token creation.
#[derive(Debug, Deserialize)]
struct TokenCreate {
    name: String,
    expires_days: Option<u32>,
}

#[post("/tokens", data = "<body>")]
async fn token_create(
    auth: Auth,
    app: &State<App>,
    body: Json<TokenCreate>,
) -> AppResult<(Status, Json<Value>)> {
    let (id, value) = actions::create_token(app, &auth, &body.name, body.expires_days).await?;
    Ok((Status::Created, Json(json!({ "id": id, "name": body.name.trim(), "token": value }))))
}

#[delete("/tokens/<id>")]
async fn token_revoke(auth: Auth, app: &State<App>, id: i64) -> AppResult<Status> {
    actions::revoke_token(app, &auth, id).await?;
    Ok(Status::NoContent)
}

#[get("/users")]
async fn users(auth: Auth, app: &State<App>) -> JsonResult {
    auth.require(Permission::ManageUsers)?;
    to_json(&json!({ "users": app.db.users(&actions::POLICY).await? }))
}

/// Body of a user creation.
#[derive(Debug, Deserialize)]
struct UserCreate {
    username: String,
    role: String,
    #[serde(default)]
    all_exporters: bool,
    #[serde(default)]
    prefixes: Vec<String>,
    #[serde(default)]
    groups: Vec<i64>,
    password: Option<String>,
}

fn prefixes(v: &[String]) -> AppResult<Vec<crate::net::Prefix>> {
    v.iter()
        .map(|s| crate::net::parse(s).map_err(|e| AppError::BadRequest(format!("prefixes: {e}"))))
        .collect()
}

#[post("/users", data = "<body>")]
async fn user_create(
    auth: Auth,
    app: &State<App>,
    body: Json<UserCreate>,
) -> AppResult<(Status, Json<Value>)> {
    auth.require(Permission::ManageUsers)?;
    let b = body.into_inner();
    let input = UserInput {
        username: b.username,
        role: b.role,
        all_exporters: b.all_exporters,
        prefixes: prefixes(&b.prefixes)?,
        groups: b.groups,
        password: b.password,
    };
    let (id, otp) = actions::create_user(app, &auth, input).await?;
    Ok((Status::Created, Json(json!({ "id": id, "one_time_password": otp }))))
}

#[get("/users/<id>")]
async fn user_get(auth: Auth, app: &State<App>, id: i64) -> JsonResult {
    auth.require(Permission::ManageUsers)?;
    to_json(&app.db.user(id, &actions::POLICY).await?.ok_or(AppError::NotFound)?)
}

/// Body of a user change (absent fields are kept).
#[derive(Debug, Deserialize)]
struct UserPatch {
    role: Option<String>,
    all_exporters: Option<bool>,
    disabled: Option<bool>,
    prefixes: Option<Vec<String>>,
    groups: Option<Vec<i64>>,
}

#[patch("/users/<id>", data = "<body>")]
async fn user_update(auth: Auth, app: &State<App>, id: i64, body: Json<UserPatch>) -> AppResult<Status> {
    auth.require(Permission::ManageUsers)?;
    let b = body.into_inner();
    let upd = UserUpdate {
        role: b.role.as_deref().map(actions::parse_role).transpose()?,
        all_exporters: b.all_exporters,
        disabled: b.disabled,
        prefixes: b.prefixes.as_deref().map(prefixes).transpose()?,
        groups: b.groups,
    };
    actions::update_user(app, &auth, id, upd).await?;
    Ok(Status::NoContent)
}

#[delete("/users/<id>")]
async fn user_delete(auth: Auth, app: &State<App>, id: i64) -> AppResult<Status> {
    actions::delete_user(app, &auth, id).await?;
    Ok(Status::NoContent)
}

#[post("/users/<id>/password-reset")]
async fn user_reset_password(auth: Auth, app: &State<App>, id: i64) -> JsonResult {
    let pw = actions::reset_password(app, &auth, id).await?;
    Ok(Json(json!({ "one_time_password": pw })))
}

#[post("/users/<id>/unlock")]
async fn user_unlock(auth: Auth, app: &State<App>, id: i64) -> AppResult<Status> {
    actions::unlock(app, &auth, id).await?;
    Ok(Status::NoContent)
}

#[delete("/users/<id>/sessions")]
async fn user_revoke_sessions(auth: Auth, app: &State<App>, id: i64) -> JsonResult {
    let n = actions::revoke_sessions(app, &auth, id).await?;
    Ok(Json(json!({ "sessions_ended": n })))
}

#[get("/groups")]
async fn groups(auth: Auth, app: &State<App>) -> JsonResult {
    auth.require(Permission::ManageUsers)?;
    to_json(&json!({ "groups": app.db.groups().await? }))
}

/// Body of a group creation or replacement.
#[derive(Debug, Deserialize)]
struct GroupBody {
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    prefixes: Vec<String>,
}

#[post("/groups", data = "<body>")]
async fn group_create(
    auth: Auth,
    app: &State<App>,
    body: Json<GroupBody>,
) -> AppResult<(Status, Json<Value>)> {
    let p = prefixes(&body.prefixes)?;
    let id = actions::create_group(app, &auth, &body.name, &body.description, &p).await?;
    Ok((Status::Created, Json(json!({ "id": id }))))
}

#[put("/groups/<id>", data = "<body>")]
async fn group_update(auth: Auth, app: &State<App>, id: i64, body: Json<GroupBody>) -> AppResult<Status> {
    let p = prefixes(&body.prefixes)?;
    actions::update_group(app, &auth, id, &body.name, &body.description, &p).await?;
    Ok(Status::NoContent)
}

#[delete("/groups/<id>")]
async fn group_delete(auth: Auth, app: &State<App>, id: i64) -> AppResult<Status> {
    actions::delete_group(app, &auth, id).await?;
    Ok(Status::NoContent)
}

#[get("/audit?<before>&<limit>&<action>")]
async fn audit(
    auth: Auth,
    app: &State<App>,
    before: Option<i64>,
    limit: Option<i64>,
    action: Option<&str>,
) -> JsonResult {
    auth.require(Permission::ViewAudit)?;
    let entries = app.db.audit_log(before, limit.unwrap_or(100), action.filter(|a| !a.is_empty())).await?;
    to_json(&json!({ "entries": entries }))
}

/// Roles for documentation and forms.
pub fn role_names() -> Vec<&'static str> {
    Role::ALL.iter().map(|r| r.as_str()).collect()
}
