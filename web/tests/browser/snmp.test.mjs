// SNMP names in headless Chromium. Run by web/tests/browser_snmp.rs, which starts the
// collector, the console and Debian's snmpd, and passes FV_URL, FV_ADMIN_USER,
// FV_ADMIN_PASSWORD, FV_CHROMIUM, FV_ARTIFACTS, FV_NETFLOW_PORT (the collector's UDP
// port), FV_SNMP_PORT (the agent's) and the agent's names and v3 users as JSON in
// FV_SNMP. Exporters are loopback addresses this script sends NetFlow v5 from.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import dgram from "node:dgram";
import path from "node:path";
import { api, launchChromium, loggedIn } from "./session.mjs";

const URL = process.env.FV_URL;
const ARTIFACTS = process.env.FV_ARTIFACTS;
const NF_PORT = Number(process.env.FV_NETFLOW_PORT);
const SNMP_PORT = Number(process.env.FV_SNMP_PORT);
const AGENT = JSON.parse(process.env.FV_SNMP || "{}");
let browser;

before(async () => {
  assert.ok(URL && ARTIFACTS && NF_PORT && SNMP_PORT && AGENT.sys_name, "environment from web/tests/browser_snmp.rs");
  browser = await launchChromium();
});

after(async () => {
  if (browser) await browser.close();
});

// One NetFlow v5 datagram of `n` flows in on ifIndex 1, sent from `source`.
function sendV5(source, n, seq) {
  const buf = Buffer.alloc(24 + 48 * n);
  const now = Date.now();
  buf.writeUInt16BE(5, 0);
  buf.writeUInt16BE(n, 2);
  buf.writeUInt32BE(100000, 4);
  buf.writeUInt32BE(Math.floor(now / 1000), 8);
  buf.writeUInt32BE((now % 1000) * 1e6, 12);
  buf.writeUInt32BE(seq, 16);
  for (let i = 0; i < n; i++) {
    const o = 24 + 48 * i;
    buf.writeUInt32BE(0x0a000001 + i, o); // 10.0.0.x
    buf.writeUInt32BE(0xcb007109, o + 4); // 203.0.113.9
    buf.writeUInt16BE(1, o + 12); // input ifIndex 1 (lo on every Linux agent)
    buf.writeUInt16BE(0, o + 14);
    buf.writeUInt32BE(10, o + 16); // packets
    buf.writeUInt32BE(150000, o + 20); // bytes
    buf.writeUInt32BE(90000, o + 24);
    buf.writeUInt32BE(99000, o + 28);
    buf.writeUInt16BE(40000 + i, o + 32);
    buf.writeUInt16BE(443, o + 34);
    buf.writeUInt8(6, o + 38);
  }
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket("udp4");
    s.bind(0, source, () => s.send(buf, NF_PORT, "127.0.0.1", (e) => { s.close(); if (e) reject(e); else resolve(); }));
  });
}

