//! MIB modules in the console, against a real PostgreSQL and real MIB files from the
//! corpus (`FLOWVISION_MIBS`, else ../shared/mibs; read in place, never copied):
//! the base modules are there without any upload; an operator uploads one file, a
//! .tar.gz and a .zip built here from corpus files; a broken module is quarantined
//! with its diagnostics while the others load; a newer revision replaces a module, an
//! older one does not (unless forced); deleting a module names its dependents;
//! objects are found by OID, instance OID and MODULE::name, and by search; the pages
//! render; a viewer browses but cannot upload or delete; uploads survive a restart;
//! malformed archives get typed 4xx answers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use common::*;
use rocket::http::{ContentType, Cookie, Header, Status};
use rocket::local::blocking::Client;
use serde_json::Value;
use std::io::Write;
use std::path::PathBuf;

fn corpus() -> PathBuf {
    let dir = std::env::var_os("FLOWVISION_MIBS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/mibs"));
    assert!(dir.is_dir(), "MIB corpus not found at {} (set FLOWVISION_MIBS)", dir.display());
    dir
}

fn read(rel: &str) -> Vec<u8> {
    std::fs::read(corpus().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// POST /api/v1/mibs with raw bytes as a session (with its CSRF token).
fn upload(client: &Client, s: &Session, name: &str, bytes: &[u8], force: bool) -> (Status, Value) {
    let uri = format!("/api/v1/mibs?name={}{}", enc(name), if force { "&force=true" } else { "" });
    let res = client
        .post(uri)
        .cookie(Cookie::new("fv_session", s.cookie.clone()))
        .header(Header::new("X-CSRF-Token", s.csrf.clone()))
        .header(ContentType::Binary)
        .body(bytes)
        .dispatch();
    let status = res.status();
    let body = res.into_string().unwrap_or_default();
    (status, serde_json::from_str(&body).unwrap_or(Value::String(body)))
}

fn get_json(client: &Client, s: &Session, uri: &str) -> (Status, Value) {
    let res = client.get(uri.to_string()).cookie(Cookie::new("fv_session", s.cookie.clone())).dispatch();
    let status = res.status();
    let body = res.into_string().unwrap_or_default();
    (status, serde_json::from_str(&body).unwrap_or(Value::String(body)))
}

fn delete(client: &Client, s: &Session, module: &str) -> (Status, Value) {
    let res = client
        .delete(format!("/api/v1/mibs/{module}"))
        .cookie(Cookie::new("fv_session", s.cookie.clone()))
        .header(Header::new("X-CSRF-Token", s.csrf.clone()))
        .dispatch();
    let status = res.status();
    let body = res.into_string().unwrap_or_default();
    (status, serde_json::from_str(&body).unwrap_or(Value::String(body)))
}

fn tar_gz(entries: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, name, data.as_slice()).unwrap();
    }
    let tar = b.into_inner().unwrap();
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(&tar).unwrap();
    e.finish().unwrap()
}

fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, data) in entries {
        w.start_file(*name, opts).unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap().into_inner()
}

/// The outcome of `module` in an upload report.
fn outcome<'a>(report: &'a Value, module: &str) -> &'a Value {
    report["modules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["module"] == module)
        .unwrap_or_else(|| panic!("{module} not in the report: {report:#}"))
}

/// The list entry of `module`.
fn listed(list: &Value, module: &str) -> Option<Value> {
    list["modules"].as_array().unwrap().iter().find(|m| m["name"] == module).cloned()
}

