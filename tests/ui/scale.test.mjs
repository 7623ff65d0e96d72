// 60 applications already registered: one saved in the console is still
// found on screen. And an account without admin permissions reads a plain
// sentence, not an empty table.
import { assert, base, WIDTHS, open, step, check, signIn, inViewport, closed, finish, adminToken, call, roleId } from "./harness.mjs";

await finish(async () => {
  const token = await adminToken();
  await step("60 applications registered through the admin API", async () => {
    const worker = await roleId(token, "Engage Worker");
    for (let i = 0; i < 60; i += 1) {
      await call(token, "POST", "/admin/v1/external-applications", { name: `Bulk ${String(i).padStart(2, "0")}`, email: `bulk-${i}@bulk.example.org`, roles: [worker] });
    }
  });

  for (const viewport of WIDTHS) {
    const w = viewport.width;
    const { context, page } = await open(viewport);
    const name = `Sixty-first ${w}`;
    await step(`[${w}] with more than 50 applications a new one is on screen after Save`, async () => {
      await signIn(page);
      await page.waitForSelector("#rows tr.app-row");
      assert.ok(await page.isVisible("#more"), "a second page exists");
      await page.click("#new");
      await page.fill("#f-name", name);
      await page.fill("#f-email", `sixty-first-${w}@partner.example.org`);
      await page.check("#f-roles-list label:has-text('Engage Worker')");
      await page.click("#app-form button[type=submit]");
      await closed(page, "app-dialog");
      const row = page.locator("#rows tr.app-row", { hasText: name });
      assert.ok(await inViewport(row.locator(".name-cell")), "the new application is visible in the viewport");
      await page.waitForFunction((n) => document.querySelector("#status").textContent.includes(`${n} registered`), name);
      await check(page, viewport, "sixty-applications");
    });
    await step(`[${w}] Load more adds the second page without repeating anything`, async () => {
      await page.click("#more");
      await page.waitForFunction(() => document.querySelectorAll("#rows tr.app-row").length >= 61);
      const names = await page.$$eval("#rows tr.app-row .name-cell", (cells) => cells.map((c) => c.textContent));
      assert.equal(new Set(names).size, names.length, "no application listed twice");
      assert.ok(names.includes(name));
    });
    await context.close();
  }

  await step("wrong passwords at the key icon warn of the lockout, then show the server's lockout message", async () => {
    const admin = await roleId(token, "Administrator");
    const password = "second admin password 123";
    await call(token, "POST", "/admin/v1/users", { name: "Second Admin", email: "second-admin@agency.example.org", password, roles: [admin] });
    const viewport = WIDTHS[1];
    const { context, page } = await open(viewport);
    await signIn(page, "second-admin@agency.example.org", password);
    await page.click('button[aria-label="Reveal client secret of Bulk 00"]');
    await page.waitForSelector("#verify-dialog[open]");
    let message = "";
    const statuses = [];
    for (let i = 0; i < 8 && !statuses.includes(429); i += 1) {
      await page.fill("#v-password", `wrong ${i}`);
      const [response] = await Promise.all([
        page.waitForResponse((r) => r.url().includes("/client-secret/reveal")),
        page.click("#verify-submit"),
      ]);
      statuses.push(response.status());
      await page.waitForFunction(() => !document.querySelector("#verify-submit").disabled && document.querySelector("#v-password-error").textContent);
      message = await page.textContent("#v-password-error");
      if (response.status() === 403) assert.match(message, /after 5, viewing and rotating secrets is locked for 15 minutes/);
      assert.equal(await page.inputValue("#v-password"), "", "the field is cleared after each try");
    }
    assert.ok(statuses.includes(429), `locked at last: ${statuses}`);
    assert.match(message, /Too many wrong passwords: secrets are locked for you for \d+ more minute/);
    await check(page, viewport, "reveal-locked");
    await context.close();
  });

  await step("an account without admin permissions is told so plainly", async () => {
    const reader = await call(token, "POST", "/admin/v1/roles", { name: "Case reader", permissions: ["engage:view"] });
    const password = "reader password 12345";
    await call(token, "POST", "/admin/v1/users", { name: "Case Reader", email: "reader@agency.example.org", password, roles: [reader.id] });
    for (const viewport of WIDTHS) {
      const { context, page } = await open(viewport);
      await signIn(page, "reader@agency.example.org", password);
      await page.waitForSelector("#apps-denied:not([hidden])");
      assert.match(await page.textContent("#apps-denied"), /Your account cannot see or manage external applications\. Ask an administrator for the Administrator role\./);
      assert.ok(await page.isHidden("#new"), "no plus button");
      assert.ok(await page.isHidden("#apps-table"), "no empty table");
      await check(page, viewport, "no-permission");
      await page.click('#nav a[data-screen="users"]');
      await page.waitForSelector("#users-denied:not([hidden])");
      assert.ok(await page.isHidden("#user-new"));
      await page.click('#nav a[data-screen="audit"]');
      await page.waitForSelector("#audit-denied:not([hidden])");
      await context.close();
    }
  });
});
