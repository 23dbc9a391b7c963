//! Server-rendered pages (maud). Every page takes an [`crate::auth::Auth`] guard
//! (logged-out requests are redirected to `/login`) and every form post a
//! [`crate::auth::CsrfForm`]. Elements the browser tests use carry stable ids or
//! `data-test` attributes.

pub mod account;
pub mod admin;
pub mod archive;
pub mod dash;
pub mod exporter_names;
pub mod hosts;
pub mod insights;
pub mod layout;
pub mod mibs;
pub mod rules;
pub mod simulations;
pub mod snmp;
pub mod stats;

use maud::Markup;
use rocket::response::content::RawHtml;
use rocket::{get, routes, Route};

/// Every page route.
pub fn routes() -> Vec<Route> {
    let mut r = routes![healthz];
    r.extend(account::routes());
    r.extend(dash::routes());
    r.extend(admin::routes());
    r.extend(simulations::routes());
    r.extend(stats::routes());
    r.extend(rules::routes());
    r.extend(exporter_names::routes());
    r.extend(archive::routes());
    r.extend(mibs::routes());
    r.extend(snmp::routes());
    r.extend(insights::routes());
    r.extend(hosts::routes());
    r
}

/// An HTML response.
pub type Html = RawHtml<String>;

/// Wraps rendered markup as a response.
pub fn html(m: Markup) -> Html {
    RawHtml(m.into_string())
}

/// Liveness for container health checks: public, and tells nothing but "up".
#[get("/healthz")]
fn healthz() -> &'static str {
    "ok"
}

/// Percent-encodes everything but unreserved characters (for query strings).
pub fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A local path to go to after login: only absolute paths on this site.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.contains('\\')
                && !n.starts_with("/login") =>
        {
            n.to_string()
        }
        _ => "/".to_string(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;

    #[test]
    fn next_is_local() {
        assert_eq!(safe_next(Some("/flows?x=1")), "/flows?x=1");
        assert_eq!(safe_next(Some("//evil.example")), "/");
        assert_eq!(safe_next(Some("https://evil.example")), "/");
        assert_eq!(safe_next(Some("/\\evil")), "/");
        assert_eq!(safe_next(None), "/");
        assert_eq!(urlencode("a b/&"), "a%20b%2F%26");
    }
}
