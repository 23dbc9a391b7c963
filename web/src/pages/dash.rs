//! Dashboards (overview, top-N, exporters, interfaces), flow search and collector
//! statistics. Tables are rendered here; charts are drawn by static/app.js from the
//! same JSON API (`data-api` of each canvas), so what a chart shows is what the API
//! returns.

use super::layout::{fmt_bps, fmt_bytes, fmt_count, fmt_pct, page};
use super::{html, urlencode, Html};
use crate::auth::{Auth, Permission};
use crate::data::dash::{TopKind, TopList};
use crate::data::insights::{InsightQuery, InsightRow};
use crate::data::window::PRESETS;
use crate::error::{AppError, AppResult};
use crate::params::{DashParams, FlowParams};
use crate::App;
use maud::{html as m, Markup};
use rocket::{get, routes, Route, State};
use std::net::IpAddr;

/// The dashboard routes.
pub fn routes() -> Vec<Route> {
    routes![
        overview,
        talkers,
        services,
        protocols,
        as_page,
        exporters,
        exporter,
        interface,
        flows,
        flows_export,
        collector
    ]
}

/// Query string of the dashboard parameters that survive navigation (range or
/// from/to, exporter), plus `extra`.
fn keep(q: &DashParams, extra: &[(&str, &str)]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut add = |k: &str, v: &Option<String>| {
        if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
            parts.push(format!("{k}={}", urlencode(v)));
        }
    };
    add("range", &q.range);
    add("from", &q.from);
    add("to", &q.to);
    add("exporter", &q.exporter);
    for (k, v) in extra {
        parts.push(format!("{k}={}", urlencode(v)));
    }
    parts.join("&")
}

/// The time-range picker: one link per preset, keeping the other parameters.
fn range_picker(path: &str, q: &DashParams, extra: &[(&str, &str)]) -> Markup {
    let current = q.range_name();
    let base = DashParams { range: None, from: None, to: None, ..q.clone() };
    let links: Vec<(&str, String)> = PRESETS
        .iter()
        .map(|(name, _)| {
            let mut e = extra.to_vec();
            e.push(("range", name));
            (*name, format!("{path}?{}", keep(&base, &e)))
        })
        .collect();
    m! {
        nav.range-picker #range-picker aria-label="time range" {
            @for (name, href) in &links {
                a.active[current == *name] href=(href) data-range=(name) { (name) }
            }
        }
    }
}

fn exporter_filter(
    path: &str,
    q: &DashParams,
    exporters: &[crate::data::exporters::ExporterChoice],
    extra: &[(&str, &str)],
) -> Markup {
    let selected = q.exporter.clone().unwrap_or_default();
    m! {
        form.filter #exporter-filter method="get" action=(path) {
            input type="hidden" name="range" value=(q.range_name().replace("custom", "1h"));
            @for (k, v) in extra { input type="hidden" name=(k) value=(v); }
            label for="exporter-select" { "Exporter" }
            select #exporter-select name="exporter" data-autosubmit="true" {
                option value="" selected[selected.is_empty()] { "all in my scope" }
                @for e in exporters {
                    @let s = e.to_string();
                    option value=(s) selected[selected == s] { (e.label()) }
                }
            }
            noscript { button type="submit" { "Apply" } }
        }
    }
}

fn chart(id: &str, kind: &str, api: &str, title: &str) -> Markup {
    chart_marked(id, kind, api, title, None)
}

/// A chart with insight markers (`data-markers`: JSON drawn by static/app.js as
/// vertical lines at each insight's start).
fn chart_marked(id: &str, kind: &str, api: &str, title: &str, markers: Option<&str>) -> Markup {
    m! {
        figure.chart {
            figcaption { (title) }
            div.chart-box {
                canvas id=(id) data-chart=(kind) data-api=(api) data-markers=[markers] data-test="chart" data-state="loading" {}
            }
        }
    }
}

