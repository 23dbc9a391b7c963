//! Users, device scopes and groups, sessions, API tokens, login attempts and the
//! audit log. Secrets arrive here already hashed (argon2id PHC strings, SHA-256
//! digests of random tokens); nothing in this module sees a password.

use super::{ts, ts_opt, DataError, DataResult, Db};
use crate::auth::Role;
use crate::net::Prefix;
use flowvision_schema::tables::{
    WEB_API_TOKENS, WEB_AUDIT_LOG, WEB_DEVICE_GROUPS, WEB_DEVICE_GROUP_MEMBERS, WEB_LOGIN_ATTEMPTS,
    WEB_SESSIONS, WEB_USERS, WEB_USER_GROUPS, WEB_USER_PREFIXES,
};
use serde::Serialize;
use std::net::IpAddr;
use time::OffsetDateTime;

/// Who a session or token belongs to, with what the guards need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// User id.
    pub id: i64,
    /// User name.
    pub username: String,
    /// Role.
    pub role: Role,
    /// Granted every exporter.
    pub all_exporters: bool,
    /// Must choose a new password before doing anything else.
    pub must_change_password: bool,
    /// Exporter prefixes granted directly or through device groups.
    pub prefixes: Vec<Prefix>,
}

/// A live session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    /// Its user.
    pub identity: Identity,
    /// The session's CSRF synchronizer token.
    pub csrf: String,
}

/// What login needs of a user.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// User id.
    pub id: i64,
    /// User name as stored.
    pub username: String,
    /// argon2id PHC string.
    pub password_hash: String,
    /// Disabled users cannot log in.
    pub disabled: bool,
    /// Must change the password after logging in.
    pub must_change_password: bool,
}

/// A device group reference.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct GroupRef {
    /// Group id.
    pub id: i64,
    /// Group name.
    pub name: String,
}

/// A user as administrators see it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct UserView {
    /// Id.
    pub id: i64,
    /// User name.
    pub username: String,
    /// Role.
    pub role: Role,
    /// Granted every exporter (admins always are).
    pub all_exporters: bool,
    /// Cannot log in.
    pub disabled: bool,
    /// Has a one-time password.
    pub must_change_password: bool,
    /// Created.
    pub created_at: String,
    /// Last successful login.
    pub last_login: Option<String>,
    /// Exporter prefixes granted directly.
    pub prefixes: Vec<String>,
    /// Device groups granted.
    pub groups: Vec<GroupRef>,
    /// Locked out by failed logins right now.
    pub locked: bool,
    /// Live sessions.
    pub sessions: i64,
}

/// A device group.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct GroupView {
    /// Id.
    pub id: i64,
    /// Unique name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Exporter prefixes.
    pub prefixes: Vec<String>,
    /// Users granted the group.
    pub users: i64,
}

/// A personal API token (never its value).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct TokenView {
    /// Id.
    pub id: i64,
    /// Name given by its owner.
    pub name: String,
    /// First characters, to recognise it.
    pub prefix: String,
    /// Created.
    pub created_at: String,
    /// Expiry, if any.
    pub expires_at: Option<String>,
    /// Last use.
    pub last_used_at: Option<String>,
    /// Revocation time, if revoked.
    pub revoked_at: Option<String>,
}

/// An audit-log entry.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AuditEntry {
    /// Id (increasing).
    pub id: i64,
    /// When.
    pub time: String,
    /// Who (user name, or the name tried for failed logins of unknown users).
    pub actor: String,
    /// What (`login`, `login.failed`, `user.create`, ...).
    pub action: String,
    /// On what (a user, group or token).
    pub target: String,
    /// Whether it succeeded.
    pub success: bool,
    /// From where.
    pub source_ip: Option<String>,
    /// Details (never secrets).
    pub details: serde_json::Value,
}

/// An audit event to record.
#[derive(Debug, Clone)]
pub struct AuditEvent<'a> {
    /// Acting user id, when known.
    pub actor_id: Option<i64>,
    /// Acting user name.
    pub actor: &'a str,
    /// What.
    pub action: &'a str,
    /// On what.
    pub target: &'a str,
    /// Succeeded.
    pub success: bool,
    /// Client address.
    pub source_ip: Option<IpAddr>,
    /// Details (never secrets).
    pub details: serde_json::Value,
}

