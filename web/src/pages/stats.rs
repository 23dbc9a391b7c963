//! The statistics page (`/stats`): what `nfdump -s KEY/ORDER` answers, as a form (key,
//! order, top N, time range, filter expression) and a table; the numbers are those of
//! `/api/v1/stats`, exported as CSV by the same code.

use super::layout::page;
use super::{html, Html};
use crate::api::stats::{export_csv, run, StatsParams};
use crate::auth::Auth;
use crate::data::stats_query::KEYS;
use crate::error::{AppError, AppResult};
use crate::App;
use maud::{html as m, Markup};
use rocket::{get, routes, Route, State};

/// The routes.
pub fn routes() -> Vec<Route> {
    routes![stats_page, stats_export]
}

fn form(q: &StatsParams) -> Markup {
    let v = |o: &Option<String>| o.clone().unwrap_or_default();
    let key = q.key.clone().unwrap_or_else(|| "srcip".into());
    let order = q.order.clone().unwrap_or_else(|| "bytes".into());
    m! {
        form #stats-form method="get" action="/stats" {
            div.field.wide {
                label for="s-filter" { "Filter" }
                input #s-filter type="text" name="filter" value=(v(&q.filter)) size="80"
                    placeholder="proto tcp and dst port 443 and not exporter 192.0.2.1";
            }
            div.fields {
                div.field {
                    label for="s-key" { "Top" }
                    select #s-key name="key" {
                        @for (name, nf, _) in KEYS {
                            option value=(name) selected[*name == key] { (name) @if nf != name { " (" (nf) ")" } }
                        }
                    }
                }
                div.field {
                    label for="s-order" { "By" }
                    select #s-order name="order" {
                        @for o in ["flows", "bytes", "packets"] { option value=(o) selected[o == order] { (o) } }
                    }
                }
                div.field {
                    label for="s-limit" { "N" }
                    input #s-limit type="number" name="limit" min="1" max="1000" value=(q.limit.clone().unwrap_or_else(|| "10".into()));
                }
                div.field {
                    label for="s-from" { "From" }
                    input #s-from type="text" name="from" value=(v(&q.from)) placeholder="RFC 3339 or Unix ms, default 1 h ago";
                }
                div.field {
                    label for="s-to" { "To" }
                    input #s-to type="text" name="to" value=(v(&q.to)) placeholder="default now";
                }
            }
            button #stats-submit type="submit" { "Run" }
        }
    }
}

#[get("/stats?<q..>")]
async fn stats_page(auth: Auth, app: &State<App>, q: StatsParams) -> AppResult<Html> {
    // Nothing asked yet: the form alone (no query on page load).
    let asked = q.key.is_some() || q.filter.is_some() || q.from.is_some();
    let body = if !asked {
        auth.require(crate::auth::Permission::SearchFlows)?;
        m! { (form(&q)) p.muted { "Top N of a key over raw flows, like nfdump -s. Choose and run." } }
    } else {
        match run(app, &auth, &q).await {
            Err(AppError::Forbidden(m)) => return Err(AppError::Forbidden(m)),
            Err(e) => {
                let (_, msg) = e.status_and_message();
                m! { (form(&q)) div.notice.error #stats-error data-test="stats-error" { (msg) } }
            }
            Ok(res) => {
                let share = |v: i64| {
                    if res.total.bytes_scaled > 0 {
                        format!("{:.1}%", v as f64 * 100.0 / res.total.bytes_scaled as f64)
                    } else {
                        "-".into()
                    }
                };
                m! {
                    (form(&q))
                    div.toolbar {
                        span.muted #stats-range { (res.from) " to " (res.to) ": top " (res.limit) " " (res.key) " by " (res.order)
                            " of " span #stats-distinct { (res.distinct) } " values, "
                            span #stats-total-flows { (res.total.flows) } " flows" }
                        a.button #stats-export href={ "/stats/export?" (q.query_string()) } data-test="export-csv" { "Export CSV" }
                    }
                    table.data #stats-results {
                        thead { tr {
                            th.num { "#" } th { (res.key) } th.num { "Flows" } th.num { "Bytes" } th.num { "Packets" }
                            th.num { "Bytes (sampling-corrected)" } th.num { "Packets (sampling-corrected)" } th.num { "Share of bytes" }
                        } }
                        tbody {
                            @if res.rows.is_empty() { tr.empty { td colspan="8" { "No flows match." } } }
                            @for (i, r) in res.rows.iter().enumerate() {
                                tr data-test="stat-row" data-key=(r.key) {
                                    td.num { (i + 1) } td.key { (r.key) }
                                    td.num.flows { (r.flows) } td.num.bytes { (r.bytes) } td.num.packets { (r.packets) }
                                    td.num.bytes-scaled { (r.bytes_scaled) } td.num.packets-scaled { (r.packets_scaled) }
                                    td.num { (share(r.bytes_scaled)) }
                                }
                            }
                        }
                    }
                    p.muted { "Bytes and packets as exported (as nfdump prints them) and multiplied by the sampling rate; "
                        "ranked by the sampling-corrected figure. Stops after the query time limit." }
                }
            }
        }
    };
    Ok(html(page("Statistics", &auth, "stats", body)))
}

/// The CSV export under the page tree (same as `/api/v1/stats/export`).
#[get("/stats/export?<q..>")]
async fn stats_export(auth: Auth, app: &State<App>, q: StatsParams) -> AppResult<crate::api::Csv> {
    export_csv(app, &auth, &q).await
}