/// Most insights marked on the overview chart (the newest).
const MAX_MARKERS: i64 = 200;

/// The markers of `insights`: start (Unix ms), kind, severity, addresses, id.
fn insight_markers(insights: &[InsightRow]) -> String {
    let list: Vec<serde_json::Value> = insights
        .iter()
        .filter_map(|i| {
            let start =
                time::OffsetDateTime::parse(&i.start, &time::format_description::well_known::Rfc3339).ok()?;
            let t = i64::try_from(start.unix_timestamp_nanos() / 1_000_000).ok()?;
            Some(serde_json::json!({
                "t": t, "id": i.id, "kind": i.kind, "severity": i.severity,
                "source": i.source, "target": i.target,
            }))
        })
        .collect();
    serde_json::Value::from(list).to_string()
}

/// A top-N table; `link` links addresses to the flow search.
fn top_table(id: &str, list: &TopList, key_header: &str, link: bool) -> Markup {
    m! {
        table.data id=(id) data-total-bytes=(list.total_bytes) {
            thead { tr { th { (key_header) } th.num { "Avg rate" } th.num { "Bytes" } th.num { "Packets" } th.num { "Flows" } th.num { "Share" } } }
            tbody {
                @if list.items.is_empty() { tr.empty { td colspan="6" { "No traffic in this time range." } } }
                @for i in &list.items {
                    tr data-test="row" data-key=(i.key) {
                        td { @if link { a href=(talker_link(&i.key)) { (i.label) } } @else { (i.label) } }
                        td.num { (fmt_bps(i.bps)) }
                        td.num { (fmt_bytes(i.bytes as f64)) }
                        td.num { (fmt_count(i.packets as f64)) }
                        td.num { (fmt_count(i.flows as f64)) }
                        td.num { (fmt_pct(i.share)) }
                    }
                }
            }
        }
    }
}

fn talker_link(addr: &str) -> String {
    format!("/flows?addr={}", urlencode(addr))
}

