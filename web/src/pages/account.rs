//! Login, logout, the account page (password, personal API tokens).

use super::layout::{bare, csrf_field, notice, page, role_summary};
use super::{html, safe_next, Html};
use crate::actions;
use crate::auth::login::{login, LoginOutcome};
use crate::auth::{token, Auth, CsrfForm, PendingAuth, LOGIN_CSRF_COOKIE, SESSION_COOKIE};
use crate::error::AppResult;
use crate::App;
use maud::html as m;
use rocket::form::{Form, FromForm};
use rocket::http::{Cookie, CookieJar, SameSite, Status};
use rocket::request::{FromRequest, Outcome, Request};
use rocket::response::Redirect;
use rocket::{get, post, routes, Either, Route, State};
use std::net::IpAddr;

/// The account routes.
pub fn routes() -> Vec<Route> {
    routes![login_get, login_post, logout, account, password_get, password_post, token_create, token_revoke]
}

/// The client's User-Agent (for the session list), cut short.
pub struct UserAgent(pub String);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for UserAgent {
    type Error = ();
    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, ()> {
        Outcome::Success(UserAgent(
            req.headers().get_one("User-Agent").unwrap_or("").chars().take(200).collect(),
        ))
    }
}

/// The client's address (peer, or the trusted proxy header when configured).
pub struct ClientIp(pub Option<IpAddr>);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for ClientIp {
    type Error = ();
    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, ()> {
        Outcome::Success(ClientIp(req.client_ip()))
    }
}

fn session_cookie(app: &App, value: String) -> Cookie<'static> {
    Cookie::build((SESSION_COOKIE, value))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(app.cfg.cookie_secure)
        .max_age(time::Duration::seconds(crate::auth::SESSION_LIFETIME_SECONDS as i64))
        .build()
}

fn login_form(app: &App, cookies: &CookieJar<'_>, next: &str, error: Option<&str>) -> Html {
    // Double-submit token: there is no session yet to tie a synchronizer token to.
    let csrf = token::random_token();
    cookies.add(
        Cookie::build((LOGIN_CSRF_COOKIE, csrf.clone()))
            .path("/login")
            .http_only(true)
            .same_site(SameSite::Strict)
            .secure(app.cfg.cookie_secure)
            .build(),
    );
    html(bare(
        "Log in",
        m! {
            form #login-form method="post" action="/login" {
                h1 { "Log in" }
                @if let Some(e) = error { div.notice.error #login-error data-test="login-error" { (e) } }
                input type="hidden" name="csrf" value=(csrf);
                input type="hidden" name="next" value=(next);
                label for="username" { "User name" }
                input #username type="text" name="username" autocomplete="username" autofocus required maxlength="64";
                label for="password" { "Password" }
                input #password type="password" name="password" autocomplete="current-password" required;
                button #login-submit type="submit" { "Log in" }
            }
        },
    ))
}

#[get("/login?<next>")]
fn login_get(
    app: &State<App>,
    cookies: &CookieJar<'_>,
    auth: Option<Auth>,
    next: Option<&str>,
) -> Either<Redirect, Html> {
    if auth.is_some() {
        return Either::Left(Redirect::to(safe_next(next)));
    }
    Either::Right(login_form(app, cookies, &safe_next(next), None))
}

/// The login form.
#[derive(FromForm)]
struct LoginForm {
    username: String,
    password: String,
    csrf: Option<String>,
    next: Option<String>,
}

