//! The OpenAPI 3.0 document of `/api/v1`, written out here (next to nothing is
//! inferred, so it says exactly what the handlers do), served as JSON at
//! `/api_docs/openapi.json` and rendered as a browsable page at `/api_docs`. A test
//! checks that its paths and methods are exactly the mounted API routes.

use crate::auth::Auth;
use crate::pages::layout::page;
use crate::pages::{html, Html};
use maud::html as m;
use rocket::serde::json::Json;
use rocket::{get, routes, Route};
use serde_json::{json, Map, Value};

/// Where the JSON document is served (bearer tokens are accepted there too).
pub const DOCUMENT_PATH: &str = "/api_docs/openapi.json";

/// The documentation routes.
pub fn routes() -> Vec<Route> {
    routes![docs_page, docs_json]
}

fn obj(props: &[(&str, Value)], required: &[&str]) -> Value {
    let mut p = Map::new();
    for (k, v) in props {
        p.insert((*k).to_string(), v.clone());
    }
    // OpenAPI 3.0 requires a non-empty `required` when present.
    if required.is_empty() {
        json!({ "type": "object", "properties": p })
    } else {
        json!({ "type": "object", "properties": p, "required": required })
    }
}
fn string(desc: &str) -> Value {
    json!({ "type": "string", "description": desc })
}
fn int(desc: &str) -> Value {
    json!({ "type": "integer", "format": "int64", "description": desc })
}
fn num(desc: &str) -> Value {
    json!({ "type": "number", "format": "double", "description": desc })
}
fn boolean(desc: &str) -> Value {
    json!({ "type": "boolean", "description": desc })
}
fn nullable(mut v: Value) -> Value {
    if let Some(o) = v.as_object_mut() {
        o.insert("nullable".into(), Value::Bool(true));
    }
    v
}
fn array(items: Value) -> Value {
    json!({ "type": "array", "items": items })
}
fn r(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}
fn pr(name: &str) -> Value {
    json!({ "$ref": format!("#/components/parameters/{name}") })
}
fn query(name: &str, schema: Value, desc: &str) -> Value {
    json!({ "name": name, "in": "query", "required": false, "schema": schema, "description": desc })
}
fn path_param(name: &str, schema: Value, desc: &str) -> Value {
    json!({ "name": name, "in": "path", "required": true, "schema": schema, "description": desc })
}

struct Op {
    summary: &'static str,
    description: &'static str,
    tag: &'static str,
    params: Vec<Value>,
    body: Option<&'static str>,
    ok: (u16, &'static str, Option<Value>),
    errors: &'static [u16],
}

fn error_text(code: u16) -> &'static str {
    match code {
        400 => "Invalid parameter or body",
        401 => "Not authenticated",
        403 => "Not allowed (role), or a cookie-authenticated write without X-CSRF-Token",
        404 => "Not found (or outside the caller's device scope)",
        409 => "Conflicts with existing data",
        422 => "A body that does not fit its schema, or an integer path parameter out of its type's range",
        503 => "The query hit its time limit, or the database is unavailable",
        _ => "Error",
    }
}

fn operation(id: &str, op: Op) -> Value {
    let mut responses = Map::new();
    let (code, desc, schema) = op.ok;
    let ok = match schema {
        Some(Value::String(ct)) if ct == "text/csv" => {
            json!({ "description": desc, "content": { "text/csv": { "schema": { "type": "string" } } },
                    "headers": { "X-FlowVision-Truncated": { "schema": { "type": "boolean" },
                    "description": "true when the export cap cut the result" } } })
        }
        Some(s) => json!({ "description": desc, "content": { "application/json": { "schema": s } } }),
        None => json!({ "description": desc }),
    };
    responses.insert(code.to_string(), ok);
    // Rocket answers 422 when an integer path parameter does not parse (not a number,
    // beyond i64): listed for every operation that has one, whatever `errors` says.
    let int_path = op.params.iter().any(|p| {
        p.get("in").and_then(Value::as_str) == Some("path")
            && p.pointer("/schema/type").and_then(Value::as_str) == Some("integer")
            && p.get("name").and_then(Value::as_str) != Some("ifindex")
    });
    let implied: &[u16] = if int_path { &[422] } else { &[] };
    for e in [401u16].iter().chain(op.errors.iter()).chain(implied.iter()) {
        responses.insert(
            e.to_string(),
            json!({ "description": error_text(*e),
                    "content": { "application/json": { "schema": r("Error") } } }),
        );
    }
    let mut o = json!({
        "operationId": id,
        "summary": op.summary,
        "description": op.description,
        "tags": [op.tag],
        "parameters": op.params,
        "responses": responses,
    });
    if let (Some(body), Some(obj)) = (op.body, o.as_object_mut()) {
        obj.insert(
            "requestBody".into(),
            json!({ "required": true, "content": { "application/json": { "schema": r(body) } } }),
        );
    }
    o
}

fn dash_params() -> Vec<Value> {
    vec![pr("range"), pr("from"), pr("to"), pr("exporter")]
}

fn filter_param() -> Value {
    query(
        "filter",
        string("e.g. proto tcp and dst port 443 and src net 10.0.0.0/8 and not exporter 192.0.2.1 (docs/relay.md)"),
        "Filter expression (the relay's language); a bad one is a 400 naming the position of the bad token",
    )
}

