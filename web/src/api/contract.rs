//! The query string of every API request, checked against the OpenAPI document
//! ([`crate::openapi::document`]) before the handler runs: the document is the
//! contract, so the server refuses exactly what it says is invalid, with 400, for
//! every operation (those added later included) without per-handler code.
//!
//! Checked for each documented query parameter of the matched operation: given at
//! most once (a repeated scalar is an array, not the documented type), present when
//! required, and its value of the documented type (`integer`, `number`, `boolean`)
//! within `minimum`/`maximum`, one of `enum`, within `minLength`/`maxLength`, strings
//! without NUL characters.
//! Meaning (addresses, times, windows) is still checked by the handlers' parsers.
//! Parameters the document does not name are ignored (forward compatibility).

use rocket::Request;
use serde_json::Value;
use std::sync::OnceLock;

/// Why the query was refused (read by the 400 catcher for its message).
#[derive(Debug, Default)]
pub struct QueryRefusal(pub Option<String>);

/// The document, built once.
fn document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(crate::openapi::document)
}

/// A parameter object, with `$ref` to `#/components/parameters/...` resolved.
fn resolve<'a>(doc: &'a Value, p: &'a Value) -> Option<&'a Value> {
    match p.get("$ref").and_then(Value::as_str) {
        Some(r) => doc.pointer(r.strip_prefix('#')?),
        None => Some(p),
    }
}

/// Checks the query of `req` against the documented operation of its route.
pub fn check_query(req: &Request<'_>) -> Result<(), String> {
    let Some(route) = req.route() else { return Ok(()) };
    let template = route.uri.path().replace('<', "{").replace('>', "}");
    let method = route.method.as_str().to_ascii_lowercase();
    let doc = document();
    let Some(op) = doc.get("paths").and_then(|p| p.get(&template)).and_then(|i| i.get(&method)) else {
        return Ok(());
    };
    let given: Vec<(String, String)> = req
        .uri()
        .query()
        .map(|q| q.segments().map(|(k, v)| (k.to_string(), v.to_string())).collect())
        .unwrap_or_default();
    let params = op.get("parameters").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    for p in params.iter().filter_map(|p| resolve(doc, p)) {
        if p.get("in").and_then(Value::as_str) != Some("query") {
            continue;
        }
        let Some(name) = p.get("name").and_then(Value::as_str) else { continue };
        let mut values = given.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str());
        match (values.next(), values.next()) {
            (Some(_), Some(_)) => return Err(format!("{name}: given more than once")),
            (None, _) => {
                if p.get("required").and_then(Value::as_bool) == Some(true) {
                    return Err(format!("{name}: required"));
                }
            }
            (Some(v), None) => {
                if let Some(schema) = p.get("schema") {
                    check_value(name, v, schema)?;
                }
            }
        }
    }
    Ok(())
}

/// Checks one value against a parameter schema (the subset the document uses).
fn check_value(name: &str, v: &str, schema: &Value) -> Result<(), String> {
    let min = schema.get("minimum").and_then(Value::as_f64);
    let max = schema.get("maximum").and_then(Value::as_f64);
    let range = |x: f64| -> Result<(), String> {
        match (min, max) {
            (Some(lo), _) if x < lo => Err(format!("{name}: at least {lo}")),
            (_, Some(hi)) if x > hi => Err(format!("{name}: at most {hi}")),
            _ => Ok(()),
        }
    };
    match schema.get("type").and_then(Value::as_str) {
        Some("integer") => {
            let n: i64 = v.parse().map_err(|_| format!("{name}: an integer"))?;
            // Only to compare with the bounds, which the document writes as JSON numbers.
            #[allow(clippy::cast_precision_loss)]
            range(n as f64)?;
        }
        Some("number") => {
            let x: f64 =
                v.parse().ok().filter(|x: &f64| x.is_finite()).ok_or_else(|| format!("{name}: a number"))?;
            range(x)?;
        }
        Some("boolean") if v != "true" && v != "false" => {
            return Err(format!("{name}: true or false"));
        }
        Some("string") => {
            // PostgreSQL text cannot hold NUL: refused here rather than failing as a 500.
            if v.contains('\0') {
                return Err(format!("{name}: no NUL characters"));
            }
            let len = v.chars().count();
            if let Some(lo) = schema.get("minLength").and_then(Value::as_u64) {
                if (len as u64) < lo {
                    return Err(format!("{name}: at least {lo} characters"));
                }
            }
            if let Some(hi) = schema.get("maxLength").and_then(Value::as_u64) {
                if (len as u64) > hi {
                    return Err(format!("{name}: at most {hi} characters"));
                }
            }
        }
        _ => {}
    }
    if let Some(choices) = schema.get("enum").and_then(Value::as_array) {
        if !choices.iter().any(|c| c.as_str() == Some(v) || c.as_i64().is_some_and(|n| n.to_string() == v)) {
            let names: Vec<String> =
                choices.iter().map(|c| c.as_str().map_or_else(|| c.to_string(), str::to_string)).collect();
            return Err(format!("{name}: one of {}", names.join(", ")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::check_value;
    use serde_json::json;

    #[test]
    fn values() {
        let limit = json!({"type": "integer", "minimum": 1, "maximum": 1000});
        assert!(check_value("limit", "10", &limit).is_ok());
        assert!(check_value("limit", "0", &limit).is_err());
        assert!(check_value("limit", "1001", &limit).is_err());
        assert!(check_value("limit", "null", &limit).is_err());
        assert!(check_value("limit", "", &limit).is_err());
        let side = json!({"type": "string", "enum": ["src", "dst"]});
        assert!(check_value("side", "dst", &side).is_ok());
        assert!(check_value("side", "pair", &side).is_err());
        assert!(check_value("b", "yes", &json!({"type": "boolean"})).is_err());
    }
}
