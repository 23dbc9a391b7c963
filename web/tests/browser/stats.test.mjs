// Filter search and nfdump-style statistics in headless Chromium. Run by
// web/tests/browser_stats.rs, which stores simulated flows through the real collector
// and passes FV_URL, FV_ADMIN_USER, FV_ADMIN_PASSWORD, FV_CHROMIUM, FV_ARTIFACTS and
// FV_TCP443 (flows stored with proto 6 and destination port 443, counted in SQL).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { launchChromium, loggedIn as login } from "./session.mjs";

const URL = process.env.FV_URL;
const ARTIFACTS = process.env.FV_ARTIFACTS;
const TCP443 = Number(process.env.FV_TCP443);
let browser;

before(async () => {
  assert.ok(URL && ARTIFACTS && TCP443 > 0, "environment from web/tests/browser_stats.rs");
  browser = await launchChromium();
});

after(async () => {
  if (browser) await browser.close();
});

function loggedIn() {
  return login(browser, URL);
}

async function apiJson(page, url) {
  const r = await page.request.get(`${URL}${url}`);
  assert.equal(r.status(), 200, `${url}: ${await r.text()}`);
  return r.json();
}

test("a filter with a typo points at the token; fixed, the rows are the API's", async () => {
  const page = await loggedIn();
  await page.goto(`${URL}/flows`);
  await page.fill("#f-filter", "proto tcp and dst prt 443");
  await Promise.all([page.waitForNavigation(), page.click("#flow-search-submit")]);
  const err = await page.textContent("#flow-error");
  assert.match(err, /position 18/, err);
  assert.match(err, /prt/, err);
  await page.screenshot({ path: path.join(ARTIFACTS, "flows-filter-error.png"), fullPage: true });

  const from = new Date(Date.now() - 3600_000).toISOString();
  await page.fill("#f-filter", "proto tcp and dst port https");
  await page.fill("#f-from", from);
  await Promise.all([page.waitForNavigation(), page.click("#flow-search-submit")]);
  assert.equal(await page.locator("#flow-error").count(), 0, "no error once fixed");
  assert.equal(await page.textContent("#flow-expression"), "proto tcp and dst port https");
  const shown = await page.locator("tr[data-test=row]").count();
  const api = await apiJson(page, `/api/v1/flows?filter=${encodeURIComponent("proto tcp and dst port 443")}&from=${encodeURIComponent(from)}&page_size=100`);
  assert.equal(shown, api.rows.length, "the page shows the API's first page");
  assert.equal(shown, Math.min(100, TCP443), "and that is what SQL counted");
  const firstExporter = await page.locator("tr[data-test=row]").first().getAttribute("data-exporter");
  assert.equal(firstExporter, api.rows[0].exporter);
  console.log(`filter search: ${shown} rows shown, API ${api.rows.length}, stored ${TCP443}`);
  await page.screenshot({ path: path.join(ARTIFACTS, "flows-filter.png"), fullPage: true });
  assert.deepEqual(page.jsErrors, []);
});

test("a statistics query from the form equals /api/v1/stats and its CSV", async () => {
  const page = await loggedIn();
  await page.goto(`${URL}/stats`);
  assert.equal(await page.locator("#stats-results").count(), 0, "no query before the form is sent");
  const from = new Date(Date.now() - 3600_000).toISOString();
  const filter = "proto tcp or proto udp";
  await page.selectOption("#s-key", "dstport");
  await page.selectOption("#s-order", "flows");
  await page.fill("#s-limit", "10");
  await page.fill("#s-from", from);
  await page.fill("#s-filter", filter);
  await Promise.all([page.waitForNavigation(), page.click("#stats-submit")]);
  const rows = await page.locator("tr[data-test=stat-row]").evaluateAll((trs) =>
    trs.map((tr) => ({
      key: tr.getAttribute("data-key"),
      flows: Number(tr.querySelector("td.flows").textContent),
      bytes: Number(tr.querySelector("td.bytes").textContent),
      packets: Number(tr.querySelector("td.packets").textContent),
    })));
  // The page's own range: its `to` was "now" when it ran; the API gets the same from
  // and an explicit to of the page's answer, so both cover the same flows.
  const range = await page.textContent("#stats-range");
  const to = range.split(" to ")[1].split(":").slice(0, 3).join(":").trim();
  const q = `key=dstport&order=flows&limit=10&from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}&filter=${encodeURIComponent(filter)}`;
  const api = await apiJson(page, `/api/v1/stats?${q}`);
  const want = api.rows.map((r) => ({ key: r.key, flows: r.flows, bytes: r.bytes, packets: r.packets }));
  assert.ok(rows.length > 0 && rows.length <= 10, `rows shown: ${rows.length}`);
  assert.deepEqual(rows, want, "the table is the API's answer");
  assert.equal(Number(await page.textContent("#stats-total-flows")), api.total.flows);
  console.log(`statistics: ${rows.length} rows shown equal to the API (top ${rows[0].key}: ${rows[0].flows} flows), total ${api.total.flows}`);
  await page.screenshot({ path: path.join(ARTIFACTS, "stats.png"), fullPage: true });

  const href = await page.getAttribute("#stats-export", "href");
  const csv = await (await page.request.get(`${URL}${href}`)).text();
  const lines = csv.trim().split("\n");
  assert.equal(lines[0], "key,flows,bytes,packets,bytes_scaled,packets_scaled");
  assert.equal(lines.length - 1, rows.length);
  assert.equal(lines[1].split(",").slice(0, 4).join(","), `${rows[0].key},${rows[0].flows},${rows[0].bytes},${rows[0].packets}`);
  assert.deepEqual(page.jsErrors, []);
});
