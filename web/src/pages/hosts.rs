//! `/hosts/<addr>`: one host's behaviour class with the features that decided it, every
//! class's probability, and the insights naming it; the same report as
//! `GET /api/v1/hosts/<addr>`, within the caller's scope.

use super::layout::page;
use super::{html, urlencode, Html};
use crate::api::hosts::HostParams;
use crate::auth::{Auth, Permission};
use crate::error::{AppError, AppResult};
use crate::App;
use maud::html as m;
use rocket::{get, routes, Route, State};
use std::net::IpAddr;

/// The routes.
pub fn routes() -> Vec<Route> {
    routes![host_page]
}

#[get("/hosts/<addr>?<q..>")]
async fn host_page(auth: Auth, app: &State<App>, addr: &str, q: HostParams) -> AppResult<Html> {
    auth.require(Permission::ViewDashboards)?;
    let host: IpAddr =
        addr.parse().map_err(|_| AppError::BadRequest("not an IPv4 or IPv6 address".into()))?;
    let (from, to) = crate::api::hosts::window(&q)?;
    let r = crate::hosts::report(&app.db, &app.models, auth.scope(), host, from, to).await?;
    let flows =
        format!("/flows?from={}&to={}&addr={}", urlencode(&r.from), urlencode(&r.to), urlencode(&r.address));
    let body = m! {
        h2 { "Host " (r.address) }
        p.muted { "Flows received " (r.from) " to " (r.to) " by the exporters of your scope: " (r.flows)
            @if r.flows_truncated { " (the newest; more were in the window)" }
            ". " a href=(flows) { "Search these flows" } }
        @match (&r.class, r.confidence) {
            (Some(class), Some(confidence)) => {
                p #host-class data-test="host-class" data-class=(class) {
                    "Behaviour: " strong { (class) } " (" (format!("{:.0}", confidence * 100.0)) " %, "
                    code { (r.detector.clone().unwrap_or_default()) } ")" }
                @if let Some(why) = &r.why {
                    h3 { "Why" }
                    table.data #host-why {
                        thead { tr { th { "Feature" } th { "This host" } th { "Usual" } } }
                        tbody {
                            @for f in why.get("top_features").and_then(|v| v.as_array()).into_iter().flatten() {
                                tr { td { (f.get("feature").and_then(|v| v.as_str()).unwrap_or("")) }
                                     td { (format!("{:.3}", f.get("value").and_then(|v| v.as_f64()).unwrap_or(0.0))) }
                                     td { (format!("{:.3}", f.get("usual").and_then(|v| v.as_f64()).unwrap_or(0.0))) } }
                            }
                        }
                    }
                    p.muted { "Probabilities: "
                        @for (k, v) in why.get("probabilities").and_then(|v| v.as_object()).into_iter().flatten() {
                            (k) " " (format!("{:.3}", v.as_f64().unwrap_or(0.0))) "; "
                        } }
                }
            }
            _ => { div.notice data-test="host-class" { "Not classified: " (r.unclassified_because.clone().unwrap_or_default()) } }
        }
        h3 { "Insights of the last 24 hours" }
        table.data #host-insights {
            thead { tr { th { "Kind" } th { "Severity" } th { "Start" } th { "Exporter" } th { "Source" } th { "Target" } } }
            tbody {
                @if r.insights.is_empty() { tr.empty { td colspan="6" { "None." } } }
                @for i in &r.insights {
                    tr data-test="host-insight" data-kind=(i.kind) {
                        td { (i.kind) } td { (i.severity) } td { (i.start) } td { (i.exporter) }
                        td { (i.source.clone().unwrap_or_else(|| "-".into())) }
                        td { (i.target.clone().unwrap_or_else(|| "-".into())) }
                    }
                }
            }
        }
    };
    Ok(html(page(&format!("Host {}", r.address), &auth, "insights", body)))
}
