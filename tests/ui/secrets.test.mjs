// Client secrets in an application's details: add one with a label and an
// expiry date (a refused field shown beside it first), see it listed, show
// it after the password, see an expired one marked in words, have a sixth
// active secret refused with a readable message, and end one after a
// confirmation that names it; the ended secret then gets no token while
// another still does. By mouse at 1366 px and by keyboard alone at 390 px,
// with axe on the section and every dialog.
import { assert, base, WIDTHS, open, step, check, signIn, tabTo, assertFocus, closed, noHorizontalScroll, finish, adminToken, call, roleId } from "./harness.mjs";

// An administrator of its own: the reveal lockout is kept in the database
// every suite shares, and earlier suites spend wrong passwords of the first
// administrator on purpose.
const email = "secrets-admin@agency.example.org";
const password = "secrets admin password " + Math.floor(Math.random() * 1e6);
const SECRET_FORMAT = /^cbs_[0-9A-Za-z]{50}$/;

async function tokenStatus(clientId, clientSecret) {
  const r = await fetch(`${base}/oauth2/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "client_credentials", client_id: clientId, client_secret: clientSecret }),
  });
  const data = await r.json();
  return { status: r.status, error: data.error, token: data.access_token };
}

// A day `days` from now, as a date input's value (UTC, as the hint says).
function dayAhead(days) {
  return new Date(Date.now() + days * 86400000).toISOString().slice(0, 10);
}

await finish(async () => {
  const root = await adminToken();
  const administrator = await roleId(root, "Administrator");
  await call(root, "POST", "/admin/v1/users", { name: "Secrets Admin", email, password, roles: [administrator] });
  const token = await adminToken(email, password);
  const worker = await roleId(token, "Engage Worker");

  for (const viewport of WIDTHS) {
    const w = viewport.width;
    const byKeyboard = w < 1000;
    const appName = `Secret Keeper ${w}`;
    const label = `production cluster ${w}`;
    const day = dayAhead(30);
    const app = await call(token, "POST", "/admin/v1/external-applications", { name: appName, email: `secrets-${w}@partner.example.org`, roles: [worker] });
    const first = await call(token, "POST", `/admin/v1/external-applications/${app.id}/client-secret/reveal`, { password });
    const { page } = await open(viewport);
    const posts = [];
    page.on("request", (r) => { if (r.method() === "POST" && r.url().endsWith(`/${app.id}/client-secrets`)) posts.push(r.postDataJSON()); });
    const said = (text) => page.waitForFunction((t) => document.querySelector("#status").textContent.includes(t), text);
    const section = page.locator(`#details-${app.id} section.cs`);
    const rows = section.locator("tbody tr");
    const labelled = section.locator("tbody tr", { hasText: label });
    const addLabel = `Add client secret to ${appName}`;
    const showLabel = `Show client secret ${label} of ${appName}`;
    const endLabel = `End client secret ${label} of ${appName}`;
    const press = async (selector) => {
      if (byKeyboard) { await tabTo(page, selector, { max: 80 }); await page.keyboard.press("Enter"); }
      else await page.click(selector);
    };
    const typeHere = async (text) => { await page.keyboard.press("Control+A"); await page.keyboard.insertText(text); };
    // A date typed segment by segment, in the order the browser's locale shows them.
    const typeDate = async (iso) => {
      const [y, m, d] = iso.split("-");
      const order = await page.evaluate(() => new Intl.DateTimeFormat(navigator.language)
        .formatToParts(new Date(2001, 10, 22)).map((p) => p.type).filter((t) => ["year", "month", "day"].includes(t)));
      for (const part of order) await page.keyboard.type({ year: y, month: m, day: d }[part]);
    };
    let added = null;

    await step(`[${w}] the expanded application lists its first secret in a Client secrets table`, async () => {
      await signIn(page, email, password);
      if (byKeyboard) {
        await tabTo(page, "#q-name");
        await page.keyboard.type(appName);
        await page.keyboard.press("Enter");
        await page.waitForSelector(`button.expand[aria-label="Show details of ${appName}"]`);
      } else {
        await page.fill("#q-name", appName);
        await page.click("#search button[type=submit]");
      }
      await page.waitForFunction(() => document.querySelectorAll("#rows tr.app-row").length === 1);
      await press(`button.expand[aria-label="Show details of ${appName}"]`);
      await rows.first().waitFor();
      assert.equal(await section.locator("h2").textContent(), "Client secrets");
      assert.equal(await section.locator("caption").textContent(), `Client secrets of ${appName}`);
      assert.deepEqual(await section.locator("thead th").allTextContents(), ["Label", "Created", "Expires", "Last used", "Status", "Actions"]);
      assert.equal(await rows.count(), 1);
      const text = await rows.first().textContent();
      assert.match(text, /No label/);
      assert.match(text, /Active/);
      await noHorizontalScroll(page, "client secrets section");
      await check(page, viewport, "secrets-listed");
    });

    await step(`[${w}] Add secret: a refused field is shown beside it, and the password need not be typed again`, async () => {
      await press(`button[aria-label="${addLabel}"]`);
      await page.waitForSelector("#cs-dialog[open]");
      await assertFocus(page, "#cs-password", "the dialog opens on the password");
      assert.equal(await page.textContent("#cs-dialog-title"), addLabel);
      assert.match(await page.textContent("#cs-expires-hint"), /end of this day, 23:59:59 UTC/);
      await check(page, viewport, "secrets-add-dialog");
      if (byKeyboard) {
        // Nothing typed: nothing is sent.
        await tabTo(page, "#cs-submit");
        await page.keyboard.press("Enter");
        await page.waitForFunction(() => document.querySelector("#cs-password-error").textContent.length > 0);
        assert.equal(await page.textContent("#cs-password-error"), "Enter your password: nothing was sent.");
        await assertFocus(page, "#cs-password", "the empty password is focused");
        assert.equal(posts.length, 0);
        await page.keyboard.type(password);
        await page.keyboard.press("Tab");
        await assertFocus(page, "#cs-label", "Tab from the password reaches Label");
        await typeHere("x".repeat(101));
        await page.keyboard.press("Tab");
        await assertFocus(page, "#cs-expires", "Tab from Label reaches Expires on");
        await typeDate(day);
        assert.equal(await page.inputValue("#cs-expires"), day, "the date typed by keyboard");
        await tabTo(page, "#cs-submit");
        await page.keyboard.press("Enter");
        await page.waitForFunction(() => document.querySelector("#cs-label-error").textContent.length > 0);
        assert.equal(await page.textContent("#cs-label-error"), "Label is too long (at most 100 characters).");
        assert.equal(await page.getAttribute("#cs-label", "aria-invalid"), "true");
        assert.match(await page.getAttribute("#cs-label", "aria-describedby"), /cs-label-error/);
        await assertFocus(page, "#cs-label", "the refused field is focused");
      } else {
        await page.fill("#cs-password", password);
        await page.fill("#cs-label", label);
        await page.fill("#cs-expires", dayAhead(-2));
        await page.click("#cs-submit");
        await page.waitForFunction(() => document.querySelector("#cs-expires-error").textContent.length > 0);
        assert.equal(await page.textContent("#cs-expires-error"), "Expires on must be a day still to come: choose a later date.");
        assert.equal(await page.getAttribute("#cs-expires", "aria-invalid"), "true");
        assert.match(await page.getAttribute("#cs-expires", "aria-describedby"), /cs-expires-error/);
        await assertFocus(page, "#cs-expires", "the refused field is focused");
      }
      assert.match(await page.textContent("#cs-summary"), /^1 problem to fix/);
      assert.equal(posts.length, 1, "sent once, to the server that refuses it");
      assert.equal(await page.inputValue("#cs-password"), password, "the password stays for the next try");
      await noHorizontalScroll(page, "add secret dialog with an error");
      await check(page, viewport, "secrets-add-error");
    });

    await step(`[${w}] the secret is added: its value shown once with a copy button, and listed with its label and expiry`, async () => {
      if (byKeyboard) {
        await typeHere(label); // the refused Label still has focus
        assert.equal(await page.getAttribute("#cs-label", "aria-invalid"), null, "the error clears on change");
        await tabTo(page, "#cs-submit");
        await page.keyboard.press("Enter");
      } else {
        await page.fill("#cs-expires", day);
        assert.equal(await page.getAttribute("#cs-expires", "aria-invalid"), null, "the error clears on change");
        await page.click("#cs-submit");
      }
      await page.waitForSelector("#cs-result:not([hidden])");
      assert.equal(posts.length, 2);
      assert.deepEqual({ label: posts[1].label, expires_at: posts[1].expires_at }, { label, expires_at: `${day}T23:59:59Z` });
      added = await page.textContent("#cs-value");
      assert.match(added, SECRET_FORMAT);
      await assertFocus(page, "#cs-copy-slot button", "the copy button is focused");
      await page.keyboard.press("Enter");
      await page.waitForFunction(() => document.querySelector("#cs-copy-slot button").textContent === "Copied");
      assert.equal(await page.evaluate(() => navigator.clipboard.readText()), added);
      await said(`Client secret ${label} added to ${appName}`);
      await labelled.waitFor();
      assert.equal(await rows.count(), 2);
      const listed = await call(token, "GET", `/admin/v1/external-applications/${app.id}/client-secrets`);
      assert.equal(listed.items[0].label, label, "newest first");
      assert.equal(Date.parse(listed.items[0].expires_at), Date.parse(`${day}T23:59:59Z`));
      assert.match(await labelled.locator("td[data-label=Status]").textContent(), /Active/);
      const shown = await page.evaluate((iso) => new Date(iso).toLocaleString(undefined, { year: "numeric", month: "short", day: "numeric", hour: "numeric", minute: "2-digit", timeZoneName: "short" }), `${day}T23:59:59Z`);
      assert.equal(await labelled.locator("td[data-label=Expires]").textContent(), shown, "the expiry, in the admin's time, with its zone");
      await check(page, viewport, "secrets-added");
      if (byKeyboard) await page.keyboard.press("Escape"); else await page.click("#cs-cancel");
      await closed(page, "cs-dialog");
      // The dialog's close event, which clears it, follows the closing by a task.
      await page.waitForFunction(() => document.querySelector("#cs-value").textContent === "", null, { timeout: 2000 })
        .catch(() => assert.fail("the value leaves the page with the dialog"));
      await assertFocus(page, `button[aria-label="${addLabel}"]`, "focus returns to Add secret");
      await noHorizontalScroll(page, "secret listed");
    });

    await step(`[${w}] Show asks for the password, then shows that secret's value with a copy button`, async () => {
      await press(`button[aria-label="${showLabel}"]`);
      await page.waitForSelector("#verify-dialog[open]");
      assert.equal(await page.textContent("#verify-title"), `Client secret ${label} of ${appName}`);
      await assertFocus(page, "#v-password", "the dialog opens on the password");
      await check(page, viewport, "secrets-show-ask");
      if (byKeyboard) { await page.keyboard.type(password); await page.keyboard.press("Enter"); }
      else { await page.fill("#v-password", password); await page.click("#verify-submit"); }
      await page.waitForSelector("#verify-result:not([hidden])");
      assert.equal(await page.textContent("#secret"), added);
      await assertFocus(page, "#secret-copy-slot button", "the copy button is focused");
      await check(page, viewport, "secrets-show-value");
      if (byKeyboard) await page.keyboard.press("Escape"); else await page.click("#verify-cancel");
      await closed(page, "verify-dialog");
      await assertFocus(page, `button[aria-label="${showLabel}"]`, "focus returns to Show");
    });

    await step(`[${w}] an expired secret is marked Expired in words; a sixth active secret is refused with a readable message`, async () => {
      const soon = new Date(Date.now() + 1500).toISOString();
      await call(token, "POST", `/admin/v1/external-applications/${app.id}/client-secrets`, { password, label: `short-lived ${w}`, expires_at: soon });
      // Expired, it no longer counts toward the 5.
      await page.waitForTimeout(Math.max(0, Date.parse(soon) - Date.now()) + 300);
      for (let i = 1; i <= 3; i += 1) {
        await call(token, "POST", `/admin/v1/external-applications/${app.id}/client-secrets`, { password, label: `spare ${i}` });
      }
      await press(`button[aria-label="${addLabel}"]`);
      await page.waitForSelector("#cs-dialog[open]");
      if (byKeyboard) {
        await page.keyboard.type(password);
        await page.keyboard.press("Tab");
        await page.keyboard.type("one too many");
        await page.keyboard.press("Enter");
      } else {
        await page.fill("#cs-password", password);
        await page.fill("#cs-label", "one too many");
        await page.click("#cs-submit");
      }
      await page.waitForFunction(() => document.querySelector("#cs-error").textContent.length > 0);
      assert.equal(await page.textContent("#cs-error"), "The application already has 5 active secrets; end one before adding another.");
      assert.ok(await page.isVisible("#cs-ask"), "the form stays, with nothing shown");
      assert.equal(await page.textContent("#cs-value"), "");
      await check(page, viewport, "secrets-too-many");
      if (byKeyboard) await page.keyboard.press("Escape"); else await page.click("#cs-cancel");
      await closed(page, "cs-dialog");
      // The refusal brought the list up to date.
      await page.waitForFunction((id) => document.querySelectorAll(`#details-${id} section.cs tbody tr`).length === 6, app.id);
      const expired = section.locator("tbody tr", { hasText: `short-lived ${w}` });
      assert.equal((await expired.locator("td[data-label=Status]").textContent()).trim(), "✕ Expired");
      assert.equal(await expired.locator("td[data-label=Status] [aria-hidden=true]").textContent(), "✕ ", "the mark is not read out");
      assert.equal(await section.locator("td[data-label=Status]", { hasText: "Active" }).count(), 5);
      const listed = await call(token, "GET", `/admin/v1/external-applications/${app.id}/client-secrets`);
      assert.deepEqual(listed.items.map((s) => s.status).sort(), ["active", "active", "active", "active", "active", "expired"]);
      await noHorizontalScroll(page, "six secrets listed");
      await check(page, viewport, "secrets-expired");
    });

    await step(`[${w}] End asks first, naming the secret; the ended secret gets no token, another still does`, async () => {
      assert.equal((await tokenStatus(app.client_id, added)).status, 200, "the added secret works before it is ended");
      await press(`button[aria-label="${endLabel}"]`);
      await page.waitForSelector("#confirm-dialog[open]");
      assert.equal(await page.textContent("#confirm-title"), `End client secret ${label}?`);
      assert.match(await page.textContent("#confirm-text"), new RegExp(`^${appName} can no longer get tokens with this secret; its other secrets keep working`));
      assert.equal(await page.textContent("#confirm-ok"), "End secret");
      await assertFocus(page, "#confirm-dialog .cancel", "Cancel is the safe first focus");
      await check(page, viewport, "secrets-end-confirm");
      if (byKeyboard) {
        await page.keyboard.press("Escape");
        await closed(page, "confirm-dialog");
        await assertFocus(page, `button[aria-label="${endLabel}"]`, "Escape keeps the secret and returns to End");
        assert.equal(await labelled.count(), 1);
        await page.keyboard.press("Enter");
        await page.waitForSelector("#confirm-dialog[open]");
        await page.keyboard.press("Tab");
        await assertFocus(page, "#confirm-ok", "Tab from Cancel");
        await page.keyboard.press("Enter");
      } else await page.click("#confirm-ok");
      await closed(page, "confirm-dialog");
      await said(`Client secret ${label} of ${appName} ended.`);
      await page.waitForFunction((id) => document.querySelectorAll(`#details-${id} section.cs tbody tr`).length === 5, app.id);
      assert.equal(await labelled.count(), 0);
      await assertFocus(page, `button[aria-label="${addLabel}"]`, "after ending, focus is on Add secret");
      const ended = await tokenStatus(app.client_id, added);
      assert.deepEqual([ended.status, ended.error], [401, "invalid_client"], "the ended secret gets no token");
      const other = await tokenStatus(app.client_id, first.client_secret);
      assert.equal(other.status, 200, "the first secret still gets a token");
      assert.ok(other.token, "an access token");
      await check(page, viewport, "secrets-ended");
    });
  }

  await step("a private_key_jwt application's details have no Client secrets section", async () => {
    const { generateKeyPairSync } = await import("node:crypto");
    const jwk = { ...generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey.export({ format: "jwk" }), kid: "signer-1" };
    const appName = "Keyed Without Secrets";
    const app = await call(token, "POST", "/admin/v1/external-applications", {
      name: appName, email: "keyed-secrets@partner.example.org", roles: [worker],
      token_endpoint_auth_method: "private_key_jwt", jwks: { keys: [jwk] },
    });
    const { page } = await open(WIDTHS[0]);
    await signIn(page, email, password);
    await page.fill("#q-name", appName);
    await page.click("#search button[type=submit]");
    await page.click(`button.expand[aria-label="Show details of ${appName}"]`);
    await page.locator(`#details-${app.id} section.fed`).waitFor();
    assert.equal(await page.locator(`#details-${app.id} section.cs`).count(), 0);
  });
});
