//! The insights page (`/insights`): what the detectors found in the caller's device
//! scope, newest first, filtered by kind, exporter and time, each with its evidence
//! and a link to the flows of its window. The rows are those of `/api/v1/insights`.
//! Analysts and above acknowledge an insight (or reopen it) from its row.

use super::account::Confirm;
use super::layout::{csrf_field, page};
use super::{html, urlencode, Html};
use crate::api::insights::{InsightParams, KINDS};
use crate::auth::{Auth, CsrfForm, Permission};
use crate::error::AppResult;
use crate::App;
use maud::{html as m, Markup};
use rocket::response::Redirect;
use rocket::{get, post, routes, Route, State};

/// The routes.
pub fn routes() -> Vec<Route> {
    routes![insights_page, acknowledge, reopen]
}

fn form(q: &InsightParams) -> Markup {
    let v = |o: &Option<String>| o.clone().unwrap_or_default();
    let kind = v(&q.kind);
    let ack = v(&q.acknowledged);
    m! {
        form #insights-form method="get" action="/insights" {
            div.fields {
                div.field {
                    label for="i-kind" { "Kind" }
                    select #i-kind name="kind" {
                        option value="" selected[kind.is_empty()] { "all" }
                        @for k in KINDS { option value=(k) selected[k == kind] { (k) } }
                    }
                }
                div.field {
                    label for="i-state" { "State" }
                    select #i-state name="acknowledged" {
                        option value="" selected[ack.is_empty()] { "all" }
                        option value="false" selected[ack == "false"] { "open" }
                        option value="true" selected[ack == "true"] { "acknowledged" }
                    }
                }
                div.field {
                    label for="i-exporter" { "Exporter" }
                    input #i-exporter type="text" name="exporter" value=(v(&q.exporter)) placeholder="address";
                }
                div.field {
                    label for="i-from" { "From" }
                    input #i-from type="text" name="from" value=(v(&q.from)) placeholder="RFC 3339 or Unix ms, default 24 h ago";
                }
                div.field {
                    label for="i-to" { "To" }
                    input #i-to type="text" name="to" value=(v(&q.to)) placeholder="default now";
                }
            }
            button #insights-submit type="submit" { "Show" }
        }
    }
}

/// The flow search of an insight's addresses from its start on (flow search ranges
/// are reception time, which follows flow time by the exporter's timeouts).
fn flows_link(
    start: &str,
    exporter: &str,
    interface: Option<i64>,
    source: Option<&str>,
    target: Option<&str>,
) -> String {
    let mut link = format!("/flows?from={}&exporter={}", urlencode(start), urlencode(exporter));
    if let Some(i) = interface {
        link.push_str(&format!("&interface={i}"));
    }
    if let Some(s) = source {
        link.push_str(&format!("&src={}", urlencode(s)));
    }
    if let Some(t) = target {
        link.push_str(&format!("&dst={}", urlencode(t)));
    }
    link
}

