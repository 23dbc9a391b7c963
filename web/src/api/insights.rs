//! `/api/v1/insights`: what the detectors found, within the caller's device scope.

use crate::auth::{Auth, Permission};
use crate::data::insights::{InsightQuery, MAX_LIMIT};
use crate::error::{AppError, AppResult};
use crate::params::opt_time;
use crate::App;
use rocket::{delete, get, post, routes, FromForm, Route, State};
use serde_json::json;
use std::net::IpAddr;

/// The routes (mounted at `/api/v1`).
pub fn routes() -> Vec<Route> {
    routes![insights, acknowledge, unacknowledge]
}

/// The kinds the detectors report.
pub const KINDS: [&str; 10] = [
    "syn_flood",
    "udp_flood",
    "icmp_flood",
    "udp_amplification",
    "port_scan",
    "host_sweep",
    "exfiltration",
    "beaconing",
    "traffic_anomaly",
    "host_anomaly",
];

/// Parameters (strings, so that a bad value gets a precise 400).
#[derive(Debug, Clone, Default, FromForm)]
pub struct InsightParams {
    /// Overlapping at or after (RFC 3339 or Unix ms) [to - 24 hours].
    pub from: Option<String>,
    /// Before [now].
    pub to: Option<String>,
    /// One kind.
    pub kind: Option<String>,
    /// One exporter's address.
    pub exporter: Option<String>,
    /// At most this many, newest first, 1 to 5000 [500].
    pub limit: Option<String>,
    /// `true`: only acknowledged ones; `false`: only open ones [both].
    pub acknowledged: Option<String>,
}

impl InsightParams {
    /// The validated query.
    pub fn query(&self) -> AppResult<InsightQuery> {
        let blank =
            |v: &Option<String>| v.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
        let to = opt_time("to", &self.to)?.unwrap_or_else(time::OffsetDateTime::now_utc);
        let from = opt_time("from", &self.from)?.unwrap_or(to - time::Duration::hours(24));
        if from >= to {
            return Err(AppError::BadRequest("from must be before to".into()));
        }
        let kind = match blank(&self.kind) {
            None => None,
            Some(k) if KINDS.contains(&k.as_str()) => Some(k),
            Some(_) => return Err(AppError::BadRequest(format!("kind: one of {}", KINDS.join(", ")))),
        };
        let exporter = match blank(&self.exporter) {
            None => None,
            Some(e) => Some(crate::net::Prefix::host(
                e.parse::<IpAddr>()
                    .map_err(|_| AppError::BadRequest("exporter: an IPv4 or IPv6 address".into()))?,
            )),
        };
        let limit = match blank(&self.limit) {
            None => 500,
            Some(l) => l
                .parse::<i64>()
                .ok()
                .filter(|n| (1..=MAX_LIMIT).contains(n))
                .ok_or_else(|| AppError::BadRequest(format!("limit: an integer 1-{MAX_LIMIT}")))?,
        };
        let acknowledged = match blank(&self.acknowledged).as_deref() {
            None => None,
            Some("true") => Some(true),
            Some("false") => Some(false),
            Some(_) => return Err(AppError::BadRequest("acknowledged: true or false".into())),
        };
        Ok(InsightQuery { from, to, kind, exporter, limit, acknowledged, host: None })
    }
}

#[get("/insights?<q..>")]
async fn insights(
    auth: Auth,
    app: &State<App>,
    q: InsightParams,
) -> AppResult<rocket::serde::json::Json<serde_json::Value>> {
    auth.require(Permission::ViewDashboards)?;
    let rows = app.db.insights(auth.scope(), &q.query()?).await?;
    super::to_json(&json!({ "insights": rows }))
}

/// Acknowledges an insight (analyst or higher, within the scope; audited).
#[post("/insights/<id>/acknowledge")]
async fn acknowledge(
    auth: Auth,
    app: &State<App>,
    id: i64,
) -> AppResult<rocket::serde::json::Json<serde_json::Value>> {
    let row = crate::actions::acknowledge_insight(app, &auth, id, true).await?;
    super::to_json(&row)
}

/// Takes an acknowledgement back.
#[delete("/insights/<id>/acknowledge")]
async fn unacknowledge(
    auth: Auth,
    app: &State<App>,
    id: i64,
) -> AppResult<rocket::serde::json::Json<serde_json::Value>> {
    let row = crate::actions::acknowledge_insight(app, &auth, id, false).await?;
    super::to_json(&row)
}
