//! The exporter page's SNMP card: what the agent says (sysName, sysDescr, vendor and
//! product), the last poll and its error, a refresh button (operators) and the
//! credentials form (admins only; secrets are write-only). Also `GET /metrics` with
//! the console's SNMP counters. docs/snmp.md.

use crate::auth::{Auth, CsrfForm, Permission};
use crate::data::exporters::ExporterHealth;
use crate::data::snmp::{CredentialsOwner, CredentialsView};
use crate::error::{AppError, AppResult};
use crate::snmp::CredentialsInput;
use crate::App;
use maud::{html as m, Markup};
use rocket::http::ContentType;
use rocket::response::Redirect;
use rocket::{get, post, routes, FromForm, Route, State};
use std::net::IpAddr;

/// The routes of this module.
pub fn routes() -> Vec<Route> {
    routes![credentials_form, poll_form, group_page, group_form, group_delete, metrics]
}

/// The card on the exporter page.
pub fn card(
    auth: &Auth,
    e: &ExporterHealth,
    creds: Option<&CredentialsView>,
    unavailable: Option<&str>,
) -> Markup {
    let s = &e.snmp;
    m! {
        section.card #exporter-snmp data-status=(s.status) {
            h2 { "SNMP" }
            dl.inline {
                dt { "sysName" } dd #snmp-sys-name { (e.sys_name.clone().unwrap_or_default()) }
                dt { "Vendor" } dd #snmp-vendor { (e.vendor.clone().unwrap_or_default()) }
                dt { "Product" } dd #snmp-product { (e.product.clone().unwrap_or_default()) }
                dt { "sysObjectID" } dd #snmp-object-id { (e.sys_object_id.clone().unwrap_or_default()) }
                dt { "sysDescr" } dd #snmp-sys-descr { (e.sys_descr.clone().unwrap_or_default()) }
                dt { "Poll" } dd #snmp-status {
                    span class={ "badge " (s.status) } { (s.status) }
                    @if let Some(t) = &s.last_poll { " last " (t) }
                    @if let Some(t) = &s.last_success { ", last success " (t) }
                    @if s.interfaces > 0 { ", " (s.interfaces) " interfaces" }
                    @if s.if_x_table == Some(false) { " (no ifXTable: names from ifDescr)" }
                }
                @if let Some(err) = &s.last_error {
                    dt { "Last error" } dd #snmp-error data-kind=(s.error_kind.clone().unwrap_or_default()) { (err) }
                }
            }
            @if s.status == "unconfigured" {
                p.muted #snmp-unconfigured { "No SNMP credentials apply to this exporter: an admin sets them here or as a device group's default." }
            }
            @if auth.role.allows(Permission::PollSnmp) && s.status != "unconfigured" {
                form #snmp-poll-form method="post" action={ "/exporters/" (e.exporter) "/snmp/poll" } {
                    (super::layout::csrf_field(auth))
                    button #snmp-refresh type="submit" { "Refresh now" }
                }
            }
            @if auth.role.allows(Permission::ManageSnmp) {
                (credentials_card(auth, &format!("/exporters/{}/snmp", e.exporter), true, creds, unavailable))
            }
        }
    }
}