fn flow_params() -> Vec<Value> {
    let mut v = vec![
        filter_param(),
        query("from", string("Received at or after (RFC 3339 or Unix ms) [to - 15 min]"), "Start"),
        query("to", string("Received before [now]"), "End"),
        query("src", string("address or prefix"), "Source address within"),
        query("dst", string("address or prefix"), "Destination address within"),
        query("addr", string("address or prefix"), "Either address within"),
        query("src_port", json!({"type": "integer", "minimum": 0, "maximum": 65535}), "Source port"),
        query("dst_port", json!({"type": "integer", "minimum": 0, "maximum": 65535}), "Destination port"),
        query("port", json!({"type": "integer", "minimum": 0, "maximum": 65535}), "Either port"),
        query("proto", string("number 0-255 or tcp, udp, icmp, icmpv6, gre, esp, sctp"), "IP protocol"),
        query("exporter", string("address or prefix"), "Exporter within (and within the caller's scope)"),
        query("in_if", json!({"type": "integer", "minimum": 0}), "Input ifIndex"),
        query("out_if", json!({"type": "integer", "minimum": 0}), "Output ifIndex"),
        query("interface", json!({"type": "integer", "minimum": 0}), "Either ifIndex"),
    ];
    v.push(query("page", json!({"type": "integer", "minimum": 1, "default": 1}), "Page, from 1"));
    v.push(query(
        "page_size",
        json!({"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}),
        "Rows per page",
    ));
    v
}

fn schemas() -> Value {
    let top_item = obj(
        &[
            ("key", string("Machine-readable key: address, proto/port, proto, AS, or src>dst AS")),
            ("label", string("Human label")),
            ("flows", int("Flow records")),
            ("bytes", int("Bytes, sampling-corrected")),
            ("packets", int("Packets, sampling-corrected")),
            ("bps", num("Average bits/s over the window")),
            ("share", num("Share of the window's bytes, 0..1")),
        ],
        &["key", "label", "flows", "bytes", "packets", "bps", "share"],
    );
    let window_props = |extra: Vec<(&'static str, Value)>| {
        let mut v = vec![
            ("from", string("Window start (RFC 3339, aligned to the resolution)")),
            ("to", string("Window end (RFC 3339)")),
            ("resolution", json!({"type": "string", "enum": ["1m", "1h"], "description": "Rollups read"})),
        ];
        v.extend(extra);
        v
    };
    let series_props = window_props(vec![
        ("step_seconds", int("Seconds per point")),
        ("total_bytes", int("Bytes in the window, sampling-corrected")),
        ("total_packets", int("Packets in the window, sampling-corrected")),
        ("total_flows", int("Flow records in the window")),
        ("points", array(r("SeriesPoint"))),
    ]);
    let exporter_rates = obj(
        &[
            ("bps", num("Bits/s")),
            ("pps", num("Packets/s")),
            ("flows_per_s", num("Flows stored per second")),
            ("datagrams_per_s", num("Datagrams per second")),
            ("decode_errors", int("Undecodable datagrams in the period")),
            ("sequence_lost", int("Upstream loss in the period")),
            ("templates", int("Templates received in the period")),
        ],
        &["bps", "pps", "flows_per_s", "datagrams_per_s", "decode_errors", "sequence_lost", "templates"],
    );
    let exporter = obj(
        &[
            ("exporter", string("Address")),
            ("status", json!({"type": "string", "enum": ["up", "stale", "down"]})),
            ("first_seen", string("RFC 3339")),
            ("last_seen", string("RFC 3339")),
            ("last_flow", nullable(string("RFC 3339"))),
            ("protocol", nullable(string("netflow_v5, netflow_v9, ipfix, sflow_v5"))),
            ("sampling_rate", nullable(int("Latest sampling rate"))),
            ("flows", int("Cumulative flows stored")),
            ("bytes", int("Cumulative bytes as exported")),
            ("datagrams", int("Cumulative datagrams")),
            ("decode_errors", int("Cumulative undecodable datagrams")),
            ("sequence_lost", int("Cumulative upstream loss")),
            ("templates", int("Cumulative templates received")),
            ("active_templates", int("Templates known now")),
            ("display_name", nullable(string("Name set in the console"))),
            ("notes", string("Notes set in the console (empty when none)")),
            ("rates", r("ExporterRates")),
            ("rate_seconds", int("Seconds the rates average over")),
            ("sys_name", nullable(string("sysName (SNMP)"))),
            ("sys_descr", nullable(string("sysDescr (SNMP)"))),
            ("sys_object_id", nullable(string("sysObjectID, dotted (SNMP)"))),
            ("vendor", nullable(string("From the sysObjectID: IANA enterprise registry, else MIB names"))),
            ("product", nullable(string("MIB name of the sysObjectID (a product MIB's), MODULE::name"))),
            ("snmp", r("SnmpState")),
        ],
        &["exporter", "status", "first_seen", "last_seen", "flows", "rates", "rate_seconds"],
    );
    let flow_row = obj(
        &[
            ("time_received", string("RFC 3339")),
            ("exporter", string("Address")),
            ("protocol", string("Export protocol")),
            ("src_addr", nullable(string("Address"))),
            ("dst_addr", nullable(string("Address"))),
            ("src_port", int("")),
            ("dst_port", int("")),
            ("proto", int("IP protocol")),
            ("tcp_flags", int("")),
            ("tos", int("")),
            ("bytes", int("As exported")),
            ("packets", int("As exported")),
            ("sampling_rate", int("")),
            ("bytes_scaled", int("bytes x sampling rate")),
            ("packets_scaled", int("packets x sampling rate")),
            ("in_if", int("")),
            ("out_if", int("")),
            ("src_as", int("")),
            ("dst_as", int("")),
            ("next_hop", nullable(string("Address"))),
            ("vlan", int("")),
            ("flow_start", nullable(string("RFC 3339"))),
            ("flow_end", nullable(string("RFC 3339"))),
            ("restored", boolean("Restored from the archive, not a live row")),
            ("exporter_name", nullable(string("Display name, else sysName"))),
            ("in_if_name", nullable(string("Input interface: ifName (ifAlias), else ifDescr (SNMP)"))),
            ("out_if_name", nullable(string("Output interface, likewise"))),
        ],
        &["time_received", "exporter", "protocol", "bytes", "packets", "sampling_rate"],
    );
    let user = obj(
        &[
            ("id", int("")),
            ("username", string("")),
            ("role", r("Role")),
            ("all_exporters", boolean("Sees every exporter")),
            ("disabled", boolean("")),
            ("must_change_password", boolean("")),
            ("created_at", string("RFC 3339")),
            ("last_login", nullable(string("RFC 3339"))),
            ("prefixes", array(string("Exporter prefix"))),
            ("groups", array(obj(&[("id", int("")), ("name", string(""))], &["id", "name"]))),
            ("locked", boolean("Locked out by failed logins now")),
            ("sessions", int("Live sessions")),
        ],
        &["id", "username", "role", "all_exporters", "disabled", "prefixes", "groups"],
    );
    // Beyond the json! macro's recursion limit, added after it.
    let pattern_point = obj(
        &[
            ("t", int("Slot start, Unix ms")),
            ("bps", num("Average bits/s in the slot")),
            ("usual_bps", nullable(num("Median of the same slot on the previous days"))),
            ("low_bps", nullable(num("Lower edge of the usual band"))),
            ("high_bps", nullable(num("Upper edge of the usual band"))),
        ],
        &["t", "bps"],
    );
    let pattern = obj(
        &[
            ("exporter", string("")),
            (
                "interface",
                nullable(int("The interface (ifIndex; in plus out), null for the exporter's total")),
            ),
            ("step_seconds", int("Slot length (300)")),
            ("days", int("Previous days the bands are built from, at most")),
            ("points", array(r("PatternPoint"))),
        ],
        &["exporter", "step_seconds", "days", "points"],
    );
    let mut all = json!({
        "Error": obj(&[("error", string("What went wrong")), ("status", int("HTTP status")),
                        ("code", string("Machine-readable cause, where the operation documents codes"))], &["error"]),
        "Role": { "type": "string", "enum": ["viewer", "analyst", "operator", "admin"] },
        "SeriesPoint": obj(&[("t", int("Bucket start, Unix ms")), ("bps", num("Bits/s")), ("pps", num("Packets/s")),
                              ("fps", num("Flows/s"))], &["t", "bps", "pps", "fps"]),
        "Series": obj(&series_props, &["from", "to", "resolution", "step_seconds", "points"]),
        "IfPoint": obj(&[("t", int("Bucket start, Unix ms")), ("in_bps", num("")), ("out_bps", num("")),
                          ("in_pps", num("")), ("out_pps", num(""))], &["t", "in_bps", "out_bps", "in_pps", "out_pps"]),
        "IfSeries": obj(&window_props(vec![("exporter", string("")), ("ifindex", int("")),
                         ("label", string("ifName (ifAlias), else ifDescr, else the index")),
                         ("name", nullable(string("ifName (SNMP)"))), ("alias", nullable(string("ifAlias"))),
                         ("descr", nullable(string("ifDescr"))), ("speed_bps", nullable(int("Speed, bit/s"))),
                         ("oper_status", nullable(string("ifOperStatus"))),
                         ("step_seconds", int("")), ("points", array(r("IfPoint")))]),
                        &["exporter", "ifindex", "points"]),
        "TopItem": top_item,
        "TopList": obj(&window_props(vec![("kind", string("talkers, services, protocols, as")),
                         ("side", string("src, dst, pair or empty")), ("total_bytes", int("Bytes of the whole window")),
                         ("items", array(r("TopItem")))]), &["kind", "total_bytes", "items"]),
        "ExporterRates": exporter_rates,
        "SnmpState": obj(&[("status", json!({"type": "string", "enum": ["ok", "error", "polling", "never", "unconfigured"]})),
                           ("last_poll", nullable(string("RFC 3339"))), ("last_success", nullable(string("RFC 3339"))),
                           ("last_error", nullable(string("Cause of the last failure, for people"))),
                           ("error_kind", nullable(string("timeout, authentication, no_such_object, network, protocol, configuration"))),
                           ("interfaces", int("Interfaces known")), ("if_x_table", nullable(boolean("false: names from ifDescr"))),
                           ("poll_ms", nullable(int("Duration of the last poll")))], &["status", "interfaces"]),
        "Exporter": exporter,
        "ExporterList": obj(&[("exporters", array(r("Exporter")))], &["exporters"]),
        "InterfaceRow": obj(&[("ifindex", int("")), ("in_bps", num("")), ("out_bps", num("")), ("in_bytes", int("")),
                              ("out_bytes", int("")), ("in_packets", int("")), ("out_packets", int("")),
                              ("name", nullable(string("ifName (SNMP)"))), ("alias", nullable(string("ifAlias"))),
                              ("descr", nullable(string("ifDescr"))), ("speed_bps", nullable(int("ifHighSpeed x 10^6, else ifSpeed"))),
                              ("oper_status", nullable(string("ifOperStatus"))),
                              ("label", string("ifName (ifAlias), else ifDescr, else the index")),
                              ("in_util_pct", nullable(num("% of speed"))), ("out_util_pct", nullable(num("% of speed")))],
                            &["ifindex", "in_bps", "out_bps", "label"]),
        "InterfaceList": obj(&window_props(vec![("exporter", string("")), ("interfaces", array(r("InterfaceRow")))]),
                             &["exporter", "interfaces"]),
        "FlowRow": flow_row,
        "FlowPage": obj(&[("from", string("")), ("to", string("")), ("page", int("")), ("page_size", int("")),
                          ("has_more", boolean("")), ("max_rows", int("Rows a search may page through")),
                          ("rows", array(r("FlowRow")))], &["page", "page_size", "has_more", "rows"]),
        "Counter": obj(&[("name", string("")), ("value", int("")), ("rate_per_s", nullable(num("")))], &["name", "value"]),
        "CollectorInstance": obj(&[("instance", int("")), ("host", string("")), ("started_at", string("")),
                                   ("time", string("Latest snapshot")), ("live", boolean("Reported in the last 2 minutes")),
                                   ("counters", array(r("Counter")))], &["instance", "host", "counters"]),
        "CollectorStats": obj(&[("instances", array(r("CollectorInstance")))], &["instances"]),
        "Me": obj(&[("id", int("")), ("username", string("")), ("role", r("Role")),
                    ("must_change_password", boolean("")),
                    ("scope", obj(&[("all", boolean("")), ("prefixes", array(string("")))], &["all", "prefixes"])),
                    ("permissions", array(string("dashboards, flows, collector_stats, users, audit, mibs, mib_uploads..."))),
                    ("auth", json!({"type": "string", "enum": ["session", "token"]}))],
                  &["id", "username", "role", "scope", "permissions"]),
        "PasswordChange": obj(&[("current_password", string("")), ("new_password", string("At least 12 characters"))],
                              &["current_password", "new_password"]),
        "Token": obj(&[("id", int("")), ("name", string("")), ("prefix", string("First characters")),
                       ("created_at", string("")), ("expires_at", nullable(string(""))),
                       ("last_used_at", nullable(string(""))), ("revoked_at", nullable(string("")))],
                     &["id", "name", "prefix", "created_at"]),
        "TokenList": obj(&[("tokens", array(r("Token")))], &["tokens"]),
        "TokenCreate": obj(&[("name", string("1-64 characters")),
                             ("expires_days", json!({"type": "integer", "minimum": 0, "maximum": 3650,
                                                     "description": "0 or absent: never"}))], &["name"]),
        "TokenCreated": obj(&[("id", int("")), ("name", string("")), ("token", string("The token: shown once"))],
                            &["id", "name", "token"]),
        "User": user,
        "UserList": obj(&[("users", array(r("User")))], &["users"]),
        "UserCreate": obj(&[("username", string("1-64 of A-Z a-z 0-9 . _ @ -")), ("role", r("Role")),
                            ("all_exporters", boolean("")), ("prefixes", array(string("Exporter prefix"))),
                            ("groups", array(int("Device group id"))),
                            ("password", nullable(string("Initial password; absent: a one-time password is generated")))],
                          &["username", "role"]),
        "UserCreated": obj(&[("id", int("")), ("one_time_password", nullable(string("Generated password, shown once")))],
                           &["id"]),
        "UserPatch": obj(&[("role", r("Role")), ("all_exporters", boolean("")), ("disabled", boolean("")),
                           ("prefixes", array(string(""))), ("groups", array(int("")))], &[]),
        "OneTimePassword": obj(&[("one_time_password", string("Shown once"))], &["one_time_password"]),
        "SessionsEnded": obj(&[("sessions_ended", int(""))], &["sessions_ended"]),
        "Group": obj(&[("id", int("")), ("name", string("")), ("description", string("")),
                       ("prefixes", array(string(""))), ("users", int("Users granted it"))], &["id", "name", "prefixes"]),
        "GroupList": obj(&[("groups", array(r("Group")))], &["groups"]),
        "GroupBody": obj(&[("name", string("")), ("description", string("")), ("prefixes", array(string("")))], &["name"]),
        "Created": obj(&[("id", int(""))], &["id"]),
        "AuditEntry": obj(&[("id", int("")), ("time", string("")), ("actor", string("")), ("action", string("")),
                            ("target", string("")), ("success", boolean("")), ("source_ip", nullable(string(""))),
                            ("details", json!({"type": "object"}))], &["id", "time", "actor", "action", "success"]),
        "AuditList": obj(&[("entries", array(r("AuditEntry")))], &["entries"]),
        "StatRow": obj(&[("key", string("Value of the key (address, prefix, number; `EXPORTER if N` for interfaces)")),
                         ("flows", int("Flow records")), ("bytes", int("Bytes as exported (nfdump's figure)")),
                         ("packets", int("Packets as exported")), ("bytes_scaled", int("Bytes times the sampling rate")),
                         ("packets_scaled", int("Packets times the sampling rate"))],
                       &["key", "flows", "bytes", "packets", "bytes_scaled", "packets_scaled"]),
        "FlowStats": obj(&[("from", string("")), ("to", string("")), ("key", string("")), ("order", string("")),
                           ("limit", int("")), ("distinct", int("Values of the key among the matching flows")),
                           ("total", r("StatRow")), ("rows", array(r("StatRow")))],
                         &["from", "to", "key", "order", "limit", "distinct", "total", "rows"]),
    });
    if let Some(m) = all.as_object_mut() {
        m.insert("PatternPoint".into(), pattern_point);
        m.insert("Pattern".into(), pattern);
    }
    all
}

/// The OpenAPI document.
pub fn document() -> Value {
    let addr = path_param(
        "addr",
        json!({"type": "string", "minLength": 1, "description": "Exporter address"}),
        "Exporter address (IPv4 or IPv6); 404 when not an address",
    );
    let ifindex = path_param(
        "ifindex",
        json!({"type": "integer", "format": "int64", "minimum": 0, "maximum": 4_294_967_295_u32}),
        "Interface ifIndex; 404 when out of range",
    );
    let id = path_param("id", json!({"type": "integer", "format": "int64"}), "Id");
    let dash =
        "Within the caller's device scope; reads the 1-minute rollups for windows up to 6 hours and the \
                1-hour rollups beyond.";
    let mut paths = Map::new();
    let mut add = |path: &str, method: &str, opid: &str, op: Op| {
        let entry = paths.entry(path.to_string()).or_insert_with(|| json!({}));
        if let Some(o) = entry.as_object_mut() {
            o.insert(method.into(), operation(opid, op));
        }
    };
    let top = |what: &'static str, side: Option<Value>| {
        let mut p = dash_params();
        p.push(pr("limit"));
        if let Some(s) = side {
            p.push(s);
        }
        Op {
            summary: what,
            description:
                "Ranked by sampling-corrected bytes. Rows the collector folded into 'other' count in \
                          total_bytes but are not listed.",
            tag: "dashboards",
            params: p,
            body: None,
            ok: (200, "The table", Some(r("TopList"))),
            errors: &[400, 403, 503],
        }
    };
    add(
        "/api/v1/me",
        "get",
        "getMe",
        Op {
            summary: "The caller: role, device scope, permissions",
            description: "Also answers for a user who must still change a one-time password.",
            tag: "account",
            params: vec![],
            body: None,
            ok: (200, "The caller", Some(r("Me"))),
            errors: &[],
        },
    );
    add(
        "/api/v1/me/password",
        "post",
        "changePassword",
        Op {
            summary: "Change the caller's password",
            description:
                "Session callers only (send X-CSRF-Token). Ends every session of the user, this one included.",
            tag: "account",
            params: vec![],
            body: Some("PasswordChange"),
            ok: (204, "Changed", None),
            errors: &[400, 403, 422],
        },
    );
    add(
        "/api/v1/traffic",
        "get",
        "getTraffic",
        Op {
            summary: "Traffic over time (bits/s, packets/s, flows/s)",
            description: dash,
            tag: "dashboards",
            params: dash_params(),
            body: None,
            ok: (200, "The series, zero-filled", Some(r("Series"))),
            errors: &[400, 403, 503],
        },
    );
    add(
        "/api/v1/top/talkers",
        "get",
        "getTopTalkers",
        top("Top talkers (source or destination addresses)", Some(pr("talkerSide"))),
    );
    add(
        "/api/v1/top/services",
        "get",
        "getTopServices",
        top("Top services (protocol and service port)", None),
    );
    add("/api/v1/top/protocols", "get", "getTopProtocols", top("Top IP protocols", None));
    add("/api/v1/top/as", "get", "getTopAs", top("Top autonomous systems", Some(pr("asSide"))));
    add(
        "/api/v1/exporters",
        "get",
        "listExporters",
        Op {
            summary: "Exporters and their health",
            description: "Within the caller's device scope. Rates over the last 5 complete minutes.",
            tag: "exporters",
            params: vec![],
            body: None,
            ok: (200, "The exporters", Some(r("ExporterList"))),
            errors: &[403],
        },
    );
    add(
        "/api/v1/exporters/{addr}",
        "get",
        "getExporter",
        Op {
            summary: "One exporter and its health",
            description: "404 when unknown or outside the caller's scope.",
            tag: "exporters",
            params: vec![addr.clone()],
            body: None,
            ok: (200, "The exporter", Some(r("Exporter"))),
            errors: &[403, 404],
        },
    );
    let mut ip = vec![addr.clone()];
    ip.extend(dash_params());
    ip.push(pr("limit"));
    add(
        "/api/v1/exporters/{addr}/interfaces",
        "get",
        "listInterfaces",
        Op {
            summary: "Interfaces of an exporter with their traffic",
            description: dash,
            tag: "exporters",
            params: ip,
            body: None,
            ok: (200, "The interfaces", Some(r("InterfaceList"))),
            errors: &[400, 403, 404, 503],
        },
    );
    add(
        "/api/v1/exporters/{addr}/pattern",
        "get",
        "getExporterPattern",
        Op {
            summary: "The last 24 hours of an exporter against its usual band",
            description: "5-minute slots; each slot's band is the same slot on the previous days (median and robust \
                          spread, at least 3 days; INSIGHT_THRESHOLDS' traffic_* settings), the band traffic_anomaly \
                          insights report leaving. 404 for an exporter outside the caller's scope.",
            tag: "exporters",
            params: vec![addr.clone()],
            body: None,
            ok: (200, "The pattern", Some(r("Pattern"))),
            errors: &[400, 403, 404, 503],
        },
    );
    add(
        "/api/v1/exporters/{addr}/interfaces/{ifindex}/pattern",
        "get",
        "getInterfacePattern",
        Op {
            summary: "The last 24 hours of an interface against its usual band",
            description: "As the exporter's pattern, for the interface's bytes in plus out (the volume an interface's \
                          traffic_anomaly insight compares). 404 for an exporter outside the caller's scope or \
                          ifIndex 0.",
            tag: "exporters",
            params: vec![addr.clone(), ifindex.clone()],
            body: None,
            ok: (200, "The pattern", Some(r("Pattern"))),
            errors: &[400, 403, 404, 503],
        },
    );
    let mut itp = vec![addr, ifindex];
    itp.extend(dash_params());
    add(
        "/api/v1/exporters/{addr}/interfaces/{ifindex}/traffic",
        "get",
        "getInterfaceTraffic",
        Op {
            summary: "Traffic in and out of one interface over time",
            description: dash,
            tag: "exporters",
            params: itp,
            body: None,
            ok: (200, "The series", Some(r("IfSeries"))),
            errors: &[400, 403, 404, 503],
        },
    );
    add(
        "/api/v1/flows",
        "get",
        "searchFlows",
        Op {
            summary: "Search raw flow records",
            description:
                "Analyst role or higher. Newest first, within the caller's scope; at most 7 days; pages \
                      through at most WEB_SEARCH_MAX_ROWS rows; stops at WEB_SEARCH_TIMEOUT_MS (503).",
            tag: "flows",
            params: flow_params(),
            body: None,
            ok: (200, "A page", Some(r("FlowPage"))),
            errors: &[400, 403, 503],
        },
    );
    let mut ep = flow_params();
    ep.retain(|p| p.get("name").and_then(Value::as_str).is_some_and(|n| n != "page" && n != "page_size"));
    add("/api/v1/flows/export", "get", "exportFlows", Op {
        summary: "Export a flow search as CSV",
        description: "Same filters as /api/v1/flows, at most WEB_EXPORT_MAX_ROWS rows (header X-FlowVision-Truncated).",
        tag: "flows", params: ep, body: None, ok: (200, "CSV, one row per flow", Some(json!("text/csv"))),
        errors: &[400, 403, 503],
    });
    let stats_params = vec![
        query(
            "key",
            json!({"type": "string", "enum": ["srcip", "dstip", "srcnet", "dstnet", "srcport", "dstport",
              "proto", "srcas", "dstas", "inif", "outif", "exporter", "tos"], "default": "srcip"}),
            "The key (srcnet/dstnet: /24 for IPv4, /64 for IPv6)",
        ),
        query(
            "order",
            json!({"type": "string", "enum": ["flows", "bytes", "packets"], "default": "bytes"}),
            "Rank by (bytes and packets sampling-corrected)",
        ),
        query("limit", json!({"type": "integer", "minimum": 1, "maximum": 1000, "default": 10}), "Top N"),
        query("from", string("Received at or after (RFC 3339 or Unix ms) [to - 1 hour]"), "Start"),
        query("to", string("Received before [now]"), "End"),
        filter_param(),
    ];
    add(
        "/api/v1/stats",
        "get",
        "getFlowStats",
        Op {
            summary: "Top N of a key over raw flows (nfdump -s)",
            description: "Analyst role or higher. Within the caller's scope; at most 7 days; stops at \
                      WEB_SEARCH_TIMEOUT_MS (503).",
            tag: "flows",
            params: stats_params.clone(),
            body: None,
            ok: (200, "The ranking", Some(r("FlowStats"))),
            errors: &[400, 403, 503],
        },
    );
    add(
        "/api/v1/stats/export",
        "get",
        "exportFlowStats",
        Op {
            summary: "Export a statistics query as CSV",
            description: "Same parameters and rows as /api/v1/stats.",
            tag: "flows",
            params: stats_params,
            body: None,
            ok: (200, "CSV, one row per key value", Some(json!("text/csv"))),
            errors: &[400, 403, 503],
        },
    );
    add(
        "/api/v1/collector/stats",
        "get",
        "getCollectorStats",
        Op {
            summary: "Collector statistics",
            description: "Operator role or higher. Appliance-wide counters.",
            tag: "collector",
            params: vec![],
            body: None,
            ok: (200, "Per collector process", Some(r("CollectorStats"))),
            errors: &[403],
        },
    );
    add(
        "/api/v1/tokens",
        "get",
        "listTokens",
        Op {
            summary: "The caller's API tokens",
            description: "Never their values.",
            tag: "account",
            params: vec![],
            body: None,
            ok: (200, "The tokens", Some(r("TokenList"))),
            errors: &[],
        },
    );
    add("/api/v1/tokens", "post", "createToken", Op {
        summary: "Create a personal API token",
        description: "Session callers only (send X-CSRF-Token): a token cannot mint tokens. The value is returned once.",
        tag: "account", params: vec![], body: Some("TokenCreate"), ok: (201, "Created", Some(r("TokenCreated"))),
        errors: &[400, 403, 422],
    });
    add(
        "/api/v1/tokens/{id}",
        "delete",
        "revokeToken",
        Op {
            summary: "Revoke one of the caller's tokens",
            description: "Effective immediately.",
            tag: "account",
            params: vec![id.clone()],
            body: None,
            ok: (204, "Revoked", None),
            errors: &[403, 404],
        },
    );
    let admin = "Admin role.";
    add(
        "/api/v1/users",
        "get",
        "listUsers",
        Op {
            summary: "Users",
            description: admin,
            tag: "admin",
            params: vec![],
            body: None,
            ok: (200, "The users", Some(r("UserList"))),
            errors: &[403],
        },
    );
    add(
        "/api/v1/users",
        "post",
        "createUser",
        Op {
            summary: "Create a user",
            description: "Admin role. The user must change the password at first login.",
            tag: "admin",
            params: vec![],
            body: Some("UserCreate"),
            ok: (201, "Created", Some(r("UserCreated"))),
            errors: &[400, 403, 409, 422],
        },
    );
    add(
        "/api/v1/users/{id}",
        "get",
        "getUser",
        Op {
            summary: "One user",
            description: admin,
            tag: "admin",
            params: vec![id.clone()],
            body: None,
            ok: (200, "The user", Some(r("User"))),
            errors: &[403, 404],
        },
    );
    add(
        "/api/v1/users/{id}",
        "patch",
        "updateUser",
        Op {
            summary: "Change a user's role, scope or state",
            description:
                "Admin role. Absent fields are kept; the last enabled admin cannot be demoted or disabled.",
            tag: "admin",
            params: vec![id.clone()],
            body: Some("UserPatch"),
            ok: (204, "Changed", None),
            errors: &[400, 403, 404, 409, 422],
        },
    );
    add(
        "/api/v1/users/{id}",
        "delete",
        "deleteUser",
        Op {
            summary: "Delete a user",
            description: "Admin role. Not oneself, not the last admin.",
            tag: "admin",
            params: vec![id.clone()],
            body: None,
            ok: (204, "Deleted", None),
            errors: &[403, 404, 409],
        },
    );
    add(
        "/api/v1/users/{id}/password-reset",
        "post",
        "resetPassword",
        Op {
            summary: "Give a user a new one-time password",
            description: "Admin role. Ends the user's sessions.",
            tag: "admin",
            params: vec![id.clone()],
            body: None,
            ok: (200, "The password", Some(r("OneTimePassword"))),
            errors: &[403, 404],
        },
    );
    add(
        "/api/v1/users/{id}/unlock",
        "post",
        "unlockUser",
        Op {
            summary: "Clear a user's failed logins",
            description: admin,
            tag: "admin",
            params: vec![id.clone()],
            body: None,
            ok: (204, "Unlocked", None),
            errors: &[403, 404],
        },
    );
    add(
        "/api/v1/users/{id}/sessions",
        "delete",
        "revokeSessions",
        Op {
            summary: "End every session of a user",
            description: admin,
            tag: "admin",
            params: vec![id.clone()],
            body: None,
            ok: (200, "How many", Some(r("SessionsEnded"))),
            errors: &[403, 404],
        },
    );
    add(
        "/api/v1/groups",
        "get",
        "listGroups",
        Op {
            summary: "Device groups",
            description: admin,
            tag: "admin",
            params: vec![],
            body: None,
            ok: (200, "The groups", Some(r("GroupList"))),
            errors: &[403],
        },
    );
    add(
        "/api/v1/groups",
        "post",
        "createGroup",
        Op {
            summary: "Create a device group",
            description: admin,
            tag: "admin",
            params: vec![],
            body: Some("GroupBody"),
            ok: (201, "Created", Some(r("Created"))),
            errors: &[400, 403, 409, 422],
        },
    );
    add(
        "/api/v1/groups/{id}",
        "put",
        "updateGroup",
        Op {
            summary: "Replace a device group",
            description: admin,
            tag: "admin",
            params: vec![id.clone()],
            body: Some("GroupBody"),
            ok: (204, "Replaced", None),
            errors: &[400, 403, 404, 409, 422],
        },
    );
    add(
        "/api/v1/groups/{id}",
        "delete",
        "deleteGroup",
        Op {
            summary: "Delete a device group",
            description: admin,
            tag: "admin",
            params: vec![id],
            body: None,
            ok: (204, "Deleted", None),
            errors: &[403, 404],
        },
    );
    add(
        "/api/v1/audit",
        "get",
        "getAuditLog",
        Op {
            summary: "The audit log",
            description: "Admin role. Newest first.",
            tag: "admin",
            params: vec![
                query(
                    "before",
                    json!({"type": "integer", "format": "int64"}),
                    "Only entries with a smaller id (paging)",
                ),
                query(
                    "limit",
                    json!({"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}),
                    "Entries",
                ),
                query("action", string("Action prefix, e.g. login"), "Only these actions"),
            ],
            body: None,
            ok: (200, "Entries", Some(r("AuditList"))),
            errors: &[400, 403],
        },
    );
    let mut doc = json!({
        "openapi": "3.0.3",
        "info": {
            "title": "FlowVision API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Flow dashboards, flow search, exporters and administration of a FlowVision appliance. \
                Authenticate with a personal API token (Authorization: Bearer fvt_..., created on the account page) \
                or the console's session cookie (writes then need the X-CSRF-Token header). Every answer is limited \
                to the exporters of the caller's device scope.",
        },
        "servers": [{ "url": "/" }],
        "security": [{ "bearerAuth": [] }, { "cookieAuth": [] }],
        "tags": [
            { "name": "dashboards" }, { "name": "exporters" }, { "name": "flows" }, { "name": "collector" },
            { "name": "account" }, { "name": "admin" }, { "name": "rules" }
        ],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearerAuth": { "type": "http", "scheme": "bearer", "description": "Personal API token (fvt_...)" },
                "cookieAuth": { "type": "apiKey", "in": "cookie", "name": crate::auth::SESSION_COOKIE }
            },
            "parameters": {
                "range": query("range", json!({"type": "string", "enum": ["5m", "15m", "1h", "6h", "24h", "7d"], "default": "1h"}),
                               "Preset window ending now"),
                "from": query("from", string("RFC 3339 or Unix ms"), "Window start; with to, overrides range"),
                "to": query("to", string("RFC 3339 or Unix ms"), "Window end [now]"),
                "exporter": query("exporter", string("address or prefix"), "Only these exporters (within the scope)"),
                "limit": query("limit", json!({"type": "integer", "minimum": 1, "maximum": 1000, "default": 10}), "Rows"),
                "talkerSide": query("side", json!({"type": "string", "enum": ["src", "dst"], "default": "src"}), "Which address"),
                "asSide": query("side", json!({"type": "string", "enum": ["src", "dst", "pair"], "default": "src"}), "Which AS"),
            },
            "schemas": schemas(),
        }
    });
    crate::api::simulations::document(&mut doc);
    // This endpoints are described beside their handlers.
    if let Some(p) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        p.extend(crate::api::rules_openapi::paths());
        p.extend(crate::api::archive_openapi::paths());
        p.extend(crate::api::mibs_openapi::paths());
        p.extend(crate::api::snmp_openapi::paths());
        p.extend(crate::api::insights_openapi::paths());
    }
    if let Some(s) = doc.pointer_mut("/components/schemas").and_then(Value::as_object_mut) {
        s.extend(crate::api::rules_openapi::schemas());
        s.extend(crate::api::archive_openapi::schemas());
        s.extend(crate::api::mibs_openapi::schemas());
        s.extend(crate::api::snmp_openapi::schemas());
        s.extend(crate::api::insights_openapi::schemas());
    }
    imply_unparsable_path_422(&mut doc);
    doc
}