#[get("/insights?<q..>")]
async fn insights_page(auth: Auth, app: &State<App>, q: InsightParams) -> AppResult<Html> {
    auth.require(Permission::ViewDashboards)?;
    let body = match q.query() {
        Err(e) => {
            let (_, msg) = e.status_and_message();
            m! { (form(&q)) div.notice.error #insights-error { (msg) } }
        }
        Ok(query) => {
            let rows = app.db.insights(auth.scope(), &query).await?;
            // Interfaces by their SNMP names where the poller has them: one query per
            // exporter, not per row.
            let mut wanted: std::collections::BTreeMap<&str, Vec<i64>> = std::collections::BTreeMap::new();
            for r in &rows {
                if let Some(i) = r.interface {
                    wanted.entry(r.exporter.as_str()).or_default().push(i);
                }
            }
            let mut if_names = std::collections::HashMap::new();
            for (exporter, indexes) in wanted {
                let Ok(e) = exporter.parse::<std::net::IpAddr>() else { continue };
                for (i, n) in app.db.interface_names(auth.scope(), e, &indexes).await? {
                    let label = match (n.name.or(n.descr), n.alias.filter(|a| !a.is_empty())) {
                        (Some(name), Some(alias)) => format!("{name} — {alias}"),
                        (Some(one), None) | (None, Some(one)) => one,
                        (None, None) => continue,
                    };
                    if_names.insert((exporter.to_string(), i), label);
                }
            }
            let can_ack = auth.role.allows(Permission::AcknowledgeInsights);
            m! {
                (form(&q))
                table.data #insights {
                    thead { tr {
                        th { "Kind" } th { "Severity" } th { "Start" } th { "End" } th { "Exporter" }
                        th { "Source" } th { "Target" } th { "Why" } th { }
                    } }
                    tbody {
                        @if rows.is_empty() { tr.empty { td colspan="9" { "No insights in this range." } } }
                        @for r in &rows {
                            tr data-test="insight" data-kind=(r.kind) data-id=(r.id) {
                                td.kind { (r.kind) }
                                td class={ "severity " (r.severity) } { (r.severity) " " span.muted { (format!("{:.2}", r.score)) } }
                                td { (r.start) } td { (r.end) }
                                td {
                                    (r.exporter)
                                    @if let Some(i) = r.interface {
                                        " " span.interface data-test="interface" {
                                            "ifIndex " (i)
                                            @if let Some(n) = if_names.get(&(r.exporter.clone(), i)) { " " (n) }
                                        }
                                    }
                                }
                                td.source { (host_link(r.source.as_deref())) }
                                td.target { (host_link(r.target.as_deref())) }
                                td.why {
                                    (r.why.get("summary").and_then(|s| s.as_str()).unwrap_or(""))
                                    @if let Some(obs) = r.why.get("observed").and_then(|o| o.as_array()) {
                                        ul.observed {
                                            @for o in obs {
                                                li { (o.get("feature").and_then(|f| f.as_str()).unwrap_or(""))
                                                    ": " (format!("{:.2}", o.get("value").and_then(|v| v.as_f64()).unwrap_or(0.0)))
                                                    " (threshold " (format!("{:.2}", o.get("threshold").and_then(|v| v.as_f64()).unwrap_or(0.0))) ")" }
                                            }
                                        }
                                    }
                                }
                                td.actions {
                                    a href=(flows_link(&r.start, &r.exporter, r.interface, r.source.as_deref(), r.target.as_deref())) { "flows" }
                                    @if let Some(by) = &r.acknowledged_by {
                                        div.acknowledged data-test="acknowledged" { "acknowledged by " (by) }
                                    }
                                    @if can_ack {
                                        @let (action, label) = if r.acknowledged_by.is_some() { ("reopen", "Reopen") } else { ("acknowledge", "Acknowledge") };
                                        form.inline method="post" action=(format!("/insights/{}/{action}", r.id)) {
                                            (csrf_field(&auth))
                                            button type="submit" data-test=(action) { (label) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                p.muted { "Detections of the rules in docs/insights.md over the collector's per-host features, "
                    "flow time, within your device scope (" (auth.scope().describe()) ")." }
                (model_status(app))
            }
        }
    };
    Ok(html(page("Insights", &auth, "insights", body)))
}

/// An address linking to its host page, or "-".
fn host_link(a: Option<&str>) -> Markup {
    match a {
        Some(a) => m! { a href={ "/hosts/" (a) } { (a) } },
        None => m! { "-" },
    }
}

/// Whether the host behaviour classifier is loaded, and if not, why.
fn model_status(app: &App) -> Markup {
    let st = app.models.classifier_status();
    let classifier = match (st.detector, st.error) {
        (Some(d), _) => m! { p.muted data-test="model-status" {
        "Host behaviour classifier " code { (d) } " loaded from " (st.file) "; "
        code { "GET /api/v1/hosts/<address>" } " gives a host's class and why (docs/models.md)." } },
        (None, Some(e)) => m! { div.notice.error data-test="model-status" {
        "Host behaviour classifier unavailable; the detectors above run without it: " (e) } },
        (None, None) => m! {},
    };
    let anomaly = app.models.anomaly_status();
    let anomaly = match anomaly.detector {
        Some(d) => m! { p.muted data-test="anomaly-model-status" {
        "Host anomaly model " code { (d) } ": " (anomaly.file) } },
        None => m! { p.muted data-test="anomaly-model-status" {
        "Host anomaly model: " (anomaly.error.unwrap_or_default()) "; the rules above work without it." } },
    };
    m! { (classifier) (anomaly) }
}

#[post("/insights/<id>/acknowledge", data = "<_form>")]
async fn acknowledge(auth: Auth, app: &State<App>, id: i64, _form: CsrfForm<Confirm>) -> AppResult<Redirect> {
    crate::actions::acknowledge_insight(app, &auth, id, true).await?;
    Ok(Redirect::to("/insights"))
}

#[post("/insights/<id>/reopen", data = "<_form>")]
async fn reopen(auth: Auth, app: &State<App>, id: i64, _form: CsrfForm<Confirm>) -> AppResult<Redirect> {
    crate::actions::acknowledge_insight(app, &auth, id, false).await?;
    Ok(Redirect::to("/insights"))
}