#[post("/login", data = "<form>")]
async fn login_post(
    app: &State<App>,
    cookies: &CookieJar<'_>,
    form: Form<LoginForm>,
    ip: ClientIp,
    ua: UserAgent,
) -> AppResult<(Status, Either<Redirect, Html>)> {
    let next = safe_next(form.next.as_deref());
    let expected = cookies.get(LOGIN_CSRF_COOKIE).map(|c| c.value().to_string());
    let given = form.csrf.as_deref().unwrap_or("");
    let valid = match expected.as_deref() {
        Some(e) => token::equal(e, given),
        None => false,
    };
    if !valid {
        return Ok((
            Status::Forbidden,
            Either::Right(login_form(app, cookies, &next, Some("The form expired; please try again."))),
        ));
    }
    match login(&app.db, &app.dummy_hash, &form.username, &form.password, ip.0, &ua.0).await? {
        LoginOutcome::Success { session_id, must_change_password } => {
            // A session id the client brought along is dropped, never upgraded.
            if let Some(old) = cookies.get(SESSION_COOKIE) {
                app.db.delete_session(&token::digest(old.value())).await?;
            }
            cookies.remove(Cookie::build(LOGIN_CSRF_COOKIE).path("/login").build());
            cookies.add(session_cookie(app, session_id));
            let to = if must_change_password { "/account/password".to_string() } else { next };
            Ok((Status::SeeOther, Either::Left(Redirect::to(to))))
        }
        LoginOutcome::Invalid => Ok((
            Status::Unauthorized,
            Either::Right(login_form(app, cookies, &next, Some("Wrong user name or password."))),
        )),
        LoginOutcome::Locked | LoginOutcome::Blocked => Ok((
            Status::TooManyRequests,
            Either::Right(login_form(
                app,
                cookies,
                &next,
                Some("Too many failed attempts: logins are refused for a while (an administrator can unlock the account)."),
            )),
        )),
    }
}

/// A form with nothing but its CSRF token.
#[derive(FromForm)]
pub struct Confirm {
    /// Unused (forms may send a button name).
    pub confirm: Option<String>,
}

#[post("/logout", data = "<_form>")]
async fn logout(
    app: &State<App>,
    cookies: &CookieJar<'_>,
    auth: PendingAuth,
    _form: CsrfForm<Confirm>,
) -> AppResult<Redirect> {
    let a = auth.0;
    if let Some(d) = a.session_digest() {
        app.db.delete_session(d).await?;
    }
    cookies.remove(Cookie::build(SESSION_COOKIE).path("/").build());
    crate::actions::audit(app, &a, "logout", "", true, serde_json::json!({})).await;
    Ok(Redirect::to("/login"))
}

