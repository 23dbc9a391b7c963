//! The server keeps to its OpenAPI document without schemathesis: query parameters
//! refused as the document says (repeats, types, bounds, enums, NUL) with 400 naming
//! the parameter, 405 with `Allow` for methods a path does not have, 404/422 for path
//! parameters out of range, NUL characters in stored names refused (not a 500), and
//! the document served to a bearer token.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use common::{Cred, Web, ADMIN, ADMIN_PW};
use serde_json::json;

#[test]
fn requests_outside_the_document_are_refused_as_it_says() {
    let web = Web::start();
    let admin = web.login(ADMIN, ADMIN_PW);
    let created = web.api("POST", "/api/v1/tokens", Cred::Session(&admin), Some(json!({"name": "contract"})));
    assert_eq!(created.status.code, 201, "{}", created.body);
    let token = created.json()["token"].as_str().unwrap().to_string();
    let t = || Cred::Token(&token);

    let mut checked = 0;
    for (uri, status, names) in [
        ("/api/v1/top/talkers?limit=5", 200, ""),
        ("/api/v1/top/talkers?limit=null", 400, "limit"),
        ("/api/v1/top/talkers?limit=1&limit=2", 400, "limit"),
        ("/api/v1/top/talkers?limit=0", 400, "limit"),
        ("/api/v1/top/talkers?limit=1001", 400, "limit"),
        ("/api/v1/top/talkers?side=pair", 400, "side"),
        ("/api/v1/top/as?side=pair", 200, ""),
        ("/api/v1/flows?page=0", 400, "page"),
        ("/api/v1/flows?page_size=5&dst_port=65536", 400, "dst_port"),
        ("/api/v1/audit?action=login%00", 400, "action"),
        ("/api/v1/audit?limit=2", 200, ""),
        ("/api/v1/exporters/192.0.2.1/interfaces/99999999999/traffic", 404, ""),
        ("/api/v1/users/abc", 422, ""),
    ] {
        let r = web.api("GET", uri, t(), None);
        assert_eq!(r.status.code, status, "{uri}: {}", r.body);
        if !names.is_empty() {
            assert!(r.json()["error"].as_str().unwrap().starts_with(names), "{uri}: {}", r.body);
        }
        checked += 1;
    }

    // Methods a path does not have: 405 with the ones it has.
    for (method, uri, allow) in [
        ("DELETE", "/api/v1/me", "GET, HEAD"),
        ("PUT", "/api/v1/users", "GET, HEAD, POST"),
        ("POST", "/api/v1/users/1", "DELETE, GET, HEAD, PATCH"),
    ] {
        let r = web.api(method, uri, t(), None);
        assert_eq!(r.status.code, 405, "{method} {uri}: {}", r.body);
        assert_eq!(r.header("Allow"), Some(allow), "{method} {uri}");
        checked += 1;
    }
    // Unknown paths stay 404.
    assert_eq!(web.api("DELETE", "/api/v1/nothing", t(), None).status.code, 404);

    // NUL cannot be stored in PostgreSQL text: 400, not a 500.
    let r = web.api("POST", "/api/v1/groups", t(), Some(json!({"name": "a\u{0}b"})));
    assert_eq!(r.status.code, 400, "{}", r.body);
    let r = web.api("POST", "/api/v1/groups", t(), Some(json!({"name": "ok", "description": "x\u{0}"})));
    assert_eq!(r.status.code, 400, "{}", r.body);

    // The document answers the token.
    let doc = web.get_bearer("/api_docs/openapi.json", &token);
    assert_eq!(doc.status.code, 200);
    assert!(doc.json()["paths"]["/api/v1/me"].is_object());
    println!("{checked} requests answered as documented");
}
