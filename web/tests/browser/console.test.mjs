// Browser tests of the FlowVision console in headless Chromium (Debian's chromium,
// driven by playwright-core). Run by web/tests/browser.rs, which starts PostgreSQL, the
// collector, sends flows from two simulated exporters through it over UDP, starts the
// web binary and passes: FV_URL, FV_ADMIN_USER, FV_ADMIN_PASSWORD, FV_EXPORTERS (JSON
// [{address, flows, bytes}] as the simulator sent them), FV_CHROMIUM, FV_ARTIFACTS
// (screenshot directory).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { api, launchChromium } from "./session.mjs";

const URL = process.env.FV_URL;
const ADMIN = process.env.FV_ADMIN_USER;
const ADMIN_PW = process.env.FV_ADMIN_PASSWORD;
const EXPORTERS = JSON.parse(process.env.FV_EXPORTERS || "[]");
const ARTIFACTS = process.env.FV_ARTIFACTS;
const [A, B] = EXPORTERS;

let browser;
const shots = [];

before(async () => {
  assert.ok(URL && ADMIN && ADMIN_PW && ARTIFACTS && EXPORTERS.length === 2, "environment from web/tests/browser.rs");
  browser = await launchChromium();
});

after(async () => {
  if (browser) await browser.close();
  for (const s of shots) console.log(`screenshot: ${s}`);
});

async function newPage() {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 }, acceptDownloads: true });
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

async function login(page, user, pw) {
  await page.goto(`${URL}/login`);
  await page.fill("#username", user);
  await page.fill("#password", pw);
  await Promise.all([page.waitForNavigation(), page.click("#login-submit")]);
  assert.ok(!page.url().includes("/login"), `login of ${user} failed: ${page.url()}`);
}

// Logs in with a one-time password and chooses a new one (the console insists).
async function firstLogin(page, user, otp, chosen) {
  await login(page, user, otp);
  assert.ok(page.url().includes("/account/password"), `one-time password leads to the password page: ${page.url()}`);
  await page.fill("#current_password", otp);
  await page.fill("#new_password", chosen);
  await page.fill("#confirm_password", chosen);
  await Promise.all([page.waitForNavigation(), page.click("#password-submit")]);
}

async function chartsReady(page) {
  const canvases = page.locator("canvas[data-chart]");
  const n = await canvases.count();
  assert.ok(n > 0, `charts on ${page.url()}`);
  await page.waitForFunction(
    () => [...document.querySelectorAll("canvas[data-chart]")].every((c) => c.getAttribute("data-state") !== null),
    null,
    { timeout: 20000 },
  );
  for (let i = 0; i < n; i++) {
    const c = canvases.nth(i);
    assert.equal(await c.getAttribute("data-state"), "ready", `chart ${i} on ${page.url()}: ${await c.getAttribute("data-error")}`);
    // A traffic pattern shows complete 5-minute slots only: flows sent a minute ago
    // may all sit in the current one, so on a fresh appliance it may be empty yet.
    if ((await c.getAttribute("data-chart")) !== "pattern") {
      assert.ok(Number(await c.getAttribute("data-nonzero-points")) > 0, `chart ${i} on ${page.url()} has data`);
    }
    const box = await c.boundingBox();
    assert.ok(box && box.width > 200 && box.height > 100, `chart ${i} is drawn at a visible size`);
  }
  return n;
}


const totalBytes = EXPORTERS.reduce((s, e) => s + e.bytes, 0);
let viewerPw, analystPw;

