//! The page frame (navigation, CSRF meta tag, assets) and small rendering helpers.
//! maud escapes every interpolated value; there is no inline script or style (the
//! CSP forbids both).

use crate::auth::{Auth, Permission, Role};
use maud::{html, Markup, DOCTYPE};
use rocket::http::Status;

/// Navigation entries: (id, label, href, permission needed).
const NAV: &[(&str, &str, &str, Permission)] = &[
    ("overview", "Overview", "/", Permission::ViewDashboards),
    ("talkers", "Top talkers", "/talkers", Permission::ViewDashboards),
    ("services", "Services", "/services", Permission::ViewDashboards),
    ("protocols", "Protocols", "/protocols", Permission::ViewDashboards),
    ("as", "AS", "/as", Permission::ViewDashboards),
    ("exporters", "Exporters", "/exporters", Permission::ViewDashboards),
    ("insights", "Insights", "/insights", Permission::ViewDashboards),
    ("mibs", "MIBs", "/mibs", Permission::BrowseMibs),
    ("flows", "Flow search", "/flows", Permission::SearchFlows),
    ("stats", "Statistics", "/stats", Permission::SearchFlows),
    ("collector", "Collector", "/collector", Permission::ViewCollectorStats),
    ("simulations", "Simulations", "/simulations", Permission::RunSimulations),
    ("rules", "Forwarding", "/rules", Permission::ManageRules),
    ("users", "Users", "/admin/users", Permission::ManageUsers),
    ("groups", "Device groups", "/admin/groups", Permission::ManageUsers),
    ("audit", "Audit log", "/admin/audit", Permission::ViewAudit),
    ("archive", "Archive", "/archive", Permission::ManageArchive),
];

fn head(title: &str) -> Markup {
    html! {
        meta charset="utf-8";
        meta name="viewport" content="width=device-width, initial-scale=1";
        title { (title) " · FlowVision" }
        link rel="stylesheet" href="/static/app.css";
        // No favicon request (and no 404 for it).
        link rel="icon" href="data:,";
    }
}

/// A page for a logged-in user.
pub fn page(title: &str, auth: &Auth, active: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                (head(title))
                meta name="csrf-token" content=(auth.csrf().unwrap_or(""));
                script src="/static/vendor/chart.umd.js" defer {}
                script src="/static/app.js" defer {}
            }
            body data-page=(active) data-role=(auth.role.as_str()) {
                header.top {
                    a.brand href="/" { "FlowVision" }
                    nav #nav {
                        @for (id, label, href, perm) in NAV {
                            @if auth.role.allows(*perm) {
                                a.active[*id == active] href=(href) data-test={ "nav-" (id) } { (label) }
                            }
                        }
                    }
                    div.user {
                        a href="/account" data-test="nav-account" #current-user { (auth.username) }
                        span.role { (auth.role.as_str()) }
                        form.inline method="post" action="/logout" #logout-form {
                            input type="hidden" name="csrf" value=(auth.csrf().unwrap_or(""));
                            button.link type="submit" #logout { "Log out" }
                        }
                    }
                }
                main #content {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

/// A page without a user (login, errors).
pub fn bare(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head { (head(title)) }
            body.bare {
                main #content.narrow {
                    div.brand-big { "FlowVision" }
                    (body)
                }
            }
        }
    }
}

/// The error page.
pub fn error_page(status: Status, message: &str) -> Markup {
    bare(
        &status.code.to_string(),
        html! {
            h1 { (status.code) " " (status.reason().unwrap_or("")) }
            p #error-message data-test="error" { (message) }
            p { a href="/" { "Back to the console" } }
        },
    )
}

/// The hidden CSRF field of a form.
pub fn csrf_field(auth: &Auth) -> Markup {
    html! { input type="hidden" name="csrf" value=(auth.csrf().unwrap_or("")); }
}

/// A notice (success or error).
pub fn notice(kind: &str, text: &str) -> Markup {
    html! { div class={ "notice " (kind) } data-test={ "notice-" (kind) } { (text) } }
}

/// The role's name with its capabilities, for the account page.
pub fn role_summary(role: Role) -> &'static str {
    match role {
        Role::Viewer => "dashboards, exporters and interfaces within your device scope",
        Role::Analyst => "as viewer, plus raw flow search, CSV export and acknowledging insights",
        Role::Operator => {
            "as analyst, plus collector statistics, simulations, forwarding rules and exporter names"
        }
        Role::Admin => "everything, on every exporter: users, roles, device scopes, audit log",
    }
}

/// Bits per second for people.
pub fn fmt_bps(v: f64) -> String {
    scaled(v, 1000.0, &["b/s", "kb/s", "Mb/s", "Gb/s", "Tb/s", "Pb/s"])
}

/// A count for people (1.2 k, 3.4 M).
pub fn fmt_count(v: f64) -> String {
    scaled(v, 1000.0, &["", "k", "M", "G", "T", "P"])
}

/// Bytes for people.
pub fn fmt_bytes(v: f64) -> String {
    scaled(v, 1000.0, &["B", "kB", "MB", "GB", "TB", "PB"])
}

fn scaled(mut v: f64, step: f64, units: &[&str]) -> String {
    let mut i = 0;
    while v.abs() >= step && i + 1 < units.len() {
        v /= step;
        i += 1;
    }
    let unit = units.get(i).copied().unwrap_or("");
    if i == 0 && v.fract() == 0.0 {
        format!("{v:.0} {unit}").trim_end().to_string()
    } else {
        format!("{v:.2} {unit}").trim_end().to_string()
    }
}

/// A share as a percentage.
pub fn fmt_pct(v: f64) -> String {
    format!("{:.1} %", v * 100.0)
}
