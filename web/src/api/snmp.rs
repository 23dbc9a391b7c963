//! SNMP in the API: credentials per exporter and per device group (admins; secrets
//! go in, never come out), an exporter's poll state and system group (everyone who
//! sees the exporter), and "poll now" (operators). docs/snmp.md.

use crate::auth::{Auth, Permission};
use crate::data::snmp::CredentialsOwner;
use crate::error::{AppError, AppResult};
use crate::snmp::CredentialsInput;
use crate::App;
use rocket::http::Status;
use rocket::serde::json::Json;
use rocket::{delete, get, post, put, routes, Route, State};
use serde_json::{json, Value};
use std::net::IpAddr;

/// The routes of this module.
pub fn routes() -> Vec<Route> {
    routes![
        exporter_snmp,
        exporter_snmp_set,
        exporter_snmp_delete,
        exporter_snmp_poll,
        group_snmp,
        group_snmp_set,
        group_snmp_delete
    ]
}

fn exporter_ip(addr: &str) -> AppResult<IpAddr> {
    addr.parse().map_err(|_| AppError::NotFound)
}

/// Sets credentials for `owner` from `body`; audited without secrets. Shared with
/// the exporter page's form.
pub async fn set_credentials(
    app: &App,
    auth: &Auth,
    owner: CredentialsOwner,
    body: CredentialsInput,
) -> AppResult<Value> {
    auth.require(Permission::ManageSnmp)?;
    let input = body.validate().map_err(AppError::BadRequest)?;
    if matches!(owner, CredentialsOwner::Group(_)) && input.agent.is_some() {
        return Err(AppError::BadRequest(
            "a device group's credentials apply to each exporter's own address: no agent".into(),
        ));
    }
    let sealed = app.snmp.seal(owner, &input.credentials).map_err(AppError::Unavailable)?;
    let (user, auth_p, priv_p) = match &input.credentials {
        flowvision_snmp::Credentials::V2c { .. } => (None, None, None),
        flowvision_snmp::Credentials::V3 { user, auth, privacy } => {
            (Some(user.as_str()), auth.as_ref().map(|a| a.0.as_str()), privacy.as_ref().map(|p| p.0.as_str()))
        }
    };
    let new = crate::data::snmp::NewCredentials {
        version: input.credentials.version(),
        user,
        auth_protocol: auth_p,
        priv_protocol: priv_p,
        agent: input.agent,
        port: input.port,
        sealed,
    };
    app.db.set_snmp_credentials(auth.scope(), owner, &new, &auth.username).await?;
    let target = match owner {
        CredentialsOwner::Exporter(ip) => ip.to_string(),
        CredentialsOwner::Group(id) => format!("group {id}"),
    };
    let details = json!({"credentials": input.credentials.summary(), "agent": input.agent.map(|a| a.to_string()), "port": input.port});
    crate::actions::audit(app, auth, "snmp.credentials.set", &target, true, details).await;
    Ok(json!({"version": new.version, "user": user, "auth_protocol": auth_p, "priv_protocol": priv_p,
              "agent": input.agent.map(|a| a.to_string()), "port": input.port}))
}

/// Polls `ip` now and answers with the outcome. Shared with the page's refresh button.
pub async fn poll_now(app: &App, auth: &Auth, ip: IpAddr) -> AppResult<Value> {
    auth.require(Permission::PollSnmp)?;
    if !auth.scope().allows(ip) || app.db.exporter(auth.scope(), ip).await?.is_none() {
        return Err(AppError::NotFound);
    }
    let outcome = app.snmp.poll_exporter(&app.db, ip).await?;
    crate::actions::audit(
        app,
        auth,
        "snmp.poll",
        &ip.to_string(),
        outcome.as_ref().is_some_and(|o| o.is_ok()),
        json!({}),
    )
    .await;
    match outcome {
        None => Err(AppError::Conflict("a poll of this exporter is already running".into())),
        Some(Ok(d)) => Ok(json!({
            "exporter": ip.to_string(), "status": "ok", "sys_name": d.sys_name, "sys_descr": d.sys_descr,
            "sys_object_id": d.sys_object_id, "if_x_table": d.has_if_x_table, "interfaces": d.interfaces.len(),
        })),
        Some(Err(e)) => Ok(json!({
            "exporter": ip.to_string(), "status": "error", "error_kind": e.kind.as_str(), "error": e.message,
        })),
    }
}