test("admin logs in and sees the overview charts with the flows sent through the collector", async () => {
  const page = await newPage();
  await login(page, ADMIN, ADMIN_PW);
  await page.goto(`${URL}/?range=1h`);
  await page.waitForSelector("#range-picker");
  await chartsReady(page);
  const shown = Number(await page.locator("#total-bytes").getAttribute("data-value"));
  assert.equal(shown, totalBytes, "overview bytes = what the simulator sent (1:1 sampling)");
  for (const e of EXPORTERS) {
    const r = await api(page, `/api/v1/traffic?range=1h&exporter=${e.address}`);
    assert.equal(r.status, 200, r.text);
    const j = JSON.parse(r.text);
    assert.equal(j.total_bytes, e.bytes, `${e.address} bytes`);
    assert.equal(j.total_flows, e.flows, `${e.address} flows`);
  }
  await shot(page, "01-overview");
  for (const [p, name] of [["/talkers?range=1h", "02-talkers"], ["/services?range=1h", "03-services"],
    ["/protocols?range=1h", "04-protocols"], ["/as?range=1h", "05-as"], ["/exporters", "06-exporters"],
    [`/exporters/${A.address}?range=1h`, "07-exporter"], ["/collector", "09-collector"], ["/admin/users", "10-users"],
    ["/admin/audit", "11-audit"], ["/account", "12-account"], ["/api_docs", "13-api-docs"]]) {
    const r = await page.goto(`${URL}${p}`);
    assert.equal(r.status(), 200, p);
    if (await page.locator("canvas[data-chart]").count()) await chartsReady(page);
    await shot(page, name);
  }
  const exporters = await page.locator("#exporters-table").innerText().catch(() => "");
  // The exporters page lists both exporters.
  await page.goto(`${URL}/exporters`);
  const table = await page.locator("#exporters-table").innerText();
  for (const e of EXPORTERS) assert.ok(table.includes(e.address), `exporters page lists ${e.address}`);
  void exporters;
  // One interface of exporter A (its interfaces table links to the interface pages).
  await page.goto(`${URL}/exporters/${A.address}?range=1h`);
  const link = page.locator("#interfaces-table a").first();
  if (await link.count()) {
    await Promise.all([page.waitForNavigation(), link.click()]);
    await chartsReady(page);
    await shot(page, "08-interface");
  }
  assert.deepEqual(page.jsErrors, [], "no JavaScript errors (CSP violations included)");
  await page.context().close();
});

test("flow search and CSV export", async () => {
  const page = await newPage();
  await login(page, ADMIN, ADMIN_PW);
  await page.goto(`${URL}/flows`);
  await page.fill("#f-from", new Date(Date.now() - 3600e3).toISOString());
  await page.fill("#f-exporter", B.address);
  await Promise.all([page.waitForNavigation(), page.click("#flow-search-submit")]);
  const rows = page.locator('#flow-results tr[data-test="row"]');
  const n = await rows.count();
  assert.ok(n > 0, "search finds flows");
  for (let i = 0; i < n; i++) assert.equal(await rows.nth(i).getAttribute("data-exporter"), B.address);
  await shot(page, "14-flow-search");
  const [download] = await Promise.all([page.waitForEvent("download"), page.click("#flow-export")]);
  const file = path.join(ARTIFACTS, "export-admin.csv");
  await download.saveAs(file);
  const lines = fs.readFileSync(file, "utf8").trim().split(/\r?\n/);
  const header = lines[0].split(",");
  const ex = header.indexOf("exporter");
  const bytes = header.findIndex((h) => h.startsWith("bytes"));
  assert.ok(ex >= 0 && bytes >= 0, `CSV header: ${lines[0]}`);
  assert.equal(lines.length - 1, B.flows, "CSV has every flow of the exporter in the last hour");
  let sum = 0;
  for (const l of lines.slice(1)) {
    const f = l.split(",");
    assert.equal(f[ex], B.address);
    sum += Number(f[bytes]);
  }
  assert.equal(sum, B.bytes, "CSV bytes add up to what the exporter sent");
  console.log(`CSV export: ${lines.length - 1} rows, ${sum} bytes (${file})`);
  await page.context().close();
});

test("admin creates a viewer and an analyst scoped to exporter A", async () => {
  const page = await newPage();
  await login(page, ADMIN, ADMIN_PW);
  await page.goto(`${URL}/account`);
  for (const [name, role] of [["scoped-viewer", "viewer"], ["scoped-analyst", "analyst"]]) {
    const r = await api(page, "/api/v1/users", {
      method: "POST",
      body: JSON.stringify({ username: name, role, prefixes: [A.address], groups: [], password: `${name}-one-time-pw` }),
    });
    assert.equal(r.status, 201, r.text);
  }
  await page.context().close();
  viewerPw = "scoped-viewer-chosen-pw";
  analystPw = "scoped-analyst-chosen-pw";
  for (const [name, pw] of [["scoped-viewer", viewerPw], ["scoped-analyst", analystPw]]) {
    const p = await newPage();
    await firstLogin(p, name, `${name}-one-time-pw`, pw);
    await p.context().close();
  }
});