#[get("/?<q..>")]
async fn overview(auth: Auth, app: &State<App>, q: DashParams) -> AppResult<Html> {
    auth.require(Permission::ViewDashboards)?;
    let (w, f) = (q.window()?, q.filter()?);
    let scope = auth.scope();
    // Independent queries on their own pooled connections: the page waits for the
    // slowest, not for the sum.
    let marked = InsightQuery {
        from: w.from,
        to: w.to,
        kind: None,
        exporter: f.exporter,
        limit: MAX_MARKERS,
        acknowledged: None,
        host: None,
    };
    let ((series, talkers, services, protocols, exporters), insights) = futures_util::future::try_join(
        futures_util::future::try_join5(
            app.db.traffic(scope, &w, &f),
            app.db.top(scope, &w, &f, TopKind::Talkers { dst: false }, 10),
            app.db.top(scope, &w, &f, TopKind::Services, 10),
            app.db.top(scope, &w, &f, TopKind::Protocols, 10),
            app.db.exporter_addresses(scope),
        ),
        app.db.insights(scope, &marked),
    )
    .await?;
    let markers = insight_markers(&insights);
    let insights_link = format!("/insights?from={}&to={}", urlencode(&series.from), urlencode(&series.to));
    let secs = w.seconds();
    let can_search = auth.role.allows(Permission::SearchFlows);
    Ok(html(page(
        "Overview",
        &auth,
        "overview",
        m! {
            div.toolbar { (range_picker("/", &q, &[])) (exporter_filter("/", &q, &exporters, &[])) }
            p.muted #scope-note { "Device scope: " (scope.describe()) ". Rates are sampling-corrected; "
                (series.resolution) " rollups, " (series.from) " to " (series.to) "." }
            div.cards #summary {
                div.card-stat { span.label { "Average" } span.value #avg-bps { (fmt_bps(series.total_bytes as f64 * 8.0 / secs)) } }
                div.card-stat { span.label { "Bytes" } span.value #total-bytes data-value=(series.total_bytes) { (fmt_bytes(series.total_bytes as f64)) } }
                div.card-stat { span.label { "Packets" } span.value #total-packets data-value=(series.total_packets) { (fmt_count(series.total_packets as f64)) } }
                div.card-stat { span.label { "Flows" } span.value #total-flows data-value=(series.total_flows) { (fmt_count(series.total_flows as f64)) } }
            }
            (chart_marked("chart-traffic", "traffic", &format!("/api/v1/traffic?{}", keep(&q, &[])), "Traffic (bits/s and packets/s)", Some(&markers)))
            p.muted #chart-insights data-count=(insights.len()) {
                @if insights.is_empty() { "No insights in this window." }
                @else if insights.len() == 1 { a href=(insights_link) { "1 insight" } " in this window, marked on the chart where it began." }
                @else { a href=(insights_link) { (insights.len()) " insights" } " in this window, marked on the chart where each began." }
            }
            div.grid3 {
                section { h2 { a href={ "/talkers?" (keep(&q, &[])) } { "Top talkers" } }
                    (top_table("top-talkers", &talkers, "Source address", can_search)) }
                section { h2 { a href={ "/services?" (keep(&q, &[])) } { "Top services" } } (top_table("top-services", &services, "Service", false)) }
                section { h2 { a href={ "/protocols?" (keep(&q, &[])) } { "Protocols" } } (top_table("top-protocols", &protocols, "Protocol", false)) }
            }
        },
    )))
}

#[get("/talkers?<q..>")]
async fn talkers(auth: Auth, app: &State<App>, q: DashParams) -> AppResult<Html> {
    auth.require(Permission::ViewDashboards)?;
    let dst = q.talker_dst()?;
    let list = app
        .db
        .top(auth.scope(), &q.window()?, &q.filter()?, TopKind::Talkers { dst }, q.limit.unwrap_or(50))
        .await?;
    let exporters = app.db.exporter_addresses(auth.scope()).await?;
    let side = if dst { "dst" } else { "src" };
    let can_search = auth.role.allows(Permission::SearchFlows);
    Ok(html(page(
        "Top talkers",
        &auth,
        "talkers",
        m! {
            div.toolbar { (range_picker("/talkers", &q, &[("side", side)])) (exporter_filter("/talkers", &q, &exporters, &[("side", side)])) }
            nav.tabs #side-picker {
                a.active[!dst] href={ "/talkers?" (keep(&q, &[("side", "src")])) } data-side="src" { "Sources" }
                a.active[dst] href={ "/talkers?" (keep(&q, &[("side", "dst")])) } data-side="dst" { "Destinations" }
            }
            (top_table("top-talkers", &list, if dst { "Destination address" } else { "Source address" }, can_search))
            p.muted { "Addresses outside each minute's top 50 per exporter are counted in the total but not ranked." }
        },
    )))
}

#[get("/services?<q..>")]
async fn services(auth: Auth, app: &State<App>, q: DashParams) -> AppResult<Html> {
    auth.require(Permission::ViewDashboards)?;
    let list = app
        .db
        .top(auth.scope(), &q.window()?, &q.filter()?, TopKind::Services, q.limit.unwrap_or(50))
        .await?;
    let exporters = app.db.exporter_addresses(auth.scope()).await?;
    Ok(html(page(
        "Top services",
        &auth,
        "services",
        m! {
            div.toolbar { (range_picker("/services", &q, &[])) (exporter_filter("/services", &q, &exporters, &[])) }
            (top_table("top-services", &list, "Service (protocol, port)", false))
            p.muted { "The service port is the lower of the two ports (ICMP: type and code)." }
        },
    )))
}

