//! The OpenAPI description of the SNMP endpoints ([`super::snmp`]), merged into the
//! document by [`crate::openapi::document`].

use serde_json::{json, Map, Value};

fn err(desc: &str) -> Value {
    json!({ "description": desc, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } })
}

fn ok(desc: &str, schema: &str) -> Value {
    json!({ "description": desc, "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{schema}") } } } })
}

fn addr() -> Value {
    json!({ "name": "addr", "in": "path", "required": true, "description": "Exporter address",
            "schema": { "type": "string" }, "example": "192.0.2.1" })
}

fn group_id() -> Value {
    json!({ "name": "id", "in": "path", "required": true, "description": "Device group id",
            "schema": { "type": "integer", "format": "int64" } })
}

fn body() -> Value {
    json!({ "required": true, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/SnmpCredentialsInput" } } } })
}

const WRITE_403: &str = "Not an admin, or a cookie-authenticated write without X-CSRF-Token";

/// The paths (`/api/v1/exporters/{addr}/snmp...`, `/api/v1/groups/{id}/snmp`).
pub fn paths() -> Map<String, Value> {
    let mut p = Map::new();
    p.insert(
        "/api/v1/exporters/{addr}/snmp".into(),
        json!({
            "get": { "operationId": "getExporterSnmp", "summary": "An exporter's SNMP names and poll state",
                     "description": "Every role, within its device scope. Admins also get `credentials` (never a secret).",
                     "tags": ["snmp"], "parameters": [addr()],
                     "responses": { "200": ok("Names, vendor, product, poll state", "SnmpExporter"),
                                    "401": err("Not authenticated"), "404": err("No such exporter in your scope") } },
            "put": { "operationId": "setExporterSnmp", "summary": "Set an exporter's SNMP credentials",
                     "description": "Admins. v2c: a community; v3: user, auth and priv protocols and passwords (8+ \
                        characters). Secrets are sealed at rest and never returned. Audited without secrets.",
                     "tags": ["snmp"], "parameters": [addr()], "requestBody": body(),
                     "responses": { "200": ok("Stored (without secrets)", "SnmpCredentialsSet"),
                                    "400": err("Invalid credentials"), "401": err("Not authenticated"),
                                    "403": err(WRITE_403), "404": err("Outside your scope"),
                                    "422": err("Not a credentials object"), "503": err("The sealing key is unavailable") } },
            "delete": { "operationId": "deleteExporterSnmp", "summary": "Remove an exporter's own SNMP credentials",
                        "description": "Admins. A device group's default may then apply.",
                        "tags": ["snmp"], "parameters": [addr()],
                        "responses": { "204": { "description": "Removed" }, "401": err("Not authenticated"),
                                       "403": err(WRITE_403), "404": err("None set, or outside your scope") } }
        }),
    );
    p.insert(
        "/api/v1/exporters/{addr}/snmp/poll".into(),
        json!({
            "post": { "operationId": "pollExporterSnmp", "summary": "Poll an exporter's agent now",
                      "description": "Operators and admins, within their scope. Answers with the outcome (also stored and \
                         shown on the exporter).",
                      "tags": ["snmp"], "parameters": [addr()],
                      "responses": { "200": ok("The poll's outcome", "SnmpPollResult"), "401": err("Not authenticated"),
                                     "403": err("Not allowed (role), or a cookie-authenticated write without X-CSRF-Token"),
                                     "404": err("No such exporter in your scope"),
                                     "409": err("A poll of this exporter is running") } }
        }),
    );
    p.insert(
        "/api/v1/groups/{id}/snmp".into(),
        json!({
            "get": { "operationId": "getGroupSnmp", "summary": "A device group's default SNMP credentials (no secrets)",
                     "description": "Admins.", "tags": ["snmp"], "parameters": [group_id()],
                     "responses": { "200": ok("The credentials", "SnmpCredentialsView"), "401": err("Not authenticated"),
                                    "403": err("Not an admin"), "404": err("None set") } },
            "put": { "operationId": "setGroupSnmp", "summary": "Set a device group's default SNMP credentials",
                     "description": "Admins. Applies to the group's exporters without their own; polls each exporter's own \
                        address (no `agent`).",
                     "tags": ["snmp"], "parameters": [group_id()], "requestBody": body(),
                     "responses": { "200": ok("Stored (without secrets)", "SnmpCredentialsSet"),
                                    "400": err("Invalid credentials"), "401": err("Not authenticated"),
                                    "403": err(WRITE_403), "404": err("No such group"),
                                    "422": err("Not a credentials object"), "503": err("The sealing key is unavailable") } },
            "delete": { "operationId": "deleteGroupSnmp", "summary": "Remove a device group's default SNMP credentials",
                        "description": "Admins.", "tags": ["snmp"], "parameters": [group_id()],
                        "responses": { "204": { "description": "Removed" }, "401": err("Not authenticated"),
                                       "403": err(WRITE_403), "404": err("None set") } }
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
        "SnmpCredentialsInput".into(),
        json!({ "type": "object", "additionalProperties": false, "required": ["version"],
                "properties": {
                    "version": { "type": "string", "enum": ["2c", "3"] },
                    "community": s("v2c community"), "user": s("v3 user"),
                    "auth_protocol": { "type": "string", "enum": ["MD5", "SHA", "SHA-224", "SHA-256", "SHA-384", "SHA-512"] },
                    "auth_password": s("v3 authentication password (8+ characters)"),
                    "priv_protocol": { "type": "string", "enum": ["DES", "AES-128", "AES-192", "AES-256", "AES-192-C", "AES-256-C"] },
                    "priv_password": s("v3 privacy password (8+ characters)"),
                    "agent": s("Agent address when not the exporter's (exporters only)"),
                    "port": { "type": "integer", "minimum": 1, "maximum": 65535, "default": 161 } } }),
    );
    m.insert(
        "SnmpCredentialsSet".into(),
        json!({ "type": "object", "required": ["version", "port"],
                "properties": { "version": s("2c or 3"), "user": ns("v3 user"), "auth_protocol": ns(""),
                                "priv_protocol": ns(""), "agent": ns(""), "port": { "type": "integer" } } }),
    );
    m.insert(
        "SnmpCredentialsView".into(),
        json!({ "type": "object", "required": ["source", "version", "port", "updated_at", "updated_by"],
                "properties": { "source": { "type": "string", "enum": ["exporter", "group"] }, "group": ns("Group name"),
                                "version": s("2c or 3"), "user": ns("v3 user"), "auth_protocol": ns(""),
                                "priv_protocol": ns(""), "agent": ns(""), "port": { "type": "integer" },
                                "updated_at": s("RFC 3339"), "updated_by": s("User name") } }),
    );
    m.insert(
        "SnmpExporter".into(),
        json!({ "type": "object", "required": ["exporter", "snmp"],
                "properties": { "exporter": s("Address"), "sys_name": ns("sysName"), "sys_descr": ns("sysDescr"),
                                "sys_object_id": ns("sysObjectID"), "vendor": ns("Vendor"), "product": ns("Product (MODULE::name)"),
                                "snmp": { "$ref": "#/components/schemas/SnmpState" },
                                "credentials": { "allOf": [{ "$ref": "#/components/schemas/SnmpCredentialsView" }],
                                                 "nullable": true, "description": "Admins only" },
                                "credentials_unavailable": ns("Admins only: why credentials cannot be sealed or opened") } }),
    );
    m.insert(
        "SnmpPollResult".into(),
        json!({ "type": "object", "required": ["exporter", "status"],
                "properties": { "exporter": s("Address"), "status": { "type": "string", "enum": ["ok", "error"] },
                                "sys_name": ns(""), "sys_descr": ns(""), "sys_object_id": ns(""),
                                "if_x_table": { "type": "boolean" }, "interfaces": { "type": "integer" },
                                "error_kind": s("timeout, authentication, no_such_object, network, protocol, configuration"),
                                "error": s("For people") } }),
    );
    m
}
