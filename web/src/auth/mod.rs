//! Authentication and authorization: sessions, API tokens, CSRF, login with rate
//! limiting and lockout, and the request guards that hand a [`Scope`] to handlers.
//!
//! - Session cookie `fv_session`: 256 random bits; the database keeps only its SHA-256.
//!   HttpOnly, SameSite=Strict, Secure with TLS or `WEB_COOKIE_SECURE=true`. A new id
//!   at every login (no fixation), deleted at logout, password change and revocation.
//! - CSRF: a random synchronizer token per session, in every form (checked by
//!   [`CsrfForm`]) and, for cookie-authenticated API writes, in `X-CSRF-Token`.
//! - API tokens: `Authorization: Bearer fvt_...`, accepted on `/api/` and on the
//!   machine-readable API document `/api_docs/openapi.json` (clients load it with the
//!   token they call the API with) only.

pub mod login;
pub mod password;
pub mod role;
pub mod scope;
pub mod token;

pub use role::{Permission, Role};
pub use scope::Scope;

use crate::data::accounts::{Identity, LockPolicy};
use crate::error::AppError;
use crate::App;
use rocket::data::{self, Data, FromData, ToByteUnit};
use rocket::form::Form;
use rocket::http::{Method, RawStr, Status};
use rocket::outcome::Outcome;
use rocket::request::{self, FromRequest, Request};

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "fv_session";
/// Name of the login form's double-submit cookie (there is no session yet).
pub const LOGIN_CSRF_COOKIE: &str = "fv_login_csrf";
/// Header carrying the CSRF token on cookie-authenticated API writes.
pub const CSRF_HEADER: &str = "X-CSRF-Token";
/// A session unused this long expires (seconds).
pub const SESSION_IDLE_SECONDS: f64 = 12.0 * 3600.0;
/// A session expires this long after login whatever its use (seconds).
pub const SESSION_LIFETIME_SECONDS: f64 = 7.0 * 86_400.0;
/// Failed logins: 5 per user name lock it, 20 per source address block it, counted
/// over 15 minutes (user failures only since the user's last successful login).
pub const LOCK_POLICY: LockPolicy = LockPolicy { window_seconds: 900.0, user_failures: 5, ip_failures: 20 };

/// True for an acceptable user name (the database checks the same).
pub fn valid_username(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.chars().all(|c| c.is_ascii_alphanumeric() || "._@-".contains(c))
}

/// How a request authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    /// A session cookie.
    Session {
        /// SHA-256 of the session id.
        id_digest: Vec<u8>,
        /// The session's CSRF token.
        csrf: String,
    },
    /// A personal API token.
    Token,
}

/// An authenticated caller: who, with which role, seeing which exporters.
#[derive(Debug, Clone)]
pub struct Auth {
    /// User id.
    pub id: i64,
    /// User name.
    pub username: String,
    /// Role.
    pub role: Role,
    /// Must change the password first.
    pub must_change_password: bool,
    scope: Scope,
    via: Via,
    ip: Option<std::net::IpAddr>,
}

impl Auth {
    fn new(identity: Identity, via: Via, ip: Option<std::net::IpAddr>) -> Auth {
        let scope = if identity.role == Role::Admin || identity.all_exporters {
            Scope::all()
        } else {
            Scope::prefixes(identity.prefixes)
        };
        Auth {
            id: identity.id,
            username: identity.username,
            role: identity.role,
            must_change_password: identity.must_change_password,
            scope,
            via,
            ip,
        }
    }

    /// The exporters this caller may see; the only way to obtain a [`Scope`].
    pub fn scope(&self) -> &Scope {
        &self.scope
    }

    /// Fails with 403 unless the role holds `p`.
    pub fn require(&self, p: Permission) -> Result<(), AppError> {
        if self.role.allows(p) {
            Ok(())
        } else {
            Err(AppError::Forbidden(format!(
                "this needs the {} role or higher (you are {})",
                Role::minimum_for(p).as_str(),
                self.role.as_str()
            )))
        }
    }

    /// The session's CSRF token (for forms); `None` for API tokens.
    pub fn csrf(&self) -> Option<&str> {
        match &self.via {
            Via::Session { csrf, .. } => Some(csrf),
            Via::Token => None,
        }
    }

