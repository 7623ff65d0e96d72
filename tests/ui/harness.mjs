// What every console suite shares: the browser, per-width contexts that
// record CSP violations, page errors, outside requests and missing security
// headers; axe-core; screenshots; steps; and the admin API from node.
import { chromium } from "playwright-core";
import AxeBuilder from "@axe-core/playwright";
import assert from "node:assert/strict";

export { assert };
export const base = process.env.CASEBOOK_URL;
export const adminEmail = process.env.CASEBOOK_ADMIN_EMAIL;
export const adminPassword = process.env.CASEBOOK_ADMIN_PASSWORD;
const shots = process.env.SCREENSHOT_DIR;
export const WIDTHS = [{ width: 1366, height: 900, name: "wide" }, { width: 390, height: 844, name: "narrow" }];
const TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"];

let passed = 0;
let failed = 0;
export const problems = { csp: [], pageErrors: [], outside: [], headers: [] };

export const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-default-apps"],
});

export async function step(name, fn) {
  const started = Date.now();
  try {
    await fn();
    passed += 1;
    console.log(`ok - ${name} (${Date.now() - started} ms)`);
  } catch (error) {
    failed += 1;
    console.log(`not ok - ${name}`);
    console.log("  " + String(error && error.stack || error).split("\n").slice(0, 8).join("\n  "));
    throw error;
  }
}

// A fresh context at one width, watched for everything that must never happen.
export async function open(viewport) {
  const context = await browser.newContext({ viewport: { width: viewport.width, height: viewport.height } });
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: base });
  await context.exposeBinding("__cbCsp", (_source, text) => problems.csp.push(text));
  await context.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (e) => {
      window.__cbCsp(`${e.violatedDirective} blocked ${e.blockedURI || "inline"} at ${e.sourceFile}:${e.lineNumber}`);
    });
  });
  context.on("request", (r) => {
    const url = r.url();
    if (!url.startsWith(base + "/") && !url.startsWith("data:") && url !== base) problems.outside.push(url);
  });
  const page = await context.newPage();
  page.on("pageerror", (e) => problems.pageErrors.push(e.message));
  page.on("console", (m) => { if (m.text().includes("Content Security Policy")) problems.csp.push(m.text()); });
  page.on("response", (r) => {
    const url = new URL(r.url());
    if (url.origin !== base || !/^\/(admin|docs)(\/|$)/.test(url.pathname)) return;
    if (!["document", "script", "stylesheet"].includes(r.request().resourceType())) return;
    const h = r.headers();
    const csp = h["content-security-policy"] || "";
    if (!csp.includes("frame-ancestors 'none'") || h["x-content-type-options"] !== "nosniff") {
      problems.headers.push(`${url.pathname}: csp=${JSON.stringify(csp)} nosniff=${h["x-content-type-options"]}`);
    }
  });
  page.setDefaultTimeout(10000);
  return { context, page, viewport };
}

// axe-core on what is on screen now; zero violations, else a readable list.
export async function axe(page, where) {
  const result = await new AxeBuilder({ page }).withTags(TAGS).analyze();
  if (result.violations.length) {
    const text = result.violations.map((v) => `  [${v.impact}] ${v.id}: ${v.help}\n` +
      v.nodes.slice(0, 5).map((n) => `      ${n.target.join(" ")}: ${n.failureSummary.replace(/\n/g, " ")}`).join("\n")).join("\n");
    assert.fail(`axe found ${result.violations.length} violation(s) on ${where}:\n${text}`);
  }
}

export async function shot(page, viewport, name) {
  if (shots) await page.screenshot({ path: `${shots}/${name}-${viewport.width}.png`, fullPage: false });
}

// Screen and dialog checks together: axe plus a screenshot.
export async function check(page, viewport, name) {
  await page.waitForTimeout(50);
  await axe(page, `${name} at ${viewport.width}px`);
  await shot(page, viewport, name);
}

export async function noHorizontalScroll(page, where) {
  const widths = await page.evaluate(() => ({ doc: document.documentElement.scrollWidth, view: window.innerWidth }));
  assert.ok(widths.doc <= widths.view, `${where}: page scrolls sideways (${widths.doc} > ${widths.view})`);
}

// Whether an element is fully inside the viewport.
export async function inViewport(locator) {
  await locator.waitFor({ state: "visible" });
  return locator.evaluate((e) => {
    const r = e.getBoundingClientRect();
    return r.top >= 0 && r.left >= 0 && r.bottom <= window.innerHeight && r.right <= window.innerWidth && r.width > 0;
  });
}

export async function focused(page) {
  return page.evaluate(() => {
    const e = document.activeElement;
    return e ? (e.id ? "#" + e.id : "") + "|" + (e.getAttribute("aria-label") || e.textContent.trim().slice(0, 60)) : "";
  });
}

// Tab (or Shift+Tab) until `test(activeElementDescription)` holds; fails after `max` presses.
export async function tabTo(page, selector, { back = false, max = 60 } = {}) {
  for (let i = 0; i < max; i += 1) {
    if (await page.evaluate((s) => document.activeElement && document.activeElement.matches(s), selector)) return;
    await page.keyboard.press(back ? "Shift+Tab" : "Tab");
  }
  assert.fail(`keyboard focus never reached ${selector}; it is on ${await focused(page)}`);
}
export async function assertFocus(page, selector, what) {
  await page.waitForFunction((s) => document.activeElement && document.activeElement.matches(s), selector, { timeout: 5000 })
    .catch(async () => assert.fail(`${what}: focus should be on ${selector} but is on ${await focused(page)}`));
}

export async function signIn(page, email = adminEmail, password = adminPassword) {
  await page.goto(`${base}/admin`);
  await page.fill("#si-email", email);
  await page.fill("#si-password", password);
  await page.click("#signin button[type=submit]");
  await page.waitForSelector("#nav:not([hidden])");
}

// The admin API from node.
export async function adminToken(email = adminEmail, password = adminPassword) {
  const r = await fetch(`${base}/admin/v1/sessions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ email, password }) });
  assert.equal(r.status, 201, "sign-in through the API");
  return (await r.json()).token;
}
export async function call(token, method, path, body) {
  const r = await fetch(base + path, { method, headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: body ? JSON.stringify(body) : undefined });
  const data = r.status === 204 ? null : await r.json();
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(data)}`);
  return data;
}
export async function roleId(token, name) {
  const roles = await call(token, "GET", "/admin/v1/roles?limit=100");
  const role = roles.items.find((r) => r.name === name);
  assert.ok(role, `role ${name}`);
  return role.id;
}

// The run's end: nothing forbidden happened; the summary line; the exit code.
export async function finish(run) {
  try {
    await run();
    await step("no CSP violation, no page error, nothing fetched from outside, every page answer has CSP and nosniff", async () => {
      assert.deepEqual(problems.csp, [], "CSP violations");
      assert.deepEqual(problems.pageErrors, [], "page errors");
      assert.deepEqual(problems.outside, [], "requests outside the server's origin");
      assert.deepEqual(problems.headers, [], "answers without the security headers");
    });
  } catch (_) {
    // already reported by step()
    if (!failed) { failed += 1; console.log(`not ok - ${_}`); }
  } finally {
    await browser.close();
  }
  console.log(`${passed} passed, ${failed} failed`);
  process.exitCode = failed ? 1 : 0;
}

export async function closed(page, id) {
  await page.waitForFunction((i) => !document.getElementById(i).open, id);
}
