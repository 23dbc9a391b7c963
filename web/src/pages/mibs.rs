//! The MIB pages: module list with the upload form and diagnostics, a module's page
//! (diagnostics, dependents, delete), the OID tree expanded lazily (`/static/mibs.js`
//! asks `GET /api/v1/mibs/oid/<oid>` for children), search and the object page. Every
//! role browses; operators upload and delete. The same functions as the API
//! ([`crate::api::mibs`]) do the work.

use super::layout::{csrf_field, notice, page};
use super::{html, urlencode, Html};
use crate::api::mibs as api;
use crate::auth::{Auth, CsrfForm, Permission};
use crate::error::AppResult;
use crate::mibs::{DiagView, NodeRef, NodeView};
use crate::App;
use flowvision_mib::Oid;
use maud::{html as m, Markup};
use rocket::{get, post, routes, FromForm, Route, State};

/// The routes of this module.
pub fn routes() -> Vec<Route> {
    routes![list, module, delete, tree, search, object]
}

fn tabs(active: &str) -> Markup {
    m! {
        nav.tabs #mib-tabs {
            a.active[active == "modules"] href="/mibs" data-test="mib-tab-modules" { "Modules" }
            a.active[active == "tree"] href="/mibs/tree" data-test="mib-tab-tree" { "OID tree" }
            a.active[active == "search"] href="/mibs/search" data-test="mib-tab-search" { "Search" }
        }
    }
}

fn search_form(q: &str) -> Markup {
    m! {
        form.toolbar #mib-search-form method="get" action="/mibs/search" {
            input #mib-search-q type="text" name="q" value=(q) placeholder="Name, OID, MODULE::name or words of a description" maxlength="200";
            button #mib-search-submit type="submit" { "Search" }
        }
    }
}

fn diagnostics_table(diags: &[DiagView]) -> Markup {
    m! {
        table.data #mib-diagnostics {
            thead { tr { th { "Line" } th { "Severity" } th { "Message" } } }
            tbody {
                @for d in diags {
                    tr data-test="mib-diagnostic" {
                        td.num { (d.line.map(|l| l.to_string()).unwrap_or_default()) }
                        td { span class={ "badge " (if d.severity == "error" { "down" } else if d.severity == "warning" { "stale" } else { "" }) } { (d.severity) } }
                        td { (d.message) }
                    }
                }
                @if diags.is_empty() { tr.empty { td colspan="3" { "No diagnostics" } } }
            }
        }
    }
}

fn module_link(name: &str) -> Markup {
    m! { a href={ "/mibs/module/" (urlencode(name)) } { (name) } }
}

fn object_link(name: &str, oid: &str) -> Markup {
    m! { a href={ "/mibs/object/" (urlencode(oid)) } data-test="mib-object-link" { (name) } }
}

fn list_html(app: &App, auth: &Auth, message: Option<Markup>) -> AppResult<Html> {
    let list = api::modules(app, auth)?;
    let quarantined = list.modules.iter().filter(|m| m.status == "quarantined").count();
    Ok(html(page(
        "MIB modules",
        auth,
        "mibs",
        m! {
            (tabs("modules"))
            @if let Some(msg) = message { (msg) }
            p.muted { (list.modules.len()) " modules, " (list.nodes) " named nodes"
                @if quarantined > 0 { ", " strong { (quarantined) " quarantined" } } "." }
            (search_form(""))
            @if auth.role.allows(Permission::ManageMibs) {
                section.card #mib-upload {
                    h2 { "Upload" }
                    p.muted { "MIB files, or .zip / .tar.gz archives of many. A module with errors is quarantined with its diagnostics; the others load." }
                    form #mib-upload-form data-api="/api/v1/mibs" {
                        input #mib-file type="file" name="file" multiple;
                        label.check { input #mib-force type="checkbox" name="force" value="true"; "Replace even with an older revision" }
                        button #mib-upload-submit type="submit" { "Upload" }
                    }
                    div #mib-upload-result aria-live="polite" {}
                }
            }
            table.data #mib-modules {
                thead { tr { th { "Module" } th { "Source" } th { "Status" } th { "Revision" } th { "File" } th.num { "Errors" } th.num { "Warnings" } } }
                tbody {
                    @for md in &list.modules {
                        tr data-test="mib-module" data-module=(md.name) data-status=(md.status) {
                            td { (module_link(&md.name)) }
                            td { (md.source) }
                            td { span class={ "badge " (if md.status == "ok" { "up" } else { "down" }) } { (md.status) } }
                            td { (md.revision.clone().unwrap_or_default()) }
                            td.muted { (md.file) }
                            td.num { (md.errors) }
                            td.num { (md.warnings) }
                        }
                    }
                }
            }
            script src="/static/mibs.js" defer {}
        },
    )))
}

