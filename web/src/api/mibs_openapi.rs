//! The OpenAPI description of the MIB endpoints ([`super::mibs`]), merged into the
//! document by [`crate::openapi::document`].

use serde_json::{json, Map, Value};

fn err(desc: &str) -> Value {
    json!({ "description": desc, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } })
}

fn ok(desc: &str, schema: &str) -> Value {
    json!({ "description": desc, "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{schema}") } } } })
}

const BROWSE: &str = "Every role.";
const MANAGE: &str = "Operator role or higher.";

fn name_param() -> Value {
    json!({ "name": "name", "in": "path", "required": true, "description": "Module name (as in its DEFINITIONS line)",
            "schema": { "type": "string", "minLength": 1 }, "example": "IF-MIB" })
}

/// The paths (`/api/v1/mibs...`).
pub fn paths() -> Map<String, Value> {
    let mut p = Map::new();
    p.insert(
        "/api/v1/mibs".into(),
        json!({
            "get": { "operationId": "listMibs", "summary": "MIB modules: loaded (base and uploaded) and quarantined",
                     "description": format!("{BROWSE} Status, revision and diagnostics count of each module."),
                     "tags": ["mibs"], "parameters": [],
                     "responses": { "200": ok("The modules", "MibModuleList"), "401": err("Not authenticated") } },
            "post": { "operationId": "uploadMibs", "summary": "Upload a MIB file, or a .zip/.tar/.tar.gz of many",
                      "description": format!("{MANAGE} The body is the file's bytes; its kind is told by content. \
                        Every module found is resolved with the loaded ones: a module with an error (or that does \
                        not load) is quarantined with its diagnostics and never blocks the others. A stored module is \
                        replaced unless the upload's revision is older (force=true overrides); a quarantined copy never \
                        replaces a working one. Modules in quarantine are retried. Errors carry a `code`: \
                        empty_upload, corrupt_archive, unsafe_path (400); no_module (422); too_many_entries, \
                        file_too_large, archive_too_large, upload_too_large (413); unsupported_archive (415). \
                        At most {} bytes uploaded, 5,000 entries, 16 MiB per file and 256 MiB expanded. Audited.",
                        crate::mibs::MAX_UPLOAD_BYTES),
                      "tags": ["mibs"],
                      "parameters": [
                          { "name": "name", "in": "query", "required": false, "description": "The uploaded file's name (shown with its modules)",
                            "schema": { "type": "string", "maxLength": 1024 } },
                          { "name": "force", "in": "query", "required": false, "description": "Replace even with an older revision",
                            "schema": { "type": "boolean", "default": false } } ],
                      "requestBody": { "required": true, "content": { "application/octet-stream": { "schema": {
                          "type": "string", "format": "binary" } } } },
                      "responses": { "200": ok("What became of each module", "MibUploadReport"),
                                     "400": err("Empty, corrupt, or an entry path that is absolute or climbs with '..'"),
                                     "401": err("Not authenticated"),
                                     "403": err("Not allowed (role), or a cookie-authenticated write without X-CSRF-Token"),
                                     "413": err("Over a size or entry bound"),
                                     "415": err("Encrypted entries or an unsupported compression method"),
                                     "422": err("No MIB module in the upload") } }
        }),
    );
    p.insert(
        "/api/v1/mibs/{name}".into(),
        json!({
            "get": { "operationId": "getMib", "summary": "One module: revision, imports, dependents, diagnostics",
                     "description": BROWSE, "tags": ["mibs"], "parameters": [name_param()],
                     "responses": { "200": ok("The module", "MibModuleDetail"),
                                    "400": err("`search` is the search operation's path, which needs q"),
                                    "401": err("Not authenticated"), "404": err("No such module") } },
            "delete": { "operationId": "deleteMib", "summary": "Delete an uploaded module",
                        "description": format!("{MANAGE} Answers with the loaded modules that named it (now without \
                            it, unless a base module of the same name takes its place). Base modules cannot be \
                            deleted (409, code base_module). Audited."),
                        "tags": ["mibs"], "parameters": [name_param()],
                        "responses": { "200": ok("Deleted", "MibDeleteReport"), "401": err("Not authenticated"),
                                       "403": err("Not allowed (role), or a cookie-authenticated write without X-CSRF-Token"),
                                       "404": err("No such uploaded module"), "409": err("A base module") } }
        }),
    );
    p.insert(
        "/api/v1/mibs/oid/{oid}".into(),
        json!({
            "get": { "operationId": "getMibObject", "summary": "An object of the OID tree, with its children",
                     "description": format!("{BROWSE} By dotted OID (an instance OID such as ifDescr.7's gives the \
                        object and `instance`), MODULE::name, or a name. Children are the nearest named nodes below, \
                        for lazy expansion of the tree."),
                     "tags": ["mibs"],
                     "parameters": [{ "name": "oid", "in": "path", "required": true,
                                      "description": "Dotted OID, MODULE::name or name",
                                      "schema": { "type": "string", "minLength": 1 }, "example": "1.3.6.1.2.1.2.2.1.2" }],
                     "responses": { "200": ok("The object", "MibObject"), "401": err("Not authenticated"),
                                    "404": err("Nothing of that name or OID") } }
        }),
    );
    p.insert(
        "/api/v1/mibs/search".into(),
        json!({
            "get": { "operationId": "searchMibs", "summary": "Search the OID tree by name, OID or description words",
                     "description": format!("{BROWSE} A dotted OID matches its node (or the object an instance OID \
                        belongs to); MODULE::name matches exactly; anything else matches names (exact, prefix, part, \
                        case-insensitive), then descriptions containing every word. Best first."),
                     "tags": ["mibs"],
                     "parameters": [
                        { "name": "q", "in": "query", "required": true, "description": "Name, OID or words",
                          "schema": { "type": "string", "maxLength": 200 } },
                        { "name": "limit", "in": "query", "required": false, "description": "Hits returned",
                          "schema": { "type": "integer", "minimum": 1, "maximum": super::mibs::SEARCH_LIMIT.1,
                                      "default": super::mibs::SEARCH_LIMIT.0 } } ],
                     "responses": { "200": ok("Hits", "MibSearchResult"), "400": err("Missing or invalid parameter"),
                                    "401": err("Not authenticated") } }
        }),
    );
    p
}

