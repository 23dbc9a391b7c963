// Browser test of the simulations page in headless Chromium (playwright-core). Run by
// web/tests/browser_simulations.rs, which starts PostgreSQL, the collector and the
// console (SIM_DEFAULT_TARGET = the collector's NetFlow port) and passes FV_URL,
// FV_ADMIN_USER, FV_ADMIN_PASSWORD, FV_CHROMIUM, FV_ARTIFACTS. It starts a simulation
// with one anomaly from the form, watches its progress move, sees its flows on the
// overview and its label in the run (and follows the label's dashboard link), stops
// it, and is refused a target outside the allow-list.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { launchChromium } from "./session.mjs";

const URL = process.env.FV_URL;
const ADMIN = process.env.FV_ADMIN_USER;
const ADMIN_PW = process.env.FV_ADMIN_PASSWORD;
const ARTIFACTS = process.env.FV_ARTIFACTS;

let browser;
const shots = [];

before(async () => {
  assert.ok(URL && ADMIN && ADMIN_PW && ARTIFACTS, "environment from web/tests/browser_simulations.rs");
  browser = await launchChromium();
});

after(async () => {
  if (browser) await browser.close();
  for (const s of shots) console.log(`screenshot: ${s}`);
});

async function newPage() {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  page.jsErrors = errors;
  return page;
}

async function shot(page, name) {
  const file = path.join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  shots.push(file);
}

async function login(page) {
  await page.goto(`${URL}/login`);
  await page.fill("#username", ADMIN);
  await page.fill("#password", ADMIN_PW);
  await Promise.all([page.waitForNavigation(), page.click("#login-submit")]);
  assert.ok(!page.url().includes("/login"), `login failed: ${page.url()}`);
}

async function flowsOf(page) {
  return Number(await page.getAttribute("#sim-flows", "data-flows"));
}

test("start a simulation with one anomaly, watch it, see its flows and label, stop it", async () => {
  const page = await newPage();
  await login(page);
  await page.click('[data-test="nav-simulations"]');
  await page.waitForSelector("#sim-form");
  await page.fill("#rate", "1500");
  await page.fill("#duration", "5m");
  await page.fill("#netflow_v9", "2");
  await page.selectOption("#diurnal", "off");
  await page.selectOption("#anomaly_kind", "port_scan");
  await page.fill("#anomaly_start", "2s");
  await page.fill("#anomaly_duration", "2m");
  await page.fill("#anomaly_exporter", "0");
  await shot(page, "01-simulation-form");
  await Promise.all([page.waitForNavigation(), page.click("#sim-start")]);
  assert.match(page.url(), /\/simulations\/\d+$/, "the run's page");
  const runUrl = page.url();

  // Progress moves (the page polls the API every second).
  await page.waitForFunction(() => Number(document.querySelector("#sim-flows").getAttribute("data-flows")) > 0,
                             null, { timeout: 20000 });
  const f1 = await flowsOf(page);
  await page.waitForFunction((f) => Number(document.querySelector("#sim-flows").getAttribute("data-flows")) > f,
                             f1, { timeout: 20000 });
  const f2 = await flowsOf(page);
  const rate = await page.textContent("#sim-rate");
  const lateness = await page.textContent("#sim-lateness");
  console.log(`progress: ${f1} -> ${f2} flows, ${rate}, lateness p50/p99/max ${lateness}`);
  assert.ok(f2 > f1);
  assert.equal(await page.textContent("#sim-state"), "running");

  // Its label, with a link to the dashboard window.
  await page.waitForSelector('#sim-labels tr[data-kind="port_scan"] a.label-link', { timeout: 20000 });
  const link = await page.getAttribute('#sim-labels tr[data-kind="port_scan"] a.label-link', "href");
  assert.match(link, /^\/\?from=\d+&to=\d+&exporter=/);
  await shot(page, "02-simulation-running");

  // Its flows on the overview (stored by the real collector, read from the rollups).
  let flows = 0;
  for (let i = 0; i < 60 && flows === 0; i++) {
    await page.goto(`${URL}/?range=15m`);
    flows = Number(await page.getAttribute("#total-flows", "data-value"));
    if (flows === 0) await page.waitForTimeout(1000);
  }
  console.log(`overview: ${flows} flows in the last 15 minutes`);
  assert.ok(flows > 0, "the simulation's flows reach the overview");
  await shot(page, "03-overview-with-simulated-flows");
  // The label's link: the overview of the anomaly's exporter over its window.
  await page.goto(`${URL}${link}`);
  const windowFlows = Number(await page.getAttribute("#total-flows", "data-value"));
  console.log(`label window: ${windowFlows} flows of the anomaly's exporter`);
  assert.ok(windowFlows > 0);
  await shot(page, "04-label-window");

  // Stop it.
  await page.goto(runUrl);
  await page.waitForSelector("#sim-stop");
  await Promise.all([page.waitForNavigation(), page.click("#sim-stop")]);
  assert.equal((await page.textContent("#sim-state")).trim(), "cancelled");
  assert.equal(await page.locator("#sim-stop").count(), 0, "no stop button once stopped");
  assert.ok(await page.locator('#sim-labels tr[data-kind="port_scan"]').count() === 1, "the label stays in the history");
  await shot(page, "05-simulation-stopped");
  await page.goto(`${URL}/simulations`);
  const state = await page.getAttribute("#sim-runs tbody tr", "data-state");
  assert.equal(state, "cancelled");
  assert.deepEqual(page.jsErrors, [], "no script errors");
});

test("a target outside the allow-list is refused by the form", async () => {
  const page = await newPage();
  await login(page);
  await page.goto(`${URL}/simulations`);
  await page.fill("#target", "192.0.2.99:2055");
  await page.fill("#rate", "100");
  await page.fill("#duration", "10s");
  await Promise.all([page.waitForNavigation(), page.click("#sim-start")]);
  const msg = await page.textContent("#sim-error");
  assert.match(msg, /not on the simulation allow-list/);
  await shot(page, "06-target-refused");
});
