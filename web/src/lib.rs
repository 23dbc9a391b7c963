//! `flowvision-web`: the FlowVision console (server-rendered pages) and its JSON API
//! under `/api/v1`, documented as OpenAPI at `/api_docs`.
//!
//! Layout: [`config`] (environment), [`data`] (every SQL statement; exporter data
//! only with a [`auth::Scope`]), [`auth`] (sessions, tokens, CSRF, login, the guards
//! that make scopes), [`api`] (JSON handlers), [`pages`] (HTML handlers),
//! [`openapi`] (the API document). See docs/web.md.

pub mod actions;
mod allow;
pub mod anomaly;
pub mod api;
pub mod assets;
pub mod auth;
pub mod bootstrap;
pub mod cli;
pub mod config;
pub mod data;
pub mod error;
pub mod hosts;
pub mod insights;
pub mod mibs;
pub mod models;
pub mod net;
pub mod openapi;
pub mod pages;
pub mod params;
pub mod pattern;
mod security;
pub mod simulations;
pub mod snmp;

use crate::config::WebConfig;
use crate::data::Db;
use rocket::fairing::AdHoc;
use rocket::figment::Figment;
use rocket::http::{Header, Status};
use rocket::request::Request;
use rocket::response::{self, Responder, Response};
use rocket::shield::Shield;
use rocket::{catch, catchers, Build, Rocket};
use std::sync::Arc;

/// State shared by every handler.
pub struct App {
    /// The data-access layer.
    pub db: Db,
    /// The configuration.
    pub cfg: Arc<WebConfig>,
    /// A hash verified when a login names an unknown user (equal timing).
    pub dummy_hash: String,
    /// The MIB modules and their OID tree (loaded at ignition).
    pub mibs: mibs::MibService,
    /// SNMP polling, sealed credentials, vendor identification.
    pub snmp: Arc<snmp::SnmpService>,
    /// The insights' learned models (loaded at start; a missing one says why).
    pub models: Arc<models::ModelService>,
}

/// Builds the Rocket application: configuration, state, fairings (migrations and the
/// first admin at ignition, security headers), routes and catchers. Nothing touches
/// the database before ignition.
pub fn build(cfg: WebConfig) -> Result<Rocket<Build>, String> {
    let db = Db::new(&cfg).map_err(|e| e.to_string())?;
    let dummy_hash = auth::password::hash("dummy password for equal timing", cfg.argon2)?;
    let mut figment = Figment::from(rocket::Config::default())
        .merge(("address", cfg.listen.ip()))
        .merge(("port", cfg.listen.port()))
        .merge(("ident", "FlowVision"))
        .merge(("cli_colors", false))
        .merge(("log_level", cfg.log_level.as_str()))
        .merge(("limits.form", 64 * 1024))
        .merge(("limits.json", 256 * 1024));
    figment = match &cfg.ip_header {
        Some(h) => figment.merge(("ip_header", h.as_str())),
        None => figment.merge(("ip_header", false)),
    };
    if let Some(w) = cfg.workers {
        figment = figment.merge(("workers", w));
    }
    if let Some(tls) = &cfg.tls {
        figment = figment.merge(("tls.certs", tls.cert.clone())).merge(("tls.key", tls.key.clone()));
    }
    let hsts = cfg.tls.is_some();
    let mibs = mibs::MibService::new(cfg.mib_base_dirs.clone());
    let snmp = Arc::new(snmp::SnmpService::new(&cfg.snmp));
    let models = Arc::new(models::ModelService::load(&cfg.models_dir));
    let app = App { db, cfg: Arc::new(cfg), dummy_hash, mibs, snmp, models };
    Ok(rocket::custom(figment)
        .manage(app)
        .attach(AdHoc::try_on_ignite("schema migrations and first admin", |rocket| async move {
            let Some(app) = rocket.state::<App>() else { return Err(rocket) };
            match prepare(app).await {
                Ok(()) => Ok(rocket),
                Err(e) => {
                    // One clear line, then Rocket stops the launch.
                    eprintln!("flowvision-web: {e}");
                    Err(rocket)
                }
            }
        }))
        .attach(simulations::fairing())
        .attach(AdHoc::on_liftoff("housekeeping", |rocket| {
            Box::pin(async move {
                if let Some(app) = rocket.state::<App>() {
                    let db = app.db.clone();
                    rocket::tokio::spawn(async move {
                        loop {
                            if let Err(e) = db.prune().await {
                                log::warn!("pruning sessions and login attempts: {e}");
                            }
                            rocket::tokio::time::sleep(std::time::Duration::from_secs(600)).await;
                        }
                    });
                    // SNMP polls: an exporter's first flows, then every interval.
                    rocket::tokio::spawn(Arc::clone(&app.snmp).run(app.db.clone()));
                    // Insights: detectors over the collector's host feature rows.
                    if app.cfg.insights {
                        rocket::tokio::spawn(insights::run(
                            app.db.clone(),
                            app.cfg.insight_thresholds.clone(),
                            Arc::clone(&app.models),
                            app.cfg.anomaly.clone(),
                        ));
                    }
                    println!("FlowVision console: {}", app.cfg.url());
                }
            })
        }))
        .attach(Shield::new())
        .attach(security::SecurityHeaders { hsts })
        .mount("/", pages::routes())
        .mount("/", assets::routes())
        .mount("/api/v1", api::routes())
        .mount("/", openapi::routes())
        .register("/", catchers![unauthorized, forbidden, default_catcher]))
}