/// A user to create.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// User name.
    pub username: String,
    /// Role.
    pub role: Role,
    /// Granted every exporter.
    pub all_exporters: bool,
    /// argon2id PHC string.
    pub password_hash: String,
    /// Must change the password at first login.
    pub must_change_password: bool,
    /// Exporter prefixes granted.
    pub prefixes: Vec<Prefix>,
    /// Device groups granted.
    pub groups: Vec<i64>,
}

/// Changes to a user (`None` keeps the current value).
#[derive(Debug, Clone, Default)]
pub struct UserUpdate {
    /// New role.
    pub role: Option<Role>,
    /// Grant or withdraw every exporter.
    pub all_exporters: Option<bool>,
    /// Disable or enable.
    pub disabled: Option<bool>,
    /// Replace the granted prefixes.
    pub prefixes: Option<Vec<Prefix>>,
    /// Replace the granted groups.
    pub groups: Option<Vec<i64>>,
}

/// Failed-login counting policy (see `auth::login`).
#[derive(Debug, Clone, Copy)]
pub struct LockPolicy {
    /// Failures counted over this many seconds.
    pub window_seconds: f64,
    /// Failures of one user name that lock it.
    pub user_failures: i64,
    /// Failures from one address that block it.
    pub ip_failures: i64,
}

/// The columns of a user row (with its scope and lockout state).
fn user_cols() -> String {
    format!(
        "u.id, u.username, u.role::text, u.all_exporters, u.disabled, u.must_change_password, \
    u.created_at, u.last_login, \
    ARRAY(SELECT prefix::text FROM {WEB_USER_PREFIXES} p WHERE p.user_id = u.id ORDER BY prefix), \
    ARRAY(SELECT g.id FROM {WEB_USER_GROUPS} ug JOIN {WEB_DEVICE_GROUPS} g ON g.id = ug.group_id \
          WHERE ug.user_id = u.id ORDER BY g.name), \
    ARRAY(SELECT g.name FROM {WEB_USER_GROUPS} ug JOIN {WEB_DEVICE_GROUPS} g ON g.id = ug.group_id \
          WHERE ug.user_id = u.id ORDER BY g.name), \
    (SELECT count(*) FROM {WEB_LOGIN_ATTEMPTS} a WHERE lower(a.username) = lower(u.username) AND NOT a.success \
       AND a.time > now() - make_interval(secs => $1) \
       AND a.time > COALESCE((SELECT max(s.time) FROM {WEB_LOGIN_ATTEMPTS} s \
                              WHERE lower(s.username) = lower(u.username) AND s.success), '-infinity')) >= $2, \
    (SELECT count(*) FROM {WEB_SESSIONS} s WHERE s.user_id = u.id AND s.expires_at > now())"
    )
}

fn role_of(s: &str) -> DataResult<Role> {
    Role::parse(s).ok_or_else(|| DataError::Invalid(format!("unknown role {s:?} in the database")))
}

fn user_view(r: &tokio_postgres::Row) -> DataResult<UserView> {
    let ids: Vec<i64> = r.try_get(9)?;
    let names: Vec<String> = r.try_get(10)?;
    Ok(UserView {
        id: r.try_get(0)?,
        username: r.try_get(1)?,
        role: role_of(r.try_get(2)?)?,
        all_exporters: r.try_get(3)?,
        disabled: r.try_get(4)?,
        must_change_password: r.try_get(5)?,
        created_at: ts(r.try_get(6)?),
        last_login: ts_opt(r.try_get(7)?),
        prefixes: r.try_get(8)?,
        groups: ids.into_iter().zip(names).map(|(id, name)| GroupRef { id, name }).collect(),
        locked: r.try_get(11)?,
        sessions: r.try_get(12)?,
    })
}

fn prefixes_of(v: Vec<String>) -> Vec<Prefix> {
    v.iter().filter_map(|s| s.parse().ok()).collect()
}

impl Db {
    // ---- login -------------------------------------------------------------------

