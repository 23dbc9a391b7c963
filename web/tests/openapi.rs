//! The OpenAPI document: valid OpenAPI 3.0 (it deserializes into the typed model of
//! the `openapiv3` crate, every reference resolves, operation ids are unique, path
//! parameters are declared), and its paths and methods are exactly the API routes
//! Rocket has mounted. The browsable page lists every operation.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use serde_json::Value;
use std::collections::BTreeSet;

fn refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                if k == "$ref" {
                    out.push(x.as_str().unwrap().to_string());
                } else {
                    refs(x, out);
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
        _ => {}
    }
}

#[test]
fn document_is_valid_and_matches_the_routes() {
    let doc = flowvision_web::openapi::document();
    // Typed parse: fails on any structural error (wrong field types, bad parameter
    // objects, responses without descriptions, unknown schema shapes).
    let typed: openapiv3::OpenAPI = serde_json::from_value(doc.clone()).expect("valid OpenAPI 3.0");
    assert!(typed.openapi.starts_with("3.0"));

    let mut all = Vec::new();
    refs(&doc, &mut all);
    for r in &all {
        let ptr = r.strip_prefix('#').expect("local reference");
        assert!(doc.pointer(ptr).is_some(), "unresolved {r}");
    }

    let mut ids = BTreeSet::new();
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        let templ: BTreeSet<String> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(String::from)
            .collect();
        for (method, op) in item.as_object().unwrap() {
            assert!(ids.insert(op["operationId"].as_str().unwrap().to_string()), "duplicate operationId");
            assert!(
                op["responses"].as_object().unwrap().keys().any(|c| c.starts_with('2')),
                "{method} {path}: no success"
            );
            let declared: BTreeSet<String> = op["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|p| p["in"] == "path")
                .map(|p| p["name"].as_str().unwrap().to_string())
                .collect();
            assert_eq!(templ, declared, "{method} {path}: path parameters");
            documented.insert((method.to_uppercase(), path.clone()));
        }
    }

    // The routes Rocket mounts under /api/v1, with <param> written as {param}.
    let rocket = flowvision_web::build(common::config("postgresql://nobody@127.0.0.1:1/none")).unwrap();
    let mounted: BTreeSet<(String, String)> = rocket
        .routes()
        .filter(|r| r.uri.path().starts_with("/api/v1"))
        .map(|r| (r.method.as_str().to_string(), r.uri.path().replace('<', "{").replace('>', "}")))
        .collect();
    let missing: Vec<_> = mounted.difference(&documented).collect();
    let extra: Vec<_> = documented.difference(&mounted).collect();
    assert!(missing.is_empty(), "routes without documentation: {missing:?}");
    assert!(extra.is_empty(), "documented routes that do not exist: {extra:?}");
    println!("{} API operations documented, {} references resolved", documented.len(), all.len());
}

#[test]
fn docs_page_lists_every_operation() {
    let web = common::Web::start();
    let admin = web.login(common::ADMIN, common::ADMIN_PW);
    let page = web.get("/api_docs", Some(&admin)).body;
    let doc = flowvision_web::openapi::document();
    let mut n = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            let needle = format!("data-method=\"{}\" data-path=\"{}\"", method.to_uppercase(), path);
            assert!(page.contains(&needle), "page lacks {needle}");
            n += 1;
        }
    }
    let json = web.get("/api_docs/openapi.json", Some(&admin)).json();
    assert_eq!(json, doc);
    println!("/api_docs lists all {n} operations");
}