#[get("/mibs")]
async fn list(auth: Auth, app: &State<App>) -> AppResult<Html> {
    list_html(app, &auth, None)
}

#[get("/mibs/module/<name>")]
async fn module(auth: Auth, app: &State<App>, name: &str) -> AppResult<Html> {
    let d = api::module_detail(app, &auth, name)?;
    let s = &d.summary;
    Ok(html(page(
        &format!("MIB module {}", s.name),
        &auth,
        "mibs",
        m! {
            (tabs("modules"))
            section.card #mib-module data-module=(s.name) {
                table.data {
                    tbody {
                        tr { th { "Status" } td #mib-module-status { span class={ "badge " (if s.status == "ok" { "up" } else { "down" }) } { (s.status) } } }
                        tr { th { "Source" } td { (s.source) } }
                        tr { th { "File" } td { (s.file) } }
                        tr { th { "Revision" } td { (s.revision.clone().unwrap_or_default()) } }
                        tr { th { "Language" } td { (s.language.clone().unwrap_or_default()) } }
                        @if let (Some(by), Some(at)) = (&s.uploaded_by, &s.uploaded_at) {
                            tr { th { "Uploaded" } td { (at) " by " (by) } }
                        }
                        tr { th { "Organization" } td { (d.organization) } }
                        tr { th { "Imports" } td { @for (i, x) in d.imports.iter().enumerate() { @if i > 0 { ", " } (module_link(x)) } } }
                        tr { th { "Used by" } td #mib-dependents { @for (i, x) in d.dependents.iter().enumerate() { @if i > 0 { ", " } (module_link(x)) } } }
                    }
                }
                @if !d.description.is_empty() { pre.description { (d.description) } }
            }
            h2 { "Diagnostics (" (d.diagnostics_list.len()) ")" }
            (diagnostics_table(&d.diagnostics_list))
            @if auth.role.allows(Permission::ManageMibs) && s.source == "uploaded" {
                form #mib-delete-form method="post" action={ "/mibs/module/" (urlencode(&s.name)) "/delete" } data-confirm={ "Delete " (s.name) "?" } {
                    (csrf_field(&auth))
                    @if !d.dependents.is_empty() {
                        p.notice.warn { "Deleting it leaves " (d.dependents.len()) " module(s) that name it without it: " (d.dependents.join(", ")) }
                    }
                    button.danger #mib-delete type="submit" { "Delete module" }
                }
            }
        },
    )))
}

/// The delete form (its only field is the CSRF token).
#[derive(Debug, FromForm)]
struct DeleteForm {
    confirm: Option<String>,
}

#[post("/mibs/module/<name>/delete", data = "<form>")]
async fn delete(auth: Auth, app: &State<App>, name: &str, form: CsrfForm<DeleteForm>) -> AppResult<Html> {
    let _ = form.0.confirm;
    let r = api::delete_module(app, &auth, name).await?;
    let mut text = format!("Deleted {}.", r.module);
    if !r.dependents.is_empty() {
        text.push_str(&format!(" These modules named it: {}.", r.dependents.join(", ")));
    }
    if r.base_restored {
        text.push_str(" The base module of that name is loaded again.");
    }
    list_html(app, &auth, Some(notice("ok", &text)))
}

fn tree_item(n: &NodeRef) -> Markup {
    m! {
        li.mib-node data-oid=(n.oid) data-test="mib-tree-node" {
            @if n.has_children { button.mib-toggle type="button" aria-expanded="false" data-test="mib-toggle" { "+" } }
            @else { span.mib-leaf { "·" } }
            " " (object_link(&n.name, &n.oid)) " " span.muted { (n.oid) " " (n.module) }
            @if n.has_children { ul.mib-children hidden {} }
        }
    }
}

#[get("/mibs/tree")]
async fn tree(auth: Auth, app: &State<App>) -> AppResult<Html> {
    auth.require(Permission::BrowseMibs)?;
    let roots = app.mibs.snapshot().children(&Oid::default());
    Ok(html(page(
        "MIB tree",
        &auth,
        "mibs",
        m! {
            (tabs("tree"))
            ul.mib-tree #mib-tree data-api="/api/v1/mibs/oid/" {
                @for n in &roots { (tree_item(n)) }
            }
            script src="/static/mibs.js" defer {}
        },
    )))
}