#[test]
fn upload_browse_replace_delete_and_roles() {
    let web = Web::start();
    let admin = web.login(ADMIN, ADMIN_PW);
    let (_, operator) = web.user(&admin, "mib-op", "operator", &[], &[]);
    let (_, viewer) = web.user(&admin, "mib-viewer", "viewer", &[], &[]);
    let c = &web.client;

    // One file: CISCO-SMI, as an operator.
    let smi = read("cisco/CISCO-SMI.my");
    let (st, r) = upload(c, &operator, "CISCO-SMI.my", &smi, false);
    assert_eq!(st, Status::Ok, "{r:#}");
    assert_eq!(r["kind"], "file");
    let o = outcome(&r, "CISCO-SMI");
    assert_eq!((o["action"].as_str(), o["status"].as_str()), (Some("added"), Some("ok")), "{o:#}");
    assert_eq!(o["revision"], "2016-01-15 00:00");
    println!("CISCO-SMI: {} modules loaded, {} nodes", r["loaded_modules"], r["nodes"]);

    // A .tar.gz of several corpus files in folders, a broken one among them (PAN-COMMON-MIB
    // defines descriptors twice), and a README that holds no module.
    let archive = tar_gz(&[
        ("mibs/cisco/CISCO-TC.my", read("cisco/CISCO-TC.my")),
        ("mibs/cisco/CISCO-PRODUCTS-MIB.my", read("cisco/CISCO-PRODUCTS-MIB.my")),
        ("mibs/pan/PAN-GLOBAL-REG-MIB.my", read("paloalto/PAN-GLOBAL-REG-MIB.my")),
        ("mibs/pan/PAN-GLOBAL-TC-MIB.my", read("paloalto/PAN-GLOBAL-TC-MIB.my")),
        ("mibs/pan/PAN-COMMON-MIB.my", read("paloalto/PAN-COMMON-MIB.my")),
        ("mibs/README.txt", b"These are MIBs.\n".to_vec()),
    ]);
    let (st, r) = upload(c, &operator, "vendors.tar.gz", &archive, false);
    assert_eq!(st, Status::Ok, "{r:#}");
    assert_eq!((r["kind"].as_str(), r["files"].as_u64()), (Some("tar.gz"), Some(6)));
    for m in ["CISCO-TC", "CISCO-PRODUCTS-MIB", "PAN-GLOBAL-REG", "PAN-GLOBAL-TC"] {
        let o = outcome(&r, m);
        assert_eq!((o["action"].as_str(), o["status"].as_str()), (Some("added"), Some("ok")), "{m}: {o:#}");
    }
    let broken = outcome(&r, "PAN-COMMON-MIB");
    assert_eq!(broken["status"], "quarantined", "{broken:#}");
    let diags = broken["diagnostics"].as_array().unwrap();
    assert!(diags.iter().any(|d| d["severity"] == "error" && d["line"].as_u64().is_some()), "{diags:#?}");
    assert!(diags.iter().all(|d| d["file"] == "mibs/pan/PAN-COMMON-MIB.my"));
    assert!(r["notes"].as_array().unwrap().iter().any(|n| n["file"] == "mibs/README.txt"), "{r:#}");
    println!("tar.gz: PAN-COMMON-MIB quarantined with {} diagnostics; the 4 others loaded", diags.len());

    // A .zip of two more; the quarantined module is retried (and stays quarantined).
    let zip = zip_of(&[
        ("PAN-PRODUCT-MIB.my", &read("paloalto/PAN-PRODUCT-MIB.my")),
        ("x/ZZ-CISCO-PRODUCTS-MIB-CORRECTIONS.my", &read("cisco/ZZ-CISCO-PRODUCTS-MIB-CORRECTIONS.my")),
    ]);
    let (st, r) = upload(c, &operator, "more.zip", &zip, false);
    assert_eq!(st, Status::Ok, "{r:#}");
    assert_eq!(r["kind"], "zip");
    assert_eq!(outcome(&r, "PAN-PRODUCTS-MIB")["status"], "ok");
    assert_eq!(outcome(&r, "CISCO-PRODUCTS-MIB-CORRECTIONS")["status"], "ok");
    let retried = outcome(&r, "PAN-COMMON-MIB");
    assert_eq!(
        (retried["action"].as_str(), retried["status"].as_str()),
        (Some("retried"), Some("quarantined"))
    );

    // The list: uploads with their status, base modules without any upload.
    let (st, list) = get_json(c, &viewer, "/api/v1/mibs");
    assert_eq!(st, Status::Ok);
    let smi_row = listed(&list, "CISCO-SMI").unwrap();
    assert_eq!((smi_row["source"].as_str(), smi_row["status"].as_str()), (Some("uploaded"), Some("ok")));
    assert_eq!(smi_row["uploaded_by"], "mib-op");
    let q = listed(&list, "PAN-COMMON-MIB").unwrap();
    assert_eq!(q["status"], "quarantined");
    assert!(q["errors"].as_u64().unwrap() > 0);
    for base in
        ["SNMPv2-SMI", "SNMPv2-TC", "SNMPv2-CONF", "SNMPv2-MIB", "IF-MIB", "IANAifType-MIB", "RFC1213-MIB"]
    {
        let b = listed(&list, base).unwrap_or_else(|| panic!("base module {base} missing"));
        assert_eq!((b["source"].as_str(), b["status"].as_str()), (Some("base"), Some("ok")), "{b}");
    }
    println!("{} modules listed, {} nodes", list["modules"].as_array().unwrap().len(), list["nodes"]);

    // Objects: by MODULE::name, by OID, by an instance OID; children for the tree.
    let (st, ifdescr) = get_json(c, &viewer, "/api/v1/mibs/oid/IF-MIB::ifDescr");
    assert_eq!(st, Status::Ok, "{ifdescr}");
    assert_eq!(ifdescr["oid"], "1.3.6.1.2.1.2.2.1.2");
    assert_eq!(ifdescr["syntax"]["type_name"], "DisplayString");
    assert_eq!(ifdescr["syntax"]["base"], "OCTET STRING");
    assert_eq!(ifdescr["access"], "read-only");
    assert!(ifdescr["description"].as_str().unwrap().contains("information about the"));
    assert_eq!(ifdescr["parent"]["name"], "ifEntry");
    let (_, entry) = get_json(c, &viewer, "/api/v1/mibs/oid/1.3.6.1.2.1.2.2.1");
    assert_eq!(entry["name"], "ifEntry");
    assert_eq!(entry["index"], serde_json::json!(["ifIndex"]));
    assert!(entry["children"].as_array().unwrap().iter().any(|ch| ch["name"] == "ifDescr"));
    let (_, inst) = get_json(c, &viewer, "/api/v1/mibs/oid/.1.3.6.1.2.1.2.2.1.2.7");
    assert_eq!((inst["name"].as_str(), inst["instance"].as_str()), (Some("ifDescr"), Some("7")));
    // npm's IF-MIB is the 2000 revision, whose ifHighSpeed has no UNITS clause yet.
    let (_, hs) = get_json(c, &viewer, "/api/v1/mibs/oid/IF-MIB::ifHighSpeed");
    assert_eq!((hs["syntax"]["base"].as_str(), hs["units"].is_null()), (Some("Gauge32"), true), "{hs}");
    let (_, status) = get_json(c, &viewer, "/api/v1/mibs/oid/IF-MIB::ifOperStatus");
    assert!(status["syntax"]["named_values"]
        .as_array()
        .unwrap()
        .iter()
        .any(|v| v["name"] == "up" && v["value"] == 1));
    // An uploaded product: the sysObjectID of a Cisco device, and the corrections
    // module's second name for one OID.
    let (st, products) = get_json(c, &viewer, "/api/v1/mibs/oid/CISCO-SMI::ciscoProducts");
    assert_eq!(st, Status::Ok);
    assert_eq!(products["oid"], "1.3.6.1.4.1.9.1");
    assert!(products["children"].as_array().unwrap().len() > 1000, "products are children of ciscoProducts");
    assert_eq!(products["module_file"], "CISCO-SMI.my");
    assert_eq!(products["module_revision"], "2016-01-15 00:00");
    let (st, _) = get_json(c, &viewer, "/api/v1/mibs/oid/CISCO-PRODUCTS-MIB-CORRECTIONS::cisco5520Wlc");
    assert_eq!(st, Status::Ok);
    let (st, _) = get_json(c, &viewer, "/api/v1/mibs/oid/PAN-COMMON-MIB::panCommonObjs");
    assert_eq!(st, Status::NotFound, "a quarantined module is not in the tree");
    assert_eq!(get_json(c, &viewer, "/api/v1/mibs/oid/NO-SUCH-MIB::x").0, Status::NotFound);

    // Search: a name, an OID, words of a description.
    let (st, s) = get_json(c, &viewer, "/api/v1/mibs/search?q=ifhcinoctets");
    assert_eq!(st, Status::Ok, "{s}");
    assert_eq!(s["hits"][0]["qualified_name"], "IF-MIB::ifHCInOctets");
    assert_eq!(s["hits"][0]["matched"], "name");
    let (_, s) = get_json(c, &viewer, "/api/v1/mibs/search?q=1.3.6.1.2.1.1.5");
    assert_eq!(
        (s["hits"][0]["name"].as_str(), s["hits"][0]["matched"].as_str()),
        (Some("sysName"), Some("oid"))
    );
    let (_, s) = get_json(c, &viewer, "/api/v1/mibs/search?q=administratively%20assigned%20name&limit=5");
    let names: Vec<&str> =
        s["hits"].as_array().unwrap().iter().map(|h| h["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"sysName"), "{s:#}");
    assert!(s["hits"].as_array().unwrap().len() <= 5);
    let (_, s) = get_json(c, &viewer, "/api/v1/mibs/search?q=ciscoProd");
    assert!(s["total"].as_u64().unwrap() > 1, "{s}");
    assert_eq!(get_json(c, &viewer, "/api/v1/mibs/search").0, Status::BadRequest, "q is required");

    // Pages, as the viewer: list (no upload form), module, tree, search, object.
    let page = web.get("/mibs", Some(&viewer));
    assert_eq!(page.status, Status::Ok);
    assert!(page.body.contains("data-module=\"PAN-COMMON-MIB\" data-status=\"quarantined\""));
    assert!(!page.body.contains("mib-upload-form"), "viewers get no upload form");
    assert!(web.get("/mibs", Some(&operator)).body.contains("mib-upload-form"));
    let page = web.get("/mibs/module/PAN-COMMON-MIB", Some(&viewer));
    assert!(page.body.contains("data-test=\"mib-diagnostic\"") && !page.body.contains("mib-delete-form"));
    let tree = web.get("/mibs/tree", Some(&viewer));
    assert!(tree.body.contains("data-oid=\"1\""), "the root iso is listed");
    let found = web.get("/mibs/search?q=sysUpTime", Some(&viewer));
    assert!(found.body.contains("SNMPv2-MIB::sysUpTime"));
    let obj = web.get("/mibs/object/IF-MIB%3A%3AifInOctets", Some(&viewer));
    assert_eq!(obj.status, Status::Ok);
    assert!(obj.body.contains("Counter32") && obj.body.contains("1.3.6.1.2.1.2.2.1.10"));

    // The viewer may not upload or delete: 403, nothing changes.
    let (st, _) = upload(c, &viewer, "CISCO-SMI.my", &smi, false);
    assert_eq!(st, Status::Forbidden);
    assert_eq!(delete(c, &viewer, "CISCO-SMI").0, Status::Forbidden);
    let form = web.post_csrf("/mibs/module/CISCO-SMI/delete", &viewer, &[]);
    assert_eq!(form.status, Status::Forbidden);
    assert!(listed(&get_json(c, &viewer, "/api/v1/mibs").1, "CISCO-SMI").is_some());

    // A newer revision (the test bumps CISCO-SMI's dates and adds an arc) replaces it.
    let text = String::from_utf8(smi.clone()).unwrap();
    let newer = text
        .replacen("LAST-UPDATED    \"201601150000Z\"", "LAST-UPDATED    \"203001010000Z\"", 1)
        .replacen(
            "    REVISION        \"201601150000Z\"",
            "    REVISION        \"203001010000Z\"\n    DESCRIPTION     \"Test revision.\"\n    REVISION        \"201601150000Z\"",
            1,
        );
    let end = newer.rfind("END").unwrap();
    let newer = format!(
        "{}ciscoTestArc OBJECT IDENTIFIER ::= {{ ciscoMgmt 99999 }}\n\n{}",
        &newer[..end],
        &newer[end..]
    );
    let (st, r) = upload(c, &operator, "CISCO-SMI-2030.my", newer.as_bytes(), false);
    assert_eq!(st, Status::Ok, "{r:#}");
    let o = outcome(&r, "CISCO-SMI");
    assert_eq!((o["action"].as_str(), o["status"].as_str()), (Some("replaced"), Some("ok")), "{o:#}");
    assert_eq!(
        (o["revision"].as_str(), o["previous_revision"].as_str()),
        (Some("2030-01-01 00:00"), Some("2016-01-15 00:00"))
    );
    let (st, arc) = get_json(c, &viewer, "/api/v1/mibs/oid/CISCO-SMI::ciscoTestArc");
    assert_eq!(st, Status::Ok, "{arc}");
    assert_eq!(arc["oid"], "1.3.6.1.4.1.9.9.99999");
    // The dependents were re-resolved against it: products still hang below ciscoProducts.
    assert_eq!(
        get_json(c, &viewer, "/api/v1/mibs/oid/CISCO-PRODUCTS-MIB::cat6509").1["oid"],
        "1.3.6.1.4.1.9.1.283"
    );
    // The original again is older: refused, unless forced.
    let (_, r) = upload(c, &operator, "CISCO-SMI.my", &smi, false);
    assert_eq!(outcome(&r, "CISCO-SMI")["action"], "older_revision");
    assert_eq!(get_json(c, &viewer, "/api/v1/mibs/oid/CISCO-SMI::ciscoTestArc").0, Status::Ok);
    let (_, r) = upload(c, &operator, "CISCO-SMI.my", &smi, true);
    assert_eq!(outcome(&r, "CISCO-SMI")["action"], "replaced");
    assert_eq!(get_json(c, &viewer, "/api/v1/mibs/oid/CISCO-SMI::ciscoTestArc").0, Status::NotFound);
    let (_, r) = upload(c, &operator, "CISCO-SMI.my", &smi, false);
    assert_eq!(outcome(&r, "CISCO-SMI")["action"], "unchanged");

    // Uploads survive a restart: a second application on the same database loads them.
    {
        let again = Client::untracked(flowvision_web::build(config(web.pg.url())).unwrap()).unwrap();
        let (st, list) = get_json(&again, &viewer, "/api/v1/mibs");
        assert_eq!(st, Status::Ok);
        assert_eq!(listed(&list, "CISCO-PRODUCTS-MIB").unwrap()["status"], "ok");
        assert_eq!(listed(&list, "PAN-COMMON-MIB").unwrap()["status"], "quarantined");
        let (st, _) = get_json(&again, &viewer, "/api/v1/mibs/oid/CISCO-PRODUCTS-MIB::cat6509");
        assert_eq!(st, Status::Ok);
    }

    // A broken copy of a base module (the corpus's IF-MIB with an undefined parent) is
    // quarantined as an upload; the shipped IF-MIB stays in use until it is deleted.
    let broken_if = String::from_utf8(read("rfc/IF-MIB.txt")).unwrap().replacen(
        "::= { ifEntry 2 }",
        "::= { noSuchParent 2 }",
        1,
    );
    let (st, r) = upload(c, &operator, "IF-MIB-broken.txt", broken_if.as_bytes(), false);
    assert_eq!(st, Status::Ok, "{r}");
    let o = outcome(&r, "IF-MIB");
    assert_eq!((o["action"].as_str(), o["status"].as_str()), (Some("added"), Some("quarantined")), "{o:#}");
    assert!(o["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .any(|d| d["message"].as_str().unwrap().contains("noSuchParent")));
    let (_, still) = get_json(c, &viewer, "/api/v1/mibs/oid/IF-MIB::ifDescr");
    assert!(still["module_file"].as_str().unwrap().ends_with("net-snmp/lib/mibs/IF-MIB.mib"), "{still}");
    let row = listed(&get_json(c, &viewer, "/api/v1/mibs").1, "IF-MIB").unwrap();
    assert_eq!(
        (row["source"].as_str(), row["status"].as_str()),
        (Some("uploaded"), Some("quarantined")),
        "{row}"
    );
    let (st, r) = delete(c, &operator, "IF-MIB");
    assert_eq!((st, r["base_restored"].as_bool()), (Status::Ok, Some(true)), "{r}");
    let row = listed(&get_json(c, &viewer, "/api/v1/mibs").1, "IF-MIB").unwrap();
    assert_eq!((row["source"].as_str(), row["status"].as_str()), (Some("base"), Some("ok")), "{row}");

    // Deleting CISCO-SMI names what imports it; its nodes are gone, base modules stay.
    let (_, detail) = get_json(c, &viewer, "/api/v1/mibs/CISCO-SMI");
    let deps: Vec<&str> =
        detail["dependents"].as_array().unwrap().iter().map(|d| d.as_str().unwrap()).collect();
    assert!(deps.contains(&"CISCO-TC") && deps.contains(&"CISCO-PRODUCTS-MIB"), "{detail:#}");
    let (st, r) = delete(c, &operator, "CISCO-SMI");
    assert_eq!(st, Status::Ok, "{r}");
    let deps: Vec<&str> = r["dependents"].as_array().unwrap().iter().map(|d| d.as_str().unwrap()).collect();
    assert!(deps.contains(&"CISCO-TC") && deps.contains(&"CISCO-PRODUCTS-MIB"), "{r:#}");
    assert_eq!(r["base_restored"], false);
    println!("deleting CISCO-SMI: dependents {deps:?}");
    assert_eq!(get_json(c, &viewer, "/api/v1/mibs/oid/CISCO-SMI::ciscoProducts").0, Status::NotFound);
    assert_eq!(delete(c, &operator, "CISCO-SMI").0, Status::NotFound);
    let (st, r) = delete(c, &operator, "IF-MIB");
    assert_eq!((st, r["code"].as_str()), (Status::Conflict, Some("base_module")), "{r}");
    // The quarantined module can be deleted too; the page form works for operators.
    let page = web.post_csrf("/mibs/module/PAN-COMMON-MIB/delete", &operator, &[]);
    assert_eq!(page.status, Status::Ok, "{}", page.body);
    assert!(page.body.contains("Deleted PAN-COMMON-MIB"));
    assert!(listed(&get_json(c, &viewer, "/api/v1/mibs").1, "PAN-COMMON-MIB").is_none());

    // Uploads and deletes are audited.
    let audit = web.json("/api/v1/audit?action=mib.upload", &admin);
    assert!(audit["entries"].as_array().unwrap().len() >= 6, "{audit}");
}

#[test]
fn malformed_uploads_get_typed_errors() {
    let web = Web::start();
    let admin = web.login(ADMIN, ADMIN_PW);
    let c = &web.client;
    let code = |(st, v): (Status, Value)| (st.code, v["code"].as_str().unwrap_or("").to_string());

    assert_eq!(code(upload(c, &admin, "x.mib", b"", false)), (400, "empty_upload".into()));
    assert_eq!(
        code(upload(c, &admin, "x.zip", b"PK\x03\x04 this is not a zip archive", false)),
        (400, "corrupt_archive".into())
    );
    assert_eq!(
        code(upload(c, &admin, "x.tgz", &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3], false)),
        (400, "corrupt_archive".into())
    );
    // A truncated .tar.gz of a real MIB.
    let good = tar_gz(&[("IF-MIB.txt", read("rfc/IF-MIB.txt"))]);
    let truncated = &good[..good.len() / 2];
    assert_eq!(code(upload(c, &admin, "cut.tar.gz", truncated, false)), (400, "corrupt_archive".into()));
    // Path traversal in a zip and in a tar (written raw: builders refuse such names).
    let evil_zip = zip_of(&[("../../etc/IF-MIB.txt", &read("rfc/IF-MIB.txt"))]);
    assert_eq!(code(upload(c, &admin, "evil.zip", &evil_zip, false)), (400, "unsafe_path".into()));
    let mut h = tar::Header::new_gnu();
    h.as_gnu_mut().unwrap().name[..17].copy_from_slice(b"/etc/IF-MIB.txt\0\0");
    let body = read("rfc/IF-MIB.txt");
    h.set_size(body.len() as u64);
    h.set_cksum();
    let mut b = tar::Builder::new(Vec::new());
    b.append(&h, body.as_slice()).unwrap();
    assert_eq!(
        code(upload(c, &admin, "evil.tar", &b.into_inner().unwrap(), false)),
        (400, "unsafe_path".into())
    );
    // Too many entries.
    let many: Vec<(String, Vec<u8>)> = (0..5001).map(|i| (format!("f{i}.txt"), b"x".to_vec())).collect();
    let refs: Vec<(&str, &[u8])> = many.iter().map(|(n, d)| (n.as_str(), d.as_slice())).collect();
    assert_eq!(code(upload(c, &admin, "many.zip", &zip_of(&refs), false)), (413, "too_many_entries".into()));
    // An archive without any module.
    let (st, v) = upload(c, &admin, "docs.zip", &zip_of(&[("README", b"no MIB here")]), false);
    assert_eq!((st.code, v["code"].as_str()), (422, Some("no_module")), "{v}");
    assert!(v["error"].as_str().unwrap().contains("README"));
    // Nothing was stored by any of them; the base modules are there all along.
    let (_, list) = get_json(c, &admin, "/api/v1/mibs");
    assert!(list["modules"].as_array().unwrap().iter().all(|m| m["source"] == "base"), "{list:#}");
    assert!(listed(&list, "IF-MIB").is_some() && listed(&list, "SNMPv2-MIB").is_some());
    // A cookie-authenticated upload without the CSRF header is refused before reading.
    let res = c
        .post("/api/v1/mibs")
        .cookie(Cookie::new("fv_session", admin.cookie.clone()))
        .body(read("rfc/IF-MIB.txt"))
        .dispatch();
    assert_eq!(res.status(), Status::Forbidden);
}

/// Every file of the corpus below `dir`, relative names, in name order.
fn walk(dir: &std::path::Path, root: &std::path::Path, out: &mut Vec<(String, Vec<u8>)>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, root, out);
        } else {
            let name = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            out.push((name, std::fs::read(&p).unwrap()));
        }
    }
}

/// The whole corpus (1,006 files, ~38 MB, the EXTRAS folder of non-MIB files included)
/// as one uploaded .tar: every module is loaded or quarantined with diagnostics, the
/// files without a module are noted, and the tree answers afterwards.
#[test]
fn the_whole_corpus_as_one_archive() {
    let web = Web::start();
    let admin = web.login(ADMIN, ADMIN_PW);
    let root = corpus();
    let mut files = Vec::new();
    walk(&root, &root, &mut files);
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in &files {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, format!("netdisco-mibs/{name}"), data.as_slice()).unwrap();
    }
    let tar = b.into_inner().unwrap();
    let started = std::time::Instant::now();
    let (st, r) = upload(&web.client, &admin, "netdisco-mibs.tar", &tar, false);
    let took = started.elapsed();
    assert_eq!(st, Status::Ok, "{r}");
    let modules = r["modules"].as_array().unwrap();
    let ok = modules.iter().filter(|m| m["status"] == "ok").count();
    let quarantined: Vec<&Value> = modules.iter().filter(|m| m["status"] == "quarantined").collect();
    assert_eq!(ok + quarantined.len(), modules.len());
    assert!(quarantined.iter().all(|m| !m["diagnostics"].as_array().unwrap().is_empty()));
    println!(
        "{} files ({} MB) in {took:.1?}: {} modules, {ok} ok, {} quarantined, {} notes; tree {} modules, {} nodes",
        files.len(),
        tar.len() >> 20,
        modules.len(),
        quarantined.len(),
        r["notes"].as_array().unwrap().len(),
        r["loaded_modules"],
        r["nodes"]
    );
    assert!(
        ok > 600,
        "{ok} modules loaded; e.g. {:#}",
        quarantined.iter().find(|m| m["module"] == "CISCO-SMI").unwrap()
    );
    let (st, v) = get_json(&web.client, &admin, "/api/v1/mibs/oid/1.3.6.1.4.1.9.1.2170");
    assert_eq!(st, Status::Ok);
    assert!(v["name"] == "cisco5520WLC" || v["name"] == "cisco5520Wlc", "{v}");
    let started = std::time::Instant::now();
    let (_, s) = get_json(&web.client, &admin, "/api/v1/mibs/search?q=interface%20utilization");
    println!("search over the corpus: {} hits in {:.1?}", s["total"], started.elapsed());
}
