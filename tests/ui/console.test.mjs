// The article's flows and the rest of the applications screen, by mouse, at
// 1366 and 390 px: sign in; New Application with field errors in people's
// words; Save shows the new application; expand with copy buttons; the key
// icon with no empty password sent; edit, disable, rotate, search, delete.
import { generateKeyPairSync } from "node:crypto";
import { assert, base, WIDTHS, open, step, check, noHorizontalScroll, inViewport, assertFocus, closed, finish, adminEmail, adminPassword } from "./harness.mjs";

await finish(async () => {
  for (const viewport of WIDTHS) {
    const w = viewport.width;
    const { context, page } = await open(viewport);
    const appName = `Console Partner ${w}`;
    const reveals = [];
    const posts = [];
    page.on("request", (r) => {
      if (r.url().includes("/client-secret/reveal")) reveals.push(r.postDataJSON());
      if (r.method() === "POST" && r.url().endsWith("/admin/v1/external-applications")) posts.push(r.url());
    });

    await step(`[${w}] sign in shows the server's refusal, then signs in`, async () => {
      await page.goto(`${base}/admin`);
      await check(page, viewport, "sign-in");
      await page.click("#signin button[type=submit]");
      assert.match(await page.textContent("#si-email-error"), /Email is required/);
      await page.fill("#si-email", adminEmail);
      await page.fill("#si-password", "not the password");
      await page.click("#signin button[type=submit]");
      await page.waitForFunction(() => document.querySelector("#si-error").textContent.length > 0);
      assert.equal(await page.inputValue("#si-password"), "");
      await page.fill("#si-password", adminPassword);
      await page.click("#signin button[type=submit]");
      await page.waitForSelector("#applications:not([hidden])");
      assert.equal(await page.getAttribute('#nav a[data-screen="applications"]', "aria-current"), "page");
      assert.ok(await page.isVisible('#nav a[href="/docs/"]'), "API reference link");
      await noHorizontalScroll(page, "applications");
      await check(page, viewport, "applications");
    });

    await step(`[${w}] New Application shows every error beside its field, by label, and clears it on change`, async () => {
      await page.click("#new");
      await page.waitForSelector("#app-dialog[open]");
      await assertFocus(page, "#f-name", "New Application opens on its first field");
      assert.equal(await page.textContent("#app-dialog-title"), "New Application");
      for (const id of ["#f-name", "#f-email"]) assert.equal(await page.getAttribute(id, "required"), "");
      assert.equal(await page.textContent("#f-roles legend"), "Roles *");
      await page.fill("#f-email", "not-an-address");
      await page.fill("#f-url", "ftp://partner.example.org");
      await page.click("#app-form button[type=submit]");
      await page.waitForFunction(() => document.querySelector("#f-name-error").textContent.length > 0);
      const texts = {};
      for (const f of ["name", "email", "url", "roles"]) texts[f] = await page.textContent(`#f-${f}-error`);
      assert.match(texts.name, /^Application name is required/);
      assert.match(texts.email, /^Email must be a valid email address/);
      assert.match(texts.url, /^Application URL must be a full web address/);
      assert.match(texts.roles, /at least one role/);
      for (const t of Object.values(texts)) assert.doesNotMatch(t, /application_url|\bname\b must/);
      assert.match(await page.textContent("#app-summary"), /^4 problems to fix/);
      await assertFocus(page, "#f-name", "the first invalid field is focused");
      assert.equal(await page.getAttribute("#f-url", "aria-invalid"), "true");
      assert.match(await page.getAttribute("#f-url", "aria-describedby"), /f-url-error/);
      await noHorizontalScroll(page, "New Application");
      await check(page, viewport, "new-application-errors");
      await page.fill("#f-url", "https://partner.example.org");
      assert.equal(await page.textContent("#f-url-error"), "");
      assert.equal(await page.getAttribute("#f-url", "aria-invalid"), null);
    });

    await step(`[${w}] Save (double-clicked) registers once, confirms it and shows the new application`, async () => {
      await page.fill("#f-name", appName);
      await page.fill("#f-email", `console-${w}@partner.example.org`);
      await page.check("#f-roles-list label:has-text('Engage Supervisor')");
      await page.fill("#f-description", "Registered from the console test");
      posts.length = 0;
      await page.dblclick("#app-form button[type=submit]");
      await closed(page, "app-dialog");
      await page.waitForTimeout(200);
      assert.equal(posts.length, 1, "one POST for a double-click");
      await page.waitForFunction((n) => document.querySelector("#status").textContent.includes(n), appName);
      const row = page.locator("#rows tr.app-row", { hasText: appName });
      assert.ok(await inViewport(row.locator(".name-cell")), "the new application is on screen");
      assert.ok(await page.locator(`#rows tr.details:not([hidden])`).first().isVisible(), "its details are open");
    });

    await step(`[${w}] the expand icon shows Client ID, Description, Application URL and Callback URL, with copy buttons`, async () => {
      const row = page.locator("#rows tr.app-row", { hasText: appName });
      const expand = row.locator("button.expand");
      assert.equal(await expand.getAttribute("aria-expanded"), "true");
      await expand.click();
      assert.equal(await expand.getAttribute("aria-expanded"), "false");
      await expand.click();
      const detailsId = await expand.getAttribute("aria-controls");
      const details = await page.textContent(`#${detailsId}`);
      for (const label of ["Client ID", "Description", "Application URL", "Callback URL"]) assert.ok(details.includes(label), label);
      assert.match(details, /cb_[0-9a-f]{32}/);
      assert.ok(details.includes(base), "Callback URL is the public URL");
      const copyId = page.locator(`#${detailsId} button[aria-label^="Copy Client ID"]`);
      await copyId.click();
      await page.waitForFunction((id) => document.querySelector(`#${id} button[aria-label^="Copy Client ID"]`).textContent === "Copied", detailsId);
      assert.match(await page.evaluate(() => navigator.clipboard.readText()), /^cb_[0-9a-f]{32}$/);
      await page.click(`#${detailsId} button[aria-label^="Copy Callback URL"]`);
      assert.equal(await page.evaluate(() => navigator.clipboard.readText()), base);
      await noHorizontalScroll(page, "expanded row");
      await check(page, viewport, "application-details");
    });

    await step(`[${w}] the key icon names the application, never sends an empty password, and shows the secret with Copy`, async () => {
      const key = page.locator(`button[aria-label="Reveal client secret of ${appName}"]`);
      assert.ok(await inViewport(key), "the key icon is on screen");
      await key.click();
      await page.waitForSelector("#verify-dialog[open]");
      assert.equal(await page.textContent("#verify-title"), `Client secret of ${appName}`);
      await assertFocus(page, "#v-password", "the password field is focused");
      await check(page, viewport, "reveal-password");
      await page.click("#verify-submit");
      await page.press("#v-password", "Enter");
      assert.match(await page.textContent("#v-password-error"), /Enter your password/);
      assert.equal(reveals.length, 0, "no empty password sent");
      await page.fill("#v-password", "wrong password entirely");
      await page.click("#verify-submit");
      await page.waitForFunction(() => /lockout/.test(document.querySelector("#v-password-error").textContent));
      assert.equal(await page.inputValue("#v-password"), "", "the field is cleared after use");
      await page.press("#v-password", "Enter");
      assert.equal(reveals.length, 1, "Enter on the cleared field sends nothing");
      assert.ok(await page.isHidden("#verify-result"));
      await page.fill("#v-password", adminPassword);
      await page.click("#verify-submit");
      await page.waitForSelector("#verify-result:not([hidden])");
      assert.equal(await page.textContent("#secret-label"), "Client secret");
      const secret = await page.textContent("#secret");
      assert.match(secret, /^cbs_[0-9A-Za-z]{50}$|^cbs_[A-Za-z0-9_-]{43}$/);
      await assertFocus(page, "#secret-copy-slot button", "focus moves to Copy after Verify");
      await page.click("#secret-copy-slot button");
      await page.waitForFunction(() => document.querySelector("#secret-copy-slot button").textContent === "Copied");
      assert.equal(await page.evaluate(() => navigator.clipboard.readText()), secret);
      await check(page, viewport, "reveal-secret");
      await page.keyboard.press("Escape");
      await closed(page, "verify-dialog");
      await assertFocus(page, `button[aria-label="Reveal client secret of ${appName}"]`, "focus returns to the key icon");
      await page.waitForFunction(() => document.querySelector("#secret").textContent === "", null, { timeout: 2000 })
        .catch(() => assert.fail("the secret leaves the page when the dialog closes"));
    });

    await step(`[${w}] Edit changes the application in place and says so`, async () => {
      await page.click(`button[aria-label="Edit ${appName}"]`);
      await page.waitForSelector("#app-dialog[open]");
      assert.equal(await page.textContent("#app-dialog-title"), `Edit ${appName}`);
      assert.equal(await page.inputValue("#f-email"), `console-${w}@partner.example.org`);
      assert.ok(await page.isChecked("#f-roles-list label:has-text('Engage Supervisor') >> xpath=preceding-sibling::input"));
      await check(page, viewport, "edit-application");
      await page.fill("#f-description", "Changed from the console test");
      await page.check("#f-roles-list label:has-text('Engage Worker')");
      await page.click("#app-form button[type=submit]");
      await closed(page, "app-dialog");
      await page.waitForFunction((n) => document.querySelector("#status").textContent.includes(n + " saved"), appName);
      const row = page.locator("#rows tr.app-row", { hasText: appName });
      assert.equal(await row.count(), 1);
      assert.match(await row.textContent(), /Engage Worker/);
      assert.ok(await inViewport(row.locator(".name-cell")));
    });

    await step(`[${w}] Edit sets allowed sources and a quota: a bad network is refused by its line, then both show in the details`, async () => {
      const patches = [];
      const watch = (r) => { if (r.method() === "PATCH") patches.push(r.postDataJSON()); };
      page.on("request", watch);
      await page.click(`button[aria-label="Edit ${appName}"]`);
      await page.waitForSelector("#app-dialog[open]");
      assert.equal(await page.inputValue("#f-sources"), "");
      await page.fill("#f-sources", "203.0.113.0/24\n10.0.0.5/8");
      await page.fill("#f-quota", "600");
      await page.click("#app-form button[type=submit]");
      await page.waitForFunction(() => document.querySelector("#f-sources-error").textContent.length > 0);
      const said = await page.textContent("#f-sources-error");
      assert.match(said, /^Line 2 is 10\.0\.0\.5\/8/);
      assert.doesNotMatch(said, /allowed_sources/);
      assert.equal(await page.getAttribute("#f-sources", "aria-invalid"), "true");
      await check(page, viewport, "edit-application-sources-refused");
      await page.fill("#f-sources", "203.0.113.0/24\n10.0.0.5");
      await page.click("#app-form button[type=submit]");
      await closed(page, "app-dialog");
      await page.waitForFunction((n) => document.querySelector("#status").textContent.includes(n + " saved"), appName);
      const details = page.locator("tr.details:not([hidden])");
      assert.match(await details.textContent(), /203\.0\.113\.0\/24, 10\.0\.0\.5\/32/);
      assert.match(await details.textContent(), /600 an hour/);
      // An edit that leaves them alone does not send them.
      await page.click(`button[aria-label="Edit ${appName}"]`);
      await page.waitForSelector("#app-dialog[open]");
      assert.equal(await page.inputValue("#f-sources"), "203.0.113.0/24\n10.0.0.5/32");
      assert.equal(await page.inputValue("#f-quota"), "600");
      await page.click("#app-form button[type=submit]");
      await closed(page, "app-dialog");
      const last = patches[patches.length - 1];
      assert.ok(!("allowed_sources" in last) && !("token_quota_per_hour" in last), JSON.stringify(last));
      // Emptied, they are removed.
      await page.click(`button[aria-label="Edit ${appName}"]`);
      await page.waitForSelector("#app-dialog[open]");
      await page.fill("#f-sources", "");
      await page.fill("#f-quota", "");
      await page.click("#app-form button[type=submit]");
      await closed(page, "app-dialog");
      const cleared = patches[patches.length - 1];
      assert.equal(cleared.allowed_sources, null);
      assert.equal(cleared.token_quota_per_hour, null);
      await page.waitForFunction(() => /Any address/.test(document.querySelector("tr.details:not([hidden])").textContent));
      page.off("request", watch);
    });

    await step(`[${w}] Edit requires DPoP-bound tokens: the box is described by its hint, shows in the details, and is sent only when it moves`, async () => {
      const patches = [];
      const watch = (r) => { if (r.method() === "PATCH") patches.push(r.postDataJSON()); };
      page.on("request", watch);
      const details = page.locator("tr.details:not([hidden])");
      assert.match(await details.textContent(), /DPoP-bound tokensNot required/);
      await page.click(`button[aria-label="Edit ${appName}"]`);
      await page.waitForSelector("#app-dialog[open]");
      assert.equal(await page.isChecked("#f-dpop"), false);
      assert.match(await page.getAttribute("#f-dpop", "aria-describedby"), /f-dpop-hint/);
      assert.match(await page.textContent("#f-dpop-hint"), /RFC 9449/);
      await page.check("label[for=f-dpop]");
      await check(page, viewport, "edit-application-dpop");
      await page.click("#app-form button[type=submit]");
      await closed(page, "app-dialog");
      assert.equal(patches[patches.length - 1].dpop_bound_access_tokens, true);
      await page.waitForFunction(() => /DPoP-bound tokensRequired/.test(document.querySelector("tr.details:not([hidden])").textContent));
      await check(page, viewport, "application-details-dpop");
      // Left alone, it is not sent; cleared, it is sent as false.
      await page.click(`button[aria-label="Edit ${appName}"]`);
      await page.waitForSelector("#app-dialog[open]");
      assert.equal(await page.isChecked("#f-dpop"), true);
      await page.click("#app-form button[type=submit]");
      await closed(page, "app-dialog");
      assert.ok(!("dpop_bound_access_tokens" in patches[patches.length - 1]), JSON.stringify(patches[patches.length - 1]));
      await page.click(`button[aria-label="Edit ${appName}"]`);
      await page.waitForSelector("#app-dialog[open]");
      await page.uncheck("#f-dpop");
      await page.click("#app-form button[type=submit]");
      await closed(page, "app-dialog");
      assert.equal(patches[patches.length - 1].dpop_bound_access_tokens, false);
      await page.waitForFunction(() => /DPoP-bound tokensNot required/.test(document.querySelector("tr.details:not([hidden])").textContent));
      page.off("request", watch);
    });

    await step(`[${w}] Disable (once confirmed) and Enable change the status and say so`, async () => {
      await page.click(`button[aria-label="Disable ${appName}"]`);
      await page.waitForSelector("#confirm-dialog[open]");
      await page.click("#confirm-ok");
      await page.waitForFunction((n) => document.querySelector("#status").textContent.includes(n + " disabled"), appName);
      const row = page.locator("#rows tr.app-row", { hasText: appName });
      assert.equal((await row.locator(".status-off").textContent()).trim(), "Disabled");
      await page.click(`button[aria-label="Enable ${appName}"]`);
      await page.waitForFunction((n) => document.querySelector("#status").textContent.includes(n + " enabled"), appName);
      assert.equal((await row.locator(".status-on").textContent()).trim(), "Enabled");
    });

    await step(`[${w}] Rotate secret with a grace period shows the new secret with Copy`, async () => {
      await page.click(`button[aria-label="Rotate client secret of ${appName}"]`);
      await page.waitForSelector("#rotate-dialog[open]");
      assert.equal(await page.textContent("#rotate-title"), `Rotate client secret of ${appName}`);
      await check(page, viewport, "rotate-secret");
      await page.click("#rotate-submit");
      assert.match(await page.textContent("#r-password-error"), /Enter your password/);
      await page.fill("#r-grace", "1");
      await page.fill("#r-password", adminPassword);
      await page.click("#rotate-submit");
      await page.waitForSelector("#rotate-result:not([hidden])");
      assert.match(await page.textContent("#rotated"), /^cbs_/);
      assert.match(await page.textContent("#rotated-grace"), /keeps working until/);
      await assertFocus(page, "#rotated-copy-slot button", "focus moves to Copy after Rotate");
      await check(page, viewport, "rotate-result");
      await page.click("#rotate-dialog .cancel");
      await closed(page, "rotate-dialog");
    });

    await step(`[${w}] search by name and by email`, async () => {
      await page.fill("#q-name", appName);
      await page.click("#search button[type=submit]");
      await page.waitForFunction(() => document.querySelectorAll("#rows tr.app-row").length === 1);
      await page.click("#search-clear");
      await page.fill("#q-email", `console-${w}@`);
      await page.click("#search button[type=submit]");
      await page.waitForFunction(() => document.querySelectorAll("#rows tr.app-row").length === 1);
      assert.match(await page.textContent("#rows"), new RegExp(appName));
      await page.fill("#q-email", "nobody-at-all@");
      await page.click("#search button[type=submit]");
      await page.waitForSelector("#empty:not([hidden])");
      assert.match(await page.textContent("#empty"), /No application matches/);
      await check(page, viewport, "search-empty");
      await page.click("#search-clear");
      await page.waitForSelector("#rows tr.app-row");
    });

    await step(`[${w}] Delete asks, naming the application, then removes it and says so`, async () => {
      const row = page.locator("#rows tr.app-row", { hasText: appName });
      const expand = row.locator("button.expand");
      if ((await expand.getAttribute("aria-expanded")) !== "true") await expand.click();
      await page.click(`button[aria-label="Delete ${appName}"]`);
      await page.waitForSelector("#confirm-dialog[open]");
      assert.equal(await page.textContent("#confirm-title"), `Delete ${appName}?`);
      await assertFocus(page, "#confirm-type", "the name to type is the first focus");
      await check(page, viewport, "delete-confirm");
      await page.fill("#confirm-type", appName);
      await page.click("#confirm-ok");
      await closed(page, "confirm-dialog");
      await page.waitForFunction((n) => document.querySelector("#status").textContent.includes(n + " deleted"), appName);
      assert.equal(await row.count(), 0);
    });

    const keyedName = `Console Keyed ${w}`;
    const pair = generateKeyPairSync("ed25519");
    const publicJwk = { ...pair.publicKey.export({ format: "jwk" }), kid: `console-${w}` };
    const privateJwk = { ...pair.privateKey.export({ format: "jwk" }), kid: `console-${w}` };

    await step(`[${w}] Private key JWT: invalid JSON is caught with nothing sent, a private key is refused beside the field, public keys register`, async () => {
      await page.click("#new");
      await page.waitForSelector("#app-dialog[open]");
      assert.equal(await page.textContent("#f-auth legend"), "Client authentication");
      assert.ok(await page.isChecked("#f-auth-secret"), "Client secret is the default");
      assert.ok(await page.isHidden("#f-jwks"), "no key field for a client secret");
      await page.fill("#f-name", keyedName);
      await page.fill("#f-email", `console-keyed-${w}@partner.example.org`);
      await page.check("#f-roles-list label:has-text('Engage Worker')");
      await page.click("label[for=f-auth-jwt]");
      await page.waitForSelector("#f-jwks:visible");
      assert.equal(await page.getAttribute("#f-jwks", "required"), "");
      assert.match(await page.textContent("#f-jwks-hint"), /1 to 5 keys, each with a kid\. Never paste a private key\./);
      assert.match(await page.getAttribute("#f-jwks", "aria-describedby"), /f-jwks-hint.*f-jwks-error/);
      posts.length = 0;
      await page.fill("#f-jwks", '{"keys": [ {"kty": "OKP",');
      await page.click("#app-form button[type=submit]");
      await page.waitForFunction(() => document.querySelector("#f-jwks-error").textContent.length > 0);
      assert.match(await page.textContent("#f-jwks-error"), /not valid JSON/);
      assert.equal(await page.getAttribute("#f-jwks", "aria-invalid"), "true");
      await assertFocus(page, "#f-jwks", "the key set is focused");
      assert.match(await page.textContent("#app-summary"), /^1 problem to fix/);
      await page.waitForTimeout(200);
      assert.equal(posts.length, 0, "invalid JSON sends nothing");
      await check(page, viewport, "keyed-invalid-json");
      await page.fill("#f-jwks", JSON.stringify({ keys: [privateJwk] }));
      assert.equal(await page.getAttribute("#f-jwks", "aria-invalid"), null, "the error clears on change");
      await page.click("#app-form button[type=submit]");
      await page.waitForFunction(() => /private key material/.test(document.querySelector("#f-jwks-error").textContent));
      assert.equal(await page.textContent("#f-jwks-error"), "This key set contains private key material. Paste only the public keys.");
      await page.waitForTimeout(200);
      assert.equal(posts.length, 0, "a private key never leaves the browser");
      await assertFocus(page, "#f-jwks", "the refused key set is focused");
      assert.ok(await page.isVisible("#app-dialog[open]"), "nothing registered: the form stays open");
      await noHorizontalScroll(page, "key set refused");
      await check(page, viewport, "keyed-private-key-refused");
      await page.fill("#f-jwks", JSON.stringify({ keys: [publicJwk] }, null, 2));
      await page.click("#app-form button[type=submit]");
      await closed(page, "app-dialog");
      await page.waitForFunction((n) => document.querySelector("#status").textContent.includes(n + " registered"), keyedName);
      assert.equal(await page.locator("#rows tr.app-row", { hasText: keyedName }).count(), 1, "registered once");
    });

    await step(`[${w}] a keyed application's details show its key, with no key icon and no Rotate; back to a client secret says to reveal it`, async () => {
      const row = page.locator("#rows tr.app-row", { hasText: keyedName });
      const detailsId = await row.locator("button.expand").getAttribute("aria-controls");
      const details = page.locator(`#${detailsId}`);
      const text = await details.textContent();
      assert.match(text, /Client authentication\s*Private key JWT/);
      assert.match(text, new RegExp(`kid console-${w}, type OKP Ed25519`));
      assert.match(text, /signs assertions with its private key; it has no client secret/);
      assert.equal(await page.locator(`button[aria-label="Reveal client secret of ${keyedName}"]`).count(), 0, "no key icon");
      assert.equal(await page.locator(`button[aria-label="Rotate client secret of ${keyedName}"]`).count(), 0, "no Rotate");
      await noHorizontalScroll(page, "keyed details");
      await check(page, viewport, "keyed-details");
      await page.click(`button[aria-label="Edit ${keyedName}"]`);
      await page.waitForSelector("#app-dialog[open]");
      assert.ok(await page.isChecked("#f-auth-jwt"));
      assert.equal(JSON.parse(await page.inputValue("#f-jwks")).keys[0].kid, `console-${w}`);
      await page.click("label[for=f-auth-secret]");
      assert.ok(await page.isHidden("#f-jwks"));
      assert.match(await page.textContent("#f-auth-hint"), /new client secret/);
      await check(page, viewport, "keyed-edit-to-secret");
      await page.click("#app-form button[type=submit]");
      await closed(page, "app-dialog");
      await page.waitForFunction((n) => document.querySelector("#status").textContent.includes(n + " saved. Reveal its new client secret with the key icon."), keyedName);
      assert.match(await details.textContent(), /Client authentication\s*Client secret/);
      assert.ok(await inViewport(page.locator(`button[aria-label="Reveal client secret of ${keyedName}"]`)), "the key icon is back");
      assert.equal(await page.locator(`button[aria-label="Rotate client secret of ${keyedName}"]`).count(), 1);
    });

    await step(`[${w}] the API reference is linked and loads with no CSP violation`, async () => {
      await page.click('#nav a[href="/docs/"]');
      await page.waitForSelector(".swagger-ui", { timeout: 15000 });
      await page.waitForTimeout(500);
      await page.goBack();
      await page.waitForSelector("#applications:not([hidden])");
    });

    await step(`[${w}] Sign out returns to sign-in`, async () => {
      await page.click("#signout");
      await page.waitForSelector("#signin:not([hidden])");
      assert.equal(await page.evaluate(() => sessionStorage.getItem("cb-session")), null);
      assert.equal(await page.evaluate(() => localStorage.length), 0);
    });
    await context.close();
  }
});
