// The main flows by keyboard alone (Tab, Shift+Tab, Enter, Space, Escape), at
// 1366 and 390 px: sign in, register, expand, copy, reveal, edit, delete,
// and the header's navigation. Focus must land where a user expects.
import { assert, base, WIDTHS, open, step, check, tabTo, assertFocus, closed, inViewport, finish, adminEmail, adminPassword } from "./harness.mjs";

await finish(async () => {
  for (const viewport of WIDTHS) {
    const w = viewport.width;
    const { context, page } = await open(viewport);
    const name = `Keyboard Partner ${w}`;
    const renamed = `Keyboard Renamed ${w}`;
    const key = (n) => `button[aria-label="Reveal client secret of ${n}"]`;

    await step(`[${w}] keyboard: sign in`, async () => {
      await page.goto(`${base}/admin`);
      await tabTo(page, "#si-email");
      await page.keyboard.type(adminEmail);
      await page.keyboard.press("Tab");
      await assertFocus(page, "#si-password", "Tab from Email");
      await page.keyboard.type(adminPassword);
      await page.keyboard.press("Enter");
      await page.waitForSelector("#applications:not([hidden])");
      await assertFocus(page, "#apps-title", "after sign-in focus is on the page's heading");
    });

    await step(`[${w}] keyboard: register with the plus button, roles by Space`, async () => {
      await tabTo(page, "#new");
      await page.keyboard.press("Enter");
      await page.waitForSelector("#app-dialog[open]");
      await assertFocus(page, "#f-name", "New Application opens on Application name");
      await page.keyboard.type(name);
      await page.keyboard.press("Tab");
      await page.keyboard.type(`keyboard-${w}@partner.example.org`);
      await page.keyboard.press("Tab");
      await assertFocus(page, "#f-url", "Tab from Email (past its hint)");
      await page.keyboard.type("https://keyboard.example.org");
      await page.keyboard.press("Tab");
      await assertFocus(page, "#f-roles-list input", "Tab from Application URL reaches the roles");
      const supervisor = await page.getAttribute("#f-roles-list label:has-text('Engage Supervisor')", "for");
      await tabTo(page, `#${supervisor}`);
      await page.keyboard.press("Space");
      assert.ok(await page.isChecked(`#${supervisor}`));
      await tabTo(page, "#app-form button[type=submit]");
      await page.keyboard.press("Enter");
      await closed(page, "app-dialog");
      await assertFocus(page, `button.expand[aria-label$="${name}"]`, "after Save focus is on the new application");
      assert.ok(await inViewport(page.locator("#rows tr.app-row", { hasText: name }).locator(".name-cell")));
      await page.waitForFunction((n) => document.querySelector("#status").textContent.includes(n + " registered"), name);
    });

    await step(`[${w}] keyboard: expand and copy the Client ID`, async () => {
      const expand = `button.expand[aria-label$="${name}"]`;
      assert.equal(await page.getAttribute(expand, "aria-expanded"), "true");
      await page.keyboard.press("Enter");
      assert.equal(await page.getAttribute(expand, "aria-expanded"), "false");
      await page.keyboard.press("Space");
      assert.equal(await page.getAttribute(expand, "aria-expanded"), "true");
      await tabTo(page, `button[aria-label="Copy Client ID of ${name}"]`);
      await page.keyboard.press("Enter");
      await page.waitForFunction(() => document.activeElement.textContent === "Copied");
    });

    await step(`[${w}] keyboard: reveal, Enter on an empty password sends nothing, Escape returns to the key`, async () => {
      await tabTo(page, key(name), { back: true });
      await page.keyboard.press("Enter");
      await page.waitForSelector("#verify-dialog[open]");
      await assertFocus(page, "#v-password", "the reveal dialog opens on the password");
      await page.keyboard.press("Enter");
      assert.match(await page.textContent("#v-password-error"), /Enter your password/);
      await page.keyboard.type(adminPassword);
      await page.keyboard.press("Enter");
      await page.waitForSelector("#verify-result:not([hidden])");
      await assertFocus(page, "#secret-copy-slot button", "after Verify focus is on Copy");
      await page.keyboard.press("Space");
      await page.waitForFunction(() => document.activeElement.textContent === "Copied");
      await page.keyboard.press("Escape");
      await closed(page, "verify-dialog");
      await assertFocus(page, key(name), "Escape returns focus to the key icon");
    });

    await step(`[${w}] keyboard: edit the name, Enter saves`, async () => {
      await tabTo(page, `button[aria-label="Edit ${name}"]`);
      await page.keyboard.press("Enter");
      await page.waitForSelector("#app-dialog[open]");
      await assertFocus(page, "#f-name", "Edit opens on Application name");
      await page.keyboard.press("Control+A");
      await page.keyboard.type(renamed);
      await page.keyboard.press("Enter");
      await closed(page, "app-dialog");
      await assertFocus(page, `button.expand[aria-label$="${renamed}"]`, "after Save focus is on the changed application");
      await page.waitForFunction((n) => document.querySelector("#status").textContent.includes(n + " saved"), renamed);
    });

    await step(`[${w}] keyboard: delete, Escape cancels, then confirm`, async () => {
      const del = `button[aria-label="Delete ${renamed}"]`;
      await tabTo(page, del);
      await page.keyboard.press("Enter");
      await page.waitForSelector("#confirm-dialog[open]");
      await assertFocus(page, "#confirm-dialog .cancel", "the confirmation opens on Cancel");
      await page.keyboard.press("Escape");
      await closed(page, "confirm-dialog");
      await assertFocus(page, del, "Escape returns focus to Delete");
      await page.keyboard.press("Enter");
      await page.waitForSelector("#confirm-dialog[open]");
      await page.keyboard.press("Tab");
      await assertFocus(page, "#confirm-ok", "Tab from Cancel");
      await page.keyboard.press("Enter");
      await closed(page, "confirm-dialog");
      await assertFocus(page, "#apps-title", "after deleting, focus is on the list's heading");
      assert.equal(await page.locator("#rows tr.app-row", { hasText: renamed }).count(), 0);
    });

    await step(`[${w}] keyboard: the header's navigation`, async () => {
      for (const [screen, title] of [["users", "#users-title"], ["roles", "#roles-title"], ["audit", "#audit-title"], ["applications", "#apps-title"]]) {
        await tabTo(page, `#nav a[data-screen="${screen}"]`, { back: true, max: 120 });
        await page.keyboard.press("Enter");
        await page.waitForSelector(`#${screen}:not([hidden])`);
        await assertFocus(page, title, `the ${screen} screen's heading`);
        assert.equal(await page.getAttribute(`#nav a[data-screen="${screen}"]`, "aria-current"), "page");
      }
      await check(page, viewport, "keyboard-end");
    });
    await context.close();
  }
});