async function waitFor(what, fn, ms = 60000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    assert.ok(Date.now() < end, `timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function exporterState(page, addr) {
  const r = await api(page, "/api/v1/exporters");
  assert.equal(r.status, 200, r.text);
  return JSON.parse(r.text).exporters.find((e) => e.exporter === addr);
}

const IF_LABEL = () => `${AGENT.lo_name} (${AGENT.lo_alias})`;

test("an exporter's first flows bring its names: exporter page and top-interfaces chart", async () => {
  const page = await loggedIn(browser, URL);
  const [user, authPw, privPw] = AGENT.v3_sha512;
  const r = await api(page, "/api/v1/exporters/127.0.0.2/snmp", {
    method: "PUT",
    body: JSON.stringify({ version: "3", user, auth_protocol: "SHA-512", auth_password: authPw,
      priv_protocol: "AES-256", priv_password: privPw, agent: "127.0.0.1", port: SNMP_PORT }),
  });
  assert.equal(r.status, 200, r.text);
  await sendV5("127.0.0.2", 20, 1);
  // No poll request: the schedule polls an exporter with credentials on its first flows.
  const e = await waitFor("the scheduled poll", async () => {
    const s = await exporterState(page, "127.0.0.2");
    return s && s.snmp.status === "ok" ? s : null;
  });
  assert.equal(e.sys_name, AGENT.sys_name);
  assert.equal(e.vendor, "net-snmp");
  assert.equal(e.product, "NET-SNMP-TC::linux");

  await page.goto(`${URL}/exporters`);
  const row = page.locator('#exporters-table tr[data-exporter="127.0.0.2"]');
  const text = await row.innerText();
  for (const want of [AGENT.sys_name, "127.0.0.2", "net-snmp", "NET-SNMP-TC::linux", "ok"]) assert.ok(text.includes(want), `${want} in ${text}`);

  await waitFor("the flows in the interface rollup", async () => {
    const r = await api(page, "/api/v1/exporters/127.0.0.2/interfaces?range=1h");
    return JSON.parse(r.text).interfaces?.length > 0;
  });
  await page.goto(`${URL}/exporters/127.0.0.2?range=1h`);
  assert.equal((await page.locator("#snmp-sys-name").innerText()).trim(), AGENT.sys_name);
  assert.equal((await page.locator("#snmp-vendor").innerText()).trim(), "net-snmp");
  assert.equal((await page.locator("#snmp-product").innerText()).trim(), "NET-SNMP-TC::linux");
  assert.ok((await page.title()).includes(AGENT.sys_name), await page.title());
  const chart = page.locator("#chart-top-interfaces");
  await page.waitForFunction(() => document.querySelector("#chart-top-interfaces")?.getAttribute("data-state") !== "loading");
  assert.equal(await chart.getAttribute("data-state"), "ready", await chart.getAttribute("data-error"));
  const labels = JSON.parse(await chart.getAttribute("data-labels"));
  assert.ok(labels.includes(IF_LABEL()), `chart labels ${JSON.stringify(labels)}`);
  const table = await page.locator("#interfaces-table").innerText();
  assert.ok(table.includes(IF_LABEL()) && table.includes("10.00 Mb/s"), table);
  await page.screenshot({ path: path.join(ARTIFACTS, "snmp-exporter.png"), fullPage: true });
  assert.deepEqual(page.jsErrors, []);
  await page.context().close();
});

test("admin sets credentials in the form: a wrong password shows its error, the right one the names", async () => {
  await sendV5("127.0.0.3", 5, 1);
  const page = await loggedIn(browser, URL);
  await waitFor("exporter 127.0.0.3", () => exporterState(page, "127.0.0.3"));
  await page.goto(`${URL}/exporters/127.0.0.3?range=1h`);
  assert.equal(await page.locator("#exporter-snmp").getAttribute("data-status"), "unconfigured");
  const [user, authPw, privPw] = AGENT.v3_sha256;
  const fill = async (auth) => {
    await page.click("#snmp-credentials-card summary");
    await page.selectOption("#snmp-version", "3");
    await page.fill("#snmp-user", user);
    await page.selectOption("#snmp-auth_protocol", "SHA-256");
    await page.fill("#snmp-auth_password", auth);
    await page.selectOption("#snmp-priv_protocol", "AES-128");
    await page.fill("#snmp-priv_password", privPw);
    await page.fill("#snmp-agent", "127.0.0.1");
    await page.fill("#snmp-port", String(SNMP_PORT));
    await Promise.all([page.waitForNavigation(), page.click("#snmp-credentials-submit")]);
  };
  await fill("wrong-password-1");
  assert.equal(await page.locator("#exporter-snmp").getAttribute("data-status"), "error");
  assert.equal(await page.locator("#snmp-error").getAttribute("data-kind"), "authentication");
  assert.match(await page.locator("#snmp-error").innerText(), /keys/);
  await page.screenshot({ path: path.join(ARTIFACTS, "snmp-wrong-password.png"), fullPage: true });
  await fill(authPw);
  assert.equal(await page.locator("#exporter-snmp").getAttribute("data-status"), "ok");
  assert.equal((await page.locator("#snmp-sys-name").innerText()).trim(), AGENT.sys_name);
  const html = await page.content();
  for (const s of [authPw, privPw, "wrong-password-1"]) assert.ok(!html.includes(s), "no secret in the page");
  await page.context().close();
});

test("a viewer sees names but no credentials, cannot poll and cannot upload MIBs", async () => {
  const admin = await loggedIn(browser, URL);
  const r = await api(admin, "/api/v1/users", {
    method: "POST",
    body: JSON.stringify({ username: "snmp-viewer", role: "viewer", prefixes: ["0.0.0.0/0"], groups: [], password: "snmp-viewer-one-time" }),
  });
  assert.equal(r.status, 201, r.text);
  await admin.context().close();
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${URL}/login`);
  await page.fill("#username", "snmp-viewer");
  await page.fill("#password", "snmp-viewer-one-time");
  await Promise.all([page.waitForNavigation(), page.click("#login-submit")]);
  await page.fill("#current_password", "snmp-viewer-one-time");
  await page.fill("#new_password", "snmp-viewer-chosen-pw");
  await page.fill("#confirm_password", "snmp-viewer-chosen-pw");
  await Promise.all([page.waitForNavigation(), page.click("#password-submit")]);
  await waitFor("the flows in the interface rollup", async () => {
    const r = await api(page, "/api/v1/exporters/127.0.0.2/interfaces?range=1h");
    return JSON.parse(r.text).interfaces?.length > 0;
  });
  await page.goto(`${URL}/exporters/127.0.0.2?range=1h`);
  assert.equal((await page.locator("#snmp-sys-name").innerText()).trim(), AGENT.sys_name);
  assert.equal(await page.locator("#snmp-credentials-card").count(), 0, "no credentials for viewers");
  assert.equal(await page.locator("#snmp-refresh").count(), 0, "no refresh for viewers");
  assert.ok(!(await page.content()).includes(AGENT.v3_sha512[0]), "not even the v3 user");
  const put = await api(page, "/api/v1/exporters/127.0.0.2/snmp", { method: "PUT", body: JSON.stringify({ version: "2c", community: "x-community" }) });
  assert.equal(put.status, 403, put.text);
  const st = JSON.parse((await api(page, "/api/v1/exporters/127.0.0.2/snmp")).text);
  assert.equal(st.credentials, undefined, JSON.stringify(st));
  await page.goto(`${URL}/mibs`);
  assert.equal(await page.locator("#mib-file").count(), 0, "no MIB upload for viewers");
  await page.screenshot({ path: path.join(ARTIFACTS, "snmp-viewer.png"), fullPage: true });
  await context.close();
});