    /// The credentials of `username` (case-insensitive), if it exists.
    pub async fn credentials(&self, username: &str) -> DataResult<Option<Credentials>> {
        let c = self.conn().await?;
        let row = c
            .query_opt(
                &format!(
                    "SELECT id, username, password_hash, disabled, must_change_password FROM {WEB_USERS} \
                 WHERE lower(username) = lower($1)"
                ),
                &[&username],
            )
            .await?;
        row.map(|r| {
            Ok(Credentials {
                id: r.try_get(0)?,
                username: r.try_get(1)?,
                password_hash: r.try_get(2)?,
                disabled: r.try_get(3)?,
                must_change_password: r.try_get(4)?,
            })
        })
        .transpose()
    }

    /// Failed logins of `username` within the policy window since its last success,
    /// and failed logins from `ip` within the window.
    pub async fn login_failures(
        &self,
        username: &str,
        ip: Option<IpAddr>,
        p: &LockPolicy,
    ) -> DataResult<(i64, i64)> {
        let c = self.conn().await?;
        let r = c
            .query_one(
                &format!("SELECT
                   (SELECT count(*) FROM {WEB_LOGIN_ATTEMPTS} a WHERE lower(a.username) = lower($1) AND NOT a.success
                      AND a.time > now() - make_interval(secs => $3)
                      AND a.time > COALESCE((SELECT max(s.time) FROM {WEB_LOGIN_ATTEMPTS} s
                                             WHERE lower(s.username) = lower($1) AND s.success), '-infinity')),
                   (SELECT count(*) FROM {WEB_LOGIN_ATTEMPTS} a WHERE $2::inet IS NOT NULL AND a.source_ip = $2
                      AND NOT a.success AND a.time > now() - make_interval(secs => $3))"),
                &[&username, &ip, &p.window_seconds],
            )
            .await?;
        Ok((r.try_get(0)?, r.try_get(1)?))
    }

    /// Records a login attempt (the name is cut to 64 characters).
    pub async fn record_login_attempt(
        &self,
        username: &str,
        ip: Option<IpAddr>,
        success: bool,
    ) -> DataResult<()> {
        let name: String = username.chars().take(64).collect();
        let c = self.conn().await?;
        c.execute(
            &format!("INSERT INTO {WEB_LOGIN_ATTEMPTS} (username, source_ip, success) VALUES ($1, $2, $3)"),
            &[&name, &ip, &success],
        )
        .await?;
        Ok(())
    }

    /// Clears the failed logins of `username` (an administrator's unlock).
    pub async fn unlock(&self, username: &str) -> DataResult<u64> {
        let c = self.conn().await?;
        Ok(c.execute(
            &format!("DELETE FROM {WEB_LOGIN_ATTEMPTS} WHERE lower(username) = lower($1) AND NOT success"),
            &[&username],
        )
        .await?)
    }

    // ---- sessions ----------------------------------------------------------------

    /// Stores a new session; `id_digest` is the SHA-256 of the cookie value.
    pub async fn create_session(
        &self,
        user_id: i64,
        id_digest: &[u8],
        csrf: &str,
        lifetime_seconds: f64,
        ip: Option<IpAddr>,
        user_agent: &str,
    ) -> DataResult<()> {
        let ua: String = user_agent.chars().take(200).collect();
        let c = self.conn().await?;
        c.execute(
            &format!("INSERT INTO {WEB_SESSIONS} (id_hash, user_id, csrf_token, expires_at, source_ip, user_agent) \
             VALUES ($1, $2, $3, now() + make_interval(secs => $4), $5, $6)"),
            &[&id_digest, &user_id, &csrf, &lifetime_seconds, &ip, &ua],
        )
        .await?;
        c.execute(&format!("UPDATE {WEB_USERS} SET last_login = now() WHERE id = $1"), &[&user_id]).await?;
        Ok(())
    }

    /// The live session of `id_digest` (not expired, used within `idle_seconds`, user
    /// enabled), touching its last use.
    pub async fn session(&self, id_digest: &[u8], idle_seconds: f64) -> DataResult<Option<SessionRow>> {
        let c = self.conn().await?;
        let row = c
            .query_opt(
                &format!(
                    "WITH s AS (
                   UPDATE {WEB_SESSIONS} SET last_seen = now()
                   WHERE id_hash = $1 AND expires_at > now() AND last_seen > now() - make_interval(secs => $2)
                   RETURNING user_id, csrf_token)
                 SELECT u.id, u.username, u.role::text, u.all_exporters, u.must_change_password, s.csrf_token
                 FROM s JOIN {WEB_USERS} u ON u.id = s.user_id WHERE NOT u.disabled"
                ),
                &[&id_digest, &idle_seconds],
            )
            .await?;
        let Some(r) = row else { return Ok(None) };
        let id: i64 = r.try_get(0)?;
        let prefixes = self.scope_prefixes(id).await?;
        Ok(Some(SessionRow {
            identity: Identity {
                id,
                username: r.try_get(1)?,
                role: role_of(r.try_get(2)?)?,
                all_exporters: r.try_get(3)?,
                must_change_password: r.try_get(4)?,
                prefixes,
            },
            csrf: r.try_get(5)?,
        }))
    }

