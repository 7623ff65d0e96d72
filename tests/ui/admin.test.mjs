// Users, roles and the audit trail, by mouse at 1366 and 390 px, with axe on
// every screen and dialog: each change confirmed and shown where it is.
import { assert, base, WIDTHS, open, step, check, signIn, inViewport, assertFocus, closed, noHorizontalScroll, finish } from "./harness.mjs";

await finish(async () => {
  for (const viewport of WIDTHS) {
    const w = viewport.width;
    const { context, page } = await open(viewport);
    const user = `Casey Worker ${w}`;
    const role = `Placement Lead ${w}`;
    await signIn(page);

    await step(`[${w}] Users: the list, and New user with its errors in people's words`, async () => {
      await page.click('#nav a[data-screen="users"]');
      await page.waitForSelector("#user-rows tr");
      assert.equal(await page.getAttribute('#nav a[data-screen="users"]', "aria-current"), "page");
      assert.match(await page.textContent("#user-rows"), /Administrator/);
      await noHorizontalScroll(page, "users");
      await check(page, viewport, "users");
      await page.click("#user-new");
      await page.waitForSelector("#user-dialog[open]");
      // An invitation is the default; setting a password now is the other way.
      assert.ok(await page.isChecked("#u-invite"));
      assert.ok(await page.isHidden("#u-password"));
      await page.check("#u-set-now");
      await page.click("#user-form button[type=submit]");
      assert.match(await page.textContent("#user-summary"), /^3 problems to fix/);
      assert.match(await page.textContent("#u-name-error"), /^Name is required/);
      await assertFocus(page, "#u-name", "the first invalid field");
      await page.fill("#u-name", user);
      await page.fill("#u-email", "console-admin@agency.example.org");
      await page.fill("#u-password", "short");
      await page.click("#user-form button[type=submit]");
      await page.waitForFunction(() => document.querySelector("#u-email-error").textContent.length > 0);
      assert.match(await page.textContent("#u-email-error"), /^Email already belongs to a Casebook account/);
      assert.match(await page.textContent("#u-password-error"), /^Password must be at least 12 characters/);
      await check(page, viewport, "new-user-errors");
    });

    await step(`[${w}] Users: create, edit and delete, each confirmed and shown`, async () => {
      await page.fill("#u-email", `casey-${w}@agency.example.org`);
      await page.fill("#u-password", "a long enough password");
      await page.check("#u-roles-list label:has-text('Engage Worker')");
      await page.click("#user-form button[type=submit]");
      await closed(page, "user-dialog");
      await page.waitForFunction((n) => document.querySelector("#status").textContent.includes(`User ${n} created`), user);
      const row = page.locator("#user-rows tr", { hasText: user });
      assert.ok(await inViewport(row.locator("td").first()), "the new user is on screen");
      assert.match(await row.textContent(), /Engage Worker/);
      await page.click(`button[aria-label="Edit ${user}"]`);
      await page.waitForSelector("#user-dialog[open]");
      await check(page, viewport, "edit-user");
      await page.check("#u-roles-list label:has-text('Intake Screener')");
      await page.click("#user-form button[type=submit]");
      await closed(page, "user-dialog");
      await page.waitForFunction((n) => document.querySelector("#status").textContent.includes(`User ${n} saved`), user);
      assert.match(await row.textContent(), /Intake Screener/);
      await page.click(`button[aria-label="Delete ${user}"]`);
      await page.waitForSelector("#confirm-dialog[open]");
      assert.equal(await page.textContent("#confirm-title"), `Delete user ${user}?`);
      await check(page, viewport, "delete-user");
      await page.click("#confirm-ok");
      await closed(page, "confirm-dialog");
      await page.waitForFunction((n) => document.querySelector("#status").textContent.includes(`User ${n} deleted`), user);
      assert.equal(await row.count(), 0);
    });

    await step(`[${w}] Roles: create with permissions, edit, delete`, async () => {
      await page.click('#nav a[data-screen="roles"]');
      await page.waitForSelector("#role-rows tr");
      assert.match(await page.textContent("#role-rows"), /Engage Supervisor/);
      await noHorizontalScroll(page, "roles");
      await check(page, viewport, "roles");
      await page.click("#role-new");
      await page.waitForSelector("#role-dialog[open]");
      await page.click("#role-form button[type=submit]");
      assert.match(await page.textContent("#role-summary"), /^2 problems to fix/);
      assert.match(await page.textContent("#ro-perms-error"), /at least one permission/);
      await check(page, viewport, "new-role-errors");
      await page.fill("#ro-name", role);
      await page.check("#perm-placements-view");
      await page.check("#perm-placements-create");
      await page.click("#role-form button[type=submit]");
      await closed(page, "role-dialog");
      await page.waitForFunction((n) => document.querySelector("#status").textContent.includes(`Role ${n} created`), role);
      const row = page.locator("#role-rows tr", { hasText: role });
      assert.ok(await inViewport(row.locator("td").first()));
      assert.match(await row.textContent(), /Placements: view, create/);
      await page.click(`button[aria-label="Edit role ${role}"]`);
      await page.waitForSelector("#role-dialog[open]");
      assert.ok(await page.isChecked("#perm-placements-create"));
      await page.check("#perm-placements-edit");
      await page.click("#role-form button[type=submit]");
      await closed(page, "role-dialog");
      await page.waitForFunction((n) => document.querySelector("#status").textContent.includes(`Role ${n} saved`), role);
      assert.match(await row.textContent(), /view, create, edit/);
      await page.click(`button[aria-label="Delete role ${role}"]`);
      await page.waitForSelector("#confirm-dialog[open]");
      await page.click("#confirm-ok");
      await closed(page, "confirm-dialog");
      await page.waitForFunction((n) => document.querySelector("#status").textContent.includes(`Role ${n} deleted`), role);
      assert.equal(await row.count(), 0);
    });

    await step(`[${w}] Roles: a role still held cannot be deleted, and the dialog says who holds it`, async () => {
      await page.click(`button[aria-label="Delete role Administrator"]`);
      await page.waitForSelector("#confirm-dialog[open]");
      await page.click("#confirm-ok");
      await page.waitForFunction(() => document.querySelector("#confirm-error").textContent.length > 0);
      assert.match(await page.textContent("#confirm-error"), /Administrator/);
      await check(page, viewport, "delete-role-refused");
      await page.keyboard.press("Escape");
      await closed(page, "confirm-dialog");
    });

    await step(`[${w}] Audit trail: events with who, what and when; filter; more`, async () => {
      await page.click('#nav a[data-screen="audit"]');
      await page.waitForSelector("#audit-rows tr");
      const text = await page.textContent("#audit-rows");
      assert.match(text, /role\./i);
      await noHorizontalScroll(page, "audit trail");
      await check(page, viewport, "audit-trail");
      // The server narrows the trail: a family of actions, then back to all.
      await page.selectOption("#a-action", "user.");
      await page.click('#audit-filter button[type="submit"]');
      await page.waitForFunction(() => /match the filter/.test(document.querySelector("#status").textContent));
      const shown = await page.$$eval("#audit-rows tr", (rows) => rows.map((r) => r.textContent));
      assert.ok(shown.length > 0 && shown.every((t) => t.includes("user.")), "the filter narrows the events");
      await page.click("#a-clear");
      await page.waitForFunction(() => document.querySelectorAll("#audit-rows tr").length === 50);
      // The suites before this one leave well over a page of events.
      assert.ok(await page.isVisible("#audit-more"), "Load more is offered");
      const before = await page.locator("#audit-rows tr").count();
      assert.equal(before, 50);
      await page.click("#audit-more");
      await page.waitForFunction((n) => document.querySelectorAll("#audit-rows tr").length > n, before);
      await page.waitForFunction(() => /more events loaded/.test(document.querySelector("#status").textContent));
    });
    await context.close();
  }

  // Last of all: it spends this source's sign-in budget (30 attempts, right
  // or wrong, then 10 a minute), which the suites before it draw on too.
  await step("the sign-in throttle shows the server's own message", async () => {
    const { context, page } = await open(WIDTHS[1]);
    await page.goto(`${base}/admin`);
    let message = "";
    for (let i = 0; i < 14 && !/try again in/.test(message); i += 1) {
      await page.fill("#si-email", "nobody-here@agency.example.org");
      await page.fill("#si-password", `guess ${i}`);
      const [response] = await Promise.all([
        page.waitForResponse((r) => r.url().endsWith("/admin/v1/sessions")),
        page.click("#signin button[type=submit]"),
      ]);
      await page.waitForFunction(() => !document.querySelector("#signin button[type=submit]").disabled);
      message = await page.textContent("#si-error");
      if (response.status() !== 429) assert.match(message, /email or password is not right/);
    }
    assert.match(message, /^Too many sign-in attempts: try again in \d+ seconds?$/);
    await check(page, WIDTHS[1], "sign-in-throttled");
    await context.close();
  });
});
