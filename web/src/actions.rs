//! State-changing operations shared by the pages and the API: validation, the
//! change itself, and its audit entry. Permission checks are here too, so a page and
//! its API twin cannot disagree.

use crate::auth::{password, token, Auth, Permission, Role};
use crate::data::accounts::{AuditEvent, LockPolicy, NewUser, UserUpdate};
use crate::error::{AppError, AppResult};
use crate::net::Prefix;
use crate::App;
use serde_json::json;
use time::OffsetDateTime;

/// Lock policy for user listings.
pub const POLICY: LockPolicy = crate::auth::LOCK_POLICY;

/// Writes one audit-log row for an action of the logged-in `auth` (actor, source
/// address); a failed write is logged, never returned (the action has happened).
pub async fn audit(
    app: &App,
    auth: &Auth,
    action: &str,
    target: &str,
    success: bool,
    details: serde_json::Value,
) {
    app.db
        .audit(AuditEvent {
            actor_id: Some(auth.id),
            actor: &auth.username,
            action,
            target,
            success,
            source_ip: auth.ip(),
            details,
        })
        .await;
}

async fn hash(app: &App, pw: &str) -> AppResult<String> {
    let cost = app.cfg.argon2;
    let pw = pw.to_string();
    rocket::tokio::task::spawn_blocking(move || password::hash(&pw, cost))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?
        .map_err(AppError::Internal)
}

/// Input of a new user.
#[derive(Debug, Clone, Default)]
pub struct UserInput {
    /// User name.
    pub username: String,
    /// Role name.
    pub role: String,
    /// Grant every exporter.
    pub all_exporters: bool,
    /// Exporter prefixes granted.
    pub prefixes: Vec<Prefix>,
    /// Device groups granted.
    pub groups: Vec<i64>,
    /// Initial password (else a one-time password is generated); must be changed at
    /// first login either way, since the administrator knows it.
    pub password: Option<String>,
}

/// Parses a role name for a form or JSON body.
pub fn parse_role(s: &str) -> AppResult<Role> {
    Role::parse(s.trim()).ok_or_else(|| AppError::BadRequest(format!("unknown role {s:?}")))
}

/// Parses prefixes given as one string (form textarea).
pub fn parse_prefixes(s: &str) -> AppResult<Vec<Prefix>> {
    crate::net::parse_list(s).map_err(|e| AppError::BadRequest(e.to_string()))
}

/// Creates a user; returns its id and the generated one-time password, if any.
pub async fn create_user(app: &App, auth: &Auth, u: UserInput) -> AppResult<(i64, Option<String>)> {
    auth.require(Permission::ManageUsers)?;
    let username = u.username.trim().to_string();
    if !crate::auth::valid_username(&username) {
        return Err(AppError::BadRequest(
            "user names have 1-64 letters, digits, '.', '_', '@' or '-'".into(),
        ));
    }
    let role = parse_role(&u.role)?;
    let (pw, generated) = match u.password.filter(|p| !p.is_empty()) {
        Some(p) => {
            password::check_policy(&p).map_err(AppError::BadRequest)?;
            (p, None)
        }
        None => {
            let p = password::generate_one_time();
            (p.clone(), Some(p))
        }
    };
    let new = NewUser {
        username: username.clone(),
        role,
        all_exporters: u.all_exporters,
        password_hash: hash(app, &pw).await?,
        must_change_password: true,
        prefixes: u.prefixes.clone(),
        groups: u.groups.clone(),
    };
    let id = app.db.create_user(&new).await?;
    let prefixes: Vec<String> = u.prefixes.iter().map(|p| p.to_string()).collect();
    let details = json!({"id": id, "role": role.as_str(), "all_exporters": u.all_exporters,
                         "prefixes": prefixes, "groups": u.groups});
    audit(app, auth, "user.create", &username, true, details).await;
    Ok((id, generated))
}

async fn target_name(app: &App, id: i64) -> AppResult<String> {
    Ok(app.db.user(id, &POLICY).await?.ok_or(AppError::NotFound)?.username)
}

