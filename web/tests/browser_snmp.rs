//! Browser test of SNMP names in headless Chromium against the real binaries and a
//! real agent: `node --test tests/browser/snmp.test.mjs` pre-provisions v3 credentials
//! for an exporter that has not sent yet, sends NetFlow v5 from it and waits for the
//! console's schedule to poll (no request asks for it); the exporters list, the
//! exporter page and its top-interfaces chart then show sysName, vendor, product and
//! `ifName (ifAlias)`. An admin sets credentials through the page's form (a wrong
//! password shows its error), and a viewer sees names but no credentials and cannot
//! upload MIBs. Skipped (with the reason printed) when chromium, node or
//! playwright-core is missing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use common::appliance::{artifacts_dir, browser_tools, Appliance};
use flowvision_tests::snmpd::{self, Snmpd};

#[test]
fn snmp_names_in_chromium() {
    let tools = match browser_tools() {
        Ok(t) => t,
        Err(why) => {
            println!("{why}");
            return;
        }
    };
    let agent = Snmpd::start().expect("snmpd (apt-get install snmpd)");
    let alias = "uplink — transit AS3356";
    agent.set_alias(1, alias).unwrap();
    let lo_name = agent.walk(snmpd::COMMUNITY, ".1.3.6.1.2.1.31.1.1.1.1.1").unwrap()[0].1.clone();
    let artifacts = artifacts_dir("snmp");
    let mut app = Appliance::start_collector();
    app.start_web(&[("SNMP_TIMEOUT_MS", "600"), ("SNMP_RETRIES", "1")]);
    let (u1, a1, p1) = snmpd::USER_SHA256_AES128;
    let (u2, a2, p2) = snmpd::USER_SHA512_AES256;
    let facts = serde_json::json!({
        "sys_name": snmpd::SYS_NAME, "lo_name": lo_name, "lo_alias": alias,
        "v3_sha256": [u1, a1, p1], "v3_sha512": [u2, a2, p2],
    });
    let out = app.run_browser_script(
        &tools,
        "snmp.test.mjs",
        &artifacts,
        &[
            ("FV_NETFLOW_PORT", app.netflow_port.to_string()),
            ("FV_SNMP_PORT", agent.port().to_string()),
            ("FV_SNMP", facts.to_string()),
        ],
    );
    assert!(
        out.status.success(),
        "browser tests failed ({}); web log:\n{}\nsnmpd:\n{}",
        out.status,
        app.web_log(),
        agent.log()
    );
}
