//! Administration: users and roles, device scopes and groups, the audit log.
//! Every handler checks its permission through [`crate::actions`] or directly.

use super::account::Confirm;
use super::layout::{csrf_field, notice, page};
use super::{html, Html};
use crate::actions::{self, parse_prefixes, parse_role, UserInput, POLICY};
use crate::auth::{Auth, CsrfForm, Permission, Role};
use crate::data::accounts::{GroupView, UserUpdate, UserView};
use crate::error::{AppError, AppResult};
use crate::App;
use maud::{html as m, Markup};
use rocket::form::FromForm;
use rocket::response::Redirect;
use rocket::{get, post, routes, Route, State};

/// The admin routes.
pub fn routes() -> Vec<Route> {
    routes![
        users,
        user_create,
        user,
        user_update,
        user_reset,
        user_unlock,
        user_sessions,
        user_delete,
        groups,
        group_create,
        group_update,
        group_delete,
        audit
    ]
}

fn done_notice(done: Option<&str>) -> Markup {
    let text = match done {
        Some("updated") => "Saved.",
        Some("deleted") => "Deleted.",
        Some("unlocked") => "The account was unlocked.",
        Some("sessions") => "All sessions of the user were ended.",
        Some("created") => "Created.",
        _ => return m! {},
    };
    notice("ok", text)
}

fn role_select(current: Role) -> Markup {
    m! {
        select #role name="role" {
            @for r in Role::ALL { option value=(r.as_str()) selected[r == current] { (r.as_str()) } }
        }
    }
}

fn group_checkboxes(all: &[GroupView], selected: &[i64]) -> Markup {
    m! {
        fieldset.groups #group-choices {
            legend { "Device groups" }
            @if all.is_empty() { span.muted { "No device groups yet." } }
            @for g in all {
                label.check {
                    input type="checkbox" name="groups" value=(g.id) checked[selected.contains(&g.id)];
                    (g.name) " " span.muted { "(" (g.prefixes.join(", ")) ")" }
                }
            }
        }
    }
}

fn users_page(auth: &Auth, list: &[UserView], groups: &[GroupView], top: Markup) -> Html {
    html(page(
        "Users and roles",
        auth,
        "users",
        m! {
            (top)
            table.data #users-table {
                thead { tr { th { "User" } th { "Role" } th { "Device scope" } th { "State" } th { "Last login" } th.num { "Sessions" } } }
                tbody {
                    @for u in list {
                        tr data-test="row" data-user=(u.username) data-user-id=(u.id) {
                            td { a href={ "/admin/users/" (u.id) } { (u.username) } }
                            td { (u.role.as_str()) }
                            td { @if u.role == Role::Admin || u.all_exporters { "all exporters" } @else {
                                (u.prefixes.iter().cloned().chain(u.groups.iter().map(|g| format!("group {}", g.name))).collect::<Vec<_>>().join(", ")) } }
                            td {
                                @if u.disabled { span.badge.down { "disabled" } }
                                @if u.locked { span.badge.stale { "locked" } }
                                @if u.must_change_password { span.badge { "one-time password" } }
                            }
                            td { (u.last_login.clone().unwrap_or_else(|| "never".into())) }
                            td.num { (u.sessions) }
                        }
                    }
                }
            }
            section.card {
                h2 { "New user" }
                form #user-create method="post" action="/admin/users" {
                    (csrf_field(auth))
                    label for="new-username" { "User name" }
                    input #new-username type="text" name="username" required maxlength="64" pattern="[A-Za-z0-9._@-]+";
                    label for="role" { "Role" }
                    (role_select(Role::Viewer))
                    label.check { input #new-all type="checkbox" name="all_exporters"; " All exporters" }
                    label for="new-prefixes" { "Exporter prefixes (comma or line separated)" }
                    textarea #new-prefixes name="prefixes" rows="2" placeholder="198.51.100.7, 198.51.100.0/24" {}
                    (group_checkboxes(groups, &[]))
                    label for="new-password" { "Initial password (empty: generate a one-time password)" }
                    input #new-password type="password" name="password" autocomplete="new-password";
                    button #user-create-submit type="submit" { "Create user" }
                }
            }
        },
    ))
}

