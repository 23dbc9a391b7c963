//! Forwarding rules under `/api/v1/rules`, and the operations the `/rules` page
//! shares with them (checks, the change, its audit entry).
//!
//! Who: operators and admins read and change rules (`ManageRules`). A change also
//! needs an all-exporter scope: a rule matches the flows of every exporter, so an
//! operator limited to some exporters could otherwise forward the others' flows.
//! Every change goes through `flowvision_filter::rules`, whose table trigger makes
//! running collectors reload within a second, and is written to the audit log.

use crate::auth::{Auth, Permission};
use crate::data::rules::RuleView;
use crate::error::AppError;
use crate::App;
use flowvision_filter::rules::StoredRule;
use flowvision_filter::{FilterError, RuleError};
use rocket::http::{ContentType, Status};
use rocket::request::Request;
use rocket::response::{self, Responder, Response};
use rocket::serde::json::Json;
use rocket::{delete, get, patch, post, put, routes, Route, State};
use serde::Deserialize;
use serde_json::{json, Value};
use std::io::Cursor;

/// The routes of this module (mounted at `/api/v1` with the others).
pub fn routes() -> Vec<Route> {
    routes![rules_list, rule_create, rule_check, rule_get, rule_replace, rule_patch, rule_delete]
}

/// Longest rule name accepted (the CLI takes any; the console keeps names listable).
pub const MAX_NAME: usize = 64;

/// Why a rule change was refused: a plain error, or a rule that does not check (with
/// the field, and for filters the position and token, for the form to point at).
#[derive(Debug)]
pub enum RuleFailure {
    /// Permission, not found, conflict, database.
    App(AppError),
    /// The rule is invalid.
    Invalid(RuleProblem),
}

impl From<AppError> for RuleFailure {
    fn from(e: AppError) -> Self {
        RuleFailure::App(e)
    }
}

impl From<crate::data::DataError> for RuleFailure {
    fn from(e: crate::data::DataError) -> Self {
        RuleFailure::App(e.into())
    }
}

/// What is wrong with a rule, for the caller.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RuleProblem {
    /// The field at fault: `name`, `filter`, `destination`, `action` or `protocol`.
    pub field: &'static str,
    /// The message.
    pub error: String,
    /// For `filter`: byte offset of the bad token (the end when one is missing).
    pub position: Option<usize>,
    /// For `filter`: the bad token as written (empty at the end).
    pub token: Option<String>,
}

impl RuleProblem {
    fn field(field: &'static str, error: impl Into<String>) -> RuleProblem {
        RuleProblem { field, error: error.into(), position: None, token: None }
    }

    fn filter(e: &FilterError) -> RuleProblem {
        RuleProblem {
            field: "filter",
            error: e.to_string(),
            position: Some(e.pos),
            token: Some(e.token.clone()),
        }
    }

    fn of_rule_error(e: &RuleError) -> RuleProblem {
        match e {
            RuleError::Filter(f) => RuleProblem::filter(f),
            RuleError::Destination(..) => RuleProblem::field("destination", e.to_string()),
            RuleError::Invalid(m) if m.contains("re-encode protocol") => {
                RuleProblem::field("protocol", m.clone())
            }
            RuleError::Invalid(m) => RuleProblem::field("action", m.clone()),
        }
    }
}

impl<'r> Responder<'r, 'static> for RuleFailure {
    fn respond_to(self, req: &'r Request<'_>) -> response::Result<'static> {
        match self {
            RuleFailure::App(e) => e.respond_to(req),
            RuleFailure::Invalid(p) => {
                let body = json!({
                    "error": p.error, "status": 400, "field": p.field,
                    "position": p.position, "token": p.token,
                })
                .to_string();
                Response::build()
                    .status(Status::BadRequest)
                    .header(ContentType::JSON)
                    .sized_body(body.len(), Cursor::new(body))
                    .ok()
            }
        }
    }
}

/// A rule as the API and the form give it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleInput {
    /// Unique name.
    pub name: String,
    /// Filter expression.
    pub filter: String,
    /// `raw`, `transparent` (raw with the exporter's source address), `reencode` or `drop`.
    pub action: String,
    /// host:port; required except for `drop`.
    #[serde(default)]
    pub destination: Option<String>,
    /// `netflow_v9` or `ipfix`, for `reencode`.
    #[serde(default)]
    pub protocol: Option<String>,
    /// Evaluation order (then by name).
    #[serde(default)]
    pub position: i32,
    /// Active (default true).
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