    /// SHA-256 of the session id, when authenticated by a session.
    pub fn session_digest(&self) -> Option<&[u8]> {
        match &self.via {
            Via::Session { id_digest, .. } => Some(id_digest),
            Via::Token => None,
        }
    }

    /// True when authenticated by an API token.
    pub fn is_token(&self) -> bool {
        matches!(self.via, Via::Token)
    }

    /// The client's address.
    pub fn ip(&self) -> Option<std::net::IpAddr> {
        self.ip
    }
}

/// What the authentication of a request found (computed once per request).
#[derive(Debug, Clone)]
enum AuthState {
    /// No credentials presented (or an unknown/expired session or token).
    Anonymous,
    /// Authenticated.
    Ok(Auth),
    /// The database could not be asked.
    Unavailable,
}

/// Why a guard refused, for the catchers (set before the guard fails).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Nothing recorded.
    None,
    /// Logged in with a one-time password: must choose a new one first.
    PasswordChange,
    /// A write without (or with a wrong) CSRF token.
    Csrf,
}

fn is_api(req: &Request<'_>) -> bool {
    req.uri().path().as_str().starts_with("/api/")
}

/// Where a bearer token is accepted: the API and its machine-readable document.
fn takes_token(req: &Request<'_>) -> bool {
    is_api(req) || req.uri().path().as_str() == crate::openapi::DOCUMENT_PATH
}

async fn resolve<'r>(req: &'r Request<'_>) -> &'r AuthState {
    req.local_cache_async(async {
        let Some(app) = req.rocket().state::<App>() else { return AuthState::Unavailable };
        let ip = req.client_ip();
        if takes_token(req) {
            if let Some(h) = req.headers().get_one("Authorization") {
                let Some(tok) = h.strip_prefix("Bearer ").map(str::trim) else { return AuthState::Anonymous };
                if !tok.starts_with(token::API_TOKEN_PREFIX) || tok.len() > 100 {
                    return AuthState::Anonymous;
                }
                return match app.db.token_identity(&token::digest(tok)).await {
                    Ok(Some(identity)) => AuthState::Ok(Auth::new(identity, Via::Token, ip)),
                    Ok(None) => AuthState::Anonymous,
                    Err(e) => {
                        log::error!("token lookup failed: {e}");
                        AuthState::Unavailable
                    }
                };
            }
        }
        let Some(cookie) = req.cookies().get(SESSION_COOKIE) else { return AuthState::Anonymous };
        let value = cookie.value();
        if value.len() != 43 {
            return AuthState::Anonymous;
        }
        let id_digest = token::digest(value);
        match app.db.session(&id_digest, SESSION_IDLE_SECONDS).await {
            Ok(Some(s)) => AuthState::Ok(Auth::new(s.identity, Via::Session { id_digest, csrf: s.csrf }, ip)),
            Ok(None) => AuthState::Anonymous,
            Err(e) => {
                log::error!("session lookup failed: {e}");
                AuthState::Unavailable
            }
        }
    })
    .await
}

fn safe_method(m: Method) -> bool {
    matches!(m, Method::Get | Method::Head | Method::Options)
}

/// Any authenticated caller, including one who must still change a one-time
/// password (only the password-change and logout routes take this).
#[derive(Debug, Clone)]
pub struct PendingAuth(pub Auth);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for PendingAuth {
    type Error = &'static str;

