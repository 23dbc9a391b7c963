//! The OpenAPI description of this rule and exporter-name endpoints
//! ([`super::rules`], [`super::exporter_names`]), merged into the document by
//! [`crate::openapi::document`]. Kept beside the handlers so a change to one is seen
//! next to the other.

use serde_json::{json, Map, Value};

fn err(desc: &str) -> Value {
    json!({ "description": desc, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } })
}

fn ok(desc: &str, schema: &str) -> Value {
    json!({ "description": desc, "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{schema}") } } } })
}

fn body(schema: &str) -> Value {
    json!({ "required": true, "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{schema}") } } } })
}

fn name_param() -> Value {
    json!({ "name": "name", "in": "path", "required": true, "description": "Rule name",
            "schema": { "type": "string", "minLength": 1, "maxLength": super::rules::MAX_NAME } })
}

const READ: &str = "Operator role or higher (rules are appliance configuration: where flows are sent).";
const CHANGE: &str = "Operator role or higher with access to all exporters (a rule sees every \
     exporter's flows). Written to the audit log; running collectors reload the rules within a second.";

fn invalid_rule() -> Value {
    json!({ "description": "The rule does not check: `field` names the part at fault; for the filter, \
             `position` (byte offset) and `token` point at the bad token",
            "content": { "application/json": { "schema": { "$ref": "#/components/schemas/RuleError" } } } })
}

/// The paths (`/api/v1/rules...`, `/api/v1/exporters/{addr}/name`).
pub fn paths() -> Map<String, Value> {
    let mut p = Map::new();
    p.insert(
        "/api/v1/rules".into(),
        json!({
            "get": { "operationId": "listRules", "summary": "Forwarding rules with their live counters",
                     "description": format!("{READ} In evaluation order; counters are summed over the collectors \
                        that sent a statistics snapshot in the last two minutes."),
                     "tags": ["rules"], "parameters": [],
                     "responses": { "200": ok("The rules", "RuleList"), "401": err("Not authenticated"),
                                    "403": err("Not allowed (role)") } },
            "post": { "operationId": "createRule", "summary": "Add a forwarding rule", "description": CHANGE,
                      "tags": ["rules"], "parameters": [], "requestBody": body("RuleInput"),
                      "responses": { "201": ok("Added", "Rule"), "400": invalid_rule(),
                                     "401": err("Not authenticated"),
                                     "403": err("Not allowed (role or scope), or a cookie-authenticated write without X-CSRF-Token"),
                                     "409": err("A rule has that name"), "422": err("Malformed body") } }
        }),
    );
    p.insert(
        "/api/v1/rules/check".into(),
        json!({
            "post": { "operationId": "checkRuleFilter", "summary": "Check a filter expression",
                      "description": format!("{READ} For forms checking as the user types: always 200, with \
                         `valid` false and the position of the bad token when it does not parse."),
                      "tags": ["rules"], "parameters": [], "requestBody": body("FilterCheck"),
                      "responses": { "200": ok("The verdict", "FilterVerdict"), "401": err("Not authenticated"),
                                     "403": err("Not allowed (role), or a cookie-authenticated write without X-CSRF-Token"),
                                     "422": err("Malformed body") } }
        }),
    );
    p.insert(
        "/api/v1/rules/{name}".into(),
        json!({
            "get": { "operationId": "getRule", "summary": "One forwarding rule with its counters", "description": READ,
                     "tags": ["rules"], "parameters": [name_param()],
                     "responses": { "200": ok("The rule", "Rule"), "401": err("Not authenticated"),
                                    "403": err("Not allowed (role)"), "404": err("No such rule") } },
            "put": { "operationId": "replaceRule", "summary": "Replace a forwarding rule (a new name renames it)",
                     "description": CHANGE, "tags": ["rules"], "parameters": [name_param()],
                     "requestBody": body("RuleInput"),
                     "responses": { "200": ok("Replaced", "Rule"), "400": invalid_rule(),
                                    "401": err("Not authenticated"),
                                    "403": err("Not allowed (role or scope), or a cookie-authenticated write without X-CSRF-Token"),
                                    "404": err("No such rule"), "409": err("The new name is taken"),
                                    "422": err("Malformed body") } },
            "patch": { "operationId": "setRuleEnabled", "summary": "Enable or disable a forwarding rule",
                       "description": CHANGE, "tags": ["rules"], "parameters": [name_param()],
                       "requestBody": body("RuleEnabled"),
                       "responses": { "200": ok("Changed", "Rule"), "401": err("Not authenticated"),
                                      "403": err("Not allowed (role or scope), or a cookie-authenticated write without X-CSRF-Token"),
                                      "404": err("No such rule"), "422": err("Malformed body") } },
            "delete": { "operationId": "deleteRule", "summary": "Delete a forwarding rule", "description": CHANGE,
                        "tags": ["rules"], "parameters": [name_param()],
                        "responses": { "204": { "description": "Deleted" }, "401": err("Not authenticated"),
                                       "403": err("Not allowed (role or scope), or a cookie-authenticated write without X-CSRF-Token"),
                                       "404": err("No such rule") } }
        }),
    );
    p.insert(
        "/api/v1/exporters/{addr}/name".into(),
        json!({
            "put": { "operationId": "setExporterName", "summary": "Set an exporter's display name and notes",
                     "description": "Operator role or higher, for exporters inside the caller's device scope. \
                        A blank or absent display_name clears it. Written to the audit log.",
                     "tags": ["exporters"],
                     "parameters": [{ "name": "addr", "in": "path", "required": true,
                                      "description": "Exporter address (IPv4 or IPv6)",
                                      "schema": { "type": "string", "minLength": 1 } }],
                     "requestBody": body("ExporterNameInput"),
                     "responses": { "200": ok("Set", "ExporterName"), "400": err("Name or notes too long"),
                                    "401": err("Not authenticated"),
                                    "403": err("Not allowed (role), or a cookie-authenticated write without X-CSRF-Token"),
                                    "404": err("No such exporter (or outside the caller's device scope)"),
                                    "422": err("Malformed body") } }
        }),
    );
    p
}

