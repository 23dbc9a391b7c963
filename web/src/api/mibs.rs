//! `/api/v1/mibs`: MIB modules (docs/mib.md, "Console and API"). Every role browses
//! (list, module, object, search); operators and admins upload and delete. The pages
//! of [`crate::pages::mibs`] call the same functions.

use crate::auth::{Auth, Permission};
use crate::error::{AppError, AppResult};
use crate::mibs::{
    DeleteReport, MibError, ModuleDetail, ModuleSummary, NodeView, SearchResult, UploadReport,
    MAX_UPLOAD_BYTES,
};
use crate::App;
use flowvision_mib::bundle::BundleError;
use rocket::data::{Data, ToByteUnit};
use rocket::http::Status;
use rocket::serde::json::Json;
use rocket::{delete, get, post, routes, Route, State};
use serde::Serialize;
use serde_json::json;

/// The routes of this module.
pub fn routes() -> Vec<Route> {
    routes![list, upload, module, remove, object, search]
}

/// Search results per page by default, and at most.
pub const SEARCH_LIMIT: (usize, usize) = (50, 500);

impl From<MibError> for AppError {
    fn from(e: MibError) -> AppError {
        let coded =
            |status: Status, code: &'static str, message: String| AppError::Coded { status, code, message };
        match e {
            MibError::Bundle(b) => {
                let status = match &b {
                    BundleError::TooManyEntries { .. }
                    | BundleError::FileTooLarge { .. }
                    | BundleError::TotalTooLarge { .. } => Status::PayloadTooLarge,
                    BundleError::Unsupported { .. } => Status::UnsupportedMediaType,
                    BundleError::Empty | BundleError::UnsafePath { .. } | BundleError::Corrupt { .. } => {
                        Status::BadRequest
                    }
                };
                coded(status, b.code(), b.to_string())
            }
            e @ MibError::NoModule(_) => coded(Status::UnprocessableEntity, "no_module", e.to_string()),
            MibError::NotFound => AppError::NotFound,
            e @ MibError::Base(_) => coded(Status::Conflict, "base_module", e.to_string()),
            MibError::Data(d) => d.into(),
            MibError::Task(m) => AppError::Internal(m),
        }
    }
}

/// The module list.
#[derive(Debug, Serialize)]
pub struct ModuleList {
    /// Modules, by name.
    pub modules: Vec<ModuleSummary>,
    /// Named nodes in the tree.
    pub nodes: usize,
}

/// Every module (loaded and quarantined).
pub fn modules(app: &App, auth: &Auth) -> AppResult<ModuleList> {
    auth.require(Permission::BrowseMibs)?;
    let s = app.mibs.snapshot();
    Ok(ModuleList { modules: s.modules(), nodes: s.mib.nodes().len() })
}

/// Uploads a file or archive; audited.
pub async fn upload_bytes(
    app: &App,
    auth: &Auth,
    name: &str,
    bytes: Vec<u8>,
    force: bool,
) -> AppResult<UploadReport> {
    auth.require(Permission::ManageMibs)?;
    let result = app.mibs.upload(&app.db, &auth.username, name, bytes, force).await;
    let details = match &result {
        Ok(r) => {
            json!({"file": name, "modules": r.modules.iter().map(|m| json!({"module": m.module, "action": m.action, "status": m.status})).collect::<Vec<_>>()})
        }
        Err(e) => json!({"file": name, "error": e.to_string()}),
    };
    crate::actions::audit(app, auth, "mib.upload", name, result.is_ok(), details).await;
    Ok(result?)
}

/// Deletes an uploaded module; audited.
pub async fn delete_module(app: &App, auth: &Auth, name: &str) -> AppResult<DeleteReport> {
    auth.require(Permission::ManageMibs)?;
    let result = app.mibs.delete(&app.db, name).await;
    let details = match &result {
        Ok(r) => json!({"dependents": r.dependents, "base_restored": r.base_restored}),
        Err(e) => json!({"error": e.to_string()}),
    };
    crate::actions::audit(app, auth, "mib.delete", name, result.is_ok(), details).await;
    Ok(result?)
}

/// One module in detail.
pub fn module_detail(app: &App, auth: &Auth, name: &str) -> AppResult<ModuleDetail> {
    auth.require(Permission::BrowseMibs)?;
    app.mibs.snapshot().module_detail(name).ok_or(AppError::NotFound)
}

/// The object at a dotted OID (an instance OID gives its object), `MODULE::name` or a
/// name.
pub fn object_view(app: &App, auth: &Auth, q: &str) -> AppResult<NodeView> {
    auth.require(Permission::BrowseMibs)?;
    let s = app.mibs.snapshot();
    let (node, instance) = s.find(q).ok_or(AppError::NotFound)?;
    Ok(s.node_view(node, instance))
}

/// Searches the tree.
pub async fn search_tree(app: &App, auth: &Auth, q: &str, limit: Option<usize>) -> AppResult<SearchResult> {
    auth.require(Permission::BrowseMibs)?;
    let s = app.mibs.snapshot();
    let q = q.to_owned();
    let limit = limit.unwrap_or(SEARCH_LIMIT.0).clamp(1, SEARCH_LIMIT.1);
    // Description words scan every node's text: kept off the async workers.
    rocket::tokio::task::spawn_blocking(move || s.search(&q, limit))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))
}

#[get("/mibs")]
async fn list(auth: Auth, app: &State<App>) -> AppResult<Json<ModuleList>> {
    Ok(Json(modules(app, &auth)?))
}

#[post("/mibs?<name>&<force>", data = "<body>")]
async fn upload(
    auth: Auth,
    app: &State<App>,
    name: Option<&str>,
    force: Option<bool>,
    body: Data<'_>,
) -> AppResult<Json<UploadReport>> {
    // Before the body is read: a viewer's upload is refused without taking it in.
    auth.require(Permission::ManageMibs)?;
    let bytes = body
        .open(MAX_UPLOAD_BYTES.bytes())
        .into_bytes()
        .await
        .map_err(|e| AppError::BadRequest(e.to_string()))?;
    if !bytes.is_complete() {
        return Err(AppError::Coded {
            status: Status::PayloadTooLarge,
            code: "upload_too_large",
            message: format!("uploads are limited to {MAX_UPLOAD_BYTES} bytes"),
        });
    }
    let name = name.unwrap_or("upload.mib");
    Ok(Json(upload_bytes(app, &auth, name, bytes.into_inner(), force.unwrap_or(false)).await?))
}

#[get("/mibs/<name>", rank = 3)]
async fn module(auth: Auth, app: &State<App>, name: &str) -> AppResult<Json<ModuleDetail>> {
    Ok(Json(module_detail(app, &auth, name)?))
}

#[delete("/mibs/<name>")]
async fn remove(auth: Auth, app: &State<App>, name: &str) -> AppResult<Json<DeleteReport>> {
    Ok(Json(delete_module(app, &auth, name).await?))
}

#[get("/mibs/oid/<oid>")]
async fn object(auth: Auth, app: &State<App>, oid: &str) -> AppResult<Json<NodeView>> {
    Ok(Json(object_view(app, &auth, oid)?))
}

#[get("/mibs/search?<q>&<limit>")]
async fn search(
    auth: Auth,
    app: &State<App>,
    q: Option<&str>,
    limit: Option<usize>,
) -> AppResult<Json<SearchResult>> {
    // `q` is required by the document (checked with the query, 400 when missing).
    Ok(Json(search_tree(app, &auth, q.unwrap_or(""), limit).await?))
}