fn blank_to_none(s: Option<String>) -> Option<String> {
    s.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

/// Checks a rule the way every collector will load it (filter parsed, destination
/// resolved, action consistent) and returns the row to store.
pub async fn check_rule(input: RuleInput) -> Result<StoredRule, RuleProblem> {
    let name = input.name.trim().to_string();
    if name.is_empty() || name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
        return Err(RuleProblem::field("name", format!("rule names have 1-{MAX_NAME} printable characters")));
    }
    let (action, transparent) = match input.action.trim() {
        "transparent" => ("raw".to_string(), true),
        a @ ("raw" | "reencode" | "drop") => (a.to_string(), false),
        other => {
            return Err(RuleProblem::field(
                "action",
                format!("unknown action {other:?}: expected raw, transparent, reencode or drop"),
            ))
        }
    };
    let destination = if action == "drop" { None } else { blank_to_none(input.destination) };
    let protocol = if action == "reencode" {
        blank_to_none(input.protocol)
            .map(|p| if p == "v9" || p == "netflow9" { "netflow_v9".into() } else { p })
    } else {
        None
    };
    let stored = StoredRule {
        name,
        filter: input.filter.trim().to_string(),
        destination,
        action,
        protocol,
        transparent,
        position: input.position,
        enabled: input.enabled,
    };
    // Resolving a host name blocks: off the async workers.
    let probe = stored.clone();
    let compiled = rocket::tokio::task::spawn_blocking(move || probe.compile().map(|_| ()))
        .await
        .map_err(|e| RuleProblem::field("destination", e.to_string()))?;
    compiled.map_err(|e| RuleProblem::of_rule_error(&e))?;
    Ok(stored)
}

/// Checks a filter expression alone (the form checks it as it is typed).
pub fn check_filter(filter: &str) -> Result<(), RuleProblem> {
    flowvision_filter::parse(filter).map(|_| ()).map_err(|e| RuleProblem::filter(&e))
}

/// The caller may change rules; a refusal is audited too (`success` false), since an
/// attempt to redirect flows is worth knowing about.
async fn require_change(app: &App, auth: &Auth, action: &str, target: &str) -> Result<(), AppError> {
    let refusal = match auth.require(Permission::ManageRules) {
        Err(e) => Some(e),
        Ok(()) if !auth.scope().is_all() => Some(AppError::Forbidden(
            "changing forwarding rules needs access to all exporters (a rule sees every exporter's flows)"
                .into(),
        )),
        Ok(()) => None,
    };
    match refusal {
        None => Ok(()),
        Some(e) => {
            let (_, why) = e.status_and_message();
            crate::actions::audit(app, auth, action, target, false, json!({"refused": why})).await;
            Err(e)
        }
    }
}

async fn audit(app: &App, auth: &Auth, action: &str, target: &str, details: Value) {
    crate::actions::audit(app, auth, action, target, true, details).await;
}

fn rule_details(r: &StoredRule) -> Value {
    json!({
        "filter": r.filter, "action": r.action, "destination": r.destination,
        "protocol": r.protocol, "transparent": r.transparent, "position": r.position,
        "enabled": r.enabled,
    })
}

/// Adds a rule.
pub async fn create_rule(app: &App, auth: &Auth, input: RuleInput) -> Result<StoredRule, RuleFailure> {
    require_change(app, auth, "rule.create", input.name.trim()).await?;
    let rule = check_rule(input).await.map_err(RuleFailure::Invalid)?;
    app.db.insert_rule(&rule).await?;
    audit(app, auth, "rule.create", &rule.name, rule_details(&rule)).await;
    Ok(rule)
}

/// Replaces the rule `name` (a new name in `input` renames it).
pub async fn replace_rule(
    app: &App,
    auth: &Auth,
    name: &str,
    input: RuleInput,
) -> Result<StoredRule, RuleFailure> {
    require_change(app, auth, "rule.update", name).await?;
    let before = app.db.rule(name).await?.ok_or(AppError::NotFound)?;
    let rule = check_rule(input).await.map_err(RuleFailure::Invalid)?;
    app.db.update_rule(name, &rule).await?;
    let mut details = rule_details(&rule);
    if let Some(o) = details.as_object_mut() {
        o.insert(
            "before".into(),
            json!({"name": before.name, "filter": before.filter, "action": before.action,
                   "destination": before.destination, "enabled": before.enabled}),
        );
    }
    audit(app, auth, "rule.update", &rule.name, details).await;
    Ok(rule)
}