    /// Deletes one session (logout).
    pub async fn delete_session(&self, id_digest: &[u8]) -> DataResult<()> {
        let c = self.conn().await?;
        c.execute(&format!("DELETE FROM {WEB_SESSIONS} WHERE id_hash = $1"), &[&id_digest]).await?;
        Ok(())
    }

    /// Deletes every session of a user except `keep`; returns how many.
    pub async fn delete_sessions_of(&self, user_id: i64, keep: Option<&[u8]>) -> DataResult<u64> {
        let c = self.conn().await?;
        Ok(c.execute(
            &format!(
                "DELETE FROM {WEB_SESSIONS} WHERE user_id = $1 AND ($2::bytea IS NULL OR id_hash <> $2)"
            ),
            &[&user_id, &keep],
        )
        .await?)
    }

    /// Removes expired sessions and login attempts older than a day.
    pub async fn prune(&self) -> DataResult<(u64, u64)> {
        let c = self.conn().await?;
        let s = c.execute(&format!("DELETE FROM {WEB_SESSIONS} WHERE expires_at < now()"), &[]).await?;
        let a = c
            .execute(&format!("DELETE FROM {WEB_LOGIN_ATTEMPTS} WHERE time < now() - interval '1 day'"), &[])
            .await?;
        Ok((s, a))
    }

    /// Exporter prefixes granted to a user, directly or through groups.
    async fn scope_prefixes(&self, user_id: i64) -> DataResult<Vec<Prefix>> {
        let c = self.conn().await?;
        let rows = c
            .query(
                &format!(
                    "SELECT prefix::text FROM {WEB_USER_PREFIXES} WHERE user_id = $1
                 UNION
                 SELECT m.prefix::text FROM {WEB_USER_GROUPS} g
                 JOIN {WEB_DEVICE_GROUP_MEMBERS} m ON m.group_id = g.group_id WHERE g.user_id = $1"
                ),
                &[&user_id],
            )
            .await?;
        let v: Vec<String> = rows.iter().map(|r| r.try_get(0)).collect::<Result<_, _>>()?;
        Ok(prefixes_of(v))
    }

    // ---- API tokens --------------------------------------------------------------