#[get("/protocols?<q..>")]
async fn protocols(auth: Auth, app: &State<App>, q: DashParams) -> AppResult<Html> {
    auth.require(Permission::ViewDashboards)?;
    let list = app
        .db
        .top(auth.scope(), &q.window()?, &q.filter()?, TopKind::Protocols, q.limit.unwrap_or(50))
        .await?;
    let exporters = app.db.exporter_addresses(auth.scope()).await?;
    Ok(html(page(
        "Protocols",
        &auth,
        "protocols",
        m! {
            div.toolbar { (range_picker("/protocols", &q, &[])) (exporter_filter("/protocols", &q, &exporters, &[])) }
            (top_table("top-protocols", &list, "IP protocol", false))
        },
    )))
}

#[get("/as?<q..>")]
async fn as_page(auth: Auth, app: &State<App>, q: DashParams) -> AppResult<Html> {
    auth.require(Permission::ViewDashboards)?;
    let side = q.as_side()?;
    let list = app
        .db
        .top(auth.scope(), &q.window()?, &q.filter()?, TopKind::As(side), q.limit.unwrap_or(50))
        .await?;
    let exporters = app.db.exporter_addresses(auth.scope()).await?;
    let s = list.side;
    Ok(html(page(
        "Autonomous systems",
        &auth,
        "as",
        m! {
            div.toolbar { (range_picker("/as", &q, &[("side", s)])) (exporter_filter("/as", &q, &exporters, &[("side", s)])) }
            nav.tabs #side-picker {
                @for (k, label) in [("src", "Source AS"), ("dst", "Destination AS"), ("pair", "AS pairs")] {
                    a.active[s == k] href={ "/as?" (keep(&q, &[("side", k)])) } data-side=(k) { (label) }
                }
            }
            (top_table("top-as", &list, "AS", false))
            p.muted { "AS 0 means the exporter did not report an AS (or the address is private)." }
        },
    )))
}

fn status_badge(s: &str) -> Markup {
    m! { span class={ "badge " (s) } data-status=(s) { (s) } }
}

#[get("/exporters")]
async fn exporters(auth: Auth, app: &State<App>) -> AppResult<Html> {
    auth.require(Permission::ViewDashboards)?;
    let mut list = app.db.exporters(auth.scope()).await?;
    app.snmp.fill_identity(&app.mibs, &mut list);
    Ok(html(page(
        "Exporters",
        &auth,
        "exporters",
        m! {
            p.muted { "Rates over the last 5 complete minutes; counters since first seen. Up: heard from in the last 2 minutes; stale: 15 minutes." }
            table.data #exporters-table {
                thead { tr {
                    th { "Exporter" } th { "Vendor / product" } th { "SNMP" } th { "Status" } th { "Protocol" } th.num { "Sampling" } th { "Last seen" }
                    th.num { "Traffic" } th.num { "Flows/s" } th.num { "Datagrams/s" } th.num { "Templates" }
                    th.num { "Seq. lost (5 min)" } th.num { "Seq. lost (total)" } th.num { "Decode errors (total)" }
                } }
                tbody {
                    @if list.is_empty() { tr.empty { td colspan="14" { "No exporter in your device scope has sent flows yet." } } }
                    @for e in &list {
                        tr data-test="row" data-exporter=(e.exporter) {
                            td { a href={ "/exporters/" (e.exporter) } { (super::exporter_names::label(&e.exporter, e.shown_name())) } }
                            td data-test="vendor" { (e.vendor.clone().unwrap_or_default())
                                @if let Some(p) = &e.product { br; span.muted { (p) } } }
                            td data-test="snmp" title=(e.snmp.last_error.clone().unwrap_or_default()) { span class={ "badge " (e.snmp.status) } { (e.snmp.status) } }
                            td { (status_badge(e.status)) }
                            td { (e.protocol.clone().unwrap_or_default()) }
                            td.num { (e.sampling_rate.map(|r| format!("1:{r}")).unwrap_or_default()) }
                            td { (e.last_seen) }
                            td.num { (fmt_bps(e.rates.bps)) }
                            td.num { (format!("{:.1}", e.rates.flows_per_s)) }
                            td.num { (format!("{:.1}", e.rates.datagrams_per_s)) }
                            td.num { (e.active_templates) }
                            td.num { (e.rates.sequence_lost) }
                            td.num { (e.sequence_lost) }
                            td.num { (e.decode_errors) }
                        }
                    }
                }
            }
        },
    )))
}