#[get("/admin/users?<done>")]
async fn users(auth: Auth, app: &State<App>, done: Option<&str>) -> AppResult<Html> {
    auth.require(Permission::ManageUsers)?;
    let list = app.db.users(&POLICY).await?;
    let groups = app.db.groups().await?;
    Ok(users_page(&auth, &list, &groups, done_notice(done)))
}

/// The new-user form.
#[derive(FromForm)]
struct UserForm {
    username: String,
    role: String,
    all_exporters: bool,
    prefixes: String,
    groups: Vec<i64>,
    password: Option<String>,
}

#[post("/admin/users", data = "<form>")]
async fn user_create(auth: Auth, app: &State<App>, form: CsrfForm<UserForm>) -> AppResult<Html> {
    auth.require(Permission::ManageUsers)?;
    let f = form.0;
    let input = UserInput {
        username: f.username.clone(),
        role: f.role,
        all_exporters: f.all_exporters,
        prefixes: parse_prefixes(&f.prefixes)?,
        groups: f.groups,
        password: f.password,
    };
    let (id, otp) = actions::create_user(app, &auth, input).await?;
    let list = app.db.users(&POLICY).await?;
    let groups = app.db.groups().await?;
    let top = m! {
        div.notice.ok #user-created data-user-id=(id) {
            "User " strong { (f.username.trim()) } " created. "
            @if let Some(p) = &otp {
                "One-time password (shown once; it must be changed at first login): "
                code #one-time-password data-test="one-time-password" { (p) }
            } @else { "They must change the password you set at first login." }
        }
    };
    Ok(users_page(&auth, &list, &groups, top))
}