/// Every operation with an integer path parameter also answers 422 (Rocket's answer when
/// the segment is not a number of that type), wherever the operation was described.
fn imply_unparsable_path_422(doc: &mut Value) {
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else { return };
    for op in paths.values_mut().filter_map(Value::as_object_mut).flat_map(|item| item.values_mut()) {
        let int_path = op.get("parameters").and_then(Value::as_array).is_some_and(|ps| {
            ps.iter().any(|p| {
                p.get("in").and_then(Value::as_str) == Some("path")
                    && p.pointer("/schema/type").and_then(Value::as_str) == Some("integer")
                    // The interface handler parses its index itself (404, never 422).
                    && p.get("name").and_then(Value::as_str) != Some("ifindex")
            })
        });
        if !int_path {
            continue;
        }
        if let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) {
            responses.entry("422").or_insert_with(|| {
                json!({ "description": error_text(422),
                        "content": { "application/json": { "schema": r("Error") } } })
            });
        }
    }
}

#[get("/api_docs/openapi.json")]
fn docs_json(_auth: Auth) -> Json<Value> {
    Json(document())
}

fn describe_schema(v: &Value) -> String {
    if let Some(r) = v.get("$ref").and_then(Value::as_str) {
        return r.rsplit('/').next().unwrap_or(r).to_string();
    }
    match v.get("type").and_then(Value::as_str) {
        Some("array") => format!("[{}]", v.get("items").map(describe_schema).unwrap_or_default()),
        Some(t) => {
            if let Some(e) = v.get("enum").and_then(Value::as_array) {
                let vals: Vec<String> = e.iter().filter_map(Value::as_str).map(str::to_string).collect();
                format!("{t} ({})", vals.join(" | "))
            } else {
                t.to_string()
            }
        }
        None => String::new(),
    }
}

