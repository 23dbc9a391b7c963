//! `PUT /api/v1/exporters/<addr>/name`: an exporter's display name and notes, and the
//! operation the exporter page's form shares with it.
//!
//! Operators and admins (`NameExporters`), for exporters inside their scope only: an
//! exporter outside it is answered 404, as when reading it.

use crate::auth::{Auth, Permission};
use crate::error::{AppError, AppResult};
use crate::App;
use rocket::serde::json::Json;
use rocket::{put, routes, Route, State};
use serde::Deserialize;
use serde_json::{json, Value};
use std::net::IpAddr;

/// The routes of this module.
pub fn routes() -> Vec<Route> {
    routes![exporter_name]
}

/// Longest display name.
pub const MAX_NAME: usize = 100;
/// Longest notes.
pub const MAX_NOTES: usize = 4000;

/// Sets the display name (blank clears it) and notes of `exporter`; audited.
pub async fn set_name(
    app: &App,
    auth: &Auth,
    exporter: IpAddr,
    display_name: &str,
    notes: &str,
) -> AppResult<()> {
    auth.require(Permission::NameExporters)?;
    let name = display_name.trim();
    let notes = notes.trim();
    if name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
        return Err(AppError::BadRequest(format!(
            "display names have at most {MAX_NAME} printable characters"
        )));
    }
    if notes.chars().count() > MAX_NOTES {
        return Err(AppError::BadRequest(format!("notes have at most {MAX_NOTES} characters")));
    }
    let name = Some(name).filter(|n| !n.is_empty());
    let (old_name, old_notes) =
        app.db.set_exporter_name(auth.scope(), exporter, name, notes, &auth.username).await?;
    let details = json!({"display_name": name, "notes": notes,
                         "before": {"display_name": old_name, "notes": old_notes}});
    crate::actions::audit(app, auth, "exporter.name", &exporter.to_string(), true, details).await;
    Ok(())
}

/// Body of a name change.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NameBody {
    /// Blank or absent clears the name.
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    notes: Option<String>,
}

#[put("/exporters/<addr>/name", data = "<body>")]
async fn exporter_name(
    auth: Auth,
    app: &State<App>,
    addr: &str,
    body: Json<NameBody>,
) -> AppResult<Json<Value>> {
    let ip: IpAddr = addr.parse().map_err(|_| AppError::NotFound)?;
    let b = body.into_inner();
    set_name(app, &auth, ip, b.display_name.as_deref().unwrap_or(""), b.notes.as_deref().unwrap_or(""))
        .await?;
    let e = app.db.exporter(auth.scope(), ip).await?.ok_or(AppError::NotFound)?;
    Ok(Json(json!({"exporter": e.exporter, "display_name": e.display_name, "notes": e.notes})))
}