/// Enables or disables the rule `name`.
pub async fn set_rule_enabled(app: &App, auth: &Auth, name: &str, enabled: bool) -> Result<(), AppError> {
    require_change(app, auth, if enabled { "rule.enable" } else { "rule.disable" }, name).await?;
    app.db.set_rule_enabled(name, enabled).await?;
    let action = if enabled { "rule.enable" } else { "rule.disable" };
    audit(app, auth, action, name, json!({"enabled": enabled})).await;
    Ok(())
}

/// Deletes the rule `name`.
pub async fn delete_rule(app: &App, auth: &Auth, name: &str) -> Result<(), AppError> {
    require_change(app, auth, "rule.delete", name).await?;
    let before = app.db.rule(name).await?.ok_or(AppError::NotFound)?;
    app.db.delete_rule(name).await?;
    audit(
        app,
        auth,
        "rule.delete",
        name,
        json!({"filter": before.filter, "action": before.action, "destination": before.destination}),
    )
    .await;
    Ok(())
}

fn view(r: &RuleView) -> Result<Json<Value>, AppError> {
    serde_json::to_value(r).map(Json).map_err(|e| AppError::Internal(e.to_string()))
}

#[get("/rules")]
async fn rules_list(auth: Auth, app: &State<App>) -> Result<Json<Value>, AppError> {
    auth.require(Permission::ManageRules)?;
    let rules = app.db.rules().await?;
    Ok(Json(json!({ "rules": rules })))
}

#[get("/rules/<name>")]
async fn rule_get(auth: Auth, app: &State<App>, name: &str) -> Result<Json<Value>, AppError> {
    auth.require(Permission::ManageRules)?;
    view(&app.db.rule(name).await?.ok_or(AppError::NotFound)?)
}

#[post("/rules", data = "<body>")]
async fn rule_create(
    auth: Auth,
    app: &State<App>,
    body: Json<RuleInput>,
) -> Result<(Status, Json<Value>), RuleFailure> {
    let r = create_rule(app, &auth, body.into_inner()).await?;
    let v = app.db.rule(&r.name).await?.ok_or(AppError::NotFound)?;
    Ok((Status::Created, view(&v)?))
}

#[put("/rules/<name>", data = "<body>")]
async fn rule_replace(
    auth: Auth,
    app: &State<App>,
    name: &str,
    body: Json<RuleInput>,
) -> Result<Json<Value>, RuleFailure> {
    let r = replace_rule(app, &auth, name, body.into_inner()).await?;
    Ok(view(&app.db.rule(&r.name).await?.ok_or(AppError::NotFound)?)?)
}

/// Body of `PATCH /rules/<name>`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RulePatch {
    enabled: bool,
}

#[patch("/rules/<name>", data = "<body>")]
async fn rule_patch(
    auth: Auth,
    app: &State<App>,
    name: &str,
    body: Json<RulePatch>,
) -> Result<Json<Value>, AppError> {
    set_rule_enabled(app, &auth, name, body.enabled).await?;
    view(&app.db.rule(name).await?.ok_or(AppError::NotFound)?)
}

#[delete("/rules/<name>")]
async fn rule_delete(auth: Auth, app: &State<App>, name: &str) -> Result<Status, AppError> {
    delete_rule(app, &auth, name).await?;
    Ok(Status::NoContent)
}

/// Body of `POST /rules/check`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FilterCheck {
    filter: String,
}

/// Checks a filter as it is typed: always 200, `valid` false with the position.
#[post("/rules/check", data = "<body>")]
async fn rule_check(auth: Auth, body: Json<FilterCheck>) -> Result<Json<Value>, AppError> {
    auth.require(Permission::ManageRules)?;
    Ok(Json(match check_filter(&body.filter) {
        Ok(()) => json!({"valid": true}),
        Err(p) => json!({"valid": false, "error": p.error, "position": p.position, "token": p.token}),
    }))
}