/// Changes a user's role, scope or state. An admin cannot demote or disable the last
/// enabled admin (nor themselves out of being one when they are the last).
pub async fn update_user(app: &App, auth: &Auth, id: i64, upd: UserUpdate) -> AppResult<()> {
    auth.require(Permission::ManageUsers)?;
    let current = app.db.user(id, &POLICY).await?.ok_or(AppError::NotFound)?;
    let stays_admin =
        upd.role.unwrap_or(current.role) == Role::Admin && !upd.disabled.unwrap_or(current.disabled);
    if current.role == Role::Admin
        && !current.disabled
        && !stays_admin
        && app.db.other_enabled_admins(id).await? == 0
    {
        return Err(AppError::Conflict("at least one enabled admin must remain".into()));
    }
    if !app.db.update_user(id, &upd).await? {
        return Err(AppError::NotFound);
    }
    // A disabled user's sessions end now (tokens stop working with the user).
    if upd.disabled == Some(true) {
        app.db.delete_sessions_of(id, None).await?;
    }
    let details = json!({
        "id": id,
        "role": upd.role.map(|r| r.as_str()),
        "all_exporters": upd.all_exporters,
        "disabled": upd.disabled,
        "prefixes": upd.prefixes.as_ref().map(|v| v.iter().map(|p| p.to_string()).collect::<Vec<_>>()),
        "groups": upd.groups,
    });
    audit(app, auth, "user.update", &current.username, true, details).await;
    Ok(())
}

/// Deletes a user (not oneself, not the last admin).
pub async fn delete_user(app: &App, auth: &Auth, id: i64) -> AppResult<()> {
    auth.require(Permission::ManageUsers)?;
    if id == auth.id {
        return Err(AppError::Conflict("you cannot delete yourself".into()));
    }
    let current = app.db.user(id, &POLICY).await?.ok_or(AppError::NotFound)?;
    if current.role == Role::Admin && !current.disabled && app.db.other_enabled_admins(id).await? == 0 {
        return Err(AppError::Conflict("at least one enabled admin must remain".into()));
    }
    app.db.delete_user(id).await?;
    audit(app, auth, "user.delete", &current.username, true, json!({"id": id})).await;
    Ok(())
}

/// Gives a user a new one-time password (returned once) and ends their sessions.
pub async fn reset_password(app: &App, auth: &Auth, id: i64) -> AppResult<String> {
    auth.require(Permission::ManageUsers)?;
    let name = target_name(app, id).await?;
    let pw = password::generate_one_time();
    let h = hash(app, &pw).await?;
    app.db.set_password(id, &h, true).await?;
    let ended = app.db.delete_sessions_of(id, None).await?;
    audit(app, auth, "user.password_reset", &name, true, json!({"id": id, "sessions_ended": ended})).await;
    Ok(pw)
}

/// Clears a user's failed logins (ends a lockout).
pub async fn unlock(app: &App, auth: &Auth, id: i64) -> AppResult<()> {
    auth.require(Permission::ManageUsers)?;
    let name = target_name(app, id).await?;
    let n = app.db.unlock(&name).await?;
    audit(app, auth, "user.unlock", &name, true, json!({"id": id, "failures_cleared": n})).await;
    Ok(())
}

/// Ends every session of a user; returns how many.
pub async fn revoke_sessions(app: &App, auth: &Auth, id: i64) -> AppResult<u64> {
    auth.require(Permission::ManageUsers)?;
    let name = target_name(app, id).await?;
    let n = app.db.delete_sessions_of(id, None).await?;
    audit(app, auth, "user.sessions_revoke", &name, true, json!({"id": id, "sessions_ended": n})).await;
    Ok(n)
}

fn check_group_name(name: &str) -> AppResult<String> {
    let n = name.trim();
    if n.is_empty() || n.chars().count() > 64 || n.chars().any(char::is_control) {
        return Err(AppError::BadRequest("a group name has 1-64 characters, no control characters".into()));
    }
    Ok(n.to_string())
}

/// Free text stored in PostgreSQL, which cannot hold NUL characters in `text`.
fn check_text(field: &str, s: &str) -> AppResult<()> {
    if s.contains('\0') {
        return Err(AppError::BadRequest(format!("{field}: no NUL characters")));
    }
    Ok(())
}

/// Creates a device group; returns its id.
pub async fn create_group(
    app: &App,
    auth: &Auth,
    name: &str,
    description: &str,
    prefixes: &[Prefix],
) -> AppResult<i64> {
    auth.require(Permission::ManageUsers)?;
    let name = check_group_name(name)?;
    check_text("description", description)?;
    let id = app.db.create_group(&name, description.trim(), prefixes).await?;
    let p: Vec<String> = prefixes.iter().map(|p| p.to_string()).collect();
    audit(app, auth, "group.create", &name, true, json!({"id": id, "prefixes": p})).await;
    Ok(id)
}

/// Replaces a device group.
pub async fn update_group(
    app: &App,
    auth: &Auth,
    id: i64,
    name: &str,
    description: &str,
    prefixes: &[Prefix],
) -> AppResult<()> {
    auth.require(Permission::ManageUsers)?;
    let name = check_group_name(name)?;
    check_text("description", description)?;
    if !app.db.update_group(id, &name, description.trim(), prefixes).await? {
        return Err(AppError::NotFound);
    }
    let p: Vec<String> = prefixes.iter().map(|p| p.to_string()).collect();
    audit(app, auth, "group.update", &name, true, json!({"id": id, "prefixes": p})).await;
    Ok(())
}