    async fn from_request(req: &'r Request<'_>) -> request::Outcome<Self, Self::Error> {
        match resolve(req).await {
            AuthState::Ok(a) => {
                // Cookie-authenticated API writes must carry the CSRF token in a header
                // (forms are checked by CsrfForm).
                if is_api(req) && !safe_method(req.method()) {
                    if let Some(expected) = a.csrf() {
                        let given = req.headers().get_one(CSRF_HEADER).unwrap_or("");
                        if !token::equal(given, expected) {
                            req.local_cache(|| Refusal::Csrf);
                            return Outcome::Error((Status::Forbidden, "missing or wrong X-CSRF-Token"));
                        }
                    }
                }
                // The query as the API document says it must be (after authentication,
                // so that anonymous callers learn nothing but 401).
                if is_api(req) {
                    // A name or address with a NUL cannot exist (PostgreSQL text cannot
                    // hold one): not found, rather than a failed query.
                    if req.uri().path().segments().any(|s| s.contains('\0')) {
                        return Outcome::Error((Status::NotFound, "no such resource"));
                    }
                    if let Err(msg) = crate::api::contract::check_query(req) {
                        req.local_cache(|| crate::api::contract::QueryRefusal(Some(msg)));
                        return Outcome::Error((Status::BadRequest, "invalid query parameter"));
                    }
                }
                Outcome::Success(PendingAuth(a.clone()))
            }
            AuthState::Anonymous => Outcome::Error((Status::Unauthorized, "not logged in")),
            AuthState::Unavailable => Outcome::Error((Status::ServiceUnavailable, "database unavailable")),
        }
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Auth {
    type Error = &'static str;

    async fn from_request(req: &'r Request<'_>) -> request::Outcome<Self, Self::Error> {
        match PendingAuth::from_request(req).await {
            Outcome::Success(PendingAuth(a)) if a.must_change_password => {
                req.local_cache(|| Refusal::PasswordChange);
                Outcome::Error((Status::Forbidden, "change your one-time password first"))
            }
            Outcome::Success(PendingAuth(a)) => Outcome::Success(a),
            Outcome::Error(e) => Outcome::Error(e),
            Outcome::Forward(s) => Outcome::Forward(s),
        }
    }
}

/// The refusal recorded for this request (for catchers).
pub fn refusal(req: &Request<'_>) -> Refusal {
    *req.local_cache(|| Refusal::None)
}

/// The body of a form post whose `csrf` field matched the session's token.
///
/// Every state-changing page route takes its form through this guard: a post
/// without a session is refused with 401, without the right token with 403, before
/// the form is even parsed. The form type itself need not declare `csrf`.
#[derive(Debug)]
pub struct CsrfForm<T>(pub T);

#[rocket::async_trait]
impl<'r, T: for<'a> rocket::form::FromForm<'a> + Send + 'static> FromData<'r> for CsrfForm<T> {
    type Error = String;

    async fn from_data(req: &'r Request<'_>, data: Data<'r>) -> data::Outcome<'r, Self> {
        let expected = match resolve(req).await {
            AuthState::Ok(a) => match a.csrf() {
                Some(c) => c.to_string(),
                None => return Outcome::Error((Status::Forbidden, "forms need a session".into())),
            },
            AuthState::Anonymous => return Outcome::Error((Status::Unauthorized, "not logged in".into())),
            AuthState::Unavailable => {
                return Outcome::Error((Status::ServiceUnavailable, "database unavailable".into()))
            }
        };
        let limit = req.limits().get("form").unwrap_or_else(|| 64.kibibytes());
        let body = match data.open(limit).into_string().await {
            Ok(s) if s.is_complete() => s.into_inner(),
            Ok(_) => return Outcome::Error((Status::PayloadTooLarge, "form too large".into())),
            Err(e) => return Outcome::Error((Status::BadRequest, e.to_string())),
        };
        let given = Form::values(&body)
            .find(|f| f.name == "csrf")
            .map(|f| RawStr::new(f.value).url_decode_lossy().into_owned())
            .unwrap_or_default();
        if !token::equal(&given, &expected) {
            req.local_cache(|| Refusal::Csrf);
            return Outcome::Error((Status::Forbidden, "missing or wrong CSRF token".into()));
        }
        match Form::<T>::parse_encoded(RawStr::new(&body)) {
            Ok(v) => Outcome::Success(CsrfForm(v)),
            Err(e) => Outcome::Error((Status::UnprocessableEntity, e.to_string())),
        }
    }
}

/// The scope of the command line (`flowvision-web insights host`): whoever holds
/// DATABASE_URL reads the database itself, so every exporter.
pub fn command_line_scope() -> Scope {
    Scope::all()
}

#[cfg(test)]
pub(crate) fn scope_for_tests() -> Scope {
    Scope::all()
}
