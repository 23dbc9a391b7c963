// Insights in headless Chromium. Run by web/tests/browser_insights.rs, which starts the
// appliance with the insights engine on and sends simulated NetFlow v9 from two
// exporters through the real collector while a SYN flood hits a server behind
// exporter A. Environment: FV_URL, FV_ADMIN_USER, FV_ADMIN_PASSWORD, FV_CHROMIUM,
// FV_ARTIFACTS, FV_EXPORTER_A, FV_EXPORTER_B, FV_VICTIM (the flood's target, from
// the simulator's labels).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { launchChromium, loggedIn, api } from "./session.mjs";

const URL = process.env.FV_URL;
const ARTIFACTS = process.env.FV_ARTIFACTS;
const A = process.env.FV_EXPORTER_A;
const B = process.env.FV_EXPORTER_B;
const VICTIM = process.env.FV_VICTIM;
let browser;

before(async () => {
  assert.ok(URL && ARTIFACTS && A && B && VICTIM, "environment from web/tests/browser_insights.rs");
  browser = await launchChromium();
});

after(async () => {
  if (browser) await browser.close();
});

async function loginAs(user, pw) {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  page.jsErrors = [];
  page.on("pageerror", (e) => page.jsErrors.push(String(e)));
  await page.goto(`${URL}/login`);
  await page.fill("#username", user);
  await page.fill("#password", pw);
  await Promise.all([page.waitForNavigation(), page.click("#login-submit")]);
  return page;
}

test("the flood appears on the insights page with its why, and on the overview chart", async () => {
  const page = await loggedIn(browser, URL);
  // The engine runs every 5 s over the last minute of flow time: reload until it is there.
  const row = `tr[data-test=insight][data-kind=syn_flood]`;
  const deadline = Date.now() + 90_000;
  for (;;) {
    await page.goto(`${URL}/insights`);
    if (await page.locator(row).count()) break;
    assert.ok(Date.now() < deadline, `no syn_flood on the insights page after 90 s: ${await page.locator("#insights").innerText()}`);
    await page.waitForTimeout(3000);
  }
  const first = page.locator(row).first();
  assert.equal((await first.locator("td.target").innerText()).trim(), VICTIM);
  const why = await first.locator("td.why").innerText();
  assert.match(why, new RegExp(VICTIM.replaceAll(".", "\\.")), why);
  assert.match(why, /syn_only_packets_per_s/, why);
  const exporter = await first.locator("td").nth(4).innerText();
  assert.equal(exporter.trim(), A);
  await page.screenshot({ path: path.join(ARTIFACTS, "insights-page.png"), fullPage: true });

  // Acknowledge from the row; the filter for open ones then hides it.
  await Promise.all([page.waitForNavigation(), first.locator("button[data-test=acknowledge]").click()]);
  assert.match(await page.locator(row).first().innerText(), /acknowledged by/);
  await page.selectOption("#i-state", "false");
  await Promise.all([page.waitForNavigation(), page.click("#insights-submit")]);
  assert.equal(await page.locator(row).count(), 0, "acknowledged insights are not open");

  await page.goto(`${URL}/?range=1h`);
  await page.waitForFunction(() => document.querySelector("#chart-traffic")?.getAttribute("data-state") === "ready", null, { timeout: 20000 });
  const drawn = Number(await page.locator("#chart-traffic").getAttribute("data-markers-drawn"));
  assert.ok(drawn >= 1, `insight markers drawn on the overview chart: ${drawn}`);
  assert.match(await page.locator("#chart-insights").innerText(), /insight/);
  await page.screenshot({ path: path.join(ARTIFACTS, "overview-markers.png"), fullPage: true });
  assert.deepEqual(page.jsErrors, [], "no JavaScript errors");

  // A viewer scoped to exporter B sees no insight of A, on the page, the chart or the API.
  const r = await api(page, "/api/v1/users", {
    method: "POST",
    body: JSON.stringify({ username: "viewer-b", role: "viewer", prefixes: [B], groups: [], password: "viewer-b-one-time-pw" }),
  });
  assert.equal(r.status, 201, r.text);
  await page.context().close();
  const viewer = await loginAs("viewer-b", "viewer-b-one-time-pw");
  await viewer.fill("#current_password", "viewer-b-one-time-pw");
  await viewer.fill("#new_password", "viewer-b-chosen-password");
  await viewer.fill("#confirm_password", "viewer-b-chosen-password");
  await Promise.all([viewer.waitForNavigation(), viewer.click("#password-submit")]);
  await viewer.goto(`${URL}/insights`);
  assert.equal(await viewer.locator(row).count(), 0, "exporter A's flood is not in B's scope");
  assert.equal(await viewer.locator("button[data-test=acknowledge], button[data-test=reopen]").count(), 0);
  await viewer.goto(`${URL}/?range=1h`);
  assert.equal(await viewer.locator("#chart-insights").getAttribute("data-count"), "0");
  const list = await api(viewer, "/api/v1/insights");
  assert.equal(list.status, 200, list.text);
  assert.ok(JSON.parse(list.text).insights.every((i) => i.exporter === B), list.text);
  await viewer.screenshot({ path: path.join(ARTIFACTS, "insights-viewer.png"), fullPage: true });
  await viewer.context().close();
});