test("a viewer scoped to exporter A never sees exporter B in pages, API or CSV", async () => {
  const page = await newPage();
  await login(page, "scoped-viewer", viewerPw);
  await page.goto(`${URL}/?range=1h`);
  await chartsReady(page);
  assert.equal(Number(await page.locator("#total-bytes").getAttribute("data-value")), A.bytes, "overview = exporter A only");
  await shot(page, "15-viewer-overview");
  const pages = ["/?range=1h", "/talkers?range=1h", "/services?range=1h", "/protocols?range=1h", "/as?range=1h",
    "/exporters", `/exporters/${A.address}?range=1h`, "/account"];
  for (const p of pages) {
    const r = await page.goto(`${URL}${p}`);
    assert.equal(r.status(), 200, p);
    const html = await page.content();
    assert.ok(!html.includes(B.address), `${p} mentions ${B.address}`);
  }
  await page.goto(`${URL}/exporters`);
  assert.ok((await page.locator("#exporters-table").innerText()).includes(A.address));
  await shot(page, "16-viewer-exporters");
  const other = await page.goto(`${URL}/exporters/${B.address}`);
  assert.equal(other.status(), 404, "exporter B is unknown to the viewer");
  for (const p of ["/api/v1/traffic?range=1h", "/api/v1/top/talkers?range=1h", "/api/v1/top/services?range=1h",
    "/api/v1/top/protocols?range=1h", "/api/v1/top/as?range=1h", "/api/v1/exporters", `/api/v1/exporters/${A.address}`,
    `/api/v1/exporters/${A.address}/interfaces`, "/api/v1/me"]) {
    const r = await api(page, p);
    assert.equal(r.status, 200, `${p}: ${r.text}`);
    assert.ok(!r.text.includes(B.address), `${p} mentions ${B.address}`);
  }
  const t = JSON.parse((await api(page, "/api/v1/traffic?range=1h")).text);
  assert.equal(t.total_bytes, A.bytes);
  // Filtering on B narrows the scope to nothing: no traffic (or 404), never B's.
  const tb = await api(page, `/api/v1/traffic?range=1h&exporter=${B.address}`);
  assert.ok(tb.status === 404 || (tb.status === 200 && JSON.parse(tb.text).total_bytes === 0), `traffic of B: ${tb.text}`);
  assert.equal((await api(page, `/api/v1/exporters/${B.address}`)).status, 404);
  // Raw flows are not a viewer's permission at all.
  assert.equal((await api(page, "/api/v1/flows/export")).status, 403);
  assert.equal((await api(page, "/api/v1/flows")).status, 403);
  await page.context().close();

  // The analyst with the same scope: search and CSV hold exporter A's flows only.
  const ap = await newPage();
  await login(ap, "scoped-analyst", analystPw);
  const from = new Date(Date.now() - 3600e3).toISOString();
  await ap.goto(`${URL}/flows?from=${encodeURIComponent(from)}`);
  const rows = ap.locator('#flow-results tr[data-test="row"]');
  assert.ok((await rows.count()) > 0);
  for (let i = 0; i < (await rows.count()); i++) assert.equal(await rows.nth(i).getAttribute("data-exporter"), A.address);
  assert.ok(!(await ap.content()).includes(B.address));
  await shot(ap, "17-analyst-flow-search");
  const [download] = await Promise.all([ap.waitForEvent("download"), ap.click("#flow-export")]);
  const file = path.join(ARTIFACTS, "export-scoped-analyst.csv");
  await download.saveAs(file);
  const text = fs.readFileSync(file, "utf8");
  const lines = text.trim().split(/\r?\n/);
  assert.equal(lines.length - 1, A.flows, "scoped CSV has exactly exporter A's flows");
  assert.ok(!text.includes(B.address), "scoped CSV never mentions exporter B");
  // Asking for B explicitly gives nothing.
  const r = await api(ap, `/api/v1/flows/export?from=${encodeURIComponent(from)}&exporter=${B.address}`);
  assert.ok(!r.text.includes(B.address), `explicit exporter B: ${r.status}`);
  const j = await api(ap, `/api/v1/flows?from=${encodeURIComponent(from)}&exporter=${B.address}`);
  assert.ok(!j.text.includes(B.address), `explicit exporter B (JSON): ${j.status}`);
  console.log(`scoped analyst: ${lines.length - 1} CSV rows, all from ${A.address}`);
  await ap.context().close();
});