    /// The user of a live API token (not revoked, not expired, user enabled), noting
    /// its use.
    pub async fn token_identity(&self, digest: &[u8]) -> DataResult<Option<Identity>> {
        let c = self.conn().await?;
        let row = c
            .query_opt(
                &format!(
                    "WITH t AS (
                   UPDATE {WEB_API_TOKENS} SET last_used_at = now()
                   WHERE token_hash = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())
                   RETURNING user_id)
                 SELECT u.id, u.username, u.role::text, u.all_exporters, u.must_change_password
                 FROM t JOIN {WEB_USERS} u ON u.id = t.user_id WHERE NOT u.disabled"
                ),
                &[&digest],
            )
            .await?;
        let Some(r) = row else { return Ok(None) };
        let id: i64 = r.try_get(0)?;
        Ok(Some(Identity {
            id,
            username: r.try_get(1)?,
            role: role_of(r.try_get(2)?)?,
            all_exporters: r.try_get(3)?,
            must_change_password: r.try_get(4)?,
            prefixes: self.scope_prefixes(id).await?,
        }))
    }

    /// Stores a new token of `user_id`; returns its id.
    pub async fn create_token(
        &self,
        user_id: i64,
        name: &str,
        digest: &[u8],
        prefix: &str,
        expires_at: Option<OffsetDateTime>,
    ) -> DataResult<i64> {
        let c = self.conn().await?;
        let r = c
            .query_one(
                &format!(
                    "INSERT INTO {WEB_API_TOKENS} (user_id, name, token_hash, prefix, expires_at) \
                 VALUES ($1, $2, $3, $4, $5) RETURNING id"
                ),
                &[&user_id, &name, &digest, &prefix, &expires_at],
            )
            .await?;
        Ok(r.try_get(0)?)
    }

    /// The tokens of a user, newest first.
    pub async fn tokens(&self, user_id: i64) -> DataResult<Vec<TokenView>> {
        let c = self.conn().await?;
        let rows = c
            .query(
                &format!("SELECT id, name, prefix, created_at, expires_at, last_used_at, revoked_at FROM {WEB_API_TOKENS} \
                 WHERE user_id = $1 ORDER BY id DESC"),
                &[&user_id],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(TokenView {
                    id: r.try_get(0)?,
                    name: r.try_get(1)?,
                    prefix: r.try_get(2)?,
                    created_at: ts(r.try_get(3)?),
                    expires_at: ts_opt(r.try_get(4)?),
                    last_used_at: ts_opt(r.try_get(5)?),
                    revoked_at: ts_opt(r.try_get(6)?),
                })
            })
            .collect()
    }

    /// Revokes a token of `user_id`; false when there is no such live token.
    pub async fn revoke_token(&self, user_id: i64, token_id: i64) -> DataResult<bool> {
        let c = self.conn().await?;
        let n = c
            .execute(
                &format!("UPDATE {WEB_API_TOKENS} SET revoked_at = now() WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL"),
                &[&token_id, &user_id],
            )
            .await?;
        Ok(n == 1)
    }

    /// Revokes every token of a user; returns how many.
    pub async fn revoke_tokens_of(&self, user_id: i64) -> DataResult<u64> {
        let c = self.conn().await?;
        Ok(c.execute(
            &format!(
                "UPDATE {WEB_API_TOKENS} SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL"
            ),
            &[&user_id],
        )
        .await?)
    }

    // ---- users -------------------------------------------------------------------

    /// Number of users.
    pub async fn user_count(&self) -> DataResult<i64> {
        let c = self.conn().await?;
        Ok(c.query_one(&format!("SELECT count(*) FROM {WEB_USERS}"), &[]).await?.try_get(0)?)
    }

    /// Every user, by name.
    pub async fn users(&self, p: &LockPolicy) -> DataResult<Vec<UserView>> {
        let c = self.conn().await?;
        let sql = format!("SELECT {} FROM {WEB_USERS} u ORDER BY lower(u.username)", user_cols());
        let rows = c.query(&sql, &[&p.window_seconds, &p.user_failures]).await?;
        rows.iter().map(user_view).collect()
    }

    /// One user.
    pub async fn user(&self, id: i64, p: &LockPolicy) -> DataResult<Option<UserView>> {
        let c = self.conn().await?;
        let sql = format!("SELECT {} FROM {WEB_USERS} u WHERE u.id = $3", user_cols());
        let row = c.query_opt(&sql, &[&p.window_seconds, &p.user_failures, &id]).await?;
        row.as_ref().map(user_view).transpose()
    }

    /// Creates a user with its scope; returns its id.
    pub async fn create_user(&self, u: &NewUser) -> DataResult<i64> {
        let mut c = self.conn().await?;
        let tx = c.transaction().await?;
        let r = tx
            .query_one(
                &format!("INSERT INTO {WEB_USERS} (username, password_hash, role, all_exporters, must_change_password) \
                 VALUES ($1, $2, $3::text::web_role, $4, $5) RETURNING id"),
                &[&u.username, &u.password_hash, &u.role.as_str(), &u.all_exporters, &u.must_change_password],
            )
            .await
            .map_err(|e| match DataError::from(e) {
                DataError::Conflict(_) => DataError::Conflict(format!("user {} exists already", u.username)),
                other => other,
            })?;
        let id: i64 = r.try_get(0)?;
        set_scope(&tx, id, Some(&u.prefixes), Some(&u.groups)).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Applies `upd` to a user; false when there is no such user.
    pub async fn update_user(&self, id: i64, upd: &UserUpdate) -> DataResult<bool> {
        let mut c = self.conn().await?;
        let tx = c.transaction().await?;
        let n = tx
            .execute(
                &format!("UPDATE {WEB_USERS} SET role = COALESCE($2::text::web_role, role), \
                   all_exporters = COALESCE($3, all_exporters), disabled = COALESCE($4, disabled) WHERE id = $1"),
                &[&id, &upd.role.map(|r| r.as_str()), &upd.all_exporters, &upd.disabled],
            )
            .await?;
        if n == 0 {
            return Ok(false);
        }
        set_scope(&tx, id, upd.prefixes.as_deref(), upd.groups.as_deref()).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Sets a user's password hash (and whether it must be changed at next login).
    pub async fn set_password(&self, id: i64, hash: &str, must_change: bool) -> DataResult<bool> {
        let c = self.conn().await?;
        let n = c
            .execute(
                &format!("UPDATE {WEB_USERS} SET password_hash = $2, must_change_password = $3, password_changed_at = now() \
                 WHERE id = $1"),
                &[&id, &hash, &must_change],
            )
            .await?;
        Ok(n == 1)
    }

    /// Deletes a user (sessions, tokens and grants go with it).
    pub async fn delete_user(&self, id: i64) -> DataResult<bool> {
        let c = self.conn().await?;
        Ok(c.execute(&format!("DELETE FROM {WEB_USERS} WHERE id = $1"), &[&id]).await? == 1)
    }

    /// Enabled admins other than `except`.
    pub async fn other_enabled_admins(&self, except: i64) -> DataResult<i64> {
        let c = self.conn().await?;
        Ok(c.query_one(
            &format!("SELECT count(*) FROM {WEB_USERS} WHERE role = 'admin' AND NOT disabled AND id <> $1"),
            &[&except],
        )
        .await?
        .try_get(0)?)
    }

    // ---- device groups -----------------------------------------------------------

    /// Every device group, by name.
    pub async fn groups(&self) -> DataResult<Vec<GroupView>> {
        let c = self.conn().await?;
        let rows = c
            .query(
                &format!("SELECT g.id, g.name, g.description, \
                   ARRAY(SELECT prefix::text FROM {WEB_DEVICE_GROUP_MEMBERS} m WHERE m.group_id = g.id ORDER BY prefix), \
                   (SELECT count(*) FROM {WEB_USER_GROUPS} ug WHERE ug.group_id = g.id) \
                 FROM {WEB_DEVICE_GROUPS} g ORDER BY g.name"),
                &[],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(GroupView {
                    id: r.try_get(0)?,
                    name: r.try_get(1)?,
                    description: r.try_get(2)?,
                    prefixes: r.try_get(3)?,
                    users: r.try_get(4)?,
                })
            })
            .collect()
    }

    /// Creates a group; returns its id.
    pub async fn create_group(&self, name: &str, description: &str, prefixes: &[Prefix]) -> DataResult<i64> {
        let mut c = self.conn().await?;
        let tx = c.transaction().await?;
        let id: i64 = tx
            .query_one(
                &format!("INSERT INTO {WEB_DEVICE_GROUPS} (name, description) VALUES ($1, $2) RETURNING id"),
                &[&name, &description],
            )
            .await
            .map_err(|e| match DataError::from(e) {
                DataError::Conflict(_) => DataError::Conflict(format!("group {name} exists already")),
                other => other,
            })?
            .try_get(0)?;
        set_members(&tx, id, prefixes).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Replaces a group's name, description and prefixes; false when it does not exist.
    pub async fn update_group(
        &self,
        id: i64,
        name: &str,
        description: &str,
        prefixes: &[Prefix],
    ) -> DataResult<bool> {
        let mut c = self.conn().await?;
        let tx = c.transaction().await?;
        let n = tx
            .execute(
                &format!("UPDATE {WEB_DEVICE_GROUPS} SET name = $2, description = $3 WHERE id = $1"),
                &[&id, &name, &description],
            )
            .await?;
        if n == 0 {
            return Ok(false);
        }
        set_members(&tx, id, prefixes).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Deletes a group (its grants go with it).
    pub async fn delete_group(&self, id: i64) -> DataResult<bool> {
        let c = self.conn().await?;
        Ok(c.execute(&format!("DELETE FROM {WEB_DEVICE_GROUPS} WHERE id = $1"), &[&id]).await? == 1)
    }

    // ---- audit log ---------------------------------------------------------------

    /// Records an audit event. Failures are logged, not returned: the action itself
    /// has happened, and the log line says the audit row is missing.
    pub async fn audit(&self, e: AuditEvent<'_>) {
        let res = async {
            let c = self.conn().await?;
            c.execute(
                &format!("INSERT INTO {WEB_AUDIT_LOG} (actor_id, actor, action, target, success, source_ip, details) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)"),
                &[&e.actor_id, &e.actor, &e.action, &e.target, &e.success, &e.source_ip, &e.details],
            )
            .await?;
            Ok::<(), DataError>(())
        }
        .await;
        if let Err(err) = res {
            log::error!("audit log write failed for action {} by {}: {err}", e.action, e.actor);
        }
    }

    /// Audit entries, newest first: `limit` entries before id `before` (all when
    /// `None`), optionally only one action (prefix match, e.g. `login`).
    pub async fn audit_log(
        &self,
        before: Option<i64>,
        limit: i64,
        action: Option<&str>,
    ) -> DataResult<Vec<AuditEntry>> {
        let c = self.conn().await?;
        let rows = c
            .query(
                &format!("SELECT id, time, actor, action, target, success, source_ip, details FROM {WEB_AUDIT_LOG} \
                 WHERE ($1::bigint IS NULL OR id < $1) AND ($3::text IS NULL OR action LIKE $3 || '%') \
                 ORDER BY id DESC LIMIT $2"),
                &[&before, &limit.clamp(1, 1000), &action],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(AuditEntry {
                    id: r.try_get(0)?,
                    time: ts(r.try_get(1)?),
                    actor: r.try_get(2)?,
                    action: r.try_get(3)?,
                    target: r.try_get(4)?,
                    success: r.try_get(5)?,
                    source_ip: r.try_get::<_, Option<IpAddr>>(6)?.map(|a| a.to_string()),
                    details: r.try_get(7)?,
                })
            })
            .collect()
    }
}

async fn set_scope(
    tx: &deadpool_postgres::Transaction<'_>,
    user_id: i64,
    prefixes: Option<&[Prefix]>,
    groups: Option<&[i64]>,
) -> DataResult<()> {
    if let Some(prefixes) = prefixes {
        tx.execute(&format!("DELETE FROM {WEB_USER_PREFIXES} WHERE user_id = $1"), &[&user_id]).await?;
        let v: Vec<String> = prefixes.iter().map(|p| p.to_string()).collect();
        tx.execute(
            &format!("INSERT INTO {WEB_USER_PREFIXES} (user_id, prefix) SELECT $1, p::cidr FROM unnest($2::text[]) p \
             ON CONFLICT DO NOTHING"),
            &[&user_id, &v],
        )
        .await?;
    }
    if let Some(groups) = groups {
        tx.execute(&format!("DELETE FROM {WEB_USER_GROUPS} WHERE user_id = $1"), &[&user_id]).await?;
        let n = tx
            .execute(
                &format!("INSERT INTO {WEB_USER_GROUPS} (user_id, group_id) SELECT $1, g.id FROM {WEB_DEVICE_GROUPS} g \
                 WHERE g.id = ANY($2::bigint[]) ON CONFLICT DO NOTHING"),
                &[&user_id, &groups],
            )
            .await?;
        let mut unique = groups.to_vec();
        unique.sort_unstable();
        unique.dedup();
        if n as usize != unique.len() {
            return Err(DataError::Invalid("unknown device group".into()));
        }
    }
    Ok(())
}

async fn set_members(
    tx: &deadpool_postgres::Transaction<'_>,
    group_id: i64,
    prefixes: &[Prefix],
) -> DataResult<()> {
    tx.execute(&format!("DELETE FROM {WEB_DEVICE_GROUP_MEMBERS} WHERE group_id = $1"), &[&group_id]).await?;
    let v: Vec<String> = prefixes.iter().map(|p| p.to_string()).collect();
    tx.execute(
        &format!("INSERT INTO {WEB_DEVICE_GROUP_MEMBERS} (group_id, prefix) SELECT $1, p::cidr FROM unnest($2::text[]) p \
         ON CONFLICT DO NOTHING"),
        &[&group_id, &v],
    )
    .await?;
    Ok(())
}
