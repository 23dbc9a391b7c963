//! `/api/v1/stats`: nfdump-style statistics (top N of a key by flows, bytes or
//! packets) over raw flows, for a filter expression and a time range, and its CSV.

use crate::auth::{Auth, Permission};
use crate::data::stats_query::{StatKey, StatOrder, StatsQuery, StatsResult, CSV_COLUMNS, KEYS, MAX_LIMIT};
use crate::error::{AppError, AppResult};
use crate::params::{opt_time, parse_filter};
use crate::App;
use rocket::{get, routes, FromForm, Route, State};

/// The routes (mounted at `/api/v1`).
pub fn routes() -> Vec<Route> {
    routes![stats, stats_export]
}

/// Parameters of a statistics query (strings, so that a bad value gets a precise 400).
#[derive(Debug, Clone, Default, FromForm)]
pub struct StatsParams {
    /// The key: srcip, dstip, srcnet, dstnet, srcport, dstport, proto, srcas, dstas,
    /// inif, outif, exporter, tos [srcip].
    pub key: Option<String>,
    /// flows, bytes or packets [bytes].
    pub order: Option<String>,
    /// Top N, 1 to 1000 [10].
    pub limit: Option<String>,
    /// Received at or after (RFC 3339 or Unix ms) [to - 1 hour].
    pub from: Option<String>,
    /// Received before [now].
    pub to: Option<String>,
    /// A filter expression.
    pub filter: Option<String>,
}

/// The key names, comma-separated (error messages, the page).
pub fn key_names() -> String {
    KEYS.iter().map(|(n, _, _)| *n).collect::<Vec<_>>().join(", ")
}

impl StatsParams {
    /// The validated query.
    pub fn query(&self) -> AppResult<StatsQuery> {
        let blank =
            |v: &Option<String>| v.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
        let key = match blank(&self.key) {
            None => StatKey::SrcIp,
            Some(k) => StatKey::from_name(&k.to_ascii_lowercase())
                .ok_or_else(|| AppError::BadRequest(format!("key: one of {}", key_names())))?,
        };
        let order = match blank(&self.order) {
            None => StatOrder::Bytes,
            Some(o) => StatOrder::from_name(&o.to_ascii_lowercase())
                .ok_or_else(|| AppError::BadRequest("order: flows, bytes or packets".into()))?,
        };
        let limit = match blank(&self.limit) {
            None => 10,
            Some(l) => l
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=MAX_LIMIT).contains(n))
                .ok_or_else(|| AppError::BadRequest(format!("limit: an integer 1-{MAX_LIMIT}")))?,
        };
        Ok(StatsQuery {
            from: opt_time("from", &self.from)?,
            to: opt_time("to", &self.to)?,
            filter: parse_filter(self.filter.as_deref())?,
            key,
            order,
            limit,
        })
    }

    /// The parameters as a query string (export links).
    pub fn query_string(&self) -> String {
        [
            ("key", &self.key),
            ("order", &self.order),
            ("limit", &self.limit),
            ("from", &self.from),
            ("to", &self.to),
            ("filter", &self.filter),
        ]
        .iter()
        .filter_map(|(k, v)| {
            v.as_deref()
                .filter(|s| !s.trim().is_empty())
                .map(|s| format!("{k}={}", crate::pages::urlencode(s)))
        })
        .collect::<Vec<_>>()
        .join("&")
    }
}

/// Runs a statistics query for `auth` (permission and scope checked here).
pub async fn run(app: &App, auth: &Auth, q: &StatsParams) -> AppResult<StatsResult> {
    auth.require(Permission::SearchFlows)?;
    Ok(app.db.flow_stats(auth.scope(), &q.query()?).await?)
}

/// The CSV export of a statistics query (shared with the page's link).
pub async fn export_csv(app: &App, auth: &Auth, q: &StatsParams) -> AppResult<super::Csv> {
    let res = run(app, auth, q).await?;
    let mut body = CSV_COLUMNS.join(",");
    body.push('\n');
    for r in &res.rows {
        let fields: Vec<String> = r.csv_fields().iter().map(|f| super::csv_field(f)).collect();
        body.push_str(&fields.join(","));
        body.push('\n');
    }
    let stamp = time::OffsetDateTime::now_utc().unix_timestamp();
    Ok(super::Csv::new(body, false, format!("stats-{}-{stamp}.csv", res.key)))
}

#[get("/stats?<q..>")]
async fn stats(
    auth: Auth,
    app: &State<App>,
    q: StatsParams,
) -> AppResult<rocket::serde::json::Json<serde_json::Value>> {
    super::to_json(&run(app, &auth, &q).await?)
}

#[get("/stats/export?<q..>")]
async fn stats_export(auth: Auth, app: &State<App>, q: StatsParams) -> AppResult<super::Csv> {
    export_csv(app, &auth, &q).await
}
