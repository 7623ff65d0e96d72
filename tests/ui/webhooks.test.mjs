// Webhooks: the screen lists the tenant's endpoints; one is added (its
// signing secret shown once, never again), turned off, its deliveries shown
// (the webhook's own events), and removed. At 1366 px and 390 px, with axe
// on the screen, the secret and the deliveries.
import { assert, base, WIDTHS, open, step, check, signIn, noHorizontalScroll, finish } from "./harness.mjs";

await finish(async () => {
  const { page } = await open(WIDTHS[0]);
  await signIn(page);
  for (const viewport of WIDTHS) {
    const w = viewport.width;
    const url = `https://siem.agency.example/hooks/casebook-${w}`;
    await page.setViewportSize({ width: viewport.width, height: viewport.height });
    await page.goto(`${base}/admin#/webhooks`);
    await page.waitForSelector("#webhooks:not([hidden])");

    await step(`[${w}] a private address is refused beside the form`, async () => {
      await page.fill("#wh-url", "https://10.0.0.1/hook");
      await page.fill("#wh-events", "*");
      await page.click("#wh-form button[type=submit]");
      await page.waitForFunction(() => document.querySelector("#wh-form-error").textContent.includes("non-public"));
    });

    await step(`[${w}] added: the secret is shown once`, async () => {
      await page.fill("#wh-url", url);
      await page.fill("#wh-events", "webhook.*, role.created");
      await page.fill("#wh-description", "Our SIEM");
      await page.click("#wh-form button[type=submit]");
      await page.waitForSelector("#wh-secret:not([hidden])");
      const secret = await page.textContent("#wh-secret code");
      assert.match(secret, /^whsec_[A-Za-z0-9+/=]+$/);
      const row = page.locator("#webhooks-table tbody tr", { hasText: url });
      await row.waitFor();
      assert.ok((await row.textContent()).includes("webhook.*, role.created"));
      assert.ok(!(await page.textContent("#webhooks-table")).includes(secret), "the list never shows the secret");
      await noHorizontalScroll(page, "Webhooks");
      await check(page, viewport, `webhooks-added-${viewport.name}`);
    });

    await step(`[${w}] turned off, its deliveries listed, removed`, async () => {
      const row = page.locator("#webhooks-table tbody tr", { hasText: url });
      await row.locator("button", { hasText: "Turn off" }).click();
      await page.locator("#webhooks-table tbody tr", { hasText: url }).locator("td", { hasText: "Off" }).waitFor();
      await page.locator("#webhooks-table tbody tr", { hasText: url }).locator("button", { hasText: "Deliveries" }).click();
      await page.waitForSelector("#wh-deliveries:not([hidden])");
      // Its own webhook.created event was queued for it (it takes webhook.*).
      await page.locator("#wh-deliveries-table tbody tr", { hasText: "webhook.created" }).first().waitFor();
      await check(page, viewport, `webhooks-deliveries-${viewport.name}`);
      page.once("dialog", (d) => d.accept());
      await page.locator("#webhooks-table tbody tr", { hasText: url }).locator("button", { hasText: "Remove" }).click();
      await page.waitForFunction((u) => !document.querySelector("#webhooks-table").textContent.includes(u), url);
    });
  }
});