test("logged-out requests to pages and the API are refused", async () => {
  const page = await newPage();
  const ctx = page.context();
  for (const p of ["/", "/talkers", "/services", "/protocols", "/as", "/exporters", `/exporters/${A.address}`, "/flows",
    "/flows/export", "/collector", "/account", "/admin/users", "/admin/audit", "/api_docs"]) {
    const r = await ctx.request.get(`${URL}${p}`, { maxRedirects: 0 });
    assert.ok(r.status() === 303 || r.status() === 401, `${p}: ${r.status()}`);
    if (r.status() === 303) assert.ok(r.headers()["location"].startsWith("/login"), `${p} redirects to the login`);
    assert.ok(!(await r.text()).includes(A.address), `${p} leaks data`);
  }
  for (const p of ["/api/v1/me", "/api/v1/traffic", "/api/v1/top/talkers", "/api/v1/exporters", "/api/v1/flows",
    "/api/v1/flows/export", "/api/v1/collector/stats", "/api/v1/users", "/api/v1/audit", "/api/v1/tokens"]) {
    const r = await ctx.request.get(`${URL}${p}`, { maxRedirects: 0 });
    assert.equal(r.status(), 401, p);
  }
  // In the browser: a page visit lands on the login form.
  await page.goto(`${URL}/flows`);
  assert.ok(page.url().includes("/login"));
  await page.waitForSelector("#login-form");
  await shot(page, "00-login");
  await ctx.close();
});

test("form posts without the CSRF token are refused", async () => {
  const page = await newPage();
  await login(page, ADMIN, ADMIN_PW);
  const before = JSON.parse((await api(page, "/api/v1/users")).text);
  // A cross-site style post: the session cookie rides along, the token does not.
  const posts = [
    ["/admin/users", { username: "csrf-victim", role: "admin", password: "csrf-victim-password-1" }],
    ["/account/tokens", { name: "csrf-token", expires_days: "1" }],
    ["/account/password", { current_password: ADMIN_PW, new_password: "stolen-password-123", confirm_password: "stolen-password-123" }],
    ["/logout", {}],
  ];
  for (const [p, form] of posts) {
    const r = await page.context().request.post(`${URL}${p}`, { form, maxRedirects: 0 });
    assert.equal(r.status(), 403, `${p} without CSRF token: ${r.status()}`);
    const w = await page.context().request.post(`${URL}${p}`, { form: { ...form, csrf: "forged" }, maxRedirects: 0 });
    assert.equal(w.status(), 403, `${p} with a wrong CSRF token: ${w.status()}`);
  }
  // API writes by cookie without X-CSRF-Token.
  const r = await page.context().request.post(`${URL}/api/v1/tokens`, { data: { name: "x" }, maxRedirects: 0 });
  assert.equal(r.status(), 403);
  // Nothing changed, and the session still works (logout was refused).
  const after = JSON.parse((await api(page, "/api/v1/users")).text);
  assert.deepEqual(after, before);
  await page.goto(`${URL}/account`);
  assert.ok(page.url().endsWith("/account"));
  // The login form itself without its double-submit token.
  const fresh = await browser.newContext();
  const lr = await fresh.request.post(`${URL}/login`, { form: { username: ADMIN, password: ADMIN_PW }, maxRedirects: 0 });
  assert.equal(lr.status(), 403, "login post without CSRF");
  await fresh.close();
  // A real logout (with the token) ends the session.
  await Promise.all([page.waitForNavigation(), page.click("#logout")]);
  const me = await page.context().request.get(`${URL}/api/v1/me`);
  assert.equal(me.status(), 401);
  await page.context().close();
});
