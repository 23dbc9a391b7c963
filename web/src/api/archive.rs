//! `/api/v1/archive`: the flow archive for admins (docs/archive.md) — its status per
//! partition, the store's configuration as the collector read it (never the secret),
//! retention blocked by it, and restores (load archived rows back for flow search and
//! statistics, and remove them again). The archive page uses the same operations.

use crate::auth::{Auth, Permission};
use crate::data::archive::ArchiveOverview;
use crate::error::{AppError, AppResult};
use crate::App;
use flowvision_archive::restore::RestoreReport;
use flowvision_codec::time::parse_rfc3339_ms;
use rocket::http::Status;
use rocket::serde::json::Json;
use rocket::{delete, get, post, routes, Route, State};
use serde::Deserialize;
use serde_json::{json, Value};

/// The routes of this module.
pub fn routes() -> Vec<Route> {
    routes![archive, restore_create, restore_delete]
}

/// The longest range one restore may load (a restore is for an investigation, not for
/// bringing the archive back wholesale).
pub const MAX_RESTORE_DAYS: i64 = 31;

/// The archive's state (admins).
pub async fn overview(app: &App, auth: &Auth) -> AppResult<ArchiveOverview> {
    auth.require(Permission::ManageArchive)?;
    Ok(app.db.archive_overview(app.cfg.archive.is_some(), app.cfg.retention_days).await?)
}

/// Restores `[from, to)` (RFC 3339 times or dates); audited.
pub async fn restore(app: &App, auth: &Auth, from: &str, to: &str) -> AppResult<RestoreReport> {
    auth.require(Permission::ManageArchive)?;
    let cfg = app.cfg.archive.as_ref().ok_or_else(|| {
        AppError::Conflict(
            "the archive is not configured for the console (USE_EXTERNAL_STORAGE, MINIO_*)".into(),
        )
    })?;
    let time = |name: &str, v: &str| {
        parse_rfc3339_ms(v)
            .ok_or_else(|| AppError::BadRequest(format!("{name}: expected an RFC 3339 time or a date")))
    };
    let (from_ms, to_ms) = (time("from", from)?, time("to", to)?);
    if from_ms >= to_ms {
        return Err(AppError::BadRequest("from must be before to".into()));
    }
    if to_ms - from_ms > MAX_RESTORE_DAYS * flowvision_schema::DAY_MS {
        return Err(AppError::BadRequest(format!("a restore covers at most {MAX_RESTORE_DAYS} days")));
    }
    let result = app.db.archive_restore(cfg, from_ms, to_ms, &auth.username).await;
    let details = json!({"from": from, "to": to, "error": result.as_ref().err().map(|e| e.to_string())});
    crate::actions::audit(app, auth, "archive.restore", &format!("{from}..{to}"), result.is_ok(), details)
        .await;
    Ok(result?)
}

/// Removes restore `id`'s rows; audited.
pub async fn unrestore(app: &App, auth: &Auth, id: i64) -> AppResult<u64> {
    auth.require(Permission::ManageArchive)?;
    let result = app.db.archive_unrestore(id).await;
    let details = json!({"rows": result.as_ref().ok()});
    crate::actions::audit(app, auth, "archive.unrestore", &id.to_string(), result.is_ok(), details).await;
    Ok(result?)
}

#[get("/archive")]
async fn archive(auth: Auth, app: &State<App>) -> AppResult<Json<ArchiveOverview>> {
    Ok(Json(overview(app, &auth).await?))
}

/// Body of a restore.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RestoreBody {
    from: String,
    to: String,
}

#[post("/archive/restores", data = "<body>")]
async fn restore_create(
    auth: Auth,
    app: &State<App>,
    body: Json<RestoreBody>,
) -> AppResult<(Status, Json<Value>)> {
    let b = body.into_inner();
    let r = restore(app, &auth, &b.from, &b.to).await?;
    Ok((Status::Created, Json(json!({"id": r.id, "objects": r.objects, "rows": r.rows}))))
}

#[delete("/archive/restores/<id>")]
async fn restore_delete(auth: Auth, app: &State<App>, id: i64) -> AppResult<Json<Value>> {
    let rows = unrestore(app, &auth, id).await?;
    Ok(Json(json!({"id": id, "removed_rows": rows})))
}
