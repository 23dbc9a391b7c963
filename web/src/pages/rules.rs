//! The forwarding rules page (`/rules`): the rules in evaluation order with their
//! live counters (refreshed by `static/rules.js` from `/api/v1/rules`), the add/edit
//! form whose filter is checked as it is typed (`/api/v1/rules/check`; the server
//! checks again on submit and shows the error at its token), enable/disable, delete.
//! The changes are the API's own operations ([`crate::api::rules`]), audited there.

use super::layout::{csrf_field, notice, page};
use super::{html, urlencode, Html};
use crate::api::rules::{self as ops, RuleFailure, RuleInput, RuleProblem};
use crate::auth::{Auth, CsrfForm, Permission};
use crate::data::rules::RuleView;
use crate::error::{AppError, AppResult};
use crate::App;
use maud::{html as m, Markup};
use rocket::response::Redirect;
use rocket::{get, post, routes, FromForm, Route, State};
use std::collections::BTreeMap;

/// The page's routes.
pub fn routes() -> Vec<Route> {
    routes![rules_page, rule_create, rule_update, rule_enabled, rule_delete]
}

/// The add/edit form's fields.
#[derive(Debug, Clone, Default, FromForm)]
pub struct RuleForm {
    name: String,
    filter: String,
    action: String,
    destination: String,
    protocol: String,
    position: Option<i32>,
    enabled: bool,
}

impl RuleForm {
    fn input(&self) -> RuleInput {
        RuleInput {
            name: self.name.clone(),
            filter: self.filter.clone(),
            action: self.action.clone(),
            destination: Some(self.destination.clone()),
            protocol: Some(self.protocol.clone()),
            position: self.position.unwrap_or(0),
            enabled: self.enabled,
        }
    }

    fn of(r: &RuleView) -> RuleForm {
        RuleForm {
            name: r.name.clone(),
            filter: r.filter.clone(),
            action: if r.transparent { "transparent".into() } else { r.action.clone() },
            destination: r.destination.clone().unwrap_or_default(),
            protocol: r.protocol.clone().unwrap_or_default(),
            position: Some(r.position),
            enabled: r.enabled,
        }
    }
}

fn sum(m: &BTreeMap<String, i64>, pred: impl Fn(&str) -> bool) -> i64 {
    m.iter().filter(|(k, _)| pred(k)).map(|(_, v)| *v).sum()
}

/// The counters' cells; `rules.js` fills the same `data-counter` cells on refresh.
fn counter_cells(r: &RuleView) -> Markup {
    let matched = r.counters.get("matched").copied().unwrap_or(0);
    let sent: i64 = r.destinations.values().map(|d| d.get("sent").copied().unwrap_or(0)).sum();
    let dropped: i64 = sum(&r.counters, |k| k.starts_with("dropped_"))
        + r.destinations.values().map(|d| sum(d, |k| k.starts_with("dropped_"))).sum::<i64>();
    let health: Vec<String> = r
        .destinations
        .iter()
        .map(|(d, c)| {
            let state = c
                .iter()
                .find(|(k, v)| k.starts_with("state_") && **v > 0)
                .map(|(k, _)| k.trim_start_matches("state_").to_string())
                .unwrap_or_else(|| "unknown".into());
            let reasons: Vec<String> = c
                .iter()
                .filter(|(k, v)| k.starts_with("dropped_") && **v > 0)
                .map(|(k, v)| format!("{} {v}", k.trim_start_matches("dropped_")))
                .collect();
            if reasons.is_empty() {
                format!("{d}: {state}")
            } else {
                format!("{d}: {state}; dropped {}", reasons.join(", "))
            }
        })
        .collect();
    m! {
        td.num data-counter="matched" { (matched) }
        td.num data-counter="sent" { (sent) }
        td.num data-counter="dropped" { (dropped) }
        td data-counter="health" { (if health.is_empty() { "no collector reported yet".to_string() } else { health.join(" | ") }) }
    }
}

