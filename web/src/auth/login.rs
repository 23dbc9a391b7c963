//! Login: rate limiting and lockout (counted in PostgreSQL, so they hold across
//! restarts and several web instances), password verification, session creation,
//! and the audit trail of it all.

use super::{password, token, LOCK_POLICY, SESSION_LIFETIME_SECONDS};
use crate::data::accounts::AuditEvent;
use crate::data::{DataError, DataResult, Db};
use serde_json::json;
use std::net::IpAddr;

/// What a login attempt came to.
#[derive(Debug)]
pub enum LoginOutcome {
    /// Logged in: the new session id (the cookie's value) and its CSRF token.
    Success {
        /// Cookie value (never stored).
        session_id: String,
        /// Must choose a new password before anything else.
        must_change_password: bool,
    },
    /// Wrong user name or password (the two are not distinguished).
    Invalid,
    /// Too many failures for this user name: locked for a while.
    Locked,
    /// Too many failures from this address: blocked for a while.
    Blocked,
}

/// Checks a login; on success creates a fresh session (never reusing one the client
/// presented). Every attempt is recorded for rate limiting and audited.
pub async fn login(
    db: &Db,
    dummy_hash: &str,
    username: &str,
    password_given: &str,
    ip: Option<IpAddr>,
    user_agent: &str,
) -> DataResult<LoginOutcome> {
    let username = username.trim();
    let (user_failures, ip_failures) = db.login_failures(username, ip, &LOCK_POLICY).await?;
    let creds = if super::valid_username(username) { db.credentials(username).await? } else { None };
    // Failed attempts are audited under the name tried only when it is a real user: a
    // password typed into the user-name field must not end up in the audit log.
    let actor = creds.as_ref().map_or_else(|| "(unknown user)".to_string(), |c| c.username.clone());
    let actor_id = creds.as_ref().map(|c| c.id);
    let audit = |action: &'static str, success: bool, details: serde_json::Value| AuditEvent {
        actor_id,
        actor: "",
        action,
        target: "",
        success,
        source_ip: ip,
        details,
    };
    if ip_failures >= LOCK_POLICY.ip_failures {
        db.record_login_attempt(username, ip, false).await?;
        db.audit(AuditEvent { actor: &actor, ..audit("login.blocked", false, json!({"reason": "address"})) })
            .await;
        return Ok(LoginOutcome::Blocked);
    }
    if user_failures >= LOCK_POLICY.user_failures {
        db.record_login_attempt(username, ip, false).await?;
        db.audit(AuditEvent { actor: &actor, ..audit("login.locked", false, json!({"reason": "user"})) })
            .await;
        return Ok(LoginOutcome::Locked);
    }
    // Verify against a dummy hash when the user does not exist, so the response time
    // does not tell which user names exist. argon2 is CPU-bound: off the async workers.
    let phc = creds.as_ref().map_or_else(|| dummy_hash.to_string(), |c| c.password_hash.clone());
    let given = password_given.to_string();
    let ok = rocket::tokio::task::spawn_blocking(move || password::verify(&given, &phc))
        .await
        .map_err(|e| DataError::Pool(format!("password check: {e}")))?;
    let user = match creds {
        Some(c) if ok && !c.disabled => c,
        other => {
            db.record_login_attempt(username, ip, false).await?;
            let reason = match other {
                Some(c) if c.disabled && ok => "disabled",
                Some(_) => "password",
                None => "user",
            };
            db.audit(AuditEvent { actor: &actor, ..audit("login.failed", false, json!({"reason": reason})) })
                .await;
            return Ok(LoginOutcome::Invalid);
        }
    };
    db.record_login_attempt(username, ip, true).await?;
    let session_id = token::random_token();
    let csrf = token::random_token();
    db.create_session(user.id, &token::digest(&session_id), &csrf, SESSION_LIFETIME_SECONDS, ip, user_agent)
        .await?;
    db.audit(AuditEvent { actor: &user.username, ..audit("login", true, json!({})) }).await;
    Ok(LoginOutcome::Success { session_id, must_change_password: user.must_change_password })
}