/// Deletes a device group.
pub async fn delete_group(app: &App, auth: &Auth, id: i64) -> AppResult<()> {
    auth.require(Permission::ManageUsers)?;
    if !app.db.delete_group(id).await? {
        return Err(AppError::NotFound);
    }
    audit(app, auth, "group.delete", &id.to_string(), true, json!({"id": id})).await;
    Ok(())
}

/// A new personal API token: its id and value (shown once, stored hashed).
pub async fn create_token(
    app: &App,
    auth: &Auth,
    name: &str,
    expires_days: Option<u32>,
) -> AppResult<(i64, String)> {
    // A token cannot mint tokens: a leaked one must not outlive its revocation.
    if auth.is_token() {
        return Err(AppError::Forbidden("API tokens are created from a logged-in session".into()));
    }
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
        return Err(AppError::BadRequest("a token name has 1-64 characters, no control characters".into()));
    }
    let expires = match expires_days {
        None | Some(0) => None,
        Some(d) if d <= 3650 => Some(OffsetDateTime::now_utc() + time::Duration::days(i64::from(d))),
        Some(_) => return Err(AppError::BadRequest("a token expires within 3650 days".into())),
    };
    let value = token::new_api_token();
    let prefix: String = value.chars().take(10).collect();
    let id = app.db.create_token(auth.id, name, &token::digest(&value), &prefix, expires).await?;
    audit(
        app,
        auth,
        "token.create",
        name,
        true,
        json!({"id": id, "prefix": prefix, "expires_days": expires_days}),
    )
    .await;
    Ok((id, value))
}

/// Revokes one of the caller's tokens.
pub async fn revoke_token(app: &App, auth: &Auth, id: i64) -> AppResult<()> {
    if !app.db.revoke_token(auth.id, id).await? {
        return Err(AppError::NotFound);
    }
    audit(app, auth, "token.revoke", &id.to_string(), true, json!({"id": id})).await;
    Ok(())
}

/// Changes the caller's password after checking the current one; ends every other
/// session and returns a new session id for this one (rotated).
pub async fn change_password(app: &App, auth: &Auth, current: &str, new: &str) -> AppResult<Option<String>> {
    let creds = app.db.credentials(&auth.username).await?.ok_or(AppError::Unauthorized)?;
    let phc = creds.password_hash.clone();
    let cur = current.to_string();
    let ok = rocket::tokio::task::spawn_blocking(move || password::verify(&cur, &phc))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?;
    if !ok {
        audit(
            app,
            auth,
            "password.change",
            &auth.username,
            false,
            json!({"reason": "current password wrong"}),
        )
        .await;
        return Err(AppError::Forbidden("the current password is wrong".into()));
    }
    password::check_policy(new).map_err(AppError::BadRequest)?;
    if new == current {
        return Err(AppError::BadRequest("choose a password different from the current one".into()));
    }
    let h = hash(app, new).await?;
    app.db.set_password(auth.id, &h, false).await?;
    // Every session of the user ends, this one included; a session caller gets a
    // fresh one, so a session id seen before the change is worthless after it.
    app.db.delete_sessions_of(auth.id, None).await?;
    let new_session = match auth.session_digest() {
        Some(_) => {
            let sid = token::random_token();
            let csrf = token::random_token();
            app.db
                .create_session(
                    auth.id,
                    &token::digest(&sid),
                    &csrf,
                    crate::auth::SESSION_LIFETIME_SECONDS,
                    auth.ip(),
                    "",
                )
                .await?;
            Some(sid)
        }
        None => None,
    };
    audit(app, auth, "password.change", &auth.username, true, json!({})).await;
    Ok(new_session)
}

/// Acknowledges insight `id` (`on`) or takes the acknowledgement back, within the
/// caller's scope; audited. Not found when the scope holds no such insight.
pub async fn acknowledge_insight(
    app: &App,
    auth: &Auth,
    id: i64,
    on: bool,
) -> AppResult<crate::data::insights::InsightRow> {
    auth.require(Permission::AcknowledgeInsights)?;
    let by = on.then_some(auth.username.as_str());
    let row = app.db.acknowledge_insight(auth.scope(), id, by).await?.ok_or(AppError::NotFound)?;
    let action = if on { "insight.acknowledge" } else { "insight.unacknowledge" };
    let details =
        json!({"kind": row.kind, "exporter": row.exporter, "source": row.source, "target": row.target});
    audit(app, auth, action, &id.to_string(), true, details).await;
    Ok(row)
}