fn user_page(auth: &Auth, u: &UserView, groups: &[GroupView], top: Markup) -> Html {
    let selected: Vec<i64> = u.groups.iter().map(|g| g.id).collect();
    html(page(
        &format!("User {}", u.username),
        auth,
        "users",
        m! {
            (top)
            section.card #user-edit-card data-user=(u.username) {
                form #user-edit method="post" action={ "/admin/users/" (u.id) } {
                    (csrf_field(auth))
                    label for="role" { "Role" }
                    (role_select(u.role))
                    label.check { input #edit-all type="checkbox" name="all_exporters" checked[u.all_exporters]; " All exporters (admins always see all)" }
                    label for="edit-prefixes" { "Exporter prefixes" }
                    textarea #edit-prefixes name="prefixes" rows="2" { (u.prefixes.join(", ")) }
                    (group_checkboxes(groups, &selected))
                    label.check { input #edit-disabled type="checkbox" name="disabled" checked[u.disabled]; " Disabled (cannot log in; API tokens stop working)" }
                    button #user-edit-submit type="submit" { "Save" }
                }
            }
            section.card.actions {
                p { "Created " (u.created_at) ", last login " (u.last_login.clone().unwrap_or_else(|| "never".into()))
                    ", " (u.sessions) " live sessions" @if u.locked { ", " strong { "locked out" } } "." }
                form.inline method="post" action={ "/admin/users/" (u.id) "/reset-password" } {
                    (csrf_field(auth)) button #user-reset type="submit" { "Reset password" } }
                form.inline method="post" action={ "/admin/users/" (u.id) "/unlock" } {
                    (csrf_field(auth)) button #user-unlock type="submit" { "Unlock" } }
                form.inline method="post" action={ "/admin/users/" (u.id) "/revoke-sessions" } {
                    (csrf_field(auth)) button #user-revoke type="submit" { "End all sessions" } }
                form.inline method="post" action={ "/admin/users/" (u.id) "/delete" } data-confirm="Delete this user?" {
                    (csrf_field(auth)) button.danger #user-delete type="submit" { "Delete user" } }
            }
        },
    ))
}

#[get("/admin/users/<id>?<done>")]
async fn user(auth: Auth, app: &State<App>, id: i64, done: Option<&str>) -> AppResult<Html> {
    auth.require(Permission::ManageUsers)?;
    let u = app.db.user(id, &POLICY).await?.ok_or(AppError::NotFound)?;
    let groups = app.db.groups().await?;
    Ok(user_page(&auth, &u, &groups, done_notice(done)))
}

/// The user-edit form.
#[derive(FromForm)]
struct UserEditForm {
    role: String,
    all_exporters: bool,
    disabled: bool,
    prefixes: String,
    groups: Vec<i64>,
}

#[post("/admin/users/<id>", data = "<form>")]
async fn user_update(
    auth: Auth,
    app: &State<App>,
    id: i64,
    form: CsrfForm<UserEditForm>,
) -> AppResult<Redirect> {
    let f = form.0;
    let upd = UserUpdate {
        role: Some(parse_role(&f.role)?),
        all_exporters: Some(f.all_exporters),
        disabled: Some(f.disabled),
        prefixes: Some(parse_prefixes(&f.prefixes)?),
        groups: Some(f.groups),
    };
    actions::update_user(app, &auth, id, upd).await?;
    Ok(Redirect::to(format!("/admin/users/{id}?done=updated")))
}

#[post("/admin/users/<id>/reset-password", data = "<_form>")]
async fn user_reset(auth: Auth, app: &State<App>, id: i64, _form: CsrfForm<Confirm>) -> AppResult<Html> {
    let pw = actions::reset_password(app, &auth, id).await?;
    let u = app.db.user(id, &POLICY).await?.ok_or(AppError::NotFound)?;
    let groups = app.db.groups().await?;
    let top = m! {
        div.notice.ok #password-reset {
            "New one-time password (shown once; sessions were ended): "
            code #one-time-password data-test="one-time-password" { (pw) }
        }
    };
    Ok(user_page(&auth, &u, &groups, top))
}

#[post("/admin/users/<id>/unlock", data = "<_form>")]
async fn user_unlock(auth: Auth, app: &State<App>, id: i64, _form: CsrfForm<Confirm>) -> AppResult<Redirect> {
    actions::unlock(app, &auth, id).await?;
    Ok(Redirect::to(format!("/admin/users/{id}?done=unlocked")))
}

#[post("/admin/users/<id>/revoke-sessions", data = "<_form>")]
async fn user_sessions(
    auth: Auth,
    app: &State<App>,
    id: i64,
    _form: CsrfForm<Confirm>,
) -> AppResult<Redirect> {
    actions::revoke_sessions(app, &auth, id).await?;
    Ok(Redirect::to(format!("/admin/users/{id}?done=sessions")))
}

#[post("/admin/users/<id>/delete", data = "<_form>")]
async fn user_delete(auth: Auth, app: &State<App>, id: i64, _form: CsrfForm<Confirm>) -> AppResult<Redirect> {
    actions::delete_user(app, &auth, id).await?;
    Ok(Redirect::to("/admin/users?done=deleted"))
}

#[get("/admin/groups?<done>")]
async fn groups(auth: Auth, app: &State<App>, done: Option<&str>) -> AppResult<Html> {
    auth.require(Permission::ManageUsers)?;
    let list = app.db.groups().await?;
    Ok(html(page(
        "Device groups",
        &auth,
        "groups",
        m! {
            (done_notice(done))
            p.muted { "A device group is a named set of exporter prefixes; granting it to a user lets them see those exporters." }
            table.data #groups-table {
                thead { tr { th { "Name" } th { "Description and prefixes" } th.num { "Users" } th { "SNMP default" } th {} } }
                tbody {
                    @for g in &list {
                        tr data-test="row" data-group=(g.name) {
                            td { (g.name) }
                            td {
                                form.group-edit method="post" action={ "/admin/groups/" (g.id) } {
                                    (csrf_field(&auth))
                                    input type="text" name="name" value=(g.name) required maxlength="64";
                                    input type="text" name="description" value=(g.description);
                                    textarea name="prefixes" rows="1" { (g.prefixes.join(", ")) }
                                    button type="submit" { "Save" }
                                }
                            }
                            td.num { (g.users) }
                            td { a data-test="group-snmp" href={ "/admin/groups/" (g.id) "/snmp" } { "credentials" } }
                            td {
                                form.inline method="post" action={ "/admin/groups/" (g.id) "/delete" } data-confirm="Delete this group?" {
                                    (csrf_field(&auth)) button.danger type="submit" { "Delete" } }
                            }
                        }
                    }
                }
            }
            section.card {
                h2 { "New group" }
                form #group-create method="post" action="/admin/groups" {
                    (csrf_field(&auth))
                    label for="group-name" { "Name" }
                    input #group-name type="text" name="name" required maxlength="64";
                    label for="group-description" { "Description" }
                    input #group-description type="text" name="description";
                    label for="group-prefixes" { "Exporter prefixes" }
                    textarea #group-prefixes name="prefixes" rows="2" placeholder="198.51.100.0/24, 2001:db8:100::/48" {}
                    button #group-create-submit type="submit" { "Create group" }
                }
            }
        },
    )))
}

/// The group form.
#[derive(FromForm)]
struct GroupForm {
    name: String,
    description: String,
    prefixes: String,
}

#[post("/admin/groups", data = "<form>")]
async fn group_create(auth: Auth, app: &State<App>, form: CsrfForm<GroupForm>) -> AppResult<Redirect> {
    let f = form.0;
    actions::create_group(app, &auth, &f.name, &f.description, &parse_prefixes(&f.prefixes)?).await?;
    Ok(Redirect::to("/admin/groups?done=created"))
}

#[post("/admin/groups/<id>", data = "<form>")]
async fn group_update(
    auth: Auth,
    app: &State<App>,
    id: i64,
    form: CsrfForm<GroupForm>,
) -> AppResult<Redirect> {
    let f = form.0;
    actions::update_group(app, &auth, id, &f.name, &f.description, &parse_prefixes(&f.prefixes)?).await?;
    Ok(Redirect::to("/admin/groups?done=updated"))
}

#[post("/admin/groups/<id>/delete", data = "<_form>")]
async fn group_delete(
    auth: Auth,
    app: &State<App>,
    id: i64,
    _form: CsrfForm<Confirm>,
) -> AppResult<Redirect> {
    actions::delete_group(app, &auth, id).await?;
    Ok(Redirect::to("/admin/groups?done=deleted"))
}

#[get("/admin/audit?<before>&<action>")]
async fn audit(auth: Auth, app: &State<App>, before: Option<i64>, action: Option<&str>) -> AppResult<Html> {
    auth.require(Permission::ViewAudit)?;
    let action = action.filter(|a| !a.is_empty());
    let entries = app.db.audit_log(before, 100, action).await?;
    let next = entries.last().map(|e| e.id);
    Ok(html(page(
        "Audit log",
        &auth,
        "audit",
        m! {
            form.filter #audit-filter method="get" action="/admin/audit" {
                label for="audit-action" { "Action starts with" }
                input #audit-action type="text" name="action" value=(action.unwrap_or("")) placeholder="login, user., token.";
                button type="submit" { "Filter" }
            }
            table.data #audit-table {
                thead { tr { th { "Time" } th { "Who" } th { "Action" } th { "Target" } th { "Result" } th { "From" } th { "Details" } } }
                tbody {
                    @for e in &entries {
                        tr data-test="row" data-action=(e.action) {
                            td { (e.time) } td { (e.actor) } td { code { (e.action) } } td { (e.target) }
                            td { @if e.success { "ok" } @else { span.badge.down { "failed" } } }
                            td { (e.source_ip.clone().unwrap_or_default()) }
                            td { code.details { (e.details.to_string()) } }
                        }
                    }
                }
            }
            @if let Some(n) = next {
                @if entries.len() == 100 {
                    nav.pager { a #audit-older href={ "/admin/audit?before=" (n) (action.map(|a| format!("&action={}", super::urlencode(a))).unwrap_or_default()) } { "Older →" } }
                }
            }
        },
    )))
}
