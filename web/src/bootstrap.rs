//! Start-up work: schema migrations, the first admin, and housekeeping.

use crate::auth::{password, Role};
use crate::config::WebConfig;
use crate::data::accounts::{AuditEvent, NewUser};
use crate::data::Db;
use serde_json::json;

/// What [`first_admin`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FirstAdmin {
    /// Users exist already: nothing to do.
    Existing,
    /// Created with the password from `FLOWVISION_ADMIN_PASSWORD`.
    FromEnvironment(String),
    /// Created with a generated one-time password (printed once by the caller).
    OneTime {
        /// User name.
        username: String,
        /// The one-time password; must be changed at first login.
        password: String,
    },
}

/// Creates the first admin when there are no users: with `FLOWVISION_ADMIN_PASSWORD`,
/// or else with a random one-time password that must be changed at first login.
pub async fn first_admin(db: &Db, cfg: &WebConfig) -> Result<FirstAdmin, String> {
    if db.user_count().await.map_err(|e| e.to_string())? > 0 {
        return Ok(FirstAdmin::Existing);
    }
    let (pw, one_time) = match &cfg.admin_password {
        Some(p) => (p.clone(), false),
        None => (password::generate_one_time(), true),
    };
    let cost = cfg.argon2;
    let pw2 = pw.clone();
    let hash = rocket::tokio::task::spawn_blocking(move || password::hash(&pw2, cost))
        .await
        .map_err(|e| e.to_string())??;
    let user = NewUser {
        username: cfg.admin_user.clone(),
        role: Role::Admin,
        all_exporters: true,
        password_hash: hash,
        must_change_password: one_time,
        prefixes: Vec::new(),
        groups: Vec::new(),
    };
    match db.create_user(&user).await {
        Ok(id) => {
            db.audit(AuditEvent {
                actor_id: None,
                actor: "(start-up)",
                action: "user.create",
                target: &cfg.admin_user,
                success: true,
                source_ip: None,
                details: json!({"role": "admin", "first_admin": true, "one_time_password": one_time, "id": id}),
            })
            .await;
        }
        // Another instance created it at the same moment.
        Err(crate::data::DataError::Conflict(_)) => return Ok(FirstAdmin::Existing),
        Err(e) => return Err(e.to_string()),
    }
    Ok(if one_time {
        FirstAdmin::OneTime { username: cfg.admin_user.clone(), password: pw }
    } else {
        FirstAdmin::FromEnvironment(cfg.admin_user.clone())
    })
}