/// The credentials form posting to `action`; `agent`: whether an agent address may be
/// given (exporters; a device group's default polls each exporter's own address).
pub fn credentials_card(
    auth: &Auth,
    action: &str,
    agent: bool,
    creds: Option<&CredentialsView>,
    unavailable: Option<&str>,
) -> Markup {
    let field = |id: &str, label: &str, kind: &str, value: &str| {
        m! { label for={ "snmp-" (id) } { (label) } input id={ "snmp-" (id) } type=(kind) name=(id) value=(value) autocomplete="off"; }
    };
    let opt = |o: &Option<String>| o.clone().unwrap_or_default();
    m! {
        details.card #snmp-credentials-card {
            summary { "Credentials" }
            @if let Some(why) = unavailable { p.notice.error { (why) } }
            @match creds {
                Some(c) => p #snmp-credentials-current {
                    "In use: SNMP v" (c.version)
                    @if let Some(u) = &c.user { ", user " code { (u) } }
                    @if let Some(a) = &c.auth_protocol { ", " (a) }
                    @if let Some(p) = &c.priv_protocol { "/" (p) }
                    @if let Some(a) = &c.agent { ", agent " (a) }
                    ", port " (c.port)
                    @if let Some(g) = &c.group { " (default of device group " (g) ")" }
                    ", set by " (c.updated_by) " at " (c.updated_at) ". Secrets are never shown."
                },
                None => p.muted { "None set." },
            }
            form #snmp-credentials-form method="post" action=(action) {
                (super::layout::csrf_field(auth))
                label for="snmp-version" { "Version" }
                select #snmp-version name="version" {
                    option value="2c" selected[creds.map_or(true, |c| c.version == "2c")] { "v2c" }
                    option value="3" selected[creds.is_some_and(|c| c.version == "3")] { "v3" }
                }
                (field("community", "Community (v2c)", "password", ""))
                (field("user", "User (v3)", "text", &creds.and_then(|c| c.user.clone()).unwrap_or_default()))
                label for="snmp-auth_protocol" { "Authentication (v3)" }
                select #snmp-auth_protocol name="auth_protocol" {
                    option value="" { "none" }
                    @for a in flowvision_snmp::AuthProtocol::ALL {
                        option value=(a.as_str()) selected[creds.is_some_and(|c| c.auth_protocol.as_deref() == Some(a.as_str()))] { (a.as_str()) }
                    }
                }
                (field("auth_password", "Authentication password", "password", ""))
                label for="snmp-priv_protocol" { "Privacy (v3)" }
                select #snmp-priv_protocol name="priv_protocol" {
                    option value="" { "none" }
                    @for p in flowvision_snmp::PrivProtocol::ALL {
                        option value=(p.as_str()) selected[creds.is_some_and(|c| c.priv_protocol.as_deref() == Some(p.as_str()))] { (p.as_str()) }
                    }
                }
                (field("priv_password", "Privacy password", "password", ""))
                @if agent {
                    (field("agent", "Agent address (default: the exporter's)", "text", &creds.map(|c| opt(&c.agent)).unwrap_or_default()))
                }
                (field("port", "Port", "number", &creds.map_or(161, |c| c.port).to_string()))
                button #snmp-credentials-submit type="submit" { "Save and poll" }
            }
        }
    }
}

/// The credentials form's fields (blank = absent).
#[derive(Debug, FromForm)]
struct CredentialsFields {
    version: String,
    community: Option<String>,
    user: Option<String>,
    auth_protocol: Option<String>,
    auth_password: Option<String>,
    priv_protocol: Option<String>,
    priv_password: Option<String>,
    agent: Option<String>,
    port: Option<String>,
}

fn nonblank(o: Option<String>) -> Option<String> {
    o.filter(|s| !s.trim().is_empty())
}

impl CredentialsFields {
    /// The API's input: fields of the other version dropped, blanks absent.
    fn into_input(self) -> AppResult<CredentialsInput> {
        let v3 = self.version.trim() == "3";
        let port = match nonblank(self.port) {
            None => None,
            Some(p) => Some(
                p.trim().parse::<u16>().map_err(|_| AppError::BadRequest("port must be 1-65535".into()))?,
            ),
        };
        let only_v3 = |o: Option<String>| if v3 { nonblank(o) } else { None };
        Ok(CredentialsInput {
            community: if v3 { None } else { nonblank(self.community) },
            user: only_v3(self.user),
            auth_protocol: only_v3(self.auth_protocol),
            auth_password: only_v3(self.auth_password),
            priv_protocol: only_v3(self.priv_protocol),
            priv_password: only_v3(self.priv_password),
            agent: nonblank(self.agent),
            port,
            version: self.version,
        })
    }
}

#[post("/exporters/<addr>/snmp", data = "<form>")]
async fn credentials_form(
    auth: Auth,
    app: &State<App>,
    addr: &str,
    form: CsrfForm<CredentialsFields>,
) -> AppResult<Redirect> {
    let ip: IpAddr = addr.parse().map_err(|_| AppError::NotFound)?;
    let input = form.0.into_input()?;
    crate::api::snmp::set_credentials(app, &auth, CredentialsOwner::Exporter(ip), input).await?;
    // New credentials are tried at once: the card then shows their outcome.
    if auth.role.allows(Permission::PollSnmp) {
        crate::api::snmp::poll_now(app, &auth, ip).await?;
    }
    Ok(Redirect::to(format!("/exporters/{ip}")))
}

