//! Browser test of the MIB pages in headless Chromium against the real binaries:
//! `node --test tests/browser/mibs.test.mjs` uploads a corpus MIB (CISCO-SMI, read in
//! place from `FLOWVISION_MIBS`) through the page's form, expands the OID tree lazily,
//! searches an OID and opens the object page. Skipped (with the reason printed) when
//! chromium, node or playwright-core is missing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use common::appliance::{artifacts_dir, browser_tools, Appliance};
use std::path::PathBuf;

#[test]
fn upload_browse_and_search_mibs_in_chromium() {
    let tools = match browser_tools() {
        Ok(t) => t,
        Err(why) => {
            println!("{why}");
            return;
        }
    };
    let corpus = std::env::var_os("FLOWVISION_MIBS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/mibs"));
    let file = corpus.join("cisco/CISCO-SMI.my");
    assert!(file.is_file(), "MIB corpus not found at {} (set FLOWVISION_MIBS)", corpus.display());
    let artifacts = artifacts_dir("mibs");
    let mut app = Appliance::start_collector();
    app.start_web(&[]);
    let out = app.run_browser_script(
        &tools,
        "mibs.test.mjs",
        &artifacts,
        &[("FV_MIB_FILE", file.display().to_string())],
    );
    assert!(out.status.success(), "browser tests failed ({}); web log:\n{}", out.status, app.web_log());
}
