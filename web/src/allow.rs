//! 405 Method Not Allowed for the API: Rocket answers 404 when no route of the
//! request's method matches, even when the path exists with other methods. The 404
//! catcher asks [`allowed_methods`] whether that is the case and then answers 405 with
//! an `Allow` header, as HTTP (and the OpenAPI document) say.

use rocket::http::Method;
use rocket::Request;

/// Whether the route template `template` (`/api/v1/users/<id>`) matches `path`.
fn matches(template: &str, path: &str) -> bool {
    let mut t = template.trim_end_matches('/').split('/');
    let mut p = path.trim_end_matches('/').split('/');
    loop {
        match (t.next(), p.next()) {
            (None, None) => return true,
            // `<rest..>` takes every remaining segment.
            (Some(ts), _) if ts.starts_with('<') && ts.ends_with("..>") => return true,
            (Some(ts), Some(ps)) => {
                let dynamic = ts.starts_with('<') && ts.ends_with('>');
                let fits = if dynamic { !ps.is_empty() } else { ts == ps };
                if !fits {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

/// For a request no route answered: the methods its path has (sorted, `HEAD` with
/// `GET`), or `None` when a route of its own method matches the path (then the 404
/// came from that handler, or from a parameter it could not parse) or none does.
pub fn allowed_methods(req: &Request<'_>) -> Option<String> {
    let path = req.uri().path().as_str();
    let mut methods: Vec<Method> = Vec::new();
    for route in req.rocket().routes() {
        if !matches(route.uri.path(), path) {
            continue;
        }
        let m = route.method;
        // Rocket answers HEAD with the GET route.
        if m == req.method() || (req.method() == Method::Head && m == Method::Get) {
            return None;
        }
        if !methods.contains(&m) {
            methods.push(m);
        }
        if m == Method::Get && !methods.contains(&Method::Head) {
            methods.push(Method::Head);
        }
    }
    if methods.is_empty() {
        return None;
    }
    let mut names: Vec<&str> = methods.iter().map(|m| m.as_str()).collect();
    names.sort_unstable();
    Some(names.join(", "))
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn templates() {
        assert!(matches("/api/v1/users/<id>", "/api/v1/users/12"));
        assert!(matches("/api/v1/users/<id>", "/api/v1/users/12/"));
        assert!(!matches("/api/v1/users/<id>", "/api/v1/users"));
        assert!(!matches("/api/v1/users/<id>", "/api/v1/users/12/unlock"));
        assert!(matches("/api/v1/me", "/api/v1/me"));
        assert!(!matches("/api/v1/me", "/api/v1/mex"));
        assert!(matches("/assets/<path..>", "/assets/a/b.js"));
    }
}
