// The MIB pages in headless Chromium. Run by web/tests/browser_mibs.rs, which passes
// FV_URL, FV_ADMIN_USER, FV_ADMIN_PASSWORD, FV_CHROMIUM, FV_ARTIFACTS and FV_MIB_FILE
// (cisco/CISCO-SMI.my of the corpus, read in place).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { launchChromium, loggedIn as login } from "./session.mjs";

const URL = process.env.FV_URL;
const ARTIFACTS = process.env.FV_ARTIFACTS;
const FILE = process.env.FV_MIB_FILE;
let browser;

before(async () => {
  assert.ok(URL && ARTIFACTS && FILE, "environment from web/tests/browser_mibs.rs");
  browser = await launchChromium();
});

after(async () => {
  if (browser) await browser.close();
});

function loggedIn() {
  return login(browser, URL);
}

test("upload a MIB, expand the tree, search an OID, open the object", async () => {
  const page = await loggedIn();
  await page.click('[data-test="nav-mibs"]');
  await page.waitForSelector("#mib-modules");
  assert.ok(await page.$('[data-module="IF-MIB"]'), "base module IF-MIB listed without upload");

  await page.setInputFiles("#mib-file", FILE);
  await page.click("#mib-upload-submit");
  const report = await page.waitForSelector('[data-test="mib-upload-report"]');
  const text = await report.textContent();
  assert.match(text, /CISCO-SMI — added, ok/, text);
  await page.screenshot({ path: path.join(ARTIFACTS, "mibs-uploaded.png"), fullPage: true });
  await page.goto(`${URL}/mibs`);
  assert.ok(await page.$('[data-module="CISCO-SMI"][data-status="ok"]'), "CISCO-SMI listed as ok");

  // The tree: iso, then its children, loaded when expanded.
  await page.goto(`${URL}/mibs/tree`);
  await page.click('li[data-oid="1"] > button.mib-toggle');
  await page.waitForSelector('li[data-oid="1.3"]');
  await page.click('li[data-oid="1.3"] > button.mib-toggle');
  await page.waitForSelector('li[data-oid="1.3.6"]');
  await page.screenshot({ path: path.join(ARTIFACTS, "mibs-tree.png"), fullPage: true });

  // Search an OID and follow the hit to the object page.
  await page.goto(`${URL}/mibs/search`);
  await page.fill("#mib-search-q", "1.3.6.1.4.1.9.1");
  await Promise.all([page.waitForNavigation(), page.click("#mib-search-submit")]);
  const hit = await page.waitForSelector('[data-test="mib-search-hit"] a');
  assert.equal(await hit.textContent(), "CISCO-SMI::ciscoProducts");
  await Promise.all([page.waitForNavigation(), hit.click()]);
  assert.equal(await page.getAttribute("#mib-object", "data-oid"), "1.3.6.1.4.1.9.1");
  assert.match(await page.textContent("#mib-object-description"), /ciscoProducts is the root OBJECT IDENTIFIER/);
  await page.screenshot({ path: path.join(ARTIFACTS, "mibs-object.png"), fullPage: true });
  assert.deepEqual(page.jsErrors, []);
});