/// The exporter's SNMP state; admins also see which credentials apply (no secrets).
#[get("/exporters/<addr>/snmp")]
async fn exporter_snmp(auth: Auth, app: &State<App>, addr: &str) -> AppResult<Json<Value>> {
    auth.require(Permission::ViewDashboards)?;
    let ip = exporter_ip(addr)?;
    let e = app.db.exporter(auth.scope(), ip).await?.ok_or(AppError::NotFound)?;
    let id = app.snmp.identify(&app.mibs, e.sys_object_id.as_deref());
    let mut v = json!({
        "exporter": e.exporter, "sys_name": e.sys_name, "sys_descr": e.sys_descr,
        "sys_object_id": e.sys_object_id, "vendor": id.vendor, "product": id.product, "snmp": e.snmp,
    });
    if auth.role.allows(Permission::ManageSnmp) {
        let creds = app.db.snmp_credentials_for(ip).await?.map(|c| c.view());
        if let Some(o) = v.as_object_mut() {
            o.insert("credentials".into(), serde_json::to_value(creds).unwrap_or(Value::Null));
            o.insert("credentials_unavailable".into(), json!(app.snmp.unavailable()));
        }
    }
    Ok(Json(v))
}

#[put("/exporters/<addr>/snmp", data = "<body>")]
async fn exporter_snmp_set(
    auth: Auth,
    app: &State<App>,
    addr: &str,
    body: Json<CredentialsInput>,
) -> AppResult<Json<Value>> {
    auth.require(Permission::ManageSnmp)?;
    let ip = exporter_ip(addr)?;
    Ok(Json(set_credentials(app, &auth, CredentialsOwner::Exporter(ip), body.into_inner()).await?))
}

#[delete("/exporters/<addr>/snmp")]
async fn exporter_snmp_delete(auth: Auth, app: &State<App>, addr: &str) -> AppResult<Status> {
    auth.require(Permission::ManageSnmp)?;
    let ip = exporter_ip(addr)?;
    if !app.db.delete_snmp_credentials(auth.scope(), CredentialsOwner::Exporter(ip)).await? {
        return Err(AppError::NotFound);
    }
    crate::actions::audit(app, &auth, "snmp.credentials.delete", &ip.to_string(), true, json!({})).await;
    Ok(Status::NoContent)
}

#[post("/exporters/<addr>/snmp/poll")]
async fn exporter_snmp_poll(auth: Auth, app: &State<App>, addr: &str) -> AppResult<Json<Value>> {
    let ip = exporter_ip(addr)?;
    Ok(Json(poll_now(app, &auth, ip).await?))
}

/// A device group's default credentials (no secrets).
#[get("/groups/<id>/snmp")]
async fn group_snmp(auth: Auth, app: &State<App>, id: i64) -> AppResult<Json<Value>> {
    auth.require(Permission::ManageSnmp)?;
    let c = app.db.group_snmp_credentials(id).await?.ok_or(AppError::NotFound)?;
    Ok(Json(serde_json::to_value(c.view()).map_err(|e| AppError::Internal(e.to_string()))?))
}

#[put("/groups/<id>/snmp", data = "<body>")]
async fn group_snmp_set(
    auth: Auth,
    app: &State<App>,
    id: i64,
    body: Json<CredentialsInput>,
) -> AppResult<Json<Value>> {
    Ok(Json(set_credentials(app, &auth, CredentialsOwner::Group(id), body.into_inner()).await?))
}

#[delete("/groups/<id>/snmp")]
async fn group_snmp_delete(auth: Auth, app: &State<App>, id: i64) -> AppResult<Status> {
    auth.require(Permission::ManageSnmp)?;
    if !app.db.delete_snmp_credentials(auth.scope(), CredentialsOwner::Group(id)).await? {
        return Err(AppError::NotFound);
    }
    crate::actions::audit(app, &auth, "snmp.credentials.delete", &format!("group {id}"), true, json!({}))
        .await;
    Ok(Status::NoContent)
}