/// A device group's default credentials (admins).
#[get("/admin/groups/<id>/snmp")]
async fn group_page(auth: Auth, app: &State<App>, id: i64) -> AppResult<super::Html> {
    auth.require(Permission::ManageSnmp)?;
    let group = app.db.groups().await?.into_iter().find(|g| g.id == id).ok_or(AppError::NotFound)?;
    let creds = app.db.group_snmp_credentials(id).await?.map(|c| c.view());
    Ok(super::html(super::layout::page(
        &format!("SNMP default of device group {}", group.name),
        &auth,
        "groups",
        m! {
            p.muted { "Exporters in this group's prefixes (" (group.prefixes.join(", ")) ") without credentials of their own are polled with these, at their own addresses." }
            (credentials_card(&auth, &format!("/admin/groups/{id}/snmp"), false, creds.as_ref(), app.snmp.unavailable()))
            @if creds.is_some() {
                form #snmp-group-delete method="post" action={ "/admin/groups/" (id) "/snmp/delete" } data-confirm="Remove this group's SNMP default?" {
                    (super::layout::csrf_field(&auth))
                    button.danger type="submit" { "Remove the default" }
                }
            }
            p { a href="/admin/groups" { "← device groups" } }
        },
    )))
}

#[post("/admin/groups/<id>/snmp", data = "<form>")]
async fn group_form(
    auth: Auth,
    app: &State<App>,
    id: i64,
    form: CsrfForm<CredentialsFields>,
) -> AppResult<Redirect> {
    let input = form.0.into_input()?;
    crate::api::snmp::set_credentials(app, &auth, CredentialsOwner::Group(id), input).await?;
    Ok(Redirect::to(format!("/admin/groups/{id}/snmp")))
}

#[post("/admin/groups/<id>/snmp/delete", data = "<_form>")]
async fn group_delete(
    auth: Auth,
    app: &State<App>,
    id: i64,
    _form: CsrfForm<super::account::Confirm>,
) -> AppResult<Redirect> {
    auth.require(Permission::ManageSnmp)?;
    app.db.delete_snmp_credentials(auth.scope(), CredentialsOwner::Group(id)).await?;
    crate::actions::audit(
        app,
        &auth,
        "snmp.credentials.delete",
        &format!("group {id}"),
        true,
        serde_json::json!({}),
    )
    .await;
    Ok(Redirect::to(format!("/admin/groups/{id}/snmp")))
}

#[post("/exporters/<addr>/snmp/poll", data = "<_form>")]
async fn poll_form(
    auth: Auth,
    app: &State<App>,
    addr: &str,
    _form: CsrfForm<super::account::Confirm>,
) -> AppResult<Redirect> {
    let ip: IpAddr = addr.parse().map_err(|_| AppError::NotFound)?;
    crate::api::snmp::poll_now(app, &auth, ip).await?;
    Ok(Redirect::to(format!("/exporters/{ip}")))
}

/// Prometheus text: SNMP poll counters and exporters per poll status. Same
/// authorization as every page (a session or an API token; operators and admins).
#[get("/metrics")]
async fn metrics(auth: Auth, app: &State<App>) -> AppResult<(ContentType, String)> {
    auth.require(Permission::ViewCollectorStats)?;
    let mut out = String::new();
    out.push_str("# HELP flowvision_snmp_polls_total SNMP polls by result (ok or the failure kind).\n");
    out.push_str("# TYPE flowvision_snmp_polls_total counter\n");
    for (result, n) in app.snmp.counters.polls() {
        out.push_str(&format!("flowvision_snmp_polls_total{{result=\"{result}\"}} {n}\n"));
    }
    out.push_str("# HELP flowvision_snmp_poll_seconds_total Time spent in SNMP polls.\n");
    out.push_str("# TYPE flowvision_snmp_poll_seconds_total counter\n");
    out.push_str(&format!(
        "flowvision_snmp_poll_seconds_total {:.3}\n",
        app.snmp.counters.poll_ms_total() as f64 / 1000.0
    ));
    out.push_str("# HELP flowvision_snmp_exporters Exporters by the state of their last SNMP poll.\n");
    out.push_str("# TYPE flowvision_snmp_exporters gauge\n");
    let counts = app.db.snmp_status_counts().await?;
    for status in ["ok", "error", "polling"] {
        let n = counts.iter().find(|(s, _)| s == status).map_or(0, |(_, n)| *n);
        out.push_str(&format!("flowvision_snmp_exporters{{status=\"{status}\"}} {n}\n"));
    }
    out.push_str(
        "# HELP flowvision_snmp_credentials_available 1 when SNMP credentials can be sealed and opened.\n",
    );
    out.push_str("# TYPE flowvision_snmp_credentials_available gauge\n");
    out.push_str(&format!(
        "flowvision_snmp_credentials_available {}\n",
        u8::from(app.snmp.unavailable().is_none())
    ));
    Ok((ContentType::new("text", "plain").with_params(("version", "0.0.4")), out))
}