fn parse_ip(addr: &str) -> AppResult<IpAddr> {
    addr.parse().map_err(|_| AppError::NotFound)
}

#[get("/exporters/<addr>?<q..>")]
async fn exporter(auth: Auth, app: &State<App>, addr: &str, q: DashParams) -> AppResult<Html> {
    auth.require(Permission::ViewDashboards)?;
    let ip = parse_ip(addr)?;
    let scope = auth.scope();
    let mut e = app.db.exporter(scope, ip).await?.ok_or(AppError::NotFound)?;
    app.snmp.fill_identity(&app.mibs, std::slice::from_mut(&mut e));
    let creds = if auth.role.allows(Permission::ManageSnmp) {
        app.db.snmp_credentials_for(ip).await?.map(|c| c.view())
    } else {
        None
    };
    let w = q.window()?;
    let f = crate::data::dash::DashFilter { exporter: Some(crate::net::Prefix::host(ip)) };
    let (ifs, protocols, services, talkers) = futures_util::future::try_join4(
        app.db.interfaces(scope, &w, ip, 100),
        app.db.top(scope, &w, &f, TopKind::Protocols, 10),
        app.db.top(scope, &w, &f, TopKind::Services, 10),
        app.db.top(scope, &w, &f, TopKind::Talkers { dst: false }, 10),
    )
    .await?;
    let base = DashParams { exporter: None, ..q.clone() };
    let path = format!("/exporters/{ip}");
    let api = format!("/api/v1/traffic?{}", keep(&base, &[("exporter", &ip.to_string())]));
    let title = match e.shown_name() {
        Some(n) => format!("Exporter {n} ({ip})"),
        None => format!("Exporter {ip}"),
    };
    let top_ifs = format!("/api/v1/exporters/{ip}/interfaces?{}", keep(&base, &[("limit", "10")]));
    Ok(html(page(
        &title,
        &auth,
        "exporters",
        m! {
            div.toolbar { (range_picker(&path, &base, &[])) }
            section.card #exporter-health data-exporter=(e.exporter) {
                @if !e.notes.is_empty() { p #exporter-notes-text { (e.notes) } }
                dl.inline {
                    dt { "Status" } dd { (status_badge(e.status)) }
                    dt { "Protocol" } dd { (e.protocol.clone().unwrap_or_default()) }
                    dt { "Sampling" } dd { (e.sampling_rate.map(|r| format!("1:{r}")).unwrap_or_default()) }
                    dt { "First seen" } dd { (e.first_seen) }
                    dt { "Last seen" } dd { (e.last_seen) }
                    dt { "Templates" } dd { (e.active_templates) " known, " (e.templates) " received" }
                    dt { "Sequence loss" } dd { (e.sequence_lost) " total, " (e.rates.sequence_lost) " in 5 min" }
                    dt { "Decode errors" } dd { (e.decode_errors) }
                    dt { "Stored flows" } dd { (fmt_count(e.flows as f64)) }
                }
            }
            (super::snmp::card(&auth, &e, creds.as_ref(), app.snmp.unavailable()))
            @if auth.role.allows(Permission::NameExporters) {
                (super::exporter_names::form(&auth, &e.exporter, e.display_name.as_deref(), &e.notes))
            }
            (chart("chart-traffic", "traffic", &api, "Traffic of this exporter"))
            (chart("chart-top-interfaces", "top-interfaces", &top_ifs, "Top interfaces (average bits/s in and out)"))
            (chart("chart-pattern", "pattern", &format!("/api/v1/exporters/{ip}/pattern"), "Last 24 hours against the usual band (the same time on the previous days)"))
            div.grid2 {
                section {
                    h2 { "Interfaces" }
                    table.data #interfaces-table {
                        thead { tr { th { "Interface" } th.num { "ifIndex" } th.num { "Speed" } th.num { "In" } th.num { "Out" } th.num { "Util. in/out" } th.num { "Bytes in" } th.num { "Bytes out" } } }
                        tbody {
                            @if ifs.is_empty() { tr.empty { td colspan="8" { "No traffic in this time range." } } }
                            @for i in &ifs {
                                tr data-test="row" data-ifindex=(i.ifindex) {
                                    td data-test="if-label" { a href={ (path) "/interfaces/" (i.ifindex) "?" (keep(&base, &[])) } { (i.label) } }
                                    td.num { (i.ifindex) }
                                    td.num { (i.names.speed_bps.map(|s| fmt_bps(s as f64)).unwrap_or_default()) }
                                    td.num { (fmt_bps(i.in_bps)) } td.num { (fmt_bps(i.out_bps)) }
                                    td.num { (pct(i.in_util_pct)) " / " (pct(i.out_util_pct)) }
                                    td.num { (fmt_bytes(i.in_bytes as f64)) } td.num { (fmt_bytes(i.out_bytes as f64)) }
                                }
                            }
                        }
                    }
                }
                section { h2 { "Protocols" } (top_table("top-protocols", &protocols, "Protocol", false)) }
                section { h2 { "Services" } (top_table("top-services", &services, "Service", false)) }
                section { h2 { "Top talkers" } (top_table("top-talkers", &talkers, "Source address", false)) }
            }
        },
    )))
}

