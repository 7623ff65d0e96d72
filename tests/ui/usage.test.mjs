// Usage at a glance: an application's details show its last 7 days as a
// chart with, beside it, a table of the same counts by reason (reachable
// by keyboard, readable without colour) and the time zone its days are
// in; the list shows each application's last activity; the Usage screen
// shows the tenant's. Axe and a screenshot at 1366 and 390 px.
import { assert, WIDTHS, open, step, check, signIn, tabTo, noHorizontalScroll, finish, adminToken, call, roleId, base } from "./harness.mjs";

const run = Date.now().toString(36);

// A partner's tokens and a couple of refusals, counted by the server.
async function traffic(clientId, secret) {
  const token = (form) => fetch(`${base}/oauth2/token`, { method: "POST", body: new URLSearchParams(form) });
  for (let i = 0; i < 3; i += 1) {
    const r = await token({ grant_type: "client_credentials", client_id: clientId, client_secret: secret });
    assert.equal(r.status, 200, "a token");
  }
  const wrong = secret.slice(0, -1) + (secret.endsWith("A") ? "B" : "A");
  const r = await token({ grant_type: "client_credentials", client_id: clientId, client_secret: wrong });
  assert.equal(r.status, 401, "a mistyped secret");
}

await finish(async () => {
  const admin = await adminToken();
  const auditor = await roleId(admin, "Auditor");
  const name = `Usage Partner ${run}`;
  const app = await call(admin, "POST", "/admin/v1/external-applications", { name, email: `usage-${run}@partner.example.org`, roles: [auditor] });
  const revealed = await fetch(`${base}/admin/v1/external-applications/${app.id}/client-secret/reveal`, {
    method: "POST", headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
    body: JSON.stringify({ password: process.env.CASEBOOK_ADMIN_PASSWORD }),
  });
  assert.equal(revealed.status, 200, "reveal");
  await traffic(app.client_id, (await revealed.json()).client_secret);
  // Counts are written every few seconds: wait until the API shows them.
  for (let i = 0; ; i += 1) {
    const usage = await call(admin, "GET", `/admin/v1/external-applications/${app.id}/usage`);
    if (usage.buckets.some((b) => b.issued === 3 && b.refused.invalid_secret === 1)) break;
    assert.ok(i < 60, "counts visible within 15 s");
    await new Promise((done) => setTimeout(done, 250));
  }

  for (const viewport of WIDTHS) {
    const w = viewport.width;
    const { context, page } = await open(viewport);
    const row = page.locator("tr.app-row", { has: page.locator(`td:text-is("${name}")`) });

    await step(`[${w}] the list shows the last activity`, async () => {
      await signIn(page);
      // Found by its Client ID: the suites share one database, and earlier
      // ones register enough applications to push it off the first page.
      await page.fill("#q-client", app.client_id);
      await page.click("#search button[type=submit]");
      await row.waitFor();
      const cell = row.locator("td.activity-cell");
      await page.waitForFunction((el) => el.textContent !== "…", await cell.elementHandle());
      assert.notEqual(await cell.textContent(), "None in 30 days");
    });

    await step(`[${w}] the details chart the last 7 days with a table beside it`, async () => {
      await row.locator("button.expand").click();
      const section = page.locator(`#details-${app.id} section.usage`);
      await section.locator("svg.usage-chart").waitFor();
      assert.equal(await section.locator("svg.usage-chart rect.bar-issued").count(), 7, "one issued bar a day");
      const table = section.locator("table.usage-table");
      assert.equal(await table.locator("tbody tr").count(), 7);
      const today = table.locator("tbody tr").last();
      const cells = await today.locator("td").allTextContents();
      assert.equal(cells[0], "3", "issued today");
      assert.equal(cells[1], "1", "refused today");
      assert.equal(cells[2], "1", "a wrong secret");
      const caption = await table.locator("caption").textContent();
      const zone = await page.evaluate(() => Intl.DateTimeFormat().resolvedOptions().timeZone);
      assert.ok(caption.includes(zone), `the time zone is named: ${caption}`);
      await tabTo(page, `#details-${app.id} .usage-table-wrap`, { max: 200 });
      await section.scrollIntoViewIfNeeded();
      await noHorizontalScroll(page, "the usage section");
      await check(page, viewport, "usage-details");
    });

    await step(`[${w}] the Usage screen shows the tenant's`, async () => {
      await page.goto(`${base}/admin#/overview`);
      await page.locator("#overview-body svg.usage-chart").waitFor();
      const listed = page.locator("#overview-body tbody th", { hasText: name });
      await listed.waitFor();
      await noHorizontalScroll(page, "the Usage screen");
      await check(page, viewport, "usage-overview");
    });
    await context.close();
  }
});
