//! The OpenAPI description of the archive endpoints ([`super::archive`]), merged into
//! the document by [`crate::openapi::document`].

use serde_json::{json, Map, Value};

fn err(desc: &str) -> Value {
    json!({ "description": desc, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } })
}

fn ok(desc: &str, schema: &str) -> Value {
    json!({ "description": desc, "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{schema}") } } } })
}

const WHO: &str = "Admin role.";

/// The paths (`/api/v1/archive...`).
pub fn paths() -> Map<String, Value> {
    let mut p = Map::new();
    p.insert(
        "/api/v1/archive".into(),
        json!({
            "get": { "operationId": "getArchive", "summary": "The flow archive: partitions, store, retention, restores",
                     "description": format!("{WHO} The catalog the collector keeps (docs/archive.md); the store's \
                        configuration as the collector read it (never the secret)."),
                     "tags": ["archive"], "parameters": [],
                     "responses": { "200": ok("The archive", "ArchiveOverview"), "401": err("Not authenticated"),
                                    "403": err("Not allowed (role)") } }
        }),
    );
    p.insert(
        "/api/v1/archive/restores".into(),
        json!({
            "post": { "operationId": "createRestore", "summary": "Restore archived flows of a time range",
                      "description": format!("{WHO} Loads the archived rows received in [from, to) into \
                         flows_restored, where flow search and statistics find them (marked restored). At most \
                         {} days. Audited.", super::archive::MAX_RESTORE_DAYS),
                      "tags": ["archive"], "parameters": [],
                      "requestBody": { "required": true, "content": { "application/json": { "schema": {
                          "$ref": "#/components/schemas/RestoreInput" } } } },
                      "responses": { "201": ok("Restored", "RestoreResult"), "400": err("Bad range"),
                                     "401": err("Not authenticated"),
                                     "403": err("Not allowed (role), or a cookie-authenticated write without X-CSRF-Token"),
                                     "409": err("The archive is not configured here, or the restore failed (reason given)"),
                                     "422": err("Malformed body") } }
        }),
    );
    p.insert(
        "/api/v1/archive/restores/{id}".into(),
        json!({
            "delete": { "operationId": "deleteRestore", "summary": "Remove a restore's rows",
                        "description": format!("{WHO} Audited."), "tags": ["archive"],
                        "parameters": [{ "name": "id", "in": "path", "required": true, "description": "Restore id",
                                         "schema": { "type": "integer", "format": "int64" } }],
                        "responses": { "200": ok("Removed", "RestoreRemoved"), "401": err("Not authenticated"),
                                       "403": err("Not allowed (role), or a cookie-authenticated write without X-CSRF-Token"),
                                       "404": err("No such restore"), "422": err("Malformed id") } }
        }),
    );
    p
}

/// The schemas those paths use.
pub fn schemas() -> Map<String, Value> {
    let s = |t: &str| json!({ "type": t });
    let ns = |t: &str| json!({ "type": t, "nullable": true });
    let mut m = Map::new();
    m.insert(
        "ArchivePartition".into(),
        json!({ "type": "object", "required": ["partition", "range_start", "range_end", "status", "attempts"],
                "properties": { "partition": s("string"), "range_start": s("string"), "range_end": s("string"),
                    "status": { "type": "string", "enum": ["pending", "archived", "failed", "stale"] },
                    "rows": ns("integer"), "bytes": ns("integer"), "attempts": s("integer"),
                    "last_error": ns("string"), "last_attempt": ns("string"), "next_attempt": ns("string"),
                    "archived_at": ns("string") } }),
    );
    m.insert(
        "ArchiveRestore".into(),
        json!({ "type": "object", "required": ["id", "from", "to", "status", "objects", "rows", "requested_by", "created_at"],
                "properties": { "id": s("integer"), "from": s("string"), "to": s("string"),
                    "status": { "type": "string", "enum": ["running", "done", "failed", "removed"] },
                    "objects": s("integer"), "rows": s("integer"), "error": ns("string"),
                    "requested_by": s("string"), "created_at": s("string") } }),
    );
    m.insert(
        "ArchiveOverview".into(),
        json!({ "type": "object", "required": ["enabled", "summary", "retention", "partitions", "restores"],
                "properties": {
                    "enabled": s("boolean"),
                    "store": { "type": "object", "nullable": true,
                        "required": ["endpoint", "bucket", "secure", "region", "access_key_id", "prefix", "host", "updated_at"],
                        "properties": { "endpoint": s("string"), "bucket": s("string"), "secure": s("boolean"),
                            "region": s("string"), "access_key_id": s("string"), "prefix": s("string"),
                            "host": s("string"), "updated_at": s("string") } },
                    "summary": { "type": "object", "properties": { "archived": s("integer"), "pending": s("integer"),
                        "failed": s("integer"), "stale": s("integer"), "rows": s("integer"), "bytes": s("integer") } },
                    "retention": { "type": "object", "properties": { "retention_days": s("integer"),
                        "blocked_partitions": s("integer"), "blocked_bytes": s("integer"), "oldest_blocked": ns("string"),
                        "daily_growth_bytes": s("integer"), "disk_free_bytes": ns("integer"),
                        "days_until_full": ns("number"), "warning": ns("string") } },
                    "partitions": { "type": "array", "items": { "$ref": "#/components/schemas/ArchivePartition" } },
                    "restores": { "type": "array", "items": { "$ref": "#/components/schemas/ArchiveRestore" } } } }),
    );
    m.insert(
        "RestoreInput".into(),
        json!({ "type": "object", "required": ["from", "to"], "additionalProperties": false,
                "properties": { "from": { "type": "string", "description": "RFC 3339 time or date" },
                                "to": { "type": "string", "description": "RFC 3339 time or date (exclusive)" } } }),
    );
    m.insert(
        "RestoreResult".into(),
        json!({ "type": "object", "required": ["id", "objects", "rows"],
                "properties": { "id": s("integer"), "objects": s("integer"), "rows": s("integer") } }),
    );
    m.insert(
        "RestoreRemoved".into(),
        json!({ "type": "object", "required": ["id", "removed_rows"],
                "properties": { "id": s("integer"), "removed_rows": s("integer") } }),
    );
    m
}
