//! The OpenAPI description of `/api/v1/insights` ([`super::insights`]), merged into
//! the document by [`crate::openapi::document`].

use serde_json::{json, Map, Value};

fn err(desc: &str) -> Value {
    json!({ "description": desc, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } })
}

fn q(name: &str, desc: &str, schema: Value) -> Value {
    json!({ "name": name, "in": "query", "required": false, "description": desc, "schema": schema })
}

/// The paths.
pub fn paths() -> Map<String, Value> {
    let mut p = Map::new();
    p.insert(
        "/api/v1/insights".into(),
        json!({
            "get": { "operationId": "listInsights", "summary": "Detections (floods, reflection, scans, sweeps)",
                     "description": "Every role, within its device scope: insights of the exporters it may see that \
                        overlap the range (flow time), newest first. `why` holds the observed values against their \
                        thresholds (docs/insights.md).",
                     "tags": ["insights"],
                     "parameters": [
                        q("from", "Overlapping at or after (RFC 3339 or Unix ms) [to - 24 h]", json!({"type": "string"})),
                        q("to", "Before (RFC 3339 or Unix ms) [now]", json!({"type": "string"})),
                        q("kind", "One kind", json!({"type": "string", "enum": super::insights::KINDS})),
                        q("exporter", "One exporter's address", json!({"type": "string"})),
                        q("limit", "At most this many", json!({"type": "integer", "minimum": 1, "maximum": 5000, "default": 500})),
                        q("acknowledged", "Only acknowledged (true) or only open (false) ones [both]", json!({"type": "string", "enum": ["true", "false"]}))
                     ],
                     "responses": {
                        "200": { "description": "The insights", "content": { "application/json": { "schema": {
                            "type": "object", "required": ["insights"],
                            "properties": { "insights": { "type": "array", "items": { "$ref": "#/components/schemas/Insight" } } } } } } },
                        "400": err("A parameter is invalid"), "401": err("Not authenticated") } }
        }),
    );
    let id = json!([{ "name": "id", "in": "path", "required": true,
                      "schema": { "type": "integer", "format": "int64" }, "description": "Insight id" }]);
    let one = |op: &str, summary: &str, desc: &str| {
        json!({ "operationId": op, "summary": summary, "description": desc, "tags": ["insights"],
                "parameters": id,
                "responses": {
                    "200": { "description": "The insight", "content": { "application/json": { "schema": {
                        "$ref": "#/components/schemas/Insight" } } } },
                    "401": err("Not authenticated"), "403": err("Not allowed (role)"),
                    "404": err("No such insight in the caller's scope") } })
    };
    p.insert(
        "/api/v1/insights/{id}/acknowledge".into(),
        json!({
            "post": one("acknowledgeInsight", "Acknowledge an insight",
                "Analyst role or higher, within the device scope. Records who and when; audited. An insight that \
                 continues after being acknowledged stays acknowledged."),
            "delete": one("unacknowledgeInsight", "Take an acknowledgement back",
                "Analyst role or higher, within the device scope; audited.")
        }),
    );
    p.insert(
        "/api/v1/hosts/{addr}".into(),
        json!({
            "get": { "operationId": "getHost", "summary": "One host: behaviour class, why, and its insights",
                     "description": "Every role, within its device scope: the host behaviour classifier \
                        (`model:host_class@VERSION`) over the host's flows received in the window by exporters the \
                        caller may see (the newest 20,000), with the features that decided the class and every \
                        class's probability; and the insights of the last 24 hours naming the host. Without a model \
                        or with fewer than 5 flows, `class` is null and `unclassified_because` says why \
                        (docs/models.md).",
                     "tags": ["insights"],
                     "parameters": [
                        { "name": "addr", "in": "path", "required": true, "description": "The host's IPv4 or IPv6 address",
                          "schema": { "type": "string" } },
                        q("from", "Flows received at or after (RFC 3339 or Unix ms) [to - 1 h]", json!({"type": "string"})),
                        q("to", "Before (RFC 3339 or Unix ms) [now]; at most one day after from", json!({"type": "string"}))
                     ],
                     "responses": {
                        "200": { "description": "The host", "content": { "application/json": { "schema": {
                            "$ref": "#/components/schemas/HostReport" } } } },
                        "400": err("A parameter is invalid"), "401": err("Not authenticated"),
                        "404": err("The path segment is not text (undecodable percent-encoding)") } }
        }),
    );
    p
}

/// The schemas.
pub fn schemas() -> Map<String, Value> {
    let s = |d: &str| json!({ "type": "string", "description": d });
    let ns = |d: &str| json!({ "type": "string", "nullable": true, "description": d });
    let mut m = Map::new();
    m.insert(
        "HostReport".into(),
        json!({ "type": "object",
                "required": ["address", "from", "to", "flows", "flows_truncated", "class", "confidence", "detector",
                             "why", "unclassified_because", "insights"],
                "properties": {
                    "address": s("The host"),
                    "from": s("Start of the window (RFC 3339)"),
                    "to": s("End of the window (RFC 3339)"),
                    "flows": { "type": "integer", "description": "Flows of the host the profile read" },
                    "flows_truncated": { "type": "boolean", "description": "More flows were in the window than were read" },
                    "class": { "type": "string", "nullable": true, "description": "web_server, dns_resolver, mail_server, \
                        ntp_server, database, workstation, scanner or iot_beacon" },
                    "confidence": { "type": "number", "nullable": true, "description": "The class's probability" },
                    "detector": ns("model:host_class@VERSION when the model is loaded"),
                    "why": { "type": "object", "nullable": true, "description": "top_features (feature, value, usual, \
                        weight) and probabilities per class" },
                    "unclassified_because": ns("Why there is no class"),
                    "insights": { "type": "array", "items": { "$ref": "#/components/schemas/Insight" } }
                } }),
    );
    m.insert(
        "Insight".into(),
        json!({ "type": "object",
                "required": ["id", "kind", "severity", "score", "start", "end", "exporter", "source", "target", "detector", "why"],
                "properties": {
                    "id": { "type": "integer", "format": "int64" },
                    "kind": { "type": "string", "enum": super::insights::KINDS },
                    "severity": { "type": "string", "enum": ["medium", "high", "critical"] },
                    "score": { "type": "number", "description": "0.5 at the threshold, 1 at 100 times it" },
                    "start": s("First window's start, flow time (RFC 3339)"),
                    "end": s("Last window's end (RFC 3339)"),
                    "exporter": s("The exporter that saw it"),
                    "interface": { "type": "integer", "format": "int64", "nullable": true,
                                   "description": "The exporter's interface (ifIndex) it is about, when one (traffic_anomaly)" },
                    "source": ns("The attacking or scanning host, when one address"),
                    "target": ns("The victim, when one address"),
                    "detector": s("rule:NAME"),
                    "why": { "type": "object", "required": ["summary", "observed"],
                             "properties": { "summary": s("One sentence"),
                                             "observed": { "type": "array", "items": { "type": "object",
                                                 "required": ["feature", "value", "threshold"],
                                                 "properties": { "feature": s("What was measured"),
                                                                 "value": { "type": "number" },
                                                                 "threshold": { "type": "number" } } } } } },
                    "acknowledged_by": ns("Who acknowledged it"),
                    "acknowledged_at": ns("When (RFC 3339)")
                } }),
    );
    m
}
