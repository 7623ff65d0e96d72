// The admin console, driven as an admin would drive it: sign in, register an
// application through "New Application" (with field errors first), expand it,
// and reveal its secret with the key icon after a wrong and a right password.
// Usage: CASEBOOK_URL=http://127.0.0.1:PORT CASEBOOK_ADMIN_EMAIL=… CASEBOOK_ADMIN_PASSWORD=… node admin_console.mjs
import { chromium } from "playwright-core";
import assert from "node:assert/strict";

const base = process.env.CASEBOOK_URL;
const email = process.env.CASEBOOK_ADMIN_EMAIL;
const password = process.env.CASEBOOK_ADMIN_PASSWORD;
const shots = process.env.SCREENSHOT_DIR;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"],
});
let passed = 0;
const step = async (name, fn) => { await fn(); passed += 1; console.log(`ok - ${name}`); };
try {
  const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
  const outside = [];
  page.on("request", (r) => { if (!r.url().startsWith(base) && !r.url().startsWith("data:")) outside.push(r.url()); });
  const pageErrors = [];
  page.on("pageerror", (e) => pageErrors.push(e.message));

  await step("sign in", async () => {
    await page.goto(`${base}/admin`);
    await page.fill("#si-email", email);
    await page.fill("#si-password", "not the password");
    await page.click("#signin button[type=submit]");
    await page.waitForFunction(() => document.querySelector("#si-error").textContent.length > 0);
    await page.fill("#si-password", password);
    await page.click("#signin button[type=submit]");
    await page.waitForSelector("#apps:not([hidden])");
  });

  await step("New Application shows every field error beside its field", async () => {
    await page.click("#new");
    await page.fill("#f-email", "not-an-address");
    await page.fill("#f-url", "ftp://partner.example.org");
    await page.click("#new-form button[type=submit]");
    await page.waitForFunction(() => document.querySelector('.err[data-for="name"]').textContent.length > 0);
    for (const field of ["name", "email", "application_url", "roles"]) {
      const text = await page.textContent(`.err[data-for="${field}"]`);
      assert.ok(text.length > 0, `no error shown for ${field}`);
    }
    if (shots) await page.screenshot({ path: `${shots}/new-application-errors.png` });
  });

  await step("Save registers the application and lists it", async () => {
    await page.fill("#f-name", "Console Partner");
    await page.fill("#f-email", "console@partner.example.org");
    await page.fill("#f-url", "https://partner.example.org");
    await page.selectOption("#f-roles", { label: "Engage Supervisor" });
    await page.fill("#f-description", "Registered from the console test");
    await page.click("#new-form button[type=submit]");
    await page.waitForSelector("#rows tr:not(.details)");
    assert.match(await page.textContent("#rows"), /Console Partner/);
  });

  await step("the expand icon shows Client ID, Description, Application URL and Callback URL", async () => {
    await page.click('#rows button[title="Expand"]');
    const details = await page.textContent("#rows tr.details");
    for (const label of ["Client ID", "Description", "Application URL", "Callback URL"]) assert.ok(details.includes(label), label);
    assert.match(details, /cb_[0-9a-f]{32}/);
    assert.ok(details.includes(base), "Callback URL is the public URL");
  });

  await step("the key icon asks for the password, then shows the secret", async () => {
    await page.click('#rows button[title="View client secret"]');
    await page.fill("#v-password", "wrong password entirely");
    await page.click("#verify-submit");
    await page.waitForFunction(() => document.querySelector("#verify-error").textContent.length > 0);
    assert.ok(await page.isHidden("#secret"));
    await page.fill("#v-password", password);
    await page.click("#verify-submit");
    await page.waitForSelector("#secret:not([hidden])");
    assert.match(await page.textContent("#secret"), /^cbs_[A-Za-z0-9_-]{43}$/);
    if (shots) await page.screenshot({ path: `${shots}/client-secret.png` });
  });

  await step("nothing was fetched from outside and no script failed", async () => {
    assert.deepEqual(outside, []);
    assert.deepEqual(pageErrors, []);
  });
  console.log(`${passed} passed, 0 failed`);
} catch (error) {
  console.error(error);
  console.log(`${passed} passed, 1 failed`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