/// The schemas those paths name.
pub fn schemas() -> Map<String, Value> {
    let counters = json!({ "type": "object", "additionalProperties": { "type": "integer", "format": "int64" },
        "description": "Counter name (matched, sent, dropped_<reason>, up...) to value" });
    let v = json!({
        "RuleInput": {
            "type": "object", "additionalProperties": false,
            "required": ["name", "filter", "action"],
            "properties": {
                "name": { "type": "string", "minLength": 1, "maxLength": super::rules::MAX_NAME },
                "filter": { "type": "string", "description": "Filter expression (docs/filter.md)" },
                "action": { "type": "string", "enum": ["raw", "transparent", "reencode", "drop"] },
                "destination": { "type": "string", "nullable": true, "description": "host:port ([v6]:port); required except for drop" },
                "protocol": { "type": "string", "nullable": true, "enum": ["netflow_v9", "ipfix", null], "description": "For reencode" },
                "position": { "type": "integer", "format": "int32", "default": 0, "description": "Evaluation order" },
                "enabled": { "type": "boolean", "default": true }
            }
        },
        "Rule": {
            "type": "object",
            "required": ["name", "filter", "action", "destination", "protocol", "transparent", "position", "enabled",
                         "counters", "destinations"],
            "properties": {
                "name": { "type": "string" }, "filter": { "type": "string" },
                "action": { "type": "string", "enum": ["raw", "reencode", "drop"] },
                "destination": { "type": "string", "nullable": true },
                "protocol": { "type": "string", "nullable": true },
                "transparent": { "type": "boolean" },
                "position": { "type": "integer", "format": "int32" },
                "enabled": { "type": "boolean" },
                "counters": counters,
                "destinations": { "type": "object", "additionalProperties": counters,
                                  "description": "Counters per destination (host:port)" }
            }
        },
        "RuleList": { "type": "object", "required": ["rules"],
                      "properties": { "rules": { "type": "array", "items": { "$ref": "#/components/schemas/Rule" } } } },
        "RuleEnabled": { "type": "object", "additionalProperties": false, "required": ["enabled"],
                         "properties": { "enabled": { "type": "boolean" } } },
        "RuleError": {
            "type": "object", "required": ["error", "status", "field"],
            "properties": {
                "error": { "type": "string" }, "status": { "type": "integer" },
                "field": { "type": "string", "enum": ["name", "filter", "destination", "action", "protocol"] },
                "position": { "type": "integer", "nullable": true, "minimum": 0 },
                "token": { "type": "string", "nullable": true }
            }
        },
        "FilterCheck": { "type": "object", "additionalProperties": false, "required": ["filter"],
                         "properties": { "filter": { "type": "string" } } },
        "FilterVerdict": {
            "type": "object", "required": ["valid"],
            "properties": { "valid": { "type": "boolean" }, "error": { "type": "string" },
                            "position": { "type": "integer", "minimum": 0 }, "token": { "type": "string" } }
        },
        "ExporterNameInput": {
            "type": "object", "additionalProperties": false,
            "properties": {
                "display_name": { "type": "string", "nullable": true, "maxLength": super::exporter_names::MAX_NAME },
                "notes": { "type": "string", "nullable": true, "maxLength": super::exporter_names::MAX_NOTES }
            }
        },
        "ExporterName": {
            "type": "object", "required": ["exporter", "display_name", "notes"],
            "properties": { "exporter": { "type": "string" },
                            "display_name": { "type": "string", "nullable": true },
                            "notes": { "type": "string" } }
        }
    });
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}