#[get("/exporters/<addr>/interfaces/<ifindex>?<q..>")]
async fn interface(auth: Auth, app: &State<App>, addr: &str, ifindex: u32, q: DashParams) -> AppResult<Html> {
    auth.require(Permission::ViewDashboards)?;
    let ip = parse_ip(addr)?;
    // Existence within scope first: an exporter outside it is a 404, like a missing one.
    let e = app.db.exporter(auth.scope(), ip).await?.ok_or(AppError::NotFound)?;
    let shown = match e.shown_name() {
        Some(n) => format!("{n} ({ip})"),
        None => ip.to_string(),
    };
    let w = q.window()?;
    let series = app.db.interface_traffic(auth.scope(), &w, ip, i64::from(ifindex)).await?;
    let (ib, ob): (f64, f64) =
        series.points.iter().fold((0.0, 0.0), |(a, b), p| (a + p.in_bps, b + p.out_bps));
    let n = series.points.len().max(1) as f64;
    let speed = series.names.speed_bps.filter(|s| *s > 0).map(|s| s as f64);
    let util = |bps: f64| pct(speed.map(|s| bps * 100.0 / s));
    let if_title = if series.label == ifindex.to_string() {
        format!("Interface {ifindex} of {shown}")
    } else {
        format!("Interface {} (ifIndex {ifindex}) of {shown}", series.label)
    };
    let base = DashParams { exporter: None, ..q.clone() };
    let path = format!("/exporters/{ip}/interfaces/{ifindex}");
    let api = format!("/api/v1/exporters/{ip}/interfaces/{ifindex}/traffic?{}", keep(&base, &[]));
    Ok(html(page(
        &if_title,
        &auth,
        "exporters",
        m! {
            div.toolbar { (range_picker(&path, &base, &[])) a href={ "/exporters/" (ip) } { "← exporter " (shown) } }
            div.cards {
                div.card-stat { span.label { "Average in" } span.value #avg-in { (fmt_bps(ib / n)) } }
                div.card-stat { span.label { "Average out" } span.value #avg-out { (fmt_bps(ob / n)) } }
                @if let Some(sp) = speed {
                    div.card-stat { span.label { "Speed" } span.value #if-speed { (fmt_bps(sp)) } }
                    div.card-stat { span.label { "Utilisation in / out" } span.value #if-util { (util(ib / n)) " / " (util(ob / n)) } }
                }
            }
            (chart("chart-interface", "interface", &api, "Traffic in and out (bits/s)"))
            (chart("chart-pattern", "pattern", &format!("/api/v1/exporters/{ip}/interfaces/{ifindex}/pattern"), "Last 24 hours in + out against the usual band (the same time on the previous days)"))
            @if auth.role.allows(Permission::SearchFlows) {
                p { a href={ "/flows?exporter=" (urlencode(&ip.to_string())) "&interface=" (ifindex) } { "Search the flows of this interface" } }
            }
        },
    )))
}

/// A percentage with one decimal, or a dash when unknown (no speed from SNMP).
fn pct(v: Option<f64>) -> String {
    v.map(|p| format!("{p:.1} %")).unwrap_or_else(|| "–".into())
}

/// `addr:port`, with IPv6 addresses in brackets.
fn endpoint(addr: &Option<String>, port: i32) -> String {
    match addr {
        Some(a) if a.contains(':') => format!("[{a}]:{port}"),
        Some(a) => format!("{a}:{port}"),
        None => format!("-:{port}"),
    }
}

fn flow_form(q: &FlowParams) -> Markup {
    let v = |o: &Option<String>| o.clone().unwrap_or_default();
    let field = |id: &str, label: &str, value: String, ph: &str| {
        m! { div.field { label for={ "f-" (id) } { (label) } input id={ "f-" (id) } type="text" name=(id) value=(value) placeholder=(ph); } }
    };
    m! {
        form #flow-search method="get" action="/flows" {
            div.field.wide {
                label for="f-filter" { "Filter" }
                input #f-filter type="text" name="filter" value=(v(&q.filter)) size="80"
                    placeholder="proto tcp and dst port 443 and src net 10.0.0.0/8 and not exporter 192.0.2.1";
                span.muted { "nfdump-style expression (see the filter language in the docs); the fields below are ANDed with it" }
            }
            div.fields {
                (field("from", "From", v(&q.from), "RFC 3339, default 15 min ago"))
                (field("to", "To", v(&q.to), "RFC 3339, default now"))
                (field("src", "Source", v(&q.src), "address or prefix"))
                (field("dst", "Destination", v(&q.dst), "address or prefix"))
                (field("addr", "Either address", v(&q.addr), "address or prefix"))
                (field("src_port", "Source port", v(&q.src_port), ""))
                (field("dst_port", "Destination port", v(&q.dst_port), ""))
                (field("port", "Either port", v(&q.port), ""))
                (field("proto", "Protocol", v(&q.proto), "tcp, udp, 47 ..."))
                (field("exporter", "Exporter", v(&q.exporter), "address or prefix"))
                (field("in_if", "In ifIndex", v(&q.in_if), ""))
                (field("out_if", "Out ifIndex", v(&q.out_if), ""))
                (field("interface", "Either ifIndex", v(&q.interface), ""))
            }
            button #flow-search-submit type="submit" { "Search" }
        }
    }
}

#[get("/flows?<q..>")]
async fn flows(auth: Auth, app: &State<App>, q: FlowParams) -> AppResult<Html> {
    auth.require(Permission::SearchFlows)?;
    // A bad filter or field is shown above the form it came from (with the position
    // of the bad token), not as an error page.
    let result = match q.query() {
        Ok(query) => app.db.search_flows(auth.scope(), &query).await.map_err(AppError::from),
        Err(e) => Err(e),
    };
    let qs = q.query_string();
    let body = match result {
        Err(e) => {
            let (_, msg) = e.status_and_message();
            m! { (flow_form(&q)) div.notice.error #flow-error data-test="flow-error" { (msg) } }
        }
        Ok(page_) => m! {
            (flow_form(&q))
            div.toolbar {
                span.muted #flow-range { (page_.from) " to " (page_.to) ", page " (page_.page) " (" (page_.rows.len()) " rows)" }
                @if let Ok(Some(e)) = q.expression() { " " code #flow-expression { (e) } }
                a.button #flow-export href={ "/api/v1/flows/export?" (qs) } data-test="export-csv" { "Export CSV" }
            }
            table.data.flows #flow-results {
                thead { tr {
                    th { "Received" } th { "Exporter" } th { "Source" } th { "Destination" } th { "Proto" }
                    th.num { "Bytes" } th.num { "Packets" } th.num { "Sampling" } th.num { "In" } th.num { "Out" }
                    th.num { "Src AS" } th.num { "Dst AS" }
                } }
                tbody {
                    @if page_.rows.is_empty() { tr.empty { td colspan="12" { "No flows match." } } }
                    @for r in &page_.rows {
                        tr data-test="row" data-exporter=(r.exporter) {
                            td { (r.time_received) }
                            td { (super::exporter_names::label(&r.exporter, r.exporter_name.as_deref())) }
                            td { (endpoint(&r.src_addr, r.src_port)) }
                            td { (endpoint(&r.dst_addr, r.dst_port)) }
                            td { (crate::data::proto_name(r.proto)) }
                            td.num { (r.bytes_scaled) } td.num { (r.packets_scaled) } td.num { (r.sampling_rate) }
                            td.num title=(r.in_if) data-test="in-if" { (r.in_if_name.clone().unwrap_or_else(|| r.in_if.to_string())) }
                            td.num title=(r.out_if) data-test="out-if" { (r.out_if_name.clone().unwrap_or_else(|| r.out_if.to_string())) }
                            td.num { (r.src_as) } td.num { (r.dst_as) }
                        }
                    }
                }
            }
            nav.pager #flow-pager {
                @if page_.page > 1 { a #flow-prev href={ "/flows?" (qs) "&page=" (page_.page - 1) } { "← Newer" } }
                @if page_.has_more { a #flow-next href={ "/flows?" (qs) "&page=" (page_.page + 1) } { "Older →" } }
            }
            p.muted { "Bytes and packets are sampling-corrected (as exported × sampling rate). A search pages through at most "
                (page_.max_rows) " rows and stops after the query time limit." }
        },
    };
    Ok(html(page("Flow search", &auth, "flows", body)))
}

/// The CSV export under the page tree (same as `/api/v1/flows/export`).
#[get("/flows/export?<q..>")]
async fn flows_export(auth: Auth, app: &State<App>, q: FlowParams) -> AppResult<crate::api::Csv> {
    crate::api::export_csv(app, &auth, &q).await
}

#[get("/collector")]
async fn collector(auth: Auth, app: &State<App>) -> AppResult<Html> {
    auth.require(Permission::ViewCollectorStats)?;
    let stats = app.db.collector_stats().await?;
    Ok(html(page(
        "Collector statistics",
        &auth,
        "collector",
        m! {
            p.muted { "Counters of each collector process (monotonic since its start), with rates since its previous snapshot." }
            @if stats.instances.is_empty() { p #no-collectors { "No collector has reported in the last day." } }
            @for i in &stats.instances {
                section.card data-test="collector" data-instance=(i.instance) {
                    h2 { (i.host) " " span.muted { "instance " (i.instance) } " "
                        (status_badge(if i.live { "up" } else { "down" })) }
                    p.muted { "started " (i.started_at) ", last report " (i.time) }
                    table.data.counters {
                        thead { tr { th { "Counter" } th.num { "Value" } th.num { "Per second" } } }
                        tbody {
                            @for c in &i.counters {
                                tr data-counter=(c.name) {
                                    td { code { (c.name) } } td.num { (c.value) }
                                    td.num { (c.rate_per_s.map(|r| format!("{r:.2}")).unwrap_or_default()) }
                                }
                            }
                        }
                    }
                }
            }
        },
    )))
}
