// Shared by the browser tests (not a test itself: each test file is run by name):
// Chromium started as these machines allow, and a page logged in as the admin whose
// credentials the Rust side passes (FV_ADMIN_USER, FV_ADMIN_PASSWORD).
import assert from "node:assert/strict";
import { chromium } from "playwright-core";

/** Headless Chromium from FV_CHROMIUM (Debian's /usr/bin/chromium by default).
 *
 * Started up to three times: on a loaded CI machine Debian's Chromium has died of
 * SIGSEGV during start-up, before the test had done anything (a browser that starts
 * and then misbehaves still fails the test; only the launch is retried, and each
 * failed launch is printed). */
export async function launchChromium() {
  const attempts = 3;
  for (let attempt = 1; ; attempt++) {
    try {
      return await chromium.launch({
        executablePath: process.env.FV_CHROMIUM || "/usr/bin/chromium",
        headless: true,
        // No --user-data-dir: playwright refuses it in launch() and itself starts
        // Chromium with a new, empty profile directory (removed at close).
        args: [
          "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
          "--disable-background-networking", "--disable-component-update", "--disable-sync",
        ],
      });
    } catch (e) {
      if (attempt >= attempts) throw e;
      console.error(`Chromium launch ${attempt} of ${attempts} failed, starting it again: ${String(e).split("\n")[0]}`);
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

/** A new page of `browser`, logged in at `url`; `page.jsErrors` collects page errors. */
export async function loggedIn(browser, url) {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.jsErrors = errors;
  await page.goto(`${url}/login`);
  await page.fill("#username", process.env.FV_ADMIN_USER);
  await page.fill("#password", process.env.FV_ADMIN_PASSWORD);
  await Promise.all([page.waitForNavigation(), page.click("#login-submit")]);
  assert.ok(!page.url().includes("/login"), `login failed: ${page.url()}`);
  return page;
}

/** An API call with `page`'s session (cookies, and its CSRF token on writes), as the
 * page's own fetch does: `{status, text}`. */
export async function api(page, p, init = {}) {
  return page.evaluate(async ([p, init]) => {
    const csrf = document.querySelector('meta[name="csrf-token"]')?.content;
    const headers = { Accept: "application/json", ...(init.body ? { "Content-Type": "application/json" } : {}) };
    if (csrf && init.method && init.method !== "GET") headers["X-CSRF-Token"] = csrf;
    const r = await fetch(p, { credentials: "same-origin", ...init, headers });
    return { status: r.status, text: await r.text() };
  }, [p, init]);
}