async fn prepare(app: &App) -> Result<(), String> {
    let n = app.db.migrate().await.map_err(|e| format!("database: {e}"))?;
    if n > 0 {
        log::info!("applied {n} schema migrations");
    }
    // Base modules and uploads, resolved once; later changes resolve incrementally.
    app.mibs.load(&app.db).await.map_err(|e| format!("MIB modules: {e}"))?;
    match bootstrap::first_admin(&app.db, &app.cfg).await? {
        bootstrap::FirstAdmin::Existing => {}
        bootstrap::FirstAdmin::FromEnvironment(u) => {
            println!("FlowVision console: created the first admin {u:?} with the password of FLOWVISION_ADMIN_PASSWORD");
        }
        bootstrap::FirstAdmin::OneTime { username, password } => {
            // Printed once, on purpose (to the terminal, not the log); it only allows
            // choosing a new password.
            println!(
                "FlowVision console: first admin user {username:?}, one-time password: {password}  \
                 (it must be changed at the first login)"
            );
        }
    }
    Ok(())
}

/// A catcher's answer: a redirect, or the error response of the request's kind.
enum Caught {
    Redirect(String),
    Error(Status, String),
    /// 405 with the `Allow` header.
    NotAllowed(String),
}

impl<'r> Responder<'r, 'static> for Caught {
    fn respond_to(self, req: &'r Request<'_>) -> response::Result<'static> {
        match self {
            Caught::Redirect(to) => {
                Response::build().status(Status::SeeOther).header(Header::new("Location", to)).ok()
            }
            Caught::Error(status, msg) => error::error_response(req, status, &msg),
            Caught::NotAllowed(allow) => {
                let msg = format!("method not allowed: use {allow}");
                let mut res = error::error_response(req, Status::MethodNotAllowed, &msg)?;
                res.set_header(Header::new("Allow", allow));
                Ok(res)
            }
        }
    }
}

/// API paths, and /metrics (scrapers want a 401, not a login page).
fn is_api(req: &Request<'_>) -> bool {
    let path = req.uri().path();
    path.as_str().starts_with("/api/") || path == "/metrics"
}

#[catch(401)]
fn unauthorized(req: &Request<'_>) -> Caught {
    if is_api(req) {
        return Caught::Error(Status::Unauthorized, "not logged in: use a session or an API token".into());
    }
    if req.method() == rocket::http::Method::Get {
        let here = req.uri().to_string();
        let next = if here == "/" { String::new() } else { format!("?next={}", pages::urlencode(&here)) };
        Caught::Redirect(format!("/login{next}"))
    } else {
        Caught::Error(Status::Unauthorized, "not logged in".into())
    }
}

#[catch(403)]
fn forbidden(req: &Request<'_>) -> Caught {
    match auth::refusal(req) {
        auth::Refusal::PasswordChange if !is_api(req) && req.method() == rocket::http::Method::Get => {
            Caught::Redirect("/account/password".into())
        }
        auth::Refusal::PasswordChange => {
            Caught::Error(Status::Forbidden, "change your one-time password first".into())
        }
        auth::Refusal::Csrf => Caught::Error(Status::Forbidden, "missing or wrong CSRF token".into()),
        auth::Refusal::None => Caught::Error(Status::Forbidden, "not allowed".into()),
    }
}

#[catch(default)]
fn default_catcher(status: Status, req: &Request<'_>) -> Caught {
    if status == Status::NotFound && is_api(req) {
        if let Some(allow) = allow::allowed_methods(req) {
            return Caught::NotAllowed(allow);
        }
    }
    let msg = match status.code {
        400 => match &req.local_cache(api::contract::QueryRefusal::default).0 {
            Some(m) => m.clone(),
            None => "bad request".to_string(),
        },
        404 => "not found".to_string(),
        422 => "the request's parameters or body are invalid".to_string(),
        _ => status.reason().unwrap_or("error").to_lowercase(),
    };
    Caught::Error(status, msg)
}
