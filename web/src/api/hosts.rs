//! `/api/v1/hosts/<addr>`: one host's behaviour class, why, and the insights naming it.

use crate::auth::{Auth, Permission};
use crate::error::{AppError, AppResult};
use crate::params::opt_time;
use crate::App;
use rocket::{get, routes, FromForm, Route, State};
use std::net::IpAddr;

/// The routes (mounted at `/api/v1`).
pub fn routes() -> Vec<Route> {
    routes![host]
}

/// Parameters (strings, so that a bad value gets a precise 400).
#[derive(Debug, Clone, Default, FromForm)]
pub struct HostParams {
    /// Flows received at or after (RFC 3339 or Unix ms) [to - 1 hour].
    pub from: Option<String>,
    /// Before [now].
    pub to: Option<String>,
}

/// The validated window: [to - 1 h, now) by default, at most a day.
pub fn window(q: &HostParams) -> AppResult<(time::OffsetDateTime, time::OffsetDateTime)> {
    let to = opt_time("to", &q.to)?.unwrap_or_else(time::OffsetDateTime::now_utc);
    let from = opt_time("from", &q.from)?.unwrap_or(to - time::Duration::hours(1));
    if from >= to {
        return Err(AppError::BadRequest("from must be before to".into()));
    }
    if to - from > time::Duration::days(1) {
        return Err(AppError::BadRequest("the window is at most one day".into()));
    }
    Ok((from, to))
}

#[get("/hosts/<addr>?<q..>")]
async fn host(
    auth: Auth,
    app: &State<App>,
    addr: &str,
    q: HostParams,
) -> AppResult<rocket::serde::json::Json<serde_json::Value>> {
    auth.require(Permission::ViewDashboards)?;
    let host: IpAddr =
        addr.parse().map_err(|_| AppError::BadRequest("the host: an IPv4 or IPv6 address".into()))?;
    let (from, to) = window(&q)?;
    let r = crate::hosts::report(&app.db, &app.models, auth.scope(), host, from, to).await?;
    super::to_json(&r)
}