fn rule_form(auth: &Auth, f: &RuleForm, editing: Option<&str>, problem: Option<&RuleProblem>) -> Markup {
    let action = match editing {
        Some(n) => format!("/rules/{}", urlencode(n)),
        None => "/rules".into(),
    };
    let err_for = |field: &str| problem.filter(|p| p.field == field).map(|p| p.error.clone());
    let filter_problem = problem.filter(|p| p.field == "filter");
    let caret = filter_problem.and_then(|p| p.position.map(|pos| (pos, p.token.clone().unwrap_or_default())));
    m! {
        section.card #rule-form-card {
            h2 { @if let Some(n) = editing { "Edit rule " (n) } @else { "Add a rule" } }
            form #rule-form method="post" action=(action) data-editing=(editing.unwrap_or("")) {
                (csrf_field(auth))
                label for="rule-name" { "Name" }
                input #rule-name type="text" name="name" required value=(f.name) maxlength="64";
                label for="rule-filter" { "Filter" }
                input #rule-filter type="text" name="filter" value=(f.filter) autocomplete="off" spellcheck="false"
                    placeholder="proto tcp and dst port 443 and src net 10.0.0.0/8"
                    data-check="/api/v1/rules/check" data-state=(if filter_problem.is_some() { "error" } else { "" });
                div #filter-error.field-error data-test="filter-error" hidden[filter_problem.is_none()]
                    data-position=(caret.as_ref().map(|c| c.0.to_string()).unwrap_or_default())
                    data-token=(caret.as_ref().map(|c| c.1.clone()).unwrap_or_default()) {
                    @if let Some(p) = filter_problem {
                        span.message { (p.error) }
                        @if let Some((pos, tok)) = &caret {
                            @let before = f.filter.get(..*pos).unwrap_or(&f.filter);
                            @let tok_len = tok.len().max(1);
                            @let bad = f.filter.get(*pos..(*pos + tok_len).min(f.filter.len())).unwrap_or("");
                            @let after = f.filter.get((*pos + tok_len).min(f.filter.len())..).unwrap_or("");
                            pre.caret { (before) mark #filter-error-token { (if bad.is_empty() { " " } else { bad }) } (after) }
                        }
                    }
                }
                label for="rule-action" { "Action" }
                select #rule-action name="action" {
                    @for (v, l) in [("raw", "raw (forward the datagram unchanged)"),
                                    ("transparent", "transparent (raw, with the exporter's source address)"),
                                    ("reencode", "re-encode (only matching records)"),
                                    ("drop", "drop (no later rule forwards them)")] {
                        option value=(v) selected[f.action == v] { (l) }
                    }
                }
                @if let Some(e) = err_for("action") { div.field-error data-test="action-error" { (e) } }
                label for="rule-destination" { "Destination (host:port)" }
                input #rule-destination type="text" name="destination" value=(f.destination) placeholder="192.0.2.10:2055";
                @if let Some(e) = err_for("destination") { div.field-error data-test="destination-error" { (e) } }
                label for="rule-protocol" { "Re-encode protocol" }
                select #rule-protocol name="protocol" {
                    option value="" selected[f.protocol.is_empty()] { "—" }
                    option value="netflow_v9" selected[f.protocol == "netflow_v9"] { "NetFlow v9" }
                    option value="ipfix" selected[f.protocol == "ipfix"] { "IPFIX" }
                }
                @if let Some(e) = err_for("protocol") { div.field-error { (e) } }
                @if let Some(e) = err_for("name") { div.field-error { (e) } }
                label for="rule-position" { "Position (evaluation order)" }
                input #rule-position name="position" type="number" value=(f.position.unwrap_or(0));
                label.check { input #rule-enabled type="checkbox" name="enabled" checked[f.enabled]; " Enabled" }
                button #rule-submit type="submit" { @if editing.is_some() { "Save" } @else { "Add rule" } }
                @if editing.is_some() { " " a href="/rules" { "Cancel" } }
            }
        }
    }
}

