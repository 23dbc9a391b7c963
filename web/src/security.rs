//! Response headers every answer carries: a strict Content-Security-Policy (no
//! inline script or style anywhere), framing and sniffing off, no caching of anything
//! but the static assets, and HSTS when TLS is on.

use rocket::fairing::{Fairing, Info, Kind};
use rocket::http::Header;
use rocket::{Request, Response};

/// The Content-Security-Policy of every response.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
    connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
    frame-ancestors 'none'";

/// Adds the security headers.
pub struct SecurityHeaders {
    /// Send Strict-Transport-Security (TLS is on).
    pub hsts: bool,
}

#[rocket::async_trait]
impl Fairing for SecurityHeaders {
    fn info(&self) -> Info {
        Info { name: "security headers", kind: Kind::Response }
    }

    async fn on_response<'r>(&self, req: &'r Request<'_>, res: &mut Response<'r>) {
        res.set_header(Header::new("Content-Security-Policy", CSP));
        res.set_header(Header::new("X-Content-Type-Options", "nosniff"));
        res.set_header(Header::new("X-Frame-Options", "DENY"));
        res.set_header(Header::new("Referrer-Policy", "same-origin"));
        res.set_header(Header::new("Cross-Origin-Opener-Policy", "same-origin"));
        res.set_header(Header::new(
            "Permissions-Policy",
            "interest-cohort=(), camera=(), microphone=(), geolocation=()",
        ));
        if req.uri().path().as_str().starts_with("/static/") {
            res.set_header(Header::new("Cache-Control", "public, max-age=3600"));
        } else {
            res.set_header(Header::new("Cache-Control", "no-store"));
        }
        if self.hsts {
            res.set_header(Header::new("Strict-Transport-Security", "max-age=31536000"));
        }
    }
}