/// The schemas those paths use.
pub fn schemas() -> Map<String, Value> {
    let s = |t: &str| json!({ "type": t });
    let ns = |t: &str| json!({ "type": t, "nullable": true });
    let strings = json!({ "type": "array", "items": { "type": "string" } });
    let diag = json!({ "$ref": "#/components/schemas/MibDiagnostic" });
    let node_ref = json!({ "$ref": "#/components/schemas/MibNodeRef" });
    let summary_props = json!({
        "name": s("string"), "source": { "type": "string", "enum": ["uploaded", "base"] },
        "status": { "type": "string", "enum": ["ok", "quarantined"] }, "file": s("string"),
        "revision": ns("string"), "language": ns("string"), "diagnostics": s("integer"), "errors": s("integer"),
        "warnings": s("integer"), "uploaded_by": ns("string"), "uploaded_at": ns("string") });
    let summary_required = json!(["name", "source", "status", "file", "diagnostics", "errors", "warnings"]);
    let mut m = Map::new();
    m.insert(
        "MibDiagnostic".into(),
        json!({ "type": "object", "required": ["file", "severity", "message"],
                "properties": { "file": s("string"), "line": ns("integer"),
                    "severity": { "type": "string", "enum": ["error", "warning", "info"] }, "message": s("string") } }),
    );
    m.insert(
        "MibModule".into(),
        json!({ "type": "object", "required": summary_required, "properties": summary_props }),
    );
    m.insert(
        "MibModuleList".into(),
        json!({ "type": "object", "required": ["modules", "nodes"],
                "properties": { "modules": { "type": "array", "items": { "$ref": "#/components/schemas/MibModule" } },
                                "nodes": s("integer") } }),
    );
    let mut detail_props = summary_props.as_object().cloned().unwrap_or_default();
    detail_props.insert("organization".into(), s("string"));
    detail_props.insert("description".into(), s("string"));
    detail_props.insert("imports".into(), strings.clone());
    detail_props.insert("dependents".into(), strings.clone());
    detail_props.insert("diagnostics_list".into(), json!({ "type": "array", "items": diag }));
    m.insert(
        "MibModuleDetail".into(),
        json!({ "type": "object", "required": ["name", "source", "status", "file", "imports", "dependents", "diagnostics_list"],
                "properties": detail_props }),
    );
    m.insert(
        "MibUploadReport".into(),
        json!({ "type": "object", "required": ["kind", "files", "modules", "notes", "loaded_modules", "nodes"],
                "properties": {
                    "kind": { "type": "string", "enum": ["file", "gzip", "zip", "tar", "tar.gz"] },
                    "files": s("integer"), "loaded_modules": s("integer"), "nodes": s("integer"),
                    "modules": { "type": "array", "items": { "type": "object",
                        "required": ["module", "file", "action", "status", "diagnostics"],
                        "properties": { "module": s("string"), "file": s("string"),
                            "action": { "type": "string", "enum": ["added", "replaced", "unchanged", "older_revision", "kept_previous", "retried"] },
                            "status": { "type": "string", "enum": ["ok", "quarantined"] },
                            "revision": ns("string"), "previous_revision": ns("string"),
                            "diagnostics": { "type": "array", "items": diag } } } },
                    "notes": { "type": "array", "items": { "type": "object", "required": ["file", "reason"],
                        "properties": { "file": s("string"), "reason": s("string") } } } } }),
    );
    m.insert(
        "MibDeleteReport".into(),
        json!({ "type": "object", "required": ["module", "dependents", "base_restored"],
                "properties": { "module": s("string"), "dependents": strings.clone(), "base_restored": s("boolean") } }),
    );
    m.insert(
        "MibNodeRef".into(),
        json!({ "type": "object", "required": ["name", "module", "oid", "kind", "has_children"],
                "properties": { "name": s("string"), "module": s("string"), "oid": s("string"), "kind": s("string"),
                                "has_children": s("boolean") } }),
    );
    m.insert(
        "MibObject".into(),
        json!({ "type": "object",
                "required": ["name", "module", "qualified_name", "oid", "kind", "index", "index_implied_last", "members",
                             "description", "other_names", "children"],
                "properties": {
                    "name": s("string"), "module": s("string"), "qualified_name": s("string"), "oid": s("string"),
                    "kind": s("string"),
                    "syntax": { "type": "object", "nullable": true,
                        "required": ["type_name", "base", "named_values", "ranges"],
                        "properties": { "type_name": s("string"), "textual_convention": ns("string"), "base": s("string"),
                            "display_hint": ns("string"), "ranges": strings.clone(),
                            "named_values": { "type": "array", "items": { "type": "object", "required": ["name", "value"],
                                "properties": { "name": s("string"), "value": s("integer") } } } } },
                    "access": ns("string"), "status": ns("string"), "units": ns("string"), "defval": ns("string"),
                    "index": strings.clone(), "index_implied_last": s("boolean"), "augments": ns("string"),
                    "members": strings.clone(), "description": s("string"), "module_revision": ns("string"),
                    "module_file": ns("string"), "other_names": strings.clone(),
                    "parent": { "allOf": [node_ref.clone()], "nullable": true }, "instance": ns("string"),
                    "children": { "type": "array", "items": node_ref.clone() } } }),
    );
    m.insert(
        "MibSearchResult".into(),
        json!({ "type": "object", "required": ["q", "total", "hits"],
                "properties": { "q": s("string"), "total": s("integer"),
                    "hits": { "type": "array", "items": { "type": "object",
                        "required": ["name", "module", "oid", "kind", "has_children", "qualified_name", "matched", "excerpt"],
                        "properties": { "name": s("string"), "module": s("string"), "oid": s("string"), "kind": s("string"),
                            "has_children": s("boolean"), "qualified_name": s("string"),
                            "matched": { "type": "string", "enum": ["oid", "oid-prefix", "name", "name-prefix", "name-part", "description"] },
                            "excerpt": s("string") } } } } }),
    );
    m
}
