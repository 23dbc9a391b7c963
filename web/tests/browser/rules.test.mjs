// Browser test of the forwarding rules page in headless Chromium. Run by
// web/tests/browser_rules.rs, which starts PostgreSQL, the collector, nfcapd (the
// rule's destination) and the web binary, and passes FV_URL, FV_ADMIN_USER,
// FV_ADMIN_PASSWORD, FV_CHROMIUM, FV_ARTIFACTS, FV_NFCAPD (host:port), FV_SIM (the
// flowvision-sim binary), FV_COLLECTOR (its NetFlow host:port), FV_FLOWS.
// Writes the counters the page showed to FV_ARTIFACTS/counters.json for the Rust side
// to compare with what nfdump read.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { launchChromium } from "./session.mjs";
import { execFileSync } from "node:child_process";

const URL = process.env.FV_URL;
const ADMIN = process.env.FV_ADMIN_USER;
const ADMIN_PW = process.env.FV_ADMIN_PASSWORD;
const ARTIFACTS = process.env.FV_ARTIFACTS;
const NFCAPD = process.env.FV_NFCAPD;
const SIM = process.env.FV_SIM;
const COLLECTOR = process.env.FV_COLLECTOR;
const FLOWS = process.env.FV_FLOWS || "2000";

let browser;
const shots = [];

before(async () => {
  assert.ok(URL && ADMIN && ADMIN_PW && ARTIFACTS && NFCAPD && SIM && COLLECTOR, "environment from web/tests/browser_rules.rs");
  browser = await launchChromium();
});

after(async () => {
  if (browser) await browser.close();
  for (const s of shots) console.log(`screenshot: ${s}`);
});

async function shot(page, name) {
  const file = path.join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  shots.push(file);
}

async function counter(page, rule, name) {
  return Number(await page.locator(`tr[data-rule="${rule}"] [data-counter="${name}"]`).innerText());
}

test("add a rule with a typo, fix it, see nfcapd's flows counted, delete it", async () => {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("dialog", (d) => d.accept());

  await page.goto(`${URL}/login`);
  await page.fill("#username", ADMIN);
  await page.fill("#password", ADMIN_PW);
  await Promise.all([page.waitForNavigation(), page.click("#login-submit")]);
  // The nav leads to the page.
  await page.click('nav a[href="/rules"]');
  await page.waitForSelector("#rules-table");
  assert.match(await page.locator("#rules-table").innerText(), /No forwarding rules/);

  await page.fill("#rule-name", "tcp-to-nfcapd");
  await page.selectOption("#rule-action", "reencode");
  await page.selectOption("#rule-protocol", "netflow_v9");
  await page.fill("#rule-destination", NFCAPD);
  // Typed with a typo: the error appears as it is typed, at the token.
  await page.locator("#rule-filter").pressSequentially("proto tcp and prot 6", { delay: 20 });
  await page.waitForSelector("#filter-error:not([hidden])", { timeout: 10000 });
  const box = page.locator("#filter-error");
  assert.equal(await box.getAttribute("data-position"), "14");
  assert.equal(await page.locator("#filter-error-token").innerText(), "prot");
  assert.equal(await page.locator("#rule-filter").getAttribute("data-state"), "error");
  await shot(page, "01-typo-as-typed");
  // Submitted anyway: the server refuses it and shows the error at the token too.
  await Promise.all([page.waitForNavigation(), page.click("#rule-submit")]);
  assert.equal(await page.locator('[data-test="notice-error"]').count(), 1);
  assert.equal(await page.locator("#filter-error-token").innerText(), "prot");
  assert.equal(await page.locator("#rule-filter").inputValue(), "proto tcp and prot 6", "the form keeps what was typed");
  assert.equal(await page.locator("#rule-destination").inputValue(), NFCAPD);
  await shot(page, "02-typo-refused");
  // Fixed: the error goes away as it is typed.
  await page.fill("#rule-filter", "");
  await page.locator("#rule-filter").pressSequentially("proto tcp", { delay: 20 });
  await page.waitForFunction(() => document.getElementById("rule-filter").getAttribute("data-state") === "ok", null, { timeout: 10000 });
  assert.ok(await page.locator("#filter-error").isHidden());
  await Promise.all([page.waitForNavigation(), page.click("#rule-submit")]);
  assert.ok(page.url().includes("done=created"), page.url());
  const row = page.locator('tr[data-rule="tcp-to-nfcapd"]');
  assert.equal(await row.count(), 1);
  assert.match(await row.innerText(), /proto tcp/);

  // Flows through the collector; the collector reloaded the rule within a second.
  await page.waitForTimeout(1500);
  execFileSync(SIM, ["--exporters", "2", "--protocol", "netflow_v9", "--count", FLOWS, "--no-pacing",
    "--seed", "11", "-q", "--target", COLLECTOR], { stdio: "inherit" });

  // The counters move on the page (snapshots every 10 s, page refresh every 2 s).
  await page.waitForFunction(() => {
    const c = document.querySelector('tr[data-rule="tcp-to-nfcapd"] [data-counter="sent"]');
    return c && Number(c.textContent) > 0;
  }, null, { timeout: 40000 });
  // Then until they stop changing across a snapshot.
  let last = -1;
  for (let i = 0; i < 10; i++) {
    const m = await counter(page, "tcp-to-nfcapd", "matched");
    if (m === last && m > 0) break;
    last = m;
    await page.waitForTimeout(11000);
  }
  const seen = {
    matched: await counter(page, "tcp-to-nfcapd", "matched"),
    sent: await counter(page, "tcp-to-nfcapd", "sent"),
    dropped: await counter(page, "tcp-to-nfcapd", "dropped"),
    health: await page.locator('tr[data-rule="tcp-to-nfcapd"] [data-counter="health"]').innerText(),
  };
  console.log(`counters on the page: ${JSON.stringify(seen)}`);
  assert.match(seen.health, /: up/);
  fs.writeFileSync(path.join(ARTIFACTS, "counters.json"), JSON.stringify(seen));
  await shot(page, "03-counters");

  // Disable, then enable again.
  await Promise.all([page.waitForNavigation(), row.locator('[data-test="toggle"]').click()]);
  assert.ok(page.url().includes("done=disabled"), page.url());
  assert.equal(await page.locator('tr[data-rule="tcp-to-nfcapd"] [data-enabled]').getAttribute("data-enabled"), "false");
  await Promise.all([page.waitForNavigation(), row.locator('[data-test="toggle"]').click()]);
  assert.equal(await page.locator('tr[data-rule="tcp-to-nfcapd"] [data-enabled]').getAttribute("data-enabled"), "true");

  // Delete (the confirmation is accepted).
  await Promise.all([page.waitForNavigation(), row.locator('[data-test="delete"]').click()]);
  assert.ok(page.url().includes("done=deleted"), page.url());
  assert.equal(await page.locator('tr[data-rule="tcp-to-nfcapd"]').count(), 0);
  await shot(page, "04-deleted");
  assert.deepEqual(errors, [], "no script errors");
  await context.close();
});
