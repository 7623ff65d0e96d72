// An admin's week on the applications screen, at 1366 px by mouse and at
// 390 px by keyboard alone: Register is the first stop after the title;
// an application is found by its Client ID; its details show the token
// endpoint and a first request to copy; Disable asks first and says what it
// ends and who is emailed; Delete waits for the name to be typed; Rotate
// offers hours or days with a day by default and refuses more than the
// most; a reveal says which secret it showed and that the partner is
// emailed. Axe and a screenshot on every screen and dialog.
import { assert, WIDTHS, open, step, check, signIn, tabTo, assertFocus, closed, noHorizontalScroll, finish, adminToken, call, roleId, adminEmail, adminPassword } from "./harness.mjs";

const run = Date.now().toString(36);

await finish(async () => {
  const token = await adminToken();
  const auditor = await roleId(token, "Auditor");
  const discovery = await (await fetch(`${process.env.CASEBOOK_URL}/.well-known/oauth-authorization-server`)).json();

  for (const viewport of WIDTHS) {
    const w = viewport.width;
    const byKeyboard = w < 1000;
    const name = `Week Partner ${w} ${run}`;
    const email = `week-${w}-${run}@partner.example.org`;
    const app = await call(token, "POST", "/admin/v1/external-applications", { name, email, roles: [auditor] });
    const { context, page } = await open(viewport);
    const press = async (selector) => {
      if (byKeyboard) { await tabTo(page, selector, { max: 120 }); await page.keyboard.press("Enter"); }
      else await page.click(selector);
    };
    const fill = async (selector, text) => {
      if (!byKeyboard) { await page.fill(selector, text); return; }
      await tabTo(page, selector, { max: 120 });
      await page.keyboard.press("Control+A");
      if (text) await page.keyboard.insertText(text); else await page.keyboard.press("Backspace");
    };
    const row = page.locator("tr.app-row", { has: page.locator(`td:text-is("${name}")`) });

    await step(`[${w}] Register is the first stop after the screen's title`, async () => {
      await signIn(page);
      await page.waitForSelector("#new:not([hidden])");
      await page.focus("#apps-title");
      await page.keyboard.press("Tab");
      await assertFocus(page, "#new", "Tab from the title reaches Register");
    });

    await step(`[${w}] a new application's typing survives Escape and a session that ended`, async () => {
      const draftName = `Draft Partner ${w} ${run}`;
      await press("#new");
      await page.waitForSelector("#app-dialog[open]");
      assert.ok(await page.isHidden("#app-draft"), "a first New starts empty");
      await fill("#f-name", draftName);
      await fill("#f-email", `draft-${w}-${run}@partner.example.org`);
      await page.keyboard.press("Escape");
      await closed(page, "app-dialog");
      await press("#new");
      await page.waitForSelector("#app-dialog[open]");
      assert.equal(await page.inputValue("#f-name"), draftName, "Escape kept what was typed");
      assert.ok(await page.isVisible("#app-draft"), "and says so");
      await check(page, viewport, "week-draft-kept");
      // The session ends under the form: Save meets a 401, the console asks
      // for a sign-in, and the typing is still there afterwards.
      const session = await page.evaluate(() => sessionStorage.getItem("cb-session"));
      await fetch(`${process.env.CASEBOOK_URL}/admin/v1/sessions/current`, { method: "DELETE", headers: { authorization: `Bearer ${session}` } });
      await press("#app-form button[type=submit]");
      await page.waitForSelector("#signin:not([hidden])");
      assert.match(await page.textContent("#si-error"), /What you were typing is kept/);
      // Signed in again on the same page, as the admin would: no reload.
      await page.fill("#si-email", adminEmail);
      await page.fill("#si-password", adminPassword);
      await page.click("#signin button[type=submit]");
      await page.waitForSelector("#nav:not([hidden])");
      await press("#new");
      await page.waitForSelector("#app-dialog[open]");
      assert.equal(await page.inputValue("#f-name"), draftName, "kept across the new sign-in");
      await press("#app-draft-discard");
      assert.equal(await page.inputValue("#f-name"), "", "Start over clears it");
      assert.ok(await page.isHidden("#app-draft"));
      await assertFocus(page, "#f-name", "Start over puts focus on the first field");
      await page.keyboard.press("Escape");
      await closed(page, "app-dialog");
      await press("#new");
      await page.waitForSelector("#app-dialog[open]");
      assert.ok(await page.isHidden("#app-draft"), "an empty form closed is no draft");
      await page.keyboard.press("Escape");
      await closed(page, "app-dialog");
    });

    await step(`[${w}] a new user's typing is kept on Escape, but never its password`, async () => {
      await page.click('#nav a[data-screen="users"]');
      await page.waitForSelector("#users-table:not([hidden])");
      await press("#user-new");
      await page.waitForSelector("#user-dialog[open]");
      await fill("#u-name", `Draft Person ${w}`);
      if (byKeyboard) { await tabTo(page, "#u-invite"); await page.keyboard.press("ArrowDown"); } else await page.check("#u-set-now");
      await fill("#u-password", "a password never kept");
      await page.keyboard.press("Escape");
      await closed(page, "user-dialog");
      await press("#user-new");
      await page.waitForSelector("#user-dialog[open]");
      assert.equal(await page.inputValue("#u-name"), `Draft Person ${w}`,
        `draft note shown: ${await page.isVisible("#user-draft")}, title ${await page.textContent("#user-dialog-title")}`);
      assert.equal(await page.inputValue("#u-password"), "", "the password is not kept");
      assert.ok(await page.isVisible("#user-draft"));
      await check(page, viewport, "week-user-draft");
      await press("#user-draft button");
      assert.equal(await page.inputValue("#u-name"), "");
      await page.keyboard.press("Escape");
      await closed(page, "user-dialog");
      await page.click('#nav a[data-screen="applications"]');
      await page.waitForSelector("#apps-table:not([hidden])");
    });

    await step(`[${w}] a list that fails to load says so with Retry, never as an empty list`, async () => {
      for (const [screen, api, prefix, title] of [
        ["users", "/admin/v1/users", "users", "#users-title"],
        ["roles", "/admin/v1/roles", "roles", "#roles-title"],
        ["applications", "/admin/v1/external-applications", "apps", "#apps-title"],
      ]) {
        const failing = (route) => (new URL(route.request().url()).pathname === api && route.request().method() === "GET"
          ? route.fulfill({ status: 500, contentType: "application/problem+json", body: JSON.stringify({ title: "Internal Server Error", status: 500, detail: "the database is unavailable" }) })
          : route.continue());
        await page.route("**/admin/v1/**", failing);
        await page.click(`#nav a[data-screen="${screen}"]`);
        await page.waitForSelector(`#${prefix}-error:not([hidden])`);
        assert.match(await page.textContent(`#${prefix}-error-text`), /[Tt]he database is unavailable/);
        assert.ok(await page.isHidden(`#${prefix}-table`), `${screen}: no empty table beside the error`);
        await check(page, viewport, `week-${prefix}-error`);
        await page.unroute("**/admin/v1/**", failing);
        await press(`#${prefix}-retry`);
        await page.waitForSelector(`#${prefix}-table`, { state: "visible" });
        assert.ok(await page.isHidden(`#${prefix}-error`), `${screen}: the error is gone with the list back`);
        await assertFocus(page, title, "after a Retry that worked, focus is on the screen's title");
      }
    });

    await step(`[${w}] a Client ID finds its application; details show the token endpoint and a first request`, async () => {
      await fill("#q-client", app.client_id);
      await press("#search button[type=submit]");
      await page.waitForFunction(() => document.querySelectorAll("#rows tr.app-row").length === 1);
      assert.equal(await row.count(), 1, "the one application with that Client ID");
      await press(`button[aria-label="Show details of ${name}"]`);
      const details = page.locator(`#details-${app.id}`);
      await details.locator("code", { hasText: discovery.token_endpoint }).first().waitFor();
      const curl = await details.locator("code.curl-line").textContent();
      assert.equal(curl, `curl -u '${app.client_id}:<client secret>' -d grant_type=client_credentials ${discovery.token_endpoint}`);
      await noHorizontalScroll(page, "the details with the first request");
      await check(page, viewport, "week-details");
    });

    await step(`[${w}] Disable asks first, says what it ends and who is emailed; Cancel changes nothing`, async () => {
      await press(`button[aria-label="Disable ${name}"]`);
      await page.waitForSelector("#confirm-dialog[open]");
      assert.equal(await page.textContent("#confirm-title"), `Disable ${name}?`);
      const text = await page.textContent("#confirm-text");
      assert.match(text, /no longer get tokens/);
      assert.ok(text.includes(`${email} is emailed`), text);
      assert.ok(await page.isHidden("#confirm-type-row"), "disabling needs no typing");
      await check(page, viewport, "week-disable-confirm");
      if (byKeyboard) await page.keyboard.press("Escape"); else await page.click("#confirm-dialog .cancel");
      await closed(page, "confirm-dialog");
      assert.equal((await call(token, "GET", `/admin/v1/external-applications/${app.id}`)).enabled, true, "Cancel disabled nothing");
      await press(`button[aria-label="Disable ${name}"]`);
      await page.waitForSelector("#confirm-dialog[open]");
      await press("#confirm-ok");
      await closed(page, "confirm-dialog");
      await row.locator(".status-off").waitFor();
      assert.equal((await call(token, "GET", `/admin/v1/external-applications/${app.id}`)).enabled, false);
      await press(`button[aria-label="Enable ${name}"]`);
      await row.locator(".status-on").waitFor();
    });

    await step(`[${w}] Rotate offers a day by default, in hours or days, and refuses more than a week`, async () => {
      await press(`button[aria-label="Rotate client secret of ${name}"]`);
      await page.waitForSelector("#rotate-dialog[open]");
      assert.equal(await page.inputValue("#r-grace"), "24");
      assert.equal(await page.inputValue("#r-grace-unit"), "3600");
      assert.ok((await page.textContent("#rotate-emailed")).includes(`${email} is emailed`));
      await check(page, viewport, "week-rotate");
      await fill("#r-password", adminPassword);
      await fill("#r-grace", "8");
      await page.selectOption("#r-grace-unit", "86400");
      await press("#rotate-submit");
      await page.waitForFunction(() => document.querySelector("#r-grace-error").textContent !== "");
      assert.match(await page.textContent("#r-grace-error"), /from 0 to 7 days/);
      assert.equal(await page.getAttribute("#r-grace", "aria-invalid"), "true");
      await fill("#r-grace", "2");
      if (!(await page.inputValue("#r-password"))) await fill("#r-password", adminPassword);
      await press("#rotate-submit");
      await page.waitForSelector("#rotate-result:not([hidden])");
      assert.match(await page.textContent("#rotated-grace"), /keeps working until/);
      if (byKeyboard) await page.keyboard.press("Escape"); else await page.click("#rotate-dialog .cancel");
      await closed(page, "rotate-dialog");
      // The rotated-out secret works two days more, and says so.
      const statuses = page.locator(`#details-${app.id} section.cs td[data-label=Status]`);
      await page.waitForFunction((id) => document.querySelectorAll(`#details-${id} section.cs tbody tr`).length === 2, app.id);
      assert.deepEqual((await statuses.allTextContents()).map((t) => t.replace(/ .*/s, "").trim()).sort(), ["◷", "✓"]);
      assert.match(await statuses.filter({ hasText: "Ending" }).textContent(), /Ending .*(UTC|GMT|[A-Z]{2,5})/);
      await statuses.filter({ hasText: "Ending" }).scrollIntoViewIfNeeded();
      await check(page, viewport, "week-secret-ending");
      // Ended, it stays listed as what it was, under Ended secrets.
      const listed = await call(token, "GET", `/admin/v1/external-applications/${app.id}/client-secrets`);
      const ending = listed.items.find((x) => x.expires_at);
      await call(token, "DELETE", `/admin/v1/external-applications/${app.id}/client-secrets/${ending.id}`);
      await page.click(`button[aria-label="Hide details of ${name}"]`);
      await page.click(`button[aria-label="Show details of ${name}"]`);
      const ended = page.locator(`#details-${app.id} details.cs-ended`);
      await ended.locator("summary", { hasText: "Ended secrets (1)" }).waitFor();
      await ended.locator("summary").click();
      assert.ok((await ended.textContent()).includes(ending.id), "the ended secret's id");
      await ended.scrollIntoViewIfNeeded();
      await check(page, viewport, "week-secret-ended");
    });

    await step(`[${w}] a reveal says which secret it shows and that the partner is emailed`, async () => {
      await press(`button[aria-label="Reveal client secret of ${name}"]`);
      await page.waitForSelector("#verify-dialog[open]");
      assert.ok((await page.textContent("#verify-emailed")).includes(`${email} is emailed`));
      await fill("#v-password", adminPassword);
      await press("#verify-submit");
      await page.waitForSelector("#verify-result:not([hidden])");
      assert.match(await page.textContent("#secret-which"), /^This is secret \S+, the newest that works/);
      await check(page, viewport, "week-reveal");
      if (byKeyboard) await page.keyboard.press("Escape"); else await page.click("#verify-cancel");
      await closed(page, "verify-dialog");
    });

    await step(`[${w}] Delete waits for the application's name`, async () => {
      await press(`button[aria-label="Delete ${name}"]`);
      await page.waitForSelector("#confirm-dialog[open]");
      assert.equal(await page.textContent("#confirm-type-label"), `To confirm, type its name ${name}`);
      await assertFocus(page, "#confirm-type", "the name comes first");
      await check(page, viewport, "week-delete-confirm");
      await page.keyboard.insertText("not the name");
      await page.keyboard.press("Enter");
      await page.waitForFunction(() => document.querySelector("#confirm-type-error").textContent !== "");
      await call(token, "GET", `/admin/v1/external-applications/${app.id}`);
      await page.fill("#confirm-type", name);
      await page.keyboard.press("Enter");
      await closed(page, "confirm-dialog");
      await row.waitFor({ state: "detached" });
    });
    await context.close();
  }
});