#[get("/api_docs")]
fn docs_page(auth: Auth) -> Html {
    let doc = document();
    let params = doc.pointer("/components/parameters").cloned().unwrap_or(Value::Null);
    let resolve = |p: &Value| -> Value {
        match p.get("$ref").and_then(Value::as_str).and_then(|r| r.rsplit('/').next()) {
            Some(name) => params.get(name).cloned().unwrap_or(Value::Null),
            None => p.clone(),
        }
    };
    let schemas = doc.pointer("/components/schemas").and_then(Value::as_object).cloned().unwrap_or_default();
    let paths = doc.get("paths").and_then(Value::as_object).cloned().unwrap_or_default();
    html(page(
        "API documentation",
        &auth,
        "api",
        m! {
            p { (doc.pointer("/info/description").and_then(Value::as_str).unwrap_or("")) }
            p { "Machine-readable: " a #openapi-json href="/api_docs/openapi.json" { "/api_docs/openapi.json" } " (OpenAPI 3.0)." }
            @for (path, item) in &paths {
                @if let Some(ops) = item.as_object() {
                    @for (method, op) in ops {
                        section.card.op data-test="operation" data-method=(method.to_uppercase()) data-path=(path)
                            id=(op.get("operationId").and_then(Value::as_str).unwrap_or("")) {
                            h3 { span class={ "method " (method) } { (method.to_uppercase()) } " " code { (path) } }
                            p { strong { (op.get("summary").and_then(Value::as_str).unwrap_or("")) } " "
                                (op.get("description").and_then(Value::as_str).unwrap_or("")) }
                            @if let Some(ps) = op.get("parameters").and_then(Value::as_array).filter(|p| !p.is_empty()) {
                                table.data.params {
                                    thead { tr { th { "Parameter" } th { "In" } th { "Type" } th { "Description" } } }
                                    tbody {
                                        @for p in ps {
                                            @let p = resolve(p);
                                            tr {
                                                td { code { (p.get("name").and_then(Value::as_str).unwrap_or("")) } }
                                                td { (p.get("in").and_then(Value::as_str).unwrap_or("")) }
                                                td { (p.get("schema").map(describe_schema).unwrap_or_default()) }
                                                td { (p.get("description").and_then(Value::as_str).unwrap_or("")) }
                                            }
                                        }
                                    }
                                }
                            }
                            @if let Some(b) = op.pointer("/requestBody/content/application~1json/schema") {
                                p { "Body: " a href={ "#schema-" (describe_schema(b)) } { (describe_schema(b)) } }
                            }
                            ul.responses {
                                @if let Some(rs) = op.get("responses").and_then(Value::as_object) {
                                    @for (code, resp) in rs {
                                        li { code { (code) } " " (resp.get("description").and_then(Value::as_str).unwrap_or(""))
                                            @if let Some(s) = resp.pointer("/content/application~1json/schema") {
                                                " → " a href={ "#schema-" (describe_schema(s)) } { (describe_schema(s)) }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            h2 { "Schemas" }
            @for (name, s) in &schemas {
                section.card.schema id={ "schema-" (name) } {
                    h3 { (name) }
                    @if let Some(props) = s.get("properties").and_then(Value::as_object) {
                        table.data {
                            tbody {
                                @for (k, v) in props {
                                    tr { td { code { (k) } } td { (describe_schema(v)) } td { (v.get("description").and_then(Value::as_str).unwrap_or("")) } }
                                }
                            }
                        }
                    } @else { p { (describe_schema(s)) } }
                }
            }
        },
    ))
}
