// Every flow by keyboard alone (Tab, Shift+Tab, Enter, Space, Escape, arrows),
// at 1366 and 390 px: sign in, register, expand, copy, reveal, edit, disable
// and enable, rotate, search, delete, the header's navigation, users, roles
// and the audit trail's filter. Focus must land where a user expects.
import { generateKeyPairSync } from "node:crypto";
import { assert, base, WIDTHS, open, step, check, tabTo, assertFocus, closed, inViewport, finish, adminEmail, adminPassword } from "./harness.mjs";

await finish(async () => {
  for (const viewport of WIDTHS) {
    const w = viewport.width;
    const { context, page } = await open(viewport);
    const name = `Keyboard Partner ${w}`;
    const renamed = `Keyboard Renamed ${w}`;
    const key = (n) => `button[aria-label="Reveal client secret of ${n}"]`;
    const user = `Keyboard Worker ${w}`;
    const role = `Keyboard Lead ${w}`;
    const roleRenamed = `Keyboard Chief ${w}`;
    const said = (text) => page.waitForFunction((t) => document.querySelector("#status").textContent.includes(t), text);

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
      // The console's close handler (which clears the secret, then puts focus
      // back) runs after the dialog is already shut: wait for it before moving on.
      await page.waitForFunction(() => document.querySelector("#secret").textContent === "", null, { timeout: 5000 })
        .catch(() => assert.fail("the secret is still on the page after the dialog closed"));
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

    await step(`[${w}] keyboard: Disable (confirmed), then Enable, from the details, each said`, async () => {
      await tabTo(page, `button[aria-label="Disable ${renamed}"]`);
      await page.keyboard.press("Enter");
      await page.waitForSelector("#confirm-dialog[open]");
      await assertFocus(page, "#confirm-dialog .cancel", "the confirmation opens on Cancel, the safe choice");
      await page.keyboard.press("Tab");
      await assertFocus(page, "#confirm-ok", "Tab reaches Disable application");
      await page.keyboard.press("Enter");
      await said(`${renamed} disabled`);
      await assertFocus(page, `button[aria-label="Enable ${renamed}"]`, "after Disable focus is on Enable");
      const row = page.locator("#rows tr.app-row", { hasText: renamed });
      assert.equal((await row.locator(".status-off").textContent()).trim(), "Disabled");
      await page.keyboard.press("Space");
      await said(`${renamed} enabled`);
      await assertFocus(page, `button[aria-label="Disable ${renamed}"]`, "after Enable focus is on Disable");
      assert.equal((await row.locator(".status-on").textContent()).trim(), "Enabled");
    });

    await step(`[${w}] keyboard: rotate with a grace period, Copy by Tab, Escape returns to Rotate`, async () => {
      const rotate = `button[aria-label="Rotate client secret of ${renamed}"]`;
      await tabTo(page, rotate);
      await page.keyboard.press("Enter");
      await page.waitForSelector("#rotate-dialog[open]");
      await assertFocus(page, "#r-password", "the rotate dialog opens on the password");
      assert.equal(await page.textContent("#rotate-title"), `Rotate client secret of ${renamed}`);
      await check(page, viewport, "keyboard-rotate");
      // Space on Rotate with no password sends nothing and comes back to the field.
      await tabTo(page, "#rotate-submit");
      await page.keyboard.press("Space");
      assert.match(await page.textContent("#r-password-error"), /Enter your password/);
      await assertFocus(page, "#r-password", "an empty password puts focus back on the field");
      await page.keyboard.type(adminPassword);
      await page.keyboard.press("Tab");
      await assertFocus(page, "#r-grace", "Tab from the password reaches the grace period");
      await page.keyboard.press("Control+A");
      await page.keyboard.type("1");
      await page.keyboard.press("Tab");
      await assertFocus(page, "#r-grace-unit", "Tab from the grace period reaches its unit");
      await page.keyboard.press("Tab");
      await assertFocus(page, "#rotate-dialog .cancel", "Tab from the unit reaches Close");
      await page.keyboard.press("Tab");
      await assertFocus(page, "#rotate-submit", "Tab from Close reaches Rotate");
      await page.keyboard.press("Enter");
      await page.waitForSelector("#rotate-result:not([hidden])");
      assert.match(await page.textContent("#rotated"), /^cbs_/);
      assert.match(await page.textContent("#rotated-grace"), /keeps working until/);
      await assertFocus(page, "#rotated-copy-slot button", "after Rotate focus is on Copy");
      await said(`Client secret of ${renamed} rotated`);
      await check(page, viewport, "keyboard-rotate-result");
      // Away and back by Tab, then copy with Enter.
      await page.keyboard.press("Tab");
      await assertFocus(page, "#rotate-dialog .cancel", "Tab from Copy reaches Close (Rotate is gone)");
      await page.keyboard.press("Shift+Tab");
      await assertFocus(page, "#rotated-copy-slot button", "Shift+Tab from Close is Copy again");
      await page.keyboard.press("Enter");
      await page.waitForFunction(() => document.activeElement.textContent === "Copied");
      await page.keyboard.press("Escape");
      await closed(page, "rotate-dialog");
      await assertFocus(page, rotate, "Escape returns focus to Rotate secret");
      await page.waitForFunction(() => document.querySelector("#rotated").textContent === "", null, { timeout: 5000 })
        .catch(() => assert.fail("the new secret is still on the page after the dialog closed"));
    });

    await step(`[${w}] keyboard: search by name with Enter, then Clear`, async () => {
      await tabTo(page, "#q-name", { back: true });
      await page.keyboard.type(renamed);
      await page.keyboard.press("Enter");
      await said("1 applications match");
      const names = await page.$$eval("#rows tr.app-row .name-cell", (cells) => cells.map((c) => c.textContent));
      assert.deepEqual(names, [renamed], "only the application searched for is listed");
      await assertFocus(page, "#q-name", "focus stays in the search field");
      await page.keyboard.press("Tab");
      await assertFocus(page, "#q-email", "Tab from Name contains");
      await tabTo(page, "#search-clear");
      await page.keyboard.press("Enter");
      await assertFocus(page, "#q-name", "Clear puts focus back in the search field");
      assert.equal(await page.inputValue("#q-name"), "");
      await page.waitForFunction((n) => document.querySelectorAll("#rows tr.app-row").length >= 1 &&
        [...document.querySelectorAll("#rows tr.app-row .name-cell")].some((c) => c.textContent === n), renamed);
      const all = await page.locator("#rows tr.app-row").count();
      const total = await page.evaluate(async () => {
        const r = await fetch("/admin/v1/applications?limit=50", { headers: { authorization: "Bearer " + sessionStorage.getItem("cb-session") } });
        return r.ok ? (await r.json()).items.length : -1;
      });
      if (total >= 0) assert.equal(all, total, "Clear lists every application again");
      // The search rebuilt the list with details closed: open them again by keyboard.
      const expand = `button.expand[aria-label="Show details of ${renamed}"]`;
      await tabTo(page, expand);
      await page.keyboard.press("Enter");
      assert.equal(await page.getAttribute(`button.expand[aria-label$="${renamed}"]`, "aria-expanded"), "true");
    });

    await step(`[${w}] keyboard: delete, Escape cancels, then confirm`, async () => {
      const del = `button[aria-label="Delete ${renamed}"]`;
      await tabTo(page, del);
      await page.keyboard.press("Enter");
      await page.waitForSelector("#confirm-dialog[open]");
      await assertFocus(page, "#confirm-type", "the confirmation opens on the name to type");
      await page.keyboard.press("Escape");
      await closed(page, "confirm-dialog");
      await assertFocus(page, del, "Escape returns focus to Delete");
      await page.keyboard.press("Enter");
      await page.waitForSelector("#confirm-dialog[open]");
      await page.keyboard.insertText(renamed);
      await page.keyboard.press("Enter");
      await closed(page, "confirm-dialog");
      await assertFocus(page, "#apps-title", "after deleting, focus is on the list's heading");
      assert.equal(await page.locator("#rows tr.app-row", { hasText: renamed }).count(), 0);
    });

    await step(`[${w}] keyboard: register with Private key JWT by arrow key, invalid JSON caught, the key shown in the details`, async () => {
      const keyed = `Keyboard Keyed ${w}`;
      const jwk = { ...generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey.export({ format: "jwk" }), kid: `kb-${w}` };
      let posts = 0;
      const count = (r) => { if (r.method() === "POST" && r.url().endsWith("/admin/v1/external-applications")) posts += 1; };
      page.on("request", count);
      await tabTo(page, "#new", { max: 120 });
      await page.keyboard.press("Enter");
      await page.waitForSelector("#app-dialog[open]");
      await assertFocus(page, "#f-name", "New Application opens on Application name");
      await page.keyboard.type(keyed);
      await page.keyboard.press("Tab");
      await page.keyboard.type(`keyboard-keyed-${w}@partner.example.org`);
      const worker = await page.getAttribute("#f-roles-list label:has-text('Engage Worker')", "for");
      await tabTo(page, `#${worker}`);
      await page.keyboard.press("Space");
      await tabTo(page, "#f-auth-secret");
      await page.keyboard.press("ArrowDown");
      assert.ok(await page.isChecked("#f-auth-jwt"), "the arrow key chooses Private key JWT");
      await page.keyboard.press("Tab");
      await assertFocus(page, "#f-keys-set", "Tab from the choice reaches the choice of keys, a pasted JWK Set first");
      await page.keyboard.press("Tab");
      await assertFocus(page, "#f-jwks", "Tab from the choice of keys reaches the key set");
      await page.keyboard.type('{"keys": [');
      await tabTo(page, "#app-form button[type=submit]");
      await page.keyboard.press("Enter");
      await assertFocus(page, "#f-jwks", "invalid JSON puts focus on the key set");
      assert.match(await page.textContent("#f-jwks-error"), /not valid JSON/);
      assert.equal(posts, 0, "invalid JSON sends nothing");
      await page.keyboard.press("Control+A");
      await page.keyboard.type(JSON.stringify({ keys: [jwk] }));
      await tabTo(page, "#app-form button[type=submit]");
      await page.keyboard.press("Enter");
      await closed(page, "app-dialog");
      await assertFocus(page, `button.expand[aria-label$="${keyed}"]`, "after Save focus is on the new application");
      await said(`${keyed} registered`);
      assert.equal(posts, 1);
      const detailsId = await page.getAttribute(`button.expand[aria-label$="${keyed}"]`, "aria-controls");
      const text = await page.textContent(`#${detailsId}`);
      assert.match(text, /Private key JWT/);
      assert.match(text, new RegExp(`kid kb-${w}, type EC P-256`));
      assert.equal(await page.locator(key(keyed)).count(), 0, "no key icon for a keyed application");
      // By Tab from the expand icon: Edit comes, Rotate never does.
      await tabTo(page, `button[aria-label="Edit ${keyed}"]`);
      await page.keyboard.press("Tab"); await page.keyboard.press("Tab");
      assert.doesNotMatch(await page.evaluate(() => document.activeElement.getAttribute("aria-label") || ""), /Rotate/);
      await check(page, viewport, "keyboard-keyed-details");
      page.off("request", count);
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

    await step(`[${w}] keyboard: Users, New user with a role by Space, edit, delete with Escape first`, async () => {
      await tabTo(page, '#nav a[data-screen="users"]', { back: true, max: 120 });
      await page.keyboard.press("Enter");
      await page.waitForSelector("#user-rows tr");
      await assertFocus(page, "#users-title", "the Users screen's heading");
      await page.keyboard.press("Tab");
      await assertFocus(page, "#user-new", "Tab from the heading reaches New user");
      await page.keyboard.press("Enter");
      await page.waitForSelector("#user-dialog[open]");
      await assertFocus(page, "#u-name", "New user opens on Name");
      await page.keyboard.type(user);
      await page.keyboard.press("Tab");
      await assertFocus(page, "#u-email", "Tab from Name");
      await page.keyboard.type(`keyboard-worker-${w}@agency.example.org`);
      await page.keyboard.press("Tab");
      await assertFocus(page, "#u-invite", "Tab from Email reaches the chosen way to a first password");
      await page.keyboard.press("ArrowDown");
      assert.ok(await page.isChecked("#u-set-now"), "an arrow chooses Set a password now");
      await page.keyboard.press("Tab");
      await assertFocus(page, "#u-password", "Tab from the choice reaches the password");
      await page.keyboard.type(`keyboard worker password ${w}`);
      await page.keyboard.press("Tab");
      await assertFocus(page, "#u-roles-list input", "Tab from Password (past its hint) reaches the roles");
      const worker = await page.getAttribute("#u-roles-list label:has-text('Engage Worker')", "for");
      await tabTo(page, `#${worker}`);
      await page.keyboard.press("Space");
      assert.ok(await page.isChecked(`#${worker}`), "Space ticks the role");
      await check(page, viewport, "keyboard-new-user");
      await tabTo(page, "#user-form button[type=submit]");
      await page.keyboard.press("Enter");
      await closed(page, "user-dialog");
      await said(`User ${user} created`);
      await assertFocus(page, `button[aria-label="Edit ${user}"]`, "after Save focus is on the new user's Edit");
      const row = page.locator("#user-rows tr", { hasText: user });
      assert.match(await row.textContent(), /Engage Worker/);
      assert.ok(await inViewport(row.locator("td").first()), "the new user is on screen");

      await page.keyboard.press("Enter");
      await page.waitForSelector("#user-dialog[open]");
      await assertFocus(page, "#u-name", "Edit opens on Name");
      assert.equal(await page.textContent("#user-dialog-title"), `Edit ${user}`);
      await check(page, viewport, "keyboard-edit-user");
      const screener = await page.getAttribute("#u-roles-list label:has-text('Intake Screener')", "for");
      await tabTo(page, `#${screener}`);
      await page.keyboard.press("Space");
      assert.ok(await page.isChecked(`#${screener}`));
      await tabTo(page, "#user-form button[type=submit]");
      await page.keyboard.press("Space");
      await closed(page, "user-dialog");
      await said(`User ${user} saved`);
      await assertFocus(page, `button[aria-label="Edit ${user}"]`, "after Save focus is on the user's Edit");
      assert.match(await row.textContent(), /Intake Screener/);

      const del = `button[aria-label="Delete ${user}"]`;
      await page.keyboard.press("Tab");
      await assertFocus(page, `button[aria-label="Disable ${user}"]`, "Tab from Edit reaches Disable");
      await page.keyboard.press("Tab");
      await assertFocus(page, del, "Tab from Disable reaches Delete");
      await page.keyboard.press("Enter");
      await page.waitForSelector("#confirm-dialog[open]");
      await assertFocus(page, "#confirm-dialog .cancel", "the confirmation opens on Cancel");
      assert.equal(await page.textContent("#confirm-title"), `Delete user ${user}?`);
      await check(page, viewport, "keyboard-delete-user");
      await page.keyboard.press("Escape");
      await closed(page, "confirm-dialog");
      await assertFocus(page, del, "Escape returns focus to Delete");
      assert.equal(await row.count(), 1, "Escape deletes nothing");
      await page.keyboard.press("Enter");
      await page.waitForSelector("#confirm-dialog[open]");
      await page.keyboard.press("Tab");
      await assertFocus(page, "#confirm-ok", "Tab from Cancel");
      await page.keyboard.press("Enter");
      await closed(page, "confirm-dialog");
      await said(`User ${user} deleted`);
      await assertFocus(page, "#users-title", "after deleting, focus is on the list's heading");
      assert.equal(await row.count(), 0);
    });

    await step(`[${w}] keyboard: Roles, New role with two permissions by Space, edit, delete`, async () => {
      await tabTo(page, '#nav a[data-screen="roles"]', { back: true, max: 120 });
      await page.keyboard.press("Enter");
      await page.waitForSelector("#role-rows tr");
      await assertFocus(page, "#roles-title", "the Roles screen's heading");
      await page.keyboard.press("Tab");
      await assertFocus(page, "#role-new", "Tab from the heading reaches New role");
      await page.keyboard.press("Enter");
      await page.waitForSelector("#role-dialog[open]");
      await assertFocus(page, "#ro-name", "New role opens on Role name");
      await page.keyboard.type(role);
      await page.keyboard.press("Tab");
      await assertFocus(page, "#perm-engage-view", "Tab from Role name reaches the first permission");
      await page.keyboard.press("Space");
      await tabTo(page, "#perm-intake-create");
      await page.keyboard.press("Space");
      assert.ok(await page.isChecked("#perm-engage-view") && await page.isChecked("#perm-intake-create"), "Space ticks both");
      await check(page, viewport, "keyboard-new-role");
      await tabTo(page, "#role-form button[type=submit]");
      await page.keyboard.press("Enter");
      await closed(page, "role-dialog");
      await said(`Role ${role} created`);
      await assertFocus(page, `button[aria-label="Edit role ${role}"]`, "after Save focus is on the new role's Edit");
      assert.match(await page.locator("#role-rows tr", { hasText: role }).textContent(), /cb Engage: view; Intake: create/);

      await page.keyboard.press("Enter");
      await page.waitForSelector("#role-dialog[open]");
      await assertFocus(page, "#ro-name", "Edit opens on Role name");
      assert.equal(await page.textContent("#role-dialog-title"), `Edit role ${role}`);
      assert.ok(await page.isChecked("#perm-engage-view") && await page.isChecked("#perm-intake-create"), "the permissions are shown ticked");
      await check(page, viewport, "keyboard-edit-role");
      await page.keyboard.press("Control+A");
      await page.keyboard.type(roleRenamed);
      await page.keyboard.press("Enter");
      await closed(page, "role-dialog");
      await said(`Role ${roleRenamed} saved`);
      await assertFocus(page, `button[aria-label="Edit role ${roleRenamed}"]`, "after Save focus is on the role's Edit");
      assert.equal(await page.locator("#role-rows tr", { hasText: role }).count(), 0, "the old name is gone");

      const del = `button[aria-label="Delete role ${roleRenamed}"]`;
      await page.keyboard.press("Tab");
      await assertFocus(page, del, "Tab from Edit reaches Delete");
      await page.keyboard.press("Enter");
      await page.waitForSelector("#confirm-dialog[open]");
      await assertFocus(page, "#confirm-dialog .cancel", "the confirmation opens on Cancel");
      assert.equal(await page.textContent("#confirm-title"), `Delete role ${roleRenamed}?`);
      await page.keyboard.press("Escape");
      await closed(page, "confirm-dialog");
      await assertFocus(page, del, "Escape returns focus to Delete");
      await page.keyboard.press("Space");
      await page.waitForSelector("#confirm-dialog[open]");
      await page.keyboard.press("Tab");
      await assertFocus(page, "#confirm-ok", "Tab from Cancel");
      await page.keyboard.press("Enter");
      await closed(page, "confirm-dialog");
      await said(`Role ${roleRenamed} deleted`);
      await assertFocus(page, "#roles-title", "after deleting, focus is on the list's heading");
      assert.equal(await page.locator("#role-rows tr", { hasText: roleRenamed }).count(), 0);
    });

    await step(`[${w}] keyboard: Audit trail, an action family by arrow and by typing, Enter filters, Clear`, async () => {
      await tabTo(page, '#nav a[data-screen="audit"]', { back: true, max: 120 });
      await page.keyboard.press("Enter");
      await page.waitForSelector("#audit-rows tr");
      await assertFocus(page, "#audit-title", "the Audit trail screen's heading");
      const actions = () => page.$$eval("#audit-rows tr", (rows) => rows.map((r) => r.dataset.action));
      const everything = await actions();
      assert.ok(everything.some((a) => a.startsWith("application.")) && everything.some((a) => a.startsWith("role.")), "the trail holds several families");
      await page.keyboard.press("Tab");
      await assertFocus(page, "#a-search", "Tab from the heading reaches Search");
      await page.keyboard.press("Tab");
      await assertFocus(page, "#a-action", "Tab from Search reaches Action");
      await page.keyboard.press("ArrowDown");
      assert.equal(await page.inputValue("#a-action"), "application.", "ArrowDown picks the next option");
      await page.keyboard.type("Any r");
      assert.equal(await page.inputValue("#a-action"), "role.", "typing picks the option by its name");
      await tabTo(page, "#a-target");
      await page.keyboard.press("Enter");
      await said("match the filter");
      const narrowed = await actions();
      assert.ok(narrowed.length > 0 && narrowed.every((a) => a.startsWith("role.")), `only role events: ${narrowed.join(", ")}`);
      assert.ok(narrowed.some((a) => a === "role.removed"), "the role deleted by keyboard is in the trail");
      await assertFocus(page, "#a-target", "focus stays in the filter");
      await tabTo(page, "#a-clear");
      await page.keyboard.press("Enter");
      await page.waitForFunction((n) => document.querySelectorAll("#audit-rows tr").length === n, everything.length);
      assert.equal(await page.inputValue("#a-action"), "");
      assert.ok((await actions()).some((a) => a.startsWith("application.")), "Clear shows every family again");
      await assertFocus(page, "#a-clear", "focus stays on Clear");
      await check(page, viewport, "keyboard-audit");
    });
    await context.close();
  }
});