fn rules_html(auth: &Auth, rules: &[RuleView], form: Markup, top: Markup) -> Html {
    let can_change = auth.scope().is_all();
    html(page(
        "Forwarding rules",
        auth,
        "rules",
        m! {
            (top)
            p.muted { "Rules are evaluated in order; each collector reloads them within a second of a change. \
                       Counters are summed over the collectors that reported in the last two minutes." }
            table.data #rules-table data-api="/api/v1/rules" {
                thead { tr {
                    th.num { "#" } th { "Name" } th { "Filter" } th { "Action" } th { "Destination" } th { "State" }
                    th.num { "Matched (records)" } th.num { "Sent (datagrams)" } th.num { "Dropped" } th { "Health" } th { "" }
                } }
                tbody {
                    @if rules.is_empty() { tr.empty { td colspan="11" { "No forwarding rules." } } }
                    @for r in rules {
                        tr data-test="row" data-rule=(r.name) {
                            td.num { (r.position) }
                            td { (r.name) }
                            td { code { (r.filter) } }
                            td { (if r.transparent { "transparent" } else { r.action.as_str() })
                                 @if let Some(p) = &r.protocol { " (" (p) ")" } }
                            td { (r.destination.clone().unwrap_or_default()) }
                            td { span class={ "badge " (if r.enabled { "up" } else { "down" }) } data-enabled=(r.enabled) {
                                (if r.enabled { "enabled" } else { "disabled" }) } }
                            (counter_cells(r))
                            td.actions {
                                @if can_change {
                                    a.button data-test="edit" href={ "/rules?edit=" (urlencode(&r.name)) } { "Edit" }
                                    form.inline method="post" action={ "/rules/" (urlencode(&r.name)) "/enabled" } {
                                        (csrf_field(auth))
                                        input type="hidden" name="enabled" value=(if r.enabled { "false" } else { "true" });
                                        button data-test="toggle" type="submit" { (if r.enabled { "Disable" } else { "Enable" }) }
                                    }
                                    form.inline method="post" action={ "/rules/" (urlencode(&r.name)) "/delete" }
                                        data-confirm={ "Delete rule " (r.name) "?" } {
                                        (csrf_field(auth))
                                        button.danger data-test="delete" type="submit" { "Delete" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if can_change { (form) } @else {
                p.muted #rules-readonly { "Changing rules needs access to all exporters (a rule sees every exporter's flows)." }
            }
            script src="/static/rules.js" defer {}
        },
    ))
}

fn done_notice(done: Option<&str>) -> Markup {
    match done {
        Some("created") => notice("ok", "Rule added."),
        Some("updated") => notice("ok", "Rule saved."),
        Some("enabled") => notice("ok", "Rule enabled."),
        Some("disabled") => notice("ok", "Rule disabled."),
        Some("deleted") => notice("ok", "Rule deleted."),
        _ => m! {},
    }
}

#[get("/rules?<edit>&<done>")]
async fn rules_page(auth: Auth, app: &State<App>, edit: Option<&str>, done: Option<&str>) -> AppResult<Html> {
    auth.require(Permission::ManageRules)?;
    let rules = app.db.rules().await?;
    let editing = edit.and_then(|n| rules.iter().find(|r| r.name == n));
    let form = match editing {
        Some(r) => rule_form(&auth, &RuleForm::of(r), Some(&r.name), None),
        None => rule_form(
            &auth,
            &RuleForm { action: "raw".into(), enabled: true, ..RuleForm::default() },
            None,
            None,
        ),
    };
    Ok(rules_html(&auth, &rules, form, done_notice(done)))
}

/// A refused form: the page again with the values typed and the error at its place.
async fn refused(
    app: &App,
    auth: &Auth,
    f: &RuleForm,
    editing: Option<&str>,
    e: RuleFailure,
) -> AppResult<Html> {
    match e {
        RuleFailure::App(e) => {
            let (_, msg) = e.status_and_message();
            if matches!(e, AppError::Forbidden(_) | AppError::Internal(_) | AppError::Unavailable(_)) {
                return Err(e);
            }
            let rules = app.db.rules().await?;
            Ok(rules_html(auth, &rules, rule_form(auth, f, editing, None), notice("error", &msg)))
        }
        RuleFailure::Invalid(p) => {
            let rules = app.db.rules().await?;
            let msg = format!("The rule was not saved: {}", p.error);
            Ok(rules_html(auth, &rules, rule_form(auth, f, editing, Some(&p)), notice("error", &msg)))
        }
    }
}

/// Either a redirect after success, or the page with the error.
#[derive(rocket::Responder)]
#[allow(clippy::large_enum_variant)] // one short-lived value per request
pub enum Outcome {
    /// Done.
    Done(Redirect),
    /// Refused, with the form as typed.
    Page(Html),
}

#[post("/rules", data = "<form>")]
async fn rule_create(auth: Auth, app: &State<App>, form: CsrfForm<RuleForm>) -> AppResult<Outcome> {
    auth.require(Permission::ManageRules)?;
    let f = form.0;
    match ops::create_rule(app, &auth, f.input()).await {
        Ok(_) => Ok(Outcome::Done(Redirect::to("/rules?done=created"))),
        Err(e) => Ok(Outcome::Page(refused(app, &auth, &f, None, e).await?)),
    }
}

#[post("/rules/<name>", data = "<form>")]
async fn rule_update(
    auth: Auth,
    app: &State<App>,
    name: &str,
    form: CsrfForm<RuleForm>,
) -> AppResult<Outcome> {
    auth.require(Permission::ManageRules)?;
    let f = form.0;
    match ops::replace_rule(app, &auth, name, f.input()).await {
        Ok(_) => Ok(Outcome::Done(Redirect::to("/rules?done=updated"))),
        Err(e) => Ok(Outcome::Page(refused(app, &auth, &f, Some(name), e).await?)),
    }
}

/// The enable/disable form.
#[derive(Debug, FromForm)]
struct EnabledForm {
    enabled: bool,
}

#[post("/rules/<name>/enabled", data = "<form>")]
async fn rule_enabled(
    auth: Auth,
    app: &State<App>,
    name: &str,
    form: CsrfForm<EnabledForm>,
) -> AppResult<Redirect> {
    ops::set_rule_enabled(app, &auth, name, form.0.enabled).await?;
    Ok(Redirect::to(if form.0.enabled { "/rules?done=enabled" } else { "/rules?done=disabled" }))
}

#[post("/rules/<name>/delete", data = "<_form>")]
async fn rule_delete(
    auth: Auth,
    app: &State<App>,
    name: &str,
    _form: CsrfForm<super::account::Confirm>,
) -> AppResult<Redirect> {
    ops::delete_rule(app, &auth, name).await?;
    Ok(Redirect::to("/rules?done=deleted"))
}