#[get("/mibs/search?<q>")]
async fn search(auth: Auth, app: &State<App>, q: Option<&str>) -> AppResult<Html> {
    auth.require(Permission::BrowseMibs)?;
    let q = q.unwrap_or("").trim();
    let result = if q.is_empty() { None } else { Some(api::search_tree(app, &auth, q, None).await?) };
    Ok(html(page(
        "Search MIBs",
        &auth,
        "mibs",
        m! {
            (tabs("search"))
            (search_form(q))
            @if let Some(r) = result {
                p.muted #mib-search-total { (r.total) " matches" @if r.total > r.hits.len() { ", the best " (r.hits.len()) " shown" } }
                table.data #mib-search-results {
                    thead { tr { th { "Object" } th { "OID" } th { "Kind" } th { "Matched" } th { "Description" } } }
                    tbody {
                        @for h in &r.hits {
                            tr data-test="mib-search-hit" {
                                td { (object_link(&h.qualified_name, &h.node.oid)) }
                                td { code { (h.node.oid) } }
                                td { (h.node.kind) }
                                td { (h.matched) }
                                td.muted { (h.excerpt) }
                            }
                        }
                        @if r.hits.is_empty() { tr.empty { td colspan="5" { "Nothing found" } } }
                    }
                }
            }
        },
    )))
}

fn object_html(v: &NodeView) -> Markup {
    m! {
        (tabs("tree"))
        section.card #mib-object data-oid=(v.oid) {
            table.data {
                tbody {
                    tr { th { "OID" } td #mib-object-oid { code { (v.oid) } @if let Some(i) = &v.instance { " (instance " code { (i) } ")" } } }
                    tr { th { "Module" } td { (module_link(&v.module)) @if let Some(r) = &v.module_revision { " · revision " (r) } } }
                    tr { th { "Kind" } td { (v.kind) } }
                    @if let Some(s) = &v.syntax {
                        tr { th { "Syntax" } td #mib-object-syntax {
                            (s.type_name)
                            @if let Some(tc) = &s.textual_convention { @if *tc != s.type_name { " (TC " (tc) ")" } }
                            @if !s.base.is_empty() { " → " strong { (s.base) } }
                            @if let Some(h) = &s.display_hint { " · hint " code { (h) } }
                            @if !s.ranges.is_empty() { " · " (s.ranges.join(" | ")) }
                            @if !s.named_values.is_empty() {
                                ul.named-values { @for nv in &s.named_values { li { (nv.name) "(" (nv.value) ")" } } }
                            }
                        } }
                    }
                    @if let Some(a) = v.access { tr { th { "Access" } td #mib-object-access { (a) } } }
                    @if let Some(st) = v.status { tr { th { "Status" } td { (st) } } }
                    @if let Some(u) = &v.units { tr { th { "Units" } td #mib-object-units { (u) } } }
                    @if let Some(d) = &v.defval { tr { th { "Default" } td { code { (d) } } } }
                    @if !v.index.is_empty() { tr { th { "Index" } td #mib-object-index { (v.index.join(", ")) @if v.index_implied_last { " (last IMPLIED)" } } } }
                    @if let Some(a) = &v.augments { tr { th { "Augments" } td { (a) } } }
                    @if !v.members.is_empty() { tr { th { "Members" } td { (v.members.join(", ")) } } }
                    @if !v.other_names.is_empty() { tr { th { "Also named" } td { (v.other_names.join(", ")) } } }
                    @if let Some(p) = &v.parent { tr { th { "Parent" } td { (object_link(&p.name, &p.oid)) } } }
                }
            }
            @if !v.description.is_empty() { pre.description #mib-object-description { (v.description) } }
        }
        @if !v.children.is_empty() {
            h2 { "Children (" (v.children.len()) ")" }
            ul.mib-tree #mib-children data-api="/api/v1/mibs/oid/" { @for c in &v.children { (tree_item(c)) } }
            script src="/static/mibs.js" defer {}
        }
    }
}

#[get("/mibs/object/<oid>")]
async fn object(auth: Auth, app: &State<App>, oid: &str) -> AppResult<Html> {
    let v = api::object_view(app, &auth, oid)?;
    Ok(html(page(&v.qualified_name, &auth, "mibs", object_html(&v))))
}