fn account_page(
    auth: &Auth,
    tokens: &[crate::data::accounts::TokenView],
    fresh: Option<(&str, &str)>,
    done: Option<&str>,
) -> Html {
    html(page(
        "Account",
        auth,
        "account",
        m! {
            @match done {
                Some("password") => (notice("ok", "Your password was changed; your other sessions were ended.")),
                Some("revoked") => (notice("ok", "The token was revoked.")),
                _ => {}
            }
            section.card #account-info {
                dl {
                    dt { "User" } dd #account-username { (auth.username) }
                    dt { "Role" } dd #account-role { (auth.role.as_str()) ": " (role_summary(auth.role)) }
                    dt { "Device scope" } dd #account-scope { (auth.scope().describe()) }
                }
                p { a #change-password href="/account/password" { "Change password" } }
            }
            section.card #tokens {
                h2 { "Personal API tokens" }
                p.muted { "Use a token as " code { "Authorization: Bearer <token>" } " on " code { "/api/v1" }
                    " (documented at " a href="/api_docs" { "/api_docs" } "). It acts with your role and device scope." }
                @if let Some((name, value)) = fresh {
                    div.notice.ok #new-token-box {
                        "New token " strong { (name) } " — copy it now, it is not shown again:"
                        pre #new-token data-test="new-token" { (value) }
                    }
                }
                table #tokens-table {
                    thead { tr { th { "Name" } th { "Prefix" } th { "Created" } th { "Expires" } th { "Last used" } th { "State" } th {} } }
                    tbody {
                        @for t in tokens {
                            tr data-token-id=(t.id) {
                                td { (t.name) } td { code { (t.prefix) "…" } } td { (t.created_at) }
                                td { (t.expires_at.clone().unwrap_or_else(|| "never".into())) }
                                td { (t.last_used_at.clone().unwrap_or_else(|| "never".into())) }
                                td { @if t.revoked_at.is_some() { "revoked" } @else { "active" } }
                                td {
                                    @if t.revoked_at.is_none() {
                                        form.inline method="post" action={ "/account/tokens/" (t.id) "/revoke" } {
                                            (csrf_field(auth))
                                            button.danger type="submit" data-test="revoke-token" { "Revoke" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                form #token-create method="post" action="/account/tokens" {
                    (csrf_field(auth))
                    label for="token-name" { "Name" }
                    input #token-name type="text" name="name" required maxlength="64" placeholder="e.g. grafana";
                    label for="token-expires" { "Expires after (days, 0 = never)" }
                    input #token-expires type="number" name="expires_days" min="0" max="3650" value="90";
                    button type="submit" #token-create-submit { "Create token" }
                }
            }
        },
    ))
}

#[get("/account?<done>")]
async fn account(auth: Auth, app: &State<App>, done: Option<&str>) -> AppResult<Html> {
    let tokens = app.db.tokens(auth.id).await?;
    Ok(account_page(&auth, &tokens, None, done))
}

/// The token form.
#[derive(FromForm)]
struct TokenForm {
    name: String,
    expires_days: Option<u32>,
}

#[post("/account/tokens", data = "<form>")]
async fn token_create(auth: Auth, app: &State<App>, form: CsrfForm<TokenForm>) -> AppResult<Html> {
    let f = form.0;
    let (_, value) = actions::create_token(app, &auth, &f.name, f.expires_days).await?;
    let tokens = app.db.tokens(auth.id).await?;
    Ok(account_page(&auth, &tokens, Some((f.name.trim(), &value)), None))
}

#[post("/account/tokens/<id>/revoke", data = "<_form>")]
async fn token_revoke(
    auth: Auth,
    app: &State<App>,
    id: i64,
    _form: CsrfForm<Confirm>,
) -> AppResult<Redirect> {
    actions::revoke_token(app, &auth, id).await?;
    Ok(Redirect::to("/account?done=revoked"))
}

fn password_page(auth: &Auth, error: Option<&str>) -> Html {
    html(page(
        "Change password",
        auth,
        "account",
        m! {
            @if auth.must_change_password {
                (notice("warn", "You logged in with a one-time password: choose your own password to continue."))
            }
            @if let Some(e) = error { div.notice.error #password-error data-test="password-error" { (e) } }
            form #password-form method="post" action="/account/password" {
                (csrf_field(auth))
                label for="current_password" { "Current password" }
                input #current_password type="password" name="current_password" autocomplete="current-password" required;
                label for="new_password" { "New password (at least 12 characters)" }
                input #new_password type="password" name="new_password" autocomplete="new-password" required minlength="12";
                label for="confirm_password" { "New password again" }
                input #confirm_password type="password" name="confirm_password" autocomplete="new-password" required;
                button #password-submit type="submit" { "Change password" }
            }
        },
    ))
}

#[get("/account/password")]
fn password_get(auth: PendingAuth) -> Html {
    password_page(&auth.0, None)
}

/// The password form.
#[derive(FromForm)]
struct PasswordForm {
    current_password: String,
    new_password: String,
    confirm_password: String,
}

#[post("/account/password", data = "<form>")]
async fn password_post(
    auth: PendingAuth,
    app: &State<App>,
    cookies: &CookieJar<'_>,
    form: CsrfForm<PasswordForm>,
) -> AppResult<(Status, Either<Redirect, Html>)> {
    let a = auth.0;
    let f = form.0;
    if f.new_password != f.confirm_password {
        return Ok((
            Status::BadRequest,
            Either::Right(password_page(&a, Some("The two new passwords differ."))),
        ));
    }
    match actions::change_password(app, &a, &f.current_password, &f.new_password).await {
        Ok(Some(sid)) => {
            cookies.add(session_cookie(app, sid));
            Ok((Status::SeeOther, Either::Left(Redirect::to("/account?done=password"))))
        }
        Ok(None) => Ok((Status::SeeOther, Either::Left(Redirect::to("/login")))),
        Err(e) => {
            let (status, msg) = e.status_and_message();
            Ok((status, Either::Right(password_page(&a, Some(&msg)))))
        }
    }
}
